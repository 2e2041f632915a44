"""Albums (专辑) and collects: default album, moving, exact counters, privacy, concurrency."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from tests.conftest import Api, assert_error, insert_note, make_app


def make_note(api: Any, username: str, title: str = "笔记", status: str = "published") -> int:
    return insert_note(api.users[username]["id"], title, status=status)


def collect_count(note_id: int) -> int:
    from app.core.extensions import db
    from app.notes.models import Note

    return db.session.scalar(select(Note.collect_count).where(Note.id == note_id))


def collect_rows(note_id: int) -> int:
    from app.core.extensions import db
    from app.notes.models import Collect

    return db.session.scalar(
        select(func.count()).select_from(Collect).where(Collect.note_id == note_id)
    )


def received(user_id: int) -> int:
    from app.accounts.models import User
    from app.core.extensions import db

    return db.session.scalar(select(User.collect_received_count).where(User.id == user_id))


def album(api: Any, album_id: int, user: str | None = None) -> dict[str, Any]:
    response = api.get(f"/albums/{album_id}", user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_default_album_is_created_once_and_listed_first(api):
    bob = api.register("bob")
    listed = api.get("/albums", "bob").get_json()
    assert [a["name"] for a in listed["items"]] == ["默认专辑"]
    default = listed["items"][0]
    assert default["default"] is True and default["private"] is False
    assert default["note_count"] == 0 and default["owner"]["id"] == bob["id"]
    assert api.get("/albums", "bob").get_json()["items"][0]["id"] == default["id"]

    created = api.post("/albums", "bob", json={"name": "旅行", "description": "想去的地方"})
    assert created.status_code == 201
    trip = created.get_json()
    assert trip["name"] == "旅行" and trip["default"] is False and trip["description"]
    api.post("/albums", "bob", json={"name": "美食", "private": True})
    names = [a["name"] for a in api.get("/albums", "bob").get_json()["items"]]
    assert names == ["默认专辑", "美食", "旅行"]

    # Keyset pagination walks every album once.
    seen, cursor = [], None
    while True:
        page = api.get("/albums?limit=1" + (f"&cursor={cursor}" if cursor else ""), "bob")
        body = page.get_json()
        seen += [a["name"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    assert_error(api.get("/albums"), 401)
    assert_error(api.get("/albums?cursor=WzIsMV0", "bob"), 400, "invalid_cursor")


def test_album_names_are_validated_and_unique_per_owner(api):
    api.register("bob")
    api.register("carol")
    assert api.post("/albums", "bob", json={"name": "穿搭"}).status_code == 201
    assert_error(api.post("/albums", "bob", json={"name": "穿搭"}), 409, "album_name_taken")
    assert_error(api.post("/albums", "bob", json={"name": "默认专辑"}), 409, "album_name_taken")
    assert api.post("/albums", "carol", json={"name": "穿搭"}).status_code == 201  # per owner
    assert api.post("/albums", "bob", json={"name": "字" * 20}).status_code == 201
    for payload in (
        {"name": "字" * 21},
        {"name": ""},
        {"name": "   "},
        {"name": "两\n行"},
        {"name": 42},
        {},
        {"name": "ok", "private": [1]},
        {"name": "ok", "description": "x" * 201},
        {"name": "a\x07b"},
    ):
        assert_error(api.post("/albums", "bob", json=payload), 400)
    names = [a["name"] for a in api.get("/albums", "bob").get_json()["items"]]
    assert sorted(names) == sorted(["默认专辑", "穿搭", "字" * 20])


def test_album_privacy_and_ownership(api):
    bob = api.register("bob")
    api.register("carol")
    public = api.post("/albums", "bob", json={"name": "公开"}).get_json()
    secret = api.post("/albums", "bob", json={"name": "私密", "private": True}).get_json()

    others = api.get(f"/users/{bob['id']}/albums", "carol").get_json()["items"]
    assert [a["name"] for a in others] == ["默认专辑", "公开"]
    anonymous = api.get(f"/users/{bob['id']}/albums").get_json()["items"]
    assert [a["name"] for a in anonymous] == ["默认专辑", "公开"]
    own = api.get(f"/users/{bob['id']}/albums", "bob").get_json()["items"]
    assert [a["name"] for a in own] == ["默认专辑", "私密", "公开"]
    assert_error(api.get("/users/999999/albums"), 404, "user_not_found")
    assert_error(api.get(f"/users/{2**64}/albums"), 404)

    assert album(api, secret["id"], "bob")["private"] is True
    assert_error(api.get(f"/albums/{secret['id']}", "carol"), 404, "album_not_found")
    assert_error(api.get(f"/albums/{secret['id']}"), 404, "album_not_found")
    assert_error(api.get(f"/albums/{secret['id']}/notes", "carol"), 404)
    assert album(api, public["id"])["name"] == "公开"

    # Writes are the owner's: a visible album is 403 to others, a private one 404.
    assert_error(api.patch(f"/albums/{public['id']}", "carol", json={"name": "x"}), 403)
    assert_error(api.delete(f"/albums/{public['id']}", "carol"), 403)
    assert_error(api.patch(f"/albums/{secret['id']}", "carol", json={"name": "x"}), 404)
    assert_error(api.delete(f"/albums/{secret['id']}", "carol"), 404)
    assert_error(api.delete("/albums/999999", "bob"), 404)
    assert_error(api.patch(f"/albums/{2**64}", "bob", json={"name": "x"}), 404)

    patched = api.patch(
        f"/albums/{secret['id']}", "bob", json={"name": "改名", "private": False}
    ).get_json()
    assert patched["name"] == "改名" and patched["private"] is False
    assert album(api, secret["id"], "carol")["name"] == "改名"
    assert_error(
        api.patch(f"/albums/{secret['id']}", "bob", json={"name": "公开"}), 409, "album_name_taken"
    )
    assert_error(api.patch(f"/albums/{secret['id']}", "bob", json={"name": ""}), 400)

    default_id = own[0]["id"]
    assert_error(api.delete(f"/albums/{default_id}", "bob"), 409, "default_album_locked")
    assert_error(
        api.patch(f"/albums/{default_id}", "bob", json={"name": "新名"}),
        409,
        "default_album_locked",
    )
    assert api.patch(f"/albums/{default_id}", "bob", json={"private": True}).status_code == 200
    assert album(api, default_id, "bob")["name"] == "默认专辑"


def test_collect_is_idempotent_moves_between_albums_and_uncollects(api):
    alice = api.register("alice")
    bob = api.register("bob")
    note_id = make_note(api, "alice")
    trip = api.post("/albums", "bob", json={"name": "旅行"}).get_json()

    first = api.post(f"/notes/{note_id}/collect", "bob")
    assert first.status_code == 200
    state = first.get_json()
    default_id = state["album_id"]
    assert state["collected"] is True and state["collect_count"] == 1
    assert album(api, default_id, "bob")["name"] == "默认专辑"
    assert api.post(f"/notes/{note_id}/collect", "bob", json={}).get_json() == state
    assert collect_count(note_id) == 1 and received(alice["id"]) == 1
    assert album(api, default_id, "bob")["note_count"] == 1

    moved = api.post(f"/notes/{note_id}/collect", "bob", json={"album_id": trip["id"]}).get_json()
    assert moved == {"collected": True, "collect_count": 1, "album_id": trip["id"]}
    assert album(api, default_id, "bob")["note_count"] == 0
    assert album(api, trip["id"], "bob")["note_count"] == 1
    assert collect_rows(note_id) == 1 and received(alice["id"]) == 1
    again = api.post(f"/notes/{note_id}/collect", "bob", json={"album_id": trip["id"]})
    assert again.get_json() == moved
    assert album(api, trip["id"], "bob")["note_count"] == 1

    in_album = api.get(f"/albums/{trip['id']}/notes", "bob").get_json()
    assert [n["id"] for n in in_album["items"]] == [note_id]
    assert in_album["items"][0]["collected"] is True
    assert api.get(f"/albums/{default_id}/notes", "bob").get_json()["items"] == []

    from app.core.extensions import db
    from app.notifications.models import Notification

    rows = db.session.execute(
        select(Notification.recipient_id, Notification.actor_id, Notification.note_id).where(
            Notification.kind == "collect"
        )
    ).all()
    assert [tuple(r) for r in rows] == [(alice["id"], bob["id"], note_id)]

    gone = api.delete(f"/notes/{note_id}/collect", "bob").get_json()
    assert gone == {"collected": False, "collect_count": 0, "album_id": None}
    assert api.delete(f"/notes/{note_id}/collect", "bob").get_json() == gone
    assert collect_rows(note_id) == 0 and received(alice["id"]) == 0
    assert album(api, trip["id"], "bob")["note_count"] == 0
    # Collecting again after uncollecting does not notify twice.
    api.post(f"/notes/{note_id}/collect", "bob")
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "collect")
        )
        == 1
    )


def test_collect_rejects_bad_input(api):
    api.register("alice")
    api.register("bob")
    note_id = make_note(api, "alice")
    draft = make_note(api, "alice", "草稿", status="draft")
    carols = api.post("/albums", "alice", json={"name": "她的"}).get_json()

    assert_error(api.post(f"/notes/{note_id}/collect", json={}), 401)
    assert_error(
        api.post(f"/notes/{note_id}/collect", "bob", json={"album_id": carols["id"]}),
        404,
        "album_not_found",
    )
    assert_error(api.post(f"/notes/{note_id}/collect", "bob", json={"album_id": 999999}), 404)
    for bad in ("abc", True, 0, -3, 1.5, [1]):
        assert_error(api.post(f"/notes/{note_id}/collect", "bob", json={"album_id": bad}), 400)
    assert_error(api.post("/notes/999999/collect", "bob"), 404, "note_not_found")
    assert_error(api.post(f"/notes/{2**63}/collect", "bob"), 404)
    assert_error(api.post(f"/notes/{draft}/collect", "bob"), 404)
    assert_error(api.delete("/notes/999999/collect", "bob"), 404)
    assert_error(api.delete(f"/notes/{2**64}/collect", "bob"), 404)
    assert collect_count(note_id) == 0 and collect_rows(note_id) == 0


def test_deleting_an_album_decrements_counters_exactly(api):
    alice = api.register("alice")
    erin = api.register("erin")
    api.register("bob")
    api.register("carol")
    notes = [make_note(api, "alice", f"笔记{i}") for i in range(3)]
    erins = make_note(api, "erin", "erin 的笔记")
    doomed = api.post("/albums", "bob", json={"name": "要删的"}).get_json()

    for note_id in [*notes[:2], erins]:
        api.post(f"/notes/{note_id}/collect", "bob", json={"album_id": doomed["id"]})
    api.post(f"/notes/{notes[2]}/collect", "bob")  # default album: survives
    for note_id in [*notes, erins]:
        api.post(f"/notes/{note_id}/collect", "carol")
    assert [collect_count(n) for n in [*notes, erins]] == [2, 2, 2, 2]
    assert received(alice["id"]) == 6 and received(erin["id"]) == 2
    assert album(api, doomed["id"], "bob")["note_count"] == 3

    assert api.delete(f"/albums/{doomed['id']}", "bob").status_code == 204
    assert [collect_count(n) for n in [*notes, erins]] == [1, 1, 2, 1]
    assert [collect_rows(n) for n in [*notes, erins]] == [1, 1, 2, 1]
    assert received(alice["id"]) == 4 and received(erin["id"]) == 1
    assert_error(api.get(f"/albums/{doomed['id']}", "bob"), 404)
    assert_error(api.delete(f"/albums/{doomed['id']}", "bob"), 404)
    flags = api.get(
        f"/albums/{api.get('/albums', 'bob').get_json()['items'][0]['id']}/notes", "bob"
    )
    assert [n["id"] for n in flags.get_json()["items"]] == [notes[2]]
    # Bob can collect again; the counter rises from the exact value.
    api.post(f"/notes/{notes[0]}/collect", "bob")
    assert collect_count(notes[0]) == 2 == collect_rows(notes[0])


def test_album_notes_newest_collected_first_with_cursor(api):
    api.register("alice")
    api.register("bob")
    notes = [make_note(api, "alice", f"笔记{i}") for i in range(5)]
    for note_id in [notes[3], notes[0], notes[4], notes[1], notes[2]]:
        api.post(f"/notes/{note_id}/collect", "bob")
    default_id = api.get("/albums", "bob").get_json()["items"][0]["id"]
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(f"/albums/{default_id}/notes{query}").get_json()
        seen += [n["id"] for n in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [notes[2], notes[1], notes[4], notes[0], notes[3]]
    assert_error(api.get(f"/albums/{default_id}/notes?cursor=bad!"), 400)
    assert_error(api.get("/albums/999999/notes"), 404)


def test_concurrent_collects_are_counted_exactly(database_url, tmp_path):
    # 33 requests at once in one process, each of which may hold two pooled connections (its
    # session's, and the outbox's own on PostgreSQL): the pool is sized for them, as a
    # deployment's is for its threads (2 a process under gunicorn, far inside the default).
    # With the default pool of 4 + 4 they could all wait for a second connection at once.
    app = make_app(database_url, tmp_path, db_pool_size=40, db_max_overflow=40)
    with app.app_context():
        try:
            _concurrent_collects(app, Api(app.test_client()))
        finally:
            from app.core.extensions import db

            db.engine.dispose()


def _concurrent_collects(app: Any, api: Api) -> None:
    alice = api.register("alice")
    names = [f"fan{i:02d}" for i in range(20)]
    for name in names:
        api.register(name)
    note_id = make_note(api, "alice")
    other_notes = [make_note(api, "alice", f"other{i}") for i in range(8)]
    statuses: list[int] = []
    lock = threading.Lock()

    def call(path: str, user: str) -> None:
        with app.app_context():
            response = app.test_client().post(f"/api/v1{path}", json={}, headers=api.headers(user))
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=call, args=(f"/notes/{note_id}/collect", n)) for n in names]
    # One user collecting the same note many times at once still counts once, and one user's
    # first collects racing to create the default album end up in a single album.
    threads += [
        threading.Thread(target=call, args=(f"/notes/{n}/collect", "fan00")) for n in other_notes
    ]
    threads += [
        threading.Thread(target=call, args=(f"/notes/{other_notes[0]}/collect", "fan01"))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * len(threads)
    assert collect_count(note_id) == 20 == collect_rows(note_id)
    assert collect_count(other_notes[0]) == 2 == collect_rows(other_notes[0])
    assert received(alice["id"]) == 20 + 8 + 1

    from app.core.extensions import db
    from app.notes.models import Album

    fan00 = api.users["fan00"]["id"]
    albums = db.session.scalars(select(Album).where(Album.owner_id == fan00)).all()
    assert len(albums) == 1 and albums[0].note_count == 9
