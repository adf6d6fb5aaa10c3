"""Several tasks write logs while other processes read: no lost rows, no "database is locked"."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tac_bootstrap.orchestrator.database import Database
from tac_bootstrap.orchestrator.database_errors import DatabaseError
from tac_bootstrap.orchestrator.orch_database_models import (
    Agent,
    AgentLog,
    OrchestratorAgent,
    SystemLog,
)

WRITERS = 4
BATCHES = 30
BATCH_SIZE = 25
READERS = 3

# A reader process: counts and lists the logs until the stop file appears, checking that a
# batch is never seen half written (every batch has BATCH_SIZE rows) and counts never drop.
READER = """
import asyncio, sys
from pathlib import Path
from tac_bootstrap.orchestrator.database import Database
from tac_bootstrap.orchestrator.orch_database_models import AgentLog

async def main(path: str, stop: str, batch: int) -> None:
    reads = last = 0
    async with Database.open(path) as db:
        print("ready", flush=True)
        while True:
            done = Path(stop).exists()
            count = await db.count(AgentLog)
            assert count >= last, f"the count went back from {last} to {count}"
            assert count % batch == 0, f"saw {count} rows: a batch was half written"
            newest = await db.list_rows(AgentLog, newest_first=True, limit=batch)
            assert len(newest) >= min(count, batch)  # rows may have come since
            last, reads = count, reads + 1
            if done:
                break
            await asyncio.sleep(0.002)
    print(f"reads={reads} rows={last}", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


@contextmanager
def reader_processes(path: Path, stop: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Start the reader processes; make sure none outlives the test."""
    with ExitStack() as stack:
        procs = []
        for _ in range(READERS):
            proc = stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-c", READER, str(path), str(stop), str(BATCH_SIZE)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            stack.callback(_kill_if_running, proc)
            procs.append(proc)
        yield procs


def _kill_if_running(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


async def _write_logs(path: Path, agent_id: str, writer: int) -> list[str]:
    """One writer: its own connection, batches of agent logs and single system logs."""
    ids = []
    async with Database.open(path) as db:
        for batch in range(BATCHES):
            logs = [
                AgentLog(
                    agent_id=agent_id,
                    log_type="event",
                    message=f"{writer}/{batch}/{i}",
                    metadata={"writer": writer, "batch": batch, "i": i},
                )
                for i in range(BATCH_SIZE)
            ]
            await db.insert_many(logs)
            await db.log_system("info", f"writer {writer} wrote batch {batch}")
            ids += [log.id for log in logs]
            await asyncio.sleep(0)
    return ids


async def test_writer_tasks_and_reader_processes(tmp_path: Path) -> None:
    path, stop = tmp_path / "orchestrator.db", tmp_path / "stop"
    async with Database.open(path) as db:
        orchestrator = await db.create(OrchestratorAgent(name="load"))
        agent = await db.create(Agent(orchestrator_agent_id=orchestrator.id))
    with reader_processes(path, stop) as readers:
        for proc in readers:
            assert proc.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
            assert line == "ready\n", proc.communicate()[1]
        written = await asyncio.gather(*(_write_logs(path, agent.id, w) for w in range(WRITERS)))
        stop.touch()
        results = [proc.communicate(timeout=30) for proc in readers]
    for proc, (out, err) in zip(readers, results, strict=True):
        assert "locked" not in err
        assert proc.returncode == 0, err
        assert f"rows={WRITERS * BATCHES * BATCH_SIZE}" in out
    async with Database.open(path) as db:
        stored = await db.list_rows(AgentLog, limit=None)
        assert await db.count(SystemLog) == WRITERS * BATCHES
    expected = {log_id for ids in written for log_id in ids}
    assert len(expected) == WRITERS * BATCHES * BATCH_SIZE
    assert {log.id for log in stored} == expected


async def test_a_writer_waits_for_the_lock_within_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    async with Database.open(path) as first, Database.open(path) as second:
        holding = asyncio.Event()

        async def hold_the_lock() -> None:
            async with first.atomic():
                await first.log_system("info", "long transaction")
                holding.set()
                await asyncio.sleep(0.3)

        async def write_meanwhile() -> None:
            await holding.wait()
            await second.log_system("info", "waited")

        await asyncio.gather(hold_the_lock(), write_meanwhile())
        assert await second.count(SystemLog) == 2


async def test_a_lock_held_past_the_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    async with Database.open(path) as first, Database.open(path, timeout=0.05) as impatient:
        holding = asyncio.Event()
        release = asyncio.Event()

        async def hold_the_lock() -> None:
            async with first.atomic():
                await first.log_system("info", "long transaction")
                holding.set()
                await release.wait()

        async def write_meanwhile() -> None:
            await holding.wait()
            try:
                with pytest.raises(DatabaseError, match="locked"):
                    await impatient.log_system("info", "gave up")
            finally:
                release.set()

        await asyncio.gather(hold_the_lock(), write_meanwhile())
        assert [log.message for log in await impatient.list_rows(SystemLog)] == ["long transaction"]
