"""The job outbox: nothing a committed request promised is lost when Redis or a worker dies.

A durable job's intent (function and arguments) is a row of `job_outbox`. Enqueued while the
change is still open (before its commit), the row joins the change's own transaction: both
commit or neither does, and once they have, the row is sent to RQ (services mode) or run
inline (embedded mode, at the end of the request). Enqueued after a commit, the row is
written in a transaction of its own at once. RQ runs `run_outbox_job(row_id)`, which runs
the job and marks the row done. Whatever goes wrong, the row stays `pending` and
`relay_outbox` (every 10 s on the worker's schedule) sends it again once it is due:
- Redis was down when it was written: due at once, sent when Redis answers again;
- a worker died mid-job (`kill -9`), or Redis lost its queue on a restart: due when its
  lease (`outbox_lease_seconds`) runs out;
- the job raised: due after a back-off (`RETRY_INTERVALS`), `dead` after its last attempt.
Jobs are idempotent, so a job sent twice (a slow worker past its lease) runs twice in
effect once. Embedded mode runs jobs inline and keeps only the failed ones here; a job
declared `after_response` runs once the response has been sent (`response.call_on_close`),
its row staying pending, due only after a lease, so that if the process dies first the relay
runs it then.
`sweep_stuck` runs the repairs the domains register for what a lost job would have left
behind (images still `processing`, notes missing from the search index).
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, has_request_context
from rq.job import Job, JobStatus
from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from app.core.config import Settings
from app.core.extensions import db, shared_state
from app.core.jobs.models import OutboxJob
from app.core.jobs.runner import RETRY_INTERVALS, job, queue_for, send
from app.core.models import utcnow

log = logging.getLogger(__name__)

RELAY_BATCH = 500
STUCK_AFTER = timedelta(minutes=10)  # work still undone this long after its change lost its job
INLINE_RELAY_SECONDS = 30  # embedded mode: failed jobs are retried this often at most
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def _name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


# Where jobs lived before the domain layout: rows written by an older release still run.
MOVED_MODULES = {
    "app.jobs.media": "app.media.jobs",
    "app.jobs.notes": "app.notes.jobs",
    "app.jobs.notifications": "app.notifications.jobs",
    "app.jobs.ranking": "app.feeds.jobs",
    "app.jobs.search": "app.search.jobs",
}


def _resolve(name: str) -> Callable[..., Any]:
    module, _, attribute = name.partition(":")
    module = MOVED_MODULES.get(module, module)
    return getattr(importlib.import_module(module), attribute)


def _lease() -> timedelta:
    settings: Settings = current_app.config["SPROUT"]
    return timedelta(seconds=settings.outbox_lease_seconds)


def _rq_id(row_id: int) -> str:
    return f"outbox-{row_id}"


def _write(row: OutboxJob) -> int:
    """Commit the row on its own: on PostgreSQL through a separate connection, so a caller's
    open transaction is neither committed early nor waited for; SQLite has one writer, so
    there the row goes through the caller's session."""
    if db.engine.dialect.name == "sqlite":
        db.session.add(row)
        db.session.commit()
        return row.id
    with db.engine.begin() as conn:
        values = {c.key: getattr(row, c.key) for c in OutboxJob.__table__.columns if c.key != "id"}
        return conn.execute(
            OutboxJob.__table__.insert().values(values).returning(OutboxJob.id)
        ).scalar_one()


def record_from_commit_hook(fn: Callable[..., Any], args: Sequence[Any]) -> None:
    """From a session's after-commit hook, where the session can run no SQL and its flags
    still describe the transaction just ended: the intent on a connection of its own (the
    commit released SQLite's lock), then sent to RQ, or (embedded) left due for the relay,
    which retries it. Never raises; a failed write is logged."""
    try:
        with db.engine.begin() as conn:
            row = _row(fn, args)
            values = {c.key: getattr(row, c.key) for c in OutboxJob.__table__.columns}
            values.pop("id")
            row_id = conn.execute(
                OutboxJob.__table__.insert().values(values).returning(OutboxJob.id)
            ).scalar_one()
    except Exception:
        log.exception("job %s could not be recorded in the outbox", _name(fn))
        return
    connection = current_app.extensions.get("sprout.redis")
    if connection is None:
        return  # embedded: the relay (`relay_inline_soon`) runs it
    try:
        queue = queue_for(fn)
        send(connection, run_outbox_job, row_id, queue=queue, job_id=_rq_id(row_id))
    except Exception:
        log.warning("job %s (outbox %s) waits for Redis", _name(fn), row_id)
        _due_now([row_id])


