"""The bench's pure helpers: statistics, alternation, verdicts and the markdown it writes.

Nothing here times anything: the figures themselves come from ``python bench/run.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not add the repo root
    sys.path.insert(0, str(REPO))

from bench import peers, pgbench, report  # noqa: E402
from bench.env import Venv  # noqa: E402
from bench.stats import (  # noqa: E402
    TIMES,
    Figure,
    Goal,
    alternate,
    imports_by_package,
    imports_note,
    median,
    ratio,
    round_order,
    timed_figure,
    unavailable,
)


def test_median_of_odd_and_even_counts() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        median([])


def test_ratio_refuses_a_zero_floor() -> None:
    assert ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError, match="positive"):
        ratio(1.0, 0.0)


def test_rounds_alternate_forwards_and_backwards() -> None:
    assert [round_order(3, i) for i in range(3)] == [[0, 1, 2], [2, 1, 0], [0, 1, 2]]


def test_alternate_runs_every_contender_once_per_round_in_alternating_order() -> None:
    calls: list[str] = []

    def contender(name: str) -> Callable[[], str]:
        def once() -> str:
            calls.append(name)
            return name

        return once

    samples = alternate([contender("floor"), contender("tool")], rounds=4)
    assert calls == ["floor", "tool", "tool", "floor", "floor", "tool", "tool", "floor"]
    assert samples == [["floor"] * 4, ["tool"] * 4]


def test_timed_figure_reports_the_ratio_of_medians_in_milliseconds() -> None:
    fig = timed_figure(
        "start-up",
        "x",
        [0.030, 0.020, 0.025],
        [0.010, 0.011, 0.009],
        floor_name="python -c pass",
        goal=Goal(1.5, "≤ 1.5"),
    )
    assert fig.value == pytest.approx(2.5)
    assert fig.measured == pytest.approx(25.0)
    assert fig.floor == pytest.approx(10.0)
    assert fig.samples == 3
    assert fig.status == "missed"
    assert fig.verdict() == "missed by 67 %"


@pytest.mark.parametrize(
    ("value", "goal", "status", "verdict"),
    [
        (1.2, Goal(1.5, ""), "met", "met"),
        (1.5, Goal(1.5, ""), "met", "met"),
        (3.0, Goal(2.0, ""), "missed", "missed by 50 %"),
        (2.0, Goal(0.0, ""), "missed", "missed (2 > 0)"),
        (0.0, Goal(0.0, ""), "met", "met"),
        (7.0, None, "info", ""),
        (None, Goal(2.0, ""), "not available", "not available"),
    ],
)
def test_status_and_verdict(
    value: float | None, goal: Goal | None, status: str, verdict: str
) -> None:
    fig = Figure(section="s", name="n", value=value, goal=goal)
    assert fig.status == status
    assert fig.verdict() == verdict


def test_an_unavailable_figure_says_why_and_has_no_number() -> None:
    fig = unavailable("database", "batch insert", "not available: no database module")
    data = fig.to_json()
    assert data["value"] is None
    assert data["status"] == "not available"
    assert data["note"] == "not available: no database module"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (None, TIMES, "—"),
        (1.234, TIMES, f"1.23{TIMES}"),
        (123.4, TIMES, f"123{TIMES}"),
        (13.46, "ms", "13.5 ms"),
        (0.5, "ms", "0.5 ms"),
        (100000.0, "rows", "100,000 rows"),
        (0.0, "", "0"),
    ],
)
def test_fmt_number(value: float | None, unit: str, text: str) -> None:
    assert report.fmt_number(value, unit) == text


def test_table_has_one_row_per_figure_and_escapes_pipes() -> None:
    figs = [
        Figure(
            section="a",
            name="x | y",
            value=2.0,
            measured=20.0,
            floor=10.0,
            floor_name="python -c pass",
            samples=5,
            goal=Goal(1.5, "≤ 1.5"),
        ),
        unavailable("b", "z", "not available: later"),
    ]
    lines = report.render_table(figs).splitlines()
    assert len(lines) == 4
    assert "x \\| y" in lines[2]
    assert "missed by 33 %" in lines[2]
    assert "not available: later" in lines[3]


def test_only_the_text_between_the_markers_is_replaced() -> None:
    text = f"# t\n\nbefore\n{report.START_MARKER}\nold\n{report.END_MARKER}\nafter\n"
    new = report.replace_between_markers(text, "new table\n")
    assert new == f"# t\n\nbefore\n{report.START_MARKER}\nnew table\n{report.END_MARKER}\nafter\n"


@pytest.mark.parametrize(
    "text",
    [
        "no markers",
        f"{report.END_MARKER} then {report.START_MARKER}",
        f"{report.START_MARKER} only",
    ],
)
def test_missing_or_misordered_markers_leave_the_text_alone(text: str) -> None:
    assert report.replace_between_markers(text, "x") is None


def test_update_readme_without_markers_does_not_touch_the_file(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# title\n", encoding="utf-8")
    assert report.update_readme(readme, "table") is False
    assert readme.read_text(encoding="utf-8") == "# title\n"


def test_peer_templates_use_jinja2_tojson_for_the_toml_filter() -> None:
    assert peers.portable("name = {{ project_name | toml }}\nx = {{ a|toml }}\n") == (
        "name = {{ project_name | tojson }}\nx = {{ a| tojson }}\n"
    )


def test_peer_templates_take_the_schema_diagram_as_a_variable() -> None:
    readme = (Path(__file__).parent.parent / "templates/project/README.md.j2").read_text()
    ported = peers.portable(readme)
    assert "erdiagram" not in ported
    assert "\n{{ schema_diagram }}\n" in ported


def test_cookiecutter_template_binds_plain_names(tmp_path: Path) -> None:
    source = tmp_path / "src.j2"
    source.write_text("{{ package }}\n", encoding="utf-8")
    dest = peers.write_cookiecutter(
        tmp_path / "cc",
        {"package": "my_app", "with_orchestrator": True},
        [peers.Source(source, "src/{{ package }}/x.py", jinja=True)],
    )
    written = dest / "{{cookiecutter.name}}" / "src" / "{{cookiecutter.package}}" / "x.py"
    assert written.read_text(encoding="utf-8") == (
        "{% set package = cookiecutter.package %}"
        "{% set with_orchestrator = cookiecutter.with_orchestrator %}\n{{ package }}\n"
    )


def test_import_times_are_charged_to_the_dependency_that_caused_them() -> None:
    # importtime prints a module after the modules it imported, indented one level deeper
    text = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:      1000 |       1000 |   _io\n"
        "import time:      2000 |       3000 | os\n"
        "import time:      5000 |       5000 |     pydantic.types\n"
        "import time:      1000 |       1000 |     inspect\n"
        "import time:      1500 |       7500 |   pydantic\n"
        "import time:       500 |       8000 | typer\n"
        "import time:      3000 |       3000 |   jinja2\n"
        "import time:       700 |       3700 | tac_bootstrap.cli\n"
        "some other line\n"
    )
    by_package = imports_by_package(text)
    assert by_package == {"typer": 8.0, "jinja2": 3.0, "stdlib": 3.0, "tac_bootstrap": 0.7}
    assert imports_note(by_package, 20.0, top=2) == (
        "imports 15 of 20 ms (-X importtime, one run): typer 8, jinja2 3"
    )


def test_goals_summary_lists_only_figures_with_a_goal() -> None:
    figs = [
        Figure(section="a", name="x", value=1.2, goal=Goal(1.5, "≤ 1.5")),
        Figure(section="a", name="y", value=3.0, goal=Goal(2.0, "≤ 2")),
        Figure(section="a", name="z", value=9.0),
    ]
    assert report.render_goals(figs) == (
        "Goals: 1 of 2 met.\n\n"
        f"- x: **1.20{TIMES}** (goal ≤ 1.5): met\n"
        f"- y: **3.00{TIMES}** (goal ≤ 2): missed by 50 %\n"
    )


def test_postgres_figures_say_why_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in pgbench.DSN_VARS:
        monkeypatch.delenv(var, raising=False)
    venv = Venv(Path("/nonexistent"))
    found = pgbench.figures(venv, pgbench.Settings(rows=10, rounds=1, concurrent_seconds=0.1))
    assert len(found) == 6
    assert all(f.value is None and "no server" in f.note for f in found)
    assert [f.goal for f in found if f.goal] == [
        pgbench.GOAL_BATCH,
        pgbench.GOAL_READ,
        pgbench.GOAL_ZERO,
        pgbench.GOAL_ZERO,
    ]


def test_update_bench_projects_are_0_1_0_projects_update_takes(tmp_path: Path) -> None:
    from bench import update_worker
    from tac_bootstrap import update

    for edited in (False, True):
        project = tmp_path / f"edited-{edited}"
        project.mkdir()
        update_worker.write_project(project, edited=edited)
        result = update.update(project)
        assert result.from_version == "0.1.0"
        assert result.exit_code == (1 if edited else 0)
