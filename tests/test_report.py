"""The three report formats, diffs and the line a drift is annotated at."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest

from tac_bootstrap import __version__
from tac_bootstrap.report import (
    Problem,
    SyncReport,
    first_difference,
    unified_diff,
    write_step_summary,
)

DRIFT = Problem("drift", "a/b.py", 2, "differs", "--- x\n+++ y\n@@ -1 +1 @@\n-a\n+b\n")
ORPHAN = Problem("orphan-base", "odd, name:1.py", None, "100% alone")


def test_ok_report() -> None:
    report = SyncReport(root="r", checked=3, skipped=2)
    assert report.ok
    assert report.render("text") == ""
    assert report.render("github") == ""
    assert report.summary() == "sync-check: 3 check(s), 2 unchanged since the last clean check: ok"
    assert json.loads(report.render("json")) == {
        "version": 1,
        "tac_bootstrap": __version__,
        "root": "r",
        "ok": True,
        "checked": 3,
        "skipped": 2,
        "problems": [],
        "notes": [],
    }


def test_text() -> None:
    report = SyncReport(root="r", problems=[DRIFT, ORPHAN], checked=1)
    assert report.render("text") == (
        "a/b.py:2: drift: differs\n--- x\n+++ y\n@@ -1 +1 @@\n-a\n+b\n"
        "odd, name:1.py: orphan-base: 100% alone\n"
    )
    assert report.summary() == "sync-check: 1 check(s): 2 problem(s)"


def test_json_keeps_every_field() -> None:
    data = json.loads(SyncReport(root="r", problems=[DRIFT]).render("json"))
    assert data["ok"] is False
    assert data["problems"] == [
        {
            "kind": "drift",
            "path": "a/b.py",
            "line": 2,
            "message": "differs",
            "diff": DRIFT.diff,
            "changed": None,
            "template": None,
            "truncated": False,
        }
    ]


def test_json_cuts_a_diff_line_of_60_million_nuls_keeping_its_ends() -> None:
    # Whole, this diff made a 360 MB document (each NUL is "\u0000").
    diff = "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+" + "\x00" * 60_000_000 + "y\n"
    problem = Problem("drift", "pkg/plain.txt", 1, "differs", diff)
    out = SyncReport(root="r", problems=[problem]).render("json")
    assert len(out) < 100_000
    [shown] = json.loads(out)["problems"]
    assert shown["truncated"] is True
    assert shown["diff"].startswith("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+\x00\x00")
    assert "…(60,000,002 characters)…" in shown["diff"]
    assert shown["diff"].endswith("\x00y\n")


def test_json_ends_a_long_diff_at_a_line_and_bounds_the_document() -> None:
    lines = "".join(f"+{i:09} {'y' * 990}\n" for i in range(3_000))  # 3 MB in 1,001-char lines
    problems = [Problem("drift", f"p{i}", None, "differs", lines) for i in range(20)]
    data = json.loads(SyncReport(root="r", problems=problems).render("json"))
    diffs = [problem["diff"] for problem in data["problems"]]
    assert [problem["truncated"] for problem in data["problems"]] == [True] * 20
    assert all(lines.startswith(diff) and diff[-1:] in ("\n", "") for diff in diffs)
    assert all(999_000 < len(diff) <= 1_000_000 for diff in diffs[:10])
    assert sum(map(len, diffs)) <= 10_000_000
    assert diffs[10:] == [""] * 10


def test_json_cuts_a_message_of_megabytes_and_keeps_a_short_one_whole() -> None:
    long = Problem("schema", "s.sql", 1, "no such table: " + "t" * 3_000_000)
    short = Problem("schema", "s.sql", 1, "no such table: \x1b[31mt")
    data = json.loads(SyncReport(root="r", problems=[long, short]).render("json"))
    assert len(data["problems"][0]["message"]) <= 10_000
    assert "…(3,000,015 characters)…" in data["problems"][0]["message"]
    assert data["problems"][0]["truncated"] is True
    assert data["problems"][1]["message"] == short.message
    assert data["problems"][1]["truncated"] is False


def test_github_escapes_data_and_properties() -> None:
    out = SyncReport(root="r", problems=[DRIFT, ORPHAN]).render("github")
    assert out.splitlines() == [
        "::error file=a/b.py,line=2,title=sync-check drift::differs%0A--- x%0A+++ y%0A"
        "@@ -1 +1 @@%0A-a%0A+b%0A",
        "::error file=odd%2C name%3A1.py,title=sync-check orphan-base::100%25 alone",
    ]


def test_unified_diff_marks_a_missing_final_newline() -> None:
    assert unified_diff("a\n", "a\n", "x", "y") == ""
    assert unified_diff("a\nb", "a\nc\n", "x", "y") == (
        "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
    )


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("a\nb\nc\n", "a\nB\nc\n", 2),
        ("a\nb\n", "a\nb\nc\n", 2),
        ("a\nb\nc\n", "a\n", 2),
        ("", "a\n", 1),
        ("a\n", "b\n", 1),
        ("a", "a\n", 1),
    ],
)
def test_first_difference_is_a_line_old_has(old: str, new: str, line: int) -> None:
    assert first_difference(old, new) == line


def test_a_file_name_with_a_newline_stays_on_the_diffs_header_line() -> None:
    diff = unified_diff("", "x\n", "/dev/null", "a\n::error title=forged::b")
    assert diff.splitlines()[1] == "+++ a\\n::error title=forged::b"


def test_github_escapes_control_characters_of_messages() -> None:
    problem = Problem("database", "db.py", None, "statement \x1b[2Kq\x07 (x) fails")
    out = SyncReport(root="r", problems=[problem]).render("github")
    assert (
        out == "::error file=db.py,title=sync-check database::statement \\x1b[2Kq\\x07 (x) fails\n"
    )


def test_github_cuts_a_message_of_megabytes() -> None:
    # A model's table name of 1 MB made one annotation line of 1 MB (its diff was cut already).
    problem = Problem("agreement", "schema.sql", 3, "table " + "o" * 1_000_000 + " has no model")
    (out,) = SyncReport(root="r", problems=[problem]).render("github").splitlines()
    assert len(out) < 2100
    assert out.endswith("o [...]")


def test_text_cuts_a_name_of_megabytes_keeping_its_ends_and_length() -> None:
    # A model's table name of 1 MB was a problem line of 1 MB in the text report.
    name = "start" + "o" * 1_000_000 + "end"
    problem = Problem("agreement", "schema.sql", 3, f"table {name} has no model")
    (out,) = SyncReport(root="r", problems=[problem]).render("text").splitlines()
    assert len(out) < 1100
    assert out.startswith("schema.sql:3: agreement: table starto")
    assert "o…(1,000,008 characters)…o" in out
    assert out.endswith("oend has no model")


def test_text_cuts_a_path_a_line_of_many_words_and_a_diff_line() -> None:
    path = "pkg/" + "p" * 5000 + ".py"
    words = " ".join(["word"] * 100_000)
    diff = "--- a\n+++ b\n-" + "x" * 50_000 + "\n+y\n"
    problems = [
        Problem("orphan-base", path, None, "BASE file with no template"),
        Problem("agreement", "s.sql", None, words, diff=diff),
    ]
    lines = SyncReport(root="r", problems=problems).render("text").splitlines()
    assert lines[0].startswith("pkg/ppp")
    assert lines[0].endswith("p.py: orphan-base: BASE file with no template")
    assert f"…({len(path) + 1:,} characters)…" in lines[0]  # the path and its colon
    assert len(lines[1]) <= 10_000
    assert "…(" in lines[1]
    assert lines[1].endswith("word")
    assert lines[2:4] == ["--- a", "+++ b"]
    assert lines[4].startswith("-xxx")
    assert "…(50,001 characters)…" in lines[4]
    assert lines[5] == "+y"
    assert all(len(line) <= 10_000 for line in lines)


def test_text_leaves_short_names_whole() -> None:
    problem = Problem("agreement", "schema.sql", 3, "agents.status: the model says 'a', 'b'")
    text = SyncReport(root="r", problems=[problem]).render("text")
    assert text == "schema.sql:3: agreement: agents.status: the model says 'a', 'b'\n"


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_a_diff_line_of_millions_of_control_characters_is_cut_before_it_is_escaped(
    fmt: str,
) -> None:
    # Escaped one character at a time, a rendered line of 60 million NULs took over a minute
    # and 4 GB (a template's `{{ '\x00' * 60000000 }}`); 20 million took 7 s.
    line = "+" + "\x00" * 20_000_000 + "\x1b\r\n"
    drift = Problem("drift", "a.txt", 1, "differs", f"--- a\n+++ b\n@@ -1 +1 @@\n-a\n{line}")
    tracemalloc.start()
    try:
        shown = SyncReport(root="r", problems=[drift], checked=1).render(fmt)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60_000_000, peak  # the line escaped whole is 80 million characters
    assert len(shown) < 25_000
    if fmt == "text":  # its length as escaped: 4 characters a NUL, "\x1b", the CR of CR LF kept
        assert "…(80,000,006 characters)…" in shown
        assert shown.endswith("\\x00\\x00\\x1b\r\n")
    else:
        assert "\\x00\\x0 [...]%0A[long lines cut" in shown


def test_a_step_summary_leaves_out_a_diff_too_long_before_escaping_it() -> None:
    drift = Problem("drift", "a.txt", 1, "differs", "+" + "\x00" * 20_000_000 + "\n")
    tracemalloc.start()
    try:
        summary = SyncReport(root="r", problems=[drift], checked=1).step_summary()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak  # escaped, the diff is 80 million characters
    assert "1 more problem(s) and note(s) not shown" in summary


def test_texts_of_millions_of_short_lines_are_compared_without_splitting_them() -> None:
    # sync-check of a template rendering 20 million lines "xy" took 13 s and 3 GB: each line
    # became a string of its own, twice, before the diff was found too long to show.
    old = "xy\n" * 3_000_000
    new = old[:3_000_000] + "z" + old[3_000_000:]
    tracemalloc.start()
    try:
        line = first_difference(old, new)
        diff = unified_diff(old, new, "a", "b")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (line, diff.count("\n")) == (1_000_001, 3)
    assert peak < 10_000_000, peak


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("\r\r\x0c", "\r\n\r\x0c", 1),
        ("a\r\nb", "a\r\nc", 2),
        ("a\u2028b\x85c", "a\u2028b\x85d", 3),
        ("a\nb\n", "a\n", 2),
        ("a\n", "a\nb", 1),
        ("", "x", 1),
        ("same\n", "same\n", 1),
    ],
)
def test_first_difference_counts_lines_as_splitlines_ends_them(
    old: str, new: str, line: int
) -> None:
    assert first_difference(old, new) == line


def test_a_diff_of_many_interleaved_differences_is_a_note_not_minutes() -> None:
    # difflib took 5.7 s of CPU (40 s under load) on 9,999 lines of which every other differs.
    old = "".join(f"{i}\n" for i in range(9_999))
    new = "".join(f"{i}\n" if i % 2 else "x\n" for i in range(9_999))
    started = time.process_time()
    diff = unified_diff(old, new, "a", "b")
    assert time.process_time() - started < 1
    assert "(not shown: from the first difference to the last, 9,999 lines and 9,999 lines," in diff


def test_a_long_file_with_one_change_still_gets_its_diff() -> None:
    old = "".join(f"{i}\n" for i in range(9_999))
    diff = unified_diff(old, old.replace("\n500\n", "\n500x\n"), "a", "b")
    assert "-500\n+500x\n" in diff


@pytest.mark.parametrize("earlier", ["", "# an earlier step\n"], ids=["new", "appended"])
def test_a_step_summary_the_disk_takes_only_part_of_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier: str
) -> None:
    """A full disk took the summary's first page and refused the rest: it ended mid-diff."""
    resource = pytest.importorskip("resource")
    summary = tmp_path / "summary.md"
    summary.write_text(earlier)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    room = len(earlier) + 4096  # Python ignores SIGXFSZ: past this, a write fails (EFBIG)
    if hard != resource.RLIM_INFINITY and hard < room:
        pytest.skip("a file size limit already below the test's")
    resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
    try:
        write_step_summary("### sync-check\n\n" + "```diff\n" + "+x\n" * 50_000 + "```\n")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert summary.read_text() == earlier
    write_step_summary("### whole\n")  # room again: the summary is appended whole
    assert summary.read_text() == earlier + "### whole\n"
