"""The job runner: queues, the `@job` decorator, and sending to RQ. `enqueue` and `commit`
(in `app.core.jobs`) build on this and on the outbox."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from flask import Flask, has_app_context
from rq import Queue, get_current_job

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

#: Every queue the workers listen on, most urgent first (the order a worker takes them in).
#: `high`: short jobs whose delay users see, such as the card refresh that bounds how far
#: counts on cards lag; a backlog on the others cannot hold them up.
QUEUES = ("high", "default", "media", "notifications", "low")

_background: ContextVar[bool] = ContextVar("sprout_jobs_in_background", default=False)


@contextmanager
def in_background() -> Iterator[None]:
    """Jobs enqueued inside go to `low`, whatever their own queue: bulk work (loading the
    seed packs left about 2,700 jobs on a fresh install) must not hold up the jobs someone
    is waiting for (a new user's cover waited 50 s behind the seed's). Jobs those jobs
    enqueue in turn take their own queues again."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def queue_for(fn: Callable[..., Any]) -> str:
    """The queue a job is sent to: its own, or `low` inside `in_background`."""
    return "low" if _background.get() else getattr(fn, "queue_name", "default")


_worker_app: Flask | None = None
_app_factory: Callable[[], Flask] | None = None


def set_app_factory(factory: Callable[[], Flask]) -> None:
    """The `app` package registers `create_app` here when it is imported, which happens
    before any job runs (every job lives in a module under `app`): so a bare `rq worker`
    can build the app without this module importing the package above it."""
    global _app_factory
    _app_factory = factory


def _app_for_worker() -> Flask:
    """An app built from the environment, once per worker process."""
    global _worker_app
    if _worker_app is None:
        if _app_factory is None:
            raise RuntimeError("no app factory registered: import `app` first")
        _worker_app = _app_factory()
    return _worker_app


# Waits between the attempts of a job: a dependency that is down (Elasticsearch restarting,
# storage unreachable) gets minutes to come back before the job gives up.
RETRY_INTERVALS = [10, 60, 300, 900, 3600]
DEFAULT_RETRIES = len(RETRY_INTERVALS)


def job(
    queue: str,
    *,
    keep_result: bool = True,
    retries: int = DEFAULT_RETRIES,
    durable: bool = True,
    after_response: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`durable` jobs carry a committed request's promise (notify, index, make variants,
    settle points): they go through the outbox (`app.core.jobs.outbox`) and are retried, after a
    failure, a dead worker or a lost queue, until they are done. `durable=False` is for work
    that is redone anyway (periodic flushes and rebuilds, ranking a viewer's next pages).
    `retries`: how many more attempts after a failure, at `RETRY_INTERVALS`. `keep_result=False`
    for frequent jobs whose result nobody reads. `after_response` (durable jobs): embedded mode
    runs it once the response has been sent, not before (slow work such as reading the text in
    a picture must not slow the request); services mode is unchanged (a worker runs it).
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
        run.after_response = after_response and durable  # type: ignore[attr-defined]
        return run

    return decorate


def send(
    connection: Any,
    fn: Callable[..., Any],
    *args: Any,
    queue: str | None = None,
    job_id: str | None = None,
) -> None:
    """Put a job on its RQ queue (or `queue`); raises if Redis is unreachable."""
    options: dict[str, Any] = {} if getattr(fn, "keep_result", True) else {"result_ttl": 0}
    Queue(queue or queue_for(fn), connection=connection).enqueue(
        fn, *args, job_id=job_id, job_timeout=300, **options
    )
