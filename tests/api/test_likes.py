"""Likes: idempotent, exact counters (also under concurrency), published notes only."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from app.accounts.models import User
from app.core.extensions import db
from app.notes.models import Note, NoteLike
from app.notifications.models import Notification
from tests.api.test_notes import column, image_note, make_image
from tests.conftest import assert_error, insert_note


def like_rows(note_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(NoteLike).where(NoteLike.note_id == note_id)
    )


def like_notifications(recipient_id: int) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.recipient_id == recipient_id, Notification.kind == "like"
            )
        )
    )


def test_like_and_unlike_are_idempotent(api):
    api.register("alice")
    api.register("bob")
    alice_id, bob_id = api.users["alice"]["id"], api.users["bob"]["id"]
    note = image_note(api, "alice")
    path = f"/notes/{note['id']}/like"

    first = api.post(path, "bob")
    assert first.status_code == 200 and first.get_json() == {"liked": True, "like_count": 1}
    second = api.post(path, "bob")
    assert second.get_json() == {"liked": True, "like_count": 1}
    assert like_rows(note["id"]) == 1
    assert column(User.like_received_count, alice_id) == 1

    seen_by_bob = api.get(f"/notes/{note['id']}", "bob").get_json()
    assert seen_by_bob["liked"] is True and seen_by_bob["like_count"] == 1
    assert api.get(f"/notes/{note['id']}", "alice").get_json()["liked"] is False
    assert api.get(f"/notes/{note['id']}").get_json()["liked"] is False

    # One notification for the author, however often bob toggles.
    notes = like_notifications(alice_id)
    assert len(notes) == 1 and notes[0].actor_id == bob_id and notes[0].note_id == note["id"]

    assert api.delete(path, "bob").get_json() == {"liked": False, "like_count": 0}
    assert api.delete(path, "bob").get_json() == {"liked": False, "like_count": 0}
    assert like_rows(note["id"]) == 0
    assert column(Note.like_count, note["id"]) == 0
    assert column(User.like_received_count, alice_id) == 0

    assert api.post(path, "bob").get_json() == {"liked": True, "like_count": 1}
    assert len(like_notifications(alice_id)) == 1


def test_likes_from_several_users_add_up(api):
    api.register("alice")
    for name in ("bob", "carol", "dave"):
        api.register(name)
    note = image_note(api, "alice")
    for name in ("bob", "carol", "dave"):
        api.post(f"/notes/{note['id']}/like", name)
    assert api.post(f"/notes/{note['id']}/like", "alice").get_json()["like_count"] == 4
    assert column(User.like_received_count, api.users["alice"]["id"]) == 4
    assert len(like_notifications(api.users["alice"]["id"])) == 3  # not told about own like
    listed = api.get(f"/users/{api.users['alice']['id']}/notes", "carol").get_json()
    assert listed["items"][0]["like_count"] == 4 and listed["items"][0]["liked"] is True


def test_only_published_notes_can_be_liked(api):
    api.register("alice")
    api.register("bob")
    draft = image_note(api, "alice", status="draft")
    assert_error(api.post(f"/notes/{draft['id']}/like", "bob"), 404, "note_not_found")
    # Not even by the author, who can see the draft.
    assert_error(api.post(f"/notes/{draft['id']}/like", "alice"), 404, "note_not_found")
    assert_error(api.delete(f"/notes/{draft['id']}/like", "alice"), 404, "note_not_found")

    published = image_note(api, "alice")
    assert_error(api.post(f"/notes/{published['id']}/like"), 401)
    api.post(f"/notes/{published['id']}/like", "bob")
    assert api.delete(f"/notes/{published['id']}", "alice").status_code == 204
    assert_error(api.post(f"/notes/{published['id']}/like", "bob"), 404, "note_not_found")
    assert_error(api.delete(f"/notes/{published['id']}/like", "bob"), 404, "note_not_found")
    assert_error(api.post("/notes/424242/like", "bob"), 404, "note_not_found")
    assert like_rows(draft["id"]) == 0


def test_concurrent_likes_are_counted_exactly(api, app):
    api.register("alice")
    alice_id = api.users["alice"]["id"]
    image = make_image(alice_id)
    note_id = api.post(
        "/notes", "alice", json={"title": "t", "status": "published", "image_ids": [image]}
    ).get_json()["id"]
    names = [f"fan{i:02d}" for i in range(20)]
    for name in names:
        api.register(name)
    headers = {name: api.headers(name) for name in names}
    # The test client shares this thread's session across requests; end its transaction so
    # it holds no lock (SQLite) or connection while the threads run.
    db.session.commit()

    barrier = threading.Barrier(len(names))
    results: dict[str, Any] = {}

    def like(name: str) -> None:
        try:
            with app.app_context():
                client = app.test_client()
                barrier.wait(timeout=30)
                response = client.post(f"/api/v1/notes/{note_id}/like", headers=headers[name])
                results[name] = (response.status_code, response.get_json())
        except Exception as exc:  # surfaced by the assertion below
            results[name] = exc

    threads = [threading.Thread(target=like, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(isinstance(r, tuple) and r[0] == 200 for r in results.values()), results
    assert len(results) == 20
    db.session.expire_all()
    assert like_rows(note_id) == 20
    assert column(Note.like_count, note_id) == 20
    assert column(User.like_received_count, alice_id) == 20
    counts = sorted(body["like_count"] for _, body in results.values())
    assert counts[-1] == 20 and all(1 <= c <= 20 for c in counts)
    # Each like paid the author one point, exactly once, and the balance is the ledger's sum.
    from app.growth.models import PointsEntry

    received = db.session.query(PointsEntry).filter_by(user_id=alice_id, action="like_received")
    assert received.count() == 20 and sum(e.delta for e in received) == 20
    every = db.session.query(PointsEntry).filter_by(user_id=alice_id)
    assert column(User.points, alice_id) == sum(e.delta for e in every)

    # And 20 concurrent unlikes bring it back to zero.
    db.session.commit()
    barrier = threading.Barrier(len(names))

    def unlike(name: str) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait(timeout=30)
            response = client.delete(f"/api/v1/notes/{note_id}/like", headers=headers[name])
            results[name] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=unlike, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(r[0] == 200 for r in results.values()), results
    assert like_rows(note_id) == 0 and column(Note.like_count, note_id) == 0
    assert column(User.like_received_count, alice_id) == 0


def test_a_like_aborted_by_a_deadlock_is_run_again_and_counted_once(api, app, monkeypatch):
    """PostgreSQL aborts one of two transactions that wait on each other (a job holding the
    author's row): the like runs again from a clean session instead of failing."""
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    import app.notes.services.notes as notes_services

    author = api.register("author")
    api.register("fan")
    note_id = insert_note(author["id"], "会死锁的笔记")
    real_bump = notes_services.bump
    calls = {"n": 0}

    def bump_once_deadlocked(model, row_id, **deltas):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("UPDATE …", {}, psycopg.errors.DeadlockDetected("deadlock"))
        return real_bump(model, row_id, **deltas)

    monkeypatch.setattr(notes_services, "bump", bump_once_deadlocked)
    liked = api.post(f"/notes/{note_id}/like", "fan")
    assert liked.status_code == 200, liked.get_json()
    assert liked.get_json()["like_count"] == 1
    profile = api.get(f"/users/{author['id']}").get_json()
    assert profile["like_received_count"] == 1
