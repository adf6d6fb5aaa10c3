"""tac-bootstrap: generate Python projects whose agents persist their state in SQLite.

Importing this package is cheap on purpose: the CLI answers ``--version`` from here
before it imports Typer, Jinja2, Pydantic or Rich.
"""

__version__ = "0.4.3.dev0"

__all__ = ["__version__"]
