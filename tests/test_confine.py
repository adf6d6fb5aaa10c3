"""Reading an untrusted file whole: bounded, and costing what the file holds."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tac_bootstrap import confine
from tac_bootstrap.confine import read_file
from tac_bootstrap.errors import WriteError


def test_a_small_file_is_read_without_allocating_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_bytes(b"{}\n")
    tracemalloc.start()
    try:
        assert read_file(path) == b"{}\n"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # it allocated 64 MiB: a MemoryError under `ulimit -v 100000`


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="no /proc here")
def test_a_file_whose_size_says_zero_is_read_whole() -> None:
    assert Path("/proc/self/status").stat().st_size == 0
    assert b"Pid:" in read_file("/proc/self/status")


def test_a_file_that_grows_past_the_bound_is_read_one_byte_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "growing"
    path.write_bytes(b"x" * 10)
    monkeypatch.setattr(confine, "MAX_FILE_BYTES", 100)
    real_fstat = os.fstat

    def stale_size(fd: int) -> object:  # the size seen before it grew
        info = real_fstat(fd)
        path.write_bytes(b"x" * 100_000)
        return info

    monkeypatch.setattr(os, "fstat", stale_size)
    assert len(read_file(path)) == 101


@pytest.mark.parametrize("swapped", ["file", "folder"])
def test_a_resolved_path_turned_into_a_link_is_not_read(tmp_path: Path, swapped: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("TOP SECRET\n")
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d/f.txt").write_text("mine\n")
    path = confine.confine(root, "d/f.txt")  # resolved: then a link takes its place
    if swapped == "file":
        path.unlink()
        path.symlink_to(outside / "f.txt")
    else:
        (root / "d").rename(root / "old")
        (root / "d").symlink_to(outside)
    assert read_file(path) == b"TOP SECRET\n"  # a path as given is followed
    with pytest.raises(OSError, match="changed while in use") as caught:
        read_file(path, resolved=True)
    assert caught.value.filename == str(path)


def test_a_resolved_path_is_read(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("mine\n")
    assert read_file(confine.confine(tmp_path, "f.txt"), resolved=True) == b"mine\n"


def test_a_file_is_not_written_in_a_folder_turned_into_a_link(
    monkeypatch: pytest.MonkeyPatch,
    folder_turned_link: tuple[Path, Path, Callable[[], None]],
) -> None:
    from tac_bootstrap.errors import WriteError

    root, outside, swap = folder_turned_link
    writable = confine.writable

    def checked_then_swapped(root: Path, rel: str, *, shown: str | None = None) -> Path:
        path = writable(root, rel, shown=shown)  # inside the root when checked
        swap()  # then the folder becomes a link out
        return path

    monkeypatch.setattr(confine, "writable", checked_then_swapped)
    with pytest.raises(WriteError, match="changed while in use"):
        confine.write_atomic(root, "d/f.txt", b"new\n")
    assert list(outside.iterdir()) == []
    assert (root / "old/f.txt").read_text() == "mine\n"


def test_a_git_link_to_a_file_outside_the_root_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sync-check reads untrusted input: a .git link leading out of the root is not followed to
    # read what it names, as a .git file inside it (a worktree's "gitdir: ...") is.
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.write_text("gitdir: docs\n")
    (root / ".git").symlink_to(outside)
    read: list[str] = []
    real_read_file = confine.read_file

    def watched(path: Path | str) -> bytes:
        read.append(os.path.realpath(path))
        return real_read_file(path)

    monkeypatch.setattr(confine, "read_file", watched)
    places = dict(confine.reserved_places(root))
    assert str(outside) not in read
    assert places[".git"] == str(outside)
    (root / ".git").unlink()
    (root / ".git").write_text("gitdir: docs\n")  # inside the root: read, as before
    assert dict(confine.reserved_places(root))[".git"] == os.path.realpath(root / "docs")


def _readlink_failing(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """Make os.readlink fail as when the link is replaced by a file after lstat saw it."""
    real = os.readlink
    failed = [0]

    def readlink(path: str) -> str:
        if failed[0] < times:
            failed[0] += 1
            raise OSError(errno.EINVAL, "Invalid argument", path)
        return real(path)

    monkeypatch.setattr(os, "readlink", readlink)


def test_a_link_replaced_while_it_is_resolved_is_resolved_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(os.path.realpath(tmp_path))
    (root / "real.txt").write_text("x\n")
    (root / "link.txt").symlink_to("real.txt")
    _readlink_failing(monkeypatch, 1)
    assert confine.confine(root, "link.txt") == root / "real.txt"


def test_a_link_that_keeps_changing_while_it_is_resolved_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(os.path.realpath(tmp_path))
    (root / "link.txt").symlink_to("real.txt")
    _readlink_failing(monkeypatch, 1_000)
    with pytest.raises(confine.UnreadableError, match=r"^cannot read link\.txt: Invalid argument$"):
        confine.confine(root, "link.txt")


@pytest.mark.parametrize("target", ["real.txt/", "real.txt/..", "link2.txt"])
def test_a_link_naming_a_file_as_a_folder_says_so(tmp_path: Path, target: str) -> None:
    # `link.txt -> real.txt/` was "cannot read link.txt: Not a directory": which folder?
    root = Path(os.path.realpath(tmp_path))
    (root / "real.txt").write_text("x\n")
    (root / "link2.txt").symlink_to("real.txt/")
    (root / "link.txt").symlink_to(target)
    with pytest.raises(confine.UnreadableError) as raised:
        confine.confine(root, "link.txt")
    assert str(raised.value) == (
        "cannot read link.txt: Not a directory "
        "(a symlink on its way names a file as a folder: a '/' after it)"
    )
    assert raised.value.error.errno == errno.ENOTDIR


# --- what a killed run of replace_all leaves, and the next run clears -----------------------

DEAD = 2**22 + 12345  # above Linux's pid_max default: no process has it


def test_leftovers_of_a_killed_run_are_cleared_or_put_back(tmp_path: Path) -> None:
    same = tmp_path / "same.txt"
    same.write_text("kept\n")
    os.link(same, tmp_path / f".same.txt.{DEAD}.orig")  # killed before its move: the same file
    copy = tmp_path / "copy.txt"
    copy.write_text("copied\n")
    (tmp_path / f".copy.txt.{DEAD}.orig").write_text("copied\n")  # a copy: the same bytes
    gone = tmp_path / "gone.txt"
    (tmp_path / f".gone.txt.{DEAD}.orig").write_text("the only copy\n")  # its file deleted
    moved = tmp_path / "moved.txt"
    moved.write_text("new\n")
    (tmp_path / f".moved.txt.{DEAD}.orig").write_text("old\n")  # killed after its move
    (tmp_path / f".moved.txt.{DEAD}.tmp").write_text("staged\n")
    assert confine.clear_leftovers(same) == []
    assert confine.clear_leftovers(copy) == []
    assert confine.clear_leftovers(gone) == []
    assert confine.clear_leftovers(moved) == [tmp_path / f".moved.txt.{DEAD}.orig"]
    assert gone.read_text() == "the only copy\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".moved.txt.{DEAD}.orig",
        "copy.txt",
        "gone.txt",
        "moved.txt",
        "same.txt",
    ]


def test_look_alikes_and_leftovers_of_a_live_run_stay(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("now\n")
    names = [
        f".f.txt.{os.getpid()}.orig",  # a run in progress (this one)
        f".f.txt.{os.getpid()}.tmp",
        ".f.txt.orig",
        ".f.txt.12x.orig",
        f"f.txt.{DEAD}.orig",
        f".f.txt.{DEAD}.orig.bak",
        f".g.txt.{DEAD}.orig",  # another file's
        f".f.txt.{DEAD}.Orig",
    ]
    for name in names:
        (tmp_path / name).write_text("mine\n")
    (tmp_path / f".f.txt.{DEAD}.tmp").symlink_to(path)  # a link: never followed, never ours
    (tmp_path / f".f.txt.{DEAD}.orig").mkdir()  # a folder
    before = sorted(p.name for p in tmp_path.iterdir())
    assert confine.clear_leftovers(path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert path.read_text() == "now\n"


def test_replace_all_removes_a_killed_runs_original_once_it_replaced_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.txt"
    path.write_text("the killed run's\n")
    stale = tmp_path / f".f.txt.{DEAD}.orig"
    stale.write_text("before both\n")
    staged = tmp_path / "staged"
    staged.write_text("this run's\n")
    confine.replace_all([(staged, path, "f.txt")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    assert path.read_text() == "this run's\n"


def test_replace_all_refused_keeps_a_killed_runs_original(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("the killed run's\n")
    stale = tmp_path / f".f.txt.{DEAD}.orig"
    stale.write_text("before both\n")
    with pytest.raises(WriteError):  # the staged file is missing: the move fails
        confine.replace_all([(tmp_path / "missing", path, "f.txt")])
    assert stale.read_text() == "before both\n"
    assert path.read_text() == "the killed run's\n"


# Run as a child of the installed interpreter: an audit hook cannot be removed from a process.
# At the rename (or link) that puts the file `name` in place, the staged file beside it is
# linked into `outside` (as one who may write there could), the real folder moved aside and a
# link to `outside` put in its place: the moment between the last check and the rename.
SWAP_AT_THE_RENAME = """
import os, sys
from pathlib import Path

