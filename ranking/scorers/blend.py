"""The blend scorer: every signal for every candidate, weighed by `ranking.blend.blend`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ranking.blend import SIGNALS, blend, shrink
from ranking.config import RANKING, SESSION, BlendConfig, SessionConfig
from ranking.context import RequestContext
from ranking.learn import EXTRA, POPULARITY
from ranking.learn import SESSION as SESSION_SIGNAL
from ranking.signals.exploration import TrafficPool
from ranking.signals.interest import InterestProfile
from ranking.sources.extra import extra_scores, extra_weight
from ranking.types import NoteFeatures, Scored


@dataclass
class BlendScorer:
    """Fills every signal for every candidate and blends them with `ranking.blend.blend`:
    the feed's weights, personal signals scaled by the user's evidence (`signal_weights`).

    The card's `source` becomes the signal that contributed most (`sticky` sources, picks
    and pool traffic, stay what they are).

    With `ctx.blend_params` (the fitted `blend` model, or an experiment arm's parameters) a
    warm request is weighed by those weights instead of the configured ones, and the
    long-window `popularity` component (`RequestContext.popularity_norm`) joins when it has a
    weight. Cold-start requests keep the cold-start blend. When the parameters keep an
    `extra` (ALS/EASE) component and its model is served (`ctx.extra_model`), every candidate
    gets the model's score relative to the user's best (`ranking.sources.extra`), weighed
    by `params.weights["extra"]`.

    With `ctx.session` (the viewer's last hour of likes, collects, ...) every candidate gets
    that profile's score as the `session` component, weighed by the feed's (or the
    parameters') `session` weight times n / (n + prior) for n engagements in the window.
    """

    blend: BlendConfig
    pool: TrafficPool
    name: str = "blend"
    evidence_prior: float = RANKING.evidence_prior
    sticky: frozenset[str] = RANKING.sticky_sources
    session_config: SessionConfig = SESSION

    def score(self, ctx: RequestContext, items: list[Scored]) -> list[Scored]:
        """One pass fills each candidate's components and the per-signal columns; the blend
        runs on the columns; a second pass names each card's source. (Written for the
        hundreds of candidates of every ranking run: no per-candidate method calls.)"""
        params = ctx.blend_params if not ctx.cold_start else None
        base = self.blend.weights
        pop_weight = 0.0
        extra_w = 0.0
        extra = None
        if params is not None:
            base = {k: v for k, v in params.weights.items() if k in SIGNALS}
            pop_weight = float(params.weights.get(POPULARITY, 0.0))
            extra_w = extra_weight(ctx)
            extra = extra_scores(ctx) if extra_w > 0 else None
        w = ctx.blend_weights(base, self.evidence_prior)
        session = ctx.session if not ctx.cold_start else None
        session_w = 0.0
        if session is not None:
            configured = self.blend.weights.get(SESSION_SIGNAL, 0.0)
            if params is not None:
                configured = params.weights.get(SESSION_SIGNAL, configured)
            session_w = float(configured) * shrink(
                session.evidence, self.session_config.evidence_prior
            )
            if session_w <= 0:
                session = None
        boosts: dict[int, float] = {}
        author_boosts: dict[int, float] = {}
        if ctx.editorial is not None:
            boosts = ctx.editorial.boosts(ctx.now)
            author_boosts = ctx.editorial.author_boosts(ctx.now)
        profile = ctx.profile if ctx.profile is not None and not ctx.profile.is_empty else None
        interest_of = _interest_lookup(ctx, profile)
        prepared = ctx.prepared
        in_prepared = prepared.position if prepared is not None else {}
        promoted = prepared.promoted if prepared is not None else frozenset()
        hot_norms = prepared.hot_norm if prepared is not None and prepared.hot is ctx.hot else None
        following = ctx.following
        n = len(items)
        columns: dict[str, list[float]] = {k: [0.0] * n for k in SIGNALS}
        filled: list[dict[str, float]] = []
        for j, it in enumerate(items):
            note_id = it.note_id
            f = ctx.features(note_id)
            comps = dict(it.components)
            if interest_of is not None and f is not None and "interest" not in comps:
                comps["interest"] = max(interest_of(note_id, f), 0.0)
            if "hot" not in comps:
                h = hot_norms.get(note_id, 0.0) if hot_norms is not None else ctx.hot_norm(note_id)
                if h > 0:
                    comps["hot"] = h
            boost = boosts.get(note_id, 0.0)
            if f is not None:
                pool_boost = (
                    0.0
                    if note_id in in_prepared and note_id not in promoted
                    else self.pool.boost(f, ctx.now)
                )
                boost += author_boosts.get(f.author_id, 0.0) + pool_boost
            if boost:
                comps["boost"] = boost
            if f is not None and f.author_id in following:
                comps["following"] = 1.0
            if pop_weight > 0 and f is not None:
                p = ctx.popularity_norm(f)
                if p > 0:
                    comps[POPULARITY] = p
            if session is not None and f is not None:
                v = session.score(f)
                if v > 0:
                    comps[SESSION_SIGNAL] = v
            if extra is not None and EXTRA not in comps:
                e = extra.get(note_id)
                if e > 0:
                    comps[EXTRA] = e
            for k, v in comps.items():
                column = columns.get(k)
                if column is not None:
                    column[j] = v
            filled.append(comps)
        arrays = {k: np.array(columns[k], dtype=np.float64) for k in SIGNALS}
        totals_arr = blend(arrays, w) if items else np.zeros(0)
        weights = [(k, w.get(k, 0.0)) for k in SIGNALS]
        if pop_weight > 0 and items:
            pop = np.array([c.get(POPULARITY, 0.0) for c in filled], dtype=np.float64)
            totals_arr = totals_arr + pop_weight * pop
            weights.append((POPULARITY, pop_weight))
        if extra is not None and items:
            values = np.array([c.get(EXTRA, 0.0) for c in filled], dtype=np.float64)
            totals_arr = totals_arr + extra_w * values
            weights.append((EXTRA, extra_w))
        if session is not None and items:
            values = np.array([c.get(SESSION_SIGNAL, 0.0) for c in filled], dtype=np.float64)
            totals_arr = totals_arr + session_w * values
            weights.append((SESSION_SIGNAL, session_w))
        totals = totals_arr.tolist()
        out = []
        for it, comps, total in zip(items, filled, totals, strict=True):
            source = it.source
            if source not in self.sticky:
                # the signal that contributed most (the card's own source wins a tie)
                best: tuple[float, bool] | None = None
                best_signal = source
                for k, wk in weights:
                    v = comps.get(k)
                    if v is None:
                        continue
                    key = (wk * v, k == it.source)
                    if best is None or key > best:
                        best, best_signal = key, k
                if best is not None and best[0] > 0:
                    source = best_signal
            out.append(Scored(it.note_id, total, source, comps))
        return out


def _interest_lookup(
    ctx: RequestContext, profile: InterestProfile | None
) -> Callable[[int, NoteFeatures], float] | None:
    """`ctx.interest` as a plain function over a list of the catalogue's scores."""
    if profile is None:
        return None
    scores = ctx.interest_scores()
    if scores is None or ctx.prepared is None:
        return lambda _note_id, f: profile.score(f)
    values = scores.tolist()
    position = ctx.prepared.position

    def interest(note_id: int, f: NoteFeatures) -> float:
        row = position.get(note_id)
        return values[row] if row is not None else profile.score(f)

    return interest
