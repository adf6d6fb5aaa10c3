"""The PostgreSQL side of the agreement: models, both schemas and both modules, without a server."""

from __future__ import annotations

import copy
import importlib.util
import logging
import re
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlglot

from tac_bootstrap import agreement, pgcheck, pgguard, sqlcheck
from tac_bootstrap.confine import NotAFileError
from tac_bootstrap.isolate import Description
from tac_bootstrap.manifest import Agreement
from tac_bootstrap.report import Problem

ORCH = Path(__file__).parents[1] / "tac_bootstrap" / "orchestrator"
FILES = Agreement(
    "orch_database_models.py",
    "schema_orchestrator.sql",
    "database.py",
    "schema_postgres.sql",
    "database_postgres.py",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in FILES.files():
        shutil.copy(ORCH / name, tmp_path / name)
    for module in ("database_errors.py", "database_migrate.py"):  # what the modules import
        shutil.copy(ORCH / module, tmp_path / module)
    shutil.copytree(ORCH / "migrations_postgres", tmp_path / "migrations_postgres")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@cache
def _shipped() -> pgcheck.Schema:
    """Return the shipped schema, parsed once for the cases that only read it."""
    return pgcheck.parse_schema((ORCH / "schema_postgres.sql").read_text(encoding="utf-8"))


def _shipped_tables() -> dict[str, sqlcheck.Table]:
    """Return the shipped schema's tables (:func:`_shipped`)."""
    return _shipped().tables


T = TypeVar("T")

_ANSWERS: dict[tuple[str, bytes], object] = {}  # a child's answer, by module and texts


class _Described(Description):
    """A module's description by a child process, asked once per module and text of this file.

    Each check imported the models and both database modules in three child processes (~1 s
    each): the cases here are about what the check reads, so the answer a child gave for the
    same texts is given again. A text not yet described starts its child as sync-check does,
    when the check asks for it (a check refused before then starts none).
    """

    def __init__(self, root: Path, rel: str, start: Callable[[], Description | None]) -> None:
        beside = sorted(p for p in root.glob("*.py") if p.name in _IMPORTED and p.name != rel)
        texts = [(root / rel).read_bytes(), *(p.read_bytes() for p in beside)]
        self.key, self.start = (rel, b"\0".join(texts)), start

    def result(self, parse: Callable[[Any], T]) -> T:
        if self.key not in _ANSWERS:
            child = self.start()
            assert child is not None
            _ANSWERS[self.key] = child.result(lambda data: data)
        return parse(copy.deepcopy(_ANSWERS[self.key]))

    def close(self) -> None:
        pass  # a child it started has ended: result() waited for it


_IMPORTED = {"orch_database_models.py", "database_errors.py", "database_migrate.py"}


def started(root: Path) -> agreement.Children:
    """The children of a check of ``root``, their answers reused (see :class:`_Described`).

    :func:`test_the_shipped_files_agree` and the sync.check cases start their own.
    """
    database, postgres = FILES.database, FILES.postgres_database
    assert database
    assert postgres
    children = agreement.Children()
    if (root / FILES.models).is_file():
        children.models = _Described(
            root, FILES.models, lambda: agreement.start_models(root / FILES.models, FILES.models)
        )
    if (root / database).is_file() and agreement.defines_statements(_text(root / database)):
        children.statements = _Described(
            root, database, lambda: agreement.start_built_statements(root, database)
        )
    has_asyncpg = importlib.util.find_spec("asyncpg") is not None  # pgcheck's condition
    if (
        has_asyncpg
        and (root / postgres).is_file()
        and agreement.defines_statements(_text(root / postgres))
    ):
        children.postgres_statements = _Described(
            root, postgres, lambda: agreement.start_built_statements(root, postgres)
        )
    return children


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def check(root: Path) -> list[Problem]:
    return agreement.check_agreement(root, FILES, started(root))


def messages(root: Path) -> list[str]:
    return [f"{p.kind}: {p.message}" for p in check(root)]


def test_the_shipped_files_agree(project: Path) -> None:
    assert [p.message for p in agreement.check_agreement(project, FILES)] == []
    assert messages(project) == []


def test_the_schema_parses_into_tables_indexes_and_triggers() -> None:
    schema = pgcheck.parse_schema((ORCH / "schema_postgres.sql").read_text(encoding="utf-8"))
    agents = schema.tables["agents"]
    assert agents.columns["id"].notnull
    assert isinstance(agents.columns["created_at"], pgcheck.PgColumn)
    assert agents.columns["created_at"].kind == "timestamptz"
    assert agents.checks["status"].allowed == ("pending", "running", "completed", "failed")
    key = agents.foreign_keys["orchestrator_agent_id"]
    assert (key.table, key.to, key.on_delete) == ("orchestrator_agents", "id", "CASCADE")
    assert schema.tables["system_logs"].checks["metadata"].json
    assert schema.indexes["idx_agents_status"] == ("agents", ("status",))
    assert schema.triggers["trg_orchestrator_agents_updated_at"] == "orchestrator_agents"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "CHECK (status IN ('pending', 'running', 'completed', 'failed')),\n    created_at",
            "CHECK (status IN ('pending', 'running', 'completed')),\n    created_at",
            "agents.status: the model says one of 'completed', 'failed', 'pending', 'running', "
            "the PostgreSQL schema says one of 'completed', 'pending', 'running'",
        ),
        (
            "    started_at timestamptz,\n    completed_at timestamptz\n);\n\nCREATE TABLE prompts",
            "    started_at text,\n    completed_at timestamptz\n);\n\nCREATE TABLE prompts",
            "agents.started_at: the model says datetime | None (stored as timestamptz), "
            "the PostgreSQL schema says text",
        ),
        (
            "    session_id text,\n",
            "",
            "agents.session_id: the model says field session_id: str | None, "
            "the PostgreSQL schema says no such column",
        ),
    ],
    ids=["check-values", "column-type", "missing-column"],
)
def test_model_and_postgres_schema_disagreements_are_named(
    project: Path, old: str, new: str, expected: str
) -> None:
    edit(project / FILES.postgres_schema, old, new)  # type: ignore[operator]
    assert f"agreement: {expected}" in messages(project)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "agent_id uuid REFERENCES agents (id) ON DELETE SET NULL",
            "agent_id uuid REFERENCES agents (id) ON DELETE CASCADE",
            "orchestrator_chat.agent_id: sqlite says REFERENCES agents(id) ON DELETE SET NULL, "
            "postgres says REFERENCES agents(id) ON DELETE CASCADE",
        ),
        (
            "CHECK (cost_usd >= 0 AND abs(cost_usd) < 'Infinity')",
            "CHECK (cost_usd >= 0)",
            "prompts.cost_usd: sqlite says finite (no infinity, no NaN), "
            "postgres says no finiteness check",
        ),
        (
            "CREATE INDEX idx_agents_status ON agents (status);\n",
            "",
            "index idx_agents_status: sqlite says on agents (status), postgres says no such name",
        ),
        (
            "CREATE TRIGGER trg_orchestrator_chat_updated_at\n",
            "CREATE TRIGGER trg_chats_updated_at\n",
            "trigger trg_orchestrator_chat_updated_at: sqlite says on orchestrator_chat, "
            "postgres says no such name",
        ),
    ],
    ids=["on-delete", "finite-check", "missing-index", "renamed-trigger"],
)
def test_differences_between_the_schemas_are_named(
    project: Path, old: str, new: str, expected: str
) -> None:
    edit(project / "schema_postgres.sql", old, new)
    assert f"dialects: {expected}" in messages(project)


def test_a_column_only_one_schema_has_is_named_from_both_sides(project: Path) -> None:
    edit(project / "schema_orchestrator.sql", "    summary TEXT,\n", "")
    found = messages(project)
    assert (
        "dialects: orchestrator_chat.summary: sqlite says no such column, "
        "postgres says column exists"
    ) in found


def test_schemas_compare_nullability_bounds_and_types() -> None:
    conn = sqlcheck.load_untrusted_schema(
        "CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, n INTEGER CHECK (n >= 0), x REAL);",
        "schema.sql",
    )
    pg = pgcheck.parse_schema(
        "CREATE TABLE t (id uuid PRIMARY KEY, n bigint NOT NULL CHECK (n > 0), x text);"
    )
    found = [m for _, _, m in pgcheck.compare_schemas(conn, pg)]
    assert found == [
        "t.n: sqlite says NULL allowed, postgres says NOT NULL",
        "t.n: sqlite says >= 0.0, postgres says > 0.0",
        "t.x: sqlite says REAL (affinity REAL), postgres says text (stands for TEXT)",
    ]
    conn.close()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    async def count(self, model: type[TableModel], /, **filters: object) -> int:",
            "    async def count(self, model: type[TableModel], **filters: object) -> int:",
            "Database.count: sqlite says async def count(self, model: type[TableModel], /, "
            "**filters: object) -> int, postgres says async def count(self, "
            "model: type[TableModel], **filters: object) -> int",
        ),
        (
            "    def total_tokens(self) -> int:",
            "    def total_tokens(self) -> float:",
            "UsageTotals.total_tokens: sqlite says @property def total_tokens(self) -> int, "
            "postgres says @property def total_tokens(self) -> float",
        ),
        (
            "class UsageTotals(BaseModel):",
            "class UsageTotals:",
            "UsageTotals: sqlite says class UsageTotals(BaseModel), "
            "postgres says class UsageTotals()",
        ),
        (
            "    async def agent_usage(",
            "    async def usage_of_agent(",
            "Database.agent_usage: sqlite has Database.agent_usage, postgres says no such name",
        ),
    ],
    ids=["signature", "return-type", "base-class", "missing-method"],
)
def test_public_api_differences_are_named(project: Path, old: str, new: str, expected: str) -> None:
    edit(project / "database_postgres.py", old, new)
    assert f"api: {expected}" in messages(project)


