"""The following feed's Redis inbox (services mode, PostgreSQL): the same pages as the SQL
query, fan-out on publish, dropped on follow changes, capped with SQL past the cap, pull for
big accounts, and the SQL path whenever Redis is missing or failing."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

import pytest
import redis as redis_lib
from rq import SimpleWorker
from sqlalchemy import select

from app.core.jobs import QUEUES
from app.core.jobs.models import OutboxJob
from app.core.models import utcnow
from app.feeds import inbox
from tests.conftest import Api, _clean_postgres, insert_note, make_app


@pytest.fixture
def redis_app(pg_database, tmp_path, redis_url):
    """Services mode on PostgreSQL with the test Redis (flushed before and after)."""
    _clean_postgres(pg_database)
    redis_lib.Redis.from_url(redis_url).flushdb()
    application = make_app(pg_database, tmp_path, redis_url=redis_url)
    with application.app_context():
        yield application
    from app.core.extensions import db

    with application.app_context():
        db.engine.dispose()
    redis_lib.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def rapi(redis_app):
    return Api(redis_app.test_client())


@pytest.fixture
def feeds_config(monkeypatch):
    """Override `FeedsConfig` fields for the inbox module only."""

    def set_config(**changes):
        monkeypatch.setattr(inbox, "FEEDS", dataclasses.replace(inbox.FEEDS, **changes))

    return set_config


def drain(app):
    SimpleWorker(list(QUEUES), connection=app.extensions["sprout.redis"]).work(burst=True)


def redis_of(app):
    return app.extensions["sprout.redis"]


def make_topic(name):
    from app.core.extensions import db
    from app.notes.models import Topic

    topic = Topic(name=name)
    db.session.add(topic)
    db.session.commit()
    return topic.id


def viewer_of(user_id):
    from app.accounts.models import User
    from app.core.extensions import db

    return db.session.get(User, user_id)


def walk(read, limit):
    """Every page of `read(limit, after)` as `following_page` walks it: (rows per page)."""
    pages, after = [], None
    while True:
        rows = read(limit, after)
        pages.append(rows)
        if len(rows) <= limit:
            return pages
        last_id, moment = rows[limit - 1]
        after = (moment, last_id)


def feed_ids(api, user, **query):
    response = api.get("/feeds/following", user, query_string=query)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def http_walk(api, user, limit):
    seen, cursor = [], None
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = api.get("/feeds/following", user, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def random_graph(api, seed):
    """A viewer following random authors and topics; notes with many ties in time, some
    hidden, deleted or drafts, some the viewer's own."""
    from app.core.extensions import db
    from app.notes.models import Note
    from app.social.models import TopicFollow, UserFollow

    rng = random.Random(seed)
    viewer = api.register("viewer")["id"]
    authors = [api.register(f"author{i}")["id"] for i in range(6)]
    topics = [make_topic(f"话题{i}") for i in range(4)]
    for author in rng.sample(authors, 3):
        db.session.add(UserFollow(follower_id=viewer, followee_id=author))
    for topic in rng.sample(topics, 2):
        db.session.add(TopicFollow(user_id=viewer, topic_id=topic))
    db.session.commit()
    now = utcnow().replace(microsecond=123456)
    for i in range(140):
        kind = rng.random()
        status = "draft" if kind < 0.05 else "hidden" if kind < 0.1 else "published"
        note_id = insert_note(
            rng.choice([*authors, viewer]),
            f"n{i}",
            topics=rng.sample(topics, rng.randint(0, 2)),
            status=status,
            deleted=rng.random() < 0.05,
        )
        if status == "published":  # few distinct instants: ties everywhere
            db.session.get(Note, note_id).published_at = now - timedelta(
                seconds=rng.randint(0, 30), microseconds=rng.choice([0, 1, 999_999])
            )
    db.session.commit()
    return viewer


