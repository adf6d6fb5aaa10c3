"""What a PostgreSQL schema or migration may hold: DDL, and in a migration rows, nothing else."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from tac_bootstrap import pgcheck, pgfunctions, pgguard, sqlfile

ORCH = Path(__file__).parents[1] / "tac_bootstrap" / "orchestrator"

REFUSED = {
    "COPY agents FROM PROGRAM 'id';": "COPY statement",
    "copy agents to '/tmp/x';": "COPY statement",
    "DO $$ BEGIN NULL; END $$;": "DO statement",
    "DO LANGUAGE plpgsql $x$ BEGIN NULL; END $x$;": "DO statement",
    "CREATE EXTENSION dblink;": "CREATE EXTENSION",
    "CREATE FOREIGN TABLE f (x text) SERVER s;": "CREATE FOREIGN",
    "CREATE MATERIALIZED VIEW v AS SELECT 1;": "CREATE MATERIALIZED",
    "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING;": "CREATE RULE",
    "CREATE ROLE evil SUPERUSER;": "CREATE ROLE",
    "CREATE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$;": "CREATE PROCEDURE",
    "ALTER SYSTEM SET archive_command = 'id';": "ALTER SYSTEM",
    "DROP DATABASE postgres;": "DROP DATABASE",
    "SET ROLE postgres;": "SET role",
    "COMMIT PREPARED 'other';": "COMMIT PREPARED (ends a transaction another session prepared",
    "ROLLBACK PREPARED 'other';": "ROLLBACK PREPARED",
    "SET SESSION AUTHORIZATION postgres;": "SET authorization",
    "SELECT pg_read_file('/etc/passwd');": "SELECT statement",
    "GRANT ALL ON t TO PUBLIC;": "GRANT statement",
    "LOAD '/tmp/x.so';": "LOAD statement",
    "\\! id": "this statement",
    "CREATE TABLE t AS SELECT 1 AS x;": "CREATE TABLE … AS",
    "CREATE TABLE t (x text DEFAULT pg_read_file('/etc/passwd'));": "function pg_read_file()",
    "CREATE VIEW v AS SELECT \"pg_ls_dir\"('/');": "function pg_ls_dir()",
    "CREATE INDEX i ON t ((dblink_exec('h', x)));": "function dblink_exec()",
    "CREATE FUNCTION f() RETURNS int AS '/tmp/x.so', 'f' LANGUAGE C;": "LANGUAGE c",
    "CREATE FUNCTION f() RETURNS int LANGUAGE 'plperlu' AS $$ 1 $$;": "LANGUAGE plperlu",
    "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'x'; END $$;": (
        "EXECUTE"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'COPY t TO ''/tmp/x''';": "holds COPY",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $a$ BEGIN DO $b$ x $b$; END $a$;": (
        "a DO block"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(9); END $$;": (
        "function pg_sleep()"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN ALTER SYSTEM RESET x; END $$;": (
        "ALTER SYSTEM"
    ),
    # hidden behind what only looks like the end of a statement
    "/* a /* nested */ still a comment ; */ COPY t FROM PROGRAM 'id';": "COPY statement",
    "CREATE TABLE e (x text DEFAULT E'it\\'s;');\nCOPY t FROM PROGRAM 'id';": "COPY statement",
    "COMMENT ON TABLE t IS $q$ $$ ; $q$; COPY t FROM PROGRAM 'id';": "COPY statement",
    "CREATE TABLE a$b$ (x int); COPY t FROM PROGRAM 'id';": "COPY statement",
    # past ASCII, every character may start a dollar quote's tag or continue a name
    "COMMENT ON TABLE t IS $€$ ' $€$; COPY t TO PROGRAM $$id$$; -- ';": "COPY statement",
    "COMMENT ON TABLE t IS $\u0660$ ' $\u0660$; COPY t TO PROGRAM $$id$$; -- ';": "COPY statement",
    "CREATE TABLE t (c€$x$ int); COPY t TO PROGRAM 'id'; CREATE TABLE u (c€$x$ int);": "COPY",
    # a function that reaches outside, renamed: its calls would no longer name it
    "ALTER FUNCTION query_to_xml RENAME TO q;": "ALTER FUNCTION query_to_xml",
    "ALTER FUNCTION pg_catalog.set_config RENAME TO sc;": "ALTER FUNCTION set_config",
    # functions that run the SQL they are given as a string
    "CREATE VIEW v AS SELECT * FROM ts_stat('SELECT pg_read_file(''/etc/passwd'')');": "ts_stat",
    "CREATE VIEW v AS SELECT ts_rewrite('a'::tsquery, 'SELECT pg_ls_dir(''/'')');": "ts_rewrite",
    # a line comment ends at a lone CR for the server: what follows ran, hidden from the check
    "CREATE TABLE t (x int); -- x\rCOPY t TO PROGRAM 'id';": "COPY statement",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ -- x\rCOPY t TO 'x' $$;": "COPY",
    # functions that change the server's state, not the database's (all ran from a migration)
    "CREATE TABLE u (x text DEFAULT pg_stat_reset()::text);": "pg_stat_reset",
    "CREATE VIEW v AS SELECT pg_stat_reset_shared('bgwriter');": "pg_stat_reset_shared",
    "CREATE VIEW v AS SELECT pg_replication_origin_drop('o');": "pg_replication_origin_drop",
    "CREATE VIEW v AS SELECT pg_drop_replication_slot('s');": "pg_drop_replication_slot",
    "CREATE VIEW v AS SELECT pg_replication_slot_advance('s', '0/0');": "pg_replication_slot",
    "CREATE VIEW v AS SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL);": "get_changes",
    "CREATE VIEW v AS SELECT pg_log_backend_memory_contexts(1);": "pg_log_backend_memory",
    "CREATE VIEW v AS SELECT pg_wal_replay_pause();": "pg_wal_replay_pause",
    "CREATE VIEW v AS SELECT pg_copy_physical_replication_slot('a', 'b');": "pg_copy_physical",
    # views and functions that read the server's configuration files, named or called
    "CREATE VIEW v AS SELECT * FROM pg_hba_file_rules;": "view pg_hba_file_rules",
    'CREATE VIEW v AS SELECT * FROM pg_catalog."pg_file_settings";': "view pg_file_settings",
    "CREATE VIEW v AS SELECT * FROM pg_ident_file_mappings;": "view pg_ident_file_mappings",
    "CREATE VIEW v AS SELECT * FROM pg_show_all_file_settings();": "pg_show_all_file_settings",
    "CREATE VIEW v AS SELECT * FROM pg_hba_file_rules();": "function pg_hba_file_rules()",
    "CREATE FUNCTION f() RETURNS SETOF text LANGUAGE sql AS $$ TABLE pg_file_settings $$;": (
        "view pg_file_settings"
    ),
    "CREATE VIEW v AS SELECT pg_current_logfile();": "pg_current_logfile",
    "CREATE VIEW v AS SELECT pg_logical_emit_message(true, 'p', 'm');": "pg_logical_emit_message",
    "CREATE VIEW v AS SELECT * FROM pg_control_system();": "pg_control_system",
    "CREATE VIEW v AS SELECT pg_start_backup('b');": "pg_start_backup",
    "CREATE VIEW v AS SELECT pg_xlog_replay_pause();": "pg_xlog_replay_pause",
    "CREATE VIEW v AS SELECT pg_log_standby_snapshot();": "pg_log_standby_snapshot",
    # catalogue relations that hold secrets: password hashes, other servers' passwords, sampled
    # values of tables a role may not read, other sessions' statements (a superuser reads them)
    "CREATE VIEW v AS SELECT rolname, rolpassword FROM pg_authid;": "catalogue pg_authid",
    'CREATE VIEW v AS SELECT * FROM pg_catalog."pg_shadow";': "catalogue pg_shadow",
    "CREATE VIEW v AS SELECT umoptions FROM pg_user_mapping;": "catalogue pg_user_mapping",
    "CREATE VIEW v AS SELECT * FROM pg_user_mappings;": "catalogue pg_user_mappings",
    "CREATE VIEW v AS SELECT subconninfo FROM pg_subscription;": "catalogue pg_subscription",
    "CREATE VIEW v AS SELECT stavalues1::text FROM pg_statistic;": "catalogue pg_statistic",
    "CREATE VIEW v AS TABLE pg_statistic_ext_data;": "catalogue pg_statistic_ext_data",
    "CREATE VIEW v AS SELECT data FROM pg_largeobject;": "catalogue pg_largeobject",
    "CREATE VIEW v AS SELECT query FROM pg_stat_activity;": "catalogue pg_stat_activity",
    "CREATE VIEW v AS SELECT * FROM pg_stat_get_activity(NULL);": "pg_stat_get_activity()",
    "CREATE FUNCTION f() RETURNS SETOF text LANGUAGE sql AS $$ SELECT rolpassword "
    "FROM pg_authid $$;": "catalogue pg_authid",
    "CREATE VIEW v AS SELECT pg_stat_statements_reset();": "pg_stat_statements_reset",
    "CREATE VIEW v AS SELECT postgres_fdw_disconnect_all();": "postgres_fdw_disconnect_all",
    # the attribute notation calls a function too: ('/etc/passwd'::text).pg_read_file
    "CREATE VIEW v AS SELECT ('/etc/passwd'::text).pg_read_file;": "function pg_read_file()",
    "CREATE TABLE t (x text DEFAULT ('/'::text) . /* c */ \"pg_ls_dir\");": "function pg_ls_dir()",
    # a function defined inside a function's body: its language and its own body
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $o$ BEGIN CREATE FUNCTION r(text) "
    "RETURNS text LANGUAGE internal STRICT AS 'pg_read_file_all'; END $o$;": "LANGUAGE internal",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $o$ CREATE OR REPLACE FUNCTION g() "
    "RETURNS text LANGUAGE sql AS $i$ SELECT pg_read_file('/etc/passwd') $i$ $o$;": (
        "function pg_read_file()"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'CREATE PROCEDURE p() LANGUAGE c "
    "AS ''/tmp/x.so'', ''f''';": "LANGUAGE c",
    # in a body, what a schema may not define at its top: an operator or an aggregate names a
    # function without calling it (both read the file on PostgreSQL 15)
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE OPERATOR ### "
    "(RIGHTARG = text, FUNCTION = pg_read_file); END $$;": "CREATE OPERATOR",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ CREATE AGGREGATE a(text) (SFUNC = "
    "textcat, STYPE = text, FINALFUNC = pg_read_file) $$;": "CREATE AGGREGATE",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
    "ALTER FUNCTION set_config RENAME TO s; END $$;": "ALTER FUNCTION set_config",
    "CREATE VIEW v AS SELECT pg_stat_get_backend_activity(1);": "pg_stat_get_backend_activity",
    "CREATE VIEW v AS SELECT pg_logfile_rotate();": "pg_logfile_rotate",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN IMPORT FOREIGN SCHEMA s "
    "FROM SERVER o INTO public; END $$;": "IMPORT FOREIGN",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ UPDATE pg_catalog.pg_settings "
    "SET setting = 'all' WHERE name = 'log_statement' $$;": "pg_settings",
    # settings set by a function: a statement of its body, or its SET clause
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
    "SET session_replication_role = replica; END $$;": "SET session_replication_role",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ RESET log_statement $$;": (
        "RESET log_statement"
    ),
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET log_statement = 'all' AS $$ SELECT 1 $$;": (
        "a function that sets SET log_statement"
    ),
    "ALTER FUNCTION lower(text) SET log_statement = 'all';": "SET log_statement",
    # SET or RESET alone: a syntax error to the server; was an IndexError (a traceback, exit 1)
    "RESET;": "RESET (not a setting",
    "SET;": "SET (not a setting",
    "set local;": "SET local (not a setting",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ ALTER FUNCTION lower(text) "
    "SET log_statement = 'all' $$;": "SET log_statement",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
    "PREPARE TRANSACTION 'x'; END $$;": "PREPARE TRANSACTION",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF true THEN "
    "NOTIFY c, 'x'; END IF; END $$;": "NOTIFY",
    # a body's statement after another one's ";" is a statement of its own too
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; "
    "SET session_replication_role = replica; END $$;": "SET session_replication_role",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'SELECT 1; RESET ALL';": "RESET all",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; NOTIFY c; END $$;": (
        "NOTIFY"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; "
    "PREPARE TRANSACTION 'x'; END $$;": "PREPARE TRANSACTION",
    # SHOW reads a setting as current_setting() does (in PL/pgSQL: SHOW … INTO, RETURN QUERY SHOW)
    "CREATE FUNCTION f() RETURNS SETOF text LANGUAGE plpgsql AS $$ BEGIN "
    "RETURN QUERY SHOW data_directory; END $$;": "SHOW data_directory",
    "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$ DECLARE v text; BEGIN "
    "SHOW hba_file INTO v; RETURN v; END $$;": "SHOW hba_file",
    # escapes that spell what the check looks for
    "CREATE VIEW v AS SELECT U&\"pg\\005fread_file\"('/etc/passwd');": 'a U&"…" name',
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS E'\\103OPY t TO ''/tmp/x''';": "E'…'",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS U&'\\0043OPY t TO ''/tmp/x''';": "U&'…'",
    # only PostgreSQL's harmless functions and the project's own may be called (an allow-list):
    # what no list of refused names thought of is refused too
    "CREATE VIEW v AS SELECT * FROM pg_get_shmem_allocations();": "pg_get_shmem_allocations()",
    "CREATE VIEW v AS SELECT * FROM pg_config();": "function pg_config() (not a PostgreSQL",
    "CREATE VIEW v AS SELECT current_setting('data_directory');": "function current_setting()",
    "CREATE VIEW v AS SELECT current_setting('server_' || 'version');": "current_setting()",
    "CREATE VIEW v AS SELECT pg_catalog.version();": "function version() (not a PostgreSQL",
    'CREATE VIEW v AS SELECT "inet_server_addr"();': "function inet_server_addr()",
    "CREATE VIEW v AS SELECT get_raw_page('pg_authid', 0);": "function get_raw_page()",
    "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION g();": (
        "function g() (not a PostgreSQL function known to be harmless, nor one the project defines)"
    ),
    "CREATE VIEW v AS SELECT c FROM t, get_raw_page(n) AS (c text);": "function get_raw_page()",
    "CREATE VIEW v AS SELECT (oid).obj_description FROM pg_roles;": "function obj_description()",
    "CREATE VIEW v AS SELECT 1 AS index FROM t JOIN u ON version() = '';": "function version()",
    # and only the catalogue relations that describe the database's own objects may be read
    "CREATE VIEW v AS SELECT setting FROM pg_settings WHERE name = 'data_directory';": (
        "catalogue pg_settings (not one that describes only the database's own objects)"
    ),
    "CREATE VIEW v AS SELECT * FROM pg_catalog.pg_config;": "catalogue pg_config",
    "CREATE VIEW v AS SELECT * FROM pg_shmem_allocations;": "catalogue pg_shmem_allocations",
    "CREATE VIEW v AS SELECT query FROM pg_stat_statements;": "catalogue pg_stat_statements",
    "CREATE VIEW v AS SELECT (true).pg_stat_statements;": "catalogue pg_stat_statements",
    "CREATE VIEW v AS SELECT datname FROM pg_database;": "catalogue pg_database",
    # pg_stats holds sampled values: a superuser's show pg_authid's password hashes
    "CREATE VIEW v AS SELECT histogram_bounds::text FROM pg_stats;": "catalogue pg_stats",
    # a DO block's body is a string too, whatever comes between DO and it
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DO LANGUAGE plpgsql $d$ BEGIN "
    "NULL; END $d$ $$;": "a DO block",
    # a body that starts with DROP or COMMENT is not a signature: its calls are checked
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ COMMENT ON TABLE t IS 'x'; "
    "SELECT current_setting('data_directory') $$;": "function current_setting()",
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ DROP TABLE IF EXISTS s; "
    "SELECT version() $$;": "function version()",
    # the catalogue may be read, never written (prosrc turns a function into another)
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN UPDATE pg_proc SET "
    "prosrc = 'pg_read_file_off_len' WHERE proname = 'rf'; END $$;": (
        "a write to the catalogue pg_proc"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ INSERT INTO pg_db_role_setting "
    "(setdatabase, setrole, setconfig) VALUES (0, 0, '{work_mem=7MB}') $$;": (
        "a write to the catalogue pg_db_role_setting"
    ),
    "CREATE TRIGGER tr BEFORE UPDATE ON pg_catalog.pg_class FOR EACH ROW "
    "EXECUTE FUNCTION lower();": "a write to the catalogue pg_catalog.pg_class",
    # renamed to one of the project's names, PostgreSQL's function would pass as the project's
    "ALTER FUNCTION table_to_xml RENAME TO t2x;": "ALTER FUNCTION table_to_xml (not a function",
    # information_schema: the views of the database's own objects, not other servers' passwords
    "CREATE VIEW v AS SELECT option_value FROM information_schema.user_mapping_options;": (
        "information_schema.user_mapping_options (not a view"
    ),
    "CREATE VIEW v AS SELECT * FROM information_schema._pg_user_mappings;": "_pg_user_mappings",
    "SET search_path = 'information_schema';": "a search_path with information_schema",
    "SET search_path = information_schema, public;": "a search_path with information_schema",
    # tablefunc's crosstab runs the query it is given as a string, in the attribute notation too
    "CREATE VIEW v AS SELECT ('SELECT 1, 2, 3'::text).crosstab;": "function crosstab()",
    # a session's advisory lock outlives the migration's transaction (and unlock_all frees the
    # database module's own migration lock)
    "CREATE VIEW v AS SELECT pg_advisory_lock(1);": "function pg_advisory_lock()",
    "CREATE VIEW v AS SELECT pg_advisory_unlock_all();": "function pg_advisory_unlock_all()",
    "CREATE VIEW v AS SELECT x FROM t WHERE x\u20ac(x);": "function x\u20ac()",
    # in PL/pgSQL "function" is also a variable's name: EXECUTE function runs its text
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE function text := 'x'; "
    "BEGIN EXECUTE function; END $$;": "EXECUTE (SQL built at run time",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE procedure text := 'x'; "
    "BEGIN EXECUTE procedure USING 1; END $$;": "EXECUTE (SQL built at run time",
    # a view of a catalogue table alone is one PostgreSQL writes through (UPDATE v SET prosrc)
    "CREATE VIEW v AS SELECT * FROM pg_catalog.pg_proc;": "reads the catalogue table pg_proc",
    "CREATE VIEW v AS TABLE pg_class;": "reads the catalogue table pg_class",
    # a quoted alias spelt as a keyword makes no join: the view is written through all the same
    'CREATE VIEW v AS SELECT * FROM pg_proc AS "group";': "reads the catalogue table pg_proc",
    'CREATE VIEW v AS SELECT *, 1 AS "limit" FROM pg_proc;': "reads the catalogue table pg_proc",
    "CREATE VIEW v AS SELECT oid FROM pg_type WHERE typname IN (SELECT DISTINCT n FROM t);": (
        "the catalogue table pg_type"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ CREATE VIEW v AS SELECT * FROM "
    "pg_description $$;": "the catalogue table pg_description",
    # an index made in a function's body: its expressions' calls are checked as any others
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE INDEX i ON t "
    "((made_up(x))); END $$;": "function made_up() (not a PostgreSQL function known",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ CREATE INDEX ON ONLY t (x) WHERE "
    "pg_sleep(1) IS NULL $$;": "function pg_sleep() (reaches outside",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE INDEX i ON "
    "pg_catalog.pg_class (relname); END $$;": "a write to the catalogue pg_catalog.pg_class",
    # a catalogue view a row lock passes through: SELECT * FROM v FOR UPDATE names no catalogue
    # relation, and on 15.18 it locked pg_authid's rows through information_schema.schemata
    "CREATE VIEW v AS SELECT * FROM information_schema.schemata;": (
        "the catalogue view information_schema.schemata (no view may: SELECT … FOR UPDATE"
    ),
    'CREATE OR REPLACE VIEW v AS SELECT * FROM "information_schema" . views;': (
        "the catalogue view information_schema.views"
    ),
    "CREATE VIEW v AS SELECT a.id FROM t a, LATERAL (SELECT * FROM information_schema."
    "check_constraints) c;": "the catalogue view information_schema.check_constraints",
    "CREATE VIEW v AS SELECT sequencename FROM pg_catalog.pg_sequences;": (
        "the catalogue view pg_sequences"
    ),
    # the options before a BEGIN ATOMIC body are still read
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql SET role = 'x' BEGIN ATOMIC SELECT 1; END;": (
        "a function that sets SET role"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE c BEGIN ATOMIC SELECT 1; END;": "LANGUAGE c",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC ALTER SYSTEM SET work_mem = '1GB'; "
    "END;": "a BEGIN ATOMIC body with a statement that starts with ALTER (only queries)",
    # a read-only view (a join) is refused all the same, and its message says why, not "a write"
    "CREATE VIEW v AS SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = "
    "p.pronamespace;": "a view that reads the catalogue table pg_proc (no view may, read-only",
    # the session's prepared statements, the database module's cache of them: as DISCARD
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DEALLOCATE ALL';": "holds DEALLOCATE",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DEALLOCATE ALL; END $$;": (
        "holds DEALLOCATE"
    ),
}

ALLOWED = [
    # a BEGIN ATOMIC body is code: its UPDATE … SET and its columns are no options of the function
    "CREATE FUNCTION f(n text) RETURNS void LANGUAGE sql BEGIN ATOMIC UPDATE t SET name = n "
    "WHERE false; END;",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT language FROM t; END;",
    # an index made in a function's body: its table is not a call (its expressions are)
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE INDEX i ON t (x); "
    "CREATE UNIQUE INDEX IF NOT EXISTS j ON ONLY app.t USING btree (lower(x)); END $$;",
    "CREATE VIEW v AS SELECT tablename FROM pg_tables WHERE schemaname = 'public';",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE TRIGGER tr BEFORE "
    "UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f(); END $$;",
    "COMMENT ON TABLE t IS 'not pg_hba_file_rules: a string';",
    "CREATE TABLE t (id uuid PRIMARY KEY, n text CHECK (n <> ''));",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (n);",
    "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN NEW.at := clock_timestamp(); RETURN NEW; END; $$;",
    "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();",
    "CREATE TYPE mood AS ENUM ('a', 'b'); CREATE DOMAIN d AS text; CREATE SEQUENCE s;",
    "CREATE VIEW v AS SELECT n FROM t; CREATE SCHEMA app;",
    "ALTER TABLE t RENAME CONSTRAINT a TO b; ALTER INDEX i RENAME TO j;",
    "ALTER TRIGGER tr ON t RENAME TO tr2; DROP TRIGGER tr2 ON t; DROP FUNCTION f();",
    "COMMENT ON TABLE t IS 'COPY t FROM PROGRAM ''id''; DO $$ x $$';",
    "BEGIN; SET LOCAL lock_timeout = '5s'; SET search_path TO public; COMMIT;",
    "-- COPY t FROM PROGRAM 'id';\n/* DO $$ x $$ */",
    "CREATE TABLE \"x;COPY t FROM PROGRAM 'id'\" (x int);",
    # what every role may read: passwords masked, statistics of readable columns only
    "CREATE VIEW v AS SELECT rolname FROM pg_roles JOIN pg_indexes ON indexname = rolname;",
    "COMMENT ON TABLE t IS 'not pg_authid: a string';",
    # a body's own settings and rows: SET of a session setting a schema may set, UPDATE … SET
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql SET search_path = public AS $$ BEGIN "
    "SET LOCAL lock_timeout = '1s'; UPDATE t SET n = 'notify'; END $$;",
]


@pytest.mark.parametrize("sql", sorted(REFUSED))
def test_what_a_schema_never_needs_is_refused(sql: str) -> None:
    found = pgguard.refused(sql, migration=False)
    assert len(found) == 1, found
    assert REFUSED[sql] in found[0][1]


@pytest.mark.parametrize("sql", ALLOWED)
def test_what_a_schema_needs_is_allowed(sql: str) -> None:
    own = frozenset({"f"})  # defined in another of the project's files
    assert pgguard.refused(sql, migration=False, own=own) == []


def test_the_project_s_own_functions_may_be_called_but_not_under_postgresql_s_names() -> None:
    define = "CREATE FUNCTION {0}(x int) RETURNS int LANGUAGE sql AS 'SELECT x';\n"
    call = "CREATE VIEW v AS SELECT {0}(1);\n"
    assert (
        pgguard.refused(define.format("plus_one") + call.format("plus_one"), migration=False) == []
    )
    own = pgguard.defined_functions(define.format("plus_one"))
    assert own == {"plus_one"}
    assert pgguard.refused(call.format("plus_one"), migration=False, own=own) == []
    assert pgguard.query_refusal("SELECT plus_one(1)", own) is None
    assert "nor one the project defines" in str(pgguard.query_refusal("SELECT plus_one(1)"))
    # lo_get(oid) of pg_catalog is found first, or picked by its argument's type
    found = pgguard.refused(define.format("lo_get") + call.format("lo_get"), migration=False)
    assert [line for line, _ in found] == [1, 2]
    assert "PostgreSQL's own lo_get() is found first" in found[1][1]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 INTO t",
        "select * into unlogged t from agents",
        "WITH a AS (SELECT 1) SELECT * INTO TEMP t FROM a",
        "TABLE agents; SELECT id INTO t FROM agents",
    ],
)
def test_a_module_may_not_make_a_table_with_select_into(sql: str) -> None:
    assert "SELECT … INTO (makes a table" in str(pgguard.query_refusal(sql))


def test_a_module_may_insert_into_and_select_into_a_subquery_s_rows() -> None:
    sql = "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a WHERE x IN (SELECT y FROM u)"
    assert pgguard.query_refusal(sql) is None


# INTO and CREATE as an output column's label (``AS into``, any keyword may follow AS) or a
# qualified column's name (``s.create``) are names, as the server reads them: each was refused,
# as SELECT … INTO or as CREATE of something a schema does not define; the server runs each.
KEYWORD_LABELS = [
    "SELECT id AS into FROM agents",
    "SELECT s.into FROM (SELECT id AS into FROM agents) AS s WHERE s.into IS NOT NULL",
    "SELECT id AS create FROM agents",
    "SELECT id AS create, name FROM agents",
    "SELECT s.create FROM (SELECT id AS create FROM agents) AS s WHERE s.create IS NOT NULL",
]


@pytest.mark.parametrize("sql", KEYWORD_LABELS)
def test_into_and_create_as_a_label_are_names(sql: str) -> None:
    assert pgguard.query_refusal(sql) is None
    assert pgguard.query_refusal(f"/* q */ {sql.lower()}", loose=True) is None


def test_into_and_create_after_a_label_are_still_read() -> None:
    for sql in ("SELECT 1 AS into INTO t", "SELECT id AS x INTO t FROM agents"):
        assert "SELECT … INTO" in str(pgguard.query_refusal(sql)), sql
    for sql in ("SELECT id AS x, create FROM agents", "SELECT id AS create, create FROM agents"):
        assert "CREATE FROM (not something" in str(pgguard.query_refusal(sql)), sql


def test_only_a_function_s_body_defines_the_project_s_functions() -> None:
    sql = (
        "CREATE FUNCTION f(x text DEFAULT 'CREATE FUNCTION get_raw_page(') RETURNS int "
        "LANGUAGE sql AS $$ CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1' $$;"
    )
    assert pgguard.defined_functions(sql) == {"f", "g"}


def test_an_extension_s_function_is_not_the_project_s_by_taking_its_name() -> None:
    """A call of get_raw_page with other argument types reaches pageinspect's (raw pages)."""
    sql = (
        "CREATE FUNCTION get_raw_page(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1';\n"
        "CREATE VIEW v AS SELECT get_raw_page('pg_authid', 0);\n"
    )
    found = pgguard.refused(sql, migration=False)
    assert [line for line, _ in found] == [1, 2]
    assert "an extension's get_raw_page() can be found instead" in found[1][1]


