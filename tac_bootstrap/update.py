"""Bring a generated project to the installed generator's version with a three-way merge.

For every file, three versions: the *base* (what the project's recorded version rendered from
its answers, re-rendered from the release store, and trusted only if its sha256 is the one in
``.tac-bootstrap.json``), *yours* (the file on disk) and *theirs* (what this version renders).
Everything is planned in memory first; nothing is written when the plan is refused. Then:
each file about to change is backed up under ``.tac-bootstrap/backup/<from>-<to>/`` (``.2``,
``.3``, ... when a finished update of the same versions has that folder: no backup is ever
overwritten), new contents replace old ones atomically, deletions come after the writes, and
the answers file is written last. A run killed at any step converges when run again: its
backup folder holds a marker naming the answers file it started from, so the run again uses
the same folder, a file already backed up is merged from its backup, and the plan is the same.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tac_bootstrap import __version__
from tac_bootstrap.answers import RECORDED_FOLDER, RECORDED_FOLDER_FIX, is_safe_path
from tac_bootstrap.checkcache import sha256
from tac_bootstrap.confine import (
    MAX_FILE_BYTES,
    NotRegularFileError,
    OutsideRootError,
    held_stops,
    in_git,
    inherit,
    kind_of,
    locked,
    make_folders,
    move,
    on_stop,
    opened_at,
    read_file,
    remove,
    reserved_at,
    reserved_places,
    unwritable,
)
from tac_bootstrap.confine import confine as confined
from tac_bootstrap.errors import (
    InvalidInputError,
    TacBootstrapError,
    UpdateStoppedError,
    WriteError,
)
from tac_bootstrap.merge import MARKER_SIZE, Labels, merge3
from tac_bootstrap.report import (
    JSON_DIFFS_CHARS,
    TEXT_LINE_CHARS,
    cut,
    json_diff,
    json_header,
    left_out_diff,
    printable,
    text_diff,
    unified_diff,
)

if TYPE_CHECKING:
    from tac_bootstrap.answers import Answers
    from tac_bootstrap.spec import ProjectSpec

ANSWERS_FILE = ".tac-bootstrap.json"
# Beside the backup folder of an update still running (or killed), ``<folder>.running`` holds
# a line naming it and the sha256 of the answers file it started from (see _marker_bytes);
# removed once the answers file is written.
RUNNING_SUFFIX = ".running"
STATE_DIR = ".tac-bootstrap"
BACKUP_DIR = f"{STATE_DIR}/backup"
#: Lines that open or close a conflict ``update`` wrote, whatever the versions.
MARKER_STARTS = (f"{'<' * MARKER_SIZE} yours", f"{'>' * MARKER_SIZE} tac-bootstrap ")

Content = bytes | None


class UpdateRefusedError(TacBootstrapError):
    """``update`` cannot run on this project as it is; nothing was written."""


@dataclass(frozen=True)
class FileUpdate:
    """What ``update`` does to one file.

    Attributes:
        code: ``M`` modified, ``A`` added, ``D`` deleted, ``C`` conflict, ``K`` kept as it is
            although the generator would change or delete it, ``R`` renamed.
        path: The file, relative to the project (for ``R``, its new name).
        old_path: For ``R``, the old name.
        reason: Why, in words.
        needs_person: Whether a person must look at it (conflicts, kept edited files).
        change: The file's bytes before and after (``b""`` where there is none), for ``diff``.
    """

    code: str
    path: str
    old_path: str | None = None
    reason: str = ""
    needs_person: bool = False
    change: tuple[bytes, bytes] = (b"", b"")

    @property
    def diff(self) -> str:
        """Return what changes on disk as a unified diff (empty for binary files).

        Made when asked for (a dry run and ``--format json`` show diffs, a plain run does not).
        """
        return _diff(self.path, *self.change)

    @property
    def has_diff(self) -> bool:
        """Return whether :attr:`diff` is not empty, without making it."""
        before, after = self.change
        return before != after and _text(before) is not None and _text(after) is not None

    def left_out_diff(self) -> str:
        """Return the two header lines of :attr:`diff` and a note that the rest is left out."""
        before, after = self.change
        old = f"{self.path} (now)" if before else "/dev/null"
        new = f"{self.path} (updated)" if after else "/dev/null"
        return left_out_diff(old, new, _LEFT_OUT.format(DIFF_BUDGET))

    def line(self) -> str:
        """Return the one-line form: ``M path`` or ``R old -> new``."""
        if self.code == "R":
            return f"R {self.old_path} -> {self.path}"
        return f"{self.code} {self.path}"


#: How a file that needs a person is named, by its code (the summary, a stop's line).
_NEEDS = {"C": "in conflict", "K": "kept"}


@dataclass
class UpdatePlan:
    """Everything an update writes, planned before anything is written."""

    root: Path
    from_version: str
    to_version: str
    updates: list[FileUpdate] = field(default_factory=list)
    writes: dict[str, bytes] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    backups: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    answers: bytes = b""
    answers_changed: bool = False
    dry_run: bool = False
    backup_dir: str = ""  # relative to the project; chosen by plan()
    started_from: str = ""  # sha256 of the answers file this update starts from

    @property
    def exit_code(self) -> int:
        """Return 1 when a file needs a person (a conflict, a kept edit), else 0."""
        return 1 if any(u.needs_person for u in self.updates) else 0

    def summary(self) -> str:
        """Return the status line(s) for stderr."""
        counts: dict[str, int] = {}
        for u in self.updates:
            counts[u.code] = counts.get(u.code, 0) + 1
        words = {"M": "modified", "A": "added", "D": "deleted", "R": "renamed"}
        words |= _NEEDS
        done = ", ".join(f"{counts[c]} {w}" for c, w in words.items() if c in counts)
        verb = "would update" if self.dry_run else "updated"
        if self.from_version == self.to_version and not self.updates:
            text = f"update: already at tac-bootstrap {self.to_version}; nothing to do"
        else:
            text = f"update: {verb} {self.from_version} -> {self.to_version}: {done or 'no file'}"
        if self.backups and not self.dry_run:
            text += f"; backups in {self.backup_dir}/"
        people = [u for u in self.updates if u.needs_person]
        if people:
            text += "\nneeds you:" + "".join(
                f"\n  {printable(f'{u.path}: {u.reason}')}" for u in people
            )
            if self.conflicts:
                text += (
                    "\nresolve each conflict (the lines between <<<<<<< yours and >>>>>>> "
                    f"tac-bootstrap {self.to_version}; a binary file's new version is beside it "
                    f"as <file>.tac-bootstrap-{self.to_version}), then run "
                    "`tac-bootstrap sync-check`"
                )
        return text

    def render_text(self) -> str:
        """Return one line per file (with its diff after it on a dry run).

        A diff is shown as ``sync-check``'s text report shows one: its control characters
        escaped, a line of more than 10,000 characters cut to its two ends and its length;
        once the diffs shown hold :data:`DIFF_BUDGET` characters, the others are left out.
        """
        parts, left = [], DIFF_BUDGET
        for u in self.updates:
            parts.append(printable(u.line()) + "\n")
            if not self.dry_run or not u.has_diff:
                continue
            diff = u.diff if left > 0 else ""
            if not diff or len(diff) > left:
                left, diff = 0, u.left_out_diff()
            left -= len(diff)
            parts.append(text_diff(diff))
        return "".join(parts)

    def render_json(self) -> str:
        """Return the plan as one JSON object, for tools.

        Its size is bounded as ``sync-check``'s JSON report is (see
        :func:`tac_bootstrap.report.json_diff`): a file's ``truncated`` says whether its
        ``reason`` or ``diff`` was cut.
        """
        left = [JSON_DIFFS_CHARS]  # characters of diffs the document may still hold
        data = {
            **json_header(),
            "ok": self.exit_code == 0,
            "from": self.from_version,
            "to": self.to_version,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "files": [_json_file(u, left) for u in self.updates],
            "conflicts": self.conflicts,
            "backup": self.backup_dir if self.backups else None,
        }
        return json.dumps(data, indent=2) + "\n"


#: Characters of diffs ``update --dry-run`` shows (as ``sync-check``'s report holds at most).
DIFF_BUDGET = MAX_FILE_BYTES
_LEFT_OUT = (
    "(not shown: the diffs of this update already hold {:,} characters; "
    "compare the files with a diff tool)\n"
)


def _json_file(u: FileUpdate, left: list[int]) -> dict[str, object]:
    """Return one file of the plan as the JSON document shows it, its diff bounded."""
    reason = cut(u.reason, TEXT_LINE_CHARS)
    diff, diff_cut = json_diff(u.diff if left[0] > 0 else "", left)
    return {
        "code": u.code,
        "path": u.path,
        "old_path": u.old_path,
        "line": u.line(),
        "reason": reason,
        "needs_person": u.needs_person,
        "diff": diff,
        "truncated": diff_cut or reason != u.reason or (left[0] <= 0 and not diff and u.has_diff),
    }


# --- paths -----------------------------------------------------------------------------------


def confine(root: Path, rel: str) -> Path:
    """Return ``root/rel`` if it is a safe relative path that resolves inside ``root``.

    Raises:
        UpdateRefusedError: The path is absolute, has ``..``, or leaves the root (symlinks
            followed).
    """
    if not is_safe_path(rel):
        msg = f"{rel!r} is not a safe path inside the project; refusing to read or write it"
        raise UpdateRefusedError(msg)
    try:
        confined(root, rel)  # the one check of sync-check, sync and update
    except OutsideRootError as exc:
        raise UpdateRefusedError(str(exc)) from None
    return root / rel


def read_confined(root: Path, rel: str) -> Content:
    """Read ``root/rel`` after :func:`confine`; None when it does not exist or is a folder.

    Raises:
        UpdateRefusedError: The path leaves the root, or the file cannot be read.
    """
    path = confine(root, rel)
    try:
        if path.is_dir():
            return None
        # Its real path: a link put in its place (or a folder's) since it was checked is refused.
        return read_file(confined(root, rel), resolved=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if isinstance(exc, NotRegularFileError) and stat.S_ISDIR(exc.mode):
            return None  # a folder since the look: as one before it
        _no_link_to_nothing_on_the_way(root, rel)  # one that loops: named, not "Too many levels"
        msg = f"cannot read {rel}: {exc.strerror or exc}"
        raise UpdateRefusedError(msg) from None


def _read(root: Path, rel: str, *, through_link: bool = False) -> Content:
    """Read a file ``update`` may write: refuse a folder or a link in its place.

    With ``through_link`` (a file of the project read to plan it, which the plan may leave
    as it is), a link to a regular file inside the project is read through, as ``sync`` and
    ``sync-check`` read one; a file the plan writes, deletes or backs up is read again
    without it (:func:`_check_writable`), so a link there is still refused, never written
    through.
    """
    path = confine(root, rel)
    shown = named(root, rel)
    try:
        link = path.is_symlink()
        followed = through_link and link and path.is_file()
        odd = (link and not followed) or (path.exists() and not path.is_file())
        mode = path.stat().st_mode if odd and not link else None
        if mode is not None and stat.S_ISREG(mode):  # a file again (away for a moment)
            odd = False  # it was called "a device"
        # Named for what it is: a FIFO or a socket was called "a folder or a link".
        what = f"a symlink{_to(root, path)}" if link else kind_of(mode) if odd else ""
    except OSError as exc:  # a folder on the way without the x permission
        msg = f"cannot read {shown}: {exc.strerror or exc}"
        raise UpdateRefusedError(msg) from None
    if odd:
        # The answers file is what the command needs: said as every command says it, with no
        # advice to move it away.
        advice = "" if rel == ANSWERS_FILE else "; move it away first"
        msg = f"{shown} is not a regular file ({what}){advice}"
        raise UpdateRefusedError(msg)
    if followed:
        found = reserved_at(root, rel)  # README.md -> .git/config: git's file, not the project's
        if found is not None:
            msg = f"{shown} is {found[0]} (through a symlink: {found[1]}): refusing to read it"
            raise UpdateRefusedError(msg)
    return read_confined(root, rel)


def named(root: Path, rel: str) -> str:
    """Return how every command names ``rel`` of ``root`` in an error.

    The manifest and the answers file with the root as given (``p/pyproject.toml``, as the
    commands that read them as such say), any other file relative to the root: ``update``
    said ``pyproject.toml is under a git folder …`` where ``sync-check``, ``sync`` and
    ``migration new`` say ``p/pyproject.toml is under a git folder …``.
    """
    return str(root / rel) if rel in _NAMED_WITH_ROOT else rel


_NAMED_WITH_ROOT = frozenset({"pyproject.toml", ANSWERS_FILE})


def _to(root: Path, link: Path) -> str:
    """Return `` to <where the link leads>`` (relative to ``root`` inside it), or nothing."""
    try:
        if not link.exists():
            return ""  # a loop or a link to nothing: "a symlink" says it
        real = os.path.realpath(link)
    except OSError:
        return ""
    real_root = os.path.realpath(root)
    if real.startswith(real_root.rstrip(os.sep) + os.sep):
        return f" to {Path(os.path.relpath(real, real_root)).as_posix()}"
    return ""


def _text(content: bytes) -> str | None:
    """Return the text of a file, or None for a binary one (NUL byte or not UTF-8)."""
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def has_update_markers(text: str) -> bool:
    """Return whether ``text`` still holds a conflict an update wrote."""
    return any(line.startswith(MARKER_STARTS) for line in text.split("\n"))


# --- planning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """Where the recorded releases and this version's templates are read from."""

    store: Path | None = None
    templates: Path | None = None