@pytest.mark.parametrize("size", [800, 25])
@pytest.mark.parametrize("seed", [1, 2])
def test_inbox_pages_equal_the_sql_pages(redis_app, rapi, feeds_config, size, seed):
    from app.feeds.following import following_feed, following_sql

    feeds_config(inbox_size=size)
    viewer_id = random_graph(rapi, seed)
    viewer = viewer_of(viewer_id)
    key = inbox._keys(viewer_id)[0]
    expected = walk(lambda n, after: following_sql(viewer, n, after), 7)
    assert len(expected) > 3
    assert not redis_of(redis_app).exists(key)
    got = walk(lambda n, after: following_feed(viewer, n, after), 7)
    assert got == expected
    total = len({note_id for page in expected for note_id, _ in page})
    assert redis_of(redis_app).zcard(key) == min(size, total) + 1  # and the sentinel
    assert redis_of(redis_app).ttl(key) > 0
    # From the stored inbox now (and through the SQL past the cap when it is small).
    assert walk(lambda n, after: following_feed(viewer, n, after), 7) == expected
    assert walk(lambda n, after: following_feed(viewer, n, after), 3) == walk(
        lambda n, after: following_sql(viewer, n, after), 3
    )
    flat = [note_id for page in expected for note_id, _ in page[:7]]
    assert http_walk(rapi, "viewer", 7) == flat


def test_cap_then_sql_for_deep_pages(redis_app, rapi, feeds_config):
    from app.feeds.following import following_feed, following_sql

    feeds_config(inbox_size=10)
    viewer = rapi.register("reader")["id"]
    author = rapi.register("writer")["id"]
    rapi.post(f"/users/{author}/follow", "reader")
    notes = [insert_note(author, f"n{i}", ago=i) for i in range(30)]
    first = feed_ids(rapi, "reader", limit=5)
    assert first == notes[:5]
    key = inbox._keys(viewer)[0]
    assert redis_of(redis_app).zcard(key) == 11  # the cap and the sentinel
    calls = []
    reader = viewer_of(viewer)

    def counting_sql(limit, after):
        calls.append((limit, after))
        return following_sql(reader, limit, after)

    rows = inbox.following_ids(viewer, 5, None, counting_sql)
    assert [r[0] for r in rows] == notes[:6] and calls == []  # from Redis
    deep = (rows[4][1], rows[4][0])
    rows = inbox.following_ids(viewer, 5, deep, counting_sql)
    assert [r[0] for r in rows] == notes[5:11] and calls == [(5, deep)]  # 6th of 10 short
    assert http_walk(rapi, "reader", 4) == notes
    assert following_feed(reader, 50, None) == following_sql(reader, 50, None)


def test_fan_out_on_publish_into_existing_inboxes_only(redis_app, rapi):
    me = rapi.register("myself")["id"]
    idle = rapi.register("idle")["id"]
    friend = rapi.register("friend")["id"]
    stranger = rapi.register("stranger")["id"]
    hiking = make_topic("徒步")
    rapi.post(f"/users/{friend}/follow", "myself")
    rapi.post(f"/users/{friend}/follow", "idle")
    rapi.post(f"/topics/{hiking}/follow", "myself")
    rapi.post(f"/topics/{hiking}/follow", "friend")
    drain(redis_app)
    old = insert_note(friend, "old", ago=10)
    assert feed_ids(rapi, "myself") == [old]  # built

    def publish(user, title, **extra):
        response = rapi.post("/notes", user, json={"title": title, "status": "published", **extra})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    by_friend = publish("friend", "新的")
    in_topic = publish("stranger", "徒步路线", topic_ids=[hiking])
    both = publish("friend", "朋友徒步", topic_ids=[hiking])
    mine = publish("myself", "我的徒步", topic_ids=[hiking])
    drain(redis_app)
    connection = redis_of(redis_app)
    members = connection.zrevrange(inbox._keys(me)[0], 0, -1)
    assert [int(m) for m in members] == [both, in_topic, by_friend, old, 0]  # once each
    assert feed_ids(rapi, "myself") == [both, in_topic, by_friend, old]
    assert mine not in feed_ids(rapi, "myself")
    assert not connection.exists(inbox._keys(idle)[0])  # no partial inbox for idle
    # The friend follows the topic: their own note in it never enters their inbox.
    assert feed_ids(rapi, "friend") == [mine, in_topic]
    assert stranger not in feed_ids(rapi, "friend")
    # A draft published later is fanned out too (update path), and the next page sees it.
    draft = rapi.post("/notes", "friend", json={"title": "草稿", "status": "draft"}).get_json()
    published = rapi.patch(f"/notes/{draft['id']}", "friend", json={"status": "published"})
    assert published.status_code == 200
    drain(redis_app)
    assert feed_ids(rapi, "myself")[0] == draft["id"]


