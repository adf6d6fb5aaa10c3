"""SQL text refused before any parser reads it: a byte-order mark, more than any schema holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tac_bootstrap import sqlfile

ORCH = Path(__file__).parents[1] / "tac_bootstrap" / "orchestrator"
EXE = Path(sys.executable).with_name("tac-bootstrap")
BOM = "\ufeff".encode()
MANIFEST = """[tool.tac-bootstrap.sync.agreement]
models = "pkg/orch_database_models.py"
schema = "pkg/schema_orchestrator.sql"
database = "pkg/database.py"
postgres_schema = "pkg/schema_postgres.sql"
postgres_database = "pkg/database_postgres.py"
migrations = "pkg/migrations"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The orchestrator's files under ``pkg``, with a manifest naming all of them."""
    root = tmp_path / "repo"
    shutil.copytree(ORCH, root / "pkg", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text(MANIFEST, encoding="utf-8")
    return root


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(cwd / ".cache")}
    return subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def assert_one_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_the_shipped_files_pass_through_the_installed_script(repo: Path, tmp_path: Path) -> None:
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "name",
    [
        "pkg/schema_orchestrator.sql",
        "pkg/migrations/0002_orchestrator_chat.sql",
        "pkg/schema_postgres.sql",
        "pkg/migrations_postgres/0002_orchestrator_chat.sql",
    ],
)
def test_a_schema_or_migration_with_a_bom_is_refused_by_the_check(
    repo: Path, tmp_path: Path, name: str
) -> None:
    path = repo / name
    path.write_bytes(BOM + path.read_bytes())  # was "\ufeff statement", or passed
    before = snapshot(repo)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {name}: starts with a byte-order mark")
    as_json = run("sync-check", "--root", repo, "--no-cache", "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 2
    document = json.loads(as_json.stdout)
    assert document["ok"] is False
    assert "byte-order mark" in json.dumps(document)
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    "name", ["pkg/schema_orchestrator.sql", "pkg/migrations/0002_orchestrator_chat.sql"]
)
def test_migration_new_refuses_a_schema_or_migration_with_a_bom(
    repo: Path, tmp_path: Path, name: str
) -> None:
    schema = repo / "pkg/schema_orchestrator.sql"
    schema.write_text(schema.read_text() + "CREATE TABLE extra (x TEXT);\n")  # one to write
    path = repo / name
    path.write_bytes(BOM + path.read_bytes())  # was: a migration written for it
    before = snapshot(repo)
    proc = run("migration", "new", "extra", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, f"error: {name}: starts with a byte-order mark")
    assert snapshot(repo) == before


def test_sync_refuses_to_draw_a_schema_with_a_bom(repo: Path, tmp_path: Path) -> None:
    (repo / "README.md").write_text("<!-- erdiagram:start -->\n<!-- erdiagram:end -->\n")
    with (repo / "pyproject.toml").open("a") as manifest:
        manifest.write('diagram = "README.md"\n')
    schema = repo / "pkg/schema_orchestrator.sql"
    schema.write_bytes(BOM + schema.read_bytes())
    before = snapshot(repo)
    proc = run("sync", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "error: pkg/schema_orchestrator.sql: starts with a byte-order mark")
    assert snapshot(repo) == before


def many_statements(count: int) -> str:
    return "".join(f"CREATE INDEX extra_{i} ON agents (name);\n" for i in range(count))


def hidden_statements(count: int, quote: str) -> str:
    """Statements between two names or strings that hold a lone ' (SQLite's [..], PG's $$..$$)."""
    return quote + many_statements(count) + quote


