"""Worker for the database figures, run by the bench's project venv (not imported by run.py).

Usage: ``python bench/db_worker.py WORKDIR ROWS ROUNDS PER_ROW SECONDS``; prints one JSON object.

It measures the orchestrator database module (``tac_bootstrap.orchestrator.database``, the
BASE copy of what ``init --with-orchestrator`` generates) against raw ``sqlite3`` on the same
schema, the same pragmas and the same rows, alternating the two, each on a fresh database
file prepared outside the timing:

* batch insert of ROWS AgentLog models in one transaction vs ``executemany`` of their rows
  (built beforehand with ``to_row()``) in one transaction;
* PER_ROW inserts, one transaction each, vs ``execute`` + ``commit`` per row;
* PER_ROW status transitions (``start_agent``), each its own transaction, vs a raw conditional
  ``UPDATE ... RETURNING`` + ``commit`` per agent;
* reading ROWS rows back into models vs ``fetchall()`` of plain tuples;
* one writer and four reader processes for SECONDS seconds: rows written, rows read, lock
  errors, rows lost, WAL size at the end;
* migrating a version-1 file holding ROWS agent_logs rows (and their parents) to the current
  schema with ``upgrade`` vs ``VACUUM INTO`` of the same file (a copy of the data is the least
  a table rebuild can cost).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import multiprocessing
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)
LOG_TYPES = ("step_start", "step_end", "event", "error")


def models() -> Any:
    """Import the models module (standard library and pydantic only)."""
    return importlib.import_module("tac_bootstrap.orchestrator.orch_database_models")


def schema_sql() -> str:
    """Return the schema the database module applies."""
    mod = importlib.import_module("tac_bootstrap.orchestrator")
    return (Path(mod.__file__ or "").parent / "schema_orchestrator.sql").read_text("utf-8")


def columns(model: Any) -> list[str]:
    """Return the column names of a model, in the order ``to_row()`` gives them."""
    return list(model.model_fields)


def insert_sql(model: Any) -> str:
    """Return the plain INSERT statement of a model's table."""
    cols = columns(model)  # table and column names come from the models, values are bound
    return (
        f"INSERT INTO {model.__tablename__} ({', '.join(cols)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(cols))})"
    )


def connect(path: Path) -> sqlite3.Connection:
    """Open a raw connection with the pragmas the database module sets on every connection."""
    conn = sqlite3.connect(path, isolation_level="DEFERRED")
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def prepare(path: Path) -> str:
    """Create a database with the schema, an orchestrator agent and an agent; return its id."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    m = models()
    orch = m.OrchestratorAgent(name="bench", metadata={"bench": True})
    agent = m.Agent(orchestrator_agent_id=orch.id, name="bench-agent")
    conn = connect(path)
    conn.executescript(schema_sql())
    conn.execute(insert_sql(m.OrchestratorAgent), orch.to_row())
    conn.execute(insert_sql(m.Agent), agent.to_row())
    conn.commit()
    conn.close()
    return str(agent.id)


def make_logs(agent_id: str, count: int) -> list[Any]:
    """Build ``count`` AgentLog models (outside any timing), each with a small metadata dict."""
    log = models().AgentLog
    return [
        log(
            agent_id=agent_id,
            log_type=LOG_TYPES[i % 4],
            message=f"step {i} finished",
            metadata={"step": i, "phase": "bench", "tags": ["a", "b"]},
        )
        for i in range(count)
    ]


class ModuleApi:
    """The calls of the database module the bench needs, found by name once.

    Every name the bench uses is listed here, so a renamed method turns into one clear
    "not available" line instead of a wrong figure.
    """

    def __init__(self) -> None:
        self.mod: Any = importlib.import_module("tac_bootstrap.orchestrator.database")
        self.db_class: Any = self.mod.Database
        # Creating and migrating a file: its own module since 0.4.0, in ``database`` before.
        try:
            self.migrate: Any = importlib.import_module(
                "tac_bootstrap.orchestrator.database_migrate"
            )
        except ModuleNotFoundError:
            self.migrate = self.mod

    def upgrade(self, path: Path) -> list[int]:
        """Migrate the file at ``path`` to the module's schema version, without a backup."""
        if self.migrate is self.mod:
            applied: list[int] = self.mod.upgrade(path, backup=False)
        else:
            applied = self.migrate.upgrade(path, self.mod.SCHEMA_VERSION, backup=False)
        return applied

    def open(self, path: Path) -> Any:
        """Return the async context manager that opens ``path``."""
        return self.db_class.open(path)

    async def batch(self, db: Any, logs: Sequence[Any]) -> None:
        """Insert ``logs`` in one transaction."""
        await db.insert_many(logs)

    async def one(self, db: Any, log: Any) -> None:
        """Insert one log in its own transaction."""
        await db.create(log)

    async def read(self, db: Any, agent_id: str, limit: int, *, newest: bool = False) -> list[Any]:
        """Read up to ``limit`` logs of an agent as models, in insertion order (or newest first)."""
        rows: list[Any] = await db.list_rows(
            models().AgentLog, agent_id=agent_id, limit=limit, newest_first=newest
        )
        return rows


