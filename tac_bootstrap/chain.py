"""Prove that the numbered migrations build exactly the schema file's database.

A migrations folder holds ``NNNN_<slug>.sql`` files numbered from 0001 without a gap; each is
plain SQL ending with ``PRAGMA user_version = N;``. The schema file is the whole current
schema with ``PRAGMA user_version = N`` and the database module says ``SCHEMA_VERSION = N``,
N being the last migration's number. :func:`check_migrations` checks the numbers, then runs
the migrations in order on an empty sandboxed database (see :mod:`tac_bootstrap.introspect`)
and names every way the result differs from the schema file's database.
"""

from __future__ import annotations

import ast
import itertools
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tac_bootstrap import introspect, sqlcheck
from tac_bootstrap.confine import (
    UnreadableError,
    confine,
    link_note,
    read_text,
    reserved_at,
    reserved_places,
)
from tac_bootstrap.errors import TacBootstrapError
from tac_bootstrap.manifest import Agreement
from tac_bootstrap.report import Problem
from tac_bootstrap.sqlfile import read_sql

if TYPE_CHECKING:
    from tac_bootstrap.sqlreach import Spent, Uncompiled

NAME = re.compile(r"([0-9]{4})_([a-z0-9][a-z0-9_]*)\.sql")
KIND = "migrations"


@dataclass(frozen=True)
class Migration:
    """One migration file: its number, its file name and its path relative to the root."""

    number: int
    name: str
    path: str

    @property
    def label(self) -> str:
        """Return the number as written in the file name (``0003``)."""
        return f"{self.number:04d}"


class ReservedPathError(TacBootstrapError):
    """A migration that leads, through a symlink, to a file no command writes (git's)."""


@dataclass
class Chain:
    """The well-formed migrations of a folder, in order, and what is wrong with the folder."""

    folder: str
    migrations: list[Migration]
    problems: list[Problem]

    @property
    def last(self) -> int:
        """Return the last migration's number (0 when there is none)."""
        return self.migrations[-1].number if self.migrations else 0


def _is_folder(path: Path, shown: str) -> bool:
    """Return whether ``path`` is a folder.

    Raises:
        UnreadableError: A folder on its way cannot be searched (Path.is_dir raised a
            PermissionError: a traceback).
    """
    try:
        return path.is_dir()
    except OSError as exc:
        raise UnreadableError(shown, exc) from None


def read_chain(root: Path, folder: str) -> Chain:
    """List a migrations folder: well-formed names, numbers contiguous from 1, inside the root."""
    base = confine(root, folder)  # a folder linked out of the root is not listed: exit 2
    problems: list[Problem] = []
    if not _is_folder(base, folder):
        message = "named by the manifest but not a folder"
        note = link_note(root, folder)  # a link to nothing names where it leads
        return Chain(folder, [], [_problem(folder, f"{message}: {note}" if note else message)])
    found: dict[int, list[Migration]] = {}
    places = reserved_places(root)
    for entry in entries(root, folder):
        if entry.suffix != ".sql":
            continue
        listed = _listed(root, f"{folder}/{entry.name}", entry, places)
        if isinstance(listed, Migration):
            found.setdefault(listed.number, []).append(listed)
        else:
            problems.append(listed)
    migrations = []
    for expected, number in enumerate(sorted(found), 1):
        if len(found[number]) > 1:
            names = ", ".join(m.name for m in found[number])
            problems.append(_problem(folder, f"more than one migration {number:04d}: {names}"))
        if number != expected:
            problems.append(
                _problem(found[number][0].path, f"numbers must follow on: expected {expected:04d}")
            )
        migrations.append(found[number][0])
    if not migrations:
        problems.append(_problem(folder, "no migration: the chain starts with 0001_<slug>.sql"))
    return Chain(folder, migrations, problems)


