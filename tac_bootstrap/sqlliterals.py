"""Which string literals of an SQLite database module are statements, and which may be.

Any of its strings (a constant, an f-string, a ``+`` of them) that SQLite parses as an
``ATTACH`` or a ``VACUUM INTO`` is refused, whether the module passes it to ``execute`` or
not (:func:`file_commands`): following where a string goes missed ``run = conn.execute``.

A literal that starts, past spaces and SQL comments, with an upper-case SELECT, INSERT,
UPDATE, DELETE, WITH, REPLACE or VALUES is a statement: it is prepared against the schema and
held to the query rule. SQLite runs the same statement in lower case, or after a comment, as well:
``"select load_extension('x')"`` passed unchecked. Such a literal may also be a message
(``"select a file"``, ``"update failed (%s)"``), so one that only *may* be a statement is
held to what it would do (the query rule, the functions that reach outside the database, the
schema's authorizer), never to the names it would find: ``a`` is no column of the schema, and
a message is no problem for naming it.
"""

from __future__ import annotations

import ast
import itertools
import re
import sqlite3
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tac_bootstrap import computed, sqlcheck, sqlfile

_COMMENTS = r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|$))*"
# Prepared against the schema and held to the query rule: upper case, after spaces and
# comments (a message starts with neither a comment nor a statement word in capitals).
# ``VALUES (load_extension('x'))`` was held to the rule but not prepared: it passed.
PREPARED_START = re.compile(
    _COMMENTS + r"(?:SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|VALUES)\s", re.S
)
ANY = re.compile("")  # every literal
# The first words SQLite starts a statement with (https://sqlite.org/lang.html).
COMMANDS = frozenset(
    {
        "ALTER",
        "ANALYZE",
        "ATTACH",
        "BEGIN",
        "COMMIT",
        "CREATE",
        "DELETE",
        "DETACH",
        "DROP",
        "END",
        "EXPLAIN",
        "INSERT",
        "PRAGMA",
        "REINDEX",
        "RELEASE",
        "REPLACE",
        "ROLLBACK",
        "SAVEPOINT",
        "SELECT",
        "UPDATE",
        "VACUUM",
        "VALUES",
        "WITH",
    }
)
RULE = (
    "SQLite database module runs what it never needs (only SELECT, INSERT, UPDATE, DELETE, "
    "REPLACE, WITH and VALUES statements, reaching nothing outside the database)"
)
UNREAD = (
    "the statement passed to execute is made of constants in a way the check does not read "
    "(write it as one literal)"
)
RUNS_CODE = (
    "runs a text as Python code (exec, eval): what it binds or passes to execute is never read "
    "(a database module needs neither)"
)
_CODE_RUNNERS = frozenset({"exec", "eval"})
_QUERIES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES"})


def first_word(piece: str) -> str:
    """Return a statement's first word in upper case, past spaces, comments and ``(``."""
    for match in sqlcheck._TOKEN.finditer(piece):
        kind = match.lastgroup
        if kind == "space" or match.group() == "(":
            continue
        return match.group().upper() if kind == "word" else ""
    return ""


def is_query(text: str) -> bool:
    """Return whether a literal's first statement starts, in any case, as one reading rows."""
    pieces = sqlcheck._split_statements(text)
    return bool(pieces) and first_word(pieces[0]) in _QUERIES


def field_queries(tree: ast.Module) -> list[sqlcheck.Statement]:
    """Return each f-string with a field of the module's own that starts as a query, folded.

    Each such field is a placeholder (``x``): ``f"select load_extension('x') -- {y}"``
    passed to ``execute`` passed, its text never read. What it would do counts, as for a
    literal that may be a statement (:func:`refusal`); the names it finds do not (a field
    may name a column).
    """
    made = sqlcheck.folder(tree)
    names = _constant_names(tree)
    found = [statement for statement, _node, _words in field_texts(tree)]
    for node in _chains(made):  # Q = "select "; Q += x; Q += ", load_extension('x')"
        try:
            if made.text(node) is not None:
                continue  # made of constants: read as the literal it makes
        except computed.Unreadable:
            pass
        text = _fold(node, names, made)
        if text is not None and is_query(text):
            found.append(sqlcheck.Statement(node.lineno, text))
    return found


def field_texts(tree: ast.Module) -> list[tuple[sqlcheck.Statement, int, frozenset[str]]]:
    """Return each f-string of :func:`field_queries`, its node's id, its constant parts' names."""
    made = sqlcheck.folder(tree)
    names = _constant_names(tree)
    found = []
    for node in sqlcheck.nodes_of(tree, ast.JoinedStr):
        if not isinstance(node, ast.JoinedStr) or all(
            isinstance(value, ast.Constant) for value in node.values
        ):
            continue
        try:
            if made.text(node) is not None:
                continue  # made of constants: read as the literal it makes
        except computed.Unreadable:
            pass
        text = _fold(node, names)
        if text is not None and is_query(text):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            words = _words([part for part in parts if isinstance(part, str)])
            found.append((sqlcheck.Statement(node.lineno, text), id(node), words))
    return found


def _words(texts: list[str]) -> frozenset[str]:
    """Return the names (words and quoted names, in lower case) the texts hold."""
    return frozenset(
        token.name.lower()
        for text in texts
        for token in sqlcheck.iter_tokens(text)
        if token.name is not None
    )


@dataclass(frozen=True)
class Completed:
    """The literals a module completes with values of its own at run time, and what they make."""

    parts: dict[str, int]  # each literal's text: how many times it is written so
    made: list[tuple[sqlcheck.Statement, int]]  # each text made (fields placeholders), node id
    words: dict[int, frozenset[str]]  # by node id: the names its literals write (lower case)


def completed_literals(tree: ast.Module) -> Completed:
    """Return the literals completed at run time, and the texts they make, folded.

    ``"SELECT %s FROM t WHERE id = ?" % cols``, ``"…{}…".format(cols)``, ``"… WHERE " + cond``,
    ``" ".join(["… WHERE", cond])``, ``f"{'… ORDER BY '}{key}"``, ``string.Template("…
    ${c}").substitute(c=cols)``, ``q = "… WHERE "`` followed at once by ``q += cond``: the
    literal is never run as written, the text it makes is; that text, with a placeholder
    (``x``) for each value of the module's own and each constant value as it is, is read as
    an f-string is (:func:`field_queries`). Prepared as written, each was a problem (``near
    "%": syntax error``). A text larger than :data:`computed.LIMIT` to make, or a form not
    read here (``"%d" % n`` is read, ``"{0.x}"`` too, as a placeholder), leaves the literal
    as it is.
    """
    made = sqlcheck.folder(tree)
    names = _constant_names(tree)
    inner = {
        id(side)
        for node in sqlcheck.nodes_of(tree, ast.BinOp)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
        for side in (node.left, node.right)
    }
    parts: dict[str, int] = {}
    found: list[tuple[sqlcheck.Statement, int]] = []
    words: dict[int, frozenset[str]] = {}
    by_name: dict[str, list[str]] = {}  # Q % p: the literal Q names, each time it is completed
    for node in sqlcheck.walk(tree):
        if not isinstance(node, ast.expr) or id(node) in inner:
            continue
        pieces = _completed_pieces(node, made)
        if not pieces:
            continue
        constant = _constant_text_of(node, made)  # made of constants: the literal it makes
        text = _fold_completed(node, names, made) if constant is False else None
        if isinstance(constant, str) or text is not None:  # Q % 3 completes Q, as Q % p does
            _note_pieces(pieces, by_name, parts if text is not None else {})
        if text is None:
            continue
        found.append((sqlcheck.Statement(node.lineno, text), id(node)))
        words[id(node)] = _words([piece for piece, _name in pieces])
    for piece, count in _only_completed(tree, by_name, made).items():
        parts[piece] = parts.get(piece, 0) + count
    for bound, statement, node_id, written in _straight_chains(made, names):
        parts[bound] = parts.get(bound, 0) + 1
        found.append((statement, node_id))
        words[node_id] = _words(written)
    return Completed(parts, found, words)


def _note_pieces(
    pieces: list[tuple[str, str | None]], by_name: dict[str, list[str]], parts: dict[str, int]
) -> None:
    """Note the literals a completion completes: under the name that gives one, else counted."""
    for piece, name in pieces:
        if name is not None:
            by_name.setdefault(name, []).append(piece)
        else:
            parts[piece] = parts.get(piece, 0) + 1


def _straight_chains(
    made: computed.Folder, names: dict[str, str | list[ast.expr]]
) -> list[tuple[str, sqlcheck.Statement, int, list[str]]]:
    """Return ``q = "… WHERE "; q += cond``: the literal, the text it makes, the chain's id.

    Never run as written (see :func:`completed_literals`). Last, the texts of its constant
    parts (the literal's and each addition's of constants: ``q += " ORDER BY rank"``).
    """
    found = []
    for name in made.straight:
        value = made.bound_value(name)
        chain = made.chains.get(name)
        if value is None or not chain:
            continue
        bound = _constant_text_of(value, made)
        folded = _fold(chain[0], names, made)
        if (
            isinstance(bound, str)
            and folded is not None
            and _constant_text_of(chain[0], made) is False
        ):
            written = [
                text
                for part in sqlcheck.addends(chain[0])
                if isinstance(text := _constant_text_of(part, made), str)
            ]
            statement = sqlcheck.Statement(chain[0].lineno, folded)
            found.append((bound, statement, id(chain[0]), written))
    return found


def _constant_text_of(node: ast.expr, made: computed.Folder) -> str | bool | None:
    """Return the string ``node`` makes of constants; False if it reads a value; None else."""
    try:
        if not made.only_constants(node):
            return False
        return made.text(node)
    except computed.Unreadable:
        return None


def _only_completed(
    tree: ast.Module, by_name: dict[str, list[str]], made: computed.Folder
) -> Counter[str]:
    """Return the literals names complete wherever the names are read, each time completed.

    A name read elsewhere too (``conn.execute(Q)`` beside ``Q % p``) may run its literal as
    written: that literal is still prepared as written. Names are keyed by their scope
    (:meth:`computed.Folder.key`).
    """
    if not by_name:
        return Counter()
    read = Counter(
        key
        for node in sqlcheck.nodes_of(tree, ast.Name)
        if isinstance(node, ast.Name)
        and isinstance(node.ctx, ast.Load)
        and (key := made.key(node)) in by_name
    )
    return Counter(
        text for name, texts in by_name.items() if read[name] == len(texts) for text in texts
    )


def _completed_pieces(node: ast.expr, made: computed.Folder) -> list[tuple[str, str | None]]:
    """Return the texts of the literals ``node`` completes, each with the name it is read by.

    See :func:`completed_literals`. ``Q % p`` and ``Template(T).substitute(a=p)`` complete the
    literal a name is bound to once (its name given); ``"…" % p`` completes the literal itself.
    """
    texts: list[tuple[str, str | None]] = []
    for part in _written_parts(node):  # f"… %s" % v: an f-string without a field is a literal
        named = made.key(part) if isinstance(part, ast.Name) else None
        if named or isinstance(part, ast.Constant | ast.JoinedStr) or sqlcheck.computes(part):
            text = _constant_text_of(part, made)
            if isinstance(text, str):
                texts.append((text, named))
    return texts


