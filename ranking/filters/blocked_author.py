"""Drops notes by authors the user blocked or marked not interested."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_keys
from ranking.types import Scored


@dataclass
class BlockedAuthorFilter:
    """Notes by `ctx.blocked_authors` or the profile's negative authors."""

    name: str = "blocked_author"
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        negative = ctx.profile.negative_authors if ctx.profile is not None else set()
        return split_keys(ctx, items, ctx.blocked_authors | negative, lambda f: (f.author_id,))
