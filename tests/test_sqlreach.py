"""Views, triggers and defaults of an untrusted schema are compiled once it is loaded.

SQLite creates them without resolving the functions they call: a view calling ``edit()``
(which the ``sqlite3`` shell has and Python's SQLite lacks) loaded, and the shell ran its
command when the view was read. Each object kind here, both ways, on real in-memory SQLite.
"""

from __future__ import annotations

import sqlite3

import pytest

from tac_bootstrap import sqlcheck, sqlreach

TABLE = "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT);\n"
VIEW = "CREATE VIEW v AS SELECT id, a FROM t;\n"
ROWID_TABLE = "CREATE TABLE t (a TEXT, b TEXT);\n"


def with_table(*statements: str, view: bool = False) -> str:
    """Return the table ``t`` (and the view ``v`` of it), then ``statements``."""
    return "".join((TABLE, VIEW if view else "", *statements))


# (schema, what the error names): each loads into Python's SQLite without this check.
REFUSED = {
    "view": ("CREATE VIEW zv AS SELECT edit('x', 'touch /tmp/pwn;true') AS e;\n", "view zv"),
    "view-of-view": (
        "CREATE VIEW z1 AS SELECT readfile('/etc/passwd') AS f;\n"
        "CREATE VIEW z2 AS SELECT * FROM z1;\n",
        "view z1",
    ),
    "view-of-shell-table": ("CREATE VIEW zf AS SELECT * FROM fsdir('/');\n", "view zf"),
    "trigger": (
        with_table("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT writefile('x', 'y'); END;"),
        "trigger tr",
    ),
    "trigger-when": (
        with_table("CREATE TRIGGER tr AFTER DELETE ON t WHEN edit('x') BEGIN SELECT 1; END;"),
        "trigger tr",
    ),
    "trigger-update-of": (
        with_table("CREATE TRIGGER tr AFTER UPDATE OF b ON t BEGIN SELECT edit('x'); END;"),
        "trigger tr",
    ),
    "trigger-update-of-oid": (
        ROWID_TABLE + "CREATE TRIGGER tr BEFORE UPDATE OF oid ON t BEGIN SELECT edit(1); END;\n",
        "trigger tr",
    ),
    "trigger-load-extension": (
        with_table("CREATE TRIGGER tr AFTER UPDATE ON t BEGIN SELECT load_extension('x'); END;"),
        "trigger tr",
    ),
    "trigger-after-a-missing-table": (
        with_table(
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO later VALUES (1);",
            " SELECT edit('x'); END;\n",
        ),
        "trigger tr",
    ),
    "temp-trigger": (
        with_table("CREATE TEMP TRIGGER tr AFTER INSERT ON main.t BEGIN SELECT edit(1); END;"),
        "trigger tr",
    ),
    "without-rowid": (
        "CREATE TABLE w (k TEXT PRIMARY KEY) WITHOUT ROWID;\n"
        "CREATE TRIGGER tr BEFORE DELETE ON w BEGIN SELECT edit('x'); END;\n",
        "trigger tr",
    ),
    "instead-of-insert": (
        with_table(
            "CREATE TRIGGER tr INSTEAD OF INSERT ON v BEGIN SELECT edit(1); END;", view=True
        ),
        "trigger tr",
    ),
    "instead-of-update": (
        with_table(
            "CREATE TRIGGER tr INSTEAD OF UPDATE OF a ON v BEGIN SELECT readfile('x'); END;",
            view=True,
        ),
        "trigger tr",
    ),
    "instead-of-delete": (
        with_table(
            'CREATE TRIGGER "x""y" INSTEAD OF DELETE ON v BEGIN SELECT edit(1); END;', view=True
        ),
        'trigger x"y',
    ),
    "default": ("CREATE TABLE d (a TEXT DEFAULT (edit('x', 'y')));\n", "table d"),
    "default-load-extension": ("CREATE TABLE d (a DEFAULT (load_extension('x')));\n", "table d"),
    "default-added": (
        "CREATE TABLE d (a);\nALTER TABLE d ADD COLUMN b DEFAULT (writefile('x', 'y'));\n",
        "table d",
    ),
    # SQLite resolves an added column's CHECK when it reads the schema back, asking no
    # authorizer: it loaded and compiled (Python's SQLite has load_extension), and passed.
    "check-added-load-extension": (
        "CREATE TABLE d (a);\nALTER TABLE d ADD COLUMN b TEXT CHECK (load_extension(b) IS NULL);\n",
        "table d",
    ),
    "check-added-fts3-tokenizer": (
        "CREATE TABLE d (a);\n"
        "ALTER TABLE d ADD COLUMN b CHECK (fts3_tokenizer('simple', x'41414141') IS NULL);\n",
        "table d",
    ),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_an_object_calling_what_sqlite_lacks_or_reaching_outside_is_refused(kind: str) -> None:
    sql, named = REFUSED[kind]
    with pytest.raises(sqlcheck.UnsafeSchemaError) as info:
        sqlcheck.load_untrusted_schema(sql, "schema.sql")
    message = str(info.value)
    assert message.startswith("schema.sql: refused the schema, whose views, triggers or column")
    assert f"{named}: " in message
    line = sqlcheck.definition_lines(sqlcheck._statements_by_line(sql))[named.split()[1]]
    assert f"schema.sql:{line}: {named}: " in message


def test_the_error_names_the_line_of_the_object() -> None:
    sql = 'CREATE TABLE a (x);\n\nCREATE VIEW IF NOT EXISTS main."Z v" AS\n  SELECT edit(1);\n'
    with pytest.raises(sqlcheck.UnsafeSchemaError) as info:
        sqlcheck.load_untrusted_schema(sql, "schema.sql")
    assert "schema.sql:3: view Z v: no such function: edit" in str(info.value)


# CHECK constraints, generated columns and partial indexes are resolved when created: what
# they call is refused or fails then, before the objects are compiled.
AT_LOAD = {
    "check": "CREATE TABLE c (a CHECK (edit(a)));\n",
    "check-load-extension": "CREATE TABLE c (a CHECK (load_extension(a)));\n",
    "generated": "CREATE TABLE g (a, b AS (edit(a)));\n",
    "generated-readfile": "CREATE TABLE g (a, b AS (readfile(a)) STORED);\n",
    "partial-index": "CREATE TABLE p (a);\nCREATE INDEX ip ON p (a) WHERE edit(a);\n",
    "partial-index-writefile": "CREATE TABLE p (a);\nCREATE INDEX i ON p (a) WHERE writefile(a,a);",
}


@pytest.mark.parametrize("kind", sorted(AT_LOAD))
def test_a_check_generated_column_or_partial_index_calling_them_does_not_load(kind: str) -> None:
    with pytest.raises((sqlcheck.UnsafeSchemaError, sqlite3.Error)):
        sqlcheck.load_untrusted_schema(AT_LOAD[kind], "schema.sql")


ALLOWED = {
    "view": with_table(
        "CREATE VIEW v2 AS SELECT lower(v.a), json_extract(b, '$.x') FROM t JOIN v USING (id);",
        view=True,
    ),
    "trigger": with_table(
        "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN",
        " UPDATE t SET b = strftime('%s', 'now') WHERE id = NEW.id; END;",
    ),
    "instead-of": with_table(
        "CREATE TRIGGER tr INSTEAD OF INSERT ON v BEGIN INSERT INTO t (a) VALUES (NEW.a); END;\n",
        "CREATE TRIGGER tu INSTEAD OF UPDATE ON v BEGIN UPDATE t SET a = NEW.a; END;\n",
        "CREATE TRIGGER td INSTEAD OF DELETE ON v BEGIN DELETE FROM t WHERE id = OLD.id; END;\n",
        view=True,
    ),
    "default": "CREATE TABLE d (a DEFAULT (lower('X')), b DEFAULT CURRENT_TIMESTAMP, c DEFAULT 1);",
    "check": "CREATE TABLE c (a TEXT CHECK (json_valid(a)), CHECK (length(a) < 9));\n",
    "generated": "CREATE TABLE g (a TEXT, b AS (upper(a)), c INT AS (length(a)) STORED);\n"
    "CREATE TRIGGER tg AFTER UPDATE OF b ON g BEGIN SELECT 1; END;\n",
    "partial-index": "CREATE TABLE p (a);\nCREATE INDEX ip ON p (lower(a)) WHERE a IS NOT NULL;\n",
    "without-rowid": "CREATE TABLE w (k TEXT PRIMARY KEY, rowid TEXT) WITHOUT ROWID;\n"
    "CREATE TRIGGER tw AFTER UPDATE OF rowid ON w BEGIN SELECT 1; END;\n",
    "temp": "CREATE TEMP TABLE tt (a DEFAULT (abs(-1)));\n"
    "CREATE TEMP VIEW tv AS SELECT * FROM tt;\n",
    "view-without-triggers": with_table(view=True),
    # An added column's CHECK makes SQLite run PRAGMA quick_check(d), which was refused.
    "check-added": "CREATE TABLE d (a);\nALTER TABLE d ADD COLUMN b TEXT CHECK (b <> '');\n",
    "view-naming-a-function": "CREATE VIEW v AS SELECT 'load_extension(1)' AS s;\n",
    "odd-names": 'CREATE TABLE "a""b" ("c""d" DEFAULT 1, [e f]);\n'
    'CREATE TRIGGER "t""r" AFTER UPDATE OF "c""d" ON "a""b" BEGIN SELECT 1; END;\n',
}


@pytest.mark.parametrize("kind", sorted(ALLOWED))
def test_objects_calling_sqlite_s_own_functions_load(kind: str) -> None:
    conn = sqlcheck.load_untrusted_schema(ALLOWED[kind], "schema.sql")
    try:  # the schema's authorizer is back: ATTACH is still refused after the compiling
        assert "not authorized" in (sqlcheck.prepare_error(conn, "ATTACH 'x.db' AS x") or "")
    finally:
        conn.close()


def test_only_the_events_a_view_answers_are_compiled() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        trigger = "CREATE TRIGGER tu INSTEAD OF UPDATE ON v BEGIN SELECT 1; END;"
        conn.executescript(with_table(trigger, view=True))
        assert sqlreach.uncompiled(conn) == []
        assert list(sqlreach._statements(conn, "main", "v", True, {"UPDATE"})) == [
            'SELECT * FROM main."v"',
            'UPDATE main."v" SET "id" = "id", "a" = "a"',
        ]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sql", "events"),
    [
        ("CREATE TRIGGER x INSTEAD OF INSERT ON v BEGIN SELECT 1; END", {"INSERT"}),
        ('CREATE TRIGGER main."x" BEFORE DELETE ON v BEGIN SELECT 1; END', {"DELETE"}),
        ("CREATE TRIGGER before UPDATE OF a ON v BEGIN SELECT 1; END", {"UPDATE"}),
        ("CREATE TRIGGER", {"INSERT", "UPDATE", "DELETE"}),
    ],
)
def test_the_event_of_a_trigger(sql: str, events: set[str]) -> None:
    assert sqlreach._trigger_event(sql) == events


