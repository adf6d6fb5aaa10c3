"""Load an SQLite schema the way SQLite sees it, into a structure two schemas can be compared by.

Untrusted SQL (a schema file, a migration from a pull request) only ever runs in an in-memory
database whose authorizer refuses ATTACH and DETACH (``VACUUM INTO`` is an ATTACH too), every
PRAGMA but a few harmless ones, and the functions a schema may not call either
(``load_extension``, ``fts3_tokenizer``, ...); a progress handler stops a statement
that runs away. :func:`introspect` then reads tables (column order, declared types, NOT NULL,
defaults, CHECKs, collations, primary and unique keys, foreign keys with their actions),
indexes (columns, UNIQUE, partial WHERE), triggers and views from ``PRAGMA`` functions and
``sqlite_schema``. SQL text is compared by its tokens, so layout, comments, quoting and
keyword case never count as differences; :func:`differences` names each one that does.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import string
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from tac_bootstrap import sqlcheck
from tac_bootstrap.sqlcheck import Token

# SQLite folds the case of names in ASCII only: "Id" is "iD", "Ä" is not "ä".
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def fold(name: str) -> str:
    """Return a name as SQLite compares it: ASCII letters in lower case, the rest as written."""
    return name.translate(_LOWER)


def upper(name: str) -> str:
    """Return a name or keyword with its ASCII letters in upper case (see :func:`fold`)."""
    return name.translate(_UPPER)


# PRAGMAs a migration may run besides the settings a schema may hold (sqlcheck.SETTINGS):
# they touch only the in-memory database.
_PRAGMAS = frozenset(
    {
        "user_version",
        "foreign_keys",
        "journal_mode",
        "synchronous",
        "busy_timeout",
        "application_id",
        "defer_foreign_keys",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
        "recursive_triggers",
        "legacy_alter_table",  # SQLite's documented way to rename a table views still read
        "encoding",
        "auto_vacuum",
        "page_size",
        "cache_size",
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
    }
)
_STEPS = 1000  # the progress handler runs every this many virtual machine instructions
_MAX_CALLS = 200_000  # ... and stops a statement after 200 million of them
_CONSTRAINT_WORDS = ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")


class SchemaLoadError(Exception):
    """SQL failed to run in the sandbox: a syntax error, a refused action or a runaway loop."""


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """Allow what schemas and migrations need; deny files, extensions and unknown PRAGMAs."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE):
        return sqlite3.SQLITE_DENY  # a schema refuses them too; dbstat has no column list
    if sqlcheck.reaches_pages(action, arg1):
        return sqlite3.SQLITE_DENY  # UPDATE sqlite_dbpage SET data = … rewrites raw pages
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name == "temp_store" and not sqlcheck.in_memory(arg2):
            return sqlite3.SQLITE_DENY  # a temporary file, as the schema's guard refuses
        if name not in _PRAGMAS and name not in sqlcheck.SETTINGS:
            return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in sqlcheck.FILE_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _authorize_step(action: int, arg1: str | None, arg2: str | None, *rest: object) -> int:
    """As :func:`_authorize`, with ``PRAGMA foreign_keys = …`` a no-op (see run_script)."""
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "foreign_keys" and arg2:
        return sqlite3.SQLITE_IGNORE
    return _authorize(action, arg1, arg2, *rest)


class Budget:
    """The SQLite steps and CPU time untrusted SQL may spend, shared by the scripts run under it.

    Time counts only while a script runs (:meth:`running`): a step may cost a whole value's
    length, so steps alone let a migration run for hours (see :data:`sqlcheck.MAX_SECONDS`).
    """

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0  # spent by the scripts that ended
        self.started: float | None = None  # when the running script started
        self.out_of_time = False

    def __call__(self) -> int:
        """Count a block of steps; stop the statement (non-zero) once the budget is spent."""
        self.calls += 1
        if self.calls > _MAX_CALLS:
            return 1
        if self.started is not None and (
            self.seconds + time.thread_time() - self.started > sqlcheck.MAX_SECONDS
        ):
            self.out_of_time = True
            return 1
        return 0

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Count the thread's CPU time while a script runs."""
        self.started = time.thread_time()
        try:
            yield
        finally:
            self.seconds += time.thread_time() - self.started
            self.started = None