def test_follow_changes_drop_the_inbox(redis_app, rapi):
    me = rapi.register("myself")["id"]
    friend = rapi.register("friend")["id"]
    other = rapi.register("other")["id"]
    hiking = make_topic("徒步")
    rapi.post(f"/users/{friend}/follow", "myself")
    rapi.post(f"/topics/{hiking}/follow", "myself")
    by_friend = insert_note(friend, "friend's", ago=5)
    friend_hike = insert_note(friend, "friend hike", topics=[hiking], ago=4)
    by_other = insert_note(other, "other's", ago=3)
    assert feed_ids(rapi, "myself") == [friend_hike, by_friend]
    key = inbox._keys(me)[0]
    connection = redis_of(redis_app)
    assert connection.exists(key)

    rapi.delete(f"/users/{friend}/follow", "myself")
    assert not connection.exists(key)  # at once, after the commit
    assert feed_ids(rapi, "myself") == [friend_hike]
    rapi.post(f"/users/{other}/follow", "myself")
    assert feed_ids(rapi, "myself") == [by_other, friend_hike]
    rapi.delete(f"/topics/{hiking}/follow", "myself")
    assert feed_ids(rapi, "myself") == [by_other]
    rapi.post(f"/topics/{hiking}/follow", "myself")
    assert feed_ids(rapi, "myself") == [by_other, friend_hike]
    # The durable jobs drop it again (idempotent): the next read rebuilds the same.
    assert connection.exists(key)
    drain(redis_app)
    assert not connection.exists(key)
    assert feed_ids(rapi, "myself") == [by_other, friend_hike]


def test_a_follow_change_with_redis_failing_is_dropped_by_its_job(redis_app, rapi, monkeypatch):
    me = rapi.register("myself")["id"]
    friend = rapi.register("friend")["id"]
    rapi.post(f"/users/{friend}/follow", "myself")
    note = insert_note(friend, "friend's", ago=5)
    drain(redis_app)
    assert feed_ids(rapi, "myself") == [note]
    connection = redis_of(redis_app)

    def down(*args, **kwargs):
        raise redis_lib.ConnectionError("down")

    monkeypatch.setattr(connection, "delete", down)
    assert rapi.delete(f"/users/{friend}/follow", "myself").status_code == 200
    monkeypatch.undo()
    assert connection.exists(inbox._keys(me)[0])  # the immediate drop failed
    from app.core.extensions import db

    db.session.rollback()
    functions = db.session.scalars(select(OutboxJob.function)).all()
    assert "app.feeds.inbox:drop_inbox" in functions
    drain(redis_app)
    assert not connection.exists(inbox._keys(me)[0])
    assert feed_ids(rapi, "myself") == []


def test_a_build_races_fan_out_and_drops(redis_app, rapi):
    """A note fanned out while the inbox is being built ends up in it; a drop during a build
    means the build is served but not stored."""
    from app.feeds.following import following_sql

    me = rapi.register("myself")["id"]
    friend = rapi.register("friend")["id"]
    rapi.post(f"/users/{friend}/follow", "myself")
    drain(redis_app)
    before = insert_note(friend, "before", ago=5)
    late = insert_note(friend, "late", ago=1)
    reader = viewer_of(me)
    connection = redis_of(redis_app)
    key = inbox._keys(me)[0]

    def sql_missing_late(limit, after):
        rows = [row for row in following_sql(reader, limit, after) if row[0] != late]
        inbox.fan_out_note(late)  # committed and fanned out during the build's read
        return rows

    rows = inbox.following_ids(me, 10, None, sql_missing_late)
    assert [r[0] for r in rows] == [before]  # served from the build's read
    assert [int(m) for m in connection.zrevrange(key, 0, -1)] == [late, before, 0]
    assert not connection.exists(inbox._keys(me)[2])  # pending merged and removed

    connection.delete(*inbox._keys(me))

    def sql_then_unfollow(limit, after):
        rows = following_sql(reader, limit, after)
        inbox.drop_inbox(me)  # a follow change committed during the read
        return rows

    rows = inbox.following_ids(me, 10, None, sql_then_unfollow)
    assert [r[0] for r in rows] == [late, before]
    assert not connection.exists(key)  # not stored: it read the old follows


