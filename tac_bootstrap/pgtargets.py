"""What a PostgreSQL definition may change: the project's own objects, never the catalogue's.

:mod:`tac_bootstrap.pgguard` decides which kinds of statement a schema, a migration or a
function's body may hold; this module checks what such a statement names as the object it
creates, alters, drops or describes. A superuser (as the project's tests often are) may
replace ``pg_catalog.lower``, rename ``pg_catalog.pg_roles``, drop ``information_schema``,
comment on the database or a role, or create a function in ``pg_catalog`` through a
``search_path`` that names it: every such target is refused here, whatever the statement's
kind, at the top of a file and in a function's body alike.

Statements arrive as tokens (:data:`tac_bootstrap.pgguard._TOKEN`): names as the server reads
them, strings as ``'n'`` marks, every other character alone.
"""

from __future__ import annotations

import re

from tac_bootstrap import pgfunctions

# What marks a schema the project creates among the names of its own (pgguard.defined_names).
SCHEMA = "schema "
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")
# PostgreSQL's own schemas: nothing in them is the project's (pg_temp is the session's own).
CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
# What COMMENT ON may describe: the objects a schema defines (not the database, a role, a
# tablespace, a language, an extension, a large object, ...).
_COMMENTED = frozenset(
    {"TABLE", "COLUMN", "VIEW", "INDEX", "SEQUENCE", "TYPE", "DOMAIN", "FUNCTION", "SCHEMA"}
    | {"TRIGGER", "CONSTRAINT", "MATERIALIZED"}
)
_RELATIONS = frozenset({"TABLE", "VIEW", "INDEX", "SEQUENCE", "MATERIALIZED", "COLUMN"})
_TYPES = frozenset({"TYPE", "DOMAIN"})
# Objects named "x ON relation": the relation is the target.
_ON_RELATION = frozenset({"TRIGGER", "CONSTRAINT", "POLICY", "RULE"})
_SKIP = frozenset(
    {"OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "UNIQUE", "RECURSIVE"}
    | {"IF", "NOT", "EXISTS", "ONLY", "CONCURRENTLY"}
)
_VERBS = frozenset({"CREATE", "ALTER", "DROP"})
# Options that name an object a statement makes besides the one it names first: a range's
# multirange type, an identity column's sequence.
_NAMED_OBJECTS = {"MULTIRANGE_TYPE_NAME": "TYPE", "SEQUENCE": "SEQUENCE"}
# Type names of the SQL standard, which the server reads as pg_catalog's (integer is int4).
_STANDARD_TYPES = frozenset(
    {"int", "integer", "smallint", "bigint", "boolean", "real", "double", "float", "decimal"}
    | {"dec", "character", "char", "nchar", "national", "bit", "time", "timestamp", "interval"}
)
# Why a PROCEDURE is refused: the contract's routines are functions (README, "On pull requests").
PROCEDURES = "(not something a schema defines: its routines are functions, never procedures)"
# Where a quoted name with a capital letter was (``"Pg_Read_File"``): the server keeps its case,
# so it is no name of PostgreSQL's (all in lower case) nor one spelt without quotes (folded).
# It stays one name, told apart from every other by this mark, its letters in lower case and
# where its capitals were (a hexadecimal mask): ``q$pg_read_file$109``, in any case of letters
# (code is read in upper case too). A name past 63 bytes is cut first, as the server keeps it.
# A setting's name is the one place the server reads a quoted name in any case of letters.
MIXED = "q$"
MIXED_NAME = re.compile(r"(?<![\w$])q\$([\w$]+)\$([0-9a-f]+)(?![\w$])", re.IGNORECASE)
# Where a quoted name was that is spelt as a keyword, or is not plain letters (pgguard._QUOTED).
_QUOTED = "_"
# A relation of the session's temporary schema is found before pg_catalog's by default.
_SHADOWS = "a temporary object under a catalogue name is found before PostgreSQL's"
# Options of CREATE TYPE (base and range types) and ALTER TYPE … SET (…) that name a function
# the server calls without call syntax: ``INPUT = pg_read_file`` calls it as any call would.
FUNCTION_OPTIONS = frozenset(
    {"INPUT", "OUTPUT", "RECEIVE", "SEND", "TYPMOD_IN", "TYPMOD_OUT", "ANALYZE", "SUBSCRIPT"}
    | {"SUBTYPE_DIFF", "CANONICAL"}
)


def unmarked(word: str) -> str:
    """Return a word as written: a quoted name with capitals (its mark) as its letters."""
    found = MIXED_NAME.fullmatch(word)
    if found is None:
        return word
    letters, mask = found.group(1).lower(), int(found.group(2), 16)
    return "".join(c.upper() if mask >> at & 1 else c for at, c in enumerate(letters))


def _search_path_word(word: str) -> bool:
    """Return whether a word names the setting search_path (``"Search_Path"`` too)."""
    return unmarked(word).upper() == "SEARCH_PATH"


def refusal(
    words: list[str],
    *,
    escaped: bool = False,
    own: frozenset[str] = frozenset(),
    text: str = "",
) -> str | None:
    """Return why a statement (or a function's body) changes what is not the project's, or None.

    ``escaped``: the statement holds an E'…' or U&'…' string, whose escapes can spell any name.
    ``own`` holds the schemas the project creates (``SCHEMA`` and a name); ``text`` is the
    statement as written (a search_path is read there, as the server reads it).
    """
    upper = [word.upper() for word in words]
    for at, word in enumerate(upper):
        after = upper[at + 1 : at + 2]
        reason = None
        if word in _VERBS:
            reason = _definition(words, upper, at)
        elif word == "COMMENT" and after == ["ON"]:
            reason = _comment(words, upper, at + 2)
        elif (word, *after) in (("SET", "SCHEMA"), ("RENAME", "TO")) or word in _NAMED_OBJECTS:
            reason = _named(words, upper, at)
        elif _search_path_word(word):  # a setting's name in any case: "sEaRcH_PaTh" too
            nth = sum(map(_search_path_word, upper[:at]))
            reason = _search_path(text, nth, own, escaped=escaped)
        elif word == "SCHEMA" and _sets_schema(upper, at):  # SET SCHEMA 'x': a search_path
            nth = sum(_sets_schema(upper, before) for before in range(at))
            reason = _search_path(text, nth, own, escaped=escaped, schema=True)
        elif word in ("INHERITS", "INHERIT") and upper[at - 1 : at] != ["NO"]:
            reason = _inherited(words, at + 1)
        if reason is not None:
            return reason
    return None


def _definition(words: list[str], upper: list[str], at: int) -> str | None:
    """Check the target of the CREATE, ALTER or DROP at ``at``."""
    verb, noun_at = upper[at], at + 1
    while noun_at < len(upper) and upper[noun_at] in _SKIP:
        noun_at += 1
    noun = upper[noun_at] if noun_at < len(upper) else ""
    if noun == "MATERIALIZED":
        noun_at += 1  # MATERIALIZED VIEW
    if noun == "ROUTINE":  # ALTER/DROP ROUTINE f: a function (the project's are functions)
        noun = "FUNCTION"
    if verb == "CREATE" and noun == "SCHEMA":
        return _schema_elements(words, upper, noun_at + 1)
    targets = _targets(words, upper, noun_at + 1, several=verb == "DROP")
    temporary = any(word in ("TEMP", "TEMPORARY") for word in upper[at + 1 : noun_at])
    for named in targets:
        chain = ["pg_temp", *named] if temporary and len(named) == 1 else named  # TEMP t: pg_temp.t
        reason = _target(noun, chain, verb=verb)
        if reason is not None:
            return reason
        if verb == "CREATE":
            break  # CREATE names one object; what follows is its definition
    if noun in _ON_RELATION:
        return _on_relation(words, upper, noun_at + 1, f"{verb} {noun}")
    return None


def _named(words: list[str], upper: list[str], at: int) -> str | None:
    """Check a name given past a statement's first: ``SET SCHEMA s``, ``RENAME TO n`` and options.

    Options name what a statement makes besides its first object: ``MULTIRANGE_TYPE_NAME =
    s.t`` (a range's), ``SEQUENCE NAME s.q`` (an identity column's).
    """
    word = upper[at]
    if word == "SET":
        schema = name_at(words, at + 2)
        if schema and catalog_schema(schema[0]):
            return f"SET SCHEMA {schema[0]} (moves an object into PostgreSQL's catalogue)"
        return None
    if word == "RENAME":
        return _renamed(words, at + 2)
    if upper[at + 1 : at + 2] in (["="], ["NAME"]):
        return _target(_NAMED_OBJECTS[word], name_at(words, at + 2), verb="CREATE")
    return None


def _renamed(words: list[str], at: int) -> str | None:
    """Refuse ``RENAME TO pg_…`` or to a catalogue type's name: the object may be a temporary one.

    A temporary table, view, sequence, type or domain renamed ``int4``, ``text`` or ``_int4`` is
    found before pg_catalog's type for the rest of the session (``'(7)'::int4`` is a row).
    """
    name = name_at(words, at)
    if name and (name[0].startswith("pg_") or catalog_type(name[0])):
        return f"RENAME TO {name[0]} (a catalogue name: {_SHADOWS})"
    return None


def _comment(words: list[str], upper: list[str], at: int) -> str | None:
    """Check COMMENT ON: an object a schema defines, not PostgreSQL's."""
    noun = upper[at] if at < len(upper) else ""
    noun = "FUNCTION" if noun == "ROUTINE" else noun  # COMMENT ON ROUTINE f: a function too
    if noun == "PROCEDURE":
        return f"COMMENT ON procedure {PROCEDURES}"
    if noun not in _COMMENTED:
        return f"COMMENT ON {noun.lower() or 'this'} (not an object a schema defines)"
    start = at + (2 if noun == "MATERIALIZED" else 1)
    if noun in ("TRIGGER", "CONSTRAINT"):
        return _on_relation(words, upper, start, f"COMMENT ON {noun}")
    chain = name_at(words, start)
    if noun == "COLUMN":
        chain = chain[:-1]  # the column's relation
    return _target(noun, chain, verb="COMMENT ON")


def _target(noun: str, chain: list[str], *, verb: str) -> str | None:
    """Return why ``chain`` (a possibly qualified name) is not the project's to change."""
    if not chain:
        return None
    name, shown = chain[-1], f"{verb} {noun} {'.'.join(chain)}"
    why = f"{shown} (PostgreSQL's catalogue, not the project's)"
    if any(catalog_schema(schema) for schema in chain[:-1]):
        return why
    if noun == "SCHEMA":
        return why if catalog_schema(chain[0]) else None
    if chain[:-1] == ["pg_temp"] and _shadows(noun, name):
        return f"{shown} ({_SHADOWS})"
    if len(chain) > 1:
        return None  # qualified by one of the project's schemas
    if verb == "CREATE":  # made where the search_path says: never PostgreSQL's schemas (refused)
        return _created(noun, name, shown)
    if name == _QUOTED and noun in _TYPES | {"FUNCTION"}:
        return f'{verb} {noun} of a quoted name spelt as a keyword ("left" is PostgreSQL\'s)'
    return why if _catalogs(noun, name) else None


def _catalogs(noun: str, name: str) -> bool:
    """Return whether an unqualified name of this kind is found in pg_catalog (searched first)."""
    if noun in _RELATIONS:
        return name.startswith("pg_")
    if noun in _TYPES:
        return catalog_type(name)
    return noun == "FUNCTION" and name in pgfunctions.HARMLESS | pgfunctions.OTHERS


def _shadows(noun: str, name: str) -> bool:
    """Return whether a temporary object so named is found before pg_catalog's of the name.

    The session's temporary schema is searched first for relations and types, and a relation
    is a type too (a temporary table ``int4`` is what ``'(1)'::int4`` reads).
    """
    relation = noun in _RELATIONS and (name.startswith("pg_") or catalog_type(name))
    return relation or (noun in _TYPES and catalog_type(name))


def catalog_type(name: str) -> bool:
    """Return whether an unqualified type name is pg_catalog's: its own, a pg_… one, an array.

    ``_int4`` is an array of int4, ``_agents_old`` no catalogue type; a quoted keyword (``_``)
    may be one.
    """
    if name in pgfunctions.TYPES or name in _STANDARD_TYPES or name.startswith("pg_"):
        return True
    return name == _QUOTED or (name.startswith("_") and catalog_type(name[1:]))


def _created(noun: str, name: str, shown: str) -> str | None:
    """Refuse an unqualified new function or relation under a name of PostgreSQL's catalogue.

    Made in the project's schema, it is never found first (``pg_catalog`` is); made wherever a
    search_path the check misread puts it, it replaces PostgreSQL's (``lower``, ``pg_tables``).
    A schema's name before it (``app.lower``) says where it goes.
    """
    if noun == "FUNCTION" and name == _QUOTED:  # "support", "left": one name to the check
        return (
            f"{shown} (a quoted name spelt as a keyword: the check cannot tell it from "
            'PostgreSQL\'s, as "left" is, in any schema; choose another name)'
        )
    catalog_function = name in (pgfunctions.HARMLESS | pgfunctions.OTHERS) - pgfunctions.ADDED
    if noun == "FUNCTION" and name.startswith("pg_"):
        catalog_function = True  # pg_settings(): its name would excuse the view's (the check's)
    if (noun == "FUNCTION" and catalog_function) or (noun in _RELATIONS and name.startswith("pg_")):
        return f"{shown} (a name of PostgreSQL's catalogue: name the project's schema before it)"
    return None


def _on_relation(words: list[str], upper: list[str], at: int, shown: str) -> str | None:
    """Check the relation after ``x ON`` (a trigger's, a constraint's): not the catalogue's."""
    while at < len(upper) and upper[at] != "ON":
        at += 1
    at += 1
    if upper[at : at + 1] == ["DOMAIN"]:
        at += 1
    chain = name_at(words, at)
    catalog = any(catalog_schema(schema) for schema in chain[:-1])
    if chain and (catalog or (len(chain) == 1 and chain[0].startswith("pg_"))):
        return f"{shown} ON {'.'.join(chain)} (PostgreSQL's catalogue, not the project's)"
    return None


def _schema_elements(words: list[str], upper: list[str], at: int) -> str | None:
    """Refuse ``CREATE SCHEMA s GRANT …`` or ``CREATE TABLE …``: elements run unchecked there.

    A schema's objects are created by statements of their own, each checked as one.
    """
    while at < len(upper) and upper[at] in _SKIP:
        at += 1
    chain = [] if upper[at : at + 1] == ["AUTHORIZATION"] else name_at(words, at)
    if chain and catalog_schema(chain[0]):
        return f"CREATE SCHEMA {chain[0]} (PostgreSQL's catalogue, not the project's)"
    rest = upper[at + max(2 * len(chain) - 1, 0) :]
    if rest[:1] == ["AUTHORIZATION"]:
        rest = rest[2:]
    if rest:
        return "CREATE SCHEMA with elements (create each object with a statement of its own)"
    return None


def _targets(words: list[str], upper: list[str], at: int, *, several: bool) -> list[list[str]]:
    """Return the names that start at ``at``: one, or with ``several`` a list (``DROP a, b``)."""
    found = []
    at = _past_modifiers(upper, at)
    while at < len(words):
        chain = name_at(words, at)
        if not chain or upper[at] == "ON":
            break
        found.append(chain)
        at += 2 * len(chain) - 1
        if words[at : at + 1] == ["("]:  # a function's signature
            at = _closing(words, at) + 1
        if not several or words[at : at + 1] != [","]:
            break
        at += 1
    return found


def _past_modifiers(upper: list[str], at: int) -> int:
    """Return where the names start past ``IF [NOT] EXISTS``, ``ONLY`` and ``CONCURRENTLY``.

    ``IF``, ``NOT`` and ``EXISTS`` may each name a view (``DROP VIEW if, pg_catalog.pg_roles``):
    only the whole phrase is skipped.
    """
    while at < len(upper):
        if upper[at] in ("ONLY", "CONCURRENTLY"):
            at += 1
        elif upper[at : at + 2] == ["IF", "EXISTS"]:
            at += 2
        elif upper[at : at + 3] == ["IF", "NOT", "EXISTS"]:
            at += 3
        else:
            return at
    return at


def name_at(words: list[str], at: int) -> list[str]:
    """Return the qualified name at ``at`` (``schema.name``), in lower case, or []."""
    chain = []
    while at < len(words) and _is_name(words[at]):
        chain.append(words[at].lower())
        if words[at + 1 : at + 2] != ["."]:
            break
        at += 2
    return chain


def _is_name(word: str) -> bool:
    return bool(word) and (word[0].isalpha() or word[0] == "_" or ord(word[0]) > 0x7F)


def _closing(words: list[str], start: int) -> int:
    depth = 0
    for at in range(start, len(words)):
        depth += (words[at] == "(") - (words[at] == ")")
        if depth == 0:
            return at
    return len(words) - 1


def catalog_schema(name: str) -> bool:
    """Return whether a schema is PostgreSQL's, or another session's ``pg_temp_N``."""
    return name in CATALOG_SCHEMAS or (name.startswith("pg_") and name != "pg_temp")


def _inherited(words: list[str], at: int) -> str | None:
    """Refuse ``INHERITS (pg_proc)`` or ``INHERIT pg_proc``: a child table's rows join the parent's.

    Every read of the catalogue table (without ONLY) would return the rows the project writes.
    """
    at += words[at : at + 1] == ["("]
    while at < len(words):
        chain = name_at(words, at)
        catalog = any(catalog_schema(schema) for schema in chain[:-1])
        if chain and (catalog or chain[-1].startswith("pg_")):
            return f"a table that inherits {'.'.join(chain)} (PostgreSQL's catalogue)"
        at += max(2 * len(chain) - 1, 0)
        if words[at : at + 1] != [","]:
            break
        at += 1
    return None


def _sets_schema(upper: list[str], at: int) -> bool:
    """Return whether the word at ``at`` is ``SCHEMA`` of ``SET [LOCAL|SESSION] SCHEMA 'x'``.

    That sets the search_path to the one schema the string names (``ALTER … SET SCHEMA s``,
    which moves an object, names it without a string).
    """
    before = [word for word in upper[max(0, at - 2) : at] if word not in ("LOCAL", "SESSION")]
    string = re.fullmatch(r"'\d+'", upper[at + 1]) if at + 1 < len(upper) else None
    return upper[at] == "SCHEMA" and before[-1:] == ["SET"] and string is not None


def _search_path(
    text: str, nth: int, own: frozenset[str], *, escaped: bool, schema: bool = False
) -> str | None:
    """Check the ``nth`` search_path a statement sets (0 for its first), read from its text.

    The first schema of a search_path that exists is where an unqualified ``CREATE`` puts its
    object: ``SET search_path = pg_catalog`` makes ``CREATE FUNCTION lower(text)`` replace
    PostgreSQL's. ``pg_catalog`` is searched first without being named. ``pg_temp`` named
    before the project's schemas (or alone) makes the session's temporary schema that first
    one: tables made there vanish with the session, and a temporary table is found before the
    project's, in a ``SECURITY DEFINER`` function's body too. Named last, it is searched last;
    after ``"$user"`` alone it is first all the same where no schema is named after the role.
    A schema the project's SQL does not create may be created later, by somebody else, and its
    objects would then be found before the project's.
    """
    if escaped:  # U&'information\005fschema' is information_schema
        return "a search_path beside an E'…' or U&'…' string (its escapes can spell any schema)"
    names = schema_setting_value(text, nth) if schema else search_path_value(text, nth)
    if names is None:
        return "a search_path the check cannot read in the statement's text"
    for name in names:
        if catalog_schema(name) and _PLAIN.fullmatch(name):  # "pg_x, y" is no schema's name
            return f"a search_path with {name} (objects would be created and found there)"
    if "pg_temp" in names[:-1] or ("pg_temp" in names and not {*names[:-1]} - {"$user"}):
        return (
            "a search_path with pg_temp before the project's schemas (temporary objects would be "
            "created there and found first: name pg_temp last)"
        )
    allowed = {name.removeprefix(SCHEMA) for name in own if name.startswith(SCHEMA)}
    allowed |= {"public", "pg_temp", "$user"}
    for name in names:
        if name not in allowed:
            return (
                f"a search_path with {name} (a schema the project's SQL does not create: "
                "somebody may create it later, and its objects would be found first)"
            )
    return None


# A statement's text as the server reads it, one token at a time: blanks and comments, quoted
# names, dollar quotes, strings, names, any other character.
_RAW_TOKEN = re.compile(
    r"(?P<blank>\s+)|(?P<comment>--[^\n\r]*)|(?P<block>/\*)|(?P<quoted>\"(?:[^\"]|\"\")*\"?)"
    r"|(?P<dollar>\$(?:[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*)?\$)|(?P<string>')"
    r"|(?P<name>[A-Za-z_\x80-\U0010ffff][\w$\x80-\U0010ffff]*)|(?P<number>[-+]?[\d.]+)"
    r"|(?P<other>.)",
    re.DOTALL,
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def search_path_value(text: str, nth: int) -> list[str] | None:
    """Return the schemas the ``nth`` search_path of a statement names, as the server reads them.

    An unquoted name folds to lower case, ASCII letters only (``PUBLIC`` is ``public``); a
    quoted one keeps its case (``"PG_TEMP"`` is no ``pg_temp``); a string is one schema's
    name as it is (``'pg_temp, public'`` is one schema of that name, ``'PUBLIC'`` not
    ``public``). ``DEFAULT``, ``FROM CURRENT`` and ``RESET`` name none. None: not found.
    """
    tokens = _raw_tokens(text)
    found = [
        at
        for at, (kind, value) in enumerate(tokens)
        if kind in ("name", "quoted") and value.isascii() and value.lower() == "search_path"
    ]
    if nth >= len(found):
        return None
    at = found[nth] + 1
    if tokens[at - 2 : at - 1] not in (
        [("name", "set")],
        [("name", "local")],
        [("name", "session")],
    ):
        return []  # RESET search_path, SHOW search_path, a column of that name
    if tokens[at : at + 2] == [("name", "from"), ("name", "current")]:
        return []
    if tokens[at : at + 1] in ([("other", "=")], [("name", "to")]):
        at += 1
    if tokens[at : at + 1] == [("name", "default")]:
        return []
    names = []
    while at < len(tokens) and tokens[at][0] != "other":
        names.append(tokens[at][1])  # a number too: SET search_path = 1 names a schema "1"
        if tokens[at + 1 : at + 2] != [("other", ",")]:
            break
        at += 2
    return [name for name in names if name]  # '' names none: SET search_path = ''


def schema_setting_value(text: str, nth: int) -> list[str] | None:
    """Return the schema the ``nth`` ``SET [LOCAL|SESSION] SCHEMA 'x'`` of a statement names.

    The string is one schema's name as it is (``'a, b'`` is one schema), as for the server,
    which sets the search_path to it. None: not found.
    """
    tokens = _raw_tokens(text)
    found = []
    for at, token in enumerate(tokens):
        before = [t for t in tokens[max(0, at - 2) : at] if t[1] not in ("local", "session")]
        after = tokens[at + 1 : at + 2]
        if token == ("name", "schema") and before[-1:] == [("name", "set")] and after:
            found += [value for kind, value in after if kind == "string"]
    if nth >= len(found):
        return None
    return [found[nth]] if found[nth] else []


def created_schema(text: str) -> str | None:
    """Return the schema a ``CREATE SCHEMA`` statement creates, its name as the server reads it.

    ``CREATE SCHEMA App`` creates ``app``, ``CREATE SCHEMA "App"`` ``App`` (as
    :func:`search_path_value` reads a search_path). None for another statement, a schema named
    only by ``AUTHORIZATION``, an unquoted name that is not plain ASCII letters, digits and
    ``_``, or a quoted one with a control character.
    """
    tokens = [token for token in _raw_tokens(text) if token[0] not in ("blank", "comment")]
    if tokens[:2] != [("name", "create"), ("name", "schema")]:
        return None
    at = 5 if tokens[2:5] == [("name", "if"), ("name", "not"), ("name", "exists")] else 2
    kind, name = tokens[at] if at < len(tokens) else ("", "")
    if kind not in ("name", "quoted") or (kind, name) == ("name", "authorization"):
        return None
    if tokens[at + 1 : at + 2] == [("other", ".")] or not name.isascii():
        return None
    if kind == "quoted":  # "App", "a b": any name, its case kept (no control character)
        return name if name.isprintable() else None
    return name if _PLAIN.fullmatch(name) else None


def _raw_tokens(text: str) -> list[tuple[str, str]]:
    """Return a statement's tokens: ``(kind, value)``, names folded, strings as they read."""
    from tac_bootstrap import pgguard  # here: pgguard imports this module

    tokens, pos = [], 0
    while pos < len(text):
        match = _RAW_TOKEN.match(text, pos)
        if match is None:  # the last alternative matches any character
            break
        kind, value, pos = match.lastgroup or "other", match.group(), match.end()
        if kind == "block":
            pos = pgguard._comment_end(text, pos)
        elif kind == "quoted" and text[max(0, match.start() - 2) : match.start()].upper() == "U&":
            tokens.append(("other", "U&"))  # its escapes can spell any name: never one here
        elif kind == "quoted":
            tokens.append(("quoted", value[1:-1].replace('""', '"')))
        elif kind == "dollar":
            end = text.find(value, pos)
            end = len(text) if end < 0 else end
            tokens.append(("string", text[pos:end]))
            pos = min(len(text), end + len(value))
        elif kind == "string":
            pos, body = pgguard._string(text, pos, escape=False)
            tokens.append(("string", body))
        elif kind == "name":
            tokens.append(("name", value.translate(_ASCII_LOWER)))
        elif kind in ("other", "number"):
            tokens.append((kind, value))
    return tokens
