"""The clean-check records: content-keyed, per root, dropped when the checker changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tac_bootstrap import checkcache
from tac_bootstrap.checkcache import CACHE_ENV, CheckCache


def test_records_survive_a_save(tmp_path: Path) -> None:
    cache = CheckCache(tmp_path / "c", tmp_path)
    assert cache.enabled
    cache.put("pair:a", {"base": "1"})
    cache.save()
    again = CheckCache(tmp_path / "c", tmp_path)
    assert again.get("pair:a") == {"base": "1"}
    assert again.get("pair:b") is None


def test_roots_do_not_mix(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    cache = CheckCache(tmp_path / "c", tmp_path / "one")
    cache.put("k", 1)
    cache.save()
    assert CheckCache(tmp_path / "c", tmp_path / "two").get("k") is None


def test_disabled_cache_keeps_nothing(tmp_path: Path) -> None:
    cache = CheckCache(None, tmp_path)
    cache.put("k", 1)
    cache.save()
    assert (cache.enabled, cache.get("k")) == (False, None)


def test_records_of_another_checker_are_dropped(tmp_path: Path) -> None:
    cache = CheckCache(tmp_path / "c", tmp_path)
    cache.put("k", 1)
    cache.save()
    assert cache.path is not None
    data = json.loads(cache.path.read_text())
    data["checker"] = "an older version"
    cache.path.write_text(json.dumps(data))
    assert CheckCache(tmp_path / "c", tmp_path).get("k") is None


def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    cache = CheckCache(tmp_path / "c", tmp_path)
    assert cache.path is not None
    cache.path.parent.mkdir()
    cache.path.write_text("{not json")
    assert CheckCache(tmp_path / "c", tmp_path).get("k") is None


def test_save_writes_only_when_something_changed(tmp_path: Path) -> None:
    cache = CheckCache(tmp_path / "c", tmp_path)
    cache.save()
    assert not (tmp_path / "c").exists()
    cache.put("k", 1)
    cache.save()
    assert cache.path is not None
    assert cache.path.is_file()
    assert [p.name for p in (tmp_path / "c").iterdir()] == [cache.path.name]  # no temp left


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "explicit"))
    assert checkcache.default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert checkcache.default_cache_dir() == tmp_path / "xdg" / "tac-bootstrap"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert checkcache.default_cache_dir() == tmp_path / "home" / ".cache" / "tac-bootstrap"


def test_file_sha(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    assert checkcache.file_sha(tmp_path / "f") == checkcache.sha256(b"abc")
    assert checkcache.file_sha(tmp_path / "missing") is None


def test_files_digest_follows_contents_and_names(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1")
    (tmp_path / "b").write_text("2")
    first = checkcache.files_digest(tmp_path, ["a", "b"])
    assert first == checkcache.files_digest(tmp_path, ["a", "b"])
    assert checkcache.files_digest(tmp_path, ["b", "a"]) != first
    (tmp_path / "b").write_text("3")
    assert checkcache.files_digest(tmp_path, ["a", "b"]) not in (None, first)
    assert checkcache.files_digest(tmp_path, ["a", "missing"]) is None


def test_records_not_used_by_a_run_are_dropped(tmp_path: Path) -> None:
    cache = CheckCache(tmp_path / "c", tmp_path)
    cache.put("kept", 1)
    cache.put("gone", 2)
    cache.save()
    again = CheckCache(tmp_path / "c", tmp_path)
    assert again.get("kept") == 1
    again.save()
    assert CheckCache(tmp_path / "c", tmp_path).entries == {"kept": 1}


@pytest.mark.parametrize("fixture", ["syncrepo", "migrepo"])
def test_every_module_a_check_runs_is_part_of_the_checker_s_key(fixture: str) -> None:
    """A cached verdict stands only for the code that gave it: the modules a check imports
    hash into the key (with the version, which a development install keeps across changes).
    The template bounds (``bounded``), the SQL rules of the modules' literals (``sqlfile``,
    ``sqlliterals``, ``sqlreach``, ``pgtargets``) and the child's confinement (``sandbox``)
    were not: a clean record made by a checker that missed a case still passed the same
    files once the checker refused it."""
    import subprocess
    import sys

    root = Path(__file__).parent / "fixtures" / fixture
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tac_bootstrap import sync\n"
        f"sync.check(Path({str(root)!r}), cache_dir=None)\n"
        "print(*sorted(m for m in sys.modules if m.startswith('tac_bootstrap.')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    imported = {name.removeprefix("tac_bootstrap.") + ".py" for name in proc.stdout.split()}
    not_verdicts = {"errors.py", "report.py"}  # messages and the report's shape
    assert imported - not_verdicts - set(checkcache._CHECKER_MODULES) == set()
    assert "sandbox.py" in checkcache._CHECKER_MODULES  # imported in the child only
