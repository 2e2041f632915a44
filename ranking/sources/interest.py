"""Interest source: catalogue notes that match the user's interest profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranking.catalogue import PreparedCatalogue
from ranking.config import FETCH_LIMITS
from ranking.context import RequestContext
from ranking.types import Scored


@dataclass
class InterestSource:
    """Catalogue notes that match the user's channels, topics, tags and authors."""

    limit: int = FETCH_LIMITS["interest"]
    name: str = "interest"

    def enabled(self, ctx: RequestContext) -> bool:
        return ctx.profile is not None and not ctx.profile.is_empty

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        assert ctx.profile is not None
        profile = ctx.profile
        scores = ctx.interest_scores()
        if scores is not None and ctx.prepared is not None:
            return self._fetch_prepared(ctx, ctx.prepared, scores)
        scored = []
        for f in ctx.notes.values():
            if not ctx.in_channel(f):
                continue
            s = profile.score(f)
            if s > 0:
                scored.append((s, f.published_at, f.note_id))
        scored.sort(reverse=True)
        return [Scored(n, s, "interest", {"interest": s}) for s, _, n in scored[: self.limit]]

    def _fetch_prepared(
        self, ctx: RequestContext, prepared: PreparedCatalogue, scores: np.ndarray
    ) -> list[Scored]:
        """The same top `limit`, from the catalogue's score array."""
        rows = np.flatnonzero(scores > 0)
        ids = prepared.index.note_ids
        if ctx.notes is not prepared.notes:  # a channel feed's (or any narrowed) catalogue
            keep = np.fromiter((int(n) in ctx.notes for n in ids[rows]), bool, len(rows))
            rows = rows[keep]
        if len(rows) > 4 * self.limit:  # only the best can make the cut: sort just those
            cut = np.partition(scores[rows], len(rows) - self.limit)[len(rows) - self.limit]
            rows = rows[scores[rows] >= cut]
        published = np.fromiter(
            (ctx.notes[int(n)].published_at for n in ids[rows]), np.float64, len(rows)
        )
        order = np.lexsort((ids[rows], published, scores[rows]))[::-1][: self.limit]
        return [
            Scored(int(ids[r]), float(scores[r]), "interest", {"interest": float(scores[r])})
            for r in rows[order]
        ]
