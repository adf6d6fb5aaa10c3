"""The answers file (``.tac-bootstrap.json``) a generated project keeps, as a Pydantic model.

Apart from :mod:`tac_bootstrap.spec` so that ``init``, which only writes answers files,
imports no Pydantic model machinery.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SHA256 = re.compile(r"[0-9a-f]{64}")


class Answers(BaseModel):
    """The answers file a generated project keeps: how to render it again, and what was written."""

    model_config = ConfigDict(extra="forbid")

    generator: Literal["tac-bootstrap"] = "tac-bootstrap"
    version: str
    name: str
    with_orchestrator: bool
    db: Literal["sqlite", "postgres"] = "sqlite"  # absent from files written before 0.2.0
    data: dict[str, str]
    files: dict[str, str] = Field(default_factory=dict)
    #: Generated files the user deleted: ``update`` keeps them deleted.
    deleted: list[str] = Field(default_factory=list)
    #: Files ``update`` left in conflict, until the person resolves them.
    conflicts: list[str] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        from tac_bootstrap.releases import ReleaseStoreError, version_key

        try:
            version_key(value)
        except ReleaseStoreError as exc:  # pydantic reports ValueErrors only
            msg = f"version: {exc}"
            raise ValueError(msg) from None
        return value

    @field_validator("files")
    @classmethod
    def _check_files(cls, value: dict[str, str]) -> dict[str, str]:
        # A path that leaves the project is reported where it is used (never read or written).
        for path, digest in value.items():
            if not _SHA256.fullmatch(digest):
                msg = f"files: the sha256 of {path!r} is malformed ({digest!r}): not 64 hex digits"
                raise ValueError(msg)
        return value
