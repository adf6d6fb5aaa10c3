"""Models against schema against database module, on real files and real SQLite."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from tac_bootstrap import agreement, sqlcheck, sqlfile
from tac_bootstrap.agreement import ModelsImportError
from tac_bootstrap.manifest import Agreement
from tac_bootstrap.report import Problem

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo" / "pkg" / "orch"
FILES = Agreement("models.py", "schema.sql", "database.py")

MODELS = """
import enum
from typing import Annotated, Any, ClassVar, Literal, Optional

from pydantic import BaseModel, Field


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Thing(BaseModel):
    __tablename__: ClassVar[str] = "things"

    id: int
    color: Color = Color.RED
    score: Annotated[float, Field(ge=0, le=1)] | None = None
    size: Optional[Annotated[int, Field(gt=0)]] = None
    flag: bool = False
    tags: list[str] = []
    level: Literal[1, 2] = 1
    ref: str = Field(default="", json_schema_extra={"foreign_key": "others.code"})
    other_id: str | None = Field(default=None, json_schema_extra={"foreign_key": None})
    anything: Any = None


class Other(BaseModel):
    __tablename__: ClassVar[str] = "others"

    id: str
    code: str


MODELS = (Thing, Other)
"""

SCHEMA = """CREATE TABLE others (id TEXT PRIMARY KEY NOT NULL, code TEXT NOT NULL UNIQUE);
CREATE TABLE things (
    id INTEGER PRIMARY KEY,
    color TEXT NOT NULL CHECK (color IN ('red', 'blue')),
    score REAL CHECK (score >= 0 AND score <= 1),
    size INTEGER CHECK (size > 0),
    flag INTEGER NOT NULL CHECK (flag IN (0, 1)),
    tags TEXT NOT NULL CHECK (json_valid(tags)),
    level INTEGER NOT NULL CHECK (level IN (2, 1)),
    ref TEXT NOT NULL REFERENCES others(code),
    other_id TEXT,
    anything BLOB
);
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "schema.sql").write_text(SCHEMA)
    (tmp_path / "database.py").write_text('Q = "SELECT code FROM others WHERE id = ?"\n')
    return tmp_path


def messages(root: Path) -> list[str]:
    return [p.message for p in agreement.check_agreement(root, FILES)]


def database_problems(root: Path) -> list[Problem]:
    """Return what :func:`agreement.check_agreement` says of the database module alone.

    The same checks on the same loaded schema, without importing the models module: the
    project's models agree with its schema (``test_enums_annotated_…``), and importing them
    in a child process for each database module was most of this module's time.
    """
    assert FILES.database is not None
    schema = (root / FILES.schema).read_text()
    with sqlcheck.loaded_schema(schema, FILES.schema) as conn:
        return [
            *agreement.check_statements(conn, root, FILES.database),
            *agreement.check_built_statements(conn, root, FILES.database),
        ]


def assert_refused(root: Path, module: str, match: str) -> None:
    """Write ``module`` as the database module: the check refuses it (exit 2), saying ``match``."""
    (root / "database.py").write_text(module)
    with pytest.raises(sqlfile.UnsafeQueryError, match=match):
        database_problems(root)


def assert_passes(root: Path, module: str) -> None:
    """Write ``module`` as the database module: the check finds nothing (exit 0)."""
    (root / "database.py").write_text(module)
    assert database_problems(root) == []


def test_the_database_checks_alone_say_what_the_whole_check_says(project: Path) -> None:
    # database_problems stands for check_agreement in assert_refused and assert_passes.
    module = "def f(conn):\n    conn.execute('SELECT nope FROM others')\n"
    (project / "database.py").write_text(module)
    whole = agreement.check_agreement(project, FILES)
    assert whole
    assert database_problems(project) == whole
    assert_refused(project, "import os\nQ = \"ATTACH 'x.db' AS y\"\n", "ATTACH")
    with pytest.raises(sqlfile.UnsafeQueryError, match="ATTACH"):
        agreement.check_agreement(project, FILES)


def test_fixture_agrees() -> None:
    assert agreement.check_agreement(FIXTURE, FILES) == []


def test_enums_annotated_optional_bool_json_and_declared_keys_agree(project: Path) -> None:
    assert messages(project) == []


def test_field_facts(project: Path) -> None:
    [thing, _] = agreement.load_models(project / "models.py")
    facts = thing.fields
    assert (thing.name, thing.table) == ("Thing", "things")
    assert facts["color"].allowed == ("red", "blue")
    assert facts["score"].bounds == frozenset({(">=", 0), ("<=", 1)})
    assert (facts["score"].nullable, facts["score"].affinity) == (True, "REAL")
    assert facts["size"].bounds == frozenset({(">", 0)})
    assert facts["size"].shown == "int | None"
    assert facts["flag"].affinity == "INTEGER"
    assert (facts["tags"].json, facts["tags"].affinity) == (True, "TEXT")
    assert facts["ref"].foreign_key == "others.code"
    assert facts["other_id"].foreign_key is None
    assert facts["anything"].affinity is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "flag INTEGER NOT NULL CHECK (flag IN (0, 1))",
            "flag INTEGER NOT NULL CHECK (flag IN (0, 1, 2))",
            "things.flag: the model says any value, the schema says one of 0, 1, 2",
        ),
        (
            "score >= 0 AND score <= 1",
            "score >= 0",
            "things.score: the model says <= 1 and >= 0, the schema says >= 0",
        ),
        (
            "REFERENCES others(code)",
            "REFERENCES others(id)",
            "things.ref: the model says REFERENCES others(code), the schema says "
            "REFERENCES others(id)",
        ),
        (
            "other_id TEXT,",
            "other_id TEXT REFERENCES others(id),",
            "things.other_id: the model says no foreign key, the schema says REFERENCES others(id)",
        ),
        (
            "level INTEGER NOT NULL",
            "level TEXT NOT NULL",
            "things.level: the model says Literal[1, 2] (stored as INTEGER), the schema says "
            "TEXT (affinity TEXT)",
        ),
        (
            "CREATE TABLE others (id TEXT PRIMARY KEY NOT NULL, code TEXT NOT NULL UNIQUE);",
            "CREATE TABLE others (id TEXT PRIMARY KEY NOT NULL, code TEXT NOT NULL UNIQUE);\n"
            "CREATE TABLE spare (x);",
            "spare: the model says no model has this table, the schema says it exists",
        ),
    ],
    ids=["check-values", "check-bounds", "reference", "foreign-key", "type", "extra-table"],
)
def test_each_disagreement(project: Path, old: str, new: str, message: str) -> None:
    path = project / "schema.sql"
    path.write_text(path.read_text().replace(old, new))
    assert messages(project) == [message]


def test_missing_table(project: Path) -> None:
    path = project / "schema.sql"
    path.write_text(path.read_text().split("CREATE TABLE things")[0])
    assert messages(project) == [
        "things: the model Thing says this table exists, the schema says no such table"
    ]
    [problem] = agreement.check_agreement(project, FILES)
    assert (problem.path, problem.line) == ("schema.sql", None)


def test_schema_that_does_not_load_names_its_line(project: Path) -> None:
    (project / "schema.sql").write_text(SCHEMA.replace("anything BLOB", "anything BLOB,"))
    [problem] = agreement.check_agreement(project, FILES)
    assert (problem.kind, problem.path, problem.line) == ("schema", "schema.sql", 2)
    assert problem.message == 'the schema does not load into SQLite: near ")": syntax error'


def test_database_module_not_python(project: Path) -> None:
    (project / "database.py").write_text("def (:\n")
    [problem] = agreement.check_agreement(project, FILES)
    assert (problem.kind, problem.line) == ("database", 1)
    assert problem.message.startswith("not valid Python: ")


def test_database_module_with_a_byte_order_mark_is_python(project: Path) -> None:
    # Python imports a file that starts with a BOM (some editors write one): so does the check.
    source = (
        '\ufeffQ = "SELECT nope FROM others"\n\ndef statements():\n    return {"b": "SELECT x"}\n'
    )
    (project / "database.py").write_text(source, encoding="utf-8")
    assert [(p.line, p.message) for p in agreement.check_agreement(project, FILES)] == [
        (
            1,
            "statement 'SELECT nope FROM others' does not prepare against the schema: "
            "no such column: nope",
        ),
        (4, "statement 'SELECT x' does not prepare against the schema: no such column: x"),
        (None, "statement b ('SELECT x') does not prepare against the schema: no such column: x"),
    ]


def test_missing_files(project: Path) -> None:
    (project / "database.py").unlink()
    assert [(p.kind, p.path) for p in agreement.check_agreement(project, FILES)] == [
        ("missing", "database.py")
    ]
    (project / "schema.sql").unlink()
    assert [(p.path, p.message) for p in agreement.check_agreement(project, FILES)] == [
        ("schema.sql", "named by [tool.tac-bootstrap.sync.agreement] but missing"),
        ("database.py", "named by [tool.tac-bootstrap.sync.agreement] but missing"),
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("raise RuntimeError('boom')\n", "the models module fails to import: RuntimeError: boom"),
        ("X = 1\n", "the models module has no MODELS tuple listing its model classes"),
        (
            "from pydantic import BaseModel\nclass A(BaseModel):\n    x: int\nMODELS = (A,)\n",
            "model A has no __tablename__",
        ),
    ],
)
def test_models_module_problems_are_errors(project: Path, source: str, message: str) -> None:
    (project / "models.py").write_text(source)
    with pytest.raises(ModelsImportError) as info:
        agreement.check_agreement(project, FILES)
    assert str(info.value) == f"{project / 'models.py'}: {message}"
    assert info.value.exit_code == 2


def test_line_of_a_column_in_the_schema() -> None:
    text = (FIXTURE / "schema.sql").read_text()
    assert agreement._line(text, "tasks", "status") == 10
    assert agreement._line(text, "tasks", None) == 7
    assert agreement._line(text, "nowhere", "x") is None


class _CountedText(str):
    """A schema text that counts how often it is split into lines."""

    splits = 0

    def splitlines(self, keepends: bool = False) -> list[str]:
        type(self).splits += 1
        return super().splitlines(keepends)


def test_the_schema_is_read_once_for_all_its_problems() -> None:
    # Read once per problem, 5,000 tables no model has took two minutes (and four times as
    # long for twice as many): each problem's line is now looked up in one reading.
    text = _CountedText(
        "".join(f"CREATE TABLE t{i} (\n    a INT,\n    b INT\n);\n" for i in range(300))
    )
    lines = [agreement._line(text, f"T{i}", column) for i in range(300) for column in ("b", None)]
    assert lines == [n for i in range(300) for n in (4 * i + 3, 4 * i + 1)]
    assert _CountedText.splits == 1


def test_compare_with_copied_fixture(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "orch")
    conn = sqlcheck.load_untrusted_schema(
        (tmp_path / "orch" / "schema.sql").read_text(), "schema.sql"
    )
    try:
        models = agreement.load_models(tmp_path / "orch" / "models.py")
        assert agreement.compare(models, sqlcheck.tables(conn)) == []
    finally:
        conn.close()


BUILT = """
from .models import MODELS


def statements():
    return {
        f"{m.__tablename__}.select": f"SELECT {', '.join(m.model_fields)} FROM {m.__tablename__}"
        for m in MODELS
    }
"""


def test_statements_built_by_the_module_are_prepared_by_name(project: Path) -> None:
    (project / "database.py").write_text(BUILT)
    assert messages(project) == []
    (project / "database.py").write_text(BUILT.replace("FROM {m.__tablename__}", "FROM nowhere"))
    assert messages(project) == [
        # the module's f-string f"SELECT {cols} FROM nowhere", its table looked up
        "statement 'SELECT x FROM nowhere' does not prepare against the schema: no such table: "
        "nowhere",
        "statement things.select ('SELECT id, color, score, size, flag, tags, level, ref, "
        "other_id, anything FRO...') does not prepare against the schema: no such table: nowhere",
        "statement others.select ('SELECT id, code FROM nowhere') does not prepare against the "
        "schema: no such table: nowhere",
    ]


@pytest.mark.parametrize(
    "body",
    ["raise SystemExit(0)", "import sys\nsys.exit(0)", "raise KeyboardInterrupt"],
)
def test_a_database_module_that_stops_is_an_error(project: Path, body: str) -> None:
    (project / "database.py").write_text(BUILT.replace("from .models import MODELS", body))
    stopped = "the database module (exits|fails to import)"
    with pytest.raises(ModelsImportError, match=stopped) as info:
        agreement.check_agreement(project, FILES)
    assert info.value.exit_code == 2
    (project / "database.py").write_text(BUILT.replace("return {", "raise SystemExit(0)\n    {"))
    with pytest.raises(ModelsImportError, match=r"statements\(\) fails: SystemExit"):
        agreement.check_agreement(project, FILES)


def test_transitions_name_only_allowed_statuses(project: Path) -> None:
    models = (project / "models.py").read_text()
    transitions = (
        "    __transitions__: ClassVar[dict[str, tuple[tuple[str, ...], str]]] = {\n"
        '        "start": (("red",), "blue"),\n'
        '        "finish": (("blue", "green"), "purple"),\n'
        "    }\n"
        "    status: Literal['red', 'blue'] = 'red'\n"
    )
    models = models.replace(
        "    id: str\n    code: str\n", "    id: str\n    code: str\n" + transitions
    )
    (project / "models.py").write_text(models)
    (project / "schema.sql").write_text(
        SCHEMA.replace(
            "code TEXT NOT NULL UNIQUE)",
            "code TEXT NOT NULL UNIQUE, status TEXT NOT NULL CHECK (status IN ('red', 'blue')))",
        )
    )
    assert messages(project) == [
        "others.status: the transition finish of Other says 'green', "
        "the model says one of 'blue', 'red'",
        "others.status: the transition finish of Other says 'purple', "
        "the model says one of 'blue', 'red'",
    ]


def test_a_model_listed_many_times_is_described_once() -> None:
    import types

    from pydantic import BaseModel

    class Thing(BaseModel):
        __tablename__ = "things"
        id: int

    module = types.ModuleType("models")
    module.MODELS = (Thing,) * 100_000  # type: ignore[attr-defined]
    facts = agreement.model_facts(module, "models.py")
    assert [f["table"] for f in facts] == ["things"]


# A literal SQLite runs as a statement, though not written in capitals from its first byte.
LOOSE_REFUSED = [
    ("select load_extension('x')", "calls load_extension()"),
    ("select load_extension('x') from nowhere", "calls load_extension()"),
    ("(SELECT writefile('/tmp/x', 1))", "calls writefile()"),
    ("-- c\nselect readfile('/etc/passwd')", "calls readfile()"),
    ("select 1; vacuum into '/tmp/x'", "VACUUM statement"),
    ("with t as (select 1) select * from t; attach 'x.db' as x", "ATTACH statement"),
]


@pytest.mark.parametrize(("literal", "reason"), LOOSE_REFUSED)
def test_a_statement_in_any_case_is_held_to_the_query_rule(
    project: Path, literal: str, reason: str
) -> None:
    # Only a literal starting with an upper-case statement word was read: these passed.
    assert_refused(project, f"Q = {literal!r}\n", "line 1: " + reason)


@pytest.mark.parametrize(("literal", "reason"), LOOSE_REFUSED)
def test_each_literal_of_a_line_is_held_to_the_query_rule(
    project: Path, literal: str, reason: str
) -> None:
    # Named by their line alone, the last literal of a line replaced the others: these passed.
    assert_refused(project, f"Q = ({literal!r}, 'select a file')\n", "line 1: " + reason)


