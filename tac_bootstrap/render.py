"""Render Jinja2 templates: one strict Environment per run, errors that name file and line."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tac_bootstrap.errors import TemplateNotFoundError, TemplateRenderError

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE_SUFFIX = ".j2"


def templates_root() -> Path:
    """Return the folder holding the shipped templates.

    An installed wheel carries them inside the package (hatchling force-include);
    a checkout keeps them in the top-level ``templates/`` folder.
    """
    package_dir = Path(__file__).resolve().parent
    packed = package_dir / "templates"
    if packed.is_dir():
        return packed
    return package_dir.parent / "templates"


def _toml_string(value: object) -> str:
    """Quote a value as a TOML basic string (JSON string escapes are valid TOML)."""
    import json

    return json.dumps(str(value), ensure_ascii=False)


def _erdiagram(schema: str) -> str:
    """Draw a rendered schema as the README's Mermaid block (see tac_bootstrap.diagram)."""
    from tac_bootstrap.diagram import block

    return block(schema)


def _where(exc: BaseException, default: str) -> tuple[str, int | None]:
    """Find the template file and line of a rendering error from Jinja2's rewritten traceback."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(TEMPLATE_SUFFIX) or frame.filename == default:
            return frame.filename, frame.lineno
    return default, None


class Renderer:
    """Render templates found under ``root`` with ``StrictUndefined``.

    Block tags (``{% if %}``) on a line of their own leave no blank line behind
    (``trim_blocks`` and ``lstrip_blocks``); a trailing newline is kept.

    Args:
        root: Folder that template names are relative to.
        cache_dir: Optional folder for Jinja2's bytecode cache, to skip recompiling
            templates that were compiled by an earlier run (keyed by the template's
            source, so an edit always recompiles). A folder that cannot be created or
            written is ignored: the cache only saves time.
    """

    def __init__(self, root: Path | None = None, cache_dir: Path | None = None) -> None:
        from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined

        self.root = (root or templates_root()).resolve()
        cache = None
        if cache_dir is not None and _writable_folder(cache_dir):
            cache = FileSystemBytecodeCache(str(cache_dir))
        self.env: Environment = Environment(
            loader=FileSystemLoader(str(self.root)),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,  # a line holding only a block tag leaves no blank line
            lstrip_blocks=True,
            autoescape=False,
            bytecode_cache=cache,
        )
        self.env.filters["toml"] = _toml_string
        self.env.filters["erdiagram"] = _erdiagram

    def exists(self, name: str) -> bool:
        """Return whether a template of that name exists under the root."""
        return (self.root / name).is_file()

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render the template ``name`` (relative to the root, with ``/``) with ``context``.

        Raises:
            TemplateNotFoundError: No such template.
            TemplateRenderError: The template has a syntax error or uses an undefined variable.
        """
        from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

        path = str(self.root / name)
        try:
            return self.env.get_template(name).render(context)
        except TemplateNotFound as exc:
            raise TemplateNotFoundError(name, self.root) from exc
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(
                _relative(exc.filename or path, self.root), exc.lineno, exc.message or str(exc)
            ) from exc
        except TemplateError as exc:
            file, line = _where(exc, path)
            raise TemplateRenderError(
                _relative(file, self.root), line, exc.message or str(exc)
            ) from exc

    def render_string(self, source: str, context: Mapping[str, Any], name: str) -> str:
        """Render a template given as a string (used for templated file and folder names)."""
        from jinja2 import TemplateError, TemplateSyntaxError

        try:
            return self.env.from_string(source).render(context)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(name, None, exc.message or str(exc)) from exc
        except TemplateError as exc:
            raise TemplateRenderError(name, None, exc.message or str(exc)) from exc

    def walk(self, folder: str) -> Iterator[str]:
        """Yield the names of every file under ``folder`` (relative to the root), sorted."""
        base = self.root / folder
        if not base.is_dir():
            raise TemplateNotFoundError(folder, self.root)
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            yield path.relative_to(self.root).as_posix()


def _writable_folder(folder: Path) -> bool:
    """Create ``folder`` if needed; return whether files can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _relative(filename: str, root: Path) -> str:
    """Show a template path relative to the templates root when it lies below it."""
    try:
        return Path(filename).resolve().relative_to(root).as_posix()
    except ValueError:
        return filename