def sandbox() -> sqlite3.Connection:
    """Return an empty in-memory database guarded for running untrusted SQL.

    Ctrl-C cannot land in :func:`run_script`'s callbacks; no value is longer than 10 MB, and
    SQLite's memory is bounded (:func:`sqlcheck.connect_untrusted`).
    """
    return sqlcheck.connect_untrusted()


def run_script(
    conn: sqlite3.Connection, sql: str, budget: Budget | None = None, *, step: bool = False
) -> None:
    """Run untrusted SQL in a :func:`sandbox` database under the authorizer and a step budget.

    ``budget`` is shared by the scripts given the same one (a chain of migrations), else the
    script has its own. Only the script is counted: reading what it built afterwards is not
    stopped by a budget it spent (that ended the check with an "interrupted" traceback).
    ``step``: the script is a migration, which the project's runner runs inside a transaction,
    where ``PRAGMA foreign_keys = …`` does nothing: here it does nothing either.

    Raises:
        SchemaLoadError: SQLite refused or failed a statement (its message says which).
    """
    nul = sqlcheck.nul_line(sql)
    if nul is not None:  # sqlite3 would raise ValueError on it
        msg = f"line {nul} holds a NUL byte, which is not SQL"
        raise SchemaLoadError(msg)
    budget = budget or Budget()
    conn.set_authorizer(_authorize_step if step else _authorize)
    conn.set_progress_handler(budget, _STEPS)
    try:
        with budget.running():
            conn.executescript(sql)
    except (sqlite3.Error, MemoryError) as exc:  # MemoryError: SQLite's heap limit
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, MemoryError):
            msg = f"stopped: it {sqlcheck.MEMORY_TEXT} (a migration needs far less)"
            raise SchemaLoadError(msg) from None
        if budget.out_of_time:
            msg = (
                f"stopped after {sqlcheck.MAX_SECONDS:.0f} s of SQLite work "
                "(a migration chain runs in seconds at most)"
            )
            raise SchemaLoadError(msg) from None
        slow = sqlcheck.slow_calls(conn)
        if slow:
            msg = f"stopped: it calls {slow[0]} (SQLite would spend minutes or more on that call)"
            raise SchemaLoadError(msg) from None
        raise SchemaLoadError(str(exc)) from exc
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_authorizer(None)


def load(sql: str) -> sqlite3.Connection:
    """Run a schema in a fresh sandbox database and return it.

    Raises:
        SchemaLoadError: The schema does not run.
    """
    conn = sandbox()
    try:
        run_script(conn, sql)
    except SchemaLoadError:
        conn.close()
        raise
    return conn


@dataclass(frozen=True)
class Sql:
    """A piece of SQL: equal to another when their tokens are (case, quotes, layout aside)."""

    key: tuple[str, ...]
    text: str = field(compare=False)

    @classmethod
    def of(cls, tokens: list[Token]) -> Sql:
        """Build from tokens: identifiers and keywords compare case-insensitively, unquoted."""
        key = tuple(upper(t.name or "") if t.kind in ("word", "ident") else t.text for t in tokens)
        return cls(key, show(tokens))

    @classmethod
    def parse(cls, sql: str) -> Sql:
        """Build from SQL text."""
        return cls.of(sqlcheck.tokenize(sql))

    def __str__(self) -> str:
        return self.text


def show(tokens: list[Token]) -> str:
    """Return tokens as one line of SQL, with the usual spacing around parentheses and commas."""
    out = ""
    previous: Token | None = None
    for token in tokens:
        call = token.text == "(" and previous is not None and previous.kind == "word"
        glue = (
            previous is None
            or previous.text in ("(", ".")
            or token.text in (")", ",", ".", ";")
            or (call and previous is not None and not previous.text.isupper())
        )
        out += token.text if glue else " " + token.text
        previous = token
    return out


@dataclass(frozen=True)
class Column:
    """One column: everything SQLite enforces about it, in a comparable form."""

    name: str
    type: str
    notnull: bool
    default: Sql | None
    checks: tuple[Sql, ...]
    collate: str | None
    generated: int
    definition: str = field(compare=False)
    source: str = field(compare=False, default="")

    @property
    def key(self) -> str:
        """Return the name as SQLite compares it."""
        return fold(self.name)


