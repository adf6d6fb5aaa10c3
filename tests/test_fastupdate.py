"""The Typer-free update path: same streams and exit codes as Typer's, or a hand-over to it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tac_bootstrap import releases, scaffold
from tac_bootstrap.checkcache import CACHE_ENV, sha256
from tac_bootstrap.cli import app
from tac_bootstrap.fastupdate import main

OLD = "0.1.0"
ANSWERS = {"name": "my-app", "with_orchestrator": True, "data": {}}


@pytest.fixture(autouse=True)
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An orchestrator project as 0.1.0 generated it, from the release store."""
    root = tmp_path / "my-app"
    files = {rel: f.content for rel, f in releases.render(OLD, ANSWERS).items()}
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    answers = {
        "generator": "tac-bootstrap",
        "version": OLD,
        **ANSWERS,
        "files": {rel: sha256(content) for rel, content in files.items()},
    }
    (root / scaffold.ANSWERS_FILE).write_text(json.dumps(answers, indent=2, sort_keys=True))
    return root


def both(
    project: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[tuple[int | None, str, str], tuple[int, str, str]]:
    """Update two copies of the project, one on each path; return code, stdout and stderr."""
    other = project.with_name("other")
    shutil.rmtree(other, ignore_errors=True)
    shutil.copytree(project, other)
    fast = main(["--root", str(project), *args])
    out, err = capsys.readouterr()
    result = CliRunner().invoke(app, ["update", "--root", str(other), *args])
    return (fast, out, err.replace(str(project), "ROOT")), (
        result.exit_code,
        result.stdout,
        result.stderr.replace(str(other), "ROOT"),
    )


@pytest.mark.parametrize("args", [[], ["--format", "json"], ["--dry-run", "-d", "year=2030"]])
def test_same_output_as_typer(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    fast, typer = both(project, capsys, *args)
    assert fast == typer
    assert fast[0] == 0
    assert "src/my_app/database_errors.py" in fast[1]


def test_already_current_and_expected_errors(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(project)]) == 0
    capsys.readouterr()
    fast, typer = both(project, capsys)
    assert fast == typer
    assert fast[0] == 0
    (project / scaffold.ANSWERS_FILE).write_text("{")
    fast, typer = both(project, capsys)
    assert fast == typer
    assert fast[0] == 2
    assert fast[1] == ""
    assert fast[2].startswith("error: ")
    assert fast[2].count("\n") == 1


@pytest.mark.parametrize(
    "args", [["--help"], ["--format", "xml"], ["--root"], ["extra"], ["--dry-run=1"]]
)
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert main(args) is None


def test_a_file_as_root_is_left_to_typer(project: Path) -> None:
    assert main(["--root", str(project / "README.md")]) is None


def test_fast_path_imports_no_typer(project: Path) -> None:
    code = (
        "import sys; from tac_bootstrap.fastupdate import main\n"
        f"code = main(['--root', {str(project)!r}, '--dry-run'])\n"
        "print(code, 'typer' in sys.modules, file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stderr.endswith("0 False\n")
