"""Which string literals of an SQLite database module are statements, and which may be.

A literal that starts, past spaces and SQL comments, with an upper-case SELECT, INSERT,
UPDATE, DELETE, WITH, REPLACE or VALUES is a statement: it is prepared against the schema and
held to the query rule. SQLite runs the same statement in lower case, or after a comment, as well:
``"select load_extension('x')"`` passed unchecked. Such a literal may also be a message
(``"select a file"``, ``"update failed (%s)"``), so one that only *may* be a statement is
held to what it would do (the query rule, the functions that reach outside the database, the
schema's authorizer), never to the names it would find: ``a`` is no column of the schema, and
a message is no problem for naming it.
"""

from __future__ import annotations

import ast
import itertools
import re
import sqlite3

from tac_bootstrap import sqlcheck

_COMMENTS = r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|$))*"
# Prepared against the schema and held to the query rule: upper case, after spaces and
# comments (a message starts with neither a comment nor a statement word in capitals).
# ``VALUES (load_extension('x'))`` was held to the rule but not prepared: it passed.
PREPARED_START = re.compile(
    _COMMENTS + r"(?:SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|VALUES)\s", re.S
)
ANY = re.compile("")  # every literal
# The first words SQLite starts a statement with (https://sqlite.org/lang.html).
COMMANDS = frozenset(
    {
        "ALTER",
        "ANALYZE",
        "ATTACH",
        "BEGIN",
        "COMMIT",
        "CREATE",
        "DELETE",
        "DETACH",
        "DROP",
        "END",
        "EXPLAIN",
        "INSERT",
        "PRAGMA",
        "REINDEX",
        "RELEASE",
        "REPLACE",
        "ROLLBACK",
        "SAVEPOINT",
        "SELECT",
        "UPDATE",
        "VACUUM",
        "VALUES",
        "WITH",
    }
)
RULE = (
    "SQLite database module runs what it never needs (only SELECT, INSERT, UPDATE, DELETE, "
    "REPLACE, WITH and VALUES statements, reaching nothing outside the database)"
)
_QUERIES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES"})


def first_word(piece: str) -> str:
    """Return a statement's first word in upper case, past spaces, comments and ``(``."""
    for match in sqlcheck._TOKEN.finditer(piece):
        kind = match.lastgroup
        if kind == "space" or match.group() == "(":
            continue
        return match.group().upper() if kind == "word" else ""
    return ""


def is_query(text: str) -> bool:
    """Return whether a literal's first statement starts, in any case, as one reading rows."""
    pieces = sqlcheck._split_statements(text)
    return bool(pieces) and first_word(pieces[0]) in _QUERIES


def loose_literals(literals: list[sqlcheck.Statement]) -> list[sqlcheck.Statement]:
    """Return the literals that may be statements but are not held to the query rule as such."""
    return [s for s in literals if not PREPARED_START.match(s.sql) and is_query(s.sql)]


def refusal(sql: str) -> str | None:
    """Return why a literal that may be a statement is refused, or None.

    A piece that starts with no statement word is no statement (a message); one that starts
    with a statement other than a query is refused, as is a call of a function that reaches
    outside the database (``load_extension(``), whatever table it names.
    """
    if "\x00" in sql or (not sql.isascii() and sqlcheck._SURROGATE.search(sql)):
        return None  # SQLite takes no such text: it cannot run
    for piece in sqlcheck._split_statements(sql):
        word = first_word(piece)
        if word in COMMANDS and word not in _QUERIES:
            return f"{word} statement (a database module's statements read and write rows)"
        tokens = [m.group() for m in sqlcheck._TOKEN.finditer(piece) if m.lastgroup != "space"]
        for name, after in itertools.pairwise(tokens):
            if name.lower() in sqlcheck.FILE_FUNCTIONS and after == "(":
                return f"calls {name.lower()}() (a database module reads and writes rows only)"
    return None


