"""The strings a Python module computes from constants alone: read as the literal they make.

Python makes one string of ``"SEL" + "ECT 1"``, and as well of ``"SELECT %s" % "1"``,
``"SELECT {}".format("1")``, ``f"SELECT {'1'}"``, ``"".join(["SEL", "ECT 1"])``,
``"SELECT 1x"[:-1]``, ``"?, " * 3`` and of a name the module binds once to any of them
(``Q = "SEL"`` … ``Q + "ECT 1"``). Each is read as that one literal: read piece by piece,
``"select %s" % "load_extension('x')"`` passed (neither piece is a call). What is made of
constants and builtins alone but is no such form (``chr(115) + "elect 1"``, ``"x".upper()``
of a value too large to make here) is :class:`Unreadable`; the module's own code (a name it
binds otherwise, an import, a function) is :class:`NotConstant`.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable

from tac_bootstrap import sqlfile

# The longest value made here: past the longest statement the length rule lets through.
LIMIT = 4 * sqlfile.MAX_STATEMENT_CHARS
_BUILTINS = frozenset(dir(builtins))
_DEPTH = 60  # nested computations (names included) read before the text is Unreadable
# The methods that make a string of their receiver and constant arguments.
METHODS = frozenset(
    {"upper", "lower", "casefold", "capitalize", "title", "swapcase", "strip", "lstrip"}
    | {"rstrip", "removeprefix", "removesuffix", "replace", "format", "join"}
    | {"decode"}  # of bytes: b"SELECT …".decode()
)
_WIDTH = re.compile(r"\d+")  # a width or precision of a % or format spec


class NotConstant(Exception):
    """The expression reads a value the module computes: its own code."""


class Unreadable(Exception):
    """The expression is made of constants alone but is not computed here."""


class Folder:
    """Compute the values a module makes of constants, by the names it binds once."""

    def __init__(self, nodes: list[ast.AST]) -> None:
        """Read the names of a module, whose nodes (walked) are ``nodes``."""
        counts: dict[str, int] = {}
        values: dict[str, ast.expr] = {}
        self.star = False  # from x import *: any name may be bound there
        for node in nodes:
            for name in _bound(node):
                counts[name] = counts.get(name, 0) + 1
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                self.star = True
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target: ast.expr = node.targets[0]
                value: ast.expr | None = node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and value is not None:
                values[target.id] = value
        self.bound = frozenset(counts)
        self.names = {name: value for name, value in values.items() if counts[name] == 1}
        self._constant: dict[str, bool] = {}
        # Each name's value, made once: A1 = A0 + A0 … A40 = A39 + A39 was made 2**40 times.
        self._values: dict[str, object] = {}

    def only_constants(self, node: ast.AST, depth: int = 0) -> bool:
        """Return whether ``node`` reads nothing but constants, builtins and constant names."""
        inner = {name for sub in ast.walk(node) for name in _bound(sub)}
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Name) or sub.id in inner:
                continue
            if not self._constant_name(sub.id, depth):
                return False
        return True

    def _constant_name(self, name: str, depth: int) -> bool:
        if name in self._constant:
            return self._constant[name]
        if name in self.names:
            if depth >= _DEPTH:  # A61 = A60 … A1 = A0 = "select load_extension('x')" passed unread
                raise Unreadable
            self._constant[name] = False  # while it is read: a name bound to itself is not
            try:
                known = self.only_constants(self.names[name], depth + 1)
            except Unreadable:
                del self._constant[name]  # from a shallower place it may be read
                raise
        else:
            known = name not in self.bound and name in _BUILTINS and not self.star
        self._constant[name] = known
        return known

    def text(self, node: ast.expr) -> str | None:
        """Return the string ``node`` makes of constants, or None when it is none.

        Raises:
            Unreadable: It is made of constants alone but not computed here.
        """
        if not self.only_constants(node):
            return None
        try:
            value = self.value(node, 0)
        except NotConstant:
            return None
        except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError):
            raise Unreadable from None  # Python raises too: such a text never runs
        return value if isinstance(value, str) else None

    def value(self, node: ast.AST, depth: int) -> object:
        """Return the value Python computes for ``node`` (see :meth:`text`)."""
        if depth > _DEPTH:
            raise Unreadable

        def step(inner: ast.AST) -> object:
            return self.value(inner, depth + 1)

        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise Unreadable  # a builtin: chr(115) + "elect 1"
            if node.id not in self._values:
                try:
                    self._values[node.id] = step(self.names[node.id])
                except (NotConstant, Unreadable) as exc:
                    self._values[node.id] = exc
            made = self._values[node.id]
            if isinstance(made, NotConstant | Unreadable):
                raise type(made)
            return made
        compute = _FORMS.get(type(node))
        if compute is None:
            raise Unreadable
        return compute(step, node)


def _bound(node: ast.AST) -> list[str]:
    """Return the names ``node`` binds, in any way (assignment, import, argument, def...)."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return [node.id]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.alias):
        return [(node.asname or node.name).split(".")[0]]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        return [node.name]
    if isinstance(node, ast.MatchMapping) and node.rest:
        return [node.rest]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return list(node.names)
    return []


