"""The database module against real SQLite files: schema, CRUD, constraints, transitions."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from tac_bootstrap.orchestrator.database import (
    DB_ENV_VAR,
    DEFAULT_DB_NAME,
    SCHEMA_VERSION,
    Database,
    resolve_path,
)
from tac_bootstrap.orchestrator.database_errors import (
    ConstraintViolationError,
    DatabaseError,
    InvalidFieldError,
    InvalidRowError,
    InvalidTransitionError,
    NotFoundError,
    SchemaVersionError,
)
from tac_bootstrap.orchestrator.database_migrate import SCHEMA_PATH
from tac_bootstrap.orchestrator.orch_database_models import (
    MODELS,
    Agent,
    AgentLog,
    AiDeveloperWorkflow,
    OrchestratorAgent,
    OrchestratorChat,
    Prompt,
    SystemLog,
    TableModel,
)

M = TypeVar("M", bound=TableModel)


class Abort(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "orchestrator.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    async with Database.open(db_path) as database:
        yield database


@pytest.fixture
async def parents(db: Database) -> tuple[OrchestratorAgent, Agent]:
    orchestrator = await db.create(OrchestratorAgent(name="planner"))
    agent = await db.create(
        Agent(orchestrator_agent_id=orchestrator.id, name="build-1", model="model-small")
    )
    return orchestrator, agent


def full_instance(model: type[M], orchestrator_id: str, agent_id: str) -> M:
    """Return an instance with every field set to a non-default value."""
    when = datetime(2026, 2, 4, 10, 30, 0, 123456, tzinfo=UTC)
    meta = {"step": 1, "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}}
    values: dict[type[TableModel], dict[str, Any]] = {
        OrchestratorAgent: {
            "name": "scout",
            "description": "Scouts",
            "status": "inactive",
            "metadata": meta,
            "updated_at": when,
        },
        Agent: {
            "orchestrator_agent_id": orchestrator_id,
            "session_id": "sess-42",
            "name": "agent",
            "model": "model-large",
            "status": "running",
            "started_at": when,
            "completed_at": when + timedelta(seconds=3),
        },
        Prompt: {
            "agent_id": agent_id,
            "content": "do it",
            "response": "done",
            "status": "completed",
            "tokens_input": 150,
            "tokens_output": 500,
            "cost_usd": 0.02,
            "completed_at": when,
        },
        AgentLog: {"agent_id": agent_id, "log_type": "error", "message": "boom", "metadata": meta},
        SystemLog: {
            "log_level": "critical",
            "message": "disk",
            "source": "orchestrator",
            "metadata": meta,
        },
        OrchestratorChat: {
            "orchestrator_agent_id": orchestrator_id,
            "sender_type": "agent",
            "receiver_type": "user",
            "message": "hi",
            "summary": "greeting",
            "agent_id": agent_id,
            "metadata": meta,
            "updated_at": when,
        },
        AiDeveloperWorkflow: {
            "orchestrator_agent_id": orchestrator_id,
            "adw_name": "adw_sdlc",
            "workflow_type": "feature",
            "description": "ship it",
            "status": "failed",
            "current_step": "test",
            "total_steps": 5,
            "completed_steps": 3,
            "started_at": when,
            "completed_at": when,
            "duration_seconds": 12.5,
            "input_data": {"issue": 3},
            "output_data": {"pr": None},
            "error_message": "red",
            "error_step": "test",
            "error_count": 2,
            "metadata": meta,
            "updated_at": when,
        },
    }
    return model.model_validate({"created_at": when - timedelta(days=1), **values[model]})


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


# --- opening and the schema ---------------------------------------------------------------


async def test_schema_loads_with_every_table_and_version(db: Database, db_path: Path) -> None:
    settings = await db.settings()
    assert settings.journal_mode == "wal"
    assert settings.foreign_keys is True
    assert settings.synchronous == 1  # NORMAL
    assert settings.busy_timeout_ms == 5000
    assert settings.journal_size_limit > 0
    assert settings.wal_autocheckpoint > 0
    assert settings.schema_version == SCHEMA_VERSION
    conn = raw(db_path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {m.__tablename__ for m in MODELS} <= tables
        for model in MODELS:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({model.__tablename__})")]
            assert tuple(columns) == model.columns
    finally:
        conn.close()


def test_schema_script_is_idempotent() -> None:
    script = SCHEMA_PATH.read_text(encoding="utf-8")
    assert script.startswith("PRAGMA ")
    assert f"PRAGMA user_version = {SCHEMA_VERSION};" in script
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(script)
        conn.executescript(script)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        conn.close()


async def test_reopening_keeps_the_data(db_path: Path) -> None:
    async with Database.open(db_path) as db:
        orchestrator = await db.create(OrchestratorAgent(name="planner"))
    async with Database.open(db_path) as db:
        assert await db.get(OrchestratorAgent, orchestrator.id) == orchestrator


async def test_newer_schema_is_refused(db_path: Path) -> None:
    async with Database.open(db_path):
        pass
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaVersionError, match=rf"version {SCHEMA_VERSION + 1} is newer"):
        async with Database.open(db_path):
            pass


async def test_a_file_that_is_no_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database file, just some text" * 100)
    with pytest.raises(Exception, match="not a database"):
        async with Database.open(path):
            pass


async def test_path_comes_from_argument_env_or_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DB_ENV_VAR, raising=False)
    assert resolve_path() == Path(DEFAULT_DB_NAME) == Path("orchestrator.db")
    monkeypatch.setenv(DB_ENV_VAR, str(tmp_path / "from-env.db"))
    async with Database.open() as db:
        assert db.path == tmp_path / "from-env.db"
    assert (tmp_path / "from-env.db").is_file()
    async with Database.open(tmp_path / "given.db") as db:
        assert db.path == tmp_path / "given.db"


async def test_closed_database_says_so(db_path: Path) -> None:
    database = Database(db_path)
    async with database:
        pass
    with pytest.raises(Exception, match="not open"):
        await database.count(AgentLog)


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_every_model_round_trips_through_its_table(
    db_path: Path, model: type[TableModel]
) -> None:
    async with Database.open(db_path) as db:
        orchestrator = await db.create(OrchestratorAgent(name="o"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        row = full_instance(model, orchestrator.id, agent.id)
        assert await db.create(row) == row
        assert await db.get(model, row.id) == row
        assert await db.get(model, uuid.UUID(row.id)) == row
        assert row in await db.list_rows(model, limit=None)
    async with Database.open(db_path) as db:
        again = await db.get(model, row.id)
    assert again == row
    assert again.model_dump() == row.model_dump()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_get_missing_row_raises_not_found(db: Database, model: type[TableModel]) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match=missing) as info:
        await db.get(model, missing)
    assert info.value.table == model.__tablename__
    with pytest.raises(NotFoundError):
        await db.get(model, "not-a-uuid")


async def test_update_changes_only_the_given_fields(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    orchestrator, _ = parents
    updated = await db.update(OrchestratorAgent, orchestrator.id, status="archived")
    assert updated.status == "archived"
    assert (updated.name, updated.created_at) == (orchestrator.name, orchestrator.created_at)
    assert updated.updated_at > orchestrator.updated_at
    assert await db.get(OrchestratorAgent, orchestrator.id) == updated
    again = await db.update(OrchestratorAgent, orchestrator.id, description="d")
    assert (again.status, again.description) == ("archived", "d")
    # Given its stored value, updated_at is stamped by the schema's trigger: what is returned
    # is what is stored.
    kept = await db.update(
        OrchestratorAgent, orchestrator.id, name="renamed", updated_at=again.updated_at
    )
    assert kept.updated_at.microsecond % 1000 == 0  # the trigger stamps milliseconds
    assert await db.get(OrchestratorAgent, orchestrator.id) == kept


async def test_update_refuses_bad_fields_and_values(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    with pytest.raises(InvalidFieldError, match="bogus"):
        await db.update(Agent, agent.id, bogus=1)
    with pytest.raises(InvalidFieldError, match="id"):
        await db.update(Agent, agent.id, id=str(uuid.uuid4()))
    with pytest.raises(ValidationError):
        await db.update(Agent, agent.id, status="bogus")
    with pytest.raises(ValidationError):
        await db.update(Agent, agent.id, orchestrator_agent_id=None)
    with pytest.raises(NotFoundError):
        await db.update(Agent, uuid.uuid4(), status="running")
    assert await db.get(Agent, agent.id) == agent


async def test_delete_removes_and_cascades(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    orchestrator, agent = parents
    chat = await db.create(
        OrchestratorChat(
            orchestrator_agent_id=orchestrator.id,
            sender_type="agent",
            receiver_type="user",
            message="m",
            agent_id=agent.id,
        )
    )
    flow = await db.create(
        AiDeveloperWorkflow(orchestrator_agent_id=orchestrator.id, adw_name="a", workflow_type="w")
    )
    await db.create(Prompt(agent_id=agent.id, content="p"))
    await db.log_agent(agent.id, "event", "e")
    await db.delete(Agent, agent.id)
    assert await db.count(Prompt) == await db.count(AgentLog) == 0
    assert (await db.get(OrchestratorChat, chat.id)).agent_id is None
    with pytest.raises(NotFoundError):
        await db.delete(Agent, agent.id)
    await db.delete(OrchestratorAgent, orchestrator.id)
    assert await db.count(OrchestratorChat) == 0
    assert (await db.get(AiDeveloperWorkflow, flow.id)).orchestrator_agent_id is None


async def test_list_rows_filters_and_paginates(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    logs = [await db.log_agent(agent.id, "error" if i % 2 else "event", f"m{i}") for i in range(6)]
    assert await db.list_rows(AgentLog) == logs
    assert await db.list_rows(AgentLog, limit=2, offset=2) == logs[2:4]
    assert await db.list_rows(AgentLog, newest_first=True, limit=2) == logs[:-3:-1]
    assert await db.list_rows(AgentLog, log_type="error") == logs[1::2]
    assert await db.list_rows(
        AgentLog, agent_id=uuid.UUID(agent.id), log_type="event", message="m2"
    ) == [logs[2]]
    assert await db.list_rows(AgentLog, metadata=None, limit=None) == logs
    assert await db.list_rows(AgentLog, agent_id=str(uuid.uuid4())) == []
    assert await db.count(AgentLog, log_type="error") == 3
    with pytest.raises(InvalidFieldError, match="nope"):
        await db.list_rows(AgentLog, nope=1)
    with pytest.raises(ValueError, match="negative"):
        await db.list_rows(AgentLog, limit=-1)


async def test_a_column_named_model_can_be_filtered_and_updated(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    assert await db.list_rows(Agent, model="model-small") == [agent]
    assert await db.count(Agent, model="other") == 0
    updated = await db.update(Agent, agent.id, model="model-large")
    assert (updated.model, updated.name) == ("model-large", agent.name)


async def test_log_writes_append(db: Database, parents: tuple[OrchestratorAgent, Agent]) -> None:
    _, agent = parents
    entry = await db.log_agent(agent.id, "step_start", "go", {"step": 1})
    system = await db.log_system("warning", "slow", source="bench", metadata={"ms": 12})
    assert await db.get(AgentLog, entry.id) == entry
    assert await db.get(SystemLog, system.id) == system
    assert await db.list_rows(SystemLog, log_level="warning") == [system]


async def test_insert_many_writes_all_rows_in_one_go(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    logs = [
        AgentLog(agent_id=agent.id, log_type="event", message=str(i), metadata={"i": i})
        for i in range(2500)
    ]
    assert await db.insert_many(iter(logs)) == 2500
    assert await db.insert_many([]) == 0
    assert await db.list_rows(AgentLog, limit=None) == logs


async def test_insert_many_refuses_mixed_models(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    rows: list[TableModel] = [
        AgentLog(agent_id=agent.id, log_type="event", message="m"),
        SystemLog(log_level="info", message="m"),
    ]
    with pytest.raises(TypeError, match="one model"):
        await db.insert_many(rows)


# --- constraints -------------------------------------------------------------------------

FOREIGN_KEYS = [
    (Agent, "orchestrator_agent_id", "orchestrator_agents"),
    (Prompt, "agent_id", "agents"),
    (AgentLog, "agent_id", "agents"),
    (OrchestratorChat, "orchestrator_agent_id", "orchestrator_agents"),
    (OrchestratorChat, "agent_id", "agents"),
    (AiDeveloperWorkflow, "orchestrator_agent_id", "orchestrator_agents"),
]


@pytest.mark.parametrize(("model", "column", "parent"), FOREIGN_KEYS, ids=str)
async def test_foreign_key_violation_names_column_and_value(
    db: Database,
    parents: tuple[OrchestratorAgent, Agent],
    model: type[TableModel],
    column: str,
    parent: str,
) -> None:
    orchestrator, agent = parents
    missing = str(uuid.uuid4())
    row = full_instance(model, orchestrator.id, agent.id).model_copy(update={column: missing})
    with pytest.raises(ConstraintViolationError) as info:
        await db.create(row)
    error = info.value
    assert (error.table, error.column, error.kind, error.value) == (
        model.__tablename__,
        column,
        "FOREIGN KEY",
        missing,
    )
    assert parent in str(error)
    assert missing in str(error)
    assert await db.count(model) == (1 if model is Agent else 0)


async def test_foreign_key_violation_on_update(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    missing = str(uuid.uuid4())
    with pytest.raises(ConstraintViolationError, match=missing):
        await db.update(Agent, agent.id, orchestrator_agent_id=missing)
    assert await db.get(Agent, agent.id) == agent


CHECKS = [
    (OrchestratorAgent, "status", "deleted"),
    (Agent, "status", "paused"),
    (Prompt, "status", "done"),
    (Prompt, "tokens_input", -1),
    (Prompt, "tokens_output", -5),
    (Prompt, "cost_usd", -0.01),
    (AgentLog, "log_type", "trace"),
    (SystemLog, "log_level", "fatal"),
    (OrchestratorChat, "sender_type", "robot"),
    (OrchestratorChat, "receiver_type", "robot"),
    (AiDeveloperWorkflow, "status", "paused"),
    (AiDeveloperWorkflow, "total_steps", -1),
    (AiDeveloperWorkflow, "completed_steps", -1),
    (AiDeveloperWorkflow, "error_count", -1),
    (AiDeveloperWorkflow, "duration_seconds", -1.0),
]


@pytest.mark.parametrize(("model", "column", "value"), CHECKS, ids=str)
async def test_check_violation_names_constraint_and_value(
    db: Database,
    parents: tuple[OrchestratorAgent, Agent],
    model: type[TableModel],
    column: str,
    value: object,
) -> None:
    orchestrator, agent = parents
    good = full_instance(model, orchestrator.id, agent.id)
    bad = model.model_construct(**{**dict(good), column: value})  # skips validation
    with pytest.raises(ConstraintViolationError) as info:
        await db.create(bad)
    error = info.value
    assert (error.table, error.column, error.kind, error.value) == (
        model.__tablename__,
        column,
        "CHECK",
        value,
    )
    assert column in error.constraint
    assert repr(value) in str(error)
    with pytest.raises(ConstraintViolationError) as batch:
        await db.insert_many([good, bad])
    assert (batch.value.column, batch.value.value) == (column, value)
    assert await db.count(model) == (1 if model in (OrchestratorAgent, Agent) else 0)


# What the models refuse and reads would choke on, written with raw SQL.
REFUSED_BY_THE_SCHEMA = [
    (Prompt, "cost_usd", float("inf")),
    (AiDeveloperWorkflow, "duration_seconds", float("inf")),
    (AgentLog, "metadata", "[1, 2]"),
    (AgentLog, "metadata", "{not json"),
    (AiDeveloperWorkflow, "input_data", '"text"'),
    (SystemLog, "created_at", "not a time"),
    (SystemLog, "created_at", "now"),
    (Agent, "started_at", "2026-02-30T10:30:00"),
    (OrchestratorChat, "updated_at", "2026-02-04T10:30:00 and more"),
]


@pytest.mark.parametrize(("model", "column", "value"), REFUSED_BY_THE_SCHEMA, ids=str)
async def test_raw_sql_cannot_store_what_the_model_refuses(
    db: Database,
    db_path: Path,
    parents: tuple[OrchestratorAgent, Agent],
    model: type[TableModel],
    column: str,
    value: object,
) -> None:
    orchestrator, agent = parents
    row = await db.create(full_instance(model, orchestrator.id, agent.id))
    with pytest.raises(ValidationError):
        model.validate_row(
            tuple(
                value if c == column else v
                for c, v in zip(model.columns, row.to_row(), strict=True)
            )
        )
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match=f"CHECK constraint failed: .*{column}"):
            conn.execute(
                f"UPDATE {model.__tablename__} SET {column} = ? WHERE id = ?",  # noqa: S608
                (value, row.id),
            )
    finally:
        conn.close()
    assert await db.get(model, row.id) == row


async def test_reading_many_rows_leaves_the_collector_as_it_was(
    db: Database, db_path: Path, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    await db.insert_many(
        AgentLog(agent_id=agent.id, log_type="event", message=str(i)) for i in range(1500)
    )
    assert len(await db.list_rows(AgentLog, limit=None)) == 1500
    assert gc.isenabled()
    gc.disable()
    try:
        await db.list_rows(AgentLog, limit=None)
        assert not gc.isenabled()
    finally:
        gc.enable()
    conn = raw(db_path)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("UPDATE agent_logs SET metadata = '[' WHERE rowid = 1400")
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(InvalidRowError):
        await db.list_rows(AgentLog, limit=None)
    assert gc.isenabled()


async def test_a_row_that_does_not_load_names_table_id_and_column(
    db: Database, db_path: Path
) -> None:
    row = await db.log_system("info", "fine")
    conn = raw(db_path)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")  # as a careless tool might
        conn.execute("UPDATE system_logs SET created_at = 'not a time' WHERE id = ?", (row.id,))
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(InvalidRowError) as info:
        await db.list_rows(SystemLog)
    assert (info.value.table, info.value.id, info.value.column) == (
        "system_logs",
        row.id,
        "created_at",
    )
    assert str(info.value).startswith(f"system_logs row {row.id!r}, column created_at: ")
    with pytest.raises(InvalidRowError):
        await db.get(SystemLog, row.id)


@pytest.mark.parametrize(
    ("column", "value", "stored", "holds"),
    [
        ("cost_usd", "abc", "str", "float"),
        ("tokens_input", "12abc", "str", "int"),
        ("tokens_output", 1.5, "float", "int"),
        ("content", b"\x00", "bytes", "str"),
    ],
)
async def test_a_value_of_the_wrong_type_is_not_loaded(
    db: Database,
    db_path: Path,
    parents: tuple[OrchestratorAgent, Agent],
    column: str,
    value: object,
    stored: str,
    holds: str,
) -> None:
    # The CHECKs do not hold a column to its storage class: raw SQL can store these.
    _, agent = parents
    row = await db.create(Prompt(agent_id=agent.id, content="hi"))
    conn = raw(db_path)
    try:
        conn.execute(f"UPDATE prompts SET {column} = ? WHERE id = ?", (value, row.id))  # noqa: S608
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(InvalidRowError) as info:
        await db.get(Prompt, row.id)
    assert (info.value.table, info.value.id, info.value.column) == ("prompts", row.id, column)
    assert str(info.value).endswith(f"stored as {stored}, the model holds {holds}")


async def test_duplicate_id_and_not_null_are_typed(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    orchestrator, agent = parents
    with pytest.raises(ConstraintViolationError) as info:
        await db.create(orchestrator)
    assert (info.value.column, info.value.kind, info.value.value) == (
        "id",
        "PRIMARY KEY",
        orchestrator.id,
    )
    bad = AgentLog.model_construct(
        **{**dict(AgentLog(agent_id=agent.id, log_type="event", message="m")), "message": None}
    )
    with pytest.raises(ConstraintViolationError) as null:
        await db.create(bad)
    assert (null.value.column, null.value.kind) == ("message", "NOT NULL")


async def test_a_bad_row_in_a_batch_inserts_nothing(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    missing = str(uuid.uuid4())
    logs = [AgentLog(agent_id=agent.id, log_type="event", message=str(i)) for i in range(50)]
    logs.insert(37, AgentLog(agent_id=missing, log_type="event", message="orphan"))
    with pytest.raises(ConstraintViolationError, match=missing):
        await db.insert_many(logs)
    duplicate = [logs[0], logs[1], logs[0]]
    with pytest.raises(ConstraintViolationError) as info:
        await db.insert_many(duplicate)
    assert (info.value.kind, info.value.value) == ("PRIMARY KEY", logs[0].id)
    assert await db.count(AgentLog) == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda agent_id: Prompt(agent_id=agent_id, content="p", tokens_input=2**64),
        lambda agent_id: AgentLog(agent_id=agent_id, log_type="event", message="lone \ud800"),
    ],
)
async def test_values_sqlite_cannot_hold_are_a_database_error(
    db: Database, parents: tuple[OrchestratorAgent, Agent], build: Any
) -> None:
    _, agent = parents
    row = build(agent.id)
    with pytest.raises(DatabaseError, match="cannot be stored"):
        await db.create(row)
    with pytest.raises(DatabaseError, match="cannot be stored"):
        await db.insert_many([row])
    assert await db.count(type(row)) == 0


# --- SQL injection -----------------------------------------------------------------------

NASTY = [
    "'; DROP TABLE agents; --",
    "Robert'); DROP TABLE agent_logs;--",
    '" OR 1=1 --',
    "x' OR '1'='1",
    "?; DELETE FROM prompts WHERE 1=1; ?",
    ":name @name $name %s %(x)s {0} {x}",
    "back\\slash \\' \\\"",
    "nul\x00byte",
    "unicode é ✓ 😀 \u202e",
    "line\nbreak\r\ttab",
    "",
]


@pytest.mark.parametrize("text", NASTY)
async def test_injection_strings_are_stored_verbatim(
    db: Database, parents: tuple[OrchestratorAgent, Agent], text: str
) -> None:
    _, agent = parents
    log = await db.log_agent(agent.id, "event", text, {text: text, "list": [text]})
    prompt = await db.create(Prompt(agent_id=agent.id, content=text, response=text))
    named = await db.create(OrchestratorAgent(name=text, description=text))
    assert (await db.get(AgentLog, log.id)).message == text
    assert await db.get(AgentLog, log.id) == log
    assert await db.get(Prompt, prompt.id) == prompt
    assert await db.list_rows(OrchestratorAgent, name=text) == [named]
    assert await db.list_rows(AgentLog, message=text) == [log]
    updated = await db.update(Agent, agent.id, session_id=text)
    assert (await db.get(Agent, agent.id)).session_id == text == updated.session_id
    assert await db.count(Agent) == 1
    assert await db.count(OrchestratorAgent) == 2


async def test_injection_in_an_id_finds_nothing(db: Database) -> None:
    with pytest.raises(NotFoundError):
        await db.get(Agent, "' OR '1'='1")
    injected: dict[str, Any] = {"status = status OR 1": 1}
    with pytest.raises(InvalidFieldError):
        await db.list_rows(Agent, **injected)


# --- transitions and totals --------------------------------------------------------------


async def test_agent_transitions_stamp_time(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    started = await db.start_agent(agent.id)
    assert started.status == "running"
    assert started.started_at is not None
    assert started.completed_at is None
    with pytest.raises(InvalidTransitionError, match="cannot start from status 'running'"):
        await db.start_agent(agent.id)
    done = await db.complete_agent(agent.id)
    assert done.status == "completed"
    assert done.completed_at is not None
    assert done.completed_at >= started.started_at
    with pytest.raises(InvalidTransitionError):
        await db.fail_agent(agent.id)
    assert await db.get(Agent, agent.id) == done
    other = await db.create(Agent(orchestrator_agent_id=agent.orchestrator_agent_id))
    failed = await db.fail_agent(other.id)
    assert (failed.status, failed.started_at is None, failed.completed_at is not None) == (
        "failed",
        True,
        True,
    )


async def test_prompt_transitions_record_usage(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    prompt = await db.create(Prompt(agent_id=agent.id, content="q"))
    assert (await db.start_prompt(prompt.id)).status == "running"
    done = await db.complete_prompt(
        prompt.id, response="a", tokens_input=10, tokens_output=20, cost_usd=0.5
    )
    assert (done.status, done.response, done.tokens_input, done.tokens_output, done.cost_usd) == (
        "completed",
        "a",
        10,
        20,
        0.5,
    )
    assert done.completed_at is not None
    other = await db.create(Prompt(agent_id=agent.id, content="q2"))
    failed = await db.fail_prompt(other.id, response="error")
    assert (failed.status, failed.response) == ("failed", "error")
    with pytest.raises(InvalidTransitionError):
        await db.complete_prompt(other.id)


async def test_workflow_transitions(db: Database) -> None:
    flow = await db.create(AiDeveloperWorkflow(adw_name="a", workflow_type="w"))
    started = await db.start_workflow(flow.id)
    assert (started.status, started.started_at is not None) == ("in_progress", True)
    done = await db.complete_workflow(flow.id, output_data={"pr": 7})
    assert (done.status, done.output_data) == ("completed", {"pr": 7})
    assert done.duration_seconds is not None
    assert done.duration_seconds >= 0
    second = await db.create(AiDeveloperWorkflow(adw_name="b", workflow_type="w"))
    failed = await db.fail_workflow(second.id, "tests red", error_step="test")
    assert (failed.status, failed.error_message, failed.error_step, failed.error_count) == (
        "failed",
        "tests red",
        "test",
        1,
    )
    assert failed.duration_seconds is None
    third = await db.create(AiDeveloperWorkflow(adw_name="c", workflow_type="w"))
    assert (await db.cancel_workflow(third.id)).status == "cancelled"
    with pytest.raises(InvalidTransitionError):
        await db.start_workflow(third.id)


async def test_usage_totals_per_agent_and_orchestrator(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    orchestrator, agent = parents
    second = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
    other_orchestrator = await db.create(OrchestratorAgent(name="other"))
    stranger = await db.create(Agent(orchestrator_agent_id=other_orchestrator.id))
    for owner, tokens, cost in (
        (agent, 10, 0.25),
        (agent, 5, 0.5),
        (second, 100, 1.0),
        (stranger, 1000, 9.0),
    ):
        await db.create(
            Prompt(
                agent_id=owner.id,
                content="p",
                tokens_input=tokens,
                tokens_output=2 * tokens,
                cost_usd=cost,
            )
        )
    usage = await db.agent_usage(agent.id)
    assert (usage.prompt_count, usage.tokens_input, usage.tokens_output, usage.cost_usd) == (
        2,
        15,
        30,
        0.75,
    )
    assert usage.total_tokens == 45
    total = await db.orchestrator_usage(orchestrator.id)
    assert (total.prompt_count, total.tokens_input, total.cost_usd) == (3, 115, 1.75)
    empty = await db.agent_usage((await db.create(Agent(orchestrator_agent_id=orchestrator.id))).id)
    assert (empty.prompt_count, empty.tokens_input, empty.cost_usd) == (0, 0, 0.0)
    with pytest.raises(NotFoundError):
        await db.agent_usage(uuid.uuid4())
    with pytest.raises(NotFoundError):
        await db.orchestrator_usage(uuid.uuid4())


# --- transactions ------------------------------------------------------------------------


async def test_atomic_commits_or_rolls_back(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    async with db.atomic():
        await db.log_agent(agent.id, "event", "kept")

    async def write_then_abort() -> None:
        async with db.atomic():
            await db.log_agent(agent.id, "event", "lost")
            await db.update(Agent, agent.id, status="running")
            raise Abort

    with pytest.raises(Abort):
        await write_then_abort()
    assert [log.message for log in await db.list_rows(AgentLog)] == ["kept"]
    assert (await db.get(Agent, agent.id)).status == "pending"


async def test_nested_atomic_rolls_back_only_the_inner_block(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents

    async def inner_then_abort() -> None:
        async with db.atomic():
            await db.log_agent(agent.id, "event", "inner")
            raise Abort

    async with db.atomic():
        await db.log_agent(agent.id, "event", "outer")
        with pytest.raises(Abort):
            await inner_then_abort()
    assert [log.message for log in await db.list_rows(AgentLog)] == ["outer"]


async def test_savepoints_nest_to_any_depth(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents

    async def middle_then_abort() -> None:
        async with db.atomic():
            await db.log_agent(agent.id, "event", "middle")
            async with db.atomic():
                await db.log_agent(agent.id, "event", "inner")
            raise Abort

    async with db.atomic():
        await db.log_agent(agent.id, "event", "outer")
        with pytest.raises(Abort):
            await middle_then_abort()
        async with db.atomic():
            await db.log_agent(agent.id, "event", "after")
    assert [log.message for log in await db.list_rows(AgentLog)] == ["outer", "after"]


async def test_other_tasks_wait_for_an_open_transaction(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents
    entered = asyncio.Event()

    async def doomed() -> None:
        async with db.atomic():
            await db.log_agent(agent.id, "event", "doomed")
            entered.set()
            await asyncio.sleep(0.05)
            raise Abort

    async def bystander() -> None:
        await entered.wait()
        await db.log_agent(agent.id, "event", "kept")

    results = await asyncio.gather(doomed(), bystander(), return_exceptions=True)
    assert isinstance(results[0], Abort)
    assert results[1] is None
    assert [log.message for log in await db.list_rows(AgentLog)] == ["kept"]


async def test_many_tasks_sharing_one_database_lose_nothing(
    db: Database, parents: tuple[OrchestratorAgent, Agent]
) -> None:
    _, agent = parents

    async def writer(n: int) -> None:
        for i in range(20):
            if i % 5 == 0:
                await db.insert_many(
                    [
                        AgentLog(agent_id=agent.id, log_type="event", message=f"{n}-{i}-{k}")
                        for k in range(10)
                    ]
                )
            else:
                await db.log_agent(agent.id, "event", f"{n}-{i}")

    await asyncio.gather(*(writer(n) for n in range(8)))
    assert await db.count(AgentLog) == 8 * (16 + 4 * 10)
