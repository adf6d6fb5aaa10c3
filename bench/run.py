"""Run the whole benchmark suite: ``python bench/run.py [--quick]`` from the repository root.

Makes (or reuses) its own virtual environments under ``bench/.work/``, measures every
figure against a floor in the same run, alternating, and writes ``bench/results/latest.json``
and ``bench/results/latest.md``; a full run also rewrites the section between the bench
markers of ``README.md`` (and nothing else of it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dbbench, migbench, peers, pgbench, startup, syncscale, updatebench
from bench.env import REPO, WORK, Venv, machine, peers_venv, project_venv
from bench.report import update_readme, write_results
from bench.stats import Figure

SECTIONS = ("startup", "peers", "sync", "update", "db", "migrations", "pg")


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one run (quick or full)."""

    mode: str
    startup: startup.Settings
    peer_rounds: int
    sync: syncscale.Settings
    update: updatebench.Settings
    db: dbbench.Settings
    migrations: migbench.Settings
    pg: pgbench.Settings


QUICK = Plan(
    "quick",
    startup.Settings(startup_rounds=15, job_rounds=7),
    peer_rounds=4,
    sync=syncscale.Settings(sizes=(10, 100, 1000, 2000), rounds=2, cold_rounds=False),
    update=updatebench.Settings(rounds=5, merge_rounds=20),
    db=dbbench.Settings(rows=100_000, rounds=2, per_row=2_000, concurrent_seconds=3.0),
    migrations=migbench.Settings(rounds=5),
    pg=pgbench.Settings(rows=100_000, rounds=2, concurrent_seconds=3.0),
)
FULL = Plan(
    "full",
    startup.Settings(startup_rounds=60, job_rounds=21),
    peer_rounds=15,
    sync=syncscale.Settings(sizes=(10, 100, 1000, 2000), rounds=5),
    update=updatebench.Settings(rounds=15, merge_rounds=60),
    db=dbbench.Settings(rows=100_000, rounds=7, per_row=5_000, concurrent_seconds=10.0),
    migrations=migbench.Settings(rounds=15),
    pg=pgbench.Settings(rows=100_000, rounds=5, concurrent_seconds=10.0),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds and a 3 s concurrency test: under two minutes",
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated sections to run ({', '.join(SECTIONS)}); the "
        "results then go to bench/.work/results and README.md is untouched",
    )
    args = parser.parse_args(argv)
    args.sections = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def log(message: str) -> None:
    """Print progress on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_sections(
    plan: Plan, sections: list[str], project: Venv, peer_venv: Venv | None
) -> list[Figure]:
    """Run the chosen sections in a fixed order and collect their figures."""
    steps: dict[str, Callable[[], list[Figure]]] = {
        "startup": lambda: startup.figures(project, plan.startup),
        "peers": lambda: peers.figures(project, peer_venv, plan.peer_rounds),
        "sync": lambda: syncscale.figures(project, plan.sync),
        "update": lambda: updatebench.figures(project, plan.update),
        "db": lambda: dbbench.figures(project, plan.db),
        "migrations": lambda: migbench.figures(project, plan.migrations),
        "pg": lambda: pgbench.figures(project, plan.pg),
    }
    figures: list[Figure] = []
    for name in SECTIONS:
        if name in sections:
            started = time.perf_counter()
            log(f"{name} ...")
            figures.extend(steps[name]())
            log(f"{name} done in {time.perf_counter() - started:.0f} s")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Set up the venvs, run the sections, write the results and the README table."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    log("preparing bench/.work venvs (installs on first run) ...")
    project = project_venv()
    peer_venv = peers_venv() if "peers" in args.sections else None
    figures = run_sections(plan, args.sections, project, peer_venv)
    elapsed = time.perf_counter() - started
    info = machine(project, peer_venv)
    info["bench time"] = f"{elapsed:.0f} s"
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    partial = set(args.sections) != set(SECTIONS)
    out_dir = WORK / "results" if partial else REPO / "bench" / "results"
    markdown = write_results(out_dir, figures, info, plan.mode, date)
    print(markdown)
    if partial or plan.mode != "full":
        log("README.md not touched: only a full run of every section writes its table")
    elif update_readme(REPO / "README.md", markdown):
        log("README.md: the table between the bench markers rewritten")
    else:
        log("README.md not touched: no bench markers in it")
    shutil.rmtree(WORK / "tmp", ignore_errors=True)
    log(f"wrote {out_dir.relative_to(REPO)}/latest.json and latest.md in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
