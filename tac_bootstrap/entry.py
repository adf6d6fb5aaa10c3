"""The command line's entry: ``main``, run by the console script through ``__main__``.

:mod:`tac_bootstrap.__main__` installs a first handler for the stopping signals and imports
this module; :func:`main` replaces that handler with its own.
"""

# The C module behind `signal`, already loaded by the interpreter: `signal` itself would
# import enum and cost more than the rest of `--version`.
import _signal  # type: ignore[import-not-found]
import errno  # built in: costs nothing
import io  # already imported by the interpreter's start-up
import os  # already imported by the interpreter's start-up
import sys

from tac_bootstrap import __version__

TYPE_CHECKING = False  # typing is not imported for --version
if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
_MESSAGE = "error: interrupted\n"
# The signals that end a command with one line and 128 + their number, as Ctrl-C does: a
# closed terminal (SIGHUP) and a polite kill, from `kill`, `timeout` or a CI runner (SIGTERM).
# (Windows has no SIGHUP.) The same as tac_bootstrap.__main__'s: not one the process started
# with ignored (``nohup`` ignores SIGHUP, a script's background job SIGINT), which stays so;
# __main__ left it ignored.
_STOPPING = {
    number: name
    for name in ("SIGINT", "SIGHUP", "SIGTERM")
    if (number := getattr(_signal, name, None)) is not None
    and _signal.getsignal(number) != _signal.SIG_IGN
}


# What the command has written when a stop lands, said in the line it ends with (see on_stop).
_WRITTEN: list[str] = []


def on_stop(sentence: str | None) -> None:
    """From here on, a stop ends the command saying ``sentence``: what it wrote, what is left.

    A stop that lands after a write cannot undo it (after the last one, while the command
    clears up or reports, nothing is left to do): the line says so, so that the person can
    tell the state of the project from it. None: nothing to say (nothing written).
    """
    _WRITTEN[:] = [] if sentence is None else [sentence]


def _message(signum: int) -> bytes:
    """Return the line a command stopped by the signal ``signum`` ends with."""
    by = "" if signum == _signal.SIGINT else f" by {_STOPPING[signum]}"
    line = f"{_MESSAGE[:-1]}{by}"
    for sentence in _WRITTEN:
        line += f"; {sentence}"
    return f"{line}\n".encode()


def _ignore_stops() -> None:
    """From here on the process is ending: a second signal would cut its cleanup short."""
    for number in _STOPPING:
        _signal.signal(number, _signal.SIG_IGN)


class Interrupted(BaseException):
    """A stop (Ctrl-C, SIGHUP, SIGTERM), raised instead of KeyboardInterrupt.

    No library turns it into another exit: Click, under Typer, catches KeyboardInterrupt and
    exits 1 with "Aborted!"; this passes through it (and through every ``except Exception``),
    runs every ``finally`` and cleanup on its way, and ends here as exit 128 + the signal's
    number with one line.
    """

    def __init__(self, signum: int = _signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, _frame: object) -> None:
    if isinstance(sys.exc_info()[1], (Interrupted, KeyboardInterrupt)):
        # A stop is already being handled (main's except clause, before it ignores the next
        # ones): one sent again after Python dropped it (see _unraisable) was raised there,
        # a traceback. The command is ending on that stop: this one changes nothing.
        return
    if _PRINTING and not _HELD:  # the report goes out whole, then the stop ends the command
        _HELD.append(signum)
        _signal.signal(_signal.SIGALRM, _held_too_long)
        _signal.setitimer(_signal.ITIMER_REAL, PRINT_GRACE)
        return
    # Later signals are ignored: the cleanup this one starts (files put back) runs to its end.
    _ignore_stops()
    raise Interrupted(_HELD[0] if _HELD else signum)


# How long a stop waits for the report it landed in to be written out (seconds, from the
# stop): a reader that has not taken all of it by then gets it cut, and the stop ends the
# command.
PRINT_GRACE = 2.0
# Nonzero while a report is written out (see WholeOutput), and the stop held meanwhile.
_PRINTING: list[int] = []
_HELD: list[int] = []


def _held_too_long(_signum: int, _frame: object) -> None:
    _ignore_stops()
    raise Interrupted(_HELD[0])


