"""Series for a period: raw samples and rollup rows of every tier re-bucketed to one step (pure functions).

Each tier holds its own age range (see tables_monitoring.py), so a period's series is built from all the rows
from its start: rows finer than the step merge into the step's buckets exactly; a row coarser than the step
(older data, kept only coarse) stays one point. The step comes from the period unless asked for, and a series
never has more than :data:`MAX_POINTS` points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from tomo.errors import ValidationError
from tomo.lib.metrics.rollups import fold, summary

Period = Literal["1h", "24h", "7d", "30d"]
Resolution = Literal["1m", "10m", "1h", "6h"]

PERIOD_S: dict[str, int] = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
RESOLUTION_S: dict[str, int] = {"1m": 60, "10m": 600, "1h": 3600, "6h": 21600}
DEFAULT_RESOLUTION: dict[str, str] = {"1h": "1m", "24h": "10m", "7d": "1h", "30d": "6h"}
MAX_POINTS = 200
#: The figures that get a series (the rest, such as totals and uptime, are in the latest sample only).
SERIES = ("up", "cpu_percent", "memory_used", "swap_used", "load_1", "load_5", "load_15", "disk_read_bps",
          "disk_write_bps", "net_rx_bps", "net_tx_bps", "temperature_c")  # fmt: skip


def step_for(period: str, resolution: str | None) -> tuple[str, int]:
    """The resolution name and its seconds; ValidationError when it would give more than MAX_POINTS points."""
    name = resolution or DEFAULT_RESOLUTION[period]
    step = RESOLUTION_S[name]
    points = PERIOD_S[period] // step
    if points >= MAX_POINTS:
        coarser = [key for key, seconds in RESOLUTION_S.items() if PERIOD_S[period] // seconds < MAX_POINTS]
        raise ValidationError(f"Resolution {name} over {period} gives {points} points, more than {MAX_POINTS}; "
                              f"use {' or '.join(coarser)}.")
    return name, step


def _keep(name: str) -> bool:
    return name in SERIES or name.startswith("disk_used:")


def build_series(rows: Iterable[tuple[datetime, int, Mapping[str, list[float]]]], step_s: int) -> dict[str, Any]:
    """(start, samples, stats) rows -> ``{"time": [...], "series": {metric: {"avg": [...], "max": [...]}}}``.

    A point's average is over every sample of its bucket; its max is the highest sample; a metric missing from a
    bucket (a down server has only ``up``) is null there. The newest MAX_POINTS points are kept.
    """
    buckets = fold(((start, samples, {k: v for k, v in stats.items() if _keep(k)}) for start, samples, stats in rows),
                   step_s)
    starts = sorted(buckets)[-MAX_POINTS:]
    figures = [summary(buckets[start].stats) for start in starts]
    names = sorted({name for figure in figures for name in figure}, key=_order)
    series: dict[str, dict[str, list[float | None]]] = {}
    for name in names:
        cells = [figure.get(name) for figure in figures]
        series[name] = {"avg": [_round(cell[1]) if cell else None for cell in cells],
                        "max": [_round(cell[2]) if cell else None for cell in cells]}
    return {"time": [start.strftime("%Y-%m-%dT%H:%MZ") for start in starts], "series": series}


def _order(name: str) -> tuple[int, str]:
    return (SERIES.index(name), "") if name in SERIES else (len(SERIES), name)


def _round(value: float) -> float:
    return round(value, 3) if abs(value) < 10 else round(value, 1)