# Each literal is prepared against the schema, and the one problem is what preparing says.
PREPARED = [
    # past SQL comments, an upper-case statement is one
    (
        "-- c\n/* d */ SELECT nope FROM missing",
        "'-- c /* d */ SELECT nope FROM missing'",
        "no such table: missing",
    ),
    # held to the query rule but never prepared, VALUES (load_extension('x')) passed
    (
        "VALUES (load_extension('x'))",
        "\"VALUES (load_extension('x'))\"",
        "not authorized to use function: load_extension",
    ),
    # a quoted function name is no name the query rule reads; preparing it meets the authorizer
    (
        "select [load_extension]('x')",
        "\"select [load_extension]('x')\"",
        "not authorized to use function: load_extension",
    ),
]


@pytest.mark.parametrize(
    ("literal", "shown", "error"), PREPARED, ids=["after-comments", "values", "lower-case"]
)
def test_a_statement_is_prepared_and_what_preparing_says_is_the_problem(
    project: Path, literal: str, shown: str, error: str
) -> None:
    (project / "database.py").write_text(f"Q = {literal!r}\n")
    [problem] = agreement.check_agreement(project, FILES)
    assert (problem.line, problem.message) == (
        1,
        f"statement {shown} does not prepare against the schema: {error}",
    )


# A lower-case literal naming a missing table passed as a message: now a problem when SQLite
# parses it and it holds a sign of SQL (a placeholder, *, a comparison), or the module passes
# it to execute (as written, or by a name or attribute bound to it).
LOWER_CASE_SQL = [
    'Q = "select * from nope"\n',
    'Q = "select id from nope where id = ?"\n',
    'Q = "delete from nope where id = :id"\n',
    'Q = "insert into nope (a) values (?)"\n',
    'Q = "update nope set a = 1"\n',
    'def f(conn):\n    return conn.execute("select a from nope")\n',
    'Q = "select a from nope"\n\ndef f(conn):\n    return conn.execute(Q)\n',
    'class D:\n    Q = "select a from nope"\n\n'
    "    def f(self):\n        self.c.executemany(self.Q, [])\n",
]


@pytest.mark.parametrize("module", LOWER_CASE_SQL)
def test_a_lower_case_query_naming_a_missing_table_is_a_problem(project: Path, module: str) -> None:
    (project / "database.py").write_text(module)
    [problem] = agreement.check_agreement(project, FILES)
    assert "does not prepare against the schema: no such table: nope" in problem.message


# A literal the module passes to execute, led by ATTACH or VACUUM INTO in any case, was the
# module's own code and passed: it opens or writes a file wherever it names.
EXECUTED_FILE_COMMANDS = [
    "def f(conn):\n    conn.execute(\"vacuum into '/tmp/x.db'\")\n",
    "Q = \"attach '/tmp/x.db' as x\"\n\ndef f(conn):\n    conn.executescript(Q)\n",
    "def f(conn):\n    conn.executescript(\"begin; ATTACH 'x.db' AS x; commit\")\n",
]


@pytest.mark.parametrize("module", EXECUTED_FILE_COMMANDS)
def test_an_executed_literal_attaching_or_vacuuming_into_a_file_is_refused(
    project: Path, module: str
) -> None:
    (project / "database.py").write_text(module)
    with pytest.raises(
        sqlfile.UnsafeQueryError, match=r"line [0-9]: (ATTACH|VACUUM INTO) statement"
    ):
        agreement.check_agreement(project, FILES)


# Any string of the module that SQLite parses as ATTACH or VACUUM INTO is refused, wherever it
# goes: each of these passed (exit 0), the string reaching execute by a way not followed.
UNFOLLOWED_FILE_COMMANDS = {
    "a-name-used-later": "Z_Q = \"vacuum into '/tmp/x.db'\"\n",
    "an-alias-of-execute": "def f(conn):\n    run = conn.execute\n    run(\"attach 'x' as y\")\n",
    "a-keyword": "def f(conn):\n    conn.execute(sql=\"attach 'x' as y\")\n",
    "getattr": "def f(conn):\n    getattr(conn, 'execute')(\"attach 'x' as y\")\n",
    "a-dict": "Q = {'x': \"vacuum main into 'y.db'\"}\n\ndef f(conn):\n    conn.execute(Q['x'])\n",
    "a-list": "Q = ['select 1', \"ATTACH DATABASE 'y.db' AS y\"]\n",
    "an-f-string": "def f(conn, p):\n    conn.execute(f\"attach '{p}' as y\")\n",
    "an-f-string-name": "def f(conn, p, n):\n    conn.execute(f'attach {p} as {n}')\n",
    "an-f-string-constant-field": "Q = f\"{'attach'} 'x' as y\"\n",
    "adjacent-literals": 'Q = "vac" "uum into \'x.db\'"\n',
    "a-plus": 'Q = "attach " + "\'x\' as y"\n',
    "a-plus-of-a-name": "def f(conn, p):\n    conn.execute('attach ' + p + ' as y')\n",
    "str-format": "def f(conn, p):\n    conn.execute('vacuum into {}'.format(p))\n",
    "percent": "def f(conn, p):\n    conn.execute('attach %s as y' % p)\n",
    "a-join": "Q = ' '.join(['attach', \"'x'\", 'as', 'y'])\n",
    "comments-and-case": "Q = \"-- c\\n/* d */ AtTaCh /* e */ 'x' -- f\\n AS y\"\n",
    "a-later-statement": "Q = \"select 1; VACUUM /* e */ temp INTO 'x.db'\"\n",
    "bytes-decoded": "Q = b\"attach 'x' as y\".decode()\n",
    "a-name-bound-once": "A = 'attach'\nQ = A + \" 'x' as y\"\n",
    "names-bound-once": "A = 'vacuum'\nB = ' into '\nQ = A + B + \"'x.db'\"\n",
    "an-f-string-of-a-name": "A = 'vacuum'\nQ = f'{A} into {\"x\"!r}'\n",
    "a-join-of-a-name": "P = ('attach', \"'x'\", 'as', 'y')\nQ = ' '.join(P)\n",
    "a-docstring": 'def f():\n    """ATTACH \'x.db\' AS x"""\n',
    "a-long-chain": "Q = " + " + ".join(["'attach '", "\"'x'\"", *["''"] * 900, "' as y'"]) + "\n",
    # Computed of constants as Python computes them: each passed (exit 0).
    "percent-then-field": (
        "def f(conn, p):\n    conn.execute(('%s%s' % ('vacuum ', 'into %s')) % (p,))\n"
    ),
    "format-of-constants": "Q = '{}{}'.format('attach ', \"'x' as y\")\n",
    "slices": "Q = ('attach ' + 'zq')[:-2] + (\"'x' as y\" + 'zq')[:-2]\n",
    "times-then-a-call": "Q = ('VACUUM INTO ' * 1) + repr('/tmp/x' * 1)\n",
    # A field's value may end the statement ('x.db' --): the words after it are no guard.
    "a-field-then-words": "def f(conn, p):\n    conn.execute(f'VACUUM main INTO {p} done')\n",
    "a-percent-field-then-words": ("def f(conn, p):\n    conn.execute('attach %s as y now' % p)\n"),
    "f-string-of-an-f-string": "A = f\"{'vac'}uum\"\nQ = f\"{A} into {'x'!r}\"\n",
}


@pytest.mark.parametrize(
    "module", list(UNFOLLOWED_FILE_COMMANDS.values()), ids=list(UNFOLLOWED_FILE_COMMANDS)
)
def test_any_string_attaching_or_vacuuming_into_a_file_is_refused(
    project: Path, module: str
) -> None:
    (project / "database.py").write_text(module)
    with pytest.raises(sqlfile.UnsafeQueryError) as raised:
        agreement.check_agreement(project, FILES)
    message = str(raised.value)
    assert message.startswith("database.py: refused, the SQLite database module runs")
    assert re.search(r": line [0-9]: (ATTACH|VACUUM INTO|VACUUM) statement \(a database", message)


# SQLite's grammar decides: ATTACH <expr> AS <name>, VACUUM [<schema>] INTO <expr>.
FILE_COMMAND_MESSAGES = [
    "attach the log to the report",  # no AS
    "attach the log as a bag",  # two words where SQLite takes one expression
    "vacuum the floor into a bag",  # two words before INTO, where SQLite takes one schema
    "Vacuum done, into the next step",
    "vacuum into",  # unfinished
    "attach",
    "could not attach 'x' as y",
    "vacuum",
]


@pytest.mark.parametrize("literal", FILE_COMMAND_MESSAGES)
def test_a_message_about_attaching_or_vacuuming_passes(project: Path, literal: str) -> None:
    module = f"def f(log):\n    {literal!r}\n    log.info({literal!r})\n\nQ = {literal!r}\n"
    assert_passes(project, module)


# A message naming ATTACH or VACUUM INTO, only passed to a call that shows text, was refused
# (exit 2): SQLite parses "Vacuum done into %s" as VACUUM done INTO x. It is shown, not run.
SHOWN_FILE_COMMAND_MESSAGES = [
    "print('Vacuum done into %s' % path)",
    "print('Vacuum done into {}'.format(path))",
    "log.info(f'Vacuum done into {path}')",
    "log.warning('Vacuum done into %s', path)",
    "warnings.warn('Attach failed as ' + path)",
    "raise RuntimeError(f'Attach of {path} as backup failed')",
    "sys.stderr.write(' '.join(['vacuum', 'main', 'into', path]))",
]


# A message written as a computed string whose text is one of its parts ("…" * 1, a slice):
# the part was counted as a second, unpassed literal, so the message was prepared (a problem).
@pytest.mark.parametrize(
    "call",
    ["log.info(('SELECT failed for %s' * 1), x)", "log.error(('UPDATE failed' + 'zq')[:-2])"],
)
def test_a_computed_message_equal_to_its_part_is_a_message(project: Path, call: str) -> None:
    assert_passes(project, f"def f(log, x):\n    {call}\n")


@pytest.mark.parametrize("call", SHOWN_FILE_COMMAND_MESSAGES)
def test_a_shown_message_naming_attach_or_vacuum_into_passes(project: Path, call: str) -> None:
    module = f"import sys\nimport warnings\n\ndef f(log, path):\n    {call}\n"
    assert_passes(project, module)


# The logger named log: log.log(…) was read as a call of the module's own name (a problem,
# near "%": syntax error), though the name is the logger, not the method.
def test_a_message_passed_to_the_log_method_of_a_logger_named_log_passes(project: Path) -> None:
    module = (
        "import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef f(x):\n"
        "    log.log(logging.ERROR, 'SELECT failed for %s', x)\n"
    )
    assert_passes(project, module)


def test_a_log_method_the_module_defines_is_still_prepared(project: Path) -> None:
    module = (
        "class Db:\n    def log(self, q):\n        pass\n\n\ndef f(db, x):\n"
        "    db.log('SELECT failed for %s', x)\n"
    )
    (project / "database.py").write_text(module)
    problems = agreement.check_agreement(project, FILES)
    assert [p.line for p in problems] == [7]


# An f-string with a field of the module's own was never read: each of these passed (exit 0).
FIELD_QUERIES = [
    "conn.execute(f\"select load_extension('x') -- {x}\")",
    "conn.execute(f\"SELECT readfile('/etc/passwd'), {x}\")",
    "conn.execute(f'select 1; PRAGMA writable_schema = {x}')",
    "log.error(f\"select load_extension('x') refused: {x}\")",
]


@pytest.mark.parametrize("call", FIELD_QUERIES)
def test_an_f_string_with_a_field_is_held_to_what_it_would_do(project: Path, call: str) -> None:
    assert_refused(project, f"def f(conn, log, x):\n    {call}\n", r"line 2: (calls|PRAGMA)")


def test_an_f_string_query_naming_its_columns_by_a_field_passes(project: Path) -> None:
    module = (
        "def f(conn, cols):\n    conn.execute(f'SELECT {cols} FROM others WHERE id = ?', (1,))\n"
    )
    assert_passes(project, module)


# The same text also passed to execute, bound to a name, or passed to a function of the
# module's own, stays refused: it may run.
RUN_FILE_COMMAND_MESSAGES = [
    "print('Vacuum done into %s' % path)\n    conn.execute('Vacuum done into %s' % path)",
    "Q = 'Vacuum done into %s'\n    print(Q % path)",
    "print(q := f'Vacuum done into {path}')",
    "info('Vacuum done into %s' % path)\n\ndef info(q):\n    pass",
    "db.show('Vacuum done into %s' % path)",
    "print('VACUUM INTO %s' % path)",  # written as SQL: held to what it would do
    "log.info('Done; VACUUM main INTO ' + path)",
]


@pytest.mark.parametrize("call", RUN_FILE_COMMAND_MESSAGES)
def test_a_file_command_message_that_may_run_is_still_refused(project: Path, call: str) -> None:
    assert_refused(
        project, f"def f(conn, db, path):\n    {call}\n", r"line [0-9]: VACUUM INTO statement"
    )


# Strings Python makes of constants alone, read piece by piece: "select %s" and
# "load_extension('x')" hold no call each, so each of these passed (exit 0).
COMPUTED_REFUSED = {
    "percent": "conn.execute('select %s' % \"load_extension('x')\")",
    "percent-tuple": "conn.execute('select %s(%s)' % ('load_extension', \"'x'\"))",
    "percent-dict": "conn.execute('select %(f)s' % {'f': \"load_extension('x')\"})",
    "format": "conn.execute('select {}'.format(\"load_extension('x')\"))",
    "format-keyword": "conn.execute('select {f}'.format(f=\"load_extension('x')\"))",
    "f-string-constant": "conn.execute(f\"select {'load_extension'}('x')\")",
    "f-string-name": "conn.execute(f\"select {F}('x')\")",
    "join": "conn.execute(''.join(['select load_', \"extension('x')\"]))",
    "join-name": "conn.execute(''.join(PARTS))",
    "names-added": "conn.execute(A + B)",
    "name-of-a-sum": "conn.execute(Q)",
    "times": "conn.execute('select ' + 'load_extension(1), ' * 2 + '1')",
    "slice": "conn.execute(\"select load_extension('x')zz\"[:-2])",
    "method": "conn.execute(\"SELECT LOAD_EXTENSION('X')\".lower())",
    "replace": "conn.execute(\"select L('x')\".replace('L', 'load_extension'))",
    "str": 'conn.execute(str("select load_" + "extension(\'x\')"))',
    "subscript-dict": "conn.execute({'q': 'select ' + F + \"('x')\"}['q'])",
    "if-constant": "conn.execute(A + B if True else 'select 1')",
}
COMPUTED_NAMES = (
    "A = 'select '\nB = \"load_extension('x')\"\nF = 'load_extension'\n"
    "PARTS = ['select load_', \"extension('x')\"]\nQ = A + B\n\n"
)


@pytest.mark.parametrize("call", list(COMPUTED_REFUSED.values()), ids=list(COMPUTED_REFUSED))
def test_a_statement_computed_of_constants_is_read_as_the_literal_it_makes(
    project: Path, call: str
) -> None:
    assert_refused(
        project, f"{COMPUTED_NAMES}def f(conn):\n    {call}\n", r"calls load_extension\(\)"
    )


