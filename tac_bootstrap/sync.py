"""Keep BASE files and their templates in sync: ``check`` reports drift, ``fix`` repairs it.

``check(root)`` renders every template of the manifest (see :mod:`tac_bootstrap.manifest`)
and compares it with its BASE file byte for byte, reports unpaired and missing files, checks
that the models, schema and database module agree, and in a generated project compares each
file with its recorded hash and with what the installed generator renders now. It takes
paths and returns data: it never prints and never exits.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import glob
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tac_bootstrap.checkcache import CheckCache, file_sha, files_digest, sha256
from tac_bootstrap.confine import (
    MAX_FILE_BYTES,
    NotAFileError,
    NotUtf8Error,
    OutsideRootError,
    UnreadableError,
    confine,
    decode,
    held_stops,
    kind_of,
    link_note,
    marked_encoding,
    on_stop,
    read_file,
    remove,
    replace_all,
    settle_leftovers,
    stage,
    unmarked,
    unmarked_encoding,
    writable,
    wrong_encoding,
)
from tac_bootstrap.errors import TacBootstrapError, TemplateRenderError
from tac_bootstrap.manifest import (
    MANIFEST_FILE,
    Agreement,
    Manifest,
    ManifestError,
    ManifestTomlError,
    Pair,
    load_manifest,
)
from tac_bootstrap.report import (
    Problem,
    SyncReport,
    first_difference,
    left_out_diff,
    printable,
    text_diff,
    unified_diff,
)

if TYPE_CHECKING:
    from tac_bootstrap.agreement import Children
    from tac_bootstrap.render import Renderer
    from tac_bootstrap.sqlcheck import SharedSchema

ANSWERS_FILE = ".tac-bootstrap.json"  # the same name as tac_bootstrap.scaffold.ANSWERS_FILE
#: A template of the checked repository may loop for hours; ours render in milliseconds.
RENDER_SECONDS = 30.0
#: What all the renders of one command may take together (with reading the templates'
#: includes for the check cache), or RENDER_PAIR_SECONDS a pair if that is more: 5,000 pairs
#: each stopping just before RENDER_SECONDS would take 41 hours; a check of 2,000 pairs of
#: distinct ~200-line templates took 8 ms a pair cold on an idle machine, 30 ms at load 7.
RENDER_TOTAL_SECONDS = 120.0
RENDER_PAIR_SECONDS = 0.1
#: Characters of diffs one check keeps in its report (the size of a file); ``sync`` too.
DIFF_BUDGET = MAX_FILE_BYTES
#: Bytes of files one ``sync`` holds to write, with the contents they replace (two files of
#: the largest size): it writes nothing until every file is planned, and 10 pairs whose
#: template renders 60 MB held 1,352 MiB (5,000 such pairs: 600 GB).
HOLD_BYTES = 2 * MAX_FILE_BYTES
_JINJA_MARKUP = ("{{", "{%", "{#")
_PAST = {"create": "created", "rewrite": "rewrote"}


class _Templates:
    """The manifest's templates, rendered through one lazily created Renderer.

    Creating the Renderer imports Jinja2; a check whose pairs are all unchanged never does.
    """

    def __init__(self, manifest: Manifest, cache_dir: Path | None) -> None:
        self.manifest = manifest
        self.cache_dir = cache_dir
        self._renderer: Renderer | None = None
        self.total_seconds = max(RENDER_TOTAL_SECONDS, RENDER_PAIR_SECONDS * len(manifest.pairs))
        self._seconds_left = self.total_seconds
        self._limited = False  # within time_limit()

    @property
    def renderer(self) -> Renderer:
        """Return the Renderer, creating it (with a bytecode cache, if any) on first use."""
        if self._renderer is None:
            from tac_bootstrap.render import Renderer

            jinja_cache = self.cache_dir / "jinja" if self.cache_dir else None
            templates = Path(self.manifest.templates_root)
            self._renderer = Renderer(templates, cache_dir=jinja_cache, resolved=True)
        return self._renderer

    def render(self, pair: Pair) -> bytes:
        """Render a pair's template; errors name the template relative to the root.

        Raises:
            TemplateRenderError: Syntax error, undefined variable or time out, with the file.
        """
        try:
            with self.time_limit(pair):
                text = self._render_text(pair)
        finally:  # the trees dependencies() parsed that this render did not compile
            if self._renderer is not None:
                self._renderer.forget_kept()
        return self._encoded(pair, text)

    @contextlib.contextmanager
    def time_limit(self, pair: Pair) -> Iterator[None]:
        """Stop the block after RENDER_SECONDS, or what is left of the total for all pairs.

        Within a block already limited (reading a template's includes and rendering it: the
        first parses it, which took 28 s for a template of 1.4 MB), no other limit starts.

        Raises:
            TemplateRenderError: The time ran out, naming the pair's template.
        """
        if self._limited:
            yield
            return
        import time

        shown = self.manifest.template_path(pair.template)
        seconds = min(RENDER_SECONDS, self._seconds_left)
        all_of_them = f"the {self.total_seconds:g} s all the renders of a check may take"
        if seconds <= 0:
            raise TemplateRenderError(
                shown, None, f"not rendered: the templates took {all_of_them}"
            )
        started = time.monotonic()
        self._limited = True
        try:
            with _time_limit(seconds):
                yield
        except _TimeUp:
            limit = f"{RENDER_SECONDS:g} s" if seconds == RENDER_SECONDS else all_of_them
            raise TemplateRenderError(
                shown, None, f"did not finish rendering within {limit}"
            ) from None
        finally:
            self._limited = False
            self._seconds_left -= time.monotonic() - started

    def _render_text(self, pair: Pair) -> str:
        """Render a pair's template to text; errors name the template relative to the root."""
        from tac_bootstrap.render import TemplateOutsideError

        try:
            return self.renderer.render(pair.template, pair.context)
        except (NotUtf8Error, TemplateOutsideError) as exc:
            exc.path = self.manifest.template_path(exc.path)  # relative to the root
            raise
        except UnreadableError as exc:  # named relative to the root, as every unreadable file
            raise UnreadableError(self.manifest.template_path(exc.path), exc.error) from None
        except TemplateRenderError as exc:
            raise TemplateRenderError(
                self.manifest.template_path(exc.template), exc.line, exc.message
            ) from exc

    def _encoded(self, pair: Pair, text: str) -> bytes:
        """Return a rendered text as a file's bytes; a TemplateRenderError if it cannot be one."""
        shown = self.manifest.template_path(pair.template)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800"), which no file can hold
            raise TemplateRenderError(shown, None, "renders text that is not Unicode") from None
        if len(data) > MAX_FILE_BYTES:  # no BASE read is that big: no diff of it is made
            message = f"renders {len(data):,} bytes, more than the {MAX_FILE_BYTES:,} of a file"
            raise TemplateRenderError(shown, None, message)
        return data

    def renders_to_itself(self, text: str, name: str) -> bool:
        """Return whether ``text`` used as a template renders exactly to itself.

        Line ends must be all LF or all CRLF: a template renders with its own line ends when
        they are all CRLF (see :class:`~tac_bootstrap.render.Renderer`), and with LF otherwise.
        """
        if any(mark in text for mark in _JINJA_MARKUP):
            return False
        lf = text.replace("\r\n", "\n")
        if "\r" in lf or (lf != text and "\n" in text.replace("\r\n", "")):
            return False  # a lone CR, or CRLF and LF mixed: Jinja would make them all one
        return self.renderer.render_string(lf, {}, name) == lf

    def dependencies(self, name: str) -> dict[str, str | None] | None:
        """Return the sha256 of the template and of every template it includes or extends.

        A template that is referenced but absent (``ignore missing``, or behind an ``if``)
        gets None, so that creating it counts as a change. The result is None when a
        reference is computed at render time and so cannot be known in advance, or is a name
        no file can have (a NUL byte). A referenced template that was not rendered (behind an
        ``if``) may not be UTF-8 or may not parse: its bytes are recorded, its references not.
        """
        from jinja2 import TemplateSyntaxError, meta

        from tac_bootstrap.render import LONGEST_NAME, UNOPENED, loader_name

        found: dict[str, str | None] = {}
        todo = [name]
        while todo:
            current = todo.pop()
            if current in found:
                continue
            named = loader_name(current)  # as the loader reads it
            try:
                if len(named.encode("utf-8", "surrogatepass")) >= LONGEST_NAME:  # missing
                    found[current] = None
                    continue
                path = self.manifest.template_file(named)
                data = read_file(path, resolved=True)
            except ValueError:  # "embedded null byte"
                return None
            except (OSError, OutsideRootError, UnreadableError) as exc:
                if isinstance(exc, UnreadableError) and exc.error.errno not in UNOPENED:
                    raise
                found[current] = None  # missing (a link that does not open too), or outside
                continue
            found[current] = sha256(data)
            try:
                text = decode(data, self.manifest.template_path(current))
                if "{%" not in text:  # no tag, so no include, import or extends
                    continue
                refs = list(meta.find_referenced_templates(self.renderer.parse_kept(text)))
            except (NotUtf8Error, TemplateSyntaxError, RecursionError):
                continue  # not rendered: a change to its bytes is a change all the same
            names = [ref for ref in refs if ref is not None]
            if len(names) != len(refs):
                return None
            todo += names
        return found


