"""Read the sync manifest: which BASE file each template must render to, and with what context.

The manifest lives in ``pyproject.toml`` under ``[tool.tac-bootstrap.sync]``::

    [tool.tac-bootstrap.sync]
    templates = "templates"                 # folder template names are relative to
    base_globs = ["pkg/orchestrator/*"]     # every match must be some pair's BASE
    template_globs = ["orchestrator/**"]    # every match must be some pair's template
    unpaired = ["pkg/orchestrator/__init__.py"]   # deliberately without a counterpart

    [tool.tac-bootstrap.sync.context]       # context every template is rendered with
    package = "pkg.orchestrator"

    [[tool.tac-bootstrap.sync.pairs]]
    base = "pkg/orchestrator/models.py"
    template = "orchestrator/src/{{ package }}/models.py.j2"
    context = { extra = 1 }                 # optional, merged over the global context

    [tool.tac-bootstrap.sync.agreement]     # optional: the modules that must agree
    models = "pkg/orchestrator/models.py"
    schema = "pkg/orchestrator/schema.sql"
    database = "pkg/orchestrator/database.py"
    postgres_schema = "pkg/orchestrator/schema_postgres.sql"        # optional
    postgres_database = "pkg/orchestrator/database_postgres.py"     # optional
    migrations = "pkg/orchestrator/migrations"   # optional: NNNN_slug.sql from 0001
    diagram = "README.md"                   # optional: holds the schema's erDiagram

Without ``base_globs`` (``template_globs``) every file beside a pair's BASE (template) must
belong to a pair. Only the standard library is imported here: reading the manifest is on the
path of every ``sync-check``, which must start fast.
"""

from __future__ import annotations

import os
import stat
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tac_bootstrap.confine import (
    NotRegularFileError,
    OutsideRootError,
    confine,
    decode,
    kind_of,
    plain_name,
    read_file,
    reserved,
    reserved_at,
    reserved_places,
    spells,
)
from tac_bootstrap.errors import TacBootstrapError

MANIFEST_FILE = "pyproject.toml"
TABLE = "[tool.tac-bootstrap.sync]"
_TOP_KEYS = {
    "templates",
    "context",
    "pairs",
    "agreement",
    "base_globs",
    "template_globs",
    "unpaired",
}
_PAIR_KEYS = {"base", "template", "context"}
_AGREEMENT_KEYS = (
    "models",
    "schema",
    "database",
    "postgres_schema",
    "postgres_database",
    "diagram",
    "migrations",
)


_MAX_NAME_BYTES = 255  # NAME_MAX of Linux, macOS and Windows file systems
_MAX_PATH_BYTES = 1024  # of a path inside the repository


def _cut(value: str) -> str:
    """Return a long value cut short for a message."""
    return value if len(value) <= 60 else value[:57] + "..."


#: The folder of a PostgreSQL module's migrations, beside the module.
POSTGRES_MIGRATIONS = "migrations_postgres"


class ManifestError(TacBootstrapError):
    """The sync manifest is missing or malformed, or the root does not exist."""


class ManifestTomlError(ManifestError):
    """``pyproject.toml`` is not TOML (an update's conflict markers in it, for one)."""


@dataclass(frozen=True)
class Pair:
    """One BASE file and the template that must render to it, byte for byte.

    Attributes:
        base: Path of the BASE file, relative to the root, with ``/``.
        template: Template name, relative to the templates folder, with ``/``.
        context: The full context (global merged with the pair's own).
    """

    base: str
    template: str
    context: dict[str, Any]


