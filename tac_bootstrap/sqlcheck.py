"""Read a schema the way SQLite does, and check SQL statements against it.

The schema is loaded into an in-memory database and introspected with ``PRAGMA table_info``
and ``PRAGMA foreign_key_list``; CHECK constraints, which SQLite does not expose, are read
from the ``CREATE TABLE`` text with a small tokenizer. Statements are prepared with
``EXPLAIN``, which compiles them against the schema without running them.
"""

from __future__ import annotations

import ast
import contextlib
import heapq
import itertools
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar, cast

from tac_bootstrap import computed, sqlfile
from tac_bootstrap.confine import held_stops
from tac_bootstrap.errors import TacBootstrapError

Made = TypeVar("Made")

# SQLite takes every character past ASCII as a letter of a name ("Ä", "été", "€x").
_TOKEN = re.compile(
    r"""(?P<space>\s+|--[^\n]*|/\*.*?(?:\*/|$))
      |(?P<string>'(?:[^']|'')*')
      |(?P<ident>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
      |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      |(?P<param>\?\d*|[:@$](?:[A-Za-z_]|[^\x00-\x7f])(?:\w|[^\x00-\x7f])*)
      |(?P<word>(?:[A-Za-z_]|[^\x00-\x7f])(?:\w|[^\x00-\x7f])*)
      |(?P<op><=|>=|<>|!=|==|\|\||[-+*/%<>=(),;.~&|])
      |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_MAX_VARIABLE = 32767  # one past the largest ?NNN SQLite takes
_IN_TRIGGER = "CREATE TRIGGER t BEGIN SELECT 1;"  # sqlite3_complete: inside a trigger's body
_SQL_START = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\s")
# The literals of a database module held to the query rule (check_queries): those prepared,
# and those starting with the other statements that only read (``VALUES (1); ATTACH …``).
GUARDED_START = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|VALUES)\s")
_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_TEXT = "it holds a lone surrogate, which is not UTF-8 text"
_WORD_SHOWN = 30  # a statement's first word is named in a refusal up to this length


@dataclass(frozen=True)
class Token:
    """One SQL token: its kind (a group name of ``_TOKEN``) and its text."""

    kind: str
    text: str

    @property
    def name(self) -> str | None:
        """Return the identifier this token names (unquoted), or None."""
        if self.kind == "word":
            return self.text
        if self.kind == "ident":
            quote = self.text[0]
            close = "]" if quote == "[" else quote
            return self.text[1:-1].replace(close * 2, close)
        return None

    def literal(self) -> object:
        """Return the Python value of a string or number literal token."""
        if self.kind == "string":
            return self.text[1:-1].replace("''", "'")
        number = float(self.text)
        return int(number) if number.is_integer() and re.fullmatch(r"\d+", self.text) else number


def tokenize(sql: str) -> list[Token]:
    """Split SQL into tokens, dropping whitespace and comments."""
    return list(iter_tokens(sql))


def iter_tokens(sql: str) -> Iterator[Token]:
    """Yield the tokens of SQL as they are read, dropping whitespace and comments."""
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        if kind != "space":
            yield Token(kind, match.group())


def _is(token: Token, *words: str) -> bool:
    """Return whether a token is one of the given keywords or operators (case-insensitive)."""
    return token.kind in ("word", "op") and token.text.upper() in words


@dataclass
class ColumnChecks:
    """What the CHECK constraints of a table say about one column."""

    allowed: tuple[object, ...] | None = None
    bounds: set[tuple[str, object]] = field(default_factory=set)
    json: bool = False
    finite: bool = False


@dataclass(frozen=True)
class Column:
    """A column as ``PRAGMA table_info`` describes it, with NOT NULL as SQLite enforces it."""

    name: str
    declared: str
    notnull: bool

    @property
    def affinity(self) -> str:
        """Return the column's type affinity by SQLite's rules (section 3.1 of its docs)."""
        return affinity(self.declared)


@dataclass(frozen=True)
class ForeignKey:
    """``column REFERENCES table(to)`` with its ON DELETE action."""

    column: str
    table: str
    to: str
    on_delete: str

    def __str__(self) -> str:
        return f"REFERENCES {self.table}({self.to})"


@dataclass
class Table:
    """One table of the schema: columns, CHECK facts per column, foreign keys per column."""

    name: str
    columns: dict[str, Column]
    checks: dict[str, ColumnChecks]
    foreign_keys: dict[str, ForeignKey]


def affinity(declared: str) -> str:
    """Return the affinity SQLite gives a declared column type."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(s in upper for s in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper:
        return "BLOB"
    if any(s in upper for s in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


_SHOWN = 20  # refused statements named in the error; the count of the others follows


class UnsafeSchemaError(TacBootstrapError):
    """A schema tried something a schema never needs: attach a file, write rows, load code."""

    def __init__(
        self,
        name: str,
        refused: list[tuple[int, str]],
        rule: str = (
            "refused to load the schema, which tries what a schema never needs "
            "(only CREATE, DROP, ALTER and setting PRAGMAs are allowed)"
        ),
    ) -> None:
        self.refused = refused
        lines = "; ".join(f"{name}:{line}: {what}" for line, what in refused[:_SHOWN])
        if len(refused) > _SHOWN:  # 20,000 statements after a spent budget made 1.7 MB
            lines += f"; and {len(refused) - _SHOWN:,} more"
        super().__init__(f"{name}: {rule}: {lines}")


# The rule of :mod:`tac_bootstrap.sqlreach`, for a schema whose objects do not compile.
UNCOMPILED_RULE = (
    "refused the schema, whose views, triggers or column defaults do not compile against it "
    "(they may call only SQLite's own functions, none that reaches outside the database)"
)


# What a schema may do while it loads, by authorizer action code: define objects, set pragmas.
_DDL = frozenset(
    getattr(sqlite3, name)
    for name in (
        "SQLITE_CREATE_INDEX",
        "SQLITE_CREATE_TABLE",
        "SQLITE_CREATE_TEMP_INDEX",
        "SQLITE_CREATE_TEMP_TABLE",
        "SQLITE_CREATE_TEMP_TRIGGER",
        "SQLITE_CREATE_TEMP_VIEW",
        "SQLITE_CREATE_TRIGGER",
        "SQLITE_CREATE_VIEW",
        "SQLITE_DROP_INDEX",
        "SQLITE_DROP_TABLE",
        "SQLITE_DROP_TEMP_INDEX",
        "SQLITE_DROP_TEMP_TABLE",
        "SQLITE_DROP_TEMP_TRIGGER",
        "SQLITE_DROP_TEMP_VIEW",
        "SQLITE_DROP_TRIGGER",
        "SQLITE_DROP_VIEW",
        "SQLITE_ALTER_TABLE",
        "SQLITE_REINDEX",
        "SQLITE_TRANSACTION",
        "SQLITE_SAVEPOINT",
        "SQLITE_READ",  # CHECK constraints and indexes name columns
        "SQLITE_SELECT",  # ALTER TABLE queries sqlite_schema; a top-level SELECT is refused apart
        "SQLITE_DELETE",  # DROP TABLE empties the table (a schema inserts no rows to delete)
    )
)
_TRANSACTIONS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
# The first word of every statement a schema may hold.
_SCHEMA_VERBS = frozenset(
    {"CREATE", "DROP", "ALTER", "PRAGMA", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT"}
    | {"RELEASE", "REINDEX"}
)
# Once loaded, the schema is only introspected and statements are prepared (EXPLAIN: nothing
# runs), so reading and the row statements of a database module are allowed too.
_PREPARE = _DDL | {
    sqlite3.SQLITE_INSERT,
    sqlite3.SQLITE_UPDATE,
    sqlite3.SQLITE_DELETE,
    sqlite3.SQLITE_RECURSIVE,
}
_SETTINGS = frozenset(
    {
        "application_id",
        "auto_vacuum",
        "automatic_index",
        "busy_timeout",
        "cache_size",
        "case_sensitive_like",
        "defer_foreign_keys",
        "encoding",
        "foreign_keys",
        "journal_mode",
        "journal_size_limit",
        "legacy_alter_table",
        "page_size",
        "recursive_triggers",
        "secure_delete",
        "synchronous",
        "temp_store",
        "user_version",
        "wal_autocheckpoint",
    }
)
_IN_MEMORY = ("2", "MEMORY")  # the one temp_store the check allows: no temporary files
SETTINGS = _SETTINGS  # what a schema may set, a migration too


def in_memory(value: str | None) -> bool:
    """Return whether ``PRAGMA temp_store`` is read, or set to keep temporary data in memory."""
    return value is None or value.strip("'\"").upper() in _IN_MEMORY


_INTROSPECTION = frozenset(
    {"table_info", "table_xinfo", "foreign_key_list", "index_list", "index_info", "index_xinfo"}
)
# Functions that reach outside the database, never allowed (in a migration either).
# fts3_tokenizer('simple', x'…') sets a pointer that SQLite calls: the process crashes, or worse.
FILE_FUNCTIONS = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "sqlite_dbpage"}
)
# The table of the database file's raw pages, in SQLite builds with SQLITE_ENABLE_DBPAGE_VTAB
# (not Python's own): read as a table (``SELECT * FROM sqlite_dbpage``) or written
# (``UPDATE sqlite_dbpage SET data = …``), never allowed either.
FILE_TABLES = frozenset({"sqlite_dbpage"})
_ROW_ACTIONS = frozenset(
    {sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}
)


def reaches_pages(action: int, table: str | None) -> bool:
    """Return whether an action reads or writes :data:`FILE_TABLES` (in any case)."""
    return action in _ROW_ACTIONS and (table or "").lower() in FILE_TABLES


_ACTIONS = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        "CREATE_INDEX",
        "CREATE_TABLE",
        "CREATE_TEMP_INDEX",
        "CREATE_TEMP_TABLE",
        "CREATE_TEMP_TRIGGER",
        "CREATE_TEMP_VIEW",
        "CREATE_TRIGGER",
        "CREATE_VIEW",
        "DELETE",
        "DROP_INDEX",
        "DROP_TABLE",
        "DROP_TEMP_INDEX",
        "DROP_TEMP_TABLE",
        "DROP_TEMP_TRIGGER",
        "DROP_TEMP_VIEW",
        "DROP_TRIGGER",
        "DROP_VIEW",
        "INSERT",
        "PRAGMA",
        "READ",
        "SELECT",
        "TRANSACTION",
        "UPDATE",
        "ATTACH",
        "DETACH",
        "ALTER_TABLE",
        "REINDEX",
        "ANALYZE",
        "CREATE_VTABLE",
        "DROP_VTABLE",
        "FUNCTION",
        "SAVEPOINT",
        "RECURSIVE",
    )
}


