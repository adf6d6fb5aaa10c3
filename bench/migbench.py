"""``migration new`` for a change to one table, against ``sync-check`` of the same project.

The project is ``init my-app --with-orchestrator`` from the installed wheel, its migrations
folder named in its agreement table (made from the schema as 0001 when the generator does not
write one). The schema then widens the CHECK of ``agents.status``, as a person would, and two
commands alternate on that same project: ``migration new … --dry-run`` (runs the chain, loads
the schema, plans the rebuild, runs it after the chain to verify, prints it) and
``sync-check --no-cache`` (everything it checks in a generated project, the chain included;
it exits 1 here, as it should, for the migration not yet written).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.env import WORK, Venv
from bench.proc import CommandFailedError, run
from bench.startup import round_robin, seconds, tool_runner
from bench.stats import TIMES, Figure, Goal, timed_figure, unavailable

SECTION = "migrations"
NAME = "`migration new --dry-run`, one table changed (agents.status CHECK widened)"
FLOOR_NAME = "`sync-check --no-cache` of the same project"
GOAL = Goal(1.5, f"≤ 1.5{TIMES} `sync-check` of the same project", "issue 14")


@dataclass(frozen=True)
class Settings:
    """Alternating rounds of the two commands."""

    rounds: int


def make_project(venv: Venv) -> Path:
    """Generate the project, give it a migration chain if it has none, widen agents.status."""
    base = WORK / "migrations"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    tool = str(venv.bin("tac-bootstrap"))
    run([tool, "init", "my-app", "--with-orchestrator"], cwd=base)
    root = base / "my-app"
    package = root / "src" / "my_app"
    schema = package / "schema_orchestrator.sql"
    migrations = package / "migrations"
    if not migrations.is_dir():
        migrations.mkdir()
        (migrations / "0001_initial.sql").write_text(schema.read_text(encoding="utf-8"))
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    if "migrations = " not in text:
        pyproject.write_text(text + 'migrations = "src/my_app/migrations"\n', encoding="utf-8")
    widened = re.sub(
        r"(CHECK \(status IN \('pending', 'running', 'completed', 'failed')\)\),\n(\s+created_at)",
        r"\1, 'cancelled')),\n\2",
        schema.read_text(encoding="utf-8"),
        count=1,
    )
    schema.write_text(widened, encoding="utf-8")
    return root


def figures(venv: Venv, settings: Settings) -> list[Figure]:
    """Measure ``migration new`` against ``sync-check`` of the same project."""
    try:
        root = make_project(venv)
        new = tool_runner(
            venv, "migration", "new", "allow_cancelled", "--dry-run", "--root", str(root)
        )
        check = tool_runner(venv, "sync-check", "--no-cache", "--root", str(root), ok_codes=(0, 1))
        written = new().stdout
        if "rebuilds table agents" not in written:
            return [unavailable(SECTION, NAME, "the migration is not the expected rebuild", GOAL)]
        samples = round_robin({"new": new, "check": check}, settings.rounds)
    except CommandFailedError as exc:
        return [unavailable(SECTION, NAME, str(exc), GOAL)]
    statements = written.count(";\n")
    return [
        timed_figure(
            SECTION,
            NAME,
            seconds(samples["new"]),
            seconds(samples["check"]),
            floor_name=FLOOR_NAME,
            goal=GOAL,
            note=f"both whole commands with start-up; the migration has {statements} statements",
        )
    ]
