"""Keep every path that is read or written inside its root, and every text strictly UTF-8.

``sync-check`` runs on pull requests, so a manifest, a template include or a symlink may
point anywhere. Every path ``sync-check``, ``sync`` and ``update`` read or write goes through
:func:`confine` first: it resolves the path (symlinks included) and refuses one that leaves
its root, before anything is read or written. :func:`read_text` refuses bytes that are not
UTF-8 instead of replacing them, and :func:`write_atomic` replaces a file in one rename,
keeping its mode and leaving no temporary file behind. Only the standard library is
imported: this is on the path of every ``sync-check``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import struct
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from tac_bootstrap.errors import TacBootstrapError, WriteError

#: No file these commands read is near this size: a bound, so that a huge (or sparse) file is
#: an error naming it instead of the whole memory.
MAX_FILE_BYTES = 64 * 1024 * 1024


def read_file(path: Path | str, *, resolved: bool = False) -> bytes:
    """Read a regular file whole, refusing what is not one or is over :data:`MAX_FILE_BYTES`.

    The file is opened without blocking, so a FIFO in a file's place is refused at once
    instead of waiting forever for a writer; a device is refused instead of read.

    ``resolved`` says ``path`` is a real path (:func:`confine`'s): the file opened must be the
    one it names, not one a link put in its place (or in a folder's) since it was resolved
    leads to, elsewhere.

    Raises:
        OSError: The file cannot be opened, is not a regular file (``EINVAL``) or is too big
            (``EFBIG``), or (``resolved``) is no longer at that path (``ELOOP``).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:  # before a file object is made of it: that of a folder is an IsADirectoryError
        info = _regular_opened(fd, os.fspath(path), resolved=resolved)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as file:
        if info.st_size > MAX_FILE_BYTES:
            size = f"{info.st_size:,} bytes, more than {MAX_FILE_BYTES:,}"
            raise OSError(errno.EFBIG, f"too big to be read ({size})", str(path))
        # A buffer of the file's size, not of the bound: each read took 64 MiB of address space
        # (a MemoryError under `ulimit -v 80000`). More is read if it grew or has no size (/proc).
        data = file.read(info.st_size + 1)
        if len(data) > info.st_size:
            data += file.read(MAX_FILE_BYTES + 1 - len(data))
        return data


def _regular_opened(fd: int, path: str, *, resolved: bool) -> os.stat_result:
    """Return the status of the open file ``fd`` of ``path``, a regular file (see read_file).

    Raises:
        NotRegularFileError: It is not a regular file.
        OSError: (``resolved``) It is no longer at that path (``ELOOP``).
    """
    if resolved:
        opened_at(fd, path)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFileError(path, info.st_mode)
    return info


class NotRegularFileError(OSError):
    """What :func:`read_file` opened is not a regular file (``EINVAL``); ``mode`` is its mode.

    The kind is taken from the file opened: a name that was a FIFO or a folder for a moment
    is said to be one, as a look at it before the open says.
    """

    def __init__(self, path: str, mode: int) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind_of(mode)})", path)
        self.mode = mode


def opened_at(fd: int, path: str) -> None:
    """Refuse the open file ``fd`` unless the system names it ``path`` (where it has /proc).

    ``path`` is a real path: a file opened or created there after it was resolved is elsewhere
    when a link took the place of a folder on the way (or of the file) meanwhile.

    Raises:
        OSError: It is elsewhere (``ELOOP``): a link replaced the file or a folder above it.
    """
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")  # noqa: PTH115 - a string is compared
    except OSError:  # no /proc: not checked
        return
    if opened == f"{path} (deleted)":  # what the system says of a file no name leads to now
        message = "changed while in use: the file opened was replaced or removed meanwhile"
        raise OSError(errno.ELOOP, message, path)
    if opened != path:
        message = f"changed while in use: the file opened is {opened}"
        raise OSError(errno.ELOOP, message, path)


# What no command of this tool writes as a project's file: the answers file and update's own
# folder (backups, markers) at the top, and a git folder anywhere (its config and hooks run
# programs: core.fsmonitor, pre-commit).
_RESERVED_TOP = {
    ".tac-bootstrap.json": "the answers file itself",
    ".tac-bootstrap": "under update's own folder .tac-bootstrap/",
}
_GIT = "under a git folder .git/"
# Code points HFS+ ignores in a name (git's is_hfs_dotgit ignores them too): ".g\u200cit" is .git.
_IGNORED = dict.fromkeys(
    [0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF]
)


def reserved(rel: str) -> str | None:
    """Return why the root-relative path ``rel`` is no file of a project to write, or None.

    Names are compared as a file system that ignores case (``.GIT``), composes Unicode,
    ignores some code points (HFS+) or drops trailing dots and spaces and reads ``name:stream``
    and 8.3 short names (NTFS: ``.git.``, ``.git::$INDEX_ALLOCATION``, ``GIT~1``) would see
    them, so that no spelling of ``.git`` reaches git's folder on any of them.
    """
    parts = [_plain(part) for part in rel.split("/")]
    why = _RESERVED_TOP.get(parts[0])
    if why is None and any(part in (".git", "git~1") for part in parts):
        why = _GIT
    return why


def in_git(root: Path | str, name: str, resolved: str) -> bool:
    """Return whether ``name`` of ``root``, whose real path is ``resolved``, is in a git folder.

    A ``.git`` among its names (as given or resolved, below ``root``) in any spelling
    :func:`reserved` knows, or the root's own git folder (``.git -> realgit``, a ``.git``
    file's ``gitdir:``). Such a folder holds what a template must not read into a report:
    ``actions/checkout`` leaves the job's token in ``.git/config``.
    """
    real_root = os.path.realpath(root)
    rel = os.path.relpath(resolved, real_root).replace(os.sep, "/")
    parts = [*name.replace("\\", "/").split("/"), *rel.split("/")]
    if any(_plain(part) in (".git", "git~1") for part in parts):
        return True
    return any(
        place_name == ".git" and _holds(place, resolved)
        for place_name, place in reserved_places(real_root)
    )


def spells(rel: str, name: str) -> bool:
    """Return whether ``rel`` names the top-level file ``name`` on some file system.

    As :func:`reserved` compares: ignoring case, Unicode form, HFS+'s ignored code points,
    trailing dots and spaces and an NTFS stream (``PyProject.toml.``,
    ``pyproject.toml::$DATA``), or as the 8.3 short name (``PYPROJ~1.TOM``).
    """
    stem, _, ext = name.casefold().rpartition(".")
    short = f"{stem.replace('.', '')[:6]}~1.{ext[:3]}"
    plain = [_plain(part) for part in rel.split("/") if part not in ("", ".")]
    return plain in ([name.casefold()], [short])


