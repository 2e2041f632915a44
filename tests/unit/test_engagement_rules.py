"""The bought-engagement rules' pure parts (`moderation.engagement`): the sliding burst
window, "other activity" and who counts as engaging together. The rules against a database
are tests/api/test_fake_engagement.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moderation.config import ENGAGEMENT, EngagementRule
from moderation.engagement import _Account, _bursts, _other_activity, _together

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TEN = EngagementRule(10, timedelta(minutes=10))


def rows(minutes: list[float]) -> list[tuple[int, datetime]]:
    return [(i, T0 + timedelta(minutes=m)) for i, m in enumerate(minutes)]


def test_ten_within_ten_minutes_is_a_burst_and_nine_is_not():
    assert _bursts(rows([i * 0.5 for i in range(10)]), TEN) == set(range(10))
    assert _bursts(rows([i * 0.5 for i in range(9)]), TEN) == set()


def test_ten_spread_over_more_than_ten_minutes_is_not_a_burst():
    assert _bursts(rows([i * 1.2 for i in range(10)]), TEN) == set()  # 10.8 minutes


def test_only_the_rows_inside_a_burst_are_caught():
    early = [0.0, 30.0]  # two lone likes well before
    burst = [60 + i * 0.2 for i in range(10)]
    late = [200.0]
    caught = _bursts(rows(early + burst + late), TEN)
    assert caught == set(range(2, 12))


def test_the_window_edge_is_inclusive():
    assert _bursts(rows([0.0] * 9 + [10.0]), TEN) == set(range(10))


def test_other_activity_leaves_out_the_engagement_on_the_target():
    account = _Account(1, "a", T0, items=[("like", 7), ("collect", 7), ("follow", 3)])
    assert _other_activity(account, "like", "note", 7, owner=3) == 0  # all about note 7
    account.items = [("like", 7), ("like", 8), ("note", 99)]
    assert _other_activity(account, "like", "note", 7, owner=3) == 2
    assert _other_activity(account, "follow", "user", 3, owner=3) == 3
    assert _other_activity(_Account(2, "b", T0, items=None), "like", "note", 7, 3) is None


def test_together_needs_enough_accounts_within_the_span():
    n = ENGAGEMENT.ring_min_accounts
    close = {i: T0 + timedelta(minutes=i) for i in range(n)}
    assert _together(close, ENGAGEMENT) == set(range(n))
    apart = {i: T0 + timedelta(hours=2 * i) for i in range(n)}
    assert _together(apart, ENGAGEMENT) == set()
