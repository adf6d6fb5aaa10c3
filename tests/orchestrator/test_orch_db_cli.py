"""The database command line: init, info, migrate, check; bad input is one line and exit 2."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tac_bootstrap.orchestrator import db as cli
from tac_bootstrap.orchestrator.database import DB_ENV_VAR, SCHEMA_VERSION, Database
from tac_bootstrap.orchestrator.database_migrate import migrations
from tac_bootstrap.orchestrator.orch_database_models import Agent, OrchestratorAgent

SCRIPT = Path(sys.executable).with_name("tac-bootstrap-db")


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def build(path: Path, version: int) -> None:
    """Make a database file at ``version`` from migrations 1 to ``version``."""
    conn = sqlite3.connect(path)
    try:
        for number in range(1, version + 1):
            conn.executescript(migrations()[number].read_text(encoding="utf-8"))
    finally:
        conn.close()


async def fill(path: Path) -> None:
    async with Database.open(path) as db:
        orchestrator = await db.create(OrchestratorAgent(name="planner"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        await db.log_agent(agent.id, "event", "one")
        await db.log_agent(agent.id, "event", "two")


def test_init_creates_the_file_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orchestrator.db"
    assert run(capsys, "--path", path, "init") == (
        0,
        f"{path}: created with schema version {SCHEMA_VERSION}\n",
        "",
    )
    assert run(capsys, "--path", path, "init")[:2] == (
        0,
        f"{path}: already at schema version {SCHEMA_VERSION}\n",
    )
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        conn.close()
    other = tmp_path / "other.db"  # a SQLite file without the schema (version 0)
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    assert run(capsys, "--path", other, "migrate") == (
        2,
        "",
        f"error: {other}: holds no orchestrator schema (version 0); use init\n",
    )
    assert run(capsys, "--path", other, "init")[:2] == (
        0,
        f"{other}: created with schema version {SCHEMA_VERSION}\n",
    )
    assert run(capsys, "--path", other, "check")[0] == 0  # the notes table is left alone


async def test_info_shows_version_journal_and_row_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orchestrator.db"
    await fill(path)
    monkeypatch.setenv(DB_ENV_VAR, str(path))  # no --path: the module's variable
    code, out, _ = run(capsys, "info")
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [
        f"path: {path.resolve()}",
        f"schema version: {SCHEMA_VERSION} (this module: {SCHEMA_VERSION})",
        "journal mode: wal",
        "tables:",
    ]
    counts = {line.split()[0]: int(line.split()[1]) for line in lines[4:]}
    assert counts == {
        "agent_logs": 2,
        "agents": 1,
        "ai_developer_workflows": 0,
        "orchestrator_agents": 1,
        "orchestrator_chat": 0,
        "prompts": 0,
        "system_logs": 0,
    }


@pytest.mark.parametrize("command", ["info", "migrate", "check"])
def test_a_missing_file_is_bad_input_and_stays_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "nothing.db"
    assert run(capsys, "--path", path, command) == (
        2,
        "",
        f"error: {path}: no such database file\n",
    )
    assert not path.exists()


@pytest.mark.parametrize("command", ["init", "info", "migrate", "check"])
def test_a_file_that_is_not_sqlite_is_bad_input_and_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are notes, not a database\n" * 10)
    code, out, err = run(capsys, "--path", path, command)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {path}: not a SQLite database")
    assert err.count("\n") == 1
    assert path.read_text() == "these are notes, not a database\n" * 10


@pytest.mark.parametrize("command", ["init", "info", "migrate", "check"])
def test_a_newer_schema_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "orchestrator.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    code, out, err = run(capsys, "--path", path, command)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {path}: schema version {SCHEMA_VERSION + 1} is newer than")
    assert err.count("\n") == 1


def test_migrate_dry_run_lists_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, 1)
    before = path.read_bytes()
    code, out, _ = run(capsys, "--path", path, "migrate", "--dry-run")
    pending = [script.name for number, script in migrations().items() if number > 1]
    assert (code, out.splitlines()) == (
        0,
        [f"{path}: at schema version 1, would apply:", *(f"  {name}" for name in pending)],
    )
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_migrate_applies_the_pending_migrations_after_a_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, 1)
    code, out, _ = run(capsys, "--path", path, "migrate")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{path}: migrated from schema version 1 to {SCHEMA_VERSION}, applied:"
    assert lines[-1] == f"backup: {tmp_path / 'orchestrator.db.v1.bak'}"
    assert run(capsys, "--path", path, "migrate")[:2] == (
        0,
        f"{path}: up to date at schema version {SCHEMA_VERSION}\n",
    )
    other = tmp_path / "other.db"
    build(other, 1)
    code, out, _ = run(capsys, "--path", other, "migrate", "--no-backup")
    assert code == 0
    assert "backup" not in out
    assert not (tmp_path / "other.db.v1.bak").exists()


def test_init_and_check_on_an_older_file_ask_for_migrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orchestrator.db"
    build(path, 1)
    assert run(capsys, "--path", path, "init") == (
        2,
        "",
        f"error: {path}: already a database (schema version 1); use migrate\n",
    )
    assert run(capsys, "--path", path, "check")[:2] == (
        1,
        f"{path}: schema version 1, not {SCHEMA_VERSION}: run migrate first\n",
    )


async def test_check_passes_a_sound_file_and_names_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orchestrator.db"
    await fill(path)
    assert run(capsys, "--path", path, "check")[:2] == (
        0,
        f"{path}: ok (integrity, foreign keys, 4 rows load into their models)\n",
    )
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")  # as a careless tool might
        conn.execute("UPDATE agent_logs SET log_type = 'shout' WHERE message = 'one'")
        (log_id,) = conn.execute("SELECT id FROM agent_logs WHERE message = 'one'").fetchone()
        conn.execute("UPDATE agents SET orchestrator_agent_id = 'gone'")  # foreign keys are off
        conn.commit()
    finally:
        conn.close()
    code, out, _ = run(capsys, "--path", path, "check")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{path}: 4 problem(s)"
    assert "integrity: CHECK constraint failed in agent_logs" in lines
    assert "foreign key: agents row 1 refers to a missing orchestrator_agents row" in lines
    assert f"agent_logs {log_id}: log_type: Value error, Log type must be one of " in out
    assert any(line.startswith("agents ") and "orchestrator_agent_id" in line for line in lines)


def test_python_m_runs_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    module = [sys.executable, "-m", cli.__name__, "--path", str(path)]
    done = subprocess.run([*module, "init"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    done = subprocess.run([*module, "check"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    (tmp_path / "bad.db").write_text("not a database\n" * 20)
    bad = [sys.executable, "-m", cli.__name__, "--path", str(tmp_path / "bad.db"), "info"]
    done = subprocess.run(bad, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not SCRIPT.exists(), reason="the project is not installed with its scripts")
def test_the_console_script_runs_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    for command in ("init", "info", "check"):
        done = subprocess.run(
            [SCRIPT, "--path", path, command], capture_output=True, text=True, check=False
        )
        assert (done.returncode, done.stderr) == (0, ""), command
