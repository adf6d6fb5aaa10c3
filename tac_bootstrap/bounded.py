"""Bounds on what one operation of a template may make, checked before it runs.

The render time limit (an alarm) interrupts a template only between Python bytecodes: one
long call in C runs to its end. ``'%*d' % (10**9, 1)`` made a gigabyte in one call (44 s
under load), ``3 ** 10**7`` computes for 11 s, and ``'x'|indent(10**9)`` or
``'x'.center(10**9)`` fill a gigabyte. So the operators and calls whose result can be far
larger than their operands are sized first, and refused with :class:`TooBigError` when
the result would be larger than a file may be (:data:`LIMIT` characters or items), or an
integer would have more than :data:`INT_BITS` bits:

- the operators ``+`` (of sequences), ``~``, ``*``, ``**`` and ``%`` (with widths,
  precisions, ``*`` taken from the values, and values shown many times through ``%(key)s``),
  and the joining of output (a template's, a macro's, a block's);
- ``str.format`` and ``format_map`` (widths, precisions and the whole result);
- the string methods ``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``,
  ``replace``, ``join`` and ``translate`` (of ``bytes`` too), and ``int.to_bytes``;
- the filters ``center``, ``indent``, ``wordwrap``, ``format``, ``join``, ``replace`` and
  ``batch``, and the value of the filters that turn it into text in one call (``tojson``,
  ``string``, ``pprint``, ``escape``, ``urlencode``); ``sum`` of lists or tuples is summed in
  a loop.

A comparison or a hash walks every item of the values it compares, a list held many times
counted each time: ``[a, a]`` doubled 31 times is 2 KB of lists, and comparing two of them
(``==``, ``<``, ``in``, a test such as ``eq``, ``sort``, ``unique``, ``min``, ``max``,
``dictsort``, ``groupby``, ``loop.changed()``, ``list.index()``, a tuple as a key) ran
2^31 item comparisons in one call (68 s; doubled 40 times, hours). So the items such a
value would walk are counted first (:func:`walked_items`, each list once) and it is refused
past :data:`LIMIT`; a sort, which compares each item some ``log2(n)`` times, past
:data:`LIMIT` with that factor.

A value shown with ``{{ }}`` that is not a string (a list holding one long string many
times) is sized the same way before it is turned into text, as is the value of every filter
that turns it into text (:data:`_TEXT_OF_VALUE`). A filter or method making a list of a
string's characters, words or lines may make at most :data:`ITEMS` of them. Loops are
interrupted by the time limit, and what many operations gather is bounded by the render's
memory budget (:func:`tac_bootstrap.render.memory_budget`).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView, Sized
from functools import update_wrapper, wraps
from typing import TYPE_CHECKING, Any

from jinja2.compiler import CodeGenerator, Frame, operators, optimizeconst
from jinja2.exceptions import TemplatesNotFound
from jinja2.sandbox import SandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.tests import test_in
from jinja2.utils import pass_environment, pass_eval_context

from tac_bootstrap.confine import MAX_FILE_BYTES

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.nodes import EvalContext
    from jinja2.runtime import Context

LIMIT = MAX_FILE_BYTES  # characters (or items) one operation may make
# Items of a list one call makes out of a string (`s|list`, `s.split()`): each item is a
# string object of about 50 bytes, so 4 Mi of them are some 200 MB.
ITEMS = 1 << 22
ESCAPED = 5  # characters HTML escaping makes of one at most ('"' is "&#34;")
INT_BITS = 1 << 20  # bits of an integer: 315,653 digits, far more than Python prints (4,300)
# Names an include (import, extends) list may hold, and their characters: each name is looked
# up in the file system, and a list of 200,000 missing names ran into the render time limit.
NAMES = 1_000
NAME_CHARS = 1 << 20
_TEXT = (str, bytes, bytearray)
_CONTAINERS = (list, tuple, dict, set, frozenset)
_SEQUENCE = (str, bytes, bytearray, list, tuple)


class TooBigError(Exception):
    """An operation of a template would make a value larger than a file may be."""


def _refuse_over(size: int, what: str) -> None:
    if size > LIMIT:
        msg = f"{what} would make {size:,} characters (or items), more than the {LIMIT:,} of a file"
        raise TooBigError(msg)


def _refuse_items(items: int, what: str) -> None:
    if items > ITEMS:
        msg = f"{what} would make a list of {items:,} strings, more than {ITEMS:,}"
        raise TooBigError(msg)


def _bits(value: int) -> int:
    return abs(value).bit_length()


def _leaf_size(item: object) -> int:
    if isinstance(item, _TEXT):
        return len(item) * 10 + 3
    if isinstance(item, bool) or item is None:
        return 5
    if isinstance(item, int):
        return _bits(item) // 3 + 2
    if isinstance(item, float):
        return 330  # "%f" of 1e308 shows 309 digits
    return 200  # a Jinja2 object (a cycler, a namespace, Undefined): shown shortly


def shown_size(value: object, limit: int = LIMIT) -> int:
    """Return an upper bound of the length of ``str(value)`` (stops counting past ``limit``).

    A string counts its own length; a string inside a container is shown as its ``repr``,
    which escapes a character in at most 10 characters. A container met again (one list
    appended many times) is counted again without being walked again; one that holds itself
    counts as too big.
    """
    if isinstance(value, str):
        return len(value)
    sizes: dict[int, int] = {}

    def size(item: object, depth: int) -> int:
        if not isinstance(item, (Mapping, list, tuple, set, frozenset)):
            return _leaf_size(item)
        if id(item) in sizes:
            return sizes[id(item)]
        sizes[id(item)] = limit + 1  # while it is walked: a container holding itself
        if depth > 100:
            return limit + 1
        parts: Iterable[object] = (
            (part for pair in item.items() for part in pair) if isinstance(item, Mapping) else item
        )
        total = 2 + 4 * len(item)
        for part in parts:
            total += size(part, depth + 1)
            if total > limit:
                break
        sizes[id(item)] = total
        return total

    return size(value, 0)


_WALKED = (Mapping, MappingView, list, tuple, set, frozenset)
_LEAVES = frozenset({str, int, float, bool, type(None)})


def walked_items(value: object, limit: int = LIMIT) -> int:
    """Return an upper bound of the items comparing or hashing ``value`` visits.

    A container counts its items plus the items of every container in it, a container held
    many times counted each time (walked once, then remembered); one holding itself, or
    nested more than 100 deep, counts as too many. Counting stops past ``limit``.
    """
    counted: dict[int, int] = {}

    def count(item: object, depth: int) -> int:
        if type(item) in _LEAVES or not isinstance(item, _WALKED):
            return 0
        if id(item) in counted:
            return counted[id(item)]
        counted[id(item)] = limit + 1  # while it is walked: a container holding itself
        if depth > 100:
            return limit + 1
        if isinstance(item, MappingView):  # a dict's keys, values or items: its dict's
            mapping = getattr(item, "mapping", None)
            parts: Iterable[object] = [mapping] if mapping is not None else iter(item)  # type: ignore[call-overload]
        elif isinstance(item, Mapping):
            parts = (part for pair in item.items() for part in pair)
        else:
            parts = item
        total = len(item)
        for part in parts:
            total += count(part, depth + 1)
            if total > limit:
                break
        counted[id(item)] = total
        return total

    return count(value, 0)


def comparable(value: Any) -> Any:
    """Return ``value``, refused first if comparing or hashing it would walk too many items."""
    if type(value) not in _LEAVES:
        walked = walked_items(value)
        if walked > LIMIT:
            msg = (
                f"comparing or hashing a value would walk more than {LIMIT:,} items "
                "(a list or tuple held many times in it is walked each time)"
            )
            raise TooBigError(msg)
    return value


def _refuse_sorting(items: Any, what: str) -> Any:
    """Size sorting (or grouping, or the least of) ``items``: each is compared ``log2(n)`` times.

    Returns ``items``, made a list if it was an iterator (it is walked before it is used).
    """
    if isinstance(items, Iterable) and not isinstance(items, (*_TEXT, Mapping, MappingView)):
        items = list(items)
    if not isinstance(items, (Mapping, MappingView, list)):
        return items
    count = len(items)
    bits = max(count.bit_length(), 1)
    nested = walked_items(items, LIMIT // bits + count) - count  # the items' own items
    if nested * bits > LIMIT:
        msg = (
            f"{what} would compare items walking more than {LIMIT:,} items "
            "(a list or tuple held many times in them is walked each time)"
        )
        raise TooBigError(msg)
    return items


def _add(left: Any, right: Any) -> Any:
    # `{% set ns.l = ns.l + ns.l %}` in a loop doubles a list: its last steps are long calls.
    if isinstance(left, _SEQUENCE) and isinstance(right, _SEQUENCE):
        _refuse_over(len(left) + len(right), "'+'")
    return operator.add(left, right)


def _repeat(left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, _SEQUENCE) and isinstance(times, int):
            _refuse_over(len(seq) * times, "'*'")
            if not isinstance(seq, _TEXT):
                _refuse_over(shown_size(seq) * times, "'*'")
    if isinstance(left, int) and isinstance(right, int):
        _refuse_bits(_bits(left) + _bits(right), "'*'")
    return operator.mul(left, right)


def _refuse_bits(bits: int, what: str) -> None:
    if bits > INT_BITS:
        msg = f"{what} would make an integer of {bits:,} bits, more than {INT_BITS:,}"
        raise TooBigError(msg)


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        _refuse_bits(right * (_bits(left) - 1) + 1, "'**'")  # at least that many
    return operator.pow(left, right)


def _digits(text: str, at: int) -> tuple[int, int]:
    end = at
    while end < len(text) and text[end].isdigit():
        end += 1
    digits = text[at:end]
    return (10**18 if len(digits) > 18 else int(digits or 0)), end


def _star_or_digits(fmt: str, at: int, next_value: Callable[[], Any]) -> tuple[int, int]:
    """Read a width or precision at ``at``: digits, or ``*`` taking the next value."""
    if fmt[at : at + 1] == "*":
        star = next_value()
        return (abs(star) if isinstance(star, int) else 0), at + 1
    return _digits(fmt, at)


def _skip(fmt: str, at: int, chars: str) -> int:
    while at < len(fmt) and fmt[at] in chars:
        at += 1
    return at


def percent_size(fmt: str, values: Any) -> int:
    """Return an upper bound of ``len(fmt % values)`` without formatting anything."""
    args = values if isinstance(values, tuple) else (values,)
    keyed = values if isinstance(values, Mapping) else {}
    size, at, used = len(fmt), 0, 0

    def next_value() -> Any:
        nonlocal used
        used += 1
        return args[used - 1] if used <= len(args) else None

    while (at := fmt.find("%", at) + 1) > 0:
        key = None
        if fmt[at : at + 1] == "(":  # a key, with nested parentheses as Python reads it
            depth, end = 1, at + 1
            while end < len(fmt) and depth:
                depth += {"(": 1, ")": -1}.get(fmt[end], 0)
                end += 1
            key, at = fmt[at + 1 : end - 1], end
        width, at = _star_or_digits(fmt, _skip(fmt, at, "-#0 +"), next_value)
        precision = 0
        if fmt[at : at + 1] == ".":
            precision, at = _star_or_digits(fmt, at + 1, next_value)
        at = _skip(fmt, at, "hlL")
        kind, at = fmt[at : at + 1], at + 1
        if kind == "%":
            continue
        value = keyed.get(key) if key is not None else next_value()
        size += width + precision + shown_size(value) * (10 if kind in ("r", "a") else 1)
        if size > LIMIT:
            break
    return size


def _percent(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        size = percent_size(left, right)
        if hasattr(left, "__html__"):  # Markup escapes the values it shows ("&" is "&amp;")
            size = len(left) + (size - len(left)) * ESCAPED
        _refuse_over(size, "'%'")
    elif isinstance(left, (bytes, bytearray)):
        _refuse_over(percent_size(left.decode("latin-1"), right), "'%'")
    return operator.mod(left, right)


def _method_size(obj: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Return an upper bound of the size of ``obj.name(*args, **kwargs)``'s result."""
    first = args[0] if args else next(iter(kwargs.values()), None)
    if name in ("center", "ljust", "rjust", "zfill"):
        return max(len(obj), first if isinstance(first, int) else 0)
    if name == "expandtabs":
        tab = first if isinstance(first, int) else 8
        tabs: int = obj.count("\t" if isinstance(obj, str) else b"\t")
        return len(obj) + tabs * max(tab, 0)
    if name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if hasattr(obj, "__html__") and isinstance(old, str) and isinstance(new, str):
            from markupsafe import escape  # Markup.replace escapes both

            old, new = escape(old), escape(new)
        if not isinstance(old, type(obj)) or not isinstance(new, type(obj)):
            return len(obj)
        found = obj.count(old) if old else len(obj) + 1
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        return len(obj) + found * max(len(new) - len(old), 0)
    if name == "join":
        items = list(first) if isinstance(first, Iterable) else []
        escaped = ESCAPED if hasattr(obj, "__html__") else 1  # Markup.join escapes the items
        return len(obj) * max(len(items) - 1, 0) + sum(shown_size(i) for i in items) * escaped
    if name == "translate" and isinstance(first, Mapping):
        longest = max((shown_size(v) for v in first.values() if v is not None), default=1)
        return len(obj) * max(longest, 1)
    if name == "to_bytes":
        return first if isinstance(first, int) else 0
    return len(obj) * _GROWTH.get(name, 0) + (
        len(first) if name == "extend" and isinstance(first, _SEQUENCE + _CONTAINERS) else 0
    )