@dataclass(frozen=True)
class Agreement:
    """The models module, schemas, database modules and migrations folder (root-relative).

    ``postgres_schema`` and ``postgres_database`` are the PostgreSQL twins of ``schema`` and
    ``database``, for projects generated with ``--db postgres``. ``diagram``, when given, is a
    Markdown file holding the schema's Mermaid erDiagram (see :mod:`tac_bootstrap.diagram`);
    ``migrations`` the folder of ``NNNN_slug.sql`` files (see :mod:`tac_bootstrap.chain`).
    """

    models: str
    schema: str
    database: str | None = None
    postgres_schema: str | None = None
    postgres_database: str | None = None
    diagram: str | None = None
    migrations: str | None = None

    def files(self) -> list[str]:
        """Return the modules and schemas named (not the diagram), models first."""
        named = [self.database, self.postgres_schema, self.postgres_database]
        return [self.models, self.schema, *filter(None, named)]

    def postgres_migrations(self) -> str | None:
        """Return the folder of the PostgreSQL migrations, beside the PostgreSQL module."""
        if self.postgres_database is None:
            return None
        folder = self.postgres_database.rpartition("/")[0]
        return f"{folder}/{POSTGRES_MIGRATIONS}" if folder else POSTGRES_MIGRATIONS


@dataclass(frozen=True)
class Manifest:
    """The parsed ``[tool.tac-bootstrap.sync]`` table of one repository."""

    root: Path
    templates: str
    pairs: tuple[Pair, ...]
    base_globs: tuple[str, ...]
    template_globs: tuple[str, ...]
    unpaired: tuple[str, ...] = ()
    agreement: Agreement | None = None
    context: dict[str, Any] = field(default_factory=dict)
    #: The templates folder's real path, resolved once, where it was confined to the root.
    templates_resolved: str | None = None

    @cached_property
    def templates_dir(self) -> Path:
        """Return the folder that template names are relative to."""
        return self.root / self.templates

    @cached_property
    def templates_root(self) -> str:
        """Return the templates folder with every symlink resolved when the manifest was read.

        Templates are confined to this path, not resolved again: a link put in the folder's
        place while a command runs leads out of it, and is refused (resolving the folder
        again followed the link, and read or wrote templates wherever it led).
        """
        return self.templates_resolved or os.path.realpath(self.templates_dir)

    @cached_property
    def templates_real(self) -> str:
        """Return the templates folder with every symlink resolved, ending in a separator."""
        return self.templates_root.rstrip(os.sep) + os.sep

    def template_path(self, name: str) -> str:
        """Return a template's path relative to the root, for messages and annotations."""
        return name if self.templates == "." else f"{self.templates}/{name}"

    def base_file(self, rel: str) -> str:
        """Return the path of a root-relative file to read or write, confined to the root.

        Raises:
            OutsideRootError: It resolves (through a symlink) outside the root.
        """
        return str(confine(self.root, rel))

    def template_file(self, name: str) -> str:
        """Return the path of a template, confined to the templates folder.

        Raises:
            OutsideRootError: It resolves (through a symlink) outside the templates folder.
        """
        shown = self.template_path(name)
        return str(confine(self.templates_dir, name, shown=shown, real_root=self.templates_root))


def load_manifest(root: Path) -> Manifest | None:
    """Read the sync manifest of ``root``; None when its pyproject.toml has no such table.

    Raises:
        ManifestError: The root does not exist, or the manifest cannot be read or is malformed.
        OutsideRootError: ``pyproject.toml`` is a symlink to a file outside the root.
        NotUtf8Error: ``pyproject.toml`` is not UTF-8.
    """
    if not root.is_dir():
        msg = f"root {root} does not exist or is not a folder"
        raise ManifestError(msg)
    path = root / MANIFEST_FILE
    try:
        if not path.is_file() and not _a_file_after_all(root, path):
            return None
        data = tomllib.loads(_manifest_text(root, path))
    except NotRegularFileError as exc:  # one since the look: said as one before it
        msg = f"{path}: not a regular file ({kind_of(exc.mode)})"
        raise ManifestError(msg) from None
    except OSError as exc:  # unreadable (permissions), too big
        msg = f"cannot read {path}: {exc.strerror or exc}"
        raise ManifestError(msg) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of thousands of digits
        msg = f"{path}: cannot be read as TOML: {exc}"
        raise ManifestTomlError(msg) from exc
    except RecursionError:  # arrays or tables nested thousands deep
        msg = f"{path}: cannot be read as TOML: nested too deeply"
        raise ManifestError(msg) from None
    table: object = data
    for key in ("tool", "tac-bootstrap", "sync"):
        if not isinstance(table, dict) or key not in table:
            return None  # no manifest here (a `tool` that is not a table holds none either)
        table = table[key]
    return _parse(root, path, table)


