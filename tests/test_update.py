"""``update``: every case of a file, safety, refusals, and the real 0.1.0 -> current update.

The template changes between two versions are made by each test on copies of the live
templates (an *old* copy, recorded in a store of the test's own, and a *new* copy that plays
this version), so the tests hold whatever the templates say today.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tac_bootstrap import __version__, confine, releases, scaffold, update
from tac_bootstrap.checkcache import sha256
from tac_bootstrap.cli import app
from tac_bootstrap.errors import TacBootstrapError, UpdateStoppedError
from tac_bootstrap.releases.schemes import SCHEMES, RenderedFile
from tac_bootstrap.render import Renderer, templates_root
from tac_bootstrap.spec import ProjectSpec
from tac_bootstrap.update import Sources

OLD = "0.0.1"
LIVE_SCHEME = 999
GOLDEN = Path(__file__).parent / "golden" / "releases"
README_FOOTER = "A footer line the old templates had.\n"
OLD_ONLY = {
    "project/gone.md.j2": "Gone from {{ name }}.\n",
    "project/OLDNAME.md.j2": "Line one\nLine two\nLine three of {{ name }}\n",
}
NEW_ONLY = {
    "project/added.md.j2": "Added to {{ name }}.\n",
    "project/NEWNAME.md.j2": "Line one\nLine two\nLine three of {{ name }}\nLine four\n",
}
RENAMES = {"project/OLDNAME.md.j2": "project/NEWNAME.md.j2"}
OLD_BINARY = b"\x00\x01 old logo \xff"
NEW_BINARY = b"\x00\x01 new logo \xff"


def live_scheme(
    templates: Mapping[str, bytes],
    answers: Mapping[str, Any],
    cache_dir: Path | None,  # noqa: ARG001 - a scheme's signature
) -> dict[str, RenderedFile]:
    """Render stored templates with the live code: a test's stand-in for an older scheme."""
    folder = Path(os.environ["UPDATE_TEST_SCRATCH"]) / sha256(repr(sorted(templates)).encode())
    for rel, content in templates.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
    spec = ProjectSpec.build(
        answers["name"], with_orchestrator=answers["with_orchestrator"], data=answers["data"]
    )
    renderer = Renderer(folder)
    files = scaffold.render_project(spec, renderer)
    origin = update._live_templates(spec, renderer)
    return {path: RenderedFile(origin.get(path, ""), content) for path, content in files.items()}


def write_tree(folder: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass
class World:
    """An old version recorded in a store of its own, and new templates playing this version."""

    tmp: Path
    store: Path
    new: Path

    @property
    def sources(self) -> Sources:
        return Sources(self.store, self.new)

    def generate(self, name: str = "my-app", *, orchestrator: bool = False) -> Path:
        """Generate a project as the old version did, answers file included."""
        spec = ProjectSpec.build(name, with_orchestrator=orchestrator)
        answers = {"name": name, "with_orchestrator": orchestrator, "data": spec.data()}
        files = releases.render(OLD, answers, self.store)
        project = self.tmp / "project"
        write_tree(project, {path: f.content for path, f in files.items()})
        answers = {
            "generator": "tac-bootstrap",
            "version": OLD,
            "name": name,
            "with_orchestrator": orchestrator,
            "data": spec.data(),
            "files": {path: sha256(f.content) for path, f in files.items()},
        }
        (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers, indent=2))
        return project

    def fresh(self, name: str = "my-app", *, orchestrator: bool = False) -> dict[str, bytes]:
        """Return what ``init`` of the new templates writes, answers file included."""
        spec = ProjectSpec.build(name, with_orchestrator=orchestrator)
        files = scaffold.render_project(spec, Renderer(self.new))
        return {**files, scaffold.ANSWERS_FILE: scaffold.answers_bytes(spec, files)}

    def update(self, project: Path, **kwargs: object) -> update.UpdatePlan:
        return update.update(project, sources=self.sources, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setitem(SCHEMES, LIVE_SCHEME, live_scheme)
    monkeypatch.setenv("UPDATE_TEST_SCRATCH", str(tmp_path / "scratch"))
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(templates_root(), old)
    shutil.copytree(templates_root(), new)
    readme = old / "project" / "README.md.j2"
    readme.write_text(readme.read_text() + README_FOOTER)
    write_tree(old, {**OLD_ONLY, "project/logo.bin": OLD_BINARY, "project/same.bin": b"\0same"})
    write_tree(new, {**NEW_ONLY, "project/logo.bin": NEW_BINARY, "project/same.bin": b"\0same"})
    store = tmp_path / "store"
    releases.record(OLD, old, LIVE_SCHEME, store)
    (store / "renames.json").write_text(json.dumps(RENAMES))
    return World(tmp_path, store, new)


def lines(the_plan: update.UpdatePlan) -> list[str]:
    return the_plan.render_text().splitlines()


def answers_of(project: Path) -> dict[str, object]:
    data = json.loads((project / scaffold.ANSWERS_FILE).read_text())
    assert isinstance(data, dict)
    return data


def without_backups(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if not k.startswith(".tac-bootstrap/")}


def test_unedited_project_becomes_a_fresh_init(world: World) -> None:
    project = world.generate()
    result = world.update(project)
    assert lines(result) == [
        "R OLDNAME.md -> NEWNAME.md",
        "M README.md",
        "A added.md",
        "D gone.md",
        "M logo.bin",
    ]
    assert result.exit_code == 0
    assert without_backups(tree(project)) == world.fresh()
    backup = project / ".tac-bootstrap" / "backup" / f"{OLD}-{__version__}"
    assert sorted(tree(backup)) == ["OLDNAME.md", "README.md", "gone.md", "logo.bin"]
    again = world.update(project)
    assert (again.updates, again.exit_code, again.answers_changed) == ([], 0, False)
    assert "already at" in again.summary()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="only root gives a replaced file its owner, the change that clears these bits",
)
def test_update_keeps_the_setuid_and_setgid_bits_of_a_replaced_file(world: World) -> None:
    project = world.generate()
    modes = {"README.md": 0o4755, "logo.bin": 0o2775}
    for name, mode in modes.items():
        (project / name).chmod(mode)
    result = world.update(project)
    assert {"M README.md", "M logo.bin"} <= set(lines(result))
    for name, mode in modes.items():
        assert oct((project / name).stat().st_mode & 0o7777) == oct(mode), name


def test_orchestrator_project_unedited(world: World) -> None:
    project = world.generate("My.App", orchestrator=True)
    assert world.update(project).exit_code == 0
    assert without_backups(tree(project)) == world.fresh("My.App", orchestrator=True)


def test_edit_the_templates_do_not_touch_is_kept(world: World) -> None:
    project = world.generate()
    readme = project / "README.md"
    first, rest = readme.read_text().split("\n", 1)
    readme.write_text("# Mine, edited\n" + rest)
    result = world.update(project)
    assert "M README.md" in lines(result)
    assert result.exit_code == 0
    fresh = world.fresh()["README.md"].decode()
    assert readme.read_text() == "# Mine, edited\n" + fresh.split("\n", 1)[1]
    assert first != "# Mine, edited"


def test_edit_of_a_line_the_templates_change_is_a_marked_conflict(world: World) -> None:
    project = world.generate()
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace(README_FOOTER, "My own footer.\n"))
    result = world.update(project)
    assert "C README.md" in lines(result)
    assert result.exit_code == 1
    text = readme.read_text()
    assert (
        f"<<<<<<< yours\nMy own footer.\n||||||| tac-bootstrap {OLD}\n{README_FOOTER}=======\n"
        f">>>>>>> tac-bootstrap {__version__}\n"
    ) in text
    assert answers_of(project)["conflicts"] == ["README.md"]
    assert answers_of(project)["version"] == __version__
    with pytest.raises(
        update.UpdateRefusedError, match=r"the last update left conflicts in README\.md"
    ):
        world.update(project)
    resolved = [
        ln
        for ln in text.splitlines(keepends=True)
        if not ln.startswith(("<<<<<<<", "|||||||", "=======", ">>>>>>>", README_FOOTER))
    ]
    readme.write_text("".join(resolved))
    assert world.update(project).exit_code == 0


def test_binary_file_changed_on_both_sides_keeps_yours_and_writes_theirs_beside(
    world: World,
) -> None:
    project = world.generate()
    (project / "logo.bin").write_bytes(b"\x00 my logo")
    (project / "same.bin").write_bytes(b"\x00 my edit of a file the templates keep")
    result = world.update(project)
    assert "C logo.bin" in lines(result)
    assert not any("same.bin" in line for line in lines(result))
    assert result.exit_code == 1
    assert (project / "logo.bin").read_bytes() == b"\x00 my logo"
    assert (project / f"logo.bin.tac-bootstrap-{__version__}").read_bytes() == NEW_BINARY
    assert (project / "same.bin").read_bytes() == b"\x00 my edit of a file the templates keep"
    assert answers_of(project)["conflicts"] == ["logo.bin"]
    with pytest.raises(update.UpdateRefusedError, match=r"logo\.bin"):
        world.update(project)
    (project / f"logo.bin.tac-bootstrap-{__version__}").unlink()
    assert world.update(project).exit_code == 0


def test_removed_template_keeps_an_edited_file_and_deletes_an_unedited_one(world: World) -> None:
    project = world.generate()
    (project / "gone.md").write_text("I edited this.\n")
    result = world.update(project)
    [kept] = [u for u in result.updates if u.path == "gone.md"]
    assert (kept.code, kept.needs_person) == ("K", True)
    assert result.exit_code == 1
    assert (project / "gone.md").read_text() == "I edited this.\n"
    files = answers_of(project)["files"]
    assert isinstance(files, dict)
    assert "gone.md" not in files
    assert world.update(project).exit_code == 0  # now simply the user's own file