def test_location_and_backend_options_are_not_differences() -> None:
    lite = (
        "class Database:\n    def __init__(self, path: str | None = None, *, timeout: float = 5.0,"
        " backup: bool = True) -> None: ...\n"
    )
    post = (
        "class Database:\n    def __init__(self, dsn: str | None = None, *, timeout: float = 5.0,"
        " max_size: int = 10) -> None: ...\n"
    )
    assert pgcheck.compare_apis(lite, post) == []
    required = post.replace("max_size: int = 10", "max_size: int")
    assert len(pgcheck.compare_apis(lite, required)) == 1


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT id, name FROM agents WHERE id = $1", None),
        ("SELECT a.id FROM agents AS a JOIN prompts AS p ON p.agent_id = a.id", None),
        ("SELECT con.conname FROM pg_constraint AS con", None),
        ("SELECT id FROM agent WHERE id = $1", "no such table: agent"),
        ("SELECT colour FROM agents", "no such column: colour"),
        ("SELECT agents.colour FROM agents", "no such column: agents.colour"),
        ("UPDATE agents SET status = $1 WHERE colour = $2", "no such column: colour"),
        ("SELEC id FROM agents", "it does not parse"),
        # A WITH name is the statement's own, not a table ("no such table: a" before).
        ("WITH a AS (SELECT id FROM agents) SELECT count(*) FROM a", None),
        ("WITH a AS (SELECT id AS x FROM agents) SELECT x FROM a", None),
        ("WITH a AS (SELECT id FROM agents) SELECT a.id FROM a JOIN agents USING (id)", None),
        ("WITH a AS (SELECT id FROM agent) SELECT count(*) FROM a", "no such table: agent"),
        ("WITH a AS (SELECT 1) SELECT agents.colour FROM a, agents", "no such column: agents.col"),
        ("WITH a AS (SELECT 1) SELECT count(*) FROM b", "no such table: b"),
        # A derived table's alias is no table of the schema ("no such table: s" before).
        ("SELECT s.id FROM (SELECT id FROM agents) s", None),
        ("SELECT l.k FROM agents a, LATERAL (SELECT id AS k FROM prompts) l", None),
        ("SELECT k FROM agents a LEFT JOIN LATERAL (SELECT id AS k FROM prompts) l ON true", None),
        ("SELECT v.n, n FROM (VALUES (1)) v(n) JOIN agents ON agents.id = v.n", None),
        ("SELECT u.x, x FROM unnest(ARRAY[1]) AS u(x) JOIN agents ON true", None),
        ("SELECT x FROM (SELECT * FROM agents) s JOIN prompts ON true", None),  # unknown: trusted
        ("SELECT s.nope FROM (SELECT id FROM agents) s", "no such column: s.nope"),
        ("SELECT * FROM (SELECT nope FROM agents) s", "no such column: nope"),
        ("SELECT nope FROM (SELECT id FROM agents) s JOIN prompts ON true", "no such column: nope"),
        ("SELECT s.id FROM (SELECT id FROM agent) s", "no such table: agent"),
        # a WITH name's own query, and a query beside one, are looked up (passed before)
        ("WITH x AS (SELECT nope FROM agents) SELECT * FROM x", "no such column: nope"),
        ("(WITH x AS (SELECT nope FROM agents) SELECT * FROM x)", "no such column: nope"),
        ("WITH x AS (SELECT 1) SELECT nope FROM agents", "no such column: nope"),
        (
            "WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x WHERE n < 2) "
            "SELECT nope FROM agents",
            "no such column: nope",
        ),
        ("WITH x AS (SELECT nope FROM agents) INSERT INTO agents (id) SELECT * FROM x", "no such"),
        ("WITH a AS (SELECT 1 AS k) SELECT id FROM agents WHERE id IN (SELECT k FROM a)", None),
        ("WITH a AS (SELECT 1 AS k) SELECT (SELECT k) FROM a", None),
        ("WITH a AS (SELECT 1 AS k), b AS (SELECT k FROM a) SELECT * FROM b", None),
        ("WITH a AS (SELECT 1 AS k) UPDATE agents SET name = 'x' FROM a WHERE agents.id = k", None),
        # empty statements before it ("it does not parse" before)
        (";SELECT id, name FROM agents WHERE id = $1", None),
        (" ;\n; SELECT colour FROM agents", "no such column: colour"),
    ],
)
def test_statements_are_checked_against_the_schema(sql: str, error: str | None) -> None:
    found = pgcheck.statement_error(sql, _shipped_tables())
    assert found == error or (error is not None and found is not None and found.startswith(error))


def test_a_bad_statement_in_the_module_is_named_with_its_line(project: Path) -> None:
    edit(
        project / "database_postgres.py",
        '"FROM prompts WHERE agent_id = $1"',
        '"FROM prompts WHERE agent = $1"',
    )
    problems = [p for p in check(project) if p.kind == "database"]
    assert len(problems) == 1
    assert problems[0].path == "database_postgres.py"
    assert "no such column: agent" in problems[0].message
    assert problems[0].line is not None


def test_a_schema_that_does_not_parse_is_one_problem(project: Path) -> None:
    (project / "schema_postgres.sql").write_text("CREATE TABLE (;", encoding="utf-8")
    found = messages(project)
    assert len(found) == 1
    assert found[0].startswith("schema: the PostgreSQL schema does not parse")


# Statements PostgreSQL takes that sqlglot (29 or 30) cannot parse: they made the shipped
# schema "not parse" (exit 1). What of them describes no column is not given to sqlglot.
UNPARSED = {
    "start-isolation": "START TRANSACTION ISOLATION LEVEL REPEATABLE READ;\nCOMMIT;",
    "start-modes": "START TRANSACTION READ WRITE, NOT DEFERRABLE; ROLLBACK;",
    "release-savepoint": "BEGIN; SAVEPOINT s; RELEASE SAVEPOINT s; COMMIT;",
    "view-barrier": "CREATE VIEW agents_v WITH (security_barrier) AS SELECT id FROM agents;",
    "view-columns": "CREATE OR REPLACE VIEW agents_w (i)\n  WITH (security_invoker)\n"
    "  AS SELECT id FROM agents WHERE name <> '' WITH LOCAL CHECK OPTION;",
    "definer": "CREATE FUNCTION agents_n() RETURNS bigint LANGUAGE sql SECURITY DEFINER\n"
    "  SET search_path = '' AS 'SELECT count(*) FROM public.agents';",
    "external-invoker": "CREATE FUNCTION agents_m() RETURNS int LANGUAGE sql EXTERNAL SECURITY"
    " INVOKER BEGIN ATOMIC SELECT 1; END;",
    # comments nest in PostgreSQL, not in sqlglot: "Required keyword: 'expression' missing"
    "nested-comments": "/* a /* nested */ comment */\nCREATE VIEW agents_c AS SELECT"
    " /*/**/*/ id FROM agents; /* /* */ SELECT 1; */",
}


@pytest.mark.parametrize("name", UNPARSED)
def test_a_schema_sqlglot_cannot_read_all_of_still_agrees(project: Path, name: str) -> None:
    path = project / "schema_postgres.sql"
    path.write_text(path.read_text(encoding="utf-8") + UNPARSED[name] + "\n", encoding="utf-8")
    assert messages(project) == []


# The shipped schema respelt as the server reads it alike: unquoted names fold to lower case,
# a schema-qualified or quoted lower-case name is the same table (each was a problem: the
# tables AGENTS, ..., or "postgres says no foreign key").
RESPELT_NAMES: dict[str, Callable[[str], str]] = {
    "upper-case": lambda text: re.sub(
        r"\b(TABLE|REFERENCES|ON) ([a-z_]+)", lambda m: f"{m[1]} {m[2].upper()}", text
    ),
    "upper-case-columns": lambda text: re.sub(
        r"^( +)([a-z_]+) (uuid|text|integer|timestamptz|jsonb|boolean|bigint|double)",
        lambda m: f"{m[1]}{m[2].upper()} {m[3]}",
        text,
        flags=re.MULTILINE,
    ),
    "qualified": lambda text: re.sub(r"\b(TABLE|REFERENCES) ([a-z_]+)", r"\1 public.\2", text),
    "qualified-upper": lambda text: re.sub(
        r"\b(TABLE|REFERENCES) ([a-z_]+)", lambda m: f"{m[1]} PUBLIC . {m[2].upper()}", text
    ),
    "quoted": lambda text: re.sub(r"\b(TABLE|REFERENCES) ([a-z_]+)", r'\1 "public"."\2"', text),
    "references-upper": lambda text: re.sub(
        r"REFERENCES ([a-z_]+) ?\(id\)", lambda m: f"REFERENCES {m[1].upper()} (ID)", text
    ),
}


@pytest.mark.parametrize("name", RESPELT_NAMES)
def test_a_schema_s_names_are_read_as_the_server_reads_them(project: Path, name: str) -> None:
    path = project / "schema_postgres.sql"
    text = path.read_text(encoding="utf-8")
    respelt = RESPELT_NAMES[name](text)
    assert respelt != text
    path.write_text(respelt, encoding="utf-8")
    assert messages(project) == []


def test_a_quoted_name_in_capitals_is_another_table() -> None:
    schema = pgcheck.parse_schema(
        'CREATE TABLE "AGENTS" (id int);\nCREATE TABLE b (x int REFERENCES "Agents" (ID),'
        ' y int REFERENCES app.agents ON DELETE CASCADE, z int REFERENCES "a b" (id));'
    )
    assert list(schema.tables) == ["AGENTS", "b"]
    keys = schema.tables["b"].foreign_keys
    assert (keys["x"].table, keys["x"].to) == ("Agents", "id")
    assert (keys["y"].table, keys["y"].on_delete) == ("agents", "CASCADE")
    assert "z" not in keys  # a name past plain letters: no foreign key read, as before


def test_a_table_keeps_its_columns_past_its_storage_options() -> None:
    schema = pgcheck.parse_schema(
        "CREATE UNLOGGED TABLE t (x int NOT NULL, y text) WITH (autovacuum_enabled);\n"
        "CREATE TABLE p (x int) PARTITION BY HASH (x);\n"
        "CREATE TABLE p1 PARTITION OF p FOR VALUES WITH (MODULUS 2, REMAINDER 0);\n"
        "CREATE UNIQUE INDEX i ON t (x) WITH (fillfactor = 70, deduplicate_items) WHERE x > 0;"
    )
    assert list(schema.tables["t"].columns) == ["x", "y"]
    assert schema.tables["t"].columns["x"].notnull
    assert schema.indexes["i"] == ("t", ("x",))