# What an untrusted schema may cost: a real one runs a few thousand SQLite steps and holds
# no value longer than a few kilobytes (``CREATE TABLE t AS SELECT`` a cross join or a
# ``randomblob`` would run for hours or fill the memory).
_MAX_STEPS = 100_000_000  # about a second; counted in blocks of _STEPS_PER_CALL
_STEPS_PER_CALL = 1000
MAX_LENGTH = 10_000_000  # bytes of one string, blob or row
# A step may cost up to a whole value's length (``hex(randomblob(4e6))``: 10 ms), so steps
# alone let a schema run for hours: its SQLite work is bounded in the thread's CPU time too.
# The largest schema the limits let in (5,000 tables) loads in 9 s of CPU on a loaded machine.
MAX_SECONDS = 20.0
# And in memory: rows a migration writes, a sort, a CTE's queue (a thousand values of 9 MB
# held 9 GB). SQLite's own heap, for the whole process; nothing is spilled to disk.
MAX_MEMORY = 1 << 30
MEMORY_TEXT = f"used more than {MAX_MEMORY >> 20:,} MiB of memory"


class _Guard:
    """The authorizer of an untrusted schema's connection; records what it refuses."""

    def __init__(self) -> None:
        self.loading = True
        self.refused: list[str] = []
        self.steps = 0
        self.started = time.thread_time()
        #: What was raised inside the callback (a Ctrl-C lands anywhere): SQLite would only
        #: see a refusal, so it is raised again once SQLite returns (see :meth:`reraise`).
        self.raised: BaseException | None = None

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _in: str | None
    ) -> int:
        try:
            refusal = self._refusal(action, arg1, arg2)
        except BaseException as exc:
            self.raised = exc
            return sqlite3.SQLITE_DENY
        if refusal is None:
            return sqlite3.SQLITE_OK
        self.refused.append(refusal)
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        """Count SQLite's steps and time; stop the statement (non-zero) once either is spent."""
        self.steps += _STEPS_PER_CALL
        if self.steps > _MAX_STEPS:
            self.refused.append(
                f"stopped here, {_MAX_STEPS:,} SQLite steps into the schema "
                "(a schema only defines tables and settings, in thousands)"
            )
            return 1
        if time.thread_time() - self.started > MAX_SECONDS:
            self.refused.append(
                f"stopped here, after {MAX_SECONDS:.0f} s of SQLite work on the schema "
                "(a schema only defines tables and settings, in seconds at most)"
            )
            return 1
        return 0

    def out_of_memory(self) -> None:
        """Record that the statement ran out of SQLite's memory (:data:`MAX_MEMORY`)."""
        self.refused.append(
            f"stopped here, the schema {MEMORY_TEXT} (a schema only defines tables and settings)"
        )

    def reraise(self) -> None:
        """Raise again what the callback caught (an interrupt is not a refused statement)."""
        if self.raised is not None:
            raised, self.raised = self.raised, None
            raise raised

    def _refusal(self, action: int, arg1: str | None, arg2: str | None) -> str | None:
        """Return why an action is refused, or None when it is allowed."""
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return f"{_ACTIONS[action]} {arg1!r} (a schema uses no other database file)"
        if reaches_pages(action, arg1):
            return f"{_ACTIONS[action]} {arg1} (the database file's raw pages)"
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            return (
                f"function {name}() (reaches outside the database)"
                if name in FILE_FUNCTIONS
                else None
            )
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name == "temp_store" and not in_memory(arg2):
                return f"PRAGMA temp_store = {arg2} (a schema keeps temporary data in memory)"
            if name == "quick_check" and arg2 is not None:
                # SQLite's own check of the rows for ``ALTER TABLE t ADD COLUMN … CHECK (…)``
                # (``PRAGMA quick_check(t)``: it reads): that ALTER was refused as this PRAGMA.
                return None
            allowed = _SETTINGS if self.loading else _SETTINGS | _INTROSPECTION
            return None if name in allowed else f"PRAGMA {name} (not a setting a schema needs)"
        if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE) and (
            arg1 in ("sqlite_master", "sqlite_temp_master", "sqlite_sequence")
        ):
            return None  # SQLite's own record of a CREATE, DROP or ALTER
        if action in (_DDL if self.loading else _PREPARE):
            return None
        what = _ACTIONS.get(action, f"action {action}")
        return f"{what}{f' {arg1}' if arg1 else ''} (a schema only defines tables and settings)"


