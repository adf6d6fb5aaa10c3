"""Remember which checks passed, keyed by content hashes, so unchanged inputs are not re-checked.

Jinja2 spends most of a render compiling, and importing it and Pydantic costs more than the
rest of ``sync-check``. A pair whose BASE, template (and every template it includes) and
context hash the same as at its last clean check cannot have drifted, so it is skipped without
importing either. Keys are sha256 digests of contents, never timestamps: a ``touch`` or a
fresh clone does not invalidate anything, an edit always does. The cache is only an
optimisation: a cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tac_bootstrap import __version__
from tac_bootstrap.confine import mine, private_folder, read_file

CACHE_ENV = "TAC_BOOTSTRAP_CACHE_DIR"
# Changing any of these modules may change a verdict, so their sources are part of the key.
_CHECKER_MODULES = (
    "checkcache.py",
    "sync.py",
    "manifest.py",
    "render.py",
    "agreement.py",
    "sqlcheck.py",
    "pgcheck.py",
    "pgguard.py",
    "pgfunctions.py",
    "generated.py",
    "confine.py",
    "isolate.py",
    "sandbox.py",  # what the module's code may do in the child
    "chain.py",
    "introspect.py",
    "diagram.py",
    "bounded.py",
    "sqlfile.py",
    "sqlliterals.py",
    "computed.py",  # the strings a module makes of constants
    "sqlreach.py",
    "pgtargets.py",
    "slowcalls.py",  # what a call on the check's SQLite connections may cost
)


def default_cache_dir() -> Path | None:
    """Return ``$TAC_BOOTSTRAP_CACHE_DIR``, else the user cache folder for tac-bootstrap.

    ``$XDG_CACHE_HOME`` counts only when it is an absolute path (the XDG spec: an empty or
    relative one is ignored), ``$HOME`` likewise, else the home of the password database's
    entry. None when there is no such home, or it is ``/``: a user without one (no entry, as
    in a container run under a bare uid) runs without a cache, never one in ``/.cache``.
    """
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME", "")
    if Path(base).is_absolute():
        return Path(base) / "tac-bootstrap"
    home = _home()
    return None if home is None else home / ".cache" / "tac-bootstrap"


def _home() -> Path | None:
    """Return the user's home folder, or None; never the root or a relative path.

    Python's ``Path.home()`` takes ``HOME=""`` for ``/`` and ``HOME=x`` for the working folder.
    """
    if sys.platform == "win32":
        try:
            return Path.home()
        except RuntimeError:  # "Could not determine home directory"
            return None
    home = os.environ.get("HOME", "")
    if not Path(home).is_absolute():
        import pwd

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:  # a uid without an entry
            return None
    path = Path(home)
    return path if path.is_absolute() and path != Path(path.anchor) else None


def sha256(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def file_sha(path: str | Path) -> str | None:
    """Return the hex sha256 of a file's bytes, or None when it cannot be read."""
    try:
        return sha256(read_file(path))
    except OSError:
        return None


def files_digest(root: Path, paths: Iterable[str]) -> str | None:
    """Return one sha256 over the names and bytes of files, or None if one cannot be read."""
    digest = hashlib.sha256()
    for rel in paths:
        try:
            digest.update(os.fsencode(rel) + b"\0" + read_file(root / rel) + b"\0")
        except OSError:
            return None
    return digest.hexdigest()


def _checker_digest() -> str:
    """Hash the version and sources of the modules that decide a verdict."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(__version__.encode())
    for name in _CHECKER_MODULES:
        digest.update(
            name.encode() + b"\0" + ((here / name).read_bytes() if (here / name).is_file() else b"")
        )
    return digest.hexdigest()


class CheckCache:
    """The clean-check records of one root, in ``<cache_dir>/sync-check-<root hash>.json``.

    Args:
        cache_dir: Folder to keep the records in; None disables the cache.
        root: The checked root; records of different roots never mix.
    """

    def __init__(self, cache_dir: Path | None, root: Path) -> None:
        self.path: Path | None = None
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.changed = False
        # A folder another user can write in could hold their record of a drifted pair as
        # clean: it is not used (a record forged there made sync-check pass a drifted file).
        if cache_dir is None or not private_folder(cache_dir, make=False):
            return
        self.path = cache_dir / f"sync-check-{sha256(os.fsencode(root.resolve()))[:16]}.json"
        self.checker = _checker_digest()
        # Read like any untrusted file: a FIFO or device in its place is refused, not waited on
        # or read forever; JSON nested too deeply or of the wrong shape is ignored.
        with contextlib.suppress(OSError, ValueError, RecursionError):
            if not mine(self.path):  # another user's, made while the folder was open to them
                return
            data = json.loads(read_file(self.path))
            entries = data.get("entries") if isinstance(data, dict) else None
            if isinstance(entries, dict) and data.get("checker") == self.checker:
                self.entries = entries

    @property
    def enabled(self) -> bool:
        """Return whether records are kept at all."""
        return self.path is not None

    def get(self, key: str) -> Any:
        """Return the record stored under ``key``, or None."""
        self.used.add(key)
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        """Store a record (in memory until :meth:`save`)."""
        self.used.add(key)
        if self.path is not None and self.entries.get(key) != value:
            self.entries[key] = value
            self.changed = True

    def save(self) -> None:
        """Write the records atomically, if anything changed; ignore a read-only cache.

        Records this run neither read nor wrote (a pair since removed from the manifest)
        are dropped, so the file does not grow forever.
        """
        stale = set(self.entries) - self.used
        if self.path is None or not (self.changed or stale):
            return
        self.entries = {k: v for k, v in self.entries.items() if k in self.used}
        data = json.dumps({"checker": self.checker, "entries": self.entries}, sort_keys=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        created = False
        try:
            if not private_folder(self.path.parent):  # made private, or no longer only ours
                return
            # Created, never opened where it is: a link planted under this name is not followed.
            with tmp.open("x", encoding="utf-8") as file:
                created = True
                file.write(data)
            tmp.chmod(stat.S_IMODE(tmp.stat().st_mode) | stat.S_IRUSR | stat.S_IWUSR)  # any umask
            tmp.replace(self.path)
        except OSError:
            if created:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        self.changed = False
