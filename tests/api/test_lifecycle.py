"""Lifecycle stages: the rules at their boundaries, the daily recompute (idempotent, batched),
`GET /admin/lifecycle` counts by stage and sign-up source, and who may see them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from app.accounts.models import User, UserActivityDay
from app.core.extensions import db
from app.core.models import utcnow
from app.lifecycle import stages
from app.lifecycle.config import LifecycleConfig
from app.lifecycle.models import UserLifecycle
from app.schedule import periodic_job_definitions
from tests.conftest import assert_error

TODAY = date(2026, 6, 30)


def _ago(days: int) -> date:
    return TODAY - timedelta(days=days)


@pytest.mark.parametrize(
    ("signed_up", "visits", "stage"),
    [
        (6, [], "new"),  # signed up within 7 days
        (0, [], "new"),
        (7, [], "active"),  # 7 days: no longer new; no visit, the sign-up day counts
        (7, [0], "active"),
        (60, [40, 13], "active"),  # last visit 13 days ago
        (60, [40, 14], "at_risk"),  # 14 days: at risk
        (60, [40, 29], "at_risk"),
        (60, [30], "churned"),  # 30 days: churned
        (60, [45, 30], "churned"),
        (13, [], "active"),
        (14, [], "at_risk"),  # never visited after signing up 14 days ago
        (30, [], "churned"),
        # came back after 30+ days away: returned, for 14 days
        (90, [60, 30], "churned"),  # last visit 30 days ago
        (90, [50, 13], "returned"),  # away 37 days, back 13 days ago
        (90, [50, 14], "at_risk"),  # back 14 days ago, not since: returned no more
        (90, [42, 13], "active"),  # away 29 days: never churned
        (90, [43, 13], "returned"),  # away exactly 30 days
        (90, [50, 13, 2], "returned"),  # visits since the return keep it returned
        (45, [3], "returned"),  # never visited for 42 days after signing up, then did
    ],
)
def test_stage_rules_at_their_boundaries(signed_up: int, visits: list[int], stage: str) -> None:
    got = stages.classify(TODAY, _ago(signed_up), [_ago(days) for days in visits])
    assert got == stage


def test_rules_come_from_configuration() -> None:
    strict = LifecycleConfig(new_days=1, at_risk_after_days=3, churned_after_days=5)
    assert stages.classify(TODAY, _ago(10), [_ago(3)], strict) == "at_risk"
    assert stages.classify(TODAY, _ago(10), [_ago(5)], strict) == "churned"
    assert stages.classify(TODAY, _ago(10), [_ago(3)]) == "active"
    short = LifecycleConfig(returned_days=7)
    assert stages.classify(TODAY, _ago(90), [_ago(50), _ago(6)], short) == "returned"
    assert stages.classify(TODAY, _ago(90), [_ago(50), _ago(7)], short) == "active"


def test_the_daily_job_is_scheduled_once_a_day() -> None:
    jobs = {job.name: job for job in periodic_job_definitions()}
    assert jobs["recompute_lifecycle"].interval_seconds == 86_400


def _user(api, name: str, *, signed_up: int, visits: list[int], source: str | None = None) -> int:
    extra = {"source": source} if source else {}
    user_id = api.register(name, **extra)["id"]
    now = utcnow()
    db.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(created_at=now - timedelta(days=signed_up, hours=1))
    )
    for days in visits:
        db.session.add(UserActivityDay(user_id=user_id, day=(now - timedelta(days=days)).date()))
    db.session.commit()
    return user_id


def _staff(api) -> None:
    api.register("boss")
    api.grant("boss", "admin")
    api.register("eddie")
    api.grant("eddie", "editor")
    api.register("plain")


def _rows() -> dict[int, tuple[str, datetime, str | None]]:
    db.session.expire_all()
    return {
        row.user_id: (row.stage, row.since, row.previous_stage)
        for row in db.session.scalars(select(UserLifecycle))
    }


def test_recompute_is_idempotent_and_batched(api) -> None:
    _staff(api)
    ids = {
        "newbie": _user(api, "newbie", signed_up=2, visits=[]),
        "regular": _user(api, "regular", signed_up=40, visits=[35, 20, 3, 1]),
        "fading": _user(api, "fading", signed_up=40, visits=[30, 20]),
        "gone": _user(api, "gone", signed_up=80, visits=[45]),
        "back": _user(api, "back", signed_up=80, visits=[60, 2]),
    }
    small = LifecycleConfig(recompute_batch=2)
    first = stages.recompute(config=small)
    assert first["changed"] == first["users"] == 8  # the three staff too
    rows = _rows()
    assert {name: rows[uid][0] for name, uid in ids.items()} == {
        "newbie": "new",
        "regular": "active",
        "fading": "at_risk",
        "gone": "churned",
        "back": "returned",
    }
    again = stages.recompute(config=small)
    assert again["changed"] == 0
    assert again["stages"] == first["stages"]
    assert _rows() == rows  # same stage, same `since`, same previous stage

    # As if the regular's last visits had not happened: last seen 20 days ago, at risk.
    db.session.execute(
        delete(UserActivityDay).where(
            UserActivityDay.user_id == ids["regular"],
            UserActivityDay.day > utcnow().date() - timedelta(days=10),
        )
    )
    db.session.commit()
    moved = stages.recompute(config=small)
    assert moved["changed"] == 1
    stage, since, previous = _rows()[ids["regular"]]
    assert (stage, previous) == ("at_risk", "active")
    assert since > rows[ids["regular"]][1]


def test_counts_by_stage_and_source(api) -> None:
    _staff(api)
    _user(api, "user_a1", signed_up=2, visits=[], source="invite")
    _user(api, "user_a2", signed_up=40, visits=[25, 1], source="invite")
    _user(api, "user_a3", signed_up=40, visits=[25, 1], source="ads")
    _user(api, "user_a4", signed_up=80, visits=[40], source="ads")
    _user(api, "user_a5", signed_up=80, visits=[40])
    before = api.get("/admin/lifecycle", "boss").get_json()
    assert before["users"] == 0 and before["unclassified"] == 8 and before["computed_at"] is None

    assert api.post("/admin/lifecycle/recompute", "boss").status_code == 200
    body = api.get("/admin/lifecycle", "eddie").get_json()
    # boss, eddie and plain signed up just now: new
    assert body["stages"] == {"new": 4, "active": 2, "at_risk": 0, "churned": 2, "returned": 0}
    assert body["users"] == 8 and body["unclassified"] == 0
    by_source = {row["source"]: row for row in body["by_source"]}
    assert by_source["invite"]["stages"]["new"] == 1
    assert by_source["invite"]["stages"]["active"] == 1
    assert by_source["ads"]["stages"] == {
        "new": 0,
        "active": 1,
        "at_risk": 0,
        "churned": 1,
        "returned": 0,
    }
    assert by_source[None]["users"] == 4 and by_source[None]["stages"]["churned"] == 1
    assert body["rules"]["churned_after_days"] == 30


def test_official_accounts_have_no_stage(api) -> None:
    _staff(api)
    official = _user(api, "brand", signed_up=100, visits=[])
    db.session.execute(update(User).where(User.id == official).values(official=True))
    db.session.commit()
    stages.recompute()
    assert official not in _rows()


def test_who_may_see_and_recompute(api) -> None:
    _staff(api)
    assert_error(api.get("/admin/lifecycle"), 401)
    assert_error(api.get("/admin/lifecycle", "plain"), 403)
    assert api.get("/admin/lifecycle", "eddie").status_code == 200  # editors plan with it
    assert_error(api.post("/admin/lifecycle/recompute", "eddie"), 403)
    assert_error(api.post("/admin/lifecycle/recompute", "plain"), 403)
    assert api.post("/admin/lifecycle/recompute", "boss").status_code == 200
