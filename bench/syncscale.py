"""sync-check scaling over synthetic BASE/TEMPLATE pairs (placeholder)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.env import Venv
from bench.stats import Figure


@dataclass(frozen=True)
class Settings:
    """Sizes and rounds of the sync scaling runs."""

    sizes: tuple[int, ...]
    rounds: int
    repo_rounds: int


def figures(project: Venv, settings: Settings) -> list[Figure]:
    """Return the sync scaling figures."""
    del project, settings
    return []
