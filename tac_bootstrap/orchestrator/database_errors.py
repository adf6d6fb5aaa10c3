"""Errors of the tac-bootstrap orchestrator database modules, SQLite and PostgreSQL alike.

Both ``database.py`` and ``database_postgres.py`` raise these classes, so one ``except``
serves either backend. Each keeps what it reports as attributes (``table``, ``id``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from .orch_database_models import TableModel


class DatabaseError(Exception):
    """Base of every error the database modules raise on purpose."""


class NotFoundError(DatabaseError, LookupError):
    """No row of that table has that id."""

    def __init__(self, table: str, row_id: object) -> None:
        self.table, self.id = table, row_id
        super().__init__(f"{table}: no row with id {row_id!r}")


class ConstraintViolationError(DatabaseError):
    """The database refused a row: which table, column, kind of constraint, constraint, value."""

    def __init__(
        self, table: str, column: str | None, kind: str, constraint: str, value: object
    ) -> None:
        self.table, self.column, self.kind = table, column, kind
        self.constraint, self.value = constraint, value
        where = f"{table}.{column}" if column else table
        super().__init__(f"{where}: {kind} constraint failed ({constraint}) for value {value!r}")


class SchemaVersionError(DatabaseError):
    """The database's schema is newer than this module knows.

    ``path`` is the SQLite file, or the PostgreSQL DSN without its password.
    """

    def __init__(self, path: str | os.PathLike[str], found: int, known: int) -> None:
        self.path, self.found, self.known = path, found, known
        super().__init__(
            f"{path}: schema version {found} is newer than version {known}, the "
            "newest this database module knows; use a newer release to open it"
        )


class MigrationError(DatabaseError):
    """A migration failed; the database keeps the version and the rows it had before it."""


class InvalidTransitionError(DatabaseError):
    """A status transition was asked of a row whose status does not allow it."""

    def __init__(
        self, table: str, row_id: str, action: str, status: str, allowed: Sequence[str]
    ) -> None:
        self.table, self.id, self.status = table, row_id, status
        super().__init__(
            f"{table} {row_id}: cannot {action} from status {status!r} "
            f"(allowed from: {', '.join(allowed)})"
        )


class InvalidFieldError(DatabaseError, ValueError):
    """A filter or update named a field the model does not have (or may not change)."""

    def __init__(self, model: type[TableModel], names: Iterable[str]) -> None:
        super().__init__(
            f"{model.__name__} has no field(s) {', '.join(sorted(names))} that "
            f"can be used here; fields: {', '.join(model.columns)}"
        )


class InvalidRowError(DatabaseError):
    """A stored row does not load into its model.

    SQLite: a row written around the schema's checks (a value of the wrong storage class).
    PostgreSQL's types and CHECKs hold every row to its model, so reads there do not meet one.
    """

    def __init__(self, table: str, row_id: object, column: str | None, reason: str) -> None:
        self.table, self.id, self.column = table, row_id, column
        super().__init__(f"{table} row {row_id!r}, column {column}: cannot be loaded: {reason}")