def _row(fn: Callable[..., Any], args: Sequence[Any], **state: Any) -> OutboxJob:
    """A pending row. One about to be sent to RQ is due again only when its lease passes
    (the relay then finds it still queued, or lost); a failed send makes it due at once."""
    now = utcnow()
    # Sent to RQ now, or (embedded) run after the response: the relay waits out a lease.
    sent_now = current_app.extensions.get("sprout.redis") is not None or _deferred(fn)
    fields: dict[str, Any] = {
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "due_at": now + _lease() if sent_now else now,
        **state,  # a failed inline job's row starts at one attempt (`record_failure`)
    }
    return OutboxJob(
        function=_name(fn),
        args=[list(args), {}],  # positional and keyword arguments
        queue=queue_for(fn),
        **fields,
    )


def _due_now(row_ids: list[int]) -> None:
    """Rows whose send failed (Redis down): due at once, so the relay sends them as soon
    as Redis answers. Its own short transaction; a failure only delays them to the lease."""
    try:
        with db.engine.begin() as conn:
            conn.execute(update(OutboxJob).where(OutboxJob.id.in_(row_ids)).values(due_at=utcnow()))
    except Exception:
        log.warning("outbox rows %s stay due at their lease", row_ids, exc_info=True)


def _deferred(fn: Callable[..., Any]) -> bool:
    return bool(getattr(fn, "after_response", False))