@dataclass(frozen=True)
class _Renders:
    """The base render (recorded version) and theirs (this version), with their templates."""

    base: dict[str, bytes]
    base_templates: dict[str, str]
    theirs: dict[str, bytes]
    theirs_templates: dict[str, str]
    store: Path


def plan(
    root: Path,
    data: Mapping[str, str] | None = None,
    *,
    dry_run: bool = False,
    sources: Sources | None = None,
) -> UpdatePlan:
    """Plan the update of the project at ``root`` in memory; write nothing.

    Args:
        root: The generated project (holding ``.tac-bootstrap.json``).
        data: ``--data`` values that change the answers for the new render.
        dry_run: Only recorded in the plan, for its messages.
        sources: Where the release store and the live templates are (default: this
            package's); the tests and the benchmark give their own.

    Raises:
        TacBootstrapError: No or invalid answers file, a downgrade, an unrecorded version,
            conflict markers left by an earlier update, a render error or an unsafe path.
    """
    from tac_bootstrap.releases import version_key
    from tac_bootstrap.scaffold import load_answers
    from tac_bootstrap.spec import ProjectSpec

    try:
        is_folder = root.is_dir()
        os.path.abspath(root)  # noqa: PTH100 - fails when the current folder was deleted
    except OSError as exc:
        msg = f"cannot read {root}: {exc.strerror or exc}"
        raise InvalidInputError(msg) from None
    if not is_folder:
        msg = f"{root} is not a folder"
        raise InvalidInputError(msg)
    _read(root, ANSWERS_FILE)  # confined: not a link out of the project
    answers = load_answers(root)
    try:  # the file's own answers, before any -d value: a refusal here names the file
        newer = version_key(answers.version) > version_key(__version__)
        ProjectSpec.from_answers(answers)
    except TacBootstrapError as exc:
        msg = f"{root / ANSWERS_FILE}: refused answer: {exc}"
        raise InvalidInputError(msg) from None
    if newer:
        msg = (
            f"{root} was generated by tac-bootstrap {answers.version}, newer than this "
            f"{__version__}: install {answers.version} or later to update it"
        )
        raise UpdateRefusedError(msg)
    _refuse_unresolved(root, answers)
    _refuse_recorded_folders(root, answers)
    # Every answer as recorded (options such as the database included), -d values on top.
    spec = ProjectSpec.from_answers(answers.with_data(data or {}))
    renders = _render_both(answers, spec, sources or Sources(), cache=not dry_run)
    the_plan = UpdatePlan(root, answers.version, __version__, dry_run=dry_run)
    the_plan.started_from = sha256(_read(root, ANSWERS_FILE) or b"")
    _refuse_state_in_git(root)  # before its markers are read, listed or removed
    the_plan.backup_dir = _backup_dir(root, the_plan)
    _Planner(the_plan, answers, renders).run()
    backups = [f"{the_plan.backup_dir}/{rel}" for rel in the_plan.backups]
    # The marker is written only with backups (see apply): an update that backs nothing up
    # (nothing to do, or only files added) needs no folder .tac-bootstrap/.
    marker = [f"{the_plan.backup_dir}{RUNNING_SUFFIX}"] if backups else []
    _no_reserved_through_links(root, list(the_plan.writes))  # deletes: see below
    for rel in [*the_plan.writes, *backups, *marker, ANSWERS_FILE]:
        _check_writable(root, rel)
    for rel in the_plan.deletes:
        _check_writable(root, rel, replaced=False)
    _refuse_deletes_through_links(root, the_plan)
    # After those: a .git file naming the root is said as such there (not a usable git link).
    _no_git_through_links(root, [*backups, *marker])
    new_answers = _answers_bytes(spec, the_plan)
    the_plan.answers = new_answers
    # _read: the answers file turned into a pipe since it was loaded is refused, not waited on
    the_plan.answers_changed = _read(root, ANSWERS_FILE) != new_answers
    changed = [rel for rel, content in the_plan.writes.items() if _read(root, rel) != content]
    if the_plan.answers_changed:
        changed.append(ANSWERS_FILE)
    for rel in [*changed, *the_plan.deletes]:
        _refuse_locked(root, rel)
    return the_plan