_PARENTHESISED_CHANGE = (
    "it does not parse: WITH … UPDATE in parentheses (the server takes only a query there: a "
    "syntax error)"
)


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        ("SELECT ID FROM AGENTS WHERE NAME = $1", None),  # was "no such table: AGENTS"
        ("SELECT /* a /* b */ c */ id FROM agents", None),  # was "it does not parse"
        ('SELECT id FROM "AGENTS"', "no such table: AGENTS"),  # quoted: another table
        ("SELECT NOPE FROM AGENTS", "no such column: nope"),
        # a query in upper case past parentheses or a comment: looked up as well (passed)
        ("(SELECT nope FROM agents WHERE id = $1)", "no such column: nope"),
        ("/* by id */ SELECT * FROM nope", "no such table: nope"),
        ("((SELECT id FROM agents)) UNION (SELECT id FROM agents)", None),
        ("(select nope from agents)", None),  # lower case: may be a message, as before
        # a set-returning call read as a table: was "no such table: " (no name)
        (
            "INSERT INTO agents (id, name) SELECT gen_random_uuid(), g"
            " FROM generate_series(1, 2) g",
            None,
        ),
        ("SELECT x FROM nope, generate_series(1, 2) g", "no such table: nope"),
        # led by TABLE or VALUES: looked up as SELECT is (passed before)
        ("TABLE nope", "no such table: nope"),
        ("VALUES ((SELECT id FROM nope))", "no such table: nope"),
        ("(VALUES ((SELECT nope FROM agents)))", "no such column: nope"),
        ("/* all */ TABLE agents UNION TABLE nope", "no such table: nope"),
        ("TABLE agents", None),
        ("VALUES ((SELECT id FROM agents LIMIT 1), $1)", None),
        ("(TABLE agents) UNION ALL (TABLE ONLY prompts *)", None),  # sqlglot 29: does not parse
        ("INSERT INTO agents TABLE nope", "no such table: nope"),
        # a WITH that changes rows in parentheses: the server does not parse it (passed)
        ("((WITH m AS (SELECT 1) UPDATE agents SET name = 'x'))", _PARENTHESISED_CHANGE),
        (
            "SELECT 1 WHERE EXISTS (WITH m AS (SELECT 1) DELETE FROM agents RETURNING 1)",
            _PARENTHESISED_CHANGE.replace("UPDATE", "DELETE"),
        ),
        ("WITH m AS (SELECT 1) UPDATE agents SET name = 'x'", None),
        ("(WITH update AS (SELECT 1 AS n) SELECT n FROM update)", None),
        ("((with m as (select 1) update agents set name = 'x'))", None),  # may be a message
        # a WITH led VALUES runs on the server: "it does not parse" before (sqlglot)
        ("WITH m AS (SELECT 1) VALUES (1), (2) ORDER BY 1", None),
        ("WITH m AS (SELECT 1) VALUES ((SELECT nope FROM agents))", "no such column: nope"),
    ],
    ids=[
        *("upper-case", "nested-comment", "quoted-upper", "upper-nope"),
        *("parenthesised-nope", "comment-led-nope", "parenthesised-union", "lower-parenthesised"),
        *("call", "call-nope"),
        *("table-nope", "values-nope", "values-column", "table-union", "table", "values"),
        *("table-parenthesised", "insert-table-nope"),
        *("with-update-parenthesised", "with-delete-in-exists", "with-update", "cte-named-update"),
        *("with-update-lower", "with-values", "with-values-nope"),
    ],
)
def test_a_module_s_statement_is_read_as_the_server_reads_it(
    literal: str, found: str | None
) -> None:
    problems = pgcheck.check_statements(
        f"Q = {literal!r}\n", "database_postgres.py", _shipped(), frozenset(), frozenset()
    )
    assert [p.message.split(": ", 1)[-1] for p in problems] == ([found] if found else [])


def test_a_view_of_a_with_led_values_is_read() -> None:
    # "the PostgreSQL schema does not parse: values does not support CTE" before (exit 1)
    text = "CREATE VIEW v AS SELECT * FROM (WITH m AS (SELECT 1) VALUES (1), (2)) AS s (n);"
    assert pgcheck.parse_schema(text).tables == {}


def test_what_sqlglot_is_not_given_keeps_the_lines_of_the_rest(project: Path) -> None:
    text = (
        "START TRANSACTION\n  ISOLATION LEVEL SERIALIZABLE;\n"
        "CREATE VIEW v\n  WITH (security_barrier)\n  AS SELECT 1;\nCREATE TABLE (;\n"
    )
    (project / "schema_postgres.sql").write_text(text, encoding="utf-8")
    [found] = messages(project)
    assert found.startswith("schema: the PostgreSQL schema does not parse")
    assert "Line 6" in found


def test_what_sqlglot_is_not_given_is_still_guarded() -> None:
    for text in (
        "START TRANSACTION ISOLATION LEVEL SERIALIZABLE; SELECT pg_read_file('/etc/passwd');",
        "CREATE VIEW v WITH (security_barrier) AS SELECT pg_read_file('/etc/passwd');",
        "CREATE FUNCTION f() RETURNS text LANGUAGE sql SECURITY DEFINER"
        " AS 'SELECT pg_read_file(''/etc/passwd'')';",
    ):
        with pytest.raises(pgguard.UnsafePostgresError, match="pg_read_file"):
            pgguard.check(text, "schema_postgres.sql", migration=False)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"CREATE TABLE t (x INTEGER CHECK ({'(' * 5000}x > 0{')' * 5000}));", "nested too deeply"),
        ("CREATE TABLE t (x TEXT DEFAULT 'unterminated", "does not parse"),
    ],
    ids=["nested-5000-deep", "unterminated-string"],  # short: pytest puts ids in the environment
)
def test_a_hostile_schema_is_one_problem_not_a_traceback(
    project: Path, text: str, reason: str
) -> None:
    (project / "schema_postgres.sql").write_text(text, encoding="utf-8")
    [found] = messages(project)
    assert found.startswith("schema: the PostgreSQL schema does not parse")
    assert reason in found
    assert pgcheck.statement_error(f"SELECT {'(' * 5000}1{')' * 5000}", {}) is not None


def test_a_missing_postgres_file_is_reported(project: Path) -> None:
    (project / "database_postgres.py").unlink()
    found = [p for p in check(project) if p.kind == "missing"]
    assert [p.path for p in found] == ["database_postgres.py"]


def test_the_two_chains_share_their_numbering(project: Path) -> None:
    assert messages(project) == []
    shutil.rmtree(project / "migrations_postgres")  # passed: only a folder there was read
    assert messages(project) == [
        "migrations: migrations_postgres: the files say none (no such folder), SCHEMA_VERSION "
        "says 0001 to 0003"
    ]
    shutil.copytree(ORCH / "migrations_postgres", project / "migrations_postgres")
    edit(project / "database.py", "SCHEMA_VERSION = 3\n", "SCHEMA_VERSION = 4\n")
    assert (
        "migrations: SCHEMA_VERSION: sqlite says 4, postgres says 3 (the two migration chains "
        "share their numbering: give PostgreSQL the same migration)"
    ) in messages(project)
    edit(project / "database_postgres.py", "SCHEMA_VERSION = 3\n", "SCHEMA_VERSION = 4\n")
    assert messages(project) == [
        "migrations: migrations_postgres: the files say 0001, 0002, 0003, SCHEMA_VERSION says "
        "0001 to 0004"
    ]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (
            "SCHEMA_VERSION: int = 7",  # was not read at all: passed
            "migrations: SCHEMA_VERSION: sqlite says 3, postgres says 7 (the two migration "
            "chains share their numbering: give PostgreSQL the same migration)",
        ),
        (
            "SCHEMA_VERSION = 3\nSCHEMA_VERSION = 4",  # was read as 3; Python runs with 4
            "migrations: SCHEMA_VERSION is set 2 times (lines 77, 78): set it once, "
            "SCHEMA_VERSION = <int>",
        ),
        (
            "SCHEMA_VERSION = 3.0",
            "migrations: no SCHEMA_VERSION = <int> at the top level of the module",
        ),
        (
            "SCHEMA_VERSION = 99999999999999999999999",  # was a traceback (OverflowError)
            "migrations: SCHEMA_VERSION: sqlite says 3, postgres says 99999999999999999999999 "
            "(the two migration chains share their numbering: give PostgreSQL the same "
            "migration)",
        ),
    ],
    ids=["annotated", "set-twice", "float", "huge"],
)
def test_the_postgres_schema_version_is_read_as_the_sqlite_one(
    project: Path, version: str, expected: str
) -> None:
    edit(project / "database_postgres.py", "SCHEMA_VERSION = 3\n", version + "\n")
    assert expected in messages(project)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.mkdir(), "folder"),
        (lambda p: p.symlink_to("gone.sql"), "dangling link"),
        (lambda p: p.symlink_to(p.name), "symlink loop"),
    ],
)
def test_a_postgres_migration_that_is_not_a_file_is_named(
    project: Path, make: Callable[[Path], None], kind: str
) -> None:
    (project / "migrations_postgres" / "0003_refuse_what_models_refuse.sql").unlink()
    make(project / "migrations_postgres" / "0003_refuse_what_models_refuse.sql")
    assert "migrations: not a file" in messages(project), kind


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("migrations_postgres/0003_refuse_what_models_refuse.sql", "migrations"),
        ("schema_postgres.sql", "schema"),
    ],
)
def test_a_postgres_file_holding_a_nul_byte_is_a_problem(
    project: Path, name: str, check: str
) -> None:
    # The server refuses it ("invalid message format"), psql cuts the line there: sync-check passed.
    path = project / name
    path.write_text(path.read_text(encoding="utf-8") + "\nCOMMENT ON TABLE agents IS E'a\x00b';\n")
    assert f"{check}: holds a NUL byte, which PostgreSQL refuses in SQL" in messages(project)


@pytest.mark.parametrize("name", ["\u0660\u0660\u0660\u0664_x.sql", "0004_Later.sql", "4_x.sql"])
def test_a_postgres_migration_name_the_runner_may_read_otherwise_is_named(
    project: Path, name: str
) -> None:
    (project / "migrations_postgres" / name).write_text("CREATE INDEX i ON agents (name);\n")
    assert messages(project) == [
        "migrations: not a migration name: NNNN_slug.sql, four digits from 0001"
    ]


@pytest.mark.parametrize(
    ("name", "sql", "word"),
    [
        ("schema_postgres.sql", "COPY agents FROM PROGRAM 'id';", "COPY statement"),
        ("schema_postgres.sql", "DO $$ BEGIN NULL; END $$;", "DO statement"),
        ("migrations_postgres/0002_x.sql", "CREATE EXTENSION dblink;", "CREATE EXTENSION"),
        # a read-only view of a catalogue table: one line that says what is refused and why
        (
            "schema_postgres.sql",
            "\nCREATE VIEW procs AS SELECT p.proname FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace;",
            r"schema_postgres.sql:\d+: a view that reads the catalogue table pg_proc \(no view "
            r"may, read-only ones too: PostgreSQL writes to the catalogue through a simple one\)",
        ),
    ],
    ids=["copy", "do", "extension", "catalogue-view"],  # short: older pytest spells ids longer
)
def test_a_postgres_file_holding_what_a_schema_never_needs_is_refused(
    project: Path, name: str, sql: str, word: str
) -> None:
    path = project / name
    path.write_text(path.read_text(encoding="utf-8") + sql if path.exists() else sql)
    with pytest.raises(pgguard.UnsafePostgresError, match=rf"^{name}: refused, .*{word}") as err:
        check(project)
    assert "\n" not in str(err.value)


