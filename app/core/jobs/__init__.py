"""Side effects after a commit, as jobs: RQ when `REDIS_URL` is set, inline otherwise.

A job is a plain function taking ids, declared with `@job("queue")`, idempotent and safe to
retry. It finds the app it needs itself, so it runs the same in a request, a CLI command or
an RQ worker.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context
from rq import Queue, get_current_job

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

# Every queue the workers listen on, most urgent first.
QUEUES = ("default", "media", "notifications", "low")

_worker_app: Flask | None = None


def _app_for_worker() -> Flask:
    """An app built from the environment, once per worker process."""
    global _worker_app
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    return _worker_app


# Waits between the attempts of a job: a dependency that is down (Elasticsearch restarting,
# storage unreachable) gets minutes to come back before the job gives up.
RETRY_INTERVALS = [10, 60, 300, 900, 3600]
DEFAULT_RETRIES = len(RETRY_INTERVALS)


def job(
    queue: str, *, keep_result: bool = True, retries: int = DEFAULT_RETRIES, durable: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`durable` jobs carry a committed request's promise (notify, index, make variants,
    settle points): they go through the outbox (`app.core.jobs.outbox`) and are retried, after a
    failure, a dead worker or a lost queue, until they are done. `durable=False` is for work
    that is redone anyway (periodic flushes and rebuilds, ranking a viewer's next pages).
    `retries`: how many more attempts after a failure, at `RETRY_INTERVALS`. `keep_result=False`
    for frequent jobs whose result nobody reads.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if not has_app_context():
                with _app_for_worker().app_context():
                    return fn(*args, **kwargs)
            if get_current_job() is None:  # inline, in a request or a command
                return fn(*args, **kwargs)
            # An RQ job inside `flask worker`'s long-lived app context: each job starts and
            # ends with a clean session, so one dropped connection cannot poison the next.
            from app.core.extensions import db, remove_session

            try:
                return fn(*args, **kwargs)
            finally:
                remove_session(db.state.session)

        run.queue_name = queue  # type: ignore[attr-defined]
        run.keep_result = keep_result  # type: ignore[attr-defined]
        run.retries = retries  # type: ignore[attr-defined]
        run.durable = durable  # type: ignore[attr-defined]
        return run

    return decorate


def enqueue(fn: Callable[..., Any], *args: Any) -> None:
    """Call before the change's commit (preferred) or after it. Never raises.

    Before: a durable job's intent joins the change's transaction (the outbox), and is sent
    to RQ, or run inline in embedded mode, once that commits. After: services mode writes
    the intent to the outbox at once, then sends it (if Redis is down the relay sends it
    when Redis is back); embedded mode runs the job inline and keeps it for a retry if it
    fails.
    """
    from app.core.jobs import outbox

    connection = current_app.extensions.get("sprout.redis")
    durable = getattr(fn, "durable", True)
    if durable and outbox.in_write_transaction():
        outbox.add_to_transaction(fn, args)  # commits with the change, sent after it
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
    from app.core.jobs import outbox

    db.session.commit()
    outbox.run_committed_inline()


def send(
    connection: Any,
    fn: Callable[..., Any],
    *args: Any,
    queue: str | None = None,
    job_id: str | None = None,
) -> None:
    """Put a job on its RQ queue (or `queue`); raises if Redis is unreachable."""
    options: dict[str, Any] = {} if getattr(fn, "keep_result", True) else {"result_ttl": 0}
    Queue(queue or getattr(fn, "queue_name", "default"), connection=connection).enqueue(
        fn, *args, job_id=job_id, job_timeout=300, **options
    )
