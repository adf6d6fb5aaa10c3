"""Compile what SQLite defers: the views, triggers and column defaults of a loaded schema.

SQLite creates a view, a trigger and a column's ``DEFAULT`` without resolving the functions
they call: ``CREATE VIEW v AS SELECT edit('x', 'touch /tmp/pwn')`` loads into Python's SQLite,
which has no ``edit()``, and the ``sqlite3`` shell, which has it, runs the command when anybody
reads the view. So once a schema is loaded, a statement that reaches each object is compiled
(``EXPLAIN``: prepared, nothing runs): ``SELECT *`` from each view, and per table an
``INSERT … DEFAULT VALUES``, an ``UPDATE`` of every column and a ``DELETE`` (which code the
table's triggers, defaults, CHECKs and generated columns into the program), and for a view
the same for each event one of its ``INSTEAD OF`` triggers answers. A function SQLite lacks
is an error then (``no such function``), and the authorizer refuses the functions that reach
outside the database (:data:`sqlcheck.FILE_FUNCTIONS`). Any error is a complaint: an object
that does not compile cannot be checked (a table created later could make it compile).
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from tac_bootstrap import sqlcheck

# An UPDATE OF trigger fires when the statement sets a column of that name, the rowid's too.
_ROWID_NAMES = ("rowid", "oid", "_rowid_")
_EVENTS = ("DELETE", "INSERT", "UPDATE")
_CULPRITS = 50  # triggers of one table tried to name the one that does not compile


@dataclass(frozen=True)
class Uncompiled:
    """A table or view whose statements do not compile: its kind, name and SQLite's complaint."""

    kind: str
    name: str
    error: str
    table: str  # the table or view it is on (its own name for a table or view)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.error}"


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """Refuse what no view, trigger or default may do; allow the rest (nothing runs)."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if sqlcheck.reaches_pages(action, arg1):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in sqlcheck.FILE_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@dataclass
class Spent:
    """The CPU seconds compiling has spent, shared by the compiles of one chain's steps."""

    seconds: float = 0.0
    stopped: bool = False  # an object was named as stopped: the time is spent


def uncompiled(
    conn: sqlite3.Connection, names: Collection[str] | None = None, spent: Spent | None = None
) -> list[Uncompiled]:
    """Return each table and view of ``conn`` whose reaching statements do not compile.

    Only those of ``names`` (lower-case), if given. Within :data:`sqlcheck.MAX_SECONDS` of
    CPU time (in all, for the calls given the same ``spent``): compiling a statement expands
    the views it reads, a second or more for views that read others twice; once the time is
    spent, the next object is the last, reported as stopped. Sets, then removes, the
    connection's authorizer (the caller sets its own again).
    """
    found: list[Uncompiled] = []
    spent = spent or Spent()
    started = time.thread_time() - spent.seconds
    conn.set_authorizer(_authorize)
    try:
        events = _trigger_events(conn)
        for kind, schema, name in _objects(conn):
            if names is not None and name.lower() not in names:
                continue
            if time.thread_time() - started > sqlcheck.MAX_SECONDS:
                stopped = (
                    f"stopped here, after {sqlcheck.MAX_SECONDS:.0f} s of CPU compiling the "
                    "schema's views, triggers and defaults (a schema needs far less)"
                )
                spent.stopped = True
                return [*found, Uncompiled(kind, name, stopped, name)]
            view = kind == "view"
            answered = events.get(name.lower(), set()) if view else set(_EVENTS)
            statements = _statements(conn, schema, name, view, answered)
            error = _first_error(conn, statements)
            if error is not None:
                trigger = _culprit(conn, schema, name, view, answered)
                found.append(
                    Uncompiled(*(("trigger", trigger) if trigger else (kind, name)), error, name)
                )
    finally:
        conn.set_authorizer(None)
        spent.seconds = time.thread_time() - started
    return found


