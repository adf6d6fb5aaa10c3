"""Render Jinja2 templates: one strict Environment per run, errors that name file and line.

Templates may come from a pull request (``sync-check`` renders the repository's own), so they
are rendered in Jinja2's sandbox (no attribute of a Python object beyond the safe ones, so no
way from a template to the interpreter) and loaded through :class:`ConfinedLoader`: a
template, and everything it includes, imports or extends, must resolve (symlinks included)
inside the templates folder and be UTF-8.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tac_bootstrap.confine import (
    NotUtf8Error,
    OutsideRootError,
    UnreadableError,
    confine,
    decode,
    in_git,
    kind_of,
    mine,
    private_folder,
    read_file,
)
from tac_bootstrap.errors import TacBootstrapError, TemplateNotFoundError, TemplateRenderError

if TYPE_CHECKING:
    from jinja2 import (
        BaseLoader,
        BytecodeCache,
        Environment,
        FileSystemBytecodeCache,
        TemplateNotFound,
        nodes,
    )
    from jinja2.bccache import Bucket

    from tac_bootstrap.bounded import BoundedSandbox

TEMPLATE_SUFFIX = ".j2"
#: Memory a render may take beyond what the process holds when it starts (on Linux, where
#: /proc tells what the process holds). Each operation is sized, but a loop of
#: many (a 60 MB string appended 200 times to a list) gathers gigabytes within the time limit.
RENDER_MEMORY = 768 << 20
# Part of the bytecode cache's key: changes whenever the code Jinja2 generates would.
COMPILED_WITH = "bounded-3|"


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


# The shipped templates compiled to Python by the wheel's build hook (see
# tac_bootstrap.precompiled); absent from a checkout and from an editable install.
# Bytes of the longest path the system opens (Linux's PATH_MAX, with its NUL): a template
# name as long is missing.
LONGEST_NAME = 4096
SHOWN_NAME = 300  # characters of a template name a message quotes whole
# Why a link does not open though realpath follows it: a file named as a folder, too many links.
UNOPENED = (errno.ENOTDIR, errno.ELOOP)
PRECOMPILED = Path(__file__).resolve().parent / "_precompiled"


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
    (``trim_blocks`` and ``lstrip_blocks``); a trailing newline is kept. A template whose
    line ends are all CRLF (a Windows checkout with ``core.autocrlf``) renders with CRLF
    line ends, as git would check out its LF rendering; any other renders with LF.

    Args:
        root: Folder that template names are relative to.
        cache_dir: Optional folder for Jinja2's bytecode cache, to skip recompiling
            templates that were compiled by an earlier run (keyed by the template's
            source, so an edit always recompiles). A folder that cannot be created or
            written is ignored: the cache only saves time.
        precompiled: Folder of modules compiled from the templates at build time (see
            :mod:`tac_bootstrap.precompiled`), used for a template only when one was compiled
            from its exact source. By default :data:`PRECOMPILED` for the shipped templates
            (no ``root``) and none for any other root: a repository's or a recorded
            release's templates are always compiled from their own source.
        resolved: ``root`` is a real path already, resolved once where it was confined (the
            manifest's templates folder), and is used as it is.
    """

    def __init__(
        self,
        root: Path | None = None,
        cache_dir: Path | None = None,
        precompiled: Path | None = None,
        *,
        resolved: bool = False,
    ) -> None:
        from jinja2 import FileSystemBytecodeCache, StrictUndefined

        from tac_bootstrap.bounded import BoundedSandbox

        if root is None and precompiled is None:
            precompiled = PRECOMPILED
        # ``resolved``: ``root`` is a real path already (the manifest's templates folder, as it
        # was confined): resolving it again would follow a link put in its place since.
        self.root = root if resolved and root is not None else (root or templates_root()).resolve()
        self._crlf: set[str] = set()  # the templates loaded whose line ends are all CRLF
        cache: BytecodeCache | None = None
        if cache_dir is not None and _writable_folder(cache_dir):
            cache = _bytecode_cache(FileSystemBytecodeCache, cache_dir)
        if precompiled is not None and precompiled.is_dir():
            from tac_bootstrap import precompiled as modules

            cache = modules.cache(precompiled, cache)
        env = BoundedSandbox(
            loader=confined_loader(self.root, self._crlf),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,  # a line holding only a block tag leaves no blank line
            lstrip_blocks=True,
            autoescape=False,
            bytecode_cache=cache,
        )
        # Jinja folds constant expressions while compiling, and puts the result into the
        # module's source: `{{ 'x' * 10**8 }}` made a 100 MB module for Python to compile
        # (seconds, outside the render time limit's reach on a loaded machine). The sandbox
        # intercepts `*`, `**` and `%`: they run when the template renders, sized first.
        self.env: Environment = env
        self._sandbox: BoundedSandbox = env
        self.env.filters["toml"] = _toml_string
        self.env.filters["erdiagram"] = _erdiagram

    def parse_kept(self, source: str) -> nodes.Template:
        """Parse a template's source (to read its references); compiling it takes this tree.

        Raises:
            TemplateSyntaxError: It does not parse.
        """
        return self._sandbox.parse_kept(source)

    def forget_kept(self) -> None:
        """Drop the trees :meth:`parse_kept` kept that no compile took."""
        self._sandbox.forget_kept()

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
            with memory_budget(RENDER_MEMORY):
                text = self.env.get_template(name).render(context)
        except TemplateNotFound as exc:
            if exc.name != name:  # an include, import or extends names a missing template
                file, line = _where(exc, path)
                where = _relative(file, self.root)
                missing = _missing(self.root, exc)
                raise TemplateRenderError(where, line, missing) from None
            raise TemplateNotFoundError(name, self.root) from exc
        except RecursionError:
            raise TemplateRenderError(
                name,
                None,
                "recursion too deep: a template includes, extends or calls itself, "
                "directly or through others, or nests too deeply",
            ) from None
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(
                _relative(exc.filename or path, self.root), exc.lineno, exc.message or str(exc)
            ) from exc
        except TemplateError as exc:
            file, line = _where(exc, path)
            raise TemplateRenderError(
                _relative(file, self.root), line, exc.message or str(exc)
            ) from exc
        except TacBootstrapError:
            raise
        except SyntaxError as exc:  # Python cannot compile the module Jinja2 made of a template
            raise TemplateRenderError(
                _relative(_compiled_file(exc, path, self.root), self.root), None, _uncompiled(exc)
            ) from None
        except Exception as exc:  # the template's own code failed: 1 / 0, too much memory, ...
            file, line = _where(exc, path)
            raise TemplateRenderError(_relative(file, self.root), line, _failed(exc)) from exc
        if name in self._crlf:
            return text.replace("\r\n", "\n").replace("\n", "\r\n")
        return text

    def render_string(self, source: str, context: Mapping[str, Any], name: str) -> str:
        """Render a template given as a string (used for templated file and folder names)."""
        from jinja2 import TemplateError, TemplateSyntaxError

        try:
            with memory_budget(RENDER_MEMORY):
                return self.env.from_string(source).render(context)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(name, None, exc.message or str(exc)) from exc
        except TemplateError as exc:
            raise TemplateRenderError(name, None, exc.message or str(exc)) from exc
        except Exception as exc:  # as in render
            raise TemplateRenderError(name, None, _failed(exc)) from exc

    def walk(self, folder: str) -> Iterator[str]:
        """Yield the names of every file under ``folder`` (relative to the root), sorted."""
        base = self.root / folder
        if not base.is_dir():
            raise TemplateNotFoundError(folder, self.root)
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            yield path.relative_to(self.root).as_posix()


