"""The search query log behind hot search terms: buffered in Redis by searches (services
mode), written in batches by a periodic job; and the per-app cache of computed hot terms
that a flush invalidates."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import orjson
from cachetools import TTLCache
from flask import current_app

from app.core.extensions import db, get_redis
from app.core.sql import insert_ignore_many
from app.search.models import SearchQuery

TRENDING_CACHE_SECONDS = 30.0
QUERY_LOG_KEY = "sprout:search:queries"  # services mode: buffered here, flushed by a job


TRENDING_LOCK = threading.Lock()


def trending_cache() -> TTLCache[str, list[dict[str, Any]]]:
    """This app's hot terms of the last seconds (per app: tests build several per process)."""
    return current_app.extensions.setdefault("sprout.trending", TTLCache(4, TRENDING_CACHE_SECONDS))


def flush_query_log(max_items: int = 10_000) -> int:
    """Write the buffered query log in one statement (repeats of a searcher, term and day
    are ignored by the unique key)."""
    connection = get_redis()
    if connection is None:
        return 0
    raw = connection.lpop(QUERY_LOG_KEY, max_items) or []
    rows = {}
    for item in raw:
        term, searcher, day = orjson.loads(item)
        rows[(term, searcher, day)] = {
            "term": term,
            "searcher": searcher,
            "day": date.fromisoformat(day),
        }
    if rows:
        db.session.execute(insert_ignore_many(SearchQuery), list(rows.values()))
        db.session.commit()
        trending_cache().clear()
    return len(rows)
