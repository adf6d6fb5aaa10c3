"""The three-way merge, against ``git merge-file --diff3`` where git exists.

The property compares everything git gives: the exit status (git's is the number of
conflicts) and the whole merged text, conflict regions and markers included. Our engine
follows git's algorithm (xdiff's Myers diff, its preparation and compaction, and its merge at
the level git uses with ``--diff3``), so clean results and conflicts alike are identical.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tac_bootstrap.merge import Labels, diff, has_markers, merge3, split_lines

GIT = shutil.which("git")
LABELS = Labels("yours", "tac-bootstrap 0.1.0", "tac-bootstrap 0.2.0")


def git_merge(tmp: Path, base: str, yours: str, theirs: str) -> tuple[str, int]:
    for name, text in (("yours", yours), ("base", base), ("theirs", theirs)):
        (tmp / name).write_bytes(text.encode())
    labels = ["-L", LABELS.yours, "-L", LABELS.base, "-L", LABELS.theirs]
    proc = subprocess.run(
        [GIT or "git", "merge-file", "-p", "--diff3", *labels, "yours", "base", "theirs"],
        cwd=tmp,
        capture_output=True,
        check=False,
    )
    assert proc.returncode >= 0, proc.stderr
    return proc.stdout.decode(), proc.returncode


@st.composite
def edited(draw: st.DrawFn, base: list[str], alphabet: list[str]) -> list[str]:
    """A copy of ``base`` with a few insertions, deletions and replacements."""
    lines = list(base)
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(lines)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        if op == "insert":
            lines[at:at] = draw(st.lists(st.sampled_from(alphabet), min_size=1, max_size=3))
        elif at < len(lines):
            lines[at : at + draw(st.integers(1, 3))] = (
                [] if op == "delete" else [draw(st.sampled_from(alphabet))]
            )
    return lines


@st.composite
def three_texts(draw: st.DrawFn) -> tuple[str, str, str]:
    """Base, yours and theirs over a small alphabet, so that lines repeat and edits collide."""
    size = draw(st.integers(1, 8))
    alphabet = [f"{chr(97 + i)}\n" for i in range(size)]
    base = draw(st.lists(st.sampled_from(alphabet), max_size=40))
    texts = []
    for lines in (base, draw(edited(base, alphabet)), draw(edited(base, alphabet))):
        text = "".join(lines)
        if text and draw(st.booleans()) and draw(st.booleans()):
            text = text[:-1]  # no newline at the end of the file
        texts.append(text)
    return texts[0], texts[1], texts[2]


@pytest.mark.skipif(GIT is None, reason="git is not installed")
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=three_texts())
def test_same_result_as_git_merge_file(tmp_path: Path, texts: tuple[str, str, str]) -> None:
    base, yours, theirs = texts
    result = merge3(base, yours, theirs, LABELS)
    assert (result.text, result.conflicts) == git_merge(tmp_path, base, yours, theirs)


@pytest.mark.skipif(GIT is None, reason="git is not installed")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.lists(st.integers(0, 40), min_size=200, max_size=400),
    edits=st.lists(st.tuples(st.integers(0, 399), st.integers(0, 60), st.booleans()), max_size=30),
)
def test_same_result_as_git_on_longer_files(
    tmp_path: Path, base: list[int], edits: list[tuple[int, int, bool]]
) -> None:
    """Files long enough for git's handling of lines that repeat many times to matter."""
    yours, theirs = list(base), list(base)
    for at, value, mine in edits:
        side = yours if mine else theirs
        side[at % len(side) : at % len(side) + value % 3] = [value]
    texts = ["".join(f"line {n}\n" for n in lines) for lines in (base, yours, theirs)]
    result = merge3(texts[0], texts[1], texts[2], LABELS)
    assert (result.text, result.conflicts) == git_merge(tmp_path, texts[0], texts[1], texts[2])


