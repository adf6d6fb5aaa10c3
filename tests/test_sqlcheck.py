"""Schema introspection against real in-memory SQLite, CHECK parsing, statement extraction."""

from __future__ import annotations

import ast
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tac_bootstrap import introspect, sqlcheck
from tac_bootstrap.sqlcheck import ColumnChecks, ForeignKey, Statement

SCHEMA = """
CREATE TABLE IF NOT EXISTS parents (id TEXT PRIMARY KEY NOT NULL);
CREATE TABLE IF NOT EXISTS "kids" (
    id INTEGER PRIMARY KEY,
    parent_id TEXT REFERENCES parents ON DELETE SET NULL,  -- implicit parent key
    "state" TEXT NOT NULL CHECK ("state" IN ('new', 'it''s done', 'x,y')),
    n INTEGER NOT NULL DEFAULT 0 CHECK (0 <= n) CHECK (n < 10),
    pct REAL CHECK (pct IS NULL OR pct BETWEEN 0 AND 100.5),
    meta TEXT CHECK (meta IS NULL OR (json_valid(meta))),
    code TEXT,
    level INTEGER CHECK (level IN (1, 2, 3)),
    CHECK (code IS NULL OR length(code) > 2)
);
CREATE TABLE pk_only (k TEXT PRIMARY KEY);
CREATE TABLE strict_pk (k TEXT PRIMARY KEY) WITHOUT ROWID;
"""


@pytest.fixture
def tables() -> dict[str, sqlcheck.Table]:
    conn = sqlcheck.load_untrusted_schema(SCHEMA, "schema.sql")
    try:
        return sqlcheck.tables(conn)
    finally:
        conn.close()


def test_tables_and_columns(tables: dict[str, sqlcheck.Table]) -> None:
    assert sorted(tables) == ["kids", "parents", "pk_only", "strict_pk"]
    kids = tables["kids"]
    assert list(kids.columns) == [
        "id",
        "parent_id",
        "state",
        "n",
        "pct",
        "meta",
        "code",
        "level",
    ]
    assert kids.columns["state"].declared == "TEXT"
    assert kids.columns["pct"].affinity == "REAL"


def test_not_null_as_sqlite_enforces_it(tables: dict[str, sqlcheck.Table]) -> None:
    assert tables["kids"].columns["id"].notnull  # INTEGER PRIMARY KEY is the rowid
    assert tables["kids"].columns["state"].notnull
    assert not tables["kids"].columns["pct"].notnull
    assert not tables["pk_only"].columns["k"].notnull  # SQLite's quirk: NULL is accepted
    assert tables["strict_pk"].columns["k"].notnull
    assert tables["parents"].columns["id"].notnull


def test_the_pk_quirk_is_real() -> None:
    conn = sqlcheck.load_untrusted_schema(SCHEMA, "schema.sql")
    conn.execute("INSERT INTO pk_only VALUES (NULL)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO strict_pk VALUES (NULL)")
    conn.close()


def test_checks_per_column(tables: dict[str, sqlcheck.Table]) -> None:
    checks = tables["kids"].checks
    assert checks["state"] == ColumnChecks(allowed=("new", "it's done", "x,y"))
    assert checks["n"] == ColumnChecks(bounds={(">=", 0), ("<", 10)})
    assert checks["pct"] == ColumnChecks(bounds={(">=", 0), ("<=", 100.5)})
    assert checks["meta"] == ColumnChecks(json=True)
    assert checks["level"] == ColumnChecks(allowed=(1, 2, 3))
    assert "code" not in checks  # length(code) > 2 is not a fact the models can state


def test_foreign_keys_resolve_the_implicit_parent_key(tables: dict[str, sqlcheck.Table]) -> None:
    assert tables["kids"].foreign_keys == {
        "parent_id": ForeignKey("parent_id", "parents", "id", "SET NULL")
    }
    assert str(tables["kids"].foreign_keys["parent_id"]) == "REFERENCES parents(id)"


