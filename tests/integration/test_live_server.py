"""The real server (gunicorn, several processes) under concurrent clients: nothing is lost."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def live_server(database_url: str, tmp_path: Path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SPROUT_DATA_DIR": str(tmp_path / "data"),
        "SPROUT_RATE_LIMITS": "off",
        "SPROUT_SEED_ON_EMPTY": "0",
    }
    env.pop("REDIS_URL", None)
    bin_dir = Path(sys.executable).parent
    process = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--threads",
            "8",
            "app.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if _call(base, "GET", "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(process.stdout.read().decode() if process.stdout else "server did not start")
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_concurrent_likes_follows_and_comments_are_exact(live_server: str, database_url: str):
    api = live_server + "/api/v1"
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
