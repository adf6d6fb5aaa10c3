"""The shipped templates compiled at build time: the same output, used only when they match.

The modules are written here by the same function the wheel's build hook calls, and
byte-compiled as pip does at install. A renderer that uses a module never compiles the
template, so it stores nothing in its bytecode cache: an empty cache folder after rendering
is how these tests see that the modules were used (and a non-empty one that they were not).
"""

from __future__ import annotations

import compileall
import shutil
from importlib.metadata import version
from pathlib import Path

import jinja2
import pytest

from tac_bootstrap import render
from tac_bootstrap.errors import TemplateRenderError
from tac_bootstrap.precompiled import JINJA2_FILE, jinja2_dist_info, module_name, write
from tac_bootstrap.render import Renderer, templates_root
from tac_bootstrap.scaffold import render_project
from tac_bootstrap.spec import ProjectSpec

SPECS = (
    ProjectSpec.build("my-app"),
    ProjectSpec.build("my-app", with_orchestrator=True),
    ProjectSpec.build("my-app", with_orchestrator=True, db="postgres"),
    ProjectSpec.build(
        "My.App",
        with_orchestrator=True,
        data={"description": 'Agents that "remember" \\ things', "license": "Apache-2.0"},
    ),
)


def compile_modules(root: Path, out: Path, *, pyc: bool = True) -> Path:
    """Write the modules of the templates under ``root`` as the build hook does (and pip)."""
    installed = jinja2_dist_info()
    assert installed is not None
    write(Renderer(root), out, installed)
    if pyc:
        assert compileall.compile_dir(out, quiet=1)
    return out


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_modules(templates_root(), tmp_path_factory.mktemp("precompiled"))


def outcome(renderer: Renderer, name: str, context: dict[str, object]) -> str:
    """Return the rendered text, or the error (some templates need the orchestrator's context)."""
    try:
        return renderer.render(name, context)
    except TemplateRenderError as exc:
        return f"error: {exc}"


def test_writes_one_module_per_template_named_by_its_name_and_source(shipped: Path) -> None:
    root = templates_root()
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.j2"))
    expected = {module_name(n, (root / n).read_bytes().decode()) for n in names}
    assert {p.name for p in shipped.glob("*.py")} == expected
    made_by = (shipped / JINJA2_FILE).read_text().strip()
    assert made_by.lower() == f"jinja2-{version('jinja2')}.dist-info"
    assert (Path(jinja2.__file__).parent.parent / made_by).is_dir()


def test_every_shipped_template_renders_the_same_through_the_modules(
    shipped: Path, tmp_path: Path
) -> None:
    root = templates_root()
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.j2"))
    cache, control_cache = tmp_path / "cache", tmp_path / "control"
    fast = Renderer(root, cache_dir=cache, precompiled=shipped)
    compiled = Renderer(root, cache_dir=control_cache)
    for spec in SPECS:
        context = spec.context()
        for name in names:
            assert outcome(fast, name, context) == outcome(compiled, name, context), name
    assert files(cache) == []  # every template came from its module
    assert len(files(control_cache)) == len(names)  # ... and would have been compiled otherwise


def test_a_rendered_project_is_the_same_through_the_modules(shipped: Path, tmp_path: Path) -> None:
    for spec in SPECS:
        fast = Renderer(cache_dir=tmp_path / "cache", precompiled=shipped)
        assert render_project(spec, fast) == render_project(spec, Renderer(templates_root()))
    assert files(tmp_path / "cache") == []


