"""The strings a module makes of constants alone (tac_bootstrap.computed)."""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest

from tac_bootstrap import computed

NAMES = (
    "A = 'sel'\nB = 'ect 1'\nP = ['sel', 'ect 1']\nN = 3\nT = A + B\nTWICE = 'x'\nTWICE = 'y'\n"
    "L = lambda: A + B\nLX = lambda x: x\nD = {'q': 'select 1'}\n"
)


def text(expression: str) -> str | None:
    tree = ast.parse(f"{NAMES}def f(conn, x):\n    conn.execute({expression})\n")
    call = tree.body[-1].body[0].value  # type: ignore[attr-defined]
    return computed.Folder(list(ast.walk(tree))).text(call.args[0])


@pytest.mark.parametrize(
    ("expression", "made"),
    [
        ("'sel' + 'ect 1'", "select 1"),
        ("'sel' 'ect 1'", "select 1"),
        ("'sel%s' % 'ect 1'", "select 1"),
        ("'%s%s' % ('sel', 'ect 1')", "select 1"),
        ("'%(a)s%(b)s' % {'a': 'sel', 'b': 'ect 1'}", "select 1"),
        ("'sel{}'.format('ect 1')", "select 1"),
        ("'{a}{b}'.format(a='sel', b='ect 1')", "select 1"),
        ("f\"{'sel'}ect {N}\"", "select 3"),
        ("f'{A!s}{B}'", "select 1"),
        ("''.join(['sel', 'ect 1'])", "select 1"),
        ("''.join(P)", "select 1"),
        ("A + B", "select 1"),
        ("T", "select 1"),
        ("'select 1zz'[:-2]", "select 1"),
        ("'select ' + '?, ' * N + '?'", "select ?, ?, ?, ?"),
        ("'SELECT 1'.lower()", "select 1"),
        ("'select X'.replace('X', '1')", "select 1"),
        ("str('select 1')", "select 1"),
        ("{'q': 'select 1'}['q']", "select 1"),
        ("'select 1' if N else 'x'", "select 1"),
        ("b'select 1'.decode()", "select 1"),
        ("b'sel'.decode('ascii') + 'ect 1'", "select 1"),
        # Refused as unread before (exit 2): a format_map of a dict, an encode then decode.
        ("'{a}{b}'.format_map({'a': 'sel', 'b': 'ect 1'})", "select 1"),
        ("'{a[0]}ect 1'.format_map({'a': P})", "select 1"),
        ("'select 1'.encode().decode()", "select 1"),
        ("'select 1'.encode('utf-16').decode('utf-16')", "select 1"),
        ("(A + B).encode(errors='strict').decode()", "select 1"),
        ("L()", "select 1"),  # L = lambda: A + B: was unreadable (refused as such)
        # Refused as unread before (exit 2): an item read by get, pop or setdefault, dict(k=…).
        ("D.get('q')", "select 1"),
        ("D.pop('q')", "select 1"),
        ("D.setdefault('q')", "select 1"),
        ("{}.setdefault('q', A + B)", "select 1"),
        ("D.get('z', 'select 1')", "select 1"),
        ("{'q': A}.get('q') + B", "select 1"),
        ("dict(q='select 1')['q']", "select 1"),
        ("dict(q=A + B).get('q')", "select 1"),
        # A lambda returning one of its parameters: was unread.
        ("LX('select 1')", "select 1"),
        ("(lambda x: x)(A + B)", "select 1"),
        ("(lambda x, y: y)(x, 'select 1')", "select 1"),
        # Refused as unread before (exit 2): a join of a generator of the items themselves or
        # of map(str, …), an item of globals() naming a name bound once.
        ("''.join(s for s in ['sel', 'ect 1'])", "select 1"),
        ("''.join(s for s in P)", "select 1"),
        ("''.join(s for s in (A, B))", "select 1"),
        ("' '.join(map(str, ['select', 1]))", "select 1"),
        ("''.join(map(str, P))", "select 1"),
        ("globals()['T']", "select 1"),
        ("globals()['A'] + B", "select 1"),
        # Refused as unread before (exit 2): the operand an or/and of constants selects.
        ("'' or 'select 1'", "select 1"),
        ("'x' and 'select 1'", "select 1"),
        ("'' and 'x' or T", "select 1"),
        ("N and A + B", "select 1"),
    ],
)
def test_a_string_made_of_constants_is_the_one_python_makes(expression: str, made: str) -> None:
    assert text(expression) == made


