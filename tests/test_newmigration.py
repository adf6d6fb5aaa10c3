"""``migration new``: the statements it chooses, what it refuses, and that data survives.

Each test copies ``tests/fixtures/migrepo`` (two migrations that build its schema) into
``tmp_path``, edits the schema as a person would, and runs the command.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tac_bootstrap import chain, confine
from tac_bootstrap.cli import app
from tac_bootstrap.errors import InvalidInputError, WriteError
from tac_bootstrap.manifest import load_manifest
from tac_bootstrap.migration_plan import MigrationRefusedError, Rename, quote
from tac_bootstrap.newmigration import new_migration

FIXTURE = Path(__file__).parent / "fixtures" / "migrepo"
SCHEMA = "pkg/schema.sql"
EXE = Path(sys.executable).with_name("tac-bootstrap")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    # Edits within one second may keep a file's size: drop the bytecode Python would trust.
    shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def chain_problems(root: Path) -> list[str]:
    manifest = load_manifest(root)
    assert manifest is not None
    assert manifest.agreement is not None
    return [f"{p.path}: {p.message}" for p in chain.check_migrations(root, manifest.agreement)]


def statements(sql: str) -> list[str]:
    """The migration's statements, without its header comment."""
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.strip().split("\n\n")]


def run_like_the_runner(path: Path, sql: str) -> None:
    """Apply a migration as the runner does: foreign keys off outside the transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.executescript("BEGIN IMMEDIATE;\n" + sql)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.execute("COMMIT")
        conn.execute("PRAGMA foreign_keys = ON")
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def test_nothing_to_do_writes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    result = new_migration(repo, "nothing")
    assert (result.path, result.number) == (None, 2)
    assert snapshot(repo) == before


def test_cli_nothing_to_do_says_no_changes(repo: Path) -> None:
    result = CliRunner().invoke(app, ["migration", "new", "nothing", "--root", str(repo)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.startswith("no changes")


def test_a_new_nullable_column_is_added_in_place(repo: Path) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    result = new_migration(repo, "add_due")
    assert result.path == "pkg/migrations/0003_add_due.sql"
    assert statements(result.sql) == [
        "ALTER TABLE tasks ADD COLUMN due TEXT;",
        "PRAGMA user_version = 3;",
    ]
    assert "-- * adds column tasks.due (due TEXT)." in result.sql
    assert (repo / result.path).read_text() == result.sql
    assert result.versions == ["pkg/database.py", SCHEMA]
    assert "SCHEMA_VERSION = 3\n" in (repo / "pkg/database.py").read_text()
    assert "PRAGMA user_version = 3;" in (repo / SCHEMA).read_text()
    assert chain_problems(repo) == []


def test_a_new_not_null_column_with_a_constant_default_is_added_in_place(repo: Path) -> None:
    edit(
        repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    weight REAL NOT NULL DEFAULT -1.5\n"
    )
    sql = new_migration(repo, "add_weight").sql
    assert statements(sql)[0] == "ALTER TABLE tasks ADD COLUMN weight REAL NOT NULL DEFAULT -1.5;"
    assert chain_problems(repo) == []


@pytest.mark.parametrize(
    ("column", "why"),
    [
        ("    stamp TEXT DEFAULT CURRENT_TIMESTAMP\n", "a default that is not a constant"),
        ("    code TEXT UNIQUE\n", "UNIQUE"),
        ("    boss TEXT DEFAULT 'x' REFERENCES owners(id)\n", "REFERENCES with a non-NULL default"),
        ("    tag TEXT DEFAULT (lower('X'))\n", "an expression default"),
    ],
)
def test_a_column_add_column_cannot_take_rebuilds_the_table(
    repo: Path, column: str, why: str
) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n" + column)
    sql = new_migration(repo, "add").sql
    assert "ALTER TABLE tasks_new RENAME TO tasks;" in statements(sql), why
    assert chain_problems(repo) == []


def test_a_column_in_the_middle_rebuilds_the_table(repo: Path) -> None:
    edit(repo / SCHEMA, "    metadata TEXT CHECK", "    nb TEXT,\n    metadata TEXT CHECK")
    result = new_migration(repo, "add_nb")
    assert "-- * rebuilds table tasks (adds column nb): copies every row" in result.sql
    assert chain_problems(repo) == []


def test_reordered_columns_rebuild_the_table(repo: Path) -> None:
    edit(repo / SCHEMA, "    metadata TEXT CHECK (json_valid(metadata)),\n", "")
    edit(
        repo / SCHEMA,
        "    note TEXT\n",
        "    note TEXT,\n    metadata TEXT CHECK (json_valid(metadata))\n",
    )
    result = new_migration(repo, "reorder")
    assert "-- * rebuilds table tasks (reorders its columns): copies every row" in result.sql
    assert chain_problems(repo) == []


def test_widening_a_check_rebuilds_and_keeps_every_row(repo: Path, tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    for migration in sorted((repo / "pkg/migrations").iterdir()):
        conn.executescript(migration.read_text())
    conn.executescript(
        "INSERT INTO owners VALUES ('o1', 'Ada'), ('o2', 'Bob');"
        "INSERT INTO tasks (id, owner_id, status, priority, metadata, note) VALUES"
        " ('t1', 'o1', 'todo', 3, '{\"a\": 1}', NULL), ('t2', 'o2', 'done', 0, '[]', 'n');"
    )
    conn.commit()
    rows = conn.execute("SELECT * FROM tasks ORDER BY id").fetchall()
    conn.close()
    edit(repo / SCHEMA, "('todo', 'done')", "('todo', 'doing', 'done')")
    result = new_migration(repo, "widen_status")
    assert "-- * rebuilds table tasks (changes the CHECK of status)" in result.sql
    run_like_the_runner(db, result.sql)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT * FROM tasks ORDER BY id").fetchall() == rows
    assert conn.execute("SELECT count(*) FROM owners").fetchone() == (2,)
    conn.execute("UPDATE tasks SET status = 'doing' WHERE id = 't1'")
    assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    conn.close()
    assert chain_problems(repo) == []


def test_a_column_that_becomes_not_null_takes_its_default_where_null(repo: Path) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT NOT NULL DEFAULT ''\n")
    sql = new_migration(repo, "note_required").sql
    assert (
        "SELECT\n    id, owner_id, status, priority, metadata, coalesce(note, '')\nFROM tasks;"
        in sql
    )


def test_a_renamed_column_is_renamed_when_asked(repo: Path) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    remark TEXT\n")
    edit(repo / SCHEMA, "SET note = NEW.name", "SET remark = NEW.name")
    edit(repo / SCHEMA, "note IS NULL", "remark IS NULL")
    with pytest.raises(MigrationRefusedError) as refused:
        new_migration(repo, "rename_note")
    assert str(refused.value) == (
        "column tasks.note is gone and column tasks.remark is new: was it renamed? If so, say "
        "so with --rename tasks.note:remark. If it was dropped and another added, make two "
        "migrations: one without tasks.note, then one with tasks.remark"
    )
    sql = new_migration(repo, "rename_note", renames=["tasks.note:remark"]).sql
    assert statements(sql) == [
        "ALTER TABLE tasks RENAME COLUMN note TO remark;",
        "PRAGMA user_version = 3;",
    ]
    assert chain_problems(repo) == []


def test_a_renamed_table_is_renamed_when_asked(repo: Path) -> None:
    schema = (repo / SCHEMA).read_text().replace("tasks", "jobs")
    (repo / SCHEMA).write_text(schema)
    with pytest.raises(MigrationRefusedError, match="--rename tasks:jobs"):
        new_migration(repo, "rename_tasks")
    sql = new_migration(repo, "rename_tasks", renames=["tasks:jobs"]).sql
    assert statements(sql)[0] == "ALTER TABLE tasks RENAME TO jobs;"
    assert "DROP INDEX idx_tasks_owner_id;" in statements(sql)
    assert chain_problems(repo) == []


def test_a_rename_sqlite_cannot_make_in_the_chain_is_refused_not_a_traceback(
    repo: Path,
) -> None:
    view = "CREATE VIEW broken AS SELECT * FROM nope;\n"  # SQLite creates it, then cannot rename
    edit(repo / "pkg/migrations/0002_add_note.sql", "PRAGMA", view + "PRAGMA")
    # Only the chain has it: in the schema, a view that does not compile is refused first.
    (repo / SCHEMA).write_text((repo / SCHEMA).read_text().replace("tasks", "jobs"))
    before = snapshot(repo)
    result = CliRunner().invoke(
        app, ["migration", "new", "x", "--rename", "tasks:jobs", "--root", str(repo)]
    )
    assert (result.exit_code, result.stderr) == (
        2,
        "error: --rename tasks:jobs: SQLite cannot rename it in what the migrations build: "
        "error in view broken: no such table: main.nope\n",
    )
    assert snapshot(repo) == before


def test_a_dropped_column_rebuilds_the_table(repo: Path) -> None:
    edit(repo / SCHEMA, "    metadata TEXT CHECK (json_valid(metadata)),\n", "")
    result = new_migration(repo, "drop_metadata")
    assert "rebuilds table tasks (drops column metadata)" in result.sql
    assert "INSERT INTO tasks_new (\n    id, owner_id, status, priority, note\n)" in result.sql
    assert chain_problems(repo) == []


def test_a_changed_foreign_key_action_rebuilds_the_table(repo: Path) -> None:
    edit(
        repo / SCHEMA,
        "owner_id TEXT NOT NULL REFERENCES owners(id) ON DELETE CASCADE",
        "owner_id TEXT REFERENCES owners(id) ON DELETE SET NULL",
    )
    assert "rebuilds table tasks" in new_migration(repo, "keep_tasks").sql
    assert chain_problems(repo) == []


def test_new_table_index_and_trigger_are_created_and_old_ones_dropped(repo: Path) -> None:
    edit(
        repo / SCHEMA,
        "CREATE INDEX IF NOT EXISTS idx_tasks_open ON tasks (priority) WHERE status = 'todo';\n",
        "",
    )
    (repo / SCHEMA).write_text(
        (repo / SCHEMA).read_text()
        + "\nCREATE TABLE tags (id INTEGER PRIMARY KEY, task_id TEXT REFERENCES tasks(id));\n"
        "CREATE INDEX idx_tags_task_id ON tags (task_id);\n"
    )
    assert statements(new_migration(repo, "tags").sql) == [
        "DROP INDEX idx_tasks_open;",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, task_id TEXT REFERENCES tasks(id));",
        "CREATE INDEX idx_tags_task_id ON tags (task_id);",
        "PRAGMA user_version = 3;",
    ]
    assert chain_problems(repo) == []


@pytest.mark.parametrize(
    ("old", "new", "lossy"),
    [
        ("priority INTEGER", "priority REAL", True),
        ("note TEXT\n", "note INTEGER\n", True),
        ("priority INTEGER", "priority NUMERIC", False),
        ("priority INTEGER", "priority TEXT", False),
        ("note TEXT\n", "note BLOB\n", False),
        ("note TEXT\n", "note VARCHAR(80)\n", False),
    ],
)
def test_a_lossy_type_change_needs_allow_lossy(repo: Path, old: str, new: str, lossy: bool) -> None:
    edit(repo / SCHEMA, old, new)
    before = snapshot(repo)
    if lossy:
        with pytest.raises(MigrationRefusedError, match=r"can lose data.*--allow-lossy$"):
            new_migration(repo, "retype")
        assert snapshot(repo) == before
    assert "rebuilds table tasks" in new_migration(repo, "retype", allow_lossy=lossy).sql
    assert chain_problems(repo) == []


def test_a_new_not_null_column_without_default_is_refused(repo: Path) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT NOT NULL\n")
    before = snapshot(repo)
    code = CliRunner().invoke(app, ["migration", "new", "add_due", "--root", str(repo)])
    assert code.exit_code == 2
    assert code.stderr == (
        "error: tasks.due is new and NOT NULL without a default, and tasks may hold rows: what "
        "should they hold? Give it a DEFAULT in the schema, or allow NULL\n"
    )
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad-Slug"], "error: slug 'Bad-Slug': use lower-case letters, digits and _"),
        (["x" * 5000], "error: slug of 5,000 characters: use at most 200"),  # was a traceback
        (["x", "--rename", "tasks.note"], "error: --rename 'tasks.note': expected TABLE.OLD:NEW"),
        (
            ["x", "--rename", "tasks.nope:x"],
            "error: --rename tasks.nope:x: the migrations build no column tasks.nope",
        ),
        (
            ["x", "--rename", "tasks.note:x"],
            "error: --rename tasks.note:x: the schema has no new column tasks.x",
        ),
        (["x", "--rename", "nope:x"], "error: --rename nope:x: the migrations build no table nope"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(repo: Path, args: list[str], message: str) -> None:
    before = snapshot(repo)
    result = CliRunner().invoke(app, ["migration", "new", *args, "--root", str(repo)])
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("added", "word"),
    [
        ("INSERT INTO owners VALUES ('o', 'n');", "INSERT statement"),
        ("SELECT count(*) FROM owners;", "SELECT statement"),
        ("ATTACH ':memory:' AS other;", "ATTACH statement"),
        ("PRAGMA writable_schema = ON;", "PRAGMA writable_schema"),
    ],
)
def test_a_schema_sync_check_refuses_is_refused_by_migration_new_too(
    repo: Path, added: str, word: str
) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")  # a change to write
    (repo / SCHEMA).write_text((repo / SCHEMA).read_text() + added + "\n")
    before = snapshot(repo)
    check = subprocess.run(
        [EXE, "sync-check", "--root", repo, "--no-cache"], capture_output=True, text=True
    )
    new = subprocess.run(
        [EXE, "migration", "new", "x", "--root", repo], capture_output=True, text=True
    )
    for proc in (check, new):  # the same loader: migration new took rows and queries
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: pkg/schema.sql: refused to load the schema"), (
            proc.stderr
        )
        assert word in proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    assert snapshot(repo) == before


VERSION_FILE_LINKS = {
    "schema": (SCHEMA, "other/schema.sql", "other/schema.sql"),
    "schema-chain": (SCHEMA, "links/l1", "other/schema.sql"),
    "database-module": ("pkg/database.py", "other/database.py", "other/database.py"),
}


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize(
    ("link", "target", "shown"), VERSION_FILE_LINKS.values(), ids=VERSION_FILE_LINKS
)
def test_a_version_file_that_is_a_link_is_not_written_through(
    repo: Path, link: str, target: str, shown: str, dry_run: bool
) -> None:
    # pkg/schema.sql -> other/schema.sql: `migration new` wrote the migration and set the
    # version in other/schema.sql, through the link (exit 0), as sync did with a BASE file.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    (repo / "other").mkdir()
    (repo / "links").mkdir()
    (repo / "links" / "l1").symlink_to("../other/schema.sql")
    shutil.move(repo / link, repo / "other" / Path(shown).name)
    (repo / link).symlink_to(Path("../" * link.count("/")) / target)
    before = snapshot(repo)
    args = [str(EXE), "migration", "new", "add_due", "--root", str(repo)]
    args += ["--dry-run"] if dry_run else []
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"error: {link} is a symbolic link to {shown}: migration new does not write through a "
        "link (the file it leads to would change in its place): replace the link by a file: "
        "nothing was written\n"
    )
    assert snapshot(repo) == before


def test_a_link_put_in_place_of_a_version_file_while_it_writes_is_not_written_through(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link made at the schema's name after the check, before its file is staged, is refused."""
    from tac_bootstrap import confine, newmigration

    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    (repo / "other.sql").write_text("-- mine\n")
    real_stage = confine.stage

    def stage(root: Path, rel: str, data: bytes, *, shown: str | None = None) -> Any:
        if rel.endswith(".sql") and "migrations/" in rel:  # staged first: the versions after it
            (repo / SCHEMA).unlink()
            (repo / SCHEMA).symlink_to("../other.sql")
        return real_stage(root, rel, data, shown=shown)

    monkeypatch.setattr(newmigration, "stage", stage)
    with pytest.raises(
        confine.LinkAtNameError, match=r"pkg/schema\.sql is a symbolic link to other"
    ):
        new_migration(repo, "add_due")
    assert (repo / "other.sql").read_text() == "-- mine\n"
    assert not list((repo / "pkg" / "migrations").glob("0003_*"))


