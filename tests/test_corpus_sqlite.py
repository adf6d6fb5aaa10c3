"""The SQLite corpus: hostile and legitimate schemas, migration chains and database modules.

Each line of ``tests/corpus/sqlite.jsonl`` is one case run through the library functions
``sync-check`` uses for a project's SQLite files (in this process, no subprocess):

- ``input.schema``: appended to a generated orchestrator project's schema (its
  ``user_version`` raised to the chain's last number), loaded by
  :func:`tac_bootstrap.sqlcheck.loaded_schema`, the one loader of an untrusted schema, through
  a :class:`~tac_bootstrap.sqlcheck.SharedSchema` as ``sync-check`` loads it for its checks
  (read-only, loaded again when the text changes: cases in a row that leave the schema as
  generated, or add as many migrations, share one load);
- ``input.migrations``: added to the project's chain as ``0004_z0.sql``, ``0005_z1.sql``, …
  (each ending with its ``PRAGMA user_version``), checked by
  :func:`tac_bootstrap.chain.check_migrations`;
- ``input.module``: appended to the project's ``database.py`` (its ``SCHEMA_VERSION`` raised
  with the chain), checked by :func:`tac_bootstrap.agreement.check_statements` against the
  loaded schema.

``OUTSIDE`` in an input is replaced by a folder outside the project, which must stay empty.
A case is ``refused`` when one of them raises (``sync-check`` exits 2), a ``problem`` when one
returns problems or the schema does not load (exit 1), and ``passes`` otherwise (exit 0).
A part the case leaves as generated is not checked again for it (the generated project is
checked once, and passes): a case without migrations does not rebuild the chain, one without
a module does not prepare the module's statements. The models agreement and the diagram are
not run: they name tables the models lack, not what reaches outside the database.

Every hostile case must be refused or a problem, except those listed with
``"expect": "passes"`` and a ``why`` (judged harmless: they read or write nothing outside the
database). Every legitimate case (``"hostile": false``) must pass.

How the corpus was made: a generator wrote 2,179 cases (1,936 hostile, 133 legitimate and
110 module cases run again): calls of ``edit``/``readfile``/``writefile``/``load_extension``/
``fts3_tokenizer``/``sqlite_dbpage`` in 24 spellings placed in views, triggers, defaults,
CHECKs, generated columns, indexes and added columns, in the schema and in a migration
(also created by one migration and dropped by the next); ATTACH, VACUUM INTO, PRAGMAs,
virtual tables and table-valued functions as statements; database-module strings that
attach or vacuum into a file without being passed straight to ``execute``. Kept here: every
case of a kind found and fixed, every case judged harmless, every statement, module and
legitimate case; of the calls placed in objects, one case per (place, function), the first
met. Identical inputs are kept once. Left out: three legitimate views calling
``concat``/``concat_ws``/``octet_length``, which compile or not with the SQLite version.

A second generator wrote 827 cases (669 hostile, 158 legitimate), each also run through the
installed ``sync-check`` under a 4 GiB address-space limit: PRAGMAs that act when a statement
is only prepared (``temp_store_directory``, ``hard_heap_limit``, ``soft_heap_limit``,
``threads``, ``mmap_size``, ...) as database-module strings in 8 spellings and as schema and
migration statements in 5; their table-valued functions; strings with NULs or lone
surrogates; ``WITH`` queries whose names read each other twice ``NOT MATERIALIZED`` in
``ATTACH``/``VACUUM INTO`` strings and statements (a gigabyte of SQLite's memory to prepare);
single calls SQLite spends minutes on (``printf('%.*c', 2e9, 'x')``, ``trim``, ``instr``,
``replace`` of millions of characters) in a migration's rows, triggers, defaults, generated
columns, CHECKs and indexes and the schema's ``CREATE TABLE … AS``; time and memory bombs
(recursive ``WITH``, ``randomblob(2e9)``, ``zeroblob``); temporary objects, ``temp.x``
hiding ``main.x``, ``writable_schema``, ``sqlite_master`` writes, ``legacy_alter_table``
renames, objects a later migration breaks without touching them; upper-case messages passed
to ``print``, loggers and exceptions. Kept here: 186 of them (131 hostile, 25 of them judged
harmless; 55 legitimate), one or a few per kind, every kind found and fixed among them. Left
out: the ``WITH`` bombs (each takes seconds and a gigabyte; ``test_agreement`` holds them
under a 64 MiB heap), strings of megabytes, and a legitimate-looking
``print('Vacuum done into %s')``, which SQLite parses as ``VACUUM done INTO x`` (refused).

Another generator respelt cases of this file three ways outside their string literals
(letters' case swapped, ``/* c */`` before each comma and ``/**/`` before each parenthesis,
each space made ``\t \r\n ``) and judged them as here: 1,104 hostile and 447 legitimate
respellings, each with the outcome of its original, but two legitimate ones whose respelling
broke a ``--`` comment into code (then refused: right). Kept here: 74 of them (65 hostile, 9
legitimate), the first of each kind, ids ``r17/<how>-<id>``.
A third generator widened the known kinds mechanically into 2,432 cases (1,678 hostile, 754
legitimate), each run through the installed ``sync-check`` on a copy of a generated project
under a 4 GiB address-space limit: every case of this corpus respelt (upper, lower and mixed
case, block and line comments, whitespace and form feeds, no spaces, quoted function names,
Unicode comments; a module's strings in double, triple, ``f""``, escaped, bytes, implicit and
``+`` spellings), moved (a module's statement into the schema and a migration, a schema's
object into a migration and back, a module's code into a class, a function, an ``if`` or a
``try``, before, between and after other migrations), combined two and three at a time, scaled
(30 copies, 40 migrations, views 60 deep, 300 messages before or after) and written with CRLF
line ends or a byte-order mark. Kept here: 140 of them (13 of the kinds found and fixed, 127 a
sample of every family; 3 hostile judged harmless; legitimate combinations whose schema lacks
the migration that makes it left out). A ``+`` of string constants (``"select load_e" +
"xtension('x')"``) passed: it is now read as the one literal Python makes.

A fourth generator enumerated the neighbours of those finds (1,812 cases) and widened this
file again with new seeds (2,350 cases not met before; one more axis: a module's strings
written as ``%``, ``.format``, ``"".join``, an f-string of constant fields, a slice, ``*`` or
``str()`` of their parts): every eponymous virtual table and table-valued function of common
builds (``sqlite_dbpage``, ``sqlite_dbdata``, ``sqlite_stmt``, ``dbstat``, ``json_each``,
``generate_series``, every ``pragma_*`` function, ``fts5vocab``, ``fsdir``, ``zipfile``, FTS and
R*Tree shadow tables, ...) in views, triggers, migration rows and module strings, read and
written; 26 ways Python makes a string of constants, reaching ``execute``, bound to a name
and printed; 22 message forms (``print``, loggers, ``log.log``, ``warnings.warn``, exceptions
and their ``args``, ``sys.stderr.write``, ``typer.echo``, ``%``, ``.format``, f-strings) of 16
SQL-shaped texts, as message and as statement; 90 PRAGMA names, in the schema (no value,
``= 1``, a path) and in a migration (also ``= 0``, ``(table)``, ``main.``). Kept here: 87 of
them, ids ``r18/…`` and ``r18w/…``: the kinds found and fixed (a ``%``/``.format``/``join``
of constants reaching ``execute`` passed; ``print('Vacuum done into %s' % path)`` was
refused; a parent table rebuilt as the project's runner rebuilds it was a problem;
``log.log(…)`` of a logger named ``log`` was a problem; an f-string with a field calling
``load_extension()`` passed to ``execute`` passed; ``%``, ``.format``, slices or ``* 1`` of
constants making an ATTACH or VACUUM INTO passed), and a sample of each family.

A fifth generator wrote 6,370 cases: 344 migrations run through the generated project's own
runner first (its ``upgrade()``, whose result decides the outcome due: a failure is a problem,
and a success passes with the schema the runner's database holds): 54 PRAGMAs before, after
and a migration before a table; PRAGMAs with the effect they change (recursive triggers,
``legacy_alter_table`` renames, ``case_sensitive_like`` in a CHECK, deferred keys, cascades);
``BEGIN``, ``COMMIT``, ``END``, ``ROLLBACK``, ``SAVEPOINT``, ``RELEASE`` and ``ROLLBACK TO``
in a migration; triggers that fire, ``RAISE`` or break a foreign key during one; tables and
columns renamed under views, triggers, indexes and foreign keys, with and without
``legacy_alter_table``. Then 5,520 messages (22 calls of ``print``, loggers, ``log.log``,
``warnings.warn``, exceptions, ``typer.echo`` and streams, by 15 computed forms, a name added to
and ``string.Template`` among them, by 16 texts) and statements, and 512 texts that join a
value the module computes into what reaches ``execute`` (f-strings, ``%``, ``.format``, ``+``,
``join``, ``Template``, ``+=``; the value at the start, middle and end). Kept here: 47 of them,
ids ``r19/…``: the kinds found and fixed (a name added to with ``+=`` and a
``string.Template`` of constants were not read; names compared case-sensitively between the
chain and the schema; a Template message was refused; a field that may be the verb of an
ATTACH or VACUUM INTO passed, and so did a ``string.Template`` field) and a sample of the
runner family.

A sixth generator wrote 3,759 cases: 914 database-module texts that the module completes with
a value of its own when it runs (13 legitimate query shapes, 14 hostile ones and 6 with a
second, constant value, each by 16 forms: f-strings, ``%`` of a value, a tuple and a dict,
``.format`` and ``.format_map``, ``+``, ``join``, ``string.Template``, a constant in an
f-string's field, ``+=``, each also bound to a name first); 155 migrations run through the
project's runner first (``BEGIN``/``COMMIT``/``END``/``ROLLBACK`` in every spelling and place,
savepoints; tables, columns, indexes, views, triggers, foreign keys and CHECKs named past
ASCII); 400 hostile texts of every statement kind (``INSERT``/``UPDATE``/``DELETE``/``REPLACE``/
``VALUES``/``WITH`` calling a file function, writing ``sqlite_master``, followed by ``PRAGMA``,
``ATTACH``, ``VACUUM INTO``, ``DETACH``, ``ALTER``, ``DROP``, ``BEGIN``, ``CREATE TEMP``)
completed by each of those forms; and 2,290 new cases of the mechanical widening with another
seed. Kept here: 71 of them, ids ``r20/…``: the kinds found and fixed (such a completed query
was prepared as written, a problem, and one whose text prepares passed with a constant value
calling ``load_extension()``; ``sqlite_dbpage`` in an f-string and a write of
``sqlite_master`` with a field passed; a migration's ``BEGIN`` passed; a ``string.Template``
message without a field, or of a ``+``, was a problem or refused) and a sample of each family.
A literal whose first statement creates, drops or alters, passed to ``execute``, was not read
(it passed), nor what a ``%`` or an f-string passed to it started with: 8 cases, ids
``lead20/…``, 5 hostile (refused now) and 3 legitimate (savepoints and messages naming
``CREATE`` and ``DROP``, which pass).

A migration or a statement passed to ``execute`` holding a NUL byte (a file saved as UTF-16
without its byte-order mark has one after each character) ended the check in a traceback
(``ValueError: embedded null character``, from ``sqlite3.complete_statement``): 5 cases, ids
``r21/…``, each a problem now (``line 1 holds a NUL byte, which is not SQL``; the module's
statement does not prepare). They come from a run of every file the commands read saved in
UTF-16 and UTF-32, with and without a byte-order mark (270 command runs), and their neighbours.
Such a migration (UTF-16 without its mark, little- or big-endian: ``r21/nul-migration-utf16-
no-bom``, ``r22/utf16be-nobom-migration``) is now refused, named by its bytes (``looks like
UTF-16 without a byte-order mark``); a NUL elsewhere stays the problem it was. From a run of
9 files by 4 encodings without a mark by 6 command forms (216 runs).

A seventh generator wrote 4,035 cases: 1,184 database-module texts completed at run time (20
legitimate query shapes, among them a field that is a value list, a column list, a join, an
alias, a table, part of a name or a ``WITH``'s name, and 17 hostile ones: a table, column or
function the schema lacks, a first word made at run time before ``TABLE``/``INDEX``/``VIEW``/
``TRIGGER``, a write of ``sqlite_master`` behind ``WITH`` or ``OR IGNORE main.``), each by the
16 forms above, also bound to a name and built in a method; 1,908 more of the last two kinds
(9 objects, 7 schema tables, 7 write verbs, with and without ``WITH``) and 80 legitimate
neighbours; and 2,851 cases of the mechanical widening with seed 21 (1,250 of them new and run
through the installed ``sync-check``). Kept here: 89 of them, ids ``r21/…``: the kinds found
and fixed (an f-string without a field completed with ``%`` was prepared as written; the
names of a text made at run time were not looked up; such a text beginning with a value of
the module's own before ``TABLE`` passed, as did ``"DROP TABLE %s" % t`` bound to a name; the
table written behind a ``WITH`` was not read), the upkeep statements that pass (``VACUUM``,
``ANALYZE``, ``REINDEX``, ``DETACH``, ``EXPLAIN``), one hostile case judged harmless (reading
``pragma_writable_schema``, which cannot set it) and a sample of each family.
Five more (ids ``r21/named-…``, ``r21/computed-template-refused``): a ``string.Template``
whose text is a name bound to a literal or a string made of constants passed, read as written
(its ``$a`` fields are SQLite parameters); a query literal bound to a name and completed with
``%``, ``format`` or ``substitute`` was a problem; and one such literal also run as written.

An eighth round: the known kinds again, in more scopes. A name was counted bound once
module-wide: two functions each binding a local ``q`` (``q = '… WHERE '; q += p`` in one) made
that literal a problem (``incomplete input``), and a function's own ``E = "load_extension('x')"``
completing ``'SELECT %s …' % E`` passed when another function bound ``E = p``; a literal bound to
a name and completed with a constant in a use (``Q % 3``) was prepared as written. Kept here:
15 cases, ids ``r22/…``: those kinds (methods of two classes, a nested function, a lambda, a
comprehension, a module constant of the same name; ``global`` and ``nonlocal`` additions and a
name read from the function around, which stay problems). Then a generator wrote 4,610 cases
(2,850 of the mechanical widening with seed 22 on this file, 1,979 of them not met before;
1,760 database-module texts of the shapes above by the 16 forms, also in two scopes binding one
name, completed with a constant, and ``string.Template`` of texts computed of constants), of
which 1,651 ran through the installed ``sync-check`` (1,002 hostile, 649 legitimate). Kept
here: 32 more ``r22/…``: the kinds it found and fixed (a name added to, ``q = ''; q += verb;
q += ' TABLE t'``, passed, as did the names its additions write after a value; a ``join`` by a
separator made of constants, ``(' ' + '').join(['ATTACH', p, 'AS y'])``, passed) and a sample of
each family.

Outcomes that depend on the SQLite build. Python's ``sqlite3`` links the system's library
(3.40.1 here, for every Python 3.6 to 3.13), whose options decide what exists. Run against
SQLite 3.50.4 built with the raw page table (``SQLITE_ENABLE_DBPAGE_VTAB``), ``dbstat`` and
``trusted_schema`` off (the sqlean.py build), 26 of these outcomes differ and none becomes a
pass:

- 24 cases adding a column to the schema whose ``CHECK`` or default calls
  ``load_extension()`` or ``fts3_tokenizer()`` (``r1/obj-schema-204``, ``-205``,
  ``r2/r2-obj-schema-613`` … ``-855``, ``r17/combine2-hl-4653``,
  ``r17/position-middle-3912``) are refused here (the compiled table names the function) and
  a problem there: SQLite itself stops the ``ALTER TABLE`` (``unsafe use of
  load_extension()``), so the schema does not load. In a migration they are problems on
  both, with that message there. ``r17/move-chain2schema-3671`` (the column added and
  dropped in the schema) passes here and is that problem there.
- ``r17/scale-nested60-5181`` (a view calling ``load_extension()`` 60 subqueries deep) is a
  problem here (SQLite 3.40.1's parser: ``parser stack overflow``) and refused there (3.50.4
  parses it; the compiled view names the function).
- ``sqlite_dbpage``: no such table here (a problem); there the table exists, and reading or
  writing it is refused by every guard (``UPDATE sqlite_dbpage SET data = …`` in a migration
  ran there and passed before that guard, ``r17/chain-dbpage-0``).
- Of the first 809 cases, 36 more keep their outcome with another message
  (``non-deterministic use`` here, ``unsafe use`` there; ``no such table: sqlite_dbpage``
  here, ``access … is prohibited`` there).

A generator with seed 23 wrote 1,483 cases (1,317 hostile, 166 legitimate): the six file
functions in 4 spellings each (quoted, bracketed, back-quoted, commented before the
parenthesis) in 18 places of the schema and of a migration (also created and dropped),
23 statements (ATTACH, VACUUM INTO, PRAGMAs, ``sqlite_master`` writes), and 15 hostile
database-module texts (schema changes, file functions, ATTACH, VACUUM INTO, ``sqlite_dbpage``,
``sqlite_master`` writes) by 41 forms (literal, names in scopes, class and instance attributes,
f-strings, ``%``, ``format``, ``format_map``, ``string.Template`` by name, additions,
``join``, lambdas, comprehensions, aliases of ``execute``, a function's return completed or
added to, an attribute or subscript completed); 1,348 of them again for the fixtures'
``syncrepo``, of which a sample ran through the installed ``sync-check`` with BASE and
template alike. Kept here: 99 ``r23/…``, the kinds found and fixed (a text completed from a
function's return, an attribute, a subscript or a name bound twice; a ``Template`` bound to a
name; a text led by a value calling a file function; a schema change iterated or returned
into ``execute``) and a sample of the rest.

A generator with seed 24 wrote 4,830 cases (4,303 hostile, 527 legitimate; 53 it wrote as
invalid Python left out): last round's families again, the file functions in 24 more spellings
(``main.edit``, ``char()`` arguments, comments and newlines before the parenthesis) in 33
places (windows, nested views, ``CASE``, ``EXISTS``, upserts and ``INSTEAD OF`` triggers,
table CHECKs, ``STRICT`` and ``WITHOUT ROWID`` tables), 30 statements (``ATTACH`` of a
subquery, ``printf`` or ``char()``, ``KEY``, ``VACUUM temp INTO``, quoted schema tables
written), 34 hostile database-module texts by 31 new forms (a walrus, ``match``, decorators,
``async``, conditional expressions, tuples unpacked, ``getattr(conn, 'exe' + 'cute')``, a
dict, a function returning in a branch, ``format_map`` and ``encode`` of constants, a lambda,
and texts whose verb is a value the check does not read: a parameter, a ``%``/``format``
field, a call, an attribute, a name, split constants, a ``join``, a str method, ``+=``, a
``Template`` field, a walrus, a value in the middle of a script), legitimate module edits and
combinations. 2,748 ran here, 300 through the installed ``sync-check``. Kept here: 57
``r24/…``, the kinds found and fixed (the schema table named after an unread value; a file
function made of constants read one by one or led by a ``%`` field; a schema change given
through a walrus, a conditional expression, a tuple unpacked, a comprehension of its own items,
``getattr`` of a ``+`` or a str method of a text made at run time; a lambda's text refused as
unread), those judged harmless and a sample of the rest.

A generator with seed 25 wrote 6,883 cases: last round's families again and 48 new forms of
the hostile and legitimate database-module texts (containers bound twice, subscripted by a
value, ``get``/``pop``/``setdefault``, class attributes subscripted, ``getattr`` of a name
bound to ``"execute"``, made of constants, bound twice or a parameter, ``methodcaller``,
``partial``, properties, generators and async generators iterated, ``match`` mappings, names
bound twice and added to, ``bytes.decode``, ``join`` of generators, starred arguments,
closures, ``globals()``); 2,812 ran here. Kept here: 56 ``r25/…``, the kinds found and fixed
(a schema change reached through each of those forms, a ``match`` pattern among them, passed;
a name bound twice and added to made an ``ATTACH`` that passed) and their legitimate
counterparts.

A generator with seed 26 wrote last round's families again (6,895 cases, 2,812 run here, 200
through the installed ``sync-check``) and 2,621 new ones: 55 database-module forms (parameter
defaults, ``contextlib.contextmanager``, ``functools.reduce``, ``itertools.chain``,
``codecs.decode``, a dict's ``values()``/``items()`` iterated, names rebound through
``globals()``, ``vars()``, ``locals()`` or ``setattr``, ``getattr`` defaults, ``or``/``and``,
descriptors, enums, class hierarchies, ``match`` guards, …) by the payloads above, new schema
objects and chains that rename, drop and recreate. Kept here: 39 ``r26/…``, the kinds found and
fixed (a schema change reached through each of those forms, an ``ATTACH``, ``VACUUM INTO``, file
function or ``sqlite_master`` write made by another module's function of constants, passed) and
the three forms now read (``"".join(s for s in […])``, ``" ".join(map(str, […]))``,
``globals()["Q"]``), with their legitimate counterparts.

The same generator with seed 27 (6,852 cases) and round 26's new forms again (2,621) found
nothing new beyond the forms listed as left then. Kept here: ``r27/…``, those left forms now
refused or read (a text ``codecs.decode`` makes by rot13 or UTF-8, read as that literal; a
descriptor's ``__get__``, an Enum member's ``.value``, a function's return bound to a name;
``exec``/``eval`` refused; other decoders' texts unread), and ``r27/x-…``, new forms (seed 27's
extension set) by which a schema change reached ``execute`` unread (``self.__dict__``,
``__class_getitem__``, ``__call__``, ``map(conn.execute, …)``, dataclass and namedtuple
defaults, ``E["Q"].value``, ``operator.attrgetter``, ``re.sub``, ``importlib``, ``array``):
a literal written as a schema change is refused wherever it is.

The same generators with seed 28 found nothing new. Kept here: ``r28/…``, a schema change let
be as a function's own name, a message shown or a docstring, then read back at run time
(``locals()[k]``, ``vars()``, a frame's ``f_locals``, ``co_consts``, ``__doc__``, a closure's
cell, an exception caught, ``redirect_stdout``, ``print(…, file=…)``), and one written in lower
or mixed case reached ``execute`` by a form the check does not follow: each passed, now
refused; a lower-case ``ATTACH`` or ``VACUUM INTO`` shown, and a docstring calling a file
function or writing ``sqlite_master``, read back the same ways (passed; now refused or a
problem); with their legitimate counterparts.

Functions some builds lack (``concat``, ``concat_ws``, ``octet_length`` before 3.44; ``edit``,
``readfile`` and ``writefile`` outside the shell) are the reason the legitimate views calling
them were left out above.

To add a case, append a line with a new ``id`` and the outcome the check has now; a hostile
case that passes needs a ``why``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tac_bootstrap import agreement, chain, scaffold, sqlcheck
from tac_bootstrap.errors import TacBootstrapError
from tac_bootstrap.manifest import Agreement, load_manifest
from tac_bootstrap.spec import ProjectSpec

CORPUS = Path(__file__).parent / "corpus" / "sqlite.jsonl"
CASES: list[dict[str, Any]] = [json.loads(line) for line in CORPUS.read_text().splitlines()]
PACKAGE = "src/base"
VERSION = 3  # the generated chain's last number


@dataclass
class Project:
    root: Path
    outside: Path
    agreement: Agreement
    schema: str
    module: str
    # The schema loaded once for each text, read-only, as sync-check loads it for all of its
    # checks: cases in a row that leave it as generated (or add as many migrations) share it.
    shared: sqlcheck.SharedSchema = field(default_factory=sqlcheck.SharedSchema)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("corpus")
    root = folder / "p"
    scaffold.init(ProjectSpec.build("base", with_orchestrator=True), root)
    manifest = load_manifest(root)
    assert manifest is not None
    assert manifest.agreement is not None
    outside = folder / "outside"
    outside.mkdir()
    package = root / PACKAGE
    shared = sqlcheck.SharedSchema()
    yield Project(
        root,
        outside,
        manifest.agreement,
        (package / "schema_orchestrator.sql").read_text(),
        (package / "database.py").read_text(),
        shared,
    )
    shared.close()
    shutil.rmtree(folder)


def write_case(project: Project, given: dict[str, Any]) -> tuple[str, list[Path]]:
    """Write a case's files into the project; return its schema and the migrations written."""
    package = project.root / PACKAGE

    def place(text: str) -> str:
        return text.replace("OUTSIDE", str(project.outside))

    migrations = [place(m) for m in given["migrations"]]
    last = VERSION + len(migrations)
    schema = project.schema.replace(
        f"PRAGMA user_version = {VERSION};", f"PRAGMA user_version = {last};", 1
    )
    if given["schema"]:
        schema += "\n" + place(given["schema"]) + "\n"
    module = project.module.replace(f"SCHEMA_VERSION = {VERSION}", f"SCHEMA_VERSION = {last}", 1)
    if given["module"]:
        module += "\n\n" + place(given["module"])
    (package / "schema_orchestrator.sql").write_text(schema)
    (package / "database.py").write_text(module)
    written = []
    for j, migration in enumerate(migrations):
        number = VERSION + 1 + j
        path = package / "migrations" / f"{number:04d}_z{j}.sql"
        path.write_text(f"{migration}\nPRAGMA user_version = {number};\n")
        written.append(path)
    return schema, written


