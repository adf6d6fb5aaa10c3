"""What a PostgreSQL definition may change: the project's own objects, never the catalogue's."""

from __future__ import annotations

import asyncio
import os

import pytest

from tac_bootstrap import pgfunctions, pgguard

BODY = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN {0}; END $$;"

# Each ran on a PostgreSQL 15 server as a superuser (the tests' role), and changed the catalogue,
# the database, a role or another session: refused, with what the message says.
ON_THE_SERVER = {
    # a catalogue function replaced, or one created in PostgreSQL's schemas
    "CREATE OR REPLACE FUNCTION pg_catalog.lower(text) RETURNS text LANGUAGE sql "
    "AS 'SELECT $1';": "CREATE FUNCTION pg_catalog.lower (PostgreSQL's catalogue",
    "CREATE FUNCTION pg_catalog.myf(text) RETURNS text LANGUAGE sql AS 'SELECT $1';": (
        "pg_catalog.myf"
    ),
    "CREATE DOMAIN pg_catalog.d AS text;": "CREATE DOMAIN pg_catalog.d",
    "CREATE TABLE information_schema.t (x int);": "CREATE TABLE information_schema.t",
    # a search_path naming pg_catalog: an unqualified CREATE puts its object there
    "SET search_path = pg_catalog;": "a search_path with pg_catalog",
    "SET LOCAL search_path TO 'pg_catalog, public';": "a search_path with pg_catalog",
    "CREATE FUNCTION g() RETURNS int LANGUAGE sql SET search_path = pg_catalog, public "
    "AS 'SELECT 1';": "a search_path with pg_catalog",
    # comments on what is not the project's
    "COMMENT ON DATABASE postgres IS 'x';": "COMMENT ON database (not an object a schema",
    "COMMENT ON ROLE postgres IS 'x';": "COMMENT ON role",
    "COMMENT ON EXTENSION plpgsql IS 'x';": "COMMENT ON extension",
    "COMMENT ON LANGUAGE plpgsql IS 'x';": "COMMENT ON language",
    "COMMENT ON TABLESPACE pg_default IS 'x';": "COMMENT ON tablespace",
    "COMMENT ON TABLE pg_catalog.pg_class IS 'x';": "COMMENT ON TABLE pg_catalog.pg_class",
    "COMMENT ON FUNCTION lower(text) IS 'x';": "COMMENT ON FUNCTION lower",
    "COMMENT ON TYPE int4 IS 'x';": "COMMENT ON TYPE int4",
    "COMMENT ON COLUMN pg_class.relname IS 'x';": "COMMENT ON COLUMN pg_class",
    "COMMENT ON SCHEMA pg_catalog IS 'x';": "COMMENT ON SCHEMA pg_catalog",
    # catalogue objects renamed, given away, moved into or dropped
    "ALTER VIEW pg_catalog.pg_roles RENAME TO r2;": "ALTER VIEW pg_catalog.pg_roles",
    "ALTER VIEW pg_roles RENAME TO r2;": "ALTER VIEW pg_roles",
    "ALTER VIEW information_schema.tables RENAME TO t2;": "ALTER VIEW information_schema.tables",
    "ALTER TYPE int4 RENAME TO i4;": "ALTER TYPE int4",
    "ALTER TYPE pg_catalog.text OWNER TO postgres;": "ALTER TYPE pg_catalog.text",
    "ALTER DOMAIN information_schema.sql_identifier RENAME TO s2;": "ALTER DOMAIN information",
    "ALTER SCHEMA pg_catalog RENAME TO pgc;": "ALTER SCHEMA pg_catalog",
    "ALTER SCHEMA information_schema OWNER TO postgres;": "ALTER SCHEMA information_schema",
    "DROP VIEW information_schema.tables;": "DROP VIEW information_schema.tables",
    "DROP VIEW IF EXISTS v_absent, pg_catalog.pg_roles;": "DROP VIEW pg_catalog.pg_roles",
    "DROP TYPE information_schema.yes_or_no CASCADE;": "DROP TYPE information_schema.yes_or_no",
    "ALTER TABLE t SET SCHEMA pg_catalog;": "SET SCHEMA pg_catalog (moves an object into",
    "ALTER TYPE mood SET SCHEMA pg_catalog;": "SET SCHEMA pg_catalog",
    # a schema's elements are statements the check did not read as such
    "CREATE SCHEMA s GRANT ALL ON TABLE t TO PUBLIC;": "CREATE SCHEMA with elements",
    # in a function's body, as at the top of a file
    BODY.format("REASSIGN OWNED BY pgtargets_r TO CURRENT_USER"): "REASSIGN (not something",
    BODY.format("ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC"): "GRANT",
    BODY.format("COMMENT ON DATABASE postgres IS 'x'"): "COMMENT ON database",
    BODY.format("ALTER VIEW pg_roles RENAME TO r3"): "ALTER VIEW pg_roles",
    BODY.format("CREATE DOMAIN pg_catalog.dd AS text"): "CREATE DOMAIN pg_catalog.dd",
    BODY.format("DROP SCHEMA information_schema CASCADE"): "DROP SCHEMA information_schema",
    BODY.format("ALTER TABLE t SET SCHEMA pg_catalog"): "SET SCHEMA pg_catalog",
    BODY.format("SET LOCAL search_path = pg_catalog"): "a search_path with pg_catalog",
    BODY.format("LOCK pg_authid"): "a write to the catalogue pg_authid",
    # each relation of a list is locked (t passed, and pg_class after it was not read)
    BODY.format("LOCK t, pg_class IN SHARE MODE"): "a write to the catalogue pg_class",
    BODY.format("LOCK TABLE t *, pg_catalog.pg_db_role_setting IN ACCESS SHARE MODE"): (
        "pg_db_role_setting"
    ),
    BODY.format("DISCARD SEQUENCES"): "DISCARD (not something",
    BODY.format("LISTEN c"): "LISTEN (not something",
    BODY.format("ANALYZE"): "ANALYZE (not something",
    BODY.format("ANALYSE"): "ANALYSE (not something",  # the same command, spelt so
    BODY.format("analyse VERBOSE t"): "ANALYSE (not something",
    # a range's function, named without call syntax, is called by the server all the same
    "CREATE TYPE tr AS RANGE (SUBTYPE = text, SUBTYPE_DIFF = pg_read_file);": (
        "SUBTYPE_DIFF = pg_read_file (a function the type calls"
    ),
}

