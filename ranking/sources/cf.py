"""Item-CF source: neighbours of what the user engaged with recently."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranking.blend import cf_norm
from ranking.config import FETCH_LIMITS
from ranking.context import RequestContext
from ranking.types import Scored


@dataclass
class CFSource:
    """Item-CF neighbours of what the user engaged with recently."""

    limit: int = FETCH_LIMITS["cf"]
    name: str = "cf"

    def enabled(self, ctx: RequestContext) -> bool:
        return ctx.cf is not None and bool(ctx.recent)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        assert ctx.cf is not None
        recs = ctx.cf.recommend(ctx.recent, self.limit, exclude=ctx.engaged)
        top = max((s for _, s in recs), default=0.0)
        if top <= 0:
            return []
        norm = cf_norm(np.array([s for _, s in recs], dtype=np.float64), top).tolist()
        return [Scored(n, v, "cf", {"cf": v}) for (n, _), v in zip(recs, norm, strict=True)]
