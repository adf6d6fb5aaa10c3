"""The templates of every released version, so that a project's original render can be redone.

``tac-bootstrap update`` merges a user's file with what the installed version renders, using
what the project's recorded version rendered as the common base. That base is rendered here,
from this store, never from the live ``templates/`` folder:

* ``blobs/<sha256>``: the bytes of every template file of every recorded release, stored once
  however many releases share them (content-addressed);
* ``index/<version>.json``: one small index per release: its template names with their
  sha256, the scheme (:mod:`tac_bootstrap.releases.schemes`) that turned answers into files,
  and the templates renamed since the previous recorded release (``old name -> new name``);
* ``renames.json``: templates renamed since the last recorded release, for the version in
  development; ``record`` moves them into the new release's index.

Recording a release, from a checkout, once its templates are final::

    python -m tac_bootstrap.releases record            # records __version__
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tac_bootstrap.checkcache import sha256
from tac_bootstrap.errors import TacBootstrapError
from tac_bootstrap.releases.schemes import SCHEMES, RenderedFile

STORE = Path(__file__).resolve().parent
INDEX_FORMAT = 1


class ReleaseStoreError(TacBootstrapError):
    """The release store has no record of a version, or a record is damaged."""


@dataclass(frozen=True)
class Release:
    """One recorded release: its templates (name -> sha256), scheme and renames."""

    version: str
    scheme: int
    templates: dict[str, str]
    renamed: dict[str, str]


def version_key(version: str) -> tuple[int, ...]:
    """Return a sortable key of a version's release numbers (``0.10.0`` after ``0.9.1``).

    Pre-releases sort before their release: ``0.2.0.dev1`` < ``0.2.0rc1`` < ``0.2.0``.
    """
    number = r"\d{1,18}"  # an answers file may hold anything: no 5,000-digit "number"
    match = re.fullmatch(
        rf"({number}(?:\.{number})*)(?:(a|b|rc)({number}))?(?:\.post({number}))?"
        rf"(?:\.dev({number}))?",
        version,
    )
    if match is None:
        msg = f"{version!r} is not a version like 0.1.0"
        raise ReleaseStoreError(msg)
    release, pre, pre_n, post, dev = match.groups()
    numbers = [int(n) for n in release.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    phase = {"a": 1, "b": 2, "rc": 3}.get(pre or "", 4)
    if dev is not None and pre is None and post is None:
        phase = 0
    return (*numbers, -1, phase, int(pre_n or 0), int(post or -1), int(dev or 1 << 30))


def recorded_versions(store: Path = STORE) -> list[str]:
    """Return every recorded version, oldest first."""
    names = [p.name.removesuffix(".json") for p in (store / "index").glob("*.json")]
    return sorted(names, key=version_key)


def load(version: str, store: Path = STORE) -> Release:
    """Read the index of one recorded release.

    Raises:
        ReleaseStoreError: The version is not recorded, or its index is malformed.
    """
    path = store / "index" / f"{version}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(recorded_versions(store)) or "none"
        msg = (
            f"this tac-bootstrap has no record of version {version}'s templates (recorded: {known})"
        )
        raise ReleaseStoreError(msg) from None
    except (OSError, ValueError) as exc:
        msg = f"the release record {path} cannot be read: {exc}"
        raise ReleaseStoreError(msg) from None
    if data.get("format") != INDEX_FORMAT or data.get("version") != version:
        msg = f"the release record {path} is not a format-{INDEX_FORMAT} index of {version}"
        raise ReleaseStoreError(msg)
    return Release(version, int(data["scheme"]), dict(data["templates"]), dict(data["renamed"]))


def template_bytes(release: Release, store: Path = STORE) -> dict[str, bytes]:
    """Read every template of a release from the blobs, checking each one's sha256.

    Raises:
        ReleaseStoreError: A blob is missing or does not hash to its name.
    """
    files = {}
    for name, digest in release.templates.items():
        try:
            content = (store / "blobs" / digest).read_bytes()
        except OSError as exc:
            msg = f"the template {name} of release {release.version} is missing from the store"
            raise ReleaseStoreError(msg) from exc
        if sha256(content) != digest:
            msg = f"the stored template {name} of release {release.version} is damaged"
            raise ReleaseStoreError(msg)
        files[name] = content
    return files


def render(
    version: str,
    answers: Mapping[str, Any],
    store: Path = STORE,
    cache_dir: Path | None = None,
) -> dict[str, RenderedFile]:
    """Render a project exactly as the recorded ``version`` rendered it from these answers.

    ``answers`` are the answers file's (``name``, the options such as ``with_orchestrator``,
    ``data``); ``cache_dir``, when given, keeps Jinja2's compiled templates between runs.

    Raises:
        ReleaseStoreError: The version is not recorded or its record is damaged.
        TemplateRenderError: A stored template fails to render with these answers.
    """
    release = load(version, store)
    scheme = SCHEMES.get(release.scheme)
    if scheme is None:
        msg = f"release {version} uses rendering scheme {release.scheme}, unknown to this version"
        raise ReleaseStoreError(msg)
    return scheme(template_bytes(release, store), answers, cache_dir)


def pending_renames(store: Path = STORE) -> dict[str, str]:
    """Return the templates renamed since the last recorded release (old name -> new name)."""
    path = store / "renames.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(old): str(new) for old, new in data.items()}


def renames_between(old: str, new: str, store: Path = STORE) -> dict[str, str]:
    """Return where each template of release ``old`` went by release ``new`` (renamed only).

    Composes the renames of every recorded release after ``old`` up to ``new``, and the
    pending ones when ``new`` is not recorded (the version in development).
    """
    steps = [
        load(v, store).renamed
        for v in recorded_versions(store)
        if version_key(old) < version_key(v) <= version_key(new)
    ]
    if new not in recorded_versions(store):
        steps.append(pending_renames(store))
    moved: dict[str, str] = {}
    for step in steps:
        carried = set(moved.values())
        moved = {old_name: step.get(now, now) for old_name, now in moved.items()}
        for old_name, new_name in step.items():
            if old_name not in carried:
                moved.setdefault(old_name, new_name)
    return {old_name: now for old_name, now in moved.items() if old_name != now}


def record(
    version: str, templates_dir: Path, scheme: int, store: Path = STORE
) -> tuple[Release, list[str]]:
    """Record ``templates_dir`` as the templates of ``version``: new blobs and one index.

    Returns:
        The release recorded and the blob names newly written.

    Raises:
        ReleaseStoreError: The version is already recorded with other templates, or the
            scheme is unknown.
    """
    if scheme not in SCHEMES:
        msg = f"unknown rendering scheme {scheme}; known: {', '.join(map(str, SCHEMES))}"
        raise ReleaseStoreError(msg)
    templates = {
        path.relative_to(templates_dir).as_posix(): path.read_bytes()
        for path in sorted(templates_dir.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    release = Release(
        version,
        scheme,
        {name: sha256(content) for name, content in templates.items()},
        pending_renames(store),
    )
    index = store / "index" / f"{version}.json"
    if index.exists() and load(version, store).templates != release.templates:
        msg = f"{version} is already recorded with other templates; a release is recorded once"
        raise ReleaseStoreError(msg)
    (store / "blobs").mkdir(parents=True, exist_ok=True)
    written = []
    for content in templates.values():
        blob = store / "blobs" / sha256(content)
        if not blob.exists():
            blob.write_bytes(content)
            written.append(blob.name)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(index_text(release), encoding="utf-8")
    (store / "renames.json").write_text("{}\n", encoding="utf-8")
    return release, written


def index_text(release: Release) -> str:
    """Serialize a release index (sorted keys, one template per line)."""
    data = {
        "format": INDEX_FORMAT,
        "version": release.version,
        "scheme": release.scheme,
        "renamed": release.renamed,
        "templates": release.templates,
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