def _written_parts(node: ast.expr) -> list[ast.expr]:
    """Return the parts of a ``%``, format, substitute, join, ``+`` or f-string as written."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return [node.left]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return sqlcheck.addends(node)
    if isinstance(node, ast.JoinedStr):
        return [value.value for value in node.values if isinstance(value, ast.FormattedValue)]
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return []
    method, receiver = node.func.attr, node.func.value
    if method in ("format", "format_map"):
        return [receiver]
    if method in _SUBSTITUTES and isinstance(receiver, ast.Call) and _template_text(receiver):
        return [receiver.args[0]]
    if method == "join" and len(node.args) == 1 and isinstance(node.args[0], ast.List | ast.Tuple):
        return [receiver, *node.args[0].elts]
    return []


_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(.)", re.S)
_DOLLAR = re.compile(r"\$(?:(\$)|([_a-z][_a-z0-9]*)|\{([_a-z][_a-z0-9]*)\}|)", re.I | re.A)


def _fold_completed(
    node: ast.expr, names: dict[str, str | list[ast.expr]], made: computed.Folder
) -> str | None:
    """Return the text ``node`` makes, a placeholder for each value read at run time.

    ``%``, ``str.format``, ``format_map`` and ``Template.substitute`` of a literal: each field
    is the value it takes when that is a constant, else the placeholder. None when the text
    would pass :data:`computed.LIMIT` (sized before it is made) or a value is not read here
    (``**values``, a tuple or dict of constants bound to a name): the literal is then read as
    written.
    """
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _fold_percent(node, names, made)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return _fold(node, names, made)
    method, receiver = node.func.attr, _template_of(node.func.value, made)
    if method in _SUBSTITUTES and isinstance(receiver, ast.Call) and _template_text(receiver):
        receiver = receiver.args[0]
    elif method not in ("format", "format_map"):
        return _fold(node, names, made)
    return _fold_method(node, method, receiver, names, made)


def _template_of(node: ast.expr, made: computed.Folder) -> ast.expr:
    """Return the ``Template(…)`` call a name is bound once to (``T.substitute``), else ``node``."""
    if isinstance(node, ast.Name):
        bound = made.names.get(made.key(node))
        if isinstance(bound, ast.Call) and _template_text(bound):
            return bound
    return node


def _fold_method(
    node: ast.Call,
    method: str,
    receiver: ast.expr,
    names: dict[str, str | list[ast.expr]],
    made: computed.Folder,
) -> str | None:
    """Return ``format``, ``format_map`` or ``substitute`` of a literal folded (see above)."""
    written = _constant_text_of(receiver, made)
    keyed = _keyed(node.keywords, names, made)
    if not isinstance(written, str) or keyed is None:
        return None
    if method == "format":
        values = [_value_text(value, names, made) for value in node.args]
        if None in values:
            return None
        return _formatted_text(written, [v for v in values if v is not None], keyed)
    if len(node.args) > 1 or (method == "format_map" and len(node.args) != 1):
        return None
    if node.args:  # format_map(mapping), substitute(mapping): a dict literal, or unread
        mapping = node.args[0]
        given = (
            _keyed(mapping, names, made)
            if isinstance(mapping, ast.Dict)
            else _mapping(mapping, made)
        )
        if given is None:
            return None
        keyed = {**given, **keyed}
    if method == "format_map":
        return _formatted_text(written, [], keyed)
    return _substitute(written, _DOLLAR, [], keyed, _dollar_field)


def _fold_percent(
    node: ast.BinOp, names: dict[str, str | list[ast.expr]], made: computed.Folder
) -> str | None:
    """Return ``"…" % values`` folded (see :func:`_fold_completed`)."""
    written = _constant_text_of(node.left, made)
    if not isinstance(written, str):
        return None
    right = node.right
    keyed: dict[str, str] | None = {}
    if isinstance(right, ast.Tuple):
        values = [_value_text(value, names, made) for value in right.elts]
    elif isinstance(right, ast.Dict):
        values, keyed = [], _keyed(right, names, made)
    else:
        values = [_value_text(right, names, made)]
    if None in values or keyed is None:
        return None
    return _substitute(
        written, _PERCENT, [v for v in values if v is not None], keyed, _percent_field
    )


def _value_text(
    node: ast.expr, names: dict[str, str | list[ast.expr]], made: computed.Folder
) -> str | None:
    """Return the text a value formatted in makes: a constant's, else the placeholder.

    None for a value of constants that is no string, number, bool or None (a tuple or dict
    bound to a name: ``"… %s, %s" % PAIR``), for ``*values`` and for one not computed here.
    """
    if isinstance(node, ast.Starred):
        return None
    try:
        if not made.only_constants(node):
            return _named(node, names) or _fold(node, names, made) or _FIELD
        value = made.value(node, 0)
    except (computed.NotConstant, computed.Unreadable, ArithmeticError, LookupError):
        return None
    except (TypeError, ValueError, RecursionError):
        return None
    return str(value)[: computed.LIMIT + 1] if computed.size(value) <= computed.LIMIT else None


def _mapping(node: ast.expr, made: computed.Folder) -> dict[str, str] | None:
    """Return a mapping's values by key: {} for the module's own (each field a placeholder).

    None when it is made of constants but is no dict, or is not computed here.
    """
    try:
        if not made.only_constants(node):
            return {}
        value = made.value(node, 0)
    except (computed.NotConstant, computed.Unreadable, ArithmeticError, LookupError):
        return None
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or computed.size(value) > computed.LIMIT:
        return None
    return {str(key): str(item) for key, item in value.items()}


def _keyed(
    node: ast.Dict | list[ast.keyword],
    names: dict[str, str | list[ast.expr]],
    made: computed.Folder,
) -> dict[str, str] | None:
    """Return the values of a dict literal or of keywords by name; None if one is unread."""
    if isinstance(node, ast.Dict):
        pairs = list(zip(node.keys, node.values, strict=True))
    else:
        pairs = [(None if k.arg is None else ast.Constant(k.arg), k.value) for k in node]
    found: dict[str, str] = {}
    for key, value in pairs:
        if key is None:  # **values: a dict of constants read, the module's own a placeholder
            more = _mapping(value, made)
            if more is None:
                return None
            found.update(more)
            continue
        text = _value_text(value, names, made)
        if text is None:
            return None
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found[key.value] = text
    return found


def _percent_field(match: re.Match[str], values: list[str], keyed: dict[str, str]) -> str:
    if match.group(2) == "%":
        return "%"
    if match.group(1) is not None:
        return keyed.get(match.group(1), _FIELD)
    return values.pop(0) if values else _FIELD


def _dollar_field(match: re.Match[str], _values: list[str], keyed: dict[str, str]) -> str:
    if match.group(1):
        return "$"
    name = match.group(2) or match.group(3)
    return keyed.get(name, _FIELD) if name else "$"


def _substitute(
    text: str,
    fields: re.Pattern[str],
    values: list[str],
    keyed: dict[str, str],
    field: Callable[[re.Match[str], list[str], dict[str, str]], str],
) -> str | None:
    """Return ``text`` with each field replaced, or None past :data:`computed.LIMIT`."""
    widest = max(map(len, [*values, *keyed.values(), _FIELD]))
    if len(text) + len(fields.findall(text)) * widest > computed.LIMIT:
        return None
    queue = list(values)
    return fields.sub(lambda match: field(match, queue, keyed), text)


def _formatted_text(text: str, values: list[str], keyed: dict[str, str]) -> str | None:
    """Return ``text.format(…)`` with each field its value or the placeholder (see above)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return None
    widest = max(map(len, [*values, *keyed.values(), _FIELD]))
    if len(text) + len(parsed) * widest > computed.LIMIT:
        return None
    made, auto = [], 0
    for literal, name, _spec, _conversion in parsed:
        made.append(literal)
        if name is None:
            continue
        if name == "":
            name, auto = str(auto), auto + 1
        if name.isdigit():
            index = int(name)
            made.append(values[index] if index < len(values) else _FIELD)
        else:
            made.append(keyed.get(name, _FIELD))
    return "".join(made)


def _chains(made: computed.Folder) -> list[ast.expr]:
    """Return the ``+`` of each name bound once and added to, for each choice of additions.

    ``Q = "vacuum into "`` … ``Q += path``: the additions of the module's own values too, each
    a placeholder when folded (see :meth:`computed.Folder.chain_texts`).
    """
    found = []
    for name in made.chains:
        try:
            found += made.chain_texts(name) or []
        except computed.Unreadable:
            continue
    return found


def loose_literals(literals: list[sqlcheck.Statement]) -> list[sqlcheck.Statement]:
    """Return the literals that may be statements but are not held to the query rule as such."""
    return [s for s in literals if not PREPARED_START.match(s.sql) and is_query(s.sql)]


def refusal(sql: str) -> str | None:
    """Return why a literal that may be a statement is refused, or None.

    A piece that starts with no statement word is no statement (a message); one that starts
    with a statement other than a query is refused, as is a call of a function that reaches
    outside the database (``load_extension(``), whatever table it names.
    """
    if "\x00" in sql or (not sql.isascii() and sqlcheck._SURROGATE.search(sql)):
        return None  # SQLite takes no such text: it cannot run
    for piece in sqlcheck._split_statements(sql):
        word = first_word(piece)
        if word in COMMANDS and word not in _QUERIES:
            return f"{word} statement (a database module's statements read and write rows)"
        tokens = [m.group() for m in sqlcheck._TOKEN.finditer(piece) if m.lastgroup != "space"]
        for name, after in itertools.pairwise(tokens):
            if name.lower() in sqlcheck.FILE_FUNCTIONS and after == "(":
                return f"calls {name.lower()}() (a database module reads and writes rows only)"
        if word in (*_WRITES, "WITH") and _written_table(piece).lower() in _SCHEMA_TABLES:
            return f"writes {_written_table(piece)} (a database module reads and writes rows only)"
        # f"SELECT * FROM sqlite_dbpage WHERE {c}": never prepared, so never authorized.
        for match in sqlcheck._TOKEN.finditer(piece):
            name = match.group()[1:-1] if match.lastgroup == "ident" else match.group()
            if match.lastgroup in ("word", "ident") and name.lower() in sqlcheck.FILE_TABLES:
                return f"names {name.lower()} (a database module reads and writes rows only)"
    return None


# What changes the schema: the schema file and its migrations do, a database module never.
_SCHEMA_CHANGES = frozenset({"CREATE", "DROP", "ALTER"})
# What may follow a statement's first word when it is CREATE, DROP or ALTER (TABLE, INDEX, …).
_SCHEMA_OBJECTS = frozenset(
    {"TABLE", "INDEX", "VIEW", "TRIGGER", "TEMP", "TEMPORARY", "UNIQUE", "VIRTUAL"}
)


# A statement written as a schema change (in upper case, as SQL is written): CREATE [TEMP]
# [UNIQUE] TABLE/INDEX/VIEW/TRIGGER/VIRTUAL TABLE, DROP TABLE/INDEX/VIEW/TRIGGER, ALTER TABLE.
_DDL_PATTERN = (
    r"(?:CREATE\s+(?:(?:TEMP|TEMPORARY)\s+)?(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER|VIRTUAL\s+TABLE)"
    r"|DROP\s+(?:TABLE|INDEX|VIEW|TRIGGER)|ALTER\s+TABLE)\s"
)
_WRITTEN_DDL = re.compile(_DDL_PATTERN)
_ANY_CASE_DDL = re.compile(_DDL_PATTERN, re.I)  # drop table t, Drop Table t: if SQLite parses it

# What may lead a statement: spaces, parentheses, comments (as SQLite reads them).
_LEAD = re.compile(r"(?:\s+|\(|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))*", re.S)


def _ddl_pieces(sql: str) -> list[tuple[str, bool]]:
    """Return each statement of ``sql`` that starts as a schema change, and if in upper case."""
    if not _ANY_CASE_DDL.search(sql):
        return []  # most literals: not split into statements
    found = []
    for piece in sqlcheck._split_statements(sql):
        start = _LEAD.match(piece).end()  # type: ignore[union-attr]
        if _ANY_CASE_DDL.match(piece, start):
            found.append((piece, bool(_WRITTEN_DDL.match(piece, start))))
    return found


def _written_ddl(sql: str) -> str | None:
    """Return why a literal written as a schema change is refused wherever it is, or None.

    ``self.__dict__["q"] = "DROP TABLE t"``, ``ZK[0]`` of a ``__class_getitem__`` returning it,
    ``map(conn.execute, ["DROP TABLE t"])``, a dataclass or namedtuple default, an Enum
    member read as ``E["Q"].value``: each reached ``execute`` in a way not followed, passed.
    A database module never needs such a text (not passed to a call that shows it). In upper
    case; in any other (``drop table t``, ``Drop Table t``) where SQLite parses it
    (``"Drop table rows with the delete command"`` is no statement).
    """
    for piece, upper in _ddl_pieces(sql):
        if upper or _parses(piece):
            return _schema_change(piece)
    return None


def _deny_all(*_: object) -> int:
    """Refuse every action: a statement is parsed, never run."""
    return sqlite3.SQLITE_DENY


def _parses(piece: str) -> bool:
    """Return whether SQLite parses one statement (prepared with every action refused)."""
    if "\x00" in piece or (not piece.isascii() and sqlcheck._SURROGATE.search(piece)):
        return False  # SQLite takes no such text: it cannot run
    conn = sqlite3.connect(":memory:")
    try:
        conn.set_authorizer(_deny_all)
        conn.execute("EXPLAIN " + piece)
    except sqlite3.Error as exc:  # not authorized, no such table: parsed all the same
        return not _unparsed(str(exc))
    except MemoryError:  # SQLite's heap limit, on what it parsed
        return True
    finally:
        conn.close()
    return True


# What reads a function's names, constants or docstrings back at run time: ``locals()``,
# ``vars()``, ``globals()``, a frame's (``sys._getframe()``, ``inspect.currentframe()``, a
# traceback's or generator's ``f_locals``), a code object's ``co_consts`` (or ``dis``), a
# closure's cells, a docstring (``__doc__``), the module's own source (``inspect.getsource``).
_READS_BACK = frozenset(
    {"locals", "vars", "globals", "_getframe", "currentframe", "f_locals", "f_globals"}
    | {"f_code", "co_consts", "__code__", "__closure__", "cell_contents", "getclosurevars"}
    | {"__globals__", "__doc__", "getdoc", "getsource", "getsourcelines", "dis"}
    | {"get_instructions", "Bytecode"}
)


def _reads_back(tree: ast.Module) -> bool:
    """Return whether the module names what reads its own names or constants back.

    ``q = "DROP TABLE t"`` in a function, ``print("DROP TABLE t")``: neither reaches
    ``execute`` as written, so both are let be; ``conn.execute(locals()["q"])`` with
    ``locals()[k]``, ``sys._getframe().f_locals``, ``f.__code__.co_consts[1]`` ran them
    unread. A name, attribute, imported name or string (``getattr(frame, "f_locals")``) of
    :data:`_READS_BACK` anywhere in the module counts.
    """
    return not _READS_BACK.isdisjoint(_module_words(tree))


_WORDS_OF: list[tuple[ast.Module, frozenset[str]]] = []


def _module_words(tree: ast.Module) -> frozenset[str]:
    """Return the names, attributes, imported names and strings a module writes (made once)."""
    return sqlcheck.made_once(_WORDS_OF, tree, _written_words)


def _written_words(tree: ast.Module) -> frozenset[str]:
    """Return the names, attributes, imported names and strings of ``tree``."""
    names = {n.id for n in sqlcheck.nodes_of(tree, ast.Name) if isinstance(n, ast.Name)}
    for node in sqlcheck.nodes_of(tree, ast.Attribute, ast.alias, ast.Constant):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.rpartition(".")[2])
        elif isinstance(node, ast.Constant) and type(node.value) is str:
            names.add(node.value)
    return frozenset(names)


# What catches text shown back: a stream redirected or a buffer (``redirect_stdout``,
# ``StringIO``), a log record's text, warnings recorded, an exception's (``format_exc``).
_CATCHES_SHOWN = frozenset(
    {"redirect_stdout", "redirect_stderr", "StringIO", "BytesIO", "getvalue", "getMessage"}
    | {"Handler", "StreamHandler", "MemoryHandler", "QueueHandler", "BufferingHandler"}
    | {"catch_warnings", "exc_info", "format_exc", "format_exception", "TracebackException"}
    | {"format_exception_only", "last_value", "__traceback__", "tb_frame"}
)
_STANDARD_STREAMS = frozenset({"stdout", "stderr", "__stdout__", "__stderr__"})


def _catches_shown(tree: ast.Module) -> bool:
    """Return whether the module may read back text it shows.

    ``print(q, file=buffer)``, ``sys.stdout = buffer``, ``redirect_stdout``, a log handler,
    ``sys.exc_info()``, an exception caught and run: a message (or a function's name) shown
    reached ``execute``. A ``file=`` or ``stream=`` other than ``sys.stdout``/``sys.stderr``,
    a standard stream rebound, a name of :data:`_CATCHES_SHOWN` (``sys.exception()`` too), or
    an exception caught by name that what ``execute`` is given is made of counts.
    """
    words = _module_words(tree)
    if not _CATCHES_SHOWN.isdisjoint(words) or _runs_a_caught_exception(tree):
        return True
    for node in sqlcheck.nodes_of(tree, ast.keyword):
        if isinstance(node, ast.keyword) and node.arg in ("file", "stream"):
            given = node.value
            word = given.attr if isinstance(given, ast.Attribute) else getattr(given, "id", "")
            if word not in _STANDARD_STREAMS:
                return True
    if "exception" in words or not _STANDARD_STREAMS.isdisjoint(words):
        for node in sqlcheck.nodes_of(tree, ast.Assign, ast.Attribute):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr in _STANDARD_STREAMS for t in node.targets
            ):
                return True
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "exception"
                and getattr(node.value, "id", "") == "sys"
            ):
                return True
    return False


_CAUGHT_RUN: list[tuple[ast.Module, bool]] = []


def _runs_a_caught_exception(tree: ast.Module) -> bool:
    """Return whether what ``execute`` is given is made of an exception caught by name.

    ``except ValueError as exc: conn.execute(exc.args[0])`` (or ``str(exc)``, or a name the
    function binds to what is made of it, ``s = str(exc).split(",")[0]``): the message raised
    ran. Within each function: its names, not another's of the same spelling. Made once for
    the last trees.
    """
    return sqlcheck.made_once(_CAUGHT_RUN, tree, _caught_run)