# Methods that make at most so many characters of one: Unicode's case mappings 3 (upper
# case of "\u0390"), "unicode_escape" 10, hex() two digits and a separator; extend() 1 item.
_GROWTH = {"encode": 10, "hex": 3, "extend": 1} | dict.fromkeys(
    ("upper", "lower", "title", "capitalize", "swapcase", "casefold"), 3
)


def _items_size(obj: Any, name: str, args: tuple[Any, ...]) -> int:
    """Return an upper bound of the items of a list ``obj.name(*args)`` makes of a string."""
    sep = args[0] if args else None
    if isinstance(sep, type(obj)) and sep and name in ("split", "rsplit"):
        return obj.count(sep) + 1  # type: ignore[no-any-return]
    return len(obj) + 1  # whitespace or line ends: at most one item per character


_SPLITS = frozenset({"split", "rsplit", "splitlines"})
_SIZED_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate", "encode"}
    | {"hex", "upper", "lower", "title", "capitalize", "swapcase", "casefold"}
)


# Methods that compare or hash their arguments with the items of their owner (or one another).
_COMPARING_METHODS = frozenset({"index", "count", "remove", "get", "pop", "setdefault", "update"})


def _compared_method(owner: Any, name: str, value: Any) -> Callable[..., Any] | None:
    """Return a method that compares or hashes its arguments (or its list's items), sized first."""
    from jinja2.runtime import LoopContext

    if isinstance(owner, list) and name == "sort":

        def sort(*args: Any, **kwargs: Any) -> Any:
            _refuse_sorting(owner, "sort()")
            return value(*args, **kwargs)

        return update_wrapper(sort, value)
    if not (
        (isinstance(owner, (list, tuple, dict)) and name in _COMPARING_METHODS)
        or ((owner is dict or isinstance(owner, dict)) and name == "fromkeys")
        or (isinstance(owner, MappingView) and name == "isdisjoint")
        or (isinstance(owner, LoopContext) and name == "changed")
    ):
        return None

    def sized(*args: Any, **kwargs: Any) -> Any:
        if isinstance(owner, (list, tuple)):  # each item is compared with the argument
            comparable(owner)
        args = tuple(list(arg) if isinstance(arg, Iterator) else arg for arg in args)
        for arg in (*args, *kwargs.values()):
            comparable(arg)
        return value(*args, **kwargs)

    return update_wrapper(sized, value)


