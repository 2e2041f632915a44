"""Ranking ahead off RQ: a discover page that runs low asks for its viewer's next pages by
pushing (viewer, feed) onto a Redis list, and a thread in every `flask worker` takes the
requests one at a time and ranks them (`ranker.prefetch_next_pages`).

Why not an RQ job: RQ keeps books on every job (its hash, the started and finished
registries, an execution record, heartbeats): about 25 round trips and 60 Redis commands,
some 3.7 ms of worker CPU and 1 ms of Redis CPU per job on the bench machine, and 0.4 ms
more in the web process that enqueues it. The ranking itself takes about 20 ms, and a viewer
scrolling asks for one every 18 pages or so: the books were a fifth of the work, for a
request that is cheap to lose. A lost one (a worker killed mid-ranking, Redis down) costs
nothing lasting: the viewer's claim expires after `prefetch_claim_seconds`, and until then
their pages come from what is buffered, the cold list or a ranking in the request.

A request moves from `WANTED` to `RUNNING` while it is ranked (`BLMOVE`), so what is queued
and what is under way can both be seen (the bench waits for both to be empty). Its own
thread also keeps ranking ahead from waiting behind a long RQ job (a model rebuild).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson
import redis
from flask import Flask

from app.core.extensions import db, remove_session
from app.feeds import ranker
from app.feeds.state import feeds_state

log = logging.getLogger(__name__)

WANTED = "sprout:feed:ahead:wanted"
RUNNING = "sprout:feed:ahead:running"
#: Requests kept waiting at most (the newest): with no worker running, the list stays bounded.
MAX_WAITING = 10_000


def ask(connection: Any, user_id: int, channel: str | None) -> bool:
    """Queue a ranking of this viewer's next pages (the caller holds their claim). False,
    logged, when Redis cannot take it: the claim then lapses and a later page asks again."""
    entry = orjson.dumps([user_id, channel, time.time()])
    try:
        pipe = connection.pipeline(transaction=False)
        pipe.rpush(WANTED, entry)
        pipe.ltrim(WANTED, -MAX_WAITING, -1)
        pipe.execute()
    except redis.RedisError:
        log.warning("ranking ahead not asked for user %s: Redis is unreachable", user_id)
        return False
    return True


def pending(connection: Any) -> int:
    """Requests waiting or under way."""
    pipe = connection.pipeline(transaction=False)
    pipe.llen(WANTED)
    pipe.llen(RUNNING)
    return sum(pipe.execute())


def serve(
    app: Flask,
    connection: Any,
    *,
    burst: bool = False,
    stop: threading.Event | None = None,
    wait_seconds: float = 1.0,
) -> int:
    """Rank the requests as they come until `stop` is set (with `burst`: until none is
    left). Returns how many were served. Needs an app context for each ranking: one is
    pushed here for the whole loop, and each ranking ends with a clean session, as an RQ job
    does. A Redis outage is waited out."""
    served = 0
    backoff = 1.0
    with app.app_context():
        claim_seconds = feeds_state().config.prefetch_claim_seconds
        _forget_abandoned(connection, 4 * claim_seconds)
        while stop is None or not stop.is_set():
            try:
                if burst:
                    raw = connection.lmove(WANTED, RUNNING, "LEFT", "RIGHT")
                else:
                    raw = connection.blmove(WANTED, RUNNING, wait_seconds, "LEFT", "RIGHT")
                backoff = 1.0
            except redis.RedisError as exc:
                if burst:
                    raise
                log.warning("ranking ahead: Redis unreachable (%s); again in %.0f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if raw is None:
                if burst:
                    return served
                continue
            try:
                served += _rank(raw, claim_seconds)
            finally:
                try:
                    connection.lrem(RUNNING, 1, raw)
                except redis.RedisError:
                    log.warning("ranking ahead: a finished request stays listed as running")
    return served


def _rank(raw: bytes, claim_seconds: float) -> int:
    """One request: ranked unless it is older than its claim (the viewer's pages have asked
    again since, or moved on). Never raises: a failed ranking is logged and dropped."""
    try:
        user_id, channel, asked = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        log.error("ranking ahead: unreadable request %r dropped", raw[:200])
        return 0
    if time.time() - float(asked) > claim_seconds:
        return 0
    try:
        ranker.prefetch_next_pages(int(user_id), channel)
        return 1
    except Exception:
        log.exception("ranking ahead failed for user %s", user_id)
        return 0
    finally:
        remove_session(db.state.session)


def _forget_abandoned(connection: Any, older_than: float) -> None:
    """Drop requests left under way by a worker that stopped mid-ranking: their claims have
    lapsed and their viewers' pages asked again."""
    try:
        for raw in connection.lrange(RUNNING, 0, -1):
            try:
                asked = float(orjson.loads(raw)[2])
            except (orjson.JSONDecodeError, TypeError, ValueError, IndexError):
                asked = 0.0
            if time.time() - asked > older_than:
                connection.lrem(RUNNING, 1, raw)
    except redis.RedisError:
        log.warning("ranking ahead: could not look for abandoned requests", exc_info=True)


def start_thread(app: Flask, connection: Any) -> threading.Thread:
    """`serve` in a daemon thread of this worker process (it ends with the process)."""
    thread = threading.Thread(
        target=serve, args=(app, connection), name="sprout-ranking-ahead", daemon=True
    )
    thread.start()
    return thread
