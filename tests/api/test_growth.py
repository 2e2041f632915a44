"""The growth system through the API: the points ledger (keys, caps, own content, linked
accounts, review, claw-back), levels and privileges, check-ins, tasks, campaigns, the store
(also under concurrency) and manual grants."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from tests.conftest import assert_error


def publish(api, user: str, title: str = "一篇笔记", **fields: Any) -> int:
    response = api.post("/notes", user, json={"title": title, "status": "published", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def points(api, user: str) -> int:
    return api.get("/me/growth", user).get_json()["points"]


def ledger(api, user: str, *, tasks: bool = False) -> list[tuple[str, int]]:
    """The user's ledger as (action, delta), task rewards left out unless asked for."""
    items = api.get("/me/points?limit=50", user).get_json()["items"]
    return [(e["action"], e["delta"]) for e in items if tasks or e["action"] != "task"]


def test_points_for_what_others_do_with_your_content_and_never_twice(api):
    for name in ("author", "fan", "other"):
        api.register(name)
    note = publish(api, "author")
    assert ledger(api, "author") == [("publish_note", 10)]
    api.patch(f"/notes/{note}", "author", json={"title": "改个标题"})  # an edit pays nothing
    api.post(f"/notes/{note}/like", "author")  # one's own content pays nothing
    for _ in range(2):  # like, unlike, like again: paid once
        api.post(f"/notes/{note}/like", "fan")
        api.delete(f"/notes/{note}/like", "fan")
    api.post(f"/notes/{note}/like", "fan")
    api.post(f"/notes/{note}/collect", "fan", json={})
    api.post(f"/notes/{note}/comments", "fan", json={"body": "拍得真好看"})
    api.post(f"/notes/{note}/share", "fan", json={"channel": "wechat"})
    api.post(f"/notes/{note}/share", "fan", json={"channel": "weibo"})  # one paid share a note
    assert sorted(ledger(api, "author")) == sorted(
        [
            ("publish_note", 10),
            ("like_received", 1),
            ("collect_received", 2),
            ("comment_received", 1),
        ]
    )
    assert points(api, "author") == 14 + 10  # and the daily task "publish a note"
    assert sorted(ledger(api, "fan", tasks=True)) == [("comment", 2), ("share", 3), ("task", 5)]
    growth = api.get("/me/growth", "fan").get_json()
    assert growth["earned_today"] == 10 and growth["daily_cap"] == 1000


def test_linked_accounts_earn_nothing_from_each_other(api):
    for name in ("main", "alt", "mod"):
        api.register(name)
    api.grant("mod", "moderator")
    ids = [api.users["main"]["id"], api.users["alt"]["id"]]
    assert_error(
        api.post("/moderation/account-links", "main", json={"user_ids": ids, "reason": "x"}), 403
    )
    linked = api.post(
        "/moderation/account-links", "mod", json={"user_ids": ids, "reason": "同一设备注册"}
    )
    assert linked.status_code == 201, linked.get_json()
    note = publish(api, "main")
    api.post(f"/notes/{note}/like", "alt")
    api.post(f"/notes/{note}/comments", "alt", json={"body": "互相点赞"})
    assert ledger(api, "main") == [("publish_note", 10)]
    actions = [e["action"] for e in api.get("/moderation/log", "mod").get_json()["items"]]
    assert "link_accounts" in actions


def test_daily_caps_per_action_and_overall(api, app):
    api.register("busy")
    for index in range(6):
        publish(api, "busy", f"第{index}篇")
    publishes = [delta for action, delta in ledger(api, "busy") if action == "publish_note"]
    assert publishes == [10] * 5  # the 6th is over the 50 a day (a 0 entry, not listed)
    with app.app_context():
        from app.core.extensions import db
        from app.growth.ledger import award

        award(api.users["busy"]["id"], "campaign", "test:big", amount=990)  # 50 + 990 + task
        db.session.commit()
    growth = api.get("/me/growth", "busy").get_json()
    assert growth["earned_today"] == 1000  # the global cap cut the award short
    api.register("fan")
    note = publish(api, "fan", "粉丝的笔记")
    api.post(f"/notes/{note}/like", "busy")
    assert api.get("/me/growth", "busy").get_json()["earned_today"] == 1000


