"""The floor for the feed benchmark: 20 cards' rows read with psycopg, written with orjson.

A plain WSGI callable outside the app stack (no Flask, no SQLAlchemy, no cache): the least a
web process can do to serve the rows a 20-card page shows. `benchmarks/feed_bench.py` runs it
under gunicorn with the app's workers and threads and compares `GET /api/v1/notes?ids=` with
`GET /floor?ids=` for the same ids.

    DATABASE_URL=postgresql://postgres@127.0.0.1/sprout_feed_bench \\
        .venv/bin/gunicorn --workers 3 --threads 2 benchmarks.floor_app:app
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import orjson
import psycopg
from psycopg.rows import dict_row

# The columns a card shows (content, counters, author), from notes joined to their authors.
QUERY = """
SELECT n.id, n.title, n.body, n.status, n.channel_code, n.cover_image_id,
       n.like_count, n.collect_count, n.comment_count, n.share_count,
       n.created_at, n.updated_at, n.published_at,
       u.id AS author_id, u.username, u.nickname, u.avatar_image_id, u.level, u.badges,
       u.official, u.verified
FROM notes n JOIN users u ON u.id = n.author_id
WHERE n.id = ANY(%s)
"""
MAX_IDS = 50

_local = threading.local()


def _dsn() -> str:
    url = os.environ.get("FLOOR_DATABASE_URL") or os.environ["DATABASE_URL"]
    return url.replace("postgresql+psycopg://", "postgresql://")


def _connection() -> psycopg.Connection[dict[str, Any]]:
    """One connection per gunicorn thread, opened on first use and reopened if it broke."""
    conn: psycopg.Connection[dict[str, Any]] | None = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(_dsn(), autocommit=True, row_factory=dict_row)
        _local.conn = conn
    return conn


def _reply(start_response: Callable[..., Any], status: str, body: bytes) -> Iterable[bytes]:
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """`GET /floor?ids=1,2,3` → `{"items": [row, ...]}` in the order asked; 400 on bad ids."""
    if environ.get("PATH_INFO") != "/floor":
        return _reply(start_response, "404 Not Found", b'{"error":"not found"}')
    raw = parse_qs(environ.get("QUERY_STRING", "")).get("ids", [""])[0]
    try:
        ids = [int(part) for part in raw.split(",") if part][:MAX_IDS]
    except ValueError:
        return _reply(start_response, "400 Bad Request", b'{"error":"ids"}')
    try:
        rows = _connection().execute(QUERY, (ids,)).fetchall()
    except psycopg.OperationalError:
        _local.conn = None  # reopened by the next request
        raise
    by_id = {row["id"]: row for row in rows}
    items = [by_id[i] for i in ids if i in by_id]
    return _reply(start_response, "200 OK", orjson.dumps({"items": items}))
