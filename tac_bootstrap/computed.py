"""The strings a Python module computes from constants alone: read as the literal they make.

Python makes one string of ``"SEL" + "ECT 1"``, and as well of ``"SELECT %s" % "1"``,
``"SELECT {}".format("1")``, ``f"SELECT {'1'}"``, ``"".join(["SEL", "ECT 1"])``,
``"SELECT {a}".format_map({"a": "1"})``, ``"SELECT 1".encode().decode()``,
``"SELECT 1x"[:-1]``, ``"?, " * 3``, ``string.Template("SELECT $x").substitute(x="1")`` and
of a name the module binds once to any of them (``Q = "SEL"`` … ``Q + "ECT 1"``). A name bound
once and then only added to (``Q = "SELECT "`` … ``Q += "1"``) makes the string of each of its
additions taken in order or left out (an ``if`` may skip one). Each is read as that one
literal: read piece by piece,
``"select %s" % "load_extension('x')"`` passed (neither piece is a call). What is made of
constants and builtins alone but is no such form (``chr(115) + "elect 1"``, ``"x".upper()``
of a value too large to make here) is :class:`Unreadable`; the module's own code (a name it
binds otherwise, an import, a function) is :class:`NotConstant`.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import codecs
import re
import string
import sys
from collections.abc import Callable

from tac_bootstrap import sqlfile

# The longest value made here: past the longest statement the length rule lets through.
LIMIT = 4 * sqlfile.MAX_STATEMENT_CHARS
_BUILTINS = frozenset(dir(builtins))
_DEPTH = 60  # nested computations (names included) read before the text is Unreadable
# The methods that make a string of their receiver and constant arguments.
METHODS = frozenset(
    {"upper", "lower", "casefold", "capitalize", "title", "swapcase", "strip", "lstrip"}
    | {"rstrip", "removeprefix", "removesuffix", "replace", "format", "format_map", "join"}
    | {"decode"}  # of bytes: b"SELECT …".decode(), "SELECT …".encode().decode()
    | {"substitute", "safe_substitute"}  # of string.Template("SELECT $x")
)
# The additions (Q += "…") to a name read each taken or left out: 2**5 strings at most.
ADDITIONS = 5
# The additions to one name read at all, and the strings made for all names of a module: past
# either the name's strings are not computed here (10,000 names of 5 each were 320,000 texts).
ADDED = 64
CHAINED = 512
_WIDTH = re.compile(r"\d+")  # a width or precision of a % or format spec
# The modules whose functions decode, unpack, rewrite or import what they are given: a text
# one of them makes of constants is not computed here (Unreadable), but ``codecs.decode`` and
# ``codecs.encode`` by a text encoding or rot13 (see _decoded).
DECODERS = frozenset(
    {"ast", "base64", "binascii", "bz2", "codecs", "gzip", "html", "json", "lzma", "marshal"}
    | {"pickle", "quopri", "zlib", "re", "importlib", "array"}
)
_CODEC_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


class NotConstant(Exception):
    """The expression reads a value the module computes: its own code."""


class Unreadable(Exception):
    """The expression is made of constants alone but is not computed here."""


class Folder:
    """Compute the values a module makes of constants, by the names it binds once."""

    def __init__(self, nodes: list[ast.AST]) -> None:
        """Read the names of a module, whose nodes (walked) are ``nodes``.

        A name is keyed by the scope Python reads it in (:class:`_Scopes`): a function's own
        ``q`` is not another function's ``q`` nor the module's, so each is bound once.
        """
        counts: dict[str, int] = {}
        values: dict[str, ast.expr] = {}
        added: dict[str, list[ast.AugAssign]] = {}
        assigned: dict[str, ast.stmt] = {}
        every: dict[str, list[tuple[ast.stmt, ast.expr]]] = {}  # each plain binding of a name
        self._scopes = _Scopes(nodes)
        key = self._scopes.key
        self.star = False  # from x import *: any name may be bound there
        self._globals_read: bool | None = None  # see _global, made when first asked
        for node in nodes:
            for name in _bound(node):
                name = self._scopes.binding(node, name)
                counts[name] = counts.get(name, 0) + 1
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                self.star = True
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                added.setdefault(key(node.target), []).append(node)
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target: ast.expr = node.targets[0]
                value: ast.expr | None = node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and value is not None:
                values[key(target)] = value
                assigned[key(target)] = node
                every.setdefault(key(target), []).append((node, value))
        self.lines = {name: node.lineno for name, node in assigned.items()}
        self.bound = frozenset(counts)
        self.names = {name: value for name, value in values.items() if counts[name] == 1}
        self.templates = _templates(nodes, counts, self._scopes)
        self.decoders = _decoders(nodes, counts, self._scopes)
        self._decoder_ids = frozenset(plain(name.rstrip(".")) for name in self.decoders)
        # Q = "SELECT " … Q += "1": each string the additions make, taken in order or not.
        self.chains: dict[str, list[ast.expr] | None] = {}
        self.straight: set[str] = set()  # names whose additions follow their binding at once
        self._nodes = nodes
        self._blocks: dict[int, _Block] = {}  # see _block
        self._added: dict[str, list[ast.expr]] = {}
        self._made = 0  # the strings made for the names added to so far (see CHAINED)
        self._strings: dict[str, list[tuple[ast.expr, str]] | Unreadable] = {}
        self._chars = 0  # the characters of those strings
        for name, augs in added.items():
            binds = every.get(name, [])
            if binds and counts[name] == len(binds) + len(augs):  # bound by = and += alone
                self._read_chains(name, binds, augs)
        self._constant: dict[str, bool] = {}
        # Each node's text, made once: the checks of a module ask for most of them twice.
        self._texts: dict[int, tuple[ast.expr, str | Unreadable | None]] = {}
        # Each name's value, made once: A1 = A0 + A0 … A40 = A39 + A39 was made 2**40 times.
        self._values: dict[str, object] = {}

    def key(self, node: ast.Name) -> str:
        """Return the key of the name ``node`` reads or binds (see :func:`plain`)."""
        return self._scopes.key(node)

    def _read_chain(
        self, name: str, assign: ast.stmt, value: ast.expr, augs: list[ast.AugAssign]
    ) -> None:
        """Note the strings a name bound once and added to makes: the whole first, as ``+``.

        An addition that always follows the binding (see :meth:`_certain`) is taken in each;
        any other is taken or left out (an ``if`` may skip it), and one in a loop the binding
        is not in is taken once and twice (``for …: Q += ", ?"``). None when they cannot be
        told here: more than :data:`ADDITIONS` optional additions so counted (or
        :data:`ADDED` in all, or :data:`CHAINED` strings for the module), another operator
        than ``+=``, an addition before the binding.
        """
        self._added[name] = [value, *(aug.value for aug in augs)]
        if len(augs) > ADDED:
            self.chains[name] = None
            return
        augs = sorted(augs, key=lambda a: (a.lineno, a.col_offset))
        certain = self._certain(name, assign, augs)
        taken = [
            (aug, aug in certain)
            for aug in augs
            for _ in range(2 if self._looped(assign, aug) else 1)
        ]
        optional = [aug for aug, sure in taken if not sure]
        if (
            len(optional) > ADDITIONS
            or any(not isinstance(a.op, ast.Add) for a in augs)
            or (augs[0].lineno, augs[0].col_offset) < (assign.lineno, assign.col_offset)
            or self._made + 2 ** len(optional) > CHAINED
        ):
            self.chains[name] = None
            return
        self._made += 2 ** len(optional)
        if certain:
            self.straight.add(name)  # Q = "SELECT "; Q += "1": "SELECT " is never seen alone
        chain = [_sum(value, taken, mask) for mask in range(2 ** len(optional) - 1, -1, -1)]
        if not certain:
            chain.pop()  # none taken: the literal itself, read already
        self.chains[name] = chain
        self.names[name] = chain[0]

    def _read_chains(
        self, name: str, binds: list[tuple[ast.stmt, ast.expr]], augs: list[ast.AugAssign]
    ) -> None:
        """Note the strings a name added to makes: bound once, or more than once."""
        if len(binds) == 1:
            self._read_chain(name, binds[0][0], binds[0][1], augs)
        else:
            self._read_rebound(name, binds, augs)

    def _read_rebound(
        self, name: str, binds: list[tuple[ast.stmt, ast.expr]], augs: list[ast.AugAssign]
    ) -> None:
        """Note the strings a name bound more than once and added to makes, one a binding.

        ``s = "SELECT 1"`` … ``s = ""; s += "ATTACH"; s += " 'x' AS y"``: the additions were
        read for a name bound once only, so what this one makes passed unread. Each binding
        is taken with every addition after it and before the next binding (by position);
        None as :meth:`_read_chain` says.
        """
        self._added[name] = [*(value for _, value in binds), *(aug.value for aug in augs)]
        if (
            len(augs) > ADDED
            or any(not isinstance(a.op, ast.Add) for a in augs)
            or self._made + len(binds) > CHAINED
        ):
            self.chains[name] = None
            return
        self._made += len(binds)
        at = sorted(binds, key=lambda b: (b[0].lineno, b[0].col_offset))
        ends = [(b.lineno, b.col_offset) for b, _ in at[1:]] + [(sys.maxsize, 0)]
        chain = []
        for (assign, value), end in zip(at, ends, strict=True):
            start = (assign.lineno, assign.col_offset)
            later = sorted(
                (a for a in augs if start < (a.lineno, a.col_offset) < end),
                key=lambda a: (a.lineno, a.col_offset),
            )
            if later:
                chain.append(_sum(value, [(aug, True) for aug in later], 0))
        self.chains[name] = chain

    def _certain(self, name: str, assign: ast.stmt, augs: list[ast.AugAssign]) -> list[ast.stmt]:
        """Return the additions that always follow the binding before the name is read.

        Each is a later statement of the binding's block with nothing between that reads the
        name (nor, outside a function, calls anything: a function may read it).
        """
        parent = self._parents().get(id(assign))
        in_function = any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for node in self._ancestors(assign)
        )
        for field in ("body", "orelse", "finalbody"):
            block = getattr(parent, field, None)
            if not isinstance(block, list):
                continue
            index = self._block(block)
            start = index.at.get(id(assign))
            if start is None:
                continue
            stops = [index.first(index.reads.get(plain(name), []), start)]
            if not in_function:
                stops.append(index.first(index.calls, start))
            stop = min(stops)
            return [aug for aug in augs if start < index.at.get(id(aug), -1) <= stop]
        return []

    def _parents(self) -> dict[int, ast.AST]:
        """Return each node's parent by the child's id (noted by the one pass of _Scopes).

        Made in a pass of its own when a chain was read, it was a twentieth of the time of
        checking the generated database module, which adds to a name.
        """
        return self._scopes.parents

    def _block(self, block: list[ast.stmt]) -> _Block:
        """Return where the statements of a block read names and call, read once a block.

        Scanned again for each name, a block of 2,000 names each added to at its end took a
        minute (each statement walked once a name).
        """
        if id(block) not in self._blocks:
            self._blocks[id(block)] = _Block(block)
        return self._blocks[id(block)]

    def _looped(self, assign: ast.stmt, aug: ast.AugAssign) -> bool:
        """Return whether an addition is in a loop the binding is not in."""
        around = set(self._ancestors(assign))
        for node in self._ancestors(aug):
            if node in around:
                break
            if isinstance(node, ast.For | ast.AsyncFor | ast.While):
                return True
        return False

    def _ancestors(self, node: ast.AST) -> list[ast.AST]:
        """Return the nodes ``node`` is in, innermost first."""
        found = []
        parents = self._parents()
        while id(node) in parents:
            node = parents[id(node)]
            found.append(node)
        return found

    def bound_value(self, name: str) -> ast.expr | None:
        """Return the value a name added to is bound to (``"… WHERE "`` of ``Q += cond``)."""
        return self._added[name][0] if name in self._added else None

    def chain_texts(self, name: str) -> list[ast.expr] | None:
        """Return the strings a name added to makes (see :meth:`_chain`), or None.

        Raises:
            Unreadable: It is added to as cannot be told here, all of constants.
        """
        if name not in self.chains:
            return None
        chain = self.chains[name]
        if chain is None:
            if self._added_constants(name):
                raise Unreadable
            return None
        return chain

    def chain_strings(self, name: str) -> list[tuple[ast.expr, str]]:
        """Return each string of constants a name added to makes, with its ``+`` (made once).

        Raises:
            Unreadable: It is added to as cannot be told here, all of constants, or the strings
                of the module's names added to hold more than 4 x :data:`LIMIT` characters.
        """
        if name not in self._strings:
            try:
                self._strings[name] = self._made_strings(name)
            except Unreadable as exc:
                self._strings[name] = exc
        strings = self._strings[name]
        if isinstance(strings, Unreadable):
            raise Unreadable
        return strings

    def _made_strings(self, name: str) -> list[tuple[ast.expr, str]]:
        """Make the strings of :meth:`chain_strings`, counting their characters."""
        made = []
        for node in self.chain_texts(name) or []:
            text = self.text(node)
            if text is not None:
                self._chars += len(text)
                if self._chars > 4 * LIMIT:
                    raise Unreadable
                made.append((node, text))
        return made

    def _added_constants(self, name: str) -> bool:
        """Return whether every value a name is bound or added to is made of constants."""
        return all(self.only_constants(part) for part in self._added[name])

    def _is_template(self, func: ast.expr) -> bool:
        """Return whether ``func`` is ``string.Template`` (``import string``) or ``Template``."""
        if isinstance(func, ast.Attribute) and func.attr == "Template":
            return isinstance(func.value, ast.Name) and f"{self.key(func.value)}." in self.templates
        return isinstance(func, ast.Name) and self.key(func) in self.templates

    def decoder(self, func: ast.expr) -> str | None:
        """Return ``codecs.decode`` (module and function) of a call's ``func`` of DECODERS."""
        if not self._decoder_ids:
            return None  # most modules: asked of each call
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id not in self._decoder_ids:
                return None
            module = self.decoders.get(f"{self.key(func.value)}.")
            return None if module is None else f"{module}.{func.attr}"
        if not isinstance(func, ast.Name) or func.id not in self._decoder_ids:
            return None
        return self.decoders.get(self.key(func))

    def only_constants(self, node: ast.AST, depth: int = 0) -> bool:
        """Return whether ``node`` reads nothing but constants, builtins and constant names."""
        inner: set[str] = set()
        templates: set[int] = set()  # string.Template(…): the class Python's string module makes
        read: list[ast.Name] = []
        for sub in ast.walk(node):  # once: three walks were a fifth of checking a module
            if isinstance(sub, ast.Name):
                read.append(sub)
            inner.update(_bound(sub))
            if isinstance(sub, ast.Call) and (
                self._is_template(sub.func) or self.decoder(sub.func) is not None
            ):  # codecs.decode(…), base64.b64decode(…): the module's name a constant too
                templates.add(
                    id(sub.func.value if isinstance(sub.func, ast.Attribute) else sub.func)
                )
        for sub in read:
            if sub.id in inner or id(sub) in templates:
                continue
            if not self._constant_name(self.key(sub), depth):
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
        known = self._texts.get(id(node))
        if known is None or known[0] is not node:
            try:
                known = (node, self._text(node))
            except Unreadable as exc:
                known = (node, exc)
            self._texts[id(node)] = known  # the node held too: its id is never another's
        if isinstance(known[1], Unreadable):
            raise Unreadable
        return known[1]

    def _text(self, node: ast.expr) -> str | None:
        """Make :meth:`text` of ``node``."""
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
            return self._name_value(self.key(node), step)
        if isinstance(node, ast.Call):
            return self._call_value(node, step)
        if isinstance(node, ast.Subscript) and (name := self._global(node)) is not None:
            return self._name_value(name, step)  # globals()["Q"]: Q, bound once
        compute = _FORMS.get(type(node))
        if compute is None:
            raise Unreadable
        return compute(step, node)

    def _passed_back(self, node: ast.Call) -> ast.expr | None:
        """Return the argument a lambda returning one of its parameters is called with.

        ``(lambda x: x)(q)``, or a name bound once to such a lambda: positional arguments
        alone, one to each parameter, none with a default.
        """
        func = node.func
        if isinstance(func, ast.Name):
            bound = self.names.get(self.key(func))
        else:
            bound = func if isinstance(func, ast.Lambda) else None
        if not isinstance(bound, ast.Lambda) or not isinstance(bound.body, ast.Name):
            return None
        params = bound.args
        names = [arg.arg for arg in [*params.posonlyargs, *params.args]]
        plain = not (params.kwonlyargs or params.vararg or params.kwarg or params.defaults)
        if not plain or node.keywords or len(node.args) != len(names):
            return None
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            return None
        return dict(zip(names, node.args, strict=True)).get(bound.body.id)

    def _call_value(self, node: ast.Call, step: Step) -> object:
        """Return the value of a call of constants (see :meth:`value`)."""
        if self._is_template(node.func):
            return _template(step, node)
        if (decoder := self.decoder(node.func)) is not None:
            return _decoded(step, node, decoder)
        if (body := self._lambda_body(node)) is not None:
            return step(body)  # F = lambda: "SELECT 1" … F(): was refused as unread
        if (given := self._passed_back(node)) is not None:
            return step(given)  # F = lambda x: x … F("SELECT 1"): was refused as unread
        if self._builtin(node.func, "dict"):
            return _dict(step, node)  # dict(k="SELECT …")["k"]
        if (items := self._joined_items(node)) is not None:
            return _join(step, node, items)  # "".join(s for s in […]), " ".join(map(str, …))
        return _call(step, node)

    def _joined_items(self, node: ast.Call) -> ast.expr | None:
        """Return the sequence a ``join`` is given item by item, unchanged or by ``str``.

        ``"".join(s for s in items)`` (one ``for``, no ``if``, each item itself) and
        ``" ".join(map(str, items))`` (the builtins, which the module does not bind), of a
        list or tuple (see :func:`_join`); None for any other argument.
        """
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr == "join") or node.keywords:
            return None
        if len(node.args) != 1:
            return None
        given = node.args[0]
        if isinstance(given, ast.GeneratorExp) and len(given.generators) == 1:
            loop = given.generators[0]
            same = isinstance(loop.target, ast.Name) and isinstance(given.elt, ast.Name)
            if same and not loop.ifs and not loop.is_async and given.elt.id == loop.target.id:  # type: ignore[attr-defined]
                return loop.iter
            return None
        if not (isinstance(given, ast.Call) and self._builtin(given.func, "map")):
            return None
        if given.keywords or len(given.args) != 2 or not self._builtin(given.args[0], "str"):
            return None
        return given.args[1]

    def _global(self, node: ast.Subscript) -> str | None:
        """Return the name ``globals()["Q"]`` reads, where the module writes no such item.

        Q bound once at the module's level is what the item reads unless the module writes
        its namespace through ``globals()`` (an item set, ``update``): any use of the name
        ``globals`` other than such a read, and the item is not read (None).
        """
        name = _global_item(node)
        if name is None or not isinstance(node.ctx, ast.Load):
            return None
        if self._globals_read is None:  # globals() read by items alone: no item written
            uses = sum(isinstance(n, ast.Name) and n.id == "globals" for n in self._nodes)
            reads = sum(
                isinstance(n, ast.Subscript)
                and isinstance(n.ctx, ast.Load)
                and _global_item(n) is not None
                for n in self._nodes
            )
            self._globals_read = uses == reads
        if not self._globals_read:
            return None
        call = node.value
        assert isinstance(call, ast.Call)  # noqa: S101 - _global_item says so
        return name if self._builtin(call.func, "globals") else None

    def _builtin(self, func: ast.expr, name: str) -> bool:
        """Return whether ``func`` is the builtin ``name``: a name the module never binds."""
        return (
            isinstance(func, ast.Name)
            and func.id == name
            and self.key(func) not in self.bound
            and not self.star
        )

    def _lambda_body(self, node: ast.Call) -> ast.expr | None:
        """Return the body of the lambda without parameters a name called so is bound once to."""
        func = node.func
        if node.args or node.keywords or not isinstance(func, ast.Name):
            return None
        bound = self.names.get(self.key(func))
        if not isinstance(bound, ast.Lambda):
            return None
        params = bound.args
        every = [*params.posonlyargs, *params.args, *params.kwonlyargs]
        return None if every or params.vararg or params.kwarg else bound.body

    def _name_value(self, name: str, step: Step) -> object:
        """Return the value of a name bound to constants, made once."""
        if name not in self.names:
            raise Unreadable  # a builtin: chr(115) + "elect 1"
        if name not in self._values:
            try:
                self._values[name] = step(self.names[name])
            except (NotConstant, Unreadable) as exc:
                self._values[name] = exc
        made = self._values[name]
        if isinstance(made, NotConstant | Unreadable):
            raise type(made)
        return made


