"""Check a generated project against its answers file and the installed generator.

``.tac-bootstrap.json`` records the answers a project was generated from and the sha256 of
every file written. Each file is compared with that hash (was it edited since generation?)
and the recorded hash with what the installed generator renders from the same answers now
(has its template changed?).
"""

from __future__ import annotations

from pathlib import Path

from tac_bootstrap import __version__
from tac_bootstrap.checkcache import sha256
from tac_bootstrap.confine import decode, read_bytes
from tac_bootstrap.errors import InvalidInputError
from tac_bootstrap.report import Problem, first_difference, unified_diff


def check_generated(root: Path) -> tuple[list[Problem], int]:
    """Compare every generated file with its recorded hash and with a fresh render.

    Returns:
        The problems found and the number of files compared.

    Raises:
        InvalidInputError: The answers file is missing, malformed or holds refused answers.
        TemplateRenderError: A shipped template fails to render.
    """
    from tac_bootstrap.scaffold import ANSWERS_FILE, load_answers, render_project
    from tac_bootstrap.spec import ProjectSpec

    answers = load_answers(root)
    try:
        spec = ProjectSpec.from_answers(answers)
    except InvalidInputError as exc:
        msg = f"{root / ANSWERS_FILE}: refused answer: {exc}"
        raise InvalidInputError(msg) from None
    rendered = render_project(spec)
    generator = f"tac-bootstrap {answers.version} at generation, {__version__} now"
    problems: list[Problem] = []
    paths = sorted(set(answers.files) | set(rendered))
    for path in paths:
        problems += compare_file(root, path, answers.files.get(path), rendered.get(path), generator)
    return problems, len(paths)


def compare_file(
    root: Path, path: str, recorded: str | None, fresh: bytes | None, generator: str
) -> list[Problem]:
    """Compare one file with its recorded sha256 and with the generator's fresh render."""
    if recorded is None:
        return [
            Problem(
                "new-template",
                path,
                None,
                f"the installed generator renders this "
                f"file, but it was not generated ({generator})",
            )
        ]
    try:
        current: bytes | None = read_bytes(root, path)
    except FileNotFoundError:
        current = None
    original = fresh if fresh is not None and sha256(fresh) == recorded else None
    problems = []
    if current is None:
        problems.append(
            Problem(
                "missing",
                path,
                None,
                "generated (its sha256 is in .tac-bootstrap.json) but missing",
            )
        )
    elif sha256(current) != recorded:
        problems.append(_edited(path, current, original))
    if fresh is None:
        problems.append(
            Problem(
                "template-removed",
                path,
                None,
                f"the installed generator no longer renders this file ({generator})",
            )
        )
    elif original is None:
        problems.append(_template_changed(path, current, recorded, fresh, generator))
    return problems


def _edited(path: str, current: bytes, original: bytes | None) -> Problem:
    """Describe a file edited since generation, with the edit as a diff when it is known."""
    message = "edited since generation: its sha256 differs from the one in .tac-bootstrap.json"
    if original is None:
        return Problem("edited", path, None, message)
    old, new = decode(original, path), decode(current, path)
    return Problem(
        "edited",
        path,
        first_difference(new, old),
        message,
        unified_diff(old, new, f"{path} (as generated)", f"{path} (now)"),
    )


def _template_changed(
    path: str, current: bytes | None, recorded: str, fresh: bytes, generator: str
) -> Problem:
    """Describe a file the generator now renders differently from what it wrote."""
    message = f"its template has changed: the generator renders it differently ({generator})"
    if current is None or sha256(current) != recorded:
        return Problem("template-changed", path, None, message)
    old, new = decode(current, path), decode(fresh, path)
    return Problem(
        "template-changed",
        path,
        first_difference(old, new),
        message,
        unified_diff(old, new, f"{path} (as generated)", f"{path} (rendered now)"),
    )
