"""Bound the SQLite functions one call of which may run for minutes or hours.

Untrusted SQL (a schema's ``CREATE TABLE … AS SELECT``, a migration's rows) runs under a
progress handler that stops it once its time is spent, but SQLite calls that handler between
the steps of its program, and one step may be one function call. Within the 10 MB a value may
hold, three of SQLite's own functions take far longer than that in one call (SQLite 3.40):

- ``printf('%.*c', 2e9, 'x')`` (``format`` too) appends the character two billion times once
  the text is past its limit: 10 s a call, and a statement may hold thousands;
- ``trim(x, y)`` (``ltrim``, ``rtrim``) compares each character it strips with each of ``y``:
  a million ``a`` stripped by 10,000 characters took 27 s, ten million by ten million would
  take weeks;
- ``instr(x, y)`` and ``replace(x, y, z)`` compare ``y`` at each place of ``x``: 0.15 s for
  10^10 bytes compared, minutes for ten million by five million.

On a connection for untrusted SQL each is replaced by a function that refuses arguments that
cost that much (an error, which fails the statement) and otherwise calls SQLite's own on a
connection of its own with the same limit on a value's length, so what it returns is what
SQLite returns.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

# Characters compared past which a call is refused: instr/replace compare fast (10^10 bytes
# in 0.15 s), trim slowly (10^10 in 27 s).
_MAX_COMPARED = 10**11
_MAX_TRIMMED = 10**8
# A printf conversion: flags, width, precision, length, type (SQLite's printf.c).
_CONVERSION = re.compile(r"%[-+ #!0,]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?l{0,2}(.)", re.S)


class SlowCallError(Exception):
    """A call SQLite would spend minutes or more on: it is refused."""


def _length(value: object) -> int:
    """Return the length SQLite compares of a value (numbers are short)."""
    return len(value) if isinstance(value, str | bytes) else 32


def _compared(name: str, args: tuple[object, ...]) -> None:
    """Refuse instr/replace whose text times pattern is past :data:`_MAX_COMPARED`."""
    if len(args) >= 2 and _length(args[0]) * _length(args[1]) > _MAX_COMPARED:
        msg = f"{name}() of {_length(args[0]):,} by {_length(args[1]):,} characters"
        raise SlowCallError(msg)


def _trimmed(name: str, args: tuple[object, ...]) -> None:
    """Refuse a trim whose text times set of characters is past :data:`_MAX_TRIMMED`."""
    if len(args) == 2 and _length(args[0]) * _length(args[1]) > _MAX_TRIMMED:
        msg = f"{name}() of {_length(args[0]):,} by {_length(args[1]):,} characters"
        raise SlowCallError(msg)


def _printed(name: str, args: tuple[object, ...], limit: int) -> None:
    """Refuse a format with a ``%c`` whose precision (written or ``*``) is past ``limit``.

    Every number the call is given may be a ``*`` precision: any past the limit counts.
    """
    if not args or args[0] is None:
        return
    text = args[0].decode(errors="replace") if isinstance(args[0], bytes) else str(args[0])
    numbers = [_number(a) for a in args[1:]]
    for match in _CONVERSION.finditer(text):
        precision = match[2]
        if match[3] != "c" or precision is None:
            continue
        wanted = max(numbers, default=0) if precision == "*" else int(precision)
        if wanted > limit:
            msg = f"{name}() repeating a character {wanted:,} times, past {limit:,}"
            raise SlowCallError(msg)


# The number SQLite reads a text or blob as: its leading digits (``'2000000000abc'``).
_LEADING_NUMBER = re.compile(r"\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _number(value: object) -> int:
    """Return the size of the integer SQLite reads an argument as (0 for none)."""
    if isinstance(value, bytes | str):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        match = _LEADING_NUMBER.match(text)
        value = float(match[0]) if match else 0
    if isinstance(value, int | float) and abs(value) < 1e300:
        return abs(int(value))
    return 0


def bound(conn: sqlite3.Connection, limit: int, refused: list[str]) -> sqlite3.Connection:
    """Replace the slow functions of ``conn`` by bounded ones; return the connection they call.

    ``limit`` is the length a value may have (``SQLITE_LIMIT_LENGTH``). Each call refused is
    added to ``refused`` (SQLite only says "user-defined function raised exception"). The
    caller closes the connection returned when it closes ``conn``.
    """
    own = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    own.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    checks: list[tuple[str, int, Callable[[str, tuple[object, ...]], None]]] = [
        ("printf", -1, lambda name, args: _printed(name, args, limit)),
        ("format", -1, lambda name, args: _printed(name, args, limit)),
        ("instr", 2, _compared),
        ("replace", 3, _compared),
        ("trim", 2, _trimmed),
        ("ltrim", 2, _trimmed),
        ("rtrim", 2, _trimmed),
    ]
    for name, count, check in checks:
        marks = ", ".join("?" * max(count, 1))
        try:  # format() is SQLite 3.38's: an older one has none to replace
            own.execute(f"EXPLAIN SELECT {name}({marks})", (None,) * max(count, 1))
        except sqlite3.OperationalError:
            continue
        conn.create_function(name, count, _bounded(own, name, check, refused), deterministic=True)
    return own


_Value = str | bytes | int | float | None


def _bounded(
    own: sqlite3.Connection,
    name: str,
    check: Callable[[str, tuple[object, ...]], None],
    refused: list[str],
) -> Callable[..., _Value]:
    """Return a function that checks its arguments, then calls SQLite's ``name`` with them."""

    def call(*args: object) -> _Value:
        try:
            check(name, args)
        except SlowCallError as exc:
            refused.append(str(exc))
            raise
        marks = ", ".join("?" * len(args))
        value: _Value = own.execute(f"SELECT {name}({marks})", args).fetchone()[0]
        return value

    return call
