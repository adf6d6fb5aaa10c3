"""The CI's selections: every case that skips in the root run runs in `.ci/unprivileged`.

Read from the test modules' source (no test is run): a case that skips as root (a `skipif` on
`os.geteuid() == 0`) or that needs a user without root's power (it calls a module's
`run_unprivileged`) is marked `needs_unprivileged`; a case that becomes a user without a home
(`skip_unless_nobody_known_can_run_python`) is marked `another_user`; `.ci/unprivileged` runs
exactly those two markers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CI = TESTS.parent / ".ci"
# what puts a case in each selection: a call to one of these (in the test or a helper it calls)
NEEDS = {
    "needs_unprivileged": {"run_unprivileged"},
    "another_user": {"skip_unless_nobody_known_can_run_python"},
}
ROOT_SKIP = re.compile(r"geteuid\(\) == 0")


def _calls(node: ast.AST) -> set[str]:
    return {
        call.func.id
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
    }


def _marked(function: ast.FunctionDef, marker: str) -> bool:
    """Whether the test, or one of its parameters, carries ``pytest.mark.<marker>``."""
    return any(f"pytest.mark.{marker}" in ast.unparse(d) for d in function.decorator_list)


def _needing(tree: ast.Module, callees: set[str]) -> set[str]:
    """Return the module's functions that call one of ``callees``, directly or through others."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    found = set(callees)
    while grown := {n for n, f in functions.items() if n not in found and _calls(f) & found}:
        found |= grown
    return found - callees


def unmarked(source: str, marker: str) -> list[str]:
    """Return the tests in ``source`` that need ``marker`` and do not carry it."""
    tree = ast.parse(source)
    needing = _needing(tree, NEEDS[marker])
    missing = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        skips_as_root = marker == "needs_unprivileged" and any(
            "skipif" in ast.unparse(d) and ROOT_SKIP.search(ast.unparse(d))
            for d in node.decorator_list
        )
        if (skips_as_root or node.name in needing) and not _marked(node, marker):
            missing.append(node.name)
    return missing


@pytest.mark.parametrize("marker", sorted(NEEDS))
def test_every_case_the_root_run_skips_is_marked_for_the_unprivileged_run(marker: str) -> None:
    found = {
        path.name: names
        for path in sorted(TESTS.glob("test_*.py"))
        if (names := unmarked(path.read_text(encoding="utf-8"), marker))
    }
    assert found == {}


def test_the_check_finds_an_unmarked_case() -> None:
    source = (
        "import os, pytest\n"
        "def run_unprivileged(): ...\n"
        "def helper(): run_unprivileged()\n"
        '@pytest.mark.skipif(os.geteuid() == 0, reason="root")\n'
        "def test_skips(): ...\n"
        "def test_through_a_helper(): helper()\n"
        "@pytest.mark.needs_unprivileged\n"
        "def test_marked(): run_unprivileged()\n"
        '@pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.needs_unprivileged)])\n'
        "def test_a_marked_parameter(x): run_unprivileged()\n"
        "def test_other(): ...\n"
    )
    assert unmarked(source, "needs_unprivileged") == ["test_skips", "test_through_a_helper"]


def _selections() -> list[tuple[str, set[str]]]:
    """Each pytest run of `.ci/unprivileged`: its marker and the modules it collects."""
    script = (CI / "unprivileged").read_text(encoding="utf-8").replace("\\\n", " ")
    runs = []
    for line in script.splitlines():
        if "-m pytest" in line:
            marker = re.search(r" -m (\w+)(?: |\)|$)", line.split("-m pytest", 1)[1])
            assert marker is not None, line
            runs.append((marker.group(1), set(re.findall(r"tests/(test_\w+\.py)", line))))
    return runs


def test_the_unprivileged_script_runs_exactly_the_marked_cases() -> None:
    runs = _selections()
    assert [marker for marker, _ in runs] == ["needs_unprivileged", "another_user"]
    for marker, modules in runs:
        marked = {
            path.name
            for path in TESTS.glob("test_*.py")
            if f"pytest.mark.{marker}" in path.read_text(encoding="utf-8")
        } - {Path(__file__).name}
        assert marked == modules, marker  # every module with a marked case, and only those