class WholeOutput:
    """Write a report whole: a stop that lands meanwhile ends the command right after it.

    A stop raised in the middle of a write cut the report where it was (a JSON document
    without its end, read by ``jq`` as an error of its own). Here the report is finished
    first, then the stop ends the command as any other (128 + its number, its line), so that
    stdout holds the whole report or none of it. A second stop, or a report still not written
    out :data:`PRINT_GRACE` seconds after the stop, ends it at once: a stop is never held for
    long. The error line and the step summary are held alike.
    """

    def __enter__(self) -> None:
        _PRINTING.append(1)

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        _PRINTING.pop()
        if _PRINTING or not _HELD:
            return
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
        if kind is not None and issubclass(kind, (Interrupted, KeyboardInterrupt)):
            return  # the stop (or a second one) is already on its way
        _ignore_stops()
        raise Interrupted(_HELD[0])


# The stops whose exception Python dropped (see _unraisable), the first one first.
_DROPPED: list[int] = []


def _unraisable(unraisable: "sys.UnraisableHookArgs") -> None:
    """Raise again a stop that Python dropped, instead of printing it.

    A signal's handler runs where Python next checks for one, which may be a weakref callback
    or a ``__del__`` (importlib runs one as each import ends): an exception raised there is
    printed ("Exception ignored in …", a traceback) and dropped, and the command ran on to its
    end, exit 0, every later stop ignored. Here the stop is sent again to the main thread a
    moment later, from a thread of its own, so that it is raised where the command runs; and a
    command that ends first still ends as stopped (see :func:`main`).
    """
    exc = unraisable.exc_value
    if _raced_to_ignored(exc):
        return
    if not isinstance(exc, (Interrupted, KeyboardInterrupt)):
        sys.__unraisablehook__(unraisable)
        return
    signum = exc.signum if isinstance(exc, Interrupted) else _signal.SIGINT
    _DROPPED.append(signum)
    for number in _STOPPING:
        _signal.signal(number, _interrupt)
    import _thread  # built in

    try:  # noqa: SIM105 - contextlib is not imported on this path
        _thread.start_new_thread(_send_again, (_thread.get_ident(), signum))
    except RuntimeError:  # no new thread (the interpreter is ending): main() still ends it
        pass


def _raced_to_ignored(exc: BaseException | None) -> bool:
    """Whether ``exc`` is Python's word for a stop (or alarm) that landed as it was ignored.

    A second stop that lands as the command starts ignoring them, ending on the first, reached
    Python's check after its handler was gone: Python reported it ("Signal 15 ignored due to
    race condition", a traceback, before the first stop's line). It is ignored as was meant.
    """
    words = str(exc).split(" ") if isinstance(exc, OSError) else []
    return (
        len(words) == 7
        and words[0] == "Signal"
        and words[2:] == ["ignored", "due", "to", "race", "condition"]
        and words[1].isdigit()
        and int(words[1]) in (*_STOPPING, _signal.SIGALRM)
    )


def _send_again(thread: int, signum: int) -> None:
    """Send ``signum`` to the main thread ``thread`` once it is out of the callback."""
    import time  # built in

    time.sleep(0.005)
    try:  # noqa: SIM105 - contextlib is not imported on this path
        _signal.pthread_kill(thread, signum)
    except (OSError, AttributeError):  # the process is ending, or no pthread_kill (Windows)
        pass


def main() -> None:
    """Run the command line; Ctrl-C, SIGHUP or SIGTERM exits 128 + its number with one line."""
    sys.unraisablehook = _unraisable
    _WRITTEN.clear()  # a command run before in this process (tests) said its own
    _HELD.clear()
    try:
        _run_and_end()
    except (Interrupted, KeyboardInterrupt) as late:
        # A stop that landed while _run_and_end handled how the command ended (an output
        # error, before _end_saying ignores the next stops): it ends the command as stopped,
        # where it was a traceback.
        _ignore_stops()
        _stopped(late.signum if isinstance(late, Interrupted) else _signal.SIGINT)
    finally:
        # The command is done (or exiting): a signal now changes nothing, so ignore it.
        _ignore_stops()


def _run_and_end() -> None:
    """Run the command line and end it: stopped, an output error, or out of memory."""
    try:  # a signal as the handler changes is met by one or the other: both end the same
        for number in _STOPPING:
            _signal.signal(number, _interrupt)
        try:
            _main()
        finally:
            if _DROPPED:  # the command ended before the stop Python dropped was raised again
                raise Interrupted(_DROPPED[0])
    except (Interrupted, KeyboardInterrupt, RuntimeError) as exc:
        # Python 3.11 wraps an exception raised while a class is made (a dataclass's fields,
        # as a module is imported) in "RuntimeError: Error calling __set_name__".
        cause = exc.__cause__ if isinstance(exc, RuntimeError) else exc
        if not isinstance(cause, (Interrupted, KeyboardInterrupt)):
            raise
        _ignore_stops()  # a second signal: no traceback
        _stopped(cause.signum if isinstance(cause, Interrupted) else _signal.SIGINT)
    except OSError as exc:  # stdout refused --version or a help text: full, closed, a pipe
        _end_on_os_error(exc)
    except MemoryError:  # a memory limit (ulimit -v) too low for the command: no traceback
        _out_of_memory()
    except (ImportError, SystemError) as exc:
        if not _short_of_memory(exc):
            raise
        _out_of_memory()