def test_held_content_pays_after_review_and_removal_claws_back(api):
    for name in ("author", "fan", "mod1", "mod2"):
        api.register(name)
    api.grant("mod1", "moderator")
    api.grant("mod2", "moderator")
    held = api.post(
        "/notes",
        "author",
        json={"title": "好物", "body": "下单戳 www.cheap-shop.com", "status": "published"},
    ).get_json()
    assert held["status"] == "pending_review" and ledger(api, "author") == []
    (case,) = api.get("/moderation/cases", "mod1").get_json()["items"]
    api.post(f"/moderation/cases/{case['id']}/claim", "mod1")
    api.post(
        f"/moderation/cases/{case['id']}/decision",
        "mod1",
        json={"content": "keep", "account": "none", "note": "正常分享"},
    )
    assert ledger(api, "author") == [("publish_note", 10)]
    api.post(f"/notes/{held['id']}/like", "fan")
    assert points(api, "author") == 11 + 10  # with the daily task's reward
    api.post(
        "/reports",
        "fan",
        json={"target_type": "note", "target_id": held["id"], "reason_code": "spam_ads.repeated"},
    )
    (case,) = [
        c for c in api.get("/moderation/cases", "mod1").get_json()["items"] if c["status"] == "open"
    ]
    api.post(f"/moderation/cases/{case['id']}/claim", "mod1")
    decision = api.post(
        f"/moderation/cases/{case['id']}/decision",
        "mod1",
        json={"content": "remove", "account": "none", "note": "广告"},
    ).get_json()
    assert points(api, "author") == 10  # what the note earned is gone; the task reward stays
    assert sorted(ledger(api, "author")) == sorted(
        [("publish_note", 10), ("like_received", 1), ("clawback", -10), ("clawback", -1)]
    )
    action_id = decision["actions"][0]["id"]
    api.post("/appeals", "author", json={"action_id": action_id, "statement": "不是广告"})
    (appeal,) = api.get("/moderation/appeals", "mod2").get_json()["items"]
    api.post(
        f"/moderation/appeals/{appeal['id']}/decision",
        "mod2",
        json={"outcome": "reverse", "note": "误判"},
    )
    assert points(api, "author") == 21  # restored with the note


def test_levels_come_from_contribution_and_unlock_privileges(api, app):
    api.register("creator")
    fans = [api.register(f"fan{i}")["id"] for i in range(12)]
    assert fans
    first = api.get("/me/growth", "creator").get_json()
    assert first["level"] == 1 and first["level_name"] == "社区新人"
    assert first["privileges"] == ["new_creator_boost"]  # a new user's first week
    notes = [publish(api, "creator", f"作品{i}") for i in range(4)]  # 4 × 5 contribution
    for i in range(12):
        for note in notes[:2]:
            api.post(f"/notes/{note}/like", f"fan{i}")  # 24 likes from others
    for i in range(3):
        api.post(f"/notes/{notes[0]}/collect", f"fan{i}", json={})  # 3 × 2
    growth = api.get("/me/growth", "creator").get_json()
    assert growth["contribution"]["total"] == 20 + 24 + 6 == 50
    assert growth["level"] == 2 and growth["level_name"] == "种草新星"
    assert {"more_images", "sticker_pack:basic"} <= set(growth["privileges"])
    assert growth["next_level"]["level"] == 3 and 0 <= growth["progress"] < 1
    kinds = [
        item["payload"].get("type")
        for item in api.get("/notifications", "creator").get_json()["items"]
        if item["kind"] == "system"
    ]
    assert kinds.count("level_up") == 1
    # Spending points never lowers a level: it comes from contribution, not the balance.
    boss = api.register("boss")
    api.grant("boss", "admin")
    balance = points(api, "creator")
    api.post(
        f"/admin/users/{api.users['creator']['id']}/points",
        "boss",
        json={"delta": -balance, "reason": "test"},
    )
    assert api.get("/me/growth", "creator").get_json()["level"] == 2
    assert boss


def test_check_in_streaks_and_tasks(api, app):
    api.register("daily")
    first = api.post("/me/checkin", "daily")
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["streak"] == 1 and first.get_json()["points_awarded"] == 5
    assert_error(api.post("/me/checkin", "daily"), 409, "already_checked_in")
    tasks = {t["code"]: t for t in api.get("/me/tasks", "daily").get_json()["items"]}
    assert tasks["daily_checkin"]["completed"] and tasks["daily_checkin"]["rewarded"]
    assert tasks["weekly_checkin"]["progress"] == 1 and not tasks["weekly_checkin"]["completed"]
    assert ("task", 5) in ledger(api, "daily", tasks=True)
    # Someone who checked in yesterday makes a streak of 2 today, paid 5 + 1.
    api.register("regular")
    with app.app_context():
        from app.core.extensions import db
        from app.growth.ledger import today
        from app.growth.models import CheckIn

        yesterday = today() - timedelta(days=1)
        db.session.add(CheckIn(user_id=api.users["regular"]["id"], day=yesterday, streak=1))
        db.session.commit()
    second = api.post("/me/checkin", "regular").get_json()
    assert second == {**second, "streak": 2, "points_awarded": 6}
    assert api.get("/me/growth", "regular").get_json()["streak"] == 2
    assert api.get("/me/growth", "daily").get_json()["streak"] == 1
    api.post("/notes", "daily", json={"title": "打卡", "status": "published"})
    api.register("friend")
    note = publish(api, "friend")
    api.post(f"/notes/{note}/comments", "daily", json={"body": "第一条评论"})
    tasks = {t["code"]: t for t in api.get("/me/tasks", "daily").get_json()["items"]}
    assert tasks["daily_post"]["rewarded"] and tasks["daily_comment"]["progress"] == 1


