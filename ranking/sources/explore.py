"""Explore source: new notes with traffic-pool budget left."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.config import FETCH_LIMITS
from ranking.context import RequestContext
from ranking.signals.exploration import TrafficPool
from ranking.types import Scored


@dataclass
class ExploreSource:
    """New notes with traffic-pool budget left."""

    pool: TrafficPool
    limit: int = FETCH_LIMITS["explore"]
    name: str = "explore"

    def enabled(self, ctx: RequestContext) -> bool:
        return bool(ctx.notes)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        # The prepared pool holds every note that was in the pool at the rebuild; a note only
        # leaves the pool as time passes, which `candidates` checks again at `ctx.now`.
        if ctx.prepared is not None:
            return self.pool.candidates_from(
                ctx.prepared.pool, ctx.now, self.limit, ctx.rng, channel=ctx.channel
            )
        notes = (f for f in ctx.notes.values() if ctx.in_channel(f))
        return self.pool.candidates(notes, ctx.now, self.limit, ctx.rng)
