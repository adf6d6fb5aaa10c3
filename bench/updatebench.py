"""``update`` of a 0.1.0 orchestrator project (unedited and edited) against ``init``, and the
merge engine against ``git merge-file``.

The projects are written once per run by ``bench/update_worker.py`` in the project venv (from
the installed package's release store, so they are what 0.1.0 generated). Each timed
``update`` runs on a fresh copy (copied before the clock starts), alternating with ``init
my-app --with-orchestrator`` into a fresh folder, both with the same warm Jinja2 cache: the
floor is ``init`` of the same project in the same run. The merge figure is timed inside the
worker: ``merge3`` in-process against ``git merge-file`` spawned on the same three files (how
an updater calling git would run it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.env import REPO, WORK, Venv
from bench.proc import CommandFailedError, Run, clean_env, run
from bench.startup import CACHE_ENV, round_robin, scratch_dir, seconds
from bench.stats import TIMES, Figure, Goal, timed_figure, unavailable

SECTION = "update"
WORKER = REPO / "bench" / "update_worker.py"
GOAL_UPDATE = Goal(1.5, f"≤ 1.5{TIMES} `init` of the same project", "issue 8")
FLOOR = "`init my-app --with-orchestrator`"


@dataclass(frozen=True)
class Settings:
    """Rounds of the command figures and of the merge figure."""

    rounds: int
    merge_rounds: int


def worker(venv: Venv, *args: str) -> str:
    """Run the worker in the project venv and return its stdout."""
    proc = subprocess.run(
        [str(venv.python), str(WORKER), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise CommandFailedError([str(WORKER), *args], proc.returncode, lines[-1] if lines else "")
    return proc.stdout


def update_runner(venv: Venv, source: Path, cache: Path) -> Callable[[], Run]:
    """Return a runner of ``update`` on a fresh copy of ``source`` (exit 1 for conflicts is ok)."""
    argv = [str(venv.bin("tac-bootstrap")), "update"]
    env = clean_env({CACHE_ENV: str(cache)})

    def once() -> Run:
        folder = scratch_dir("update-") / "my-app"
        shutil.copytree(source, folder)
        try:
            return run(argv, cwd=folder, env=env, ok_codes=(0, 1))
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)

    return once


def init_runner(venv: Venv, cache: Path) -> Callable[[], Run]:
    """Return a runner of ``init my-app --with-orchestrator`` into a fresh empty folder."""
    argv = [str(venv.bin("tac-bootstrap")), "init", "my-app", "--with-orchestrator"]
    env = clean_env({CACHE_ENV: str(cache)})

    def once() -> Run:
        folder = scratch_dir("init-")
        try:
            return run(argv, cwd=folder, env=env)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return once


def command_figures(venv: Venv, rounds: int) -> list[Figure]:
    """Time ``update`` of the unedited and the edited project against ``init``."""
    names = ("`update` of an unedited 0.1.0 orchestrator project", "`update` of an edited one")
    projects = WORK / "update-projects"
    shutil.rmtree(projects, ignore_errors=True)
    cache = WORK / "cache-update"
    shutil.rmtree(cache, ignore_errors=True)
    try:
        for kind in ("unedited", "edited"):
            (projects / kind).mkdir(parents=True)
            worker(
                venv, "project", str(projects / kind), *(["--edited"] if kind == "edited" else [])
            )
        samples = round_robin(
            {
                "init": init_runner(venv, cache),
                "unedited": update_runner(venv, projects / "unedited", cache),
                "edited": update_runner(venv, projects / "edited", cache),
            },
            rounds,
        )
    except CommandFailedError as exc:
        return [unavailable(SECTION, n, f"not available: {exc}", GOAL_UPDATE) for n in names]
    floor = seconds(samples["init"])
    edited_run = samples["edited"][-1]
    return [
        timed_figure(
            SECTION,
            names[0],
            seconds(samples["unedited"]),
            floor,
            floor_name=FLOOR,
            goal=GOAL_UPDATE,
            note="renders 0.1.0 from the release store and this version, every file unedited",
        ),
        timed_figure(
            SECTION,
            names[1],
            seconds(samples["edited"]),
            floor,
            floor_name=FLOOR,
            goal=GOAL_UPDATE,
            note=f"README, pyproject and the largest file edited, a file deleted, one added; "
            f"exit {edited_run.code}, {len(edited_run.stdout.splitlines())} file line(s)",
        ),
    ]


def merge_figure(venv: Venv, rounds: int) -> Figure:
    """Time ``merge3`` against ``git merge-file`` on the largest generated file."""
    name = "merge engine on the largest generated file"
    if shutil.which("git") is None:
        return unavailable(SECTION, name, "not available: git is not installed")
    try:
        answer = json.loads(worker(venv, "merge", str(rounds)).strip().splitlines()[-1])
    except CommandFailedError as exc:
        return unavailable(SECTION, name, f"not available: {exc}")
    base, yours, theirs = answer["lines"]
    return timed_figure(
        SECTION,
        f"{name} (`{answer['file']}`)",
        answer["ours_s"],
        answer["git_s"],
        floor_name="`git merge-file -p --diff3` (a process per merge)",
        note=f"{base}/{yours}/{theirs} lines (base/yours/theirs), {answer['conflicts']} "
        "conflict(s); merge3 runs in-process, git as the process an updater would spawn",
    )


def figures(venv: Venv, settings: Settings) -> list[Figure]:
    """Return the section's figures."""
    return [*command_figures(venv, settings.rounds), merge_figure(venv, settings.merge_rounds)]
