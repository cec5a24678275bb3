"""The one command that takes a sample of a server: a constant ``sh`` script, its data as positional arguments.

Everything a sample needs comes back in one SSH round trip: /proc (stat, meminfo, loadavg, uptime, net/dev,
diskstats), ``df -Pk`` of ``/`` and the apps folder, temperatures (thermal zones, hwmon), ``docker ps`` and, for
each running container, its cgroup figures (v2, or v1's controllers) and its network namespace's
``/proc/<pid>/net/dev``. Nothing is installed on the server; nothing but files under /proc and /sys is read.

The script is never built from data: ``$1`` is the apps folder and the rest of the arguments are the
``docker ps`` argv (``lib/docker/commands.py``); the argv is quoted once by the SSH layer. Each part starts with
a line ``@@<name>`` (``@@cg <container id>`` per container) so :mod:`.parse` splits the output in one pass.
"""

from __future__ import annotations

from tomo.lib.docker import commands as docker

#: The most a sample may print (about 2 KB plus 1 KB per container on a usual server).
MAX_OUTPUT = 512 * 1024

SCRIPT = r"""
root=$1; shift
s() { printf '\n@@%s\n' "$1"; }
s stat; cat /proc/stat
s meminfo; cat /proc/meminfo
s loadavg; cat /proc/loadavg
s uptime; cat /proc/uptime
s netdev; cat /proc/net/dev
s diskstats; cat /proc/diskstats
s df; df -Pk / 2>/dev/null; [ -d "$root" ] && df -Pk "$root" 2>/dev/null | sed 1d
s temps
for z in /sys/class/thermal/thermal_zone*; do
  [ -r "$z/temp" ] && printf '%s %s\n' "$(cat "$z/temp" 2>/dev/null)" "$(cat "$z/type" 2>/dev/null)"
done
for t in /sys/class/hwmon/hwmon*/temp*_input; do
  [ -r "$t" ] && printf '%s %s\n' "$(cat "$t" 2>/dev/null)" "$(cat "${t%/*}/name" 2>/dev/null)"
done
command -v docker >/dev/null 2>&1 || exit 0
ps_out=$("$@" 2>/dev/null)
s ps; printf '%s\n' "$ps_out"
cg=/sys/fs/cgroup
v() { [ -r "$1" ] && printf '%s %s\n' "$2" "$(cat "$1")"; }
net() { read -r pid <"$1" 2>/dev/null && [ -r "/proc/$pid/net/dev" ] && sed '1,2d; s/^/net /' "/proc/$pid/net/dev"; }
for id in $(printf '%s\n' "$ps_out" | sed -n 's/.*"ID":"\([0-9a-f]\{64\}\)".*/\1/p'); do
  s "cg $id"
  for p in "system.slice/docker-$id.scope" "docker/$id"; do
    if [ -r "$cg/$p/cpu.stat" ]; then
      d=$cg/$p; echo "version 2"
      sed -n 's/^usage_usec /cpu_usec /p' "$d/cpu.stat"
      v "$d/memory.current" memory; v "$d/memory.max" limit; v "$d/pids.current" pids
      sed -n 's/^inactive_file /inactive_file /p' "$d/memory.stat"
      sed 's/^/io /' "$d/io.stat" 2>/dev/null; net "$d/cgroup.procs"; break
    elif [ -r "$cg/cpuacct/$p/cpuacct.usage" ]; then
      echo "version 1"
      v "$cg/cpuacct/$p/cpuacct.usage" cpu_ns
      v "$cg/memory/$p/memory.usage_in_bytes" memory; v "$cg/memory/$p/memory.limit_in_bytes" limit
      v "$cg/pids/$p/pids.current" pids
      sed -n 's/^total_inactive_file /inactive_file /p' "$cg/memory/$p/memory.stat" 2>/dev/null
      sed 's/^/blkio /' "$cg/blkio/$p/blkio.throttle.io_service_bytes" 2>/dev/null
      net "$cg/cpuacct/$p/cgroup.procs"; break
    fi
  done
done
"""


def sample_argv(apps_root: str) -> list[str]:
    """The sample command for a server whose apps live under ``apps_root``."""
    return ["sh", "-c", SCRIPT, "tomo-metrics", apps_root, *docker.ps()]