@contextlib.contextmanager
def file_errors(root: Path) -> Iterator[None]:
    """Report a file system error no stage expected (a folder without permission, ...).

    Each stage turns the errors it expects into its own messages; this is the net under them,
    so that a permission denied anywhere is ``error: cannot read <file>: …``, not a traceback.

    Raises:
        UnreadableError: An OSError escaped, named by its file (relative to ``root`` if inside).
    """
    try:
        yield
    except OSError as exc:
        name = exc.filename if isinstance(exc.filename, str) else str(root)
        with contextlib.suppress(ValueError, OSError):
            name = Path(name).relative_to(Path(root).absolute()).as_posix()
        raise UnreadableError(name, exc) from None


class _TimeUp(BaseException):
    """Raised by :func:`_time_limit`'s alarm (a BaseException: no template code catches it)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_TimeUp` in the block after ``seconds`` (where SIGALRM exists)."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    if not main or not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(*_: object) -> None:
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(root: Path, *, cache_dir: Path | None = None, strict: bool = False) -> SyncReport:
    """Check that BASE files, templates, models, schema and generated files agree.

    Args:
        root: Repository (with a ``[tool.tac-bootstrap.sync]`` manifest) or generated project
            (with a ``.tac-bootstrap.json`` answers file) to check.
        cache_dir: Folder for the clean-check records and Jinja2's bytecode cache; None
            checks everything from scratch and writes nothing.
        strict: In a generated project, count edits since generation, changed templates
            and a newer generator as problems, not notes.

    Raises:
        ManifestError: No manifest and no answers file, a malformed manifest, or no root.
        NotAFileError: The answers file is not a regular file.
        TemplateRenderError: A template has a syntax error or uses an undefined variable.
        TacBootstrapError: The models module or the answers file cannot be read.
    """
    with file_errors(root):
        return _check(root, cache_dir, strict)


def _what_is(path: Path) -> str | None:
    """Say what a path that is there but is no regular file is (``update`` says the same).

    None when it is a regular file after all: one away for a moment (a rename and back) was
    called "a device" (what is neither a folder, a FIFO nor a socket); None too when the name
    is gone at this look (a FIFO in its place removed, the file not back yet), which was
    called "a symlink": it is read as the file it is next, or said missing.
    """
    try:
        mode: int | None = path.stat().st_mode
    except OSError:
        try:
            mode = path.lstat().st_mode
        except OSError:  # gone at this look: no link, nothing to name
            return None
        if stat.S_ISLNK(mode):  # a link to nothing or a loop
            mode = None
    if mode is not None and stat.S_ISREG(mode):
        return None
    return "a symlink" if mode is None else kind_of(mode)


def _check(root: Path, cache_dir: Path | None, strict: bool) -> SyncReport:
    """Run :func:`check` (whose file system errors :func:`file_errors` reports)."""
    manifest, unread = _load_manifest(root)
    generated = (root / ANSWERS_FILE).is_file()
    if not generated and os.path.lexists(root / ANSWERS_FILE):  # else --strict would be skipped
        what = _what_is(root / ANSWERS_FILE)
        if what is not None:
            msg = f"{root / ANSWERS_FILE} is not a regular file ({what})"
            raise NotAFileError(msg)
        generated = True  # a file again: read as one
    if manifest is None and not generated:
        msg = (
            f"{root}: nothing to check: no [tool.tac-bootstrap.sync] manifest in "
            f"pyproject.toml and no {ANSWERS_FILE}"
        )
        raise ManifestError(msg)
    if cache_dir is not None and _cache_in_root(cache_dir, root):
        # The checked tree may be a pull request's: records or compiled templates planted in
        # it would pass a check or run unsandboxed code. Such a cache is not used.
        cache_dir = None
    report = SyncReport(root=str(root))
    cache = CheckCache(cache_dir, root)
    if manifest is not None:
        # Taken before the modules' children start: what they import is this, or newer.
        agreed = _agreement_digest(manifest) if cache.enabled and manifest.agreement else None
        models = _start_models(manifest, cache, agreed)
        shared = _shared_schema(manifest)
        try:
            _check_pairs(manifest, _Templates(manifest, cache_dir), cache, report)
            report.problems += orphans(manifest)
            _check_agreement(manifest, cache, report, models, agreed, shared)
            _check_migrations(manifest, cache, report, shared)
        finally:
            if models is not None:
                models.close()
            if shared is not None:
                shared.close()
    if generated:
        _check_generated(root, report, strict, cache_dir, (manifest is not None, unread))
    cache.save()
    return report


def _load_manifest(root: Path) -> tuple[Manifest | None, ManifestTomlError | None]:
    """Read the manifest; a ``pyproject.toml`` that is not TOML, in a generated project, later.

    It may hold an update's conflict markers: the generated check names them (a problem), and
    the manifest's checks run once they are resolved. If it names none, the error is said.
    """
    try:
        return load_manifest(root), None
    except ManifestTomlError as exc:
        if not (root / ANSWERS_FILE).is_file():
            raise
        return None, exc


def _check_generated(
    root: Path,
    report: SyncReport,
    strict: bool,
    cache_dir: Path | None,
    manifest: tuple[bool, ManifestTomlError | None],
) -> None:
    """Add the generated project's check to ``report`` (``manifest``: found, or not TOML)."""
    from tac_bootstrap.generated import check_generated

    found, unread = manifest
    try:
        generated_check = check_generated(
            root, strict=strict, cache_dir=cache_dir, manifest_found=found or unread is not None
        )
    except TacBootstrapError:
        if unread is not None:
            raise unread from None
        raise
    if unread is not None:
        generated_check.problems = _conflicted_manifest(generated_check.problems, unread)
    report.problems += generated_check.problems
    report.notes += generated_check.notes
    report.checked += generated_check.checked


def _conflicted_manifest(problems: list[Problem], unread: ManifestTomlError) -> list[Problem]:
    """Say that the manifest's checks wait for the update conflict in ``pyproject.toml``.

    Raises:
        ManifestTomlError: ``unread``, when no conflict markers were found in it.
    """
    found = [p for p in problems if p.kind == "conflict" and p.path == MANIFEST_FILE and p.line]
    if not found:
        raise unread
    said = (
        f"{found[0].message}; until then it is not TOML, and the checks of its "
        "[tool.tac-bootstrap.sync] manifest did not run"
    )
    return [replace(p, message=said) if p is found[0] else p for p in problems]


