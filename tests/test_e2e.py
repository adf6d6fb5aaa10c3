"""End to end: build the wheel, install it in a fresh venv, generate projects outside the repo,
install each generated project in another fresh venv and run its own test suite.

This is the only test that catches templates missing from the wheel, or a generated project
that forgets to declare a dependency. It needs the package index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e


def run(
    *args: str | Path,
    cwd: Path | None = None,
    timeout: float = 600,
    env_extra: dict[str, str] | None = None,
) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(env_extra or {})
    proc = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def venv(path: Path) -> Path:
    run(sys.executable, "-m", "venv", path)
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, REPO)
    (built,) = dist.glob("tac_bootstrap-*.whl")
    return built


@pytest.fixture(scope="module")
def tool(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = venv(tmp_path_factory.mktemp("tool") / "venv")
    run(python, "-m", "pip", "install", "--quiet", wheel)
    return python.with_name("tac-bootstrap")


def test_wheel_carries_the_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "tac_bootstrap/templates/project/pyproject.toml.j2" in names
    assert "tac_bootstrap/templates/project/.gitignore.j2" in names
    assert "tac_bootstrap/templates/project/.github/workflows/ci.yml.j2" in names
    assert "tac_bootstrap/templates/project/src/{{ package }}/py.typed" in names
    assert "tac_bootstrap/templates/licenses/Apache-2.0.j2" in names
    assert any(n.startswith("tac_bootstrap/templates/orchestrator/") for n in names)
    assert "tac_bootstrap/orchestrator/schema_orchestrator.sql" in names


def test_wheel_carries_the_templates_compiled(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    modules = [n for n in names if n.startswith("tac_bootstrap/_precompiled/")]
    assert (
        len(modules) == len(list((REPO / "templates").rglob("*.j2"))) + 1
    )  # + the Jinja2 it was made by


def test_installed_init_renders_with_the_compiled_templates(tool: Path, tmp_path: Path) -> None:
    """pip byte-compiled the modules; `init` uses them all: it compiles nothing, so it stores
    nothing in an empty cache folder, and it writes the project a checkout renders."""
    from tac_bootstrap.scaffold import ANSWERS_FILE, render_project
    from tac_bootstrap.spec import ProjectSpec

    modules = tool.parent.parent.glob("lib/python*/site-packages/tac_bootstrap/_precompiled")
    (folder,) = modules
    assert len(list((folder / "__pycache__").glob("*.pyc"))) == len(list(folder.glob("*.py")))
    cache = tmp_path / "cache"
    cache.mkdir()
    data = ("description=Agents that remember", "author=Ada Lovelace", "license=Apache-2.0")
    args = ["init", "My.App", "--with-orchestrator", *(a for d in data for a in ("-d", d))]
    run(tool, *args, cwd=tmp_path, env_extra={"TAC_BOOTSTRAP_CACHE_DIR": str(cache)})
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    project = tmp_path / "My.App"
    written = {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and p.name != ANSWERS_FILE
    }
    spec = ProjectSpec.build(
        "My.App", with_orchestrator=True, data=dict(d.split("=", 1) for d in data)
    )
    assert written == render_project(spec, cache=False)


def test_generated_projects_install_and_pass_their_own_checks(tool: Path, tmp_path: Path) -> None:
    out = run(tool, "init", "my-app", "--with-orchestrator", cwd=tmp_path)
    assert "src/my_app/database.py" in out.splitlines()
    run(tool, "init", "plain-app", "-d", "description=No orchestrator", cwd=tmp_path)
    for project in ("my-app", "plain-app"):
        root = tmp_path / project
        python = venv(tmp_path / f"venv-{project}")  # one each: proves its own dependencies
        run(python, "-m", "pip", "install", "--quiet", "-e", f"{root}[dev]")
        # The four checks of the project's CI workflow, with the project's own configuration.
        bin_dir = python.parent
        run(bin_dir / "ruff", "check", "--no-cache", ".", cwd=root)
        run(bin_dir / "ruff", "format", "--no-cache", "--check", ".", cwd=root)
        assert "Success: no issues found" in run(bin_dir / "mypy", "--no-incremental", cwd=root)
        report = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
        assert " passed" in report
        assert " failed" not in report
        # ... and the fifth: tac-bootstrap's own check of the project, as generated.
        run(tool, "sync-check", "--no-cache", "--root", root)
    # The database command line of the orchestrator project, as its console script.
    db_cli = tmp_path / "venv-my-app" / python.parent.name / "my-app-db"
    path = tmp_path / "cli.db"
    assert "created with schema version" in run(db_cli, "--path", path, "init")
    assert "journal mode: wal" in run(db_cli, "--path", path, "info")
    assert ": ok (" in run(db_cli, "--path", path, "check")


def test_a_postgres_project_passes_its_checks_against_the_server(
    tool: Path, tmp_path: Path
) -> None:
    """The server is the one .ci/pg started for this repository's tests, if any."""
    out = run(tool, "init", "pg-app", "--with-orchestrator", "--db", "postgres", cwd=tmp_path)
    assert "src/pg_app/database_postgres.py" in out.splitlines()
    root = tmp_path / "pg-app"
    python = venv(tmp_path / "venv")
    run(python, "-m", "pip", "install", "--quiet", "-e", f"{root}[dev]")
    bin_dir = python.parent
    run(bin_dir / "ruff", "check", "--no-cache", ".", cwd=root)
    run(bin_dir / "ruff", "format", "--no-cache", "--check", ".", cwd=root)
    assert "Success: no issues found" in run(bin_dir / "mypy", "--no-incremental", cwd=root)
    url = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL", "")
    required = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES", "")
    env = {"PG_APP_TEST_DATABASE_URL": url, "PG_APP_REQUIRE_POSTGRES": required}
    args = (python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider")
    report = run(*args, cwd=root, env_extra=env)
    assert " passed" in report
    assert " failed" not in report
    if url:
        assert "skipped" not in report, report
    else:
        assert "no PostgreSQL server: set PG_APP_TEST_DATABASE_URL" in report
    run(tool, "sync-check", "--no-cache", "--root", root)


def test_generated_project_builds_a_wheel_with_its_types_and_license(
    tool: Path, tmp_path: Path
) -> None:
    run(tool, "init", "my-app", "--with-orchestrator", "-d", "license=Apache-2.0", cwd=tmp_path)
    dist = tmp_path / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "-w",
        dist,
        tmp_path / "my-app",
    )
    (built,) = dist.glob("my_app-*.whl")
    with zipfile.ZipFile(built) as wheel:
        names = set(wheel.namelist())
        assert {"my_app/py.typed", "my_app/schema_orchestrator.sql", "my_app/db.py"} <= names
        assert "my_app/migrations/0001_initial.sql" in names
        assert "my_app-0.1.0.dist-info/licenses/LICENSE" in names
        metadata = wheel.read("my_app-0.1.0.dist-info/METADATA").decode()
    assert "\nLicense-Expression: Apache-2.0\n" in metadata


def test_installed_tool_runs_outside_the_repo(tool: Path, tmp_path: Path) -> None:
    assert run(tool, "--version").startswith("tac-bootstrap ")
    listing = run(tool, "render", "--list", cwd=tmp_path).splitlines()
    assert "project/pyproject.toml.j2" in listing
