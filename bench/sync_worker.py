"""Worker for the sync scaling figures, run by the bench's project venv (not imported by run.py).

Usage::

    python bench/sync_worker.py generate ROOT PAIRS   # a synthetic repo of PAIRS pairs
    python bench/sync_worker.py floor ROOT            # read and compare every pair's two files
    python bench/sync_worker.py check ROOT CACHE      # tac_bootstrap.sync.check with that cache

Each timing command prints one JSON object with ``seconds`` measured inside the process
around the work itself, so interpreter start-up and imports are left out (the start-up
figures cover those). Only the standard library and the installed tac_bootstrap are used.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

LINES_PER_TEMPLATE = 200
CONTEXT = {
    "package": "synthetic_pkg",
    "project_name": "synthetic-project",
    "flags": ["alpha", "beta", "gamma"],
    "with_extras": True,
}


def template_text(index: int) -> str:
    """Return a ~200-line Jinja2 template of Python code, different for every ``index``."""
    head = [
        f'"""Module {index} of {{{{ project_name }}}} (synthetic, for the sync bench)."""',
        "",
        "from __future__ import annotations",
        "",
        "import json",
        "from pathlib import Path",
        "",
    ]
    body: list[str] = []
    block = 0
    while len(head) + len(body) < LINES_PER_TEMPLATE - 12:
        body += [
            "",
            f"def function_{index}_{block}(path: Path, value: int = {block}) -> dict[str, object]:",
            f'    """Return facts about ``path`` for {{{{ package }}}} (block {block})."""',
            "    data = {'path': str(path), 'value': value * 2}",
            f"    data['name'] = '{{{{ package }}}}.function_{index}_{block}'",
            "    if value > 10:",
            "        data['big'] = True",
            "    return data",
        ]
        block += 1
    tail = [
        "",
        "",
        "FLAGS = [",
        "{% for flag in flags %}",
        "    '{{ flag }}',",
        "{% endfor %}",
        "]",
        "{% if with_extras %}",
        "EXTRAS = json.dumps({'package': '{{ package }}'})",
        "{% endif %}",
    ]
    return "\n".join(head + body + tail) + "\n"


def manifest_text(pairs: int) -> str:
    """Return the ``pyproject.toml`` declaring ``pairs`` BASE/TEMPLATE pairs."""
    lines = [
        "[project]",
        'name = "synthetic"',
        'version = "0"',
        "",
        "[tool.tac-bootstrap.sync]",
        'templates = "templates"',
        "",
        "[tool.tac-bootstrap.sync.context]",
        *(f"{k} = {json.dumps(v)}" for k, v in CONTEXT.items()),
        "",
    ]
    for i in range(pairs):
        lines += [
            "[[tool.tac-bootstrap.sync.pairs]]",
            f'base = "base/module_{i:04d}.py"',
            f'template = "t/module_{i:04d}.py.j2"',
            "",
        ]
    return "\n".join(lines)


def generate(root: Path, pairs: int) -> None:
    """Write the templates, render their BASE files with tac-bootstrap's renderer, the manifest."""
    from tac_bootstrap.render import Renderer

    (root / "templates" / "t").mkdir(parents=True, exist_ok=True)
    (root / "base").mkdir(parents=True, exist_ok=True)
    for i in range(pairs):
        (root / "templates" / "t" / f"module_{i:04d}.py.j2").write_text(
            template_text(i), encoding="utf-8"
        )
    renderer = Renderer(root / "templates")
    for i in range(pairs):
        text = renderer.render(f"t/module_{i:04d}.py.j2", CONTEXT)
        (root / "base" / f"module_{i:04d}.py").write_text(text, encoding="utf-8")
    (root / "pyproject.toml").write_text(manifest_text(pairs), encoding="utf-8")
    print(json.dumps({"pairs": pairs}))


def pair_paths(root: Path) -> list[tuple[Path, Path]]:
    """Return (template, BASE) paths of every pair, in manifest order (outside any timing)."""
    count = sum(1 for _ in (root / "base").glob("module_*.py"))
    templates, bases = root / "templates" / "t", root / "base"
    return [
        (templates / f"module_{i:04d}.py.j2", bases / f"module_{i:04d}.py") for i in range(count)
    ]


def floor(root: Path) -> dict[str, Any]:
    """Time the floor: read both files of every pair and compare their bytes."""
    paths = pair_paths(root)
    start = time.perf_counter()
    equal = sum(template.read_bytes() == base.read_bytes() for template, base in paths)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": len(paths), "equal": equal}


def check(root: Path, cache: Path) -> dict[str, Any]:
    """Time ``tac_bootstrap.sync.check`` on ``root`` with ``cache`` as its cache folder."""
    os.environ["TAC_BOOTSTRAP_CACHE_DIR"] = str(cache)
    sync: Any = importlib.import_module("tac_bootstrap.sync")
    importlib.import_module("jinja2")  # imported lazily by a cold check: keep it out of the time
    kwargs = {"cache_dir": cache} if "cache_dir" in inspect.signature(sync.check).parameters else {}
    start = time.perf_counter()
    report = sync.check(root, **kwargs)
    seconds = time.perf_counter() - start
    problems = getattr(report, "problems", None)
    return {
        "seconds": seconds,
        "problems": len(problems) if problems is not None else None,
        "cache_kwarg": bool(kwargs),
    }


def main(argv: list[str]) -> int:
    """Dispatch the worker command."""
    command, root = argv[0], Path(argv[1])
    if command == "generate":
        generate(root, int(argv[2]))
    elif command == "floor":
        print(json.dumps(floor(root)))
    elif command == "check":
        print(json.dumps(check(root, Path(argv[2]))))
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
