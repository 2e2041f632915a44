"""Recall campaigns: input checks, who may run them, the holdout (deterministic, its share),
delivery (personalised, no double send on rerun, nobody recalled twice in a week, muted users
skipped, scheduled starts) and the report's rates and interval on a constructed example."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.accounts.models import UserActivityDay
from app.core.extensions import db
from app.core.models import utcnow
from app.lifecycle import delivery
from app.lifecycle.jobs import start_due_recall_campaigns
from app.lifecycle.models import RecallCampaign, RecallRecipient, UserLifecycle
from app.notifications.models import Notification
from tests.conftest import assert_error, insert_note


def _staff(api) -> None:
    api.register("boss")
    api.grant("boss", "admin")
    api.register("eddie")
    api.grant("eddie", "editor")
    api.register("plain")


def _in_stage(api, count: int, stage: str = "churned", prefix: str = "lapsed") -> list[int]:
    """Accounts put straight into a stage (the stage rules are tested on their own); their
    tokens are never used, so no visit is recorded for them."""
    ids = []
    for i in range(count):
        user_id = api.register(f"{prefix}_{i}")["id"]
        db.session.add(UserLifecycle(user_id=user_id, stage=stage, since=utcnow()))
        ids.append(user_id)
    db.session.commit()
    return ids


def _create(api, **overrides: Any) -> dict[str, Any]:
    body = {"stage": "churned", "message": "想你了，回来看看新笔记", "holdout_share": 0.2}
    body.update(overrides)
    response = api.post("/admin/recall-campaigns", "boss", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _report(api, campaign_id: int) -> dict[str, Any]:
    response = api.get(f"/admin/recall-campaigns/{campaign_id}", "boss")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _recalls(user_ids: list[int]) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.recipient_id.in_(user_ids), Notification.kind == "recall")
        )
        or 0
    )


OK = {"stage": "churned", "message": "hi", "holdout_share": 0.1}


@pytest.mark.parametrize(
    "body",
    [
        {"stage": "sleeping", "message": "hi", "holdout_share": 0.1},
        {"stage": "churned", "message": "hi", "holdout_share": 0.95},
        {"stage": "churned", "message": "hi", "holdout_share": -0.1},
        {"stage": "churned", "message": "hi", "holdout_share": "lots"},
        {"stage": "churned", "message": "", "holdout_share": 0.1},
        {"stage": "churned", "holdout_share": 0.1},
        {"stage": "churned", "message": "hi"},
        {"stage": "churned", "message": "hi", "holdout_share": 0.1, "starts_at": "tomorrow"},
        {"stage": "churned", "message": "hi", "holdout_share": 0.1, "starts_at": "2030-13-01"},
        # no time zone: ambiguous
        {
            "stage": "churned",
            "message": "hi",
            "holdout_share": 0.1,
            "starts_at": "2030-01-01T10:00",
        },
        {
            "stage": "churned",
            "message": "hi",
            "holdout_share": 0.1,
            "starts_at": "2001-01-01T00:00Z",
        },
        {
            "stage": "churned",
            "message": "hi",
            "holdout_share": 0.1,
            "starts_at": "2999-01-01T00:00Z",
        },
    ],
)
def test_bad_input_is_refused_and_changes_nothing(api, body: dict[str, Any]) -> None:
    _staff(api)
    _in_stage(api, 2)
    assert_error(api.post("/admin/recall-campaigns", "boss", json=body), 400)
    assert db.session.scalar(select(func.count()).select_from(RecallCampaign)) == 0


def test_only_admins_run_and_read_recalls(api) -> None:
    _staff(api)
    body = {"stage": "churned", "message": "hi", "holdout_share": 0.1}
    for who in ("plain", "eddie"):
        assert_error(api.post("/admin/recall-campaigns", who, json=body), 403)
        assert_error(api.get("/admin/recall-campaigns", who), 403)
        assert_error(api.get("/admin/recall-campaigns/1", who), 403)
        assert_error(api.get("/admin/stats/retention", who), 403)
    assert_error(api.post("/admin/recall-campaigns", json=body), 401)
    assert db.session.scalar(select(func.count()).select_from(RecallCampaign)) == 0
    assert_error(api.get("/admin/recall-campaigns/999", "boss"), 404, "campaign_not_found")


def test_holdout_is_deterministic_and_near_its_share() -> None:
    campaign = RecallCampaign(id=7, salt="abc", holdout_share=0.3)
    arms = [delivery.arm_of(campaign, user_id) for user_id in range(1, 5001)]
    assert arms == [delivery.arm_of(campaign, user_id) for user_id in range(1, 5001)]
    share = arms.count("holdout") / len(arms)
    assert abs(share - 0.3) < 0.03  # 5 standard errors (0.0065 each)
    other = RecallCampaign(id=8, salt="abd", holdout_share=0.3)
    assert arms != [delivery.arm_of(other, user_id) for user_id in range(1, 5001)]
    nobody = RecallCampaign(id=9, salt="x", holdout_share=0.0)
    assert {delivery.arm_of(nobody, user_id) for user_id in range(1, 500)} == {"treated"}


def test_delivery_personalised_with_holdout_and_never_twice(api) -> None:
    _staff(api)
    author = api.register("author")["id"]
    notes = [insert_note(author, f"笔记 {i}") for i in range(6)]
    users = _in_stage(api, 40)
    _in_stage(api, 3, stage="active", prefix="happy")  # another stage: not targeted
    campaign = _create(api, holdout_share=0.5)  # delivered inline in embedded mode
    report = _report(api, campaign["id"])
    counts = report["counts"]
    assert counts["targeted"] == 40
    assert counts["treated"] + counts["holdout"] == 40
    assert counts["muted"] == counts["skipped"] == counts["pending"] == 0
    assert 8 <= counts["holdout"] <= 32  # 0.5 ± 3 standard errors of 40 draws
    assert report["status"] == "sent"

    rows = list(db.session.scalars(select(RecallRecipient)))
    stored = db.session.get(RecallCampaign, campaign["id"])
    for row in rows:
        assert row.arm == delivery.arm_of(stored, row.user_id)  # the hash decides the arm
        if row.arm == "treated":
            assert row.status == "sent"
            assert 1 <= len(row.note_ids) <= 3 and set(row.note_ids) <= set(notes)
    treated = [row.user_id for row in rows if row.status == "sent"]
    held = [row.user_id for row in rows if row.status == "holdout"]
    assert _recalls(treated) == len(treated)
    assert _recalls(held) == 0  # the holdout receives nothing

    # Rerunning the delivery (a retried job, the periodic check) sends nothing more.
    db.session.execute(
        RecallCampaign.__table__.update()
        .where(RecallCampaign.id == campaign["id"])
        .values(status="sending")
    )
    db.session.commit()
    assert delivery.run(campaign["id"])["decided"] == 0
    start_due_recall_campaigns()
    assert _recalls(users) == len(treated)
    assert _report(api, campaign["id"])["counts"] == counts


def test_nobody_is_recalled_twice_in_a_week(api) -> None:
    _staff(api)
    users = _in_stage(api, 10)
    first = _create(api, holdout_share=0.0)
    assert _report(api, first["id"])["counts"]["treated"] == 10
    second = _create(api, holdout_share=0.0, message="再来一次")
    counts = _report(api, second["id"])["counts"]
    assert counts["treated"] == 0 and counts["skipped"] == 10
    assert _report(api, second["id"])["skipped_by_reason"] == {"recently_recalled": 10}
    assert _recalls(users) == 10

    # Eight days later they may be recalled again.
    db.session.execute(
        UserLifecycle.__table__.update().values(last_recalled_at=utcnow() - timedelta(days=8))
    )
    db.session.commit()
    third = _create(api, holdout_share=0.0, message="第三次")
    assert _report(api, third["id"])["counts"]["treated"] == 10
    assert _recalls(users) == 20


def test_a_scheduled_campaign_waits_for_its_start(api) -> None:
    _staff(api)
    users = _in_stage(api, 5)
    starts = utcnow() + timedelta(hours=2)
    campaign = _create(api, holdout_share=0.0, starts_at=starts.isoformat())
    assert campaign["status"] == "scheduled" and campaign["counts"]["targeted"] == 0
    start_due_recall_campaigns()
    assert _recalls(users) == 0
    assert delivery.run(campaign["id"], now=starts + timedelta(seconds=1))["decided"] == 5
    assert _recalls(users) == 5
    listed = api.get("/admin/recall-campaigns", "boss").get_json()
    assert [item["id"] for item in listed["items"]] == [campaign["id"]]
    assert listed["items"][0]["counts"]["treated"] == 5


def test_muted_users_are_skipped(api) -> None:
    _staff(api)
    users = _in_stage(api, 4)
    response = api.put("/me/notification-settings", "lapsed_0", json={"muted_types": ["recall"]})
    if response.status_code in (404, 405):
        pytest.skip("notification settings (another part of issue 19) are not there yet")
    assert response.status_code == 200, response.get_json()
    campaign = _create(api, holdout_share=0.0)
    counts = _report(api, campaign["id"])["counts"]
    assert counts["muted"] == 1 and counts["treated"] == 3
    assert _recalls(users[:1]) == 0 and _recalls(users[1:]) == 3
    # Muted is not recalled: a campaign next week finds them as muted again, not as recent.
    last = db.session.scalar(
        select(UserLifecycle.last_recalled_at).where(UserLifecycle.user_id == users[0])
    )
    assert last is None


def test_report_rates_and_interval_on_a_constructed_example(api) -> None:
    """Treated 9 of 10 returned, holdout 3 of 10: difference 0.6, Newcombe's 95% interval
    0.1705 to 0.8090 (Newcombe 1998's method 10 on these counts)."""
    _staff(api)
    users = _in_stage(api, 20)
    now = utcnow()
    sent_at = now - timedelta(days=10)
    campaign = RecallCampaign(
        stage="churned",
        title="t",
        message="m",
        holdout_share=0.5,
        salt="s",
        status="sent",
        starts_at=sent_at,
        targeted_at=sent_at,
        finished_at=sent_at,
    )
    db.session.add(campaign)
    db.session.flush()
    sent_day = sent_at.date()
    for i, user_id in enumerate(users):
        treated = i < 10
        db.session.add(
            RecallRecipient(
                campaign_id=campaign.id,
                user_id=user_id,
                arm="treated" if treated else "holdout",
                status="sent" if treated else "holdout",
                decided_at=sent_at,
                note_ids=[],
            )
        )
        returned = i < 9 if treated else i < 13
        if returned:  # the window's first and last days count
            day = sent_day + timedelta(days=1 if i % 2 else 7)
            db.session.add(UserActivityDay(user_id=user_id, day=day))
        else:  # the send's own day and the day after the window do not
            db.session.add(UserActivityDay(user_id=user_id, day=sent_day))
            db.session.add(UserActivityDay(user_id=user_id, day=sent_day + timedelta(days=8)))
    db.session.commit()
    report = _report(api, campaign.id)
    assert report["counts"]["treated"] == 10 and report["counts"]["holdout"] == 10
    returns = report["returns"]
    assert returns["treated"]["returned"] == 9 and returns["treated"]["rate"] == 0.9
    assert returns["holdout"]["returned"] == 3 and returns["holdout"]["rate"] == 0.3
    assert returns["difference"] == pytest.approx(0.6)
    assert returns["interval"]["low"] == pytest.approx(0.1705, abs=1e-4)
    assert returns["interval"]["high"] == pytest.approx(0.8090, abs=1e-4)
    assert returns["interval"]["method"] == "newcombe_wilson"
    assert returns["treated"]["interval"]["low"] == pytest.approx(0.5958, abs=1e-4)  # Wilson
    assert returns["complete"] is True and returns["window_days"] == 7
