"""Checks before an install: input values, and what the server says about ports, architecture and disk.

Pure functions. The server's side comes from one command (:data:`FACTS_SCRIPT`, a constant ``sh -c``
script whose only data, the apps folder, the project folder and the project name, arrive as positional
arguments; its three docker calls run in parallel) whose output :func:`parse_facts` reads into
:class:`ServerFacts`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tomo.lib.catalog.secretgen import generate_secret
from tomo.lib.docker import parse
from tomo.lib.mcp.tooling import mark_secret
from tomo.models.installation import PublishedPort
from tomo.models.marketplace import AppInput, CatalogApp
from tomo.services.apps.render import env_problem
from tomo.services.servers.system_info import split_sections

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")
_PUBLISHED = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9a-fA-F:]*\]?):(\d+)(?:-(\d+))?->\d+(?:-\d+)?/(tcp|udp)")

#: Below this much free space an install is refused; below WARN_FREE_BYTES it only warns.
MIN_FREE_BYTES = 256 * 1024**2
WARN_FREE_BYTES = 2 * 1024**3

ARCHITECTURES = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "armv6l": "arm",
    "armhf": "arm", "arm": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
    "riscv64": "riscv64",
}  # fmt: skip

FACTS_SCRIPT = r"""
s() { printf '\n@@%s\n' "$1"; }
root=$1; project=$2; name=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf -- "$tmp"' EXIT
docker compose version --short >"$tmp/compose" 2>&1 &
docker volume ls --quiet --filter "label=com.docker.compose.project=$name" >"$tmp/volumes" 2>/dev/null &
docker ps --all --no-trunc --format '{{json .}}' >"$tmp/docker" 2>&1 &
s arch; uname -m
s ids; id -u; id -g
s tz; cat /etc/timezone 2>/dev/null || readlink /etc/localtime 2>/dev/null
s tcp; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null
s udp; cat /proc/net/udp /proc/net/udp6 2>/dev/null
s df; p=$root; while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done; df -Pk -- "$p" 2>&1
s project; if [ -d "$project" ]; then echo exists; ls -A -- "$project"; fi
s root; if [ ! -d "$root" ]; then echo missing; elif [ -w "$root" ] && [ -x "$root" ]; then echo writable; \
else echo read-only; fi
wait
s compose; cat "$tmp/compose"
s volumes; cat "$tmp/volumes"
s docker; cat "$tmp/docker"
s end
"""


def facts_argv(apps_root: str, project_dir: str, name: str) -> list[str]:
    """The one command that reads everything validation needs (the data travel as positional arguments)."""
    return ["sh", "-c", FACTS_SCRIPT, "tomo-facts", apps_root, project_dir, name]


# ---- inputs --------------------------------------------------------------------------------------------


@dataclass
class ResolvedInputs:
    """Input values by variable name, which of them are secret, and what went wrong."""

    values: dict[str, str] = field(default_factory=dict)
    plain: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    secret_envs: set[str] = field(default_factory=set)
    generated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def resolve_inputs(
    inputs: list[AppInput], given: Mapping[str, Any], given_secrets: Mapping[str, str], *, strict: bool = True
) -> ResolvedInputs:
    """Check and complete the app's inputs; secret inputs left out are generated.

    ``given`` holds plain values, ``given_secrets`` values to keep secret, both by input key. With
    ``strict`` (install), keys the app does not have are errors; without (update), they are dropped.
    """
    result = ResolvedInputs()
    keys = {item.key for item in inputs}
    if strict:
        for key in sorted((set(given) | set(given_secrets)) - keys):
            known = ", ".join(sorted(keys)) or "none"
            result.errors.append(f"unknown input '{key}'; this app's inputs are: {known}")
    for item in inputs:
        secret = item.key in given_secrets or item.type in ("password", "secret")
        raw = given_secrets.get(item.key, given.get(item.key))
        value = _value_of(item, raw, result)
        if value is None:
            continue
        result.values[item.env_name] = value
        if secret and value:
            mark_secret(value)
            result.secrets[item.key] = value
            result.secret_envs.add(item.env_name)
        else:
            result.plain[item.key] = value
    return result


def _value_of(item: AppInput, raw: Any, result: ResolvedInputs) -> str | None:
    if raw is None or raw == "":
        if item.type == "secret":
            result.generated.append(item.key)
            return generate_secret(item.generate)
        if item.default is not None and item.default != "":
            raw = item.default
        elif item.required:
            result.errors.append(f"input {item.key} ({item.label}) is required" + _hint(item))
            return None
        else:
            return ""
    value, problem = _convert(item, raw)
    problem = problem or (env_problem(item.key, value) if value is not None else None)
    if problem or value is None:
        result.errors.append(problem or f"input {item.key} is invalid")
        return None
    return value


def _hint(item: AppInput) -> str:
    if item.options:
        return ": one of " + ", ".join(repr(option.value) for option in item.options)
    return f" ({item.description})" if item.description else ""


def _convert(item: AppInput, raw: Any) -> tuple[str | None, str | None]:
    if item.type == "number":
        return _number(item, raw)
    if item.type == "boolean":
        return _boolean(item, raw)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None, f"input {item.key} must be a {item.type} value, got {type(raw).__name__}"
    text = str(raw)
    if item.type == "select" and text not in {option.value for option in item.options}:
        return None, f"input {item.key} must be one of: " + ", ".join(repr(o.value) for o in item.options)
    if item.type == "email" and not _EMAIL.match(text):
        return None, f"input {item.key} must be an email address such as 'admin@example.com'"
    if item.type == "url" and not _URL.match(text):
        return None, f"input {item.key} must be an http(s) URL such as 'https://app.example.com'"
    return text, _text_problem(item, text)


def _text_problem(item: AppInput, text: str) -> str | None:
    if item.min_length is not None and len(text) < item.min_length:
        return f"input {item.key} must be at least {item.min_length} characters long"
    if item.max_length is not None and len(text) > item.max_length:
        return f"input {item.key} must be at most {item.max_length} characters long"
    if item.regex:
        try:
            matched = re.search(item.regex, text) is not None
        except re.error:
            matched = True  # a pattern Python cannot read is the catalog's problem, not the user's
        if not matched:
            return f"input {item.key}: {item.regex_error or 'the value does not match ' + repr(item.regex)}"
    return None


def _number(item: AppInput, raw: Any) -> tuple[str | None, str | None]:
    try:
        number = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        return None, f"input {item.key} must be a number"
    if item.min is not None and number < item.min:
        return None, f"input {item.key} must be at least {item.min:g}"
    if item.max is not None and number > item.max:
        return None, f"input {item.key} must be at most {item.max:g}"
    return (str(int(number)) if number.is_integer() else str(number)), None


def _boolean(item: AppInput, raw: Any) -> tuple[str | None, str | None]:
    text = str(raw).strip().lower()
    if isinstance(raw, bool) or text in _TRUE | _FALSE:
        return ("true" if (raw is True or text in _TRUE) else "false"), None
    return None, f"input {item.key} must be true or false"


# ---- the server's side ---------------------------------------------------------------------------------


@dataclass
class ServerFacts:
    """What one probe of the server found."""

    machine: str = ""
    uid: str = "1000"
    gid: str = "1000"
    timezone: str = "UTC"
    tcp_ports: set[int] = field(default_factory=set)
    udp_ports: set[int] = field(default_factory=set)
    published: dict[tuple[int, str], str] = field(default_factory=dict)
    projects: set[str] = field(default_factory=set)
    free_bytes: int | None = None
    project_entries: list[str] | None = None
    compose_version: str | None = None
    docker_problem: str | None = None
    volumes: set[str] = field(default_factory=set)
    apps_root: str | None = None  # "writable", "missing" or "read-only" (None: not reported)

    @property
    def architecture(self) -> str | None:
        """The Docker platform name of the server's CPU (amd64, arm64...)."""
        return ARCHITECTURES.get(self.machine)


