"""Run a plain ``sync-check`` without importing Typer, for pre-commit and CI.

Typer coerces every non-flag option through a Pydantic TypeAdapter, so parsing
``--root DIR`` alone imports Pydantic and costs about as much as the check itself, run on
every commit. The entry point calls :func:`main` first: it handles only the well-formed
invocations ``sync-check [--root DIR] [--format text|json|github] [--no-cache] [--strict]``
with a
check that completes, and returns None for everything else (``--help``, a bad option, an
expected error), which Typer then handles and reports exactly as it always does.
"""

from __future__ import annotations

import sys
from pathlib import Path

FORMATS = ("text", "json", "github")


def parse(args: list[str]) -> tuple[Path, str, bool, bool] | None:
    """Return ``(root, format, no_cache, strict)`` for a well-formed invocation, else None."""
    root, fmt, no_cache, strict = Path(), "text", False, False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if arg in ("--no-cache", "--strict"):
            no_cache = no_cache or arg == "--no-cache"
            strict = strict or arg == "--strict"
            continue
        if name not in ("--root", "--format"):
            return None
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if name == "--root" and value:
            root = Path(value)
        elif name == "--format" and value in FORMATS:
            fmt = value
        else:
            return None
    return root, fmt, no_cache, strict


def main(args: list[str]) -> int | None:
    """Run ``sync-check`` with ``args`` (after the command name); None hands over to Typer."""
    parsed = parse(args)
    if parsed is None:
        return None
    root, fmt, no_cache, strict = parsed
    if root.exists() and not root.is_dir():
        return None  # Typer refuses a file as --root with its own usage message
    from tac_bootstrap.errors import TacBootstrapError

    try:
        return run(root, fmt, no_cache=no_cache, strict=strict)
    except TacBootstrapError:
        return None  # Typer runs the check again and prints the error its usual way


def run(root: Path, fmt: str, *, no_cache: bool, strict: bool = False) -> int:
    """Check ``root``, print the report (stdout) and its summary (stderr); return the exit code.

    Raises:
        TacBootstrapError: The check could not run.
    """
    from tac_bootstrap import sync
    from tac_bootstrap.checkcache import default_cache_dir

    cache_dir = None if no_cache else default_cache_dir()
    report = sync.check(root, cache_dir=cache_dir, strict=strict)
    sys.stdout.write(report.render(fmt))
    sys.stderr.write(report.summary() + "\n")
    return 0 if report.ok else 1
