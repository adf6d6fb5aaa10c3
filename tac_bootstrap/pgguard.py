"""Refuse PostgreSQL SQL that a schema or a migration never needs, before anything reads it further.

``sync-check`` never runs the PostgreSQL schema or migrations (no server), but the project's
tests and its database module do, on a real server: a pull request that adds
``COPY … FROM PROGRAM``, a ``DO`` block, ``CREATE EXTENSION`` or a call of ``pg_read_file`` would
run there. This is the PostgreSQL twin of SQLite's authorizer (:mod:`tac_bootstrap.sqlcheck`):
every statement is split out the way PostgreSQL splits it (strings, quoted names, nested
comments and dollar quotes respected) and must be one a schema needs:

* ``CREATE``, ``ALTER`` and ``DROP`` of tables, indexes, types, domains, sequences, views,
  triggers, schemas and functions (in ``plpgsql`` or ``sql``), ``COMMENT ON``, transaction
  control, and ``SET``/``RESET`` of a few session settings;
* in a migration also ``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``, ``WITH`` and ``SELECT``
  (``setval()`` after moving rows), which move rows between versions;
* nowhere a call of a function other than PostgreSQL's harmless ones
  (:data:`tac_bootstrap.pgfunctions.HARMLESS`: arithmetic, text, dates, JSON, aggregates, ...)
  and the project's own (those its schema and migrations define), nor one that reaches outside
  the database (files, programs, other servers, the server's own state) by any name; nor, in a
  function body, ``COPY``, ``EXECUTE`` of a string (SQL built at run time cannot be checked) or
  a ``DO`` block.

Everything else (``COPY``, ``DO``, ``SELECT``, ``CALL``, ``GRANT``, ``CREATE EXTENSION``,
``ALTER SYSTEM``, roles, servers, ``CREATE TABLE … AS`` in a schema, ...) is refused, each
statement with its line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tac_bootstrap import pgfunctions, pgtargets, sqlfile
from tac_bootstrap.errors import TacBootstrapError

# What may follow CREATE, ALTER or DROP (after OR REPLACE, TEMP, UNIQUE and the like).
_OBJECTS = frozenset(
    {"TABLE", "INDEX", "TYPE", "DOMAIN", "SEQUENCE", "VIEW", "TRIGGER", "FUNCTION", "SCHEMA"}
)
_MODIFIERS = frozenset(
    {"OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "UNIQUE", "RECURSIVE"}
    | {"CONSTRAINT"}  # CREATE CONSTRAINT TRIGGER
)
_TRANSACTION = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "ABORT"})
_ROWS = frozenset({"INSERT", "UPDATE", "DELETE"})
# What a migration may run besides definitions: it moves rows between versions.
_MIGRATION_ROWS = _ROWS | {"WITH", "MERGE", "SELECT"}  # SELECT setval(…) after a bulk insert
# What a migration's statement may be in parentheses: a query, ``(SELECT …) UNION (SELECT …)``
# (the server takes no other statement so); it is read whole, as one without them.
_PARENTHESISED = frozenset({"SELECT", "WITH"})
# Words before a type's name, which may be ``return``: ``RETURNS return``, ``SETOF s.return``.
_TYPE_BEFORE = frozenset({"RETURNS", "SETOF", "."})
# The first word of a ``WITH``'s main statement (a name's query is in parentheses).
_MAIN_STATEMENTS = frozenset({"SELECT", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE"})
# What EXPLAIN's options may be followed by: the statement it explains.
_EXPLAINED = frozenset({"SELECT", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE", "WITH"})
_EXPLAINED |= {"EXECUTE", "CREATE", "DECLARE"}
_OPTION_WORDS = 64  # past so many words, EXPLAIN ( is read as a call
# The first word of a statement a database module runs: it reads and writes rows.
_QUERIES = _ROWS | {"SELECT", "WITH", "VALUES", "TABLE"}
# Session settings a schema or migration may set: time limits, messages, name lookup.
_SETTINGS = frozenset(
    {
        "lock_timeout",
        "statement_timeout",
        "idle_in_transaction_session_timeout",
        "client_min_messages",
        "check_function_bodies",
        "search_path",
        "timezone",
        "constraints",
        "transaction",
        # how transactions run (SET TRANSACTION, SET SESSION CHARACTERISTICS AS TRANSACTION)
        "transaction_isolation",
        "transaction_read_only",
        "transaction_deferrable",
        "default_transaction_isolation",
        "default_transaction_read_only",
        "default_transaction_deferrable",
        # what pg_dump's output sets before its statements
        "client_encoding",
        "standard_conforming_strings",
        "xmloption",
        "xmlbinary",
        "row_security",
        "default_tablespace",
        "default_table_access_method",
    }
)
# Settings that change how the server reads the statements after them, and the values (less
# all but letters and digits, in lower case) that leave it reading them as this check does.
_LEXING = {
    "standard_conforming_strings": ("on", "true", "yes", "1", "default"),
    "client_encoding": ("utf8", "unicode", "default"),
}
# A setting ``show <word>`` may read: one with ``_``, ``.`` or ``$`` (``data_directory``, a custom
# ``app.secret``) or one of PostgreSQL's of one word (the same 14 in 15 to 18: 18's guc_tables.c
# has no other); ``show more``
# names no setting (the server: "unrecognized configuration parameter") and is a message.
_SHOWN_SETTING = (
    r"[\w$]*[_.$][\w.$]*|datestyle|intervalstyle|timezone|autovacuum|bonjour|fsync|geqo|jit"
    r"|port|ssl|xmlbinary|xmloption|role|seed"
)
# What a command looks like in a statement's code (strings are 'n'), in any case: a module's
# literal led by a command in lower case is SQL, not a message, when it has such a shape.
_COMMAND_SHAPE = re.compile(
    r"\s*\(*\s*(?:explain\s+(?:\(|(?:analy[sz]e|verbose|select|insert|update|delete|with|create"
    r"|values|execute|merge|table|declare)\b)"
    r"|copy\s+(?:\(|[\w.$]+\s*(?:\([^)]*\)\s*)?(?:to|from)\b)|do\s+(?:'\d+'|language\b)"
    r"|alter\s+system\b|call\s+[\w.$]+\s*\(|load\s+'\d+'|show\s+(?:all|" + _SHOWN_SETTING + r")\s*$"
    r"|set\s+(?:session\s+|local\s+)?[\w.$]+\s*(?:=|to\b)|reset\s+[\w.$]+\s*$"
    r"|prepare\s+[\w$]+.*\bas\s+|checkpoint\s*$|discard\s+(?:all|plans|sequences|temp|temporary)\s*$"
    r"|vacuum\s*(?:$|\(|(?:full|freeze|verbose|analy[sz]e)\b|[\w$]+\s*[.,(]|pg_)"
    r"|cluster\s*(?:$|\(|verbose\b|[\w$]+\s*\.|pg_|[\w$]+\s+using\b)"
    r"|reindex\s*(?:\(|(?:index|table|schema|database|system)\b)"
    r"|(?:listen|notify)\s+[\w$]+\s*(?:,|$)|truncate\s+(?:table\s+)?(?:only\s+)?[\w.$]+"
    r"\s*\*?\s*(?:,|;|$|(?:restart|continue)\s+identity\b|(?:cascade|restrict)\s*$)"
    r"|lock\s+(?:table\s+)?[\w.$]+\s+in\b|lock\s+(?:only\s|[\w$]+\s*\.|pg_|[\w$]+\s*(?:,|\*|nowait))"
    r"|analy[sz]e\s*$|analy[sz]e\s+(?:\(|[\w$]+\s*[.,(]|pg_)|create\s+or\s+replace\b|(?:create|drop)\s+access\s+method\b"
    r"|comment\s+on\s+.*\bis\s+(?:'\d+'|null)\s*$"
    r"|(?:grant|revoke)\s+(?:[\w.$]+\s*,\s*)*[\w.$]+\s+(?:to|from)\s+(?:[\w$]+\s*,\s*)*[\w$]+\s*"
    r"(?:(?:with|granted|cascade|restrict)\b.*)?$"
    r"|merge\s+into\s+[\w.$]+\s+(?:(?:as\s+)?[\w$]+\s+)?using\b"
    r"|declare\s+[\w$]+\s+(?:(?:binary|insensitive|asensitive|no|scroll)\s+)*cursor\b)",
    re.IGNORECASE | re.DOTALL,
)
# Keywords that also follow a command's word in prose (``copy of``, ``lock is``, ``end of``).
_PROSE = frozenset(
    {"OF", "IS", "NOT", "TO", "IN", "AT", "BY", "ON", "FOR", "AS", "AND", "OR", "IF", "THEN"}
    | {"WHEN", "NO", "FROM", "INTO", "WITH", "ANY", "SOME", "BOTH", "BEFORE", "AFTER", "ACCESS"}
)
# Commands a table's name alone may follow (``lock agents``): ``create agents`` is a message.
_TABLE_COMMANDS = frozenset({"LOCK", "ANALYZE", "ANALYSE", "VACUUM", "CLUSTER"})
# Commands that act on the session's own cursors and channels only: ``close connection`` and
# ``unlisten all`` are messages (a literal in their shape is still checked: ``close c;``).
_HARMLESS_COMMANDS = frozenset({"CLOSE", "UNLISTEN"})
_SHOWN = 20  # refused statements named in the error; the count of the others follows
# Functions defined in functions' bodies, nested deeper than this, are refused: the check reads
# each level in turn, and no schema needs more than a few.
_DEPTH = 16
_HOLDS = "a function whose body holds "
_LANGUAGES = frozenset({"plpgsql", "sql"})
# Views that read the server's configuration files (postgresql.conf, pg_hba.conf, pg_ident.conf)
# when they are read: refused by name, called or not.
_FILE_VIEWS = frozenset({"pg_file_settings", "pg_hba_file_rules", "pg_ident_file_mappings"})
# Catalogue relations that hold secrets beyond the project's own rows, refused by name: the
# tests and the module may run as a superuser, who reads them all.
_SECRET_RELATIONS = {
    "pg_authid": "the roles' password hashes",
    "pg_shadow": "the roles' password hashes",
    "pg_user_mapping": "passwords of other servers",
    "pg_user_mappings": "passwords of other servers",
    "pg_subscription": "connection strings of other servers, with their passwords",
    "pg_statistic": "sampled values of every table, the tables a role may not read too",
    "pg_statistic_ext_data": "sampled values of every table, the tables a role may not read too",
    "pg_largeobject": "every large object, past each one's own privileges",
    "pg_stat_activity": "the text of every session's statement, passwords they set too",
}
# Functions that read or write files, run programs, reach other servers or change the server.
_FUNCTIONS = frozenset(
    {
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_backup_start",
        "pg_backup_stop",
        "set_config",
        "pg_notify",
        "ts_stat",  # runs the query it is given as a string
        *("crosstab", "crosstab2", "crosstab3", "crosstab4", "connectby"),  # so do tablefunc's
        "ts_rewrite",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_import_system_collations",
        "pg_drop_replication_slot",  # as pg_create_…: the server's replication state
        "pg_replication_slot_advance",
        "pg_sync_replication_slots",
        "pg_log_backend_memory_contexts",  # writes to the server's log
        "pg_logical_emit_message",  # writes to the server's WAL
        "pg_current_logfile",  # reads the data folder's current_logfiles
        *_FILE_VIEWS,  # each also a function: pg_hba_file_rules()
        "pg_show_all_file_settings",  # the function behind pg_file_settings
        "pg_log_standby_snapshot",  # writes to the WAL (16 and later)
        "pg_stat_get_activity",  # behind pg_stat_activity: every session's statement text
        "pg_stat_get_backend_activity",  # one other session's statement text
        "pg_logfile_rotate",  # adminpack's name of pg_rotate_logfile
        "pg_stat_statements_reset",  # as pg_stat_reset…: the server's statistics (an extension)
        *("pg_start_backup", "pg_stop_backup", "pg_switch_xlog"),  # their names before 15 and 10
    }
)
_FUNCTION_PREFIXES = (
    *("pg_read_", "pg_ls_", "pg_file_", "dblink", "pg_logdir", "pg_create_"),
    *("pg_stat_reset", "pg_replication_origin_", "pg_logical_slot_", "pg_copy_", "pg_wal_replay_"),
    *("pg_xlog_replay_", "pg_control_"),  # pg_control_*() read the data folder's pg_control
    "postgres_fdw_",  # as dblink: the connections to other servers
)
# Words a function body may not hold: COPY reads and writes files and programs; LOAD loads a
# library; GRANT and REVOKE change who may do what.
_BODY_WORDS = frozenset({"COPY", "LOAD", "GRANT", "REVOKE", "VACUUM", "CHECKPOINT"})
# The words between which a command's word is an operand or a name (``SELECT load FROM``,
# ``WITH c (revoke) AS``, ``WHERE copy IS NULL``, ``FROM execute``): no command follows the first
# nor is followed by the second.
_OPERAND_BEFORE = frozenset({"SELECT", "FROM", "JOIN", "WHERE", "AND", "OR", "BY", "ON", "(", ","})
_OPERAND_AFTER = frozenset({"FROM", "WHERE", "IS", ")", ",", "+", "-", "*", "/", "=", "<", ">"})
_OPERAND_AFTER |= {"ORDER", "GROUP", "LIMIT", ";", ""}
# Commands a function body may not start a statement with: of PostgreSQL's SQL commands, those
# that act on the server, other sessions, roles or the database as a whole, not on rows or the
# project's own objects (the body's other commands are checked as at the top of a file).
_BODY_COMMANDS = frozenset(
    {"SECURITY", "REASSIGN", "CLUSTER", "DISCARD", "REINDEX", "LISTEN", "UNLISTEN", "ANALYZE"}
    | {"ANALYSE", "REFRESH"}  # ANALYSE: the same command as ANALYZE
    # DEALLOCATE (ALL): the session's prepared statements, the database module's cache of them
    | {"DEALLOCATE"}
)
# Words after which a function body's statement starts (``BEGIN SET x = 1;``, ``THEN NOTIFY c;``,
# ``PERFORM 1; SET x = 1``, ``RETURN QUERY SHOW x``).
_BLOCK_WORDS = frozenset({"BEGIN", "THEN", "ELSE", "LOOP", "DECLARE", ";", "QUERY"})
# Words after which PL/pgSQL runs a query: ``FOR r IN SHOW x LOOP``, ``OPEN c FOR SHOW x``,
# ``c CURSOR IS SHOW x``.
_QUERY_WORDS = _BLOCK_WORDS | {"FOR", "IN", "IS"}
_BODY_PAIRS = frozenset(
    {("ALTER", "SYSTEM"), ("SET", "ROLE"), ("SESSION", "AUTHORIZATION"), ("RESET", "ROLE")}
    | {("IMPORT", "FOREIGN")}  # IMPORT FOREIGN SCHEMA: through a server that already exists
    | {
        (verb, noun)
        for verb in ("CREATE", "ALTER", "DROP")
        for noun in (
            "EXTENSION",
            "ROLE",
            "USER",
            "DATABASE",
            "SERVER",
            "TABLESPACE",
            "SUBSCRIPTION",
            "PUBLICATION",
            "LANGUAGE",
            "FOREIGN",
            "EVENT",
            "RULE",
        )
    }
)

# Where something other than plain code starts: a comment, a string, a quoted name, a dollar
# quote (``$$`` or ``$tag$``, not inside a name: ``a$b$`` is one name) or the end of a statement.
# As for the server, every character past ASCII may start or continue a name or a tag
# (``€$x$`` is one name, ``$€$`` a dollar quote).
_SPECIAL = re.compile(
    r"--|/\*|(?<![\w$\x80-\U0010ffff])\$(?:[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*)?\$"
    r"|(?<![\w$\x80-\U0010ffff])[Ee]'|['\";]"
)
_UNICODE_NAME = 'U&""'  # in a statement's code, where a U&"…" name was
_UNICODE_STRING = re.compile(r"(?<![\w$\x80-\U0010ffff])[Uu]&\s*(?='\d+')")  # U& of a U&'…' string
_QUALIFIED = re.compile(r" ?\. ?")
# Where a quoted name was that is not plain letters or is spelt as a keyword: never the project's
# function (``"select"(…)`` and ``"a b"(…)`` are each called as ``_``, refused).
_QUOTED = "_"
_MIXED_NAME = pgtargets.MIXED_NAME
unmarked = pgtargets.unmarked
_BODY_SPECIAL = re.compile(_SPECIAL.pattern.replace(";", ""))
_STRING_END = re.compile(r"[^']*(?:''[^']*)*'")
_ESCAPE_STRING_END = re.compile(r"[^'\\]*(?:(?:\\.|'')[^'\\]*)*'", re.DOTALL)
_NAME_END = re.compile(r'[^"]*(?:""[^"]*)*"')
_COMMENT_MARK = re.compile(r"/\*|\*/")
# A string continued on a later line (``E'a'`` newline ``'b'`` is one string, ``ab``): blanks
# with a line end between, a line comment too, as the server reads it. The part after an
# ``E'…'`` is an escape string as well (``\'`` does not end it).
_CONTINUATION = re.compile(r"[ \t\f]*(?:--[^\n\r]*)?[\n\r](?:[ \t\n\r\f]|--[^\n\r]*[\n\r])*'")
_LINE_END = re.compile(r"[\n\r]")
_WORD = re.compile(r"[^\W\d][\w$]*|'\d+'|\S")
# A name as the server reads one: every character past ASCII may start or continue it.
_NAME = re.compile(r"[A-Za-z_\x80-\U0010ffff][\w$\x80-\U0010ffff]*")
_TOKEN = re.compile(_NAME.pattern + r"|'\d+'|\S")
# The server keeps a name's first 63 bytes (NAMEDATALEN - 1), cut at a character's end.
_NAME_BYTES = 63
_STRING_MARK = re.compile(r"'\d+'")  # where a string was, in a statement's code
_PLAIN_NAME = re.compile(r"[^\W\d][\w$]*")
# Words before ``name (`` where the name is a table, view or alias with its columns, not a call:
# ``CREATE TABLE t (``, ``INSERT INTO t (``, ``REFERENCES t (``, ``AS t (a, b)``, ``f() g (n)``.
_RELATION_BEFORE = frozenset(
    {"TABLE", "INTO", "REFERENCES", "VIEW", "AS", "OPEN", ")", "EXISTS", "TABLESAMPLE"}
)
# Statements whose "name (" is a signature (argument types), never a call: DROP FUNCTION f(int),
# COMMENT ON FUNCTION f(text).
_SIGNATURES = frozenset({"DROP", "COMMENT"})
# Settings ``current_setting('…')`` may read: what a database module checks of its server.
_READABLE_SETTINGS = _SETTINGS | {
    "server_version",
    "server_version_num",
    "server_encoding",
    "client_encoding",
    "datestyle",
    "intervalstyle",
    "integer_datetimes",
    "standard_conforming_strings",
    "max_identifier_length",
    "default_transaction_isolation",
    "transaction_isolation",
}
# UPDATE pg_settings sets a setting as set_config() does.
_SETTINGS_UPDATE = re.compile(r"\bUPDATE\s+(?:ONLY\s+)?(?:PG_CATALOG\s*\.\s*)?PG_SETTINGS\b")
# A function defined inside a function's body: checked as one defined at the top.
_DEFINITIONS = frozenset(
    (verb, noun) for verb in ("CREATE", "REPLACE") for noun in ("FUNCTION", "PROCEDURE")
)


class UnsafePostgresError(TacBootstrapError):
    """A PostgreSQL schema or migration holds a statement it never needs."""

    def __init__(self, name: str, refused: list[tuple[int, str]], *, migration: bool) -> None:
        self.refused = refused
        lines = "; ".join(f"{name}:{line}: {what}" for line, what in refused[:_SHOWN])
        if len(refused) > _SHOWN:
            lines += f"; and {len(refused) - _SHOWN:,} more"
        allowed = (
            "CREATE, ALTER and DROP of tables, indexes, types, views, triggers and their "
            "functions, COMMENT ON, transactions"
            + (", INSERT, UPDATE, DELETE, MERGE, WITH and SELECT" if migration else "")
        )
        what = "migration" if migration else "schema"
        super().__init__(
            f"{name}: refused, the PostgreSQL {what} holds what a {what} never needs "
            f"(only {allowed}): {lines}"
        )


@dataclass(frozen=True)
class PgStatement:
    """One statement: its first line, its text, its code (comments gone, strings numbered)."""

    line: int
    text: str
    code: str
    strings: tuple[str, ...]
    escaped: bool = False  # holds an E'…' or U&'…' string, whose escapes hide what it says
    escapes: frozenset[int] = frozenset()  # which of its strings are E'…' or U&'…' ones

    @property
    def short(self) -> str:
        """Return the statement on one line, shortened for messages."""
        flat = " ".join(self.text.split())
        return flat if len(flat) <= 60 else flat[:57] + "..."


def _folded(match: re.Match[str]) -> str:
    """Return a name as the check may read it: ``_`` if its case folds into or out of ASCII.

    PostgreSQL folds only ASCII letters; Python's ``str.upper`` makes ``a\u017f`` (long s) AS
    and ``tr\u0131gger`` (dotless i) TRIGGER, and ``str.lower`` makes the Kelvin sign a ``k``:
    such a name is no keyword and none of the lists' names to the server.
    """
    name = match.group()
    if name.isascii() or not (name.upper().isascii() or name.lower().isascii()):
        return name
    return _QUOTED


def split(sql: str, *, whole: bool = False) -> list[PgStatement]:
    """Split PostgreSQL SQL into statements, the way the server does; empty ones are dropped.

    In each statement's code, comments become a space and the n-th string (plain, ``E''``,
    dollar-quoted) becomes ``'n'``; a quoted name becomes its bare name. Unterminated strings,
    names and comments run to the end, as for the server (which then refuses them). A
    statement's line is that of its first code, past leading comments. With ``whole``, the
    text is one statement (a function body: its ``;`` end the body's own statements).
    """
    found: list[PgStatement] = []
    code: list[str] = []
    strings: list[str] = []
    escaping: list[bool] = []  # whether each string is an E'…' or U&'…' one
    first: int | None = None  # where the statement's code starts
    lines = _Lines(sql)
    atomic = _Atomic()
    pos = 0
    while True:
        match = (_BODY_SPECIAL if whole else _SPECIAL).search(sql, pos)
        stop = len(sql) if match is None else match.start()
        plain = sql[pos:stop]
        code.append(_plain_code(plain))
        atomic.read(code[-1])
        if first is None and plain.strip():
            first = pos + len(plain) - len(plain.lstrip())
        if match is not None and match.group() == ";" and atomic.depth > 0:
            code.append(" ; ")  # inside a BEGIN ATOMIC body: the statement goes on to its END
            atomic.read(";")
            pos = match.end()
            continue
        if match is None or match.group() == ";":
            if first is not None:
                text = sql[first:stop].strip()
                found.append(
                    PgStatement(
                        lines.at(first),
                        text,
                        "".join(code),
                        tuple(strings),
                        any(escaping),
                        frozenset(itertools.compress(itertools.count(), escaping)),
                    )
                )
            if match is None:
                return found
            code, strings, escaping, first, pos = [], [], [], None, match.end()
            atomic = _Atomic()
            continue
        mark, after = match.group(), match.end()
        if mark in ("--", "/*"):
            pos = _comment_end(sql, after) if mark == "/*" else _line_comment_end(sql, after)
            code.append(" ")
            continue
        first = match.start() if first is None else first
        unicode = sql[max(0, match.start() - 2) : match.start()].upper() == "U&"
        if mark == '"':
            pos = _end(_NAME_END, sql, after)
            code.append(_quoted_code(sql[after : pos - 1].replace('""', '"'), unicode=unicode))
            atomic.read(" _ ")  # a quoted name is no keyword: BEGIN "x" ATOMIC opens no body
            continue
        if mark.startswith("$"):
            end = sql.find(mark, after)
            pos = len(sql) if end < 0 else end + len(mark)
            body = sql[after : pos - len(mark)] if end >= 0 else sql[after:]
        else:
            pos, body = _string(sql, after, escape=mark != "'")
        code.append(f" '{len(strings)}' ")
        atomic.read(code[-1])
        strings.append(body)
        escaping.append(not mark.startswith("$") and (unicode or mark != "'"))


def _plain_code(plain: str) -> str:
    """Return code outside strings, comments and quoted names as the check reads it.

    A name past ASCII whose case folds into or out of it is ``_`` (:func:`_folded`), and so is
    one spelt as the mark of a quoted name with capitals (``q$pg_read_file$109``).
    """
    code = plain if plain.isascii() else _NAME.sub(_folded, plain)
    if pgtargets.MIXED in code or "Q$" in code:
        code = _MIXED_NAME.sub(_QUOTED, code)
    return code


def _quoted_code(name: str, *, unicode: bool) -> str:
    """Return a quoted name's code: its bare name, its mark (capitals), or ``_``.

    ``"table"`` is a name, not the keyword: read as ``_``, as a name past plain letters;
    ``"Pg_Read_File"`` keeps its capitals to the server: never ``pg_read_file``.
    """
    plain = bool(_PLAIN_NAME.fullmatch(name)) and not unicode
    if plain and name.isascii() and name != name.lower():
        return f" {_mixed(name)} "
    if plain and name.upper() not in pgfunctions.KEYWORDS:
        return f" {name} "
    return f" {_UNICODE_NAME} " if unicode else f" {_QUOTED} "


def _mixed(name: str) -> str:
    """Return the mark of a quoted name with capitals (:data:`pgtargets.MIXED`), as kept."""
    name = server_name(name)
    mask = sum(1 << at for at, letter in enumerate(name) if letter.isupper())
    return f"{pgtargets.MIXED}{name.lower()}${mask:x}"


def _shown(text: str, statement: PgStatement | None = None) -> str:
    """Return a message with each name shown as written.

    A quoted name with capitals is shown as written (``"Pg_X"``), and so is, where the
    statement is given, a name the check reads as ``_`` (:func:`_quoted_code`, :func:`_folded`):
    ``function "left"()``, not the check's ``function _()``.
    """
    text = _MIXED_NAME.sub(lambda found: f'"{unmarked(found.group())}"', text)
    if statement is None or not _PLACEHOLDER.search(text):
        return text
    called = _placeholders(statement.text, called=True)
    named = _placeholders(statement.text, called=False)

    def written(found: re.Match[str]) -> str:
        names = called if found.group(1) else named
        return names.pop(0) + (found.group(1) or "") if names else found.group()

    return _PLACEHOLDER.sub(written, text)


# ``_`` standing alone in a message: where a name was that the check reads as ``_``.
_PLACEHOLDER = re.compile(r"(?<![\w$\x80-\U0010ffff\"])_(\(\))?(?![\w$\x80-\U0010ffff\"(])")
# A quoted name (``"left"``, ``U&"\0076ersion"``) or a name past ASCII, as written; ``(`` after
# it, past blanks and comments, where it is called.
_WRITTEN_NAME = re.compile(
    r'((?:[Uu]&)?"(?:[^"]|"")*"|[A-Za-z_\x80-\U0010ffff][\w$\x80-\U0010ffff]*)'
    r"((?:\s|/\*.*?\*/|--[^\n\r]*)*\()?",
    re.DOTALL,
)


def _placeholders(text: str, *, called: bool) -> list[str]:
    """Return the names of a statement's text the check reads as ``_``, in order (a message's).

    With ``called``, only those a ``(`` follows (a call).
    """
    found = []
    for match in _WRITTEN_NAME.finditer(text):
        name = match.group(1)
        if called and match.group(2) is None:
            continue
        if name.endswith('"'):
            unicode = not name.startswith('"')
            inner = name[name.index('"') + 1 : -1].replace('""', '"')
            if _quoted_code(inner, unicode=unicode).strip() in (_QUOTED, _UNICODE_NAME):
                found.append(name)
        elif (not name.isascii() and _NAME.sub(_folded, name) != name) or (
            name == _QUOTED or _MIXED_NAME.fullmatch(name)  # q$x$1 unquoted: read as ``_`` too
        ):
            found.append(name)
    return found


def code_words(text: str) -> list[tuple[int, int, str]]:
    """Return the words of one statement's code: where each starts and ends, and the word.

    Read as :func:`split` reads the statement (its text, a body's ``;`` in it): a comment is one
    word ``--`` (a block comment too); a string or a dollar-quoted one is one word ``'``, a
    quoted name one word ``"``; a plain word is in upper case, one past ASCII is ``_`` (no
    keyword to the server).
    """
    found: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        match = _BODY_SPECIAL.search(text, pos)
        stop = len(text) if match is None else match.start()
        for word in _WORD.finditer(text, pos, stop):
            shown = word.group().upper() if word.group().isascii() else _QUOTED
            found.append((word.start(), word.end(), shown))
        if match is None:
            return found
        mark, after = match.group(), match.end()
        if mark in ("--", "/*"):
            pos = _comment_end(text, after) if mark == "/*" else _line_comment_end(text, after)
            found.append((match.start(), pos, "--"))
            continue
        if mark == '"':
            pos = _end(_NAME_END, text, after)
        elif mark.startswith("$"):
            end = text.find(mark, after)
            pos = len(text) if end < 0 else end + len(mark)
        else:
            pos = _string(text, after, escape=mark != "'")[0]
        found.append((match.start(), pos, '"' if mark == '"' else "'"))


class _Atomic:
    """Where a statement's code is, to a ``CREATE FUNCTION … BEGIN ATOMIC`` body, read as it goes.

    The server reads ``BEGIN ATOMIC s1; s2; END`` as one statement: its ``;`` do not end the
    ``CREATE``. ``depth`` counts the body and the ``CASE … END`` open in it; a ``BEGIN ATOMIC``
    counts only outside parentheses, where no column or alias can be spelt so.
    """

    def __init__(self) -> None:
        self.depth, self.parens, self.head = 0, 0, ""
        self.previous = ""

    def read(self, code: str) -> None:
        for word in _WORD.findall(code.upper()):
            if self.head in ("", "CREATE", "CREATE OR", "CREATE OR REPLACE"):
                self.head = f"{self.head} {word}".strip()  # CREATE [OR REPLACE] FUNCTION
            self.parens += (word == "(") - (word == ")")
            if self.depth == 0:
                opened = (self.previous, word) == ("BEGIN", "ATOMIC") and self.parens == 0
                self.depth = int(opened and self.head.endswith(("FUNCTION", "PROCEDURE")))
            elif word in ("CASE", "END"):
                self.depth += 1 if word == "CASE" else -1
            self.previous = word


class _Lines:
    """Line numbers of offsets given in increasing order, counted once (linear in all)."""

    def __init__(self, text: str) -> None:
        self.text, self.line, self.counted = text, 1, 0

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.counted, offset)
        self.counted = offset
        return self.line


def _end(pattern: re.Pattern[str], sql: str, at: int) -> int:
    """Return where a string or quoted name that starts at ``at`` ends (the end of the text)."""
    match = pattern.match(sql, at)
    return len(sql) if match is None else match.end()


def _string(sql: str, at: int, *, escape: bool) -> tuple[int, str]:
    """Return where a string that starts at ``at`` ends, and what it holds.

    As for the server, a string continued on a later line is one string (``'a'`` newline
    ``'b'`` holds ``ab``, a function's body too), and ``''`` in a plain one holds a quote. An
    ``E'…'`` string's escapes are left as they are (such a string is never a checked body).
    """
    pattern = _ESCAPE_STRING_END if escape else _STRING_END
    parts = []
    while True:
        match = pattern.match(sql, at)
        pos = len(sql) if match is None else match.end()
        part = sql[at : pos - (match is not None)]
        parts.append(part if escape else part.replace("''", "'"))
        more = _CONTINUATION.match(sql, pos) if match is not None else None
        if more is None:
            return pos, "".join(parts)
        at = more.end()


def joined_strings(sql: str) -> str:
    r"""Return ``sql`` with each string continued on a later line written as one string.

    The server reads ``E'a'`` newline ``'b'`` as one string (``ab``; the part after an ``E'…'``
    is an escape string too, so ``'\'`` in it does not end it); sqlglot does not. The parts
    are joined as :func:`split` reads them (the blanks and line comments between go) and the
    line ends between follow the string, so later lines keep their numbers.
    """
    kept, pos = [], 0
    for start, end, word in code_words(sql):
        if word != "'" or sql[start] == "$":
            continue
        quote = sql.index("'", start)
        pattern = _ESCAPE_STRING_END if quote > start else _STRING_END  # E'…'
        parts, gaps, at = [sql[start : quote + 1]], [], quote + 1
        while True:
            match = pattern.match(sql, at, end)
            if match is None:
                break  # unterminated: left as it is
            more = _CONTINUATION.match(sql, match.end(), end)
            if more is None:
                break
            parts.append(sql[at : match.end() - 1])
            gaps.append("\n" * sql.count("\n", match.end(), more.end()))
            at = more.end()
        if gaps:
            kept += [sql[pos:start], *parts, sql[at:end], *gaps]
            pos = end
    return "".join([*kept, sql[pos:]])


def _line_comment_end(sql: str, at: int) -> int:
    """Return where a ``--`` comment ends: a lone CR ends it too, as for the server."""
    line_end = _LINE_END.search(sql, at)
    return len(sql) if line_end is None else line_end.start()


def _comment_end(sql: str, at: int) -> int:
    """Return where a block comment ends; PostgreSQL's block comments nest."""
    depth = 1
    for mark in _COMMENT_MARK.finditer(sql, at):
        depth += 1 if mark.group() == "/*" else -1
        if depth == 0:
            return mark.end()
    return len(sql)


def refused(
    sql: str, *, migration: bool, own: frozenset[str] = frozenset()
) -> list[tuple[int, str]]:
    """Return ``(line, reason)`` for every statement a schema (or a migration) may not hold.

    ``own`` names the functions the project defines elsewhere (its other SQL files); those
    ``sql`` defines count too.
    """
    found = []
    own = own | defined_names(sql)
    for statement in split(sql):
        reason = refusal(statement, migration=migration, own=own)
        if reason is not None:
            found.append((statement.line, f"{_shown(reason, statement)}: {statement.short!r}"))
    return found


def check(sql: str, name: str, *, migration: bool, own: frozenset[str] = frozenset()) -> None:
    """Refuse a PostgreSQL schema or migration that holds a statement it never needs.

    ``own`` names the functions the project's other SQL files define (:func:`defined_functions`).

    Raises:
        UnsafePostgresError: Every refused statement, with its line.
    """
    found = refused(sql, migration=migration, own=own)
    if found:
        raise UnsafePostgresError(name, found, migration=migration)


UnsafeQueryError = sqlfile.UnsafeQueryError


def check_queries(
    queries: dict[str, str], name: str, own: frozenset[str] = frozenset(), *, loose: bool = False
) -> None:
    """Refuse a database module's statements (by name) that do more than read and write rows.

    The module runs them on the server: ``COPY … PROGRAM``, ``pg_read_file()``, a ``DO``
    block and the like are refused as in a migration, and as in a function's body. ``own``
    names the functions the project's schema and migrations define, which the module may call.
    ``loose`` is for literals that only may be statements (:func:`query_refusal`).

    Raises:
        UnsafeQueryError: Every refused statement, with its name.
    """
    rule = (
        "PostgreSQL database module runs what it never needs (only SELECT, INSERT, UPDATE, "
        "DELETE and WITH, calling only PostgreSQL's harmless functions and the project's own)"
    )
    sqlfile.check_queries(queries, name, lambda sql: query_refusal(sql, own, loose=loose), rule)


def check_commands(queries: dict[str, str], name: str, own: frozenset[str] = frozenset()) -> None:
    """Refuse a database module's literals that start with a command, as a migration's statements.

    ``SHOW data_directory``, ``EXPLAIN ANALYZE …`` or ``begin; copy … to program …`` run as well
    as a query does; a module may make its own table or end a transaction as a migration may
    (``CREATE TABLE IF NOT EXISTS schema_migrations …``, ``COMMIT``), nothing more.

    Raises:
        UnsafeQueryError: Every refused literal, with its name.
    """
    rule = (
        "PostgreSQL database module runs what it never needs (a literal that starts with a "
        "command: only what a migration may run)"
    )

    def why(sql: str) -> str | None:
        names = own | defined_names(sql)
        for statement in split(sql):  # what starts with no command is a part or a message
            reason = None
            if statement_kind(statement) in pgfunctions.COMMANDS:
                reason = refusal(statement, migration=True, own=names)
            if reason is not None:
                return f"{_shown(reason, statement)}: {statement.short!r}"
        return None

    sqlfile.check_queries(queries, name, why, rule)


def is_query(text: str) -> bool:
    """Return whether a text's first statement reads or writes rows, in any case of letters.

    ``select pg_read_file('/etc/passwd')``, ``(SELECT …)`` and ``/* x */ SELECT …`` run as
    well as ``SELECT …``: split as the server splits, past comments and parentheses.
    """
    statements = split(text)
    return bool(statements) and statement_kind(statements[0]) in _QUERIES


def may_be_sql(text: str, tables: frozenset[str] = frozenset(), *, message: bool = False) -> bool:
    """Return whether a database module's literal may be SQL, to be checked as such (loosely).

    It is if its first statement reads or writes rows (:func:`is_query`), if it starts with a
    command in upper case (``SHOW data_directory``, ``EXPLAIN ANALYZE …``), or if a later
    statement starts with a command in any case (``begin; copy … to program …``): a message is
    neither. A literal led by a command in lower case is SQL if it has that command's shape
    (``explain analyze …``, ``copy t to …``, ``do $$…$$``, ``show data_directory``), or if
    it is ``lock``, ``analyze``, ``vacuum`` or ``cluster`` and one of ``tables`` alone (``lock
    agents``: a message names no table of the schema so). These last two are guesses, not
    made for a ``message``: a literal only passed to a call that shows text
    (``raise ValueError("security check failed")``, ``log.info("lock agents: busy")``).
    """
    statements = split(text)
    if not statements:
        return False
    words: list[str] = _WORD.findall(statements[0].code)
    first = next((word for word in words if word != "("), "")
    upper = first.isupper() and first in pgfunctions.COMMANDS
    later = any(statement_kind(statement) in pgfunctions.COMMANDS for statement in statements[1:])
    shape = _shape_text(statements[0].code)
    words = _WORD.findall(shape)
    guessed = _keyword_led(words) or _names_a_table(words, tables)
    shaped = bool(_COMMAND_SHAPE.match(shape)) or (guessed and not message)
    # a U&"…" name can spell any name: after a command's word, no message holds one
    unicode = _UNICODE_NAME in statements[0].code and first.upper() in pgfunctions.COMMANDS
    return upper or later or shaped or unicode or statement_kind(statements[0]) in _QUERIES


def _shape_text(code: str) -> str:
    """Return a statement's code as the command shapes read it: one token after another.

    Names as the server reads them: a ``U&"…"`` name or one past ASCII (``a€``, ``t·x``) is
    ``_``, a qualified one (``public . "agents"``, ``public./**/agents``) one word
    ``public.agents``; a ``U&'…'`` string is a string (``'n'``) as any other.
    """
    code = _UNICODE_STRING.sub(" ", code.replace(_UNICODE_NAME, f" {_QUOTED} "))
    tokens = [token if token.isascii() else _QUOTED for token in _TOKEN.findall(code)]
    return _QUALIFIED.sub(".", " ".join(tokens))


def _names_a_table(words: list[str], tables: frozenset[str]) -> bool:
    """Return whether a literal is such a command and a table alone: ``lock agents``.

    ``lock agents`` locks the table until the transaction ends (``ACCESS EXCLUSIVE``: readers
    wait too); ``lock acquired`` is a message, and names no table of the schema.
    """
    words = [word.lower() for word in words if word != ";"]
    if words[1:2] in (["table"], ["only"]):
        del words[1]
    return len(words) == 2 and words[0].upper() in _TABLE_COMMANDS and words[1] in tables


def _keyword_led(words: list[str]) -> bool:
    """Return whether a literal reads as a command followed by a keyword (``copy binary t …``).

    ``alter role``, ``set role``, ``grant all``, ``create extension``: SQL, not a message. Words
    that also lead prose (``copy of …``, ``do not …``, ``lock is …``) are not taken for SQL.
    """
    first, second = (word.upper() for word in [*words[:2], "", ""][:2])
    return (
        first in pgfunctions.COMMANDS
        and first not in _HARMLESS_COMMANDS
        and first != "DO"  # a DO block has a shape of its own: DO 'n', DO LANGUAGE
        and second in pgfunctions.KEYWORDS
        and second not in _PROSE
    )


def statement_kind(statement: PgStatement) -> str:
    """Return a statement's first word in upper case, past opening parentheses (``(SELECT``)."""
    words: list[str] = _WORD.findall(statement.code.upper())
    return next((word for word in words if word != "("), "")


def query_refusal(
    sql: str, own: frozenset[str] = frozenset(), *, loose: bool = False
) -> str | None:
    """Return why a database module's statement is refused, or None.

    With ``loose``, ``sql`` is a literal that only may be SQL (``"update failed (%s)"`` is a
    message): a statement that does not start with a command is not one, and a name that is
    not PostgreSQL's (``s (``) is not taken for a call of a function the project lacks.
    """
    for statement in split(sql):
        kind = statement_kind(statement)
        if loose and kind not in pgfunctions.COMMANDS:
            continue
        if kind not in _QUERIES:
            shown = kind if _PLAIN_NAME.fullmatch(kind) else "this"
            return f"{shown} statement (a database module's statements read and write rows)"
        words: list[str] = _WORD.findall(statement.code.upper())
        names = own | _not_postgresql_s(statement) if loose else own
        reason = _select_into(words) or _body(statement, names)
        if reason is not None:
            return f"{_shown(reason, statement)}: {statement.short!r}"
    return None


# PostgreSQL's functions named as keywords and not known to be harmless: quoted, the name is the
# function's (``"version"()`` calls ``version()``), and the check reads it as ``_``.
_QUOTED_KEYWORD_FUNCTION = re.compile(r'"(?:version|system|xml|xmlexists)"')


def _not_postgresql_s(statement: PgStatement) -> frozenset[str]:
    """Return the names of a statement that are not PostgreSQL's catalogue's (``pg_…``).

    Not ``_`` (:func:`_quoted_code`) where the statement quotes a keyword-named function of
    PostgreSQL's not known to be harmless (``select "version"()``). Not a function's name of
    PostgreSQL or of an extension called in a schema (``public.left(1)``, ``public."left"(1)``):
    that call is held to the project's own functions (:func:`_call`), as in a literal that
    starts with ``SELECT``; another name so called (``"select failed in db.execute (%s)"``) is
    a message's word still, as it is called alone.
    """
    tokens = [word.lower() for word in _TOKEN.findall(statement.code)]
    names = set(tokens)
    if _QUOTED_KEYWORD_FUNCTION.search(statement.text):
        names.discard(_QUOTED)
    known = pgfunctions.HARMLESS | pgfunctions.OTHERS | pgfunctions.EXTENSIONS | {_QUOTED}
    for at in range(1, len(tokens) - 1):
        if tokens[at - 1] == "." and tokens[at + 1] == "(" and tokens[at] in known:
            names.discard(tokens[at])
    return frozenset(name for name in names if not name.startswith("pg_"))


def _select_into(words: list[str]) -> str | None:
    """Refuse ``SELECT … INTO t``, which makes a table (``INSERT INTO`` writes rows).

    ``AS into`` (an output column's label: any keyword may follow ``AS``) and ``s.into`` are names.
    """
    depth = 0
    for at, word in enumerate(words):
        depth += (word == "(") - (word == ")")
        if depth == 0 and word == "INTO" and words[at - 1] not in ("INSERT", "MERGE", "AS", "."):
            return "SELECT … INTO (makes a table; a database module reads and writes rows)"
    return None


def refusal(
    statement: PgStatement, *, migration: bool, own: frozenset[str] = frozenset()
) -> str | None:
    """Return why a statement is refused, or None; ``own`` names the project's functions."""
    words: list[str] = _WORD.findall(statement.code.upper())
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    if first in ("CREATE", "ALTER", "DROP"):
        reason = _definition(statement, words, migration=migration, own=own)
    elif second == "PREPARED":  # COMMIT PREPARED 'x': a transaction another session left
        reason = f"{first} PREPARED (ends a transaction another session prepared on the server)"
    elif first in _TRANSACTION or (first, second) in (("START", "TRANSACTION"), ("COMMENT", "ON")):
        reason = None
    elif first in ("SET", "RESET"):
        reason = _setting(words, statement.strings)
    elif migration and (
        first in _MIGRATION_ROWS or (first == "(" and statement_kind(statement) in _PARENTHESISED)
    ):
        reason = None
    elif first == "CALL":  # CALL p(): a procedure, which no schema defines
        reason = "CALL statement (calls a procedure: a schema's routines are functions)"
    else:
        shown = first if _PLAIN_NAME.fullmatch(first) else "this"
        reason = f"{shown} statement (not one a {'migration' if migration else 'schema'} needs)"
    return (
        reason
        or _parenthesised_change(words)  # in a BEGIN ATOMIC or RETURN body, a view's query too
        or _hidden(statement.code)
        or _calls(statement, own, top=True)
    )


def parenthesised_change(sql: str) -> str | None:
    """Return why the server cannot parse a statement of ``sql`` with ``(WITH … UPDATE …)``.

    A database module's query so (``((WITH m AS (…) UPDATE t …))``) is a problem, not a
    refusal: as a literal it may be a message (``(with luck, update the docs)``), so only an
    upper-case query is asked (:func:`tac_bootstrap.pgcheck.statement_error`).
    """
    for statement in split(sql):
        reason = _parenthesised_change(_WORD.findall(statement.code.upper()))
        if reason is not None:
            return reason
    return None


# Words a ``WITH``'s name or column follows, at the ``WITH``'s own level: ``WITH update AS (…)``,
# ``, delete AS (…)``, ``SEARCH DEPTH FIRST BY update SET insert``, ``CYCLE n SET update USING
# delete`` (a statement's word is no reserved one: each may be a name there).
_CTE_NAMED = frozenset({"WITH", "RECURSIVE", ",", "BY", "SET", "USING", "CYCLE"})


def _parenthesised_change(words: list[str]) -> str | None:
    """Refuse ``(WITH … INSERT …)``: in parentheses the server takes only a query.

    A ``WITH`` in parentheses that is not a ``WITH`` name's own query (``AS (WITH …
    INSERT …)``, which may change rows) is a syntax error to the server when its main statement
    changes rows: ``(WITH m AS (…) DELETE FROM t)``, ``(SELECT 1) UNION (WITH … UPDATE …)``,
    in a migration, a function's body (``BEGIN ATOMIC``, ``RETURN``, a string) or a view alike.
    """
    closing = matching(words)
    for at, word in enumerate(words[:-1]):
        if word != "(" or _cte_body(words, at):
            continue
        if _changes_rows(words, at + 1):  # (DELETE FROM t RETURNING …): a syntax error too
            return f"{words[at + 1]} {_ONLY_A_QUERY}"
        if words[at + 1] != "WITH":
            continue
        main = main_statement(words[: closing.get(at, len(words))], at + 2)
        if main is not None and words[main] not in ("SELECT", "VALUES", "TABLE"):
            return f"WITH … {words[main]} {_ONLY_A_QUERY}"
    return None


def main_statement(words: list[str], at: int) -> int | None:
    """Return where the main statement of the ``WITH`` whose list starts at ``at`` is, or None.

    It is the first statement's word at the ``WITH``'s level that names no query nor column
    (``WITH update AS (…)``, ``SEARCH … BY update SET insert``); the level ends at its ``)``.
    """
    depth = 0
    for inner in range(at, len(words)):
        depth += (words[inner] == "(") - (words[inner] == ")")
        if depth < 0 or (depth == 0 and words[inner] == ";"):
            return None
        named = words[inner - 1] in _CTE_NAMED
        if depth == 0 and words[inner] in _MAIN_STATEMENTS and not named:
            return inner
    return None


_ONLY_A_QUERY = "in parentheses (the server takes only a query there: a syntax error)"


def _changes_rows(words: list[str], at: int) -> bool:
    """Return whether a statement that changes rows starts at ``at`` (``UPDATE t SET``, ...).

    Not a column so named (``update`` is no reserved word): ``(update > 1)``, ``(insert, n)``.
    """
    word, after = words[at], words[at + 1 : at + 2]
    if word in ("INSERT", "MERGE"):
        return after == ["INTO"]
    if word == "DELETE":
        return after == ["FROM"]
    if word != "UPDATE":
        return False
    for later in words[at + 1 : at + 10]:  # UPDATE [ONLY] s.t [*] [AS] [alias] SET
        if later == "SET":
            return True
        if later in (",", "(", ")", ";"):
            return False
    return False


def _cte_body(words: list[str], at: int) -> bool:
    """Return whether the ``(`` at ``at`` opens a ``WITH`` name's query: ``WITH m AS (``.

    Not a relation's query: ``CREATE TABLE t AS (``, ``CREATE VIEW v WITH (…) AS (``. Read
    back from its ``AS [NOT] MATERIALIZED`` at its own level, past what is in parentheses, to
    a ``WITH`` that names (not ``WITH (`` options), or to where the level starts.
    """
    back = at - 1
    while back >= 0 and words[back] in ("NOT", "MATERIALIZED"):
        back -= 1
    if back < 0 or words[back] != "AS":
        return False
    depth = 0
    for word, after in zip(reversed(words[:back]), reversed(words[1 : back + 1]), strict=True):
        depth += (word == ")") - (word == "(")
        if depth < 0 or (depth == 0 and word == ";"):
            return False
        if depth == 0 and word == "WITH" and after != "(":
            return True
    return False


def _hidden(code: str) -> str | None:
    r"""Refuse code that is not read alike by this check and by whatever runs it.

    A ``U&"…"`` name's escapes can spell any name (``pg_read_file``); psql runs what follows a
    backslash (``\! id``, ``\copy``) as its own command, which the server never sees; a
    vertical tab is not a blank to PostgreSQL 15, and is to later versions.
    """
    if _UNICODE_NAME in code:
        return 'a U&"…" name (its escapes can hide what it names)'
    if "\\" in code:
        return "a backslash outside a string (psql runs what follows it: \\! runs a program)"
    if "\v" in code:
        return "a vertical tab outside a string (PostgreSQL versions read it differently)"
    return None


def _definition(
    statement: PgStatement, words: list[str], *, migration: bool, own: frozenset[str]
) -> str | None:
    """Check a CREATE, ALTER or DROP: what it defines, and a function's language and body."""
    at = 1
    while at < len(words) - 1 and words[at] in _MODIFIERS:
        at += 1
    noun = words[at] if at < len(words) else ""
    if noun == "ROUTINE" and words[0] != "CREATE":  # ALTER/DROP ROUTINE: a function's too
        noun = "FUNCTION"
    if noun == "PROCEDURE":
        return f"{words[0]} PROCEDURE {pgtargets.PROCEDURES}"
    if noun not in _OBJECTS:
        what = f"{words[0]} {noun}" if _PLAIN_NAME.fullmatch(noun) else words[0]
        return f"{what} (not something a schema defines)"
    if words[0] == "ALTER" and noun == "FUNCTION":
        return (
            _renamed(words)
            or _support(words)
            or _set_clause(words, statement.strings)
            or _altered(words[at + 1 :], own)
        )
    if words[0] != "CREATE":
        return None
    if noun == "TABLE" and not migration and _top_level_as(words):
        return "CREATE TABLE … AS (a schema defines tables; it does not fill them from a query)"
    if noun == "FUNCTION":
        return _function(statement, words, own)
    return None


def _top_level_as(words: list[str]) -> bool:
    """Return whether ``AS`` appears outside parentheses (``CREATE TABLE t AS SELECT …``)."""
    depth = 0
    for word in words:
        depth += (word == "(") - (word == ")")
        if depth == 0 and word == "AS":
            return True
    return False


def _function(
    statement: PgStatement, words: list[str], own: frozenset[str], depth: int = 0
) -> str | None:
    """Check a function: in plpgsql or sql, and a body without what a schema never needs."""
    if depth > _DEPTH:
        return f"functions defined in function bodies nested more than {_DEPTH} deep"
    constants = _standard_body_strings(words)
    if statement.escapes - constants:
        return "a function with an E'…' or U&'…' string (its escapes can hide what it runs)"
    for at, word in enumerate(words[: _options_end(words) - 1]):
        if word == "LANGUAGE" and not _routine_name(words, at):
            language = _value(words[at + 1], statement.strings).lower()
            if language not in _LANGUAGES:
                return f"a function in LANGUAGE {language} (only plpgsql and sql)"
    setting = _support(words) or _set_clause(words, statement.strings) or _atomic(words)
    if setting is not None:
        return setting
    bodies = (body for index, body in enumerate(statement.strings) if index not in constants)
    return _bodies(bodies, own, depth)


def _bodies(bodies: Iterable[str], own: frozenset[str], depth: int) -> str | None:
    """Return what the first of a function's bodies that may not be so holds, or None."""
    for body in bodies:
        for inner in split(body, whole=True):
            inner_words: list[str] = _WORD.findall(inner.code.upper())
            nested = any(pair in _DEFINITIONS for pair in itertools.pairwise(inner_words))
            reason = (
                (_function(inner, inner_words, own, depth + 1) if nested else None)
                or _body(inner, own)
                or _parenthesised_change(inner_words)  # a syntax error at CREATE FUNCTION
            )
            if reason is not None:  # said once, however deep the function that holds it
                return reason if reason.startswith(_HOLDS) else _HOLDS + reason
    return None


def _standard_body_strings(words: list[str]) -> frozenset[int]:
    r"""Return which strings are in a function's ``RETURN …`` or ``BEGIN ATOMIC … END`` body.

    Such a body is SQL the server reads with its ``CREATE`` and the check reads as code, as a
    migration's query; a string in it is a value, never run (``RETURN $a$ pg_read_file('x')
    $a$`` returns that text, ``RETURN E'\u0041'`` an ``A``). The body starts at the first
    ``RETURN`` (not a type: ``RETURNS return``) or ``BEGIN ATOMIC`` outside parentheses, and
    runs to the end. A function with ``AS '…'`` has its body in that string (the server refuses
    both at once): then no string is taken for a value.
    """
    depth, start = 0, len(words)
    for at, word in enumerate(words):
        depth += (word == "(") - (word == ")")
        after = words[at + 1 : at + 3]
        if depth != 0:
            continue
        if word == "AS" and (after[:2] == ["U", "&"] or _STRING_MARK.fullmatch("".join(after[:1]))):
            return frozenset()  # AS '…' or AS U&'…': the body is a string
        body = (word == "RETURN" and words[at - 1] not in _TYPE_BEFORE) or (
            word == "BEGIN" and after[:1] == ["ATOMIC"]
        )
        start = min(start, at) if body else start
    marks = (word for word in words[start:] if _STRING_MARK.fullmatch(word))
    return frozenset(int(mark[1:-1]) for mark in marks)


def _value(word: str, strings: tuple[str, ...]) -> str:
    """Return a word, or the string a ``'n'`` placeholder stands for, or a quoted name's letters."""
    if _STRING_MARK.fullmatch(word) and int(word[1:-1]) < len(strings):
        return strings[int(word[1:-1])]
    return unmarked(word)


def _body(statement: PgStatement, own: frozenset[str]) -> str | None:
    """Return what a function body's statement may not hold, or None."""
    words: list[str] = _WORD.findall(statement.code.upper())
    for at, word in enumerate(words):
        after = words[at + 1] if at + 1 < len(words) else ""
        if (word in _BODY_WORDS or word == "EXECUTE") and _named(words, at):
            continue  # a name: ``WITH load AS (…)``, ``AS vacuum``, ``copy.id``, ``c (revoke)``
        if word in _BODY_WORDS:
            return word
        if at == 0 or words[at - 1] in _QUERY_WORDS:  # a statement (or a query) of its own
            reason = _body_statement(words, at, statement.strings)
            if reason is not None:
                return reason
        if word == "EXECUTE" and not _trigger_function(words, at):
            return "EXECUTE (SQL built at run time cannot be checked)"
        if word == "DO" and (after.startswith("'") or after == "LANGUAGE"):
            return "a DO block"
    return (
        _hidden(statement.code)
        or _pairs(words)
        or _inner_definition(words, own, statement.strings)
        or _calls(statement, own)
    )


def _named(words: list[str], at: int) -> bool:
    """Return whether the command word at ``at`` is a name where the server reads it as one.

    Such a word names a ``WITH`` query, a column, a table or an alias, never starts a command:
    qualified (``vacuum.id``, ``s.copy``), followed by ``AS`` (``WITH execute AS (…)``), after
    ``AS`` (``AS load``; ``AS execute`` where an operand ends: ``CREATE TABLE t AS EXECUTE p``
    runs a prepared statement), or between the words an operand sits between (``WITH c
    (revoke) AS``, ``SELECT revoke + 1``, ``FROM execute``). Every other ``COPY``, ``LOAD``,
    ``EXECUTE`` and the like is refused as before: a command starts a statement or follows
    ``THEN``, ``LOOP``, ``IN``, ``QUERY`` and such, none of them here.
    """
    before = words[at - 1] if at > 0 else ""
    after = words[at + 1] if at + 1 < len(words) else ""
    if "." in (before, after) or after == "AS":
        return True
    if before == "AS":
        return words[at] != "EXECUTE" or after in _OPERAND_AFTER
    return before in _OPERAND_BEFORE and after in _OPERAND_AFTER


def _trigger_function(words: list[str], at: int) -> bool:
    """Return whether the ``EXECUTE`` at ``at`` is a trigger's ``EXECUTE FUNCTION f(…)``.

    In PL/pgSQL ``function`` is also a variable's name: ``EXECUTE function;`` runs its text, and
    so does ``EXECUTE function USING (1)``, with a variable named ``trigger`` declared before. The
    ``EXECUTE`` must be in the statement that starts ``CREATE [OR REPLACE] [CONSTRAINT] TRIGGER``,
    followed by ``FUNCTION`` or ``PROCEDURE`` and a name that is not a keyword.
    """
    if words[at + 1 : at + 2] not in (["FUNCTION"], ["PROCEDURE"]) or not _in_trigger(words, at):
        return False
    end = at + 2
    while end + 2 < len(words) and words[end + 1] == "." and _PLAIN_NAME.fullmatch(words[end + 2]):
        end += 2  # schema.name
    name = words[end] if end < len(words) else ""
    named = bool(_PLAIN_NAME.fullmatch(name)) and name.upper() not in pgfunctions.KEYWORDS
    return named and words[end + 1 : end + 2] == ["("]


def _in_trigger(words: list[str], at: int) -> bool:
    """Return whether the word at ``at`` is in a ``CREATE … TRIGGER`` statement (not after it)."""
    start = at
    while start > 0 and words[start] not in ("CREATE", ";"):
        start -= 1
    if words[start] != "CREATE" or (start > 0 and words[start - 1] not in _BLOCK_WORDS):
        return False
    head = start + 1
    while head < at and words[head] in ("OR", "REPLACE", "CONSTRAINT"):
        head += 1
    return words[head : head + 1] == ["TRIGGER"]


def _body_statement(words: list[str], at: int, strings: tuple[str, ...]) -> str | None:
    """Return why the body's statement that starts at ``at`` is refused, or None."""
    word, after = words[at], words[at + 1] if at + 1 < len(words) else ""
    if word in _BODY_COMMANDS:
        return f"{word} (not something a schema does)"
    if word in ("SET", "RESET"):
        return _setting(words[at:], strings)
    if word == "NOTIFY":
        return "NOTIFY (sends to the server's other sessions, as pg_notify() does)"
    if word == "CALL" and "(" in words[at + 2 : at + 5]:  # CALL p(…), CALL s.p(…); not call := 1
        return "CALL (calls a procedure: a schema's routines are functions)"
    if word == "SHOW" and unmarked(after).lower() not in _READABLE_SETTINGS:
        return f"SHOW {unmarked(after).lower()} (not a setting a database module checks)"
    if (word, after) == ("PREPARE", "TRANSACTION"):
        return "PREPARE TRANSACTION (a transaction left on the server past the session)"
    return None


def _inner_definition(
    words: list[str], own: frozenset[str], strings: tuple[str, ...] = ()
) -> str | None:
    """Refuse in a body what a schema may not define or alter at its top.

    ``CREATE OPERATOR ### (RIGHTARG = text, FUNCTION = pg_read_file)`` names a function
    without calling it, and ``ALTER FUNCTION set_config RENAME TO s`` hides one. ``AS create``
    (an output column's label: any keyword may follow ``AS``) and ``s.create`` are names.
    """
    for at, word in enumerate(words):
        named = at > 0 and (words[at - 1] in ("AS", ".") or words[at + 1 : at + 2] == ["."])
        created = _inner_created(words, at) if word == "CREATE" and not named else None
        if created is not None:
            return created
        starts = at == 0 or words[at - 1] in _BLOCK_WORDS
        if starts and word in ("ALTER", "DROP") and words[at + 1 : at + 2] != []:
            noun = words[at + 1]
            if noun == "PROCEDURE":
                return f"{word} PROCEDURE {pgtargets.PROCEDURES}"
            if noun not in _OBJECTS | {"ROUTINE"}:  # ALTER DEFAULT PRIVILEGES, DROP OWNED, ...
                shown = f"{word} {noun}" if _PLAIN_NAME.fullmatch(noun) else word
                return f"{shown} (not something a schema does)"
        if word == "ALTER" and words[at + 1 : at + 2] in (["FUNCTION"], ["ROUTINE"]):
            altered = (
                _renamed(words[at:])
                or _support(words[at:])
                or _set_clause(words[at:], strings)
                or _altered(words[at + 2 :], own)
            )
            if altered is not None:
                return altered
    return None


def _inner_created(words: list[str], at: int) -> str | None:
    """Refuse the ``CREATE`` at ``at`` in a body if it makes what a schema does not define."""
    noun_at = at + 1
    while noun_at < len(words) - 1 and words[noun_at] in _MODIFIERS:
        noun_at += 1
    noun = words[noun_at] if noun_at < len(words) else ""
    if noun == "PROCEDURE":
        return f"CREATE PROCEDURE {pgtargets.PROCEDURES}"
    if noun not in _OBJECTS:
        shown = f"CREATE {noun}" if _PLAIN_NAME.fullmatch(noun) else "CREATE"
        return f"{shown} (not something a schema defines)"
    return None


def _calls(statement: PgStatement, own: frozenset[str], *, top: bool = False) -> str | None:
    """Return the first call of a function the statement may not call, if any.

    Or the first view that reads the server's files (``SELECT * FROM pg_hba_file_rules``), or
    the first catalogue relation that holds secrets (``pg_authid``).
    """
    code = statement.code
    words: list[str] = _TOKEN.findall(code)
    signatures = top and bool(words) and words[0].upper() in _SIGNATURES  # not in a body
    changed = _catalog_change(words)
    if changed is not None:
        return changed
    viewed = _catalog_view(words)
    if viewed is not None:
        return _viewed(viewed)
    reason = (
        pgtargets.refusal(words, escaped=statement.escaped, own=own, text=statement.text)
        or _function_options(words, statement.strings, own)
        or _operator_schema(words)
    )
    if reason is not None:
        return reason
    ctes = _cte_names(words)
    for at in range(len(words)):
        reason = _call(words, at, statement.strings, own, ctes, signatures=signatures)
        if reason is not None:
            return reason
    if _SETTINGS_UPDATE.search(code.upper()):
        return "UPDATE pg_settings (sets the server's settings, as set_config() does)"
    for at in range(len(words)):
        reason = _relation(words, at, ctes)
        if reason is not None:
            return reason
    if "search_path" in (unmarked(w).lower() for w in words) and any(
        "information_schema" in text.lower() for text in statement.strings
    ):
        return "a search_path with information_schema (its relations would be read unnamed)"
    return None


def _operator_schema(words: list[str]) -> str | None:
    """Refuse an operator named in a schema other than pg_catalog: ``OPERATOR(public.+)``.

    The project defines no operator (``CREATE OPERATOR`` is refused), so one so named is an
    extension's (``public``) or one somebody may create later (``evil``, ``pg_temp``), whose
    function is not known to be harmless. ``OPERATOR(pg_catalog.+)`` and ``OPERATOR(+)`` stay.
    """
    for at, word in enumerate(words):
        if word.upper() != "OPERATOR" or words[at + 1 : at + 2] != ["("]:
            continue
        if not _operator_named(words, at + 1):
            continue  # a call of a function named operator
        inside = words[at + 2 : at + 1 + matching(words[at + 1 :]).get(0, 0)]
        if "." in inside:
            schema = inside[: len(inside) - 1 - inside[::-1].index(".")]
            if [name.lower() for name in schema] != ["pg_catalog"]:
                shown = "".join(schema) if all(_NAME.fullmatch(n) for n in schema) else "…"
                return f"OPERATOR({shown}.…) (an operator the project does not define)"
    return None


_TYPE_DEFINITIONS = frozenset({("CREATE", "TYPE"), ("ALTER", "TYPE")})


def _function_options(
    words: list[str], strings: tuple[str, ...], own: frozenset[str]
) -> str | None:
    """Check the functions a type's options name: ``INPUT = f``, ``SUBTYPE_DIFF = f``.

    The server calls them without call syntax (a range's ``SUBTYPE_DIFF`` when an index is
    built, a base type's ``INPUT`` when a value is read): each must be one a call may reach.
    """
    upper = [word.upper() for word in words]
    if not any(pair in _TYPE_DEFINITIONS for pair in itertools.pairwise(upper)):
        return None
    for at, word in enumerate(upper):
        if word not in pgtargets.FUNCTION_OPTIONS or words[at + 1 : at + 2] != ["="]:
            continue
        target = words[at + 2] if at + 2 < len(words) else ""
        if _STRING_MARK.fullmatch(target):  # INPUT = 'pg_read_file' names it too
            named = _value(target, strings).split(".")[-1].strip().strip('"').lower()
        else:
            named = (pgtargets.name_at(words, at + 2) or [""])[-1]
        if named in pgfunctions.HARMLESS or (
            named in own and named not in pgfunctions.OTHERS and named not in pgfunctions.EXTENSIONS
        ):
            continue
        return f"{word} = {named} (a function the type calls: {_why_not(named, own)})"
    return None


def _relation(words: list[str], at: int, ctes: frozenset[int]) -> str | None:
    """Return why the relation named at ``at`` may not be read, or None (or not a relation)."""
    name = words[at].lower()
    if name in _FILE_VIEWS:
        return f"view {name} (reads the server's configuration files)"
    if name in _SECRET_RELATIONS:
        return f"catalogue {name} (holds {_SECRET_RELATIONS[name]})"
    called = words[at + 1 : at + 2] == ["("] and _is_call(words, at, ctes)  # checked as a call
    if _catalog_name(name) and not called:
        return f"catalogue {name} (not one that describes only the database's own objects)"
    if name == "information_schema":
        return _information_schema(words, at)
    return None


def _information_schema(words: list[str], at: int) -> str | None:
    """Check ``information_schema.name``: only the views of the database's own objects."""
    name = words[at + 2].lower() if words[at + 1 : at + 2] == ["."] and at + 2 < len(words) else ""
    if name in pgfunctions.INFORMATION_SCHEMA:
        return None
    shown = f"information_schema.{name}" if name else "information_schema (in a search_path)"
    return f"{shown} (not a view that describes only the database's own objects)"


# The first word of a statement, or of a clause, that writes to the relation after it.
_TEMPORARY_WORDS = frozenset({"TEMP", "TEMPORARY", "LOCAL", "GLOBAL"})  # INTO [LOCAL|GLOBAL] TEMP t
_WRITES = frozenset({"UPDATE", "INTO", "TRUNCATE", "FROM", "TABLE", "ON", "LOCK"})
_LISTS = frozenset({"TRUNCATE", "LOCK"})  # statements that change each relation of a list
_TARGET_SKIP = frozenset({"ONLY", "TABLE", "IF", "NOT", "EXISTS", "UNLOGGED"}) | _TEMPORARY_WORDS


def _catalog_write(words: list[str]) -> str | None:
    """Return the catalogue relation a statement writes to (``UPDATE pg_proc``), if any.

    ``UPDATE``, ``INSERT INTO``, ``MERGE INTO``, ``DELETE FROM``, ``TRUNCATE``, ``ALTER TABLE``
    and ``CREATE TRIGGER``/``INDEX … ON`` name what they change; a catalogue relation may be
    read, never changed (``UPDATE pg_proc SET prosrc = …`` turns a function into another).
    """
    upper = [word.upper() for word in words]
    for at, word in enumerate(upper):
        if word in _WRITES and _names_target(upper, at):
            listed = word in _LISTS or (word == "TABLE" and upper[at - 1] in _LISTS)
            chains = _targets(words, at + 1, listed=listed)
            for chain in chains:  # TRUNCATE t, pg_class: each relation of the list
                catalog = any(pgtargets.catalog_schema(schema) for schema in chain[:-1])
                if chain[-1].startswith("pg_") or catalog:  # or pg_temp_3.t: another's
                    return ".".join(chain)
            chain = chains[0] if chains else []
            if chain and word == "INTO" and pgtargets.catalog_type(chain[-1]):
                temporary = _TEMPORARY_WORDS & set(upper[at + 1 : at + 4]) or chain[0] == "pg_temp"
                if temporary:  # SELECT … INTO TEMP int4: a row type found before int4
                    return f"{'.'.join(chain)}, a temporary table under a catalogue type's name"
    return None


def _catalog_change(words: list[str]) -> str | None:
    """Return why a statement changes the catalogue's rows: a write, or a lock on them."""
    written = _catalog_write(words)
    if written is not None:
        return f"a write to the catalogue {written} (a statement writes only the project's tables)"
    locked = _catalog_rows_locked(words)
    if locked is not None:
        return (
            f"a lock on the rows of the catalogue {locked} (FOR UPDATE or FOR SHARE writes to "
            "each row it locks, and holds other sessions' definitions until the transaction ends)"
        )
    return None


_ROW_LOCKS = frozenset({("FOR", "UPDATE"), ("FOR", "SHARE"), ("FOR", "NO"), ("FOR", "KEY")})


def _catalog_rows_locked(words: list[str]) -> str | None:
    """Return the catalogue relation a statement with a row-locking clause reads, if any.

    ``SELECT * FROM pg_class FOR UPDATE`` marks every row of pg_class as locked (a write to
    each) and makes every other session's ``ALTER`` or ``DROP`` wait until the transaction ends.
    Any catalogue relation named beside a locking clause counts, whatever its ``OF`` names.
    """
    upper = [word.upper() for word in words]
    if not any(pair in _ROW_LOCKS for pair in itertools.pairwise(upper)):
        return None
    for at, word in enumerate(words):
        name, after = word.lower(), words[at + 1 : at + 2]
        if after in (["("], ["."]) or name in pgfunctions.TYPES:
            continue
        if (name.startswith("pg_") and not name.startswith("pg_temp")) or (
            at >= 2 and words[at - 1] == "." and words[at - 2].lower() == "information_schema"
        ):
            return name
    return None


def _viewed(name: str) -> str:
    """Return why a view may not read this catalogue table or view."""
    if name in pgfunctions.CATALOG_TABLES:
        return (
            f"a view that reads the catalogue table {name} (no view may, read-only ones too: "
            "PostgreSQL writes to the catalogue through a simple one)"
        )
    return (
        f"a view that reads the catalogue view {name} (no view may: SELECT … FOR UPDATE of the "
        "view locks the catalogue rows it reads, pg_authid's through information_schema.schemata)"
    )


def _catalog_view(words: list[str]) -> str | None:
    """Return the catalogue table a view reads, if any: no view may read one.

    ``CREATE VIEW v AS SELECT * FROM pg_proc`` is a view PostgreSQL writes through: ``UPDATE v
    SET prosrc = …`` changes the catalogue. What makes a view one it cannot write through (a
    join, a grouping) cannot be told from a quoted name spelt alike (``AS "group"``): no view
    may read a catalogue table (its views, ``pg_tables`` and the like, it cannot write through).
    """
    upper = [word.upper() for word in words]
    for at in range(len(upper) - 1):
        if upper[at] != "CREATE":
            continue
        noun = at + 1
        while noun < len(upper) and upper[noun] in _MODIFIERS:
            noun += 1
        if upper[noun : noun + 1] == ["VIEW"]:
            name = pgtargets.name_at(words, noun + 1)  # the view's own name is not read
            table = _writable_view_of(words, upper, noun + 1 + max(2 * len(name) - 1, 0))
            if table is not None:
                return table
    return None


# The catalogue's views a row lock passes through to the catalogue's tables, as found on 15.18
# (``SELECT * FROM v FOR UPDATE`` of a view of each). Through the others it cannot: an outer join
# (pg_tables, pg_roles, information_schema.columns: "FOR UPDATE cannot be applied to the nullable
# side"), a grouping, or a function (pg_cursors).
_LOCKED_THROUGH = frozenset({"pg_sequences"}) | {
    f"information_schema.{name}"
    for name in (
        *("check_constraints", "collation_character_set_applicability", "collations"),
        *("column_domain_usage", "constraint_column_usage", "constraint_table_usage"),
        *("domain_constraints", "domain_udt_usage", "schemata", "sequences"),
        *("table_constraints", "user_defined_types", "views"),
    )
}


def _writable_view_of(words: list[str], upper: list[str], at: int) -> str | None:
    """Return the first catalogue table or view the view defined from ``at`` reads, if any.

    A row lock on a view (``SELECT * FROM v FOR UPDATE``, in a statement that names no
    catalogue relation) reaches the tables under the catalogue views it reads:
    ``information_schema.schemata`` locks rows of pg_authid and pg_namespace, ``pg_sequences``
    rows of pg_class (:data:`_LOCKED_THROUGH`).
    """
    for index, (word, name) in enumerate(zip(upper[at:], words[at:], strict=True), start=at):
        if word == ";":
            break
        lower = name.lower()
        if lower in pgfunctions.CATALOG_TABLES or lower in _LOCKED_THROUGH:
            return lower
        if word == "INFORMATION_SCHEMA" and words[index + 1 : index + 2] == ["."]:
            viewed = "information_schema." + (words[index + 2 : index + 3] or [""])[0].lower()
            if viewed in _LOCKED_THROUGH:  # another is refused as a relation, if it is
                return viewed
    return None


def _names_target(upper: list[str], at: int) -> bool:
    """Return whether the word at ``at`` is followed by the relation a statement changes."""
    word, before = upper[at], upper[at - 1] if at > 0 else ""
    if word == "FROM":
        return before == "DELETE"
    if word == "TABLE":
        return before in ("ALTER", "TRUNCATE", "LOCK")
    if word == "INTO":  # SELECT … INTO [TEMP] t makes a table: a temporary pg_roles too
        return True
    if word == "ON":  # CREATE INDEX i ON t, in a function's body too
        trigger = upper[:1] == ["CREATE"] and "TRIGGER" in upper
        return trigger or _index_table(upper, at)
    if word == "LOCK":
        return upper[at + 1 : at + 2] != ["TABLE"]  # LOCK pg_authid: TABLE is optional
    return True  # UPDATE, TRUNCATE


def _target(words: list[str], at: int) -> list[str]:
    """Return the (qualified) relation name that starts at ``at``, past ONLY and IF EXISTS."""
    while at < len(words) and words[at].upper() in _TARGET_SKIP:
        at += 1
    return pgtargets.name_at(words, at)


def _targets(words: list[str], at: int, *, listed: bool) -> list[list[str]]:
    """Return the relation named at ``at``, and with ``listed`` each of its comma list.

    ``TRUNCATE`` and ``LOCK`` take a list (``LOCK t, ONLY u *, pg_class``): each is changed.
    """
    found: list[list[str]] = []
    while True:
        while at < len(words) and words[at].upper() in _TARGET_SKIP:
            at += 1
        chain = pgtargets.name_at(words, at)
        if not chain:
            return found
        found.append(chain)
        at += 2 * len(chain) - 1
        at += words[at : at + 1] == ["*"]  # LOCK t *: its children too
        if not listed or words[at : at + 1] != [","]:
            return found
        at += 1


def _catalog_name(name: str) -> bool:
    """Return whether a name is PostgreSQL's (``pg_…``) and not one a statement may use."""
    if not name.startswith("pg_") or name in pgfunctions.NAMES:
        return False
    return not name.startswith("pg_temp_") and name not in pgfunctions.HARMLESS


def _call(
    words: list[str],
    at: int,
    strings: tuple[str, ...],
    own: frozenset[str],
    ctes: frozenset[int],
    *,
    signatures: bool = False,
) -> str | None:
    """Return why the word at ``at`` is a call the statement may not make, or None.

    ``name (`` calls name, and so does ``(x).name`` (the attribute notation); with
    ``signatures``, ``name (`` names a function by its argument types (``DROP FUNCTION``), and
    only the names that reach outside are refused.
    """
    name = server_name(words[at].lower())
    called = words[at + 1 : at + 2] == ["("]
    attribute = not called and at > 0 and words[at - 1] == "."
    if not (called or attribute) or not _NAME.fullmatch(name):
        return None
    # pg_catalog.pg_hba_file_rules is the view, refused as one
    denied = name in _FUNCTIONS or name.startswith(_FUNCTION_PREFIXES)
    if denied and not (attribute and name in _FILE_VIEWS):
        return f"function {name}() (reaches outside the database)"
    if attribute and name in pgfunctions.ONE_ARGUMENT:
        return f"function {name}() (not a PostgreSQL function known to be harmless)"
    if signatures or not called or not _is_call(words, at, ctes):
        return None
    if name == "treat":  # the grammar's TREAT(x AS t), even beside the project's own treat()
        return "TREAT (calls the function its type names, as t(x))"
    schema = server_name(words[at - 2].lower()) if at > 1 and words[at - 1] == "." else None
    if schema not in (None, "pg_catalog"):  # public.left(1): not PostgreSQL's own left()
        if name in own and name not in pgfunctions.EXTENSIONS:
            return None
        return f"function {name}() ({_why_not_in(schema, name, own)})"
    if not _may_call(name, words, at, strings, own):
        return f"function {name}() ({_why_not(name, own)})"
    return None


def _why_not_in(schema: str, name: str, own: frozenset[str]) -> str:
    """Say why a call named in a schema other than pg_catalog is refused."""
    if name in own:
        return f"called in {schema}, where an extension's {name}() can be found instead"
    return f"called in {schema}, where the project defines none: what is there of that name runs"


def is_call(words: list[str], at: int) -> bool:
    """Return whether ``name (`` at ``at`` of a statement's words calls a function.

    As the server reads it: not the grammar's form of a keyword (``OVER (``, ``GROUP BY ROLLUP
    (``), a table with its columns or a ``WITH`` query's name.
    """
    return words[at + 1 : at + 2] == ["("] and _is_call(words, at, _cte_names(words))


def _is_call(words: list[str], at: int, ctes: frozenset[int]) -> bool:
    """Return whether ``name (`` at ``at`` calls a function (not syntax, a table or a CTE)."""
    if _syntax(words, at) or at in ctes or _grouping(words, at):
        return False
    if words[at].upper() == "EXPLAIN" and _explained(words, at):
        return False  # a body's EXPLAIN (ANALYZE) SELECT …: its options, as EXPLAIN ANALYZE's
    first = at
    while first >= 2 and words[first - 1] == "." and _NAME.fullmatch(words[first - 2]):
        first -= 2  # schema.name (
    before = words[first - 1].upper() if first > 0 else ""
    listed = before == ")" and _opening(words, first - 1)[-2:] == ["DISTINCT", "ON"]
    if before in _RELATION_BEFORE and not _into_target(words, first - 1) and not listed:
        return False  # but SELECT DISTINCT ON (a) f(x): the select list's first call
    on = first - 1 - (before == "ONLY")  # CREATE INDEX i ON [ONLY] t (x): t is the table
    return not (on >= 0 and words[on].upper() == "ON" and _index_table(words, on))


# Words after which an operand starts: ``SELECT f(``, ``WHERE f(``, ``a = f(``. A word of
# pgfunctions.CALLABLE after one of them, or after an operator, is a call (``SELECT insert(1)``).
_OPERAND_WORDS = frozenset(
    {"SELECT", "WHERE", "AND", "OR", "NOT", "WHEN", "THEN", "ELSE", "ON", "BY", "HAVING", "IN"}
    | {"RETURNING", "IS", "LIKE", "ILIKE", "SIMILAR", "BETWEEN", "DEFAULT", "CHECK", "USING"}
    | {"LIMIT", "OFFSET", "DISTINCT", "ALL", "ANY", "SOME", "FROM", "JOIN", "LATERAL", "VALUES"}
    | {"RETURN", "PERFORM", "ARRAY", "ROW", "EXISTS", "CASE", "ELSIF", "IF", "WHILE", "ASSERT"}
    | {"QUERY", "TO", "FOR", "AS", "INTO", "OVERLAPS", "ESCAPE", "AT", "COLLATE", "UNION"}
    | {"EXCEPT", "INTERSECT", "SYMMETRIC", "ASYMMETRIC", "LEADING", "TRAILING", "BOTH", "TABLE"}
    | {"ZONE", "FETCH", "PLACING", "WITH", "SET", "OVER", "FILTER", "WITHIN", "ORDER", "GROUP"}
)
_TOKEN_OPERAND = re.compile(r"[\w$\x80-\U0010ffff]+|'\d+'")  # a name, a number or a string
# Words after which PL/pgSQL starts a statement, and those a statement's condition ends with
_STATEMENT_BEFORE = frozenset({";", "BEGIN", "LOOP", "DECLARE", "ATOMIC"})
_STATEMENT_ENDS = {"IF": "THEN", "ELSIF": "THEN", "WHILE": "LOOP"}
_JOIN_KINDS = frozenset({"INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL"})
_INDEX_METHODS = frozenset({"BRIN", "BTREE", "GIN", "GIST", "HASH", "SPGIST"})


def _syntax(words: list[str], at: int) -> bool:
    """Return whether ``word (`` at ``at`` is one of the grammar's forms of the word, no call.

    A reserved or column-name keyword is syntax unqualified (``CAST (``, ``EXISTS (``); a word of
    pgfunctions.CALLABLE only in the form the grammar has for it (``ON CONFLICT (``, ``IF (…)
    THEN``, ``a LIKE (``, ``USING gin (``); anywhere else it is a call of a function so named, as
    the server reads it (``SELECT insert(1)``), and so is any ``schema.word (``.
    """
    word = words[at].upper()
    if word not in pgfunctions.SYNTAX or (at > 0 and words[at - 1] == "."):
        return False
    if word not in pgfunctions.CALLABLE:
        return True
    before = words[at - 1].upper() if at > 0 else ";"
    if word in ("IF", "ELSIF", "WHILE", "PERFORM", "ASSERT", "RETURN"):
        header = word == "RETURN" and _operand_end(words, at - 1)
        return header or _statement(words, at, _STATEMENT_ENDS.get(word, ";"))
    return _form(words, at, word, before)


def _form(words: list[str], at: int, word: str, before: str) -> bool:
    """Return whether the CALLABLE word at ``at`` (not a statement's word) is in its syntax form."""
    inside = words[at + 2].upper() if at + 2 < len(words) else ""
    forms = {
        "ATOMIC": before == "BEGIN",
        "BY": before in ("ORDER", "GROUP", "PARTITION", "FIRST"),
        "CONFLICT": before == "ON",
        "CURSOR": before == "SCROLL" or _operand_end(words, at - 1),
        "EXCLUDE": _holds(words, at + 1, "WITH"),
        "FILTER": inside == "WHERE",
        "FIRST": before == "FETCH",  # FETCH FIRST (n) ROWS ONLY
        "INSERT": _merge_insert(words, at),
        "KEY": before in ("PRIMARY", "FOREIGN"),
        "MATERIALIZED": before in ("AS", "NOT"),
        "NEXT": before == "FETCH" or _returned_next(words, at),
        "OPERATOR": _operator_named(words, at + 1),
        "OPTIONS": _operand_end(words, at - 1)
        and (inside in ("ADD", "SET", "DROP") or _option_pair(words, at + 2)),
        "QUERY": before == "RETURN",
        "RESET": _operand_end(words, at - 1),  # ALTER TABLE t RESET (fillfactor)
        "SECOND": _interval_field(words, at),
        "SET": before == "UPDATE" or _operand_end(words, at - 1),
        "VARYING": before in ("CHARACTER", "CHAR", "BIT", "NCHAR"),
        "ZONE": before == "TIME",
        "JOIN": before in _JOIN_KINDS or _operand_end(words, at - 1),
    }
    if word in forms:
        return forms[word]
    if word in ("INCLUDE", "INHERITS", "OVER", "REPEATABLE"):
        return before == ")" and _operand_end(words, at - 1)
    if word in ("LIKE", "ILIKE", "OVERLAPS"):  # a LIKE (b), a NOT LIKE (b)
        return _operand_end(words, at - 1) or (before == "NOT" and _operand_end(words, at - 2))
    if word in ("RANGE", "LIST", "HASH") and _partitioned(words, at):
        return True
    if word in ("ROWS", "RANGE", "GROUPS"):  # a window's frame: OVER (ORDER BY a ROWS (1) …)
        return _frame(words, at)
    return word in _INDEX_METHODS and before == "USING" and _index_method(words, at - 1)


def _interval_field(words: list[str], at: int) -> bool:
    """Return whether ``SECOND (`` at ``at`` is an interval's field with its precision.

    ``interval second(3)``, ``interval day to second(3)``, ``interval '1' minute to second (3)``:
    after ``INTERVAL``, a string after it, or ``DAY``, ``HOUR`` or ``MINUTE TO`` after either.
    """
    back = at - 1
    if back >= 1 and words[back].upper() == "TO" and words[back - 1].upper() in _FIELDS:
        back -= 2
    if back >= 0 and _STRING_MARK.fullmatch(words[back]):
        back -= 1
    return back >= 0 and words[back].upper() == "INTERVAL" and words[back - 1 : back] != ["."]


_FIELDS = frozenset({"DAY", "HOUR", "MINUTE"})


def _frame(words: list[str], at: int) -> bool:
    """Return whether ``ROWS (``, ``RANGE (`` or ``GROUPS (`` at ``at`` starts a window's frame.

    Directly in a window's parentheses (``OVER (``, ``WINDOW w AS (``, ``, w AS (``), first
    or after the end of its ``PARTITION BY`` or ``ORDER BY`` list: ``ORDER BY a ROWS (1)
    PRECEDING``. Not in such a list: ``ORDER BY rows(1)`` and ``ORDER BY a, rows(1)`` call it.
    """
    depth = 0
    for back in range(at - 1, -1, -1):
        depth += (words[back] == ")") - (words[back] == "(")
        if depth < 0:
            head = [word.upper() for word in words[max(0, back - 3) : back]]
            window = head[-1:] == ["OVER"] or (
                head[-1:] == ["AS"] and len(head) == 3 and head[0] in ("WINDOW", ",")
            )
            return window and (back == at - 1 or _operand_end(words, at - 1))
    return False


def _returned_next(words: list[str], at: int) -> bool:
    """Return whether ``NEXT (`` at ``at`` is PL/pgSQL's ``RETURN NEXT (…)`` statement.

    ``RETURN`` starts a statement (after ``;``, ``BEGIN``, ``LOOP``, ``THEN`` or ``ELSE``) in a
    text without a ``BEGIN ATOMIC`` body, whose ``RETURN next(1)`` calls ``next()``, as does a
    SQL-standard body's ``RETURNS int RETURN next(1)``.
    """
    if at < 2 or words[at - 1].upper() != "RETURN":
        return False
    if words[at - 2].upper() not in (";", "BEGIN", "LOOP", "THEN", "ELSE"):
        return False
    upper = [word.upper() for word in words[:at]]
    return not any(upper[index : index + 2] == ["BEGIN", "ATOMIC"] for index in range(at))


def _operand_end(words: list[str], at: int) -> bool:
    """Return whether the word at ``at`` ends an operand or a name: ``)``, a string, ``t``."""
    if at < 0:
        return False
    word = words[at]
    if word == ")":  # not DISTINCT ON (…): a select list starts after it
        return _opening(words, at)[-2:] != ["DISTINCT", "ON"]
    if word == "]" or word.isdigit() or _STRING_MARK.fullmatch(word):
        return True
    if not _NAME.fullmatch(word):
        return False
    upper = word.upper()
    qualified = at > 0 and words[at - 1] == "."
    return qualified or upper not in _OPERAND_WORDS | _STATEMENT_BEFORE


def _opening(words: list[str], close: int) -> list[str]:
    """Return the two words before the ``(`` that the ``)`` at ``close`` closes, in upper case."""
    depth = 0
    for at in range(close, -1, -1):
        depth += (words[at] == ")") - (words[at] == "(")
        if depth == 0:
            return [word.upper() for word in words[max(0, at - 2) : at]]
    return []


def _statement(words: list[str], at: int, end: str) -> bool:
    """Return whether the PL/pgSQL word at ``at`` starts a statement, its condition up to ``end``.

    After ``;``, ``BEGIN`` or ``LOOP`` (or a ``<<label>>``) it does; after ``THEN`` or ``ELSE``
    only if ``end`` (``THEN`` for IF, ``LOOP`` for WHILE, ``;`` for the others) comes before a
    CASE's ``WHEN``, ``ELSE`` or ``END``: ``THEN if(1) END`` calls ``if()``.
    """
    before = words[at - 1].upper() if at > 0 else ";"
    if before in _STATEMENT_BEFORE or (before == ">" and words[at - 2 : at - 1] == [">"]):
        return True
    if before not in ("THEN", "ELSE"):
        return False
    depth = cases = 0
    for word in words[at + 1 :]:
        upper = word.upper()
        depth += (upper == "(") - (upper == ")")
        if depth or upper == "CASE":
            cases += upper == "CASE"
            continue
        if cases and upper == "END":
            cases -= 1
        elif not cases and upper in (end, ";", "WHEN", "ELSE", "END", "THEN", "LOOP"):
            return upper == end
    return end == ";"


def _holds(words: list[str], at: int, inner: str) -> bool:
    """Return whether the parenthesised list at ``at`` holds the word ``inner`` at its top."""
    depth = 0
    for word in words[at:]:
        depth += (word == "(") - (word == ")")
        if depth == 0:
            return False
        if depth == 1 and word.upper() == inner:
            return True
    return False


def _merge_insert(words: list[str], at: int) -> bool:
    """Return whether ``INSERT (`` at ``at`` is a MERGE's ``THEN INSERT (a) VALUES (…)``."""
    close = matching(words[at + 1 :]).get(0)
    if close is None or at < 1 or words[at - 1].upper() != "THEN":
        return False
    after = words[at + 2 + close].upper() if at + 2 + close < len(words) else ""
    return after in ("VALUES", "OVERRIDING")


def _operator_named(words: list[str], at: int) -> bool:
    """Return whether the list at ``at`` names an operator: ``OPERATOR(pg_catalog.+)``."""
    close = matching(words[at:]).get(0)
    last = words[at + close - 1] if close else ""
    return bool(last) and last not in (")", "]", "(") and not _TOKEN_OPERAND.fullmatch(last)


def _option_pair(words: list[str], at: int) -> bool:
    """Return whether ``name 'value'`` starts at ``at``: ``OPTIONS (host 'x')``, no call."""
    value = words[at + 1] if at + 1 < len(words) else ""
    return bool(_NAME.fullmatch(words[at] if at < len(words) else "")) and bool(
        _STRING_MARK.fullmatch(value)
    )


def _partitioned(words: list[str], at: int) -> bool:
    """Return whether ``RANGE (`` at ``at`` is a table's ``PARTITION BY RANGE (a)``.

    Not a window's ``OVER (PARTITION BY range(x))``, where ``range(x)`` is a call.
    """
    head = [word.upper() for word in words[max(0, at - 3) : at]]
    return head[-2:] == ["PARTITION", "BY"] and head[:1] != ["("] and len(head) == 3


def _index_method(words: list[str], using: int) -> bool:
    """Return whether the ``USING`` at ``using`` names an index's method: ``ON t USING gin (``."""
    if using >= 1 and words[using - 1].upper() == "EXCLUDE":
        return True
    at = using - 1
    while at >= 2 and words[at - 1] == ".":
        at -= 2  # ON schema.table USING
    at -= 1
    at -= at >= 0 and words[at].upper() == "ONLY"
    return at >= 0 and words[at].upper() == "ON" and _index_table(words, at)


# Where a GROUP BY's ROLLUP (…) or CUBE (…) may stand, and the words that end the search for it
_GROUPING_BEFORE = frozenset({"BY", ",", "(", "ALL", "DISTINCT"})
_GROUPING_STOP = frozenset({"SELECT", "FROM", "WHERE", "HAVING", "WINDOW", "ORDER", ";"})


def _grouping(words: list[str], at: int) -> bool:
    """Return whether ``name (`` at ``at`` is a ``GROUP BY``'s grouping, no call.

    ``GROUPING SETS (…)``, and ``ROLLUP (…)`` and ``CUBE (…)`` unqualified as an item of a
    ``GROUP BY`` or of its ``GROUPING SETS``, as the server reads them (a function so named is
    called there only qualified: ``public.cube(x)``). What they hold is read as any code.
    """
    word, before = words[at].upper(), words[at - 1].upper() if at > 0 else ""
    if word == "SETS":
        return before == "GROUPING"
    if word not in ("ROLLUP", "CUBE") or before not in _GROUPING_BEFORE:
        return False
    depth = 0
    for index in range(at - 1, 0, -1):
        upper = words[index].upper()
        depth += (upper == ")") - (upper == "(")
        if depth < 0:  # an opening parenthesis: GROUPING SETS (…, ROLLUP (a))
            return words[index - 1].upper() == "SETS" and words[index - 2].upper() == "GROUPING"
        if depth == 0 and upper == "BY":
            return words[index - 1].upper() == "GROUP"
        if depth == 0 and upper in _GROUPING_STOP:
            return False
    return False


def _explained(words: list[str], at: int) -> bool:
    """Return whether ``EXPLAIN (`` at ``at`` is an ``EXPLAIN (options)`` statement, no call.

    So where a body's statement starts, and after ``FOR r IN`` or ``CURSOR FOR``, ``THEN`` or
    ``ELSE`` when a statement follows its options (``FOR i IN explain(1)..9`` and a CASE's
    ``ELSE explain(1)`` call ``explain``; PL/pgSQL's ``ELSE EXPLAIN (ANALYZE) SELECT …`` does not).
    """
    before = words[at - 1].upper() if at > 0 else ";"
    if before in _BLOCK_WORDS - {"THEN", "ELSE"}:
        return True
    if before not in _QUERY_WORDS:
        return False
    depth = 0
    for inner in range(at + 1, min(len(words), at + _OPTION_WORDS)):  # options are a few words
        depth += (words[inner] == "(") - (words[inner] == ")")
        if depth == 0:
            after = words[inner + 1].upper() if inner + 1 < len(words) else ""
            return after in _EXPLAINED
    return False


def _into_target(words: list[str], at: int) -> bool:
    """Return whether the word at ``at`` is a PL/pgSQL ``SELECT INTO`` target: a variable.

    A variable may be named as a keyword (``DECLARE view text; … SELECT INTO view f(x)``): the
    word names no relation then, and the ``name (`` after it is a call.
    """
    while at >= 2 and words[at - 1] in (",", "."):
        at -= 2  # INTO a, b.c
    at -= at >= 1 and words[at - 1].upper() == "STRICT"
    if at < 1 or words[at - 1].upper() != "INTO":
        return False
    return at < 2 or words[at - 2].upper() not in ("INSERT", "MERGE")


def _cte_names(words: list[str]) -> frozenset[int]:
    """Return where a statement names its CTEs: ``WITH a (x) AS (SELECT …), b AS MATERIALIZED (…)``.

    Read forward from each ``WITH`` as the server reads a WITH clause, so that a name after a
    comma elsewhere (``FROM t, f(x) AS materialized``, ``SELECT id, f(x) AS materialized``)
    is a call. Linear: each parenthesis is matched once.
    """
    closing = matching(words)
    found: set[int] = set()
    for start, word in enumerate(words):
        if word.upper() != "WITH" or _ordinality(words, start):
            continue
        at = start + 1
        at += [w.upper() for w in words[at : at + 1]] == ["RECURSIVE"]
        while at < len(words) and _NAME.fullmatch(words[at]):
            name = at
            at = closing.get(at + 1, len(words)) + 1 if words[at + 1 : at + 2] == ["("] else at + 1
            upper = [w.upper() for w in words[at : at + 4]]
            if upper[:1] != ["AS"]:
                break
            skip = 1 + (upper[1:2] == ["NOT"])
            skip += upper[skip : skip + 1] == ["MATERIALIZED"]
            at += skip
            query = [w.upper() for w in words[at : at + 2]]
            if query[:1] != ["("] or query[1:2] == [] or query[1] not in (_QUERIES | {"("}):
                break
            found.add(name)
            at = _past_search_and_cycle(words, closing.get(at, len(words)) + 1)
            if words[at : at + 1] != [","]:
                break
            at += 1
    return frozenset(found)


def _ordinality(words: list[str], at: int) -> bool:
    """Return whether the ``WITH`` at ``at`` is a function's ``f(x) WITH ORDINALITY``."""
    after = [word.upper() for word in words[at + 1 : at + 2]]
    return after == ["ORDINALITY"] and at > 0 and words[at - 1] == ")"


def _past_search_and_cycle(words: list[str], at: int) -> int:
    """Return where a CTE's ``SEARCH … SET c`` and ``CYCLE … USING p`` clauses end."""
    for clause, last in (("SEARCH", "SET"), ("CYCLE", "USING")):
        if words[at : at + 1] and words[at].upper() == clause:
            while at < len(words) and words[at].upper() != last:
                at += 1
            at += 2  # the clause's last word and the column it names
    return at


def matching(words: list[str]) -> dict[int, int]:
    """Return where each ``(`` is closed: its index, the ``)``'s index (the words read once)."""
    pairs, opened = {}, []
    for at, word in enumerate(words):
        if word == "(":
            opened.append(at)
        elif word == ")" and opened:
            pairs[opened.pop()] = at
    return pairs


def _index_table(words: list[str], on: int) -> bool:
    """Return whether the ``ON`` at ``on`` names the table of a ``CREATE [UNIQUE] INDEX``.

    Read back from ``ON`` as the server reads the statement (``CREATE UNIQUE INDEX CONCURRENTLY
    IF NOT EXISTS i ON``), wherever it starts: at the top of a file or in a function's body.
    """
    upper = [word.upper() for word in words[max(0, on - 8) : on]]
    if upper[-1:] and upper[-1] not in ("INDEX", "CONCURRENTLY") and _NAME.fullmatch(upper[-1]):
        upper.pop()  # the index's name
        if upper[-3:] == ["IF", "NOT", "EXISTS"]:
            del upper[-3:]
    if upper[-1:] == ["CONCURRENTLY"]:
        upper.pop()
    if upper[-1:] != ["INDEX"]:
        return False
    upper.pop()
    if upper[-1:] == ["UNIQUE"]:
        upper.pop()
    return upper[-1:] == ["CREATE"]


def _may_call(
    name: str, words: list[str], at: int, strings: tuple[str, ...], own: frozenset[str]
) -> bool:
    """Return whether a statement may call this function here."""
    if name in pgfunctions.HARMLESS:
        return True
    if name == "current_setting":  # current_setting('server_version'), a literal name only
        argument = words[at + 2 : at + 4]
        if len(argument) == 2 and argument[1] in (")", ","):
            return _value(argument[0], strings).lower() in _READABLE_SETTINGS
        return False
    return name in own and name not in pgfunctions.OTHERS and name not in pgfunctions.EXTENSIONS


def _why_not(name: str, own: frozenset[str]) -> str:
    if name in own and name in pgfunctions.EXTENSIONS:
        return f"an extension's {name}() can be found instead, and it is not known to be harmless"
    if name in own:
        return f"PostgreSQL's own {name}() is found first, and it is not known to be harmless"
    return "not a PostgreSQL function known to be harmless, nor one the project defines"


def server_name(name: str) -> str:
    """Return a name as the server keeps it: its first 63 bytes (a longer one is cut so)."""
    if _MIXED_NAME.fullmatch(name):
        return name  # cut already (a quoted name with capitals)
    return name.encode("utf-8")[:_NAME_BYTES].decode("utf-8", "ignore")


def defined_functions(*texts: str) -> frozenset[str]:
    """Return the names of the functions these SQL texts define, in lower case, as kept.

    Those defined inside a function's body count too: each is checked as any other.
    """
    names: set[str] = set()
    for text in texts:
        for statement in split(text):
            names |= _defined(statement, 0)
    return frozenset(names)


def defined_names(*texts: str) -> frozenset[str]:
    """Return the functions these SQL texts define and the schemas they create.

    A schema is ``pgtargets.SCHEMA`` and its name (``"schema app"``: no function's name holds a
    blank): a ``search_path`` may name it. Its name as the server reads it: ``App`` is ``app``,
    ``"App"`` is ``App`` (:func:`tac_bootstrap.pgtargets.created_schema`).
    """
    schemas = set()
    for text in texts:
        for statement in split(text):
            if statement_kind(statement) != "CREATE":
                continue
            name = pgtargets.created_schema(statement.text)
            if name is not None:
                schemas.add(pgtargets.SCHEMA + name)
    return defined_functions(*texts) | schemas


# What may stand between CREATE and a relation's noun, and the nouns of relations that ``LOCK``
# locks (a view locks the tables it reads) or ``ANALYZE``/``VACUUM``/``CLUSTER`` reach.
_RELATION_MODIFIERS = _MODIFIERS | {"MATERIALIZED", "FOREIGN", "RECURSIVE"}
_RELATION_NOUNS = frozenset({"TABLE", "VIEW"})


def defined_relations(*texts: str) -> frozenset[str]:
    """Return the tables and views these SQL texts create or rename to, in lower case.

    Read with this module's splitting, not sqlglot's: ``CREATE TABLE p1 PARTITION OF p …``,
    ``CREATE TABLE t OF a_type`` and ``CREATE VIEW v AS …`` are relations ``lock p1`` and
    ``lock v`` lock (a view locks the tables it reads), which sqlglot's tables leave out. The
    statements of function bodies count too.
    """
    names: set[str] = set()
    for text in texts:
        for statement in split(text):
            names |= _relations(statement)
            for body in statement.strings:
                for inner in split(body, whole=True):
                    names |= _relations(inner)
    return frozenset(names)


def _relations(statement: PgStatement) -> set[str]:
    words: list[str] = _TOKEN.findall(statement.code)
    upper = [word.upper() for word in words]
    names = set()
    for at, word in enumerate(upper):
        if word == "CREATE" or (word == "RENAME" and upper[at + 1 : at + 2] == ["TO"]):
            noun = at + 1
            while noun < len(upper) and upper[noun] in _RELATION_MODIFIERS:
                noun += 1
            if word == "RENAME":
                noun = at + 1
            elif upper[noun : noun + 1] and upper[noun] not in _RELATION_NOUNS:
                continue
            name = noun + 1
            if upper[name : name + 3] == ["IF", "NOT", "EXISTS"]:
                name += 3
            chain = pgtargets.name_at(words, name)
            if chain:
                names.add(chain[-1].lower())
    return names


def _defined(statement: PgStatement, depth: int) -> set[str]:
    words: list[str] = _TOKEN.findall(statement.code)
    upper = [word.upper() for word in words]
    names = set()
    for at, pair in enumerate(itertools.pairwise(upper)):
        if pair not in _DEFINITIONS:
            continue
        end = at + 2
        while end + 2 < len(words) and words[end + 1] == ".":
            end += 2  # schema.name
        if end < len(words) and _NAME.fullmatch(words[end]) and words[end] != _QUOTED:
            names.add(server_name(words[end].lower()))
    bodies = [
        _value(words[at + 1], statement.strings)  # AS 'body' or AS $$body$$: nothing else runs
        for at, word in enumerate(upper[:-1])
        if word == "AS" and _STRING_MARK.fullmatch(words[at + 1])
    ]
    for body in bodies if names and depth <= _DEPTH else []:  # a body may define more
        for inner in split(body, whole=True):  # past _DEPTH, _function refuses the statement
            names |= _defined(inner, depth + 1)
    return names


def _altered(words: list[str], own: frozenset[str]) -> str | None:
    """Refuse an ALTER FUNCTION of a function the project does not define.

    ``words`` follow ``ALTER FUNCTION``: renamed to one of the project's names, PostgreSQL's
    ``table_to_xml`` would pass as the project's own.
    """
    at = 0
    while at + 2 < len(words) and words[at + 1] == ".":
        at += 2  # schema.name
    name = server_name(words[at].lower()) if words else ""
    if name in own and name not in pgfunctions.OTHERS and name not in pgfunctions.EXTENSIONS:
        return None
    return f"ALTER FUNCTION {name} (not a function the project defines)"


def _renamed(words: list[str]) -> str | None:
    """Refuse an ALTER FUNCTION of a function that reaches outside (renamed, its calls pass)."""
    for word in words:
        name = word.lower()
        if name in _FUNCTIONS or name.startswith(_FUNCTION_PREFIXES):
            return f"ALTER FUNCTION {name} (a function that reaches outside the database)"
    return None


def _pairs(words: list[str]) -> str | None:
    """Return the first two words that do what a schema never does, if any."""
    for pair in itertools.pairwise(words):
        if pair in _BODY_PAIRS:
            return f"{pair[0]} {pair[1]} (not something a schema does)"
    return None


# Words after which SUPPORT names a type or a setting's value, not a planner support function:
# ``RETURNS support``, ``RETURNS SETOF app.support``, ``SET search_path = app, support``.
_NOT_SUPPORT_CLAUSE = frozenset({"RETURNS", "SETOF", ".", "=", ",", "TO"})


def _support(words: list[str]) -> str | None:
    """Refuse a function definition's ``SUPPORT f`` clause (``CREATE``/``ALTER FUNCTION``).

    A support function is C code the planner calls with its own internal structures; only a
    superuser may name one, and a project never needs to. Each definition is read from its
    ``CREATE``/``ALTER FUNCTION`` to its statement's end, outside parentheses.
    """
    inside, depth = False, 0
    for at, word in enumerate(words):
        if (word, *words[at + 1 : at + 2]) in _DEFINITIONS | _ALTERED_FUNCTIONS:
            inside, depth = True, 0
        depth += (word == "(") - (word == ")")
        if word == ";" and depth <= 0:
            inside = False
        after = words[at + 1] if at + 1 < len(words) else ""
        if (
            inside
            and depth == 0
            and word == "SUPPORT"
            and words[at - 1] not in _NOT_SUPPORT_CLAUSE
            and _NAME.fullmatch(after)
            and after not in pgfunctions.KEYWORDS
        ):
            return f"a function with SUPPORT {after.lower()} (C code the planner calls)"
    return None


_ALTERED_FUNCTIONS = frozenset({("ALTER", "FUNCTION"), ("ALTER", "ROUTINE")})


def _options_end(words: list[str]) -> int:
    """Return where a definition's options end: at a ``BEGIN ATOMIC`` body, or the last word.

    The body's statements are code, not a string: ``UPDATE t SET name = n`` in it is no SET
    clause, and the server takes only queries there (``COPY``, ``SET``, ``DO``: "not yet
    supported in unquoted SQL function body").
    """
    depth = 0
    for at, word in enumerate(words):
        depth += (word == "(") - (word == ")")
        if depth == 0 and word == "BEGIN" and words[at + 1 : at + 2] == ["ATOMIC"]:
            return at
    return len(words)


def _atomic(words: list[str]) -> str | None:
    """Refuse a ``BEGIN ATOMIC`` body with a statement that is no query (``ALTER SYSTEM …``).

    The server takes only queries there (``COPY``, ``SET``, ``DO``: "not yet supported in
    unquoted SQL function body"); :func:`split` keeps the body in its ``CREATE`` statement.
    """
    end = _options_end(words)
    starts = [end + 2] + [at + 1 for at in range(end + 2, len(words)) if words[at] == ";"]
    for at in starts if end < len(words) else []:
        first = words[at] if at < len(words) else "END"
        if first not in _QUERIES | {"MERGE", "RETURN", "END", "(", ";"}:
            shown = first if _PLAIN_NAME.fullmatch(first) else "this"
            return f"a BEGIN ATOMIC body with a statement that starts with {shown} (only queries)"
    return None


def _set_clause(words: list[str], strings: tuple[str, ...] = ()) -> str | None:
    """Check a function's ``SET name = value`` clauses, which set it while the function runs."""
    depth = 0
    for at, word in enumerate(words[: _options_end(words)]):
        depth += (word == "(") - (word == ")")
        if depth == 0 and word == "SET" and not _routine_name(words, at):
            reason = _setting(words[at:], strings)
            if reason is not None:
                return f"a function that sets {reason}"
    return None


_ROUTINE_NOUNS = frozenset({"FUNCTION", "PROCEDURE", "ROUTINE"})


def _routine_name(words: list[str], at: int) -> bool:
    """Return whether the word at ``at`` is a routine's name: ``CREATE FUNCTION set(…)``.

    The server takes an unreserved word there (``set``, ``language``): no clause of the routine.
    """
    name = at - 2 if at >= 2 and words[at - 1] == "." else at  # public.set
    return name >= 1 and words[name - 1] in _ROUTINE_NOUNS


def _setting(words: list[str], strings: tuple[str, ...] = ()) -> str | None:
    """Check a SET or RESET: only a few session settings, and the lexing ones unchanged."""
    rest = [w for w in words[1:] if w not in ("LOCAL", "SESSION")] or [""]
    name = unmarked(rest[0]).lower()  # a setting's name in any case: "Statement_Timeout" too
    if name == "names" and words[0] == "SET":  # SET NAMES 'x' sets client_encoding
        name = "client_encoding"
    if name in _LEXING and words[0] == "SET":
        return _lexing(name, rest[1:], strings)
    if name in _SETTINGS:
        return None
    if name == "time" and rest[1:2] == ["ZONE"]:
        return None
    if (name, rest[1:3]) == ("characteristics", ["AS", "TRANSACTION"]):
        return None  # SET SESSION CHARACTERISTICS AS TRANSACTION: default_transaction_…
    if (name, rest[1:2]) == ("xml", ["OPTION"]):
        return None  # SET XML OPTION: xmloption
    value = rest[1] if len(rest) > 1 else ""
    if name == "schema" and words[0] == "SET" and _STRING_MARK.fullmatch(value):
        return None  # SET SCHEMA 'x': the search_path, read as one (pgtargets)
    shown = " ".join([words[0], name or " ".join(words[1:2]).lower()]).strip()  # RESET alone too
    return f"{shown} (not a setting a schema needs)"


def _lexing(name: str, words: list[str], strings: tuple[str, ...]) -> str | None:
    """Check the value of a setting that changes how the server reads the statements after it.

    With ``standard_conforming_strings`` off, a backslash escapes the quote after it in every
    string; in ``SJIS``, a backslash can be half of a character: strings would end elsewhere
    than this check reads them end. Only the value the check reads every statement with may be
    set (pg_dump's output sets it so).
    """
    values = words[1:] if words[:1] in (["="], ["TO"]) else words
    one = len(values) == 1 or (len(values) > 1 and values[1] != ",")  # not a list
    value = _value(values[0], strings) if values and one else ""
    if re.sub(r"[^0-9a-z]", "", value.lower()) in _LEXING[name]:
        return None
    return (
        f"SET {name} to {value or 'this'} (only {_LEXING[name][0]}: the statements after it "
        "would be read otherwise than this check reads them)"
    )
