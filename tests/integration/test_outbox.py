"""The job outbox (services mode, on SQLite and PostgreSQL, with the real Redis and RQ):
intents commit with their change or not at all, survive an unreachable Redis, are retried
with back-off, and are sent again when their queued job is lost."""

from __future__ import annotations

from datetime import timedelta

from rq import SimpleWorker
from sqlalchemy import func, select, update

from app.core.jobs import QUEUES, commit, enqueue, job
from app.core.jobs.models import OutboxJob
from app.core.models import utcnow
from app.notes.models import Note
from app.notifications.jobs import deliver_notification
from app.notifications.models import Notification
from tests.conftest import Api, make_app

CALLS: list[int] = []


@job("default", retries=2)
def flaky(value: int) -> None:
    """Fails until `value` calls were made (a dependency coming back)."""
    CALLS.append(value)
    if len(CALLS) < value:
        raise RuntimeError("still down")


def _drain(app) -> None:
    SimpleWorker(list(QUEUES), connection=app.extensions["sprout.redis"]).work(burst=True)


def _rows(**where):
    from app.core.extensions import db

    db.session.rollback()
    query = select(*OutboxJob.__table__.columns)  # plain rows: the worker ends sessions
    for key, value in where.items():
        query = query.where(getattr(OutboxJob, key) == value)
    return db.session.execute(query).all()


def test_an_intent_commits_with_its_change_or_not_at_all(services_app):
    from app.core.extensions import db

    api = Api(services_app.test_client())
    author = api.register("author")
    api.register("fan")
    note = api.post("/notes", "author", json={"title": "事务", "status": "published"}).get_json()

    db.session.execute(update(Note).where(Note.id == note["id"]).values(like_count=99))
    enqueue(deliver_notification, "like", author["id"], None, note["id"], None, None)
    db.session.rollback()  # the change is abandoned: so is its job
    assert not _rows(function="app.notifications.jobs:deliver_notification")

    assert api.post(f"/notes/{note['id']}/like", "fan").status_code == 200
    (row,) = _rows(function="app.notifications.jobs:deliver_notification")
    assert row.state == "pending" and row.args[0][:2] == ["like", author["id"]]
    _drain(services_app)
    assert _rows(id=row.id)[0].state == "done"
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_with_redis_unreachable_a_write_succeeds_and_its_job_waits(database_url, tmp_path):
    app = make_app(database_url, tmp_path, redis_url="redis://127.0.0.1:1/0")  # nothing there
    with app.app_context():
        api = Api(app.test_client())
        api.register("author")  # register, publish and like all commit and answer 2xx
        api.register("fan")
        note = api.post("/notes", "author", json={"title": "断开", "status": "published"})
        assert note.status_code == 201
        assert api.post(f"/notes/{note.get_json()['id']}/like", "fan").status_code == 200
        assert api.post(f"/users/{api.users['author']['id']}/follow", "fan").status_code == 200
        functions = sorted({row.function.rsplit(":", 1)[1] for row in _rows(state="pending")})
        assert functions == [
            "apply_card_changes",  # the card store (Redis) missed the new note and counts
            "deliver_notification",
            "drop_inbox",  # the follower's following inbox
            "fan_out_note",  # the note into its author's followers' inboxes
            "index_notes",
            "index_user",
            "propose_links",  # the sign-up's signals, compared with other accounts'
            "record_interaction",
            "render_text_cover",
            "settle_content",
        ]
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503
        from app.core.extensions import db

        db.engine.dispose()


def test_a_failing_job_is_retried_with_back_off_then_given_up(services_app):
    from app.core.extensions import db
    from app.core.jobs.outbox import relay_outbox

    CALLS.clear()
    enqueue(flaky, 2)
    before = utcnow()
    _drain(services_app)  # first attempt fails
    (row,) = _rows(function=f"{__name__}:flaky")
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.due_at >= before + timedelta(seconds=10)  # the first back-off
    assert "still down" in (row.last_error or "")
    later = utcnow() + timedelta(hours=1)  # (a slow machine may already be past the 10 s)
    db.session.execute(update(OutboxJob).where(OutboxJob.id == row.id).values(due_at=later))
    db.session.commit()
    relay_outbox()  # not due yet: nothing is sent
    _drain(services_app)
    assert _rows(id=row.id)[0].attempts == 1
    db.session.execute(update(OutboxJob).where(OutboxJob.id == row.id).values(due_at=utcnow()))
    db.session.commit()
    assert relay_outbox()["sent"] == 1
    _drain(services_app)
    assert (_rows(id=row.id)[0].state, CALLS) == ("done", [2, 2])

    CALLS.clear()
    enqueue(flaky, 10)  # never recovers: dead after 1 + 2 retries
    for _ in range(3):
        db.session.execute(update(OutboxJob).values(due_at=utcnow()))
        db.session.commit()
        relay_outbox()
        _drain(services_app)
    (dead,) = _rows(state="dead")
    assert dead.attempts == 3 and len(CALLS) == 3


def test_a_job_lost_from_redis_is_sent_again_and_runs_once(services_app):
    from app.core.extensions import db
    from app.core.jobs.outbox import relay_outbox

    api = Api(services_app.test_client())
    author = api.register("author")
    api.register("fan")
    note = api.post("/notes", "author", json={"title": "丢失", "status": "published"}).get_json()
    api.post(f"/notes/{note['id']}/like", "fan")
    services_app.extensions["sprout.redis"].flushdb()  # Redis restarted empty
    db.session.execute(update(OutboxJob).values(due_at=utcnow()))
    db.session.commit()
    sent = relay_outbox()["sent"]
    assert sent == len(_rows(state="pending")) and sent >= 2
    _drain(services_app)
    relay_outbox()  # done rows are never sent again
    _drain(services_app)
    assert not _rows(state="pending")
    likes = db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == "like")
    )
    assert likes == 1 and author
    commit()  # nothing open: a no-op