def _inside(path: Path, root: Path) -> bool:
    """Return whether ``path`` (symlinks resolved) is ``root`` or inside it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _cache_in_root(cache_dir: Path, root: Path) -> bool:
    """Return whether the cache folder is the root or inside it, by path or by file identity.

    A bind mount of the root elsewhere has another real path: the folder (or the first of its
    parents that exists) and each parent above are compared with the root's device and inode.
    """
    if _inside(cache_dir, root):
        return True
    try:
        root_stat = root.stat()
    except OSError:
        return False  # the check reports an unreadable root itself
    real = Path(os.path.realpath(cache_dir))
    for folder in (real, *real.parents):
        try:
            found = folder.stat()
        except OSError:
            continue  # not made yet: its parents decide
        if (found.st_dev, found.st_ino) == (root_stat.st_dev, root_stat.st_ino):
            return True
    return False


def _check_pairs(
    manifest: Manifest, templates: _Templates, cache: CheckCache, report: SyncReport
) -> None:
    """Compare every pair, skipping those whose inputs are unchanged since a clean check.

    The diffs the report keeps hold at most :data:`DIFF_BUDGET` characters: past it, a
    drift's diff is a note. 80 pairs whose template renders 63 MB of long lines held a diff
    of 63 MB each: the check took 4 GB, and 5,000 such pairs would take 315 GB.
    """
    diffs_left = DIFF_BUDGET
    for pair in manifest.pairs:
        report.checked += 1
        problems, skipped = _check_pair(manifest, pair, templates, cache, diffs_left)
        report.skipped += skipped
        for found in problems:
            if len(found.diff) <= diffs_left:
                diffs_left -= len(found.diff)
                report.problems.append(found)
            else:  # and no diff is made after it
                diffs_left = 0
                report.problems.append(
                    replace(found, diff=_header(found.diff) + _LEFT_OUT.format(DIFF_BUDGET))
                )


def _header(diff: str) -> str:
    """Return the ``---``/``+++`` lines a unified diff starts with ("" for another text)."""
    return "\n".join(diff.split("\n", 2)[:2]) + "\n" if diff.startswith("--- ") else ""


_LEFT_OUT = (
    "(not shown: the diffs of this check already hold {:,} characters; fix the ones above, "
    "or compare the files with a diff tool)\n"
)


_LEFT_OUT_OF_SYNC = (
    "(not shown: the diffs of this sync already hold {:,} characters; compare the files "
    "with a diff tool)\n"
)


def _check_pair(
    manifest: Manifest, pair: Pair, templates: _Templates, cache: CheckCache, diff_room: int
) -> tuple[list[Problem], bool]:
    """Compare one BASE with its rendered template: (the problems, whether skipped).

    With no ``diff_room`` left, a drift's diff is not made (difflib's time is spent for nothing).
    """
    try:
        base = _read(manifest.base_file(pair.base))
    except OSError as exc:
        missing = _missing(manifest, pair)  # a folder in its place is an error there
        if missing:
            return missing, False
        raise UnreadableError(pair.base, exc) from None
    inputs = {
        "template": pair.template,
        "context": _context_sha(pair.context),
        "base": sha256(base),
    }
    last = cache.get("pair:" + pair.base)
    if last is not None and _unchanged(manifest, last, inputs):
        return [], True
    missing = _missing(manifest, pair)
    if missing:
        return missing, False
    # The templates' hashes are taken before the render reads them: one edited while it renders
    # is then a change to the next check, not recorded as the text that passed.
    with templates.time_limit(pair):  # reading the includes parses the template: limited too
        deps = templates.dependencies(pair.template) if cache.enabled else None
        rendered = templates.render(pair)
    if rendered == base:
        if deps is not None:
            cache.put("pair:" + pair.base, {**inputs, "deps": deps})
        return [], False
    side = _changed_side(manifest, last, inputs)
    return [_drift(manifest, pair, base, rendered, side, with_diff=diff_room > 0)], False


def _missing(manifest: Manifest, pair: Pair) -> list[Problem]:
    """Report the BASE and template that the manifest names but that do not exist."""
    template = manifest.template_path(pair.template)
    problems = []
    if not _is_file(manifest.template_file(pair.template), template):
        problems.append(
            Problem(
                "missing-template",
                template,
                None,
                f"named by the manifest as the template of {pair.base} but "
                + _missing_how(manifest.root, template, "sync --from base", "the BASE file"),
            )
        )
    if not _is_file(manifest.base_file(pair.base), pair.base):
        problems.append(
            Problem(
                "missing-base",
                pair.base,
                None,
                f"named by the manifest as the BASE of {template} but "
                + _missing_how(manifest.root, pair.base, "sync", "the template"),
            )
        )
    return problems


def _missing_how(root: Path, rel: str, command: str, source: str) -> str:
    """Say how a missing file ``rel`` is made: by ``command``, unless it is a link to nothing.

    ``command`` does not write through a link: for ``pkg/x.txt -> nowhere`` the check said
    "`tac-bootstrap sync` creates it" and sync then refused the link, exit 2.
    """
    blocked = _not_a_folder_on_the_way(root, rel)
    if blocked is not None:
        return (
            f"missing: {blocked}, not a folder; `tac-bootstrap {command}` does not replace "
            "it: move it away"
        )
    note = link_note(root, rel)
    if note is None:
        return f"missing; `tac-bootstrap {command}` creates it from {source}"
    return (
        f"{note}; `tac-bootstrap {command}` does not write through a link: replace the "
        "link by a file"
    )


def _not_a_folder_on_the_way(root: Path, rel: str) -> str | None:
    """Name the folder on the way of ``rel`` that is something else, and what it is (None: none).

    For ``pkg/orch`` a file, a FIFO or a socket the check said "`tac-bootstrap sync` creates
    it" and sync then refused, exit 2 (``pkg/orch is a file, not a folder``).
    """
    parts = rel.split("/")[:-1]
    for end in range(1, len(parts) + 1):
        folder = "/".join(parts[:end])
        try:
            mode = os.stat(os.path.join(root, folder)).st_mode  # noqa: PTH116, PTH118
        except OSError:  # missing (made by the command), or a link to nothing: said elsewhere
            return None
        if not stat.S_ISDIR(mode):
            what = "a file" if stat.S_ISREG(mode) else kind_of(mode)
            return f"{folder} is {what}"
    return None


def _context_sha(context: dict[str, Any]) -> str:
    """Hash a render context independently of key order."""
    return sha256(json.dumps(context, sort_keys=True, default=str).encode())


def _unchanged(manifest: Manifest, last: Any, inputs: dict[str, str]) -> bool:
    """Return whether the inputs equal those of the pair's last clean check."""
    if not isinstance(last, dict) or any(last.get(k) != v for k, v in inputs.items()):
        return False
    deps = last.get("deps")
    # Strings, not Paths: see _read.
    return isinstance(deps, dict) and all(
        _template_sha(manifest, name) == digest for name, digest in deps.items()
    )


