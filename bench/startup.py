"""Start-up and main job of the installed command, against bare ``python -c pass``.

Three groups, each alternated with its own floor runs: ``--version`` and ``--help``;
``init my-app --with-orchestrator`` into a fresh folder; ``sync-check`` on this repository
(also set against ``--help``, i.e. against starting the tool). Peak memory comes from the
same runs of ``init`` and ``sync-check``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.env import REPO, WORK, Venv
from bench.proc import CommandFailedError, Run, clean_env, run
from bench.stats import (
    TIMES,
    Figure,
    Goal,
    alternate,
    imports_by_package,
    imports_note,
    median,
    ratio,
    timed_figure,
    unavailable,
)

FLOOR = "python -c pass"
CACHE_ENV = "TAC_BOOTSTRAP_CACHE_DIR"
# What bounds each command from below, measured in the same run: the console script pip
# writes runs `import re, sys` before it calls the tool; `init` cannot start before the
# libraries it is built on are imported.
WRAPPER_FLOOR = 'python -c "import re, sys"'
LIBRARIES = ("typer", "pydantic", "jinja2", "rich")
LIBRARIES_FLOOR = f'python -c "import {", ".join(LIBRARIES)}"'
GOAL_VERSION = Goal(1.15, f"≤ 1.15{TIMES} the console script's own floor", "issue 13")
GOAL_INIT = Goal(1.25, f"≤ 1.25{TIMES} importing its libraries", "issue 13")
GOAL_SYNC_REPO = Goal(1.5, f"≤ 1.5{TIMES} `--help` (close to starting the tool)", "issue 4")
SECTION = "start-up"


@dataclass(frozen=True)
class Settings:
    """How many alternating rounds each group runs."""

    startup_rounds: int
    job_rounds: int


def round_robin(
    contenders: Mapping[str, Callable[[], Run]], rounds: int, warmup: int = 1
) -> dict[str, list[Run]]:
    """Warm every contender up, then run them in alternating rounds; return runs per name."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    samples = alternate([contenders[n] for n in names], rounds)
    return dict(zip(names, samples, strict=True))


def seconds(runs: list[Run]) -> list[float]:
    """Return the wall times of ``runs``."""
    return [r.seconds for r in runs]


def floor_runner(venv: Venv) -> Callable[[], Run]:
    """Return the floor: the same interpreter starting and doing nothing."""
    env = clean_env()
    return lambda: run([str(venv.python), "-c", "pass"], env=env)


def tool_runner(
    venv: Venv, *args: str, ok_codes: tuple[int, ...] = (0,), cache: Path | None = None
) -> Callable[[], Run]:
    """Return a runner of the installed ``tac-bootstrap`` with ``args``.

    With ``cache``, the tool keeps its check cache there (``TAC_BOOTSTRAP_CACHE_DIR``) rather
    than in the user's cache folder.
    """
    argv = [str(venv.bin("tac-bootstrap")), *args]
    env = clean_env({CACHE_ENV: str(cache)} if cache else None)
    return lambda: run(argv, env=env, ok_codes=ok_codes)


def cold_check_runner(venv: Venv, *args: str) -> Callable[[], Run]:
    """Return a runner of ``tac-bootstrap`` ``args`` with an empty check cache each time."""

    def once() -> Run:
        cache = Path(tempfile.mkdtemp(prefix="tac-bootstrap-bench-cache-"))  # see check_cache
        try:
            return tool_runner(venv, *args, ok_codes=(0, 1), cache=cache)()
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    return once


def check_cache() -> Path:
    """Return the warm check cache of ``sync-check`` on this repo, outside the repo.

    sync-check does not use a cache folder inside the root it checks (the checked tree could
    have planted it), and bench/.work is inside this repo.
    """
    return Path(tempfile.gettempdir()) / "tac-bootstrap-bench-cache-repo"


def scratch_dir(prefix: str) -> Path:
    """Return a new empty folder under ``bench/.work/tmp``."""
    (WORK / "tmp").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=WORK / "tmp"))


