"""Sharing: links reused per (user, note, channel), share counting, visits and their sources."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from tests.conftest import assert_error, insert_note


def make_note(api: Any, username: str, title: str = "笔记", status: str = "published") -> int:
    return insert_note(api.users[username]["id"], title, status=status)


def share_count(note_id: int) -> int:
    from app.core.extensions import db
    from app.notes.models import Note

    return db.session.scalar(select(Note.share_count).where(Note.id == note_id))


def share_rows(note_id: int) -> int:
    from app.core.extensions import db
    from app.notes.models import Share

    return db.session.scalar(
        select(func.count()).select_from(Share).where(Share.note_id == note_id)
    )


def visits() -> list[tuple[Any, ...]]:
    from app.core.extensions import db
    from app.notes.models import ShareVisit

    rows = db.session.execute(
        select(
            ShareVisit.share_id, ShareVisit.visitor_id, ShareVisit.source, ShareVisit.referrer
        ).order_by(ShareVisit.id)
    )
    return [tuple(row) for row in rows]


def share(api: Any, note_id: int, user: str, channel: str) -> dict[str, Any]:
    response = api.post(f"/notes/{note_id}/share", user, json={"channel": channel})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_share_reuses_the_link_per_channel_and_counts_every_share(api, app):
    api.register("alice")
    api.register("bob")
    note_id = make_note(api, "alice")

    first = share(api, note_id, "bob", "wechat")
    assert len(first["token"]) == 12
    assert first["share_url"] == f"http://localhost/s/{first['token']}"
    assert first["share_count"] == 1 and first["channel"] == "wechat"
    again = share(api, note_id, "bob", "wechat")
    assert again["token"] == first["token"] and again["share_count"] == 2
    weibo = share(api, note_id, "bob", "weibo")
    assert weibo["token"] != first["token"]
    mine = share(api, note_id, "alice", "wechat")
    assert mine["token"] not in (first["token"], weibo["token"])
    assert share_count(note_id) == 4 and share_rows(note_id) == 3

    # A configured public URL wins over the request's host.
    app.config["SPROUT"] = app.config["SPROUT"].with_overrides(
        public_base_url="https://sprout.example/"
    )
    configured = share(api, note_id, "bob", "wechat")
    assert configured["share_url"] == f"https://sprout.example/s/{first['token']}"


def test_share_rejects_bad_input_and_changes_nothing(api):
    api.register("alice")
    api.register("bob")
    note_id = make_note(api, "alice")
    draft = make_note(api, "alice", "草稿", status="draft")
    path = f"/notes/{note_id}/share"
    for payload in ({"channel": "tiktok"}, {"channel": "WECHAT"}, {"channel": 1}, {}, {"x": 1}):
        assert_error(api.post(path, "bob", json=payload), 400, "validation_error")
    assert_error(api.post(path, "bob", json=["wechat"]), 400, "malformed_json")
    assert_error(api.post(path, json={"channel": "wechat"}), 401)
    assert_error(api.post("/notes/999999/share", "bob", json={"channel": "qq"}), 404)
    assert_error(api.post(f"/notes/{2**64}/share", "bob", json={"channel": "qq"}), 404)
    assert_error(api.post(f"/notes/{draft}/share", "bob", json={"channel": "qq"}), 404)
    assert share_count(note_id) == 0 and share_rows(note_id) == 0


def test_share_link_resolves_and_records_visits(api):
    api.register("alice")
    bob = api.register("bob")
    carol = api.register("carol")
    note_id = make_note(api, "alice")
    link = share(api, note_id, "bob", "moments")
    token = link["token"]

    # A browser is redirected to the note.
    opened = api.client.get(f"/s/{token}")
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(f"/api/v1/notes/{note_id}")

    # An app asks for JSON, signed in, from a QR code, with a hostile oversized referrer.
    referrer = "https://example.com/" + "a" * 400
    resolved = api.client.get(
        f"/s/{token}?from=qr_code",
        headers={**api.headers("carol"), "Accept": "application/json", "Referer": referrer},
    )
    assert resolved.status_code == 200
    body = resolved.get_json()
    assert body["note_id"] == note_id and body["channel"] == "moments"
    assert body["note_url"] == f"/api/v1/notes/{note_id}"
    assert body["shared_by"]["id"] == bob["id"]

    from app.core.extensions import db
    from app.notes.models import Share

    share_id = db.session.scalar(select(Share.id).where(Share.token == token))
    assert visits() == [
        (share_id, None, "moments", None),
        (share_id, carol["id"], "qr_code", referrer[:255]),
    ]
    assert db.session.scalar(select(Share.visit_count).where(Share.id == share_id)) == 2

    missing = api.client.get("/s/AAAAAAAAAAAA", headers={"Accept": "application/json"})
    assert_error(missing, 404, "share_not_found")
    assert_error(api.client.get("/s/AAAAAAAAAAAA"), 404, "share_not_found")
    assert_error(api.client.get("/s/" + "x" * 40), 404, "share_not_found")
    assert_error(api.client.get("/s/%E4%BD%A0%27%3B--"), 404, "share_not_found")
    assert_error(api.client.get(f"/s/{token}?from=" + "x" * 30), 400)
    assert_error(api.client.get(f"/s/{token}?from=a%20b"), 400)
    assert len(visits()) == 2  # refused visits record nothing

    # A link to a note that is no longer visible is a 404 and records nothing.
    from app.notes.models import Note

    db.session.get(Note, note_id).status = "hidden"
    db.session.commit()
    assert_error(api.client.get(f"/s/{token}"), 404, "note_not_found")
    assert len(visits()) == 2


def test_share_stats_per_channel_for_author_and_moderators(api):
    api.register("alice")
    bob = api.register("bob")
    api.register("carol")
    api.register("mod")
    api.grant("mod", "moderator")
    note_id = make_note(api, "alice")
    wechat = share(api, note_id, "bob", "wechat")["token"]
    share(api, note_id, "bob", "wechat")
    weibo = share(api, note_id, "carol", "weibo")["token"]
    api.client.get(f"/s/{wechat}")
    api.client.get(f"/s/{wechat}?from=group_chat")
    api.client.get(f"/s/{weibo}")

    stats = api.get(f"/notes/{note_id}/shares/stats", "alice")
    assert stats.status_code == 200
    body = stats.get_json()
    assert body["share_count"] == 3
    assert body["channels"] == [
        {"channel": "wechat", "links": 1, "visits": 2},
        {"channel": "weibo", "links": 1, "visits": 1},
    ]
    assert sorted((s["source"], s["visits"]) for s in body["sources"]) == [
        ("group_chat", 1),
        ("wechat", 1),
        ("weibo", 1),
    ]
    assert body["top_sharers"][0]["user"]["id"] == bob["id"]
    assert body["top_sharers"][0]["visits"] == 2

    assert api.get(f"/notes/{note_id}/shares/stats", "mod").status_code == 200
    assert_error(api.get(f"/notes/{note_id}/shares/stats", "carol"), 403)
    assert_error(api.get(f"/notes/{note_id}/shares/stats"), 401)
    assert_error(api.get("/notes/999999/shares/stats", "alice"), 404)


def test_concurrent_shares_reuse_one_link_and_count_every_share(app, api):
    api.register("alice")
    api.register("bob")
    note_id = make_note(api, "alice")
    tokens: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        with app.app_context():
            response = app.test_client().post(
                f"/api/v1/notes/{note_id}/share",
                json={"channel": "qq"},
                headers=api.headers("bob"),
            )
        assert response.status_code == 200
        with lock:
            tokens.append(response.get_json()["token"])

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 12 and len(set(tokens)) == 1
    assert share_count(note_id) == 12 and share_rows(note_id) == 1
