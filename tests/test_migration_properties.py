"""Property: any sequence of schema changes becomes migrations that keep every row.

Starting from the real orchestrator schema as migration 0001, Hypothesis draws a sequence of
changes of every kind ``migration new`` handles (CHECK widened, columns added at the end or in
the middle, dropped, renamed, reordered, NOT NULL relaxed, defaults and foreign-key actions
changed, types changed, tables created, dropped and renamed, indexes and triggers added and
dropped). After each one the schema file is rewritten, ``migration new`` writes the migration,
and it is applied as the runner applies it (foreign keys off outside the transaction) to a
database holding rows in every table, children of CASCADE and SET NULL parents included.
Every row must still be there with its values (new columns at their defaults), the foreign-key
and integrity checks clean, the database equal to a fresh one made from the schema, and the
chain accepted by the sync-check.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tac_bootstrap import chain, introspect
from tac_bootstrap.manifest import Agreement
from tac_bootstrap.newmigration import new_migration

SCHEMA = Path(__file__).parents[1] / "tac_bootstrap" / "orchestrator" / "schema_orchestrator.sql"
AGREEMENT = Agreement("models.py", "schema.sql", database="database.py", migrations="migrations")
Rows = dict[str, dict[str, dict[str, object]]]  # table -> id -> column -> value

settings.register_profile(
    "migrations",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FILL = """
INSERT INTO orchestrator_agents (id, name, description, status, metadata, created_at, updated_at)
VALUES ('oa1', 'planner', NULL, 'active', '{"k": 1}', 't0', 't0'),
       ('oa2', 'builder', 'second', 'archived', NULL, 't1', 't1');
INSERT INTO agents (id, orchestrator_agent_id, session_id, name, model, status, created_at)
VALUES ('a1', 'oa1', 's1', 'one', 'm', 'running', 't2'),
       ('a2', 'oa2', NULL, NULL, NULL, 'completed', 't3');
INSERT INTO prompts (id, agent_id, content, status, tokens_input, tokens_output, cost_usd,
                     created_at)
VALUES ('p1', 'a1', 'hello', 'completed', 10, 20, 1.5, 't4'),
       ('p2', 'a2', 'again', 'pending', 0, 0, 0.0, 't5');
INSERT INTO agent_logs (id, agent_id, log_type, message, metadata, created_at)
VALUES ('l1', 'a1', 'event', 'started', '{"a": [1, 2]}', 't6'),
       ('l2', 'a2', 'error', 'failed', NULL, 't7');
INSERT INTO system_logs (id, log_level, message, source, metadata, created_at)
VALUES ('s1', 'info', 'up', 'main', NULL, 't8');
INSERT INTO orchestrator_chat (id, orchestrator_agent_id, sender_type, receiver_type, message,
                                agent_id, created_at, updated_at)
VALUES ('c1', 'oa1', 'user', 'agent', 'hi', 'a1', 't9', 't9'),
       ('c2', 'oa2', 'orchestrator', 'user', 'yo', NULL, 't10', 't10');
INSERT INTO ai_developer_workflows (id, orchestrator_agent_id, adw_name, workflow_type, status,
                                    total_steps, duration_seconds, created_at, updated_at)
VALUES ('w1', 'oa1', 'build', 'plan', 'completed', 3, 2.5, 't11', 't11'),
       ('w2', NULL, 'lint', 'check', 'pending', 0, NULL, 't12', 't12');
