"""The Typer-free command lines: one parser, and option tables that match the Typer commands."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from tac_bootstrap import fastcheck, fastinit, fastupdate
from tac_bootstrap.cli import app
from tac_bootstrap.fastargs import Command, parse

FAST = {"init": fastinit.COMMAND, "sync-check": fastcheck.COMMAND, "update": fastupdate.COMMAND}


def typer_params(name: str) -> list[Any]:
    """Return the parameters of a Typer command (Click's, or Typer's own Click-like ones)."""
    return list(typer.main.get_command(app).commands[name].params)  # type: ignore[attr-defined]


def choices_of(param: Any) -> tuple[str, ...]:
    """Return the values a parameter allows, if it is a choice (an Enum in Typer)."""
    kind = getattr(param, "type_descriptor", None) or getattr(param, "type", None)
    return tuple(
        str(getattr(choice, "value", choice)) for choice in getattr(kind, "choices", ()) or ()
    )


@pytest.mark.parametrize("name", sorted(FAST))
def test_each_fast_command_declares_what_its_typer_command_does(name: str) -> None:
    fast = FAST[name]
    flags: dict[str, str] = {}
    valued: dict[str, str] = {}
    repeated, choices, arguments = set(), {}, []
    for param in typer_params(name):
        if param.param_type_name == "argument":
            arguments.append(param.name)
            continue
        table = flags if param.is_flag else valued
        table |= dict.fromkeys([*param.opts, *param.secondary_opts], param.name)
        if param.multiple:
            repeated.add(param.name)
        if allowed := choices_of(param):
            choices[param.name] = allowed
    assert dict(fast.flags) == flags
    assert dict(fast.valued) == valued
    assert fast.repeated == repeated
    assert dict(fast.choices) == choices
    assert list(fast.arguments) == arguments


COMMAND = Command(
    flags={"--yes": "yes"},
    valued={"--out": "out", "-o": "out", "--tag": "tag", "-t": "tag", "--fmt": "fmt"},
    repeated=frozenset({"tag"}),
    choices={"fmt": ("a", "b")},
    arguments=("name",),
)


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["x"], {"name": "x"}),
        (["--yes", "x", "--yes"], {"name": "x", "yes": True}),
        (["-o", "d", "x", "--out=e"], {"name": "x", "out": "e"}),  # the last one counts
        (["x", "-t", "1", "--tag", "2", "--tag=3"], {"name": "x", "tag": ("1", "2", "3")}),
        (["x", "--fmt", "b"], {"name": "x", "fmt": "b"}),
        (["x", "--out", "-"], {"name": "x", "out": "-"}),
    ],
)
def test_well_formed_command_lines(args: list[str], found: dict[str, object]) -> None:
    assert parse(args, COMMAND) == found


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["x", "y"],
        ["--help"],
        ["x", "--bogus"],
        ["x", "--yes=1"],
        ["x", "-o"],
        ["x", "-o", ""],
        ["x", "--out="],
        ["x", "-od"],
        ["x", "--", "y"],
        ["x", "--fmt", "c"],
    ],
)
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert parse(args, COMMAND) is None