def _backup_dir(root: Path, the_plan: UpdatePlan) -> str:
    """Return this update's backup folder: a killed run's of the same start, else a new one.

    A folder without the marker belongs to a finished update of the same versions (e.g. with
    other -d values): its backups are kept, and this update takes the next free name.
    """
    base = f"{BACKUP_DIR}/{the_plan.from_version}-{the_plan.to_version}"
    confine(root, f"{base}{RUNNING_SUFFIX}")  # a link out of the project is refused first
    if _holds_nothing(root, BACKUP_DIR):
        return base  # no marker nor folder can be there: _check_writable says why if needed
    count = 1
    while True:
        folder = base if count == 1 else f"{base}.{count}"
        marker = _read(root, f"{folder}{RUNNING_SUFFIX}")
        if _started_from(root, folder, marker) == the_plan.started_from:
            return folder
        # A file at the marker's name that is no marker (the backup folder is linked to a
        # folder of the person's) is theirs: the name is taken, as by a folder.
        free = marker is None or _MARKER_CONTENT.fullmatch(marker) is not None
        if free and not (root / folder).exists() and not (root / folder).is_symlink():
            return folder
        count += 1


def _holds_nothing(root: Path, rel: str) -> bool:
    """Return whether ``rel`` is, or is under, a link that leads nowhere or loops.

    Such a place holds nothing: with ``.tac-bootstrap -> .tac-bootstrap`` (a loop) update read
    ``.tac-bootstrap/backup/<from>-<to>.running`` and stopped with "Too many levels of symbolic
    links" (exit 2) even with no backup to make, where ``.tac-bootstrap -> nowhere`` passed.
    Nothing is read, listed, written or removed through it.
    """
    try:
        os.stat(root / rel)  # noqa: PTH116 - the error says what is on the way
    except OSError as exc:
        return exc.errno in (errno.ELOOP, errno.ENOENT, errno.ENOTDIR)
    return False


def _refuse_deletes_through_links(root: Path, the_plan: UpdatePlan) -> None:
    """Refuse a deletion that reaches, through a linked folder, a file that is not its own.

    A recorded path such as ``lnk/README.md`` with ``lnk -> .`` is another name of a file:
    deleting it would delete a file this update keeps or writes, or one of git's or of
    update's own folder.
    """
    real_root = Path(os.path.realpath(root))
    keeps = {confined(root, rel) for rel in [*the_plan.files, *the_plan.writes, ANSWERS_FILE]}
    for rel in the_plan.deletes:
        real = confined(root, rel)
        where = real.relative_to(real_root).as_posix()
        found = reserved_at(root, rel) if real not in keeps else None
        if where != rel and (real in keeps or found is not None):
            why = "a file this update keeps" if found is None else found[0]
            msg = f"{rel} is {where} through a link, {why}: not deleting it; move the link away"
            raise UpdateRefusedError(msg)
        if found is not None:  # .git (or .tac-bootstrap) itself is the link
            msg = f"{rel} is {found[0]} ({found[1]} leads there): not deleting it"
            raise UpdateRefusedError(msg)


_NAME_MAX = 255  # bytes of a file name, on Linux, macOS and Windows file systems


def _no_reserved_through_links(root: Path, paths: list[str]) -> None:
    """Refuse a project file that leads, through a linked folder, to a file no command writes.

    With ``src -> .git/src``, update rewrote ``.git/src/my_app/py.typed`` (exit 0): git's
    folder (its config and hooks run programs), the answers file and update's own folder are
    written by update itself or by no command.

    Raises:
        UpdateRefusedError: Such a path, named with the place it leads to.
    """
    places = reserved_places(root)
    for rel in paths:
        found = reserved_at(root, rel, places)
        if found is not None:
            why, form = found
            msg = f"{rel} is {why} (through a symlink: {form}): refusing to write there"
            raise UpdateRefusedError(msg)