@pytest.mark.parametrize(
    "expression", ["x", "'select ' + x", "'select %s' % x", "TWICE + '1'", "f'{x}'", "len(x)"]
)
def test_the_module_s_own_values_are_not_constants(expression: str) -> None:
    assert text(expression) is None


@pytest.mark.parametrize(
    "expression",
    [
        "chr(115) + 'elect 1'",
        "''.join(c for c in 'select 1')",
        "''.join(map(chr, [115, 49]))",
        "'%999999999s' % 'x'",
        "'%*s' % (10, 'x')",
        "'{:{}}'.format('x', 10)",
        "'{:999999999}'.format('x')",
        "f'{A:>999999999}'",
        "'x' * 10 ** 9",
        "'x' * 1_000_000",
        "('x' * 300_000) + ('y' * 300_000)",
        "'select %s %s' % ('x',)",
        "b'select 1'.decode('no-such-codec')",
        "b'\\xff'.decode()",
        "'{a}'.format_map({})",
        "'{a:999999999}'.format_map({'a': 'x'})",
        "'x'.format_map({'a': 1}, {})",
        "'select 1'.encode('rot13')",
        "'select \\udc80'.encode()",
        "b'select 1'.encode()",
        # A field naming no attribute raised AttributeError out of the check: a traceback.
        "'select {0.zz}'.format('x')",
        "'select {a.zz}'.format_map({'a': 'x'})",
        # The item or the default may be run (a first pop takes the item, a second the default).
        "D.pop('q', 'x')",
        "D.get('q', 'x')",
        "D.setdefault('q', 'x')",
        "D.pop('z')",
        "'select 1'.get('q')",
        "D.get('q', 'x', 'y')",
        "dict([('q', 'select 1')])['q']",
        "dict(**D)['q']",
        "LX('select 1', 'x')",
        "(lambda x, y: x + y)('sel', 'ect 1')",
        "(lambda x='select 1': x)()",
        "(lambda *x: x)('select 1')[0]",
        # Joins read item by item only of a list or tuple, each itself or str() of it.
        "''.join(s for s in 'select 1')",
        "''.join(s for s in P if s)",
        "''.join(s + '' for s in P)",
        "''.join(s for s in P for t in P)",
        "''.join(map(repr, P))",
        "''.join(map(str, P, P))",
        "''.join(map(str, [1.5]))",
        "''.join(s for s in [1])",
        # globals() items: of a name bound once at the module's level, by a constant.
        "globals()['TWICE']",
        "globals()['x']",
        "globals()['nope']",
        "globals()['A' + '']",
    ],
)
def test_what_is_not_computed_here_is_unreadable(expression: str) -> None:
    with pytest.raises(computed.Unreadable):
        text(expression)


def test_a_name_bound_to_itself_is_no_constant() -> None:
    tree = ast.parse("A = B + 'x'\nB = A + 'y'\nQ = A\n")
    folder = computed.Folder(list(ast.walk(tree)))
    assert folder.text(tree.body[2].value) is None  # type: ignore[attr-defined]


def test_a_star_import_may_bind_any_name() -> None:
    tree = ast.parse("from q import *\nQ = chr(115)\n")
    folder = computed.Folder(list(ast.walk(tree)))
    assert folder.text(tree.body[1].value) is None  # type: ignore[attr-defined]


