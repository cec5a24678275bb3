"""From two readings of one server to the figures a sample stores: gauges as read, rates from counter deltas.

The counters of a reading (CPU jiffies, disk and network bytes, each container's CPU time, I/O and network
bytes) are kept with the server's latest sample in the database, so whichever instance takes the next sample
computes the rates. The clock of a rate is the server's own uptime, read in the same round trip, so the SSH
latency does not skew it. A counter that went down (a reboot, a re-created container, an interface that went
away) or a clock that did not move gives no rate for that sample: None, never a negative or invented figure.
"""

from __future__ import annotations

from typing import Any

from tomo.services.monitoring.parse import ContainerReading, Reading

Counters = dict[str, Any]


def counters(reading: Reading) -> Counters:
    """What the next sample needs from this one."""
    return {
        "uptime": reading.uptime_s,
        "cpu": [reading.cpu_busy, reading.cpu_total],
        "disk": [reading.disk_read, reading.disk_write],
        "net": [reading.net_rx, reading.net_tx],
        "containers": {c.id: [c.cpu_ns, c.io_read, c.io_write, c.net_rx, c.net_tx] for c in reading.containers},
    }


def _delta(now: int | float | None, before: int | float | None) -> float | None:
    if now is None or before is None or now < before:
        return None
    return float(now - before)


def _elapsed(reading: Reading, previous: Counters | None) -> float | None:
    if previous is None:
        return None
    elapsed = _delta(reading.uptime_s, previous.get("uptime"))
    return elapsed if elapsed else None  # zero: the same instant; None: a reboot


def _rate(now: int | None, before: Any, elapsed: float | None) -> float | None:
    delta = _delta(now, before) if isinstance(before, int) else None
    return None if delta is None or elapsed is None else round(delta / elapsed, 1)


def server_values(reading: Reading, previous: Counters | None) -> dict[str, float]:
    """The stored figures of a server sample (bytes, bytes/s, percent, seconds); a missing figure is left out."""
    elapsed = _elapsed(reading, previous)
    before = previous or {}
    values: dict[str, float | None] = {
        "cpu_percent": _cpu_percent(reading, before.get("cpu") if elapsed else None),
        "cpu_count": reading.cpu_count,
        "memory_total": reading.memory_total,
        "memory_used": _minus(reading.memory_total, reading.memory_available),
        "swap_total": reading.swap_total,
        "swap_used": _minus(reading.swap_total, reading.swap_free),
        "uptime_s": reading.uptime_s,
        "temperature_c": max((t for _, t in reading.temperatures), default=None),
        "containers_running": len(reading.containers) if reading.docker else None,
    }
    if reading.load is not None:
        values.update(load_1=reading.load[0], load_5=reading.load[1], load_15=reading.load[2])
    for name, now, index in (("disk_read_bps", reading.disk_read, 0), ("disk_write_bps", reading.disk_write, 1),
                             ("net_rx_bps", reading.net_rx, 0), ("net_tx_bps", reading.net_tx, 1)):
        pair = before.get("disk" if name.startswith("disk") else "net") or [None, None]
        values[name] = _rate(now, pair[index], elapsed)
    for mount in reading.mounts:
        values[f"disk_used:{mount.path}"] = mount.used
        values[f"disk_total:{mount.path}"] = mount.total
    return {name: value for name, value in values.items() if value is not None}


def _minus(total: int | None, part: int | None) -> int | None:
    return None if total is None or part is None else max(total - part, 0)


def _cpu_percent(reading: Reading, before: Any) -> float | None:
    if not isinstance(before, list) or len(before) != 2:
        return None
    busy, total = _delta(reading.cpu_busy, before[0]), _delta(reading.cpu_total, before[1])
    if busy is None or not total:
        return None
    return round(min(busy / total, 1.0) * 100, 1)


def container_values(reading: Reading, previous: Counters | None) -> list[dict[str, Any]]:
    """Each running container's figures: CPU % of one core (as `docker stats`), memory, pids, I/O and network
    rates; the rates need the same container in the previous sample."""
    elapsed = _elapsed(reading, previous)
    before: dict[str, Any] = (previous or {}).get("containers") or {}
    return [_container(container, before.get(container.id), elapsed) for container in reading.containers]


def _container(container: ContainerReading, before: Any, elapsed: float | None) -> dict[str, Any]:
    old = before if isinstance(before, list) and len(before) == 5 else [None] * 5
    cpu_per_s = _rate(container.cpu_ns, old[0], elapsed)
    figures = {
        "id": container.id, "name": container.name, "image": container.image, "state": container.state,
        "status": container.status, "health": container.health, "project": container.project,
        "service": container.service,
        "cpu_percent": round(cpu_per_s / 1e7, 1) if cpu_per_s is not None else None,
        "memory_bytes": container.memory, "memory_limit": container.memory_limit, "pids": container.pids,
        "io_read_bps": _rate(container.io_read, old[1], elapsed),
        "io_write_bps": _rate(container.io_write, old[2], elapsed),
        "net_rx_bps": _rate(container.net_rx, old[3], elapsed),
        "net_tx_bps": _rate(container.net_tx, old[4], elapsed),
        "net_rx_bytes": container.net_rx, "net_tx_bytes": container.net_tx,
    }  # fmt: skip
    return {key: value for key, value in figures.items() if value is not None}
