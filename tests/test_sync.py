"""sync-check and sync: every kind of problem, its exit code and message, three ways.

Through the library (``sync.check`` / ``sync.fix``), through Typer's CliRunner, and a few
through the installed ``tac-bootstrap`` script in a subprocess. Each test copies the fake
repository in ``tests/fixtures/syncrepo`` into ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tac_bootstrap import agreement, confine, sync
from tac_bootstrap import manifest as manifest_module
from tac_bootstrap.checkcache import CACHE_ENV
from tac_bootstrap.cli import app
from tac_bootstrap.errors import TacBootstrapError, TemplateRenderError
from tac_bootstrap.manifest import Agreement, Manifest, ManifestError, Pair
from tac_bootstrap.report import Problem, unified_diff

#: The ``after_each_look`` fixture (conftest): a hook run after each look at a path.
AfterEachLook = Callable[[Path, Callable[[int], None]], list[object]]

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"
EXE = Path(sys.executable).with_name("tac-bootstrap")


@pytest.fixture(autouse=True)
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every cache of these tests under tmp_path, never in the user's cache folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    return cache


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def edit_pair(root: Path, name: str, old: str, new: str) -> None:
    """Edit a BASE file and its template alike, so that only agreement can complain."""
    edit(root / "pkg" / "orch" / name, old, new)
    edit(root / "templates" / "orch" / f"{name}.j2", old, new)


# --- clean ---------------------------------------------------------------------------------


def test_clean_repo_passes(repo: Path) -> None:
    report = sync.check(repo)
    assert report.ok
    assert report.checked == 6  # five pairs and the agreement
    assert report.render_text() == ""


def test_clean_repo_exits_0_with_summary_on_stderr(repo: Path) -> None:
    code, out, err = invoke("sync-check", "--root", str(repo))
    assert (code, out) == (0, "")
    assert err == "sync-check: 6 check(s): ok\n"


# --- drift ---------------------------------------------------------------------------------


def test_drift_without_history_names_both_remedies(repo: Path) -> None:
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    code, out, err = invoke("sync-check", "--root", str(repo), "--no-cache")
    assert code == 1
    assert out.startswith(
        "pkg/orch/hello.py:3: drift: BASE differs from what templates/orch/hello.py.j2 renders"
    )
    assert '-GREETING = "hey"\n+GREETING = "hi"\n' in out
    assert err == "sync-check: 6 check(s): 1 problem(s)\n"


def test_base_drift_after_a_clean_check(repo: Path) -> None:
    assert invoke("sync-check", "--root", str(repo))[0] == 0
    edit(repo / "pkg/orch/plain.txt", "no Jinja", "no Jinja at all")
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert out.startswith(
        "pkg/orch/plain.txt:1: drift: BASE edited since the last clean check and no "
        "longer what templates/orch/plain.txt.j2 renders: copy the edit into the template "
        "(`tac-bootstrap sync --from base`) or undo it (`tac-bootstrap sync`)\n"
        "--- pkg/orch/plain.txt (BASE)\n"
        "+++ pkg/orch/plain.txt (rendered from templates/orch/plain.txt.j2)\n"
    )


def test_template_drift_after_a_clean_check(repo: Path) -> None:
    assert invoke("sync-check", "--root", str(repo))[0] == 0
    edit(repo / "templates/orch/schema.sql.j2", "-- Schema of", "-- The schema of")
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert out.startswith(
        "pkg/orch/schema.sql:1: drift: templates/orch/schema.sql.j2 changed since "
        "the last clean check and now renders differently from this BASE: rewrite the BASE "
        "with `tac-bootstrap sync`\n"
    )


def test_included_template_change_is_a_template_change(repo: Path) -> None:
    assert sync.check(repo, cache_dir=repo.parent / "c").ok
    edit(repo / "templates/partials/header.j2", "Generated for", "Made for")
    report = sync.check(repo, cache_dir=repo.parent / "c")
    assert [(p.kind, p.path, p.line, p.changed) for p in report.problems] == [
        ("drift", "pkg/orch/hello.py", 1, "template")
    ]


def test_context_change_is_not_a_template_change(repo: Path) -> None:
    assert sync.check(repo, cache_dir=repo.parent / "c").ok
    edit(repo / "pyproject.toml", 'greeting = "hi"', 'greeting = "ho"')
    [problem] = sync.check(repo, cache_dir=repo.parent / "c").problems
    assert (problem.kind, problem.path, problem.changed) == (
        "drift",
        "pkg/orch/hello.py",
        "context",
    )
    assert problem.message.startswith("the manifest's context for this pair changed")
    assert "templates/orch/hello.py.j2 changed" not in problem.message


def test_kinds_do_not_depend_on_the_cache(repo: Path) -> None:
    assert sync.check(repo, cache_dir=repo.parent / "c").ok
    edit(repo / "pkg/orch/plain.txt", "Plain", "Fancy")
    warm = sync.check(repo, cache_dir=repo.parent / "c").problems
    cold = sync.check(repo).problems
    assert [(p.kind, p.path, p.line) for p in warm] == [(p.kind, p.path, p.line) for p in cold]
    assert (warm[0].changed, cold[0].changed) == ("base", None)


# --- the skip cache ------------------------------------------------------------------------


def test_unchanged_pairs_are_skipped_and_touch_does_not_invalidate(repo: Path) -> None:
    cache = repo.parent / "c"
    first = sync.check(repo, cache_dir=cache)
    assert (first.ok, first.skipped) == (True, 0)
    for path in repo.rglob("*"):
        os.utime(path, (1, 1))  # timestamps are not part of any key
    second = sync.check(repo, cache_dir=cache)
    assert (second.ok, second.checked, second.skipped) == (True, 6, 6)


def test_a_drifted_pair_is_never_skipped(repo: Path) -> None:
    cache = repo.parent / "c"
    assert sync.check(repo, cache_dir=cache).ok
    edit(repo / "pkg/orch/plain.txt", "Plain", "Fancy")
    # The agreement is checked once more: plain.txt lies beside the models, which may read it.
    for skipped in (4, 5):
        report = sync.check(repo, cache_dir=cache)
        assert [(p.kind, p.changed) for p in report.problems] == [("drift", "base")]
        assert report.skipped == skipped


def test_models_edited_while_checked_are_not_recorded_as_agreeing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Broken when the check began, fixed before the child imported them (an editor's save):
    # the check passes, but the broken files it never saw must not be recorded as agreeing.
    cache = repo.parent / "c"
    edit_pair(repo, "models.py", '"owners"', '"ownerz"')
    real = agreement.check_agreement

    def fixed_meanwhile(
        root: Path, agreed: Agreement, _started: object = None, _shared: object = None
    ) -> list[Problem]:
        edit_pair(root, "models.py", '"ownerz"', '"owners"')
        return real(root, agreed)  # a child started now imports the fixed models

    monkeypatch.setattr(agreement, "check_agreement", fixed_meanwhile)
    assert sync.check(repo, cache_dir=cache).ok
    monkeypatch.undo()
    edit_pair(repo, "models.py", '"owners"', '"ownerz"')
    report = sync.check(repo, cache_dir=cache)
    assert report.problems
    assert {p.kind for p in report.problems} == {"agreement"}


def test_all_skipped_imports_neither_jinja2_nor_pydantic(repo: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from tac_bootstrap import sync\n"
        f"r = sync.check(Path({str(repo)!r}), cache_dir=Path({str(repo.parent / 'c')!r}))\n"
        "print(r.ok, r.skipped, 'jinja2' in sys.modules, 'pydantic' in sys.modules)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout == "True 0 True False\n"  # the models are described in a child
    assert runs[1].stdout == "True 6 False False\n"


def test_unwritable_cache_is_ignored(repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    assert sync.check(repo, cache_dir=blocker).ok
    assert sync.check(repo, cache_dir=blocker).skipped == 0


def test_a_template_edited_while_it_renders_is_not_recorded_as_clean(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = repo.parent / "c"
    render = sync._Templates.render

    def render_then_edit(self: sync._Templates, pair: Pair) -> bytes:
        text = render(self, pair)  # the template as it was: renders to the BASE
        if pair.base == "pkg/orch/plain.txt":
            edit(repo / "templates/orch/plain.txt.j2", "Plain", "Fancy")  # a save meanwhile
        return text

    monkeypatch.setattr(sync._Templates, "render", render_then_edit)
    assert sync.check(repo, cache_dir=cache).ok  # what it read agreed
    monkeypatch.undo()
    # The record holds the template that was rendered, so the edit is seen next time.
    cached = sync.check(repo, cache_dir=cache)
    assert [(p.kind, p.path) for p in cached.problems] == [("drift", "pkg/orch/plain.txt")]


def test_models_edited_while_they_are_checked_are_not_recorded_as_agreeing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tac_bootstrap import agreement

    cache = repo.parent / "c"
    start = agreement.start

    def start_then_edit(root: Path, found: object) -> agreement.Children:
        children = start(root, found)  # type: ignore[arg-type]
        assert children.models is not None
        children.models.process.wait(timeout=60)  # it has read and described the models
        for rel in ("pkg/orch/models.py", "templates/orch/models.py.j2"):
            edit(repo / rel, "    note: str | None = None\n", "")  # a column the models lose
        return children

    monkeypatch.setattr(agreement, "start", start_then_edit)
    assert sync.check(repo, cache_dir=cache).ok  # what the child imported agreed
    monkeypatch.undo()
    cold = [(p.kind, p.path) for p in sync.check(repo).problems]
    assert cold  # the models as they are now lack a column
    assert [(p.kind, p.path) for p in sync.check(repo, cache_dir=cache).problems] == cold


def test_a_base_turned_into_a_link_out_after_it_was_confined_is_not_read(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    base_file = Manifest.base_file
    plain = repo / "pkg/orch/plain.txt"
    text = plain.read_bytes()

    def confine_then_swap(self: Manifest, rel: str) -> str:
        if plain.is_symlink():  # the file is back when looked at again
            plain.unlink()
            plain.write_bytes(text)
        path = base_file(self, rel)  # inside the root when confined
        if rel == "pkg/orch/plain.txt" and not hasattr(confine_then_swap, "done"):
            confine_then_swap.done = True  # type: ignore[attr-defined]
            plain.unlink()  # a link put in its place before it is opened
            plain.symlink_to(secret)
        return path

    monkeypatch.setattr(Manifest, "base_file", confine_then_swap)
    with pytest.raises(TacBootstrapError) as caught:
        sync.check(repo)
    assert "pkg/orch/plain.txt" in str(caught.value)
    assert "TOP SECRET" not in str(caught.value)


@pytest.mark.parametrize("command", ["check", "sync", "sync --from base"])
def test_a_templates_folder_turned_into_a_link_out_after_it_was_confined_is_not_used(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """The templates folder was resolved again at each read and write, so a link put in its
    place while the command ran was followed: `sync` rendered the templates it led to (outside
    the root) into the BASE files, and printed them."""
    outside = tmp_path / "outside"
    shutil.copytree(repo / "templates", outside)
    for template in outside.rglob("*.j2"):  # no Jinja logic: `--from base` would copy into them
        template.write_text("TOP SECRET\n")
    before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    for base in (repo / "pkg/orch").glob("*.py"):  # drift: every pair has something to write
        base.write_text(base.read_text() + "# edited\n")
    real_load = manifest_module.load_manifest

    def load_then_swap(root: Path) -> Manifest | None:
        manifest = real_load(root)  # the templates folder is inside the root when confined
        (repo / "templates").rename(repo / "templates.real")
        (repo / "templates").symlink_to(outside)  # a link put in its place, before any read
        return manifest

    monkeypatch.setattr(sync, "load_manifest", load_then_swap)
    run: Callable[[], object] = (
        (lambda: sync.check(repo, cache_dir=None))
        if command == "check"
        else (lambda: sync.fix(repo, from_base=command.endswith("base")))
    )
    with pytest.raises(TacBootstrapError) as caught:
        run()
    assert "outside" in str(caught.value)
    assert "TOP SECRET" not in str(caught.value)
    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == before
    assert not any("TOP SECRET" in p.read_text() for p in (repo / "pkg/orch").iterdir())


# --- unpaired and missing files ------------------------------------------------------------


def test_orphan_base_file(repo: Path) -> None:
    (repo / "pkg/orch/extra.py").write_text("X = 1\n")
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert out == (
        "pkg/orch/extra.py: orphan-base: BASE file with no template: add a pair for it to "
        "[tool.tac-bootstrap.sync] or list it in `unpaired`\n"
    )


def test_orphan_template(repo: Path) -> None:
    (repo / "templates/orch/sub").mkdir()
    (repo / "templates/orch/sub/extra.py.j2").write_text("X = 1\n")
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert out == (
        "templates/orch/sub/extra.py.j2: orphan-template: template with no BASE file: add a "
        "pair for it to [tool.tac-bootstrap.sync] or list it in `unpaired`\n"
    )


def test_unpaired_files_are_not_orphans(repo: Path) -> None:
    (repo / "pkg/orch/extra.py").write_text("X = 1\n")
    edit(repo / "pyproject.toml", 'unpaired = ["', 'unpaired = ["pkg/orch/extra.py", "')
    assert sync.check(repo).ok


def test_missing_base_file(repo: Path) -> None:
    (repo / "pkg/orch/plain.txt").unlink()
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert out == (
        "pkg/orch/plain.txt: missing-base: named by the manifest as the BASE of "
        "templates/orch/plain.txt.j2 but missing; `tac-bootstrap sync` creates it from the "
        "template\n"
    )


def test_missing_template(repo: Path) -> None:
    (repo / "templates/orch/plain.txt.j2").unlink()
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert out == (
        "templates/orch/plain.txt.j2: missing-template: named by the manifest as the template "
        "of pkg/orch/plain.txt but missing; `tac-bootstrap sync --from base` creates it from "
        "the BASE file\n"
    )


# --- could not run: exit 2, one line, no traceback -----------------------------------------


def test_undefined_variable_names_template_and_line(repo: Path) -> None:
    edit(repo / "templates/orch/hello.py.j2", "{{ greeting }}", "{{ greting }}")
    with pytest.raises(TemplateRenderError, match=r"^templates/orch/hello\.py\.j2:3: "):
        sync.check(repo)
    code, out, err = invoke("sync-check", "--root", str(repo))
    assert (code, out) == (2, "")
    assert err == "error: templates/orch/hello.py.j2:3: 'greting' is undefined\n"


def test_template_syntax_error_names_template_and_line(repo: Path) -> None:
    edit(repo / "templates/orch/schema.sql.j2", "{{ package }}", "{{ package }")
    code, out, err = invoke("sync-check", "--root", str(repo))
    assert (code, out) == (2, "")
    assert err.startswith("error: templates/orch/schema.sql.j2:1: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda r: (r / "pyproject.toml").unlink(), "nothing to check: no [tool.tac-bootstrap"),
        (
            lambda r: (r / "pyproject.toml").write_text("[tool.x]\n"),
            "nothing to check: no [tool.tac-bootstrap",
        ),
        (lambda r: (r / "pyproject.toml").write_text("[tool"), "cannot be read as TOML"),
        (
            lambda r: edit(r / "pyproject.toml", "base_globs", "base_glob"),
            "unknown key 'base_glob'",
        ),
        (lambda r: shutil.rmtree(r / "templates"), "folder 'templates' does not exist"),
        (lambda r: shutil.rmtree(r), "does not exist or is not a folder"),
    ],
    ids=["no-pyproject", "no-table", "bad-toml", "unknown-key", "no-templates", "no-root"],
)
def test_could_not_run_exits_2(repo: Path, setup: Callable[[Path], object], message: str) -> None:
    setup(repo)
    with pytest.raises(ManifestError, match=message.replace("[", r"\[")):
        sync.check(repo)
    code, out, err = invoke("sync-check", "--root", str(repo))
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert message in err


def test_models_module_that_fails_to_import_exits_2(repo: Path) -> None:
    edit_pair(repo, "models.py", "MODELS = (Owner, Task)", "MODELS = (Owner, Tsk)")
    code, _, err = invoke("sync-check", "--root", str(repo))
    assert code == 2
    assert err.startswith("error: ")
    assert "the models module fails to import: NameError" in err


# --- models, schema and database module ----------------------------------------------------

AGREEMENT = [
    (
        "models.py",
        "    note: str | None = None\n",
        "",
        "tasks.note: the model says no such field, the schema says column note TEXT",
    ),
    (
        "schema.sql",
        "    note TEXT,\n",
        "",
        "tasks.note: the model says field note: str | None, the schema says no such column",
    ),
    (
        "schema.sql",
        "name TEXT NOT NULL",
        "name TEXT",
        "owners.name: the model says NOT NULL, the schema says NULL allowed",
    ),
    (
        "schema.sql",
        "('todo', 'done')",
        "('todo', 'done', 'lost')",
        "tasks.status: the model says one of 'done', 'todo', the schema says one of 'done', "
        "'lost', 'todo'",
    ),
    (
        "schema.sql",
        "CHECK (priority >= 0)",
        "CHECK (priority > 0)",
        "tasks.priority: the model says >= 0, the schema says > 0",
    ),
    (
        "schema.sql",
        "priority INTEGER",
        "priority TEXT",
        "tasks.priority: the model says int (stored as INTEGER), the schema says TEXT "
        "(affinity TEXT)",
    ),
    (
        "schema.sql",
        " REFERENCES owners(id) ON DELETE CASCADE",
        "",
        "tasks.owner_id: the model says REFERENCES owners(id), the schema says no foreign key",
    ),
    (
        "schema.sql",
        " CHECK (json_valid(metadata))",
        "",
        "tasks.metadata: the model says JSON text (json_valid), the schema says not JSON",
    ),
    (
        "database.py",
        "SET status = 'done'",
        "SET state = 'done'",
        "statement \"UPDATE tasks SET state = 'done' WHERE id = :id\" does not prepare "
        "against the schema: no such column: state",
    ),
]


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    AGREEMENT,
    ids=[
        "extra-column",
        "missing-column",
        "nullability",
        "allowed-values",
        "bound",
        "type",
        "foreign-key",
        "json",
        "statement",
    ],
)
def test_disagreement_exits_1_and_names_it(
    repo: Path, name: str, old: str, new: str, message: str
) -> None:
    edit_pair(repo, name, old, new)
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert message in out, out
    assert out.count("\n") == 1  # exactly one problem: BASE and template were edited alike


def test_disagreement_points_at_the_schema_line(repo: Path) -> None:
    edit_pair(repo, "schema.sql", "name TEXT NOT NULL", "name TEXT")
    [problem] = sync.check(repo).problems
    assert (problem.kind, problem.path, problem.line) == ("agreement", "pkg/orch/schema.sql", 4)


def test_statement_problem_points_at_the_database_line(repo: Path) -> None:
    edit_pair(repo, "database.py", "FROM tasks WHERE owner_id", "FROM task WHERE owner_id")
    [problem] = sync.check(repo).problems
    assert (problem.kind, problem.path, problem.line) == ("database", "pkg/orch/database.py", 7)
    assert problem.message.endswith("does not prepare against the schema: no such table: task")


def test_agreement_is_skipped_when_unchanged(repo: Path) -> None:
    cache = repo.parent / "c"
    assert sync.check(repo, cache_dir=cache).ok
    edit_pair(repo, "schema.sql", "name TEXT NOT NULL", "name TEXT")
    report = sync.check(repo, cache_dir=cache)
    assert [p.kind for p in report.problems] == ["agreement"]


# --- formats -------------------------------------------------------------------------------


def test_json_format(repo: Path) -> None:
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    code, out, _ = invoke("sync-check", "--root", str(repo), "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert (data["ok"], data["checked"], len(data["problems"])) == (False, 6, 1)
    problem = data["problems"][0]
    assert (problem["kind"], problem["path"], problem["line"]) == ("drift", "pkg/orch/hello.py", 3)
    assert '+GREETING = "hi"' in problem["diff"]


def test_github_format(repo: Path) -> None:
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    (repo / "pkg/orch/extra.py").write_text("")
    code, out, _ = invoke("sync-check", "--root", str(repo), "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 3  # a drift of unknown history is annotated on both files
    assert lines[0].startswith(
        "::error file=pkg/orch/hello.py,line=3,title=sync-check drift::BASE differs from"
    )
    assert '%0A-GREETING = "hey"%0A+GREETING = "hi"%0A' in lines[0]
    assert lines[1].startswith("::error file=templates/orch/hello.py.j2,title=sync-check drift::")
    assert lines[2].startswith("::error file=pkg/orch/extra.py,title=sync-check orphan-base::")


def test_unknown_format_is_refused(repo: Path) -> None:
    code, _, err = invoke("sync-check", "--root", str(repo), "--format", "xml")
    assert code == 2
    assert "'xml' is not one of" in err


# --- sync ----------------------------------------------------------------------------------


def test_sync_rewrites_base_from_template(repo: Path) -> None:
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    (repo / "pkg/orch/plain.txt").unlink()
    code, out, err = invoke("sync", "--root", str(repo))
    assert code == 0
    assert out.startswith("rewrote pkg/orch/hello.py\n")
    assert "created pkg/orch/plain.txt\n" in out
    assert err == "sync: changed 2 file(s)\n"
    assert '"hi"' in (repo / "pkg/orch/hello.py").read_text()
    assert sync.check(repo).ok


def test_sync_dry_run_writes_nothing(repo: Path) -> None:
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    report = sync.fix(repo, dry_run=True)
    assert [(c.action, c.path) for c in report.changes] == [("rewrite", "pkg/orch/hello.py")]
    assert '"hey"' in (repo / "pkg/orch/hello.py").read_text()
    code, out, err = invoke("sync", "--root", str(repo), "--dry-run")
    assert (code, err) == (0, "sync: would change 1 file(s)\n")
    assert out.startswith("would rewrite pkg/orch/hello.py\n")


def test_sync_refused_partway_puts_back_what_it_rewrote(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move refused after others were made (a file mounted in place) left schema.sql and
    hello.py rewritten."""
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    edit(repo / "pkg/orch/schema.sql", "CREATE", "create")
    (repo / "pkg/orch/plain.txt").unlink()
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    move = confine.move  # each rename that puts a file in place

    def refuse(source: Path, to: Path) -> None:
        if to.name == "plain.txt" and source.name.endswith(".tmp"):
            raise PermissionError(1, "Operation not permitted")
        move(source, to)

    monkeypatch.setattr(confine, "move", refuse)
    code, out, err = invoke("sync", "--root", str(repo))
    assert (code, out, err) == (
        2,
        "",
        "error: cannot write pkg/orch/plain.txt: Operation not permitted\n",
    )
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_sync_on_a_clean_repo_changes_nothing(repo: Path) -> None:
    assert invoke("sync", "--root", str(repo)) == (0, "", "sync: changed 0 file(s)\n")


