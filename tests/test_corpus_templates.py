"""A hostile (and a legitimate) corpus of template texts, held to what ``sync-check`` does.

Each line of ``tests/corpus/templates.jsonl`` is one template: ``input`` is the text of the
template of a repository's one pair (``templates/orch/plain.txt.j2``, BASE ``pkg/plain.txt``),
``files`` other templates beside it (``{"bytes_hex": ...}`` for bytes that are not UTF-8,
``{"symlink": target}``, ``{"fifo": true}``; a file outside the root and ``.git/config`` hold a
secret no template may show),
``base`` the BASE's text when it is not one line of plain text, ``diff_has`` what the diff of a
drift must hold, and
``expect`` what :func:`tac_bootstrap.sync.check` (the library function ``sync-check`` runs) does:

- ``refused``: the check stops with one ``error:`` (exit 2); ``refused_by`` says which guard:
  ``sized`` (an operation sized before it runs), ``memory`` (the render's memory budget),
  ``time`` (the render time limit), ``sandbox`` (an unsafe attribute), ``recursion``,
  ``not-unicode``, ``undefined``, ``syntax``, ``include`` or ``error`` (the template's own
  code failed: a TypeError, ...).
- ``problem``: the template renders, and the check reports drift against the BASE (exit 1);
  the diff must show none of Python's objects (``<class '``, ``__globals__``, ...) nor the
  secret. ``why`` says why that is harmless.
- ``passes``: a legitimate template; the BASE holds what Jinja2's own sandbox renders of it,
  and the check finds nothing.

The cases come from a generator that ran each through the installed ``tac-bootstrap`` (every
filter, test and ``str``/``bytes``/``list``/``dict`` method of the sandbox with large, wide,
astral, whitespace and ``<`` strings and a list of 200 references to a 60 MB string; operators,
loops, globals and recursion; sandbox escapes; include/import/extends names; legitimate
templates), plus the cases of tests/test_bounded.py without the ``do`` extension (which the
check does not enable) and every case a fix was made for (ids ``fixed-*``). Sampled from the
generated cases (832 template texts): every escape, include and legitimate case; of the
operator, filter, test and method cases, every one that took under 0.1 s in one process, and
of those that took 0.1 s to 1 s one per group, outcome and guard. Left out: cases that took
more than 1 s (Python-level loops such as ``min`` of 30 million characters, which run into the
30 s render time limit: too slow here, and bounded by that limit) and cases whose render took
more than 400 MB; the include of a 70 MB template. Added: ``inc-self-link``. One case
(``fixed-3``, first in the file, so that the worker holds little else then) reaches the 768 MiB
memory budget on purpose; every other case takes at most about 150 MB more than the process
held.

A second, wider set (566 cases run through the installed ``tac-bootstrap sync-check`` and
``sync``: 455 hostile, 111 legitimate) went elsewhere: ``~`` and joined output inside every
construct (macros, ``caller()``, ``{% filter %}``, ``{% set %}`` blocks, ``{% call %}``,
recursive loops, ``{% with %}``, blocks, ``self.b()``, ``super()`` along ``{% extends %}``
chains, ``{% autoescape %}``, whitespace control), the tags of extensions the check does not
enable (``trans``, ``do``, ``break``, ``debug``), comparisons and hashes of lists and tuples held
many times (every operator, test, filter and method that compares or hashes), ``round``, C-level
arithmetic, includes of odd names (braces, newlines, full-width dots, ``%2e``, backslashes, a
drive, ``.git``, 300 folders deep), control characters and workflow commands in a rendered text,
the render memory budget and time limit, manifest names and collisions, and the three report
formats; and legitimate templates using each construct. Sampled from it: 168 lines (93
refused, 19 problems, 56 legitimate), the fixes ``fixed-cmp-*`` (the two ``isdisjoint`` ones
written after it) and ``fixed-round-*``, the others ``wide-*``; left out: cases through a
manifest of their own, the report formats, cases over 0.35 s in one process (``~`` doubling in
most constructs, ``super()`` doubled along 20 templates, a 2^20-bit division) and the memory
and time limits.

A third set took the kinds already known (this corpus, the template and path cases of
tests/test_hostile*.py and tests/test_confine.py) and widened them mechanically, each case run
through the installed ``tac-bootstrap`` (``sync-check`` in the three formats, ``sync``, ``sync
--dry-run``, ``sync --from base``): every corpus case as it is, moved into an include, an include
8 deep, an import, a macro, a ``{% call %}``, a ``{% set %}`` block, a ``{% filter %}``, a child
template's block, an ``if``, first or last beside another include; respelt (whitespace control,
comments, CRLF, a BOM, UTF-16, UTF-32 and cp1252 bytes); moved to the BASE side; combined two and
three at a time; scaled to 10, 100 and 500 pairs; symlinks (outside, absolute, ``.git``, ``/etc``,
``/dev/zero``, ``/proc``, dangling, looping, inside) and FIFOs or folders in the place of the
template, a partial, the BASE, its folder, the templates folder and ``pyproject.toml``; 24
include names through 10 include, import, extends and computed forms. Sampled from it (one
line per wrapper, outcome and guard; three per wrapper of the legitimate ones; the include
names and combinations at random): 138 lines (77 refused, 17 problems, 44 legitimate), ids
``wide17-*``, with the outcome the check gives now; left out: cases over 6 s or 250 MB, those
through a manifest of their own, a symlink or bytes that are not UTF-8, and the legitimate
CRLF ones (this test renders a BASE with LF line ends).

A fourth set enumerated the paths through symlinks that stay inside the root (a file linked
to a file, chains of two and three, absolute and ``..`` spellings, links to a missing file, to
itself, to each other, to a folder, to a FIFO, to a file named as a folder; a folder linked to
a folder, to the templates folder, to the root, to itself), at the BASE, the template, a
partial, ``pyproject.toml`` and their folders, each through ``sync-check`` (text, JSON,
``--no-cache``), ``sync``, ``sync --dry-run`` and ``sync --from base`` with the installed
``tac-bootstrap``. Of those the check itself reads, 13 lines (4 legitimate, 9 refused), ids
``neigh18-*``: an include through each kind of link inside the templates folder; one of them
(``neigh18-inc-link-trailing-slash``) named a file that does not exist before its fix. With it
ran the third set again on new seeds (another wrapper for every case, combinations of two,
three and four cases drawn with seed 18) and a new axis (the pair's template a link to its real
file elsewhere in the templates folder, which must give the unlinked outcome): sampled from its
``sync-check`` runs, one line per wrapper or combination size, outcome and guard (two of the
legitimate ones), under 6 s and 250 MB: 46 lines (33 refused, 5 problems, 8 legitimate), ids
``wide18-*``.

A fifth set re-ran the fourth (888 cases) and widened the writers and the names: every writer
(``sync``, ``sync --from base``, ``update`` and its backups, ``init --force``, ``migration new``)
against each link shape, and an error in a template reached through a link (a file link, a chain,
a linked folder; included, extended, imported) through ``sync-check`` in the three formats. Of
those the check itself reads, 12 lines, ids ``neigh19-*``: an error in a linked template, named
as the including template names it (``error_has``: what the error must hold); before their fix
each named the file the link leads to. With it ran the third set again on seed 19 (another
wrapper and command for every case, combinations of two, three and four cases) and two new axes
(the pair's template folder a link to a real folder inside the templates folder; the template a
chain of two links), 3,686 cases, each outcome the unlinked one's: sampled from its ``sync-check``
runs, one line per wrapper or combination size, outcome and guard (two of the legitimate ones),
under 6 s and 250 MB, no CRLF: 50 lines (32 refused, 7 problems, 11 legitimate), ids
``wide19-*``.

A sixth set ran the third again on seed 20 (another wrapper and command rotation for every
case, combinations of two, three and four cases drawn with seed 20) and two new axes (the pair's
template folder an absolute link to a real folder inside the templates folder; the template a
link whose target passes through ``sub/..``), 2,748 cases, with 300 of the fifth set's again,
each outcome the unlinked one's: nothing new. Sampled from its ``sync-check`` runs as the fifth:
50 lines (31 refused, 9 problems, 10 legitimate), ids ``wide20-*``. Its neighbours (links at the
migrations, the manifest, the answers file and update's own folder) are not template texts:
their tests are in tests/test_chain.py, tests/test_update.py and tests/test_init_safety.py.

A seventh set ran the third again on seed 21 (another wrapper and command rotation for every
case, the five link axes of the earlier sets rotated over the cases, combinations of two, three
and four cases drawn with seed 21), 2,848 cases, with 300 of the sixth set's again, each outcome
the unlinked one's: nothing new. Sampled from its ``sync-check`` runs as the fifth: 50 lines (34
refused, 8 problems, 8 legitimate), ids ``wide21-*``. The kinds found beside it (links changed
while ``init --force``, ``update``, ``sync`` and ``migration new`` write; update's own folder a
loop) are not template texts: their tests are in tests/test_init_safety.py,
tests/test_update.py, tests/test_hostile.py and tests/test_newmigration.py.

An eighth set ran the third again on seed 22 (another wrapper and command rotation for every
case, two more wrappers, ``{% with %}`` and ``{% if false %}…{% else %}``, six link axes over the
cases, the sixth the templates folder itself a link to a real folder inside the root,
combinations of two, three and four cases drawn with seed 22), 2,948 cases, each outcome the
unlinked one's: nothing new. Sampled from its ``sync-check`` runs as the fifth: 50 lines (31
refused, 8 problems, 11 legitimate), ids ``wide22-*``. The kinds found beside it (a folder
swapped for a link in the moment before a rename, a removal or a link; a link out of the
project made while ``update`` writes) are not template texts: their tests are in
tests/test_confine.py and tests/test_update.py.

A ninth set (seed 23) ran every case of this corpus under one new wrapper and the legitimate
ones under two (``{% for %}`` over one item, ``{% elif %}``, ``{% autoescape false %}``, a macro
with a default argument, a ``{% block %}``, an include ``with context``, an include list whose
first name is missing, ``ignore missing``, ``{% from … import … with context %}``, ``{%+``
tags, tab-spaced tags, a ``{% set %}`` block), then three more wrappers each, combinations of
two, three and four cases, 44 include names (a NUL, a newline, a trailing ``/`` or ``/.``,
``%2e``, full-width and one-dot-leader dots, ``file://``, ``~``, ``$HOME``, ``//``, ``/proc``,
bidirectional and zero-width characters, 50 ``../orch`` hops, links to the root, out of it
and inside the folder) through eight include, import, extends and computed forms, and 17
encodings of an included, extended, imported or partial template (BOM, double BOM, UTF-16 and
UTF-32 with and without a mark, CESU-8, overlong and five-byte sequences, lone surrogates, a
lone CR, NULs, a cut sequence, Latin-1 after a megabyte): 6,062 cases in one process, each
outcome the unwrapped one's (combinations: the first refusal's guard), and 180 of them through
the installed ``tac-bootstrap`` (``sync-check`` in three formats, ``sync``, ``sync --dry-run``,
``sync --from base``). One new kind: an include name holding a NUL was refused as the
template's own ``ValueError``, with ``ignore missing`` too (ids ``r23/incname-nul-*``, now a
missing template). Sampled from the rest, one per wrapper, outcome and guard at random: 69
lines, ids ``r23/*``.

A tenth set (seed 24) ran every case of this corpus (the ninth set's lines too) under two
(legitimate: three) new wrappers at random (a ``{% call %}`` block with and without an argument
and in a loop of the macro, a ``{% filter %}`` block, a namespace set in a loop, a recursive
loop, ``{% with %}``, ``loop.first``, ``{% import … as … with context %}``, an include inside a
macro, an include two deep, whitespace control, a child's block, ``super()``, a ``{% set %}``
block in a loop) and under a nested pair, combinations of two, three and five cases with four
separators, 42 include names (a ``%2f``, ``;``, ``//``, full-width letters and solidus, CR and
tab, NFC and NFD spellings, a drive and a UNC name, a 300-character name, a 4,200-character
path, ``/proc/self/cwd``, ``/dev/zero``, ``/dev/stdin``, links inside the folder to a FIFO,
``/dev/zero``, itself, nothing, ``/etc/passwd``, ``.git/config``, ``/proc/self/environ``) in
eleven forms, and 18 encodings (GB18030, Shift-JIS, UTF-7, C1 controls, a noncharacter, a BOM
inside, UTF-16 without a mark, a bad byte after a megabyte, a cut or over-range sequence, a
lone low surrogate, mixed line ends, only NULs, empty, only a BOM) in six places: 5,243 cases in
one process. One new kind: a name longer than the system allows was refused as the template's
own ``OSError`` (File name too long), ``ignore missing`` and an include list's next name not
tried (ids ``r24/incname-long-*``, and ``inc-long``, ``inc-long-path``: now a missing
template). Sampled from the rest: 60 lines, ids ``r24-`` made ``r24/*``.

An eleventh set (seed 25) ran every case of this corpus under two (legitimate: three) new
wrappers at random (``{% for %}…{% else %}`` over nothing, ``loop.cycle``, ``loop.changed``,
``loop.previtem``, a macro taking ``varargs`` and ``kwargs``, a ``{% call %}`` chain through two
macros, a chained ``{% filter %}``, a ``{% block %}`` of its own, a ``scoped`` block in a loop, a
conditional ``{% extends %}``, ``{% from … import %}`` inside a macro, ``{% autoescape true %}``,
``{% raw %}`` beside it, a recursive macro, 64 KB of text before and after it, an include at
``loop.index``, an ``{% extends %}`` chain of three) and six in ten of them under a triple
nesting; combinations of four and seven cases with four new separators; a hostile case between
two legitimate ones; 38 include names (``?``, ``#``, glob characters, ``..;``, ``%00``, spaces
around, a trailing ``/`` and ``/.``, a backslash, upper case, bidirectional and zero-width
characters, ``file://``, ``~root``, ``/proc/1``, ``/sys``, ``/dev/fd/0``, ``/dev/tty``, links to a
socket, a folder, ``.tac-bootstrap``, ``..``, a chain of three out, ``.``, the empty name, a lone
surrogate, 130 two-byte characters, 400 ``../orch`` hops) in eleven new forms; include lists of
100,000 to 10 million names; and 15 encodings (Big5, KOI8-R, EBCDIC, UTF-32 without a mark, Mac
Roman, a NUL inside, CR line ends, a BOM before a tag, a bad byte in an expression, an overlong
``/``, a CESU-8 pair, ANSI escapes) in six new places: 4,774 cases in one process. Two new kinds:
a template nested too deeply for Python to compile, reached through an include, import or
extends, was named as the line that reached it (ids ``r25/nest-in-*``), and an include name
holding a lone surrogate was refused as the template's own ``UnicodeEncodeError`` (ids
``r25/incname-surrogate-*``, now a missing template). Sampled from the rest, one per wrapper,
family, outcome at random: 64 lines, ids ``r25/*``.

A twelfth set ran the eleventh again on seed 26 (5,003 cases in one process, 140 of them
through the installed ``tac-bootstrap``): nothing new. Beside it, twelve new wrappers (tuple
unpacking in a loop, a namespace filled in a loop, ``self.block()``, ``caller(…)`` with
arguments, ``{% filter indent %}``, a ``{% set %}`` block through a filter, an include ``with
context`` in ``{% with %}``, an include in a loop in a macro, inline ``if``, ``loop.depth``,
``not … and (… or …)``, two includes) and nestings of two, 43 include names (a trailing ``/``,
``/.``, ``//``, ``/..`` or ``/x`` after a file, links to a file or a folder with a trailing
``/``, a NUL or lone surrogate in a segment, names of 256 to 3,000,000 characters and of
300,000 folders, ``./`` 300,000 times, ``.git//config``) in nine forms, 23 include lists (at and
past 1,000 names and 1 MiB, generators, a dict, a cycler, a namespace, ``none`` and numbers in
the list, the empty list), and 14 encodings in six places: 2,668 cases. New kinds: a name with
a trailing ``/`` after a file was "Not a directory" where Jinja2's own loader includes the
file (ids ``r26/incname-slash-*``; the corpus lines ``r23/incname-2-incvar`` and
``wide17-incname-19-7`` now drifts), include lists ran into the time limit (``r26/inclist-*``,
now sized first), a name of 300,000 folders ran into the time limit, and a long name made an
error line as long (``r26/incname-many-*``, ``r26/incname-long-*``).
Later sets ran these again on seeds 27 and 28 (about 9,000 cases in one process each), and
widened the include names: values that are no text in every form (ids ``r27/incname-*``,
``r27/x-*``; ``none``, ``0`` and ``false``, which Jinja2 takes for an empty list of names, are
said to be what they are: ``r28/incnone-*``), and names built by filters and operators (``~``,
``|join``, ``|replace``, ``|reverse``, ``'../' * n``), with ``..`` that comes back inside once
normalised, lookalike dots and another case of a name (``r28/x-fn-*``).
To add a case: append a line with a new ``id``, the ``kind`` of input, the template, the
``expect`` ``sync-check`` gives on the current code, and ``why`` (and ``error_has``, for a
refused one, what its message must hold).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from tac_bootstrap.errors import TacBootstrapError
from tac_bootstrap.render import _erdiagram, _toml_string
from tac_bootstrap.sync import check

CORPUS = Path(__file__).parent / "corpus" / "templates.jsonl"
CASES: list[dict[str, Any]] = [
    json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line
]
MANIFEST = """\
[project]
name = "corpus"