def test_a_built_statement_that_does_not_fit_is_named(project: Path) -> None:
    edit(project / "database_postgres.py", 'f"SELECT count(*) FROM', 'f"SELECT count(colour) FROM')
    found = [p for p in check(project) if p.kind == "database"]
    assert len(found) == 7  # one count statement per table
    assert found[0].message.startswith(
        "statement orchestrator_agents.count ('SELECT count(colour) FROM"
    )
    assert found[0].message.endswith("does not fit the PostgreSQL schema: no such column: colour")


@pytest.mark.parametrize(
    ("old", "new", "word"),
    [
        # Built by statements() (with chr(): a + of constants only is a literal of the
        # module, refused before statements() is called): was only looked up, and passed.
        (
            '"settings": _SETTINGS,',
            '"settings": _SETTINGS, "x": "CO" + chr(80) + "Y agents TO PROGRAM \'id\'",',
            "x: COPY statement",
        ),
        (
            '"settings": _SETTINGS,',
            '"settings": _SETTINGS, "x": "SEL" + chr(69) + "CT pg_read_file(\'/etc/passwd\')",',
            "x: function pg_read_file()",
        ),
        (
            '"settings": _SETTINGS,',
            '"settings": _SETTINGS, "x": "SEL" + "ECT 1; DO $$ BEGIN NULL; END $$",',
            "DO statement",  # the literal "ECT 1; DO …" is refused first
        ),
        (  # the server's password hashes, read by a superuser
            '"settings": _SETTINGS,',
            '"settings": _SETTINGS, "x": "SEL" + chr(69) + "CT rolpassword FROM pg_authid",',
            "x: catalogue pg_authid (holds the roles' password hashes)",
        ),
        (  # a literal of the module
            "_SETTINGS = (\n",
            "_X = \"SELECT set_config('search_path', 'evil', false)\"\n_SETTINGS = (\n",
            "line 118: function set_config()",
        ),
        (  # a literal led by TABLE or VALUES, which were not read
            "_SETTINGS = (\n",
            "_X = \"TABLE agents; COPY agents TO PROGRAM 'sh'\"\n_SETTINGS = (\n",
            "line 118: COPY statement",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"VALUES (pg_read_file('/etc/passwd'))\"\n_SETTINGS = (\n",
            "line 118: function pg_read_file()",
        ),
        # a literal that is a query in lower case, in parentheses or past a comment
        (
            "_SETTINGS = (\n",
            "_X = \"select pg_read_file('/etc/hostname')\"\n_SETTINGS = (\n",
            "line 118: function pg_read_file()",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"(SELECT pg_read_file('/etc/hostname'))\"\n_SETTINGS = (\n",
            "line 118: function pg_read_file()",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"/* /* */ x */ select 1; copy agents to program 'id'\"\n_SETTINGS = (\n",
            "line 118: COPY statement",
        ),
        # a literal led by another command: run as well as a query, checked as a migration's
        (
            "_SETTINGS = (\n",
            '_X = "SHOW data_directory"\n_SETTINGS = (\n',
            "line 118: SHOW statement (not one a migration needs)",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"EXPLAIN ANALYZE CREATE TABLE p AS SELECT pg_read_file('/etc/hostname')\"\n"
            "_SETTINGS = (\n",
            "line 118: EXPLAIN statement",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"begin; select table_to_xml('pg_authid'::regclass, true, false, '')\"\n"
            "_SETTINGS = (\n",
            "line 118: function table_to_xml()",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"begin; copy (select 1) to program 'id'; commit\"\n_SETTINGS = (\n",
            "line 118: COPY statement",
        ),
        (  # a command in lower case, in its shape: not a message
            "_SETTINGS = (\n",
            "_X = \"explain analyze create table p as select pg_read_file('/etc/hostname') as v\"\n"
            "_SETTINGS = (\n",
            "line 118: EXPLAIN statement",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"copy binary agents to program 'id'\"\n_SETTINGS = (\n",
            "line 118: COPY statement",
        ),
        (
            "_SETTINGS = (\n",
            '_X = "set role pg_read_server_files"\n_SETTINGS = (\n',
            "line 118: SET role",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"alter role postgres password 'x'\"\n_SETTINGS = (\n",
            "line 118: ALTER ROLE",
        ),
        (
            "_SETTINGS = (\n",
            "_X = \"merge into agents as a using (select lo_import('/etc/hostname') as o) as s "
            'on false when not matched then do nothing"\n_SETTINGS = (\n',
            "line 118: function lo_import()",
        ),
        (  # the module's own CREATE TABLE literals are checked as a migration's
            "_SETTINGS = (\n",
            "_X = \"CREATE TABLE IF NOT EXISTS p AS SELECT pg_read_file('/etc/hostname') AS v\"\n"
            "_SETTINGS = (\n",
            "line 118: function pg_read_file()",
        ),
        (  # an f-string without a placeholder is a literal as any other
            "_SETTINGS = (\n",
            "_X = f\"SELECT pg_read_file('/etc/hostname')\"\n_SETTINGS = (\n",
            "line 118: function pg_read_file()",
        ),
        (  # a function called in a select list, its alias a word a CTE may hold
            "_SETTINGS = (\n",
            '_X = "SELECT id, current_setting(name) AS materialized FROM agents"\n_SETTINGS = (\n',
            "line 118: function current_setting()",
        ),
    ],
)
def test_a_module_statement_that_reaches_outside_is_refused(
    project: Path, old: str, new: str, word: str
) -> None:
    pytest.importorskip("asyncpg")
    edit(project / "database_postgres.py", old, new)
    with pytest.raises(pgguard.UnsafeQueryError, match=r"^database_postgres\.py") as raised:
        check(project)
    assert word in str(raised.value)


def test_a_module_literal_that_only_may_be_sql_is_not_refused_for_what_a_message_says(
    project: Path,
) -> None:
    """``"update failed for %s (retry)"`` is a message: ``s (`` no call, ``retry`` no statement."""
    pytest.importorskip("asyncpg")
    edit(
        project / "database_postgres.py",
        "_SETTINGS = (\n",
        '_X = "update failed for %s (retry); delete it by hand"\n_Y = "Show %s (or set it)"\n'
        '_Z = ("copy failed: %s", "do not retry", "show the agents", "grant access to %s")\n'
        '_W = "merge into one list using the names"\n'
        "_SETTINGS = (\n",
    )
    assert check(project) == []


def agreement_repo(root: Path) -> Path:
    """Copy the orchestrator files under ``root/pkg`` with a manifest naming all five."""
    shutil.copytree(ORCH, root / "pkg", ignore=shutil.ignore_patterns("__pycache__"))
    keys = ("models", "schema", "database", "postgres_schema", "postgres_database")
    (root / "pyproject.toml").write_text(
        "[tool.tac-bootstrap.sync.agreement]\n"
        + "".join(f'{key} = "pkg/{name}"\n' for key, name in zip(keys, FILES.files(), strict=True)),
        encoding="utf-8",
    )
    return root


def test_a_new_postgres_migration_is_checked_again_despite_the_cache(tmp_path: Path) -> None:
    from tac_bootstrap import sync

    root = agreement_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    assert sync.check(root, cache_dir=cache).problems == []
    (root / "pkg" / "migrations_postgres" / "0005_later.sql").write_text(
        "CREATE INDEX later ON agents (name);\n"
    )
    problems = sync.check(root, cache_dir=cache).problems
    assert [p.message for p in problems] == [
        "migrations_postgres: the files say 0001, 0002, 0003, 0005, SCHEMA_VERSION says "
        "0001 to 0003"
    ]


def test_a_postgres_schema_that_is_a_folder_is_refused_as_the_sqlite_one_is(project: Path) -> None:
    (project / "schema_postgres.sql").unlink()
    (project / "schema_postgres.sql").mkdir()  # was reported as missing, exit 1
    with pytest.raises(NotAFileError, match=r"^schema_postgres.sql is not a regular file"):
        check(project)


def test_the_postgres_chain_is_found_under_a_relative_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tac_bootstrap import sync

    root = agreement_repo(tmp_path / "repo")
    monkeypatch.chdir(tmp_path)  # `sync-check --root repo`: was "cannot read repo/pkg/..."
    assert sync.check(Path("repo"), cache_dir=tmp_path / "cache").problems == []
    (root / "pkg" / "migrations_postgres" / "0003_refuse_what_models_refuse.sql").unlink()
    assert [p.message for p in sync.check(Path("repo"), cache_dir=None).problems] == [
        "migrations_postgres: the files say 0001, 0002, SCHEMA_VERSION says 0001 to 0003"
    ]


