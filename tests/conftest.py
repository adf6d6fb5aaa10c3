"""Shared test options: ``--update-golden`` rewrites the golden files instead of comparing."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/ from the current templates instead of comparing.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True, scope="session")
def _cache_outside_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the tool's caches (and the subprocesses' ones) out of the user's home."""
    os.environ["TAC_BOOTSTRAP_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