def _sized_method(value: Any) -> Callable[..., Any] | None:
    """Return ``value`` (a bound method) wrapped to be sized before it runs, if it needs it."""
    owner = getattr(value, "__self__", None)
    name = getattr(value, "__name__", "")
    compared = _compared_method(owner, name, value)
    if compared is not None:
        return compared
    if isinstance(owner, _TEXT) and name in _SPLITS:

        def split(*args: Any, **kwargs: Any) -> Any:
            items = _items_size(owner, name, args or tuple(kwargs.values())[:1])
            _refuse_items(items, f"{name}()")
            return value(*args, **kwargs)

        return update_wrapper(split, value)
    if not (
        (isinstance(owner, _TEXT) and name in _SIZED_METHODS)
        or (isinstance(owner, int) and name == "to_bytes")
        or (isinstance(owner, (list, bytearray)) and name == "extend")
    ):
        return None
    if name == "join":

        def join(items: Any) -> Any:
            items = list(items) if isinstance(items, Iterable) else items
            _refuse_over(_method_size(owner, name, (items,), {}), f"{name}()")
            return value(items)

        return update_wrapper(join, value)

    def sized(*args: Any, **kwargs: Any) -> Any:
        _refuse_over(_method_size(owner, name, args, kwargs), f"{name}()")
        return value(*args, **kwargs)

    return update_wrapper(sized, value)


