"""Run a plain ``update`` without importing Typer.

Typer coerces every option through a Pydantic TypeAdapter, which costs about as much as
importing Typer itself. The entry point calls :func:`main` first: it handles only the
well-formed invocations ``update [--root DIR] [--dry-run] [-d KEY=VALUE]... [--format
text|json]`` (:data:`COMMAND`, see :mod:`tac_bootstrap.fastargs`) and returns None for
everything else (``--help``, a bad option), which Typer then handles and reports exactly as
it always does. :func:`run` is the one implementation of the command, which the Typer command
calls too.
"""

from __future__ import annotations

from pathlib import Path

from tac_bootstrap.fastargs import Command
from tac_bootstrap.fastargs import parse as parse_args

FORMATS = ("text", "json")
COMMAND = Command(
    flags={"--dry-run": "dry_run"},
    valued={"--root": "root", "--data": "data", "-d": "data", "--format": "fmt"},
    repeated=frozenset({"data"}),
    choices={"fmt": FORMATS},
)


def main(args: list[str]) -> int | None:
    """Run ``update`` with ``args`` (after the command name); None hands over to Typer."""
    found = parse_args(args, COMMAND)
    if found is None:
        return None
    root = Path(found.get("root", "."))
    fmt = found.get("fmt", "text")
    try:
        # Typer's usage message for a file as --root leaves stdout empty: with json, run
        # says it as the report's error document.
        if fmt == "text" and root.exists() and not root.is_dir():
            return None
    except OSError:  # a name too long, a folder on the way that cannot be searched
        pass  # update says what is wrong with it, in its one error line
    data = list(found.get("data", ()))
    return run(root, data, dry_run="dry_run" in found, fmt=fmt)


def run(root: Path, data: list[str], *, dry_run: bool, fmt: str) -> int:
    """Update the project at ``root``; print one line per file (stdout) and a summary (stderr).

    Returns the exit code: 0 updated or current, 1 files that need the person, or an expected
    error's (``error: …`` on stderr).
    """
    from tac_bootstrap import update
    from tac_bootstrap.errors import TacBootstrapError
    from tac_bootstrap.fastinit import output_failed, print_error, silence_failed_streams, write
    from tac_bootstrap.spec import parse_data

    try:
        result = update.update(root, parse_data(data), dry_run=dry_run)
    except TacBootstrapError as exc:
        lost = None
        if fmt == "json":  # a document even now: `update --format json | jq -e .ok` fails
            from tac_bootstrap.report import error_json

            try:
                write("stdout", error_json(str(exc)))
            except OSError as refused:  # the error itself is what to say, then that
                silence_failed_streams()
                lost = refused
        print_error(exc)
        if lost is not None:
            from tac_bootstrap.report import lost_report_line

            try:
                write("stderr", lost_report_line(fmt, lost))
            except OSError:  # stderr refuses too: the exit code is all there is
                silence_failed_streams()
        return exc.exit_code
    from tac_bootstrap.report import no_workflow_commands

    # Paths and diff lines come from the project: under GitHub Actions, a line of them that
    # reads as a workflow command (`::error::…`) is printed inside ::stop-commands::, as
    # sync-check prints its report. The summary names paths too (what needs you).
    text = result.render_json() if fmt == "json" else no_workflow_commands(result.render_text())
    try:
        write("stdout", text)
    except OSError as exc:
        return output_failed(exc)
    try:
        write("stderr", no_workflow_commands(result.summary() + "\n"))
    except OSError:  # the update is done and said so on stdout: its exit code stays the answer
        silence_failed_streams()
    return result.exit_code