def _manifest_text(root: Path, path: Path) -> str:
    """Return the text of ``pyproject.toml``, read inside the root.

    Raises:
        ManifestError: It leads to a file no command writes, or starts with a byte-order mark.
        OutsideRootError: It is a symlink to a file outside the root.
        NotUtf8Error: It is not UTF-8.
        OSError: It cannot be read.
    """
    real = confine(root, MANIFEST_FILE)
    if path.is_symlink():  # pyproject.toml -> .git/config: git's file, not the project's
        _not_reserved_to_read(root, path)
    text = decode(read_file(real, resolved=True), str(path))
    if text.startswith("\ufeff"):  # TOML has none: tomllib said "Invalid statement"
        msg = f"{path}: starts with a byte-order mark (save it as UTF-8 without BOM)"
        raise ManifestError(msg)
    return text


def _not_reserved_to_read(root: Path, path: Path) -> None:
    """Refuse a ``pyproject.toml`` that is a link to a file no command writes (git's config).

    ``sync-check`` read ``pyproject.toml -> .git/config`` as the manifest, where ``update``
    refuses it.

    Raises:
        ManifestError: It leads there.
    """
    found = reserved_at(root, MANIFEST_FILE)
    if found is not None:
        msg = f"{path} is {found[0]} (through a symlink: {found[1]}): refusing to read it"
        raise ManifestError(msg)


def _a_file_after_all(root: Path, path: Path) -> bool:
    """Refuse a ``pyproject.toml`` that is there but is not a regular file to read.

    A folder, a FIFO, a device, a link to nothing or a loop of links is not a project without
    a manifest: each command that reads the manifest names it. Return False when no name is
    there, True when a regular file is there at this look: one away for a moment (renamed, a
    FIFO in its place, renamed back) was called "a device" once back, and "a symbolic link to
    nothing" when the FIFO was gone and the file not back yet.

    Raises:
        ManifestError: ``path`` is there (as a name) and is not a regular file.
        OutsideRootError: It is a symlink to a file outside the root.
    """
    try:
        mode = path.lstat().st_mode
    except OSError:  # no name there: no manifest
        return False
    if stat.S_ISLNK(mode):
        confine(root, MANIFEST_FILE)  # a link out of the root is named as such
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            if not os.path.lexists(path):  # gone at this look: no manifest now
                return False
            msg = f"{path}: a symbolic link to nothing, not a file"
            raise ManifestError(msg) from None
        except OSError as exc:  # a loop of links, a name too long
            msg = f"cannot read {path}: {exc.strerror or exc}"
            raise ManifestError(msg) from None
    if stat.S_ISREG(mode):
        return True
    msg = f"{path}: not a regular file ({kind_of(mode)})"
    raise ManifestError(msg)


MAX_PAIRS = 5_000
"""The most ``[[pairs]]`` a manifest may hold (this repository's has 21)."""