def _template_sha(manifest: Manifest, name: str) -> str | None:
    """Return the sha256 of a template as the loader finds it (None: missing).

    A template that became a link out of the templates folder is not read: the loader refuses
    it, so it counts as a change. Only a link can lead out, so the name is resolved (a dozen
    system calls) only when one of its parts is one (a few).
    """
    from tac_bootstrap.render import LONGEST_NAME, loader_name

    folder = manifest.templates_real
    if "\0" in name or ".." in name.split("/"):
        return "outside"
    name = loader_name(name)  # `partials/h.j2/` is `partials/h.j2`, as the loader reads it
    if len(name.encode("utf-8", "surrogatepass")) >= LONGEST_NAME:  # missing, as the loader says
        return None
    path = folder + name
    here = folder
    for part in name.split("/"):
        here += part
        if os.path.islink(here):  # noqa: PTH114 - strings: see _read
            if not os.path.exists(path):  # noqa: PTH110 - a link that does not open: missing
                return None
            path = os.path.realpath(path)
            return file_sha(path) if path.startswith(folder) else "outside"
        here += os.sep
    return file_sha(path)


def _changed_side(manifest: Manifest, last: Any, inputs: dict[str, str]) -> str | None:
    """Say what alone changed since the last clean check: ``base``, ``template``, ``context``.

    None when the check cache does not know (no clean check yet) or more than one changed.
    """
    if not isinstance(last, dict) or last.get("template") != inputs["template"]:
        return None
    base_changed = last.get("base") != inputs["base"]
    context_changed = last.get("context") != inputs["context"]
    # The template files alone: compared with base and context taken as they are now.
    template_changed = not _unchanged(manifest, {**last, **inputs}, inputs)
    changed = [
        side
        for side, flag in (
            ("base", base_changed),
            ("template", template_changed),
            ("context", context_changed),
        )
        if flag
    ]
    return changed[0] if len(changed) == 1 else None


def _drift(
    manifest: Manifest,
    pair: Pair,
    base: bytes,
    rendered: bytes,
    side: str | None,
    *,
    with_diff: bool = True,
) -> Problem:
    """Describe a BASE that differs from its rendered template, with the diff to apply.

    The kind is always ``drift``; which side changed (known only from the check cache) is
    in ``changed`` and in the message.
    """
    template = manifest.template_path(pair.template)
    old, new = decode(base, pair.base), decode(rendered, template)
    names = f"{pair.base} (BASE)", f"{pair.base} (rendered from {template})"
    if with_diff:
        diff = unified_diff(old, new, *names)
    else:
        diff = left_out_diff(*names, _LEFT_OUT.format(DIFF_BUDGET))
    messages = {
        "base": (
            f"BASE edited since the last clean check and no longer what {template} renders: "
            "copy the edit into the template (`tac-bootstrap sync --from base`) or undo it "
            "(`tac-bootstrap sync`)"
        ),
        "template": (
            f"{template} changed since the last clean check and now renders differently "
            "from this BASE: rewrite the BASE with `tac-bootstrap sync`"
        ),
        "context": (
            "the manifest's context for this pair changed since the last clean check, and "
            f"{template} now renders differently from this BASE: rewrite the BASE with "
            "`tac-bootstrap sync` or undo the context change"
        ),
    }
    message = messages.get(side or "") or (
        f"BASE differs from what {template} renders: rewrite the BASE from the template "
        "(`tac-bootstrap sync`) or copy the BASE into it (`tac-bootstrap sync --from base`)"
    )
    if old != new and _lf(old) == _lf(new):
        message = (
            f"BASE differs from what {template} renders only in its line ends "
            f"(BASE {_line_ends(old)}, rendered {_line_ends(new)}): give both files the same "
            "line ends (`tac-bootstrap sync` rewrites the BASE with the template's)"
        )
    return Problem("drift", pair.base, first_difference(old, new), message, diff, side, template)