def test_a_computed_statement_naming_a_missing_table_is_a_problem(project: Path) -> None:
    module = "T = 'nope'\n\ndef f(conn):\n    conn.execute('select * from %s' % T)\n"
    (project / "database.py").write_text(module)
    problems = agreement.check_agreement(project, FILES)
    assert [p.message.partition("schema: ")[2] for p in problems] == ["no such table: nope"]


# Made of constants and builtins alone, in a way the check does not compute: passed, unread.
COMPUTED_UNREAD = [
    "conn.execute(chr(115) + \"elect load_extension('x')\")",
    "conn.execute(''.join(map(chr, [115, 101, 108, 101, 99, 116, 32, 49])))",
    "conn.execute(''.join(c for c in 'select 1'))",
    "conn.execute('%999999999s' % 'select 1')",
    "conn.execute('{:{}}'.format('select 1', 10 ** 9))",
    "conn.execute('select 1, ' * 10 ** 9)",
    "conn.execute(U)",
]


@pytest.mark.parametrize("call", COMPUTED_UNREAD)
def test_a_statement_made_of_constants_but_not_read_is_refused(project: Path, call: str) -> None:
    module = f"U = chr(115) + 'elect 1'\n\ndef f(conn):\n    {call}\n"
    assert_refused(project, module, r"line [45]: the statement passed")


# Computed of the module's own values (an argument, a name bound twice, an import): its code.
COMPUTED_OWN = [
    "conn.execute('select code from others where id in (%s)' % ', '.join('?' * n), ids)",
    "conn.execute('select code from others where ' + where)",
    "conn.execute(textwrap.dedent(Q))",
    "conn.execute(SQL[n])",
    "conn.execute('SELECT code FROM others WHERE id IN (%s)' % ', '.join(['?'] * 3), ids)",
    "conn.execute(f'SELECT code FROM others WHERE id = {P}', ids)",
    "log.info('select %s' % 'a file')",
]


@pytest.mark.parametrize("call", COMPUTED_OWN)
def test_a_statement_computed_of_the_module_s_values_passes(project: Path, call: str) -> None:
    module = (
        "import textwrap\n\nQ = 'SELECT code FROM others'\nSQL = ['SELECT 1']\nSQL = []\n"  # noqa: S608
        "P = '?'\n\n"
        f"def f(conn, log, n, ids, where):\n    {call}\n"
    )
    assert_passes(project, module)


# Completed at run time (%, format, format_map, a Template's substitute) from a text the check
# does not read (a call's return, an attribute, a subscript, a name bound twice or to no
# literal): what it makes was never read, so "%s TABLE others" % verb passed.
COMPLETED_OF_UNREAD = [
    "conn.execute(zt() % p)",
    "conn.execute(zt().format(p))",
    "conn.execute(K.T.format_map({'verb': p}))",
    "conn.execute(str.format(K.T, p))",
    "conn.execute(string.Template(K.D).substitute(V, a=p))",
    "conn.execute(TK.substitute(a=p))",
    "conn.execute(self.sql % p)",
    "conn.execute(SQL[n] % p)",
    "conn.execute(Q2 % p)",
    "conn.execute(textwrap.dedent(zt()) % p)",
    "conn.execute(where % p)",
    "conn.execute('SELECT 1; ' + zt() % p)",
    "conn.execute((zt() % p).strip())",
    "conn.execute(' '.join(['SELECT 1;', zt() % p]))",
    "q = zt() % p\n    conn.execute(q)",
    "self.q = K.T % p\n    conn.execute(self.q)",
    "run = conn.executescript\n    run(zt() % p)",
]


@pytest.mark.parametrize("call", COMPLETED_OF_UNREAD)
def test_a_text_completed_from_one_not_read_is_refused(project: Path, call: str) -> None:
    module = (
        "import string\nimport textwrap\n\n\ndef zt():\n    return '%s TABLE others'\n\n\n"
        "class K:\n    T = '%s TABLE others'\n    D = '$a TABLE $b'\n\n\n"
        "V = {'b': 'others'}\nSQL = ['%s TABLE others']\nQ2 = 'SELECT 1'\nQ2 = '%s TABLE others'\n"
        "TK = string.Template(K.D)\n\n\n"
        f"def f(self, conn, p, n, where):\n    {call}\n"
    )
    assert_refused(project, module, r"line 2[23]: the statement passed to ex")


# The same completions of a text the check reads (a literal, an f-string, a name bound once to
# one, a + of them), and a base passed as it is, are read as before.
COMPLETED_OF_READ = [
    "conn.execute('SELECT code FROM others WHERE id = %s' % p)",
    "conn.execute(Q % p)",
    "conn.execute((Q + ' WHERE id = %s') % p)",
    "conn.execute(f'SELECT {p} FROM others WHERE id = %s' % p)",
    "conn.execute(string.Template('SELECT $a FROM others').substitute(a=p))",
    "conn.execute(T.substitute(a=p))",
    "conn.execute('SELECT code FROM others WHERE id = {}'.format(p))",
    "conn.execute(zt())",
    "conn.execute(K.S)",
    "conn.execute(Q, (n % 3,))",
    "conn.execute(f'SELECT code FROM others LIMIT {n % 3}')",
]


@pytest.mark.parametrize("call", COMPLETED_OF_READ)
def test_a_text_completed_from_one_read_passes(project: Path, call: str) -> None:
    module = (
        "import string\n\nQ = 'SELECT code FROM others'\n"  # noqa: S608
        "T = string.Template(Q + ' WHERE id = $a')\n\n\n"
        "def zt():\n    return 'SELECT code FROM others'\n\n\n"
        "class K:\n    S = 'SELECT code FROM others'\n\n\n"
        f"def f(conn, p, n):\n    {call}\n"
    )
    assert_passes(project, module)


# A statement led by a value the check does not read is never prepared: its constant parts
# calling a function that reaches outside passed (exit 0).
LED_BY_A_VALUE = [
    ("conn.execute(p + \" load_extension('x')\")", "load_extension()"),
    ("conn.execute(zt() + \" readfile('/etc/passwd')\")", "readfile()"),
    ("conn.execute(p.strip() + ' \"writefile\"(1, 2)')", "writefile()"),
    ("conn.execute(p + ' * FROM sqlite_dbpage')", "sqlite_dbpage"),
    ("q = p + ' [edit] (1)'\n    conn.execute(q)", "edit()"),
    # Its constants read only one by one, or the text led by a field of a %: these passed too.
    ("conn.execute(p + L)", "load_extension()"),
    ("conn.execute(p + ' load_ext' + \"ension('x')\")", "load_extension()"),
    ("conn.execute(p + ''.join([' read', \"file('x')\"]))", "readfile()"),
    ("conn.execute(\"%s load_extension('x')\" % p)", "load_extension()"),
    ("conn.execute(\"{} readfile('x')\".format(p))", "readfile()"),
]


@pytest.mark.parametrize(("call", "name"), LED_BY_A_VALUE)
def test_a_text_led_by_a_value_calling_outside_is_refused(
    project: Path, call: str, name: str
) -> None:
    head = "L = \" load_extension('x')\"\n\n\ndef zt():\n    return 'SELECT'\n\n\n"
    module = f"{head}def f(conn, p):\n    {call}\n"
    assert_refused(project, module, rf"line (9|10): names {re.escape(name)} in a")


# A text naming the schema table where a value the check does not read makes what is done with
# it (the verb, the word before the table, or part of its name): the value may make it a write
# of the schema (UPDATE, INSERT INTO, DELETE FROM), never prepared. Each passed (exit 0).
SCHEMA_TABLE_AFTER_A_VALUE = [
    "zt() + \" sqlite_master SET sql = 'x' WHERE 0\"",
    "p + ' \"SQLITE_SCHEMA\" SET sql = 1'",
    "p + ' main.[sqlite_master] SET sql = 1'",
    "p + \" 'sqlite_temp_master' SET sql = 1\"",
    "p + ' `sqlite_temp_schema` SET sql = 1'",
    "f'{p} INTO sqlite_master VALUES (1, 2, 3, 4, 5)'",
    "'%s sqlite_master SET sql = 1' % p",
    "'{} FROM sqlite_schema WHERE 0'.format(p)",
    "string.Template('$v sqlite_master SET sql = 1').substitute(v=p)",
    "' '.join([p, 'sqlite_master SET sql = 1'])",
    "p + ' sqlite_' + 'master SET sql = 1'",
    "p + T",
    "(p + ' sqlite_master SET sql = 1').strip()",
    "'WITH a AS (SELECT 1) ' + p + ' sqlite_master SET sql = 1'",
    "'SELECT 1; ' + p + ' sqlite_master SET sql = 1'",
    "'SELECT 1 ' + p + ' sqlite_master SET sql = 1'",
    "'UPDATE ' + p + 'sqlite_master SET sql = 1'",
]


@pytest.mark.parametrize("expr", SCHEMA_TABLE_AFTER_A_VALUE)
def test_the_schema_table_named_after_a_value_is_refused(project: Path, expr: str) -> None:
    module = (
        "import string\n\nT = ' sqlite_master SET sql = 1'\n\n\ndef zt():\n    return 'UPDATE'\n"
        f"\n\ndef f(conn, p):\n    conn.executescript({expr})\n"
    )
    assert_refused(project, module, r"line 11: names sqlite_\w+ where a value the check does not")


# Reads of the schema table whose verb and FROM are constants: read as written, they pass.
@pytest.mark.parametrize(
    "expr",
    [
        "f'SELECT name FROM sqlite_master WHERE {p}'",
        "'SELECT name FROM sqlite_schema WHERE type = ' + p",
        "f'SELECT {p} FROM sqlite_master'",
        "f'SELECT name FROM {p}.sqlite_master'",
        "'WITH x AS (SELECT name FROM sqlite_master) SELECT * FROM x WHERE ' + p",
        "\"SELECT replace(name, 'a', \" + p + ') FROM sqlite_master'",
    ],
)
def test_a_read_of_the_schema_table_completed_at_run_time_passes(project: Path, expr: str) -> None:
    assert_passes(project, f"def f(conn, p):\n    conn.execute({expr})\n")


# A name a for loop or a comprehension binds to the literals it iterates: each is read as a
# statement passed to execute, as a name assigned one is.
ITERATED = [
    "for q in ('SELECT 1', 'DROP TABLE others'):\n        conn.execute(q)",
    "[conn.execute(q) for q in ['DROP TABLE others']]",
    "any(conn.execute(q) for q in {'CREATE INDEX zi ON others (code)'})",
]


@pytest.mark.parametrize("loop", ITERATED)
def test_a_schema_change_iterated_into_execute_is_refused(project: Path, loop: str) -> None:
    assert_refused(project, f"def f(conn):\n    {loop}\n", r"line [23]: (DROP|CREATE) statement")


# A function's return passed to execute as it is: each literal it returns is read as a
# statement passed to execute (DROP TABLE returned by a function passed).
RETURNED = [
    "def zt():\n    return 'DROP TABLE others'\n\n\ndef f(conn):\n    conn.execute(zt())\n",
    "class K:\n    def zt(self):\n        if self:\n            return 'SELECT 1'\n"
    "        return 'CREATE INDEX zi ON others (code)'\n\n    def f(self, conn):\n"
    "        conn.executescript(self.zt())\n",
]


@pytest.mark.parametrize("module", RETURNED)
def test_a_schema_change_returned_into_execute_is_refused(project: Path, module: str) -> None:
    assert_refused(project, module, r"line [25]: (DROP|CREATE) statement")


# A schema change given to execute through a walrus, a conditional expression, a tuple
# unpacked, a comprehension yielding its own items, getattr of a name made of constants or a
# str method's receiver made at run time: each passed (exit 0).
GIVEN_OTHERWISE = [
    "if (q := 'DROP TABLE others'):\n        conn.execute(q)",
    "conn.execute(q := p + ' TABLE others')",
    "conn.execute('DROP TABLE others' if p else 'SELECT 1')",
    "q = 'SELECT 1' if p else 'CREATE INDEX zi ON others (code)'\n    conn.execute(q)",
    "q, r = 'DROP TABLE others', 'SELECT 1'\n    conn.execute(q)",
    "[q, r] = ['SELECT 1', 'DROP TABLE others']\n    conn.execute(r)",
    "for q in (s for s in ['DROP TABLE others']):\n        conn.execute(q)",
    "getattr(conn, 'exe' + 'cute')('DROP TABLE others')",
    "conn.execute((p + ' TABLE others').strip())",
    "conn.execute((p + ' TABLE others').lower().strip())",
    "zf = lambda: 'DROP TABLE others'\n    conn.execute(zf())",
]


@pytest.mark.parametrize("code", GIVEN_OTHERWISE)
def test_a_schema_change_given_otherwise_to_execute_is_refused(project: Path, code: str) -> None:
    assert_refused(
        project,
        f"def f(conn, p):\n    {code}\n",
        r"line [23]: (DROP statement|CREATE statement|statement whose first word)",
    )


@pytest.mark.parametrize(
    "code",
    [
        "conn.execute('SELECT code FROM others' if p else 'SELECT 1')",
        "q, r = 'SELECT code FROM others', 'DROP TABLE others'\n    print(r)\n    conn.execute(q)",
        "conn.execute((p + ' FROM others').strip())",
        # A lambda's text was refused as made of constants the check does not read (exit 2).
        "zf = lambda: 'SELECT code FROM others'\n    conn.execute(zf())",
    ],
)
def test_a_query_given_otherwise_to_execute_passes(project: Path, code: str) -> None:
    assert_passes(project, f"def f(conn, p):\n    {code}\n")


