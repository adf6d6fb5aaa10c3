"""The migration chain check: numbers, versions, and chain-equals-schema, each problem named.

Each test copies ``tests/fixtures/migrepo`` (a project whose two migrations build its schema)
into ``tmp_path`` and breaks one thing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tac_bootstrap import chain, introspect, sync
from tac_bootstrap.cli import app
from tac_bootstrap.confine import NotUtf8Error, OutsideRootError, private_folder
from tac_bootstrap.manifest import Agreement, load_manifest
from tac_bootstrap.newmigration import new_migration
from tac_bootstrap.report import Problem
from tac_bootstrap.sqlcheck import UnsafeSchemaError

FIXTURE = Path(__file__).parent / "fixtures" / "migrepo"
M1 = "pkg/migrations/0001_initial.sql"
M2 = "pkg/migrations/0002_add_note.sql"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def messages(root: Path) -> list[str]:
    manifest = load_manifest(root)
    assert manifest is not None
    assert manifest.agreement is not None
    return [f"{p.path}: {p.message}" for p in chain.check_migrations(root, manifest.agreement)]


def test_fixture_chain_builds_its_schema(repo: Path) -> None:
    assert messages(repo) == []
    report = sync.check(repo)
    assert report.ok, report.render_text()
    assert report.checked == 2  # the agreement and the chain


def test_unchanged_chain_is_skipped_on_the_next_check(repo: Path, tmp_path: Path) -> None:
    if not private_folder(tmp_path / "cache"):
        # pytest's --basetemp below a folder another user may write (mode 777, not sticky):
        # the check keeps no cache there, by design (README), so nothing can be skipped.
        pytest.skip("the temporary folder is below one another user may write: no cache")
    assert sync.check(repo, cache_dir=tmp_path / "cache").skipped == 0
    assert sync.check(repo, cache_dir=tmp_path / "cache").skipped == 2
    edit(repo / M2, "ADD COLUMN note TEXT", "ADD COLUMN note BLOB")
    report = sync.check(repo, cache_dir=tmp_path / "cache")
    # The migrations folder is beside the models, which may read it: both checked again.
    assert (report.skipped, len(report.problems)) == (0, 1)


def test_a_migration_edited_while_checked_is_not_recorded_as_matching(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(repo / M2, "ADD COLUMN note TEXT", "ADD COLUMN note BLOB")
    real = chain.check_migrations

    def fixed_meanwhile(root: Path, agreement: Agreement, _shared: object = None) -> list[Problem]:
        edit(root / M2, "ADD COLUMN note BLOB", "ADD COLUMN note TEXT")
        return real(root, agreement)

    monkeypatch.setattr(chain, "check_migrations", fixed_meanwhile)
    assert sync.check(repo, cache_dir=tmp_path / "cache").ok
    monkeypatch.undo()
    edit(repo / M2, "ADD COLUMN note TEXT", "ADD COLUMN note BLOB")
    report = sync.check(repo, cache_dir=tmp_path / "cache")
    assert [p.path for p in report.problems] == [M2]


def forgets(path: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda root: edit(root / path, old, new)


AFTER = f"{M2}: after 0002, "
TRIGGER = """CREATE TRIGGER trg_owners_cascade_name
AFTER UPDATE OF name ON owners FOR EACH ROW
BEGIN
    UPDATE tasks SET note = NEW.name WHERE owner_id = NEW.id AND note IS NULL;
END;"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            forgets(
                M1, "CREATE INDEX idx_tasks_open ON tasks (priority) WHERE status = 'todo';", ""
            ),
            "index idx_tasks_open: the chain says no such index, "
            "the schema says ON tasks(priority) WHERE status = 'todo'",
            id="an-index",
        ),
        pytest.param(
            forgets(M1, "WHERE status = 'todo';", ";"),
            "index idx_tasks_open: the chain says ON tasks(priority), "
            "the schema says ON tasks(priority) WHERE status = 'todo'",
            id="a-partial-index-where",
        ),
        pytest.param(
            forgets(
                M1, "CREATE INDEX idx_tasks_owner_id", "CREATE UNIQUE INDEX idx_tasks_owner_id"
            ),
            "index idx_tasks_owner_id: the chain says UNIQUE ON tasks(owner_id), "
            "the schema says ON tasks(owner_id)",
            id="index-unique",
        ),
        pytest.param(
            forgets(M2, TRIGGER, ""),
            "trigger trg_owners_cascade_name: the chain says no such trigger, "
            "the schema says AFTER UPDATE OF name ON owners FOR EACH ROW BEGIN UPDATE tasks "
            "SET note = NEW.name WHERE owner_id = NEW.id AND note IS NULL; END",
            id="a-trigger",
        ),
        pytest.param(
            forgets(M2, "note IS NULL;", "note IS NOT NULL;"),
            "trigger trg_owners_cascade_name: the chain says AFTER UPDATE OF name ON owners "
            "FOR EACH ROW BEGIN UPDATE tasks SET note = NEW.name WHERE owner_id = NEW.id AND "
            "note IS NOT NULL; END, the schema says AFTER UPDATE OF name ON owners FOR EACH ROW "
            "BEGIN UPDATE tasks SET note = NEW.name WHERE owner_id = NEW.id AND note IS NULL; END",
            id="a-trigger-body",
        ),
        pytest.param(
            forgets(M1, "('todo', 'done')", "('todo')"),
            "tasks.status: the chain says CHECK (status IN ('todo')), "
            "the schema says CHECK (status IN ('todo', 'done'))",
            id="a-check-value",
        ),
        pytest.param(
            forgets(M1, "DEFAULT 0 CHECK (priority", "CHECK (priority"),
            "tasks.priority: the chain says no default, the schema says DEFAULT 0",
            id="a-default",
        ),
        pytest.param(
            forgets(M1, "DEFAULT 'todo'", "DEFAULT 'done'"),
            "tasks.status: the chain says DEFAULT 'done', the schema says DEFAULT 'todo'",
            id="another-default",
        ),
        pytest.param(
            forgets(M1, "REFERENCES owners(id) ON DELETE CASCADE", "REFERENCES owners(id)"),
            "tasks.owner_id: the chain says REFERENCES owners(id), "
            "the schema says REFERENCES owners(id) ON DELETE CASCADE",
            id="an-fk-action",
        ),
        pytest.param(
            forgets(
                M1,
                "owner_id TEXT NOT NULL REFERENCES owners(id) ON DELETE CASCADE",
                "owner_id TEXT NOT NULL",
            ),
            "tasks.owner_id: the chain says no foreign key, "
            "the schema says REFERENCES owners(id) ON DELETE CASCADE",
            id="a-foreign-key",
        ),
        pytest.param(
            forgets(M1, "name TEXT NOT NULL", "name TEXT"),
            "owners.name: the chain says NULL allowed, the schema says NOT NULL",
            id="not-null",
        ),
        pytest.param(
            forgets(M1, "priority INTEGER", "priority REAL"),
            "tasks.priority: the chain says REAL, the schema says INTEGER",
            id="a-type",
        ),
        pytest.param(
            forgets(
                M1,
                "    status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'done')),\n"
                "    priority INTEGER NOT NULL DEFAULT 0 CHECK (priority >= 0),\n",
                "    priority INTEGER NOT NULL DEFAULT 0 CHECK (priority >= 0),\n"
                "    status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'done')),\n",
            ),
            "tasks: the chain says (id, owner_id, priority, status, metadata, note), "
            "the schema says (id, owner_id, status, priority, metadata, note)",
            id="column-order",
        ),
        pytest.param(
            forgets(
                M1, "    name TEXT NOT NULL\n", "    name TEXT NOT NULL,\n    CHECK (name <> '')\n"
            ),
            "owners: the chain says CHECK (name <> ''), the schema says none",
            id="a-table-check",
        ),
        pytest.param(
            forgets(M1, "    name TEXT NOT NULL\n", "    name TEXT NOT NULL UNIQUE\n"),
            "owners: the chain says UNIQUE (name), the schema says none",
            id="a-unique-constraint",
        ),
        pytest.param(
            forgets(M1, "CREATE TABLE owners (", "CREATE TABLE owners (\n    extra TEXT,"),
            "owners.extra: the chain says column extra TEXT, the schema says no such column",
            id="an-extra-column",
        ),
        pytest.param(
            forgets(
                M1,
                "\nPRAGMA user_version = 1;",
                "\nCREATE TABLE spare (id INTEGER);\nPRAGMA user_version = 1;",
            ),
            "spare: the chain says table spare (id), the schema says no such table",
            id="an-extra-table",
        ),
    ],
)
def test_a_chain_that_forgets_something_is_named(
    repo: Path, change: Callable[[Path], None], expected: str
) -> None:
    change(repo)
    assert messages(repo) == [AFTER + expected]