def test_deleted_file_stays_deleted(world: World) -> None:
    project = world.generate()
    (project / "README.md").unlink()
    (project / "gone.md").unlink()
    result = world.update(project)
    assert "K README.md" in lines(result)
    assert result.exit_code == 0
    assert not (project / "README.md").exists()
    assert answers_of(project)["deleted"] == ["README.md"]
    assert world.update(project).updates == []
    assert not (project / "README.md").exists()


def test_rename_carries_the_edits(world: World) -> None:
    project = world.generate()
    old = project / "OLDNAME.md"
    old.write_text(old.read_text().replace("Line one", "Line ONE, mine"))
    result = world.update(project)
    assert "R OLDNAME.md -> NEWNAME.md" in lines(result)
    assert result.exit_code == 0
    assert not old.exists()
    assert (project / "NEWNAME.md").read_text() == (
        "Line ONE, mine\nLine two\nLine three of my-app\nLine four\n"
    )


def test_rename_onto_a_file_of_the_user_overwrites_nothing(world: World) -> None:
    project = world.generate()
    (project / "NEWNAME.md").write_text("My own file of that name.\n")
    result = world.update(project)
    assert {"D OLDNAME.md", "C NEWNAME.md"} <= set(lines(result))
    assert "My own file of that name.\n" in (project / "NEWNAME.md").read_text()


def test_new_template_where_the_user_has_a_file_is_an_add_add_conflict(world: World) -> None:
    project = world.generate()
    (project / "added.md").write_text("Mine.\n")
    result = world.update(project)
    assert "C added.md" in lines(result)
    assert result.exit_code == 1
    text = (project / "added.md").read_text()
    assert text.startswith("<<<<<<< yours\nMine.\n||||||| tac-bootstrap")
    assert "Added to my-app.\n>>>>>>> tac-bootstrap" in text


def test_same_new_file_is_no_conflict(world: World) -> None:
    project = world.generate()
    (project / "added.md").write_text("Added to my-app.\n")
    result = world.update(project)
    assert not any("added.md" in line for line in lines(result))


def test_base_that_does_not_verify_is_a_whole_file_conflict(world: World) -> None:
    project = world.generate()
    answers = answers_of(project)
    files = answers["files"]
    assert isinstance(files, dict)
    files["README.md"] = sha256(b"something else was generated")
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers))
    (project / "README.md").write_text("# Mine\n")
    result = world.update(project)
    [conflict] = [u for u in result.updates if u.path == "README.md"]
    assert conflict.code == "C"
    assert "cannot be reproduced" in conflict.reason
    text = (project / "README.md").read_text()
    assert text.startswith(f"<<<<<<< yours\n# Mine\n||||||| tac-bootstrap {OLD}\n=======\n")


def test_crlf_file_is_merged_and_stays_crlf(world: World) -> None:
    project = world.generate()
    readme = project / "README.md"
    text = readme.read_text().replace("\n", "\r\n")
    readme.write_bytes(("# Mine\r\n" + text.split("\r\n", 1)[1]).encode())
    assert world.update(project).exit_code == 0
    merged = readme.read_bytes()
    assert merged.startswith(b"# Mine\r\n")
    assert README_FOOTER.encode() not in merged
    assert merged.count(b"\n") == merged.count(b"\r\n")


def test_a_later_update_of_the_same_versions_keeps_the_earlier_backups(world: World) -> None:
    project = world.generate()
    readme = project / "README.md"
    readme.write_text("# Mine\n" + readme.read_text().split("\n", 1)[1])
    world.update(project)
    backups = project / ".tac-bootstrap" / "backup"
    befores = []
    for count, description in enumerate(("First.", "Second."), start=2):
        readme.write_text(readme.read_text().replace("# Mine", f"# Mine {count}", 1))
        befores.append(readme.read_bytes())
        assert world.update(project, data={"description": description}).exit_code == 0
        assert sorted(p.name for p in backups.iterdir()) == [
            f"{OLD}-{__version__}",
            *(f"{__version__}-{__version__}" + (f".{n}" if n > 1 else "") for n in range(1, count)),
        ]
    for n, before in enumerate(befores, start=1):
        suffix = f".{n}" if n > 1 else ""
        assert (
            backups / f"{__version__}-{__version__}{suffix}" / "README.md"
        ).read_bytes() == before
    assert readme.read_text().startswith("# Mine 3 2\n")


