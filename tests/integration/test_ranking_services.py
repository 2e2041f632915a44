"""Ranked feeds in services mode: impressions buffered in Redis, periodic jobs on RQ."""

from __future__ import annotations

import pytest
import redis as redis_lib
from rq import SimpleWorker
from sqlalchemy import func, select

from app.jobs import QUEUES
from app.jobs.schedule import tick
from tests.conftest import Api, insert_note, make_app


@pytest.fixture
def services_app(database_url, tmp_path, redis_url):
    redis_lib.Redis.from_url(redis_url).flushdb()
    app = make_app(database_url, tmp_path, redis_url=redis_url)
    with app.app_context():
        yield app
    redis_lib.Redis.from_url(redis_url).flushdb()


def test_impressions_flow_through_redis_and_the_scheduled_worker(services_app):
    from app.extensions import db
    from app.models import Note, NoteEvent

    api = Api(services_app.test_client())
    authors = [api.register(f"pool_author{i}") for i in range(6)]
    api.register("viewer_q")
    for index in range(30):
        insert_note(authors[index % 6]["id"], f"新笔记{index}", ago=index)
    page = api.get("/feeds/discover?limit=10", "viewer_q").get_json()
    served = [card["id"] for card in page["items"]]
    assert len(served) == 10
    assert db.session.scalar(select(func.count()).select_from(NoteEvent)) == 0  # buffered

    connection = services_app.extensions["sprout.redis"]
    assert set(tick(connection)) == {"flush_impressions", "rebuild_hot", "rebuild_itemcf"}
    assert tick(connection) == []  # once per interval, however many workers tick
    SimpleWorker(list(QUEUES), connection=connection).work(burst=True)

    db.session.expire_all()
    events = db.session.scalars(select(NoteEvent.note_id).where(NoteEvent.kind == "impression"))
    assert sorted(events) == sorted(served)
    counts = dict(db.session.execute(select(Note.id, Note.impression_count)).all())
    assert all(counts[note_id] == 1 for note_id in served)
    # The next page of the same session never repeats a card.
    again = api.get(f"/feeds/discover?limit=10&cursor={page['next_cursor']}", "viewer_q")
    assert not set(card["id"] for card in again.get_json()["items"]) & set(served)
