"""Extend the agreement to PostgreSQL: models, both schemas and both database modules agree.

Without a server and without importing anything from the checked project:

* the PostgreSQL schema is parsed with sqlglot and compared with the models the way the SQLite
  schema is (NOT NULL, allowed values, bounds, JSON, foreign keys), plus PostgreSQL's own
  types (``uuid`` for ids and foreign keys, ``timestamptz``, ``jsonb``, ...);
* the two schemas are compared with each other, table by table and column by column, and their
  indexes and triggers by name; each difference reads
  ``table.column: sqlite says …, postgres says …``;
* the public classes of the two database modules (their methods and signatures, read with
  ``ast``) must be the same, except where a method takes the database's location (``path``
  for SQLite, ``dsn`` for PostgreSQL) and for keyword-only options with defaults that only
  one backend has (SQLite's ``backup``, PostgreSQL's pool sizes);
* both modules' ``SCHEMA_VERSION`` must be the same (the migration chains share their
  numbering), and ``migrations_postgres/`` must hold 0001 to it;
* every SQL literal of the PostgreSQL module, and every statement its ``statements()`` returns
  (built from the models at import; read by importing the module where asyncpg is installed),
  is parsed and its tables and columns looked up in the schema. The generated tests prepare
  them all on a real server too.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import itertools
import logging
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from tac_bootstrap import chain, pgfunctions, pgguard, sqlcheck, sqlfile
from tac_bootstrap.agreement import (
    ModelFacts,
    ModelsImportError,
    _line,
    compare,
    statements_from_json,
)
from tac_bootstrap.confine import confine, decode, read_text
from tac_bootstrap.manifest import POSTGRES_MIGRATIONS, Agreement
from tac_bootstrap.report import Problem

if TYPE_CHECKING:
    from tac_bootstrap.isolate import Description

# PostgreSQL type -> (the SQLite affinity it stands for, a short kind for messages).
_TYPES = {
    "UUID": ("TEXT", "uuid"),
    "TEXT": ("TEXT", "text"),
    "VARCHAR": ("TEXT", "text"),
    "CHAR": ("TEXT", "text"),
    "TIMESTAMPTZ": ("TEXT", "timestamptz"),
    "TIMESTAMP": ("TEXT", "timestamp"),
    "DATE": ("TEXT", "date"),
    "JSONB": ("TEXT", "jsonb"),
    "JSON": ("TEXT", "json"),
    "BIGINT": ("INTEGER", "bigint"),
    "INT": ("INTEGER", "integer"),
    "SMALLINT": ("INTEGER", "smallint"),
    "BOOLEAN": ("INTEGER", "boolean"),
    "DOUBLE PRECISION": ("REAL", "double precision"),
    "REAL": ("REAL", "real"),
    "DECIMAL": ("NUMERIC", "numeric"),
    "BYTEA": ("BLOB", "bytea"),
}
# The table and column a foreign key names, as the server reads them once names are folded
# (``REFERENCES public.agents (id)``, ``REFERENCES "public"."agents"``: the table agents).
_REFERENCES = re.compile(
    r'REFERENCES\s+(?:(?:"\w+"|\w+)\s*\.\s*)?(?:"(?P<quoted>\w+)"|(?P<table>\w+))\s*'
    r'(?:\(\s*(?:"(?P<quoted_column>\w+)"|(?P<column>\w+))\s*\))?'
    r"(?:.*?\bON\s+DELETE\s+(?P<action>SET\s+NULL|SET\s+DEFAULT|"
    r"CASCADE|RESTRICT|NO\s+ACTION))?",
    re.IGNORECASE,
)
_CREATE_TABLE = re.compile(r"\s*CREATE\s+TABLE\s", re.IGNORECASE)
# The literals held to the query rule: those parsed, and those starting with the other
# statements that only read (``TABLE t; COPY t TO PROGRAM …``).
_SQL_START = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\s")  # sqlcheck's
_UPPER_QUERY = re.compile(r"(?:SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|TABLE)\s")
_GUARDED_START = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|TABLE)\s")
_LEADING_EMPTY = re.compile(r"\A[\s;]*")
_ANY = re.compile("")  # every literal: those that may be statements in any case are checked too
_LOCATION = {"path", "dsn"}  # where a module is told which database to open
_PUBLIC_DUNDERS = {"__init__", "__aenter__", "__aexit__"}


@dataclass(frozen=True)
class PgColumn(sqlcheck.Column):
    """A PostgreSQL column: its declared type stands for a SQLite affinity."""

    @property
    def affinity(self) -> str:
        """Return the SQLite affinity the PostgreSQL type stands for."""
        return _TYPES.get(self.declared, ("NUMERIC", ""))[0]

    @property
    def kind(self) -> str:
        """Return the PostgreSQL type in lower case, as messages show it."""
        return _TYPES.get(self.declared, ("", self.declared.lower()))[1]


@dataclass
class Schema:
    """What a schema creates: tables, indexes (name -> table and columns), triggers."""

    tables: dict[str, sqlcheck.Table] = field(default_factory=dict)
    indexes: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)


def parse_schema(text: str) -> Schema:
    """Parse a PostgreSQL schema (or a set of CREATE TABLE statements) with sqlglot.

    Raises:
        sqlglot.errors.ParseError: The text is not SQL sqlglot can read, or is nested too
            deeply to read or describe.
    """
    try:
        return _parse_schema(text)
    except (sqlglot.errors.SqlglotError, RecursionError, *_SQLGLOT_FAULTS) as exc:
        raise _parse_error(exc) from None


# What sqlglot itself raises on texts it builds a wrong tree of, past its own errors: a call of a
# quoted "Case"(1, 2, 3) is built as CASE and writing it back raised TypeError (a traceback).
_SQLGLOT_FAULTS = (TypeError, ValueError, AttributeError, KeyError, IndexError)


def _parse_error(exc: Exception) -> sqlglot.errors.ParseError:
    """Turn any failure of sqlglot on hostile text into a ParseError with one clear line."""
    if isinstance(exc, RecursionError):
        return sqlglot.errors.ParseError("nested too deeply to read")
    if isinstance(exc, sqlglot.errors.ParseError):
        return exc
    return sqlglot.errors.ParseError(str(exc))


def _for_sqlglot(text: str) -> str:
    """Return ``text`` with what sqlglot cannot read and the check does not compare blanked.

    Blanked, every other character kept: ``COMMENT ON`` and transaction statements whole
    (``START TRANSACTION ISOLATION LEVEL …``, ``RELEASE SAVEPOINT x``), the storage options
    of a table, view or index (``WITH (security_barrier)``, ``WITH (autovacuum_enabled)``)
    and a function's ``SECURITY DEFINER``, and every comment (sqlglot reads no nested one).
    Newlines stay, so sqlglot's errors name the schema's own lines. None of them makes a table,
    index or trigger, and :func:`tac_bootstrap.pgguard.check` has read each statement whole, as
    the server does.
    """
    kept, pos = [], 0
    for statement in pgguard.split(text):
        at = text.find(statement.text, pos)
        if at < 0:  # not where the split says: parse the text as it is
            return text
        kept.append(re.sub(r"[^\n;]", " ", text[pos:at]))  # blanks, ``;`` and comments between
        pos = at
        for start, end in _unread(statement.text):
            if at + end <= pos:  # in a span blanked already: SECURITY /* x */ DEFINER
                continue
            start = max(start, pos - at)
            kept += [text[pos : at + start], re.sub(r"[^\n]", " ", text[at + start : at + end])]
            pos = at + end
        kept.append(text[pos : at + len(statement.text)])
        pos = at + len(statement.text)
    return "".join([*kept, re.sub(r"[^\n;]", " ", text[pos:])])


# Statements sqlglot is not given at all: COMMENT ON and those of a transaction.
_WHOLE = frozenset(
    {"COMMENT", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "ABORT", "START"}
)
_CREATE_MODIFIERS = frozenset(
    {"OR", "REPLACE", "TEMP", "TEMPORARY", "RECURSIVE", "MATERIALIZED", "UNLOGGED", "UNIQUE"}
)
_ROUTINES = frozenset({"FUNCTION", "PROCEDURE"})
# words before a TABLE that names a table rather than leads a query (INTO TEMP TABLE t)
_NAMING_TABLE = frozenset(
    {"ALTER", "CREATE", "DROP", "FOREIGN", "GLOBAL", "INTO", "LOCAL", "LOCK", "ON"}
    | {"TEMP", "TEMPORARY", "TRUNCATE", "UNLOGGED"}
)


def _unread(statement: str) -> list[tuple[int, int]]:
    """Return the spans of one statement that sqlglot is not given, in order."""
    every = pgguard.code_words(statement)
    comments = [(start, end) for start, end, word in every if word == "--"]
    words = [word for word in every if word[2] != "--"]
    upper = [word for _, _, word in words]
    first = next((word for word in upper if word != "("), "")
    if first in _WHOLE:
        return [(0, len(statement))]
    at = 1
    while at < len(upper) and upper[at] in _CREATE_MODIFIERS:
        at += 1
    noun = upper[at] if first == "CREATE" and at < len(upper) else ""
    options = _unread_options(words, noun, at + 1) if noun else []
    return sorted(comments + options)  # comments: sqlglot reads no nested one (/* /* */ */)


def _unread_options(words: list[tuple[int, int, str]], noun: str, at: int) -> list[tuple[int, int]]:
    """Return the spans of a ``CREATE`` statement's options that sqlglot is not given."""
    upper = [word for _, _, word in words]
    spans: list[tuple[int, int]] = []
    depth = 0
    for index in range(at, len(upper)):
        word, after = upper[index], upper[index + 1 : index + 2]
        depth += (word == "(") - (word == ")")
        if depth != 0:
            continue
        if noun in _ROUTINES:
            if word in ("RETURN", "ATOMIC"):
                break  # the body: SECURITY in it is no option
            if word == "SECURITY" and after in (["DEFINER"], ["INVOKER"]):
                external = int(upper[index - 1] == "EXTERNAL")
                spans.append((words[index - external][0], words[index + 1][1]))
        elif word == "AS":
            break  # a view's query: WITH in it is no option
        elif word == "WITH" and after == ["("] and upper[index - 1] != "VALUES":
            if noun in ("TABLE", "VIEW", "INDEX"):  # storage options, not FOR VALUES WITH (…)
                spans.append((words[index][0], words[_closing(upper, index + 1)][1]))
            break
    return spans


