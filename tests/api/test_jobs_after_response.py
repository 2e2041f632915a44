"""`@job(after_response=True)` in embedded mode: the job's row commits with the change, the
job runs once the response has been sent (its close), never before; outside a request it
runs at the commit; a failure leaves the row pending for the relay, as any inline job."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import select

from app.core.jobs import commit, enqueue, job
from app.core.jobs.models import OutboxJob
from app.core.models import utcnow

RAN: list[str] = []


@job("default", after_response=True)
def slow_part(tag: str) -> None:
    RAN.append(f"after:{tag}")
    if tag == "boom":
        raise RuntimeError("engine failed")


@job("default")
def quick_part(tag: str) -> None:
    RAN.append(f"inline:{tag}")


def _a_change() -> None:
    """Any write: the jobs enqueued next join its transaction."""
    from app.core.extensions import db

    db.session.add(OutboxJob(function="x:y", args=[[], {}], queue="default", state="done"))
    db.session.flush()


def _routes(app: Flask) -> None:
    def change(tag: str):  # type: ignore[no-untyped-def]
        _a_change()
        enqueue(slow_part, tag)
        enqueue(quick_part, tag)
        commit()
        return jsonify({"ran": list(RAN)})

    app.add_url_rule("/test/after/<tag>", "after_response_test", change)


def _last_row() -> OutboxJob:
    from app.core.extensions import db

    db.session.expire_all()
    query = select(OutboxJob).where(OutboxJob.function.like("%slow_part")).order_by(OutboxJob.id)
    return db.session.scalars(query).all()[-1]


def test_the_job_runs_after_the_response_is_sent(app: Flask) -> None:
    RAN.clear()
    _routes(app)
    client = app.test_client()
    response = client.get("/test/after/one")
    assert response.get_json()["ran"] == ["inline:one"]  # inline jobs run before the response
    assert RAN == ["inline:one"]  # the response is complete; the slow part has not run
    row = _last_row()
    assert row.state == "pending" and row.due_at > utcnow()  # the relay waits out a lease
    response.close()  # what the WSGI server does once it has sent the response
    assert RAN == ["inline:one", "after:one"]
    assert _last_row().state == "done"


def test_outside_a_request_it_runs_at_the_commit(app: Flask) -> None:
    RAN.clear()
    _a_change()
    enqueue(slow_part, "cli")
    commit()
    assert RAN == ["after:cli"]
    # enqueued after a commit (no open change): written, then run at once as well
    enqueue(slow_part, "late")
    assert RAN == ["after:cli", "after:late"]


def test_a_failure_after_the_response_stays_pending_for_the_relay(app: Flask) -> None:
    RAN.clear()
    _routes(app)
    response = app.test_client().get("/test/after/boom")
    response.close()
    assert "after:boom" in RAN
    row = _last_row()
    assert row.state == "pending" and row.attempts == 1 and "engine failed" in row.last_error