def _listed(
    root: Path, rel: str, entry: Path, places: list[tuple[str, str]]
) -> Migration | Problem:
    """Return the migration a ``.sql`` entry of the folder is, or what is wrong with it.

    Raises:
        ReservedPathError: It is a link to a file no command writes (see :func:`_not_reserved`).
        UnreadableError: The folder may be listed but not searched.
    """
    match = NAME.fullmatch(entry.name)
    if match is None or int(match[1]) == 0:
        return _problem(rel, "not a migration name: NNNN_slug.sql, four digits from 0001")
    try:  # a folder that may be listed but not searched (mode 600): its entries cannot be
        linked = entry.is_symlink()  # looked at (PermissionError: a traceback)
    except OSError as exc:
        raise UnreadableError(rel, exc) from None
    if linked:
        _not_reserved(root, rel, places)
    if not is_file(root, rel):  # a link out of the root: exit 2, not read
        return _problem(rel, "not a file")
    return Migration(int(match[1]), entry.name, rel)


def _not_reserved(root: Path, rel: str, places: list[tuple[str, str]]) -> None:
    """Refuse a migration that is a link to a file no command writes (git's, the answers file).

    ``0003_x.sql -> ../../.git/config`` was run as SQL and its first word shown in the
    problem: git's folder may hold the CI job's token. Refused as an agreement file there is.

    Raises:
        ReservedPathError: The migration leads there.
    """
    found = reserved_at(root, rel, places)
    if found is not None:
        why, form = found
        msg = f"{rel} is {why} (through a symlink: {form}): refusing to read it"
        raise ReservedPathError(msg)


NOT_SET = "no SCHEMA_VERSION = <int> at the top level of the module"


def entries(root: Path, folder: str) -> list[Path]:
    """Return the entries of a folder of the root, sorted (confined).

    Raises:
        OutsideRootError: The folder resolves outside the root.
        UnreadableError: The folder cannot be listed (permissions).
    """
    try:
        return sorted(confine(root, folder).iterdir())
    except OSError as exc:
        raise UnreadableError(folder, exc) from None


def is_file(root: Path, rel: str) -> bool:
    """Return whether a path of the root is a regular file (confined).

    Raises:
        OutsideRootError: The path resolves outside the root.
        UnreadableError: Whether it is a file cannot be told (a folder without ``x``).
    """
    try:
        return confine(root, rel).is_file()
    except OSError as exc:
        raise UnreadableError(rel, exc) from None


def schema_version(source: str) -> int | None:
    """Return the module's ``SCHEMA_VERSION = N`` (an int literal), read without importing it.

    None when it is missing, not an int literal, or set more than once (see
    :func:`read_schema_version`, which says which).
    """
    value = read_schema_version(source)[1]
    return value if isinstance(value, int) else None


_READ: list[tuple[str, tuple[int, int] | tuple[int | None, str]]] = []  # the last two


def read_schema_version(source: str) -> tuple[int, int] | tuple[int | None, str]:
    """Return ``(line, N)`` of the module's one ``SCHEMA_VERSION = N``, or ``(line, why not)``.

    The module must set ``SCHEMA_VERSION`` exactly once, at the top level, to a
    non-negative int literal (``SCHEMA_VERSION: int = N`` too): a second assignment, an
    ``if`` branch, ``+=`` or ``del`` would make the value the module runs with another than
    the one read here.

    Raises:
        SyntaxError: The module is not valid Python.
    """
    for known, read in _READ:
        if known == source:
            return read
    read = _read_schema_version(sqlcheck.parse_python(source))
    if len(source) <= sqlcheck.KEPT_SIZE:  # a module read twice in one run is read once
        _READ.insert(0, (source, read))
        del _READ[2:]
    return read


def _read_schema_version(tree: ast.Module) -> tuple[int, int] | tuple[int | None, str]:
    """Return what :func:`read_schema_version` returns, of the module's tree."""
    bindings = sorted(_bindings(tree), key=lambda n: (n.lineno, n.col_offset))
    if not bindings:
        return None, NOT_SET
    if len(bindings) > 1:
        lines = ", ".join(str(n.lineno) for n in bindings)
        return bindings[1].lineno, (
            f"SCHEMA_VERSION is set {len(bindings)} times (lines {lines}): "
            "set it once, SCHEMA_VERSION = <int>"
        )
    star = _star_import_after(tree, bindings[0].lineno)
    if star is not None:  # it binds every public name of its module: SCHEMA_VERSION too
        return star.lineno, (
            f"`from {'.' * star.level}{star.module or ''} import *` (line {star.lineno}) "
            "after SCHEMA_VERSION may set it again: import the names it needs"
        )
    for node in tree.body:
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if (
            target is bindings[0]
            and isinstance(value, ast.Constant)
            and type(value.value) is int
            and value.value >= 0
        ):
            return node.lineno, value.value
    return bindings[0].lineno, NOT_SET