def authorizer_errors(
    conn: sqlite3.Connection,
    literals: list[sqlcheck.Statement],
    name: str,
    executed: frozenset[str] = frozenset(),
) -> list[tuple[sqlcheck.Statement, str]]:
    """Return each literal that is refused, or is SQL and does not prepare, with the complaint.

    The schema's authorizer refuses what a literal would do whatever it is. Other errors (no
    such column ``a`` of ``"select a file"``) say nothing of a literal that only may be a
    statement, but they count for one that is SQL (:func:`is_sql`) or that the module passes
    to ``execute`` (``executed``, see :func:`executed_texts`): ``"select * from nope"`` passed.

    Raises:
        sqlcheck.PrepareTimeError: As :func:`sqlcheck.prepare_errors`; names ``name``.
    """
    found = sqlcheck.prepare_errors(conn, ((s, s.sql) for s in literals), name)
    return [
        (statement, error)
        for statement, error in found
        if error.startswith("not authorized")
        or (not _unparsed(error) and (statement.sql in executed or is_sql(statement.sql)))
    ]


# SQLite's complaints about text it could not parse: a message, not a statement.
_UNPARSED = ("syntax error", "incomplete input", "unrecognized token")
# Tokens no message has but a query often does: a placeholder, ``*``, a comparison.
_SQL_SIGNS = frozenset({"*", "=", "==", "!=", "<>", "<", ">", "<=", ">=", "||"})


def _unparsed(error: str) -> bool:
    """Return whether SQLite's complaint says it could not parse the text."""
    return any(word in error for word in _UNPARSED)


def is_sql(text: str) -> bool:
    """Return whether a literal SQLite parses holds a sign of SQL (``*``, ``?``, ``=``).

    Only for a literal that parses: ``"select a file"`` parses too (``SELECT a AS file``), and
    a message has none of these.
    """
    return any(
        token.kind == "param" or (token.kind == "op" and token.text in _SQL_SIGNS)
        for token in sqlcheck.tokenize(text)
    )


def executed_refusal(sql: str) -> str | None:
    """Return why a literal the module passes to ``execute`` is refused, or None.

    In any case: ``ATTACH`` opens another database file, ``VACUUM INTO`` writes one, wherever
    they name (``"vacuum into '/elsewhere'"`` passed as the module's own code). The module's
    other commands (``BEGIN``, ``PRAGMA foreign_keys``, ``SAVEPOINT``) are its own settings.
    """
    if "\x00" in sql or (not sql.isascii() and sqlcheck._SURROGATE.search(sql)):
        return None  # SQLite takes no such text: it cannot run
    for piece in sqlcheck._split_statements(sql):
        word = first_word(piece)
        words = {t.text.upper() for t in sqlcheck.tokenize(piece) if t.kind == "word"}
        if word == "ATTACH" or (word == "VACUUM" and "INTO" in words):
            shown = "VACUUM INTO" if word == "VACUUM" else word
            return f"{shown} statement (a database module uses its one database file)"
    return None


# The methods of sqlite3, aiosqlite and asyncpg connections and cursors that run SQL.
_RUNNERS = frozenset(
    {"execute", "executemany", "executescript", "execute_fetchall", "execute_insert"}
    | {"fetch", "fetchrow", "fetchval"}
)


def executed_texts(tree: ast.Module) -> frozenset[str]:
    """Return the string literals a module passes to a method that runs SQL (``execute``).

    Passed as written, or by a name or attribute the module binds to a literal anywhere
    (``Q = "select …"`` … ``conn.execute(Q)``, ``self.Q``).
    """
    passed: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _RUNNERS
            and node.args
        ):
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            passed.add(first.value)
        elif isinstance(first, ast.Name | ast.Attribute):
            names.add(first.id if isinstance(first, ast.Name) else first.attr)
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        value = getattr(node, "value", None)
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            continue
        for target in targets:
            bound = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if bound in names:
                passed.add(value.value)
    return frozenset(passed)
