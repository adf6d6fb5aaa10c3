"""The answers file (``.tac-bootstrap.json``) a generated project keeps.

A frozen dataclass read by :func:`parse`, checked by hand: ``update`` and ``sync-check`` in a
generated project (run on every commit by its pre-commit hook) read it, and importing
Pydantic's model machinery for one small file cost more than the rest of reading it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tac_bootstrap.confine import (
    marked_encoding,
    reserved,
    unmarked,
    unmarked_encoding,
    wrong_encoding,
)

_SHA256 = re.compile(r"[0-9a-f]{64}")
#: What ``update`` and ``sync-check`` say of a path the answers file records as a generated file
#: where a folder is: a generated file the person replaced, or a hand-made record of a folder.
RECORDED_FOLDER = "a folder, where .tac-bootstrap.json records a generated file"
RECORDED_FOLDER_FIX = (
    "move the folder away, or remove its record from .tac-bootstrap.json if no file belongs there"
)
DATABASES = ("sqlite", "postgres")


@dataclass(frozen=True)
class Answers:
    """The answers file a generated project keeps: how to render it again, and what was written."""

    version: str
    name: str
    with_orchestrator: bool
    data: dict[str, str]
    generator: str = "tac-bootstrap"
    db: str = "sqlite"  # absent from files written before 0.2.0
    files: dict[str, str] = field(default_factory=dict)
    #: Generated files the user deleted: ``update`` keeps them deleted.
    deleted: list[str] = field(default_factory=list)
    #: Files ``update`` left in conflict, until the person resolves them.
    conflicts: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        """Return what a render needs: the answers without the record of written files."""
        found = asdict(self)
        for key in ("files", "deleted", "conflicts"):
            del found[key]
        return found

    def with_data(self, data: Mapping[str, str]) -> Answers:
        """Return these answers with ``data`` values added or changed."""
        return replace(self, data={**self.data, **data})


class AnswersError(ValueError):
    """The text is not an answers file; the message names the key at fault."""


def _strings(value: object) -> bool:
    return isinstance(value, str)


def _table(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


def _list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# Each key of an answers file: the check its value must pass, and what it must be.
_KEYS: dict[str, tuple[Callable[[object], bool], str]] = {
    "generator": (lambda value: value == "tac-bootstrap", "'tac-bootstrap'"),
    "version": (_strings, "a string"),
    "name": (_strings, "a string"),
    "with_orchestrator": (lambda value: isinstance(value, bool), "true or false"),
    "db": (lambda value: value in DATABASES, f"one of {', '.join(DATABASES)}"),
    "data": (_table, "an object of strings"),
    "files": (_table, "an object of strings"),
    "deleted": (_list, "a list of strings"),
    "conflicts": (_list, "a list of strings"),
}
_REQUIRED = ("version", "name", "with_orchestrator", "data")
# Of the paths one list of the answers file holds (a project has a few dozen files): reading
# each costs a few system calls, and a hostile file of millions would hold sync-check for hours.
MAX_FILES = 10_000
_MAX_NAME_BYTES = 255  # NAME_MAX of Linux, macOS and Windows file systems
_MAX_VERSION = 64  # characters of a version: 0.10.2.dev3 is 11
_MAX_PATH_BYTES = 1024  # of a path inside the project; the generated ones are under 100
# A recorded path leaves room for what update writes from it: its backup under
# .tac-bootstrap/backup/<from>-<to>[.N]/ (two versions of up to 64 characters), its temporary
# file .<name>.<pid>.tmp and a binary conflict's <name>.tac-bootstrap-<version> beside it.
_MAX_RECORDED_PATH = _MAX_PATH_BYTES - 256
_MAX_RECORDED_NAME = _MAX_NAME_BYTES - 64


def parse(text: bytes | str) -> Answers:
    """Read an answers file's JSON text.

    Raises:
        AnswersError: Not UTF-8, not JSON, or not an answers file.
    """
    raw = _load(text)
    for key in sorted(set(raw) - set(_KEYS)):
        msg = f"{key[:80]!r}: not a key of an answers file"
        raise AnswersError(msg)
    for key in _REQUIRED:
        if key not in raw:
            msg = f"{key}: missing"
            raise AnswersError(msg)
    for key, value in raw.items():
        _check_value(key, value)
    _check_version(raw["version"])
    return Answers(**raw)


def _check_value(key: str, value: object) -> None:
    """Refuse a value of the wrong type, one that is not text, or a path no file has."""
    check, what = _KEYS[key]
    if key in ("data", "files") and isinstance(value, dict):
        _check_items(key, value)
    if not check(value):
        msg = f"{key}: {_shown(value)} is not {what}"
        raise AnswersError(msg)
    try:  # a lone surrogate: JSON escapes half a character, which no file holds
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        msg = f"{key}: holds {exc.object[exc.start : exc.end]!r}, half a character: not text"
        raise AnswersError(msg) from None
    if key in ("files", "deleted", "conflicts"):
        _check_paths(key, list(value))  # type: ignore[call-overload]
    if key == "files":
        for path, digest in value.items():  # type: ignore[attr-defined]
            if not _SHA256.fullmatch(digest):
                shown = f"{_shown(path)} is malformed ({_shown(digest)})"
                msg = f"files: the sha256 of {shown}: not 64 hex digits"
                raise AnswersError(msg)


def _check_items(key: str, table: dict[str, object]) -> None:
    """Refuse the first value of a table that is not a string, naming its key."""
    for name, item in table.items():
        if not isinstance(item, str):
            what = "the sha256 of" if key == "files" else "the value of"
            wanted = "a string of 64 hex digits" if key == "files" else "a string"
            shown = json.dumps(item, ensure_ascii=False)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            msg = f"{key}: {what} {_shown(name)} is {shown}, not {wanted}"
            raise AnswersError(msg)


def _check_paths(key: str, paths: list[str]) -> None:
    """Refuse a list of paths no update writes: too long, a path twice, or not a generated file."""
    if len(paths) > MAX_FILES:
        msg = f"{key}: {len(paths):,} paths, more than {MAX_FILES:,}: no project is so big"
        raise AnswersError(msg)
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            msg = f"{key}: {_shown(path)} is listed twice"
            raise AnswersError(msg)
        seen.add(path)
        if not is_safe_path(path):  # checked before any file is read
            msg = f"{key}: {_shown(path)} is not a safe path inside the project"
            raise AnswersError(msg)
        _check_generated_path(key, path)
        _check_room(key, path)


def is_safe_path(rel: str) -> bool:
    """Return whether ``rel`` is a plain relative path: no root, ``..``, backslash or NUL.

    A name that no file system takes is refused too: one longer than 255 bytes a part
    (asking about it fails with "File name too long"), or holding a lone surrogate (a JSON
    escape of half a character, which is not text at all).
    """
    parts = rel.split("/")
    try:
        sizes = [len(p.encode()) for p in parts]
    except UnicodeEncodeError:
        return False
    return not (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or "\x00" in rel  # no file system takes it
        or any(p in {"", ".", ".."} for p in parts)
        or sum(sizes) + len(parts) > _MAX_PATH_BYTES
        or max(sizes) > _MAX_NAME_BYTES
    )


def _check_room(key: str, path: str) -> None:
    """Refuse a recorded path too long for update to back up or to write beside.

    Such a path was never generated (the generated ones are under 100 bytes): refused here,
    naming it, rather than by update halfway, naming its backup or temporary file.
    """
    size = len(path.encode())
    name = len(path.rpartition("/")[2].encode())  # folders get no suffix, the file does
    if size > _MAX_RECORDED_PATH or name > _MAX_RECORDED_NAME:
        msg = (
            f"{key}: {_shown(path)} is too long for update to back up and replace "
            f"({size:,} bytes, a file name of {name:,}; at most {_MAX_RECORDED_PATH:,} and "
            f"{_MAX_RECORDED_NAME:,}): no generated file has such a path"
        )
        raise AnswersError(msg)


def _check_generated_path(key: str, path: str) -> None:
    """Refuse a recorded path that is not a generated file's (see ``confine.reserved``).

    ``update`` rewrites and deletes the files the answers list: never the answers file, what
    is under update's own folder (its backups and markers) or git's.
    """
    why = reserved(path)
    if why is not None:
        msg = f"{key}: {_shown(path)} is {why}, not a generated file"
        raise AnswersError(msg)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a key given twice (JSON parsers differ on which wins)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            msg = f"{_shown(key)} is given twice"
            raise AnswersError(msg)
        seen.add(key)
    return dict(pairs)


def _load(text: bytes | str) -> dict[str, Any]:
    """Return the JSON object of the text."""
    if text[:1] == "\ufeff" or text[:3] == b"\xef\xbb\xbf":  # as the schema's and manifest's
        msg = "starts with a byte-order mark (save it as UTF-8 without BOM)"
        raise AnswersError(msg)
    if isinstance(text, bytes) and (encoding := unmarked_encoding(text)) is not None:
        raise AnswersError(unmarked("it", encoding))
    try:
        raw = json.loads(
            text.decode("utf-8") if isinstance(text, bytes) else text,
            object_pairs_hook=_no_duplicates,
        )
    except UnicodeDecodeError as exc:
        encoding = marked_encoding(exc.object)
        msg = f"not UTF-8: {exc}" if encoding is None else wrong_encoding("it", encoding)
        raise AnswersError(msg) from None
    except AnswersError:
        raise
    except (ValueError, RecursionError) as exc:
        # A number of over 4,300 digits: Python's advice to raise its limit is for a program,
        # not for the person whose answers file holds it.
        said, _, _ = str(exc).partition("; use sys.set_int_max_str_digits()")
        msg = f"not JSON: {said}"
        raise AnswersError(msg) from None
    if not isinstance(raw, dict):
        msg = "not a JSON object"
        raise AnswersError(msg)
    return raw


def _shown(value: object) -> str:
    """Return a value as the error shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_version(version: str) -> None:
    """Refuse a version that is not one (``0.1.0``, ``0.2.0.dev0``, ...)."""
    from tac_bootstrap.releases import ReleaseStoreError, version_key

    if len(version) > _MAX_VERSION:  # each number is bounded, not how many there are
        msg = f"version: {_shown(version)} is not a version like 0.1.0: too long"
        raise AnswersError(msg)
    try:
        version_key(version)
    except ReleaseStoreError as exc:
        msg = f"version: {exc}"
        raise AnswersError(msg) from None
