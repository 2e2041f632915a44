"""Faults in services mode: Redis stopped mid-run, a worker killed mid-job, PostgreSQL
connections dropped. The deployment is the real one (gunicorn with 3 workers, an RQ worker,
PostgreSQL) with a Redis this test starts and kills itself, never the shared one.

After recovery: every request got 2xx or a clean 503, every job ran once in effect (the
outbox has nothing pending or dead, one notification per like), counters equal their rows
and points equal the ledger."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL
from tests.integration.conftest import Topology
from tests.integration.servers import Response, Worker, call, wait_until

PASSWORD = "long-password-1"
LEASE = "4"  # seconds before a job a dead worker held is sent again


# Services mode only: embedded mode has no Redis or worker to lose.
pytestmark = pytest.mark.parametrize("topology", ["services"], indirect=True)


@pytest.fixture
def stack(topology: Callable[..., Topology]) -> Iterator[Topology]:
    top = topology({"SPROUT_OUTBOX_LEASE_SECONDS": LEASE})
    assert top.worker is not None
    top.worker.env["SPROUT_OUTBOX_LEASE_SECONDS"] = LEASE
    top.worker.kill()
    top.worker.start()
    top.worker.wait_listening()  # the tests time jobs, not the worker's boot
    yield top


def _sql(top: Topology, query: str, **params: object) -> list[tuple]:
    engine = create_engine(top.database_url)
    with engine.begin() as conn:
        rows = [tuple(r) for r in conn.execute(text(query), params)]
    engine.dispose()
    return rows


def _register(top: Topology, name: str) -> tuple[str, int]:
    response = call(
        top.api, "POST", "/auth/register", body={"username": name, "password": PASSWORD}
    )
    assert response.status == 201, response
    return response.body["token"], response.body["user"]["id"]


def _upload(top: Topology, token: str, size: tuple[int, int] = (64, 64)) -> Response:
    picture = Image.linear_gradient("L").resize(size).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    boundary = "sproutboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + buffer.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return call(
        top.api,
        "POST",
        "/media/images",
        token,
        raw=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def _clean(response: Response) -> bool:
    """2xx, or a clean 503 in the error envelope (a dependency is down)."""
    if 200 <= response.status < 300:
        return True
    return response.status == 503 and set(response.body or {}) == {"error"}


def _assert_consistent(top: Topology) -> None:
    outbox = dict(_sql(top, "SELECT state, count(*) FROM job_outbox GROUP BY state"))
    assert outbox.get("pending", 0) == 0 and outbox.get("dead", 0) == 0, outbox
    assert (
        _sql(
            top,
            "SELECT id FROM notes n WHERE like_count <> "
            "(SELECT count(*) FROM note_likes l WHERE l.note_id = n.id)",
        )
        == []
    )
    assert (
        _sql(
            top,
            "SELECT id FROM users u WHERE follower_count <> "
            "(SELECT count(*) FROM user_follows f WHERE f.followee_id = u.id)",
        )
        == []
    )
    assert (
        _sql(
            top,
            "SELECT id FROM users u WHERE points <> "
            "(SELECT coalesce(sum(delta), 0) FROM points_ledger p WHERE p.user_id = u.id)",
        )
        == []
    )


def _outbox_settled(top: Topology) -> bool:
    return not _sql(top, "SELECT id FROM job_outbox WHERE state <> 'done'")


def test_redis_stopped_mid_run_delays_work_and_loses_none(stack: Topology) -> None:
    top = stack
    assert top.redis is not None and top.worker is not None
    author, author_id = _register(top, "author")
    note = call(top.api, "POST", "/notes", author, body={"title": "故障", "status": "published"})
    assert note.status == 201, note
    note_id = note.body["id"]

    top.redis.kill()  # Redis gone: every write below commits and answers 2xx
    responses: list[Response] = []
    fans = []
    for i in range(5):
        response = call(
            top.api, "POST", "/auth/register", body={"username": f"fan{i}", "password": PASSWORD}
        )
        responses.append(response)
        assert response.status == 201, response
        token = response.body["token"]
        fans.append(token)
        responses.append(call(top.api, "POST", f"/notes/{note_id}/like", token))
        responses.append(call(top.api, "POST", f"/users/{author_id}/follow", token))
    upload = _upload(top, author)
    responses.append(upload)
    assert upload.status == 201 and upload.body["status"] == "processing", upload
    for path in (f"/notes/{note_id}", "/feeds/discover", "/feeds/following", "/feeds/hot"):
        responses.append(call(top.api, "GET", path, fans[0]))
    ready = call(top.base, "GET", "/readyz")
    assert ready.status == 503 and ready.body["checks"]["redis"]["ok"] is False, ready
    assert all(_clean(r) for r in responses), [r for r in responses if not _clean(r)]
    assert all(r.status < 500 for r in responses), [r for r in responses if r.status >= 500]
    pending = _sql(top, "SELECT count(*) FROM job_outbox WHERE state = 'pending'")[0][0]
    assert pending >= 11  # index fan x5, like x5 (notify, points), follow x5, variants

    time.sleep(3)  # the worker rides out the outage
    assert top.worker.running, top.worker.output()[-3000:]
    top.redis.start()  # back, empty (it keeps nothing on disk): the outbox sends it all again
    assert wait_until(lambda: _outbox_settled(top), 60), _sql(
        top, "SELECT function, state, attempts, last_error FROM job_outbox WHERE state<>'done'"
    )
    image = call(top.api, "GET", f"/media/images/{upload.body['id']}", author)
    assert image.body["status"] == "ready", image
    likes = _sql(
        top, "SELECT count(*) FROM notifications WHERE kind = 'like' AND note_id = :n", n=note_id
    )[0][0]
    follows = _sql(
        top,
        "SELECT count(*) FROM notifications WHERE kind = 'follow' AND recipient_id = :u",
        u=author_id,
    )[0][0]
    assert (likes, follows) == (5, 5)
    found = call(top.api, "GET", "/search/users?q=fan3")
    assert any(u["username"] == "fan3" for u in found.body["items"]), found
    assert call(top.base, "GET", "/readyz").status == 200
    _assert_consistent(top)


def test_the_workers_ranking_thread_rides_out_a_redis_outage(stack: Topology) -> None:
    """A discover page that runs low asks the worker, over Redis, for the viewer's next
    pages; the worker's ranking thread ranks them. Redis stopped and started again (empty)
    leaves the thread waiting, not dead: the next page's request is ranked too."""
    import redis as redis_lib

    top = stack
    assert top.redis is not None and top.worker is not None
    authors = [_register(top, f"author{k}")[0] for k in range(8)]
    for i in range(80):
        created = call(
            top.api,
            "POST",
            "/notes",
            authors[i % 8],
            body={"title": f"第{i}篇", "status": "published"},
        )
        assert created.status == 201, created
    viewer, viewer_id = _register(top, "viewer")
    client = redis_lib.Redis.from_url(top.redis.url)
    ahead_list = f"sprout:feed:list:{viewer_id}:next:"

    def ranked_ahead() -> bool:
        idle = client.llen("sprout:feed:ahead:wanted") + client.llen("sprout:feed:ahead:running")
        return client.exists(ahead_list) == 1 and idle == 0

    page = call(top.api, "GET", "/feeds/discover?limit=20", viewer)
    assert page.status == 200 and len(page.body["items"]) == 20, page
    assert wait_until(ranked_ahead, 30), top.worker.output()[-3000:]

    top.redis.kill()
    time.sleep(3)  # the thread is waiting on Redis when it goes
    assert top.worker.running, top.worker.output()[-3000:]
    top.redis.start()  # empty: nothing ranked ahead, no claim held
    client = redis_lib.Redis.from_url(top.redis.url)
    page = call(top.api, "GET", "/feeds/discover?limit=20", viewer)  # a new session
    assert page.status == 200 and len(page.body["items"]) == 20, page
    assert wait_until(ranked_ahead, 60), top.worker.output()[-3000:]
    assert "ranking ahead: Redis unreachable" in top.worker.output()


