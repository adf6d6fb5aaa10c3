"""Run one command, timing it from spawn to exit and reading its own peak memory."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class CommandFailedError(RuntimeError):
    """A measured command exited non-zero: its figure is not reported."""

    def __init__(self, argv: Sequence[str], code: int, stderr: str) -> None:
        self.argv = list(argv)
        self.code = code
        self.stderr = stderr
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        command = " ".join([Path(argv[0]).name, *argv[1:]])
        super().__init__(f"`{command}` exited {code}: {lines[-1] if lines else 'no message'}")


@dataclass(frozen=True)
class Run:
    """One finished command: wall time, peak resident memory and output."""

    seconds: float
    maxrss_kib: int
    stdout: str
    code: int = 0


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> Run:
    """Run ``argv`` once and return its wall time and peak memory.

    ``os.wait4`` gives the rusage of that one child, so ``ru_maxrss`` is its own peak
    (in KiB on Linux), not the largest of every child so far.

    Raises:
        CommandFailedError: The command exited with a code outside ``ok_codes``.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        if proc.returncode not in ok_codes:
            raise CommandFailedError(argv, proc.returncode, err.read().decode(errors="replace"))
    return Run(seconds, int(usage.ru_maxrss), stdout, proc.returncode)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment the measured commands run with: no bytecode writes, no colour.

    PYTHONDONTWRITEBYTECODE is not set: the installed packages were compiled at install
    time, as on a user's machine, and a first run should not pay for it again and again.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "100"})
    if extra:
        env.update(extra)
    return env
