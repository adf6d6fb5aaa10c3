"""A generated project against its answers file and the installed generator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tac_bootstrap import __version__, scaffold, sync
from tac_bootstrap.checkcache import sha256
from tac_bootstrap.cli import app
from tac_bootstrap.errors import InvalidInputError, TacBootstrapError
from tac_bootstrap.generated import check_generated
from tac_bootstrap.spec import ProjectSpec


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "my-app"
    scaffold.init(ProjectSpec.build("my-app"), target)
    return target


def answers(project: Path) -> dict[str, object]:
    data = json.loads((project / scaffold.ANSWERS_FILE).read_text())
    assert isinstance(data, dict)
    return data


def record(project: Path, path: str, digest: str | None) -> None:
    data = answers(project)
    files = data["files"]
    assert isinstance(files, dict)
    if digest is None:
        del files[path]
    else:
        files[path] = digest
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(data))


def invoke_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def kinds(project: Path) -> list[tuple[str, str]]:
    return [(p.kind, p.path) for p in check_generated(project).notes]


def test_answers_file_name_agrees_with_scaffold() -> None:
    assert sync.ANSWERS_FILE == scaffold.ANSWERS_FILE


def test_fresh_project_is_clean(project: Path) -> None:
    result = check_generated(project)
    assert result.problems == result.notes == []
    files = answers(project)["files"]
    assert isinstance(files, dict)
    assert result.checked == len(files)


def test_edited_file_shows_the_edit(project: Path) -> None:
    readme = project / "README.md"
    lines = readme.read_text().splitlines(keepends=True)
    lines[2] = "An edited line.\n"
    readme.write_text("".join(lines))
    [problem] = check_generated(project).notes
    assert (problem.kind, problem.path, problem.line) == ("edited", "README.md", 3)
    assert problem.message == (
        "edited since generation: its sha256 differs from the one in .tac-bootstrap.json"
    )
    assert "+An edited line.\n" in problem.diff


def test_a_checkout_with_crlf_line_ends_edited_nothing(project: Path) -> None:
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            path.write_bytes(text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    result = check_generated(project)
    assert result.problems == result.notes == []
    readme = project / "README.md"
    readme.write_bytes(readme.read_bytes() + b"An edit of mine.\r\n")
    assert kinds(project) == [("edited", "README.md")]


def test_deleted_file(project: Path) -> None:
    (project / "README.md").unlink()
    assert kinds(project) == [("missing", "README.md")]


def test_template_changed_shows_what_the_generator_renders_now(project: Path) -> None:
    (project / "README.md").write_text("old\n")
    record(project, "README.md", sha256(b"old\n"))
    [problem] = check_generated(project).notes
    assert (problem.kind, problem.line) == ("template-changed", None)
    assert problem.message.startswith(
        "its template has changed: the generator renders it differently (tac-bootstrap "
    )
    assert problem.diff == ""  # what was generated cannot be rendered again: no diff


def test_edited_and_template_changed(project: Path) -> None:
    (project / "README.md").write_text("mine\n")
    record(project, "README.md", sha256(b"old\n"))
    assert kinds(project) == [("edited", "README.md"), ("template-changed", "README.md")]


def test_file_the_generator_now_adds(project: Path) -> None:
    record(project, "README.md", None)
    assert kinds(project) == [("new-template", "README.md")]


def test_file_the_generator_no_longer_renders(project: Path) -> None:
    (project / "gone.txt").write_text("gone\n")
    record(project, "gone.txt", sha256(b"gone\n"))
    assert kinds(project) == [("template-removed", "gone.txt")]


def test_bad_answers_file_is_an_error(project: Path) -> None:
    (project / scaffold.ANSWERS_FILE).write_text("{}")
    with pytest.raises(InvalidInputError, match="is not a valid answers file"):
        sync.check(project)


def test_generated_orchestrator_project_checks_models_schema_and_database(tmp_path: Path) -> None:
    target = tmp_path / "agents"
    scaffold.init(ProjectSpec.build("agents", with_orchestrator=True), target)
    assert sync.check(target).ok
    schema = target / "src" / "agents" / "schema_orchestrator.sql"
    text = schema.read_text()
    schema.write_text(
        text.replace("tokens_input INTEGER NOT NULL", "tokens_input TEXT NOT NULL", 1)
    )
    report = sync.check(target)
    messages = [problem.message for problem in report.problems]
    assert any(
        m.startswith(
            "prompts.tokens_input: the model says int (stored as INTEGER), the schema says TEXT"
        )
        for m in messages
    ), messages
    assert not any("edited since generation" in m for m in messages), messages
    assert any("edited since generation" in n.message for n in report.notes)


def test_unresolved_update_conflicts_always_fail(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(
        "# x\n<<<<<<< yours\nmine\n||||||| tac-bootstrap 0.1.0\nold\n=======\nnew\n"
        ">>>>>>> tac-bootstrap 0.2.0\n"
    )
    report = sync.check(project)
    [problem] = report.problems
    assert (problem.kind, problem.path, problem.line) == ("conflict", "README.md", 2)
    assert not sync.check(project).ok


def test_update_conflict_markers_in_pyproject_are_a_conflict_not_a_toml_error(
    tmp_path: Path,
) -> None:
    target = tmp_path / "agents"
    scaffold.init(ProjectSpec.build("agents", with_orchestrator=True), target)
    pyproject = target / "pyproject.toml"
    lines = pyproject.read_text().split("\n")
    lines[3:3] = [
        "<<<<<<< yours",
        'version = "9"',
        "||||||| tac-bootstrap 0.1.0",
        "old",
        "=======",
        "new",
        ">>>>>>> tac-bootstrap 0.2.0",
    ]
    pyproject.write_text("\n".join(lines))
    report = sync.check(target)
    [problem] = report.problems
    assert (problem.kind, problem.path, problem.line) == ("conflict", "pyproject.toml", 4)
    assert problem.message.endswith(
        "; until then it is not TOML, and the checks of its [tool.tac-bootstrap.sync] "
        "manifest did not run"
    )
    code, _, err = invoke_cli("sync-check", "--root", str(target))
    assert code == 1
    assert "pyproject.toml:4: conflict: unresolved conflict" in err + _


def test_pyproject_that_is_not_toml_without_conflict_markers_is_still_an_error(
    project: Path,
) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n= broken\n")
    with pytest.raises(TacBootstrapError, match=r"pyproject\.toml: cannot be read as TOML"):
        sync.check(project)


def test_binary_conflict_left_beside_fails_until_removed(project: Path) -> None:
    data = answers(project)
    data["conflicts"] = ["README.md"]
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(data))
    side = project / f"README.md.tac-bootstrap-{data['version']}"
    side.write_bytes(b"\0new")
    [problem] = sync.check(project).problems
    assert problem.kind == "conflict"
    assert side.name in problem.message
    side.unlink()
    assert sync.check(project).ok


def test_newer_generator_is_a_note(project: Path) -> None:
    data = answers(project)
    data["version"] = "0.1.0"
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(data))
    report = sync.check(project)
    assert report.ok
    assert [n.kind for n in report.notes] == ["newer-generator"]
    assert "`tac-bootstrap update`" in report.notes[0].message
    assert not sync.check(project, strict=True).ok


@pytest.mark.parametrize("version", ["0.4.3", "3.12"])
def test_a_project_of_a_newer_generator_is_refused_as_update_refuses_it(
    project: Path, version: str
) -> None:
    # Its notes asked for an update, which refuses a project of a newer version.
    data = answers(project)
    data["version"] = version
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(data))
    before = sorted((p, p.read_bytes()) for p in project.rglob("*") if p.is_file())
    code, out, err = invoke_cli("sync-check", "--root", str(project))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {project / scaffold.ANSWERS_FILE}: generated by tac-bootstrap {version}, newer "
        f"than this {__version__}: install {version} or later to check it\n"
    )
    assert sorted((p, p.read_bytes()) for p in project.rglob("*") if p.is_file()) == before


def test_answers_path_outside_the_project_is_refused_not_read(project: Path) -> None:
    record(project, "../../etc/passwd", sha256(b""))
    with pytest.raises(InvalidInputError) as info:
        sync.check(project)
    assert str(info.value).endswith(
        ".tac-bootstrap.json is not a valid answers file: "
        "files: '../../etc/passwd' is not a safe path inside the project"
    )


@pytest.mark.parametrize(
    "version",
    ["0.1.x", "", "v0.1.0", "1" * 5000],
    ids=["0.1.x", "empty", "v0.1.0", "5000-digits"],  # short: pytest puts ids in the environment
)
def test_an_answers_version_that_is_not_one_is_refused(project: Path, version: str) -> None:
    data = answers(project)
    data["version"] = version
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(data))
    with pytest.raises(InvalidInputError, match=r"\.tac-bootstrap\.json is not a valid answers"):
        sync.check(project)


def test_strict_turns_notes_into_problems(project: Path) -> None:
    (project / "README.md").write_text("mine\n")
    assert sync.check(project).ok
    [problem] = sync.check(project, strict=True).problems
    assert problem.kind == "edited"


def test_answers_file_linked_out_of_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes((project / scaffold.ANSWERS_FILE).read_bytes())
    (project / scaffold.ANSWERS_FILE).unlink()
    (project / scaffold.ANSWERS_FILE).symlink_to(outside)
    with pytest.raises(TacBootstrapError, match="outside"):
        sync.check(project)


@pytest.mark.parametrize("how", ["deleted", "table-removed"])
def test_a_generated_manifest_that_is_gone_is_a_problem(tmp_path: Path, how: str) -> None:
    # The project passed with a note, its schema, models and migrations not checked at all.
    project = tmp_path / "p"
    scaffold.init(ProjectSpec.build("p", with_orchestrator=True), project)
    manifest = project / "pyproject.toml"
    if how == "deleted":
        manifest.unlink()
    else:
        text = manifest.read_text()
        manifest.write_text(text[: text.index("[tool.tac-bootstrap.sync.agreement]")])
    code, out, err = invoke_cli("sync-check", "--root", str(project), "--no-cache")
    assert code == 1, (out, err)
    assert out.startswith(
        "pyproject.toml: missing: generated with the manifest of `sync-check`, but "
        + ("is missing: " if how == "deleted" else "has no [tool.tac-bootstrap.sync] manifest: ")
    )
    assert "note: missing" not in out


def test_a_missing_manifest_without_a_sync_table_stays_a_note(project: Path) -> None:
    (project / "pyproject.toml").unlink()  # the generator wrote no sync manifest here
    result = check_generated(project, manifest_found=False)
    assert result.problems == []
    assert [(p.kind, p.path) for p in result.notes] == [("missing", "pyproject.toml")]


MARKER = ".tac-bootstrap/backup/0.4.2-0.4.3.running"


def running_marker(project: Path, answers_bytes: bytes) -> None:
    """What a killed update leaves: its marker, naming the answers file it started from."""
    marker = project / MARKER
    (project / MARKER.removesuffix(".running") / "src").mkdir(parents=True)
    marker.write_bytes(b"tac-bootstrap update: running marker\n" + sha256(answers_bytes).encode())
    marker.write_bytes(marker.read_bytes() + b"\n")


def test_an_update_stopped_partway_is_a_problem(project: Path) -> None:
    # An update killed (kill -9) before it wrote the answers file left the project part old
    # version, part new, and its running marker: sync-check said ok (notes only).
    running_marker(project, (project / scaffold.ANSWERS_FILE).read_bytes())
    report = sync.check(project)
    [problem] = report.problems
    assert (problem.kind, problem.path) == ("stopped-update", MARKER)
    assert problem.message.endswith("run `tac-bootstrap update` again, which continues it")
    assert not report.ok


def test_the_marker_of_an_update_that_wrote_its_answers_file_is_no_problem(
    project: Path,
) -> None:
    # Killed after writing the answers file, before removing the marker: that update is done.
    running_marker(project, b"the answers file it started from\n")
    assert sync.check(project).problems == []


EXE = Path(sys.executable).with_name("tac-bootstrap")


def run_installed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize("conflict", [False, True], ids=["no-conflict", "conflict-left"])
def test_the_marker_an_update_killed_at_its_unlink_left_is_misread_by_none_and_goes(
    project: Path, conflict: bool
) -> None:
    # An update killed at the unlink of its marker (after it wrote the answers file): the
    # marker names the answers file it started from, not the one there now.
    running_marker(project, b"the answers file it started from\n")
    readme = project / "README.md"
    if conflict:
        data = answers(project)
        data["conflicts"] = ["README.md"]
        (project / scaffold.ANSWERS_FILE).write_text(json.dumps(data))
        readme.write_text("# x\n<<<<<<< yours\nmine\n=======\nnew\n>>>>>>> tac-bootstrap\n")
    check = run_installed("sync-check", "--root", project, "--no-cache")
    assert check.returncode == (1 if conflict else 0), check.stderr
    assert "stopped-update" not in check.stdout
    refused = run_installed("update", "--root", project)
    if conflict:  # refused as the uninterrupted run's state is: nothing written
        assert refused.returncode == 2
        assert refused.stderr.startswith("error: the last update left conflicts in README.md")
        assert (project / MARKER).exists()
        readme.write_text("# x\nmine\n")
        again = run_installed("update", "--root", project)
        assert again.returncode == 0, again.stderr
    else:
        assert refused.returncode == 0, refused.stderr
    assert not (project / MARKER).exists()
    assert (project / MARKER.removesuffix(".running")).is_dir()  # the backups stay