# Lower-case literals of commands the shapes did not know: each passed sync-check and ran on a
# 15.18 server (the last with a role granted and reset in the transaction).
LOWER_CASE_COMMANDS = {
    "copy-unicode": ("copy U&\"agents\" to program 'id'", "COPY statement"),
    "set-unicode": ("set U&\"role\" = 'pg_monitor'", "SET u (not a setting"),
    "lock-catalogue": ("lock pg_authid", "LOCK statement"),
    "lock-only": ("lock only agents", "LOCK statement"),
    "or-replace": ("create or replace function f() returns int language c as 'x'", "LANGUAGE c"),
    "access-method": ("create access method a type table handler heap_tableam_handler", "ACCESS"),
    "grant-role": ("grant pg_execute_server_program to current_user", "GRANT statement"),
    "revoke-role": ("revoke pg_monitor from app cascade", "REVOKE statement"),
    "comment-role": ("comment on role postgres is 'x'", "COMMENT ON role"),
    "truncate-cascade": ("truncate agents cascade", "TRUNCATE statement"),
    "analyze-catalogue": ("analyze pg_catalog.pg_authid", "ANALYZE statement"),
    # names and strings the shapes read as the server does: U&"…" and U&'…', past ASCII, qualified
    "show-unicode": ('show u&"data_directory"', "SHOW statement"),
    # a setting of one word, or a custom one (which can hold a secret); all of them
    "show-one-word": ("show port", "SHOW statement"),
    "show-quoted-one-word": ('show "TimeZone"', "SHOW statement"),
    "show-custom": ("show app.jwt_secret", "SHOW statement"),
    "show-all": ("show all", "SHOW statement"),
    "merge-unicode": (
        "merge into u&\"agents\" as a using (select lo_import('/etc/hostname')::text as v) s "
        "on false when not matched then insert (name) values (s.v)",
        'a U&"…" name',
    ),
    "do-unicode-string": ("do u&'begin perform lo_import(''/etc/hostname''); end'", "DO statement"),
    "load-unicode-string": ("load u&'auto_explain'", "LOAD statement"),
    "merge-euro-alias": (
        "merge into agents as a\u20ac using (select lo_import('/etc/hostname')::text as v) s "
        "on false when not matched then insert (name) values (s.v)",
        "function lo_import()",
    ),
    "copy-euro-name": ("copy pwn\u20ac to program 'id'", "COPY statement"),
    "declare-euro-name": (
        "declare c\u20ac cursor with hold for select lo_import('/etc/hostname')",
        "DECLARE statement",
    ),
    "copy-quoted-qualified": ("copy public.\"agents\" to program 'id'", "COPY statement"),
    "copy-comment-qualified": ("copy public./**/agents to program 'id'", "COPY statement"),
    # no blank before a parenthesis, a blank after it, Title case
    "explain-paren": ("explain (analyze) select lo_import('/etc/hostname')", "EXPLAIN statement"),
    "explain-no-blank": ("explain(analyze) select lo_import('/etc/hostname')", "EXPLAIN statement"),
    "copy-no-blank": ("copy(select 1) to program 'id'", "COPY statement"),
    "title-case": ("Copy public.\"agents\" to program 'id'", "COPY statement"),
    "title-case-do": ("Do u&'begin null; end'", "DO statement"),
    # a command and one of the schema's tables alone (lock agents: until the transaction ends,
    # readers wait too), and analyze alone (every table of the database)
    "lock-table-alone": ("lock agents", "LOCK statement"),
    "lock-quoted-table": ('lock "agents";', "LOCK statement"),
    "analyze-table-alone": ("analyze agents", "ANALYZE statement"),
    "analyze-alone": ("analyze", "ANALYZE statement"),
    "analyse-alone": ("analyse", "ANALYSE statement"),
    "analyze-columns": ("analyze agents (name)", "ANALYZE statement"),
    "lock-module-table": ("lock schema_migrations", "LOCK statement"),  # the module's own table
    "analyze-list": ("analyze agents, runs", "ANALYZE statement"),
    # a query, in any case: its locking clause writes to each catalogue row it locks
    "select-for-update-catalogue": (
        "select * from pg_class for update",
        "a lock on the rows of the catalogue pg_class",
    ),
    "merge-quoted-qualified": (
        'merge into "public"."agents" as a using (select lo_import(\'/etc/hostname\')::text '
        "as v) s on false when not matched then insert (name) values (s.v)",
        "function lo_import()",
    ),
}


@pytest.mark.parametrize("case", sorted(LOWER_CASE_COMMANDS))
def test_a_lower_case_command_literal_in_sql_s_shape_is_checked(project: Path, case: str) -> None:
    pytest.importorskip("asyncpg")
    literal, word = LOWER_CASE_COMMANDS[case]
    edit(project / "database_postgres.py", "_SETTINGS = (\n", f"_X = {literal!r}\n_SETTINGS = (\n")
    with pytest.raises(pgguard.UnsafeQueryError, match=r"^database_postgres\.py") as raised:
        check(project)
    assert word in str(raised.value)


def test_lower_case_messages_led_by_those_commands_pass(project: Path) -> None:
    pytest.importorskip("asyncpg")
    messages = (
        "lock acquired", "lock failed: %s", "analyze the agents", "comment on %s",
        "grant access to %s", "revoke failed", "truncate the log", "create or update %s",
        "lock released", "lock agents for a while", "analyze failures", "execute failed",
        "close connection", "begin transaction", "commit and chain", "unlisten all",
        "vacuum cleaner", "checkpoint reached", "discard changes?", "reindex later",
        "cluster of %d agents", "create agents", "drop agents", "close agents", "execute agents",
        "show more", "show details", "Show help",  # no setting of that name: the server refuses
    )  # fmt: skip
    # one literal a line: literals on one line were checked as one (the last), see below
    lines = "".join(f"_X{n} = {message!r}\n" for n, message in enumerate(messages))
    edit(project / "database_postgres.py", "_SETTINGS = (\n", f"{lines}_SETTINGS = (\n")
    assert check(project) == []


# A literal only passed to a call that shows text is not guessed to be SQL: each was refused
# (exit 2: "SECURITY statement", "LOCK statement", "VACUUM statement").
SHOWN_MESSAGES = [
    "def f():\n    raise ValueError('security check failed')\n",
    "def f(log):\n    log.info('lock agents')\n",
    "def f(x):\n    print('vacuum agents %s' % x)\n",
    "def f(log):\n    log.warning('grant access to %s', 'x')\n",
]


@pytest.mark.parametrize("module", SHOWN_MESSAGES)
def test_a_literal_only_shown_is_not_guessed_to_be_sql(project: Path, module: str) -> None:
    pytest.importorskip("asyncpg")
    edit(project / "database_postgres.py", "_SETTINGS = (\n", f"{module}\n\n_SETTINGS = (\n")
    assert check(project) == []


# Still checked: a literal in a command's own shape (copy … to program), one the module runs,
# binds, or passes to a function, class or name of its own (it may run it).
SHOWN_STILL_CHECKED = {
    "copy-shape": "def f(log):\n    log.info(\"copy agents to program 'id'\")\n",
    "executed": "async def f(conn):\n    await conn.execute('lock agents')\n",
    "also-bound": "X = 'lock agents'\n\n\ndef f(log):\n    log.info('lock agents')\n",
    "own-function": "def info(q):\n    return q\n\n\ninfo('lock agents')\n",
    "own-class": (
        "class AError(Exception):\n    pass\n\n\ndef f():\n    raise AError('lock agents')\n"
    ),
    "imported": "from os import path as echo\n\necho('lock agents')\n",
}


@pytest.mark.parametrize(
    "module", list(SHOWN_STILL_CHECKED.values()), ids=list(SHOWN_STILL_CHECKED)
)
def test_a_shown_literal_that_may_run_is_still_checked(project: Path, module: str) -> None:
    pytest.importorskip("asyncpg")
    edit(project / "database_postgres.py", "_SETTINGS = (\n", f"{module}\n\n_SETTINGS = (\n")
    with pytest.raises(pgguard.UnsafeQueryError, match=r"^database_postgres\.py"):
        check(project)


# Relations sqlglot's tables leave out: each lower-case literal passed as a message, and on a 15.18
# server ``lock agents_v`` took ACCESS EXCLUSIVE on agents (a view locks what it reads).
LOCKED_RELATIONS = {
    "view": ("CREATE VIEW agents_v AS SELECT id FROM agents;\n", "lock agents_v"),
    "view-vacuum": (
        "CREATE OR REPLACE VIEW agents_v AS SELECT id FROM agents;\n",
        "vacuum agents_v",
    ),
    "typed-table": ("CREATE TYPE pair AS (a int);\nCREATE TABLE pairs OF pair;\n", "lock pairs"),
    "partition": (
        "CREATE TABLE parts (id int) PARTITION BY RANGE (id);\n"
        "CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (1) TO (10);\n",
        "lock parts_1",
    ),
    "renamed": (
        "CREATE VIEW v AS SELECT id FROM agents;\nALTER VIEW v RENAME TO seen;\n",
        "lock seen",
    ),
}


@pytest.mark.parametrize("case", sorted(LOCKED_RELATIONS))
def test_a_lower_case_command_and_a_view_or_partition_alone_is_checked(
    project: Path, case: str
) -> None:
    pytest.importorskip("asyncpg")
    sql, literal = LOCKED_RELATIONS[case]
    schema = project / "schema_postgres.sql"
    schema.write_text(schema.read_text(encoding="utf-8") + sql, encoding="utf-8")
    edit(project / "database_postgres.py", "_SETTINGS = (\n", f"_X = {literal!r}\n_SETTINGS = (\n")
    with pytest.raises(pgguard.UnsafeQueryError, match=r"^database_postgres\.py") as raised:
        check(project)
    assert literal.split()[0].upper() + " statement" in str(raised.value)


def test_a_view_the_module_makes_is_one_a_lower_case_lock_names(project: Path) -> None:
    pytest.importorskip("asyncpg")
    lines = '_V = "CREATE VIEW IF NOT EXISTS recent AS SELECT id FROM agents"\n_X = "lock recent"\n'
    edit(project / "database_postgres.py", "_SETTINGS = (\n", f"{lines}_SETTINGS = (\n")
    with pytest.raises(pgguard.UnsafeQueryError, match="LOCK statement"):
        check(project)


@pytest.mark.parametrize(
    "line",
    [
        '_X = ("SELECT pg_read_file(\'/etc/hostname\')", "SELECT 1")',
        '_X = ("select pg_read_file(\'/etc/hostname\')", "select 1")',
        '_X = ("copy (select 1) to program \'id\'", "CREATE TABLE IF NOT EXISTS x (y int)")',
    ],
)
def test_each_literal_of_a_line_is_checked(project: Path, line: str) -> None:
    """Named by their line alone, the last literal of a line replaced the others: it passed."""
    pytest.importorskip("asyncpg")
    edit(project / "database_postgres.py", "_SETTINGS = (\n", f"{line}\n_SETTINGS = (\n")
    with pytest.raises(pgguard.UnsafeQueryError, match=r"^database_postgres\.py") as raised:
        check(project)
    assert "line 118:" in str(raised.value)


# The server reads a string continued on a later line as one string, an E'…' one too, whose
# continuation is an escape string ('\' does not end it): "does not parse" before.
CONTINUED_STRINGS = [
    "E'a'\n'b'",
    "E'a'\n  -- why\n'\\' || pg_read_file(''/etc/passwd'') || '",
    "E'line one\nline two'",
    "E'x'\n'\\'y'",
    "'a'\n'b''c'",
    "N'a'\n'b'",
]


@pytest.mark.parametrize("string", CONTINUED_STRINGS)
def test_a_string_continued_on_a_later_line_is_one_string(project: Path, string: str) -> None:
    schema = pgcheck.parse_schema(f"CREATE TABLE t (x text DEFAULT {string});\nCREATE TABLE u ();")
    assert set(schema.tables) == {"t", "u"}
    sql = f"UPDATE t SET x = {string} WHERE x = $1"  # noqa: S608
    assert pgcheck.statement_error(sql, schema.tables) is None
    nope = f"SELECT {string} AS v FROM nope"  # noqa: S608
    assert pgcheck.statement_error(nope, {}) == "no such table: nope"
    # its line ends follow it: an error names the statement's own line
    error = str(pgcheck.statement_error(f"SELECT {string}\n\nFROM", {}))
    assert error.endswith(f"Line {string.count(chr(10)) + 3}, Col: 4.")
    schema_text = (ORCH / "schema_postgres.sql").read_text(encoding="utf-8")
    added = f"\nALTER TABLE agents ALTER COLUMN name SET DEFAULT {string};\n"
    (project / "schema_postgres.sql").write_text(schema_text + added, encoding="utf-8")
    assert messages(project) == []