def test_the_project_may_alter_its_own_functions() -> None:
    sql = (
        "CREATE FUNCTION t2x(integer) RETURNS text LANGUAGE sql AS 'SELECT 1';\n"
        "ALTER FUNCTION t2x(integer) RENAME TO t2y;\n"
        "ALTER FUNCTION public.t2y SECURITY DEFINER;\n"
    )
    assert pgguard.refused(sql, migration=True, own=frozenset({"t2y"})) == []


def test_a_module_may_read_the_settings_it_checks_and_no_other() -> None:
    allowed = "SELECT current_setting('server_version'), current_setting('TimeZone')"
    assert pgguard.query_refusal(allowed) is None
    refused = pgguard.query_refusal("SELECT current_setting('data_directory')")
    assert "function current_setting()" in str(refused)


def test_what_only_looks_like_a_call_is_not_one() -> None:
    """Types with modifiers, tables and views with columns, CTEs, aliases, index methods."""
    sql = (Path(__file__).parent / "fixtures" / "pg_allowed.sql").read_text(encoding="utf-8")
    assert pgguard.refused(sql, migration=True) == []


def test_a_migration_may_move_rows_but_a_schema_may_not() -> None:
    sql = (
        "INSERT INTO t SELECT * FROM u;\nUPDATE t SET n = 'x';\nDELETE FROM t;\n"
        "WITH m AS (DELETE FROM u RETURNING n) INSERT INTO t SELECT n FROM m;\n"
        "MERGE INTO t USING u ON t.n = u.n WHEN NOT MATCHED THEN INSERT VALUES (u.n);\n"
        "SELECT setval('t_id_seq', (SELECT max(id) FROM t));\n"
    )
    assert pgguard.refused(sql, migration=True) == []
    assert [line for line, _ in pgguard.refused(sql, migration=False)] == [1, 2, 3, 4, 5, 6]


