"""Notes: create, validate, read, edit, publish, delete, list; the text-note cover card."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.core.extensions import db, get_storage
from app.media.models import Image
from app.notes.models import Note, NoteMention, Tag, Topic
from app.notifications.models import Notification
from tests.conftest import assert_error


def make_image(owner_id: int, *, kind: str = "upload", status: str = "ready") -> int:
    image = Image(
        owner_id=owner_id,
        kind=kind,
        status=status,
        source_format="JPEG",
        width=800,
        height=600,
        dominant_color="#112233",
        byte_size=10,
        storage_key="x",
        content_type="image/jpeg",
        variants={},
    )
    db.session.add(image)
    db.session.commit()
    return image.id


def make_topic(name: str, channel: str | None = None) -> int:
    topic = Topic(name=name, channel_code=channel)
    db.session.add(topic)
    db.session.commit()
    return topic.id


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def column(col: Any, row_id: int) -> Any:
    """A fresh value straight from the database (the ORM identity map may be stale)."""
    table = col.class_
    return db.session.scalar(select(col).where(table.id == row_id))


def post_note(api: Any, user: str, **fields: Any) -> Any:
    payload = {"title": "标题", "status": "published", **fields}
    return api.post("/notes", user, json=payload)


def image_note(api: Any, user: str, **fields: Any) -> dict[str, Any]:
    """A note with one image (no cover rendering needed)."""
    image_id = make_image(api.users[user]["id"])
    response = post_note(api, user, image_ids=[image_id], **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- create ----------------------------------------------------------------------------------


def test_create_text_note_renders_a_cover_card(api):
    api.register("alice")
    response = post_note(
        api, "alice", title="周末去哪儿 ☕", body="一个人的咖啡馆", tags=["#Coffee", "咖啡"]
    )
    assert response.status_code == 201, response.get_json()
    note = response.get_json()
    assert note["title"] == "周末去哪儿 ☕" and note["body"] == "一个人的咖啡馆"
    assert note["status"] == "published" and note["published_at"] is not None
    assert note["type"] == "text" and note["images"] == []
    assert note["tags"] == ["coffee", "咖啡"]
    assert note["author"]["username"] == "alice"
    assert note["like_count"] == 0 and note["liked"] is False

    cover = note["cover"]
    assert cover is not None, "the inline job should have attached a cover"
    assert (cover["width"], cover["height"]) == (1080, 1440)
    assert cover["dominant_color"].startswith("#") and len(cover["dominant_color"]) == 7
    assert set(cover["variants"]) == {"thumb", "medium", "large"}
    stored = db.session.get(Image, cover["id"])
    assert stored.kind == "cover" and stored.status == "ready"
    assert stored.owner_id == api.users["alice"]["id"]
    assert get_storage().exists(stored.storage_key)
    assert get_storage().open(stored.storage_key)[:3] == b"\xff\xd8\xff"  # a JPEG

    # GET shows the same cover, and the author's note_count counts the published note.
    again = api.get(f"/notes/{note['id']}").get_json()
    assert again["cover"]["id"] == cover["id"]
    assert column(User.note_count, api.users["alice"]["id"]) == 1


def test_cover_job_is_idempotent_and_follows_title_edits(api):
    from app.notes.jobs import render_text_cover

    api.register("alice")
    note = post_note(api, "alice", title="first title").get_json()
    first_cover = note["cover"]["id"]
    render_text_cover(note["id"])
    render_text_cover(note["id"])
    assert column(Note.cover_image_id, note["id"]) == first_cover
    assert count(Image, Image.kind == "cover") == 1

    edited = api.patch(f"/notes/{note['id']}", "alice", json={"title": "second title"})
    assert edited.status_code == 200, edited.get_json()
    second_cover = edited.get_json()["cover"]
    assert second_cover["id"] != first_cover
    assert second_cover["url"] != note["cover"]["url"]
    # The stale card is gone, row and files.
    assert db.session.get(Image, first_cover) is None
    assert count(Image, Image.kind == "cover") == 1

    # A body-only edit does not re-render.
    api.patch(f"/notes/{note['id']}", "alice", json={"body": "more words"})
    assert column(Note.cover_image_id, note["id"]) == second_cover["id"]


def test_images_keep_their_order_and_the_first_is_the_cover(api):
    api.register("alice")
    owner = api.users["alice"]["id"]
    a, b, c = make_image(owner), make_image(owner), make_image(owner)
    note = post_note(api, "alice", image_ids=[b, c, a]).get_json()
    assert note["type"] == "image"
    assert [image["id"] for image in note["images"]] == [b, c, a]
    assert note["cover"]["id"] == b
    assert count(Image, Image.kind == "cover") == 0  # image notes need no generated card

    reordered = api.patch(f"/notes/{note['id']}", "alice", json={"image_ids": [a, b]})
    assert [image["id"] for image in reordered.get_json()["images"]] == [a, b]
    fetched = api.get(f"/notes/{note['id']}").get_json()
    assert [image["id"] for image in fetched["images"]] == [a, b]

    # Removing every image turns it into a text note, which then gets a card.
    text = api.patch(f"/notes/{note['id']}", "alice", json={"image_ids": []}).get_json()
    assert text["type"] == "text" and text["cover"] is not None
    assert text["cover"]["width"] == 1080


def test_limits_are_exact_and_count_characters(api):
    api.register("alice")
    owner = api.users["alice"]["id"]
    assert post_note(api, "alice", title="x" * 20).status_code == 201
    assert_error(post_note(api, "alice", title="x" * 21), 400, "title_too_long")
    # Emoji and Chinese count as one character each, as the user sees them.
    assert post_note(api, "alice", title="😀" * 20).status_code == 201
    assert post_note(api, "alice", title="汉" * 20).status_code == 201
    assert_error(post_note(api, "alice", title="😀" * 21), 400, "title_too_long")
    # NFC: "e" + combining acute is one character.
    assert post_note(api, "alice", title="e\u0301" * 20).status_code == 201

    assert (
        post_note(api, "alice", body="字" * 1000, image_ids=[make_image(owner)]).status_code == 201
    )
    # Longer bodies and more images are level privileges (docs/growth.md): a newcomer has
    # neither.
    newcomer = api.register("carol")["id"]
    error = assert_error(post_note(api, "carol", body="字" * 1001), 403, "privilege_required")
    assert error["details"] == {"privilege": "long_note", "level_required": 3}
    assert_error(post_note(api, "carol", body="字" * 5001), 400, "body_too_long")

    images = [make_image(newcomer) for _ in range(19)]
    assert post_note(api, "carol", image_ids=images[:9]).status_code == 201
    error = assert_error(post_note(api, "carol", image_ids=images[:10]), 403, "privilege_required")
    assert error["details"] == {"privilege": "more_images", "level_required": 2}
    error = assert_error(post_note(api, "carol", image_ids=images), 400, "too_many_images")
    assert error["details"]["max"] == 18

    from app.accounts.models import User
    from app.core.extensions import db

    db.session.get(User, newcomer).level = 3  # long notes and more images unlocked
    db.session.commit()
    assert post_note(api, "carol", body="字" * 5000).status_code == 201
    assert post_note(api, "carol", image_ids=images[9:]).status_code == 201


def test_hostile_and_invalid_input_changes_nothing(api):
    api.register("alice")
    api.register("mallory")
    mine = make_image(api.users["alice"]["id"])
    theirs = make_image(api.users["mallory"]["id"])
    cover = make_image(api.users["alice"]["id"], kind="cover")
    failed = make_image(api.users["alice"]["id"], status="failed")
    before_notes, before_tags = count(Note), count(Tag)

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"image_ids": [theirs]}, 422, "unknown_image"),
        ({"image_ids": [mine, 999_999]}, 422, "unknown_image"),
        ({"image_ids": [cover]}, 422, "image_not_usable"),
        ({"image_ids": [failed]}, 422, "image_not_usable"),
        ({"image_ids": [mine, mine]}, 400, "duplicate_image"),
        ({"image_ids": str(mine)}, 400, "validation_error"),
        ({"image_ids": [True]}, 400, "validation_error"),
        ({"image_ids": [1.5]}, 400, "validation_error"),
        ({"image_ids": [-1]}, 400, "validation_error"),
        ({"topic_ids": [424242], "tags": ["brandnew"]}, 422, "unknown_topic"),
        ({"channel": "nope"}, 422, "unknown_channel"),
        ({"channel": "x" * 500}, 400, "validation_error"),
        ({"tags": [f"t{i}" for i in range(11)]}, 400, "too_many_tags"),
        ({"tags": ["y" * 21]}, 400, "invalid_tag"),
        ({"tags": ["#"]}, 400, "invalid_tag"),
        ({"tags": ["a#b"]}, 400, "invalid_tag"),
        ({"tags": "food"}, 400, "validation_error"),
        ({"tags": [5]}, 400, "validation_error"),
        ({"topic_ids": [1, 2, 3, 4, 5, 6]}, 400, "too_many_topics"),
        ({"title": ""}, 400, "title_required"),
        ({"title": "   "}, 400, "title_required"),
        ({"title": None}, 400, "validation_error"),
        ({"title": 12345}, 400, "validation_error"),
        ({"title": "two\nlines"}, 400, "validation_error"),
        ({"title": "nul\x00byte"}, 400, "validation_error"),
        ({"body": "bell\x07"}, 400, "validation_error"),
        ({"body": ["list"]}, 400, "validation_error"),
        ({"status": "hidden"}, 400, "validation_error"),
        ({"status": "removed"}, 400, "validation_error"),
        ({"status": None}, 400, "validation_error"),
    ]
    for fields, status, code in cases:
        response = post_note(api, "alice", **fields)
        assert_error(response, status, code)

    missing_status = api.post("/notes", "alice", json={"title": "t"})
    assert_error(missing_status, 400, "validation_error")
    missing_title = api.post("/notes", "alice", json={"status": "draft"})
    assert_error(missing_title, 400, "validation_error")
    assert_error(api.post("/notes", "alice", json=["x"]), 400, "malformed_json")
    assert_error(
        api.post("/notes", "alice", data="{nope", content_type="application/json"),
        400,
        "malformed_json",
    )
    assert_error(api.post("/notes", json={"title": "t", "status": "draft"}), 401)
    assert count(Note) == before_notes and count(Tag) == before_tags


def test_script_in_title_is_stored_verbatim_as_a_json_string(api):
    api.register("alice")
    title = "<script>x</script>"
    body = '<img src=x onerror="alert(1)"> & "quotes"'
    response = post_note(
        api, "alice", title=title, body=body, image_ids=[make_image(api.users["alice"]["id"])]
    )
    assert response.status_code == 201, response.get_json()
    assert response.mimetype == "application/json"
    note = api.get(f"/notes/{response.get_json()['id']}").get_json()
    assert note["title"] == title and note["body"] == body
    assert db.session.scalar(select(Note.title).where(Note.id == note["id"])) == title


def test_tags_are_normalised_and_shared(api):
    api.register("alice")
    first = image_note(api, "alice", tags=["#Travel", "travel", "＃TRAVEL", " 旅行 ", "Café"])
    assert first["tags"] == ["travel", "旅行", "café"]
    second = image_note(api, "alice", tags=["TRAVEL"])
    assert second["tags"] == ["travel"]
    assert count(Tag, Tag.name == "travel") == 1
    # NFC: a decomposed "café" is the same tag.
    third = image_note(api, "alice", tags=["cafe\u0301"])
    assert third["tags"] == ["café"] and count(Tag, Tag.name == "café") == 1


def test_topics_and_channel_classification(api):
    api.register("alice")
    plain = make_topic("随便聊聊")
    food = make_topic("早餐打卡", "food")
    travel = make_topic("周末去哪儿", "travel")

    classified = image_note(api, "alice", topic_ids=[plain, food, travel])
    assert classified["channel"] == {"code": "food", "name": "美食"}
    assert [t["id"] for t in classified["topics"]] == [plain, food, travel]

    explicit = image_note(api, "alice", topic_ids=[food], channel="travel")
    assert explicit["channel"]["code"] == "travel"

    nothing = image_note(api, "alice", topic_ids=[plain])
    assert nothing["channel"] is None

    # Published notes count in their topics; drafts do not.
    assert column(Topic.note_count, food) == 2
    assert column(Topic.note_count, plain) == 2
    draft = image_note(api, "alice", topic_ids=[travel], status="draft")
    assert column(Topic.note_count, travel) == 1

    # Editing the topics of a published note moves the counts.
    # (travel was already there: it stays at 1; food and plain lose this note.)
    api.patch(f"/notes/{classified['id']}", "alice", json={"topic_ids": [travel]})
    assert column(Topic.note_count, travel) == 1
    assert column(Topic.note_count, food) == 1 and column(Topic.note_count, plain) == 1
    api.patch(f"/notes/{nothing['id']}", "alice", json={"topic_ids": [travel, food]})
    assert column(Topic.note_count, travel) == 2
    assert column(Topic.note_count, food) == 2 and column(Topic.note_count, plain) == 0

    # Publishing the draft counts it; deleting a published note uncounts it.
    api.patch(f"/notes/{draft['id']}", "alice", json={"status": "published"})
    assert column(Topic.note_count, travel) == 3
    assert api.delete(f"/notes/{classified['id']}", "alice").status_code == 204
    assert column(Topic.note_count, travel) == 2

    # An explicit null channel re-classifies from the topics.
    reset = api.patch(f"/notes/{explicit['id']}", "alice", json={"channel": None})
    assert reset.get_json()["channel"]["code"] == "food"


# --- visibility, edit, status ------------------------------------------------------------------


def test_drafts_are_visible_only_to_author_and_moderators(api):
    api.register("alice")
    api.register("bob")
    api.register("mod")
    api.grant("mod", "moderator")
    draft = image_note(api, "alice", status="draft")
    assert draft["status"] == "draft" and draft["published_at"] is None
    assert column(User.note_count, api.users["alice"]["id"]) == 0

    assert api.get(f"/notes/{draft['id']}", "alice").status_code == 200
    assert api.get(f"/notes/{draft['id']}", "mod").status_code == 200
    assert_error(api.get(f"/notes/{draft['id']}", "bob"), 404, "note_not_found")
    assert_error(api.get(f"/notes/{draft['id']}"), 404, "note_not_found")
    # Others can neither edit nor like what they cannot see.
    assert_error(api.patch(f"/notes/{draft['id']}", "bob", json={"title": "x"}), 404)
    assert_error(api.post(f"/notes/{draft['id']}/like", "bob"), 404)

    alice_id = api.users["alice"]["id"]
    assert api.get(f"/users/{alice_id}/notes").get_json()["items"] == []
    assert_error(api.get(f"/users/{alice_id}/notes?status=draft", "bob"), 403, "drafts_private")
    assert_error(api.get(f"/users/{alice_id}/notes?status=draft"), 403, "drafts_private")
    own = api.get(f"/users/{alice_id}/notes?status=draft", "alice").get_json()
    assert [item["id"] for item in own["items"]] == [draft["id"]]
    drafts = api.get("/me/drafts", "alice").get_json()
    assert [item["id"] for item in drafts["items"]] == [draft["id"]]
    assert api.get("/me/drafts", "bob").get_json()["items"] == []
    assert_error(api.get("/me/drafts"), 401)


def test_publish_a_draft_then_no_way_back(api):
    api.register("alice")
    draft = image_note(api, "alice", status="draft")
    published = api.patch(f"/notes/{draft['id']}", "alice", json={"status": "published"})
    assert published.status_code == 200, published.get_json()
    body = published.get_json()
    assert body["status"] == "published" and body["published_at"] is not None
    assert column(User.note_count, api.users["alice"]["id"]) == 1

    # Publishing again is a no-op: published_at and the count stay.
    again = api.patch(f"/notes/{draft['id']}", "alice", json={"status": "published"}).get_json()
    assert again["published_at"] == body["published_at"]
    assert column(User.note_count, api.users["alice"]["id"]) == 1

    back = api.patch(f"/notes/{draft['id']}", "alice", json={"status": "draft", "title": "new"})
    assert_error(back, 409, "invalid_status_transition")
    assert api.get(f"/notes/{draft['id']}").get_json()["title"] == "标题"  # unchanged
    assert_error(
        api.patch(f"/notes/{draft['id']}", "alice", json={"status": "hidden"}),
        400,
        "validation_error",
    )


def test_moderated_notes_cannot_be_republished_by_the_author(api):
    api.register("alice")
    note = image_note(api, "alice")
    db.session.execute(Note.__table__.update().where(Note.id == note["id"]).values(status="hidden"))
    db.session.commit()
    assert_error(
        api.patch(f"/notes/{note['id']}", "alice", json={"status": "published"}),
        409,
        "invalid_status_transition",
    )


def test_only_the_author_edits_and_validation_matches_create(api):
    api.register("alice")
    api.register("bob")
    api.register("mod")
    api.grant("mod", "moderator")
    note = image_note(api, "alice", body="before")
    path = f"/notes/{note['id']}"
    assert_error(api.patch(path, "bob", json={"title": "mine now"}), 403)
    assert_error(api.patch(path, "mod", json={"title": "mod edit"}), 403)
    assert_error(api.patch(path, json={"title": "anon"}), 401)

    for fields, status, code in [
        ({"title": "x" * 21}, 400, "title_too_long"),
        ({"body": "b" * 5001}, 400, "body_too_long"),
        ({"image_ids": [make_image(api.users["bob"]["id"])]}, 422, "unknown_image"),
        ({"image_ids": "1"}, 400, "validation_error"),
        ({"topic_ids": [777]}, 422, "unknown_topic"),
        ({"channel": "nowhere"}, 422, "unknown_channel"),
        ({"title": None}, 400, "validation_error"),
        ({"image_ids": None}, 400, "validation_error"),
    ]:
        assert_error(api.patch(path, "alice", json=fields), status, code)
    unchanged = api.get(path).get_json()
    assert unchanged["title"] == "标题" and unchanged["body"] == "before"
    assert len(unchanged["images"]) == 1

    edited = api.patch(
        path, "alice", json={"title": "新标题", "body": "after", "tags": ["x"], "channel": "food"}
    )
    assert edited.status_code == 200
    body = edited.get_json()
    assert (body["title"], body["body"], body["tags"]) == ("新标题", "after", ["x"])
    assert body["channel"]["code"] == "food" and len(body["images"]) == 1
    assert body["updated_at"] >= note["updated_at"]
    assert_error(api.patch("/notes/999999", "alice", json={"title": "x"}), 404, "note_not_found")


# --- delete ------------------------------------------------------------------------------------


def test_delete_by_author_is_soft_and_adjusts_counters(api):
    api.register("alice")
    api.register("bob")
    alice_id = api.users["alice"]["id"]
    note = image_note(api, "alice")
    assert column(User.note_count, alice_id) == 1
    assert_error(api.delete(f"/notes/{note['id']}", "bob"), 403)
    assert_error(api.delete(f"/notes/{note['id']}"), 401)

    assert api.delete(f"/notes/{note['id']}", "alice").status_code == 204
    assert column(Note.deleted_at, note["id"]) is not None  # soft: the row is still there
    assert column(User.note_count, alice_id) == 0
    assert_error(api.get(f"/notes/{note['id']}", "alice"), 404, "note_not_found")
    assert_error(api.delete(f"/notes/{note['id']}", "alice"), 404, "note_not_found")
    assert_error(api.patch(f"/notes/{note['id']}", "alice", json={"title": "x"}), 404)
    assert column(User.note_count, alice_id) == 0
    assert api.get(f"/users/{alice_id}/notes").get_json()["items"] == []

    # Deleting a draft never touched the count, so it does not move it either.
    draft = image_note(api, "alice", status="draft")
    image_note(api, "alice")
    assert api.delete(f"/notes/{draft['id']}", "alice").status_code == 204
    assert column(User.note_count, alice_id) == 1


def test_moderator_can_delete_anyones_note(api):
    api.register("alice")
    api.register("mod")
    api.grant("mod", "moderator")
    note = image_note(api, "alice")
    assert api.delete(f"/notes/{note['id']}", "mod").status_code == 204
    assert_error(api.get(f"/notes/{note['id']}"), 404)
    assert column(User.note_count, api.users["alice"]["id"]) == 0


# --- reading -----------------------------------------------------------------------------------


def test_views_are_counted_atomically(api):
    api.register("alice")
    api.register("bob")
    note = image_note(api, "alice")
    for _ in range(3):
        assert api.get(f"/notes/{note['id']}", "bob").status_code == 200
    api.get(f"/notes/{note['id']}")
    api.get(f"/notes/{note['id']}", "alice")  # the author's own views do not count
    from app.notes.services.views import flush_views

    flush_views()  # views are buffered; the periodic flush applies them
    assert column(Note.view_count, note["id"]) == 4


def test_user_notes_paginate_newest_first(api):
    api.register("alice")
    api.register("bob")
    alice_id = api.users["alice"]["id"]
    image = make_image(alice_id)
    ids = [
        post_note(api, "alice", title=f"n{i}", image_ids=[image]).get_json()["id"] for i in range(5)
    ]
    post_note(api, "alice", title="draft", status="draft", image_ids=[image])
    image_note(api, "bob")

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        url = f"/users/{alice_id}/notes?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url, "bob").get_json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids)) and pages == 3

    assert_error(api.get(f"/users/{alice_id}/notes?cursor=garbage"), 400, "invalid_cursor")
    assert_error(api.get(f"/users/{alice_id}/notes?limit=500"), 400, "validation_error")
    assert_error(api.get(f"/users/{alice_id}/notes?status=hidden"), 400, "validation_error")
    assert_error(api.get("/users/99999/notes"), 404, "user_not_found")
    from app.core.pagination import pack as encode_cursor

    forged = encode_cursor("not a date", 1)
    assert_error(api.get(f"/users/{alice_id}/notes?cursor={forged}"), 400, "invalid_cursor")


@pytest.mark.parametrize("path", ["/notes/99999999999999999999999", "/notes/0"])
def test_absurd_ids_are_404_not_500(api, path):
    api.register("alice")
    assert_error(api.get(path), 404)
    assert_error(api.delete(path, "alice"), 404)
    assert_error(api.post(path + "/like", "alice"), 404)
    assert_error(api.get("/users/99999999999999999999999/notes"), 404)


# --- mentions ----------------------------------------------------------------------------------


def mentions_of(user_id: int) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.recipient_id == user_id, Notification.kind == "mention"
            )
        )
    )


def test_mentions_notify_on_first_publish_only(api):
    for name in ("alice", "bob", "carol", "dave"):
        api.register(name)
    ids = {name: api.users[name]["id"] for name in ("alice", "bob", "carol", "dave")}
    body = "hi @Bob and @carol, not @nobody_here nor mail a@dave.com nor @alice"
    draft = image_note(api, "alice", body=body, status="draft")
    stored = set(
        db.session.scalars(select(NoteMention.user_id).where(NoteMention.note_id == draft["id"]))
    )
    assert stored == {ids["bob"], ids["carol"]}
    assert mentions_of(ids["bob"]) == []  # a draft notifies nobody

    api.patch(f"/notes/{draft['id']}", "alice", json={"status": "published"})
    for name in ("bob", "carol"):
        rows = mentions_of(ids[name])
        assert len(rows) == 1
        assert rows[0].actor_id == ids["alice"] and rows[0].note_id == draft["id"]
    assert mentions_of(ids["dave"]) == [] and mentions_of(ids["alice"]) == []

    # Editing the published note: only a newly mentioned user hears about it.
    api.patch(f"/notes/{draft['id']}", "alice", json={"body": body + " @dave"})
    assert len(mentions_of(ids["dave"])) == 1
    assert len(mentions_of(ids["bob"])) == 1


def test_at_most_twenty_mentions_are_kept(api):
    api.register("alice")
    names = [f"user{i:02d}" for i in range(22)]
    for name in names:
        api.register(name)
    body = " ".join(f"@{name}" for name in names)
    note = image_note(api, "alice", body=body)
    assert count(NoteMention, NoteMention.note_id == note["id"]) == 20


def test_notes_by_id_in_order_without_invisible_ones(api):
    from tests.conftest import insert_note

    author = api.register("batcher")
    first, second = insert_note(author["id"], "一"), insert_note(author["id"], "二")
    draft = insert_note(author["id"], "草稿", status="draft")
    body = api.get(f"/notes?ids={second},{draft},{first},999999").get_json()
    assert [item["id"] for item in body["items"]] == [second, first]
    assert api.get(f"/notes?ids={draft}", "batcher").get_json()["items"][0]["id"] == draft
    assert_error(api.get("/notes?ids=abc"), 400)
    assert_error(api.get("/notes?ids=" + ",".join(["1"] * 51)), 400)
    assert_error(api.get("/notes"), 400)
