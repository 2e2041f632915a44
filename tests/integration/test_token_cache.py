"""Services mode resolves bearer tokens from Redis: revoking one (sign-out, a new password, a
ban) must still take effect at once, and a revocation Redis missed must take effect once it
is back."""

from __future__ import annotations

import redis as redis_lib
from rq import SimpleWorker
from sqlalchemy import event, func, select

from app.accounts.jobs import token_key
from app.accounts.models import UserActivityDay
from app.core.extensions import db
from app.core.jobs import QUEUES
from tests.conftest import Api


def _token_queries(app):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM auth_tokens" in statement:
            seen.append(statement)

    return seen, lambda: event.remove(db.engine, "before_cursor_execute", count)


def test_a_signed_in_read_resolves_its_token_from_redis(services_app) -> None:
    api = Api(services_app.test_client())
    api.register("cached")
    seen, stop = _token_queries(services_app)
    try:
        for _ in range(3):
            assert api.get("/feeds/following", "cached").status_code == 200
        assert len(seen) == 1  # the first request read the database, the others Redis
    finally:
        stop()
    days = db.session.scalar(select(func.count()).select_from(UserActivityDay))
    assert days == 1  # activity recorded once


def test_sign_out_takes_effect_at_once(services_app) -> None:
    api = Api(services_app.test_client())
    api.register("leaver")
    assert api.get("/me", "leaver").status_code == 200  # cached now
    assert api.post("/auth/logout", "leaver").status_code in (200, 204)
    assert api.get("/me", "leaver").status_code == 401
    assert api.get("/feeds/following", "leaver").status_code == 401


def test_a_new_password_signs_out_the_other_sessions_at_once(services_app) -> None:
    client = services_app.test_client()
    api = Api(client)
    api.register("changer", password="first-pass-123")  # a first session
    other = client.post(
        "/api/v1/auth/login", json={"username": "changer", "password": "first-pass-123"}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {other}"}
    assert client.get("/api/v1/feeds/following", headers=headers).status_code == 200  # cached
    reply = api.post(
        "/me/password",
        "changer",
        json={"current_password": "first-pass-123", "new_password": "second-pass-456"},
    )
    assert reply.status_code in (200, 204), reply.get_json()
    assert client.get("/api/v1/feeds/following", headers=headers).status_code == 401
    assert api.get("/me", "changer").status_code == 200  # the session that changed it stays


def test_a_ban_signs_the_account_out_at_once(services_app) -> None:
    """What a ban does to the account (`penalise`): its status, and the hook revoking every
    token, committed together."""
    from app.accounts.models import User
    from app.accounts.services import revoke_all_tokens

    api = Api(services_app.test_client())
    user = api.register("troll")
    assert api.get("/feeds/following", "troll").status_code == 200  # cached
    db.session.get(User, user["id"]).status = "banned"
    revoke_all_tokens(user["id"])
    db.session.commit()
    assert api.get("/feeds/following", "troll").status_code == 401


def test_a_revocation_redis_missed_takes_effect_when_it_is_back(services_app, monkeypatch) -> None:
    api = Api(services_app.test_client())
    api.register("unlucky")
    assert api.get("/me", "unlucky").status_code == 200  # cached
    connection = services_app.extensions["sprout.redis"]
    cached = list(connection.keys("sprout:token:*"))
    assert len(cached) == 1

    real_delete = redis_lib.Redis.delete

    def unreachable(self, *names):  # type: ignore[no-untyped-def]
        if any(str(name).startswith("sprout:token:") for name in names):
            raise redis_lib.ConnectionError("Redis is down")
        return real_delete(self, *names)

    monkeypatch.setattr(redis_lib.Redis, "delete", unreachable)
    assert api.post("/auth/logout", "unlucky").status_code in (200, 204)
    monkeypatch.setattr(redis_lib.Redis, "delete", real_delete)
    assert connection.exists(cached[0])  # the immediate delete failed
    SimpleWorker(list(QUEUES), connection=connection).work(burst=True)  # the durable job
    assert not connection.exists(cached[0])
    assert api.get("/me", "unlucky").status_code == 401
    assert cached[0].decode().startswith(token_key(""))
