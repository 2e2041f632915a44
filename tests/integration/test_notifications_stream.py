"""Notifications over real HTTP, gunicorn with 3 workers, embedded (SQLite, no Redis) and
services mode (PostgreSQL, Redis, an RQ worker): the stream opened on one connection gets a
like caused through other requests (served by other workers) within a second, 20 users
liking one note at once make one group of 20, and a stream ends by itself."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import Topology
from tests.integration.servers import call, wait_until

PASSWORD = "correct horse 1"
STREAM_SECONDS = 12


def _register(top: Topology, username: str) -> tuple[str, int]:
    response = call(
        top.api, "POST", "/auth/register", body={"username": username, "password": PASSWORD}
    )
    assert response.status == 201, response
    return response.body["token"], response.body["user"]["id"]


class Stream:
    """An EventSource in a thread: `events` collects (arrival time, data JSON, id)."""

    def __init__(self, top: Topology, token: str, last_id: int | None = None) -> None:
        parsed = urllib.parse.urlsplit(top.api)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        query = urllib.parse.urlencode({"token": token})
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.connection.request("GET", f"{parsed.path}/notifications/stream?{query}", None, headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read()
        assert self.response.getheader("Content-Type").startswith("text/event-stream")
        self.events: list[tuple[float, dict, int]] = []
        self.comments: list[str] = []
        self.ended_at: float | None = None
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "the stream never said it was open"

    def _read(self) -> None:
        import json

        event_id, data = None, None
        while True:
            try:
                line = self.response.fp.readline()
            except (AttributeError, OSError, ValueError):  # closed by the test
                line = b""
            if not line:
                self.ended_at = time.monotonic()
                return
            text = line.decode().rstrip("\n")
            if text.startswith(":"):
                self.comments.append(text)
                self.connected.set()
            elif text.startswith("id: "):
                event_id = int(text[4:])
            elif text.startswith("data: "):
                data = json.loads(text[6:])
            elif text == "" and data is not None:
                self.events.append((time.monotonic(), data, event_id))
                event_id, data = None, None

    def close(self) -> None:
        self.connection.close()


def test_stream_gets_likes_from_other_workers_and_groups_stay_exact(
    topology: Callable[..., Topology],
) -> None:
    top = topology({"SPROUT_NOTIFICATION_STREAM_SECONDS": str(STREAM_SECONDS)})
    author, _ = _register(top, "author")
    fans = [_register(top, f"fan{i}")[0] for i in range(20)]
    note = call(top.api, "POST", "/notes", author, body={"title": "周末", "status": "published"})
    assert note.status == 201, note
    note_id = note.body["id"]

    stream = Stream(top, author)
    opened = time.monotonic()
    try:
        # One like through another connection (whichever worker takes it): within a second.
        liked = call(top.api, "POST", f"/notes/{note_id}/like", fans[0])
        assert liked.status == 200, liked
        done = time.monotonic()
        assert wait_until(lambda: stream.events, 5), top.logs()
        arrived, first, first_id = stream.events[0]
        assert arrived - done < 1.0, f"arrived {arrived - done:.2f}s after the like"
        assert first["type"] == "like" and first["target"] == {"type": "note", "id": note_id}
        assert first_id == first["id"] and first["actor"]["username"] == "fan0"

        # 19 more at once, over many connections (all three workers).
        with ThreadPoolExecutor(19) as pool:
            statuses = list(
                pool.map(
                    lambda token: call(top.api, "POST", f"/notes/{note_id}/like", token).status,
                    fans[1:],
                )
            )
        assert statuses == [200] * 19
        assert wait_until(lambda: len(stream.events) >= 20, 10), (len(stream.events), top.logs())
        assert len({data["id"] for _, data, _ in stream.events}) == 20
        assert {data["group_id"] for _, data, _ in stream.events} == {first["group_id"]}

        listed = call(top.api, "GET", "/notifications", author)
        assert listed.status == 200, listed
        (group,) = listed.body["items"]
        assert group["id"] == first["group_id"] and group["actor_count"] == 20
        assert len(group["actors"]) == 3 and group["read"] is False
        counts = call(top.api, "GET", "/notifications/unread-count", author).body
        assert counts == {"total": 1, "by_type": {"like": 1}}

        # The stream ends by itself (heartbeats meanwhile); nothing is lost on reconnecting.
        assert wait_until(lambda: stream.ended_at is not None, STREAM_SECONDS + 10)
        assert stream.ended_at - opened < STREAM_SECONDS + 5
        assert any("reconnect" in comment for comment in stream.comments)
    finally:
        stream.close()
    last_id = max(data["id"] for _, data, _ in stream.events)
    resumed = Stream(top, author, last_id=last_id - 2)
    try:
        assert wait_until(lambda: len(resumed.events) >= 2, 5)
        assert [data["id"] for _, data, _ in resumed.events] == [last_id - 1, last_id]
    finally:
        resumed.close()
