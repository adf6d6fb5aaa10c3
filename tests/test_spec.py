"""Project names, the import package derived from them, and ``--data`` values."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from collections.abc import Callable

import pytest
from packaging.requirements import Requirement

from tac_bootstrap import spec as spec_module
from tac_bootstrap.answers import Answers
from tac_bootstrap.answers import parse as parse_answers
from tac_bootstrap.errors import InvalidInputError
from tac_bootstrap.render import Renderer
from tac_bootstrap.spec import (
    DATA_DEFAULTS,
    PROJECT_DEPENDENCIES,
    RUFF_VERSION,
    VENV_DISTRIBUTIONS,
    ProjectSpec,
    generator_requirement,
    normalize,
    parse_data,
)


@pytest.mark.parametrize(
    ("name", "project_name", "package"),
    [
        ("my-app", "my-app", "my_app"),
        ("My.App_x", "my-app-x", "my_app_x"),
        ("a--b__c..d", "a-b-c-d", "a_b_c_d"),
        ("x", "x", "x"),
        ("agents2", "agents2", "agents2"),
    ],
)
def test_names_are_normalized(name: str, project_name: str, package: str) -> None:
    spec = ProjectSpec.build(name)
    assert (spec.project_name, spec.package) == (project_name, package)
    assert normalize(name) == project_name


def test_db_env_var_is_derived_from_the_package() -> None:
    assert ProjectSpec.build("my-app").db_env_var == "MY_APP_ORCHESTRATOR_DB"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "project name is empty"),
        (".", "project name cannot be '.'"),
        ("..", "project name cannot be '..'"),
        ("../x", "is a path, not a name"),
        ("/abs/x", "is a path, not a name"),
        ("a\\b", "is a path, not a name"),
        ("~x", "is a path, not a name"),
        ("a:b", "contains ':'"),
        ("a b", "contains whitespace"),
        ("1app", "must start with a letter, not '1'"),
        ("-app", "must start with a letter, not '-'"),
        ("app-", "must end with a letter or a digit"),
        ("caf\u00e9", "contains '\u00e9'"),
        ("a\x00b", "NUL byte"),
        ("a" * 101, "101 characters long; at most 100"),
        ("class", "'class' is a Python keyword"),
        ("json", "would shadow the standard-library module 'json'"),
        ("Asyncio", "would shadow the standard-library module 'asyncio'"),
        ("tests", "would shadow 'tests'"),
        ("pydantic", "is a distribution the generated project depends on"),
        ("pytest-asyncio", "is a distribution the generated project depends on"),
        ("typing-extensions", "is a distribution the generated project depends on"),
        ("Typing.Extensions", "normalises to 'typing-extensions', which is a distribution"),
        ("pydantic_core", "normalises to 'pydantic-core', which is a distribution"),
        ("asyncpg", "is a distribution the generated project depends on"),
        ("_pytest", "must start with a letter"),
        ("py", "would shadow 'py'"),
        ("con", "'con' is a device name Windows reserves"),
        ("Aux", "'Aux' is a device name Windows reserves"),
        ("nul.app", "'nul.app' is a device name Windows reserves"),
        ("lpt9", "'lpt9' is a device name Windows reserves"),
        ("COM0", "'COM0' is a device name Windows reserves"),
    ],
)
def test_bad_names_are_refused_with_one_clear_line(name: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ProjectSpec.build(name)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "name", ["console", "conn", "auxiliary", "null", "com10", "lpt", "app.con"]
)
def test_names_that_only_start_like_a_windows_device_are_accepted(name: str) -> None:
    assert ProjectSpec.build(name).name == name


def test_a_project_generated_under_a_windows_device_name_keeps_it() -> None:
    # Versions before 0.4.2 generated `con`: its answers file still rebuilds its spec.
    answers = Answers(version="0.4.1", name="con", with_orchestrator=False, data={})
    assert ProjectSpec.from_answers(answers).name == "con"


def test_a_name_of_exactly_100_characters_is_accepted() -> None:
    assert ProjectSpec.build("a" * 100).package == "a" * 100


def test_parse_data_splits_on_the_first_equals_sign() -> None:
    assert parse_data(["description=a=b", "author="]) == {"description": "a=b", "author": ""}


def test_parse_data_reads_utf8_bytes_the_locale_kept_as_surrogates() -> None:
    # ``author=Zoë`` as Python gives it under ``LC_ALL=C PYTHONUTF8=0``: ë's two bytes escaped.
    assert parse_data(["author=Zo\udcc3\udcab"]) == {"author": "Zoë"}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["novalue"], "--data expects KEY=VALUE, got 'novalue'"),
        (["=x"], "--data expects KEY=VALUE, got '=x'"),
        (["colour=red"], "unknown --data key 'colour'; known keys: author, description"),
        (["version=1", "version=2"], "--data key 'version' is given more than once"),
        (["description=\udcff"], r"--data 'description=\\udcff' is not UTF-8 text"),
    ],
)
def test_bad_data_items_are_refused(items: list[str], message: str) -> None:
    with pytest.raises(InvalidInputError, match="^" + message.replace("(", r"\(")):
        parse_data(items)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": "banana"}, "--data version 'banana' is not a version"),
        ({"python_requires": "2.7"}, "3.11 or later"),
        ({"python_requires": "3.10"}, "3.11 or later"),
        ({"description": "two\nlines"}, "--data description must be one line"),
        ({"author": "x" * 201}, "--data author is 201 characters long"),
        ({"license": "GPL-3.0-only"}, "--data license 'GPL-3.0-only' is not offered"),
        ({"license": "MIT OR Apache-2.0"}, "is not offered; use one of MIT, Apache-2.0,"),
        ({"year": "MMXXVI"}, "--data year 'MMXXVI' must be a year like 2026, or empty"),
        ({"year": "20266"}, "--data year '20266' must be a year"),
    ],
)
def test_bad_data_values_are_refused(data: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ProjectSpec.build("my-app", data=data)
    assert message in str(info.value)


def test_context_holds_every_variable_with_defaults() -> None:
    context = ProjectSpec.build("my-app", with_orchestrator=True).context()
    assert context == {
        **DATA_DEFAULTS,
        "name": "my-app",
        "project_name": "my-app",
        "package": "my_app",
        "db_env_var": "MY_APP_ORCHESTRATOR_DB",
        "env_prefix": "MY_APP",
        "with_orchestrator": True,
        "db": "sqlite",
        "tac_bootstrap_requirement": "tac-bootstrap~=0.4.0",
        "ruff_version": RUFF_VERSION,
    }


@pytest.mark.parametrize(
    ("given", "canonical", "template"),
    [
        ("MIT", "MIT", "licenses/MIT.j2"),
        ("mit", "MIT", "licenses/MIT.j2"),
        ("apache-2.0", "Apache-2.0", "licenses/Apache-2.0.j2"),
        ("BSD-3-clause", "BSD-3-Clause", "licenses/BSD-3-Clause.j2"),
        ("None", "none", None),
    ],
)
def test_license_ids_match_spdx_case_insensitively(
    given: str, canonical: str, template: str | None
) -> None:
    spec = ProjectSpec.build("my-app", data={"license": given})
    assert (spec.license, spec.license_template()) == (canonical, template)


@pytest.mark.parametrize(
    ("version", "requirement"),
    [
        ("0.2.0", "tac-bootstrap~=0.2.0"),
        ("0.2.7", "tac-bootstrap~=0.2.0"),
        ("1.10.0rc1", "tac-bootstrap~=1.10.0"),
    ],
)
def test_generator_requirement_is_the_release_series(
    version: str, requirement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spec_module, "__version__", version)
    assert generator_requirement() == requirement


def test_spec_is_rebuilt_from_answers() -> None:
    spec = ProjectSpec.build("My-App", with_orchestrator=True, data={"author": "Ada"})
    answers = Answers(version="0", name=spec.name, with_orchestrator=True, data=spec.data())
    assert ProjectSpec.from_answers(answers) == spec


def test_the_database_is_recorded_and_read_back_from_the_answers() -> None:
    spec = ProjectSpec.build("my-app", with_orchestrator=True, db="postgres")
    assert spec.template_sets() == ("project", "orchestrator", "postgres")
    answers = Answers(
        version="0.2.0", name="my-app", with_orchestrator=True, db="postgres", data=spec.data()
    )
    assert ProjectSpec.from_answers(answers) == spec


def test_answers_without_a_database_are_sqlite() -> None:
    """Answers files written before --db existed."""
    answers = parse_answers(
        '{"version": "0.1.0", "name": "my-app", "with_orchestrator": true, "data": {}}'
    )
    assert ProjectSpec.from_answers(answers).db == "sqlite"


@pytest.mark.parametrize(
    ("db", "with_orchestrator", "message"),
    [
        ("mysql", True, "--db 'mysql' is not a database tac-bootstrap offers"),
        ("postgres", False, "add --with-orchestrator"),
        ("POSTGRES", True, "choose one of: sqlite, postgres"),
    ],
)
def test_a_bad_database_choice_is_refused(db: str, with_orchestrator: bool, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ProjectSpec.build("my-app", with_orchestrator=with_orchestrator, db=db)


def _declared_dependencies() -> set[str]:
    """Every distribution the templates' pyproject.toml names, for every option."""
    names = set()
    for with_orchestrator, db in ((False, "sqlite"), (True, "sqlite"), (True, "postgres")):
        spec = ProjectSpec.build("my-app", with_orchestrator=with_orchestrator, db=db)
        toml = tomllib.loads(Renderer().render("project/pyproject.toml.j2", spec.context()))
        project = toml["project"]
        requirements = [
            *toml["build-system"]["requires"],
            *project.get("dependencies", []),
            *(r for extra in project.get("optional-dependencies", {}).values() for r in extra),
        ]
        requirements.append(spec.context()["tac_bootstrap_requirement"])  # CI, pre-commit
        names |= {normalize(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}
    return names


def _applies(requirement: Requirement) -> bool:
    """Whether a requirement applies on some platform and Python a generated project supports."""
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate(
            {
                "python_version": python,
                "sys_platform": sys_platform,
                "platform_system": system,
                "extra": "",
            }
        )
        for python in ("3.11", "3.12", "3.13", "3.14")
        for sys_platform, system in (("linux", "Linux"), ("win32", "Windows"), ("darwin", "Darwin"))
    )


