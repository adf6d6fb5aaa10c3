"""Check that the models module, the schema and the database module agree.

The schema is loaded into an in-memory SQLite database and compared, column by column,
with the Pydantic models: field names, NOT NULL, allowed values, bounds, types, JSON and
foreign keys. Each disagreement reads ``table.column: the model says …, the schema says …``.
Every SQL statement of the database module is then prepared against the same schema: its
string literals, and, when it defines a ``statements()`` function (statements built
from the models at import), every statement that function returns, by name. A model's
``__transitions__`` (action -> (source statuses, new status)) may name only statuses its
``status`` field allows.

A model names its table in ``__tablename__``; the module lists its models in ``MODELS``.
A field ``<snake_case model name>_id`` (``agent_id`` for ``Agent``) is a foreign key to that
model's ``id``; ``Field(json_schema_extra={"foreign_key": "table.column"})`` (or None)
overrides the convention.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import decimal
import enum
import functools
import importlib.util
import os
import re
import sqlite3
import sys
import types
import typing
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tac_bootstrap import sqlcheck, sqlfile
from tac_bootstrap.confine import UnreadableError, confine, read_text
from tac_bootstrap.errors import TacBootstrapError
from tac_bootstrap.manifest import Agreement
from tac_bootstrap.report import Problem

if TYPE_CHECKING:
    from tac_bootstrap.isolate import Description

SCHEMA = "the schema"  # how messages name the schema (the SQLite one, where there are two)
_TEXT_TYPES = (str, uuid.UUID, dt.datetime, dt.date, dt.time, dt.timedelta)
_OPS = {"Ge": ("ge", ">="), "Gt": ("gt", ">"), "Le": ("le", "<="), "Lt": ("lt", "<")}
# Past Python's smallest limit on writing an int as text (JSON writes numbers as text): a bound
# of 4,400 digits made the models module's process end with no reason given.
_MAX_DIGITS = sys.int_info.str_digits_check_threshold  # 640
_MAX_NUMBER = 10**_MAX_DIGITS


class ModelsImportError(TacBootstrapError):
    """The models module named by the manifest cannot be imported or lists no models."""


@dataclass(frozen=True)
class FieldFacts:
    """What a model field says about its column."""

    name: str
    shown: str
    affinity: str | None
    nullable: bool
    allowed: tuple[object, ...] | None
    bounds: frozenset[tuple[str, object]]
    json: bool
    foreign_key: str | None


@dataclass(frozen=True)
class ModelFacts:
    """A model class, its table, its fields and its status transitions."""

    name: str
    table: str
    fields: dict[str, FieldFacts] = field(default_factory=dict)
    transitions: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)


@dataclass
class Children:
    """The child processes importing the checked modules, started before the check needs them."""

    models: Description | None = None
    statements: Description | None = None
    postgres_statements: Description | None = None

    def close(self) -> None:
        """Stop the children still running (the check ended early, or was interrupted)."""
        for child in (self.models, self.statements, self.postgres_statements):
            if child is not None:
                child.close()


def start(root: Path, agreement: Agreement) -> Children:
    """Start importing the models module (and the database module, if it builds statements).

    Starting them first lets them import Pydantic and the modules on the other core while
    the check renders templates. A file that is missing, unsafe or not UTF-8 starts nothing:
    :func:`check_agreement` reports it.
    """
    children = Children()
    try:
        models = confine(root, agreement.models)
        if models.is_file():
            children.models = start_models(models, agreement.models)
        if agreement.database and confine(root, agreement.database).is_file():
            children.statements = start_built_statements(root, agreement.database)
        postgres = agreement.postgres_database
        # The PostgreSQL module imports asyncpg: pgcheck checks its statements() only with it.
        if postgres and confine(root, postgres).is_file() and _has_asyncpg():
            children.postgres_statements = start_built_statements(root, postgres)
    except TacBootstrapError:
        pass
    return children


def _has_asyncpg() -> bool:
    return importlib.util.find_spec("asyncpg") is not None


def check_agreement(
    root: Path,
    agreement: Agreement,
    started: Children | None = None,
    shared: sqlcheck.SharedSchema | None = None,
) -> list[Problem]:
    """Compare models with schema and prepare every database-module statement.

    ``started`` holds the modules' imports if :func:`start` began them, else they begin now;
    ``shared`` is the schema loaded for the other checks of the run, if any.

    Raises:
        ModelsImportError: The models module fails to import or declares no models.
        UnsafeSchemaError: The schema tries what a schema never needs (ATTACH, rows, ...).
        OutsideRootError: One of the files resolves outside the root.
        NotUtf8Error: The schema or the database module is not UTF-8.
    """
    paths = agreement.files()
    files = {p: confine(root, p) for p in paths}  # every path is checked before any is read
    missing = [
        Problem("missing", p, None, "named by [tool.tac-bootstrap.sync.agreement] but missing")
        for p in paths
        if not files[p].is_file()
    ]
    if not files[agreement.models].is_file() or not files[agreement.schema].is_file():
        return missing  # without models and schema there is nothing to compare
    schema_text = read_text(root, agreement.schema)
    with contextlib.ExitStack() as stack:
        try:
            conn = stack.enter_context(
                sqlcheck.loaded_schema(schema_text, agreement.schema, shared)
            )
        except sqlite3.Error as exc:
            return [
                Problem(
                    "schema",
                    agreement.schema,
                    sqlcheck.failing_line(schema_text),
                    f"the schema does not load into SQLite: {exc}",
                )
            ]
        children = started or Children()
        _readable(files[agreement.models], agreement.models)
        models = load_models(files[agreement.models], children.models)
        found = compare(models, sqlcheck.tables(conn))
        problems = [
            Problem("agreement", agreement.schema, _line(schema_text, t, c), m) for t, c, m in found
        ]
        if agreement.database and files[agreement.database].is_file():
            problems += check_statements(conn, root, agreement.database)
            problems += check_built_statements(conn, root, agreement.database, children.statements)
        if agreement.postgres_schema:
            from tac_bootstrap import pgcheck  # sqlglot: only for projects with PostgreSQL

            problems += pgcheck.check_postgres(
                root, agreement, models, conn, children.postgres_statements
            )
    return missing + problems


def _readable(path: Path, shown: str) -> None:
    """Refuse a file that cannot be opened, by name, before a child imports it.

    The import in the child said only "fails to import: PermissionError: [Errno 13]
    Permission denied: '/proc/self/fd/5/…'", naming the file by its absolute path.

    Raises:
        UnreadableError: It cannot be opened for reading (no permission).
    """
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))  # a FIFO put in its place: no wait
    except OSError as exc:
        raise UnreadableError(shown, exc) from None


def check_statements(conn: sqlite3.Connection, root: Path, rel: str) -> list[Problem]:
    """Prepare every SQL statement of a Python module against the loaded schema.

    Raises:
        OutsideRootError: The module resolves outside the root.
        NotUtf8Error: The module is not UTF-8.
    """
    from tac_bootstrap import sqlliterals

    source = read_text(root, rel)
    try:
        tree = sqlcheck.parse_python(source)  # once: a module of thousands of lines
    except SyntaxError as exc:
        return [Problem("database", rel, exc.lineno, f"not valid Python: {exc.msg}")]
    found = sqlcheck.statements(tree, sqlliterals.PREPARED_START)
    literals = sqlcheck.statements(tree, sqlliterals.ANY)
    if runs := sqlliterals.code_runs(tree):  # exec("Q = …"): what it binds is never read
        raise sqlfile.UnsafeQueryError(
            rel, [(f"line {line}", sqlliterals.RUNS_CODE) for line in runs], sqlliterals.RULE
        )
    passed = sqlliterals.passed_texts(tree)
    if sqlliterals.reads_back(tree):  # locals(), __doc__, redirect_stdout: no text only shown
        passed = replace(passed, messages=frozenset(), shown=frozenset(), shown_nodes=frozenset())
        documented = sqlliterals.docstring_statements(tree)
        found += [s for s in documented if sqlliterals.PREPARED_START.match(s.sql)]
        literals += documented
    if passed.unreadable:  # conn.execute(chr(115) + "elect 1"): made of constants, unread
        unread = [(f"line {line}", sqlliterals.UNREAD) for line in passed.unreadable]
        raise sqlfile.UnsafeQueryError(rel, unread, sqlliterals.RULE)
    if completed_lines := sqlliterals.completed_unread(tree):  # make_sql() % verb
        unread = [(f"line {line}", sqlliterals.COMPLETED) for line in completed_lines]
        raise sqlfile.UnsafeQueryError(rel, unread, sqlliterals.RULE)
    # A literal only passed to a call that shows text (log.info("SELECT failed for %s")) is a
    # message in any case: held to what it would do, as a lower-case one is.
    logged = [statement for statement in found if statement.sql in passed.shown]
    found = [statement for statement in found if statement.sql not in passed.shown]
    loose = [*logged, *sqlliterals.loose_literals(literals)]  # select load_extension(…)
    changes = sqlliterals.schema_changes(
        tree, literals, passed.executed, passed.shown
    )  # CREATE TEMP TRIGGER …
    if changes:
        raise sqlfile.UnsafeQueryError(rel, changes, sqlliterals.RULE)
    sqlfile.check_statements((statement.sql for statement in [*found, *loose]), rel)
    sqlcheck.check_queries(sqlcheck.by_line(found), rel)  # VACUUM INTO
    # "SELECT %s FROM t" % cols: never run as written; what it makes is read as an f-string.
    completed = sqlliterals.completed_literals(tree)
    written = Counter(statement.sql for statement in found)
    found = [s for s in found if completed.parts.get(s.sql, 0) < written[s.sql]]
    # f"select load_extension('x') -- {y}": held to what it would do, as the literal is.
    fields = [
        *sqlliterals.field_queries(tree),
        *(s for s, _ in completed.made if sqlliterals.is_query(s.sql)),
    ]
    loose_queries = sqlcheck.by_line([*loose, *fields])
    sqlfile.check_queries(loose_queries, rel, sqlliterals.refusal, sqlliterals.RULE)
    attached = sqlliterals.file_commands(
        sqlliterals.folded_texts(tree, passed.shown_nodes), rel
    )  # run or not
    if attached:
        raise sqlfile.UnsafeQueryError(rel, attached, sqlliterals.RULE)
    # verb + " load_extension('x')": never prepared (led by a value), read as tokens; after
    # the checks above, which name what they find more closely.
    if outside := sqlliterals.outside_calls(tree):
        raise sqlfile.UnsafeQueryError(rel, outside, sqlliterals.RULE)
    prepared = sqlcheck.prepare_errors(conn, ((s, s.sql) for s in found), rel)
    refused = sqlliterals.authorizer_errors(conn, loose, rel, passed.executed, passed.messages)
    # What a completed literal makes is held to the schema's authorizer as the literal was
    # (SELECT * FROM pragma_… WHERE %s); its placeholders' names do not count.
    made = [
        statement
        for statement, node in completed.made
        if sqlliterals.is_query(statement.sql) and node not in passed.shown_nodes
    ]
    refused += [
        (statement, error)
        for statement, error in sqlcheck.prepare_errors(conn, ((s, s.sql) for s in made), rel)
        if error.startswith("not authorized")
    ]
    # f"SELECT id FROM nope WHERE {p}" passed: the names its constant parts write are looked
    # up, where no value of the module's own can make them (see sqlliterals.lookup_errors).
    # In upper case as SQL is written, or in any case when passed to execute (f"select … {p}").
    run = {id(value) for _arg, value in sqlliterals.executed_values(tree)}
    run_time = [
        (statement, words)
        for statement, node, words in [
            *sqlliterals.field_texts(tree),
            *((s, node, completed.words[node]) for s, node in completed.made),
        ]
        if (sqlliterals.PREPARED_START.match(statement.sql) and node not in passed.shown_nodes)
        or node in run
    ]
    known = {(statement.line, error) for statement, error in prepared}  # also run as written
    refused += [
        (statement, error)
        for statement, error in sqlliterals.lookup_errors(conn, run_time, rel)
        if (statement.line, error) not in known
    ]
    problems = [
        Problem(
            "database",
            rel,
            statement.line,
            f"statement {statement.short!r} does not prepare against the schema: {error}",
        )
        for statement, error in [*prepared, *refused]
    ]
    return sorted(problems, key=lambda p: p.line or 0)


def start_models(path: Path, shown: str | None = None) -> Description:
    """Start describing the models module at ``path`` (``shown``, if given) in a child process."""
    from tac_bootstrap.isolate import Description

    return Description(path, f"{__name__}:model_facts", what="models module", shown=shown)


def defines_statements(source: str) -> bool:
    """Return whether a database module's source may give it a ``statements``.

    Not only a top-level ``def``: an ``async def``, a class, an assignment (a lambda), an
    import, any of them inside an ``if`` or ``try``; a ``global statements`` in a function;
    the name as a string (``globals()["statements"]``). Each of these passed unchecked, the
    statements the project runs never prepared. A module found to have none after all is
    checked on its literals alone (see :func:`built_statements`).
    """
    try:
        tree = sqlcheck.parse_python(source)
    except SyntaxError:
        return False  # check_statements reports it
    if any(
        (isinstance(node, ast.Global) and _STATEMENTS in node.names)
        or (isinstance(node, ast.Constant) and node.value == _STATEMENTS)
        for node in sqlcheck.walk(tree)
    ):
        return True
    return any(_STATEMENTS in _bound_names(node) for node in _module_scope(tree))


_STATEMENTS = "statements"


def _module_scope(tree: ast.Module) -> Iterator[ast.AST]:
    """Yield every node whose names bind in the module's scope (not a function's, a class's)."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # Its name, decorators, defaults and bases run in the module; its body does not.
            todo += [*node.decorator_list, *getattr(node, "bases", [])]
            args = getattr(node, "args", None)
            if args is not None:
                todo += [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
        elif not isinstance(node, ast.Lambda):
            todo += ast.iter_child_nodes(node)


def _bound_names(node: ast.AST) -> list[str]:
    """Return the names ``node`` binds (or unbinds) where it stands."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        return [node.id]
    if isinstance(node, ast.alias):
        return [node.asname or node.name.partition(".")[0]]
    return []


def start_built_statements(root: Path, rel: str) -> Description | None:
    """Start collecting a database module's ``statements()`` in a child, if it defines one.

    Raises:
        OutsideRootError: The module resolves outside the root.
        NotUtf8Error: The module is not UTF-8.
    """
    from tac_bootstrap.isolate import Description

    if not defines_statements(read_text(root, rel)):
        return None
    path = confine(root, rel)
    return Description(path, f"{__name__}:built_statements", what="database module", shown=rel)


def built_statements(module: types.ModuleType, path: str) -> dict[str, str]:
    """Return what the database module's ``statements()`` returns (in the child process).

    Raises:
        ModelsImportError: ``statements()`` fails.
    """
    try:
        if not hasattr(module, _STATEMENTS):  # a name bound only in a branch not taken
            return {}
        return {str(name): str(sql) for name, sql in dict(module.statements()).items()}
    except BaseException as exc:  # the module's own code: nothing it raises may pass the check
        msg = f"{path}: statements() fails: {type(exc).__name__}: {exc}"
        raise ModelsImportError(msg) from None


def check_built_statements(
    conn: sqlite3.Connection, root: Path, rel: str, started: Description | None = None
) -> list[Problem]:
    """Prepare every statement the database module's ``statements()`` returns, if it has one.

    The module is imported in a child process, as the models module is.

    Raises:
        ModelsImportError: The module defines ``statements()`` but fails to import or to run it.
    """
    from tac_bootstrap.isolate import ModuleImportError

    child = started or start_built_statements(root, rel)
    if child is None:
        return []
    try:
        built = child.result(statements_from_json)
    except ModuleImportError as exc:
        raise ModelsImportError(str(exc)) from None
    sqlfile.check_statements(built.values(), f"{rel} (what its statements() returns)")
    sqlcheck.check_queries(built, f"{rel} (what its statements() returns)")
    shown = f"{rel} (what its statements() returns)"
    return [
        Problem(
            "database",
            rel,
            None,
            f"statement {name} ({sqlcheck.Statement(0, built[name]).short!r}) does not prepare "
            f"against the schema: {error}",
        )
        for name, error in sqlcheck.prepare_errors(conn, built.items(), shown)
    ]


def load_models(path: Path, started: Description | None = None) -> list[ModelFacts]:
    """Import the models module in a child process and describe each model in ``MODELS``.

    The module's code runs in the child (see :mod:`tac_bootstrap.isolate`): nothing it does
    can end or alter this process, so nothing it does can make the check pass.

    Raises:
        ModelsImportError: The module fails to import, exits, prints, declares no models.
    """
    from tac_bootstrap.isolate import ModuleImportError

    try:
        return (started or start_models(path)).result(_models_from_json)
    except ModuleImportError as exc:
        raise ModelsImportError(str(exc)) from None


def _models_from_json(data: list[dict[str, Any]]) -> list[ModelFacts]:
    """What :func:`model_facts` sent from the child, as it was."""
    return [
        ModelFacts(
            _text(model["name"]),
            _text(model["table"]),
            {_text(name): _facts_from_json(facts) for name, facts in model["fields"].items()},
            {
                _text(action): (tuple(map(_text, sources)), _text(target))
                for action, (sources, target) in model["transitions"].items()
            },
        )
        for model in data
    ]


def statements_from_json(data: dict[str, str]) -> dict[str, str]:
    """What :func:`built_statements` sent from the child: names and SQL, text only."""
    return {_text(name): _text(sql) for name, sql in data.items()}


def _text(value: object) -> str:
    """``value`` if it is text; a forged answer's other values are refused."""
    if not isinstance(value, str):
        raise TypeError(type(value).__name__)
    return value


def model_facts(module: types.ModuleType, path: str) -> list[dict[str, Any]]:
    """Describe the models of an imported models module as JSON data (in the child process).

    Raises:
        ModelsImportError: The module declares no models, or a model has no table name.
    """
    models = getattr(module, "MODELS", None)
    if not models:
        msg = f"{path}: the models module has no MODELS tuple listing its model classes"
        raise ModelsImportError(msg)
    return [
        {
            "name": model.name,
            "table": model.table,
            "fields": {
                name: _facts_to_json(facts, f"{path}: model {model.name}, field {name}")
                for name, facts in model.fields.items()
            },
            "transitions": {
                action: [list(sources), target]
                for action, (sources, target) in model.transitions.items()
            },
        }
        # Each model once: a MODELS of the same classes many times over took minutes.
        for model in describe_models(list(dict.fromkeys(models)), Path(path))
    ]


class _Shown:
    """A value that is not JSON (a Decimal bound, an Enum value) as both its repr and str."""

    def __init__(self, shown: dict[str, str]) -> None:
        self.repr, self.str = shown["repr"], shown["str"]

    def __repr__(self) -> str:
        return self.repr

    def __str__(self) -> str:
        return self.str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shown) and (self.repr, self.str) == (other.repr, other.str)

    def __hash__(self) -> int:
        return hash(self.repr)


