"""Async access to the tac-bootstrap orchestrator database: SQLite through aiosqlite.

Open a database as an async context manager; every method returns model instances of
``orch_database_models`` (or a small result model), never raw rows::

    from tac_bootstrap.orchestrator.database import Database
    from tac_bootstrap.orchestrator.orch_database_models import Agent, AgentLog, OrchestratorAgent

    async with Database.open("orchestrator.db") as db:
        orchestrator = await db.create(OrchestratorAgent(name="planner"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        agent = await db.start_agent(agent.id)
        await db.insert_many(AgentLog(agent_id=agent.id, log_type="event", message=str(i))
                             for i in range(1000))
        logs = await db.list_rows(AgentLog, agent_id=agent.id, limit=None)

The path is the argument, else the environment variable ``TAC_BOOTSTRAP_ORCHESTRATOR_DB``, else
``orchestrator.db`` in the working directory. The first open applies ``schema_orchestrator.sql``
(found next to this module); a file of an older version is migrated by the scripts of
``migrations/`` (after a backup copy, unless ``backup=False``); a database whose
``PRAGMA user_version`` is newer than ``SCHEMA_VERSION`` is refused with
``SchemaVersionError``. Every connection sets WAL, ``foreign_keys=ON``, a busy timeout,
``synchronous=NORMAL`` and bounds the WAL file.

Public API (``M`` is any model class of ``MODELS``; ids are ``str`` or ``uuid.UUID``):

* ``Database.open(path=None, *, timeout=5.0)``: async context manager yielding an open
  ``Database``; or ``async with Database(path) as db``; or ``await db.connect()`` and
  ``await db.close()``. ``timeout`` is the busy timeout in seconds. ``db.path`` is the file.
* ``create(row: M) -> M``; ``get(model: type[M], id) -> M`` (``NotFoundError``);
  ``list_rows(model, /, *, limit=100, offset=0, newest_first=False, **filters) -> list[M]``
  (equality filters on columns, ``None`` matches NULL, ``limit=None`` for all rows, insertion
  order); ``count(model, /, **filters) -> int``; ``update(model, id, /, **fields) -> M``
  (changes the given fields only, validated by the model; stamps ``updated_at``);
  ``delete(model, id)``. ``model`` and ``id`` are positional-only where columns are keywords.
* ``insert_many(rows: Iterable[M]) -> int``: many rows of one model in one transaction (the
  fast path for logs); ``log_agent(agent_id, log_type, message, metadata=None) -> AgentLog``;
  ``log_system(log_level, message, *, source=None, metadata=None) -> SystemLog``.
* Status transitions that stamp the time: ``start_agent(id)``, ``complete_agent(id)``,
  ``fail_agent(id)`` -> Agent; ``start_prompt(id)``, ``complete_prompt(id, *, response=None,
  tokens_input=None, tokens_output=None, cost_usd=None)``, ``fail_prompt(id, *, response=None)``
  -> Prompt; ``start_workflow(id)``, ``complete_workflow(id, *, output_data=None)``,
  ``fail_workflow(id, error_message, *, error_step=None)``, ``cancel_workflow(id)`` ->
  AiDeveloperWorkflow. Start needs ``pending``; complete, fail and cancel need ``pending``
  or ``running``/``in_progress``; any other state raises ``InvalidTransitionError``.
* ``agent_usage(agent_id)`` and ``orchestrator_usage(orchestrator_agent_id)`` -> ``UsageTotals``
  (prompt_count, tokens_input, tokens_output, cost_usd).
* ``settings() -> ConnectionSettings``: journal mode, synchronous, foreign_keys, busy timeout,
  WAL bounds and schema version, as SQLite reports them for this connection.
* ``atomic()``: async context manager; one transaction (``BEGIN IMMEDIATE``), a savepoint
  when nested. Other tasks sharing the ``Database`` wait until it ends; do not hand the same
  ``Database`` to tasks you start inside it.

Speed: ``insert_many`` builds the rows with ``TableModel.to_row()`` (no ``model_dump``) and
runs one ``executemany`` in one transaction; reads build models with ``TableModel.from_row()``,
which trusts rows of this schema instead of validating them again. A ``Database`` belongs to
the event loop that opened it; open one per process (or per writer task, for parallel writes).

Errors: ``DatabaseError`` and its subclasses ``NotFoundError``, ``ConstraintViolationError``
(``table``, ``column``, ``kind``, ``constraint``, ``value``), ``SchemaVersionError``,
``InvalidTransitionError`` and ``InvalidFieldError``. Invalid field values raise pydantic's
``ValidationError`` before anything reaches SQLite. Only bound parameters reach SQL.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite
from pydantic import BaseModel, ConfigDict

from .orch_database_models import (
    MODELS,
    Agent,
    AgentLog,
    AiDeveloperWorkflow,
    LogLevel,
    LogType,
    OrchestratorAgent,
    OrchestratorChat,
    Prompt,
    SystemLog,
    TableModel,
    canonical_uuid,
    dump_json,
    utc_now,
)

SCHEMA_VERSION = 2
"""The ``PRAGMA user_version`` that ``schema_orchestrator.sql`` sets and this module knows."""
DB_ENV_VAR = "TAC_BOOTSTRAP_ORCHESTRATOR_DB"
"""Environment variable naming the database file when no path is given."""
DEFAULT_DB_NAME = "orchestrator.db"
"""The database file used when neither a path nor the environment variable is given."""
SCHEMA_PATH = Path(__file__).with_name("schema_orchestrator.sql")
"""The schema applied on first open."""
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""``NNNN_<slug>.sql`` scripts: migration N brings a version N-1 database to version N."""