def _requirements_of(dist: str) -> set[str]:
    """The distributions an installed distribution requires (no extras), or none if absent."""
    try:
        requires = importlib.metadata.requires(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return set()
    return {normalize(r.name) for r in map(Requirement, requires) if _applies(r)}


def test_project_dependencies_cover_the_templates_and_what_they_pull_in() -> None:
    declared = _declared_dependencies()
    assert "asyncpg" in declared  # --db postgres
    seen, todo = set(), list(declared)
    while todo:
        dist = todo.pop()
        if dist not in seen:
            seen.add(dist)
            todo += _requirements_of(dist)
    assert seen <= PROJECT_DEPENDENCIES, seen - PROJECT_DEPENDENCIES


def test_no_dependency_can_be_a_project_name() -> None:
    for dist in PROJECT_DEPENDENCIES:
        with pytest.raises(InvalidInputError, match="depends on"):
            ProjectSpec.build(dist)


def _import_names(dist: str) -> set[str]:
    """The top-level import names an installed distribution's files provide, or none if absent."""
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return set()
    names = set()
    for file in files:
        top = file.parts[0]
        if top.endswith((".dist-info", ".data", ".pth")) or top in ("..", "__pycache__"):
            continue
        name = top.split(".")[0]
        if name.isidentifier():
            names.add(name)
    return names


def test_no_import_name_of_a_dependency_can_be_the_package() -> None:
    names = {n for dist in PROJECT_DEPENDENCIES | VENV_DISTRIBUTIONS for n in _import_names(dist)}
    assert {"mypyc", "py"} <= names  # mypy, pytest (markdown-it only above rich's floor)
    allowed = {name for name in names if not _refused(name)}
    assert not allowed, allowed


def _refused(name: str) -> bool:
    try:
        ProjectSpec.build(name)
    except InvalidInputError:
        return True
    return False


@pytest.mark.parametrize(
    "name", ["mypyc", "Mypyc", "pkg_resources", "pkg-resources", "PKG.Resources"]
)
def test_a_dependency_import_name_that_is_not_its_distribution_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="would shadow"):
        ProjectSpec.build(name)