def _value_to_json(value: object) -> object:
    """Keep a JSON value as it is; describe any other by its repr and str."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    return {"repr": repr(value), "str": str(value)}


def _value_from_json(value: object) -> object:
    """A value :func:`_value_to_json` made; a forged answer's other values are refused."""
    if isinstance(value, dict):
        return _Shown({"repr": _text(value["repr"]), "str": _text(value["str"])})
    if value is None or type(value) in (bool, int, float, str):
        return value
    raise TypeError(type(value).__name__)


def _facts_to_json(facts: FieldFacts, where: str) -> dict[str, Any]:
    for value in [*(facts.allowed or ()), *(value for _, value in facts.bounds)]:
        if isinstance(value, int) and abs(value) >= _MAX_NUMBER:
            msg = (
                f"{where}: a bound or allowed value of more than {_MAX_DIGITS} digits (no "
                "column holds such a number: SQLite's integers have at most 19)"
            )
            raise ModelsImportError(msg)
    return {
        "name": facts.name,
        "shown": facts.shown,
        "affinity": facts.affinity,
        "nullable": facts.nullable,
        "allowed": None if facts.allowed is None else [_value_to_json(v) for v in facts.allowed],
        "bounds": sorted([op, _value_to_json(v)] for op, v in facts.bounds),
        "json": facts.json,
        "foreign_key": facts.foreign_key,
    }


