"""What the generated project's own tools say about it: linters, license, README example.

The end-to-end test installs each project and runs its four checks; these run the tools that
need no install (actionlint, pre-commit's config validation, ruff, the README's example with
the package on ``PYTHONPATH``) on every test run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tac_bootstrap.scaffold import init, render_project
from tac_bootstrap.spec import RUFF_VERSION, ProjectSpec, generator_requirement

BIN = Path(sys.executable).parent
# sha256 of the Apache License 2.0 as published at apache.org (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
SPECS = {
    "plain": ProjectSpec.build("my-app"),
    "orchestrator": ProjectSpec.build("my-app", with_orchestrator=True),
    "postgres": ProjectSpec.build("my-app", with_orchestrator=True, db="postgres"),
}


@pytest.fixture(scope="module", params=sorted(SPECS))
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp(request.param) / "my-app"
    init(SPECS[request.param], target)
    return target


def tool(
    name: str, *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / name, *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def test_workflow_passes_actionlint(project: Path) -> None:
    proc = tool("actionlint", "-no-color", ".github/workflows/ci.yml", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    ci = render_project(SPECS["plain"])[".github/workflows/ci.yml"].decode()
    (workflows / "ci.yml").write_text(ci.replace("python-version:", "python_version:"))
    proc = tool("actionlint", "-no-color", ".github/workflows/ci.yml", cwd=tmp_path)
    assert proc.returncode == 1
    assert 'input "python_version" is not defined' in proc.stdout


def test_workflow_runs_the_four_checks_and_sync_check(project: Path) -> None:
    ci = (project / ".github/workflows/ci.yml").read_text()
    for step in (
        f"python -m pip install -e '.[dev]' '{generator_requirement()}'",
        "ruff check .",
        "ruff format --check .",
        "mypy",
        "python -m pytest",
        "tac-bootstrap sync-check --format github",
    ):
        assert f"      - run: {step}\n" in ci


def test_a_postgres_workflow_starts_a_server_and_requires_its_tests(project: Path) -> None:
    ci = (project / ".github/workflows/ci.yml").read_text()
    postgres = (project / "src/my_app/database_postgres.py").exists()
    assert ("image: postgres:" in ci) is postgres
    assert ('MY_APP_REQUIRE_POSTGRES: "1"' in ci) is postgres
    assert ("MY_APP_TEST_DATABASE_URL: postgresql://" in ci) is postgres


def test_pre_commit_config_is_valid(project: Path, tmp_path: Path) -> None:
    home = {"PRE_COMMIT_HOME": str(tmp_path)}  # its store and log stay out of the user's home
    proc = tool("pre-commit", "validate-config", ".pre-commit-config.yaml", cwd=project, env=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = (project / ".pre-commit-config.yaml").read_text()
    assert f"rev: v{RUFF_VERSION}\n" in config
    assert "entry: tac-bootstrap sync-check\n" in config


def test_project_passes_its_own_ruff_configuration(project: Path) -> None:
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        proc = tool("ruff", *args, cwd=project)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pyproject_declares_the_tools_license_and_typing(project: Path) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    assert {d.split(">")[0].split("~")[0] for d in dev} >= {"pytest", "ruff", "mypy"}
    assert f"ruff~={RUFF_VERSION}" in dev
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    assert pyproject["tool"]["ruff"]["line-length"] == 100
    assert pyproject["tool"]["mypy"]["strict"] is True
    orchestrator = (project / "src/my_app/database.py").exists()
    assert ("plugins" in pyproject["tool"]["mypy"]) is orchestrator
    assert (project / "src/my_app/py.typed").read_bytes() == b""


def run_readme_test(project: Path) -> subprocess.CompletedProcess[str]:
    """Run the generated project's README test, its package importable from ``src``."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_readme.py"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
        check=False,
    )


def test_readme_example_runs_as_the_generated_test_runs_it(tmp_path: Path) -> None:
    init(SPECS["orchestrator"], tmp_path)
    proc = run_readme_test(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_a_broken_readme_example_fails_the_generated_test(tmp_path: Path) -> None:
    init(SPECS["orchestrator"], tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("count(AgentLog) == 0", "count(AgentLog) == 1"))
    proc = run_readme_test(tmp_path)
    assert proc.returncode == 1
    assert "AssertionError" in proc.stdout


def license_of(**data: str) -> str | None:
    files = render_project(ProjectSpec.build("my-app", data=data))
    return files["LICENSE"].decode() if "LICENSE" in files else None


def test_mit_license_names_the_author_and_the_year_given() -> None:
    text = license_of(author="Ada Lovelace", year="2026")
    assert text is not None
    assert text.startswith("MIT License\n\nCopyright (c) 2026 Ada Lovelace\n\nPermission is")


def test_mit_license_without_answers_names_the_projects_authors_and_no_year() -> None:
    text = license_of()
    assert text is not None
    assert "\nCopyright (c) The my-app authors\n" in text


def test_apache_license_is_the_published_text_byte_for_byte() -> None:
    text = license_of(license="Apache-2.0", author="Ada")
    assert text is not None
    assert hashlib.sha256(text.encode()).hexdigest() == APACHE_2_SHA256


def test_bsd_license_names_the_author() -> None:
    text = license_of(license="bsd-3-clause", author="Ada", year="1843")
    assert text is not None
    assert text.startswith("Copyright (c) 1843 Ada\n\nRedistribution and use")
    assert "3.  Neither the name of the copyright holder" in text


def test_license_none_writes_no_license_and_declares_none() -> None:
    files = render_project(ProjectSpec.build("my-app", data={"license": "none"}))
    assert "LICENSE" not in files
    project = tomllib.loads(files["pyproject.toml"].decode())["project"]
    assert "license" not in project
    assert "license-files" not in project


def test_license_is_declared_with_its_spdx_id() -> None:
    files = render_project(ProjectSpec.build("my-app", data={"license": "apache-2.0"}))
    assert tomllib.loads(files["pyproject.toml"].decode())["project"]["license"] == "Apache-2.0"