MAY_CALL = (
    "views, triggers and column defaults may call only SQLite's own functions, none that "
    "reaches outside the database"
)


def test_a_chain_that_forgets_a_column_a_trigger_reads_is_named_twice(repo: Path) -> None:
    # The trigger of 0002 reads the column 0002 forgot: it does not compile after 0002, and
    # is named once (the compile after the chain finds the same complaint).
    edit(repo / M2, "ALTER TABLE tasks ADD COLUMN note TEXT;", "")
    assert messages(repo) == [
        AFTER + "tasks.note: the chain says no such column, the schema says column note TEXT",
        f"{M2}: 0002: trigger trg_owners_cascade_name does not compile after 0002 "
        f"({MAY_CALL}): no such column: note",
    ]


def rename(root: Path, old: str, new: str) -> None:
    (root / old).rename(root / new)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            forgets("pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION = 1"),
            ["pkg/database.py: SCHEMA_VERSION = 1, the schema says PRAGMA user_version = 2"],
            id="schema-version",
        ),
        pytest.param(
            forgets("pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION = int('2')"),
            ["pkg/database.py: no SCHEMA_VERSION = <int> at the top level of the module"],
            id="schema-version-not-a-literal",
        ),
        pytest.param(
            forgets(
                "pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION = 2\nSCHEMA_VERSION = 1"
            ),
            [
                "pkg/database.py: SCHEMA_VERSION is set 2 times (lines 7, 8): "
                "set it once, SCHEMA_VERSION = <int>"
            ],
            id="schema-version-set-twice",  # Python runs with the last, 1
        ),
        pytest.param(
            forgets(
                "pkg/database.py",
                "SCHEMA_VERSION = 2",
                "SCHEMA_VERSION = 2\nif True:\n    SCHEMA_VERSION = 9",
            ),
            [
                "pkg/database.py: SCHEMA_VERSION is set 2 times (lines 7, 9): "
                "set it once, SCHEMA_VERSION = <int>"
            ],
            id="schema-version-set-again-in-a-branch",
        ),
        pytest.param(
            forgets(
                "pkg/database.py",
                "SCHEMA_VERSION = 2",
                "SCHEMA_VERSION = 2\nmatch 9:\n    case SCHEMA_VERSION:\n        pass",
            ),
            [
                "pkg/database.py: SCHEMA_VERSION is set 2 times (lines 7, 9): "
                "set it once, SCHEMA_VERSION = <int>"
            ],
            id="schema-version-captured-by-a-match",  # Python runs with 9
        ),
        pytest.param(
            forgets(
                "pkg/database.py",
                "SCHEMA_VERSION = 2",
                "SCHEMA_VERSION = 2\ndef SCHEMA_VERSION(): ...\nclass SCHEMA_VERSION: ...\n"
                "try:\n    pass\nexcept ValueError as SCHEMA_VERSION:\n    pass\n"
                "match []:\n    case [*SCHEMA_VERSION]:\n        pass\n"
                "match {}:\n    case {**SCHEMA_VERSION}:\n        pass",
            ),
            [
                "pkg/database.py: SCHEMA_VERSION is set 6 times (lines 7, 8, 9, 12, 15, 18): "
                "set it once, SCHEMA_VERSION = <int>"
            ],
            id="schema-version-bound-by-def-class-except-and-match",
        ),
        pytest.param(
            forgets(
                "pkg/database.py",
                "SCHEMA_VERSION = 2",
                "SCHEMA_VERSION = 2\nif True:\n    from os import *  # noqa: F403",
            ),
            [
                "pkg/database.py: `from os import *` (line 9) after SCHEMA_VERSION may set it "
                "again: import the names it needs"
            ],
            id="schema-version-after-a-star-import",  # a module of the package ran with 9
        ),
        pytest.param(
            forgets(
                "pkg/database.py",
                "SCHEMA_VERSION = 2",
                "from os import *  # noqa\nSCHEMA_VERSION = 2",
            ),
            [],
            id="schema-version-set-after-a-star-import",
        ),
        pytest.param(
            forgets("pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION: int = 2"),
            [],
            id="schema-version-annotated",
        ),
        pytest.param(
            forgets("pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION = -2"),
            ["pkg/database.py: no SCHEMA_VERSION = <int> at the top level of the module"],
            id="schema-version-negative",
        ),
        pytest.param(
            lambda root: rename(root, M2, "pkg/migrations/\u0660\u0660\u0660\u0662_add_note.sql"),
            [
                "pkg/migrations/\u0660\u0660\u0660\u0662_add_note.sql: not a migration name: "
                "NNNN_slug.sql, four digits from 0001",
                "pkg/schema.sql: the schema says PRAGMA user_version = 2, "
                "the last migration is 0001",
                f"{M1}: after 0001, tasks.note: the chain says "
                "no such column, the schema says column note TEXT",
                M1 + ": after 0001, trigger trg_owners_cascade_name: "  # noqa: S608
                "the chain says no such trigger, the schema says AFTER UPDATE OF name ON owners "
                "FOR EACH ROW BEGIN UPDATE tasks SET note = NEW.name WHERE owner_id = NEW.id AND "
                "note IS NULL; END",
            ],
            id="arabic-indic-digits-are-not-a-number",
        ),
        pytest.param(
            forgets("pkg/schema.sql", "user_version = 2", "user_version = 3"),
            [
                "pkg/schema.sql: the schema says PRAGMA user_version = 3, "
                "the last migration is 0002",
                "pkg/database.py: SCHEMA_VERSION = 2, the schema says PRAGMA user_version = 3",
            ],
            id="user-version",
        ),
        pytest.param(
            forgets(M2, "PRAGMA user_version = 2;", ""),
            [f"{M2}: 0002 leaves user_version at 1: it must end with PRAGMA user_version = 2;"],
            id="migration-without-user-version",
        ),
        pytest.param(
            forgets(M2, "ALTER TABLE tasks", "ALTER TABLE task"),
            [f"{M2}: 0002 does not run after the migrations before it: no such table: task"],
            id="migration-that-fails",
        ),
        pytest.param(
            lambda root: rename(root, M2, "pkg/migrations/0003_add_note.sql"),
            [
                "pkg/migrations/0003_add_note.sql: numbers must follow on: expected 0002",
                "pkg/schema.sql: the schema says PRAGMA user_version = 2, "
                "the last migration is 0003",
                "pkg/migrations/0003_add_note.sql: 0003 leaves user_version at 2: "
                "it must end with PRAGMA user_version = 3;",
            ],
            id="a-gap",
        ),
        pytest.param(
            lambda root: shutil.copy(root / M2, root / "pkg/migrations/0002_again.sql"),
            ["pkg/migrations: more than one migration 0002: 0002_add_note.sql, 0002_again.sql"],
            id="a-duplicate-number",
        ),
        pytest.param(
            lambda root: rename(root, M2, "pkg/migrations/2_add_note.sql"),
            [
                "pkg/migrations/2_add_note.sql: not a migration name: "
                "NNNN_slug.sql, four digits from 0001",
                "pkg/schema.sql: the schema says PRAGMA user_version = 2, "
                "the last migration is 0001",
                f"{M1}: after 0001, tasks.note: the chain says "
                "no such column, the schema says column note TEXT",
                M1 + ": after 0001, trigger trg_owners_cascade_name: "  # noqa: S608
                "the chain says no such trigger, the schema says AFTER UPDATE OF name ON owners "
                "FOR EACH ROW BEGIN UPDATE tasks SET note = NEW.name WHERE owner_id = NEW.id AND "
                "note IS NULL; END",
            ],
            id="a-bad-name",
        ),
        pytest.param(
            lambda root: shutil.rmtree(root / "pkg/migrations"),
            ["pkg/migrations: named by the manifest but not a folder"],
            id="no-folder",
        ),
    ],
)
def test_numbers_and_versions_must_agree(
    repo: Path, change: Callable[[Path], None], expected: list[str]
) -> None:
    change(repo)
    assert messages(repo) == expected


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("ATTACH 'attached.db' AS other;", "not authorized"),
        ("VACUUM INTO 'copy.db';", "authorization denied"),
        ("PRAGMA writable_schema = ON;", "not authorized"),
        ("SELECT load_extension('evil');", "not authorized to use function: load_extension"),
        (
            "SELECT fts3_tokenizer('simple', x'0000000000000000');",
            "not authorized to use function: fts3_tokenizer",
        ),
        ("CREATE VIRTUAL TABLE stats USING dbstat;", "not authorized"),  # was a traceback
        ("CREATE VIRTUAL TABLE words USING fts5(body);", "not authorized"),
        (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
            "SELECT count(*) FROM n;",
            "interrupted",
        ),
    ],
)
def test_a_migration_cannot_touch_files_or_run_away(
    repo: Path, monkeypatch: pytest.MonkeyPatch, statement: str, error: str
) -> None:
    monkeypatch.chdir(repo)
    edit(repo / M2, "PRAGMA user_version = 2;", f"{statement}\nPRAGMA user_version = 2;")
    assert messages(repo) == [f"{M2}: 0002 does not run after the migrations before it: {error}"]
    assert sorted(p.name for p in repo.iterdir()) == ["pkg", "pyproject.toml"]


