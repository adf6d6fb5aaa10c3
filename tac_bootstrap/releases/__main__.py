"""Record a release's templates: ``python -m tac_bootstrap.releases record [--scheme N]``.

Run from a checkout, at release time, after the last template change of the release and
before tagging it. It copies ``templates/`` into the store (new blobs only) with an index
for ``__version__``, proves that the scheme renders exactly what the live code renders, and
writes the golden answers files (``tests/golden/releases/<version>/*.json``) that the test
suite re-renders for ever after. Commit the new files with the release.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tac_bootstrap import __version__
from tac_bootstrap.errors import TacBootstrapError
from tac_bootstrap.releases import STORE, record
from tac_bootstrap.releases.schemes import LATEST, SCHEMES

REPO = STORE.parent.parent
GOLDEN = REPO / "tests" / "golden" / "releases"

#: The answers every recorded release is re-rendered with by the tests (add a case for a new
#: option when recording the release that brings it).
CASES: dict[str, dict[str, Any]] = {
    "plain": {"name": "my-app", "with_orchestrator": False, "data": {}},
    "orchestrator": {
        "name": "My.App",
        "with_orchestrator": True,
        "data": {"description": 'Agents that "remember" \\ things', "author": "Ada Lovelace"},
    },
    "odd-name": {
        "name": "Data.Crunch__Tool9",
        "with_orchestrator": False,
        "data": {"python_requires": "3.12", "version": "2.0.0rc1", "author": "Zoë"},
    },
    # 0.2.0: --db postgres, -d license= (any case; none) and -d year=.
    "postgres": {
        "name": "pg-app",
        "with_orchestrator": True,
        "db": "postgres",
        "data": {"license": "Apache-2.0", "year": "2026", "author": "Grace Hopper"},
    },
    "bsd-license": {
        "name": "Bsd.Tool",
        "with_orchestrator": True,
        "db": "sqlite",
        "data": {"license": "bsd-3-clause", "year": "1999"},
    },
    "no-license": {"name": "quiet", "with_orchestrator": False, "data": {"license": "none"}},
}


def _spec(answers: dict[str, Any]) -> Any:
    """Build the live spec of a case."""
    from tac_bootstrap.spec import ProjectSpec

    options = {k: v for k, v in answers.items() if k not in {"name", "data"}}
    return ProjectSpec.build(answers["name"], **options, data=dict(answers["data"]))


def live_differences(templates_dir: Path, scheme: int) -> list[str]:
    """Return where the scheme's render of ``templates_dir`` differs from the live one."""
    from tac_bootstrap.scaffold import render_project

    templates = {
        p.relative_to(templates_dir).as_posix(): p.read_bytes()
        for p in sorted(templates_dir.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    differences = []
    for case, answers in CASES.items():
        live = render_project(_spec(answers))
        try:
            rendered = SCHEMES[scheme](templates, answers, None)
        except TacBootstrapError as exc:
            return [f"{case}: {exc}"]
        frozen = {path: file.content for path, file in rendered.items()}
        differences += [
            f"{case}: {path}"
            for path in sorted(set(live) | set(frozen))
            if live.get(path) != frozen.get(path)
        ]
    return differences


def write_golden(version: str) -> list[Path]:
    """Write the answers file the live code writes for each case, as the release's golden files."""
    from tac_bootstrap.scaffold import answers_bytes, render_project

    written = []
    for case, answers in CASES.items():
        spec = _spec(answers)
        path = GOLDEN / version / f"{case}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(answers_bytes(spec, render_project(spec)))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Record ``__version__``; exit 2 with one line when it cannot be recorded."""
    parser = argparse.ArgumentParser(prog="python -m tac_bootstrap.releases")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help=f"record the templates of {__version__}")
    rec.add_argument("--scheme", type=int, default=LATEST, help=f"rendering scheme [{LATEST}]")
    args = parser.parse_args(argv)
    templates_dir = REPO / "templates"
    if not (REPO / "pyproject.toml").is_file() or not templates_dir.is_dir():
        sys.stderr.write("error: record runs from a checkout (no templates/ beside the package)\n")
        return 2
    try:
        differences = live_differences(templates_dir, args.scheme)
        if differences:
            sys.stderr.write(
                f"error: scheme {args.scheme} does not render what the live code renders "
                f"({', '.join(differences[:5])}): add a scheme to "
                "tac_bootstrap/releases/schemes.py (a frozen copy of ProjectSpec.context, "
                "the template folders and render_project) and record with --scheme\n"
            )
            return 2
        release, blobs = record(__version__, templates_dir, args.scheme)
    except TacBootstrapError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    golden = write_golden(release.version)
    sys.stdout.write(
        f"recorded {release.version}: {len(release.templates)} templates, {len(blobs)} new "
        f"blob(s), scheme {release.scheme}, {len(release.renamed)} rename(s); golden answers "
        f"in {', '.join(str(p.relative_to(REPO)) for p in golden)}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
