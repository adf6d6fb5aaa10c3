"""Reports larger than a pipe's buffer, cut by a reader that closes partway (``| head -c1``).

Run through the installed script, buffered and unbuffered (``PYTHONUNBUFFERED``, set by many
CI images): the command says its output was cut (exit 2, one line), and whatever it writes to
disk is complete before its report starts.

The project is generated once per module: the checks read one copy of it, whose cache (the
session's ``TAC_BOOTSTRAP_CACHE_DIR``, set by conftest) is filled once, and each test that
writes gets a copy of its own; the output of a run left to its end, which a stopped run is
compared with, is taken once per command (see :func:`whole_once`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

import pytest
from typer.testing import CliRunner

from tac_bootstrap.cli import app
from tac_bootstrap.entry import PRINT_GRACE

EXE = Path(sys.executable).with_name("tac-bootstrap")
FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"
CUT = "error: cannot write the output: Broken pipe\n"
T = TypeVar("T")
BIG = "".join(f"# line {i} {'x' * 60}\n" for i in range(300))  # ~22 KB of diff


def script_env(*, unbuffered: bool) -> dict[str, str]:
    """The installed script's environment, buffered or not."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


def one_page_pipe() -> tuple[int, int]:
    """A pipe that holds one page (4 KiB, not 64): a report of a few pages is larger."""
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    return read, write


def head_c1(args: list[str], cwd: Path, *, unbuffered: bool) -> tuple[int, str]:
    """Run the installed script into a pipe whose reader takes one byte and closes.

    The pipe holds one page (4 KiB, not 64): a report of a few pages is larger than it.
    """
    env, (read, write) = script_env(unbuffered=unbuffered), one_page_pipe()
    try:
        with subprocess.Popen(
            [EXE, *args], stdout=write, stderr=subprocess.PIPE, cwd=cwd, env=env
        ) as proc:
            os.close(write)
            write = -1
            assert os.read(read, 1)
            os.close(read)
            read = -1
            assert proc.stderr is not None
            err = proc.stderr.read().decode()
            return proc.wait(timeout=120), err
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)


