"""What ``sync-check`` found, and the three ways to show it: text, JSON and GitHub annotations."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing a person must fix.

    Attributes:
        kind: Short category, e.g. ``base-drift``, ``orphan-base``, ``schema``.
        path: File the problem is in, relative to the root, with ``/``.
        line: 1-based line in ``path`` when one can be named.
        message: What is wrong and what to do about it.
        diff: A unified diff that shows the difference, when there is one.
    """

    kind: str
    path: str
    line: int | None
    message: str
    diff: str = ""


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
        return self.render_text()

    def render_text(self) -> str:
        """Render each problem as ``path:line: message`` followed by its diff."""
        parts = []
        for p in self.problems:
            where = f"{p.path}:{p.line}" if p.line else p.path
            parts.append(f"{where}: {p.kind}: {p.message}\n{p.diff}")
        for p in self.notes:
            where = f"{p.path}:{p.line}" if p.line else p.path
            parts.append(f"{where}: note: {p.kind}: {p.message}\n{p.diff}")
        return "".join(parts)

    def render_json(self) -> str:
        """Render the report as one JSON object."""
        data = {
            "root": self.root,
            "ok": self.ok,
            "checked": self.checked,
            "skipped": self.skipped,
            "problems": [asdict(p) for p in self.problems],
            "notes": [asdict(p) for p in self.notes],
        }
        return json.dumps(data, indent=2) + "\n"

    def render_github(self) -> str:
        """Render GitHub Actions ``::error file=…,line=…::`` workflow commands."""
        lines = []
        for level, found in (("error", self.problems), ("notice", self.notes)):
            for p in found:
                props = f"file={_escape_property(p.path)}"
                if p.line:
                    props += f",line={p.line}"
                props += f",title={_escape_property('sync-check ' + p.kind)}"
                body = p.message + ("\n" + p.diff if p.diff else "")
                lines.append(f"::{level} {props}::{_escape_data(body)}\n")
        return "".join(lines)


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """Return a unified diff of two texts, ending in a newline, empty when they are equal."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def first_difference(old: str, new: str) -> int:
    """Return the 1-based line of ``old`` where ``new`` first differs from it."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=False), 1):
        if a != b:
            return number
    # Past the shorter text: point at the last line ``old`` has (a file has no line beyond it).
    return max(1, min(len(old_lines), len(new_lines) + 1))


def _escape_data(text: str) -> str:
    """Escape a workflow command's message (GitHub's own rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """Escape a workflow command's property value."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
