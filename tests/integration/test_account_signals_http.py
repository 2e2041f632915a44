"""Multiple accounts over real HTTP, on both deployments (`topology`: three gunicorn workers
on SQLite with jobs inline; PostgreSQL + Redis + an RQ worker): a shared `X-Device-Id`
proposes a link, a moderator confirms it, the linked accounts earn no points from each
other, and the table holds no raw address, user agent or device id."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import create_engine, text

from tests.integration.conftest import Topology
from tests.integration.servers import call, wait_until

PASSWORD = "long-password-1"
DEVICE = "5F2C9A10-7D3B-4C8E-9A61-0B1C2D3E4F50"


def _sql(top: Topology, statement: str, **params: object) -> list[tuple]:
    engine = create_engine(top.database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _register(top: Topology, username: str, agent: str, device: str | None = None) -> dict:
    headers = {"User-Agent": agent, **({"X-Device-Id": device} if device else {})}
    response = call(
        top.api,
        "POST",
        "/auth/register",
        body={"username": username, "password": PASSWORD},
        headers=headers,
    )
    assert response.status == 201, response
    return {"id": response.body["user"]["id"], "token": response.body["token"]}


def test_a_shared_device_is_proposed_confirmed_and_stops_points(
    topology: Callable[..., Topology],
) -> None:
    top = topology()
    mod = _register(top, "moderator1", "ModConsole/1.0")
    _sql(
        top,
        "INSERT INTO user_roles (user_id, role, granted_at) VALUES (:u, 'moderator', "
        "CURRENT_TIMESTAMP)",
        u=mod["id"],
    )
    main = _register(top, "mainacct", "Sprout/8.1 (iPhone)", DEVICE)
    alt = _register(top, "altacct", "Sprout/8.1 (Android)", DEVICE)
    fan = _register(top, "fanacct", "Sprout/8.0 (iPad)")
    pair = sorted([main["id"], alt["id"]])

    def proposed() -> dict | None:
        response = call(top.api, "GET", "/moderation/link-proposals?limit=50", mod["token"])
        assert response.status == 200, response
        return next((p for p in response.body["items"] if p["user_ids"] == pair), None)

    proposal = wait_until(proposed, 30)
    assert proposal, top.logs()
    assert proposal["strength"] == "strong" and "device" in proposal["evidence"]["kinds"]
    # users see nothing of it
    assert call(top.api, "GET", "/moderation/link-proposals", main["token"]).status == 403
    signals = call(top.api, "GET", f"/moderation/users/{alt['id']}/signals", main["token"])
    assert signals.status == 403 and set(signals.body) == {"error"}
    # nothing raw in the table
    rows = _sql(top, "SELECT * FROM moderation_account_signals")
    assert rows and not any(
        needle in " ".join(map(str, row))
        for row in rows
        for needle in ("127.0.0.1", "Sprout/8", DEVICE, "ModConsole")
    )
    confirmed = call(
        top.api,
        "POST",
        f"/moderation/link-proposals/{proposal['id']}/confirm",
        mod["token"],
        body={"note": "same device"},
    )
    assert confirmed.status == 200 and confirmed.body["status"] == "confirmed", confirmed
    assert len(_sql(top, "SELECT 1 FROM moderation_account_links")) == 2
    note = call(
        top.api, "POST", "/notes", main["token"], body={"title": "我的笔记", "status": "published"}
    )
    assert note.status == 201, note
    for who in (alt, fan):
        liked = call(top.api, "POST", f"/notes/{note.body['id']}/like", who["token"])
        assert liked.status in (200, 201), liked

    def likes_paid() -> list[str] | None:
        items = call(top.api, "GET", "/me/points?limit=50", main["token"]).body["items"]
        paid = [e["action"] for e in items if e["action"] == "like_received"]
        return paid or None

    assert wait_until(likes_paid, 30) == ["like_received"], top.logs()  # the fan's, not alt's