def _parse(root: Path, path: Path, table: object) -> Manifest:
    """Validate the raw sync table and build a :class:`Manifest`."""
    table = _table(path, TABLE, table)
    _no_unknown(path, TABLE, table, _TOP_KEYS)
    context = _table(path, f"{TABLE} context", table.get("context", {}))
    templates = _relative(path, f"{TABLE} templates", table.get("templates", "templates"))
    raw_pairs = table.get("pairs", [])
    if not isinstance(raw_pairs, list):
        msg = f"{path}: {TABLE} pairs must be an array of tables ([[...pairs]])"
        raise ManifestError(msg)
    if len(raw_pairs) > MAX_PAIRS:  # each is resolved on disk: 100,000 took minutes
        msg = f"{path}: {TABLE} pairs: {len(raw_pairs):,} pairs, more than {MAX_PAIRS:,}"
        raise ManifestError(msg)
    # A manifest with only an agreement table (a generated project's) needs no templates.
    if ("templates" in table or raw_pairs) and not (root / templates).is_dir():
        msg = f"{path}: {TABLE} templates: folder {templates!r} does not exist under {root}"
        raise ManifestError(msg)
    try:
        templates_resolved = str(confine(root, templates))
    except OutsideRootError as exc:
        msg = f"{path}: {TABLE} templates: {exc}"
        raise ManifestError(msg) from None
    pairs = tuple(_pair(path, i, raw, context) for i, raw in enumerate(raw_pairs, 1))
    _no_duplicates(root, path, pairs)
    _no_template_twins(path, pairs)
    _no_chains(root, path, pairs, templates)
    places = reserved_places(root)
    for index, pair in enumerate(pairs, 1):
        where = f"{TABLE} pairs[{index}]"
        _not_reserved(root, path, places, f"{where} base", pair.base)
        shown = pair.template if templates == "." else f"{templates}/{pair.template}"
        _not_reserved(root, path, places, f"{where} template", shown, pair.template)
        for key, rel in (("base", pair.base), ("template", shown)):
            _not_the_manifest(root, path, f"{where} {key}", rel)
    base_globs = _strings(path, "base_globs", table.get("base_globs"))
    template_globs = _strings(path, "template_globs", table.get("template_globs"))
    agreement = _agreement(path, table.get("agreement"))
    for key in _AGREEMENT_KEYS:
        named = getattr(agreement, key, None)
        if named is not None:
            _not_reserved(root, path, places, f"{TABLE} agreement {key}", named)
    return Manifest(
        root=root,
        templates=templates,
        pairs=pairs,
        base_globs=base_globs if base_globs is not None else _beside(p.base for p in pairs),
        template_globs=(
            template_globs if template_globs is not None else _beside(p.template for p in pairs)
        ),
        unpaired=_strings(path, "unpaired", table.get("unpaired")) or (),
        agreement=agreement,
        context=context,
        templates_resolved=templates_resolved,
    )


def _pair(path: Path, index: int, raw: object, context: dict[str, Any]) -> Pair:
    """Validate one ``[[pairs]]`` entry and merge its context over the global one."""
    where = f"{TABLE} pairs[{index}]"
    raw = _table(path, where, raw)
    _no_unknown(path, where, raw, _PAIR_KEYS)
    for key in ("base", "template"):
        if key not in raw:
            msg = f"{path}: {where}: missing {key!r}"
            raise ManifestError(msg)
    own = _table(path, f"{where} context", raw.get("context", {}))
    return Pair(
        base=_relative(path, f"{where} base", raw["base"]),
        template=_relative(path, f"{where} template", raw["template"]),
        context={**context, **own},
    )


def _agreement(path: Path, raw: object) -> Agreement | None:
    """Validate the optional ``agreement`` table."""
    if raw is None:
        return None
    where = f"{TABLE} agreement"
    raw = _table(path, where, raw)
    _no_unknown(path, where, raw, set(_AGREEMENT_KEYS))
    for key in ("models", "schema"):
        if key not in raw:
            msg = f"{path}: {where}: missing {key!r}"
            raise ManifestError(msg)
    optional = {
        key: _relative(path, f"{where} {key}", raw[key])
        for key in _AGREEMENT_KEYS[2:]
        if raw.get(key) is not None
    }
    return Agreement(
        models=_relative(path, f"{where} models", raw["models"]),
        schema=_relative(path, f"{where} schema", raw["schema"]),
        **optional,
    )


def _table(path: Path, where: str, value: object) -> dict[str, Any]:
    """Return ``value`` as a table or refuse it, naming where it was found."""
    if not isinstance(value, dict):
        msg = f"{path}: {where} must be a table, not {type(value).__name__}"
        raise ManifestError(msg)
    return value