def test_the_sweep_repairs_what_a_lost_job_left_behind(services_app):
    """An image stuck in `processing` and a note edited but never re-indexed, both past the
    deadline and with no job left anywhere: the relay's sweep queues their jobs again."""
    from app.core.extensions import db
    from app.core.jobs.outbox import STUCK_AFTER, relay_outbox
    from app.media.models import Image

    api = Api(services_app.test_client())
    api.register("author")
    note = api.post("/notes", "author", json={"title": "旧笔记", "status": "published"}).get_json()
    _drain(services_app)
    long_ago = utcnow() - STUCK_AFTER - timedelta(minutes=1)
    db.session.execute(
        update(Note).where(Note.id == note["id"]).values(updated_at=long_ago, indexed_at=None)
    )
    image = Image(
        owner_id=api.users["author"]["id"],
        kind="upload",
        status="processing",
        storage_key="images/lost/original.jpg",
        source_format="JPEG",
        content_type="image/jpeg",
        byte_size=100,
        width=10,
        height=10,
        dominant_color="#000000",
        variants={},
        created_at=long_ago,
    )
    db.session.add(image)
    db.session.commit()
    image_id = image.id
    services_app.extensions["sprout.redis"].flushdb()  # every queued job is gone
    db.session.execute(update(OutboxJob).values(state="done"))
    db.session.commit()

    assert relay_outbox()["repaired"] == 2
    functions = sorted(row.function.rsplit(":", 1)[1] for row in _rows(state="pending"))
    assert functions == ["index_notes", "make_image_variants"]
    _drain(services_app)
    db.session.rollback()
    assert db.session.get(Note, note["id"]).indexed_at is not None
    # the variants job ran: the picture is gone from storage, so the image is marked failed
    assert db.session.get(Image, image_id).status == "failed"


def test_rows_written_before_the_domain_layout_still_resolve():
    """A deployment upgraded with rows pending names the jobs' old modules (`app.jobs.*`)."""
    from app.core.jobs.outbox import _resolve
    from app.media.jobs import make_image_variants
    from app.notifications.jobs import deliver_notification
    from app.search.jobs import index_notes

    assert _resolve("app.jobs.search:index_notes") is index_notes
    assert _resolve("app.jobs.media:make_image_variants") is make_image_variants
    assert _resolve("app.jobs.notifications:deliver_notification") is deliver_notification
    assert _resolve("app.search.jobs:index_notes") is index_notes


def test_embedded_mode_keeps_a_failed_inline_job_for_its_retry(app):
    """No Redis: a job that fails inline is written down with its first back-off, and the
    inline relay runs it again once that has passed."""
    from app.core.extensions import db
    from app.core.jobs.outbox import relay_inline

    CALLS.clear()
    before = utcnow()
    enqueue(flaky, 2)  # runs here and fails
    (row,) = _rows(function=f"{__name__}:flaky")
    assert (row.state, row.attempts, CALLS) == ("pending", 1, [2])
    assert row.due_at >= before + timedelta(seconds=10) and "still down" in row.last_error
    assert relay_inline() == 0  # not due yet
    db.session.execute(update(OutboxJob).where(OutboxJob.id == row.id).values(due_at=utcnow()))
    db.session.commit()
    assert relay_inline() == 1
    assert (_rows(id=row.id)[0].state, CALLS) == ("done", [2, 2])


def test_the_worker_yields_the_cpu_to_web_processes(services_app, monkeypatch):
    """`flask worker` lowers its own CPU priority (10 by default, `--nice`), then works."""
    import os

    asked: list[int] = []
    monkeypatch.setattr(os, "nice", lambda increment: asked.append(increment) or increment)
    enqueue(flaky, 0)  # a job that succeeds: the burst worker runs it and stops
    runner = services_app.test_cli_runner()
    for args, expected in ((["--burst"], [10]), (["--burst", "--nice", "3"], [3])):
        asked.clear()
        result = runner.invoke(args=["worker", *args])
        assert result.exit_code == 0, result.output
        assert asked == expected
    asked.clear()
    assert runner.invoke(args=["worker", "--burst", "--nice", "0"]).exit_code == 0
    assert asked == []
    assert runner.invoke(args=["worker", "--burst", "--nice", "20"]).exit_code == 2


def test_a_burst_worker_ranks_what_pages_asked_for_unless_told_not_to(services_app, monkeypatch):
    """`flask worker --burst` also ranks the viewers' next pages their pages asked for (the
    ranking thread's list, `app.feeds.ahead`); `--no-ranking` leaves them to other workers."""
    import os

    from app.feeds import ahead, ranker
    from app.feeds.state import feeds_state

    monkeypatch.setattr(os, "nice", lambda increment: increment)
    ranked: list[int] = []
    monkeypatch.setattr(ranker, "prefetch_next_pages", lambda u, c: ranked.append(u) or [])
    # A request older than its claim is skipped; two burst workers on a loaded machine once
    # took longer than the 15 s claim between them, so the claim outlasts the test here.
    with services_app.app_context():
        feeds_state().configure(prefetch_claim_seconds=3600)
    connection = services_app.extensions["sprout.redis"]
    ahead.ask(connection, 7, None)
    runner = services_app.test_cli_runner()
    assert runner.invoke(args=["worker", "--burst", "--no-ranking"]).exit_code == 0
    assert ranked == [] and ahead.pending(connection) == 1
    assert runner.invoke(args=["worker", "--burst"]).exit_code == 0
    assert ranked == [7] and ahead.pending(connection) == 0