[tool.tac-bootstrap.sync]
templates = "templates"
base_globs = ["pkg/*"]
template_globs = ["orch/plain.txt.j2"]

[tool.tac-bootstrap.sync.context]
package = "pkg.orch"
greeting = "hello"

[[tool.tac-bootstrap.sync.pairs]]
base = "pkg/plain.txt"
template = "orch/plain.txt.j2"
"""
CONTEXT = {"package": "pkg.orch", "greeting": "hello"}
HEADER = '"""Generated for {{ package }}."""\n'
MARKER = "TOP SECRET 7d1f\n"  # in files no template may read
SHOWN = (
    "TOP SECRET",
    "<class '",
    "__builtins__",
    "<module '",
    "<function ",
    "__globals__",
    "gi_frame",
    "<frame ",
    "<code object",
    "<bound method",
    "<built-in",
)


def refused_by(message: str) -> str:
    """Name the guard that refused a template, from the check's error message."""
    for guard, marks in (
        ("sized", ("would make", "would walk", "would compare", "would try")),
        ("memory", ("MiB a template may use",)),
        ("time", ("did not finish rendering",)),
        ("sandbox", ("is unsafe",)),
        ("recursion", ("recursion too deep",)),
        ("not-unicode", ("renders text that is not Unicode", "not UTF-8")),
        ("include", ("includes ", "outside", "is not a regular file")),
        ("undefined", ("undefined", "has no attribute")),
        ("syntax", ("expected token", "unexpected", "Encountered unknown tag")),
    ):
        if any(mark in message for mark in marks):
            return guard
    return "error"