def reserved_at(
    root: Path | str, rel: str, places: list[tuple[str, str]] | None = None
) -> tuple[str, str] | None:
    """Return why the file ``rel`` of ``root`` is no project file to write, and the name why.

    Besides :func:`reserved` of ``rel`` as given and as resolved, the resolved path is compared
    with the :func:`reserved_places` of the root (``places``, found here if not given): with
    ``.git -> realgit`` (or a ``.git`` file saying ``gitdir: realgit``), ``realgit/config`` is
    git's config. Returns (why, the name that makes it so), or None.
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))  # noqa: PTH118 - strings: cheaper
    forms = [rel]
    if real.startswith(real_root.rstrip(os.sep) + os.sep):
        forms.append(os.path.relpath(real, real_root).replace(os.sep, "/"))
    for form in forms:
        why = reserved(form)
        if why is not None:
            return why, form
    for name, place in reserved_places(real_root) if places is None else places:
        if real == place or real.startswith(place.rstrip(os.sep) + os.sep):
            if name == ".git" and _holds(place, real_root):
                raise UnusableGitLinkError(os.path.join(real_root, name), place)  # noqa: PTH118
            if name == ".tac-bootstrap" and _holds(place, real_root):
                raise StateFolderHoldsRootError(name, place)
            return reserved(name) or _GIT, name
    return None


def _holds(folder: str, path: str) -> bool:
    """Return whether the real path ``folder`` is ``path`` or one of its parents."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class UnusableGitLinkError(TacBootstrapError):
    """A ``.git`` file whose ``gitdir:`` names the root itself or a folder holding it.

    Every file of the root would be under that git folder: a ``gitdir: .``, an empty one or
    ``gitdir: /`` is no worktree's or submodule's link, and nothing is written through it.
    """

    def __init__(self, shown: str, gitdir: str) -> None:
        self.path = shown
        super().__init__(
            f"{shown} is not a usable git link: its gitdir: names {gitdir}, the project's "
            "folder or a folder holding it; fix or remove it"
        )


class StateFolderHoldsRootError(TacBootstrapError):
    """``.tac-bootstrap`` links to the project's folder or a folder holding it (``-> .``).

    Every file of the root would be under update's own folder: each was refused naming
    itself (``README.md is under update's own folder .tac-bootstrap/ (through a symlink:
    .tac-bootstrap)``), as if that file were the link.
    """

    def __init__(self, shown: str, place: str) -> None:
        self.path = shown
        super().__init__(
            f"{shown} is a symbolic link to {place}, the project's folder or a folder holding "
            "it: every file would be under update's own folder; move the link away"
        )


def reserved_places(root: Path | str) -> list[tuple[str, str]]:
    """Return (name, resolved path) of the root's ``.git``, ``.tac-bootstrap`` and answers file.

    A ``.git`` file (a worktree's, a submodule's) gives the folder its ``gitdir:`` names.
    """
    real_root = os.path.realpath(root)
    places = []
    for name in (*_RESERVED_TOP, ".git"):
        path = os.path.join(real_root, name)  # noqa: PTH118 - strings: cheaper
        if name == ".git" and os.path.isfile(path):  # noqa: PTH113
            real = os.path.realpath(path)
            if not real.startswith(real_root.rstrip(os.sep) + os.sep):
                places.append((name, real))  # a link to a file outside the root: never read
                continue
            try:
                line = read_file(path).decode("utf-8").partition("\n")[0]
            except (OSError, UnicodeDecodeError):
                continue
            if not line.startswith("gitdir: "):
                continue
            path = os.path.join(real_root, line.removeprefix("gitdir: ").strip())  # noqa: PTH118
        if os.path.lexists(path):
            places.append((name, os.path.realpath(path)))
    return places


def _plain(name: str) -> str:
    """Return a file name as a case-insensitive, Unicode-composing file system compares it."""
    import unicodedata

    folded = unicodedata.normalize("NFC", name).casefold().translate(_IGNORED)
    return folded.partition(":")[0].rstrip(". ")


def plain_name(name: str) -> str:
    """Return a file name as macOS and Windows compare it (case, Unicode form, trailing dots)."""
    return _plain(name)


class OutsideRootError(TacBootstrapError):
    """A path resolves (through ``..`` or a symlink) to a place outside its root."""

    def __init__(self, shown: str, resolved: str, root: str) -> None:
        self.path = shown
        super().__init__(
            f"{shown} resolves to {resolved}, outside {root}: refusing to read or write it"
        )


# The byte-order marks that say a text's encoding, UTF-32's first: FF FE 00 00 starts with
# UTF-16's FF FE.
_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def marked_encoding(data: bytes) -> str | None:
    """Return the encoding (``UTF-16``, ``UTF-32``) a byte-order mark at the start says, if any."""
    return next((name for mark, name in _MARKS if data.startswith(mark)), None)


def wrong_encoding(shown: str, encoding: str) -> str:
    """Say that the file ``shown`` is in ``encoding`` (its byte-order mark says so), not UTF-8."""
    return f"{shown} is {encoding}, not UTF-8 (its byte-order mark says so): save it as UTF-8"


# A text saved as UTF-32 or UTF-16 without its byte-order mark: (name, codec, unit size, the
# byte of each unit an ASCII character is in), UTF-32's first (its units hold UTF-16's).
_UNMARKED = (
    ("UTF-32", "utf-32-le", 4, 0),
    ("UTF-32", "utf-32-be", 4, 3),
    ("UTF-16", "utf-16-le", 2, 0),
    ("UTF-16", "utf-16-be", 2, 1),
)
_UNMARKED_UNITS = 64  # of the first line, the most looked at


def unmarked_encoding(data: bytes) -> str | None:
    """Return ``UTF-16`` or ``UTF-32`` where the bytes show a text saved so without its mark.

    Such a text is valid UTF-8 (an ASCII character and NUL bytes, again and again), so only
    its NULs said something was wrong. Said only where the bytes show it: every unit of the
    first line (up to :data:`_UNMARKED_UNITS`, its line end included, at least two) holds a
    character in one byte and NUL in the others, and the whole text decodes so. A UTF-8 text
    with a NUL elsewhere (a NUL after a statement, in a string) is not named by this.
    """
    if b"\0" not in data[:8]:
        return None
    for name, codec, size, at in _UNMARKED:
        if len(data) % size:
            continue
        units = [data[i : i + size] for i in range(0, min(len(data), _UNMARKED_UNITS * size), size)]
        line = []
        for unit in units:
            line.append(unit)
            if unit[at] == ord("\n"):
                break
        if len(line) < 2 or any(not _one_byte(unit, at) for unit in line):
            continue
        try:
            data.decode(codec)
        except UnicodeDecodeError:
            continue
        return name
    return None


def _one_byte(unit: bytes, at: int) -> bool:
    """Return whether ``unit`` holds a byte other than NUL at ``at`` and NUL elsewhere."""
    return unit[at] != 0 and unit.count(0) == len(unit) - 1


def unmarked(shown: str, encoding: str) -> str:
    """Say that the file ``shown`` looks like ``encoding`` saved without its byte-order mark."""
    return f"{shown} looks like {encoding} without a byte-order mark: save it as UTF-8"


class NotUtf8Error(TacBootstrapError):
    """A file that must be text holds bytes that are not UTF-8."""

    def __init__(self, shown: str, exc: UnicodeDecodeError) -> None:
        self.path = shown
        encoding = marked_encoding(exc.object)
        if encoding is not None:  # Windows editors save UTF-16 with a BOM ("Unicode")
            super().__init__(wrong_encoding(shown, encoding))
            return
        super().__init__(
            f"{shown} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}): refusing to read it rather than replace the bytes"
        )


class UnmarkedEncodingError(TacBootstrapError):
    """A file that must be UTF-8 text is UTF-16 or UTF-32 saved without a byte-order mark."""

    def __init__(self, shown: str, encoding: str) -> None:
        self.path = shown
        super().__init__(unmarked(shown, encoding))


class NotAFileError(TacBootstrapError):
    """A path that must be a regular file is a folder or something else."""