def _spans(sql: str) -> Iterator[tuple[int, int, str]]:
    """Yield the words of ``sql`` (:func:`tac_bootstrap.pgguard.code_words`) and what is between."""
    pos = 0
    for start, end, word in pgguard.code_words(sql):
        yield pos, start, ""
        yield start, end, word
        pos = end
    yield pos, len(sql), ""


def _type_spellings(sql: str) -> str:
    """Return ``sql`` with the spellings of types sqlglot cannot read respelt for it.

    ``bit varying`` is ``varbit``, ``nchar varying`` is ``varchar``, ``national character`` is
    ``character``, an interval's ``second (3)`` is ``second``, an array type's ``ARRAY`` or
    ``ARRAY[3]`` is ``[]`` and a cast's ``AS int[3]`` is ``AS int[]`` (the server ignores an
    array's size): what the server reads, and nothing the check compares (the type's name
    stays a bit string, a text, an interval or an array of the same type). Newlines stay, so
    sqlglot's errors name the same lines.
    """
    words = [word for word in pgguard.code_words(sql) if word[2] != "--"]
    upper = [word[2] for word in words] + ["", "", ""]
    found: list[tuple[int, int, str]] = []
    for at, (start, end, word) in enumerate(words):
        after = upper[at + 1]
        if at and upper[at - 1] == ".":
            continue
        if word in ("BIT", "NCHAR") and after == "VARYING":
            found.append((start, end, "VARBIT" if word == "BIT" else "VARCHAR"))
            found.append((words[at + 1][0], words[at + 1][1], ""))
        elif word == "NATIONAL" and after in ("CHARACTER", "CHAR"):
            found.append((start, end, ""))
        elif word == "SECOND" and after == "(" and _interval_field(upper, at):
            precision = upper[at + 2].isdigit() and upper[at + 3] == ")"  # no expression
            found += [(words[at + 1][0], words[at + 3][1], "")] if precision else []
        elif word == "ARRAY" and _type_ends(upper, at):
            found.append((start, end, "[]"))
            sized = after == "[" and upper[at + 2].isdigit() and upper[at + 3] == "]"
            found += [(words[at + 1][0], words[at + 3][1], "")] if sized else []
        elif word == "[" and after.isdigit() and upper[at + 2] == "]" and _cast_type(upper, at):
            found.append((words[at + 1][0], words[at + 1][1], ""))
    for start, end, name in reversed(found):
        shown = re.sub(r"[^\n]", " ", sql[start:end])
        sql = sql[:start] + (name + shown[len(name) :] if name else shown) + sql[end:]
    return sql


# The last word of a type's name before ARRAY: ``int ARRAY``, ``double precision ARRAY``.
_TYPE_ENDS = frozenset(
    {"INT", "INTEGER", "SMALLINT", "BIGINT", "BOOLEAN", "REAL", "PRECISION", "FLOAT", "DECIMAL"}
    | {"DEC", "NUMERIC", "CHARACTER", "CHAR", "VARYING", "NCHAR", "BIT", "TIME", "TIMESTAMP"}
    | {"ZONE", "INTERVAL", "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"}
    | {name.upper() for name in pgfunctions.TYPES}
)


def _type_ends(upper: list[str], at: int) -> bool:
    """Return whether a type's name ends before ``at``: ``int``, ``varchar(3)``, ``::"T"``.

    A type's word (or its modifiers after it), or any name a cast leads (:func:`_cast_type`);
    ``AT TIME ZONE`` is no type (its operand follows it).
    """
    back = _before_modifiers(upper, at - 1)
    if upper[back] == "ZONE" and upper[back - 2 : back] == ["AT", "TIME"]:
        return False
    return upper[back] in _TYPE_ENDS or _cast_type(upper, at)


def _cast_type(upper: list[str], at: int) -> bool:
    """Return whether the words before ``at`` are a type a cast leads: ``::t``, ``CAST(x AS t``.

    Read back over a type's words, its modifiers and its array brackets (``public."T"``,
    ``timestamp(3) with time zone[2]``) to the ``::`` or to an ``AS`` in ``CAST (``.
    """
    back = at - 1
    for _ in range(12):  # no type's name is longer
        back = _before_modifiers(upper, back)
        if back <= 0 or not _TYPE_WORD.fullmatch(upper[back]) or upper[back] == "AS":
            break
        back -= 1
    if back > 0 and upper[back] == ":":
        return True
    opened = _opening(upper, back, depth=1)
    return upper[back] == "AS" and opened > 0 and upper[opened - 1] == "CAST"


# A word of a type's name: a plain word, a quoted one, a schema's dot.
_TYPE_WORD = re.compile(r'[A-Z_][A-Z0-9_$]*|"|\.')


def _before_modifiers(upper: list[str], at: int) -> int:
    """Return where the words before a type's modifiers and brackets end: ``numeric(10, 2)[3]``."""
    while at > 0 and upper[at] in (")", "]"):
        start = _opening(upper, at)
        if not all(word.isdigit() or word == "," for word in upper[start + 1 : at]):
            break
        at = start - 1
    return at


def _opening(upper: list[str], close: int, depth: int = 0) -> int:
    """Return the index of the ``(`` or ``[`` that the ``)`` or ``]`` at ``close`` closes.

    With ``depth=1``, of the one that ``close`` is in. 0 if none.
    """
    for index in range(close, -1, -1):
        depth += (upper[index] in (")", "]")) - (upper[index] in ("(", "["))
        if depth == 0:
            return index
    return 0


def _interval_field(upper: list[str], at: int) -> bool:
    """Return whether ``SECOND`` at ``at`` is an interval's field: ``interval day to second``."""
    back = at - 1
    if back >= 1 and upper[back] == "TO" and upper[back - 1] in ("DAY", "HOUR", "MINUTE"):
        back -= 2
    if back >= 0 and upper[back] == "'":
        back -= 1
    return back >= 0 and upper[back] == "INTERVAL"


# The characters of an operator (``USING ~<~``): each is a word of its own to code_words.
_OPERATOR_CHARS = frozenset("+-*/<>=~!@#%^&|`?")


def _sort_spellings(sql: str) -> str:
    """Return ``sql`` with what sqlglot cannot read of a sort or a collation blanked for it.

    ``ORDER BY name USING <`` (or ``USING OPERATOR(pg_catalog.<)``, in a window or an
    aggregate too) sorts by an operator, and ``COLLATE pg_catalog."C"`` names a collation's
    schema: sqlglot reads no ``USING`` there ("does not parse") and reads the schema as a table
    ("no such table: pg_catalog"). Neither is a table or column the check compares, and
    :func:`tac_bootstrap.pgguard.check` has read the text as it is. Same length, newlines kept.
    """
    words = [word for word in pgguard.code_words(sql) if word[2] != "--"]
    upper = [word[2] for word in words] + ["", "", ""]
    found: list[tuple[int, int]] = []
    for at, (start, _, word) in enumerate(words):
        after = upper[at + 1]
        if word == "USING" and after in _OPERATOR_CHARS:
            last = at + 1
            while upper[last + 1] in _OPERATOR_CHARS and words[last + 1][0] == words[last][1]:
                last += 1
            found.append((start, words[last][1]))
        elif word == "USING" and after == "OPERATOR" and upper[at + 2] == "(":
            close = _closing(upper, at + 2)
            found.append((start, words[min(close, len(words) - 1)][1]))
        elif word == "COLLATE" and upper[at + 2] == "." and after not in ("(", "'"):
            found.append((words[at + 1][0], words[at + 2][1]))
    for start, end in reversed(found):
        sql = sql[:start] + re.sub(r"[^\n]", " ", sql[start:end]) + sql[end:]
    return sql


def _empty_outputs(sql: str) -> str:
    """Return ``sql`` with an empty output list before ``LIMIT`` or ``OFFSET`` given a ``*``.

    ``SELECT LIMIT 1`` (and ``SELECT limit(1)``, which the server reads so) selects no column:
    sqlglot reads no ``LIMIT`` there ("does not parse"). It is given ``SELECT*LIMIT 1``, a blank
    between the two words written ``*``: same length, no table or column named. The blank is
    a space or a tab where there is one (an indented ``LIMIT`` line), else a line break, so that
    the lines sqlglot's errors name stay those of the text wherever they can.
    """
    words = [word for word in pgguard.code_words(sql) if word[2] != "--"]
    for (_, end, word), (start, _, after) in itertools.pairwise(words):
        gap = sql[end:start]
        if word != "SELECT" or after not in ("LIMIT", "OFFSET") or not gap or gap.strip():
            continue  # a comment between the two words was blanked before: spaces
        at = end + next((i for i, c in enumerate(gap) if c in " \t"), 0)
        sql = sql[:at] + "*" + sql[at + 1 :]
    return sql


def _values_as_select(sql: str) -> str:
    """Return ``sql`` with each ``VALUES`` that is a ``WITH``'s main statement read as ``SELECT``.

    ``WITH m AS (…) VALUES (1), (2)`` runs on the server; sqlglot reads no ``VALUES`` after a
    ``WITH`` ("values does not support CTE"), and reads ``SELECT (1), (2)``, whose tables and
    columns are the same. Same length: sqlglot's errors keep their columns.
    """
    words = [(start, word) for start, _, word in pgguard.code_words(sql) if word != "--"]
    upper = [word for _, word in words]
    found = []
    for at, word in enumerate(upper):
        if word != "WITH" or upper[at + 1 : at + 2] == ["("]:  # WITH (options)
            continue
        main = pgguard.main_statement(upper, at + 1)
        if main is not None and upper[main] == "VALUES":
            found.append(words[main][0])
    for start in found:
        sql = sql[:start] + "SELECT" + sql[start + len("VALUES") :]
    return sql


