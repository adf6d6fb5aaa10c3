"""The environment a check runs in: a user without a home, a stdout that is not UTF-8.

Through the installed script, as CI and pre-commit run it. Each case ended in a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tac_bootstrap import checkcache

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"
EXE = Path(sys.executable).with_name("tac-bootstrap")
#: A user id with no entry in the password database, as a container run under a bare uid.
NOBODY_KNOWN = 54_321


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def run(*args: str | Path, env: dict[str, str], **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
        **options,
    )


def test_without_a_home_the_default_cache_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_entry(uid: int) -> None:
        raise KeyError(uid)

    monkeypatch.delenv(checkcache.CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr("pwd.getpwuid", no_entry)
    assert checkcache.default_cache_dir() is None


class _Entry:
    def __init__(self, home: str) -> None:
        self.pw_dir = home


@pytest.mark.parametrize(
    ("home", "xdg", "entry", "expected"),
    [
        ("", "", "/users/me", "/users/me/.cache/tac-bootstrap"),
        ("relative", "", "/users/me", "/users/me/.cache/tac-bootstrap"),
        ("/home/me", "", "/users/me", "/home/me/.cache/tac-bootstrap"),
        ("/home/me", "relative", "/users/me", "/home/me/.cache/tac-bootstrap"),
        ("", "/xdg", "/users/me", "/xdg/tac-bootstrap"),
        ("", "", "/", None),
        ("/", "", "/users/me", None),
        ("", "", "", None),
    ],
)
def test_the_default_cache_is_never_under_an_empty_or_relative_home(
    monkeypatch: pytest.MonkeyPatch, home: str, xdg: str, entry: str, expected: str | None
) -> None:
    """HOME="" made the cache /.cache/tac-bootstrap (Python takes an empty home for "/")."""
    monkeypatch.delenv(checkcache.CACHE_ENV, raising=False)
    monkeypatch.setenv("HOME", home)
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    monkeypatch.setattr("pwd.getpwuid", lambda _: _Entry(entry))
    assert checkcache.default_cache_dir() == (None if expected is None else Path(expected))


@pytest.mark.parametrize(("home", "xdg"), [("", ""), ("relative", ""), ("", "relative")])
def test_an_empty_home_keeps_the_cache_in_the_home_of_the_password_entry(
    repo: Path, tmp_path: Path, home: str, xdg: str
) -> None:
    """With HOME="" the check wrote its cache in /.cache (as root), with HOME=relative in the
    working folder."""
    import pwd

    entry = Path(pwd.getpwuid(os.getuid()).pw_dir)
    if not entry.is_absolute() or entry == Path("/") or not os.access(entry, os.W_OK):
        pytest.skip("this user's home in the password database cannot hold a cache")
    name = f"sync-check-{checkcache.sha256(os.fsencode(repo.resolve()))[:16]}.json"
    expected = entry / ".cache" / "tac-bootstrap" / name
    made = [f for f in (entry / ".cache", expected.parent) if not f.exists()]  # removed after
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "XDG_CACHE_HOME": xdg}
    try:
        proc = run("sync-check", "--root", repo, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert not (Path("/.cache/tac-bootstrap") / name).exists()
        assert sorted(tmp_path.iterdir()) == [repo]  # nothing in the working folder
        assert expected.is_file()
    finally:
        expected.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()


def become_nobody_known() -> None:
    """Become a user and group that have no password entry and no home (in a child)."""
    os.setgid(NOBODY_KNOWN)
    os.setuid(NOBODY_KNOWN)


def skip_unless_nobody_known_can_run_python() -> None:
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "0"], check=False, preexec_fn=become_nobody_known, timeout=60
        )
    except PermissionError:
        probe = None
    if probe is None or probe.returncode != 0:
        pytest.skip("another user cannot run this interpreter (it lives in a private folder)")


@pytest.fixture
def shared_repo() -> Iterator[Path]:
    """A repository another user can read (pytest's own temporary folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="tac-bootstrap-nohome-"))
    folder.chmod(0o755)
    shutil.copytree(FIXTURE, folder / "repo", ignore=shutil.ignore_patterns("__pycache__"))
    yield folder / "repo"
    shutil.rmtree(folder)


@pytest.mark.another_user
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="becoming another user needs root"
)
@pytest.mark.parametrize("extra", [[], ["--format", "json"], ["--format", "github"], ["--strict"]])
def test_a_user_without_a_home_is_checked_without_a_cache(
    shared_repo: Path, extra: list[str]
) -> None:
    """No HOME and no password entry: Path.home() raised, and the check ended in a traceback."""
    skip_unless_nobody_known_can_run_python()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    plain = shared_repo / "pkg" / "orch" / "plain.txt"
    for text, code in ((plain.read_text(), 0), (plain.read_text() + "edited\n", 1)):
        plain.write_text(text)
        proc = run(
            "sync-check", "--root", shared_repo, *extra, env=env, preexec_fn=become_nobody_known
        )
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize(
    "args",
    [
        ["sync-check", "--no-cache"],
        ["sync-check", "--no-cache", "--format", "github"],
        ["sync", "--dry-run"],
    ],
)
def test_a_stdout_that_cannot_show_a_character_shows_it_escaped(
    repo: Path, encoding: str, args: list[str]
) -> None:
    """PYTHONIOENCODING=ascii (or a C locale without UTF-8 mode): a UnicodeEncodeError before."""
    plain = repo / "pkg" / "orch" / "plain.txt"
    plain.write_text(plain.read_text() + "price: 5 \u20ac\n")
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    proc = run(*args, "--root", repo, env=env)
    assert proc.returncode == (1 if args[0] == "sync-check" else 0), proc.stderr
    assert "Traceback" not in proc.stderr
    # Escaped; Click writes its own UTF-8 over a stdout it takes for misconfigured ASCII.
    assert "price: 5 \\u20ac" in proc.stdout or "price: 5 \u20ac" in proc.stdout


