"""Async access to the tac-bootstrap orchestrator database on PostgreSQL, through asyncpg.

The same public API as ``database.py`` (SQLite): the same methods and signatures, models in and
out, the same error classes (``database_errors``), ``atomic()``. Moving a project from SQLite to
PostgreSQL changes one import and the argument of ``open``::

    from tac_bootstrap.orchestrator.database_postgres import Database
    from tac_bootstrap.orchestrator.orch_database_models import Agent, OrchestratorAgent

    async with Database.open("postgresql://app@db.internal/orchestrator") as db:
        orchestrator = await db.create(OrchestratorAgent(name="planner"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        agent = await db.start_agent(agent.id)

The DSN is the argument, else the environment variable
``TAC_BOOTSTRAP_ORCHESTRATOR_DATABASE_URL``. The first open of an empty database applies
``schema_postgres.sql``; an older one gets the files of ``migrations_postgres/`` it lacks, in
one transaction (PostgreSQL's DDL is transactional: a failure leaves the database as it was),
each recorded in the table ``schema_migrations``; a newer one is refused with
``SchemaVersionError``. Connections come from a pool (``min_size``, ``max_size``), so tasks
sharing one ``Database`` run their queries in parallel; ``atomic()`` holds one connection for
the block. Behind PgBouncer in transaction pooling mode, pass ``statement_cache_size=0``
(prepared statements do not survive a change of server connection).

Where PostgreSQL differs from SQLite: a timestamp is an instant (``timestamptz``), so a naive
datetime is stored as UTC and read back timezone-aware; lists are in order of ``created_at``
(then ``id``), where SQLite lists in insertion order; a ``timeout`` is PostgreSQL's
``lock_timeout`` (and the connect timeout), where SQLite's is its busy timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeAlias, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pydantic import BaseModel, ConfigDict

from .database_errors import (
    ConstraintViolationError,
    DatabaseError,
    InvalidFieldError,
    InvalidTransitionError,
    MigrationError,
    NotFoundError,
    SchemaVersionError,
)
from .orch_database_models import (
    MODELS,
    Agent,
    AgentLog,
    AiDeveloperWorkflow,
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

SCHEMA_VERSION = 3
"""The newest migration number, which ``schema_postgres.sql`` is the whole of."""
DB_ENV_VAR = "TAC_BOOTSTRAP_ORCHESTRATOR_DATABASE_URL"
"""Environment variable naming the database when no DSN is given."""
SCHEMA_PATH = Path(__file__).with_name("schema_postgres.sql")
"""The schema applied to an empty database."""
MIGRATIONS_DIR = Path(__file__).with_name("migrations_postgres")
"""``NNNN_<slug>.sql`` scripts: migration N brings a version N-1 database to version N."""

M = TypeVar("M", bound=TableModel)
_Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)

# One advisory lock key for "migrating this database": two processes opening an old
# database at once migrate it once.
_MIGRATION_LOCK = 7_256_311_204
_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
)
_VERSION = "SELECT coalesce(max(version), 0) FROM schema_migrations"
_RECORD_VERSION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
_CONSTRAINTS = (
    "SELECT cls.relname, con.conname, att.attname, pg_get_constraintdef(con.oid) "
    "FROM pg_constraint AS con JOIN pg_class AS cls ON cls.oid = con.conrelid "
    "JOIN pg_namespace AS ns ON ns.oid = cls.relnamespace "
    "LEFT JOIN pg_attribute AS att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1] "
    "WHERE ns.nspname = current_schema()"
)
_AGENT_USAGE = (
    "SELECT count(*), coalesce(sum(tokens_input), 0)::bigint, "
    "coalesce(sum(tokens_output), 0)::bigint, coalesce(sum(cost_usd), 0.0) "
    "FROM prompts WHERE agent_id = $1"
)
_ORCHESTRATOR_USAGE = (
    "SELECT count(prompts.id), coalesce(sum(prompts.tokens_input), 0)::bigint, "
    "coalesce(sum(prompts.tokens_output), 0)::bigint, coalesce(sum(prompts.cost_usd), 0.0) "
    "FROM prompts JOIN agents ON agents.id = prompts.agent_id "
    "WHERE agents.orchestrator_agent_id = $1"
)
_SETTINGS = (
    "SELECT current_setting('server_version'), current_setting('server_encoding'), "
    "current_setting('TimeZone'), current_setting('lock_timeout')"
)
_MIGRATION_NAME = re.compile(r"([0-9]{4})_[a-z0-9][a-z0-9_]*\.sql")
_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, UnicodeError, OverflowError)


@dataclass(frozen=True)
class TableSql:
    """The statements of one table, built from its model (columns in field order)."""

    insert: str
    select: str
    get: str
    lock: str
    update: str
    delete: str
    count: str

    @classmethod
    def of(cls, model: type[TableModel]) -> TableSql:
        """Build the statements of a model's table from its table name and columns."""
        # S608: table and column names come from the models; every value is a bound $n.
        table, columns = model.__tablename__, model.columns
        names = ", ".join(columns)
        numbers = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns[1:], 2))
        select = f"SELECT {names} FROM {table}"  # noqa: S608
        return cls(
            insert=f"INSERT INTO {table} ({names}) VALUES ({numbers})",  # noqa: S608
            select=select,
            get=f"{select} WHERE id = $1",
            lock=f"{select} WHERE id = $1 FOR UPDATE",
            update=f"UPDATE {table} SET {assignments} WHERE id = $1 RETURNING {names}",  # noqa: S608
            delete=f"DELETE FROM {table} WHERE id = $1 RETURNING id",  # noqa: S608
            count=f"SELECT count(*) FROM {table}",  # noqa: S608
        )


