"""Reading notifications: list with filters and cursors, unread counts, marking read."""

from __future__ import annotations

from tests.conftest import assert_error
from tests.conftest import insert_note as make_note


def deliver(kind, recipient, actor=None, note=None, comment=None, payload=None):
    """Notifications are delivered by the job directly (the areas that cause them are elsewhere)."""
    from app.notifications.jobs import deliver_notification

    deliver_notification(kind, recipient, actor, note, comment, payload)


def test_list_shows_actor_note_and_unread_count(api):
    me = api.register("myself")["id"]
    fan = api.register("fan", nickname="粉丝")["id"]
    note = make_note(me, "我的笔记")
    deliver("like", me, fan, note)
    deliver("follow", me, fan)
    deliver("system", me, payload={"text": "欢迎来到 Sprout"})
    deliver("like", fan, me, None)  # someone else's

    body = api.get("/notifications", "myself").get_json()
    assert body["unread_count"] == 3 and body["next_cursor"] is None
    kinds = [item["kind"] for item in body["items"]]
    assert kinds == ["system", "follow", "like"]  # newest first
    system, follow, like = body["items"]
    assert system["actor"] is None and system["payload"] == {"text": "欢迎来到 Sprout"}
    assert follow["actor"]["nickname"] == "粉丝" and follow["note"] is None
    assert like["note"] == {"id": note, "title": "我的笔记", "cover": None}
    assert like["read"] is False and like["comment_id"] is None and like["created_at"]
    assert api.get("/notifications/unread_count", "myself").get_json() == {"unread_count": 3}
    assert_error(api.get("/notifications"), 401)


def test_filters_and_cursor_paging(api):
    me = api.register("myself")["id"]
    other = api.register("other")["id"]
    for i in range(25):
        deliver("mention" if i % 5 == 0 else "comment", me, other, payload={"i": i})
    mentions = api.get("/notifications?kind=mention", "myself").get_json()["items"]
    assert [item["payload"]["i"] for item in mentions] == [20, 15, 10, 5, 0]

    seen, cursor = [], None
    while True:
        query = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        body = api.get("/notifications", "myself", query_string=query).get_json()
        seen += [item["payload"]["i"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(24, -1, -1))

    for query in [
        {"kind": "bogus"},
        {"limit": 0},
        {"limit": 51},
        {"cursor": "@@"},
        {"unread": "maybe"},
    ]:
        assert_error(api.get("/notifications", "myself", query_string=query), 400)
    from app.core.pagination import pack as encode_cursor

    for forged in [
        encode_cursor(-1),
        encode_cursor(10**30),
        encode_cursor("x"),
        encode_cursor(1),
        encode_cursor(1, 2, 3),
    ]:
        response = api.get("/notifications", "myself", query_string={"cursor": forged})
        assert_error(response, 400, "invalid_cursor")


def test_mark_read_only_touches_own(api):
    me = api.register("myself")["id"]
    you = api.register("you")["id"]
    for _ in range(3):
        deliver("comment", me, you)
    deliver("comment", you, me)
    mine = [item["id"] for item in api.get("/notifications", "myself").get_json()["items"]]
    theirs = api.get("/notifications", "you").get_json()["items"][0]["id"]

    response = api.post("/notifications/read", "myself", json={"ids": [mine[0], theirs, 999999]})
    assert response.get_json() == {"updated": 1}
    assert api.get("/notifications/unread_count", "you").get_json()["unread_count"] == 1
    # Marking again changes nothing.
    assert api.post("/notifications/read", "myself", json={"ids": [mine[0]]}).get_json() == {
        "updated": 0
    }
    unread = api.get("/notifications?unread=true", "myself").get_json()
    assert [item["id"] for item in unread["items"]] == mine[1:]
    assert unread["unread_count"] == 2
    assert api.post("/notifications/read", "myself", json={"all": True}).get_json() == {
        "updated": 2
    }
    body = api.get("/notifications", "myself").get_json()
    assert body["unread_count"] == 0 and all(item["read"] for item in body["items"])
    assert api.get("/notifications/unread_count", "you").get_json()["unread_count"] == 1

    for bad in [{}, {"ids": []}, {"ids": ["abc"]}, {"ids": [-1]}, {"ids": [10**30]}, {"all": "x"}]:
        assert_error(api.post("/notifications/read", "myself", json=bad), 400)
    assert_error(api.post("/notifications/read", json={"all": True}), 401)


def test_hidden_note_is_not_described(api):
    from app.core.extensions import db
    from app.notes.models import Note

    me = api.register("myself")["id"]
    fan = api.register("fan")["id"]
    note = make_note(fan, "secret")
    deliver("mention", me, fan, note)
    db.session.get(Note, note).status = "hidden"
    db.session.commit()
    item = api.get("/notifications", "myself").get_json()["items"][0]
    assert item["kind"] == "mention" and item["note"] is None
