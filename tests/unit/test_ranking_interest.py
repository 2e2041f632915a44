"""Interest profile: decayed affinities, onboarding seeds, not-interested feedback, storage."""

from __future__ import annotations

import json

import pytest

from ranking.config import DAY
from ranking.signals.interest import BLOCKED_SCORE, InterestProfile
from ranking.types import Event, NoteFeatures

NOW = 1_700_000_000.0

NOTES = {
    1: NoteFeatures(1, author_id=100, channel="food", topics=(10,), tags=("noodles",)),
    2: NoteFeatures(2, author_id=100, channel="food", topics=(10, 11), tags=("dumplings",)),
    3: NoteFeatures(3, author_id=200, channel="travel", topics=(20,), tags=("kyoto",)),
    4: NoteFeatures(4, author_id=300, channel="beauty", topics=(30,), tags=("lipstick",)),
    5: NoteFeatures(5, author_id=400, channel="food", topics=(10,), tags=("noodles",)),
    6: NoteFeatures(6, author_id=500, channel="travel", topics=(21,), tags=()),
}


def test_engagement_builds_affinity_and_scores_matching_notes_higher() -> None:
    events = [
        Event(1, 1, "like", NOW - DAY),
        Event(1, 2, "collect", NOW - DAY),
        Event(1, 3, "open", NOW - DAY),
    ]
    p = InterestProfile.build(events, NOTES, NOW)
    assert p.channels["food"] > p.channels["travel"] > 0
    assert p.authors[100] > p.authors.get(200, 0)
    # an unseen food/noodles note from a new author beats travel and beauty
    assert p.score(NOTES[5]) > p.score(NOTES[6]) >= p.score(NOTES[4]) == 0.0
    assert 0 <= p.score(NOTES[1]) <= 1


def test_old_engagement_decays() -> None:
    events = [Event(1, 3, "like", NOW - 60 * DAY)] * 3 + [Event(1, 1, "like", NOW - DAY)]
    p = InterestProfile.build(events, NOTES, NOW, half_life_seconds=7 * DAY)
    assert p.channels["food"] > p.channels["travel"]
    fresh = InterestProfile.build(events, NOTES, NOW - 59 * DAY, half_life_seconds=7 * DAY)
    assert "food" not in fresh.channels  # that like is in the future of this replay
    assert fresh.channels["travel"] > 0


def test_onboarding_seeds_a_new_user() -> None:
    p = InterestProfile.build([], NOTES, NOW, seed_channels=["travel"], seed_topics=[30])
    assert not p.is_empty
    assert p.score(NOTES[3]) > 0 and p.score(NOTES[4]) > 0
    assert p.score(NOTES[1]) == 0.0


def test_not_interested_author_filters_immediately_and_pushes_down() -> None:
    events = [Event(1, 1, "like", NOW), Event(1, 2, "like", NOW), Event(1, 5, "like", NOW)]
    p = InterestProfile.build(events, NOTES, NOW)
    assert p.score(NOTES[1]) > 0
    p.mark_not_interested("author", 100)
    assert p.blocks(NOTES[1]) and p.blocks(NOTES[2])
    assert p.score(NOTES[1]) == BLOCKED_SCORE
    assert p.authors[100] < 0
    assert not p.blocks(NOTES[5]) and p.score(NOTES[5]) > 0


def test_not_interested_topic_and_note() -> None:
    events = [Event(1, 1, "like", NOW), Event(1, 3, "like", NOW)]
    p = InterestProfile.build(events, NOTES, NOW)
    before = p.score(NOTES[5])
    p.mark_not_interested("topic", 10)
    assert p.blocks(NOTES[1]) and p.blocks(NOTES[2]) and p.blocks(NOTES[5])
    assert not p.blocks(NOTES[3])
    p.mark_not_interested("note", 3, features=NOTES[3])
    assert p.blocks(NOTES[3]) and p.score(NOTES[3]) == BLOCKED_SCORE
    assert p.authors[200] < 0  # the note's author is pushed down, not blocked
    assert not p.blocks(NOTES[6])
    assert before > 0
    with pytest.raises(ValueError):
        p.mark_not_interested("channel", 1)  # type: ignore[arg-type]


def test_observe_matches_build() -> None:
    events = [
        Event(1, 1, "like", NOW - 3 * DAY),
        Event(1, 3, "share", NOW - DAY),
        Event(1, 4, "open", NOW),
    ]
    built = InterestProfile.build(events, NOTES, NOW)
    inc = InterestProfile(updated_at=NOW - 10 * DAY)
    for ev in events:
        inc.observe(ev, NOTES[ev.note_id])
    for dim in ("channels", "topics", "tags", "authors"):
        a, b = getattr(built, dim), getattr(inc, dim)
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k])


def test_dict_round_trip_is_json_serialisable() -> None:
    p = InterestProfile.build([Event(1, 1, "like", NOW), Event(1, 3, "collect", NOW)], NOTES, NOW)
    p.mark_not_interested("author", 300)
    p.mark_not_interested("topic", 21)
    p.mark_not_interested("note", 4)
    q = InterestProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert q.channels == p.channels and q.topics == p.topics
    assert q.tags == p.tags and q.authors == p.authors
    assert q.negative_authors == {300} and q.negative_topics == {21} and q.negative_notes == {4}
    for f in NOTES.values():
        assert q.score(f) == p.score(f)


def test_profile_size_is_bounded() -> None:
    notes = {i: NoteFeatures(i, author_id=i, channel=f"c{i}", topics=(i,)) for i in range(1000)}
    events = [Event(1, i, "like", NOW - i) for i in range(1000)]
    p = InterestProfile.build(events, notes, NOW)
    assert len(p.authors) <= p.config.max_keys and len(p.channels) <= p.config.max_keys


def test_score_index_matches_score_including_blocks() -> None:
    import random

    import numpy as np

    from ranking.signals.interest import FeatureIndex

    rng = random.Random(1)
    notes = [
        NoteFeatures(
            i,
            rng.randrange(5),
            rng.choice(["a", "b", "c", None]),
            tuple(rng.sample(range(8), rng.randrange(3))),
            tuple(rng.sample(["x", "y", "z"], rng.randrange(2))),
        )
        for i in range(300)
    ]
    by_id = {f.note_id: f for f in notes}
    events = [Event(1, rng.randrange(300), "like", 100.0 - i) for i in range(40)]
    p = InterestProfile.build(events, by_id, 100.0)
    p.mark_not_interested("topic", 3)
    p.mark_not_interested("author", 2)
    p.mark_not_interested("note", 5)
    got = p.score_index(FeatureIndex.build(notes))
    want = np.array([p.score(f) for f in notes])
    np.testing.assert_allclose(got, want)
    assert (want == -1.0).any()


def test_focus_and_evidence() -> None:
    notes = {i: NoteFeatures(i, 0, ch) for i, ch in enumerate(["a", "b", "c", "d"] * 5)}
    keys = {"channel": 4, "author": 1}
    peaked = InterestProfile.build([Event(1, 0, "like", 0.0), Event(1, 4, "like", 0.0)], notes, 0)
    spread = InterestProfile.build([Event(1, i, "like", 0.0) for i in range(8)], notes, 0)
    assert peaked.focus(keys) == 1.0 and abs(spread.focus(keys)) < 1e-9
    assert peaked.evidence == 2 and spread.evidence == 8
    assert InterestProfile().focus(keys) == 0.0