def _names_in(node: ast.AST) -> set[str]:
    """Return the names read or bound anywhere in ``node``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _caught_run(tree: ast.Module) -> bool:
    """Return what :func:`_runs_a_caught_exception` returns, made here."""
    handlers = sqlcheck.nodes_of(tree, ast.ExceptHandler)
    if not any(isinstance(n, ast.ExceptHandler) and n.name for n in handlers):
        return False
    every = [
        (id(target), target.id, _names_in(value))
        for target, value in _assignments(tree)
        if isinstance(target, ast.Name)
    ]
    run = [(id(arg), _names_in(arg) | _names_in(value)) for arg, value in executed_values(tree)]
    for function in sqlcheck.nodes_of(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        walked = list(ast.walk(function))
        caught = {n.name for n in walked if isinstance(n, ast.ExceptHandler) and n.name}
        if not caught:
            continue
        inside = {id(n) for n in walked}
        assignments = [(name, names) for at, name, names in every if at in inside]
        while True:  # the names bound to what a caught exception makes, and so on
            more = {name for name, names in assignments if name not in caught and names & caught}
            if not more:
                break
            caught |= more
        if any(at in inside and names & caught for at, names in run):
            return True
    return False


def reads_back(tree: ast.Module) -> bool:
    """Return whether a module may read back its names, constants, docstrings or messages.

    Then no text of it is only a message, nor a docstring only documentation:
    ``print("attach 'x.db' as y")`` under ``redirect_stdout``, ``f.__doc__`` of ``\"\"\"SELECT
    load_extension('x')\"\"\"`` reached ``execute`` and passed (see :func:`_reads_back`,
    :func:`_catches_shown`).
    """
    return _reads_back(tree) or _catches_shown(tree)


def docstring_statements(tree: ast.Module) -> list[sqlcheck.Statement]:
    """Return the module's docstrings as statements (each with its line)."""
    return _docstring_statements(tree)


def _docstring_statements(tree: ast.Module) -> list[sqlcheck.Statement]:
    """Return the module's docstrings as statements (each with its line)."""
    found = []
    for node in sqlcheck.nodes_of(tree, ast.Constant):
        if isinstance(node, ast.Constant) and id(node) in sqlcheck._docstrings(tree):
            found.append(sqlcheck.Statement(node.lineno, str(node.value)))
    return found


def _parsed_ddl(sql: str) -> bool:
    """Return whether SQLite parses a piece of ``sql`` written as a schema change.

    ``print("DROP TABLE failed, try again")`` is a message SQLite cannot parse;
    ``raise ValueError("DROP TABLE t")`` read back (``str(exc)``, a stream's text) runs.
    """
    return any(_parses(piece) for piece, _ in _ddl_pieces(sql))