PARENTHESISED_QUERIES = [
    "(SELECT 1);",
    "(SELECT id FROM t) UNION (SELECT id FROM u);",
    "((SELECT setval('t_id_seq', (SELECT max(id) FROM t))));",
    "( /* moved */ (SELECT n FROM t) EXCEPT ((SELECT n FROM u)));",
    "(WITH m AS (DELETE FROM u RETURNING n) SELECT n FROM m);",
    # a WITH name's own query may change rows, and may have a WITH of its own
    "(WITH m AS (WITH k AS (SELECT 1 AS n) INSERT INTO t SELECT n FROM k RETURNING n) SELECT n "
    "FROM m);",
    "(WITH m AS NOT MATERIALIZED (DELETE FROM u RETURNING n) (SELECT n FROM m));",
    "(WITH m AS (SELECT 1 AS n) TABLE m) UNION (WITH k AS (SELECT 2) VALUES (1));",
    # a statement's word may name a WITH query or a column of its SEARCH or CYCLE (refused before)
    "(WITH update AS (SELECT 1 AS n) SELECT n FROM update);",
    "(WITH m AS (SELECT 1 AS n), delete AS (SELECT 2) SELECT * FROM delete);",
    "(WITH RECURSIVE m(update) AS (SELECT 1 UNION ALL SELECT update + 1 FROM m WHERE update < 3) "
    "SEARCH DEPTH FIRST BY update SET insert SELECT * FROM m);",
    "(WITH RECURSIVE m(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM m WHERE n < 3) CYCLE n SET "
    "update USING delete SELECT * FROM m);",
]
PARENTHESISED_REFUSED = {
    "((SELECT pg_read_file('/etc/passwd')));": "pg_read_file()",
    "(SELECT * FROM pg_authid);": "pg_authid",
    "(SELECT 1 FROM pg_class FOR UPDATE);": "rows of the catalogue pg_class",
    "(WITH x AS (UPDATE pg_settings SET setting = 'x' RETURNING 1) SELECT 1);": "pg_settings",
    "(SELECT U&\"pg_read_file\"('x'));": 'U&"',
    "(SELECT 1); (COPY t TO PROGRAM 'id');": "this statement",
    "(VALUES (1));": "this statement",  # VALUES alone is refused in a migration too
    "(INSERT INTO t VALUES (1));": "this statement",  # the server: syntax error
    # in parentheses a WITH must lead a query: the server refuses these (syntax error)
    "(WITH m AS (SELECT 1 AS n) INSERT INTO t SELECT n FROM m);": "WITH … INSERT in parentheses",
    "((WITH m AS (SELECT 1) UPDATE t SET n = 2));": "WITH … UPDATE in parentheses",
    "(SELECT 1) UNION (WITH m AS (SELECT 1) DELETE FROM t RETURNING n);": "WITH … DELETE",
    "(WITH m AS (SELECT 1 AS n) MERGE INTO t USING m ON true WHEN MATCHED THEN DELETE);": "MERGE",
    "(WITH RECURSIVE m(n) AS (SELECT 1) SEARCH DEPTH FIRST BY n SET o DELETE FROM t);": "DELETE",
}


@pytest.mark.parametrize("sql", PARENTHESISED_QUERIES)
def test_a_migration_s_query_may_be_in_parentheses(sql: str) -> None:
    assert pgguard.refused(sql, migration=True) == []
    assert "this statement" in pgguard.refused(sql, migration=False)[0][1]


@pytest.mark.parametrize(("sql", "word"), PARENTHESISED_REFUSED.items())
def test_what_is_in_a_migration_s_parentheses_is_read_whole(sql: str, word: str) -> None:
    assert word in " ".join(reason for _, reason in pgguard.refused(sql, migration=True))


