"""The command line: parse, call one library function, print, exit.

Results go to stdout, status to stderr. Exit codes: 0 ok, 1 a check found problems,
2 bad input or could not run. Jinja2, Pydantic and Rich are imported inside the
commands that need them, so that ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from tac_bootstrap import __version__, fastinit
from tac_bootstrap.entry import WholeOutput
from tac_bootstrap.errors import InvalidInputError, TacBootstrapError

app = typer.Typer(
    name="tac-bootstrap",
    help=(
        "Generate Python projects whose agents persist their state in SQLite, "
        "and keep BASE code and templates in sync.\n\n"
        "Exit codes: 0 ok, 1 a check found problems, 2 bad input or could not run."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: reflows paragraphs and does not import Rich
)

DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        metavar="KEY=VALUE",
        help=(
            "Template value; repeatable. Keys: author, description, license (MIT, Apache-2.0, "
            "BSD-3-Clause or none; default MIT), python_requires, version, year."
        ),
        show_default=False,
    ),
]
OrchestratorOption = Annotated[
    bool,
    typer.Option(
        "--with-orchestrator",
        help="Add the SQLite persistence layer: models, schema, async database module and tests.",
    ),
]
DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        metavar="sqlite|postgres",
        help="Database of the orchestrator layer (needs --with-orchestrator): sqlite, or "
        "postgres to add an asyncpg module with the same API, its schema and migrations.",
    ),
]


def fail(exc: TacBootstrapError) -> NoReturn:
    """Print an expected error as ``error: <message>`` on stderr and exit with its code."""
    fastinit.print_error(exc)
    raise typer.Exit(exc.exit_code) from exc


def status(line: str) -> None:
    """Print the summary line on stderr after the report went out on stdout.

    A closed or full stderr (``2>&-``) then changes nothing: the files are written and listed,
    and the exit code stays the report's, as with sync-check and update (it was 2).
    """
    try:
        with WholeOutput():
            typer.echo(line, err=True)
    except OSError:
        fastinit.silence_failed_streams()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"tac-bootstrap {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_version_callback,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Generate Python projects whose agents persist their state in SQLite."""


@app.command(
    epilog=(
        "\b\nExamples:\n"
        "  tac-bootstrap init my-app --with-orchestrator\n"
        "  tac-bootstrap init my-app --with-orchestrator --db postgres\n"
        "  tac-bootstrap init my-app -o ~/code/my-app -d description='My agents' --dry-run\n"
        "  tac-bootstrap init my-app --force   # rewrite the generated files, keep all others"
    ),
)
def init(
    name: Annotated[
        str,
        typer.Argument(
            help="Project name, e.g. my-app: gives the distribution name and the import package.",
            metavar="NAME",
            show_default=False,
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Folder to create [default: ./NAME].",
            show_default=False,
            metavar="PATH",
        ),
    ] = None,
    with_orchestrator: OrchestratorOption = False,
    db: DbOption = "sqlite",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a folder that is not empty: replace the files the project renders, "
            "never touch or delete any other file.",
        ),
    ] = False,
    data: DataOption = None,
) -> None:
    """Create a new Python project, optionally with the SQLite orchestrator layer.

    Refuses a folder that exists and is not empty unless --force is given. The project
    is rendered completely before anything is written, so an error leaves nothing
    behind. Prints the files written on stdout, one per line; status goes to stderr.
    """
    if output == "":  # an unset variable (-o "$DIR"): not the current folder, which is `-o .`
        fail(InvalidInputError("--output is empty: give the folder to create (. for this one)"))
    folder = None if output is None else Path(output)
    code = fastinit.run(
        fastinit.Options(name, folder, with_orchestrator, db, dry_run, force, tuple(data or ()))
    )
    raise typer.Exit(code)


