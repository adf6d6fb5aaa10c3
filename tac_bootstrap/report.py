"""What ``sync-check`` found, and the three ways to show it: text, JSON and GitHub annotations.

The JSON report is documented in the README (every key, every kind); ``JSON_VERSION`` changes
whenever a key changes meaning or goes away.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
from dataclasses import asdict, dataclass, field

from tac_bootstrap import __version__

JSON_VERSION = 1
#: A GitHub annotation shows at most this many lines of a diff; the step summary has it all.
ANNOTATION_DIFF_LINES = 40
MAX_DIFF_LINES = 10_000  # a longer text that differs gets a note, not a diff
# difflib's time grows with the product of the lines that differ: 9,999 lines of which every
# other one differs took 5.7 s of CPU (40 s under load); 5,000 by 5,000 take about 1.3 s.
MAX_DIFF_WORK = 5_000 * 5_000
ANNOTATION_LINE_CHARS = 300
ANNOTATION_MESSAGE_CHARS = 2000  # of a message: the checked modules' names can be megabytes
#: A text report line: a word (a name, a path, a value) past TEXT_WORD_CHARS keeps its two ends
#: around "…(N characters)…", a line past TEXT_LINE_CHARS too (a 1 MB name was a 1 MB line).
TEXT_WORD_CHARS = 1000
TEXT_LINE_CHARS = 10_000
#: The JSON report: a message or a line of a diff past TEXT_LINE_CHARS is cut as the text
#: report cuts it, a diff past JSON_DIFF_CHARS ends at a line there, and once the diffs shown
#: hold JSON_DIFFS_CHARS the others are left out; each problem cut says so (``truncated``).
#: A BASE rendered as 60 million NULs made a 360 MB document.
JSON_DIFF_CHARS = 1_000_000
JSON_DIFFS_CHARS = 10_000_000
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
#: Bytes of the step summary: GitHub takes at most 1 MiB from a step, and drops it whole past that.
SUMMARY_BYTES = 1_000_000


@dataclass(frozen=True)
class Problem:
    """One thing a person must fix.

    Attributes:
        kind: Short category, e.g. ``base-drift``, ``orphan-base``, ``schema``.
        path: File the problem is in, relative to the root, with ``/``.
        line: 1-based line in ``path`` when one can be named.
        message: What is wrong and what to do about it.
        diff: A unified diff that shows the difference, when there is one.
        changed: For a ``drift``, which side changed since the last clean check
            (``base``, ``template`` or ``context``), when the check cache knows; else None.
        template: For a ``drift``, the template (relative to the root) that renders ``path``.
    """

    kind: str
    path: str
    line: int | None
    message: str
    diff: str = ""
    changed: str | None = None
    template: str | None = None


@dataclass
class SyncReport:
    """The outcome of one ``sync-check``: what was checked and every problem found."""

    root: str
    problems: list[Problem] = field(default_factory=list)
    checked: int = 0
    skipped: int = 0
    #: Reported but not failing: a generated project's edits and template changes.
    notes: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether nothing drifted or disagreed."""
        return not self.problems

    def summary(self) -> str:
        """Return one status line: how many checks ran, were skipped, failed."""
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        cached = f", {self.skipped} unchanged since the last clean check" if self.skipped else ""
        notes = f", {len(self.notes)} note(s) (--strict fails on them)" if self.notes else ""
        return f"sync-check: {self.checked} check(s){cached}: {verdict}{notes}"

    def render(self, fmt: str) -> str:
        """Render the report as ``text``, ``json`` or ``github``."""
        if fmt == "json":
            return self.render_json()
        if fmt == "github":
            return self.render_github()
        return no_workflow_commands(self.render_text())

    def render_text(self) -> str:
        """Render each problem as ``path:line: message`` followed by its diff.

        Long words and lines are cut (:func:`text_line`); ``--format json`` has them whole.
        """
        parts = []
        for p in self.problems:
            where = f"{p.path}:{p.line}" if p.line else p.path
            parts.append(text_line(f"{where}: {p.kind}: {p.message}") + f"\n{text_diff(p.diff)}")
        for p in self.notes:
            where = f"{p.path}:{p.line}" if p.line else p.path
            line = text_line(f"{where}: note: {p.kind}: {p.message}")
            parts.append(line + f"\n{text_diff(p.diff)}")
        return "".join(parts)

    def render_json(self) -> str:
        """Render the report as one JSON object (the README documents every key).

        Its size is bounded: see :data:`JSON_DIFF_CHARS` and :func:`_json_problem`.
        """
        left = [JSON_DIFFS_CHARS]  # characters of diffs the document may still hold
        data = {
            **json_header(),
            "root": self.root,
            "ok": self.ok,
            "checked": self.checked,
            "skipped": self.skipped,
            "problems": [_json_problem(p, left) for p in self.problems],
            "notes": [_json_problem(p, left) for p in self.notes],
        }
        return json.dumps(data, indent=2) + "\n"

    def render_github(self) -> str:
        """Render GitHub Actions ``::error file=…,line=…::`` workflow commands.

        Each problem is annotated on the file that changed: a drift whose template changed on
        the template, one whose BASE changed on the BASE, and one whose history is unknown on
        both. A diff is cut to :data:`ANNOTATION_DIFF_LINES` lines of at most
        :data:`ANNOTATION_LINE_CHARS` characters; :meth:`step_summary` has it whole.
        """
        lines = []
        for level, found in (("error", self.problems), ("notice", self.notes)):
            for p in found:
                body = printable(p.message)
                body += "\n" + _shorten(p.diff) if p.diff else ""
                title = "sync-check " + p.kind
                for path, line in _annotated_files(p):
                    lines.append(annotation(title, body, path, line, level=level))
        return "".join(lines)

    def step_summary(self) -> str:
        """Render every problem with its full diff as Markdown, for ``$GITHUB_STEP_SUMMARY``."""
        if self.ok and not self.notes:
            return f"### sync-check: ok ({self.checked} check(s))\n"
        parts = [f"### sync-check: {len(self.problems)} problem(s), {len(self.notes)} note(s)\n"]
        left = SUMMARY_BYTES - 300  # room for the line saying what was left out
        found = self.problems + self.notes
        for shown, p in enumerate(found):
            where = f"{p.path}:{p.line}" if p.line else p.path
            note = "note: " if p in self.notes else ""
            message = markdown_text(p.message)
            part = f"\n**{note}{p.kind}** {markdown_code(where)}: {message}\n"
            if len(p.diff) > left:  # escaped, it is no shorter: too long for what is left
                left = -1
            elif p.diff:
                # Longer than any run of backticks in the diff: no line of it can close the fence.
                diff = printable_diff(p.diff)
                fence = "`" * max(3, 1 + max(map(len, re.findall("`+", diff)), default=0))
                part += f"\n{fence}diff\n{diff}{fence}\n"
            left -= len(part.encode("utf-8", "backslashreplace"))
            if left < 0:
                parts.append(
                    f"\n*{len(found) - shown} more problem(s) and note(s) not shown: a step "
                    "summary holds at most 1 MiB: run `tac-bootstrap sync-check` to see every "
                    "one.*\n"
                )
                break
            parts.append(part)
        return "".join(parts)


