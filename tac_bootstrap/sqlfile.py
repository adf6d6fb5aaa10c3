"""Refuse SQL text that no parser should be handed: a byte-order mark, sizes no schema reaches.

Every schema and migration file (SQLite and PostgreSQL) and every statement a database module
holds or returns passes here before it is tokenized, parsed or run. The sizes are counted in
one linear pass that cuts at each semicolon outside strings, quoted names and comments (a
semicolon inside a trigger's or function's body cuts too, so a count is never below the
parsers' and a statement never looks longer than they find it); the statement limit
also counts every semicolon, which no way of quoting hides. The limits are far above any
real schema (the largest shipped file holds 44 statements, the longest statement 2,328
characters), and far below what made the parsers take minutes (200,000 statements, one of
20 MB) or SQLite take most of a minute to load a schema (8,500 tables).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from tac_bootstrap.confine import read_text
from tac_bootstrap.errors import InvalidInputError, TacBootstrapError

# SQLite's CREATE scans its schema table, so loading n tables costs n² steps: under load
# 2,000 tables loaded in 3 s, 5,000 in 15 s, 8,500 in 52 s (where the step budget stops it).
MAX_STATEMENTS = 5_000
MAX_STATEMENT_CHARS = 100_000
BOM = "\ufeff"
# A statement up to its semicolon: code, strings, quoted names and comments (where a semicolon
# does not cut), or a lone quote, dash or slash. Possessive: no backtracking, linear.
_STATEMENT = re.compile(
    r"(?:[^'\"`;/-]++|'[^']*+'|\"[^\"]*+\"|`[^`]*+`|--[^\n]*+|/\*.*?(?:\*/|\Z)|['\"`/-])*+",
    re.DOTALL,
)


class SqlFileError(InvalidInputError):
    """SQL text that starts with a byte-order mark, or is larger than any schema needs."""


def read_sql(root: Path, rel: str) -> str:
    """Read a schema or migration file of ``root`` (confined, strictly UTF-8) and check it.

    Raises:
        SqlFileError: See :func:`check_text`.
        OutsideRootError: The path leaves the root (and the other errors of ``read_text``).
    """
    text = read_text(root, rel)
    check_text(text, rel)
    return text


def check_text(text: str, shown: str) -> None:
    """Refuse a schema or migration file that starts with a BOM or is past a limit.

    Raises:
        SqlFileError: The text starts with a byte-order mark (U+FEFF), holds more than
            :data:`MAX_STATEMENTS` statements, or one longer than :data:`MAX_STATEMENT_CHARS`.
    """
    if text.startswith(BOM):
        msg = f"{shown}: starts with a byte-order mark (save it as UTF-8 without BOM)"
        raise SqlFileError(msg)
    count, longest = sizes(text)
    _check_sizes(shown, max(count, _semicolons(text)), longest)


def check_statements(statements: Iterable[str], shown: str) -> None:
    """Refuse a database module's statements past the same limits as a file's.

    Raises:
        SqlFileError: More than :data:`MAX_STATEMENTS` statements, or one too long.
    """
    count, longest = 0, 0
    for sql in statements:
        found, long = sizes(sql)
        count, longest = count + max(found, _semicolons(sql)), max(longest, long)
        if count > MAX_STATEMENTS or longest > MAX_STATEMENT_CHARS:
            break
    _check_sizes(shown, count, longest)


def sizes(text: str) -> tuple[int, int]:
    """Return the number of statements of ``text`` and the length of its longest (characters).

    A cut is made at every semicolon outside strings, quoted names and comments; each cut
    ends a statement (``;;`` counts two), and a last piece counts when it is not blank. The
    count stops past :data:`MAX_STATEMENTS`: what follows is not read.
    """
    count, longest, pos = 0, 0, 0
    while pos < len(text) and count <= MAX_STATEMENTS:
        end = _STATEMENT.match(text, pos).end()  # type: ignore[union-attr] # matches ""
        longest = max(longest, end - pos)
        if end < len(text) or text[pos:end].strip():
            count += 1
        pos = end + 1
    return count, longest


def _semicolons(text: str) -> int:
    """Return the semicolons of ``text``: more than its statements, however it is quoted.

    :func:`sizes` reads quotes as ANSI SQL does; SQLite's ``[names]`` and PostgreSQL's
    ``$$`` bodies quote otherwise, and a ``'`` or ``--`` inside one hid every statement up to
    the next from the count (600,000 statements took the check three minutes).
    """
    return text.count(";")


def _check_sizes(shown: str, count: int, longest: int) -> None:
    """Raise :class:`SqlFileError` naming ``shown`` and the limit it is past, if any."""
    if count > MAX_STATEMENTS:
        msg = (
            f"{shown}: more than {MAX_STATEMENTS:,} SQL statements, far more than any schema "
            "needs: refused before it is read"
        )
        raise SqlFileError(msg)
    if longest > MAX_STATEMENT_CHARS:
        msg = (
            f"{shown}: an SQL statement of {longest:,} characters, more than "
            f"{MAX_STATEMENT_CHARS:,}, far longer than any schema needs: refused before it is read"
        )
        raise SqlFileError(msg)


_SHOWN_QUERIES = 20  # refused statements named in the error; the count of the others follows


class UnsafeQueryError(TacBootstrapError):
    """A database module holds or returns a statement it never needs to run."""

    def __init__(self, name: str, refused: list[tuple[str, str]], rule: str) -> None:
        self.refused = refused
        lines = "; ".join(f"{what}: {why}" for what, why in refused[:_SHOWN_QUERIES])
        if len(refused) > _SHOWN_QUERIES:
            lines += f"; and {len(refused) - _SHOWN_QUERIES:,} more"
        super().__init__(f"{name}: refused, the {rule}: {lines}")


def check_queries(
    queries: dict[str, str], name: str, refusal: Callable[[str], str | None], rule: str
) -> None:
    """Refuse a database module's statements (by name) for which ``refusal`` gives a reason.

    Raises:
        UnsafeQueryError: Every refused statement, with its name; ``rule`` says what is allowed.
    """
    found = [(what, why) for what, sql in queries.items() if (why := refusal(sql)) is not None]
    if found:
        raise UnsafeQueryError(name, found, rule)