REFUSED = {
    **ON_THE_SERVER,
    BODY.format("REINDEX SYSTEM postgres"): "REINDEX (not something",
    BODY.format("CLUSTER"): "CLUSTER (not something",
    BODY.format("TRUNCATE t, pg_class"): "a write to the catalogue pg_class",
    BODY.format('TRUNCATE TABLE ONLY t, ONLY "pg_largeobject"'): "pg_largeobject",
    BODY.format("ALTER LARGE OBJECT 1 OWNER TO pg_monitor"): "ALTER LARGE",
    BODY.format("SECURITY LABEL ON TABLE t IS 'x'"): "SECURITY (not something",
    "DROP TRIGGER tr ON pg_catalog.pg_class;": "DROP TRIGGER ON pg_catalog.pg_class",
    "ALTER TRIGGER tr ON information_schema.sql_features RENAME TO t2;": "ALTER TRIGGER ON info",
    "COMMENT ON TRIGGER tr ON pg_class IS 'x';": "COMMENT ON TRIGGER ON pg_class",
    "DROP FUNCTION lower(text);": "DROP FUNCTION lower",
    "CREATE SCHEMA s CREATE TABLE t (x int);": "CREATE SCHEMA with elements",
    "CREATE TYPE b (INPUT = 'textin', OUTPUT = textout);": "INPUT = textin",
    "ALTER TYPE b SET (RECEIVE = pg_read_binary_file);": "RECEIVE = pg_read_binary_file",
    'CREATE TYPE tr AS RANGE (SUBTYPE = int4, CANONICAL = "pg_catalog".pg_ls_dir);': (
        "CANONICAL = pg_ls_dir"
    ),
    "CREATE FUNCTION pg_temp_3.f() RETURNS int LANGUAGE sql AS 'SELECT 1';": "pg_temp_3.f",
    'SET search_path = public, "pg_toast";': "a search_path with pg_toast",
    # escapes spell information_schema: its refused views would be read unqualified
    "SET search_path = U&'information\\005fschema', public;": "a search_path beside an E'…'",
    "SET search_path = E'information\\x5fschema', public;": "a search_path beside an E'…'",
    "SET search_path = 'information_'\n'schema', public;": "a search_path with information_schema",
    # a child table's rows are read with its parent's: every read of pg_proc would return them
    "CREATE TABLE ghosts () INHERITS (pg_catalog.pg_proc);": "inherits pg_catalog.pg_proc",
    "CREATE TABLE ghosts (x int) INHERITS (t, pg_class);": "inherits pg_class",
    "ALTER TABLE ghosts INHERIT pg_attribute;": "inherits pg_attribute",
    # unqualified, a catalogue name: made in pg_catalog wherever a search_path puts it there
    "CREATE OR REPLACE FUNCTION lower(text) RETURNS text LANGUAGE sql AS 'SELECT $1';": (
        "CREATE FUNCTION lower (a name of PostgreSQL's catalogue"
    ),
    "CREATE OR REPLACE VIEW pg_tables AS SELECT 1 AS x;": "CREATE VIEW pg_tables (a name of",
    # another session's temporary table
    "CREATE INDEX i ON pg_temp_1.t (x);": "a write to the catalogue pg_temp_1.t",
    # pg_temp before the project's schemas: an unqualified CREATE makes a temporary object, and
    # a temporary table is found before the project's (in a SECURITY DEFINER function's too)
    "SET search_path = pg_temp, public;": "a search_path with pg_temp before the project's",
    "SET search_path = pg_temp;": "a search_path with pg_temp before",
    # "$user" alone before it: where no schema is named after the role, pg_temp is first
    'SET search_path = "$user", pg_temp;': "a search_path with pg_temp before",
    # a string is one schema's name (15.18: SHOW gives "pg_temp, public"), which nobody creates
    "SET LOCAL search_path TO 'pg_temp, public';": "a search_path with pg_temp, public (a schema",
    "SET search_path = 'pg_temp', 'public';": "a search_path with pg_temp before",
    "CREATE FUNCTION g() RETURNS int LANGUAGE sql SECURITY DEFINER "
    "SET search_path TO pg_temp, public AS 'SELECT 1';": "a search_path with pg_temp before",
    "ALTER FUNCTION f() SET search_path = pg_temp, public;": "a search_path with pg_temp before",
    BODY.format("SET LOCAL search_path = pg_temp, public"): "a search_path with pg_temp before",
    # a temporary relation under a catalogue name is found before pg_catalog's by default
    "CREATE TABLE pg_temp.pg_roles (rolname text);": "CREATE TABLE pg_temp.pg_roles (a temporary",
    "CREATE VIEW pg_temp.pg_class AS SELECT 1 AS x;": "CREATE VIEW pg_temp.pg_class (a temporary",
    "SELECT 1 AS rolname INTO TEMP pg_roles;": "a write to the catalogue pg_roles",
    "SELECT 1 AS rolname INTO pg_temp.pg_roles;": "a write to the catalogue pg_temp.pg_roles",
    "ALTER TABLE t RENAME TO pg_database;": "RENAME TO pg_database (a catalogue name",
    BODY.format('ALTER TABLE IF EXISTS t RENAME TO "pg_class"'): "RENAME TO pg_class",
    # an object made besides the first, named by an option
    "CREATE TYPE r AS RANGE (SUBTYPE = int4, MULTIRANGE_TYPE_NAME = pg_catalog.m);": (
        "CREATE TYPE pg_catalog.m (PostgreSQL's catalogue"
    ),
    "CREATE TABLE q (id int GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME pg_catalog.s));": (
        "CREATE SEQUENCE pg_catalog.s"
    ),
    # catalogue types named pg_…, _… (arrays) or as the SQL standard spells them
    "ALTER TYPE pg_snapshot RENAME TO s2;": "ALTER TYPE pg_snapshot",
    "ALTER TYPE pg_lsn SET SCHEMA public;": "ALTER TYPE pg_lsn",
    "COMMENT ON TYPE integer IS 'x';": "COMMENT ON TYPE integer",
    "COMMENT ON TYPE _int4 IS 'x';": "COMMENT ON TYPE _int4",
    "COMMENT ON TYPE double precision IS 'x';": "COMMENT ON TYPE double",
    # a view named as the words DROP skips: the names after it are read all the same
    'DROP VIEW "if", pg_catalog.pg_roles, information_schema.tables;': "DROP VIEW pg_catalog",
    "DROP VIEW if, pg_catalog.pg_roles;": "DROP VIEW pg_catalog.pg_roles",
    "DROP VIEW exists, pg_catalog.pg_roles;": "DROP VIEW pg_catalog.pg_roles",
    "DROP INDEX CONCURRENTLY IF EXISTS a, pg_catalog.pg_class_oid_index;": "DROP INDEX pg_catalog",
    # a temporary type, or relation (a relation is a type too), under a catalogue type's name
    "CREATE DOMAIN pg_temp.text AS pg_catalog.varchar(3);": "CREATE DOMAIN pg_temp.text (a temp",
    "CREATE TEMP TABLE int4 (x text);": "CREATE TABLE pg_temp.int4 (a temporary object",
    "CREATE TEMPORARY VIEW pg_indexes AS SELECT 1 AS x;": "CREATE VIEW pg_temp.pg_indexes",
    # a quoted keyword is "_" to the check: as a function's or a type's target, PostgreSQL's
    "COMMENT ON FUNCTION \"left\"(text, integer) IS 'x';": "of a quoted name spelt as a keyword",
    'CREATE OR REPLACE FUNCTION "left"(text, integer) RETURNS text LANGUAGE sql '
    "AS 'SELECT $1';": 'CREATE FUNCTION "left" (a quoted name spelt as a keyword: the check',
    # not PostgreSQL's, but one name to the check: said so, not called the catalogue's
    "CREATE FUNCTION \"support\"(a int) RETURNS int LANGUAGE sql AS 'SELECT a';": (
        'CREATE FUNCTION "support" (a quoted name spelt as a keyword: the check cannot tell it'
    ),
    'ALTER TYPE "char" RENAME TO c2;': "ALTER TYPE of a quoted name spelt as a keyword",
    # a function named as a catalogue view: its name excused the view's reads
    "CREATE FUNCTION pg_settings() RETURNS int LANGUAGE sql AS 'SELECT 1';": (
        "CREATE FUNCTION pg_settings (a name of PostgreSQL's catalogue"
    ),
}