def test_a_trigger_is_named_when_the_schema_is_loaded_read_only() -> None:
    # sync-check loads it read-only (PRAGMA query_only): dropping a trigger to find the one
    # that does not compile failed, and the schema was said not to load.
    sql, named = REFUSED["trigger"]
    with pytest.raises(sqlcheck.UnsafeSchemaError, match=f"schema.sql:2: {named}: no such func"):
        sqlcheck.load_untrusted_schema(sql, "schema.sql", read_only=True)


def test_an_added_check_reaching_outside_is_named_with_the_function() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE d (a)")
        conn.execute("ALTER TABLE d ADD COLUMN b CHECK (load_extension('x') IS NULL)")
        assert sqlreach.uncompiled(conn) == [
            sqlreach.Uncompiled(
                "table", "d", "function load_extension() (reaches outside the database)", "d"
            )
        ]
    finally:
        conn.close()


def test_compiling_with_the_time_spent_names_the_first_object_asked_as_stopped() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript("CREATE TABLE a (x);\nCREATE TABLE b (x);\nCREATE TABLE c (x);")
        spent = sqlreach.Spent(seconds=sqlcheck.MAX_SECONDS + 1)
        [item] = sqlreach.uncompiled(conn, {"b", "c"}, spent)
        assert (item.kind, item.name, spent.stopped) == ("table", "b", True)
        assert item.error.startswith("stopped here, after 20 s of CPU")
        assert sqlreach.uncompiled(conn, {"b"}, sqlreach.Spent()) == []
    finally:
        conn.close()


