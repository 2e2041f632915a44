"""Retention cohorts: weekly (ISO week) sign-up cohorts and the share of each with a visit
in every later week, overall and by sign-up source, on constructed activity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from app.accounts.models import User, UserActivityDay
from app.core.extensions import db
from app.core.models import utcnow
from app.lifecycle import services
from tests.conftest import assert_error

TODAY = date(2026, 6, 24)  # a Wednesday of ISO week 2026-W26
MONDAY = date(2026, 6, 22)


def _user(api, name: str, signed_up: date, visits: list[date], source: str | None) -> None:
    extra = {"source": source} if source else {}
    user_id = api.register(name, **extra)["id"]
    created = datetime.combine(signed_up, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    db.session.execute(update(User).where(User.id == user_id).values(created_at=created))
    for day in visits:
        db.session.add(UserActivityDay(user_id=user_id, day=day))
    db.session.commit()


def _build(api) -> None:
    api.register("boss")
    api.grant("boss", "admin")
    db.session.execute(  # the admin signed up long ago: in no cohort
        update(User).values(created_at=utcnow() - timedelta(days=400))
    )
    db.session.commit()
    w24, w25 = MONDAY - timedelta(weeks=2), MONDAY - timedelta(weeks=1)
    # cohort W24 (3 users): week 0 all three, week 1 two, week 2 one
    _user(api, "cohort_a", w24, [w24, w25 + timedelta(days=2), MONDAY], "invite")
    _user(api, "cohort_b", w24 + timedelta(days=3), [w24 + timedelta(days=4), w25], "ads")
    _user(api, "cohort_c", w24 + timedelta(days=6), [w24 + timedelta(days=6)], "ads")
    # cohort W25 (1 user), visiting twice in week 1 (counted once)
    _user(api, "cohort_d", w25, [MONDAY, MONDAY + timedelta(days=1)], "invite")
    # signed up 10 weeks ago: outside 8 weeks
    _user(api, "cohort_old", MONDAY - timedelta(weeks=10), [MONDAY], "ads")


def test_weekly_cohorts(api) -> None:
    _build(api)
    boss = db.session.get(User, api.users["boss"]["id"])
    body = services.retention(boss, None, 3, today=TODAY)
    assert body["weeks"] == 3
    rows = {row["week"]: row for row in body["cohorts"]}
    assert set(rows) == {"2026-W24", "2026-W25"}
    assert rows["2026-W24"]["users"] == 3
    assert rows["2026-W24"]["active"] == [3, 2, 1]
    assert rows["2026-W24"]["retention"] == [1.0, 0.6667, 0.3333]
    assert rows["2026-W24"]["starts_on"] == date(2026, 6, 8)
    assert rows["2026-W25"]["active"] == [0, 1]
    assert "source" not in rows["2026-W24"]


def test_cohorts_by_source(api) -> None:
    _build(api)
    boss = db.session.get(User, api.users["boss"]["id"])
    body = services.retention(boss, "source", 3, today=TODAY)
    rows = {(row["week"], row["source"]): row for row in body["cohorts"]}
    assert rows[("2026-W24", "ads")]["users"] == 2
    assert rows[("2026-W24", "ads")]["active"] == [2, 1, 0]
    assert rows[("2026-W24", "invite")]["active"] == [1, 1, 1]
    assert rows[("2026-W25", "invite")]["active"] == [0, 1]
    wide = services.retention(boss, "source", 12, today=TODAY)
    assert any(row["week"] == "2026-W16" for row in wide["cohorts"])  # the older sign-up


def test_the_route_and_its_bounds(api) -> None:
    api.register("boss")
    api.grant("boss", "admin")
    api.register("plain")
    response = api.get("/admin/stats/retention?by=source&weeks=4", "boss")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["by"] == "source" and body["weeks"] == 4
    assert sum(row["users"] for row in body["cohorts"]) == 2  # both signed up this week
    for bad in ("weeks=0", "weeks=27", "weeks=many", "by=country"):
        assert_error(api.get(f"/admin/stats/retention?{bad}", "boss"), 400)
    assert_error(api.get("/admin/stats/retention", "plain"), 403)