def _facts_from_json(data: dict[str, Any]) -> FieldFacts:
    """What :func:`_facts_to_json` made, its types checked (the answer may be forged)."""
    allowed, foreign_key = data["allowed"], data["foreign_key"]
    if not all(isinstance(data[key], bool) for key in ("nullable", "json")):
        raise TypeError(data)
    return FieldFacts(
        name=_text(data["name"]),
        shown=_text(data["shown"]),
        affinity=None if data["affinity"] is None else _text(data["affinity"]),
        nullable=data["nullable"],
        allowed=None if allowed is None else tuple(_value_from_json(v) for v in allowed),
        bounds=frozenset((_text(op), _value_from_json(v)) for op, v in data["bounds"]),
        json=data["json"],
        foreign_key=None if foreign_key is None else _text(foreign_key),
    )


def describe_models(models: list[Any], path: Path) -> list[ModelFacts]:
    """Describe model classes: table name and the facts of each field."""
    by_snake = {_snake(m.__name__): m for m in models}
    described = []
    for model in models:
        table = getattr(model, "__tablename__", None)
        if not isinstance(table, str):
            msg = f"{path}: model {model.__name__} has no __tablename__"
            raise ModelsImportError(msg)
        fields = {name: _field(name, info, by_snake) for name, info in model.model_fields.items()}
        transitions = {
            str(action): (tuple(map(str, sources)), str(target))
            for action, (sources, target) in dict(getattr(model, "__transitions__", {})).items()
        }
        described.append(ModelFacts(model.__name__, table, fields, transitions))
    return described


