"""One hierarchy for every expected failure.

The CLI turns a :class:`TacBootstrapError` into ``error: <message>`` on stderr and exits
with its ``exit_code``; anything else is a bug and keeps its traceback.

Exit codes: 0 ok, 1 a check found problems, 2 bad input or could not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar


class TacBootstrapError(Exception):
    """Expected failure: the CLI prints ``error: <message>`` on stderr, no traceback."""

    exit_code: ClassVar[int] = 2


class InvalidInputError(TacBootstrapError):
    """A project name, ``--data`` value or option was refused."""


class TargetExistsError(TacBootstrapError):
    """The output folder exists and is not empty, and ``--force`` was not given."""

    def __init__(self, target: Path, overwritten: list[str]) -> None:
        self.target = target
        self.overwritten = overwritten
        if overwritten:
            shown = ", ".join(overwritten[:10])
            more = f" and {len(overwritten) - 10} more" if len(overwritten) > 10 else ""
            detail = f"it would overwrite {shown}{more}"
        else:
            detail = "no file in it would be overwritten"
        super().__init__(
            f"{target} exists and is not empty ({detail}); use --force to write into it"
        )


class WriteError(TacBootstrapError):
    """The file system refused a write; nothing of the project was left behind."""

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        super().__init__(f"cannot write {path}: {error.strerror or error}")


class UpdateStoppedError(TacBootstrapError):
    """``update`` stopped partway by a failed write; run again, it continues where it stopped."""

    def __init__(self, error: WriteError, done: int, total: int, backups: str | None) -> None:
        self.path = error.path
        kept = f"; backups of the files it changes are in {backups}/" if backups else ""
        super().__init__(
            f"{error}: the update stopped with {done} of its {total} file(s) changed{kept}; "
            "once the cause is fixed, run the same update again: it continues where it stopped"
        )


class TemplateNotFoundError(TacBootstrapError):
    """A template named on the command line or in a manifest does not exist."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        super().__init__(f"no template {name!r} under {root}")


class TemplateRenderError(TacBootstrapError):
    """A template failed to compile or render (syntax error, undefined variable)."""

    def __init__(self, template: str, line: int | None, message: str) -> None:
        self.template = template
        self.line = line
        self.message = message
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {message}")
