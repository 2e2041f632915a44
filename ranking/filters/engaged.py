"""Drops notes the user already engaged with."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_notes
from ranking.types import Scored


@dataclass
class EngagedFilter:
    """Notes the user liked, collected, commented on or shared (`ctx.engaged`)."""

    name: str = "engaged"
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        return split_notes(items, ctx.engaged)