def _local_texts(tree: ast.Module) -> Counter[str]:
    """Count the strings a function binds to a plain name of its own (``q = "…"``, ``q, r = …``).

    Read by that name alone: passed to ``execute`` it is read there (see :func:`passed_texts`),
    passed to ``print`` or a logger's method it is shown. A name the module reads otherwise
    (``raise ValueError(q)``, ``s = q``, a nested function's ``len(q)``) is not counted: its
    text went where the check does not follow.
    """
    parents = {
        id(child): node for node in sqlcheck.walk(tree) for child in ast.iter_child_nodes(node)
    }
    loose = {
        node.id
        for node in sqlcheck.nodes_of(tree, ast.Name)
        if isinstance(node, ast.Name)
        and isinstance(node.ctx, ast.Load)
        and not _read_in_place(node, parents.get(id(node)))
    }
    found: Counter[str] = Counter()
    seen: set[int] = set()
    for function in sqlcheck.nodes_of(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        for node in ast.walk(function):
            if not isinstance(node, ast.Assign) or id(node) in seen:
                continue
            seen.add(id(node))  # a nested function's, walked again from its own
            for target in node.targets:
                value = node.value
                if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                    pairs = list(zip(target.elts, value.elts, strict=False))
                else:
                    pairs = [(target, value)]
                for name, given in pairs:
                    constant = isinstance(given, ast.Constant) and isinstance(given.value, str)
                    if isinstance(name, ast.Name) and constant and name.id not in loose:
                        found[given.value] += 1  # type: ignore[attr-defined]
    return found


def _read_in_place(name: ast.Name, parent: ast.AST | None) -> bool:
    """Return whether ``name`` is the statement passed to ``execute``, or printed or logged."""
    if not isinstance(parent, ast.Call) or name not in parent.args:
        return False
    func = parent.func
    callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if callee in _RUNNERS:
        return parent.args[0] is name
    return callee in _SHOWN_BY


def schema_changes(
    tree: ast.Module,
    literals: list[sqlcheck.Statement],
    executed: frozenset[str],
    shown: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """Return each statement passed to ``execute`` that changes the schema, with its line.

    A literal whose first statement is no query was not read at all:
    ``conn.execute("CREATE TEMP TRIGGER t … BEGIN SELECT load_extension('x'); END")``,
    ``conn.execute("DROP TABLE orchestrator_agents")`` and ``conn.execute("DROP TABLE %s" %
    name)`` passed. A literal passed to ``execute`` (or a name bound to one), and what a ``%``,
    ``format``, ``+``, ``join``, f-string or ``string.Template`` passed to it (or bound, in any
    function, to a name passed to it) starts with, are read; so is a statement whose first
    word is a value of the module's own followed by ``TABLE``, ``INDEX``, ``VIEW`` or
    ``TRIGGER`` (``f"{verb} TABLE t"``): CREATE, DROP or ALTER made at run time. Connection
    settings (``PRAGMA``), transactions, savepoints, ``EXPLAIN`` and the upkeep of its own file
    (``ANALYZE``, which ``PRAGMA optimize`` runs, ``REINDEX``, ``VACUUM`` but ``VACUUM INTO``)
    stay the module's own.
    """
    found = [
        (f"line {statement.line}", why)
        for statement in literals
        if statement.sql in executed and (why := _schema_change(statement.sql))
    ]
    # Written as a schema change anywhere but a message shown that SQLite cannot parse (or a
    # function's own name): never needed. Where the module reads its names, constants or
    # docstrings back, anywhere at all.
    back = _reads_back(tree)
    caught = back or _catches_shown(tree)
    written = [
        (statement, why)
        for statement in [*literals, *(_docstring_statements(tree) if back else [])]
        if (why := _written_ddl(statement.sql))
        and (caught or statement.sql not in shown or _parsed_ddl(statement.sql))
    ]
    if written:  # q, r = "SELECT …", "DROP TABLE t" in a function, r printed: its own name's
        local = Counter[str]() if caught else _local_texts(tree)
        every = Counter(text for _, text in sqlcheck.complete_literals(tree))
        found += [
            (f"line {statement.line}", why)
            for statement, why in written
            if caught or local.get(statement.sql, 0) < every[statement.sql]
        ]
    made = sqlcheck.folder(tree)
    names = _constant_names(tree)
    for arg, value in executed_values(tree):
        text = _leading_text(value, made)
        why = _schema_change(text) if text is not None else None
        why = why or _verb_made_at_run_time(value, names, made)
        if not why and (given := _given_constants(value, made)):  # reduce(add, ["DROP", …])
            why = _schema_change(given)
        if why:
            found.append((f"line {arg.lineno}", why))
    return list(dict.fromkeys(found))  # a literal folded from a + is also read as the +


def _given_constants(value: ast.expr, made: computed.Folder) -> str | None:
    """Return the constants a call the check does not compute is given, joined in order.

    ``functools.reduce(operator.add, ["DROP", " TABLE t"])``, ``"".join(itertools.chain(["ATTACH
    "], […]))``, ``codecs.decode(b"DROP TABLE t", "utf-8")``: another module's function (or the
    module's own) makes the text of its constants, which passed unread. Their strings (and
    bytes that are UTF-8), in the order written, are read as the text they make together: a
    schema change, ``ATTACH`` or ``VACUUM INTO`` so made is refused. None for any other value,
    or a call of no string constant.
    """
    if not isinstance(value, ast.Call) or _getattr_default(value) is not None:
        return None  # getattr(obj, name, d): d is read as a text given (see _alternatives)
    try:
        if made.text(value) is not None:
            return None  # computed here: read as the literal it makes
    except computed.Unreadable:
        return None  # refused as unread
    parts = []
    for node in ast.walk(value):
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            text = node.value
            if isinstance(text, bytes):
                try:
                    text = text.decode()
                except UnicodeDecodeError:
                    continue
            parts.append((node.lineno, node.col_offset, text))
    return "".join(text for *_, text in sorted(parts)) if parts else None


# executed_values and _runner_aliases of the last trees: each was read two to four times a
# module (schema_changes, completed_unread, passed_texts, agreement). No check changes a tree.
_EXECUTED: list[tuple[ast.Module, tuple[tuple[ast.expr, ast.expr], ...]]] = []
_ALIASES: list[tuple[ast.Module, frozenset[str]]] = []


def executed_values(tree: ast.Module) -> tuple[tuple[ast.expr, ast.expr], ...]:
    """Return each argument passed to ``execute`` that may be SQL, with each value it may be.

    The argument itself, or for a name every value the module binds to it, in any function
    (``sql = "DROP TABLE %s" % t`` … ``conn.execute(sql)``), and each text its additions make
    (``sql = ""; sql += verb; sql += " TABLE t"``). Made once for the last trees.
    """
    return sqlcheck.made_once(_EXECUTED, tree, _executed_values)


def _executed_values(tree: ast.Module) -> tuple[tuple[ast.expr, ast.expr], ...]:
    """Return what :func:`executed_values` returns, made here."""
    runners = _RUNNERS | _runner_aliases(tree)
    assigned: dict[str, list[ast.expr]] = {}
    for key, chain in sqlcheck.folder(tree).chains.items():  # q = ""; q += verb; q += " TABLE t"
        assigned.setdefault(computed.plain(key), []).extend(chain or [])
    for target, value in _assignments(tree):
        if isinstance(target, ast.Name):
            assigned.setdefault(target.id, []).append(value)
    for name, value in _iterated(tree):  # for q in ("DROP TABLE %s" % t,): conn.execute(q)
        assigned.setdefault(name, []).append(value)
    return tuple(
        (arg, value)
        for node in sqlcheck.nodes_of(tree, ast.Call)
        if isinstance(node, ast.Call) and _callee(node) in runners
        for arg in _sql_arguments(node)
        for given in _alternatives(arg)
        for bound in (assigned.get(given.id, []) if isinstance(given, ast.Name) else [given])
        for value in _received(_alternatives(bound))
    )


_ALTERNATIVES = 64  # the values a value given as SQL may be, read at most


def _alternatives(node: ast.expr) -> list[ast.expr]:
    """Return what a value given as SQL may be: ``q := v`` is ``v``, ``a if c else b`` either.

    ``getattr(obj, name, d)`` is itself (an attribute, the module's own) or its default ``d``;
    ``a or b`` (``and``) any of its operands.

    ``conn.execute("DROP TABLE t" if p else "SELECT 1")`` and ``conn.execute(q := p + " TABLE
    t")`` passed: the text given was read as the expression around it.
    """
    found: list[ast.expr] = []
    todo = [node]
    while todo and len(found) < _ALTERNATIVES:
        part = todo.pop()
        if isinstance(part, ast.NamedExpr):
            todo.append(part.value)
        elif isinstance(part, ast.IfExp):
            todo += [part.orelse, part.body]
        elif isinstance(part, ast.BoolOp):  # p or "DROP TABLE t": any operand may be given
            todo += reversed(part.values)
        elif _getattr_default(part) is not None:  # getattr(obj, "no_such", "DROP TABLE t")
            found.append(part)
            todo.append(part.args[2])  # type: ignore[attr-defined]
        else:
            found.append(part)
    return found


def _getattr_default(node: ast.expr) -> ast.expr | None:
    """Return the default of ``getattr(obj, name, default)``: what it gives where obj lacks it."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 3:
        return node.args[2] if node.func.id == "getattr" and not node.keywords else None
    return None


def _received(values: list[ast.expr]) -> list[ast.expr]:
    """Return ``values`` and the receiver of each str method among them, as far as it goes.

    ``(verb + " TABLE t").strip()``: the text its receiver makes is the one run, but for its
    spaces or case (a schema change made at run time passed so).
    """
    found = []
    for value in values:
        found.append(value)
        part = value
        while (
            isinstance(part, ast.Call)
            and isinstance(part.func, ast.Attribute)
            and part.func.attr in _TEXT_METHODS - {"replace"}
            and len(found) < _ALTERNATIVES
        ):
            part = part.func.value
            found.append(part)
    return found


_ASSIGNED: list[tuple[ast.Module, list[tuple[ast.expr, ast.expr]]]] = []
_BINDINGS: list[tuple[ast.Module, dict[str, list[ast.expr]]]] = []


def _assignments(tree: ast.Module) -> list[tuple[ast.expr, ast.expr]]:
    """Return ``(target, value)`` of each binding by ``=``, ``:=`` or a tuple unpacked.

    ``q, r = "DROP TABLE t", "SELECT 1"`` binds ``q`` to the first; ``if (q := "…"):`` binds
    ``q`` as ``q = "…"`` does (each passed unread to execute). Made once for the last trees
    (five readings of a module asked for them).
    """
    return sqlcheck.made_once(_ASSIGNED, tree, _assignments_of)


def _assignments_of(tree: ast.Module) -> list[tuple[ast.expr, ast.expr]]:
    """Return what :func:`_assignments` returns, made here."""
    found: list[tuple[ast.expr, ast.expr]] = []
    for node in sqlcheck.nodes_of(tree, ast.Assign, ast.AnnAssign, ast.NamedExpr):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            pairs = [(target, node.value) for target in targets]
        elif isinstance(node, ast.NamedExpr):
            pairs = [(node.target, node.value)]
        else:
            continue
        while pairs:
            target, value = pairs.pop()
            if (
                isinstance(target, ast.Tuple | ast.List)
                and isinstance(value, ast.Tuple | ast.List)
                and len(target.elts) == len(value.elts)
                and not any(isinstance(e, ast.Starred) for e in [*target.elts, *value.elts])
            ):
                pairs += zip(target.elts, value.elts, strict=True)
            else:
                found.append((target, value))
    found += _namespace_writes(tree)
    return found


_NAMESPACES = frozenset({"globals", "vars", "locals"})


def _namespace_writes(tree: ast.Module) -> list[tuple[ast.expr, ast.expr]]:
    """Return ``(name, value)`` of each name bound through a namespace, by a constant name.

    ``globals()["Q"] = "DROP TABLE t"`` (``vars()``, ``locals()`` too) and ``setattr(obj, "Q",
    "DROP TABLE t")`` (of a module, ``sys.modules[__name__]``, or any object: ``obj.Q`` too)
    rebind ``Q`` as ``Q = …`` does: what ``conn.execute(Q)`` then ran passed unread.
    """
    found: list[tuple[ast.expr, ast.expr]] = []
    for node in sqlcheck.nodes_of(tree, ast.Assign, ast.Call):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                key = target.slice if isinstance(target, ast.Subscript) else None
                space = target.value if isinstance(target, ast.Subscript) else None
                if (
                    isinstance(space, ast.Call)
                    and isinstance(space.func, ast.Name)
                    and space.func.id in _NAMESPACES
                    and isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                ):
                    found.append(
                        (ast.copy_location(ast.Name(key.value, ast.Store()), target), node.value)
                    )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            obj, name, value = node.args
            attribute = ast.Attribute(obj, str(name.value), ast.Store())  # type: ignore[attr-defined]
            found += [
                (ast.copy_location(ast.Name(str(name.value), ast.Store()), node), value),  # type: ignore[attr-defined]
                (ast.copy_location(attribute, node), value),
            ]
    return found


COMPLETED = (
    "the statement passed to execute completes at run time a text the check does not read "
    "(a call's return, an attribute, a subscript, a name bound more than once or to no "
    "literal, or another module's value, completed with %, format, format_map or a "
    "Template's substitute): keep the text as a literal, or a name bound once to one, at the call"
)
# The str methods whose receiver a text passed to execute may be made of: (q % p).strip().
_TEXT_METHODS = computed.METHODS - {"format", "format_map", "join", "decode"}
_TEXT_METHODS -= {"substitute", "safe_substitute"}
_BASE_DEPTH = 60  # names bound to names read before a base is taken as unread


def completed_unread(tree: ast.Module) -> list[int]:
    """Return the lines passing ``execute`` a text completed at run time from an unread base.

    ``conn.execute(make_sql() % verb)``, ``self.SQL.format(t)``,
    ``Template(K.T).substitute(d)``: the base's text is the module's own code, so what its
    completion makes is not read (the base may be ``"%s TABLE t"``). The argument itself, the
    values bound to a name passed (see :func:`executed_values`) or to an attribute passed
    (``self.q = K.T % p`` … ``execute(self.q)``), and the parts of a ``+``, a ``join`` or a
    str method's receiver they are made of, are looked at. A plain base passed as it is
    (``conn.execute(self.SQL)``) is no completion: not refused here.
    """
    made = sqlcheck.folder(tree)
    lines: set[int] = set()
    values = executed_values(tree)
    attributes = {arg.attr for arg, _ in values if isinstance(arg, ast.Attribute)}
    for arg, value in values:
        if _completes_unread(value, made):
            lines.add(arg.lineno)
    for node in sqlcheck.nodes_of(tree, ast.Assign, ast.AnnAssign):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(
                isinstance(t, ast.Attribute) and t.attr in attributes for t in targets
            ) and _completes_unread(node.value, made):
                lines.add(node.lineno)
    return sorted(lines)


def outside_calls(tree: ast.Module) -> list[tuple[str, str]]:
    """Return each text passed to ``execute`` whose constants name what reaches outside.

    ``conn.execute(verb + " load_extension('x')")``, ``conn.execute(zt() + " readfile(p)")``,
    ``"%s load_extension('x')" % verb``: a part the check does not read leads a statement, so
    it is never prepared, while its constant parts call :data:`sqlcheck.FILE_FUNCTIONS` (a
    name followed by ``(``) or read ``sqlite_dbpage``. Each constant string of each value
    passed (see :func:`executed_values`), and the text the value makes with a placeholder for
    each part the check does not read (``verb + " load_ext" + "ension('x')"``, ``verb + L``),
    is read as tokens; a database module never needs these names. Such a text naming the
    schema table where a part the check does not read makes what is done with it (see
    :func:`_schema_table_after_a_value`) is refused too.
    """
    found = []
    made = sqlcheck.folder(tree)
    names = _constant_names(tree)
    for arg, value in executed_values(tree):
        if _constant_text_of(value, made) is not False:
            continue  # made of constants (read as the literal it makes), or refused as unread
        text = _fold_completed(value, names, made)
        if text is None:
            text = _parts_text(value, made, 0)
        led = _leading_text(value, made) is None or _STARTS_AT_A_FIELD.search(text)
        if led:  # else prepared as it starts, held to what it does
            texts = [text] + [
                node.value
                for node in ast.walk(value)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            ]
            for name in filter(None, map(_outside_name, texts)):
                found.append((f"line {arg.lineno}", f"names {name} in a text passed to execute"))
        if why := _schema_table_after_a_value(text):
            found.append((f"line {arg.lineno}", why))
        # reduce(add, ["SELECT fts3_tok", "enizer(…)"]), codecs.decode(b"INSERT INTO
        # sqlite_master …"): the text another module's function makes of them, unread.
        if (given := _given_constants(value, made)) is not None:
            if called := _outside_name(given):
                found.append((f"line {arg.lineno}", f"names {called} in a text passed to execute"))
            if why := _schema_table_written(given):
                found.append((f"line {arg.lineno}", why))
    return list(dict.fromkeys(found))


def _parts_text(node: ast.expr, made: computed.Folder, depth: int) -> str:
    """Return the text ``node`` makes as far as it is read: a placeholder for each other part.

    For a value no fold reads (``(verb + " … ").strip()``): the parts of a ``+``, an
    f-string, a ``join`` of a list or tuple and a str method's receiver, in order.
    """
    text = _constant_text_of(node, made)
    if isinstance(text, str):
        return text
    if depth > _BASE_DEPTH:
        return _FIELD
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return "".join(_parts_text(part, made, depth + 1) for part in sqlcheck.addends(node))
    if isinstance(node, ast.JoinedStr):
        return "".join(
            _parts_text(part, made, depth + 1) if isinstance(part, ast.Constant) else _FIELD
            for part in node.values
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, receiver = node.func.attr, node.func.value
        if method == "join" and node.args and isinstance(node.args[0], ast.List | ast.Tuple):
            separator = _constant_text_of(receiver, made)
            return (separator if isinstance(separator, str) else _FIELD).join(
                _parts_text(part, made, depth + 1) for part in node.args[0].elts
            )
        if method in _TEXT_METHODS:  # (verb + " …").strip(): its receiver, as read
            return _parts_text(receiver, made, depth + 1)
    return _FIELD


_TABLE = r"""(?:(?:main|temp)\s*\.\s*)?["`\[]?(sqlite_(?:temp_)?(?:master|schema))\b"""
_SCHEMA_WRITE = re.compile(
    rf"\b(?:(?:INSERT|REPLACE)\s+(?:OR\s+\w+\s+)?INTO|UPDATE\s+(?:OR\s+\w+\s+)?|DELETE\s+FROM)"
    rf"\s*{_TABLE}",
    re.IGNORECASE,
)


def _schema_table_written(text: str) -> str | None:
    """Return why a text another module's function makes writes the schema table, or None.

    Its constants read together (:func:`_given_constants`) as a statement that inserts into,
    replaces into, updates or deletes from the schema table: never prepared, so no authorizer
    stops it. A read (a subquery of ``sqlite_master`` in an ``UPDATE`` of a table too) passes.
    """
    written = _SCHEMA_WRITE.search(text)
    if written is None:
        return None
    return (
        f"writes {written.group(1).lower()} in a text passed to execute (a database module reads "
        "and writes rows; only SQLite writes the schema table)"
    )


def _schema_table_after_a_value(text: str) -> str | None:
    """Return why a text made at run time names the schema table after a value, or None.

    ``zt() + " sqlite_master SET sql = 'x'"``, ``f"{verb} INTO main.sqlite_schema …"``,
    ``"SELECT 1 " + p + " sqlite_master SET …"``: where the statement's verb (its first
    word, or the one after a ``WITH``'s queries) or the word just before the table (past
    ``main.``) is a value the check does not read, the value may make it a write of the
    schema, which is never prepared. A read whose verb and ``FROM`` are constants
    (``f"SELECT name FROM sqlite_master WHERE {p}"``) is read as written.
    """
    for piece in sqlcheck._split_statements(text):
        tokens = list(itertools.islice(sqlcheck.iter_tokens(piece), 100_000))
        verb_unread = _statement_verb(tokens) in (None, _FIELD)
        for at, token in enumerate(tokens):
            name = (token.name or token.text[1:-1]).lower()
            glued = token.kind == "word" and name[:1] == _FIELD and name[1:] in _SCHEMA_TABLES
            if name not in _SCHEMA_TABLES and not glued:
                continue
            before = at - 3 if at >= 2 and tokens[at - 1].text == "." else at - 1
            if verb_unread or glued or (before >= 0 and _is_field(tokens[before])):
                table = name[1:] if glued else name
                return (
                    f"names {table} where a value the check does not read makes what is done "
                    "with it (a database module reads and writes rows; only SQLite writes "
                    "the schema table)"
                )
    return None


def _is_field(token: sqlcheck.Token) -> bool:
    return token.kind == "word" and token.text == _FIELD


def _statement_verb(tokens: list[sqlcheck.Token]) -> str | None:
    """Return a statement's verb (upper case; the placeholder as it is), or None if not found.

    Its first word, or past a ``WITH`` the first query or write word (or placeholder) at
    depth 0 after a ``)``.
    """
    if not tokens:
        return None
    first = tokens[0]
    if _is_field(first):
        return _FIELD
    if first.text.upper() != "WITH":
        return first.text.upper()
    depth, previous = 0, ""
    for token in tokens[1:]:
        if depth == 0 and previous == ")":
            if _is_field(token):
                return _FIELD
            if token.kind == "word" and token.text.upper() in (_QUERIES - {"WITH"}):
                return token.text.upper()
        depth += (token.text == "(") - (token.text == ")")
        previous = token.text
    return None


# Words after which a name followed by ``(`` is a table's, not a call: INSERT INTO edit (a).
_NAMED_BY = frozenset({"INTO", "TABLE", "VIEW", "INDEX", "ON", "REFERENCES", "EXISTS", "."})


def _outside_name(text: str) -> str | None:
    """Return the first file function called (``name(``) or file table read in ``text``."""
    tokens = list(itertools.islice(sqlcheck.iter_tokens(text), 100_000))
    for at, token in enumerate(tokens):
        ahead = tokens[at - 1].text.upper() if at else ""
        after = tokens[at + 1] if at + 1 < len(tokens) else None
        if token.kind not in ("word", "ident"):
            continue
        name = token.text.strip('"`[]').lower() if token.kind == "ident" else token.text.lower()
        if name in sqlcheck.FILE_TABLES:
            return name
        called = after is not None and after.text == "("
        if name in sqlcheck.FILE_FUNCTIONS and called and ahead not in _NAMED_BY:
            return f"{name}()"  # not INSERT INTO edit (a): a table named so
    return None


def _completes_unread(node: ast.expr, made: computed.Folder) -> bool:
    """Return whether ``node``, or a part it is made of, completes an unread base."""
    todo = [node]
    while todo:  # not recursive: a + of thousands of parts
        part = todo.pop()
        if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Add):
            todo += sqlcheck.addends(part)
            continue
        base = _completed_base(part, made)
        if base is not None and not _readable_base(base, made, 0):
            return True
        if isinstance(part, ast.Call) and isinstance(part.func, ast.Attribute):
            method = part.func.attr
            if method in _TEXT_METHODS:  # (make_sql() % verb).strip(): a str, made above
                todo.append(part.func.value)
            elif method == "join" and part.args and isinstance(part.args[0], ast.List | ast.Tuple):
                todo += part.args[0].elts
    return False


def _completed_base(node: ast.expr, made: computed.Folder) -> ast.expr | None:
    """Return the text ``%``, ``format``, ``format_map`` or ``substitute`` completes, or None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return node.left
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    method, receiver = node.func.attr, node.func.value
    if method in ("format", "format_map"):
        if isinstance(receiver, ast.Name) and receiver.id == "str" and node.args:
            return node.args[0]  # str.format(make_sql(), verb)
        return receiver
    if method not in _SUBSTITUTES:
        return None
    receiver = _template_of(receiver, made)  # T = Template(…) … T.substitute(…)
    if (
        isinstance(receiver, ast.Call)
        and receiver.args
        and (_template_text(receiver) or made._is_template(receiver.func))
    ):
        return receiver.args[0]
    return receiver  # an attribute, a call's return: a template the check cannot read


def _readable_base(node: ast.expr, made: computed.Folder, depth: int) -> bool:
    """Return whether the check reads the text ``node`` is: constants, an f-string, or names."""
    if depth > _BASE_DEPTH:
        return False
    if isinstance(node, ast.JoinedStr):
        return True  # read with a placeholder for each field (see field_queries)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return all(_readable_base(part, made, depth + 1) for part in sqlcheck.addends(node))
    if isinstance(node, ast.Name):
        key = made.key(node)
        if key in made.names:
            return _readable_base(made.names[key], made, depth + 1)
        if made.chains.get(key):
            return True  # Q = "…"; Q += "…": each string it makes is read
    return isinstance(_constant_text_of(node, made), str)


def _verb_made_at_run_time(
    node: ast.expr, names: dict[str, str | list[ast.expr]], made: computed.Folder
) -> str | None:
    """Return why a statement whose first word is a field followed by TABLE, … is refused."""
    if not isinstance(node, ast.JoinedStr | ast.BinOp | ast.Call):
        return None
    text = _fold_completed(node, names, made)
    for piece in [] if text is None else sqlcheck._split_statements(text):
        first = list(itertools.islice(sqlcheck.iter_tokens(piece), 2))
        if (
            len(first) == 2
            and first[0].kind == "word"
            and first[0].text == _FIELD
            and first[1].text.upper() in _SCHEMA_OBJECTS
        ):
            return (
                f"statement whose first word is a value of the module's own, followed by "
                f"{first[1].text.upper()} (CREATE, DROP or ALTER made at run time; a database "
                "module reads and writes rows, the schema changes through its migrations)"
            )
    return None


def _schema_change(sql: str) -> str | None:
    """Return why a statement of ``sql`` that creates, drops or alters is refused, or None."""
    for piece in sqlcheck._split_statements(sql):
        word = first_word(piece)
        if word in _SCHEMA_CHANGES:
            return (
                f"{word} statement (a database module reads and writes rows; the schema "
                "changes through its migrations)"
            )
    return None


def _leading_text(node: ast.expr, made: computed.Folder) -> str | None:
    """Return the constant text a statement completed at run time starts with, or None."""
    first: ast.expr | None = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        first = node.left
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        first = sqlcheck.addends(node)[0]
    elif isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0] if isinstance(node.values[0], ast.Constant) else None
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, receiver = node.func.attr, node.func.value
        if method in ("format", "format_map"):
            first = receiver
        elif method in _SUBSTITUTES:
            receiver = _template_of(receiver, made)
            if isinstance(receiver, ast.Call) and _template_text(receiver):
                first = receiver.args[0]
        elif method == "join" and node.args and isinstance(node.args[0], ast.List | ast.Tuple):
            first = node.args[0].elts[0] if node.args[0].elts else None
    if first is None or first is node:
        return None
    text = _constant_text_of(first, made)
    return text if isinstance(text, str) else None


_WRITES = frozenset({"INSERT", "REPLACE", "UPDATE", "DELETE"})
# The schema table, which only PRAGMA writable_schema lets a statement write: "UPDATE
# sqlite_master SET sql = %s" % v was prepared as written (a problem) and passed as an f-string.
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master"})
_SCHEMA_TABLES |= frozenset({"sqlite_temp_schema"})


def _written_table(piece: str) -> str:
    """Return the table an INSERT, REPLACE, UPDATE or DELETE writes (past ``main.``), or "".

    The statement's own verb, outside parentheses: ``WITH x AS (SELECT 1 FROM t) DELETE FROM
    sqlite_master`` named ``t``, the first FROM met.
    """
    depth, previous, tokens = 0, ")", list[sqlcheck.Token]()
    for token in sqlcheck.iter_tokens(piece):
        depth += (token.text == "(") - (token.text == ")")
        if depth or token.text == "(" or token.kind == "other":
            continue
        verb = token.text.upper() if token.kind == "word" and previous == ")" else ""
        previous = token.text
        if verb in ("SELECT", "VALUES") and not tokens:
            return ""  # WITH … SELECT replace(a, b, c) FROM sqlite_master: a query
        if tokens or verb in _WRITES:
            tokens.append(token)
        if len(tokens) == 7:  # UPDATE OR IGNORE main . t SET: enough
            break
    for at, token in enumerate(tokens[:4]):  # INSERT OR REPLACE INTO
        if token.text.upper() in ("INTO", "FROM", "UPDATE") and at + 1 < len(tokens):
            name = at + 1
            if token.text.upper() == "UPDATE" and tokens[name].text.upper() == "OR":
                name += 2
            if name + 2 < len(tokens) and tokens[name + 1].text == ".":
                name += 2
            return (tokens[name].name or "") if name < len(tokens) else ""
    return ""


def authorizer_errors(
    conn: sqlite3.Connection,
    literals: list[sqlcheck.Statement],
    name: str,
    executed: frozenset[str] = frozenset(),
    messages: frozenset[str] = frozenset(),
) -> list[tuple[sqlcheck.Statement, str]]:
    """Return each literal that is refused, or is SQL and does not prepare, with the complaint.

    The schema's authorizer refuses what a literal would do whatever it is. Other errors (no
    such column ``a`` of ``"select a file"``) say nothing of a literal that only may be a
    statement, but they count for one that is SQL (:func:`is_sql`) and not only passed to a
    call that runs no SQL (``messages``, see :func:`passed_texts`: ``log.info("select * from
    the list")`` was a problem), or that the module passes to ``execute`` (``executed``, see
    :func:`passed_texts`): ``"select * from nope"`` passed.

    Raises:
        sqlcheck.PrepareTimeError: As :func:`sqlcheck.prepare_errors`; names ``name``.
    """
    found = sqlcheck.prepare_errors(conn, ((s, s.sql) for s in literals), name)
    return [
        (statement, error)
        for statement, error in found
        if error.startswith("not authorized")
        or (
            not _unparsed(error)
            and (
                statement.sql in executed
                or (is_sql(statement.sql) and statement.sql not in messages)
            )
        )
    ]


# The complaints that name what a statement looks up in the schema.
_LOOKED_UP = ("no such table: ", "no such column: ", "no such function: ")
_VALUE = "NULL"  # a field read as a value: a literal any expression may be
_ALIASES_TRIED = 16  # fields tried as the alias of a result column; more: not looked up


def lookup_errors(
    conn: sqlite3.Connection,
    texts: list[tuple[sqlcheck.Statement, frozenset[str]]],
    name: str,
) -> list[tuple[sqlcheck.Statement, str]]:
    """Return each text made at run time that names what the schema lacks, with the complaint.

    ``texts``: each text with a placeholder (``x``) for each value of the module's own, and the
    names its constant parts write. ``f"SELECT id FROM nope WHERE {p}"`` and ``"… WHERE %s" %
    p`` passed, while the constant ``"SELECT id FROM nope WHERE 1"`` is a problem. A field may
    stand for several values (``VALUES ({p})``), a column list, a join or a name, so only what
    no field can make counts: the text is prepared with each field a value (``NULL``), and a
    table, column or function its constant parts name that SQLite does not find is looked up
    there; where that does not parse, the field as a name (``x``: a table's alias) and as a
    subquery (``(SELECT 1)``: a table) are tried for the tables alone. A column not found
    could be the alias a field gives a result column (``SELECT {cols} … ORDER BY total``):
    it counts only if no field, as ``NULL AS "total"``, makes it found. A name that is part of
    a field (``nope{suffix}``) or a table a field in a ``WITH`` could define is not looked up.

    Raises:
        sqlcheck.PrepareTimeError: As :func:`sqlcheck.prepare_errors`; names ``name``.
    """
    tried: list[tuple[tuple[int, int], str]] = []
    spans: dict[int, list[tuple[int, int]]] = {}
    for at, (statement, _names) in enumerate(texts):
        fields = _placeholders(statement.sql)
        if len(statement.sql) + len(fields) * 10 > sqlfile.MAX_STATEMENT_CHARS:
            continue  # counted before it is made: a text this long is no statement
        spans[at] = fields
        tried.append(((at, 0), _filled(statement.sql, fields, _VALUE)))
        tried.append(((at, 1), statement.sql))
        tried.append(((at, 2), _filled(statement.sql, fields, "(SELECT 1)")))
    errors = dict(sqlcheck.prepare_errors(conn, tried, name))
    found: dict[int, str] = {}
    aliases: list[tuple[tuple[int, int], str]] = []
    for at, fields in spans.items():
        statement, words = texts[at]
        valued = errors.get((at, 0))
        missing = _missing(valued or "", words)
        if valued is None:
            continue  # it prepares with each field a value
        if missing and (not valued.startswith("no such column") or "." in missing):
            found[at] = valued
        elif missing:  # a bare column: a field may be the alias that names it
            aliases += _as_alias(at, statement.sql, fields, missing)
        elif table := _table_missing(statement.sql, fields, words, errors, at):
            found[at] = table
    alias_errors = dict(sqlcheck.prepare_errors(conn, aliases, name))
    for at in dict.fromkeys(key[0] for key, _text in aliases):
        valued = errors[(at, 0)]
        results = [alias_errors.get(key) or "" for key, _text in aliases if key[0] == at]
        if all(error == valued or _unparsed(error) for error in results):
            found[at] = valued
    return [(texts[at][0], error) for at, error in sorted(found.items())]


def _table_missing(
    sql: str,
    fields: list[tuple[int, int]],
    words: frozenset[str],
    errors: dict[tuple[int, int], str],
    at: int,
) -> str | None:
    """Return a table not found with the fields as names, then as tables; a WITH's may name any."""
    defined = bool(fields) and "with" in _words([sql])  # WITH {name} AS (…) SELECT … FROM nope
    named = "" if defined else errors.get((at, 1), "")
    for error in (named, errors.get((at, 2), "")):
        if error.startswith(_LOOKED_UP[0]) and _missing(error, words):
            return error
    return None


def _as_alias(
    at: int, sql: str, fields: list[tuple[int, int]], column: str
) -> list[tuple[tuple[int, int], str]]:
    """Return ``sql`` with each field in turn ``NULL AS "column"`` (the others ``NULL``)."""
    if len(fields) > _ALIASES_TRIED:
        return []
    alias = f'{_VALUE} AS "{column.replace(chr(34), chr(34) * 2)}"'
    return [
        ((at, 3 + index), _filled(sql, fields, _VALUE, field, alias))
        for index, field in enumerate(fields)
    ]


def _placeholders(sql: str) -> list[tuple[int, int]]:
    """Return where each placeholder (the word ``x``) stands in ``sql``."""
    return [
        match.span()
        for match in sqlcheck._TOKEN.finditer(sql)
        if match.lastgroup == "word" and match.group() == _FIELD
    ]


def _filled(
    sql: str,
    fields: list[tuple[int, int]],
    value: str,
    one: tuple[int, int] | None = None,
    other: str = "",
) -> str:
    """Return ``sql`` with each placeholder ``value`` (the one at ``one``: ``other``)."""
    made, last = [], 0
    for span in fields:
        made += [sql[last : span[0]], other if span == one else value]
        last = span[1]
    return "".join([*made, sql[last:]])


def _missing(error: str, words: frozenset[str]) -> str:
    """Return the name SQLite did not find, if the constant parts wrote it whole; else ""."""
    for prefix in _LOOKED_UP:
        if error.startswith(prefix):
            missing = error[len(prefix) :]
            parts = missing.lower().split(".")
            if _FIELD not in parts and all(part in words for part in parts):
                return missing
    return ""


# SQLite's complaints about text it could not parse: a message, not a statement.
_UNPARSED = ("syntax error", "incomplete input", "unrecognized token")
# Tokens no message has but a query often does: a placeholder, ``*``, a comparison.
_SQL_SIGNS = frozenset({"*", "=", "==", "!=", "<>", "<", ">", "<=", ">=", "||"})


def _unparsed(error: str) -> bool:
    """Return whether SQLite's complaint says it could not parse the text."""
    return any(word in error for word in _UNPARSED)


def is_sql(text: str) -> bool:
    """Return whether a literal SQLite parses holds a sign of SQL (``*``, ``?``, ``=``).

    Only for a literal that parses: ``"select a file"`` parses too (``SELECT a AS file``), and
    a message has none of these.
    """
    return any(
        token.kind == "param" or (token.kind == "op" and token.text in _SQL_SIGNS)
        for token in sqlcheck.tokenize(text)
    )


# The methods of sqlite3, aiosqlite and asyncpg connections and cursors that run SQL.
_RUNNERS = frozenset(
    {"execute", "executemany", "executescript", "execute_fetchall", "execute_insert"}
    | {"fetch", "fetchrow", "fetchval"}
)
# What a call that shows text is named (besides an exception class, ``…Error``): ``print``,
# a logger's methods, ``warnings.warn``, ``typer.echo``.
_SHOWN_BY = frozenset(
    {"print", "debug", "info", "warning", "warn", "error", "exception", "critical", "fatal"}
    | {"log", "echo", "secho"}
)
_EXCEPTIONS = ("Error", "Exception", "Warning")
# The standard streams whose ``write`` shows text: ``sys.stderr.write(…)``, ``stdout.write(…)``.
_STREAMS = frozenset({"stderr", "stdout"})


@dataclass(frozen=True)
class Passed:
    """Where a module's string literals go: to a method that runs SQL, or only to other calls."""

    executed: frozenset[str]  # passed to ``execute`` (see :func:`passed_texts`)
    messages: frozenset[str]  # only passed to calls that run no SQL
    shown: frozenset[str]  # only passed to calls that show text (print, log.info, ValueError)
    unreadable: tuple[int, ...] = ()  # lines passing execute a text made of constants, unread
    shown_nodes: frozenset[int] = frozenset()  # ids of the strings passed to such calls only


def passed_texts(tree: ast.Module) -> Passed:
    """Return where the module passes its string literals.

    ``executed``: the literals passed to a method that runs SQL (``execute``), as written or
    by a name or attribute the module binds to a literal anywhere (``Q = "select …"`` …
    ``conn.execute(Q)``, ``self.Q``); first or by keyword (``execute(sql=…)``), to the method
    or a name bound to it (``run = conn.execute``, ``getattr(conn, "execute")``).

    ``messages``: the literals only passed to calls that run no SQL (``log.info("select *
    from the list")``, ``print(…)``, ``ValueError(…)``, ``self._one(…)``), as written or
    formatted (``"…" % x``, ``"…".format(x)``); ``shown``: those of them only passed to a call
    that shows text (:data:`_SHOWN_BY`, an exception, ``sys.stderr.write`` or ``stdout.write``
    of the standard streams as the module imports them). A literal written anywhere else too,
    or passed to ``execute``, is neither.
    """
    runners = _RUNNERS | _runner_aliases(tree)
    made = sqlcheck.folder(tree)
    bindings = _bindings_of(tree)
    unread: set[int] = set()
    own = _own_names(tree)  # def info(q): conn.execute(q) … info("…") runs it: no message
    streams: list[tuple[frozenset[str], frozenset[str]]] = []  # read at the first write(…)
    executed: set[str] = set()
    names: set[str] = set()
    every: dict[str, int] = {}
    passed: dict[str, int] = {}
    shown: dict[str, int] = {}
    shown_nodes: set[int] = set()
    # Each literal as read ("SELECT failed " + "for %s", "…" * 1: one literal, not its parts).
    for _, text in sqlcheck.complete_literals(tree):
        every[text] = every.get(text, 0) + 1
    for node in sqlcheck.nodes_of(tree, ast.Call):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee(node)
        if callee in runners:
            _note_sql(node, executed, names, made, unread, bindings)
            continue
        if _template_text(node):
            continue  # Template("…"): its text is passed on by what takes its substitute(…)
        shows = _shows(node, callee, own, streams, tree)
        for text in (t for arg in _call_arguments(node) for t in _formatted(arg, made)):
            passed[text] = passed.get(text, 0) + 1
            if shows:
                shown[text] = shown.get(text, 0) + 1
        if shows:
            shown_nodes.update(n for arg in _call_arguments(node) for n in _message_nodes(arg))
    run = frozenset(executed | _bound_literals(tree, names, made, unread))

    def only(counted: dict[str, int]) -> frozenset[str]:
        return frozenset(t for t, n in counted.items() if n == every.get(t) and t not in run)

    return Passed(run, only(passed), only(shown), tuple(sorted(unread)), frozenset(shown_nodes))


def _shows(
    node: ast.Call,
    callee: str,
    own: frozenset[str],
    streams: list[tuple[frozenset[str], frozenset[str]]],
    tree: ast.Module,
) -> bool:
    """Return whether a call shows text (:data:`_SHOWN_BY`, an exception, a stream's write).

    ``streams`` holds the module's stream names once read (at the first ``write(…)``).
    """
    if (callee in _SHOWN_BY or callee.endswith(_EXCEPTIONS)) and callee not in own:
        return True
    if callee == "log" and isinstance(node.func, ast.Attribute) and f".{callee}" not in own:
        return True  # log = logging.getLogger(…) … log.log(…): the name is not the method
    if isinstance(node.func, ast.Attribute) and node.func.attr == "write":
        streams[:] = streams or [_stream_writers(tree)]
        return _writes_a_stream(node, streams[0])
    return False


def _stream_writers(tree: ast.Module) -> tuple[frozenset[str], frozenset[str]]:
    """Return the names the module binds only to ``sys`` and only to ``sys.stderr``/``stdout``.

    ``import sys`` (``as s``) and ``from sys import stderr`` (``as err``): a name also bound
    otherwise (assigned, defined, imported from elsewhere) is neither, and a module that
    assigns an attribute ``stderr`` or ``stdout`` (``sys.stderr = db``) has no stream here.
    """
    bound: dict[str, set[str]] = {"sys": set(), "stream": set(), "other": set()}
    for node in sqlcheck.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and not isinstance(node.ctx, ast.Load)
            and node.attr in _STREAMS
        ):
            return frozenset(), frozenset()
        for name, what in _bindings(node):
            bound[what].add(name)
    modules, streams, other = bound["sys"], bound["stream"], bound["other"]
    return frozenset(modules - other - streams), frozenset(streams - other - modules)


def _bindings(node: ast.AST) -> list[tuple[str, str]]:
    """Return ``(name, what)`` of each name a node binds: to ``sys``, a stream, or other."""
    if isinstance(node, ast.Import):
        return [
            (alias.asname or alias.name.split(".")[0], "sys" if alias.name == "sys" else "other")
            for alias in node.names
        ]
    if isinstance(node, ast.ImportFrom):
        streams = node.module == "sys" and not node.level
        return [
            (
                alias.asname or alias.name,
                "stream" if streams and alias.name in _STREAMS else "other",
            )
            for alias in node.names
        ]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [(node.name, "other")]
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return [(node.id, "other")]
    if isinstance(node, ast.arg):
        return [(node.arg, "other")]
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        return [(node.name, "other")]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return [(name, "other") for name in node.names]
    return []


def _writes_a_stream(node: ast.Call, streams: tuple[frozenset[str], frozenset[str]]) -> bool:
    """Return whether a call is ``sys.stderr.write(…)`` or ``stdout.write(…)`` (see above)."""
    modules, names = streams
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "write"):
        return False
    target = func.value
    if isinstance(target, ast.Name):
        return target.id in names
    return (
        isinstance(target, ast.Attribute)
        and target.attr in _STREAMS
        and isinstance(target.value, ast.Name)
        and target.value.id in modules
    )


def _own_names(tree: ast.Module) -> frozenset[str]:
    """Return the names the module defines, binds or imports: what its calls may run.

    A function or class of its own (``def info(q)``, ``class QueryError``), a name or
    attribute it binds (``print = run``, ``self.warn = …``) or one it imports (``from .db
    import echo``) may run SQL: a call of one shows no message. Those it defines as a function,
    class or attribute are also given as ``.name``: what a method call (``log.log(…)``) may
    run, where the name ``log`` bound to a logger is not the method.
    """
    names: set[str] = set()
    for node in sqlcheck.nodes_of(
        tree,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Name,
        ast.Attribute,
        ast.alias,
    ):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.update((node.name, f".{node.name}"))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.update((node.attr, f".{node.attr}"))
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return frozenset(names)


def _note_sql(
    node: ast.Call,
    texts: set[str],
    names: set[str],
    made: computed.Folder,
    unread: set[int],
    bindings: dict[str, list[ast.expr]],
) -> None:
    """Add what a call that runs SQL is given as SQL: a literal, or a name bound to one.

    A text made of constants the check does not compute (``chr(115) + "elect 1"``) is noted
    in ``unread`` by its line.
    """
    for arg in _sql_arguments(node):
        if _noted_unpacked(arg, texts, made, unread):  # execute(*["SELECT …"]), execute(*QA)
            continue
        for given in _alternatives(arg):  # "DROP TABLE t" if p else "SELECT 1", q := "…"
            sql = _plain(given, made)
            if isinstance(sql, ast.Constant) and isinstance(sql.value, str):
                texts.add(sql.value)
            elif isinstance(sql, ast.Name | ast.Attribute):
                names.add(sql.id if isinstance(sql, ast.Name) else sql.attr)
                names.update(_member(sql))  # E.Q.value: what the Enum member Q is bound to
            elif isinstance(sql, ast.Call) and isinstance(sql.func, ast.Name | ast.Attribute):
                # conn.execute(make_sql()), self.make(): what a function of that name returns
                names.add(
                    _RETURNED + (sql.func.id if isinstance(sql.func, ast.Name) else sql.func.attr)
                )
            if isinstance(sql, ast.Subscript) or _item_call(sql):  # ZD["k"], ZD.get("k")
                contained, unreadable = _contained_texts(sql, made, bindings)
                texts.update(contained)
                if unreadable:
                    unread.add(arg.lineno)
            if _unreadable(sql, made):
                unread.add(arg.lineno)


def _noted_unpacked(
    arg: ast.expr, texts: set[str], made: computed.Folder, unread: set[int]
) -> bool:
    """Note the statement a list or tuple of constants unpacked into the call gives; say if so.

    Its first item is the statement (a string: noted in ``texts``); one not computed here is
    noted in ``unread`` by its line. An unpacked value of the module's own is not noted here.
    """
    if not isinstance(arg, ast.Starred) or not made.only_constants(arg.value):
        return False
    first = _first_unpacked(arg.value, made)
    if first is None:
        unread.add(arg.lineno)
    elif isinstance(first, str):
        texts.add(first)
    return True


def _first_unpacked(node: ast.expr, made: computed.Folder) -> object:
    """Return the first item of a list or tuple of constants unpacked (``*``) into a call.

    None when it is no list or tuple, is empty, or is not computed here: unread. (Its other
    items are the statement's values.)
    """
    try:
        value = made.value(node, 0)
    except (computed.NotConstant, computed.Unreadable, ArithmeticError, LookupError):
        return None
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(value, list | tuple) or not value:
        return None
    return value[0]


def _unreadable(node: ast.expr, made: computed.Folder) -> bool:
    """Return whether ``node`` is made of constants alone but not computed here."""
    try:
        made.text(node)
    except computed.Unreadable:
        return True
    return False


def _sql_arguments(node: ast.Call) -> list[ast.expr]:
    """Return the arguments of a call that runs SQL that may be SQL: the first, and keywords.

    ``execute(sql, parameters)``: the others are the statement's values, not SQL. What a
    ``methodcaller`` or ``partial`` gives the method it names (see :func:`_wrapped`).
    """
    wrapped = _wrapped(node)
    if wrapped is not None:
        return wrapped[1]
    return [*node.args[:1], *(keyword.value for keyword in node.keywords)]


def _call_arguments(node: ast.Call) -> list[ast.expr]:
    """Return every argument of a call, positional and by keyword: what a message may be."""
    return [*node.args, *(keyword.value for keyword in node.keywords)]


def _formatted(arg: ast.expr, made: computed.Folder) -> list[str]:
    """Return the string constant an argument is, or is formatted from (``"…" % x``, ``.format``).

    ``print("UPDATE of %s failed" % x)`` passes the message formatted; the constant is written
    only there. One made of constants alone is the string it makes (``"…" % "x"``).
    """
    plain = _plain(arg, made)
    if isinstance(plain, ast.Constant) and isinstance(plain.value, str):
        return [plain.value]
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod):
        arg = arg.left
    elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute):
        method, receiver = arg.func.attr, arg.func.value
        if method == "format":
            arg = receiver
        elif method in _SUBSTITUTES and isinstance(receiver, ast.Call) and _template_text(receiver):
            arg = receiver.args[0]
    arg = _plain(arg, made)
    return [arg.value] if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else []


