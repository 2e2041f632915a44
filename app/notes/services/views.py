"""Note views: `GET /notes/{id}` records a view in a buffer, `flush_views` applies it.

A read must not be a write transaction. Each counted view goes into a buffer shared by every
process: a Redis hash (note id → views) and list (signed-in opens) in services mode, the
embedded store under `SPROUT_DATA_DIR/shared/views` otherwise. The periodic `flush_views`
takes the buffer atomically as a batch with a unique id, then adds the counts to
`notes.view_count` and writes the opens as `NoteEvent` rows (with the time they happened) in
one transaction that also records the batch id in `note_view_batches`. The batch is deleted
from the buffer only after that commit; a batch found again (a crash between the commit and
the delete, or two flushes at once) is already recorded and just deleted: exactly once.

If the buffer cannot be reached the view is written directly, as before: nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import diskcache
import orjson
import redis
from flask import current_app
from sqlalchemy import insert, select

from app.accounts.models import User
from app.core.batches import apply_once, forget_applied, new_batch_id
from app.core.config import Settings
from app.core.extensions import db, get_redis, open_disk_cache, shared_dir
from app.core.jobs import job
from app.core.sql import add_to_counts, bump
from app.feeds.models import NoteEvent
from app.notes.models import Note, NoteViewBatch

log = logging.getLogger(__name__)

# One hash tag: every key of the buffer lives in one Redis Cluster slot (the take is a script).
PREFIX = "sprout:{views}:"
COUNTS_KEY = PREFIX + "counts"
OPENS_KEY = PREFIX + "opens"
BATCHES_KEY = PREFIX + "batches"
# Embedded mode takes at most this many views per batch (each is one row of the store).
EMBEDDED_BATCH_ROWS = 50_000

Open = tuple[int, int, float]  # (user id, note id, unix time)

# KEYS: counts, opens, batch counts, batch opens, batches; ARGV: batch id. Renames what is
# there to the batch's keys and lists the batch, all at once: a view lands before or after.
_TAKE = """
local took = 0
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[3]); took = 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[4]); took = 1 end
if took == 1 then redis.call('SADD', KEYS[5], ARGV[1]) end
return took
"""


def record_view(viewer_id: int | None, note_id: int, author_id: int) -> None:
    """Count one view of a published note (not the author's own); a signed-in viewer's open
    also teaches their interest profile. Buffered; written directly if the buffer is down."""
    if viewer_id is not None and viewer_id == author_id:
        return
    now = time.time()
    connection = get_redis()
    try:
        if connection is not None:
            pipe = connection.pipeline(transaction=True)  # one round trip, both or neither
            pipe.hincrby(COUNTS_KEY, str(note_id), 1)
            if viewer_id is not None:
                pipe.rpush(OPENS_KEY, orjson.dumps([viewer_id, note_id, now]))
            pipe.execute()
        else:
            _disk().push((note_id, viewer_id, now), prefix="views", retry=True)
        return
    except (redis.RedisError, diskcache.Timeout, OSError):
        log.warning("view buffer unreachable: view of note %s written directly", note_id)
    bump(Note, note_id, view_count=1)
    if viewer_id is not None:
        db.session.add(NoteEvent(user_id=viewer_id, note_id=note_id, kind="open"))
    db.session.commit()


@job("default", keep_result=False, durable=False)
def flush_views() -> dict[str, int]:
    """Apply every buffered batch (leftovers of a crashed run first), exactly once each."""
    connection = get_redis()
    figures = _flush_redis(connection) if connection is not None else _flush_disk(_disk())
    if figures["batches"]:  # an idle install writes nothing
        forget_applied(NoteViewBatch)
    return figures


# --- services mode: Redis -------------------------------------------------------------------


def _batch_keys(batch_id: str) -> tuple[str, str]:
    return f"{PREFIX}batch:{batch_id}:counts", f"{PREFIX}batch:{batch_id}:opens"


def take_redis_batch(connection: redis.Redis) -> str | None:
    """Move the buffer to a new batch's keys atomically; its id, or None if it was empty."""
    batch_id = new_batch_id()
    keys = [COUNTS_KEY, OPENS_KEY, *_batch_keys(batch_id), BATCHES_KEY]
    return batch_id if connection.eval(_TAKE, len(keys), *keys, batch_id) else None


def _flush_redis(connection: redis.Redis) -> dict[str, int]:
    take_redis_batch(connection)
    figures = {"batches": 0, "views": 0, "opens": 0, "already_applied": 0}
    for raw in sorted(connection.smembers(BATCHES_KEY)):
        batch_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        counts_key, opens_key = _batch_keys(batch_id)
        pipe = connection.pipeline(transaction=False)
        pipe.hgetall(counts_key)
        pipe.lrange(opens_key, 0, -1)
        raw_counts, raw_opens = pipe.execute()
        counts = {int(k): int(v) for k, v in raw_counts.items()}
        opens = [(int(u), int(n), float(t)) for u, n, t in map(orjson.loads, raw_opens)]
        _tally(figures, batch_id, counts, opens)
        pipe = connection.pipeline(transaction=True)
        pipe.delete(counts_key, opens_key)
        pipe.srem(BATCHES_KEY, batch_id)
        pipe.execute()
    return figures


# --- embedded mode: the process-safe store --------------------------------------------------


def _disk() -> diskcache.Cache:
    """This process's handle on the store every process of the install shares."""
    cache = current_app.extensions.get("sprout.views_buffer")
    if cache is None:
        settings: Settings = current_app.config["SPROUT"]
        cache = open_disk_cache(shared_dir(settings, "views"))
        current_app.extensions["sprout.views_buffer"] = cache
    return cache


def take_disk_batch(cache: diskcache.Cache, max_rows: int = EMBEDDED_BATCH_ROWS) -> str | None:
    """Move up to `max_rows` buffered views into a new batch, in one transaction of the store."""
    batch_id = new_batch_id()
    with cache.transact(retry=True):
        rows = []
        while len(rows) < max_rows:
            _, row = cache.pull(prefix="views")
            if row is None:
                break
            rows.append(row)
        if not rows:
            return None
        cache.set(f"batch:{batch_id}", rows)
        cache.set("batches", [*cache.get("batches", []), batch_id])
    return batch_id


def _flush_disk(cache: diskcache.Cache) -> dict[str, int]:
    figures = {"batches": 0, "views": 0, "opens": 0, "already_applied": 0}
    for _ in range(20):  # a large buffer becomes several batches; the rest waits a run
        if take_disk_batch(cache) is None:
            break
    for batch_id in sorted(cache.get("batches", [], retry=True)):
        rows: list[tuple[int, int | None, float]] = cache.get(f"batch:{batch_id}", [], retry=True)
        counts = dict(Counter(note_id for note_id, _, _ in rows))
        opens = [(user, note_id, ts) for note_id, user, ts in rows if user is not None]
        _tally(figures, batch_id, counts, opens)
        with cache.transact(retry=True):
            cache.delete(f"batch:{batch_id}")
            cache.set("batches", [b for b in cache.get("batches", []) if b != batch_id])
    return figures


# --- both: apply a batch to the database, once ----------------------------------------------


def _tally(
    figures: dict[str, int], batch_id: str, counts: dict[int, int], opens: list[Open]
) -> None:
    if apply_batch(batch_id, counts, opens):
        figures["batches"] += 1
        figures["views"] += sum(counts.values())
        figures["opens"] += len(opens)
    else:
        figures["already_applied"] += 1


def apply_batch(batch_id: str, counts: dict[int, int], opens: list[Open]) -> bool:
    """Add a batch's counts and opens in one transaction that records it as applied; False
    (and nothing written) when it was applied before. Notes or users deleted since are
    skipped. On any other failure the batch stays in the buffer for the next run."""

    def write() -> None:
        note_ids = _existing(Note.id, counts.keys() | {n for _, n, _ in opens})
        user_ids = _existing(User.id, {u for u, _, _ in opens})
        add_to_counts(Note, "view_count", {n: c for n, c in counts.items() if n in note_ids})
        rows = [
            {
                "user_id": user,
                "note_id": note_id,
                "kind": "open",
                "created_at": datetime.fromtimestamp(ts, UTC),
            }
            for user, note_id, ts in opens
            if note_id in note_ids and user in user_ids
        ]
        if rows:
            db.session.execute(insert(NoteEvent), rows)

    return apply_once(NoteViewBatch, batch_id, write)


def _existing(column: Any, ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    found: set[int] = set()
    for start in range(0, len(wanted), 5000):  # SQLite's bound-parameter limit
        chunk = wanted[start : start + 5000]
        found.update(db.session.scalars(select(column).where(column.in_(chunk))))
    return found
