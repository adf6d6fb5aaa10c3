"""Run a plain ``init`` without importing Typer: the one implementation of the command.

Typer builds a Pydantic TypeAdapter for every option it parses, which costs about as much
as importing Typer itself, on a command whose goal is to cost little more than importing the
libraries it renders with. The entry point calls :func:`main` first: it handles only the
well-formed invocations ``init NAME [-o DIR] [--with-orchestrator] [--db DB] [--dry-run]
[--force] [-d KEY=VALUE]...`` (:data:`COMMAND`, see :mod:`tac_bootstrap.fastargs`) and
returns None for everything else (``--help``, a bad or unknown option, a missing name), which
Typer then handles and reports exactly as it always does. :func:`run` is the command itself,
which the Typer command calls too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from rich.console import Console

    from tac_bootstrap.errors import TacBootstrapError
    from tac_bootstrap.scaffold import InitResult
    from tac_bootstrap.spec import ProjectSpec

from tac_bootstrap.entry import WholeOutput
from tac_bootstrap.fastargs import Command
from tac_bootstrap.fastargs import parse as parse_args

COMMAND = Command(
    flags={"--with-orchestrator": "with_orchestrator", "--dry-run": "dry_run", "--force": "force"},
    valued={"--output": "output", "-o": "output", "--db": "db", "--data": "data", "-d": "data"},
    repeated=frozenset({"data"}),
    arguments=("name",),
)


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
    found = parse_args(args, COMMAND)
    if found is None:
        return None
    if "output" in found:
        found["output"] = Path(found["output"])
    return Options(**found)


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
    try:
        write("stdout", "".join(f"{path}\n" for path in result.written))
    except OSError as exc:
        return output_failed(exc)
    try:
        report(result, spec)
    except OSError:  # the project is made and its files listed: exit 0 still says so
        silence_failed_streams()
    return 0


def write(name: str, text: str) -> None:
    r"""Write ``text`` to ``sys.stdout`` or ``sys.stderr`` (``name``) and flush it.

    A character the stream's encoding lacks (``PYTHONIOENCODING=ascii``) is written as an
    escape such as ``\xe9`` (backslash, x, e, 9), not an error.

    Raises:
        OSError: The stream is closed or refused the text (a full disk, a closed pipe).
    """
    stream = getattr(sys, name)
    if stream is None:  # the process started with that descriptor closed
        raise OSError(errno.EBADF, f"{name} is closed")
    encoding = stream.encoding or "utf-8"
    text = text.encode(encoding, "backslashreplace").decode(encoding)
    with WholeOutput():  # a stop meanwhile ends the command after it, not in its middle
        stream.write(text)
        stream.flush()


def output_failed(exc: OSError) -> int:
    """Say on stderr, if it still takes it, that the output could not be written; return 2.

    A stream that refuses its text is pointed at the null device, so that the interpreter's
    last flush does not fail again (an "Exception ignored" message and exit 120).
    """
    silence_failed_streams()
    with contextlib.suppress(OSError):
        write("stderr", f"error: cannot write the output: {exc.strerror or exc}\n")
    silence_failed_streams()  # stderr, the same closed pipe, may hold that line unwritten
    return 2


def silence_failed_streams() -> None:
    """Point stdout or stderr at the null device if it refuses to flush what it holds."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(devnull, stream.fileno())


def stderr() -> Console:
    """Return a Rich console on stderr that does not hard-wrap (CI logs stay greppable)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


def print_error(exc: TacBootstrapError) -> None:
    """Print an expected error as ``error: <message>`` on stderr."""
    from rich.markup import escape

    from tac_bootstrap.report import text_line

    try:  # one short line: a value of megabytes in it keeps its two ends, as sync-check's does
        console = stderr()
        with WholeOutput():  # a stop meanwhile ends the command after the line, not in it
            console.print(f"[red]error:[/red] {escape(text_line(str(exc)))}")
    except OSError:  # stderr closed or full: the exit code is all there is
        silence_failed_streams()
    except SystemExit:  # Rich ends a broken pipe so (exit 1): the error's own code stands
        silence_failed_streams()


def report(result: InitResult, spec: ProjectSpec) -> None:
    """Show the tree of files and the next steps on stderr, in one write.

    Plain text, as Rich would draw it (bold and blue on a terminal), without importing Rich:
    the report is built whole before anything is written, so a Ctrl-C shows no half tree.
    """
    write("stderr", report_text(result, spec, color=_color(sys.stderr)))


def report_text(result: InitResult, spec: ProjectSpec, *, color: bool = False) -> str:
    """Return the report: the tree of files written, a count, and the next steps."""
    bold, blue, plain = ("\x1b[1m", "\x1b[34m", "\x1b[0m") if color else ("", "", "")
    ascii_only = not (sys.stderr.encoding or "").lower().startswith("utf")
    lines = [f"{bold}{result.target}{plain}"]
    lines += _tree(_nest(result.written), "", ascii_only, f"{blue}{{}}/{plain}")
    kept = f", {len(result.unchanged)} already up to date" if result.unchanged else ""
    verb = "Would write" if result.dry_run else "Wrote"
    lines.append(f"{verb} {len(result.written)} files{kept}.")
    if result.overwritten:
        verb = "Would overwrite" if result.dry_run else "Overwrote"
        lines.append(f"{verb}: {', '.join(result.overwritten)}")
    if not result.dry_run:
        dbs = "SQLite and PostgreSQL" if spec.db == "postgres" else "SQLite"
        layer = f" (with the {dbs} orchestrator layer)" if spec.with_orchestrator else ""
        lines.append(f"Next{layer}:")
        lines.append(f"  cd {result.target}")
        lines.append("  python -m pip install -e '.[dev]' && python -m pytest")
    return "".join(f"{line}\n" for line in lines)


Nested = dict[str, "Nested"]


def _nest(paths: tuple[str, ...]) -> Nested:
    """Return the paths as nested folders, each in the order its first file came."""
    root: Nested = {}
    for path in paths:
        node = root
        for part in path.split("/"):
            node = node.setdefault(part, {})
    return root


def _tree(node: Nested, indent: str, ascii_only: bool, folder: str) -> list[str]:
    """Draw the entries of ``node`` with Rich's guide lines (its ASCII ones if need be)."""
    branch, last, down, space = (
        ("+-- ", "`-- ", "|   ", "    ") if ascii_only else ("├── ", "└── ", "│   ", "    ")
    )
    lines = []
    for number, (name, children) in enumerate(node.items(), 1):
        final = number == len(node)
        label = folder.format(name) if children else name
        lines.append(f"{indent}{last if final else branch}{label}")
        lines += _tree(children, indent + (space if final else down), ascii_only, folder)
    return lines


def _color(stream: object) -> bool:
    """Return whether to color the report, as Rich decides: a terminal, unless told not to."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") not in ("dumb", "unknown")
