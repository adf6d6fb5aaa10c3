"""The Typer-free path of ``init``: what it accepts, and a report as Rich draws it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from tac_bootstrap import fastinit, scaffold
from tac_bootstrap.fastinit import Options
from tac_bootstrap.scaffold import InitResult
from tac_bootstrap.spec import ProjectSpec


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (["my-app"], Options("my-app")),
        (
            ["my-app", "--with-orchestrator", "--db", "postgres", "--dry-run", "--force"],
            Options("my-app", None, True, "postgres", True, True),
        ),
        (["-o", "x/y", "my-app"], Options("my-app", Path("x/y"))),
        (["my-app", "--output=x", "--db=sqlite"], Options("my-app", Path("x"), db="sqlite")),
        (
            ["my-app", "-d", "author=A B", "--data", "year=2026", "--data=license=none"],
            Options("my-app", data=("author=A B", "year=2026", "license=none")),
        ),
    ],
)
def test_well_formed_invocations_are_parsed(args: list[str], options: Options) -> None:
    assert fastinit.parse(args) == options


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["my-app", "--help"],
        ["a", "b"],
        ["my-app", "--bogus"],
        ["my-app", "-o"],
        ["my-app", "-o", ""],
        ["my-app", "-ox"],
        ["my-app", "--", "x"],
        ["my-app", "--with-orchestrator=yes"],
        ["--with-orchestrator"],
    ],
)
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert fastinit.parse(args) is None


def rich_report(result: InitResult, spec: ProjectSpec, *, color: bool) -> str:
    """Draw the report with Rich, as the command did before it stopped importing Rich."""
    console = Console(
        file=io.StringIO(),
        force_terminal=color,
        color_system="standard" if color else None,
        soft_wrap=True,
        highlight=False,
        emoji=False,
    )
    tree = Tree(f"[bold]{escape(str(result.target))}[/bold]")
    branches: dict[str, Tree] = {}
    for path in result.written:
        parts = path.split("/")
        node = tree
        for depth in range(1, len(parts)):
            key = "/".join(parts[:depth])
            if key not in branches:
                branches[key] = node.add(f"[blue]{escape(parts[depth - 1])}/[/blue]")
            node = branches[key]
        node.add(escape(parts[-1]))
    console.print(tree)
    kept = f", {len(result.unchanged)} already up to date" if result.unchanged else ""
    verb = "Would write" if result.dry_run else "Wrote"
    console.print(f"{verb} {len(result.written)} files{kept}.")
    if result.overwritten:
        verb = "Would overwrite" if result.dry_run else "Overwrote"
        console.print(f"{verb}: {escape(', '.join(result.overwritten))}")
    if not result.dry_run:
        dbs = "SQLite and PostgreSQL" if spec.db == "postgres" else "SQLite"
        layer = f" (with the {dbs} orchestrator layer)" if spec.with_orchestrator else ""
        steps = f"cd {result.target}\n  python -m pip install -e '.[dev]' && python -m pytest"
        console.print(f"Next{layer}:\n  {escape(steps)}")
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize(("orchestrator", "db"), [(False, "sqlite"), (True, "postgres")])
def test_the_report_is_what_rich_draws(orchestrator: bool, db: str, color: bool) -> None:
    spec = ProjectSpec.build("my-app", with_orchestrator=orchestrator, db=db, data={})
    written = (*scaffold.render_project(spec, cache=False), ".tac-bootstrap.json")
    results = [
        InitResult(Path("my-app"), written),
        InitResult(
            Path("x/[b]y"), written[:7], ("a",), dry_run=True, overwritten=("README.md", "[x]")
        ),
        InitResult(Path("z"), ("a/b/c", "a/d", "e", "a/b/f"), overwritten=("e",)),
    ]
    for result in results:
        expected = rich_report(result, spec, color=color)
        assert fastinit.report_text(result, spec, color=color) == expected