class _Sized:
    """Adds to a sandboxed formatter a bound on widths, precisions and its whole result."""

    made = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        numbers = [int(d) if len(d) <= 18 else 10**18 for d in _runs_of_digits(format_spec)]
        escaped = ESCAPED if isinstance(self, SandboxedEscapeFormatter) else 1
        size = max(numbers, default=0) + shown_size(value) * escaped
        self.made += size
        _refuse_over(self.made, "format()")
        return super().format_field(value, format_spec)  # type: ignore[misc]


def _runs_of_digits(text: str) -> list[str]:
    runs, run = [], ""
    for char in text:
        if char.isdigit():
            run += char
        elif run:
            runs.append(run)
            run = ""
    return [*runs, run] if run else runs


class _SizedFormatter(_Sized, SandboxedFormatter):
    pass


class _SizedEscapeFormatter(_Sized, SandboxedEscapeFormatter):
    pass


def sized_parts(parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """Size the operands of ``~`` before they are joined: the result is as large as a file.

    ``{% set ns.s = ns.s ~ ns.s %}`` in a loop doubled a string to gigabytes in a few steps.
    An operand with ``__html__`` makes the others escaped (a character in at most 5).
    """
    factor = ESCAPED if any(hasattr(part, "__html__") for part in parts) else 1
    total = 0
    for part in parts:
        total += shown_size(part) * factor
        _refuse_over(total, "'~'")
    return parts


def sized_concat(parts: Iterable[str]) -> str:
    """Join a template's output (or a macro's, a block's), sized as it is gathered.

    A loop showing one long string 200 times yields 200 references to it: joining them in
    one call made gigabytes.
    """
    gathered, total = [], 0
    for part in parts:
        total += len(part)
        _refuse_over(total, "the output")
        gathered.append(part)
    return "".join(gathered)


class SizedCodeGenerator(CodeGenerator):
    """Jinja2's code generator, with ``~``, comparisons, keys and the joining of output sized first.

    ``~`` compiles to ``str_join((a, b))``, a call the sandbox never sees: here its operands
    pass through :func:`sized_parts` first; the operands of a comparison (``==``, ``<``,
    ``in``, ...) and the keys of a ``{...}`` literal (hashed) through :func:`comparable`. A
    macro's, a ``{% set %}`` block's and a ``{% filter %}`` block's output is joined by the
    module's global ``concat``, rebound at the end of the module to :func:`sized_concat`.
    """

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """Write ``~`` as Jinja2 does, its operands sized by the environment first."""
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"{func_name}(environment.sized_parts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        """Write a comparison as Jinja2 does, each operand sized by the environment first."""
        self.write("(environment.comparable(")
        self.visit(node.expr, frame)
        self.write(")")
        for operand in node.ops:
            self.write(f" {operators[operand.op]} environment.comparable(")
            self.visit(operand.expr, frame)
            self.write(")")
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        """Write a dict as Jinja2 does, each key (hashed) sized by the environment first."""
        self.write("{")
        for idx, item in enumerate(node.items):
            if idx:
                self.write(", ")
            self.write("environment.comparable(")
            self.visit(item.key, frame)
            self.write("): ")
            self.visit(item.value, frame)
        self.write("}")

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        """Write the module as Jinja2 does, then rebind its ``concat`` to the sized one."""
        super().visit_Template(node, frame)
        self.writeline("concat = environment.sized_concat")


class BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with the bounds of this module on one operation's result."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = SizedCodeGenerator
    sized_parts = staticmethod(sized_parts)
    sized_concat = staticmethod(sized_concat)
    comparable = staticmethod(comparable)
    concat = staticmethod(sized_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Trees parsed by :meth:`parse_kept`, by source, for the compile that follows.
        self.kept_trees: dict[str, nodes.Template] = {}
        sized = {"+": _add, "*": _repeat, "**": _power, "%": _percent}
        self.binop_table = {**self.binop_table, **sized}
        self.finalize = _shown
        for name, make in _FILTERS.items():
            self.filters[name] = make(self.filters[name])
        for name in ("center", "indent", "wordwrap", "format", "replace"):  # str() of the value
            self.filters[name] = _sized_arguments(self.filters[name], 1)
        for name, factor in _TEXT_OF_VALUE.items():
            self.filters[name] = _sized_arguments(self.filters[name], factor, _OF_ASCII.get(name))
        for name in _LIST_OF_TEXT:
            self.filters[name] = _sized_items(self.filters[name])
        for name in ("lower", "upper"):  # str() of the value
            self.tests[name] = _sized_arguments(self.tests[name], 1)  # type: ignore[arg-type]
        for name in _SORTING:
            self.filters[name] = _sized_sorting(self.filters[name], name)
        for name, test in self.tests.items():
            if test in _COMPARING_TESTS:
                self.tests[name] = _compared_arguments(test)  # type: ignore[arg-type]

    def parse_kept(self, source: str) -> nodes.Template:
        """Parse ``source``, keeping the tree for the compile of the same source that follows.

        A cold check parsed each template twice: once to read its includes (for the check
        cache), once to compile it. The compile takes the kept tree (once: compiling may
        change it) instead; :meth:`forget_kept` drops what no compile took.
        """
        tree = self.parse(source)
        self.kept_trees[source] = tree
        return tree

    def forget_kept(self) -> None:
        """Drop the trees :meth:`parse_kept` kept that no compile took."""
        self.kept_trees.clear()

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Return the tree :meth:`parse_kept` kept for ``source``, or parse it."""
        tree = self.kept_trees.pop(source, None)
        return tree if tree is not None else super()._parse(source, name, filename)

    def select_template(self, names: Any, parent: str | None = None, globals: Any = None) -> Any:
        """Try the names of an include list in turn, the list sized first (:data:`NAMES`).

        Raises:
            TooBigError: The list holds more than :data:`NAMES` names or :data:`NAME_CHARS`
                characters of names.
            TemplateRuntimeError: It is not a list, nor empty (`{% include 1 %}`): Jinja2's own
                error was ``'int' object is not iterable``.
        """
        from jinja2 import TemplateRuntimeError, Undefined

        if isinstance(names, Iterator):  # a generator: taken as far as allowed
            names = list(itertools.islice(names, NAMES + 1))
        elif not isinstance(names, (Iterable, Undefined)):
            if names:  # `{% include 1 %}`
                msg = f"includes {not_a_name(names)}"
                raise TemplateRuntimeError(msg)
            raise NamesNoTemplateError(names)  # `{% include none %}`
        if isinstance(names, Sized) and not isinstance(names, (str, Undefined)):
            count = len(names)
            if count > NAMES:
                msg = f"an include list would try {count:,} names, more than {NAMES:,}"
                raise TooBigError(msg)
            chars = _name_chars(names)
            if chars > NAME_CHARS:
                msg = (
                    f"an include list would try names of {chars:,} characters, "
                    f"more than {NAME_CHARS:,}"
                )
                raise TooBigError(msg)
        if isinstance(names, Mapping):  # its keys, tried as a list (a dict failed with KeyError)
            names = list(names)
        return super().select_template(names, parent, globals)

    def _load_template(self, name: Any, globals: Any) -> Any:
        """Load the template ``name`` (Jinja2's own hook), a name that is not a text refused.

        Jinja2's loader failed on ``{% include [1, 'x'] %}`` with ``'int' object has no
        attribute 'replace'`` (a list in a list: ``unhashable type``). An undefined name is
        left to Jinja2: an include list tries the next name.
        """
        from jinja2 import TemplateRuntimeError, Undefined

        if not isinstance(name, (str, Undefined)):
            msg = f"includes {not_a_name(name)}"
            raise TemplateRuntimeError(msg)
        return super()._load_template(name, globals)  # type: ignore[arg-type] # an Undefined too

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Subscribe ``obj``, its key (hashed, or compared) sized first."""
        return super().getitem(obj, comparable(argument))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call ``__obj``; ``dict(...)`` and ``namespace(...)`` hash their keys: sized first."""
        if __obj is dict or __obj is _namespace():
            for arg in args:
                comparable(arg)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply an intercepted operator, sized first (``+``, ``*``, ``**`` and ``%``)."""
        del context
        return self.binop_table[operator](left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Wrap a method whose result may be far larger than its operands, to size it first.

        Jinja2 calls this for every attribute a template reads, called or not (so a method
        handed to a filter is sized too): ``str.format`` and ``format_map`` are sandboxed
        and sized, the methods of :data:`_SIZED_METHODS` sized.
        """
        sized = _sized_method(value)
        if sized is not None:
            return sized
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        from markupsafe import Markup

        owner: str = value.__self__
        formatter = (
            _SizedEscapeFormatter(self, escape=owner.escape)
            if isinstance(owner, Markup)
            else _SizedFormatter(self)
        )
        is_map = value.__name__ == "format_map"

        def format_string(*args: Any, **kwargs: Any) -> str:
            formatter.made = 0
            if is_map:
                if kwargs or len(args) != 1:
                    return wrapped(*args, **kwargs)  # its own error
                kwargs, args = args[0], ()
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return update_wrapper(format_string, value)


class NamesNoTemplateError(TemplatesNotFound):
    """An include of a value that names no template (``none``, ``0``, ``false``).

    Jinja2 takes it for an empty list of names: ``ignore missing`` includes nothing (this is
    a :class:`~jinja2.TemplateNotFound`); without it, the error says what the include held,
    as that of a name that is not a text does (it said "an empty list of templates").
    """

    def __init__(self, value: object) -> None:
        super().__init__([], message=f"includes {not_a_name(value)}")


def not_a_name(name: object) -> str:
    """Say that an include, import or extends named a template by something not a text.

    The value is told by its type alone: its text could be a Python object's, or huge.
    """
    kind = "none" if name is None else type(name).__name__
    if name is not None:
        kind = f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"
    return (
        f"a template name that is not a text ({kind}): a template is named by a text, "
        "such as 'partials/header.j2'"
    )


def _name_chars(names: Any) -> int:
    """Return the characters of the names (strings) of an include list."""
    return sum(len(name) for name in names if isinstance(name, str))


def _shown(value: Any) -> Any:
    """``finalize`` of every ``{{ }}``: size a value that is not text before it is shown."""
    if not isinstance(value, str):
        _refuse_over(shown_size(value), "showing a value")
    return value


# Filters (and tests) that turn their whole value into text in one call, with the most
# characters they make of one: escaping makes "&#34;" of '"', JSON "\\udbff\\udfff" of one
# character beyond the BMP, URL quoting "%F4%8F%BF%BF", a repr "\\U0010ffff", upper case
# three of "\u0390", urlize a link of a short word.
_TEXT_OF_VALUE = {
    "tojson": 12,
    "string": 1,
    "pprint": 10,
    "e": 5,
    "escape": 5,
    "forceescape": 5,
    "urlencode": 12,
    "safe": 1,
    "upper": 3,
    "lower": 3,
    "title": 3,
    "capitalize": 3,
    "trim": 1,
    "striptags": 1,
    "truncate": 1,
    "wordcount": 1,
    "urlize": 40,
    "xmlattr": 5,
}
# Of those, the ones that make fewer of an ASCII character (``str.isascii`` is known without
# reading the text): JSON "\\u0000", URL quoting "%00", a repr "\\x00", its case one.
_OF_ASCII = {"tojson": 6, "urlencode": 3, "pprint": 4} | dict.fromkeys(
    ("upper", "lower", "title", "capitalize"), 1
)
# Filters that make a list with an item per character (or word) of a string.
_LIST_OF_TEXT = ("list", "sort", "title", "wordcount", "urlize", "slice")


def _sized_arguments(
    original: Callable[..., Any], factor: int, of_ascii: int | None = None
) -> Callable[..., Any]:
    r"""Size a filter's arguments first: the filter turns its value into text.

    ``l|tojson``, ``l|string`` or ``l|upper`` of a list holding one long string many times
    made gigabytes in one call that neither the time limit nor SIGTERM could interrupt; a
    string is sized by the characters the filter makes of one (``factor``; ``of_ascii`` for
    a string of ASCII characters only: ``('\x00' * 10**7)|tojson`` makes 60 million).
    """
    ascii_factor = factor if of_ascii is None else of_ascii

    @wraps(original)  # keeps Jinja2's pass_environment / pass_eval_context mark
    def sized(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, _CONTAINERS):
                _refuse_over(shown_size(value) * max(factor // 10, 1), "a filter's value")
            elif isinstance(value, str):
                each = ascii_factor if value.isascii() else factor
                _refuse_over(len(value) * each, "a filter's value")
        return original(*args, **kwargs)

    return sized


def _sized_items(original: Callable[..., Any]) -> Callable[..., Any]:
    """Size a filter that makes a list of a string's characters or words first."""

    @wraps(original)
    def sized(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, str):
                _refuse_items(len(value) + 1, "a filter")
        return original(*args, **kwargs)

    return sized


def _filter_sum(original: Callable[..., Any]) -> Callable[..., Any]:
    @pass_environment
    def sum_(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        # Python's sum() of lists or tuples copies the total at each step (quadratic), in one
        # call: summed here in a loop the time limit interrupts, sized as it grows.
        if not isinstance(start, (list, tuple)):
            return original(environment, iterable, attribute, start)
        from jinja2.filters import make_attrgetter

        items = list(iterable)
        if attribute is not None:
            items = list(map(make_attrgetter(environment, attribute), items))
        if not all(isinstance(item, type(start)) for item in items):
            return original(environment, items, None, start)  # its own TypeError
        total = list(start)
        for item in items:
            total.extend(item)
            _refuse_over(len(total), "'sum'")
        return type(start)(total)

    return sum_


def _filter_center(original: Callable[..., Any]) -> Callable[..., Any]:
    def center(value: Any, width: Any = 80) -> Any:
        _refuse_over(_method_size(str(value), "center", (width,), {}), "'center'")
        return original(value, width)

    return center


def _filter_indent(original: Callable[..., Any]) -> Callable[..., Any]:
    def indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        text = str(s)
        step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _refuse_over(step, "'indent'")
        _refuse_over(len(text) + (text.count("\n") + 2) * max(step, 0), "'indent'")
        return original(s, width, first, blank)

    return indent


def _filter_wordwrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @pass_environment
    def wordwrap(environment: Any, s: Any, *args: Any, **kwargs: Any) -> Any:
        wrapstring = args[2] if len(args) > 2 else kwargs.get("wrapstring")
        newline = str(wrapstring) if wrapstring is not None else environment.newline_sequence
        text = str(s)
        _refuse_over(len(text) + (len(text) + 1) * len(newline), "'wordwrap'")
        return original(environment, s, *args, **kwargs)

    return wordwrap


def _filter_format(original: Callable[..., Any]) -> Callable[..., Any]:
    def format_(value: Any, *args: Any, **kwargs: Any) -> Any:
        if not (args and kwargs):
            _refuse_over(percent_size(str(value), kwargs or args), "'format'")
        return original(value, *args, **kwargs)

    return format_


def _filter_join(original: Callable[..., Any]) -> Callable[..., Any]:
    @pass_eval_context
    def join(eval_ctx: EvalContext, value: Any, d: Any = "", attribute: Any = None) -> Any:
        items = list(value) if isinstance(value, Iterable) else value
        if isinstance(items, list) and attribute is None:
            sep = shown_size(d)
            _refuse_over(sep * max(len(items) - 1, 0) + sum(shown_size(i) for i in items), "'join'")
        return original(eval_ctx, items, d, attribute)

    return join


def _filter_replace(original: Callable[..., Any]) -> Callable[..., Any]:
    @pass_eval_context
    def replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        args = (str(old), str(new), -1 if count is None else count)
        _refuse_over(_method_size(str(s), "replace", args, {}), "'replace'")
        return original(eval_ctx, s, old, new, count)

    return replace


def _filter_batch(original: Callable[..., Any]) -> Callable[..., Any]:
    def batch(value: Any, linecount: Any, fill_with: Any = None) -> Any:
        if isinstance(linecount, int):
            _refuse_over(linecount, "'batch'")
        return original(value, linecount, fill_with)

    return batch


def _namespace() -> type:
    from jinja2.utils import Namespace

    return Namespace


# Filters that sort, group or pick the least of their value's items: each compared some
# log2(n) times (``unique`` hashes each and compares the equal ones).
_SORTING = ("sort", "unique", "min", "max", "dictsort", "groupby")
_COMPARING_TESTS = frozenset(
    {operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge, test_in}
)


def _sized_sorting(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Size a filter that compares its value's items with one another first."""
    at = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0

    @wraps(original)
    def sized(*args: Any, **kwargs: Any) -> Any:
        if len(args) > at:
            args = (*args[:at], _refuse_sorting(args[at], f"'{name}'"), *args[at + 1 :])
        return original(*args, **kwargs)

    return sized


def _compared_arguments(original: Callable[..., Any]) -> Callable[..., Any]:
    """Size the arguments of a test that compares them (``eq``, ``lt``, ``in``, ...) first."""

    def compared(*args: Any) -> Any:
        return original(*map(comparable, args))

    return update_wrapper(compared, original)


def _filter_round(original: Callable[..., Any]) -> Callable[..., Any]:
    def round_(value: Any, precision: Any = 0, method: Any = "common") -> Any:
        # round() of an int to -N digits, and the floor and ceil methods, compute 10**N in
        # one call: 5|round(-30000000) ran past the time limit, -10**9 for hours.
        if isinstance(precision, int) and (
            method != "common" or (isinstance(value, int) and precision < 0)
        ):
            _refuse_bits(abs(precision) * 10 // 3, "'round'")  # 10**N has 3.33 N bits
        return original(value, precision, method)

    return round_


_FILTERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "center": _filter_center,
    "indent": _filter_indent,
    "wordwrap": _filter_wordwrap,
    "format": _filter_format,
    "join": _filter_join,
    "replace": _filter_replace,
    "batch": _filter_batch,
    "sum": _filter_sum,
    "round": _filter_round,
}
