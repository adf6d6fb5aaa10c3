"""Repo-only tests of the orchestrator BASE code: Hypothesis round trips, templates, SQL."""

from __future__ import annotations

import asyncio
import gc
import re
import sqlite3
import tomllib
import types
import typing
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.fields import FieldInfo

from tac_bootstrap.orchestrator import database as database_module
from tac_bootstrap.orchestrator import database_migrate
from tac_bootstrap.orchestrator.database import SCHEMA_VERSION, Database
from tac_bootstrap.orchestrator.database_errors import DatabaseError
from tac_bootstrap.orchestrator.database_migrate import SCHEMA_PATH, schema_statements
from tac_bootstrap.orchestrator.orch_database_models import (
    MODELS,
    Agent,
    AgentLog,
    OrchestratorAgent,
    TableModel,
)
from tac_bootstrap.render import Renderer

ROOT = Path(__file__).resolve().parent.parent
ORCH_ID = "6f1c2b3a-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
AGENT_ID = "0b8f6a52-7c1d-4e3f-9a2b-5c6d7e8f9a0b"
MAX_INT = 2**63 - 1  # SQLite INTEGER is 64-bit

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_INT, MAX_INT)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
OFFSETS: st.SearchStrategy[timezone | None] = st.none() | st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
)
# Years 400 to 9998: a time in year 9999 can leave datetime's range when moved to UTC, and
# SQLite's date functions (3.40 at least) misplace 0300-03-01 (their day arithmetic is off
# before year 400), so the schema's timestamp CHECK refuses that one day.
DATETIMES = st.datetimes(
    min_value=datetime(400, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=OFFSETS,  # type: ignore[arg-type]
)


def _core(annotation: Any) -> tuple[Any, bool]:
    """Return (annotation without Annotated and None, whether None is allowed)."""
    nullable = False
    while True:
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = args[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            nullable = True
            annotation = next(a for a in args if a is not type(None))
        else:
            return annotation, nullable


def field_strategy(name: str, info: FieldInfo, *, parents: bool) -> st.SearchStrategy[Any]:
    """Return a strategy of valid values for one model field."""
    core, nullable = _core(info.annotation)
    lower = 0 if any(type(m).__name__ == "Ge" for m in info.metadata) else None
    if name.endswith("_id") and name not in ("id", "session_id") and parents:
        strategy: st.SearchStrategy[Any] = st.just(
            ORCH_ID if name == "orchestrator_agent_id" else AGENT_ID
        )
    elif name == "id" or (name.endswith("_id") and name != "session_id"):
        strategy = st.uuids().map(str)
    elif typing.get_origin(core) is typing.Literal:
        strategy = st.sampled_from(typing.get_args(core))
    elif core is int:
        strategy = st.integers(lower if lower is not None else -MAX_INT, MAX_INT)
    elif core is float:
        strategy = st.floats(min_value=lower, allow_nan=False, allow_infinity=False)
    elif core is datetime:
        strategy = DATETIMES
    elif typing.get_origin(core) is dict:
        strategy = st.dictionaries(st.text(), JSON, max_size=5)
    else:
        strategy = st.text()
    return st.none() | strategy if nullable else strategy


def instances(model: type[TableModel], *, parents: bool = False) -> st.SearchStrategy[Any]:
    """Return a strategy of valid instances of a model with every field drawn."""
    fields = {
        name: field_strategy(name, info, parents=parents)
        for name, info in model.model_fields.items()
    }
    return st.fixed_dictionaries(fields).map(model.model_validate)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_row_round_trip_is_exact(model: type[TableModel], data: st.DataObject) -> None:
    row = data.draw(instances(model))
    values = row.to_row()
    assert values == tuple(row.model_dump(mode="json").values())
    assert model.from_row(values) == row
    assert model.validate_row(values) == row
    assert model.model_validate_json(row.model_dump_json()) == row


async def _store_and_read(db: Database, row: TableModel) -> tuple[TableModel, list[TableModel]]:
    model = type(row)
    await db.create(row)
    try:
        return await db.get(model, row.id), await db.list_rows(model, id=row.id)
    finally:
        await db.delete(model, row.id)


@pytest.fixture(scope="module")
def seeded_db(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[asyncio.Runner, Database]]:
    """One database file with the parent rows, open on one event loop for every example."""
    db = Database(tmp_path_factory.mktemp("orchestrator") / "orchestrator.db")
    with asyncio.Runner() as runner:
        runner.run(db.connect())
        try:
            runner.run(db.create(OrchestratorAgent(id=ORCH_ID, name="parent")))
            runner.run(db.create(Agent(id=AGENT_ID, orchestrator_agent_id=ORCH_ID)))
            yield runner, db
        finally:
            runner.run(db.close())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_valid_instance_survives_sqlite(
    seeded_db: tuple[asyncio.Runner, Database], model: type[TableModel], data: st.DataObject
) -> None:
    runner, db = seeded_db
    row = data.draw(instances(model, parents=True))
    if row.id in (ORCH_ID, AGENT_ID):
        return  # the seeded parents hold these ids
    got, listed = runner.run(_store_and_read(db, row))
    assert got == row
    assert listed == [row]
    assert got.model_dump() == row.model_dump()


async def _store_and_update(
    db: Database, row: TableModel, changes: dict[str, Any]
) -> tuple[TableModel, TableModel]:
    model = type(row)
    await db.create(row)
    try:
        return await db.update(model, row.id, **changes), await db.get(model, row.id)
    finally:
        await db.delete(model, row.id)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_update_changes_exactly_the_given_fields(
    seeded_db: tuple[asyncio.Runner, Database], model: type[TableModel], data: st.DataObject
) -> None:
    runner, db = seeded_db
    row = data.draw(instances(model, parents=True))
    other = data.draw(instances(model, parents=True))
    names = data.draw(st.sets(st.sampled_from(model.columns[1:])))
    if row.id in (ORCH_ID, AGENT_ID):
        return
    changes = {name: getattr(other, name) for name in names}
    updated, stored = runner.run(_store_and_update(db, row, changes))
    assert stored == updated
    index = {name: i for i, name in enumerate(model.columns)}
    # The trigger stamps updated_at when an update leaves its stored text as it was.
    unchanged = (
        "updated_at" in index
        and "updated_at" in changes
        and other.to_row()[index["updated_at"]] == row.to_row()[index["updated_at"]]
    )
    for name in model.columns:
        if name == "updated_at" and (unchanged or name not in changes):
            assert getattr(stored, name).tzinfo is not None  # stamped now, in UTC
            assert getattr(stored, name) > datetime.now(UTC) - timedelta(minutes=1)
        elif name in changes:
            assert getattr(stored, name) == changes[name], name
        else:
            assert getattr(stored, name) == getattr(row, name), name


async def _filter_both_ways(
    db: Database, rows: list[TableModel], column: str, value: Any
) -> tuple[list[TableModel], list[TableModel]]:
    model = type(rows[0])
    await db.insert_many(rows)
    try:
        everything = await db.list_rows(model, limit=None)
        index = model.columns.index(column)
        target = rows[0].to_row()[index]
        by_python = [r for r in everything if r.to_row()[index] == target]
        return await db.list_rows(model, limit=None, **{column: value}), by_python
    finally:
        for row in rows:
            await db.delete(model, row.id)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_filters_match_the_stored_values(
    seeded_db: tuple[asyncio.Runner, Database], model: type[TableModel], data: st.DataObject
) -> None:
    runner, db = seeded_db
    rows = data.draw(
        st.lists(instances(model, parents=True), min_size=1, max_size=5, unique_by=lambda r: r.id)
    )
    if {r.id for r in rows} & {ORCH_ID, AGENT_ID}:
        return
    column = data.draw(st.sampled_from(model.columns))
    listed, expected = runner.run(_filter_both_ways(db, rows, column, getattr(rows[0], column)))
    assert listed == expected
    assert rows[0] in listed


# --- the schema and the SQL of the database module ------------------------------------------


def _loaded_schema() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA_PATH.read_text(encoding="utf-8"))
    return conn


def test_every_statement_prepares_against_the_schema() -> None:
    statements = database_module.statements()
    assert len(statements) >= 7 * 7
    conn = _loaded_schema()
    try:
        for sql in statements.values():
            conn.execute("EXPLAIN " + sql, (None,) * sql.count("?")).fetchall()
    finally:
        conn.close()


QUERIES = [
    (database_module.SQL[AgentLog].select + " WHERE agent_id = ?", 1),
    (database_module.SQL[Agent].select + " WHERE orchestrator_agent_id = ?", 1),
    (database_module.SQL[Agent].select + " WHERE status = ?", 1),
    (database_module._AGENT_USAGE, 1),
    (database_module._ORCHESTRATOR_USAGE, 1),
]


@pytest.mark.parametrize(
    ("sql", "params"),
    QUERIES,
    ids=["logs-of-agent", "agents-of-orchestrator", "agents-by-status", "agent-usage", "usage"],
)
@pytest.mark.parametrize("order", database_module._ORDER.values(), ids=["oldest", "newest"])
def test_list_and_usage_queries_use_an_index_and_no_sort(sql: str, params: int, order: str) -> None:
    if "count(" not in sql:
        sql, params = sql + order, params + 2
    conn = _loaded_schema()
    try:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (None,) * params)]
    finally:
        conn.close()
    assert all("USING" in step and "INDEX" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_a_missing_folder_is_a_database_error(tmp_path: Path) -> None:
    async def open_missing() -> None:
        async with Database.open(tmp_path / "no" / "such" / "folder" / "o.db"):
            pass

    with pytest.raises(DatabaseError, match="unable to open"):
        asyncio.run(open_missing())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_schema_columns_match_the_model(model: type[TableModel]) -> None:
    conn = _loaded_schema()
    try:
        info = conn.execute(
            'SELECT name, "notnull" FROM pragma_table_info(?)', (model.__tablename__,)
        ).fetchall()
        keys = conn.execute(
            'SELECT "from", "table", "to" FROM pragma_foreign_key_list(?)', (model.__tablename__,)
        ).fetchall()
    finally:
        conn.close()
    assert [name for name, _ in info] == list(model.columns)
    for name, notnull in info:
        assert bool(notnull) == (not _core(model.model_fields[name].annotation)[1]), name
    declared = {
        (name, *str(extra["foreign_key"]).split("."))
        for name, field in model.model_fields.items()
        if isinstance(extra := field.json_schema_extra, dict) and "foreign_key" in extra
    }
    assert set(keys) == declared


def test_schema_splits_into_statements_the_way_sqlite_reads_it() -> None:
    statements = schema_statements()
    assert all(sqlite3.complete_statement(s) for s in statements)
    assert sum("CREATE TRIGGER" in s for s in statements) == 3
    assert statements[:3] == [
        "PRAGMA journal_mode = WAL;",
        "PRAGMA foreign_keys = ON;",
        f"PRAGMA user_version = {SCHEMA_VERSION};",
    ]


def test_a_crash_while_applying_the_schema_leaves_no_half_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orchestrator.db"
    broken = SCHEMA_PATH.read_text(encoding="utf-8").replace(
        "CREATE INDEX IF NOT EXISTS idx_prompts_agent_id", "CREATE INDEX broken syntax ("
    )

    async def open_with(script: str) -> None:
        with monkeypatch.context() as patch:
            patch.setattr(database_migrate, "schema_statements", lambda: schema_statements(script))
            async with Database.open(path):
                pass

    with pytest.raises(DatabaseError):
        asyncio.run(open_with(broken))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        conn.close()

    async def reopen() -> int:
        async with Database.open(path) as db:
            return (await db.settings()).schema_version

    assert asyncio.run(reopen()) == SCHEMA_VERSION


# --- templates -------------------------------------------------------------------------------


def _pairs() -> list[tuple[str, str]]:
    manifest = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    sync = manifest["tool"]["tac-bootstrap"]["sync"]
    return [
        (p["base"], p["template"])
        for p in sync["pairs"]
        if p["base"].startswith(("tac_bootstrap/orchestrator/", "tests/orchestrator/"))
    ]


def _context() -> dict[str, str]:
    manifest = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(manifest["tool"]["tac-bootstrap"]["sync"]["context"])


def test_every_orchestrator_file_has_a_template_pair() -> None:
    bases = {base for base, _ in _pairs()}
    expected = {
        f"tac_bootstrap/orchestrator/{name}"
        for name in (
            "orch_database_models.py",
            "schema_orchestrator.sql",
            "database.py",
            "database_errors.py",
            "database_migrate.py",
            "db.py",
            "schema_postgres.sql",
            "database_postgres.py",
        )
    }
    expected |= {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "tests" / "orchestrator").glob("test_orch_*.py")
    }
    expected |= {
        p.relative_to(ROOT).as_posix()
        for folder in ("migrations", "migrations_postgres")
        for p in (ROOT / "tac_bootstrap" / "orchestrator" / folder).glob("*.sql")
    }
    assert bases == expected