def killed_run(world: World) -> tuple[Path, Path, str]:
    """An edited project whose update was killed at its third write: it, its backups, the folder."""
    project = edited_project(world)
    with pytest.MonkeyPatch.context() as patch:
        Killer(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            world.update(project)
    return project, project / ".tac-bootstrap" / "backup", f"{OLD}-{__version__}"


def test_a_killed_run_leaves_a_marker_that_the_run_again_follows(world: World) -> None:
    project, backups, folder = killed_run(world)
    assert sorted(p.name for p in backups.iterdir()) == [folder, f"{folder}.running"]
    answers = (project / ".tac-bootstrap.json").read_bytes()
    assert (backups / f"{folder}.running").read_text() == (
        f"tac-bootstrap update: running marker\n{hashlib.sha256(answers).hexdigest()}\n"
    )
    assert world.update(project).exit_code == 1
    assert sorted(p.name for p in backups.iterdir()) == [folder]


def test_the_marker_of_a_run_of_0_4_1_killed_is_still_followed(world: World) -> None:
    """0.4.1 wrote the sha256 alone: its interrupted run is resumed and its marker removed."""
    project, backups, folder = killed_run(world)
    answers = (project / ".tac-bootstrap.json").read_bytes()
    (backups / f"{folder}.running").write_text(hashlib.sha256(answers).hexdigest() + "\n")
    assert world.update(project).exit_code == 1
    assert sorted(p.name for p in backups.iterdir()) == [folder]  # resumed: no folder .2


@pytest.mark.parametrize("name", [f"{OLD}-{__version__}.running", "0.1.0-0.4.0.running"])
def test_a_file_of_the_persons_holding_what_a_marker_held_is_left_alone(
    world: World, name: str
) -> None:
    """A sha256 and a newline, what markers held up to 0.4.1, was taken for a marker."""
    project = edited_project(world)
    (project / "jobs").mkdir()
    content = hashlib.sha256(b"a nightly job").hexdigest() + "\n"
    (project / "jobs" / name).write_text(content)
    (project / ".tac-bootstrap").mkdir()
    (project / ".tac-bootstrap" / "backup").symlink_to("../jobs")  # backups kept in a folder
    assert world.update(project).exit_code == 1
    assert (project / "jobs" / name).read_text() == content
    assert [p.name for p in (project / "jobs").glob("*.running")] == [name]


@pytest.mark.parametrize(
    "kept", ["state.json", "sub/notes.md", "README.md and state.json"], ids=str.split
)
def test_a_file_of_the_persons_beside_a_folder_of_the_same_name_is_left_alone(
    world: World, kept: str
) -> None:
    """Beside a folder of that name, a sha256 and a newline was taken for a 0.4.1 marker and
    deleted: an update's backup folder holds copies of the project's files, nothing else."""
    project = edited_project(world)
    jobs = project / "jobs"
    for rel in kept.split(" and "):
        (jobs / "0.1.0-0.4.1" / rel).parent.mkdir(parents=True, exist_ok=True)
        (jobs / "0.1.0-0.4.1" / rel).write_text("the person's\n")
    content = hashlib.sha256(b"a nightly job").hexdigest() + "\n"
    (jobs / "0.1.0-0.4.1.running").write_text(content)
    (project / ".tac-bootstrap").mkdir()
    (project / ".tac-bootstrap" / "backup").symlink_to("../jobs")  # backups kept in a folder
    assert world.update(project).exit_code == 1
    assert (jobs / "0.1.0-0.4.1.running").read_text() == content


def test_a_marker_naming_another_answers_file_is_not_resumed(world: World) -> None:
    project = world.generate()
    world.update(project)
    folder = project / ".tac-bootstrap" / "backup" / f"{__version__}-{__version__}"
    folder.mkdir()
    (folder / "README.md").write_text("what a killed run backed up\n")
    marker = folder.with_name(f"{folder.name}.running")
    marker.write_text("0" * 64 + "\n")
    assert world.update(project, data={"description": "Other."}).exit_code == 0
    assert (folder / "README.md").read_text() == "what a killed run backed up\n"
    assert not marker.exists()
    assert (folder.with_name(f"{folder.name}.2") / "README.md").is_file()


@pytest.mark.parametrize("kind", ["folder", "pipe", "dangling link", "link to a project file"])
def test_a_non_file_named_like_a_marker_is_left_alone(world: World, kind: str) -> None:
    project = edited_project(world)
    backups = project / ".tac-bootstrap" / "backup"
    backups.mkdir(parents=True)
    odd = backups / "other.running"
    if kind == "folder":
        odd.mkdir()
    elif kind == "pipe":
        os.mkfifo(odd)  # opening it would wait for a writer forever
    elif kind == "dangling link":
        odd.symlink_to("nowhere")
    else:
        odd.symlink_to(project / "notes.txt")
    assert world.update(project).exit_code == 1
    assert odd.is_symlink() or odd.exists()
    assert (project / "notes.txt").read_text() == "my own file\n"


def test_a_file_not_named_as_update_names_markers_is_left_alone(world: World) -> None:
    project = edited_project(world)
    (project / "jobs").mkdir()
    (project / "jobs" / "nightly.running").write_text("a file of the person's\n")
    (project / ".tac-bootstrap").mkdir()
    (project / ".tac-bootstrap" / "backup").symlink_to("../jobs")  # backups kept in a folder
    assert world.update(project).exit_code == 1
    assert (project / "jobs" / "nightly.running").read_text() == "a file of the person's\n"
    assert [p.name for p in (project / "jobs").glob("*.running")] == ["nightly.running"]


@pytest.mark.parametrize(
    "name",
    ["2024-11.running", "1-2.running", f"{OLD}-{__version__}.running", "0.1.0-0.4.0.running"],
)
def test_a_file_of_the_persons_named_like_a_marker_is_left_alone(world: World, name: str) -> None:
    project = edited_project(world)
    (project / "jobs").mkdir()
    (project / "jobs" / name).write_text("a nightly job's state\n")
    (project / ".tac-bootstrap").mkdir()
    (project / ".tac-bootstrap" / "backup").symlink_to("../jobs")  # backups kept in a folder
    assert world.update(project).exit_code == 1
    assert (project / "jobs" / name).read_text() == "a nightly job's state\n"
    assert [p.name for p in (project / "jobs").glob("*.running")] == [name]


def test_data_changes_the_new_render(world: World) -> None:
    project = world.generate()
    result = world.update(project, data={"description": "Now described."})
    assert result.exit_code == 0
    data = answers_of(project)["data"]
    assert isinstance(data, dict)
    assert data["description"] == "Now described."
    assert b"Now described." in (project / "pyproject.toml").read_bytes()


def edited_project(world: World) -> Path:
    project = world.generate("My.App", orchestrator=True)
    readme = project / "README.md"
    readme.write_text(
        "# Mine\n" + readme.read_text().split("\n", 1)[1].replace(README_FOOTER, "Mine.\n")
    )
    (project / "logo.bin").write_bytes(b"\x00 mine")
    (project / "gone.md").write_text("kept\n")
    (project / "added.md").write_text("mine\n")
    old = project / "OLDNAME.md"
    old.write_text(old.read_text().replace("Line one", "Line ONE"))
    (project / "tests" / "test_my_app.py").unlink()
    (project / "notes.txt").write_text("my own file\n")
    return project


def test_dry_run_writes_nothing_and_returns_the_same_exit_code(world: World) -> None:
    project = edited_project(world)
    before = tree(project)
    dry = world.update(project, dry_run=True)
    assert tree(project) == before
    assert dry.exit_code == 1
    assert "-# My.App" in dry.render_text() or "--- README.md (now)" in dry.render_text()
    real = world.update(project)
    assert [u.line() for u in real.updates] == [u.line() for u in dry.updates]
    assert real.exit_code == dry.exit_code


class Killer:
    """Count the writes and deletions of a run, and stop it (like Ctrl-C) after some of them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stop_after: int | None) -> None:
        self.calls, self.stop_after = 0, stop_after
        real_write, real_unlink, real_remove = update._write, Path.unlink, confine.remove

        def write(root: Path, rel: str, content: bytes, **kwargs: Any) -> None:
            self.count()
            real_write(root, rel, content, **kwargs)

        def remove(path: Path) -> None:  # a deletion, in its folder through no link
            self.count()
            real_remove(path)

        def unlink(path: Path, missing_ok: bool = False) -> None:
            self.count()
            real_unlink(path, missing_ok)

        monkeypatch.setattr(update, "_write", write)
        monkeypatch.setattr(update, "remove", remove)
        monkeypatch.setattr(Path, "unlink", unlink)

    def count(self) -> None:
        self.calls += 1
        if self.stop_after is not None and self.calls > self.stop_after:
            raise KeyboardInterrupt


def test_a_killed_run_converges_when_run_again(world: World) -> None:
    reference = edited_project(world)
    pristine = world.tmp / "pristine"  # the edited project, copied for each step
    shutil.copytree(reference, pristine, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        killer = Killer(patch, None)
        world.update(reference)
    expected, steps = tree(reference), killer.calls
    assert steps >= 8
    for stop_after in range(steps):
        shutil.rmtree(reference)
        project = shutil.copytree(pristine, reference, symlinks=True)
        with pytest.MonkeyPatch.context() as patch:
            Killer(patch, stop_after)
            with pytest.raises(KeyboardInterrupt):
                world.update(project)
        if (project / ".tac-bootstrap.json").read_bytes() == expected[".tac-bootstrap.json"]:
            # Killed after its last write, the answers file: done but for removing its
            # marker, which names an answers file that is gone and is removed by the next run.
            markers = [name for name in tree(project) if name not in expected]
            assert markers == [f".tac-bootstrap/backup/{OLD}-{__version__}.running"]
            continue
        assert world.update(project).exit_code == 1
        assert tree(project) == expected, stop_after


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_temporary_file_of_a_killed_run_is_removed_by_the_run_again(world: World) -> None:
    project = edited_project(world)
    stale = project / f".README.md.{dead_pid()}.tmp"  # a kill -9 in the middle of a write
    stale.write_text("half a READ")
    others = [
        project / f".README.md.{os.getppid()}.tmp",  # a run still in progress
        project / ".README.md.x.tmp",
        project / f".notes.txt.{dead_pid()}.tmp",
    ]
    for path in others:
        path.write_text("not this run's\n")
    assert "C README.md" in world.update(project).render_text()  # written, with markers
    assert not stale.exists()
    assert all(path.exists() for path in others)


def test_ctrl_c_while_writing_a_file_leaves_no_temporary_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = edited_project(world)

    def interrupted(*_: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(update, "move", interrupted)  # update's rename of its file
    with pytest.raises(KeyboardInterrupt):
        world.update(project)
    assert not [path for path in project.rglob("*.tmp")]


@pytest.mark.parametrize("name", ["README.md", ".tac-bootstrap.json", "project"])
def test_a_path_that_cannot_be_reached_is_refused_not_a_traceback(
    world: World, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # What a folder without the x permission does to a user who is not root.
    project = edited_project(world)
    before = tree(project)
    real_stat = Path.stat

    def stat(self: Path, *, follow_symlinks: bool = True) -> os.stat_result:
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(Path, "stat", stat)
    with pytest.raises(TacBootstrapError, match=r"^cannot read .*: Permission denied$"):
        world.update(project)
    monkeypatch.undo()
    assert tree(project) == before


REFUSALS: list[tuple[str, Callable[[Path], None], str]] = [
    ("no answers", lambda p: (p / ".tac-bootstrap.json").unlink(), "does not exist"),
    ("not json", lambda p: set_text(p, "{"), "not a valid answers file"),
    ("downgrade", lambda p: set_answer(p, "version", "99.0.0"), "newer than this"),
    (
        "unrecorded",
        lambda p: set_answer(p, "version", "0.0.0"),
        r"^\.tac-bootstrap\.json: this tac-bootstrap has no record of version 0\.0\.0's",
    ),
    (
        "unrecorded spelling",  # version_key reads it as 0.1.0, but no release is recorded so
        lambda p: set_answer(p, "version", "0.01.0"),
        r"^\.tac-bootstrap\.json: this tac-bootstrap has no record of version 0\.01\.0's",
    ),
    ("bad name", lambda p: set_answer(p, "name", "../x"), "is a path, not a name"),
    ("outside", lambda p: add_file_hash(p, "../outside.txt"), "not a safe path"),
    ("absolute", lambda p: add_file_hash(p, "/etc/passwd"), "not a safe path"),
    (
        "conflict outside",
        lambda p: set_answer(p, "conflicts", ["../x.md"]),
        r"\.tac-bootstrap\.json is not a valid answers file: conflicts: '\.\./x\.md' is not a safe",
    ),
    (
        "deleted outside",
        lambda p: set_answer(p, "deleted", ["/etc/passwd"]),
        r"\.tac-bootstrap\.json is not a valid answers file: deleted: '/etc/passwd' is not a safe",
    ),
    ("link out", lambda p: link_out(p), "outside"),
    ("markers", lambda p: plant_markers(p), "conflict markers of an earlier update"),
    ("backup link", lambda p: link_backups_out(p), "outside"),
    ("file for a folder", lambda p: block_a_new_folder(p), "must be a folder"),
    (
        "delete through a link",
        lambda p: record_through_link(p, "lnk", "src", "lnk/my_app/__init__.py"),
        r"lnk/my_app/__init__\.py is src/my_app/__init__\.py through a link, a file this update",
    ),
    (
        "delete in .git through a link",
        lambda p: record_through_link(p, "lnk", ".git", "lnk/config"),
        r"lnk/config is \.git/config through a link, under a git folder",
    ),
    (
        "delete in .git's real folder",
        lambda p: record_in_linked_git(p, "realgit/config", as_file=False),
        r"realgit/config is under a git folder \.git/ \(\.git leads there\)",
    ),
    (
        "delete in .git's real folder through another link",
        lambda p: record_in_linked_git(p, "lnk/config", as_file=False),
        r"lnk/config is realgit/config through a link, under a git folder",
    ),
    (
        "delete in the folder a .git file names",
        lambda p: record_in_linked_git(p, "realgit/config", as_file=True),
        r"realgit/config is under a git folder \.git/ \(\.git leads there\)",
    ),
    (
        "name too long for its backup's temporary file",
        lambda p: record_unedited(p, "n" * 250, b"mine\n"),
        r"files: 'n{70,}\.\.\. is too long for update to back up and replace",
    ),
]


def record_unedited(project: Path, rel: str, content: bytes) -> None:
    """Write a file no template renders and record it: update deletes it, after a backup."""
    (project / rel).write_bytes(content)
    answers = answers_of(project)
    files = answers["files"]
    assert isinstance(files, dict)
    files[rel] = sha256(content)
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers))


def record_through_link(project: Path, link: str, target: str, rel: str) -> None:
    """Record ``rel``, another name (through ``link``) of a file the project has, as generated."""
    git = project / ".git"
    git.mkdir()
    (git / "config").write_text("[core]\n")
    (project / link).symlink_to(target)
    answers = answers_of(project)
    files = answers["files"]
    assert isinstance(files, dict)
    files[rel] = sha256((project / rel).read_bytes())  # unedited: update would delete it
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers))


def record_in_linked_git(project: Path, rel: str, *, as_file: bool) -> None:
    """Record ``rel``, a file of git's folder ``realgit`` that ``.git`` links (or points) to."""
    git = project / "realgit"
    git.mkdir()
    (git / "config").write_text("[core]\n")
    if as_file:  # as in a worktree or a submodule
        (project / ".git").write_text("gitdir: realgit\n")
    else:
        (project / ".git").symlink_to("realgit")
    (project / "lnk").symlink_to("realgit")
    answers = answers_of(project)
    files = answers["files"]
    assert isinstance(files, dict)
    files[rel] = sha256((project / rel).read_bytes())  # unedited: update would delete it
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers))


