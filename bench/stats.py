"""Pure helpers: medians, ratios, the alternating schedule and the figures the bench reports.

Nothing here measures anything, so the test suite can check it quickly and exactly.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

NOT_AVAILABLE = "not available"
TIMES = "\u00d7"  # the multiplication sign of every ratio


def median(samples: Sequence[float]) -> float:
    """Return the median of ``samples`` (the bench reports medians, never means)."""
    if not samples:
        msg = "median of no samples"
        raise ValueError(msg)
    return float(statistics.median(samples))


def ratio(measured: float, floor: float) -> float:
    """Return ``measured / floor``, the form in which every timed figure is reported."""
    if floor <= 0:
        msg = f"floor must be positive, got {floor}"
        raise ValueError(msg)
    return measured / floor


def round_order(count: int, round_index: int) -> list[int]:
    """Return the order in which ``count`` contenders run in round ``round_index``.

    Even rounds run forwards, odd rounds backwards (A B, B A, A B, ...), so a drift of the
    machine's speed during the run falls equally on every contender.
    """
    order = list(range(count))
    return order if round_index % 2 == 0 else order[::-1]


def alternate(contenders: Sequence[Callable[[], T]], rounds: int) -> list[list[T]]:
    """Run each contender once per round in alternating order; return the samples per contender."""
    samples: list[list[T]] = [[] for _ in contenders]
    for index in range(rounds):
        for which in round_order(len(contenders), index):
            samples[which].append(contenders[which]())
    return samples


def _import_lines(importtime: str) -> list[tuple[int, str, float]]:
    """Parse ``python -X importtime`` output into (nesting level, package, self ms), in order."""
    entries = []
    for line in importtime.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        if not parts[0].strip().isdigit():
            continue
        name = parts[2].rstrip()
        level = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append((level, name.strip().split(".")[0], int(parts[0]) / 1000))
    return entries


def _kind(package: str, own: str) -> int:
    """Rank a package as a cause: 2 a dependency, 1 the project itself, 0 the standard library."""
    if package == own:
        return 1
    stdlib = package in sys.stdlib_module_names or package.startswith("_")
    return 0 if stdlib else 2


def imports_by_package(importtime: str, own: str = "tac_bootstrap") -> dict[str, float]:
    """Sum ``python -X importtime`` self times (ms) by the dependency that caused each import.

    Every module's own time is charged to its outermost importer that is a dependency (so the
    standard-library modules and Pydantic that Typer imports count as Typer), else to the
    project itself, else to ``stdlib``. The parts add up to the whole import time.
    """
    totals: dict[str, float] = {}
    stack: list[tuple[int, str]] = []
    for level, package, ms in reversed(_import_lines(importtime)):  # parents before children
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, package))
        chain = [p for _, p in stack]
        best = max((_kind(p, own) for p in chain), default=0)
        cause = next((p for p in chain if _kind(p, own) == best), "stdlib") if best else "stdlib"
        totals[cause] = totals.get(cause, 0.0) + ms
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def imports_note(by_package: dict[str, float], wall_ms: float, top: int = 5) -> str:
    """Say how much of one run went into imports, and into which packages."""
    total = sum(by_package.values())
    parts = ", ".join(f"{name} {ms:.0f}" for name, ms in list(by_package.items())[:top])
    return f"imports {total:.0f} of {wall_ms:.0f} ms (-X importtime, one run): {parts}"


@dataclass(frozen=True)
class Goal:
    """An upper bound a figure must stay within, and the issue that states it."""

    limit: float
    text: str
    source: str = ""

    def met_by(self, value: float) -> bool:
        """Return whether ``value`` is within the goal."""
        return value <= self.limit


@dataclass
class Figure:
    """One reported figure: a ratio (or a count) with the absolute medians behind it.

    Attributes:
        section: Group in the table (start-up, peers, sync, database, memory).
        name: What was measured, as a person would say it.
        value: The figure itself; for timings the ratio measured / floor. None when it
            could not be measured.
        unit: ``TIMES`` for ratios, else the unit of ``value``.
        measured: Absolute median of the measured runs (in ``abs_unit``).
        floor: Absolute median of the floor runs (in ``abs_unit``).
        abs_unit: Unit of ``measured`` and ``floor``.
        floor_name: What the floor is.
        samples: Number of measured runs behind the median.
        goal: The goal this figure is judged against, if any.
        note: Why a figure is missing or misses its goal, or how it was measured.
    """

    section: str
    name: str
    value: float | None
    unit: str = TIMES
    measured: float | None = None
    floor: float | None = None
    abs_unit: str = "ms"
    floor_name: str = ""
    samples: int = 0
    goal: Goal | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """Return ``met``, ``missed``, ``info`` (no goal) or ``not available``."""
        if self.value is None:
            return NOT_AVAILABLE
        if self.goal is None:
            return "info"
        return "met" if self.goal.met_by(self.value) else "missed"

    def verdict(self) -> str:
        """Return the result column: met / missed by how much / not available / blank."""
        status = self.status
        if status != "missed" or self.goal is None or self.value is None:
            return "" if status == "info" else status
        if self.goal.limit > 0:
            over = (self.value / self.goal.limit - 1) * 100
            return f"missed by {over:.0f} %"
        return f"missed ({self.value:g} > {self.goal.limit:g})"

    def to_json(self) -> dict[str, Any]:
        """Return the figure as plain JSON data, status included."""
        data = asdict(self)
        data["status"] = self.status
        data["verdict"] = self.verdict()
        return data


def unavailable(section: str, name: str, why: str, goal: Goal | None = None) -> Figure:
    """Return a figure that could not be measured, saying why instead of inventing a number."""
    return Figure(section=section, name=name, value=None, goal=goal, note=why)


def timed_figure(
    section: str,
    name: str,
    measured: Sequence[float],
    floor: Sequence[float],
    *,
    floor_name: str,
    goal: Goal | None = None,
    note: str = "",
) -> Figure:
    """Build a ratio figure from measured and floor samples in seconds (reported in ms)."""
    m, f = median(measured), median(floor)
    return Figure(
        section=section,
        name=name,
        value=ratio(m, f),
        measured=m * 1000,
        floor=f * 1000,
        floor_name=floor_name,
        samples=len(measured),
        goal=goal,
        note=note,
        extra={"measured_s": list(measured), "floor_s": list(floor)},
    )
