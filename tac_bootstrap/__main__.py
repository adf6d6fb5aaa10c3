"""Entry point for ``tac-bootstrap`` and ``python -m tac_bootstrap``.

Kept this short on purpose: without a bytecode cache (``PYTHONDONTWRITEBYTECODE``, a
read-only install) Python compiles a module whole before it runs its first line, and until
the handler below is installed, a Ctrl-C ends the process with a KeyboardInterrupt traceback
and a SIGTERM kills it without a word. The command line itself is :mod:`tac_bootstrap.entry`.
"""

# The C module behind `signal`, already loaded by the interpreter: `signal` itself would
# import enum and cost more than the rest of `--version`.
import _signal  # type: ignore[import-not-found]
import os  # already imported by the interpreter's start-up

# Ctrl-C, a closed terminal, a polite kill (Windows has no SIGHUP); one the process started
# with ignored stays so (nohup ignores SIGHUP, a script's background job SIGINT).
_STOPPING = {
    number: name
    for name in ("SIGINT", "SIGHUP", "SIGTERM")
    if (number := getattr(_signal, name, None)) is not None
    and _signal.getsignal(number) != _signal.SIG_IGN
}


# How long the line waits for a stderr that takes nothing (entry.PRINT_GRACE, as every last line).
_GRACE = 2.0


def _interrupt_early(signum: int, _frame: object) -> None:
    """A stop before :func:`main` runs: nothing to clean up yet, so one line and 128 + signum."""
    # The stops are held, then ignored: a second one landing as its handler became SIG_IGN was
    # reported by Python as "OSError: Signal 15 ignored due to race condition", a traceback.
    if hasattr(_signal, "pthread_sigmask"):  # not on Windows
        _signal.pthread_sigmask(_signal.SIG_BLOCK, _STOPPING)
    for number in _STOPPING:
        _signal.signal(number, _signal.SIG_IGN)
    # The line waits _GRACE seconds at most (a full stderr pipe nobody reads held it for ever).
    if hasattr(_signal, "setitimer"):  # not on Windows
        _signal.signal(_signal.SIGALRM, lambda *_: os._exit(128 + signum))
        _signal.setitimer(_signal.ITIMER_REAL, _GRACE)
    line = "error: interrupted" + ("" if signum == _signal.SIGINT else f" by {_STOPPING[signum]}")
    try:  # noqa: SIM105 - contextlib is not imported yet, and need not be
        os.write(2, f"{line}\n".encode())
    except OSError:  # stderr closed, or the terminal it was is gone (SIGHUP): the code says it
        pass
    os._exit(128 + signum)


# First thing, before any other import of this package: from here on no Ctrl-C ends in a
# traceback, and no SIGHUP or SIGTERM ends the process without a word. (Before it run the
# interpreter's start-up, the console script's own imports and this package's __init__.)
for _number in _STOPPING:
    _signal.signal(_number, _interrupt_early)

from tac_bootstrap.entry import main  # noqa: E402 - after the handler, on purpose

__all__ = ["main"]

if __name__ == "__main__":
    main()
