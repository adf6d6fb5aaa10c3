"""The command line through Typer's CliRunner: exit codes, streams, bad input changing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tac_bootstrap import __version__
from tac_bootstrap.cli import app


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


BAD_INPUT = [
    (["init", ""], "project name is empty"),
    (["init", "."], "project name cannot be '.'"),
    (["init", ".."], "project name cannot be '..'"),
    (["init", "../x"], "project name '../x' is a path, not a name"),
    (["init", "/abs/x"], "project name '/abs/x' is a path, not a name"),
    (["init", "a/b"], "project name 'a/b' is a path, not a name"),
    (["init", "a\\b"], "is a path, not a name"),
    (["init", "a:b"], "project name 'a:b' contains ':'"),
    (["init", "a b"], "project name 'a b' contains whitespace"),
    (["init", "a\tb"], "contains whitespace"),
    (["init", "1app"], "must start with a letter, not '1'"),
    (["init", "--", "-app"], "must start with a letter, not '-'"),
    (["init", "import"], "'import' is a Python keyword"),
    (["init", "na\u00efve"], "contains '\u00ef'"),
    (["init", "x$y"], "contains '$'"),
    (["init", "a" * 101], "101 characters long; at most 100 are allowed"),
    (["init", "a\x00b"], "NUL byte"),
    (["init", "os"], "would shadow the standard-library module 'os'"),
    (["init", "my-app", "--data", "colour=red"], "unknown --data key 'colour'"),
    (["init", "my-app", "--data", "description"], "--data expects KEY=VALUE"),
    (["init", "my-app", "-d", "=x"], "--data expects KEY=VALUE, got '=x'"),
    (["init", "my-app", "-d", "version=1", "-d", "version=2"], "given more than once"),
    (["init", "my-app", "--with-orchestrator", "--db", "mysql"], "--db 'mysql' is not a database"),
    (["init", "my-app", "--with-orchestrator", "--db", ""], "choose one of: sqlite, postgres"),
    (["init", "my-app", "--db", "postgres"], "add --with-orchestrator"),
    (["init", "my-app", "-d", "version=one"], "--data version 'one' is not a version"),
    (["init", "my-app", "-d", "python_requires=3.9"], "3.11 or later"),
    (
        ["init", "my-app", "-d", "license=GPL-3.0"],
        "--data license 'GPL-3.0' is not offered; use one of MIT, Apache-2.0, BSD-3-Clause, none",
    ),
    (["init", "my-app", "-d", "license="], "--data license '' is not offered"),
    (["init", "my-app", "-d", "year=26"], "--data year '26' must be a year like 2026, or empty"),
    (["init", "my-app", "-d", "year=2026-2027"], "--data year '2026-2027' must be a year"),
    (["render", "project/nope.j2"], "no template 'project/nope.j2'"),
    (["render"], "missing TEMPLATE"),
    (["render", "project/README.md.j2", "--name", "1x"], "must start with a letter"),
    # --list listed the templates whatever else was given (exit 0)
    (["render", "--list", "--db", "oracle"], "--db 'oracle' is not a database"),
    (["render", "--list", "-d", "nokey"], "--data expects KEY=VALUE, got 'nokey'"),
    (["render", "--list", "--name", "os"], "would shadow the standard-library module 'os'"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[repr(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    in_tmp: Path, args: list[str], message: str
) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert out == ""
    assert list(in_tmp.iterdir()) == []


def test_init_prints_written_files_on_stdout_and_status_on_stderr(in_tmp: Path) -> None:
    code, out, err = invoke("init", "my-app")
    assert code == 0, err
    assert out.splitlines() == [
        ".github/workflows/ci.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "src/my_app/__init__.py",
        "src/my_app/py.typed",
        "tests/test_my_app.py",
        ".tac-bootstrap.json",
    ]
    assert "Wrote 10 files." in err
    assert "python -m pip install -e '.[dev]' && python -m pytest" in err
    assert (in_tmp / "my-app" / "src" / "my_app" / "__init__.py").is_file()


def test_init_output_option_chooses_the_folder(in_tmp: Path) -> None:
    code, _, err = invoke("init", "my-app", "-o", "elsewhere/here")
    assert code == 0, err
    assert (in_tmp / "elsewhere" / "here" / "pyproject.toml").is_file()
    assert not (in_tmp / "my-app").exists()


def test_init_refuses_a_non_empty_folder_and_keeps_it(in_tmp: Path) -> None:
    (in_tmp / "my-app").mkdir()
    (in_tmp / "my-app" / "pyproject.toml").write_text("mine\n")
    code, out, err = invoke("init", "my-app")
    assert code == 2
    assert err.startswith(
        "error: my-app exists and is not empty (it would overwrite pyproject.toml)"
    )
    assert out == ""
    assert (in_tmp / "my-app" / "pyproject.toml").read_text() == "mine\n"
    assert [p.name for p in (in_tmp / "my-app").iterdir()] == ["pyproject.toml"]


def test_init_force_overwrites_and_says_so(in_tmp: Path) -> None:
    invoke("init", "my-app")
    (in_tmp / "my-app" / "README.md").write_text("edited\n")
    code, out, err = invoke("init", "my-app", "--force")
    assert code == 0, err
    assert out == "README.md\n"
    assert "Overwrote: README.md" in err


def test_init_dry_run_shows_the_tree_and_writes_nothing(in_tmp: Path) -> None:
    code, out, err = invoke("init", "my-app", "--with-orchestrator", "--dry-run")
    assert code == 0, err
    assert "src/my_app/database.py" in out.splitlines()
    assert "Would write" in err
    assert "└── " in err or "├── " in err
    assert list(in_tmp.iterdir()) == []


def test_version_option() -> None:
    assert invoke("--version") == (0, f"tac-bootstrap {__version__}\n", "")


def test_help_explains_commands_and_exit_codes() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for text in ("init", "render", "Exit codes: 0 ok, 1 a check found problems, 2 bad input"):
        assert text in out


def test_init_help_has_examples() -> None:
    code, out, _ = invoke("init", "--help")
    assert code == 0
    assert "tac-bootstrap init my-app --with-orchestrator" in out
    assert "--dry-run" in out
    assert "--force" in out


def test_render_prints_one_template(in_tmp: Path) -> None:
    code, out, _ = invoke("render", "project/pyproject.toml.j2", "-d", "version=2.0.0")
    assert code == 0
    assert 'name = "my-app"' in out
    assert '"aiosqlite>=0.20",' not in out
    code, out, _ = invoke("render", "project/pyproject.toml.j2", "--with-orchestrator")
    assert '"aiosqlite>=0.20",' in out
    assert list(in_tmp.iterdir()) == []


def test_render_list_names_every_template() -> None:
    code, out, _ = invoke("render", "--list")
    assert code == 0
    assert "project/pyproject.toml.j2" in out.splitlines()
    assert any(line.startswith("orchestrator/") for line in out.splitlines())
    assert {"licenses/MIT.j2", "licenses/Apache-2.0.j2"} <= set(out.splitlines())


def test_render_shows_a_license_with_the_answers_given() -> None:
    code, out, _ = invoke("render", "licenses/MIT.j2", "-d", "author=Ada", "-d", "year=1843")
    assert code == 0
    assert "\nCopyright (c) 1843 Ada\n" in out


def test_init_db_postgres_adds_the_postgres_files_and_records_the_choice(in_tmp: Path) -> None:
    code, out, err = invoke("init", "my-app", "--with-orchestrator", "--db", "postgres")
    assert code == 0, err
    written = out.splitlines()
    assert "src/my_app/database_postgres.py" in written
    assert "src/my_app/schema_postgres.sql" in written
    assert "src/my_app/migrations_postgres/0001_initial.sql" in written
    assert "with the SQLite and PostgreSQL orchestrator layer" in err
    answers = json.loads((in_tmp / "my-app" / ".tac-bootstrap.json").read_text(encoding="utf-8"))
    assert answers["db"] == "postgres"


@pytest.mark.usefixtures("in_tmp")
def test_update_has_no_github_format() -> None:
    """`update --format github` is a usage error: annotations are sync-check's (README)."""
    code, out, err = invoke("update", "--format", "github")
    assert (code, out) == (2, "")
    assert "'github' is not one of 'text', 'json'" in err
