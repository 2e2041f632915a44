"""Impressions (a card was served): buffered by the feed store while pages are served, then
written in one batch and added to the notes' exposure counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from app.core.batches import apply_once, forget_applied, new_batch_id
from app.core.extensions import get_feed_store
from app.core.sql import add_to_counts, copy_rows
from app.feeds.models import ImpressionBatch, NoteEvent
from app.notes.models import Note
from ranking.types import Impression


def flush_impressions(max_items: int) -> dict[str, Any]:
    """Write the batches an earlier flush left (it failed or crashed), then take up to
    `max_items` buffered impressions as a new batch and write it: each batch once, its rows
    and its counts on the notes in one transaction with its ledger row
    (`app.core.batches`). A batch leaves the buffer only after its commit, so a failure
    delays impressions and never loses or doubles them."""
    store = get_feed_store()
    figures = {"impressions": 0, "batches": 0, "already_applied": 0}
    for batch_id, batch in store.impression_batches():  # leftovers first: raise if still failing
        _apply(store, figures, batch_id, batch)
    batch_id = new_batch_id()
    batch = store.take_impressions(batch_id, max_items)
    if batch:
        _apply(store, figures, batch_id, batch)
    if figures["batches"]:
        forget_applied(ImpressionBatch)
    return figures


def _apply(store: Any, figures: dict[str, int], batch_id: str, batch: list[Impression]) -> None:
    if apply_once(ImpressionBatch, batch_id, lambda: _write(batch)):
        figures["batches"] += 1
        figures["impressions"] += len(batch)
    else:
        figures["already_applied"] += 1
    store.forget_impressions(batch_id)


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
