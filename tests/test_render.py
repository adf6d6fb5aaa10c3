"""The strict renderer: undefined variables and syntax errors name the template and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tac_bootstrap.confine import UnreadableError
from tac_bootstrap.errors import TemplateNotFoundError, TemplateRenderError
from tac_bootstrap.render import Renderer, _not_there, templates_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "ok.j2").write_text("name = {{ name }}\n{% if flag %}\nflag\n{% endif %}\nend\n")
    (tmp_path / "undefined.j2").write_text("line one\nline two {{ missing }}\n")
    (tmp_path / "syntax.j2").write_text("a\nb\n{% if %}\n")
    (tmp_path / "attr.j2").write_text("{{ name.missing.deeper }}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.j2").write_text("")
    (tmp_path / "sub" / "a.j2").write_text("")
    return tmp_path


def test_render_keeps_the_trailing_newline_and_trims_block_lines(root: Path) -> None:
    renderer = Renderer(root)
    assert renderer.render("ok.j2", {"name": "x", "flag": True}) == "name = x\nflag\nend\n"
    assert renderer.render("ok.j2", {"name": "x", "flag": False}) == "name = x\nend\n"


def test_undefined_variable_names_template_and_line(root: Path) -> None:
    with pytest.raises(TemplateRenderError) as info:
        Renderer(root).render("undefined.j2", {})
    assert str(info.value) == "undefined.j2:2: 'missing' is undefined"


def test_undefined_attribute_is_an_error_not_an_empty_string(root: Path) -> None:
    with pytest.raises(TemplateRenderError, match=r"^attr\.j2:1: "):
        Renderer(root).render("attr.j2", {"name": "x"})


def test_syntax_error_names_template_and_line(root: Path) -> None:
    with pytest.raises(TemplateRenderError) as info:
        Renderer(root).render("syntax.j2", {})
    assert info.value.template == "syntax.j2"
    assert info.value.line == 3


def test_missing_template_is_named(root: Path) -> None:
    with pytest.raises(TemplateNotFoundError, match=r"no template 'nope\.j2'"):
        Renderer(root).render("nope.j2", {})


def test_walk_is_sorted_and_relative(root: Path) -> None:
    assert list(Renderer(root).walk("sub")) == ["sub/a.j2", "sub/b.j2"]


def test_walk_of_a_missing_folder_is_an_error(root: Path) -> None:
    with pytest.raises(TemplateNotFoundError):
        list(Renderer(root).walk("absent"))


def test_toml_filter_escapes_quotes_and_backslashes(root: Path) -> None:
    rendered = Renderer(root).render_string("{{ v | toml }}", {"v": 'a "b" \\c'}, "inline")
    assert rendered == '"a \\"b\\" \\\\c"'


def test_render_string_undefined_is_named(root: Path) -> None:
    with pytest.raises(TemplateRenderError, match=r"^src/\{\{ nope \}\}: 'nope' is undefined"):
        Renderer(root).render_string("{{ nope }}", {}, "src/{{ nope }}")


def test_bytecode_cache_gives_the_same_output(root: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = Renderer(root, cache_dir=cache).render("ok.j2", {"name": "x", "flag": True})
    assert any(cache.iterdir())
    assert Renderer(root, cache_dir=cache).render("ok.j2", {"name": "x", "flag": True}) == first


def test_shipped_templates_are_found() -> None:
    assert (templates_root() / "project" / "pyproject.toml.j2").is_file()


def test_a_bytecode_cache_that_cannot_be_written_is_ignored(root: Path, tmp_path: Path) -> None:
    """The cache only saves time: a folder gone (or a full disk) must not fail the render."""
    import shutil

    cache = tmp_path / "cache"
    renderer = Renderer(root, cache_dir=cache)
    shutil.rmtree(cache)
    assert renderer.render("ok.j2", {"name": "x", "flag": False}) == "name = x\nend\n"


@pytest.mark.parametrize(
    ("source", "line"),
    [("A\r{{ 1 }}\n", 1), ("x\r\ny\r\nA\rB\r\n", 3), ("a\n{{ '\r' }}\n", 2), ("a\r", 1)],
)
def test_a_template_with_a_lone_cr_is_refused_with_its_line(
    tmp_path: Path, source: str, line: int
) -> None:
    # Jinja2 reads a lone CR as a line end: it rendered as LF, and the BASE never matched.
    (tmp_path / "cr.j2").write_bytes(source.encode())
    (tmp_path / "outer.j2").write_text("{% include 'cr.j2' %}")
    for name in ("cr.j2", "outer.j2"):
        with pytest.raises(TemplateRenderError) as info:
            Renderer(tmp_path).render(name, {})
        assert info.value.template == "cr.j2"
        assert info.value.line == line
        assert "lone CR" in info.value.message


def test_a_cr_written_as_an_escape_or_ending_lines_renders_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "esc.j2").write_bytes(b"A{{ '\\r' }}B\n")
    (tmp_path / "crlf.j2").write_bytes(b"A\r\nB\r\n")
    assert Renderer(tmp_path).render("esc.j2", {}) == "A\rB\n"
    assert Renderer(tmp_path).render("crlf.j2", {}) == "A\r\nB\r\n"


def test_a_template_renamed_away_once_read_is_named_not_a_python_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template renamed away (and back) between the loader's read and its look at the
    file's time: `error: templates/orch/plain.txt.j2: FileNotFoundError: [Errno 2] No such
    file or directory: '/…/plain.txt.j2'`, a Python error's name and the whole path."""
    from tac_bootstrap import render

    (tmp_path / "t.j2").write_text("t")
    real = render.read_file  # type: ignore[attr-defined]

    def read_then_rename(path: Any, *args: Any, **kwargs: Any) -> bytes:
        data = real(path, *args, **kwargs)
        Path(path).rename(tmp_path / "away.j2")
        return data

    monkeypatch.setattr(render, "read_file", read_then_rename)
    with pytest.raises(UnreadableError) as raised:
        Renderer(tmp_path).render("t.j2", {})
    assert str(raised.value) == "cannot read t.j2: No such file or directory"


def test_an_include_found_a_file_again_when_named_is_not_called_a_device(tmp_path: Path) -> None:
    """A partial swapped away (for a link, a rename) when the loader looked, and back when the
    message was written, was "not a regular file (a device)": the file is regular."""
    (tmp_path / "p.j2").write_text("p")
    (tmp_path / "folder.j2").mkdir()
    assert _not_there(tmp_path, "p.j2") == (
        "which was not there when it was read (it changed while in use)"
    )
    assert _not_there(tmp_path, "folder.j2") == "which is not a regular file (a folder)"
    assert _not_there(tmp_path, "none.j2") == "which does not exist"
