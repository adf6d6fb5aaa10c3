"""The Typer-free sync-check path: same streams and exit codes, or a hand-over to Typer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tac_bootstrap.checkcache import CACHE_ENV
from tac_bootstrap.cli import app
from tac_bootstrap.fastcheck import main, parse

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"


@pytest.fixture(autouse=True)
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.mark.parametrize(
    ("args", "parsed"),
    [
        ([], (Path(), "text", False, False)),
        (["--root", "r", "--format", "json"], (Path("r"), "json", False, False)),
        (["--root=r", "--format=github", "--no-cache"], (Path("r"), "github", True, False)),
        (["--root", "a", "--root", "b"], (Path("b"), "text", False, False)),
        (["--strict", "--root", "a"], (Path("a"), "text", False, True)),
        (["--strict=1"], None),
        (["--help"], None),
        (["--root"], None),
        (["--format", "xml"], None),
        (["--no-cache=1"], None),
        (["--rot", "r"], None),
        (["extra"], None),
        (["--root", "r", "--format"], None),
        (["--root=", "x"], None),
    ],
)
def test_parse(args: list[str], parsed: tuple[Path, str, bool, bool] | None) -> None:
    assert parse(args) == parsed


def both(
    repo: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[tuple[int | None, str, str], tuple[int, str, str]]:
    fast = main(["--root", str(repo), *args])
    out, err = capsys.readouterr()
    result = CliRunner().invoke(app, ["sync-check", "--root", str(repo), "--no-cache", *args])
    return (fast, out, err), (result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_same_output_as_typer(repo: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    (repo / "pkg/orch/plain.txt").write_text("changed\n")
    (repo / "pkg/orch/extra.py").write_text("")
    fast, typer = both(repo, capsys, "--no-cache", "--format", fmt)
    assert fast == typer
    assert fast[0] == 1


def test_clean_is_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fast, typer = both(repo, capsys, "--no-cache")
    assert fast == typer == (0, "", "sync-check: 6 check(s): ok\n")


def test_expected_errors_are_exit_2_with_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "pyproject.toml").write_text("[tool")
    assert main(["--root", str(repo)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert main(["--root", str(repo / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: root ")
    assert main(["--root", str(repo / "pkg/orch/plain.txt")]) is None  # Typer's usage error


def test_fast_path_imports_no_typer(repo: Path) -> None:
    code = (
        "import sys; from tac_bootstrap.fastcheck import main\n"
        f"code = main(['--root', {str(repo)!r}])\n"
        "print(code, 'typer' in sys.modules, 'pydantic' in sys.modules, file=sys.stderr)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stderr.endswith("0 False False\n")  # the models are described in a child
    assert runs[1].stderr.endswith("0 False False\n")


def test_github_annotations_escape_what_the_module_says(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Raw in the annotation, an escape sequence drives the reader's terminal (OSC 52 writes
    # its clipboard); the text report and stderr showed it escaped already.
    code = "\nraise RuntimeError('\\x1b]52;c;eA==\\x07 x')\n"
    with (repo / "pkg/orch/models.py").open("a") as base:
        base.write(code)
    with (repo / "templates/orch/models.py.j2").open("a") as template:
        template.write("{% raw %}" + code + "{% endraw %}")
    assert main(["--root", str(repo), "--no-cache", "--format", "github"]) == 2
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err
    assert out.endswith("RuntimeError: \\x1b]52;c;eA==\\x07 x\n")