def _no_git_through_links(root: Path, paths: list[str]) -> None:
    """Refuse a path of update's own folder that leads, through a link, into a git folder.

    With ``.tac-bootstrap -> .git``, update wrote its backups and marker into
    ``.git/backup/`` (exit 0). A backup folder linked to a folder of the person's is fine.

    Raises:
        UpdateRefusedError: Such a path, named with the place it leads to.
    """
    real_root = os.path.realpath(root)
    for rel in paths:
        resolved = os.path.realpath(os.path.join(real_root, rel))  # noqa: PTH118 - strings
        if in_git(real_root, rel, resolved):
            where = os.path.relpath(resolved, real_root).replace(os.sep, "/")
            msg = f"{rel} is {_GIT_FOLDER} (through a symlink: {where}): refusing to write there"
            raise UpdateRefusedError(msg)


_GIT_FOLDER = "under a git folder .git/"


def state_in_git(root: Path | str) -> str | None:
    """Return where update's backup folder leads when a link puts it in a git folder, or None.

    ``.tac-bootstrap -> .git`` (or ``.tac-bootstrap/backup -> ../.git/b``): the folder update
    lists for its markers is git's. A root whose ``.git`` file names the root itself is left to
    the checks that say so (not a usable git link).
    """
    real_root = os.path.realpath(root)
    named = os.path.join(real_root, BACKUP_DIR)  # noqa: PTH118 - strings: cheaper
    resolved = os.path.realpath(named)
    if resolved == named or not in_git(real_root, BACKUP_DIR, resolved):
        return None
    for name, place in reserved_places(real_root):
        if name == ".git" and (real_root + os.sep).startswith(place.rstrip(os.sep) + os.sep):
            return None
    return os.path.relpath(resolved, real_root).replace(os.sep, "/")


def _refuse_state_in_git(root: Path) -> None:
    """Refuse update's own folder when a link puts it in a git folder, before it is read.

    With ``.tac-bootstrap -> .git`` and no backup to make, update listed ``.git/backup/`` for
    its markers and removed a file there in a marker's form (exit 0); with backups to make, it
    read ``.git/backup/`` before it refused to write there.

    Raises:
        UpdateRefusedError: The backup folder leads into a git folder.
    """
    where = state_in_git(root)
    if where is not None:
        msg = (
            f"{BACKUP_DIR} is {_GIT_FOLDER} (through a symlink: {where}): update keeps its "
            "backups and markers there; move the link away: nothing was read or written there"
        )
        raise UpdateRefusedError(msg)


def _check_writable(root: Path, rel: str, *, replaced: bool = True) -> None:
    """Refuse, before writing anything, a path that cannot be written, replaced or removed.

    Its place or a folder on its way taken by a file is refused, and so is a folder it goes in
    (or the nearest on its way that exists, where its folders will be made) that this user
    cannot write: a permission problem stops the update before its first write, not halfway.
    ``replaced``: the file is written (through a temporary file beside it), not deleted.
    """
    confine(root, rel)  # a link out of the project is named as such first
    _no_link_to_nothing_on_the_way(root, rel)  # named, before a read fails "too many levels"
    _read(root, rel)  # inside the project, and a file or nothing
    size = len(os.fsencode(_tmp_name(PurePosixPath(rel).name)))
    if replaced and size > _NAME_MAX:  # a recorded name of 243 to 255 bytes (its backup)
        msg = f"cannot write {rel}: its temporary file's name would be {size} bytes, over 255"
        raise UpdateRefusedError(msg)
    for parent in PurePosixPath(rel).parents:
        place = root / parent
        if place.exists():
            if not place.is_dir():
                msg = f"{parent} must be a folder to write {rel}; move it away first"
                raise UpdateRefusedError(msg)
            error = unwritable(place)
            if error is not None:
                shown = "the project folder" if str(parent) == "." else f"folder {parent}/"
                msg = f"cannot write {rel}: {error.strerror} ({shown} is not writable)"
                raise UpdateRefusedError(msg)
            return


def _no_link_to_nothing_on_the_way(root: Path, rel: str) -> None:
    """Refuse a path whose folder on the way is a link that leads nowhere or loops.

    Raises:
        UpdateRefusedError: Such a link, named (the outermost), with the path that needs it.
    """
    found = _link_to_nothing_on_the_way(root, rel)
    if found is not None:
        msg = (
            f"{found} is {_what_link(root / found)}, where {rel} needs a folder; move it away first"
        )
        raise UpdateRefusedError(msg)


def _link_to_nothing_on_the_way(root: Path, rel: str) -> PurePosixPath | None:
    """Return the outermost folder on the way to ``rel`` that is a link leading nowhere."""
    for parent in reversed(PurePosixPath(rel).parents):
        place = root / parent
        if place.is_symlink() and not place.exists():  # made as a folder: FileExistsError
            return parent
    return None


def _what_link(place: Path) -> str:
    """Say what a link that leads nowhere does: loop, or point at nothing."""
    return "a link that loops" if _loops(place) else "a link to nothing"


def _loops(place: Path) -> bool:
    """Return whether following ``place`` goes round in a loop (ELOOP)."""
    try:
        os.stat(place)  # noqa: PTH116 - the error says whether it loops
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _refuse_locked(root: Path, rel: str) -> None:
    """Refuse, before the first write, a file the file system will not let update replace."""
    if locked(confine(root, rel)):
        msg = (
            f"cannot write {rel}: it is immutable or append-only (chattr +i or +a); "
            "lift that (chattr -i -a) and run update again"
        )
        raise UpdateRefusedError(msg)


def _refuse_recorded_folders(root: Path, answers: Answers) -> None:
    """Refuse a path the answers file records as a generated file, where a folder is."""
    for rel in answers.files:
        place = confine(root, rel)
        if os.path.isdir(place) and not os.path.islink(place):  # noqa: PTH112, PTH114 - no OSError
            msg = f"{rel} is {RECORDED_FOLDER}: {RECORDED_FOLDER_FIX}"
            raise UpdateRefusedError(msg)


def _refuse_unresolved(root: Path, answers: Answers) -> None:
    """Refuse to run while a conflict of an earlier update is unresolved."""
    unresolved = []
    for path in answers.conflicts:
        content = _read(root, path, through_link=True)
        side = _read(root, f"{path}.tac-bootstrap-{answers.version}")
        text = _text(content) if content is not None else None
        if side is not None or (text is not None and has_update_markers(text)):
            unresolved.append(path)
    if unresolved:
        msg = (
            f"the last update left conflicts in {', '.join(unresolved)}: resolve them "
            "(remove the <<<<<<< / ||||||| / ======= / >>>>>>> lines, or the "
            f".tac-bootstrap-{answers.version} file beside a binary file) and run update again"
        )
        raise UpdateRefusedError(msg)


def _render_both(answers: Answers, spec: ProjectSpec, sources: Sources, *, cache: bool) -> _Renders:
    """Render the recorded version from the recorded answers, and this version from the spec.

    With ``cache`` false (a dry run, which writes nothing anywhere), Jinja2's bytecode cache
    is neither read nor written.
    """
    from tac_bootstrap import releases
    from tac_bootstrap.checkcache import default_cache_dir
    from tac_bootstrap.render import Renderer, _writable_folder
    from tac_bootstrap.scaffold import render_project
    from tac_bootstrap.spec import ProjectSpec

    folder = default_cache_dir() if cache else None
    jinja = folder / "jinja" if folder is not None else None
    store = sources.store or releases.STORE
    renderer = Renderer(sources.templates, cache_dir=jinja)
    theirs = render_project(spec, renderer)
    theirs_templates = _live_templates(spec, renderer)
    if answers.version in releases.recorded_versions(store):
        base_files = releases.render(
            answers.version,
            answers.context(),
            store,
            cache_dir=jinja if jinja is not None and _writable_folder(jinja) else None,
        )
        base = {path: f.content for path, f in base_files.items()}
        base_templates = {path: f.template for path, f in base_files.items()}
    elif answers.version == __version__:
        old_spec = ProjectSpec.from_answers(answers)
        base = render_project(old_spec, renderer)
        base_templates = _live_templates(old_spec, renderer)
    else:
        try:
            releases.load(answers.version, store)
        except releases.ReleaseStoreError as exc:  # this version is not recorded
            msg = f"{ANSWERS_FILE}: {exc}"
            raise releases.ReleaseStoreError(msg) from None
        raise AssertionError  # pragma: no cover - load raised
    return _Renders(base, base_templates, theirs, theirs_templates, store)