@pytest.mark.parametrize(("base", "template"), _pairs(), ids=lambda v: Path(v).name)
def test_template_renders_to_its_base_file(base: str, template: str) -> None:
    rendered = Renderer(ROOT / "templates").render(template, _context())
    assert rendered == (ROOT / base).read_text(encoding="utf-8")


@pytest.mark.parametrize(("base", "template"), _pairs(), ids=lambda v: Path(v).name)
def test_generated_files_name_only_the_generated_project(base: str, template: str) -> None:
    context = {
        "project_name": "my-app",
        "package": "my_app",
        "db_env_var": "MY_APP_ORCHESTRATOR_DB",
        "env_prefix": "MY_APP",
        "db": "postgres",
    }
    rendered = Renderer(ROOT / "templates").render(template, context)
    assert not re.search(r"tac.bootstrap", rendered, re.IGNORECASE), base
    if base.endswith("/database.py"):
        assert 'DB_ENV_VAR = "MY_APP_ORCHESTRATOR_DB"' in rendered
    if base.endswith("/database_postgres.py"):
        assert 'DB_ENV_VAR = "MY_APP_DATABASE_URL"' in rendered
    if "tests/" in base:
        assert "from my_app." in rendered


def test_no_test_file_name_is_used_twice() -> None:
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names))


