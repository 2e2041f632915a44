"""Hot source: the hot list, restricted to the channel on channel feeds."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.config import FETCH_LIMITS
from ranking.context import RequestContext
from ranking.signals.hot import top_hot
from ranking.types import Scored


@dataclass
class HotSource:
    """The hot list (restricted to the channel on channel feeds)."""

    limit: int = FETCH_LIMITS["hot"]
    name: str = "hot"

    def enabled(self, ctx: RequestContext) -> bool:
        return bool(ctx.hot)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        prepared = ctx.prepared
        if prepared is not None and prepared.hot is ctx.hot:
            out = []
            for n in prepared.hot_order:
                if len(out) >= self.limit:
                    break
                if ctx.channel is None or ctx.in_channel(ctx.notes.get(n)):
                    v = prepared.hot_norm.get(n, 0.0)
                    out.append(Scored(n, v, "hot", {"hot": v}))
            return out
        allowed = None
        if ctx.channel is not None:
            allowed = lambda n: ctx.in_channel(ctx.notes.get(n))  # noqa: E731
        out = []
        for n, _ in top_hot(ctx.hot, self.limit, allowed=allowed):
            v = ctx.hot_norm(n)
            out.append(Scored(n, v, "hot", {"hot": v}))
        return out
