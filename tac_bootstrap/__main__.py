"""Entry point for ``tac-bootstrap`` and ``python -m tac_bootstrap``."""

import sys

from tac_bootstrap import __version__


def main() -> None:
    """Run the command line, answering ``--version`` before any heavy import."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        sys.stdout.write(f"tac-bootstrap {__version__}\n")
        return
    from tac_bootstrap.cli import app

    app(prog_name="tac-bootstrap")


if __name__ == "__main__":
    main()