class UnreadableError(TacBootstrapError):
    """A file exists but cannot be read (permissions, an I/O error)."""

    def __init__(self, shown: str, error: OSError) -> None:
        self.path = shown
        self.error = error
        super().__init__(f"cannot read {shown}: {error.strerror or error}")


def confine(
    root: Path | str, path: Path | str, *, shown: str | None = None, real_root: str | None = None
) -> Path:
    """Return ``path`` (relative to ``root``, or absolute) resolved, if it stays inside ``root``.

    ``root`` itself is resolved too, so a root reached through a symlink is fine; what is
    refused is a path whose resolved form (every ``..`` and symlink followed, the last
    component included) is not ``root`` or below it. A path that does not exist yet is
    resolved as far as it exists.

    Args:
        root: The folder the path must stay in (the repository root, the templates folder).
        path: The path to check.
        shown: How to name the path in the error (default: ``path`` as given).
        real_root: ``root``'s real path, resolved once when ``root`` was itself confined (the
            templates folder, inside the repository): used as it is, not resolved again, so
            a link put in the folder's place since then leads outside it, where resolving
            ``root`` again moved the folder along with the link.

    Raises:
        OutsideRootError: The path leaves ``root``.
        UnreadableError: A link on the way kept changing while it was followed.
    """
    if real_root is None:
        real_root = _realpath(str(root), str(root))
    joined = os.path.join(real_root, path)  # noqa: PTH118 - strings: cheaper
    resolved = _realpath(joined, shown or str(path))
    if resolved != real_root and not resolved.startswith(real_root.rstrip(os.sep) + os.sep):
        raise OutsideRootError(shown or str(path), resolved, str(root))
    _openable(joined, resolved, shown or str(path))
    return Path(resolved)


def _openable(path: str, resolved: str, shown: str) -> None:
    """Refuse a path that realpath follows through links but the system does not open.

    Python's realpath follows any number of links and drops a trailing ``/`` or ``file/..``
    of a link's target; the system stops after 40 links (ELOOP) and refuses a file named as a
    folder (ENOTDIR). The file realpath found is then not the one a program opening the link
    gets: reading or writing it would check, or change, a file no one else sees there.

    Raises:
        UnreadableError: The path does not open, though what realpath made of it exists.
    """
    try:
        os.stat(path)  # noqa: PTH116 - a str path, as confine's
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.exists(resolved):  # noqa: PTH110
            if exc.errno == errno.ENOTDIR:  # say what is wrong: `l.j2 -> header.j2/`
                why = "a symlink on its way names a file as a folder: a '/' after it"
                why = f"{exc.strerror} ({why})"
                exc = OSError(exc.errno, why, exc.filename)
            raise UnreadableError(shown, exc) from None


def kind_of(mode: int | None) -> str:
    """Say what a path that is not a regular file is, from its ``st_mode`` (None: no target)."""
    if mode is None:
        return "a symlink that leads nowhere or loops"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _realpath(path: str, shown: str) -> str:
    """Return ``os.path.realpath(path)``, followed again if a link changed while it was followed.

    Python's realpath reads a link after seeing one: a link replaced by a file (or removed)
    between the two makes the read fail (EINVAL, ENOENT), which a second look does not.

    Raises:
        UnreadableError: The path kept changing under it.
    """
    for _ in range(2):
        with contextlib.suppress(OSError):
            return os.path.realpath(path)
    try:
        return os.path.realpath(path)
    except OSError as exc:
        raise UnreadableError(shown, exc) from None