@pytest.mark.parametrize(
    ("declared", "affinity"),
    [
        ("INTEGER", "INTEGER"),
        ("BIGINT", "INTEGER"),
        ("VARCHAR(10)", "TEXT"),
        ("CLOB", "TEXT"),
        ("BLOB", "BLOB"),
        ("", "BLOB"),
        ("DOUBLE PRECISION", "REAL"),
        ("FLOAT", "REAL"),
        ("DECIMAL(10,2)", "NUMERIC"),
        ("BOOLEAN", "NUMERIC"),
    ],
)
def test_affinity_rules(declared: str, affinity: str) -> None:
    assert sqlcheck.affinity(declared) == affinity


def test_schema_that_does_not_load() -> None:
    with pytest.raises(sqlite3.OperationalError):
        sqlcheck.load_untrusted_schema("CREATE TABLE t (a TEXT,);", "schema.sql")


def test_failing_line_names_the_statement() -> None:
    sql = "CREATE TABLE a (x);\n\n-- b\nCREATE TABLE b (\n  y TEXT,\n);\nCREATE TABLE c (z);\n"
    assert sqlcheck.failing_line(sql) == 3
    assert sqlcheck.failing_line("CREATE TABLE a (x);\n") is None
    assert sqlcheck.failing_line("CREATE TABLE a (x);\nCREATE TABLE b (") == 2


def test_tokenizer_skips_comments_and_keeps_strings() -> None:
    tokens = sqlcheck.tokenize("a /* x */ 'it''s' -- y\n\"q\"\"id\" ?2 :name 1.5e3")
    assert [(t.kind, t.text) for t in tokens] == [
        ("word", "a"),
        ("string", "'it''s'"),
        ("ident", '"q""id"'),
        ("param", "?2"),
        ("param", ":name"),
        ("number", "1.5e3"),
    ]
    assert tokens[1].literal() == "it's"
    assert tokens[2].name == 'q"id'
    assert tokens[5].literal() == 1500.0


MODULE = '''"""SELECT this docstring is not SQL."""

LIST = "SELECT a FROM t WHERE b = ?"


def f(table: str) -> None:
    """DELETE nothing: a docstring."""
    run(
        "INSERT INTO t (a) "
        "VALUES (:a)"
    )
    run(f"SELECT * FROM {table}")
    run("select lower case is not looked at")
    message = "Update failed"
'''


def test_statements_of_a_module() -> None:
    assert sqlcheck.statements(MODULE) == [
        Statement(3, "SELECT a FROM t WHERE b = ?"),
        Statement(9, "INSERT INTO t (a) VALUES (:a)"),
    ]


def test_null_bytes_are_a_syntax_error_on_every_python(monkeypatch: pytest.MonkeyPatch) -> None:
    real: Callable[..., Any] = ast.parse

    def parse_as_before_3_11_4(source: str, *args: Any, **kwargs: Any) -> Any:
        if "\x00" in source:  # ast.parse raised ValueError then
            msg = "source code string cannot contain null bytes"
            raise ValueError(msg)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", parse_as_before_3_11_4)
    with pytest.raises(SyntaxError, match="null bytes"):
        sqlcheck.statements('Q = "SELECT 1"\n\x00\n')
    assert sqlcheck.statements('\ufeffQ = "SELECT 1"\n') == [Statement(1, "SELECT 1")]


def test_statement_short_form() -> None:
    long = Statement(1, "SELECT " + ", ".join(f"column_{i}" for i in range(20)) + "\nFROM t")
    assert len(long.short) == 80
    assert long.short.endswith("...")
    assert Statement(1, "SELECT a\n   FROM t").short == "SELECT a FROM t"


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlcheck.load_untrusted_schema(SCHEMA, "schema.sql")
    yield connection
    connection.close()


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT id, state FROM kids WHERE parent_id = ? AND n > ?", None),
        ("SELECT id FROM kids WHERE id = ?3", None),
        ("UPDATE kids SET state = :state WHERE id = :id", None),
        ("INSERT INTO parents (id) VALUES (?); DELETE FROM kids WHERE id = ?", None),
        ("WITH x AS (SELECT id FROM parents) SELECT * FROM x WHERE id = ';'", None),
        ("SELECT nope FROM kids", "no such column: nope"),
        ("SELECT id FROM nowhere", "no such table: nowhere"),
        ("INSERT INTO parents (id) VALUES (?); DELETE FROM kid", "no such table: kid"),
        ("SELEC id FROM kids", 'near "SELEC": syntax error'),
    ],
)
def test_prepare_error(conn: sqlite3.Connection, sql: str, error: str | None) -> None:
    assert sqlcheck.prepare_error(conn, sql) == error