def _held_interrupts() -> contextlib.AbstractContextManager[None]:
    """Hold Ctrl-C (SIGINT, and SIGHUP, SIGTERM) back while SQLite runs; deliver it after.

    SQLite calls this module's Python callbacks (the authorizer, a progress handler) and
    swallows what they raise: a Ctrl-C landing inside one would become a refused statement
    or an "interrupted" error, i.e. a wrong report. Blocked, the signal waits; unblocked, its
    handler runs here, outside SQLite. (The process runs SQLite in its main thread only.)
    """
    return held_stops()


class _HeldCursor(sqlite3.Cursor):
    """A cursor whose statements run (and step) with Ctrl-C held: see :func:`_held_interrupts`."""

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        with _held_interrupts():
            return super().execute(sql, parameters)

    def executescript(self, sql_script: str, /) -> Self:
        with _held_interrupts():
            super().executescript(sql_script)
        return self

    def fetchone(self) -> Any:
        with _held_interrupts():
            return super().fetchone()

    def fetchall(self) -> list[Any]:
        with _held_interrupts():
            return super().fetchall()

    def __next__(self) -> Any:
        with _held_interrupts():
            return super().__next__()


class HeldConnection(sqlite3.Connection):
    """A connection for SQL with Python callbacks: every statement runs with Ctrl-C held.

    Its statements run through :class:`_HeldCursor`, so rows read by iterating or fetching
    are read with Ctrl-C held too.
    """

    def cursor(self, factory: Any = _HeldCursor) -> Any:  # noqa: D102 - as sqlite3's
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:  # noqa: D102 - as sqlite3's
        return self.cursor().execute(sql, parameters)

    def executescript(self, sql_script: str, /) -> Any:  # noqa: D102 - as sqlite3's
        return self.cursor().executescript(sql_script)


def connect_held() -> HeldConnection:
    """Open an in-memory database in autocommit mode whose statements hold Ctrl-C back."""
    return sqlite3.connect(":memory:", isolation_level=None, factory=HeldConnection)


def connect_untrusted() -> UntrustedConnection:
    """:func:`connect_held`, for untrusted SQL: values, memory and temporary files bounded.

    No value may be longer than :data:`MAX_LENGTH`; SQLite may hold at most
    :data:`MAX_MEMORY` in all (``hard_heap_limit`` is the process's: past it, a statement
    fails with ``MemoryError``); temporary tables, indexes and sorts stay in memory, so none
    spills into a file.
    """
    from tac_bootstrap import slowcalls

    conn = sqlite3.connect(":memory:", isolation_level=None, factory=UntrustedConnection)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    conn.execute(f"PRAGMA hard_heap_limit = {MAX_MEMORY}")
    conn.execute("PRAGMA temp_store = MEMORY")
    # One call of printf, trim, instr or replace may take hours: one step of the program,
    # which the progress handler cannot stop.
    conn.helpers.append(slowcalls.bound(conn, MAX_LENGTH, conn.slow_calls))
    return conn


def slow_calls(conn: sqlite3.Connection) -> list[str]:
    """Return, and forget, the calls of ``conn`` refused as too slow (:mod:`slowcalls`)."""
    if not isinstance(conn, UntrustedConnection):
        return []
    found, conn.slow_calls[:] = list(conn.slow_calls), []
    return found


def _slow_text(call: str) -> str:
    """Return why a schema that makes a call too slow for SQLite to stop is refused."""
    return f"stopped here, it calls {call} (SQLite would spend minutes or more on that one call)"


