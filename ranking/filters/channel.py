"""Drops notes of other channels on a channel feed (sources may return any)."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_where
from ranking.types import Scored


@dataclass
class ChannelFilter:
    """On a channel feed, notes outside the channel."""

    name: str = "channel"
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        if ctx.channel is None:  # discover: every channel belongs (no pass over the items)
            return items, []
        return split_where(ctx, items, lambda f: not ctx.in_channel(f))