@dataclass(frozen=True)
class ForeignKey:
    """``(columns) REFERENCES table (to)`` with its actions."""

    columns: tuple[str, ...]
    table: str
    to: tuple[str, ...]
    on_update: str
    on_delete: str

    def __str__(self) -> str:
        text = f"REFERENCES {self.table}({', '.join(self.to)})"
        if self.on_delete != "NO ACTION":
            text += f" ON DELETE {self.on_delete}"
        if self.on_update != "NO ACTION":
            text += f" ON UPDATE {self.on_update}"
        return text


@dataclass(frozen=True)
class Table:
    """One table: its columns in order and its table-level constraints."""

    name: str
    columns: tuple[Column, ...]
    checks: tuple[Sql, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...]
    foreign_keys: tuple[ForeignKey, ...]
    options: tuple[str, ...]
    sql: str = field(compare=False)

    def column(self, name: str) -> Column | None:
        """Return the column of that name (case-insensitive), or None."""
        return next((c for c in self.columns if c.key == fold(name)), None)


@dataclass(frozen=True)
class Index:
    """A named index: its table, key columns or expressions, UNIQUE and partial WHERE."""

    name: str
    table: str
    columns: Sql
    unique: bool
    where: Sql | None
    sql: str = field(compare=False)

    def __str__(self) -> str:
        unique = "UNIQUE " if self.unique else ""
        where = f" WHERE {self.where}" if self.where else ""
        return f"{unique}ON {self.table}({self.columns}){where}"


@dataclass(frozen=True)
class Trigger:
    """A trigger or a view: its table and its statement, compared token by token."""

    name: str
    table: str
    body: Sql
    sql: str = field(compare=False)


@dataclass(frozen=True)
class Schema:
    """Everything a database's schema holds, keyed by lower-case name."""

    tables: dict[str, Table]
    indexes: dict[str, Index]
    triggers: dict[str, Trigger]
    views: dict[str, Trigger]
    user_version: int = field(compare=False)


def introspect(conn: sqlite3.Connection) -> Schema:
    """Read the schema of a database (run the untrusted SQL through :func:`run_script` first)."""
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema"
        " WHERE name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    schema = Schema({}, {}, {}, {}, conn.execute("PRAGMA user_version").fetchone()[0])
    for kind, name, table, sql in rows:
        if kind == "table":
            schema.tables[fold(name)] = _table(conn, name, sql)
        elif kind == "index":
            schema.indexes[fold(name)] = _index(name, table, sql)
        elif kind == "trigger":
            schema.triggers[fold(name)] = Trigger(name, table, _body(sql), sql)
        elif kind == "view":
            schema.views[fold(name)] = Trigger(name, table, _body(sql), sql)
    return schema


def load_schema(sql: str) -> Schema:
    """Run a schema in a sandbox and return what it builds.

    Raises:
        SchemaLoadError: The schema does not run.
    """
    conn = load(sql)
    try:
        return introspect(conn)
    finally:
        conn.close()


def spans(sql: str) -> list[tuple[Token, int, int]]:
    """Tokenize SQL keeping each token's start and end offsets (no spaces or comments)."""
    found = []
    for match in sqlcheck._TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        if kind != "space":
            found.append((Token(kind, match.group()), match.start(), match.end()))
    return found


def definitions(sql: str) -> tuple[tuple[int, int], list[tuple[int, int]], int]:
    """Split a CREATE TABLE statement's parenthesised body at its top-level commas.

    Returns:
        The (start, end) offsets of the table name, those of each column definition or table
        constraint (spaces and comments around it left out), and the offset just past the
        closing parenthesis.
    """
    toks = spans(sql)
    open_at = next(i for i, (t, _, _) in enumerate(toks) if t.text == "(")
    name_at = (toks[open_at - 1][1], toks[open_at - 1][2])
    parts: list[tuple[int, int]] = []
    depth, first = 0, open_at + 1
    for i in range(open_at, len(toks)):
        text = toks[i][0].text
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        if (depth == 1 and text == ",") or depth == 0:
            if first < i:
                parts.append((toks[first][1], toks[i - 1][2]))
            first = i + 1
        if depth == 0:
            return name_at, parts, toks[i][2]
    return name_at, parts, len(sql)