class UntrustedConnection(HeldConnection):
    """A :class:`HeldConnection` for untrusted SQL, which closes the connections it calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helpers: list[sqlite3.Connection] = []
        self.slow_calls: list[str] = []  # the calls refused (slowcalls), for the message

    def close(self) -> None:  # noqa: D102 - as sqlite3's
        for helper in self.helpers:
            helper.close()
        super().close()


def _guarded_connection() -> tuple[sqlite3.Connection, _Guard]:
    """Open an in-memory database that refuses ATTACH, file access and anything but DDL."""
    conn = connect_untrusted()
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    guard = _Guard()
    conn.set_authorizer(guard)
    conn.set_progress_handler(guard.progress, _STEPS_PER_CALL)
    return conn, guard


def load_untrusted_schema(sql: str, name: str, *, read_only: bool = False) -> sqlite3.Connection:
    """Load a schema that may come from a pull request into a fresh, guarded in-memory database.

    The one way this project executes a schema it did not write. Every statement must start
    like schema SQL (CREATE, DROP, ALTER, PRAGMA, a transaction), and SQLite's authorizer
    allows only what such statements need while they run: ATTACH and DETACH (and so
    ``VACUUM INTO``), rows written, file functions (``load_extension``, ``readfile``, ...),
    virtual tables and PRAGMAs other than settings are refused; no database can be attached
    at all, no value may be longer than 10 MB, and the statements may run 100 million steps
    and :data:`MAX_SECONDS` of CPU time in all, in :data:`MAX_MEMORY` (a schema needs
    milliseconds and kilobytes). Every refused statement is reported with its line.
    After loading, the connection still refuses all of that but allows introspection and
    preparing (``EXPLAIN``) row statements.

    Args:
        sql: The schema's text.
        name: The schema's path relative to the root, for messages.
        read_only: Make the loaded database read-only (``PRAGMA query_only``).

    Raises:
        UnsafeSchemaError: The schema tries something a schema never needs (every such
            statement is listed with its line).
        SqlFileError: The schema starts with a byte-order mark, or is past a size limit
            (:mod:`tac_bootstrap.sqlfile`).
        sqlite3.Error: The schema does not load (a plain SQL error, a NUL byte).
    """
    sqlfile.check_text(sql, name)  # a BOM, or more than any schema holds: before parsing it
    nul = nul_line(sql)
    if nul is not None:  # sqlite3 would raise ValueError on it
        msg = f"line {nul} holds a NUL byte, which is not SQL"
        raise sqlite3.OperationalError(msg)
    pieces = _statements_by_line(sql)
    conn, guard = _guarded_connection()
    try:
        refused, failed = _refused_statements(conn, guard, pieces)
    except BaseException:
        conn.close()
        raise
    if refused:
        conn.close()
        raise UnsafeSchemaError(name, refused)
    # Run statement by statement without a failure, the schema is loaded: SQLite's own loading
    # grows with the square of the tables (each CREATE scans sqlite_schema), so it is not run
    # twice. A failure, or a transaction (each statement ran in its own), is run again whole.
    if failed or any(_first_word(piece) in _TRANSACTIONS for _, piece in pieces):
        conn.close()
        conn, guard = _guarded_connection()
        try:
            conn.executescript(sql)
        except MemoryError:
            conn.close()
            guard.out_of_memory()
            raise UnsafeSchemaError(name, [(1, r) for r in guard.refused]) from None
        except sqlite3.Error:
            conn.close()
            guard.reraise()
            if guard.refused:  # what statement by statement did not show: still refused
                raise UnsafeSchemaError(name, [(1, r) for r in guard.refused]) from None
            raise
    _refuse_uncompiled(conn, guard, pieces, name)  # before query_only: it drops triggers
    if read_only:  # the check's own setting, past the authorizer (a schema may not set it)
        conn.set_authorizer(None)
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(guard)
    guard.loading = False
    # The budget is the schema's: what follows only reads it and prepares statements (EXPLAIN
    # runs nothing), and a schema that spent nearly all of it made that reading "interrupted".
    conn.set_progress_handler(None, 0)
    return conn


def _refuse_uncompiled(
    conn: sqlite3.Connection, guard: _Guard, pieces: list[tuple[int, str]], name: str
) -> None:
    """Refuse a loaded schema whose views, triggers or defaults do not compile (sqlreach).

    Raises:
        UnsafeSchemaError: Each table or view that does not compile, with the line of the
            statement that last defined it (closes the connection).
    """
    from tac_bootstrap import sqlreach

    conn.set_progress_handler(None, 0)  # the schema's step budget is spent on loading it
    try:
        found = sqlreach.uncompiled(conn)
    except BaseException:
        conn.close()
        raise
    conn.set_authorizer(guard)
    if found:
        conn.close()
        lines = definition_lines(pieces)
        refused = [(lines.get(item.name.lower(), 1), str(item)) for item in found]
        raise UnsafeSchemaError(name, refused, UNCOMPILED_RULE)


# The words between CREATE or ALTER and the name of what a statement defines.
_BEFORE_NAME = (
    *("TEMP", "TEMPORARY", "UNIQUE", "TABLE", "VIEW", "TRIGGER", "INDEX"),
    *("IF", "NOT", "EXISTS"),
)


def definition_lines(pieces: list[tuple[int, str]]) -> dict[str, int]:
    """Return the line of the statement that last created or altered each named object.

    Keys are lower-case names; read from ``CREATE [TEMP] TABLE|VIEW|TRIGGER [IF NOT EXISTS]
    [schema.]name`` and ``ALTER TABLE [schema.]name``. Only for messages.
    """
    found: dict[str, int] = {}
    for line, piece in pieces:
        tokens = tokenize(piece[:2000])[:10]
        if not tokens or not _is(tokens[0], "CREATE", "ALTER"):
            continue
        at = 1
        while at < len(tokens) and _is(tokens[at], *_BEFORE_NAME):
            at += 1
        if at + 2 < len(tokens) and tokens[at + 1].text == ".":
            at += 2
        if at < len(tokens) and tokens[at].name is not None:
            found[(tokens[at].name or "").lower()] = line
    return found


# The first word of a statement a database module runs: it reads and writes rows. Its
# connection settings (PRAGMAs, transactions) are the module's own code, not checked SQL.
_QUERIES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES"})


def check_queries(queries: dict[str, str], name: str) -> None:
    """Refuse a database module's statements (by name) that do more than read and write rows.

    Preparing a statement runs nothing, so ``VACUUM INTO '/elsewhere'`` prepared and passed,
    though the module would write a file wherever it names when it runs it.

    Raises:
        sqlfile.UnsafeQueryError: Every refused statement, with its name.
    """
    rule = (
        "SQLite database module runs what it never needs (only SELECT, INSERT, UPDATE, "
        "DELETE, REPLACE, WITH and VALUES statements)"
    )
    sqlfile.check_queries(queries, name, query_refusal, rule)


def query_refusal(sql: str) -> str | None:
    """Return why a database module's statement is refused, or None."""
    if "\x00" in sql or (not sql.isascii() and _SURROGATE.search(sql)):
        return None  # not SQLite text: prepare_error reports it
    for piece in _split_statements(sql):
        first = _first_token(piece)
        assert first is not None  # noqa: S101 - _statement_pieces keeps no empty piece
        word = first.text.upper()
        if not (first.kind == "word" and word in _QUERIES):
            shown = word if first.kind == "word" and len(word) <= _WORD_SHOWN else "this"
            return f"{shown} statement (a database module's statements read and write rows)"
    return None


class SharedSchema:
    """One untrusted schema, loaded once for every check of a run that reads it.

    Each check asks for the schema by its text: the same text gets the same connection, made
    read-only (``PRAGMA query_only``), so no check can change what the next one reads. A
    schema that does not load raises the same error for each. 2,000 tables took 4.8 s to load
    under load, and ``sync-check`` loaded them three times (agreement, diagram, migrations).
    """

    def __init__(self) -> None:
        self._sql: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._error: sqlite3.Error | TacBootstrapError | None = None
        self._made: dict[Callable[[sqlite3.Connection], Any], Any] = {}

    @contextlib.contextmanager
    def open(self, sql: str, name: str) -> Iterator[sqlite3.Connection]:
        """Yield the loaded schema of ``sql``; it stays open for the next check.

        Raises:
            UnsafeSchemaError: As :func:`load_untrusted_schema`.
            SqlFileError: As :func:`load_untrusted_schema`.
            sqlite3.Error: As :func:`load_untrusted_schema`.
        """
        if sql != self._sql:
            self.close()
            self._sql = sql
            try:
                self._conn = load_untrusted_schema(sql, name, read_only=True)
            except (sqlite3.Error, TacBootstrapError) as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        assert self._conn is not None  # noqa: S101 - loaded, or the error was raised
        yield self._conn

    def made(self, sql: str, name: str, make: Callable[[sqlite3.Connection], Made]) -> Made:
        """Return ``make`` of the loaded schema of ``sql``, made once a text (see :meth:`open`).

        The connection is read-only, so what ``make`` reads of it (the schema's tables, for
        the chain's check) is the same until the text changes: made once for a run, and once
        for cases in a row that leave the schema as it was.

        Raises:
            UnsafeSchemaError: As :meth:`open`.
            SqlFileError: As :meth:`open`.
            sqlite3.Error: As :meth:`open`.
        """
        with self.open(sql, name) as conn:
            if make not in self._made:
                self._made[make] = make(conn)
            return cast(Made, self._made[make])

    def close(self) -> None:
        """Close the connection, if one is open; the next :meth:`open` loads again."""
        if self._conn is not None:
            self._conn.close()
        self._sql, self._conn, self._error = None, None, None
        self._made = {}


