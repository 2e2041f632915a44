"""Impressions (a card was served): buffered by the feed store while pages are served, then
written in one batch and added to the notes' exposure counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from app.core.extensions import db, get_feed_store
from app.core.sql import add_to_counts
from app.feeds.models import NoteEvent
from app.notes.models import Note


def flush_impressions(max_items: int) -> dict[str, Any]:
    """Write up to `max_items` buffered impressions and count them on their notes."""
    batch = get_feed_store().drain_impressions(max_items)
    if not batch:
        return {"impressions": 0}
    db.session.execute(
        insert(NoteEvent),
        [
            {
                "user_id": item.user_id,
                "note_id": item.note_id,
                "kind": "impression",
                "source": item.source[:16],
                "experiment_arm_id": item.experiment_arm_id,  # the experiment report's key
                "created_at": datetime.fromtimestamp(item.ts, UTC),
            }
            for item in batch
        ],
    )
    counts = Counter(item.note_id for item in batch)
    add_to_counts(Note, "impression_count", dict(counts))
    db.session.commit()
    return {"impressions": len(batch)}
