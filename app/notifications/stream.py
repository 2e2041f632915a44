"""The live stream (`GET /notifications/stream`, Server-Sent Events).

Every process serves streams the same way, whichever process wrote the notification: the
database is the source of truth (notifications newer than the last id sent, an indexed
range), and what differs is how a stream learns that it should look:
- services mode: the writer publishes on the recipient's Redis channel after its commit
  (`grouping.announce_after_commit`); the stream waits on that channel, and still looks
  every `SAFETY_POLL_SECONDS` (a publish lost with Redis only delays an event);
- embedded mode (no Redis): the stream looks every `stream_poll_seconds` (0.5 s).

Bounded, because gunicorn's sync workers hold one thread per open stream: a stream ends
after `stream_seconds` (30 s; the client reconnects with `Last-Event-ID` and misses nothing),
writes a heartbeat comment every `stream_heartbeat_seconds` (which also finds clients that
left), and a process holds at most `streams_per_process` streams at once (1 by default, so
`make run`'s 2-thread workers keep a thread for other requests); beyond that the request is
refused with 429 `stream_busy` and `Retry-After`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask

from app.core.errors import AppError
from app.notifications.config import NotificationConfig
from app.notifications.grouping import stream_channel

log = logging.getLogger(__name__)

SAFETY_POLL_SECONDS = 5.0
SLOTS_KEY = "sprout.notifications.stream_slots"


class StreamBusy(AppError):
    status, code = 429, "stream_busy"


def take_slot(app: Flask, config: NotificationConfig) -> Callable[[], None]:
    """One of this process's stream slots (each holds a server thread), or 429. Returns
    the release, safe to call more than once."""
    slots = app.extensions.setdefault(
        SLOTS_KEY, threading.BoundedSemaphore(config.streams_per_process)
    )
    if not slots.acquire(blocking=False):
        raise StreamBusy(
            "Too many live streams on this server process; reconnect shortly.",
            headers={"Retry-After": "2"},
        )
    released = threading.Event()
    lock = threading.Lock()

    def release() -> None:
        with lock:
            if not released.is_set():
                released.set()
                slots.release()

    return release


def sse(event: dict[str, Any]) -> str:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event['id']}\nevent: notification\ndata: {data}\n\n"


def events(
    app: Flask,
    user_id: int,
    last_id: int,
    config: NotificationConfig,
    fetch: Callable[[int, int], list[dict[str, Any]]],
    release: Callable[[], None],
) -> Iterator[str]:
    """The stream's text, run by the WSGI server outside the request: each look at the
    database is its own short app context (no transaction or connection held between)."""
    connection = app.extensions.get("sprout.redis")
    pubsub = None
    try:
        if connection is not None:
            try:
                pubsub = connection.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(stream_channel(user_id))
            except Exception:
                log.warning("stream for user %s polls: Redis is unreachable", user_id)
                pubsub = None
        started = time.monotonic()
        deadline = started + config.stream_seconds
        yield f"retry: 1000\n: connected, until {config.stream_seconds:.0f}s\n\n"
        next_heartbeat = started + config.stream_heartbeat_seconds
        next_look = started  # look at once: what came while the client reconnected
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_look:
                with app.app_context():  # its teardown ends the session
                    found = fetch(user_id, last_id)
                for item in found:
                    last_id = max(last_id, int(item["id"]))
                    yield sse(item)
                every = SAFETY_POLL_SECONDS if pubsub is not None else config.stream_poll_seconds
                next_look = time.monotonic() + every
            if time.monotonic() >= next_heartbeat:
                yield ": heartbeat\n\n"
                next_heartbeat = time.monotonic() + config.stream_heartbeat_seconds
            wait = max(min(next_look, next_heartbeat, deadline) - time.monotonic(), 0.01)
            if pubsub is None:
                time.sleep(min(wait, config.stream_poll_seconds))
                continue
            try:
                message = pubsub.get_message(timeout=min(wait, 1.0))
            except Exception:
                log.warning("stream for user %s falls back to polling", user_id)
                pubsub = None
                continue
            if message is not None:
                next_look = time.monotonic()  # woken: look now
        yield ": the stream ends here; reconnect with Last-Event-ID\n\n"
    finally:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()
        release()