@contextlib.contextmanager
def loaded_schema(
    sql: str, name: str, shared: SharedSchema | None = None
) -> Iterator[sqlite3.Connection]:
    """Yield the schema loaded by :func:`load_untrusted_schema` (or ``shared``), then close it.

    Raises:
        UnsafeSchemaError: As :func:`load_untrusted_schema`.
        SqlFileError: As :func:`load_untrusted_schema`.
        sqlite3.Error: As :func:`load_untrusted_schema`.
    """
    if shared is not None:
        with shared.open(sql, name) as conn:
            yield conn
        return
    conn = load_untrusted_schema(sql, name)
    try:
        yield conn
    finally:
        conn.close()


def _first_word(piece: str) -> str:
    """Return the first token of a statement, upper-cased."""
    first = _first_token(piece)
    return first.text.upper() if first else ""


def _first_token(sql: str) -> Token | None:
    """Return the first token of SQL (past spaces and comments), reading no further."""
    for match in _TOKEN.finditer(sql):
        if match.lastgroup != "space":
            return Token(match.lastgroup or "other", match.group())
    return None


def _refused_statements(
    conn: sqlite3.Connection, guard: _Guard, pieces: list[tuple[int, str]]
) -> tuple[list[tuple[int, str]], bool]:
    """Run a schema's statements one by one on a guarded connection; report what is refused.

    A statement that does not start like schema SQL is refused without running; the others
    run one by one, and the authorizer reports what it refused.

    Returns:
        ``(line, reason)`` for every statement a schema may not hold or run, and whether a
        statement failed (a plain SQL error).
    """
    refused: list[tuple[int, str]] = []
    failed = False
    for line, piece in pieces:
        first = _first_token(piece)
        assert first is not None  # noqa: S101 - _statement_pieces keeps no empty piece
        if not (first.kind == "word" and first.text.upper() in _SCHEMA_VERBS):
            why = "a schema only defines tables and settings: no rows, no queries, no files"
            refused.append((line, f"{first.text.upper()} statement ({why})"))
            continue
        guard.refused.clear()
        try:
            conn.executescript(piece + ";")
        except sqlite3.Error:
            failed = True
            guard.refused += [_slow_text(call) for call in slow_calls(conn)]
        except MemoryError:  # SQLite's heap limit (MAX_MEMORY), reached by this statement
            failed = True
            guard.out_of_memory()
        guard.reraise()
        refused += [(line, reason) for reason in guard.refused]
    return refused, failed


def _statements_by_line(sql: str) -> list[tuple[int, str]]:
    """Return ``(first line, text)`` of every statement of a script, as SQLite splits it."""
    found, line, counted = [], 1, 0
    for offset, piece in _statement_pieces(sql):
        start = offset + len(piece) - len(piece.lstrip())
        line += sql.count("\n", counted, start)  # from the last statement on: linear
        counted = start
        found.append((line, piece))
    return found


def nul_line(sql: str) -> int | None:
    """Return the line of the first NUL byte, if any (SQLite cannot be given one)."""
    at = sql.find("\x00")
    return None if at < 0 else sql.count("\n", 0, at) + 1


def failing_line(sql: str) -> int | None:
    """Return the first line of the statement that stops a schema from loading, if any."""
    nul = nul_line(sql)
    if nul is not None:
        return nul
    conn, _ = _guarded_connection()
    try:
        for line, piece in _statements_by_line(sql):
            try:
                conn.executescript(piece + ";")
            except (sqlite3.Error, MemoryError):  # MemoryError: SQLite's heap limit
                return line
    finally:
        conn.close()
    return None