# A schema change reached through a container subscripted at the call: a name bound to
# containers twice (the second holding it), an index the check does not know, a name bound
# to the subscript; and getattr of a name bound to "execute" (made of constants, bound twice
# or a parameter). Each passed (exit 0).
_VIEW = "CREATE TEMP VIEW zv AS SELECT load_extension('x')"
REACHED_INDIRECTLY = [
    f"ZD = {{'k': 'SELECT 1'}}\nZD = {{'k': \"{_VIEW}\"}}\n\n\ndef f(conn, p):\n"
    "    conn.execute(ZD['k'])\n",
    f"SQL = ['SELECT 1', \"{_VIEW}\"]\n\n\ndef f(conn, p):\n    conn.execute(SQL[p])\n",
    f"ZD = {{'a': 'SELECT 1', 'k': \"{_VIEW}\"}}\n\n\ndef f(conn, p):\n    conn.execute(ZD[p])\n",
    f"SQL = [['SELECT 1']]\nSQL = [[\"{_VIEW}\"]]\n\n\ndef f(conn, p):\n"
    "    conn.executescript(SQL[0][0])\n",
    f"ZD = {{'k': 'SELECT 1'}}\nZD = {{'k': \"{_VIEW}\"}}\n\n\ndef f(conn, p):\n"
    "    q = ZD['k']\n    conn.execute(q)\n",
    f"NAME = 'execute'\n\n\ndef f(conn, p):\n    getattr(conn, NAME)(\"{_VIEW}\")\n",
    f"NAME = ''.join(['exe', 'cute'])\n\n\ndef f(conn, p):\n    getattr(conn, NAME)(\"{_VIEW}\")\n",
    f"NAME = 'close'\nNAME = 'execute'\n\n\ndef f(conn, p):\n"
    f'    getattr(conn, NAME)("{_VIEW}")\n',
    f'def f(conn, p):\n    getattr(conn, p)("{_VIEW}")\n',
    f"NAME = 'execute'\n\n\ndef f(conn, p):\n    run = getattr(conn, NAME)\n    run(\"{_VIEW}\")\n",
    # a dict's get of a name bound twice, a class attribute subscripted, methodcaller, partial,
    # a property, a generator iterated, a subscript of a conditional expression
    f"ZD = {{'k': 'SELECT 1'}}\nZD = {{'k': \"{_VIEW}\"}}\n\n\ndef f(conn, p):\n"
    "    conn.execute(ZD.get('k', 'SELECT 1'))\n",
    f"class K:\n    Q = {{'k': \"{_VIEW}\"}}\n\n    def f(self, conn):\n"
    "        conn.execute(self.Q['k'])\n",
    f"import operator\n\n\ndef f(conn, p):\n"
    f"    operator.methodcaller('execute', \"{_VIEW}\")(conn)\n",
    f'import functools\n\n\ndef f(conn, p):\n    functools.partial(conn.execute, "{_VIEW}")()\n',
    f"from functools import partial\n\n\ndef f(conn, p):\n    run = partial(conn.execute)\n"
    f'    run("{_VIEW}")\n',
    f'class K:\n    @property\n    def q(self):\n        return "{_VIEW}"\n\n'
    "    def f(self, conn):\n        conn.execute(self.q)\n",
    f'def zg():\n    yield "{_VIEW}"\n\n\ndef f(conn, p):\n    for s in zg():\n'
    "        conn.execute(s)\n",
    f'async def zg():\n    yield "{_VIEW}"\n\n\nasync def f(db, p):\n    async for s in zg():\n'
    "        await db.execute(s)\n",
    f"def f(conn, p):\n    conn.execute((['SELECT 1'] if p else [\"{_VIEW}\"])[0])\n",
    # a name a match pattern binds from the subject
    f"def f(conn, p):\n    match {{'q': \"{_VIEW}\"}}:\n        case {{'q': s}}:\n"
    "            conn.execute(s)\n",
    # a parameter's default, and what a context manager made of a generator enters
    f'def f(conn, q="{_VIEW}"):\n    conn.execute(q)\n',
    f'async def f(db, *, q="{_VIEW}"):\n    await db.execute(q)\n',
    f'import contextlib\n\n\n@contextlib.contextmanager\ndef zq():\n    yield "{_VIEW}"\n\n\n'
    "def f(conn):\n    with zq() as s:\n        conn.execute(s)\n",
    # the values of a dict iterated, the items of lists chained
    f'ZD = {{"k": "{_VIEW}"}}\n\n\ndef f(conn):\n    for s in ZD.values():\n'
    "        conn.execute(s)\n",
    f'ZD = {{"k": "{_VIEW}"}}\n\n\ndef f(conn):\n    for _, s in ZD.items():\n'
    "        conn.execute(s)\n",
    f"import itertools\n\n\ndef f(conn):\n    for s in itertools.chain(['SELECT 1'], "
    f'["{_VIEW}"]):\n        conn.execute(s)\n',
    # a name bound again through a namespace, by a constant name
    f"Q = 'SELECT 1'\nglobals()['Q'] = \"{_VIEW}\"\n\n\ndef f(conn):\n    conn.execute(Q)\n",
    f"Q = 'SELECT 1'\n\n\ndef f(conn):\n    vars()['Q'] = \"{_VIEW}\"\n    conn.execute(Q)\n",
    f"import sys\n\nQ = 'SELECT 1'\nsetattr(sys.modules[__name__], 'Q', \"{_VIEW}\")\n\n\n"
    "def f(conn):\n    conn.execute(Q)\n",
    f"class K:\n    def __init__(self):\n        setattr(self, 'q', \"{_VIEW}\")\n\n"
    "    def f(self, conn):\n        conn.execute(self.q)\n",
    # the default of a getattr, an operand of or
    f"def f(conn):\n    conn.execute(getattr(conn, 'no_such', \"{_VIEW}\"))\n",
    f'def f(conn, p):\n    conn.execute(p or "{_VIEW}")\n',
    f'def f(conn, p):\n    q = p and "SELECT 1" or "{_VIEW}"\n    conn.execute(q)\n',
]


@pytest.mark.parametrize("module", REACHED_INDIRECTLY)
def test_a_schema_change_reached_indirectly_is_refused(project: Path, module: str) -> None:
    assert_refused(project, module, r"line \d+: CREATE statement")


# A name bound more than once and added to: its additions were read for a name bound once
# only, so the statement they make after the second binding passed (exit 0).
REBOUND_ADDED = [
    ("'ATTACH'", "\" DATABASE 'x.db' AS m\"", "ATTACH"),
    ("'DROP'", "' TABLE others'", "DROP statement"),
    ("'VACUUM'", "\" INTO 'x.db'\"", "VACUUM"),
]


@pytest.mark.parametrize(("first", "then", "said"), REBOUND_ADDED)
def test_additions_to_a_name_bound_again_are_read(
    project: Path, first: str, then: str, said: str
) -> None:
    module = (
        "def f(conn, p):\n    s = 'SELECT 1'\n    if p:\n        s = ''\n"
        f"        s += {first}\n        s += {then}\n    conn.execute(s)\n"
    )
    assert_refused(project, module, said)


def test_additions_to_a_query_bound_again_pass(project: Path) -> None:
    module = (
        "def f(conn, p):\n    s = 'SELECT code FROM others'\n    if p:\n"
        "        s = 'SELECT id FROM others WHERE code = ?'\n        s += ' AND id = ?'\n"
        "    s += ' ORDER BY id'\n    return conn.execute(s).fetchall()\n"
    )
    assert_passes(project, module)


@pytest.mark.parametrize(
    "module",
    [
        "ZD = {'k': 'SELECT 1'}\nZD = {'k': 'SELECT code FROM others'}\n\n\n"
        "def f(conn):\n    conn.execute(ZD['k'])\n",
        "SQL = ['SELECT 1', 'SELECT code FROM others']\n\n\ndef f(conn, p):\n"
        "    conn.execute(SQL[p])\n",
        "NAME = 'execute'\n\n\ndef f(conn):\n"
        "    return getattr(conn, NAME)('SELECT code FROM others').fetchall()\n",
        "def f(conn, p):\n    return getattr(conn, p)('SELECT code FROM others')\n",
        "import functools\n\n\ndef f(conn):\n"
        "    functools.partial(conn.execute, 'SELECT code FROM others')()\n",
        "class K:\n    @property\n    def q(self):\n        return 'SELECT code FROM others'\n\n"
        "    def f(self, conn):\n        conn.execute(self.q)\n",
        "def zg():\n    yield 'SELECT code FROM others'\n\n\ndef f(conn):\n    for s in zg():\n"
        "        conn.execute(s)\n",
        "def f(conn):\n    match {'q': 'SELECT code FROM others'}:\n        case {'q': s}:\n"
        "            conn.execute(s)\n",
        "def f(conn, q='SELECT code FROM others'):\n    return conn.execute(q).fetchall()\n",
        "import contextlib\n\n\n@contextlib.contextmanager\ndef zq():\n"
        "    yield 'SELECT code FROM others'\n\n\ndef f(conn):\n    with zq() as s:\n"
        "        conn.execute(s)\n",
        "ZD = {'k': 'SELECT code FROM others'}\n\n\ndef f(conn):\n    for _, s in ZD.items():\n"
        "        conn.execute(s)\n",
        "import itertools\n\n\ndef f(conn):\n"
        "    for s in itertools.chain(['SELECT 1'], ['SELECT code FROM others']):\n"
        "        conn.execute(s)\n",
        "def f(conn, p):\n    conn.execute(p or 'SELECT code FROM others')\n",
        "E = ''\n\n\ndef f(conn):\n    conn.execute(E or 'SELECT code FROM others')\n",
    ],
)
def test_a_query_reached_indirectly_passes(project: Path, module: str) -> None:
    assert_passes(project, module)


def test_a_query_returned_into_execute_passes(project: Path) -> None:
    module = (
        "def zt():\n    return 'SELECT code FROM others'\n\n\n"
        "def f(conn):\n    conn.execute(zt())\n"
    )
    assert_passes(project, module)


def test_queries_iterated_into_execute_pass(project: Path) -> None:
    loop = "for q in ('SELECT code FROM others', 'DELETE FROM others WHERE id = 1'):"
    assert_passes(project, f"def f(conn):\n    {loop}\n        conn.execute(q)\n")


def test_a_query_passed_to_a_log_call_is_a_message(project: Path) -> None:
    # "select * from the list" parses (FROM the AS list), holds *: it was a problem (no such
    # table: the), though the module only logs it.
    module = (
        "def f(log, conn):\n    log.info('select * from the list')\n"
        "    print('delete * where = 1')\n    raise ValueError('select * from nope')\n"
    )
    assert_passes(project, module)


EXECUTED_QUERIES = [
    "def f(conn):\n    conn.execute('select * from nope')\n",
    "def f(conn):\n    run = conn.execute\n    run('select a from nope')\n",
    "def f(conn):\n    conn.execute(sql='select a from nope')\n",
    "def f(conn):\n    getattr(conn, 'execute')('select a from nope')\n",
    "def f(conn, log):\n    log.info('select * from nope')\n    conn.execute('select * from nope')"
    "\n",
    "Q = 'select * from nope'\n\ndef f(log):\n    log.info('select * from nope')\n",
]


@pytest.mark.parametrize("module", EXECUTED_QUERIES)
def test_a_query_executed_or_written_elsewhere_naming_a_missing_table_is_a_problem(
    project: Path, module: str
) -> None:
    (project / "database.py").write_text(module)
    problems = agreement.check_agreement(project, FILES)
    assert problems
    assert all(
        "does not prepare against the schema: no such table: nope" in p.message for p in problems
    )


def test_a_refused_function_passed_to_a_log_call_is_still_refused(project: Path) -> None:
    assert_refused(
        project, "def f(log):\n    log.info('select edit(1)')\n", r"line 2: calls edit\(\)"
    )


def test_the_module_s_own_commands_and_messages_about_files_pass(project: Path) -> None:
    module = (
        "def f(conn):\n    conn.execute('BEGIN IMMEDIATE')\n    conn.execute('vacuum')\n"
        "    conn.executescript('PRAGMA foreign_keys = ON; SAVEPOINT s; RELEASE s')\n"
        "    print('attach the file to the report')\n"
    )
    assert_passes(project, module)


MESSAGES = [
    "select a file",
    "Select the rows to keep.",
    "update failed (%s)",
    "delete it?",
    "with care",
    "values differ",
    "(select one)",
    "Insert a disk; then go on",
    "select nope from missing",  # may be a message: only what it would do is held
    "select a file from the list",  # SQLite parses it (SELECT a AS file FROM the AS list)
    "Select a file, then press OK",
    "insert into the drive (or cancel)",
]


def test_a_message_printed_not_executed_is_no_problem(project: Path) -> None:
    module = 'def f(conn):\n    print("select a file from the list")\n    conn.execute("x")\n'
    assert_passes(project, module)


@pytest.mark.parametrize("literal", MESSAGES)
def test_a_message_that_reads_like_sql_is_no_problem(project: Path, literal: str) -> None:
    assert_passes(project, f"Q = {literal!r}\n")


# An upper-case literal only passed to a call that runs no SQL is a message: each was a
# problem ("SELECT failed for %s" does not prepare: near "for": syntax error), and one with a
# second sentence after a semicolon was refused (exit 2) as a statement that is no query.
UPPER_CASE_MESSAGES = [
    "def f(log, x):\n    log.info('SELECT failed for %s', x)\n",
    "def f(x):\n    print('UPDATE of %s failed' % x)\n",
    "def f(logger, x):\n    logger.warning('DELETE refused: %s', x)\n",
    "def f():\n    raise ValueError('INSERT INTO the queue failed')\n",
    "def f(log):\n    log.error('SELECT * FROM the list')\n",
    "def f(log):\n    log.error('SELECT failed; retrying')\n",
    "def f(log):\n    log.error('WITH no rows, giving up')\n",
    # ``write`` of the standard streams shows text as ``print`` does (each was a problem).
    "import sys\n\n\ndef f(x):\n    sys.stderr.write('SELECT failed for %s' % x)\n",
    "import sys as system\n\n\ndef f(x):\n    system.stdout.write('UPDATE of %s failed' % x)\n",
    "from sys import stderr\n\n\ndef f():\n    stderr.write('DELETE refused; retrying')\n",
    "from sys import stdout as out\n\n\ndef f(x):\n    out.write('SELECT * FROM {}'.format(x))\n",
    # An f-string without a field is the literal it holds (it was a problem).
    "def f(x):\n    print(f'DELETE of %s refused (see the log)', x)\n",
    "def f(log):\n    log.error(f'SELECT failed; retrying')\n",
    # A + of string constants is the one literal Python makes of it (it was a problem).
    "def f(x):\n    print('DELETE of %s refu' + 'sed (see the log)', x)\n",
]


@pytest.mark.parametrize("module", UPPER_CASE_MESSAGES)
def test_an_upper_case_message_passed_to_a_log_call_is_no_problem(
    project: Path, module: str
) -> None:
    assert_passes(project, module)


UPPER_CASE_STILL_CHECKED = {
    "executed": "def f(conn):\n    conn.execute('SELECT * FROM nope')\n",
    "also-bound": "Q = 'SELECT * FROM nope'\n\ndef f(log):\n    log.info('SELECT * FROM nope')\n",
    "executed-lower": "def f(conn):\n    conn.execute('select * from nope')\n",
    # Passed to a helper of the module, which may run it: still a statement.
    "a-helper": "def f(db):\n    db.one('SELECT * FROM nope')\n",
    # A function of the module's own named as a logger's method may run it too.
    "own-info": "def info(q):\n    return q\n\n\ninfo('SELECT * FROM nope')\n",
    # ``write`` of anything but the standard streams as ``sys`` names them may run it.
    "other-write": "def f(db):\n    db.write('SELECT * FROM nope')\n",
    "sys-rebound": "import sys\n\nsys = object()\nsys.stderr.write('SELECT * FROM nope')\n",
    "sys-argument": "def f(sys):\n    sys.stderr.write('SELECT * FROM nope')\n",
    "stream-replaced": "import sys\n\nsys.stderr = object()\n"
    "sys.stderr.write('SELECT * FROM nope')\n",
    "stream-elsewhere": "from .db import stderr\n\nstderr.write('SELECT * FROM nope')\n",
    "stream-bound": "from sys import stderr\n\nstderr = object()\n"
    "stderr.write('SELECT * FROM nope')\n",
    "sum-executed": "def f(conn):\n    conn.execute('SELECT * ' + 'FROM nope')\n",
    "sum-executed-lower": "def f(conn):\n    conn.execute('select * ' + 'from nope')\n",
    "fstring-executed": "def f(conn):\n    conn.execute(f'select * from nope')\n",
    "fstring-bound": "Q = f'select * from nope'\n\n\ndef f(conn):\n    conn.execute(Q)\n",
    "stream-executed": "import sys\n\n\ndef f(conn):\n    sys.stderr.write('select * from nope')\n"
    "    conn.execute('select * from nope')\n",
}


@pytest.mark.parametrize(
    "module", list(UPPER_CASE_STILL_CHECKED.values()), ids=list(UPPER_CASE_STILL_CHECKED)
)
def test_an_upper_case_statement_run_or_written_elsewhere_is_still_a_problem(
    project: Path, module: str
) -> None:
    (project / "database.py").write_text(module)
    problems = agreement.check_agreement(project, FILES)
    assert problems
    assert all(p.message.endswith("no such table: nope") for p in problems)