def decode(data: bytes, shown: str) -> str:
    """Decode UTF-8 strictly.

    Raises:
        NotUtf8Error: The bytes are not UTF-8.
        UnmarkedEncodingError: They are UTF-16 or UTF-32 without a byte-order mark.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8Error(shown, exc) from None
    if "\0" in text[:8] and (encoding := unmarked_encoding(data)) is not None:
        raise UnmarkedEncodingError(shown, encoding)
    return text


def read_bytes(root: Path, rel: str, *, shown: str | None = None) -> bytes:
    """Read a file of ``root`` after :func:`confine`; a folder is refused, not read.

    ``shown`` names the file in errors (default: ``rel``). What is not a regular file is said
    in one way whether it was so before the open or only at it (a FIFO for a moment).

    Raises:
        OutsideRootError: The path leaves the root.
        NotAFileError: The path is a folder or another non-file.
        FileNotFoundError: There is no such file.
        UnreadableError: The file exists but cannot be read.
    """
    shown = shown or rel
    path = confine(root, rel)
    try:
        mode: int | None = path.stat().st_mode
    except OSError:  # gone, or unreadable: the open says which
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        msg = f"{shown} is not a regular file ({kind_of(mode)})"
        raise NotAFileError(msg)
    try:
        return read_file(path, resolved=True)
    except FileNotFoundError:
        raise
    except NotRegularFileError as exc:  # one since the look
        msg = f"{shown} is not a regular file ({kind_of(exc.mode)})"
        raise NotAFileError(msg) from None
    except OSError as exc:
        raise UnreadableError(shown, exc) from None


def read_text(root: Path, rel: str) -> str:
    """Read a UTF-8 text file of ``root`` after :func:`confine`.

    Raises:
        OutsideRootError: The path leaves the root.
        NotAFileError: The path is a folder or another non-file.
        NotUtf8Error: The file is not UTF-8.
        FileNotFoundError: There is no such file.
        UnreadableError: The file exists but cannot be read.
    """
    return decode(read_bytes(root, rel), rel)


def writable(root: Path, rel: str, *, shown: str | None = None) -> Path:
    """Return the confined path of ``rel`` after checking that it can be written, writing nothing.

    ``shown`` names the file in errors (default: ``rel``).

    Raises:
        OutsideRootError: The path leaves the root.
        NotAFileError: The path is a folder, or a parent of it is a file.
        WriteError: The folder it goes in (or the nearest that exists) cannot be written.
    """
    path = confine(root, rel)
    _no_link_to_nothing(root, rel, shown or rel)
    try:
        if path.is_dir() or (path.exists() and not path.is_file()):
            msg = f"{shown or rel} is a folder, not a file: move it away first"
            raise NotAFileError(msg)
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():  # named and said as the check says it
                    what = "a file" if parent.is_file() else kind_of(parent.stat().st_mode)
                    place = _from_root(root, parent)
                    msg = f"cannot write {shown or rel}: {place} is {what}, not a folder"
                    raise NotAFileError(msg)
                error = unwritable(parent)
                if error is not None:
                    raise error
                break
    except OSError as exc:
        raise WriteError(Path(shown or rel), exc) from None
    refuse_locked(path, shown or rel)
    return path


def _from_root(root: Path, path: Path) -> str:
    """Name ``path`` (confined, so real) from the root when it is inside it, else whole."""
    try:
        return path.relative_to(os.path.realpath(root)).as_posix()
    except ValueError:
        return str(path)


class LinkToNothingError(NotAFileError):
    """A folder on the way of a file to write is a symbolic link to a folder that does not exist."""

    def __init__(self, shown: str, link: str, target: str | None) -> None:
        self.path = shown
        fix = "replace the link by a folder"
        if target is None:
            where = "a symbolic link that loops (it leads back to itself)"
        else:
            where = f"a symbolic link to {target}, which does not exist"
            fix = f"make {target}/ or {fix}"
        super().__init__(
            f"cannot write {shown}: its folder {link} is {where}: the folder a link leads to "
            f"is not made (the file would land there, under another name); {fix}: nothing "
            "was written"
        )


def _no_link_to_nothing(root: Path | str, rel: str, shown: str) -> None:
    """Refuse a file whose folder, as named, is a link to a missing folder.

    Writing ``pkg/x.txt`` with ``pkg -> nowhere`` made ``nowhere/`` (a folder no one named)
    and the file in it. A link to a folder that exists, inside the root, is followed as
    before.

    Raises:
        LinkToNothingError: A folder on the way is such a link (a chain ending nowhere, a loop).
    """
    parts = [part for part in rel.replace(os.sep, "/").split("/") if part not in ("", ".")]
    place = str(root)
    for i, part in enumerate(parts[:-1]):
        place = os.path.join(place, part)  # noqa: PTH118 - strings: cheaper
        if os.path.islink(place) and not os.path.exists(place):  # noqa: PTH110, PTH114
            link = "/".join(parts[: i + 1])
            try:
                os.stat(place)  # noqa: PTH116 - the error says whether it loops
                resolved = os.path.realpath(place)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise LinkToNothingError(shown, link, None) from None
                resolved = os.path.realpath(place)
            real_root = os.path.realpath(root)
            if resolved.startswith(real_root.rstrip(os.sep) + os.sep):
                resolved = Path(os.path.relpath(resolved, real_root)).as_posix()
            raise LinkToNothingError(shown, link, resolved)


def link_note(root: Path | str, rel: str) -> str | None:
    """Say where ``rel`` leads when it is a symbolic link that is not a folder (None otherwise).

    ``a symbolic link to nowhere, which does not exist``, ``a symbolic link that loops (it
    leads back to itself)``, ``a symbolic link to pkg/x.sql, a file``: the target as resolved,
    relative to the root when it is inside it.
    """
    place = os.path.join(root, rel)  # noqa: PTH118 - strings: cheaper
    if not os.path.islink(place):  # noqa: PTH114
        return None
    try:
        mode: int | None = os.stat(place).st_mode  # noqa: PTH116
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops (it leads back to itself)"
        mode = None
    try:
        target = os.path.realpath(place)
    except OSError:  # a loop, on Python versions whose realpath raises
        return "a symbolic link that loops (it leads back to itself)"
    real_root = os.path.realpath(root)
    if target.startswith(real_root.rstrip(os.sep) + os.sep):
        target = Path(os.path.relpath(target, real_root)).as_posix()
    if mode is None:
        return f"a symbolic link to {target}, which does not exist"
    if stat.S_ISDIR(mode):
        return None
    what = "a file" if stat.S_ISREG(mode) else kind_of(mode)
    return f"a symbolic link to {target}, {what}"


class LinkAtNameError(NotAFileError):
    """A file a command would write is a symbolic link: writing through it changes its target."""

    def __init__(self, shown: str, target: str, command: str) -> None:
        self.path = shown
        super().__init__(
            f"{shown} is a symbolic link to {target}: {command} does not write through a link "
            "(the file it leads to would change in its place): replace the link by a file: "
            "nothing was written"
        )


def refuse_link_at(root: Path | str, rel: str, command: str, *, shown: str | None = None) -> None:
    """Refuse a file to write whose own name is a symbolic link (to a file, to nothing, a loop).

    The folders on the way may be links that stay inside the root (see :func:`writable`).

    Raises:
        LinkAtNameError: The name is such a link.
    """
    folder, name = os.path.split(rel)
    place = os.path.join(confine(root, folder or "."), name)  # noqa: PTH118 - strings
    if name in ("", ".", "..") or not os.path.islink(place):  # noqa: PTH114
        return
    try:
        target = os.path.realpath(place)
    except OSError:  # a loop, on Python versions whose realpath raises
        target = os.readlink(place)  # noqa: PTH115 - a string is shown
    real_root = os.path.realpath(root)
    if target.startswith(real_root.rstrip(os.sep) + os.sep):
        target = Path(os.path.relpath(target, real_root)).as_posix()
    raise LinkAtNameError(shown or rel, target, command)


# chattr +i (immutable) and +a (append-only), FS_IMMUTABLE_FL and FS_APPEND_FL of linux/fs.h: a
# file with either is neither replaced nor removed, not even by root, whatever its folder allows;
# a folder with +a takes new files but lets none in it be replaced.
_FS_IOC_GETFLAGS = 0x80086601 if struct.calcsize("l") == 8 else 0x80046601
_LOCKED_FLAGS = 0x10 | 0x20


def locked(path: Path | str) -> bool:
    """Return whether ``path`` is immutable or append-only (Linux's ``chattr +i`` or ``+a``).

    False where it does not exist, is a link, or the system or file system has no such flags.
    """
    if sys.platform != "linux":
        return False
    import fcntl  # POSIX only: not on Windows

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))[:4], sys.byteorder)
    except OSError:  # a file system without these flags
        return False
    finally:
        os.close(fd)
    return bool(flags & _LOCKED_FLAGS)


class LockedError(TacBootstrapError):
    """A file to replace (or its folder) is immutable or append-only: no one can replace it."""

    def __init__(self, shown: str, folder: str | None = None) -> None:
        self.path = shown
        what = "it is" if folder is None else f"its folder {folder} is"
        super().__init__(
            f"cannot write {shown}: {what} immutable or append-only (chattr +i or +a); "
            "lift that (chattr -i -a) and run again"
        )


def refuse_locked(path: Path, shown: str) -> None:
    """Refuse, before the first write, an existing file the file system will not let be replaced.

    Raises:
        LockedError: The file, or the folder it is in, is immutable or append-only.
    """
    if not path.is_file():
        return
    if locked(path):
        raise LockedError(shown)
    if locked(path.parent):
        raise LockedError(shown, str(Path(shown).parent))


@contextlib.contextmanager
def held_stops() -> Iterator[None]:
    """Hold Ctrl-C, SIGHUP and SIGTERM back for a step that must not be cut in two; deliver after.

    A file made and the record that it was made (so that cleanup removes it) are one step: a
    signal between the two left the file behind. Blocked, the signal waits; unblocked, its
    handler runs (see ``tac_bootstrap.entry``). Main thread only; a no-op without
    ``pthread_sigmask`` (Windows).
    """
    import signal  # here: not on the path of a check that writes nothing

    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    stops = {signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def on_stop(sentence: str | None) -> None:
    """From here on, a stop ends the command saying ``sentence`` (see ``entry.on_stop``)."""
    from tac_bootstrap.entry import on_stop as say

    say(sentence)


def replace_all(
    moves: Sequence[tuple[Path, Path, str]], committed: Callable[[], None] | None = None
) -> None:
    """Move each staged file over its target, all or none: (staged file, target, shown).

    Every target that exists is first kept beside itself as ``.<name>.<pid>.orig`` (a hard
    link: the same file, its mode, owner and links unchanged; a copy where the file system has
    none). If a move is refused partway (a file made immutable meanwhile, a file mounted in
    place) or the run is interrupted, the files already moved in are put back: each original
    from what was kept, each new file removed. What was kept is removed at the end, but for a
    file that could not be put back (the error names it and where its original is).
    ``committed`` is called once every file is in place, in the step after which nothing is
    put back: a stop from there on cannot undo the writes, and is told so.

    Raises:
        WriteError: Keeping an original or a move failed; the error names the file.
    """
    kept: dict[Path, Path] = {}
    moved: list[tuple[Path, str]] = []
    replaced_before = [old for _, path, _ in moves for old in clear_leftovers(path)]
    try:
        for _, path, shown in moves:
            if path.exists():
                with held_stops():  # a signal between link and record left the link
                    kept[path] = _keep(path, shown)
        for tmp, path, shown in moves:
            moved.append((path, shown))  # before the move: a Ctrl-C right after it undoes it
            try:
                move(tmp, path)
            except OSError as exc:
                moved.pop()
                raise WriteError(Path(shown), exc) from None
        with held_stops():  # from here a stop no longer puts back: it is told so, in one step
            moved.clear()
            if committed is not None:
                committed()
        # Each file is now what one run uninterrupted leaves (see settle_leftovers).
        for old in replaced_before:
            with contextlib.suppress(OSError):
                remove(old)
    except BaseException as exc:
        with held_stops():  # a second stop must not cut the putting back short
            left = _put_back(moved, kept)
        if left:
            _say_not_put_back(exc, left)
        raise
    finally:
        with held_stops():
            for keep in kept.values():  # in its folder, through no link: never one elsewhere
                with contextlib.suppress(OSError):
                    remove(keep)


def _say_not_put_back(exc: BaseException, left: list[str]) -> None:
    """Name in the error, or in a stop's line, the files a failed move could not put back."""
    said = f"not put back as it was: {', '.join(left)}"
    if isinstance(exc, WriteError):
        exc.args = (f"{exc}; {said}",)
    else:  # a stop (Ctrl-C, SIGTERM)
        on_stop(said)


def _keep(path: Path, shown: str) -> Path:
    """Keep the file ``path`` beside itself: a hard link, or a copy with its mode and owner.

    Raises:
        WriteError: Neither could be made (a name too long, a file already at that name).
    """
    keep = path.with_name(f".{path.name}.{os.getpid()}.orig")
    try:
        try:
            _link_now(path, keep)  # in the folder checked, through no link
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
                raise
            # The copy opened: given its mode by name, a link put in its place meanwhile
            # turned the mode of the file it led to, elsewhere, into the original's.
            _new_file(keep, read_file(path), like=path)
    except OSError as exc:
        raise WriteError(Path(shown), exc) from None
    return keep


def _new_file(path: Path, data: bytes, *, like: Path) -> None:
    """Make the file ``path`` (a real path) holding ``data``, with the mode and owner of ``like``.

    Made, and on failure removed, in its folder as opened through no link: by name, a folder
    moved away at that moment kept the file, and one made a link led the write or the removal
    out of the root. Never over a file or link already there (``FileExistsError``).
    """
    with real_folders(path) as fds:
        folder = None if fds is None else fds[0]
        name = path if folder is None else path.name
        fd = os.open(name, _NEW_FILE, 0o666, dir_fd=folder)  # never follows a planted link
        try:
            with open(fd, "wb") as file:  # noqa: PTH123 - a descriptor
                opened_at(file.fileno(), str(path))  # not outside: no folder became a link
                file.write(data)
                inherit(file.fileno(), like)  # the file opened: no link on its way meanwhile
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=folder)
            raise


