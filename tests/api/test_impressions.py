"""Impressions are buffered while pages are served and written by a periodic flush."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.conftest import Api, insert_note


def check_failed_flush_keeps_its_batch(api: Api, monkeypatch: Any) -> None:
    """A flush whose write fails leaves every impression buffered; the next one writes
    each exactly once (the buffer is the app's feed store: disk or Redis)."""
    from app.core.extensions import db, get_feed_store
    from app.feeds import impressions
    from app.feeds.models import NoteEvent
    from app.notes.models import Note
    from ranking.types import Impression

    author = api.register("author")
    viewer = api.register("viewer")
    notes = [insert_note(author["id"], f"n{i}") for i in range(3)]
    served = [Impression(viewer["id"], n, "hot", 1_800_000_000.0 + i) for i, n in enumerate(notes)]
    served.append(Impression(None, notes[0], "explore", 1_800_000_010.0))
    get_feed_store().record_impressions(served)

    def database_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("COPY note_events", {}, Exception("server closed the connection"))

    monkeypatch.setattr(impressions, "copy_rows", database_down)
    with pytest.raises(OperationalError):
        impressions.flush_impressions(10_000)
    assert db.session.scalar(select(func.count()).select_from(NoteEvent)) == 0

    monkeypatch.undo()
    written = impressions.flush_impressions(10_000)
    assert written == {"impressions": 4, "batches": 1, "already_applied": 0}
    rows = db.session.execute(
        select(NoteEvent.user_id, NoteEvent.note_id, NoteEvent.source).where(
            NoteEvent.kind == "impression"
        )
    ).all()
    assert sorted(rows, key=repr) == sorted(
        [(i.user_id, i.note_id, i.source) for i in served], key=repr
    )
    counts = dict(db.session.execute(select(Note.id, Note.impression_count)).all())
    assert counts == {notes[0]: 2, notes[1]: 1, notes[2]: 1}
    assert impressions.flush_impressions(10_000)["impressions"] == 0  # nothing left over


def _counted(db: Any) -> tuple[int, dict[int, int]]:
    from app.feeds.models import NoteEvent
    from app.notes.models import Note

    rows = db.session.scalar(select(func.count()).select_from(NoteEvent))
    return rows, dict(db.session.execute(select(Note.id, Note.impression_count)).all())


def check_unknown_commit_and_crash_count_once(api: Api, monkeypatch: Any) -> None:
    """A flush that committed but never let go of its batch (the store unreachable after
    the commit: to the job, its outcome is unknown) and a flush stopped between its take
    and its write: the next flush writes every impression exactly once."""
    from app.core.extensions import db, get_feed_store
    from app.feeds import impressions
    from ranking.types import Impression

    store = get_feed_store()
    author = api.register("author")
    notes = [insert_note(author["id"], f"n{i}") for i in range(2)]
    store.record_impressions([Impression(None, notes[0], "hot", 1_800_000_000.0)] * 3)

    def store_gone(batch_id: str) -> None:
        raise ConnectionError("the store went away after the commit")

    monkeypatch.setattr(store, "forget_impressions", store_gone)
    with pytest.raises(ConnectionError):
        impressions.flush_impressions(10_000)
    monkeypatch.undo()
    assert _counted(db) == (3, {notes[0]: 3, notes[1]: 0})  # committed, batch still there
    assert len(store.impression_batches()) == 1

    # the next flush finds the committed batch in the ledger: only lets go of it
    assert impressions.flush_impressions(10_000) == {
        "impressions": 0,
        "batches": 0,
        "already_applied": 1,
    }
    assert _counted(db) == (3, {notes[0]: 3, notes[1]: 0})

    store.record_impressions([Impression(None, notes[1], "cf", 1_800_000_001.0)] * 2)

    def stopped(*args: Any) -> bool:
        raise KeyboardInterrupt  # the worker stopped after the take, before the write

    monkeypatch.setattr(impressions, "apply_once", stopped)
    with pytest.raises(KeyboardInterrupt):
        impressions.flush_impressions(10_000)
    monkeypatch.undo()
    assert _counted(db) == (3, {notes[0]: 3, notes[1]: 0})
    assert [len(batch) for _, batch in store.impression_batches()] == [2]
    store.record_impressions([Impression(None, notes[1], "cf", 1_800_000_002.0)])
    assert impressions.flush_impressions(10_000) == {
        "impressions": 3,  # the stopped flush's batch, then a new one
        "batches": 2,
        "already_applied": 0,
    }
    assert _counted(db) == (6, {notes[0]: 3, notes[1]: 3})
    assert store.impression_batches() == []


def test_an_unknown_commit_or_a_stopped_flush_counts_each_impression_once(api, monkeypatch):
    check_unknown_commit_and_crash_count_once(api, monkeypatch)


def test_a_flush_that_cannot_write_puts_its_batch_back_and_the_next_writes_it_once(
    api, monkeypatch
):
    check_failed_flush_keeps_its_batch(api, monkeypatch)


def test_old_ledger_rows_are_dropped_at_most_once_an_hour(api, monkeypatch):
    """A flush's ledger keeps applied batch ids for two days; dropping older ones runs once
    per `FORGET_EVERY` across processes, and a store that cannot be reached only delays it."""
    from datetime import UTC, datetime, timedelta

    import redis

    from app.core import batches
    from app.core.extensions import db
    from app.feeds.models import ImpressionBatch

    def add(batch_id: str, days: float) -> None:
        applied_at = datetime.now(UTC) - timedelta(days=days)
        db.session.add(ImpressionBatch(id=batch_id, applied_at=applied_at))
        db.session.commit()

    def ids() -> set[str]:
        return set(db.session.scalars(select(ImpressionBatch.id)))

    add("old-1", 3)
    add("new-1", 0.1)
    batches.forget_applied(ImpressionBatch)
    assert ids() == {"new-1"}
    add("old-2", 3)
    batches.forget_applied(ImpressionBatch)  # within the hour: left for the next one
    assert ids() == {"new-1", "old-2"}

    class Unreachable:
        def claim(self, key: str, ttl_seconds: float) -> bool:
            raise redis.ConnectionError("down")

    monkeypatch.setattr(batches, "shared_state", lambda: Unreachable())
    batches.forget_applied(ImpressionBatch)  # no error: the flush's batch is already written
    assert ids() == {"new-1", "old-2"}
    monkeypatch.setattr(batches, "shared_state", lambda: _Always())
    batches.forget_applied(ImpressionBatch)
    assert ids() == {"new-1"}


class _Always:
    def claim(self, key: str, ttl_seconds: float) -> bool:
        return True