folder, outside, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
fired = []


def hook(event, args):
    if fired or event not in ("os.rename", "os.link"):
        return
    if os.path.basename(os.fsdecode(args[1])) != name:
        return
    fired.append(event)
    for entry in os.listdir(folder):
        if entry.startswith(f".{name}.") and entry.endswith(".tmp"):
            os.link(folder / entry, outside / entry)
    folder.rename(folder.with_name(folder.name + "-moved"))
    folder.symlink_to(outside, target_is_directory=True)


sys.addaudithook(hook)
from tac_bootstrap.__main__ import main

sys.argv = ["tac-bootstrap", *sys.argv[4:]]
main()
"""
FIXTURES = Path(__file__).parent / "fixtures"
EXE = Path(sys.executable).with_name("tac-bootstrap")


def _sync_project(top: Path) -> tuple[Path, str, list[str]]:
    repo = top / "repo"
    shutil.copytree(FIXTURES / "syncrepo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "pkg/orch/plain.txt").write_text("edited\n")
    return repo / "pkg/orch", "plain.txt", ["sync", "--root", str(repo)]


def _migration_project(top: Path) -> tuple[Path, str, list[str]]:
    repo = top / "repo"
    shutil.copytree(FIXTURES / "migrepo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    schema = repo / "pkg/schema.sql"
    schema.write_text(
        schema.read_text().replace("    note TEXT\n", "    note TEXT,\n    due TEXT\n")
    )
    args = ["migration", "new", "add_due", "--root", str(repo)]
    return repo / "pkg/migrations", "0003_add_due.sql", args


def _forced_init(top: Path) -> tuple[Path, str, list[str]]:
    app = top / "app"
    made = subprocess.run([EXE, "init", "my-app", "-o", app], capture_output=True, check=False)
    assert made.returncode == 0, made.stderr
    (app / "src/my_app/__init__.py").write_text("edited\n")
    return app / "src/my_app", "__init__.py", ["init", "my-app", "-o", str(app), "--force"]


def _update_project(top: Path) -> tuple[Path, str, list[str]]:
    from tac_bootstrap import releases, scaffold

    golden = Path(__file__).parent / "golden/releases/0.1.0/plain.json"
    answers = json.loads(golden.read_text())
    project = top / "project"
    for path, file in releases.render("0.1.0", answers).items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_bytes(file.content)
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers, indent=2))
    return project / "src/my_app", "py.typed", ["update", "--root", str(project)]


WRITES = {
    "sync": _sync_project,
    "migration-new": _migration_project,
    "init-force": _forced_init,
    "update": _update_project,
}


# The swap tests: where there is no dir_fd, the writes work by name, as before.
AT_ONLY = pytest.mark.skipif(
    not hasattr(os, "O_NOFOLLOW") or os.rename not in os.supports_dir_fd,
    reason="no dir_fd here: paths are used by name",
)
EACH_WRITE = pytest.mark.parametrize("make", WRITES.values(), ids=WRITES)


@AT_ONLY
@EACH_WRITE
def test_a_folder_swapped_for_a_link_at_the_rename_is_not_written_through(
    tmp_path: Path, make: Callable[[Path], tuple[Path, str, list[str]]]
) -> None:
    # The checks before each write left the moment between the last check and the rename,
    # which looked both names up again: a folder swapped for a link to `outside` there made
    # sync, init --force and update replace outside/<name> (exit 0). The rename is now made in
    # the folders opened, one name at a time through no link, when checked.
    folder, name, args = make(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / name).write_text("not the project's\n")
    proc = run_hooked(SWAP_AT_THE_RENAME, tmp_path, folder, outside, name, args)
    assert proc.returncode == 0, proc.stderr
    assert folder.is_symlink()  # the swap was made
    assert (outside / name).read_text() == "not the project's\n"
    # Nor is a file there removed: the staged file linked there (sync removed it by name).
    linked = sorted(outside.glob(f".{name}.*.tmp"))
    assert len(linked) == (0 if args[0] == "init" else 1), linked
    written = folder.with_name(folder.name + "-moved") / name  # the folder it was checked in
    assert written.read_text() not in ("edited\n", "not the project's\n")


def run_hooked(
    script: str, tmp_path: Path, folder: Path, outside: Path, name: str, args: list[str]
) -> subprocess.CompletedProcess[str]:
    """Run the command ``args`` in a child that runs ``script`` (a swap) first, in tmp_path."""
    hook = tmp_path / "hook.py"
    hook.write_text(script)
    return subprocess.run(
        [sys.executable, hook, folder, outside, name, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )


# Run as a child, as above: the first time a command reads the mode of the file `name` that it
# replaces, that file is moved aside and a link to `outside/secret` put in its place, the
# moment between the checks and that read.
SWAP_AT_THE_MODE = """
import os, sys
from pathlib import Path