def _field(name: str, info: Any, by_snake: dict[str, Any]) -> FieldFacts:
    """Describe one Pydantic field."""
    annotation, nullable, metadata = _unwrap(info.annotation)
    metadata = [*info.metadata, *metadata]
    allowed = _allowed(annotation)
    return FieldFacts(
        name=name,
        shown=_show(annotation) + (" | None" if nullable else ""),
        affinity=_affinity(annotation, allowed),
        nullable=nullable,
        allowed=allowed,
        bounds=_bounds(metadata),
        json=_is_json(annotation),
        foreign_key=_foreign_key(name, info, by_snake),
    )


def _bounds(metadata: list[Any]) -> frozenset[tuple[str, object]]:
    """Return the ``Field(ge=…)``-style bounds (annotated_types Ge, Gt, Le, Lt) of a field."""
    found: set[tuple[str, object]] = set()
    for item in metadata:
        nested = getattr(item, "metadata", None)  # a FieldInfo inside a nested Annotated
        if isinstance(nested, list):
            found |= _bounds(nested)
        attr_op = _OPS.get(type(item).__name__)
        if attr_op is not None:
            found.add((attr_op[1], getattr(item, attr_op[0])))
    return frozenset(found)


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """Peel ``Optional``/``Union`` with None and ``Annotated``: (core type, nullable, metadata)."""
    metadata: list[Any] = []
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            metadata.extend(annotation.__metadata__)
            annotation = annotation.__origin__
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return typing.Union[tuple(args)], nullable, metadata  # noqa: UP007
            annotation = args[0]
        else:
            return annotation, nullable or annotation in (Any, object), metadata


