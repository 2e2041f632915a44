"""Loads the cold-start packs. Empty for now: the cold-start issue fills the packs.

Idempotent by design: every pack item has a stable key, so running it again adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from app.extensions import db
from app.models import Note

Progress = Callable[[str, int, int], None]


def database_is_empty() -> bool:
    return (db.session.scalar(select(func.count()).select_from(Note)) or 0) == 0


def load_seed_content(progress: Progress | None = None) -> int:
    """Returns how many items were added. No packs ship yet, so nothing is added."""
    packs: list[object] = []
    if progress:
        progress("seed packs", len(packs), len(packs))
    return 0