from tac_bootstrap import confine, scaffold, update

folder, outside, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
real = confine.inherit


def swapping(new, path):
    if path.name == name and not (folder / name).is_symlink():
        if (folder / name).exists():
            (folder / name).rename(folder / (name + ".aside"))
        (folder / name).symlink_to(outside / "secret")
    return real(new, path)


confine.inherit = scaffold.inherit = update.inherit = swapping
from tac_bootstrap.__main__ import main

sys.argv = ["tac-bootstrap", *sys.argv[4:]]
main()
"""


@AT_ONLY
@EACH_WRITE
def test_a_file_swapped_for_a_link_before_its_mode_is_read_lends_no_mode_or_owner(
    tmp_path: Path, make: Callable[[Path], tuple[Path, str, list[str]]]
) -> None:
    # The mode (and owner, and extended attributes) of the file replaced was read by name: a
    # link put in its place at that moment gave the new file the mode and owner of the file
    # it led to (outside/secret, 640, another user's, as root), exit 0. It is now read from
    # the file opened in the folder as checked, through no link: the link is refused there.
    folder, name, args = make(tmp_path)
    existed = (folder / name).exists()  # else a new file: the link is put where none was
    if existed:
        (folder / name).chmod(0o600)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_text("not the project's\n")
    secret.chmod(0o640)
    other = 65534 if os.geteuid() == 0 else os.geteuid()
    if other != os.geteuid():
        os.chown(secret, other, other)
    proc = run_hooked(SWAP_AT_THE_MODE, tmp_path, folder, outside, name, args)
    assert (folder / (name + ".aside")).exists() == existed  # the swap was made
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert (folder / name).is_symlink(), oct((folder / name).stat().st_mode)  # not replaced
    assert secret.read_text() == "not the project's\n"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o640
    left = [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".orig"))]
    assert left == []


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ("x = 1\ny = 2\n".encode("utf-16-le"), "UTF-16"),
        ("x = 1\ny = 2\n".encode("utf-16-be"), "UTF-16"),
        ("x = 1\n".encode("utf-32-le"), "UTF-32"),
        ("x = 1\n".encode("utf-32-be"), "UTF-32"),
        ("\n\n".encode("utf-16-le"), None),  # an empty first line: one unit, too little to tell
        # UTF-8 with a NUL where UTF-16 would not put one: not named
        (b"SELECT 1;\x00\nSELECT 2;\n", None),
        (b"x\x00\x00\x00y", None),  # a NUL after a character, then another: not one width
        (b"\x00\x00\x00\x00", None),  # NULs only: no character
        ("x\n".encode("utf-16-le")[:3], None),  # an odd length is not UTF-16
        ("\ud800".encode("utf-16-le", "surrogatepass") + b"\n\x00", None),  # not decodable
        (b"\n\x00", None),  # one unit: too little to tell
        (b"plain text\n", None),
        # The bytes of UTF-8 text that are exactly those of UTF-16 (a NUL after each ASCII
        # character of the first line): named, as nothing tells them apart.
        (b"a\x00b\x00\n\x00", "UTF-16"),
    ],
)
def test_unmarked_encoding_is_said_only_where_the_bytes_show_it(
    data: bytes, named: str | None
) -> None:
    assert confine.unmarked_encoding(data) == named
    if named is None and b"\xff" not in data:
        try:
            text = confine.decode(data, "f")
        except confine.NotUtf8Error:
            return
        assert text == data.decode()
    elif named is not None:
        with pytest.raises(confine.UnmarkedEncodingError, match=f"f looks like {named} without"):
            confine.decode(data, "f")


def test_a_kept_copy_swapped_for_a_link_changes_no_mode_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where no hard link can be made, the original is kept as a copy beside it, and given its
    # mode by name: the copy swapped for a link to a file elsewhere while the original was
    # read turned that file's mode into the original's (outside/secret 640 -> 600). The mode
    # is now given to the copy opened, which no link can redirect.
    path = tmp_path / "repo" / "f.txt"
    path.parent.mkdir()
    path.write_text("the original\n")
    path.chmod(0o600)
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    secret.write_text("not the project's\n")
    secret.chmod(0o640)

    def no_link(_source: Path, target: Path) -> None:
        raise OSError(errno.EPERM, "no hard links here", str(target))

    real_read = confine.read_file

    def swapping_read(source: Path | str, **kwargs: bool) -> bytes:
        for keep in path.parent.glob(".f.txt.*.orig"):
            if not keep.is_symlink():
                keep.rename(keep.with_name("kept-aside"))
                keep.symlink_to(secret)
        return real_read(source, **kwargs)

    monkeypatch.setattr(confine, "link", no_link)
    monkeypatch.setattr(confine, "read_file", swapping_read)
    staged = path.with_name("staged")
    staged.write_text("new\n")
    confine.replace_all([(staged, path, "f.txt")])
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o640
    assert secret.read_text() == "not the project's\n"


def _sync_new_folder(top: Path) -> tuple[Path, str, list[str]]:
    repo = top / "repo"
    shutil.copytree(FIXTURES / "syncrepo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(repo / "pkg/orch")  # every BASE missing: sync makes their folder
    return repo / "pkg", "orch", ["sync", "--root", str(repo)]


def _forced_init_new_folder(top: Path) -> tuple[Path, str, list[str]]:
    folder, _, args = _forced_init(top)
    shutil.rmtree(folder)
    return folder.parent, folder.name, args


def _update_new_folder(top: Path) -> tuple[Path, str, list[str]]:
    _, _, args = _update_project(top)
    project = Path(args[-1])
    (project / "README.md").write_text("edited\n")  # merged: backed up in a new folder
    (project / ".tac-bootstrap").mkdir()
    return project / ".tac-bootstrap", "backup", args


# Run as a child, as above: when a command makes the folder `name` in `folder`, `folder` is
# moved aside and a link to `outside` (another user's, as root) put in its place, the moment
# between the checks and the read of the owner the new folder takes.
SWAP_AT_THE_FOLDER = """
import sys
from pathlib import Path