def parse_facts(output: str) -> ServerFacts:
    """Read the output of :data:`FACTS_SCRIPT`."""
    parts = split_sections(output)
    facts = ServerFacts(machine=parts.get("arch", "").strip())
    ids = parts.get("ids", "").split()
    if len(ids) == 2 and all(part.isdigit() for part in ids):
        facts.uid, facts.gid = ids
    facts.timezone = _timezone(parts.get("tz", ""))
    facts.tcp_ports = _sockets(parts.get("tcp", ""), "0A")
    facts.udp_ports = _sockets(parts.get("udp", ""), "07")
    facts.free_bytes = _free_bytes(parts.get("df", ""))
    if "project" in parts:
        lines = parts["project"].splitlines()
        facts.project_entries = [line for line in lines[1:] if line] if lines[:1] == ["exists"] else None
    facts.apps_root = parts.get("root", "").strip() or None
    compose = parts.get("compose", "")
    facts.compose_version = compose if re.fullmatch(r"v?\d+\.\d+\S*", compose) else None
    facts.volumes = {line.strip() for line in parts.get("volumes", "").splitlines() if line.strip()}
    _read_containers(parts.get("docker", ""), facts)
    return facts


def _timezone(text: str) -> str:
    zone = text.strip().split("zoneinfo/")[-1] if text.strip() else "UTC"
    return zone if _TIMEZONE.fullmatch(zone) else "UTC"