def _json_problem(problem: Problem, left: list[int]) -> dict[str, object]:
    """Return a problem as the JSON report shows it: long lines cut, its diff bounded.

    ``left[0]`` is what the document's diffs may still hold, lowered by this diff's length.
    """
    data: dict[str, object] = asdict(problem)
    message = cut(problem.message, TEXT_LINE_CHARS)
    diff, diff_cut = json_diff(problem.diff, left)
    data.update(message=message, diff=diff, truncated=diff_cut or message != problem.message)
    return data


def json_diff(diff: str, left: list[int]) -> tuple[str, bool]:
    """Return a diff as a JSON document shows it, and whether it was cut.

    Its long lines are cut, and it ends within :data:`JSON_DIFF_CHARS` and ``left[0]`` (what
    the document's diffs may still hold, :data:`JSON_DIFFS_CHARS` at first), which its
    length lowers: ``sync-check``'s and ``update``'s JSON share the rule.
    """
    shown, was_cut = _json_diff(diff, min(JSON_DIFF_CHARS, left[0]))
    left[0] -= len(shown)
    return shown, was_cut


def _json_diff(diff: str, most: int) -> tuple[str, bool]:
    """Return ``diff`` with its long lines cut, ending before ``most``; and whether it was cut.

    A line is cut as the text report cuts it (its two ends around ``…(N characters)…``, its
    characters as they are); the diff ends at the last whole line within ``most`` characters.
    """
    lines, total, was_cut = [], 0, False
    for line in diff.split("\n"):
        shown = cut(line, TEXT_LINE_CHARS)
        if total + len(shown) + 1 > most and line:
            was_cut = True
            break
        was_cut = was_cut or shown is not line
        lines.append(shown)
        total += len(shown) + 1
    else:
        return "\n".join(lines), was_cut
    return "".join(line + "\n" for line in lines), was_cut