@pytest.mark.parametrize(
    "options",
    ["SECURITY /* x */ DEFINER", "EXTERNAL -- c\n SECURITY /* a /* b */ c */ DEFINER"],
)
def test_a_comment_inside_an_option_sqlglot_is_not_given_is_blanked_once(options: str) -> None:
    """A comment inside ``SECURITY DEFINER`` was blanked twice: the text after it repeated."""
    text = (
        f"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql {options} SET search_path = public "
        "AS $$ BEGIN END $$;\nCREATE TABLE t (x int);"
    )
    assert set(pgcheck.parse_schema(text).tables) == {"t"}  # "does not parse" before


# A call of the project's quoted function spelt as one sqlglot knows: "does not parse" before
# (exit 1: sqlglot built its own LOWER, CASE, ... of any spelling); "Case"(1, 2, 3) a traceback.
OWN_QUOTED_CALLS = {
    "lower-no-argument": ('"Lower"', "", ""),
    "lower-two-arguments": ('"Lower"', "a int, b int", "1, 2"),
    "case-three-arguments": ('"Case"', "a int, b int, c int", "1, 2, 3"),
    "levenshtein": ('"Levenshtein_Less_Equal"', "", ""),
    "qualified": ('public."Upper"', "", ""),
}


@pytest.mark.parametrize("name", OWN_QUOTED_CALLS)
def test_a_call_of_an_own_quoted_function_spelt_as_sqlglot_s_is_read(name: str) -> None:
    function, params, args = OWN_QUOTED_CALLS[name]
    text = (
        f"CREATE FUNCTION {function}({params}) RETURNS int LANGUAGE sql AS 'SELECT 1';\n"  # noqa: S608
        f"CREATE TABLE tk (id int DEFAULT {function}({args}) CHECK (id >= 0));\n"
        f"CREATE VIEW vk AS SELECT {function}({args}) AS n FROM tk;\n"
    )
    table = pgcheck.parse_schema(text).tables["tk"]
    assert list(table.columns) == ["id"]
    assert table.checks["id"].bounds == {(">=", 0)}


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        ('SELECT "Lower"(name, 2) FROM agents', None),
        ('SELECT "Case"(1, 2, 3) FROM agents', None),
        ('SELECT "Lower"(nope) FROM agents', "no such column: nope"),
        ('SELECT "lower"(name, 2) FROM agents', "it does not parse"),  # PostgreSQL's lower
    ],
)
def test_a_module_s_call_of_a_quoted_name_is_read(literal: str, found: str | None) -> None:
    error = pgcheck.statement_error(literal, _shipped_tables())
    assert error == found if found is None else (error or "").startswith(found)


@pytest.mark.parametrize("call", ['"case"(1, 2, 3)', '"var_map"(1, 2, 3)'])
def test_a_tree_sqlglot_cannot_write_back_is_a_parse_problem(call: str) -> None:
    # PostgreSQL's own spelling, built by sqlglot as its CASE / VAR_MAP: a TypeError or an
    # IndexError on writing it back, a traceback before; the server has no such function either
    with pytest.raises(sqlglot.errors.ParseError):
        pgcheck.parse_schema(f"CREATE TABLE tk (id int DEFAULT {call});")
    error = pgcheck.statement_error(f"SELECT {call} FROM agents", _shipped_tables())  # noqa: S608
    assert error is None or error.startswith("it does not parse")


# PostgreSQL's unreserved words sqlglot reads as keywords, as names where the server takes them:
# each was the problem "does not parse" (exit 1) before.
KEYWORD_NAMES = {
    "cte": "CREATE VIEW vk AS WITH insert AS (SELECT 1 AS n) SELECT n FROM insert;",
    "cte-parenthesised": "CREATE VIEW vk AS (WITH drop AS (SELECT 1 AS n) SELECT n FROM drop);",
    "cte-second": "CREATE VIEW vk AS WITH m AS (SELECT 1 AS n), drop AS (SELECT 2 AS n)"
    " SELECT n FROM drop;",
    "cte-column": "CREATE VIEW vk AS WITH m (insert) AS (SELECT 1) SELECT insert FROM m;",
    "cte-materialized": "CREATE VIEW vk AS WITH alter AS MATERIALIZED (SELECT 1 AS n)"
    " SELECT n FROM alter;",
    "column-parenthesised": "CREATE TABLE tu (update int);\n"
    "CREATE VIEW vu AS SELECT (update) AS u FROM tu;",
    "alias": "CREATE VIEW vk AS SELECT 1 AS rollback;",
    "table": "CREATE TABLE revoke (id int);\nCREATE VIEW vk AS SELECT id FROM revoke;",
    "index-table": "CREATE TABLE insert (id int);\nCREATE INDEX ik ON insert (id);",
    # an operand of an expression, and a call of a function so named (each ran on a 15.18 server)
    "check-operand": "CREATE TABLE tk (insert int CHECK (insert > 0));",
    "check-right-operand": "CREATE TABLE tk (a int, drop int, CHECK (a < drop));",
    "check-cast-operand": "CREATE TABLE tk (rollback text CHECK (rollback::int > 0));",
    "view-call": "CREATE FUNCTION update(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a';\n"
    "CREATE VIEW vu AS SELECT update(1) AS x;",
    "view-call-of-a-sqlglot-name": "CREATE VIEW vu AS SELECT abs(insert(1)) AS x;",
    # BETWEEN alone in a list, and a name alone after ORDER BY (each ran on a 15.18 server)
    "index-between": "CREATE TABLE tk (between int);\nCREATE INDEX ik ON tk (between);",
    "index-between-second": "CREATE TABLE tk (a int, between int);\n"
    "CREATE INDEX ik ON tk (a, between);",
    "view-order-by-between": "CREATE TABLE tk (a int);\n"
    "CREATE VIEW vk AS SELECT a AS between FROM tk ORDER BY between DESC;",
    # a function defined with such a name (each ran on a 15.18 server)
    **{
        f"function-named-{word}": f"CREATE FUNCTION {word}(a int) RETURNS int LANGUAGE sql"
        f" IMMUTABLE AS 'SELECT a';\nCREATE VIEW vk AS SELECT {word}(1) AS x;"
        for word in ("cross", "tablesample", "drop", "inner", "insert")
    },
    "function-named-join": "CREATE FUNCTION join(a int) RETURNS int LANGUAGE sql IMMUTABLE"
    " AS 'SELECT a';",
}


# More such names (each was "does not parse" and ran on a 15.18 server): a call of the
# project's own function named by a keyword sqlglot reads, where the server reads a call (a
# call of one the project lacks is refused first: pgguard), a column named ``if`` or
# ``exclude``, and a table's alias without AS.
KEYWORD_NAMES |= {
    **{
        f"view-calls-own-{word}": f"CREATE FUNCTION {word}(a int) RETURNS int LANGUAGE sql"
        f" IMMUTABLE AS 'SELECT a';\nCREATE VIEW vk AS SELECT {word}(1) AS x,"
        f" abs({word}(2)) AS y;"
        for word in ("over", "transform", "search", "join", "rollup", "if", "filter")
    },
    "view-calls-own-cross-in-an-argument": "CREATE FUNCTION cross(a int) RETURNS int"
    " LANGUAGE sql IMMUTABLE AS 'SELECT a';\nCREATE VIEW vk AS SELECT abs(cross(1)) AS x;",
    "check-if": "CREATE TABLE tk (if int CHECK (if >= 0));",
    "check-if-between": "CREATE TABLE tk (if int CHECK (if BETWEEN 1 AND 5));",
    "check-between-between": "CREATE TABLE tk (between int CHECK (between BETWEEN 1 AND 5));",
    "column-exclude": "CREATE TABLE tk (exclude int);",
    "column-exclude-checked": "CREATE TABLE tk (a int, exclude int, CHECK (exclude + a > 0));",
    "view-table-alias-between": "CREATE VIEW vk AS SELECT between.id FROM agents between;",
    "check-over-between": "CREATE TABLE tk (over int CHECK (over BETWEEN 1 AND 5));",
    "view-calls-own-notnull": "CREATE FUNCTION notnull(a int) RETURNS int LANGUAGE sql IMMUTABLE"
    " AS 'SELECT a';\nCREATE VIEW vk AS SELECT notnull(1) AS x, abs(notnull(2)) AS y;",
    "view-calls-own-match": "CREATE FUNCTION match(a int) RETURNS int LANGUAGE sql IMMUTABLE"
    " AS 'SELECT a';\nCREATE VIEW vk AS SELECT match(1) AS x, abs(match(2)) AS y;",
    **{
        f"trigger-executes-own-{word}": "CREATE TABLE tk (a int);\nCREATE FUNCTION"
        f" {word}() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;\n"
        f"CREATE TRIGGER trk BEFORE UPDATE ON tk FOR EACH ROW EXECUTE FUNCTION {word}();"
        for word in ("day", "if", '"first"', "insert", "collation", "public.columns")
    },
    **{
        f"generated-by-own-{word}": f"CREATE FUNCTION {word}(a int) RETURNS int LANGUAGE sql"
        f" IMMUTABLE AS 'SELECT a';\nCREATE TABLE tk (a int, b int GENERATED ALWAYS AS"
        f" ({word}(a)) STORED);"
        for word in ("maxvalue", "minvalue")
    },
}
# and where those words are syntax they stay so
KEYWORD_SYNTAX = [
    "CREATE TABLE tk (a int, EXCLUDE (a WITH =));",
    "CREATE TABLE tk (a int PRIMARY KEY REFERENCES tk (a) MATCH FULL,"
    " match int REFERENCES tk (a) MATCH SIMPLE);",
    "CREATE TABLE tk (a int GENERATED ALWAYS AS IDENTITY (MINVALUE 1 MAXVALUE 9)) PARTITION BY"
    " RANGE (a);\nCREATE TABLE tk1 PARTITION OF tk FOR VALUES FROM (MINVALUE) TO (MAXVALUE);",
    "CREATE TABLE tk (a int, EXCLUDE USING btree (a WITH =));",
    "CREATE TABLE IF NOT EXISTS tk (a int);",
    "CREATE VIEW vk AS SELECT count(*) FILTER (WHERE true) OVER () AS n FROM agents"
    " GROUP BY ROLLUP (status);",
]


