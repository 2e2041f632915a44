"""Related notes (相关推荐) and the item-CF model they come from: fitted by a periodic job,
stored for every process, read through the per-process model cache."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.core.extensions import db
from app.core.models import utcnow
from app.core.visibility import get_note_for, note_visible_clause
from app.feeds.cards import Present
from app.feeds.ranking_data import engagement_events, store_model
from app.feeds.state import feeds_state
from app.notes.models import Note, NoteTopic
from ranking.config import ITEMCF
from ranking.signals.itemcf import ItemCF
from ranking.types import Scored


def related_notes(
    viewer: User | None, note_id: int, limit: int, present: Present
) -> list[tuple[Any, Scored]]:
    """相关推荐: item-CF neighbours, topped up with hot notes sharing the topic or channel."""
    note = get_note_for(viewer, note_id)
    cf = feeds_state().itemcf.get()
    picked: list[Scored] = []
    if cf is not None:
        picked = [Scored(n, s, "cf", {"cf": s}) for n, s in cf.neighbours(note.id, limit * 2)]
    if len(picked) < limit:
        topic_ids = select(NoteTopic.topic_id).where(NoteTopic.note_id == note.id)
        same = (
            select(Note.id, Note.hot_score)
            .where(
                note_visible_clause(None),
                Note.id != note.id,
                Note.id.in_(select(NoteTopic.note_id).where(NoteTopic.topic_id.in_(topic_ids)))
                | (Note.channel_code == note.channel_code),
            )
            .order_by(Note.hot_score.desc(), Note.id.desc())
            .limit(limit * 2)
        )
        have = {item.note_id for item in picked}
        picked += [
            Scored(i, s, "hot", {"hot": s}) for i, s in db.session.execute(same) if i not in have
        ]
    rows = present([item.note_id for item in picked if item.note_id != note.id])
    out = [(rows[i.note_id], i) for i in picked if i.note_id in rows]
    return out[:limit]


def rebuild_itemcf() -> dict[str, Any]:
    """Fit item-to-item CF on the last `cf_history_days` of engagement and store it for every
    process. Idempotent: the stored model is replaced."""
    started = time.perf_counter()
    now_dt = utcnow()
    events = engagement_events(since=now_dt - timedelta(days=feeds_state().config.cf_history_days))
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
    store_model("itemcf", blob, stats, now_dt)
    return {**stats, "seconds": round(time.perf_counter() - started, 3), "bytes": len(blob)}
