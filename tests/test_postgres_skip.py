"""Without a PostgreSQL server the contract's PostgreSQL tests skip, with the reason, unless
they are required; then they fail. Run in a subprocess, so the environment is the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
URL = "TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL"
REQUIRE = "TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES"


def contract(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {URL, REQUIRE}}
    args = ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:randomly"]
    return subprocess.run(
        [sys.executable, *args, "tests/orchestrator/test_orch_contract.py", "-k", "round_trips"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**clean, **env},
        timeout=300,
    )


def test_without_a_server_the_postgres_tests_are_skipped_with_the_reason() -> None:
    proc = contract()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 skipped" in proc.stdout
    assert f"no PostgreSQL server: set {URL} to a DSN to run these tests" in proc.stdout


@pytest.mark.parametrize("value", ["1"])
def test_when_required_a_missing_server_is_a_failure(value: str) -> None:
    proc = contract(**{REQUIRE: value})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "skipped" not in proc.stdout
    assert f"{REQUIRE}=1 forbids skipping them" in proc.stdout