@pytest.mark.parametrize(
    ("module", "refused"),
    [
        ("def f(log):\n    log.info('SELECT edit(1)')\n", r"line 2: calls edit\(\)"),
        ("def f(log):\n    log.info('SELECT 1; PRAGMA writable_schema = 1')\n", "PRAGMA"),
        ("def f(log):\n    log.info(\"ATTACH 'x.db' AS y\")\n", "ATTACH statement"),
        ("import sys\n\nsys.stderr.write('SELECT edit(1)')\n", r"line 3: calls edit\(\)"),
        # Written as a + of constants: the literal Python makes (it passed).
        ("Q = ('select load_e' + \"xtension('x')\")\n", r"line 1: calls load_extension\(\)"),
        ("Q = 'select * from ' + \"sqlite_dbpage('main')\"\n", r"calls sqlite_dbpage\(\)"),
    ],
)
def test_an_upper_case_message_is_held_to_what_it_would_do(
    project: Path, module: str, refused: str
) -> None:
    assert_refused(project, module, refused)


def _expanding(levels: int) -> str:
    """Return a query whose WITH names each read the one before twice: 2**levels queries."""
    names = ["a0 AS (SELECT 1 AS x)"] + [
        f"a{i} AS NOT MATERIALIZED (SELECT x FROM a{i - 1} UNION ALL SELECT x FROM a{i - 1})"  # noqa: S608
        for i in range(1, levels + 1)
    ]
    return f"WITH {', '.join(names)} SELECT x FROM a{levels}"  # noqa: S608


_HEAP_LIMITS = ("soft_heap_limit", "hard_heap_limit")  # the process's, not a connection's
# The check in a child process whose SQLite heap is bounded at 64 MiB (a PRAGMA can lower the
# process's limit, never raise it again): what it raises, or the problems it returns.
_SMALL_HEAP_CHECK = """
import sys
from pathlib import Path
from tac_bootstrap import agreement, sqlcheck
from tac_bootstrap.manifest import Agreement
from tac_bootstrap.report import Problem
sqlcheck.MAX_MEMORY = 64 << 20
try:
    found = agreement.check_agreement(Path(sys.argv[1]), Agreement(*sys.argv[2:]))
except BaseException as exc:
    print(type(exc).__name__, exc)
else:
    print("problems", *(p.message for p in found), sep="\\n")
"""