#: How many times a file replaced by a rename while it is kept is looked up again.
_RELOOKS = 5


def _link_now(path: Path, keep: Path) -> None:
    """Hard-link ``keep`` to the file at ``path`` now, looked up again if it was just replaced.

    Linux refuses to link a file whose last name went away between the lookup and the link
    (``ENOENT``): the file replaced meanwhile by a rename (an editor's save, a checkout) made
    ``init --force`` and ``sync`` end with ``cannot write …: No such file or directory`` for
    a file that was there all along. The file now at that name is the one kept.

    Raises:
        OSError: As :func:`link`; ``FileNotFoundError`` when no file is at ``path`` any more,
            or it was replaced each time it was looked up.
    """
    for _ in range(_RELOOKS):
        try:
            link(path, keep)
        except FileNotFoundError:
            if not os.path.lexists(path):
                raise
        else:
            return
    link(path, keep)


def clear_leftovers(path: Path) -> list[Path]:
    """Clear what a killed run (``kill -9``) of :func:`replace_all` left beside ``path``.

    Only files named exactly as :func:`stage` and :func:`replace_all` name them,
    ``.<name>.<pid>.tmp`` and ``.<name>.<pid>.orig``, whose process is gone, never followed if
    a link. A staged file holds only what that run was writing: it is removed. A kept original
    is the file as it was before that run: removed where it is still the file at ``path`` (the
    same file, or the same bytes), put back where nothing is at ``path``. Return the others
    (that run replaced the file): the caller removes them once it has replaced the file too.
    """
    leftover = re.compile(rf"\.{re.escape(path.name)}\.([0-9]+)\.(tmp|orig)")
    replaced = []
    try:  # in the folder as opened through no link: one made a link meanwhile leads nowhere
        with real_folders(path) as fds:
            folder = None if fds is None else fds[0]
            found = [(name, leftover.fullmatch(name)) for name in _listed(path.parent, folder)]
            for name, match in found:
                if match is None or process_alive(int(match[1])):
                    continue
                with contextlib.suppress(OSError):  # gone meanwhile, or not ours to change: left
                    if _settled(path, name, folder, kept=match[2] == "orig"):
                        continue
                    replaced.append(path.with_name(name))
    except OSError:  # a folder that cannot be listed (no r permission) can still be written
        return []
    return replaced


def _listed(place: Path, folder: int | None) -> list[str]:
    """Return the names in the open ``folder`` (found only: opened anew to read), or at ``place``.

    Raises:
        OSError: It cannot be listed (no r permission).
    """
    if folder is None:
        return [entry.name for entry in place.iterdir()]
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0), dir_fd=folder)
    try:
        return os.listdir(fd)  # noqa: PTH208 - a descriptor
    finally:
        os.close(fd)


