"""Applying a buffered batch to the database exactly once.

Counts that requests only buffer (note views, feed impressions) reach the database in
batches a periodic flush takes from the buffer under a new id. The batch's writes and a row
naming it in a ledger table commit together, and the batch leaves the buffer only after
that commit: a flush that crashes before the commit, or whose commit's outcome it never
learns, leaves the batch for the next flush, which finds the ledger row (nothing to do) or
not (writes it). Two flushes at once race for the ledger's primary key; one wins.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from app.core.extensions import db, shared_state

# Applied batch ids are kept this long: far longer than a batch can wait in its buffer (the
# next flush, seconds later, picks up what a crashed one left).
KEEP_APPLIED = timedelta(days=2)


def new_batch_id() -> str:
    """Sortable (milliseconds first) and unique across processes."""
    return f"{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:16]}"


def applied(ledger: Any, batch_id: str) -> bool:
    return db.session.execute(select(ledger.id).where(ledger.id == batch_id)).first() is not None


def apply_once(ledger: Any, batch_id: str, write: Callable[[], None]) -> bool:
    """Run `write` (the batch's writes, in the session's transaction) and record `batch_id`
    in `ledger` (a model with `id` and `applied_at`), then commit; False, and nothing
    written, when the ledger already has it. On any other failure the transaction is rolled
    back and the error raised: the batch stays in its buffer for the next flush."""
    if applied(ledger, batch_id):
        db.session.rollback()
        return False
    try:
        db.session.execute(insert(ledger).values(id=batch_id, applied_at=datetime.now(UTC)))
        write()
        db.session.commit()
        return True
    except IntegrityError:
        # Another flush applied it first (its row won the primary key), or a row the batch
        # refers to went away under it: applied means done, otherwise try again next run.
        db.session.rollback()
        if applied(ledger, batch_id):
            db.session.rollback()
            return False
        raise
    except BaseException:
        db.session.rollback()
        raise


#: How often the ledger's old rows are dropped: a flush every few seconds ran the delete
#: (and a commit) each time, about a fifth of a small flush's CPU, for rows kept two days.
FORGET_EVERY = timedelta(hours=1)


def forget_applied(ledger: Any) -> None:
    """Drop ledger rows older than `KEEP_APPLIED`, at most once per `FORGET_EVERY` across
    processes (a flush that applied something calls it)."""
    key = f"sprout:ledger-forget:{ledger.__tablename__}"
    try:
        due = shared_state().claim(key, FORGET_EVERY.total_seconds())
    except redis.RedisError:  # the batch is written: old rows go on a later flush
        return
    if not due:
        return
    db.session.execute(delete(ledger).where(ledger.applied_at < datetime.now(UTC) - KEEP_APPLIED))
    db.session.commit()
