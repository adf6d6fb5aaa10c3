"""Generate a project: plan what would be written, then apply the plan atomically.

A new project is rendered completely into a temporary folder next to the target and
moved into place with one rename, so an error or Ctrl-C leaves no partial project.
With ``--force`` into an existing folder, every file is rendered first, then each is
moved over its destination with an atomic replace; files the project does not render
are never touched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tac_bootstrap import __version__
from tac_bootstrap.confine import (
    OutsideRootError,
    held_stops,
    in_git,
    inherit,
    kind_of,
    make_folders,
    on_stop,
    own_like,
    process_alive,
    read_bytes,
    refuse_locked,
    replace_all,
    reserved_at,
    settle_leftovers,
    unwritable,
)
from tac_bootstrap.confine import confine as confined
from tac_bootstrap.errors import (
    InvalidInputError,
    TacBootstrapError,
    TargetExistsError,
    WriteError,
)

if TYPE_CHECKING:
    from tac_bootstrap.answers import Answers
    from tac_bootstrap.render import Renderer
    from tac_bootstrap.spec import ProjectSpec

ANSWERS_FILE = ".tac-bootstrap.json"
TEMPLATE_SUFFIX = ".j2"
# A staging folder is named `.tac-bootstrap-<pid>-<8 random characters>.partial`: a killed run
# leaves it behind, and the next run into the same folder removes it once that pid is gone.
_STAGING_PREFIX = ".tac-bootstrap-"
_STAGING_SUFFIX = ".partial"
_STAGING = re.compile(r"\.tac-bootstrap-(\d+)-[a-z0-9_]{8}\.partial")
_NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"


@dataclass(frozen=True)
class Plan:
    """What ``init`` would write: every file's bytes, and which of them already exist."""

    target: Path
    files: dict[str, bytes]
    existing: tuple[str, ...] = ()
    into_existing: bool = False


@dataclass(frozen=True)
class InitResult:
    """What ``init`` did (or, with ``dry_run``, would do)."""

    target: Path
    written: tuple[str, ...]
    unchanged: tuple[str, ...] = ()
    dry_run: bool = False
    overwritten: tuple[str, ...] = ()


def render_project(
    spec: ProjectSpec, renderer: Renderer | None = None, *, cache: bool = True
) -> dict[str, bytes]:
    """Render every file of the project, keyed by relative POSIX path (answers file excluded).

    With ``cache`` false, Jinja2's bytecode cache is neither read nor written.

    Raises:
        TemplateRenderError: A template failed to render.
    """
    from tac_bootstrap.checkcache import default_cache_dir
    from tac_bootstrap.render import Renderer

    cache_folder = default_cache_dir() if cache else None
    jinja = cache_folder / "jinja" if cache_folder is not None else None
    renderer = renderer or Renderer(cache_dir=jinja)
    context = spec.context()
    files: dict[str, bytes] = {}
    for folder in spec.template_sets():
        for name in renderer.walk(folder):
            out = _output_path(renderer, name[len(folder) + 1 :], context)
            if out in files:
                msg = f"two templates render to {out!r}; the second is {name}"
                raise TacBootstrapError(msg)
            if name.endswith(TEMPLATE_SUFFIX):
                files[out] = renderer.render(name, context).encode()
            else:
                files[out] = (renderer.root / name).read_bytes()
    license_template = spec.license_template()
    if license_template is not None:
        files["LICENSE"] = renderer.render(license_template, context).encode()
    return dict(sorted(files.items()))


def _output_path(renderer: Renderer, relative: str, context: dict[str, object]) -> str:
    """Render a templated path (``src/{{ package }}/x.py.j2`` -> ``src/my_app/x.py``)."""
    rendered = renderer.render_string(relative, context, relative) if "{" in relative else relative
    rendered = rendered.removesuffix(TEMPLATE_SUFFIX)
    path = PurePosixPath(rendered)
    if path.is_absolute() or any(part in {"", ".", ".."} for part in rendered.split("/")):
        msg = f"template path {relative!r} renders to an unsafe path {rendered!r}"
        raise TacBootstrapError(msg)
    return path.as_posix()


def sha256(content: bytes) -> str:
    """Return the hex sha256 of ``content``."""
    return hashlib.sha256(content).hexdigest()


