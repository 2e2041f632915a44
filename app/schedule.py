"""Periodic jobs, kept as data, and the tick that enqueues them in services mode.

Every worker process runs the tick; a Redis key per job (`SET NX EX interval`) makes sure a
job is enqueued once per interval across all of them. In embedded mode there is no worker:
each web process runs `start_embedded_scheduler`'s thread, and the shared store's claim
(one per job and interval, across processes) lets exactly one of them run each due job
inline. `POST /admin/ranking/rebuild` (`app.admin.services.rebuild_ranking`) or `flask
rebuild` runs them all at once. Nothing below the jobs imports this module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from app.core.extensions import db, remove_session, shared_state
from app.core.jobs.outbox import relay_outbox
from app.feeds.blend_model import rebuild_blend
from app.feeds.jobs import (
    flush_impressions,
    rank_cold_feeds,
    rebuild_hot,
    rebuild_itemcf,
    refresh_cards,
    warm_cards,
)
from app.lifecycle.config import LIFECYCLE, RECALL
from app.lifecycle.jobs import recompute_lifecycle, start_due_recall_campaigns
from app.notes.services.views import flush_views
from app.search.jobs import flush_search_queries
from moderation import ENGAGEMENT, detect_engagement, purge_signals

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_seconds: int
    function: Callable[[], object]


def periodic_job_definitions() -> list[PeriodicJob]:
    return [
        PeriodicJob("relay_outbox", 10, relay_outbox),
        PeriodicJob("refresh_cards", 10, refresh_cards),
        PeriodicJob("flush_impressions", 30, flush_impressions),
        PeriodicJob("flush_views", 10, flush_views),
        PeriodicJob("flush_search_queries", 30, flush_search_queries),
        # Before the hot rebuild: `rebuild` (embedded mode) runs them in this order.
        PeriodicJob("detect_engagement", ENGAGEMENT.interval_seconds, detect_engagement),
        PeriodicJob("rebuild_hot", 300, rebuild_hot),
        PeriodicJob("rank_cold_feeds", 60, rank_cold_feeds),
        PeriodicJob("warm_cards", 120, warm_cards),  # after the hot rebuild (embedded order)
        PeriodicJob("rebuild_itemcf", 3600, rebuild_itemcf),
        PeriodicJob("rebuild_blend", 3600, rebuild_blend),
        PeriodicJob(
            "recompute_lifecycle", LIFECYCLE.recompute_interval_seconds, recompute_lifecycle
        ),
        PeriodicJob(
            "start_due_recall_campaigns", RECALL.due_check_seconds, start_due_recall_campaigns
        ),
        PeriodicJob("purge_signals", 3600, purge_signals),
    ]


def tick(connection: Redis) -> list[str]:
    """Enqueue every job whose interval has passed and whose last run is not still waiting
    or running; returns the names enqueued.

    Behind a backlog (a fresh install's seed jobs, a worker down for a while) a job due
    every 10 s was enqueued again on every tick, and the copies then ran back to back: one
    waiting run does the work of all of them."""
    enqueued = []
    for definition in periodic_job_definitions():
        if _last_run_pending(connection, definition.name):
            continue
        key = f"sprout:schedule:{definition.name}"
        if connection.set(key, "1", nx=True, ex=definition.interval_seconds):
            queue_name = getattr(definition.function, "queue_name", "default")
            job = Queue(queue_name, connection=connection).enqueue(
                definition.function, job_timeout=900
            )
            # Kept two intervals (two minutes at least): a run lost with its worker, its status
            # left "started", holds back one later run at most.
            connection.set(
                _LAST_RUN.format(definition.name),
                job.id,
                ex=max(definition.interval_seconds * 2, 120),
            )
            enqueued.append(definition.name)
    return enqueued


_LAST_RUN = "sprout:schedule:last:{}"
_PENDING = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def _last_run_pending(connection: Redis, name: str) -> bool:
    """Whether the run `tick` last enqueued for `name` is still queued or running."""
    job_id = connection.get(_LAST_RUN.format(name))
    if job_id is None:
        return False
    try:
        job = Job.fetch(job_id.decode() if isinstance(job_id, bytes) else job_id, connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in _PENDING


def start_scheduler_thread(
    app: Flask, connection: Redis, every_seconds: float = 10.0, *, first: bool = False
) -> None:
    """Tick every `every_seconds` (and at once with `first`) in a daemon thread; a failed
    tick (Redis down) is logged and the next one tries again."""

    def loop() -> None:
        stop = threading.Event()
        if first:
            _tick_logged(app, connection)
        while not stop.wait(every_seconds):
            _tick_logged(app, connection)

    threading.Thread(target=loop, name="sprout-scheduler", daemon=True).start()


def tick_embedded(app: Flask) -> list[str]:
    """Embedded mode: run, here, every job whose interval has passed and that no other
    process of this install claimed first; returns the names run. A failed job is logged and
    waits for its next interval (periodic work is redone anyway)."""
    ran = []
    with app.app_context():
        state = shared_state()
        for definition in periodic_job_definitions():
            if not state.claim(f"sprout:schedule:{definition.name}", definition.interval_seconds):
                continue
            try:
                definition.function()
                ran.append(definition.name)
            except Exception:
                log.exception("periodic job %s failed", definition.name)
            finally:  # each job starts clean, as an RQ job does
                remove_session(db.state.session)
    return ran


def start_embedded_scheduler(app: Flask, every_seconds: float = 10.0) -> None:
    """Embedded mode (no Redis, no worker): tick in a daemon thread of this web process. The
    first tick waits `every_seconds`, so a process starting up serves requests first."""

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(every_seconds):
            try:
                tick_embedded(app)
            except Exception:
                log.warning("embedded scheduler tick failed", exc_info=True)

    threading.Thread(target=loop, name="sprout-embedded-scheduler", daemon=True).start()


def _tick_logged(app: Flask, connection: Redis) -> None:
    try:
        with app.app_context():
            tick(connection)
    except Exception:
        log.warning("scheduler tick failed", exc_info=True)