@pytest.fixture(scope="module")
def generated_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project made by `init --with-orchestrator`, once per module: tests take a copy."""
    parent = tmp_path_factory.mktemp("generated")
    with contextlib.chdir(parent):  # in this process: a project to work on, not a case
        result = CliRunner().invoke(app, ["init", "p", "--with-orchestrator"])
    assert result.exit_code == 0, result.output
    return parent / "p"


@pytest.fixture
def project(tmp_path: Path, generated_once: Path) -> Path:
    """A copy of the generated project, ``tmp_path / "p"``."""
    root = tmp_path / "p"
    shutil.copytree(generated_once, root, symlinks=True)
    return root


def _edited(project: Path) -> Path:
    (models,) = project.glob("src/*/orch_database_models.py")
    models.write_text(models.read_text() + BIG)
    return project


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory, generated_once: Path) -> Path:
    """One edited project for the module's checks, checked once (which fills the cache).

    Checks only read it. Its cache (one per root) is then as warm for each later check as for
    the next: a report says how many checks the cache spared (JSON's ``skipped``), and a
    stopped run is compared with a whole one.
    """
    root = tmp_path_factory.mktemp("checked") / "p"
    shutil.copytree(generated_once, root, symlinks=True)
    proc = subprocess.run([EXE, "sync-check"], cwd=_edited(root), capture_output=True, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return root


@pytest.fixture
def generated(project: Path) -> Path:
    """A copy of the generated project whose models module was edited by ~22 KB (its diff)."""
    return _edited(project)


@pytest.fixture
def templated(tmp_path: Path) -> Path:
    """A repository whose template gained ~22 KB its BASE file lacks (sync's diff)."""
    return _templated(tmp_path)


def _templated(parent: Path) -> Path:
    root = parent / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    template = root / "templates" / "orch" / "plain.txt.j2"
    template.write_text(template.read_text() + BIG)
    return root


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_check_report_cut_by_its_reader_is_exit_2(
    checked: Path, fmt: str, *, unbuffered: bool
) -> None:
    # Unbuffered, the text stream dropped what a short write left: exit 0, as if delivered.
    args = ["sync-check", "--format", fmt]
    assert head_c1(args, checked, unbuffered=unbuffered) == (2, CUT)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_dry_run_cut_by_its_reader_is_exit_2_and_writes_nothing(
    templated: Path, *, unbuffered: bool
) -> None:
    before = (templated / "pkg" / "orch" / "plain.txt").read_bytes()
    assert head_c1(["sync", "--dry-run"], templated, unbuffered=unbuffered) == (2, CUT)
    assert (templated / "pkg" / "orch" / "plain.txt").read_bytes() == before


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_sync_whose_report_is_cut_has_written_every_file_first(
    templated: Path, *, unbuffered: bool
) -> None:
    """The files are written, then the report: a cut report undoes nothing, adds nothing."""
    other = templated / "templates" / "orch" / "hello.py.j2"
    other.write_text(other.read_text() + "# and this\n")
    assert head_c1(["sync"], templated, unbuffered=unbuffered) == (2, CUT)
    assert (templated / "pkg" / "orch" / "plain.txt").read_text().endswith(BIG)
    assert (templated / "pkg" / "orch" / "hello.py").read_text().endswith("# and this\n")
    assert sorted(p.name for p in templated.rglob("*") if p.name.endswith((".tmp", ".orig"))) == []
    check = subprocess.run([EXE, "sync-check"], cwd=templated, capture_output=True, check=False)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_an_update_dry_run_cut_by_its_reader_is_exit_2_and_writes_nothing(
    generated: Path, *, unbuffered: bool
) -> None:
    # A new licence rewrites LICENSE: ~11 KB of diff. (A real update prints a line per file.)
    before = {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    args = ["update", "-d", "license=Apache-2.0", "--dry-run"]
    assert head_c1(args, generated, unbuffered=unbuffered) == (2, CUT)
    assert {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("redirect", ["2>&-", "2>/dev/full"])
@pytest.mark.parametrize("command", ["sync", "migration"])
def test_a_summary_stderr_refuses_leaves_the_exit_code_to_the_report(
    request: pytest.FixtureRequest, redirect: str, command: str
) -> None:
    """sync and migration new exited 2 when only their summary line could not be written."""
    if redirect == "2>/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    if command == "sync":
        root, args = request.getfixturevalue("templated"), ["sync"]
    else:
        root, args = request.getfixturevalue("project"), ["migration", "new", "add_due"]
        (schema,) = root.glob("src/*/schema_orchestrator.sql")
        old = "    name TEXT NOT NULL,\n"
        schema.write_text(schema.read_text().replace(old, old + "    due TEXT,\n", 1))
    proc = subprocess.run(
        ["sh", "-c", f'exec "$0" "$@" {redirect}', str(EXE), *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    if command == "sync":
        assert (root / "pkg" / "orch" / "plain.txt").read_text().endswith(BIG)
        assert "rewrote pkg/orch/plain.txt" in proc.stdout
    else:
        assert proc.stdout.strip().endswith("0004_add_due.sql")
        assert list(root.glob("src/*/migrations/0004_add_due.sql"))


@pytest.mark.parametrize("redirect", ["2>&-", "2>/dev/full"])
def test_migration_new_finding_no_changes_keeps_exit_0_when_stderr_refuses(
    project: Path, redirect: str
) -> None:
    """`migration new` with nothing to write exited 2 when its "no changes" line was refused."""
    if redirect == "2>/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    root = project
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    proc = subprocess.run(
        ["sh", "-c", f'exec "$0" "$@" {redirect}', str(EXE), "migration", "new", "nothing"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def stopped_while_printing(
    args: list[str],
    cwd: Path,
    signum: int,
    after: int,
    *,
    unbuffered: bool,
    stalled: bool = False,
    into: str = "stdout",
) -> tuple[int, bytes, str]:
    """Run the installed script into a one-page pipe; send ``signum`` once ``after`` bytes are read.

    The command is then in the middle of its report (the pipe is full, its write waits). The
    reader reads on to the end, at once or, ``stalled``, once the command has ended. ``into``
    is the stream that is the pipe: for ``stderr``, stdout is dropped and the returned stderr
    text is empty.
    """
    env, (read, write) = script_env(unbuffered=unbuffered), one_page_pipe()
    out, err_to = (write, subprocess.PIPE) if into == "stdout" else (subprocess.DEVNULL, write)
    got = b""
    try:
        with subprocess.Popen([EXE, *args], stdout=out, stderr=err_to, cwd=cwd, env=env) as proc:
            os.close(write)
            write = -1
            while len(got) < after and (chunk := os.read(read, after - len(got))):
                got += chunk
            proc.send_signal(signum)
            if stalled:
                proc.wait(timeout=120)
            while chunk := os.read(read, 65536):
                got += chunk
            err = proc.stderr.read().decode() if proc.stderr else ""
            return proc.wait(timeout=120), got, err
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)


# What a command left to run to its end wrote, by its arguments and the fixture it ran in.
_WHOLE: dict[tuple[str, ...], object] = {}


def whole_once(key: tuple[str, ...], run: Callable[[], T]) -> T:
    """Return ``run()``, run once per module for ``key``: every copy of a fixture gives the same.

    Each test runs in a fresh copy of the same project (or repository): the output of the run
    left to its end is the same in each (it names files relative to the root), so it is taken
    once and each stopped run compared with it.
    """
    if key not in _WHOLE:
        _WHOLE[key] = run()
    return cast("T", _WHOLE[key])


def _report(args: list[str], cwd: Path) -> bytes:
    """The report of the command left to run to its end (its stdout)."""

    def run() -> bytes:
        proc = subprocess.run([EXE, *args], cwd=cwd, capture_output=True, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        assert len(proc.stdout) > 3 * 4096
        return proc.stdout

    return whole_once(("report", cwd.name, *args), run)


STOPS = [(signal.SIGINT, "error: interrupted\n")] + [
    (getattr(signal, name), f"error: interrupted by {name}\n")
    for name in ("SIGHUP", "SIGTERM")
    if hasattr(signal, name)
]
FORMS = {
    "check-text": (["sync-check"], "checked"),
    "check-json": (["sync-check", "--format", "json"], "checked"),
    "sync-dry-run": (["sync", "--dry-run"], "templated"),
    "update-json": (
        ["update", "-d", "license=Apache-2.0", "--dry-run", "--format", "json"],
        "generated",
    ),
}


# Each form with each stop, at a point of its report: the first byte, past the first page
# (unbuffered: PYTHONUNBUFFERED writes through another path), or further on.
CASES = [
    (form, signum, line, (1, 4097, 12000)[i % 3])
    for i, (form, (signum, line)) in enumerate((form, stop) for form in FORMS for stop in STOPS)
]


@pytest.mark.parametrize(
    ("form", "signum", "line", "after"),
    CASES,
    ids=[f"{form}-{signal.Signals(signum).name}-{after}" for form, signum, _, after in CASES],
)
def test_a_stop_while_the_report_prints_leaves_it_whole(
    request: pytest.FixtureRequest, form: str, signum: int, line: str, after: int
) -> None:
    """A stop in the middle of the report cut it (JSON without its end): now it ends after it."""
    args, fixture = FORMS[form]
    root: Path = request.getfixturevalue(fixture)
    whole = _report(args, root)
    unbuffered = after == 4097
    code, got, err = stopped_while_printing(args, root, signum, after, unbuffered=unbuffered)
    assert (code, err) == (128 + signum, line)
    assert got == whole
    if form.endswith("json"):
        json.loads(got)


@pytest.mark.parametrize("second", [False, True], ids=["stalled-reader", "second-stop"])
def test_a_stop_is_not_held_by_a_reader_that_takes_nothing(checked: Path, *, second: bool) -> None:
    """A reader that stalls gets the report cut once the grace is over (or at a second stop)."""
    args = ["sync-check", "--format", "json"]
    start = time.monotonic()
    if second:  # a second stop while the first one waits for the report to go out
        code, got, err = _stopped_twice(args, checked)
    else:
        code, got, err = stopped_while_printing(
            args, checked, signal.SIGTERM, 1, unbuffered=False, stalled=True
        )
        assert time.monotonic() - start > PRINT_GRACE
    assert (code, err) == (128 + signal.SIGTERM, "error: interrupted by SIGTERM\n")
    assert len(got) < len(_report(args, checked))


def _stopped_twice(args: list[str], cwd: Path) -> tuple[int, bytes, str]:
    """Stop the command twice while its report waits in a full pipe nobody reads."""
    read, write = one_page_pipe()
    try:
        with subprocess.Popen([EXE, *args], stdout=write, stderr=subprocess.PIPE, cwd=cwd) as proc:
            os.close(write)
            write = -1
            got = os.read(read, 1)
            proc.send_signal(signal.SIGTERM)
            took_the_stop(proc, signal.SIGTERM)  # held: two stops at once would be one
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=PRINT_GRACE - 0.5)  # before the grace could end it
            assert proc.stderr is not None
            err = proc.stderr.read().decode()
            while chunk := os.read(read, 65536):
                got += chunk
            return code, got, err
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)


# A migration's name of 3,000 words: its error line (printed by Rich) is ~10 KB, more than the
# one-page pipe of stderr holds, so the write waits there when the stop comes (after 1, 4097 or
# 5000 bytes were read: more than a page is still to come).
LONG_NAME = " ".join(["word"] * 3000)
ERROR_POINTS = [
    (signum, line, after)
    for signum, line in STOPS
    for after in (1, 4097, 5000)  # 4097: unbuffered; 5000: the rest is more than a page
]
AT_ERROR_POINTS = pytest.mark.parametrize(
    ("signum", "line", "after"),
    ERROR_POINTS,
    ids=[f"{signal.Signals(s).name}-{after}" for s, _, after in ERROR_POINTS],
)


@AT_ERROR_POINTS
def test_a_stop_while_the_error_line_prints_leaves_it_whole(
    templated: Path, signum: int, line: str, after: int
) -> None:
    """A stop in the middle of a long `error: …` line cut it: now the line ends, then the stop."""
    args = ["migration", "new", LONG_NAME]
    whole = whole_once(
        ("error-line",),
        lambda: subprocess.run([EXE, *args], cwd=templated, capture_output=True, check=False),
    )
    assert whole.returncode == 2
    assert whole.stderr.startswith(b"error: ")
    assert len(whole.stderr) > 2 * 4096
    code, got, _ = stopped_while_printing(
        args, templated, signum, after, unbuffered=after == 4097, into="stderr"
    )
    assert code == 128 + signum
    assert got.decode() == whole.stderr.decode() + line


def _summary_through_fifo(
    args: list[str], cwd: Path, signum: int | None, after: int
) -> tuple[int, bytes, bytes]:
    """Run the script with ``$GITHUB_STEP_SUMMARY`` a FIFO of one page; stop it at ``after`` bytes.

    Return its exit code, what the FIFO's reader got and stderr.
    """
    fifo = cwd.parent / "summary.fifo"
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    read = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, before the script opens it
    fcntl.fcntl(read, fcntl.F_SETPIPE_SZ, 4096)
    env = {**script_env(unbuffered=False), "GITHUB_STEP_SUMMARY": str(fifo)}
    got, sent = b"", signum is None
    try:
        with subprocess.Popen(
            [EXE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env
        ) as proc:
            while True:
                if not sent and len(got) >= after:
                    proc.send_signal(signum)  # type: ignore[arg-type]
                    sent = True
                chunk = _read_some(read)
                got += chunk
                if not chunk and proc.poll() is not None:  # ended, and nothing is left
                    break
            assert proc.stderr is not None
            return proc.wait(timeout=120), got, proc.stderr.read()
    finally:
        os.close(read)


def _read_some(fd: int) -> bytes:
    """What the FIFO holds now (b"" if nothing), after a moment's wait when it is empty."""
    try:
        chunk = os.read(fd, 1024)
    except BlockingIOError:
        chunk = b""
    if not chunk:
        time.sleep(0.005)
    return chunk


@AT_ERROR_POINTS
def test_a_stop_while_the_step_summary_is_written_leaves_it_whole(
    checked: Path, signum: int, line: str, after: int
) -> None:
    """The job summary (~25 KB) into a FIFO of one page: whole, then the stop ends the command.

    Before, the summary was cut at the page (a write that would wait was given up) with or
    without a stop, and a stop that landed meanwhile cut it where it was.
    """
    args = ["sync-check", "--format", "github"]
    code, whole, _ = whole_once(("summary",), lambda: _summary_through_fifo(args, checked, None, 0))
    assert code in (0, 1)
    assert len(whole) > 5 * 4096
    code, got, err = _summary_through_fifo(args, checked, signum, after + 4096)
    assert (code, err.decode()) == (128 + signum, line)
    assert got == whole


def test_a_stop_at_any_moment_leaves_the_step_summary_whole_or_untouched(
    generated: Path,
) -> None:
    """A summary file (what GitHub gives), the check stopped at moments through its run."""
    args = ["sync-check", "--no-cache", "--format", "github"]
    summary = generated.parent / "summary.md"
    env = {**script_env(unbuffered=False), "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run([EXE, *args], cwd=generated, env=env, capture_output=True, check=False)
    assert done.returncode in (0, 1)
    whole = summary.read_bytes()
    took = 0.0
    for i in range(12):
        summary.unlink(missing_ok=True)
        start = time.monotonic()
        with subprocess.Popen(
            [EXE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=generated, env=env
        ) as proc:
            time.sleep(took * i / 12 if took else 0.2)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        took = took or time.monotonic() - start
        assert proc.returncode in (done.returncode, 128 + signal.SIGTERM, -signal.SIGTERM), err
        assert not summary.exists() or summary.read_bytes() == whole


def test_a_step_summary_nobody_reads_does_not_hold_a_stop(checked: Path) -> None:
    """A FIFO whose reader takes nothing: the stop ends the check after the grace, not never."""
    fifo = checked.parent / "summary.fifo"
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    read = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader that never reads
    fcntl.fcntl(read, fcntl.F_SETPIPE_SZ, 4096)
    env = {**script_env(unbuffered=False), "GITHUB_STEP_SUMMARY": str(fifo)}
    args = ["sync-check", "--format", "github"]
    try:
        with subprocess.Popen(
            [EXE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=checked, env=env
        ) as proc:
            while not _fifo_full(read):
                assert proc.poll() is None
                time.sleep(0.01)
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=PRINT_GRACE + 30)
            assert proc.stderr is not None
            err = proc.stderr.read().decode()
    finally:
        os.close(read)
    assert PRINT_GRACE <= time.monotonic() - start < PRINT_GRACE + 30
    assert (code, err) == (128 + signal.SIGTERM, "error: interrupted by SIGTERM\n")


def _fifo_full(fd: int) -> bool:
    """Whether the FIFO holds a page: its writer waits."""
    import termios

    held = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, held)
    return int.from_bytes(held, sys.byteorder) >= 4096


def waits_to_write(proc: subprocess.Popen[bytes], most: float = 10) -> None:
    """Return once ``proc`` waits to write into a full pipe, or after ``most`` seconds.

    Linux names where a process sleeps in ``/proc/<pid>/wchan`` (``pipe_write``, or
    ``anon_pipe_write``; ``pipe_wait`` before 5.6). Where it is not named (``0``, hidden), the
    wait is ``most`` seconds, as long as the command has ever taken to get there.
    """
    wchan = Path(f"/proc/{proc.pid}/wchan")
    end = time.monotonic() + most
    while time.monotonic() < end and proc.poll() is None:
        try:
            where = wchan.read_text()
        except OSError:
            where = ""
        if where.endswith(("pipe_write", "pipe_wait")):
            return
        time.sleep(0.01)


def took_the_stop(proc: subprocess.Popen[bytes], signum: int, most: float = 10) -> None:
    """Return once ``proc`` has taken the stop ``signum`` and waits to write again, or has ended.

    Linux shows a signal sent and not yet taken in ``/proc/<pid>/status`` (``SigPnd``,
    ``ShdPnd``). Once taken, Python runs its handler where the write it cut returns, then writes
    again: the process waits in the full pipe again (:func:`waits_to_write`). Where the status
    does not show it, the wait is ``most`` seconds.
    """
    status = Path(f"/proc/{proc.pid}/status")
    end = time.monotonic() + most
    while time.monotonic() < end and proc.poll() is None:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
            pending = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
        except (OSError, KeyError, ValueError):
            time.sleep(0.01)
            continue
        if not pending >> (signum - 1) & 1:
            break
        time.sleep(0.01)
    waits_to_write(proc, max(0.0, end - time.monotonic()))


def full_pipe() -> tuple[int, int]:
    """A pipe of one page, already full: a write to it waits until its reader reads."""
    read, write = one_page_pipe()
    os.set_blocking(write, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write, b"x" * 512)
    os.set_blocking(write, True)
    return read, write


def ended_within(proc: subprocess.Popen[bytes], seconds: float) -> int:
    """Return ``proc``'s exit code, killing it (what it took before) if it runs ``seconds`` more."""
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


# Commands stopped while their summary line waits in a stderr nobody reads.
UNREAD_STDERR = {
    "sync-check": ["sync-check", "--no-cache"],
    "sync-dry-run": ["sync", "--dry-run"],
    "migration-new-dry-run": ["migration", "new", "x", "--dry-run"],
}


@pytest.fixture(scope="module")
def stopped_with_stderr_unread(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[int, float]]:
    """Each command of :data:`UNREAD_STDERR`, in a repository of its own, stderr a full pipe
    nobody reads, stopped by SIGTERM once it waits to write its summary line: its exit code,
    and the seconds from its stop to its end (at most: the ends are taken one after another).

    The three run at the same time: each mostly waits out its lines' grace (twice
    :data:`PRINT_GRACE`), which is time, not work.
    """
    procs: dict[str, subprocess.Popen[bytes]] = {}
    reads: list[int] = []
    try:
        for key, args in UNREAD_STDERR.items():
            root = _templated(tmp_path_factory.mktemp(key))
            read, write = full_pipe()
            reads.append(read)
            try:
                procs[key] = subprocess.Popen(
                    [EXE, *args], stdout=subprocess.DEVNULL, stderr=write, cwd=root
                )
            finally:
                os.close(write)
        stopped: dict[str, float] = {}
        for key, proc in procs.items():
            waits_to_write(proc)  # its summary line
            assert proc.poll() is None, key
            stopped[key] = time.monotonic()
            proc.send_signal(signal.SIGTERM)
        ended: dict[str, tuple[int, float]] = {}
        for key, proc in procs.items():
            code = ended_within(proc, 2 * PRINT_GRACE + 20)
            ended[key] = (code, time.monotonic() - stopped[key])
        return ended
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for fd in reads:
            os.close(fd)


@pytest.mark.parametrize("key", list(UNREAD_STDERR))
def test_a_stop_ends_a_command_whose_stderr_nobody_reads(
    stopped_with_stderr_unread: dict[str, tuple[int, float]], key: str
) -> None:
    """stderr a full pipe nobody reads: SIGTERM was ignored for ever (its line waited there)."""
    code, took = stopped_with_stderr_unread[key]
    assert code == 128 + signal.SIGTERM
    assert took < 2 * PRINT_GRACE + 20


def test_a_stop_before_main_is_not_held_by_a_stderr_nobody_reads() -> None:
    """A stop that `__main__`'s early handler met: its line waited for ever, every stop ignored."""
    read, write = full_pipe()
    stop_early = (
        "import os, signal, time\n"
        "import tac_bootstrap.__main__\n"  # its handler, before main() replaces it
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(60)\n"
    )
    try:
        with subprocess.Popen([sys.executable, "-c", stop_early], stderr=write) as proc:
            os.close(write)
            write = -1
            start = time.monotonic()
            code = ended_within(proc, PRINT_GRACE + 30)
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - start < PRINT_GRACE + 30


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["render", "--list"]])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_while_the_output_error_waits_is_no_traceback(
    tmp_path: Path, args: list[str], signum: int
) -> None:
    """stdout a closed pipe, stderr full: a stop while `cannot write the output` waited.

    Before: a traceback (`tac_bootstrap.entry.Interrupted`), exit 1. Now: the line, exit 2.
    """
    closed_read, closed_write = os.pipe()
    os.close(closed_read)
    read, write = full_pipe()
    try:
        with subprocess.Popen(
            [EXE, *args], stdout=closed_write, stderr=write, cwd=tmp_path
        ) as proc:
            os.close(write)
            write = -1
            waits_to_write(proc)  # its error line
            proc.send_signal(signum)
            took_the_stop(proc, signum)
            got = b""
            while len(got) < 4096 or proc.poll() is None:
                chunk = os.read(read, 65536)
                if not chunk:
                    break
                got += chunk
            code = proc.wait(timeout=30)
            while chunk := os.read(read, 65536):
                got += chunk
    finally:
        for fd in (read, write, closed_write):
            if fd >= 0:
                os.close(fd)
    assert code == 2
    assert got.lstrip(b"x").decode() == "error: cannot write the output: Broken pipe\n"


# Click's usage errors of about 10 KB: more than the one-page pipe of stderr holds.
USAGE_ERRORS = {
    "unknown-option": ["sync-check", "--" + "x" * 10000],
    "bad-choice": ["sync-check", "--format", "y" * 10000],
    "extra-argument": ["migration", "new", "a", "z" * 10000],
}


# Every usage error is shown by the same code (the entry's _show_usage_error, the text held
# whole): one is stopped at every point, each other one at a point of its own.
USAGE_POINTS = [("unknown-option", *point) for point in ERROR_POINTS] + [
    ("bad-choice", *ERROR_POINTS[-4]),  # the second last stop, 5000
    ("extra-argument", *ERROR_POINTS[-2]),  # the last stop, 4097: unbuffered
]


@pytest.mark.parametrize(
    ("usage", "signum", "line", "after"),
    USAGE_POINTS,
    ids=[f"{u}-{signal.Signals(s).name}-{after}" for u, s, _, after in USAGE_POINTS],
)
def test_a_stop_while_a_usage_error_prints_leaves_it_whole(
    templated: Path, usage: str, signum: int, line: str, after: int
) -> None:
    """Click's usage text was cut where the stop landed: now it ends whole, then the stop."""
    args = USAGE_ERRORS[usage]
    whole = whole_once(
        ("usage", usage),
        lambda: subprocess.run([EXE, *args], cwd=templated, capture_output=True, check=False),
    )
    assert (whole.returncode, whole.stdout) == (2, b"")
    assert whole.stderr.startswith(b"Usage: ")
    assert len(whole.stderr) > 2 * 4096
    code, got, _ = stopped_while_printing(
        args, templated, signum, after, unbuffered=after == 4097, into="stderr"
    )
    assert (code, got.decode()) == (128 + signum, whole.stderr.decode() + line)
