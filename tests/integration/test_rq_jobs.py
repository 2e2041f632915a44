"""Side effects through Redis and a real RQ worker (services mode)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from rq import SimpleWorker

from app.core.jobs import QUEUES
from tests.conftest import Api


def run_worker(app) -> None:
    """A real RQ worker drains the queues; it runs jobs inside this app's context."""
    connection = app.extensions["sprout.redis"]
    worker = SimpleWorker(list(QUEUES), connection=connection)
    assert worker.work(burst=True) is not None


def test_upload_is_processing_until_the_worker_makes_variants(services_app):
    api = Api(services_app.test_client())
    api.register("worker_user")
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 120, 200)).save(buffer, "JPEG")
    response = api.post(
        "/media/images",
        "worker_user",
        data={"file": (io.BytesIO(buffer.getvalue()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    image = response.get_json()
    assert image["status"] == "processing" and image["variants"] == {}

    run_worker(services_app)

    from app.core.extensions import db

    db.session.expire_all()
    ready = api.get(f"/media/images/{image['id']}", "worker_user").get_json()
    assert ready["status"] == "ready"
    assert ready["variants"]["large"]["width"] == 640


def test_notification_job_runs_on_the_worker_and_is_idempotent(services_app):
    from app.core.extensions import db
    from app.core.jobs import enqueue
    from app.notifications.jobs import deliver_notification
    from app.notifications.models import Notification

    api = Api(services_app.test_client())
    alice, bob = api.register("alice_q"), api.register("bob_q")
    for _ in range(3):  # a retried or repeated follow notification is delivered once
        enqueue(deliver_notification, "follow", alice["id"], bob["id"])
    assert db.session.query(Notification).count() == 0
    run_worker(services_app)
    db.session.expire_all()
    assert db.session.query(Notification).filter_by(kind="follow").count() == 1


def test_search_index_jobs_and_query_log_go_through_the_worker(services_app):
    """Services mode: index jobs are queued (not run in the request) and a real worker runs
    them; search queries are buffered in Redis and the periodic flush writes them."""
    from app.search.jobs import flush_search_queries

    api = Api(services_app.test_client())
    api.register("camper")
    created = api.post(
        "/notes", "camper", json={"title": "周末露营装备", "status": "published"}
    ).get_json()
    assert api.get("/search/notes", query_string={"q": "露营"}).get_json()["items"] == []
    run_worker(services_app)  # index_notes ran
    items = api.get("/search/notes", "camper", query_string={"q": "露营"}).get_json()["items"]
    assert [item["id"] for item in items] == [created["id"]]
    api.get("/search/notes", "camper", query_string={"q": "露营"})  # same searcher again
    connection = services_app.extensions["sprout.redis"]
    assert connection.llen("sprout:search:queries") == 2
    assert api.get("/search/trending").get_json()["items"] == []  # not flushed yet
    assert flush_search_queries() == {"queries": 1}
    assert connection.llen("sprout:search:queries") == 0
    terms = api.get("/search/trending").get_json()["items"]
    assert [(t["term"], t["score"]) for t in terms] == [("露营", 1.0)]


def test_the_card_refresh_runs_ahead_of_a_backlog(services_app):
    """A fresh install leaves thousands of jobs on `default`: the periodic card refresh (what
    bounds how far counts on cards lag) goes on `high`, which a worker takes first."""
    from rq import Queue

    from app.schedule import tick
    from tests.api.test_notes import post_note

    connection = services_app.extensions["sprout.redis"]
    api = Api(services_app.test_client())
    api.register("backlogger")
    for i in range(3):
        post_note(api, "backlogger", title=f"积压{i}")
    backlog = Queue("default", connection=connection).count
    assert backlog > 0
    assert "refresh_cards" in tick(connection)
    (high,) = Queue("high", connection=connection).jobs
    assert high.func_name == "app.feeds.jobs.refresh_cards"
    first_job, _ = _first_job_taken(connection)
    assert first_job == "app.feeds.jobs.refresh_cards"
    assert Queue("default", connection=connection).count >= backlog


def test_a_periodic_job_still_waiting_is_not_enqueued_again(services_app):
    """Behind a backlog every tick enqueued the 10-second jobs again, and the copies then
    ran back to back: while the last run waits, the next ticks leave it alone."""
    from rq import Queue

    from app.schedule import tick

    connection = services_app.extensions["sprout.redis"]
    assert "refresh_cards" in tick(connection)
    high = Queue("high", connection=connection)
    assert high.count == 1
    for _ in range(3):  # its interval passes again and again while no worker runs
        connection.delete("sprout:schedule:refresh_cards")
        assert "refresh_cards" not in tick(connection)
    assert high.count == 1
    SimpleWorker(["high"], connection=connection).work(burst=True)
    assert high.count == 0
    connection.delete("sprout:schedule:refresh_cards")
    assert "refresh_cards" in tick(connection)  # done: the next interval enqueues it
    assert high.count == 1


def test_the_seed_packs_jobs_wait_behind_a_users_own(services_app):
    """Loading the seed packs leaves thousands of jobs (indexing, notifications, covers): they
    all go to `low`, so a user's job enqueued afterwards (here: indexing their first note)
    is the first a worker takes; jobs enqueued outside the load keep their own queues."""
    from rq import Queue
    from sqlalchemy import func, select

    from app.core.extensions import db
    from app.core.jobs.models import OutboxJob
    from seed_content.loader import load_seed_content
    from tests.api.test_cold_start import small_packs
    from tests.api.test_notes import post_note

    connection = services_app.extensions["sprout.redis"]
    load_seed_content(packs=small_packs(1))
    queues = dict(
        db.session.execute(select(OutboxJob.queue, func.count()).group_by(OutboxJob.queue)).all()
    )
    assert set(queues) == {"low"} and queues["low"] > 20, queues
    seeded = Queue("low", connection=connection).count
    assert seeded == queues["low"]
    assert all(Queue(name, connection=connection).count == 0 for name in QUEUES if name != "low")

    api = Api(services_app.test_client())
    api.register("newcomer")
    post_note(api, "newcomer", title="第一篇笔记")
    assert Queue("default", connection=connection).count > 0
    _, first_queue = _first_job_taken(connection)
    assert first_queue == "default"
    assert Queue("low", connection=connection).count == seeded


def _first_job_taken(connection: Any) -> tuple[str, str]:
    """(function, queue) of the job a worker on every queue takes first; it runs it."""
    ran: list[tuple[str, str]] = []
    worker = SimpleWorker(list(QUEUES), connection=connection)
    worker.execute_job = (  # type: ignore[method-assign]
        lambda job, queue, real=worker.execute_job: (
            ran.append((job.func_name, queue.name)) or real(job, queue)
        )
    )
    worker.work(burst=True, max_jobs=1)
    assert len(ran) == 1
    return ran[0]