M = TypeVar("M", bound=TableModel)

# Per connection: WAL lets readers run beside the one writer; NORMAL is durable across
# application crashes in WAL mode; the checkpoint threshold (pages) and journal_size_limit
# (bytes, applied after each checkpoint) keep the -wal file bounded.
_CONNECTION_PRAGMAS = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA wal_autocheckpoint = 1000;
PRAGMA journal_size_limit = 67108864;
"""
_SETTINGS = (
    "PRAGMA journal_mode",
    "PRAGMA synchronous",
    "PRAGMA foreign_keys",
    "PRAGMA busy_timeout",
    "PRAGMA journal_size_limit",
    "PRAGMA wal_autocheckpoint",
    "PRAGMA user_version",
)
_OLDEST_FIRST = " ORDER BY rowid LIMIT ? OFFSET ?"
_NEWEST_FIRST = " ORDER BY rowid DESC LIMIT ? OFFSET ?"
_AGENT_USAGE = (
    "SELECT count(*), coalesce(sum(tokens_input), 0), coalesce(sum(tokens_output), 0), "
    "coalesce(sum(cost_usd), 0.0) FROM prompts WHERE agent_id = ?"
)
_ORCHESTRATOR_USAGE = (
    "SELECT count(prompts.id), coalesce(sum(prompts.tokens_input), 0), "
    "coalesce(sum(prompts.tokens_output), 0), coalesce(sum(prompts.cost_usd), 0.0) "
    "FROM prompts JOIN agents ON agents.id = prompts.agent_id "
    "WHERE agents.orchestrator_agent_id = ?"
)


@dataclass(frozen=True)
class _TableSql:
    """The fixed statements of one table; columns in model field order."""

    insert: str
    select: str
    get: str
    update: str
    delete: str
    count: str


_SQL: dict[type[TableModel], _TableSql] = {
    OrchestratorAgent: _TableSql(
        insert=(
            "INSERT INTO orchestrator_agents (id, name, description, status, metadata, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ),
        select=(
            "SELECT id, name, description, status, metadata, created_at, updated_at"
            " FROM orchestrator_agents"
        ),
        get=(
            "SELECT id, name, description, status, metadata, created_at, updated_at"
            " FROM orchestrator_agents WHERE id = ?"
        ),
        update=(
            "UPDATE orchestrator_agents SET name = ?, description = ?, status = ?, metadata = ?, "
            "created_at = ?, updated_at = ? WHERE id = ?"
        ),
        delete="DELETE FROM orchestrator_agents WHERE id = ?",
        count="SELECT count(*) FROM orchestrator_agents",
    ),
    Agent: _TableSql(
        insert=(
            "INSERT INTO agents (id, orchestrator_agent_id, session_id, name, model, status, "
            "created_at, started_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        select=(
            "SELECT id, orchestrator_agent_id, session_id, name, model, status, created_at, "
            "started_at, completed_at FROM agents"
        ),
        get=(
            "SELECT id, orchestrator_agent_id, session_id, name, model, status, created_at, "
            "started_at, completed_at FROM agents WHERE id = ?"
        ),
        update=(
            "UPDATE agents SET orchestrator_agent_id = ?, session_id = ?, name = ?, model = ?, "
            "status = ?, created_at = ?, started_at = ?, completed_at = ? WHERE id = ?"
        ),
        delete="DELETE FROM agents WHERE id = ?",
        count="SELECT count(*) FROM agents",
    ),
    Prompt: _TableSql(
        insert=(
            "INSERT INTO prompts (id, agent_id, content, response, status, tokens_input, "
            "tokens_output, cost_usd, created_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)"
        ),
        select=(
            "SELECT id, agent_id, content, response, status, tokens_input, tokens_output, "
            "cost_usd, created_at, completed_at FROM prompts"
        ),
        get=(
            "SELECT id, agent_id, content, response, status, tokens_input, tokens_output, "
            "cost_usd, created_at, completed_at FROM prompts WHERE id = ?"
        ),
        update=(
            "UPDATE prompts SET agent_id = ?, content = ?, response = ?, status = ?, "
            "tokens_input = ?, tokens_output = ?, cost_usd = ?, created_at = ?, completed_at = ?"
            " WHERE id = ?"
        ),
        delete="DELETE FROM prompts WHERE id = ?",
        count="SELECT count(*) FROM prompts",
    ),
    AgentLog: _TableSql(
        insert=(
            "INSERT INTO agent_logs (id, agent_id, log_type, message, metadata, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        ),
        select="SELECT id, agent_id, log_type, message, metadata, created_at FROM agent_logs",
        get=(
            "SELECT id, agent_id, log_type, message, metadata, created_at FROM agent_logs"
            " WHERE id = ?"
        ),
        update=(
            "UPDATE agent_logs SET agent_id = ?, log_type = ?, message = ?, metadata = ?, "
            "created_at = ? WHERE id = ?"
        ),
        delete="DELETE FROM agent_logs WHERE id = ?",
        count="SELECT count(*) FROM agent_logs",
    ),
    SystemLog: _TableSql(
        insert=(
            "INSERT INTO system_logs (id, log_level, message, source, metadata, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        ),
        select="SELECT id, log_level, message, source, metadata, created_at FROM system_logs",
        get=(
            "SELECT id, log_level, message, source, metadata, created_at FROM system_logs"
            " WHERE id = ?"
        ),
        update=(
            "UPDATE system_logs SET log_level = ?, message = ?, source = ?, metadata = ?, "
            "created_at = ? WHERE id = ?"
        ),
        delete="DELETE FROM system_logs WHERE id = ?",
        count="SELECT count(*) FROM system_logs",
    ),
    OrchestratorChat: _TableSql(
        insert=(
            "INSERT INTO orchestrator_chat (id, orchestrator_agent_id, sender_type, "
            "receiver_type, message, summary, agent_id, metadata, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        select=(
            "SELECT id, orchestrator_agent_id, sender_type, receiver_type, message, summary, "
            "agent_id, metadata, created_at, updated_at FROM orchestrator_chat"
        ),
        get=(
            "SELECT id, orchestrator_agent_id, sender_type, receiver_type, message, summary, "
            "agent_id, metadata, created_at, updated_at FROM orchestrator_chat WHERE id = ?"
        ),
        update=(
            "UPDATE orchestrator_chat SET orchestrator_agent_id = ?, sender_type = ?, "
            "receiver_type = ?, message = ?, summary = ?, agent_id = ?, metadata = ?, "
            "created_at = ?, updated_at = ? WHERE id = ?"
        ),
        delete="DELETE FROM orchestrator_chat WHERE id = ?",
        count="SELECT count(*) FROM orchestrator_chat",
    ),
    AiDeveloperWorkflow: _TableSql(
        insert=(
            "INSERT INTO ai_developer_workflows (id, orchestrator_agent_id, adw_name, "
            "workflow_type, description, status, current_step, total_steps, completed_steps, "
            "started_at, completed_at, duration_seconds, input_data, output_data, error_message, "
            "error_step, error_count, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        select=(
            "SELECT id, orchestrator_agent_id, adw_name, workflow_type, description, status, "
            "current_step, total_steps, completed_steps, started_at, completed_at, "
            "duration_seconds, input_data, output_data, error_message, error_step, error_count, "
            "metadata, created_at, updated_at FROM ai_developer_workflows"
        ),
        get=(
            "SELECT id, orchestrator_agent_id, adw_name, workflow_type, description, status, "
            "current_step, total_steps, completed_steps, started_at, completed_at, "
            "duration_seconds, input_data, output_data, error_message, error_step, error_count, "
            "metadata, created_at, updated_at FROM ai_developer_workflows WHERE id = ?"
        ),
        update=(
            "UPDATE ai_developer_workflows SET orchestrator_agent_id = ?, adw_name = ?, "
            "workflow_type = ?, description = ?, status = ?, current_step = ?, total_steps = ?, "
            "completed_steps = ?, started_at = ?, completed_at = ?, duration_seconds = ?, "
            "input_data = ?, output_data = ?, error_message = ?, error_step = ?, "
            "error_count = ?, metadata = ?, created_at = ?, updated_at = ? WHERE id = ?"
        ),
        delete="DELETE FROM ai_developer_workflows WHERE id = ?",
        count="SELECT count(*) FROM ai_developer_workflows",
    ),
}
_BY_TABLE: dict[str, type[TableModel]] = {model.__tablename__: model for model in MODELS}
_KINDS = {
    "SQLITE_CONSTRAINT_FOREIGNKEY": "FOREIGN KEY",
    "SQLITE_CONSTRAINT_CHECK": "CHECK",
    "SQLITE_CONSTRAINT_NOTNULL": "NOT NULL",
    "SQLITE_CONSTRAINT_UNIQUE": "UNIQUE",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "PRIMARY KEY",
}
# What SQLite, or binding a value for it, raises besides constraint violations: a string with
# a lone surrogate is not UTF-8, an int beyond 64 bits is no SQLite INTEGER.
_FAILURES = (sqlite3.Error, UnicodeEncodeError, OverflowError)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_MIGRATION_NAME = re.compile(r"(\d{4})_\w+\.sql")


class DatabaseError(Exception):
    """Base of every error this module raises on purpose."""


class NotFoundError(DatabaseError, LookupError):
    """No row of that table has that id."""

    def __init__(self, table: str, row_id: object) -> None:
        self.table = table
        self.id = row_id
        super().__init__(f"{table}: no row with id {row_id!r}")


class ConstraintViolationError(DatabaseError):
    """SQLite refused a row: which table, column, kind of constraint, constraint and value."""

    def __init__(
        self, table: str, column: str | None, kind: str, constraint: str, value: object
    ) -> None:
        self.table = table
        self.column = column
        self.kind = kind
        self.constraint = constraint
        self.value = value
        where = f"{table}.{column}" if column else table
        super().__init__(f"{where}: {kind} constraint failed ({constraint}) for value {value!r}")


class SchemaVersionError(DatabaseError):
    """The database's schema is newer than this module knows."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        self.path = path
        self.found = found
        self.known = known
        super().__init__(
            f"{path}: schema version {found} is newer than version {known}, the "
            "newest this database module knows; use a newer release to open it"
        )


