"""Schema migrations on real SQLite files: every older version opens with its rows intact."""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import typing
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tac_bootstrap.orchestrator import database_migrate
from tac_bootstrap.orchestrator.database import SCHEMA_VERSION, Database
from tac_bootstrap.orchestrator.database_errors import MigrationError
from tac_bootstrap.orchestrator.database_migrate import (
    SCHEMA_PATH,
    migrations,
    schema_statements,
    upgrade,
)
from tac_bootstrap.orchestrator.orch_database_models import MODELS, TableModel

OLDER = range(1, SCHEMA_VERSION)


def build(path: Path, version: int) -> None:
    """Make a database file at ``version`` by running migrations 1 to ``version``."""
    conn = sqlite3.connect(path)
    try:
        for number in range(1, version + 1):
            conn.executescript(migrations()[number].read_text(encoding="utf-8"))
    finally:
        conn.close()
    assert version_of(path) == version


def version_of(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def columns_of(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (table,))]


def table_of(conn: sqlite3.Connection, model: type[TableModel], claimed: set[str]) -> str:
    """Return the table holding ``model``'s rows at this version: its name or a former one.

    A former name is the unclaimed table whose columns are all columns of the model.
    """
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    if model.__tablename__ in names:
        return model.__tablename__
    fitting = [
        name
        for name in names
        if name not in claimed and set(columns_of(conn, name)) <= set(model.columns)
    ]
    assert len(fitting) == 1, f"no single former table of {model.__name__}: {fitting}"
    return str(fitting[0])


def core(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None`` from a field annotation."""
    while True:
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = args[0]
        elif type(None) in args and len(args) == 2:
            annotation = args[0] if args[1] is type(None) else args[1]
        else:
            return annotation


def sample(model: type[TableModel], index: int, parents: dict[str, list[str]]) -> TableModel:
    """Return an instance of ``model`` with every field set, referencing existing parents."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra
        target = extra.get("foreign_key") if isinstance(extra, dict) else None
        kind = core(field.annotation)
        if name == "id":
            values[name] = str(uuid.uuid4())
        elif isinstance(target, str):
            ids = parents[target.partition(".")[0]]
            values[name] = ids[index % len(ids)]
        elif typing.get_origin(kind) is typing.Literal:
            options = typing.get_args(kind)
            values[name] = options[index % len(options)]
        elif kind is datetime:
            values[name] = datetime(2026, 2, 4, 10, 30, index, 123456, tzinfo=UTC)
        elif kind is bool:
            values[name] = True
        elif kind is int:
            values[name] = 3 + index
        elif kind is float:
            values[name] = 1.25 + index
        elif kind is dict or typing.get_origin(kind) is dict:
            values[name] = {"step": index, "nested": {"list": [1, 2.5, None, True, "x"]}}
        else:
            values[name] = f"{name} {index}"
    return model.model_validate(values)


Filled = dict[type[TableModel], tuple[str, list[dict[str, object]]]]


def fill(path: Path, per_table: int = 3) -> Filled:
    """Put rows in every table (children of CASCADE and SET NULL parents included).

    Returns, per model, the table the rows went to and each row as stored.
    """
    conn = sqlite3.connect(path)
    filled: Filled = {}
    parents: dict[str, list[str]] = {}
    try:
        with conn:
            for model in MODELS:  # parents first
                table = table_of(conn, model, {t for t, _ in filled.values()})
                present = columns_of(conn, table)
                rows = []
                for index in range(per_table):
                    instance = sample(model, index, parents)
                    full = dict(zip(model.columns, instance.to_row(), strict=True))
                    row = {column: full[column] for column in present}
                    marks = ", ".join("?" * len(row))
                    sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})"  # noqa: S608
                    conn.execute(sql, tuple(row.values()))
                    rows.append(row)
                filled[model] = (table, rows)
                parents[model.__tablename__] = [str(row["id"]) for row in rows]
    finally:
        conn.close()
    return filled


def defaults(conn: sqlite3.Connection, table: str) -> dict[str, object]:
    """Return the value each column's DEFAULT gives (None where it has none)."""
    found = {}
    for name, default in conn.execute(
        "SELECT name, dflt_value FROM pragma_table_info(?)", (table,)
    ):
        found[name] = None if default is None else conn.execute(f"SELECT {default}").fetchone()[0]
    return found


def snapshot(path: Path) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    """Return the schema and every row of a database file."""
    conn = sqlite3.connect(path)
    try:
        schema = conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall()
        rows = {
            name: conn.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()  # noqa: S608
            for (kind, name, _) in schema
            if kind == "table" and not name.startswith("sqlite_")
        }
        return schema, rows
    finally:
        conn.close()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    found = migrations()
    assert list(found) == list(range(1, SCHEMA_VERSION + 1))
    for number, script in found.items():
        last_line = script.read_text(encoding="utf-8").rstrip().splitlines()[-1]
        assert last_line == f"PRAGMA user_version = {number};", script.name
    schema_version = re.search(r"PRAGMA user_version = (\d+);", SCHEMA_PATH.read_text())
    assert schema_version is not None
    assert int(schema_version[1]) == SCHEMA_VERSION


