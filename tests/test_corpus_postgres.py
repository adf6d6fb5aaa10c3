"""A regression corpus of hostile and legitimate PostgreSQL texts, judged in-process.

``tests/corpus/postgres.jsonl`` holds one case a line: ``id``, ``kind``, ``family`` (how it
was made), ``hostile``, ``expect``, ``input``; ``why`` where a hostile case passes (the reason
it is harmless) or a legitimate one is refused (the README's contract). The kinds are what
``sync-check`` reads, and each is judged by the library functions it calls:

- ``schema``: the PostgreSQL schema file: :func:`tac_bootstrap.pgguard.check` (refused), then
  a NUL byte or a schema that does not parse (a problem);
- ``migration``: a PostgreSQL migration, beside the shipped schema:
  :func:`tac_bootstrap.pgguard.check` with ``migration=True`` (refused), a NUL byte (a problem);
- ``literal``: one string literal of the PostgreSQL database module (``Q = <literal>``), and
  ``module``: a whole module's source: :func:`tac_bootstrap.pgcheck.check_statements` against
  the shipped schema (refused, or problems: a statement that does not fit the schema).

``expect`` is ``refused`` (the check stops, exit 2), ``problem`` (exit 1) or ``passes``. Every case
has that outcome with sqlglot 30.22 (the lowest ``pyproject.toml`` allows; ``.ci/lowest`` runs this
test with it) and with the current one.

How the cases were chosen: a generator wrote 11,032 texts (10,384 hostile: 12 harmful
expressions, each in 12 spellings, in 28 schema wrappers, 14 migration wrappers and 24 module
literal wrappers, plus 618 whole statements and 262 whole literals; 648 legitimate). Kept:
every whole statement, whole literal and legitimate text; every hostile text that passes
(each with the reason it was judged harmless on a PostgreSQL 15.18 server); and of the
expression grid, two expressions for each kind, spelling and wrapper, turned so that every
expression appears with every wrapper's kind, and one more wherever the outcome differs within
that group. Beside them: lower-case command literals that pass as messages (every command word,
those the server parsed as statements, and a few more of each first word), and every input
found and fixed by hand (ids ``fixed-…``); and 360 multi-statement migrations (ids
``split-…``, three seeds of 120) that hide ``COPY … TO PROGRAM`` in strings and comments, or
leave it where the server's lexer reads it as code, all kept; and 288 ``SET LOCAL
search_path`` migrations (ids ``search-path-…``, four seeds of 40 values, alone and after a
``CREATE SCHEMA`` of each schema named), whose passes were run on the server. And 793 cases
(ids ``pg16-…``) of a second generator's 5,623 texts (5,311 hostile, 312 legitimate): settings
that reach outside (38 settings in 35 spellings: ``SET``, ``set_config``, ``UPDATE pg_settings``,
``ALTER DATABASE|ROLE|FUNCTION|SYSTEM … SET``, a function's ``SET`` clause, a body's), objects
that read the server's files (text search dictionaries, ICU collations, conversions, access
methods, foreign data wrappers, languages, ...), 70 PL/pgSQL bodies in five wrappers (a
function, ``DO``, a procedure and ``CALL``, ``SECURITY DEFINER``, ``BEGIN ATOMIC``), row locks
and reads of 29 catalogue relations through CTEs, subqueries, ``LATERAL``, ``TABLESAMPLE`` and
views, ``LOCK TABLE`` in every mode, resource bombs, texts the lexers may read differently, casts,
large objects and module literals naming relations the module makes: every hostile text that
passes (each run on a 15.18 server as superuser in a throwaway database, its ``why`` what the
server did), every legitimate one, and up to six refused ones of each family and kind. And 724
cases (ids ``pg17-…``) of a third generator's 11,224 texts (9,051 hostile, 2,173 legitimate), made
from the 4,835 cases of this corpus and the PostgreSQL cases of the hostile and pgcheck tests by
widening each mechanically: respelt (7,490: keywords and names in lower, upper and mixed case,
blanks and line ends, comments, nested comments, quoted names, strings dollar-quoted and back,
strings continued over lines, semicolons, non-breaking and ideographic spaces, homoglyphs, the
long s), moved (2,091: first, middle and last in the shipped schema, in a migration alone or in a
transaction, as a literal, in a module's ``execute``, joined or formatted, in a plpgsql, sql or
``BEGIN ATOMIC`` body, in a function in a function), combined two and three at a time (900) and
scaled (743: repeated 10 to 1,000 times, 2,000 parentheses or nested comments deep, long names,
1,600 columns, 5,001 statements, 100,000 characters): every hostile text that passes where its
seed was refused (each run on a 15.18 server as superuser, its ``why`` what the server did), and
up to two of each family, kind and outcome. And 1,002
cases (ids ``pg18-…``) of a fourth round's 60,998 texts: every statement keyword of PostgreSQL's
grammar (150 statements) bare, cut at each word, or with only ``;`` or a comment after it, in
a schema, a migration, a literal (upper and lower case), a module's ``execute``, a plpgsql body
(33,024); a call of ``pg_read_file``, of a harmless function and a table name in 19 spellings
(quoted, ``U&``, schema-qualified with comments and blanks, ...) in 38 places of a statement,
with 26 lexing traps (``E'…'``, dollar quotes in comments and comments in dollar quotes, ...)
(10,960); 42 ways a Python module makes one string from constants (294); and the third
generator run again with another seed, three respellings a seed, more moves and combinations,
names qualified with ``pg_catalog``/``public`` and statements in parentheses (16,720 new):
every hostile text that passes and was run on a 15.18 server (its ``why`` what the server did),
one of each keyword family, kind, outcome and command, and one or two of each other family,
kind and outcome; and the round's fixed finds (``fixed-body-analyse…``,
``fixed-parenthesised-…``). And 323 cases (ids ``pg19-…``) of a fifth round's 11,341 texts,
each in a group the server reads alike: 56 statements' 414 spellings and synonyms
(``ANALYSE``, ``END``, ``ABORT``, ``START TRANSACTION``, ``VACUUM``/``CLUSTER`` option forms,
``CREATE OR REPLACE``, ``TABLE t``, ``VALUES``, ``SET NAMES``/``SCHEMA``/``TIME ZONE``, ...) in
ten places (schema, migration alone and in a transaction, plpgsql, procedure, sql and
``BEGIN ATOMIC`` bodies, literals in both cases, ``execute``) (4,091); a catalogue relation,
ten settings, 21 languages and the project's own functions named in every form (quoted,
upper-case, ``U&"…"`` with ``UESCAPE``, schema-qualified with comments, homoglyphs, past 63
bytes) in every statement that names them (6,926); and a module query with a missing table or
column behind 37 wrappings (parentheses, ``WITH``, subqueries, set operations, ``LATERAL``,
``VALUES``, ...) (324): every legitimate text and hostile pass (each hostile pass run on a 15.18
server) of each group, kind and outcome, and 100 refused; and the round's fixed finds
(``fixed-paren-…``, ``fixed-continued-…``, ``fixed-return-…``, ``fixed-derived-…``,
``fixed-body-lock-…``, ...). And 552 cases (ids ``pg20-…``) of a sixth round's 20,042 texts:
the fourth round's generator again with another seed (respelt 12,131, moved 3,284, combined
1,500, scaled 703) and the neighbours of the round's known items (2,424: ``ALTER``, ``DROP`` and
``COMMENT ON`` of a ``ROUTINE``, ``FUNCTION`` or ``PROCEDURE``, 33 settings in five ``SET``
forms and six places, ``EXPLAIN (…)`` in seven places, names past 63 bytes in ASCII and
two-byte letters, quoted own names spelt as PostgreSQL's, ``TABLE`` and ``VALUES`` queries in
seven wrappings): one of each family, kind, hostility and outcome, and two of each hostile pass
(each run on a 15.18 server, its ``why`` what the server did); and the round's fixed finds
(``fixed-spelt-…``, ``fixed-lookup-…``). And 544 cases (ids ``pg21-…``) of a seventh round's
23,547 texts: the fourth round's generator again with another seed (respelt 13,559, moved 3,354,
combined 1,500, scaled 705) and the neighbours of the round's known items (4,429: ``INSERT``,
``UPDATE``, ``DELETE`` and ``MERGE`` in parentheses, with and without a ``WITH``, in 16
migration places, 13 function-body places and module literals; ``WITH`` query and ``SEARCH`` or
``CYCLE`` column names spelt as 13 statement words; quoted names with capitals in every place a
function, relation, setting or schema is named; ``PROCEDURE`` forms): one of each family, kind,
hostility and outcome, and two of each hostile pass (each run on a 15.18 server, its ``why``
what the server did); and the round's fixed finds (``fixed-pwith-…``, ``fixed-ctename-…``,
``fixed-quoted-…``, ``fixed-schema-quoted-…``, ``fixed-with-values-…``, ``fixed-procedure-…``).
Two more of that round's samples were dropped: a trigger's ``EXECUTE FUNCTION`` of a quoted
name with capitals is read by sqlglot's parser, whose outcome differed between sqlglot 29 (then
the lowest allowed) and later versions (a parse problem in one, a pass in the other). And 452
cases (ids ``pg22-…``) of an eighth round's 23,276 texts: the fourth round's generator again
with another seed (respelt 13,267, moved 3,208, combined 1,500, scaled 690) and the neighbours of
the round's known items (4,611: PostgreSQL's unreserved words that sqlglot reads as keywords as
the names of ``WITH`` queries and their columns, columns, aliases, tables and functions; calls
of quoted names with capitals spelt as sqlglot's functions, defined and not; output columns
named in ``ORDER BY`` and ``GROUP BY``): one of each family, kind, hostility and outcome, and
two of each family and kind of the hostile passes run on a 15.18 server (its ``why`` what the
server did); and the round's fixed finds (``fixed-qcall-…``, ``fixed-kwname-…``,
``fixed-output-…``). Each had the same outcome with sqlglot 29.0.0 (then the lowest allowed)
and the current one; a text whose outcome differed between them (``WITH values AS (…) SELECT n
FROM values``) was left out. And 157 cases (ids ``r23/…``) of a ninth round's 14,667 texts
(14,588 hostile, 79 legitimate): 18 functions that reach outside or describe the server in 16
spellings (quoted, upper and mixed case, ``pg_catalog``-qualified with comments, ``U&"…"``
with and without ``UESCAPE``, comments and line ends before ``(``, ``E'…'`` and dollar-quoted
arguments, ``VARIADIC``, ``CAST``, NO-BREAK SPACE) and 6 reads of catalogue secrets in 8
(quoted, qualified, ``U&``, ``WITH``, ``LATERAL``, ...), each in 8 schema, 10 migration, 10
literal and 5 module wrappers (11,088); 60 whole statements (``COPY … PROGRAM``, ``DO`` with
``EXECUTE`` of strings, extensions, ``ALTER SYSTEM``, roles, ``GRANT``, ``LOAD``, languages,
locks of catalogues, ...) in 16 spellings (case, comments, nested comments, blanks, CRLF,
non-ASCII blanks, ``;;`` before, ``E''``, ``U&''`` and dollar-quoted strings, quoted names)
in a migration, the schema and a literal, and moved into a transaction, a function's body,
after a query, a module's ``execute`` and before the schema (3,240); 200 two-statement
combinations, 60 scaled texts (500 nested comments, 300 parentheses, 200 statements) and the
legitimate texts: one of each family, kind, hostility and outcome, every legitimate text and
up to two of each hostile pass by family and kind (each run on a 15.18 server, its ``why``
what the server did); and the round's fixed finds (``r23/fixed-reserved-…``,
``r23/fixed-quoted-keyword-…``, ``r23/fixed-value-…``). And cases (ids ``r24/…``) of a
tenth round's 15,360 texts run of 41,767 made (15,178 hostile, 182 legitimate): 58 functions
that reach outside or describe the server (the ninth round's and ``pg_current_xact_id``,
``txid_current``, ``pg_export_snapshot``, ``lo_get``/``lo_put``/``lo_from_bytea``,
``dblink_exec``, ``pg_logical_emit_message``, ``pg_notify``, ``table_to_xml``,
``pg_relation_size('pg_authid'::regclass)``, ...) in 52 spellings (the ninth round's and
``"PG_CATALOG".``, a database-qualified name, CR and CRLF and line comments before ``(``,
``u&"…"``, six-digit and mid-name escapes, named arguments, ``ROW``, ``ARRAY``, ``CASE``,
``ROWS FROM``, ``LATERAL``, window and ``FILTER``, the attribute notation, ``e'…'`` octal,
``U&'…'`` and ``$é$`` strings, long s and Cyrillic letters, ``::regproc``) and four two-spelling
combinations each, and 18 reads of catalogue secrets in 17, each in a literal (30 wrappers:
``MERGE``, ``ON CONFLICT``, data-modifying ``WITH``, ``DISTINCT ON``, ``EXPLAIN``, ...), a
migration (25) and a schema (23: partial indexes, trigger ``WHEN``, domains, ``RETURN``
bodies, ``EXCLUDE``, ...) or a module (16: ``join``, ``%`` of a dict, ``Final``, class
attributes, ``executemany``, ``cursor``) wrapper; 145 whole statements (the ninth round's and
``RESET``, session roles, ``ALTER FUNCTION … SECURITY DEFINER``/``SET search_path``, operators,
casts, conversions, dictionaries, aggregates and types naming PostgreSQL's functions,
``COPY … STDIN``, ``PREPARE TRANSACTION``, user mappings, ``standard_conforming_strings``,
``client_encoding``, ``session_replication_role`` and other settings, ``pg_temp`` and
``public`` shadows, data-modifying ``WITH`` on catalogues, ...) in 24 respellings and 11 moves;
28 lexing traps in five places; two- and three-statement combinations, legitimate statements
and traps before hostile ones, and scaled texts: one of each family, kind, hostility and
outcome, one hostile pass of each family and statement (each run on a 15.18 server or judged
by hand, its ``why``), every legitimate text; and the round's fixed finds (``r24/fixed-…``).
And cases (ids ``r25/…``) of an eleventh round's 7,585 texts run of 48,055 made: the tenth
round's generator with another seed, widened by 45 more functions (``pg_control_system``,
``pg_get_functiondef``, ``lo_create``, ``dblink_open``, ``pg_show_all_settings``, ...), 22
spellings (``COLLATE``, ``xmlelement``, ``json_build_object``, ``ANY (ARRAY[…])``, ``WITH
ORDINALITY``, ``UESCAPE '#'``, an escaped ``_``, ``$_$`` strings, comments in the arguments),
19 literal, 16 migration, 9 schema and 20 module wrappers (``TABLESAMPLE … REPEATABLE``, window
frames, ``GROUPING SETS``, ``ALTER … TYPE … USING``, partition bounds, policies, rules, names
rebound, containers, functions returning texts, ``getattr``, ``copy_from_query``), 80 more
whole statements and 15 lexing traps (U+2028 and NEL in line comments, ``-/* */-``, ...); and
every PostgreSQL keyword as a column, an operand, a function, a table, an alias and a ``WITH``
name (15,180, of which 1,500 run): one of each family, kind, hostility and outcome, one hostile
pass of each class (each run on a 15.18 server, its ``why``), every new legitimate text; and the
round's fixed finds (``r25/fixed-…``). And cases (ids ``r30/…``) of the same generators run again
whole, seeded again (65,820 texts, every keyword text among them): the forms each fixed
(calls named in a schema in a literal read loosely, ``AS into``/``AS create`` labels, ``s.not``,
``explain(…)`` after a CASE's ``ELSE``) and those fixed beside them.
A text
found twice is kept once, under its ``fixed-…`` id where it has one. A new case is a line added to
the file with the outcome the check gives now (``expect``), and a ``why`` for a hostile text
that passes.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from tac_bootstrap import pgcheck, pgguard, sqlcheck
from tac_bootstrap.errors import TacBootstrapError

CORPUS = Path(__file__).parent / "corpus" / "postgres.jsonl"
SCHEMA = Path(__file__).parents[1] / "tac_bootstrap" / "orchestrator" / "schema_postgres.sql"
OUTCOMES = {"refused", "problem", "passes"}
KINDS = ["schema", "migration", "literal", "module"]


@cache
def _schema() -> tuple[str, pgcheck.Schema]:
    text = SCHEMA.read_text(encoding="utf-8")
    return text, pgcheck.parse_schema(text)


@cache
def _shipped() -> tuple[frozenset[str], frozenset[str]]:
    """Return the shipped schema's functions and schemas, and its relations, read once.

    :func:`tac_bootstrap.pgguard.defined_names` of several texts is the union of each one's.
    """
    text = _schema()[0]
    return pgguard.defined_names(text), pgguard.defined_relations(text)


def judge(kind: str, text: str) -> tuple[str, str]:
    """Return ``(outcome, detail)`` for one input, as ``sync-check`` judges it."""
    try:
        found = _problem(kind, text)
    except TacBootstrapError as exc:
        return "refused", str(exc)
    return ("passes", "") if found is None else ("problem", found)


def _problem(kind: str, text: str) -> str | None:
    """Check one input as ``sync-check`` does: raise where it stops, or return a problem."""
    schema = _schema()[1]
    if kind == "schema":
        pgguard.check(text, "schema_postgres.sql", migration=False, own=pgguard.defined_names(text))
        if sqlcheck.nul_line(text) is not None:
            return f"NUL byte on line {sqlcheck.nul_line(text)}"
        try:
            pgcheck.parse_schema(text)
        except sqlglot.errors.ParseError as exc:  # one problem, as check_postgres says
            return f"does not parse: {str(exc)[:200]}"
        return None
    if kind == "migration":
        own = _shipped()[0] | pgguard.defined_names(text)
        pgguard.check(text, "migrations_postgres/0001_x.sql", migration=True, own=own)
        line = sqlcheck.nul_line(text)
        return None if line is None else f"NUL byte on line {line}"
    source = text if kind == "module" else f"Q = {text!r}\n"
    own, relations = _shipped()
    problems = pgcheck.check_statements(source, "database_postgres.py", schema, own, relations)
    return "; ".join(p.message for p in problems)[:300] if problems else None


def _cases() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def test_the_corpus_is_well_formed() -> None:
    cases = _cases()
    ids = [case["id"] for case in cases]
    assert len(ids) == len(set(ids))
    for case in cases:
        assert case["kind"] in KINDS, case["id"]
        assert case["expect"] in OUTCOMES, case["id"]
        assert case["hostile"] in (True, False), case["id"]
        if case["hostile"] and case["expect"] == "passes":
            assert case.get("why"), f"{case['id']}: a hostile case that passes needs a why"
        if not case["hostile"]:
            assert case["expect"] == "passes" or case.get("why"), f"{case['id']}: needs a why"


@pytest.mark.parametrize("kind", KINDS)
def test_every_case_has_its_outcome(kind: str) -> None:
    wrong = []
    for case in _cases():
        if case["kind"] != kind:
            continue
        outcome, detail = judge(case["kind"], case["input"])
        if outcome != case["expect"]:
            wrong.append(
                f"{case['id']}: expected {case['expect']}, got {outcome} {detail!r};"
                f" input {case['input']!r}"
            )
    assert not wrong, f"{len(wrong)} cases:\n" + "\n".join(wrong[:50])


@pytest.mark.parametrize("kind", ["schema", "migration", "literal"])
def test_a_refused_case_names_what_it_refuses(kind: str) -> None:
    outcome, detail = judge(kind, "SELECT pg_read_file('/etc/passwd');")
    assert outcome == "refused"
    assert "pg_read_file" in detail


def test_the_corpus_is_no_file_sync_check_pairs() -> None:
    root = Path(__file__).parents[1]
    with (root / "pyproject.toml").open("rb") as file:
        sync = tomllib.load(file)["tool"]["tac-bootstrap"]["sync"]
    matched = {path for glob in sync["base_globs"] for path in root.glob(glob)}
    assert CORPUS not in matched
    assert not any(path.is_relative_to(CORPUS.parent) for path in matched)
