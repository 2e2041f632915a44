"""Pick source: editors' picks for the feed's slot."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.config import FETCH_LIMITS
from ranking.context import RequestContext
from ranking.types import Scored


@dataclass
class PickSource:
    """Editors' picks for the feed's slot (`channel:<name>` on channel feeds)."""

    limit: int = FETCH_LIMITS["pick"]
    name: str = "pick"

    def enabled(self, ctx: RequestContext) -> bool:
        return ctx.editorial is not None

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        assert ctx.editorial is not None
        slot = ctx.feed if ctx.channel is None else f"channel:{ctx.channel}"
        out = []
        for rank, (n, pos) in enumerate(ctx.editorial.picks(slot, ctx.now)[: self.limit]):
            comps = {"pick": 1.0, "pick_rank": float(rank)}
            if pos is not None:
                comps["pick_position"] = float(pos)
            out.append(Scored(int(n), 1.0, "pick", comps))
        return out
