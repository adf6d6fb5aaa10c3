"""Run a plain ``sync-check`` without importing Typer, for pre-commit and CI.

Typer coerces every non-flag option through a Pydantic TypeAdapter, so parsing
``--root DIR`` alone imports Pydantic and costs about as much as the check itself, run on
every commit. The entry point calls :func:`main` first: it handles only the well-formed
invocations ``sync-check [--root DIR] [--format text|json|github] [--no-cache] [--strict]``
(:data:`COMMAND`, see :mod:`tac_bootstrap.fastargs`), and returns None for everything else
(``--help``, a bad option), which Typer then handles and reports exactly as it always does.
:func:`run` is the one implementation of the command, which the Typer command calls too.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from tac_bootstrap.entry import WholeOutput
from tac_bootstrap.fastargs import Command
from tac_bootstrap.fastargs import parse as parse_args

FORMATS = ("text", "json", "github")
COMMAND = Command(
    flags={"--no-cache": "no_cache", "--strict": "strict"},
    valued={"--root": "root", "--format": "fmt"},
    choices={"fmt": FORMATS},
)


def parse(args: list[str]) -> tuple[Path, str, bool, bool] | None:
    """Return ``(root, format, no_cache, strict)`` for a well-formed invocation, else None."""
    found = parse_args(args, COMMAND)
    if found is None:
        return None
    root, fmt = Path(found.get("root", ".")), found.get("fmt", "text")
    return root, fmt, "no_cache" in found, "strict" in found


def main(args: list[str]) -> int | None:
    """Run ``sync-check`` with ``args`` (after the command name); None hands over to Typer."""
    parsed = parse(args)
    if parsed is None:
        return None
    root, fmt, no_cache, strict = parsed
    try:
        # Typer refuses a file as --root with its own usage message, and prints nothing on
        # stdout: with json or github, run says it in the report's form (stdout was empty).
        if fmt == "text" and root.exists() and not root.is_dir():
            return None
    except OSError:
        pass  # a name too long, a folder without permission: run names it
    return run(root, fmt, no_cache=no_cache, strict=strict)


def run(root: Path, fmt: str, *, no_cache: bool, strict: bool = False) -> int:
    """Check ``root``, print the report (stdout) and its summary (stderr); return the exit code.

    An expected error is exit 2 (its ``exit_code``) with ``error: …`` on stderr and, on
    stdout, the JSON report's error form (``--format json``) or an annotation (``github``).
    With ``github``, the full report also goes to ``$GITHUB_STEP_SUMMARY`` when it is set.
    """
    from tac_bootstrap import report as reports
    from tac_bootstrap import sync
    from tac_bootstrap.checkcache import default_cache_dir
    from tac_bootstrap.errors import TacBootstrapError

    if sys.stdout is None or getattr(sys.stdout, "closed_at_start", False):  # `>&-`
        raise OSError(errno.EBADF, "stdout is closed")  # even a clean check, which prints nothing
    try:
        cache_dir = None if no_cache else default_cache_dir()
        report = sync.check(root, cache_dir=cache_dir, strict=strict)
    except TacBootstrapError as exc:
        lost = None
        try:
            if fmt == "json":
                _write("stdout", reports.error_json(str(exc)))
            elif fmt == "github":
                path, line = _location(root, exc)
                shown = reports.printable(str(exc))
                annotation = reports.annotation("sync-check could not run", shown, path, line)
                _write("stdout", annotation)
                message = reports.markdown_text(str(exc))
                reports.write_step_summary(f"### sync-check could not run\n\n{message}\n")
        except OSError as refused:  # a closed or full stdout: the error is still what is said
            from tac_bootstrap.fastinit import silence_failed_streams

            silence_failed_streams()
            lost = refused
        _write("stderr", f"error: {reports.text_line(str(exc))}\n")
        if lost is not None:  # and that its report is not on stdout (`jq` read nothing)
            _write("stderr", reports.lost_report_line(fmt, lost))
        return exc.exit_code
    _write("stdout", report.render(fmt))
    if fmt == "github":
        reports.write_step_summary(report.step_summary())
    try:
        _write("stderr", report.summary() + "\n")
    except OSError:  # the report is out: its exit code, not 2, agrees with it (`ok` in JSON)
        from tac_bootstrap.fastinit import silence_failed_streams

        silence_failed_streams()
    return 0 if report.ok else 1


def _write(name: str, text: str) -> None:
    """Write ``text`` to ``sys.stdout`` or ``sys.stderr`` (``name``) and flush it.

    Click 8.1's test runner reads the streams without flushing them.

    Raises:
        OSError: The stream refused the text: a full disk, a closed pipe.
    """
    stream = getattr(sys, name)
    with WholeOutput():  # a stop meanwhile ends the command after it, not in its middle
        stream.write(text)
        stream.flush()


def _location(root: Path, exc: Exception) -> tuple[str | None, int | None]:
    """Return the root-relative file (and line) an error names, when it names one."""
    path = getattr(exc, "path", None) or getattr(exc, "template", None)
    line = getattr(exc, "line", None)
    try:
        # lexists: a link that does not open (ENOTDIR, a loop) is still the file named
        if isinstance(path, str) and not Path(path).is_absolute() and os.path.lexists(root / path):
            return path, line if isinstance(line, int) else None
    except OSError:  # the very error being reported may be that it cannot be reached
        pass
    return None, None
