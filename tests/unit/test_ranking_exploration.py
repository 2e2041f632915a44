"""Traffic pool: bounded exposure for new notes, promotion and retirement by engagement."""

from __future__ import annotations

import random
from dataclasses import replace

from ranking.config import HOUR, ExplorationConfig
from ranking.signals.exploration import TrafficPool, engagement_rate
from ranking.types import NoteFeatures

NOW = 1_700_000_000.0
CFG = ExplorationConfig(
    pool_budget=200, min_impressions=50, promote_rate=0.1, retire_rate=0.02, max_age_hours=48
)


def note(note_id: int, *, age_h: float = 1, impressions: int = 0, likes: int = 0) -> NoteFeatures:
    return NoteFeatures(
        note_id=note_id,
        author_id=note_id,
        channel="c",
        published_at=NOW - age_h * HOUR,
        likes=likes,
        impressions=impressions,
    )


def test_new_note_is_in_the_pool() -> None:
    pool = TrafficPool(CFG)
    assert pool.state(note(1), NOW) == "pool"
    # too few impressions to judge, even with no engagement
    assert pool.state(note(1, impressions=49), NOW) == "pool"


def test_high_engagement_rate_is_promoted_and_boosted() -> None:
    pool = TrafficPool(CFG)
    good = note(1, impressions=60, likes=12)  # 20 % per impression
    assert engagement_rate(good) == 0.2
    assert pool.state(good, NOW) == "promoted"
    assert pool.boost(good, NOW) > 0
    # a promoted note keeps a fading boost after leaving the pool age
    later = note(1, age_h=60, impressions=60, likes=12)
    assert pool.state(later, NOW) == "promoted"
    assert 0 < pool.boost(later, NOW) < pool.boost(good, NOW)
    assert pool.state(note(1, age_h=500, impressions=60, likes=12), NOW) == "mature"


def test_bad_engagement_rate_is_retired_and_gets_no_traffic() -> None:
    pool = TrafficPool(CFG)
    bad = note(2, impressions=100, likes=1)
    assert pool.state(bad, NOW) == "retired"
    assert pool.boost(bad, NOW) == 0.0
    assert pool.candidates([bad], NOW, 10, random.Random(1)) == []


def test_budget_and_age_bound_the_pool() -> None:
    pool = TrafficPool(CFG)
    assert pool.state(note(3, impressions=200, likes=10), NOW) == "mature"  # 5 %: middling
    assert pool.state(note(4, age_h=49), NOW) == "mature"
    assert pool.state(note(5, impressions=120, likes=6), NOW) == "pool"


def test_candidates_prefer_fewest_impressions_then_newest() -> None:
    pool = TrafficPool(replace(CFG, jitter=0.0))
    notes = [
        note(1, impressions=150, likes=12),
        note(2, impressions=0, age_h=5),
        note(3, impressions=0, age_h=1),
        note(4, impressions=80, likes=1),  # retired
        note(5, age_h=100),  # mature
        note(6, impressions=10),
    ]
    got = pool.candidates(notes, NOW, 10, random.Random(7))
    assert [s.note_id for s in got] == [3, 2, 6, 1]
    assert all(s.source == "explore" and 0 <= s.score <= 1 for s in got)
    assert all("budget_left" in s.components for s in got)
    jittered = TrafficPool(CFG)
    assert jittered.candidates(notes, NOW, 10, random.Random(7)) == jittered.candidates(
        notes, NOW, 10, random.Random(7)
    )
    assert len(pool.candidates(notes, NOW, 2, random.Random(7))) == 2
    assert pool.candidates(notes, NOW, 0) == []
