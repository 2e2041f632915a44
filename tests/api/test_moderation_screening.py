"""Automated checks before content appears: every comment, and new accounts' notes."""

from __future__ import annotations

import io
import random
from datetime import timedelta

from PIL import Image, ImageDraw, ImageFilter

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
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow

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


def scene(seed: int, *, width: int = 480, height: int = 640) -> Image.Image:
    """A photo-like picture: shapes on a coloured ground, with sensor noise."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        box = [x, y, x + rng.randrange(40, 260), y + rng.randrange(40, 260)]
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    return Image.blend(image, noise, 0.08).filter(ImageFilter.GaussianBlur(1))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def post_picture(api, user: str, data: bytes, title: str) -> dict:
    uploaded = api.post(
        "/media/images",
        user,
        data={"file": (io.BytesIO(data), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    note = api.post(
        "/notes",
        user,
        json={"title": title, "image_ids": [uploaded.get_json()["id"]], "status": "published"},
    )
    assert note.status_code == 201, note.get_json()
    return note.get_json()


def test_a_near_identical_picture_from_several_accounts_is_held(api):
    setup(api)
    original = scene(7)
    # The same picture, re-encoded, resized and watermarked as reposting accounts do.
    resized = original.resize((360, 480))
    marked = original.copy()
    ImageDraw.Draw(marked).text((20, 580), "@好物分享 123", fill="white", font_size=36)
    api.register("bot1")
    api.register("bot2")
    for user, picture, title in (
        ("bot1", jpeg(original), "今日穿搭"),
        ("bot1", jpeg(original), "今日穿搭二"),  # one's own repeats are no signal
        ("bot2", jpeg(resized, quality=40), "通勤穿搭"),
    ):
        assert post_picture(api, user, picture, title)["status"] == "published"
    api.register("bot3")
    held = post_picture(api, "bot3", jpeg(marked, quality=60), "周末穿搭")
    assert held["status"] == "pending_review"
    (case,) = api.get("/moderation/cases", "mod").get_json()["items"]
    assert case["reason_code"] == "spam_ads.coordinated" and case["target_type"] == "note"
    # A different picture from a fourth account passes.
    api.register("painter")
    assert post_picture(api, "painter", jpeg(scene(8)), "晚霞")["status"] == "published"


def test_links_are_held_only_from_new_accounts(api):
    note_id = setup(api)
    link = {"body": "详细攻略在 www.camp-guide.com 可以看看"}
    held = api.post(f"/notes/{note_id}/comments", "fan", json=link).get_json()
    assert held["status"] == "pending_review"
    (case,) = api.get("/moderation/cases", "mod").get_json()["items"]
    assert case["reason_code"] == "spam_ads.deceptive_links"
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow

    db.session.get(User, api.users["fan"]["id"]).created_at = utcnow() - timedelta(days=30)
    db.session.commit()
    settled = api.post(f"/notes/{note_id}/comments", "fan", json=link).get_json()
    assert settled["status"] == "published"
    # Contact details are held from every account.
    contact = api.post(f"/notes/{note_id}/comments", "fan", json={"body": "加我 vx: camp_2024"})
    assert contact.get_json()["status"] == "pending_review"


def test_a_burst_of_comments_is_held_and_staff_are_not(api):
    from moderation.config import MODERATION

    note_id = setup(api)
    limit = MODERATION.bursts["comment"].limit
    for index in range(limit):
        body = {"body": f"第{index}条：这个露营地在哪里"}
        assert api.post(f"/notes/{note_id}/comments", "fan", json=body).status_code == 201
    burst = api.post(f"/notes/{note_id}/comments", "fan", json={"body": "还有位置吗"}).get_json()
    assert burst["status"] == "pending_review"
    (case,) = api.get("/moderation/cases", "mod").get_json()["items"]
    assert case["reason_code"] == "spam_ads.single_account"
    for index in range(limit + 1):
        reply = api.post(f"/notes/{note_id}/comments", "mod", json={"body": f"回复{index}"})
        assert reply.get_json()["status"] == "published"
    assert api.get(f"/notes/{note_id}").get_json()["comment_count"] == 2 * limit + 1