_NAMED = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.ExceptHandler,
    ast.MatchAs,
    ast.MatchStar,
)


_Binding = ast.stmt | ast.expr | ast.alias | ast.excepthandler | ast.pattern | ast.keyword
_LINED = (ast.stmt, ast.expr, ast.alias, ast.excepthandler, ast.pattern, ast.keyword)
_NAME = "SCHEMA_VERSION"


def _star_import_after(tree: ast.Module, line: int) -> ast.ImportFrom | None:
    """Return the first ``from … import *`` after ``line`` (only a module's top level has one)."""
    for node in sqlcheck.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.lineno > line
            and any(alias.name == "*" for alias in node.names)
        ):
            return node
    return None


def _bindings(tree: ast.Module) -> list[_Binding]:
    """Return every place the module itself binds or deletes ``SCHEMA_VERSION``, or may.

    Anywhere in the module: a function's own ``SCHEMA_VERSION`` would only confuse, and one
    declared ``global`` there rebinds the module's. The name as a string
    (``globals()["SCHEMA_VERSION"] = 3``, ``setattr(module, "SCHEMA_VERSION", 3)``), as a
    keyword (``globals().update(SCHEMA_VERSION=3)``), as an attribute set on the module
    (``sys.modules[__name__].SCHEMA_VERSION = 3``), in a string of Python code that binds it
    (``exec("SCHEMA_VERSION = 3")``, not a docstring) and ``import SCHEMA_VERSION.x`` count
    too: each makes the module run with another value than the one written.
    """
    found: list[_Binding] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring, or a string standing alone: it runs nothing
        if _bound_name(node) == _NAME and isinstance(node, _LINED):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _bound_name(node: ast.AST) -> str | None:
    """Return the name ``node`` binds, deletes or may set where it stands, if any."""
    if isinstance(node, ast.Name | ast.Attribute) and not isinstance(node.ctx, ast.Load):
        return node.id if isinstance(node, ast.Name) else node.attr
    if isinstance(node, ast.alias):
        return node.asname or node.name.partition(".")[0]
    if isinstance(node, ast.Global):
        return _NAME if _NAME in node.names else None
    if isinstance(node, ast.MatchMapping):
        return node.rest
    if isinstance(node, _NAMED):  # def, class, except … as, a match's captures
        return node.name
    if isinstance(node, ast.keyword):
        return node.arg
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _NAME if _binds_in_code(node.value) else None
    return None


def _binds_in_code(text: str) -> bool:
    """Return whether a string is the name itself, or Python code that binds it."""
    if text.strip() == _NAME:
        return True
    if _NAME not in text:
        return False
    try:
        return bool(_bindings(sqlcheck.parse_python(text)))
    except SyntaxError:  # prose, such as a docstring naming SCHEMA_VERSION
        return False


