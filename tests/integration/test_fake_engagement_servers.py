"""Bought engagement over real HTTP, in both deployments: embedded (gunicorn with 3 workers
on SQLite, jobs inline) and services (PostgreSQL, Redis, gunicorn and a real `flask worker`
running the jobs). Ten new accounts like a note; the periodic jobs run (as an admin's
`POST /admin/ranking/rebuild`, detection before the hot rebuild); the likes leave the count,
the hot list and the author's points; a moderator dismisses the case and they count and pay
again."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from tests.integration.servers import call


def _call(base: str, method: str, path: str, token: str | None = None, body: Any = None):
    response = call(base, method, path, token, body)
    return response.status, response.body


def _eventually(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """The worker runs the points jobs after the request: wait for them (services mode)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_bought_likes_over_http(topology):
    top = topology()
    api = top.api
    tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    for name in ["author", "staff", *(f"bot_{i}" for i in range(10))]:
        status, body = _call(
            api, "POST", "/auth/register", body={"username": name, "password": "long-password-1"}
        )
        assert status == 201, body
        tokens[name], ids[name] = body["token"], body["user"]["id"]
    engine = create_engine(top.database_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO user_roles (user_id, role, granted_at) VALUES (:u, 'admin', :t)"),
            {"u": ids["staff"], "t": datetime.now(UTC)},
        )
    engine.dispose()
    status, note = _call(
        api, "POST", "/notes", tokens["author"], {"title": "买来的赞", "status": "published"}
    )
    assert status == 201, note

    def points() -> int:
        return _call(api, "GET", "/me/growth", tokens["author"])[1]["points"]

    base = _eventually(lambda: points() or None) or 0  # the publish reward, once paid
    for i in range(10):
        assert _call(api, "POST", f"/notes/{note['id']}/like", tokens[f"bot_{i}"])[0] == 200
    assert _eventually(lambda: points() == base + 10), (points(), base, top.logs())

    status, ran = _call(api, "POST", "/admin/ranking/rebuild", tokens["staff"])
    assert status == 200, ran
    # (In services mode the worker's own schedule may have run the detector first.)
    assert _call(api, "GET", f"/notes/{note['id']}")[1]["like_count"] == 0
    hot = _call(api, "GET", "/feeds/hot")[1]["items"]
    assert note["id"] not in [item["id"] for item in hot]
    assert _eventually(lambda: points() == base), (points(), base, top.logs())

    status, queue = _call(api, "GET", "/moderation/cases", tokens["staff"])
    (case,) = [c for c in queue["items"] if c["reason_code"] == "fan_circle.fake_engagement"]
    assert case["target_id"] == note["id"] and case["evidence"]["engagement"]["flagged"] == 10
    decision = {"content": "keep", "account": "none"}
    status, decided = _call(
        api, "POST", f"/moderation/cases/{case['id']}/decision", tokens["staff"], decision
    )
    assert status == 200, decided
    assert _call(api, "GET", f"/notes/{note['id']}")[1]["like_count"] == 10
    assert _eventually(lambda: points() == base + 10), (points(), base, top.logs())
    # A second run flags nothing: a moderator found them genuine.
    status, again = _call(api, "POST", "/admin/ranking/rebuild", tokens["staff"])
    assert again["detect_engagement"]["new_flags"] == 0
    assert _call(api, "GET", f"/notes/{note['id']}")[1]["like_count"] == 10