def test_a_migration_cannot_point_sqlite_at_a_tokenizer_of_its_own(repo: Path) -> None:
    # fts3_tokenizer('simple', <address>) replaced the tokenizer SQLite calls through, and
    # fts3tokenize (a virtual table that needs no CREATE VIRTUAL TABLE) called it: sync-check
    # died of a segmentation fault (exit -11, no report) at an address the migration chose.
    attack = "SELECT fts3_tokenizer('simple', x'4141414141414141');\nSELECT * FROM fts3tokenize;\n"
    edit(repo / M2, "PRAGMA user_version = 2;", f"{attack}PRAGMA user_version = 2;")
    proc = _sync_check(repo)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "not authorized to use function: fts3_tokenizer" in proc.stdout
    assert "Traceback" not in proc.stderr


# A view, trigger or DEFAULT is created without resolving what it calls (see sqlreach): the
# chain's are compiled once each migration has run, each named on the migration that changed it.
DEFERRED = {
    "view": ("CREATE VIEW zv AS SELECT edit('x', 'touch /tmp/pwn;true') AS e;", "view zv"),
    "trigger": (
        "CREATE TRIGGER zt AFTER DELETE ON owners BEGIN SELECT readfile('/etc/passwd'); END;",
        "trigger zt",
    ),
    "default": ("ALTER TABLE tasks ADD COLUMN z DEFAULT (writefile('x', 'y'));", "table tasks"),
}


@pytest.mark.parametrize("kind", sorted(DEFERRED))
def test_a_migration_object_calling_what_sqlite_lacks_is_named(repo: Path, kind: str) -> None:
    statement, named = DEFERRED[kind]
    edit(repo / M2, "PRAGMA user_version = 2;", f"{statement}\nPRAGMA user_version = 2;")
    found = [m for m in messages(repo) if "does not compile" in m]
    assert len(found) == 1, messages(repo)
    assert found[0].startswith(f"{M2}: 0002: {named} does not compile after 0002 ({MAY_CALL}): ")
    assert found[0].endswith(("no such function: edit", "no such function: readfile", "()"))


