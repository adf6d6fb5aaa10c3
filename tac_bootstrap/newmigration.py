"""``migration new``: write the migration that takes the chain's database to the schema file's.

The manifest's ``[tool.tac-bootstrap.sync.agreement]`` names the schema, the database module and
the migrations folder. The existing migrations are run on an empty sandboxed database, the
schema file on another, and :mod:`tac_bootstrap.migration_plan` plans the statements between
them. Before anything is written, the new migration is run after the chain and the result must
introspect equal to the schema: the file passes ``sync-check`` by construction. Writing it also
sets ``PRAGMA user_version`` in the schema and ``SCHEMA_VERSION`` in the database module to its
number, so that the three agree.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tac_bootstrap import chain, introspect, sqlcheck
from tac_bootstrap.confine import (
    confine,
    held_stops,
    link,
    move,
    on_stop,
    process_alive,
    read_file,
    read_text,
    refuse_link_at,
    remove,
    replace_all,
    settle_leftovers,
    stage,
    writable,
)
from tac_bootstrap.errors import InvalidInputError, TacBootstrapError, WriteError
from tac_bootstrap.manifest import Agreement, load_manifest
from tac_bootstrap.migration_plan import MigrationRefusedError, Plan, Rename, plan

__all__ = ["MigrationRefusedError", "NewMigration", "new_migration"]

_SLUG = re.compile(r"[a-z0-9][a-z0-9_]*")
_MAX_SLUG = 200
# What a run stages beside its migration (see confine.stage): `.NNNN_slug.sql.<pid>.tmp`.
_STAGED = re.compile(r"\.([0-9]{4}_[a-z0-9][a-z0-9_]*\.sql)\.([0-9]+)\.tmp")
_USER_VERSION = re.compile(r"(?im)^([ \t]*PRAGMA[ \t]+user_version[ \t]*=[ \t]*)([0-9]+)")
_SCHEMA_VERSION = re.compile(
    r"(?m)^(SCHEMA_VERSION(?:[ \t]*:[ \t]*int)?[ \t]*=[ \t]*)([0-9]+)[ \t]*(?:#.*)?\r?$"
)


@dataclass
class NewMigration:
    """What ``migration new`` wrote (or, with ``--dry-run``, would write).

    Attributes:
        path: The migration file, relative to the root; None when there was nothing to do.
        number: Its number, the new schema version.
        sql: Its text.
        notes: What it does, one change per item.
        versions: The files whose version number was (or would be) set to ``number``.
        dry_run: Whether nothing was written.
        finished: With ``path`` None: the migration a killed run placed without setting the
            versions, which this run set (``versions``).
    """

    path: str | None
    number: int
    sql: str = ""
    notes: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    dry_run: bool = False
    finished: str | None = None


def new_migration(
    root: Path,
    slug: str,
    *,
    renames: list[str] | None = None,
    allow_lossy: bool = False,
    dry_run: bool = False,
) -> NewMigration:
    """Write the next migration of the project at ``root``, from its chain to its schema.

    Raises:
        InvalidInputError: A bad slug or ``--rename``, no migrations folder in the manifest, a
            chain that does not run.
        MigrationRefusedError: A change that needs the person's decision.
        WriteError: A file could not be written.
    """
    if not _SLUG.fullmatch(slug):
        msg = f"slug {slug!r}: use lower-case letters, digits and _ (e.g. widen_agent_status)"
        raise InvalidInputError(msg)
    if len(slug) > _MAX_SLUG:  # NNNN_<slug>.sql must fit a file name (255 bytes)
        msg = f"slug of {len(slug):,} characters: use at most {_MAX_SLUG}"
        raise InvalidInputError(msg)
    parsed = [Rename.parse(r) for r in renames or []]
    agreement = _agreement(root)
    assert agreement.migrations is not None  # noqa: S101 - _agreement checks it
    found = chain.read_chain(root, agreement.migrations)
    # A file, a FIFO or a link to nothing (not a missing folder) where the folder should be is
    # not a chain that ends at 0000: it is named as sync-check names it.
    confine(root, agreement.migrations)
    named = root / agreement.migrations
    not_a_folder = os.path.lexists(named) and not named.is_dir()
    if found.problems and (found.migrations or not_a_folder):
        problem = found.problems[0]
        msg = f"fix the migrations first: {problem.path}: {problem.message}"
        raise InvalidInputError(msg)
    staged, placed = _killed_run(root, found)
    if placed is None:
        placed, kept = _moved_run(root, agreement, found, staged)
        staged += kept
    number = found.last + 1
    target = _load_schema(root, agreement.schema)
    if target.user_version > number:  # a folder emptied or misnamed: not a version to undo
        msg = (
            f"fix the migrations first: {agreement.schema} says PRAGMA user_version = "
            f"{target.user_version}, but {agreement.migrations} ends at {found.last:04d}: "
            f"a migration {number:04d} would set the version back"
        )
        raise InvalidInputError(msg)
    steps = _plan(root, found.migrations, target, parsed, allow_lossy=allow_lossy)
    if not steps.statements:
        return _finish(root, agreement, found, staged, placed, dry_run=dry_run)
    name = f"{number:04d}_{slug}.sql"
    sql = render(number, slug, steps)
    _verify(root, found.migrations, sql, target)
    edits, read = _version_edits(root, agreement, number)
    result = NewMigration(
        f"{agreement.migrations}/{name}", number, sql, steps.notes, sorted(edits), dry_run
    )
    writes = {f"{agreement.migrations}/{name}": sql, **edits}
    # Every path inside the root and writable before the first write; a dry run is the same
    # run without its writes: it refuses what the run would refuse.
    for rel in writes:
        refuse_link_at(root, rel, "migration new")
        writable(root, rel)
    if not dry_run:
        _check_unchanged(root, found, read)
        _write_all(root, writes, number)
        _settle(root, agreement, edits, staged)
    return result


def _killed_run(root: Path, found: chain.Chain) -> tuple[list[Path], str | None]:
    """Find what a killed run (``kill -9``) of ``migration new`` left in the migrations folder.

    A run stages its migration as ``.NNNN_slug.sql.<pid>.tmp``, links it at its name, sets the
    versions, then removes the staged file: a staged file whose process is gone is a run cut
    short. Return those files (never links), and the chain's last migration when one of them
    is that very file (the same inode): the killed run placed it, and may have been stopped
    before setting the versions to its number.
    """
    folder = confine(root, found.folder)
    try:
        with os.scandir(folder) as entries:
            matches = [(e, _STAGED.fullmatch(e.name)) for e in entries]
    except OSError:
        return [], None
    last = found.migrations[-1] if found.migrations else None
    staged, placed = [], None
    for entry, match in matches:
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        if process_alive(int(match[2])):
            continue
        staged.append(Path(entry.path))
        if last is not None and match[1] == last.name:
            with contextlib.suppress(OSError):
                if os.path.samestat(
                    entry.stat(follow_symlinks=False), os.lstat(folder / last.name)
                ):
                    placed = last.path
    return staged, placed


def _moved_run(
    root: Path, agreement: Agreement, found: chain.Chain, staged: list[Path]
) -> tuple[str | None, list[Path]]:
    """Find what a killed run left where it moved its migration in without a hard link.

    On a file system without hard links (vfat, exFAT, some network shares) a run moves its
    staged migration to its name (see :func:`_place_migration`), so no staged file is left
    to compare with the chain's last migration. What it left beside the version files is, of
    a process that is gone and left no staged migration (it was moved in):

    - a staged ``.<name>.<pid>.tmp`` holding exactly this file with its version set to the
      chain's last number: that run placed the last migration and was stopped before it set
      the versions. Returned first: the migration's path (None if there is none).
    - a kept ``.<name>.<pid>.orig`` that is this file but for its version, which is now the
      chain's last number: that run set it, and was stopped before it removed what it kept.
      Returned second: those files, to remove with the staged migrations.
    """
    if not found.migrations:
        return None, []
    staging = {int(match[2]) for path in staged if (match := _STAGED.fullmatch(path.name))}
    try:
        edits, read = _version_edits(root, agreement, found.last)
    except (OSError, TacBootstrapError):
        return None, []
    kept = []
    for rel, text in read.items():
        pattern = _USER_VERSION if rel == agreement.schema else _SCHEMA_VERSION
        with contextlib.suppress(OSError, TacBootstrapError, UnicodeDecodeError):
            path = confine(root, rel)
            name = re.compile(rf"\.{re.escape(path.name)}\.([0-9]+)\.(tmp|orig)")
            with os.scandir(path.parent) as entries:
                for entry in entries:
                    match = name.fullmatch(entry.name)
                    if (
                        match is None
                        or int(match[1]) in staging
                        or not entry.is_file(follow_symlinks=False)
                        or process_alive(int(match[1]))
                    ):
                        continue
                    left = read_file(entry.path).decode("utf-8")
                    if match[2] == "tmp" and rel in edits and left == edits[rel]:
                        return found.migrations[-1].path, []
                    if match[2] == "orig" and _set_version(left, pattern, found.last) == text:
                        kept.append(Path(entry.path))
    return None, kept


def _set_version(text: str, pattern: re.Pattern[str], number: int) -> str | None:
    """Return ``text`` with its one version line set to ``number`` (None: not one such line)."""
    matches = list(pattern.finditer(text))
    if len(matches) != 1:
        return None
    return text[: matches[0].start(2)] + str(number) + text[matches[0].end(2) :]


def _finish(
    root: Path,
    agreement: Agreement,
    found: chain.Chain,
    staged: list[Path],
    placed: str | None,
    *,
    dry_run: bool,
) -> NewMigration:
    """Nothing to plan: set the versions a killed run left unset, and clear what it left.

    The migration it placed was checked against the schema before it was placed: the run was
    stopped between placing it and setting the schema's and the database module's version to
    its number (a chain one ahead of its versions, which ``sync-check`` refuses).
    """
    edits: dict[str, str] = {}
    if placed is not None:
        edits, read = _version_edits(root, agreement, found.last)
        for rel in edits:
            refuse_link_at(root, rel, "migration new")
            writable(root, rel)
        if edits and not dry_run:
            _check_unchanged(root, found, read)
            _write_versions(root, edits, left=bool(staged))
    if not dry_run:
        _settle(root, agreement, edits, staged, versions=placed is not None)
    finished = placed if edits else None
    return NewMigration(
        None, found.last, versions=sorted(edits), dry_run=dry_run, finished=finished
    )


@contextlib.contextmanager
def _staged(root: Path, writes: dict[str, str]) -> Iterator[list[tuple[Path, Path, str]]]:
    """Stage every file beside its target; yield ``(staged, target, rel)`` of each.

    On the way out, a staged file not moved into place (a write that failed, an append-only
    folder that keeps it) is removed.
    """
    staged: list[tuple[Path, Path, str]] = []
    try:
        for rel, text in writes.items():
            with held_stops():  # a signal between the two left the staged file behind
                tmp, path = stage(root, rel, text.encode("utf-8"))
                staged.append((tmp, path, rel))
            refuse_link_at(root, rel, "migration new")  # a link put in its place since the check
        yield staged
    finally:
        for tmp, _, _ in staged:  # in the folder it was staged in, through no link
            with contextlib.suppress(OSError):
                remove(tmp)


def _write_versions(root: Path, edits: dict[str, str], *, left: bool = False) -> None:
    """Write the version edits together, all or none (see :func:`_write_all`).

    ``left``: a killed run's staged files are still to be removed after them.
    """
    on_stop("no file was changed: run it again")
    done = (
        "the versions were set; run it again to remove what the stopped run left"
        if left
        else "the versions were set: nothing is left to do"
    )
    with _staged(root, edits) as staged:
        replace_all(staged, lambda: on_stop(done))


def _settle(
    root: Path,
    agreement: Agreement,
    edits: dict[str, str],
    staged: list[Path],
    *,
    versions: bool = True,
) -> None:
    """Remove a killed run's staged migrations, and its leftovers beside the version files.

    With ``versions``, each version file holds what this run writes there (edited, or already
    at the number), so a kept original of it (``.<name>.<pid>.orig``) is the file before that
    run: it goes, as does a staged one (see :func:`settle_leftovers`). Only files of a process
    that is gone, never followed if links. A killed ``init``'s staging folders in the root
    go too (see :func:`~tac_bootstrap.scaffold.remove_stale_staging`).
    """
    from tac_bootstrap.scaffold import remove_stale_staging

    with contextlib.suppress(OSError):  # a root that cannot be listed: nothing is cleared
        remove_stale_staging(root)
    for rel in (agreement.schema, agreement.database) if versions else ():
        if rel is not None and rel not in edits:
            with contextlib.suppress(OSError, TacBootstrapError):
                settle_leftovers(confine(root, rel))
    for path in staged:
        with contextlib.suppress(OSError):
            path.unlink()


def _check_unchanged(root: Path, found: chain.Chain, read: dict[str, str]) -> None:
    """Refuse to write when a file read, or the chain, changed while the command ran.

    An edit saved meanwhile would be lost under the version edit made from the text read
    before it, and a migration another run wrote meanwhile would share this one's number.
    """
    changed = [rel for rel, text in read.items() if read_text(root, rel) != text]
    now = chain.read_chain(root, found.folder).migrations
    if [m.name for m in now] != [m.name for m in found.migrations]:
        changed.append(found.folder)
    if changed:
        msg = (
            f"{changed[0]} changed while migration new was running (an edit, another run?): "
            "nothing was written; run it again"
        )
        raise InvalidInputError(msg)


def _write_all(root: Path, writes: dict[str, str], number: int) -> None:
    """Write the files together: each beside its target first, then all moved into place.

    A write that fails (no permission, a full disk) leaves every file as it was: writing them
    one by one left the migration written and the versions unset, a chain one ahead of its
    schema that the next run called "no changes". A move refused after others were made (an
    immutable or append-only file, a file mounted in place) undoes them (see
    :func:`replace_all`), and removes the migration. The migration, first, is placed only
    where no file is (see :func:`_place_migration`).
    """
    on_stop("no file was changed: run it again")
    with _staged(root, writes) as staged:
        (tmp, migration, rel), *edits = staged
        placed: list[str] = []  # "placed", then "committed" once the versions are set too

        def done() -> None:  # from here a stop must not remove the migration: versions are set
            placed.append("committed")
            on_stop(f"{rel} was written and the versions set: nothing is left to do")

        try:
            with held_stops():  # placed and recorded as placed: one step
                try:
                    _place_migration(tmp, migration, number)
                except OSError as exc:
                    raise WriteError(Path(rel), exc) from None
                placed.append("placed")
            replace_all(edits, done)
        except BaseException:
            if placed == ["placed"]:  # a stop or a refused move before the versions were set
                remove(migration)
            raise


def _place_migration(tmp: Path, path: Path, number: int) -> None:
    """Link the staged migration at its name, then make sure no other run holds its number.

    Two runs at once each plan the same number: the second rename replaced the first run's
    file (the same slug), or each left a file of that number (two slugs). A link fails where
    a file is; and each run looks for a twin after placing its own, so that at most one of
    them keeps it.

    Raises:
        InvalidInputError: Another run's migration holds the number.
        OSError: The file could not be placed.
    """
    try:
        link(tmp, path)  # in the folders checked, through no link
    except FileExistsError:
        raise _another_run(number, path.name) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
        # A file system without hard links: the twin check below still stops a race.
        if os.path.lexists(path):
            raise _another_run(number, path.name) from None
        move(tmp, path)
    try:
        names = sorted(entry.name for entry in path.parent.iterdir())
    except OSError:
        remove(path)
        raise
    for name in names:
        match = chain.NAME.fullmatch(name)
        if match is not None and int(match[1]) == number and name != path.name:
            remove(path)
            raise _another_run(number, name)


def _another_run(number: int, name: str) -> InvalidInputError:
    """The error of a run that lost the number to another one."""
    msg = (
        f"another migration new wrote {number:04d} ({name}) while this one was running: "
        "nothing was written; run it again"
    )
    return InvalidInputError(msg)


def render(number: int, slug: str, steps: Plan) -> str:
    """Return the migration's text: a header saying what it does, its statements, its version."""
    header = [
        f"-- Migration {number:04d} ({slug}): takes the database from version {number - 1} "
        f"to {number}.",
        "--",
        *(
            textwrap.fill(note + ".", 96, initial_indent="-- * ", subsequent_indent="--   ")
            for note in steps.notes
        ),
        "--",
        "-- Written by `tac-bootstrap migration new`. Run it as the migration runner does:",
        "-- foreign_keys off outside the transaction, PRAGMA foreign_key_check before the commit.",
    ]
    body = "\n\n".join(steps.statements)
    return "\n".join(header) + f"\n\n{body}\n\nPRAGMA user_version = {number};\n"