class MigrationError(DatabaseError):
    """A migration failed; the database keeps the version and the rows it had before it."""


class InvalidTransitionError(DatabaseError):
    """A status transition was asked of a row whose status does not allow it."""

    def __init__(
        self, table: str, row_id: str, action: str, status: str, allowed: Sequence[str]
    ) -> None:
        self.table = table
        self.id = row_id
        self.status = status
        super().__init__(
            f"{table} {row_id}: cannot {action} from status {status!r} "
            f"(allowed from: {', '.join(allowed)})"
        )


class InvalidFieldError(DatabaseError, ValueError):
    """A filter or update named a field the model does not have (or may not change)."""

    def __init__(self, model: type[TableModel], names: Iterable[str]) -> None:
        super().__init__(
            f"{model.__name__} has no field(s) {', '.join(sorted(names))} that "
            f"can be used here; fields: {', '.join(model.columns)}"
        )


class UsageTotals(BaseModel):
    """Prompt count, token and cost totals of an agent or of an orchestrator agent."""

    model_config = ConfigDict(frozen=True)

    prompt_count: int
    tokens_input: int
    tokens_output: int
    cost_usd: float

    @property
    def total_tokens(self) -> int:
        """Return input plus output tokens."""
        return self.tokens_input + self.tokens_output