def test_a_worker_killed_mid_job_has_its_job_run_again(stack: Topology) -> None:
    top = stack
    assert top.worker is not None
    token, _ = _register(top, "photographer")
    upload = _upload(top, token, (6300, 6300))  # big enough that its variants take a while
    assert upload.status == 201, upload
    image_id = upload.body["id"]

    def claimed() -> bool:
        rows = _sql(
            top,
            "SELECT attempts, state FROM job_outbox WHERE function LIKE '%make_image_variants'",
        )
        return bool(rows) and rows[0] == (1, "pending")

    assert wait_until(claimed, 30, every=0.02), "the worker never started the job"
    top.worker.kill()  # kill -9, mid-job
    assert call(top.api, "GET", f"/media/images/{image_id}", token).body["status"] == "processing"
    replacement = Worker(top.worker.env, top.worker.log)
    replacement.start()
    top.processes.append(replacement)
    assert wait_until(lambda: _outbox_settled(top), 90), _sql(
        top, "SELECT function, state, attempts, last_error FROM job_outbox"
    )
    assert call(top.api, "GET", f"/media/images/{image_id}", token).body["status"] == "ready"
    attempts = _sql(
        top, "SELECT attempts FROM job_outbox WHERE function LIKE '%make_image_variants'"
    )
    assert attempts == [(2,)]  # once killed, once done
    _assert_consistent(top)


def test_dropped_database_connections_give_clean_503s_and_lose_nothing(stack: Topology) -> None:
    top = stack
    author, author_id = _register(top, "author")
    note_id = call(
        top.api, "POST", "/notes", author, body={"title": "断线", "status": "published"}
    ).body["id"]
    tokens = [_register(top, f"reader{i}")[0] for i in range(12)]
    dbname = top.database_url.rsplit("/", 1)[1]
    stop = threading.Event()
    terminated: list[int] = []

    def drop_connections() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            while not stop.wait(0.3):
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (dbname,),
                ).fetchall()
                terminated.append(len(rows))

    dropper = threading.Thread(target=drop_connections)
    dropper.start()
    responses: list[Response] = []
    liked: set[int] = set()
    try:
        for _ in range(3):
            for i, token in enumerate(tokens):
                response = call(top.api, "POST", f"/notes/{note_id}/like", token)
                responses.append(response)
                if response.status in (200, 201):
                    liked.add(i)
                responses.append(call(top.api, "GET", f"/notes/{note_id}", token))
                responses.append(call(top.api, "GET", "/feeds/discover?limit=5", token))
    finally:
        stop.set()
        dropper.join()
    assert sum(terminated) > 0
    bad = [r for r in responses if not _clean(r)]
    assert bad == [], bad
    assert liked == set(range(12)), "every reader's like went through on one of three tries"
    assert wait_until(lambda: _outbox_settled(top), 90), _sql(
        top, "SELECT function, state, attempts, last_error FROM job_outbox WHERE state<>'done'"
    )
    likes = _sql(
        top, "SELECT count(*) FROM notifications WHERE kind = 'like' AND note_id = :n", n=note_id
    )[0][0]
    assert likes == 12
    assert _sql(top, "SELECT like_count FROM notes WHERE id = :n", n=note_id) == [(12,)]
    assert author_id
    _assert_consistent(top)
