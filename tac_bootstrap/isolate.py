"""Import a module of the checked repository in a child process, and describe it there.

Importing a module runs its code, and ``sync-check`` checks code from pull requests. In the
checker's own process, that code could end the check with ``sys.exit(0)`` or ``os._exit(0)``,
patch the checker or print over its report. So the module is imported in a child Python
(isolated mode, no bytecode written), which sends back only a JSON description made by a
function of this package; the parent never imports the module. Anything but a clean import
and description is an error naming the file, exit 2: an exception, ``SystemExit``, a
``KeyboardInterrupt`` raised by the module's code, output on stdout or stderr, a child that
dies or exits, a child that does not finish in time. The child runs in a process group of its
own, which is killed when the description is collected or abandoned: where the module can
fork at all (see :mod:`tac_bootstrap.sandbox`), a process it forks does not outlive the check
(unless it leaves the group). A real Ctrl-C stops the
parent as usual, and the parent stops the child; a parent that is killed outright (`timeout`,
``kill -9``) closes its end of a pipe the child watches, and the child ends then too.

The child gets an empty environment (the CI job's secrets are not the module's to read) and,
before the module runs, confines itself with :mod:`tac_bootstrap.sandbox` where Linux offers
it: no file written anywhere, nothing read outside its Python and the module's folder, no
program run, process forked or thread started, no TCP connection, no signal to the check.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from tac_bootstrap.errors import TacBootstrapError

if TYPE_CHECKING:
    from tac_bootstrap import sandbox

TIMEOUT_SECONDS = 120.0
_POSIX = hasattr(os, "killpg")
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from tac_bootstrap.isolate import child; child(*sys.argv[2:])"
)
_SHOWN_OUTPUT = 300  # characters of unexpected output quoted in the error
_SHOWN_MESSAGE = 2000  # characters of an exception's message quoted in the error
_MAX_OUTPUT = 1 << 20  # bytes of output (or of any file) the module may write
_MAX_ANSWER = 64 << 20  # bytes read from the child: a description is far smaller
_MAX_MEMORY = 4 << 30  # bytes of address space of the child
#: Files the child may hold open: each pipe, socket or memfd holds kernel memory outside
#: its address space (1,500 pipes of 1 MiB held 1.2 GiB more).
_MAX_OPEN_FILES = 256


T = TypeVar("T")


class ModuleImportError(TacBootstrapError):
    """A module of the checked repository cannot be imported and described cleanly."""


class Description:
    """A module being described in a child process: started now, its result collected later.

    Starting it before other work lets the child import Pydantic and the module on the
    other core while the parent renders templates.

    Args:
        path: The module's file.
        describer: ``package.module:function`` inside tac_bootstrap; the function takes the
            imported module and its path and returns data that ``json.dumps`` accepts.
        what: How to call the module in messages (``models module``).
    """

    def __init__(
        self, path: Path, describer: str, *, what: str = "module", shown: str | None = None
    ) -> None:
        import tac_bootstrap

        self.path, self.what = path, what
        self.shown = shown or str(path)  # how to name it, and the files beside it, to the person
        package_parent = str(Path(tac_bootstrap.__file__).resolve().parent.parent)
        cannot_start = f"{path}: cannot start a process to import the {what}"
        # The child's own group is not signalled with ours (a Ctrl-C, `timeout`): it ends
        # when its end of this pipe reads end-of-file, i.e. when we close ours or end.
        try:
            lifeline, self.lifeline = os.pipe() if _POSIX else (-1, -1)
        except OSError as error:  # EMFILE: too many open files (ulimit -n)
            msg = f"{cannot_start}: {error.strerror or error}"
            raise ModuleImportError(msg) from None
        folder = -1
        try:
            if _POSIX:
                folder = _open_folder(path)
            args = [package_parent, str(path), describer, what, str(lifeline), str(folder)]
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter and code, the path as data
                # -B: no bytecode written, of the checked module or of ours (an inherited
                # `ulimit -f` cut the cache of a module it imported: every later run failed).
                [sys.executable, "-I", "-B", "-c", _CHILD, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=_POSIX,  # its own group, to kill what it forks (see close)
                pass_fds=(lifeline, folder) if _POSIX else (),
                env=_child_environment(),
            )
        except BaseException as error:
            if _POSIX:
                os.close(self.lifeline)
            if isinstance(error, OSError):  # EMFILE, EAGAIN, ENOMEM: no process for it
                msg = f"{cannot_start}: {error.strerror or error}"
                raise ModuleImportError(msg) from None
            raise
        finally:
            if _POSIX:
                os.close(lifeline)
                if folder >= 0:
                    os.close(folder)

    def result(self, parse: Callable[[Any], T]) -> T:
        """Wait for the child and return ``parse`` of its description.

        ``parse`` turns the data, as it arrives, into what the caller uses; any exception it
        raises means the answer is not one ``describer`` made (the module's code can write
        on the child's output), an error.

        Raises:
            ModuleImportError: The import or the description failed, printed output, exited
                or did not finish within :data:`TIMEOUT_SECONDS`; the message names the path.
        """
        path, what = self.shown, self.what  # as the person names it: relative to the root
        try:
            if _POSIX:
                stdout, stderr = _read_until_ended(self.process, TIMEOUT_SECONDS)
            else:
                stdout, stderr = self.process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            msg = f"{path}: the {what} did not finish importing within {TIMEOUT_SECONDS:.0f} s"
            raise ModuleImportError(msg) from None
        except _TooLongAnswer:
            msg = (
                f"{path}: importing the {what} sent back more than "
                f"{_MAX_ANSWER >> 20} MiB (forged output?)"
            )
            raise ModuleImportError(msg) from None
        finally:
            self.close()
        answer = _answer(stdout)
        if self.process.returncode == 0 and answer is None and stdout:  # no JSON we can read
            msg = f"{path}: importing the {what} sent back no readable description of it"
            raise ModuleImportError(msg)
        if self.process.returncode != 0 or answer is None:
            detail = stderr.decode("utf-8", "backslashreplace").strip()[-_SHOWN_OUTPUT:]
            msg = (
                f"{path}: importing the {what} ended its process "
                f"(exit code {self.process.returncode})" + (f": {detail}" if detail else "")
            )
            raise ModuleImportError(msg)
        forged = f"{path}: importing the {what} sent back no description of it (forged output?)"
        if "file" in answer:  # a file or folder it imports from that the person must fix
            raise ModuleImportError(self._file_error(answer) or forged)
        if "error" in answer:
            error = answer["error"]
            if not isinstance(error, str) or not error:
                raise ModuleImportError(forged)
            # The module's words (or its forged answer): short, and any half of a character
            # (a lone surrogate, which no output encodes) shown as an escape.
            shown = _shown(str, error.encode("utf-8", "backslashreplace").decode("utf-8"))
            msg = f"{path}: {shown}"
            raise ModuleImportError(msg)
        try:
            return parse(answer.get("result"))
        except Exception:  # any shape but the describer's
            raise ModuleImportError(forged) from None

    def _file_error(self, answer: dict[str, Any]) -> str | None:
        """Name the file (or folder) of the module's folder that the child could not import.

        The import said only "PermissionError: … '/proc/self/fd/6/database_migrate.py'", or
        "No module named '_tac_bootstrap_checked.database_errors'" for a folder it may not
        list, or "source code string cannot contain null bytes" for a UTF-16 file.
        """
        rel, why, encoding = answer.get("file"), answer.get("why"), answer.get("encoding")
        if not isinstance(rel, str) or rel.startswith(("/", "..")):
            return None
        shown = os.path.normpath(Path(self.shown).parent / rel)
        if isinstance(encoding, str) and encoding in ("UTF-16", "UTF-32"):
            from tac_bootstrap.confine import unmarked, wrong_encoding

            if answer.get("marked") is False:
                return unmarked(shown, encoding)
            return wrong_encoding(shown, encoding)
        if isinstance(why, str) and why:
            return f"cannot read {shown}: {_shown(str, why)}"
        return None

    def close(self) -> None:
        """Stop the child and what it forked, if still running (or the check was interrupted)."""
        if _POSIX:
            with contextlib.suppress(OSError):  # ESRCH: the group has no process left
                os.killpg(self.process.pid, signal.SIGKILL)
        elif self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_lifeline()

    def _close_lifeline(self) -> None:
        if self.lifeline >= 0:
            os.close(self.lifeline)
            self.lifeline = -1
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _open_folder(path: Path) -> int:
    """Open the folder of the module at ``path`` (resolved by the check), for the child.

    The child imports the module from this open folder, and confines itself to it: not from
    the folder's path, which it would resolve again. A link put in the folder's place (or in
    a parent's) since the check resolved ``path`` led the child outside the root, to import
    and read what is there. The folder opened must still be the one at ``path``'s real path.

    Raises:
        ModuleImportError: The folder cannot be opened, or is no longer at that path.
    """
    where = str(path.parent)
    try:
        # O_PATH (Linux): the folder itself, without the right to list it that importing
        # one module from it never needed.
        fd = os.open(where, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        msg = f"{path}: cannot open the folder of the module: {error.strerror or error}"
        raise ModuleImportError(msg) from None
    opened = _where_open(fd, where)
    if opened != where:
        os.close(fd)
        msg = (
            f"{path}: the module's folder was replaced while the check ran "
            f"(it leads to {opened}); refusing to import it"
        )
        raise ModuleImportError(msg)
    return fd


def _where_open(fd: int, where: str) -> str:
    """Return the real path of the folder open as ``fd``, which should be ``where``."""
    try:  # Linux: where the folder opened is now, links and all resolved by the kernel
        return str(Path(f"/proc/self/fd/{fd}").readlink())
    except OSError:  # no /proc: the same folder as the path names, reached without a link
        with contextlib.suppress(OSError):
            if os.path.realpath(where) == where and os.path.samestat(
                os.fstat(fd), Path(where).stat()
            ):
                return where
    return "another folder"


class _TooLongAnswer(Exception):
    """The child sent more than :data:`_MAX_ANSWER` bytes."""


def _read_until_ended(process: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, bytes]:
    """Read the child's stdout and stderr until it has ended and they hold nothing more.

    Not until they are closed: a process it forked and that left its group may hold them
    open for as long as it likes. Nor past :data:`_MAX_ANSWER` bytes: the module's code can
    write on them without end, which the check kept in memory until it had none left.

    Raises:
        subprocess.TimeoutExpired: The child did not end within ``timeout`` seconds.
        _TooLongAnswer: The child (or a process it forked) sent more than
            :data:`_MAX_ANSWER` bytes.
    """
    import selectors
    import time

    deadline = time.monotonic() + timeout
    fds = [stream.fileno() if stream else -1 for stream in (process.stdout, process.stderr)]
    read: dict[int, list[bytes]] = {fd: [] for fd in fds if fd >= 0}
    size = 0
    with selectors.DefaultSelector() as selector:
        for fd in read:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            ended = process.poll() is not None
            left = deadline - time.monotonic()
            if left <= 0 and not ended:
                raise subprocess.TimeoutExpired(process.args, timeout)
            ready = selector.select(timeout=0 if ended else min(left, 0.1))
            if ended and not ready:
                break
            for key, _ in ready:
                data = os.read(key.fd, 1 << 16)
                size += len(data)
                if size > _MAX_ANSWER:
                    raise _TooLongAnswer
                if data:
                    read[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
    return b"".join(read.get(fds[0], [])), b"".join(read.get(fds[1], []))


def _child_environment() -> dict[str, str]:
    """Nothing of ours: only what Windows needs to start Python at all."""
    return {k: os.environ[k] for k in ("SYSTEMROOT",) if k in os.environ and os.name == "nt"}


def _answer(stdout: bytes) -> dict[str, Any] | None:
    """Return the child's JSON answer (its one line on stdout), or None if there is none."""
    try:
        answer = json.loads(stdout)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply (forged)
        return None
    return answer if isinstance(answer, dict) else None


def child(path: str, describer: str, what: str, lifeline: str = "-1", folder: str = "-1") -> None:
    """In the child: import the module, describe it, write one JSON line; never return.

    ``folder``: the module's folder, opened by the check (:func:`_open_folder`); the module
    is imported from it and the child confined to it, not to its path resolved again.
    """
    sys.dont_write_bytecode = True  # the checked repository gets no __pycache__
    source = _source_in(Path(path), int(folder))
    answer_fd = os.dup(1)
    # Bound before the module runs, so that replacing json.dumps, os.write or os._exit does
    # not reach the answer. Code bent on it can still patch what describes it (README).
    dumps, write, exit_now, kill = json.dumps, os.write, os._exit, os.kill
    from tac_bootstrap import sandbox

    with _capture_file() as captured:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        confined = _confine(source.parent, int(lifeline), exit_now)
        answer = _describe(path, describer, what, source)
        if confined.landlock_abi >= sandbox.SCOPED_SIGNALS:
            # Every process the module forked, in its group or not: the only ones this
            # confined process may signal (kill(-1) spares itself).
            with contextlib.suppress(OSError):
                kill(-1, signal.SIGKILL)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):  # the module may have closed or replaced it
                stream.flush()
        captured.seek(0)
        output = captured.read(_SHOWN_OUTPUT + 1)
    if output and "error" not in answer:
        shown = output.decode("utf-8", "backslashreplace")[:_SHOWN_OUTPUT]
        answer = {"error": f"the {what} wrote output when imported: {shown!r}"}
    write(answer_fd, dumps(answer).encode() + b"\n")
    exit_now(0)  # no atexit handler of the module runs after the answer


def _source_in(path: Path, folder: int) -> Path:
    """In the child: where to import the module at ``path`` from.

    Through ``/proc/self/fd`` the open ``folder`` itself, whatever its path leads to now
    (Linux); elsewhere (no folder, no ``/proc``) the path, resolved.
    """
    if folder >= 0 and Path(f"/proc/self/fd/{folder}").is_dir():
        return Path(f"/proc/self/fd/{folder}", path.name)
    return path.resolve()


def _confine(folder: Path, lifeline: int, exit_now: Any) -> sandbox.Confinement:
    """In the child: limit and confine it, start the thread that ends it with the parent.

    In that order: a thread has its own system call filter and Landlock domain, those of the
    thread that starts it, so one started before :func:`sandbox.confine` would be free of
    both (and the module's code, which may write anywhere in the process's memory, could
    make it run). After it, the module's code starts no thread.
    """
    import threading

    from tac_bootstrap import sandbox

    _limit_resources()
    # sys.path[0] is where the child found tac-bootstrap: a repository for an editable
    # install, of which only the package itself is readable.
    readable = sandbox.readable_paths(folder, sys.path[1:])
    confined = sandbox.confine(readable, listable=sandbox.listable_paths(folder, sys.path[1:]))
    if lifeline >= 0:
        threading.Thread(target=_end_with_parent, args=(lifeline, exit_now), daemon=True).start()
    sandbox.refuse_threads()
    return confined


def _capture_file() -> BinaryIO:
    """In the child: the file that takes the module's output.

    In memory where the system has ``memfd_create`` (a full or read-only ``/tmp`` made a
    clean module fail); its size is bounded as a file's is (:func:`_limit_resources`).
    """
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or refused
        return os.fdopen(os.memfd_create("tac-bootstrap-output"), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


def _limit_resources() -> None:
    """In the child: 1 MiB of output (a full disk otherwise), 4 GiB of memory, 256 files."""
    if not _POSIX:
        return
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
    limits = (
        (resource.RLIMIT_FSIZE, _MAX_OUTPUT),
        (resource.RLIMIT_AS, _MAX_MEMORY),
        (resource.RLIMIT_NOFILE, _MAX_OPEN_FILES),
    )
    for limit, most in limits:
        _, hard = resource.getrlimit(limit)
        if hard == resource.RLIM_INFINITY or hard > most:
            with contextlib.suppress(ValueError, OSError):  # a system without the limit
                resource.setrlimit(limit, (most, most))


def _end_with_parent(lifeline: int, exit_now: Any) -> None:
    """In the child: end it once the parent closes its end of the pipe, or ends itself."""
    with contextlib.suppress(BaseException):  # the module may close the pipe: end then too
        os.read(lifeline, 1)
    exit_now(1)


def _describe(path: str, describer: str, what: str, source: Path | None = None) -> dict[str, Any]:
    """Import (from ``source``, default ``path``) and describe it; errors name ``path``.

    Any exception, exit or interrupt becomes an error answer.
    """
    import importlib

    modname, _, function = describer.partition(":")
    describe = getattr(importlib.import_module(modname), function)
    try:
        module = _import_from_source(source or Path(path))
    except SystemExit as exc:
        code = _shown(repr, exc.code)
        return {"error": f"the {what} exits when imported (SystemExit {code})"}
    except BaseException as exc:  # KeyboardInterrupt too: raised by its code
        return _file_answer(exc, (source or Path(path)).parent) or {
            "error": f"the {what} fails to import: {_one_line(exc)}"
        }
    try:
        return {"result": describe(module, path)}
    except TacBootstrapError as exc:  # its text holds the module's names and messages: cut
        return {"error": _shown(lambda e: str(e).removeprefix(f"{path}: "), exc)}
    except BaseException as exc:  # its classes run code when described, too
        return {"error": f"describing the {what} failed: {_one_line(exc)}"}


class _Encoded(Exception):
    """In the child: a source file that is UTF-16 or UTF-32 (with its byte-order mark or not)."""

    def __init__(self, path: str, encoding: str, *, marked: bool = True) -> None:
        super().__init__(path, encoding)
        self.filename, self.encoding, self.marked = path, encoding, marked


def _file_answer(exc: BaseException, folder: Path) -> dict[str, str | bool] | None:
    """In the child: the answer naming a file of ``folder`` the import could not use, if any.

    A file it may not read (PermissionError), a folder it may not list (the import then
    finds no module there: see ``_import_from_source``), a UTF-16 or UTF-32 source file.
    Named relative to ``folder``; a file elsewhere is left to the import's own message.
    """
    if not isinstance(exc, (PermissionError, _Encoded)) or not isinstance(exc.filename, str):
        return None
    rel = os.path.relpath(exc.filename, folder)
    if rel.startswith(".."):
        return None
    if isinstance(exc, _Encoded):
        return {"file": rel, "encoding": exc.encoding, "marked": exc.marked}
    # Only a file or folder there that the person may not read: the module's own open(…, "w")
    # refused by the sandbox (models.py.pwned) was named "cannot read models.py.pwned".
    if not os.path.lexists(exc.filename) or os.access(exc.filename, os.R_OK):
        return None
    return {"file": rel, "why": exc.strerror or "Permission denied"}


def _refuse_encoded(data: bytes, path: str) -> None:
    """In the child: refuse a UTF-16 or UTF-32 source, which Python says "holds null bytes"."""
    from tac_bootstrap.confine import marked_encoding, unmarked_encoding

    encoding = marked_encoding(data)
    if encoding is not None:
        raise _Encoded(path, encoding)
    encoding = unmarked_encoding(data)
    if encoding is not None:  # the same, without the mark that says why
        raise _Encoded(path, encoding, marked=False)


def _import_from_source(path: Path) -> types.ModuleType:
    """Import the module at ``path`` as a module of a package of its folder, from its source.

    Its relative imports (``from .models import ...``) find its siblings, but the package's
    ``__init__`` does not run. Only source files are imported, each compiled from its text:
    a ``__pycache__`` file beside it (an unchecked hash-based one is used without a look at
    the source), a compiled extension or a sourceless ``.pyc`` could hold other code than
    the source that is checked.
    """
    import importlib.machinery
    import importlib.util
    from collections.abc import Sequence

    class SourceOnly(importlib.machinery.SourceFileLoader):
        def get_code(self, fullname: str) -> types.CodeType:
            source_path = self.get_filename(fullname)
            data = self.get_data(source_path)
            _refuse_encoded(data, source_path)
            return self.source_to_code(data, source_path)

    class Checked(SourceOnly):
        # The file the check resolved: no link (one put in its place since leads elsewhere).
        def get_data(self, path: str) -> bytes:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as file:
                return file.read()

    package = "_tac_bootstrap_checked"
    folders = {package: str(path.parent)}

    class Siblings:
        @staticmethod
        def find_spec(
            fullname: str,
            path: Sequence[str] | None,  # noqa: ARG004 - the folder is ours, not the package's
            target: types.ModuleType | None = None,
        ) -> importlib.machinery.ModuleSpec | None:
            parent = fullname.rpartition(".")[0]
            if parent not in folders:
                return None
            finder = importlib.machinery.FileFinder(
                folders[parent], (SourceOnly, importlib.machinery.SOURCE_SUFFIXES)
            )
            spec = finder.find_spec(fullname, target)
            if spec is None:
                # A folder it may not list reads as empty here: that, not the module, is named.
                os.close(os.open(folders[parent], os.O_RDONLY | os.O_DIRECTORY))  # EACCES
            if spec is None:  # nothing else may find it: not a .pyc, not an extension
                msg = f"No module named {fullname!r}"
                raise ModuleNotFoundError(msg, name=fullname)
            if spec.submodule_search_locations:  # a sibling package: its own siblings next
                folders[fullname] = spec.submodule_search_locations[0]
                spec.submodule_search_locations = []
            return spec

    sys.meta_path.insert(0, Siblings())
    name = f"{package}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path, loader=Checked(name, str(path)))
    if spec is None or spec.loader is None:
        msg = "cannot be imported as a Python module"
        raise ImportError(msg)
    parent = types.ModuleType(package)
    parent.__path__ = []  # its modules are found by Siblings alone
    module = importlib.util.module_from_spec(spec)
    # Pydantic resolves postponed annotations through sys.modules.
    sys.modules[package], sys.modules[name] = parent, module
    spec.loader.exec_module(module)
    return module


def _one_line(exc: BaseException) -> str:
    """Name an exception on one line (Pydantic's messages span several)."""
    return _shown(lambda e: " ".join(f"{type(e).__name__}: {e}".split()), exc)


def _shown(show: Callable[[Any], str], value: Any) -> str:
    """``show(value)``, cut if long: the module's code makes it (``__str__``, ``__repr__``)."""
    try:
        shown = str(show(value))
    except BaseException:  # any failure of that code
        return "(a value that cannot be shown)"
    return shown if len(shown) <= _SHOWN_MESSAGE else shown[:_SHOWN_MESSAGE] + " …"