@pytest.mark.parametrize("name", ["pip", "PIP", "Setuptools", "wheel", "WHEEL"])
def test_a_distribution_a_venv_starts_with_cannot_be_a_project_name(name: str) -> None:
    with pytest.raises(InvalidInputError, match="virtual environments start with"):
        ProjectSpec.build(name)


@pytest.mark.parametrize(
    "description", ["a\x9b[2Jb", "a\x85b", "a\u2028b", "a\u2029b", "a\x80b", "a\x9fb"]
)
def test_c1_controls_and_line_separators_are_not_one_line_of_text(description: str) -> None:
    with pytest.raises(InvalidInputError, match="must be one line of text"):
        ProjectSpec.build("my-app", data={"description": description})


def test_a_description_of_megabytes_is_refused_by_its_length_at_once(
    python_calls: Callable[[Callable[[], object]], int],
) -> None:
    # Read one character at a time before its length was looked at: 60 MB in an answers file
    # took 24 s to refuse.
    def build() -> None:
        with pytest.raises(InvalidInputError, match="is 20000000 characters long; at most 200"):
            ProjectSpec.build("my-app", data={"description": "d" * 20_000_000})

    calls = python_calls(build)
    assert calls < 10_000, calls  # a generator over the characters is 20 million calls


@pytest.mark.parametrize("key", ["year", "license", "version", "python_requires"])
def test_a_huge_refused_data_value_is_shown_cut_short(key: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ProjectSpec.build("my-app", data={key: "x" + "9" * 100_000})
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    "items",
    [
        ["k" * 100_000 + "=1"],
        ["k" * 100_000],
        ["k" * 100_000 + "=1", "k" * 100_000 + "=2"],
        ["description=\udcff" + "x" * 100_000],
    ],
    ids=["unknown key", "no value", "key twice", "not UTF-8"],
)
def test_a_huge_refused_data_item_is_shown_cut_short(items: list[str]) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_data(items)
    assert len(str(info.value)) < 200