def _objects(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Return ``(kind, schema, name)`` of every table and view, SQLite's own tables aside."""
    found = []
    for schema in ("main", "temp"):
        rows = conn.execute(
            f"SELECT type, name FROM {schema}.sqlite_schema "  # noqa: S608 - a fixed name
            "WHERE type IN ('table', 'view') AND lower(substr(name, 1, 7)) <> 'sqlite_' "
            "ORDER BY rowid"
        ).fetchall()
        found += [(kind, schema, name) for kind, name in rows]
    return found


def _culprit(
    conn: sqlite3.Connection, schema: str, name: str, view: bool, events: set[str]
) -> str | None:
    """Return the trigger without which a table's or view's statements compile, if one is.

    Each trigger on it (the first :data:`_CULPRITS`) is dropped in turn inside a savepoint,
    which is rolled back.
    """
    triggers: list[tuple[str, str]] = [
        (where, str(trigger))
        for where in ("main", "temp")
        for (trigger,) in conn.execute(
            f"SELECT name FROM {where}.sqlite_schema "  # noqa: S608 - a fixed name
            "WHERE type = 'trigger' AND lower(tbl_name) = lower(?) ORDER BY rowid LIMIT ?",
            (name, _CULPRITS),
        ).fetchall()
    ]
    for where, trigger in triggers:
        try:
            conn.execute("SAVEPOINT sqlreach")
        except sqlite3.Error:  # a read-only database: the table or view is named instead
            return None
        try:
            conn.execute(f"DROP TRIGGER {where}.{quote(trigger)}")
            if view:  # the events its triggers answer, without the one dropped
                events = _trigger_events(conn).get(name.lower(), set())
            error = _first_error(conn, _statements(conn, schema, name, view, events))
        except sqlite3.Error:
            error = "not dropped"
        finally:
            conn.execute("ROLLBACK TO sqlreach")
            conn.execute("RELEASE sqlreach")
        if error is None:
            return trigger
    return None


def _first_error(conn: sqlite3.Connection, statements: Iterator[str]) -> str | None:
    """Compile (EXPLAIN) each statement; return the first complaint, or None."""
    for sql in statements:
        try:
            program = conn.execute("EXPLAIN " + sql).fetchall()
        except sqlite3.Error as exc:
            return str(exc) or type(exc).__name__
        except MemoryError:  # SQLite's heap limit (sqlcheck.MAX_MEMORY)
            return f"compiling it {sqlcheck.MEMORY_TEXT}"
        called = _called_outside(program)
        if called is not None:
            return f"function {called}() (reaches outside the database)"
    return None


# The opcodes that call a function, whose P4 names it as ``name(number of arguments)``.
_CALLS = frozenset(
    {"Function", "PureFunc", "AggStep", "AggStep1", "AggValue", "AggInverse", "AggFinal"}
)
_CALLED = re.compile(r"(\w+)\(-?[0-9]+\)")


def _called_outside(program: list[tuple[object, ...]]) -> str | None:
    """Return a function of :data:`sqlcheck.FILE_FUNCTIONS` the compiled program calls, if any.

    The authorizer is not asked about every call: SQLite resolves the CHECK of a column added
    by ``ALTER TABLE … ADD COLUMN`` when it reads the schema back, not when it compiles a
    statement, so ``CHECK (load_extension('x') IS NULL)`` compiled into every ``INSERT`` and
    passed. The program (with its triggers' sub-programs) names each function it calls.
    """
    for row in program:
        opcode, p4 = row[1], row[5]
        if opcode in _CALLS and isinstance(p4, str):
            match = _CALLED.fullmatch(p4)
            if match and match[1].lower() in sqlcheck.FILE_FUNCTIONS:
                return match[1].lower()
    return None


def _statements(
    conn: sqlite3.Connection, schema: str, name: str, view: bool, events: set[str]
) -> Iterator[str]:
    """Yield the statements that reach one table or view, for the events given.

    A view is read, and written for the events its ``INSTEAD OF`` triggers answer. Each
    statement is made once the one before compiled.
    """
    # S608: every name is quoted (quote()); the schema is "main" or "temp".
    target = f"{schema}.{quote(name)}"
    if view:
        yield f"SELECT * FROM {target}"  # noqa: S608
    if "INSERT" in events:
        yield f"INSERT INTO {target} DEFAULT VALUES"
    if "UPDATE" in events:
        settable = _settable(conn, schema, name)
        columns = [quote(c) for c in settable]
        if not view:
            lowered = {c.lower() for c in settable}
            columns += _rowid_names(conn, target, [r for r in _ROWID_NAMES if r not in lowered])
        if columns:
            assignments = ", ".join(f"{c} = {c}" for c in columns)
            yield f"UPDATE {target} SET {assignments}"  # noqa: S608
    if "DELETE" in events:
        yield f"DELETE FROM {target}"  # noqa: S608


def _settable(conn: sqlite3.Connection, schema: str, name: str) -> list[str]:
    """Return the columns an UPDATE may set: all but generated ones."""
    rows = conn.execute(
        "SELECT name FROM pragma_table_xinfo(?, ?) WHERE hidden = 0", (name, schema)
    ).fetchall()
    return [row[0] for row in rows]


def _rowid_names(conn: sqlite3.Connection, target: str, names: list[str]) -> list[str]:
    """Return ``names`` (rowid names no column takes) if the table has a rowid, else none.

    Reading the rowid compiles none of the table's triggers, defaults or columns.
    """
    if not names:
        return []
    try:
        conn.execute(f"EXPLAIN SELECT {names[0]} FROM {target}").fetchall()  # noqa: S608
    except sqlite3.Error:  # WITHOUT ROWID
        return []
    return names


def _trigger_events(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Return the events (INSERT, UPDATE, DELETE) the triggers on each table or view answer.

    Keys are lower-case names. Read from each trigger's text as SQLite keeps it (``CREATE
    TRIGGER name [BEFORE | AFTER | INSTEAD OF] event …``); one whose event is not found there
    counts for every event.
    """
    events: dict[str, set[str]] = {}
    for schema in ("main", "temp"):
        rows = conn.execute(
            f"SELECT tbl_name, sql FROM {schema}.sqlite_schema "  # noqa: S608 - a fixed name
            "WHERE type = 'trigger'"
        ).fetchall()
        for table, sql in rows:
            events.setdefault(table.lower(), set()).update(_trigger_event(sql or ""))
    return events


def _trigger_event(sql: str) -> set[str]:
    """Return the event of a trigger's text, or every event when it cannot be told."""
    # The first nine tokens only: tokenizing every trigger's whole body at each migration
    # was most of the time a chain's compiles took.
    words = list(itertools.islice(sqlcheck.iter_tokens(sql), 9))
    at = 3  # CREATE TRIGGER name
    if len(words) > at and words[at].text == ".":
        at += 2  # schema.name
    if len(words) > at and words[at].kind == "word" and words[at].text.upper() == "INSTEAD":
        at += 2  # INSTEAD OF
    elif (
        len(words) > at
        and words[at].kind == "word"
        and words[at].text.upper()
        in (
            "BEFORE",
            "AFTER",
        )
    ):
        at += 1
    if len(words) > at and words[at].kind == "word" and words[at].text.upper() in _EVENTS:
        return {words[at].text.upper()}
    return set(_EVENTS)


def quote(name: str) -> str:
    """Return ``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