def _sized(value: object) -> object:
    """Return ``value``, or raise Unreadable when it holds more than :data:`LIMIT` (see _size)."""
    if _size(value) > LIMIT:
        raise Unreadable
    if isinstance(value, int) and abs(value) > LIMIT * LIMIT:
        raise Unreadable
    return value


def _size(value: object) -> int:
    """Return the characters ``value`` holds, its items' included (a name's value too).

    A list of 10,000 names of one 400,000-character string has 10,000 items but holds 4e9
    characters, which ``str()`` of it or ``"%s" % (it,)`` made (7 GB) before its length was read.
    """
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return len(value) + sum(map(_size, value))
    if isinstance(value, dict):
        return len(value) + sum(_size(k) + _size(v) for k, v in value.items())
    return 1


def _widths(specs: list[str], extra: int) -> None:
    """Raise Unreadable when the widths of format specs (and ``extra``) may pass :data:`LIMIT`.

    A width given as an argument (``%*s``, ``{:{}}``) is not read.
    """
    widths = [w for spec in specs for w in _WIDTH.findall(spec)]
    if any(len(w) >= 9 for w in widths) or sum(map(int, widths)) + extra > LIMIT:
        raise Unreadable


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?([-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?)[hlL]?.", re.S)
_FIELD_SPEC = re.compile(r"\{[^{}]*\}")


def _percent(text: str, extra: int) -> None:
    """Raise Unreadable when ``text % …`` may be longer than :data:`LIMIT` (see _widths)."""
    specs = _PERCENT_SPEC.findall(text)
    if any("*" in spec for spec in specs):
        raise Unreadable
    _widths(specs, extra)


Step = Callable[[ast.AST], object]


def _sequence(step: Step, node: ast.AST) -> object:
    """Return a tuple, list or dict of constants."""
    if isinstance(node, ast.Tuple):
        return tuple(_items(step, node.elts))
    if isinstance(node, ast.List):
        return _items(step, node.elts)
    if not isinstance(node, ast.Dict) or any(key is None for key in node.keys):
        raise Unreadable  # {**other}
    keys = [key for key in node.keys if key is not None]
    return _sized(dict(zip(_items(step, keys), _items(step, node.values), strict=True)))


def _items(step: Step, nodes: list[ast.expr]) -> list[object]:
    """Return the values of ``nodes``, stopping as soon as they hold more than :data:`LIMIT`."""
    items, held = [], 0
    for node in nodes:
        item = step(node)
        held += 1 + _size(item)
        if held > LIMIT:
            raise Unreadable
        items.append(item)
    return items


def _joined(step: Step, node: ast.AST) -> object:
    """Return the string an f-string of constant fields makes."""
    assert isinstance(node, ast.JoinedStr)  # noqa: S101 - dispatched on its type
    return _sized("".join(_part(step, part) for part in node.values))


def _binary(step: Step, node: ast.AST) -> object:
    """Return what an operator makes of constants (see :func:`_operation`)."""
    assert isinstance(node, ast.BinOp)  # noqa: S101 - dispatched on its type
    return _operation(node.op, step(node.left), step(node.right))


def _unary(step: Step, node: ast.AST) -> object:
    """Return ``-n`` or ``+n`` of an int."""
    assert isinstance(node, ast.UnaryOp)  # noqa: S101 - dispatched on its type
    operand = step(node.operand)
    if not isinstance(operand, int) or not isinstance(node.op, ast.USub | ast.UAdd):
        raise Unreadable
    return -operand if isinstance(node.op, ast.USub) else operand


def _choice(step: Step, node: ast.AST) -> object:
    """Return the branch of ``a if test else b`` its constant test takes."""
    assert isinstance(node, ast.IfExp)  # noqa: S101 - dispatched on its type
    return step(node.body) if step(node.test) else step(node.orelse)


def _part(step: Step, part: ast.expr) -> str:
    """Return one part of an f-string: its text, or its field formatted."""
    if isinstance(part, ast.Constant):
        return str(part.value)
    if not isinstance(part, ast.FormattedValue):
        raise Unreadable
    value = step(part.value)
    spec = "" if part.format_spec is None else step(part.format_spec)
    if not isinstance(spec, str):
        raise Unreadable
    if "{" in spec:
        raise Unreadable  # a nested field: f"{x:{width}}"
    _widths([spec], len(str(value)))
    if part.conversion == ord("r"):
        value = repr(value)
    elif part.conversion == ord("s"):
        value = str(value)
    elif part.conversion == ord("a"):
        value = ascii(value)
    return str(_sized(format(value, spec)))


def _operation(op: ast.operator, left: object, right: object) -> object:
    """Return ``left <op> right`` for ``+``, ``-``, ``*`` and ``%`` of constants, sized first."""
    sequences = (str, bytes, list, tuple)
    if isinstance(op, ast.Add):
        lengths = [_size(v) if isinstance(v, sequences) else 0 for v in (left, right)]
        if sum(lengths) > LIMIT:
            raise Unreadable
        return _sized(left + right)  # type: ignore[operator]
    if isinstance(op, ast.Sub) and isinstance(left, int) and isinstance(right, int):
        return _sized(left - right)
    if isinstance(op, ast.Mult):
        if isinstance(left, int) and isinstance(right, int):
            return _sized(left * right)
        count, item = (left, right) if isinstance(left, int) else (right, left)
        if not isinstance(count, int) or not isinstance(item, sequences):
            raise Unreadable
        if _size(item) * max(count, 0) > LIMIT:
            raise Unreadable
        return item * count
    if isinstance(op, ast.Mod) and isinstance(left, str):
        arguments = right if isinstance(right, tuple) else (right,)
        _percent(left, len(left) + sum(len(str(a)) for a in arguments))
        return _sized(left % right)
    raise Unreadable


def _subscript(step: Step, node: ast.AST) -> object:
    """Return ``value[index]`` of constants (a slice of constants too)."""
    assert isinstance(node, ast.Subscript)  # noqa: S101 - dispatched on its type
    value = step(node.value)
    index = node.slice
    if isinstance(index, ast.Slice):
        parts = (index.lower, index.upper, index.step)
        bounds = [None if part is None else step(part) for part in parts]
        if not all(b is None or isinstance(b, int) for b in bounds):
            raise Unreadable
        key: object = slice(*bounds)
    else:
        key = step(index)
    if isinstance(value, dict):
        return value[key]
    if not isinstance(value, str | list | tuple) or not isinstance(key, int | slice):
        raise Unreadable
    return value[key]


def _call(step: Step, node: ast.AST) -> object:
    """Return what a str method (or ``str()``, or ``bytes.decode``) makes of constants."""
    assert isinstance(node, ast.Call)  # noqa: S101 - dispatched on its type
    func = node.func
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
        k.arg is None for k in node.keywords
    ):
        raise Unreadable
    args = [step(a) for a in node.args]
    keywords = {str(k.arg): step(k.value) for k in node.keywords}
    if isinstance(func, ast.Name) and func.id == "str" and len(args) == 1 and not keywords:
        return _sized(str(args[0]))
    if isinstance(func, ast.Attribute) and func.attr == "decode":  # b"SELECT …".decode()
        data = step(func.value)
        if not isinstance(data, bytes) or not all(isinstance(a, str) for a in args):
            raise Unreadable
        return _sized(data.decode(*args, **keywords))  # type: ignore[arg-type]
    if not (isinstance(func, ast.Attribute) and func.attr in METHODS):
        raise Unreadable
    receiver = step(func.value)
    if not isinstance(receiver, str):
        raise Unreadable
    _method_size(receiver, func.attr, [*args, *keywords.values()])
    return _sized(getattr(receiver, func.attr)(*args, **keywords))


