"""The strings a module makes of constants alone (tac_bootstrap.computed)."""

from __future__ import annotations

import ast

import pytest

from tac_bootstrap import computed

NAMES = "A = 'sel'\nB = 'ect 1'\nP = ['sel', 'ect 1']\nN = 3\nT = A + B\nTWICE = 'x'\nTWICE = 'y'\n"


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
        "b'select 1'.decode()",
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