class ConnectionSettings(BaseModel):
    """What a connection runs with, as SQLite reports it (see ``Database.settings``)."""

    model_config = ConfigDict(frozen=True)

    journal_mode: str
    synchronous: int
    foreign_keys: bool
    busy_timeout_ms: int
    journal_size_limit: int
    wal_autocheckpoint: int
    schema_version: int


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the database file: ``path``, else the environment variable, else the default."""
    if path is None:
        path = os.environ.get(DB_ENV_VAR) or DEFAULT_DB_NAME
    return Path(path)


def schema_statements(script: str | None = None) -> list[str]:
    """Split the schema script (by default the file next to this module) into statements."""
    text = SCHEMA_PATH.read_text(encoding="utf-8") if script is None else script
    statements, pending = [], ""
    for line in text.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements


def migrations() -> dict[int, Path]:
    """Return the migration scripts of ``MIGRATIONS_DIR`` by number, in order."""
    found = {}
    for script in MIGRATIONS_DIR.iterdir():
        match = _MIGRATION_NAME.fullmatch(script.name)
        if match:
            found[int(match[1])] = script
    return dict(sorted(found.items()))


def upgrade(
    path: str | os.PathLike[str], *, backup: bool = True, timeout: float = 5.0
) -> list[int]:
    """Bring a database file to ``SCHEMA_VERSION``; return the migrations applied.

    An empty file gets the schema. A file at an older version gets each later migration in
    its own transaction, after a copy of the file is saved as ``<name>.v<version>.bak``
    (unless ``backup`` is false). Several processes may upgrade the same file at once: each
    step re-reads the version under the write lock, so every migration runs once.

    Raises:
        SchemaVersionError: The file is newer than this module.
        MigrationError: A migration failed; the file keeps its previous version and rows.
        DatabaseError: The file cannot be opened as a SQLite database.
    """
    path = Path(path)
    applied: list[int] = []
    try:
        with closing(sqlite3.connect(path, timeout=timeout, isolation_level=None)) as conn:
            version = _user_version(conn)
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(path, version, SCHEMA_VERSION)
            if version == 0:
                _create_schema(conn)
            elif version < SCHEMA_VERSION:
                if backup:
                    _backup(conn, path, version)
                while (number := _migrate_once(conn, path)) is not None:
                    applied.append(number)
    except sqlite3.Error as exc:
        msg = f"{path}: {exc}"
        raise DatabaseError(msg) from exc
    return applied


def _user_version(conn: sqlite3.Connection) -> int:
    """Return the schema version stored in the database file."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _create_schema(conn: sqlite3.Connection) -> None:
    """Apply the schema to a new database, in one write transaction."""
    conn.execute("PRAGMA journal_mode = WAL")  # cannot change inside a transaction
    with _write_transaction(conn):
        if _user_version(conn) == 0:  # another process may have done it meanwhile
            for statement in schema_statements():
                conn.execute(statement)


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Copy the database to a new ``<name>.v<version>[.<n>].bak`` file beside it."""
    target = path.with_name(f"{path.name}.v{version}.bak")
    count = 1
    while target.exists():
        count += 1
        target = path.with_name(f"{path.name}.v{version}.{count}.bak")
    conn.execute("VACUUM INTO ?", (str(target),))
    return target


def _migrate_once(conn: sqlite3.Connection, path: Path) -> int | None:
    """Apply the next migration, as SQLite documents for schema changes; None if current.

    Foreign keys are off during the step (the pragma is a no-op inside a transaction), so
    that rebuilding a parent table cannot cascade into its children; the step commits only
    if ``PRAGMA foreign_key_check`` then finds no broken reference.
    """
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with _write_transaction(conn):
            number = _user_version(conn) + 1  # re-read: another process may have migrated
            if number > SCHEMA_VERSION:
                return None
            _run_migration(conn, path, number)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                msg = f"{path}: migration {number:04d} leaves broken foreign keys: {broken[:3]}"
                raise MigrationError(msg)
            conn.execute(f"PRAGMA user_version = {number:d}")
        return number
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _run_migration(conn: sqlite3.Connection, path: Path, number: int) -> None:
    """Run the statements of one migration script on an open transaction."""
    script = migrations().get(number)
    if script is None:
        msg = f"{path}: no migration {number:04d} in {MIGRATIONS_DIR}"
        raise MigrationError(msg)
    for statement in schema_statements(script.read_text(encoding="utf-8")):
        try:
            conn.execute(statement)
        except sqlite3.Error as exc:
            short = " ".join(statement.split())[:80]
            msg = f"{path}: migration {script.name} failed at {short!r}: {exc}"
            raise MigrationError(msg) from exc


@contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in a ``BEGIN IMMEDIATE`` transaction; roll back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _spec(model: type[TableModel]) -> _TableSql:
    """Return the statements of a model's table."""
    try:
        return _SQL[model]
    except KeyError:
        msg = f"{model.__name__} is not one of the orchestrator table models"
        raise TypeError(msg) from None


