"""Channels, topics (editor-managed), topic pages and notes, topic follows, onboarding."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import assert_error
from tests.conftest import insert_note as make_note


def make_topic(api, name, editor="editor", **extra):
    if editor not in api.tokens:
        api.register(editor)
        api.grant(editor, "editor")
    response = api.post("/topics", editor, json={"name": name, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_channels_are_listed_in_order(api):
    from app.notes.models import DEFAULT_CHANNELS

    body = api.get("/channels").get_json()
    assert body["items"] == [{"code": code, "name": name} for code, name in DEFAULT_CHANNELS]


def test_only_editors_create_topics(api):
    api.register("user")
    api.register("editor")
    api.grant("editor", "editor")
    payload = {"name": "露营", "description": "户外露营", "guide": "带上地点", "channel": "travel"}
    assert_error(api.post("/topics", "user", json=payload), 403)
    assert_error(api.post("/topics", json=payload), 401)
    created = api.post("/topics", "editor", json=payload)
    assert created.status_code == 201
    topic = created.get_json()
    assert topic["name"] == "露营" and topic["guide"] == "带上地点"
    assert topic["channel"] == {"code": "travel", "name": "旅行"}
    assert topic["note_count"] == 0 and topic["follower_count"] == 0
    assert topic["followed"] is False

    assert_error(api.post("/topics", "editor", json=payload), 409, "topic_exists")
    api.grant("user", "admin")  # admins have every role
    assert api.post("/topics", "user", json={"name": "Camping"}).status_code == 201
    assert_error(api.post("/topics", "editor", json={"name": "CAMPING"}), 409, "topic_exists")
    for bad in [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 21},
        {"name": 5},
        {"name": "a\nb"},
        {"name": "ok", "description": "d" * 1001},
        {"description": "no name"},
    ]:
        assert_error(api.post("/topics", "editor", json=bad), 400)
    unknown = api.post("/topics", "editor", json={"name": "新话题", "channel": "nope"})
    assert_error(unknown, 422, "unknown_channel")

    from app.core.extensions import db
    from app.notes.models import Topic

    assert db.session.scalar(select(func.count()).select_from(Topic)) == 2


def test_topic_page_and_editing(api):
    topic = make_topic(api, "咖啡", description="手冲", channel="food")
    make_topic(api, "茶")
    api.register("reader")
    page = api.get(f"/topics/{topic['id']}", "reader").get_json()
    assert page["description"] == "手冲" and page["channel"]["code"] == "food"

    assert_error(api.patch(f"/topics/{topic['id']}", "reader", json={"guide": "x"}), 403)
    patched = api.patch(
        f"/topics/{topic['id']}", "editor", json={"guide": "写豆子", "channel": None}
    )
    assert patched.status_code == 200
    assert patched.get_json()["guide"] == "写豆子" and patched.get_json()["channel"] is None
    assert patched.get_json()["description"] == "手冲"  # untouched fields stay
    assert_error(
        api.patch(f"/topics/{topic['id']}", "editor", json={"name": "茶"}), 409, "topic_exists"
    )
    assert api.get(f"/topics/{topic['id']}").get_json()["name"] == "咖啡"
    assert_error(api.patch("/topics/99999", "editor", json={"guide": "x"}), 404, "topic_not_found")


@pytest.mark.parametrize("bad", ["abc", "-1", str(10**30), "0"])
def test_hostile_topic_ids(api, bad):
    api.register("someone")
    for method, path in [
        ("GET", f"/topics/{bad}"),
        ("GET", f"/topics/{bad}/notes"),
        ("POST", f"/topics/{bad}/follow"),
        ("DELETE", f"/topics/{bad}/follow"),
    ]:
        response = api.call(method, path, "someone")
        assert_error(response, 404)


def test_topic_follow_is_idempotent_and_exact(api):
    topic = make_topic(api, "跑步")
    api.register("runner")
    for _ in range(3):
        assert api.post(f"/topics/{topic['id']}/follow", "runner").get_json() == {
            "followed": True,
            "follower_count": 1,
        }
    assert api.get(f"/topics/{topic['id']}", "runner").get_json()["followed"] is True
    for _ in range(2):
        assert api.delete(f"/topics/{topic['id']}/follow", "runner").get_json() == {
            "followed": False,
            "follower_count": 0,
        }
    for i in range(5):
        (api.post if i % 2 == 0 else api.delete)(f"/topics/{topic['id']}/follow", "runner")
    from app.core.extensions import db
    from app.notes.models import Topic
    from app.social.models import TopicFollow

    db.session.expire_all()
    rows = db.session.scalar(select(func.count()).select_from(TopicFollow))
    assert rows == 1 and db.session.get(Topic, topic["id"]).follower_count == 1
    assert_error(api.post(f"/topics/{topic['id']}/follow"), 401)


def test_search_and_list_topics(api):
    names = ["上海美食", "北京美食", "美食探店", "旅行攻略", "100%好吃"]
    topics = {name: make_topic(api, name) for name in names}
    for i in range(3):
        api.register(f"fan{i}")
        api.post(f"/topics/{topics['旅行攻略']['id']}/follow", f"fan{i}")
    api.post(f"/topics/{topics['美食探店']['id']}/follow", "fan0")

    found = api.get("/topics", query_string={"q": "美食"}).get_json()["items"]
    assert [t["name"] for t in found] == ["美食探店", "北京美食", "上海美食"]
    assert [t["name"] for t in api.get("/topics?q=%25").get_json()["items"]] == ["100%好吃"]
    assert api.get("/topics?q=nothing").get_json()["items"] == []

    listed = api.get("/topics", query_string={"limit": 2}).get_json()
    assert [t["name"] for t in listed["items"]] == ["旅行攻略", "美食探店"]
    rest = api.get("/topics", query_string={"limit": 50, "cursor": listed["next_cursor"]})
    assert [t["name"] for t in rest.get_json()["items"]] == ["100%好吃", "北京美食", "上海美食"]
    assert rest.get_json()["next_cursor"] is None
    for query in [{"limit": 0}, {"limit": 51}, {"cursor": "%%%"}, {"q": "x" * 21}]:
        assert_error(api.get("/topics", query_string=query), 400)


def test_topic_notes_sorting_and_filters(api):
    topic = make_topic(api, "健身")
    other = make_topic(api, "读书")
    author = api.register("author")["id"]
    old = make_note(author, "old", topics=[topic["id"]], ago=30, like_count=50)
    mid = make_note(author, "mid", topics=[topic["id"]], ago=20, comment_count=3, like_count=1)
    new = make_note(author, "new", topics=[topic["id"]], ago=10, collect_count=2)
    make_note(author, "draft", topics=[topic["id"]], status="draft")
    make_note(author, "gone", topics=[topic["id"]], deleted=True)
    make_note(author, "elsewhere", topics=[other["id"]])

    def ids(sort, **query):
        body = api.get(f"/topics/{topic['id']}/notes", query_string={"sort": sort, **query})
        assert body.status_code == 200, body.get_json()
        return [item["id"] for item in body.get_json()["items"]]

    assert ids("new") == [new, mid, old]
    # No hot score yet: weighted engagement (old 50, mid 1+9=10, new 4).
    assert ids("hot") == [old, mid, new]
    default = api.get(f"/topics/{topic['id']}/notes").get_json()["items"]
    assert [item["id"] for item in default] == [old, mid, new]  # hot is the default

    from app.core.extensions import db
    from app.notes.models import Note

    db.session.get(Note, new).hot_score = 9.5
    db.session.get(Note, mid).hot_score = 3.25
    db.session.commit()
    assert ids("hot") == [new, mid, old]

    # Page through both orders one by one: same order, no gaps, no duplicates.
    for sort, expected in [("new", [new, mid, old]), ("hot", [new, mid, old])]:
        seen, cursor = [], None
        while True:
            query = {"sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
            body = api.get(f"/topics/{topic['id']}/notes", query_string=query).get_json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == expected

    item = api.get(f"/topics/{topic['id']}/notes?sort=new").get_json()["items"][0]
    assert item["title"] == "new" and item["author"]["id"] == author and item["liked"] is False
    hot_cursor = api.get(f"/topics/{topic['id']}/notes?sort=hot&limit=1").get_json()["next_cursor"]
    assert_error(
        api.get(f"/topics/{topic['id']}/notes", query_string={"sort": "new", "cursor": hot_cursor}),
        400,
        "invalid_cursor",
    )
    assert_error(api.get(f"/topics/{topic['id']}/notes?sort=top"), 400)
    assert_error(api.get(f"/topics/{topic['id']}/notes?limit=51"), 400)


def test_onboarding_offers_channels_and_popular_topics(api):
    from app.core.extensions import db
    from app.notes.models import Topic

    created = [make_topic(api, f"话题{i:02d}") for i in range(22)]
    for i, topic in enumerate(created):
        row = db.session.get(Topic, topic["id"])
        row.follower_count = i % 5  # ties broken by note_count
        row.note_count = i
    db.session.commit()
    body = api.get("/onboarding/interests").get_json()
    assert len(body["channels"]) == 10 and body["channels"][0] == {"code": "beauty", "name": "美妆"}
    got = [(t["follower_count"], t["note_count"]) for t in body["topics"]]
    assert len(got) == 20
    assert got == sorted(((i % 5, i) for i in range(22)), reverse=True)[:20]