def _allowed(annotation: Any) -> tuple[object, ...] | None:
    """Return the values a ``Literal`` or Enum annotation allows, or None."""
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(member.value for member in annotation)
    return None


def _affinity(annotation: Any, allowed: tuple[object, ...] | None) -> str | None:
    """Return the column affinity a Python type maps to (None when any would do)."""
    if allowed is not None:
        kinds = {_affinity(type(v), None) for v in allowed}
        return kinds.pop() if len(kinds) == 1 else None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = {_affinity(a, _allowed(a)) for a in typing.get_args(annotation)}
        return kinds.pop() if len(kinds) == 1 else None
    if _is_json(annotation):
        return "TEXT"
    core = typing.get_origin(annotation) or annotation
    if not isinstance(core, type):
        return None
    table = (
        (bool, "INTEGER"),
        (int, "INTEGER"),
        (float, "REAL"),
        (bytes, "BLOB"),
        (decimal.Decimal, "NUMERIC"),
        (_TEXT_TYPES, "TEXT"),
    )
    return next((kind for base, kind in table if issubclass(core, base)), None)


def _is_json(annotation: Any) -> bool:
    """Return whether a field is stored as JSON text (a dict or list)."""
    core = typing.get_origin(annotation) or annotation
    return isinstance(core, type) and issubclass(core, dict | list)