def long_statement(length: int) -> str:
    checks = " AND ".join(["length(x) >= 0"] * (length // len("length(x) >= 0 AND ")))
    return f"CREATE TABLE extra (x TEXT CHECK ({checks}));\n"


@pytest.mark.parametrize(
    ("name", "extra", "words"),
    [
        ("pkg/schema_orchestrator.sql", many_statements(5_001), ["more than 5,000 SQL"]),
        ("pkg/schema_orchestrator.sql", long_statement(100_100), ["more than 100,000"]),
        ("pkg/migrations/0003_refuse_what_models_refuse.sql", long_statement(100_100), []),
        ("pkg/schema_postgres.sql", many_statements(5_001), ["more than 5,000 SQL"]),
        ("pkg/migrations_postgres/0001_initial.sql", long_statement(100_100), []),
        (  # the ' inside [..] opened a string for the count, up to the next one
            "pkg/schema_orchestrator.sql",
            hidden_statements(5_001, "CREATE TABLE [it's] (x);\n"),
            ["more than 5,000 SQL"],
        ),
        (
            "pkg/schema_postgres.sql",
            hidden_statements(5_001, "COMMENT ON TABLE agents IS $$it's$$;\n"),
            ["more than 5,000 SQL"],
        ),
    ],
    # Short ids: pytest puts the id in the environment of each subprocess (PYTEST_CURRENT_TEST),
    # where an entry over 128 KiB makes starting the subprocess fail (E2BIG).
    ids=[
        *("schema-many", "schema-long", "migration-long", "pg-schema-many", "pg-migration-long"),
        *("schema-hidden", "pg-schema-hidden"),
    ],
)
def test_a_file_past_a_limit_is_refused_before_it_is_parsed(
    repo: Path, tmp_path: Path, name: str, extra: str, words: list[str]
) -> None:
    path = repo / name
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    before = snapshot(repo)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {name}: ", "far ", *words)
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("old", "new", "shown"),
    [
        (  # built by statements() at run time (a list of constants would be read as one)
            'return found | {"agent_usage"',
            'return found | {"long": "SELECT " + " + ".join("1" for _ in range(60_000)), '
            '"agent_usage"',
            "pkg/database.py (what its statements() returns): an SQL statement of 240,004",
        ),
        (  # a literal of the module
            "\n\nclass UsageTotals(",
            f"\n\n_LONG = {'SELECT ' + ' + '.join(['1'] * 60_000)!r}\n\n\nclass UsageTotals(",
            "pkg/database.py: an SQL statement of 240,004",
        ),
    ],
    ids=["returned-by-statements", "a-literal"],  # short: see the test above
)
def test_a_database_module_statement_past_the_limit_is_refused(
    repo: Path, tmp_path: Path, old: str, new: str, shown: str
) -> None:
    module = repo / "pkg/database.py"
    text = module.read_text(encoding="utf-8")
    assert old in text
    module.write_text(text.replace(old, new, 1), encoding="utf-8")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {shown} characters, more than 100,000")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, 0)),
        ("  \n", (0, 3)),
        ("CREATE TABLE a (x);", (1, 18)),
        ("CREATE TABLE a (x);\nCREATE TABLE b (y)", (2, 19)),
        ("SELECT ';;;' ; SELECT \"a;b\"; -- ; \n", (3, 13)),  # the last: a comment
        ("SELECT 1 /* ; */", (1, 16)),
        ("SELECT 'unterminated ; x", (2, 21)),  # a lone quote cuts too: never fewer
        ("a;;b", (3, 1)),
    ],
)
def test_sizes_count_statements_outside_strings_and_comments(
    text: str, expected: tuple[int, int]
) -> None:
    assert sqlfile.sizes(text) == expected


def test_sizes_stop_counting_past_the_limit() -> None:
    assert sqlfile.sizes("x;" * 1_000_000)[0] == sqlfile.MAX_STATEMENTS + 1


def test_the_limits_are_far_above_every_shipped_schema_and_migration() -> None:
    for path in ORCH.rglob("*.sql"):
        count, longest = sqlfile.sizes(path.read_text(encoding="utf-8"))
        assert count * 100 < sqlfile.MAX_STATEMENTS, path
        assert longest * 20 < sqlfile.MAX_STATEMENT_CHARS, path
