"""Comments: two-level threads, counters, deletion, likes, notifications and hostile input."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.conftest import assert_error, insert_note


def make_note(api: Any, username: str, title: str = "笔记", status: str = "published") -> int:
    return insert_note(api.users[username]["id"], title, status=status)


def note_counts(note_id: int) -> int:
    from app.core.extensions import db
    from app.notes.models import Note

    return db.session.scalar(select(Note.comment_count).where(Note.id == note_id))


def comment_row(comment_id: int) -> Any:
    from app.core.extensions import db
    from app.notes.models import Comment

    db.session.expire_all()
    return db.session.get(Comment, comment_id)


def notifications(kind: str | None = None) -> list[tuple[str, int, int | None, int | None]]:
    from app.core.extensions import db
    from app.notifications.models import Notification

    stmt = select(
        Notification.kind, Notification.recipient_id, Notification.actor_id, Notification.comment_id
    ).order_by(Notification.id)
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return [tuple(row) for row in db.session.execute(stmt)]


def comment(api: Any, note_id: int, user: str, body: str, parent_id: int | None = None) -> dict:
    payload: dict[str, Any] = {"body": body}
    if parent_id is not None:
        payload["parent_id"] = parent_id
    response = api.post(f"/notes/{note_id}/comments", user, json=payload)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_reply_to_a_reply_joins_the_same_thread(api):
    alice, bob, carol, dave = (api.register(n) for n in ("alice", "bob", "carol", "dave"))
    note_id = make_note(api, "alice")

    root = comment(api, note_id, "bob", "好看！")
    assert root["root_id"] is None and root["parent_id"] is None and root["reply_to"] is None
    assert root["author"]["id"] == bob["id"] and root["note_id"] == note_id
    assert root["body"] == "好看！" and root["like_count"] == 0 and root["liked"] is False

    reply = comment(api, note_id, "carol", "同意", parent_id=root["id"])
    assert reply["root_id"] == root["id"] and reply["parent_id"] == root["id"]
    assert reply["reply_to"]["id"] == bob["id"]

    deep = comment(api, note_id, "dave", "+1", parent_id=reply["id"])
    # Still two levels: the root is the top-level comment, the parent the reply answered.
    assert deep["root_id"] == root["id"] and deep["parent_id"] == reply["id"]
    assert deep["reply_to"]["id"] == carol["id"]

    assert note_counts(note_id) == 3
    assert comment_row(root["id"]).reply_count == 2
    assert comment_row(reply["id"]).reply_count == 0

    listed = api.get(f"/notes/{note_id}/comments").get_json()
    assert [item["id"] for item in listed["items"]] == [root["id"]]
    assert listed["items"][0]["reply_count"] == 2
    assert [r["id"] for r in listed["items"][0]["replies"]] == [reply["id"], deep["id"]]
    assert listed["next_cursor"] is None

    third = comment(api, note_id, "alice", "谢谢", parent_id=root["id"])
    listed = api.get(f"/notes/{note_id}/comments").get_json()
    thread = listed["items"][0]
    assert thread["reply_count"] == 3 and len(thread["replies"]) == 2  # previews capped at two

    # The full thread, oldest first, paginated.
    first = api.get(f"/comments/{root['id']}/replies?limit=2").get_json()
    assert [r["id"] for r in first["items"]] == [reply["id"], deep["id"]]
    assert "replies" not in first["items"][0]
    rest = api.get(f"/comments/{root['id']}/replies?limit=2&cursor={first['next_cursor']}")
    assert [r["id"] for r in rest.get_json()["items"]] == [third["id"]]
    assert rest.get_json()["next_cursor"] is None
    # Asking with a reply's id lists its thread.
    via_reply = api.get(f"/comments/{deep['id']}/replies").get_json()
    assert len(via_reply["items"]) == 3
    assert alice["id"] != dave["id"]


def test_comment_lists_sort_and_paginate(api):
    api.register("alice")
    for name in ("user1", "user2", "user3", "user4", "user5"):
        api.register(name)
    note_id = make_note(api, "alice")
    ids = [comment(api, note_id, f"user{i}", f"评论 {i}")["id"] for i in range(1, 6)]

    seen: list[int] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/notes/{note_id}/comments{query}").get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, no repeats, nothing skipped

    # Likes: third comment 3 likes, first 1 like.
    for name in ("user1", "user2", "user4"):
        assert api.post(f"/comments/{ids[2]}/like", name).status_code == 200
    api.post(f"/comments/{ids[0]}/like", "user2")
    hot: list[int] = []
    cursor = None
    while True:
        query = "?sort=hot&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/notes/{note_id}/comments{query}", "user1").get_json()
        hot += [item["id"] for item in page["items"]]
        if page["items"] and page["items"][0]["id"] == ids[2]:
            assert page["items"][0]["liked"] is True and page["items"][0]["like_count"] == 3
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert hot == [ids[2], ids[0], ids[4], ids[3], ids[1]]

    assert_error(api.get(f"/notes/{note_id}/comments?sort=best"), 400)
    assert_error(api.get(f"/notes/{note_id}/comments?cursor=%%%"), 400)
    assert_error(api.get(f"/notes/{note_id}/comments?sort=hot&cursor=WyJ4IiwxXQ"), 400)
    assert_error(api.get(f"/notes/{note_id}/comments?limit=0"), 400)
    assert_error(api.get("/notes/999999/comments"), 404, "note_not_found")
    assert_error(api.get(f"/notes/{2**64}/comments"), 404)


def test_notifications_for_comments_replies_and_mentions(api):
    alice, bob, carol, erin = (api.register(n) for n in ("alice", "bob", "carol", "erin"))
    note_id = make_note(api, "alice")

    root = comment(api, note_id, "bob", "@erin 快来看 @nobody_here @ALICE")
    reply = comment(api, note_id, "carol", "回复 @bob", parent_id=root["id"])
    comment(api, note_id, "alice", "作者自己评论不通知自己")

    assert notifications("comment") == [("comment", alice["id"], bob["id"], root["id"])]
    assert notifications("reply") == [("reply", bob["id"], carol["id"], reply["id"])]
    # erin is mentioned; alice too (she also gets the comment notification, so no duplicate);
    # bob is mentioned in the reply he is already told about.
    assert notifications("mention") == [("mention", erin["id"], bob["id"], root["id"])]
    assert all(row[1] != row[2] for row in notifications())  # nobody is told about themselves


def test_comment_input_is_validated_and_changes_nothing(api):
    api.register("alice")
    api.register("bob")
    note_id = make_note(api, "alice")
    other_note = make_note(api, "alice", "另一篇")
    draft = make_note(api, "alice", "草稿", status="draft")
    foreign = comment(api, other_note, "bob", "别处的评论")

    assert comment(api, note_id, "bob", "字" * 500)["body"] == "字" * 500
    before = note_counts(note_id)
    path = f"/notes/{note_id}/comments"
    assert_error(api.post(path, "bob", json={"body": "字" * 501}), 400, "comment_too_long")
    for payload in (
        {"body": ""},
        {"body": "   \n "},
        {"body": 123},
        {"body": None},
        {"body": ["a"]},
        {},
        {"body": "bad\x00byte"},
        {"body": "ok", "parent_id": "abc"},
        {"body": "ok", "parent_id": True},
        {"body": "ok", "parent_id": -1},
        {"body": "ok", "parent_id": 1.5},
    ):
        assert_error(api.post(path, "bob", json=payload), 400)
    assert_error(api.post(path, "bob", data="{oops", content_type="application/json"), 400)
    assert_error(
        api.post(path, "bob", json={"body": "x", "parent_id": foreign["id"]}),
        422,
        "parent_not_in_note",
    )
    assert_error(
        api.post(path, "bob", json={"body": "x", "parent_id": 999999}), 404, "comment_not_found"
    )
    assert_error(api.post(path, json={"body": "anon"}), 401)
    assert_error(api.post("/notes/999999/comments", "bob", json={"body": "x"}), 404)
    assert_error(api.post(f"/notes/{2**63}/comments", "bob", json={"body": "x"}), 404)
    assert_error(api.post(f"/notes/{draft}/comments", "bob", json={"body": "x"}), 404)
    assert note_counts(note_id) == before


def test_deleting_comments_keeps_counters_exact(api):
    api.register("alice")
    api.register("bob")
    api.register("carol")
    api.register("mod")
    api.grant("mod", "moderator")
    note_id = make_note(api, "alice")

    root = comment(api, note_id, "bob", "楼主")
    r1 = comment(api, note_id, "carol", "一楼", parent_id=root["id"])
    r2 = comment(api, note_id, "alice", "二楼", parent_id=r1["id"])
    r3 = comment(api, note_id, "carol", "三楼", parent_id=root["id"])
    other = comment(api, note_id, "carol", "另一条")
    assert note_counts(note_id) == 5

    # Only the comment's author, the note's author or a moderator may delete.
    assert_error(api.delete(f"/comments/{other['id']}", "bob"), 403)
    assert_error(api.delete(f"/comments/{other['id']}"), 401)

    assert api.delete(f"/comments/{r1['id']}", "carol").status_code == 204
    assert note_counts(note_id) == 4
    assert comment_row(root["id"]).reply_count == 2
    assert_error(api.delete(f"/comments/{r1['id']}", "carol"), 404, "comment_not_found")
    assert note_counts(note_id) == 4  # a second delete changes nothing
    # Replying to a deleted comment is refused.
    assert_error(
        api.post(f"/notes/{note_id}/comments", "bob", json={"body": "x", "parent_id": r1["id"]}),
        404,
        "comment_not_found",
    )

    # The thread's root: itself plus its two live replies become invisible.
    assert api.delete(f"/comments/{root['id']}", "alice").status_code == 204  # note author
    assert note_counts(note_id) == 1
    listed = api.get(f"/notes/{note_id}/comments").get_json()
    assert [item["id"] for item in listed["items"]] == [other["id"]]
    assert_error(api.get(f"/comments/{root['id']}/replies"), 404)
    assert_error(api.delete(f"/comments/{r3['id']}", "carol"), 404)  # gone with its thread
    assert_error(api.post(f"/comments/{r2['id']}/like", "bob"), 404)

    assert api.delete(f"/comments/{other['id']}", "mod").status_code == 204
    assert note_counts(note_id) == 0
    assert_error(api.delete("/comments/999999", "mod"), 404)
    assert_error(api.delete(f"/comments/{2**64}", "mod"), 404)


def test_comment_likes_are_idempotent_and_notify_once(api):
    api.register("alice")
    bob = api.register("bob")
    carol = api.register("carol")
    note_id = make_note(api, "alice")
    target = comment(api, note_id, "bob", "点赞我")
    path = f"/comments/{target['id']}/like"

    assert api.post(path, "carol").get_json() == {"liked": True, "like_count": 1}
    assert api.post(path, "carol").get_json() == {"liked": True, "like_count": 1}
    assert api.delete(path, "carol").get_json() == {"liked": False, "like_count": 0}
    assert api.delete(path, "carol").get_json() == {"liked": False, "like_count": 0}
    assert api.post(path, "carol").get_json()["like_count"] == 1
    assert api.post(path, "bob").get_json()["like_count"] == 2  # own like counts, no notice

    assert notifications("comment_like") == [("comment_like", bob["id"], carol["id"], target["id"])]
    from app.core.extensions import db
    from app.notes.models import CommentLike

    rows = db.session.scalar(
        select(func.count()).select_from(CommentLike).where(CommentLike.comment_id == target["id"])
    )
    assert rows == comment_row(target["id"]).like_count == 2

    listed = api.get(f"/notes/{note_id}/comments", "carol").get_json()
    assert listed["items"][0]["liked"] is True
    assert api.get(f"/notes/{note_id}/comments").get_json()["items"][0]["liked"] is False

    assert_error(api.post("/comments/999999/like", "carol"), 404)
    assert_error(api.delete("/comments/999999/like", "carol"), 404)
    assert_error(api.post(path), 401)
