"""Confine the child that imports a checked module, with Linux's Landlock.

``sync-check`` imports the models and database modules of the repository it checks, so their
code runs; :mod:`tac_bootstrap.isolate` runs it in a child process. On Linux 5.13 or later
with Landlock enabled (most distributions since 2022), the child first confines itself here,
for good and for every process it forks:

- it may read only its Python (the standard library, site-packages, the folders on its
  ``sys.path``), the system's shared libraries and time zones, tac-bootstrap's own package
  and the checked module's folder (but its ``.git``, where the module is at the root);
- it may write, create, remove, rename or truncate no file anywhere (the files it already
  holds open, its pipes to the check, still work);
- it may run no program (``execve``);
- from Landlock ABI 4 (Linux 6.7), it may neither connect nor bind a TCP port;
- from ABI 6 (Linux 6.12), it may signal no process outside itself (the check), nor reach an
  abstract Unix socket;
- on x86_64 and aarch64 (seccomp, any Linux since 3.5), it may open no socket at all: not a
  Unix socket by its path, which Landlock does not cover (a Docker daemon's can write
  anywhere), nor UDP, nor TCP where Landlock is older than ABI 4.
- there too, it may use no System V or POSIX message queue, semaphore or shared memory, which
  outlive the check and reach those of the user's other programs;
- and there too, it may fork no process, which could leave its group and outlive the check
  (or multiply its memory limit); after :func:`refuse_threads`, it starts no thread either.

What the kernel does not offer is simply not applied: :func:`confine` says what it could
apply; where nothing could (another system, an older kernel, a container that forbids it),
the module's code runs with the rights of the check.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import site
import stat
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

# <linux/landlock.h>
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_ABI1 = (1 << 13) - 1  # EXECUTE, WRITE_FILE, READ_FILE, READ_DIR, REMOVE_*, MAKE_*
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1
SCOPED_SIGNALS = 6  # the Landlock ABI from which a confined process signals only its own
_PR_SET_NO_NEW_PRIVS = 38
# The system call numbers are the same on every architecture but alpha (Linux 5.13+).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_OPEN_FOLDER = re.compile(r"/proc/self/fd/\d+")  # the module's folder, opened by the check
_SYSTEM_LIBRARIES = ("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64")
_TIME_ZONES = ("/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo")


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def readable_paths(module_folder: Path, import_path: Iterable[str]) -> list[str]:
    """The paths the confined child may read.

    Its Python, the folders it imports from (``import_path``, its ``sys.path`` but for the
    entry that found tac-bootstrap), what packages there link to (``uv`` can install them as
    symbolic links into its cache), the system's libraries and time zones, tac-bootstrap's
    own package, and the module's folder (its siblings: ``from .models import ...``).
    """
    import tac_bootstrap

    paths = sysconfig.get_paths()
    imported_from = [
        *import_path,
        paths["stdlib"],
        paths["platstdlib"],
        paths["purelib"],
        paths["platlib"],
        *site.getsitepackages(),
    ]
    folders = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *imported_from,
        *_SYSTEM_LIBRARIES,
        *_TIME_ZONES,
        str(Path(tac_bootstrap.__file__).parent),
    ]
    # A folder on sys.path may be a repository too: an editable install's .pth names its
    # root (the checked project's, installed in the same environment, or tac-bootstrap's).
    found = [path for folder in folders if folder for path in _but_git(Path(folder))]
    for folder in imported_from:
        if os.path.lexists(Path(folder, ".git")):
            continue  # its links may lead into .git
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            found.extend(os.path.realpath(e.path) for e in entries if e.is_symlink())
    resolved = {str(Path(p).resolve()) for p in found if p and Path(p).exists()}
    # The module's folder as given, not resolved again: the child gives it as the folder the
    # check opened (/proc/self/fd/N), which a link put in its place since does not move.
    return sorted(resolved | set(_but_git(module_folder)))


def _but_git(folder: Path) -> list[str]:
    """The folder; where it holds ``.git`` (a repository's root), its other entries.

    A CI job's checkout may keep its token in ``.git/config``. Links are left out: a rule is
    for what a path resolves to, and a link may lead anywhere. Such a folder can still be
    listed where it is given as listable (:func:`listable_paths`).
    """
    if not os.path.lexists(folder / ".git"):
        return [str(folder)]
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        return [e.path for e in entries if e.name != ".git" and not e.is_symlink()]
    return []


def listable_paths(module_folder: Path, import_path: Iterable[str]) -> list[str]:
    """The folders the confined child may list: the module's, and those it imports from.

    Python lists a folder on ``sys.path`` to import from it; for a repository's root,
    :func:`readable_paths` leaves out only ``.git`` (whose names can then be listed, not read).
    """
    return [str(module_folder), *(path for path in import_path if Path(path).is_dir())]


@dataclass(frozen=True)
class Confinement:
    """What :func:`confine` could apply on this system."""

    landlock_abi: int  # 0: files, programs, TCP and signals are not confined
    seccomp: bool  # False: sockets can still be opened, limits lifted


def confine(readable: Iterable[str], listable: Iterable[str] = ()) -> Confinement:
    """Confine this process and its future children, as far as the system allows.

    Args:
        readable: Folders whose files may be read (and their shared libraries mapped), and
            files that may be read (a ``sys.path`` zip archive).
        listable: Folders whose entries may be listed, not read (unless ``readable`` says).
    """
    if not sys.platform.startswith("linux"):
        return Confinement(0, seccomp=False)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return Confinement(0, seccomp=False)
    syscall.restype = ctypes.c_long
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return Confinement(0, seccomp=False)
    landlock = _landlock(syscall, readable, listable)
    return Confinement(landlock, seccomp=_filter_system_calls(libc))


def _landlock(syscall: Any, readable: Iterable[str], listable: Iterable[str]) -> int:
    """Apply the Landlock rules; return the ABI used, 0 where there is no Landlock."""
    abi = int(syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION))
    if abi < 1:  # ENOSYS: no Landlock in this kernel; EOPNOTSUPP: disabled at boot
        return 0
    handled = _FS_ABI1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    handled |= _FS_IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(handled, 0, 0)
    size = 8  # handled_access_fs only, before ABI 4
    if abi >= 4:
        attr.handled_access_net, size = _NET_BIND_TCP | _NET_CONNECT_TCP, 16
    if abi >= 6:
        attr.scoped, size = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL, 24
    ruleset = int(syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0))
    if ruleset < 0:
        return 0
    try:
        read = _FS_READ_FILE | _FS_READ_DIR
        for path, rights in [
            *((p, read) for p in readable),
            *((p, _FS_READ_DIR) for p in listable),
        ]:
            # A readable path is resolved, or an entry of the module's folder (scanned without
            # its links): one that is a link now was put there since, and is not followed.
            # The folder the check opened, /proc/self/fd/N, is followed to that very folder.
            exact = rights == read and not _OPEN_FOLDER.fullmatch(path)
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC | (os.O_NOFOLLOW if exact else 0))
                try:
                    if rights == read and not stat.S_ISDIR(os.fstat(fd).st_mode):
                        rights = _FS_READ_FILE  # a file: the folder rights would be refused
                    rule = _PathBeneathAttr(rights, fd)
                    syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
                finally:
                    os.close(fd)
        if syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            return 0
    finally:
        os.close(ruleset)
    return abi


# <linux/seccomp.h>, <linux/filter.h>, <linux/audit.h>
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ARCH, _NR, _ARG0_LOW, _ARG2_LOW, _ARG2_HIGH = 4, 0, 16, 32, 36  # offsets in seccomp_data
_CLONE_THREAD = 0x00010000
_SO_SNDBUFFORCE, _SO_RCVBUFFORCE = 32, 33  # <asm-generic/socket.h>


class _Syscalls(NamedTuple):
    audit_arch: int
    refused: tuple[int, ...]  # by number, whatever their arguments
    prlimit64: int  # refused when it sets a limit
    clone: int  # refused unless it starts a thread
    setsockopt: int  # refused for the options that lift a buffer's limit
    first_x32: int  # 0xFFFFFFFF: no x32 system calls on this architecture


# The same on every architecture (Linux 5.1 and later).
_GENERIC = {
    "io_uring_setup": 425,
    "process_madvise": 440,
    "fchmodat2": 452,
    "setxattrat": 463,
    "removexattrat": 466,
}
_CLONE3 = 435  # answered as unknown (ENOSYS): the C library then starts its threads by clone()
_X86_64 = {
    "socket": 41,
    "fork": 57,
    "vfork": 58,
    "setrlimit": 160,
    "chmod": 90,
    "fchmod": 91,
    "fchmodat": 268,
    "chown": 92,
    "fchown": 93,
    "lchown": 94,
    "fchownat": 260,
    "utime": 132,
    "utimes": 235,
    "futimesat": 261,
    "utimensat": 280,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    # what root could do that no file rule covers
    "iopl": 172,
    "ioperm": 173,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "settimeofday": 164,
    "clock_settime": 227,
    "adjtimex": 159,
    "clock_adjtime": 305,
    "sethostname": 170,
    "setdomainname": 171,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "bpf": 321,
    "perf_event_open": 298,
    "acct": 163,
    "quotactl": 179,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "syslog": 103,
    "fanotify_init": 300,
    # watching files (the names of those the check, or anyone, opens in a folder it cannot list)
    "inotify_init": 253,
    "inotify_init1": 294,
    "inotify_add_watch": 254,
    # what would slow the check down from outside (nice, I/O and CPU scheduling, memory)
    "setpriority": 141,
    "ioprio_set": 251,
    "sched_setparam": 142,
    "sched_setscheduler": 144,
    "sched_setattr": 314,
    "sched_setaffinity": 203,
    "migrate_pages": 256,
    "move_pages": 279,
    # System V and POSIX message queues, semaphores, shared memory: they outlive the process
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "semtimedop": 220,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
}
_AARCH64 = {
    "socket": 198,
    "setrlimit": 164,
    "fchmod": 52,
    "fchmodat": 53,
    "fchownat": 54,
    "fchown": 55,
    "utimensat": 88,
    "setxattr": 5,
    "lsetxattr": 6,
    "fsetxattr": 7,
    "removexattr": 14,
    "lremovexattr": 15,
    "fremovexattr": 16,
    "reboot": 142,
    "swapon": 224,
    "swapoff": 225,
    "settimeofday": 170,
    "clock_settime": 112,
    "adjtimex": 171,
    "clock_adjtime": 266,
    "sethostname": 161,
    "setdomainname": 162,
    "init_module": 105,
    "finit_module": 273,
    "delete_module": 106,
    "kexec_load": 104,
    "kexec_file_load": 294,
    "bpf": 280,
    "perf_event_open": 241,
    "acct": 89,
    "quotactl": 60,
    "keyctl": 219,
    "add_key": 217,
    "request_key": 218,
    "syslog": 116,
    "fanotify_init": 262,
    "inotify_init1": 26,
    "inotify_add_watch": 27,
    "setpriority": 140,
    "ioprio_set": 30,
    "sched_setparam": 118,
    "sched_setscheduler": 119,
    "sched_setattr": 274,
    "sched_setaffinity": 122,
    "migrate_pages": 238,
    "move_pages": 239,
    "mq_open": 180,
    "mq_unlink": 181,
    "mq_timedsend": 182,
    "mq_timedreceive": 183,
    "mq_notify": 184,
    "mq_getsetattr": 185,
    "msgget": 186,
    "msgctl": 187,
    "msgrcv": 188,
    "msgsnd": 189,
    "semget": 190,
    "semctl": 191,
    "semtimedop": 192,
    "semop": 193,
    "shmget": 194,
    "shmctl": 195,
    "shmat": 196,
}
_SECCOMP_ARCHES = {
    "x86_64": _Syscalls(
        0xC000003E, (*_X86_64.values(), *_GENERIC.values()), 302, 56, 54, 0x40000000
    ),
    "aarch64": _Syscalls(
        0xC00000B7, (*_AARCH64.values(), *_GENERIC.values()), 261, 220, 208, 0xFFFFFFFF
    ),
}


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


_Line = tuple[int, int | str, int | str, int] | str  # an instruction, or a label


def _assemble(program: list[_Line]) -> list[tuple[int, int, int, int]]:
    """Drop the labels of a BPF program and turn each jump to a label into the count it skips."""
    where: dict[str, int] = {}
    instructions: list[tuple[int, int | str, int | str, int]] = []
    for line in program:
        if isinstance(line, str):
            where[line] = len(instructions)
        else:
            instructions.append(line)

    def skip(at: int, target: int | str) -> int:
        return target if isinstance(target, int) else where[target] - at - 1

    return [
        (code, skip(at, jt), skip(at, jf), k) for at, (code, jt, jf, k) in enumerate(instructions)
    ]


def _filter_system_calls(libc: Any) -> bool:
    """Make a few system calls fail with EACCES (seccomp); True if done.

    - ``socket()`` and ``io_uring_setup()``: a socket is the way out that Landlock leaves
      open (a Unix socket by its path, a Docker daemon's, which can write anywhere; UDP; TCP
      before Landlock ABI 4). ``socketpair()``, which asyncio needs, stays.
    - changing a file's mode, owner, times or extended attributes, which Landlock does not
      cover: they are writes too.
    - ``setrlimit()``, and ``prlimit64()`` when it sets a limit: as root the module could
      otherwise lift the limits the child set on its output and memory.
    - ``setsockopt()`` of ``SO_SNDBUFFORCE`` or ``SO_RCVBUFFORCE``: as root, one socketpair
      could then hold a gigabyte of kernel memory, outside the child's memory limit.
    - what root could do that no file rule covers: load kernel modules or BPF programs, set
      the clock or the host name, reboot, read the kernel's log, use keyrings, ports, swap,
      watch every file opened on the machine (fanotify, which can also hold those opens).
    - watching a file or folder (inotify), which Landlock does not cover: the names of the
      files the check, or any program, opens or changes in a folder the module may not list.
    - changing the priority of a process (its nice value, I/O class, CPU scheduling policy
      or CPUs, where its memory is): from the module, any of the user's processes, the check
      included (``setpriority(PRIO_USER, …)``, ``ioprio_set()`` to idle), could be slowed
      down; the module needs none of it, even for itself.
    - System V and POSIX message queues, semaphores and shared memory, which no file rule
      covers either: they outlive the check (gigabytes of shared memory left filled), and
      reach those of the other programs of the user (of every one, as root).
    - starting a process (``fork()``, ``vfork()``, ``clone()`` without ``CLONE_THREAD``):
      one that leaves the child's group could outlive the check and hold its pipes, and
      each one would have a memory limit of its own. Threads stay (until
      :func:`refuse_threads`); ``clone3()``, whose flags a filter cannot read, answers that
      it does not exist, and the C library falls back to ``clone()``.
    - any system call of another architecture (i386 on x86_64, x32), which would bypass
      these checks.
    """
    arch = _SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        return False
    # A jump names the label it goes to; _assemble turns it into the count it skips.
    program: list[_Line] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 0, "refuse", arch.audit_arch),
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE_K, "refuse", 0, arch.first_x32),
        *((_JEQ_K, "refuse", 0, nr) for nr in arch.refused),
        (_JEQ_K, "unknown", 0, _CLONE3),
        (_JEQ_K, "clone", 0, arch.clone),
        (_JEQ_K, "setsockopt", 0, arch.setsockopt),
        (_JEQ_K, "prlimit64", "allow", arch.prlimit64),
        "clone",
        (_LD_W_ABS, 0, 0, _ARG0_LOW),  # its flags
        (_JSET_K, "allow", "refuse", _CLONE_THREAD),  # a thread, not a process
        "setsockopt",
        (_LD_W_ABS, 0, 0, _ARG2_LOW),  # the option (of a socketpair's: no other socket opens)
        (_JEQ_K, "refuse", 0, _SO_SNDBUFFORCE),
        (_JEQ_K, "refuse", "allow", _SO_RCVBUFFORCE),
        "prlimit64",
        (_LD_W_ABS, 0, 0, _ARG2_LOW),  # its new limit, a pointer
        (_JEQ_K, 0, "refuse", 0),
        (_LD_W_ABS, 0, 0, _ARG2_HIGH),
        (_JEQ_K, "allow", "refuse", 0),  # NULL: it only reads the limit
        "refuse",
        (_RET_K, 0, 0, _RET_ERRNO | errno.EACCES),
        "allow",
        (_RET_K, 0, 0, _RET_ALLOW),
        "unknown",
        (_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS),
    ]
    return _install(libc, program)


def refuse_threads() -> bool:
    """From now on, make starting a thread fail with EACCES in this thread (seccomp); True if done.

    :func:`confine` lets threads start, so that the child can start its own once confined:
    each thread has its own filters and Landlock domain, inherited from the thread that
    starts it, so a thread started before :func:`confine` would not be confined at all. The
    module's code needs no thread to be imported, and thousands of them would hold as many
    of the machine's processes until the check's time limit.
    """
    arch = _SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    program: list[_Line] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 0, "refuse", arch.audit_arch),
        (_LD_W_ABS, 0, 0, _NR),
        (_JEQ_K, "refuse", 0, _CLONE3),
        (_JEQ_K, "refuse", "allow", arch.clone),
        "refuse",
        (_RET_K, 0, 0, _RET_ERRNO | errno.EACCES),
        "allow",
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    return _install(libc, program)


def _install(libc: Any, program: list[_Line]) -> bool:
    """Add the filter ``program`` to this thread's; True if done."""
    instructions = _assemble(program)
    filters = (_SockFilter * len(instructions))(*(_SockFilter(*i) for i in instructions))
    fprog = _SockFprog(len(instructions), filters)
    return bool(libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0)
