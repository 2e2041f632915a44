"""Following source: recent notes by the authors the user follows."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.config import FETCH_LIMITS
from ranking.context import RequestContext
from ranking.types import Scored


@dataclass
class FollowingSource:
    """Recent notes by followed authors."""

    limit: int = FETCH_LIMITS["following"]
    name: str = "following"

    def enabled(self, ctx: RequestContext) -> bool:
        return bool(ctx.following)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        if ctx.prepared is not None:
            by_author = ctx.prepared.by_author
            ids = [n for a in ctx.following for n in by_author.get(a, ())]
            fs = [f for n in ids if (f := ctx.notes.get(n)) is not None and ctx.in_channel(f)]
        else:
            fs = [
                f for f in ctx.notes.values() if f.author_id in ctx.following and ctx.in_channel(f)
            ]
        fs.sort(key=lambda f: (f.published_at, f.note_id), reverse=True)
        return [Scored(f.note_id, 1.0, "following", {"following": 1.0}) for f in fs[: self.limit]]