def test_sync_from_base_copies_into_a_template_without_logic(repo: Path) -> None:
    edit(repo / "pkg/orch/plain.txt", "no Jinja", "still no Jinja")
    code, out, _ = invoke("sync", "--root", str(repo), "--from", "base")
    assert code == 0
    assert out.startswith("rewrote templates/orch/plain.txt.j2\n")
    template = (repo / "templates/orch/plain.txt.j2").read_text()
    assert template == "Plain text: still no Jinja logic here.\n"
    assert sync.check(repo).ok


def test_sync_from_base_refuses_a_template_with_logic_and_shows_the_diff(repo: Path) -> None:
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    before = (repo / "templates/orch/hello.py.j2").read_bytes()
    code, out, err = invoke("sync", "--root", str(repo), "--from", "base")
    assert code == 1
    assert out.startswith(
        "templates/orch/hello.py.j2:3: template-logic: has Jinja logic, so the BASE edit "
        "cannot be copied into it automatically: apply this diff to the template by hand\n"
    )
    assert '-GREETING = "hi"\n+GREETING = "hey"\n' in out
    assert err == "sync: changed 0 file(s), refused 1\n"
    assert (repo / "templates/orch/hello.py.j2").read_bytes() == before


def test_sync_from_base_refuses_a_base_with_jinja_markup(repo: Path) -> None:
    edit(repo / "pkg/orch/plain.txt", "no Jinja", "{{ not Jinja }}")
    report = sync.fix(repo, from_base=True)
    assert [(p.kind, p.path) for p in report.refused] == [("base-markup", "pkg/orch/plain.txt")]
    assert report.changes == []