def folder_of(source: str) -> tuple[computed.Folder, ast.expr]:
    """Return the folder of ``source`` and the value of its last assignment."""
    tree = ast.parse(source)
    return computed.Folder(list(ast.walk(tree))), tree.body[-1].value  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "made",
    [
        "str(B)",
        "'%s' % (B,)",
        "f'{B}'",
        "f'{B!r}'",
        "str((A, A, A, A, A, A, A, A, A, A, A))",
        "str({A: A, 'b': A, 'c': A})",
        "str([A] * 10)",
        "str([[A, A], [A, A], [A, A]])",
    ],
)
def test_a_value_holding_more_than_the_limit_is_unreadable_before_it_is_made(made: str) -> None:
    # 10,000 names of one 400,000-character string: 10,000 items, 4e9 characters, which
    # str() of it made (7 GB) before its length was read.
    names = ", ".join(["A"] * 10_000)
    source = f"A = 'x' * 400_000\nB = [{names}]\nQ = {made}\n"
    folder, value = folder_of(source)
    with pytest.raises(computed.Unreadable):
        folder.text(value)


def test_each_name_is_made_once() -> None:
    # A1 = A0 + A0 ... A25 = A24 + A24 made A0 2**25 times (A40: sync-check ran past 2 minutes).
    chain = "".join(f"A{i} = A{i - 1} + A{i - 1}\n" for i in range(1, 26))
    folder, value = folder_of(f"A0 = ''\n{chain}Q = A25 + 'select 1'\n")
    assert folder.text(value) == "select 1"


def test_names_of_names_deeper_than_read_are_unreadable() -> None:
    # 70 names, each the one before: the text was "the module's own value" and passed unread.
    chain = "".join(f"A{i} = A{i - 1}\n" for i in range(1, 71))
    folder, value = folder_of(f"A0 = \"select load_extension('x')\"\n{chain}Q = A70\n")
    with pytest.raises(computed.Unreadable):
        folder.text(value)


def chain(source: str, name: str = "Q") -> list[str]:
    """Return the texts a name bound once and added to makes, read by the folder."""
    tree = ast.parse(source)
    folder = computed.Folder(list(ast.walk(tree)))
    return [str(folder.text(node)) for node in folder.chain_texts(key(folder, name)) or []]


def key(folder: computed.Folder, name: str) -> str:
    """Return the folder's key of the name a module binds and adds to (a function's own too)."""
    return next((k for k in folder.chains if computed.plain(k) == name), name)


def test_a_name_added_to_at_once_makes_one_string() -> None:
    assert chain("Q = 'select '\nQ += 'load_'\nQ += \"extension('x')\"\n") == [
        "select load_extension('x')"
    ]


def test_a_name_added_to_under_conditions_makes_each_string() -> None:
    source = "def f(a, b):\n    Q = 's'\n    if a:\n        Q += 'a'\n    if b:\n        Q += 'b'\n"
    assert chain(source) == ["sab", "sa", "sb"]  # and "s", the literal itself


def test_an_addition_in_a_loop_is_taken_once_and_twice() -> None:
    source = "def f(xs):\n    Q = 's'\n    for x in xs:\n        Q += ', ?'\n"
    assert set(chain(source)) == {"s, ?, ?", "s, ?"}


@pytest.mark.parametrize(
    "source",
    [
        "Q = 's'\n" + "if x:\n    Q += 'a'\n" * (computed.ADDITIONS + 1),
        "def f(xs):\n    Q = 's'\n" + "    for x in xs:\n        Q += 'a'\n" * 3,
    ],
)
def test_more_additions_of_constants_are_unreadable(source: str) -> None:
    with pytest.raises(computed.Unreadable):
        chain(source)


@pytest.mark.parametrize(
    "source",
    [
        "Q = 's'\nQ += x\n",  # the module's own value: read with a placeholder elsewhere
        "Q = 's'\nQ *= 2\nQ += 'a'\n",
        "Q = 's'\nQ = 't'\nQ += 'a'\n",
    ],
)
def test_other_additions_are_the_module_s_own_code(source: str) -> None:
    tree = ast.parse(source)
    folder = computed.Folder(list(ast.walk(tree)))
    assert folder.text(ast.Name("Q", ast.Load())) is None


