"""Plan the SQL that takes a database from one schema to another, the way SQLite needs it.

Each change gets the cheapest correct statement: CREATE and DROP for tables, indexes, triggers
and views; ``ALTER TABLE … ADD COLUMN`` where SQLite allows it; ``RENAME TO`` and
``RENAME COLUMN`` when asked. Everything else rebuilds the table by SQLite's documented
procedure: create the new table under a spare name, copy the columns both versions have, drop
the old table, rename the new one, then recreate its indexes and triggers. The rebuild relies on
the migration runner's protocol: ``foreign_keys`` off outside the transaction (so that dropping
a parent deletes no child row), ``PRAGMA foreign_key_check`` before the commit.

What cannot be decided safely is refused with a question (:class:`MigrationRefusedError`).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

from tac_bootstrap import introspect, sqlcheck
from tac_bootstrap.errors import InvalidInputError, TacBootstrapError
from tac_bootstrap.introspect import Column, Schema, Table

_KEYWORDS = frozenset(
    """ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE
    BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE
    CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE
    DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE
    EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS
    HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS
    ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL
    NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY
    RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING
    RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION
    TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW
    WITH WITHOUT""".split()  # noqa: SIM905 - SQLite's keyword list, as its docs print it
)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Affinity changes that keep every value: the new column stores what the old one held as is,
# or converts it exactly (an integer to its decimal text).
_LOSSLESS = {("INTEGER", "NUMERIC"), ("INTEGER", "TEXT")}


class MigrationRefusedError(TacBootstrapError):
    """A change cannot be turned into SQL safely without an answer from the person."""


def quote(name: str) -> str:
    """Return a name as SQL: bare when it can be, else in double quotes."""
    if _PLAIN_NAME.fullmatch(name) and name.upper() not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Rename:
    """``--rename TABLE.OLD:NEW`` (a column) or ``--rename OLD:NEW`` (a table)."""

    table: str | None
    old: str
    new: str

    @classmethod
    def parse(cls, text: str) -> Rename:
        """Parse one ``--rename`` value.

        Raises:
            InvalidInputError: Not ``TABLE.OLD:NEW`` or ``OLD:NEW``.
        """
        old, colon, new = text.partition(":")
        table, dot, column = old.rpartition(".")
        if not colon or not new or not old or (dot and not (table and column)):
            msg = f"--rename {text!r}: expected TABLE.OLD:NEW (a column) or OLD:NEW (a table)"
            raise InvalidInputError(msg)
        return cls(table or None, column if dot else old, new)

    def __str__(self) -> str:
        return f"{self.table}.{self.old}:{self.new}" if self.table else f"{self.old}:{self.new}"


@dataclass
class Plan:
    """The statements of a migration, in order, and what they do in words."""

    statements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, note: str, *statements: str) -> None:
        """Record one change: its description and its statements."""
        self.notes.append(note)
        self.statements.extend(statements)


def plan(
    conn: sqlite3.Connection, target: Schema, renames: list[Rename], *, allow_lossy: bool
) -> Plan:
    """Plan the statements that take ``conn``'s database to ``target``.

    ``conn`` holds the migrations' database; the renames are applied to it as they are
    planned, so the rest of the plan compares names as they will be.

    Raises:
        InvalidInputError: A ``--rename`` names what is not there.
        MigrationRefusedError: A change that needs a decision (see the module docstring).
    """
    result = Plan()
    _renames(conn, target, renames, result)
    current = introspect.introspect(conn)
    _refuse_ambiguous(current, target)
    rebuilt, added = _tables(current, target, allow_lossy=allow_lossy)
    dependents = _dependents(current, target, {t.lower() for t in rebuilt})
    _drop_objects(current, target, rebuilt, dependents, result)
    for key, gone in current.tables.items():
        if key not in target.tables:
            result.add(
                f"drops table {gone.name} and every row in it", f"DROP TABLE {quote(gone.name)};"
            )
    for key, table in target.tables.items():
        if key not in current.tables:
            result.add(f"creates table {table.name}", _statement(table.sql))
    for name, columns in added.items():
        for column in columns:
            result.add(
                f"adds column {name}.{column.name} ({column.definition})",
                f"ALTER TABLE {quote(name)} ADD COLUMN {column.source};",
            )
    for key, reasons in rebuilt.items():
        _rebuild(current, current.tables[key], target.tables[key], reasons, result)
    _create_objects(current, target, rebuilt, dependents, result)
    return result


def _statement(sql: str) -> str:
    """Return a stored CREATE statement as a statement of the migration."""
    return sql.strip().rstrip(";") + ";"


def _renames(conn: sqlite3.Connection, target: Schema, renames: list[Rename], result: Plan) -> None:
    """Apply the requested renames to ``conn`` (tables first) and record their statements."""
    for rename in sorted(renames, key=lambda r: r.table is not None):
        current = introspect.introspect(conn)
        if rename.table is None:
            statement = _rename_table(current, target, rename)
            note = f"renames table {rename.old} to {rename.new}"
        else:
            statement = _rename_column(current, target, rename)
            note = f"renames column {rename.table}.{rename.old} to {rename.new}"
        try:
            conn.execute(statement)
        except sqlite3.Error as exc:  # a view or trigger of the chain SQLite cannot rewrite
            msg = f"--rename {rename}: SQLite cannot rename it in what the migrations build: {exc}"
            raise MigrationRefusedError(msg) from None
        result.add(note, statement)


def _rename_table(current: Schema, target: Schema, rename: Rename) -> str:
    """Return the ``ALTER TABLE … RENAME TO`` of a table rename, after checking it applies."""
    if rename.old.lower() not in current.tables:
        msg = f"--rename {rename}: the migrations build no table {rename.old}"
        raise InvalidInputError(msg)
    if rename.new.lower() not in target.tables or rename.new.lower() in current.tables:
        msg = f"--rename {rename}: the schema has no new table {rename.new}"
        raise InvalidInputError(msg)
    return f"ALTER TABLE {quote(rename.old)} RENAME TO {quote(rename.new)};"


def _rename_column(current: Schema, target: Schema, rename: Rename) -> str:
    """Return the ``ALTER TABLE … RENAME COLUMN`` of a column rename, after checking it applies."""
    assert rename.table is not None  # noqa: S101 - the caller sorts table renames apart
    table = current.tables.get(rename.table.lower())
    wanted = target.tables.get(rename.table.lower())
    if table is None or table.column(rename.old) is None:
        msg = f"--rename {rename}: the migrations build no column {rename.table}.{rename.old}"
        raise InvalidInputError(msg)
    if wanted is None or wanted.column(rename.new) is None or table.column(rename.new):
        msg = f"--rename {rename}: the schema has no new column {rename.table}.{rename.new}"
        raise InvalidInputError(msg)
    return (
        f"ALTER TABLE {quote(table.name)} RENAME COLUMN {quote(rename.old)} TO {quote(rename.new)};"
    )


def _refuse_ambiguous(current: Schema, target: Schema) -> None:
    """Refuse a table or column that disappeared while another appeared: rename or replace?

    The requested renames are applied before, so what is left is what nobody answered.
    """
    gone = [t.name for k, t in current.tables.items() if k not in target.tables]
    new = [t.name for k, t in target.tables.items() if k not in current.tables]
    if gone and new:
        _ask(gone[0], new[0], f"--rename {gone[0]}:{new[0]}", "table")
    for key, table in target.tables.items():
        old = current.tables.get(key)
        if old is None:
            continue
        gone = [c.name for c in old.columns if table.column(c.name) is None]
        new = [c.name for c in table.columns if old.column(c.name) is None]
        if gone and new:
            t = table.name
            _ask(f"{t}.{gone[0]}", f"{t}.{new[0]}", f"--rename {t}.{gone[0]}:{new[0]}", "column")


def _ask(gone: str, new: str, option: str, kind: str) -> None:
    """Raise the rename-or-replace question."""
    msg = (
        f"{kind} {gone} is gone and {kind} {new} is new: was it renamed? If so, say so with "
        f"{option}. If it was dropped and another added, make two migrations: one without "
        f"{gone}, then one with {new}"
    )
    raise MigrationRefusedError(msg)


def _tables(
    current: Schema, target: Schema, *, allow_lossy: bool
) -> tuple[dict[str, list[str]], dict[str, list[Column]]]:
    """Sort the changed tables: those to rebuild (with why) and the columns to add in place."""
    rebuilt: dict[str, list[str]] = {}
    added: dict[str, list[Column]] = {}
    for key, table in target.tables.items():
        old = current.tables.get(key)
        if old is None or old == table:
            continue
        new_columns = [c for c in table.columns if old.column(c.name) is None]
        for column in new_columns:
            _refuse_new_not_null(table, column)
        for column in old.columns:
            _refuse_lossy(table, column, table.column(column.name), allow_lossy=allow_lossy)
        if _addable(old, table, new_columns):
            added[table.name] = new_columns
        else:
            rebuilt[key] = _reasons(old, table)
    return rebuilt, added


def _refuse_new_not_null(table: Table, column: Column) -> None:
    """Refuse a new NOT NULL column without a default: what would the existing rows hold?"""
    if column.notnull and column.default is None and not column.generated:
        msg = (
            f"{table.name}.{column.name} is new and NOT NULL without a default, and "
            f"{table.name} may hold rows: what should they hold? Give it a DEFAULT in the "
            "schema, or allow NULL"
        )
        raise MigrationRefusedError(msg)


def _refuse_lossy(table: Table, old: Column, new: Column | None, *, allow_lossy: bool) -> None:
    """Refuse a type change that can alter stored values, unless the person allowed it."""
    if new is None or allow_lossy:
        return
    before, after = sqlcheck.affinity(old.type), sqlcheck.affinity(new.type)
    if before == after or after == "BLOB" or (before, after) in _LOSSLESS:
        return
    msg = (
        f"{table.name}.{old.name}: changing its type from {old.type or 'no type'} to "
        f"{new.type or 'no type'} ({before} to {after} affinity) can lose data: values "
        f"{after} affinity cannot hold exactly would be converted. Is that what you want? "
        "Then add --allow-lossy"
    )
    raise MigrationRefusedError(msg)


def _addable(old: Table, new: Table, added: list[Column]) -> bool:
    """Return whether ``new`` is ``old`` plus columns ``ALTER TABLE … ADD COLUMN`` can add."""
    if not added or new.columns[: len(old.columns)] != old.columns:
        return False
    names = {c.key for c in added}
    kept_keys = tuple(k for k in new.foreign_keys if not {c.lower() for c in k.columns} & names)
    same_constraints = (new.checks, new.primary_key, new.unique, kept_keys, new.options) == (
        old.checks,
        old.primary_key,
        old.unique,
        old.foreign_keys,
        old.options,
    )
    return same_constraints and all(_addable_column(new, c) for c in added)


def _addable_column(table: Table, column: Column) -> bool:
    """Return whether SQLite's ADD COLUMN accepts a column (see its ALTER TABLE page)."""
    default = column.default.key if column.default else None
    constant = default is None or _is_constant(default)
    null_default = default is None or default == ("NULL",)
    references = any(column.key in (c.lower() for c in k.columns) for k in table.foreign_keys)
    return (
        constant
        and not column.generated
        and not (column.notnull and null_default)
        and not (references and not null_default)
    )