def _short_of_memory(exc: ImportError | SystemError) -> bool:
    """Whether ``exc`` is how an import failed for want of memory under a memory limit.

    Under ``ulimit -v`` the library of an extension module (select, _sqlite3) could not be
    mapped ("….so: failed to map segment from shared object"), or CPython's import failed
    without an exception ("SystemError: error return without exception set"): a traceback,
    exit 1.
    """
    if isinstance(exc, ImportError):
        text = str(exc).lower()
        return "failed to map segment" in text or "cannot allocate memory" in text
    try:
        import resource  # imported by the package's __init__ already: nothing to load
    except ImportError:
        return False
    limits = (resource.RLIMIT_AS, resource.RLIMIT_DATA)
    return any(resource.getrlimit(limit)[0] != resource.RLIM_INFINITY for limit in limits)


def _end_on_os_error(exc: OSError) -> None:
    """End on an output that could not be written, or on memory an import could not get."""
    if exc.errno == errno.ENOMEM:  # importlib listing a folder of sys.path, under ulimit -v
        _out_of_memory()
    if exc.errno not in (errno.ENOSPC, errno.EPIPE, errno.EBADF, errno.EIO):
        raise exc
    _end_saying(f"error: cannot write the output: {exc.strerror}\n".encode(), 2)


_OUT_OF_MEMORY = "out of memory: the process's memory limit is too low"


def _out_of_memory() -> None:
    """End on the out-of-memory line, exit 2, after the report ``--format`` asked for.

    Made by hand, without :mod:`json` or :mod:`tac_bootstrap.report` (importing may be what
    failed): the JSON document and annotation every other exit 2 gives.
    """
    fmt = _asked_format(sys.argv[1:])
    if fmt == "json":
        doc = f'{{\n  "version": 1,\n  "tac_bootstrap": "{__version__}",\n  "ok": false,\n'
        doc += f'  "error": "{_OUT_OF_MEMORY}"\n}}\n'
    elif fmt == "github":
        doc = f"::error title=sync-check could not run::{_OUT_OF_MEMORY}\n"
    line = f"error: {_OUT_OF_MEMORY}\n"
    if fmt is not None:
        try:
            os.write(1, doc.encode())
        except OSError as refused:  # stdout refuses: a second line says the report is lost
            what = "JSON report" if fmt == "json" else "annotation"
            line += f"error: the {what} of the error above could not be written: "
            line += f"{refused.strerror}\n"
    _end_saying(line.encode(), 2)


def _end_saying(line: bytes, code: int) -> None:
    """End the process with ``code`` after its last line on stderr (dropped if refused).

    Not sys.exit: the interpreter's last flush would fail again. The process is ending: a
    stop now changes nothing (it raised in the middle of this write, a traceback), and the
    line waits :data:`PRINT_GRACE` seconds at most for a stderr nobody reads (a full pipe).
    """
    _ignore_stops()
    _bound_last_words(code)
    try:  # noqa: SIM105 - contextlib is not imported on this path
        os.write(2, line)
    except OSError:  # stderr refuses too: the exit code is all there is
        pass
    os._exit(code)


def _bound_last_words(code: int) -> None:
    """End the process with ``code`` if its last line still waits :data:`PRINT_GRACE` from now.

    Every stop is ignored by then (see :func:`_ignore_stops`): a stderr that is a full pipe
    nobody reads held the process for ever, SIGTERM and Ctrl-C ignored.
    """

    def give_up(_signum: int, _frame: object) -> None:
        os._exit(code)

    _signal.signal(_signal.SIGALRM, give_up)
    _signal.setitimer(_signal.ITIMER_REAL, PRINT_GRACE)


