"""The experiment report's statistics, and the arm carried by buffered impressions."""

from __future__ import annotations

import uuid

import numpy as np
import orjson
import redis as redis_lib

from app.experiments import serving, stats
from ranking.store import MemoryFeedStore, RedisFeedStore
from ranking.types import Impression


def _viewers(rng: np.random.Generator, n: int, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """Viewers who differ: each has their own engagement rate (Beta with the given mean) and
    their own number of impressions, as real traffic does."""
    impressions = rng.integers(1, 30, n)
    rates = rng.beta(2.0, 2.0 * (1 - mean) / mean, n)
    return rng.binomial(impressions, rates).astype(float), impressions.astype(float)


def test_the_viewer_clustered_interval_covers_the_true_rate_where_wilson_does_not():
    rng = np.random.default_rng(11)
    trials, covered, wilson_covered = 200, 0, 0
    for seed in range(trials):
        engagements, impressions = _viewers(rng, 80, 0.1)
        interval = stats.rate_interval(engagements, impressions, seed=seed)
        assert interval is not None and interval.low <= engagements.sum() / impressions.sum()
        covered += interval.low <= 0.1 <= interval.high
        wilson = stats.wilson_interval(int(engagements.sum()), int(impressions.sum()))
        assert wilson is not None
        wilson_covered += wilson.low <= 0.1 <= wilson.high
    # 95% nominal: 200 trials put the observed coverage within about ±3 points of it.
    assert 0.9 <= covered / trials <= 0.99, covered
    # Treating impressions as independent is overconfident when viewers differ.
    assert wilson_covered / trials < 0.9, wilson_covered


def test_difference_interval_finds_a_real_difference_and_not_a_false_one():
    rng = np.random.default_rng(5)
    control = _viewers(rng, 300, 0.1)
    better = _viewers(rng, 300, 0.15)
    same = _viewers(rng, 300, 0.1)
    up = stats.difference_interval(*better, *control, seed=1)
    assert up is not None and 0 < up.low <= 0.05 <= up.high
    flat = stats.difference_interval(*same, *control, seed=1)
    assert flat is not None and flat.low < 0 < flat.high


def test_degenerate_inputs_give_no_interval_rather_than_a_wrong_one():
    assert stats.rate_interval(np.array([1.0]), np.array([3.0])) is None
    assert stats.difference_interval(np.ones(3), np.ones(3), np.ones(1), np.ones(1)) is None
    assert stats.wilson_interval(0, 0) is None
    nothing = stats.rate_interval(np.zeros(5), np.full(5, 4.0))
    assert nothing is not None and nothing.low == nothing.high == 0.0


def test_buckets_are_uniform_and_independent_between_experiments():
    keys = [str(n) for n in range(20_000)]
    first = np.array([serving.bucket(1, "salt-a", k) for k in keys])
    second = np.array([serving.bucket(2, "salt-b", k) for k in keys])
    assert first.min() >= 0 and first.max() < 1
    assert abs(first.mean() - 0.5) < 0.01 and abs((first < 0.1).mean() - 0.1) < 0.01
    # Who is in the first 30% of one experiment says nothing about the other.
    assert abs(((first < 0.3) & (second < 0.3)).mean() - 0.09) < 0.01


def test_impressions_keep_their_arm_through_the_buffers(redis_url):
    memory = MemoryFeedStore()
    memory.record_impressions([Impression(1, 2, "hot", 1.0, 7), (None, 3, "cf", 2.0)])
    assert memory.take_impressions("b1", 5) == [
        Impression(1, 2, "hot", 1.0, 7),
        Impression(None, 3, "cf", 2.0, None),
    ]
    client = redis_lib.Redis.from_url(redis_url)
    prefix = f"test:experiments:{uuid.uuid4().hex}:"
    store = RedisFeedStore(client, prefix)
    try:
        store.record_impressions([Impression(1, 2, "hot", 1.0, 7)])
        # a row buffered by a process from before the arm existed: four fields
        client.rpush(store.impressions_key, orjson.dumps([4, 5, "pick", 3.0]))
        assert store.take_impressions("b1", 5) == [
            Impression(1, 2, "hot", 1.0, 7),
            Impression(4, 5, "pick", 3.0, None),
        ]
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