def _check_in_a_small_heap(project: Path) -> str:
    files = [FILES.models, FILES.schema, FILES.database or ""]
    proc = subprocess.run(  # a new process: the heap limit it lowers stays there
        [sys.executable, "-c", _SMALL_HEAP_CHECK, project, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# Preparing them expands 2**20 queries: SQLite ran out of its heap, and the MemoryError
# ended sync-check with "error: out of memory: the process's memory limit is too low"
# (exit 2, and no JSON document with --format json).
@pytest.mark.parametrize("command", ["ATTACH ({}) AS y", "VACUUM INTO ({})"])
def test_a_file_command_sqlite_runs_out_of_memory_resolving_is_refused(
    project: Path, command: str
) -> None:
    (project / "database.py").write_text(f"Q = {command.format(_expanding(20))!r}\n")
    said = _check_in_a_small_heap(project)
    assert said.startswith("UnsafeQueryError database.py: refused"), said
    assert re.search(r"line 1: (ATTACH|VACUUM INTO) statement", said), said


def test_a_statement_sqlite_runs_out_of_memory_compiling_is_a_problem(project: Path) -> None:
    module = f"def f(conn):\n    conn.execute({_expanding(20)!r})\n"
    (project / "database.py").write_text(module)
    said = _check_in_a_small_heap(project)
    assert said.startswith("problems\n"), said
    assert "does not prepare against the schema: compiling it used more than" in said


# Some PRAGMAs act when a statement is only prepared, not run: temp_store_directory,
# soft_heap_limit and hard_heap_limit then change the whole process (SQLite 3.40). No string
# of a module may reach SQLite as one while it is checked (each was tried through every
# connection the check prepares on: none changed).
PRAGMA_STRINGS = [
    "PRAGMA temp_store_directory = '{outside}'",
    "SELECT 1; PRAGMA soft_heap_limit = 1",
    "select 1; pragma HARD_HEAP_LIMIT = 1",
    "/* c */ pRaGmA main.temp_store_directory = '{outside}'",
    "VALUES (1);\n-- x\nPRAGMA hard_heap_limit = 0",
    "attach ':memory:' as y; PRAGMA soft_heap_limit = 7",
    "VACUUM INTO '{outside}/v.db'; PRAGMA temp_store_directory = '{outside}'",
]


@pytest.mark.parametrize("text", PRAGMA_STRINGS)
def test_no_module_string_changes_sqlite_s_settings_of_the_process(
    project: Path, tmp_path: Path, text: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    literal = text.format(outside=outside)
    module = f"Q = {literal!r}\n\ndef f(conn):\n    conn.execute({literal!r})\n"
    (project / "database.py").write_text(module)
    probe = sqlite3.connect(":memory:")
    try:
        before = probe.execute("PRAGMA temp_store_directory").fetchall()
        with contextlib.suppress(sqlfile.UnsafeQueryError):
            agreement.check_agreement(project, FILES)
        assert probe.execute("PRAGMA temp_store_directory").fetchall() == before
        # The check's own limit (the soft one follows the hard one down).
        for limit in _HEAP_LIMITS:
            assert probe.execute(f"PRAGMA {limit}").fetchone() == (sqlcheck.MAX_MEMORY,)
    finally:
        probe.close()
    assert not any(outside.iterdir())


# A name bound once and then added to, and string.Template: each was the module's own code,
# its text never read, and each of these passed (exit 0).
ADDED_REFUSED = {
    "added-at-once": ("Q = 'select '\nQ += \"load_extension('x')\"\n", "Q", "calls load_extension"),
    "added-in-an-if": (
        "def g(c):\n    Q = 'select 1'\n    if c:\n        Q += \", load_extension('x')\"\n"
        "    Q += ' -- '\n    return Q\n",
        "g(1)",
        "calls load_extension",
    ),
    "added-in-a-loop": (
        "def g(xs):\n    Q = 'select 1'\n    for x in xs:\n        Q += \", load_extension('x')\"\n"
        "    return Q\n",
        "g([1])",
        "calls load_extension",
    ),
    "added-a-value-then-a-call": (
        "def g(p):\n    Q = 'select '\n    Q += p\n"
        "    Q += \", load_extension('x')\"\n    return Q\n",
        "g('1')",
        "calls load_extension",
    ),
    "added-vacuum": ("Q = 'vacuum '\nQ += \"into 'x.db'\"\n", "Q", "VACUUM INTO statement"),
    "added-vacuum-value": (
        "def g(p):\n    Q = 'vacuum into '\n    Q += p\n    return Q\n",
        "g('x')",
        "VACUUM INTO statement",
    ),
    "added-attach-value": (
        "def g(p):\n    Q = 'attach '\n    Q += p\n    Q += ' as y'\n    return Q\n",
        "g('x')",
        "ATTACH statement",
    ),
    "template": (
        "import string\nQ = string.Template('select $f').substitute(f=\"load_extension('x')\")\n",
        "Q",
        "calls load_extension",
    ),
    "template-from": (
        "from string import Template as T\nQ = T('attach $p as y').substitute(p=\"'x.db'\")\n",
        "Q",
        "ATTACH statement",
    ),
    "template-value": (
        "import string\ndef g(p):\n    return string.Template('vacuum into $p').substitute(p=p)\n",
        "g('x')",
        "VACUUM INTO statement",
    ),
    "too-many-additions": (
        "Q = 'select 1'\n" + "if x:\n    Q += ', 1'\n" * 6,
        "Q",
        "the statement passed",
    ),
}


@pytest.mark.parametrize(
    ("module", "run", "said"), list(ADDED_REFUSED.values()), ids=list(ADDED_REFUSED)
)
def test_a_name_added_to_or_a_template_is_read_as_what_it_makes(
    project: Path, module: str, run: str, said: str
) -> None:
    (project / "database.py").write_text(
        f"x = 1\n{module}\ndef f(conn):\n    conn.execute({run})\n"
    )
    with pytest.raises(sqlfile.UnsafeQueryError, match=said):
        agreement.check_agreement(project, FILES)


ADDED_PASSING = [
    # "SELECT " was read alone: a problem (incomplete input), though it is never run alone.
    "Q = 'SELECT '\nQ += 'code FROM others'\n\ndef f(conn):\n    conn.execute(Q)\n",
    "def f(conn, a):\n    q = 'SELECT code FROM others'\n    if a:\n        q += ' WHERE id = ?'\n"
    "    q += ' ORDER BY code'\n    conn.execute(q, (a,))\n",
    "def f(conn, ids):\n    q = 'SELECT code FROM others WHERE id IN (?'\n    for _ in ids[1:]:\n"
    "        q += ', ?'\n    q += ')'\n    conn.execute(q, ids)\n",
    "def f(conn, where):\n    q = 'select code from others'\n    q += ' where ' + where\n"
    "    conn.execute(q)\n",
    "import string\n\ndef f(conn, i):\n"
    "    conn.execute(string.Template('SELECT code FROM others WHERE id = $i').substitute(i=i))\n",
]


@pytest.mark.parametrize("module", ADDED_PASSING)
def test_a_legitimate_name_added_to_passes(project: Path, module: str) -> None:
    assert_passes(project, module)


def test_a_name_added_to_naming_a_missing_column_is_a_problem(project: Path) -> None:
    module = (
        "def f(conn, a):\n    q = 'SELECT code FROM others'\n    if a:\n"
        "        q += ' WHERE nope = 1'\n    conn.execute(q)\n"
    )
    (project / "database.py").write_text(module)
    problems = agreement.check_agreement(project, FILES)
    assert [p.message.partition("schema: ")[2] for p in problems] == ["no such column: nope"]


# A message formatted by string.Template, as by % or .format: "Vacuum done into $p" was read
# as VACUUM INTO (exit 2), "WITH rows: $v" prepared as a statement (exit 1).
TEMPLATE_MESSAGES = [
    "print(string.Template('Vacuum done into $p').substitute(p=x))",
    "log.error(string.Template('WITH rows: $v').substitute(v=x))",
    "log.critical(Template('Attach done: ${p}').safe_substitute({'p': x}))",
]


@pytest.mark.parametrize("call", TEMPLATE_MESSAGES)
def test_a_message_formatted_by_a_template_is_a_message(project: Path, call: str) -> None:
    module = (
        "import logging\nimport string\nfrom string import Template\n\n"
        f"log = logging.getLogger(__name__)\n\n\ndef f(x):\n    {call}\n"
    )
    assert_passes(project, module)


TEMPLATE_STILL_READ = [
    "print(string.Template('VACUUM INTO $p').substitute(p=x))",  # upper case: as SQL is written
    "print(string.Template('Vacuum done into $p').substitute(p=x))\n"
    "    conn.execute(string.Template('Vacuum done into $p').substitute(p=x))",
    "print(T.substitute(p=x))",  # bound to a name: what it binds may be run
]


@pytest.mark.parametrize("call", TEMPLATE_STILL_READ)
def test_a_template_message_that_may_run_is_still_refused(project: Path, call: str) -> None:
    module = (
        "import string\n\nT = string.Template('Vacuum done into $p')\n\n\n"
        f"def f(conn, x):\n    {call}\n"
    )
    assert_refused(project, module, "VACUUM INTO statement")


# A field's value may start the statement, as it may end it: with p = "attach", each of
# these attaches a file; each passed (exit 0).
STARTED_AT_A_FIELD = [
    "conn.execute(f\"{p} 'x.db' as y\")",
    "conn.execute(\"%s into 'x.db'\" % p)",
    "conn.execute(p + \" DATABASE 'x.db' AS y\")",
    "conn.execute('{} main into {}'.format(p, repr(p)))",
    "conn.execute(f\"select 1; {p} 'x.db' as y\")",
]


@pytest.mark.parametrize("call", STARTED_AT_A_FIELD)
def test_a_file_command_whose_verb_is_a_field_is_refused(project: Path, call: str) -> None:
    assert_refused(
        project, f"def f(conn, p):\n    {call}\n", r"line 2: (ATTACH|VACUUM INTO) statement"
    )


STARTED_AT_A_FIELD_PASSING = [
    "conn.execute(f'{cols} FROM others WHERE id = ?', (1,))",
    "conn.execute('%s ORDER BY code' % q)",
    "conn.execute(q + ' WHERE id = ?', (1,))",
    "print(f\"{p} 'x.db' as y\")",  # only shown: a message
    "print(f'{p} {q}')",
]


@pytest.mark.parametrize("call", STARTED_AT_A_FIELD_PASSING)
def test_a_text_starting_with_a_field_that_is_no_file_command_passes(
    project: Path, call: str
) -> None:
    assert_passes(project, f"def f(conn, p, q, cols):\n    {call}\n")


# A string.Template field is a placeholder as a % or str.format field is: "attach $p" with
# p = "'x.db' AS y" attaches a file; these passed (exit 0).
TEMPLATE_FIELDS = [
    "conn.execute(string.Template('attach $p').substitute(p=p))",
    "conn.execute(string.Template('vacuum into ${p} now').substitute(p=p))",
    "conn.execute(string.Template(\"$v 'x.db' as y\").substitute(v=p))",
]


@pytest.mark.parametrize("call", TEMPLATE_FIELDS)
def test_a_template_field_may_make_a_file_command(project: Path, call: str) -> None:
    assert_refused(
        project,
        f"import string\n\n\ndef f(conn, p):\n    {call}\n",
        r"line 5: (ATTACH|VACUUM INTO) statement",
    )


def test_a_template_field_in_a_query_and_a_named_parameter_pass(project: Path) -> None:
    module = (
        "import string\n\n\ndef f(conn, p):\n"
        "    q = string.Template('SELECT id FROM others WHERE code = $c')\n"
        "    conn.execute(q.substitute(c=p))\n"
        "    conn.execute('SELECT id FROM others WHERE id = $id', {'id': p})\n"
    )
    assert_passes(project, module)


# A query literal completed with the module's own values at run time is never run as
# written: each of these was prepared as written, a problem (near "%": syntax error,
# unrecognized token "{", incomplete input), as an f-string of the same text is not.
COMPLETED_AT_RUN_TIME = [
    "conn.execute('SELECT %s FROM others WHERE id = ?' % cols, (1,))",
    "conn.execute('SELECT %s FROM others WHERE id = ?' % (cols,), (1,))",
    "conn.execute('SELECT %(c)s FROM others WHERE id = ?' % {'c': cols}, (1,))",
    "conn.execute('SELECT id FROM others LIMIT %d' % n)",
    "conn.execute(\"SELECT id FROM others WHERE code LIKE 'a%%' AND %s\" % cond)",
    "conn.execute('SELECT %s FROM others' % ', '.join(cols))",
    "conn.execute('SELECT {} FROM others WHERE id = ?'.format(cols), (1,))",
    "conn.execute('SELECT {c} FROM others WHERE id = ?'.format(c=cols), (1,))",
    "conn.execute('SELECT {0.name} FROM others'.format(cols))",
    "conn.execute('SELECT {c} FROM others'.format_map({'c': cols}))",
    "conn.execute('SELECT %s, %s FROM others' % (cols, None))",
    "conn.execute('SELECT id FROM others WHERE ' + cond)",
    "conn.execute('SELECT id FROM others WHERE ' + cond + ' ORDER BY id')",
    "conn.execute(' '.join(['SELECT id FROM others WHERE', cond]))",
    "conn.execute(f\"{'SELECT id FROM others ORDER BY '}{cols}\")",
    "conn.execute(string.Template('SELECT id FROM others WHERE ${c}').substitute(c=cond))",
    "conn.execute(string.Template('SELECT $c FROM others').safe_substitute({'c': cols}))",
    "q = 'SELECT id FROM others WHERE '\n    q += cond\n    conn.execute(q)",
    "q = 'SELECT %s FROM others' % cols\n    conn.execute(q)",
    # an f-string without a field is the literal it writes: these were problems too
    "conn.execute(f'SELECT id FROM others ORDER BY %s' % cols, ())",
    "conn.execute(f'SELECT id FROM others WHERE {{}}'.format(cond))",
]


@pytest.mark.parametrize("call", COMPLETED_AT_RUN_TIME)
def test_a_query_literal_completed_at_run_time_passes(project: Path, call: str) -> None:
    module = f"import string\n\n\ndef f(conn, cols, cond, n):\n    {call}\n"
    assert_passes(project, module)


# What such a text makes is held to what it would do, constant values included: the
# string.Template one passed (its text prepares: $a and $b are SQLite parameters), the
# others were problems only because they did not parse; sqlite_dbpage in an f-string passed.
COMPLETED_REFUSED = [
    "conn.execute(string.Template('SELECT $a, $b FROM others').substitute(a=p, b=E))",
    "conn.execute('SELECT %s, %s FROM others' % (p, \"load_extension('x')\"))",
    "conn.execute('SELECT %(a)s, %(b)s FROM others' % {'a': p, 'b': E})",
    "conn.execute('SELECT {}, {x} FROM others'.format(p, x=\"writefile('a', 'b')\"))",
    "conn.execute('SELECT {1}, {0} FROM others'.format(p, \"edit('a', 'b')\"))",
    "conn.execute(\"SELECT load_extension('x') WHERE \" + p)",
    "conn.execute(' '.join([\"SELECT load_extension('x') WHERE\", p]))",
    "conn.execute(f\"{'SELECT load_extension(1) WHERE '}{p}\")",
    "conn.execute('SELECT %s FROM others; PRAGMA writable_schema = 1' % p)",
    "conn.execute('SELECT * FROM sqlite_dbpage WHERE %s' % p)",
    "conn.execute(f'SELECT * FROM \"SQLITE_DBPAGE\" WHERE {p}')",
    "conn.execute('SELECT {a}, {b} FROM others'.format_map({'a': p, 'b': E}))",
]


# A value not read here leaves the literal as written (prepared, refused or a problem as
# before), never a placeholder: each of these holds load_extension('x') in a constant.
COMPLETED_UNREAD = [
    "conn.execute('SELECT {a}, {b} FROM others'.format(p, **D))",
    "conn.execute('SELECT {}, {} FROM others'.format(p, *T))",
    "conn.execute('SELECT {a}, {b} FROM others'.format_map(D))",
    "conn.execute('SELECT %s, %s FROM others' % (p, *T))",
    "conn.execute(string.Template('SELECT $a, $b FROM others').substitute(D, a=p))",
]


@pytest.mark.parametrize("call", COMPLETED_UNREAD)
def test_a_completed_query_with_values_not_read_is_not_passed(project: Path, call: str) -> None:
    module = (
        "import string\n\nD = {'b': \"load_extension('x')\"}\nT = (\"load_extension('x')\",)\n\n\n"
        f"def f(conn, p):\n    {call}\n"
    )
    (project / "database.py").write_text(module)
    with contextlib.suppress(sqlfile.UnsafeQueryError):
        assert agreement.check_agreement(project, FILES) != []


@pytest.mark.parametrize("call", COMPLETED_REFUSED)
def test_what_a_completed_query_makes_is_held_to_what_it_would_do(project: Path, call: str) -> None:
    module = f"import string\n\nE = \"load_extension('x')\"\n\n\ndef f(conn, p):\n    {call}\n"
    assert_refused(project, module, r"line 7: (calls|names|PRAGMA)")


# The text of a string.Template, or of a % or format, given by a name bound to a literal or
# computed of constants: the Template ones passed (read as written, $a and $b are SQLite
# parameters, so the literal prepared), the others were problems (near "%").
NAMED_REFUSED = [
    "conn.execute(string.Template(Q).substitute(D, a=p))",
    "conn.execute(string.Template(('SELECT $a, $b FROM others' + 'zq')[:-2]).substitute(D, a=p))",
    "conn.execute(string.Template(Q).substitute(a=p, b=E))",
    "conn.execute(P % (p, E))",
    "conn.execute(F.format(p, E))",
]
NAMED = (
    "Q = 'SELECT $a, $b FROM others'\nP = 'SELECT %s, %s FROM others'\n"
    "F = 'SELECT {}, {} FROM others'\n"
)


@pytest.mark.parametrize("call", NAMED_REFUSED)
def test_a_template_named_or_computed_is_read_as_what_it_makes(project: Path, call: str) -> None:
    head = "import string\n\nE = \"load_extension('x')\"\nD = {'b': E}\n"
    module = head + NAMED + f"\n\ndef f(conn, p):\n    {call}\n"
    assert_refused(project, module, r"line 11: calls load_extension")


# A query literal bound to a name and completed there was a problem ("near "%": syntax
# error", "Binding 2 has no name"): it is never run as written.
NAMED_PASSING = [
    ("T = 'SELECT $c FROM others WHERE id = ?'", "string.Template(T).substitute(c=cols)"),
    ("T = 'SELECT %s FROM others WHERE id = ?'", "T % cols"),
    ("T = 'SELECT {} FROM others WHERE id = ?'", "T.format(cols)"),
]


@pytest.mark.parametrize(("bound", "made"), NAMED_PASSING)
def test_a_named_query_literal_completed_at_run_time_passes(
    project: Path, bound: str, made: str
) -> None:
    module = f"import string\n\n{bound}\n\n\ndef f(conn, cols):\n    conn.execute({made}, (1,))\n"
    assert_passes(project, module)


def test_a_named_literal_also_run_as_written_is_still_prepared(project: Path) -> None:
    module = (
        "P = 'SELECT id FROM others WHERE id = %s'\n\n\n"
        "def f(conn, cols):\n    conn.execute(P % cols)\n    conn.execute(P)\n"
    )
    (project / "database.py").write_text(module)
    problems = agreement.check_agreement(project, FILES)
    assert [p.line for p in problems] == [1]
    assert 'near "%"' in problems[0].message


def test_a_completed_literal_also_run_as_written_is_still_prepared(project: Path) -> None:
    module = (
        "def f(conn, cols):\n"
        "    conn.execute('SELECT id FROM nope WHERE ' + cols)\n"
        "    conn.execute('SELECT id FROM nope WHERE ')\n"
    )
    (project / "database.py").write_text(module)
    found = agreement.check_agreement(project, FILES)
    # line 2: the literal as written (incomplete input) and the text it makes (no such table)
    assert [p.line for p in found] == [2, 2, 3]


# The names a text made at run time writes in its constant parts are looked up as a
# constant's are: each of these passed (exit 0), as "SELECT id FROM nope WHERE 1" does not.
MADE_NAMES_MISSING = [
    ("conn.execute('SELECT id FROM nope WHERE %s' % p)", "no such table: nope"),
    ("conn.execute(f'SELECT id FROM nope WHERE {p}')", "no such table: nope"),
    ("conn.execute('SELECT id FROM nope WHERE ' + p)", "no such table: nope"),
    ("conn.execute('SELECT {} FROM nope'.format(p))", "no such table: nope"),
    ("conn.execute(string.Template('SELECT $c FROM nope').substitute(c=p))", "no such table: nope"),
    ("conn.execute(f'SELECT nope FROM others WHERE {p}')", "no such column: nope"),
    ("conn.execute(f'SELECT id FROM others WHERE nope IN ({p})')", "no such column: nope"),
    ("conn.execute(f'SELECT o.nope FROM others AS o WHERE {p}')", "no such column: o.nope"),
    ("conn.execute(f'SELECT nope(id) FROM others WHERE {p}')", "no such function: nope"),
    ("conn.execute(f'SELECT id FROM others WHERE id = {p} ORDER BY rank')", "no such column: rank"),
    ("conn.execute(f'REPLACE INTO nope (id, code) VALUES ({p})')", "no such table: nope"),
    ("conn.execute(f'INSERT INTO nope ({p}) VALUES ({p})')", "no such table: nope"),
    ("conn.execute(f'UPDATE nope SET {p} = ? WHERE id = ?', (1, 2))", "no such table: nope"),
    ("conn.execute(f'SELECT * FROM {p} JOIN nope')", "no such table: nope"),
    ("conn.execute(f'DELETE FROM nope WHERE {p}')", "no such table: nope"),
    ("q = 'SELECT id FROM nope WHERE '\n    q += p\n    conn.execute(q)", "no such table: nope"),
    # a name a constant addition after the value writes (passed: only the bound literal's
    # names were looked up)
    (
        "q = 'SELECT id FROM others WHERE id = '\n    q += p\n    q += ' ORDER BY nope'\n"
        "    conn.execute(q)",
        "no such column: nope",
    ),
    ("conn.execute(f'select id from nope where {p}')", "no such table: nope"),
    ("conn.execute('select id from nope where %s' % p)", "no such table: nope"),
    (
        "q = f'with a as (select 1) select nope from others where {p}'\n    conn.execute(q)",
        "no such column: nope",
    ),
]


@pytest.mark.parametrize(("call", "error"), MADE_NAMES_MISSING)
def test_a_name_a_made_text_writes_is_looked_up(project: Path, call: str, error: str) -> None:
    module = f"import string\n\n\ndef f(conn, p):\n    {call}\n"
    (project / "database.py").write_text(module)
    found = agreement.check_agreement(project, FILES)
    ending = f"does not prepare against the schema: {error}"
    assert [p.message.endswith(ending) for p in found] == [True]


# A field may stand for several values, a column list, a join, an alias or a name: what a
# field can make is not looked up, and none of these is a problem.
MADE_NAMES_FROM_A_FIELD = [
    "conn.execute(f'REPLACE INTO others (id, code) VALUES ({p})')",
    "conn.execute(f'INSERT INTO others ({p}) VALUES ({p})')",
    "conn.execute(f'SELECT id FROM others WHERE code IN ({p})')",
    "conn.execute(f'SELECT id FROM others ORDER BY {p}')",
    "conn.execute(f'SELECT id FROM others ORDER BY {p} {p}')",
    "conn.execute(f'SELECT id FROM others LIMIT {p}')",
    "conn.execute(f'SELECT {p} FROM others ORDER BY total')",
    "conn.execute(f'SELECT id, {p} FROM others GROUP BY id HAVING n > 1 ORDER BY total')",
    "conn.execute(f'SELECT name FROM {p} WHERE id = ?', (1,))",
    "conn.execute(f'SELECT * FROM others {p} WHERE name = ?', (1,))",
    "conn.execute(f'SELECT * FROM others AS o {p} WHERE u.name = ?', (1,))",
    "conn.execute(f'SELECT * FROM nope{p}')",
    "conn.execute(f'SELECT * FROM {p}nope')",
    "conn.execute(f'SELECT * FROM {p}.nope')",
    "conn.execute(f'WITH {p} SELECT * FROM nope')",
    "conn.execute(f'WITH {p} AS (SELECT 1) SELECT * FROM nope')",
    "conn.execute(f'UPDATE others SET {p} = ? WHERE id = ?', (1, 2))",
    "conn.execute(f'UPDATE others SET {p} WHERE nope = ?', (1,))",
    "conn.execute(f'SELECT id FROM others WHERE id = :id AND {p}', {'id': 1})",
    "conn.execute(f'SELECT x FROM others WHERE {p}')",
    "log.info(f'SELECT id FROM nope WHERE {p}')",
    "log.info(f'select id from nope where {p}')",
    "x = f'select the row {p}'",
    "conn.execute('SELECT id FROM others WHERE %s' % p)",
]


@pytest.mark.parametrize("call", MADE_NAMES_FROM_A_FIELD)
def test_a_name_a_field_may_make_is_not_looked_up(project: Path, call: str) -> None:
    module = f"import logging\n\nlog = logging.getLogger()\n\n\ndef f(conn, p):\n    {call}\n"
    assert_passes(project, module)


def test_a_completed_literal_is_made_within_bounds(project: Path) -> None:
    # 5,000 fields of a 90,000-character value: 450 MB if made; never made (left as written).
    big = "x" * 90_000
    module = (
        f"V = {big!r}\n\n\ndef f(conn, p):\n"
        f"    conn.execute('SELECT {'%(v)s' * 5_000} %(p)s' % {{'v': V, 'p': p}})\n"
    )
    (project / "database.py").write_text(module)
    tracemalloc.start()
    try:
        messages(project)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_a_template_message_without_a_field_is_a_message(project: Path) -> None:
    # The literal was counted as passed twice (to Template and to print): it was no
    # message, and "select * from the list" a problem (no such table: the).
    module = (
        "import string\n\n\ndef f(x):\n"
        "    print(string.Template('select * from the list').substitute(v=x))\n"
    )
    assert_passes(project, module)


@pytest.mark.parametrize(
    ("call", "passes"),
    [
        ("print(string.Template('Vacuum do' + 'ne into $p').substitute(p=x))", True),
        ("log.error(string.Template('WITH r' + 'ows: $v').substitute(v=x))", True),
        ("print(string.Template('VACUUM INTO ' + '$p').substitute(p=x))", False),
    ],
)
def test_a_template_message_of_a_sum_is_a_message(project: Path, call: str, passes: bool) -> None:
    # Template("Vacuum do" + "ne into $p") was not read as a message as Template("Vacuum
    # done into $p") is: refused (VACUUM INTO) and a problem (unrecognized token ":").
    head = "import logging\nimport string\n\nlog = logging.getLogger(__name__)\n\n\n"
    module = f"{head}def f(x):\n    {call}\n"
    (project / "database.py").write_text(module)
    if passes:
        assert agreement.check_agreement(project, FILES) == []
    else:
        with pytest.raises(sqlfile.UnsafeQueryError, match="VACUUM INTO"):
            agreement.check_agreement(project, FILES)


# Each statement kind completed at run time is held to at least what the literal as written
# was (a problem at worst): none of these may pass.
COMPLETED_STATEMENTS = [
    "'INSERT INTO others (id, code) VALUES (load_extension(\\'x\\'), %s)' % p",
    "'UPDATE others SET code = load_extension(\\'x\\') WHERE id = {}'.format(p)",
    "'DELETE FROM others WHERE ' + p + '; SELECT load_extension(\\'x\\')'",
    "string.Template('REPLACE INTO others VALUES ($p, writefile(1, 2))').substitute(p=p)",
    "'UPDATE sqlite_master SET sql = %s WHERE name = 1' % p",
    "'INSERT INTO main.sqlite_schema (type, name, sql) VALUES (1, 2, {})'.format(p)",
    "'DELETE FROM others WHERE id = %s; VACUUM INTO 1' % p",
    "'INSERT INTO others (code) VALUES (%s); ATTACH 1 AS y' % p",
]


# The table a statement writes is the one its own verb names, past a WITH and an OR: the
# first FROM met (the CTE's) was read, or none past `UPDATE OR IGNORE main.`; each passed.
@pytest.mark.parametrize(
    "expr",
    [
        "f'WITH x AS (SELECT 1 FROM others) DELETE FROM sqlite_master WHERE {p}'",
        "'WITH x AS (SELECT 1 FROM others) DELETE FROM sqlite_master WHERE %s' % p",
        "f'WITH a(n) AS MATERIALIZED (SELECT 1), b AS (SELECT 2) UPDATE sqlite_schema SET a={p}'",
        "f'UPDATE OR IGNORE main.sqlite_schema SET sql = {p}'",
        "'WITH RECURSIVE c(n) AS (SELECT 1) INSERT INTO \"sqlite_master\" SELECT %s' % p",
    ],
)
def test_a_write_to_the_schema_table_behind_a_with_is_refused(project: Path, expr: str) -> None:
    assert_refused(
        project,
        f"def f(conn, p):\n    conn.execute({expr})\n",
        r"line 2: writes sqlite_(master|schema)",
    )


def test_a_query_of_the_schema_table_behind_a_with_passes(project: Path) -> None:
    module = (
        "def f(conn, p):\n"
        "    conn.execute(f\"WITH a AS (SELECT 1) SELECT replace(name, 'a', 'b') FROM sqlite_master"
        ' WHERE {p}")\n'
    )
    assert_passes(project, module)


@pytest.mark.parametrize("expr", COMPLETED_STATEMENTS)
def test_no_completed_statement_kind_passes(project: Path, expr: str) -> None:
    (project / "database.py").write_text(
        f"import string\n\n\ndef f(conn, p):\n    conn.execute({expr})\n"
    )
    with contextlib.suppress(sqlfile.UnsafeQueryError):
        assert agreement.check_agreement(project, FILES) != []


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TEMP TRIGGER t AFTER INSERT ON others BEGIN SELECT load_extension('x'); END",
        "create temp view v as select writefile('x', 'y')",
        "DROP TABLE others",
        "/* c */ ALTER TABLE others ADD COLUMN z",
        "PRAGMA foreign_keys = ON; CREATE TABLE t (a)",
    ],
)
def test_a_statement_changing_the_schema_passed_to_execute_is_refused(
    project: Path, sql: str
) -> None:
    # A literal whose first statement is no query was not read: each passed (exit 0).
    assert_refused(
        project, f"def f(conn):\n    conn.execute({sql!r})\n", "changes through its migrations"
    )


@pytest.mark.parametrize(
    "expr",
    [
        "'DROP TABLE %s' % p",
        "'CREATE TEMP VIEW v AS SELECT {}'.format(p)",
        "'drop table ' + p",
        "f'ALTER TABLE {p} ADD COLUMN z'",
        "' '.join(['DROP TABLE', p])",
        "string.Template('DROP TABLE $t').substitute(t=p)",
        "'SELECT 1; DROP TABLE %s' % p",
    ],
)
def test_a_schema_change_completed_at_run_time_is_refused(project: Path, expr: str) -> None:
    # What a %, format, +, join, f-string or Template passed to execute starts with was not
    # read when it was no query: each passed (exit 0).
    module = f"import string\n\n\ndef f(conn, p):\n    conn.execute({expr})\n"
    assert_refused(project, module, r"line 5: (DROP|CREATE|ALTER) statement")


# A first word made at run time followed by TABLE, INDEX, VIEW or TRIGGER is CREATE, DROP or
# ALTER made at run time; a statement completed into a name passed to execute was not read.
# Each passed (exit 0).
@pytest.mark.parametrize(
    ("code", "match"),
    [
        ("conn.execute(f'{p} TABLE others')", "followed by TABLE"),
        ("conn.execute('%s TABLE others' % p)", "followed by TABLE"),
        ("conn.execute('{} INDEX i ON others (code)'.format(p))", "followed by INDEX"),
        ("conn.execute(p + ' VIEW v')", "followed by VIEW"),
        ("conn.execute(f'{p} TEMP TRIGGER t AFTER INSERT ON others BEGIN SELECT 1; END')", "TEMP"),
        ("conn.execute(f'SELECT 1; {p} TABLE others')", "followed by TABLE"),
        ("q = f'{p} TABLE others'\n    conn.execute(q)", "followed by TABLE"),
        ("q = 'DROP TABLE %s' % p\n    conn.execute(q)", "DROP statement"),
        ("q = 'SELECT 1'\n    q = 'SELECT 1; ' + p + ' TRIGGER t'\n    conn.execute(q)", "TRIGGER"),
        # a name added to: each text its additions make (passed)
        ("q = ''\n    q += p\n    q += ' TABLE others'\n    conn.execute(q)", "followed by TABLE"),
        ("q = 'SELECT 1; '\n    q += p\n    q += ' TRIGGER t'\n    conn.execute(q)", "TRIGGER"),
    ],
)
def test_a_schema_change_made_at_run_time_is_refused(project: Path, code: str, match: str) -> None:
    assert_refused(project, f"def f(conn, p):\n    {code}\n", match)


@pytest.mark.parametrize(
    "line",
    [
        "print(f'{p} TABLE others')",
        "conn.execute(f'{p} FROM others')",
        "log.info('VACUUM done, ANALYZE next')",
        "print('DROP failed: %s' % p)",
        "raise ValueError(f'ALTER failed: {p}')",
        "conn.execute(f'PRAGMA {p} = 1')",
        "conn.execute('SELECT id FROM others WHERE ' + p)",
    ],
)
def test_a_message_or_query_completed_at_run_time_passes(project: Path, line: str) -> None:
    module = f"import logging\n\nlog = logging.getLogger()\n\n\ndef f(conn, p):\n    {line}\n"
    assert_passes(project, module)


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA foreign_keys = ON",
        "PRAGMA optimize",
        "ANALYZE",
        "reindex others",
        "VACUUM",
        "DETACH main",
        "EXPLAIN QUERY PLAN SELECT id FROM others",
        "BEGIN IMMEDIATE",
        "SAVEPOINT s",
        "ROLLBACK TO s",
        "RELEASE s",
        "COMMIT",
    ],
)
def test_settings_and_transactions_passed_to_execute_pass(project: Path, sql: str) -> None:
    assert_passes(project, f"def f(conn):\n    conn.execute({sql!r})\n")