@pytest.mark.another_user
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="becoming another user needs root"
)
def test_a_user_without_a_home_can_init_and_update(shared_repo: Path) -> None:
    """Both render through Jinja2's bytecode cache, whose folder is under the home."""
    skip_unless_nobody_known_can_run_python()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    shared_repo.parent.chmod(0o777)
    project = shared_repo.parent / "app"
    commands: list[list[str | Path]] = [
        ["init", "app", "-o", project],
        ["update", "--root", project],
    ]
    for args in commands:
        proc = run(*args, env=env, preexec_fn=become_nobody_known, cwd=shared_repo.parent)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="no /proc here")
def test_reading_a_small_file_takes_no_buffer_the_size_of_the_bound(tmp_path: Path) -> None:
    """Each read took 64 MiB of address space: a MemoryError traceback under ``ulimit -v``
    (80 MB), reading the 1 KB manifest."""
    (tmp_path / "small.txt").write_text("small\n")
    code = (
        "import resource, sys\n"
        "from tac_bootstrap.confine import read_file\n"
        "status = open('/proc/self/status').read().split('VmSize:')[1].split()\n"
        "limit = int(status[0]) * 1024 + 32 * 1024 * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))\n"
        "print(read_file(sys.argv[1]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, tmp_path / "small.txt"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (0, "b'small\\n'\n"), proc.stderr


def test_a_file_without_a_size_is_read_whole() -> None:
    from tac_bootstrap.confine import read_file

    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc here")
    assert read_file("/proc/self/status").startswith(b"Name:")


def test_running_out_of_memory_is_one_error_line() -> None:
    """A memory limit too low for the command ended in a MemoryError traceback."""
    code = (
        "import sys\n"
        "import tac_bootstrap.entry as entry\n"
        "def fail():\n"
        "    raise MemoryError\n"
        "entry._main = fail\n"
        "entry.main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: out of memory: the process's memory limit is too low\n",
    )


def _ending_on(raised: str, args: list[str], *, limited: bool) -> subprocess.CompletedProcess[str]:
    """Run the entry point whose command raises ``raised``, under a memory limit or not."""
    import resource

    code = (
        "import sys\n"
        "import tac_bootstrap.entry as entry\n"
        f"sys.argv = {['tac-bootstrap', *args]!r}\n"
        "def fail():\n"
        f"    raise {raised}\n"
        "entry._main = fail\n"
        "entry.main()\n"
    )

    def limit() -> None:  # finite, and far above what Python needs
        resource.setrlimit(resource.RLIMIT_AS, (1 << 36, resource.RLIM_INFINITY))

    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=limit if limited else None,
    )


SHORT_OF_MEMORY = {  # what an import short of memory under `ulimit -v` raised
    "library-not-mapped": (
        "ImportError('/usr/lib/python3/select.so: failed to map segment from shared object')",
        False,
    ),
    "library-no-memory": ("ImportError('libsqlite3.so.0: cannot allocate memory')", False),
    "import-without-exception": ("SystemError('error return without exception set')", True),
    "memory-error": ("MemoryError", False),  # the line was said, the report asked for was not
    "folder-not-listed": (  # importlib's listing of a folder on sys.path
        "OSError(12, 'Cannot allocate memory', '/usr/lib/python3.11/collections')",
        False,
    ),
}


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
@pytest.mark.parametrize("case", sorted(SHORT_OF_MEMORY))
def test_an_import_short_of_memory_is_the_out_of_memory_line(case: str, fmt: str) -> None:
    """Each import was a traceback, exit 1 (`sync-check` under `ulimit -v 22000`)."""
    from tac_bootstrap import report

    raised, limited = SHORT_OF_MEMORY[case]
    proc = _ending_on(raised, ["sync-check", "--format", fmt], limited=limited)
    message = "out of memory: the process's memory limit is too low"
    assert (proc.returncode, proc.stderr) == (2, f"error: {message}\n")
    if fmt == "json":
        assert proc.stdout == report.error_json(message)
    elif fmt == "github":
        assert proc.stdout == report.annotation("sync-check could not run", message)
    else:
        assert proc.stdout == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize(("fmt", "what"), [("json", "JSON report"), ("github", "annotation")])