def _compiled_file(exc: SyntaxError, default: str, root: Path) -> str:
    """Return the template whose compiled module Python refused (an included or extended one).

    The error was raised compiling it, so no frame of the traceback is in it: the line of the
    template being rendered that includes or extends it is not where the problem is.
    """
    if isinstance(exc.filename, str) and exc.filename.startswith(f"{root}{os.sep}"):
        return exc.filename
    return default


def _uncompiled(exc: SyntaxError) -> str:
    """Describe a template Python cannot compile, without the line of Jinja2's generated code."""
    return (
        f"{type(exc).__name__}: {exc.msg} (it nests too deeply for Python to compile the code "
        "it becomes)"
    )


def shown_name(name: object) -> str:
    """Quote a template name for a message: its first 200 characters when it is longer.

    A name of three million characters made an error line as long.
    """
    text = repr(name)
    if len(text) <= SHOWN_NAME:
        return text
    size = f"{len(name):,} characters" if isinstance(name, str) else "long"
    return f"{text[:200]}… ({size})"


def _missing(root: Path, exc: TemplateNotFound) -> str:
    """Say which template an include, import or extends named was not found, and why."""
    from tac_bootstrap.bounded import NamesNoTemplateError

    if isinstance(exc, NamesNoTemplateError):  # `{% include none %}`
        return str(exc.message)
    if exc.name is None and not getattr(exc, "templates", True):  # `{% include [] %}`
        return "includes an empty list of templates"
    return f"includes {shown_name(exc.name)}, {_not_there(root, exc.name)}"


