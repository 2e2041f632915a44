"""The request context every stage reads: what one request knows, filled by the service.

Its own module (not `ranking.pipeline`) so stages can depend on it while the pipeline
depends on the stages, without a cycle.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ranking.blend import signal_weights
from ranking.catalogue import PreparedCatalogue
from ranking.config import CES_WEIGHTS, RANKING
from ranking.learn import BlendParams
from ranking.signals.editorial import EditorialSource
from ranking.signals.exploration import TrafficPool
from ranking.signals.factors import FactorModel
from ranking.signals.hot import ces
from ranking.signals.interest import InterestProfile, key_counts
from ranking.signals.itemcf import ItemCF
from ranking.types import NoteFeatures


@dataclass
class RequestContext:
    """Everything one request knows; the service fills it, the pipeline only reads it.

    `notes` is the candidate catalogue (features of notes the sources may return: recent,
    hot, pool and CF-neighbour notes — a few thousand, not the whole table). Candidates whose
    features are missing are looked up once via `hydrate` if given, else dropped ("unknown").
    `history` is the note ids of the previous cards in this session, newest last, so the
    diversity rule also holds across page boundaries.
    """

    user_id: int | None
    now: float
    feed: str = "discover"
    channel: str | None = None
    notes: Mapping[int, NoteFeatures] = field(default_factory=dict)
    profile: InterestProfile | None = None
    #: The viewer's last hour of explicit engagement (`ranking.signals.session`), or None.
    session: InterestProfile | None = None
    cf: ItemCF | None = None
    # (note, weight) of the latest engagements, newest first: CF weighs them by position
    recent: list[tuple[int, float]] = field(default_factory=list)
    hot: dict[int, float] = field(default_factory=dict)
    editorial: EditorialSource | None = None
    seen: set[int] = field(default_factory=set)
    recently_served: set[int] = field(default_factory=set)
    engaged: set[int] = field(default_factory=set)
    blocked_authors: set[int] = field(default_factory=set)
    blocked_topics: set[int] = field(default_factory=set)
    hidden_notes: set[int] = field(default_factory=set)
    following: set[int] = field(default_factory=set)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    hydrate: Callable[[Iterable[int]], Mapping[int, NoteFeatures]] | None = None
    #: The whole catalogue when ranked candidates run out: `fallback(n, exclude)` gives up to
    #: n visible notes of this feed outside `exclude`, most engaged over their lifetime
    #: first, then newest (`ranking.sources.fallback`).
    fallback: Callable[[int, frozenset[int]], Sequence[NoteFeatures]] | None = None
    history: Sequence[int] = ()
    #: The catalogue's viewer-independent work, done once per rebuild (`ranking.catalogue`);
    #: without it every value is computed here, with the same results.
    prepared: PreparedCatalogue | None = None
    #: Fitted blend parameters (`ranking.learn`: the stored `blend` model, or an experiment
    #: arm's); None: the feed's configured weights.
    blend_params: BlendParams | None = None
    #: The served `extra` model (ALS/EASE, `ranking.signals.factors`) the fitted blend weighs
    #: when `blend_params` keeps it; None: no such component.
    extra_model: FactorModel | None = None
    _extra: dict[int, NoteFeatures] = field(default_factory=dict, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cold_start(self) -> bool:
        """Anonymous, or nothing known about the user yet (no profile and no recent)."""
        if self.user_id is None:
            return True
        no_profile = self.profile is None or self.profile.is_empty
        return no_profile and not self.recent and self.session is None

    def features(self, note_id: int) -> NoteFeatures | None:
        f = self.notes.get(note_id)
        return f if f is not None else self._extra.get(note_id)

    def all_features(self) -> Mapping[int, NoteFeatures]:
        if not self._extra:
            return self.notes
        return {**self.notes, **self._extra}

    def add_features(self, features: Mapping[int, NoteFeatures]) -> None:
        """Features looked up for candidates outside the catalogue (`hydrate`)."""
        self._extra.update(features)

    def in_channel(self, f: NoteFeatures | None) -> bool:
        """Whether a note belongs on this feed: any note, or on a channel feed its channel's."""
        return self.channel is None or (f is not None and f.channel == self.channel)

    def hot_norm(self, note_id: int) -> float:
        """Hot score on a log scale relative to the hottest known note, in [0, 1]."""
        if self.prepared is not None and self.prepared.hot is self.hot:
            return self.prepared.hot_norm.get(note_id, 0.0)
        top = self._cache.get("hot_max")
        if top is None:
            top = self._cache["hot_max"] = max(self.hot.values(), default=0.0)
        h = self.hot.get(note_id, 0.0)
        if h <= 0 or top <= 0 or not math.isfinite(h) or not math.isfinite(top):
            return 0.0
        # The scalar form of `blend.hot_norm` (same formula): this runs for thousands of
        # candidates per request, where a numpy call per note costs more than the maths.
        return min(math.log1p(h) / math.log1p(top), 1.0)

    def popularity_norm(self, features: NoteFeatures) -> float:
        """Long-window popularity: the note's lifetime CES engagement on a log scale against
        the most engaged catalogue note, in [0, 1] (the offline `learn.popularity_norm`)."""
        top = self._cache.get("popularity_max")
        if top is None:
            top = self._cache["popularity_max"] = max(
                (_lifetime(f) for f in self.notes.values()), default=0.0
            )
        value = _lifetime(features)
        if value <= 0 or top <= 0:
            return 0.0
        return min(math.log1p(value) / math.log1p(top), 1.0)

    def blend_weights(
        self, base: Mapping[str, float], prior: float = RANKING.evidence_prior
    ) -> dict[str, float]:
        """The feed's weights scaled by this user's evidence (`ranking.blend.signal_weights`)."""
        profile = self.profile if self.profile is not None and not self.profile.is_empty else None
        focus = 0.0
        if profile is not None:
            keys = self._cache.get("key_counts")
            if keys is None:
                keys = self._cache["key_counts"] = (
                    self.prepared.key_counts(self._extra.values())
                    if self.prepared is not None and self.prepared.notes is self.notes
                    else key_counts(self.all_features().values())
                )
            focus = profile.focus(keys)
        return signal_weights(
            base,
            cf_events=len(self.recent),
            interest_events=profile.evidence if profile is not None else 0.0,
            interest_focus=focus,
            prior=prior,
        )

    def interest_scores(self) -> np.ndarray | None:
        """The profile's score of every prepared catalogue note (row order of its index),
        computed once per request; None without a prepared catalogue or a profile."""
        if self.prepared is None or self.profile is None or self.profile.is_empty:
            return None
        scores = self._cache.get("interest_scores")
        if scores is None:
            scores = self._cache["interest_scores"] = self.profile.score_index(self.prepared.index)
        return scores

    def interest(self, note_id: int, features: NoteFeatures) -> float:
        """`profile.score` of one note, read from `interest_scores` when it is prepared."""
        assert self.profile is not None
        scores = self.interest_scores()
        if scores is not None:
            row = self.prepared.position.get(note_id) if self.prepared is not None else None
            if row is not None:
                return float(scores[row])
        return self.profile.score(features)

    def pool_boost(self, pool: TrafficPool, features: NoteFeatures) -> float:
        """A promoted note's boost (impressions are as of the catalogue, so a note that was
        not promoted when it was prepared cannot be now)."""
        prepared = self.prepared
        n = features.note_id
        if prepared is not None and n in prepared.position and n not in prepared.promoted:
            return 0.0
        return pool.boost(features, self.now)


def _lifetime(f: NoteFeatures) -> float:
    return ces(f.likes, f.collects, f.comments, f.shares, f.follows_gained, CES_WEIGHTS)