def test_explain_runs_nothing(conn: sqlite3.Connection) -> None:
    assert sqlcheck.prepare_error(conn, "INSERT INTO parents (id) VALUES (?)") is None
    assert conn.execute("SELECT count(*) FROM parents").fetchone() == (0,)


def test_an_interrupt_inside_the_authorizer_is_raised_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C that lands in the authorizer callback is not a refused statement."""
    calls = []

    def interrupted(*_: object) -> None:
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(sqlcheck._Guard, "_refusal", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sqlcheck.load_untrusted_schema("CREATE TABLE t (x INTEGER);", "schema.sql")
    assert calls


class Interrupt(BaseException):
    """What the entry point's Ctrl-C handler raises."""


def _raise_interrupt(*_: object) -> None:
    raise Interrupt


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Make Ctrl-C raise :class:`Interrupt`, as the entry point's handler does.

    The tests send it to their own thread (``pthread_kill``): the command runs in one thread,
    but a test may run in a process with others (pytest-xdist's), which would take a signal
    sent to the process while this thread holds it back.
    """
    old = signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def test_a_ctrl_c_in_a_callback_arrives_once_sqlite_returns(ctrl_c_raises: None) -> None:
    """A signal landing anywhere in a callback (not just in its try) is neither lost nor denial.

    Unheld, the handler would run inside the authorizer, SQLite would swallow its exception
    and report "not authorized".
    """
    del ctrl_c_raises
    conn = sqlcheck.connect_held()
    ran: list[int] = []

    def authorizer(*_: object) -> int:
        if not ran:
            ran.append(1)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # to this thread only
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorizer)
    try:
        with pytest.raises(Interrupt):
            conn.execute("CREATE TABLE t (x)")
        assert ran
        assert conn.execute("SELECT name FROM sqlite_schema").fetchall() == [("t",)]
    finally:
        conn.close()


def test_a_ctrl_c_in_the_progress_handler_arrives_once_sqlite_returns(
    ctrl_c_raises: None,
) -> None:
    del ctrl_c_raises
    conn = introspect.sandbox()
    ran: list[int] = []

    def progress() -> int:
        if not ran:
            ran.append(1)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # to this thread only
        return 0

    conn.set_progress_handler(progress, 1)
    try:
        with pytest.raises(Interrupt):
            conn.execute("SELECT 1").fetchall()
        assert ran
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sql", "line", "word"),
    [
        ("CREATE TABLE t (x);\nATTACH 'a.db' AS a;", 2, "ATTACH"),
        ("CREATE TABLE t (x);\nVACUUM INTO 'v.db';", 2, "VACUUM"),
        ("CREATE TABLE t (x);\n\nINSERT INTO t VALUES (1);", 3, "INSERT"),
        ("PRAGMA writable_schema = ON;", 1, "writable_schema"),
        ("CREATE VIRTUAL TABLE f USING fts5(a);", 1, "CREATE VTABLE"),
        (
            "CREATE TABLE t AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)"
            " SELECT n FROM c;",
            1,
            "RECURSIVE",
        ),
        (
            "CREATE TABLE t (x);\nCREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; END;\n"
            "SELECT load_extension('x');",
            3,
            "SELECT statement",
        ),
    ],
)
def test_untrusted_schema_refusals_name_their_line(sql: str, line: int, word: str) -> None:
    with pytest.raises(sqlcheck.UnsafeSchemaError) as info:
        sqlcheck.load_untrusted_schema(sql, "schema.sql")
    assert f"schema.sql:{line}: " in str(info.value)
    assert word in str(info.value)
    assert info.value.exit_code == 2


# A step may cost a whole value's length: 10,000 rows of hex(randomblob(4e6)) are a few
# hundred thousand steps, far inside the step budget, and ran for more than a minute.
_SLOW_ROWS = (
    "SELECT length(hex(randomblob(4000000))) AS x FROM "  # noqa: S608 - fixed text
    + ", ".join(["(VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10))"] * 4)
)


def test_a_schema_statement_whose_steps_are_slow_is_stopped_by_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlcheck, "MAX_SECONDS", 0.5)
    with pytest.raises(sqlcheck.UnsafeSchemaError) as info:
        sqlcheck.load_untrusted_schema(f"CREATE TABLE t (x);\nCREATE TABLE b AS {_SLOW_ROWS};", "s")
    assert "s:2: stopped here, after 0 s of SQLite work on the schema" in str(info.value)


def test_a_migration_whose_steps_are_slow_is_stopped_by_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlcheck, "MAX_SECONDS", 0.5)
    conn = introspect.sandbox()
    try:
        with pytest.raises(introspect.SchemaLoadError, match="stopped after 0 s of SQLite work"):
            introspect.run_script(conn, f"CREATE TABLE b (x);\nINSERT INTO b {_SLOW_ROWS};")
    finally:
        conn.close()


@pytest.mark.parametrize("value", ["FILE", "1", "DEFAULT", "0", "'file'"])
def test_a_schema_may_not_send_temporary_data_to_files(value: str) -> None:
    # A sort of big values spills into temporary files: disk the check would fill.
    with pytest.raises(sqlcheck.UnsafeSchemaError, match=r"s:1: PRAGMA temp_store = "):
        sqlcheck.load_untrusted_schema(f"PRAGMA temp_store = {value};", "s")


@pytest.mark.parametrize("value", ["MEMORY", "2", "'memory'"])
def test_a_schema_may_keep_temporary_data_in_memory(value: str) -> None:
    sqlcheck.load_untrusted_schema(f"PRAGMA temp_store = {value};\nPRAGMA temp_store;", "s").close()


def test_preparing_statements_that_expand_views_without_end_is_stopped_by_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each view reads the one before twice: a SELECT of the last compiles 8,192 queries
    # (sixteen views: 32,768, seconds each), before any step the progress handler counts.
    view = "CREATE VIEW v@ AS SELECT x FROM v# UNION ALL SELECT x FROM v#;\n"
    views = "CREATE VIEW v0 AS SELECT 1 AS x;\n" + "".join(
        view.replace("@", str(i)).replace("#", str(i - 1)) for i in range(1, 14)
    )
    conn = sqlcheck.load_untrusted_schema(views, "s")
    try:
        statements = [(n, "SELECT count(*) FROM v13") for n in range(1000)]
        monkeypatch.setattr(sqlcheck, "MAX_SECONDS", 0.5)
        with pytest.raises(sqlcheck.PrepareTimeError) as info:
            sqlcheck.prepare_errors(conn, statements, "db.py")
        assert str(info.value).startswith(
            "db.py: preparing its statements against the schema took more than 0 s of CPU, "
            "stopped after "
        )
        assert " of 1,000 (each statement expands the views it reads" in str(info.value)
        assert info.value.exit_code == 2
        monkeypatch.setattr(sqlcheck, "MAX_SECONDS", 1000.0)
        few = [*statements[:2], (7, "SELECT y FROM v0")]
        assert sqlcheck.prepare_errors(conn, few, "") == [(7, "no such column: y")]
    finally:
        conn.close()


def test_a_flood_of_refused_schema_statements_names_the_first_twenty() -> None:
    # As the PostgreSQL check does: 1,000 refused statements made one error line of each.
    with pytest.raises(sqlcheck.UnsafeSchemaError) as info:
        sqlcheck.load_untrusted_schema("SELECT 1;\n" * 1000, "schema.sql")
    assert "schema.sql:20: SELECT statement" in str(info.value)
    assert "schema.sql:21: " not in str(info.value)
    assert str(info.value).endswith("; and 980 more")
    assert len(info.value.refused) == 1000


def test_untrusted_schema_allows_what_schemas_do() -> None:
    sql = (
        "PRAGMA journal_mode = WAL;\nPRAGMA foreign_keys = ON;\nPRAGMA user_version = 3;\n"
        "BEGIN;\nCREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT CHECK (json_valid(v)));\n"
        "CREATE INDEX ia ON a (v);\nCREATE VIEW va AS SELECT * FROM a;\n"
        "CREATE TRIGGER ta AFTER UPDATE ON a BEGIN UPDATE a SET v = '{}' WHERE id = NEW.id; END;\n"
        "ALTER TABLE a ADD COLUMN w INTEGER;\nALTER TABLE a RENAME COLUMN w TO z;\n"
        "CREATE TABLE b (x);\nALTER TABLE b RENAME TO c;\nDROP TABLE c;\nCOMMIT;\n"
    )
    conn = sqlcheck.load_untrusted_schema(sql, "schema.sql")
    try:
        assert list(sqlcheck.tables(conn)) == ["a"]
        assert sqlcheck.prepare_error(conn, "INSERT INTO a (v) VALUES (?)") is None
        assert "not authorized" in (sqlcheck.prepare_error(conn, "ATTACH 'x.db' AS x") or "")
    finally:
        conn.close()


def test_reading_a_loaded_schema_is_not_stopped_by_its_step_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No budget at all: each CREATE TABLE runs under 1,000 steps and so loads; reading 300
    # tables takes more, and was stopped ("interrupted" traceback in sync-check), as after a
    # schema spending its budget to the last block.
    monkeypatch.setattr(sqlcheck, "_MAX_STEPS", 0)
    conn = sqlcheck.load_untrusted_schema(
        "".join(f"CREATE TABLE pad{i} (x INT);\n" for i in range(300)), "schema.sql"
    )
    try:
        assert len(sqlcheck.tables(conn)) == 300
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sql", "loads"),
    [
        ("CREATE TABLE a (x);\nCREATE INDEX i ON a (x);\nPRAGMA user_version = 3;", 1),
        # Run one by one, each statement is its own transaction: such a schema runs again whole.
        ("BEGIN;\nCREATE TABLE a (x);\nCREATE TABLE b (y);\nROLLBACK;\nCREATE TABLE c (z);", 2),
        ("SAVEPOINT s;\nCREATE TABLE a (x);\nROLLBACK TO s;\nCREATE TABLE c (z);", 2),
    ],
)
def test_a_schema_is_run_once_unless_statement_by_statement_differs(
    monkeypatch: pytest.MonkeyPatch, sql: str, loads: int
) -> None:
    # SQLite's loading grows with the square of the tables (each CREATE scans sqlite_schema):
    # the statements run one by one to find refusals are the loaded schema, not run again.
    opened = []
    real = sqlcheck._guarded_connection

    def counted() -> tuple[sqlite3.Connection, sqlcheck._Guard]:
        opened.append(1)
        return real()

    monkeypatch.setattr(sqlcheck, "_guarded_connection", counted)
    conn = sqlcheck.load_untrusted_schema(sql, "schema.sql")
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema ORDER BY name")]
    finally:
        conn.close()
    whole = sqlite3.connect(":memory:", isolation_level=None)
    try:
        whole.executescript(sql)
        expected = [r[0] for r in whole.execute("SELECT name FROM sqlite_schema ORDER BY name")]
    finally:
        whole.close()
    assert (names, len(opened)) == (expected, loads)


def test_a_schema_with_a_failing_statement_reports_the_first_failure() -> None:
    # Statement by statement, what follows a failure still runs: the whole run says which.
    with pytest.raises(sqlite3.OperationalError, match=r"no such table: main\.nope"):
        sqlcheck.load_untrusted_schema(
            "CREATE TABLE a (x);\nCREATE INDEX i ON nope (x);\nCREATE TABLE b (y);", "s.sql"
        )


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("SELECT 1", None),
        ("WITH x AS (SELECT 1) SELECT * FROM x", None),
        ("REPLACE INTO t VALUES (1); DELETE FROM t", None),
        ("SELECT 1; VACUUM INTO '/tmp/x'", "VACUUM statement"),
        ("-- a comment\nPRAGMA writable_schema = ON", "PRAGMA statement"),
        ('"quoted" statement', "this statement"),
        ("A" * 31, "this statement"),
        ("SELECT 1\x00; VACUUM", None),  # not SQLite text: prepare_error reports it
        ("SELECT '\udc80'; VACUUM", None),
    ],
    ids=["select", "with", "replace", "vacuum", "pragma", "quoted", "long", "nul", "surrogate"],
)
def test_query_refusal_names_the_first_word_of_what_is_not_a_query(
    sql: str, refused: str | None
) -> None:
    reason = sqlcheck.query_refusal(sql)
    assert (reason if reason is None else reason.split(" (")[0]) == refused


def test_the_shipped_database_module_statements_are_all_queries() -> None:
    from tac_bootstrap.orchestrator import database

    sqlcheck.check_queries(database.statements(), "database.py")