@pytest.mark.parametrize(
    ("source", "made"),
    [
        ("import string\nQ = string.Template('sel$x').substitute(x='ect 1')\n", "select 1"),
        ("import string as s\nQ = s.Template('sel${x}').substitute({'x': 'ect 1'})\n", "select 1"),
        (
            "from string import Template\nQ = Template('sel$x').safe_substitute(x='ect 1')\n",
            "select 1",
        ),
        (
            "from string import Template as T\nP = T('$a$b')\nQ = P.substitute(a='sel', b='ect 1')\n",  # noqa: E501
            "select 1",
        ),
    ],
)
def test_a_template_of_constants_is_the_string_it_makes(source: str, made: str) -> None:
    folder, value = folder_of(source)
    assert folder.text(value) == made


@pytest.mark.parametrize(
    "source",
    [
        "import string\nQ = string.Template('$x' * 1000).substitute(x='y' * 100_000)\n",
        "import string\nQ = string.Template('$x').substitute(x='y' * 500_000)\n",
    ],
)
def test_a_template_past_the_limit_is_unreadable_before_it_is_made(source: str) -> None:
    folder, value = folder_of(source)
    with pytest.raises(computed.Unreadable):
        folder.text(value)


@pytest.mark.parametrize(
    "source",
    [
        "import string\nstring = 'x'\nQ = string.Template('sel$x').substitute(x='ect 1')\n",
        "from mine import Template\nQ = Template('sel$x').substitute(x='ect 1')\n",
        "import string\nQ = string.Template('sel$x').substitute(x=y)\n",
    ],
)
def test_a_template_not_of_python_s_string_module_is_the_module_s_own(source: str) -> None:
    folder, value = folder_of(source)
    assert folder.text(value) is None


def test_additions_past_the_bounds_are_unreadable_and_read_quickly(
    python_calls: Callable[[Callable[[], object]], int],
) -> None:
    # 10,000 additions to one name, and 300 names of 5 optional additions each (9,600 strings):
    # each made no more strings than the bounds allow, and the rest is unreadable.
    many = "Q = 's'\n" + "Q += 'a'\n" * 10_000
    names = "".join(
        f"def f{i}(c):\n    Q{i} = 's'\n"
        + "    if c:\n        Q{i} += 'a'\n".replace("{i}", str(i)) * 5
        for i in range(300)
    )
    with pytest.raises(computed.Unreadable):
        chain(many)
    nodes = list(ast.walk(ast.parse(names)))
    folders: list[computed.Folder] = []
    calls = python_calls(lambda: folders.append(computed.Folder(nodes)))
    assert calls < 30 * len(nodes), (calls, len(nodes))
    made = [len(folders[0].chain_texts(key(folders[0], f"Q{i}")) or []) for i in range(16)]
    assert made == [31] * 16
    with pytest.raises(computed.Unreadable):
        folders[0].chain_texts(key(folders[0], "Q299"))


@pytest.mark.parametrize("names", [250, 1000])
def test_the_additions_of_many_names_are_found_in_one_reading_of_their_block(
    names: int, python_calls: Callable[[Callable[[], object]], int]
) -> None:
    # Each name's block was read again from its binding on: 2,000 names each added to at the
    # end of the module (30 KB) took a minute, 10,000 half an hour (5,000 calls a node at 1,000).
    source = "".join(f"A{i} = 'x'\n" for i in range(names))
    source += "".join(f"A{i} += 'y'\n" for i in range(names))
    nodes = list(ast.walk(ast.parse(source)))
    calls = python_calls(lambda: computed.Folder(nodes))
    assert calls < 30 * len(nodes), (calls, len(nodes))


def test_the_strings_of_names_added_to_are_bounded_in_characters() -> None:
    # 5 optional additions to a 300,000-character name: 31 strings of up to 1.5 MB each.
    source = "def f(c):\n    Q = 'x' * 300_000\n" + "    if c:\n        Q += 'a'\n" * 5
    tree = ast.parse(source)
    folder = computed.Folder(list(ast.walk(tree)))
    with pytest.raises(computed.Unreadable):
        folder.chain_strings(key(folder, "Q"))
    with pytest.raises(computed.Unreadable):  # made once: the same answer again
        folder.chain_strings(key(folder, "Q"))


