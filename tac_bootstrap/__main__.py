"""Entry point for ``tac-bootstrap`` and ``python -m tac_bootstrap``."""

import sys

from tac_bootstrap import __version__


def main() -> None:
    """Run the command line, answering ``--version`` before any heavy import."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        sys.stdout.write(f"tac-bootstrap {__version__}\n")
        return
    if sys.argv[1:2] == ["sync-check"]:
        # Typer parses options through Pydantic; a well-formed check runs without it.
        from tac_bootstrap.fastcheck import main as fast_sync_check

        code = fast_sync_check(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from tac_bootstrap.cli import app

    app(prog_name="tac-bootstrap")


if __name__ == "__main__":
    main()
