"""Which literals of an SQLite database module are statements, and which may be."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tac_bootstrap import sqlcheck, sqlliterals

EXE = Path(sys.executable).with_name("tac-bootstrap")


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("select 1", True),
        ("-- c\n/* d */ (SELECT 1)", True),
        ("  With t AS (SELECT 1) SELECT * FROM t", True),
        ("vacuum into 'x'", False),  # a statement, but no query: the module's own settings
        ("selected files", False),
        ("(see the docs)", False),
        ("", False),
    ],
)
def test_is_query(text: str, *, query: bool) -> None:
    assert sqlliterals.is_query(text) is query


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("select a file", None),
        ("select 1; then more", None),  # a piece that starts with no statement word
        ("select 1; pragma writable_schema = on", "PRAGMA statement"),
        ("select edit('x')", "calls edit()"),
        ("select sqlite_dbpage ('main')", "calls sqlite_dbpage()"),
    ],
)
def test_refusal(sql: str, reason: str | None) -> None:
    found = sqlliterals.refusal(sql)
    assert found is None if reason is None else (found or "").startswith(reason)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A project made once by the installed ``init``: its folder, database module and text."""
    folder = tmp_path_factory.mktemp("generated")
    init: list[str | Path] = [EXE, "init", "p", "--with-orchestrator"]
    assert subprocess.run(init, cwd=folder, capture_output=True, check=False).returncode == 0
    (database,) = (folder / "p").glob("src/*/database.py")
    return folder, database, database.read_text()


# Each ending appended to the generated database module, run through the installed sync-check:
# its exit code and what stderr says (the generated module itself passes).
ENDINGS = {
    "generated": ("", 0, ""),
    "lower-case": ("Q = \"select load_extension('x')\"\n", 2, "calls load_extension()"),
    # run = conn.execute; run("attach …") passed with exit 0: the literal was followed only
    # into execute itself.
    "run-alias": (
        "def _z(conn):\n    run = conn.execute\n    run(\"attach '/tmp/z.db' as z\")\n",
        2,
        "line {}: ATTACH statement",
    ),
    # A format field naming no attribute ended in a traceback (AttributeError), exit 1.
    "format-attribute": (
        "def _z(conn):\n    conn.execute('SELECT {0.zz}'.format('a'))\n",
        2,
        "line {}: the statement passed to execute",
    ),
    # The verb a function's return, the schema table a constant: passed (exit 0).
    "schema-table-after-a-value": (
        "def _zt():\n    return 'UPDATE'\n\n\ndef _z(conn):\n"
        "    conn.execute(_zt() + \" sqlite_master SET sql = 'x' WHERE 0\")\n",
        2,
        "line {}: names sqlite_master where a value",
    ),
}


@pytest.mark.parametrize(("ending", "code", "said"), ENDINGS.values(), ids=ENDINGS)
def test_sync_check_of_the_generated_module_with_an_ending(
    generated: tuple[Path, Path, str], ending: str, code: int, said: str
) -> None:
    folder, database, text = generated
    database.write_text(text + "\n" + ending)
    try:
        proc = subprocess.run(
            [EXE, "sync-check", "--no-cache", "--root", "p"],
            capture_output=True,
            text=True,
            check=False,
            cwd=folder,
        )
    finally:
        database.write_text(text)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    if code == 2:
        assert proc.stderr.startswith("error: src/p/database.py: refused, the SQLite database")
        last = len(text.splitlines()) + len(ending.splitlines()) + 1
        assert said.format(last) in proc.stderr


def test_reading_strings_for_file_commands_stops_once_its_time_is_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each text is prepared, and resolving a subquery may take seconds: thousands of them
    # ran without a bound.
    monkeypatch.setattr(sqlcheck, "MAX_SECONDS", 0.0)
    texts = [(1, "attach 'a' as b"), (2, "vacuum into 'c'"), (3, "attach 'd' as e")]
    with pytest.raises(sqlcheck.PrepareTimeError, match=r"m\.py: reading its str"):
        sqlliterals.file_commands(texts, "m.py")
    monkeypatch.undo()
    assert [line for line, _ in sqlliterals.file_commands(texts, "m.py")] == [
        "line 1",
        "line 2",
        "line 3",
    ]


def _lookups(fields: int) -> list[tuple[sqlcheck.Statement, str]]:
    conn = sqlcheck.load_untrusted_schema("CREATE TABLE others (id INTEGER, code TEXT);", "s.sql")
    try:
        sql = "SELECT nope FROM others WHERE " + " AND ".join(["x"] * fields)  # noqa: S608
        words = frozenset({"select", "nope", "from", "others", "where", "and"})
        return sqlliterals.lookup_errors(conn, [(sqlcheck.Statement(1, sql), words)], "db.py")
    finally:
        conn.close()


def test_a_made_text_is_looked_up_within_bounds(
    python_calls: Callable[[Callable[[], object]], int],
) -> None:
    # A bare column not found is tried as the alias of each field, up to 16 fields: each try
    # is one more prepare; past 16, or past the statement's length, it is not looked up.
    found: list[list[tuple[sqlcheck.Statement, str]]] = []
    small = python_calls(lambda: found.append(_lookups(16)))
    assert [error for _, error in found[-1]] == ["no such column: nope"]
    assert python_calls(lambda: found.append(_lookups(17))) < small
    assert found[-1] == []
    # 33,000 fields: 198,000 characters, past what a statement may be; counted, never made.
    assert python_calls(lambda: found.append(_lookups(33_000))) < small
    assert found[-1] == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (" load_extension('x')", "load_extension()"),
        ('x, "ReadFile" /* c */ (p)', "readfile()"),
        ("* FROM main.sqlite_dbpage", "sqlite_dbpage"),
        ("INSERT INTO edit (a) VALUES (?)", None),
        ("CREATE INDEX i ON edit (a)", None),
        ("x, 'readfile(p)', edit", None),
        ("", None),
        ("readfile", None),
    ],
)
def test_a_file_function_is_named_by_a_call_or_table(text: str, name: str | None) -> None:
    assert sqlliterals._outside_name(text) == name


@pytest.mark.parametrize(
    ("source", "executed", "unread"),
    [
        # Refused as unread before (exit 2): the statement unpacked from constants.
        ("conn.execute(*['SELECT 1', (2,)])", {"SELECT 1"}, ()),
        ("conn.execute(*QA)", {"SELECT 2"}, ()),
        ("conn.execute(*('SEL' + 'ECT 3',))", {"SELECT 3"}, ()),
        ("conn.execute(*[chr(115) + 'elect 1'])", set(), (6,)),
        ("conn.execute(*[])", set(), (6,)),
        ("conn.execute(*'SELECT 1')", set(), (6,)),
        ("conn.execute(*args)", set(), ()),
    ],
)
def test_a_statement_unpacked_from_constants_is_read(
    source: str, executed: set[str], unread: tuple[int, ...]
) -> None:
    module = f"QA = ('SELECT 2', ())\n\n\ndef z(conn, args):\n    x = 1\n    {source}\n"
    passed = sqlliterals.passed_texts(ast.parse(module))
    assert {t for t in passed.executed if t.startswith(("SELECT", "select"))} == executed
    assert passed.unreadable == unread