@pytest.mark.parametrize("text", KEYWORD_SYNTAX)
def test_those_words_as_syntax_still_parse(text: str) -> None:
    assert pgcheck.parse_schema(text) is not None


@pytest.mark.parametrize("name", KEYWORD_NAMES)
def test_a_keyword_the_server_takes_as_a_name_is_read_as_one(name: str) -> None:
    pgcheck.parse_schema(KEYWORD_NAMES[name])  # raised ParseError before


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        ("(WITH insert AS (SELECT 1 AS n) SELECT n FROM insert)", None),
        ("WITH m (insert) AS (SELECT 1) SELECT insert FROM m", None),
        ("SELECT id AS drop FROM agents", None),
        ("SELECT lock.id FROM agents AS lock", None),
        ("WITH insert AS (SELECT nope FROM agents) SELECT 1 FROM insert", "no such column: nope"),
        ("SELECT id FROM insert", "no such table: insert"),
        # where the word is no name it stays a keyword
        ("SELECT * FROM unnest(ARRAY[1]) WITH ORDINALITY AS u (x, n)", None),
        ("SELECT * FROM ROWS FROM (generate_series(1, 2)) AS g", None),
        # an operand and a call (was "does not parse" and "no such column: update")
        ("SELECT id FROM agents WHERE (insert > 0)", "no such column: insert"),
        ("SELECT update(id) FROM agents", None),
        ("SELECT update(nope) FROM agents", "no such column: nope"),
        (
            "SELECT count(*) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) "
            "FROM agents",
            None,
        ),
        (
            "MERGE INTO agents a USING agents s ON a.id = s.id "
            "WHEN NOT MATCHED THEN INSERT (name) VALUES (s.name)",
            None,
        ),
        ("SELECT status, count(*) FROM agents GROUP BY ROLLUP (status)", None),
        # a name alone after ORDER BY or GROUP BY (was "does not parse")
        ("SELECT id AS between FROM agents ORDER BY between", None),
        ("SELECT id AS between FROM agents ORDER BY between, id", None),
        ("SELECT id AS between FROM agents ORDER BY between NULLS FIRST LIMIT 1", None),
        ("SELECT id AS insert FROM agents ORDER BY insert", None),
        ("SELECT name AS between FROM agents GROUP BY between", None),
        ("SELECT id FROM agents ORDER BY between", "no such column: between"),
        ("SELECT id FROM agents ORDER BY insert", "no such column: insert"),
        # a table's alias without AS (was "does not parse")
        ("SELECT between.id FROM agents between", None),
        ("SELECT values.id FROM agents values WHERE values.id IS NOT NULL", None),
        ("SELECT between.nope FROM agents between", "no such column: between.nope"),
        # a reserved word the server takes as a bare label (was "does not parse")
        *(
            (f"SELECT id {word} FROM agents", None)  # noqa: S608
            for word in ("and", "tablesample", "cross", "distinct", "else", "like", "when")
        ),
        ("SELECT id and, lower(name) select FROM agents", None),
        ("UPDATE agents SET name = 'x' WHERE id = $1 RETURNING id or", None),
        # TABLE as a label is no TABLE t query (was "does not parse")
        ("SELECT id table FROM agents", None),
        ("SELECT id, name table FROM agents WHERE id = $1", None),
        ("SELECT 1 AS table", None),
        ("SELECT id table FROM nope", "no such table: nope"),
        ("SELECT nope table FROM agents", "no such column: nope"),
        ("SELECT 1 FROM (TABLE nope) t", "no such table: nope"),
        # a keyword as a window's name, a derived table's alias, a RETURNING or subquery label
        ("SELECT count(*) OVER alter FROM agents WINDOW alter AS (ORDER BY id)", None),
        ("SELECT count(*) OVER values FROM agents WINDOW values AS (ORDER BY id)", None),
        ("SELECT insert.x FROM agents CROSS JOIN LATERAL (SELECT 1 AS x) insert", None),
        ("SELECT between.x FROM agents CROSS JOIN LATERAL (SELECT 1 AS x) between", None),
        ("UPDATE agents SET name = name WHERE id = $1 RETURNING id between, name join", None),
        ("SELECT s.x FROM (SELECT 1 lateral, 2 values, 3 AS x) s", None),
        ("DELETE FROM agents WHERE id = $1 RETURNING id AS not, name AS select", None),
        (
            "SELECT drop.nope FROM agents CROSS JOIN LATERAL (SELECT 1 AS x) drop",
            "no such column: drop.nope",
        ),
        ("SELECT id AS not FROM nope", "no such table: nope"),
        # a reserved word as a derived table's column, named with the table's alias
        ("SELECT s.not FROM (SELECT id AS not FROM agents) AS s WHERE s.not IS NOT NULL", None),
        ("SELECT s.select, s.table FROM (SELECT id AS select, name AS table FROM agents) s", None),
        ("SELECT s.table FROM (SELECT id AS x FROM agents) AS s", "no such column: s.table"),
    ],
)
def test_a_module_s_keyword_name_is_read_as_one(literal: str, found: str | None) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


def test_a_trigger_s_events_stay_keywords() -> None:
    text = (
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        "CREATE TRIGGER tr BEFORE INSERT OR UPDATE OR DELETE ON agents FOR EACH ROW "
        "EXECUTE FUNCTION f();"
    )
    assert pgcheck.parse_schema(text).triggers == {"tr": "agents"}


def test_a_keyword_name_keeps_a_references_action() -> None:
    text = (
        "CREATE TABLE alter (id int PRIMARY KEY);\n"
        "CREATE TABLE tk (a int REFERENCES alter (id) ON UPDATE CASCADE ON DELETE SET NULL);"
    )
    key = pgcheck.parse_schema(text).tables["tk"].foreign_keys["a"]
    assert (key.table, key.to, key.on_delete) == ("alter", "id", "SET NULL")


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        # an output column named in ORDER BY or GROUP BY: "no such column: n" before (exit 1)
        ("SELECT id AS n FROM agents ORDER BY n", None),
        ("SELECT id n FROM agents ORDER BY n DESC NULLS LAST", None),
        ("SELECT count(*) AS c, status FROM agents GROUP BY status ORDER BY c", None),
        ("SELECT status AS s FROM agents GROUP BY s", None),
        ("SELECT id AS n FROM agents UNION SELECT id FROM prompts ORDER BY n", None),
        # the server takes no output name elsewhere: still a problem
        ("SELECT id AS n FROM agents ORDER BY n + 1", "no such column: n"),
        ("SELECT id AS n FROM agents WHERE n IS NULL", "no such column: n"),
        ("SELECT id AS n FROM agents GROUP BY n HAVING n > 1", "no such column: n"),
        ("SELECT a.id AS n FROM agents a ORDER BY a.n", "no such column: a.n"),
        ("SELECT id AS n FROM agents ORDER BY nope", "no such column: nope"),
    ],
)
def test_an_output_column_may_be_named_in_order_by(literal: str, found: str | None) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


RESERVED = "full is a reserved word in PostgreSQL: a name so spelt is quoted"


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        # a syntax error on the server (reserved and type-or-function-name words): passed before
        ("SELECT id AS full FROM agents ORDER BY full", RESERVED),
        ("SELECT id AS full FROM agents GROUP BY full", RESERVED),
        ("SELECT id AS left FROM agents ORDER BY left DESC", RESERVED.replace("full", "left")),
        ("SELECT id FROM agents WHERE is = 1", RESERVED.replace("full", "is")),
        # where the server reads the word as a name or a value, no problem
        ("SELECT id AS full FROM agents", None),
        ("SELECT id full FROM agents", None),
        ('SELECT id AS "full" FROM agents ORDER BY "full"', None),
        ("SELECT full.id FROM agents AS full", RESERVED),
        ("WITH full AS (SELECT 1 AS n) SELECT n FROM full", RESERVED),
        ("SELECT t.n FROM (SELECT 1) AS t (full)", RESERVED),
        ('SELECT "full".id FROM agents AS "full"', None),
    ],
)
def test_a_reserved_word_is_no_column(literal: str, found: str | None) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        # values to the server: "no such column: default" (or user, current_role) before, exit 1
        ("UPDATE agents SET name = DEFAULT WHERE id = $1", None),
        ("UPDATE agents SET name = user", None),
        ("SELECT user, current_role FROM agents", None),
        ("SELECT id FROM agents WHERE name = session_user", None),
        # DEFAULT elsewhere is an error on the server; a quoted "user" is a column
        ("SELECT default FROM agents", RESERVED.replace("full", "default")),
        ("UPDATE agents SET name = lower(DEFAULT)", RESERVED.replace("full", "default")),
        ('SELECT "user" FROM agents', "no such column: user"),
    ],
)
def test_a_value_word_is_no_column(literal: str, found: str | None) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


@pytest.mark.parametrize(
    ("view", "found"),
    [
        # the server refuses the schema (a syntax error): passed before
        ("SELECT id AS full FROM agents ORDER BY full", "full"),
        ("SELECT id FROM agents AS full", "full"),
        ("WITH left AS (SELECT 1 AS n) SELECT n FROM left", "left"),
        ("(SELECT id FROM agents ORDER BY is) UNION SELECT 1", "is"),
        # an output column's name, a quoted or a qualified one: the server makes the view
        ("SELECT id AS full FROM agents", None),
        ('SELECT id AS "full" FROM agents ORDER BY "full"', None),
        ("SELECT a.full FROM agents AS a", None),
        ("SELECT user, current_user FROM agents WHERE name = session_user", None),
    ],
)
def test_a_schema_view_s_reserved_word_is_a_parse_problem(view: str, found: str | None) -> None:
    text = f"CREATE TABLE agents (id int, name text);\nCREATE VIEW v AS {view};\n"
    if found is None:
        assert set(pgcheck.parse_schema(text).tables) == {"agents"}
        return
    with pytest.raises(sqlglot.errors.ParseError, match=RESERVED.replace("full", found)):
        pgcheck.parse_schema(text)


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        # a bare alias spelt as an unreserved word: the server takes it ("does not parse" before)
        ("SELECT id insert FROM agents", None),
        ("SELECT id insert, name update FROM agents", None),
        ("SELECT lower(name) insert FROM agents", None),
        ("SELECT (SELECT id insert FROM agents LIMIT 1)", None),
        ("DELETE FROM agents WHERE false RETURNING id first", None),
        ("SELECT nope insert FROM agents", "no such column: nope"),
        # the words stay keywords where the server reads them so
        ("SELECT id FROM agents FOR NO KEY UPDATE", None),
        ("SELECT id FROM agents ORDER BY id OFFSET 1 ROWS", None),
        ("SELECT id FROM agents WHERE name = name insert", "it does not parse"),
    ],
)
def test_a_bare_alias_may_be_spelt_as_an_unreserved_word(literal: str, found: str | None) -> None:
    error = pgcheck.statement_error(literal, _shipped_tables())
    assert error == found if found is None else str(error).startswith(found)


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        # the row proposed for insertion: "no such table: excluded" before (exit 1)
        (
            "INSERT INTO agents (name) VALUES ($1) ON CONFLICT (id) DO UPDATE"
            " SET name = EXCLUDED.name RETURNING id",
            None,
        ),
        (
            "INSERT INTO agents AS a (name) VALUES ($1) ON CONFLICT (id) DO UPDATE"
            " SET name = excluded.name WHERE a.name <> excluded.name",
            None,
        ),
        (
            "INSERT INTO agents (name) VALUES ($1) ON CONFLICT (id) DO UPDATE"
            " SET name = excluded.nope",
            "no such column: excluded.nope",
        ),
        ("SELECT excluded.name FROM agents", "no such table: excluded"),
    ],
)
def test_excluded_is_the_row_an_upsert_proposes(literal: str, found: str | None) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


