"""One contract for every database module: the same tests against SQLite and PostgreSQL.

Each test runs once per backend. SQLite always runs, on a file under tmp_path. PostgreSQL runs
against the server named by ``TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL``, each test in a
PostgreSQL schema of its own that is dropped afterwards; without that variable its tests are
reported as skipped, with the reason, and ``TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES=1``
(set by CI) turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pydantic import ValidationError

from tac_bootstrap.orchestrator import database as sqlite_database
from tac_bootstrap.orchestrator import database_postgres
from tac_bootstrap.orchestrator.database_errors import (
    ConstraintViolationError,
    DatabaseError,
    InvalidFieldError,
    InvalidTransitionError,
    MigrationError,
    NotFoundError,
    SchemaVersionError,
)
from tac_bootstrap.orchestrator.orch_database_models import (
    Agent,
    AgentLog,
    AiDeveloperWorkflow,
    OrchestratorAgent,
    OrchestratorChat,
    Prompt,
    SystemLog,
)

BACKENDS = ["sqlite", "postgres"]
TEST_URL_VAR = "TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL"
REQUIRE_VAR = "TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES"


def postgres_url() -> str:
    """Return the test server's DSN, or skip (fail, where it is required) without one."""
    url = os.environ.get(TEST_URL_VAR)
    if url:
        return url
    reason = f"no PostgreSQL server: set {TEST_URL_VAR} to a DSN to run these tests"
    if os.environ.get(REQUIRE_VAR) == "1":
        pytest.fail(f"{reason} ({REQUIRE_VAR}=1 forbids skipping them)")
    pytest.skip(reason)


@pytest.fixture
async def postgres_schema() -> AsyncIterator[str]:
    """Yield a DSN whose tables live in a new, empty schema; drop the schema afterwards."""
    url = postgres_url()
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        parts = urlsplit(url)  # asyncpg passes unknown DSN parameters on as server settings
        query = "&".join(filter(None, [parts.query, f"search_path={schema}"]))
        yield urlunsplit(parts._replace(query=query))
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await admin.close()


Opener = Callable[[], AbstractAsyncContextManager[Any]]


class Abort(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def opener(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Opener:
    """Return a function that opens one more connection (a pool) to the test's database."""
    if backend == "postgres":
        dsn = request.getfixturevalue("postgres_schema")
        return lambda: database_postgres.Database.open(dsn)
    path = tmp_path / "orchestrator.db"
    return lambda: sqlite_database.Database.open(path)


@pytest.fixture
def module(backend: str) -> ModuleType:
    return database_postgres if backend == "postgres" else sqlite_database


@pytest.fixture
async def db(opener: Opener) -> AsyncIterator[Any]:
    async with opener() as database:
        yield database


@pytest.fixture
async def parents(db: Any) -> tuple[OrchestratorAgent, Agent]:
    orchestrator = await db.create(OrchestratorAgent(name="planner"))
    agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id, name="build-1"))
    return orchestrator, agent


