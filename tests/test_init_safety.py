"""``init`` as a process: names it refuses, folders it writes, Ctrl-C, kill -9, --force, --dry-run.

Every case runs the installed ``tac-bootstrap`` script in a subprocess, because each is
about the process: its exit code, its signals and the files it leaves behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("tac-bootstrap")


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


_MADE: dict[tuple[str, ...], Path] = {}


def made_once(tmp_path: Path, key: tuple[str, ...], make: Callable[[Path], None]) -> Path:
    """Copy into ``tmp_path`` what ``make`` made once per run in a folder of its own.

    The setup of a case (the project an ``init --force`` replaces, an ``init`` killed at its
    clean-up) is not what the case tests: made by the installed script once (one to three
    seconds each), copied (links as links, modes and times kept) for every case that needs it.
    """
    folder = _MADE.get(key)
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="made-once-", dir=tmp_path.parent))  # beside
        make(folder)
        _MADE[key] = folder
    for path in folder.iterdir():
        shutil.copytree(path, tmp_path / path.name, symlinks=True)
    return tmp_path


def generated(tmp_path: Path, name: str, *options: str) -> Path:
    """Put in ``tmp_path`` the project ``init name *options`` makes (made once, copied)."""

    def make(folder: Path) -> None:
        proc = run("init", name, *options, cwd=folder)
        assert proc.returncode == 0, proc.stderr

    return made_once(tmp_path, ("init", name, *options), make) / name


@pytest.mark.parametrize(
    ("args", "dist"),
    [
        (["pytest-asyncio", "--with-orchestrator"], "pytest-asyncio"),
        (["typing-extensions"], "typing-extensions"),
        (["Typing_Extensions"], "typing-extensions"),
        (["pydantic.core"], "pydantic-core"),
        (["iniconfig"], "iniconfig"),
        (["hatchling"], "hatchling"),
    ],
)
def test_a_dependency_of_the_project_is_not_a_project_name(
    tmp_path: Path, args: list[str], dist: str
) -> None:
    proc = run("init", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: project name ")
    assert f"'{dist}'" in proc.stderr
    assert "depends on" in proc.stderr
    assert tree(tmp_path) == []


@pytest.mark.parametrize("name", ["wheel", "Wheel", "pip", "setuptools"])
def test_a_distribution_a_venv_starts_with_is_not_a_project_name(tmp_path: Path, name: str) -> None:
    """Installing a project of that name into such a venv replaces what installing needs."""
    proc = run("init", name, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"error: project name {name!r} ")
    assert "virtual environments start with" in proc.stderr
    assert tree(tmp_path) == []


def test_output_dot_fills_the_empty_current_folder_in_place(tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    inode = here.stat().st_ino
    proc = run("init", "my-app", "--with-orchestrator", "-o", ".", cwd=here)
    assert proc.returncode == 0, proc.stderr
    assert here.stat().st_ino == inode  # the same folder (a shell's cwd stays valid)
    assert (here / ".tac-bootstrap.json").is_file()
    assert (here / "src" / "my_app" / "database.py").is_file()
    assert not [p for p in here.iterdir() if p.name.endswith(".partial")]
    check = run("sync-check", "--root", ".", "--no-cache", cwd=here)
    assert check.returncode == 0, check.stdout + check.stderr


def test_dry_run_writes_nothing_anywhere(tmp_path: Path) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    work = tmp_path / "work"
    for folder in (home, work):
        folder.mkdir()
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(cache), "TAC_BOOTSTRAP_CACHE_DIR": ""}
    proc = run("init", "my-app", "--with-orchestrator", "--dry-run", cwd=work, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "src/my_app/database.py" in proc.stdout.splitlines()
    assert (tree(home), tree(work), cache.exists()) == ([], [], False)
    proc = run("init", "my-app", "--dry-run", "-o", "deep/er/x", cwd=work, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tree(home), tree(work), cache.exists()) == ([], [], False)


def test_force_keeps_the_mode_of_a_replaced_file(tmp_path: Path) -> None:
    generated(tmp_path, "my-app")
    readme = tmp_path / "my-app" / "README.md"
    readme.write_text("mine\n")
    readme.chmod(0o600)
    (tmp_path / "my-app" / "pyproject.toml").chmod(0o640)
    proc = run("init", "my-app", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert readme.read_text() != "mine\n"
    assert readme.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "my-app" / "pyproject.toml").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize(
    ("link", "to", "output"),
    [("p", "nowhere", "p"), ("p", "p", "p"), ("p", "nowhere", "p/sub"), ("p", "../gone/x", "p")],
    ids=["dangling", "loop", "dangling-parent", "dangling-outside"],
)
def test_an_output_folder_that_is_a_link_to_nothing_is_refused_naming_it(
    tmp_path: Path, link: str, to: str, output: str, dry_run: bool
) -> None:
    (tmp_path / link).symlink_to(to)
    before = tree(tmp_path)
    proc = run("init", "q", "-o", output, *(["--dry-run"] if dry_run else []), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    message = f"{link} is a link to nothing, where {output} needs a folder; move it away first"
    assert proc.stderr == f"error: {message}\n"
    assert tree(tmp_path) == before


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="only root gives a replaced file its owner, the change that clears these bits",
)
def test_force_keeps_the_setuid_and_setgid_bits_of_a_replaced_file(tmp_path: Path) -> None:
    generated(tmp_path, "my-app")
    modes = {"README.md": 0o4755, "pyproject.toml": 0o2775}
    for name, mode in modes.items():
        path = tmp_path / "my-app" / name
        path.write_text("mine\n")
        path.chmod(mode)
    proc = run("init", "my-app", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name, mode in modes.items():
        path = tmp_path / "my-app" / name
        assert path.read_text() != "mine\n"
        assert oct(path.stat().st_mode & 0o7777) == oct(mode), name


# --- interrupted and killed runs -----------------------------------------------------------


# The line of the entry point that installs its Ctrl-C handler: before it, Python reports an
# interrupt itself; from it on, tac-bootstrap does.
HANDLER_LINE = next(
    number
    for number, line in enumerate(
        (Path(__file__).parents[1] / "tac_bootstrap" / "__main__.py").read_text().splitlines(), 1
    )
    if line.strip() == "_signal.signal(_number, _interrupt_early)"
)
FRAME = re.compile(r'File "[^"]*/tac_bootstrap/([^"]+)", line (\d+)')


def before_the_handler(err: str) -> bool:
    """Return whether a traceback shows no line of tac-bootstrap's own from its handler on.

    Only the package's ``__init__`` and the entry point's lines above the handler may show.
    """
    return all(
        name == "__init__.py" or (name == "__main__.py" and int(line) < HANDLER_LINE)
        for name, line in FRAME.findall(err)
    )


def test_the_entry_python_compiles_before_the_handler_is_short() -> None:
    """Python compiles ``__main__.py`` whole before its first line runs (without a bytecode
    cache: ``PYTHONDONTWRITEBYTECODE``, a read-only install). It held the whole command line,
    277 lines (3.4 ms of compiling, more under load, in which a Ctrl-C was a traceback); now the
    handler and the import of :mod:`tac_bootstrap.entry` after it, and nothing of the package's
    own before it."""
    source = (Path(__file__).parents[1] / "tac_bootstrap" / "__main__.py").read_text()
    assert len(source.splitlines()) <= 60
    before = "\n".join(source.splitlines()[:HANDLER_LINE])
    assert re.findall(r"^(?:import|from) (\S+)", before, re.MULTILINE) == ["_signal", "os"]
    assert "from tac_bootstrap.entry import main" in source.splitlines()[HANDLER_LINE + 1]


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.08, 0.12, 0.16, 0.2, 0.25, 0.3, 0.4, 0.6])
def test_ctrl_c_at_any_moment_is_exit_130_with_one_line(tmp_path: Path, delay: float) -> None:
    proc = subprocess.Popen(
        [EXE, "init", "my-app", "--with-orchestrator"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    project = tmp_path / "my-app"
    complete = (project / ".tac-bootstrap.json").is_file()
    if proc.returncode in (-signal.SIGINT, 1) and before_the_handler(err):
        # Before any code of this package runs: the interpreter's start-up (site, io), the
        # console script's `import re` and its import of tac_bootstrap.__main__ up to the
        # handler, its first statement. Python itself reports a Ctrl-C there
        # (killed by SIGINT, or "Fatal Python error" and exit 1 inside site); nothing was written.
        assert err == "" or err.endswith("KeyboardInterrupt\n")
        assert list(tmp_path.iterdir()) == []
    elif proc.returncode == 130:
        # One line, no traceback. Only when the project is written whole can its report (one
        # write, never a part of it) come before: the Ctrl-C came as the report was written.
        report, _, line = err.rpartition("\n")[0].rpartition("\n")
        written = "; init had written every file of the project: nothing is left to do"
        assert line in ("error: interrupted", f"error: interrupted{written}"), err
        assert (line != "error: interrupted") == complete, err  # the line says which
        assert report == "" or (complete and report.endswith("python -m pytest")), err
    else:  # it finished first
        assert proc.returncode == 0, err
    assert [p.name for p in tmp_path.iterdir() if p.name != "my-app"] == []  # no .partial
    if project.exists():  # all of it or nothing
        assert complete
        assert (project / "src" / "my_app" / "database.py").is_file()


def test_a_killed_run_leaves_staging_that_the_next_run_removes(tmp_path: Path) -> None:
    # A run killed with SIGKILL while it writes its staging folder (nothing can clean up).
    killer = (
        "import os, sys, signal\n"
        "import tac_bootstrap.scaffold as s\n"
        "write = s._write_tree\n"
        "def die(root, files, *rest):\n"
        "    write(root, dict(list(files.items())[:2]), *rest)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "s._write_tree = die\n"
        "sys.argv = ['tac-bootstrap', 'init', 'my-app']\n"
        "from tac_bootstrap.__main__ import main; main()\n"
    )
    killed = subprocess.run([sys.executable, "-c", killer], cwd=tmp_path, check=False)
    assert killed.returncode == -signal.SIGKILL
    [stale] = [p.name for p in tmp_path.iterdir()]
    assert stale.startswith(".tac-bootstrap-")
    assert stale.endswith(".partial")
    # Look-alikes that are not ours, or not stale, stay.
    keep = [
        f".tac-bootstrap-{os.getpid()}-abcdefgh.partial",  # a run in progress
        ".tac-bootstrap-123-abc.partial",  # not our naming
        ".my-app.abcdefgh.partial",
        "tac-bootstrap-1-abcdefgh.partial",
    ]
    for name in keep:
        (tmp_path / name).mkdir()
    proc = run("init", "other-app", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "other-app"])
    assert not (tmp_path / "my-app").exists()


def test_staging_naming_a_pid_no_process_can_have_is_stale(tmp_path: Path) -> None:
    stale = tmp_path / f".tac-bootstrap-{'9' * 200}-abcdefgh.partial"
    (stale / "src").mkdir(parents=True)
    proc = run("init", "my-app", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-app"]


@pytest.mark.parametrize(
    ("output", "message"),
    [("a" * 5000, "File name too long"), ("/".join(["d"] * 2000), "too many nested folders")],
    ids=["name-too-long", "too-deep"],
)
def test_an_output_folder_no_file_system_takes_is_refused(
    tmp_path: Path, output: str, message: str
) -> None:
    proc = run("init", "my-app", "-o", output, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr
    assert tree(tmp_path) == []


def test_force_does_not_read_a_file_of_another_size_whole(tmp_path: Path) -> None:
    target = tmp_path / "p"
    target.mkdir()
    with (target / "README.md").open("wb") as file:
        file.truncate(8 * 1024**3)  # sparse: 8 GiB that take no room
    script = 'ulimit -v 2097152 && exec "$0" "$@"'  # 2 GiB of memory: the file does not fit
    proc = subprocess.run(
        ["sh", "-c", script, str(EXE), "init", "x", "-o", "p", "--force"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (target / "README.md").stat().st_size < 100_000


def test_force_into_a_folder_that_cannot_be_searched_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tac_bootstrap import scaffold
    from tac_bootstrap.errors import InvalidInputError
    from tac_bootstrap.spec import ProjectSpec

    (tmp_path / "p" / "src").mkdir(parents=True)
    exists = Path.exists

    def no_search(path: Path) -> bool:  # what a src/ of mode 000 does to another user
        if "src" in path.parts:
            raise PermissionError(13, "Permission denied", str(path))
        return exists(path)

    monkeypatch.setattr(Path, "exists", no_search)
    spec = ProjectSpec.build("x")
    with pytest.raises(InvalidInputError, match=r"src/x/__init__\.py: Permission denied"):
        scaffold.init(spec, tmp_path / "p", force=True)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root writes another's files"
)
def test_force_run_by_root_keeps_the_owners_of_the_project(tmp_path: Path) -> None:
    """Files replaced by rename, new files and folders were left owned by root."""
    project = generated(tmp_path, "my-app")
    (project / "README.md").write_text("mine\n")
    (project / "pyproject.toml").unlink()  # a new file
    shutil.rmtree(project / "src")  # new files in new folders
    theirs, other = (4321, 4322), (4323, 4324)  # users with no name here: owners all the same
    for path in [project, *project.rglob("*")]:
        os.chown(path, *theirs, follow_symlinks=False)
    os.chown(project / "README.md", *other)  # one file of another user: it stays theirs
    proc = run("init", "my-app", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    owners = {
        path.relative_to(project).as_posix(): (path.lstat().st_uid, path.lstat().st_gid)
        for path in project.rglob("*")
    }
    assert {"pyproject.toml", "src"} <= set(owners)
    assert owners.pop("README.md") == other
    assert (project / "README.md").read_text() != "mine\n"
    assert {rel: owner for rel, owner in owners.items() if owner != theirs} == {}


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root writes another's files"
)
@pytest.mark.parametrize("output", ["theirs", "theirs/new/p"], ids=["empty-folder", "new-folders"])
def test_init_run_by_root_gives_new_files_the_owner_of_their_folder(
    tmp_path: Path, output: str
) -> None:
    """Into another user's empty folder (or new folders in it), every file was root's."""
    theirs = (4321, 4322)
    (tmp_path / "theirs").mkdir()
    os.chown(tmp_path / "theirs", *theirs)
    proc = run("init", "p", "-o", output, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    made = [tmp_path / "theirs", *(tmp_path / "theirs").rglob("*")]
    assert len(made) > 10
    assert [p for p in made if (p.lstat().st_uid, p.lstat().st_gid) != theirs] == []


def chattr(path: Path, flags: str) -> None:
    """Set a file's attributes (chattr +i), or skip where this user or file system cannot."""
    done = subprocess.run(["chattr", flags, str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr {flags} not allowed here: {done.stderr.decode().strip()}")


@pytest.mark.skipif(shutil.which("chattr") is None, reason="no chattr")
@pytest.mark.parametrize("immutable", ["p/LICENSE", "p/src/p"], ids=["file", "folder"])
def test_force_over_an_immutable_file_or_folder_names_it_with_what_the_system_said(
    tmp_path: Path, immutable: str
) -> None:
    """The file was named by its staged copy (p/.tac-bootstrap-<pid>-<tag>.partial/LICENSE), and
    the folder was said to be "Permission denied" where the system says "Operation not
    permitted"."""
    generated(tmp_path, "p")
    with (tmp_path / "p/LICENSE").open("a") as file:
        file.write("edited\n")
    before = {p: p.read_bytes() for p in (tmp_path / "p").rglob("*") if p.is_file()}
    chattr(tmp_path / immutable, "+i")
    try:
        proc = run("init", "p", "--force", "-d", "author=Zed", cwd=tmp_path)
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path / immutable)], check=True)
    why = (
        "it is immutable or append-only (chattr +i or +a); lift that (chattr -i -a) and run again"
        if immutable == "p/LICENSE"
        else "Operation not permitted"
    )
    assert (proc.returncode, proc.stderr) == (2, f"error: cannot write {immutable}: {why}\n")
    assert {p: p.read_bytes() for p in (tmp_path / "p").rglob("*") if p.is_file()} == before