def _agreement(root: Path) -> Agreement:
    """Return the manifest's agreement table, which must name a migrations folder."""
    manifest = load_manifest(root)
    if manifest is None:  # no pyproject.toml, or no table in it: as sync says it
        msg = f"{root}: no [tool.tac-bootstrap.sync] manifest in pyproject.toml"
        raise InvalidInputError(msg)
    agreement = manifest.agreement
    if agreement is None or agreement.migrations is None:
        msg = (
            f'{root / "pyproject.toml"}: no migrations = "<folder>" in '
            "[tool.tac-bootstrap.sync.agreement]: say where the migrations live"
        )
        raise InvalidInputError(msg)
    return agreement


def _load_schema(root: Path, rel: str) -> introspect.Schema:
    """Load the schema file as ``sync-check`` does: the schema's loader, DDL and settings only.

    Raises:
        InvalidInputError: The schema cannot be read or does not load.
        UnsafeSchemaError: The schema holds what a schema never needs (rows, a query, ATTACH).
    """
    try:
        text = read_text(root, rel)  # confined, strictly UTF-8
        conn = sqlcheck.load_untrusted_schema(text, rel)  # a BOM, the size limits: refused
    except OSError as exc:
        msg = f"cannot read the schema {rel}: {exc.strerror or exc}"
        raise InvalidInputError(msg) from exc
    except sqlite3.Error as exc:
        msg = f"the schema {rel} does not run: {exc}"
        raise InvalidInputError(msg) from exc
    try:
        return introspect.introspect(conn)
    finally:
        conn.close()


