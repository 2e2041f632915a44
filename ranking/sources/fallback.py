"""Fallback source: the whole catalogue, once the ranked candidates run out.

The ranked sources fetch a few hundred candidates each from the notes the service keeps at
hand (hot, new, the viewer's neighbours); a long scroll, or a feed with little engagement,
goes through them. The feed should then go on, not end, while unseen notes exist: this
source asks the service (`RequestContext.fallback`) for visible notes outside everything
already fetched or shown, most engaged over their lifetime first and newest after that, and
keeps that order. The pipeline consults it only when a page would otherwise be short.
"""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.types import Scored


@dataclass
class FallbackSource:
    """Up to `n` catalogue notes outside `exclude`, scored so the selector keeps their order."""

    name: str = "catalogue"

    def enabled(self, ctx: RequestContext) -> bool:
        return ctx.fallback is not None

    def fetch_more(self, ctx: RequestContext, n: int, exclude: frozenset[int]) -> list[Scored]:
        """The next `n` notes in fallback order, their features added to the context."""
        assert ctx.fallback is not None
        notes = [f for f in ctx.fallback(n, exclude) if f.note_id not in exclude]
        ctx.add_features({f.note_id: f for f in notes if ctx.features(f.note_id) is None})
        # Scores below any ranked card's would be misleading in explain; rank order is what
        # counts here (1 for the first, falling towards 0).
        return [
            Scored(f.note_id, 1.0 / (1.0 + rank), self.name, {"catalogue_rank": float(rank)})
            for rank, f in enumerate(notes)
        ]
