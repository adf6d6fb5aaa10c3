"""Plan and apply: golden renders, atomic creation, --force that never touches other files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tac_bootstrap import confine, scaffold
from tac_bootstrap.errors import (
    InvalidInputError,
    TacBootstrapError,
    TargetExistsError,
    WriteError,
)
from tac_bootstrap.scaffold import ANSWERS_FILE, init, load_answers, plan, render_project, sha256
from tac_bootstrap.spec import ProjectSpec

#: The ``after_each_look`` fixture (conftest): a hook run after each look at a path.
AfterEachLook = Callable[[Path, Callable[[int], None]], list[object]]

GOLDEN = Path(__file__).parent / "golden"
SUFFIX = ".golden"  # keeps golden files out of pytest collection, ruff and mypy

CASES = {
    "plain": ProjectSpec.build("my-app"),
    "postgres": ProjectSpec.build("my-app", with_orchestrator=True, db="postgres"),
    "orchestrator": ProjectSpec.build(
        "My.App",
        with_orchestrator=True,
        data={
            "description": 'Agents that "remember" \\ things',
            "author": "Ada Lovelace",
            "year": "2026",
        },
    ),
}


def _read_golden(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix().removesuffix(SUFFIX): path.read_bytes()
        for path in sorted(folder.rglob(f"*{SUFFIX}"))
    }


def _write_golden(folder: Path, files: dict[str, bytes]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for path, content in files.items():
        dest = folder / (path + SUFFIX)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_project_matches_golden_files(case: str, update_golden: bool) -> None:
    spec = CASES[case]
    files = plan(spec, Path("/nonexistent/target")).files
    if update_golden:
        _write_golden(GOLDEN / case, files)
    golden = _read_golden(GOLDEN / case)
    assert sorted(files) == sorted(golden), "rerun with --update-golden after a template change"
    for path, content in files.items():
        assert content.decode() == golden[path].decode(), path


def test_rendering_is_byte_identical_across_runs() -> None:
    spec = CASES["orchestrator"]
    assert render_project(spec) == render_project(spec)


def test_init_creates_the_project_and_records_every_hash(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "my-app"
    result = init(CASES["orchestrator"], target)
    assert result.target == target
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert written == set(result.written)
    answers = load_answers(target)
    assert answers.name == "My.App"
    assert answers.with_orchestrator
    assert answers.data["author"] == "Ada Lovelace"
    for path, digest in answers.files.items():
        assert sha256((target / path).read_bytes()) == digest
    assert set(answers.files) == set(result.written) - {ANSWERS_FILE}


def test_init_leaves_no_temporary_folder(tmp_path: Path) -> None:
    init(CASES["plain"], tmp_path / "my-app")
    assert [p.name for p in tmp_path.iterdir()] == ["my-app"]


def test_init_fills_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "my-app").mkdir()
    init(CASES["plain"], tmp_path / "my-app")
    assert (tmp_path / "my-app" / "pyproject.toml").is_file()


def test_non_empty_target_is_refused_naming_the_files(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    target.mkdir()
    (target / "README.md").write_text("mine\n")
    (target / "notes.txt").write_text("mine too\n")
    with pytest.raises(TargetExistsError) as info:
        init(CASES["plain"], target)
    assert info.value.overwritten == ["README.md"]
    assert "it would overwrite README.md" in str(info.value)
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "notes.txt"]
    assert (target / "README.md").read_text() == "mine\n"


def test_non_empty_target_without_conflicts_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TargetExistsError, match="no file in it would be overwritten"):
        init(CASES["plain"], tmp_path)


def test_force_rewrites_only_rendered_files_and_keeps_others(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    init(CASES["plain"], target)
    (target / "README.md").write_text("edited\n")
    (target / "notes.txt").write_text("keep me\n")
    (target / "src" / "my_app" / "extra.py").write_text("x = 1\n")
    untouched = (target / "pyproject.toml").stat().st_mtime_ns
    result = init(CASES["plain"], target, force=True)
    assert result.written == ("README.md",)
    assert result.overwritten == ("README.md",)
    assert (target / "notes.txt").read_text() == "keep me\n"
    assert (target / "src" / "my_app" / "extra.py").read_text() == "x = 1\n"
    assert (target / "pyproject.toml").stat().st_mtime_ns == untouched
    assert not list(target.glob(".tac-bootstrap.*.partial"))


def test_force_refuses_a_folder_where_a_file_must_go_before_writing(tmp_path: Path) -> None:
    (tmp_path / "README.md").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInputError, match=r"README\.md exists and is not a regular file"):
        init(CASES["plain"], tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "notes.txt"]


@pytest.mark.parametrize(
    ("name", "kind", "what"),
    [
        ("README.md", "dir", "a folder"),
        (ANSWERS_FILE, "fifo", "a FIFO"),
        (ANSWERS_FILE, "dir", "a folder"),
        (ANSWERS_FILE, "link", "a symlink"),
    ],
)
def test_force_says_what_is_where_a_file_must_go(
    tmp_path: Path, name: str, kind: str, what: str
) -> None:
    # It said `… exists and is not a regular file; move it away first` of a FIFO, a folder
    # and a link alike, where sync-check and update say which it is.
    place = tmp_path / name
    if kind == "dir":
        place.mkdir()
    elif kind == "fifo":
        os.mkfifo(place)
    else:
        place.symlink_to("notes.txt")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInputError) as raised:
        init(CASES["plain"], tmp_path, force=True)
    assert (
        str(raised.value)
        == f"{place} exists and is not a regular file ({what}); move it away first"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "notes.txt"])


@pytest.mark.parametrize("step", ["check", "write"])
@pytest.mark.parametrize("then", ["gone", "file"])
@pytest.mark.parametrize("looks", [1, 2, 3, 4, 5])
def test_force_names_what_a_file_place_held_when_it_changes_between_looks(
    tmp_path: Path, after_each_look: AfterEachLook, step: str, then: str, looks: int
) -> None:
    # A FIFO in the answers file's place, removed (or a file again) while init --force looked
    # at it: gone at the next look it was said to be "a symlink that leads nowhere or loops",
    # a file again "a device". Whatever look it changes after, the message names what was
    # there at a look (a FIFO), or the file goes there.
    place = tmp_path / ANSWERS_FILE
    os.mkfifo(place)

    def changed(look: int) -> None:
        if look == looks:
            place.unlink()
            if then == "file":
                place.write_bytes(b"{}\n")

    seen = after_each_look(place, changed)
    files = {ANSWERS_FILE: b"{}\n"}
    try:
        if step == "check":
            scaffold._check_places(tmp_path, files)
        else:
            scaffold._places_now(scaffold.Plan(tmp_path, files, (ANSWERS_FILE,), True))
    except InvalidInputError as exc:
        said = str(exc)
        assert said == f"{place} exists and is not a regular file (a FIFO); move it away first"
    assert seen  # the place was looked at


def test_force_refuses_a_file_where_a_folder_must_go(tmp_path: Path) -> None:

    (tmp_path / "src").write_text("x")
    with pytest.raises(InvalidInputError, match="src must be a folder"):
        init(CASES["plain"], tmp_path, force=True)


def test_target_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "my-app").write_text("x")
    with pytest.raises(InvalidInputError, match="exists and is not a folder"):
        init(CASES["plain"], tmp_path / "my-app")


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = init(CASES["orchestrator"], tmp_path / "my-app", dry_run=True)
    assert result.dry_run
    assert "pyproject.toml" in result.written
    assert list(tmp_path.iterdir()) == []


def test_interrupt_while_writing_leaves_no_partial_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = Path.write_bytes
    calls = []

    def interrupted(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        init(CASES["plain"], tmp_path / "new" / "my-app")
    assert list(tmp_path.iterdir()) == []


def test_answers_file_is_sorted_json_without_timestamps() -> None:
    answers = json.loads(plan(CASES["plain"], Path("/x")).files[ANSWERS_FILE])
    assert list(answers) == sorted(answers)
    assert set(answers) == {
        "data",
        "db",
        "files",
        "generator",
        "name",
        "version",
        "with_orchestrator",
    }


def test_load_answers_reports_a_missing_or_bad_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_answers(tmp_path)
    (tmp_path / ANSWERS_FILE).write_text("{}")
    with pytest.raises(InvalidInputError, match="is not a valid answers file"):
        load_answers(tmp_path)


def test_unsafe_rendered_path_is_refused(tmp_path: Path) -> None:
    from tac_bootstrap.render import Renderer

    root = tmp_path / "templates"
    (root / "project" / "{{ package }}").mkdir(parents=True)
    (root / "project" / "{{ package }}" / "x.j2").write_text("x")
    spec = ProjectSpec.build("my-app", data={"license": "none"})
    renderer = Renderer(root)
    with pytest.raises(TacBootstrapError, match="unsafe path"):
        scaffold._output_path(renderer, "{{ '..' }}/x.j2", spec.context())
    assert render_project(spec, renderer) == {"my_app/x": b"x"}


def test_a_file_in_the_output_path_is_refused_before_writing(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InvalidInputError, match="a-file exists and is not a folder"):
        init(CASES["plain"], tmp_path / "a-file" / "sub" / "my-app")
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a read-only /proc")
def test_a_write_the_file_system_refuses_is_an_error() -> None:
    with pytest.raises(WriteError, match=r"^cannot write /proc/"):
        init(CASES["plain"], Path("/proc/tac-bootstrap-test/my-app"))
    assert not Path("/proc/tac-bootstrap-test").exists()


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
        for p in folder.rglob("*")
    }


def test_force_refused_partway_puts_back_every_file_it_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move refused after others were made (a file made immutable meanwhile, a file mounted
    in place) left README.md replaced and src/my_app/ made again."""
    target = tmp_path / "my-app"
    init(CASES["plain"], target)
    (target / "README.md").write_text("edited\n")
    (target / "README.md").chmod(0o600)
    shutil.rmtree(target / "src")
    before = _snapshot(target)
    inode = (target / "README.md").stat().st_ino
    move = confine.move  # each rename that puts a file in place

    def refuse(source: Path, to: Path) -> None:
        if to.name == "py.typed":
            raise PermissionError(1, "Operation not permitted")
        move(source, to)

    monkeypatch.setattr(confine, "move", refuse)
    with pytest.raises(
        WriteError, match=r"^cannot write .*/my-app/src/my_app/py\.typed: Operation not permitted$"
    ):
        init(CASES["plain"], target, force=True)
    assert _snapshot(target) == before
    assert (target / "README.md").stat().st_ino == inode  # the same file, put back
    assert (target / "README.md").stat().st_mode & 0o777 == 0o600
    monkeypatch.undo()
    assert init(CASES["plain"], target, force=True).written == (
        "README.md",
        "src/my_app/__init__.py",
        "src/my_app/py.typed",
    )


def test_force_interrupted_partway_puts_back_every_file_it_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "my-app"
    init(CASES["plain"], target)
    (target / "README.md").write_text("edited\n")
    (target / "LICENSE").write_text("mine\n")
    before = _snapshot(target)
    move = confine.move  # each rename that puts a file in place

    def interrupt(source: Path, to: Path) -> None:
        if to.name == "README.md" and source.parent != target:
            raise KeyboardInterrupt
        move(source, to)

    monkeypatch.setattr(confine, "move", interrupt)
    with pytest.raises(KeyboardInterrupt):
        init(CASES["plain"], target, force=True)
    assert _snapshot(target) == before
