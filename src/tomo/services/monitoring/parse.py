"""Parse what the sample script (:mod:`.probe`) prints into a :class:`Reading`: pure functions, linear time.

The output is split once into its ``@@<name>`` parts; each part has one reader that takes the figures it knows
and skips lines it cannot read (a kernel may add columns or fields, a file may be missing), so a strange line
costs a figure, never the sample. Counters stay counters here: rates come from two readings (:mod:`.rates`).

Formats (proc(5), the kernel's cgroup v1 and v2 documents): /proc/stat's ``cpu`` line is jiffies of user,
nice, system, idle, iowait, irq, softirq, steal (then guest time, already counted in user and nice);
/proc/diskstats counts 512-byte sectors in fields 6 and 10; /proc/net/dev has 8 receive then 8 transmit columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tomo.lib.docker import parse as docker_parse

SECTOR_BYTES = 512
#: cgroup v1 reports "no memory limit" as a page-rounded 2**63 - 1.
UNLIMITED = 1 << 62
#: Interfaces whose traffic is counted elsewhere (loopback, container veths and bridges).
_VIRTUAL_NET = ("lo", "veth", "docker", "br-", "virbr")
#: Block devices that are not disks of their own (their I/O is counted on the disks beneath them).
_NOT_DISKS = ("loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd")
_PARTITION = re.compile(r"^(.+?)(p?)(\d+)$")


@dataclass
class Mount:
    """A filesystem as `df -Pk` shows it, in bytes."""

    path: str
    total: int
    used: int
    free: int


@dataclass
class ContainerReading:
    """One running container: what `docker ps` says and its cgroup's counters (None where unreadable)."""

    id: str
    name: str
    image: str = ""
    state: str = ""
    status: str = ""
    health: str | None = None
    project: str | None = None
    service: str | None = None
    cgroup_version: int | None = None
    cpu_ns: int | None = None
    memory: int | None = None
    memory_limit: int | None = None
    pids: int | None = None
    io_read: int | None = None
    io_write: int | None = None
    net_rx: int | None = None
    net_tx: int | None = None


@dataclass
class Reading:
    """One sample of a server: gauges as read, counters as totals since boot."""

    cpu_busy: int | None = None
    cpu_total: int | None = None
    cpu_count: int | None = None
    memory_total: int | None = None
    memory_available: int | None = None
    swap_total: int | None = None
    swap_free: int | None = None
    load: tuple[float, float, float] | None = None
    uptime_s: float | None = None
    net_rx: int | None = None
    net_tx: int | None = None
    disk_read: int | None = None
    disk_write: int | None = None
    mounts: list[Mount] = field(default_factory=list)
    temperatures: list[tuple[str, float]] = field(default_factory=list)
    containers: list[ContainerReading] = field(default_factory=list)
    docker: bool = False