def _no_unknown(path: Path, where: str, table: dict[str, Any], known: set[str]) -> None:
    """Refuse keys the format does not know: a typo must not silently disable a check."""
    unknown = sorted(set(table) - known)
    if unknown:
        msg = f"{path}: {where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        raise ManifestError(msg)


def _relative(path: Path, where: str, value: object) -> str:
    """Return ``value`` as a relative POSIX path that stays inside the root."""
    if not isinstance(value, str) or not value:
        msg = f"{path}: {where} must be a non-empty string"
        raise ManifestError(msg)
    if "\x00" in value:  # no file system takes it: refused here, not a traceback there
        msg = f"{path}: {where}: {value!r} contains a NUL byte"
        raise ManifestError(msg)
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or "\\" in value:
        msg = f"{path}: {where}: {value!r} must be a relative path with '/' inside the root"
        raise ManifestError(msg)
    if len(value.encode(errors="replace")) > _MAX_PATH_BYTES or any(
        len(part.encode(errors="replace")) > _MAX_NAME_BYTES for part in parts
    ):  # asking the file system about it would fail with "File name too long"
        msg = (
            f"{path}: {where}: {_cut(value)!r} is longer than file systems take "
            f"({_MAX_NAME_BYTES} bytes a name, {_MAX_PATH_BYTES} in all)"
        )
        raise ManifestError(msg)
    # "a//b/./c/" -> "a/b/c", as PurePosixPath would say it, without its cost per pair.
    return "/".join(part for part in parts if part not in ("", ".")) or "."


def _not_reserved(
    root: Path,
    path: Path,
    places: list[tuple[str, str]],
    where: str,
    rel: str,
    value: str | None = None,
) -> None:
    """Refuse a path of the root that no command writes, as given or through a symlink.

    ``sync`` writes BASE files and templates (``sync --from base``), ``migration new`` the
    agreement's: none may be the answers file, under update's own folder or under git's (its
    config and hooks run programs). ``value`` is the entry as the manifest gives it.
    """
    found = reserved_at(root, rel, places)
    if found is not None:
        why, form = found
        link = "" if form == rel else f" (through a symlink: {form})"
        if form != rel and "/" not in form and reserved(form) is not None:
            link = f" ({form} leads there)"  # e.g. .git -> realgit
        msg = f"{path}: {where}: {value or rel!r} is {why}{link}: refusing to write there"
        raise ManifestError(msg)


def _not_the_manifest(root: Path, path: Path, where: str, rel: str) -> None:
    """Refuse a BASE or template that is the manifest itself (``sync`` would write over it)."""
    # Another spelling of its name is the manifest too where names are compared so (macOS,
    # Windows): sync wrote over it there. Through a linked folder as well (lnk/PyProject.toml).
    real = os.path.realpath(root / rel)
    real_root = os.path.realpath(root)
    forms = [rel, os.path.relpath(real, real_root).replace(os.sep, "/")]
    if real == os.path.realpath(path) or any(spells(form, MANIFEST_FILE) for form in forms):
        msg = f"{path}: {where}: {rel!r} is the manifest itself: refusing to write there"
        raise ManifestError(msg)