REBUILD_OWNERS = """
CREATE TABLE owners_new (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL);
INSERT INTO owners_new SELECT id, name FROM owners;
DROP TABLE owners;
ALTER TABLE owners_new RENAME TO owners;
CREATE TRIGGER trg_owners_cascade_name
AFTER UPDATE OF name ON owners FOR EACH ROW
BEGIN
    UPDATE tasks SET note = NEW.name WHERE owner_id = NEW.id AND note IS NULL;
END;
"""
LINKS = "CREATE TABLE links (id INTEGER PRIMARY KEY, owner_id TEXT REFERENCES owners(id));\n"
ROWS = "INSERT INTO owners VALUES ('o', 'n');\nINSERT INTO links VALUES (1, 'o');\n"


def test_a_parent_rebuilt_as_the_runner_runs_it_passes(repo: Path) -> None:
    # The project's runner turns foreign keys off around each migration (in its transaction,
    # the migration's own PRAGMA foreign_keys does nothing). Here 0001's PRAGMA turned them on
    # for the rest of the chain: 0002 was "does not run …: FOREIGN KEY constraint failed".
    edit(repo / M1, "CREATE TABLE owners", "PRAGMA foreign_keys = ON;\nCREATE TABLE owners")
    edit(repo / M1, "PRAGMA user_version = 1;", f"{LINKS}{ROWS}PRAGMA user_version = 1;")
    edit(
        repo / "pkg/schema.sql",
        "CREATE TABLE IF NOT EXISTS tasks",
        f"{LINKS}CREATE TABLE IF NOT EXISTS tasks",
    )
    edit(repo / M2, "PRAGMA user_version = 2;", f"{REBUILD_OWNERS}PRAGMA user_version = 2;")
    assert messages(repo) == []


@pytest.mark.parametrize("pragma", ["", "PRAGMA foreign_keys = OFF;\n"])
def test_a_migration_leaving_broken_foreign_keys_is_named(repo: Path, pragma: str) -> None:
    # The runner refuses to commit it (PRAGMA foreign_key_check); with the keys off, it passed.
    orphan = f"{pragma}INSERT INTO tasks (id, owner_id, metadata) VALUES ('t', 'nobody', '{{}}');\n"  # noqa: S608
    edit(repo / M2, "PRAGMA user_version = 2;", f"{orphan}PRAGMA user_version = 2;")
    assert messages(repo) == [f"{M2}: 0002 leaves broken foreign keys: tasks row 1 (owners)"]


def test_an_object_a_migration_drops_again_is_not_compiled(repo: Path) -> None:
    # No database stops inside a migration: at version 2 there is no such view.
    view = "CREATE VIEW zv AS SELECT edit('x') AS e;\nDROP VIEW zv;\n"
    edit(repo / M2, "PRAGMA user_version = 2;", f"{view}PRAGMA user_version = 2;")
    assert messages(repo) == []


# Created by 0001 and dropped by 0002: compiled only after the chain, each passed (exit 0),
# though a database stopped at version 1 holds it.
DROPPED_LATER = {
    "view": (
        "CREATE VIEW zv AS SELECT edit('x', 'touch /tmp/pwn;true') AS e;",
        "DROP VIEW zv;",
        "view zv: no such function: edit",
    ),
    "trigger": (
        "CREATE TRIGGER zt AFTER DELETE ON owners BEGIN SELECT readfile('/etc/passwd'); END;",
        "DROP TRIGGER zt;",
        "trigger zt: no such function: readfile",
    ),
    "default": (
        "ALTER TABLE owners ADD COLUMN z DEFAULT (writefile('x', 'y'));",
        "ALTER TABLE owners DROP COLUMN z;",
        "table owners: unknown function: writefile()",
    ),
    # Resolved when SQLite reads the schema back, asking no authorizer: it passed even when
    # left to the end of the chain.
    "check": (
        "ALTER TABLE owners ADD COLUMN z TEXT CHECK (load_extension('x') IS NULL);",
        "ALTER TABLE owners DROP COLUMN z;",
        "table owners: function load_extension() (reaches outside the database)",
    ),
}


@pytest.mark.parametrize("kind", sorted(DROPPED_LATER))
def test_an_object_a_later_migration_drops_is_named_on_its_own(repo: Path, kind: str) -> None:
    create, drop, complaint = DROPPED_LATER[kind]
    edit(repo / M1, "PRAGMA user_version = 1;", f"{create}\nPRAGMA user_version = 1;")
    edit(repo / M2, "PRAGMA user_version = 2;", f"{drop}\nPRAGMA user_version = 2;")
    what, _, error = complaint.partition(": ")
    assert messages(repo) == [
        f"{M1}: 0001: {what} does not compile after 0001 ({MAY_CALL}): {error}"
    ]


def test_an_object_dropped_later_fails_the_installed_check(repo: Path) -> None:
    create, drop, _ = DROPPED_LATER["view"]
    edit(repo / M1, "PRAGMA user_version = 1;", f"{create}\nPRAGMA user_version = 1;")
    edit(repo / M2, "PRAGMA user_version = 2;", f"{drop}\nPRAGMA user_version = 2;")
    proc = _sync_check(repo)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "0001: view zv does not compile after 0001" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_an_object_a_later_migration_defines_again_is_named_on_each(repo: Path) -> None:
    create = DROPPED_LATER["view"][0]
    edit(repo / M1, "PRAGMA user_version = 1;", f"{create}\nPRAGMA user_version = 1;")
    again = "DROP VIEW zv;\nCREATE VIEW zv AS SELECT edit('y') AS e;\n"
    edit(repo / M2, "PRAGMA user_version = 2;", f"{again}PRAGMA user_version = 2;")
    # The compile after the chain finds 0002's complaint again: it is not named twice.
    assert messages(repo) == [
        AFTER + "view zv: the chain says AS SELECT edit('y') AS e, the schema says no such view",
        f"{M1}: 0001: view zv does not compile after 0001 ({MAY_CALL}): no such function: edit",
        f"{M2}: 0002: view zv does not compile after 0002 ({MAY_CALL}): no such function: edit",
    ]


