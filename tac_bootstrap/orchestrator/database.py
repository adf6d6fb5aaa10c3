"""Async access to the tac-bootstrap orchestrator database: SQLite through aiosqlite.

Every method takes and returns the models of ``orch_database_models``. The SQL is built from
those models when this module is imported, so a new column takes the model, the schema and a
migration; here, only ``SCHEMA_VERSION`` follows the migration's number. Opening a file
creates or migrates its schema. The API is described in ``docs/database.md``; in short::

    from tac_bootstrap.orchestrator.database import Database
    from tac_bootstrap.orchestrator.orch_database_models import Agent, AgentLog, OrchestratorAgent

    async with Database.open("orchestrator.db") as db:
        orchestrator = await db.create(OrchestratorAgent(name="planner"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        agent = await db.start_agent(agent.id)
        await db.insert_many(
            AgentLog(agent_id=agent.id, log_type="event", message=str(i)) for i in range(100)
        )
        logs = await db.list_rows(AgentLog, agent_id=agent.id, limit=None)
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite
from pydantic import BaseModel, ConfigDict

from .database_errors import (
    ConstraintViolationError,
    DatabaseError,
    InvalidFieldError,
    InvalidRowError,
    InvalidTransitionError,
    NotFoundError,
)
from .database_migrate import upgrade
from .orch_database_models import (
    MODELS,
    Agent,
    AgentLog,
    AiDeveloperWorkflow,
    ColumnError,
    LogLevel,
    LogType,
    OrchestratorAgent,
    Prompt,
    SystemLog,
    TableModel,
    canonical_uuid,
    dump_json,
    utc_now,
)

# The PRAGMA user_version that schema_orchestrator.sql sets and this module knows.
SCHEMA_VERSION = 3
DB_ENV_VAR = "TAC_BOOTSTRAP_ORCHESTRATOR_DB"  # names the database file when no path is given
DEFAULT_DB_NAME = "orchestrator.db"  # used when neither a path nor DB_ENV_VAR is given

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
# The pragmas behind ConnectionSettings' fields, in their order.
_SETTINGS = (
    "journal_mode",
    "synchronous",
    "foreign_keys",
    "busy_timeout",
    "journal_size_limit",
    "wal_autocheckpoint",
    "user_version",
)
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


@dataclass(frozen=True)
class TableSql:
    """The statements of one table, built from its model (columns in field order)."""

    insert: str
    select: str
    get: str
    update: str
    delete: str
    count: str

    @classmethod
    def of(cls, model: type[TableModel]) -> TableSql:
        """Build the statements of a model's table from its table name and columns."""
        # S608: table and column names come from the models; every value is a bound ?.
        table, columns = model.__tablename__, model.columns
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        assignments = ", ".join(f"{column} = ?" for column in columns[1:])
        select = f"SELECT {names} FROM {table}"  # noqa: S608
        return cls(
            insert=f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
            select=select,
            get=f"{select} WHERE id = ?",
            update=f"UPDATE {table} SET {assignments} WHERE id = ? RETURNING {names}",  # noqa: S608
            delete=f"DELETE FROM {table} WHERE id = ? RETURNING id",  # noqa: S608
            count=f"SELECT count(*) FROM {table}",  # noqa: S608
        )


SQL: dict[type[TableModel], TableSql] = {model: TableSql.of(model) for model in MODELS}
_BY_TABLE = {model.__tablename__: model for model in MODELS}
_ORDER = {False: " ORDER BY rowid LIMIT ? OFFSET ?", True: " ORDER BY rowid DESC LIMIT ? OFFSET ?"}


def statements() -> dict[str, str]:
    """Return every statement this module runs, by name (``sync-check`` prepares each one)."""
    found = {
        f"{model.__tablename__}.{kind}": sql
        for model, table in SQL.items()
        for kind, sql in asdict(table).items()
    }
    found |= {f"{model.__tablename__}.list": SQL[model].select + _ORDER[False] for model in SQL}
    return found | {"agent_usage": _AGENT_USAGE, "orchestrator_usage": _ORCHESTRATOR_USAGE}


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


def load_row(model: type[M], row: Sequence[Any]) -> M:
    """Build a model from a stored row of its table, or raise ``InvalidRowError``."""
    try:
        return model.from_row(row)
    except ColumnError as exc:
        reason = str(exc).removeprefix(f"{exc.column}: ")
        raise InvalidRowError(model.__tablename__, row[0], exc.column, reason) from exc
    except (ValueError, TypeError) as exc:
        raise InvalidRowError(model.__tablename__, row[0], None, str(exc)) from exc