def raw_batch(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Time ``executemany`` of ``rows`` and one commit."""
    conn, sql = connect(path), insert_sql(models().AgentLog)
    start = time.perf_counter()
    conn.executemany(sql, rows)
    conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def raw_per_row(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Time one ``execute`` and one ``commit`` per row."""
    conn, sql = connect(path), insert_sql(models().AgentLog)
    start = time.perf_counter()
    for row in rows:
        conn.execute(sql, row)
        conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def module_batch(api: ModuleApi, path: Path, logs: list[Any]) -> float:
    """Time the module's batch insert of ``logs`` (opening the database is not timed)."""

    async def go() -> float:
        async with api.open(path) as db:
            start = time.perf_counter()
            await api.batch(db, logs)
            return time.perf_counter() - start

    return asyncio.run(go())


def module_per_row(api: ModuleApi, path: Path, logs: list[Any]) -> float:
    """Time the module's one-row inserts, each its own transaction."""

    async def go() -> float:
        async with api.open(path) as db:
            start = time.perf_counter()
            for log in logs:
                await api.one(db, log)
            return time.perf_counter() - start

    return asyncio.run(go())


def raw_read(path: Path, agent_id: str, limit: int) -> float:
    """Time fetching the agent's rows as plain tuples."""
    conn = connect(path)
    sql = (
        f"SELECT {', '.join(columns(models().AgentLog))} FROM agent_logs "  # noqa: S608
        "WHERE agent_id = ? ORDER BY rowid LIMIT ? OFFSET 0"
    )
    start = time.perf_counter()
    rows = conn.execute(sql, (agent_id, limit)).fetchall()
    elapsed = time.perf_counter() - start
    conn.close()
    assert len(rows) == limit, len(rows)
    return elapsed


def module_read(api: ModuleApi, path: Path, agent_id: str, limit: int) -> float:
    """Time the module's read of the agent's rows into models."""

    async def go() -> float:
        async with api.open(path) as db:
            start = time.perf_counter()
            logs = await api.read(db, agent_id, limit)
            elapsed = time.perf_counter() - start
        assert len(logs) == limit, len(logs)
        return elapsed

    return asyncio.run(go())


def alternate(
    pair: tuple[Callable[[], float], Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Run raw and module in alternating order for ``rounds`` rounds."""
    samples: dict[str, list[float]] = {"raw": [], "module": []}
    for index in range(rounds):
        order = [("raw", pair[0]), ("module", pair[1])]
        for name, fn in order if index % 2 == 0 else order[::-1]:
            samples[name].append(fn())
    return samples


def batch_samples(api: ModuleApi, work: Path, rows: int, rounds: int) -> dict[str, Any]:
    """Alternate raw and module batch inserts, each into a freshly prepared file.

    Also times ``to_row`` alone on the same models once: the row-building share of an insert.
    """
    path = work / "batch.db"
    agent_id = prepare(path)
    logs = make_logs(agent_id, rows)
    start = time.perf_counter()
    tuples = [log.to_row() for log in logs]
    to_row = time.perf_counter() - start

    def raw() -> float:
        prepare_same(path, agent_id)
        return raw_batch(path, tuples)

    def module() -> float:
        prepare_same(path, agent_id)
        return module_batch(api, path, logs)

    samples: dict[str, Any] = alternate((raw, module), rounds)
    samples["to_row"] = to_row
    return samples


def prepare_same(path: Path, agent_id: str) -> None:
    """Empty the log table of a prepared file and shrink it, keeping the agent (not timed)."""
    conn = connect(path)
    conn.execute("DELETE FROM agent_logs WHERE agent_id = ?", (agent_id,))
    conn.commit()
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def aiosqlite_per_row(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Time aiosqlite alone: one ``execute`` and one ``commit`` per row, awaited."""
    aiosqlite: Any = importlib.import_module("aiosqlite")
    sql = insert_sql(models().AgentLog)

    async def go() -> float:
        async with aiosqlite.connect(path) as conn:
            for pragma in PRAGMAS:
                await conn.execute(pragma)
            start = time.perf_counter()
            for row in rows:
                await conn.execute(sql, row)
                await conn.commit()
            return time.perf_counter() - start

    return asyncio.run(go())


def per_row_samples(api: ModuleApi, work: Path, rows: int, rounds: int) -> dict[str, Any]:
    """Alternate raw and module one-row-per-transaction inserts.

    Once more, aiosqlite alone on the same rows: how much of the gap is its thread hop.
    """
    path = work / "per_row.db"
    agent_id = prepare(path)
    logs = make_logs(agent_id, rows)
    tuples = [log.to_row() for log in logs]

    def raw() -> float:
        prepare_same(path, agent_id)
        return raw_per_row(path, tuples)

    def module() -> float:
        prepare_same(path, agent_id)
        return module_per_row(api, path, logs)

    samples: dict[str, Any] = alternate((raw, module), rounds)
    prepare_same(path, agent_id)
    samples["aiosqlite"] = aiosqlite_per_row(path, tuples)
    return samples


def from_row_seconds(rows: list[tuple[Any, ...]]) -> float:
    """Time ``AgentLog.from_row`` alone over ``rows``: the model-building share of a read."""
    from_row = models().AgentLog.from_row
    start = time.perf_counter()
    for row in rows:
        from_row(row)
    return time.perf_counter() - start


def read_samples(api: ModuleApi, work: Path, rows: int, rounds: int) -> dict[str, Any]:
    """Alternate raw and module reads of ``rows`` rows from one file.

    Also times ``from_row`` alone on the same rows once, to say where a read's time goes.
    """
    path = work / "read.db"
    agent_id = prepare(path)
    tuples = [log.to_row() for log in make_logs(agent_id, rows)]
    raw_batch(path, tuples)
    raw_read(path, agent_id, rows)  # warm the page cache for both
    samples: dict[str, Any] = alternate(
        (lambda: raw_read(path, agent_id, rows), lambda: module_read(api, path, agent_id, rows)),
        rounds,
    )
    samples["from_row"] = from_row_seconds(tuples)
    return samples


def pending_agents(path: Path, count: int) -> list[str]:
    """Create a database holding ``count`` pending agents; return their ids."""
    prepare(path)
    m = models()
    conn = connect(path)
    orch_id = conn.execute("SELECT id FROM orchestrator_agents").fetchone()[0]
    agents = [m.Agent(orchestrator_agent_id=orch_id) for _ in range(count)]
    conn.executemany(insert_sql(m.Agent), [agent.to_row() for agent in agents])
    conn.commit()
    conn.close()
    return [agent.id for agent in agents]


def reset_agents(path: Path) -> None:
    """Put every agent back to pending (not timed)."""
    conn = connect(path)
    conn.execute("UPDATE agents SET status = 'pending', started_at = NULL")
    conn.commit()
    conn.close()


def raw_transitions(path: Path, ids: list[str]) -> float:
    """Time one conditional ``UPDATE ... RETURNING`` and one commit per agent."""
    conn = connect(path)
    sql = (
        "UPDATE agents SET status = 'running', started_at = ? "
        "WHERE id = ? AND status IN ('pending') RETURNING *"
    )
    start = time.perf_counter()
    for agent_id in ids:
        when = datetime.now(UTC).isoformat()
        assert conn.execute(sql, (when, agent_id)).fetchall()
        conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def module_transitions(api: ModuleApi, path: Path, ids: list[str]) -> float:
    """Time the module's ``start_agent`` per agent."""

    async def go() -> float:
        async with api.open(path) as db:
            start = time.perf_counter()
            for agent_id in ids:
                await db.start_agent(agent_id)
            return time.perf_counter() - start

    return asyncio.run(go())


def transition_samples(api: ModuleApi, work: Path, count: int, rounds: int) -> dict[str, Any]:
    """Alternate raw and module status transitions of ``count`` pending agents."""
    path = work / "transitions.db"
    ids = pending_agents(path, count)

    def raw() -> float:
        reset_agents(path)
        return raw_transitions(path, ids)

    def module() -> float:
        reset_agents(path)
        return module_transitions(api, path, ids)

    return alternate((raw, module), rounds)


def version_one_file(api: ModuleApi, path: Path, rows: int) -> None:
    """Make a version-1 database (migration 0001) holding ``rows`` agent logs and parents."""
    path.unlink(missing_ok=True)
    m = models()
    orch = m.OrchestratorAgent(name="bench", metadata={"bench": True})
    agent = m.Agent(orchestrator_agent_id=orch.id, name="bench-agent")
    conn = sqlite3.connect(path)
    conn.executescript(api.migrate.migrations()[1].read_text("utf-8"))
    conn.execute(insert_sql(m.OrchestratorAgent), orch.to_row())
    conn.execute(insert_sql(m.Agent), agent.to_row())
    conn.executemany(insert_sql(m.AgentLog), [log.to_row() for log in make_logs(agent.id, rows)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def check_queries(api: ModuleApi) -> list[str]:
    """Return one query per table of the current schema counting the rows its CHECKs refuse.

    Run on a version-1 file, they cost what evaluating the current schema's CHECKs on every
    stored row costs: work a migration that adds those CHECKs cannot skip.
    """
    from tac_bootstrap import introspect

    schema = introspect.load_schema(api.migrate.SCHEMA_PATH.read_text("utf-8"))
    queries = []
    for name, table in schema.tables.items():
        checks = [check.text for check in table.checks]
        checks += [check.text for column in table.columns for check in column.checks]
        if checks:
            where = " AND ".join(f"({check})" for check in checks)
            queries.append(f"SELECT count(*) FROM {name} WHERE NOT ({where})")  # noqa: S608
    return queries


def migration_samples(api: ModuleApi, work: Path, rows: int, rounds: int) -> dict[str, Any]:
    """Alternate migrating a copy of a version-1 file and ``VACUUM INTO`` of that file.

    Each round also times the current schema's CHECKs evaluated on every row of a fresh copy
    of the version-1 file (its chat table renamed as migration 0002 does), reported as
    ``checks``: copying the data plus checking it is what a rebuild cannot go below.
    """
    source, copy, target = work / "v1.db", work / "v1-copy.db", work / "migrated.db"
    version_one_file(api, source, rows)
    queries = check_queries(api)
    checks: list[float] = []

    def raw() -> float:
        copy.unlink(missing_ok=True)
        conn = sqlite3.connect(source)
        start = time.perf_counter()
        conn.execute("VACUUM INTO ?", (str(copy),))
        elapsed = time.perf_counter() - start
        conn.close()
        shutil.copyfile(source, copy)
        conn = sqlite3.connect(copy)
        conn.execute("ALTER TABLE orchestrator_chats RENAME TO orchestrator_chat")
        conn.commit()
        conn.close()
        conn = sqlite3.connect(copy)
        start = time.perf_counter()
        for query in queries:
            refused = conn.execute(query).fetchone()[0]
            assert refused == 0, (query, refused)
        checks.append(time.perf_counter() - start)
        conn.close()
        return elapsed

    def module() -> float:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, target)
        start = time.perf_counter()
        applied = api.upgrade(target)
        elapsed = time.perf_counter() - start
        assert applied == list(range(2, api.mod.SCHEMA_VERSION + 1)), applied
        return float(elapsed)

    samples: dict[str, Any] = alternate((raw, module), rounds)
    samples["checks"] = checks
    return samples


def tally_error(stats: dict[str, Any], exc: BaseException) -> None:
    """Count one failure as a lock error ('database is locked', busy) or another error."""
    text = f"{type(exc).__name__}: {exc}"
    locked = "locked" in text or "busy" in text
    stats["lock_errors" if locked else "other_errors"] += 1
    stats["first_error"] = stats["first_error"] or text


def writer(path: str, agent_id: str, seconds: float, out: Any) -> None:
    """Write logs in batches of 10 through the module until the time is up; report counts."""
    stats: dict[str, Any] = {
        "written": 0,
        "lock_errors": 0,
        "other_errors": 0,
        "first_error": "",
        "wal_peak": 0,
        "wal_end": 0,
    }
    wal = Path(f"{path}-wal")

    async def go() -> None:
        api = ModuleApi()
        async with api.open(Path(path)) as db:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                batch = make_logs(agent_id, 10)
                try:
                    await api.batch(db, batch)
                    stats["written"] += len(batch)
                except Exception as exc:  # every failure is counted and named
                    tally_error(stats, exc)
                size = wal.stat().st_size if wal.exists() else 0
                stats["wal_peak"] = max(stats["wal_peak"], size)
            stats["wal_end"] = wal.stat().st_size if wal.exists() else 0

    try:
        asyncio.run(go())
    except Exception as exc:  # opening failed: still report, so the parent never waits
        tally_error(stats, exc)
    out.put(("writer", stats))


def reader(path: str, agent_id: str, seconds: float, out: Any) -> None:
    """Read the latest 100 logs through the module until the time is up; report counts."""
    stats: dict[str, Any] = {
        "read": 0,
        "queries": 0,
        "lock_errors": 0,
        "other_errors": 0,
        "first_error": "",
    }

    async def go() -> None:
        api = ModuleApi()
        async with api.open(Path(path)) as db:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    stats["read"] += len(await api.read(db, agent_id, 100, newest=True))
                    stats["queries"] += 1
                except Exception as exc:  # every failure is counted and named
                    tally_error(stats, exc)

    try:
        asyncio.run(go())
    except Exception as exc:  # opening failed: still report, so the parent never waits
        tally_error(stats, exc)
    out.put(("reader", stats))


def concurrent(work: Path, seconds: float, readers: int = 4) -> dict[str, Any]:
    """Run one writer and ``readers`` reader processes on one file; sum what they report."""
    path = work / "concurrent.db"
    agent_id = prepare(path)
    ctx = multiprocessing.get_context("spawn")
    out: Any = ctx.Queue()
    procs = [ctx.Process(target=writer, args=(str(path), agent_id, seconds, out))]
    procs += [
        ctx.Process(target=reader, args=(str(path), agent_id, seconds, out)) for _ in range(readers)
    ]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    w = next(s for kind, s in reports if kind == "writer")
    rs = [s for kind, s in reports if kind == "reader"]
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT count(*) FROM agent_logs").fetchone()[0]
    conn.close()
    return {
        "seconds": seconds,
        "readers": readers,
        "written": w["written"],
        "stored": stored,
        "lost": w["written"] - stored,
        "read": sum(r["read"] for r in rs),
        "queries": sum(r["queries"] for r in rs),
        "lock_errors": w["lock_errors"] + sum(r["lock_errors"] for r in rs),
        "other_errors": w["other_errors"] + sum(r["other_errors"] for r in rs),
        "first_error": next((x["first_error"] for x in [w, *rs] if x["first_error"]), ""),
        "wal_end_bytes": w["wal_end"],
        "wal_peak_bytes": w["wal_peak"],
    }


def guarded(fn: Callable[[], Any]) -> Any:
    """Run one part; turn a failure into ``{"error": ...}`` so the other parts still report."""
    try:
        return fn()
    except Exception as exc:  # reported as "not available"
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str]) -> int:
    """Run every database measurement and print the samples as JSON."""
    work, rows, rounds, per_row, seconds = (
        Path(argv[0]),
        int(argv[1]),
        int(argv[2]),
        int(argv[3]),
        float(argv[4]),
    )
    work.mkdir(parents=True, exist_ok=True)
    try:
        api = ModuleApi()
    except Exception as exc:  # reported as "not available"
        print(json.dumps({"error": f"no database module: {type(exc).__name__}: {exc}"}))
        return 0
    result = {
        "rows": rows,
        "per_row": per_row,
        "batch": guarded(lambda: batch_samples(api, work, rows, rounds)),
        "one_per_transaction": guarded(lambda: per_row_samples(api, work, per_row, rounds)),
        "read": guarded(lambda: read_samples(api, work, rows, rounds)),
        "concurrent": guarded(lambda: concurrent(work, seconds)),
        "transition": guarded(lambda: transition_samples(api, work, per_row, rounds)),
        "migrate": guarded(lambda: migration_samples(api, work, rows, rounds)),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
