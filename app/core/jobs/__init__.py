"""Side effects after a commit, as jobs: RQ when `REDIS_URL` is set, inline otherwise.

A job is a plain function taking ids, declared with `@job("queue")`, idempotent and safe to
retry. It finds the app it needs itself, so it runs the same in a request, a CLI command or
an RQ worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import current_app

from app.core.jobs import outbox
from app.core.jobs.runner import (
    DEFAULT_RETRIES,
    QUEUES,
    RETRY_INTERVALS,
    in_background,
    job,
    send,
    set_app_factory,
)

__all__ = [
    "DEFAULT_RETRIES",
    "QUEUES",
    "RETRY_INTERVALS",
    "commit",
    "enqueue",
    "in_background",
    "job",
    "send",
    "set_app_factory",
]

log = logging.getLogger(__name__)


def enqueue(fn: Callable[..., Any], *args: Any) -> None:
    """Call before the change's commit (preferred) or after it. Never raises.

    Before: a durable job's intent joins the change's transaction (the outbox), and is sent
    to RQ, or run inline in embedded mode, once that commits. After: services mode writes
    the intent to the outbox at once, then sends it (if Redis is down the relay sends it
    when Redis is back); embedded mode runs the job inline and keeps it for a retry if it
    fails.
    """
    connection = current_app.extensions.get("sprout.redis")
    durable = getattr(fn, "durable", True)
    if durable and outbox.in_write_transaction():
        outbox.add_to_transaction(fn, args)  # commits with the change, sent after it
        return
    if connection is None and durable and getattr(fn, "after_response", False):
        try:
            outbox.defer_after_response(fn, args)  # written now, run once the response is sent
        except Exception:
            log.exception("job %s could not be recorded in the outbox", fn.__name__)
        return
    if connection is None:
        try:
            fn(*args)
        except Exception as exc:
            log.exception("inline job %s failed", getattr(fn, "__name__", fn))
            from app.core.extensions import db

            db.session.rollback()
            if durable:
                outbox.record_failure(fn, args, exc)
        outbox.relay_inline_soon()
        return
    if not durable:
        try:
            send(connection, fn, *args)
        except Exception:
            log.warning("job %s not queued: Redis is unreachable", fn.__name__, exc_info=True)
        return
    outbox.record_and_send(connection, fn, args)


def commit() -> None:
    """Commit the current change with the jobs enqueued in it. In embedded mode those jobs
    then run here, right after the commit, as inline jobs always have (services mode sends
    them to RQ from the commit itself)."""
    from app.core.extensions import db

    db.session.commit()
    outbox.run_committed_inline()