def _live_templates(spec: ProjectSpec, renderer: Any) -> dict[str, str]:
    """Map each file the live templates render by path to the template it comes from."""
    from tac_bootstrap.scaffold import _output_path

    context = spec.context()
    found = {}
    for folder in spec.template_sets():
        for name in renderer.walk(folder):
            found[_output_path(renderer, name[len(folder) + 1 :], context)] = name
    return found


def _renames(answers: Answers, renders: _Renders) -> dict[str, str]:
    """Return the files whose template was renamed (or now renders elsewhere): old -> new."""
    from tac_bootstrap.releases import renames_between

    moved_templates = renames_between(answers.version, __version__, renders.store)
    new_path = {template: path for path, template in renders.theirs_templates.items()}
    moved = {}
    for old, template in renders.base_templates.items():
        new = new_path.get(moved_templates.get(template, template))
        taken = new in renders.base or new in answers.files
        if new and new != old and old not in renders.theirs and not taken:
            moved[old] = new
    return moved


class _Planner:
    """Decide, file by file, what the update does."""

    def __init__(self, the_plan: UpdatePlan, answers: Answers, renders: _Renders) -> None:
        self.plan = the_plan
        self.root = the_plan.root
        self.answers = answers
        self.renders = renders
        self.labels = Labels(
            "yours", f"tac-bootstrap {answers.version}", f"tac-bootstrap {__version__}"
        )
        # A backup folder behind a link that loops or leads nowhere holds no backup.
        self.no_backups = _holds_nothing(self.root, the_plan.backup_dir)

    def run(self) -> None:
        """Plan every file the project had or now gets, in path order."""
        moved = _renames(self.answers, self.renders)
        pairs: dict[str, tuple[str | None, str | None]] = {}
        for old in self.answers.files:
            new = moved.get(old, old)
            pairs[new if new in self.renders.theirs else old] = (
                old,
                new if new in self.renders.theirs else None,
            )
        for new in self.renders.theirs:
            pairs.setdefault(new, (None, new))
        for key in sorted(pairs):
            was, now = pairs[key]
            if was is not None and now is not None and was != now and self._occupied(was, now):
                self._plan_file(was, None)  # the new name is taken: no rename, no overwrite
                self._plan_file(None, now)
            else:
                self._plan_file(was, now)

    def _occupied(self, old: str, new: str) -> bool:
        """Return whether a rename's new name holds a file an earlier run did not write."""
        disk = _read(self.root, new, through_link=True)
        if disk is None:
            return False
        backup = self._backup(old)
        yours = backup if backup is not None else _read(self.root, old, through_link=True)
        return disk != self._outcome(old, new, yours).writes.get(new)

    def _backup(self, path: str) -> Content:
        if self.no_backups:
            return None
        return _read(self.root, f"{self.plan.backup_dir}/{path}")

    def _plan_file(self, old: str | None, new: str | None) -> None:
        """Plan one file, from its backup when an interrupted run of this update made one.

        A run killed after writing some files left them as this plan writes them, and their
        backups hold what the user had: the plan is made from the backup. If the disk holds
        anything else, the user changed the file since, and it is merged as it is now.
        """
        at = old if old is not None else new
        if at is None:
            return
        disk = _read(self.root, at, through_link=True)
        backup = self._backup(at)
        if backup is not None:
            outcome = self._outcome(old, new, backup)
            done = (disk is None and at in outcome.deletes) or disk == outcome.writes.get(at)
            if disk == backup or done:
                outcome.add_to(self.plan, at, backup)
                return
        outcome = self._outcome(old, new, disk)
        text = _text(disk) if disk is not None else None
        if outcome.merged and text is not None and has_update_markers(text):
            msg = (
                f"{at} holds conflict markers of an earlier update: resolve them, run update again"
            )
            raise UpdateRefusedError(msg)
        outcome.add_to(self.plan, at, disk)

    def _outcome(self, old: str | None, new: str | None, yours: Content) -> _Outcome:
        """Decide what to do with one file, given the user's version of it."""
        if old is None:
            return self._added(new, yours, self.renders.theirs[new]) if new else _Outcome()
        rec = self.answers.files.get(old)
        if new is None:
            return self._removed(old, yours, rec)
        theirs = self.renders.theirs[new]
        out = _Outcome(record={new: sha256(theirs)})
        if yours is None:
            out.deleted.append(new)
            if old != new or sha256(theirs) != rec:
                out.updates.append(FileUpdate("K", new, reason="you deleted it: it stays deleted"))
            return out
        if old != new:
            out.deletes.append(old)
            out.updates.append(FileUpdate("R", new, old, reason="renamed"))
        if sha256(yours) == rec or yours == theirs:
            if old != new or yours != theirs:
                out.writes[new] = theirs
            if old == new and yours != theirs:
                out.updates.append(FileUpdate("M", new, reason="unedited", change=(yours, theirs)))
            return out
        base = self.renders.base.get(old)
        if base is not None and sha256(base) != rec:
            base = None  # not what was generated: merged with an empty base, never guessed
        self._merge(out, old, new, (base, yours, theirs))
        return out

    def _added(self, new: str, yours: Content, theirs: bytes) -> _Outcome:
        out = _Outcome(record={new: sha256(theirs)})
        if yours is None:
            out.writes[new] = theirs
            out.updates.append(
                FileUpdate("A", new, reason="new in this version", change=(b"", theirs))
            )
        elif yours != theirs:
            why = "add/add: you have a file where this version adds one"
            self._conflict(out, new, (None, yours, theirs), why)
        return out

    def _removed(self, old: str, yours: Content, rec: str | None) -> _Outcome:
        out = _Outcome()
        if yours is None:
            return out
        if sha256(yours) == rec:
            out.deletes.append(old)
            out.updates.append(
                FileUpdate("D", old, reason="no longer generated", change=(yours, b""))
            )
        else:
            why = "this version no longer generates it and you edited it: keep it or delete it"
            out.updates.append(FileUpdate("K", old, reason=why, needs_person=True))
        return out

    def _merge(
        self, out: _Outcome, old: str, new: str, sides: tuple[Content, bytes, bytes]
    ) -> None:
        """Merge an edited file: three-way for text; binary keeps yours if theirs changed."""
        base, yours, theirs = sides
        texts = [_text(c) for c in (base or b"", yours, theirs)]
        if texts[0] is None or texts[1] is None or texts[2] is None:
            if old != new:
                out.writes[new] = yours  # the file moves with the rename either way
            if base is None or theirs != base:
                self._conflict(out, new, sides, "binary file changed on both sides")
            return
        out.merged = True
        result = merge3(texts[0], texts[1], texts[2], self.labels)
        merged = result.text.encode("utf-8")
        if result.conflicts:
            why = "your edits and this version's changes overlap"
            if base is None:
                why = "edited, and what was generated cannot be reproduced: whole file in conflict"
            self._conflict(out, new, sides, why, merged)
        elif merged != yours or old != new:
            out.writes[new] = merged
            if old == new:
                out.updates.append(
                    FileUpdate("M", new, reason="merged with your edits", change=(yours, merged))
                )

    def _conflict(
        self,
        out: _Outcome,
        new: str,
        sides: tuple[Content, bytes, bytes],
        why: str,
        merged: bytes | None = None,
    ) -> None:
        """Record a conflict: text is merged inline; binary keeps yours, theirs goes beside it."""
        base, yours, theirs = sides
        out.conflicts.append(new)
        texts = [_text(c) for c in (base or b"", yours, theirs)]
        if texts[0] is not None and texts[1] is not None and texts[2] is not None:
            if merged is None:
                merged = merge3(texts[0], texts[1], texts[2], self.labels).text.encode("utf-8")
            out.writes[new] = merged
            out.updates.append(
                FileUpdate("C", new, reason=why, needs_person=True, change=(yours, merged))
            )
            return
        side = f"{new}.tac-bootstrap-{__version__}"
        existing = _read(self.root, side)
        if existing is not None and existing != theirs:
            msg = f"{side} exists: move it away (update writes this version's {new} there)"
            raise UpdateRefusedError(msg)
        out.writes[side] = theirs
        why += f": yours is kept, this version's is {side}"
        out.updates.append(FileUpdate("C", new, reason=why, needs_person=True))


