"""The `extra` source: an ALS/EASE model's best notes for the user's recent engagements,
served when the fitted blend keeps that component (`BlendParams.extra` with a weight)."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.config import LEARN
from ranking.context import RequestContext
from ranking.learn import EXTRA
from ranking.signals.factors import UserScores
from ranking.types import Scored


def extra_weight(ctx: RequestContext) -> float:
    """The blend's weight on the extra component: 0 without a served model or with params
    that drop it (or name another kind of model than the one served)."""
    params, model = ctx.blend_params, ctx.extra_model
    if params is None or model is None or ctx.cold_start or params.extra != model.kind:
        return 0.0
    return max(float(params.weights.get(EXTRA, 0.0)), 0.0)


def extra_scores(ctx: RequestContext) -> UserScores | None:
    """The user's normalised extra scores, computed once per request (None: no component,
    or none of the user's recent notes is known to the model)."""
    if extra_weight(ctx) <= 0 or not ctx.recent:
        return None
    key = "extra_scores"
    if key not in ctx._cache:
        assert ctx.extra_model is not None
        ctx._cache[key] = ctx.extra_model.normalised(ctx.recent, exclude=ctx.engaged)
    scores: UserScores | None = ctx._cache[key]
    return scores


@dataclass
class ExtraSource:
    """The extra model's top notes for this user, scored like `cf` (relative to their best)."""

    limit: int = LEARN.extra_fetch
    name: str = EXTRA

    def enabled(self, ctx: RequestContext) -> bool:
        return extra_weight(ctx) > 0 and bool(ctx.recent)

    def fetch(self, ctx: RequestContext) -> list[Scored]:
        scores = extra_scores(ctx)
        if scores is None:
            return []
        top = scores.top(self.limit, exclude=ctx.engaged)
        return [Scored(n, v, EXTRA, {EXTRA: v}) for n, v in top]