def init_runner(venv: Venv, *, cold: bool) -> Callable[[], Run]:
    """Return a runner of ``init my-app --with-orchestrator`` in a fresh empty folder each time.

    ``init`` keeps a Jinja2 bytecode cache: warm runs share one (primed by the warm-up run),
    cold runs get an empty cache folder each time, as on a machine that never ran it. Both
    render the shipped templates from the modules the wheel carries compiled, so neither
    compiles a template (the cache serves only when those modules do not apply).
    """
    argv = [str(venv.bin("tac-bootstrap")), "init", "my-app", "--with-orchestrator"]
    warm_cache = WORK / "cache-init"
    shutil.rmtree(warm_cache, ignore_errors=True)

    def once() -> Run:
        folder = scratch_dir("init-")
        cache = scratch_dir("cache-") if cold else warm_cache
        try:
            return run(argv, cwd=folder, env=clean_env({CACHE_ENV: str(cache)}))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if cold:
                shutil.rmtree(cache, ignore_errors=True)

    return once


def python_runner(venv: Venv, *args: str) -> Callable[[], Run]:
    """Return a runner of the venv's interpreter with ``args``."""
    argv, env = [str(venv.python), *args], clean_env()
    return lambda: run(argv, env=env)


def startup_figures(venv: Venv, rounds: int) -> list[Figure]:
    """Measure ``--version`` and ``--help`` against the floor.

    Two more contenders explain the ``--version`` figure: the same answer through
    ``python -m tac_bootstrap``, and what the console script that pip writes costs before it
    calls the tool at all (it runs ``import re, sys``).
    """
    try:
        samples = round_robin(
            {
                "floor": floor_runner(venv),
                "version": tool_runner(venv, "--version"),
                "module": python_runner(venv, "-m", "tac_bootstrap", "--version"),
                "wrapper": python_runner(venv, "-c", "import re, sys"),
                "help": tool_runner(venv, "--help"),
            },
            rounds,
        )
    except CommandFailedError as exc:
        why = f"not available: {exc}"
        return [
            unavailable(SECTION, "`tac-bootstrap --version`", why, GOAL_VERSION),
            unavailable(SECTION, "`tac-bootstrap --help`", why),
        ]
    floor, wrapper = seconds(samples["floor"]), seconds(samples["wrapper"])
    version = seconds(samples["version"])
    return [
        timed_figure(
            SECTION,
            "`tac-bootstrap --version`",
            version,
            wrapper,
            floor_name=WRAPPER_FLOOR,
            goal=GOAL_VERSION,
            note="through pip's console script, against what that script runs before it "
            f"calls the tool; {median(version) / median(floor):.2f}{TIMES} bare Python",
        ),
        timed_figure(
            SECTION,
            "`python -m tac_bootstrap --version`",
            seconds(samples["module"]),
            floor,
            floor_name=FLOOR,
            note="the same answer without the console script",
        ),
        timed_figure(
            SECTION,
            "`tac-bootstrap --help`",
            seconds(samples["help"]),
            floor,
            floor_name=FLOOR,
            note=imports_of(venv, "--help"),
        ),
    ]


def imports_of(venv: Venv, *args: str) -> str:
    """Run ``tac-bootstrap args`` once under ``-X importtime`` in a fresh folder; describe imports.

    The Python-level imports ``-X importtime`` sees are attributed to their top-level package,
    which says why a command costs what it costs. The cache is the warm one of ``init``.
    """
    folder = scratch_dir("imports-")
    argv = [str(venv.python), "-X", "importtime", str(venv.bin("tac-bootstrap")), *args]
    env = clean_env({CACHE_ENV: str(WORK / "cache-init")})
    try:
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=folder, env=env, capture_output=True, text=True, check=False
        )
        wall = (time.perf_counter() - start) * 1000
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return imports_note(imports_by_package(proc.stderr), wall)


def memory_figure(name: str, measured: list[Run], floor: list[Run], note: str = "") -> Figure:
    """Build a peak-memory figure (MiB, and the ratio to the floor's own peak)."""
    m = median([r.maxrss_kib / 1024 for r in measured])
    f = median([r.maxrss_kib / 1024 for r in floor])
    return Figure(
        section="memory",
        name=name,
        value=ratio(m, f),
        measured=m,
        floor=f,
        abs_unit="MiB",
        floor_name=f"peak RSS of {FLOOR}",
        samples=len(measured),
        note=note or "ru_maxrss of the child (os.wait4), median",
    )