@dataclass
class _Outcome:
    """What one file's plan adds to the update."""

    record: dict[str, str] = field(default_factory=dict)
    writes: dict[str, bytes] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    updates: list[FileUpdate] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    merged: bool = False

    def add_to(self, the_plan: UpdatePlan, at: str, original: Content) -> None:
        """Add this outcome to the plan; back up the user's file ``at`` if it changes.

        Raises:
            UpdateRefusedError: Two files of the update would write the same path.
        """
        for rel in [*self.writes, *self.deletes]:
            if rel in the_plan.writes or rel in the_plan.deletes:
                msg = f"two files of the update would both write {rel}"
                raise UpdateRefusedError(msg)
        changes = at in self.deletes or (at in self.writes and self.writes[at] != original)
        if original is not None and changes:
            the_plan.backups[at] = original
        the_plan.writes.update(self.writes)
        the_plan.deletes += self.deletes
        the_plan.updates += self.updates
        the_plan.files.update(self.record)
        the_plan.conflicts += self.conflicts
        the_plan.deleted += self.deleted


def _diff(path: str, before: bytes, after: bytes) -> str:
    """Return a unified diff of a text file's change (empty for binary content)."""
    old, new = _text(before), _text(after)
    if old is None or new is None:
        return ""
    return unified_diff(
        old,
        new,
        f"{path} (now)" if before else "/dev/null",
        f"{path} (updated)" if after else "/dev/null",
    )