from tac_bootstrap import confine, scaffold, update

folder, outside, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
real = confine.make_folders


def swapping(made, **kwargs):
    if (folder / name) in (made, *made.parents) and not folder.is_symlink():
        folder.rename(folder.with_name(folder.name + "-moved"))
        folder.symlink_to(outside, target_is_directory=True)
    try:
        return real(made, **kwargs)
    finally:  # what was made there, even if removed later
        there = sorted(outside.iterdir())
        if there:
            outside.with_name("made-outside.txt").write_text(str(there))


confine.make_folders = scaffold.make_folders = update.make_folders = swapping
from tac_bootstrap.__main__ import main

sys.argv = ["tac-bootstrap", *sys.argv[4:]]
main()
"""


@AT_ONLY
@pytest.mark.parametrize(
    "make",
    [_sync_new_folder, _forced_init_new_folder, _update_new_folder],
    ids=["sync", "init-force", "update"],
)
def test_a_folder_swapped_for_a_link_before_a_folder_is_made_in_it_lends_no_place_or_owner(
    tmp_path: Path, make: Callable[[Path], tuple[Path, str, list[str]]]
) -> None:
    # The owner a new folder takes was read from its parent by name, and the folder made by
    # name: the parent swapped for a link to another user's folder at that moment made
    # outside/<name>, owned by that user, exit 2 later (the file refused) but the folder left
    # there. The parent is now opened through no link, the owner read from it, the folder made
    # and opened in it: the link is refused, nothing is made through it.
    folder, name, args = make(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    other = 65534 if os.geteuid() == 0 else os.geteuid()
    os.chown(outside, other, other)
    proc = run_hooked(SWAP_AT_THE_FOLDER, tmp_path, folder, outside, name, args)
    assert folder.is_symlink()  # the swap was made
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "made-outside.txt").exists()
    assert outside.stat().st_uid == other


def run_unprivileged(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed script in ``cwd`` as a user without root's power over permissions.

    As root, ``cwd`` is handed to ``nobody`` and the script runs as that user; a skip where that
    user cannot run the interpreter (a virtualenv under root's home): `.ci/unprivileged` runs
    this module as such a user.
    """
    env = {**os.environ, "HOME": str(cwd / "home"), "TAC_BOOTSTRAP_CACHE_DIR": str(cwd / "home")}
    if os.geteuid() != 0:
        return subprocess.run(
            [EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
        )
    nobody = 65534
    try:
        probe = subprocess.run([EXE, "--version"], capture_output=True, user=nobody, check=False)
    except PermissionError:
        probe = None
    if probe is None or probe.returncode != 0:
        pytest.skip("the interpreter cannot be run by an unprivileged user here")
    for parent in cwd.parents:
        if parent.stat().st_mode & 0o001 == 0:
            pytest.skip(f"{parent} cannot be entered by an unprivileged user")
    for path in [cwd, *cwd.rglob("*")]:
        os.lchown(path, nobody, nobody)
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        user=nobody,
        group=nobody,
        check=False,
    )