def init_figures(venv: Venv, rounds: int) -> list[Figure]:
    """Measure ``init my-app --with-orchestrator``, warm and cold, and its peak memory."""
    name = "`tac-bootstrap init my-app --with-orchestrator`"
    try:
        samples = round_robin(
            {
                "floor": floor_runner(venv),
                "libraries": python_runner(venv, "-c", f"import {', '.join(LIBRARIES)}"),
                "warm": init_runner(venv, cold=False),
                "cold": init_runner(venv, cold=True),
            },
            rounds,
        )
    except CommandFailedError as exc:
        why = f"not available: {exc}"
        return [
            unavailable(SECTION, f"{name}, warm", why, GOAL_INIT),
            unavailable(SECTION, f"{name}, cold", why, GOAL_INIT),
            unavailable("memory", f"peak memory of {name}, cold", why),
        ]
    floor, libraries = seconds(samples["floor"]), seconds(samples["libraries"])
    warm, cold = seconds(samples["warm"]), seconds(samples["cold"])
    return [
        timed_figure(
            SECTION,
            f"{name}, warm",
            warm,
            libraries,
            floor_name=LIBRARIES_FLOOR,
            goal=GOAL_INIT,
            note="into a fresh empty folder; Jinja2 bytecode cache of an earlier run; "
            f"{median(warm) / median(floor):.2f}{TIMES} bare Python; "
            + imports_of(venv, "init", "my-app", "--with-orchestrator"),
        ),
        timed_figure(
            SECTION,
            f"{name}, cold",
            cold,
            libraries,
            floor_name=LIBRARIES_FLOOR,
            goal=GOAL_INIT,
            note="into a fresh empty folder; empty cache, as the first run on a machine "
            "(templates from the modules the wheel carries compiled); "
            f"{median(cold) / median(floor):.2f}{TIMES} bare Python",
        ),
        memory_figure(f"peak memory of {name}, cold", samples["cold"], samples["floor"]),
    ]


def sync_repo_figures(venv: Venv, rounds: int) -> list[Figure]:
    """Measure ``sync-check`` on this repository, warm and cold, against the floor and ``--help``.

    Warm: the check cache a previous clean check left (what CI and a second run see). Cold: an
    empty cache folder each run, so every template is rendered.
    """
    name = "`tac-bootstrap sync-check` on this repo"
    args = ("sync-check", "--root", str(REPO))
    warm_cache = check_cache()
    shutil.rmtree(warm_cache, ignore_errors=True)
    try:
        samples = round_robin(
            {
                "floor": floor_runner(venv),
                "help": tool_runner(venv, "--help"),
                "warm": tool_runner(venv, *args, ok_codes=(0, 1), cache=warm_cache),
                "cold": cold_check_runner(venv, *args),
            },
            rounds,
        )
    except CommandFailedError as exc:
        why = f"not available: {exc}"
        return [
            unavailable(SECTION, f"{name}, warm", why),
            unavailable(SECTION, f"{name}, warm, vs `--help`", why, GOAL_SYNC_REPO),
            unavailable(SECTION, f"{name}, cold", why),
            unavailable("memory", f"peak memory of {name}, cold", why),
        ]
    floor, helps = seconds(samples["floor"]), seconds(samples["help"])
    warm, cold = seconds(samples["warm"]), seconds(samples["cold"])
    figs = [
        timed_figure(
            SECTION,
            f"{name}, warm",
            warm,
            floor,
            floor_name=FLOOR,
            note="check cache left by a previous clean check",
        ),
        timed_figure(
            SECTION,
            f"{name}, warm, vs `--help`",
            warm,
            helps,
            floor_name="`tac-bootstrap --help`",
            goal=GOAL_SYNC_REPO,
            note="the issue's 'close to starting the tool', read as at most half "
            "again the cost of `--help`",
        ),
        timed_figure(
            SECTION,
            f"{name}, cold",
            cold,
            floor,
            floor_name=FLOOR,
            note=f"empty check cache: every template rendered; "
            f"{median(cold) / median(helps):.2f}{TIMES} `--help`",
        ),
        memory_figure(f"peak memory of {name}, cold", samples["cold"], samples["floor"]),
    ]
    failed = sum(r.code != 0 for r in samples["warm"] + samples["cold"])
    if failed:
        for fig in figs:
            fig.note += (
                f"; WARNING: sync-check found problems in this repo in {failed} run(s) "
                "(exit 1), so it did not do a clean check's work"
            )
    return figs


def figures(venv: Venv, settings: Settings) -> list[Figure]:
    """Run every start-up group and return its figures."""
    return [
        *startup_figures(venv, settings.startup_rounds),
        *init_figures(venv, settings.job_rounds),
        *sync_repo_figures(venv, settings.job_rounds),
    ]