def test_out_of_memory_whose_report_stdout_refuses_says_it_is_lost(fmt: str, what: str) -> None:
    """The out-of-memory line alone was said: nothing told that stdout got no report."""
    code = (
        "import sys\n"
        "import tac_bootstrap.entry as entry\n"
        f"sys.argv = {['tac-bootstrap', 'sync-check', '--format', fmt]!r}\n"
        "def fail():\n"
        "    raise MemoryError\n"
        "entry._main = fail\n"
        "entry.main()\n"
    )
    with Path("/dev/full").open("w") as full:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: out of memory: the process's memory limit is too low\n"
        f"error: the {what} of the error above could not be written: No space left on device\n",
    )


@pytest.mark.parametrize(
    ("raised", "limited"),
    [
        ("ImportError('No module named x')", True),
        ("SystemError('error return without exception set')", False),
    ],
)
def test_an_import_error_or_system_error_of_another_cause_is_not_called_memory(
    raised: str, *, limited: bool
) -> None:
    proc = _ending_on(raised, ["sync-check"], limited=limited)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == raised.replace("('", ": ").replace("')", "")


@pytest.mark.parametrize("limit", [5, 9])
def test_too_few_file_descriptors_for_the_module_s_process_is_one_error_line(
    repo: Path, limit: int
) -> None:
    """Under ``ulimit -n 12`` the models module's process could not start: an
    AttributeError traceback from cleaning up the process that did not exist."""
    import resource

    def lower_the_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    proc = run(
        "sync-check", "--no-cache", env=dict(os.environ), cwd=repo, preexec_fn=lower_the_limit
    )
    models = repo / "pkg" / "orch" / "models.py"
    # With 5 descriptors the check cannot even open the module's folder (it hands the child
    # that open folder); with 9 it opens it but cannot start the child.
    cannot = {
        5: "cannot open the folder of the module",
        9: "cannot start a process to import the models module",
    }[limit]
    assert (proc.returncode, proc.stderr) == (
        2,
        f"error: {models}: {cannot}: Too many open files\n",
    )


@pytest.mark.parametrize("umask", [0o777, 0o077], ids=["umask777", "umask077"])
def test_the_tool_s_own_folders_and_files_are_usable_by_their_owner_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    """Under umask 777, update made .tac-bootstrap/ mode 000 (its next write there failed) and
    the caches' folders alike."""
    env = {**os.environ, checkcache.CACHE_ENV: str(tmp_path / "init-cache")}
    assert run("init", "my-app", env=env, cwd=tmp_path).returncode == 0
    project = tmp_path / "my-app"
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nMine.\n")  # edited: update backs it up
    env[checkcache.CACHE_ENV] = str(tmp_path / "cache" / "deep")  # made under the umask
    args: list[str | Path] = ["update", "--root", project, "-d", "description=Other."]
    proc = run(*args, env=env, cwd=tmp_path, preexec_fn=lambda: os.umask(umask))
    assert proc.returncode == 0, proc.stderr
    made = [*project.glob(".tac-bootstrap/**/*"), project / ".tac-bootstrap"]
    made += [tmp_path / "cache", *(tmp_path / "cache").rglob("*")]
    assert any(path.name == "README.md" for path in made)  # a backup
    assert any(path.name == "jinja" for path in made)  # the render cache
    modes = {path: stat.S_IMODE(path.lstat().st_mode) for path in made}
    unusable = {
        str(path): oct(mode)
        for path, mode in modes.items()
        if mode & (0o700 if path.is_dir() else 0o600) != (0o700 if path.is_dir() else 0o600)
    }
    assert unusable == {}


def skipped_by(repo: Path, env: dict[str, str]) -> tuple[int, int]:
    """Run sync-check --format json: return its exit code and how many checks it skipped."""
    proc = run("sync-check", "--format", "json", "--root", repo, env=env)
    return proc.returncode, json.loads(proc.stdout)["skipped"]


