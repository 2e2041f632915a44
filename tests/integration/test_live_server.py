"""The real server (gunicorn, several processes) under concurrent clients: nothing is lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, text

from tests.integration.servers import LiveServer, call, wait_until

CLIENTS = 40


def _call(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    response = call(base, method, path, token, body)
    return response.status, response.body


def test_concurrent_likes_follows_and_comments_are_exact(
    live_server: LiveServer, database_url: str
):
    api = live_server.api
    status, author = _call(
        api, "POST", "/auth/register", body={"username": "star", "password": "long-password-1"}
    )
    assert status == 201
    status, note = _call(
        api,
        "POST",
        "/notes",
        author["token"],
        body={"title": "并发测试", "body": "点赞吧", "status": "published"},
    )
    assert status == 201, note

    def register(index: int) -> str:
        status, body = _call(
            api,
            "POST",
            "/auth/register",
            body={"username": f"fan_{index}", "password": "long-password-1"},
        )
        assert status == 201, body
        return body["token"]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        tokens = list(pool.map(register, range(CLIENTS)))

    def engage(token: str) -> list[int]:
        return [
            _call(api, "POST", f"/notes/{note['id']}/like", token)[0],
            _call(api, "POST", f"/notes/{note['id']}/like", token)[0],  # idempotent repeat
            _call(api, "POST", f"/users/{author['user']['id']}/follow", token)[0],
            _call(api, "POST", f"/notes/{note['id']}/comments", token, {"body": "好看!"})[0],
        ]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(engage, tokens))
    assert all(code in (200, 201) for codes in results for code in codes), results

    # 40 accounts made seconds ago that do nothing else is what a bought burst looks like:
    # the fake-engagement detector (the worker's schedule) may flag it at any moment, and
    # suspect likes and follows leave the counters. So each counter must equal exactly the
    # rows still counted, read in the same moment (retried if the detector ran in between).
    engine = create_engine(database_url)

    def rows() -> tuple[int, int, int, int]:
        with engine.connect() as conn:
            like_rows = conn.execute(
                text("SELECT COUNT(*), SUM(CASE WHEN suspect THEN 0 ELSE 1 END) FROM note_likes")
            ).one()
            follow_rows = conn.execute(
                text("SELECT COUNT(*), SUM(CASE WHEN suspect THEN 0 ELSE 1 END) FROM user_follows")
            ).one()
        return (*like_rows, *follow_rows)

    def consistent() -> tuple | None:
        before = rows()
        _, fresh = _call(api, "GET", f"/notes/{note['id']}")
        _, profile = _call(api, "GET", f"/users/{author['user']['id']}")
        if rows() != before:
            return None  # flagged while we read: read again
        likes, counted_likes, follows, counted_follows = before
        seen = (
            fresh["like_count"],
            fresh["comment_count"],
            profile["follower_count"],
            profile["like_received_count"],
        )
        return (likes, follows, seen, (counted_likes, CLIENTS, counted_follows, counted_likes))

    result = wait_until(consistent, 30)
    engine.dispose()
    assert result is not None
    likes, follows, seen, expected = result
    assert (likes, follows) == (CLIENTS, CLIENTS)
    assert seen == expected