def _row_id(model: type[TableModel], row_id: object) -> str:
    """Return an id as its canonical string; an id that is no UUID names no row."""
    try:
        return canonical_uuid(row_id)
    except ValueError:
        raise NotFoundError(model.__tablename__, row_id) from None


def _param(value: object) -> object:
    """Convert a filter value to what its column stores."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return dump_json(value)
    return value


def _where(model: type[TableModel], filters: Mapping[str, object]) -> tuple[str, list[object]]:
    """Build a WHERE clause of equality filters from validated column names only."""
    unknown = set(filters) - set(model.columns)
    if unknown:
        raise InvalidFieldError(model, unknown)
    if not filters:
        return "", []
    terms = [
        f"{name} IS NULL" if value is None else f"{name} = ?" for name, value in filters.items()
    ]
    params = [_param(value) for value in filters.values() if value is not None]
    return " WHERE " + " AND ".join(terms), params


@contextmanager
def _collector_paused(count: int) -> Iterator[None]:
    """Pause the cyclic garbage collector while a loop that never yields makes many objects.

    Each row or model brings new container objects; while thousands are made, the collector
    keeps rescanning them (up to half of the time of a large read). None of them can be
    garbage yet, so pausing it for such a loop only saves time.
    """
    if count < 1000 or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _models(model: type[M], rows: Sequence[Sequence[object]]) -> list[M]:
    """Build models from rows of their table."""
    from_row = model.from_row
    with _collector_paused(len(rows)):
        return [from_row(row) for row in rows]


def _duration(started: datetime | None, ended: datetime) -> float | None:
    """Return seconds between two times (a naive time counts as UTC), never negative."""
    if started is None:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(0.0, (ended - started).total_seconds())


class Database:
    """An open orchestrator database: one aiosqlite connection, shared safely by tasks.

    Args:
        path: The database file; default: ``$TAC_BOOTSTRAP_ORCHESTRATOR_DB``, else
            ``orchestrator.db``.
        timeout: Seconds to wait for another connection's write lock (the busy timeout).
        backup: Before migrating an older file, save a copy of it (see ``upgrade``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 5.0,
        backup: bool = True,
    ) -> None:
        self.path = resolve_path(path)
        self.timeout = timeout
        self.backup = backup
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 5.0,
        backup: bool = True,
    ) -> AsyncIterator[Self]:
        """Open the database for the ``async with`` block, applying the schema if needed.

        Raises:
            SchemaVersionError: The database is newer than this module.
            DatabaseError: The file cannot be opened as a SQLite database.
        """
        db = cls(path, timeout=timeout, backup=backup)
        await db.connect()
        try:
            yield db
        finally:
            await db.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection, configure it and bring the schema up to date (``upgrade``).

        Raises:
            SchemaVersionError: The database is newer than this module.
            MigrationError: A migration failed; the file is left as it was.
            DatabaseError: The file cannot be opened as a SQLite database.
        """
        if sqlite3.sqlite_version_info < (3, 35, 0):
            msg = f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed"
            raise DatabaseError(msg)
        # Checked here because aiosqlite, when its connect fails, leaves its worker thread to
        # stop on its own, which may outlive the event loop and fail loudly.
        if not self.path.parent.is_dir():
            msg = f"{self.path}: unable to open database file: no folder {self.path.parent}"
            raise DatabaseError(msg)
        try:
            await asyncio.to_thread(upgrade, self.path, backup=self.backup, timeout=self.timeout)
            self._conn = await aiosqlite.connect(
                self.path, timeout=self.timeout, isolation_level=None
            )
            await self._conn.executescript(_CONNECTION_PRAGMAS)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from exc
            raise

    async def close(self) -> None:
        """Close the connection (again is harmless)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def settings(self) -> ConnectionSettings:
        """Return the connection's journal mode, sync level, busy timeout and schema version."""
        values = [(await self._fetch(sql, ()))[0][0] for sql in _SETTINGS]
        return ConnectionSettings.model_validate(
            dict(zip(ConnectionSettings.model_fields, values, strict=True))
        )

    def _connection(self) -> aiosqlite.Connection:
        """Return the open connection.

        Raises:
            DatabaseError: The database is not open.
        """
        if self._conn is None:
            msg = f"{self.path}: the database is not open"
            raise DatabaseError(msg)
        return self._conn

    def _error(self, exc: Exception) -> DatabaseError:
        """Turn an unexpected SQLite error into a DatabaseError naming the file."""
        if isinstance(exc, UnicodeEncodeError | OverflowError):
            return DatabaseError(f"{self.path}: a value cannot be stored in SQLite: {exc}")
        return DatabaseError(f"{self.path}: {exc}")

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the connection for one operation; inside ``atomic()`` its task goes straight on."""
        if self._owner is asyncio.current_task():
            yield self._connection()
            return
        async with self._lock:
            yield self._connection()

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """Run the block in one transaction, rolled back if it raises; nested: a savepoint.

        The transaction starts with ``BEGIN IMMEDIATE``, taking the write lock at once, so
        that it cannot fail half way because another connection wrote first.
        """
        if self._owner is asyncio.current_task():
            async with self._savepoint():
                yield
            return
        async with self._lock:
            self._owner = asyncio.current_task()
            try:
                async with self._transaction():
                    yield
            finally:
                self._owner = None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """Begin, then commit, or roll back on any exception (also a failed commit)."""
        conn = self._connection()
        try:
            await conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield
            await conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise self._error(exc) from exc
            raise

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[None]:
        """Run a nested block as a savepoint of the open transaction."""
        conn = self._connection()
        self._depth += 1
        name = f"nested_{self._depth}"
        try:
            await conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                await conn.execute(f"ROLLBACK TO {name}")
                await conn.execute(f"RELEASE {name}")
                raise
            await conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    async def _fetch(self, sql: str, params: Sequence[object]) -> list[sqlite3.Row]:
        """Run a query and return all of its rows."""
        async with self._turn() as conn:
            try:
                return list(await conn.execute_fetchall(sql, params))
            except _FAILURES as exc:
                raise self._error(exc) from exc

    async def _write(
        self,
        model: type[TableModel],
        sql: str,
        params: Sequence[object],
        row: Sequence[object] | None = None,
    ) -> int:
        """Run one writing statement; return the number of rows it changed.

        ``row`` is the whole row in column order, to name a refused value, when ``params``
        are not that.

        Raises:
            ConstraintViolationError: SQLite refused the row.
        """
        async with self._turn() as conn:
            try:
                async with conn.execute(sql, params) as cursor:
                    return cursor.rowcount
            except sqlite3.IntegrityError as exc:
                raise await self._violation(model, params if row is None else row, exc) from exc
            except _FAILURES as exc:
                raise self._error(exc) from exc

    async def create(self, row: M) -> M:
        """Add one row and return it.

        Raises:
            ConstraintViolationError: A foreign key, CHECK or the primary key refused it.
        """
        await self._write(type(row), _spec(type(row)).insert, row.to_row())
        return row

    async def get(self, model: type[M], row_id: str | uuid.UUID) -> M:
        """Return the row of ``model``'s table with that id.

        Raises:
            NotFoundError: There is no such row.
        """
        key = _row_id(model, row_id)
        rows = await self._fetch(_spec(model).get, (key,))
        if not rows:
            raise NotFoundError(model.__tablename__, key)
        return model.from_row(rows[0])

    async def list_rows(
        self,
        model: type[M],
        /,
        *,
        limit: int | None = 100,
        offset: int = 0,
        newest_first: bool = False,
        **filters: object,
    ) -> list[M]:
        """Return rows of ``model``'s table in insertion order, filtered and paginated.

        ``model`` is positional-only, so that a column of that name (``Agent.model``) can be
        a filter.

        Args:
            model: The model class of the table.
            limit: At most this many rows; None for all of them.
            offset: Skip this many rows first.
            newest_first: Reverse the order.
            **filters: ``column=value`` equality filters; ``None`` matches NULL.

        Raises:
            InvalidFieldError: A filter names no column of the table.
            ValueError: ``limit`` or ``offset`` is negative.
        """
        if (limit is not None and limit < 0) or offset < 0:
            msg = f"limit and offset must not be negative (got {limit}, {offset})"
            raise ValueError(msg)
        where, params = _where(model, filters)
        order = _NEWEST_FIRST if newest_first else _OLDEST_FIRST
        rows = await self._fetch(
            _spec(model).select + where + order, (*params, -1 if limit is None else limit, offset)
        )
        return _models(model, rows)

    async def count(self, model: type[TableModel], /, **filters: object) -> int:
        """Return the number of rows of ``model``'s table matching the equality filters.

        Raises:
            InvalidFieldError: A filter names no column of the table.
        """
        where, params = _where(model, filters)
        rows = await self._fetch(_spec(model).count + where, params)
        return int(rows[0][0])

    async def update(self, model: type[M], row_id: str | uuid.UUID, /, **fields: object) -> M:
        """Change the given fields of one row (the others keep their values); return the row.

        The merged row is validated by the model first; ``updated_at``, where the table has
        it, is set to now unless given. The row is read back, so what is returned is what is
        stored: a given ``updated_at`` equal to the stored one is stamped by the schema's
        trigger, which cannot tell it from an update that forgot it.

        Raises:
            NotFoundError: There is no such row.
            InvalidFieldError: A field is unknown, or is ``id``.
            pydantic.ValidationError: A value does not fit its field.
            ConstraintViolationError: SQLite refused the row (e.g. a foreign key).
        """
        bad = set(fields) - set(model.columns) | ({"id"} & set(fields))
        if bad:
            raise InvalidFieldError(model, bad)
        if "updated_at" in model.columns and "updated_at" not in fields:
            fields["updated_at"] = utc_now()
        async with self.atomic():
            current = await self.get(model, row_id)
            row = model.model_validate({**dict(current), **fields}).to_row()
            await self._write(model, _spec(model).update, (*row[1:], row[0]), row)
            return await self.get(model, current.id)

    async def delete(self, model: type[TableModel], row_id: str | uuid.UUID) -> None:
        """Remove one row (children follow the schema's ON DELETE rules).

        Raises:
            NotFoundError: There is no such row.
        """
        key = _row_id(model, row_id)
        if not await self._write(model, _spec(model).delete, (key,)):
            raise NotFoundError(model.__tablename__, key)

    async def insert_many(self, rows: Iterable[M]) -> int:
        """Add many rows of one model in one transaction; return how many.

        Raises:
            TypeError: The rows are not all of the same model.
            ConstraintViolationError: SQLite refused a row; none of them is inserted.
        """
        items = list(rows)
        if not items:
            return 0
        model = type(items[0])
        if any(type(item) is not model for item in items):
            msg = f"insert_many takes rows of one model; the first is a {model.__name__}"
            raise TypeError(msg)
        sql = _spec(model).insert
        with _collector_paused(len(items)):
            values = [item.to_row() for item in items]
        async with self.atomic():
            conn = self._connection()
            try:
                async with self.atomic():
                    await conn.executemany(sql, values)
            except sqlite3.IntegrityError as exc:
                raise await self._locate_violation(model, sql, values, exc) from exc
            except _FAILURES as exc:
                raise self._error(exc) from exc
        return len(values)

    async def log_agent(
        self,
        agent_id: str | uuid.UUID,
        log_type: LogType,
        message: str,
        metadata: dict[str, Any] | None = None,
    ) -> AgentLog:
        """Append one agent log entry and return it."""
        return await self.create(
            AgentLog(agent_id=str(agent_id), log_type=log_type, message=message, metadata=metadata)
        )

    async def log_system(
        self,
        log_level: LogLevel,
        message: str,
        *,
        source: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SystemLog:
        """Append one system log entry and return it."""
        return await self.create(
            SystemLog(log_level=log_level, message=message, source=source, metadata=metadata)
        )

    async def _transition(
        self,
        model: type[M],
        row_id: str | uuid.UUID,
        action: str,
        allowed: Sequence[str],
        changes: dict[str, object],
    ) -> M:
        """Move a row to a new status if its current status allows it, in one transaction."""
        async with self.atomic():
            current = await self.get(model, row_id)
            status = str(getattr(current, "status", ""))
            if status not in allowed:
                raise InvalidTransitionError(
                    model.__tablename__, str(current.id), action, status, allowed
                )
            return await self.update(model, current.id, **changes)

    async def start_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending agent running and stamp ``started_at``."""
        return await self._transition(
            Agent, agent_id, "start", ("pending",), {"status": "running", "started_at": utc_now()}
        )

    async def complete_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending or running agent completed and stamp ``completed_at``."""
        return await self._transition(
            Agent,
            agent_id,
            "complete",
            ("pending", "running"),
            {"status": "completed", "completed_at": utc_now()},
        )

    async def fail_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending or running agent failed and stamp ``completed_at``."""
        return await self._transition(
            Agent,
            agent_id,
            "fail",
            ("pending", "running"),
            {"status": "failed", "completed_at": utc_now()},
        )

    async def start_prompt(self, prompt_id: str | uuid.UUID) -> Prompt:
        """Mark a pending prompt running."""
        return await self._transition(
            Prompt, prompt_id, "start", ("pending",), {"status": "running"}
        )

    async def complete_prompt(
        self,
        prompt_id: str | uuid.UUID,
        *,
        response: str | None = None,
        tokens_input: int | None = None,
        tokens_output: int | None = None,
        cost_usd: float | None = None,
    ) -> Prompt:
        """Mark a prompt completed, stamp ``completed_at`` and record what is given."""
        given = {
            "response": response,
            "tokens_input": tokens_input,
            "tokens_output": tokens_output,
            "cost_usd": cost_usd,
        }
        changes: dict[str, object] = {k: v for k, v in given.items() if v is not None}
        changes.update(status="completed", completed_at=utc_now())
        return await self._transition(
            Prompt, prompt_id, "complete", ("pending", "running"), changes
        )

    async def fail_prompt(
        self, prompt_id: str | uuid.UUID, *, response: str | None = None
    ) -> Prompt:
        """Mark a prompt failed and stamp ``completed_at``."""
        changes: dict[str, object] = {"status": "failed", "completed_at": utc_now()}
        if response is not None:
            changes["response"] = response
        return await self._transition(Prompt, prompt_id, "fail", ("pending", "running"), changes)

    async def start_workflow(self, workflow_id: str | uuid.UUID) -> AiDeveloperWorkflow:
        """Mark a pending workflow in progress and stamp ``started_at``."""
        return await self._transition(
            AiDeveloperWorkflow,
            workflow_id,
            "start",
            ("pending",),
            {"status": "in_progress", "started_at": utc_now()},
        )

    async def _finish_workflow(
        self, workflow_id: str | uuid.UUID, action: str, changes: dict[str, object]
    ) -> AiDeveloperWorkflow:
        """End a pending or in-progress workflow: stamp ``completed_at`` and the duration."""
        async with self.atomic():
            current = await self.get(AiDeveloperWorkflow, workflow_id)
            now = utc_now()
            changes.update(completed_at=now, duration_seconds=_duration(current.started_at, now))
            return await self._transition(
                AiDeveloperWorkflow, current.id, action, ("pending", "in_progress"), changes
            )

    async def complete_workflow(
        self, workflow_id: str | uuid.UUID, *, output_data: dict[str, Any] | None = None
    ) -> AiDeveloperWorkflow:
        """Mark a workflow completed; record its output if given."""
        changes: dict[str, object] = {"status": "completed"}
        if output_data is not None:
            changes["output_data"] = output_data
        return await self._finish_workflow(workflow_id, "complete", changes)

    async def fail_workflow(
        self, workflow_id: str | uuid.UUID, error_message: str, *, error_step: str | None = None
    ) -> AiDeveloperWorkflow:
        """Mark a workflow failed, record the error and count it."""
        async with self.atomic():
            current = await self.get(AiDeveloperWorkflow, workflow_id)
            changes: dict[str, object] = {
                "status": "failed",
                "error_message": error_message,
                "error_step": error_step,
                "error_count": current.error_count + 1,
            }
            return await self._finish_workflow(current.id, "fail", changes)

    async def cancel_workflow(self, workflow_id: str | uuid.UUID) -> AiDeveloperWorkflow:
        """Mark a pending or in-progress workflow cancelled."""
        return await self._finish_workflow(workflow_id, "cancel", {"status": "cancelled"})

    async def agent_usage(self, agent_id: str | uuid.UUID) -> UsageTotals:
        """Return the prompt count, token and cost totals of one agent.

        Raises:
            NotFoundError: There is no such agent.
        """
        agent = await self.get(Agent, agent_id)
        return await self._usage(_AGENT_USAGE, agent.id)

    async def orchestrator_usage(self, orchestrator_agent_id: str | uuid.UUID) -> UsageTotals:
        """Return the prompt count, token and cost totals of all agents of an orchestrator.

        Raises:
            NotFoundError: There is no such orchestrator agent.
        """
        orchestrator = await self.get(OrchestratorAgent, orchestrator_agent_id)
        return await self._usage(_ORCHESTRATOR_USAGE, orchestrator.id)

    async def _usage(self, sql: str, key: str) -> UsageTotals:
        """Run a usage query and return its totals."""
        count, tokens_in, tokens_out, cost = (await self._fetch(sql, (key,)))[0]
        return UsageTotals(
            prompt_count=count, tokens_input=tokens_in, tokens_output=tokens_out, cost_usd=cost
        )

    async def _locate_violation(
        self,
        model: type[TableModel],
        sql: str,
        rows: Sequence[Sequence[object]],
        exc: sqlite3.IntegrityError,
    ) -> ConstraintViolationError:
        """Find the row of a refused batch that SQLite refuses, trying them one by one."""
        conn = self._connection()
        await conn.execute("SAVEPOINT locate_violation")
        try:
            for row in rows:
                try:
                    await conn.execute(sql, row)
                except sqlite3.IntegrityError as row_exc:
                    return await self._violation(model, row, row_exc)
        finally:
            await conn.execute("ROLLBACK TO locate_violation")
            await conn.execute("RELEASE locate_violation")
        return await self._violation(model, rows[0], exc)

    async def _violation(
        self, model: type[TableModel], row: Sequence[object], exc: sqlite3.IntegrityError
    ) -> ConstraintViolationError:
        """Say which constraint refused a row, on which column and value."""
        table = model.__tablename__
        kind = _KINDS.get(exc.sqlite_errorname, exc.sqlite_errorname)
        detail = str(exc).partition(": ")[2]
        if kind == "FOREIGN KEY":
            return await self._foreign_key_violation(model, row)
        if kind == "CHECK":
            column = next((w for w in _IDENTIFIER.findall(detail) if w in model.columns), None)
            constraint = f"CHECK ({detail})"
        else:  # NOT NULL, UNIQUE, PRIMARY KEY: SQLite names the column as table.column
            column = detail.rpartition(".")[2] if detail.startswith(table + ".") else None
            constraint = f"{column} {kind}"
        if column is None:
            return ConstraintViolationError(table, None, kind, str(exc), None)
        return ConstraintViolationError(
            table, column, kind, constraint, row[model.columns.index(column)]
        )

    async def _foreign_key_violation(
        self, model: type[TableModel], row: Sequence[object]
    ) -> ConstraintViolationError:
        """Find the foreign-key column whose value has no parent row.

        Called while the connection is held, so it queries the connection directly.
        """
        table = model.__tablename__
        for column, target in _foreign_keys(model):
            value = row[model.columns.index(column)]
            parent = _BY_TABLE[target]
            found = await self._connection().execute_fetchall(_spec(parent).get, (value,))
            if value is not None and not found:
                return ConstraintViolationError(
                    table, column, "FOREIGN KEY", f"REFERENCES {target}(id)", value
                )
        return ConstraintViolationError(table, None, "FOREIGN KEY", "a foreign key", None)


def _foreign_keys(model: type[TableModel]) -> list[tuple[str, str]]:
    """Return ``(column, parent table)`` for each foreign key the model declares."""
    found = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and isinstance(extra.get("foreign_key"), str):
            found.append((name, str(extra["foreign_key"]).partition(".")[0]))
    return found
