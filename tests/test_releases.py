"""The release store: every shipped version re-renders the hashes it really wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jinja2.bccache import bc_magic

from tac_bootstrap import __version__, releases
from tac_bootstrap.checkcache import sha256
from tac_bootstrap.releases import (
    STORE,
    ReleaseStoreError,
    load,
    recorded_versions,
    renames_between,
    render,
    version_key,
)
from tac_bootstrap.releases.__main__ import CASES, live_differences
from tac_bootstrap.render import templates_root

GOLDEN = Path(__file__).parent / "golden" / "releases"
X = {"name": "x", "with_orchestrator": False, "data": {}}


def golden_cases() -> list[tuple[str, Path]]:
    return [(p.parent.name, p) for p in sorted(GOLDEN.glob("*/*.json"))]


def test_every_recorded_version_has_golden_answers_and_back() -> None:
    assert recorded_versions() == sorted(
        (p.name for p in GOLDEN.iterdir() if p.is_dir()), key=version_key
    )
    assert "0.1.0" in recorded_versions()
    for version in recorded_versions():
        # Later releases may add cases (new options); every release has these two at least.
        assert {p.stem for p in (GOLDEN / version).glob("*.json")} >= {"plain", "orchestrator"}
    assert {"plain", "orchestrator"} <= set(CASES)


@pytest.mark.parametrize(("version", "answers_file"), golden_cases(), ids=lambda v: str(v))
def test_golden_answers_reproduce_the_golden_hashes(version: str, answers_file: Path) -> None:
    answers = json.loads(answers_file.read_text(encoding="utf-8"))
    assert answers["version"] == version
    files = render(version, answers)
    assert {path: sha256(f.content) for path, f in files.items()} == answers["files"]


def damage_cache_file(path: Path, damage: str) -> None:
    """Leave what a full disk, a killed run or another program can leave in Jinja2's cache."""
    if damage == "cut short":
        path.write_bytes(path.read_bytes()[: len(bc_magic) + 3])
    elif damage == "garbage":
        path.write_bytes(bc_magic + b"\x80\x04garbage")
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # opened without the fix: waits forever for a writer
        path.unlink()
        os.mkfifo(path)


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0"])  # scheme 1, and 2 (the later ones' too)
@pytest.mark.parametrize("damage", ["cut short", "garbage", "empty", "pipe"])
def test_a_damaged_bytecode_cache_is_compiled_again(
    tmp_path: Path, version: str, damage: str
) -> None:
    answers = json.loads((GOLDEN / version / "orchestrator.json").read_text(encoding="utf-8"))
    cache = tmp_path / "cache"
    cache.mkdir()
    render(version, answers, cache_dir=cache)
    damaged = sorted(cache.rglob("*.cache"))
    assert damaged
    for path in damaged:
        damage_cache_file(path, damage)
    files = render(version, answers, cache_dir=cache)
    assert {path: sha256(f.content) for path, f in files.items()} == answers["files"]


def test_blobs_are_stored_once_and_all_used() -> None:
    used = {digest for v in recorded_versions() for digest in load(v).templates.values()}
    stored = {p.name for p in (STORE / "blobs").iterdir()}
    assert stored == used
    for name in stored:
        assert sha256((STORE / "blobs" / name).read_bytes()) == name


def live_templates() -> dict[str, str]:
    root = templates_root()
    return {
        p.relative_to(root).as_posix(): sha256(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.skipif(
    __version__ not in recorded_versions(), reason=f"{__version__} is not recorded yet"
)
def test_the_recorded_current_version_is_the_live_templates() -> None:
    release = load(__version__)
    todo = (
        f"{__version__} is released and recorded, so what it generates cannot change: bump "
        "__version__ in tac_bootstrap/__init__.py to the next version (a .dev0 while in "
        "development) with a CHANGELOG section, and record that version when it is released "
        f"(README.md, Releasing). Only while v{__version__} is not tagged yet: delete "
        f"tac_bootstrap/releases/index/{__version__}.json, the blobs no other index names and "
        f"tests/golden/releases/{__version__}/, and record {__version__} again"
    )
    changed = sorted(
        name
        for name in release.templates.keys() | live_templates().keys()
        if release.templates.get(name) != live_templates().get(name)
    )
    assert changed == [], f"templates changed: {', '.join(changed)}; {todo}"
    differences = live_differences(templates_root(), release.scheme)
    assert differences == [], f"rendering rules changed ({', '.join(differences[:5])}); {todo}"
    assert releases.pending_renames() == {}, f"templates renamed; {todo}"


def test_pending_renames_name_templates_that_exist() -> None:
    live = live_templates()
    latest = load(recorded_versions()[-1]).templates
    for old, new in releases.pending_renames().items():
        assert old in latest, old
        assert new in live, new


def test_version_order() -> None:
    ordered = [
        "0.1.0",
        "0.2.0.dev1",
        "0.2.0a1",
        "0.2.0rc1",
        "0.2.0",
        "0.2.0.post1",
        "0.2.1",
        "0.10",
    ]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("1.0") == version_key("1.0.0")
    with pytest.raises(ReleaseStoreError, match="is not a version"):
        version_key("latest")


def test_unknown_version_is_an_error() -> None:
    with pytest.raises(ReleaseStoreError, match=r"no record of version 0\.0\.9's templates"):
        render("0.0.9", X)


def write_templates(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_record_keeps_unchanged_files_once_and_carries_renames(tmp_path: Path) -> None:
    store = tmp_path / "store"
    one = write_templates(tmp_path / "one", {"project/a.j2": "A\n", "project/b.j2": "B\n"})
    _, blobs = releases.record("1.0.0", one, 1, store)
    assert len(blobs) == 2
    (store / "renames.json").write_text(json.dumps({"project/a.j2": "project/c.j2"}))
    two = write_templates(tmp_path / "two", {"project/c.j2": "A\n", "project/b.j2": "B2\n"})
    release, blobs = releases.record("2.0.0", two, 1, store)
    assert blobs == [sha256(b"B2\n")]
    assert release.renamed == {"project/a.j2": "project/c.j2"}
    assert releases.pending_renames(store) == {}
    (store / "renames.json").write_text(json.dumps({"project/c.j2": "project/d.j2"}))
    assert renames_between("1.0.0", "2.0.0", store) == {"project/a.j2": "project/c.j2"}
    assert renames_between("1.0.0", "3.0.0", store) == {"project/a.j2": "project/d.j2"}
    assert renames_between("2.0.0", "3.0.0", store) == {"project/c.j2": "project/d.j2"}
    assert render("2.0.0", X, store)["c"].content == b"A\n"


def test_a_release_is_recorded_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    releases.record("1.0.0", write_templates(tmp_path / "a", {"project/a.j2": "A\n"}), 1, store)
    releases.record("1.0.0", tmp_path / "a", 1, store)  # the same templates again: harmless
    other = write_templates(tmp_path / "b", {"project/a.j2": "changed\n"})
    with pytest.raises(ReleaseStoreError, match="already recorded with other templates"):
        releases.record("1.0.0", other, 1, store)


def test_damaged_blob_is_an_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    releases.record("1.0.0", write_templates(tmp_path / "a", {"project/a.j2": "A\n"}), 1, store)
    (store / "blobs" / sha256(b"A\n")).write_text("B\n")
    with pytest.raises(ReleaseStoreError, match="is damaged"):
        render("1.0.0", X, store)