def _build(root: Path, migrations: list[chain.Migration]) -> sqlite3.Connection:
    """Run the chain on an empty sandbox database; refuse a chain that does not run."""
    conn, problems = chain.build(root, migrations)
    if problems:
        conn.close()
        msg = f"fix the migrations first: {problems[0].path}: {problems[0].message}"
        raise InvalidInputError(msg)
    return conn


def _plan(
    root: Path,
    migrations: list[chain.Migration],
    target: introspect.Schema,
    renames: list[Rename],
    *,
    allow_lossy: bool,
) -> Plan:
    """Plan the statements from the chain's database to the schema's."""
    conn = _build(root, migrations)
    try:
        return plan(conn, target, renames, allow_lossy=allow_lossy)
    finally:
        conn.close()


def _verify(
    root: Path, migrations: list[chain.Migration], sql: str, target: introspect.Schema
) -> None:
    """Run the new migration after the chain; it must build exactly the schema."""
    conn = _build(root, migrations)
    try:
        introspect.run_script(conn, sql)
        left = introspect.differences(introspect.introspect(conn), target)
    except introspect.SchemaLoadError as exc:
        left = []
        error = str(exc)
    else:
        error = "; ".join(d.message("the migration", "the schema") for d in left)
    finally:
        conn.close()
    if error:
        msg = f"cannot write this change as a migration: {error}"
        raise MigrationRefusedError(msg)