SQL: dict[type[TableModel], TableSql] = {model: TableSql.of(model) for model in MODELS}
"""The statements of every table model, built once at import."""
_ORDER = {
    False: " ORDER BY created_at, id LIMIT {} OFFSET {}",
    True: " ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
}
_VALUES = {model: attrgetter(*model.columns) for model in MODELS}  # a model's row, in order


def statements() -> dict[str, str]:
    """Return every statement this module runs, by name (the tests prepare each one)."""
    found = {
        f"{model.__tablename__}.{kind}": sql
        for model, table in SQL.items()
        for kind, sql in asdict(table).items()
    }
    found |= {
        f"{model.__tablename__}.list": SQL[model].select + _ORDER[False].format("$1", "$2")
        for model in SQL
    }
    named = {"agent_usage": _AGENT_USAGE, "orchestrator_usage": _ORCHESTRATOR_USAGE}
    return found | named | {"settings": _SETTINGS, "constraints": _CONSTRAINTS}


_BY_TABLE: dict[str, type[TableModel]] = {model.__tablename__: model for model in MODELS}
_KINDS = {
    "ForeignKeyViolationError": "FOREIGN KEY",
    "CheckViolationError": "CHECK",
    "NotNullViolationError": "NOT NULL",
    "UniqueViolationError": "UNIQUE",
}


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
    """What the connections run with, as PostgreSQL reports it (see ``Database.settings``)."""

    model_config = ConfigDict(frozen=True)

    server_version: str
    server_encoding: str
    timezone: str
    lock_timeout: str
    pool_min_size: int
    pool_max_size: int
    statement_cache_size: int
    schema_version: int


def resolve_dsn(dsn: str | None = None) -> str:
    """Return the DSN: ``dsn``, else the environment variable.

    Raises:
        DatabaseError: Neither is given.
    """
    found = dsn or os.environ.get(DB_ENV_VAR)
    if not found:
        msg = f"no PostgreSQL database given: pass a DSN or set {DB_ENV_VAR}"
        raise DatabaseError(msg)
    return found


def shown_dsn(dsn: str) -> str:
    """Return a DSN fit for messages: its password, if any, replaced by ``***``."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def migrations() -> dict[int, Path]:
    """Return the migration scripts of ``MIGRATIONS_DIR`` by number, in order."""
    found = {}
    for script in MIGRATIONS_DIR.iterdir():
        match = _MIGRATION_NAME.fullmatch(script.name)
        if match:
            found[int(match[1])] = script
    return dict(sorted(found.items()))


async def upgrade(dsn: str | None = None, *, timeout: float = 5.0) -> list[int]:
    """Bring a database to ``SCHEMA_VERSION``; return the migrations applied.

    An empty database gets the schema; an older one, the migrations it lacks, all in one
    transaction under an advisory lock (two processes upgrading at once migrate it once).

    Raises:
        SchemaVersionError: The database is newer than this module.
        MigrationError: A migration failed; the database keeps its version and rows.
        DatabaseError: The server cannot be reached or refuses the connection.
    """
    dsn = resolve_dsn(dsn)
    try:
        conn = await asyncpg.connect(dsn, timeout=timeout)
    except _FAILURES as exc:
        msg = f"{shown_dsn(dsn)}: {type(exc).__name__}: {exc}"
        raise DatabaseError(msg) from exc
    try:
        async with conn.transaction():
            return await _migrate(conn, dsn)
    finally:
        await conn.close()


async def _migrate(conn: _Connection, dsn: str) -> list[int]:
    """Apply the schema or the missing migrations inside the caller's transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
    await conn.execute(_VERSION_TABLE)
    version = await conn.fetchval(_VERSION)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(shown_dsn(dsn), version, SCHEMA_VERSION)
    if version == 0:
        await conn.execute(SCHEMA_PATH.read_text(encoding="utf-8"))
        await conn.execute(_RECORD_VERSION, SCHEMA_VERSION, SCHEMA_PATH.name)
        return []
    applied = []
    for number, script in migrations().items():
        if version < number <= SCHEMA_VERSION:
            try:
                await conn.execute(script.read_text(encoding="utf-8"))
            except asyncpg.PostgresError as exc:
                msg = f"{shown_dsn(dsn)}: migration {script.name} failed: {exc}"
                raise MigrationError(msg) from exc
            await conn.execute(_RECORD_VERSION, number, script.name)
            applied.append(number)
    return applied


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