def _is_constant(key: tuple[str, ...]) -> bool:
    """Return whether a default is a literal: a string, a (signed) number, NULL, TRUE, FALSE."""
    literal = key[-1]
    signed = len(key) == 2 and key[0] in ("-", "+")
    if len(key) != 1 and not signed:
        return False
    if literal.upper() in ("NULL", "TRUE", "FALSE") and not signed:
        return True
    return (literal.startswith(("'", "x'", "X'")) and not signed) or _is_number(literal)


def _is_number(text: str) -> bool:
    """Return whether a token is a numeric literal."""
    return bool(re.fullmatch(r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+", text))


def _reasons(old: Table, new: Table) -> list[str]:
    """Say in words why a table must be rebuilt."""
    reasons = []
    for difference in introspect.differences(
        Schema({"t": old}, {}, {}, {}, 0), Schema({"t": new}, {}, {}, {}, 0)
    ):
        column = difference.subject.partition(".")[2]
        if difference.aspect == "column":
            gone = difference.new == "no such column"
            reasons.append(f"{'drops' if gone else 'adds'} column {column}")
        elif difference.aspect == "order":
            reasons.append("reorders its columns")
        elif column:
            reasons.append(f"changes the {difference.aspect} of {column}")
        else:
            reasons.append(f"changes its {difference.aspect}")
    return reasons


def _dependents(current: Schema, target: Schema, rebuilt: set[str]) -> set[str]:
    """Return the triggers and views (lower-case names) that mention a rebuilt table.

    SQLite refuses to rename the rebuilt table into place while a trigger or view of another
    table still names the dropped one, so they are dropped first and created again after.
    """
    found = set()
    for schema in (current, target):
        for name, item in [*schema.triggers.items(), *schema.views.items()]:
            if rebuilt & {k.lower() for k in item.body.key}:
                found.add(name)
    return found


def _drop_objects(
    current: Schema,
    target: Schema,
    rebuilt: dict[str, list[str]],
    dependents: set[str],
    result: Plan,
) -> None:
    """Drop the views, triggers and indexes that change or go.

    Those on a table that is dropped or rebuilt go with their table.
    """
    for kind, olds, news in (
        ("view", current.views, target.views),
        ("trigger", current.triggers, target.triggers),
        ("index", current.indexes, target.indexes),
    ):
        for key, item in olds.items():
            changed = news.get(key) != item or key in dependents
            if not changed or (item.table.lower() in rebuilt and kind != "view"):
                continue
            if item.table.lower() not in current.tables.keys() - target.tables.keys():
                verb = "drops" if key not in news else "drops (to create it again)"
                result.add(f"{verb} {kind} {item.name}", f"DROP {kind.upper()} {quote(item.name)};")


def _create_objects(
    current: Schema,
    target: Schema,
    rebuilt: dict[str, list[str]],
    dependents: set[str],
    result: Plan,
) -> None:
    """Create the indexes, triggers and views that are new, changed or were dropped."""
    for kind, olds, news in (
        ("index", current.indexes, target.indexes),
        ("trigger", current.triggers, target.triggers),
        ("view", current.views, target.views),
    ):
        for key, item in news.items():
            if (
                olds.get(key) == item
                and key not in dependents
                and item.table.lower() not in rebuilt
            ):
                continue
            verb = "creates" if key not in olds else "creates again"
            result.add(f"{verb} {kind} {item.name}", _statement(item.sql))


def _rebuild(current: Schema, old: Table, new: Table, reasons: list[str], result: Plan) -> None:
    """Rebuild a table by SQLite's 12-step procedure (the runner does the foreign-key steps)."""
    spare = _spare_name(current, new.name)
    name_at, _, _ = introspect.definitions(new.sql)
    create = new.sql[: name_at[0]] + quote(spare) + new.sql[name_at[1] :]
    shared = [
        c for c in new.columns if not c.generated and (o := old.column(c.name)) and not o.generated
    ]
    columns = _lines([quote(c.name) for c in shared])
    values = _lines([_copied(old.column(c.name), c) for c in shared])  # type: ignore[arg-type]
    result.add(
        f"rebuilds table {new.name} ({'; '.join(reasons)}): copies every row, "
        "then creates its indexes and triggers again",
        _statement(create),
        # Names are quoted by quote(); the values are the schema's own defaults.
        f"INSERT INTO {quote(spare)} (\n{columns}\n)\nSELECT\n{values}\nFROM {quote(old.name)};",
        f"DROP TABLE {quote(old.name)};",
        f"ALTER TABLE {quote(spare)} RENAME TO {quote(new.name)};",
    )


def _lines(items: list[str], width: int = 96) -> str:
    """Join a list with commas, four spaces in, in lines no wider than ``width``."""
    lines = [""]
    for item in items:
        if lines[-1] and len(lines[-1]) + len(item) + 6 > width:
            lines.append("")
        lines[-1] += f"{', ' if lines[-1] else ''}{item}"
    return ",\n".join(f"    {line}" for line in lines)


def _copied(old: Column, new: Column) -> str:
    """Return the expression that copies a column: NULLs take the default of a new NOT NULL."""
    if new.notnull and not old.notnull and new.default is not None:
        return f"coalesce({quote(old.name)}, {new.default})"
    return quote(old.name)


def _spare_name(current: Schema, name: str) -> str:
    """Return a table name no table, index, trigger or view uses: ``<name>_new``."""
    taken = {*current.tables, *current.indexes, *current.triggers, *current.views}
    spare, n = f"{name}_new", 1
    while spare.lower() in taken:
        n += 1
        spare = f"{name}_new{n}"
    return spare