def answers_bytes(spec: ProjectSpec, files: dict[str, bytes]) -> bytes:
    """Serialize the answers file: generator version, options, data and file hashes."""
    answers = {
        "generator": "tac-bootstrap",
        "version": __version__,
        "name": spec.name,
        "with_orchestrator": spec.with_orchestrator,
        "db": spec.db,
        "data": spec.data(),
        "files": {path: sha256(content) for path, content in sorted(files.items())},
    }
    return (json.dumps(answers, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def load_answers(project: Path) -> Answers:
    """Read and validate the answers file of a generated project.

    Raises:
        InvalidInputError: The file is missing, not JSON, or not an answers file.
    """
    from tac_bootstrap import answers

    path = project / ANSWERS_FILE
    _not_in_git(project, path)
    try:
        return answers.parse(read_bytes(project, ANSWERS_FILE, shown=str(path)))
    except FileNotFoundError:
        msg = f"{path} does not exist; is {project} a project generated by tac-bootstrap?"
        raise InvalidInputError(msg) from None
    except ValueError as exc:
        msg = f"{path} is not a valid answers file: {exc}"
        raise InvalidInputError(msg) from None
    except OSError as exc:
        msg = f"{path} cannot be read: {exc.strerror or exc}"
        raise InvalidInputError(msg) from None


def _not_in_git(project: Path, path: Path) -> None:
    """Refuse an answers file that is a link into a git folder (``-> .git/config``).

    ``sync-check`` read git's config as the answers file (`not a valid answers file: not
    JSON: …`), where ``update`` refuses it before reading it.

    Raises:
        InvalidInputError: It leads there.
    """
    try:
        if not path.is_symlink():
            return
        real = os.path.realpath(path)
    except OSError:  # a folder on the way that cannot be searched: the read says so
        return
    if in_git(project, ANSWERS_FILE, real):
        where = Path(os.path.relpath(real, os.path.realpath(project))).as_posix()
        msg = (
            f"{path} is under a git folder .git/ (through a symlink: {where}): refusing to read it"
        )
        raise InvalidInputError(msg)


def plan(spec: ProjectSpec, target: Path, *, force: bool = False, dry_run: bool = False) -> Plan:
    """Render the whole project in memory and check it can be written to ``target``.

    With ``dry_run``, nothing is written anywhere, Jinja2's bytecode cache included.

    Raises:
        InvalidInputError: ``target`` is a file, or a rendered file's place is taken by a folder.
        TargetExistsError: ``target`` exists, is not empty, and ``force`` is false.
    """
    files = render_project(spec, cache=not dry_run)
    files[ANSWERS_FILE] = answers_bytes(spec, files)
    try:
        for place in (target, *target.parents):
            if place.is_symlink() and not place.exists():  # dangling, or a loop
                msg = f"{place} is a link to nothing, where {target} needs a folder"
                msg += "; move it away first"
                raise InvalidInputError(msg)
            if place.exists():
                if not place.is_dir():
                    msg = f"{place} exists and is not a folder"
                    raise InvalidInputError(msg)
                break
        if not target.is_dir() or not any(_entries(target)):
            _check_writable([target])
            return Plan(target, files)
    except OSError as exc:  # a name too long, a folder that cannot be listed
        msg = f"cannot use {target} as the project folder: {exc.strerror or exc}"
        raise InvalidInputError(msg) from None
    try:
        existing = tuple(path for path in files if (target / path).exists())
        if not force:
            raise TargetExistsError(target, list(existing))
        _check_places(target, files)
        _check_writable([target, *((target / path).parent for path in files)])
    except OSError as exc:  # a folder of the target that cannot be entered
        msg = f"cannot read {exc.filename or target}: {exc.strerror or exc}"
        raise InvalidInputError(msg) from None
    return Plan(target, files, existing, into_existing=True)


def _check_writable(folders: list[Path]) -> None:
    """Refuse, before anything is written, a folder the run would write in but cannot.

    The staging folder goes in the target (for a new one, in the nearest folder on its way
    that exists), and each file moves into its own folder (or the nearest that exists): each
    must be writable, so that a dry run fails as the run would, and a run never stops after
    replacing part of the files of an existing folder.

    Raises:
        WriteError: One of them cannot be written (permissions, a read-only file system).
    """
    checked: set[Path] = set()
    for folder in folders:
        place = next(p for p in (folder, *folder.parents) if p.exists())
        error = None if place in checked else unwritable(place)
        if error is not None:
            raise WriteError(place, error)
        checked.add(place)


def _what(path: Path) -> str | None:
    """Say what ``path``, in a file's place, is if not a regular file: a symlink, a folder, ...

    Said as update says it, from one look: None when a regular file or nothing is there. Looked
    at several times, a FIFO there at one look and gone at the next was called "a symlink that
    leads nowhere or loops", and one a file again at the next "a device".
    """
    try:
        mode = path.lstat().st_mode
    except OSError as exc:  # nothing there (as pathlib's own looks say): the file may go there
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            raise
        return None
    if stat.S_ISLNK(mode):
        return "a symlink"
    return None if stat.S_ISREG(mode) else kind_of(mode)


def _check_places(target: Path, files: dict[str, bytes]) -> None:
    """Refuse, before writing anything, a file whose place or parent is not what it needs.

    A file to replace that no one may replace (immutable or append-only) is refused too.
    """
    real_target = os.path.realpath(target)
    lands: dict[str, str] = {}
    for path, content in files.items():
        dest = target / path
        what = _what(dest)
        if what is not None:
            msg = f"{dest} exists and is not a regular file ({what}); move it away first"
            raise InvalidInputError(msg)
        if dest.exists() and not _same_content(dest, content):
            refuse_locked(dest, str(dest))
        for parent in PurePosixPath(path).parents:
            if parent == PurePosixPath():  # the target itself: a link to a folder is fine
                continue
            place = target / parent
            if place.is_symlink() and place.is_dir():  # a linked folder: as sync, if inside
                _check_linked_folder(target, real_target, str(parent), path)
            elif place.is_symlink() or (place.exists() and not place.is_dir()):
                msg = f"{place} must be a folder to write {path}; move it away first"
                raise InvalidInputError(msg)
        real = os.path.realpath(dest)
        if real in lands:  # two generated files, one file through a linked folder
            msg = (
                f"{target / lands[real]} and {dest} are one file through a linked folder: "
                "one would overwrite the other; move the link away first"
            )
            raise InvalidInputError(msg)
        lands[real] = path


def _check_linked_folder(target: Path, real_target: str, folder: str, path: str) -> None:
    """Refuse a linked folder on the way of ``path`` that leads out of the target, or to git's.

    ``init --force`` writes through a folder linked to a folder inside the target, as ``sync``
    and ``update`` do; not out of it, nor into a ``.git`` folder, update's own folder or over
    the answers file.

    Raises:
        InvalidInputError: The link leads there.
    """
    real = os.path.realpath(target / folder)
    if real != real_target and not real.startswith(real_target.rstrip(os.sep) + os.sep):
        msg = (
            f"{target / folder} is a symbolic link to {real}, outside {target}: "
            f"{path} would land there; move it away first"
        )
        raise InvalidInputError(msg)
    found = reserved_at(target, path)
    if found is not None:
        why, form = found
        msg = (
            f"{target / path} is {why} (through a symlink: {form}): refusing to write there; "
            f"move {target / folder} away first"
        )
        raise InvalidInputError(msg)


def _places_now(plan: Plan) -> dict[str, Path]:
    """Return each file's place as it resolves now, a link changed since the check checked again.

    A linked folder is written through once, where it led when checked, and a file is never
    moved out of the target nor into git's folder: the link is named. A file whose own name
    became a link (``README.md -> notes.txt``: notes.txt was replaced by the README) or a
    FIFO or a folder is refused, as before the writes.

    Raises:
        InvalidInputError: A folder on the way now leads out of the target or into git's, or
            to nothing.
        OutsideRootError: The file itself now leads out of the target.
    """
    real_target = os.path.realpath(plan.target)
    places = {}
    for path in plan.files:
        for parent in reversed(PurePosixPath(path).parents):  # as _check_places refuses it
            place = plan.target / parent
            if place.is_symlink() and not place.exists():  # to nothing, or a loop
                msg = f"{place} must be a folder to write {path}; move it away first"
                raise InvalidInputError(msg)
        dest = plan.target / path  # made a link since: the file it leads to is not replaced
        what = _what(dest)
        if what is not None:
            msg = f"{dest} exists and is not a regular file ({what}); move it away first"
            raise InvalidInputError(msg)
        try:
            place = confined(plan.target, path, shown=str(plan.target / path))
        except OutsideRootError:
            link = _link_on_the_way(plan.target, real_target, path)
            _check_linked_folder(plan.target, real_target, link, path)
            raise
        if str(place) != os.path.join(real_target, path):  # noqa: PTH118 - strings
            link = _link_on_the_way(plan.target, real_target, path)
            _check_linked_folder(plan.target, real_target, link, path)
        places[path] = place
    return places


def _link_on_the_way(target: Path, real_target: str, path: str) -> str:
    """Return the linked folder on the way of ``path`` that leads it out or into git's folder.

    A link changed while ``init --force`` ran (``src -> other`` made ``src -> .git``) is named
    as the folder to move away, not the file that would land there. The outermost link that
    leads out of the target or into a reserved folder; else the outermost link; else ``path``
    (the file itself became a link).
    """
    links = [
        str(parent)
        for parent in reversed(PurePosixPath(path).parents)
        if parent != PurePosixPath() and (target / parent).is_symlink()
    ]
    for link in links:
        real = os.path.realpath(target / link)
        inside = real == real_target or real.startswith(real_target.rstrip(os.sep) + os.sep)
        if not inside or reserved_at(target, link) is not None:
            return link
    return links[0] if links else path


def apply(plan: Plan) -> InitResult:
    """Write a plan to disk: one rename for a new project, atomic replaces with ``--force``.

    Raises:
        WriteError: The file system refused a write (permissions, a file where a folder
            must go, a full disk); a new project leaves nothing behind.
    """
    try:
        if plan.into_existing:
            return _apply_into_existing(plan)
        _create_new(plan)
    except OSError as exc:
        raise WriteError(Path(exc.filename or plan.target), exc) from None
    except RecursionError:  # Path.mkdir(parents=True) recurses once per folder it makes
        msg = f"cannot write {plan.target}: too many nested folders to create"
        raise InvalidInputError(msg) from None
    files = tuple(plan.files)
    return InitResult(plan.target, written=files)


def init(
    spec: ProjectSpec, target: Path, *, force: bool = False, dry_run: bool = False
) -> InitResult:
    """Generate the project described by ``spec`` into ``target``.

    Raises:
        TacBootstrapError: Bad input or the project cannot be written; nothing was changed.
    """
    _check_new_names(target)
    the_plan = plan(spec, target, force=force, dry_run=dry_run)
    if dry_run:
        files = tuple(the_plan.files)
        return InitResult(target, written=files, dry_run=True, overwritten=the_plan.existing)
    return apply(the_plan)


def _check_new_names(target: Path) -> None:
    """Refuse a folder to create whose name is blank or begins or ends with whitespace.

    Such a name is a slip (`-o "$DIR "`, a quoted space), and shows as nothing in a listing.
    Folders that exist already are the person's: only the ones ``init`` would make are read.

    Raises:
        InvalidInputError: One such name.
    """
    for place in (target, *target.parents):
        if os.path.lexists(place):
            break
        if place.name != place.name.strip() or not place.name.strip():
            msg = (
                f"cannot create the folder {str(place)!r}: its name {place.name!r} is blank "
                "or begins or ends with whitespace"
            )
            raise InvalidInputError(msg)


def _write_tree(root: Path, files: dict[str, bytes], like: os.stat_result | None = None) -> None:
    """Write every file below ``root``, creating folders as needed.

    With ``like`` (the folder the tree goes into), each file and folder gets its owner, as far
    as this user may: root writing in another user's folder leaves no file that user cannot
    replace.
    """
    for path, content in files.items():
        dest = root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)
    if like is not None:
        for folder, _, names in os.walk(root):
            own_like(Path(folder), like)
            for name in names:
                own_like(Path(folder, name), like)


def _first_missing(path: Path) -> Path | None:
    """Return the outermost ancestor of ``path`` (or itself) that does not exist yet."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _create_new(plan: Plan) -> None:
    """Write a new project: into an empty existing folder, or staged and renamed into place."""
    target = Path(os.path.abspath(plan.target))  # noqa: PTH100 - `-o .` has no name or parent
    if target.is_dir():
        _fill_empty(target, plan.files)
        return
    parent = target.parent
    created = _first_missing(parent)
    staging = _staging_path(parent)
    placed = False
    try:  # from the first folder made: a Ctrl-C anywhere before the rename leaves nothing
        parent.mkdir(parents=True, exist_ok=True)
        if created is not None:  # the folders made: owned as the one they are made in
            like = created.parent.stat()
            for folder in (parent, *parent.parents):
                own_like(folder, like)
                if folder == created:
                    break
        remove_stale_staging(parent)
        staging.mkdir(mode=0o700)
        _write_tree(staging, plan.files, parent.stat())
        staging.chmod(_default_dir_mode())
        with held_stops():  # in place and recorded as in place: one step
            staging.rename(target)
            placed = True
            on_stop("init had written every file of the project: nothing is left to do")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None and not placed:
            shutil.rmtree(created, ignore_errors=True)
        raise


def _fill_empty(target: Path, files: dict[str, bytes]) -> None:
    """Stage the project inside an empty folder, then move each top entry up into it.

    The folder itself stays (it may be the current directory of a shell); on an error or
    Ctrl-C every entry moved so far is removed again, so it is left empty.
    """
    staging = _staging_path(target)
    moved: list[Path] = []
    try:
        remove_stale_staging(target)
        staging.mkdir(mode=0o700)
        _write_tree(staging, files, target.stat())
        for entry in sorted(staging.iterdir()):
            dest = target / entry.name
            moved.append(dest)  # before the move: a Ctrl-C right after it still undoes it
            try:
                entry.rename(dest)
            except OSError:
                moved.pop()
                raise
        with held_stops():  # from here a stop no longer removes them: it is told so, in one step
            moved.clear()
            on_stop("init had written every file of the project: nothing is left to do")
    except BaseException:
        for path in moved:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _apply_into_existing(plan: Plan) -> InitResult:
    """Stage every file inside the target, then move them all over their destinations.

    All or nothing: a move refused partway puts back the files already replaced (see
    :func:`replace_all`), and removes the folders made for new ones. A replaced file keeps its
    permissions (a private 600 file stays private) and its owner; a new file or folder gets the
    owner of the folder it is made in (root writing in another user's project leaves no file
    that user cannot replace).
    """
    changed = {p: c for p, c in plan.files.items() if not _same_content(plan.target / p, c)}
    staging = _staging_path(plan.target)
    made: list[Path] = []
    done = False
    try:
        remove_stale_staging(plan.target)
        staging.mkdir(mode=0o700)
        _write_tree(staging, changed)
        # Each file's place as it resolves now: a linked folder is written through once,
        # where it led when checked, and a file is never moved out of the target.
        places = _places_now(plan)
        for path in changed:
            dest = places[path]
            made += [f for f in (dest.parent, *dest.parent.parents) if not f.exists()]
            try:
                make_folders(dest.parent, resolved=True)  # a real path, as checked
                inherit(staging / path, dest)
            except OSError as exc:  # it names the staged copy: the file refused is this one
                raise WriteError(plan.target / path, exc) from None
        on_stop("no file was changed: run it again")
        real_staging = Path(os.path.realpath(staging))  # moved from in it, through no link
        replace_all(
            [(real_staging / p, places[p], str(plan.target / p)) for p in changed],
            lambda: on_stop(f"init had written all {len(changed)} file(s): nothing is left to do"),
        )
        done = True
        for path in plan.files:  # each is now as this run writes it: see settle_leftovers
            settle_leftovers(places[path])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in [] if done else sorted(made, key=lambda f: len(f.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: a file of the person's is in it
                folder.rmdir()
    written = tuple(changed)
    unchanged = tuple(p for p in plan.files if p not in changed)
    overwritten = tuple(p for p in plan.existing if p in changed)
    return InitResult(plan.target, written, unchanged, overwritten=overwritten)


def _staging_path(folder: Path) -> Path:
    """Return this run's staging folder in ``folder``, not made yet.

    The caller makes it inside the ``try`` that removes it, so that no moment lies between
    the folder existing and its cleanup being armed. The name holds this process's id, so no
    other run in progress can have it (a killed run's folder is removed first).
    """
    tag = "".join(_NAME_CHARACTERS[b % len(_NAME_CHARACTERS)] for b in os.urandom(8))
    return folder / f"{_STAGING_PREFIX}{os.getpid()}-{tag}{_STAGING_SUFFIX}"


def remove_stale_staging(folder: Path) -> list[Path]:
    """Remove the staging folders a killed run left in ``folder``; return what was removed.

    Only folders named exactly as this module names them, whose process is gone: a run in
    progress (its pid alive) and anything else are left alone.
    """
    removed = []
    for path in stale_staging(folder):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def stale_staging(folder: Path) -> list[Path]:
    """Return the staging folders a killed run left in ``folder``: named so, its process gone.

    Raises:
        OSError: ``folder`` cannot be listed.
    """
    found = []
    for entry in _entries(folder, staging=True):
        match = _STAGING.fullmatch(entry.name)
        if match and entry.is_dir(follow_symlinks=False) and not process_alive(int(match[1])):
            found.append(Path(entry.path))
    return sorted(found)


def staging_pid(name: str) -> int | None:
    """Return the process id in a staging folder's name, or None if it is not named so."""
    match = _STAGING.fullmatch(name)
    return int(match[1]) if match else None


def _entries(folder: Path, *, staging: bool = False) -> list[os.DirEntry[str]]:
    """Return the entries of ``folder``: only staging folders, or everything but them."""
    with os.scandir(folder) as entries:
        return [e for e in entries if bool(_STAGING.fullmatch(e.name)) == staging]


def _same_content(path: Path, content: bytes) -> bool:
    try:  # the size first: a file of gigabytes in a rendered file's place is not read whole
        return path.stat().st_size == len(content) and path.read_bytes() == content
    except FileNotFoundError:
        return False


def _default_dir_mode() -> int:
    """Return the mode a folder made with ``mkdir`` would get under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask
