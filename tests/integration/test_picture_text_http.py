"""Text in pictures over real HTTP: gunicorn with three workers on SQLite (embedded: the OCR
job runs once the upload's response is sent) and PostgreSQL + Redis + `flask worker`
(services: the worker runs it); and with a real RQ worker driven in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from rq import SimpleWorker
from sqlalchemy import create_engine, text

from app.core.jobs import QUEUES
from tests.api.test_picture_text import picture
from tests.conftest import Api
from tests.integration.conftest import Topology
from tests.integration.servers import Response, call, wait_until

PASSWORD = "correct horse 1"


def _sql(top: Topology, query: str) -> list[tuple]:
    engine = create_engine(top.database_url)
    with engine.begin() as conn:
        result = conn.execute(text(query))
        rows = [tuple(r) for r in result] if result.returns_rows else []
    engine.dispose()
    return rows


def _upload(top: Topology, token: str, data: bytes) -> Response:
    boundary = "sproutboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
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


def test_picture_text_holds_and_searches_over_http(topology: Callable[..., Topology]) -> None:
    top = topology()
    registered = call(
        top.api, "POST", "/auth/register", body={"username": "shop", "password": PASSWORD}
    )
    token = registered.body["token"]
    # not a new account: its note's own text is not filtered, its pictures' text is
    _sql(top, "UPDATE users SET created_at = '2020-01-01 00:00:00'")

    spam = _upload(top, token, picture("春季新品", "加微信 shop_778899 有优惠"))
    menu = _upload(top, token, picture("今日菜单", "酸菜鱼 68元", "毛血旺 48元"))
    assert spam.status == 201 and menu.status == 201, (spam, menu)
    notes = [
        call(
            top.api,
            "POST",
            "/notes",
            token,
            body={"title": title, "status": "published", "image_ids": [image.body["id"]]},
        ).body
        for title, image in (("新品", spam), ("小馆", menu))
    ]

    def read_all() -> bool:
        return _sql(top, "SELECT count(*) FROM images WHERE text_read_at IS NULL") == [(0,)]

    assert wait_until(read_all, 60), top.logs()

    def held() -> bool:
        view = call(top.api, "GET", f"/notes/{notes[0]['id']}", token).body
        return view["status"] == "pending_review"

    assert wait_until(held, 30), top.logs()
    assert call(top.api, "GET", f"/notes/{notes[0]['id']}").status == 404
    assert call(top.api, "GET", f"/notes/{notes[1]['id']}").body["status"] == "published"
    ((evidence,),) = _sql(top, "SELECT evidence FROM moderation_cases")
    found = evidence if isinstance(evidence, dict) else json.loads(evidence)
    assert [f["kind"] for f in found["picture_text"]] == ["contact"]

    def searched() -> list:
        return call(top.api, "GET", "/search/notes?q=%E9%85%B8%E8%8F%9C%E9%B1%BC").body["items"]

    found_ids = [n["id"] for n in wait_until(searched, 30)]
    jobs = _sql(top, "SELECT function, args, state, attempts, last_error FROM job_outbox")
    assert found_ids == [notes[1]["id"]], (jobs, top.logs())

    # A note published before its picture was read also waits in its own job, retried on
    # the outbox's back-off until the picture is read: every job ends done.
    def drained() -> bool:
        return _sql(top, "SELECT count(*) FROM job_outbox WHERE state <> 'done'") == [(0,)]

    assert wait_until(drained, 90), top.logs()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_worker_reads_the_picture_and_holds_the_published_note(services_app) -> None:
    """Services mode: the upload queues the OCR job (nothing is read in the request); a real
    RQ worker reads it, holds the note published meanwhile, and reindexes it."""
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.media.models import Image
    from moderation.models import Case

    api = Api(services_app.test_client())
    user = api.register("vendor")
    db.session.get(User, user["id"]).created_at = utcnow().replace(year=2020)
    db.session.commit()
    response = api.post(
        "/media/images",
        "vendor",
        data={"file": (io.BytesIO(picture("QQ 384756291", "欢迎咨询")), "qq.jpg")},
        content_type="multipart/form-data",
    )
    response.close()
    image_id = response.get_json()["id"]
    assert db.session.get(Image, image_id).text_read_at is None  # queued, not run
    note = api.post(
        "/notes", "vendor", json={"title": "咨询", "status": "published", "image_ids": [image_id]}
    ).get_json()
    assert note["status"] == "published"
    worker = SimpleWorker(list(QUEUES), connection=services_app.extensions["sprout.redis"])
    worker.work(burst=True)
    db.session.expire_all()
    assert "384756291" in (db.session.get(Image, image_id).text or "")
    assert api.get(f"/notes/{note['id']}", "vendor").get_json()["status"] == "pending_review"
    (case,) = db.session.query(Case).all()
    assert case.evidence["picture_text"][0]["kind"] == "contact"
