"""Run a plain ``init`` without importing Typer: the one implementation of the command.

Typer builds a Pydantic TypeAdapter for every option it parses, which costs about as much
as importing Typer itself, on a command whose goal is to cost little more than importing the
libraries it renders with. The entry point calls :func:`main` first: it handles only the
well-formed invocations ``init NAME [-o DIR] [--with-orchestrator] [--db DB] [--dry-run]
[--force] [-d KEY=VALUE]...`` and returns None for everything else (``--help``, a bad or
unknown option, a missing name), which Typer then handles and reports exactly as it always
does. :func:`run` is the command itself, which the Typer command calls too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from rich.console import Console

    from tac_bootstrap.errors import TacBootstrapError
    from tac_bootstrap.scaffold import InitResult
    from tac_bootstrap.spec import ProjectSpec

_FLAGS = {"--with-orchestrator": "with_orchestrator", "--dry-run": "dry_run", "--force": "force"}
_VALUED = {"--output": "output", "-o": "output", "--db": "db", "--data": "data", "-d": "data"}


class Options(NamedTuple):
    """The arguments of ``init``, as Typer would pass them."""

    name: str
    output: Path | None = None
    with_orchestrator: bool = False
    db: str = "sqlite"
    dry_run: bool = False
    force: bool = False
    data: tuple[str, ...] = ()


def parse(args: list[str]) -> Options | None:
    """Return the options of a well-formed ``init`` invocation (after ``init``), else None."""
    found: dict[str, object] = {}
    data: list[str] = []
    names: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-"):
            names.append(arg)
            continue
        option, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if option in _FLAGS and not eq:
            found[_FLAGS[option]] = True
            continue
        if option not in _VALUED:
            return None  # --help, `--`, -oDIR, an unknown or misspelt option: Typer says
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if not value:
            return None
        if _VALUED[option] == "data":
            data.append(value)
        else:
            found[_VALUED[option]] = Path(value) if _VALUED[option] == "output" else value
    if len(names) != 1:
        return None
    return Options(name=names[0], data=tuple(data), **found)  # type: ignore[arg-type]


def main(args: list[str]) -> int | None:
    """Run ``init`` with ``args`` (after the command name); None hands over to Typer."""
    options = parse(args)
    return None if options is None else run(options)


def run(options: Options) -> int:
    """Generate the project; print the files written (stdout) and a report (stderr).

    Returns the exit code: 0, or an expected error's (``error: …`` on stderr).
    """
    from tac_bootstrap import scaffold
    from tac_bootstrap.errors import TacBootstrapError
    from tac_bootstrap.spec import ProjectSpec, parse_data

    try:
        spec = ProjectSpec.build(
            options.name,
            with_orchestrator=options.with_orchestrator,
            db=options.db,
            data=parse_data(list(options.data)),
        )
        result = scaffold.init(
            spec, options.output or Path(options.name), force=options.force, dry_run=options.dry_run
        )
    except TacBootstrapError as exc:
        print_error(exc)
        return exc.exit_code
    sys.stdout.write("".join(f"{path}\n" for path in result.written))
    sys.stdout.flush()
    report(result, spec)
    return 0


def stderr() -> Console:
    """Return a Rich console on stderr that does not hard-wrap (CI logs stay greppable)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


def print_error(exc: TacBootstrapError) -> None:
    """Print an expected error as ``error: <message>`` on stderr."""
    from rich.markup import escape

    stderr().print(f"[red]error:[/red] {escape(str(exc))}")


def report(result: InitResult, spec: ProjectSpec) -> None:
    """Show the tree of files and the next steps on stderr, in one write.

    Rendered whole before anything is written, so a Ctrl-C meanwhile shows no half tree.
    """
    console = stderr()
    console.begin_capture()
    try:
        _print_report(console, result, spec)
    finally:
        text = console.end_capture()
    console.file.write(text)
    console.file.flush()


def _print_report(console: Console, result: InitResult, spec: ProjectSpec) -> None:
    """Print the tree of files and the next steps on ``console``."""
    from rich.markup import escape
    from rich.tree import Tree

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
    console.print(
        f"{'Would write' if result.dry_run else 'Wrote'} {len(result.written)} files{kept}."
    )
    if result.overwritten:
        verb = "Would overwrite" if result.dry_run else "Overwrote"
        console.print(f"{verb}: {escape(', '.join(result.overwritten))}")
    if not result.dry_run:
        dbs = "SQLite and PostgreSQL" if spec.db == "postgres" else "SQLite"
        layer = f" (with the {dbs} orchestrator layer)" if spec.with_orchestrator else ""
        steps = f"cd {result.target}\n  python -m pip install -e '.[dev]' && python -m pytest"
        console.print(f"Next{layer}:\n  {escape(steps)}")