def _foreign_key(name: str, info: Any, by_snake: dict[str, Any]) -> str | None:
    """Return ``table.column`` the field refers to, by declaration or by naming convention."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and "foreign_key" in extra:
        declared = extra["foreign_key"]
        return str(declared) if declared else None
    target = by_snake.get(name.removesuffix("_id")) if name.endswith("_id") else None
    if target is None or "id" not in target.model_fields:
        return None
    return f"{getattr(target, '__tablename__', '?')}.id"


def _snake(name: str) -> str:
    """Return ``OrchestratorAgent`` as ``orchestrator_agent``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _show(annotation: Any) -> str:
    """Return a short readable form of an annotation."""
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    shown = text or str(annotation)
    return re.sub(r"\b(?:typing|datetime|uuid|decimal)\.", "", shown).replace("NoneType", "None")


def compare(
    models: list[ModelFacts], schema: dict[str, sqlcheck.Table], side: str = SCHEMA
) -> list[tuple[str, str | None, str]]:
    """Return every disagreement as ``(table, column or None, message)``.

    ``side`` names the schema in messages (``the schema``, ``the PostgreSQL schema``).
    """
    found: list[tuple[str, str | None, str]] = []
    for model in models:
        table = schema.get(model.table)
        if table is None:
            found.append(
                (
                    model.table,
                    None,
                    f"{model.table}: the model {model.name} says "
                    f"this table exists, {side} says no such table",
                )
            )
            continue
        found += _compare_table(model, table, side)
        if side == SCHEMA:  # the models' own rule: checked once, with the first schema
            found += _check_transitions(model)
    modelled = {m.table for m in models}
    found += [
        (name, None, f"{name}: the model says no model has this table, {side} says it exists")
        for name in schema
        if name not in modelled
    ]
    return found