def _message_nodes(arg: ast.expr) -> list[int]:
    """Return the ids of the strings an argument of a call that shows text is written as.

    As :func:`folded_texts` reads them: the constant, f-string, ``+`` of them or
    ``"sep".join([…])`` the argument is or is formatted from (``"…" % x``, ``"…".format(x)``),
    and the constants and f-strings of which it is made; not a name, a call or an
    assignment expression in it (``print(q := "…")``): what they bind may be run.
    """
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod):
        return [id(arg), *_message_nodes(arg.left)]  # "…" % ("a", "b"): read whole as well
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute):
        return _method_message_nodes(arg, arg.func.attr, arg.func.value)
    if isinstance(arg, ast.Constant):
        return [id(arg)]
    if isinstance(arg, ast.JoinedStr):
        return [id(arg), *(id(v) for v in arg.values if isinstance(v, ast.Constant))]
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add):
        found = [id(arg)]
        for part in sqlcheck.addends(arg):
            if isinstance(part, ast.Constant | ast.JoinedStr):
                found += _message_nodes(part)
        return found
    return []


def _method_message_nodes(arg: ast.Call, method: str, receiver: ast.expr) -> list[int]:
    """Return :func:`_message_nodes` of a method's call: format, join, Template's substitute."""
    if method == "format":
        return [id(arg), *_message_nodes(receiver)]
    if method in _SUBSTITUTES and isinstance(receiver, ast.Call) and _template_text(receiver):
        return [id(arg), *_message_nodes(receiver.args[0])]
    if method == "join" and isinstance(receiver, ast.Constant):
        items = arg.args[0] if len(arg.args) == 1 else None
        elements = items.elts if isinstance(items, ast.List | ast.Tuple) else []
        return [id(arg), *(n for item in elements for n in _message_nodes(item))]
    return []