def markdown_code(text: str) -> str:
    """Show a one-line text (a path of the checked tree) as Markdown inline code, verbatim.

    The delimiter is one backtick longer than any run of them in the text, so a path holding
    backticks cannot end the span early and have the rest read as Markdown.
    """
    text = printable(text)
    ticks = "`" * (1 + max(map(len, re.findall("`+", text)), default=0))
    return f"{ticks} {text} {ticks}"


def markdown_text(text: str) -> str:
    """Show a one-line message (it may quote paths of the checked tree) as plain Markdown text.

    Its control characters are escaped (a newline would start a heading or a fence of its own),
    and so is every character that Markdown or HTML reads as markup inside a line.
    """
    return re.sub(r"([\\`*_\[\]<>#!|~&])", r"\\\1", printable(text))


_LONG_WORD = re.compile(rf"\S{{{TEXT_WORD_CHARS + 1},}}")


def text_line(line: str) -> str:
    """Return a one-line text as the text report shows it: printable, its long words cut.

    A word (a run without spaces: a name, a path, a value) of more than
    :data:`TEXT_WORD_CHARS` characters, and then a line of more than :data:`TEXT_LINE_CHARS`,
    keeps its two ends around ``…(N characters)…``: enough to find it, not megabytes of it.
    """
    shown = _LONG_WORD.sub(lambda m: cut(m.group(), TEXT_WORD_CHARS), printable(line))
    return cut(shown, TEXT_LINE_CHARS)


def short_line(line: str) -> str:
    """Return a one-line text with its long words and then itself cut, as :func:`text_line`.

    Nothing is escaped: for a format that escapes what it holds (the JSON report's ``error``).
    """
    return cut(_LONG_WORD.sub(lambda m: cut(m.group(), TEXT_WORD_CHARS), line), TEXT_LINE_CHARS)


def cut(text: str, most: int) -> str:
    """Return ``text`` if it has at most ``most`` characters, else its two ends and its length."""
    if len(text) <= most:
        return text
    half = most // 2 - 12
    return f"{text[:half]}…({len(text):,} characters)…{text[-half:]}"


def text_diff(diff: str) -> str:
    """Cut the lines of a diff longer than :data:`TEXT_LINE_CHARS`, as :func:`text_line` does.

    A line is cut before its control characters are escaped: escaping a rendered line of 60
    million NULs one character at a time took over a minute and 4 GB.
    """
    return "\n".join(map(_text_diff_line, diff.split("\n")))


def _text_diff_line(line: str) -> str:
    """Show one line of a diff (without its LF) printable, cut to :data:`TEXT_LINE_CHARS`."""
    if len(line) <= TEXT_LINE_CHARS:
        return cut(printable_diff(line + "\n")[:-1], TEXT_LINE_CHARS)
    # Escaping makes no character shorter: the line is too long. Its two ends escaped only
    # depend on as many characters of it (a CR at its end came before its LF).
    half = TEXT_LINE_CHARS // 2 - 12
    head = printable_diff(line[:half])[:half]
    tail = printable_diff(line[-half:] + "\n")[:-1][-half:]
    return f"{head}…({_escaped_length(line):,} characters)…{tail}"