def init_app(app: Flask, repairs: Sequence[Repair] = ()) -> None:
    """Watch the app's sessions: which transactions wrote, and what to send once they
    commit; run embedded mode's committed jobs at the end of each request. `repairs` run
    with every relay (see `sweep_stuck`)."""
    app.extensions["sprout.outbox.repairs"] = tuple(repairs)
    factory = app.extensions["sprout.db"].session.session_factory
    connection = app.extensions.get("sprout.redis")

    @event.listens_for(factory, "after_flush")
    def _flushed(session: Session, _context: Any) -> None:
        session.info["wrote"] = True

    @event.listens_for(factory, "do_orm_execute")
    def _executed(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            state.session.info["wrote"] = True

    @event.listens_for(factory, "after_commit")
    def _committed(session: Session) -> None:
        session.info["wrote"] = False
        rows: list[OutboxJob] = session.info.pop("outbox", [])
        deferred = {id(row) for row in session.info.pop("outbox_deferred", [])}
        if connection is None:
            for row in rows:
                later = "outbox_after_response" if id(row) in deferred else "outbox_inline"
                session.info.setdefault(later, []).append(row.id)
            return
        unsent = []
        for row in rows:  # the session is between transactions: no SQL through it here
            try:
                send(connection, run_outbox_job, row.id, queue=row.queue, job_id=_rq_id(row.id))
            except Exception:
                log.warning("job %s (outbox %s) waits for Redis", row.function, row.id)
                unsent.append(row.id)
        if unsent:
            _due_now(unsent)

    @event.listens_for(factory, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info["wrote"] = False
        session.info.pop("outbox", None)  # the change is gone, and its jobs with it
        session.info.pop("outbox_deferred", None)

    @app.after_request
    def _run_committed(response: Response) -> Response:
        run_committed_inline()
        later = db.session.info.pop("outbox_after_response", [])
        if later:
            this_app = current_app._get_current_object()  # type: ignore[attr-defined]
            response.call_on_close(lambda: run_after_response(this_app, later))
        return response


def run_after_response(app: Flask, row_ids: list[int]) -> None:
    """Embedded mode, once the response has been sent: run the `after_response` jobs the
    request committed (and whatever they enqueue), in an app context of their own. A job
    that fails stays pending for the relay, as any inline job."""
    with app.app_context():
        db.session.info.setdefault("outbox_after_response", []).extend(row_ids)
        run_committed_inline(after_response=True)


def in_write_transaction() -> bool:
    """True while the current session holds a change not yet committed."""
    session = db.session
    if not session.in_transaction():
        return False
    return bool(session.info.get("wrote") or session.new or session.dirty or session.deleted)


def add_to_transaction(fn: Callable[..., Any], args: Sequence[Any]) -> None:
    """The job's row joins the open change: it commits (and is sent) with it, or not at all."""
    row = _row(fn, args)
    db.session.add(row)
    db.session.info.setdefault("outbox", []).append(row)
    if _deferred(fn):
        db.session.info.setdefault("outbox_deferred", []).append(row)


def defer_after_response(fn: Callable[..., Any], args: Sequence[Any]) -> None:
    """Embedded mode, an `after_response` job enqueued after its change committed: its row
    now, the job once the response is sent (at once outside a request)."""
    row_id = _write(_row(fn, args))
    db.session.info.setdefault("outbox_after_response", []).append(row_id)
    if not has_request_context():
        run_committed_inline()


def run_committed_inline(*, after_response: bool | None = None) -> int:
    """Embedded mode: run the jobs whose rows committed with this request's changes. In a
    request, `after_response` jobs wait for the response to be sent; outside one (a command,
    a job, the response's close) there is nothing to wait for, so they run here too."""
    if after_response is None:
        after_response = not has_request_context()
    ran = 0
    info = db.session.info
    while True:  # jobs may enqueue more
        ids = info.pop("outbox_inline", [])
        if after_response:
            ids += info.pop("outbox_after_response", [])
        if not ids:
            break
        for row_id in ids:
            try:
                run_outbox_job(row_id)
            except Exception:
                db.session.rollback()
                log.exception("outbox job %s failed inline; the relay retries it", row_id)
        ran += len(ids)
    if ran:
        relay_inline_soon()
    return ran


def record_and_send(connection: Any, fn: Callable[..., Any], args: Sequence[Any]) -> None:
    """Services mode: write the intent, then send it. Neither step raises to the caller; if
    even the database write fails (it just committed the change) the error is logged."""
    try:
        row_id = _write(_row(fn, args))
    except Exception:
        db.session.rollback()
        log.exception("job %s could not be recorded in the outbox", _name(fn))
        return
    try:
        queue = queue_for(fn)
        send(connection, run_outbox_job, row_id, queue=queue, job_id=_rq_id(row_id))
    except Exception:
        log.warning("job %s (outbox %s) waits for Redis", _name(fn), row_id)
        _due_now([row_id])


def record_failure(fn: Callable[..., Any], args: Sequence[Any], exc: BaseException) -> None:
    """Embedded mode: an inline job failed; keep it for a retry after the first back-off."""
    try:
        row = _row(fn, args, attempts=1, last_error=_error(exc))
        row.due_at = row.created_at + timedelta(seconds=RETRY_INTERVALS[0])
        _write(row)
    except Exception:
        db.session.rollback()
        log.exception("failed job %s could not be kept for a retry", _name(fn))


def _error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc))[-2000:]


@job("default", durable=False)
def run_outbox_job(row_id: int) -> dict[str, Any]:
    """Run one outbox job: claim it for a lease, run it, mark it done (or due again later)."""
    now = utcnow()
    claimed = db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == row_id, OutboxJob.state == "pending")
        .values(attempts=OutboxJob.attempts + 1, due_at=now + _lease())
        .returning(OutboxJob.function, OutboxJob.args, OutboxJob.attempts)
    ).first()
    db.session.commit()
    if claimed is None:
        return {"outbox": row_id, "state": "not pending"}
    return _run(row_id, *claimed)


