"""Shared test options: ``--update-golden`` rewrites the golden files instead of comparing."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# How fast Hypothesis makes examples depends on the machine's load, not on the code: on a shared
# CI machine (load 12 on 2 cores) the lowest-versions run failed five property tests with "Data
# generation is extremely slow". Tests that pass their own settings list this check again.
settings.register_profile("shared-machine", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")


def _still_ignored(_signum: int, _frame: object) -> None:
    """Ignore the stop in this process; a command a test starts gets the default (exec)."""


# Started in the background of a script (`pytest … &`: Ctrl-C ignored) or by nohup (SIGHUP),
# the run would pass the ignored stop on to the commands its tests start, and tac-bootstrap
# keeps a stop it started with ignored: the tests that stop them so would fail.
for _number in (signal.SIGINT, getattr(signal, "SIGHUP", signal.SIGINT), signal.SIGTERM):
    if signal.getsignal(_number) == signal.SIG_IGN:
        signal.signal(_number, _still_ignored)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/ from the current templates instead of comparing.",
    )


#: The longest id a parametrized test may have. pytest puts the running test's id into
#: PYTEST_CURRENT_TEST, in the environment of every subprocess the test starts: under pytest 8.4
#: ids of up to 23 MB (the values themselves) made starting one fail (Argument list too long).
MAX_ID = 200


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run a parametrized test whose id is too long: give it ``ids=`` instead."""
    long = [
        item.nodeid[:120]
        for item in items
        if len(getattr(getattr(item, "callspec", None), "id", "")) > MAX_ID
    ]
    if long:
        msg = f"{len(long)} test id(s) over {MAX_ID} characters; give them short ids: {long}"
        raise pytest.UsageError(msg)


@pytest.fixture
def after_each_look(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Path, Callable[[int], None]], list[object]]:
    """Install a hook: ``changed(n)`` runs right after the n-th look at ``path``.

    A look is ``os.stat`` or ``os.lstat`` of that path (pathlib's looks call them): a race
    between two looks, made at each one in turn. Returns the looks seen, filled as they come.
    """

    def install(path: Path, changed: Callable[[int], None]) -> list[object]:
        seen: list[object] = []

        def changes_after(look: Callable[..., os.stat_result]) -> Callable[..., os.stat_result]:
            def looking(name: object, *args: object, **kwargs: object) -> os.stat_result:
                try:
                    return look(name, *args, **kwargs)
                finally:
                    if isinstance(name, str | os.PathLike) and os.fspath(name) == str(path):
                        seen.append(name)
                        changed(len(seen))

            return looking

        monkeypatch.setattr(os, "stat", changes_after(os.stat))
        monkeypatch.setattr(os, "lstat", changes_after(os.lstat))
        return seen

    return install


@pytest.fixture
def folder_turned_link(tmp_path: Path) -> tuple[Path, Path, Callable[[], None]]:
    """A root holding ``d/f.txt`` ("mine"), an empty folder ``outside`` beside it, and a swap.

    The swap moves ``d`` to ``old`` and puts a link to ``outside`` in its place: a folder that,
    once checked, becomes a link out of the root.
    """
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d/f.txt").write_text("mine\n")

    def swap() -> None:
        (root / "d").rename(root / "old")
        (root / "d").symlink_to(outside)

    return root, outside, swap


@pytest.fixture
def set_user_xattr() -> Callable[[Path], None]:
    """Give a file the extended attribute ``user.origin = kept``, or skip where there are none."""

    def set_it(path: Path) -> None:
        try:
            os.setxattr(path, "user.origin", b"kept")
        except (AttributeError, OSError) as exc:  # not Linux, or a file system without them
            pytest.skip(f"no user extended attributes here: {exc}")

    return set_it


@pytest.fixture
def python_calls() -> Callable[[Callable[[], object]], int]:
    """Count the Python function calls ``run()`` makes: the work it does, counted, not timed."""

    def count_calls(run: Callable[[], object]) -> int:
        calls = 0

        def count(_frame: object, event: str, _arg: object) -> None:
            nonlocal calls
            calls += event == "call"

        sys.setprofile(count)
        try:
            run()
        finally:
            sys.setprofile(None)
        return calls

    return count_calls


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True, scope="session")
def _cache_outside_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the tool's caches (and the subprocesses' ones) out of the user's home."""
    os.environ["TAC_BOOTSTRAP_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def _separate_stderr_under_old_click() -> None:
    """Make Typer's CliRunner keep stderr apart under Click before 8.2, as 8.2 always does.

    The lowest Typer the package allows (checked in CI with the lowest direct versions) runs
    on Click 8.1, whose CliRunner mixes stderr into stdout unless told not to; Click 8.2
    removed the option, and Typer 0.26 bundles a Click without it.
    """
    import functools
    import inspect

    from typer.testing import CliRunner

    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        CliRunner.__init__ = functools.partialmethod(  # type: ignore[method-assign,assignment]
            CliRunner.__init__, mix_stderr=False
        )


_separate_stderr_under_old_click()
