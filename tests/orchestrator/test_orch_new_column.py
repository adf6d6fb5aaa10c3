"""A new column takes the model, the schema and a migration: database.py builds its SQL alone."""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tac_bootstrap.orchestrator import database
from tac_bootstrap.orchestrator.database import SCHEMA_VERSION, Database
from tac_bootstrap.orchestrator.orch_database_models import Agent, OrchestratorAgent

NEW = SCHEMA_VERSION + 1
FIELD = "    priority: int = Field(default=0, ge=0)\n"
COLUMN = "priority INTEGER NOT NULL DEFAULT 0 CHECK (priority >= 0)"


def add_priority(package: Path) -> None:
    """Add ``AgentLog.priority`` as a user would: model field, schema column, migration."""
    models = package / "orch_database_models.py"
    text = models.read_text(encoding="utf-8")
    start = text.index("class AgentLog(TableModel):")
    end = text.index("\n\n\nclass ", start)
    models.write_text(text[:end] + "\n" + FIELD.rstrip("\n") + text[end:], encoding="utf-8")

    schema = package / "schema_orchestrator.sql"
    text = schema.read_text(encoding="utf-8")
    start = text.index("CREATE TABLE IF NOT EXISTS agent_logs (")
    end = text.index("\n);", start)
    text = text[:end] + f",\n    {COLUMN}" + text[end:]
    text = text.replace(f"PRAGMA user_version = {SCHEMA_VERSION};", f"PRAGMA user_version = {NEW};")
    schema.write_text(text, encoding="utf-8")

    (package / "migrations" / f"{NEW:04d}_agent_log_priority.sql").write_text(
        f"ALTER TABLE agent_logs ADD COLUMN {COLUMN};\n\nPRAGMA user_version = {NEW};\n",
        encoding="utf-8",
    )
    module = package / "database.py"
    text = module.read_text(encoding="utf-8")
    module.write_text(
        re.sub(r"(?m)^SCHEMA_VERSION = \d+$", f"SCHEMA_VERSION = {NEW}", text), encoding="utf-8"
    )


@pytest.fixture
def extended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A copy of this package, as package ``extended``, with AgentLog.priority added."""
    package = tmp_path / "src" / "extended"
    shutil.copytree(
        Path(database.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    add_priority(package)
    monkeypatch.syspath_prepend(str(package.parent))
    yield importlib.import_module("extended.database")
    for name in [n for n in sys.modules if n == "extended" or n.startswith("extended.")]:
        del sys.modules[name]


def test_only_the_version_line_of_database_py_changes(extended: ModuleType) -> None:
    before = Path(database.__file__).read_text(encoding="utf-8").splitlines()
    after = Path(str(extended.__file__)).read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(f"SCHEMA_VERSION = {SCHEMA_VERSION}", f"SCHEMA_VERSION = {NEW}")]
    assert "priority" in extended.statements()["agent_logs.insert"]


async def test_the_new_column_round_trips(extended: ModuleType, tmp_path: Path) -> None:
    models = importlib.import_module("extended.orch_database_models")
    async with extended.Database.open(tmp_path / "new.db") as db:
        orchestrator = await db.create(models.OrchestratorAgent(name="planner"))
        agent = await db.create(models.Agent(orchestrator_agent_id=orchestrator.id))
        log = await db.create(
            models.AgentLog(agent_id=agent.id, log_type="event", message="hi", priority=5)
        )
        assert await db.get(models.AgentLog, log.id) == log
        assert await db.list_rows(models.AgentLog, priority=5) == [log]
        updated = await db.update(models.AgentLog, log.id, priority=7)
        assert updated.priority == 7
        assert await db.get(models.AgentLog, log.id) == updated
        batch = [
            models.AgentLog(agent_id=agent.id, log_type="event", message=str(i), priority=i)
            for i in range(3)
        ]
        assert await db.insert_many(batch) == 3
        assert await db.list_rows(models.AgentLog, priority=2) == [batch[2]]


async def test_an_older_file_gets_the_column_at_its_default(
    extended: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    async with Database.open(path) as db:  # the module before the change
        orchestrator = await db.create(OrchestratorAgent(name="planner"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
        old = await db.log_agent(agent.id, "event", "before the change")
    models = importlib.import_module("extended.orch_database_models")
    async with extended.Database.open(path) as db:
        loaded = await db.get(models.AgentLog, old.id)
        assert loaded.model_dump() == {**old.model_dump(), "priority": 0}
        assert (await db.settings()).schema_version == NEW
