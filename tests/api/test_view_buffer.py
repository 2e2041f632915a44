"""`GET /notes/{id}` is a read: views go to a buffer (Redis in services mode, the embedded
store otherwise) and `flush_views` applies them exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis as redis_lib
from flask import Flask
from sqlalchemy import delete, func, select

from tests.conftest import Api, insert_note, make_app
from tests.integration.conftest import topology  # noqa: F401 (the fixture, for the HTTP test)
from tests.integration.servers import call, free_port


@pytest.fixture(params=["embedded", "services"])
def view_app(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, redis_url: str
) -> Iterator[Flask]:
    """An app in either mode; services mode uses the test Redis (flushed before and after)."""
    services = request.param == "services"
    if services:
        redis_lib.Redis.from_url(redis_url).flushdb()
    application = make_app(database_url, tmp_path, redis_url=redis_url if services else None)
    with application.app_context():
        yield application
    from app.core.extensions import db

    with application.app_context():
        db.engine.dispose()
    if services:
        redis_lib.Redis.from_url(redis_url).flushdb()


def _view_count(note_id: int) -> int:
    from app.core.extensions import db
    from app.notes.models import Note

    db.session.expire_all()
    value = db.session.scalar(select(Note.view_count).where(Note.id == note_id))
    db.session.rollback()
    return int(value)


def _opens() -> list[tuple[int, int, datetime]]:
    from app.core.extensions import db
    from app.feeds.models import NoteEvent

    rows = db.session.execute(
        select(NoteEvent.user_id, NoteEvent.note_id, NoteEvent.created_at)
        .where(NoteEvent.kind == "open")
        .order_by(NoteEvent.id)
    ).all()
    db.session.rollback()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _setup(application: Flask) -> tuple[Api, int]:
    api = Api(application.test_client())
    alice = api.register("alice")
    api.register("bob")
    return api, insert_note(alice["id"], "看我")


def test_views_are_buffered_and_exact_after_the_flush(view_app):
    from app.notes.services.views import flush_views

    api, note = _setup(view_app)
    started = datetime.now(UTC)
    for _ in range(3):
        assert api.get(f"/notes/{note}", "bob").status_code == 200
    assert api.get(f"/notes/{note}").status_code == 200
    assert api.get(f"/notes/{note}", "alice").status_code == 200  # the author's own: not counted
    assert _view_count(note) == 0 and _opens() == []  # buffered: the database is unchanged

    result = flush_views()
    assert result["views"] == 4 and result["opens"] == 3, result
    assert _view_count(note) == 4
    opens = _opens()
    bob = api.users["bob"]["id"]
    assert [(user, note_id) for user, note_id, _ in opens] == [(bob, note)] * 3
    assert all(started <= at <= datetime.now(UTC) for _, _, at in opens), opens

    again = flush_views()  # nothing left: the same counts
    assert again["views"] == 0 and again["batches"] == 0, again
    assert _view_count(note) == 4 and len(_opens()) == 3


def test_drafts_are_not_counted(view_app):
    from app.notes.services.views import flush_views

    api, _ = _setup(view_app)
    draft = insert_note(api.users["alice"]["id"], "草稿", status="draft")
    assert api.get(f"/notes/{draft}", "alice").status_code == 200
    flush_views()
    assert _view_count(draft) == 0 and _opens() == []


def test_a_crash_between_commit_and_delete_counts_once(view_app, monkeypatch):
    from app.notes.services import views

    api, note = _setup(view_app)
    for _ in range(5):
        api.get(f"/notes/{note}", "bob")
    real_tally = views._tally

    def crash_after_commit(*args, **kwargs):
        real_tally(*args, **kwargs)  # the batch is committed...
        raise RuntimeError("killed before the buffer was cleaned up")  # ...and never deleted

    monkeypatch.setattr(views, "_tally", crash_after_commit)
    with pytest.raises(RuntimeError):
        views.flush_views()
    assert _view_count(note) == 5
    monkeypatch.setattr(views, "_tally", real_tally)

    api.get(f"/notes/{note}", "bob")  # one more while the batch is left over
    result = views.flush_views()
    assert result["already_applied"] == 1 and result["views"] == 1, result
    assert _view_count(note) == 6 and len(_opens()) == 6
    assert views.flush_views()["batches"] == 0
    assert _view_count(note) == 6


def test_a_batch_taken_by_a_crashed_run_is_applied_by_the_next(view_app):
    from app.core.extensions import get_redis
    from app.notes.services import views

    api, note = _setup(view_app)
    for _ in range(2):
        api.get(f"/notes/{note}", "bob")
    connection = get_redis()
    if connection is not None:  # taken, then the flush died before applying it
        assert views.take_redis_batch(connection) is not None
    else:
        assert views.take_disk_batch(views._disk()) is not None
    api.get(f"/notes/{note}")
    assert _view_count(note) == 0
    result = views.flush_views()
    assert result["batches"] == 2 and result["views"] == 3, result
    assert _view_count(note) == 3 and len(_opens()) == 2


def test_views_of_a_note_deleted_meanwhile_are_dropped(view_app):
    from app.core.extensions import db
    from app.notes.models import Note
    from app.notes.services.views import flush_views

    api, note = _setup(view_app)
    other = insert_note(api.users["alice"]["id"], "另一篇")
    api.get(f"/notes/{note}", "bob")
    api.get(f"/notes/{other}", "bob")
    db.session.execute(delete(Note).where(Note.id == note))
    db.session.commit()
    result = flush_views()
    assert result["batches"] == 1, result
    assert _view_count(other) == 1
    assert [(user, note_id) for user, note_id, _ in _opens()] == [(api.users["bob"]["id"], other)]


def test_concurrent_views_from_threads_are_exact(view_app):
    from app.notes.services.views import flush_views

    api, note = _setup(view_app)
    bob_token = api.tokens["bob"]

    def view(index: int) -> int:
        client = view_app.test_client()
        headers = {"Authorization": f"Bearer {bob_token}"} if index % 4 == 0 else {}
        return client.get(f"/api/v1/notes/{note}", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(view, range(80)))
    assert statuses == [200] * 80
    assert _view_count(note) == 0
    flush_views()
    assert _view_count(note) == 80 and len(_opens()) == 20


def test_redis_down_falls_back_to_a_direct_write(database_url, tmp_path):
    """Services mode with a Redis nothing listens on: the view is written directly, no 500."""
    application = make_app(database_url, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with application.app_context():
        from app.core.extensions import db

        try:
            api, note = _setup(application)
            assert api.get(f"/notes/{note}", "bob").status_code == 200
            assert api.get(f"/notes/{note}").status_code == 200
            assert api.get(f"/notes/{note}", "alice").status_code == 200
            assert _view_count(note) == 2
            assert [(u, n) for u, n, _ in _opens()] == [(api.users["bob"]["id"], note)]
        finally:
            db.engine.dispose()


def test_views_over_real_http_across_processes_are_exact(topology):  # noqa: F811
    top = topology()
    api = top.api
    author = call(api, "POST", "/auth/register", body={"username": "star", "password": "pw-long-1"})
    fan = call(api, "POST", "/auth/register", body={"username": "fan", "password": "pw-long-1"})
    assert author.status == 201 and fan.status == 201, (author, fan)
    note = call(
        api,
        "POST",
        "/notes",
        author.body["token"],
        {"title": "多进程", "body": "看看", "status": "published"},
    )
    assert note.status == 201, note
    path = f"/notes/{note.body['id']}"

    def view(index: int) -> int:
        token = fan.body["token"] if index % 3 == 0 else None
        return call(api, "GET", path, token).status

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(view, range(60)))
    assert statuses == [200] * 60
    assert call(api, "GET", path, author.body["token"]).status == 200  # not counted
    took = time.monotonic() - started
    assert "view buffer unreachable" not in top.logs()  # every view went to the buffer

    # Apply whatever the deployment's own scheduler has not applied yet, from this process.
    redis_url = top.redis.url if top.redis is not None else None
    application = make_app(top.database_url, top.data_dir, redis_url=redis_url)
    with application.app_context():
        from app.core.extensions import db
        from app.feeds.models import NoteEvent
        from app.notes.services.views import flush_views

        try:
            flush_views()
            assert _view_count(note.body["id"]) == 60, took
            opens = db.session.scalar(
                select(func.count()).select_from(NoteEvent).where(NoteEvent.kind == "open")
            )
            assert opens == 20
            flush_views()
            assert _view_count(note.body["id"]) == 60
        finally:
            db.engine.dispose()
