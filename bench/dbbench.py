"""Figures of the orchestrator database module, from ``bench/db_worker.py`` run in the project venv.

The worker alternates the module and raw ``sqlite3`` on the same schema, pragmas and rows; this
side turns its samples into ratios with the goals of the orchestrator issue: batch insert
within twice ``executemany`` in one transaction, reading into models within eight times plain
tuples, and no lock error (and no lost row) with one writer and four reader processes.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from bench.env import REPO, WORK, Venv
from bench.proc import clean_env
from bench.stats import TIMES, Figure, Goal, median, ratio, unavailable

SECTION = "database"
WORKER = REPO / "bench" / "db_worker.py"
GOAL_BATCH = Goal(2.0, f"≤ 2{TIMES} raw sqlite3", "issue 3")
GOAL_READ = Goal(8.0, f"≤ 8{TIMES} plain tuples", "issue 3")
GOAL_ZERO = Goal(0.0, "0", "issue 3")
GOAL_MIGRATE = Goal(3.0, f"≤ 3{TIMES} VACUUM INTO", "issue 9")


@dataclass(frozen=True)
class Settings:
    """Sizes and rounds of the database runs."""

    rows: int
    rounds: int
    per_row: int
    concurrent_seconds: float


def run_worker(venv: Venv, settings: Settings) -> dict[str, Any]:
    """Run the worker and return its JSON answer (or ``{"error": ...}``)."""
    args = [
        str(WORK / "db"),
        str(settings.rows),
        str(settings.rounds),
        str(settings.per_row),
        str(settings.concurrent_seconds),
    ]
    proc = subprocess.run(
        [str(venv.python), str(WORKER), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        return {"error": lines[-1] if lines else f"worker exited {proc.returncode}"}
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def ratio_figure(
    name: str, part: dict[str, Any], count: int, floor_name: str, goal: Goal | None
) -> Figure:
    """Turn alternated module/raw samples (seconds) into one ratio figure."""
    if "error" in part:
        return unavailable(SECTION, name, f"not available: {part['error']}", goal)
    module, raw = median(part["module"]), median(part["raw"])
    note = f"{module / count * 1e6:.1f} µs/row vs {raw / count * 1e6:.1f} µs/row raw"
    for method in ("to_row", "from_row"):
        if method in part:
            note += f"; `AgentLog.{method}` alone: {part[method] / count * 1e6:.1f} µs/row"
    if "aiosqlite" in part:
        note += f"; aiosqlite execute + commit alone: {part['aiosqlite'] / count * 1e6:.1f} µs/row"
    return Figure(
        section=SECTION,
        name=name,
        value=ratio(module, raw),
        measured=module * 1000,
        floor=raw * 1000,
        floor_name=floor_name,
        samples=len(part["module"]),
        goal=goal,
        note=note,
    )


def copy_and_check(part: dict[str, Any]) -> dict[str, Any]:
    """Pair each migration with the round's VACUUM INTO plus its CHECK evaluation.

    Migration 0003 adds CHECKs that every stored row must pass, so no rebuild can cost less
    than copying the file and evaluating those CHECKs once on every row.
    """
    if "error" in part or "checks" not in part:
        return {"error": part.get("error", "the worker measured no CHECK evaluation")}
    floors = [copy + check for copy, check in zip(part["raw"], part["checks"], strict=True)]
    return {"module": part["module"], "raw": floors}


def concurrent_figures(part: dict[str, Any]) -> list[Figure]:
    """Turn the one-writer / four-readers run into counts."""
    names = (
        "rows written",
        "rows read",
        "lock errors",
        "other errors",
        "rows lost",
        "WAL size at end",
    )
    prefix = "1 writer + 4 reader processes"
    if "error" in part:
        why = f"not available: {part['error']}"
        return [
            unavailable(
                SECTION,
                f"{prefix}: {n}",
                why,
                GOAL_ZERO if n in {"lock errors", "other errors", "rows lost"} else None,
            )
            for n in names
        ]
    secs = part["seconds"]
    return [
        Figure(
            section=SECTION,
            name=f"{prefix}: rows written",
            value=part["written"],
            unit="rows",
            note=f"in {secs:g} s, batches of 10 through the module",
        ),
        Figure(
            section=SECTION,
            name=f"{prefix}: rows read",
            value=part["read"],
            unit="rows",
            note=f"{part['queries']:,} queries of the latest 100 rows",
        ),
        Figure(
            section=SECTION,
            name=f"{prefix}: lock errors",
            value=part["lock_errors"],
            unit="",
            goal=GOAL_ZERO,
            note="'database is locked' / busy, all processes",
        ),
        Figure(
            section=SECTION,
            name=f"{prefix}: other errors",
            value=part["other_errors"],
            unit="",
            goal=GOAL_ZERO,
            note=f"first: {part['first_error']}" if part["first_error"] else "",
        ),
        Figure(
            section=SECTION,
            name=f"{prefix}: rows lost",
            value=part["lost"],
            unit="",
            goal=GOAL_ZERO,
            note=f"{part['stored']:,} rows in the table at the end",
        ),
        Figure(
            section=SECTION,
            name=f"{prefix}: WAL size at end",
            value=part["wal_end_bytes"] / 2**20,
            unit="MiB",
            note=f"peak {part['wal_peak_bytes'] / 2**20:.2f} MiB, seen by the writer",
        ),
    ]


def figures(venv: Venv, settings: Settings) -> list[Figure]:
    """Run the database worker and return its figures."""
    answer = run_worker(venv, settings)
    rows, per_row = settings.rows, settings.per_row
    names = (
        f"batch insert of {rows:,} AgentLog models",
        f"{per_row:,} inserts, one transaction each",
        f"read {rows:,} rows into AgentLog models",
        f"migrate a version-1 file of {rows:,} agent_logs rows to the current schema",
        f"{per_row:,} status transitions (start_agent), one transaction each",
    )
    if "batch" not in answer:
        why = f"not available: {answer.get('error', 'no answer')}"
        return [
            unavailable(SECTION, names[0], why, GOAL_BATCH),
            unavailable(SECTION, names[1], why),
            unavailable(SECTION, names[2], why, GOAL_READ),
            unavailable(SECTION, names[3], why, GOAL_MIGRATE),
            unavailable(SECTION, f"{names[3]}, against copying and checking", why),
            unavailable(SECTION, names[4], why),
            *concurrent_figures({"error": why.removeprefix("not available: ")}),
        ]
    return [
        ratio_figure(
            names[0], answer["batch"], rows, "sqlite3 executemany, 1 transaction", GOAL_BATCH
        ),
        ratio_figure(
            names[1],
            answer["one_per_transaction"],
            per_row,
            "sqlite3 execute + commit per row",
            None,
        ),
        ratio_figure(names[2], answer["read"], rows, "sqlite3 fetchall of tuples", GOAL_READ),
        ratio_figure(
            names[3],
            answer.get("migrate", {"error": "not measured"}),
            rows,
            "VACUUM INTO of the same file",
            GOAL_MIGRATE,
        ),
        ratio_figure(
            f"{names[3]}, against copying and checking",
            copy_and_check(answer.get("migrate", {"error": "not measured"})),
            rows,
            "VACUUM INTO + the current CHECKs evaluated on every row",
            None,
        ),
        ratio_figure(
            names[4],
            answer.get("transition", {"error": "not measured"}),
            per_row,
            "sqlite3 UPDATE ... RETURNING + commit per row",
            None,
        ),
        *concurrent_figures(answer["concurrent"]),
    ]
