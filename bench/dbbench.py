"""Database module figures (placeholder)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.env import Venv
from bench.stats import Figure


@dataclass(frozen=True)
class Settings:
    """Sizes and rounds of the database runs."""

    rows: int
    rounds: int
    per_row: int
    concurrent_seconds: float


def figures(project: Venv, settings: Settings) -> list[Figure]:
    """Return the database figures."""
    del project, settings
    return []