def _escaped_length(line: str) -> int:
    """Return the length of a diff line (without its LF) as :func:`printable_diff` shows it."""
    table = _escapes(line, "\t")
    grown = sum((len(shown) - 1) * line.count(chr(code)) for code, shown in table.items())
    return len(line) + grown - line.endswith("\r")  # the CR of its CR LF stays as it is


def printable(line: str) -> str:
    """Show the control characters of a one-line text (a path, a message) as escapes.

    Paths and messages come from the checked repository: a raw newline in one would start a
    line of its own, which GitHub Actions runs as a workflow command if it begins with
    ``::``, and an escape sequence would drive the reader's terminal.
    """
    if line.isprintable():
        return line
    return line.translate(_escapes(line))


def _escapes(text: str, keep: str = "") -> dict[int, str]:
    """Return the escapes of the characters of ``text`` that are not printable, but ``keep``.

    Built from the characters the text holds, for :meth:`str.translate`: escaping a text of
    60 million characters one at a time in Python took over a minute.
    """
    return {ord(c): repr(c)[1:-1] for c in set(text) if not c.isprintable() and c not in keep}


def left_out_diff(old_name: str, new_name: str, note: str) -> str:
    """Return the two header lines of a diff of ``old_name`` and ``new_name``, then ``note``.

    What ``sync-check``, ``sync`` and ``update`` show in place of a diff they leave out.
    """
    return f"--- {printable(old_name)}\n+++ {printable(new_name)}\n{note}"


def printable_diff(diff: str) -> str:
    r"""Show the control characters of a diff's lines as escapes, as :func:`printable` does.

    A BASE file's or template's bytes reach the reader's terminal in a diff: an escape
    sequence (ESC, C1 controls) would drive it, a carriage return hide what the line held, and
    a bidirectional override (U+202E) show its characters in another order than they are read.
    Tabs, the newlines that end the lines and a carriage return before one (``\r\n``) stay
    as they are.
    """
    if diff.replace("\r\n", "").replace("\n", "").replace("\t", "").isprintable():
        return diff
    table = _escapes(diff, "\t\n")
    return "\r\n".join(part.translate(table) for part in diff.split("\r\n"))


def no_workflow_commands(text: str) -> str:
    """Keep lines of a text report from being run as GitHub Actions workflow commands.

    The runner takes any stdout line that starts (after spaces) with ``::`` as a command, and
    a diff's context line is a space and a line of the checked repository: ``::error::…`` in
    a BASE file would become an annotation. Under GitHub Actions, such a text is wrapped in
    ``::stop-commands::`` with a token of this run, GitHub's own way to print untrusted text.
    """
    if os.environ.get("GITHUB_ACTIONS") != "true" or not any(
        line.lstrip().startswith("::") for line in text.splitlines()
    ):
        return text
    import secrets

    token = secrets.token_hex(16)
    end = "" if text.endswith("\n") else "\n"
    return f"::stop-commands::{token}\n{text}{end}::{token}::\n"


def json_header() -> dict[str, object]:
    """Return the keys every JSON document starts with: its format and the writer's version."""
    return {"version": JSON_VERSION, "tac_bootstrap": __version__}


def error_json(message: str) -> str:
    """Render a check that could not run (exit 2) as the JSON report's error form."""
    shown = short_line(message)  # a value of megabytes in it stays two short ends
    return json.dumps({**json_header(), "ok": False, "error": shown}, indent=2) + "\n"


def lost_report_line(fmt: str, exc: OSError) -> str:
    """Return the line saying that an exit-2 error's report (``json``, ``github``) was lost.

    Said on stderr after the error's own line, when stdout refused the JSON document or the
    annotation (full, closed): the exit code stays 2, and a reader of stdout got nothing.
    """
    what = "JSON report" if fmt == "json" else "annotation"
    return f"error: the {what} of the error above could not be written: {exc.strerror or exc}\n"


