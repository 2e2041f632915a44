"""The following feed: followed authors and followed topics, newest first, no duplicates."""

from __future__ import annotations

from tests.conftest import assert_error
from tests.conftest import insert_note as make_note


def make_topic(name):
    from app.core.extensions import db
    from app.notes.models import Topic

    topic = Topic(name=name)
    db.session.add(topic)
    db.session.commit()
    return topic.id


def feed_ids(api, user, **query):
    response = api.get("/feeds/following", user, query_string=query)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_following_feed_contents(api):
    me = api.register("myself")["id"]
    friend = api.register("friend")["id"]
    stranger = api.register("stranger")["id"]
    hiking = make_topic("徒步")
    knitting = make_topic("编织")
    api.post(f"/users/{friend}/follow", "myself")
    api.post(f"/topics/{hiking}/follow", "myself")

    by_friend = make_note(friend, "friend's", ago=50)
    both = make_note(friend, "friend's hike", topics=[hiking], ago=40)
    stranger_in_topic = make_note(stranger, "stranger hike", topics=[hiking], ago=30)
    make_note(stranger, "stranger other", topics=[knitting], ago=20)
    make_note(friend, "draft", status="draft")
    make_note(friend, "deleted", deleted=True)
    make_note(stranger, "deleted hike", topics=[hiking], deleted=True)
    make_note(me, "my own hike", topics=[hiking], ago=5)
    make_note(friend, "hidden", topics=[hiking], status="hidden")

    ids = feed_ids(api, "myself")
    assert ids == [stranger_in_topic, both, by_friend]
    body = api.get("/feeds/following", "myself").get_json()
    item = body["items"][0]
    assert item["source"] == "following" and item["title"] == "stranger hike"
    assert item["author"]["id"] == stranger and item["liked"] is False
    assert body["next_cursor"] is None

    # Unfollowing the author keeps only what the topic brings in.
    api.delete(f"/users/{friend}/follow", "myself")
    assert feed_ids(api, "myself") == [stranger_in_topic, both]
    api.delete(f"/topics/{hiking}/follow", "myself")
    assert feed_ids(api, "myself") == []
    assert feed_ids(api, "friend") == []  # follows no one


def test_following_feed_pages_without_gaps(api):
    api.register("reader")
    author = api.register("writer")["id"]
    topic = make_topic("摄影")
    api.post(f"/users/{author}/follow", "reader")
    api.post(f"/topics/{topic}/follow", "reader")
    # Same timestamp for several notes: the id breaks ties in the keyset.
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.notes.models import Note

    notes = [make_note(author, f"n{i}", topics=[topic] if i % 2 else []) for i in range(23)]
    moment = utcnow()
    for note_id in notes[:6]:
        db.session.get(Note, note_id).published_at = moment
    db.session.commit()
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        body = api.get("/feeds/following", "reader", query_string=query).get_json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 23 and set(seen) == set(notes)
    rows = {note_id: db.session.get(Note, note_id) for note_id in notes}
    keys = [(rows[i].published_at, i) for i in seen]
    assert keys == sorted(keys, reverse=True)


def test_following_feed_rejects_bad_input(api):
    api.register("reader")
    assert_error(api.get("/feeds/following"), 401)
    for query in [{"limit": 0}, {"limit": 51}, {"limit": "ten"}, {"cursor": "garbage!"}]:
        assert_error(api.get("/feeds/following", "reader", query_string=query), 400)
    from app.core.pagination import pack as encode_cursor

    for forged in [encode_cursor("2024-13-99", 1), encode_cursor(None, 1), encode_cursor(1)]:
        response = api.get("/feeds/following", "reader", query_string={"cursor": forged})
        assert_error(response, 400, "invalid_cursor")
