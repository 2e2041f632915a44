"""The real server (gunicorn, several processes) under concurrent clients: nothing is lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, text

from tests.integration.servers import LiveServer, call

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

    status, fresh = _call(api, "GET", f"/notes/{note['id']}")
    assert (fresh["like_count"], fresh["comment_count"]) == (CLIENTS, CLIENTS)
    status, profile = _call(api, "GET", f"/users/{author['user']['id']}")
    assert profile["follower_count"] == CLIENTS
    assert profile["like_received_count"] == CLIENTS
    engine = create_engine(database_url)
    with engine.connect() as conn:
        likes = conn.execute(text("SELECT COUNT(*) FROM note_likes")).scalar_one()
        follows = conn.execute(text("SELECT COUNT(*) FROM user_follows")).scalar_one()
    engine.dispose()
    assert (likes, follows) == (CLIENTS, CLIENTS)
