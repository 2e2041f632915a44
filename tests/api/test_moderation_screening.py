"""Automated checks before content appears: every comment, and new accounts' notes."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import assert_error


def setup(api):
    api.register("author")
    api.register("fan")
    api.register("mod")
    api.grant("mod", "moderator")
    api.post(
        "/moderation/keywords",
        "mod",
        json={"word": "刷单", "action": "block", "category": "spam_ads"},
    )
    note = api.post("/notes", "author", json={"title": "露营清单", "status": "published"})
    return note.get_json()["id"]


def comments(api, note_id, as_user=None):
    return [c["id"] for c in api.get(f"/notes/{note_id}/comments", as_user).get_json()["items"]]


def test_flagged_comments_wait_for_a_moderator(api):
    note_id = setup(api)
    held = api.post(
        f"/notes/{note_id}/comments", "fan", json={"body": "私聊加我 vx: camp_2024 便宜"}
    )
    assert held.status_code == 201, held.get_json()
    assert held.get_json()["status"] == "pending_review"
    assert comments(api, note_id) == []
    assert api.get(f"/notes/{note_id}").get_json()["comment_count"] == 0
    (case,) = api.get("/moderation/cases", "mod").get_json()["items"]
    assert case["target_type"] == "comment" and case["reason_code"] == "spam_ads.evasion"
    decision = api.post(
        f"/moderation/cases/{case['id']}/decision",
        "mod",
        json={"content": "keep", "account": "none"},
    )
    assert decision.status_code == 200, decision.get_json()
    assert comments(api, note_id) == [held.get_json()["id"]]
    assert api.get(f"/notes/{note_id}").get_json()["comment_count"] == 1
    ordinary = api.post(f"/notes/{note_id}/comments", "fan", json={"body": "清单很实用，谢谢分享"})
    assert ordinary.get_json()["status"] == "published"


def test_blocked_comments_are_refused_and_change_nothing(api):
    note_id = setup(api)
    refused = api.post(f"/notes/{note_id}/comments", "fan", json={"body": "刷.单.返.利 日结"})
    error = assert_error(refused, 422, "content_blocked")
    assert error["details"] == {"category": "spam_ads"}
    assert comments(api, note_id) == []
    assert api.get("/moderation/cases", "mod").get_json()["items"] == []


def test_new_accounts_notes_are_screened_older_ones_are_not(api):
    setup(api)
    held = api.post(
        "/notes",
        "fan",
        json={"title": "好物推荐", "body": "下单戳 www.cheap-shop.com", "status": "published"},
    ).get_json()
    assert held["status"] == "pending_review"
    assert_error(api.get(f"/notes/{held['id']}", "author"), 404)
    assert api.get(f"/notes/{held['id']}", "fan").get_json()["status"] == "pending_review"
    assert_error(
        api.post("/notes", "fan", json={"title": "刷单 兼职", "status": "published"}),
        422,
        "content_blocked",
    )
    from app.extensions import db
    from app.models import User, utcnow

    db.session.get(User, api.users["fan"]["id"]).created_at = utcnow() - timedelta(days=30)
    db.session.commit()
    settled = api.post(
        "/notes",
        "fan",
        json={"title": "好物推荐", "body": "官网 www.cheap-shop.com", "status": "published"},
    ).get_json()
    assert settled["status"] == "published"  # older accounts are not held back


def test_the_same_text_from_several_accounts_is_held(api):
    note_id = setup(api)
    spam = "夏季清仓特卖，全场三折，私信领取优惠券"
    for user in ("bot1", "bot2"):
        api.register(user)
        first = api.post(f"/notes/{note_id}/comments", user, json={"body": spam})
        assert first.get_json()["status"] == "published"
    api.register("bot3")
    third = api.post(
        f"/notes/{note_id}/comments", "bot3", json={"body": "夏季清仓特卖 全场三折！私信领取优惠券"}
    )
    assert third.get_json()["status"] == "pending_review"  # same text once normalised
    (case,) = api.get("/moderation/cases", "mod").get_json()["items"]
    assert case["reason_code"] == "spam_ads.coordinated" and case["target_type"] == "comment"
    for user in ("fan", "author", "mod"):  # short common phrases are never held
        assert (
            api.post(f"/notes/{note_id}/comments", user, json={"body": "好看!"}).get_json()[
                "status"
            ]
            == "published"
        )