def build(
    root: Path,
    migrations: list[Migration],
    changed: dict[str, Migration] | None = None,
    uncompiled: list[tuple[Uncompiled, Problem]] | None = None,
) -> tuple[sqlite3.Connection, list[Problem]]:
    """Run the migrations in order on an empty sandbox database; stop at the first that fails.

    Each must leave ``user_version`` at its own number, as the runner expects. ``changed``
    gets the last migration that changed each table or view, or an object on it (by lower-case
    name). ``uncompiled``, if given, gets each table or view a migration created or changed,
    or broke by changing what it reads, that does not compile once it has run (see
    :func:`_compile_step`).
    """
    from tac_bootstrap import sqlreach

    conn = introspect.sandbox()
    budget = introspect.Budget()  # the chain's, not each migration's: 9,999 of them add up
    spent = sqlreach.Spent()  # and so is the time compiling its steps
    changed = {} if changed is None else changed
    objects = _schema_rows(conn)
    names: dict[str, frozenset[str]] = {}  # the names each object's SQL text holds
    key: tuple[object, ...] = (uncompiled is not None,)  # the steps run so far
    kept = True  # whether the state after each step so far can be kept (see _Built)
    for migration in migrations:
        sql = read_sql(root, migration.path)  # strictly UTF-8, no BOM, within the limits
        key += ((migration, sql),)
        if kept and (built := _BUILT.get(key)) is not None:
            conn.close()
            conn = built.restore(budget, spent, changed, uncompiled)
            objects = built.objects
            continue
        kept = kept and _keeps(sql)
        # As the project's runner: foreign keys off during the step (dropping a parent to
        # rebuild it deletes no child row), and none broken after it.
        conn.execute("PRAGMA foreign_keys = OFF")
        ended = _transaction_ended(sql)
        if ended is not None:
            return conn, [_problem(migration.path, f"{migration.label} {ended}")]
        try:
            introspect.run_script(conn, sql, budget, step=True)
        except introspect.SchemaLoadError as exc:
            message = f"{migration.label} does not run after the migrations before it: {exc}"
            return conn, [_problem(migration.path, message)]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != migration.number:
            message = (
                f"{migration.label} leaves user_version at {version}: "
                f"it must end with PRAGMA user_version = {migration.number};"
            )
            return conn, [_problem(migration.path, message)]
        broken = conn.execute("PRAGMA foreign_key_check").fetchmany(3)
        if broken:
            shown = ", ".join(f"{table} row {row} ({parent})" for table, row, parent, _ in broken)
            message = f"{migration.label} leaves broken foreign keys: {shown}"
            return conn, [_problem(migration.path, message)]
        objects, step = _note_changes(conn, objects, changed, migration)
        # Once the time is spent, the next object compiled is named as stopped (a problem:
        # what later steps create is never passed unread), and no step after it is compiled.
        if uncompiled is not None and step and not spent.stopped:
            # A table or view that only reads what the migration changed is compiled too:
            # named once, by the first migration after which it does not compile.
            readers = _readers(objects, step, names)
            named = {item for item, _ in uncompiled}
            uncompiled += [
                (item, problem)
                for item, problem in _compile_step(conn, readers, migration, spent)
                if item.table.lower() in step or item not in named
            ]
        kept = kept and _BUILT.keep(key, conn, objects, budget, spent, changed, uncompiled)
    return conn, []


# The PRAGMAs a migration may run whose effect the database file holds, or none: the state
# after a step that runs another (recursive_triggers, legacy_alter_table, …) is the
# connection's too, and is not kept.
_FILE_PRAGMAS = frozenset({"user_version", "foreign_keys", "journal_mode"})


def _keeps(sql: str) -> bool:
    """Return whether the state after running ``sql`` is its database file's alone."""
    for piece in sqlcheck._split_statements(sql):
        words = [
            (token.name or token.text).lower()
            for token in itertools.islice(sqlcheck.iter_tokens(piece), 4)
        ]
        if words[:1] != ["pragma"]:
            continue
        if words[1:3] == ["main", "."]:  # of the main database: another's is not its file
            words = words[2:]
        if words[1:2] == [] or words[1] not in _FILE_PRAGMAS:
            return False
    return True


@dataclass(frozen=True)
class _Step:
    """What :func:`build` holds after a step: the database's bytes and what it noted."""

    data: bytes
    objects: set[tuple[str, str, str, str]]
    changed: dict[str, Migration]
    uncompiled: list[tuple[Uncompiled, Problem]]
    budget: tuple[int, float]
    spent: tuple[float, bool]

    def restore(
        self,
        budget: introspect.Budget,
        spent: Spent,
        changed: dict[str, Migration],
        uncompiled: list[tuple[Uncompiled, Problem]] | None,
    ) -> sqlite3.Connection:
        """Return a sandbox holding the database, and set what was noted as it was."""
        conn = introspect.sandbox()
        conn.deserialize(self.data)
        # Read its schema now, as the steps run here had: PRAGMA encoding('x') read a
        # database whose schema was not yet read as a new one, and failed.
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        budget.calls, budget.seconds = self.budget
        spent.seconds, spent.stopped = self.spent
        changed.clear()
        changed.update(self.changed)
        if uncompiled is not None:
            uncompiled[:] = self.uncompiled
        return conn