@pytest.mark.parametrize("sql", sorted(REFUSED))
def test_a_target_that_is_not_the_project_s_is_refused(sql: str) -> None:
    found = pgguard.refused(sql, migration=True, own=frozenset({"f", "g"}))
    assert len(found) == 1, found
    assert REFUSED[sql] in found[0][1]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TYPE floatrange AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = float8mi);",
        "CREATE SCHEMA AUTHORIZATION app; CREATE SCHEMA IF NOT EXISTS s AUTHORIZATION app;",
        "COMMENT ON SCHEMA public IS 'standard public schema';",
        "COMMENT ON COLUMN app.t.x IS 'x'; COMMENT ON CONSTRAINT c ON DOMAIN d IS 'y';",
        "ALTER TABLE t ALTER COLUMN x SET STATISTICS 100; ALTER TYPE mood ADD VALUE 'x';",
        'SET search_path = "$user", public; SET search_path TO DEFAULT;',
        "CREATE SCHEMA app; SET search_path = public, pg_temp; "
        "SET LOCAL search_path TO 'app', PG_TEMP;",
        "CREATE SCHEMA IF NOT EXISTS app; CREATE FUNCTION g() RETURNS int LANGUAGE sql "
        "SECURITY DEFINER SET search_path = app, pg_temp AS 'SELECT 1';",
        "ALTER TABLE t RENAME COLUMN x TO y; ALTER TABLE t RENAME TO t2;",
        "CREATE TYPE r AS RANGE (SUBTYPE = int4, MULTIRANGE_TYPE_NAME = app.r_multi);",
        "CREATE TABLE q (id int GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME app.q_seq START 1));",
        "DROP TABLE IF EXISTS a, b; DROP TYPE IF EXISTS mood; COMMENT ON TYPE mood IS 'm';",
        "CREATE TEMP TABLE scratch (x text); CREATE TABLE pg_temp.scratch2 (x text);",
        'CREATE TABLE "user" (id int); CREATE TYPE "order" AS ENUM (\'a\'); '
        "COMMENT ON TABLE \"user\" IS 'u'; CREATE TABLE café (x int);",
        "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql SET search_path = '' AS 'SELECT 1';",
        "CREATE TYPE point AS (x int, y int); CREATE TABLE int4 (x int);",
        "DROP FUNCTION IF EXISTS made_by_hand(integer), app.lower(text);",
        "CREATE FUNCTION app.lower(text) RETURNS text LANGUAGE sql AS 'SELECT $1';",
        "CREATE FUNCTION uuidv7() RETURNS uuid LANGUAGE sql AS 'SELECT gen_random_uuid()';",
        BODY.format("ALTER TABLE t ALTER COLUMN x DROP DEFAULT; LOCK TABLE t IN SHARE MODE"),
        BODY.format("LOCK TABLE ONLY t, ONLY u * IN ROW EXCLUSIVE MODE; TRUNCATE t, u CASCADE"),
        "CREATE TABLE c (x int CHECK (x > 0) NO INHERIT) INHERITS (t); ALTER TABLE c NO INHERIT t;",
    ],
)
def test_the_project_s_own_targets_are_allowed(sql: str) -> None:
    assert pgguard.refused(sql, migration=True, own=frozenset({"f"})) == []