def test_force_keeps_the_extended_attributes_of_a_file_it_replaces(
    tmp_path: Path, set_user_xattr: Callable[[Path], None]
) -> None:
    """The staged copy moved in its place had none: user.* attributes, an ACL were lost."""
    generated(tmp_path, "p")
    license_file = tmp_path / "p/LICENSE"
    made = license_file.read_bytes()
    license_file.write_text("edited\n")
    set_user_xattr(license_file)
    proc = run("init", "p", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert license_file.read_bytes() == made
    assert os.getxattr(license_file, "user.origin") == b"kept"


@pytest.mark.skipif(shutil.which("chattr") is None, reason="no chattr")
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root sets chattr +i"
)
@pytest.mark.parametrize("flag", ["+i", "+a"], ids=["immutable", "append-only"])
def test_force_over_a_locked_file_further_down_replaces_nothing(tmp_path: Path, flag: str) -> None:
    """LICENSE, before pyproject.toml in the order of the writes, was left replaced."""
    generated(tmp_path, "p")
    before = {p: p.read_bytes() for p in (tmp_path / "p").rglob("*") if p.is_file()}
    chattr(tmp_path / "p/pyproject.toml", flag)
    try:
        proc = run("init", "p", "--force", "-d", "author=Zed", cwd=tmp_path)
        dry = run("init", "p", "--force", "--dry-run", "-d", "author=Zed", cwd=tmp_path)
    finally:
        subprocess.run(["chattr", flag.replace("+", "-"), str(tmp_path / "p/pyproject.toml")])
    message = (
        "error: cannot write p/pyproject.toml: it is immutable or append-only (chattr +i or +a); "
        "lift that (chattr -i -a) and run again\n"
    )
    assert (proc.returncode, proc.stderr) == (2, message)
    assert (dry.returncode, dry.stderr) == (2, message)
    assert {p: p.read_bytes() for p in (tmp_path / "p").rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in (tmp_path / "p").iterdir() if ".partial" in p.name) == []