def annotation(
    title: str,
    body: str,
    path: str | None = None,
    line: int | None = None,
    *,
    level: str = "error",
) -> str:
    """Return one ``::error`` (or ``::notice``) workflow command, with file and line if known.

    A line of ``body`` longer than :data:`ANNOTATION_MESSAGE_CHARS` is cut.
    """
    # A name's other control characters as escapes (``\x1b``), as the text report shows them:
    # a raw escape sequence of a property reached the reader's terminal.
    props = f"file={printable(_escape_property(utf8(path)))}," if path else ""
    if path and line:
        props += f"line={line},"
    props += f"title={_escape_property(utf8(title))}"
    most = ANNOTATION_MESSAGE_CHARS
    body = "\n".join(s if len(s) <= most else s[:most] + " [...]" for s in body.split("\n"))
    return f"::{level} {props}::{_escape_data(utf8(body))}\n"


_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8(text: str) -> str:
    r"""Return ``text`` as text that encodes to UTF-8, for output read as UTF-8.

    A file name that is not UTF-8 reaches Python as surrogate escapes (``\udcff`` for the
    byte 0xff), which stdout would write back as the raw byte: each such byte is shown as
    ``\xff`` instead (any other lone surrogate as ``\ud800``).
    """
    return _SURROGATE.sub(_escaped_surrogate, text)


