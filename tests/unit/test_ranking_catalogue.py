"""A prepared catalogue is only a faster way to the same pages: every card, score, source and
component must equal what the pipeline computes without it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ranking.catalogue import PreparedCatalogue
from ranking.config import HOUR, RANKING
from ranking.context import RequestContext
from ranking.pipeline import build_pipeline
from ranking.signals.exploration import PoolArrays, TrafficPool, jitter, jitter_array
from ranking.signals.interest import InterestProfile, key_counts
from ranking.signals.itemcf import ItemCF
from ranking.types import Event, NoteFeatures

NOW = 1_700_000_000.0
CHANNELS = ("food", "travel", "beauty", "home", "fashion")


def catalogue(n: int, seed: int) -> dict[int, NoteFeatures]:
    rng = random.Random(seed)
    notes = {}
    for i in range(1, n + 1):
        new = rng.random() < 0.3
        notes[i] = NoteFeatures(
            note_id=i,
            author_id=1000 + rng.randrange(60),
            channel=rng.choice(CHANNELS),
            topics=tuple(rng.sample(range(30), rng.randint(0, 2))),
            tags=tuple(f"t{t}" for t in rng.sample(range(40), rng.randint(0, 3))),
            published_at=NOW - (rng.uniform(0.5, 90) if new else rng.uniform(100, 3000)) * HOUR,
            likes=rng.randint(0, 300),
            collects=rng.randint(0, 50),
            comments=rng.randint(0, 30),
            # some equally starved notes (jitter decides), some judged, some spent
            impressions=rng.choice([0, 0, 10, 60, 200, 600, rng.randint(0, 5000)]),
        )
    return notes


def contexts(notes: dict[int, NoteFeatures], seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    ids = list(notes)
    events = [
        Event(
            7,
            n,
            rng.choice(["like", "collect", "open", "comment"]),
            NOW - rng.uniform(1, 900) * HOUR,
        )
        for n in rng.sample(ids, 25)
    ]
    profile = InterestProfile.build(events, notes, NOW, seed_channels=["food"])
    profile.mark_not_interested("author", notes[ids[3]].author_id)
    profile.mark_not_interested("topic", 5)
    training = [
        Event(u, n, "like", NOW - rng.uniform(1, 500) * HOUR)
        for u in range(200)
        for n in rng.sample(ids, 12)
    ]
    cf = ItemCF().fit(training, now=NOW)
    recent = [(e.note_id, 1.0) for e in events[:10]]
    hot = {n: float(f.likes + 4 * f.comments) * rng.random() for n, f in notes.items()}
    base = {"user_id": 7, "now": NOW + 600, "hot": hot, "rng_seed": "s"}
    return [
        {**base, "user_id": None, "profile": None},  # cold start
        {**base, "profile": profile, "recent": recent, "cf": cf},
        {
            **base,
            "profile": profile,
            "recent": recent,
            "cf": cf,
            "following": {notes[ids[0]].author_id, notes[ids[9]].author_id},
            "engaged": {e.note_id for e in events},
            "seen": set(rng.sample(ids, 40)),
            "recently_served": set(rng.sample(ids, 300)),  # forces the short-page restore
            "hidden_notes": {ids[1]},
            "history": ids[20:29],
        },
    ]


def run(
    notes: dict[int, NoteFeatures],
    spec: dict[str, object],
    channel: str | None,
    prepared: PreparedCatalogue | None,
) -> list[tuple[int, float, str, dict[str, float]]]:
    kw = {k: v for k, v in spec.items() if k != "rng_seed"}
    feed_notes = (
        notes if channel is None else {n: f for n, f in notes.items() if f.channel == channel}
    )
    if prepared is not None and channel is None:
        feed_notes = prepared.notes  # the service hands the prepared mapping itself
    ctx = RequestContext(
        feed="channel" if channel else "discover",
        channel=channel,
        notes=feed_notes,
        rng=random.Random(str(spec["rng_seed"])),
        hydrate=lambda ids: {i: notes[i] for i in ids if i in notes},
        prepared=prepared,
        **kw,  # type: ignore[arg-type]
    )
    result = build_pipeline(ctx.feed).run(ctx, 30)
    return [(s.note_id, round(s.score, 12), s.source, s.components) for s in result.items]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("channel", [None, "food"])
def test_prepared_pages_equal_computed_pages(seed: int, channel: str | None) -> None:
    notes = catalogue(600, seed)
    for spec in contexts(notes, seed):
        prepared = PreparedCatalogue.build(
            notes,
            spec["hot"],
            NOW,
            TrafficPool(RANKING.exploration),  # type: ignore[arg-type]
        )
        want = run(notes, spec, channel, None)
        got = run(notes, spec, channel, prepared)
        assert len(want) >= 20
        assert got == want


def test_jitter_is_the_same_scalar_or_vectorised_and_uniform() -> None:
    ids = np.arange(1, 20_001, dtype=np.int64)
    salt = random.Random(3).getrandbits(63)
    vec = jitter_array(salt, ids)
    assert [jitter(salt, int(i)) for i in ids[:500]] == vec[:500].tolist()
    assert vec.min() >= 0.0 and vec.max() < 1.0
    assert abs(vec.mean() - 0.5) < 0.01
    assert np.histogram(vec, bins=10, range=(0, 1))[0].min() > 1800  # near-uniform deciles


def test_pool_arrays_candidates_match_the_scan() -> None:
    notes = catalogue(800, 9)
    pool = TrafficPool(RANKING.exploration)
    in_pool = [f for f in notes.values() if pool.state(f, NOW) == "pool"]
    arrays = PoolArrays.build(in_pool, pool.config)
    later = NOW + 30 * HOUR  # some have aged out since
    for k in (1, 10, 30, 500):
        assert pool.candidates_from(arrays, later, k, random.Random(4)) == pool.candidates(
            notes.values(), later, k, random.Random(4)
        )


def test_key_counts_with_extra_notes() -> None:
    notes = catalogue(300, 4)
    prepared = PreparedCatalogue.build(notes, {}, NOW, TrafficPool(RANKING.exploration))
    extra = catalogue(20, 5)
    extra = {n + 10_000: f for n, f in extra.items()}
    assert prepared.key_counts(extra.values()) == key_counts([*notes.values(), *extra.values()])
