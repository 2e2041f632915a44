"""Exploration: a traffic pool giving new notes a bounded exposure budget.

A new note is shown to a few hundred people; once it has `min_impressions`, its engagement
per impression decides whether it is promoted (it keeps a decaying boost in normal ranking) or
retired (no more pool traffic). Notes past `max_age_hours` or with a spent budget leave the
pool as "mature" and compete on the other signals alone.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Literal

from ranking.config import EXPLORATION, HOUR, ExplorationConfig
from ranking.types import NoteFeatures, Scored

PoolState = Literal["pool", "promoted", "retired", "mature"]


def engagement_rate(features: NoteFeatures) -> float:
    """Engagements (likes, collects, comments, shares, follows) per impression."""
    if features.impressions <= 0:
        return 0.0
    engaged = (
        features.likes
        + features.collects
        + features.comments
        + features.shares
        + features.follows_gained
    )
    return engaged / features.impressions


class TrafficPool:
    def __init__(self, config: ExplorationConfig = EXPLORATION) -> None:
        self.config = config

    def state(self, features: NoteFeatures, now: float) -> PoolState:
        cfg = self.config
        age_h = max(now - features.published_at, 0.0) / HOUR
        judged = features.impressions >= cfg.min_impressions
        rate = engagement_rate(features)
        if judged and rate >= cfg.promote_rate:
            # promoted notes stay promoted for the boost window after leaving the pool
            if age_h <= cfg.max_age_hours + cfg.boost_hours:
                return "promoted"
            return "mature"
        if age_h > cfg.max_age_hours:
            return "mature"
        if judged and rate < cfg.retire_rate:
            return "retired"
        if features.impressions >= cfg.pool_budget:
            return "mature"
        return "pool"

    def candidates(
        self,
        notes: Iterable[NoteFeatures],
        now: float,
        k: int,
        rng: random.Random | None = None,
    ) -> list[Scored]:
        """Pool notes with budget left: fewest impressions first, then newest.

        The score is the share of budget left (plus a small seeded jitter so equally starved
        notes take turns), in [0, 1].
        """
        if k <= 0:
            return []
        cfg = self.config
        rng = rng or random.Random(0)
        scored = []
        for f in notes:
            if self.state(f, now) != "pool":
                continue
            left = max(cfg.pool_budget - f.impressions, 0) / cfg.pool_budget
            jitter = rng.random() * cfg.jitter
            scored.append((left + jitter, f.published_at, f.note_id, left))
        scored.sort(key=lambda t: (-t[0], -t[1], -t[2]))
        return [
            Scored(
                note_id=n,
                score=min(s, 1.0),
                source="explore",
                components={"explore": min(s, 1.0), "budget_left": left},
            )
            for s, _, n, left in scored[:k]
        ]

    def boost(self, features: NoteFeatures, now: float) -> float:
        """Bonus for promoted notes: scales with how far the rate beat the bar, fades linearly."""
        if self.state(features, now) != "promoted":
            return 0.0
        cfg = self.config
        age_h = max(now - features.published_at, 0.0) / HOUR
        fade = 1.0
        if age_h > cfg.max_age_hours:
            fade = max(0.0, 1.0 - (age_h - cfg.max_age_hours) / cfg.boost_hours)
        strength = min(engagement_rate(features) / cfg.promote_rate, 2.0) / 2.0
        return cfg.promote_boost * strength * fade