_SUBSTITUTES = ("substitute", "safe_substitute")


def _template_text(node: ast.Call) -> bool:
    """Return whether ``node`` is ``Template(text)`` or ``string.Template(text)`` of one text.

    The text a string, an f-string or a ``+`` of them, a name, or a form Python computes a
    string with (:func:`sqlcheck.computes`); what it makes is read where it is substituted.
    """
    func = node.func
    named = (isinstance(func, ast.Name) and func.id == "Template") or (
        isinstance(func, ast.Attribute) and func.attr == "Template"
    )
    if not named or len(node.args) != 1 or node.keywords:
        return False
    text = node.args[0]
    if isinstance(text, ast.Name) or sqlcheck.computes(text):
        # Template(T) of a name bound to "SELECT $a, $b …", Template(("…" + "zq")[:-2]): the
        # text a folder makes of constants, read as the literal (a value: not read there).
        return True
    parts = sqlcheck.addends(text) if isinstance(text, ast.BinOp) else [text]
    # Template("Vacuum do" + "ne into $p") is written as Template("Vacuum done into $p") is.
    return all(isinstance(part, ast.Constant | ast.JoinedStr) for part in parts)


def _plain(arg: ast.expr, made: computed.Folder) -> ast.expr:
    """Return the literal an argument is, written as one or computed of constants; else ``arg``.

    An f-string without a field (``f"SELECT 1"``), a ``+`` of string constants (``"SELECT "
    + "1"``), any string Python makes of constants alone (:mod:`tac_bootstrap.computed`); a
    bare name stays a name (see :func:`_bound_literals`).

    :func:`sqlcheck.statements` reads such an f-string or sum as the literal it is: passed to
    ``print`` it is a message, passed to ``execute`` a statement, as the plain literal is.
    """
    if (
        isinstance(arg, ast.JoinedStr)
        and len(arg.values) == 1
        and isinstance(arg.values[0], ast.Constant)
    ):
        return arg.values[0]
    if isinstance(arg, ast.Constant | ast.Name | ast.Attribute):
        return arg
    try:
        text = made.text(arg)
    except computed.Unreadable:
        return arg
    return arg if text is None else ast.Constant(text)


def _bound_literals(
    tree: ast.Module, names: set[str], made: computed.Folder, unread: set[int]
) -> set[str]:
    """Return the string literals the module binds to any of ``names`` (a name, an attribute).

    A text made of constants the check does not compute, bound to one of them, is noted in
    ``unread`` by its line.
    """
    found = set()
    bindings = _bindings_of(tree)
    names = names | _followed(tree, names)
    for target, bound in _assignments(tree):
        if _target_name(target) not in names:
            continue
        for given in _alternatives(bound):
            texts, unreadable = _given_texts(_plain(given, made), made, bindings)
            found.update(texts)
            if unreadable:
                unread.add(target.lineno)
    found |= _iterated_literals(tree, names, made)  # for q in ("DROP TABLE t",): execute(q)
    found |= _matched_literals(tree, names, made, bindings)  # match {…}: case {"q": q}
    found |= _defaulted_literals(tree, names, made)  # def z(conn, q="DROP TABLE t")
    names = names | _generated(tree, names)  # for s in zg(): … yield "DROP TABLE t"
    found |= _returned_literals(tree, names, made)  # def zt(): return "DROP TABLE t"
    for name in made.chains:  # Q = "select " … Q += "…": what it makes (any scope's Q)
        if computed.plain(name) not in names:
            continue
        try:
            made.chain_strings(name)
        except computed.Unreadable:
            unread.add(made.lines[name])
    found.update(
        text for name, _, text in sqlcheck.chain_sums(made) if computed.plain(name) in names
    )
    return found


_MEMBER_VALUES = frozenset({"value", "_value_"})


def _member(node: ast.expr) -> set[str]:
    """Return the member an Enum member's value is read of: ``Q`` of ``E.Q.value``, else none."""
    if not (isinstance(node, ast.Attribute) and node.attr in _MEMBER_VALUES):
        return set()
    inner = node.value
    if isinstance(inner, ast.Attribute):
        return {inner.attr}
    return {inner.id} if isinstance(inner, ast.Name) else set()


def _followed(tree: ast.Module, names: set[str]) -> set[str]:
    """Return what the values bound to ``names`` read in turn, for :func:`_bound_literals`.

    ``s = make()`` … ``conn.execute(s)``: what ``make`` returns; ``q = D()`` … ``self.q``: what a
    descriptor's ``__get__`` returns (any class's); ``s = E.Q.value``: the member ``Q``. Each
    passed unread. Followed two bindings deep.
    """
    found: set[str] = set()
    for _ in range(2):
        for target, bound in _assignments(tree):
            if _target_name(target) not in names | found:
                continue
            for given in _alternatives(bound):
                if isinstance(given, ast.Call) and isinstance(given.func, ast.Name | ast.Attribute):
                    func = given.func
                    name = func.id if isinstance(func, ast.Name) else func.attr
                    found |= {_RETURNED + name, _RETURNED + "__get__"}
                elif isinstance(given, ast.Name | ast.Attribute):
                    found.add(given.id if isinstance(given, ast.Name) else given.attr)
                    found |= _member(given)
    return found