def _settled(path: Path, name: str, folder: int | None, *, kept: bool) -> bool:
    """Clear the leftover ``name`` beside ``path``, in the open ``folder`` (else by path).

    Return False for a kept original of a file its run had replaced: the caller's to remove.

    Raises:
        OSError: It could not be looked at or changed (gone meanwhile, not ours).
    """
    stale, here = (path.with_name(name), path) if folder is None else (name, path.name)
    if not stat.S_ISREG(os.stat(stale, dir_fd=folder, follow_symlinks=False).st_mode):
        return True  # not a file a run of this tool left: not touched
    if not kept or _same_file(stale, here, folder):
        os.unlink(stale, dir_fd=folder)
        return True
    try:
        os.stat(here, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:  # nothing in its place: the original goes back, over nothing
        os.link(stale, here, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        os.unlink(stale, dir_fd=folder)
        return True
    return False


def settle_leftovers(path: Path) -> None:
    """Clear a killed run's leftovers beside ``path``, which now holds what this run writes there.

    The file is what one run uninterrupted leaves, so a killed run's original of it (what both
    runs were asked to replace) goes too: see :func:`clear_leftovers`. A file the killed run
    had already replaced is current, not written again, and its original stayed for good.
    """
    for old in clear_leftovers(path):
        with contextlib.suppress(OSError):
            remove(old)


def _same_file(kept: Path | str, path: Path | str, folder: int | None) -> bool:
    """Return whether the kept original ``kept`` is the file at ``path``: the same file or bytes.

    Both are names in the open ``folder`` where there is one, else paths.
    """
    try:
        info = os.stat(kept, dir_fd=folder, follow_symlinks=False)
        now = os.stat(path, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if (info.st_dev, info.st_ino) == (now.st_dev, now.st_ino):
        return True
    if not stat.S_ISREG(now.st_mode) or info.st_size != now.st_size:
        return False
    with _opened_in(kept, folder) as first, _opened_in(path, folder) as second:
        while True:  # a block at a time: a kept file may be large
            block = first.read(1 << 20)
            if block != second.read(1 << 20):
                return False
            if not block:
                return True


def _opened_in(name: Path | str, folder: int | None) -> io.BufferedReader:
    """Open the regular file ``name`` in the open ``folder`` (or at that path), following no link.

    Raises:
        OSError: It is not a regular file, or cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    file = open(os.open(name, flags, dir_fd=folder), "rb")  # noqa: PTH123, SIM115 - a descriptor
    if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
        file.close()
        raise OSError(errno.EINVAL, "not a regular file", str(name))
    return file


# What a run keeps beside a file it replaces: see stage and replace_all.
KEPT_NAME = re.compile(r"\.(.+)\.([0-9]+)\.(tmp|orig)")


def stale_kept(root: Path, paths: Iterable[str]) -> list[tuple[str, str, int]]:
    """Return what runs stopped (``kill -9``) left beside the files ``paths`` of ``root``.

    Each is ``(kept, file, pid)``, both root-relative with ``/``: a regular file named
    ``.<name>.<pid>.tmp`` or ``.<name>.<pid>.orig`` beside ``<name>`` (one of ``paths``), whose
    process is gone. A folder that leaves the root or cannot be listed is not looked in.
    """
    folders: dict[str, set[str]] = {}
    for rel in paths:
        folder, _, name = rel.rpartition("/")
        folders.setdefault(folder, set()).add(name)
    found = []
    for folder, names in sorted(folders.items()):
        try:
            place = confine(root, folder or ".")
            with os.scandir(place) as entries:
                listed = [(e.name, e.is_file(follow_symlinks=False)) for e in entries]
        except (OSError, TacBootstrapError):
            continue
        for entry, regular in sorted(listed):
            match = KEPT_NAME.fullmatch(entry)
            if match is None or match[1] not in names or not regular:
                continue
            if not process_alive(int(match[2])):
                prefix = f"{folder}/" if folder else ""
                found.append((prefix + entry, prefix + match[1], int(match[2])))
    return found


def process_alive(pid: int) -> bool:
    """Return whether a process with this id exists."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none, or an id no process can have
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _put_back(moved: list[tuple[Path, str]], kept: dict[Path, Path]) -> list[str]:
    """Undo the moves made, last first; return those that could not be undone, named.

    The original of a file not put back stays where it was kept (and is named).
    """
    left = []
    for path, shown in reversed(moved):
        keep = kept.get(path)
        try:
            if keep is not None:
                move(keep, path)
            else:
                remove(path)
        except OSError:
            left.append(shown if keep is None else f"{shown} (its original is {keep})")
            kept.pop(path, None)  # not removed at the end
    return left


def unwritable(folder: Path | str) -> OSError | None:
    """Return the error writing a file in ``folder`` would meet, or None if it can be written.

    ``os.access`` says only no: the error is the one the system gives (see :func:`_refusal`).
    """
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    code = _refusal(folder)
    return OSError(code, os.strerror(code), str(folder))


def _refusal(folder: Path | str) -> int:
    """Return why the system refuses writing in ``folder``, as access(2) says it.

    A folder this user may not write (``EACCES``, "Permission denied"), an immutable one
    (``chattr +i``: ``EPERM``, "Operation not permitted"), a read-only file system (``EROFS``).
    Where access(2) cannot be called, a read-only file system is still told apart.
    """
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no C library to load
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.access(os.fsencode(folder), os.W_OK | os.X_OK) != 0 and ctypes.get_errno():
            return ctypes.get_errno()
    with contextlib.suppress(OSError, AttributeError):  # no statvfs: not a POSIX system
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return errno.EROFS
    return errno.EACCES


# Each folder of a real path opened by its name in the one before, no link followed: O_PATH
# (Linux) needs no read permission on the folder, as a lookup by name needs none.
_FOLDER_FLAGS = (
    getattr(os, "O_PATH", os.O_RDONLY)
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_AT = (
    hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
    and {os.open, os.rename, os.link} <= os.supports_dir_fd
)


def open_real_folder(real: str) -> int:
    """Open the folder at the real path ``real`` one name at a time from ``/``, following no link.

    Raises:
        OSError: A name on the way is no longer a folder, a link put in its place since it
            was resolved (``ELOOP``), or it cannot be opened.
    """
    fd = os.open(os.sep, _FOLDER_FLAGS)
    try:
        for name in Path(real).parts[1:]:
            try:
                inner = os.open(name, _FOLDER_FLAGS, dir_fd=fd)
            except (NotADirectoryError, FileNotFoundError) as exc:
                said = "changed while in use: a folder on the way is now a link, a file or gone"
                raise OSError(errno.ELOOP, said, real) from exc
            # The inner folder is ours before the outer one is closed: a stop whose handler
            # ran as close returned had the outer one closed twice (EBADF, not the stop).
            outer, fd = fd, inner
            os.close(outer)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def real_folders(*paths: Path) -> Iterator[list[int] | None]:
    """Hold open the folders of ``paths`` (real paths, as checked), each through no link.

    Yields None where the system cannot (no ``dir_fd``, or a folder on the way this user may
    not open without O_PATH): the caller then works by name, as before.
    """
    if not _AT:
        yield None
        return
    fds: list[int] = []
    try:
        try:
            for path in paths:
                fds.append(open_real_folder(str(path.parent)))
        except PermissionError:
            yield None
            return
        yield fds
    finally:
        for fd in fds:
            os.close(fd)


def move(source: Path, target: Path) -> None:
    """Rename ``source`` onto ``target`` (both real paths, as checked) through no link.

    ``source.replace(target)`` looked both names up again as it ran: a folder on the way made
    a link in the moment since the check (by another process) moved the file through it, out
    of the root or into git's folder. Each folder is now opened one name at a time from the
    root of the file system refusing a link, and the rename is made in those folders: a link
    swapped in later changes nothing. A folder moved (not linked) meanwhile takes the file
    with it, where the one who moved it could write.

    Raises:
        OSError: The rename failed, or a folder on the way is now a link (``ELOOP``).
    """
    with real_folders(source, target) as fds:
        if fds is None:
            source.replace(target)
        else:
            os.rename(source.name, target.name, src_dir_fd=fds[0], dst_dir_fd=fds[1])


def link(source: Path, target: Path) -> None:
    """Make ``target`` a hard link to ``source`` (real paths, as checked), through no link.

    Raises:
        OSError: As :func:`os.link` (``FileExistsError`` where a file is), or a folder on the
            way is now a link (``ELOOP``).
    """
    with real_folders(source, target) as fds:
        if fds is None:
            os.link(source, target, follow_symlinks=False)
        else:
            os.link(
                source.name,
                target.name,
                src_dir_fd=fds[0],
                dst_dir_fd=fds[1],
                follow_symlinks=False,
            )


def remove(path: Path) -> None:
    """Remove the file ``path`` (a real path, as checked) in its folder, through no link.

    Raises:
        OSError: It could not be removed, or a folder on the way is now a link (``ELOOP``).
    """
    with real_folders(path) as fds:
        if fds is None:
            path.unlink()
        else:
            os.unlink(path.name, dir_fd=fds[0])


def write_atomic(root: Path, rel: str, data: bytes, *, shown: str | None = None) -> None:
    """Replace (or create) the file ``rel`` of ``root`` in one rename, keeping its mode and owner.

    ``shown`` names the file in errors (default: ``rel``).

    The folders it needs are created. Nothing is left behind on failure: the temporary
    file is written beside the target and removed if anything goes wrong.

    Raises:
        OutsideRootError: The path leaves the root.
        NotAFileError: The path is a folder, or a parent of it is a file.
        WriteError: The file system refused the write (read-only, full, ...).
    """
    tmp, path = stage(root, rel, data, shown=shown)
    try:
        move(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise WriteError(Path(shown or rel), exc) from None


def stage(root: Path, rel: str, data: bytes, *, shown: str | None = None) -> tuple[Path, Path]:
    """Write ``data`` beside the file ``rel`` of ``root``: return (that file, the target).

    The file written has the mode and owner of the file it replaces (a new file and new
    folders, the owner of the folder they are made in: see :func:`own_like`).

    Moving the first onto the second (one rename) is left to the caller, so that several
    files can all be written before any is replaced. Raises as :func:`write_atomic` (and
    NotAFileError for a path that now leads into a git folder, update's own folder or the
    answers file), leaving no temporary file behind.
    """
    path = writable(root, rel, shown=shown)
    # A folder made a link into git's folder since the manifest was checked (pkg -> .git/x):
    # sync wrote .git/x/plain.txt, exit 0. No file a command writes goes there.
    found = reserved_at(root, rel)
    if found is not None:
        msg = (
            f"{shown or rel} is {found[0]} (through a symlink: {found[1]}), a link changed "
            "since the check: refusing to write there"
        )
        raise NotAFileError(msg)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        make_folders(path.parent, resolved=True)  # as checked: a link since is refused
        _new_file(tmp, data, like=path)
    except OSError as exc:
        raise WriteError(Path(shown or rel), exc) from None
    return tmp, path


# A staged file: made by this run only (a file or link already there under its name is
# refused, not followed, not truncated).
_NEW_FILE = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def inherit(new: Path | int, path: Path) -> bool:
    """Give ``new``, about to replace ``path``, the mode, extended attributes and owner of ``path``.

    Where there is no ``path``, ``new`` gets the owner of the folder it goes into. Return
    whether ``path`` exists. ``new`` may be the open file (its descriptor): changed so, a
    link put on its way meanwhile cannot turn the change onto another file.

    ``path`` is a real path, as checked: what it has is read from the file opened in its
    folder, opened one name at a time through no link (:func:`replaced_file`), so a link put
    in its place (or a folder's) at that moment lends no other file's mode or owner.

    Raises:
        OSError: ``path`` or a folder on the way became a link or not a file (``ELOOP``).
    """
    with replaced_file(path) as (info, exists, source):
        if exists:
            os.chmod(new, stat.S_IMODE(info.st_mode))  # noqa: PTH101 - a path or an open file
            copy_xattrs(source, new)
        own_like(new, info)
    return exists


# The file a write replaces, opened only to read what it has: O_PATH (Linux) needs no read
# permission and opens no FIFO; elsewhere O_NONBLOCK keeps a FIFO from waiting for a writer.
_ENTRY_FLAGS = (
    getattr(os, "O_PATH", os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


@contextlib.contextmanager
def replaced_file(path: Path) -> Iterator[tuple[os.stat_result, bool, Path | str | int]]:
    """Yield the status of the file at the real path ``path`` (or of its folder), and more.

    Yields (status, whether the file exists, where its extended attributes are read). The
    file is opened by its name in its folder, the folder opened one name at a time from ``/``
    refusing a link (:func:`open_real_folder`): read by name, a link put in the file's place
    at that moment made the file written take the mode and owner of the file it led to. Where
    the system cannot (no ``dir_fd``, a folder this user may not open without O_PATH), it is
    read by name, as before.

    Raises:
        OSError: The file or a folder on the way is now a link, or no longer a file (``ELOOP``).
    """
    if not _AT:
        yield _by_name(path)
        return
    try:
        folder = open_real_folder(str(path.parent))
    except PermissionError:
        yield _by_name(path)
        return
    try:
        fd = _open_entry(folder, path)
        if fd is None:
            yield os.fstat(folder), False, path
            return
        try:
            # An O_PATH descriptor has no extended attributes of its own: /proc names its file.
            opened = f"/proc/self/fd/{fd}"
            readable = hasattr(os, "O_PATH") and os.path.exists(opened)  # noqa: PTH110
            source = opened if readable else fd
            yield os.fstat(fd), True, source
        finally:
            os.close(fd)
    finally:
        os.close(folder)


def _open_entry(folder: int, path: Path) -> int | None:
    """Open the regular file ``path`` by its name in ``folder``, following no link (None: none).

    Raises:
        OSError: It is now a link or not a regular file (``ELOOP``), or cannot be opened.
    """
    said = "changed while in use: the file replaced is now a link or not a file"
    try:
        fd = os.open(path.name, _ENTRY_FLAGS, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, said, str(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # O_PATH opens the link itself
        os.close(fd)
        raise OSError(errno.ELOOP, said, str(path))
    return fd


def _by_name(path: Path) -> tuple[os.stat_result, bool, Path]:
    """Return :func:`replaced_file`'s answer read by name, where nothing better can be done."""
    if path.exists():
        return path.stat(), True, path
    return path.parent.stat(), False, path


def copy_xattrs(source: Path | str | int, target: Path | int) -> None:
    """Give ``target`` the extended attributes of ``source``, as far as the system allows.

    A file replaced by a rename would lose the person's (``user.*``, an ACL): each is copied
    where this user may set it, skipped where not, or where the system has none (not Linux).
    ``security.capability`` is not copied: it grants privileges to the program that was in the
    file, not to the text written in its place.
    """
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(source)
    except OSError:  # a file system without extended attributes
        return
    for name in names:
        if name == "security.capability":
            continue
        with contextlib.suppress(OSError):
            os.setxattr(target, name, os.getxattr(source, name), **_no_follow(target))


def make_folders(
    folder: Path,
    *,
    usable: bool = False,
    private: bool = False,
    resolved: bool = False,
    within: Path | None = None,
) -> None:
    """Make ``folder`` and the folders on its way, each owned as the one it is made in.

    With ``usable`` (folders of the tool's own state: update's backups, the caches), each
    folder made is readable, writable and searchable by its owner whatever the umask, as git
    makes its own: under ``umask 777`` a folder of mode 000 stopped the next write in it.
    With ``private`` (the caches), each is made for its owner alone (700), whatever the umask.

    The folder that exists is opened one name at a time through no link, its owner read from
    it, and each folder is made, opened, given its mode and owner in the one before: read and
    made by name, a link put in the existing folder's place at that moment made the new
    folders outside the root, owned as the folder the link led to. With ``resolved``
    (``folder`` is a real path, as checked), a link on its way is refused; else it is resolved
    once, and with ``within`` it must lead inside that folder.

    Raises:
        OSError: A folder cannot be made, or a folder on the way became a link, a file, or
            leads out of ``within`` (``ELOOP``).
    """
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    if not missing:
        return
    real = os.path.abspath(folder) if resolved else os.path.realpath(folder)  # noqa: PTH100
    if within is not None and not _inside(real, os.path.realpath(within)):
        said = "changed while in use: a folder on the way now leads out of the root"
        raise OSError(errno.ELOOP, said, str(folder))
    try:
        fd = open_real_folder(real) if _AT else None
    except PermissionError:  # a folder on the way this user may not open without O_PATH
        fd = None
    if fd is None:
        _make_by_name(folder, missing, usable=usable, private=private)
        return
    try:
        info = os.fstat(fd)
        for made in reversed(missing):
            with contextlib.suppress(FileExistsError):  # made meanwhile: used if a folder
                os.mkdir(made.name, 0o700 if private else 0o777, dir_fd=fd)
            inner = _open_made(fd, made)
            outer, fd = fd, inner  # before the close, as in open_real_folder
            os.close(outer)
            handle = _handle(fd)
            if usable:
                os.chmod(handle, stat.S_IMODE(os.stat(handle).st_mode) | stat.S_IRWXU)  # noqa: PTH101, PTH116
            own_like(handle, info)
    finally:
        os.close(fd)


def _inside(real: str, top: str) -> bool:
    """Return whether the real path ``real`` is ``top`` or inside it."""
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _open_made(folder: int, made: Path) -> int:
    """Open the folder ``made`` by its name in ``folder``, refusing a link or a file there.

    Raises:
        OSError: It is now a link or not a folder (``ELOOP``), or cannot be opened.
    """
    try:
        return os.open(made.name, _FOLDER_FLAGS, dir_fd=folder)
    except (NotADirectoryError, FileNotFoundError) as exc:
        said = "changed while in use: a folder made is now a link, a file or gone"
        raise OSError(errno.ELOOP, said, str(made)) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            said = "changed while in use: a folder made is now a link"
            raise OSError(errno.ELOOP, said, str(made)) from None
        raise


def _handle(fd: int) -> int | str:
    """Return what sets the mode and owner of the folder open as ``fd`` (O_PATH: its /proc name)."""
    opened = f"/proc/self/fd/{fd}"
    if hasattr(os, "O_PATH") and os.path.exists(opened):  # noqa: PTH110
        return opened
    return fd


def _make_by_name(folder: Path, missing: list[Path], *, usable: bool, private: bool) -> None:
    """Make the folders ``missing`` in ``folder`` by name, where nothing better can be done."""
    info = folder.stat()
    for made in reversed(missing):
        made.mkdir(mode=0o700 if private else 0o777, exist_ok=True)
        if usable:
            made.chmod(stat.S_IMODE(made.stat().st_mode) | stat.S_IRWXU)
        own_like(made, info)


def private_folder(folder: Path, *, make: bool = True) -> bool:
    """Make the cache folder ``folder`` if needed; return whether only this user can write in it.

    What a cache holds is trusted: a clean-check record makes ``sync-check`` skip a pair, a
    compiled template is code that runs. A folder another user can write in (one of theirs,
    one any user may write such as ``TAC_BOOTSTRAP_CACHE_DIR=/tmp/shared``, or one below a
    folder they can rename it in) could hold their record of a drifted file, or their code:
    such a folder is not used (the command runs without a cache). A folder of this user's that
    others may write is made private (as Jinja2 does its own default cache folder); a file in
    it that another user made is ignored (see :func:`mine`). Folders made are private (700);
    without ``make``, a folder that does not exist yet is not made (it would be private).
    """
    if not hasattr(os, "geteuid"):  # Windows: no owners and modes to compare
        return os.access(folder, os.W_OK) if folder.is_dir() else not make or _made(folder)
    try:
        existing = folder
        while not existing.exists():
            existing = existing.parent
        if not _only_mine_above(Path(os.path.realpath(existing)), itself=existing != folder):
            return False  # checked before a folder is made in it
        if existing != folder and not make:
            return True
        make_folders(folder, usable=True, private=True)
        real = Path(os.path.realpath(folder))
        info = real.stat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return False
        if _others_may_write(info):
            real.chmod(stat.S_IMODE(info.st_mode) & ~(stat.S_IWGRP | stat.S_IWOTH))
        if not _only_mine_above(real.parent, itself=True):
            return False
    except OSError:
        return False
    return os.access(real, os.W_OK | os.X_OK)


def _only_mine_above(folder: Path, *, itself: bool) -> bool:
    """Return whether no other user can rename, replace or add to what is in ``folder``.

    ``folder`` (when ``itself``) and every folder above it must belong to this user or root
    and be writable by no one else, unless sticky (``/tmp``: there only an entry's owner may
    rename or remove it).
    """
    for above in [folder, *folder.parents] if itself else folder.parents:
        info = above.stat()
        if info.st_uid not in (0, os.geteuid()) or (
            _others_may_write(info) and not info.st_mode & stat.S_ISVTX
        ):
            return False
    return True


def _others_may_write(info: os.stat_result) -> bool:
    """Return whether a user other than this one may write in the folder ``info`` describes.

    A folder writable by its group is this user's alone when the group is the user's own (a
    user private group, named as the user, with no other member: ``umask 002`` makes such
    folders 775 on Debian and its kin).
    """
    if info.st_mode & stat.S_IWOTH:
        return True
    return bool(info.st_mode & stat.S_IWGRP) and not _own_group(info.st_gid)


def _own_group(gid: int) -> bool:
    """Return whether ``gid`` is this user's private group: named as the user, no one else in it."""
    try:
        import grp
        import pwd

        me = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(gid)
    except (ImportError, KeyError):
        return False
    return gid == os.getegid() and group.gr_name == me and set(group.gr_mem) <= {me}


def _made(folder: Path) -> bool:
    """Make ``folder``; return whether that worked."""
    try:
        make_folders(folder, usable=True)
    except OSError:
        return False
    return True


def mine(path: str | Path) -> bool:
    """Return whether ``path`` is a file of this user's (one of a cache, before it is trusted)."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        return os.stat(path).st_uid == os.geteuid()  # noqa: PTH116 - str or Path
    except OSError:
        return False


def _no_follow(path: Path | int | str) -> dict[str, bool]:
    """Return the keyword that keeps a call on ``path`` off a link (none for an open file).

    A ``str`` is an open file's /proc name (see :func:`_handle`): followed to that file.
    """
    return {} if isinstance(path, int | str) else {"follow_symlinks": False}


def own_like(path: Path | int | str, info: os.stat_result) -> None:
    """Give ``path`` the owner and group in ``info``, as far as this user may.

    Root gives both; another user keeps a group it is a member of, and else the group its
    files get. The mode ``path`` was given stays: a change of owner clears a file's setuid and
    setgid bits (for root too), which are set again.
    """
    if not hasattr(os, "chown"):
        return
    uid = info.st_uid if os.geteuid() == 0 else -1
    before = os.stat(path, **_no_follow(path))  # noqa: PTH116 - a path or an open file
    if uid == -1 and before.st_gid == info.st_gid:
        return
    try:
        os.chown(path, uid, info.st_gid, **_no_follow(path))
    except PermissionError:
        if uid != -1:
            raise
    mode = stat.S_IMODE(before.st_mode)
    if mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISLNK(before.st_mode):
        os.chmod(path, mode)  # noqa: PTH101 - a path or an open file
