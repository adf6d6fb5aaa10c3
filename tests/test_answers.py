"""Reading the answers file: every key checked, each refusal naming the key at fault."""

from __future__ import annotations

import json
import re

import pytest

from tac_bootstrap.answers import Answers, AnswersError, parse

GOOD = {"version": "0.1.0", "name": "my-app", "with_orchestrator": True, "data": {"a": "b"}}


def test_a_file_written_before_db_existed_is_sqlite() -> None:
    answers = parse(json.dumps(GOOD).encode())
    assert answers == Answers("0.1.0", "my-app", True, {"a": "b"})
    assert answers.db == "sqlite"
    assert answers.files == {}
    assert answers.context() == {**GOOD, "generator": "tac-bootstrap", "db": "sqlite"}
    assert answers.with_data({"c": "d"}).data == {"a": "b", "c": "d"}
    assert answers.data == {"a": "b"}


def test_every_key_is_read() -> None:
    full = {
        **GOOD,
        "generator": "tac-bootstrap",
        "db": "postgres",
        "files": {"README.md": "0" * 64},
        "deleted": ["LICENSE"],
        "conflicts": ["README.md"],
    }
    assert (
        parse(json.dumps(full)).context()
        | {
            "files": {"README.md": "0" * 64},
            "deleted": ["LICENSE"],
            "conflicts": ["README.md"],
        }
        == full
    )


#: Each answers file refused, with the start of its message. The message is each case's id: the
#: text can be megabytes, and pytest puts the id in every subprocess's environment.
REFUSALS: list[tuple[str | bytes, str]] = [
    (b"\xff{}", "not UTF-8"),
    (b"{", "not JSON"),
    (b"[" * 100_000, "not JSON"),
    (b"[]", "not a JSON object"),
    (json.dumps({**GOOD, "extra": 1}), "'extra': not a key of an answers file"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "name"}), "name: missing"),
    (json.dumps({**GOOD, "generator": "other"}), "generator: 'other' is not 'tac-bootstrap'"),
    (json.dumps({**GOOD, "version": 1}), "version: 1 is not a string"),
    (json.dumps({**GOOD, "version": "0.1.x"}), "version: '0.1.x' is not a version"),
    (json.dumps({**GOOD, "name": None}), "name: None is not a string"),
    (json.dumps({**GOOD, "with_orchestrator": 1}), "with_orchestrator: 1 is not true or"),
    (json.dumps({**GOOD, "db": "mysql"}), "db: 'mysql' is not one of sqlite, postgres"),
    (json.dumps({**GOOD, "data": []}), "data: [] is not an object of strings"),
    (json.dumps({**GOOD, "data": {"a": 1}}), "data: the value of 'a' is 1, not a string"),
    (
        json.dumps({**GOOD, "files": {"x.py": None}}),
        "files: the sha256 of 'x.py' is null, not a string of 64 hex digits",
    ),
    (json.dumps({**GOOD, "files": {"x": "A" * 64}}), "files: the sha256 of 'x' is malformed"),
    (  # the error line held the whole value (10,069 characters)
        json.dumps({**GOOD, "files": {"x": "a" * 10_000}}),
        "files: the sha256 of 'x' is malformed ('" + "a" * 76 + "...): not 64 hex digits",
    ),
    (json.dumps({**GOOD, "deleted": "x"}), "deleted: 'x' is not a list of strings"),
    (json.dumps({**GOOD, "conflicts": [1]}), "conflicts: [1] is not a list of strings"),
    (
        json.dumps({**GOOD, "version": ".".join(["0"] * 5_000)}),
        "version: '" + "0." * 38 + "... is not a version like 0.1.0: too long",
    ),
    (json.dumps(GOOD)[:-1] + ', "name": "os"}', "'name' is given twice"),
    (json.dumps({**GOOD, "conflicts": ["a", "b", "a"]}), "conflicts: 'a' is listed twice"),
    (
        json.dumps({**GOOD, "deleted": [f"f{n}" for n in range(10_001)]}),
        "deleted: 10,001 paths, more than 10,000",
    ),
    (
        json.dumps({**GOOD, "files": {f"f{n}": "0" * 64 for n in range(300_000)}}),
        "files: 300,000 paths, more than 10,000",
    ),
    ('{"files": {"a": "0", "a": "1"}}', "'a' is given twice"),
    (
        json.dumps({**GOOD, "files": {".tac-bootstrap.json": "0" * 64}}),
        "files: '.tac-bootstrap.json' is the answers file itself, not a generated file",
    ),
    (
        json.dumps({**GOOD, "deleted": [".git/config"]}),
        "deleted: '.git/config' is under a git folder .git/",
    ),
    (json.dumps({**GOOD, "conflicts": [".GIT/HEAD"]}), "conflicts: '.GIT/HEAD' is under a git"),
    (json.dumps({**GOOD, "deleted": ["src/.git./x"]}), "deleted: 'src/.git./x' is under a git"),
    (
        json.dumps({**GOOD, "files": {".tac-bootstrap/backup/x": "0" * 64}}),
        "files: '.tac-bootstrap/backup/x' is under update's own folder .tac-bootstrap/",
    ),
    (
        json.dumps({**GOOD, "conflicts": [".TAC-BOOTSTRAP.JSON"]}),
        "conflicts: '.TAC-BOOTSTRAP.JSON' is the answers file itself",
    ),
]


@pytest.mark.parametrize(("text", "message"), REFUSALS, ids=[m[:60] for _, m in REFUSALS])
def test_what_is_not_an_answers_file_is_named(text: str | bytes, message: str) -> None:
    with pytest.raises(AnswersError, match="^" + re.escape(message)):
        parse(text)


def test_a_number_too_long_for_python_is_named_without_pythons_advice() -> None:
    # "…: value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit": the
    # advice is for a program, not for the person whose answers file holds the number.
    with pytest.raises(AnswersError) as info:
        parse(json.dumps(GOOD)[:-1] + ', "year": ' + "1" * 5000 + "}")
    assert str(info.value).startswith("not JSON: Exceeds the limit (4300 digits)")
    assert "set_int_max_str_digits" not in str(info.value)


def test_a_huge_value_is_shown_cut_short() -> None:
    with pytest.raises(AnswersError) as info:
        parse(json.dumps({**GOOD, "name": ["x" * 10_000]}))
    assert len(str(info.value)) < 120


def test_names_only_like_the_reserved_ones_are_generated_files() -> None:
    files = {name: "0" * 64 for name in (".gitignore", ".github/ci.yml", "src/git/x", "a.git")}
    assert parse(json.dumps({**GOOD, "files": files})).files == files