def _where(model: type[TableModel], filters: Mapping[str, object]) -> tuple[str, list[object]]:
    """Build a WHERE clause of equality filters from validated column names only.

    A value that is no UUID, given for a uuid column, matches no row (as in SQLite).
    """
    unknown = set(filters) - set(model.columns)
    if unknown:
        raise InvalidFieldError(model, unknown)
    terms, params = [], []
    for name, value in filters.items():
        if value is None:
            terms.append(f"{name} IS NULL")
            continue
        if name == "id" or name in _uuid_columns(model):
            try:
                value = canonical_uuid(value)
            except ValueError:
                terms.append("FALSE")
                continue
        params.append(value)
        terms.append(f"{name} = ${len(params)}")
    return (" WHERE " + " AND ".join(terms) if terms else ""), params


def _uuid_columns(model: type[TableModel]) -> set[str]:
    """Return the foreign-key columns of a model (uuid columns, like ``id``)."""
    return {column for column, _ in _foreign_keys(model)}


def _foreign_keys(model: type[TableModel]) -> list[tuple[str, str]]:
    """Return ``(column, parent table)`` for each foreign key the model declares."""
    found = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and isinstance(extra.get("foreign_key"), str):
            found.append((name, str(extra["foreign_key"]).partition(".")[0]))
    return found


def _models(model: type[M], records: Iterable[asyncpg.Record]) -> list[M]:
    """Build models from records of their table: asyncpg has decoded every value already.

    The records come from our own schema, whose types and CHECKs match the models, so they
    are not validated again.
    """
    construct = model.model_construct
    return cast("list[M]", [construct(**cast("Mapping[str, Any]", r)) for r in records])


def _duration(started: datetime | None, ended: datetime) -> float | None:
    """Return seconds between two times (a naive time counts as UTC), never negative."""
    if started is None:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(0.0, (ended - started).total_seconds())


