"""Impressions (a card was served): buffered by the feed store while pages are served, then
written in one batch and added to the notes' exposure counts."""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from app.core.extensions import db, get_feed_store
from app.core.sql import add_to_counts, copy_rows
from app.feeds.models import NoteEvent
from app.notes.models import Note
from ranking.types import Impression

log = logging.getLogger(__name__)


def flush_impressions(max_items: int) -> dict[str, Any]:
    """Write up to `max_items` buffered impressions and count them on their notes.

    The batch leaves the buffer before it is written: when the write fails (the database
    unreachable, the job stopped), it goes back to the buffer for the next flush rather
    than being lost. Only a commit whose outcome is unknown can make it count twice."""
    store = get_feed_store()
    batch = store.drain_impressions(max_items)
    if not batch:
        return {"impressions": 0}
    try:
        _write(batch)
    except BaseException:
        try:
            store.record_impressions(batch)
        except Exception:
            log.exception("%d impressions lost: neither written nor buffered again", len(batch))
        with contextlib.suppress(Exception):  # the connection may be gone with the database
            db.session.rollback()
        raise
    return {"impressions": len(batch)}


def _write(batch: list[Impression]) -> None:
    copy_rows(
        NoteEvent.__table__,
        ("user_id", "note_id", "kind", "source", "experiment_arm_id", "created_at"),
        (
            (
                item.user_id,
                item.note_id,
                "impression",
                item.source[:16],
                item.experiment_arm_id,  # the experiment report's key
                datetime.fromtimestamp(item.ts, UTC),
            )
            for item in batch
        ),
    )
    counts = Counter(item.note_id for item in batch)
    add_to_counts(Note, "impression_count", dict(counts))
    db.session.commit()