def _escaped_surrogate(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def write_step_summary(markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it; ignore a failed write."""
    target = os.environ.get(SUMMARY_ENV)
    if not target:
        return
    from tac_bootstrap.entry import WholeOutput

    try:
        # A stop meanwhile ends the command after the summary, not in its middle (see
        # WholeOutput): the file holds the whole of it or none.
        with WholeOutput():
            # Without blocking: a FIFO in its place (no reader) would otherwise hang the check.
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666)
            try:
                _append_whole_or_none(fd, markdown)
            finally:
                os.close(fd)
    except OSError:
        return


def _append_whole_or_none(fd: int, markdown: str) -> None:
    """Append ``markdown`` to the open summary ``fd``; a file that refuses part keeps none.

    A full disk took the summary's first pages and refused the rest: the step summary ended
    in the middle of a diff, its code block open. A regular file is cut back to its size
    before the write (what earlier steps wrote stays); a FIFO's reader has what it read.

    Raises:
        OSError: The summary could not be written (whole).
    """
    before = os.fstat(fd)
    regular = stat.S_ISREG(before.st_mode)
    try:
        # A name that is not UTF-8 (bytes of the file system) is shown escaped.
        with open(fd, "a", encoding="utf-8", errors="backslashreplace", closefd=False) as file:
            # Then blocking, as stdout's pipe: a FIFO's reader gets the whole summary, not
            # the part its pipe had room for when the write came.
            os.set_blocking(fd, True)
            file.write(markdown)
    except OSError:
        if regular and os.fstat(fd).st_size > before.st_size:
            os.ftruncate(fd, before.st_size)
        raise


def _annotated_files(p: Problem) -> list[tuple[str, int | None]]:
    """Return where to annotate a problem: the file that changed, or both sides of a drift."""
    if p.kind != "drift" or p.template is None or p.changed == "base":
        return [(p.path, p.line)]
    if p.changed == "template":
        return [(p.template, None)]
    if p.changed == "context":
        return [("pyproject.toml", None)]
    return [(p.path, p.line), (p.template, None)]


def _shorten(diff: str) -> str:
    """Cut a diff for an annotation: so many lines, each so long, saying what was left out.

    The diff's lines are cut before their control characters are escaped (see
    :func:`printable_diff`): a line's first characters escaped depend only on as many of it.
    """
    lines = [line.removesuffix("\r") for line in diff.split("\n")]
    if lines and not lines[-1]:
        lines.pop()  # what follows the last LF
    kept, cut_any = [], False
    for line in lines[:ANNOTATION_DIFF_LINES]:
        shown = printable_diff(line[: ANNOTATION_LINE_CHARS + 1])
        cut = len(shown) > ANNOTATION_LINE_CHARS
        cut_any = cut_any or cut
        kept.append(shown[:ANNOTATION_LINE_CHARS] + " [...]" if cut else shown)
    if len(lines) > ANNOTATION_DIFF_LINES:
        kept.append(
            f"[... {len(lines) - ANNOTATION_DIFF_LINES} more diff lines in the job summary]"
        )
    elif cut_any:
        kept.append("[long lines cut: the full diff is in the job summary]")
    return "\n".join(kept) + "\n"


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """Return a unified diff of two texts, ending in a newline, empty when they are equal.

    Texts of more than :data:`MAX_DIFF_LINES` lines that differ get a one-line note instead:
    difflib's time grows with the product of the two lengths where every other line differs
    (20,000 such lines took 23 s), and no one reads a diff that long.
    """
    # Lines end at newlines only: splitlines() also ends one at a form feed, a lone carriage
    # return, U+2028 ..., and the diff said "No newline at end of file" in the middle.
    # Counted before they are split: 20 million short lines made 2 GB of strings.
    if max(_count_lines(old), _count_lines(new)) > MAX_DIFF_LINES and old != new:
        return (
            f"--- {printable(old_name)}\n+++ {printable(new_name)}\n"
            f"(not shown: more than {MAX_DIFF_LINES:,} lines; compare the files with a diff tool)\n"
        )
    before, after = _newline_lines(old), _newline_lines(new)
    differing = _differing_lines(before, after)
    if differing[0] * differing[1] > MAX_DIFF_WORK:
        return (
            f"--- {printable(old_name)}\n+++ {printable(new_name)}\n"
            f"(not shown: from the first difference to the last, {differing[0]:,} lines and "
            f"{differing[1]:,} lines, too many to compare; compare the files with a diff tool)\n"
        )
    # The names are paths of the checked tree: a newline in one must not start a line.
    lines = difflib.unified_diff(before, after, printable(old_name), printable(new_name))
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def _differing_lines(before: list[str], after: list[str]) -> tuple[int, int]:
    """Return how many lines of each text lie between their common first and last lines."""
    shortest = min(len(before), len(after))
    head = 0
    while head < shortest and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < shortest - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    return len(before) - head - tail, len(after) - head - tail


def _count_lines(text: str) -> int:
    """Return ``len(_newline_lines(text))`` without splitting it."""
    return text.count("\n") + (not text.endswith("\n") and text != "")


def _newline_lines(text: str) -> list[str]:
    """Split ``text`` into lines that end at each newline (kept); the last may lack one."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


# What str.splitlines() ends a line at (CR LF is one line end).
_LINE_ENDS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def first_difference(old: str, new: str) -> int:
    """Return the 1-based line of ``old`` where ``new`` first differs from it.

    Lines as :meth:`str.splitlines` ends them, counted without splitting the texts: 20
    million short lines made 2 GB of strings.
    """
    at = _first_unequal(old, new)
    ends = _line_ends(old, at)
    if old[at - 1 : at] == "\r" and "\n" in (old[at : at + 1], new[at : at + 1]):
        ends -= 1  # a CR before an LF in either text: the line that CR ends differs
    # Past the shorter text: point at the last line ``old`` has (a file has no line beyond it).
    lines = _line_ends(old, len(old)) + (not old.endswith(_LINE_ENDS) and old != "")
    return max(1, min(ends + 1, lines))


def _line_ends(text: str, end: int) -> int:
    """Return how many line ends (as str.splitlines() ends lines) ``text[:end]`` holds."""
    return sum(text.count(char, 0, end) for char in _LINE_ENDS) - text.count("\r\n", 0, end)


def _first_unequal(old: str, new: str) -> int:
    """Return the first index where the texts differ (the shorter one's length if none)."""
    shortest, step = min(len(old), len(new)), 1 << 16
    for start in range(0, shortest, step):
        stop = min(start + step, shortest)
        if old[start:stop] != new[start:stop]:
            return next(i for i in range(start, stop) if old[i] != new[i])
    return shortest


def _escape_data(text: str) -> str:
    """Escape a workflow command's message (GitHub's own rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """Escape a workflow command's property value."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