def tables(conn: sqlite3.Connection) -> dict[str, Table]:
    """Introspect every user table of a loaded schema."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    ).fetchall()
    return {name: _table(conn, name, sql or "") for name, sql in rows}


def _table(conn: sqlite3.Connection, name: str, sql: str) -> Table:
    """Introspect one table."""
    tokens = tokenize(sql)
    without_rowid = any(
        _is(a, "WITHOUT") and _is(b, "ROWID") for a, b in itertools.pairwise(tokens)
    )
    info = conn.execute(
        'SELECT name, type, "notnull", pk FROM pragma_table_info(?)', (name,)
    ).fetchall()
    pk_count = sum(1 for row in info if row[3])
    columns = {}
    for col, declared, notnull, pk in info:
        # A PRIMARY KEY column refuses NULL only as the rowid alias or in a WITHOUT ROWID table;
        # otherwise SQLite keeps its historical quirk and accepts NULL there.
        rowid_alias = pk and pk_count == 1 and declared.upper() == "INTEGER"
        enforced = bool(notnull) or bool(pk and (without_rowid or rowid_alias))
        columns[col] = Column(col, declared, enforced)
    return Table(name, columns, column_checks(tokens), _foreign_keys(conn, name, columns))


def _foreign_keys(
    conn: sqlite3.Connection, name: str, columns: dict[str, Column]
) -> dict[str, ForeignKey]:
    """Read the single-column foreign keys of a table, resolving an implicit parent key."""
    keys = {}
    rows = conn.execute(
        'SELECT "from", "table", "to", on_delete FROM pragma_foreign_key_list(?)', (name,)
    ).fetchall()
    for column, parent, to, on_delete in rows:
        if to is None:  # `REFERENCES parent` names the parent's primary key implicitly
            pks = conn.execute(
                "SELECT name FROM pragma_table_info(?) WHERE pk ORDER BY pk", (parent,)
            ).fetchall()
            to = pks[0][0] if pks else "?"
        if column in columns:
            keys[column] = ForeignKey(column, parent, to, on_delete)
    return keys


def check_expressions(tokens: list[Token]) -> list[list[Token]]:
    """Return the token lists inside every ``CHECK ( ... )`` of a CREATE TABLE statement."""
    found = []
    i = 0
    while i < len(tokens) - 1:
        if _is(tokens[i], "CHECK") and tokens[i + 1].text == "(":
            end = _closing(tokens, i + 1)
            found.append(tokens[i + 2 : end])
            i = end
        i += 1
    return found


def _closing(tokens: list[Token], start: int) -> int:
    """Return the index of the parenthesis that closes the one at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].text == "(":
            depth += 1
        elif tokens[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(tokens)


def column_checks(tokens: list[Token]) -> dict[str, ColumnChecks]:
    """Collect allowed-values lists, bounds and ``json_valid`` per column from CHECKs."""
    checks: dict[str, ColumnChecks] = {}
    for expression in check_expressions(tokens):
        for term in _conjuncts(_drop_null_alternative(_unwrap(expression))):
            for column, kind, value in _facts(_unwrap(term)):
                entry = checks.setdefault(column, ColumnChecks())
                if kind == "in" and isinstance(value, tuple):
                    entry.allowed = value
                elif kind == "json":
                    entry.json = True
                elif kind == "finite":
                    entry.finite = True
                else:
                    entry.bounds.add((kind, value))
    return checks


def _facts(tokens: list[Token]) -> list[tuple[str, str, object]]:
    """Return what one term of a CHECK says: a BETWEEN gives two bounds, others one fact."""
    between = between_bounds(tokens)
    if between:
        return between
    fact = _fact(tokens)
    return [fact] if fact else []


def _unwrap(tokens: list[Token]) -> list[Token]:
    """Strip parentheses that enclose the whole expression."""
    while tokens and tokens[0].text == "(" and _closing(tokens, 0) == len(tokens) - 1:
        tokens = tokens[1:-1]
    return tokens


def _split(tokens: list[Token], word: str) -> list[list[Token]]:
    """Split an expression on a top-level keyword (``AND``/``OR``), outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    between = False  # the AND of `x BETWEEN a AND b` does not split
    for token in tokens:
        depth += (token.text == "(") - (token.text == ")")
        if _is(token, "BETWEEN"):
            between = True
        elif depth == 0 and _is(token, word) and not (word == "AND" and between):
            parts.append([])
            continue
        elif _is(token, "AND"):
            between = False
        parts[-1].append(token)
    return parts


def _drop_null_alternative(tokens: list[Token]) -> list[Token]:
    """Turn ``col IS NULL OR <test>`` into ``<test>``: NULL-ness is NOT NULL's business."""
    parts = _split(tokens, "OR")
    kept = [p for p in parts if not (len(p) == 3 and _is(p[1], "IS") and _is(p[2], "NULL"))]
    return _unwrap(kept[0]) if len(kept) == 1 else tokens


def _conjuncts(tokens: list[Token]) -> list[list[Token]]:
    """Split an expression on top-level ``AND``."""
    return _split(tokens, "AND")


def _fact(tokens: list[Token]) -> tuple[str, str, object] | None:
    """Recognise one CHECK term as ``(column, kind, value)``, or None.

    Recognised: ``col IN (...)``, ``col >= n`` (either way round), ``json_valid(col)`` and
    ``abs(col) < 9e999`` (or ``< 'Infinity'``, PostgreSQL's form): the column is finite.
    """
    if len(tokens) == 6 and _is(tokens[0], "ABS") and tokens[1].text == "(" and _is(tokens[4], "<"):
        column = tokens[2].name
        limit = tokens[5]
        infinite = (limit.kind == "number" and float(limit.text) == float("inf")) or (
            limit.kind == "string" and limit.literal() == "Infinity"
        )
        return (column, "finite", True) if column and infinite and tokens[3].text == ")" else None
    if len(tokens) == 4 and _is(tokens[0], "JSON_VALID") and tokens[1].text == "(":
        column = tokens[2].name
        return (column, "json", True) if column else None
    if len(tokens) >= 4 and _is(tokens[1], "IN") and tokens[2].text == "(":
        values = _literals(tokens[3:-1])
        column = tokens[0].name
        return (column, "in", tuple(values)) if column and values is not None else None
    if len(tokens) == 3 and tokens[1].text in _FLIP:
        if tokens[0].name and tokens[2].kind in ("number", "string"):
            return tokens[0].name, tokens[1].text, tokens[2].literal()
        if tokens[2].name and tokens[0].kind in ("number", "string"):
            return tokens[2].name, _FLIP[tokens[1].text], tokens[0].literal()
    return None


def _literals(tokens: list[Token]) -> list[object] | None:
    """Return the values of a comma-separated list of literals, or None if it is not one."""
    values = []
    for i, token in enumerate(tokens):
        if i % 2 == 1:
            if token.text != ",":
                return None
        elif token.kind in ("string", "number"):
            values.append(token.literal())
        else:
            return None
    return values


def between_bounds(tokens: list[Token]) -> list[tuple[str, str, object]]:
    """Recognise ``col BETWEEN a AND b`` as the two bounds ``>= a`` and ``<= b``."""
    if len(tokens) == 5 and tokens[0].name and _is(tokens[1], "BETWEEN") and _is(tokens[3], "AND"):
        return [
            (tokens[0].name, ">=", tokens[2].literal()),
            (tokens[0].name, "<=", tokens[4].literal()),
        ]
    return []


@dataclass(frozen=True)
class Statement:
    """One SQL statement found in a Python module: its line and text."""

    line: int
    sql: str

    @property
    def short(self) -> str:
        """Return the statement on one line, shortened for messages."""
        flat = " ".join(self.sql.split())
        return flat if len(flat) <= 80 else flat[:77] + "..."


def by_line(statements: Iterable[Statement]) -> dict[str, str]:
    """Name each statement by its line: ``line 7``, then ``line 7 (2)`` for a second one there.

    Two literals on one line are two statements: named by the line alone, the last replaced
    the others (``("SELECT pg_read_file('/etc/passwd')", "SELECT 1")`` was checked as one).
    """
    named: dict[str, str] = {}
    for statement in statements:
        name, count = f"line {statement.line}", 1
        while name in named:
            count += 1
            name = f"line {statement.line} ({count})"
        named[name] = statement.sql
    return named


# The last modules parsed and walked: the checks of one run read the database module several
# times (its statements, its literals, its SCHEMA_VERSION), each walk of a module of thousands
# of lines a second or more. No check changes a tree it is given.
_PARSED: list[tuple[str, ast.Module]] = []
_WALKED: list[tuple[ast.AST, list[ast.AST]]] = []
_KEPT = 2
KEPT_SIZE = 1 << 20  # characters, nodes: a larger module is parsed and walked each time


def walk(tree: ast.AST) -> list[ast.AST]:
    """Return the nodes of ``ast.walk(tree)``, in its order, walked once for the last trees."""
    for known, nodes in _WALKED:
        if known is tree:
            return nodes
    nodes = list(ast.walk(tree))
    if len(nodes) <= KEPT_SIZE:
        _WALKED.insert(0, (tree, nodes))
        del _WALKED[_KEPT:]
    return nodes


_INDEXED: list[tuple[ast.AST, dict[type, list[tuple[int, ast.AST]]]]] = []


def nodes_of(tree: ast.AST, *kinds: type[ast.AST]) -> list[ast.AST]:
    """Return the nodes of :func:`walk` whose type is one of ``kinds``, in its order.

    The walked nodes are indexed by type once for the last trees: each check's pass over
    every node of a module (thirty of them, for one type or a few) was most of the time
    checking the generated database module. Only exact types (those ``ast.parse`` makes),
    not their bases (``ast.expr``).
    """
    index = made_once(_INDEXED, tree, _by_type)
    if len(kinds) == 1:
        return [node for _, node in index.get(kinds[0], [])]
    return [node for _, node in heapq.merge(*(index.get(kind, []) for kind in kinds))]


def _by_type(tree: ast.AST) -> dict[type, list[tuple[int, ast.AST]]]:
    """Return the walked nodes of ``tree`` by type, each with its place in the walk."""
    index: dict[type, list[tuple[int, ast.AST]]] = {}
    for at, node in enumerate(walk(tree)):
        index.setdefault(type(node), []).append((at, node))
    return index


def parse_python(source: str) -> ast.Module:
    """Parse a module with ``ast.parse``; what hostile source makes it raise is a SyntaxError.

    A leading byte-order mark is dropped, as Python drops it when it imports the file (an
    editor may write one); ``ast.parse`` of the text refuses it. The tree of the same source
    as one of the last two parsed (up to a MiB) is that one's (never changed by its readers).

    Raises:
        SyntaxError: The module is not valid Python, or nests too deeply or is too large for
            the parser (which raises RecursionError or MemoryError then), or holds a null
            byte (a ValueError before Python 3.11.4).
    """
    for known, parsed in _PARSED:
        if known == source:
            return parsed
    _check_declared_encoding(source)
    try:  # a UTF-8 byte-order mark opens a module as Python reads it: not part of the code
        tree = ast.parse(source.removeprefix("\ufeff"))
    except (RecursionError, MemoryError):
        msg = "nested too deeply or too large to parse"
        raise SyntaxError(msg) from None
    except ValueError as exc:  # "source code string cannot contain null bytes"
        raise SyntaxError(str(exc)) from None
    if len(source) <= KEPT_SIZE:
        _PARSED.insert(0, (source, tree))
        del _PARSED[_KEPT:]
    return tree


def _check_declared_encoding(source: str) -> None:
    """Refuse a module whose encoding declaration makes Python read other code than its text.

    The module is read as UTF-8 text and parsed as that text, but Python decodes its bytes
    by the ``# coding:`` line: under ``utf-7`` or ``unicode_escape`` a comment of
    ASCII can hold a line of code (``SCHEMA_VERSION = 2  # +AAoA…`` runs
    ``SCHEMA_VERSION = 3``), and a module that declares an unknown encoding does not import.

    Raises:
        SyntaxError: The declaration is unknown, or the bytes read otherwise under it.
    """
    import io
    import tokenize

    try:
        data = source.encode("utf-8")
    except UnicodeEncodeError:  # half a character: not text Python reads either
        msg = "it holds a lone surrogate, which is not UTF-8 text"
        raise SyntaxError(msg) from None
    declared, _ = tokenize.detect_encoding(io.BytesIO(data).readline)  # SyntaxError: unknown
    if declared in ("utf-8", "utf-8-sig"):
        return
    try:
        same = data.decode(declared) == source
    except Exception:  # any codec's failure (punycode: UnicodeError)
        same = False
    if not same:
        msg = (
            f"it declares the encoding {declared}, in which Python reads other code than its "
            "UTF-8 text (remove the declaration: Python reads UTF-8)"
        )
        error = SyntaxError(msg)
        error.lineno = 1 if "coding" in source.partition("\n")[0] else 2
        raise error


def statements(source: str | ast.Module, start: re.Pattern[str] = _SQL_START) -> list[Statement]:
    """Find the SQL statements of a Python module (its source, or its tree once parsed).

    They are the complete string literals (not docstrings, not parts of f-strings with a
    placeholder) that start with an upper-case SELECT, INSERT, UPDATE, DELETE, WITH or REPLACE
    (or match ``start``). An f-string without a placeholder is a complete literal.

    Raises:
        SyntaxError: The module is not valid Python.
    """
    tree = parse_python(source) if isinstance(source, str) else source
    found = [Statement(line, text) for line, text in complete_literals(tree) if start.match(text)]
    return sorted(found, key=lambda s: s.line)


_COMPLETE: list[tuple[ast.AST, list[tuple[int, str]]]] = []


def complete_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """Return ``(line, text)`` of a module's complete string literals (see :func:`statements`)."""
    for known, nodes in _COMPLETE:
        if known is tree:
            return nodes
    skip = _docstrings(tree)
    found = []
    for node in nodes_of(tree, ast.JoinedStr):
        if isinstance(node, ast.JoinedStr) and not all(
            isinstance(value, ast.Constant) for value in node.values
        ):
            skip.update(id(value) for value in node.values)
    for node, text, parts in constant_sums(tree):
        found.append((node.lineno, text))
        skip.update(id(part) for part in parts)
    found += [
        (node.lineno, node.value)
        for node in nodes_of(tree, ast.Constant)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]
    if len(found) <= KEPT_SIZE:
        _COMPLETE.insert(0, (tree, found))
        del _COMPLETE[_KEPT:]
    return found


Tree = TypeVar("Tree", bound=ast.AST)


def made_once(kept: list[tuple[Tree, Made]], tree: Tree, make: Callable[[Tree], Made]) -> Made:
    """Return ``make(tree)``, made once for the last trees (``kept`` holds them, newest first).

    The trees are told apart by identity: no check changes a tree it is given.
    """
    for known, made in kept:
        if known is tree:
            return made
    made = make(tree)
    kept.insert(0, (tree, made))
    del kept[_KEPT:]
    return made


_FOLDERS: list[tuple[ast.AST, computed.Folder]] = []


def folder(tree: ast.Module) -> computed.Folder:
    """Return the :class:`computed.Folder` of a module, made once for the last trees."""
    return made_once(_FOLDERS, tree, lambda tree: computed.Folder(walk(tree)))


def constant_sums(tree: ast.Module) -> list[tuple[ast.expr, str, list[ast.Constant]]]:
    """Return each outermost string the module computes of constants, its text and constants.

    Python compiles ``"select load_e" + "xtension('x')"`` to the one string it makes: it is
    the literal, not its two halves; so are ``"select %s" % "load_extension('x')"``,
    ``"".join([…])``, ``.format``, an f-string whose fields are constants, ``"…"[:-1]``
    and ``*`` by an int, of constants or names the module binds once to them
    (:mod:`tac_bootstrap.computed`). A name bound otherwise, a call or an f-string field of a
    variable is the module's own code, not a literal.
    """
    made = folder(tree)
    inner = {  # the + inside a chain of +: the chain is read whole
        id(side)
        for node in nodes_of(tree, ast.BinOp)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
        for side in (node.left, node.right)
        if isinstance(side, ast.BinOp) and isinstance(side.op, ast.Add)
    }
    found: list[tuple[ast.expr, str, list[ast.Constant]]] = []
    covered: set[int] = set()
    for name, made_node, made_text in chain_sums(made):
        parts = list(ast.walk(made_node)) if name in made.straight else []
        covered.update(id(part) for part in parts)  # Q = "SELECT "; Q += "1": never "SELECT "
        found.append((made_node, made_text, [p for p in parts if isinstance(p, ast.Constant)]))
    for node in nodes_of(tree, ast.BinOp, ast.Subscript, ast.JoinedStr, ast.Call):
        if id(node) in covered or id(node) in inner or not isinstance(node, ast.expr):
            continue
        if not computes(node, made):
            continue
        try:
            text = made.text(node)
        except computed.Unreadable:
            continue
        if text is not None:
            parts = list(ast.walk(node))
            covered.update(id(part) for part in parts)
            constants = [p for p in parts if isinstance(p, ast.Constant)]
            found.append((node, text, constants))
    return found


def chain_sums(made: computed.Folder) -> list[tuple[str, ast.expr, str]]:
    """Return each string a name bound once and added to makes of constants (``Q += "…"``).

    ``Q = "select "`` … ``Q += "load_extension('x')"``: each addition taken or left out, as
    an ``if`` may skip it (:meth:`computed.Folder.chain_strings`); the name bound alone is the
    literal it is bound to, read already.
    """
    found: list[tuple[str, ast.expr, str]] = []
    for name in made.chains:
        try:
            found += [(name, node, text) for node, text in made.chain_strings(name)]
        except computed.Unreadable:
            continue
    return found


def computes(node: ast.AST, made: computed.Folder | None = None) -> bool:
    """Return whether a node is a form Python may compute a string with (see constant_sums).

    With ``made``, a call of a function of :data:`computed.DECODERS` as the module imports it
    (``from codecs import decode`` … ``decode("…", "rot13")``) too.
    """
    if isinstance(node, ast.BinOp | ast.Subscript):
        return True
    if isinstance(node, ast.JoinedStr):
        return not all(isinstance(value, ast.Constant) for value in node.values)
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr in computed.METHODS)
        or (isinstance(node.func, ast.Name) and node.func.id == "str")
        or (made is not None and made.decoder(node.func) is not None)
    )