# Words before ``"Name" (`` where the quoted name is no call: a relation (``TABLE``, ``INTO``,
# ``REFERENCES``, ``VIEW``, an index's ``ON``, an alias's ``AS``), a routine defined or named.
# A type's modifier (``x "Numeric"(10)``) is renamed too: no type so spelt takes one in a
# schema, and a changed type is a problem (drift), never a pass.
_NOT_A_CALL = frozenset(
    {"TABLE", "INTO", "REFERENCES", "VIEW", "ON", "AS", "EXISTS", "TABLESAMPLE", "ONLY"}
    | {"FUNCTION", "PROCEDURE", "ROUTINE", "AGGREGATE", "TYPE", "DOMAIN", "INDEX", "TRIGGER"}
)


def _own_calls(sql: str) -> str:
    """Return ``sql`` with each call of a quoted name with capitals renamed for sqlglot.

    ``"Lower"()`` calls the project's own function (the server reads a quoted name as it is
    spelt, never as ``lower``), but sqlglot builds its own ``LOWER`` of any spelling and fails
    on other arguments ("Required keyword: 'this' missing"; ``"Case"(1, 2, 3)`` raised a
    TypeError): a false problem. The name is written ``"_____"`` (same length: sqlglot's errors
    keep their columns), which sqlglot reads as an unknown call. No table, column or fact the
    check compares is a call's name, and :func:`tac_bootstrap.pgguard.check` has read the text
    as it is (a quoted name the project does not define is refused there).
    """
    words = [word for word in pgguard.code_words(sql) if word[2] != "--"]
    found = []
    for at, (start, end, word) in enumerate(words[:-1]):
        before = words[at - 1][2] if at else ""
        if word != '"' or words[at + 1][2] != "(" or before in _NOT_A_CALL:
            continue
        name = sql[start + 1 : end - 1]
        if name != name.lower():
            found.append((start, end))
    for start, end in found:
        sql = sql[: start + 1] + "_" * (end - start - 2) + sql[end - 1 :]
    return sql