@app.command(
    epilog=(
        "\b\nExamples:\n"
        "  tac-bootstrap render --list\n"
        "  tac-bootstrap render project/pyproject.toml.j2 --with-orchestrator -d version=1.0.0"
    ),
)
def render(
    template: Annotated[
        str | None,
        typer.Argument(
            help="Template path relative to the templates folder.",
            metavar="TEMPLATE",
            show_default=False,
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Project name to render with.")] = "my-app",
    with_orchestrator: OrchestratorOption = False,
    db: DbOption = "sqlite",
    data: DataOption = None,
    list_templates: Annotated[
        bool, typer.Option("--list", help="List the templates and exit.")
    ] = False,
) -> None:
    """Print one rendered template on stdout, for debugging templates."""
    from tac_bootstrap.render import Renderer
    from tac_bootstrap.spec import LICENSE_FOLDER, TEMPLATE_SETS, ProjectSpec, parse_data

    try:
        renderer = Renderer()
        # The options are checked with --list too: a wrong one is an error, not ignored.
        spec = ProjectSpec.build(
            name, with_orchestrator=with_orchestrator, db=db, data=parse_data(data or [])
        )
        if list_templates:
            folders = (*TEMPLATE_SETS, LICENSE_FOLDER)
            typer.echo("\n".join(n for folder in folders for n in renderer.walk(folder)))
            return
        if template is None:
            msg = "missing TEMPLATE; `tac-bootstrap render --list` lists them"
            raise InvalidInputError(msg)
        text = renderer.render(template, spec.context())
    except TacBootstrapError as exc:
        fail(exc)
    with WholeOutput():
        typer.echo(text, nl=False)


class SyncFormat(StrEnum):
    """How ``sync-check`` shows what it found."""

    text = "text"
    json = "json"
    github = "github"


class SyncSource(StrEnum):
    """Which side ``sync`` treats as the source of truth."""

    template = "template"
    base = "base"


RootOption = Annotated[
    Path,
    typer.Option(
        "--root",
        help="Repository with a sync manifest, or a generated project.",
        file_okay=False,
        readable=False,  # a root it cannot list: the file it cannot read is named (exit 2)
    ),
]


@app.command(
    "sync-check",
    epilog=(
        "\b\nExamples:\n"
        "  tac-bootstrap sync-check\n"
        "  tac-bootstrap sync-check --root my-app --format github   # annotations in CI"
    ),
)
def sync_check_command(
    root: RootOption = Path(),
    fmt: Annotated[
        SyncFormat,
        typer.Option("--format", help="text: diffs; json: one report; github: annotations."),
    ] = SyncFormat.text,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Check everything again; read and write no cache."),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="In a generated project, fail on edits since generation, changed templates "
            "and a newer generator too (otherwise notes).",
        ),
    ] = False,
) -> None:
    """Exit 1 if a BASE file drifted from its template or models, schema and database disagree.

    Renders every template of the [tool.tac-bootstrap.sync] manifest and compares it with
    its BASE file byte for byte; reports unpaired and missing files; checks that the models,
    schema and database module agree. In a generated project, files edited since generation,
    templates changed since and a newer generator are notes, with their diffs (`tac-bootstrap
    update` follows the templates and keeps the edits); they fail only with --strict.
    Conflicts an update left unresolved always fail. Pairs unchanged since their last clean
    check (same content hashes) are skipped; the cache is in $TAC_BOOTSTRAP_CACHE_DIR or
    the user cache folder. Exit 0 all agree, 1 problems, 2 could not run.
    """
    from tac_bootstrap.fastcheck import run

    raise typer.Exit(run(root, fmt.value, no_cache=no_cache, strict=strict))


@app.command(
    "sync",
    epilog=(
        "\b\nExamples:\n"
        "  tac-bootstrap sync --dry-run      # show what would be rewritten\n"
        "  tac-bootstrap sync --from base    # copy edited BASE files into their templates"
    ),
)
def sync_command(
    root: Annotated[
        Path,
        typer.Option(
            "--root",
            help="Repository with a [tool.tac-bootstrap.sync] manifest.",
            file_okay=False,
            readable=False,
        ),
    ] = Path(),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    source: Annotated[
        SyncSource,
        typer.Option(
            "--from",
            help="template: rewrite BASE files from templates; base: copy BASE files into "
            "templates that have no Jinja logic.",
        ),
    ] = SyncSource.template,
) -> None:
    """Rewrite BASE files from their templates and show what changed.

    With --from base, copies each edited BASE file into its template instead, where the
    template has no Jinja logic; where it has, refuses and prints the diff to apply by
    hand. Exit 0 done, 1 something was refused, 2 could not run.
    """
    from tac_bootstrap import sync

    try:
        report = sync.fix(root, dry_run=dry_run, from_base=source is SyncSource.base)
    except TacBootstrapError as exc:
        fail(exc)
    from tac_bootstrap.report import no_workflow_commands

    with WholeOutput():  # a stop meanwhile ends the command after the report, not in it
        typer.echo(no_workflow_commands(report.render_text()), nl=False)
    status(report.summary())
    raise typer.Exit(1 if report.refused else 0)


class UpdateFormat(StrEnum):
    """How ``update`` shows what it did."""

    text = "text"
    json = "json"