def _sync_check(repo: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("tac-bootstrap")
    env = {**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(repo.parent / "cache")}
    return subprocess.run(
        [exe, "sync-check", "--root", repo, "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo.parent,
        env=env,
        timeout=120,
    )


# A comment of ASCII that Python, by the module's encoding declaration, reads as a line of
# code: "SCHEMA_VERSION = 3" in UTF-7, a newline escape under unicode_escape.
_HIDDEN = {
    "utf-7": "+AAoAUwBDAEgARQBNAEEAXwBWAEUAUgBTAEkATwBOACAAPQAgADM-",
    "unicode_escape": "\\u000aSCHEMA_VERSION = 3",
}


@pytest.mark.parametrize("encoding", sorted(_HIDDEN))
def test_a_database_module_python_reads_otherwise_than_its_text_is_a_problem(
    repo: Path, encoding: str
) -> None:
    # The check read SCHEMA_VERSION = 2 from the text and passed (exit 0); imported, the
    # module runs SCHEMA_VERSION = 3.
    database = repo / "pkg" / "database.py"
    text = database.read_text().replace(
        "SCHEMA_VERSION = 2\n", f"SCHEMA_VERSION = 2  # {_HIDDEN[encoding]}\n"
    )
    database.write_text(f"# -*- coding: {encoding} -*-\n{text}")
    namespace: dict[str, object] = {}
    exec(compile(database.read_bytes(), str(database), "exec"), namespace)  # noqa: S102
    assert namespace["SCHEMA_VERSION"] == 3  # what Python runs
    proc = _sync_check(repo)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert (
        f"pkg/database.py:1: database: not valid Python: it declares the encoding {encoding}, "
        "in which Python reads other code than its UTF-8 text"
    ) in proc.stdout


def test_a_database_module_declaring_an_unknown_encoding_is_a_problem(repo: Path) -> None:
    database = repo / "pkg" / "database.py"
    database.write_text("# coding: nosuch\n" + database.read_text())  # Python cannot import it
    proc = _sync_check(repo)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)  # was 0
    assert "pkg/database.py" in proc.stdout
    assert "unknown encoding" in proc.stdout


def test_a_database_module_whose_declared_encoding_reads_the_same_passes(repo: Path) -> None:
    database = repo / "pkg" / "database.py"
    database.write_text("# -*- coding: latin-1 -*-\n" + database.read_text())
    proc = _sync_check(repo)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)


# Each line sets SCHEMA_VERSION = 3 when Python runs the module, without a binding `ast` shows.
_SET_BY_NAME = {
    "globals-item": "globals()['SCHEMA_VERSION'] = 3",
    "globals-update": "globals().update(SCHEMA_VERSION=3)",
    "vars": "vars()['SCHEMA_VERSION'] = 3",
    "setattr": "import sys\nsetattr(sys.modules[__name__], 'SCHEMA_VERSION', 3)",
    "attribute": "import sys\nsys.modules[__name__].SCHEMA_VERSION = 3",
}


@pytest.mark.parametrize("case", sorted(_SET_BY_NAME))
def test_a_database_module_setting_schema_version_by_its_name_is_a_problem(
    repo: Path, case: str
) -> None:
    # The check read SCHEMA_VERSION = 2 and passed (exit 0); imported, the module runs 3.
    database = repo / "pkg" / "database.py"
    database.write_text(database.read_text() + "\n" + _SET_BY_NAME[case] + "\n")
    module = type(sys)("pkg_database")
    sys.modules["pkg_database"] = module
    try:
        exec(compile(database.read_bytes(), str(database), "exec"), module.__dict__)  # noqa: S102
    finally:
        del sys.modules["pkg_database"]
    assert module.__dict__["SCHEMA_VERSION"] == 3  # what Python runs
    proc = _sync_check(repo)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "pkg/database.py: migrations: SCHEMA_VERSION is set 2 times (lines 7, " in proc.stdout


def test_a_database_module_setting_schema_version_by_exec_is_refused(repo: Path) -> None:
    # Was the problem above (set 2 times); any exec or eval in the database module is refused.
    database = repo / "pkg" / "database.py"
    database.write_text(database.read_text() + "\nexec('SCHEMA_VERSION = 3')\n")
    proc = _sync_check(repo)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: pkg/database.py: refused")
    assert "runs a text as Python code (exec, eval)" in proc.stderr


def test_a_database_module_importing_a_package_named_schema_version_is_a_problem(
    repo: Path,
) -> None:
    database = repo / "pkg" / "database.py"
    edit(database, "import sqlite3\n", "import sqlite3\nimport SCHEMA_VERSION.x\n")
    assert "SCHEMA_VERSION is set 2 times" in " ".join(messages(repo))


def test_a_docstring_or_a_read_naming_schema_version_is_no_second_setting(repo: Path) -> None:
    edit(
        repo / "pkg" / "database.py",
        '"""Queries of pkg."""',
        '"""Queries of pkg: bump SCHEMA_VERSION = the number of the last migration."""\n'
        '"""\nSCHEMA_VERSION = 3\n"""',
    )
    database = repo / "pkg" / "database.py"
    database.write_text(
        database.read_text() + "\n\ndef version() -> int:\n    return int(SCHEMA_VERSION)\n"
    )
    assert messages(repo) == []