def _check_transitions(model: ModelFacts) -> list[tuple[str, str | None, str]]:
    """Return each status a transition names that the model's ``status`` field does not allow."""
    status = model.fields.get("status")
    allowed = status.allowed if status else ()
    found: list[tuple[str, str | None, str]] = []
    for action, (sources, target) in model.transitions.items():
        for value in (*sources, target):
            if value not in (allowed or ()):
                found.append(
                    (
                        model.table,
                        "status",
                        f"{model.table}.status: the transition {action} of {model.name} says "
                        f"{value!r}, the model says {_allowed_text(allowed)}",
                    )
                )
    return found


def _compare_table(
    model: ModelFacts, table: sqlcheck.Table, side: str
) -> list[tuple[str, str | None, str]]:
    """Compare one model with its table, column by column."""
    found: list[tuple[str, str | None, str]] = []
    for name, facts in model.fields.items():
        column = table.columns.get(name)
        if column is None:
            says = f"field {name}: {facts.shown}"
            found.append(
                (
                    table.name,
                    name,
                    f"{table.name}.{name}: the model says {says}, {side} says no such column",
                )
            )
            continue
        found += [
            (table.name, name, f"{table.name}.{name}: {m}")
            for m in _compare_column(facts, column, table, side)
        ]
    found += [
        (
            table.name,
            name,
            f"{table.name}.{name}: the model says no such field, "
            f"{side} says column {name} {column.declared}".rstrip(),
        )
        for name, column in table.columns.items()
        if name not in model.fields
    ]
    return found


