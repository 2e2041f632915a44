"""Drops notes served to the user recently, softly: they come back if the page would be short."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_notes
from ranking.types import Scored


@dataclass
class RecentlyServedFilter:
    """Notes served to the user within `RankingConfig.recent_serve_ttl_seconds`."""

    name: str = "recently_served"
    soft: bool = True

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        return split_notes(items, ctx.recently_served)