def test_reading_what_the_chain_built_is_not_stopped_by_its_step_budget(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No budget at all: a statement of fewer than 1,000 steps never meets the progress
    # handler, so the migration runs; reading its 300 tables takes more, and was stopped
    # ("interrupted" traceback), as after a migration spending its budget to the last block.
    monkeypatch.setattr(introspect, "_MAX_CALLS", 0)
    pads = "".join(f"CREATE TABLE pad{i} (x INT);\n" for i in range(300))
    edit(repo / M2, "PRAGMA user_version = 2;", f"{pads}PRAGMA user_version = 2;")
    found = messages(repo)
    assert len(found) == 300
    assert all("the chain says" in m and "pad" in m for m in found)


def test_a_schema_cannot_attach_a_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    edit(repo / "pkg/schema.sql", "PRAGMA foreign_keys = ON;", "ATTACH 'x.db' AS x;")
    # The schema goes through the one guarded loader, sqlcheck.load_untrusted_schema: exit 2.
    with pytest.raises(UnsafeSchemaError, match=r"pkg/schema\.sql:1: ATTACH statement"):
        messages(repo)
    assert not (repo / "x.db").exists()


def test_a_symlink_out_of_the_root_is_not_read(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.sql"
    outside.write_text("PRAGMA user_version = 3;\n")
    (repo / "pkg/migrations/0003_outside.sql").symlink_to(outside)
    with pytest.raises(OutsideRootError, match=r"^pkg/migrations/0003_outside\.sql resolves to"):
        messages(repo)


def test_a_migrations_folder_linked_out_of_the_root_is_not_listed(
    repo: Path, tmp_path: Path
) -> None:
    shutil.move(repo / "pkg/migrations", tmp_path / "migrations")
    (repo / "pkg/migrations").symlink_to(tmp_path / "migrations")
    with pytest.raises(OutsideRootError, match=r"^pkg/migrations resolves to"):
        messages(repo)


def test_a_migration_that_is_not_utf8_is_refused(repo: Path) -> None:
    (repo / M1).write_bytes((repo / M1).read_bytes() + b"-- \xff\n")
    with pytest.raises(NotUtf8Error, match=r"^pkg/migrations/0001_initial\.sql is not UTF-8"):
        messages(repo)


def test_cli_names_the_difference_and_exits_1(repo: Path) -> None:
    edit(repo / M1, "('todo', 'done')", "('todo')")
    result = CliRunner().invoke(app, ["sync-check", "--root", str(repo), "--no-cache"])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{M2}: migrations: after 0002, tasks.status: the chain says CHECK (status IN ('todo')), "
        "the schema says CHECK (status IN ('todo', 'done'))\n"
    )


def test_the_real_orchestrator_schema_round_trips() -> None:
    from tac_bootstrap import introspect

    schema = (
        Path(__file__).parents[1] / "tac_bootstrap" / "orchestrator" / "schema_orchestrator.sql"
    )
    loaded = introspect.load_schema(schema.read_text())
    assert introspect.differences(loaded, loaded) == []
    assert len(loaded.tables) == 7


@pytest.mark.parametrize("loop", ["self", "pair"])
def test_a_symlink_loop_in_the_migrations_folder_is_a_problem_not_a_traceback(
    repo: Path, tmp_path: Path, loop: str
) -> None:
    (repo / M2).unlink()
    if loop == "self":
        (repo / M2).symlink_to((repo / M2).name)
    else:
        (repo / M2).symlink_to("0003_b.sql")
        (repo / "pkg/migrations/0003_b.sql").symlink_to((repo / M2).name)
    env = {"TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / "cache")}  # the cache's digest reads it too
    result = CliRunner().invoke(app, ["sync-check", "--root", str(repo)], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert f"{M2}: migrations: not a file" in result.stdout


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders without permissions")
@pytest.mark.parametrize(("mode", "shown"), [(0o000, "pkg/migrations"), (0o644, M1)])
def test_a_migrations_folder_that_cannot_be_read_is_an_error(
    repo: Path, mode: int, shown: str
) -> None:
    folder = repo / "pkg/migrations"
    folder.chmod(mode)  # no permission to list it, or (without x) to reach its files
    try:
        result = CliRunner().invoke(app, ["sync-check", "--root", str(repo), "--no-cache"])
    finally:
        folder.chmod(0o755)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot read {shown}: Permission denied")


@pytest.mark.parametrize(
    "name",
    [
        "0001_initial.sql",
        "0012_add_note_2.sql",
        "0000_initial.sql",
        "\u0660\u0660\u0660\u0662_arabic_digits.sql",
        "\uff10\uff10\uff10\uff12_fullwidth_digits.sql",
        "0002_Capital.sql",
        "0002_caf\u00e9.sql",
        "0002__leading_underscore.sql",
        "0002_.sql",
        "002_short.sql",
        "00002_long.sql",
        "0002_note.SQL",
    ],
    ids=lambda name: name.encode("ascii", "backslashreplace").decode(),
)
def test_the_generated_runners_take_the_names_the_check_takes(name: str) -> None:
    """A migration the runner would apply is one the check has proved, and no other."""
    from tac_bootstrap.orchestrator import database_migrate, database_postgres

    checked = chain.NAME.fullmatch(name) is not None
    assert (database_migrate._MIGRATION_NAME.fullmatch(name) is not None) == checked
    assert (database_postgres._MIGRATION_NAME.fullmatch(name) is not None) == checked


# A table or view broken by a later migration that does not touch it: the migration that
# broke it is named (it was named only by the compile after the chain, on the migration that
# created it, although a database stopped after 0001 holds a sound view).
BROKEN_LATER = {
    "view-over-a-dropped-table": (
        "CREATE TABLE spare (x TEXT);\nCREATE VIEW zv AS SELECT x FROM spare;",
        "DROP TABLE spare;",
        ["view zv: no such table: main.spare"],
    ),
    "view-over-a-view": (
        "CREATE TABLE spare (x TEXT);\nCREATE VIEW zw AS SELECT x FROM spare;\n"
        "CREATE VIEW zv AS SELECT x FROM zw;",
        "DROP TABLE spare;",
        ["view zw: no such table: main.spare", "view zv: no such table: main.spare"],
    ),
    "trigger-writing-a-dropped-table": (
        "CREATE TABLE spare (x TEXT);\nCREATE TABLE zu (y TEXT);\n"
        "CREATE TRIGGER zt AFTER DELETE ON zu BEGIN INSERT INTO spare VALUES (old.y); END;",
        "DROP TABLE spare;",
        ["trigger zt: no such table: main.spare"],
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_LATER))
def test_an_object_a_later_migration_breaks_is_named_on_that_migration(
    repo: Path, kind: str
) -> None:
    create, breaks, complaints = BROKEN_LATER[kind]
    edit(repo / M1, "PRAGMA user_version = 1;", f"{create}\nPRAGMA user_version = 1;")
    edit(repo / M2, "PRAGMA user_version = 2;", f"{breaks}\nPRAGMA user_version = 2;")
    found = [m for m in messages(repo) if "does not compile" in m]
    assert found == [
        f"{M2}: 0002: {what} does not compile after 0002 ({MAY_CALL}): {error}"
        for what, _, error in (complaint.partition(": ") for complaint in complaints)
    ]


def test_an_object_broken_before_is_not_named_again_by_what_it_reads(repo: Path) -> None:
    # zv is named by 0001, which created it unsound; 0002 changes the table it reads.
    create = "CREATE VIEW zv AS SELECT edit(name) AS e FROM owners;"
    edit(repo / M1, "PRAGMA user_version = 1;", f"{create}\nPRAGMA user_version = 1;")
    found = [m for m in messages(repo) if "does not compile" in m]
    assert found == [
        f"{M1}: 0001: view zv does not compile after 0001 ({MAY_CALL}): no such function: edit"
    ]


def test_a_migration_may_rename_a_table_the_legacy_way(repo: Path) -> None:
    # PRAGMA legacy_alter_table, a setting the schema may hold, stopped the migration as
    # "not authorized" (a problem, exit 1).
    create = "CREATE TABLE spare (x TEXT);"
    rename = "PRAGMA legacy_alter_table = ON;\nALTER TABLE spare RENAME TO spare2;\n"
    edit(repo / M1, "PRAGMA user_version = 1;", f"{create}\nPRAGMA user_version = 1;")
    edit(repo / M2, "PRAGMA user_version = 2;", f"{rename}PRAGMA user_version = 2;")
    schema = repo / "pkg" / "schema.sql"
    edit(
        schema,
        "PRAGMA user_version = 2;",
        "CREATE TABLE spare2 (x TEXT);\nPRAGMA user_version = 2;",
    )
    assert messages(repo) == []


# Settings a schema may hold were "not authorized" in a migration (a problem, exit 1).
@pytest.mark.parametrize(
    "setting",
    [
        "PRAGMA case_sensitive_like = 0;",
        "PRAGMA automatic_index = OFF;",
        "PRAGMA journal_size_limit = 1048576;",
        "PRAGMA secure_delete = ON;",
        "PRAGMA temp_store = MEMORY;",
        "pragma TEMP_STORE = 2;",
        "PRAGMA wal_autocheckpoint = 100;",
    ],
)
def test_a_migration_may_hold_the_settings_a_schema_may(repo: Path, setting: str) -> None:
    edit(repo / M2, "PRAGMA user_version = 2;", f"{setting}\nPRAGMA user_version = 2;")
    assert messages(repo) == []


@pytest.mark.parametrize("value", ["FILE", "1", "DEFAULT", "0"])
def test_a_migration_keeps_temporary_data_in_memory(repo: Path, value: str) -> None:
    setting = f"PRAGMA temp_store = {value};"
    edit(repo / M2, "PRAGMA user_version = 2;", f"{setting}\nPRAGMA user_version = 2;")
    assert messages(repo) == [
        f"{M2}: 0002 does not run after the migrations before it: not authorized"
    ]


SCHEMA = "pkg/schema.sql"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("REFERENCES owners(id)", "REFERENCES OWNERS(ID)"),
        ("REFERENCES owners(id)", 'REFERENCES "Owners"("iD")'),
        ("idx_tasks_owner_id ON tasks (owner_id)", "IDX_Tasks_Owner_Id ON TASKS (Owner_ID)"),
        (
            "idx_tasks_open ON tasks (priority) WHERE status",
            "idx_tasks_open ON Tasks (PRIORITY) WHERE STATUS",
        ),
        ("AFTER UPDATE OF name ON owners", 'AFTER UPDATE OF NAME ON "OWNERS"'),
        ("WHERE owner_id = NEW.id AND note", "WHERE Owner_Id = new.ID AND NOTE"),
        (
            "id TEXT PRIMARY KEY NOT NULL,\n    owner_id",
            "ID TEXT PRIMARY KEY NOT NULL,\n    owner_id",
        ),
    ],
)
def test_names_spelt_in_another_case_are_the_same_names(repo: Path, old: str, new: str) -> None:
    # SQLite folds the case of names (quoted ones too): "REFERENCES owners(id)" in the chain
    # against "REFERENCES OWNERS(ID)" in the schema was "the chain says REFERENCES owners(id),
    # the schema says REFERENCES owners(ID)", a problem where the database is the same.
    edit(repo / SCHEMA, old, new)
    assert messages(repo) == []


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("CHECK (status IN ('todo', 'done'))", "CHECK (status IN ('TODO', 'done'))", "CHECK"),
        ("note TEXT\n", "note TEXT COLLATE NOCASE\n", "no COLLATE"),
        ("DEFAULT 'todo'", "DEFAULT 'Todo'", "DEFAULT 'Todo'"),
        ("note TEXT\n", "note TEXT,\n    \u00c4 TEXT\n", "no such column"),
    ],
)
def test_a_real_difference_in_another_case_is_still_named(
    repo: Path, old: str, new: str, said: str
) -> None:
    edit(repo / SCHEMA, old, new)
    assert any(said in message for message in messages(repo)), messages(repo)