def _answers_bytes(spec: ProjectSpec, the_plan: UpdatePlan) -> bytes:
    """Serialize the new answers file: ``init``'s, plus deleted files and conflicts."""
    from tac_bootstrap.scaffold import answers_bytes

    answers: dict[str, Any] = json.loads(answers_bytes(spec, {}))
    answers["files"] = dict(sorted(the_plan.files.items()))
    if the_plan.deleted:
        answers["deleted"] = sorted(the_plan.deleted)
    if the_plan.conflicts:
        answers["conflicts"] = sorted(the_plan.conflicts)
    return (json.dumps(answers, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


# --- applying --------------------------------------------------------------------------------


def apply(the_plan: UpdatePlan) -> None:
    """Write a plan: backups, then atomic replaces, then deletions, then the answers file.

    Raises:
        UpdateStoppedError: The file system refused a write (a full disk); the error says how
            many files were changed, and a run again continues where it stopped.
    """
    root = the_plan.root
    _no_folder_made_a_link_to_nothing_since(the_plan)
    writes = [rel for rel, content in the_plan.writes.items() if _read(root, rel) != content]
    deletes = [
        rel
        for rel in the_plan.deletes
        if rel not in the_plan.writes and _read(root, rel) is not None
    ]
    total = len(writes) + len(deletes) + (1 if the_plan.answers_changed else 0)
    done, backed_up = 0, False
    kept = f"; backups of the files it changes are in {the_plan.backup_dir}/"

    def stopped_at(count: int) -> None:  # what a stop now leaves, said in its line
        on_stop(
            f"the update stopped with {count} of its {total} file(s) changed"
            f"{kept if backed_up else ''}; run the same update again: it continues where it "
            "stopped"
        )

    stopped_at(0)
    try:
        marker = f"{the_plan.backup_dir}{RUNNING_SUFFIX}"
        _remove_markers(root, keep=the_plan.started_from)
        if the_plan.backups:
            _write(root, marker, _marker_bytes(the_plan.started_from))
        for rel, content in the_plan.backups.items():
            backup = f"{the_plan.backup_dir}/{rel}"
            if _read(root, backup) != content:  # the same content when resuming a killed run
                _write(root, backup, content, like=rel)
        backed_up = bool(the_plan.backups)
        for rel in writes:
            with held_stops():  # a file written and counted: one step, for a stop's line
                _write(root, rel, the_plan.writes[rel])
                done += 1
                stopped_at(done)
        for rel in deletes:
            with held_stops():
                _not_led_away_since_the_plan(root, rel)
                try:  # in the folder checked, through no link: not a file a link leads to
                    confine(root, rel)
                    remove(confined(root, os.path.dirname(rel) or ".") / PurePosixPath(rel).name)  # noqa: PTH120
                except OSError as exc:
                    raise WriteError(Path(rel), exc) from None
                _remove_empty_parents(root, rel)
                done += 1
                stopped_at(done)
        with held_stops():  # the answers file says it is done, the marker goes: one step
            if the_plan.answers_changed:
                _write(root, ANSWERS_FILE, the_plan.answers)
            on_stop(_finished(the_plan, total))
            _remove_markers(root)
    except WriteError as exc:  # a full disk: say what is done, and that a run again finishes
        raise UpdateStoppedError(
            exc, done, total, the_plan.backup_dir if backed_up else None
        ) from None
    _clear_stopped_runs(root, the_plan.answers)


def _finished(the_plan: UpdatePlan, total: int) -> str:
    """Return what a stop after the last write says: the files written, and who needs you.

    The file lines and the summary that name conflicts come after this step, so a stop here
    names them itself (at most five; the answers file records every conflict).
    """
    said = f"the update had changed its {total} file(s)"
    people = [u for u in the_plan.updates if u.needs_person]
    if not people:
        return f"{said}: nothing is left to do"
    names = ", ".join(printable(f"{u.path} ({_NEEDS[u.code]})") for u in people[:5])
    more = f" and {len(people) - 5} more" if len(people) > 5 else ""
    todo = "resolve each conflict" if the_plan.conflicts else "look at each"
    return (
        f"{said}; {len(people)} need(s) you: {names}{more}; {todo}, then run "
        "`tac-bootstrap sync-check`"
    )


def _no_folder_made_a_link_to_nothing_since(the_plan: UpdatePlan) -> None:
    """Refuse, before the first write, a folder on the way made a link to nothing since the plan.

    ``src -> nowhere`` made after the plan stopped the update halfway with ``cannot write
    src/my_app/py.typed: File exists`` (``-> src``, a loop: ``cannot read …: Too many levels of
    symbolic links``): the link is named, as the plan names it, before anything is written.
    """
    backups = [f"{the_plan.backup_dir}/{rel}" for rel in the_plan.backups]
    for rel in [*backups, *the_plan.writes, *the_plan.deletes]:
        _no_link_to_nothing_on_the_way(the_plan.root, rel)


def _clear_stopped_runs(root: Path, answers: bytes) -> None:
    """Remove what a run stopped (``kill -9``) left in the project, now as this run leaves it.

    Only what is named exactly as a run names it and whose process is gone: an ``init``'s
    staging folders in the root, and beside each file the answers file records a staged file
    (``.<name>.<pid>.tmp``) or a kept original (``.<name>.<pid>.orig``) where that file is as
    generated (the killed run had replaced it) or the same bytes; beside the answers file too,
    now as this run leaves it. An original beside a file
    edited since stays (sync-check names it).
    """
    from tac_bootstrap.confine import stale_kept
    from tac_bootstrap.scaffold import remove_stale_staging

    with contextlib.suppress(OSError):  # a root that cannot be listed: nothing is cleared
        remove_stale_staging(root)
    files = json.loads(answers).get("files", {}) if answers else {}
    files[ANSWERS_FILE] = sha256(answers)  # as this run wrote it (or found it)
    for kept, rel, _ in stale_kept(root, files):
        with contextlib.suppress(OSError, TacBootstrapError):  # gone meanwhile, or not ours
            now = _read(root, rel)
            stale = confine(root, kept)
            if kept.endswith(".tmp") or (
                now is not None and (sha256(now) == files[rel] or _read(root, kept) == now)
            ):
                stale.unlink()


_MARKER_MAX = 256  # a marker holds a line naming it and a sha256 in hex: 94 bytes
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# The name update gives a marker: its backup folder's, FROM-TO or FROM-TO.N, then ".running".
_MARKER_NAME = re.compile(rf"\d[\w.]*-\d[\w.]*{re.escape(RUNNING_SUFFIX)}")
_MARKER_HEAD = b"tac-bootstrap update: running marker\n"
# What update writes in a marker: the line naming it, then a sha256 in hex and a newline.
_MARKER_CONTENT = re.compile(re.escape(_MARKER_HEAD) + rb"([0-9a-f]{64})\n")
# What update wrote up to 0.4.1: the sha256 alone, as a file of the person's may hold.
_OLD_MARKER_CONTENT = re.compile(rb"([0-9a-f]{64})\n")


def _marker_bytes(started_from: str) -> bytes:
    """Return the content of the marker of an update started from this answers file's sha."""
    return _MARKER_HEAD + started_from.encode() + b"\n"


def _started_from(root: Path, folder: str, content: bytes | None) -> str | None:
    """Return the answers file's sha the marker of backup ``folder`` names, or None if no marker.

    A file in the form 0.4.1 wrote (the sha256 alone) counts only beside its backup folder,
    as an interrupted 0.4.1 run leaves it: elsewhere it is a file of the person's.
    """
    match = None if content is None else _MARKER_CONTENT.fullmatch(content)
    if match is None and content is not None:
        match = _OLD_MARKER_CONTENT.fullmatch(content)
        if match is not None and not _holds_backups(root, folder):
            match = None
    return None if match is None else match[1].decode()


_MAX_BACKUPS = 10_000  # files a backup folder is searched for before it is taken for none


def _holds_backups(root: Path, folder: str) -> bool:
    """Return whether ``folder`` holds what an interrupted update left there: backups.

    Update backs up a file of the project before it replaces or deletes it, and writes its
    marker only when it has one to make: the folder holds regular files (in folders) and
    nothing else, each at the path of a file the project has (or, deleted by that run, its
    answers file records). A folder of the person's of the same name holds other files.
    """
    try:
        base = confine(root, folder)
        files = _backup_paths(base) if stat.S_ISDIR(base.lstat().st_mode) else None
    except (OSError, ValueError, TacBootstrapError):
        return False
    if not files:
        return False
    recorded = _recorded(root)
    return all(rel in recorded or os.path.lexists(root / rel) for rel in files)


def _backup_paths(base: Path) -> list[str] | None:
    """Return the regular files below ``base``, relative to it; None if anything else is there.

    Raises:
        OSError: The folder cannot be listed.
    """
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base, onerror=_raise):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            kind = path.lstat().st_mode
            if stat.S_ISDIR(kind):
                continue
            if not stat.S_ISREG(kind) or len(found) == _MAX_BACKUPS:
                return None
            found.append(path.relative_to(base).as_posix())
    return found


def _raise(error: OSError) -> None:
    raise error


def _recorded(root: Path) -> set[str]:
    """Return the paths the answers file records (files, deleted ones, conflicts), or none."""
    from tac_bootstrap.scaffold import load_answers

    try:
        answers = load_answers(root)
    except TacBootstrapError:
        return set()
    return {*answers.files, *answers.deleted, *answers.conflicts}


def _remove_markers(root: Path, keep: str | None = None) -> None:
    """Remove the running markers, but those naming the answers file ``keep`` hashes to.

    A marker that names another answers file is left by a run killed after it wrote the
    answers file: that run is done, its backups stay, and its folder is not to be resumed.
    Update writes its markers as regular files named after their backup folder, holding a
    line naming them and a sha256 (0.4.1: the sha256 alone, beside its backup folder):
    anything else (a folder, a link, a pipe, another name or content, such as a file of the
    person's where the backup folder is a link to a folder of theirs, ``2024-11.running``) is
    left alone.
    """
    folder = confine(root, BACKUP_DIR)
    if not folder.is_dir() or state_in_git(root) is not None:  # a link made since the plan
        return
    for marker in sorted(folder.glob(f"*{RUNNING_SUFFIX}")):
        rel = f"{BACKUP_DIR}/{marker.name}"
        try:
            if not _MARKER_NAME.fullmatch(marker.name) or not stat.S_ISREG(marker.lstat().st_mode):
                continue
            path = confine(root, rel)
            head = _marker_head(path)
            started_from = _started_from(root, rel.removesuffix(RUNNING_SUFFIX), head)
            if started_from is None or started_from == keep:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise WriteError(Path(rel), exc) from None


def stopped_update(root: Path) -> str | None:
    """Return the marker of an update started from this answers file and stopped, or None.

    Update writes its marker before its first change and removes it once the answers file is
    written: a marker naming the answers file there now says the run was stopped (``kill
    -9``) with the project part the old version, part the new. Read only: anything odd (a
    link, a pipe, a folder that cannot be read) is no marker.
    """
    try:
        answers = _read(root, ANSWERS_FILE)
        folder = confine(root, BACKUP_DIR)
        if answers is None or not folder.is_dir() or state_in_git(root) is not None:
            return None  # git's folder is not listed (update refuses it)
        now = sha256(answers)
        for marker in sorted(folder.glob(f"*{RUNNING_SUFFIX}")):
            rel = f"{BACKUP_DIR}/{marker.name}"
            if not _MARKER_NAME.fullmatch(marker.name) or not stat.S_ISREG(marker.lstat().st_mode):
                continue
            head = _marker_head(confine(root, rel))
            if _started_from(root, rel.removesuffix(RUNNING_SUFFIX), head) == now:
                return rel
    except (OSError, ValueError, TacBootstrapError):
        return None
    return None


def _marker_head(path: Path) -> bytes | None:
    """Return the start of a marker file, or None where no marker of this user's is.

    Opened without blocking or following a link: a pipe or a link may have taken the place
    of the regular file seen a moment before (update waited forever on a pipe).
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _NOFOLLOW)
    except PermissionError:  # update can read what it wrote: this is someone else's
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return file.read(_MARKER_MAX + 1)


def _write(root: Path, rel: str, content: bytes, *, like: str | None = None) -> None:
    """Replace ``root/rel`` in one rename, keeping its mode and owner; create its folders.

    A new file or folder gets the owner of the folder it is made in, where the user may give
    it (root, in another user's project: files owned by root there are files that user can
    no longer replace). A backup (``like``: the file it keeps) gets that file's mode, owner and
    extended attributes (an ACL), without setuid or setgid: a file of mode 600 was backed up
    readable by every user (644, from the umask).
    """
    _not_led_away_since_the_plan(root, rel)  # first: a link made since is a stop, said so
    path = confine(root, rel)
    tmp = path.with_name(_tmp_name(path.name))
    state = rel.startswith(f"{STATE_DIR}/")  # update's own: its owner can use it, any umask
    try:
        make_folders(path.parent, usable=state, within=root)
        confine(root, rel)  # the folders just made are real folders inside the root
        real_tmp = confined(root, os.path.dirname(rel) or ".") / tmp.name  # noqa: PTH120
        _remove_stale_tmp(path)
        with open(tmp, "xb") as file:  # noqa: PTH123 - exclusive: never follow a planted link
            # Made where it was checked to be: no folder on the way became a link since.
            opened_at(file.fileno(), str(real_tmp))
            file.write(content)
            real = real_tmp.with_name(path.name)  # what it has is read there, through no link
            _inherit(file.fileno(), root, real, like=like, state=state)  # the file opened
        move(real_tmp, real_tmp.with_name(path.name))  # in the folder checked: through no link
    except OSError as exc:
        with contextlib.suppress(OSError):  # a name too long fails again here
            tmp.unlink(missing_ok=True)
        raise WriteError(Path(rel), exc) from None
    except BaseException:  # Ctrl-C while writing: no temporary file left behind
        tmp.unlink(missing_ok=True)
        raise


def _inherit(fd: int, root: Path, path: Path, *, like: str | None, state: bool) -> None:
    """Give the file open at ``fd``, about to become ``path`` (a real path), its mode and owner.

    A backup (``like``: the file it keeps) gets that file's mode, without setuid or setgid,
    readable and writable by its owner; update's own files, usable by their owner.
    """
    if like is not None:
        original = confined(root, like)  # its real path: read in its folder, through no link
        inherit(fd, original if original.is_file() else path)
        kept = stat.S_IMODE(os.fstat(fd).st_mode) & 0o777  # no setuid copy of a program
        os.chmod(fd, kept | stat.S_IRUSR | stat.S_IWUSR)  # its owner can restore it
    elif not inherit(fd, path) and state:
        os.chmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) | stat.S_IRUSR | stat.S_IWUSR)


def _not_led_away_since_the_plan(root: Path, rel: str) -> None:
    """Refuse, at its write, a path a link changed since the plan leads into a reserved place.

    The plan refuses ``src -> .git/src``; made so between the plan and the writes, update
    wrote ``.git/src/my_app/py.typed`` (with ``.tac-bootstrap -> .git``, its backups into
    ``.git/backup/``), exit 0. Checked again before each write and removal: the update stops
    there, as on a failed write, and a run again refuses the link in its plan.

    A folder on the way made a link to nothing (or one that loops) stopped the update with
    ``cannot write src/my_app/py.typed: File exists``: the link is named, as the plan names it.

    Raises:
        WriteError: The path now leads into a git folder, update's own folder (a project
            file) or the answers file (another file), out of the project, or a folder on its
            way is now a link that leads nowhere.
    """
    _no_folder_made_a_link_to_nothing(root, rel)
    try:  # a link out of the project made since: said as the stop it is, not a refusal
        confine(root, rel)
    except UpdateRefusedError as exc:
        reason = f"{exc}: a link changed since the plan leads there"
        raise WriteError(Path(rel), OSError(errno.EPERM, reason)) from None
    if rel == ANSWERS_FILE:
        return
    if rel.startswith(f"{STATE_DIR}/"):
        real_root = os.path.realpath(root)
        resolved = os.path.realpath(os.path.join(real_root, rel))  # noqa: PTH118 - strings
        if not in_git(real_root, rel, resolved):
            return
        why, where = _GIT_FOLDER, os.path.relpath(resolved, real_root).replace(os.sep, "/")
    else:
        found = reserved_at(root, rel)
        if found is None:
            return
        why, where = found
    reason = f"it is {why} through a link changed since the plan ({where}): refusing"
    raise WriteError(Path(rel), OSError(errno.EPERM, reason))


def _no_folder_made_a_link_to_nothing(root: Path, rel: str) -> None:
    """Stop at a folder on the way to ``rel`` that became a link to nothing or a loop."""
    found = _link_to_nothing_on_the_way(root, rel)
    if found is not None:
        what = _what_link(root / found)
        reason = f"{found} became {what} since the plan, where it needs a folder; move it away"
        raise WriteError(Path(rel), OSError(errno.ENOTDIR, reason))


def _tmp_name(name: str) -> str:
    """Return the name of the temporary file :func:`_write` writes before renaming it."""
    return f".{name}.{os.getpid()}.tmp"


def _remove_stale_tmp(path: Path) -> None:
    """Remove the temporary file a killed update left beside ``path`` (its pid gone).

    Only files named exactly as :func:`_write` names them, never followed if a link.
    """
    from tac_bootstrap.confine import process_alive

    stale = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.tmp")
    try:
        with os.scandir(path.parent) as entries:
            found = [(e, stale.fullmatch(e.name)) for e in entries]
    except OSError:  # a folder that cannot be listed (no r permission) can still be written
        return
    for entry, match in found:
        if match and entry.is_file(follow_symlinks=False) and not process_alive(int(match[1])):
            Path(entry.path).unlink(missing_ok=True)


def _remove_empty_parents(root: Path, rel: str) -> None:
    """Remove the folders a deletion left empty, up to the project root."""
    for parent in PurePosixPath(rel).parents:
        if str(parent) == ".":
            return
        folder = root / parent
        try:
            if folder.is_symlink() or any(folder.iterdir()):
                return
            folder.rmdir()
        except OSError:  # cannot be listed or removed: it stays, as a folder not empty would
            return


def update(
    root: Path,
    data: Mapping[str, str] | None = None,
    *,
    dry_run: bool = False,
    sources: Sources | None = None,
) -> UpdatePlan:
    """Plan the update of ``root`` and, unless ``dry_run``, apply it.

    Raises:
        TacBootstrapError: The update was refused (nothing written) or a write failed.
    """
    the_plan = plan(root, data, dry_run=dry_run, sources=sources)
    if not dry_run:
        apply(the_plan)
    return the_plan