def _stopped(signum: int) -> None:
    """End the process stopped by ``signum``: one line on stderr, exit 128 + signum.

    A closed terminal (SIGHUP) takes stdout and stderr with it: what they refuse is dropped,
    and the exit code still says why the command ended (not the interpreter's 120 for a
    stream it could not flush at exit).
    """
    _bound_last_words(128 + signum)
    try:
        sys.stderr.write(_message(signum).decode())
        sys.stderr.flush()
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):  # refused, closed, or None
        os._exit(128 + signum)  # not sys.exit: the interpreter's last flush would fail again
    # Written: no bound on what follows (in a test, main() runs in pytest's own process).
    _signal.setitimer(_signal.ITIMER_REAL, 0)
    _signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
    sys.exit(128 + signum)


class _Closed:
    """What ``sys.stdout`` or ``sys.stderr`` is when the process started with it closed.

    Python leaves None there: Click and Rich then drop what they print (``--help`` exited 0
    having shown nothing) and code that writes to it ends in an AttributeError. Writing to
    this is the error any other stream that refuses its text gives.
    """

    encoding = "utf-8"
    errors = "strict"
    closed_at_start = True

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        if text:
            raise OSError(errno.EBADF, f"{self.name} is closed")
        return 0

    def flush(self) -> None:
        """Nothing is ever held."""

    def isatty(self) -> bool:
        return False


def _stand_in_for_closed_streams() -> None:
    """Put a :class:`_Closed` in place of a stream the process started without (``>&-``)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, _Closed(name))


def _hold_closed_streams() -> None:
    """Open the null device in place of a standard stream closed at start (``2>&-``).

    A command other than init and update started with stdout closed stops here.

    ``sys.stdout`` stays None, so writing the report still fails as it should, but the next
    file or pipe opened no longer takes its number: the child that imports the checked modules
    read or answered on it and "ended its process", failing a clean project.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
    if sys.stdout is None and sys.argv[1:2] not in (["init"], ["update"]):
        # A dry run's migration, a diff or a report would be lost while the exit code says
        # done (init and update say so themselves, later).
        raise OSError(errno.EBADF, "stdout is closed")


class _WholeWrites(io.FileIO):
    """A standard stream's file that writes all it is given, or raises.

    Unbuffered (``PYTHONUNBUFFERED``, set by many CI images, or ``python -u``), Python's
    text stream writes straight to the file and drops what a short write left: a report
    larger than a pipe's buffer, cut by a reader that closed (``| head -c1``), ended as if
    delivered, exit 0. Here the rest is written again, and a closed pipe is its EPIPE.
    """

    def write(self, data: "ReadableBuffer", /) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            written = super().write(view[done:])
            if written is None:  # non-blocking and full: what a buffered stream would say
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN), done)
            done += written
        return done