def test_letters_sqlite_does_not_fold_are_other_names(repo: Path) -> None:
    # "ä" and "Ä" are two columns to SQLite (it folds ASCII only); they were one here.
    column = "ALTER TABLE tasks ADD \u00e4 TEXT;"
    edit(repo / M2, "ADD COLUMN note TEXT;", f"ADD COLUMN note TEXT;\n{column}")
    edit(repo / SCHEMA, "note TEXT\n", "note TEXT,\n    \u00c4 TEXT\n")
    found = [message.partition(", the schema")[0] for message in messages(repo)]
    assert f"{AFTER}tasks.\u00c4: the chain says no such column" in found
    assert f"{AFTER}tasks.\u00e4: the chain says column \u00e4 TEXT" in found


def test_a_column_named_past_ascii_is_shown_with_its_definition(repo: Path) -> None:
    # SQLite takes "Ä" as a letter of a name; the tokenizer did not, and the message said
    # "the chain says column , the schema says no such column".
    added = "ALTER TABLE tasks ADD \u00e4 TEXT;\nALTER TABLE tasks ADD \u00e9t\u00e9 INTEGER;"
    edit(repo / M2, "ADD COLUMN note TEXT;", f"ADD COLUMN note TEXT;\n{added}")
    edit(repo / SCHEMA, "note TEXT\n", "note TEXT,\n    \u00c4 TEXT,\n    \u00e9t\u00e9 INTEGER\n")
    assert sorted(messages(repo)) == [
        f"{AFTER}tasks.\u00c4: the chain says no such column, the schema says column \u00c4 TEXT",
        f"{AFTER}tasks.\u00e4: the chain says column \u00e4 TEXT, the schema says no such column",
    ]


def test_a_table_check_differing_in_a_string_s_case_is_named(repo: Path) -> None:
    # Table-level CHECKs were compared lower-cased whole: 'A' and 'a' were the same.
    edit(
        repo / M2,
        "ADD COLUMN note TEXT;",
        "ADD COLUMN note TEXT;\nCREATE TABLE zt (x TEXT, CHECK (x <> 'A'));",
    )
    edit(
        repo / SCHEMA,
        "CREATE INDEX IF NOT EXISTS idx_tasks_owner_id",
        "CREATE TABLE zt (x TEXT, CHECK (x <> 'a'));\nCREATE INDEX IF NOT EXISTS idx_tasks_owner_id",  # noqa: E501
    )
    assert (
        f"{AFTER}zt: the chain says CHECK (x <> 'A'), the schema says CHECK (x <> 'a')"
        in messages(repo)
    )


# The project's runner runs each migration inside a transaction of its own. A migration's
# COMMIT; BEGIN; was "does not run after the migrations before it: cannot commit - no
# transaction is active" (run alone here), though the runner runs it, in two transactions.
TRANSACTION_ENDS = {
    "COMMIT;\nBEGIN;\n": "commits the transaction the project's runner runs it in "
    "part-way (COMMIT)",
    "END TRANSACTION;\nBEGIN;\n": "commits the transaction the project's runner runs it in "
    "part-way (END)",
    "COMMIT;\n": "commits the transaction the project's runner runs it in part-way (COMMIT)",
    "/* c */ Rollback;\nBEGIN;\n": "rolls back the transaction the project's runner runs it in "
    "(ROLLBACK)",
    "BEGIN;\n": "starts a transaction (BEGIN) inside the one the project's runner runs it in",
    "begin immediate transaction;\nCOMMIT;\n": "starts a transaction (BEGIN) inside the one the "
    "project's runner runs it in",
}


