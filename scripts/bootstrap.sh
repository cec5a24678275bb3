#!/usr/bin/env bash
# Create .venv and install Tomo into it (idempotent, quiet when already done).
# Usage: scripts/bootstrap.sh [extras]   e.g. scripts/bootstrap.sh test
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Tomo needs Python 3.11 or newer as '$python' (set PYTHON=/path/to/python3.11)." >&2
    exit 1
fi
if [ ! -x "$root/.venv/bin/python" ]; then
    if ! "$python" -m venv "$root/.venv" >/dev/null 2>&1; then
        echo "python3 -m venv failed; installing python3-venv with apt" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$root/.venv"
        "$python" -m venv "$root/.venv"
    fi
fi
stamp="$root/.venv/.tomo-installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    spec="$root"
    [ -n "$extras" ] && spec="$root[$extras]"
    "$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    "$root/.venv/bin/python" -c "import tomo" # fail loudly if the install did not work
    touch "$stamp"
fi