class _Built:
    """The steps of the last chains built, by the migrations (and texts) run to reach them.

    Checks in a row of chains that share their first migrations (each check of a project
    whose chain grows, the corpus's cases) ran those again each time: a chain's first steps
    are most of its time. A step is kept only while the state after it is the database
    file's (no temporary object, no PRAGMA of the connection, see :func:`_keeps`), for the
    first :data:`_STEPS` steps of at most :data:`_BYTES` each.
    """

    _STEPS = 16
    _BYTES = 1 << 20

    def __init__(self) -> None:
        self._steps: dict[tuple[object, ...], _Step] = {}

    def get(self, key: tuple[object, ...]) -> _Step | None:
        """Return the step ``key`` reaches, if kept."""
        return self._steps.get(key)

    def keep(
        self,
        key: tuple[object, ...],
        conn: sqlite3.Connection,
        objects: set[tuple[str, str, str, str]],
        budget: introspect.Budget,
        spent: Spent,
        changed: dict[str, Migration],
        uncompiled: list[tuple[Uncompiled, Problem]] | None,
    ) -> bool:
        """Keep the state after the step ``key`` reaches; return whether it could be kept."""
        if len(key) > self._STEPS + 1 or budget.out_of_time or not hasattr(conn, "serialize"):
            return False  # serialize: where SQLite has the API (Python's docs)
        if conn.execute("SELECT count(*) FROM temp.sqlite_schema").fetchone()[0]:
            return False  # the temp schema is the connection's, not the file's
        data = conn.serialize()
        if len(data) > self._BYTES:
            return False
        # Only the steps of this chain stay (the last chain's, up to where they part).
        self._steps = {k: step for k, step in self._steps.items() if key[: len(k)] == k}
        self._steps[key] = _Step(
            data,
            set(objects),
            dict(changed),
            list(uncompiled or []),
            (budget.calls, budget.seconds),
            (spent.seconds, spent.stopped),
        )
        return True


_BUILT = _Built()


def _readers(
    rows: set[tuple[str, str, str, str]], step: set[str], names: dict[str, frozenset[str]]
) -> set[str]:
    """Return ``step`` with the tables and views whose objects read one of them, or a reader.

    By the names an object's SQL text holds (``names`` keeps them per text, from one
    migration to the next): a view over a table a later migration drops or renames, a trigger
    on another table that writes it, a view over that view. Lower-case names.
    """
    found = set(step)
    todo = set(step)
    while todo:
        more = set()
        for _, _, table, sql in rows:
            held = names.get(sql)
            if held is None:
                held = names[sql] = frozenset(
                    (token.name or "").lower()
                    for token in sqlcheck.tokenize(sql)
                    if token.kind in ("word", "ident")
                )
            if table.lower() not in found and held & todo:
                more.add(table.lower())
        found |= more
        todo = more
    return found


def _compile_step(
    conn: sqlite3.Connection, names: set[str], migration: Migration, spent: Spent
) -> list[tuple[Uncompiled, Problem]]:
    """Name each table or view of ``names`` that does not compile once ``migration`` has run.

    A database stopped at this version holds them: a view that calls ``edit()`` created by
    0001 and dropped by 0002 was compiled only after the chain, and passed. ``names`` are
    those the migration changed and those that read them (a view over a table it drops).
    """
    from tac_bootstrap import sqlreach

    return [
        (
            item,
            _problem(
                migration.path,
                f"{migration.label}: {item.kind} {item.name} does not compile after "
                f"{migration.label} ({_MAY_CALL}): {item.error}",
            ),
        )
        for item in sqlreach.uncompiled(conn, names, spent)
    ]


