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
from rq import Queue, Retry

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


# Waits between the attempts of a job declared with `retries`: a dependency that is down
# (Elasticsearch restarting) gets minutes to come back before the job gives up.
RETRY_INTERVALS = [10, 60, 300, 900, 3600]


def job(
    queue: str, *, keep_result: bool = True, retries: int = 0
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`keep_result=False` for frequent jobs whose result nobody reads: RQ then deletes the
    job when it succeeds instead of keeping it and its result (fewer writes to Redis per job).
    `retries`: how many more times RQ runs a failed job, at `RETRY_INTERVALS`.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if has_app_context():
                return fn(*args, **kwargs)
            with _app_for_worker().app_context():
                return fn(*args, **kwargs)

        run.queue_name = queue  # type: ignore[attr-defined]
        run.keep_result = keep_result  # type: ignore[attr-defined]
        run.retries = retries  # type: ignore[attr-defined]
        return run

    return decorate


def enqueue(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call after the commit. Inline failures are logged, not raised: the request succeeded."""
    queue_name = getattr(fn, "queue_name", "default")
    connection = current_app.extensions.get("sprout.redis")
    if connection is not None:
        options: dict[str, Any] = {} if getattr(fn, "keep_result", True) else {"result_ttl": 0}
        retries = getattr(fn, "retries", 0)
        retry = Retry(max=retries, interval=RETRY_INTERVALS[:retries]) if retries else None
        Queue(queue_name, connection=connection).enqueue(
            fn, *args, **kwargs, retry=retry, job_timeout=300, **options
        )
        return
    try:
        fn(*args, **kwargs)
    except Exception:
        log.exception("inline job %s failed", getattr(fn, "__name__", fn))
        from app.extensions import db

        db.session.rollback()