def test_functions_nested_deep_in_bodies_are_refused_not_a_traceback() -> None:
    sql = "SELECT 1"
    for level in range(1000):
        sql = f"CREATE FUNCTION f{level}() RETURNS void LANGUAGE sql AS $q{level}$ {sql} $q{level}$"
    found = pgguard.refused(sql + ";", migration=False)
    assert len(found) == 1
    assert "functions defined in function bodies nested more than 16 deep" in found[0][1]
    assert found[0][1].count("a function whose body holds") == 1
    assert len(pgguard.defined_functions(sql)) == 18  # the outer ones, read as far as checked


def test_refused_targets_change_the_catalogue_on_a_real_server() -> None:
    """Each case runs on a real server as the tests' role: the refusals are of real harm."""
    url = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES") == "1":
            pytest.fail("no PostgreSQL server, and TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES=1")
        pytest.skip("no PostgreSQL server: set TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    asyncpg = pytest.importorskip("asyncpg")
    setup = (
        "CREATE SCHEMA pgtargets_t; SET LOCAL search_path TO pgtargets_t; "
        "CREATE TABLE t (x int); CREATE TYPE mood AS ENUM ('a'); CREATE ROLE pgtargets_r; "
    )

    async def failures() -> dict[str, str]:
        conn = await asyncpg.connect(url)
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            await conn.close()
            pytest.skip("the test role is not a superuser: these need one")
        failed = {}
        try:
            for sql in ON_THE_SERVER:
                if sql.startswith("CREATE TYPE tr AS RANGE"):
                    continue  # refused by name: the server looks its function up by signature
                transaction = conn.transaction()
                await transaction.start()
                try:
                    await conn.execute(setup + sql.replace("$$;", "$$; SELECT f();"))
                except asyncpg.PostgresError as exc:
                    failed[sql] = str(exc)
                finally:
                    await transaction.rollback()
        finally:
            await conn.close()
        return failed

    failed = asyncio.run(failures())
    assert failed == {}, "\n".join(f"{k} -> {v}" for k, v in failed.items())


def test_pg_temp_first_in_a_search_path_shadows_the_project_s_tables_on_a_real_server() -> None:
    """pg_temp before public: a table is made temporary, and a temporary table read instead.

    Named last, as the refused search_paths must name it, neither happens.
    """
    url = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    asyncpg = pytest.importorskip("asyncpg")
    function = (
        "CREATE FUNCTION pgtargets_t.{0}() RETURNS text LANGUAGE sql SECURITY DEFINER "
        "SET search_path = {1} AS 'SELECT v FROM secrets'; "
    )
    setup = "".join(
        [
            "CREATE SCHEMA pgtargets_t; CREATE TABLE pgtargets_t.secrets (v text); ",
            "INSERT INTO pgtargets_t.secrets VALUES ('project'); ",
            function.format("first", "pg_temp, pgtargets_t"),
            function.format("last", "pgtargets_t, pg_temp"),
            "CREATE TEMP TABLE secrets (v text); INSERT INTO secrets VALUES ('temporary'); ",
        ]
    )

    async def run() -> tuple[str, str, list[str]]:
        conn = await asyncpg.connect(url)
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(setup)
            first = await conn.fetchval("SELECT pgtargets_t.first()")
            last = await conn.fetchval("SELECT pgtargets_t.last()")
            made = []
            for path in ("pg_temp, pgtargets_t", "pgtargets_t, pg_temp"):
                await conn.execute(f"SET LOCAL search_path = {path}; CREATE TABLE made (x int)")
                schema = (
                    "SELECT relnamespace::regnamespace::text FROM pg_class WHERE relname = 'made'"
                )
                made.append(await conn.fetchval(schema))
                await conn.execute("DROP TABLE made")
            return first, last, made
        finally:
            await transaction.rollback()
            await conn.close()

    first, last, made = asyncio.run(run())
    assert (first, last) == ("temporary", "project")
    assert made[0].startswith("pg_temp_")
    assert made[1] == "pgtargets_t"
    refused = pgguard.refused(
        "CREATE SCHEMA pgtargets_t; SET search_path = pg_temp, pgtargets_t; "
        "SET search_path = pgtargets_t, pg_temp;",
        migration=True,
    )
    assert [line for line, _ in refused] == [1]


def test_the_catalogue_s_type_names_are_postgresql_s() -> None:
    """On 15, pgfunctions.TYPES is exactly the server's list (a misspelt name refuses nothing)."""
    url = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    asyncpg = pytest.importorskip("asyncpg")

    async def types() -> tuple[int, set[str]]:
        conn = await asyncpg.connect(url)
        try:
            query = (
                "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = typnamespace "
                "WHERE nspname IN ('pg_catalog', 'information_schema') "
                "AND typname !~ '^(pg_|_)' AND typrelid = 0"
            )
            version = int(await conn.fetchval("SHOW server_version_num"))
            return version // 10000, {r[0] for r in await conn.fetch(query)}
        finally:
            await conn.close()

    major, names = asyncio.run(types())
    if major == 15:
        assert names == pgfunctions.TYPES
    else:
        assert len(names & pgfunctions.TYPES) > 100


def test_the_catalogue_tables_are_the_server_s_tables() -> None:
    """pgfunctions.CATALOG_TABLES are NAMES's tables; NAMES's other relations are views."""
    url = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    asyncpg = pytest.importorskip("asyncpg")

    async def kinds() -> dict[str, str]:
        conn = await asyncpg.connect(url)
        try:
            query = (
                "SELECT relname, relkind::text FROM pg_class WHERE relname = ANY($1::text[]) "
                "AND relnamespace = 'pg_catalog'::regnamespace"
            )
            return {r[0]: r[1] for r in await conn.fetch(query, sorted(pgfunctions.NAMES))}
        finally:
            await conn.close()

    found = asyncio.run(kinds())
    assert {name for name, kind in found.items() if kind == "r"} == pgfunctions.CATALOG_TABLES
    assert {kind for name, kind in found.items() if name not in pgfunctions.CATALOG_TABLES} == {"v"}


# A temporary relation or type under a catalogue type's name, made by RENAME TO or SELECT … INTO
# TEMP: on 15.18, '(7)'::int4 then read a row, and 5::int8 met a domain's CHECK.
SHADOWING = {
    "CREATE TEMP TABLE x14 (a int); ALTER TABLE x14 RENAME TO int4;": "RENAME TO int4",
    "CREATE DOMAIN pg_temp.y14 AS int CHECK (VALUE > 100); ALTER DOMAIN pg_temp.y14 "
    "RENAME TO int8;": "RENAME TO int8",
    "ALTER TYPE pg_temp.z RENAME TO regclass;": "RENAME TO regclass",
    "ALTER VIEW v RENAME TO name;": "RENAME TO name",
    "ALTER SEQUENCE s RENAME TO oid;": "RENAME TO oid",
    'ALTER TABLE x RENAME TO "_int4";': "RENAME TO _int4",
    'ALTER TABLE x RENAME TO "text";': 'RENAME TO "text" (a catalogue name',
    "SELECT 1 AS a INTO TEMP int4;": "int4, a temporary table under a catalogue type's name",
    "SELECT 1 AS a INTO pg_temp.text;": "pg_temp.text, a temporary table under a catalogue type",
    BODY.format("SELECT 1 AS a INTO TEMPORARY TABLE int8"): "int8, a temporary table under",
    # INTO LOCAL or GLOBAL TEMP names the same temporary table
    "SELECT 1 AS rolname INTO LOCAL TEMP pg_roles;": "a write to the catalogue pg_roles",
    "SELECT 1 AS rolname INTO GLOBAL TEMPORARY TABLE pg_roles;": "a write to the catalogue",
}


@pytest.mark.parametrize("sql", sorted(SHADOWING))
def test_a_temporary_object_renamed_or_made_under_a_catalogue_type_name_is_refused(
    sql: str,
) -> None:
    found = pgguard.refused(sql, migration=True)
    assert len(found) == 1, found
    assert SHADOWING[sql] in found[0][1]


def test_renames_and_temporary_tables_under_the_project_s_names_are_allowed() -> None:
    sql = (
        "ALTER TABLE agents RENAME TO agents_old; ALTER TABLE t RENAME TO _t_old;\n"
        "SELECT 1 AS a INTO TEMP scratch; SELECT 1 AS a INTO int4_copy;\n"
        "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$ DECLARE name text; BEGIN "
        "SELECT n INTO name FROM t; RETURN name; END $$;"
    )
    assert pgguard.refused(sql, migration=True) == []


# A schema the project's SQL does not create may be created later by somebody else, and its
# objects found before the project's; on 15.18 ``SET search_path = no_such_schema, pg_temp`` made
# ``CREATE TABLE made`` in pg_temp.
UNKNOWN_SCHEMAS = {
    "SET search_path = no_such_schema, pg_temp;": "a search_path with no_such_schema (a schema",
    "SET LOCAL search_path TO 'evil, public';": "a search_path with evil",
    "CREATE FUNCTION g() RETURNS int LANGUAGE sql SECURITY DEFINER "
    "SET search_path = evil, public AS 'SELECT 1';": "a search_path with evil",
    "ALTER FUNCTION f() SET search_path = evil;": "a search_path with evil",
    BODY.format("SET LOCAL search_path = public, evil"): "a search_path with evil",
    'SET search_path = "evil schema", public;': "a search_path with evil schema (",
    # App and "App" are two schemas to the server: a quoted name keeps its case
    'CREATE SCHEMA "App"; SET search_path = App;': "a search_path with app (",  # App is app
    'CREATE SCHEMA App; SET search_path = "App";': "a search_path with App (",  # App is app
    # a string is one schema's name as it is: quotes and all
    "SET search_path = '\"Evil\"', public;": 'a search_path with "Evil" (',
}


@pytest.mark.parametrize("sql", sorted(UNKNOWN_SCHEMAS))
def test_a_search_path_naming_a_schema_the_project_does_not_create_is_refused(sql: str) -> None:
    found = pgguard.refused(sql, migration=True, own=frozenset({"f"}))
    assert len(found) == 1, found
    assert UNKNOWN_SCHEMAS[sql] in found[0][1]


def test_a_search_path_of_the_project_s_schemas_public_and_user_is_allowed() -> None:
    sql = (
        "CREATE SCHEMA app; CREATE SCHEMA IF NOT EXISTS app2 AUTHORIZATION CURRENT_ROLE;\n"
        'SET search_path = app, app2, "$user", public, pg_temp; SET search_path TO DEFAULT;\n'
        "SET LOCAL search_path TO 'app', \"app2\", PUBLIC; RESET search_path;\n"
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql SET search_path = '' AS 'SELECT 1';\n"
        "CREATE FUNCTION h() RETURNS int LANGUAGE sql SET search_path FROM CURRENT AS 'SELECT 1';"
    )
    assert pgguard.refused(sql, migration=True) == []
    migration = "SET search_path = app, pg_temp;"  # the schema created by another file
    assert pgguard.refused(migration, migration=True, own=pgguard.defined_names(sql)) == []


def test_a_schema_created_in_another_case_is_the_one_its_search_path_names() -> None:
    # unquoted names fold to lower case: aPp is app; was refused ("a schema the project's SQL
    # does not create", exit 2)
    sql = "CrEATe ScHema aPp; CREATE SCHEMA /* x */ IF NOT EXISTS Jobs;\n"
    assert pgguard.refused(sql + "SET LOCAL search_path = ApP, JOBS, PuBLIC;", migration=True) == []
    assert pgguard.refused(sql + 'SET search_path = "aPp";', migration=True) != []


def test_a_quoted_schema_with_capitals_is_the_one_its_quoted_search_path_names() -> None:
    # "App" keeps its capitals: the project creates it, so a search_path may name it (was
    # refused, "a schema the project's SQL does not create", exit 2)
    sql = 'CREATE SCHEMA "App";\n'
    for named in ('"App"', "'App', public", '"$user", "App"'):
        assert pgguard.refused(sql + f"SET search_path = {named};", migration=True) == []
    function = (
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql SET search_path = \"App\" AS 'SELECT 1';"
    )
    assert pgguard.refused(sql + function, migration=False) == []
    assert pgguard.refused(sql + "SET LOCAL SCHEMA 'App';", migration=True) == []
    assert pgguard.refused(sql + "SET search_path = App;", migration=True) != []  # app
    spaced = 'CREATE SCHEMA "a b";\nSET search_path = "a b", \'a b\', public;'
    assert pgguard.refused(spaced, migration=True) == []  # was refused: a name with a blank


# Names in a search_path as PostgreSQL 15.18 reads them: an unquoted name folds to lower case
# (ASCII letters only), a quoted one keeps its case, a string is one schema's name as it is.
SEARCH_PATH_VALUES = {
    "PUBLIC": ["public"],
    '"PUBLIC", Public': ["PUBLIC", "public"],
    "'PUBLIC', 'public'": ["PUBLIC", "public"],
    "'pgtargets_a, pgtargets_b'": ["pgtargets_a, pgtargets_b"],
    '"pgtargets a", PgTargets_B': ["pgtargets a", "pgtargets_b"],
    '$$PgTargets_C$$, "pgtargets_c"': ["PgTargets_C", "pgtargets_c"],
    "'\"PgTargets_D\"'": ['"PgTargets_D"'],
}


@pytest.mark.parametrize("value", sorted(SEARCH_PATH_VALUES))
def test_a_search_path_is_read_as_the_server_reads_it(value: str) -> None:
    from tac_bootstrap import pgtargets

    assert pgtargets.search_path_value(f"SET search_path = {value}", 0) == SEARCH_PATH_VALUES[value]


def test_the_search_path_values_are_the_server_s() -> None:
    """Each value's schemas, created on a real server, are the ones the server then searches."""
    url = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    asyncpg = pytest.importorskip("asyncpg")

    async def searched(value: str, names: list[str]) -> list[str]:
        conn = await asyncpg.connect(url)
        transaction = conn.transaction()
        await transaction.start()
        try:
            for name in {*names} - {"public"}:
                await conn.execute(
                    await conn.fetchval("SELECT format('CREATE SCHEMA %I', $1::text)", name)
                )
            await conn.execute(f"SET LOCAL search_path = {value}")
            return list(await conn.fetchval("SELECT current_schemas(false)"))
        finally:
            await transaction.rollback()
            await conn.close()

    for value, names in SEARCH_PATH_VALUES.items():
        assert asyncio.run(searched(value, names)) == names, value


# Read as the server reads them: what was refused (or passed) for a name read otherwise.
SEARCH_PATH_CASES = {
    # before: refused as "a search_path with PUBLIC"; the server folds it to public
    "SET search_path = PUBLIC;": None,
    'SET search_path = Public, "pg_temp";': None,  # "pg_temp" quoted is pg_temp, last
    "SET LOCAL search_path TO 'public', $$pg_temp$$;": None,
    # before: passed, read as public; a string keeps its case: the schema "PUBLIC"
    "SET search_path = 'PUBLIC';": "a search_path with PUBLIC (a schema",
    "SET search_path = 'App';": "a search_path with App (a schema",
    # quoted names keep their case: "PG_TEMP" and "$USER" are other schemas than pg_temp, $user
    'SET search_path = public, "PG_TEMP";': "a search_path with PG_TEMP (a schema",
    'SET search_path = "$USER", public;': "a search_path with $USER (a schema",
    'SET search_path = "Pg_catalog", public;': "a search_path with Pg_catalog (a schema",
    'SET search_path = "pg_catalog", public;': "a search_path with pg_catalog (objects",
    'SET search_path = "pg_temp", public;': "a search_path with pg_temp before",
    # a number names a schema too
    "SET search_path = 1;": "a search_path with 1 (a schema",
}


@pytest.mark.parametrize("sql", sorted(SEARCH_PATH_CASES))
def test_a_search_path_s_names_are_judged_as_the_server_reads_them(sql: str) -> None:
    found = pgguard.refused("CREATE SCHEMA app;" + sql, migration=True)
    expected = SEARCH_PATH_CASES[sql]
    assert [reason for _, reason in found if expected is not None and expected in reason] or (
        expected is None and found == []
    ), found


def test_a_column_named_search_path_is_no_setting() -> None:
    sql = "CREATE TABLE t (search_path text); ALTER TABLE t RENAME search_path TO path;"
    assert pgguard.refused(sql, migration=False) == []  # before: "a search_path with text"


def test_a_unicode_quoted_search_path_is_not_counted_as_one() -> None:
    """``U&"search_path"`` is not counted (pgguard refuses its statement): the n-th keeps step."""
    from tac_bootstrap import pgtargets

    text = 'SET U&"search_path" = x; SET search_path = pg_catalog'
    assert pgtargets.search_path_value(text, 0) == ["pg_catalog"]