def init_force_killed_at_its_cleanup(tmp_path: Path) -> tuple[Path, str, str]:
    """Generate p, edit its README, and kill `init p --force` at its first clean-up unlink.

    Return the project, the kept original's name and the staging folder's name it left (made
    once, copied: the killed process's id in those names is no live process's).
    """
    made_once(tmp_path, ("killed at its cleanup",), _kill_init_force_at_its_cleanup)
    left = sorted(
        p.name for p in (tmp_path / "p").iterdir() if p.name.endswith((".orig", ".partial"))
    )
    [kept, staging] = left
    return tmp_path / "p", kept, staging


def _kill_init_force_at_its_cleanup(tmp_path: Path) -> None:
    generated(tmp_path, "p", "--with-orchestrator")
    readme = tmp_path / "p" / "README.md"
    readme.write_text(readme.read_text() + "An edit of mine.\n")
    killer = (
        "import os, signal, sys\n"
        "unlink = os.unlink\n"
        "def die(path, *args, **kwargs):\n"
        "    if os.fspath(path).endswith('.orig'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return unlink(path, *args, **kwargs)\n"
        "os.unlink = die\n"
        "sys.argv = ['tac-bootstrap', 'init', 'p', '--force', '--with-orchestrator']\n"
        "from tac_bootstrap.__main__ import main; main()\n"
    )
    killed = subprocess.run([sys.executable, "-c", killer], cwd=tmp_path, check=False)
    assert killed.returncode == -signal.SIGKILL
    left = sorted(
        p.name for p in (tmp_path / "p").iterdir() if p.name.endswith((".orig", ".partial"))
    )
    [kept, staging] = left
    assert re.fullmatch(r"\.README\.md\.\d+\.orig", kept)
    assert re.fullmatch(r"\.tac-bootstrap-\d+-[a-z0-9_]{8}\.partial", staging)
    assert "An edit of mine." not in readme.read_text()  # the run had replaced it