_MAY_CALL = (
    "views, triggers and column defaults may call only SQLite's own functions, none that "
    "reaches outside the database"
)


def _schema_rows(conn: sqlite3.Connection) -> set[tuple[str, str, str, str]]:
    """Return ``(type, name, table, sql)`` of every object of the main and temp schemas."""
    rows: set[tuple[str, str, str, str]] = set()
    for schema in ("main", "temp"):
        rows.update(
            conn.execute(
                f"SELECT type, name, tbl_name, coalesce(sql, '') FROM {schema}.sqlite_schema"  # noqa: S608
            ).fetchall()
        )
    return rows


def _note_changes(
    conn: sqlite3.Connection,
    before: set[tuple[str, str, str, str]],
    changed: dict[str, Migration],
    migration: Migration,
) -> tuple[set[tuple[str, str, str, str]], set[str]]:
    """Note the tables and views whose objects ``migration`` changed.

    Returns:
        The schema's rows, and the lower-case names of the tables and views changed.
    """
    after = _schema_rows(conn)
    step = {table.lower() for _, _, table, _ in after ^ before}
    changed.update(dict.fromkeys(step, migration))
    return after, step


def _uncompiled(
    conn: sqlite3.Connection,
    changed: dict[str, Migration],
    migrations: list[Migration],
    named: list[Uncompiled],
) -> list[Problem]:
    """Name each table or view the chain leaves that does not compile (see sqlreach).

    Each is named on the last migration that changed it or an object on it (a trigger),
    unless a migration's own compile named it already with the same complaint (``named``):
    what is left is what a later migration broke (it dropped a table a view reads).
    """
    from tac_bootstrap import sqlreach

    problems = []
    for item in sqlreach.uncompiled(conn):
        if item in named:
            continue
        migration = changed.get(item.table.lower(), migrations[-1])
        message = (
            f"{migration.label}: {item.kind} {item.name} does not compile after the chain "
            f"({_MAY_CALL}): {item.error}"
        )
        problems.append(_problem(migration.path, message))
    return problems


def check_migrations(
    root: Path, agreement: Agreement, shared: sqlcheck.SharedSchema | None = None
) -> list[Problem]:
    """Check the chain named by ``agreement.migrations`` against the schema and database module.

    ``shared`` is the schema loaded for the other checks of the run, if any.
    """
    assert agreement.migrations is not None  # noqa: S101 - the caller checks
    chain = read_chain(root, agreement.migrations)
    problems = list(chain.problems)
    try:
        text = read_text(root, agreement.schema)
    except OSError:
        return problems  # the agreement check reports a missing schema
    try:
        schema = _loaded(text, agreement.schema, shared)
    except sqlite3.Error as exc:
        message = f"the schema does not run, so the chain cannot be compared with it: {exc}"
        return [*problems, _problem(agreement.schema, message)]
    problems += _versions(root, agreement, chain, schema.user_version)
    if not chain.migrations:
        return problems
    changed: dict[str, Migration] = {}
    steps: list[tuple[Uncompiled, Problem]] = []
    conn, failed = build(root, chain.migrations, changed, steps)
    try:
        if failed:
            return problems + [p for _, p in steps] + failed
        built = introspect.introspect(conn)
        uncompiled = [p for _, p in steps]
        uncompiled += _uncompiled(conn, changed, chain.migrations, [i for i, _ in steps])
    finally:
        conn.close()
    last = chain.migrations[-1]
    return [
        *problems,
        *(
            _problem(last.path, f"after {last.label}, {d.message()}")
            for d in introspect.differences(built, schema)
        ),
        *uncompiled,
    ]


def _loaded(text: str, name: str, shared: sqlcheck.SharedSchema | None) -> introspect.Schema:
    """Return what the schema builds, read once a text when the run shares it.

    Raises:
        UnsafeSchemaError: As :func:`sqlcheck.loaded_schema`, the one loader of an untrusted
            schema (the agreement check loads it the same way).
        sqlite3.Error: The schema does not run.
    """
    if shared is not None:
        return shared.made(text, name, introspect.introspect)
    with sqlcheck.loaded_schema(text, name) as conn:
        return introspect.introspect(conn)