def _method_size(receiver: str, method: str, args: list[object]) -> None:
    """Raise Unreadable when a str method may make more than :data:`LIMIT` characters."""
    if method == "format":
        if re.search(r"\{[^{}]*\{", receiver.replace("{{", "")):  # a nested field: {:{}}
            raise Unreadable
        extra = len(receiver) + sum(len(str(v)) for v in args)
        _widths(_FIELD_SPEC.findall(receiver), extra)
    elif method == "join":
        items = args[0] if len(args) == 1 else None
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise Unreadable
        if sum(map(len, items)) + len(receiver) * len(items) > LIMIT:
            raise Unreadable
    elif method == "replace":
        old, new = [*args, "", ""][:2]
        if not isinstance(old, str) or not isinstance(new, str):
            raise Unreadable
        if len(receiver) + (receiver.count(old) + len(receiver) + 1) * len(new) > LIMIT:
            raise Unreadable


_FORMS: dict[type[ast.AST], Callable[[Step, ast.AST], object]] = {
    ast.Tuple: _sequence,
    ast.List: _sequence,
    ast.Dict: _sequence,
    ast.JoinedStr: _joined,
    ast.BinOp: _binary,
    ast.UnaryOp: _unary,
    ast.IfExp: _choice,
    ast.Subscript: _subscript,
    ast.Call: _call,
}
