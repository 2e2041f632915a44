"""Impressions (a card was served): buffered by the feed store while pages are served, then
written in one batch and added to the notes' exposure counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from app.core.extensions import db, get_feed_store
from app.core.sql import add_to_counts, copy_rows
from app.feeds.models import NoteEvent
from app.notes.models import Note


def flush_impressions(max_items: int) -> dict[str, Any]:
    """Write up to `max_items` buffered impressions and count them on their notes."""
    batch = get_feed_store().drain_impressions(max_items)
    if not batch:
        return {"impressions": 0}
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
    return {"impressions": len(batch)}
