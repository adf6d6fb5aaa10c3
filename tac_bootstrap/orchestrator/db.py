"""The orchestrator database from the command line (standard library argparse).

Usage: ``python -m tac_bootstrap.orchestrator.db [--path FILE] COMMAND`` (or ``tac-bootstrap-db``)::

    init                          create the database file with the schema
    info                          path, schema version, journal mode, tables and row counts
    migrate [--dry-run] [--no-backup]
                                  apply the pending migrations (after a backup copy)
    check                         integrity, foreign keys, and every row loads into its model

The file is ``--path``, else ``$TAC_BOOTSTRAP_ORCHESTRATOR_DB``, else ``orchestrator.db``. Exit
codes: 0 ok, 1 ``check`` found problems, 2 bad input (one ``error:`` line on stderr).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

from pydantic import ValidationError

from .database import DB_ENV_VAR, SCHEMA_VERSION, resolve_path
from .database_errors import DatabaseError, SchemaVersionError
from .database_migrate import migrations, upgrade
from .orch_database_models import MODELS


class UsageError(Exception):
    """Bad input: the command cannot run on this file."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    args = _parser().parse_args(argv)
    path = resolve_path(args.path)
    command: Callable[[Path, argparse.Namespace], tuple[list[str], int]] = args.run
    try:
        lines, code = command(path, args)
    except (UsageError, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return code


def _parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.db",
        description="Create, inspect, migrate and check the orchestrator database.",
    )
    parser.add_argument(
        "--path", help=f"the database file (default: ${DB_ENV_VAR}, else orchestrator.db)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for run, text in (
        (init, "create the database file with the schema"),
        (info, "show the schema version, journal mode and row counts"),
        (migrate, "apply the pending migrations"),
        (check, "check integrity, foreign keys and that every row loads"),
    ):
        command = commands.add_parser(run.__name__, help=text)
        command.set_defaults(run=run)
        if run is migrate:
            command.add_argument("--dry-run", action="store_true", help="only list them")
            command.add_argument("--no-backup", action="store_true", help="skip the backup copy")
    return parser


def init(path: Path, _: argparse.Namespace) -> tuple[list[str], int]:
    """Create the database file with the schema (a current file is left as it is)."""
    if path.is_file() and path.stat().st_size:
        version = _version(path)
        if version == SCHEMA_VERSION:
            return [f"{path}: already at schema version {version}"], 0
        if version:
            msg = f"{path}: already a database (schema version {version}); use migrate"
            raise UsageError(msg)
    upgrade(path, SCHEMA_VERSION)
    return [f"{path}: created with schema version {SCHEMA_VERSION}"], 0


def info(path: Path, _: argparse.Namespace) -> tuple[list[str], int]:
    """Describe the file: path, schema version, journal mode, tables with row counts."""
    version = _version(path)
    with closing(sqlite3.connect(path)) as conn:
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        count = "SELECT count(*) FROM {}"
        counts = {n: conn.execute(count.format(_quoted(n))).fetchone()[0] for n in names}
    lines = [
        f"path: {path.resolve()}",
        f"schema version: {version} (this module: {SCHEMA_VERSION})",
        f"journal mode: {journal}",
        "tables:" if names else "tables: none",
    ]
    width = max(map(len, names), default=0)
    return lines + [f"  {name:<{width}}  {counts[name]:>9,}" for name in names], 0


def migrate(path: Path, args: argparse.Namespace) -> tuple[list[str], int]:
    """Apply the pending migrations, or with ``--dry-run`` list them."""
    version = _version(path)
    if version == 0:
        msg = f"{path}: holds no orchestrator schema (version 0); use init"
        raise UsageError(msg)
    if version == SCHEMA_VERSION:
        return [f"{path}: up to date at schema version {version}"], 0
    pending = [script.name for number, script in migrations().items() if number > version]
    if args.dry_run:
        return [f"{path}: at schema version {version}, would apply:", *_indented(pending)], 0
    backups = f"{path.name}.v{version}*.bak"
    before = set(path.parent.glob(backups))
    upgrade(path, SCHEMA_VERSION, backup=not args.no_backup)
    made = sorted(set(path.parent.glob(backups)) - before)
    lines = [f"{path}: migrated from schema version {version} to {SCHEMA_VERSION}, applied:"]
    return lines + _indented(pending) + [f"backup: {backup}" for backup in made], 0


def check(path: Path, _: argparse.Namespace) -> tuple[list[str], int]:
    """Check integrity, foreign keys and that every row loads into its model."""
    version = _version(path)
    if version != SCHEMA_VERSION:
        return [f"{path}: schema version {version}, not {SCHEMA_VERSION}: run migrate first"], 1
    problems, rows = [], 0
    with closing(sqlite3.connect(path)) as conn:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            problems += [f"integrity: {line}" for line in integrity]
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
            problems.append(f"foreign key: {table} row {rowid} refers to a missing {parent} row")
        for model in MODELS:
            sql = f"SELECT {', '.join(model.columns)} FROM {model.__tablename__}"  # noqa: S608
            for row in conn.execute(sql):
                rows += 1
                try:
                    model.validate_row(row)
                except ValidationError as exc:
                    error = exc.errors()[0]
                    column = ".".join(map(str, error["loc"]))
                    problems.append(f"{model.__tablename__} {row[0]}: {column}: {error['msg']}")
    if problems:
        return [f"{path}: {len(problems)} problem(s)", *problems], 1
    return [f"{path}: ok (integrity, foreign keys, {rows:,} rows load into their models)"], 0


def _version(path: Path) -> int:
    """Return the schema version of an existing SQLite file.

    Raises:
        UsageError: There is no such file, or it is not a SQLite database.
        SchemaVersionError: The file is newer than this module.
    """
    if not path.is_file():
        msg = f"{path}: no such database file"
        raise UsageError(msg)
    try:
        with closing(sqlite3.connect(path)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        msg = f"{path}: not a SQLite database ({exc})"
        raise UsageError(msg) from None
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(path, version, SCHEMA_VERSION)
    return version


def _indented(lines: list[str]) -> list[str]:
    """Indent lines by two spaces."""
    return [f"  {line}" for line in lines]


def _quoted(name: str) -> str:
    """Return a table name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


if __name__ == "__main__":
    sys.exit(main())