def test_a_cache_folder_another_user_could_replace_is_not_used(repo: Path, tmp_path: Path) -> None:
    """A cache below a folder any user may write (`TAC_BOOTSTRAP_CACHE_DIR=/tmp/shared/c`) was
    used: another user could put their records there (of a drifted pair as clean) or their
    compiled templates (code that runs)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # writable by all, not sticky: an entry can be renamed by anyone
    env = {**os.environ, checkcache.CACHE_ENV: str(shared / "cache")}
    assert skipped_by(repo, env) == (0, 0)
    assert skipped_by(repo, env) == (0, 0)  # nothing remembered: no cache was used
    assert list(shared.iterdir()) == []
    (shared).chmod(0o1777)  # sticky, as /tmp: only an entry's owner may rename it
    assert skipped_by(repo, env) == (0, 0)
    assert skipped_by(repo, env) == (0, 6)
    assert stat.S_IMODE((shared / "cache").stat().st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_clean_record_another_user_wrote_in_the_cache_is_not_trusted(
    repo: Path, tmp_path: Path
) -> None:
    """A cache folder open to all (0777), then a record put there by another user that says
    a drifted BASE was checked clean: sync-check skipped the pair and passed, exit 0."""
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    env = {**os.environ, checkcache.CACHE_ENV: str(cache)}
    assert skipped_by(repo, env) == (0, 0)
    plain = repo / "pkg/orch/plain.txt"
    plain.write_text(plain.read_text() + "drifted\n")
    (record,) = cache.glob("sync-check-*.json")
    forged = json.loads(record.read_text())
    forged["entries"]["pair:pkg/orch/plain.txt"]["base"] = checkcache.sha256(plain.read_bytes())
    (cache / "forged").write_text(json.dumps(forged))
    os.chown(cache / "forged", 65534, 65534)  # another user's file
    (cache / "forged").replace(record)
    code, _ = skipped_by(repo, env)
    assert code == 1
    assert stat.S_IMODE(cache.stat().st_mode) & 0o022 == 0  # made private


def test_a_cache_folder_writable_by_the_user_s_own_group_is_still_used(
    repo: Path, tmp_path: Path
) -> None:
    """umask 002 makes folders 775 for a user private group (named as the user, no one else
    in it): the cache there stays in use, and its folder keeps its mode."""
    from tac_bootstrap import confine

    if not hasattr(os, "getegid") or not confine._own_group(os.getegid()):
        pytest.skip("this user's group is not a user private group")
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o775)
    env = {**os.environ, checkcache.CACHE_ENV: str(home / "cache")}
    assert skipped_by(repo, env) == (0, 0)
    assert skipped_by(repo, env) == (0, 6)
    assert stat.S_IMODE(home.stat().st_mode) == 0o775


@pytest.mark.skipif(not hasattr(os, "setsid") or sys.platform != "linux", reason="ulimit -f")
def test_a_file_size_limit_leaves_no_cut_bytecode_behind(tmp_path: Path) -> None:
    """`ulimit -f 1` (1024 bytes, bash's smallest) and an install whose bytecode is not written
    yet (editable, --no-compile, an installer that compiles nothing).

    Python writes a module's bytecode cache and renames it into place without checking that the
    write was whole: cut at the limit, the cache of a module the check imports (the checker's
    own, or one the child imports) made every later run a traceback ("EOFError: marshal data
    too short"). The console script imports ``__main__`` and ``entry`` before any code of theirs
    runs: the package's ``__init__`` stops the caches first, and its own is under the limit.
    """
    import resource
    import site

    import tac_bootstrap

    copy = tmp_path / "install"
    package = copy / "tac_bootstrap"
    source = Path(tac_bootstrap.__file__).parent
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__"))
    # -S: this venv's .pth would put the checkout ahead of the copy; its libraries are added.
    where = [str(copy), *site.getsitepackages()]
    check = (
        f"import sys; sys.path[:0] = {where!r}; "
        f"sys.argv = ['tac-bootstrap', 'sync-check', '--root', {str(FIXTURE)!r}, '--no-cache']; "
        "from tac_bootstrap.__main__ import main; main()"
    )

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["TAC_BOOTSTRAP_CACHE_DIR"] = str(tmp_path / "cache")
    first = subprocess.run(
        [sys.executable, "-S", "-c", check],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        preexec_fn=limited,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    cut = [p.name for p in package.rglob("*.pyc") if not _whole_bytecode(p)]
    assert cut == []
    assert list(package.glob("__pycache__/__init__.*.pyc"))  # caches are written here
    again = subprocess.run(
        [sys.executable, "-S", "-c", check],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert (again.returncode, again.stderr) == (0, "sync-check: 6 check(s): ok\n")


def _whole_bytecode(path: Path) -> bool:
    """Whether the bytecode cache file ``path`` holds a whole code object after its header."""
    import marshal

    try:
        marshal.loads(path.read_bytes()[16:])  # noqa: S302 - a cache this test had written
    except (EOFError, ValueError, TypeError):
        return False
    return True