async def _setup_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Exchange jsonb as dicts and uuid as canonical strings, like the models hold them."""
    await conn.set_type_codec(
        "jsonb", encoder=dump_json, decoder=json.loads, schema="pg_catalog", format="text"
    )
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")


class Database:
    """An open orchestrator database: a pool of asyncpg connections, shared safely by tasks.

    Args:
        dsn: The database, as ``postgresql://user:password@host:port/name``; default:
            ``$TAC_BOOTSTRAP_ORCHESTRATOR_DATABASE_URL``.
        timeout: Seconds to wait for a connection, and for another transaction's lock.
        min_size: Connections the pool keeps open.
        max_size: Connections the pool opens at most.
        statement_cache_size: Prepared statements kept per connection; 0 behind PgBouncer.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        timeout: float = 5.0,
        min_size: int = 1,
        max_size: int = 10,
        statement_cache_size: int = 100,
    ) -> None:
        self.dsn = resolve_dsn(dsn)
        self.timeout = timeout
        self.min_size = min_size
        self.max_size = max_size
        self.statement_cache_size = statement_cache_size
        self._pool: asyncpg.Pool | None = None
        self._held: ContextVar[tuple[asyncio.Task[Any] | None, _Connection] | None] = ContextVar(
            "held", default=None
        )
        self._constraints: dict[tuple[str, str], tuple[str | None, str]] = {}

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        dsn: str | None = None,
        *,
        timeout: float = 5.0,
        min_size: int = 1,
        max_size: int = 10,
        statement_cache_size: int = 100,
    ) -> AsyncIterator[Self]:
        """Open the database for the ``async with`` block, bringing its schema up to date.

        Raises:
            SchemaVersionError: The database is newer than this module.
            DatabaseError: The server cannot be reached or refuses the connection.
        """
        db = cls(
            dsn,
            timeout=timeout,
            min_size=min_size,
            max_size=max_size,
            statement_cache_size=statement_cache_size,
        )
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
        """Open the pool and bring the schema up to date.

        Raises:
            SchemaVersionError: The database is newer than this module.
            DatabaseError: The server cannot be reached or refuses the connection.
        """
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.timeout,
                statement_cache_size=self.statement_cache_size,
                server_settings={"lock_timeout": f"{round(self.timeout * 1000)}ms"},
                init=_setup_connection,
            )
            await self._ensure_schema()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, _FAILURES):
                raise self._error(exc) from exc
            raise

    async def close(self) -> None:
        """Close every connection of the pool (again is harmless)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _ensure_schema(self) -> None:
        """Bring the schema up to date (see ``upgrade``) and read the constraints' columns."""
        async with self._connection() as conn:
            async with conn.transaction():
                await _migrate(conn, self.dsn)
            self._constraints = {
                (table, name): (column, definition)
                for table, name, column, definition in await conn.fetch(_CONSTRAINTS)
            }

    async def settings(self) -> ConnectionSettings:
        """Return the server's version, encoding and time zone, the pool and schema version."""
        async with self._connection() as conn:
            version, encoding, timezone, lock_timeout = (await conn.fetch(_SETTINGS))[0]
            schema_version = await conn.fetchval(_VERSION)
        return ConnectionSettings(
            server_version=version,
            server_encoding=encoding,
            timezone=timezone,
            lock_timeout=lock_timeout,
            pool_min_size=self.min_size,
            pool_max_size=self.max_size,
            statement_cache_size=self.statement_cache_size,
            schema_version=schema_version,
        )

    def _error(self, exc: BaseException) -> DatabaseError:
        """Turn an unexpected driver or server error into a DatabaseError naming the database."""
        return DatabaseError(f"{shown_dsn(self.dsn)}: {type(exc).__name__}: {exc}")

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[_Connection]:
        """Lend a connection for one operation: inside ``atomic()``, the block's own."""
        held = self._held.get()
        if held is not None and held[0] is asyncio.current_task():
            yield held[1]
            return
        if self._pool is None:
            msg = f"{shown_dsn(self.dsn)}: the database is not open"
            raise DatabaseError(msg)
        async with self._pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """Run the block in one transaction, rolled back if it raises; nested: a savepoint.

        The block holds one connection of the pool; other tasks sharing the ``Database`` go
        on with other connections. Do not hand the same ``Database`` to tasks you start
        inside it: they would not share the block's transaction.
        """
        async with self._connection() as conn:
            token = self._held.set((asyncio.current_task(), conn))
            try:
                async with conn.transaction():
                    yield
            finally:
                self._held.reset(token)

    async def _fetch(self, sql: str, params: Sequence[object]) -> list[asyncpg.Record]:
        """Run a query and return all of its rows."""
        async with self._connection() as conn:
            try:
                return list(await conn.fetch(sql, *params))
            except _FAILURES as exc:
                raise self._error(exc) from exc

    async def _write(
        self, model: type[TableModel], sql: str, row: Sequence[object]
    ) -> list[asyncpg.Record]:
        """Run one writing statement with ``row`` (the whole row, in column order).

        Raises:
            ConstraintViolationError: PostgreSQL refused the row.
        """
        async with self._connection() as conn:
            try:
                return list(await conn.fetch(sql, *row))
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise self._violation(model, row, exc) from exc
            except _FAILURES as exc:
                raise self._error(exc) from exc

    async def create(self, row: M) -> M:
        """Add one row and return it.

        Raises:
            ConstraintViolationError: A foreign key, CHECK or the primary key refused it.
        """
        await self._write(type(row), _table_sql(type(row)).insert, _VALUES[type(row)](row))
        return row

    async def get(self, model: type[M], row_id: str | uuid.UUID) -> M:
        """Return the row of ``model``'s table with that id.

        Raises:
            NotFoundError: There is no such row.
        """
        key = _row_id(model, row_id)
        records = await self._fetch(_table_sql(model).get, (key,))
        if not records:
            raise NotFoundError(model.__tablename__, key)
        return _models(model, records)[0]

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
        """Return rows of ``model``'s table in order of creation, filtered and paginated.

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
        n = len(params)
        sql = (
            _table_sql(model).select + where + _ORDER[newest_first].format(f"${n + 1}", f"${n + 2}")
        )
        return _models(model, await self._fetch(sql, (*params, limit, offset)))

    async def count(self, model: type[TableModel], /, **filters: object) -> int:
        """Return the number of rows of ``model``'s table matching the equality filters.

        Raises:
            InvalidFieldError: A filter names no column of the table.
        """
        where, params = _where(model, filters)
        records = await self._fetch(_table_sql(model).count + where, params)
        return int(records[0][0])

    async def update(self, model: type[M], row_id: str | uuid.UUID, /, **fields: object) -> M:
        """Change the given fields of one row (the others keep their values); return the row.

        The merged row is validated by the model first; ``updated_at``, where the table has
        it, is set to now unless given. What is returned is what is stored: a given
        ``updated_at`` equal to the stored one is stamped by the schema's trigger.

        Raises:
            NotFoundError: There is no such row.
            InvalidFieldError: A field is unknown, or is ``id``.
            pydantic.ValidationError: A value does not fit its field.
            ConstraintViolationError: PostgreSQL refused the row (e.g. a foreign key).
        """
        bad = set(fields) - set(model.columns) | ({"id"} & set(fields))
        if bad:
            raise InvalidFieldError(model, bad)
        return await self._change(model, row_id, None, lambda _: fields)

    async def _change(
        self,
        model: type[M],
        row_id: str | uuid.UUID,
        action: str | None,
        changes: Callable[[M], dict[str, object]],
    ) -> M:
        """Read a row for update, apply a status action if given, write: one transaction.

        One read (``SELECT … FOR UPDATE``, which holds the row against other writers) and one
        write (``UPDATE … RETURNING``). ``action`` names one of ``model.__transitions__``: the
        row's status must be one of its sources, and becomes its target; ``changes(current)``
        gives the other fields to set.
        """
        spec = _table_sql(model)
        key = _row_id(model, row_id)
        async with self.atomic():
            records = await self._fetch(spec.lock, (key,))
            if not records:
                raise NotFoundError(model.__tablename__, key)
            current = _models(model, records)[0]
            fields = dict(changes(current))
            if action is not None:
                sources, target = model.__transitions__[action]
                status = str(getattr(current, "status", ""))
                if status not in sources:
                    raise InvalidTransitionError(model.__tablename__, key, action, status, sources)
                fields["status"] = target
            if "updated_at" in model.columns and "updated_at" not in fields:
                fields["updated_at"] = utc_now()
            row = _VALUES[model](model.model_validate({**dict(current), **fields}))
            return _models(model, await self._write(model, spec.update, row))[0]

    async def delete(self, model: type[TableModel], row_id: str | uuid.UUID) -> None:
        """Remove one row (children follow the schema's ON DELETE rules).

        Raises:
            NotFoundError: There is no such row.
        """
        key = _row_id(model, row_id)
        if not await self._write(model, _table_sql(model).delete, (key,)):
            raise NotFoundError(model.__tablename__, key)

    async def insert_many(self, rows: Iterable[M]) -> int:
        """Add many rows of one model in one transaction; return how many.

        Raises:
            TypeError: The rows are not all of the same model.
            ConstraintViolationError: PostgreSQL refused a row; none of them is inserted.
        """
        items = list(rows)
        if not items:
            return 0
        model = type(items[0])
        if any(type(item) is not model for item in items):
            msg = f"insert_many takes rows of one model; the first is a {model.__name__}"
            raise TypeError(msg)
        spec, values_of = _table_sql(model), _VALUES[model]
        values = [values_of(item) for item in items]
        async with self._connection() as conn, conn.transaction():
            try:
                async with conn.transaction():
                    await conn.executemany(spec.insert, values)
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise await self._locate_violation(conn, model, values, exc) from exc
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

    async def start_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending agent running and stamp ``started_at``."""
        return await self._change(Agent, agent_id, "start", _stamp("started_at"))

    async def complete_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending or running agent completed and stamp ``completed_at``."""
        return await self._change(Agent, agent_id, "complete", _stamp("completed_at"))

    async def fail_agent(self, agent_id: str | uuid.UUID) -> Agent:
        """Mark a pending or running agent failed and stamp ``completed_at``."""
        return await self._change(Agent, agent_id, "fail", _stamp("completed_at"))

    async def start_prompt(self, prompt_id: str | uuid.UUID) -> Prompt:
        """Mark a pending prompt running."""
        return await self._change(Prompt, prompt_id, "start", lambda _: {})

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
        changes = {k: v for k, v in given.items() if v is not None}
        return await self._change(Prompt, prompt_id, "complete", _stamp("completed_at", **changes))

    async def fail_prompt(
        self, prompt_id: str | uuid.UUID, *, response: str | None = None
    ) -> Prompt:
        """Mark a prompt failed and stamp ``completed_at``."""
        changes = {} if response is None else {"response": response}
        return await self._change(Prompt, prompt_id, "fail", _stamp("completed_at", **changes))

    async def start_workflow(self, workflow_id: str | uuid.UUID) -> AiDeveloperWorkflow:
        """Mark a pending workflow in progress and stamp ``started_at``."""
        return await self._change(AiDeveloperWorkflow, workflow_id, "start", _stamp("started_at"))

    async def complete_workflow(
        self, workflow_id: str | uuid.UUID, *, output_data: dict[str, Any] | None = None
    ) -> AiDeveloperWorkflow:
        """Mark a workflow completed, stamp the end and duration; record its output if given."""
        changes = {} if output_data is None else {"output_data": output_data}
        return await self._change(
            AiDeveloperWorkflow, workflow_id, "complete", _finished(**changes)
        )

    async def fail_workflow(
        self, workflow_id: str | uuid.UUID, error_message: str, *, error_step: str | None = None
    ) -> AiDeveloperWorkflow:
        """Mark a workflow failed, stamp the end and duration, record the error and count it."""
        finished = _finished(error_message=error_message, error_step=error_step)
        return await self._change(
            AiDeveloperWorkflow,
            workflow_id,
            "fail",
            lambda current: {**finished(current), "error_count": current.error_count + 1},
        )

    async def cancel_workflow(self, workflow_id: str | uuid.UUID) -> AiDeveloperWorkflow:
        """Mark a pending or in-progress workflow cancelled; stamp the end and duration."""
        return await self._change(AiDeveloperWorkflow, workflow_id, "cancel", _finished())

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
        conn: _Connection,
        model: type[TableModel],
        rows: Sequence[Sequence[object]],
        exc: asyncpg.IntegrityConstraintViolationError,
    ) -> ConstraintViolationError:
        """Find the row of a refused batch that PostgreSQL refuses, trying them one by one.

        Inside a savepoint that is rolled back: the rows tried are never kept.
        """
        outer = conn.transaction()
        await outer.start()
        try:
            for row in rows:
                try:
                    async with conn.transaction():
                        await conn.execute(_table_sql(model).insert, *row)
                except asyncpg.IntegrityConstraintViolationError as row_exc:
                    return self._violation(model, row, row_exc)
        finally:
            await outer.rollback()
        return self._violation(model, rows[0], exc)

    def _violation(
        self,
        model: type[TableModel],
        row: Sequence[object],
        exc: asyncpg.IntegrityConstraintViolationError,
    ) -> ConstraintViolationError:
        """Say which constraint refused a row, on which column and value."""
        table = model.__tablename__
        name = exc.constraint_name or ""
        kind = _KINDS.get(type(exc).__name__, type(exc).__name__)
        column, definition = self._constraints.get((table, name), (None, name))
        column = exc.column_name or column
        if kind == "UNIQUE" and definition.startswith("PRIMARY KEY"):
            kind = "PRIMARY KEY"
        if column is None or column not in model.columns or len(row) != len(model.columns):
            return ConstraintViolationError(table, column, kind, str(exc), None)
        if kind == "FOREIGN KEY":
            target = dict(_foreign_keys(model)).get(column, "?")
            constraint = f"REFERENCES {target}(id)"
        elif kind == "CHECK":
            constraint = definition
        else:
            constraint = f"{column} {kind}"
        return ConstraintViolationError(
            table, column, kind, constraint, row[model.columns.index(column)]
        )


def _stamp(column: str, **changes: object) -> Callable[[TableModel], dict[str, object]]:
    """Return the changes of a transition that stamps ``column`` with the current time."""
    return lambda _: {**changes, column: utc_now()}


def _finished(**changes: object) -> Callable[[AiDeveloperWorkflow], dict[str, object]]:
    """Return the changes of a workflow's end: ``completed_at`` and the duration."""

    def build(current: AiDeveloperWorkflow) -> dict[str, object]:
        now = utc_now()
        return {
            **changes,
            "completed_at": now,
            "duration_seconds": _duration(current.started_at, now),
        }

    return build
