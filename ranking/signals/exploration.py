"""Exploration: a traffic pool giving new notes a bounded exposure budget.

A new note is shown to a few hundred people; once it has `min_impressions`, its engagement
per impression decides whether it is promoted (it keeps a decaying boost in normal ranking) or
retired (no more pool traffic). Notes past `max_age_hours` or with a spent budget leave the
pool as "mature" and compete on the other signals alone.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

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

        The score is the share of budget left plus a small jitter so equally starved notes take
        turns, in [0, 1]. The jitter is a hash of the note id salted once from `rng`
        (`jitter`), so it does not depend on the order or the subset of `notes`, and
        `candidates_from` gives the same cards from a prepared `PoolArrays`.
        """
        if k <= 0:
            return []
        cfg = self.config
        salt = (rng or random.Random(0)).getrandbits(63)
        best: list[tuple[float, float, int, float]] = []  # a min-heap of the top k
        for f in notes:
            if self.state(f, now) != "pool":
                continue
            left = max(cfg.pool_budget - f.impressions, 0) / cfg.pool_budget
            entry = (left + jitter(salt, f.note_id) * cfg.jitter, f.published_at, f.note_id, left)
            if len(best) < k:
                heapq.heappush(best, entry)
            elif entry > best[0]:
                heapq.heapreplace(best, entry)
        best.sort(reverse=True)
        return [_card(score, n, left) for score, _, n, left in best]

    def candidates_from(
        self,
        pool: PoolArrays,
        now: float,
        k: int,
        rng: random.Random | None = None,
        channel: str | None = None,
    ) -> list[Scored]:
        """`candidates` over notes that were in the pool when `pool` was built (their
        impressions as then): the only way out since is age, checked here at `now`."""
        if k <= 0 or not len(pool.note_ids):
            return []
        cfg = self.config
        salt = (rng or random.Random(0)).getrandbits(63)
        ok = np.maximum(now - pool.published, 0.0) <= cfg.max_age_hours * HOUR
        if channel is not None:
            ok &= pool.channels == channel
        rows = np.flatnonzero(ok)
        if not len(rows):
            return []
        ids = pool.note_ids[rows]
        score = pool.left[rows] + jitter_array(salt, ids) * cfg.jitter
        order = np.lexsort((ids, pool.published[rows], score))[::-1][:k]
        return [_card(float(score[i]), int(ids[i]), float(pool.left[rows[i]])) for i in order]

    def boost(self, features: NoteFeatures, now: float) -> float:
        """Bonus for promoted notes: scales with how far the rate beat the bar, fades linearly."""
        if self.state(features, now) != "promoted":
            return 0.0
        cfg = self.config
        age_h = max(now - features.published_at, 0.0) / HOUR
        fade = 1.0
        if age_h > cfg.max_age_hours:
            fade = max(0.0, 1.0 - (age_h - cfg.max_age_hours) / cfg.boost_hours)
        strength = min(engagement_rate(features) / cfg.promote_rate, cfg.boost_cap) / cfg.boost_cap
        return cfg.promote_boost * strength * fade


def _card(score: float, note_id: int, left: float) -> Scored:
    capped = min(score, 1.0)
    return Scored(
        note_id=note_id,
        score=capped,
        source="explore",
        components={"explore": capped, "budget_left": left},
    )


@dataclass(frozen=True)
class PoolArrays:
    """Notes in the pool at one moment, as arrays (a prepared catalogue keeps one)."""

    note_ids: np.ndarray  # int64
    left: np.ndarray  # share of the impression budget left, float64
    published: np.ndarray  # float64 timestamps
    channels: np.ndarray  # object array of channel codes (None for none)

    @classmethod
    def build(cls, notes: Sequence[NoteFeatures], config: ExplorationConfig) -> PoolArrays:
        budget = config.pool_budget
        return cls(
            note_ids=np.fromiter((f.note_id for f in notes), np.int64, len(notes)),
            left=np.fromiter(
                (max(budget - f.impressions, 0) / budget for f in notes), np.float64, len(notes)
            ),
            published=np.fromiter((f.published_at for f in notes), np.float64, len(notes)),
            channels=np.array([f.channel for f in notes], dtype=object),
        )


_MASK = (1 << 64) - 1


def jitter(salt: int, note_id: int) -> float:
    """A uniform draw in [0, 1) from (salt, note id): splitmix64 of their xor."""
    z = ((salt ^ note_id) + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) / 2**64


def jitter_array(salt: int, note_ids: np.ndarray) -> np.ndarray:
    """`jitter` for many notes at once (uint64 arithmetic wraps as the masks do)."""
    z = (np.uint64(salt) ^ note_ids.astype(np.uint64)) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (z ^ (z >> np.uint64(31))).astype(np.float64) / 2**64