def test_a_migrations_folder_linked_inside_the_root_is_written_through(repo: Path) -> None:
    """A linked folder that stays in the root is fine, as for sync."""
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    shutil.move(repo / "pkg" / "migrations", repo / "kept")
    (repo / "pkg" / "migrations").symlink_to("../kept", target_is_directory=True)
    proc = subprocess.run(
        [EXE, "migration", "new", "add_due", "--root", repo], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert (repo / "kept" / "0003_add_due.sql").is_file()
    assert "PRAGMA user_version = 3;" in (repo / SCHEMA).read_text()


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_version_file_it_cannot_write_leaves_no_migration_written(repo: Path) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    before = snapshot(repo)
    (repo / "pkg").chmod(0o555)  # the schema's folder; pkg/migrations stays writable
    try:
        result = CliRunner().invoke(app, ["migration", "new", "x", "--root", str(repo)])
    finally:
        (repo / "pkg").chmod(0o755)
    # The migration was written first, then the schema failed: a chain one ahead of its schema.
    assert (result.exit_code, result.stderr) == (
        2,
        "error: cannot write pkg/schema.sql: Permission denied\n",
    )
    assert snapshot(repo) == before


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders it may not search")
@pytest.mark.parametrize(
    "command",
    [["migration", "new", "x"], ["migration", "new", "x", "--dry-run"], ["sync-check"]],
    ids=["migration-new", "dry-run", "sync-check"],
)
def test_a_folder_it_may_not_search_is_one_error_line(repo: Path, command: list[str]) -> None:
    # The folder holding the schema and the migrations, without search permission (mode 000):
    # migration new ended in a PermissionError traceback, exit 1 (Path.is_dir raises it).
    (repo / "pkg").chmod(0)
    try:
        proc = subprocess.run(
            [EXE, *command, "--root", repo], capture_output=True, text=True, check=False
        )
    finally:
        (repo / "pkg").chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot read pkg/"), proc.stderr
    assert proc.stderr.endswith(": Permission denied\n"), proc.stderr


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders it may not search")
@pytest.mark.parametrize(
    "command",
    [["migration", "new", "x"], ["migration", "new", "x", "--dry-run"], ["sync-check"]],
    ids=["migration-new", "dry-run", "sync-check"],
)
def test_a_migrations_folder_it_may_list_but_not_search_is_one_error_line(
    repo: Path, command: list[str]
) -> None:
    # The migrations folder at mode 600 (its names listed, its entries not looked at):
    # migration new ended in a PermissionError traceback, exit 1 (Path.is_symlink raises it).
    folder = next(p.parent for p in repo.rglob("0001_*.sql"))
    folder.chmod(0o600)
    try:
        proc = subprocess.run(
            [EXE, *command, "--root", repo], capture_output=True, text=True, check=False
        )
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    rel = folder.relative_to(repo).as_posix()
    assert proc.stderr.startswith(f"error: cannot read {rel}/0001_"), proc.stderr
    assert proc.stderr.endswith(": Permission denied\n"), proc.stderr


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders it may not list")
@pytest.mark.parametrize(
    "command",
    [["migration", "new", "x"], ["sync"], ["sync", "--dry-run"], ["sync-check"], ["update"]],
    ids=["migration-new", "sync", "sync-dry-run", "sync-check", "update"],
)
def test_a_root_it_may_not_read_is_one_error_line(repo: Path, command: list[str]) -> None:
    # sync and migration new printed Click's usage text ending "Error: Invalid value for
    # '--root': dir '…/repo' is not readable." (exit 2); sync-check and update named the file.
    (repo / ".tac-bootstrap.json").write_text("{}")  # update reads it first
    repo.chmod(0)
    try:
        proc = subprocess.run(
            [EXE, *command, "--root", repo], capture_output=True, text=True, check=False
        )
    finally:
        repo.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot read "), proc.stderr
    assert proc.stderr.endswith(": Permission denied\n"), proc.stderr


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files it may not read")
def test_a_models_module_it_may_not_read_is_named(repo: Path) -> None:
    # It said "error: /…/repo/pkg/models.py: the models module fails to import:
    # PermissionError: [Errno 13] Permission denied: '/proc/self/fd/5/models.py'".
    (repo / "pkg" / "models.py").chmod(0)
    proc = subprocess.run(
        [EXE, "sync-check", "--no-cache", "--root", repo], capture_output=True, text=True
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: cannot read pkg/models.py: Permission denied\n",
    )


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads what it may not read")
@pytest.mark.parametrize(
    ("rel", "mode"),
    [("src/p/database_migrate.py", 0o000), ("src/p/database_errors.py", 0o200), ("src/p", 0o300)],
    ids=["imported-000", "imported-200", "folder-300"],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_what_a_checked_module_imports_and_may_not_read_is_named(
    tmp_path: Path, rel: str, mode: int, fmt: str
) -> None:
    # The child's import said "error: /…/src/p/database.py: the database module fails to import:
    # PermissionError: [Errno 13] Permission denied: '/proc/self/fd/6/database_migrate.py'", and
    # for the folder (searchable, not readable) "ModuleNotFoundError: No module named
    # '_tac_bootstrap_checked.database_errors'": it named the module, not what to fix.
    made = subprocess.run(
        [EXE, "init", "p", "--with-orchestrator"], cwd=tmp_path, capture_output=True
    )
    assert made.returncode == 0
    (tmp_path / "p" / rel).chmod(mode)
    proc = subprocess.run(
        [EXE, "sync-check", "--no-cache", "--root", "p", "--format", fmt],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    (tmp_path / "p" / rel).chmod(0o755)
    assert (proc.returncode, proc.stderr) == (2, f"error: cannot read {rel}: Permission denied\n")


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files it may not read")
@pytest.mark.parametrize("rel", ["README.md", "src/p/schema_orchestrator.sql"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["run", "dry-run"])
def test_a_diagram_sync_may_not_read_is_one_error_line(
    tmp_path: Path, rel: str, dry_run: list[str]
) -> None:
    # sync refused the diagram, exit 1: "README.md: diagram: cannot read README.md: Permission
    # denied (named by [tool.tac-bootstrap.sync.agreement] diagram)", where sync-check (and
    # every other file sync cannot read) said "error: cannot read …", exit 2.
    made = subprocess.run(
        [EXE, "init", "p", "--with-orchestrator"], cwd=tmp_path, capture_output=True
    )
    assert made.returncode == 0
    (tmp_path / "p" / rel).chmod(0)
    proc = subprocess.run(
        [EXE, "sync", "--root", "p", *dry_run], cwd=tmp_path, capture_output=True, text=True
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        f"error: cannot read {rel}: Permission denied\n",
    )


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root lists folders it may not read")
@pytest.mark.parametrize("folder", ["templates/orch", "pkg/orch", "templates"])
@pytest.mark.parametrize("command", [["sync-check", "--no-cache"], ["sync-check"]])
def test_a_globbed_folder_it_may_not_list_is_one_error_line(
    tmp_path: Path, folder: str, command: list[str]
) -> None:
    # A folder a manifest glob lists, searchable but not readable (mode 300), was read as
    # empty: the templates (or BASE files) no pair names went unchecked, sync-check exit 0 "ok".
    # (templates itself is only passed through by `orch/**/*.j2`: it need not be listed.)
    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).parent / "fixtures" / "syncrepo", repo)
    (repo / folder).chmod(0o300)
    try:
        proc = subprocess.run(
            [EXE, *command, "--root", repo], capture_output=True, text=True, check=False
        )
    finally:
        (repo / folder).chmod(0o755)
    if folder == "templates":
        assert proc.returncode == 0, proc.stderr
        return
    assert (proc.returncode, proc.stderr) == (
        2,
        f"error: cannot read {folder}: Permission denied\n",
    )


def _file_size_limit(limit: int) -> Callable[[], None]:
    def limit_writes() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_writes


def test_a_write_that_fails_midway_leaves_every_file_as_it_was(repo: Path) -> None:
    # A file system that refuses the third file (full, or here: a file size limit) after the
    # first two were written left the migration and user_version written, SCHEMA_VERSION not.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    database = repo / "pkg/database.py"
    database.write_text(database.read_text() + "\n# padding\n" * 2000)
    before = snapshot(repo)
    proc = subprocess.run(
        [EXE, "migration", "new", "x", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=_file_size_limit(10_000),
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: cannot write pkg/database.py: File too large\n",
    )
    assert snapshot(repo) == before
    again = subprocess.run(
        [EXE, "migration", "new", "x", "--root", str(repo)], capture_output=True, check=False
    )
    assert again.returncode == 0
    assert chain_problems(repo) == []


@pytest.mark.parametrize("refused", [SCHEMA, "pkg/database.py"], ids=["schema", "database"])
def test_a_move_refused_after_others_were_made_puts_them_back(
    repo: Path, refused: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An immutable or append-only file (chattr +i/+a), or a file mounted in place, refuses
    # the rename onto it after the files before it were moved in: the migration was left
    # written and the versions unset, a chain one ahead of its schema.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    before = snapshot(repo)
    move = confine.move  # each rename that puts a file in place

    def refuse(source: Path, target: Path) -> None:
        if target == repo / refused:
            raise PermissionError(1, "Operation not permitted")
        move(source, target)

    monkeypatch.setattr(confine, "move", refuse)
    with pytest.raises(WriteError, match=f"^cannot write {refused}: Operation not permitted$"):
        new_migration(repo, "x")
    assert snapshot(repo) == before
    monkeypatch.undo()
    assert new_migration(repo, "x").path == "pkg/migrations/0003_x.sql"
    assert chain_problems(repo) == []


def test_a_folder_that_keeps_its_files_ends_in_one_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An append-only folder (chattr +a) takes new files but neither renames nor removes them:
    # removing the staged files raised PermissionError from the cleanup, a traceback.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    move, unlink = confine.move, Path.unlink

    def refuse(source: Path, target: Path) -> None:
        if target.parent == repo / "pkg":
            raise PermissionError(1, "Operation not permitted")
        move(source, target)

    def keep(self: Path, missing_ok: bool = False) -> None:
        if self.parent == repo / "pkg" and self.name.endswith(".tmp"):
            raise PermissionError(1, "Operation not permitted")
        unlink(self, missing_ok)

    monkeypatch.setattr(confine, "move", refuse)
    monkeypatch.setattr(Path, "unlink", keep)
    with pytest.raises(WriteError, match=r"^cannot write pkg/\S+: Operation not permitted$"):
        new_migration(repo, "x")
    assert not (repo / "pkg/migrations/0003_x.sql").exists()
    assert "PRAGMA user_version = 2;" in (repo / SCHEMA).read_text()


@pytest.mark.parametrize("line_end", [b"\r\n", b"\r\n# padding\r\n"], ids=["crlf", "crlf-more"])
def test_a_module_with_crlf_line_ends_gets_its_version_set(repo: Path, line_end: bytes) -> None:
    # A checkout with Windows line ends (git's core.autocrlf): `SCHEMA_VERSION = 2\r` was not
    # found ("expected one `SCHEMA_VERSION = N` line to set to 3, found 0").
    database = repo / "pkg/database.py"
    database.write_bytes(database.read_bytes().replace(b"\n", line_end))
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    assert new_migration(repo, "x").versions == ["pkg/database.py", SCHEMA]
    assert b"\r\nSCHEMA_VERSION = 3\r\n" in database.read_bytes()
    assert b"\n" not in database.read_bytes().replace(b"\r\n", b"")
    assert chain_problems(repo) == []


def test_a_module_with_a_byte_order_mark_is_read_as_python_reads_it(repo: Path) -> None:
    # Python takes a UTF-8 BOM opening a module as its encoding; the check called the module
    # "not valid Python: invalid non-printable character U+FEFF".
    database = repo / "pkg/database.py"
    database.write_bytes(b"\xef\xbb\xbf" + database.read_bytes())
    assert chain_problems(repo) == []
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    assert new_migration(repo, "x").versions == ["pkg/database.py", SCHEMA]
    assert database.read_bytes().startswith(b"\xef\xbb\xbf")
    assert chain_problems(repo) == []


@pytest.mark.parametrize("rel", [SCHEMA, "pkg/database.py"])
def test_an_edit_saved_while_it_runs_is_kept_and_nothing_is_written(
    repo: Path, rel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The version edit was made from the text read before: the edit saved meanwhile was lost.
    from tac_bootstrap import newmigration

    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    checked = newmigration._version_of

    saved = "\n-- saved meanwhile\n" if rel == SCHEMA else "\n# saved meanwhile\n"

    def saved_meanwhile(text: str, pattern: re.Pattern[str]) -> int | str | None:
        with (repo / rel).open("a") as file:
            file.write(saved)
        return checked(text, pattern)

    monkeypatch.setattr(newmigration, "_version_of", saved_meanwhile)
    with pytest.raises(InvalidInputError, match=f"^{rel} changed while migration new was running"):
        new_migration(repo, "x")
    assert (repo / rel).read_text().endswith(saved)
    assert sorted(p.name for p in (repo / "pkg/migrations").iterdir()) == [
        "0001_initial.sql",
        "0002_add_note.sql",
    ]


def test_a_migration_another_run_wrote_meanwhile_is_not_given_a_twin(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tac_bootstrap import newmigration

    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    verify = newmigration._verify

    def other_run(*args: object) -> None:
        verify(*args)  # type: ignore[arg-type]
        (repo / "pkg/migrations/0003_other.sql").write_text("PRAGMA user_version = 3;\n")

    monkeypatch.setattr(newmigration, "_verify", other_run)
    with pytest.raises(InvalidInputError, match=r"^pkg/migrations changed while migration new"):
        new_migration(repo, "x")
    assert not (repo / "pkg/migrations/0003_x.sql").exists()


@pytest.mark.parametrize("name", ["0003_x.sql", "0003_other.sql"], ids=["same-slug", "other-slug"])
def test_a_run_at_once_with_another_keeps_the_other_runs_migration(
    repo: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both runs checked the chain before either wrote: the last rename replaced the first
    # run's 0003 (the same slug), or two migrations 0003 were left (two slugs).
    from tac_bootstrap import newmigration

    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    check = newmigration._check_unchanged

    def other_run_writes(*args: object) -> None:
        check(*args)  # type: ignore[arg-type]
        (repo / "pkg/migrations" / name).write_text("-- the other run's\n")
        edit(repo / SCHEMA, "PRAGMA user_version = 2;", "PRAGMA user_version = 3;")

    monkeypatch.setattr(newmigration, "_check_unchanged", other_run_writes)
    message = f"^another migration new wrote 0003 \\({name}\\) while this one was running: "
    with pytest.raises(InvalidInputError, match=message + "nothing was written; run it again$"):
        new_migration(repo, "x")
    assert (repo / "pkg/migrations" / name).read_text() == "-- the other run's\n"
    assert sorted(p.name for p in (repo / "pkg/migrations").iterdir()) == sorted(
        ["0001_initial.sql", "0002_add_note.sql", name]
    )
    assert "PRAGMA user_version = 3;" in (repo / SCHEMA).read_text()
    assert "SCHEMA_VERSION = 2\n" in (repo / "pkg/database.py").read_text()


def test_a_project_without_migrations_folder_in_its_manifest_is_refused(repo: Path) -> None:
    edit(repo / "pyproject.toml", 'migrations = "pkg/migrations"\n', "")
    with pytest.raises(InvalidInputError, match="no migrations = "):
        new_migration(repo, "x")


@pytest.mark.parametrize(
    "kind", ["missing", "empty", "folder", "fifo", "dangling", "loop", "outside-folder"]
)
def test_a_pyproject_that_is_no_manifest_file_is_named_as_such(repo: Path, kind: str) -> None:
    # Each said `pyproject.toml: no migrations = "<folder>" in
    # [tool.tac-bootstrap.sync.agreement]: say where the migrations live` (and sync: "no
    # [tool.tac-bootstrap.sync] manifest in pyproject.toml" for a folder, FIFO or link).
    manifest = repo / "pyproject.toml"
    manifest.unlink()
    if kind == "empty":
        manifest.write_text("")
    elif kind == "folder":
        manifest.mkdir()
    elif kind == "fifo":
        os.mkfifo(manifest)
    elif kind == "dangling":
        manifest.symlink_to("nowhere.toml")
    elif kind == "loop":
        manifest.symlink_to("pyproject.toml")
    elif kind == "outside-folder":
        manifest.symlink_to(repo.parent)
    said = {
        "missing": f"{repo}: no [tool.tac-bootstrap.sync] manifest in pyproject.toml",
        "empty": f"{repo}: no [tool.tac-bootstrap.sync] manifest in pyproject.toml",
        "folder": f"{manifest}: not a regular file (a folder)",
        "fifo": f"{manifest}: not a regular file (a FIFO)",
        "dangling": f"{manifest}: a symbolic link to nothing, not a file",
        "loop": f"cannot read {manifest}: Too many levels of symbolic links",
        "outside-folder": (
            f"pyproject.toml resolves to {repo.parent}, outside {repo}: refusing to read or "
            "write it"
        ),
    }[kind]
    for command in (["migration", "new", "x"], ["sync"], ["sync-check", "--no-cache"]):
        if command[0] == "sync-check" and kind in ("missing", "empty"):
            continue  # a repository without a manifest: "nothing to check"
        proc = subprocess.run(
            [EXE, *command, "--root", str(repo)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert (proc.returncode, proc.stderr) == (2, f"error: {said}\n"), command


def test_a_broken_chain_is_refused(repo: Path) -> None:
    edit(repo / "pkg/migrations/0002_add_note.sql", "ALTER TABLE tasks", "ALTER TABLE task")
    with pytest.raises(InvalidInputError, match=r"^fix the migrations first: "):
        new_migration(repo, "x")


def test_dry_run_prints_the_migration_and_writes_nothing(repo: Path) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    before = snapshot(repo)
    result = CliRunner().invoke(
        app, ["migration", "new", "add_due", "--dry-run", "--root", str(repo)]
    )
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "-- Migration 0003 (add_due): takes the database from version 2 to 3.\n"
    )
    assert result.stdout.endswith(
        "ALTER TABLE tasks ADD COLUMN due TEXT;\n\nPRAGMA user_version = 3;\n"
    )
    assert result.stderr == (
        "would write pkg/migrations/0003_add_due.sql; "
        "version 3 in pkg/database.py, pkg/schema.sql\n"
    )
    assert snapshot(repo) == before


@pytest.mark.skipif(shutil.which("chattr") is None, reason="no chattr")
@pytest.mark.parametrize("locked", [SCHEMA, "pkg/database.py", "pkg/migrations"])
def test_dry_run_refuses_what_the_run_refuses(repo: Path, locked: str) -> None:
    # An immutable schema: the run said "cannot write pkg/schema.sql", the dry run exit 0.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    before = snapshot(repo)
    done = subprocess.run(["chattr", "+i", str(repo / locked)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not allowed here: {done.stderr.decode().strip()}")
    try:
        runs = [
            subprocess.run(
                [EXE, "migration", "new", "add_due", *dry, "--root", str(repo)],
                capture_output=True,
                text=True,
                check=False,
            )
            for dry in (["--dry-run"], [])
        ]
    finally:
        subprocess.run(["chattr", "-i", str(repo / locked)], check=True)
    dry_run, real = runs
    assert real.returncode == 2, real.stderr
    assert (dry_run.returncode, dry_run.stdout, dry_run.stderr) == (2, "", real.stderr)
    assert real.stderr.startswith(f"error: cannot write {locked}")
    assert snapshot(repo) == before


def test_the_installed_command_writes_the_migration(repo: Path) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    proc = subprocess.run(
        [EXE, "migration", "new", "add_due", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (0, "pkg/migrations/0003_add_due.sql\n"), proc.stderr
    assert chain_problems(repo) == []


def test_the_first_migration_of_an_empty_folder_creates_everything(repo: Path) -> None:
    for migration in (repo / "pkg/migrations").iterdir():
        migration.unlink()
    edit(repo / SCHEMA, "user_version = 2", "user_version = 1")
    edit(repo / "pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION = 1")
    result = new_migration(repo, "initial")
    assert result.path == "pkg/migrations/0001_initial.sql"
    assert statements(result.sql)[0].startswith("CREATE TABLE owners (")
    assert chain_problems(repo) == []


def behind(root: Path) -> None:
    (root / "pkg/migrations/0002_add_note.sql").unlink()
    edit(root / SCHEMA, "user_version = 2", "user_version = 3")
    edit(root / "pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION = 3")


@pytest.mark.parametrize(
    ("change", "version", "ends"),
    [
        (lambda root: shutil.rmtree(root / "pkg/migrations"), 2, "0000"),  # a misnamed folder
        (behind, 3, "0001"),
    ],
)
def test_a_chain_behind_the_schema_version_is_refused_not_set_back(
    repo: Path, change: Callable[[Path], None], version: int, ends: str
) -> None:
    change(repo)
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
    before = snapshot(repo)
    result = CliRunner().invoke(app, ["migration", "new", "x", "--root", str(repo)])
    # It wrote the next number after the chain and set both versions back to it.
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: fix the migrations first: pkg/schema.sql says PRAGMA user_version = {version}, "
        f"but pkg/migrations ends at {ends}: a migration {int(ends) + 1:04d} would set the "
        "version back\n",
    )
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("agents", "agents"), ("order", '"order"'), ("a b", '"a b"'), ('x"y', '"x""y"')],
)
def test_quote(name: str, quoted: str) -> None:
    assert quote(name) == quoted


def test_rename_parse() -> None:
    assert Rename.parse("t.a:b") == Rename("t", "a", "b")
    assert Rename.parse("a:b") == Rename(None, "a", "b")


CREATE_ROWS = """
import asyncio, sys
from my_app.database import Database
from my_app.orch_database_models import (
    Agent, AiDeveloperWorkflow, OrchestratorAgent, OrchestratorChat, Prompt,
)

async def main() -> None:
    async with Database.open(sys.argv[1]) as db:
        boss = await db.create(OrchestratorAgent(name="planner"))
        for i in range(2):
            agent = await db.create(
                Agent(orchestrator_agent_id=boss.id, name=f"agent{i}", model="m")
            )
            await db.create(Prompt(agent_id=agent.id, content="hi", cost_usd=1.5))
            await db.log_agent(agent.id, "event", "started")
            await db.create(OrchestratorChat(
                orchestrator_agent_id=boss.id, sender_type="user", receiver_type="agent",
                message="m", agent_id=agent.id,
            ))
        await db.create(AiDeveloperWorkflow(
            orchestrator_agent_id=boss.id, adw_name="x", workflow_type="y"
        ))
        await db.log_system("info", "up")

asyncio.run(main())
"""

READ_AGENTS = """
import asyncio, sys
from my_app.database import Database
from my_app.orch_database_models import Agent

async def main() -> None:
    async with Database.open(sys.argv[1]) as db:
        for agent in await db.list_rows(Agent, limit=None):
            print(agent.title, agent.priority)

asyncio.run(main())
"""


def run_in_project(project: Path, script: str, db: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script, str(db)],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(project / "src"), "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def all_rows(db: Path) -> dict[str, dict[str, dict[str, object]]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    rows = {
        name: {r["id"]: dict(r) for r in conn.execute(f"SELECT * FROM {name}")}  # noqa: S608
        for name in names
    }
    conn.close()
    return rows


def test_a_generated_project_through_four_changes_keeps_every_row(tmp_path: Path) -> None:
    """Widen a CHECK, add a NOT NULL column with a default, drop a column, rename one.

    The database module builds its statements from the models: the model, the schema and the
    migration are the whole change.
    """
    from tac_bootstrap import scaffold, sync
    from tac_bootstrap.spec import ProjectSpec

    project = tmp_path / "my-app"
    scaffold.init(ProjectSpec.build("my-app", with_orchestrator=True), project)
    package = project / "src" / "my_app"
    models, schema = package / "orch_database_models.py", package / "schema_orchestrator.sql"
    db = tmp_path / "orchestrator.db"
    run_in_project(project, CREATE_ROWS, db)
    before = all_rows(db)
    assert {len(before[t]) for t in before} == {1, 2}

    edit(models, '"active", "inactive", "archived"]', '"active", "inactive", "archived", "paused"]')
    edit(
        schema, "('active', 'inactive', 'archived')", "('active', 'inactive', 'archived', 'paused')"
    )
    assert new_migration(project, "pause_orchestrators").number == 4

    edit(
        models,
        "    completed_at: Timestamp | None = None\n\n\nclass Prompt",
        "    completed_at: Timestamp | None = None\n    priority: int = 0\n\n\nclass Prompt",
    )
    edit(
        schema,
        "        )\n    )\n);\n\nCREATE TABLE IF NOT EXISTS prompts",
        "        )\n    ),\n    priority INTEGER NOT NULL DEFAULT 0\n);\n\n"
        "CREATE TABLE IF NOT EXISTS prompts",
    )
    assert "ALTER TABLE agents ADD COLUMN priority" in new_migration(project, "agent_priority").sql

    edit(
        models,
        "    model: str | None = None\n    status: Annotated[AgentStatus",
        "    status: Annotated[AgentStatus",
    )
    edit(
        schema,
        "    model TEXT,\n    status TEXT NOT NULL DEFAULT 'pending'",
        "    status TEXT NOT NULL DEFAULT 'pending'",
    )
    assert "rebuilds table agents (drops column model)" in new_migration(project, "drop_model").sql

    edit(
        models,
        "    name: str | None = None\n    status: Annotated[AgentStatus",
        "    title: str | None = None\n    status: Annotated[AgentStatus",
    )
    edit(
        schema,
        "    name TEXT,\n    status TEXT NOT NULL DEFAULT 'pending'",
        "    title TEXT,\n    status TEXT NOT NULL DEFAULT 'pending'",
    )
    with pytest.raises(MigrationRefusedError, match=r"--rename agents\.name:title"):
        new_migration(project, "agent_title")
    renamed = new_migration(project, "agent_title", renames=["agents.name:title"])
    assert (renamed.number, statements(renamed.sql)[0]) == (
        7,
        "ALTER TABLE agents RENAME COLUMN name TO title;",
    )

    sync.fix(project)  # redraws the README's schema diagram
    report = sync.check(project)
    assert [p for p in report.problems if p.kind != "edited"] == []

    assert run_in_project(project, READ_AGENTS, db) == "agent0 0\nagent1 0\n"
    after = all_rows(db)
    for row in before["agents"].values():
        row["title"] = row.pop("name")
        del row["model"]
        row["priority"] = 0
    assert after == before
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA user_version").fetchone() == (7,)
    conn.close()


@pytest.mark.parametrize("name", [SCHEMA, "pkg/database.py"])
def test_a_schema_or_module_linked_out_of_the_root_is_neither_read_nor_written(
    repo: Path, tmp_path: Path, name: str
) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    outside = tmp_path / "outside" / Path(name).name
    outside.parent.mkdir()
    shutil.move(repo / name, outside)
    (repo / name).symlink_to(outside)
    before, kept = snapshot(repo), outside.read_bytes()
    result = CliRunner().invoke(app, ["migration", "new", "due", "--root", str(repo)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {name} resolves to {outside}, outside ")
    assert snapshot(repo) == before
    assert outside.read_bytes() == kept


def test_a_schema_that_is_not_utf8_is_refused_not_a_traceback(repo: Path) -> None:
    with (repo / SCHEMA).open("ab") as schema:
        schema.write(b"-- \xff\n")
    before = snapshot(repo)
    result = subprocess.run(
        [EXE, "migration", "new", "x", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {SCHEMA} is not UTF-8 text (byte 0xff")
    assert "Traceback" not in result.stderr
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("SCHEMA_VERSION = 2\nSCHEMA_VERSION = 1", ": SCHEMA_VERSION is set 2 times (lines 7, 8)"),
        ("SCHEMA_VERSION = 2.0", ": no SCHEMA_VERSION = <int> at the top level"),
        ("SCHEMA_VERSION = 2 + 0", ": no SCHEMA_VERSION = <int> at the top level"),
        ("SCHEMA_VERSION = 0_2", ":7: not valid Python: "),  # was a traceback
        ("SCHEMA_VERSION = " + "9" * 5000, ":7: not valid Python: "),  # too long for int()
    ],
    ids=["twice", "float", "expression", "leading-zero", "5000-digits"],
)
def test_a_module_whose_version_cannot_be_set_safely_is_refused(
    repo: Path, version: str, message: str
) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    edit(repo / "pkg/database.py", "SCHEMA_VERSION = 2", version)
    before = snapshot(repo)
    with pytest.raises(InvalidInputError, match=rf"^pkg/database.py{re.escape(message)}"):
        new_migration(repo, "due")
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        (  # the version in octal: the only line the pattern finds is in the docstring
            "pkg/database.py",
            "SCHEMA_VERSION = 2",
            '"""\nSCHEMA_VERSION = 2\n"""\nSCHEMA_VERSION = 0o2',
            "pkg/database.py:8: this `SCHEMA_VERSION = N` line is not the one that sets",
        ),
        (  # the pragma in call form: the only line the pattern finds is in a comment
            SCHEMA,
            "PRAGMA user_version = 2;",
            "/*\nPRAGMA user_version = 2;\n*/\nPRAGMA user_version(2);",
            f"{SCHEMA}:4: this `PRAGMA user_version = N` line is not the one that sets",
        ),
        (  # 0x2: the pattern reads the 0, and 4x2 would not run
            SCHEMA,
            "PRAGMA user_version = 2;",
            "PRAGMA user_version = 0x2;",
            f"{SCHEMA}:3: this `PRAGMA user_version = N` line is not the one that sets",
        ),
    ],
    ids=["docstring", "comment", "hex"],
)
def test_a_version_line_that_does_not_set_the_version_is_not_edited(
    repo: Path, path: str, old: str, new: str, message: str
) -> None:
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    edit(repo / path, old, new)
    before = snapshot(repo)
    with pytest.raises(InvalidInputError, match=f"^{re.escape(message)}"):
        new_migration(repo, "due")
    assert snapshot(repo) == before


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def staged_only(root: Path, done: dict[str, bytes], pid: int) -> None:
    """Killed after staging: nothing placed, the staged files left."""
    (root / f"pkg/migrations/.0003_add_due.sql.{pid}.tmp").write_bytes(done[MIGRATION])
    (root / f"pkg/.schema.sql.{pid}.tmp").write_bytes(done[SCHEMA])


def placed(root: Path, done: dict[str, bytes], pid: int) -> None:
    """Killed after placing the migration (a link of the staged file), before the versions."""
    staged_only(root, done, pid)
    os.link(root / f"pkg/migrations/.0003_add_due.sql.{pid}.tmp", root / MIGRATION)


def half_replaced(root: Path, done: dict[str, bytes], pid: int) -> None:
    """Killed between replacing the schema and the database module: originals kept."""
    placed(root, done, pid)
    (root / f"pkg/.database.py.{pid}.tmp").write_bytes(done["pkg/database.py"])
    for rel in (SCHEMA, "pkg/database.py"):
        os.link(root / rel, root / f"pkg/.{Path(rel).name}.{pid}.orig")
    (root / f"pkg/.schema.sql.{pid}.tmp").replace(root / SCHEMA)


def all_but_the_cleanup(root: Path, done: dict[str, bytes], pid: int) -> None:
    """Killed after every file was in place, before the staged migration was removed."""
    placed(root, done, pid)
    (root / f"pkg/.schema.sql.{pid}.tmp").unlink()
    for rel in (SCHEMA, "pkg/database.py"):
        (root / rel).write_bytes(done[rel])


MIGRATION = "pkg/migrations/0003_add_due.sql"


def moved(root: Path, done: dict[str, bytes], pid: int) -> None:
    """No hard links (vfat): the staged migration moved to its name, the versions staged."""
    (root / f"pkg/migrations/.0003_add_due.sql.{pid}.tmp").write_bytes(done[MIGRATION])
    for rel in (SCHEMA, "pkg/database.py"):
        (root / f"pkg/.{Path(rel).name}.{pid}.tmp").write_bytes(done[rel])
    (root / f"pkg/migrations/.0003_add_due.sql.{pid}.tmp").replace(root / MIGRATION)


def moved_and_kept(root: Path, done: dict[str, bytes], pid: int) -> None:
    """No hard links: moved, and the version files' originals kept as copies."""
    moved(root, done, pid)
    for rel in (SCHEMA, "pkg/database.py"):
        shutil.copyfile(root / rel, root / f"pkg/.{Path(rel).name}.{pid}.orig")


def moved_half_replaced(root: Path, done: dict[str, bytes], pid: int) -> None:
    """No hard links: killed between replacing the schema and the database module."""
    moved_and_kept(root, done, pid)
    (root / f"pkg/.schema.sql.{pid}.tmp").replace(root / SCHEMA)


def moved_all_but_the_cleanup(root: Path, done: dict[str, bytes], pid: int) -> None:
    """No hard links: every file in place, the copies of the originals left."""
    moved_half_replaced(root, done, pid)
    (root / f"pkg/.database.py.{pid}.tmp").replace(root / "pkg/database.py")


@pytest.mark.parametrize(
    ("killed", "message"),
    [
        (staged_only, "wrote pkg/migrations/0003_add_due.sql; version 3 in"),
        (placed, "set version 3 in pkg/database.py, pkg/schema.sql: pkg/migrations/0003_add_due"),
        (half_replaced, "set version 3 in pkg/database.py: pkg/migrations/0003_add_due.sql was"),
        (all_but_the_cleanup, "no changes: the migrations already build the schema (version 3)"),
        (moved, "set version 3 in pkg/database.py, pkg/schema.sql: pkg/migrations/0003_add_due"),
        (moved_and_kept, "set version 3 in pkg/database.py, pkg/schema.sql: pkg/migrations/0003"),
        (moved_half_replaced, "set version 3 in pkg/database.py: pkg/migrations/0003_add_due.sql"),
        (moved_all_but_the_cleanup, "no changes: the migrations already build the schema"),
    ],
    ids=[
        *("staged", "placed", "half-replaced", "all-but-cleanup"),
        *("moved", "moved-kept", "moved-half-replaced", "moved-all-but-cleanup"),
    ],
)
def test_the_run_after_a_killed_one_finishes_its_migration_and_clears_what_it_left(
    repo: Path,
    tmp_path: Path,
    killed: Callable[[Path, dict[str, bytes], int], None],
    message: str,
) -> None:
    # A kill -9 between placing the migration and setting the versions left a chain one ahead
    # of its versions: the next run said "no changes" and sync-check failed for good; the
    # staged `.0003_add_due.sql.<pid>.tmp` of a killed run stayed for ever.
    # Where the file system has no hard links (moved…), a kill after the migration was moved
    # to its name left 0003 with the versions at 2: "no changes" (exit 0) the same way.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    reference = tmp_path / "reference"
    shutil.copytree(repo, reference)
    new_migration(reference, "add_due")
    done = snapshot(reference)
    killed(repo, done, dead_pid())
    proc = subprocess.run(
        [EXE, "migration", "new", "add_due", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr.startswith(message)) == (0, True), proc.stderr
    assert snapshot(repo) == done
    assert chain_problems(repo) == []


# Sends SIGTERM to the installed script's process right after it removes the first copy it
# kept of a file it replaced (`.<name>.<pid>.orig`): after its last write.
STOP_AFTER_THE_LAST_WRITE_SITE = """
import os, signal
real = os.unlink
def unlink(path, *args, **kwargs):
    done = real(path, *args, **kwargs)
    if os.fspath(path).endswith(".orig"):
        os.unlink = real
        os.kill(os.getpid(), signal.SIGTERM)
    return done
os.unlink = unlink
"""


def test_a_stop_after_the_run_after_a_killed_one_set_the_versions_says_so(
    repo: Path, tmp_path: Path
) -> None:
    # It ended with `error: interrupted by SIGTERM` alone, the versions set.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    reference = tmp_path / "reference"
    shutil.copytree(repo, reference)
    new_migration(reference, "add_due")
    done = snapshot(reference)
    placed(repo, done, dead_pid())
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(STOP_AFTER_THE_LAST_WRITE_SITE)
    proc = subprocess.run(
        [EXE, "migration", "new", "add_due", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    said = "the versions were set; run it again to remove what the stopped run left"
    assert (proc.returncode, proc.stderr) == (143, f"error: interrupted by SIGTERM; {said}\n")
    again = subprocess.run(
        [EXE, "migration", "new", "add_due", "--root", str(repo)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert snapshot(repo) == done


def test_a_killed_runs_staged_version_file_that_is_not_the_edit_sets_nothing(repo: Path) -> None:
    # The staged schema of a gone process that does not hold this file with the chain's last
    # number (another command's, or an edit since) is no sign that migration was that run's.
    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    new_migration(repo, "add_due")
    text = (repo / SCHEMA).read_text()
    (repo / SCHEMA).write_text(text.replace("user_version = 3", "user_version = 2"))
    pid = dead_pid()
    (repo / f"pkg/.schema.sql.{pid}.tmp").write_text(text.replace("due TEXT", "due INTEGER"))
    proc = subprocess.run(
        [EXE, "migration", "new", "add_due", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr.startswith("no changes")) == (0, True), proc.stderr
    assert "user_version = 2" in (repo / SCHEMA).read_text()


@pytest.mark.parametrize(
    ("kind", "note"),
    [
        ("dangling-link", ": a symbolic link to pkg/nowhere, which does not exist"),
        ("looping-link", ": a symbolic link that loops (it leads back to itself)"),
        ("link-to-a-file", ": a symbolic link to pkg/database.py, a file"),
        ("fifo", ""),
    ],
)
def test_a_migrations_folder_that_is_a_link_to_nothing_or_a_fifo_is_named_as_such(
    repo: Path, kind: str, note: str
) -> None:
    # A link to nothing said "… says PRAGMA user_version = 2, but pkg/migrations ends at
    # 0000: a migration 0001 would set the version back", as if the folder were missing;
    # sync-check names it "not a folder". A link is named with where it leads (it said
    # "not a folder" alone, as for a FIFO).
    folder = repo / "pkg" / "migrations"
    shutil.rmtree(folder)
    if kind == "fifo":
        os.mkfifo(folder)
    else:
        folder.symlink_to(
            {"looping-link": "migrations", "link-to-a-file": "database.py"}.get(kind, "nowhere")
        )
    before = snapshot(repo)
    with pytest.raises(InvalidInputError) as caught:
        new_migration(repo, "due")
    assert str(caught.value) == (
        f"fix the migrations first: pkg/migrations: named by the manifest but not a folder{note}"
    )
    assert snapshot(repo) == before


def test_a_migrations_folder_that_is_a_file_is_named_as_such(repo: Path) -> None:
    # It said "… says PRAGMA user_version = 2, but pkg/database.py ends at 0000: a migration
    # 0001 would set the version back", as if the chain were empty.
    edit(repo / "pyproject.toml", 'migrations = "pkg/migrations"', 'migrations = "pkg/database.py"')
    before = snapshot(repo)
    with pytest.raises(InvalidInputError) as caught:
        new_migration(repo, "due")
    assert str(caught.value) == (
        "fix the migrations first: pkg/database.py: named by the manifest but not a folder"
    )
    assert snapshot(repo) == before


def test_a_migrations_folder_made_a_link_into_git_while_it_writes_is_not_written_through(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pkg/migrations made a link to .git/m after the manifest was checked: migration new
    # wrote .git/m/0003_add_due.sql (exit 0). Each file is checked again where it is staged.
    from tac_bootstrap import confine, newmigration

    edit(repo / SCHEMA, "    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    (repo / ".git").mkdir()
    real_stage = confine.stage

    def stage(root: Path, rel: str, data: bytes, *, shown: str | None = None) -> Any:
        if not (repo / "pkg" / "migrations").is_symlink():
            shutil.move(repo / "pkg" / "migrations", repo / ".git" / "m")
            (repo / "pkg" / "migrations").symlink_to("../.git/m", target_is_directory=True)
        return real_stage(root, rel, data, shown=shown)

    monkeypatch.setattr(newmigration, "stage", stage)
    before = snapshot(repo)
    with pytest.raises(confine.NotAFileError, match=r"^pkg/migrations/0003_add_due\.sql is under"):
        new_migration(repo, "add_due")
    moved = {k.replace("pkg/migrations/", ".git/m/"): v for k, v in before.items()}
    assert snapshot(repo) == moved  # nothing written, in .git or anywhere
