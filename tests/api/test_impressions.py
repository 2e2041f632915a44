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
    assert impressions.flush_impressions(10_000) == {"impressions": 4}
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
    assert impressions.flush_impressions(10_000) == {"impressions": 0}  # nothing left over


def test_a_flush_that_cannot_write_puts_its_batch_back_and_the_next_writes_it_once(
    api, monkeypatch
):
    check_failed_flush_keeps_its_batch(api, monkeypatch)