def _tree(top: Path) -> dict[str, tuple[int, bytes]]:
    """Return each file and folder under ``top`` (but the home) with its mode and bytes."""
    return {
        str(p.relative_to(top)): (p.lstat().st_mode, p.read_bytes() if p.is_file() else b"")
        for p in top.rglob("*")
        if "home" not in p.relative_to(top).parts
    }


@pytest.mark.needs_unprivileged
@pytest.mark.parametrize("make", WRITES.values(), ids=WRITES)
def test_a_read_only_folder_is_one_error_and_changes_nothing(
    tmp_path: Path, make: Callable[[Path], tuple[Path, str, list[str]]]
) -> None:
    folder, _, args = make(tmp_path)
    before = _tree(tmp_path)
    folder.chmod(0o555)
    try:
        proc = run_unprivileged(args, tmp_path)
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: cannot write "), proc.stderr
    assert "Permission denied" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert _tree(tmp_path) == before  # nothing changed, nothing left behind


def _update_existing(top: Path) -> tuple[Path, str, list[str]]:
    folder, _, args = _update_project(top)
    return folder.parent.parent / "tests", "test_my_app.py", args  # one update rewrites


@pytest.mark.needs_unprivileged
@pytest.mark.parametrize(
    "make", [_sync_project, _forced_init, _update_existing], ids=["sync", "init-force", "update"]
)
def test_a_read_only_file_in_a_writable_folder_is_replaced_keeping_its_mode(
    tmp_path: Path, make: Callable[[Path], tuple[Path, str, list[str]]]
) -> None:
    # As git and an editor's atomic save do: the folder's permission decides a rename, and the
    # file written takes the mode of the one it replaces (read-only stays read-only).
    folder, name, args = make(tmp_path)
    before = (folder / name).read_bytes()
    (folder / name).chmod(0o444)
    proc = run_unprivileged(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (folder / name).read_bytes() != before
    assert stat.S_IMODE((folder / name).stat().st_mode) == 0o444
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


@AT_ONLY
@pytest.mark.parametrize("made", ["a", "a/b/c"])
def test_folders_made_under_a_path_as_given_take_the_owner_of_the_folder_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: str
) -> None:
    # A new project's own folders (`init x -o work/new/app`: neither resolved nor confined):
    # the folder that exists is resolved once, then opened through no link; a link put in its
    # place after it was resolved lends the new folders neither its place nor its owner.
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    other = 65534 if os.geteuid() == 0 else os.geteuid()
    os.chown(outside, other, other)
    confine.make_folders(work / "own" / made)
    assert (work / "own" / made).is_dir()
    assert {p.stat().st_uid for p in (work / "own").rglob("*")} <= {work.stat().st_uid}
    real_realpath = os.path.realpath

    def swapped_once_resolved(path: Any, **kwargs: Any) -> Any:
        resolved = real_realpath(path, **kwargs)
        if Path(path) == work and not work.is_symlink():
            work.rename(tmp_path / "work-moved")
            work.symlink_to(outside, target_is_directory=True)
        return resolved

    monkeypatch.setattr(os.path, "realpath", swapped_once_resolved)
    with pytest.raises(OSError, match="changed while in use") as raised:
        confine.make_folders(work / "new" / made)
    assert raised.value.errno == errno.ELOOP
    assert work.is_symlink()  # the swap was made
    assert list(outside.iterdir()) == []
    assert outside.stat().st_uid == other