def _table(conn: sqlite3.Connection, name: str, sql: str) -> Table:
    """Introspect one table."""
    _, parts, end = definitions(sql)
    column_defs: dict[str, tuple[list[Token], str]] = {}
    checks = []
    for start, stop in parts:
        tokens = sqlcheck.tokenize(sql[start:stop])
        if tokens[0].kind == "word" and tokens[0].text.upper() in _CONSTRAINT_WORDS:
            checks += [Sql.of(e) for e in _checks(tokens)]
        else:
            column_defs[fold(tokens[0].name or "")] = (tokens, sql[start:stop])
    info = conn.execute(
        'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?)', (name,)
    ).fetchall()
    columns = tuple(_column(row, *column_defs.get(fold(row[0]), ([], ""))) for row in info)
    primary_key = tuple(r[0] for r in sorted((r for r in info if r[4]), key=lambda r: r[4]))
    options = tuple(upper(t.text) for t in sqlcheck.tokenize(sql[end:]) if t.kind == "word")
    return Table(
        name=name,
        columns=columns,
        checks=tuple(sorted(checks, key=lambda s: s.key)),
        primary_key=primary_key,
        unique=_unique(conn, name),
        foreign_keys=_foreign_keys(conn, name),
        options=options,
        sql=sql,
    )


def _column(
    row: tuple[str, str, int, str | None, int, int], tokens: list[Token], source: str
) -> Column:
    """Describe a column from its ``table_xinfo`` row and its definition (tokens and text)."""
    name, declared, notnull, default, _pk, hidden = row
    collate = next(
        (
            upper(b.name or "")
            for a, b in itertools.pairwise(tokens)
            if a.kind == "word" and a.text.upper() == "COLLATE"
        ),
        None,
    )
    return Column(
        name=name,
        type=" ".join(upper(declared).split()),
        notnull=bool(notnull),
        default=None if default is None else Sql.parse(default),
        checks=tuple(Sql.of(e) for e in _checks(tokens)),
        collate=collate,
        generated=hidden,
        definition=show(tokens),
        source=source,
    )


def _checks(tokens: list[Token]) -> Iterator[list[Token]]:
    """Yield each ``CHECK ( ... )`` expression of a definition, parentheses included."""
    for expression in sqlcheck.check_expressions(tokens):
        yield [Token("op", "("), *expression, Token("op", ")")]


def _unique(conn: sqlite3.Connection, name: str) -> tuple[tuple[str, ...], ...]:
    """Return the column lists of the table's UNIQUE constraints."""
    found = []
    for index, origin in conn.execute(
        "SELECT name, origin FROM pragma_index_list(?)", (name,)
    ).fetchall():
        if origin == "u":
            cols = conn.execute(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (index,)
            ).fetchall()
            found.append(tuple(c[0] or "?" for c in cols))
    return tuple(sorted(found))


def _foreign_keys(conn: sqlite3.Connection, name: str) -> tuple[ForeignKey, ...]:
    """Return the table's foreign keys, an implicit parent key resolved to the parent's key."""
    rows = conn.execute(
        'SELECT id, seq, "table", "from", "to", on_update, on_delete'
        " FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        (name,),
    ).fetchall()
    grouped: dict[int, list[tuple[str, str, str | None, str, str]]] = {}
    for fk_id, _seq, parent, src, to, on_update, on_delete in rows:
        grouped.setdefault(fk_id, []).append((parent, src, to, on_update, on_delete))
    keys = []
    for parts in grouped.values():
        parent, _, _, on_update, on_delete = parts[0]
        to = [p[2] for p in parts]
        if None in to:
            pks = conn.execute(
                "SELECT name FROM pragma_table_info(?) WHERE pk ORDER BY pk", (parent,)
            ).fetchall()
            to = [r[0] for r in pks] or ["?"]
        keys.append(
            ForeignKey(
                columns=tuple(p[1] for p in parts),
                table=fold(parent),
                to=tuple(str(t) for t in to),
                on_update=on_update,
                on_delete=on_delete,
            )
        )
    return tuple(sorted(keys, key=lambda k: (k.columns, k.table)))


def _index(name: str, table: str, sql: str) -> Index:
    """Describe an index from its CREATE INDEX statement."""
    tokens = sqlcheck.tokenize(sql)
    open_at = next(i for i, t in enumerate(tokens) if t.text == "(")
    close_at = sqlcheck._closing(tokens, open_at)
    rest = tokens[close_at + 1 :]
    where = Sql.of(rest[1:]) if rest and rest[0].text.upper() == "WHERE" else None
    return Index(
        name=name,
        table=table,
        columns=Sql.of(tokens[open_at + 1 : close_at]),
        unique=tokens[1].text.upper() == "UNIQUE",
        where=where,
        sql=sql,
    )


