"""Turn figures into the JSON file, the markdown table and the README section."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.stats import TIMES, Figure

START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"
COMMAND = "python bench/run.py"


def fmt_number(value: float | None, unit: str = "") -> str:
    """Format a figure with about three significant digits, or a dash when missing."""
    if value is None:
        return "—"
    if unit == TIMES:
        return f"{value:.2f}{TIMES}" if value < 100 else f"{value:.0f}{TIMES}"
    if value == int(value) and abs(value) >= 1:
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def _cell(text: str) -> str:
    """Escape a value for a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _row(fig: Figure) -> str:
    """Render one figure as a markdown table row."""
    goal = fig.goal.text if fig.goal else ""
    cells = [
        fig.section,
        fig.name,
        fmt_number(fig.value, fig.unit),
        fmt_number(fig.measured, fig.abs_unit),
        fmt_number(fig.floor, fig.abs_unit),
        fig.floor_name,
        str(fig.samples or ""),
        goal,
        fig.verdict(),
        fig.note,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_table(figures: Sequence[Figure]) -> str:
    """Render every figure as one markdown table."""
    head = (
        "| Section | Figure | Value | Measured (median) | Floor (median) | Floor | Runs "
        "| Goal | Result | Note |"
    )
    rule = "|---|---|--:|--:|--:|---|--:|---|---|---|"
    return "\n".join([head, rule, *(_row(f) for f in figures)]) + "\n"


def render_goals(figures: Sequence[Figure]) -> str:
    """Render one line per figure that has a goal: value, goal, verdict."""
    lines = [
        f"- {f.name}: **{fmt_number(f.value, f.unit)}** (goal {f.goal.text}): {f.verdict()}"
        for f in figures
        if f.goal is not None
    ]
    met = sum(f.status == "met" for f in figures if f.goal is not None)
    head = f"Goals: {met} of {len(lines)} met.\n\n"
    return head + "\n".join(lines) + "\n" if lines else ""


def render_machine(machine: Mapping[str, Any]) -> str:
    """Render the machine and run description as one markdown line."""
    parts = [f"{k}: {v}" for k, v in machine.items()]
    return "Machine — " + "; ".join(parts) + "\n"


def render_markdown(
    figures: Sequence[Figure], machine: Mapping[str, Any], mode: str, date: str
) -> str:
    """Render the full markdown report: when, where, how to reproduce, the table."""
    flag = " --quick" if mode == "quick" else ""
    lines = [
        f"Benchmark run of {date} with `{COMMAND}{flag}`. Reproduce from the repository root "
        f"with `{COMMAND}` (full run, about 5 minutes here) or `{COMMAND} --quick` (under two "
        "minutes); it makes its own virtual environments under `bench/.work/` and needs the "
        "package index once. Every timed figure is the median of runs alternated with its "
        "floor in the same run, reported as the ratio measured / floor, with both absolute "
        "medians beside it.\n",
        render_machine(machine),
        render_goals(figures),
        render_table(figures),
    ]
    return "\n".join(lines)


def replace_between_markers(text: str, body: str) -> str | None:
    """Return ``text`` with only the part between the bench markers replaced by ``body``.

    Returns None when the markers are missing or out of order, so the caller leaves the
    file alone.
    """
    start = text.find(START_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        return None
    head = text[: start + len(START_MARKER)]
    return f"{head}\n{body.rstrip()}\n{text[end:]}"


def update_readme(readme: Path, body: str) -> bool:
    """Rewrite the bench section of ``readme``; return whether the markers were there."""
    if not readme.is_file():
        return False
    old = readme.read_text(encoding="utf-8")
    new = replace_between_markers(old, body)
    if new is None:
        return False
    if new != old:
        readme.write_text(new, encoding="utf-8")
    return True


def write_results(
    out_dir: Path, figures: Sequence[Figure], machine: Mapping[str, Any], mode: str, date: str
) -> str:
    """Write ``latest.json`` and ``latest.md`` under ``out_dir``; return the markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "date": date,
        "mode": mode,
        "command": COMMAND + (" --quick" if mode == "quick" else ""),
        "machine": dict(machine),
        "figures": [f.to_json() for f in figures],
    }
    (out_dir / "latest.json").write_text(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    markdown = render_markdown(figures, machine, mode, date)
    (out_dir / "latest.md").write_text(markdown, encoding="utf-8")
    return markdown