def _sum(value: ast.expr, taken: list[tuple[ast.AugAssign, bool]], mask: int) -> ast.expr:
    """Return ``value + …`` of the certain additions and the optional ones set in ``mask``.

    The first optional addition is the highest bit.
    """
    made = value
    bit = sum(1 for _, sure in taken if not sure)
    for aug, sure in taken:
        if not sure:
            bit -= 1
        if sure or mask & (1 << bit):
            made = ast.copy_location(ast.BinOp(made, ast.Add(), aug.value), aug)
    return made


class _Block:
    """Where the statements of a block read each name (``Load``) and call anything."""

    def __init__(self, block: list[ast.stmt]) -> None:
        self.at = {id(stmt): i for i, stmt in enumerate(block)}
        self.reads: dict[str, list[int]] = {}
        self.calls: list[int] = []
        for i, stmt in enumerate(block):
            read: set[str] = set()
            called = False
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    read.add(node.id)
                called = called or isinstance(node, ast.Call)
            for name in read:
                self.reads.setdefault(name, []).append(i)
            if called:
                self.calls.append(i)

    def first(self, positions: list[int], after: int) -> int:
        """Return the first of ``positions`` (ascending) past ``after``, or the block's end."""
        at = bisect.bisect_right(positions, after)
        return positions[at] if at < len(positions) else len(self.at)