@given(texts=three_texts())
def test_properties_without_git(texts: tuple[str, str, str]) -> None:
    base, yours, theirs = texts
    assert merge3(base, yours, base).text == yours
    assert merge3(base, base, theirs).text == theirs
    assert merge3(base, yours, yours).text == yours
    result = merge3(base, yours, theirs, LABELS)
    assert (result.conflicts == 0) == (not has_markers(result.text, LABELS)) or has_markers(
        yours + theirs, LABELS
    )


@given(texts=three_texts())
def test_no_edit_of_yours_is_lost(texts: tuple[str, str, str]) -> None:
    """Every run of lines you changed is in the result, merged cleanly or inside a conflict."""
    base, yours, theirs = texts
    result = merge3(base, yours, theirs, LABELS)
    lines0, lines1 = split_lines(base), split_lines(yours)
    ids: dict[str, int] = {}
    a = [ids.setdefault(x, len(ids)) for x in lines0]
    b = [ids.setdefault(x, len(ids)) for x in lines1]
    merged = split_lines(result.text)
    for _, start, _, count in diff(a, b):
        run = lines1[start : start + count]
        ended = [*run[:-1], run[-1].removesuffix("\n") + "\n"] if run else run
        # A conflict block ends a last line that had no newline, so that a marker can follow.
        assert any(merged[i : i + len(run)] in (run, ended) for i in range(len(merged) + 1)), run


@given(texts=three_texts())
def test_crlf_is_merged_as_lf(texts: tuple[str, str, str]) -> None:
    base, yours, theirs = texts
    assume("\n" in yours)
    lf = merge3(base, yours, theirs, LABELS)
    b, y, t = (text.replace("\n", "\r\n") for text in texts)
    crlf = merge3(b, y, t, LABELS)
    assert crlf.conflicts == lf.conflicts
    assert crlf.text == lf.text.replace("\n", "\r\n")
    mixed = merge3(base.replace("\n", "\r\n"), yours, theirs.replace("\n", "\r\n"), LABELS)
    assert mixed == lf


def test_conflict_markers_are_labelled() -> None:
    result = merge3("a\nb\nc\n", "a\nmine\nc\n", "a\ntheirs\nc\n", LABELS)
    assert result.conflicts == 1
    assert result.text == (
        "a\n<<<<<<< yours\nmine\n||||||| tac-bootstrap 0.1.0\nb\n=======\ntheirs\n"
        ">>>>>>> tac-bootstrap 0.2.0\nc\n"
    )
    assert has_markers(result.text, LABELS)


def test_clean_merge_keeps_both_edits() -> None:
    base = "one\ntwo\nthree\nfour\nfive\n"
    result = merge3(base, "ONE\ntwo\nthree\nfour\nfive\n", "one\ntwo\nthree\nfour\nFIVE\n")
    assert result == type(result)("ONE\ntwo\nthree\nfour\nFIVE\n", 0)


def test_missing_final_newline_inside_a_conflict() -> None:
    result = merge3("a\nb", "a\nc", "a\nd", LABELS)
    assert result.text.endswith(
        "c\n||||||| tac-bootstrap 0.1.0\nb\n=======\nd\n>>>>>>> tac-bootstrap 0.2.0\n"
    )


def test_empty_base_is_one_whole_file_conflict() -> None:
    result = merge3("", "mine\n", "theirs\n", LABELS)
    assert result.conflicts == 1
    assert result.text.startswith("<<<<<<< yours\nmine\n||||||| tac-bootstrap 0.1.0\n=======\n")
    assert merge3("", "same\n", "same\n").conflicts == 0


def test_split_lines_and_diff() -> None:
    assert split_lines("a\nb") == ["a\n", "b"]
    assert split_lines("a\n\n") == ["a\n", "\n"]
    assert split_lines("") == []
    assert diff([1, 2, 3], [1, 3]) == [(1, 1, 1, 0)]
    assert diff([], [1]) == [(0, 0, 0, 1)]