# In parentheses a WITH that changes rows is a syntax error wherever a query is: in a function's
# body (BEGIN ATOMIC, RETURN, a string, PL/pgSQL), a view's or a table's query (passed before).
PARENTHESISED_CHANGE_ELSEWHERE = [
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC ((WITH m AS (SELECT 1) UPDATE t "
    "SET n = 2)); END;",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ ((WITH m AS (SELECT 1) UPDATE t SET "
    "n = 2)) $$;",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM (WITH m AS (SELECT 1) "
    "UPDATE t SET n = 2 RETURNING 1); END $$;",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN (WITH m AS (SELECT 1) UPDATE t SET n = 2 "
    "RETURNING 1);",
    "CREATE VIEW v AS SELECT * FROM (WITH m AS (SELECT 1) UPDATE t SET n = 2 RETURNING 1) s;",
    "CREATE VIEW v WITH (security_barrier) AS (WITH m AS (SELECT 1) UPDATE t SET n = 2 RETURNING "
    "1);",
    "CREATE TABLE u AS (WITH m AS (SELECT 1) UPDATE t SET n = 2 RETURNING 1);",
    # so is one without WITH: the server reads no statement but a query in parentheses
    "SELECT * FROM (DELETE FROM t RETURNING n) s;",
    "SELECT 1 WHERE EXISTS (UPDATE ONLY public.t * AS a SET n = 2 RETURNING 1);",
    "INSERT INTO t (n) (INSERT INTO t (n) VALUES (1) RETURNING n);",
    "SELECT 1 FROM (MERGE INTO t USING u ON false WHEN MATCHED THEN DELETE) s;",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ (DELETE FROM t) $$;",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM (INSERT INTO t (n) "
    "VALUES (1) RETURNING 1); END $$;",
]
UNPARENTHESISED_CHANGE = [
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC WITH m AS (SELECT 1) UPDATE t SET "
    "n = 2; END;",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ WITH m AS (SELECT 1) UPDATE t SET n = 2 "
    "$$;",
    "CREATE FUNCTION f() RETURNS SETOF int LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY WITH m AS "
    "(SELECT 1) UPDATE t SET n = 2 RETURNING 1; END $$;",
    "CREATE VIEW v (a) AS (WITH m AS (SELECT 1) SELECT 1);",
    "CREATE TABLE u AS WITH m AS (WITH k AS (SELECT 1) INSERT INTO t SELECT 1 RETURNING n) "
    "SELECT * FROM m;",
    "WITH m AS MATERIALIZED (UPDATE t SET n = 2 RETURNING n) SELECT * FROM m;",
    # columns named as those statements' words (none is a reserved word)
    "CREATE TABLE tu (update int, insert int, delete int, merge int);\nCREATE VIEW vu AS SELECT "
    "(update) AS u, (insert) FROM tu WHERE (delete > 1) AND (merge IS NULL);",
    "INSERT INTO tu (update, delete) VALUES (1, 2);\nUPDATE tu SET update = (update + 1);",
]


@pytest.mark.parametrize("sql", PARENTHESISED_CHANGE_ELSEWHERE)
def test_a_parenthesised_with_that_changes_rows_is_refused_wherever_it_is(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert "in parentheses (the server takes only a query there" in found[0][1]
    assert pgguard.refused(sql, migration=False)  # CREATE TABLE … AS: refused in a schema anyway


@pytest.mark.parametrize("sql", UNPARENTHESISED_CHANGE)
def test_a_with_that_changes_rows_outside_parentheses_is_not(sql: str) -> None:
    assert pgguard.refused(sql, migration=True) == []


# A procedure is no function: the contract's routines are functions, and the error says so.
PROCEDURE_FORMS = {
    "CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1';": "never procedures",
    "create or replace procedure p() language plpgsql as $$ begin end $$;": "never procedures",
    "ALTER PROCEDURE p() RENAME TO q;": "never procedures",
    "DROP PROCEDURE IF EXISTS p();": "never procedures",
    "COMMENT ON PROCEDURE p() IS 'x';": "never procedures",
    "CALL p();": "calls a procedure",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE PROCEDURE p() LANGUAGE "
    "sql AS 'SELECT 1'; END $$;": "never procedures",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP PROCEDURE p(); END $$;": (
        "never procedures"
    ),
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CALL public.p(); END $$;": (
        "calls a procedure"
    ),
}


@pytest.mark.parametrize(("sql", "why"), PROCEDURE_FORMS.items())
def test_a_procedure_is_refused_as_no_function(sql: str, why: str) -> None:
    for migration in (False, True):
        [(_, reason)] = pgguard.refused(sql, migration=migration)
        assert why in reason


def test_a_trigger_s_execute_procedure_and_a_variable_named_call_are_no_procedure() -> None:
    sql = (
        "CREATE FUNCTION own_f() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE call int; BEGIN "
        "call := 1; RETURN NEW; END $$;\nCREATE TRIGGER t BEFORE INSERT ON agents FOR EACH ROW "
        "EXECUTE PROCEDURE own_f();"
    )
    assert pgguard.refused(sql, migration=False) == []


# A string in a RETURN or BEGIN ATOMIC body is a value to the server: it returns the text, and
# runs nothing (E'\u0041' is an A). The body's code around it is read as a migration's query.
STANDARD_BODY_CONSTANTS = [
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql RETURN E'\\u0041';",
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql RETURN $a$ pg_read_file('x') $a$;",
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT 'pg_read_file(1)'; "
    "SELECT E'a\\nb' AS u; END;",
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql RETURN E'a'\n'\\' || pg_read_file(1) || ';",
    "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $o$ BEGIN CREATE FUNCTION g() RETURNS "
    "text LANGUAGE sql RETURN 'pg_read_file(1)'; RETURN g(); END $o$;",
]
STANDARD_BODY_REFUSED = {
    # the body's code is still read: a call next to a string, in it, or as its argument
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql RETURN $a$x$a$ || pg_read_file($a$x$a$);": (
        "pg_read_file()"
    ),
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT E'x' || "
    "pg_read_file('y'); END;": "pg_read_file()",
    # a type named return is no body: the string after AS is the body, and is read
    "CREATE FUNCTION f() RETURNS return LANGUAGE sql AS $$ SELECT pg_read_file('x') $$;": (
        "pg_read_file()"
    ),
    "CREATE FUNCTION f() RETURNS return LANGUAGE sql AS U&'SELECT 1';": "E'…' or U&'…'",
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql SET search_path = return AS 'SELECT "
    "pg_read_file(1)';": "pg_read_file()",
    # both bodies (the server refuses it): the AS string is read, and its escapes refused
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT pg_read_file(1)' RETURN 'x';": (
        "pg_read_file()"
    ),
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS E'SELECT 1' RETURN E'x';": "E'…'",
    # strings before the body are read as before: an argument's default, a SET value
    "CREATE FUNCTION f(a text DEFAULT E'\\x41') RETURNS text LANGUAGE sql RETURN a;": "E'…'",
    "CREATE FUNCTION f(a text DEFAULT 'pg_read_file(1)') RETURNS text LANGUAGE sql RETURN a;": (
        "pg_read_file()"
    ),
}


@pytest.mark.parametrize("sql", STANDARD_BODY_CONSTANTS)
def test_a_string_in_a_return_or_atomic_body_is_a_value(sql: str) -> None:
    assert pgguard.refused(sql, migration=False) == []


@pytest.mark.parametrize(("sql", "word"), STANDARD_BODY_REFUSED.items())
def test_a_return_or_atomic_body_s_code_and_an_as_body_are_still_read(sql: str, word: str) -> None:
    assert word in " ".join(reason for _, reason in pgguard.refused(sql, migration=False))


def test_a_migration_and_a_module_may_not_set_the_server_s_settings_through_pg_settings() -> None:
    sql = "UPDATE pg_settings SET setting = 'all' WHERE name = 'log_statement'"
    assert "UPDATE pg_settings" in pgguard.refused(sql, migration=True)[0][1]
    assert "UPDATE pg_settings" in str(pgguard.query_refusal(sql))
    assert "pg_read_file()" in str(pgguard.query_refusal("SELECT (n::text).pg_read_file FROM t"))


def test_a_function_defined_in_a_body_in_an_allowed_language_is_allowed() -> None:
    sql = (
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $o$ BEGIN CREATE FUNCTION g() "
        "RETURNS int LANGUAGE sql AS $i$ SELECT t.n FROM t $i$; END $o$;"
    )
    assert pgguard.refused(sql, migration=False) == []


def test_each_refused_statement_has_its_line_and_the_error_names_the_file() -> None:
    sql = "CREATE TABLE t (x int);\n\nCOPY t FROM PROGRAM 'id';\n-- c\nDO $$\nx\n$$;\n"
    with pytest.raises(pgguard.UnsafePostgresError) as caught:
        pgguard.check(sql, "pkg/schema_postgres.sql", migration=False)
    message = str(caught.value)
    assert message.startswith("pkg/schema_postgres.sql: refused, the PostgreSQL schema ")
    assert "pkg/schema_postgres.sql:3: COPY statement" in message
    assert "pkg/schema_postgres.sql:5: DO statement" in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "name",
    [
        "schema_postgres.sql",
        "migrations_postgres/0001_initial.sql",
        "migrations_postgres/0002_orchestrator_chat.sql",
        "migrations_postgres/0003_refuse_what_models_refuse.sql",
    ],
)
def test_the_shipped_postgres_files_pass(name: str) -> None:
    sql = (ORCH / name).read_text(encoding="utf-8")
    assert pgguard.refused(sql, migration=name.startswith("migrations")) == []


@pytest.mark.parametrize(
    "sql",
    [
        "/*" * 50_000,  # nested comments that never close
        "COMMENT ON TABLE t IS '" + "''" * 200_000,  # a string that never closes
        "COMMENT ON TABLE t IS E'" + "\\\\" * 200_000,
        "$a$ $b$ " * 50_000,
        ";\n" * 200_000,
        "COPY t FROM PROGRAM 'id';\n" * 50_000,  # each one refused, with its line
    ],
    ids=["comments", "string", "escape-string", "dollar-tags", "semicolons", "refused"],
)
def test_hostile_text_is_split_in_linear_time(sql: str) -> None:
    pgguard.refused(sql, migration=False)  # returns (a quadratic split would take minutes)


def test_a_flood_of_refused_statements_names_the_first_twenty() -> None:
    sql = "COPY t FROM PROGRAM 'id';\n" * 1000
    with pytest.raises(pgguard.UnsafePostgresError) as caught:
        pgguard.check(sql, "s.sql", migration=True)
    assert "s.sql:20: COPY" in str(caught.value)
    assert "s.sql:21: " not in str(caught.value)
    assert str(caught.value).endswith("; and 980 more")
    assert len(caught.value.refused) == 1000


def server_url() -> str:
    """The test server's URL; skip without one (fail where CI requires one)."""
    url = os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES") == "1":
            pytest.fail("no PostgreSQL server, and TAC_BOOTSTRAP_ORCHESTRATOR_REQUIRE_POSTGRES=1")
        pytest.skip("no PostgreSQL server: set TAC_BOOTSTRAP_ORCHESTRATOR_TEST_DATABASE_URL")
    return url


def test_statements_are_split_as_the_server_splits_them() -> None:
    """Run tricky SQL on a real server: pgguard sees exactly the statements it ran."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")
    fixture = ORCH.parent.parent / "tests" / "fixtures" / "pg_split.sql"
    sql = fixture.read_bytes().decode("utf-8")  # not read_text: its lone CR must stay one

    async def tables_made() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                schema = "pgguard_split"
                await conn.execute(f"CREATE SCHEMA {schema}; SET LOCAL search_path TO {schema}")
                await conn.execute(sql)  # as the database module runs a migration
                query = "SELECT tablename FROM pg_tables WHERE schemaname = $1"
                rows = await conn.fetch(query, schema)
                await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await conn.close()
        return sorted(r[0] for r in rows)

    made = asyncio.run(tables_made())
    seen = [s.code.split() for s in pgguard.split(sql)]
    created = sorted(w[2] for w in seen if w[:2] == ["CREATE", "TABLE"])
    assert made == ["a$b$", *[n for n in created if n not in ("a$b$", "_")], "x;y"]
    assert len(seen) == len(made) + 2  # and the two COMMENT ON
    assert pgguard.refused(sql, migration=False) == []


ATOMIC = (
    "CREATE FUNCTION pgguard_atomic(n int) RETURNS int LANGUAGE sql BEGIN ATOMIC\n"
    "  SELECT CASE WHEN n > 0 THEN 1 ELSE 0 END;\n"
    "  SELECT CASE n WHEN 1 THEN 10 END + 1;\n"
    "END;\n"
    "CREATE TABLE pgguard_after (x int);\n"
)


def test_a_begin_atomic_body_is_one_statement_with_its_create() -> None:
    """Its ``;`` do not end the CREATE (its queries were refused as a schema's statements)."""
    statements = pgguard.split(ATOMIC)
    assert [s.code.split()[:2] for s in statements] == [["CREATE", "FUNCTION"], ["CREATE", "TABLE"]]
    assert statements[1].line == 5
    assert pgguard.refused(ATOMIC, migration=False) == []
    hidden = ATOMIC.replace("SELECT CASE n", "COPY pgguard_after TO PROGRAM 'id'; SELECT CASE n")
    assert "a BEGIN ATOMIC body with a statement that starts with COPY" in str(
        pgguard.refused(hidden, migration=True)
    )
    # BEGIN ATOMIC only where the server reads a body: in a view's columns it is a name and alias
    view = "CREATE VIEW v AS SELECT function, begin atomic FROM t; COPY t TO PROGRAM 'id';"
    assert "COPY statement" in str(pgguard.refused(view, migration=True))
    quoted = 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN "x" ATOMIC SELECT 1; COPY t TO x;'
    assert "COPY statement" in str(pgguard.refused(quoted, migration=True))


def test_the_server_reads_a_begin_atomic_body_as_the_check_does() -> None:
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")

    async def run() -> tuple[int, int]:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.execute(
                    "CREATE SCHEMA pgguard_atomic; SET LOCAL search_path TO pgguard_atomic"
                )
                await conn.execute(ATOMIC)  # as the database module runs a schema
                value = await conn.fetchval("SELECT pgguard_atomic(1)")
                tables = await conn.fetchval(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'pgguard_atomic'"
                )
                await conn.execute("DROP SCHEMA pgguard_atomic CASCADE")
        finally:
            await conn.close()
        return value, tables

    assert asyncio.run(run()) == (11, 1)  # the body's last query, and the table after it


def test_the_refused_secret_relations_are_the_server_s() -> None:
    """Each relation refused by name is one on a real server (a misspelt name refuses nothing)."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")

    async def missing() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            names = sorted(pgguard._SECRET_RELATIONS)
            query = (
                "SELECT n FROM unnest($1::text[]) n WHERE to_regclass('pg_catalog.' || n) IS NULL"
            )
            rows = await conn.fetch(query, names)
            roles = await conn.fetchval("SELECT count(*) FROM pg_authid")
        finally:
            await conn.close()
        assert roles > 0  # the tests' role reads pg_authid: a view over it would show the hashes
        return [r[0] for r in rows]

    assert asyncio.run(missing()) == []


# A GROUP BY's groupings, each refused as a call of rollup(), cube() or sets() (exit 2); each ran
# on a 15.18 server. Where the server calls a function so named, it is still a call.
GROUPINGS = [
    "SELECT count(*) FROM agents GROUP BY ROLLUP (status);",
    "SELECT count(*) FROM agents GROUP BY status, CUBE (name, model);",
    "SELECT count(*) FROM agents GROUP BY GROUPING SETS ((status), ());",
    "SELECT count(*) FROM agents GROUP BY grouping sets ((status), rollup (name));",
    "SELECT count(*) FROM agents GROUP BY DISTINCT ROLLUP (status);",
    "SELECT count(*) FROM agents GROUP BY length(status) + 1, rollup(name);",
]
GROUPING_CALLS = {
    "SELECT cube(1);": "function cube()",
    "SELECT id FROM agents ORDER BY cube(1);": "function cube()",
    "SELECT count(*) FROM agents GROUP BY public.cube(1);": "function cube()",
    "SELECT count(*) FROM agents GROUP BY (cube(1));": "function cube()",
    "SELECT count(*) FROM agents GROUP BY ROLLUP (pg_read_file('/etc/passwd'));": "pg_read_file",
    "SELECT sets(1);": "function sets()",
}


@pytest.mark.parametrize("sql", GROUPINGS)
def test_a_group_by_s_grouping_is_no_call(sql: str) -> None:
    assert pgguard.refused(sql, migration=True) == []


@pytest.mark.parametrize("sql", sorted(GROUPING_CALLS))
def test_a_call_named_as_a_grouping_is_still_a_call(sql: str) -> None:
    [(_, reason)] = pgguard.refused(sql, migration=True)
    assert GROUPING_CALLS[sql] in reason


def test_the_allowed_sql_runs_on_a_real_server() -> None:
    """The fixture of what must pass is valid PostgreSQL: the check is tried on real SQL."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")
    sql = (Path(__file__).parent / "fixtures" / "pg_allowed.sql").read_text(encoding="utf-8")

    async def run() -> int:
        conn = await asyncpg.connect(url)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute("CREATE SCHEMA pgguard_allowed")
                await conn.execute("SET LOCAL search_path TO pgguard_allowed")
                await conn.execute(sql)
                return int(await conn.fetchval("SELECT count(*) FROM owners"))
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    assert asyncio.run(run()) == 1


def test_the_function_lists_are_postgresql_s() -> None:
    """Every harmless function named is one of the server's; on 15 the lists are its catalogue."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")

    async def catalog() -> tuple[int, set[str]]:
        conn = await asyncpg.connect(url)
        try:
            version = int(await conn.fetchval("SHOW server_version_num"))
            query = (
                "SELECT DISTINCT proname FROM pg_proc JOIN pg_namespace n "
                "ON n.oid = pronamespace WHERE nspname = 'pg_catalog'"
            )
            return version // 10000, {r[0] for r in await conn.fetch(query)}
        finally:
            await conn.close()

    major, names = asyncio.run(catalog())
    listed = pgfunctions.HARMLESS - pgfunctions.ADDED
    assert sorted(listed - names) == []
    assert not pgfunctions.HARMLESS & pgfunctions.OTHERS
    assert pgfunctions.ONE_ARGUMENT <= pgfunctions.OTHERS
    if major == 15:
        assert sorted(names - listed - pgfunctions.OTHERS) == []
        assert sorted(pgfunctions.OTHERS - names) == []
        assert sorted(pgfunctions.ADDED & names) == []


# Text the server would read otherwise than the check reads it, each found on a real server to
# run what the check had let through.
READ_AS_THE_SERVER_READS = {
    # an E'…' string continued on the next line is still an escape string: \' does not end it
    "COMMENT ON TABLE t IS E'x'\n'\\' , ' ; COPY t TO PROGRAM $$id$$ ; --';": "COPY statement",
    "COMMENT ON TABLE t IS E'x' -- a comment\n\n  '\\' , ' ; COPY t TO PROGRAM $$id$$ ; --';": (
        "COPY statement"
    ),
    "CREATE TABLE p AS SELECT E'x'\n'\\' , ' , pg_read_file($$/etc/hostname$$) AS v --';": (
        "function pg_read_file()"
    ),
    # a body in plain strings: continued ones are one body, and '' in one holds a quote
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS 'BEGIN PERFORM $x$'\n'$x$; CREATE TABLE p "
    "AS SELECT pg_read_file($q$/etc/hostname$q$) AS v; RETURN 0; END';": "function pg_read_file()",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS 'BEGIN PERFORM ''$x$''; CREATE TABLE p AS "
    "SELECT pg_read_file(''/etc/hostname'') AS v; PERFORM ''$x$''; RETURN 0; END';": (
        "function pg_read_file()"
    ),
    # settings that change how the server reads the statements after them
    "SET standard_conforming_strings = off;": "SET standard_conforming_strings to OFF",
    "SET LOCAL standard_conforming_strings TO 'off';": "SET standard_conforming_strings to off",
    "SET client_encoding = 'SJIS';": "SET client_encoding to SJIS",
    "SET client_encoding TO 'UTF8', 'SJIS';": "SET client_encoding to this",
    "SET NAMES 'SJIS';": "SET client_encoding to SJIS",  # NAMES sets client_encoding
    "SET LOCAL NAMES 'SJIS';": "SET client_encoding to SJIS",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = off "
    "AS $$ SELECT 1 $$;": "a function that sets SET standard_conforming_strings",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN SET client_encoding = 'SJIS'; "
    "RETURN 1; END $$;": "a function whose body holds SET client_encoding to SJIS",
    # a search_path whose escapes spell information_schema
    "SET search_path = U&'information\\005fschema', public;": "a search_path beside an E",
    "SET search_path = E'information\\x5fschema', public;": "a search_path beside an E",
    # what psql would run itself, and a blank only to some versions
    "COMMENT ON TABLE t IS 'T.' \\! id\n;": "a backslash outside a string",
    "CREATE TABLE t (x int)\v;": "a vertical tab outside a string",
    # a call after a comma is a call unless a WITH clause names it
    "CREATE TABLE p AS SELECT m::text FROM (VALUES ('data_directory')) v(p), "
    "current_setting(p) AS materialized;": "function current_setting()",
    "CREATE VIEW v AS SELECT id, table_to_xml(r, n, t, s) AS materialized FROM t;": "table_to_xml",
    "CREATE VIEW v AS SELECT 1 FROM unnest(a) WITH ORDINALITY AS o(a, b), table_to_xml(r, n, t, s) "
    "AS (SELECT int);": "table_to_xml",
    # the out-of-line values of every table, pg_statistic's and pg_authid's too
    "CREATE TABLE p AS SELECT chunk_data FROM pg_toast.pg_toast_2619;": "catalogue pg_toast",
    "CREATE VIEW v AS SELECT chunk_data FROM pg_toast_1260;": "catalogue pg_toast_1260",
}

READ_ALIKE = [
    "COMMENT ON TABLE t IS E'it\\'s'\n'continued';",
    "SET standard_conforming_strings = on;",
    "SET client_encoding = 'UTF8';",
    "SET client_encoding TO 'utf-8';",
    "RESET client_encoding;",
    "SET NAMES 'UTF8';",  # "SET names" before: the same setting, spelt so
    "SET SESSION NAMES DEFAULT;",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = on "
    "AS $$ SELECT 1 $$;",
    "CREATE VIEW v AS WITH a AS (SELECT 1 AS x), b (y) AS MATERIALIZED (SELECT x FROM a), "
    "c AS NOT MATERIALIZED (VALUES (2)) SELECT y FROM b, c;",
    "CREATE VIEW v AS WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 9)"
    " SEARCH DEPTH FIRST BY n SET o, s (m) AS (SELECT 2) SELECT n FROM r, s;",
    "COMMENT ON TABLE t IS 'a \\ backslash in a string';",
    "CREATE VIEW v AS SELECT current_setting('server_'\n'version');",
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT ''it''''s $x$'' AS a';",
]


@pytest.mark.parametrize("sql", sorted(READ_AS_THE_SERVER_READS))
def test_what_the_server_reads_otherwise_is_refused(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert found, sql
    assert READ_AS_THE_SERVER_READS[sql] in found[0][1]


@pytest.mark.parametrize("sql", READ_ALIKE)
def test_what_the_server_reads_alike_is_allowed(sql: str) -> None:
    assert pgguard.refused(sql, migration=True) == []


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("select pg_read_file('/etc/passwd')", True),
        ("(SELECT 1)", True),
        ("/* a /* nested */ comment */ values (1)", True),
        ("-- a comment\nTABLE agents", True),
        ("COPY agents TO STDOUT", False),
        ("an agent's name", False),
        ("", False),
    ],
)
def test_a_literal_is_a_query_if_its_first_statement_reads_or_writes_rows(
    text: str, query: bool
) -> None:
    assert pgguard.is_query(text) is query


FN = "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$ DECLARE {0} text; BEGIN {1}; END $$;"

# A name spelt as a keyword (quoted, or a PL/pgSQL variable unquoted) is a name: each of these ran
# on PostgreSQL 15 and read data_directory, ran SQL built at run time or read pg_authid.
KEYWORD_NAMES = {
    FN.format('"table"', "SELECT INTO \"table\" current_setting('data_directory')"): (
        "function current_setting()"
    ),
    FN.format("view", "SELECT INTO view current_setting('data_directory')"): "current_setting()",
    FN.format("open", "SELECT INTO STRICT open current_setting('data_directory')"): "current",
    FN.format("tablesample", "SELECT INTO a, tablesample 1, current_setting('x')"): "current",
    FN.format("exists", "SELECT INTO exists current_setting('data_directory')"): "current",
    FN.format("as", "SELECT INTO as table_to_xml(r, true, false, '')"): "table_to_xml()",
    # EXECUTE function USING (…) runs the variable "function", a trigger or not before it
    FN.format('trigger int; "function"', "EXECUTE function USING (1)"): "EXECUTE (SQL built",
    FN.format('"trigger" int; function', "EXECUTE function USING (1)"): "EXECUTE (SQL built",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE TRIGGER tr AFTER "
    "UPDATE ON t FOR EACH ROW EXECUTE FUNCTION g(); EXECUTE function USING (1); END $$;": (
        "EXECUTE (SQL built"
    ),
    # a CTE list read where there is none: WITH ORDINALITY, a quoted "select" column
    "CREATE TABLE p AS SELECT 1 FROM (VALUES ('data_directory')) AS v(p), unnest(ARRAY[1]) WITH "
    'ORDINALITY AS materialized("select", n), current_setting(p) AS "not"("select");': "current",
    "CREATE TABLE p AS SELECT 1 FROM (VALUES ('data_directory')) AS v(p), unnest(ARRAY[1]) WITH "
    "ORDINALITY AS materialized(insert, n), current_setting(p) AS materialized(insert);": "current",
    # SHOW where PL/pgSQL runs a query: FOR … IN, OPEN … FOR
    "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$ DECLARE r record; BEGIN FOR r IN "
    "SHOW data_directory LOOP RETURN r.data_directory; END LOOP; END $$;": "SHOW data_directory",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE c refcursor; BEGIN OPEN c "
    "FOR SHOW ALL; END $$;": "SHOW all",
    # TREAT(x AS t) calls the function t(x)
    "CREATE TABLE p AS SELECT TREAT('data_directory' AS current_setting) AS v;": "TREAT (calls",
    # Python's str.upper() makes a long s an S and a dotless i an I; PostgreSQL does not
    FN.format("a\u017f", "SELECT INTO a\u017f current_setting('data_directory')"): "current",
    FN.format("tr\u0131gger int; function", "EXECUTE function USING (1)"): "EXECUTE (SQL",
    # an own function's name never excuses a catalogue relation's read
    "CREATE FUNCTION app.pg_settings() RETURNS int LANGUAGE sql AS 'SELECT 1'; CREATE TABLE p AS "
    "SELECT setting FROM pg_settings;": "catalogue pg_settings (not one that describes",
}


@pytest.mark.parametrize("sql", sorted(KEYWORD_NAMES))
def test_a_name_spelt_as_a_keyword_relaxes_no_rule(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert len(found) == 1, found
    assert KEYWORD_NAMES[sql] in found[0][1]


def test_keyword_names_that_are_names_are_allowed() -> None:
    sql = (
        'CREATE TABLE "user" ("order" int, "select" text REFERENCES "group" (id));\n'
        "CREATE FUNCTION g() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE n int; r record; BEGIN "
        "SELECT INTO n count(*) FROM t; INSERT INTO t (a) VALUES (1); FOR r IN SELECT 1 LOOP "
        "NULL; END LOOP; CREATE TRIGGER tr AFTER UPDATE ON t FOR EACH ROW WHEN (CASE WHEN true "
        "THEN true ELSE false END) EXECUTE FUNCTION g(); END $$;\n"
        "INSERT INTO t (a) SELECT x FROM unnest(ARRAY[1]) WITH ORDINALITY AS o(x, n);"
    )
    assert pgguard.refused(sql, migration=True) == []


def test_treat_is_refused_beside_a_project_s_own_treat() -> None:
    """The server reads the grammar's TREAT(x AS t), a call of t(x), whatever the project has."""
    sql = "CREATE TABLE p AS SELECT TREAT('data_directory' AS current_setting)::text AS v;"
    found = pgguard.refused(sql, migration=True, own=frozenset({"treat"}))
    assert len(found) == 1
    assert "TREAT (calls the function its type names" in found[0][1]


# A planner support function is C code the planner calls; a superuser may name any: on 15.18,
# each ran and set pg_proc.prosupport to textlike_support.
SUPPORT = {
    "CREATE FUNCTION f(text) RETURNS int LANGUAGE sql IMMUTABLE SUPPORT textlike_support "
    "AS 'SELECT 1';": "a function with SUPPORT textlike_support",
    "create function f(text) returns int language sql support "
    '"pg_catalog".textlike_support as $$ select 1 $$;': "a function with SUPPORT pg_catalog",
    "CREATE FUNCTION f(text) RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
    "ALTER FUNCTION f(text) SUPPORT textlike_support;": "a function with SUPPORT textlike",
    "CREATE FUNCTION g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE FUNCTION h(text) "
    "RETURNS int LANGUAGE sql SUPPORT textlike_support AS 'SELECT 1'; END $$;": (
        "a function whose body holds a function with SUPPORT textlike_support"
    ),
    "CREATE FUNCTION g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; "
    "ALTER FUNCTION g() SUPPORT textlike_support; END $$;": "a function with SUPPORT",
}


@pytest.mark.parametrize("sql", sorted(SUPPORT))
def test_a_function_s_support_clause_is_refused(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert len(found) == 1, found
    assert SUPPORT[sql] in found[0][1]


def test_support_as_a_type_column_or_schema_name_is_allowed() -> None:
    sql = (
        "CREATE TYPE support AS (x int);\n"
        "CREATE FUNCTION f() RETURNS support LANGUAGE sql AS 'SELECT ROW(1)::support';\n"
        "CREATE FUNCTION g() RETURNS SETOF support LANGUAGE sql STABLE AS 'SELECT * FROM t';\n"
        "CREATE FUNCTION h(support int DEFAULT 1) RETURNS TABLE (support int) LANGUAGE plpgsql "
        "AS $$ BEGIN CREATE FUNCTION k() RETURNS int LANGUAGE sql AS 'SELECT 1'; "
        "RETURN QUERY SELECT s.support FROM support s WHERE support > 0; END $$;"
    )
    assert pgguard.refused(sql, migration=True) == []


def test_each_refused_support_clause_runs_on_a_real_server() -> None:
    """Each SUPPORT case runs as the tests' role and names C code: the refusal is of real harm."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")
    query = (
        "SELECT p.prosupport::text, l.lanname FROM pg_proc p "
        "JOIN pg_proc s ON s.oid = p.prosupport JOIN pg_language l ON l.oid = s.prolang "
        "WHERE p.pronamespace = 'pgguard_support'::regnamespace"
    )

    async def supports(sql: str) -> list[tuple[str, str]]:
        conn = await asyncpg.connect(url)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute("CREATE SCHEMA pgguard_support")
                await conn.execute("SET LOCAL search_path TO pgguard_support")
                await conn.execute(sql)
                if "$$ BEGIN" in sql:  # the body's statements run when g() is called
                    await conn.execute("SELECT g()")
                return [tuple(row) for row in await conn.fetch(query)]
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    for sql in SUPPORT:
        assert asyncio.run(supports(sql)) == [("textlike_support", "internal")], sql
        assert pgguard.refused(sql, migration=True) != []


# Row locks on the catalogue: on 15.18 each ran as a migration's statement (or a module's) and
# held RowShareLock and a lock on every row of pg_class or pg_proc until the transaction ended.
CATALOGUE_ROW_LOCKS = {
    "SELECT * FROM pg_class FOR UPDATE;": "catalogue pg_class",
    "SELECT 1 FROM pg_catalog.pg_proc FOR NO KEY UPDATE;": "catalogue pg_proc",
    "SELECT a.id FROM agents a JOIN pg_class c ON true FOR SHARE OF c;": "catalogue pg_class",
    "SELECT * FROM information_schema.tables FOR KEY SHARE;": "catalogue tables",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
    "PERFORM * FROM pg_class FOR UPDATE; END $$;": "a function whose body holds a lock",
}


@pytest.mark.parametrize("sql", sorted(CATALOGUE_ROW_LOCKS))
def test_a_lock_on_the_catalogue_s_rows_is_refused(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert len(found) == 1, found
    assert CATALOGUE_ROW_LOCKS[sql] in found[0][1]
    assert "a lock on the rows of the catalogue" in found[0][1]


def test_a_lock_on_the_project_s_rows_is_allowed() -> None:
    sql = (
        "CREATE TABLE agents (id int, name text);\n"
        "SELECT id FROM agents FOR UPDATE;\nSELECT pg_catalog.lower(name) FROM agents FOR SHARE;\n"
        "SELECT id FROM agents WHERE id::regclass IS NOT NULL FOR NO KEY UPDATE SKIP LOCKED;"
    )
    assert pgguard.refused(sql, migration=True) == []
    assert pgguard.query_refusal("SELECT * FROM agents FOR UPDATE") is None


def test_a_lock_on_the_catalogue_s_rows_holds_them_on_a_real_server() -> None:
    """Each refused lock ran on a real server, and held a row lock on the catalogue's table."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")
    query = (
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE "
        "l.pid = pg_backend_pid() AND l.mode = 'RowShareLock' AND c.relnamespace IN "
        "('pg_catalog'::regnamespace, 'information_schema'::regnamespace)"
    )

    async def locks(sql: str) -> int:
        conn = await asyncpg.connect(url)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute(
                    "CREATE SCHEMA pgguard_locks; SET LOCAL search_path TO pgguard_locks"
                )
                await conn.execute("CREATE TABLE agents (id int, name text)")
                await conn.execute(sql)
                if "CREATE FUNCTION f()" in sql:
                    await conn.execute("SELECT f()")
                return int(await conn.fetchval(query))
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    for sql in CATALOGUE_ROW_LOCKS:
        if "information_schema" in sql:
            continue  # its views join outer sides: the server refuses FOR KEY SHARE there
        assert asyncio.run(locks(sql)) > 0, sql


def test_uuid_generate_v1_is_refused_as_it_describes_the_server() -> None:
    """Its last twelve digits are the server's hardware address (on 15.18: 02fc00000001 twice)."""
    sql = "CREATE TABLE t (id uuid DEFAULT uuid_generate_v1());"
    assert "function uuid_generate_v1()" in pgguard.refused(sql, migration=False)[0][1]
    assert "function uuid_generate_v1()" in str(pgguard.query_refusal("SELECT uuid_generate_v1()"))
    own = "CREATE FUNCTION uuid_generate_v1() RETURNS uuid LANGUAGE sql RETURN gen_random_uuid();"
    assert "an extension's uuid_generate_v1()" in pgguard.refused(own, migration=False)[0][1]
    allowed = (
        "CREATE TABLE t (a uuid DEFAULT uuid_generate_v1mc(), b uuid DEFAULT uuid_generate_v4());"
    )
    assert pgguard.refused(allowed, migration=False) == []


LONG = "agent_total_" + "x" * 60  # 72 bytes: the server keeps its first 63
OWN = "CREATE FUNCTION own_f(a int) RETURNS int LANGUAGE sql AS 'SELECT a';\n"
# Spellings the server reads as a form that passes (each was refused before: false refusals).
SPELT_AS_ALLOWED = [
    OWN + "ALTER ROUTINE own_f(int) SET search_path = public;",  # as ALTER FUNCTION
    OWN + "COMMENT ON ROUTINE own_f(int) IS 'counts';",
    OWN + "DROP ROUTINE IF EXISTS own_f(int);",
    "BEGIN;\nSET LOCAL transaction_isolation = 'repeatable read';\nCOMMIT;",  # SET TRANSACTION
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE;",
    "SET default_transaction_read_only = off;",
    "SET XML OPTION DOCUMENT;",  # as SET xmloption
    "CREATE FUNCTION own_g() RETURNS void LANGUAGE sql AS $$ EXPLAIN (ANALYZE) SELECT 1 $$;",
    "CREATE FUNCTION own_h() RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF true THEN\n"
    "  EXPLAIN (ANALYZE, BUFFERS) SELECT 1; END IF; END $$;",
    # a name past 63 bytes is its first 63 to the server, where it is defined and called
    f"CREATE FUNCTION {LONG}() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
    f"CREATE VIEW totals AS SELECT {LONG[:63]}() AS a, {LONG[:63]}yy() AS b;",
    "CREATE FUNCTION own_k() RETURNS void LANGUAGE plpgsql AS $$ DECLARE r record;\n"
    "  c CURSOR FOR EXPLAIN (ANALYZE) SELECT 1; BEGIN\n"
    "  FOR r IN EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1 LOOP END LOOP; END $$;",
    "SET SCHEMA 'public';",  # the search_path, of one schema: as SET search_path = 'public'
    "CREATE SCHEMA app;\nSET LOCAL SCHEMA 'app';",
    "CREATE FUNCTION own_m() RETURNS int LANGUAGE sql SET SCHEMA 'public' AS 'SELECT 1';",
    "SET xmlbinary = hex;",  # as SET xmloption
]
SPELT_AS_REFUSED = {
    "DROP ROUTINE lower(text);": "DROP FUNCTION lower (PostgreSQL's catalogue",
    "COMMENT ON ROUTINE pg_catalog.lower(text) IS 'x';": "COMMENT ON FUNCTION pg_catalog.lower",
    "ALTER ROUTINE pg_read_file(text) RENAME TO own_f;": "ALTER FUNCTION pg_read_file",
    OWN + "ALTER ROUTINE own_f(int) SET work_mem = '1GB';": "a function that sets SET work_mem",
    "CREATE FUNCTION own_g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN\n"
    "  DROP ROUTINE lower(text); END $$;": "DROP FUNCTION lower",
    "SET SESSION CHARACTERISTICS AS ROLE x;": "SET characteristics",
    "CREATE FUNCTION own_g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN\n"
    "  EXPLAIN (ANALYZE) SELECT pg_read_file('/etc/hostname'); END $$;": "function pg_read_file()",
    "CREATE FUNCTION own_g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN\n"
    "  PERFORM explain(1); END $$;": "function explain()",  # a call where no statement starts
    f"CREATE VIEW totals AS SELECT {LONG[:62]}();": f"function {LONG[:62]}()",
    f"CREATE VIEW v AS SELECT pg_read_file{'x' * 60}();": "reaches outside the database",
    "CREATE FUNCTION own_k() RETURNS void LANGUAGE plpgsql AS $$ BEGIN\n"
    "  FOR i IN explain(1)..9 LOOP END LOOP; END $$;": "function explain()",  # a call
    # THEN and ELSE of a CASE: an operand follows, a call (PL/pgSQL's start a statement)
    "SELECT CASE WHEN false THEN 0 ELSE explain (1) END;": "function explain()",
    "CREATE VIEW v AS SELECT CASE WHEN true THEN explain(1) END AS x;": "function explain()",
    "CREATE FUNCTION own_k() RETURNS int LANGUAGE plpgsql AS $$ BEGIN\n"
    "  RETURN CASE WHEN true THEN 1 ELSE explain(1) END; END $$;": "function explain()",
    "SET SCHEMA 'pg_catalog';": "a search_path with pg_catalog",
    "SET SCHEMA 'pg_temp';": "a search_path with pg_temp before",
    "SET SCHEMA 'nope';": "a search_path with nope (a schema the project's SQL does not create",
    "SET SCHEMA 'public, pg_catalog';": "a search_path with public, pg_catalog (a schema",
    "SET SCHEMA E'pg\\x5fcatalog';": "a search_path beside an E",
    "CREATE FUNCTION own_m() RETURNS int LANGUAGE sql SET SCHEMA 'pg_catalog' AS 'SELECT 1';": (
        "a search_path with pg_catalog"
    ),
}


def _short(sql: str) -> str:
    """Return a test id of at most 60 characters (a name of 63 bytes, escaped, is 300 or more)."""
    return sql.encode("ascii", "backslashreplace").decode()[:60]


@pytest.mark.parametrize("sql", SPELT_AS_ALLOWED, ids=_short)
def test_a_form_the_server_reads_as_an_allowed_one_is_allowed(sql: str) -> None:
    assert pgguard.refused(sql, migration=True, own=pgguard.defined_names(sql)) == []


@pytest.mark.parametrize("sql", sorted(SPELT_AS_REFUSED), ids=_short)
def test_those_forms_are_still_refused_for_what_they_reach(sql: str) -> None:
    found = pgguard.refused(sql, migration=True, own=pgguard.defined_names(sql))
    assert found, sql
    assert SPELT_AS_REFUSED[sql] in found[-1][1]


def test_the_forms_spelt_as_allowed_ones_run_on_a_real_server() -> None:
    """Each is valid PostgreSQL, and the long name's call reaches the function it defines."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")
    # own_h is made only: PL/pgSQL runs no EXPLAIN without a place for its rows
    then = {7: "SELECT count(*) FROM (SELECT own_g()) AS g", 9: "SELECT a + b FROM totals"}

    async def run(sql: str, after: str) -> object:
        conn = await asyncpg.connect(url)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:  # each in a transaction of its own (the first statement run), rolled back
                if sql.startswith("BEGIN;"):  # its transaction is ours: before any query
                    await conn.execute(sql.replace("BEGIN;\n", "").replace("COMMIT;", ""))
                await conn.execute("CREATE SCHEMA pgguard_spelt")
                await conn.execute("SET LOCAL search_path TO pgguard_spelt")
                if not sql.startswith("BEGIN;"):
                    await conn.execute(sql)
                return await conn.fetchval(after)
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    for at, sql in enumerate(SPELT_AS_ALLOWED):
        found = asyncio.run(run(sql, then.get(at, "SELECT 0")))
        assert found == (2 if at == 9 else 1 if at in then else 0), sql


# A quoted name with capitals keeps its case to the server: "Pg_Read_File" is the project's own
# function, never PostgreSQL's pg_read_file, which its unquoted spellings name (refused before).
MIXED = "CREATE FUNCTION \"Pg_Read_File\"(a text) RETURNS int LANGUAGE sql AS 'SELECT 7';\n"
QUOTED_OWN_ALLOWED = [
    MIXED + "CREATE VIEW own_v AS SELECT \"Pg_Read_File\"('x') AS n;",
    MIXED + "CREATE TABLE own_t (n int DEFAULT \"Pg_Read_File\"('x') CHECK (n > 0));",
    MIXED + 'ALTER FUNCTION "Pg_Read_File"(text) SECURITY INVOKER;',
    MIXED + "COMMENT ON FUNCTION public.\"Pg_Read_File\"(text) IS 'counts';",
    MIXED + "CREATE FUNCTION own_g() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN "
    "\"Pg_Read_File\"('x'); END $$;",
    "CREATE FUNCTION \"LOWER\"(a text) RETURNS text LANGUAGE sql AS 'SELECT a';\n"
    "CREATE VIEW own_v AS SELECT \"LOWER\"('X') AS a, lower('X') AS b;",
    # a setting's name is read in any case, quoted too (the server does so)
    'SET "Statement_Timeout" = 0;',
    "CREATE FUNCTION own_s() RETURNS int LANGUAGE sql SET \"Search_Path\" = public AS 'SELECT 1';",
]
QUOTED_REFUSED = {
    MIXED + "CREATE VIEW own_v AS SELECT Pg_Read_File('x');": "function pg_read_file()",
    MIXED + "CREATE VIEW own_v AS SELECT \"pg_read_file\"('x');": "function pg_read_file()",
    MIXED + "CREATE VIEW own_v AS SELECT \"PG_READ_FILE\"('x');": 'function "PG_READ_FILE"() (not',
    MIXED + "CREATE VIEW own_v AS SELECT pg_catalog.pg_read_file('x');": "pg_read_file()",
    MIXED + 'ALTER FUNCTION pg_read_file(text) RENAME TO "Own";': "ALTER FUNCTION pg_read_file",
    "CREATE VIEW own_v AS SELECT \"Pg_Read_File\"('x');": 'function "Pg_Read_File"() (not',
    "SET \"Work_Mem\" = '1GB';": "SET work_mem",
    'SET "sEaRcH_PaTh" = pg_temp, public;': "a search_path with pg_temp before",
    'CREATE FUNCTION own_s() RETURNS int LANGUAGE sql SET "Search_Path" = pg_catalog AS '
    "'SELECT 1';": "a search_path with pg_catalog",
    # an unquoted name spelt as the check's mark of a quoted one is no such name
    "SELECT q$pg_read_file$109('x');": "function q$pg_read_file$109()",
}


@pytest.mark.parametrize("sql", QUOTED_OWN_ALLOWED, ids=_short)
def test_a_quoted_name_with_capitals_is_the_project_s_own(sql: str) -> None:
    for migration in (False, True):
        assert pgguard.refused(sql, migration=migration) == []


@pytest.mark.parametrize("sql", sorted(QUOTED_REFUSED), ids=_short)
def test_its_unquoted_and_lower_case_spellings_are_postgresql_s(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert found, sql
    assert QUOTED_REFUSED[sql] in found[-1][1]


def test_a_module_may_call_the_project_s_quoted_function() -> None:
    own = pgguard.defined_names(MIXED)
    assert pgguard.query_refusal("SELECT \"Pg_Read_File\"('x')", own) is None
    refused = pgguard.query_refusal("SELECT Pg_Read_File('x')", own)
    assert "function pg_read_file()" in str(refused)


def test_the_quoted_names_run_on_a_real_server_as_the_project_s_own() -> None:
    """Each creates and calls the project's function; PostgreSQL's keep their own names."""
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")
    then = {
        0: "SELECT n FROM own_v",
        4: "SELECT own_g()",
        5: "SELECT a || b FROM own_v",
        6: "SHOW statement_timeout",
    }
    expected = {0: 7, 4: 7, 5: "Xx", 6: "0"}

    async def run(sql: str, after: str) -> object:
        conn = await asyncpg.connect(url)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:  # each in a transaction of its own, rolled back
                await conn.execute("CREATE SCHEMA pgguard_quoted")
                await conn.execute("SET LOCAL search_path TO pgguard_quoted, public")
                await conn.execute(sql.replace("public.", "pgguard_quoted."))
                return await conn.fetchval(after)
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    for at, sql in enumerate(QUOTED_OWN_ALLOWED):
        assert asyncio.run(run(sql, then.get(at, "SELECT 0"))) == expected.get(at, 0), sql


@pytest.mark.parametrize(
    "sql",
    [
        'select "version"()',
        '(SELECT "version"())',
        '/* q */ select "pg_catalog"."version"()',
        'select "system"(1)',
    ],
)
def test_a_loose_literal_s_quoted_keyword_call_is_refused(sql: str) -> None:
    """A quoted name spelt as a keyword calls PostgreSQL's function so named: it passed."""
    assert pgguard.query_refusal(sql, frozenset({"stamp_updated_at"}), loose=True) is not None


def test_a_loose_message_with_a_quoted_keyword_is_no_call() -> None:
    assert pgguard.query_refusal('update failed ("left" side)', frozenset(), loose=True) is None


@pytest.mark.parametrize(
    ("sql", "shown"),
    [
        ('SELECT "left"(name, 2) FROM agents', 'function "left"() (not a PostgreSQL function'),
        ('SELECT "version"()', 'function "version"()'),
        ('select "version"()', 'function "version"()'),
        ('SELECT "a b"(1)', 'function "a b"()'),
        ('SELECT "select" /* c */ (1)', 'function "select"()'),
        ('SELECT "x"."system"(1) FROM "order"', 'function "system"()'),
        ('SELECT "left"(name, 1), "version"() FROM agents', 'function "left"()'),
        ("SELECT a\u017f(1)", "function a\u017f()"),
        ('SET "select" = 1', 'SET "select" (not a setting'),
        (
            'CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT "version"() $$',
            'holds function "version"()',
        ),
    ],
    ids=_short,
)
def test_a_refusal_names_the_name_as_written(sql: str, shown: str) -> None:
    """A name the check reads as ``_`` (quoted keyword, not plain letters) is shown as written."""
    found = [pgguard.refused(sql, migration=True)[0][1]]
    if sql.startswith(("SELECT", "select")):  # a module's SET or CREATE: refused as such
        found.append(str(pgguard.query_refusal(sql, frozenset(), loose=sql.islower())))
    for refused in found:
        assert shown in refused
        assert "_()" not in refused


# A command's word as a name: a WITH query, a column, an alias or a qualified table, where no
# command can start (the server runs each: the test below).
COMMAND_WORDS_AS_NAMES = [
    "WITH execute AS (SELECT id FROM owners) SELECT id FROM execute",
    "WITH load AS (SELECT id FROM owners) SELECT id FROM load",
    "WITH checkpoint AS (SELECT 1 AS n) SELECT n FROM checkpoint",
    "WITH c (vacuum) AS (SELECT id FROM owners) SELECT vacuum FROM c",
    "WITH c (copy) AS (SELECT id FROM owners) SELECT copy FROM c",
    "WITH c (revoke) AS (SELECT 1) SELECT revoke + 1 FROM c",
    "SELECT load FROM (SELECT id AS load FROM owners) AS s WHERE load IS NOT NULL",
    "SELECT revoke FROM (SELECT id AS revoke FROM owners) AS s WHERE revoke IS NOT NULL",
    "SELECT execute FROM (SELECT id AS execute FROM owners) AS s ORDER BY execute LIMIT 1",
    "SELECT vacuum.id FROM owners AS vacuum",
    "SELECT id AS checkpoint FROM owners ORDER BY checkpoint",
]
# The same words where they are commands, beside such a name, are refused as before.
COMMAND_WORDS_AS_COMMANDS = {
    "SELECT 1 AS copy; COPY owners TO PROGRAM 'x'": "COPY",
    "WITH copy AS (SELECT 1) SELECT 1; VACUUM": "VACUUM",
    "SELECT execute FROM (SELECT 1 AS execute) AS s; LOAD 'x'": "LOAD",
    "SELECT id FROM owners; CHECKPOINT": "CHECKPOINT",
}
COMMAND_WORDS_IN_BODIES = {
    "BEGIN EXECUTE ('SELECT 1'); END": "EXECUTE",
    "BEGIN IF true THEN EXECUTE 'SELECT 1'; END IF; END": "EXECUTE",
    "DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END": "EXECUTE",
    "BEGIN RETURN QUERY EXECUTE 'SELECT 1'; END": "EXECUTE",
    "DECLARE execute text := 'x'; BEGIN EXECUTE execute; END": "EXECUTE",
    "BEGIN CREATE TABLE t AS EXECUTE p; END": "EXECUTE",
    "BEGIN PERFORM 1 AS copy; COPY owners TO '/tmp/x'; END": "COPY",
    "BEGIN LOAD 'x'; END": "LOAD",
}


@pytest.mark.parametrize("sql", COMMAND_WORDS_AS_NAMES)
def test_a_command_s_word_as_a_name_is_allowed(sql: str) -> None:
    assert pgguard.query_refusal(sql) is None


def test_a_command_s_word_as_a_name_in_a_body_is_allowed() -> None:
    sql = (
        "CREATE FUNCTION f() RETURNS SETOF int LANGUAGE sql"
        " AS $f$ WITH load AS (SELECT 1 AS n) SELECT n FROM load $f$;"
    )
    assert pgguard.refused(sql, migration=True) == []


@pytest.mark.parametrize("sql", sorted(COMMAND_WORDS_AS_COMMANDS))
def test_a_command_beside_such_a_name_is_still_refused(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert found, sql
    assert COMMAND_WORDS_AS_COMMANDS[sql] in found[-1][1]


@pytest.mark.parametrize("body", sorted(COMMAND_WORDS_IN_BODIES))
def test_a_command_in_a_body_beside_such_a_name_is_still_refused(body: str) -> None:
    sql = f"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $f$ {body} $f$;"
    found = pgguard.refused(sql, migration=True)
    assert found, sql
    assert COMMAND_WORDS_IN_BODIES[body] in found[-1][1]


def test_the_command_words_as_names_run_on_a_real_server() -> None:
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")

    async def run() -> list[object]:
        conn = await asyncpg.connect(url)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute("CREATE SCHEMA pgguard_words")
                await conn.execute("SET LOCAL search_path TO pgguard_words")
                await conn.execute("CREATE TABLE owners (id int); INSERT INTO owners VALUES (1)")
                await conn.execute(
                    "CREATE FUNCTION f() RETURNS SETOF int LANGUAGE sql"
                    " AS $f$ WITH load AS (SELECT 1 AS n) SELECT n FROM load $f$"
                )
                return [await conn.fetchval(sql) for sql in [*COMMAND_WORDS_AS_NAMES, "SELECT f()"]]
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    assert asyncio.run(run()) == [1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1]


# A keyword that also names a function unquoted (unreserved or type-or-function-name, and
# PL/pgSQL's words) followed by "(" is a call wherever the grammar has no form of that word there:
# the server resolves it as one (the test below), so it is held to the allowed functions.
KEYWORD_CALLS = {
    "SELECT insert(1)": "insert",
    "SELECT tablesample(1)": "tablesample",
    "SELECT cross(1)": "cross",
    "SELECT if(1)": "if",
    "SELECT search(1)": "search",
    "SELECT query(1)": "query",
    "SELECT perform(1)": "perform",
    "SELECT gin(1)": "gin",
    "SELECT set(1)": "set",
    "SELECT public.insert(1)": "insert",
    "SELECT public.select(1)": "select",
    "SELECT id FROM owners WHERE exclude(1) > 0": "exclude",
    "SELECT id FROM owners ORDER BY range(1)": "range",
    "SELECT count(*) OVER (PARTITION BY range(1)) FROM owners": "range",
    "SELECT id FROM owners WHERE id IN (SELECT over(1))": "over",
    "SELECT id FROM owners WHERE id = any (SELECT filter(1))": "filter",
    "SELECT 1 FROM owners CROSS JOIN join(1) AS j": "join",
    "SELECT * FROM owners, key(1) AS k": "key",
    "SELECT CASE WHEN true THEN if(1) END": "if",
    "SELECT CASE WHEN true THEN 1 ELSE return(1) END": "return",
    "SELECT options('a')": "options",
    "SELECT options(text 'a')": "options",
    "SELECT DISTINCT ON (id) over(1) FROM owners": "over",
    "SELECT DISTINCT ON (id) set(1) FROM owners": "set",
    "SELECT DISTINCT ON (id) join(1) FROM owners": "join",
    # keywords with a form of their own before "(" elsewhere (FETCH FIRST (, a frame's ROWS (,
    # an interval's SECOND (, RESET (): a call anywhere else
    "SELECT first(1)": "first",
    "SELECT next(1)": "next",
    "SELECT reset(1)": "reset",
    "SELECT second(1)": "second",
    "SELECT id FROM owners WHERE second(1) > 0": "second",
    "SELECT count(*) OVER (ORDER BY rows(1)) FROM owners": "rows",
    "SELECT count(*) OVER (ORDER BY id, groups(1)) FROM owners": "groups",
    "SELECT count(*) OVER (PARTITION BY id ORDER BY id + range(1)) FROM owners": "range",
    "SELECT id FROM owners FETCH FIRST (next(1)) ROWS ONLY": "next",
}
# The select list's first call after DISTINCT ON (…) is a call, not an alias with its columns.
DISTINCT_ON_CALLS = {
    "SELECT DISTINCT ON (id) version() FROM owners": "version",
    "SELECT DISTINCT ON (id, (id)) current_setting('data_directory') FROM owners": (
        "current_setting"
    ),
    "CREATE VIEW v AS SELECT DISTINCT ON (id) txid_current() AS x FROM owners;": "txid_current",
}
KEYWORD_CALLS_IN_SCHEMAS = {
    "CREATE TABLE t (a int DEFAULT insert(1));": "insert",
    "CREATE TABLE t (a int CHECK (search(a) > 0));": "search",
    "CREATE INDEX i ON owners (cross(id));": "cross",
    "CREATE INDEX i ON owners USING btree (gin(id));": "gin",
    "CREATE VIEW v AS SELECT cross(1) AS x;": "cross",
    "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql IMMUTABLE RETURN search(a);": "search",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $f$ BEGIN RETURN insert(1); END $f$;": (
        "insert"
    ),
    "CREATE FUNCTION f(a int) RETURNS int LANGUAGE plpgsql AS $f$ BEGIN a := if(1); RETURN a;"
    " END $f$;": "if",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN next(1);": "next",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; RETURN next(1); END;": (
        "next"
    ),
    "CREATE TABLE t (a interval DEFAULT second(1));": "second",
}
# The grammar's forms of those words stay syntax (each runs on the server: the test below).
KEYWORD_SYNTAX = [
    "INSERT INTO owners (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET (id) = ROW(2)",
    "SELECT count(*) FILTER (WHERE id > 0) OVER () FROM owners",
    "SELECT id FROM owners TABLESAMPLE BERNOULLI (10) REPEATABLE (1)",
    "SELECT now() AT TIME ZONE ('UTC')",
    "SELECT 1 OPERATOR(pg_catalog.+) 1",
    'SELECT 1 OPERATOR("pg_catalog".+) 1, 2 OPERATOR(PG_CATALOG/**/./**/*) 2, 3 OPERATOR(-) 1',
    "SELECT id FROM owners ORDER BY id USING OPERATOR(pg_catalog.<)",
    "SELECT o.id FROM owners o JOIN (SELECT id FROM owners) s ON s.id = o.id"
    " LEFT JOIN (SELECT id FROM owners) p ON true",
    "SELECT 1 WHERE 'a' LIKE ('a%') AND 'a' NOT LIKE ('b%') AND 'a' ILIKE ('A')",
    "SELECT (now(), now()) OVERLAPS (now(), now())",
    "UPDATE owners SET (id) = ROW(1) WHERE id = 2",
    "WITH m AS MATERIALIZED (SELECT id FROM owners), n AS NOT MATERIALIZED (SELECT id FROM m)"
    " SELECT id FROM n",
    "SELECT 'a'::character varying(10)",
    "SELECT id FROM owners ORDER BY (id)",
    "SELECT id FROM owners ORDER BY id FETCH FIRST (5) ROWS ONLY",
    "SELECT id FROM owners ORDER BY id OFFSET 1 ROWS FETCH NEXT (5) ROWS ONLY",
    "SELECT count(*) OVER (ORDER BY id ROWS (1) PRECEDING) FROM owners",
    "SELECT count(*) OVER w FROM owners WINDOW w AS (ORDER BY id DESC RANGE (1) PRECEDING)",
    "SELECT count(*) OVER (PARTITION BY id ORDER BY id GROUPS (1) PRECEDING) FROM owners",
    "SELECT '1'::interval second(2), interval '1' day to second (2),"
    " CAST('1' AS interval minute to second(3)), '1'::interval hour to second(1)",
]
KEYWORD_SYNTAX_IN_SCHEMAS = [
    "MERGE INTO owners o USING owners s ON o.id = s.id WHEN NOT MATCHED THEN INSERT (id)"
    " VALUES (s.id);",
    "CREATE TABLE t (a int PRIMARY KEY, b int, c int, FOREIGN KEY (b) REFERENCES t (a),"
    " UNIQUE (c) INCLUDE (b));",
    "CREATE TABLE t (a int, EXCLUDE (a WITH =));",
    "CREATE TABLE t (a int, b int) PARTITION BY RANGE (a);",
    "CREATE TABLE t (a int, b int) PARTITION BY HASH (a);",
    "CREATE INDEX i ON owners USING btree (id);",
    "CREATE INDEX i ON ONLY owners USING hash (id);",
    "CREATE TABLE t (a int) INHERITS (owners);",
    "ALTER TABLE owners SET (fillfactor = 70);",
    "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql IMMUTABLE RETURN (a + 1);",
    "CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT (a + 1); END;",
    "CREATE FUNCTION h(a int) RETURNS int LANGUAGE plpgsql AS $f$ BEGIN IF (a > 1) THEN RETURN"
    " (1); ELSIF (a < 0) THEN RETURN (2); ELSE IF (a = 0) THEN PERFORM (1); END IF; END IF;"
    " WHILE (a > 5) LOOP a := a - 1; END LOOP; ASSERT (a > -9); RETURN (a); END $f$;",
    "CREATE FUNCTION k() RETURNS SETOF int LANGUAGE plpgsql AS $f$ BEGIN RETURN QUERY"
    " (SELECT 1); END $f$;",
    "ALTER TABLE owners RESET (fillfactor);",
    "ALTER TABLE owners ALTER COLUMN id RESET (n_distinct);",
    "CREATE TABLE t (a interval day to second(3) DEFAULT interval '1' second (2));",
    "CREATE FUNCTION k() RETURNS SETOF int LANGUAGE plpgsql AS $f$ BEGIN RETURN NEXT (1);"
    " IF true THEN RETURN NEXT (2); END IF; END $f$;",
    # a routine's name spelt as one of its clauses' words: no clause
    "CREATE FUNCTION set(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a';"
    " CREATE VIEW v AS SELECT set(1) AS x; ALTER FUNCTION set RENAME TO s2;",
    "CREATE FUNCTION public.language(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a; END;"
    " ALTER FUNCTION public.language(int) STABLE; COMMENT ON FUNCTION public.language(int) IS 'x';"
    " DROP FUNCTION public.language(int);",
]
# An operator named in another schema than pg_catalog: the project defines none (CREATE
# OPERATOR is refused), so it is an extension's or one somebody may create later.
OTHER_SCHEMAS_OPERATORS = [
    "SELECT 1 OPERATOR(public.+) 1",
    "SELECT 1 OPERATOR(evil.+) 1",
    "SELECT 1 OPERATOR(pg_temp.+) 1",
    'SELECT 1 OPERATOR("Pg_catalog".+) 1',
    "SELECT id FROM owners ORDER BY id USING OPERATOR(public.<)",
    "SELECT string_agg(id::text, ',' ORDER BY id USING OPERATOR( evil . < )) FROM owners",
    "SELECT id FROM owners WHERE id OPERATOR(x.y.=) 1",
]


@pytest.mark.parametrize("sql", OTHER_SCHEMAS_OPERATORS)
def test_an_operator_of_another_schema_is_refused(sql: str) -> None:
    refused = pgguard.query_refusal(sql)
    assert refused is not None, sql
    assert "an operator the project does not define" in refused
    found = pgguard.refused(f"CREATE VIEW v AS {sql};", migration=False)
    assert "an operator the project does not define" in found[-1][1]


# A call named in a schema other than pg_catalog reaches what that schema holds, not
# PostgreSQL's function of that name: each passed, judged by its name alone. The server errs
# where nothing is there; an extension's function of that name would run.
OTHER_SCHEMAS_CALLS = [
    "SELECT public.left('abc', 1)",
    "SELECT public.lower(name) FROM owners",
    'SELECT "public"."abs"(-1)',
    "SELECT evil.length('x')",
    "SELECT id FROM owners WHERE x.public.upper(name) = 'A'",
    "SELECT pg_temp.now()",
    "SELECT public.akeys(1)",  # the project's own, and hstore's: either may be found there
]


@pytest.mark.parametrize("sql", OTHER_SCHEMAS_CALLS)
def test_a_call_named_in_another_schema_is_held_to_the_project_s_own(sql: str) -> None:
    assert "akeys" in pgfunctions.EXTENSIONS
    refused = pgguard.query_refusal(sql, frozenset({"akeys"}))
    assert refused is not None, sql
    assert "called in " in refused
    found = pgguard.refused(f"CREATE VIEW v AS {sql};", migration=False)
    assert "called in " in found[-1][1]


# A module's literal that may be a query, not only one that starts with ``SELECT `` (a comment
# before it, no blank after SELECT, parentheses, lower case): its words that are not
# PostgreSQL's are not taken for calls of functions the project lacks (``"update failed (%s)"``)
# but a call named in a schema is still held to the project's own. Each passed.
LOOSE_OTHER_SCHEMAS_CALLS = [
    "SELECT/**/public.left('abc', 1)/**/FROM/**/owners",
    "-- q\nSELECT public.lower(name) FROM owners",
    "(select evil.length('x'))",
    "/* q */ SELECT x.public.upper(name) FROM owners",
    "select public . left ('abc', 1), left('abc', 1)",
    'SELECT/**/"PG_CATALOG".lo_unlink(1)',
    "select public.\"left\"('abc', 1)",
]


@pytest.mark.parametrize("sql", LOOSE_OTHER_SCHEMAS_CALLS)
def test_a_loose_literal_s_call_named_in_another_schema_is_held_to_the_project_s_own(
    sql: str,
) -> None:
    refused = pgguard.query_refusal(sql, frozenset({"akeys"}), loose=True)
    assert refused is not None, sql
    assert "called in " in refused
    with pytest.raises(sqlfile.UnsafeQueryError, match="called in "):
        pgcheck.check_statements(f"Q = {sql!r}\n", "db.py", pgcheck.parse_schema(""))


def test_a_loose_literal_s_words_and_own_qualified_calls_still_pass() -> None:
    for sql in (
        "select failed (%s) for x",
        "SELECT/**/public.my_f(1), app.my_f(2)",
        "select failed in db.execute (%s)",  # a message: no function PostgreSQL has
    ):
        assert pgguard.query_refusal(sql, frozenset({"my_f"}), loose=True) is None, sql


def test_a_call_named_in_pg_catalog_or_of_the_project_s_own_may_be_made() -> None:
    sql = "SELECT pg_catalog.left('abc', 1), public.my_f(1), app.my_f(2), PG_CATALOG.lower('A')"
    assert pgguard.query_refusal(sql, frozenset({"my_f"})) is None


# Such a routine's clauses are still read.
CLAUSES_BESIDE_SUCH_A_NAME = {
    "CREATE FUNCTION set(a int) RETURNS int LANGUAGE sql SET search_path = evil AS 'SELECT a';": (
        "search_path"
    ),
    "CREATE FUNCTION language(a int) RETURNS int LANGUAGE c AS 'x', 'y';": "LANGUAGE c",
    "CREATE FUNCTION public.set() RETURNS int LANGUAGE sql SET work_mem = 1 AS 'SELECT 1';": (
        "work_mem"
    ),
    "CREATE FUNCTION set() RETURNS int LANGUAGE sql AS 'SELECT 1';"
    " ALTER FUNCTION set() SET work_mem = 1;": "work_mem",
}


@pytest.mark.parametrize("sql", sorted(CLAUSES_BESIDE_SUCH_A_NAME))
def test_the_clauses_of_a_routine_named_as_one_are_still_read(sql: str) -> None:
    found = pgguard.refused(sql, migration=False)
    assert found, sql
    assert CLAUSES_BESIDE_SUCH_A_NAME[sql] in found[-1][1]


@pytest.mark.parametrize("sql", sorted(KEYWORD_CALLS))
def test_a_call_of_a_keyword_named_function_is_held_to_the_allowed_ones(sql: str) -> None:
    refused = pgguard.query_refusal(sql)
    assert refused is not None, sql
    assert f"function {KEYWORD_CALLS[sql]}()" in refused


@pytest.mark.parametrize("sql", sorted(KEYWORD_CALLS_IN_SCHEMAS))
def test_such_a_call_in_a_schema_is_held_to_them_too(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert found, sql
    assert f"function {KEYWORD_CALLS_IN_SCHEMAS[sql]}()" in found[-1][1]


@pytest.mark.parametrize("sql", sorted(DISTINCT_ON_CALLS))
def test_a_call_after_distinct_on_is_held_to_the_allowed_ones(sql: str) -> None:
    found = pgguard.refused(sql, migration=True)
    assert found, sql
    assert f"function {DISTINCT_ON_CALLS[sql]}()" in found[-1][1]
    assert pgguard.query_refusal("SELECT DISTINCT ON (id) lower(name) FROM owners") is None


def test_a_keyword_named_function_the_project_defines_may_be_called() -> None:
    own = frozenset({"insert", "search", "cross"})
    assert pgguard.query_refusal("SELECT insert(1), search(2), public.cross(3)", own) is None


@pytest.mark.parametrize("sql", KEYWORD_SYNTAX, ids=_short)
def test_the_grammar_s_forms_of_those_words_are_no_calls(sql: str) -> None:
    assert pgguard.query_refusal(sql) is None


@pytest.mark.parametrize("sql", KEYWORD_SYNTAX_IN_SCHEMAS, ids=_short)
def test_the_grammar_s_forms_in_a_schema_are_no_calls(sql: str) -> None:
    assert pgguard.refused(sql, migration=True) == []


def test_the_server_calls_those_words_and_runs_their_forms() -> None:
    url = server_url()
    asyncpg = pytest.importorskip("asyncpg")
    calls = [*KEYWORD_CALLS, *KEYWORD_CALLS_IN_SCHEMAS]
    syntax = [*KEYWORD_SYNTAX, *KEYWORD_SYNTAX_IN_SCHEMAS]

    async def attempt(conn: Any, sql: str) -> str:
        savepoint = conn.transaction()  # each text undone: the next may reuse its names
        await savepoint.start()
        try:
            await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            return str(exc)
        finally:
            await savepoint.rollback()
        return "ran"

    async def run() -> tuple[list[str], list[str]]:
        conn = await asyncpg.connect(url)
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute("CREATE SCHEMA pgguard_calls")
                await conn.execute("SET LOCAL search_path TO pgguard_calls")
                await conn.execute("CREATE TABLE owners (id int PRIMARY KEY)")
                called = [await attempt(conn, _called(sql)) for sql in calls]
                forms = [await attempt(conn, sql) for sql in syntax]
                return called, forms
            finally:
                await transaction.rollback()
        finally:
            await conn.close()

    called, forms = asyncio.run(run())
    for sql, error in zip(calls, called, strict=True):
        assert "does not exist" in error, (sql, error)
        assert error.startswith("function "), (sql, error)
    assert dict(zip(syntax, forms, strict=True)) == dict.fromkeys(syntax, "ran")


def _called(sql: str) -> str:
    """Return ``sql`` and, for a PL/pgSQL function (resolved when run), a call of it."""
    if "plpgsql" not in sql:
        return sql
    return sql + (" SELECT f(1);" if "f(a int)" in sql else " SELECT f();")