@pytest.mark.parametrize(
    ("command", "gone"),
    [
        (["update"], 2),
        (["sync"], 2),  # README.md holds the schema's diagram: sync writes it
        (["migration", "new", "add_x"], 1),
        (["init", "p", "--force", "--with-orchestrator"], 2),
    ],
    ids=["update", "sync", "migration-new", "init-force"],
)
def test_what_an_init_force_killed_at_its_cleanup_left_is_cleared_by_the_next_command(
    tmp_path: Path, command: list[str], gone: int
) -> None:
    project, kept, staging = init_force_killed_at_its_cleanup(tmp_path)
    cwd = tmp_path if command[0] == "init" else project
    proc = run(*command, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    left = [name for name in (kept, staging) if (project / name).exists()]
    # migration new leaves README's original: the file is not one it writes.
    assert left == ([] if gone == 2 else [kept])
    check = run("sync-check", "--root", project, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert ("stopped-run" in check.stdout) == bool(left)


def test_sync_check_names_what_a_killed_init_force_left(tmp_path: Path) -> None:
    project, kept, staging = init_force_killed_at_its_cleanup(tmp_path)
    pid = kept.split(".")[-2]
    proc = run("sync-check", "--root", project, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{kept}: note: stopped-run: left beside README.md by a tac-bootstrap run " in (
        proc.stdout
    )
    assert f"{staging}: note: stopped-run: the temporary folder of a tac-bootstrap init " in (
        proc.stdout
    )
    assert f"(process {pid})" in proc.stdout
    strict = run("sync-check", "--root", project, "--strict", cwd=tmp_path)
    assert strict.returncode == 1


def test_update_keeps_an_original_beside_a_file_edited_since_and_what_is_not_stale(
    tmp_path: Path,
) -> None:
    project, kept, staging = init_force_killed_at_its_cleanup(tmp_path)
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "Edited after the kill.\n")
    alive = f".LICENSE.{os.getpid()}.orig"  # a run in progress
    looks = [".README.md.notes.orig", ".README.md.12.bak", ".NOTES.md.1.orig", alive]
    for name in looks:
        (project / name).write_text("mine\n")
    proc = run("update", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert (project / kept).exists()  # README.md is not as generated: the person decides
    assert not (project / staging).exists()
    assert all((project / name).read_text() == "mine\n" for name in looks)


def test_what_a_killed_run_left_beside_the_answers_file_is_named_and_update_clears_it(
    tmp_path: Path,
) -> None:
    # An update killed at the rename of its answers file left `..tac-bootstrap.json.<pid>.tmp`;
    # an init --force that changed the answers, `..tac-bootstrap.json.<pid>.orig`.
    project, kept, _ = init_force_killed_at_its_cleanup(tmp_path)
    pid = kept.split(".")[-2]
    answers = project / ".tac-bootstrap.json"
    left = [f"..tac-bootstrap.json.{pid}.tmp", f"..tac-bootstrap.json.{pid}.orig"]
    for name in left:
        (project / name).write_text(answers.read_text().replace('"p"', '"q"'))
    check = run("sync-check", "--root", project, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    for name in left:
        assert f"{name}: note: stopped-run: left beside .tac-bootstrap.json " in check.stdout
    proc = run("update", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert [name for name in left if (project / name).exists()] == []


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize(
    ("link", "to", "lands"),
    [
        ("src", "other", "other/my_app/__init__.py"),
        ("src/my_app", "../other", "other/__init__.py"),
        (".github", "other", "other/workflows/ci.yml"),
    ],
    ids=["src", "package", "github"],
)
def test_force_writes_through_a_folder_linked_inside_the_target(
    tmp_path: Path, link: str, to: str, lands: str, dry_run: bool
) -> None:
    # init --force refused these (exit 2 "…/src must be a folder to write …") where sync and
    # update write through a linked folder that stays inside the root.
    app = tmp_path / "app"
    (app / "other").mkdir(parents=True)
    (app / link).parent.mkdir(parents=True, exist_ok=True)
    (app / link).symlink_to(to, target_is_directory=True)
    before = tree(tmp_path)
    proc = run(
        "init", "my-app", "-o", app, "--force", *(["--dry-run"] if dry_run else []), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    if dry_run:
        assert tree(tmp_path) == before
        return
    assert (app / lands).is_file()
    assert (app / link).is_symlink()
    assert run("sync-check", "--no-cache", "--root", app, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize(
    ("link", "to", "said"),
    [
        (".github", ".git", "app/.github/workflows/ci.yml is under a git folder .git/"),
        ("src", "../outside", "app/src is a symbolic link to "),
        ("src", "nowhere", "app/src must be a folder to write src/my_app/__init__.py"),
        ("src", "src", "app/src must be a folder to write src/my_app/__init__.py"),
    ],
    ids=["into-git", "outside", "to-nothing", "loop"],
)
def test_force_refuses_a_folder_linked_out_of_the_target_into_git_or_to_nothing(
    tmp_path: Path, link: str, to: str, said: str, dry_run: bool
) -> None:
    app = tmp_path / "app"
    (app / ".git").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (app / link).symlink_to(to, target_is_directory=True)
    before = tree(tmp_path)
    proc = run(
        "init", "my-app", "-o", "app", "--force", *(["--dry-run"] if dry_run else []), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"error: {said}"), proc.stderr
    assert proc.stderr.count("\n") == 1
    assert tree(tmp_path) == before


def test_force_refuses_two_files_that_a_linked_folder_makes_one(tmp_path: Path) -> None:
    from tac_bootstrap.errors import InvalidInputError
    from tac_bootstrap.scaffold import _check_places

    (tmp_path / "docs").symlink_to(".", target_is_directory=True)
    files = {"README.md": b"a\n", "docs/README.md": b"b\n"}
    with pytest.raises(InvalidInputError, match=r"README\.md are one file through a linked folder"):
        _check_places(tmp_path, files)


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_force_into_a_target_that_is_a_link_to_a_folder_writes_there(
    tmp_path: Path, dry_run: bool
) -> None:
    # `init my-app -o lnk --force` with lnk -> app (a folder holding a file) said `error: lnk
    # must be a folder to write .github/workflows/ci.yml; move it away first` (exit 2), where
    # a new project goes through such a link and sync takes a root reached through one.
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "notes.md").write_text("mine\n")
    (tmp_path / "lnk").symlink_to("app", target_is_directory=True)
    before = tree(tmp_path)
    proc = run(
        "init", "my-app", "-o", "lnk", "--force", *(["--dry-run"] if dry_run else []), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    if dry_run:
        assert tree(tmp_path) == before
        return
    assert (tmp_path / "app" / "src" / "my_app" / "__init__.py").is_file()
    assert (tmp_path / "app" / "notes.md").read_text() == "mine\n"
    assert (tmp_path / "lnk").is_symlink()
    assert run("sync-check", "--no-cache", "--root", "lnk", cwd=tmp_path).returncode == 0


GIT_SAYS = "is under a git folder .git/ (through a symlink: .git/"
CHANGED_LINKS = {
    "src-into-git": ("src", "other", ".git", f"app/src/my_app/__init__.py {GIT_SAYS}", "app/src"),
    "github-into-git": (".github", "other", ".git", "app/.github/workflows/ci.yml", "app/.github"),
    "package-into-git": ("other/my_app", "../mine", "../.git", GIT_SAYS, "app/src/my_app"),
    "src-outside": ("src", "other", "../outside", "app/src is a symbolic link to ", None),
    "src-to-nothing": ("src", "other", "nowhere", "app/src must be a folder to write src/", None),
    "src-loop": ("src", "other", "src", "app/src must be a folder to write src/my_app/", None),
}


@pytest.mark.parametrize(
    ("link", "before", "after", "said", "moved"), CHANGED_LINKS.values(), ids=CHANGED_LINKS
)
def test_force_names_the_folder_a_link_changed_mid_run_leads_away(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    link: str,
    before: str,
    after: str,
    said: str,
    moved: str | None,
) -> None:
    # A linked folder changed between init --force's check and its moves (src -> other made
    # src -> .git) was refused naming the file: `error: app/src/my_app/__init__.py is under a
    # git folder .git/ (…): refusing to write there; move app/src/my_app/__init__.py away
    # first`; `-> ../outside`: `… __init__.py resolves to …, outside app`; `-> nowhere`: exit 0,
    # the files written into app/nowhere/, a folder no one named; a loop: `cannot write
    # app/src/my_app/__init__.py: File exists`. The folder that became the link is named now,
    # and nothing is written.
    from tac_bootstrap import scaffold
    from tac_bootstrap.errors import TacBootstrapError
    from tac_bootstrap.spec import ProjectSpec

    app = tmp_path / "app"
    for folder in (app / ".git", app / "other", app / "mine", tmp_path / "outside"):
        folder.mkdir(parents=True, exist_ok=True)
    if link.startswith("other/"):
        (app / "src").symlink_to("other", target_is_directory=True)
    (app / link).symlink_to(before, target_is_directory=True)
    real_write_tree = scaffold._write_tree

    def write_tree(root: Path, files: dict[str, bytes], like: os.stat_result | None = None) -> None:
        real_write_tree(root, files, like)
        (app / link).unlink()
        (app / link).symlink_to(after, target_is_directory=True)

    monkeypatch.setattr(scaffold, "_write_tree", write_tree)
    with pytest.raises(TacBootstrapError) as raised:
        scaffold.init(ProjectSpec.build("my-app"), app, force=True)
    message = str(raised.value).replace(f"{tmp_path}/", "")
    assert said in message, message
    assert message.endswith(f"move {moved or 'it'} away first"), message
    linked = "src" if link.startswith("other/") else link  # no file, no folder was added
    assert {p.name for p in app.iterdir()} == {".git", "mine", "other", linked}
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("name", "to"),
    [("README.md", "notes.txt"), ("README.md", "LICENSE"), ("src/my_app/__init__.py", "../../n")],
    ids=["to-a-file-of-the-person", "to-another-generated-file", "package-file"],
)
def test_force_does_not_write_through_a_file_made_a_link_mid_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, to: str
) -> None:
    # A generated file replaced by a link after init --force's check, before its moves
    # (README.md -> notes.txt): exit 0, and notes.txt, the person's file, was replaced by the
    # README (with -> LICENSE, LICENSE held the README). Refused now, as before the writes.
    from tac_bootstrap import scaffold
    from tac_bootstrap.errors import InvalidInputError
    from tac_bootstrap.spec import ProjectSpec

    app = tmp_path / "app"
    scaffold.init(ProjectSpec.build("my-app"), app)
    (app / "notes.txt").write_text("my notes\n")
    (app / "n").write_text("my notes\n")
    (app / name).write_text("edited\n")
    real_write_tree = scaffold._write_tree

    def write_tree(root: Path, files: dict[str, bytes], like: os.stat_result | None = None) -> None:
        real_write_tree(root, files, like)
        (app / name).unlink()
        (app / name).symlink_to(to)

    before = {p: p.read_bytes() for p in app.rglob("*") if p.is_file() and p != app / name}
    monkeypatch.setattr(scaffold, "_write_tree", write_tree)
    with pytest.raises(InvalidInputError) as raised:
        scaffold.init(ProjectSpec.build("my-app"), app, force=True)
    said = f"{app / name} exists and is not a regular file (a symlink); move it away first"
    assert str(raised.value) == said
    assert {p: p.read_bytes() for p in app.rglob("*") if p.is_file() and p != app / name} == before