def code_runs(tree: ast.Module) -> list[int]:
    """Return the line of each use of Python's ``exec`` or ``eval`` in a module.

    ``exec("Q = " + repr("DROP TABLE t"))`` rebinds a name passed to execute; ``eval("…")``
    makes a text: neither is read, so the module is refused (:data:`RUNS_CODE`). The builtins
    read by name (where the module binds no such name), as ``builtins.exec`` or
    ``__import__("builtins").eval``, or by their names as text (``getattr(builtins, "exec")``,
    ``vars(builtins)["eval"]``).
    """
    made = sqlcheck.folder(tree)
    lines = set()
    for node in sqlcheck.nodes_of(tree, ast.Name, ast.Attribute, ast.Call, ast.Subscript):
        if isinstance(node, ast.Name):
            if node.id in _CODE_RUNNERS and (made.key(node) not in made.bound or made.star):
                lines.add(node.lineno)
        elif isinstance(node, ast.Attribute):
            base = node.value
            builtin = isinstance(base, ast.Name) and base.id in ("builtins", "__builtins__")
            if node.attr in _CODE_RUNNERS and (builtin or isinstance(base, ast.Call)):
                lines.add(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            getattr_call = isinstance(func, ast.Name) and func.id == "getattr"
            if getattr_call and any(_names_a_runner(a) for a in node.args[1:2]):
                lines.add(node.lineno)
        elif isinstance(node, ast.Subscript) and _names_a_runner(node.slice):
            lines.add(node.lineno)
    return sorted(lines)


def _names_a_runner(node: ast.expr) -> bool:
    """Return whether ``node`` is the text ``"exec"`` or ``"eval"``."""
    return isinstance(node, ast.Constant) and node.value in _CODE_RUNNERS


def _given_texts(
    value: ast.expr, made: computed.Folder, bindings: dict[str, list[ast.expr]]
) -> tuple[list[str], bool]:
    """Return the texts a value bound to a name passed to ``execute`` is, and if one is unread.

    A literal, or each text of the containers a subscript reads (``q = ZD["k"]``, see
    :func:`_contained_texts`).
    """
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value], False
    unreadable = _unreadable(value, made)
    if isinstance(value, ast.Subscript) or _item_call(value):
        texts, unread = _contained_texts(value, made, bindings)
        return texts, unreadable or unread
    return [], unreadable


def _iterated_literals(tree: ast.Module, names: set[str], made: computed.Folder) -> set[str]:
    """Return the literals a ``for`` or comprehension binds one of ``names`` to."""
    found = set()
    for target, value in _iterated(tree):
        plain = _plain(value, made) if target in names else None
        if isinstance(plain, ast.Constant) and isinstance(plain.value, str):
            found.add(plain.value)
    return found


# Marks a function's name in the names passed to execute: its call's return is passed.
_RETURNED = "()"


def _returned_literals(tree: ast.Module, names: set[str], made: computed.Folder) -> set[str]:
    """Return the literals a function returns whose call is passed to ``execute``.

    ``def zt(): return "DROP TABLE t"`` … ``conn.execute(zt())`` (or ``self.zt()``): each
    ``return`` of a function or method of that name (nested ones too), as written or a text
    made of constants, is read as a statement passed to ``execute``.
    """
    found = set()
    for node in sqlcheck.nodes_of(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if _RETURNED + node.name not in names and not (node.name in names and _property(node)):
            continue
        for sub in ast.walk(node):
            given = sub.value if isinstance(sub, ast.Return | ast.Yield) else None
            plain = _plain(given, made) if given else None
            if isinstance(plain, ast.Constant) and isinstance(plain.value, str):
                found.add(plain.value)
    return found


def _matched_literals(
    tree: ast.Module, names: set[str], made: computed.Folder, bindings: dict[str, list[ast.expr]]
) -> set[str]:
    """Return the texts of the subject of a ``match`` whose patterns bind one of ``names``.

    ``match {"q": "DROP TABLE t"}: case {"q": s}: conn.execute(s)`` passed unread: each text
    the subject is made of (or the values of the name it is) is read as passed to execute.
    """
    found: set[str] = set()
    for node in sqlcheck.nodes_of(tree, ast.Match):
        if not isinstance(node, ast.Match):
            continue
        bound = {
            sub.name
            for case in node.cases
            for sub in ast.walk(case.pattern)
            if isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name
        }
        if not bound & names:
            continue
        subjects = [node.subject]
        if isinstance(node.subject, ast.Name):
            subjects += bindings.get(node.subject.id, [])
        for subject in subjects:
            for sub in ast.walk(subject):
                plain = _plain(sub, made) if isinstance(sub, ast.expr) else None
                if isinstance(plain, ast.Constant) and isinstance(plain.value, str):
                    found.add(plain.value)
    return found


def _defaulted_literals(tree: ast.Module, names: set[str], made: computed.Folder) -> set[str]:
    """Return the literals a parameter named as one of ``names`` has for its default.

    ``def z(conn, q="DROP TABLE t"): conn.execute(q)`` passed unread: a call without the
    argument runs the default, read as a literal bound to the name.
    """
    found = set()
    for node in sqlcheck.nodes_of(tree, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        params = node.args
        positional = [*params.posonlyargs, *params.args]
        pairs = [
            *zip(
                positional[len(positional) - len(params.defaults) :], params.defaults, strict=True
            ),
            *zip(params.kwonlyargs, params.kw_defaults, strict=True),
        ]
        for arg, default in pairs:
            plain = _plain(default, made) if default is not None and arg.arg in names else None
            if isinstance(plain, ast.Constant) and isinstance(plain.value, str):
                found.add(plain.value)
    return found


def _property(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Return whether a method is a property: ``self.q`` passed to execute is what it returns."""
    return any(
        (d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", ""))
        in ("property", "cached_property")
        for d in node.decorator_list
    )


def _generated(tree: ast.Module, names: set[str]) -> set[str]:
    """Return the functions a ``for`` (or ``with … as``) of a name passed to execute calls.

    ``for s in zg(): conn.execute(s)`` of a generator ``zg`` that yields ``"DROP TABLE t"``:
    what it yields is read as what a function returns (it passed unread); so is what ``with
    zq() as s:`` enters, a ``contextlib.contextmanager`` generator's ``yield`` among them.
    """
    found = set()
    pairs = [
        (node.target, node.iter)
        for node in sqlcheck.nodes_of(tree, ast.For, ast.AsyncFor, ast.comprehension)
        if isinstance(node, ast.For | ast.AsyncFor | ast.comprehension)
    ]
    pairs += [  # with zq() as s: of a context manager made of a generator (contextlib)
        (item.optional_vars, item.context_expr)
        for node in sqlcheck.nodes_of(tree, ast.With, ast.AsyncWith)
        if isinstance(node, ast.With | ast.AsyncWith)
        for item in node.items
        if item.optional_vars is not None
    ]
    for target, given in pairs:
        if isinstance(target, ast.Name) and target.id in names and isinstance(given, ast.Call):
            func = given.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found.add(_RETURNED + name)
    return found


def _iterated(tree: ast.Module) -> list[tuple[str, ast.expr]]:
    """Return ``(name, value)`` for each value a ``for`` or comprehension binds a name to.

    Only a sequence written out (``for q in ("…", "…")``, ``[… for q in ["…"]]``): its
    elements are what the name is bound to, as an assignment binds it.
    """
    found = []
    dicts: dict[str, list[ast.Dict]] | None = None
    for node in sqlcheck.nodes_of(tree, ast.For, ast.AsyncFor, ast.comprehension):
        if not isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            continue
        target, values = node.target, _yielded(node.iter)
        if isinstance(target, ast.Name) and isinstance(values, ast.Tuple | ast.List | ast.Set):
            found += [(target.id, value) for value in values.elts]
        elif isinstance(target, ast.Name) and _chained(values):  # itertools.chain([…], […])
            assert isinstance(values, ast.Call)  # noqa: S101 - _chained says so
            found += [
                (target.id, value)
                for part in values.args
                if isinstance(part, ast.Tuple | ast.List | ast.Set)
                for value in part.elts
            ]
        elif (viewed := _dict_view(target, values)) is not None:  # for s in ZD.values()
            if dicts is None:
                dicts = {}
                for bound, value in _assignments(tree):
                    if isinstance(bound, ast.Name) and isinstance(value, ast.Dict):
                        dicts.setdefault(bound.id, []).append(value)
            name, dict_name = viewed
            found += [(name, v) for d in dicts.get(dict_name, []) for v in d.values]
    return found


def _chained(node: ast.expr) -> bool:
    """Return whether ``node`` is ``itertools.chain(…)`` or ``chain(…)`` of positional items."""
    if not isinstance(node, ast.Call) or node.keywords:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "chain"


def _dict_view(target: ast.expr, given: ast.expr) -> tuple[str, str] | None:
    """Return ``(s, ZD)`` of ``for s in ZD.values()`` or ``for _, s in ZD.items()``, or None.

    The values of each dict written out that the module binds to ``ZD`` are what ``s`` is
    bound to (a schema change among them passed unread).
    """
    if not (isinstance(given, ast.Call) and isinstance(given.func, ast.Attribute)):
        return None
    owner, method = given.func.value, given.func.attr
    if given.args or given.keywords or not isinstance(owner, ast.Name):
        return None
    if method == "values" and isinstance(target, ast.Name):
        return target.id, owner.id
    if method == "items" and isinstance(target, ast.Tuple) and len(target.elts) == 2:
        value = target.elts[1]
        return (value.id, owner.id) if isinstance(value, ast.Name) else None
    return None


def _yielded(node: ast.expr) -> ast.expr:
    """Return the sequence a comprehension yields each item of as it is, else ``node``.

    ``for q in (s for s in ["DROP TABLE t"])`` iterates the list (it passed unread).
    """
    for _ in range(_ALTERNATIVES):
        if not (
            isinstance(node, ast.GeneratorExp | ast.ListComp | ast.SetComp)
            and len(node.generators) == 1
            and not node.generators[0].ifs
            and isinstance(node.elt, ast.Name)
            and isinstance(node.generators[0].target, ast.Name)
            and node.elt.id == node.generators[0].target.id
        ):
            break
        node = node.generators[0].iter
    return node


def _target_name(target: ast.expr) -> str:
    """Return the name an assignment binds: ``Q`` of ``Q = …`` and of ``self.Q = …``."""
    return target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")


def _callee(node: ast.Call) -> str:
    """Return the name a call calls: ``conn.execute`` -> ``execute``, ``getattr(c, "x")`` -> x.

    ``operator.methodcaller("execute", q)`` and ``functools.partial(conn.execute, q)`` call
    the method they name (with ``q``, see :func:`_sql_arguments`): each passed unread.
    """
    wrapped = _wrapped(node)
    if wrapped is not None:
        return wrapped[0]
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Call):
        return _getattr_name(func) or ""
    return ""


_GETATTR = "getattr:"  # marks a name getattr takes not written as a constant (see _aliases_of)


def _wrapped(node: ast.Call) -> tuple[str, list[ast.expr]] | None:
    """Return the method a ``methodcaller`` or ``partial`` calls and what it is given first.

    None for any other call.
    """
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name == "methodcaller" and node.args:
        return _written_text(node.args[0]) or "", node.args[1:2]
    if name == "partial" and node.args:
        inner = node.args[0]
        method = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", "")
        return method, [*node.args[1:2], *(keyword.value for keyword in node.keywords)]
    return None


def _getattr_name(call: ast.Call) -> str | None:
    """Return the attribute ``getattr(x, "<name>")`` names, or None for any other call.

    A name not written as constants is returned as :data:`_GETATTR` and its expression:
    :func:`_aliases_of` tells whether it may name a method that runs SQL.
    """
    if isinstance(call.func, ast.Name) and call.func.id == "getattr" and len(call.args) >= 2:
        written = _written_text(call.args[1])
        return written if written is not None else _GETATTR + ast.dump(call.args[1])
    return None


def _written_text(node: ast.expr) -> str | None:
    """Return the string a constant, a ``+`` of them or an f-string of them is, else None.

    ``getattr(conn, "exe" + "cute")`` named no method: what it ran passed unread.
    """
    parts = sqlcheck.addends(node)
    if len(parts) == 1 and isinstance(node, ast.JoinedStr):
        parts = list(node.values)
    if all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
        return "".join(str(p.value) for p in parts if isinstance(p, ast.Constant))
    return None


def _runner_aliases(tree: ast.Module) -> frozenset[str]:
    """Return the names the module binds to a method that runs SQL (``run = conn.execute``).

    Made once for the last trees (see :data:`_ALIASES`).
    """
    return sqlcheck.made_once(_ALIASES, tree, _aliases_of)


def _aliases_of(tree: ast.Module) -> frozenset[str]:
    """Return what :func:`_runner_aliases` returns, made here."""
    found: set[str] = set()
    made = sqlcheck.folder(tree)
    bindings = _bindings_of(tree)
    for node in sqlcheck.nodes_of(
        tree, ast.Call
    ):  # getattr(conn, NAME): NAME = "execute", or a parameter
        if not isinstance(node, ast.Call):
            continue
        name = _getattr_name(node) or ""
        if name.startswith(_GETATTR) and _may_run(node.args[1], made, bindings):
            found.add(name)
    for node in sqlcheck.nodes_of(tree, ast.Assign, ast.AnnAssign):
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        value = node.value
        if (isinstance(value, ast.Attribute) and value.attr in _RUNNERS) or (
            isinstance(value, ast.Call)
            and (_getattr_name(value) or _callee(value)) in _RUNNERS | found
            and (_getattr_name(value) is not None or _wrapped(value) is not None)
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update(_target_name(target) for target in targets)
    return frozenset(found - {""})


def _may_run(node: ast.expr, made: computed.Folder, bindings: dict[str, list[ast.expr]]) -> bool:
    """Return whether the name ``getattr`` takes may be a method that runs SQL.

    ``NAME = "execute"`` … ``getattr(conn, NAME)("DROP TABLE t")`` ran unread. A name made of
    constants is the text it makes; a name bound more than once, each text it is bound to; a
    value the check does not read (a parameter, a call) may be any method.
    """
    values = [node]
    if isinstance(node, ast.Name) and node.id in bindings and made.key(node) not in made.names:
        values = [v for bound in bindings[node.id] for v in _alternatives(bound)]
    for value in values:
        try:
            text = made.text(value)
        except computed.Unreadable:
            return True
        if text is None or text in _RUNNERS:
            return True
    return False


def _bindings_of(tree: ast.Module) -> dict[str, list[ast.expr]]:
    """Return every value the module binds each name to (``=``, ``:=``, a tuple), any scope.

    Made once for the last trees.
    """
    return sqlcheck.made_once(_BINDINGS, tree, _names_bound)


def _names_bound(tree: ast.Module) -> dict[str, list[ast.expr]]:
    """Return what :func:`_bindings_of` returns, made here."""
    found: dict[str, list[ast.expr]] = {}
    for target, value in _assignments(tree):
        if name := _target_name(target):  # Q = …, self.Q = … (an attribute by its name)
            found.setdefault(name, []).append(value)
    return found


def _item_call(node: ast.expr) -> bool:
    """Return whether ``node`` reads an item of a container: ``ZD.get("k")``, ``.pop``, ..."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get", "pop", "setdefault")
        and bool(node.args)
    )


_CONTAINED = 256  # the items of a container given as SQL read at most; more are unread


def _contained_texts(
    node: ast.expr, made: computed.Folder, bindings: dict[str, list[ast.expr]]
) -> tuple[list[str], bool]:
    """Return the texts a subscript given as SQL may be, and whether one is not read.

    ``ZD = {…}`` then ``ZD = {"k": "CREATE TEMP VIEW …"}`` … ``conn.execute(ZD["k"])``, or
    ``SQL[n]`` of a parameter ``n``: the subscript was not computed (a name bound twice, an
    index not known), so the text run was not read. Every text of every container the
    subscripted name is bound to is read as given, as far as the subscripts go.
    """
    depth = 0
    base = node
    todo: list[tuple[ast.expr, int]] = []
    if isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute):  # ZD.get("k", d)
        todo += [(default, 0) for default in base.args[1:2]]
        base, depth = base.func.value, 1
    while isinstance(base, ast.Subscript):
        base, depth = base.value, depth + 1
    name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")  # self.Q["k"]
    if isinstance(base, ast.IfExp | ast.NamedExpr):  # (["SELECT 1"] if p else [q])[0]
        todo += [(v, depth) for v in _alternatives(base)]
    elif name in bindings:
        todo += [(v, depth) for bound in bindings[name] for v in _alternatives(bound)]
    else:
        return [], False
    return _leaves(todo, made)