NO_BARE_LABEL = "over is no bare column label in PostgreSQL: write AS over"


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        # each passed; the server: syntax error at or near "over" (or the next word)
        ("SELECT id over FROM agents", NO_BARE_LABEL),
        ("SELECT id, lower(name) over, 1 FROM agents", NO_BARE_LABEL),
        ("SELECT (SELECT id over FROM agents LIMIT 1)", NO_BARE_LABEL),
        ("INSERT INTO agents (name) VALUES ($1) RETURNING id over", NO_BARE_LABEL),
        ("SELECT count(*) filter FROM agents", NO_BARE_LABEL.replace("over", "filter")),
        # labelled with AS or quoted, or a window and a filter: the server runs them
        ("SELECT id AS over FROM agents", None),
        ('SELECT id "over" FROM agents', None),
        ("SELECT count(*) OVER () FROM agents", None),
        ("SELECT count(*) OVER w FROM agents WINDOW w AS ()", None),
        ("SELECT count(*) FILTER (WHERE id IS NULL) FROM agents", None),
    ],
)
def test_filter_and_over_are_no_bare_labels(literal: str, found: str | None) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


@pytest.mark.parametrize(
    ("view", "found"),
    [
        ("SELECT id over FROM agents", NO_BARE_LABEL),
        ("SELECT count(*) OVER () AS n FROM agents", None),
    ],
)
def test_a_schema_view_s_bare_over_label_is_a_parse_problem(view: str, found: str | None) -> None:
    text = f"CREATE TABLE agents (id int, name text);\nCREATE VIEW v AS {view};\n"
    if found is None:
        assert set(pgcheck.parse_schema(text).tables) == {"agents"}
        return
    with pytest.raises(sqlglot.errors.ParseError, match=found):
        pgcheck.parse_schema(text)


# Types the server reads that sqlglot cannot: bit varying, nchar varying, national character, an
# interval's second (p), an array type spelt ARRAY or sized in a cast. Each runs on the server;
# they were "does not parse" (exit 1).
TYPE_SPELLINGS = [
    ("SELECT '1'::bit varying(4), B'1'::bit /* c */ varying", None),
    ("SELECT CAST(NULL AS bit varying(3)[]), CAST(NULL AS nchar varying(3))", None),
    ("SELECT 'a'::national character varying(4), 'b'::national char(2)", None),
    ("SELECT '1'::interval second(2), interval '1' day to second (3)", None),
    ("SELECT CAST('1' AS interval hour to second(2)) FROM agents", None),
    ("SELECT nope::bit varying(3) FROM agents", "no such column: nope"),
    ("SELECT id::interval minute to second(2) FROM nope", "no such table: nope"),
    ("SELECT '{1}'::int ARRAY[3], '{}'::numeric(3, 1) ARRAY, '{}'::pg_catalog.int4 ARRAY", None),
    ("SELECT CAST(NULL AS int ARRAY[3]), CAST(NULL AS timestamp with time zone ARRAY)", None),
    ("SELECT CAST(NULL AS int[3]), CAST(NULL AS double precision[2][2]) FROM agents", None),
    ('SELECT CAST(NULL AS timestamp(3) with time zone [3]), CAST(NULL AS public."T" ARRAY)', None),
    ("SELECT CAST(CAST(NULL AS bit varying(2)[3]) AS text ARRAY[1]) FROM agents", None),
    # a constructor stays one: after a keyword, an operator, AT TIME ZONE
    ("SELECT id FROM agents ORDER BY ARRAY[1], now() AT TIME ZONE ARRAY['UTC']::text", None),
    ("SELECT '{1}'::int[] OPERATOR(pg_catalog.@>) ARRAY[1], (CAST(ARRAY[1] AS int[1]))[1]", None),
    ("SELECT CAST(nope AS int ARRAY[3]) FROM agents", "no such column: nope"),
    ("SELECT CAST(ARRAY[nope] AS int[3]) FROM agents", "no such column: nope"),
    ("SELECT '{}'::int ARRAY FROM nope", "no such table: nope"),
]


@pytest.mark.parametrize(("literal", "found"), TYPE_SPELLINGS)
def test_a_type_sqlglot_cannot_spell_is_read_as_the_server_reads_it(
    literal: str, found: str | None
) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


# A sort by an operator, a collation's schema and an empty output list, which sqlglot cannot
# read: each runs on the server; they were "does not parse" and "no such table: pg_catalog".
SORT_SPELLINGS = [
    ("SELECT id FROM agents ORDER BY name USING <, name USING ~>~", None),
    ("SELECT row_number() OVER (ORDER BY name USING OPERATOR(pg_catalog.>)) FROM agents", None),
    ("SELECT array_agg(id ORDER BY name USING >) FROM agents", None),
    (
        'SELECT id FROM agents WHERE name COLLATE pg_catalog."C" < $1 ORDER BY name COLLATE "C"',
        None,
    ),
    ("SELECT a.id FROM agents a JOIN prompts p USING (id) ORDER BY a.name USING <", None),
    ("SELECT id FROM agents ORDER BY nope USING <", "no such column: nope"),
    # an empty output list before LIMIT or OFFSET (the server reads SELECT limit(1) so)
    ("SELECT LIMIT 1", None),
    ("SELECT limit(1)", None),
    ("SELECT\tOFFSET 0", None),
    ("SELECT\nLIMIT 1", None),
    ("SELECT\n  LIMIT 1", None),
    ("SELECT\r\n\tOFFSET 0 FOR UPDATE", None),
    ("SELECT /* none */ LIMIT 1", None),
    ("SELECT\nLIMIT 1 UNION SELECT id FROM nope", "no such table: nope"),
    ("SELECT LIMIT 1 UNION SELECT id FROM nope", "no such table: nope"),
    ('SELECT nope COLLATE pg_catalog."C" FROM agents', "no such column: nope"),
]


@pytest.mark.parametrize(("literal", "found"), SORT_SPELLINGS)
def test_a_sort_a_collation_s_schema_and_an_empty_output_list_are_read(
    literal: str, found: str | None
) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


# A source's name alone is its whole row, as the server reads it: each was "no such column: a"
# (exit 1) and runs on the server; a field of it is looked up as a qualified column is.
WHOLE_ROWS = [
    ("SELECT row_to_json(a) FROM agents a", None),
    ("SELECT to_jsonb(agents), (agents).name FROM agents", None),
    ("SELECT a, (a).*, (a).name FROM agents a", None),
    ("SELECT count(p) FROM agents a JOIN prompts p ON p.agent_id = a.id", None),
    ("SELECT (s).id, row_to_json(s) FROM (SELECT id FROM agents) s", None),
    ("SELECT (a).nope FROM agents a", "no such column: a.nope"),
    ("SELECT (s).name FROM (SELECT id FROM agents) s", "no such column: s.name"),
    ("SELECT (b).name FROM agents a", "no such column: b"),
]


@pytest.mark.parametrize(("literal", "found"), WHOLE_ROWS)
def test_a_source_s_whole_row_and_its_fields_are_read(literal: str, found: str | None) -> None:
    assert pgcheck.statement_error(literal, _shipped_tables()) == found


def test_a_schema_s_column_of_such_a_type_is_read() -> None:
    text = (
        "CREATE TABLE tk (a bit varying(3) DEFAULT B'1' CHECK (a <> B'0'::bit varying(3)),\n"
        "  b interval day to second(3), c national character varying(3), d nchar varying(2),\n"
        "  e int ARRAY, f varchar(3) ARRAY[4] DEFAULT NULL CHECK (f <> CAST(NULL AS varchar[2])),\n"
        "  g numeric(3, 1) ARRAY, h timestamp with time zone ARRAY[2]);"
    )
    columns = pgcheck.parse_schema(text).tables["tk"].columns
    assert [column.name for column in columns.values()] == [*"abcdefgh"]
    assert [columns[name].declared for name in "efgh"] == [
        "INT[]",
        "VARCHAR(3)[]",
        "DECIMAL(3, 1)[]",
        "TIMESTAMPTZ[]",
    ]


def test_a_schema_s_call_sqlglot_cannot_write_back_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """sqlglot warned on stderr (twice) while the check described such a table's CHECK."""
    text = "CREATE TABLE tk (a int CHECK ((current_schema(1)) >= a));"
    with caplog.at_level(logging.DEBUG, logger="sqlglot"):
        schema = pgcheck.parse_schema(text)
    assert "tk" in schema.tables
    assert [r.getMessage() for r in caplog.records if r.name.startswith("sqlglot")] == []


def test_a_reserved_word_in_a_column_list_is_still_no_name() -> None:
    """``v(not)`` is a syntax error on the server: ``v.not`` of it is not read as a name."""
    for view in (
        "CREATE VIEW vk AS SELECT v.not FROM (VALUES (1)) AS v(not);",
        "CREATE VIEW vk AS SELECT v.select FROM (VALUES (1)) AS v(select);",
    ):
        with pytest.raises(sqlglot.errors.ParseError):
            pgcheck.parse_schema(view)
    view = "CREATE VIEW vk AS SELECT s.not FROM (SELECT 1 AS not) AS s;"
    assert "vk" not in pgcheck.parse_schema(view).tables
