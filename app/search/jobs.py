"""Index upkeep as jobs: idempotent (each re-reads the database and writes what it finds), so
retries after an Elasticsearch outage and duplicates are harmless."""

from __future__ import annotations

from typing import Any

from app.core.jobs import job

INDEX_RETRIES = 5  # about 1.5 hours of waits (RETRY_INTERVALS) before a change is given up


@job("default", keep_result=False, retries=INDEX_RETRIES)
def index_notes(note_ids: list[int]) -> dict[str, int]:
    from app.search.services import sync_notes

    return sync_notes(note_ids)


@job("default", keep_result=False, retries=INDEX_RETRIES)
def index_user(user_id: int, with_notes: bool = False) -> dict[str, int]:
    from app.search.services import sync_user

    return sync_user(user_id, with_notes)


@job("default", keep_result=False, retries=INDEX_RETRIES)
def index_topic(topic_id: int) -> dict[str, int]:
    from app.search.services import sync_topic

    return sync_topic(topic_id)


@job("low")
def reindex_search() -> dict[str, Any]:
    from app.search.services import reindex

    return reindex()


@job("low", keep_result=False, durable=False)
def flush_search_queries() -> dict[str, int]:
    """Write the buffered search query log (services mode), every 30 s."""
    from app.search.services import flush_query_log

    return {"queries": flush_query_log()}
