"""What sync-check walks and reads for a hostile repository stays in the root.

Globs through symlinked folders, the walk of the models' siblings, the cached check's walk of
a template's includes, the check cache's own temporary file, and what a failed ``sync``
write leaves. Process cases go through the
installed script; the walks are watched by recording every folder listed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tac_bootstrap import checkcache, sync
from tac_bootstrap.cli import app
from tac_bootstrap.confine import UnreadableError
from tac_bootstrap.manifest import load_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"
EXE = Path(sys.executable).with_name("tac-bootstrap")
ORCH = Path("pkg/orch")
TEMPLATES = Path("templates/orch")
PLAIN = "Plain text: no Jinja logic here.\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    (folder / "deeper").mkdir(parents=True)
    (folder / "deeper" / "secret.txt").write_text("TOP SECRET\n")
    return folder


def run(*args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(cwd / "cache"), **env},
        timeout=120,
    )


def in_process(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command in this process as :func:`run` runs the script (the walk is the case).

    An exception the command does not turn into its error line fails the test, as a traceback.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setenv("TAC_BOOTSTRAP_CACHE_DIR", str(cwd / "cache"))
        result = CliRunner().invoke(app, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def sync_after(
    script: str, folder: Path, repo: Path, tmp_path: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """Run ``sync`` after the shell ``script``, with ``$0`` the ``folder`` and ``$$`` the pid of
    ``sync`` (the shell becomes it, through exec): to plant a file at a temporary name of it."""
    return subprocess.run(
        ["sh", "-c", script + ' && exec "$@"', folder, EXE, "sync", "--root", repo, *options],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / "cache")},
        timeout=120,
    )


def set_key(root: Path, key: str, value: str) -> None:
    """Replace one line of the manifest, ``key = …``, with ``key = value``."""
    manifest = root / "pyproject.toml"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text(
        "".join(f"{key} = {value}\n" if ln.startswith(f"{key} = ") else ln for ln in lines)
    )


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder listed (os.scandir, os.listdir, os.walk), resolved."""
    seen: list[str] = []
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path: Any = ".") -> Any:
        seen.append(os.path.realpath(path))
        return real_scandir(path)

    def listdir(path: Any = ".") -> Any:
        seen.append(os.path.realpath(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    return seen


def outside_of(root: Path, folders: list[str]) -> list[str]:
    real = os.path.realpath(root)
    return [f for f in folders if f != real and not f.startswith(real + os.sep)]


@pytest.mark.parametrize(
    ("link", "pattern"),
    [
        ("ext", "ext/*"),
        ("ext", "ext/*/*"),
        ("ext", "ext/**"),
        ("pkg/ext", "pkg/*/*"),
        ("pkg/ext", "**/ext/*"),
        ("pkg/ext", "pkg/[e]xt/*"),
    ],
)
@pytest.mark.parametrize("key", ["base_globs", "unpaired"])
def test_a_glob_does_not_follow_a_symlinked_folder_out_of_the_root(
    repo: Path, outside: Path, listed: list[str], link: str, pattern: str, key: str
) -> None:
    """glob.glob followed ``ext -> /`` in ``ext/*`` and listed the file system."""
    (repo / link).symlink_to(outside)
    set_key(repo, key, f'["pkg/orch/*", "{pattern}"]' if key == "base_globs" else f'["{pattern}"]')
    manifest = load_manifest(repo)
    assert manifest is not None
    problems = sync.orphans(manifest)
    assert outside_of(repo, listed) == []
    assert not any("secret" in p.path for p in problems)


def test_a_glob_follows_a_symlinked_folder_that_stays_in_the_root(repo: Path) -> None:
    (repo / "pkg" / "alias").symlink_to("orch")
    set_key(repo, "base_globs", '["pkg/orch/*", "pkg/alias/*"]')
    manifest = load_manifest(repo)
    assert manifest is not None
    orphans = {p.path for p in sync.orphans(manifest)}
    assert "pkg/alias/plain.txt" in orphans  # a second name of a BASE: not one of the pairs'


def test_a_glob_through_proc_roots_ends(repo: Path, tmp_path: Path) -> None:
    """``ext -> /`` and ``ext/proc/*/root/…`` four times: every process to the fourth."""
    (repo / "ext").symlink_to("/")
    deep = "/".join(["ext", *["proc/*/root"] * 4, "x"])
    set_key(repo, "base_globs", f'["pkg/orch/*", "{deep}"]')
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_wildcards_do_not_enter_links_to_their_own_folder(repo: Path, tmp_path: Path) -> None:
    """Two links to ``.`` and ``*/*/…/*`` 30 deep: 2**30 paths, as ``**`` made before."""
    for name in ("l1", "l2"):
        (repo / ORCH / name).symlink_to(".")
    deep = "pkg/orch/" + "*/" * 30 + "x"
    set_key(repo, "base_globs", f'["pkg/orch/*", "{deep}"]')
    set_key(repo, "unpaired", '["pkg/orch/__init__.py", "pkg/orch/l1", "pkg/orch/l2"]')
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("key", ["models", "database"])
def test_the_models_siblings_are_not_listed_through_a_link_out_of_the_root(
    repo: Path, outside: Path, listed: list[str], key: str
) -> None:
    (repo / "ext").symlink_to(outside)
    set_key(repo, key, f'"ext/{key}.py"')
    manifest = load_manifest(repo)
    assert manifest is not None
    assert sync._agreement_digest(manifest) is None
    assert outside_of(repo, listed) == []


def test_the_models_siblings_are_read_only_for_a_cache(
    repo: Path, tmp_path: Path, listed: list[str]
) -> None:
    """The siblings are hashed for the cache's record: without a cache they were walked (and
    read) for nothing, each folder's entries looked up in a list, so 10,000 files beside the
    models took 12 s and 20,000 about 40 s of every check."""
    data = repo / ORCH / "data"
    data.mkdir()
    (data / "rows.txt").write_text("1\n")
    assert sync.check(repo, cache_dir=None).ok
    assert str(data) not in listed
    assert sync.check(repo, cache_dir=tmp_path / "cache").ok
    assert str(data) in listed


IF_FALSE = PLAIN + "{%% if false %%}{%% include %s %%}{%% endif %%}"


@pytest.mark.parametrize(
    ("include", "partial"),
    [
        ('"a\\x00b"', None),
        ('"partials/bad.j2"', b"{% if %}"),
        ('"partials/bad.j2"', b"\xff"),
        ('"partials/bad.j2"', b"{% if x %}" * 3000 + b"{% endif %}" * 3000),
    ],
    ids=["nul-name", "syntax-error", "not-utf8", "nested-too-deep"],
)
def test_an_include_that_is_not_rendered_does_not_crash_the_cached_check(
    repo: Path, tmp_path: Path, include: str, partial: bytes | None
) -> None:
    """The cached check walks includes that were not rendered (behind an ``if``): a NUL in
    the name or a partial that does not parse ended it in a traceback, and one that is not
    UTF-8 failed where ``--no-cache`` passed."""
    (repo / TEMPLATES / "plain.txt.j2").write_text(IF_FALSE % include)
    (repo / ORCH / "plain.txt").write_text(PLAIN)
    set_key(repo, "unpaired", '["pkg/orch/__init__.py", "templates/partials/*"]')
    if partial is not None:
        (repo / "templates" / "partials" / "bad.j2").write_bytes(partial)
    for args in ([], [], ["--no-cache"]):
        proc = in_process("sync-check", "--root", repo, *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["partials/header.j2/", "partials/./header.j2/."])
def test_a_change_to_a_template_included_by_a_name_with_empty_segments_is_seen_when_cached(
    repo: Path, tmp_path: Path, name: str
) -> None:
    """A name is read as Jinja2's loader reads it (``a.j2/`` is ``a.j2``): it was "Not a
    directory"; the cached check must hash the file the render reads, or an edit goes unseen."""
    (repo / TEMPLATES / "plain.txt.j2").write_text(f"{{% include '{name}' %}}")
    (repo / ORCH / "plain.txt").write_text('"""Generated for pkg.orch."""\n')
    set_key(repo, "unpaired", '["pkg/orch/__init__.py"]')
    first = in_process("sync-check", "--root", repo, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = in_process("sync-check", "--root", repo, cwd=tmp_path)
    assert "6 unchanged since the last clean check" in again.stderr  # the same file hashed
    (repo / "templates" / "partials" / "header.j2").write_text("edited {{ package }}")
    cached = in_process("sync-check", "--root", repo, cwd=tmp_path)
    assert cached.returncode == 1, cached.stderr
    assert "+edited pkg.orch" in cached.stdout


@pytest.mark.parametrize("target", ["../partials/header.j2/", "l2.j2"])
def test_an_included_link_that_does_not_open_is_missing_for_the_cached_check_too(
    repo: Path, tmp_path: Path, target: str
) -> None:
    """A link naming a file as a folder (``l.j2 -> header.j2/``) is missing, as Jinja2's loader
    finds it (``ignore missing``: nothing). The cached check's walk of includes stopped at it
    with "cannot read …: Not a directory"; a later fix of the link must be seen."""
    (repo / TEMPLATES / "plain.txt.j2").write_text(
        PLAIN + "{% include 'orch/l.j2' ignore missing %}"
    )
    (repo / ORCH / "plain.txt").write_text(PLAIN)
    (repo / TEMPLATES / "l2.j2").symlink_to("../partials/header.j2/")
    (repo / TEMPLATES / "l.j2").symlink_to(target)
    for args in (["--no-cache"], [], []):
        proc = in_process("sync-check", "--root", repo, *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert "6 unchanged since the last clean check" in proc.stderr  # the link hashed as missing
    (repo / TEMPLATES / "l.j2").unlink()
    (repo / TEMPLATES / "l.j2").symlink_to("../partials/header.j2")
    cached = in_process("sync-check", "--root", repo, cwd=tmp_path)
    assert cached.returncode == 1, cached.stderr
    assert "pkg/orch/plain.txt:1: drift: templates/orch/plain.txt.j2 changed" in cached.stdout


def test_an_include_name_longer_than_a_path_is_missing_for_the_cached_check_too(
    repo: Path, tmp_path: Path
) -> None:
    """The cached check's walk of a literal include name of 300,000 folders resolved it
    folder by folder into the 30 s render time limit (exit 2) where the render finds it
    missing at once (``ignore missing``: nothing included)."""
    name = "a/" * 300_000 + "x"
    (repo / TEMPLATES / "plain.txt.j2").write_text(
        PLAIN + f'{{% include "{name}" ignore missing %}}'
    )
    (repo / ORCH / "plain.txt").write_text(PLAIN)
    for args in ([], [], ["--no-cache"]):
        proc = in_process("sync-check", "--root", repo, *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("where", ["inside the root", "outside the root"])
def test_a_cached_template_that_became_a_link_out_of_its_folder_is_checked_again(
    repo: Path, tmp_path: Path, outside: Path, where: str
) -> None:
    """Same bytes through a link out of the templates folder: the cache passed what
    ``--no-cache`` refuses, and read the file outside the root to hash it."""
    assert in_process("sync-check", "--root", repo, cwd=tmp_path).returncode == 0
    partial = repo / "templates" / "partials" / "header.j2"
    target = repo / "copy.j2" if where == "inside the root" else outside / "header.j2"
    shutil.copy(partial, target)
    partial.unlink()
    partial.symlink_to(target)
    set_key(repo, "unpaired", '["pkg/orch/__init__.py", "copy.j2"]')
    cached = in_process("sync-check", "--root", repo, cwd=tmp_path)
    fresh = in_process("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert (cached.returncode, fresh.returncode) == (2, 2), (cached.stderr, fresh.stderr)
    assert "outside" in cached.stderr


def test_the_check_cache_does_not_write_through_a_link_at_its_temporary_name(
    tmp_path: Path,
) -> None:
    cache = checkcache.CheckCache(tmp_path / "cache", tmp_path)
    assert cache.path is not None
    cache.path.parent.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    tmp = cache.path.with_name(f"{cache.path.name}.{os.getpid()}.tmp")
    tmp.symlink_to(victim)
    cache.put("pair:x", {"base": "0"})
    cache.save()
    assert victim.read_text() == "keep\n"
    assert tmp.is_symlink()  # not ours to remove either


def test_a_file_at_the_temporary_name_of_a_write_is_kept_and_named_from_the_root(
    repo: Path, tmp_path: Path
) -> None:
    """A file named ``.NAME.PID.tmp`` (the shell's pid is the tool's, through exec) was
    removed when the write failed, and the error named the template from its own folder."""
    plain = repo / ORCH / "plain.txt"
    plain.write_text(plain.read_text() + "edited\n")
    script = 'printf keep > "$0/.plain.txt.j2.$$.tmp"'
    proc = sync_after(script, repo / TEMPLATES, repo, tmp_path, "--from", "base")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: cannot write templates/orch/plain.txt.j2: "), proc.stderr
    kept = list((repo / TEMPLATES).glob(".plain.txt.j2.*.tmp"))
    assert [p.read_text() for p in kept] == ["keep"]


def test_a_write_that_fails_leaves_no_file_rewritten(repo: Path, tmp_path: Path) -> None:
    """hello.py is written before plain.txt: it was rewritten when plain.txt's write failed."""
    for name in ("hello.py", "plain.txt"):
        path = repo / ORCH / name
        path.write_text(path.read_text() + "# edited\n")
    proc = sync_after('mkdir "$0/.plain.txt.$$.tmp"', repo / ORCH, repo, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: cannot write pkg/orch/plain.txt: "), proc.stderr
    for name in ("hello.py", "plain.txt"):
        assert (repo / ORCH / name).read_text().endswith("# edited\n"), name
    assert [p.name for p in (repo / ORCH).glob(".*.tmp")] == [
        next(p.name for p in (repo / ORCH).glob(".plain.txt.*.tmp"))
    ]  # only the folder that was there, no temporary file of sync's


def deep_folder(top: Path, depth: int) -> Path:
    """Make ``top/a/a/…/a`` ``depth`` folders deep, a file at the bottom; return the bottom."""
    bottom = top.joinpath(*["a"] * depth)
    bottom.mkdir(parents=True)
    (bottom / "leaf.txt").write_text("x\n")
    return bottom


def test_a_glob_over_a_folder_too_deep_is_one_error_line(repo: Path, tmp_path: Path) -> None:
    """``**`` over a folder 900 deep resolved each of its 900 matches: 31 s, then a pass."""
    deep_folder(repo / ORCH, 900)
    set_key(repo, "unpaired", '["pkg/orch/__init__.py", "pkg/orch/a/**"]')
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {repo / 'pyproject.toml'}: ")
    assert "glob 'pkg/orch/a/**' goes more than 128 folders deep" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_a_glob_resolves_only_the_files_it_matches(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deep folders are walked, their files matched; only the files are resolved."""
    deep_folder(repo / ORCH, 100)
    set_key(repo, "unpaired", '["pkg/orch/__init__.py", "pkg/orch/a/**"]')
    resolved: list[str] = []
    real_realpath = os.path.realpath

    def realpath(path: Any, **kwargs: Any) -> Any:
        resolved.append(str(path))
        return real_realpath(path, **kwargs)

    monkeypatch.setattr(os.path, "realpath", realpath)
    manifest = load_manifest(repo)
    assert manifest is not None
    assert sync.orphans(manifest) == []
    assert not [p for p in resolved if p.endswith(f"{os.sep}a")]


def nested(folder: Path, depth: int) -> None:
    """Make ``depth`` nested folders ``d`` in ``folder`` (deeper than the recursion limit)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def unnest(folder: Path) -> None:
    """Remove what :func:`nested` made (shutil.rmtree recurses too, in Python 3.11)."""
    fds = [os.open(folder, os.O_RDONLY)]
    try:
        while os.path.lexists(f"/proc/self/fd/{fds[-1]}/d"):
            fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
        while len(fds) > 1:
            os.close(fds.pop())
            os.rmdir("d", dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize("cached", [False, True])
def test_a_folder_deeper_than_the_recursion_limit_beside_the_models_is_walked(
    repo: Path, tmp_path: Path, cached: bool
) -> None:
    """Python 3.11's os.walk recurses: 1,100 folders beside the models ended in a traceback."""
    nested(repo / ORCH, 1100)
    try:
        args = () if cached else ("--no-cache",)
        proc = run("sync-check", "--root", repo, *args, cwd=tmp_path)
    finally:
        unnest(repo / ORCH)
    assert (proc.returncode, proc.stderr) == (0, "sync-check: 6 check(s): ok\n")


def test_several_double_stars_walk_each_folder_once(repo: Path, tmp_path: Path) -> None:
    """``**/**/…`` (16 of them) over a folder 18 deep: each folder was reached along every
    way to split its depth among them (an exponential number), and the check never ended."""
    nested(repo / ORCH, 18)
    set_key(repo, "unpaired", '["pkg/orch/__init__.py", "' + "**/" * 16 + 'nomatch"]')
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "sync-check: 6 check(s): ok\n")


def test_several_double_stars_still_match_at_every_depth(repo: Path) -> None:
    nested(repo / ORCH, 3)
    (repo / ORCH / "d" / "d" / "x.txt").write_text("x\n")
    set_key(repo, "base_globs", '["pkg/orch/*", "**/**/**/*.txt"]')
    manifest = load_manifest(repo)
    assert manifest is not None
    assert {p.path for p in sync.orphans(manifest)} == {"pkg/orch/d/d/x.txt"}


def test_a_write_that_fails_leaves_no_folder_it_created(repo: Path, tmp_path: Path) -> None:
    """``sync --from base`` creating a template in new folders, then failing on another file
    (a full disk): the new folders were left behind, empty."""
    set_key(repo, "template_globs", '["orch/**/*.j2", "new/**/*.j2"]')
    manifest = repo / "pyproject.toml"
    old = 'template = "orch/hello.py.j2"'
    manifest.write_text(manifest.read_text().replace(old, 'template = "new/deeper/hello.py.j2"'))
    (repo / TEMPLATES / "hello.py.j2").unlink()
    path = repo / ORCH / "plain.txt"
    path.write_text(path.read_text() + "edited\n")
    script = 'mkdir "$0/.plain.txt.j2.$$.tmp"'
    proc = sync_after(script, repo / TEMPLATES, repo, tmp_path, "--from", "base")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: cannot write templates/orch/plain.txt.j2: "), proc.stderr
    assert not (repo / "templates" / "new").exists()


def test_a_file_past_the_longest_path_a_glob_reaches_is_an_error_not_unlisted(
    repo: Path,
) -> None:
    """A folder whose path is longer than the system takes (20 names of 255 bytes) was listed
    as empty: the file in it, which ``pkg/orch/**`` matches, went unchecked and the check
    passed. Now the folder is named, as one that may not be read is."""
    fd = os.open(repo / ORCH, os.O_RDONLY)
    try:
        for k in range(20):
            name = f"{k:02d}" + "d" * 253
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("stray.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    set_key(repo, "base_globs", '["pkg/orch/**"]')
    manifest = load_manifest(repo)
    assert manifest is not None
    with pytest.raises(UnreadableError, match=r"^cannot read pkg/orch/00d+\.\.\.: File name too"):
        sync.orphans(manifest)