def _body(sql: str) -> Sql:
    """Return a CREATE TRIGGER or CREATE VIEW statement without IF NOT EXISTS and its name."""
    tokens = sqlcheck.tokenize(sql)
    words = [t.text.upper() for t in tokens[:8]]
    name_at = 2 if words[1] in ("TRIGGER", "VIEW") else 3  # CREATE [TEMP] TRIGGER name
    if words[name_at : name_at + 3] == ["IF", "NOT", "EXISTS"]:
        name_at += 3
    return Sql.of(tokens[name_at + 1 :])


@dataclass(frozen=True)
class Difference:
    """One thing two schemas disagree on: ``subject: the chain says …, the schema says …``."""

    table: str | None
    subject: str
    aspect: str
    old: str
    new: str

    def message(self, old_side: str = "the chain", new_side: str = "the schema") -> str:
        """Return the difference in words."""
        return f"{self.subject}: {old_side} says {self.old}, {new_side} says {self.new}"


def differences(old: Schema, new: Schema) -> list[Difference]:
    """Return every way ``old`` differs from ``new``, table by table, then indexes and triggers."""
    found: list[Difference] = []
    for key in _keys(old.tables, new.tables):
        found += _table_differences(old.tables.get(key), new.tables.get(key))
    for kind, olds, news in (
        ("index", old.indexes, new.indexes),
        ("trigger", old.triggers, new.triggers),
        ("view", old.views, new.views),
    ):
        for key in _keys(olds, news):
            before, after = olds.get(key), news.get(key)
            if _item_key(before) != _item_key(after):
                item = after or before
                assert item is not None  # noqa: S101 - the key came from one of the two
                found.append(
                    Difference(
                        fold(item.table),
                        f"{kind} {item.name}",
                        kind,
                        _describe(kind, before),
                        _describe(kind, after),
                    )
                )
    return found


def _item_key(item: Index | Trigger | None) -> tuple[object, ...] | None:
    """Return an index, trigger or view as SQLite compares it: names case-folded."""
    if item is None:
        return None
    if isinstance(item, Index):
        return (fold(item.name), fold(item.table), item.columns, item.unique, item.where)
    return (fold(item.name), fold(item.table), item.body)


