"""The bench's own virtual environments and the description of the machine it ran on.

Two venvs under ``bench/.work/``, made from the interpreter that runs the bench:
``project`` holds tac-bootstrap installed from this checkout as a user would (a built
wheel, not editable), ``peers`` holds cookiecutter, copier and cruft. They are kept apart
so a peer's pins never change the Typer or Pydantic that tac-bootstrap runs with.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
PEERS = ("cookiecutter==2.7.1", "copier==9.19.1", "cruft==2.16.0")
SOURCES = ("pyproject.toml", "hatch_build.py", "tac_bootstrap", "templates")


@dataclass(frozen=True)
class Venv:
    """A virtual environment: its folder and how to find its programs."""

    root: Path

    @property
    def python(self) -> Path:
        """Return the venv's interpreter."""
        return self.root / "bin" / "python"

    def bin(self, name: str) -> Path:
        """Return the path of a console script installed in the venv."""
        return self.root / "bin" / name


def _pip(venv: Venv, *args: str, log: Path) -> None:
    """Run pip install in ``venv``, its output appended to ``log``; raise if it fails."""
    with log.open("a", encoding="utf-8") as out:
        proc = subprocess.run(
            [str(venv.python), "-m", "pip", "install", "--disable-pip-version-check", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8").splitlines()[-5:]
        msg = f"pip install {' '.join(args)} failed: " + " / ".join(tail)
        raise RuntimeError(msg)


def _ensure_venv(root: Path) -> Venv:
    """Create the venv at ``root`` unless it exists and works."""
    venv = Venv(root)
    if not venv.python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
    return venv


def _stamp_ok(stamp: Path, key: str) -> bool:
    """Return whether ``stamp`` records ``key`` (the venv is up to date)."""
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == key


def sources_hash(repo: Path = REPO) -> str:
    """Hash the project files a wheel is built from, to reinstall only when they changed."""
    digest = hashlib.sha256()
    for name in SOURCES:
        base = repo / name
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(repo).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def project_venv() -> Venv:
    """Return the venv holding tac-bootstrap as built from this checkout, (re)installing it."""
    venv = _ensure_venv(WORK / "project")
    stamp, key = venv.root / "bench-stamp", sources_hash()
    if not _stamp_ok(stamp, key):
        log = WORK / "pip-project.log"
        _pip(venv, str(REPO), log=log)
        _pip(venv, "--force-reinstall", "--no-deps", str(REPO), log=log)
        stamp.write_text(key, encoding="utf-8")
    return venv


def peers_venv() -> Venv:
    """Return the venv holding the peers at the pinned versions, installing them once."""
    venv = _ensure_venv(WORK / "peers")
    stamp, key = venv.root / "bench-stamp", " ".join(PEERS)
    if not _stamp_ok(stamp, key):
        _pip(venv, *PEERS, log=WORK / "pip-peers.log")
        stamp.write_text(key, encoding="utf-8")
    return venv


def _cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's guess."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    """Return the machine's total memory in GiB, when Linux tells."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        first = meminfo.read_text(encoding="utf-8").splitlines()[0]
        return f"{int(first.split()[1]) / 2**20:.0f} GiB"
    return "unknown"


def _git_commit() -> str:
    """Return the checked-out commit, marked ``+dirty`` when the tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    # only what the installed wheel is built from counts: uncommitted files there are measured
    return commit + ("+uncommitted changes" if git("status", "--porcelain", "--", *SOURCES) else "")


def _versions(venv: Venv, names: tuple[str, ...]) -> str:
    """Return ``name version`` for each distribution installed in ``venv``."""
    code = (
        "import importlib.metadata as m, sys\n"
        "print(', '.join(f'{n} {m.version(n)}' for n in sys.argv[1:]))"
    )
    proc = subprocess.run(
        [str(venv.python), "-c", code, *names], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or proc.stderr.strip().splitlines()[-1]


def machine(project: Venv, peers: Venv | None) -> dict[str, str]:
    """Describe the machine, interpreter and package versions the figures come from."""
    info = {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "tac-bootstrap": _git_commit(),
        "project venv": _versions(project, ("typer", "jinja2", "pydantic", "rich", "aiosqlite")),
    }
    if peers is not None:
        info["peers"] = _versions(peers, ("cookiecutter", "copier", "cruft"))
    return info
