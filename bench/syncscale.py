"""``sync-check`` scaling over 10 to 2,000 synthetic pairs of ~200-line templates, cold and warm.

For each size the bench alternates three runs of ``bench/sync_worker.py`` in the project
venv: the floor (read both files of every pair and compare them), ``sync.check`` with an
empty cache folder (cold: every template compiled and rendered) and ``sync.check`` with the
cache a previous clean check left (warm); the run that fills that cache counts as one more
cold sample (the only one in quick mode). Times are taken inside the worker around the work
itself, so they hold no interpreter start-up; per-pair costs are those times over the size.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.env import REPO, WORK, Venv
from bench.proc import clean_env
from bench.stats import TIMES, Figure, alternate, median, ratio, unavailable

SECTION = "sync scaling"
WORKER = REPO / "bench" / "sync_worker.py"
FLOOR_NAME = "read + compare both files"


@dataclass(frozen=True)
class Settings:
    """Sizes and rounds of the sync runs."""

    sizes: tuple[int, ...]
    rounds: int
    cold_rounds: bool = True


class WorkerError(RuntimeError):
    """The worker failed: the figure is reported as not available."""


def call(venv: Venv, *args: str) -> dict[str, Any]:
    """Run the worker with ``args`` in the project venv and return its JSON answer."""
    proc = subprocess.run(
        [str(venv.python), str(WORKER), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        msg = lines[-1] if lines else f"worker exited {proc.returncode}"
        raise WorkerError(msg)
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def synthetic_root(venv: Venv, pairs: int) -> Path:
    """Return a synthetic repo of ``pairs`` pairs, generating it unless an identical one exists."""
    render = REPO / "tac_bootstrap" / "render.py"
    key = hashlib.sha256(WORKER.read_bytes() + render.read_bytes()).hexdigest()
    root = WORK / "sync" / f"pairs-{pairs}"
    stamp = WORK / "sync" / f"pairs-{pairs}.stamp"
    if not (stamp.is_file() and stamp.read_text(encoding="utf-8") == key and root.is_dir()):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        call(venv, "generate", str(root), str(pairs))
        stamp.write_text(key, encoding="utf-8")
    return root


def measure_size(venv: Venv, root: Path, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Return the floor, cold and warm samples of one synthetic repo.

    The run that fills the warm cache from an empty one is itself a cold sample; with
    ``settings.cold_rounds`` off (quick mode) it is the only one.
    """
    warm_cache = WORK / "sync" / f"cache-{root.name}"
    shutil.rmtree(warm_cache, ignore_errors=True)
    priming = call(venv, "check", str(root), str(warm_cache))

    def cold() -> dict[str, Any]:
        (WORK / "tmp").mkdir(parents=True, exist_ok=True)
        cache = Path(tempfile.mkdtemp(prefix="cold-cache-", dir=WORK / "tmp"))
        try:
            return call(venv, "check", str(root), str(cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "floor": lambda: call(venv, "floor", str(root)),
        "warm": lambda: call(venv, "check", str(root), str(warm_cache)),
    }
    if settings.cold_rounds:
        runners["cold"] = cold
    samples = dict(zip(runners, alternate(list(runners.values()), settings.rounds), strict=True))
    samples.setdefault("cold", []).append(priming)
    return samples


def size_figures(pairs: int, samples: dict[str, list[dict[str, Any]]]) -> list[Figure]:
    """Turn the floor, cold and warm samples of one size into two figures."""
    floor = median([s["seconds"] for s in samples["floor"]])
    figures = []
    for label in ("cold", "warm"):
        runs = samples[label]
        measured = median([s["seconds"] for s in runs])
        problems = {s.get("problems") for s in runs}
        note = f"{measured / pairs * 1e6:,.0f} µs/pair vs floor {floor / pairs * 1e6:,.1f} µs/pair"
        if problems != {0}:
            note += f"; check reported problems: {sorted(map(str, problems))}"
        figures.append(
            Figure(
                section=SECTION,
                name=f"`sync.check`, {pairs:,} pairs, {label}",
                value=ratio(measured, floor),
                measured=measured * 1000,
                floor=floor * 1000,
                floor_name=FLOOR_NAME,
                samples=len(runs),
                note=note,
            )
        )
    return figures


def scaling_note(figures: list[Figure], sizes: tuple[int, ...]) -> str:
    """Describe how the cold per-pair cost moves from the smallest size to the largest."""
    cold = [f for f in figures if f.name.endswith("cold") and f.measured is not None]
    if len(cold) < 2:
        return ""
    first, last = cold[0].measured or 0.0, cold[-1].measured or 0.0
    per_first, per_last = first / sizes[0] * 1000, last / sizes[-1] * 1000
    return (
        f"cold per-pair cost {per_first:,.0f} µs at {sizes[0]:,} pairs, {per_last:,.0f} µs "
        f"at {sizes[-1]:,} ({per_last / per_first:.2f}{TIMES})"
    )


def figures(venv: Venv, settings: Settings) -> list[Figure]:
    """Measure every size; report it as not available if sync.check is missing or fails."""
    result: list[Figure] = []
    for pairs in settings.sizes:
        try:
            root = synthetic_root(venv, pairs)
            samples = measure_size(venv, root, settings)
        except (WorkerError, OSError) as exc:
            why = f"not available: {exc}"
            result += [
                unavailable(SECTION, f"`sync.check`, {pairs:,} pairs, {t}", why)
                for t in ("cold", "warm")
            ]
            continue
        result += size_figures(pairs, samples)
    note = scaling_note(result, settings.sizes)
    if note and result:
        result[-2].note += f"; {note}"
    return result