def _template(step: Step, node: ast.Call) -> string.Template:
    """Return ``string.Template("…")`` of a constant."""
    if len(node.args) != 1 or node.keywords:
        raise Unreadable
    pattern = step(node.args[0])
    if not isinstance(pattern, str):
        raise Unreadable
    return string.Template(pattern)


def _templates(nodes: list[ast.AST], counts: dict[str, int], scopes: _Scopes) -> frozenset[str]:
    """Return the names bound once to ``string.Template`` (``T``) or ``string`` (``s.``)."""
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {
                f"{scopes.binding(node, a.asname or a.name)}."
                for a in node.names
                if a.name == "string"
            }
        elif isinstance(node, ast.ImportFrom) and node.module == "string" and not node.level:
            found |= {
                scopes.binding(node, a.asname or a.name) for a in node.names if a.name == "Template"
            }
    return frozenset(name for name in found if counts.get(name.rstrip("."), 0) == 1)


def _decoders(nodes: list[ast.AST], counts: dict[str, int], scopes: _Scopes) -> dict[str, str]:
    """Return the names bound once to a module of DECODERS (``c.``) or one of its functions.

    ``import codecs as c``: ``c.`` is ``codecs``; ``from codecs import decode``: ``decode`` is
    ``codecs.decode``.
    """
    found: dict[str, set[str]] = {}
    imported: dict[str, int] = {}  # import re twice (the module's and a function's): still re
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in DECODERS:
                    name = f"{scopes.binding(node, alias.asname or alias.name)}."
                    found.setdefault(name, set()).add(alias.name)
                    imported[name] = imported.get(name, 0) + 1
        elif isinstance(node, ast.ImportFrom) and node.module in DECODERS and not node.level:
            for alias in node.names:
                name = scopes.binding(node, alias.asname or alias.name)
                found.setdefault(name, set()).add(f"{node.module}.{alias.name}")
                imported[name] = imported.get(name, 0) + 1
    return {
        name: next(iter(what))
        for name, what in found.items()
        if len(what) == 1 and counts.get(name.rstrip("."), 0) == imported[name]
    }