def test_campaigns_check_in_by_posting_under_the_topic(api, app):
    from app.core.models import utcnow

    for name in ("editor1", "runner", "walker", "plain"):
        api.register(name)
    api.grant("editor1", "editor")
    topic = api.post("/topics", "editor1", json={"name": "一周早起打卡"}).get_json()["id"]
    now = utcnow()
    body = {
        "topic_id": topic,
        "title": "早起七天",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=6)).isoformat(),
        "required_days": 2,
        "reward_points": 100,
    }
    assert_error(api.post("/campaigns", "plain", json=body), 403)
    assert_error(api.post("/campaigns", "editor1", json={**body, "topic_id": 99999}), 422)
    assert_error(api.post("/campaigns", "editor1", json={**body, "required_days": 30}), 422)
    assert_error(
        api.post("/campaigns", "editor1", json={**body, "ends_at": body["starts_at"]}), 400
    )
    campaign = api.post("/campaigns", "editor1", json=body).get_json()
    cid = campaign["id"]
    assert campaign["state"] == "running"
    for name in ("runner", "walker"):
        joined = api.post(f"/campaigns/{cid}/join", name).get_json()
        assert joined["joined"] and joined["days_done"] == 0
    api.post(f"/campaigns/{cid}/join", "runner")  # idempotent
    assert api.get(f"/campaigns/{cid}").get_json()["participant_count"] == 2
    publish(api, "runner", "第一天", topic_ids=[topic])
    publish(api, "runner", "第一天又一篇", topic_ids=[topic])  # one check-in a day
    publish(api, "walker", "我也来", topic_ids=[topic])
    publish(api, "plain", "没报名", topic_ids=[topic])  # not a member: nothing
    assert api.get(f"/campaigns/{cid}", "runner").get_json()["days_done"] == 1
    with app.app_context():  # yesterday's check-in, as if it had happened then
        from app.core.extensions import db
        from app.growth.models import CampaignDay, CampaignMember

        runner_id = api.users["runner"]["id"]
        day = db.session.query(CampaignDay).filter_by(user_id=runner_id).one()
        day.day = day.day - timedelta(days=1)
        db.session.query(CampaignMember).filter_by(user_id=runner_id).one().last_day = day.day
        db.session.commit()
    publish(api, "runner", "第二天", topic_ids=[topic])
    mine = api.get(f"/campaigns/{cid}", "runner").get_json()
    assert mine["days_done"] == 2 and mine["completed"]
    publish(api, "runner", "第二天再一篇", topic_ids=[topic])
    assert ledger(api, "runner").count(("campaign", 100)) == 1  # paid once
    board = api.get(f"/campaigns/{cid}/leaderboard").get_json()["items"]
    assert [(row["user"]["username"], row["days_done"]) for row in board] == [
        ("runner", 2),
        ("walker", 1),
    ]
    assert [c["id"] for c in api.get("/campaigns").get_json()["items"]] == [cid]
    assert_error(api.post("/campaigns/99999/join", "walker"), 404, "campaign_not_found")