# The raw pages of the database file, a table in SQLite builds with SQLITE_ENABLE_DBPAGE_VTAB
# (not Python's own on Linux, so a migration's ``UPDATE sqlite_dbpage`` there is "no such
# table"): each authorizer refuses reading or writing it, so no build runs it.
_PAGES = [
    (sqlite3.SQLITE_READ, "sqlite_dbpage", "data"),
    (sqlite3.SQLITE_READ, "SQLITE_DBPAGE", "pgno"),
    (sqlite3.SQLITE_UPDATE, "sqlite_dbpage", "data"),
    (sqlite3.SQLITE_INSERT, "sqlite_dbpage", None),
    (sqlite3.SQLITE_DELETE, "sqlite_dbpage", None),
]


@pytest.mark.parametrize(("action", "table", "column"), _PAGES)
def test_every_authorizer_refuses_the_raw_pages(
    action: int, table: str, column: str | None
) -> None:
    from tac_bootstrap import introspect

    assert introspect._authorize(action, table, column) == sqlite3.SQLITE_DENY
    assert sqlreach._authorize(action, table, column) == sqlite3.SQLITE_DENY
    guard = sqlcheck._Guard()
    assert guard(action, table, column, "main", None) == sqlite3.SQLITE_DENY
    assert guard.refused == [f"{sqlcheck._ACTIONS[action]} {table} (the database file's raw pages)"]
    # Another table is no file's pages.
    assert introspect._authorize(action, "agents", column) == sqlite3.SQLITE_OK


def _has_pages() -> bool:
    with sqlite3.connect(":memory:") as conn:
        modules = {row[0] for row in conn.execute("PRAGMA module_list")}
    conn.close()
    return "sqlite_dbpage" in modules


@pytest.mark.skipif(not _has_pages(), reason="this SQLite has no sqlite_dbpage table")
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM sqlite_dbpage;",
        "UPDATE sqlite_dbpage SET data = zeroblob(4096) WHERE pgno = 2;",
        "SELECT count(*) FROM sqlite_dbpage('temp');",
    ],
)
def test_a_migration_never_reaches_the_raw_pages(sql: str) -> None:
    from tac_bootstrap import introspect

    conn = introspect.sandbox()
    try:
        introspect.run_script(conn, "CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        with pytest.raises(introspect.SchemaLoadError, match=r"not authorized|prohibited"):
            introspect.run_script(conn, sql)
    finally:
        conn.close()