def _short(name: str) -> str:
    """Return a template name as an error shows it unquoted: its first 200 characters if long."""
    if len(name) <= SHOWN_NAME:
        return name
    return f"{name[:200]}… ({len(name):,} characters)"


def _not_there(root: Path, name: object) -> str:
    """Say why a template an include named was not found: nothing there, or not a file."""
    if not isinstance(name, str) or not name:
        return "which does not exist"
    path = os.path.join(root, loader_name(name))  # noqa: PTH118 - confined by the loader
    if not os.path.lexists(path):
        return "which does not exist"
    try:
        mode: int | None = os.stat(path).st_mode  # noqa: PTH116 - a str path
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:  # `l.j2 -> header.j2/`: the link does not open
            return (
                "which is a symlink that does not open: its target names a file as a folder "
                "(a '/' after a file's name)"
            )
        mode = None
    if mode is not None and stat.S_ISREG(mode):  # a file again: it was swapped meanwhile
        return "which was not there when it was read (it changed while in use)"
    return f"which is not a regular file ({kind_of(mode)})"


def _address_space() -> int | None:
    """Return the bytes of address space the process holds (Linux), else None."""
    try:
        with open("/proc/self/statm", "rb") as statm:  # noqa: PTH123 - no Path for one read
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def memory_budget(extra: int) -> Iterator[None]:
    """Let the block take at most ``extra`` more bytes of address space (else MemoryError).

    The soft limit on the address space is lowered for the block and set back after it (a
    process may raise its soft limit up to the hard one). Without ``resource`` or
    ``/proc`` (Windows, macOS) the block runs without a bound.
    """
    try:
        import resource
    except ImportError:  # Windows
        yield
        return
    held = _address_space()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = None if held is None else held + extra
    if limit is not None and hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if limit is None or (soft != resource.RLIM_INFINITY and soft <= limit):
        yield  # no way to tell, or already bounded more tightly
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _failed(exc: Exception) -> str:
    """Describe an error raised by a template's own expressions."""
    if isinstance(exc, MemoryError):
        return f"rendering it needs more than the {RENDER_MEMORY >> 20} MiB a template may use"
    from tac_bootstrap.bounded import TooBigError  # Jinja2 is imported by now

    if isinstance(exc, TooBigError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _bytecode_cache(base: type[FileSystemBytecodeCache], folder: Path) -> BytecodeCache:
    """Return Jinja2's file bytecode cache in ``folder``, made to fail quietly.

    The cache only saves time: a file that cannot be written (a full disk) or read (a FIFO
    or a device in its place, which Jinja2 would wait on or read forever) is compiled again.
    """

    class QuietBytecodeCache(base):  # type: ignore[misc,valid-type]
        def get_cache_key(self, name: str, filename: str | None = None) -> str:
            # Jinja2's own encodes strictly: a root whose name is not UTF-8 (bytes of the file
            # system, surrogate escapes here) made every render fail.
            key = hashlib.sha1(name.encode("utf-8", "surrogateescape"))  # noqa: S324 - Jinja2's
            # Code compiled before the sandbox intercepted `%` (or finalized `{{ }}`) folded
            # it while compiling: such a cached module is never used.
            key.update(COMPILED_WITH.encode())
            if filename is not None:
                key.update(f"|{filename}".encode("utf-8", "surrogateescape"))
            return key.hexdigest()

        def load_bytecode(self, bucket: Bucket) -> None:
            data = _cached(self._get_cache_filename(bucket))
            if data is None:
                return
            try:
                bucket.load_bytecode(io.BytesIO(data))
            except Exception:  # a damaged file: compile the template instead
                bucket.reset()

        def dump_bytecode(self, bucket: Bucket) -> None:
            # Written beside the file and moved into place: Jinja2 3.1.0 opens the file itself,
            # and a FIFO in its place made the render wait forever.
            import tempfile

            target = Path(self._get_cache_filename(bucket))
            try:
                handle, name = tempfile.mkstemp(dir=target.parent, prefix=".")
            except OSError:
                return
            written = Path(name)
            try:
                if hasattr(os, "fchmod"):  # readable by its owner next time, whatever the umask
                    os.fchmod(handle, 0o600)
                with os.fdopen(handle, "wb") as out:
                    bucket.write_bytecode(out)
                written.replace(target)
            except OSError:
                with contextlib.suppress(OSError):
                    written.unlink()

    return QuietBytecodeCache(str(folder))


def _cached(filename: str) -> bytes | None:
    """Return the bytes of a file of the bytecode cache, or None: unreadable, or not ours."""
    if not mine(filename):  # made by another user while the folder was open to them
        return None
    try:
        return read_file(filename)
    except OSError:
        return None


def _writable_folder(folder: Path) -> bool:
    """Create ``folder`` if needed; return whether files can be written in it, by this user only.

    A compiled template is code that runs: one another user could write there (a shared
    ``/tmp`` folder) would run theirs (see :func:`private_folder`).
    """
    return private_folder(folder)


def _relative(filename: str, root: Path) -> str:
    """Show a template path relative to the templates root when it lies below it.

    As named (``partials/l.j2``), not as a link on its way resolves (``partials/real.j2``):
    an error in an included link named the file it leads to, which the template never names.
    """
    with contextlib.suppress(ValueError):
        return Path(os.path.normpath(filename)).relative_to(root).as_posix()
    try:
        return Path(filename).resolve().relative_to(root).as_posix()
    except ValueError:
        return filename


class TemplateOutsideError(TacBootstrapError):
    """A template (or one it includes or extends) lies outside the templates folder."""

    def __init__(self, message: str, template: str) -> None:
        self.path = template  # relative to the templates folder
        super().__init__(message)


def confined_loader(root: Path, crlf: set[str] | None = None) -> BaseLoader:
    """Return a Jinja2 loader that reads only UTF-8 files inside ``root``, symlinks resolved.

    The name of each template loaded whose line ends are all CRLF is added to ``crlf``
    (and removed when it is loaded again with other line ends).

    A name with ``..`` or an absolute name (``{% include "/etc/passwd" %}``), or one that
    resolves through a symlink to a place outside ``root``, is refused with
    :class:`TemplateOutsideError` (not "not found"), before anything is read.
    """
    from jinja2 import BaseLoader, TemplateNotFound

    class ConfinedLoader(BaseLoader):
        def get_source(self, environment: Environment, template: str) -> tuple[str, str, Any]:
            del environment  # the loader needs only the name
            if isinstance(template, str) and not _nameable(template):  # no file has that name
                raise TemplateNotFound(template)
            path = _template_path(root, template)
            shown = _short(template)
            try:
                found = path.is_file()
            except OSError as exc:  # a name longer than the system allows: no file has it
                if exc.errno != errno.ENAMETOOLONG:
                    raise UnreadableError(shown, exc) from None
                found = False
            if not found:
                raise TemplateNotFound(template)
            try:
                data = read_file(path, resolved=True)
            except OSError as exc:  # no read permission, a FIFO, too big: named, not a crash
                raise UnreadableError(shown, exc) from None
            try:
                source = decode(data, f"template {shown_name(template)} ({path})")
            except NotUtf8Error as exc:
                exc.path = shown  # relative to the templates folder, as the name
                raise
            _refuse_lone_cr(shown, source)
            mtime = _mtime(path, shown)
            if crlf is not None:
                if "\r\n" in source and source.count("\n") == source.count("\r\n"):
                    crlf.add(template)
                else:
                    crlf.discard(template)
            return source, str(root / template), lambda: _unchanged(path, mtime)

    return ConfinedLoader()


def _nameable(template: str) -> bool:
    """Return whether a file may have the name ``template``: no NUL, bytes the system can take.

    A lone surrogate outside the ones that stand for bytes (U+D800, say) has no bytes: the
    system call's UnicodeEncodeError was the template's own error, where such a name is missing.
    """
    if "\x00" in template:
        return False
    try:
        os.fsencode(template)
    except UnicodeEncodeError:
        return False
    return True


def loader_name(template: str) -> str:
    """Return the name of the file Jinja2's own loader opens for ``template``.

    Jinja2's FileSystemLoader drops empty and ``.`` segments: ``orch/w.j2/`` and
    ``orch/./w.j2`` are ``orch/w.j2``. Read as given, a trailing ``/`` after a file was
    "Not a directory" (an error, ``ignore missing`` and an include list's next name not
    tried) where Jinja2 includes the file. A leading ``/`` is kept: an absolute name is refused.
    """
    head = "/" if template.startswith("/") else ""
    return head + "/".join(part for part in template.split("/") if part not in ("", "."))


def _template_path(root: Path, template: str) -> Path:
    """Return the real path of the template ``template`` of the templates folder ``root``.

    Raises:
        TemplateOutsideError: It is outside the folder (a name, or a link), or in a git folder.
        TemplateNotFound: It is longer than a path may be (a name of 300,000 folders took the
            30 s render time limit to resolve, folder by folder).
        TemplateNotFound: It is a link that does not open (a file named as a folder, ``x.j2/``;
            a chain of more than 40 links): Jinja2's loader finds no file there.
        UnreadableError: It cannot be read, named as ``template``.
    """
    parts = template.replace("\\", "/").split("/")
    if template.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        msg = (
            f"template {shown_name(template)} is outside the templates folder {root}: "
            "a template may only include, import or extend templates inside it"
        )
        raise TemplateOutsideError(msg, template)
    named = loader_name(template)
    if len(os.fsencode(named)) >= LONGEST_NAME:  # no file has it: missing, as the system says
        from jinja2 import TemplateNotFound

        raise TemplateNotFound(template)
    try:
        # Against the folder as resolved once: a link put in its place leads out of it.
        path = confine(root, named, shown=f"template {shown_name(template)}", real_root=str(root))
    except OutsideRootError as exc:
        raise TemplateOutsideError(str(exc), template) from None
    except UnreadableError as exc:  # it named the file "templates/template 'orch/l.j2'"
        if exc.error.errno in UNOPENED:  # a link that does not open: missing, as Jinja2 finds it
            from jinja2 import TemplateNotFound

            raise TemplateNotFound(template) from None
        raise UnreadableError(_short(template), exc.error) from None
    if in_git(root, named, str(path)):  # git's config may hold the CI job's token
        msg = (
            f"template {shown_name(template)} is in a git folder: a template may not include, "
            "import or extend git's files"
        )
        raise TemplateOutsideError(msg, template)
    return path


def _refuse_lone_cr(template: str, source: str) -> None:
    """Refuse a template holding a carriage return that does not end a line with LF.

    Jinja2 reads a lone CR as a line end and renders it as LF: the BASE would never get the
    template's byte (``sync`` replaced a BASE's lone CR with LF, and ``sync --from base``
    wrote a template that does not render back to its BASE).
    """
    at = source.replace("\r\n", " \n").find("\r")  # same length, one line end each
    if at >= 0:
        line = source.count("\n", 0, at) + 1
        message = (
            "holds a carriage return that does not end a line (a lone CR): Jinja2 would render "
            "it as a newline; write it as {{ '\\r' }} or remove it"
        )
        raise TemplateRenderError(template, line, message)


def _mtime(path: Path, shown: str) -> float:
    """Return a template file's modification time, taken once the loader has read it.

    Raises:
        UnreadableError: It was renamed or removed since (the error was the template's own
            `FileNotFoundError: [Errno 2] No such file or directory: '/…'`).
    """
    try:
        return path.stat().st_mtime
    except OSError as exc:
        raise UnreadableError(shown, exc) from None


def _unchanged(path: Path, mtime: float) -> bool:
    """Return whether a template file still has the modification time it was loaded with."""
    try:
        return path.stat().st_mtime == mtime
    except OSError:
        return False