@pytest.mark.parametrize("statements", sorted(TRANSACTION_ENDS))
def test_a_migration_ending_or_starting_a_transaction_is_named_so(
    repo: Path, statements: str
) -> None:
    edit(repo / M2, "PRAGMA user_version = 2;", f"{statements}PRAGMA user_version = 2;")
    [message] = messages(repo)
    assert message.startswith(f"{M2}: 0002 {TRANSACTION_ENDS[statements]}")
    assert message.endswith("a migration may use SAVEPOINT, RELEASE and ROLLBACK TO instead")


@pytest.mark.parametrize(
    "statements",
    [
        "SAVEPOINT s;\nRELEASE s;\n",
        "SAVEPOINT s;\nROLLBACK TO s;\nRELEASE s;\n",
        "SAVEPOINT s;\nROLLBACK TRANSACTION TO SAVEPOINT s;\nRELEASE s;\n",
        "CREATE TRIGGER zt AFTER DELETE ON owners BEGIN SELECT 1; END;\nDROP TRIGGER zt;\n",
    ],
)
def test_a_migration_using_savepoints_passes(repo: Path, statements: str) -> None:
    edit(repo / M2, "PRAGMA user_version = 2;", f"{statements}PRAGMA user_version = 2;")
    assert messages(repo) == []


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("../../.git/config", "under a git folder .git/ (through a symlink: .git/config)"),
        ("../../.tac-bootstrap.json", "the answers file itself (through a symlink: "),
        ("../../.tac-bootstrap/m.sql", "under update's own folder .tac-bootstrap/ (through"),
    ],
    ids=["git-config", "answers-file", "update-folder"],
)
def test_a_migration_linked_to_a_file_no_command_writes_is_refused(
    repo: Path, target: str, said: str
) -> None:
    # 0002_add_note.sql -> ../../.git/config was run as SQL: sync-check exit 1 with
    # `0002 does not run …: near "ghp_TOKEN": syntax error`, the first word of git's config
    # (where actions/checkout leaves the job's token) in the report; migration new read it too.
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text("ghp_TOKEN = 1;\n")
    (repo / ".tac-bootstrap").mkdir()
    (repo / ".tac-bootstrap" / "m.sql").write_text("ghp_TOKEN = 1;\n")
    (repo / ".tac-bootstrap.json").write_text("ghp_TOKEN = 1;\n")
    (repo / M2).unlink()
    (repo / M2).symlink_to(target)
    proc = _sync_check(repo)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"error: {M2} is ")
    assert said in proc.stderr
    assert proc.stderr.endswith(": refusing to read it\n")
    assert "ghp_TOKEN" not in proc.stdout + proc.stderr
    with pytest.raises(chain.ReservedPathError, match="refusing to read it"):
        new_migration(repo, "next")


def test_a_migration_linked_to_another_file_of_the_root_is_read_through(repo: Path) -> None:
    (repo / "other").mkdir()
    shutil.move(repo / M2, repo / "other" / "m2.sql")
    (repo / M2).symlink_to("../../other/m2.sql")
    assert messages(repo) == []


def test_a_shared_schema_is_read_once_for_checks_in_a_row(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema's tables were read again for each check of an unchanged text."""
    from tac_bootstrap import sqlcheck

    manifest = load_manifest(repo)
    assert manifest is not None
    assert manifest.agreement is not None
    read: list[int] = []
    real = introspect.introspect

    def counted(conn: sqlite3.Connection) -> introspect.Schema:
        schema = real(conn)
        read.append(len(schema.tables))
        return schema

    monkeypatch.setattr(introspect, "introspect", counted)
    shared = sqlcheck.SharedSchema()
    try:
        assert chain.check_migrations(repo, manifest.agreement, shared) == []
        assert read == [2, 2]  # the schema, then what the chain builds
        edit(repo / M2, "note TEXT", "note  TEXT")  # another chain, the same schema
        assert chain.check_migrations(repo, manifest.agreement, shared) == []
        assert read == [2, 2, 2]
        edit(repo / "pkg/schema.sql", "    note TEXT\n", "    note TEXT,\n    extra TEXT\n")
        problems = chain.check_migrations(repo, manifest.agreement, shared)
        assert [p.message for p in problems] == [
            "after 0002, tasks.extra: the chain says no such column, "
            "the schema says column extra TEXT"
        ]
        assert read == [2, 2, 2, 2, 2]  # a new text is read again
    finally:
        shared.close()


def _run_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the migrations the chain check runs (their texts), from an empty store of steps."""
    monkeypatch.setattr(chain, "_BUILT", chain._Built())
    ran: list[str] = []
    real = introspect.run_script

    def counted(conn: sqlite3.Connection, sql: str, *args: object, **kwargs: bool) -> None:
        ran.append(sql)
        real(conn, sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(introspect, "run_script", counted)
    return ran


def test_a_chain_sharing_its_first_migrations_with_the_last_runs_the_rest_alone(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = _run_counted(monkeypatch)
    third = repo / "pkg/migrations/0003_z.sql"
    third.write_text("CREATE TABLE zz (a);\nPRAGMA user_version = 3;\n")
    edit(repo / "pkg/schema.sql", "PRAGMA user_version = 2;", "PRAGMA user_version = 3;")
    edit(repo / "pkg/database.py", "SCHEMA_VERSION = 2", "SCHEMA_VERSION = 3")
    first = messages(repo)
    assert len(ran) == 3
    assert messages(repo) == first  # the same chain: nothing run again
    assert len(ran) == 3
    third.write_text("CREATE VIEW zv AS SELECT load_extension('x');\nPRAGMA user_version = 3;\n")
    named = messages(repo)
    assert len(ran) == 4  # the third alone
    assert any("zv" in message and "load_extension" in message for message in named), named
    (repo / "pkg/migrations/0003_z.sql").unlink()
    edit(repo / "pkg/schema.sql", "PRAGMA user_version = 3;", "PRAGMA user_version = 2;")
    edit(repo / "pkg/database.py", "SCHEMA_VERSION = 3", "SCHEMA_VERSION = 2")
    assert messages(repo) == []
    assert len(ran) == 4
    edit(repo / M2, "note TEXT", "note TEXT DEFAULT (load_extension('x'))")
    assert messages(repo) != []  # another text: run again
    assert len(ran) == 5


@pytest.mark.parametrize(
    "state",
    [
        "PRAGMA recursive_triggers = ON;",
        "PRAGMA main.legacy_alter_table = ON;",
        "PRAGMA temp.user_version = 7;",
        "CREATE TEMP TABLE zt (a);",
    ],
)
def test_a_step_leaving_the_connection_s_own_state_is_run_again(
    repo: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    ran = _run_counted(monkeypatch)
    edit(repo / M2, "PRAGMA user_version = 2;", f"{state}\nPRAGMA user_version = 2;")
    first = messages(repo)
    assert messages(repo) == first
    assert len(ran) == 3  # 0001 kept; 0002, whose state is the connection's too, run again