def test_a_message_naming_a_schema_change_passes(project: Path) -> None:
    module = "def f(conn):\n    print('CREATE failed, try again')\n    conn.execute('SELECT 1')\n"
    assert_passes(project, module)


_CHAINED_Q = "    q = 'SELECT id FROM others WHERE '\n    q += p\n    conn.execute(q)\n"

# Each scope's own name is its own: a function's q bound once and added to at once is the query
# it completes, whatever another scope binds to its q. Each was a problem (`incomplete input`:
# q was counted bound twice module-wide, so 'SELECT id FROM others WHERE ' was prepared as
# written).
SCOPES_OF_ONE_NAME = {
    "two-functions": "def g(p):\n    q = f\"{'VALUES ('}{p}{')'}\"\n    return q\n\n\n"
    f"def f(conn, p):\n{_CHAINED_Q}",
    "two-classes": "class A:\n    def f(self, conn, p):\n"
    + _CHAINED_Q.replace("    ", "        ")
    + "\n\nclass B:\n    def f(self, p):\n        q = p\n        return q\n",
    "nested": "def f(conn, p):\n    q = 'outer'\n\n    def g(conn, p):\n"
    + _CHAINED_Q.replace("    ", "        ")
    + "\n    return g, q\n",
    "module-constant": f"q = 'SELECT 1'\n\n\ndef f(conn, p):\n{_CHAINED_Q}",
    "lambda": f"g = lambda q: q + 'x'\n\n\ndef f(conn, p):\n{_CHAINED_Q}",
    "comprehension": f"Z = [q for q in ('a', 'b')]\n\n\ndef f(conn, p):\n{_CHAINED_Q}",
}


@pytest.mark.parametrize("module", SCOPES_OF_ONE_NAME.values(), ids=SCOPES_OF_ONE_NAME)
def test_a_local_name_is_read_in_its_own_scope(project: Path, module: str) -> None:
    assert_passes(project, module)


# The same reading never lets a scope's value through as a field: a local bound to a constant
# is that constant in its scope (the first two passed before, exit 0: `E` was bound twice
# module-wide, so read as a value); a name a function declares global or nonlocal, or only
# reads, is the one around it (these were problems before too).
SCOPED_HOSTILE = {
    "local-shadows": "E = p_default = 'x'\n\n\ndef g(p):\n    E = p\n    return E\n\n\n"
    "def f(conn):\n    E = \"load_extension('x')\"\n"
    "    conn.execute('SELECT %s FROM others' % E)\n",
    "other-function": "def g(conn, p):\n    E = p\n    return E\n\n\n"
    "def f(conn):\n    E = \"load_extension('x')\"\n"
    "    conn.execute('SELECT %s FROM others' % E)\n",
    "read-from-module": "E = \"load_extension('x')\"\n\n\ndef g(p):\n    e = p\n    return e\n\n\n"
    "def f(conn):\n    conn.execute('SELECT %s FROM others' % E)\n",
    "read-from-outer": "def f(conn):\n    E = \"load_extension('x')\"\n\n    def g():\n"
    "        conn.execute('SELECT %s FROM others' % E)\n\n    return g\n",
    "global-chain": "Q = \"SELECT load_extension('x') \"\n\n\ndef f(conn):\n    global Q\n"
    "    Q += 'FROM others'\n    conn.execute(Q)\n",
    "nonlocal-chain": "def f(conn):\n    q = \"SELECT load_extension('x') \"\n\n    def g():\n"
    "        nonlocal q\n        q += 'FROM others'\n\n    g()\n    conn.execute(q)\n",
    "method-and-function": "class A:\n    def f(self, conn, p):\n        q = p\n"
    "        return q\n\n\n"
    "def f(conn):\n    q = \"SELECT load_extension('x') \"\n    q += 'FROM others'\n"
    "    conn.execute(q)\n",
}


@pytest.mark.parametrize("module", SCOPED_HOSTILE.values(), ids=SCOPED_HOSTILE)
def test_a_scope_s_own_constant_is_never_read_as_a_field(project: Path, module: str) -> None:
    (project / "database.py").write_text(module)
    assert "not authorized to use function: load_extension" in " ".join(messages(project))


# A name-bound literal completed with constants in one use and the module's values in another
# is never run as written: each was a problem (near "%": syntax error; unrecognized token "{").
NAMED_COMPLETED_WITH_CONSTANTS = {
    "percent": ("Q = 'SELECT id FROM others WHERE id = %s'", "Q % 3", "Q % p"),
    "percent-only-constants": ("Q = 'SELECT id FROM others WHERE id = %s'", "Q % 3", "Q % 4"),
    "format": ("Q = 'SELECT id FROM others WHERE id = {}'", "Q.format(3)", "Q.format(p)"),
    "template": (
        "Q = 'SELECT id FROM others WHERE id = $v'",
        "string.Template(Q).substitute(v=3)",
        "string.Template(Q).substitute(v=p)",
    ),
}


@pytest.mark.parametrize(
    ("bound", "first", "second"),
    NAMED_COMPLETED_WITH_CONSTANTS.values(),
    ids=NAMED_COMPLETED_WITH_CONSTANTS,
)
def test_a_named_literal_completed_with_a_constant_is_read_in_each_use(
    project: Path, bound: str, first: str, second: str
) -> None:
    module = (
        f"import string\n\n{bound}\n\n\ndef a(conn):\n    return conn.execute({first})\n\n\n"
        f"def f(conn, p):\n    return conn.execute({second})\n"
    )
    assert_passes(project, module)


@pytest.mark.parametrize(
    ("first", "said"),
    [
        # what a constant completes it with is held to what it would do
        ("Q % \"load_extension('x')\"", "not authorized to use function: load_extension"),
        ("Q % 'nope'", "no such column: nope"),
        # read as written elsewhere: prepared as written
        ("Q", 'near "%": syntax error'),
    ],
)
def test_a_named_literal_s_other_uses_are_still_read(project: Path, first: str, said: str) -> None:
    bound = NAMED_COMPLETED_WITH_CONSTANTS["percent"][0]
    module = (
        f"{bound}\n\n\ndef a(conn):\n    return conn.execute({first})\n\n\n"
        "def f(conn, p):\n    return conn.execute(Q % p)\n"
    )
    (project / "database.py").write_text(module)
    assert said in " ".join(messages(project))


# A join whose separator Python computes of constants is the join of that separator: the first
# was a problem (incomplete input: the literal prepared as written), the ATTACH passed (exit 0).
@pytest.mark.parametrize(
    ("call", "outcome"),
    [
        ("(' ' * 1).join([('SELECT id FROM others ORDER BY' * 1), p])", "passes"),
        ("(' ' * 1).join(['SELECT id FROM nope WHERE', p])", "no such table: nope"),
        ("(' ' + '').join(['ATTACH', p, 'AS y'])", "refused"),
    ],
)
def test_a_join_by_a_separator_made_of_constants_is_read(
    project: Path, call: str, outcome: str
) -> None:
    (project / "database.py").write_text(f"def f(conn, p):\n    conn.execute({call})\n")
    if outcome == "refused":
        with pytest.raises(sqlfile.UnsafeQueryError, match="ATTACH"):
            agreement.check_agreement(project, FILES)
    elif outcome == "passes":
        assert agreement.check_agreement(project, FILES) == []
    else:
        assert outcome in " ".join(messages(project))


# A text another module's function makes of the constants it is given passed unread: their
# strings (and UTF-8 bytes) are read, in order, as the text they make together.
MADE_BY_ANOTHER_MODULE = [
    (
        "import functools\nimport operator\n\n\ndef f(conn):\n"
        "    conn.execute(functools.reduce(operator.add, ['ATTACH', \" DATABASE 'x.db' AS m\"]))\n",
        "ATTACH statement",
    ),
    (
        "import itertools\n\n\ndef f(conn):\n"
        "    conn.execute(''.join(itertools.chain(['VACUUM'], [\" INTO 'x.db'\"])))\n",
        "VACUUM INTO statement",
    ),
    (
        "from functools import reduce\n\n\ndef f(conn):\n"
        "    conn.execute(reduce(lambda x, y: x + y, ['DROP TABLE oth', 'ers']))\n",
        "DROP statement",
    ),
    (
        "import codecs\n\n\ndef f(conn):\n"
        "    conn.execute(codecs.decode(b'ALTER TABLE others ADD COLUMN zz', 'utf-8'))\n",
        "ALTER statement",
    ),
    (
        "import functools\nimport operator\n\n\ndef f(conn):\n"
        "    conn.execute(functools.reduce(operator.add, ['INSERT', ' INTO sqlite_master "
        "VALUES (1, 2, 3, 4, 5)']))\n",
        "writes sqlite_master",
    ),
]


@pytest.mark.parametrize(("module", "said"), MADE_BY_ANOTHER_MODULE)
def test_a_statement_another_module_makes_of_constants_is_read(
    project: Path, module: str, said: str
) -> None:
    assert_refused(project, module, said)


