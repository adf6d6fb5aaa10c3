"""The sync manifest: what a good one gives, and each way a bad one is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tac_bootstrap import manifest as manifest_module
from tac_bootstrap.cli import app
from tac_bootstrap.confine import NotUtf8Error, read_file
from tac_bootstrap.manifest import Agreement, ManifestError, Pair, load_manifest

#: The ``after_each_look`` fixture (conftest): a hook run after each look at a path.
AfterEachLook = Callable[[Path, Callable[[int], None]], list[object]]

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"
REPO = Path(__file__).resolve().parent.parent


def write(root: Path, body: str) -> Path:
    (root / "templates").mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(body)
    return root


def test_fixture_manifest() -> None:
    manifest = load_manifest(FIXTURE)
    assert manifest is not None
    assert manifest.templates_dir == FIXTURE / "templates"
    assert [p.base for p in manifest.pairs] == [
        "pkg/orch/models.py",
        "pkg/orch/schema.sql",
        "pkg/orch/database.py",
        "pkg/orch/hello.py",
        "pkg/orch/plain.txt",
    ]
    assert manifest.pairs[0].context == {"package": "pkg.orch", "greeting": "hello"}
    assert manifest.pairs[3] == Pair(
        "pkg/orch/hello.py", "orch/hello.py.j2", {"package": "pkg.orch", "greeting": "hi"}
    )
    assert manifest.base_globs == ("pkg/orch/*",)
    assert manifest.template_globs == ("orch/**/*.j2",)
    assert manifest.unpaired == ("pkg/orch/__init__.py",)
    assert manifest.agreement == Agreement(
        "pkg/orch/models.py", "pkg/orch/schema.sql", "pkg/orch/database.py"
    )
    assert manifest.template_path("orch/x.j2") == "templates/orch/x.j2"


def test_this_repository_manifest_reads() -> None:
    manifest = load_manifest(REPO)
    assert manifest is not None
    assert manifest.agreement is not None
    assert all(p.context["package"] == "tac_bootstrap.orchestrator" for p in manifest.pairs)


def test_default_globs_are_the_folders_of_the_pairs(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        '[tool.tac-bootstrap.sync]\n[[tool.tac-bootstrap.sync.pairs]]\nbase = "a/b/x.py"\n'
        'template = "t/x.py.j2"\n[[tool.tac-bootstrap.sync.pairs]]\nbase = "top.txt"\n'
        'template = "top.txt.j2"\n',
    )
    manifest = load_manifest(root)
    assert manifest is not None
    assert manifest.templates == "templates"
    assert manifest.base_globs == ("*", "a/b/*")
    assert manifest.template_globs == ("*", "t/*")
    assert (manifest.unpaired, manifest.agreement) == ((), None)


def test_agreement_without_database(tmp_path: Path) -> None:
    root = write(
        tmp_path, '[tool.tac-bootstrap.sync.agreement]\nmodels = "m.py"\nschema = "s.sql"\n'
    )
    manifest = load_manifest(root)
    assert manifest is not None
    assert manifest.agreement == Agreement("m.py", "s.sql", None)
    assert manifest.pairs == ()


def test_agreement_with_migrations(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        '[tool.tac-bootstrap.sync.agreement]\nmodels = "m.py"\nschema = "s.sql"\n'
        'migrations = "./db//migrations/"\n',
    )
    manifest = load_manifest(root)
    assert manifest is not None
    assert manifest.agreement == Agreement("m.py", "s.sql", migrations="db/migrations")


def test_agreement_migrations_must_stay_inside_the_root(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        '[tool.tac-bootstrap.sync.agreement]\nmodels = "m.py"\nschema = "s.sql"\n'
        'migrations = "../elsewhere"\n',
    )
    with pytest.raises(
        ManifestError, match=r"migrations: '\.\./elsewhere' must be a relative path"
    ):
        load_manifest(root)


def test_no_pyproject_or_no_table_is_no_manifest(tmp_path: Path) -> None:
    assert load_manifest(tmp_path) is None
    write(tmp_path, "[tool.other]\nx = 1\n")
    assert load_manifest(tmp_path) is None


def test_missing_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist or is not a folder"):
        load_manifest(tmp_path / "nowhere")


S = "[tool.tac-bootstrap.sync]\n"
P = "[[tool.tac-bootstrap.sync.pairs]]\n"
ONE = "are one file where names ignore case or Unicode form (macOS, Windows)"


def two_pairs(key: str, one: str, other: str) -> str:
    """Two pairs whose ``key`` (base or template) is ``one`` and ``other``, the rest apart."""
    pairs = [(one, "b"), (other, "c")] if key == "base" else [("a", one), ("b", other)]
    return "".join(P + f"base = '{b}'\ntemplate = '{t}'\n" for b, t in pairs)


BAD = [
    ("[tool", "cannot be read as TOML: "),
    (S + "templat = 'x'\n", "[tool.tac-bootstrap.sync]: unknown key 'templat' (known: "),
    (S + "templates = 'nope'\n", "templates: folder 'nope' does not exist under "),
    (S + "templates = 3\n", "templates must be a non-empty string"),
    (S + "pairs = 1\n", "pairs must be an array of tables"),
    (S + "pairs = [1]\n", "pairs[1] must be a table, not int"),
    (P + "base = 'a'\n", "pairs[1]: missing 'template'"),
    (P + "template = 'a'\n", "pairs[1]: missing 'base'"),
    (P + "base = 'a'\ntemplate = 'b'\nbsae = 1\n", "pairs[1]: unknown key 'bsae'"),
    (P + "base = '/etc/x'\ntemplate = 'b'\n", "base: '/etc/x' must be a relative path"),
    (P + "base = '../x'\ntemplate = 'b'\n", "base: '../x' must be a relative path"),
    (P + "base = 'a'\ntemplate = '..\\\\b'\n", "must be a relative path with '/'"),
    (P + "base = ''\ntemplate = 'b'\n", "base must be a non-empty string"),
    (P + "base = 'a'\ntemplate = 'b'\ncontext = 1\n", "pairs[1] context must be a table"),
    (P + "base = 'a'\ntemplate = 'b'\n" + P + "base = 'a'\ntemplate = 'c'\n", "more than one"),
    # One file on macOS and Windows: a sync wrote it twice and the check never passed there.
    *(
        pytest.param(two_pairs(key, one, other), ONE, id=f"one-{what}-ignoring-{how}")
        for key, what, one, other, how in [
            ("base", "file", "p/A.txt", "p/a.txt", "case"),
            ("base", "file", "p/\u00e9", "p/e\u0301", "unicode-form"),
            ("base", "file", "p/x.txt", "p/x.txt.", "a-trailing-dot"),
            ("base", "file", "P/x", "p//X", "case-and-slashes"),
            ("template", "template", "o/B.j2", "o/b.j2", "case"),
            ("template", "template", "\u00e9.j2", "e\u0301.j2", "unicode-form"),
        ]
    ),
    (S + "context = []\n", "context must be a table, not list"),
    (S + "base_globs = 'x'\n", "base_globs must be an array of non-empty strings"),
    (S + "unpaired = ['']\n", "unpaired must be an array of non-empty strings"),
    ("[tool.tac-bootstrap.sync.agreement]\nschema = 's'\n", "agreement: missing 'models'"),
    ("[tool.tac-bootstrap]\nsync = 1\n", "[tool.tac-bootstrap.sync] must be a table, not int"),
    (
        "[tool.tac-bootstrap.sync.agreement]\nmodels = 'm'\nschema = 's'\ndb = 'd'\n",
        "agreement: unknown key 'db'",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_bad_manifest_is_refused(tmp_path: Path, body: str, message: str) -> None:
    write(tmp_path, body)
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'pyproject.toml'}: ")
    assert message in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("key", "one", "other", "shown"),
    [
        ("base", "p/caf\u00e9.txt", "p/cafe\u0301.txt", "'p/cafe\\u0301.txt' and 'p/caf\\xe9.txt'"),
        ("template", "caf\u00e9.j2", "cafe\u0301.j2", "'cafe\\u0301.j2' and 'caf\\xe9.j2'"),
        ("base", "p/A.txt", "p/a.txt", "'p/a.txt' and 'p/A.txt'"),
    ],
)
def test_two_names_one_file_apart_only_in_unicode_form_are_told_apart(
    tmp_path: Path, key: str, one: str, other: str, shown: str
) -> None:
    """``'pkg/orch/café.txt' and 'pkg/orch/café.txt' are one file …``: two names alike."""
    write(tmp_path, two_pairs(key, one, other))
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert f"pairs: {shown} {ONE}" in str(info.value)


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\x00")  # no byte-order mark
    with pytest.raises(NotUtf8Error, match=r"pyproject\.toml is not UTF-8 text \(byte 0xff"):
        load_manifest(tmp_path)


def test_copy_of_fixture_reads_the_same(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "r")
    manifest = load_manifest(tmp_path / "r")
    reference = load_manifest(FIXTURE)
    assert manifest is not None
    assert reference is not None
    assert manifest.pairs == reference.pairs


BOM = b"\xef\xbb\xbf"
BOM_SAID = "starts with a byte-order mark (save it as UTF-8 without BOM)"
# A file a command reads, with a UTF-8 byte-order mark put before its first byte: the commands
# that read it, and what each says (None: accepted, as Python and the Markdown reader accept it).
BOM_CASES = {
    "pyproject": ("pyproject.toml", ["sync-check", "sync", "migration-new"], "p/pyproject.toml"),
    "answers": (".tac-bootstrap.json", ["sync-check", "update"], "p/.tac-bootstrap.json"),
    "schema": ("src/p/schema_orchestrator.sql", ["sync-check", "sync", "migration-new"], "src/"),
    "migration": ("src/p/migrations/0001_initial.sql", ["sync-check", "migration-new"], "src/"),
    "models": ("src/p/orch_database_models.py", ["sync-check", "sync", "migration-new"], None),
    "database": ("src/p/database.py", ["sync-check", "migration-new"], None),
}
COMMANDS = {
    "sync-check": ["sync-check", "--root", "p", "--no-cache"],
    "sync": ["sync", "--root", "p", "--dry-run"],
    "update": ["update", "--root", "p", "--dry-run"],
    "migration-new": ["migration", "new", "x", "--root", "p", "--dry-run"],
}


EXE = Path(sys.executable).with_name("tac-bootstrap")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Make one project with the installed script's ``init``, for each test to copy."""
    top = tmp_path_factory.mktemp("made")
    proc = subprocess.run(
        [EXE, "init", "p", "--with-orchestrator"], cwd=top, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return top / "p"


@pytest.fixture
def project(made: Path, tmp_path: Path) -> Path:
    """Return ``tmp_path/p``: a copy of the project ``init`` made."""
    shutil.copytree(made, tmp_path / "p", symlinks=True)
    return tmp_path / "p"


def in_process(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command in this process from ``cwd``, as the script would (the message is the case).

    An exception the command does not turn into its error line fails the test, as a traceback.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        result = CliRunner().invoke(app, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize(("rel", "commands", "named"), BOM_CASES.values(), ids=BOM_CASES)
def test_a_byte_order_mark_is_named_by_every_command_that_refuses_it(
    project: Path, rel: str, commands: list[str], named: str | None
) -> None:
    # pyproject.toml: `cannot be read as TOML: Invalid statement (at line 1, column 1)`; the
    # answers file: `not JSON: Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1
    # (char 0)`. Now each says what the schema and the migrations said.
    path = project / rel
    path.write_bytes(BOM + path.read_bytes())
    for command in commands:  # through the script: what it prints and its exit code
        proc = subprocess.run(
            [EXE, *COMMANDS[command]],
            cwd=project.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if named is None:  # Python reads a source file with a BOM: an edit, nothing more
            assert proc.returncode == 0, (command, proc.stderr)
            continue
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert proc.stderr.count("\n") == 1, (command, proc.stderr)
        assert proc.stderr.startswith(f"error: {named}"), (command, proc.stderr)
        assert proc.stderr.rstrip().endswith(BOM_SAID), (command, proc.stderr)


# A file a command reads, saved as UTF-16 or UTF-32 with its byte-order mark (what Windows
# editors call "Unicode"): the commands that read it, and the name the error line starts with.
WIDE_CASES = {
    "pyproject": ("pyproject.toml", ["sync-check", "sync", "migration-new"], "p/pyproject.toml"),
    "answers": (".tac-bootstrap.json", ["sync-check", "update"], "p/.tac-bootstrap.json"),
    "schema": ("src/p/schema_orchestrator.sql", ["sync-check", "migration-new"], "src/p/schema"),
    "migration": ("src/p/migrations/0001_initial.sql", ["sync-check", "migration-new"], "src/p/m"),
    "models": ("src/p/orch_database_models.py", ["sync-check"], "src/p/orch_database_models.py"),
    "database": ("src/p/database.py", ["sync-check"], "src/p/database.py"),
    "imported": ("src/p/database_migrate.py", ["sync-check"], "src/p/database_migrate.py"),
}
WIDE = {
    "utf-16": ("utf-16", "UTF-16"),
    "utf-16-be": ("utf-16-be", "UTF-16"),
    "utf-32": ("utf-32", "UTF-32"),
}


def each_refuses(cwd: Path, commands: list[str], named: str, said: str) -> None:
    """Run each command (in this process): one `error: <named>…<said>` line, exit 2."""
    for command in commands:
        proc = in_process(*COMMANDS[command], cwd=cwd)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert proc.stderr.count("\n") == 1, (command, proc.stderr)
        assert proc.stderr.startswith(f"error: {named}"), (command, proc.stderr)
        assert proc.stderr.rstrip().endswith(said), (command, proc.stderr)


@pytest.mark.parametrize("encoding", list(WIDE))
@pytest.mark.parametrize(("rel", "commands", "named"), WIDE_CASES.values(), ids=WIDE_CASES)
def test_a_utf16_or_utf32_file_is_named_by_its_encoding(
    project: Path, rel: str, commands: list[str], named: str, encoding: str
) -> None:
    # Before: `is not UTF-8 text (byte 0xff at offset 0)`, `not UTF-8: 'utf-8' codec can't
    # decode byte 0xff in position 0` (answers), and for a module the child imports: `the
    # models module fails to import: SyntaxError: source code string cannot contain null
    # bytes`, naming database.py for database_migrate.py.
    path = project / rel
    codec, name = WIDE[encoding]
    text = path.read_text(encoding="utf-8")
    path.write_bytes(("\ufeff" if codec.endswith("-be") else "").encode(codec) + text.encode(codec))
    said = f"is {name}, not UTF-8 (its byte-order mark says so): save it as UTF-8"
    each_refuses(project.parent, commands, named, said)


# The same files saved without a byte-order mark: (codec, the encoding named).
UNMARKED = {
    "utf-16-le": ("utf-16-le", "UTF-16"),
    "utf-16-be": ("utf-16-be", "UTF-16"),
    "utf-32-le": ("utf-32-le", "UTF-32"),
}


@pytest.mark.parametrize("encoding", list(UNMARKED))
@pytest.mark.parametrize(("rel", "commands", "named"), WIDE_CASES.values(), ids=WIDE_CASES)
def test_a_utf16_file_without_its_byte_order_mark_is_named_by_its_bytes(
    project: Path, rel: str, commands: list[str], named: str, encoding: str
) -> None:
    # Before: the file is valid UTF-8 holding a NUL after each character, and each command
    # said something else: `pyproject.toml: cannot be read as TOML: Invalid initial character
    # for a key part`, the answers file `not JSON: Expecting property name …`, the schema and
    # the migration a problem (`line 1 holds a NUL byte`, exit 1), the models module `fails to
    # import: SyntaxError: source code string cannot contain null bytes`, database_migrate.py
    # the same naming database.py.
    path = project / rel
    codec, name = UNMARKED[encoding]
    path.write_bytes(path.read_text(encoding="utf-8").encode(codec))
    said = f"looks like {name} without a byte-order mark: save it as UTF-8"
    each_refuses(project.parent, commands, named, said)


def test_a_utf8_file_holding_a_nul_is_not_named_utf16(project: Path) -> None:
    # A NUL after a migration's statement, in UTF-8: the problem it was (a NUL is not SQL),
    # not a file in another encoding.
    path = project / "src/p/migrations/0001_initial.sql"
    path.write_bytes(path.read_bytes() + b"SELECT 1;\x00\n")
    proc = in_process(*COMMANDS["sync-check"], cwd=project.parent)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "holds a NUL byte" in proc.stdout, proc.stdout
    assert "UTF-16" not in proc.stdout + proc.stderr


def test_pairs_may_share_a_template_spelt_alike_or_with_empty_segments(tmp_path: Path) -> None:
    """Only names that differ in case or Unicode form are one file on macOS and Windows."""
    pairs = "".join(
        P + f"base = 'b{i}'\ntemplate = {name!r}\n"
        for i, name in enumerate(["o/b.j2", "o/b.j2", "o//b.j2", "./o/b.j2", "o/c.j2"])
    )
    write(tmp_path, pairs)
    manifest = load_manifest(tmp_path)
    assert manifest is not None
    assert len(manifest.pairs) == 5


@pytest.mark.parametrize("when", ["before", "at-its-open"])
def test_a_manifest_that_is_a_fifo_is_said_one_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    # `p/pyproject.toml: not a regular file (a FIFO, a socket or a device)` when seen before
    # the open, `cannot read p/pyproject.toml: not a regular file` when it became one at it.
    shutil.copytree(FIXTURE, tmp_path / "r")
    path = tmp_path / "r" / "pyproject.toml"

    def a_fifo() -> None:
        path.unlink()
        os.mkfifo(path)

    if when == "before":
        a_fifo()
    else:
        real = read_file  # what the manifest module reads with

        def made_a_fifo_at_the_open(file: Path | str, *, resolved: bool = False) -> bytes:
            a_fifo()
            return real(file, resolved=resolved)

        monkeypatch.setattr(manifest_module, "read_file", made_a_fifo_at_the_open)
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "r")
    assert str(info.value) == f"{path}: not a regular file (a FIFO)"


@pytest.mark.parametrize("then", ["gone", "file"])
@pytest.mark.parametrize("looks", [1, 2, 3, 4, 5])
def test_a_manifest_away_for_a_moment_is_not_called_a_device_or_a_link(
    tmp_path: Path, after_each_look: AfterEachLook, then: str, looks: int
) -> None:
    # pyproject.toml renamed away, a FIFO put at its name, removed, the file renamed back:
    # back at the look that names what is there, it was `not a regular file (a device)`;
    # gone at it, `a symbolic link to nothing, not a file`. Whatever look it changes after,
    # what is said is what was there at a look: a FIFO, no manifest, or the file read.
    shutil.copytree(FIXTURE, tmp_path / "r")
    path = tmp_path / "r" / "pyproject.toml"
    content = path.read_bytes()
    path.unlink()
    os.mkfifo(path)

    def changed(look: int) -> None:
        if look == looks:
            path.unlink()
            if then == "file":
                path.write_bytes(content)

    seen = after_each_look(path, changed)
    said = ""
    try:
        manifest = load_manifest(tmp_path / "r")
    except ManifestError as exc:
        said = str(exc)
    if said:
        assert said == f"{path}: not a regular file (a FIFO)"
    else:
        assert (manifest is None) if then == "gone" else (manifest is not None)
    assert seen  # the place was looked at
