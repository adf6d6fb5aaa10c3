"""The schema's Mermaid erDiagram: drawn from SQLite's view of the schema, checked, rewritten."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tac_bootstrap import diagram
from tac_bootstrap.diagram import END, START, DiagramError, block, erdiagram
from tac_bootstrap.scaffold import render_project
from tac_bootstrap.spec import ProjectSpec

REPO = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).with_name("tac-bootstrap")
SCHEMA = """
PRAGMA foreign_keys = ON;
CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE people (
    id TEXT NOT NULL PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    mentor_id TEXT REFERENCES people (id) ON DELETE SET NULL,
    height DOUBLE PRECISION,
    notes
);
CREATE TABLE "team members" (
    team_id INTEGER NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (team_id, person_id),
    FOREIGN KEY (team_id) REFERENCES teams (id),
    FOREIGN KEY (person_id) REFERENCES people (id)
);
CREATE TABLE visits (
    team_id INTEGER, person_id TEXT,
    FOREIGN KEY (team_id, person_id) REFERENCES "team members" (team_id, person_id)
);
CREATE INDEX idx_people_team ON people (team_id);
"""

DRAWN = """\
erDiagram
    teams {
        INTEGER id PK
        TEXT name
    }
    people {
        TEXT id PK
        INTEGER team_id FK
        TEXT mentor_id FK
        DOUBLE_PRECISION height
        ANY notes
    }
    "team members" {
        INTEGER team_id PK, FK
        TEXT person_id PK, FK
    }
    visits {
        INTEGER team_id FK
        TEXT person_id FK
    }
    teams ||--o{ people : "team_id"
    people |o--o{ people : "mentor_id"
    teams ||--o{ "team members" : "team_id"
    people ||--o{ "team members" : "person_id"
    "team members" |o--o{ visits : "team_id, person_id"
"""


def test_a_schema_is_drawn_as_sqlite_reads_it() -> None:
    assert erdiagram(SCHEMA) == DRAWN


def test_the_block_is_a_fenced_mermaid_diagram_between_the_markers() -> None:
    assert block(SCHEMA) == f"{START}\n```mermaid\n{DRAWN}```\n{END}"


def test_a_schema_that_does_not_load_cannot_be_drawn() -> None:
    with pytest.raises(DiagramError, match="the schema does not load into SQLite"):
        erdiagram("CREATE TABLE broken (")


def test_rewrite_replaces_the_block_and_nothing_else() -> None:
    text = f"# Title\n\nBefore.\n\n{START}\nold diagram\n{END}\n\nAfter: {END}\n"
    assert diagram.rewrite(text, SCHEMA) == (
        f"# Title\n\nBefore.\n\n{block(SCHEMA)}\n\nAfter: {END}\n"
    )


@pytest.mark.parametrize("text", ["no markers\n", f"{START}\nno end\n", f"{END}\n{START}\n"])
def test_rewrite_refuses_a_text_without_a_block(text: str) -> None:
    with pytest.raises(DiagramError, match="no diagram to rewrite"):
        diagram.rewrite(text, SCHEMA)


def test_check_accepts_the_schemas_own_diagram() -> None:
    assert diagram.check(f"# x\n\n{block(SCHEMA)}\n", SCHEMA, "README.md", "s.sql") is None


def test_check_names_the_line_where_an_out_of_date_diagram_differs() -> None:
    text = f"# x\n\n{block(SCHEMA)}\n"
    changed = SCHEMA.replace("name TEXT NOT NULL", "name TEXT NOT NULL, motto TEXT")
    problem = diagram.check(text, changed, "README.md", "s.sql")
    assert problem is not None
    assert (problem.kind, problem.path) == ("diagram", "README.md")
    assert problem.message.startswith("the erDiagram is out of date: s.sql has changed")
    assert text.splitlines()[problem.line - 1 if problem.line else 0] == "    }"
    assert "+        TEXT motto\n" in problem.diff


def test_check_reports_a_missing_block() -> None:
    problem = diagram.check("# x\n", SCHEMA, "README.md", "s.sql")
    assert problem is not None
    assert problem.kind == "diagram"
    assert "block is missing" in problem.message


def test_the_generated_readme_carries_the_diagram_of_the_generated_schema() -> None:
    files = render_project(ProjectSpec.build("my-app", with_orchestrator=True))
    schema = files["src/my_app/schema_orchestrator.sql"].decode()
    readme = files["README.md"].decode()
    assert block(schema) in readme
    assert diagram.check(readme, schema, "README.md", "schema.sql") is None


def test_the_diagram_draws_every_table_and_foreign_key_of_the_base_schema() -> None:
    schema = (REPO / "tac_bootstrap/orchestrator/schema_orchestrator.sql").read_text("utf-8")
    drawn = erdiagram(schema)
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.executescript(schema)
        names = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall()
        for (table,) in names:
            assert f"    {table} {{\n" in drawn
            for parent, column in conn.execute(
                'SELECT "table", "from" FROM pragma_foreign_key_list(?)', (table,)
            ):
                assert re.search(rf'{parent} \|[|o]--o\{{ {table} : "{column}"', drawn)


@pytest.mark.parametrize(
    "sql",
    [
        f'CREATE TABLE "{END}" (id INTEGER PRIMARY KEY);',
        f'CREATE TABLE t (id INTEGER PRIMARY KEY, "{END}" TEXT);',
        f'CREATE TABLE p (id TEXT PRIMARY KEY);\nCREATE TABLE t ("{END}" TEXT REFERENCES p(id));',
    ],
)
def test_a_name_holding_the_end_marker_is_refused_not_drawn(sql: str) -> None:
    # Drawn, it ended the block early: each sync wrote it again and sync-check never passed.
    text = f"# x\n\n{START}\nold\n{END}\n\nKept.\n"
    with pytest.raises(DiagramError, match="holds <!-- erdiagram:end -->: the diagram's block"):
        diagram.rewrite(text, sql)
    problem = diagram.check(text, sql, "README.md", "s.sql")
    assert problem is not None
    assert (problem.kind, problem.path) == ("diagram", "README.md")
    assert problem.message.startswith("a table or column name of the schema holds")


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ('CREATE TABLE "a""b" (id INTEGER);', "the table 'a\"b'"),
        ('CREATE TABLE "a\n```\nb" (id INTEGER);', "the table 'a\\n```\\nb'"),
        ('CREATE TABLE "100%" (id INTEGER);', "the table '100%'"),
        ('CREATE TABLE "a\\b" (id INTEGER);', "the table 'a\\\\b'"),
        ('CREATE TABLE t ("a b" TEXT);', "the column 'a b'"),
        ('CREATE TABLE t ("a\n    }\nx" TEXT);', "the column 'a\\n    }\\nx'"),
        ('CREATE TABLE t ("a""" TEXT);', "the column 'a\"'"),
        # Mermaid's lexer reads these as a key mark, or as the diagram's direction.
        ("CREATE TABLE t (pk TEXT);", "the column 'pk'"),
        ("CREATE TABLE t (Fk TEXT);", "the column 'Fk'"),
        ('CREATE TABLE t ("UK-x" TEXT);', "the column 'UK-x'"),
        ('CREATE TABLE "a direction TB" (id INTEGER);', "the table 'a direction TB'"),
    ],
)
def test_a_name_mermaid_cannot_read_is_refused_not_drawn(sql: str, what: str) -> None:
    # Drawn raw, a quote or a line break ended the name, the entity or the block early.
    text = f"# x\n\n{START}\nold\n{END}\n\nKept.\n"
    with pytest.raises(diagram.UndrawableNameError, match=re.escape(what)):
        diagram.rewrite(text, sql)
    problem = diagram.check(text, sql, "README.md", "s.sql")
    assert problem is not None
    assert problem.message.startswith(f"{what} cannot be drawn in Mermaid's erDiagram")


@pytest.mark.parametrize("name", ["one", "MANY", "to", "end", "erDiagram", "class", "Style", "u-x"])
def test_a_table_named_like_a_mermaid_keyword_is_drawn_in_quotes(name: str) -> None:
    # Plain, Mermaid's lexer read the name as a keyword (a cardinality, `end`, `class`):
    # the README's diagram did not parse, and sync-check passed it.
    sql = f'CREATE TABLE "{name}" (id TEXT PRIMARY KEY, k PK, f "fk(1)");'
    sql += f'CREATE TABLE c (id TEXT PRIMARY KEY, p TEXT REFERENCES "{name}" (id));'
    drawn = erdiagram(sql)
    assert f'    "{name}" {{\n        TEXT id PK\n        _PK k\n        _fk(1) f\n' in drawn
    assert f'    "{name}" |o--o{{ c : "p"\n' in drawn
    assert all(_LINES.fullmatch(line) for line in drawn.splitlines())


def test_a_table_whose_name_only_starts_like_a_keyword_stays_plain() -> None:
    drawn = erdiagram("CREATE TABLE tokens (id TEXT); CREATE TABLE one_x (id TEXT);")
    assert "    tokens {\n" in drawn
    assert "    one_x {\n" in drawn


def test_a_type_mermaid_cannot_read_is_drawn_as_one_word() -> None:
    sql = 'CREATE TABLE t (a DECIMAL(10, 2), b "we""ird", c VARCHAR(5), d "9x")'
    assert erdiagram(sql) == (
        "erDiagram\n    t {\n        DECIMAL(10__2) a\n        we_ird b\n"
        "        VARCHAR(5) c\n        _9x d\n    }\n"
    )


# One line of the drawn block, as Mermaid's erDiagram lexer reads it (erDiagram.jison).
_ENTITY = r'(?:[A-Za-z_][A-Za-z0-9_-]*|"[^"%\\\r\n\x00-\x1f]+")'
_WORD = r"[A-Za-z_\u00c0-\uffff][A-Za-z0-9_\-\[\]()\u00c0-\uffff]*"
_LINES = re.compile(
    rf"erDiagram|    {_ENTITY} \{{|        {_WORD} {_WORD}(?: PK| FK| PK, FK)?|    \}}"
    rf'|    {_ENTITY} \|[|o]--o\{{ {_ENTITY} : "[^"\n]*"'
)


def test_sync_draws_a_hostile_schema_into_a_well_formed_readme(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "tac_bootstrap/orchestrator", root / "pkg")
    (root / "pyproject.toml").write_text(
        '[tool.tac-bootstrap.sync.agreement]\nmodels = "pkg/orch_database_models.py"\n'
        'schema = "pkg/schema_orchestrator.sql"\ndiagram = "README.md"\n'
    )
    readme = root / "README.md"
    readme.write_text(f"# x\n\n{START}\n{END}\n\nKept.\n")
    schema = root / "pkg/schema_orchestrator.sql"
    drawable = (
        'CREATE TABLE "team members <!-- x --> ```" (id INTEGER PRIMARY KEY, größe REAL,'
        ' "a-b" "DECIMAL(10,\n2)", agent_id TEXT REFERENCES agents (id));\n'
    )
    schema.write_text(schema.read_text() + drawable)
    proc = subprocess.run(
        [EXE, "sync", "--root", root], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    text = readme.read_text()
    assert text.startswith(f"# x\n\n{START}\n```mermaid\n")
    assert text.endswith(f"```\n{END}\n\nKept.\n")
    assert text.count("```mermaid") == 1
    assert text.count(END) == 1
    body = text.split("```mermaid\n")[1].split("\n```\n")[0]
    assert [line for line in body.split("\n") if not _LINES.fullmatch(line)] == []
    assert '    "team members <!-- x --> ```" {' in body.split("\n")
    for hostile, message in (
        ('"x""\n```\n<!-- erdiagram:end -->\n# injected"', "holds <!-- erdiagram:end -->"),
        ('"a\n# injected"', "cannot be drawn in Mermaid's erDiagram"),
        ('"a"" {"', "cannot be drawn in Mermaid's erDiagram"),
    ):
        before = text
        schema.write_text(schema.read_text() + f"CREATE TABLE t (id INTEGER, {hostile} TEXT);\n")
        proc = subprocess.run(
            [EXE, "sync", "--root", root], capture_output=True, text=True, check=False
        )
        assert proc.returncode != 0
        assert message in proc.stdout + proc.stderr
        assert readme.read_text() == before
        schema.write_text(schema.read_text().rsplit("CREATE TABLE t (", 1)[0])


def test_a_readme_with_windows_line_ends_is_up_to_date_and_keeps_them() -> None:
    # A checkout with git's core.autocrlf: the block was "out of date" for its \r\n alone, and
    # sync wrote \n lines into the \r\n file.
    sql = "CREATE TABLE t (id INTEGER PRIMARY KEY);"
    text = f"# x\n\n{block(sql)}\n\nKept.\n".replace("\n", "\r\n")
    assert diagram.check(text, sql, "README.md", "s.sql") is None
    redrawn = diagram.rewrite(text, sql + "CREATE TABLE u (id INTEGER PRIMARY KEY);")
    assert "    u {\r\n" in redrawn
    assert "\n" not in redrawn.replace("\r\n", "")
    assert diagram.check(redrawn, sql, "README.md", "s.sql") is not None


def test_a_readme_whose_lines_end_in_a_lone_carriage_return_is_told_so() -> None:
    # The drawing was right and only some line ends were a lone \r: it was said that the schema
    # "has changed since it was drawn".
    sql = "CREATE TABLE t (id INTEGER PRIMARY KEY);"
    text = f"# x\n\n{block(sql)}\n".replace("erDiagram\n", "erDiagram\r")
    problem = diagram.check(text, sql, "README.md", "s.sql")
    assert problem is not None
    assert problem.message == (
        "the erDiagram is out of date: its lines are as drawn, but some end in a lone carriage "
        "return (\\r); `tac-bootstrap sync` redraws it"
    )