def _lf(text: str) -> str:
    """Return ``text`` with every CRLF and lone CR made LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_ends(text: str) -> str:
    """Name the line ends ``text`` uses: CRLF, LF, CR, or mixed."""
    crlf = text.count("\r\n")
    kinds = [
        name
        for name, count in (
            ("CRLF", crlf),
            ("LF", text.count("\n") - crlf),
            ("CR", text.count("\r") - crlf),
        )
        if count
    ]
    return kinds[0] if len(kinds) == 1 else "mixed" if kinds else "none"


# What a run keeps beside a file it replaces (see confine.stage and confine.replace_all).
_KEPT = re.compile(r"\.(.+)\.([0-9]+)\.(tmp|orig)")


def _orphan_base(root: Path, path: str) -> str:
    """Say what a BASE file with no template is, and what to do.

    A file named as what ``sync``, ``init --force``, ``update`` or ``migration new`` keeps
    beside a file it replaces (``.<name>.<pid>.orig``, the file as it was, or
    ``.<name>.<pid>.tmp``), beside that file, is named as such: a run stopped (``kill -9``)
    before it removed it left one, which running that command again clears; adding a pair
    for it or listing it in ``unpaired`` is not what the person needs. It is still a problem.
    """
    folder, _, name = path.rpartition("/")
    match = _KEPT.fullmatch(name)
    if match is not None and os.path.lexists(root / folder / match[1]):
        return (  # the name is in the path, shown escaped: not repeated here
            "named as what a tac-bootstrap run keeps beside the file it names while it "
            f"replaces it (process {match[2]}): a run stopped before it removed it left it; "
            "run that command again (sync, init --force, update, migration new), which clears "
            "it, or delete it"
        )
    return (
        "BASE file with no template: add a pair for it "
        "to [tool.tac-bootstrap.sync] or list it in `unpaired`"
    )


def orphans(manifest: Manifest) -> list[Problem]:
    """Report BASE files with no template and templates with no BASE file."""
    exempt = _matches(manifest.root, manifest.unpaired)
    bases = {pair.base for pair in manifest.pairs}
    templates = {manifest.template_path(pair.template) for pair in manifest.pairs}
    template_globs = [manifest.template_path(g) for g in manifest.template_globs]
    problems = [
        Problem("orphan-base", path, None, _orphan_base(manifest.root, path))
        for path in sorted(_matches(manifest.root, manifest.base_globs) - bases - exempt)
    ]
    problems += [
        Problem(
            "orphan-template",
            path,
            None,
            "template with no BASE file: add a pair for it "
            "to [tool.tac-bootstrap.sync] or list it in `unpaired`",
        )
        for path in sorted(_matches(manifest.root, template_globs) - templates - exempt)
    ]
    return problems


def _matches(root: Path, globs: Iterable[str]) -> set[str]:
    """Return the root-relative paths of the files matching any glob (no bytecode)."""
    found = set()
    real_root = os.path.realpath(root) + os.sep
    for pattern in globs:
        # Strings, not Path.glob: see _read.
        for rel in _glob(root, pattern):
            posix = rel.replace(os.sep, "/")
            bytecode = "__pycache__" in posix.split("/") or posix.endswith(".pyc")
            path = f"{root}{os.sep}{rel}"
            if bytecode or not os.path.isfile(path):  # noqa: PTH113
                continue
            # A match through a symlink that leaves the root is not one of the root's files.
            # Files only are resolved (each costs the square of its depth): resolving the 900
            # folders ``**`` matched in a folder 900 deep took 31 s.
            if os.path.realpath(path).startswith(real_root):
                found.add(posix)
    return found


def _glob(root: Path, pattern: str) -> Iterable[str]:
    """Return the root-relative matches of one glob, hidden files included.

    The walk stays in the root: a symlinked folder is entered only when the pattern names it
    (no wildcard) and it resolves inside the root. glob.glob followed ``ext -> /`` in
    ``ext/*`` and listed the file system, a pattern through ``/proc/*/root`` never ended, and
    two links to ``.`` in a folder made ``*/*/…/*`` (as ``**`` before) double at each level.
    ``**`` matches any number of folders, and at the end files too, as glob.glob's does.

    Raises:
        ManifestError: The walk goes more than :data:`MAX_GLOB_DEPTH` folders deep.
    """
    if pattern.endswith("/"):
        return []  # folders only: never a file
    parts = [part for part in pattern.split("/") if part not in ("", ".")]
    if parts and parts[-1] == "**":
        parts.append("*")
    real_root = os.path.realpath(root)
    found: list[str] = []
    todo = [("", 0)]
    # A folder reached at one place of the pattern is walked once: with several ``**`` it is
    # reached along many paths (their number grows exponentially with the ``**`` and the depth).
    seen: set[tuple[str, int]] = set()
    while todo:
        rel, index = todo.pop()
        folder = os.path.join(root, rel)  # noqa: PTH118 - strings: see _read
        if index == len(parts):
            found.append(rel)
            continue
        part = parts[index]
        if part == "**":
            subfolders = [(child, index) for child in _subfolders(root, pattern, rel)]
            _queue(todo, seen, [(rel, index + 1), *subfolders])
            continue
        wild = glob.has_magic(part)
        if wild:
            names = fnmatch.filter(_listdir(folder, rel), part)
        else:
            names = [part] if os.path.lexists(os.path.join(folder, part)) else []  # noqa: PTH118
        for name in names:
            child = os.path.join(rel, name)  # noqa: PTH118
            if index + 1 == len(parts):
                found.append(child)
            elif os.path.isdir(path := os.path.join(root, child)) and (  # noqa: PTH112, PTH118
                not os.path.islink(path)  # noqa: PTH114
                or (not wild and _inside(Path(path), Path(real_root)))
            ):
                _not_too_deep(root, pattern, child)
                _queue(todo, seen, [(child, index + 1)])
    return found


#: How many folders deep below the root a manifest's glob may go (this repository's deepest
#: file is 10 folders deep, the deepest folder of a Linux system outside /tmp 19): each match
#: is resolved, which costs the square of its depth, so 900 folders took 31 s.
MAX_GLOB_DEPTH = 128


def _subfolders(root: Path, pattern: str, rel: str) -> list[str]:
    """Return the real folders (not links) in the folder ``rel`` of ``root``, root-relative.

    Raises:
        ManifestError: ``pattern``'s walk goes more than :data:`MAX_GLOB_DEPTH` folders deep.
    """
    listed = _listdir(f"{root}{os.sep}{rel}", rel, folders=True)
    children = [os.path.join(rel, d) for d in listed]  # noqa: PTH118
    if children:
        _not_too_deep(root, pattern, children[0])
    return children


def _not_too_deep(root: Path, pattern: str, rel: str) -> None:
    """Refuse ``pattern``'s walk into the folder ``rel`` over :data:`MAX_GLOB_DEPTH` deep.

    Raises:
        ManifestError: It is.
    """
    if rel.count(os.sep) + 1 > MAX_GLOB_DEPTH:
        msg = (
            f"{root / MANIFEST_FILE}: [tool.tac-bootstrap.sync] glob {_cut(pattern)!r} goes more "
            f"than {MAX_GLOB_DEPTH} folders deep (into {_cut(rel.replace(os.sep, '/'))}): "
            "narrow the glob or move the folder out of its way"
        )
        raise ManifestError(msg)


def _cut(value: str) -> str:
    """Return a long value cut short for a message."""
    return value if len(value) <= 60 else value[:57] + "..."


def _queue(
    todo: list[tuple[str, int]], seen: set[tuple[str, int]], states: list[tuple[str, int]]
) -> None:
    """Add to a glob's walk the (folder, place in the pattern) states it has not had yet."""
    for state in states:
        if state not in seen:
            seen.add(state)
            todo.append(state)


def _listdir(folder: str, shown: str, *, folders: bool = False) -> list[str]:
    """Return the names in a folder (only its real folders, not links, with ``folders``).

    Raises:
        UnreadableError: The folder may not be listed (no read permission, or a path longer
            than the system takes): read as empty, the files a glob should have matched there
            went unchecked and the check passed.
    """
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if not folders or e.is_dir(follow_symlinks=False)]
    except PermissionError as exc:
        raise UnreadableError(shown.replace(os.sep, "/") or ".", exc) from None
    except OSError as exc:  # missing, not a folder: nothing there to match
        if exc.errno == errno.ENAMETOOLONG:  # there, past the system's longest path: unlisted
            raise UnreadableError(_cut(shown.replace(os.sep, "/")), exc) from None
        return []


def _is_file(path: str, shown: str) -> bool:
    """Return whether ``path`` is a file; a folder (or other non-file) in its place is an error.

    Raises:
        NotAFileError: Something other than a file is there.
    """
    mode = None
    try:
        mode = os.stat(path).st_mode  # noqa: PTH116 - a str path: see _read
    except PermissionError as exc:  # not "missing": sync would write it anew
        raise UnreadableError(shown, exc) from None
    except OSError:
        pass
    if mode is not None and stat.S_ISREG(mode):
        return True
    if os.path.lexists(path):
        if mode is None:  # not there a moment ago (its folder renamed and back?): look again
            try:
                mode = os.lstat(path).st_mode
            except OSError:  # gone again at this look (a FIFO there a moment): nothing to name
                return False
            if stat.S_ISLNK(mode):  # a link: named by what it leads to, if anything
                try:
                    mode = os.stat(path).st_mode  # noqa: PTH116 - a str path: see _read
                except OSError:
                    mode = None
            if mode is not None and stat.S_ISREG(mode):
                return True
        msg = f"{shown} is not a regular file ({kind_of(mode)}): move it away or fix the manifest"
        raise NotAFileError(msg)
    return False


def _read(path: str) -> bytes:
    """Read a file given as a string path, resolved (a BASE's or a template's, confined).

    On the per-pair path of a check, strings instead of Path objects: for thousands of
    pairs, building Paths costs more than reading the files.
    """
    return read_file(path, resolved=True)


def _agreement_digest(manifest: Manifest) -> str | None:
    """Hash the files of the agreement (None if one cannot be read)."""
    agreement = manifest.agreement
    assert agreement is not None  # noqa: S101 - callers check
    files = [*agreement.files(), *filter(None, [agreement.diagram])]
    siblings = _module_siblings(manifest.root, agreement)
    if siblings is None:
        return None
    files += siblings
    folder = agreement.postgres_migrations()
    if folder is not None and (manifest.root / folder).is_dir():  # its files are checked too
        from tac_bootstrap.chain import chain_files  # imported by the migrations check anyway

        files += chain_files(manifest.root, folder)
    return files_digest(manifest.root, files)


def _module_siblings(root: Path, agreement: Agreement) -> list[str] | None:
    """Return every file under the folders of the modules the check imports (None: a link).

    An imported module may import its siblings or read a data file beside it: a change to one
    of them must be seen, or a cached verdict would pass models that no longer agree. These
    folders are what the confined child may read of the repository (see
    :mod:`tac_bootstrap.sandbox`), all of it: a ``__pycache__``, the migrations folder and a
    ``.git`` below them too (a models module read a flag from its ``__pycache__`` and kept a
    stale pass). Not seen are a ``.git`` in the folder itself, which the child cannot read,
    and a file elsewhere that a child without Landlock, or with the repository on
    ``sys.path``, could read (the README says so).
    """
    modules = [agreement.models, agreement.database, agreement.postgres_database]
    found: set[str] = set()
    for folder in {m.rpartition("/")[0] for m in modules if m is not None}:
        if not _inside(root / folder, root):
            return None  # a link out of the root: the module is refused, nothing there is listed
        top = str(root / folder)
        for dirpath, dirnames, filenames in _walk(top):
            # os.path.relpath, not Path.relative_to: from Python 3.12 on, that compares the
            # path with each of its parents, and a folder 1,100 deep took minutes.
            here = os.path.relpath(dirpath, root).replace(os.sep, "/")
            if dirpath == top:
                dirnames[:] = [d for d in dirnames if d != ".git"]
            paths = [os.path.join(dirpath, name) for name in dirnames + filenames]  # noqa: PTH118
            if any(map(os.path.islink, paths)):  # its target may be outside the root
                return None
            found.update(name if here == "." else f"{here}/{name}" for name in filenames)
    return sorted(found)


def _walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """Walk a tree as os.walk does (top down, links listed, not entered), without recursion.

    Python 3.11's os.walk recurses: a folder deeper than the recursion limit (about a
    thousand) beside the models ended the check in a RecursionError traceback.
    """
    todo = [top]
    while todo:
        dirpath = todo.pop()
        dirnames: list[str] = []
        filenames: list[str] = []
        try:
            with os.scandir(dirpath) as entries:
                for entry in entries:
                    try:
                        folder = entry.is_dir()
                    except OSError:
                        folder = False
                    (dirnames if folder else filenames).append(entry.name)
        except OSError:  # unreadable, or a path too long: skipped, as os.walk does
            continue
        yield dirpath, dirnames, filenames
        for name in reversed(dirnames):
            path = os.path.join(dirpath, name)  # noqa: PTH118 - strings: see _read
            if not os.path.islink(path):  # noqa: PTH114
                todo.append(path)


def _start_models(manifest: Manifest, cache: CheckCache, digest: str | None) -> Children | None:
    """Start importing the checked modules in child processes, if the agreement must be checked.

    The children import Pydantic and the modules on the other core while templates render.
    ``digest`` is the agreement's files' (:func:`_agreement_digest`), None without a cache.
    """
    agreement = manifest.agreement
    if agreement is None:
        return None
    if digest is not None and cache.get("agreement") == digest:
        return None
    from tac_bootstrap.agreement import start

    return start(manifest.root, agreement)


def _shared_schema(manifest: Manifest) -> SharedSchema | None:
    """The SQLite schema, loaded once for the agreement, diagram and migration checks."""
    if manifest.agreement is None:
        return None
    from tac_bootstrap.sqlcheck import SharedSchema  # sqlite3: only now

    return SharedSchema()


def _check_agreement(
    manifest: Manifest,
    cache: CheckCache,
    report: SyncReport,
    models: Children | None,
    digest: str | None,
    shared: SharedSchema | None = None,
) -> None:
    """Check models, schema and database module, unless unchanged since they last agreed.

    ``digest`` is their files' when the check began (None without a cache: then the folders
    of the modules are not read for it, and nothing is recorded).
    """
    agreement = manifest.agreement
    if agreement is None:
        return
    report.checked += 1
    if digest is not None and cache.get("agreement") == digest:
        report.skipped += 1
        return
    from tac_bootstrap.agreement import check_agreement  # sqlite3: only now

    problems = check_agreement(manifest.root, agreement, models, shared)
    if agreement.diagram is not None:
        problems += check_diagram(manifest.root, agreement.diagram, agreement.schema, shared)
    # A file edited while the check ran (an editor's save, a checkout) may not be what the
    # children imported: the verdict is recorded only for files that did not change.
    if not problems and digest is not None and _agreement_digest(manifest) == digest:
        cache.put("agreement", digest)
    report.problems += problems


def _check_migrations(
    manifest: Manifest, cache: CheckCache, report: SyncReport, shared: SharedSchema | None = None
) -> None:
    """Check the migration chain against the schema, unless unchanged since it last matched."""
    agreement = manifest.agreement
    if agreement is None or agreement.migrations is None:
        return
    report.checked += 1
    from tac_bootstrap.chain import chain_files, check_migrations

    folder = agreement.migrations
    files = [agreement.schema, *filter(None, [agreement.database])]

    def digest_now() -> str | None:
        return files_digest(manifest.root, files + chain_files(manifest.root, folder))

    digest = digest_now()
    if digest is not None and cache.get("migrations") == digest:
        report.skipped += 1
        return
    problems = check_migrations(manifest.root, agreement, shared)
    # As for the agreement: recorded only for files that did not change while checked.
    if not problems and digest is not None and cache.enabled and digest_now() == digest:
        cache.put("migrations", digest)
    report.problems += problems


def _diagram_inputs(root: Path, path: str, schema: str) -> tuple[str, str] | str:
    """Read the diagram's file and the schema; or say why either cannot be drawn from.

    The diagram's file is rewritten by ``sync``: it must be a regular file inside the root
    (a symlink out of it would make ``sync`` write elsewhere).

    Raises:
        UnreadableError: Either cannot be read (no permission): ``sync`` refused the diagram
            (exit 1) where ``sync-check`` names the file (exit 2).
    """
    texts = []
    for name in (path, schema):
        # realpath, not Path.resolve: Python 3.11's raises RuntimeError on a symlink loop.
        file = Path(os.path.realpath(root / name))
        if not file.is_file() or not file.is_relative_to(os.path.realpath(root)):
            return f"cannot read {name}: not a regular file inside the root"
        try:
            # Bytes, not read_text: sync writes the text back, with the user's line ends.
            # read_file: a file too big (a sparse one of gigabytes) is refused, not read whole.
            data = read_file(file, resolved=True)
            texts.append(data.decode("utf-8"))
            if (encoding := unmarked_encoding(data)) is not None:
                return f"cannot read {name}: {unmarked('it', encoding)}"
        except PermissionError as exc:  # an error, as every file the user may not read is
            raise UnreadableError(name, exc) from None
        except OSError as exc:  # too big (a sparse file of gigabytes): the diagram's problem
            return f"cannot read {name}: {exc.strerror or exc}"
        except UnicodeDecodeError as exc:
            encoding = marked_encoding(exc.object)
            if encoding is not None:
                return f"cannot read {name}: {wrong_encoding('it', encoding)}"
            byte = exc.object[exc.start]
            return f"cannot read {name}: not UTF-8 (byte 0x{byte:02x} at {exc.start})"
    return texts[0], texts[1]


def _unreadable_diagram(path: str, why: str) -> Problem:
    return Problem(
        "diagram", path, None, f"{why} (named by [tool.tac-bootstrap.sync.agreement] diagram)"
    )


def check_diagram(
    root: Path, path: str, schema: str, shared: SharedSchema | None = None
) -> list[Problem]:
    """Report a schema diagram in ``path`` that is missing or not drawn from ``schema``."""
    from tac_bootstrap import diagram

    inputs = _diagram_inputs(root, path, schema)
    if isinstance(inputs, str):
        return [_unreadable_diagram(path, inputs)]
    try:
        problem = diagram.check(*inputs, path, schema, shared)
    except diagram.DiagramError:
        return []  # the schema does not load: check_agreement reports it, with its line
    return [] if problem is None else [problem]


class ChangedWhileRunningError(TacBootstrapError):
    """A file sync is about to write changed after sync read it: nothing was written."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"{path} changed while sync was running (an edit, a checkout?): nothing was "
            "written; run sync again"
        )


class LinkInPlaceError(NotAFileError):
    """A file ``sync`` would write is a symbolic link: writing through it changes its target."""

    def __init__(self, path: str, target: str) -> None:
        self.path = path
        super().__init__(
            f"{path} is a symbolic link to {target}: sync does not write through a link (the "
            "file it leads to would change in its place): replace the link by a file, or "
            "name that file in the manifest: nothing was written"
        )


def _no_link_in_place(change: Change) -> Path:
    """Return the folder-resolved path ``change`` writes, refusing a link at its last name.

    The folders on the way may be links that stay inside the root; the file's own name may
    not: a link to another file of the root (a template, ``README.md``) had that file rewritten
    under the BASE file's name. Once checked, a link put there is replaced by the write's
    rename (which never follows one), not written through.

    Raises:
        LinkInPlaceError: The name is a symbolic link (to a file, a missing one, itself).
    """
    folder, name = os.path.split(change.relative)
    place = os.path.join(confine(change.root, folder or "."), name)  # noqa: PTH118 - strings
    if name not in ("", ".", "..") and os.path.islink(place):  # noqa: PTH114
        target = _realpath_shown(change.root, place)
        raise LinkInPlaceError(change.path, target)
    return Path(place)


def _realpath_shown(root: Path, place: str) -> str:
    """Return where the link ``place`` leads, relative to ``root`` when inside it."""
    try:
        resolved = os.path.realpath(place)
    except OSError:  # a loop on Python versions whose realpath raises
        return str(Path(place).readlink())
    real_root = os.path.realpath(root)
    if resolved.startswith(real_root.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(resolved, real_root)).as_posix()
    return resolved


class TooMuchToWriteError(TacBootstrapError):
    """The files ``sync`` would write hold more than :data:`HOLD_BYTES`: nothing was written."""

    def __init__(self, path: str, held: int) -> None:
        self.path = path
        super().__init__(
            f"{path}: not synced: with it, the files sync would write and the contents they "
            f"replace hold {held:,} bytes, more than the {HOLD_BYTES:,} one sync holds (it "
            "writes nothing before every file is planned): nothing was written"
        )


@dataclass
class _Budget:
    """What one ``sync`` holds: the files it will write, and the diffs it shows."""

    held: int = 0
    diffs_left: int = field(default_factory=lambda: DIFF_BUDGET)

    def diff(self, old: str, new: str, old_name: str, new_name: str) -> str:
        """Return a diff of two texts, or its header lines and a note once the diffs are full.

        No diff is made once no room is left (difflib's time for nothing), as in a check.
        """
        if old == new:
            return ""
        if self.diffs_left > 0:
            diff = unified_diff(old, new, old_name, new_name)
            if len(diff) <= self.diffs_left:
                self.diffs_left -= len(diff)
                return diff
        self.diffs_left = 0
        return left_out_diff(old_name, new_name, _LEFT_OUT_OF_SYNC.format(DIFF_BUDGET))

    def hold(self, change: Change | None) -> None:
        """Count a planned change's contents (none for None).

        Raises:
            TooMuchToWriteError: They take what sync holds past :data:`HOLD_BYTES`.
        """
        if change is None:
            return
        self.held += len(change.content) + len(change.before or b"")
        if self.held > HOLD_BYTES:
            raise TooMuchToWriteError(change.path, self.held)


@dataclass(frozen=True)
class Change:
    """One file ``sync`` rewrote or created (or, with ``--dry-run``, would)."""

    path: str
    action: str
    diff: str
    root: Path = field(repr=False, compare=False)
    relative: str = field(repr=False, compare=False)
    content: bytes = field(repr=False, compare=False)
    #: The file's bytes when sync read it (None: it did not exist), checked again before writing.
    before: bytes | None = field(default=None, repr=False, compare=False)


@dataclass
class FixReport:
    """What ``sync`` changed, and what it refused to change and why."""

    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)
    _planned: dict[str, Change] = field(default_factory=dict, repr=False)

    def render_text(self) -> str:
        """Render each change with its diff, then each refusal with the diff to apply by hand.

        Lines longer than ``sync-check``'s text report shows are cut as it cuts them: a
        rendered line of 60 million NULs took 39 s to escape and print under load.
        """
        parts = [
            printable(f"{'would ' + c.action if self.dry_run else _PAST[c.action]} {c.path}")
            + f"\n{text_diff(c.diff)}"
            for c in self.changes
        ]
        parts += [
            printable(f"{p.path}{f':{p.line}' if p.line else ''}: {p.kind}: {p.message}")
            + f"\n{text_diff(p.diff)}"
            for p in self.refused
        ]
        return "".join(parts)

    def apply(self, change: Change | None, refusal: Problem | None) -> None:
        """Record a planned change and a refusal, if any (``fix`` writes once all are planned)."""
        if change is not None:
            # By the file it resolves to: two names of one file (a symlink) are one target.
            target = str(confine(change.root, change.relative))
            earlier = self._planned.get(target)
            if earlier is None:
                self.changes.append(change)
                self._planned[target] = change
            elif earlier.content != change.content and earlier in self.changes:
                self.changes.remove(earlier)  # neither is written
                self.refused.append(_conflict(change))
        if refusal is not None:
            self.refused.append(refusal)

    def summary(self) -> str:
        """Return one status line."""
        verb = "would change" if self.dry_run else "changed"
        refused = f", refused {len(self.refused)}" if self.refused else ""
        return f"sync: {verb} {len(self.changes)} file(s){refused}"


def _conflict(change: Change) -> Problem:
    """Refuse a file that two pairs would write with different contents."""
    return Problem(
        "conflict",
        change.path,
        None,
        "two pairs would write different contents to this file (from BASE files that "
        "differ): make those BASE files agree, or give each pair a template of its own",
        change.diff,
    )


def fix(
    root: Path, *, dry_run: bool = False, from_base: bool = False, cache_dir: Path | None = None
) -> FixReport:
    """Rewrite BASE files from their templates, or with ``from_base`` templates from BASE files.

    Where the agreement names a ``diagram`` file, its schema diagram is redrawn as well.
    A template is only rewritten from its BASE when it has no Jinja logic (and the BASE has
    no Jinja markup), so that the copy renders back to the BASE exactly; otherwise the
    refusal carries the diff to apply by hand. Every change is planned (rendered, its paths
    checked) before the first file is written.

    Raises:
        ManifestError: No manifest, a malformed manifest, or no root.
        TemplateRenderError: A template has a syntax error or uses an undefined variable.
        OutsideRootError: A BASE file or template resolves outside its folder.
        NotUtf8Error: A BASE file or template is not UTF-8.
        NotAFileError: A BASE file or template is a folder, or a parent of it is a file.
        WriteError: The file system refused a write.
    """
    with file_errors(root):
        return _fix(root, dry_run=dry_run, from_base=from_base, cache_dir=cache_dir)


def _fix(root: Path, *, dry_run: bool, from_base: bool, cache_dir: Path | None) -> FixReport:
    """Run :func:`fix` (whose file system errors :func:`file_errors` reports)."""
    manifest = load_manifest(root)
    if manifest is None:
        msg = f"{root}: no [tool.tac-bootstrap.sync] manifest in pyproject.toml"
        raise ManifestError(msg)
    report = FixReport(dry_run=dry_run)
    templates = _Templates(manifest, cache_dir)
    step = _fix_from_base if from_base else _fix_from_template
    budget = _Budget()
    current = []  # the files this run leaves as it would write them
    for pair in manifest.pairs:
        change, refusal = step(manifest, pair, templates, budget)
        budget.hold(change)
        report.apply(change, refusal)
        if refusal is None:
            written = manifest.template_file(pair.template) if from_base else None
            current.append(Path(written or manifest.base_file(pair.base)))
    agreement = manifest.agreement
    if agreement is not None and agreement.diagram is not None:
        # After the pairs: a schema that sync has just rewritten is the one to draw.
        change, refusal = _fix_diagram(
            manifest, agreement.diagram, agreement.schema, report, budget
        )
        budget.hold(change)
        report.apply(change, refusal)
        if refusal is None:
            current.append(Path(manifest.base_file(agreement.diagram)))
    # Every write is checked before the first is made: no half-synced tree on a refusal. A dry
    # run is the same run without its writes: it refuses what the run would refuse.
    for change in report.changes:
        _check_unchanged(change)
        _no_link_in_place(change)
        writable(change.root, change.relative, shown=change.path)
    if not dry_run:
        _write_all(report.changes)
        for path in current:  # what a killed run left beside them (kill -9)
            settle_leftovers(path)
        from tac_bootstrap.scaffold import remove_stale_staging

        with contextlib.suppress(OSError):  # a root that cannot be listed: nothing is cleared
            remove_stale_staging(root)  # a killed init's, in a generated project
    return report


def _write_all(changes: list[Change]) -> None:
    """Write every change beside its file, then move each into place.

    A write that fails (a full disk), or a move refused partway, leaves no file rewritten
    (see :func:`replace_all`), where writing one after the other left the files before it
    rewritten and those after it not.

    Raises:
        WriteError: The file system refused a write or a move.
    """
    # The folders the writes create (a new template's): removed again, if empty, when a write
    # fails, so that a sync that wrote nothing leaves nothing behind.
    new_folders = {
        folder for change in changes for folder in _missing_folders(change.root, change.relative)
    }
    staged: list[tuple[Path, Path, str]] = []
    done = False
    if not changes:
        return
    on_stop("no file was changed: run it again")  # what a stop before the last move leaves
    try:
        for change in changes:
            with held_stops():  # a signal between the two left the staged file behind
                tmp, path = stage(change.root, change.relative, change.content, shown=change.path)
                staged.append((tmp, path, change.path))
            _no_link_in_place(change)  # a link put in its place since the check
        shown = [change.path for change in changes]
        said = f"sync had written {_files(shown)}: nothing is left to do"
        replace_all(staged, lambda: on_stop(said))
        done = True
    finally:
        # Those not moved into place, in the folder they were staged in: by name, a folder made
        # a link since led the removal out of the root (and a loop stopped a sync done).
        for tmp, _, _ in [] if done else staged:
            with contextlib.suppress(OSError):  # not over the error that stopped the writes
                remove(tmp)
        deepest_first = sorted(new_folders, key=lambda f: len(f.parts), reverse=True)
        for folder in deepest_first if not done else []:
            with contextlib.suppress(OSError):  # not empty: a file was moved into it
                folder.rmdir()


def _files(shown: list[str]) -> str:
    """Return ``shown`` as said in a stop's line: how many files, the first few by name."""
    most = 5
    names = ", ".join(shown[:most]) + (", …" if len(shown) > most else "")
    return f"every file ({len(shown)}: {names})" if shown else "every file"


def _missing_folders(root: Path, rel: str) -> list[Path]:
    """Return the folders above the file ``rel`` of ``root`` that do not exist yet."""
    missing = []
    for folder in confine(root, rel).parents:
        if os.path.lexists(folder):
            break
        missing.append(folder)
    return missing


def _check_unchanged(change: Change) -> None:
    """Refuse to write a file that changed since it was read (an edit made while sync ran).

    Raises:
        ChangedWhileRunningError: Its bytes (or its existence) are not what was read.
    """
    try:
        now: bytes | None = read_file(confine(change.root, change.relative))
    except FileNotFoundError:
        now = None
    except OSError:
        return  # writing it reports it
    if now != change.before:
        raise ChangedWhileRunningError(change.path)


def _fix_diagram(
    manifest: Manifest, path: str, schema: str, report: FixReport, budget: _Budget
) -> tuple[Change | None, Problem | None]:
    """Plan redrawing the schema diagram, or refuse when it has no place or cannot be drawn.

    The schema is drawn as the pairs planned just before will leave it.
    """
    from tac_bootstrap import diagram

    root = manifest.root
    inputs = _diagram_inputs(root, path, schema)
    if isinstance(inputs, str):
        return None, _unreadable_diagram(path, inputs)
    text, schema_sql = inputs
    planned = {c.path: c.content for c in report.changes}
    if schema in planned:
        schema_sql = planned[schema].decode("utf-8")
    try:
        new = diagram.rewrite(text, schema_sql, schema)
    except diagram.DiagramError as exc:
        return None, Problem("diagram", path, None, str(exc))
    if new == text:
        return None, None
    diff = budget.diff(text, new, f"{path} (before)", f"{path} (after)")
    before = text.encode("utf-8")
    return Change(path, "rewrite", diff, root, path, new.encode("utf-8"), before), None


def _read_text(path: str, shown: str) -> str | None:
    """Read a UTF-8 file (already confined), or None when there is none.

    Raises:
        NotAFileError: A folder is in its place.
        NotUtf8Error: It is not UTF-8.
        UnreadableError: It cannot be read.
    """
    if not _is_file(path, shown):
        return None
    try:
        return decode(_read(path), shown)
    except OSError as exc:
        raise UnreadableError(shown, exc) from None


def _fix_from_template(
    manifest: Manifest, pair: Pair, templates: _Templates, budget: _Budget
) -> tuple[Change | None, Problem | None]:
    """Plan rewriting one BASE from its template."""
    if not _is_file(manifest.template_file(pair.template), manifest.template_path(pair.template)):
        return None, _missing_now(manifest, pair, manifest.template_path(pair.template))[0]
    content = templates.render(pair)
    rendered = content.decode("utf-8")
    old = _read_text(manifest.base_file(pair.base), pair.base)
    if old is None:
        diff = budget.diff("", rendered, "/dev/null", pair.base)
        return Change(pair.base, "create", diff, manifest.root, pair.base, content), None
    if old == rendered:
        return None, None
    diff = budget.diff(old, rendered, f"{pair.base} (before)", f"{pair.base} (after)")
    before = old.encode("utf-8")
    return Change(pair.base, "rewrite", diff, manifest.root, pair.base, content, before), None


def _missing_now(manifest: Manifest, pair: Pair, path: str) -> list[Problem]:
    """Report the missing BASE or template of ``pair`` that a read just found missing.

    Raises:
        ChangedWhileRunningError: Both are there again (a folder renamed or swapped for a link
            and back between the read and this look): it was an IndexError, a traceback.
    """
    problems = _missing(manifest, pair)
    if not problems:
        raise ChangedWhileRunningError(path)
    return problems


def _fix_from_base(
    manifest: Manifest, pair: Pair, templates: _Templates, budget: _Budget
) -> tuple[Change | None, Problem | None]:
    """Plan copying one BASE into its template, or refuse where the template has logic."""
    template = manifest.template_path(pair.template)
    base = _read_text(manifest.base_file(pair.base), pair.base)
    if base is None:
        return None, _missing_now(manifest, pair, pair.base)[-1]
    current = _read_text(manifest.template_file(pair.template), template)
    rendered = templates.render(pair).decode("utf-8") if current is not None else ""
    if current is not None and rendered == base:
        return None, None
    names = f"{template} (rendered)", f"{pair.base} (BASE)"
    if current is not None and any(mark in current for mark in _JINJA_MARKUP):
        return None, Problem(
            "template-logic",
            template,
            first_difference(rendered, base),
            "has Jinja logic, so the BASE edit cannot be copied into it "
            "automatically: apply this diff to the template by hand",
            budget.diff(rendered, base, *names),
        )
    with templates.time_limit(pair):  # 44 MB of plain text took 90 s to render under load
        plain = templates.renders_to_itself(base, template)
    if not plain:
        return None, Problem(
            "base-markup",
            pair.base,
            None,
            "contains text Jinja would interpret ({{, {%, {#, a lone CR, or CRLF and LF mixed),"
            " so a plain copy would not render back to it: edit the template "
            "by hand (e.g. with {% raw %})",
            budget.diff(rendered, base, *names),
        )
    action = "rewrite" if current is not None else "create"
    diff = budget.diff(current or "", base, f"{template} (before)", f"{template} (after)")
    before = current.encode("utf-8") if current is not None else None
    # Written confined to the root, whose path is the user's: confined to the templates folder,
    # the folder was resolved again at each step and a link put in its place led anywhere.
    relative = manifest.template_path(pair.template)
    change = Change(template, action, diff, manifest.root, relative, base.encode("utf-8"), before)
    return change, None
