"""Figures of the PostgreSQL database module, from ``bench/pg_worker.py`` run in the project venv.

Only when a server is available: its DSN in ``PG_TEST_DSN`` or
``TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL`` (``.ci/pg python bench/run.py`` starts a
throwaway one). The goals of the PostgreSQL issue: batch insert within twice asyncpg's
``executemany`` (COPY shown beside it), reading into models within eight times raw asyncpg
records, and no lost row with one writer and four reader processes.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

from bench.env import REPO, WORK, Venv, _pip
from bench.proc import clean_env
from bench.stats import TIMES, Figure, Goal, median, timed_figure, unavailable

SECTION = "postgres"
WORKER = REPO / "bench" / "pg_worker.py"
DSN_VARS = ("PG_TEST_DSN", "TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
GOAL_BATCH = Goal(2.0, f"≤ 2{TIMES} asyncpg executemany", "issue 12")
GOAL_READ = Goal(8.0, f"≤ 8{TIMES} asyncpg records", "issue 12")
GOAL_ZERO = Goal(0.0, "0", "issue 12")


@dataclass(frozen=True)
class Settings:
    """Sizes and rounds of the PostgreSQL runs."""

    rows: int
    rounds: int
    concurrent_seconds: float


def server_dsn() -> str | None:
    """Return the DSN of the server to measure against, if one is given."""
    return next((os.environ[v] for v in DSN_VARS if os.environ.get(v)), None)


def run_worker(venv: Venv, dsn: str, settings: Settings) -> dict[str, Any]:
    """Run the worker (installing asyncpg in the venv first) and return its JSON answer."""
    check = subprocess.run(
        [str(venv.python), "-c", "import asyncpg"], capture_output=True, check=False
    )
    if check.returncode != 0:
        _pip(venv, "asyncpg", log=WORK / "pip-project.log")
    args = [dsn, str(settings.rows), str(settings.rounds), str(settings.concurrent_seconds)]
    proc = subprocess.run(
        [str(venv.python), str(WORKER), *args],
        capture_output=True,
        text=True,
        env={**clean_env(), **{v: os.environ[v] for v in DSN_VARS if v in os.environ}},
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        return {"error": lines[-1] if lines else f"worker exited {proc.returncode}"}
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def names(settings: Settings) -> list[str]:
    """Return the names of the figures, in order."""
    rows = f"{settings.rows:,}"
    prefix = "1 writer + 4 reader processes"
    return [
        f"batch insert of {rows} AgentLog models (PostgreSQL)",
        "the same batch: raw COPY against executemany (PostgreSQL)",
        f"read {rows} rows into AgentLog models (PostgreSQL)",
        f"{prefix}: rows written (PostgreSQL)",
        f"{prefix}: errors (PostgreSQL)",
        f"{prefix}: rows lost (PostgreSQL)",
    ]


def figures(venv: Venv, settings: Settings) -> list[Figure]:
    """Run the PostgreSQL worker and return its figures (not available without a server)."""
    goals = [GOAL_BATCH, None, GOAL_READ, None, GOAL_ZERO, GOAL_ZERO]
    dsn = server_dsn()
    answer: dict[str, Any] = (
        run_worker(venv, dsn, settings)
        if dsn
        else {"error": f"no server: set {DSN_VARS[0]} (or run under .ci/pg)"}
    )
    if "error" in answer:
        why = f"not available: {answer['error']}"
        return [
            unavailable(SECTION, n, why, g) for n, g in zip(names(settings), goals, strict=True)
        ]
    batch, read, both = answer["batch"], answer["read"], answer["concurrent"]
    per_row = 1e6 / settings.rows
    first = names(settings)
    return [
        timed_figure(
            SECTION,
            first[0],
            batch["module"],
            batch["raw"],
            floor_name="asyncpg executemany, 1 transaction",
            goal=GOAL_BATCH,
            note=f"{median(batch['module']) * per_row:.1f} µs/row; raw COPY of the same rows "
            f"{median(batch['copy']) * per_row:.1f} µs/row",
        ),
        timed_figure(
            SECTION, first[1], batch["copy"], batch["raw"], floor_name="asyncpg executemany"
        ),
        timed_figure(
            SECTION,
            first[2],
            read["module"],
            read["raw"],
            floor_name="asyncpg fetch of records",
            goal=GOAL_READ,
        ),
        Figure(
            section=SECTION,
            name=first[3],
            value=both["written"],
            unit="rows",
            note=f"in {both['seconds']:g} s, batches of 10; readers: {both['read']:,} rows "
            f"in {both['queries']:,} queries; PostgreSQL {answer.get('server', '?')}",
        ),
        Figure(
            section=SECTION,
            name=first[4],
            value=both["errors"],
            unit="",
            goal=GOAL_ZERO,
            note=f"first: {both['first_error']}" if both["first_error"] else "",
        ),
        Figure(
            section=SECTION,
            name=first[5],
            value=both["lost"],
            unit="",
            goal=GOAL_ZERO,
            note=f"{both['stored']:,} rows in the table at the end",
        ),
    ]