def test_big_accounts_are_pulled_not_fanned_out(redis_app, rapi, feeds_config):
    feeds_config(inbox_fanout_max_followers=1)
    me = rapi.register("myself")["id"]
    rapi.register("fan")
    star = rapi.register("star")["id"]
    small = rapi.register("small")["id"]
    rapi.post(f"/users/{star}/follow", "myself")
    rapi.post(f"/users/{star}/follow", "fan")
    rapi.post(f"/users/{small}/follow", "myself")
    drain(redis_app)
    old = insert_note(star, "old", ago=10)
    assert feed_ids(rapi, "myself") == [old]
    new_star = rapi.post("/notes", "star", json={"title": "星", "status": "published"})
    new_small = rapi.post("/notes", "small", json={"title": "小", "status": "published"})
    drain(redis_app)
    star_id, small_id = new_star.get_json()["id"], new_small.get_json()["id"]
    members = [int(m) for m in redis_of(redis_app).zrevrange(inbox._keys(me)[0], 0, -1)]
    assert star_id not in members and small_id in members  # the star is not fanned out
    assert feed_ids(rapi, "myself") == [small_id, star_id, old]  # but pulled at read time
    assert http_walk(rapi, "myself", 1) == [small_id, star_id, old]


def test_redis_failing_serves_the_sql_path(redis_app, rapi, monkeypatch):
    from app.feeds.following import following_sql

    me = rapi.register("myself")["id"]
    friend = rapi.register("friend")["id"]
    rapi.post(f"/users/{friend}/follow", "myself")
    notes = [insert_note(friend, f"n{i}", ago=i) for i in range(5)]
    connection = redis_of(redis_app)

    def down(*args, **kwargs):
        raise redis_lib.ConnectionError("down")

    monkeypatch.setattr(connection, "pipeline", down)
    assert http_walk(rapi, "myself", 2) == notes
    assert not connection.exists(inbox._keys(me)[0])
    monkeypatch.undo()
    reader = viewer_of(me)
    assert inbox.following_ids(me, 2, None, lambda n, a: following_sql(reader, n, a)) == (
        following_sql(reader, 2, None)
    )


def test_embedded_mode_reads_sql_and_queues_nothing(api):
    """No Redis: no inbox, no fan-out or drop jobs in the outbox."""
    from app.core.extensions import db

    api.register("myself")
    friend = api.register("friend")["id"]
    api.post(f"/users/{friend}/follow", "myself")
    note = api.post("/notes", "friend", json={"title": "新的", "status": "published"})
    assert feed_ids(api, "myself") == [note.get_json()["id"]]
    functions = db.session.scalars(select(OutboxJob.function)).all()
    assert not [f for f in functions if f.startswith("app.feeds.inbox")]


def test_many_notes_at_one_instant_page_by_id(redis_app, rapi):
    """More ties than a page: the cursor's instant is read again, skipping ids already shown."""
    from app.core.extensions import db
    from app.feeds.following import following_feed, following_sql
    from app.notes.models import Note

    viewer = rapi.register("reader")["id"]
    author = rapi.register("writer")["id"]
    rapi.post(f"/users/{author}/follow", "reader")
    notes = [insert_note(author, f"n{i}") for i in range(20)]
    moment = utcnow()
    for note_id in notes[2:18]:
        db.session.get(Note, note_id).published_at = moment
    db.session.commit()
    reader = viewer_of(viewer)
    expected = walk(lambda n, after: following_sql(reader, n, after), 3)
    following_feed(reader, 3, None)  # built
    assert walk(lambda n, after: following_feed(reader, n, after), 3) == expected
    assert http_walk(rapi, "reader", 3) == [i for page in expected for i, _ in page[:3]]