def _repo(top: Path, case: dict[str, Any]) -> Path:
    root = top / "repo"
    (top / "secret.txt").write_text(MARKER)  # outside the root: no template may read it
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text(f"[core]\n\ttoken = {MARKER}")
    (root / "templates" / "orch").mkdir(parents=True)
    (root / "templates" / "partials").mkdir()
    (root / "templates" / "partials" / "header.j2").write_text(HEADER)
    (root / "pkg").mkdir()
    (root / "pyproject.toml").write_text(MANIFEST)
    (root / "templates" / "orch" / "plain.txt.j2").write_text(
        case["input"], encoding="utf-8", errors="surrogatepass"
    )
    for name, content in case.get("files", {}).items():
        path = root / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        elif "symlink" in content:
            path.symlink_to(content["symlink"])
        elif "fifo" in content:
            if not hasattr(os, "mkfifo"):
                pytest.skip("no FIFOs here")
            os.mkfifo(path)
        else:
            path.write_bytes(bytes.fromhex(content["bytes_hex"]))
    return root


def _jinja2s_own(root: Path, template: str) -> str:
    """Render ``template`` as Jinja2's own sandbox does, with the check's settings."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(root / "templates")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["toml"] = _toml_string
    env.filters["erdiagram"] = _erdiagram
    return env.from_string(template).render(CONTEXT)


def test_the_corpus_is_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))
    for case in CASES:
        assert case["expect"] in {"refused", "problem", "passes"}, case["id"]
        assert case["why"], case["id"]
        assert (case["expect"] == "passes") == (case["kind"] == "legit"), case["id"]
        assert ("refused_by" in case) == (case["expect"] == "refused"), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_sync_check_does_what_the_corpus_expects(tmp_path: Path, case: dict[str, Any]) -> None:
    root = _repo(tmp_path, case)
    named = f"case {case['id']}: {case['input'][:300]!r}"
    base = root / "pkg" / "plain.txt"
    if case["expect"] == "passes":
        base.write_text(_jinja2s_own(root, case["input"]), encoding="utf-8", newline="")
    else:
        base.write_text(case.get("base", "Plain text: no Jinja logic here.\n"), newline="")
    try:
        report = check(root)
    except TacBootstrapError as exc:
        message = str(exc)
        assert case["expect"] == "refused", f"{named}: refused, {message[:300]}"
        assert refused_by(message) == case["refused_by"], f"{named}: {message[:300]}"
        assert "\n" not in message.strip(), f"{named}: not one line: {message[:300]}"
        assert case.get("error_has", "") in message, f"{named}: {message[:300]}"
        return
    assert case["expect"] != "refused", f"{named}: not refused ({len(report.problems)} problems)"
    if case["expect"] == "passes":
        assert report.problems == [], f"{named}: {report.problems[0].message}"
        return
    kinds = [(p.kind, p.path) for p in report.problems]
    assert kinds == [("drift", "pkg/plain.txt")], f"{named}: {kinds}"
    diff = report.problems[0].diff
    assert case.get("diff_has", "") in diff, f"{named}: the diff is {diff[:300]!r}"
    shown = [mark for mark in SHOWN if mark in diff]
    assert not shown, f"{named}: the diff shows {shown}"
