"""The schema as a Mermaid ``erDiagram``, drawn from the schema and kept in a README.

A README holds the diagram between two markers, as a fenced ``mermaid`` block::

    <!-- erdiagram:start -->
    ```mermaid
    erDiagram
        ...
    ```
    <!-- erdiagram:end -->

:func:`block` draws that block from a SQLite schema (``init`` renders it through the
``erdiagram`` template filter); :func:`check` reports a README whose block is not the
schema's, and :func:`rewrite` replaces the block (``tac-bootstrap sync``). The schema is
loaded into an in-memory SQLite database and introspected, so the diagram shows what SQLite
makes of the schema: tables in the order they are created, columns with their declared
types, primary keys, and one relationship per foreign key, labelled with its column.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from typing import TYPE_CHECKING

from tac_bootstrap import sqlcheck
from tac_bootstrap.errors import TacBootstrapError

if TYPE_CHECKING:
    from tac_bootstrap.report import Problem

START = "<!-- erdiagram:start -->"
END = "<!-- erdiagram:end -->"
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# What Mermaid's erDiagram reads (its lexer, erDiagram.jison): a quoted entity name holds no
# double quote, %, backslash or line break; an attribute's type and name are single words.
_NOT_IN_QUOTES = re.compile(r'["%\\\x00-\x1f\x7f]')
_WORD = re.compile(r"[A-Za-z_\u00c0-\uffff][A-Za-z0-9_\-\[\]()\u00c0-\uffff]*")
_NOT_IN_WORD = re.compile(r"[^A-Za-z0-9_\-\[\]()\u00c0-\uffff]")
# Words its lexer (case-insensitive, a word at a time) takes as keywords where a table name
# starts: such a table is written in quotes. A column or type that starts with PK, FK or UK is
# read as a key mark; one that holds "direction" then TB, BT, RL or LR sets the layout.
_KEYWORDS = frozenset(
    {"erdiagram", "one", "many", "to", "end", "class", "classdef", "style", "subgraph", "accdescr"}
)
_KEY_MARK = re.compile(r"(?:PK|FK|UK)\b", re.IGNORECASE | re.ASCII)
_DIRECTION = re.compile(r"direction\s+(?:TB|BT|RL|LR)", re.IGNORECASE)


class DiagramError(TacBootstrapError):
    """The schema cannot be drawn, or the README has no place for the diagram."""


class UndrawableNameError(DiagramError):
    """A table or column name that Mermaid's erDiagram cannot read: drawn, it breaks the block."""


def _undrawable(name: str, rule: str, *, what: str) -> UndrawableNameError:
    return UndrawableNameError(
        f"the {what} {name!r} cannot be drawn in Mermaid's erDiagram, which reads {rule}: "
        "rename it, or remove `diagram` from [tool.tac-bootstrap.sync.agreement]"
    )


class MarkerInNameError(DiagramError):
    """A name of the schema holds the end marker: the block would end inside the diagram."""

    def __init__(self) -> None:
        super().__init__(
            f"a table or column name of the schema holds {END}: the diagram's block would end "
            "there, and what follows it would be kept as README text; rename it"
        )


def erdiagram(
    schema_sql: str, name: str = "the schema", shared: sqlcheck.SharedSchema | None = None
) -> str:
    """Return the Mermaid ``erDiagram`` of a SQLite schema: tables, typed columns, PK, FK.

    ``name`` names the schema in errors; ``shared`` is the schema loaded for other checks.

    Raises:
        DiagramError: The schema does not load into SQLite.
    """
    with contextlib.ExitStack() as stack:
        try:
            conn = stack.enter_context(sqlcheck.loaded_schema(schema_sql, name, shared))
        except sqlite3.Error as exc:
            msg = f"the schema does not load into SQLite, so it cannot be drawn: {exc}"
            raise DiagramError(msg) from None
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        entities = [_entity(conn, table) for table in tables]
        relations = [line for table in tables for line in _relations(conn, table)]
    return "erDiagram\n" + "".join(entities) + "".join(relations)


def _entity(conn: sqlite3.Connection, table: str) -> str:
    """Draw one table: each column as ``TYPE name`` with its PK and FK marks."""
    foreign = {
        row[0] for row in conn.execute('SELECT "from" FROM pragma_foreign_key_list(?)', (table,))
    }
    lines = [f"    {_name(table)} {{\n"]
    for column, declared, pk in conn.execute(
        "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", (table,)
    ):
        keys = ", ".join(key for key, on in (("PK", pk), ("FK", column in foreign)) if on)
        lines.append(f"        {_kind(declared)} {_column(column)}{' ' + keys if keys else ''}\n")
    lines.append("    }\n")
    return "".join(lines)


def _relations(conn: sqlite3.Connection, table: str) -> list[str]:
    """Draw one relationship per foreign key of ``table``: parent ``||--o{`` child."""
    notnull = {
        row[0]: bool(row[1])
        for row in conn.execute('SELECT name, "notnull" FROM pragma_table_info(?)', (table,))
    }
    keys: dict[int, tuple[str, list[str]]] = {}
    for key_id, parent, column in conn.execute(
        'SELECT id, "table", "from" FROM pragma_foreign_key_list(?) ORDER BY id, seq', (table,)
    ):
        keys.setdefault(key_id, (parent, []))[1].append(column)
    lines = []
    for key_id in sorted(keys, reverse=True):  # SQLite numbers them from the last declared
        parent, columns = keys[key_id]
        # Exactly one parent when the key cannot be NULL, else zero or one.
        one = "||" if all(notnull.get(c, False) for c in columns) else "|o"
        label = ", ".join(columns)
        lines.append(f'    {_name(parent)} {one}--o{{ {_name(table)} : "{label}"\n')
    return lines


