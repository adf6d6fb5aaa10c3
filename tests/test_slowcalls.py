"""The SQLite functions one call of which may run for minutes: bounded on untrusted connections."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tac_bootstrap import introspect, sqlcheck

# Each ran within one step of SQLite's program, which the progress handler cannot stop: the
# printf took 10 s and passed (it returns NULL past the length limit), the trim 27 s; a
# statement may hold thousands of such calls.
SLOW = {
    "printf-precision": "printf('%.*c', 2e9, 'x')",
    "printf-written": "printf('%!-5.2000000000c', 'x')",
    "printf-text-precision": "printf('%.*c', '2000000000abc', 'x')",
    "printf-blob-precision": "printf('%.*c', X'32303030303030303030', 'x')",
    "format": "format('%s %.*c', 'a', 2147483647, 'x')",
    "trim": "trim(replace(hex(zeroblob(500000)), '0', 'a'), "
    "replace(hex(zeroblob(5000)), '0', 'b') || 'a')",
    "ltrim": "ltrim(replace(hex(zeroblob(500000)), '0', 'a'), "
    "replace(hex(zeroblob(5000)), '0', 'b') || 'a')",
    "instr": "instr(replace(hex(zeroblob(4000000)), '0', 'a'), "
    "replace(hex(zeroblob(2000000)), '0', 'a') || 'b')",
    "replace": "replace(replace(hex(zeroblob(4000000)), '0', 'a'), "
    "replace(hex(zeroblob(2000000)), '0', 'a') || 'b', '')",
}


@pytest.mark.parametrize("call", list(SLOW.values()), ids=list(SLOW))
def test_a_migration_making_a_slow_call_is_stopped_at_once(call: str) -> None:
    conn = introspect.sandbox()
    started = time.process_time()
    try:
        with pytest.raises(introspect.SchemaLoadError, match=r"^stopped: it calls \w+\(\) "):
            introspect.run_script(conn, f"CREATE TABLE z (x); INSERT INTO z SELECT {call};")
    finally:
        conn.close()
    assert time.process_time() - started < 5


def test_a_schema_making_a_slow_call_is_refused() -> None:
    with pytest.raises(sqlcheck.UnsafeSchemaError, match=r"s\.sql:2: stopped here, it calls"):
        sqlcheck.load_untrusted_schema(
            f"CREATE TABLE a (x);\nCREATE TABLE z AS SELECT {SLOW['printf-precision']} AS y;",
            "s.sql",
        )


# What the bounded functions return is what SQLite's own return.
SAME = [
    "printf('%05d|%s|%.3c|%-4s|%,d', 3, 'x', 'y', 'ab', 1234567)",
    "printf('%.*c', 3, 'z')",
    "printf('%.*c', -3, 'z')",
    "printf(NULL)",
    "printf('%q %Q %w', 'it''s', NULL, 'a\"b')",
    "printf(X'2573', 'blob format')",
    "format('%d %f', 7, 1.5)",
    "trim('  a  ')",
    "trim('xxaxx', 'x')",
    "ltrim('xxaxx', 'x')",
    "rtrim('xxaxx', 'x')",
    "trim(12300, 0)",
    "trim(NULL, 'x')",
    "instr('abc', 'c')",
    "instr(X'00010203', X'02')",
    "instr(12345, 34)",
    "instr(NULL, 'a')",
    "replace('abcabc', 'b', 'xx')",
    "replace(123123, 2, 9)",
    "replace('abc', '', 'x')",
    "replace('abc', 'b', NULL)",
]


@pytest.mark.parametrize("call", SAME)
def test_a_bounded_function_returns_what_sqlite_s_own_returns(call: str) -> None:
    plain = sqlite3.connect(":memory:")
    bounded = sqlcheck.connect_untrusted()
    try:
        query = f"SELECT {call}, typeof({call})"
        assert bounded.execute(query).fetchone() == plain.execute(query).fetchone()
    finally:
        bounded.close()
        plain.close()


def test_a_bounded_function_may_serve_an_index_and_a_check() -> None:
    # SQLite allows only deterministic functions there: the replacements say they are.
    conn = introspect.sandbox()
    try:
        introspect.run_script(
            conn,
            "CREATE TABLE z (x TEXT CHECK (trim(x, ' ') <> ''), y AS (replace(x, 'a', 'b')));\n"
            "CREATE INDEX z_x ON z (instr(x, 'a'), printf('%5s', x));\n"
            "INSERT INTO z (x) VALUES ('a a'), ('bab');",
        )
        assert conn.execute("SELECT y FROM z ORDER BY x").fetchall() == [("b b",), ("bbb",)]
    finally:
        conn.close()
