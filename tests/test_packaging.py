"""What the sdist and the wheel carry: everything the test suite needs, and the license.

Both are built offline with the hatchling of the dev extra (the build backend itself), so
these run with the rest of the suite; tests/test_e2e.py installs the wheel for real.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tac_bootstrap import __version__
from tac_bootstrap.precompiled import JINJA2_FILE, module_name

REPO = Path(__file__).resolve().parent.parent


def build(target: str, out: Path, source: Path = REPO) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", target, "-d", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (built,) = out.iterdir()
    return built


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("sdist", tmp_path_factory.mktemp("sdist"))


def sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as tar:
        return {name.partition("/")[2] for name in tar.getnames() if "/" in name}


def source_files(*folders: str) -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for folder in folders
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_sdist_carries_the_package_its_tests_and_what_they_import(sdist: Path) -> None:
    names = sdist_names(sdist)
    needed = source_files("tac_bootstrap", "templates", "tests")
    needed |= {p.relative_to(REPO).as_posix() for p in (REPO / "bench").glob("*.py")}
    needed |= {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "bench/README.md"}
    needed.add("hatch_build.py")
    assert needed <= names, sorted(needed - names)


def test_sdist_carries_no_caches_venvs_or_bench_results(sdist: Path) -> None:
    for name in sdist_names(sdist):
        parts = name.split("/")
        assert "__pycache__" not in parts, name
        assert not parts[0].startswith(".venv"), name
        assert not name.startswith(("bench/results/", "bench/.work/")), name


def test_sdist_test_suite_collects_and_its_bench_tests_pass(sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    (root,) = tmp_path.iterdir()
    for args in (["--collect-only", "-q"], ["-q", "tests/test_bench.py"]):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_wheel_and_sdist_carry_the_license(sdist: Path, tmp_path: Path) -> None:
    wheel = build("wheel", tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert f"tac_bootstrap-{__version__}.dist-info/licenses/LICENSE" in names
    assert "LICENSE" in sdist_names(sdist)
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")


def precompiled_names(wheel: Path) -> set[str]:
    prefix = "tac_bootstrap/_precompiled/"
    return {
        n.removeprefix(prefix) for n in zipfile.ZipFile(wheel).namelist() if n.startswith(prefix)
    }


def compiled_templates() -> set[str]:
    """Return the files the wheel's _precompiled folder must hold: one module per template."""
    templates = REPO / "templates"
    modules = {
        module_name(p.relative_to(templates).as_posix(), p.read_bytes().decode())
        for p in templates.rglob("*.j2")
    }
    return modules | {JINJA2_FILE}


def test_wheel_carries_every_template_compiled(tmp_path: Path) -> None:
    assert precompiled_names(build("wheel", tmp_path)) == compiled_templates()


def test_a_wheel_built_from_the_sdist_carries_them_too(sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    (root,) = tmp_path.iterdir()
    wheel = build("wheel", tmp_path / "dist", source=root)
    assert precompiled_names(wheel) == compiled_templates()