def _compare_column(
    facts: FieldFacts, column: sqlcheck.Column, table: sqlcheck.Table, side: str
) -> list[str]:
    """Return what a field and its column disagree on, each as ``the model says …, …``."""
    checks = table.checks.get(column.name, sqlcheck.ColumnChecks())
    fk = table.foreign_keys.get(column.name)
    type_agrees = facts.affinity in (None, column.affinity)
    pairs = [
        (_nullability(not facts.nullable), _nullability(column.notnull)),
        ("", "")
        if type_agrees
        else (
            f"{facts.shown} (stored as {facts.affinity})",
            f"{column.declared or 'no type'} (affinity {column.affinity})",
        ),
        (_allowed_text(_model_allowed(facts, checks)), _allowed_text(checks.allowed)),
        (_bounds_text(facts.bounds), _bounds_text(frozenset(checks.bounds))),
        (_json_text(facts.json), _json_text(checks.json)),
        (_fk_text(facts.foreign_key), _fk_text(f"{fk.table}.{fk.to}" if fk else None)),
    ]
    return [
        f"the model says {model}, {side} says {schema}"
        for model, schema in pairs
        if model != schema
    ]


def _nullability(notnull: bool) -> str:
    """Describe nullability the same way for both sides."""
    return "NOT NULL" if notnull else "NULL allowed"


def _model_allowed(facts: FieldFacts, checks: sqlcheck.ColumnChecks) -> tuple[object, ...] | None:
    """Return the field's allowed values; a bool column may say ``IN (0, 1)`` or nothing."""
    if facts.shown == "bool" and checks.allowed is not None and set(checks.allowed) == {0, 1}:
        return checks.allowed
    return facts.allowed


def _allowed_text(values: tuple[object, ...] | None) -> str:
    """Describe an allowed-values set, order-insensitively."""
    if values is None:
        return "any value"
    return "one of " + ", ".join(sorted(repr(v) for v in values))


def _bounds_text(bounds: frozenset[tuple[str, object]]) -> str:
    """Describe a set of bounds, order-insensitively and with 0 equal to 0.0."""
    if not bounds:
        return "no bound"
    return " and ".join(sorted(f"{op} {_number(v)}" for op, v in bounds))


def _number(value: object) -> str:
    """Show 0 and 0.0 the same way."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def _json_text(json: bool) -> str:
    """Describe whether a column holds validated JSON."""
    return "JSON text (json_valid)" if json else "not JSON"


def _fk_text(target: str | None) -> str:
    """Describe a foreign key target."""
    if target is None:
        return "no foreign key"
    table, _, column = target.partition(".")
    return f"REFERENCES {table}({column})"


def _line(schema: str, table: str, column: str | None) -> int | None:
    """Return the schema line that defines a table's column (or the table), if found."""
    return _SchemaLines.of(schema).line(table, column)


_TABLE_START = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\"((?:[^\"]|\"\")*)\"|`([^`]*)`|\[([^\]]*)\]|(\w+))",
    re.IGNORECASE,
)
_COLUMN_START = re.compile(r"(?:^|[(,])\s*[\"`\[]?(\w+)")


class _SchemaLines:
    """Where a schema defines its tables and their columns, found in one pass of its lines.

    A search per problem read the schema from its first line each time: 5,000 tables that no
    model has took two minutes, and the time grew with the square of the tables.
    """

    def __init__(self, schema: str) -> None:
        self.lines = schema.splitlines()
        self.tables: dict[str, int] = {}
        for at, text in enumerate(self.lines):
            for match in _TABLE_START.finditer(text):
                name = next(group for group in match.groups() if group is not None)
                self.tables.setdefault(name.lower(), at)
        self.columns: dict[int, dict[str, int]] = {}

    @classmethod
    @functools.lru_cache(maxsize=4)
    def of(cls, schema: str) -> _SchemaLines:
        """Return the lines of a schema, read once for all its problems."""
        return cls(schema)

    def line(self, table: str, column: str | None) -> int | None:
        """Return the line of a table's column (the table's own when not found), or None."""
        start = self.tables.get(table.lower())
        if start is None:
            return None
        if column is not None:
            if start not in self.columns:
                self.columns[start] = self._columns(start)
            if column in self.columns[start]:
                return self.columns[start][column]
        return start + 1

    def _columns(self, start: int) -> dict[str, int]:
        """Return the line of each name that starts a column of the table at ``start``."""
        found: dict[str, int] = {}
        for at in range(start + 1, len(self.lines)):
            for match in _COLUMN_START.finditer(self.lines[at]):
                found.setdefault(match[1], at + 1)
            if self.lines[at].strip().startswith(")"):
                break
        return found