def sections(text: str) -> dict[str, list[str]]:
    """Split the output at its ``@@<name>`` lines (blank lines dropped)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = found.setdefault(line[2:].strip(), [])
        elif current is not None and line.strip():
            current.append(line)
    return found


def parse_sample(text: str) -> Reading:
    """The whole output of the sample script as a Reading."""
    parts = sections(text)
    reading = Reading()
    _read_stat(reading, parts.get("stat", []))
    _read_meminfo(reading, parts.get("meminfo", []))
    reading.load = _loadavg(parts.get("loadavg", []))
    reading.uptime_s = _uptime(parts.get("uptime", []))
    reading.net_rx, reading.net_tx = net_totals(parts.get("netdev", []), skip=_VIRTUAL_NET)
    reading.disk_read, reading.disk_write = disk_totals(parts.get("diskstats", []))
    reading.mounts = mounts(parts.get("df", []))
    reading.temperatures = temperatures(parts.get("temps", []))
    reading.docker = "ps" in parts
    reading.containers = containers(parts.get("ps", []), parts)
    return reading


def _int(text: str) -> int | None:
    """A decimal counter, or None (also for more than 20 digits: no counter is that long)."""
    return int(text) if text.isdigit() and len(text) <= 20 else None


def _read_stat(reading: Reading, lines: list[str]) -> None:
    count = 0
    for line in lines:
        if line.startswith("cpu "):
            ticks = [tick for value in line.split()[1:9] if (tick := _int(value)) is not None]
            if len(ticks) >= 5:
                idle = ticks[3] + ticks[4]
                reading.cpu_total, reading.cpu_busy = sum(ticks), sum(ticks) - idle
        elif line.startswith("cpu") and line[3:4].isdigit():
            count += 1
    reading.cpu_count = count or None


_MEMINFO = {"MemTotal": "memory_total", "MemAvailable": "memory_available", "SwapTotal": "swap_total",
            "SwapFree": "swap_free"}  # fmt: skip


def _read_meminfo(reading: Reading, lines: list[str]) -> None:
    for line in lines:
        name, _, rest = line.partition(":")
        attribute = _MEMINFO.get(name)
        words = rest.split()
        if attribute and words and (value := _int(words[0])) is not None:
            setattr(reading, attribute, value * 1024 if words[1:2] == ["kB"] else value)


def _floats(lines: list[str], count: int) -> list[float] | None:
    if not lines:
        return None
    try:
        values = [float(word) for word in lines[0].split()[:count]]
    except ValueError:
        return None
    return values if len(values) == count else None


def _loadavg(lines: list[str]) -> tuple[float, float, float] | None:
    values = _floats(lines, 3)
    return (values[0], values[1], values[2]) if values else None


def _uptime(lines: list[str]) -> float | None:
    values = _floats(lines, 1)
    return values[0] if values else None


def net_totals(lines: Iterable[str], skip: tuple[str, ...] = ("lo",)) -> tuple[int | None, int | None]:
    """Received and sent bytes over the interfaces of /proc/net/dev lines, except those starting with ``skip``."""
    rx = tx = 0
    seen = False
    for line in lines:
        name, colon, rest = line.partition(":")
        name = name.strip()
        if not colon or "|" in rest or name == "lo" or name.startswith(skip):
            continue
        columns = rest.split()
        received, sent = (_int(columns[0]), _int(columns[8])) if len(columns) >= 9 else (None, None)
        if received is not None and sent is not None:
            rx, tx, seen = rx + received, tx + sent, True
    return (rx, tx) if seen else (None, None)


def disk_totals(lines: list[str]) -> tuple[int | None, int | None]:
    """Bytes read and written by the whole disks of /proc/diskstats (partitions and virtual devices skipped)."""
    rows = [line.split() for line in lines]
    rows = [row for row in rows if len(row) >= 10 and not row[2].startswith(_NOT_DISKS)]
    names = {row[2] for row in rows}
    read = written = 0
    for row in rows:
        match = _PARTITION.match(row[2])
        if match and (match.group(1) in names or match.group(1) + match.group(2) in names):
            continue
        sectors_read, sectors_written = _int(row[5]), _int(row[9])
        if sectors_read is not None and sectors_written is not None:
            read, written = read + sectors_read * SECTOR_BYTES, written + sectors_written * SECTOR_BYTES
    return (read, written) if rows else (None, None)


def mounts(lines: list[str]) -> list[Mount]:
    """`df -Pk` rows (header skipped; the mount point may hold spaces), each mount point once."""
    found: dict[str, Mount] = {}
    for line in lines:
        words = line.split()
        capacity = next((i for i in range(len(words) - 1, 3, -1) if words[i].endswith("%")), None)
        numbers = [_int(word) for word in words[capacity - 3 : capacity]] if capacity is not None else []
        if capacity is None or None in numbers:
            continue
        total, used, free = (int(number or 0) * 1024 for number in numbers)
        path = line.split(None, capacity + 1)[-1] if len(words) > capacity + 1 else ""
        if path.startswith("/") and path not in found:
            found[path] = Mount(path, total, used, free)
    return list(found.values())


def temperatures(lines: list[str]) -> list[tuple[str, float]]:
    """``<millidegrees> <label>`` lines -> (label, °C), plausible values only."""
    found: list[tuple[str, float]] = []
    for line in lines:
        value, _, label = line.partition(" ")
        number = _int(value.removeprefix("-"))
        if number is not None and -40_000 <= (signed := -number if value.startswith("-") else number) <= 150_000:
            found.append((label.strip() or "sensor", round(signed / 1000, 1)))
    return found


def containers(ps_lines: list[str], parts: dict[str, list[str]]) -> list[ContainerReading]:
    """`docker ps` rows joined, by full id, to their ``cg <id>`` parts."""
    found: list[ContainerReading] = []
    for row in docker_parse.json_lines("\n".join(ps_lines), lenient=True):
        summary = docker_parse.container(row)
        full_id = str(row.get("ID", ""))
        reading = ContainerReading(
            id=summary.id, name=summary.name, image=summary.image, state=summary.state, status=summary.status,
            health=summary.health, project=summary.project, service=summary.service,
        )  # fmt: skip
        _read_cgroup(reading, parts.get(f"cg {full_id}", []))
        found.append(reading)
    return found


def _read_cgroup(reading: ContainerReading, lines: list[str]) -> None:
    values: dict[str, int] = {}
    io_read = io_write = 0
    for line in lines:
        key, _, rest = line.partition(" ")
        if key == "io":
            for pair in rest.split()[1:]:
                name, _, number = pair.partition("=")
                io_read += (_int(number) or 0) if name == "rbytes" else 0
                io_write += (_int(number) or 0) if name == "wbytes" else 0
        elif key == "blkio":
            words = rest.split()
            if len(words) == 3:
                io_read += (_int(words[2]) or 0) if words[1] == "Read" else 0
                io_write += (_int(words[2]) or 0) if words[1] == "Write" else 0
        elif key != "net" and (value := _int(rest.strip())) is not None:
            values[key] = value
    if not values:
        return
    reading.cgroup_version = values.get("version")
    usec = values.get("cpu_usec")
    reading.cpu_ns = usec * 1000 if usec is not None else values.get("cpu_ns")
    memory = values.get("memory")
    reading.memory = max(memory - values.get("inactive_file", 0), 0) if memory is not None else None
    limit = values.get("limit")
    reading.memory_limit = limit if limit is not None and limit < UNLIMITED else None
    reading.pids = values.get("pids")
    reading.io_read, reading.io_write = io_read, io_write
    reading.net_rx, reading.net_tx = net_totals(line[4:] for line in lines if line.startswith("net "))
