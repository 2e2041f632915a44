"""The feeds' per-process caches: the feature cache reads each missing note once, serves
it until it expires, remembers notes that are gone, and keeps at most its size."""

from __future__ import annotations

from typing import Any

import pytest

from app.feeds import caches
from ranking.types import NoteFeatures


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> tuple[list[list[int]], Clock]:
    """Every `note_features` call's ids; notes with ids above 100 do not exist."""
    calls: list[list[int]] = []
    clock = Clock()

    def note_features(ids: Any) -> dict[int, NoteFeatures]:
        calls.append(sorted(ids))
        return {i: NoteFeatures(i, author_id=i * 10, channel="food") for i in ids if i <= 100}

    monkeypatch.setattr(caches, "note_features", note_features)
    monkeypatch.setattr(caches.time, "monotonic", clock)
    return calls, clock


def test_each_missing_note_is_read_once_until_it_expires(loads: Any) -> None:
    calls, clock = loads
    cache = caches.FeatureCache(ttl_seconds=300, size=100)
    assert set(cache([1, 2, 200])) == {1, 2}
    assert set(cache([2, 1, 3, 200])) == {1, 2, 3}  # 200 is remembered as gone
    assert calls == [[1, 2, 200], [3]]
    assert cache([1])[1].author_id == 10
    clock.t += 301
    assert set(cache([1, 3])) == {1, 3}
    assert calls[-1] == [1, 3]


def test_past_its_size_the_oldest_entries_go_first(loads: Any) -> None:
    calls, clock = loads
    cache = caches.FeatureCache(ttl_seconds=300, size=3)
    cache([1, 2])
    clock.t += 1
    cache([3, 4])  # four entries, three kept: 1, the oldest, goes
    calls.clear()
    assert set(cache([2, 3, 4])) == {2, 3, 4} and calls == []
    cache([1])  # read again; now 2 is the oldest and goes
    assert calls == [[1]]
    cache([2])
    assert calls == [[1], [2]]


def test_without_caching_every_call_reads(loads: Any) -> None:
    calls, clock = loads
    cache = caches.FeatureCache(ttl_seconds=0, size=100)
    cache([1])
    clock.t += 0.01
    cache([1])
    assert calls == [[1], [1]]