def _versions(root: Path, agreement: Agreement, chain: Chain, user_version: int) -> list[Problem]:
    """Check that SCHEMA_VERSION, the schema's user_version and the last number agree."""
    problems = []
    if chain.migrations and user_version != chain.last:
        problems.append(
            _problem(
                agreement.schema,
                f"the schema says PRAGMA user_version = {user_version}, "
                f"the last migration is {chain.last:04d}",
            )
        )
    if agreement.database is None:
        return problems
    try:
        _, version = read_schema_version(read_text(root, agreement.database))
    except (OSError, SyntaxError):
        return problems  # the agreement check reports a missing or unparsable module
    if isinstance(version, str):
        problems.append(_problem(agreement.database, version))
    elif version != user_version:
        problems.append(
            _problem(
                agreement.database,
                f"SCHEMA_VERSION = {version}, the schema says PRAGMA user_version = {user_version}",
            )
        )
    return problems


# The project's runner runs each migration inside a transaction of its own (BEGIN IMMEDIATE …
# COMMIT). What each statement that ends, rolls back or starts one does to it there.
_TRANSACTION_ENDS = {
    "BEGIN": "starts a transaction (BEGIN) inside the one the project's runner runs it in, "
    "which fails (cannot start a transaction within a transaction)",
    "COMMIT": "commits the transaction the project's runner runs it in part-way (COMMIT): "
    "what comes before is committed alone, and the runner's own COMMIT fails unless a BEGIN "
    "follows (then the migration is two steps, not one)",
    "END": "commits the transaction the project's runner runs it in part-way (END): what "
    "comes before is committed alone, and the runner's own COMMIT fails unless a BEGIN "
    "follows (then the migration is two steps, not one)",
    "ROLLBACK": "rolls back the transaction the project's runner runs it in (ROLLBACK): what "
    "comes before is undone, and the runner's own COMMIT fails unless a BEGIN follows (then "
    "the rest is committed without it)",
}
_SAVEPOINTS = "; a migration may use SAVEPOINT, RELEASE and ROLLBACK TO instead"


def _transaction_ended(sql: str) -> str | None:
    """Return what a migration's BEGIN, COMMIT, END or ROLLBACK does to the runner's step.

    Run alone, ``COMMIT; BEGIN;`` fails here (no transaction is active) though the runner runs
    it, in two transactions: the problem is the transaction, not that it does not run.
    ``ROLLBACK TO`` a savepoint stays within the runner's transaction.
    """
    for piece in sqlcheck._split_statements(sql):
        tokens = list(itertools.islice(sqlcheck.iter_tokens(piece), 3))
        words = [token.text.upper() if token.kind == "word" else "" for token in tokens]
        if not words or words[0] not in _TRANSACTION_ENDS:
            continue
        if words[0] == "ROLLBACK" and "TO" in words[1:3]:
            continue  # ROLLBACK [TRANSACTION] TO [SAVEPOINT] name
        return _TRANSACTION_ENDS[words[0]] + _SAVEPOINTS
    return None


def _problem(path: str, message: str) -> Problem:
    """Build a problem of this check."""
    return Problem(KIND, path, None, message)


def chain_files(root: Path, folder: str) -> list[str]:
    """Return every file of a migrations folder (root-relative), for the check cache's digest."""
    base = root / folder
    try:
        files = sorted(p for p in base.iterdir() if p.suffix == ".sql") if base.is_dir() else []
    except OSError:
        return [folder]  # cannot be listed: no digest, the check says why
    inside = os.path.realpath(root)
    # realpath, not Path.resolve: a symlink loop must not raise (read_file refuses it below)
    if not base.is_dir() or not all(_inside(os.path.realpath(p), inside) for p in files):
        return [folder]  # a folder cannot be read as a file: no digest, nothing cached
    return [f"{folder}/{p.name}" for p in files]


def _inside(path: str, root: str) -> bool:
    """Return whether a resolved path is ``root`` or below it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