def test_sync_from_base_creates_a_missing_template(repo: Path) -> None:
    (repo / "templates/orch/plain.txt.j2").unlink()
    report = sync.fix(repo, from_base=True)
    assert [(c.action, c.path) for c in report.changes] == [
        ("create", "templates/orch/plain.txt.j2")
    ]
    assert sync.check(repo).ok


def _to_crlf(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def test_a_checkout_with_crlf_line_ends_passes(repo: Path) -> None:
    # git's core.autocrlf on Windows checks out every text file with CRLF: BASE and template
    # alike. The template then renders with CRLF, so the pair still agrees.
    for path in repo.rglob("*"):
        if path.is_file():
            _to_crlf(path)
    report = sync.check(repo)
    assert report.ok, [(p.kind, p.path, p.message) for p in report.problems]
    assert sync.fix(repo).changes == []


def test_a_base_differing_only_in_line_ends_says_so(repo: Path) -> None:
    _to_crlf(repo / "pkg/orch/hello.py")
    [problem] = sync.check(repo).problems
    assert (problem.kind, problem.path) == ("drift", "pkg/orch/hello.py")
    assert problem.message.startswith(
        "BASE differs from what templates/orch/hello.py.j2 renders only in its line ends "
        "(BASE CRLF, rendered LF)"
    )
    assert invoke("sync", "--root", str(repo))[0] == 0
    assert b"\r" not in (repo / "pkg/orch/hello.py").read_bytes()  # the template's line ends
    assert sync.check(repo).ok


def test_sync_from_base_copies_crlf_line_ends_into_the_template(repo: Path) -> None:
    edit(repo / "pkg/orch/plain.txt", "no Jinja", "still no Jinja")
    _to_crlf(repo / "pkg/orch/plain.txt")
    assert invoke("sync", "--root", str(repo), "--from", "base")[0] == 0
    template = (repo / "templates/orch/plain.txt.j2").read_bytes()
    assert template == b"Plain text: still no Jinja logic here.\r\n"
    assert sync.check(repo).ok


@pytest.mark.parametrize("text", [b"one\r\ntwo\n", b"one\rtwo\n"], ids=["mixed", "lone-cr"])
def test_sync_from_base_refuses_line_ends_a_template_cannot_keep(repo: Path, text: bytes) -> None:
    (repo / "pkg/orch/plain.txt").write_bytes(text)
    before = (repo / "templates/orch/plain.txt.j2").read_bytes()
    report = sync.fix(repo, from_base=True)
    assert [(p.kind, p.path) for p in report.refused] == [("base-markup", "pkg/orch/plain.txt")]
    assert (repo / "templates/orch/plain.txt.j2").read_bytes() == before


def test_sync_needs_a_manifest(tmp_path: Path) -> None:
    code, _, err = invoke("sync", "--root", str(tmp_path))
    assert code == 2
    assert err == f"error: {tmp_path}: no [tool.tac-bootstrap.sync] manifest in pyproject.toml\n"


# --- a generated project -------------------------------------------------------------------


def test_generated_project_edited_file(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    assert invoke("init", "my-app", "-o", str(project))[0] == 0
    assert invoke("sync-check", "--root", str(project)) == (0, "", "sync-check: 9 check(s): ok\n")
    with (project / "README.md").open("a") as f:
        f.write("A line of my own.\n")
    code, out, err = invoke("sync-check", "--root", str(project))
    assert code == 0
    assert "README.md:" in out
    assert ": note: edited: edited since generation: its sha256 differs from the one in " in out
    assert "+A line of my own.\n" in out
    assert err.endswith(" check(s): ok, 1 note(s) (--strict fails on them)\n")
    code, strict_out, _ = invoke("sync-check", "--root", str(project), "--strict")
    assert code == 1
    assert ": edited: edited since generation" in strict_out


@pytest.fixture
def orchestrator_project(tmp_path: Path) -> Path:
    project = tmp_path / "my-app"
    assert invoke("init", "my-app", "--with-orchestrator", "-o", str(project))[0] == 0
    return project


def diagram_problems(project: Path) -> list[str]:
    code, out, _ = invoke("sync-check", "--root", str(project), "--format", "json", "--no-cache")
    problems = json.loads(out)["problems"]
    assert code == (1 if problems else 0)
    return [f"{p['path']}:{p['line']}: {p['message']}" for p in problems if p["kind"] == "diagram"]


def test_generated_diagram_out_of_date_after_a_schema_change_until_sync(
    orchestrator_project: Path,
) -> None:
    schema = orchestrator_project / "src/my_app/schema_orchestrator.sql"
    assert diagram_problems(orchestrator_project) == []
    edit(schema, "    summary TEXT,\n", "    summary TEXT,\n    mood TEXT,\n")
    (problem,) = diagram_problems(orchestrator_project)
    assert problem.startswith("README.md:")
    assert "the erDiagram is out of date: src/my_app/schema_orchestrator.sql has changed" in (
        problem
    )
    code, out, err = invoke("sync", "--root", str(orchestrator_project))
    assert (code, err) == (0, "sync: changed 1 file(s)\n")
    assert out.startswith("rewrote README.md\n")
    assert "+        TEXT mood\n" in out
    assert diagram_problems(orchestrator_project) == []
    assert invoke("sync", "--root", str(orchestrator_project))[1] == ""  # nothing left to do


def test_generated_diagram_without_its_markers_is_reported_and_not_rewritten(
    orchestrator_project: Path,
) -> None:
    readme = orchestrator_project / "README.md"
    edit(readme, "<!-- erdiagram:end -->", "")
    before = readme.read_bytes()
    (problem,) = diagram_problems(orchestrator_project)
    assert "the <!-- erdiagram:start --> ... <!-- erdiagram:end --> block is missing" in problem
    code, out, err = invoke("sync", "--root", str(orchestrator_project))
    assert (code, err) == (1, "sync: changed 0 file(s), refused 1\n")
    assert out.startswith("README.md: diagram: no diagram to rewrite")
    assert readme.read_bytes() == before


def test_sync_redraws_only_the_diagram_and_keeps_the_rest_of_the_file_byte_for_byte(
    orchestrator_project: Path,
) -> None:
    readme = orchestrator_project / "README.md"
    _, sep, tail = readme.read_bytes().partition(b"<!-- erdiagram:start -->")
    mine = b"# Mine\r\n\r\nCRLF lines of my own.\r\n"
    readme.write_bytes(mine + sep + tail.replace(b"TEXT id PK", b"TEXT key PK", 1))
    assert len(diagram_problems(orchestrator_project)) == 1
    assert invoke("sync", "--root", str(orchestrator_project))[0] == 0
    assert readme.read_bytes() == mine + sep + tail
    assert diagram_problems(orchestrator_project) == []


def test_a_diagram_file_that_leaves_the_root_is_neither_read_nor_written(
    orchestrator_project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("<!-- erdiagram:start -->\n<!-- erdiagram:end -->\n")
    readme = orchestrator_project / "README.md"
    readme.unlink()
    readme.symlink_to(outside)
    code, out, _ = invoke("sync-check", "--root", str(orchestrator_project), "--format", "json")
    assert code == 2
    assert json.loads(out)["error"].startswith(".tac-bootstrap.json: README.md resolves to ")
    assert invoke("sync", "--root", str(orchestrator_project))[0] == 1
    assert outside.read_text() == "<!-- erdiagram:start -->\n<!-- erdiagram:end -->\n"


def test_a_manifest_may_name_a_diagram_in_a_repository_too(repo: Path) -> None:
    edit(
        repo / "pyproject.toml",
        "[tool.tac-bootstrap.sync.agreement]\n",
        '[tool.tac-bootstrap.sync.agreement]\ndiagram = "SCHEMA.md"\n',
    )
    (repo / "SCHEMA.md").write_text(
        "# Schema\n\n<!-- erdiagram:start -->\n<!-- erdiagram:end -->\n"
    )
    assert [p.kind for p in sync.check(repo).problems] == ["diagram"]
    assert [c.path for c in sync.fix(repo).changes] == ["SCHEMA.md"]
    assert sync.check(repo).ok
    assert "```mermaid\nerDiagram\n" in (repo / "SCHEMA.md").read_text()


# --- the installed script ------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, check=False)


def test_script_clean_then_drift(repo: Path) -> None:
    proc = run("sync-check", "--root", str(repo))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "sync-check: 6 check(s): ok\n")
    edit(repo / "pkg/orch/plain.txt", "Plain", "Fancy")
    proc = run("sync-check", "--root", str(repo))
    assert proc.returncode == 1
    assert proc.stdout.startswith("pkg/orch/plain.txt:1: drift: BASE edited since")


def test_script_undefined_variable_exits_2_without_traceback(repo: Path) -> None:
    edit(repo / "templates/orch/hello.py.j2", "{{ greeting }}", "{{ greting }}")
    proc = run("sync-check", "--root", str(repo))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "error: templates/orch/hello.py.j2:3: 'greting' is undefined\n"


def test_script_missing_root_exits_2(tmp_path: Path) -> None:
    proc = run("sync-check", "--root", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_script_disagreement_exits_1(repo: Path) -> None:
    edit_pair(repo, "schema.sql", " REFERENCES owners(id) ON DELETE CASCADE", "")
    proc = run("sync-check", "--root", str(repo), "--format", "github")
    assert proc.returncode == 1
    assert proc.stdout == (
        "::error file=pkg/orch/schema.sql,line=9,title=sync-check agreement::tasks.owner_id: "
        "the model says REFERENCES owners(id), the schema says no foreign key\n"
    )


def test_script_generated_project_edited_file(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    assert run("init", "my-app", "-o", str(project)).returncode == 0
    (project / "pyproject.toml").write_text("# mine now\n")
    proc = run("sync-check", "--root", str(project))
    assert proc.returncode == 0
    assert proc.stdout.startswith("pyproject.toml:1: note: edited: edited since generation")
    proc = run("sync-check", "--root", str(project), "--strict")
    assert proc.returncode == 1
    assert proc.stdout.startswith("pyproject.toml:1: edited: edited since generation")
    (project / "README.md").write_text("<<<<<<< yours\n# mine now\n=======\n")
    proc = run("sync-check", "--root", str(project))
    assert proc.returncode == 1
    assert proc.stdout.startswith("README.md:1: conflict: unresolved conflict")


def test_creating_a_missing_optional_include_is_a_change(repo: Path) -> None:
    cache = repo.parent / "c"
    edit(
        repo / "templates/orch/hello.py.j2",
        '{% include "partials/header.j2" %}',
        '{% include "partials/header.j2" %}{% include "partials/opt.j2" ignore missing %}',
    )
    assert sync.check(repo, cache_dir=cache).ok
    assert sync.check(repo, cache_dir=cache).skipped == 6
    (repo / "templates/partials/opt.j2").write_text("X = 1\n")
    [problem] = sync.check(repo, cache_dir=cache).problems
    assert (problem.kind, problem.path, problem.changed) == (
        "drift",
        "pkg/orch/hello.py",
        "template",
    )


def test_a_computed_include_is_never_skipped(repo: Path) -> None:
    cache = repo.parent / "c"
    edit(repo / "pyproject.toml", 'greeting = "hi"', 'greeting = "hi", part = "header"')
    edit(
        repo / "templates/orch/hello.py.j2",
        '"partials/header.j2"',
        '"partials/" ~ part ~ ".j2"',
    )
    assert sync.check(repo, cache_dir=cache).ok
    assert sync.check(repo, cache_dir=cache).skipped == 5


# --- every kind of problem once more, through the installed script ------------------------


def clean_then(change: Callable[[Path], None]) -> Callable[[Path], None]:
    """Record a clean check in the cache (as CI would have), then make ``change``.

    Through the script, as the check that follows: the records hold a digest of the checker's
    sources, and one made by this process's library (a test run in another tree than the
    script's, or a source edited meanwhile) is no record to the script, whose check then said
    ``BASE differs`` where ``BASE edited since the last clean check`` was expected.
    """

    def setup(root: Path) -> None:
        proc = run("sync-check", "--root", str(root))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        change(root)

    return setup


def agreement_case(name: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda root: edit_pair(root, name, old, new)


KINDS: list[tuple[str, Callable[[Path], object], int, str]] = [
    (
        "base-drift",
        clean_then(lambda r: edit(r / "pkg/orch/plain.txt", "Plain", "Fancy")),
        1,
        "pkg/orch/plain.txt:1: drift: BASE edited since the last clean check",
    ),
    (
        "template-drift",
        clean_then(lambda r: edit(r / "templates/orch/plain.txt.j2", "Plain", "Fancy")),
        1,
        "pkg/orch/plain.txt:1: drift: templates/orch/plain.txt.j2 changed since",
    ),
    (
        "orphan-base",
        lambda r: (r / "pkg/orch/x.py").write_text(""),
        1,
        "pkg/orch/x.py: orphan-base: BASE file with no template",
    ),
    (
        "orphan-template",
        lambda r: (r / "templates/orch/x.py.j2").write_text(""),
        1,
        "templates/orch/x.py.j2: orphan-template: template with no BASE file",
    ),
    (
        "missing-base",
        lambda r: (r / "pkg/orch/plain.txt").unlink(),
        1,
        "pkg/orch/plain.txt: missing-base: named by the manifest as the BASE of",
    ),
    (
        "missing-template",
        lambda r: (r / "templates/orch/plain.txt.j2").unlink(),
        1,
        "templates/orch/plain.txt.j2: missing-template: named by the manifest as the template",
    ),
    (
        "undefined-variable",
        lambda r: edit(r / "templates/orch/hello.py.j2", "{{ greeting }}", "{{ greting }}"),
        2,
        "error: templates/orch/hello.py.j2:3: 'greting' is undefined",
    ),
    (
        "syntax-error",
        lambda r: edit(r / "templates/orch/hello.py.j2", "{{ greeting }}", "{% if %}"),
        2,
        "error: templates/orch/hello.py.j2:3: ",
    ),
    (
        "bad-manifest",
        lambda r: edit(r / "pyproject.toml", 'base = "pkg/orch/plain.txt"', ""),
        2,
        "pairs[5]: missing 'base'",
    ),
    (
        "missing-manifest",
        lambda r: (r / "pyproject.toml").unlink(),
        2,
        "nothing to check: no [tool.tac-bootstrap.sync] manifest",
    ),
    (
        "missing-column",
        agreement_case("schema.sql", "    note TEXT,\n", ""),
        1,
        "tasks.note: the model says field note: str | None, the schema says no such column",
    ),
    (
        "extra-column",
        agreement_case("models.py", "    note: str | None = None\n", ""),
        1,
        "tasks.note: the model says no such field, the schema says column note TEXT",
    ),
    (
        "nullability",
        agreement_case("schema.sql", "    note TEXT,", "    note TEXT NOT NULL,"),
        1,
        "tasks.note: the model says NULL allowed, the schema says NOT NULL",
    ),
    (
        "allowed-values",
        agreement_case("models.py", '"todo", "done"]', '"todo", "done", "lost"]'),
        1,
        "tasks.status: the model says one of 'done', 'lost', 'todo', the schema says one of",
    ),
    (
        "bound",
        agreement_case("models.py", "Field(default=0, ge=0)", "Field(default=0)"),
        1,
        "tasks.priority: the model says no bound, the schema says >= 0",
    ),
    (
        "type",
        agreement_case("models.py", "priority: int", "priority: float"),
        1,
        "tasks.priority: the model says float (stored as REAL), the schema says INTEGER",
    ),
    (
        "foreign-key",
        agreement_case("schema.sql", "REFERENCES owners(id)", "REFERENCES tasks(id)"),
        1,
        "tasks.owner_id: the model says REFERENCES owners(id), the schema says "
        "REFERENCES tasks(id)",
    ),
    (
        "statement",
        agreement_case("database.py", "SELECT id, owner_id", "SELECT id, owner"),
        1,
        "pkg/orch/database.py:7: database: statement 'SELECT id, owner, status FROM tasks "
        "WHERE owner_id = ?' does not prepare against the schema: no such column: owner",
    ),
]


@pytest.mark.parametrize(
    ("setup", "code", "message"), [k[1:] for k in KINDS], ids=[k[0] for k in KINDS]
)
def test_every_kind_through_the_script(
    repo: Path, setup: Callable[[Path], object], code: int, message: str
) -> None:
    setup(repo)
    proc = run("sync-check", "--root", str(repo))
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert message in (proc.stdout if code == 1 else proc.stderr)
    assert "Traceback" not in proc.stderr
    if code == 2:
        assert proc.stderr.startswith("error: ")
        assert proc.stdout == ""


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set xs = [1] %}{% for x in xs %}{% if xs.append(1) %}{% endif %}{% endfor %}",
        "{{ lipsum(10**7) }}",
    ],
    ids=["nested-loops", "growing-list", "lipsum"],
)
def test_a_template_that_renders_for_too_long_is_stopped(
    repo: Path, monkeypatch: pytest.MonkeyPatch, template: str
) -> None:
    monkeypatch.setattr(sync, "RENDER_SECONDS", 0.5)
    (repo / "templates/orch/plain.txt.j2").write_text(template)
    with pytest.raises(TemplateRenderError, match=r"rendering within 0\.5 s") as info:
        sync.check(repo)
    assert info.value.template == "templates/orch/plain.txt.j2"
    with pytest.raises(TemplateRenderError, match="did not finish rendering"):
        sync.fix(repo)


def test_the_renders_of_one_check_share_a_time_limit(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each pair's template stopped just before the limit made a check of N pairs take N times
    # it (5,000 pairs: 41 hours). Here each takes some 0.3 s on an idle machine (6 million
    # loop steps), all five more than 1 s; on a loaded one the first may run out of it alone.
    monkeypatch.setattr(sync, "RENDER_TOTAL_SECONDS", 1.0)
    monkeypatch.setattr(sync, "RENDER_PAIR_SECONDS", 0.01)
    loops = "{% for i in range(100000) %}{% endfor %}" * 60
    for template in (repo / "templates" / "orch").glob("*.j2"):
        template.write_text(loops)
    with pytest.raises(TemplateRenderError, match=r" 1 s all the renders of a check may take"):
        sync.check(repo)


def test_the_shared_time_limit_grows_with_the_pairs(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A legitimate manifest of thousands of pairs, checked cold on a slow machine, keeps room:
    # the limit is RENDER_PAIR_SECONDS a pair when that is more than the fixed total.
    monkeypatch.setattr(sync, "RENDER_TOTAL_SECONDS", 0.3)
    monkeypatch.setattr(sync, "RENDER_PAIR_SECONDS", 10.0)
    loops = "{% for i in range(100000) %}{% endfor %}" * 5
    for template in (repo / "templates" / "orch").glob("*.j2"):
        template.write_text(loops)
    report = sync.check(repo)  # every render ran: the BASE files now differ from them
    assert {p.kind for p in report.problems} == {"drift"}


def test_reading_a_templates_includes_for_the_cache_is_within_the_time_limit(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parsing 1.4 MB of tags took 28 s, before the render and its time limit began. Its last
    # tag is a syntax error: a parse not stopped by the limit ends on it (some 4 s, idle).
    monkeypatch.setattr(sync, "RENDER_SECONDS", 0.1)
    (repo / "templates/orch/plain.txt.j2").write_text(
        "{% if x is defined %}" + "{{ a }}" * 200_000 + "{% endif %}{% endif %}"
    )
    with pytest.raises(TemplateRenderError, match=r"rendering within 0\.1 s"):
        sync.check(repo, cache_dir=tmp_path / "cache")


def test_copying_a_base_into_its_template_is_within_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sync --from base` renders a markup-free BASE to prove it renders to itself; that render
    # ran outside the time limit: 44 MB of plain text took 90 s under load, and three such
    # BASE files fit under what sync holds. 22 MB here: seconds on an idle machine.
    monkeypatch.setattr(sync, "RENDER_SECONDS", 1.0)
    (tmp_path / "templates/orch").mkdir(parents=True)
    (tmp_path / "templates/orch/plain.txt.j2").write_text("Plain.\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/plain.txt").write_text("abcdefghij\n" * 2_000_000)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tac-bootstrap.sync]\ntemplates = "templates"\n\n'
        '[[tool.tac-bootstrap.sync.pairs]]\nbase = "pkg/plain.txt"\n'
        'template = "orch/plain.txt.j2"\n'
    )
    with pytest.raises(TemplateRenderError, match=r"rendering within 1 s") as info:
        sync.fix(tmp_path, from_base=True, dry_run=True)
    assert info.value.template == "templates/orch/plain.txt.j2"


def test_a_cold_check_parses_each_template_once(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a cache folder, each template holding a tag was parsed to read its includes (for
    # the check cache), then parsed again to compile it: 11 parses for these 6 templates (a
    # third of a compile's time each).
    from jinja2.parser import Parser

    for template in (repo / "templates/orch").glob("*.j2"):  # a tag that renders nothing
        template.write_text("{% if true %}{% endif %}" + template.read_text())
    parsed = 0
    real_parse = Parser.parse

    def parse(self: Parser) -> Any:
        nonlocal parsed
        parsed += 1
        return real_parse(self)

    monkeypatch.setattr(Parser, "parse", parse)
    assert sync.check(repo, cache_dir=tmp_path / "cache").problems == []
    assert parsed == len(list((repo / "templates").rglob("*.j2"))) == 6
    parsed = 0  # a warm check, whose pairs are unchanged, parses nothing
    assert sync.check(repo, cache_dir=tmp_path / "cache").problems == []
    assert parsed == 0


def test_the_diffs_a_check_keeps_are_bounded(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 80 pairs each drifting by a 63 MB text kept 63 MB of diff each: 4 GB, then out of memory.
    for name in ("hello.py", "plain.txt", "database.py"):
        path = repo / "pkg" / "orch" / name
        path.write_text(path.read_text() + "# an edit\n")
    whole = sync.check(repo, cache_dir=None).problems
    assert [p.kind for p in whole] == ["drift"] * 3
    note = (
        "(not shown: the diffs of this check already hold {:,} characters; "
        "fix the ones above, or compare the files with a diff tool)\n"
    )
    headers = ["".join(p.diff.splitlines(keepends=True)[:2]) for p in whole]
    made: list[str] = []

    def counted(old: str, new: str, old_name: str, new_name: str) -> str:
        made.append(old_name)
        return unified_diff(old, new, old_name, new_name)

    monkeypatch.setattr(sync, "unified_diff", counted)
    # Two fit and fill it: the third is not made. Or the first is made, too long, left out,
    # and no diff is made after it (difflib's time for nothing).
    for budget, shown, diffs in ((len(whole[0].diff) + len(whole[1].diff), 2, 2), (20, 0, 1)):
        monkeypatch.setattr(sync, "DIFF_BUDGET", budget)
        made.clear()
        kept = sync.check(repo, cache_dir=None).problems
        assert len(made) == diffs
        assert [p.diff for p in kept[:shown]] == [p.diff for p in whole[:shown]]
        assert [p.diff for p in kept[shown:]] == [h + note.format(budget) for h in headers[shown:]]


def test_two_pairs_copying_different_bases_into_one_template_are_refused(repo: Path) -> None:
    manifest = repo / "pyproject.toml"
    manifest.write_text(
        manifest.read_text() + "\n[[tool.tac-bootstrap.sync.pairs]]\n"
        'base = "pkg/orch/plain2.txt"\ntemplate = "orch/plain.txt.j2"\n'
    )
    template = repo / "templates" / "orch" / "plain.txt.j2"
    before = template.read_text()
    (repo / "pkg" / "orch" / "plain.txt").write_text(before + "edit one\n")
    (repo / "pkg" / "orch" / "plain2.txt").write_text(before + "edit two\n")
    report = sync.fix(repo, from_base=True)
    assert report.changes == []
    assert [(p.kind, p.path) for p in report.refused] == [
        ("conflict", "templates/orch/plain.txt.j2")
    ]
    assert template.read_text() == before


@pytest.mark.parametrize("from_base", [False, True])
def test_a_file_edited_while_sync_runs_is_not_overwritten(
    repo: Path, monkeypatch: pytest.MonkeyPatch, from_base: bool
) -> None:
    (repo / "pkg" / "orch" / "plain.txt").write_text("drifted\n")
    edited = repo / ("templates/orch/plain.txt.j2" if from_base else "pkg/orch/plain.txt")
    plan = sync._fix_from_base if from_base else sync._fix_from_template

    def plan_then_edit(manifest: Manifest, pair: Pair, templates: object, budget: object) -> object:
        planned = plan(manifest, pair, templates, budget)  # type: ignore[arg-type]
        if pair.base == "pkg/orch/plain.txt":  # after sync read it, before it writes
            edited.write_text("saved by the user while sync ran\n")
        return planned

    monkeypatch.setattr(
        sync, "_fix_from_base" if from_base else "_fix_from_template", plan_then_edit
    )
    with pytest.raises(sync.ChangedWhileRunningError, match="changed while sync was running"):
        sync.fix(repo, from_base=from_base)
    assert edited.read_text() == "saved by the user while sync ran\n"


def test_the_schema_is_loaded_once_for_agreement_diagram_and_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each of the three loaded it: SQLite's loading grows with the square of the tables, so a
    # schema of 7,000 tables held the check for minutes.
    from tac_bootstrap import sqlcheck
    from tac_bootstrap.scaffold import render_project
    from tac_bootstrap.spec import ProjectSpec

    for name, data in render_project(ProjectSpec.build("my-app", with_orchestrator=True)).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    assert 'diagram = "README.md"' in (tmp_path / "pyproject.toml").read_text()
    loads: list[sqlite3.Connection] = []
    load = sqlcheck.load_untrusted_schema

    def counted(sql: str, name: str, **options: bool) -> sqlite3.Connection:
        loads.append(load(sql, name, **options))
        return loads[-1]

    monkeypatch.setattr(sqlcheck, "load_untrusted_schema", counted)
    report = sync.check(tmp_path)
    assert report.problems == []
    assert len(loads) == 1
    with pytest.raises(sqlite3.ProgrammingError):  # closed at the end of the run
        loads[0].execute("SELECT 1")


def test_the_shared_schema_is_read_only_and_its_failure_is_raised_for_each_check() -> None:
    from tac_bootstrap import sqlcheck

    shared = sqlcheck.SharedSchema()
    with shared.open("CREATE TABLE t (x);", "s.sql") as conn:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("EXPLAIN INSERT INTO t VALUES (1)")  # statements are still prepared
    with shared.open("CREATE TABLE t (x);", "s.sql") as again:
        assert again is conn
    for _ in range(2):
        with pytest.raises(sqlite3.OperationalError), shared.open("CREATE TABLE (;", "s.sql"):
            pass
    shared.close()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root writes another's files"
)
def test_sync_run_by_root_keeps_the_owners_of_the_project(repo: Path) -> None:
    """Files rewritten by rename, new files and folders were left owned by root."""
    with (repo / "pyproject.toml").open("a") as file:  # a file to create, in two new folders
        file.write('\n[[tool.tac-bootstrap.sync.pairs]]\nbase = "pkg/new/deep/note.txt"\n')
        file.write('template = "orch/plain.txt.j2"\n')
    edit(repo / "pkg/orch/hello.py", '"hi"', '"hey"')
    (repo / "pkg/orch/plain.txt").unlink()
    theirs, other = (4321, 4322), (4323, 4324)  # users with no name here: owners all the same
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, *theirs, follow_symlinks=False)
    os.chown(repo / "pkg/orch/hello.py", *other)  # one file of another user: it stays theirs
    proc = run("sync", "--root", str(repo))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("created ") == 2
    owners = {
        path.relative_to(repo).as_posix(): (path.lstat().st_uid, path.lstat().st_gid)
        for path in repo.rglob("*")
    }
    assert {"pkg/new/deep/note.txt", "pkg/orch/plain.txt"} <= set(owners)
    assert owners.pop("pkg/orch/hello.py") == other
    assert '"hi"' in (repo / "pkg/orch/hello.py").read_text()
    assert {rel: owner for rel, owner in owners.items() if owner != theirs} == {}


@pytest.mark.parametrize("from_base", [False, True])
def test_sync_shows_a_line_of_millions_of_control_characters_cut(
    repo: Path, from_base: bool
) -> None:
    # Escaped and printed whole, a rendered line of 60 million NULs took 39 s under load.
    (repo / "templates/orch/plain.txt.j2").write_text("{{ '\\x00' * 20000000 }}\n")
    report = sync.fix(repo, dry_run=True, from_base=from_base)
    tracemalloc.start()
    try:
        text = report.render_text()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60_000_000, peak  # the line escaped whole is 80 million characters
    assert "…(80,000,001 characters)…" in text
    assert len(text) < 30_000


def tree_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".cache" not in p.parts
    }


@pytest.mark.parametrize("dry_run", [False, True])
def test_sync_refuses_to_hold_more_than_it_may_and_writes_nothing(
    repo: Path, dry_run: bool
) -> None:
    # Three pairs whose template renders 45 MB each (10 such pairs held 1.35 GB, and a manifest
    # may hold 5,000): sync planned them all in memory, then wrote them, exit 0.
    manifest = repo / "pyproject.toml"
    manifest.write_text(
        manifest.read_text()
        + "".join(
            f'\n[[tool.tac-bootstrap.sync.pairs]]\nbase = "pkg/orch/big{k}.txt"\n'
            'template = "orch/big.j2"\n'
            for k in range(3)
        )
    )
    (repo / "templates" / "orch" / "big.j2").write_text("{{ 'x' * 45000000 }}\n")
    edit(repo / "pkg" / "orch" / "plain.txt", "Plain", "Fancy")  # a change planned before
    before = tree_of(repo)
    proc = run("sync", "--root", str(repo), *(["--dry-run"] if dry_run else []))
    assert proc.returncode == 2, proc.stderr[:300]
    assert proc.stdout == ""
    assert proc.stderr == (
        "error: pkg/orch/big2.txt: not synced: with it, the files sync would write and the "
        "contents they replace hold 135,000,0{} bytes, more than the 134,217,728 one sync holds "
        "(it writes nothing before every file is planned): nothing was written\n"
    ).format(proc.stderr.split("135,000,0")[1][:2])
    assert tree_of(repo) == before


def test_the_diffs_sync_shows_are_bounded(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sync --dry-run kept every diff whole, however many and however long.
    for name in ("hello.py", "plain.txt", "database.py"):
        path = repo / "pkg" / "orch" / name
        path.write_text(path.read_text() + "# an edit\n")
    whole = sync.fix(repo, dry_run=True).changes
    names = ("database.py", "hello.py", "plain.txt")
    assert [c.path for c in whole] == [f"pkg/orch/{n}" for n in names]
    monkeypatch.setattr(sync, "DIFF_BUDGET", len(whole[0].diff))
    kept = sync.fix(repo, dry_run=True).changes
    note = (
        f"(not shown: the diffs of this sync already hold {len(whole[0].diff):,} characters; "
        "compare the files with a diff tool)\n"
    )
    assert kept[0].diff == whole[0].diff
    assert [c.diff for c in kept[1:]] == [
        "".join(c.diff.splitlines(keepends=True)[:2]) + note for c in whole[1:]
    ]


def test_what_a_killed_sync_kept_is_named_as_such_and_the_next_sync_clears_it(
    repo: Path,
) -> None:
    # A sync killed (kill -9) after replacing the files and before removing what it kept left
    # `.models.py.<pid>.orig` beside each: the project was synced, but sync-check said
    # "orphan-base: BASE file with no template: add a pair for it to [tool.tac-bootstrap.sync]
    # or list it in `unpaired`", advice that keeps the backup for good.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (repo / f"pkg/orch/.models.py.{dead.pid}.orig").write_bytes(
        (repo / "pkg/orch/models.py").read_bytes() + b"# as it was\n"
    )
    check = [str(EXE), "sync-check", "--root", str(repo), "--no-cache"]
    proc = subprocess.run(check, capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout) == (
        1,
        f"pkg/orch/.models.py.{dead.pid}.orig: orphan-base: named as what a tac-bootstrap run "
        f"keeps beside the file it names while it replaces it (process {dead.pid}): a run "
        "stopped before it removed it left it; run that command again (sync, init --force, "
        "update, migration new), which clears it, or delete it\n",
    )
    fixed = subprocess.run(
        [str(EXE), "sync", "--root", str(repo)], capture_output=True, text=True, check=False
    )
    assert fixed.returncode == 0, fixed.stderr
    assert not (repo / f"pkg/orch/.models.py.{dead.pid}.orig").exists()
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0


def test_a_file_named_as_a_kept_one_with_nothing_beside_it_is_an_orphan(repo: Path) -> None:
    (repo / "pkg/orch/.gone.py.1.orig").write_text("X = 1\n")
    code, out, _ = invoke("sync-check", "--root", str(repo))
    assert code == 1
    assert out.startswith("pkg/orch/.gone.py.1.orig: orphan-base: BASE file with no template")


@pytest.mark.parametrize(
    ("name", "fixer"),
    [("pkg/orch/plain.txt", ["sync"]), ("templates/orch/plain.txt.j2", ["sync", "--from", "base"])],
)
def test_a_file_missing_as_a_link_to_nothing_is_not_said_to_be_made_by_a_command_that_refuses_it(
    repo: Path, name: str, fixer: list[str]
) -> None:
    # A BASE (or template) that is a link to nothing was "missing; `tac-bootstrap sync` creates
    # it", and sync then refused to write through the link (exit 2). The check now says what
    # it is and that the link must be replaced.
    (repo / name).unlink()
    (repo / name).symlink_to("nowhere")
    check = subprocess.run(
        [EXE, "sync-check", "--root", repo], capture_output=True, text=True, check=False
    )
    assert check.returncode == 1, check.stderr
    assert f"{name}: missing-" in check.stdout
    assert "which does not exist" in check.stdout
    assert "creates it" not in check.stdout
    assert "does not write through a link: replace the link by a file" in check.stdout
    fix = subprocess.run([EXE, *fixer, "--root", repo], capture_output=True, text=True, check=False)
    assert fix.returncode == 2, fix.stderr  # as the check said: the link is not written through
    assert (repo / name).is_symlink()


@pytest.mark.parametrize("what", ["file", "fifo"])
@pytest.mark.parametrize(
    ("folder", "name", "fixer"),
    [
        ("pkg/orch", "pkg/orch/plain.txt", ["sync"]),
        ("templates/orch", "templates/orch/plain.txt.j2", ["sync", "--from", "base"]),
    ],
)
def test_a_file_missing_behind_a_folder_that_is_not_one_is_not_said_to_be_made(
    repo: Path, folder: str, name: str, fixer: list[str], what: str
) -> None:
    # With pkg/orch a file (or a FIFO), each BASE in it was "missing; `tac-bootstrap sync`
    # creates it", and sync then refused, exit 2 (pkg/orch is a file, not a folder). The check
    # now names what is in the folder's place and that it must be moved away.
    shutil.rmtree(repo / folder)
    if what == "file":
        (repo / folder).write_text("not a folder\n")
    else:
        os.mkfifo(repo / folder)
    check = subprocess.run(
        [EXE, "sync-check", "--root", repo], capture_output=True, text=True, check=False
    )
    assert check.returncode == 1, check.stderr
    shown = "a file" if what == "file" else "a FIFO"
    assert f"{name}: missing-" in check.stdout
    assert f"{folder} is {shown}, not a folder" in check.stdout
    assert "creates it" not in check.stdout
    fix = subprocess.run([EXE, *fixer, "--root", repo], capture_output=True, text=True, check=False)
    assert fix.returncode == 2, fix.stderr  # as the check said: it is not replaced
    # named and said as the check says it (was `/abs/…/templates/orch is a file` for a FIFO)
    assert fix.stderr.endswith(f": {folder} is {shown}, not a folder\n"), fix.stderr
    assert not (repo / folder).is_dir()


@pytest.mark.parametrize("command", [["sync", "--dry-run"], ["sync"]])
def test_a_file_away_for_a_moment_is_not_called_a_link_that_leads_nowhere(
    repo: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """The BASE folder renamed away and back while sync looked at a BASE: the look found
    nothing, the name was there again a moment later: `error: pkg/orch/plain.txt is not a
    regular file (a symlink that leads nowhere or loops)`, exit 2, of a plain file."""
    real = os.stat
    once = [True]

    def away_once(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        looking = sys._getframe(1).f_code.co_name == "_is_file"  # sync's look at the BASE
        if once[0] and looking and str(path).endswith("pkg/orch/plain.txt"):
            once[0] = False
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", away_once)
    code, _, err = invoke(*command, "--root", str(repo))
    assert (code, err) == (
        0,
        "sync: would change 0 file(s)\n" if "--dry-run" in command else "sync: changed 0 file(s)\n",
    )
    assert not once[0]


@pytest.mark.parametrize(
    ("direction", "seen_missing", "named"),
    [
        ("base", "_read_text", "pkg/orch/plain.txt"),
        ("template", "_is_file", "templates/orch/plain.txt.j2"),
    ],
)
def test_a_file_missing_for_a_moment_while_sync_reads_it_is_a_change_not_a_traceback(
    repo: Path, monkeypatch: pytest.MonkeyPatch, direction: str, seen_missing: str, named: str
) -> None:
    """The BASE folder renamed (or swapped for a link) and back between sync's read, which
    found the file missing, and its look for what is missing, which found none: IndexError."""
    edit(repo / "pkg/orch/plain.txt", "no Jinja", "still no Jinja")
    real = getattr(sync, seen_missing)
    once = [True]

    def missing_once(path: str, shown: str) -> Any:
        if once[0] and path.endswith("plain.txt" if direction == "base" else "plain.txt.j2"):
            once[0] = False
            return None if seen_missing == "_read_text" else False
        return real(path, shown)

    monkeypatch.setattr(sync, seen_missing, missing_once)
    code, _, err = invoke("sync", "--root", str(repo), "--from", direction)
    assert (code, err) == (
        2,
        f"error: {named} changed while sync was running (an edit, a "
        "checkout?): nothing was written; run sync again\n",
    )
    assert not once[0]


@pytest.mark.parametrize("then", ["gone", "file"])
def test_a_fifo_there_for_a_moment_between_two_looks_is_not_called_a_link(
    tmp_path: Path, after_each_look: AfterEachLook, then: str
) -> None:
    # A BASE renamed away, a FIFO made at its name and removed, the file renamed back: no name
    # at the first look, the FIFO at the next (lexists), gone at the look that names it: it
    # was said to be `is not a regular file (a symlink that leads nowhere or loops)`.
    path = tmp_path / "plain.txt"
    states = iter(["fifo", then])

    def changed(_look: int) -> None:
        state = next(states, None)
        if state is not None:
            path.unlink(missing_ok=True)
        if state == "fifo":
            os.mkfifo(path)
        elif state == "file":
            path.write_text("back\n")

    after_each_look(path, changed)
    said = ""
    try:
        found = sync._is_file(str(path), "pkg/plain.txt")
    except confine.NotAFileError as exc:
        said = str(exc)
    fifo = "pkg/plain.txt is not a regular file (a FIFO): move it away or fix the manifest"
    assert said in ("", fifo)
    if not said:
        assert found is (then == "file")