def addends(node: ast.expr) -> list[ast.expr]:
    """Return the operands of a chain of ``+``, in order (``[node]`` when it is no ``+``)."""
    parts: list[ast.expr] = []
    todo: list[ast.expr] = [node]
    while todo:  # not recursive: a chain of thousands of + would reach Python's limit
        part = todo.pop()
        if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Add):
            todo += [part.right, part.left]
        else:
            parts.append(part)
    return parts


def added_constants(node: ast.expr) -> list[ast.Constant] | None:
    """Return the string constants a ``+`` of only string constants adds, or None."""
    parts = addends(node)
    constants = [
        part for part in parts if isinstance(part, ast.Constant) and isinstance(part.value, str)
    ]
    return constants if len(parts) > 1 and len(constants) == len(parts) else None


def _docstrings(tree: ast.Module) -> set[int]:
    """Return the ids of every docstring node of a module."""
    found = set()
    for node in nodes_of(tree, ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


class PrepareTimeError(TacBootstrapError):
    """Preparing a module's statements against the schema took longer than any schema needs."""


K = TypeVar("K")


def prepare_errors(
    conn: sqlite3.Connection, statements: Iterable[tuple[K, str]], name: str
) -> list[tuple[K, str]]:
    """Return ``(key, complaint)`` of each statement that does not prepare (:func:`prepare_error`).

    Within :data:`MAX_SECONDS` of CPU time in all. Preparing runs nothing, but compiling a
    statement expands every view it reads: sixteen views that each read the one before twice
    (``UNION ALL``) made one ``SELECT`` 32,768 queries, a second or more to compile, which
    neither the progress handler nor an interrupt stops; a module holds up to thousands.

    Raises:
        PrepareTimeError: The time was spent before the last statement; names ``name``.
    """
    found = []
    listed = list(statements)
    started = time.thread_time()
    for done, (key, sql) in enumerate(listed, 1):
        error = prepare_error(conn, sql)
        if error:
            found.append((key, error))
        if done < len(listed) and time.thread_time() - started > MAX_SECONDS:
            msg = (
                f"{name}: preparing its statements against the schema took more than "
                f"{MAX_SECONDS:.0f} s of CPU, stopped after {done:,} of {len(listed):,} (each "
                "statement expands the views it reads, and views that read another view more "
                "than once expand to thousands of queries)"
            )
            raise PrepareTimeError(msg)
    return found


def prepare_error(conn: sqlite3.Connection, sql: str) -> str | None:
    """Prepare each statement of ``sql`` with EXPLAIN; return SQLite's complaint, or None."""
    if "\x00" in sql:  # sqlite3 raises ValueError on it (complete_statement, execute)
        return "the query contains a null character"
    if not sql.isascii() and _SURROGATE.search(sql):  # complete_statement would raise on it
        return _SURROGATE_TEXT
    for piece in _split_statements(sql):
        try:
            conn.execute("EXPLAIN " + piece, _parameters(piece)).fetchall()
        except sqlite3.Error as exc:
            return str(exc)
        except UnicodeEncodeError:  # a lone surrogate in a Python string: not UTF-8
            return _SURROGATE_TEXT
        except MemoryError:  # SQLite's heap limit (MAX_MEMORY): it ended the check, exit 2
            return f"compiling it {MEMORY_TEXT}"
    return None


def _split_statements(sql: str) -> list[str]:
    """Split SQL on top-level semicolons (outside strings and comments)."""
    return [piece for _, piece in _statement_pieces(sql)]


def _statement_pieces(sql: str) -> list[tuple[int, str]]:
    """Split SQL into statements as SQLite does: ``(offset, text)`` of each, without the ``;``.

    A cut is made at a semicolon outside strings and comments where SQLite says the text so
    far is a complete statement (so a trigger's ``BEGIN ... END`` body stays whole).
    """
    pieces, start, body = [], 0, -1
    for match in _TOKEN.finditer(sql):
        if match.lastgroup != "op" or match.group() != ";":
            continue
        # A semicolon that ends no statement is inside a trigger's body, where only what
        # follows it decides (sqlite3_complete's state after it is the same): the text since
        # then is asked about, not all of it again (a body of 100,000 statements: minutes).
        text = sql[start : match.end()] if body < 0 else _IN_TRIGGER + sql[body : match.end()]
        # sqlite3 raises ValueError on a NUL byte (a file saved as UTF-16 without its BOM): it
        # is read as a space here, and refused where the text is run (see nul_line).
        if sqlite3.complete_statement(text.replace("\0", " ")):
            pieces.append((start, sql[start : match.start()]))
            start, body = match.end(), -1
        else:
            body = match.end()
    pieces.append((start, sql[start:]))
    return [(offset, p) for offset, p in pieces if _first_token(p)]


def _parameters(sql: str) -> tuple[None, ...] | dict[str, None]:
    """Return NULL bindings for every parameter, so that EXPLAIN can prepare the statement."""
    params = [t.text for t in tokenize(sql) if t.kind == "param"]
    named = {p[1:]: None for p in params if not p.startswith("?")}
    if named:
        return named
    # ?NNN past SQLite's limit (32766) is refused by SQLite itself: no need to bind that many.
    numbered = [min(int(p[1:]), _MAX_VARIABLE) for p in params if len(p) > 1]
    return (None,) * max([len(params), *numbered])
