"""Periodic ranking jobs: hot scores and lists, the item-CF model, buffered impressions.

Each is idempotent: it recomputes from the database and replaces what it built before.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, text, update

from app.core.extensions import db, get_feed_store
from app.core.jobs import enqueue, job
from app.core.models import utcnow
from app.core.sql import bump, id_in
from app.feeds.models import HotListEntry, NoteEvent, RankingModel
from app.feeds.ranking_data import engagement_events, note_features
from app.notes.models import Note
from ranking.config import HOT, ITEMCF
from ranking.signals.hot import hot_from_arrays, hot_score, top_hot
from ranking.signals.itemcf import ItemCF

HOT_LIST_SIZE = 100
# Past 14 half-lives a note keeps under 1/16,000 of its hot score: treat it as 0 rather than
# rewriting every old note's score on every run.
HOT_SCORE_HORIZON = timedelta(seconds=HOT.half_life_seconds * 14)
CF_HISTORY = timedelta(days=90)


@job("low", durable=False)
def rebuild_hot() -> dict[str, Any]:
    """notes.hot_score for recent notes, and the day/week hot lists per channel and topic."""
    started = time.perf_counter()
    now_dt = utcnow()
    now = now_dt.timestamp()
    features = note_features(where=(Note.published_at >= now_dt - HOT_SCORE_HORIZON,), labels=False)
    scores = [
        {"id": note_id, "hot_score": hot_score(feature, now)}
        for note_id, feature in features.items()
    ]
    # Notes that left the horizon drop to 0 so they stop ranking on stale scores.
    expired = list(
        db.session.scalars(
            select(Note.id).where(
                Note.hot_score > 0, Note.published_at < now_dt - HOT_SCORE_HORIZON
            )
        )
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
            half_life_seconds=HOT.half_life_seconds,
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
            for rank, (note_id, score) in enumerate(top_hot(scoped, HOT_LIST_SIZE), start=1):
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
    # Search sorts by hot and weighs engagement: its copy follows, in a job of its own.
    enqueue(refresh_search_signals, [row["id"] for row in scores] + expired)
    return {
        "notes_scored": len(scores),
        "events": len(events),
        "hot_list_rows": len(rows),
        "seconds": round(time.perf_counter() - started, 3),
    }


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
        raw = db.session.connection().connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy("COPY hot_scores_in (id, score) FROM STDIN") as copy,
        ):
            for row in scores:
                copy.write_row((row["id"], row["hot_score"]))
        db.session.execute(
            text("UPDATE notes SET hot_score = s.score FROM hot_scores_in s WHERE notes.id = s.id")
        )
        return
    for start in range(0, len(scores), 5000):
        db.session.execute(update(Note), scores[start : start + 5000])


@job("low", durable=False)
def rebuild_itemcf() -> dict[str, Any]:
    """Fit item-to-item CF on the last 90 days of engagement and store it for every process."""
    started = time.perf_counter()
    now_dt = utcnow()
    events = engagement_events(since=now_dt - CF_HISTORY)
    loaded = time.perf_counter() - started
    model = ItemCF().fit(
        events, now=now_dt.timestamp(), max_neighbours=ITEMCF.max_neighbours, method=ITEMCF.method
    )
    blob = model.to_bytes()
    stats = {
        **model.stats(),
        "events": len(events),
        "load_seconds": round(loaded, 3),
        "fit_seconds": round(time.perf_counter() - started - loaded, 3),
    }
    existing = db.session.get(RankingModel, "itemcf")
    if existing is None:
        db.session.add(RankingModel(name="itemcf", blob=blob, stats=stats, built_at=now_dt))
    else:
        existing.blob, existing.stats, existing.built_at = blob, stats, now_dt
    db.session.commit()
    return {**stats, "seconds": round(time.perf_counter() - started, 3), "bytes": len(blob)}


@job("low", keep_result=False, durable=False)
def refresh_search_signals(note_ids: list[int]) -> dict[str, int]:
    """The search index's hot scores and engagement counts, after the hot recompute."""
    from app.search.indexing import refresh_signals

    return {"notes": refresh_signals(note_ids)}


@job("default", keep_result=False, durable=False)
def prefetch_feed(user_id: int, channel: str | None = None) -> dict[str, Any]:
    """Rank a viewer's next discover pages ahead of their next scroll, and put their cards'
    content in the shared cache for whichever web process serves them. In the same job: as a
    separate low-priority job it waited behind the next prefetches while web processes, finding
    no content, read it from the database themselves."""
    from app.feeds.cards import warm_content
    from app.feeds.discover import prefetch_next_pages

    ranked = prefetch_next_pages(user_id, channel)
    loaded = warm_content(ranked) if ranked else 0
    return {"user_id": user_id, "channel": channel, "cards": len(ranked), "loaded": loaded}


def _add_impression_counts(counts: Counter[int]) -> None:
    """All notes' exposure counts in one statement on PostgreSQL; atomic `+ n` either way."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            text(
                "UPDATE notes SET impression_count = notes.impression_count + v.n FROM "
                "unnest(CAST(:ids AS bigint[]), CAST(:counts AS integer[])) AS v(id, n) "
                "WHERE notes.id = v.id"
            ),
            {"ids": list(counts), "counts": list(counts.values())},
        )
        return
    for note_id, count in counts.items():
        bump(Note, note_id, impression_count=count)


@job("default", durable=False)
def flush_impressions(max_items: int = 50_000) -> dict[str, Any]:
    """Write buffered impressions in one batch and add them to the notes' exposure counts."""
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
                "created_at": datetime.fromtimestamp(item.ts, UTC),
            }
            for item in batch
        ],
    )
    counts = Counter(item.note_id for item in batch)
    _add_impression_counts(counts)
    db.session.commit()
    return {"impressions": len(batch)}
