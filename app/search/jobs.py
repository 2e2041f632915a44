"""Index upkeep as jobs: idempotent (each re-reads the database and writes what it finds), so
retries after an Elasticsearch outage and duplicates are harmless."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from app.core.extensions import db, shared_state
from app.core.jobs import enqueue, job
from app.core.jobs.outbox import STUCK_AFTER
from app.core.models import utcnow
from app.notes.models import Note

INDEX_RETRIES = 5  # about 1.5 hours of waits (RETRY_INTERVALS) before a change is given up
INDEX_REPAIR_SECONDS = 600  # how often edited notes missing from the index are looked for


@job("default", keep_result=False, retries=INDEX_RETRIES)
def index_notes(note_ids: list[int]) -> dict[str, int]:
    from app.search.indexing import sync_notes

    return sync_notes(note_ids)


@job("default", keep_result=False, retries=INDEX_RETRIES)
def index_user(user_id: int, with_notes: bool = False) -> dict[str, int]:
    from app.search.indexing import sync_user

    return sync_user(user_id, with_notes)


@job("default", keep_result=False, retries=INDEX_RETRIES)
def index_topic(topic_id: int) -> dict[str, int]:
    from app.search.indexing import sync_topic

    return sync_topic(topic_id)


@job("low")
def reindex_search() -> dict[str, Any]:
    from app.search.indexing import reindex

    return reindex()


@job("low", keep_result=False, durable=False)
def flush_search_queries() -> dict[str, int]:
    """Write the buffered search query log (services mode), every 30 s."""
    from app.search.query_log import flush_query_log

    return {"queries": flush_query_log()}


def repair_unindexed_notes() -> int:
    """Notes edited more than `STUCK_AFTER` ago and not indexed since: index them again. At
    most every `INDEX_REPAIR_SECONDS` (a search outage would otherwise queue them again and
    again while their jobs wait for it)."""
    if not shared_state().claim("sprout:outbox:index-sweep", INDEX_REPAIR_SECONDS):
        return 0
    stale = db.session.scalars(
        select(Note.id)
        .where(
            Note.updated_at < utcnow() - STUCK_AFTER,
            or_(Note.indexed_at.is_(None), Note.indexed_at < Note.updated_at),
        )
        .limit(500)
    ).all()
    db.session.rollback()
    if stale:
        enqueue(index_notes, list(stale))
    return len(stale)