# --- the bulk read path ----------------------------------------------------------------------


async def test_bulk_reads_leave_the_garbage_collector_as_they_found_it(tmp_path: Path) -> None:
    async with Database.open(tmp_path / "orchestrator.db") as db:
        orchestrator = await db.create(OrchestratorAgent(name="o"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        await db.insert_many(
            [AgentLog(agent_id=agent.id, log_type="event", message=str(i)) for i in range(1500)]
        )
        assert gc.isenabled()
        assert len(await db.list_rows(AgentLog, limit=None)) == 1500
        assert gc.isenabled()
        gc.disable()
        try:
            assert len(await db.list_rows(AgentLog, limit=None)) == 1500
            assert not gc.isenabled()
        finally:
            gc.enable()


async def test_an_update_through_sql_elsewhere_stamps_updated_at(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    async with Database.open(path) as db:
        orchestrator = await db.create(
            OrchestratorAgent(name="o", updated_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "UPDATE orchestrator_agents SET name = 'renamed' WHERE id = ?", (orchestrator.id,)
        )
        conn.commit()
    finally:
        conn.close()
    async with Database.open(path) as db:
        again = await db.get(OrchestratorAgent, uuid.UUID(orchestrator.id))
    assert again.name == "renamed"
    assert again.updated_at.year > 2000
    assert again.updated_at.tzinfo is not None