def _version_edits(
    root: Path, agreement: Agreement, number: int
) -> tuple[dict[str, str], dict[str, str]]:
    """Return the schema and database module with their version set to ``number``.

    And the text of each as it was read.
    """
    edits, read = {}, {}
    for rel, pattern, what in (
        (agreement.schema, _USER_VERSION, "PRAGMA user_version = N"),
        (agreement.database, _SCHEMA_VERSION, "SCHEMA_VERSION = N"),
    ):
        if rel is None:
            continue
        text = read[rel] = read_text(root, rel)
        if pattern is _SCHEMA_VERSION:
            try:
                _, version = chain.read_schema_version(text)
            except SyntaxError as exc:
                msg = f"{rel}:{exc.lineno}: not valid Python: {exc.msg}"
                raise InvalidInputError(msg) from None
            if isinstance(version, str):
                msg = f"{rel}: {version}"
                raise InvalidInputError(msg)
        matches = list(pattern.finditer(text))
        if len(matches) != 1:
            msg = f"{rel}: expected one `{what}` line to set to {number}, found {len(matches)}"
            raise InvalidInputError(msg)
        match = matches[0]
        if int(match[2]) != number:
            edits[rel] = text[: match.start(2)] + str(number) + text[match.end(2) :]
            # The line found may sit in a comment or a string, or hold a number read in part
            # (0x3): the edited file must set the new number, as the check reads it.
            if _version_of(edits[rel], pattern) != number:
                line = text.count("\n", 0, match.start()) + 1
                msg = f"{rel}:{line}: this `{what}` line is not the one that sets the version"
                msg += f": write it as `{what}`"
                raise InvalidInputError(msg)
    return edits, read


def _version_of(text: str, pattern: re.Pattern[str]) -> int | str | None:
    """Return the version an edited schema or database module sets, as the check reads it."""
    if pattern is _SCHEMA_VERSION:
        return chain.read_schema_version(text)[1]
    try:
        conn = sqlcheck.load_untrusted_schema(text, "the edited schema")
    except (sqlite3.Error, TacBootstrapError):
        return None
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()