@pytest.mark.parametrize(
    "module",
    [
        "import functools\nimport operator\n\n\ndef f(conn):\n"
        "    conn.execute(functools.reduce(operator.add, ['SELECT code FROM others', ' LIMIT 1'])"
        ")\n",
        "import textwrap\n\n\ndef f(conn):\n"
        "    conn.execute(textwrap.dedent('''\n        SELECT code FROM others\n    '''))\n",
        "import codecs\n\n\ndef f(conn):\n"
        "    conn.execute(codecs.decode(b'SELECT name FROM sqlite_master WHERE rootpage > 0'))\n",
        "def f(conn):\n"
        "    conn.execute(getattr(conn, 'no_such', 'SELECT name FROM sqlite_master'))\n",
        "def f(conn, p):\n    conn.execute(''.join(['UPDATE others SET code = (SELECT type FROM "
        "sqlite_master LIMIT 1) WHERE ', p]))\n",
    ],
)
def test_a_query_another_module_makes_of_constants_passes(project: Path, module: str) -> None:
    assert_passes(project, module)


# Texts a module makes of constants through a codec, a descriptor, an Enum member, a function's
# return bound to a name, or Python's exec: each passed unread.
CODED_OR_HIDDEN = [
    (  # rot13 of "DROP TABLE others": read as the text it makes
        "import codecs\n\n\ndef f(conn):\n"
        "    conn.execute(codecs.decode('QEBC GNOYR bguref', 'rot13'))\n",
        "DROP statement",
    ),
    (
        "from codecs import decode as d\n\n\ndef f(conn):\n"
        "    conn.execute(d(\"NGGNPU QNGNONFR 'k.qo' NF z\", encoding='rot_13'))\n",
        "ATTACH statement",
    ),
    (  # another codec, or a decoding module's function: not computed here
        "import codecs\n\n\ndef f(conn):\n"
        "    conn.execute(codecs.decode(b'RFJPUCBUQUJMRSBvdGhlcnM=', 'base64').decode())\n",
        "made of constants in a way the check does not read",
    ),
    (
        "import base64\n\n\ndef f(conn):\n"
        "    conn.execute(base64.b64decode(b'RFJPUCBUQUJMRSBvdGhlcnM=').decode())\n",
        "made of constants in a way the check does not read",
    ),
    (
        "import zlib\n\nZ = b'x\\x9c'\n\n\ndef f(conn):\n"
        "    conn.execute(zlib.decompress(Z).decode())\n",
        "made of constants in a way the check does not read",
    ),
    (
        "class D:\n    def __get__(self, obj, owner=None):\n"
        "        return 'DROP TABLE others'\n\n\nclass K:\n    q = D()\n\n"
        "    def f(self, conn):\n        conn.execute(self.q)\n",
        "DROP statement",
    ),
    (
        "import enum\n\n\nclass E(enum.Enum):\n    Q = 'DROP TABLE others'\n\n\n"
        "def f(conn):\n    conn.execute(E.Q.value)\n",
        "DROP statement",
    ),
    (
        "def make():\n    return 'DROP TABLE others'\n\n\ndef f(conn):\n"
        "    s = make()\n    conn.execute(s)\n",
        "DROP statement",
    ),
    (
        "Q = 'SELECT 1'\nexec('Q = ' + repr('DROP TABLE others'))\n\n\n"
        "def f(conn):\n    conn.execute(Q)\n",
        "runs a text as Python",
    ),
    (
        "import builtins\n\n\ndef f(conn):\n"
        "    conn.execute(builtins.eval(\"'DROP TABLE ' + 'others'\"))\n",
        "runs a text as Python",
    ),
    (
        "def f(conn):\n    run = eval\n    conn.execute(run(\"'ATTACH DATABASE ' + 'k'\"))\n",
        "runs a text as Python",
    ),
]


# A schema change written anywhere in the module reached execute in ways not followed: each
# passed. Written as one (in upper case) it is refused wherever it is, but in a message shown.
WRITTEN_SCHEMA_CHANGES = [
    "class K:\n    def __init__(self):\n        self.__dict__['q'] = 'DROP TABLE others'\n\n"
    "    def f(self, conn):\n        conn.execute(self.q)\n",
    "class K:\n    def __class_getitem__(cls, k):\n        return 'DROP TABLE others'\n\n\n"
    "def f(conn):\n    conn.execute(K[0])\n",
    "class C:\n    def __call__(self):\n        return 'ALTER TABLE others ADD COLUMN zz'\n\n\n"
    "def f(conn):\n    g = C()\n    conn.execute(g())\n",
    "def f(conn):\n    list(map(conn.execute, ['DROP VIEW IF EXISTS v']))\n",
    "import dataclasses\n\n\n@dataclasses.dataclass\nclass K:\n"
    "    q: str = dataclasses.field(default='CREATE INDEX zi ON others (code)')\n\n\n"
    "def f(conn):\n    conn.execute(K().q)\n",
    "import enum\n\n\nclass E(enum.Enum):\n    Q = 'CREATE TEMP TRIGGER zt AFTER INSERT ON others "
    "BEGIN SELECT 1; END'\n\n\ndef f(conn):\n    conn.execute(E['Q'].value)\n",
    "import operator\n\n\nclass K:\n    q = '  (DROP TABLE others'\n\n\n"
    "def f(conn):\n    conn.execute(operator.attrgetter('q')(K))\n",
]


@pytest.mark.parametrize("module", WRITTEN_SCHEMA_CHANGES)
def test_a_schema_change_written_anywhere_is_refused(project: Path, module: str) -> None:
    assert_refused(project, module, "(DROP|CREATE|ALTER) statement")


@pytest.mark.parametrize(
    "module",
    [
        "import re\n\n\ndef f(conn):\n    conn.execute(re.sub('_', ' ', 'DROP_TABLE_others'))\n",
        "import importlib\n\n\ndef f(conn):\n    conn.execute(importlib.import_module('base64')"
        ".b64decode(b'RFJPUCBUQUJMRSBvdGhlcnM=').decode())\n",
        "import array\n\n\ndef f(conn):\n"
        "    conn.execute(array.array('b', b'DROP TABLE others').tobytes().decode())\n",
        "import re\n\n\ndef f(conn):\n    import re\n"
        "    conn.execute(re.sub('_', ' ', 'DROP_TABLE_others'))\n",
    ],
)
def test_a_text_rewritten_or_imported_by_another_module_is_unread(
    project: Path, module: str
) -> None:
    assert_refused(project, module, "made of constants in a way the check does not read")


@pytest.mark.parametrize(
    "module",
    [
        "def f(conn):\n    print('DROP TABLE failed, try again')\n    conn.execute('SELECT 1')\n",
        "def f(conn):\n    raise ValueError('CREATE TABLE others is not allowed here')\n",
        "HELP = 'Drop table rows with the delete command'\n",
    ],
)
def test_a_message_written_as_a_schema_change_passes(project: Path, module: str) -> None:
    assert_passes(project, module)


# The same forms in lower or mixed case: refused only where followed to execute before.
LOWER_CASE_SCHEMA_CHANGES = [
    "import dataclasses\n\n\n@dataclasses.dataclass\nclass K:\n"
    "    q: str = dataclasses.field(default='drop table others')\n\n\n"
    "def f(conn):\n    conn.execute(K().q)\n",
    "class K:\n    def __init__(self):\n        self.__dict__['q'] = 'Drop Table others'\n\n"
    "    def f(self, conn):\n        conn.execute(self.q)\n",
    "import operator\n\n\nclass K:\n    q = 'alter table others rename to zz'\n\n\n"
    "def f(conn):\n    conn.execute(operator.attrgetter('q')(K))\n",
    "def f(conn):\n    list(map(conn.execute, ['create index zi on others (code)']))\n",
]


@pytest.mark.parametrize("module", LOWER_CASE_SCHEMA_CHANGES)
def test_a_schema_change_in_any_case_written_anywhere_is_refused(
    project: Path, module: str
) -> None:
    assert_refused(project, module, "(DROP|CREATE|ALTER) statement")


# A schema change bound to a function's own name, shown, or a docstring, then read back at
# run time: each passed (exit 0) before.
READ_BACK = [
    "def f(conn, k):\n    q = 'DROP TABLE others'\n    conn.execute(locals()[k])\n",
    "def f(conn):\n    q = 'DROP TABLE others'\n    for n, v in vars().items():\n"
    "        if n == 'q':\n            conn.execute(v)\n",
    "import sys\n\n\ndef f(conn):\n    q = 'DROP TABLE others'\n"
    "    conn.execute(sys._getframe().f_locals['q'])\n",
    "import inspect\n\n\ndef f(conn):\n    q = 'DROP TABLE others'\n"
    "    conn.execute(getattr(inspect.currentframe(), 'f_locals')['q'])\n",
    "import operator\n\n\ndef f(conn):\n    q = 'DROP TABLE others'\n"
    "    conn.execute(operator.itemgetter('q')(globals() | locals()))\n",
    "def g():\n    print('DROP TABLE others')\n\n\ndef f(conn):\n"
    "    conn.execute(g.__code__.co_consts[1])\n",
    'def g():\n    """DROP TABLE others"""\n\n\ndef f(conn):\n    conn.execute(g.__doc__)\n',
    "def g():\n    s = 'DROP TABLE others'\n\n    def h():\n        return len(s)\n\n"
    "    return h\n\n\ndef f(conn):\n    conn.execute(g().__closure__[0].cell_contents)\n",
    "def f(conn):\n    try:\n        q = 'DROP TABLE others'\n        raise ValueError(q)\n"
    "    except ValueError as exc:\n        conn.execute(exc.args[0])\n",
    "def f(conn):\n    try:\n        raise ValueError('DROP TABLE others')\n"
    "    except ValueError as exc:\n        conn.execute(str(exc))\n",
    "import contextlib\nimport io\n\n\ndef f(conn):\n    buf = io.StringIO()\n"
    "    with contextlib.redirect_stdout(buf):\n        print('DROP TABLE others')\n"
    "    conn.execute(buf.getvalue())\n",
    "def f(conn, buf):\n    q = 'DROP TABLE others'\n    print(q, file=buf)\n"
    "    conn.execute(buf.read())\n",
    "import sys\n\n\ndef f(conn):\n    try:\n        raise ValueError('DROP TABLE others')\n"
    "    except ValueError:\n        conn.execute(str(sys.exc_info()[1]))\n",
]


@pytest.mark.parametrize("module", READ_BACK)
def test_a_schema_change_read_back_at_run_time_is_refused(project: Path, module: str) -> None:
    assert_refused(project, module, r"line [2-8]: DROP statement")


# Not a schema change, read back the same ways: a lower-case ATTACH or VACUUM INTO shown, a
# docstring of a query calling a file function. Each passed (exit 0) before.
READ_BACK_TEXTS = [
    (
        "def f(conn):\n    try:\n        raise ValueError(\"attach 'x.db' as y\")\n"
        "    except ValueError as exc:\n        conn.execute(exc.args[0])\n",
        "ATTACH statement",
    ),
    (
        "import io\n\n\ndef f(conn):\n    buf = io.StringIO()\n"
        "    print(\"vacuum into 'x.db'\", end='', file=buf)\n    conn.execute(buf.getvalue())\n",
        "VACUUM INTO statement",
    ),
    (
        "def g():\n    print(\"attach 'x.db' as y\")\n\n\n"
        "def f(conn):\n    conn.execute(g.__code__.co_consts[1])\n",
        "ATTACH statement",
    ),
    (
        'def g():\n    """SELECT load_extension(\'x\')"""\n\n\n'
        "def f(conn):\n    conn.execute(g.__doc__)\n",
        "load_extension",
    ),
    (
        'def g():\n    """UPDATE sqlite_master SET sql = \'x\' WHERE 0"""\n\n\n'
        "def f(conn):\n    conn.execute(g.__doc__)\n",
        "sqlite_master may not be modified",
    ),
]


@pytest.mark.parametrize(("module", "said"), READ_BACK_TEXTS)
def test_a_text_read_back_at_run_time_is_held_to_what_it_does(
    project: Path, module: str, said: str
) -> None:
    (project / "database.py").write_text(module)
    try:
        found = " ".join(p.message for p in database_problems(project))
    except sqlfile.UnsafeQueryError as exc:
        found = str(exc)
    assert said in found


@pytest.mark.parametrize(
    "module",
    [
        "import sys\n\n\ndef f(conn):\n"
        "    print('DROP TABLE failed, try again', file=sys.stderr)\n"
        "    conn.execute('SELECT 1')\n",
        "def f(conn):\n    try:\n        conn.execute('SELECT code FROM others')\n"
        "    except ValueError as exc:\n"
        "        raise ValueError('CREATE TABLE others failed') from exc\n",
        "def f(conn, k):\n    q = 'SELECT code FROM others'\n    print(vars()[k])\n",
        "def f(conn):\n    try:\n        conn.execute('SELECT code FROM others')\n"
        '    except ValueError as exc:\n        print("attach failed: %s" % exc)\n'
        "    print('DROP TABLE failed, try again')\n",
        'def g():\n    """Drop table rows no longer used."""\n\n\n'
        "def f(conn):\n    print(g.__doc__)\n    conn.execute('SELECT code FROM others')\n",
    ],
)
def test_a_message_or_namespace_read_with_no_schema_change_passes(
    project: Path, module: str
) -> None:
    assert_passes(project, module)


@pytest.mark.parametrize(("module", "said"), CODED_OR_HIDDEN)
def test_a_statement_hidden_from_the_check_is_refused(
    project: Path, module: str, said: str
) -> None:
    assert_refused(project, module, said)


@pytest.mark.parametrize(
    ("module", "said"),
    [
        (  # was refused as its constants glued together; now the statement's own outcome
            "import codecs\n\n\ndef f(conn):\n"
            "    conn.execute(codecs.decode(b\"SELECT fts3_tokenizer('simple')\", 'utf-8'))\n",
            "not authorized to use function: fts3_tokenizer",
        ),
        (  # the codec's name was read glued onto the table's: sqlite_dbpageutf-8 passed
            "import codecs\n\n\ndef f(conn):\n"
            "    conn.execute(codecs.decode(b'SELECT * FROM sqlite_dbpage', 'utf-8'))\n",
            "no such table: sqlite_dbpage",
        ),
        (
            "from codecs import decode\n\n\ndef f(conn):\n"
            "    conn.execute(decode(\"FRYRPG ernqsvyr('/rgp/cnffjq')\", 'rot13'))\n",
            "function: readfile",
        ),
    ],
)
def test_a_statement_a_codec_makes_is_held_to_what_it_does(
    project: Path, module: str, said: str
) -> None:
    (project / "database.py").write_text(module)
    assert said in " ".join(p.message for p in database_problems(project))


@pytest.mark.parametrize(
    "module",
    [
        "import codecs\n\n\ndef f(conn):\n"
        "    conn.execute(codecs.decode('FRYRPG pbqr SEBZ bguref', 'rot13'))\n",
        "import codecs\n\n\ndef f(conn):\n"
        "    conn.execute(codecs.encode('SELECT code FROM others', 'utf-8').decode())\n",
        "import enum\n\n\nclass E(enum.Enum):\n    Q = 'SELECT code FROM others'\n\n\n"
        "def f(conn):\n    conn.execute(E.Q.value)\n",
        "def make():\n    return 'SELECT code FROM others'\n\n\ndef f(conn):\n"
        "    s = make()\n    conn.execute(s)\n",
        "import json\n\n\ndef f(conn, row):\n"
        "    conn.execute('SELECT code FROM others WHERE id = ?', (json.dumps(row),))\n",
        "class K:\n    def exec(self, conn):\n        conn.execute('SELECT code FROM others')\n\n"
        "    def f(self, conn):\n        self.exec(conn)\n",
    ],
)
def test_a_query_made_by_a_codec_or_an_enum_passes(project: Path, module: str) -> None:
    assert_passes(project, module)