def _decoded(step: Step, node: ast.Call, decoder: str) -> object:
    """Return ``codecs.decode`` or ``codecs.encode`` of constants by a text encoding or rot13.

    ``codecs.decode("QEBC GNOYR g", "rot13")`` is ``DROP TABLE t``, and ``codecs.decode(b"…",
    "utf-8")`` its text (it was read as its constants glued together, the codec's name onto
    the statement's last word). Any other codec (``base64``, ``zlib``), or any other function
    of DECODERS (``base64.b64decode``, ``zlib.decompress``, ``pickle.loads``), is Unreadable.
    """
    if decoder not in ("codecs.decode", "codecs.encode"):
        raise Unreadable
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
        k.arg is None for k in node.keywords
    ):
        raise Unreadable
    params = ("obj", "encoding", "errors")
    given = dict(zip(params, (step(a) for a in node.args), strict=False))
    keywords = {str(k.arg): step(k.value) for k in node.keywords}
    if len(node.args) > len(params) or not set(keywords) <= set(params) - set(given):
        raise Unreadable
    given.update(keywords)
    name, wanted = _codec(given.get("encoding", "utf-8"), decoder == "codecs.decode")
    value, errors = given.get("obj"), given.get("errors", "strict")
    if not isinstance(value, wanted) or not isinstance(errors, str):
        raise Unreadable
    convert: Callable[..., object] = codecs.decode if decoder == "codecs.decode" else codecs.encode
    try:
        return _sized(convert(value, name, errors))
    except (LookupError, ValueError, TypeError):
        raise Unreadable from None


