"""Drops notes on topics the user blocked or marked not interested."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_keys
from ranking.types import Scored


@dataclass
class BlockedTopicFilter:
    """Notes with any topic in `ctx.blocked_topics` or the profile's negative topics."""

    name: str = "blocked_topic"
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        negative = ctx.profile.negative_topics if ctx.profile is not None else set()
        return split_keys(ctx, items, ctx.blocked_topics | negative, lambda f: f.topics)