class _Stop(BaseException):
    """A stop raised by its handler as a close returns (as ``entry.Interrupted`` is)."""


@pytest.mark.parametrize("at", range(8))
@pytest.mark.parametrize("call", ["open_real_folder", "make_folders"])
def test_a_stop_as_a_folder_on_the_way_is_closed_is_the_stop_not_a_bad_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, at: int
) -> None:
    # sync stopped by SIGTERM while it opened a folder on the way: exit 2, `cannot write
    # pkg/orch/f53.txt: Bad file descriptor`, where a stop is exit 143 and its line. The
    # handler ran as the outer folder's close returned; the cleanup closed it a second time.
    real_close, closes = os.close, []

    def close_then_stop(fd: int) -> None:
        real_close(fd)
        closes.append(fd)
        if len(closes) == at + 1:
            raise _Stop

    stopped = False
    with monkeypatch.context() as patch:
        patch.setattr(os, "close", close_then_stop)
        try:
            if call == "open_real_folder":
                real_close(confine.open_real_folder(str(tmp_path)))
            else:
                confine.make_folders(tmp_path / "a" / "b" / "c")
        except _Stop:
            stopped = True  # the stop itself, never an OSError in its place
    assert stopped == (len(closes) > at)


@pytest.mark.parametrize("then", ["replaced", "gone"])
def test_a_file_replaced_by_a_rename_while_it_is_kept_is_kept_as_it_is_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    # Linux refuses to link a file whose last name went away since the lookup (ENOENT): the
    # answers file replaced by a rename while `init --force` kept it ended the run with
    # `cannot write …/.tac-bootstrap.json: No such file or directory` (exit 2, nothing written).
    folder = tmp_path.resolve()
    target, staged = folder / "answers.json", folder / "staged"
    target.write_text("old\n")
    staged.write_text("new\n")
    real = confine.link
    refused: list[Path] = []

    def replaced_at_the_link(source: Path, dest: Path) -> None:
        if not refused:
            refused.append(source)
            if then == "replaced":  # an editor's save: a new file renamed over the name
                (folder / "save.tmp").write_text("saved\n")
                (folder / "save.tmp").replace(source)
            else:
                source.unlink()
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        real(source, dest)

    monkeypatch.setattr(confine, "link", replaced_at_the_link)
    if then == "gone":  # nothing there to keep: said as before, nothing written
        with pytest.raises(WriteError, match=r"^cannot write answers\.json: No such file"):
            confine.replace_all([(staged, target, "answers.json")])
        assert sorted(p.name for p in folder.iterdir()) == ["staged"]
        return
    confine.replace_all([(staged, target, "answers.json")])
    assert refused == [target]
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in folder.iterdir()) == ["answers.json"]  # no kept copy left