def _codec(encoding: object, decode: bool) -> tuple[str, type]:
    """Return a codec's name and the type it converts: rot13 (str) or a text encoding.

    A text encoding decodes bytes and encodes a str (as ``str.encode`` takes it); any other
    codec, or a name that is none, is Unreadable.
    """
    if not isinstance(encoding, str) or not _CODEC_NAME.fullmatch(encoding):
        raise Unreadable
    try:
        name = codecs.lookup(encoding).name
        if name == "rot-13":
            return name, str
        "".encode(name)
    except LookupError:
        raise Unreadable from None
    return name, bytes if decode else str


def plain(key: str) -> str:
    """Return the name a key of :class:`Folder` is of (``q`` of a function's own ``q``)."""
    return key.partition(_SCOPED)[0]


_SCOPED = "\x00"  # never in a name: parts a local name's key from its scope's number
_FUNCTIONS = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_COMPREHENSIONS = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
# Scopes nested deeper are read as part of the one around them (more bindings, never fewer):
# each name is resolved in at most this many steps (1,000 nested lambdas read 10,000 names).
_SCOPE_DEPTH = 32


class _Scopes:
    r"""The scope Python reads each name of a module in: the module, a function, a comprehension.

    A function's (or lambda's, or comprehension's) own name, one it binds and does not declare
    ``global``/``nonlocal``, is keyed ``name\x00<scope>``; a name it only reads is the nearest
    enclosing function's own, else the module's (a plain key). A class body is read as part of
    the scope around it (its names counted there too: never fewer bindings than Python has), as
    is a scope nested past :data:`_SCOPE_DEPTH`. Made in one pass of the walked nodes (parents
    before children), each name resolved once a scope.
    """

    def __init__(self, nodes: list[ast.AST]) -> None:
        self._of: dict[int, int] = {}  # a node's id -> its scope's number (0: the module)
        self._parent: dict[int, int] = {}
        self._comprehension: set[int] = set()
        self._own: dict[int, set[str]] = {}
        self._global: dict[int, set[str]] = {}
        self._nonlocal: dict[int, set[str]] = {}
        self._resolved: dict[tuple[str, int], str] = {}
        self.parents: dict[int, ast.AST] = {}  # a node's parent by the child's id, made here
        depth = {0: 0}
        for node in nodes:
            here = self._of.get(id(node), 0)
            inner = here
            if isinstance(node, _FUNCTIONS | _COMPREHENSIONS) and depth[here] < _SCOPE_DEPTH:
                inner = id(node)
                depth[inner] = depth[here] + 1
                self._parent[inner] = here
                if isinstance(node, _COMPREHENSIONS):
                    self._comprehension.add(inner)
                self._outer(node, here)
            elif isinstance(node, ast.NamedExpr):  # (y := …) in a comprehension binds outside
                self._of.setdefault(id(node.target), self._function(here))
            for child in ast.iter_child_nodes(node):
                self._of.setdefault(id(child), inner)
                self.parents[id(child)] = node
        for node in nodes:
            scope = self._of.get(id(node), 0)
            if isinstance(node, ast.Global):
                self._global.setdefault(scope, set()).update(node.names)
            elif isinstance(node, ast.Nonlocal):
                self._nonlocal.setdefault(scope, set()).update(node.names)
            elif scope:
                self._own.setdefault(scope, set()).update(_bound(node))

    def _outer(self, node: ast.AST, here: int) -> None:
        """Note the parts of a function or comprehension Python reads in the scope around it."""
        outer: list[ast.AST | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            outer += [*node.decorator_list, node.returns]
        if isinstance(node, _FUNCTIONS):
            args = node.args
            outer += [*args.defaults, *args.kw_defaults]
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            outer += [arg.annotation for arg in every if arg is not None]
        elif isinstance(node, _COMPREHENSIONS):
            outer.append(node.generators[0].iter)
        for part in outer:
            if part is not None:
                self._of.setdefault(id(part), here)

    def _function(self, scope: int) -> int:
        """Return the nearest scope around ``scope`` (itself included) not a comprehension."""
        while scope in self._comprehension:
            scope = self._parent[scope]
        return scope

    def binding(self, node: ast.AST, name: str) -> str:
        """Return the key of ``name`` as ``node`` binds it (see :func:`_bound`).

        A ``def``/``class`` is in the scope around it, an argument in its function's.
        """
        return self._resolve(name, self._of.get(id(node), 0))

    def key(self, node: ast.Name) -> str:
        """Return the key of the name ``node`` reads or binds."""
        return self._resolve(node.id, self._of.get(id(node), 0))

    def _resolve(self, name: str, scope: int) -> str:
        """Return the key of ``name`` read in ``scope``: one step a scope, each made once."""
        known = self._resolved.get((name, scope))
        if known is None:
            if not scope or name in self._global.get(scope, ()):
                known = name
            elif name in self._own.get(scope, ()) and name not in self._nonlocal.get(scope, ()):
                known = f"{name}{_SCOPED}{scope}"
            else:
                known = self._resolve(name, self._parent[scope])
            self._resolved[(name, scope)] = known
        return known


# The node types that may bind a name: _bound is asked of every node of a module, several
# times a check (a tenth of the time checking one took went on telling the others apart).
_BINDERS = frozenset(
    {ast.Name, ast.arg, ast.alias, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef}
    | {ast.ExceptHandler, ast.MatchAs, ast.MatchStar, ast.MatchMapping, ast.Global, ast.Nonlocal}
)


def _bound(node: ast.AST) -> list[str]:
    """Return the names ``node`` binds, in any way (assignment, import, argument, def...)."""
    if type(node) not in _BINDERS:
        return []
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


def size(value: object) -> int:
    """Return the size of a value as :data:`LIMIT` counts it (see _size)."""
    return _size(value)


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


def _either(step: Step, node: ast.AST) -> object:
    """Return the operand ``a or b`` (``a and b``) of constants selects, as Python does."""
    assert isinstance(node, ast.BoolOp)  # noqa: S101 - dispatched on its type
    value: object = None
    for operand in node.values:
        value = step(operand)
        if bool(value) == isinstance(node.op, ast.Or):
            return value  # the first true one (or), the first false one (and)
    return value


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
    if isinstance(func, ast.Attribute) and func.attr in _ITEMS:
        return _item(step(func.value), func.attr, args, keywords)
    if isinstance(func, ast.Attribute) and func.attr in _CODED:
        return _coded(step, func, args, keywords)
    if not (isinstance(func, ast.Attribute) and func.attr in METHODS):
        raise Unreadable
    receiver = step(func.value)
    if isinstance(receiver, string.Template) and func.attr in _SUBSTITUTES:
        return _substituted(receiver, func.attr, args, keywords)
    if not isinstance(receiver, str) or func.attr in _SUBSTITUTES:
        raise Unreadable
    _method_size(receiver, func.attr, [*args, *keywords.values()])
    return _formatted(getattr(receiver, func.attr), *args, **keywords)


def _global_item(node: ast.Subscript) -> str | None:
    """Return ``Q`` of ``globals()["Q"]`` (any use of the subscript), or None."""
    call, index = node.value, node.slice
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    if call.func.id != "globals" or call.args or call.keywords:
        return None
    if isinstance(index, ast.Constant) and isinstance(index.value, str):
        return index.value
    return None


def _join(step: Step, node: ast.Call, given: ast.expr) -> object:
    """Return ``sep.join(…)`` of the items of ``given``, a list or tuple of constants.

    Each item as it is (a generator of the items themselves) or ``str`` of it (``map``);
    the items of a string, or of anything else, are not read.
    """
    assert isinstance(node.func, ast.Attribute)  # noqa: S101 - _joined_items says so
    receiver = step(node.func.value)
    items = step(given)
    if not isinstance(receiver, str) or not isinstance(items, list | tuple):
        raise Unreadable
    mapped = isinstance(node.args[0], ast.Call)
    if mapped and all(isinstance(item, str | int) for item in items):
        items = [str(item) for item in items]
    _method_size(receiver, "join", [items])
    return _formatted(receiver.join, items)


def _dict(step: Step, node: ast.Call) -> dict[str, object]:
    """Return ``dict(k=…)`` of constants, by keyword alone."""
    if node.args or any(k.arg is None for k in node.keywords):
        raise Unreadable
    return {str(k.arg): step(k.value) for k in node.keywords}


_ITEMS = frozenset({"get", "pop", "setdefault"})


def _item(mapping: object, method: str, args: list[object], keywords: dict[str, object]) -> object:
    """Return ``d.get(k)``, ``d.pop(k)`` or ``d.setdefault(k, v)`` of a dict of constants.

    Each is read as the item, or the default when the dict has no such key. Where it holds
    the key and a default is given too, either may be run (a first ``pop`` takes the item, a
    second the default): not read.
    """
    if not isinstance(mapping, dict) or keywords or len(args) not in (1, 2):
        raise Unreadable
    key = args[0]
    if key in mapping:
        if len(args) == 2:
            raise Unreadable
        return mapping[key]
    if len(args) == 2:
        return args[1]
    if method == "pop":
        raise Unreadable  # Python raises KeyError: such a text never runs
    return None


def _formatted(method: Callable[..., object], *args: object, **keywords: object) -> object:
    """Return what a str method makes; Unreadable where a format field names no attribute.

    ``"SELECT {0.zz}".format("a")`` raised AttributeError out of the check: a traceback.
    """
    try:
        return _sized(method(*args, **keywords))
    except AttributeError:
        raise Unreadable from None


_SUBSTITUTES = frozenset({"substitute", "safe_substitute"})
_CODED = frozenset({"decode", "encode", "format_map"})


def _coded(
    step: Step, func: ast.Attribute, args: list[object], keywords: dict[str, object]
) -> object:
    """Return ``b"…".decode(…)``, ``"…".encode(…)`` or ``"…".format_map({…})`` of constants."""
    receiver = step(func.value)
    if func.attr == "format_map":
        if not isinstance(receiver, str) or len(args) != 1 or keywords:
            raise Unreadable
        mapping = args[0]
        if not isinstance(mapping, dict):
            raise Unreadable
        _method_size(receiver, "format", list(mapping.values()))
        return _formatted(receiver.format_map, mapping)
    texts = all(isinstance(a, str) for a in [*args, *keywords.values()])
    if not isinstance(receiver, bytes if func.attr == "decode" else str) or not texts:
        raise Unreadable
    return _sized(getattr(receiver, func.attr)(*args, **keywords))


def _substituted(
    template: string.Template, method: str, args: list[object], keywords: dict[str, object]
) -> str:
    """Return ``Template(…).substitute(…)`` of constants, sized first (each ``$`` one value)."""
    if len(args) > 1 or (args and not isinstance(args[0], dict)):
        raise Unreadable
    values = [*args, *keywords.values()]
    pattern = template.template
    if len(pattern) + pattern.count("$") * sum(map(_size, values)) > LIMIT:
        raise Unreadable
    return str(_sized(getattr(template, method)(*args, **keywords)))


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
    ast.BoolOp: _either,
    ast.Subscript: _subscript,
}