def test_store_redemptions_history_and_manual_grants(api):
    for name in ("boss", "buyer", "plain"):
        api.register(name)
    api.grant("boss", "admin")
    item = {"name": "小芽帆布袋", "price_points": 30, "stock": 2, "per_user_limit": 1}
    assert_error(api.post("/store/items", "plain", json=item), 403)
    assert_error(api.post("/store/items", "boss", json={**item, "price_points": 0}), 400)
    assert_error(api.post("/store/items", "boss", json={**item, "stock": "2"}), 400)
    made = api.post("/store/items", "boss", json=item).get_json()
    assert_error(api.post(f"/store/items/{made['id']}/redeem", "buyer"), 409, "insufficient_points")
    buyer = api.users["buyer"]["id"]
    assert_error(
        api.post(f"/admin/users/{buyer}/points", "plain", json={"delta": 5, "reason": "x"}), 403
    )
    assert_error(
        api.post(f"/admin/users/{buyer}/points", "boss", json={"delta": 0, "reason": "x"}), 400
    )
    assert_error(
        api.post(f"/admin/users/{buyer}/points", "boss", json={"delta": -5, "reason": "x"}),
        409,
        "insufficient_points",
    )
    granted = api.post(
        f"/admin/users/{buyer}/points", "boss", json={"delta": 100, "reason": "活动补偿"}
    ).get_json()
    assert granted["points"] == 100 and granted["entry"]["reason"] == "活动补偿"
    (audit,) = api.get("/admin/points/grants", "boss").get_json()["items"]
    assert (audit["user_id"], audit["actor_id"], audit["delta"]) == (
        buyer,
        api.users["boss"]["id"],
        100,
    )
    assert_error(api.get("/admin/points/grants", "buyer"), 403)
    order = api.post(f"/store/items/{made['id']}/redeem", "buyer")
    assert order.status_code == 201, order.get_json()
    assert order.get_json()["points"] == 70
    assert_error(
        api.post(f"/store/items/{made['id']}/redeem", "buyer"), 409, "redemption_limit_reached"
    )
    listed = api.get("/store/items", "buyer").get_json()["items"]
    assert listed[0]["stock"] == 1 and listed[0]["redeemed_by_me"] == 1
    history = api.get("/me/redemptions", "buyer").get_json()["items"]
    assert [row["item"]["name"] for row in history] == ["小芽帆布袋"]
    assert api.get("/admin/store/redemptions", "boss").get_json()["items"][0]["user_id"] == buyer
    assert_error(api.get("/admin/store/redemptions", "buyer"), 403)
    assert ledger(api, "buyer") == [("redeem", -30), ("manual", 100)]
    assert_error(api.post("/store/items/99999/redeem", "buyer"), 404, "item_not_found")


def test_concurrent_redemptions_never_oversell_or_overspend(api, app):
    from app.accounts.models import User
    from app.core.extensions import db
    from app.growth.models import Redemption, StoreItem

    api.register("boss")
    api.grant("boss", "admin")
    item = api.post(
        "/store/items",
        "boss",
        json={"name": "限量徽章", "price_points": 40, "stock": 5, "per_user_limit": 2},
    ).get_json()
    names = [f"buyer{i}" for i in range(4)]
    for name in names:
        api.register(name)
        api.post(
            f"/admin/users/{api.users[name]['id']}/points",
            "boss",
            json={"delta": 100, "reason": "测试"},
        )
    headers = {name: api.headers(name) for name in names}
    db.session.commit()
    attempts = [name for name in names for _ in range(4)]  # 16 tries for 5 badges
    barrier = threading.Barrier(len(attempts))
    results: list[Any] = []

    def redeem(name: str) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait(timeout=30)
                response = client.post(
                    f"/api/v1/store/items/{item['id']}/redeem", headers=headers[name]
                )
                results.append((name, response.status_code, response.get_json()))
        except Exception as exc:  # surfaced by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=redeem, args=(name,)) for name in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, tuple) for r in results), results
    won = [r for r in results if r[1] == 201]
    assert len(won) == 5, results
    assert all(r[1] == 409 for r in results if r[1] != 201)
    db.session.expire_all()
    assert db.session.get(StoreItem, item["id"]).stock == 0
    for name in names:
        user = db.session.get(User, api.users[name]["id"])
        mine = db.session.query(Redemption).filter_by(user_id=user.id).count()
        assert mine <= 2 and user.points == 100 - 40 * mine >= 0
        assert sum(d for _, d in ledger(api, name, tasks=True)) == user.points


def test_a_new_creators_first_notes_get_an_exploration_boost(api, app):
    api.register("newbie")
    api.register("veteran")
    publish(api, "newbie", "我的第一篇")
    publish(api, "veteran", "老用户的笔记")
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow

    db.session.get(User, api.users["veteran"]["id"]).created_at = utcnow() - timedelta(days=30)
    db.session.commit()
    with app.app_context():
        from app.editorial.services import editorial_source

        app.extensions.pop("sprout.new_creators", None)
        boosts = editorial_source().author_boosts(utcnow().timestamp())
    assert boosts == {api.users["newbie"]["id"]: 0.6}
    assert "new_creator_boost" in api.get("/me/growth", "newbie").get_json()["privileges"]
    assert "new_creator_boost" not in api.get("/me/growth", "veteran").get_json()["privileges"]


def test_the_database_refuses_to_change_the_ledger(api, app):
    import pytest
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DatabaseError

    from app.core.extensions import db
    from app.growth.models import PointsEntry

    api.register("saver")
    api.post("/me/checkin", "saver")
    entry_id = db.session.query(PointsEntry.id).filter_by(action="checkin").scalar()
    for statement in (
        update(PointsEntry).where(PointsEntry.id == entry_id).values(delta=500),
        delete(PointsEntry).where(PointsEntry.id == entry_id),
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(statement)
        db.session.rollback()
    assert ledger(api, "saver") == [("checkin", 5)]