def test_a_file_replaced_once_opened_is_said_to_be_so_not_named_deleted(tmp_path: Path) -> None:
    # The answers file replaced by a rename while update read it: `cannot read
    # .tac-bootstrap.json: changed while in use: the file opened is …/.tac-bootstrap.json
    # (deleted)`, the system's word for a file no name leads to.
    path = tmp_path.resolve() / "answers.json"
    path.write_text("old\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        (tmp_path / "new.json").write_text("new\n")
        (tmp_path / "new.json").replace(path)
        with pytest.raises(OSError, match="changed while in use") as info:
            confine.opened_at(fd, str(path))
    finally:
        os.close(fd)
    assert info.value.errno == errno.ELOOP
    said = "changed while in use: the file opened was replaced or removed meanwhile"
    assert info.value.strerror == said


@pytest.mark.parametrize("planted", [False, True], ids=["nothing-outside", "a-file-outside"])
def test_a_file_staged_in_a_folder_moved_away_meanwhile_is_removed_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: bool
) -> None:
    # `sync --from base` while templates/orch was moved to templates/orch.real and a link to
    # a folder outside put in its place: the write was refused (`cannot write …: changed while
    # in use: the file opened is …/orch.real/.plain.txt.j2.<pid>.tmp`), and the file staged
    # was removed by its name, through the link: it stayed in orch.real, back in templates/orch
    # once moved back, and a file of that name outside the root was removed instead.
    root = tmp_path.resolve() / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_text("old\n")
    outside = tmp_path.resolve() / "outside"
    outside.mkdir()
    staged = f".f.txt.{os.getpid()}.tmp"
    if planted:
        (outside / staged).write_text("not yours\n")
    real_opened_at = confine.opened_at

    def moved_then_checked(fd: int, path: str) -> None:
        (root / "d").rename(root / "d.real")
        (root / "d").symlink_to(outside, target_is_directory=True)
        real_opened_at(fd, path)

    monkeypatch.setattr(confine, "opened_at", moved_then_checked)
    with pytest.raises(WriteError, match=r"^cannot write d/f\.txt: changed while in use"):
        confine.write_atomic(root, "d/f.txt", b"new\n")
    (root / "d").unlink()
    (root / "d.real").rename(root / "d")
    assert sorted(p.name for p in outside.iterdir()) == ([staged] if planted else [])
    assert sorted(p.name for p in (root / "d").iterdir()) == ["f.txt"]
    assert (root / "d" / "f.txt").read_text() == "old\n"


