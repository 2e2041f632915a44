"""Hot: notes' hot scores and the hot lists (榜单), read by requests and rebuilt by a
periodic job. The rebuild is idempotent: it recomputes from the database and replaces what
it built before."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, table, text, update

from app.core.extensions import db
from app.core.models import utcnow
from app.core.sql import copy_rows, id_in
from app.feeds.blend_model import hot_half_life
from app.feeds.cards import Present
from app.feeds.models import HotListEntry
from app.feeds.ranking_data import engagement_events, note_features
from app.feeds.state import feeds_state
from app.notes.models import Note
from app.topics.services import require_channel
from ranking.config import HOT
from ranking.signals.hot import hot_from_arrays, hot_score, top_hot


def hot_list(
    *, window: str, channel: str | None, limit: int, after_rank: int, present: Present
) -> list[tuple[Any, float, int]]:
    """The 榜单: ranks from the last rebuild (empty before the first, which the scheduler's
    first tick runs)."""
    if channel:
        require_channel(channel)
    scope = f"channel:{channel}" if channel else "all"
    entries = db.session.execute(
        select(HotListEntry.note_id, HotListEntry.score, HotListEntry.rank)
        .where(
            HotListEntry.window == window,
            HotListEntry.scope == scope,
            HotListEntry.rank > after_rank,
        )
        .order_by(HotListEntry.rank)
        .limit(limit + 1)
    ).all()
    rows = present([entry.note_id for entry in entries])
    return [(rows[e.note_id], e.score, e.rank) for e in entries if e.note_id in rows]


def rebuild_hot() -> tuple[dict[str, Any], list[int]]:
    """notes.hot_score for recent notes, and the day/week hot lists per channel and topic.
    Returns the run's figures and the notes whose score changed (search keeps a copy)."""
    config = feeds_state().config
    started = time.perf_counter()
    now_dt = utcnow()
    now = now_dt.timestamp()
    horizon = now_dt - config.hot_score_horizon
    half_life = hot_half_life()  # the learned blend's, when its fit was kept
    features = note_features(where=(Note.published_at >= horizon,), labels=False)
    scores = [
        {"id": note_id, "hot_score": hot_score(feature, now, half_life)}
        for note_id, feature in features.items()
    ]
    # Notes that left the horizon drop to 0 so they stop ranking on stale scores.
    expired = list(
        db.session.scalars(select(Note.id).where(Note.hot_score > 0, Note.published_at < horizon))
    )
    db.session.execute(update(Note).where(id_in(Note.id, expired)).values(hot_score=0.0))
    _write_hot_scores(scores)

    # Vectorised over the week's events: (note, CES weight, time) arrays, no object per event.
    events = engagement_events(
        since=now_dt - timedelta(seconds=HOT.week_window_seconds), include_opens=False
    )
    event_notes = note_features({event.note_id for event in events})
    kept = [event for event in events if event.note_id in event_notes]
    note_ids = np.fromiter((event.note_id for event in kept), dtype=np.int64, count=len(kept))
    weights = np.fromiter(
        (HOT.weights.get(event.kind, 0.0) * event.weight for event in kept),
        dtype=np.float64,
        count=len(kept),
    )
    stamps = np.fromiter((event.ts for event in kept), dtype=np.float64, count=len(kept))
    rows = []
    for window, seconds in (("day", HOT.day_window_seconds), ("week", HOT.week_window_seconds)):
        window_scores = hot_from_arrays(
            note_ids,
            weights,
            stamps,
            now,
            window_seconds=seconds,
            half_life_seconds=half_life,
        )
        scopes: dict[str, dict[int, float]] = defaultdict(dict)
        for note_id, score in window_scores.items():
            feature = event_notes[note_id]
            scopes["all"][note_id] = score
            if feature.channel:
                scopes[f"channel:{feature.channel}"][note_id] = score
            for topic in feature.topics:
                scopes[f"topic:{topic}"][note_id] = score
        for scope, scoped in scopes.items():
            for rank, (note_id, score) in enumerate(top_hot(scoped, config.hot_list_size), 1):
                rows.append(
                    {
                        "window": window,
                        "scope": scope,
                        "rank": rank,
                        "note_id": note_id,
                        "score": score,
                    }
                )
    db.session.execute(delete(HotListEntry))
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(HotListEntry), rows[start : start + 5000])
    db.session.commit()
    figures = {
        "notes_scored": len(scores),
        "events": len(events),
        "hot_list_rows": len(rows),
        "half_life_seconds": half_life,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return figures, [row["id"] for row in scores] + expired


def _write_hot_scores(scores: list[dict[str, Any]]) -> None:
    """On PostgreSQL: COPY the scores into a temporary table and update from it in one
    statement (binding 60,000 values as parameters costs seconds); executemany elsewhere."""
    if not scores:
        return
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            text(
                "CREATE TEMPORARY TABLE hot_scores_in (id bigint, score double precision) "
                "ON COMMIT DROP"
            )
        )
        rows = ((row["id"], row["hot_score"]) for row in scores)
        copy_rows(table("hot_scores_in"), ("id", "score"), rows)
        db.session.execute(
            text("UPDATE notes SET hot_score = s.score FROM hot_scores_in s WHERE notes.id = s.id")
        )
        return
    for start in range(0, len(scores), 5000):
        db.session.execute(update(Note), scores[start : start + 5000])