def _load_rows(model: type[M], rows: Sequence[Sequence[Any]]) -> list[M]:
    """Build models from stored rows of their table; ``InvalidRowError`` names the first bad one."""
    try:
        return model.from_rows(rows)
    except (ValueError, TypeError):
        for row in rows:
            load_row(model, row)
        raise


@contextmanager
def _collector_paused(count: int) -> Iterator[None]:
    """Pause the cyclic garbage collector while a read builds ``count`` models (if >= 1000).

    A speed trick that earned its place: reading 100,000 rows into models took 1.8x as long
    with the collector running (it rescans the new objects again and again, and none of them
    is garbage yet). test_orch_database pins that it always restores the collector.
    """
    if count < 1000 or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _table_sql(model: type[TableModel]) -> TableSql:
    """Return the statements of a model's table."""
    try:
        return SQL[model]
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
    if unknown := set(filters) - set(model.columns):
        raise InvalidFieldError(model, unknown)
    if not filters:
        return "", []
    terms = [f"{name} IS NULL" if v is None else f"{name} = ?" for name, v in filters.items()]
    params = [_param(value) for value in filters.values() if value is not None]
    return " WHERE " + " AND ".join(terms), params


def _duration(started: datetime | None, ended: datetime) -> float | None:
    """Return seconds between two times (a naive time counts as UTC), never negative."""
    if started is None:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(0.0, (ended - started).total_seconds())


def _foreign_keys(model: type[TableModel]) -> list[tuple[str, str]]:
    """Return ``(column, parent table)`` for each foreign key the model declares."""
    found = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and isinstance(extra.get("foreign_key"), str):
            found.append((name, str(extra["foreign_key"]).partition(".")[0]))
    return found