def test_the_shipped_templates_use_the_modules_and_no_other_root_does(
    shipped: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As installed: ``Renderer()`` finds them; an explicit root (a repository's, a release's,
    even the shipped folder named explicitly) never uses them."""
    monkeypatch.setattr(render, "PRECOMPILED", shipped)
    context = SPECS[1].context()
    name = "project/pyproject.toml.j2"
    shipped_output = Renderer(cache_dir=tmp_path / "a").render(name, context)
    assert files(tmp_path / "a") == []
    other_output = Renderer(templates_root(), cache_dir=tmp_path / "b").render(name, context)
    assert len(files(tmp_path / "b")) == 1
    assert shipped_output == other_output


def test_an_edited_template_is_compiled_from_its_new_source(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(templates_root(), root)
    modules = compile_modules(root, tmp_path / "modules")
    edited = root / "project" / "README.md.j2"
    edited.write_text(edited.read_text() + "Edited after the build.\n")
    cache = tmp_path / "cache"
    renderer = Renderer(root, cache_dir=cache, precompiled=modules)
    output = renderer.render("project/README.md.j2", SPECS[1].context())
    assert output.endswith("Edited after the build.\n")
    assert output == Renderer(root).render("project/README.md.j2", SPECS[1].context())
    assert len(files(cache)) == 1  # compiled (and cached) from the new source
    renderer.render("project/pyproject.toml.j2", SPECS[1].context())
    assert len(files(cache)) == 1  # an unedited one still comes from its module


@pytest.mark.parametrize(
    "recorded", ["jinja2-0.0.1.dist-info", "", "../jinja2", "jinja2-3.1.6", None]
)
def test_modules_of_another_or_an_unknown_jinja2_are_not_used(
    shipped: Path, tmp_path: Path, recorded: str | None
) -> None:
    modules = tmp_path / "modules"
    shutil.copytree(shipped, modules)
    if recorded is None:
        (modules / JINJA2_FILE).unlink()
    else:
        (modules / JINJA2_FILE).write_text(recorded + "\n")
    cache = tmp_path / "cache"
    renderer = Renderer(templates_root(), cache_dir=cache, precompiled=modules)
    expected = Renderer(templates_root()).render("project/pyproject.toml.j2", SPECS[0].context())
    assert renderer.render("project/pyproject.toml.j2", SPECS[0].context()) == expected
    assert len(files(cache)) == 1


def test_without_a_pyc_the_module_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    """pip --no-compile, or -O: the module's source is compiled in memory, never cached on disk."""
    modules = compile_modules(templates_root(), tmp_path / "modules", pyc=False)
    before = files(modules)
    spec = SPECS[1]
    fast = render_project(spec, Renderer(precompiled=modules))
    assert fast == render_project(spec, Renderer(templates_root()))
    assert files(modules) == before
    assert not (modules / "__pycache__").exists()


def test_dry_run_through_the_modules_writes_nothing(
    shipped: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tac_bootstrap.scaffold import init

    monkeypatch.setattr(render, "PRECOMPILED", shipped)
    monkeypatch.setenv("TAC_BOOTSTRAP_CACHE_DIR", str(tmp_path / "cache"))
    before = files(shipped)
    result = init(SPECS[1], tmp_path / "out", dry_run=True)
    assert result.written
    assert list(tmp_path.iterdir()) == []
    assert files(shipped) == before


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    root.mkdir()
    (root / "undefined.j2").write_text("line one\nline two {{ missing }}\n")
    (root / "includes.j2").write_text("a\n{% include 'inner.j2' %}\n")
    (root / "inner.j2").write_text("x\ny\nz {{ name.missing.deeper }}\n")
    return root


def test_errors_still_name_the_template_and_line(broken: Path, tmp_path: Path) -> None:
    modules = compile_modules(broken, tmp_path / "modules")
    cache = tmp_path / "cache"
    renderer = Renderer(broken, cache_dir=cache, precompiled=modules)
    with pytest.raises(TemplateRenderError) as info:
        renderer.render("undefined.j2", {})
    assert str(info.value) == "undefined.j2:2: 'missing' is undefined"
    with pytest.raises(TemplateRenderError) as info:
        renderer.render("includes.j2", {"name": "x"})
    assert (info.value.template, info.value.line) == ("inner.j2", 3)
    assert files(cache) == []
