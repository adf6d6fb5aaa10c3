"""Confine the child that imports a checked module, with Linux's Landlock.

``sync-check`` imports the models and database modules of the repository it checks, so their
code runs; :mod:`tac_bootstrap.isolate` runs it in a child process. On Linux 5.13 or later
with Landlock enabled (most distributions since 2022), the child first confines itself here,
for good and for every process it forks:

- it may read only its Python (the standard library, site-packages, the folders on its
  ``sys.path``), the system's shared libraries and time zones, tac-bootstrap's own package
  and the checked module's folder;
- it may write, create, remove, rename or truncate no file anywhere (the files it already
  holds open, its pipes to the check, still work);
- it may run no program (``execve``);
- from Landlock ABI 4 (Linux 6.7), it may neither connect nor bind a TCP port;
- from ABI 6 (Linux 6.12), it may signal no process outside itself (the check), nor reach an
  abstract Unix socket.

What the kernel does not offer is simply not applied: :func:`confine` returns the ABI version
it used, or 0 where Landlock is missing (another system, an older kernel, a container that
forbids it), in which case the module's code runs with the rights of the check.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import site
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

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
_PR_SET_NO_NEW_PRIVS = 38
# The system call numbers are the same on every architecture but alpha (Linux 5.13+).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
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
    found = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *imported_from,
        *_SYSTEM_LIBRARIES,
        *_TIME_ZONES,
        str(Path(tac_bootstrap.__file__).parent),
        str(module_folder),
    ]
    for folder in imported_from:
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            found.extend(os.path.realpath(e.path) for e in entries if e.is_symlink())
    return sorted({str(Path(p).resolve()) for p in found if p and Path(p).exists()})


def confine(readable: Iterable[str]) -> int:
    """Confine this process and its future children; return the Landlock ABI used (0: none).

    Args:
        readable: Folders whose files may be read (and their shared libraries mapped), and
            files that may be read (a ``sys.path`` zip archive).
    """
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return 0
    syscall.restype = ctypes.c_long
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
        for folder in readable:
            with contextlib.suppress(OSError):
                fd = os.open(folder, os.O_PATH | os.O_CLOEXEC)
                try:
                    folder_rights = read if Path(folder).is_dir() else _FS_READ_FILE
                    rule = _PathBeneathAttr(folder_rights, fd)
                    syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
                finally:
                    os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return 0
        if syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            return 0
    finally:
        os.close(ruleset)
    return abi