def test_a_kept_original_is_removed_in_its_folder_never_through_a_link_put_there(
    folder_turned_link: tuple[Path, Path, Callable[[], None]],
) -> None:
    # replace_all removed the originals it kept (`.<name>.<pid>.orig`) by name: with the
    # folder moved away once the files were in place and a link put there, a file of that
    # name where the link led, outside the root, was removed instead.
    root, outside, swap = folder_turned_link
    kept = f".f.txt.{os.getpid()}.orig"
    (outside / kept).write_text("not yours\n")
    tmp, path = confine.stage(root, "d/f.txt", b"new\n")
    confine.replace_all([(tmp, path, "d/f.txt")], swap)
    assert (outside / kept).read_text() == "not yours\n"
    (root / "d").unlink()
    (root / "old").rename(root / "d")
    assert (root / "d/f.txt").read_text() == "new\n"
    assert (root / "d" / kept).read_text() == "mine\n"  # left: the next run clears it
    confine.settle_leftovers(root / "d/f.txt")  # this process's own run, alive: not cleared
    assert sorted(p.name for p in (root / "d").iterdir()) == [kept, "f.txt"]


@pytest.mark.parametrize("clear", [confine.clear_leftovers, confine.settle_leftovers])
def test_leftovers_are_not_looked_for_through_a_folder_made_a_link(
    folder_turned_link: tuple[Path, Path, Callable[[], None]], clear: Callable[[Path], object]
) -> None:
    # clear_leftovers listed the folder and removed a killed run's leftovers by name: through
    # a folder made a link since it was checked, it removed files of those names outside.
    root, outside, swap = folder_turned_link
    names = [f".f.txt.{DEAD}.tmp", f".f.txt.{DEAD}.orig", "f.txt"]
    for name in names:
        (outside / name).write_text(f"{name} is not yours\n")
    swap()
    assert not clear(root / "d/f.txt")
    assert sorted(p.name for p in outside.iterdir()) == sorted(names)
