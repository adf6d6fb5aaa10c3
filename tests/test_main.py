"""The installed entry point and ``python -m tac_bootstrap``, run for real in subprocesses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tac_bootstrap import __version__

EXE = Path(sys.executable).with_name("tac-bootstrap")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, cwd=cwd
    )


def test_version_is_answered_without_importing_typer() -> None:
    code = (
        "import sys; sys.argv = ['tac-bootstrap', '--version']\n"
        "from tac_bootstrap.__main__ import main; main()\n"
        "assert 'typer' not in sys.modules and 'jinja2' not in sys.modules, sorted(sys.modules)\n"
    )
    proc = run(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"tac-bootstrap {__version__}\n"


def test_installed_script_and_module_agree_on_version() -> None:
    for cmd in ([EXE, "--version"], [sys.executable, "-m", "tac_bootstrap", "--version"]):
        proc = run(*cmd)
        assert (proc.returncode, proc.stdout) == (0, f"tac-bootstrap {__version__}\n")


def test_installed_script_creates_a_project(tmp_path: Path) -> None:
    proc = run(EXE, "init", "my-app", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pyproject.toml" in proc.stdout.splitlines()
    assert (tmp_path / "my-app" / ".tac-bootstrap.json").is_file()


def test_installed_script_reports_bad_input_without_traceback(tmp_path: Path) -> None:
    proc = run(EXE, "init", "../escape", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: project name '../escape' is a path, not a name; "
        "give a plain name and choose the folder with -o/--output\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_unknown_option_is_a_usage_error_with_exit_2(tmp_path: Path) -> None:
    proc = run(EXE, "init", "my-app", "--colour", cwd=tmp_path)
    assert proc.returncode == 2
    assert "No such option" in proc.stderr
    assert "Traceback" not in proc.stderr