def _name(identifier: str) -> str:
    """Write a table name as Mermaid reads it: plain when it can be, else in quotes.

    Raises:
        UndrawableNameError: The name cannot be written in quotes either.
    """
    head = identifier.split("-")[0].lower()
    keyword = head in _KEYWORDS or (head == "u" and "-" in identifier)  # u- is a cardinality
    if _PLAIN_NAME.fullmatch(identifier) and not keyword:
        return identifier
    if END in identifier:
        raise MarkerInNameError
    if not identifier or _NOT_IN_QUOTES.search(identifier) or _DIRECTION.search(identifier):
        rule = (
            "a table name in quotes without a double quote, %, backslash, line break or "
            "'direction TB' (BT, RL, LR)"
        )
        raise _undrawable(identifier, rule, what="table")
    return f'"{identifier}"'


def _column(name: str) -> str:
    """Write a column name as Mermaid reads it: one word, as it is.

    Raises:
        UndrawableNameError: The name is not one word Mermaid reads.
    """
    if _WORD.fullmatch(name) and not _KEY_MARK.match(name):
        return name
    if END in name:
        raise MarkerInNameError
    rule = (
        "a column name as one word of letters, digits, _, -, [, ], ( and ), not starting "
        "with the key marks PK, FK or UK"
    )
    raise _undrawable(name, rule, what="column")


def _kind(declared: str) -> str:
    """Write a declared type as one word Mermaid reads: ``DOUBLE PRECISION`` as DOUBLE_PRECISION.

    What else Mermaid does not read in a type (``,`` of ``DECIMAL(10, 2)``, quotes) becomes
    ``_``; a column declared without a type (any value, BLOB affinity) is shown as ANY.
    """
    kind = _NOT_IN_WORD.sub("_", "_".join(declared.split()))
    if not kind:
        return "ANY"
    return kind if _WORD.match(kind) and not _KEY_MARK.match(kind) else f"_{kind}"


def block(
    schema_sql: str, name: str = "the schema", shared: sqlcheck.SharedSchema | None = None
) -> str:
    """Return the README block: the markers around a fenced ``mermaid`` diagram.

    Raises:
        DiagramError: The schema does not load into SQLite, or a name holds the end marker.
    """
    drawn = erdiagram(schema_sql, name, shared)
    if END in drawn:  # sync would write a block it cannot find whole again: never the same
        raise MarkerInNameError
    return f"{START}\n```mermaid\n{drawn}```\n{END}"


def _span(text: str) -> tuple[int, int] | None:
    """Return where the block is in ``text`` (start, end), or None when a marker is missing."""
    start = text.find(START)
    end = text.find(END, start + len(START)) if start >= 0 else -1
    return None if end < 0 else (start, end + len(END))


def rewrite(text: str, schema_sql: str, name: str = "the schema") -> str:
    """Return ``text`` with its diagram block redrawn from the schema.

    Raises:
        DiagramError: The text has no block to replace, the schema does not load, or a name
            holds the end marker.
    """
    span = _span(text)
    if span is None:
        msg = f"no diagram to rewrite: the file has no {START} ... {END} block"
        raise DiagramError(msg)
    drawn = block(schema_sql, name)
    if "\r\n" in text[span[0] : span[1]]:  # a checkout with Windows line ends keeps them
        drawn = drawn.replace("\n", "\r\n")
    return text[: span[0]] + drawn + text[span[1] :]


def check(
    text: str,
    schema_sql: str,
    path: str,
    schema_path: str,
    shared: sqlcheck.SharedSchema | None = None,
) -> Problem | None:
    """Return the problem with the diagram in ``text`` (the file ``path``), or None.

    The schema must load (the agreement check reports it otherwise).
    """
    from tac_bootstrap.report import Problem, first_difference, unified_diff

    span = _span(text)
    if span is None:
        return Problem(
            "diagram",
            path,
            None,
            f"no schema diagram: the {START} ... {END} block is missing; put both markers "
            "back and run `tac-bootstrap sync`, or remove `diagram` from "
            "[tool.tac-bootstrap.sync.agreement]",
        )
    try:
        expected = block(schema_sql, schema_path, shared)
    except (MarkerInNameError, UndrawableNameError) as exc:
        return Problem("diagram", path, None, str(exc))
    current = text[span[0] : span[1]].replace("\r\n", "\n")  # Windows line ends: the same
    if current == expected:
        return None
    line = text.count("\n", 0, span[0]) + first_difference(current, expected)
    why = f"{schema_path} has changed since it was drawn"
    if current.replace("\r", "\n") == expected:  # the drawing is right: its line ends are not
        why = "its lines are as drawn, but some end in a lone carriage return (\\r)"
    return Problem(
        "diagram",
        path,
        line,
        f"the erDiagram is out of date: {why}; `tac-bootstrap sync` redraws it",
        unified_diff(current, expected, f"{path} (diagram)", f"{path} (drawn from {schema_path})"),
    )