def outcome(project: Project, case: dict[str, Any]) -> tuple[str, str]:
    """Run ``case`` through the checks; return its outcome and what the check said."""
    given = case["input"]
    root, database = project.root, project.agreement.database
    schema, written = write_case(project, given)
    said: list[str] = []
    try:
        if given["schema"] is not None or given["module"] is not None:  # else: as generated
            loaded = sqlcheck.loaded_schema(schema, project.agreement.schema, project.shared)
            with loaded as conn:
                if given["module"] is not None and database:
                    said += [p.message for p in agreement.check_statements(conn, root, database)]
        if written:
            said += [
                p.message for p in chain.check_migrations(root, project.agreement, project.shared)
            ]
    except TacBootstrapError as exc:
        return "refused", str(exc)
    except sqlite3.Error as exc:  # the agreement check names it: exit 1
        return "problem", f"the schema does not load into SQLite: {exc}"
    finally:
        for path in written:
            path.unlink()
    return ("problem" if said else "passes"), "\n".join(said)


def test_the_corpus_is_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))
    shapes = [json.dumps(case["input"], sort_keys=True) for case in CASES]
    assert len(shapes) == len(set(shapes))
    for case in CASES:
        assert case["expect"] in ("refused", "problem", "passes"), case["id"]
        assert case["why"], case["id"]
        if not case["hostile"]:
            assert case["expect"] == "passes", case["id"]


def test_the_generated_project_passes_unchanged(project: Project) -> None:
    case: dict[str, Any] = {"input": {"schema": None, "migrations": [], "module": ""}}
    assert outcome(project, case) == ("passes", "")
    assert chain.check_migrations(project.root, project.agreement) == []


# Run in the order of the number of migrations a case adds: the project's schema and database
# module are then the same text case after case (user_version, SCHEMA_VERSION), so loaded and
# read once for a run of them, not once a case.
ORDERED = sorted(CASES, key=lambda case: len(case["input"]["migrations"]))


@pytest.mark.parametrize("case", ORDERED, ids=[case["id"] for case in ORDERED])
def test_each_case_has_its_outcome(project: Project, case: dict[str, Any]) -> None:
    got, said = outcome(project, case)
    assert got == case["expect"], (
        f"{case['id']} ({case['why']}): expected {case['expect']}, got {got}: {said[:400]}\n"
        f"input: {json.dumps(case['input'])[:2000]}"
    )
    assert not any(project.outside.iterdir()), f"{case['id']} wrote outside the project"
