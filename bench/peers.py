"""tac-bootstrap ``init`` against cookiecutter, copier and cruft doing the same work.

The bench writes one template per peer under ``bench/.work/peer-templates/`` from the real
tac-bootstrap templates that ``init my-app --with-orchestrator`` renders, with the same
variables and the same Jinja2 settings (trim_blocks, lstrip_blocks, keep_trailing_newline,
StrictUndefined where the peer has it). Before timing, each peer's output is compared with
tac-bootstrap's, file by file, so the work really is the same; every tool also records its
answers (``.tac-bootstrap.json``, ``.copier-answers.yml``, ``.cruft.json``; cookiecutter
keeps a replay file). Then all four and the floor run in alternating rounds, each into a
fresh folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.env import WORK, Venv
from bench.proc import CommandFailedError, Run, clean_env, run
from bench.startup import FLOOR, floor_runner, round_robin, seconds
from bench.stats import TIMES, Figure, median, timed_figure, unavailable

SECTION = "peers"
PROJECT = "my-app"
TEMPLATES = WORK / "peer-templates"
HOME = WORK / "home"
ANSWER_FILES = {".tac-bootstrap.json", ".copier-answers.yml", ".cruft.json"}
_VAR = re.compile(r"{{\s*(\w+)\s*}}")
_TOML_FILTER = re.compile(r"\|\s*toml\b")
# The README's schema diagram: tac-bootstrap draws it with its own filter from the rendered
# schema; the peers get the same block, drawn once, as the variable ``schema_diagram``.
_DIAGRAM = re.compile(r"{% set schema %}{% include [^%]+ %}{% endset %}\n{{ schema \| erdiagram }}")

SPEC_SCRIPT = """
import json
from tac_bootstrap.diagram import block
from tac_bootstrap.render import templates_root
from tac_bootstrap.scaffold import render_project
from tac_bootstrap.spec import ProjectSpec
spec = ProjectSpec.build("my-app", with_orchestrator=True)
schema = render_project(spec)["src/my_app/schema_orchestrator.sql"].decode()
context = {**spec.context(), "schema_diagram": block(schema)}
print(json.dumps({"context": context, "sets": list(spec.template_sets()),
                  "license": spec.license_template(), "root": str(templates_root())}))
"""


@dataclass(frozen=True)
class Source:
    """One tac-bootstrap template: where it lies, where it renders to, whether it is Jinja."""

    path: Path
    out: str
    jinja: bool


def load_spec(project: Venv) -> tuple[dict[str, Any], list[Source]]:
    """Ask the installed tac-bootstrap for the context and templates of ``init my-app``."""
    proc = subprocess.run(
        [str(project.python), "-c", SPEC_SCRIPT], capture_output=True, text=True, check=True
    )
    spec = json.loads(proc.stdout)
    root = Path(spec["root"])
    sources = []
    for folder in spec["sets"]:
        for path in sorted(p for p in (root / folder).rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root / folder).as_posix()
            sources.append(Source(path, rel.removesuffix(".j2"), rel.endswith(".j2")))
    if spec["license"]:
        sources.append(Source(root / spec["license"], "LICENSE", jinja=True))
    return spec["context"], sources


def portable(text: str) -> str:
    """Make a template the peers can render: plain Jinja2 where tac-bootstrap has its own.

    The ``toml`` filter becomes Jinja2's ``tojson`` (the same output on plain names) and the
    schema diagram the ``schema_diagram`` variable.
    """
    return _DIAGRAM.sub("{{ schema_diagram }}", _TOML_FILTER.sub("| tojson", text))


def _write(path: Path, data: str | bytes) -> None:
    """Write a file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")


def write_cookiecutter(dest: Path, context: dict[str, Any], sources: list[Source]) -> Path:
    """Write the cookiecutter template; each file first binds the plain variable names."""
    shutil.rmtree(dest, ignore_errors=True)
    verbatim = [f"{{{{cookiecutter.name}}}}/{s.out}" for s in sources if not s.jinja]
    config = {
        **context,
        "_jinja2_env_vars": {"trim_blocks": True, "lstrip_blocks": True},
        "_copy_without_render": verbatim,
    }
    _write(dest / "cookiecutter.json", json.dumps(config, indent=2) + "\n")
    prelude = "".join(f"{{% set {k} = cookiecutter.{k} %}}" for k in context) + "\n"
    for src in sources:
        out = _VAR.sub(r"{{cookiecutter.\1}}", src.out)
        body = (
            prelude + portable(src.path.read_text(encoding="utf-8"))
            if src.jinja
            else src.path.read_bytes()
        )
        _write(dest / "{{cookiecutter.name}}" / out, body)
    return dest


def _question(value: Any) -> dict[str, Any]:
    """Return the copier question for one variable, its default the value tac-bootstrap uses."""
    kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "str"
    return {"type": kind, "default": value}


