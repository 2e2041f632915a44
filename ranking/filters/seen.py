"""Drops notes already shown in this session."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_notes
from ranking.types import Scored


@dataclass
class SeenFilter:
    """Notes already shown in this session (`ctx.seen`)."""

    name: str = "seen"
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        return split_notes(items, ctx.seen)
