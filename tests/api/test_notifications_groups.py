"""Grouped notifications: one item per (type, target) while unread, exact actor counts,
unread counts by type, read groups staying as they were, muting and `send_system`."""

from __future__ import annotations

import threading

from tests.conftest import assert_error
from tests.conftest import insert_note as make_note


def deliver(kind, recipient, actor=None, note=None, comment=None, payload=None):
    from app.notifications.jobs import deliver_notification

    deliver_notification(kind, recipient, actor, note, comment, payload)


def ok(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def test_likes_on_one_note_are_one_group_until_read(api):
    me = api.register("author")["id"]
    fans = [api.register(f"fan{i}", nickname=f"小{chr(65 + i)}")["id"] for i in range(5)]
    note = make_note(me, "我的笔记")
    other = make_note(me, "另一篇")
    for fan in fans:
        deliver("like", me, fan, note)
    deliver("like", me, fans[0], other)
    deliver("follow", me, fans[1])
    deliver("follow", me, fans[2])
    deliver("like", me, fans[0], note)  # a repeat adds nobody

    body = ok(api.get("/notifications", "author"))
    assert [(i["type"], i["target"]) for i in body["items"]] == [
        ("follow", {"type": "user", "id": me}),
        ("like", {"type": "note", "id": other}),
        ("like", {"type": "note", "id": note}),
    ]
    group = body["items"][2]
    assert group["actor_count"] == 5 and group["read"] is False
    assert [a["nickname"] for a in group["actors"]] == ["小E", "小D", "小C"]  # latest 3
    assert group["latest_at"] and group["note"]["id"] == note
    assert body["items"][0]["actor_count"] == 2
    assert body["unread_count"] == 3
    counts = ok(api.get("/notifications/unread-count", "author"))
    assert counts == {"total": 3, "by_type": {"like": 2, "follow": 1}}
    assert ok(api.get("/notifications/unread_count", "author")) == {"unread_count": 3}

    # Read: the group stays as it was; a later like opens a new unread group.
    assert ok(api.post("/notifications/read", "author", json={"ids": [group["id"]]})) == {
        "updated": 1
    }
    late = api.register("late", nickname="迟到")["id"]
    deliver("like", me, late, note)
    items = ok(api.get("/notifications", "author"))["items"]
    likes = [i for i in items if i["type"] == "like" and i["target"]["id"] == note]
    assert [(i["read"], i["actor_count"]) for i in likes] == [(False, 1), (True, 5)]
    assert likes[0]["actors"][0]["nickname"] == "迟到" and likes[0]["id"] != group["id"]
    assert ok(api.get("/notifications/unread-count", "author"))["by_type"] == {
        "like": 2,
        "follow": 1,
    }
    unread = ok(api.get("/notifications?unread=true&type=like", "author"))["items"]
    expected = {i["id"] for i in items if i["type"] == "like" and not i["read"]}
    assert {i["id"] for i in unread} == expected and len(expected) == 2

    # all: true reads everything; marking again changes nothing.
    assert ok(api.post("/notifications/read", "author", json={"all": True}))["updated"] == 3
    assert ok(api.post("/notifications/read", "author", json={"all": True}))["updated"] == 0
    assert ok(api.get("/notifications/unread-count", "author")) == {"total": 0, "by_type": {}}


def test_comments_and_notices_stay_one_item_each(api):
    me = api.register("author")["id"]
    a = api.register("aaa")["id"]
    note = make_note(me, "笔记")
    deliver("comment", me, a, note, None, {"excerpt": "第一条"})
    deliver("comment", me, a, note, None, {"excerpt": "第二条"})
    deliver("system", me, payload={"text": "欢迎"})
    items = ok(api.get("/notifications", "author"))["items"]
    assert [(i["type"], i["payload"]) for i in items] == [
        ("system", {"text": "欢迎"}),
        ("comment", {"excerpt": "第二条"}),
        ("comment", {"excerpt": "第一条"}),
    ]
    assert items[0]["target"] == {"type": "notice", "id": items[0]["target"]["id"]}
    assert items[0]["actors"] == [] and items[0]["actor_count"] == 0


def test_pages_follow_the_cursor_without_repeats(api):
    me = api.register("author")["id"]
    fans = [api.register(f"fan{i}")["id"] for i in range(3)]
    notes = [make_note(me, f"n{i}") for i in range(7)]
    for note in notes:
        for fan in fans:
            deliver("like", me, fan, note)
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = ok(api.get("/notifications", "author", query_string=query))
        seen += [i["target"]["id"] for i in body["items"]]
        assert all(i["actor_count"] == 3 for i in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == notes[::-1]


def test_read_only_touches_own_groups(api):
    me = api.register("meme")["id"]
    you = api.register("you")["id"]
    third = api.register("third")["id"]
    deliver("follow", me, third)
    deliver("follow", you, third)
    mine = ok(api.get("/notifications", "meme"))["items"][0]["id"]
    theirs = ok(api.get("/notifications", "you"))["items"][0]["id"]
    assert ok(api.post("/notifications/read", "meme", json={"ids": [theirs]})) == {"updated": 0}
    assert ok(api.get("/notifications/unread-count", "you"))["total"] == 1
    assert ok(api.post("/notifications/read", "meme", json={"ids": [mine, theirs]}))["updated"] == 1
    assert_error(api.get("/notifications/unread-count"), 401)
    assert_error(api.post("/notifications/read", "meme", json={"ids": "x"}), 400)


def test_concurrent_likers_make_one_exact_group(app, api):
    """20 users like one note at once, each delivery in its own thread and session (the
    jobs of a real multi-worker server): one group, actor_count 20."""
    from app.core.extensions import db, remove_session

    me = api.register("author")["id"]
    fans = [api.register(f"fan{i}")["id"] for i in range(20)]
    note = make_note(me, "热门")
    barrier = threading.Barrier(len(fans))
    errors = []

    def like(fan):
        with app.app_context():
            try:
                barrier.wait()
                deliver("like", me, fan, note)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                remove_session(db.state.session)

    threads = [threading.Thread(target=like, args=(fan,)) for fan in fans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    items = ok(api.get("/notifications", "author"))["items"]
    assert len(items) == 1 and items[0]["actor_count"] == 20 and len(items[0]["actors"]) == 3
    assert ok(api.get("/notifications/unread-count", "author")) == {
        "total": 1,
        "by_type": {"like": 1},
    }


def test_muted_types_are_not_listed_as_new(api):
    me = api.register("meme")["id"]
    fan = api.register("fan")["id"]
    note = make_note(me)
    assert ok(api.get("/me/notification-settings", "meme"))["muted_types"] == []
    deliver("like", me, fan, note)  # unread before the mute: read by it
    body = ok(api.put("/me/notification-settings", "meme", json={"muted_types": ["like", "like"]}))
    assert body["muted_types"] == ["like"] and "recall" in body["known_types"]
    deliver("like", me, api.register("fan2")["id"], note)
    deliver("follow", me, fan)
    assert ok(api.get("/notifications/unread-count", "meme")) == {
        "total": 1,
        "by_type": {"follow": 1},
    }
    assert [i["type"] for i in ok(api.get("/notifications?unread=true", "meme"))["items"]] == [
        "follow"
    ]
    # Unknown types and zones are refused and change nothing.
    error = assert_error(
        api.put("/me/notification-settings", "meme", json={"muted_types": ["like", "bogus"]}), 400
    )
    assert error["code"] == "validation_error" and "bogus" in str(error["details"])
    assert_error(api.put("/me/notification-settings", "meme", json={"muted_types": "like"}), 400)
    assert_error(api.put("/me/notification-settings", "meme", json={"timezone": "Mars/Base"}), 400)
    assert_error(api.put("/me/notification-settings", "meme", json={}), 400)
    assert_error(api.put("/me/notification-settings", json={"muted_types": []}), 401)
    assert ok(api.get("/me/notification-settings", "meme"))["muted_types"] == ["like"]
    body = ok(api.put("/me/notification-settings", "meme", json={"timezone": "Europe/Paris"}))
    assert body == {**body, "muted_types": ["like"], "timezone": "Europe/Paris"}
    ok(api.put("/me/notification-settings", "meme", json={"muted_types": []}))
    deliver("like", me, api.register("fan3")["id"], note)
    assert ok(api.get("/notifications/unread-count", "meme"))["by_type"] == {"follow": 1, "like": 1}


def test_send_system_writes_in_the_callers_transaction_unless_muted(app, api):
    import pytest

    from app.core.extensions import db
    from app.core.jobs import commit
    from app.notifications.models import PushMessage
    from app.notifications.services import send_system

    me = api.register("meme")["id"]
    assert send_system(me, "recall", "好久不见", "来看看新笔记", payload={"campaign_id": 3})
    db.session.rollback()  # not committed by send_system: gone with the caller's rollback
    assert ok(api.get("/notifications/unread-count", "meme"))["total"] == 0

    assert send_system(me, "recall", "好久不见", "来看看新笔记", payload={"campaign_id": 3})
    commit()
    item = ok(api.get("/notifications", "meme"))["items"][0]
    assert item["type"] == "recall" and item["payload"] == {
        "title": "好久不见",
        "body": "来看看新笔记",
        "campaign_id": 3,
    }
    pushes = db.session.query(PushMessage).filter_by(recipient_id=me).all()
    assert [(p.kind, p.title) for p in pushes] == [("recall", "好久不见")]

    assert send_system(me, "verification", "认证通过", "你已获得认证", push=False)
    ok(api.put("/me/notification-settings", "meme", json={"muted_types": ["invite_reward"]}))
    assert send_system(me, "invite_reward", "奖励", "+10") is False
    commit()
    assert ok(api.get("/notifications/unread-count", "meme"))["by_type"] == {
        "recall": 1,
        "verification": 1,
    }
    assert db.session.query(PushMessage).filter_by(recipient_id=me).count() == 1
    with pytest.raises(ValueError):
        send_system(me, "no_such_kind", "t", "b")
    db.session.rollback()


def test_stream_authenticates_and_resumes_after_last_event_id(app, api):
    import json

    from app.notifications.config import NotificationConfig, set_notification_config

    set_notification_config(app, NotificationConfig(stream_seconds=1.0, stream_poll_seconds=0.1))
    me = api.register("meme")["id"]
    fans = [api.register(f"fan{i}")["id"] for i in range(3)]
    for fan in fans:
        deliver("follow", me, fan)
    token = api.tokens["meme"]

    response = api.get("/notifications/stream", query_string={"token": token, "last_event_id": 1})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)  # ends by itself after stream_seconds
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [e["actor"]["username"] for e in events] == ["fan1", "fan2"]
    assert {e["type"] for e in events} == {"follow"} and events[1]["actor_count"] == 3
    assert "id: 3" in text and text.startswith("retry: 1000") and "reconnect" in text

    headers = {"Last-Event-ID": "2"}
    text = api.get("/notifications/stream", "meme", headers=headers).get_data(as_text=True)
    assert [line for line in text.splitlines() if line.startswith("id: ")] == ["id: 3"]
    # No Last-Event-ID: only what comes after the stream opened.
    text = api.get("/notifications/stream", "meme").get_data(as_text=True)
    assert "data: " not in text

    assert_error(api.get("/notifications/stream"), 401)
    assert_error(api.get("/notifications/stream", query_string={"token": "nope"}), 401)
    bad = {"Last-Event-ID": "x1"}
    assert_error(api.get("/notifications/stream", "meme", headers=bad), 400)
    assert_error(api.get("/notifications/stream", "meme", query_string={"last_event_id": -1}), 400)


def test_a_process_holds_a_bounded_number_of_streams(app, api):
    from app.notifications import stream
    from app.notifications.config import NotificationConfig

    config = NotificationConfig(streams_per_process=2)
    app.extensions.pop(stream.SLOTS_KEY, None)
    first, second = stream.take_slot(app, config), stream.take_slot(app, config)
    with __import__("pytest").raises(stream.StreamBusy) as busy:
        stream.take_slot(app, config)
    assert busy.value.status == 429 and busy.value.headers["Retry-After"]
    first()
    first()  # releasing twice frees one slot only
    third = stream.take_slot(app, config)
    with __import__("pytest").raises(stream.StreamBusy):
        stream.take_slot(app, config)
    second()
    third()
    app.extensions.pop(stream.SLOTS_KEY, None)