def _run(row_id: int, function: str, arguments: list[Any], attempts: int) -> dict[str, Any]:
    fn = _resolve(function)
    args, kwargs = arguments
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        db.session.rollback()
        retries = getattr(fn, "retries", len(RETRY_INTERVALS))
        dead = attempts > retries
        wait = RETRY_INTERVALS[min(attempts, len(RETRY_INTERVALS)) - 1]
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == row_id)
            .values(
                state="dead" if dead else "pending",
                due_at=utcnow() + timedelta(seconds=wait),
                last_error=_error(exc),
            )
        )
        db.session.commit()
        log.exception("outbox job %s (%s) failed, attempt %s", row_id, function, attempts)
        return {"outbox": row_id, "state": "dead" if dead else "retry", "attempts": attempts}
    db.session.execute(
        update(OutboxJob).where(OutboxJob.id == row_id).values(state="done", done_at=utcnow())
    )
    db.session.commit()
    return {"outbox": row_id, "state": "done", "attempts": attempts}


@job("default", durable=False, keep_result=False)
def relay_outbox(limit: int = RELAY_BATCH) -> dict[str, int]:
    """Send every due pending job to RQ again, unless it is still waiting in its queue."""
    connection = current_app.extensions.get("sprout.redis")
    if connection is None:
        return {"ran": relay_inline(limit)}
    due = db.session.execute(
        select(OutboxJob.id, OutboxJob.queue)
        .where(OutboxJob.state == "pending", OutboxJob.due_at <= utcnow())
        .order_by(OutboxJob.due_at)
        .limit(limit)
    ).all()
    if due:
        # Not due again until a lease passes (a job's own claim sets the same).
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_([row_id for row_id, _ in due]))
            .values(due_at=utcnow() + _lease())
        )
        db.session.commit()
    jobs = Job.fetch_many([_rq_id(row_id) for row_id, _ in due], connection=connection)
    sent = waiting = 0
    for (row_id, queue), queued in zip(due, jobs, strict=True):
        if queued is not None and queued.get_status(refresh=False) in WAITING:
            waiting += 1
            continue
        # gone with Redis, abandoned by a dead worker, or failed: send it again
        send(connection, run_outbox_job, row_id, queue=queue, job_id=_rq_id(row_id))
        sent += 1
    repaired = sweep_stuck()
    return {"sent": sent, "waiting": waiting, "repaired": repaired}


def relay_inline(limit: int = 20) -> int:
    """Embedded mode: run the failed jobs whose back-off has passed, here and now."""
    due = db.session.scalars(
        select(OutboxJob.id)
        .where(OutboxJob.state == "pending", OutboxJob.due_at <= utcnow())
        .order_by(OutboxJob.due_at)
        .limit(limit)
    ).all()
    for row_id in due:
        run_outbox_job(row_id)
    return len(due) + sweep_stuck()


def relay_inline_soon() -> None:
    """Embedded mode has no worker: at most every 30 s, whichever process enqueues next
    retries what is due."""
    try:
        if shared_state().claim("sprout:outbox:inline-relay", INLINE_RELAY_SECONDS):
            relay_inline()
    except Exception:
        db.session.rollback()
        log.exception("retrying failed inline jobs failed")


Repair = Callable[[], int]


def sweep_stuck() -> int:
    """Repair what a lost job leaves behind, past a deadline. Each domain registers its
    repairs at app creation (`init_app(app, repairs=...)`): images still `processing`, notes
    edited since the search index last took them in."""
    return sum(repair() for repair in current_app.extensions["sprout.outbox.repairs"])


def pending_args(fn: Callable[..., Any]) -> list[list[Any]]:
    """The positional arguments of every pending row of `fn`: a repair skips what is already
    queued. (A row keeps `[args, kwargs]`, as `_row` writes it.)"""
    return [
        list(arguments[0])
        for (arguments,) in db.session.execute(
            select(OutboxJob.args).where(
                OutboxJob.state == "pending", OutboxJob.function == _name(fn)
            )
        )
    ]