@app.command(
    "update",
    epilog=(
        "\b\nExamples:\n"
        "  tac-bootstrap update --dry-run            # would this conflict? (same exit code)\n"
        "  tac-bootstrap update --root my-app\n"
        "  tac-bootstrap update -d description='My agents' --format json"
    ),
)
def update_command(
    root: Annotated[
        Path,
        typer.Option(
            "--root", help="The generated project to update.", file_okay=False, readable=False
        ),
    ] = Path(),
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the plan and its diffs; write nothing."),
    ] = False,
    data: DataOption = None,
    fmt: Annotated[
        UpdateFormat,
        typer.Option("--format", help="text: one line per file; json: one object, for tools."),
    ] = UpdateFormat.text,
) -> None:
    """Bring a generated project to this version of tac-bootstrap, keeping your edits.

    Each file is merged three ways: what the project's recorded version generated (re-rendered
    from the templates this package keeps of every release, and trusted only if its sha256
    matches .tac-bootstrap.json), the file as it is now, and what this version generates.
    Unedited files are replaced; edited text files are merged line by line, and where your
    edit and the new template touch the same lines the file gets conflict markers
    (<<<<<<< yours / ||||||| tac-bootstrap OLD / ======= / >>>>>>> tac-bootstrap NEW);
    an edited binary file that also changed keeps yours and gets the new one beside it.
    A file you deleted stays deleted; a file whose template was removed is deleted if
    unedited, kept if edited; a renamed template moves your file, edits included; a new
    template where you already have a file is a conflict, nothing is overwritten.

    Stdout, one line per file: M modified, A added, D deleted, C conflict,
    K kept as it is, R OLD -> NEW renamed. The summary goes to stderr.
    Every file changed is first copied to .tac-bootstrap/backup/FROM-TO/; the
    answers file is written last, and a run that was interrupted can be run again.

    Exit codes: 0 updated or already current; 1 conflicts or files that need you
    (resolve them, then `tac-bootstrap sync-check`); 2 refused, nothing written
    (no or invalid answers file, a downgrade, conflicts of an earlier update still
    unresolved, a template error, a path outside the project).
    """
    from tac_bootstrap.fastupdate import run

    raise typer.Exit(run(root, data or [], dry_run=dry_run, fmt=fmt.value))


migration_app = typer.Typer(
    help="Write the migrations of the orchestrator database.", no_args_is_help=True
)
app.add_typer(migration_app, name="migration")


@migration_app.command(
    "new",
    epilog=(
        "\b\nExamples:\n"
        "  tac-bootstrap migration new widen_agent_status --dry-run\n"
        "  tac-bootstrap migration new rename_chat --rename orchestrator_chats:orchestrator_chat\n"
        "  tac-bootstrap migration new rename_title --rename agents.name:title"
    ),
)
def migration_new_command(
    slug: Annotated[
        str,
        typer.Argument(
            help="What the migration does, in lower-case words joined by _; names the file.",
            metavar="SLUG",
            show_default=False,
        ),
    ],
    root: Annotated[
        Path,
        typer.Option(
            "--root",
            help="Project whose pyproject.toml names the schema, database module and migrations.",
            file_okay=False,
            readable=False,
        ),
    ] = Path(),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the migration; write nothing.")
    ] = False,
    rename: Annotated[
        list[str] | None,
        typer.Option(
            "--rename",
            metavar="TABLE.OLD:NEW",
            help="A renamed column (TABLE.OLD:NEW) or table (OLD:NEW); repeatable.",
            show_default=False,
        ),
    ] = None,
    allow_lossy: Annotated[
        bool,
        typer.Option("--allow-lossy", help="Allow type changes that can alter stored values."),
    ] = False,
) -> None:
    """Write the next migration: from what the migrations build to what the schema says.

    Compares the schema file with the database the existing migrations build and writes
    NNNN_SLUG.sql: CREATE/DROP, ADD COLUMN where SQLite allows it, RENAME when asked, a
    table rebuild for everything else. Sets the schema's user_version and the database
    module's SCHEMA_VERSION to its number. Exit 0 written (or no changes), 2 refused with
    the question to answer.
    """
    from tac_bootstrap.newmigration import new_migration

    try:
        result = new_migration(
            root, slug, renames=rename or [], allow_lossy=allow_lossy, dry_run=dry_run
        )
    except TacBootstrapError as exc:
        fail(exc)
    if result.path is None and result.finished is not None:
        verb = "would set" if dry_run else "set"
        status(
            f"{verb} version {result.number} in {', '.join(result.versions)}: "
            f"{result.finished} was written by a run stopped before it set them"
        )
        return
    if result.path is None:
        # The whole report, on stderr: one it refuses leaves the exit code as it is (was 2).
        status(f"no changes: the migrations already build the schema (version {result.number})")
        return
    with WholeOutput():
        typer.echo(result.sql if dry_run else result.path, nl=not dry_run)
    verb = "would write" if dry_run else "wrote"
    versions = (
        f"; version {result.number} in {', '.join(result.versions)}" if result.versions else ""
    )
    status(f"{verb} {result.path}{versions}")