def block_a_new_folder(project: Path) -> None:
    (project / ".tac-bootstrap").write_text("a file where update keeps its backups\n")


def link_backups_out(project: Path) -> None:
    outside = project.parent / "elsewhere"
    outside.mkdir()
    (project / ".tac-bootstrap").symlink_to(outside)


def set_text(project: Path, text: str) -> None:
    (project / scaffold.ANSWERS_FILE).write_text(text)


def set_answer(project: Path, key: str, value: object) -> None:
    answers = answers_of(project)
    answers[key] = value
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers))


def add_file_hash(project: Path, rel: str) -> None:
    answers = answers_of(project)
    files = answers["files"]
    assert isinstance(files, dict)
    files[rel] = sha256(b"")
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers))


def link_out(project: Path) -> None:
    outside = project.parent / "outside.md"
    outside.write_text("not yours to touch\n")
    (project / "README.md").unlink()
    (project / "README.md").symlink_to(outside)


def plant_markers(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(
        readme.read_text() + "<<<<<<< yours\nx\n=======\ny\n>>>>>>> tac-bootstrap 0.0.0\n"
    )


@pytest.mark.parametrize(("case", "damage", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_write_nothing(
    world: World, case: str, damage: Callable[[Path], None], message: str
) -> None:
    project = world.generate()
    damage(project)
    before = tree(project)
    outside = [p for p in world.tmp.iterdir() if p.name not in {"project", "scratch"}]
    with pytest.raises(TacBootstrapError, match=message) as info:
        world.update(project)
    assert info.value.exit_code == 2, case
    assert tree(project) == before
    assert [p for p in world.tmp.iterdir() if p.name not in {"project", "scratch"}] == outside
    if (world.tmp / "elsewhere").exists():
        assert list((world.tmp / "elsewhere").iterdir()) == []


def test_render_error_writes_nothing(world: World) -> None:
    project = edited_project(world)
    (world.new / "project" / "broken.md.j2").write_text("{{ oops\n")
    before = tree(project)
    with pytest.raises(TacBootstrapError, match=r"broken\.md\.j2"):
        world.update(project)
    assert tree(project) == before


def installed(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``tac-bootstrap`` script with ``args``; its output as text."""
    exe = Path(sys.executable).with_name("tac-bootstrap")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, check=False, cwd=cwd, env=env
    )


def in_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command in this process, as the script would; its output as text.

    For the cases about what a command reads and writes, not about its process (the script's
    own cases run it). An exception the command does not turn into its error line fails the
    test, as a traceback would.
    """
    with pytest.MonkeyPatch.context() as patch:
        if cwd is not None:
            patch.chdir(cwd)
        result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def project_made_by_0_1_0(tmp_path: Path, case: str) -> tuple[Path, dict[str, Any]]:
    """Write ``tmp_path/project`` as 0.1.0 made it from a golden answers file; its answers."""
    answers = json.loads((GOLDEN / "0.1.0" / f"{case}.json").read_text())
    project = tmp_path / "project"
    files = releases.render("0.1.0", answers)
    write_tree(project, {path: f.content for path, f in files.items()})
    (project / scaffold.ANSWERS_FILE).write_text(json.dumps(answers, indent=2))
    return project, answers


@pytest.mark.parametrize("case", ["plain", "orchestrator", "odd-name"])
def test_real_0_1_0_project_updates_to_a_fresh_init(tmp_path: Path, case: str) -> None:
    project, answers = project_made_by_0_1_0(tmp_path, case)
    result = update.update(project)
    assert result.exit_code == 0
    fresh = tmp_path / "fresh"
    spec = ProjectSpec.build(
        answers["name"], with_orchestrator=answers["with_orchestrator"], data=answers["data"]
    )
    scaffold.init(spec, fresh)
    assert without_backups(tree(project)) == tree(fresh)


@pytest.mark.parametrize("command", [["update"], ["update", "--dry-run"], ["sync-check"]])
def test_a_generated_folder_linked_into_git_is_neither_written_nor_read(
    tmp_path: Path, command: list[str]
) -> None:
    # With src -> .git/src in a 0.1.0 project, `update` rewrote .git/src/my_app/py.typed
    # (exit 0), and `sync-check` read git's files as the project's (exit 0).
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    (project / ".git").mkdir()
    shutil.move(project / "src", project / ".git" / "src")
    (project / "src").symlink_to(".git/src", target_is_directory=True)
    before = tree(project / ".git")
    proc = in_process(*command, "--root", str(project))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ")
    assert proc.stderr.count("\n") == 1
    assert "under a git folder .git/ (through a symlink: .git/src/" in proc.stderr
    assert tree(project / ".git") == before


# Sends SIGTERM to the installed script's process right after its first rename (confine.move,
# before update imports it) onto a file named STOP_ON.
STOP_AT_REPLACE_SITE = """
import os, signal
from tac_bootstrap import confine
real, fired = confine.move, []
def move(source, target):
    real(source, target)
    if not fired and os.path.basename(os.fspath(target)) == os.environ["STOP_ON"]:
        fired.append(target)
        os.kill(os.getpid(), signal.SIGTERM)
confine.move = move
"""


@pytest.mark.parametrize(
    ("stop_on", "said"),
    [
        (
            "test_readme.py",  # the last file of the project it writes
            "the update stopped with 26 of its 27 file(s) changed; backups of the files it "
            "changes are in .tac-bootstrap/backup/0.1.0-0.4.3.dev0/; run the same update again: "
            "it continues where it stopped",
        ),
        (".tac-bootstrap.json", "the update had changed its 27 file(s): nothing is left to do"),
    ],
    ids=["before-the-last-write", "after-the-last-write"],
)
def test_a_stopped_update_says_how_many_files_it_changed(
    tmp_path: Path, stop_on: str, said: str
) -> None:
    # It ended with `error: interrupted by SIGTERM` alone (exit 143), whether every file was
    # written (the answers file too) or 26 of them: the person could not tell which.
    project, _ = project_made_by_0_1_0(tmp_path, "orchestrator")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(STOP_AT_REPLACE_SITE)
    env = {**os.environ, "PYTHONPATH": str(site), "STOP_ON": stop_on}
    proc = installed("update", "--root", str(project), env=env)
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr.splitlines()[-1] == f"error: interrupted by SIGTERM; {said}"
    again = installed("update", "--root", str(project))
    assert again.returncode == 0, again.stderr
    done = "already at" in again.stderr
    assert done == ("nothing is left" in said), again.stderr
    assert list(project.rglob("*.running")) == []
    last = installed("update", "--root", str(project))
    assert "already at" in last.stderr


def test_a_stop_after_an_updates_last_write_names_the_conflicts_it_left(tmp_path: Path) -> None:
    # A SIGTERM after the answers file was written said `the update had changed its 27
    # file(s): nothing is left to do` on a project the update had left two conflicts in: the
    # lines that name them come after that step, so the person was not told.
    project, _ = project_made_by_0_1_0(tmp_path, "orchestrator")
    for rel, line in [
        ("README.md", "python -m pip install -e '.[dev]' && python -m pytest\n"),
        ("pyproject.toml", 'requires = ["hatchling>=1.24"]\n'),
    ]:
        text = (project / rel).read_text()
        assert line in text
        (project / rel).write_text(text.replace(line, "# my own line\n"))
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(STOP_AT_REPLACE_SITE)
    env = {**os.environ, "PYTHONPATH": str(site), "STOP_ON": scaffold.ANSWERS_FILE}
    proc = installed("update", "--root", str(project), env=env)
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "error: interrupted by SIGTERM; the update had changed its 27 file(s); 2 need(s) you: "
        "README.md (in conflict), pyproject.toml (in conflict); resolve each conflict, then run "
        "`tac-bootstrap sync-check`"
    )
    assert "<<<<<<< yours\n# my own line\n" in (project / "README.md").read_text()
    assert answers_of(project)["conflicts"] == ["README.md", "pyproject.toml"]


# (link, where it leads, the file moved there first, what update says: None = it runs)
FILE_LINKS = {
    "unchanged-file": ("src/my_app/__init__.py", "../../other/init.py", True, None),
    "written-file": ("README.md", "other/README.md", True, "(a symlink to other/README.md)"),
    "written-file-chain": ("README.md", "links/l1", True, "(a symlink to other/README.md)"),
    "into-git": ("src/my_app/__init__.py", "../../.git/config", False, "refusing to read it"),
    "to-nothing": ("src/my_app/__init__.py", "nowhere.py", False, "(a symlink); move it"),
    "loop": ("src/my_app/__init__.py", "__init__.py", False, "(a symlink); move it"),
}


@pytest.mark.parametrize("command", [["update"], ["update", "--dry-run"]], ids=["run", "dry-run"])
@pytest.mark.parametrize(("link", "target", "moved", "said"), FILE_LINKS.values(), ids=FILE_LINKS)
def test_a_file_link_is_read_through_where_update_leaves_it_and_refused_where_it_writes(
    tmp_path: Path, command: list[str], link: str, target: str, moved: bool, said: str | None
) -> None:
    # src/my_app/__init__.py -> ../../other/init.py, a file this update leaves as it is: update
    # refused the project ("is not a regular file (a symlink)", exit 2) though sync-check and
    # sync read such a link. A link update would write through is still refused.
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n\ttoken = secret\n")
    (project / "links").mkdir()
    (project / "links" / "l1").symlink_to("../other/README.md")
    place = project / link
    if moved:
        (project / "other").mkdir()
        shutil.move(place, project / "other" / Path(target).name.replace("l1", "README.md"))
    else:
        place.unlink()
    place.symlink_to(target)
    before = tree(project)
    kept = {p: p.read_bytes() for p in (project / "other").glob("*")} if moved else {}
    proc = in_process(*command, "--root", str(project))
    assert "Traceback" not in proc.stderr
    assert "secret" not in proc.stdout + proc.stderr
    assert place.is_symlink()
    assert {p: p.read_bytes() for p in kept} == kept  # what a link leads to is never written
    if said is None:
        assert proc.returncode == 0, proc.stderr
        if "--dry-run" not in command:
            assert (project / "LICENSE").is_file()  # the update ran
    else:
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"error: {link} ")
        assert proc.stderr.count("\n") == 1
        assert said in proc.stderr
        assert tree(project) == before


def project_with_backups(tmp_path: Path) -> Path:
    """A 0.1.0 project whose update modifies files: it backs each up."""
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    return project


def project_only_adding(tmp_path: Path) -> Path:
    """A 0.1.0 project whose files update modifies are already as it writes them: 4 added."""
    project = project_with_backups(tmp_path)
    done, _ = project_made_by_0_1_0(tmp_path / "done", "plain")
    assert update.update(done).exit_code == 0
    for rel in tree(project):
        if rel != scaffold.ANSWERS_FILE:
            (project / rel).write_bytes((done / rel).read_bytes())
    return project


STATE_LINKS_INTO_GIT = {
    "state-folder": (".tac-bootstrap", ".git"),
    "backup-folder": (".tac-bootstrap/backup", "../.git/b"),
}


@pytest.mark.parametrize("backups", [True, False], ids=["with-backups", "only-added"])
@pytest.mark.parametrize("command", [["update"], ["update", "--dry-run"]], ids=["run", "dry-run"])
@pytest.mark.parametrize(
    ("link", "target"), STATE_LINKS_INTO_GIT.values(), ids=STATE_LINKS_INTO_GIT
)
def test_backups_are_not_written_into_git_through_a_link(
    tmp_path: Path, command: list[str], link: str, target: str, backups: bool
) -> None:
    # .tac-bootstrap -> .git: `update` wrote its backups into .git/backup/0.1.0-…/ (exit 0).
    # With no backup to make (only files added), it listed .git/b/ for its markers and
    # removed .git/b/0.0.1-0.0.2.running, a file in a marker's form (exit 0). Refused now
    # before anything there is read, listed or removed.
    project = project_with_backups(tmp_path) if backups else project_only_adding(tmp_path)
    (project / ".git" / "b").mkdir(parents=True)
    marker = b"tac-bootstrap update: running marker\n" + b"a" * 64 + b"\n"
    (project / ".git" / "b" / "0.0.1-0.0.2.running").write_bytes(marker)
    (project / ".git" / "backup").symlink_to("b", target_is_directory=True)
    (project / link).parent.mkdir(parents=True, exist_ok=True)
    (project / link).symlink_to(target, target_is_directory=True)
    before = tree(project)
    proc = in_process(*command, "--root", str(project))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "error: .tac-bootstrap/backup is under a git folder .git/ (through a symlink: .git/b): "
        "update keeps its backups and markers there; move the link away: nothing was read or "
        "written there\n"
    )
    assert tree(project) == before
    assert (project / ".git" / "b" / "0.0.1-0.0.2.running").read_bytes() == marker


STATE_LINKS_TO_NOTHING = {
    "state-loop": (".tac-bootstrap", ".tac-bootstrap", "a link that loops"),
    "state-loop-of-two": (".tac-bootstrap", "b", "a link that loops"),
    "state-to-nothing": (".tac-bootstrap", "nowhere", "a link to nothing"),
    "backup-loop": (".tac-bootstrap/backup", "backup", "a link that loops"),
    "backup-to-nothing": (".tac-bootstrap/backup", "nowhere", "a link to nothing"),
}


@pytest.mark.parametrize("backups", [True, False], ids=["with-backups", "only-added"])
@pytest.mark.parametrize("command", [["update"], ["update", "--dry-run"]], ids=["run", "dry-run"])
@pytest.mark.parametrize(
    ("link", "target", "what"), STATE_LINKS_TO_NOTHING.values(), ids=STATE_LINKS_TO_NOTHING
)
def test_a_state_folder_that_loops_is_a_link_to_nothing(
    tmp_path: Path, command: list[str], link: str, target: str, what: str, backups: bool
) -> None:
    # .tac-bootstrap -> .tac-bootstrap (a loop): update read .tac-bootstrap/backup/0.1.0-….running
    # and stopped, exit 2 `cannot read …: Too many levels of symbolic links`, even with no
    # backup to make, where .tac-bootstrap -> nowhere passed (exit 0). Now both pass with
    # nothing to back up, and both are refused, naming the link, with backups to make;
    # nothing is ever written or removed through the link.
    project = project_with_backups(tmp_path) if backups else project_only_adding(tmp_path)
    (project / link).parent.mkdir(parents=True, exist_ok=True)
    (project / link).symlink_to(target, target_is_directory=True)
    if target == "b":
        (project / "b").symlink_to(link, target_is_directory=True)
    before = tree(project)
    proc = in_process(*command, "--root", str(project))
    assert "Traceback" not in proc.stderr
    assert (project / link).is_symlink()
    assert (project / link).readlink() == Path(target)
    if backups:
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == (
            f"error: {link} is {what}, where .tac-bootstrap/backup/0.1.0-{__version__}/"
            ".gitignore needs a folder; move it away first\n"
        )
        assert tree(project) == before
    else:
        assert proc.returncode == 0, proc.stderr
        assert ("LICENSE" in tree(project)) == ("--dry-run" not in command)
    check = in_process("sync-check", "--no-cache", "--root", str(project))
    assert check.returncode == 0, check.stdout + check.stderr  # it reads nothing there


LINKS_CHANGED_AFTER_THE_PLAN = {
    "src-into-git": ("src", ".git/src", "src/my_app/py.typed", "under a git folder .git/"),
    "github-into-git": (".github", ".git", ".github/workflows/ci.yml", "under a git folder .git/"),
    "src-into-state": ("src", ".tac-bootstrap", "src/my_app/py.typed", "under update's own folder"),
    "state-into-git": (
        ".tac-bootstrap",
        ".git",
        f".tac-bootstrap/backup/0.1.0-{__version__}.running",
        "under a git folder .git/",
    ),
}


@pytest.mark.parametrize(
    ("link", "to", "shown", "said"),
    LINKS_CHANGED_AFTER_THE_PLAN.values(),
    ids=LINKS_CHANGED_AFTER_THE_PLAN,
)
def test_a_link_changed_after_the_plan_into_git_is_not_written_through(
    tmp_path: Path, link: str, to: str, shown: str, said: str
) -> None:
    # src -> .git/src made between update's plan and its writes: update wrote
    # .git/src/my_app/py.typed (exit 0); .tac-bootstrap -> .git: its backups went into
    # .git/backup/ and .git/backup/0.0.1-0.0.2.running, a file in a marker's form, was removed.
    # Each write and removal is checked again: the update stops there, as on a failed write.
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    (project / ".git" / "src" / "my_app").mkdir(parents=True)
    (project / ".git" / "backup").mkdir()
    marker = b"tac-bootstrap update: running marker\n" + b"a" * 64 + b"\n"
    (project / ".git" / "backup" / "0.0.1-0.0.2.running").write_bytes(marker)
    the_plan = update.plan(project)
    if to == ".tac-bootstrap":  # a link to nothing now is refused before the first write
        (project / to).mkdir()
    if (project / link).is_dir():
        shutil.move(project / link, tmp_path / "moved")
    (project / link).symlink_to(to, target_is_directory=True)
    git_before = tree(project / ".git")
    with pytest.raises(UpdateStoppedError) as raised:
        update.apply(the_plan)
    assert str(raised.value).startswith(f"cannot write {shown}: it is {said}"), raised.value
    assert "through a link changed since the plan" in str(raised.value)
    assert tree(project / ".git") == git_before
    assert not (project / ".tac-bootstrap").exists() or (project / link).is_symlink()
    assert in_process("update", "--dry-run", "--root", str(project)).returncode == 2


@pytest.mark.parametrize(
    ("to", "what"), [("nowhere", "a link to nothing"), ("src", "a link that loops")]
)
def test_a_folder_made_a_link_to_nothing_after_the_plan_is_named(
    tmp_path: Path, to: str, what: str
) -> None:
    # src -> nowhere made between update's plan and its writes: the update stopped with
    # "cannot write src/my_app/py.typed: File exists: the update stopped with 6 of its 9 file(s)
    # changed" (-> src, a loop: "cannot read src/my_app/py.typed: Too many levels of symbolic
    # links"), naming the file, not the link to move away. Now the link is named, as the plan does.
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    the_plan = update.plan(project)
    shutil.move(project / "src", tmp_path / "moved")
    (project / "src").symlink_to(to)
    before = tree(project)
    with pytest.raises(update.UpdateRefusedError) as refused:
        update.apply(the_plan)
    assert str(refused.value) == (
        f"src is {what}, where src/my_app/py.typed needs a folder; move it away first"
    )
    assert tree(project) == before  # refused before its first write
    (project / "src").unlink()
    shutil.move(tmp_path / "moved", project / "src")
    real_write = update._write

    def made_a_link_at_the_first_write_under_src(
        root: Path, rel: str, content: bytes, **kw: str
    ) -> None:
        if rel.startswith("src/") and not (project / "src").is_symlink():
            shutil.move(project / "src", tmp_path / "moved")
            (project / "src").symlink_to(to)
        real_write(root, rel, content, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(update, "_write", made_a_link_at_the_first_write_under_src)
        with pytest.raises(UpdateStoppedError) as stopped:
            update.apply(the_plan)
    assert str(stopped.value).startswith(
        f"cannot write src/my_app/py.typed: src became {what} since the plan, where it needs a "
        "folder; move it away: the update stopped with "
    ), stopped.value
    assert not (tmp_path / "nowhere").exists()
    again = in_process("update", "--root", str(project))  # the plan names it too
    assert again.returncode == 2
    assert again.stderr.startswith(f"error: src is {what}, where src/my_app/"), again.stderr
    assert again.stderr.endswith(" needs a folder; move it away first\n"), again.stderr


def test_a_folder_made_a_link_out_of_the_project_while_update_writes_is_a_stop(
    tmp_path: Path,
) -> None:
    # src/my_app -> ../../outside made after update's first writes: it ended `error:
    # src/my_app/py.typed resolves to …/outside/py.typed, outside …: refusing to read or write
    # it`, a refusal, where files were changed, backups made and a marker left: not said.
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    (tmp_path / "outside").mkdir()
    the_plan = update.plan(project)
    real_write = update._write

    def made_a_link_at_the_first_write_under_src(
        root: Path, rel: str, content: bytes, **kw: str
    ) -> None:
        folder = project / "src" / "my_app"
        if rel.startswith("src/") and not folder.is_symlink():
            shutil.move(folder, tmp_path / "moved")
            folder.symlink_to("../../outside", target_is_directory=True)
        real_write(root, rel, content, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(update, "_write", made_a_link_at_the_first_write_under_src)
        with pytest.raises(UpdateStoppedError) as stopped:
            update.apply(the_plan)
    said = str(stopped.value)
    assert said.startswith("cannot write src/my_app/py.typed: src/my_app/py.typed resolves to ")
    assert ": a link changed since the plan leads there: the update stopped with 6 of its 9" in said
    assert list((tmp_path / "outside").iterdir()) == []


def test_every_recorded_option_is_kept(tmp_path: Path) -> None:
    """An update keeps the options the project was generated with (the database, ...)."""
    options = {"with_orchestrator": True, "db": "postgres"}
    project, fresh = tmp_path / "project", tmp_path / "fresh"
    scaffold.init(ProjectSpec.build("pg-app", **options), project)  # type: ignore[arg-type]
    result = update.update(project, {"description": "Changed."})
    assert result.exit_code == 0
    spec = ProjectSpec.build("pg-app", **options, data={"description": "Changed."})  # type: ignore[arg-type]
    scaffold.init(spec, fresh)
    assert without_backups(tree(project)) == tree(fresh)


def test_cli_lines_summary_and_json(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    project = edited_project(world)
    real_update = update.update
    monkeypatch.setattr(
        update,
        "update",
        lambda root, data, dry_run: real_update(root, data, dry_run=dry_run, sources=world.sources),
    )
    runner = CliRunner()
    dry = runner.invoke(app, ["update", "--root", str(project), "--dry-run", "--format", "json"])
    assert dry.exit_code == 1, dry.output
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True
    assert {f["line"] for f in report["files"]} >= {"C README.md", "C logo.bin", "K gone.md"}
    result = runner.invoke(app, ["update", "--root", str(project)])
    assert result.exit_code == 1
    assert [f["line"] for f in report["files"]] == result.stdout.splitlines()
    assert f"update: updated {OLD} -> {__version__}: " in result.stderr
    assert "needs you:" in result.stderr
    again = runner.invoke(app, ["update", "--root", str(project)])
    assert again.exit_code == 2
    assert again.stderr.startswith("error: the last update left conflicts in ")


@pytest.mark.parametrize("args", [[], ["--dry-run"]], ids=["run", "dry-run"])
def test_the_json_document_starts_with_its_version_as_the_error_form_does(
    tmp_path: Path, args: list[str]
) -> None:
    # `update --format json` of a current project printed {"ok": true, "from": ...}: no
    # `version` nor `tac_bootstrap` key, which its exit-2 form and sync-check's report have.
    project = tmp_path / "project"
    scaffold.init(ProjectSpec.build("json-app"), project)
    command = ["update", "--root", str(project), "--format", "json", *args]
    proc = installed(*command)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc)[:3] == ["version", "tac_bootstrap", "ok"]
    assert (doc["version"], doc["tac_bootstrap"], doc["ok"]) == (1, __version__, True)
    (project / scaffold.ANSWERS_FILE).unlink()
    proc = installed(*command)
    assert proc.returncode == 2
    assert list(json.loads(proc.stdout))[:3] == ["version", "tac_bootstrap", "ok"]


def test_cli_refuses_without_answers(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["update", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "does not exist" in result.stderr


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_an_update_with_nothing_to_back_up_needs_no_folder_of_its_own(
    tmp_path: Path, dry_run: bool
) -> None:
    """A file of the person's at .tac-bootstrap (update's folder) refused an update that had
    nothing to do, dry run too (exit 2: ".tac-bootstrap must be a folder to write
    .tac-bootstrap/backup/<v>-<v>.running"): the marker was checked, never written."""
    project = tmp_path / "project"
    scaffold.init(ProjectSpec.build("my-app"), project)
    (project / ".tac-bootstrap").write_text("mine\n")
    before = tree(project)
    the_plan = update.plan(project, dry_run=dry_run)
    assert (the_plan.writes, the_plan.backups, the_plan.deletes) == ({}, {}, [])
    if not dry_run:
        update.apply(the_plan)
    assert the_plan.summary() == f"update: already at tac-bootstrap {__version__}; nothing to do"
    assert tree(project) == before


def test_a_postgres_project_keeps_its_database_and_its_files(tmp_path: Path) -> None:
    project = tmp_path / "project"
    spec = ProjectSpec.build("my-app", with_orchestrator=True, db="postgres")
    scaffold.init(spec, project)
    before = tree(project)
    result = update.update(project)
    assert result.exit_code == 0
    assert not result.deletes
    assert answers_of(project)["db"] == "postgres"
    assert without_backups(tree(project)) == before


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root writes another's files"
)
def test_update_run_by_root_keeps_the_owners_of_the_project(world: World) -> None:
    """Files rewritten by rename, new files and folders were left owned by root."""
    project = world.generate()
    theirs, other = (4321, 4322), (4323, 4324)  # users with no name here: owners all the same
    for path in [project, *project.rglob("*")]:
        os.chown(path, *theirs, follow_symlinks=False)
    os.chown(project / "README.md", *other)  # one file of another user: it stays theirs
    world.update(project)
    owners = {
        path.relative_to(project).as_posix(): (path.lstat().st_uid, path.lstat().st_gid)
        for path in project.rglob("*")
    }
    assert "added.md" in owners  # a new file
    assert any(rel.startswith(".tac-bootstrap/backup/") for rel in owners)  # new folders
    assert owners.pop("README.md") == other
    # Its backup is theirs too (with its mode): the project's owner may not read a copy of it.
    assert owners.pop(f".tac-bootstrap/backup/{OLD}-{__version__}/README.md") == other
    assert {rel: owner for rel, owner in owners.items() if owner != theirs} == {}


def test_a_file_is_not_written_in_a_folder_turned_into_a_link(
    monkeypatch: pytest.MonkeyPatch,
    folder_turned_link: tuple[Path, Path, Callable[[], None]],
) -> None:
    root, outside, swap = folder_turned_link
    remove_stale = update._remove_stale_tmp

    def checked_then_swapped(path: Path) -> None:
        remove_stale(path)
        swap()  # the folder checked becomes a link out

    monkeypatch.setattr(update, "_remove_stale_tmp", checked_then_swapped)
    with pytest.raises(TacBootstrapError, match=r"d/f\.txt: changed while in use"):
        update._write(root, "d/f.txt", b"new\n")
    assert list(outside.iterdir()) == []
    assert (root / "old/f.txt").read_text() == "mine\n"


def chattr(path: Path, flags: str) -> None:
    """Set a file's attributes (chattr +i, +a), or skip where this user or file system cannot."""
    done = subprocess.run(["chattr", flags, str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr {flags} not allowed here: {done.stderr.decode().strip()}")


@pytest.mark.skipif(shutil.which("chattr") is None, reason="no chattr")
@pytest.mark.parametrize(("flag", "rel"), [("+i", "README.md"), ("+a", "gone.md")])
def test_an_immutable_or_append_only_file_stops_update_before_its_first_write(
    world: World, flag: str, rel: str
) -> None:
    """Rename over such a file fails even for root: the update stopped halfway, files written."""
    project = world.generate()
    before = tree(project)
    chattr(project / rel, flag)
    try:
        with pytest.raises(TacBootstrapError, match=rf"^cannot write {rel}: it is immutable"):
            world.update(project)
        assert tree(project) == before
    finally:
        subprocess.run(["chattr", "-i", "-a", str(project / rel)], check=True)
    assert world.update(project).exit_code == 0


@pytest.mark.skipif(shutil.which("chattr") is None, reason="no chattr")
def test_an_immutable_file_update_leaves_as_it_is_does_not_stop_it(world: World) -> None:
    project = world.generate()
    chattr(project / "same.bin", "+i")
    try:
        assert world.update(project).exit_code == 0
    finally:
        subprocess.run(["chattr", "-i", str(project / "same.bin")], check=True)


def run_unless_it_waits(project: Path, action: Callable[[], object]) -> list[str]:
    """Run ``action`` in a thread; fail if it still waits after 10 s (on a pipe: release it)."""
    import threading

    errors: list[str] = []

    def run() -> None:
        try:
            action()
        except TacBootstrapError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        for pipe in [p for p in project.rglob("*") if p.is_fifo()]:
            with pipe.open("wb"):  # a writer comes and goes: the waiting reader reads an end
                pass
        thread.join(10)
        pytest.fail("it waited for a writer on a pipe that took a file's place")
    return errors


@pytest.mark.parametrize("other", ["pipe", "folder"])
def test_an_answers_file_turned_into_a_pipe_while_update_plans_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, other: str
) -> None:
    """A pipe: update waited forever for a writer; a folder: an IsADirectoryError traceback."""
    project = world.generate()
    answers = project / scaffold.ANSWERS_FILE
    real = update._answers_bytes

    def then_a_pipe(*args: Any) -> bytes:  # the file is swapped after update has read it
        answers.unlink()
        if other == "pipe":
            os.mkfifo(answers)
        else:
            answers.mkdir()
        return real(*args)

    monkeypatch.setattr(update, "_answers_bytes", then_a_pipe)
    errors = run_unless_it_waits(project, lambda: world.update(project))
    what = "a FIFO" if other == "pipe" else "a folder"  # was "a folder or a link" for both
    answers_file = project / scaffold.ANSWERS_FILE  # named as every command names it
    assert errors == [f"{answers_file} is not a regular file ({what})"]  # the file it needs


@pytest.mark.parametrize("other", ["pipe", "link"])
def test_a_marker_name_taken_by_a_pipe_as_update_ends_is_left_alone(
    world: World, monkeypatch: pytest.MonkeyPatch, other: str
) -> None:
    """Seen a regular file, then opened as a pipe: update waited forever at its very end."""
    project = world.generate()
    backups = project / ".tac-bootstrap" / "backup"
    backups.mkdir(parents=True)
    name = backups / "1-2.running"
    name.write_text("a" * 64 + "\n")  # what a marker holds
    real = update.confine

    def swapped(root: Path, rel: str) -> Path:  # after the check of its type, before the open
        if rel.endswith("/1-2.running") and name.is_file() and not name.is_symlink():
            name.unlink()
            if other == "pipe":
                os.mkfifo(name)
            else:
                name.symlink_to(project / "README.md")
        return real(root, rel)

    monkeypatch.setattr(update, "confine", swapped)
    assert run_unless_it_waits(project, lambda: world.update(project)) == []
    assert name.is_fifo() if other == "pipe" else name.is_symlink()


def test_a_dangling_link_where_a_new_folder_goes_stops_update_before_its_first_write(
    world: World,
) -> None:
    """Made as a folder, the link failed with "File exists" halfway through the update."""
    write_tree(world.new, {"project/sub/new.md.j2": "New in a new folder.\n"})
    project = world.generate()
    (project / "sub").symlink_to("nowhere")
    before = tree(project)
    with pytest.raises(TacBootstrapError, match=r"^sub is a link to nothing, where sub/new\.md"):
        world.update(project)
    assert tree(project) == before


def test_a_rewritten_file_keeps_its_extended_attributes(
    world: World, set_user_xattr: Callable[[Path], None]
) -> None:
    """The file moved in its place had none: user.* attributes, an ACL were lost."""
    project = edited_project(world)
    readme = project / "README.md"
    set_user_xattr(readme)
    before = readme.read_bytes()
    assert "C README.md" in world.update(project).render_text()  # written, with markers
    assert readme.read_bytes() != before
    assert os.getxattr(readme, "user.origin") == b"kept"


@pytest.mark.parametrize(
    ("other", "what"),
    [("fifo", "a FIFO"), ("socket", "a socket"), ("link", "a symlink to .gitignore")],
)
def test_a_generated_file_replaced_by_something_else_is_named_for_what_it_is(
    world: World, other: str, what: str
) -> None:
    """A FIFO or a socket where README.md was: "not a regular file (a folder or a link)"."""
    import socket

    project = world.generate()
    readme = project / "README.md"
    readme.unlink()
    if other == "fifo":
        os.mkfifo(readme)
    elif other == "socket":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(readme))
    else:
        readme.symlink_to(".gitignore")
    before = tree(project)
    errors = run_unless_it_waits(project, lambda: world.update(project))
    assert errors == [f"README.md is not a regular file ({what}); move it away first"]
    assert tree(project) == before


def test_a_backup_is_no_more_readable_than_the_file_it_keeps(world: World) -> None:
    """A README.md of mode 600 (the person's) was backed up as 644, readable by every user;
    a setuid file's backup kept no setuid, and must not get it."""
    project = world.generate()
    readme = project / "README.md"
    readme.write_text("# Mine\n" + readme.read_text().split("\n", 1)[1])
    readme.chmod(0o600)
    pyproject = project / "pyproject.toml"
    pyproject.chmod(0o4750)
    old_umask = os.umask(0o022)
    try:
        assert world.update(project).exit_code == 0
    finally:
        os.umask(old_umask)
    backup = project / ".tac-bootstrap" / "backup" / f"{OLD}-{__version__}"
    assert stat.S_IMODE((backup / "README.md").stat().st_mode) == 0o600
    if (backup / "pyproject.toml").exists():
        assert stat.S_IMODE((backup / "pyproject.toml").stat().st_mode) == 0o750
    assert stat.S_IMODE(readme.stat().st_mode) == 0o600


def cli(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Return a runner of the ``update`` command reading this world's releases."""
    real_update = update.update
    monkeypatch.setattr(
        update,
        "update",
        lambda root, data, dry_run: real_update(root, data, dry_run=dry_run, sources=world.sources),
    )
    return lambda *args: CliRunner().invoke(app, ["update", *args])


def test_a_hostile_line_in_the_dry_run_text_and_json_is_escaped_and_cut(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A README edited to hold a line of 30,000 characters of escapes, a bidi override and lone
    # CRs: the text printed that line whole (escaped), the JSON held it whole, with no
    # `truncated`; a README of 57 MB made an 89 MB document and an 82 MB line.
    project = world.generate()
    line = "\x1b[2J\u202eevil\r" * 3_000
    (project / "README.md").write_text(f"# mine\n{line}\n::error::pwned\n")
    run = cli(world, monkeypatch)
    text = run("--root", str(project), "--dry-run")
    assert text.exit_code == 1, text.output
    assert "C README.md\n--- README.md (now)\n" in text.stdout
    assert max(map(len, text.stdout.split("\n"))) <= 10_000
    assert "characters)…" in text.stdout
    assert not {"\x1b", "\u202e"} & set(text.stdout)
    assert "\r" not in text.stdout.replace("\r\n", "")
    doc = run("--root", str(project), "--dry-run", "--format", "json")
    files = {f["path"]: f for f in json.loads(doc.stdout)["files"]}
    assert files["README.md"]["truncated"] is True
    assert max(map(len, files["README.md"]["diff"].split("\n"))) <= 10_000
    assert "\x1b[2J\u202eevil\r" in files["README.md"]["diff"]  # JSON keeps characters whole
    assert not any(f["truncated"] for path, f in files.items() if path != "README.md")


def test_the_json_bounds_each_diff_and_the_diffs_of_the_document(tmp_path: Path) -> None:
    # Twelve new files of 1.5 million characters each: every diff was whole (18 MB).
    new = ("y" * 999 + "\n").encode() * 1_500
    the_plan = update.UpdatePlan(tmp_path, OLD, __version__, dry_run=True)
    the_plan.updates = [update.FileUpdate("A", f"f{i}.txt", change=(b"", new)) for i in range(12)]
    files = json.loads(the_plan.render_json())["files"]
    diffs = [f["diff"] for f in files]
    assert all(len(d) <= 1_000_000 for d in diffs)
    assert sum(map(len, diffs)) <= 10_000_000
    assert diffs[0].startswith("--- /dev/null\n+++ f0.txt (updated)\n@@ ")
    assert diffs[0].endswith("y\n")
    assert len(diffs[0]) > 990_000
    assert len(diffs[10]) < 10_000  # what was left: the header and a few lines
    assert diffs[11].count("\n") == 3  # the header lines and the hunk's
    assert [f["truncated"] for f in files] == [True] * 12


def test_the_dry_run_text_leaves_out_the_diffs_past_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The text of a dry run printed every diff whole, however many and however long.
    the_plan = update.UpdatePlan(tmp_path, OLD, __version__, dry_run=True)
    changes = [(b"old\n", b"new\n"), (b"a\n", b"b\n"), (b"", b"\0binary"), (b"c\n", b"d\n")]
    the_plan.updates = [
        update.FileUpdate("M", f"f{i}.txt", change=change) for i, change in enumerate(changes)
    ]
    whole = the_plan.render_text()
    first = the_plan.updates[0].diff
    monkeypatch.setattr(update, "DIFF_BUDGET", len(first))
    note = (
        f"(not shown: the diffs of this update already hold {len(first):,} characters; "
        "compare the files with a diff tool)\n"
    )
    assert the_plan.render_text() == (
        f"M f0.txt\n{first}M f1.txt\n--- f1.txt (now)\n+++ f1.txt (updated)\n{note}"
        f"M f2.txt\nM f3.txt\n--- f3.txt (now)\n+++ f3.txt (updated)\n{note}"
    )
    assert whole.startswith(f"M f0.txt\n{first}M f1.txt\n--- f1.txt (now)\n")


@pytest.mark.parametrize(
    ("link", "target"), STATE_LINKS_INTO_GIT.values(), ids=STATE_LINKS_INTO_GIT
)
def test_a_stopped_update_is_not_looked_for_in_git(tmp_path: Path, link: str, target: str) -> None:
    # sync-check listed .git/b/ through .tac-bootstrap -> .git for update's markers, read the
    # start of each and named one in a marker's form as a stopped update; git's folder is not
    # update's: nothing in it is listed now (update refuses the link).
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    answers = (project / scaffold.ANSWERS_FILE).read_bytes()
    (project / ".git" / "b").mkdir(parents=True)
    marker = b"tac-bootstrap update: running marker\n" + sha256(answers).encode() + b"\n"
    (project / ".git" / "b" / "0.1.0-0.4.3.running").write_bytes(marker)
    (project / ".git" / "backup").symlink_to("b", target_is_directory=True)
    (project / link).parent.mkdir(parents=True, exist_ok=True)
    (project / link).symlink_to(target, target_is_directory=True)
    assert update.stopped_update(project) is None
    (project / link).unlink()  # the same marker in update's own folder is found
    shutil.copytree(project / ".git" / "b", project / update.BACKUP_DIR)
    assert update.stopped_update(project) == f"{update.BACKUP_DIR}/0.1.0-0.4.3.running"


@pytest.mark.parametrize(
    "command",
    [["sync-check", "--no-cache"], ["sync", "--dry-run"], ["update", "--dry-run"]],
    ids=["sync-check", "sync", "update"],
)
@pytest.mark.parametrize("name", ["pyproject.toml", scaffold.ANSWERS_FILE])
def test_a_manifest_or_answers_file_linked_into_git_is_not_read(
    tmp_path: Path, command: list[str], name: str
) -> None:
    # pyproject.toml -> .git/config: sync-check and sync read git's config as the manifest
    # (`cannot be read as TOML: … (at line 3, column 7)`), the answers file -> .git/config
    # as the answers (`not a valid answers file: not JSON: …`), where update refused both.
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    (project / ".git").mkdir()
    config = '[core]\n\tbare = false\n[http "https://github.com/"]\n\textraheader = ghp_TOKEN\n'
    (project / ".git" / "config").write_text(config)
    (project / name).unlink()
    (project / name).symlink_to(".git/config")
    proc = in_process(*command, "--root", ".", cwd=project)
    if command[0] == "sync" and name != "pyproject.toml":
        assert proc.returncode == 2  # sync does not read the answers file: no manifest
        assert "no [tool.tac-bootstrap.sync] manifest" in proc.stderr
        return
    assert proc.returncode == 2, proc.stdout
    said = "refusing to read it" if command[0] != "update" or name == "pyproject.toml" else ""
    if said:
        assert proc.stderr == (
            f"error: {name} is under a git folder .git/ (through a symlink: .git/config): {said}\n"
        )
    else:  # update refuses any answers file that is a link
        assert proc.stderr.startswith(f"error: {name} is not a regular file (a symlink to .git/")
    assert "ghp_TOKEN" not in proc.stdout + proc.stderr


NAMED_THE_SAME = {
    "manifest-into-git": ("pyproject.toml", "git", "p/pyproject.toml is under a git folder .git/"),
    "answers-a-fifo": (".tac-bootstrap.json", "fifo", "p/.tac-bootstrap.json is not a regular"),
    "answers-a-folder": (".tac-bootstrap.json", "dir", "p/.tac-bootstrap.json is not a regular"),
    "answers-to-nothing": (".tac-bootstrap.json", "nowhere", "p/.tac-bootstrap.json is not a"),
}


@pytest.mark.parametrize("command", [["sync-check", "--no-cache"], ["update", "--dry-run"]])
@pytest.mark.parametrize(("name", "kind", "said"), NAMED_THE_SAME.values(), ids=NAMED_THE_SAME)
def test_the_manifest_and_answers_file_are_named_alike_by_every_command(
    tmp_path: Path, command: list[str], name: str, kind: str, said: str
) -> None:
    # Run from the project's parent with --root p: update said `error: pyproject.toml is under
    # a git folder .git/ …` where sync-check, sync and migration new say `p/pyproject.toml`;
    # sync-check said `.tac-bootstrap.json is not a regular file (a folder, a dangling link, a
    # device)` where its other answers-file errors say `p/.tac-bootstrap.json`.
    project, _ = project_made_by_0_1_0(tmp_path / "w", "plain")
    project = project.rename(tmp_path / "p")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (project / name).unlink()
    if kind == "git":
        (project / name).symlink_to(".git/config")
    elif kind == "fifo":
        os.mkfifo(project / name)
    elif kind == "dir":
        (project / name).mkdir()
    else:
        (project / name).symlink_to("nowhere")
    proc = in_process(*command, "--root", "p", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"error: {said}"), proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def plain_0_1_0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project as 0.1.0 made it, made once: each test that only reads it takes a copy."""
    return project_made_by_0_1_0(tmp_path_factory.mktemp("plain-0.1.0"), "plain")[0]


@pytest.mark.parametrize("when", ["before", "at-its-open"])
@pytest.mark.parametrize("kind", ["fifo", "dir"])
@pytest.mark.parametrize(
    "command", [["sync-check", "--no-cache"], ["update", "--dry-run"], ["update"]]
)
def test_an_answers_file_not_a_file_for_a_moment_is_said_one_way(
    plain_0_1_0: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    kind: str,
    when: str,
) -> None:
    # The answers file a FIFO or a folder while a command ran was said three ways: `cannot
    # read .tac-bootstrap.json: not a regular file` (a FIFO at the open), `.tac-bootstrap.json
    # is not a regular file` (one at the look before it) and `p/.tac-bootstrap.json is not a
    # regular file (a FIFO); move it away first` (update, of the file it needs).
    project = tmp_path / "p"
    shutil.copytree(plain_0_1_0, project, symlinks=True)
    answers = project / scaffold.ANSWERS_FILE

    def not_a_file() -> None:
        answers.unlink()
        if kind == "fifo":
            os.mkfifo(answers)
        else:
            answers.mkdir()

    if when == "before":
        not_a_file()
    else:
        real = confine.read_file

        def swapped_at_the_open(path: Path | str, *, resolved: bool = False) -> bytes:
            if Path(path).name == scaffold.ANSWERS_FILE and answers.is_file():
                not_a_file()
            return real(path, resolved=resolved)

        monkeypatch.setattr(confine, "read_file", swapped_at_the_open)
    proc = in_process(*command, "--root", "p", cwd=tmp_path)
    what = "a FIFO" if kind == "fifo" else "a folder"
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"error: p/.tac-bootstrap.json is not a regular file ({what})\n"


@pytest.fixture
def answers_swapped_for_a_fifo(plain_0_1_0: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the 0.1.0 project whose answers file is moved aside and a FIFO put in its place.

    Returns the project, its answers file's path (now the FIFO) and where the file is kept.
    """
    project = tmp_path / "p"
    shutil.copytree(plain_0_1_0, project, symlinks=True)
    answers = project / scaffold.ANSWERS_FILE
    kept = tmp_path / "kept.json"
    answers.rename(kept)
    os.mkfifo(answers)
    return project, answers, kept


@pytest.mark.parametrize("reader", ["sync-check", "update"])
def test_an_answers_file_back_from_a_moment_away_is_read_not_called_a_device(
    answers_swapped_for_a_fifo: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    reader: str,
) -> None:
    # Renamed away and back while looked at: not a file at the first look, a file at the
    # next, it was `p/.tac-bootstrap.json is not a regular file (a device)` (sync-check) and
    # `… (a device); move it away first` (update): a regular file is neither folder, FIFO
    # nor socket.
    project, answers, kept = answers_swapped_for_a_fifo
    data = kept.read_bytes()
    real_is_file = Path.is_file

    def back_after_the_look(path: Path) -> bool:
        found = real_is_file(path)
        if path.name == scaffold.ANSWERS_FILE and kept.exists():
            answers.unlink()
            kept.rename(answers)
        return found

    monkeypatch.setattr(Path, "is_file", back_after_the_look)
    if reader == "sync-check":
        proc = in_process("sync-check", "--no-cache", "--root", "p", cwd=project.parent)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith("sync-check: "), proc.stderr  # its summary, no error
    else:
        assert update._read(project, scaffold.ANSWERS_FILE) == data
    assert not kept.exists()


@pytest.mark.parametrize("back", [True, False])
def test_an_answers_file_gone_for_a_moment_is_not_called_a_symlink(
    answers_swapped_for_a_fifo: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    back: bool,
) -> None:
    # A FIFO in its place, then no name at all (the FIFO removed, the file not back yet):
    # sync-check said `p/.tac-bootstrap.json is not a regular file (a symlink)`, where no
    # link ever was. Back at once, it is read as the file it is; still gone, it is absent.
    project, answers, kept = answers_swapped_for_a_fifo
    real_lexists, real_stat = os.path.lexists, Path.stat
    gone = []

    def gone_after_the_look(path: str | os.PathLike[str]) -> bool:
        found = real_lexists(path)
        if Path(path).name == scaffold.ANSWERS_FILE and Path(path).is_fifo():
            answers.unlink()
            gone.append(path)
        return found

    def back_after_the_stat(path: Path, *, follow_symlinks: bool = True) -> os.stat_result:
        try:
            return real_stat(path, follow_symlinks=follow_symlinks)
        finally:
            if back and gone and path.name == scaffold.ANSWERS_FILE and kept.exists():
                kept.rename(answers)

    monkeypatch.setattr(os.path, "lexists", gone_after_the_look)
    monkeypatch.setattr(Path, "stat", back_after_the_stat)
    proc = in_process("sync-check", "--no-cache", "--root", "p", cwd=project.parent)
    assert "symlink" not in proc.stderr
    if back:
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith("sync-check: "), proc.stderr  # its summary, no error
    else:
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == (
            "error: p/.tac-bootstrap.json does not exist; "
            "is p a project generated by tac-bootstrap?\n"
        )


@pytest.mark.parametrize("command", [["sync-check", "--no-cache"], ["update", "--dry-run"]])
@pytest.mark.parametrize("to", [".", ".."])
def test_a_state_folder_linked_to_the_project_is_named_as_the_link(
    tmp_path: Path, command: list[str], to: str
) -> None:
    # .tac-bootstrap -> . put every file under update's own folder, each refused naming
    # itself: `error: .tac-bootstrap.json: 'README.md' is under update's own folder
    # .tac-bootstrap/ (through a symlink: .tac-bootstrap): refusing to read it`.
    project, _ = project_made_by_0_1_0(tmp_path, "plain")
    (project / ".tac-bootstrap").symlink_to(to, target_is_directory=True)
    before = tree(project)
    proc = in_process(*command, "--root", ".", cwd=project)
    assert proc.returncode == 2, proc.stdout
    held = os.path.realpath(project / to)
    if command[0] == "update" and to == "..":  # its backups would leave the project: said so
        assert proc.stderr.startswith("error: .tac-bootstrap/backup/0.1.0-0.4.3.dev0.running ")
        assert proc.stderr.endswith(", outside .: refusing to read or write it\n")
        return
    assert proc.stderr == (
        f"error: .tac-bootstrap is a symbolic link to {held}, the project's folder or a folder "
        "holding it: every file would be under update's own folder; move the link away\n"
    )
    assert tree(project) == before
