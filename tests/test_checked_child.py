"""The process that imports a checked module: what its code, and the files around it, can do.

``sync-check`` imports the models and database modules of the repository it checks in a
child process with the user's rights (``tac_bootstrap.isolate``). Nothing that code does, and
nothing that changes the files while the check runs, may make this check, or a later one,
pass, nor lead the child outside the root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tac_bootstrap

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"
ORCH = Path("pkg/orch")
DESCRIBER = "tac_bootstrap.agreement:model_facts"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _swap_for_a_link(folder: Path, outside: Path) -> None:
    """Put a link to ``outside`` (a copy of ``folder`` with other models) in ``folder``'s place."""
    shutil.copytree(folder, outside)
    (outside / "models.py").write_text("raise SystemExit('imported from outside the root')\n")
    folder.rename(folder.with_name(folder.name + "-moved"))
    folder.symlink_to(outside, target_is_directory=True)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX: the folder is passed open")
def test_a_folder_replaced_by_a_link_after_the_check_resolved_it_is_not_imported(
    repo: Path, tmp_path: Path
) -> None:
    """The child resolved the module's path again: a link put in its folder's place between
    the check's resolving and the child's start led it outside the root, where it imported
    (and could read) what it found."""
    from tac_bootstrap.confine import confine
    from tac_bootstrap.isolate import Description, ModuleImportError

    models = confine(repo, str(ORCH / "models.py"))  # what the check resolved
    _swap_for_a_link(models.parent, tmp_path / "outside")
    with pytest.raises(ModuleImportError) as info:
        Description(models, DESCRIBER, what="models module").result(lambda x: x)
    message = str(info.value)
    assert message.startswith(f"{models}: the module's folder was replaced while the check ran")
    assert "outside the root" not in message


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_child_imports_from_the_folder_the_check_opened(repo: Path, tmp_path: Path) -> None:
    """The same race, later: the folder replaced once the check opened it, as the child
    starts. The child imports from the open folder, never from its path again."""
    from tac_bootstrap.isolate import _CHILD

    models = (repo / ORCH / "models.py").resolve()
    folder = os.open(models.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _swap_for_a_link(models.parent, tmp_path / "outside")
        package_parent = str(Path(tac_bootstrap.__file__).resolve().parent.parent)
        args = [package_parent, str(models), DESCRIBER, "models module", "-1", str(folder)]
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, *args],
            capture_output=True,
            pass_fds=(folder,),
            env={},
            check=False,
            timeout=120,
        )
    finally:
        os.close(folder)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert "error" not in answer, answer
    assert sorted(model["name"] for model in answer["result"])


EXE = Path(sys.executable).with_name("tac-bootstrap")


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(cwd / ".cache")}
    return subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("source", ["base", "template"])
def test_a_hard_link_to_a_file_outside_the_root_is_read_never_written_through(
    repo: Path, tmp_path: Path, source: str
) -> None:
    """A hard link is the root's own file (git never checks one out: in CI it cannot occur).
    It is read as any file is; ``sync`` replaces it by a rename, so the file's other name,
    outside the root, keeps its bytes. Refusing ``st_nlink > 1`` would refuse the backup a
    killed ``sync`` leaves (a hard link, ``.<name>.<pid>.orig``) and trees restored from
    hard-link snapshots."""
    outside = tmp_path / "outside" / "plain.txt"
    outside.parent.mkdir()
    outside.write_text("outside, edited\n")
    # The file sync writes: the BASE file from the template, or the template from --from base.
    written = repo / ("templates/orch/plain.txt.j2" if source == "base" else "pkg/orch/plain.txt")
    written.unlink()
    os.link(outside, written)
    check = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert check.returncode == 1, check.stderr
    assert "pkg/orch/plain.txt" in check.stdout
    assert "Traceback" not in check.stderr
    proc = run("sync", "--root", repo, "--from", source, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert outside.read_text() == "outside, edited\n"
    assert outside.stat().st_nlink == 1
    assert written.stat().st_nlink == 1
    assert run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path).returncode == 0


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"),
    reason="the system call filter is written for x86_64 and aarch64 Linux",
)
def test_the_module_watches_no_folder(repo: Path, tmp_path: Path) -> None:
    """Landlock does not cover inotify: the module could watch the root (which it may not
    list) and learn the names of the files the check opened there while it ran."""
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.inotify_init1(0)\n"
        f"if fd < 0 or libc.inotify_add_watch(fd, {str(repo).encode()!r}, 0xFFF) < 0:\n"
        "    raise PermissionError(ctypes.get_errno(), 'refused')\n"
    )
    for path in (repo / ORCH / "models.py", repo / "templates/orch/models.py.j2"):
        path.write_text(path.read_text() + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {ORCH}/models.py: ")  # relative to the root
    assert "PermissionError: [Errno 13] refused" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