def _write_whole_or_fail() -> None:
    """Give an unbuffered stdout or stderr a file that never drops the rest of a short write."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if type(getattr(stream, "buffer", None)) is not io.FileIO:
            continue  # buffered (its buffer writes the rest), or a stand-in
        whole = _WholeWrites(stream.fileno(), "w", closefd=False)
        setattr(
            sys,
            name,
            io.TextIOWrapper(
                whole,
                encoding=stream.encoding,
                errors=stream.errors,
                line_buffering=stream.line_buffering,
                write_through=True,
            ),
        )


def _no_text_through(streams: tuple[object, ...]) -> None:
    """End on one line, exit 2, if the encoding of one of ``streams`` cannot write any text.

    PYTHONIOENCODING may name a codec that refuses every text (``undefined``) or the escaping
    every output of Python's uses (``idna`` takes no error handler but ``strict``): each write
    then raised, and the command ended on an exception Python could not show on that stderr
    ("lost sys.stderr"), exit 1, a check that found nothing wrong seemingly failing.
    """
    for stream in streams:
        encoding = getattr(stream, "encoding", None)
        if not isinstance(encoding, str):
            continue  # closed (None), or a stand-in that takes any text
        try:
            "error: \u2026\n".encode(encoding, "backslashreplace")
        except (LookupError, ValueError):  # UnicodeError is a ValueError
            name = "stdout" if stream is sys.stdout else "stderr"
            _end_saying(
                f"error: cannot write the output: {name}'s encoding {encoding!r} cannot write"
                " text (PYTHONIOENCODING?)\n".encode(),
                2,
            )


def _main() -> None:
    """Answer ``--version`` before heavy imports; run init, sync-check and update without Typer."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        if sys.stdout is None:  # started with stdout closed
            raise OSError(errno.EBADF, "stdout is closed")
        _no_text_through((sys.stdout,))
        sys.stdout.write(f"tac-bootstrap {__version__}\n")
        sys.stdout.flush()
        return
    _hold_closed_streams()
    _stand_in_for_closed_streams()  # init's and update's, and a closed stderr
    _write_whole_or_fail()
    _no_text_through((sys.stderr, sys.stdout))
    # Reports quote the checked files: where stdout's encoding cannot show a character of them
    # (PYTHONIOENCODING=ascii, a C locale without UTF-8 mode) it is shown escaped, as on stderr,
    # instead of ending the command in a UnicodeEncodeError traceback.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")
    if sys.argv[1:2] == ["init"]:
        # Typer parses options through Pydantic TypeAdapters; a well-formed init runs without.
        from tac_bootstrap.fastinit import main as fast_init

        code = fast_init(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    if sys.argv[1:2] == ["sync-check"]:
        # Typer parses options through Pydantic; a well-formed check runs without it.
        from tac_bootstrap.fastcheck import main as fast_sync_check

        code = fast_sync_check(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    if sys.argv[1:2] == ["update"]:
        # The same, for update.
        from tac_bootstrap.fastupdate import main as fast_update

        code = fast_update(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    _run_typer()


def _run_typer() -> None:
    """Run the command line through Typer: help texts, usage errors and the other commands."""
    from tac_bootstrap.cli import app

    try:
        # Not standalone: Click's usage error comes back here to be shown whole (see
        # _show_usage_error); an exit (--help, typer.Exit) comes back as its code.
        code = app(prog_name="tac-bootstrap", standalone_mode=False)
    except Exception as exc:
        _show_usage_error(exc)
        raise
    except SystemExit as exc:
        # Click ends a closed pipe (a --help text piped to `head -0`) with exit 1, silently,
        # its streams wrapped to ignore the error: end it as every other output error here.
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            raise OSError(errno.EPIPE, os.strerror(errno.EPIPE)) from None
        raise
    sys.exit(code if isinstance(code, int) else 0)


def _show_usage_error(exc: Exception) -> None:
    """End the command on Click's usage error (a bad option, a missing argument): exit 2.

    Written as :class:`WholeOutput` writes a report: a stop that lands meanwhile (its text
    waiting in a full stderr pipe) ends the command after it, not in its middle. Returns for
    any other exception (Click's ``Abort`` included), which is not Click's to show.
    """
    show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
    if not callable(show) or not isinstance(exit_code, int):
        if type(exc).__name__ != "Abort":
            return
        show, exit_code = lambda: sys.stderr.write("Aborted!\n"), 1  # what Click says
    with WholeOutput():
        try:
            show()
            sys.stderr.flush()
        finally:  # a stderr that refuses it (full, closed) still leaves stdout its report
            if exit_code == 2:
                _usage_error_as_asked(exc)
    sys.exit(exit_code)


# The commands whose --format json (or sync-check's github) gives a report on stdout on every
# exit, and the options of each that take a value (as Click reads them: the next argument).
_REPORTING = {
    "sync-check": ({"--root", "--format"}, ("json", "github")),
    "update": ({"--root", "--format", "--data", "-d"}, ("json",)),
}


def _asked_format(args: list[str]) -> str | None:
    """Return the ``--format`` of ``args`` (command first) if it gives a report on exit 2."""
    valued, formats = _REPORTING.get(args[0], (set(), ())) if args else (set(), ())
    fmt, rest = None, iter(args[1:])
    for arg in rest:
        if arg == "--":
            break
        if arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        elif arg in valued:
            value = next(rest, None)
            fmt = value if arg == "--format" else fmt
    return fmt if fmt in formats else None


def _usage_error_as_asked(exc: Exception) -> None:
    """Say a usage error on stdout too, in the form ``--format json`` or ``github`` asked for.

    A report on every exit 2, as a check that could not run gives (`sync-check --format json
    --nope` printed nothing on stdout: ``jq`` read no document, GitHub showed no annotation).
    """
    fmt = _asked_format(sys.argv[1:])
    if fmt is None:
        return
    from tac_bootstrap import report

    message = getattr(exc, "format_message", lambda: str(exc))()
    if fmt == "json":
        text = report.error_json(message)
    else:
        text = report.annotation("sync-check could not run", report.printable(message))
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as refused:  # full, closed: say the report is lost, as a check's error does
        from tac_bootstrap.fastinit import silence_failed_streams

        silence_failed_streams()
        try:
            sys.stderr.write(report.lost_report_line(fmt, refused))
            sys.stderr.flush()
        except OSError:  # stderr refuses too: the exit code is all there is
            pass