def _leaves(todo: list[tuple[ast.expr, int]], made: computed.Folder) -> tuple[list[str], bool]:
    """Return the texts of the items ``depth`` containers down of each value, and if unread."""
    texts: list[str] = []
    unread = False
    seen = 0
    while todo:
        value, left = todo.pop()
        seen += 1
        if seen > _CONTAINED:
            return texts, True
        if left and isinstance(value, ast.Dict):
            todo += [(item, left - 1) for item in value.values]
        elif left and isinstance(value, ast.List | ast.Tuple | ast.Set):
            todo += [(item, left - 1) for item in value.elts if not isinstance(item, ast.Starred)]
        elif not left:
            try:
                text = made.text(value)
            except computed.Unreadable:
                unread = True
                continue
            if text is not None:
                texts.append(text)
    return texts, unread


# What stands for a value SQLite cannot see: an f-string's field, a str.format or % field,
# a name added with +. A bare name: SQLite reads it as an expression and as a name.
_FIELD = "x"
# A str.format, % or string.Template field ($p, ${p}): each a placeholder for the ATTACH rule.
_FORMAT_FIELDS = re.compile(
    r"\{[^{}]*\}|%(?:\([^)]*\))?[-#0 +]*[0-9]*(?:\.[0-9]+)?[a-zA-Z]|\$(?:\{\w+\}|[A-Za-z_]\w*)"
)
_FILE_WORDS = re.compile(r"attach|vacuum", re.IGNORECASE)


def folded_texts(tree: ast.Module, messages: frozenset[int] = frozenset()) -> list[tuple[int, str]]:
    """Return ``(line, text)`` of every string the module writes as constants, folded.

    Each string constant (docstrings too, and bytes that are UTF-8), each f-string with a
    placeholder for each field, each ``+`` of them (an operand that is no constant a
    placeholder too) and each ``"sep".join([…])`` of them: ``"vac" "uum into …"`` is one
    constant already, ``"attach " + "'x' as y"`` and ``f"attach '{path}' as y"`` are folded
    here. A name the module binds once, to a string constant, stands for it
    (``A = "attach"`` … ``A + " 'x' as y"``). Only the outermost ``+`` of a chain is folded (a
    chain of thousands folds once). The nodes of ``messages`` (their ids: the strings only
    passed to a call that shows text, :attr:`Passed.shown_nodes`) are not returned, unless a
    statement of theirs starts with ATTACH or VACUUM in upper case (:func:`_written_as_sql`).
    """
    inner = {
        id(side)
        for node in sqlcheck.nodes_of(tree, ast.BinOp)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
        for side in (node.left, node.right)
    }
    names = _constant_names(tree)
    made = sqlcheck.folder(tree)
    found = []
    for node in sqlcheck.walk(tree):
        if id(node) in inner and isinstance(node, ast.BinOp):
            continue
        text = _fold(node, names, made)
        if text is None or not isinstance(node, ast.expr):
            continue
        if id(node) not in messages or _written_as_sql(text):
            found.append((node.lineno, text))
    for node in _chains(made):  # Q = "attach "; Q += path; Q += " as y"
        text = _fold(node, names, made)
        if text is not None:
            found.append((node.lineno, text))
    for arg, value in executed_values(tree):  # reduce(operator.add, ["ATTACH", " 'x' AS y"])
        text = _given_constants(value, made)
        if text is not None:
            found.append((arg.lineno, text))
    return found


_SQL_FILE_START = re.compile(_COMMENTS + r"(?:ATTACH|VACUUM)\b", re.S)


def _written_as_sql(text: str) -> bool:
    """Return whether a statement of ``text`` starts with ATTACH or VACUUM in upper case.

    A message written so (``log.info("ATTACH 'x.db' AS y")``) is held to what it would do,
    as an upper-case query is; ``"Vacuum done into %s"`` is a sentence.
    """
    return any(_SQL_FILE_START.match(piece) for piece in sqlcheck._split_statements(text))


_NAMES: list[tuple[ast.Module, dict[str, str | list[ast.expr]]]] = []


def _constant_names(tree: ast.Module) -> dict[str, str | list[ast.expr]]:
    """Return the names the module binds exactly once to a string constant, or to a list.

    Made once for the last trees (as :func:`sqlcheck.folder`): five readings of a module asked
    for them, each walking its whole tree twice.
    """
    return sqlcheck.made_once(_NAMES, tree, _bound_once)


def _bound_once(tree: ast.Module) -> dict[str, str | list[ast.expr]]:
    """Return the names the module binds exactly once to a string constant, or to a list."""
    bound: dict[str, list[ast.expr | None]] = {}
    for node in sqlcheck.nodes_of(tree, ast.Name):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.setdefault(node.id, []).append(None)
    for node in sqlcheck.nodes_of(tree, ast.Assign, ast.AnnAssign):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and bound.get(target.id) == [None]:
                    bound[target.id] = [node.value]
    found: dict[str, str | list[ast.expr]] = {}
    for name, (value, *_) in bound.items():
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found[name] = value.value
        elif isinstance(value, ast.List | ast.Tuple):  # joined later: " ".join(PARTS)
            found[name] = value.elts
    return found


def _fold(
    node: ast.AST, names: dict[str, str | list[ast.expr]], made: computed.Folder | None = None
) -> str | None:
    """Return the string ``node`` makes of constants (placeholders for the rest), or None.

    With ``made``, a part Python computes of constants alone (``"%s%s" % ("vacuum ", "into
    %s")``, a slice, ``* 1``) is the string it makes.
    """
    if made is not None and sqlcheck.computes(node, made) and isinstance(node, ast.expr):
        try:
            text = made.text(node)
        except computed.Unreadable:
            text = None
        if text is not None:
            return text
    if isinstance(node, ast.Constant):
        return _constant_text(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_field(value, names) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = sqlcheck.addends(node)
        folded = [_named(part, names) or _fold(part, names, made) for part in parts]
        if all(text is None for text in folded):
            return None  # numbers, lists: no string
        return "".join(_FIELD if text is None else text for text in folded)
    separator = _separator(node, made)
    if separator is not None and isinstance(node, ast.Call):
        items = node.args[0]
        bound = names.get(items.id) if isinstance(items, ast.Name) else None
        elements = items.elts if isinstance(items, ast.List | ast.Tuple) else bound
        if not isinstance(elements, list):
            return None
        texts = [_named(item, names) or _fold(item, names, made) for item in elements]
        return separator.join(_FIELD if t is None else t for t in texts)
    return None


def _separator(node: ast.AST, made: computed.Folder | None) -> str | None:
    """Return the text of ``sep`` in ``sep.join(items)``: a string, or one made of constants."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and len(node.args) == 1
    ):
        return None
    sep = node.func.value
    if isinstance(sep, ast.Constant):
        return sep.value if isinstance(sep.value, str) else None
    text = _constant_text_of(sep, made) if made is not None and sqlcheck.computes(sep) else None
    return text if isinstance(text, str) else None  # (" " * 1).join([…]) is " ".join


def _named(node: ast.AST, names: dict[str, str | list[ast.expr]]) -> str | None:
    """Return the string constant a name bound once stands for, or None."""
    if isinstance(node, ast.Name):
        value = names.get(node.id)
        return value if isinstance(value, str) else None
    return None


def _constant_text(value: object) -> str | None:
    """Return a constant's text: a string, or bytes that are UTF-8 (``b"…".decode()``)."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def _field(value: ast.expr, names: dict[str, str | list[ast.expr]]) -> str:
    """Return an f-string part: its text, a constant field's value, or a placeholder."""
    if isinstance(value, ast.Constant):
        return str(value.value)
    if isinstance(value, ast.FormattedValue) and value.format_spec is None:
        known = _known(value.value, names)
        if known:
            return repr(known[0]) if value.conversion == ord("r") else str(known[0])
    return _FIELD


def _known(node: ast.expr, names: dict[str, str | list[ast.expr]]) -> tuple[object, ...]:
    """Return ``(value,)`` of a constant or of a name bound once to a string, else ``()``."""
    if isinstance(node, ast.Constant):
        return (node.value,)
    named = _named(node, names)
    return () if named is None else (named,)


def file_commands(texts: list[tuple[int, str]], name: str) -> list[tuple[str, str]]:
    """Return ``("line N", why)`` of each text that holds an ATTACH or a VACUUM INTO.

    By SQLite's own grammar, in any case, with comments and spaces between the words:
    ``ATTACH [DATABASE] <expr> AS <name>`` and ``VACUUM [<schema>] INTO <expr>`` (a statement
    of a text split as SQLite splits it). A message that SQLite does not parse so is none:
    ``"attach the log to the report"`` (no ``AS``), ``"vacuum the floor into a bag"`` (two
    words before ``INTO``, where SQLite takes one schema name). A str.format or ``%`` field
    is read as a placeholder too (``"attach {} as y".format(path)``).

    Within :data:`sqlcheck.MAX_SECONDS` of CPU time in all: SQLite resolves the expression
    while it prepares the statement, and a subquery whose ``WITH`` names read each other
    twice (``AS NOT MATERIALIZED``) expands to millions of queries, seconds and a gigabyte
    each (which ends the statement: the text is refused), and a module may hold thousands.

    Raises:
        sqlcheck.PrepareTimeError: The time was spent before the last text; names ``name``.
    """
    found: dict[str, str] = {}
    listed = [
        (line, text)
        for line, text in texts
        if _FILE_WORDS.search(text) or _STARTS_AT_A_FIELD.search(_FORMAT_FIELDS.sub(_FIELD, text))
    ]
    started = time.thread_time()
    conn = sqlcheck.connect_held()  # the authorizer is Python: Ctrl-C must not land in it
    try:
        conn.setlimit(
            sqlite3.SQLITE_LIMIT_ATTACHED, 0
        )  # preparing runs nothing: walls all the same
        conn.set_authorizer(_deny_attach)
        for done, (line, text) in enumerate(listed, 1):
            why = _file_command(conn, text) or _file_command(conn, _FORMAT_FIELDS.sub(_FIELD, text))
            why = why or _ended_at_a_field(conn, _FORMAT_FIELDS.sub(_FIELD, text))
            why = why or _started_at_a_field(conn, _FORMAT_FIELDS.sub(_FIELD, text))
            if why is not None:
                found.setdefault(f"line {line}", why)
            if done < len(listed) and time.thread_time() - started > sqlcheck.MAX_SECONDS:
                msg = (
                    f"{name}: reading its strings for ATTACH and VACUUM INTO took more than "
                    f"{sqlcheck.MAX_SECONDS:.0f} s of CPU, stopped after {done:,} of "
                    f"{len(listed):,} (line {line}; SQLite expands the subqueries of each)"
                )
                raise sqlcheck.PrepareTimeError(msg)
    finally:
        conn.close()
    return sorted(found.items(), key=lambda item: int(item[0].split()[1]))


_PLACEHOLDER = re.compile(rf"\b{_FIELD}\b")
_ENDS_READ = 16  # fields per text read as its end


def _ended_at_a_field(conn: sqlite3.Connection, text: str) -> str | None:
    """Return why ``text`` ended at one of its first fields holds an ATTACH or VACUUM INTO.

    A field's value may end the statement (``'x.db' --``, ``'x.db' AS y --``): ``f"VACUUM
    main INTO {x} done"`` vacuums into ``x`` then, though ``done`` makes the text as written
    no statement.
    """
    for match in itertools.islice(_PLACEHOLDER.finditer(text), _ENDS_READ):
        for end in ("", " AS z"):
            why = _file_command(conn, text[: match.end()] + end)
            if why is not None:
                return why
    return None


# A statement whose first word is a field: f"{verb} 'x.db' AS y", "%s INTO 'x.db'" % verb.
_STARTS_AT_A_FIELD = re.compile(rf"(?:^|;)\s*{_FIELD}\b")


def _started_at_a_field(conn: sqlite3.Connection, text: str) -> str | None:
    """Return why ``text`` holds an ATTACH or VACUUM INTO once a field starting it is the verb.

    A field's value may start the statement as well as end it (:func:`_ended_at_a_field`):
    ``f"{verb} 'x.db' AS y"`` attaches a file when ``verb`` is ``ATTACH``.
    """
    for piece in itertools.islice(sqlcheck._split_statements(text), _ENDS_READ):
        head = re.match(rf"\s*{_FIELD}\b", piece)
        if head is None:
            continue
        for verb in ("ATTACH", "VACUUM"):
            why = _file_command(conn, verb + piece[head.end() :])  # as written after it
            if why is not None:
                return why
    return None


def _deny_attach(action: int, *_: object) -> int:
    """Refuse ATTACH and DETACH."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _file_command(conn: sqlite3.Connection, text: str) -> str | None:
    """Return why a text holds an ATTACH or a VACUUM INTO SQLite parses, or None."""
    if "\x00" in text or (not text.isascii() and sqlcheck._SURROGATE.search(text)):
        return None  # SQLite takes no such text: it cannot run
    for piece in sqlcheck._split_statements(text):
        tokens = [t for t in sqlcheck.tokenize(piece) if t.kind != "space"][:3]
        words = [t.text.upper() if t.kind == "word" else "" for t in tokens]
        if words[:1] == ["ATTACH"]:
            shown = "ATTACH"
        elif words[:1] == ["VACUUM"] and "INTO" in words[1:]:
            shown = "VACUUM INTO"
        else:
            continue
        try:  # prepared only: the program is not read
            conn.execute("EXPLAIN " + piece, sqlcheck._parameters(piece))
        except sqlite3.Error as exc:  # not authorized, no such column: parsed all the same
            if _unparsed(str(exc)):
                continue
        except MemoryError:  # SQLite's heap limit, resolving what it parsed: a bomb
            return f"{shown} statement (a database module uses its one database file)"
        return f"{shown} statement (a database module uses its one database file)"
    return None