class Database:
    """An open orchestrator database: one aiosqlite connection, shared safely by tasks.

    Args:
        path: The database file; default: ``$TAC_BOOTSTRAP_ORCHESTRATOR_DB``, else
            ``orchestrator.db``.
        timeout: Seconds to wait for another connection's write lock (the busy timeout).
        backup: Before migrating an older file, save a copy of it (``database_migrate``).
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

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 5.0,
        backup: bool = True,
    ) -> AsyncIterator[Self]:
        """Open the database for the ``async with`` block (see ``connect``)."""
        async with cls(path, timeout=timeout, backup=backup) as db:
            yield db

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
        """Open and configure the connection; create or migrate the file's schema first."""
        if sqlite3.sqlite_version_info < (3, 35, 0):
            msg = f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed"
            raise DatabaseError(msg)
        # Checked here because aiosqlite, when its connect fails, leaves its worker thread to
        # stop on its own, which may outlive the event loop and fail loudly.
        if not self.path.parent.is_dir():
            msg = f"{self.path}: unable to open database file: no folder {self.path.parent}"
            raise DatabaseError(msg)
        try:
            await asyncio.to_thread(
                upgrade, self.path, SCHEMA_VERSION, backup=self.backup, timeout=self.timeout
            )
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
        values = [(await self._run(f"PRAGMA {name}", ()))[0][0] for name in _SETTINGS]
        return ConnectionSettings(**dict(zip(ConnectionSettings.model_fields, values, strict=True)))

    def _connection(self) -> aiosqlite.Connection:
        """Return the open connection, or raise ``DatabaseError`` if it is closed."""
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
        that it cannot fail half way because another connection wrote first. Other tasks
        sharing the ``Database`` wait until it ends.
        """
        if self._owner is asyncio.current_task():
            async with self._savepoint():
                yield
            return
        async with self._lock:
            self._owner, conn = asyncio.current_task(), self._connection()
            try:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    await conn.execute("COMMIT")
                except BaseException:  # also a failed COMMIT
                    if conn.in_transaction:
                        await conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                if isinstance(exc, sqlite3.IntegrityError):
                    raise
                raise self._error(exc) from exc
            finally:
                self._owner = None

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[None]:
        """Run a nested block as a savepoint (SQLite nests savepoints of the same name)."""
        conn = self._connection()
        await conn.execute("SAVEPOINT nested")
        try:
            yield
        except BaseException:
            await conn.execute("ROLLBACK TO nested")
            await conn.execute("RELEASE nested")
            raise
        await conn.execute("RELEASE nested")

    async def _run(
        self,
        sql: str,
        params: Sequence[object],
        model: type[TableModel] | None = None,
        row: Sequence[object] = (),
    ) -> list[sqlite3.Row]:
        """Run one statement and return its rows; a refused ``row`` of ``model`` is named."""
        async with self._turn() as conn:
            try:
                return list(await conn.execute_fetchall(sql, params))
            except sqlite3.IntegrityError as exc:
                if model is None:
                    raise self._error(exc) from exc
                raise await self._violation(model, row, exc) from exc
            except _FAILURES as exc:
                raise self._error(exc) from exc

    async def create(self, row: M) -> M:
        """Add one row and return it."""
        values = row.to_row()
        await self._run(_table_sql(type(row)).insert, values, type(row), values)
        return row

    async def get(self, model: type[M], row_id: str | uuid.UUID) -> M:
        """Return the row of ``model``'s table with that id."""
        key = _row_id(model, row_id)
        rows = await self._run(_table_sql(model).get, (key,))
        if not rows:
            raise NotFoundError(model.__tablename__, key)
        return load_row(model, rows[0])

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

        ``filters`` are ``column=value`` equality tests (``None`` matches NULL); ``model`` is
        positional-only so that a column of that name (``Agent.model``) can be one.
        """
        if (limit is not None and limit < 0) or offset < 0:
            msg = f"limit and offset must not be negative (got {limit}, {offset})"
            raise ValueError(msg)
        where, params = _where(model, filters)
        sql = _table_sql(model).select + where + _ORDER[newest_first]
        rows = await self._run(sql, (*params, -1 if limit is None else limit, offset))
        with _collector_paused(len(rows)):
            return _load_rows(model, rows)

    async def count(self, model: type[TableModel], /, **filters: object) -> int:
        """Return the number of rows of ``model``'s table matching the equality filters."""
        where, params = _where(model, filters)
        rows = await self._run(_table_sql(model).count + where, params)
        return int(rows[0][0])

    async def update(self, model: type[M], row_id: str | uuid.UUID, /, **fields: object) -> M:
        """Change the given fields of one row (the others keep their values); return the row.

        The changed row is validated by the model; ``updated_at``, where the table has it, is
        set to now unless given. One read and one write, in one transaction.
        """
        if bad := set(fields) - set(model.columns) | ({"id"} & set(fields)):
            raise InvalidFieldError(model, bad)
        async with self.atomic():
            return await self._replace(await self.get(model, row_id), fields)

    async def _replace(self, current: M, fields: dict[str, object]) -> M:
        """Write ``current`` with ``fields`` changed, validated; return the row as stored."""
        model = type(current)
        if "updated_at" in model.columns:
            fields.setdefault("updated_at", utc_now())
        row = model.model_validate({**dict(current), **fields}).to_row()
        stored = await self._run(_table_sql(model).update, (*row[1:], row[0]), model, row)
        if "updated_at" in model.columns:
            at = model.columns.index("updated_at")
            if row[at] == current.to_row()[at]:
                # Its text is unchanged, so the schema's trigger stamped it after RETURNING.
                return await self.get(model, current.id)
        return load_row(model, stored[0])

    async def delete(self, model: type[TableModel], row_id: str | uuid.UUID) -> None:
        """Remove one row (children follow the schema's ON DELETE rules)."""
        key = _row_id(model, row_id)
        if not await self._run(_table_sql(model).delete, (key,), model, (key,)):
            raise NotFoundError(model.__tablename__, key)

    async def insert_many(self, rows: Iterable[M]) -> int:
        """Add many rows of one model in one transaction (all or none); return how many."""
        items = list(rows)
        if not items:
            return 0
        model = type(items[0])
        if any(type(item) is not model for item in items):
            msg = f"insert_many takes rows of one model; the first is a {model.__name__}"
            raise TypeError(msg)
        sql = _table_sql(model).insert
        values = [item.to_row() for item in items]
        async with self.atomic():
            try:
                async with self.atomic():  # a savepoint: undone before locating the bad row
                    await self._connection().executemany(sql, values)
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
        self, model: type[M], row_id: str | uuid.UUID, action: str, stamp: str, **changes: object
    ) -> M:
        """Apply ``model.__transitions__[action]`` if the row's status allows it, atomically.

        One read and one write: ``changes`` and the time in the ``stamp`` column (if any) are
        set with the new status. A workflow's end also records its duration; a failure counts.
        """
        sources, target = model.__transitions__[action]
        async with self.atomic():
            current = await self.get(model, row_id)
            status = str(getattr(current, "status", ""))
            if status not in sources:
                raise InvalidTransitionError(
                    model.__tablename__, current.id, action, status, sources
                )
            now = utc_now()
            if stamp:
                changes[stamp] = now
            if isinstance(current, AiDeveloperWorkflow) and stamp == "completed_at":
                changes["duration_seconds"] = _duration(current.started_at, now)
                if action == "fail":
                    changes["error_count"] = current.error_count + 1
            return await self._replace(current, {**changes, "status": target})

    async def start_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending agent running and stamp ``started_at``."""
        return await self._transition(Agent, agent_id, "start", "started_at")

    async def complete_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending or running agent completed and stamp ``completed_at``."""
        return await self._transition(Agent, agent_id, "complete", "completed_at")

    async def fail_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending or running agent failed and stamp ``completed_at``."""
        return await self._transition(Agent, agent_id, "fail", "completed_at")

    async def start_prompt(self, prompt_id: str | uuid.UUID) -> Prompt:
        """Mark a pending prompt running."""
        return await self._transition(Prompt, prompt_id, "start", "")

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
        given = _given(
            response=response,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
            cost_usd=cost_usd,
        )
        return await self._transition(Prompt, prompt_id, "complete", "completed_at", **given)

    async def fail_prompt(
        self, prompt_id: str | uuid.UUID, *, response: str | None = None
    ) -> Prompt:
        """Mark a prompt failed and stamp ``completed_at``."""
        given = _given(response=response)
        return await self._transition(Prompt, prompt_id, "fail", "completed_at", **given)

    async def start_workflow(self, workflow_id: str | uuid.UUID) -> AiDeveloperWorkflow:
        """Mark a pending workflow in progress and stamp ``started_at``."""
        return await self._transition(AiDeveloperWorkflow, workflow_id, "start", "started_at")

    async def complete_workflow(
        self, workflow_id: str | uuid.UUID, *, output_data: dict[str, Any] | None = None
    ) -> AiDeveloperWorkflow:
        """Mark a workflow completed, stamp the end and duration; record its output if given."""
        given = _given(output_data=output_data)
        return await self._transition(
            AiDeveloperWorkflow, workflow_id, "complete", "completed_at", **given
        )

    async def fail_workflow(
        self, workflow_id: str | uuid.UUID, error_message: str, *, error_step: str | None = None
    ) -> AiDeveloperWorkflow:
        """Mark a workflow failed, stamp the end and duration, record the error and count it."""
        return await self._transition(
            AiDeveloperWorkflow,
            workflow_id,
            "fail",
            "completed_at",
            error_message=error_message,
            error_step=error_step,
        )

    async def cancel_workflow(self, workflow_id: str | uuid.UUID) -> AiDeveloperWorkflow:
        """Mark a pending or in-progress workflow cancelled; stamp the end and duration."""
        return await self._transition(AiDeveloperWorkflow, workflow_id, "cancel", "completed_at")

    async def agent_usage(self, agent_id: str | uuid.UUID) -> UsageTotals:
        """Return the prompt count, token and cost totals of one agent."""
        agent = await self.get(Agent, agent_id)
        return await self._usage(_AGENT_USAGE, agent.id)

    async def orchestrator_usage(self, orchestrator_agent_id: str | uuid.UUID) -> UsageTotals:
        """Return the prompt count, token and cost totals of all agents of an orchestrator."""
        orchestrator = await self.get(OrchestratorAgent, orchestrator_agent_id)
        return await self._usage(_ORCHESTRATOR_USAGE, orchestrator.id)

    async def _usage(self, sql: str, key: str) -> UsageTotals:
        """Run a usage query and return its totals."""
        count, tokens_in, tokens_out, cost = (await self._run(sql, (key,)))[0]
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
        table, whole = model.__tablename__, len(row) == len(model.columns)
        kind = _KINDS.get(exc.sqlite_errorname, exc.sqlite_errorname)
        detail = str(exc).partition(": ")[2]
        if kind == "FOREIGN KEY":  # SQLite does not say which: find the value without a parent
            for key, parent in _foreign_keys(model) if whole else []:
                value = row[model.columns.index(key)]
                conn, sql = self._connection(), SQL[_BY_TABLE[parent]].get
                if value is not None and not await conn.execute_fetchall(sql, (value,)):
                    return ConstraintViolationError(
                        table, key, kind, f"REFERENCES {parent}(id)", value
                    )
            return ConstraintViolationError(table, None, kind, "a foreign key", None)
        if kind == "CHECK":
            column = next((w for w in _IDENTIFIER.findall(detail) if w in model.columns), None)
            constraint = f"CHECK ({detail})"
        else:  # NOT NULL, UNIQUE, PRIMARY KEY: SQLite names the column as table.column
            column = detail.rpartition(".")[2] if detail.startswith(table + ".") else None
            constraint = f"{column} {kind}"
        value = row[model.columns.index(column)] if column is not None and whole else None
        return ConstraintViolationError(table, column, kind, constraint, value)


def _given(**values: object) -> dict[str, object]:
    """Return the values that are not None (the arguments a caller gave)."""
    return {name: value for name, value in values.items() if value is not None}
