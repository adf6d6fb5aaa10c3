"""Worker for the PostgreSQL figures, run by the bench's project venv (not imported by run.py).

Usage: ``python bench/pg_worker.py DSN ROWS ROUNDS SECONDS``; prints one JSON object.
(``python bench/pg_worker.py --read DSN SCHEMA SECONDS`` is one reader process of the
concurrency run.)

It measures ``tac_bootstrap.orchestrator.database_postgres`` (the BASE copy of what
``init --with-orchestrator --db postgres`` generates) against raw asyncpg on the same server,
schema and rows, alternating, each run on an emptied table:

* batch insert of ROWS AgentLog models (``insert_many``) vs raw ``executemany`` of the same
  rows as tuples in one transaction, and vs ``copy_records_to_table`` (COPY);
* reading ROWS rows into models (``list_rows``) vs raw ``fetch`` of records;
* one writer (batches of 10 through the module) and four reader processes for SECONDS
  seconds: rows written, rows read, errors, rows lost.

Everything happens in a PostgreSQL schema of its own, dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from tac_bootstrap.orchestrator import database_postgres as pg
from tac_bootstrap.orchestrator.orch_database_models import Agent, AgentLog, OrchestratorAgent

LOG_TYPES = ("step_start", "step_end", "event", "error")
COLUMNS = AgentLog.columns


def in_schema(dsn: str, schema: str) -> str:
    """Return the DSN with every table in ``schema`` (asyncpg passes it on as a setting)."""
    return f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"


def make_logs(agent_id: str, count: int) -> list[AgentLog]:
    """Build ``count`` AgentLog models (outside any timing), each with a small metadata dict."""
    return [
        AgentLog(
            agent_id=agent_id,
            log_type=LOG_TYPES[i % 4],
            message=f"step {i} finished",
            metadata={"step": i, "phase": "bench", "tags": ["a", "b"]},
        )
        for i in range(count)
    ]


def raw_rows(logs: list[AgentLog]) -> list[tuple[Any, ...]]:
    """Return the rows as raw asyncpg takes them: JSON as text, the rest as the model holds."""
    return [
        (log.id, log.agent_id, log.log_type, log.message, json.dumps(log.metadata), log.created_at)
        for log in logs
    ]


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def alternate(
    contenders: dict[str, Callable[[], Awaitable[float]]], rounds: int
) -> dict[str, list[float]]:
    """Run each contender ``rounds`` times, the order flipping every round, after a warm-up."""
    names = list(contenders)
    for name in names:
        await contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            samples[name].append(await contenders[name]())
    return samples


async def batch_and_read(dsn: str, rows: int, rounds: int) -> dict[str, Any]:
    """Batch insert and read figures, alternating module, executemany and COPY."""
    async with pg.Database.open(dsn) as db:
        orchestrator = await db.create(OrchestratorAgent(name="bench"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id, name="bench"))
        logs = make_logs(agent.id, rows)
        tuples = raw_rows(logs)
        raw = await asyncpg.connect(dsn)
        # Column names come from the model, values are bound: the statements the module runs.
        names = ", ".join(COLUMNS)
        insert = f"INSERT INTO agent_logs ({names}) VALUES ($1, $2, $3, $4, $5, $6)"  # noqa: S608
        select = f"SELECT {names} FROM agent_logs ORDER BY created_at, id"  # noqa: S608
        try:

            async def module() -> float:
                await raw.execute("TRUNCATE agent_logs")
                return await timed(lambda: db.insert_many(logs))

            async def executemany() -> float:
                await raw.execute("TRUNCATE agent_logs")

                async def go() -> None:
                    async with raw.transaction():
                        await raw.executemany(insert, tuples)

                return await timed(go)

            async def copy() -> float:
                await raw.execute("TRUNCATE agent_logs")
                return await timed(
                    lambda: raw.copy_records_to_table("agent_logs", records=tuples, columns=COLUMNS)
                )

            batch = await alternate({"module": module, "raw": executemany, "copy": copy}, rounds)
            await raw.execute("TRUNCATE agent_logs")
            await db.insert_many(logs)

            async def read_module() -> float:
                return await timed(lambda: db.list_rows(AgentLog, limit=None))

            async def read_raw() -> float:
                return await timed(lambda: raw.fetch(select))

            read = await alternate({"module": read_module, "raw": read_raw}, rounds)
            models = await db.list_rows(AgentLog, limit=None)
            by_id = {model.id: model for model in models}
            assert len(by_id) == rows
            assert by_id[logs[0].id] == logs[0]
        finally:
            await raw.close()
    return {"batch": batch, "read": read}


async def writer(dsn: str, agent_id: str, seconds: float) -> dict[str, Any]:
    """Write batches of 10 logs through the module for ``seconds``; count what was written."""
    written, errors, first = 0, 0, ""
    async with pg.Database.open(dsn) as db:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                written += await db.insert_many(make_logs(agent_id, 10))
            except Exception as exc:
                errors += 1
                first = first or f"{type(exc).__name__}: {exc}"
        stored = await db.count(AgentLog)
    return {"written": written, "errors": errors, "first_error": first, "stored": stored}


async def reader(dsn: str, seconds: float) -> dict[str, Any]:
    """Read the latest 100 logs and the count until ``seconds`` pass."""
    read = queries = errors = 0
    first = ""
    async with pg.Database.open(dsn) as db:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                read += len(await db.list_rows(AgentLog, newest_first=True, limit=100))
                await db.count(AgentLog)
                queries += 2
            except Exception as exc:
                errors += 1
                first = first or f"{type(exc).__name__}: {exc}"
    return {"read": read, "queries": queries, "errors": errors, "first_error": first}


async def concurrent(dsn: str, base: str, schema: str, seconds: float) -> dict[str, Any]:
    """One writer here and four reader processes; no row may be lost."""
    async with pg.Database.open(dsn) as db:
        await db.list_rows(AgentLog)  # the schema exists before the readers start
        orchestrator = await db.create(OrchestratorAgent(name="concurrent"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        await db._fetch("TRUNCATE agent_logs", ())
    readers = [
        subprocess.Popen(
            [sys.executable, __file__, "--read", base, schema, str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    written = await writer(dsn, agent.id, seconds)
    answers = [json.loads(proc.communicate(timeout=seconds + 60)[0]) for proc in readers]
    return {
        "seconds": seconds,
        "written": written["written"],
        "stored": written["stored"],
        "lost": written["written"] - written["stored"],
        "read": sum(a["read"] for a in answers),
        "queries": sum(a["queries"] for a in answers),
        "errors": written["errors"] + sum(a["errors"] for a in answers),
        "first_error": written["first_error"]
        or next((a["first_error"] for a in answers if a["first_error"]), ""),
    }


async def main(argv: list[str]) -> dict[str, Any]:
    if argv[0] == "--read":
        base, schema, seconds = argv[1], argv[2], float(argv[3])
        return await reader(in_schema(base, schema), seconds)
    base, rows, rounds, seconds = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        dsn = in_schema(base, schema)
        answer = await batch_and_read(dsn, rows, rounds)
        answer["concurrent"] = await concurrent(dsn, base, schema, seconds)
        answer["server"] = admin.get_server_version().major
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    return answer


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
