"""Invites (邀请码) through the API: codes handed out and reused, sign-ups with a valid or a
bad code, the source and inviter recorded, and the inviter's reward: only after the invitee's
first note passes review, once, within the daily cap (also under concurrency), never between
linked accounts or for a banned invitee, clawed back when the invitee is banned later."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from tests.conftest import assert_error

HELD_BODY = "下单戳 www.cheap-shop.com"  # screening holds a note with a link for review


def publish(api, user: str, title: str = "一篇笔记", **fields: Any) -> dict:
    response = api.post("/notes", user, json={"title": title, "status": "published", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ledger(api, user: str) -> list[tuple[str, int]]:
    items = api.get("/me/points?limit=50", user).get_json()["items"]
    return [(e["action"], e["delta"]) for e in items if e["action"] != "task"]


def rewards(api, user: str) -> list[dict]:
    items = api.get("/me/points?limit=50", user).get_json()["items"]
    return [e for e in items if e["action"] in ("invite_reward", "share_reward", "clawback")]


def code_of(api, user: str) -> str:
    response = api.post("/me/invites", user)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["code"]


def referral_of(user_id: int):
    from app.core.extensions import db
    from app.growth.models import Referral

    db.session.expire_all()
    return db.session.query(Referral).filter_by(invitee_id=user_id).one_or_none()


def decide_case(api, moderator: str, target_type: str, target_id: int, **decision: Any) -> dict:
    cases = api.get("/moderation/cases", moderator).get_json()["items"]
    (case,) = [
        c
        for c in cases
        if c["target_type"] == target_type and c["target_id"] == target_id and c["status"] == "open"
    ]
    api.post(f"/moderation/cases/{case['id']}/claim", moderator)
    response = api.post(
        f"/moderation/cases/{case['id']}/decision", moderator, json={"note": "审核", **decision}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ban(api, moderator: str, reporter: str, username: str) -> None:
    user_id = api.users[username]["id"]
    reported = api.post(
        "/reports",
        reporter,
        json={"target_type": "user", "target_id": user_id, "reason_code": "spam_ads.repeated"},
    )
    assert reported.status_code == 201, reported.get_json()
    decide_case(api, moderator, "user", user_id, content="keep", account="ban")


def test_a_code_is_reused_while_it_has_time_left_then_renewed(api):
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.growth.models import InviteCode

    api.register("alice")
    api.register("bob")
    assert_error(api.post("/me/invites"), 401)
    first = api.post("/me/invites", "alice")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["created"] is True and len(body["code"]) == 8 and body["code"].isupper()
    again = api.post("/me/invites", "alice")
    assert again.status_code == 200 and again.get_json()["code"] == body["code"]
    assert again.get_json()["created"] is False
    assert code_of(api, "bob") != body["code"]  # each user has their own
    # A code with less than a week left is not handed out again: a new one is made.
    row = db.session.query(InviteCode).filter_by(code=body["code"]).one()
    row.expires_at = utcnow() + timedelta(days=3)
    db.session.commit()
    renewed = api.post("/me/invites", "alice")
    assert renewed.status_code == 201 and renewed.get_json()["code"] != body["code"]
    listed = api.get("/me/invites", "alice").get_json()
    assert [c["code"] for c in listed["items"]] == [renewed.get_json()["code"], body["code"]]
    assert all(c["signup_count"] == 0 and not c["expired"] for c in listed["items"])


def test_register_with_a_code_records_the_source_and_the_inviter(api):
    from app.accounts.models import User
    from app.core.extensions import db

    api.register("alice")
    code = code_of(api, "alice")
    # What people type: lower case, a dash in the middle.
    api.register("bob", invite_code=f"{code[:4].lower()}-{code[4:].lower()}")
    bob_id = api.users["bob"]["id"]
    assert db.session.get(User, bob_id).signup_source == "invite"
    referral = referral_of(bob_id)
    assert referral.referrer_id == api.users["alice"]["id"] and referral.source == "invite"
    assert referral.status == "pending"
    (listed,) = api.get("/me/invites", "alice").get_json()["items"]
    assert listed["signup_count"] == 1 and listed["reward_count"] == 0
    (person,) = api.get("/me/referrals", "alice").get_json()["items"]
    assert person["user"]["id"] == bob_id and person["status"] == "pending"
    # The typed source loses to the code; without a code the typed source stays.
    api.register("carol", source="ad", invite_code=code)
    api.register("dave", source="qr_offline")
    assert db.session.get(User, api.users["carol"]["id"]).signup_source == "invite"
    assert db.session.get(User, api.users["dave"]["id"]).signup_source == "qr_offline"
    assert referral_of(api.users["dave"]["id"]) is None


def test_an_unknown_or_expired_code_refuses_the_sign_up(api):
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.growth.models import InviteCode

    api.register("alice")
    code = code_of(api, "alice")

    def attempt(invite_code: str) -> Any:
        return api.client.post(
            "/api/v1/auth/register",
            json={"username": "bob", "password": "correct horse 1", "invite_code": invite_code},
        )

    error = assert_error(attempt("NOPE2345"), 422, "invalid_invite_code")
    assert error["details"] == {"field": "invite_code", "reason": "unknown"}
    assert_error(attempt("   "), 422, "invalid_invite_code")
    assert_error(attempt("x" * 33), 400)  # longer than any code: a validation error
    row = db.session.query(InviteCode).filter_by(code=code).one()
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    error = assert_error(attempt(code), 422, "invalid_invite_code")
    assert error["details"]["reason"] == "expired"
    assert db.session.query(User).filter_by(username="bob").count() == 0  # nothing created
    assert api.get("/me/invites", "alice").get_json()["items"][0]["expired"] is True


def test_the_reward_waits_for_a_note_that_passes_review_and_is_paid_once(api):
    from app.core.extensions import db
    from app.notifications.models import Notification

    for name in ("alice", "mod"):
        api.register(name)
    api.grant("mod", "moderator")
    code = code_of(api, "alice")
    api.register("bob", invite_code=code)
    api.register("carol", invite_code=code)
    # A draft, and a note held for review, pay nothing.
    api.post("/notes", "bob", json={"title": "草稿", "status": "draft"})
    held = publish(api, "bob", "好物", body=HELD_BODY)
    assert held["status"] == "pending_review"
    assert rewards(api, "alice") == []
    # A held note that is removed pays nothing either.
    removed = publish(api, "carol", "好物", body=HELD_BODY)
    decide_case(api, "mod", "note", removed["id"], content="remove", account="none")
    assert rewards(api, "alice") == []
    assert referral_of(api.users["carol"]["id"]).status == "pending"
    # The held note passes review: the inviter is paid, with the reason in the ledger.
    decide_case(api, "mod", "note", held["id"], content="keep", account="none")
    (entry,) = rewards(api, "alice")
    assert entry["action"] == "invite_reward" and entry["delta"] == 50
    assert "@bob" in entry["reason"]
    # A second approved note of the same invitee pays nothing more.
    publish(api, "bob", "第二篇")
    publish(api, "bob", "第三篇")
    assert [e["delta"] for e in rewards(api, "alice")] == [50]
    assert api.get("/me/growth", "alice").get_json()["points"] == 50
    referral = referral_of(api.users["bob"]["id"])
    assert referral.status == "rewarded" and referral.rewarded_at is not None
    listed = api.get("/me/invites", "alice").get_json()["items"][0]
    assert (listed["signup_count"], listed["reward_count"], listed["points_earned"]) == (2, 1, 50)
    summary = api.get("/me/referrals/summary", "alice").get_json()
    assert summary["invite"] == {"signups": 2, "rewards": 1, "points": 50}
    assert summary["rules"]["invite"] == {"points": 50, "daily_cap": 200}
    # The inviter hears about it.
    notices = (
        db.session.query(Notification)
        .filter_by(recipient_id=api.users["alice"]["id"], kind="invite_reward")
        .all()
    )
    assert len(notices) == 1 and notices[0].payload["points"] == 50
    # The invitee earns nothing from being invited.
    assert ("invite_reward", 50) not in ledger(api, "bob")


def test_rewards_are_capped_per_day_per_inviter(api):
    api.register("alice")
    code = code_of(api, "alice")
    names = [f"friend{i}" for i in range(5)]
    for name in names:
        api.register(name, invite_code=code)
        publish(api, name)
    paid = [e["delta"] for e in rewards(api, "alice")]
    assert paid == [50] * 4  # 200 a day: the fifth pays nothing (and never will)
    statuses = sorted(referral_of(api.users[n]["id"]).status for n in names)
    assert statuses == ["capped"] + ["rewarded"] * 4
    growth = api.get("/me/growth", "alice").get_json()
    assert growth["points"] == 200 and growth["earned_today"] == 200


def test_linked_accounts_earn_nothing(api):
    for name in ("alice", "mod"):
        api.register(name)
    api.grant("mod", "moderator")
    api.register("alt", invite_code=code_of(api, "alice"))
    ids = [api.users["alice"]["id"], api.users["alt"]["id"]]
    linked = api.post(
        "/moderation/account-links", "mod", json={"user_ids": ids, "reason": "同一设备注册"}
    )
    assert linked.status_code == 201, linked.get_json()
    publish(api, "alt")
    assert rewards(api, "alice") == []
    assert referral_of(api.users["alt"]["id"]).status == "ineligible"
    assert api.get("/me/growth", "alice").get_json()["points"] == 0


def test_a_banned_invitee_pays_nothing_and_a_later_ban_claws_back(api):
    for name in ("alice", "mod", "rep"):
        api.register(name)
    api.grant("mod", "moderator")
    code = code_of(api, "alice")
    api.register("spammer", invite_code=code)
    api.register("bob", invite_code=code)
    # Banned while the note waits for review: approving it afterwards pays nothing.
    held = publish(api, "spammer", "好物", body=HELD_BODY)
    ban(api, "mod", "rep", "spammer")
    decide_case(api, "mod", "note", held["id"], content="keep", account="none")
    assert rewards(api, "alice") == []
    assert referral_of(api.users["spammer"]["id"]).status == "pending"
    # Paid, then the invitee is banned: a reversal entry takes the reward back.
    publish(api, "bob")
    assert [e["delta"] for e in rewards(api, "alice")] == [50]
    ban(api, "mod", "rep", "bob")
    entries = rewards(api, "alice")
    assert [(e["action"], e["delta"]) for e in entries] == [
        ("clawback", -50),
        ("invite_reward", 50),
    ]
    assert "@bob" in entries[0]["reason"]
    assert api.get("/me/growth", "alice").get_json()["points"] == 0
    assert api.get("/me/invites", "alice").get_json()["items"][0]["points_earned"] == 0


def test_a_banned_inviters_code_is_refused(api):
    for name in ("alice", "mod", "rep"):
        api.register(name)
    api.grant("mod", "moderator")
    code = code_of(api, "alice")
    ban(api, "mod", "rep", "alice")
    response = api.client.post(
        "/api/v1/auth/register",
        json={"username": "bob", "password": "correct horse 1", "invite_code": code},
    )
    error = assert_error(response, 422, "invalid_invite_code")
    assert error["details"]["reason"] == "inviter_unavailable"


def test_the_cap_holds_when_invitees_publish_at_once(api, app):
    """Eight invitees publish their first notes at the same moment, each in its own request:
    the inviter's daily cap (200 = 4 rewards) is counted exactly."""
    from app.accounts.models import User
    from app.core.extensions import db
    from app.growth.models import PointsEntry

    api.register("alice")
    code = code_of(api, "alice")
    names = [f"friend{i}" for i in range(8)]
    for name in names:
        api.register(name, invite_code=code)
    headers = {name: api.headers(name) for name in names}
    db.session.commit()
    barrier = threading.Barrier(len(names))
    results: list[Any] = []

    def post(name: str) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait(timeout=30)
                response = client.post(
                    "/api/v1/notes",
                    headers=headers[name],
                    json={"title": f"{name} 的第一篇", "status": "published"},
                )
                results.append((name, response.status_code))
        except Exception as exc:  # surfaced by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=post, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results, key=str) == sorted(((n, 201) for n in names), key=str), results
    db.session.expire_all()
    alice_id = api.users["alice"]["id"]
    entries = db.session.query(PointsEntry).filter_by(user_id=alice_id).all()
    paid = sorted(e.delta for e in entries if e.action == "invite_reward")
    assert paid == [0] * 4 + [50] * 4, paid  # every invitee settled once, four paid
    assert db.session.get(User, alice_id).points == 200
    statuses = sorted(referral_of(api.users[n]["id"]).status for n in names)
    assert statuses == ["capped"] * 4 + ["rewarded"] * 4