@pytest.mark.parametrize("depth", [10, 1000])
def test_names_read_in_nested_scopes_are_resolved_within_bounds(
    depth: int, python_calls: Callable[[Callable[[], object]], int]
) -> None:
    # Each name read in the innermost of 1,000 nested lambdas was looked for in each scope
    # around it: scopes past the 32nd are read as part of the 32nd (counted bound there).
    source = "".join(f"n{i} = 'x'\n" for i in range(2000))  # each read in the innermost
    source += "F = " + "lambda: " * depth + "(" + ", ".join(f"n{i}" for i in range(2000)) + ")\n"
    nodes = list(ast.walk(ast.parse(source)))
    names = next(node for node in nodes if isinstance(node, ast.Tuple))

    def read() -> None:
        assert computed.Folder(nodes).text(names) is None  # a tuple of the module's strings

    calls = python_calls(read)
    assert calls < 30 * len(nodes), (calls, len(nodes))


def test_a_function_s_own_name_is_keyed_by_its_scope() -> None:
    source = (
        "q = 'm'\n\n\ndef f():\n    q = 'f'\n    return q\n\n\n"
        "def g():\n    global q\n    q = 'g'\n\n\ndef h():\n    return q\n"
    )
    tree = ast.parse(source)
    folder = computed.Folder(list(ast.walk(tree)))
    f_q, h_q = tree.body[1].body[1].value, tree.body[3].body[0].value  # type: ignore[attr-defined]
    assert folder.text(f_q) == "f"  # f's own q, bound once there
    assert folder.text(h_q) is None  # the module's q, bound twice (g declares it global)


def _made(source: str) -> str | None:
    """Return the text the check makes of what the module's last function passes to execute.

    None where it makes none or refuses it as unread.
    """
    tree = ast.parse(source)
    call = tree.body[-1].body[0].value  # type: ignore[attr-defined]
    try:
        return computed.Folder(list(ast.walk(tree))).text(call.args[0])
    except computed.Unreadable:
        return None


@pytest.mark.parametrize(
    "source",
    [
        "def dict(**k):\n    return k\n",
        "dict = lambda **k: k\n",
        "from x import *\n",
    ],
)
def test_dict_bound_by_the_module_is_not_read_as_the_builtin(source: str) -> None:
    assert _made(f"{source}def f(conn):\n    conn.execute(dict(q='select 1')['q'])\n") is None


@pytest.mark.parametrize(
    "source",
    [
        "globals()['Q'] = 'attach'\n",
        "globals().update(Q='attach')\n",
        "g = globals\n",
        "def f():\n    return globals()\n",
        "def globals():\n    return {'Q': 'attach'}\n",
        "from x import *\n",
    ],
)
def test_globals_written_or_not_the_builtin_is_not_read(source: str) -> None:
    """globals()["Q"] reads Q only where the module reads its namespace by such items alone."""
    module = f"Q = 'select 1'\n{source}def h(conn):\n    conn.execute(globals()['Q'])\n"
    assert _made(module) is None


@pytest.mark.parametrize(
    "source",
    [
        "def map(f, items):\n    return ['attach']\n",
        "str = repr\n",
        "from x import *\n",
    ],
)
def test_a_map_not_of_the_builtins_is_not_read(source: str) -> None:
    module = f"{source}def h(conn):\n    conn.execute(''.join(map(str, ['select 1'])))\n"
    assert _made(module) is None


def test_each_text_is_made_once_and_stays_its_node_s() -> None:
    tree = ast.parse("A = 'sel'\nQ = A + 'ect 1'\nR = A + 'ect 2'\n")
    folder = computed.Folder(list(ast.walk(tree)))
    q, r = tree.body[1].value, tree.body[2].value  # type: ignore[attr-defined]
    assert [folder.text(q), folder.text(r), folder.text(q)] == ["select 1", "select 2", "select 1"]
    made = ast.BinOp(ast.Constant("x"), ast.Add(), ast.Constant("y"))
    assert folder.text(made) == "xy"
    again = ast.BinOp(ast.Constant("z"), ast.Add(), ast.Constant("w"))
    assert folder.text(again) == "zw"  # never another node's text, whatever its id
