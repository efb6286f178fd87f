"""What every benchmark section shares: rows of the table, timing, the machine, printing."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass
class Row:
    """One line of the table: ours against a baseline measured in the same run.

    ``ratio`` is how many times better ours is (baseline/ours for times, ours/baseline
    for rates): above 1 is better. ``goal`` is the issue's target for that ratio, if any.
    """

    section: str
    name: str
    ours: float
    baseline: float
    unit: str
    higher_is_better: bool = False
    goal: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        if self.ours <= 0 or self.baseline <= 0:
            return float("nan")
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


def best_of(run: Callable[[], Any], repeat: int) -> float:
    """The best wall time of ``repeat`` runs (seconds)."""
    times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def paired(
    baseline: Callable[[], Any], ours: Callable[[], Any], repeat: int
) -> tuple[float, float]:
    """Best times of two runs, interleaved (A B A B ...) so load on the machine hits both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(1, repeat)):
        for index, run in enumerate((baseline, ours)):
            started = time.perf_counter()
            run()
            times[index].append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def median_of(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> str:
    """One line that says what this was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}; {os.cpu_count()} cores; {memory:.0f} GiB; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; load average {load}"
    )


def fmt(value: float, unit: str) -> str:
    if value != value:  # nan
        return "n/a"
    if unit == "s" and value < 1:
        return f"{value * 1000:.1f} ms"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def table(rows: list[Row]) -> str:
    """The rows as one Markdown table (it goes into the README as printed)."""
    lines = [
        "| section | measure | ours | baseline | ratio | goal | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = "n/a" if row.ratio != row.ratio else f"{row.ratio:.2f}x"
        goal = f"≥ {row.goal:g}x" if row.goal is not None else ""
        if row.goal is not None and row.ratio == row.ratio and row.ratio < row.goal:
            goal += " (missed)"
        lines.append(
            f"| {row.section} | {row.name} | {fmt(row.ours, row.unit)} | "
            f"{fmt(row.baseline, row.unit)} | {ratio} | {goal} | {row.note} |"
        )
    return "\n".join(lines)
