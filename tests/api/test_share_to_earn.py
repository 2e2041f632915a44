"""Share to earn (分享赚钱) through the API: a sign-up that arrives through a share link
(`GET /s/{token}`, then `POST /auth/register {share_token}`) is attributed to the sharer
(source `share`), who is paid once the new user's first note passes review, within the daily
cap, never for linked accounts (sharing to oneself) and never for a banned sharer."""

from __future__ import annotations

from typing import Any

from tests.api.test_invites import ban, publish, referral_of, rewards
from tests.conftest import assert_error


def share_token(api, user: str, note_id: int, channel: str = "wechat") -> str:
    response = api.post(f"/notes/{note_id}/share", user, json={"channel": channel})
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["token"]


def test_a_sign_up_through_a_share_link_pays_the_sharer(api):
    from app.accounts.models import User
    from app.core.extensions import db

    api.register("author")
    api.register("sharer")
    note = publish(api, "author", "宝藏咖啡店")["id"]
    token = share_token(api, "sharer", note)
    visit = api.client.get(f"/s/{token}", headers={"Accept": "application/json"})
    assert visit.status_code in (200, 302), visit.get_data(as_text=True)
    api.register("newbie", share_token=token)
    newbie_id = api.users["newbie"]["id"]
    assert db.session.get(User, newbie_id).signup_source == "share"
    referral = referral_of(newbie_id)
    assert referral.referrer_id == api.users["sharer"]["id"] and referral.source == "share"
    assert rewards(api, "sharer") == []  # nothing before the first note
    publish(api, "newbie", "我的第一篇")
    publish(api, "newbie", "第二篇")
    (entry,) = rewards(api, "sharer")
    assert entry["action"] == "share_reward" and entry["delta"] == 30
    assert "@newbie" in entry["reason"]
    assert rewards(api, "author") == []  # the note's author is not the one who brought them
    summary = api.get("/me/referrals/summary", "sharer").get_json()
    assert summary["share"] == {"signups": 1, "rewards": 1, "points": 30}
    assert summary["invite"] == {"signups": 0, "rewards": 0, "points": 0}
    (person,) = api.get("/me/referrals", "sharer").get_json()["items"]
    assert person["source"] == "share" and person["status"] == "rewarded"
    assert person["points"] == 30


def test_an_unknown_share_token_refuses_the_sign_up_and_a_code_wins_over_a_token(api):
    from app.accounts.models import User
    from app.core.extensions import db

    api.register("sharer")
    api.register("inviter")
    note = publish(api, "sharer")["id"]
    token = share_token(api, "sharer", note)
    response = api.client.post(
        "/api/v1/auth/register",
        json={"username": "newbie", "password": "correct horse 1", "share_token": "nope"},
    )
    assert_error(response, 422, "invalid_share_token")
    assert db.session.query(User).filter_by(username="newbie").count() == 0
    code = api.post("/me/invites", "inviter").get_json()["code"]
    api.register("newbie", share_token=token, invite_code=code)
    referral = referral_of(api.users["newbie"]["id"])
    assert referral.source == "invite" and referral.referrer_id == api.users["inviter"]["id"]


def test_share_rewards_are_capped_per_day(api):
    api.register("sharer")
    note = publish(api, "sharer")["id"]
    token = share_token(api, "sharer", note)
    for index in range(4):
        api.register(f"friend{index}", share_token=token)
        publish(api, f"friend{index}")
    assert [e["delta"] for e in rewards(api, "sharer")] == [30] * 3  # 90 a day
    statuses = sorted(referral_of(api.users[f"friend{i}"]["id"]).status for i in range(4))
    assert statuses == ["capped"] + ["rewarded"] * 3


def test_sharing_to_oneself_earns_nothing(api):
    """The sharer's own visits attribute nothing; a second account of the sharer's, found
    and linked by moderation, earns its sharer nothing."""
    from app.core.extensions import db
    from app.notes.models import ShareVisit

    for name in ("sharer", "mod"):
        api.register(name)
    api.grant("mod", "moderator")
    note = publish(api, "sharer")["id"]
    token = share_token(api, "sharer", note)
    own = api.client.get(
        f"/s/{token}", headers={**api.headers("sharer"), "Accept": "application/json"}
    )
    assert own.status_code in (200, 302)
    assert db.session.query(ShareVisit).count() == 1  # the visit is recorded, nothing else
    api.register("sharer_alt", share_token=token)
    ids = [api.users["sharer"]["id"], api.users["sharer_alt"]["id"]]
    linked = api.post(
        "/moderation/account-links", "mod", json={"user_ids": ids, "reason": "同一人"}
    )
    assert linked.status_code == 201, linked.get_json()
    publish(api, "sharer_alt")
    assert rewards(api, "sharer") == []
    assert referral_of(api.users["sharer_alt"]["id"]).status == "ineligible"


def test_a_banned_sharer_or_newcomer_earns_nothing(api):
    for name in ("sharer", "mod", "rep"):
        api.register(name)
    api.grant("mod", "moderator")
    note = publish(api, "sharer")["id"]
    token = share_token(api, "sharer", note)
    api.register("newbie", share_token=token)
    ban(api, "mod", "rep", "sharer")
    publish(api, "newbie")
    assert referral_of(api.users["newbie"]["id"]).status == "pending"
    from app.core.extensions import db
    from app.growth.models import PointsEntry

    paid: Any = db.session.query(PointsEntry).filter_by(action="share_reward").count()
    assert paid == 0