def _keys(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    """Return the keys of both, in the new one's order, then those only the old one has."""
    return [*new, *(k for k in old if k not in new)]


def _describe(kind: str, item: Index | Trigger | None) -> str:
    """Describe an index, trigger or view for a message."""
    if item is None:
        return f"no such {kind}"
    return str(item) if isinstance(item, Index) else item.body.text


def _table_differences(old: Table | None, new: Table | None) -> list[Difference]:
    """Compare one table in two schemas."""
    if old is None or new is None:
        table = new or old
        assert table is not None  # noqa: S101 - the key came from one of the two
        said = f"table {table.name} ({', '.join(c.name for c in table.columns)})"
        return [
            Difference(
                fold(table.name),
                table.name,
                "table",
                said if old else "no such table",
                said if new else "no such table",
            )
        ]
    found = []
    for column in _column_names(old, new):
        found += _column_differences(new.name, old.column(column), new.column(column))
    shared_old = [c.name for c in old.columns if new.column(c.name)]
    shared_new = [c.name for c in new.columns if old.column(c.name)]
    if [fold(n) for n in shared_old] != [fold(n) for n in shared_new]:
        found.append(_diff(new, new.name, "order", _list(shared_old), _list(shared_new)))
    primary_keys = (_primary_key(old), _primary_key(new))
    for aspect, same, before, after in (
        ("checks", old.checks == new.checks, _table_checks(old), _table_checks(new)),
        ("primary key", _names(old.primary_key) == _names(new.primary_key), *primary_keys),
        ("unique", _uniques(old) == _uniques(new), _unique_text(old), _unique_text(new)),
        ("options", old.options == new.options, " ".join(old.options), " ".join(new.options)),
    ):
        if not same:
            found.append(_diff(new, new.name, aspect, before or "none", after or "none"))
    return found + _fk_differences(old, new)


def _fk_differences(old: Table, new: Table) -> list[Difference]:
    """Compare foreign keys, named by their column when they have one."""
    before = {tuple(map(fold, k.columns)): k for k in old.foreign_keys}
    after = {tuple(map(fold, k.columns)): k for k in new.foreign_keys}
    found = []
    for columns in [*after, *(c for c in before if c not in after)]:
        old_key, new_key = before.get(columns), after.get(columns)
        if _fk_key(old_key) != _fk_key(new_key):
            key = new_key or old_key
            assert key is not None  # noqa: S101 - the columns came from one of the two
            subject = f"{new.name}.{key.columns[0]}" if len(columns) == 1 else new.name
            found.append(_diff(new, subject, "foreign key", _fk_text(old_key), _fk_text(new_key)))
    return found


def _fk_key(key: ForeignKey | None) -> tuple[object, ...] | None:
    """Return a foreign key as SQLite compares it: names case-folded (see :func:`fold`)."""
    if key is None:
        return None
    names = (tuple(map(fold, key.columns)), fold(key.table), tuple(map(fold, key.to)))
    return (*names, key.on_update, key.on_delete)


def _fk_text(key: ForeignKey | None) -> str:
    """Describe a foreign key or its absence."""
    if key is None:
        return "no foreign key"
    return str(key) if len(key.columns) == 1 else f"FOREIGN KEY {_list(key.columns)} {key}"


def _column_names(old: Table, new: Table) -> list[str]:
    """Return the column names of both tables, the new table's order first."""
    names = [c.name for c in new.columns]
    return names + [c.name for c in old.columns if not new.column(c.name)]


def _column_differences(table: str, old: Column | None, new: Column | None) -> list[Difference]:
    """Compare one column: presence, type, NOT NULL, default, CHECKs, collation, generation."""
    subject = f"{table}.{(new or old).name}"  # type: ignore[union-attr]
    if old is None or new is None:
        return [
            Difference(
                fold(table),
                subject,
                "column",
                f"column {old.definition}" if old else "no such column",
                f"column {new.definition}" if new else "no such column",
            )
        ]
    pairs = (
        ("type", old.type, new.type, old.type or "no type", new.type or "no type"),
        ("NOT NULL", old.notnull, new.notnull, _null(old.notnull), _null(new.notnull)),
        ("default", old.default, new.default, _default(old.default), _default(new.default)),
        ("CHECK", old.checks, new.checks, _checks_text(old), _checks_text(new)),
        ("collation", old.collate, new.collate, _collate(old), _collate(new)),
        ("generated", old.generated, new.generated, _generated(old), _generated(new)),
    )
    return [
        Difference(fold(table), subject, aspect, before, after)
        for aspect, old_value, new_value, before, after in pairs
        if old_value != new_value
    ]


def _diff(table: Table, subject: str, aspect: str, old: str, new: str) -> Difference:
    """Build a table-level difference."""
    return Difference(fold(table.name), subject, aspect, old, new)


def _table_checks(table: Table) -> str:
    """Describe a table's table-level CHECK constraints."""
    return " and ".join(f"CHECK {c}" for c in table.checks)


def _primary_key(table: Table) -> str:
    """Describe a table's primary key."""
    return f"PRIMARY KEY {_list(table.primary_key)}" if table.primary_key else ""


def _unique_text(table: Table) -> str:
    """Describe a table's UNIQUE constraints."""
    return "; ".join(f"UNIQUE {_list(u)}" for u in table.unique)


def _list(names: tuple[str, ...] | list[str]) -> str:
    """Show a column list."""
    return f"({', '.join(names)})" if names else ""


def _names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return column names as SQLite compares them (see :func:`fold`)."""
    return tuple(map(fold, names))


def _uniques(table: Table) -> list[tuple[str, ...]]:
    """Return a table's UNIQUE column lists as SQLite compares them, in order."""
    return sorted(_names(names) for names in table.unique)


def _null(notnull: bool) -> str:
    """Describe NOT NULL."""
    return "NOT NULL" if notnull else "NULL allowed"


def _default(default: Sql | None) -> str:
    """Describe a default."""
    return f"DEFAULT {default}" if default is not None else "no default"


def _checks_text(column: Column) -> str:
    """Describe a column's CHECK constraints."""
    return " and ".join(f"CHECK {c}" for c in column.checks) or "no CHECK"


def _collate(column: Column) -> str:
    """Describe a column's collation."""
    return f"COLLATE {column.collate}" if column.collate else "no COLLATE"


def _generated(column: Column) -> str:
    """Describe whether a column is generated (table_xinfo's hidden: 2 virtual, 3 stored)."""
    return {2: "a VIRTUAL generated column", 3: "a STORED generated column"}.get(
        column.generated, "not generated"
    )