# PostgreSQL's unreserved words that sqlglot reads as its keywords (sqlglot 29 and 30), where
# the server takes them as names: ``WITH insert AS (…)`` was "does not parse" (exit 1).
_UNRESERVED_KEYWORDS = frozenset(
    {"ALTER", "BEGIN", "CACHE", "CALL", "COMMENT", "COMMIT", "COPY", "CUBE", "DATABASE"}
    | {"DECLARE", "DELETE", "DROP", "ESCAPE", "EXECUTE", "EXPLAIN", "FILTER", "FIRST"}
    | {"FUNCTION", "INDEX", "INSERT", "LOAD", "LOCK", "MERGE", "NEXT", "OPERATOR", "ORDINALITY"}
    | {"OVER", "PARTITION", "PREPARE", "PROCEDURE", "RECURSIVE", "REFRESH", "REINDEX"}
    | {"RELEASE", "RENAME", "REPLACE", "RESET", "REVOKE", "ROLLBACK", "ROLLUP", "ROWS"}
    | {"SAVEPOINT", "SCHEMA", "SEQUENCE", "SESSION", "SET", "SHOW", "TEMP", "TEMPORARY"}
    | {"TRIGGER", "TRUNCATE", "TYPE", "UPDATE", "VACUUM", "VIEW", "VOLATILE"}
)
# and those that may name a table, a column or a WITH query but no function or type
_NAME_KEYWORDS = _UNRESERVED_KEYWORDS | {"BETWEEN", "EXISTS", "INOUT", "OUT", "VALUES", "IF"}
# PostgreSQL's reserved and type-or-function-name words (SELECT word FROM pg_get_keywords()
# WHERE catcode IN ('R', 'T')) that no column reference may be unquoted: ``ORDER BY full`` is a
# syntax error on the server, where sqlglot reads a column. Not those that are values there
# (``user``, ``current_role``, ``SELECT all``; ``DEFAULT`` only as an ``UPDATE``'s value).
_RESERVED_WORDS = frozenset(
    {"ANALYSE", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ASC", "ASYMMETRIC", "BOTH", "CASE"}
    | {"CAST", "CHECK", "COLLATE", "COLUMN", "CONSTRAINT", "CREATE", "DEFERRABLE", "DESC"}
    | {"DISTINCT", "DO", "ELSE", "END", "EXCEPT", "FETCH", "FOR", "FOREIGN", "FROM", "GRANT"}
    | {"GROUP", "HAVING", "IN", "INITIALLY", "INTERSECT", "INTO", "LATERAL", "LEADING", "LIMIT"}
    | {"NOT", "OFFSET", "ON", "ONLY", "OR", "ORDER", "PLACING", "PRIMARY", "REFERENCES"}
    | {"RETURNING", "SELECT", "SOME", "SYMMETRIC", "TABLE", "THEN", "TO", "TRAILING", "UNION"}
    | {"UNIQUE", "USING", "VARIADIC", "WHEN", "WHERE", "WINDOW", "WITH"}
    | {"AUTHORIZATION", "BINARY", "COLLATION", "CONCURRENTLY", "CROSS", "FREEZE", "FULL"}
    | {"ILIKE", "INNER", "IS", "ISNULL", "JOIN", "LEFT", "LIKE", "NATURAL", "NOTNULL", "OUTER"}
    | {"OVERLAPS", "RIGHT", "SIMILAR", "TABLESAMPLE", "VERBOSE", "DEFAULT"}
)
# Reserved words the server reads as values where sqlglot reads a column: ``SELECT user``,
# ``WHERE name = current_role``; and ``DEFAULT`` as an ``UPDATE``'s value (``SET a = DEFAULT``).
_VALUE_WORDS = frozenset({"USER", "CURRENT_ROLE", "CURRENT_USER", "SESSION_USER"})
# what may follow a table's name after FROM or JOIN
_AFTER_SOURCE = frozenset({"", ",", ")", ";", "WHERE", "JOIN", "ON", "AS", "ORDER", "GROUP"})
_AFTER_SOURCE |= {"LIMIT", "UNION", "USING", "EXCEPT", "INTERSECT", "HAVING", "WINDOW"}
# a column alone in a list: SELECT update FROM, (a, insert), f(a, drop)
_LISTED = frozenset({"SELECT", "DISTINCT", ","})
_LISTED_END = frozenset({"", ",", ")", ";", "FROM"})
# an operand of an expression: a column (CHECK (insert > 0), a < update) or a call (update(1))
# after one of these and before an operator (or, a call, its ``(``)
_OPERAND_BEFORE = frozenset({"(", ",", "=", "<", ">", "+", "-", "*", "/", "%", "|"})
_OPERAND_BEFORE |= {"AND", "WHERE", "WHEN", "ELSE", "HAVING", "SELECT", "RETURNING"}
_OPERATORS = frozenset({"=", "<", ">", "!", "+", "-", "*", "/", "%", "|", ":", "IS", "IN"})
_OPERATORS |= {"LIKE", "ILIKE", "AND", "OR", "BETWEEN"}
# and what may end an operand that follows an operator (a < update); not OR (INSERT OR UPDATE)
_ARITHMETIC = frozenset({"=", "<", ">", "+", "-", "*", "/", "%", "|"})
_OPERAND_END = _ARITHMETIC | {"", ")", ",", ";", "AND", "THEN", "ELSE", "END", "WHEN", ":", "IS"}
# the words a function or procedure may be named that sqlglot reads as its keywords: the
# unreserved ones and PostgreSQL's type-or-function-name words it reads so
_DEFINED_KEYWORDS = _UNRESERVED_KEYWORDS | {"CROSS", "JOIN", "TABLESAMPLE", "LEFT", "RIGHT"}
_DEFINED_KEYWORDS |= {"FULL", "INNER", "OUTER", "NATURAL", "LIKE", "ILIKE", "SIMILAR", "OVERLAPS"}
_DEFINED_KEYWORDS |= {"NOTNULL", "MATCH"}
# the words alone in parentheses or a list (``(a, between)``): BETWEEN has no operand there
_LONE = _UNRESERVED_KEYWORDS | {"BETWEEN"}
# what may follow a name alone after ``ORDER BY``, ``GROUP BY`` or ``PARTITION BY``
_ORDERED_END = frozenset({"", ",", ")", ";", "ASC", "DESC", "NULLS", "LIMIT", "OFFSET"})
# the words a function may be named (the unreserved ones) but grouping and window clauses'
_CALLED = _UNRESERVED_KEYWORDS - {"CUBE", "ROLLUP", "FILTER", "OVER", "ROWS", "PARTITION"}
# and those a call may be named where the server reads one (pgguard.is_call): ``SELECT over(1)``
# and ``abs(search(1))`` call the project's own over() and search(), ``OVER (`` and ``GROUP BY
# ROLLUP (`` are no calls
_CALLED_WHERE_CALLS = _UNRESERVED_KEYWORDS - _CALLED | {"IF", "SEARCH", "TRANSFORM", "JOIN"}
_CALLED_WHERE_CALLS |= {"CROSS", "TABLESAMPLE", "INNER", "OUTER", "FULL", "NATURAL", "IS"}
_CALLED_WHERE_CALLS |= {"NOTNULL", "MATCH", "MAXVALUE", "MINVALUE"}


def _keyword_names(sql: str) -> str:
    """Return ``sql`` with each keyword sqlglot misreads where it is a name quoted for sqlglot.

    Only where the words around tell it is a name: a ``WITH`` query's name and columns
    (``WITH insert AS (``, ``WITH m (insert) AS (``), an alias (``AS update``) and its use
    (``update.id``, ``s.not``), a lone column in parentheses or in a list (``(update)``, ``SELECT a,
    insert FROM``, an index's ``(a, between)``), one alone in ``ORDER BY between DESC``, a
    table made or read (``CREATE TABLE insert (``, ``FROM drop``, ``REFERENCES alter (``), an
    operand of an expression (``CHECK (insert > 0)``, ``a < update``) and a call of a function
    so named (``SELECT update(1)``; the server takes an unreserved word as a function's name).
    The word is written ``"insert"``, the name the server reads.
    """
    words = [word for word in pgguard.code_words(sql) if word[2] != "--"]
    upper = [word[2] for word in words] + [""]
    opened = {close: at for at, close in pgguard.matching(upper).items()}  # by the )
    labels = {  # reserved words made output columns' names: AS not (v(not) is a syntax error)
        word
        for at, word in enumerate(upper[1:-1], 1)
        if word in _RESERVED_WORDS and upper[at - 1] == "AS" and upper[at + 1] in _LABEL_END
    }
    found = []
    for at, word in enumerate(upper[:-1]):
        before, after = upper[at - 1] if at else "", upper[at + 1]
        if before in _OPERAND_BEFORE and after == "(" and _call_of(upper, at):
            start, end, _ = words[at]
            # a call: sqlglot reads its own function of the name, quoted too ("insert"(1) is
            # its INSERT of four arguments); a name of the same length it knows none of
            found.append((start, end, f'"{"_" * (end - start - 2)}"'))
        elif before in ("FUNCTION", "PROCEDURE") and upper[at - 2] == "EXECUTE" and after == "(":
            start, end, _ = words[at]  # a trigger's EXECUTE FUNCTION day(): sqlglot builds its
            # DAY of no argument; the trigger's function is no fact the check compares
            found.append((start, end, "_" * (end - start)))
        elif word in _DEFINED_KEYWORDS and before in ("FUNCTION", "PROCEDURE") and after == "(":
            start, end, _ = words[at]  # CREATE FUNCTION cross(…): the server takes the name
            found.append((start, end, f'"{word.lower()}"'))
        elif word in labels and before == "." and after != "(" and at > 1:
            start, end, _ = words[at]  # s.not: a column named with its source's alias, one
            # an output column's label made (SELECT id AS not); any keyword may follow the dot
            found.append((start, end, f'"{word.lower()}"'))
        elif (
            _excluded_column(upper, at)
            or _bare_alias(upper, at)
            or (word in _NAME_KEYWORDS and _named_at(upper, at, opened))
        ):
            start, end, _ = words[at]
            found.append((start, end, f'"{word.lower()}"'))
    for start, end, name in reversed(found):
        sql = f"{sql[:start]}{name}{sql[end:]}"
    return sql


# what may follow an output column's label: SELECT id AS not FROM, AS not, x, (… AS not)
_LABEL_END = frozenset({"", ",", ")", ";", "FROM"})


def _named_at(upper: list[str], at: int, opened: dict[int, int]) -> bool:
    """Return whether the keyword at ``at`` stands where the server reads a name."""
    word, before, after = upper[at], upper[at - 1] if at else "", upper[at + 1]
    return bool(
        _query_name(upper, at)
        or (before == "AS" and after not in ("(", "."))
        or (after == "." and before != ".")  # a qualifier: alter.id
        or (before in ("TABLE", "REFERENCES", "VIEW") and after in ("(", "AS"))
        or (before == "ON" and after == "(")
        or (before in ("FROM", "JOIN") and after in _AFTER_SOURCE)
        or (before == "OVER" and after in _AFTER_WINDOW)  # a window's name: OVER w, WINDOW w AS
        or (before == "WINDOW" and after == "AS")
        or (before == ")" and after in _AFTER_SOURCE and _derived_source(upper, at - 1, opened))
        or (before == "(" and after == ")" and word in _LONE)
        or (before in _LISTED and after in _LISTED_END and word in _LONE)
        or (before == "BY" and after in _ORDERED_END)  # ORDER BY between DESC
        or _table_alias(upper, at)
        or (before in _OPERAND_BEFORE and after in _OPERATORS)
        or (before in _ARITHMETIC and after in _OPERAND_END)
    )


def _derived_source(upper: list[str], close: int, opened: dict[int, int]) -> bool:
    """Return whether the ``)`` at ``close`` ends a derived table: ``JOIN LATERAL (SELECT …)``."""
    at = opened.get(close, -1)
    return at > 0 and upper[at + 1] == "SELECT" and upper[at - 1] in _DERIVED_BEFORE


_DERIVED_BEFORE = frozenset({"LATERAL", "FROM", "JOIN", ","})
# what may follow a window's name after OVER: the end of the output item
_AFTER_WINDOW = frozenset({"", ",", ")", ";", "FROM", "AS", "ORDER", "WINDOW"})


def _table_alias(upper: list[str], at: int) -> bool:
    """Return whether the word at ``at`` is a table's alias without ``AS``: ``FROM agents between``.

    After ``FROM t`` or ``JOIN t`` (``t`` a plain name), and before what may follow a source.
    """
    if at < 2 or upper[at - 2] not in ("FROM", "JOIN", "ONLY") or upper[at + 1] == "AS":
        return False
    table = upper[at - 1]
    named = _NAME_WORD.fullmatch(table) and table not in _RESERVED_WORDS | _NAME_KEYWORDS
    return bool(named) and upper[at + 1] in _AFTER_SOURCE


def _excluded_column(upper: list[str], at: int) -> bool:
    """Return whether ``exclude`` at ``at`` names a column: ``CREATE TABLE t (exclude int)``.

    A table's ``EXCLUDE`` constraint is ``EXCLUDE [USING method] (…)``; followed by a type's
    name in a table's list, the word is a column's name, as the server reads it.
    """
    before, after = upper[at - 1] if at else "", upper[at + 1]
    if upper[at] != "EXCLUDE" or before not in ("(", ",") or after in ("(", "USING"):
        return False
    return bool(_NAME_WORD.fullmatch(after)) and after not in _RESERVED_WORDS


def _call_of(upper: list[str], at: int) -> bool:
    """Return whether the keyword at ``at``, before ``(``, calls a function so named."""
    word = upper[at]
    return word in _CALLED or (word in _CALLED_WHERE_CALLS and pgguard.is_call(upper, at))


# PostgreSQL's unreserved words that may not be a bare alias (pg_get_keywords' barelabel false),
# and a function's option sqlglot reads (``LANGUAGE sql VOLATILE``)
_BARE_ALIASES = _UNRESERVED_KEYWORDS - {"FILTER", "OVER", "VOLATILE"}
# and the reserved and type-or-function-name words the server takes as a bare label
# (barelabel true), which sqlglot reads as its keywords: ``SELECT id and FROM agents``
_BARE_ALIASES |= {"AND", "COLLATE", "CROSS", "DISTINCT", "ELSE", "ILIKE", "INNER", "LIKE"}
_BARE_ALIASES |= {"NOT", "ONLY", "OR", "OUTER", "SELECT", "TABLESAMPLE", "THEN"}
_BARE_ALIASES |= {"USING", "VARIADIC", "WHEN", "TABLE", "BETWEEN", "JOIN", "LATERAL", "VALUES"}
# where an output list starts, and the words that end one (a clause of a query)
_OUTPUT_LIST = frozenset({"SELECT", "RETURNING"})
_LABEL_END = frozenset({"", ",", "FROM", ")", ";"})
_CLAUSES = _RESERVED_WORDS - {"DISTINCT", "AS", "CASE", "WHEN", "THEN", "ELSE", "END", "AND"}
_CLAUSES -= {"OR", "NOT", "IS", "IN", "LIKE", "ILIKE", "SIMILAR", "ISNULL", "NOTNULL", "ANY"}
_CLAUSES |= {"SET", "VALUES", ";"}


def _bare_alias(upper: list[str], at: int) -> bool:
    """Return whether the word at ``at`` is an output column's alias written without ``AS``.

    ``SELECT id insert FROM agents``, ``RETURNING id first``: after a name, a ``)``, a string
    or a number, ending the item
    (``,``, ``FROM``, ``)`` or the end), in a ``SELECT`` or ``RETURNING`` list; the server
    takes every unreserved word so (but ``filter`` and ``over``), sqlglot none.
    """
    if upper[at - 1 : at] == ["AS"] and upper[at] in _RESERVED_WORDS | _BARE_ALIASES:
        return _output_label(upper, at, after_as=True)  # RETURNING id AS not
    return upper[at] in _BARE_ALIASES and _output_label(upper, at)


def _no_bare_label(sql: str) -> str | None:
    """Return ``filter`` or ``over`` where one is an output column's label without ``AS``.

    The server takes neither so (``SELECT id over FROM agents``: syntax error at or near
    "over"), sqlglot reads an alias: it passed.
    """
    upper = [word for _, _, word in pgguard.code_words(sql) if word != "--"] + [""]
    for at, word in enumerate(upper[:-1]):
        if word in ("FILTER", "OVER") and _output_label(upper, at):
            return f"{word.lower()} is no bare column label in PostgreSQL: write AS {word.lower()}"
    return None


def _output_label(upper: list[str], at: int, *, after_as: bool = False) -> bool:
    """Return whether the word at ``at`` stands where an output column's bare label would.

    With ``after_as``, where its label after ``AS`` would: ``RETURNING id AS not``.
    """
    before, after = upper[at - 1] if at else "", upper[at + 1]
    if after not in ("", ",", "FROM", ")", ";"):
        return False
    if after_as:
        before, at = upper[at - 2] if at > 1 else "", at - 1
    named = _NAME_WORD.fullmatch(before) and before not in _RESERVED_WORDS | _NAME_KEYWORDS
    if not (named or before in (")", "'", '"') or before.isdigit()):  # lower(name) insert
        return False
    depth = 0
    for back in range(at - 1, -1, -1):
        word = upper[back]
        depth += (word == ")") - (word == "(")
        if depth == 0 and word in _OUTPUT_LIST:
            return True
        label = upper[back + 1] == ","  # an earlier item's label: SELECT 1 lateral, 2 values
        if depth < 0 or (depth == 0 and word in _CLAUSES and not label):
            return False
    return False


_NAME_WORD = re.compile(r"[A-Z_][A-Z0-9_$]*")


def _query_name(upper: list[str], at: int) -> bool:
    """Return whether the word at ``at`` names a ``WITH`` query or one of its columns."""
    before, after = upper[at - 1] if at else "", upper[at + 1]
    if before in ("WITH", "RECURSIVE", ","):
        if after == "AS":
            return upper[at + 2] in ("(", "MATERIALIZED", "NOT")
        return after == "(" and upper[_closing(upper, at + 1) + 1] == "AS" and before != ","
    if before not in ("(", ",") or after not in (",", ")"):
        return False
    depth = 0  # a column of WITH m (a, b) AS (: the list's ( and the query's name before it
    for index in range(at - 1, 1, -1):
        depth += (upper[index] == ")") - (upper[index] == "(")
        if depth < 0:
            closing = _closing(upper, index)
            return upper[index - 2] in ("WITH", "RECURSIVE", ",") and upper[closing + 1] == "AS"
    return False


def _closing(upper: list[str], at: int) -> int:
    """Return the index of the ``)`` that closes the ``(`` at ``at`` (the last word if none)."""
    depth = 0
    for index in range(at, len(upper)):
        depth += (upper[index] == "(") - (upper[index] == ")")
        if depth == 0:
            return index
    return len(upper) - 1


def _parse_schema(text: str) -> Schema:
    logger = logging.getLogger("sqlglot")
    level = logger.level
    # a plpgsql body is kept as a command, with a warning; a call sqlglot cannot write back
    # (current_schema(1) in a CHECK) warns as its table is described: the check says what counts
    logger.setLevel(logging.ERROR)
    try:
        return _described(text)
    finally:
        logger.setLevel(level)


def _described(text: str) -> Schema:
    # sqlglot cannot parse some statements PostgreSQL takes (COMMENT ON TRIGGER t ON x,
    # START TRANSACTION ISOLATION LEVEL …): what of them makes no table is blanked first.
    given = _for_sqlglot(text)
    given = _sort_spellings(_type_spellings(pgguard.joined_strings(given)))
    given = _values_as_select(given)
    given = _keyword_names(_own_calls(given))
    unlabelled = _no_bare_label(given)
    if unlabelled is not None:  # a view's SELECT id over: the server refuses the schema
        raise sqlglot.errors.ParseError(unlabelled)
    statements = sqlglot.parse(given, read="postgres")
    schema = Schema()
    for parsed in statements:
        if not isinstance(parsed, exp.Create):
            continue
        # names as the server reads them: CREATE TABLE AGENTS (ID …) makes agents (id)
        statement = normalize_identifiers(parsed, "postgres")
        kind = str(statement.args.get("kind") or "").upper()
        query = statement.expression if kind == "VIEW" else None
        reserved = _reserved_name(query) if isinstance(query, exp.Query) else None
        if reserved is not None:  # the server refuses the schema: CREATE VIEW v AS … ORDER BY full
            message = f"{reserved} is a reserved word in PostgreSQL: a name so spelt is quoted"
            raise sqlglot.errors.ParseError(message)
        if kind == "TABLE" and isinstance(statement.this, exp.Schema):
            table = _table(statement.this)
            schema.tables[table.name] = table
        elif kind == "INDEX" and isinstance(statement.this, exp.Index):
            index = statement.this
            on = index.args.get("table")
            params = index.args.get("params")
            columns = [o.this.name for o in (params.args.get("columns") or [])] if params else []
            schema.indexes[index.name] = (on.name if on else "?", tuple(columns))
        elif kind == "TRIGGER":
            properties = statement.args.get("properties")
            on = properties.expressions[0].args.get("table") if properties else None
            schema.triggers[statement.this.name] = on.name if on is not None else "?"
    return schema


def _table(node: exp.Schema) -> sqlcheck.Table:
    """Describe one CREATE TABLE: columns, CHECK facts and foreign keys."""
    name = node.this.name
    columns: dict[str, sqlcheck.Column] = {}
    foreign_keys: dict[str, sqlcheck.ForeignKey] = {}
    for item in node.expressions:
        if not isinstance(item, exp.ColumnDef):
            continue
        kinds = {type(c.kind) for c in item.constraints}
        notnull = bool(kinds & {exp.NotNullColumnConstraint, exp.PrimaryKeyColumnConstraint})
        declared = item.kind.sql(dialect="postgres").upper() if item.kind else ""
        columns[item.name] = PgColumn(item.name, declared, notnull)
        match = _REFERENCES.search(item.sql(dialect="postgres"))
        if match:
            action = " ".join((match["action"] or "NO ACTION").upper().split())
            table = match["quoted"] or match["table"]
            column = match["quoted_column"] or match["column"] or "id"
            foreign_keys[item.name] = sqlcheck.ForeignKey(item.name, table, column, action)
    checks = sqlcheck.column_checks(sqlcheck.tokenize(node.sql(dialect="postgres")))
    for column_name, column in columns.items():
        if isinstance(column, PgColumn) and column.kind in ("json", "jsonb"):
            checks.setdefault(column_name, sqlcheck.ColumnChecks()).json = True
    return sqlcheck.Table(name, columns, checks, foreign_keys)


def check_postgres(
    root: Path,
    agreement: Agreement,
    models: list[ModelFacts],
    sqlite: sqlite3.Connection,
    started: Description | None = None,
) -> list[Problem]:
    """Run every PostgreSQL check of an agreement; ``sqlite`` holds the loaded SQLite schema.

    ``started`` is the PostgreSQL database module's ``statements()``, if already being
    collected in a child process (:func:`tac_bootstrap.agreement.start`).
    """
    path = agreement.postgres_schema
    if path is None or not (root / path).exists():
        return []  # reported as missing with the other files
    text = sqlfile.read_sql(root, path)  # confined, UTF-8, no BOM, within the limits: exit 2
    migrations, problems = read_migration_files(root, agreement)
    own = pgguard.defined_names(text, *migrations.values())  # functions they call, schemas
    pgguard.check(text, path, migration=False, own=own)  # COPY, DO, CREATE EXTENSION, ...: exit 2
    for rel, sql in migrations.items():
        pgguard.check(sql, rel, migration=True, own=own)
    problems += _nul(text, path, "schema")
    for rel, sql in migrations.items():
        problems += _nul(sql, rel, "migrations")
    try:
        schema = parse_schema(text)
    except sqlglot.errors.ParseError as exc:
        message = f"the PostgreSQL schema does not parse: {exc}"
        return [*problems, Problem("schema", path, None, message)]
    problems += [
        Problem("agreement", path, _line(text, t, c), m)
        for t, c, m in [
            *compare(models, schema.tables, "the PostgreSQL schema"),
            *_types(models, schema),
        ]
    ]
    problems += [
        Problem("dialects", path, _line(text, t, c), m)
        for t, c, m in compare_schemas(sqlite, schema)
    ]
    database = agreement.postgres_database
    if database and (root / database).is_file():
        source = read_text(root, database)
        relations = pgguard.defined_relations(text, *migrations.values())
        problems += check_statements(source, database, schema, own, relations)
        problems += check_built_statements(confine(root, database), database, schema, own, started)
        if agreement.database and (root / agreement.database).is_file():
            sqlite_source = read_text(root, agreement.database)
            problems += [
                Problem("api", database, line, message)
                for line, message in compare_apis(sqlite_source, source)
            ]
            problems += [
                Problem("migrations", database, line, message)
                for line, message in compare_versions(
                    sqlite_source, source, root / database, root.resolve()
                )
            ]
    return problems


def read_migration_files(root: Path, agreement: Agreement) -> tuple[dict[str, str], list[Problem]]:
    """Read the PostgreSQL migrations, for :func:`tac_bootstrap.pgguard.check` to check.

    Every ``.sql`` entry of ``migrations_postgres/`` must be a file (the project's database
    module runs them all on a real server); each is read (confined, strictly UTF-8). Returns
    the text of each by its path, and a problem for each entry that is not a file (a folder, a
    dangling link, a FIFO) or not named as a migration.

    Raises:
        OutsideRootError: The folder or a file resolves outside the root.
        UnreadableError: The folder or a file cannot be read (permissions).
    """
    folder = agreement.postgres_migrations()
    if folder is None or not confine(root, folder).is_dir():
        return {}, []
    texts = {}
    problems = []
    for entry in chain.entries(root, folder):
        rel = f"{folder}/{entry.name}"
        if entry.suffix != ".sql":
            continue
        if not chain.NAME.fullmatch(entry.name):  # as for SQLite's: the runner may skip it
            message = "not a migration name: NNNN_slug.sql, four digits from 0001"
            problems.append(Problem("migrations", rel, None, message))
        if chain.is_file(root, rel):
            texts[rel] = sqlfile.read_sql(root, rel)
        else:
            problems.append(Problem("migrations", rel, None, "not a file"))
    return texts, problems


def _nul(text: str, rel: str, check: str) -> list[Problem]:
    """A NUL byte: the server refuses the text ("invalid message format"), psql cuts the line."""
    line = sqlcheck.nul_line(text)
    message = "holds a NUL byte, which PostgreSQL refuses in SQL"
    return [] if line is None else [Problem(check, rel, line, message)]


def schema_version(source: str) -> tuple[int, int] | None:
    """Return ``(line, value)`` of a module's one ``SCHEMA_VERSION = <int>``, read with ``ast``."""
    try:
        found = chain.read_schema_version(source)
    except SyntaxError:
        return None
    line, value = found
    return (line or 0, value) if isinstance(value, int) else None


def compare_versions(
    sqlite_source: str, postgres_source: str, postgres_module: Path, root: Path
) -> list[tuple[int | None, str]]:
    """Check that the two migration chains share their numbering.

    Both modules have the same ``SCHEMA_VERSION``, and PostgreSQL's migrations
    (``migrations_postgres/`` beside its module) are numbered 1 to it, without a gap.
    """
    try:
        line, value = chain.read_schema_version(postgres_source)
    except SyntaxError:
        return []  # reported with the module's statements
    if isinstance(value, str):
        return [(line, value)]
    lite, post = schema_version(sqlite_source), (line or 0, value)
    if lite is None:
        return []  # the migrations check reports the SQLite module's own
    found: list[tuple[int | None, str]] = []
    if lite[1] != post[1]:
        found.append(
            (
                post[0],
                f"SCHEMA_VERSION: sqlite says {lite[1]}, postgres says {post[1]} (the two "
                "migration chains share their numbering: give PostgreSQL the same migration)",
            )
        )
    # realpath, not Path.resolve: Python 3.11's raises RuntimeError on a symlink loop.
    folder = Path(os.path.realpath(postgres_module.with_name(POSTGRES_MIGRATIONS)))
    if folder.is_relative_to(root):
        # A missing folder, a file or a symlink loop in its place holds no migrations, as an
        # empty one.
        numbers: list[int] = []
        if folder.is_dir():
            # Relative to the root: a root given as a relative path (--root my-app) made this
            # path relative to the current folder, and it was looked for under the root again.
            listed = chain.entries(root, str(folder.relative_to(root)))
            names = (chain.NAME.fullmatch(f.name) for f in listed)
            numbers = sorted(int(m[1]) for m in names if m)
        # Not range(1, N + 1) as a list: N may be any int literal (10**30).
        if len(numbers) != post[1] or numbers != list(range(1, len(numbers) + 1)):
            shown = ", ".join(f"{n:04d}" for n in numbers) or (
                "none"
                if folder.is_dir()
                else "none (not a folder)"
                if os.path.lexists(folder)
                else "none (no such folder)"
            )
            found.append(
                (
                    post[0],
                    f"{POSTGRES_MIGRATIONS}: the files say {shown}, SCHEMA_VERSION says "
                    f"0001 to {post[1]:04d}",
                )
            )
    return found


def _expected_kind(model: ModelFacts, name: str, affinity: str | None, json: bool) -> set[str]:
    """Return the PostgreSQL types a field may have: ids and foreign keys are uuid."""
    if name == "id" or model.fields[name].foreign_key:
        return {"uuid"}
    if json:
        return {"jsonb", "json"}
    shown = model.fields[name].shown.removesuffix(" | None")
    if shown == "datetime":
        return {"timestamptz"}
    by_affinity = {
        "TEXT": {"text"},
        "INTEGER": {"bigint", "integer", "smallint", "boolean"},
        "REAL": {"double precision", "real"},
        "NUMERIC": {"numeric"},
        "BLOB": {"bytea"},
    }
    return by_affinity.get(affinity or "", set())


def _types(models: list[ModelFacts], schema: Schema) -> list[tuple[str, str | None, str]]:
    """Compare each field with its PostgreSQL column type (uuid, timestamptz, jsonb, ...)."""
    found: list[tuple[str, str | None, str]] = []
    for model in models:
        table = schema.tables.get(model.table)
        for name, facts in model.fields.items():
            column = table.columns.get(name) if table else None
            if not isinstance(column, PgColumn):
                continue
            expected = _expected_kind(model, name, facts.affinity, facts.json)
            if expected and column.kind not in expected:
                says = " or ".join(sorted(expected))
                found.append(
                    (
                        model.table,
                        name,
                        f"{model.table}.{name}: the model says {facts.shown} (stored as {says}), "
                        f"the PostgreSQL schema says {column.kind}",
                    )
                )
    return found


def compare_schemas(sqlite: sqlite3.Connection, pg: Schema) -> list[tuple[str, str | None, str]]:
    """Return every difference between the SQLite schema (loaded) and the PostgreSQL one."""
    tables = sqlcheck.tables(sqlite)
    found: list[tuple[str, str | None, str]] = []
    for name in sorted(tables.keys() | pg.tables.keys()):
        lite, post = tables.get(name), pg.tables.get(name)
        if lite is None or post is None:
            found.append((name, None, _says(name, "table", lite is not None, post is not None)))
            continue
        for column in [*lite.columns, *(c for c in post.columns if c not in lite.columns)]:
            if column not in lite.columns or column not in post.columns:
                exists = (column in lite.columns, column in post.columns)
                found.append((name, column, _says(f"{name}.{column}", "column", *exists)))
                continue
            found += [
                (name, column, f"{name}.{column}: sqlite says {says}, postgres says {other}")
                for says, other in _column_facts(lite, post, column)
            ]
    found += _compare_named("index", _sqlite_indexes(sqlite), pg.indexes)
    found += _compare_named("trigger", _sqlite_triggers(sqlite), pg.triggers)
    return found


def _says(what: str, noun: str, in_sqlite: bool, in_postgres: bool) -> str:
    """Describe a table or column that only one schema has."""
    lite = f"{noun} exists" if in_sqlite else f"no such {noun}"
    post = f"{noun} exists" if in_postgres else f"no such {noun}"
    return f"{what}: sqlite says {lite}, postgres says {post}"


def _column_facts(
    lite: sqlcheck.Table, post: sqlcheck.Table, column: str
) -> Iterator[tuple[str, str]]:
    """Yield ``(sqlite says, postgres says)`` for each fact two columns disagree on."""
    a, b = lite.columns[column], post.columns[column]
    if a.affinity != b.affinity:
        kind = b.kind if isinstance(b, PgColumn) else b.declared
        yield f"{a.declared} (affinity {a.affinity})", f"{kind} (stands for {b.affinity})"
    if a.notnull != b.notnull:
        yield _null(a.notnull), _null(b.notnull)
    ca = lite.checks.get(column, sqlcheck.ColumnChecks())
    cb = post.checks.get(column, sqlcheck.ColumnChecks())
    if _allowed(ca.allowed) != _allowed(cb.allowed):
        yield _allowed(ca.allowed), _allowed(cb.allowed)
    if _bounds(ca.bounds) != _bounds(cb.bounds):
        yield _bounds(ca.bounds), _bounds(cb.bounds)
    if ca.json != cb.json:
        yield _json(ca.json), _json(cb.json)
    if ca.finite != cb.finite:
        yield _finite(ca.finite), _finite(cb.finite)
    fa, fb = lite.foreign_keys.get(column), post.foreign_keys.get(column)
    if _fk(fa) != _fk(fb):
        yield _fk(fa), _fk(fb)


def _null(notnull: bool) -> str:
    return "NOT NULL" if notnull else "NULL allowed"


def _allowed(values: tuple[object, ...] | None) -> str:
    return "any value" if values is None else "one of " + ", ".join(sorted(map(repr, values)))


def _bounds(bounds: set[tuple[str, object]]) -> str:
    shown = sorted(f"{op} {float(v) if isinstance(v, int | float) else v}" for op, v in bounds)
    return " and ".join(shown) or "no bound"


def _json(json: bool) -> str:
    return "JSON" if json else "not JSON"


def _finite(finite: bool) -> str:
    return "finite (no infinity, no NaN)" if finite else "no finiteness check"


def _fk(key: sqlcheck.ForeignKey | None) -> str:
    if key is None:
        return "no foreign key"
    return f"REFERENCES {key.table}({key.to}) ON DELETE {key.on_delete.upper()}"


def _sqlite_indexes(conn: sqlite3.Connection) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Return the explicit indexes of a loaded SQLite schema: name -> (table, columns)."""
    rows = conn.execute(
        "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
    ).fetchall()
    return {
        name: (
            table,
            tuple(r[0] for r in conn.execute("SELECT name FROM pragma_index_info(?)", (name,))),
        )
        for name, table in rows
    }


def _sqlite_triggers(conn: sqlite3.Connection) -> dict[str, str]:
    """Return the triggers of a loaded SQLite schema: name -> table."""
    rows = conn.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger'")
    return dict(rows.fetchall())


def _compare_named(
    noun: str, lite: Mapping[str, object], post: Mapping[str, object]
) -> list[tuple[str, str | None, str]]:
    """Compare indexes or triggers by name, and what each is on."""
    found: list[tuple[str, str | None, str]] = []
    for name in sorted(lite.keys() | post.keys()):
        a, b = lite.get(name), post.get(name)
        if a != b:
            found.append(
                (
                    name,
                    None,
                    f"{noun} {name}: sqlite says {_on(a)}, postgres says {_on(b)}",
                )
            )
    return found


def _on(value: object) -> str:
    """Describe what an index or trigger is on, or that there is none."""
    if value is None:
        return "no such name"
    if isinstance(value, tuple):
        return f"on {value[0]} ({', '.join(value[1])})"
    return f"on {value}"


def check_statements(
    source: str,
    rel: str,
    schema: Schema,
    own: frozenset[str] = frozenset(),
    relations: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Parse each SQL literal of the PostgreSQL module; look up its tables and columns.

    ``own`` names the functions the schema and migrations define, which the module may call;
    ``relations`` the tables and views they create (:func:`pgguard.defined_relations`).
    """
    from tac_bootstrap import sqlliterals

    try:
        tree = sqlcheck.parse_python(source)
    except SyntaxError as exc:
        return [Problem("database", rel, exc.lineno, f"not valid Python: {exc.msg}")]
    found = sqlcheck.statements(tree)
    found = sorted([*found, *_upper_queries(sqlcheck.statements(tree, _ANY))], key=lambda s: s.line)
    created = sqlcheck.statements(tree, _CREATE_TABLE)
    guarded = sqlcheck.statements(tree, _GUARDED_START)
    literals = sqlcheck.statements(tree, _ANY)
    # A literal only passed to a call that shows text (raise ValueError("security check
    # failed"), log.info("lock agents")) is not guessed to be SQL (pgguard.may_be_sql).
    shown = sqlliterals.passed_texts(tree).shown
    sqlfile.check_statements((statement.sql for statement in [*guarded, *created]), rel)
    pgguard.check_queries(sqlcheck.by_line(guarded), rel, own)  # COPY, pg_ls_dir
    loose = sqlcheck.by_line(  # select pg_read_file(…), (SELECT …), /* x */ SELECT …
        s for s in literals if not _GUARDED_START.match(s.sql) and pgguard.is_query(s.sql)
    )
    pgguard.check_queries(loose, rel, own, loose=True)
    known = dict(schema.tables)
    for statement in created:  # tables the module makes itself (e.g. its version table)
        try:
            known.update(parse_schema(statement.sql).tables)
        except sqlglot.errors.ParseError:
            continue
    # lock agents, lock a_view (it locks the tables it reads), lock a_partition: not messages
    made = pgguard.defined_relations(*(statement.sql for statement in literals))
    tables = frozenset(name.lower() for name in known) | relations | made
    commands = sqlcheck.by_line(  # SHOW x, EXPLAIN ANALYZE …, begin; copy …: as a migration's
        s
        for s in literals
        if not _GUARDED_START.match(s.sql)
        and not pgguard.is_query(s.sql)
        and (
            pgguard.may_be_sql(s.sql, tables, message=s.sql in shown) or _CREATE_TABLE.match(s.sql)
        )
    )
    pgguard.check_commands(commands, rel, own)
    problems = []
    for statement in found:
        error = statement_error(statement.sql, known)
        if error:
            problems.append(
                Problem(
                    "database",
                    rel,
                    statement.line,
                    f"statement {statement.short!r} does not fit the PostgreSQL schema: {error}",
                )
            )
    return problems


def _upper_queries(literals: list[sqlcheck.Statement]) -> list[sqlcheck.Statement]:
    """Return the literals that are a query in upper case past parentheses and comments.

    ``(SELECT id FROM agents) UNION (SELECT …)``, ``/* by name */ SELECT …``, ``TABLE agents``
    and ``VALUES ((SELECT …))`` are looked up in the schema as ``SELECT …`` is; those that start
    with ``SELECT``, ``INSERT``, ``UPDATE``, ``DELETE`` or ``WITH`` are found already.
    """
    found = []
    for literal in literals:
        if _SQL_START.match(literal.sql):
            continue
        statements = pgguard.split(literal.sql)
        if statements and _UPPER_QUERY.match(statements[0].code.lstrip(" (\t\n\r\f")):
            found.append(literal)
    return found


def check_built_statements(
    path: Path,
    rel: str,
    schema: Schema,
    own: frozenset[str] = frozenset(),
    started: Description | None = None,
) -> list[Problem]:
    """Look up every statement the module's ``statements()`` returns, where it can be imported.

    The module imports asyncpg: where asyncpg is not installed (a tool environment of its own),
    only its SQL literals are checked; a generated project's CI, which installs the project,
    checks these too, and its tests prepare every one of them on a server.

    Raises:
        ModelsImportError: The module defines ``statements()`` but fails to import or run it.
    """
    if importlib.util.find_spec("asyncpg") is None:
        return []
    source = decode(path.read_bytes(), rel)
    try:
        tree = sqlcheck.parse_python(source)
    except SyntaxError:
        return []  # check_statements reports it
    if not any(isinstance(n, ast.FunctionDef) and n.name == "statements" for n in tree.body):
        return []
    from tac_bootstrap.isolate import Description, ModuleImportError

    # Imported in a child process, as the other checked modules are (tac_bootstrap.isolate).
    describer = "tac_bootstrap.agreement:built_statements"
    child = started or Description(path, describer, what="database module", shown=rel)
    try:
        built = child.result(statements_from_json)
    except ModuleImportError as exc:
        raise ModelsImportError(str(exc)) from None
    sqlfile.check_statements(built.values(), f"{rel} (what its statements() returns)")
    pgguard.check_queries(built, f"{rel} (what its statements() returns)", own)
    known = dict(schema.tables)
    for statement in sqlcheck.statements(source, _CREATE_TABLE):
        with contextlib.suppress(sqlglot.errors.ParseError):
            known.update(parse_schema(statement.sql).tables)
    literals = {statement.sql for statement in sqlcheck.statements(source)}  # checked already
    problems = []
    for name, sql in built.items():
        error = None if sql in literals else statement_error(str(sql), known)
        if error:
            short = sqlcheck.Statement(0, str(sql)).short
            problems.append(
                Problem(
                    "database",
                    rel,
                    None,
                    f"statement {name} ({short!r}) does not fit the PostgreSQL schema: {error}",
                )
            )
    return problems


def statement_error(sql: str, tables: dict[str, sqlcheck.Table]) -> str | None:
    """Return why a statement cannot run against these tables, or None.

    Catalog tables (``pg_*``, ``information_schema``) and the statement's own ``WITH`` names
    are taken on trust; a query that reads a ``WITH`` name (or a call, or a derived table whose
    columns are unknown), and the queries inside it, have their unqualified columns taken on
    trust too (they may be its); a ``WITH`` name's own query is looked up as any other.
    """
    # sqlglot reads ((WITH … UPDATE …)) as a statement; the server does not
    unparsed = pgguard.parenthesised_change(sql)
    if unparsed is not None:
        return f"it does not parse: {unparsed}"
    try:
        return _no_bare_label(sql) or _statement_error(sql, tables)
    except (sqlglot.errors.SqlglotError, RecursionError, *_SQLGLOT_FAULTS) as exc:
        return f"it does not parse: {str(_parse_error(exc)).splitlines()[0]}"


def _statement_error(sql: str, tables: dict[str, sqlcheck.Table]) -> str | None:
    # names as the server reads them: AGENTS is agents, "Agents" another table
    parts = []
    spans = list(_spans(sql))
    code_words = [word for _, _, word in spans if word and word != "--"] + [""]
    before = ""  # the word before, past comments
    at = 0  # where the word is in code_words
    for start, end, word in spans:
        if word == "--":  # comments blanked: sqlglot reads no nested one (/* /* */ */)
            parts.append(re.sub(r"[^\n]", " ", sql[start:end]))
            continue
        # TABLE t is SELECT * FROM t (sqlglot 29 reads TABLE t as a column named TABLE); not
        # an output column's label: SELECT id table FROM agents, SELECT 1 AS table
        leads = word == "TABLE" and before not in _NAMING_TABLE
        leads = leads and code_words[at + 1] not in _LABEL_END
        parts.append("SELECT * FROM" if leads else sql[start:end])
        before = word or before
        at += bool(word)
    code = "".join(parts)
    # a string continued on a later line is one string (E'a' newline 'b'), as for the server
    code = _values_as_select(_sort_spellings(_type_spellings(pgguard.joined_strings(code))))
    code = _empty_outputs(code)
    code = _keyword_names(_own_calls(code))
    # empty statements before the first (";SELECT …"), which the server skips, sqlglot reads none
    code = _LEADING_EMPTY.sub(lambda found: found.group().replace(";", " "), code)
    tree = normalize_identifiers(sqlglot.parse_one(code, read="postgres"), "postgres")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    aliases: dict[str, str] = {}
    unknown: list[exp.Expr] = []  # sources whose columns are unknown: a WITH name, a call
    for table in tree.find_all(exp.Table):
        call = not isinstance(table.this, exp.Identifier)  # FROM generate_series(1, 9) g
        if call or (not table.db and table.name in ctes):
            aliases[table.alias_or_name] = ""
            unknown.append(table)  # its columns are its own: none to look up
            continue
        if table.name.startswith("pg_") or table.db == "information_schema":
            aliases[table.alias_or_name] = ""
            continue
        if table.name not in tables:
            return f"no such table: {table.name}"
        aliases[table.alias_or_name] = table.name
    aliases.update(_excluded(tree, aliases))
    derived = _derived(tree, aliases)
    unknown += [node for node, names in derived.values() if not names]
    trusted = [_nearest_select(node) for node in unknown]  # the queries that read them
    reserved = _reserved_name(tree)
    if reserved is not None:
        return f"{reserved} is a reserved word in PostgreSQL: a name so spelt is quoted"
    used = [t for t in aliases.values() if t]
    for column in tree.find_all(exp.Column):
        # an unqualified column of a query that reads such a source is taken on trust
        scopes = _scopes(column)
        mine = used if not any(q is s for q in trusted for s in scopes) and scopes else []
        error = _column_error(column, tables, aliases, derived, mine if unknown else used)
        if error is not None:
            return error
    return None


def _excluded(tree: exp.Expr, aliases: dict[str, str]) -> dict[str, str]:
    """Return ``excluded`` as an alias of an ``INSERT … ON CONFLICT … DO UPDATE``'s table.

    ``SET name = EXCLUDED.name`` reads the row proposed for insertion: the table's columns.
    """
    for insert in tree.find_all(exp.Insert):
        table = insert.this.this if isinstance(insert.this, exp.Schema) else insert.this
        if "excluded" in aliases:  # a relation of the statement so named is that relation
            break
        if insert.args.get("conflict") is not None and isinstance(table, exp.Table):
            return {"excluded": aliases.get(table.alias_or_name, "")}
    return {}


def _reserved_name(tree: exp.Expr) -> str | None:
    """Return an unquoted reserved word the server reads as no name, where sqlglot reads one.

    A column (``ORDER BY full``, ``WHERE is = 1``), a table's alias or a ``WITH`` query's name
    (``FROM agents AS full``, ``WITH left AS (…)``) and their columns (``t(full)``) are syntax
    errors on the server; an output column's name (``SELECT id AS full``) and a qualified one
    (``a.full``) are not.
    """
    names: list[exp.Identifier] = []
    for column in tree.find_all(exp.Column):
        if not column.table and isinstance(column.this, exp.Identifier) and not _value_word(column):
            names.append(column.this)
    for alias in tree.find_all(exp.TableAlias):
        names += [n for n in (alias.this, *alias.columns) if isinstance(n, exp.Identifier)]
    for name in names:
        if not name.quoted and name.name.upper() in _RESERVED_WORDS:
            return name.name
    return None


def _value_word(column: exp.Column) -> bool:
    """Return whether an unqualified, unquoted column is a word the server reads as a value.

    ``user``, ``current_role`` anywhere, and ``DEFAULT`` as the value an ``UPDATE`` sets
    (``SET name = DEFAULT``); elsewhere ``DEFAULT`` is a reserved word (:func:`_reserved_name`).
    """
    if column.table or not isinstance(column.this, exp.Identifier) or column.this.quoted:
        return False
    word = column.name.upper()
    if word == "DEFAULT":
        parent = column.parent
        return (
            isinstance(parent, exp.EQ)
            and parent.expression is column
            and isinstance(parent.parent, exp.Update)
        )
    return word in _VALUE_WORDS


def _nearest_select(node: exp.Expr) -> exp.Expr | None:
    """Return the ``SELECT`` whose ``FROM`` holds ``node``, if any."""
    return node.find_ancestor(exp.Select)


def _scopes(column: exp.Expr) -> list[exp.Expr]:
    """Return the queries whose sources an unqualified column may name: its own and outer ones.

    Not past a ``WITH`` name's query: ``WITH x AS (SELECT nope FROM agents) SELECT * FROM x``
    reads ``nope`` of ``agents`` alone.
    """
    found: list[exp.Expr] = []
    node = column
    while node.parent is not None:
        node = node.parent
        if isinstance(node, exp.CTE):
            break
        if isinstance(node, exp.Select):
            found.append(node)
    return found


def _column_error(
    column: exp.Column,
    tables: dict[str, sqlcheck.Table],
    aliases: dict[str, str],
    derived: dict[str, tuple[exp.Expr, frozenset[str]]],
    used: list[str],
) -> str | None:
    """Return why a column is not one of the relation it names, nor of any ``used`` table."""
    if _value_word(column):
        return None
    if column.table:
        target = aliases.get(column.table)
        if target is None:
            return f"no such table: {column.table}"
        names = derived[column.table][1] if column.table in derived else None
        if names and column.name not in names:  # (SELECT id FROM agents) s: s.id only
            return f"no such column: {column.table}.{column.name}"
        if target and column.name not in tables[target].columns:
            return f"no such column: {column.table}.{column.name}"
        return None
    if not used or any(column.name in tables[t].columns for t in used):
        return None
    if column.name in aliases:  # a whole row: row_to_json(a), (a).name, (a).*
        return _row_field_error(column, tables, aliases, derived)
    if _output_name(column):
        return None
    outside = any(  # a derived table's column, used outside it
        column.name in names and all(node is not held for held in _ancestors(column))
        for node, names in derived.values()
    )
    return None if outside else f"no such column: {column.name}"


def _row_field_error(
    column: exp.Column,
    tables: dict[str, sqlcheck.Table],
    aliases: dict[str, str],
    derived: dict[str, tuple[exp.Expr, frozenset[str]]],
) -> str | None:
    """Return why ``(a).field`` names no column of the row ``a``, or None.

    A name that is a source's (a table's, its alias, a derived table's) and no column of the
    tables read is that source's whole row, as the server reads it: ``row_to_json(a)``;
    ``(a).name`` is one of its columns, looked up as ``a.name`` is.
    """
    dot = column.parent.parent if isinstance(column.parent, exp.Paren) else None
    if not isinstance(dot, exp.Dot) or not isinstance(dot.expression, exp.Identifier):
        return None
    field, target = dot.expression.name, aliases[column.name]
    names = derived[column.name][1] if column.name in derived else None
    if (names and field not in names) or (target and field not in tables[target].columns):
        return f"no such column: {column.name}.{field}"
    return None


def _output_name(column: exp.Column) -> bool:
    """Return whether ``column`` is an ``ORDER BY`` or ``GROUP BY`` item naming an output column.

    ``SELECT count(*) AS c … ORDER BY c`` and ``GROUP BY s`` of ``status AS s``: the server reads
    an item that is only such a name as the output column (not in an expression: ``c + 1``).
    """
    parent = column.parent
    if isinstance(parent, exp.Ordered):
        parent = parent.parent
    query = parent.parent if isinstance(parent, exp.Order | exp.Group) else None
    return isinstance(query, exp.Query) and column.name in query.named_selects


def _ancestors(node: exp.Expr) -> list[exp.Expr]:
    """Return the nodes that hold ``node``, nearest first."""
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


def _derived(tree: exp.Expr, aliases: dict[str, str]) -> dict[str, tuple[exp.Expr, frozenset[str]]]:
    """Name each derived table's alias in ``aliases``; return each one's node and columns.

    ``FROM (SELECT id FROM agents) s``, ``LATERAL (…) l``, ``(VALUES (1)) v(n)`` and
    ``unnest(…) u(x)`` are no tables of the schema: ``s.id`` is a column of ``s``. Its columns
    are empty where they are unknown (``SELECT *``, an unnamed expression, ``VALUES`` without
    names): then an unqualified column is taken on trust, as for a ``WITH`` name.
    """
    found: dict[str, tuple[exp.Expr, frozenset[str]]] = {}
    for node in tree.find_all(exp.Subquery, exp.Values, exp.Unnest, exp.Lateral):
        alias = node.args.get("alias")
        if not isinstance(alias, exp.TableAlias) or not alias.name:
            continue  # (SELECT …) in a WHERE, or LATERAL's own subquery (the LATERAL names it)
        aliases[alias.name] = ""
        inner = node.this.this if isinstance(node, exp.Lateral) else node.this
        names = [column.name for column in alias.columns] or (
            inner.named_selects if isinstance(inner, exp.Query) else []
        )
        known = bool(names) and all(name and name != "*" for name in names)
        found[alias.name] = (node, frozenset(names) if known else frozenset())
    return found


@dataclass(frozen=True)
class _Param:
    kind: str  # "positional-only", "positional", "*args", "keyword-only", "**kwargs"
    name: str
    annotation: str | None
    default: str | None

    def shown(self) -> str:
        prefix = {"*args": "*", "**kwargs": "**"}.get(self.kind, "")
        text = prefix + self.name + (f": {self.annotation}" if self.annotation else "")
        if self.default is not None:
            text += f" = {self.default}" if self.annotation else f"={self.default}"
        return text


@dataclass(frozen=True)
class _Signature:
    line: int
    decorators: tuple[str, ...]
    is_async: bool
    params: tuple[_Param, ...]
    returns: str | None

    def normalised(self, drop: frozenset[str] = frozenset()) -> tuple[object, ...]:
        """Return what must be equal: the location parameter and ``drop`` set aside."""
        params = tuple(
            _Param(p.kind, "<location>", None, p.default) if p.name in _LOCATION else p
            for p in self.params
            if p.name not in drop
        )
        return (self.decorators, self.is_async, params, self.returns)

    def shown(self, name: str) -> str:
        parts, star = [], False
        for p in self.params:
            if p.kind == "keyword-only" and not star:
                parts.append("*")
            star = star or p.kind in ("keyword-only", "*args")
            parts.append(p.shown())
            if p.kind == "positional-only" and (
                len(parts) == len(self.params) or self.params[len(parts)].kind != "positional-only"
            ):
                parts.append("/")
        deco = "".join(f"@{d} " for d in self.decorators)
        head = f"{deco}{'async ' if self.is_async else ''}def {name}({', '.join(parts)})"
        return head + (f" -> {self.returns}" if self.returns else "")


def public_api(source: str) -> dict[str, tuple[int, str, _Signature | None]]:
    """Return the public classes of a module and their public methods, read with ``ast``.

    Keys are ``Class`` (value: its bases) and ``Class.method`` (value: its signature).

    Raises:
        SyntaxError: The module is not valid Python.
    """
    api: dict[str, tuple[int, str, _Signature | None]] = {}
    for node in sqlcheck.parse_python(source).body:
        if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
            continue
        bases = ", ".join(ast.unparse(b) for b in node.bases)
        api[node.name] = (node.lineno, f"class {node.name}({bases})", None)
        for item in node.body:
            if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not item.name.startswith("_") or item.name in _PUBLIC_DUNDERS:
                api[f"{node.name}.{item.name}"] = (item.lineno, "", _signature(item))
    return api


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> _Signature:
    """Describe a function's decorators, parameters and return annotation."""
    args = node.args

    def param(arg: ast.arg, kind: str, default: ast.expr | None) -> _Param:
        annotation = ast.unparse(arg.annotation) if arg.annotation else None
        return _Param(kind, arg.arg, annotation, ast.unparse(default) if default else None)

    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    params = [
        param(a, "positional-only" if i < len(args.posonlyargs) else "positional", d)
        for i, (a, d) in enumerate(zip(positional, defaults, strict=True))
    ]
    if args.vararg:
        params.append(param(args.vararg, "*args", None))
    params += [
        param(a, "keyword-only", d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg:
        params.append(param(args.kwarg, "**kwargs", None))
    return _Signature(
        node.lineno,
        tuple(ast.unparse(d) for d in node.decorator_list),
        isinstance(node, ast.AsyncFunctionDef),
        tuple(params),
        ast.unparse(node.returns) if node.returns else None,
    )


def _options(signature: _Signature) -> frozenset[str]:
    """Return the keyword-only parameters that have defaults."""
    return frozenset(
        p.name for p in signature.params if p.kind == "keyword-only" and p.default is not None
    )


def compare_apis(sqlite_source: str, postgres_source: str) -> list[tuple[int | None, str]]:
    """Return ``(line in the PostgreSQL module, message)`` for each public API difference."""
    try:
        lite, post = public_api(sqlite_source), public_api(postgres_source)
    except SyntaxError as exc:
        return [(exc.lineno, f"not valid Python: {exc.msg}")]
    found: list[tuple[int | None, str]] = []
    for name in sorted(lite.keys() | post.keys()):
        a, b = lite.get(name), post.get(name)
        if a is None or b is None:
            where = "sqlite says no such name" if a is None else "postgres says no such name"
            other = f"postgres has {name}" if a is None else f"sqlite has {name}"
            found.append((b[0] if b else None, f"{name}: {other}, {where}"))
            continue
        method = name.rpartition(".")[2]
        if a[2] is None or b[2] is None:
            if a[1] != b[1]:
                found.append((b[0], f"{name}: sqlite says {a[1]}, postgres says {b[1]}"))
            continue
        # Each backend may have keyword-only options of its own, with defaults (SQLite's
        # backup, PostgreSQL's pool sizes): a call that works on one works on the other once
        # its location is changed, which moving between backends changes anyway.
        own = _options(a[2]) ^ _options(b[2])
        if a[2].normalised(own) != b[2].normalised(own):
            found.append(
                (
                    b[0],
                    f"{name}: sqlite says {a[2].shown(method)}, postgres says {b[2].shown(method)}",
                )
            )
    return found