def _strings(path: Path, key: str, value: object) -> tuple[str, ...] | None:
    """Return an optional array of glob strings."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v and "\x00" not in v for v in value
    ):
        msg = f"{path}: {TABLE} {key} must be an array of non-empty strings without NUL bytes"
        raise ManifestError(msg)
    for pattern in value:
        # A glob that climbs out ("../*", "**/../../**") or starts at "/" would list folders
        # outside the root, the whole file system for a deep enough one.
        if pattern.startswith("/") or ".." in pattern.replace("\\", "/").split("/"):
            msg = f"{path}: {TABLE} {key}: {pattern!r} must be a relative glob inside the root"
            raise ManifestError(msg)
    return tuple(value)


def _no_duplicates(root: Path, path: Path, pairs: tuple[Pair, ...]) -> None:
    """Refuse two pairs that write the same BASE file, by name or through a symlink.

    Names are also compared as macOS and Windows compare them (``pkg/A.txt`` and
    ``pkg/a.txt``, ``é`` composed or not, ``x.txt.``): there the two pairs write one file, and
    the check could never pass after a ``sync``.
    """
    names: set[str] = set()
    plains: dict[tuple[str, ...], str] = {}
    reals: dict[str, str] = {}
    for pair in pairs:
        if pair.base in names:
            msg = f"{path}: {TABLE} pairs: {pair.base!r} is the BASE of more than one pair"
            raise ManifestError(msg)
        names.add(pair.base)
        plain = tuple(plain_name(part) for part in pair.base.split("/") if part not in ("", "."))
        same = plains.setdefault(plain, pair.base)
        if same != pair.base:
            msg = (
                f"{path}: {TABLE} pairs: {_two_names(pair.base, same)} are one file where names "
                "ignore case or Unicode form (macOS, Windows): the BASE of two pairs"
            )
            raise ManifestError(msg)
        real = os.path.realpath(os.path.join(root, pair.base))  # noqa: PTH118 - strings: cheaper
        earlier = reals.setdefault(real, pair.base)
        if earlier != pair.base:
            msg = (
                f"{path}: {TABLE} pairs: {pair.base!r} and {earlier!r} are one file "
                "(through a symlink): the BASE of two pairs"
            )
            raise ManifestError(msg)


def _two_names(one: str, other: str) -> str:
    """Quote two names for a message; with escapes where they differ only in Unicode form.

    ``'p/café.txt' and 'p/café.txt'`` (``é`` composed and decomposed) named two files that
    looked alike; each is quoted in ASCII with its escapes now.
    """
    if unicodedata.normalize("NFC", one) == unicodedata.normalize("NFC", other):
        return f"{one!a} and {other!a}"
    return f"{one!r} and {other!r}"


def _no_template_twins(path: Path, pairs: tuple[Pair, ...]) -> None:
    """Refuse two templates of pairs whose names macOS and Windows read as one file.

    Pairs may share a template (named alike, or spelt with ``//`` or ``./``), but
    ``orch/A.j2`` and ``orch/a.j2`` are two files on Linux and one there: each pair passed the
    check in CI, and there both rendered from whichever file the checkout left.
    """
    seen: dict[tuple[str, ...], tuple[tuple[str, ...], str]] = {}
    for pair in pairs:
        exact = tuple(part for part in pair.template.split("/") if part not in ("", "."))
        plain = tuple(plain_name(part) for part in exact)
        same, name = seen.setdefault(plain, (exact, pair.template))
        if same != exact:
            msg = (
                f"{path}: {TABLE} pairs: {_two_names(pair.template, name)} are one file where "
                "names ignore case or Unicode form (macOS, Windows): the template of two pairs"
            )
            raise ManifestError(msg)


def _no_chains(root: Path, path: Path, pairs: tuple[Pair, ...], templates: str) -> None:
    """Refuse a file that is the BASE of one pair and the template of another.

    ``sync`` writes every file from what it read before writing any: in such a chain the BASE
    got the template's old text, and the tree was still out of sync after a sync that said
    it was done (the next sync changed it again).
    """
    bases = {os.path.realpath(os.path.join(root, p.base)): p.base for p in pairs}  # noqa: PTH118
    for pair in pairs:
        template = os.path.realpath(os.path.join(root, templates, pair.template))  # noqa: PTH118
        base = bases.get(template)
        if base is not None and base != pair.base:
            msg = (
                f"{path}: {TABLE} pairs: {base!r} is both a BASE and the template of "
                f"{pair.base!r}: sync cannot write both in one run; give {pair.base!r} a "
                "template of its own"
            )
            raise ManifestError(msg)


def _beside(paths: Any) -> tuple[str, ...]:
    """Return one ``<folder>/*`` glob per distinct folder of ``paths`` (the default globs)."""
    folders = sorted({p.rpartition("/")[0] for p in paths})
    return tuple(f"{folder}/*" if folder else "*" for folder in folders)