def test_the_chain_gives_the_schema(tmp_path: Path) -> None:
    chained, fresh = tmp_path / "chained.db", tmp_path / "fresh.db"
    build(chained, SCHEMA_VERSION)
    upgrade(fresh, SCHEMA_VERSION)

    def shape(path: Path) -> dict[str, object]:
        conn = sqlite3.connect(path)
        try:
            names = conn.execute(
                "SELECT type, name, tbl_name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'"
                " ORDER BY type, name"
            ).fetchall()
            tables = [name for kind, name, _ in names if kind == "table"]
            return {
                "names": names,
                "columns": {t: conn.execute(f"PRAGMA table_xinfo({t})").fetchall() for t in tables},
                "keys": {
                    t: conn.execute(f"PRAGMA foreign_key_list({t})").fetchall() for t in tables
                },
            }
        finally:
            conn.close()

    assert shape(chained) == shape(fresh)


@pytest.mark.parametrize("version", OLDER)
async def test_an_older_file_opens_with_every_row_intact(tmp_path: Path, version: int) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, version)
    filled = fill(path)

    async with Database.open(path) as db:
        for model, (_, rows) in filled.items():
            loaded = await db.list_rows(model, limit=None)
            assert sorted(row.id for row in loaded) == sorted(str(row["id"]) for row in rows)

    assert version_of(path) == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for model, (_, rows) in filled.items():
            table = model.__tablename__
            new_columns = defaults(conn, table)
            for old in rows:
                sql = f"SELECT {', '.join(model.columns)} FROM {table} WHERE id = ?"  # noqa: S608
                stored = conn.execute(sql, (old["id"],)).fetchone()
                assert stored is not None, f"{table} lost row {old['id']}"
                now = dict(zip(model.columns, stored, strict=True))
                expected = {c: old.get(c, new_columns[c]) for c in model.columns}
                assert now == expected
                model.validate_row(stored)  # loads into its model, validated
    finally:
        conn.close()


async def test_a_migration_keeps_a_backup_unless_told_not_to(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, 1)
    filled = fill(path)
    before = snapshot(path)
    async with Database.open(path):
        pass
    backup = tmp_path / "orchestrator.db.v1.bak"
    assert snapshot(backup) == before
    assert sum(len(rows) for _, rows in filled.values()) > 0

    other = tmp_path / "other.db"
    build(other, 1)
    async with Database.open(other, backup=False):
        pass
    assert not (tmp_path / "other.db.v1.bak").exists()
    build(tmp_path / "again.db", 1)
    (tmp_path / "again.db.v1.bak").write_bytes(b"an older backup")
    upgrade(tmp_path / "again.db", SCHEMA_VERSION)
    assert (tmp_path / "again.db.v1.bak").read_bytes() == b"an older backup"
    assert version_of(tmp_path / "again.db.v1.2.bak") == 1


def break_last_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the last migration fail after its first statement ran."""
    scripts = tmp_path / "migrations"
    shutil.copytree(database_migrate.MIGRATIONS_DIR, scripts)
    last = migrations()[SCHEMA_VERSION]
    statements = schema_statements(last.read_text(encoding="utf-8"))
    broken = [statements[0], "SELECT no_such_function();", *statements[1:]]
    (scripts / last.name).write_text("\n".join(broken) + "\n", encoding="utf-8")
    monkeypatch.setattr(database_migrate, "MIGRATIONS_DIR", scripts)


async def test_a_failing_migration_leaves_the_old_version_and_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, SCHEMA_VERSION - 1)
    fill(path)
    before = snapshot(path)
    break_last_migration(tmp_path, monkeypatch)

    with pytest.raises(MigrationError, match=r"failed at 'SELECT no_such_function\(\);'"):
        async with Database.open(path, backup=False):
            pass
    assert snapshot(path) == before
    assert version_of(path) == SCHEMA_VERSION - 1


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_migration_leaves_the_old_version_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, SCHEMA_VERSION - 1)
    fill(path)
    before = snapshot(path)
    # The child kills itself when the migration has run every statement but not committed:
    # the moment it checks the foreign keys.
    child = textwrap.dedent(
        f"""
        import os, signal, sqlite3, sys
        from {database_migrate.__name__} import upgrade

        connect = sqlite3.connect

        def killing_connect(*args, **kwargs):
            conn = connect(*args, **kwargs)

            def trace(sql):
                if sql.startswith("PRAGMA foreign_key_check"):
                    os.kill(os.getpid(), signal.SIGKILL)

            conn.set_trace_callback(trace)
            return conn

        sqlite3.connect = killing_connect
        upgrade(sys.argv[1], int(sys.argv[2]), backup=False)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child, str(path), str(SCHEMA_VERSION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert snapshot(path) == before
    assert upgrade(path, SCHEMA_VERSION, backup=False) == [SCHEMA_VERSION]


def test_processes_migrating_at_once_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, 1)
    fill(path)
    start = threading.Barrier(3)
    applied: list[list[int]] = []

    def run() -> None:
        start.wait()
        applied.append(upgrade(path, SCHEMA_VERSION, backup=False, timeout=30))

    workers = [threading.Thread(target=run) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(n for numbers in applied for n in numbers) == list(range(2, SCHEMA_VERSION + 1))
    assert version_of(path) == SCHEMA_VERSION