"""

# 't3' stands for a timestamp the schema accepts: 2024-01-01T00:00:03.000+00:00.
FILL = re.sub(r"'t(\d+)'", lambda m: f"'2024-01-01T00:00:{int(m[1]):02d}.000+00:00'", FILL)


@dataclass
class Doc:
    """A schema as the person edits it: column definitions per table, indexes, triggers."""

    tables: dict[str, list[str]]
    indexes: dict[str, str]
    triggers: dict[str, str]
    renames: list[str] = field(default_factory=list)
    lossy: bool = False

    def render(self, version: int) -> str:
        parts = [f"PRAGMA foreign_keys = ON;\nPRAGMA user_version = {version};\n"]
        parts += [
            f"CREATE TABLE {name} (\n    " + ",\n    ".join(defs) + "\n);\n"
            for name, defs in self.tables.items()
        ]
        parts += [sql + ";\n" for sql in [*self.indexes.values(), *self.triggers.values()]]
        return "\n".join(parts)


def initial_doc() -> Doc:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA.read_text())
    doc = Doc({}, {}, {})
    for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY rowid"):
        if kind == "table":
            _, parts, _ = introspect.definitions(sql)
            doc.tables[name] = [" ".join(sql[a:b].split()) for a, b in parts]
        elif kind == "index" and sql:
            doc.indexes[name] = sql
        elif kind == "trigger":
            doc.triggers[name] = sql
    conn.close()
    return doc


def column(definition: str) -> str:
    return definition.split()[0]


def words(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def free_columns(doc: Doc, table: str) -> list[str]:
    """Columns nothing else names: no key, no reference, no index, no trigger."""
    elsewhere = " ".join([*doc.indexes.values(), *doc.triggers.values()])
    return [
        column(d)
        for d in doc.tables[table][1:]
        if "REFERENCES" not in d and "PRIMARY" not in d and not words(elsewhere, column(d))
    ]


@dataclass
class Step:
    """One change to draw: the schema, the rows it must keep, the draws, the migration number."""

    doc: Doc
    rows: Rows
    data: st.DataObject
    n: int


Change = Callable[[Step], None]


def widen_check(step: Step) -> None:
    table, i = step.data.draw(st.sampled_from(where(step.doc, lambda d: " IN (" in d)))
    step.doc.tables[table][i] = re.sub(
        r" IN \(([^)]*)\)", rf" IN (\1, 'x{step.n}')", step.doc.tables[table][i]
    )


def add_column_at_end(step: Step) -> None:
    table = step.data.draw(st.sampled_from(sorted(step.doc.tables)))
    nullable = step.data.draw(st.booleans())
    step.doc.tables[table].append(
        f"c{step.n} TEXT" if nullable else f"c{step.n} INTEGER NOT NULL DEFAULT {step.n}"
    )
    for row in step.rows[table].values():
        row[f"c{step.n}"] = None if nullable else step.n


def add_column_in_the_middle(step: Step) -> None:
    table = step.data.draw(st.sampled_from(sorted(step.doc.tables)))
    at = step.data.draw(st.integers(1, len(step.doc.tables[table]) - 1))
    step.doc.tables[table].insert(
        at, f"c{step.n} TEXT NOT NULL DEFAULT 'd{step.n}' CHECK (c{step.n} <> '')"
    )
    for row in step.rows[table].values():
        row[f"c{step.n}"] = f"d{step.n}"


def drop_column(step: Step) -> None:
    table, name = step.data.draw(st.sampled_from(free(step.doc)))
    step.doc.tables[table] = [d for d in step.doc.tables[table] if column(d) != name]
    for row in step.rows[table].values():
        del row[name]


def rename_column(step: Step) -> None:
    table, name = step.data.draw(st.sampled_from(free(step.doc)))
    new = f"{name}_r{step.n}"
    step.doc.tables[table] = [
        re.sub(rf"\b{name}\b", new, d) if column(d) == name else d for d in step.doc.tables[table]
    ]
    step.doc.renames.append(f"{table}.{name}:{new}")
    for row in step.rows[table].values():
        row[new] = row.pop(name)


def rename_table(step: Step) -> None:
    table = step.data.draw(st.sampled_from(sorted(step.doc.tables)))
    new = f"{table}_r{step.n}"

    def swap(text: str) -> str:
        return re.sub(rf"\b{table}\b", new, text)

    step.doc.tables = {swap(k): [swap(d) for d in v] for k, v in step.doc.tables.items()}
    step.doc.indexes = {k: swap(v) for k, v in step.doc.indexes.items()}
    step.doc.triggers = {k: swap(v) for k, v in step.doc.triggers.items()}
    step.doc.renames.append(f"{table}:{new}")
    step.rows[new] = step.rows.pop(table)


def change_default(step: Step) -> None:
    table, i = step.data.draw(
        st.sampled_from(where(step.doc, lambda d: re.search(r"DEFAULT \d", d)))
    )
    step.doc.tables[table][i] = re.sub(
        r"DEFAULT [\d.]+", f"DEFAULT {step.n + 100}", step.doc.tables[table][i]
    )


def change_fk_action(step: Step) -> None:
    table, i = step.data.draw(st.sampled_from(where(step.doc, lambda d: "ON DELETE" in d)))
    action = re.compile(r"ON DELETE (CASCADE|SET NULL|SET DEFAULT|RESTRICT|NO ACTION)")
    match = action.search(step.doc.tables[table][i])
    assert match is not None
    choices = ["CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"]
    new = step.data.draw(st.sampled_from([c for c in choices if c != match[1]]))
    step.doc.tables[table][i] = action.sub(f"ON DELETE {new}", step.doc.tables[table][i])


NULLABLE = re.compile(r"^(\w+ \w+) NOT NULL")


def relax_not_null(step: Step) -> None:
    candidates = where(step.doc, lambda d: NULLABLE.match(d) and "PRIMARY" not in d)
    table, i = step.data.draw(st.sampled_from(candidates))
    step.doc.tables[table][i] = NULLABLE.sub(r"\1", step.doc.tables[table][i])


def reorder_columns(step: Step) -> None:
    table = step.data.draw(st.sampled_from(reorderable(step.doc)))
    defs = step.doc.tables[table]
    i, j = step.data.draw(
        st.lists(st.integers(1, len(defs) - 1), min_size=2, max_size=2, unique=True)
    )
    defs[i], defs[j] = defs[j], defs[i]


TYPES = {"INTEGER": "NUMERIC", "TEXT": "BLOB", "REAL": "INTEGER"}


def change_type(step: Step) -> None:
    table, i = step.data.draw(st.sampled_from(where(step.doc, lambda d: d.split()[1] in TYPES)))
    name, old = step.doc.tables[table][i].split()[:2]
    step.doc.tables[table][i] = step.doc.tables[table][i].replace(
        f"{name} {old}", f"{name} {TYPES[old]}", 1
    )
    step.doc.lossy = old == "REAL"  # REAL to INTEGER: refused without --allow-lossy


def add_index(step: Step) -> None:
    table = step.data.draw(st.sampled_from(sorted(step.doc.tables)))
    name = column(step.data.draw(st.sampled_from(step.doc.tables[table])))
    unique = "UNIQUE " if name == "id" else ""
    step.doc.indexes[f"idx_p{step.n}"] = (
        f"CREATE {unique}INDEX idx_p{step.n} ON {table} ({name}) WHERE {name} IS NOT NULL"
    )


def drop_index(step: Step) -> None:
    del step.doc.indexes[step.data.draw(st.sampled_from(sorted(step.doc.indexes)))]


def add_trigger(step: Step) -> None:
    table = step.data.draw(st.sampled_from(sorted(step.doc.tables)))
    step.doc.triggers[f"trg_p{step.n}"] = (
        f"CREATE TRIGGER trg_p{step.n} BEFORE DELETE ON {table} FOR EACH ROW BEGIN SELECT 1; END"
    )


def drop_trigger(step: Step) -> None:
    del step.doc.triggers[step.data.draw(st.sampled_from(sorted(step.doc.triggers)))]


def create_table(step: Step) -> None:
    parent = step.data.draw(st.sampled_from(sorted(step.doc.tables)))
    step.doc.tables[f"extra{step.n}"] = [
        "id TEXT NOT NULL PRIMARY KEY",
        f"parent_id TEXT REFERENCES {parent} (id) ON DELETE CASCADE",
    ]
    step.rows[f"extra{step.n}"] = {}


def drop_table(step: Step) -> None:
    table = step.data.draw(st.sampled_from(leaves(step.doc)))
    del step.doc.tables[table]
    step.doc.indexes = {k: v for k, v in step.doc.indexes.items() if not words(v, table)}
    step.doc.triggers = {k: v for k, v in step.doc.triggers.items() if not words(v, table)}
    del step.rows[table]


def where(doc: Doc, test: Callable[[str], object]) -> list[tuple[str, int]]:
    return [(t, i) for t, defs in doc.tables.items() for i, d in enumerate(defs) if test(d)]


def reorderable(doc: Doc) -> list[str]:
    """Tables with two definitions after the first to swap (a new table may have only one)."""
    return sorted(t for t, defs in doc.tables.items() if len(defs) > 2)


def free(doc: Doc) -> list[tuple[str, str]]:
    return [(t, c) for t in doc.tables for c in free_columns(doc, t)]


def leaves(doc: Doc) -> list[str]:
    """Tables no other table references."""
    return [
        t
        for t in doc.tables
        if not any(words(" ".join(d), t) for o, d in doc.tables.items() if o != t)
    ]


def applicable(doc: Doc) -> list[Change]:
    """The kinds of change the current schema allows."""
    changes: list[Change] = [
        add_column_at_end,
        add_column_in_the_middle,
        rename_table,
        add_index,
        add_trigger,
        create_table,
    ]
    checks = {
        reorder_columns: reorderable(doc),
        widen_check: where(doc, lambda d: " IN (" in d),
        drop_column: free(doc),
        rename_column: free(doc),
        change_default: where(doc, lambda d: re.search(r"DEFAULT \d", d)),
        change_fk_action: where(doc, lambda d: "ON DELETE" in d),
        relax_not_null: where(doc, lambda d: NULLABLE.match(d) and "PRIMARY" not in d),
        change_type: where(doc, lambda d: d.split()[1] in TYPES),
        drop_index: list(doc.indexes),
        drop_trigger: list(doc.triggers),
        drop_table: leaves(doc),
    }
    return [change for change, options in checks.items() if options] + changes


def make_project(root: Path, doc: Doc) -> None:
    (root / "migrations").mkdir()
    (root / "pyproject.toml").write_text(
        '[tool.tac-bootstrap.sync.agreement]\nmodels = "models.py"\nschema = "schema.sql"\n'
        'database = "database.py"\nmigrations = "migrations"\n'
    )
    (root / "migrations" / "0001_initial.sql").write_text(doc.render(1))
    (root / "schema.sql").write_text(doc.render(1))
    (root / "database.py").write_text("SCHEMA_VERSION = 1\n")


def read_rows(conn: sqlite3.Connection) -> Rows:
    conn.row_factory = sqlite3.Row
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    found = {}
    for table in tables:
        query = f'SELECT * FROM "{table}"'  # noqa: S608 - a table name read from sqlite_schema
        found[table] = {r["id"]: dict(r) for r in conn.execute(query)}
    conn.row_factory = None
    return found


def apply_like_the_runner(conn: sqlite3.Connection, sql: str) -> None:
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.executescript("BEGIN IMMEDIATE;\n" + sql)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys = ON")


@settings(settings.get_profile("migrations"))
@given(st.data())
def test_every_sequence_of_changes_keeps_every_row(data: st.DataObject) -> None:
    doc = initial_doc()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, doc)
        conn = sqlite3.connect(root / "app.db", isolation_level=None)
        conn.execute("PRAGMA synchronous = OFF")  # a test file: no need to wait for the disk
        conn.executescript(doc.render(1) + FILL)
        rows = read_rows(conn)
        try:
            for number in range(2, data.draw(st.integers(2, 4), label="migrations") + 1):
                change = data.draw(st.sampled_from(applicable(doc)), label="change")
                doc.renames, doc.lossy = [], False
                change(Step(doc, rows, data, number))
                (root / "schema.sql").write_text(doc.render(number))
                result = new_migration(
                    root, f"step_{number}", renames=doc.renames, allow_lossy=doc.lossy
                )
                assert result.number == number, result
                apply_like_the_runner(conn, result.sql)
                assert read_rows(conn) == rows
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                fresh = introspect.load_schema(doc.render(number))
                assert introspect.differences(introspect.introspect(conn), fresh) == []
                assert chain.check_migrations(root, AGREEMENT) == []
        finally:
            conn.close()
