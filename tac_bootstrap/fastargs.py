"""Parse a well-formed command line without Typer, for the commands run most often.

Typer coerces every option through a Pydantic TypeAdapter, which costs about as much as
importing Typer itself. ``init``, ``sync-check`` and ``update`` describe their options here as
a :class:`Command`, and the entry point tries :func:`parse` first: it accepts only plain,
well-formed invocations and returns None for anything else (``--help``, an unknown or
misspelt option, ``-oVALUE``, ``--``, a missing value or argument), which Typer then handles
and reports exactly as it always does. ``tests/test_fastargs.py`` compares each
:class:`Command` with the Typer command of the same name, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Command:
    """The options of one command, as its Typer definition declares them.

    Attributes:
        flags: Option strings of boolean flags, each to its parameter (True when given).
        valued: Option strings that take a value, each to its parameter.
        repeated: Parameters that may be given many times (a tuple of values, in order).
        choices: Parameters whose value must be one of these.
        arguments: Positional parameters, each given exactly once, in order.
    """

    flags: Mapping[str, str]
    valued: Mapping[str, str]
    repeated: frozenset[str] = frozenset()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    arguments: tuple[str, ...] = ()


def parse(args: list[str], command: Command) -> dict[str, Any] | None:
    """Return the parameters given in ``args`` (after the command name), or None.

    Only the parameters given are in the result: a flag is True, a repeated parameter a tuple
    of its values, any other a string.
    """
    found: dict[str, Any] = {}
    values: dict[str, list[str]] = {name: [] for name in command.repeated}
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        option, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if option in command.flags and not eq:
            found[command.flags[option]] = True
            continue
        name = command.valued.get(option)
        if name is None:
            return None
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if not value or value not in command.choices.get(name, (value,)):
            return None
        if name in values:
            values[name].append(value)
        else:
            found[name] = value
    if len(positional) != len(command.arguments):
        return None
    found |= dict(zip(command.arguments, positional, strict=True))
    return found | {name: tuple(given) for name, given in values.items() if given}
