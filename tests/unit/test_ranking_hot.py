"""Hot signal: CES weights, decay, windows and the top list."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.config import CES_WEIGHTS, HOUR
from ranking.signals.hot import ces, decay, hot_from_arrays, hot_from_events, hot_score, top_hot
from ranking.types import Event, NoteFeatures

NOW = 1_700_000_000.0


def test_ces_weights_follow_the_product_definition() -> None:
    assert ces(1, 0, 0, 0, 0) == 1
    assert ces(0, 1, 0, 0, 0) == 1
    assert ces(0, 0, 1, 0, 0) == 4
    assert ces(0, 0, 0, 1, 0) == 4
    assert ces(0, 0, 0, 0, 1) == 8
    assert ces(2, 3, 1, 1, 1) == 2 + 3 + 4 + 4 + 8
    assert ces(1, 1, 1, 1, 1, weights={"like": 10}) == 10


def test_decay_halves_per_half_life_and_ignores_future() -> None:
    assert decay(0, 3600) == 1.0
    assert decay(3600, 3600) == pytest.approx(0.5)
    assert decay(7200, 3600) == pytest.approx(0.25)
    assert decay(-500, 3600) == 1.0
    with pytest.raises(ValueError):
        decay(1, 0)


def _note(note_id: int, age_h: float, likes: int = 0, comments: int = 0) -> NoteFeatures:
    return NoteFeatures(
        note_id=note_id,
        author_id=1,
        channel="food",
        published_at=NOW - age_h * HOUR,
        likes=likes,
        comments=comments,
    )


def test_hot_score_decays_with_age() -> None:
    fresh, old = _note(1, 1, likes=100), _note(2, 48, likes=100)
    assert hot_score(fresh, NOW, 12 * HOUR) > hot_score(old, NOW, 12 * HOUR) > 0
    assert hot_score(_note(3, 1), NOW, 12 * HOUR) == 0.0


def test_old_viral_note_does_not_stay_on_top_forever() -> None:
    viral = _note(1, 0, likes=10_000)
    modest = _note(2, 0, likes=50)
    # at publication the viral note dominates; three days later a fresh modest note wins
    assert hot_score(viral, NOW, 12 * HOUR) > hot_score(modest, NOW, 12 * HOUR)
    later = NOW + 72 * HOUR
    fresh_modest = NoteFeatures(2, 1, "food", published_at=later - HOUR, likes=50)
    assert hot_score(fresh_modest, later, 12 * HOUR) > hot_score(viral, later, 12 * HOUR)


def test_comments_outweigh_likes() -> None:
    a = _note(1, 2, likes=4)
    b = _note(2, 2, comments=2)
    assert hot_score(b, NOW, 12 * HOUR) == pytest.approx(2 * hot_score(a, NOW, 12 * HOUR))


def test_hot_from_events_decays_per_event_and_windows() -> None:
    events = [
        Event(1, 10, "like", NOW),
        Event(2, 10, "follow", NOW - 12 * HOUR),  # 8 * 0.5
        Event(3, 11, "share", NOW - 30 * HOUR),  # outside a 24 h window
        Event(4, 11, "open", NOW),  # not CES
        Event(5, 11, "impression", NOW),
        Event(6, 12, "like", NOW + HOUR),  # the future must not leak into replay
        Event(7, 13, "comment", NOW - HOUR, weight=2.0),
    ]
    day = hot_from_events(events, NOW, window_seconds=24 * HOUR, half_life_seconds=12 * HOUR)
    assert day[10] == pytest.approx(1 + 4)
    assert 11 not in day and 12 not in day
    assert day[13] == pytest.approx(8 * 0.5 ** (1 / 12))
    week = hot_from_events(events, NOW, window_seconds=None, half_life_seconds=12 * HOUR)
    assert week[11] == pytest.approx(4 * 0.5 ** (30 / 12))


def test_hot_from_arrays_matches_event_version() -> None:
    rng = np.random.default_rng(3)
    kinds = list(CES_WEIGHTS)
    events = [
        Event(int(u), int(n), kinds[int(k)], float(NOW - a))
        for u, n, k, a in zip(
            rng.integers(0, 50, 500),
            rng.integers(0, 40, 500),
            rng.integers(0, len(kinds), 500),
            rng.uniform(-HOUR, 10 * 24 * HOUR, 500),
            strict=True,
        )
    ]
    expected = hot_from_events(
        events, NOW, window_seconds=7 * 24 * HOUR, half_life_seconds=HOUR * 6
    )
    got = hot_from_arrays(
        np.array([e.note_id for e in events]),
        np.array([CES_WEIGHTS[e.kind] for e in events]),
        np.array([e.ts for e in events]),
        NOW,
        window_seconds=7 * 24 * HOUR,
        half_life_seconds=HOUR * 6,
    )
    assert got.keys() == expected.keys()
    for n, v in expected.items():
        assert got[n] == pytest.approx(v)


def test_top_hot_orders_filters_and_breaks_ties() -> None:
    scores = {1: 5.0, 2: 9.0, 3: 5.0, 4: 1.0}
    assert top_hot(scores, 3) == [(2, 9.0), (3, 5.0), (1, 5.0)]
    assert top_hot(scores, 2, allowed=lambda n: n % 2 == 1) == [(3, 5.0), (1, 5.0)]
    assert top_hot(scores, 0) == []
    assert top_hot({}, 5) == []