def _sockets(text: str, state: str) -> set[int]:
    ports: set[int] = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == state and ":" in fields[1]:
            try:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
            except ValueError:
                continue
    return ports


def _free_bytes(text: str) -> int | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    fields = lines[-1].split()
    return int(fields[3]) * 1024 if len(fields) >= 4 and fields[3].isdigit() else None


def _read_containers(text: str, facts: ServerFacts) -> None:
    problems = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("{")]
    if problems:
        facts.docker_problem = problems[-1][:300]
    for summary in map(parse.container, parse.json_lines(text, lenient=True)):
        if summary.project:
            facts.projects.add(summary.project)
        owner = summary.project or summary.name or "a container"
        for match in _PUBLISHED.finditer(summary.ports):
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            for port in range(first, min(last, first + 1024) + 1):
                facts.published[(port, match.group(3))] = owner


# ---- checks --------------------------------------------------------------------------------------------


@dataclass
class Findings:
    """Errors (the install cannot go ahead) and warnings (it can)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_server(
    app: CatalogApp, name: str, ports: list[PublishedPort], facts: ServerFacts, taken: Mapping[tuple[int, str], str]
) -> Findings:
    """Docker, architecture, disk, name and port checks. ``taken``: ports other installations hold."""
    found = Findings()
    if facts.docker_problem or facts.compose_version is None:
        found.errors.append("Docker or Docker Compose is not usable on the server "
                            f"({facts.docker_problem or 'docker compose is missing'}); run prepare_server first")
    _check_apps_root(facts, found)
    _check_architecture(app, facts, found)
    _check_disk(facts, found)
    _check_name(name, facts, found)
    for port in ports:
        problem = port_problem(port, name, facts, taken)
        if problem:
            found.errors.append(problem)
    return found


def _check_apps_root(facts: ServerFacts, found: Findings) -> None:
    if facts.apps_root == "missing":
        found.errors.append("the apps folder does not exist on the server (the apps_root setting); run "
                            "prepare_server first, which creates it for the SSH user")
    elif facts.apps_root == "read-only":
        found.errors.append("the SSH user cannot write to the apps folder on the server (the apps_root setting); "
                            "run prepare_server first, which gives it the folder")


def _check_architecture(app: CatalogApp, facts: ServerFacts, found: Findings) -> None:
    arch = facts.architecture
    if arch is None:
        found.warnings.append(f"unknown CPU architecture '{facts.machine}': cannot tell whether the images run")
    elif app.architectures and arch not in app.architectures:
        found.errors.append(f"the server's architecture is {arch}, but {app.title} supports only "
                            + ", ".join(app.architectures))


def _check_disk(facts: ServerFacts, found: Findings) -> None:
    free = facts.free_bytes
    if free is None:
        found.warnings.append("could not read the free disk space of the apps folder")
    elif free < MIN_FREE_BYTES:
        found.errors.append(f"only {free // 1024**2} MiB free on the apps folder's disk; free some space "
                            "(prune_docker removes unused images) and retry")
    elif free < WARN_FREE_BYTES:
        found.warnings.append(f"only {free // 1024**2} MiB free on the apps folder's disk; images may not fit")


def _check_name(name: str, facts: ServerFacts, found: Findings) -> None:
    if name in facts.projects:
        found.errors.append(f"a Compose project named '{name}' already has containers on the server (not "
                            "installed by Tomo); choose another name with config.name")
    entries = facts.project_entries
    if entries is not None and set(entries) - {"data"}:
        found.errors.append(f"the folder for '{name}' already exists on the server and holds files; choose "
                            "another name with config.name, or remove the folder")
    elif entries:
        found.warnings.append(f"the data folder of an earlier '{name}' installation exists and will be reused")


def port_problem(
    port: PublishedPort, name: str, facts: ServerFacts, taken: Mapping[tuple[int, str], str]
) -> str | None:
    """Why a host port cannot be used (None when it is free)."""
    slot = (port.host_port, port.protocol)
    what = f"host port {port.host_port}/{port.protocol} ({port.key})"
    hint = "; choose another with config.ports, e.g. {'" + ("main" if port.main else port.key) + "': <free port>}"
    if slot in taken:
        return f"{what} is used by the installation '{taken[slot]}'" + hint
    owner = facts.published.get(slot)
    if owner is not None and owner != name:
        return f"{what} is published by '{owner}' on the server" + hint
    listening = facts.tcp_ports if port.protocol == "tcp" else facts.udp_ports
    if owner is None and port.host_port in listening:
        return f"{what} is already in use on the server" + hint
    return None
