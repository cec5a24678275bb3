"""Tiny helpers shared by the benchmarks: percentiles and a printed table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(name: str, values: Sequence[float], unit: str = "ms") -> list[str]:
    return [name, str(len(values)), f"{statistics.median(values):.2f} {unit}", f"{percentile(values, 95):.2f} {unit}",
            f"{percentile(values, 99):.2f} {unit}"]


def print_table(title: str, rows: list[list[str]]) -> None:
    header = ["case", "n", "median", "p95", "p99"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(r, widths, strict=True)))