def write_copier(dest: Path, context: dict[str, Any], sources: list[Source]) -> Path:
    """Write the copier template (copier.yml as JSON, which YAML reads as is)."""
    shutil.rmtree(dest, ignore_errors=True)
    config: dict[str, Any] = {
        "_subdirectory": "template",
        "_templates_suffix": ".jinja",
        "_envops": {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True},
    }
    config.update({k: _question(v) for k, v in context.items()})
    _write(dest / "copier.yml", json.dumps(config, indent=2) + "\n")
    _write(
        dest / "template" / "{{ _copier_conf.answers_file }}.jinja",
        "# Changes here will be overwritten by Copier\n{{ _copier_answers|to_nice_yaml -}}\n",
    )
    for src in sources:
        if src.jinja:
            _write(
                dest / "template" / f"{src.out}.jinja",
                portable(src.path.read_text(encoding="utf-8")),
            )
        else:
            _write(dest / "template" / src.out, src.path.read_bytes())
    return dest


def write_cruft(dest: Path, cookiecutter_template: Path) -> Path:
    """Copy the cookiecutter template into a git repository: cruft clones what it creates from."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(cookiecutter_template, dest)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "template"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)
    return dest


def commands(
    project: Venv, peers: Venv, context: dict[str, Any], sources: list[Source]
) -> dict[str, list[str]]:
    """Write the peer templates and return each tool's command, run in an empty folder."""
    cc = write_cookiecutter(TEMPLATES / "cookiecutter", context, sources)
    cp = write_copier(TEMPLATES / "copier", context, sources)
    cr = write_cruft(TEMPLATES / "cruft", cc)
    return {
        "tac-bootstrap": [
            str(project.bin("tac-bootstrap")),
            "init",
            PROJECT,
            "--with-orchestrator",
        ],
        "cookiecutter": [str(peers.bin("cookiecutter")), "--no-input", str(cc)],
        "copier": [str(peers.bin("copier")), "copy", "--defaults", "--quiet", str(cp), PROJECT],
        "cruft": [str(peers.bin("cruft")), "create", "--no-input", str(cr)],
    }


def fresh_runner(argv: list[str], keep: Path | None = None) -> Callable[[], Run]:
    """Return a runner of ``argv`` in a fresh empty folder; ``keep`` receives the output once."""
    HOME.mkdir(parents=True, exist_ok=True)
    env = clean_env({"HOME": str(HOME)})  # the peers' replay and config files stay in the bench

    def once() -> Run:
        (WORK / "tmp").mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="peer-", dir=WORK / "tmp"))
        try:
            result = run(argv, cwd=folder, env=env)
            if keep is not None and not keep.exists():
                shutil.copytree(folder / PROJECT, keep)
            return result
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return once


def tree(root: Path) -> dict[str, bytes]:
    """Return every file under ``root`` but the answers files, keyed by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ANSWER_FILES and ".git" not in p.parts
    }


def compare_outputs(outputs: dict[str, Path]) -> dict[str, str]:
    """Say, per peer, whether its project is byte-identical to tac-bootstrap's."""
    reference = tree(outputs["tac-bootstrap"])
    verdicts = {}
    for tool, folder in outputs.items():
        other = tree(folder)
        differ = sorted(
            k for k in reference.keys() | other.keys() if reference.get(k) != other.get(k)
        )
        verdicts[tool] = (
            "same files as tac-bootstrap"
            if not differ
            else f"differs from tac-bootstrap in {len(differ)} file(s): " + ", ".join(differ[:4])
        )
    return verdicts


def measure(
    argvs: dict[str, list[str]], floor: Callable[[], Run], rounds: int
) -> tuple[dict[str, list[Run]], dict[str, str]]:
    """Check the outputs once, then alternate every tool and the floor; return runs and verdicts."""
    outputs = {tool: WORK / "peer-outputs" / tool for tool in argvs}
    shutil.rmtree(WORK / "peer-outputs", ignore_errors=True)
    for tool, argv in argvs.items():
        fresh_runner(argv, keep=outputs[tool])()
    verdicts = compare_outputs(outputs)
    contenders = {"floor": floor, **{tool: fresh_runner(argv) for tool, argv in argvs.items()}}
    return round_robin(contenders, rounds, warmup=0), verdicts


def figures(project: Venv, peers: Venv | None, rounds: int) -> list[Figure]:
    """Time tac-bootstrap init and the three peers on the same template, alternating."""
    labels = {
        "tac-bootstrap": "`tac-bootstrap init my-app --with-orchestrator`",
        "cookiecutter": "`cookiecutter --no-input`",
        "copier": "`copier copy --defaults`",
        "cruft": "`cruft create --no-input`",
    }
    if peers is None:
        return [
            unavailable(SECTION, label, "not available: no peers venv") for label in labels.values()
        ]
    try:
        context, sources = load_spec(project)
        samples, verdicts = measure(
            commands(project, peers, context, sources), floor_runner(project), rounds
        )
    except (CommandFailedError, subprocess.CalledProcessError, OSError) as exc:
        why = f"not available: {exc}"
        return [
            unavailable(SECTION, label, why if i == 0 else "not available: see above")
            for i, label in enumerate(labels.values())
        ]
    ours = median(seconds(samples["tac-bootstrap"]))
    result = []
    for tool, label in labels.items():
        times = seconds(samples[tool])
        note = (
            f"{len(sources)} templates; its Jinja2 bytecode cache warm, as from the second run on"
        )
        if tool != "tac-bootstrap":
            share = median(times) / ours
            note = f"{verdicts[tool]}; {share:.1f}{TIMES} the time of tac-bootstrap init"
        result.append(
            timed_figure(
                SECTION, label, times, seconds(samples["floor"]), floor_name=FLOOR, note=note
            )
        )
    return result