WHEN = datetime(2026, 2, 4, 10, 30, 0, 123456, tzinfo=UTC)
META = {"step": 1, "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}}


async def test_every_model_round_trips(db: Any, parents: tuple[OrchestratorAgent, Agent]) -> None:
    orchestrator, agent = parents
    rows = [
        OrchestratorAgent(name="scout", description="d", status="inactive", metadata=META),
        Agent(orchestrator_agent_id=orchestrator.id, session_id="s-1", model="m", started_at=WHEN),
        Prompt(agent_id=agent.id, content="c", tokens_input=3, tokens_output=4, cost_usd=0.25),
        AgentLog(agent_id=agent.id, log_type="event", message="m", metadata=META),
        SystemLog(log_level="critical", message="m", source="s", metadata=META),
        OrchestratorChat(
            orchestrator_agent_id=orchestrator.id,
            sender_type="user",
            receiver_type="agent",
            message="hello",
            agent_id=agent.id,
            metadata=META,
        ),
        AiDeveloperWorkflow(
            orchestrator_agent_id=orchestrator.id,
            adw_name="plan",
            workflow_type="sdlc",
            total_steps=3,
            input_data=META,
            duration_seconds=1.5,
        ),
    ]
    for row in rows:
        assert await db.create(row) == row
        assert await db.get(type(row), row.id) == row
        assert await db.get(type(row), uuid.UUID(row.id)) == row
        assert await db.get(type(row), row.id.upper()) == row


async def test_get_update_delete_and_not_found(db: Any) -> None:
    row = await db.create(OrchestratorAgent(name="planner", metadata={"a": 1}))
    changed = await db.update(OrchestratorAgent, row.id, description="plans", metadata={"b": [2]})
    assert (changed.description, changed.metadata, changed.name) == ("plans", {"b": [2]}, "planner")
    assert changed.updated_at > row.updated_at
    assert await db.get(OrchestratorAgent, row.id) == changed
    await db.delete(OrchestratorAgent, row.id)
    for call in (
        db.get(OrchestratorAgent, row.id),
        db.delete(OrchestratorAgent, row.id),
        db.update(OrchestratorAgent, row.id, name="x"),
        db.get(OrchestratorAgent, "not-a-uuid"),
    ):
        with pytest.raises(NotFoundError) as info:
            await call
        assert info.value.table == "orchestrator_agents"


async def test_update_refuses_unknown_fields_and_bad_values(db: Any) -> None:
    row = await db.create(OrchestratorAgent(name="planner"))
    with pytest.raises(InvalidFieldError):
        await db.update(OrchestratorAgent, row.id, colour="red")
    with pytest.raises(InvalidFieldError):
        await db.update(OrchestratorAgent, row.id, id=str(uuid.uuid4()))
    with pytest.raises(ValidationError):
        await db.update(OrchestratorAgent, row.id, status="gone")
    assert await db.get(OrchestratorAgent, row.id) == row


async def test_updated_at_is_stamped_when_an_update_leaves_it(db: Any) -> None:
    row = await db.create(OrchestratorAgent(name="planner", updated_at=WHEN))
    changed = await db.update(OrchestratorAgent, row.id, name="p2", updated_at=WHEN)
    assert changed.updated_at > WHEN  # the schema's trigger stamped it


async def test_filters_count_and_pages(db: Any, parents: tuple[OrchestratorAgent, Agent]) -> None:
    orchestrator, _ = parents
    base = datetime.now(UTC) + timedelta(seconds=1)  # after the parent agent, on both backends
    created = []
    for i in range(6):
        agent = Agent(
            orchestrator_agent_id=orchestrator.id,
            name=f"a{i}",
            model=None if i % 2 else "m",
            status="failed" if i % 3 == 0 else "pending",
            created_at=base + timedelta(minutes=i),
        )
        created.append(await db.create(agent))
    assert await db.count(Agent) == 7
    assert await db.count(Agent, model=None) == 4  # the parent agent has no model either
    assert [a.name for a in await db.list_rows(Agent, model="m")] == ["a0", "a2", "a4"]
    assert [a.name for a in await db.list_rows(Agent, status="failed")] == ["a0", "a3"]
    assert await db.list_rows(Agent, status="failed", model="m", name="a3") == []
    page = await db.list_rows(Agent, orchestrator_agent_id=orchestrator.id, limit=2, offset=1)
    assert [a.name for a in page] == ["a0", "a1"]  # the parent agent was created first
    newest = await db.list_rows(Agent, newest_first=True, limit=2)
    assert [a.name for a in newest] == ["a5", "a4"]
    assert await db.list_rows(Agent, orchestrator_agent_id="not-a-uuid") == []
    assert await db.count(Agent, orchestrator_agent_id=uuid.UUID(orchestrator.id)) == 7
    assert len(await db.list_rows(Agent, limit=None)) == 7
    with pytest.raises(InvalidFieldError):
        await db.list_rows(Agent, colour="red")
    with pytest.raises(ValueError, match="must not be negative"):
        await db.list_rows(Agent, limit=-1)


async def test_agent_and_prompt_transitions(
    db: Any, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    started = await db.start_agent(agent.id)
    assert started.status == "running"
    assert started.started_at is not None
    with pytest.raises(InvalidTransitionError) as info:
        await db.start_agent(agent.id)
    assert (info.value.table, info.value.id, info.value.status) == ("agents", agent.id, "running")
    done = await db.complete_agent(agent.id)
    assert done.status == "completed"
    assert done.completed_at is not None
    with pytest.raises(InvalidTransitionError):
        await db.fail_agent(agent.id)
    with pytest.raises(NotFoundError):
        await db.start_agent(str(uuid.uuid4()))

    prompt = await db.create(Prompt(agent_id=agent.id, content="hi"))
    await db.start_prompt(prompt.id)
    finished = await db.complete_prompt(
        prompt.id, response="hello", tokens_input=10, tokens_output=5, cost_usd=0.5
    )
    assert (finished.status, finished.response, finished.tokens_input) == ("completed", "hello", 10)
    failed = await db.fail_prompt((await db.create(Prompt(agent_id=agent.id, content="x"))).id)
    assert failed.status == "failed"
    with pytest.raises(ValidationError):
        await db.complete_prompt(
            (await db.create(Prompt(agent_id=agent.id, content="y"))).id, tokens_input=-1
        )
    usage = await db.agent_usage(agent.id)
    assert (usage.prompt_count, usage.tokens_input, usage.total_tokens) == (3, 10, 15)
    assert usage.cost_usd == 0.5
    assert await db.orchestrator_usage(agent.orchestrator_agent_id) == usage


async def test_workflow_transitions(db: Any) -> None:
    workflow = await db.create(AiDeveloperWorkflow(adw_name="plan", workflow_type="sdlc"))
    started = await db.start_workflow(workflow.id)
    assert started.status == "in_progress"
    failed = await db.fail_workflow(workflow.id, "boom", error_step="build")
    assert (failed.status, failed.error_message, failed.error_count) == ("failed", "boom", 1)
    assert failed.duration_seconds is not None
    assert failed.duration_seconds >= 0
    with pytest.raises(InvalidTransitionError):
        await db.cancel_workflow(workflow.id)
    other = await db.create(AiDeveloperWorkflow(adw_name="plan", workflow_type="sdlc"))
    done = await db.complete_workflow(other.id, output_data={"ok": True})
    assert (done.status, done.output_data, done.duration_seconds) == (
        "completed",
        {"ok": True},
        None,
    )
    third = await db.create(AiDeveloperWorkflow(adw_name="plan", workflow_type="sdlc"))
    assert (await db.cancel_workflow(third.id)).status == "cancelled"


async def log_then_abort(db: Any, message: str) -> None:
    """Write a log inside ``atomic()``, then raise, so that the block rolls back."""
    async with db.atomic():
        await db.create(SystemLog(log_level="info", message=message))
        raise Abort


async def test_atomic_rolls_back_and_nests(db: Any) -> None:
    with pytest.raises(Abort):
        await log_then_abort(db, "lost")
    assert await db.count(SystemLog) == 0
    async with db.atomic():
        await db.create(SystemLog(log_level="info", message="kept"))
        with pytest.raises(Abort):
            await log_then_abort(db, "inner")
    assert [log.message for log in await db.list_rows(SystemLog)] == ["kept"]


async def test_constraint_errors_name_table_column_kind_and_value(
    db: Any, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    orchestrator, agent = parents
    missing = str(uuid.uuid4())
    cases: list[tuple[Any, str, str, object]] = [
        (Agent(orchestrator_agent_id=missing), "orchestrator_agent_id", "FOREIGN KEY", missing),
        (OrchestratorAgent(id=orchestrator.id, name="again"), "id", "PRIMARY KEY", orchestrator.id),
        # Rows the models would refuse, built without validation, as raw data would arrive:
        (
            Agent.model_construct(**{**dict(agent), "id": missing, "status": "lost"}),
            "status",
            "CHECK",
            "lost",
        ),
        (
            OrchestratorAgent.model_construct(
                **{**dict(orchestrator), "id": missing, "name": None}
            ),
            "name",
            "NOT NULL",
            None,
        ),
        (
            Prompt.model_construct(
                **{**dict(Prompt(agent_id=agent.id, content="c")), "cost_usd": float("inf")}
            ),
            "cost_usd",
            "CHECK",
            float("inf"),
        ),
    ]
    for row, column, kind, value in cases:
        with pytest.raises(ConstraintViolationError) as info:
            await db.create(row)
        error = info.value
        assert (error.table, error.column, error.kind, error.value) == (
            type(row).__tablename__,
            column,
            kind,
            value,
        )
        assert error.constraint
    assert await db.count(Agent) == 1
    assert await db.count(Prompt) == 0


async def test_insert_many_is_all_or_nothing(
    db: Any, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    logs = [AgentLog(agent_id=agent.id, log_type="event", message=str(i)) for i in range(500)]
    assert await db.insert_many(logs) == 500
    assert await db.count(AgentLog, agent_id=agent.id) == 500
    assert {log.id for log in await db.list_rows(AgentLog, limit=None)} == {log.id for log in logs}
    missing = str(uuid.uuid4())
    bad = [AgentLog(agent_id=agent.id, log_type="event", message="ok") for _ in range(10)]
    bad.insert(5, AgentLog(agent_id=missing, log_type="error", message="orphan"))
    with pytest.raises(ConstraintViolationError) as info:
        await db.insert_many(bad)
    assert (info.value.column, info.value.kind, info.value.value) == (
        "agent_id",
        "FOREIGN KEY",
        missing,
    )
    assert await db.count(AgentLog) == 500
    assert await db.insert_many([]) == 0
    with pytest.raises(TypeError):
        await db.insert_many([logs[0], SystemLog(log_level="info", message="m")])


async def test_cascades_and_set_null(db: Any, parents: tuple[OrchestratorAgent, Agent]) -> None:
    orchestrator, agent = parents
    await db.create(AgentLog(agent_id=agent.id, log_type="event", message="m"))
    workflow = await db.create(
        AiDeveloperWorkflow(orchestrator_agent_id=orchestrator.id, adw_name="a", workflow_type="b")
    )
    await db.delete(OrchestratorAgent, orchestrator.id)
    assert await db.count(Agent) == 0
    assert await db.count(AgentLog) == 0
    assert (await db.get(AiDeveloperWorkflow, workflow.id)).orchestrator_agent_id is None


WRITERS = 4
BATCHES = 20
BATCH_SIZE = 25
READERS = 4


async def test_writers_and_readers_lose_no_row(
    opener: Opener, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents

    async def write(writer: int) -> None:
        async with opener() as db:
            for batch in range(BATCHES):
                await db.insert_many(
                    AgentLog(agent_id=agent.id, log_type="event", message=f"{writer}-{batch}-{i}")
                    for i in range(BATCH_SIZE)
                )

    async def read(done: asyncio.Event) -> int:
        reads = last = 0
        async with opener() as db:
            while not done.is_set() or reads == 0:
                count = await db.count(AgentLog)
                assert count >= last, f"the count went back from {last} to {count}"
                assert count % BATCH_SIZE == 0, f"saw {count} rows: a batch was half written"
                last, reads = count, reads + 1
                await asyncio.sleep(0.001)
        return reads

    done = asyncio.Event()
    readers = [asyncio.create_task(read(done)) for _ in range(READERS)]
    await asyncio.gather(*(write(w) for w in range(WRITERS)))
    done.set()
    assert all(reads > 0 for reads in await asyncio.gather(*readers))
    async with opener() as db:
        logs = await db.list_rows(AgentLog, limit=None)
    expected = {
        f"{w}-{b}-{i}" for w in range(WRITERS) for b in range(BATCHES) for i in range(BATCH_SIZE)
    }
    assert sorted(log.message for log in logs) == sorted(expected)


async def test_one_database_shared_by_many_tasks(
    db: Any, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents

    async def log(i: int) -> None:
        async with db.atomic():
            await db.log_agent(agent.id, "event", f"m{i}", {"i": i})

    await asyncio.gather(*(log(i) for i in range(50)))
    logs = await db.list_rows(AgentLog, limit=None)
    assert sorted(log.metadata["i"] for log in logs) == list(range(50))


async def test_the_same_public_api(module: ModuleType) -> None:
    names = [
        "Database",
        "UsageTotals",
        "ConnectionSettings",
        "SCHEMA_VERSION",
        "DB_ENV_VAR",
        "statements",
        "TableSql",
        "SQL",
    ]
    assert all(hasattr(module, name) for name in names)
    for error in (NotFoundError, InvalidFieldError, InvalidTransitionError):
        assert getattr(module, error.__name__) is error  # one class for both backends
        assert issubclass(error, DatabaseError)


# PostgreSQL alone: the server itself checks what sync-check checks without one.


async def test_every_postgres_statement_prepares(postgres_schema: str) -> None:
    async with database_postgres.Database.open(postgres_schema) as db:
        statements = list(database_postgres.statements().values())
        assert len(statements) > 50
        async with db._connection() as conn:
            for sql in statements:
                await conn.prepare(sql)


async def test_postgres_migrations_give_the_schema() -> None:
    """Applied in order, the migrations build exactly what the schema file builds."""
    url = postgres_url()
    described = []
    for source in ("schema", "migrations"):
        schema = f"contract_{source}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}")
            if source == "schema":
                await conn.execute(database_postgres.SCHEMA_PATH.read_text(encoding="utf-8"))
            else:
                for script in database_postgres.migrations().values():
                    await conn.execute(script.read_text(encoding="utf-8"))
            described.append(await describe(conn, schema))
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await conn.close()
    assert described[0] == described[1]
    assert list(database_postgres.migrations()) == list(
        range(1, database_postgres.SCHEMA_VERSION + 1)
    )


async def describe(conn: asyncpg.Connection, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Return columns, constraints, indexes and triggers of a schema, for comparison."""
    queries = {
        "columns": "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
        "column_default FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1, 3",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = $1 ORDER BY 1, 2",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = $1 ORDER BY 1, 2",
        "triggers": "SELECT event_object_table, trigger_name, action_statement, action_timing "
        "FROM information_schema.triggers WHERE trigger_schema = $1 ORDER BY 1, 2",
    }
    found = {}
    for name, sql in queries.items():
        rows = await conn.fetch(sql, schema)
        found[name] = [tuple(str(v).replace(schema, "<schema>") for v in row) for row in rows]
    return found


async def test_postgres_applies_the_migrations_an_older_database_lacks(
    postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database_postgres.Database.open(postgres_schema) as db:
        row = await db.create(OrchestratorAgent(name="kept"))
    folder = tmp_path / "migrations_postgres"
    folder.mkdir()
    for script in database_postgres.migrations().values():
        (folder / script.name).write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    known = database_postgres.SCHEMA_VERSION
    (folder / f"{known + 1:04d}_name_index.sql").write_text(
        "CREATE INDEX idx_orchestrator_agents_name ON orchestrator_agents (name);\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(database_postgres, "MIGRATIONS_DIR", folder)
    monkeypatch.setattr(database_postgres, "SCHEMA_VERSION", known + 1)
    async with database_postgres.Database.open(postgres_schema) as db:
        assert (await db.settings()).schema_version == known + 1
        assert await db.get(OrchestratorAgent, row.id) == row
    (folder / f"{known + 2:04d}_broken.sql").write_text(
        "ALTER TABLE nowhere ADD x int;\n", encoding="utf-8"
    )
    monkeypatch.setattr(database_postgres, "SCHEMA_VERSION", known + 2)
    with pytest.raises(MigrationError, match=r"_broken\.sql failed"):
        await database_postgres.upgrade(postgres_schema)
    monkeypatch.setattr(database_postgres, "SCHEMA_VERSION", known + 1)
    async with database_postgres.Database.open(postgres_schema) as db:
        assert (await db.settings()).schema_version == known + 1  # the failed one left no trace
        assert await db.count(OrchestratorAgent) == 1


async def test_postgres_upgrades_a_version_1_database_keeping_its_rows(
    postgres_schema: str,
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    conn = await asyncpg.connect(postgres_schema)
    try:
        await conn.execute(database_postgres._VERSION_TABLE)
        await conn.execute(database_postgres.migrations()[1].read_text(encoding="utf-8"))
        await conn.execute(database_postgres._RECORD_VERSION, 1, "0001_initial.sql")
        await conn.execute(
            "INSERT INTO orchestrator_agents (id, name, created_at, updated_at) "
            "VALUES ($1, 'planner', now(), now())",
            uuid.UUID(ids[0]),
        )
        await conn.execute(
            "INSERT INTO agents (id, orchestrator_agent_id, created_at) VALUES ($1, $2, now())",
            uuid.UUID(ids[1]),
            uuid.UUID(ids[0]),
        )
        await conn.execute(
            "INSERT INTO orchestrator_chats (id, orchestrator_agent_id, sender_type, "
            "receiver_type, message, agent_id, created_at, updated_at) "
            "VALUES ($1, $2, 'user', 'agent', 'hello', $3, now(), now())",
            uuid.UUID(ids[2]),
            uuid.UUID(ids[0]),
            uuid.UUID(ids[1]),
        )
    finally:
        await conn.close()
    assert await database_postgres.upgrade(postgres_schema) == list(
        range(2, database_postgres.SCHEMA_VERSION + 1)
    )
    async with database_postgres.Database.open(postgres_schema) as db:
        chat = await db.get(OrchestratorChat, ids[2])
        assert (chat.message, chat.agent_id) == ("hello", ids[1])
        bad = OrchestratorChat.model_construct(**{**dict(chat), "id": ids[1], "sender_type": "x"})
        with pytest.raises(ConstraintViolationError) as info:
            await db.create(bad)
        assert (info.value.column, info.value.kind) == ("sender_type", "CHECK")
        await db.delete(Agent, ids[1])
        assert (await db.get(OrchestratorChat, ids[2])).agent_id is None  # ON DELETE SET NULL


async def test_postgres_refuses_a_newer_database(postgres_schema: str) -> None:
    async with database_postgres.Database.open(postgres_schema) as db, db._connection() as conn:
        await conn.execute(database_postgres._RECORD_VERSION, 99, "9999_future.sql")
    with pytest.raises(SchemaVersionError) as info:
        async with database_postgres.Database.open(postgres_schema):
            pass
    assert (info.value.found, info.value.known) == (99, database_postgres.SCHEMA_VERSION)


async def test_postgres_message_hides_the_password() -> None:
    url = "postgresql://app:secret@127.0.0.1:1/nowhere"
    assert database_postgres.shown_dsn(url) == "postgresql://app:***@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseError) as info:
        async with database_postgres.Database.open(url, timeout=1.0):
            pass
    assert "secret" not in str(info.value)


def test_postgres_needs_a_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(database_postgres.DB_ENV_VAR, raising=False)
    with pytest.raises(DatabaseError, match=database_postgres.DB_ENV_VAR):
        database_postgres.Database()
    monkeypatch.setenv(database_postgres.DB_ENV_VAR, "postgresql://u@h/d")
    assert database_postgres.Database().dsn == "postgresql://u@h/d"
