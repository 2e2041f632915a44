"""Public profiles and following users: idempotent, exact counters, lists with cursors."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import assert_error


def _user_row(user_id):
    from app.accounts.models import User
    from app.core.extensions import db

    db.session.expire_all()
    return db.session.get(User, user_id)


def _follow_rows(**where):
    from app.core.extensions import db
    from app.social.models import UserFollow

    stmt = select(func.count()).select_from(UserFollow).filter_by(**where)
    return db.session.scalar(stmt)


def _notifications(recipient_id, kind):
    from app.core.extensions import db
    from app.notifications.models import Notification

    return db.session.scalars(
        select(Notification).where(
            Notification.recipient_id == recipient_id, Notification.kind == kind
        )
    ).all()


def test_public_profile_shows_counts_and_followed_flag(api):
    alice = api.register("alice", nickname="爱丽丝")
    api.register("bob")
    anon = api.get(f"/users/{alice['id']}")
    assert anon.status_code == 200
    body = anon.get_json()
    assert body["nickname"] == "爱丽丝" and body["followed"] is False
    assert body["follower_count"] == 0 and body["note_count"] == 0
    assert "password_hash" not in body and "roles" not in body

    assert api.post(f"/users/{alice['id']}/follow", "bob").status_code == 200
    seen_by_bob = api.get(f"/users/{alice['id']}", "bob").get_json()
    assert seen_by_bob["followed"] is True and seen_by_bob["follower_count"] == 1
    assert api.get(f"/users/{alice['id']}").get_json()["followed"] is False
    bob = api.get(f"/users/{api.users['bob']['id']}", "alice").get_json()
    assert bob["following_count"] == 1 and bob["followed"] is False


def test_banned_and_unknown_users_are_404(api):
    from app.accounts.models import User
    from app.core.extensions import db

    banned = api.register("spammer")
    api.register("carol")
    db.session.get(User, banned["id"]).status = "banned"
    db.session.commit()
    assert_error(api.get(f"/users/{banned['id']}"), 404, "user_not_found")
    assert_error(api.post(f"/users/{banned['id']}/follow", "carol"), 404, "user_not_found")
    assert_error(api.get(f"/users/{banned['id']}/followers"), 404, "user_not_found")
    assert_error(api.get("/users/999999"), 404, "user_not_found")
    assert_error(api.post("/users/999999/follow", "carol"), 404, "user_not_found")


@pytest.mark.parametrize("bad", ["abc", "-1", str(10**30), "1.5", "0", "%00"])
def test_hostile_user_ids_are_404_not_500(api, bad):
    api.register("dave")
    for method, path in [
        ("GET", f"/users/{bad}"),
        ("POST", f"/users/{bad}/follow"),
        ("DELETE", f"/users/{bad}/follow"),
        ("GET", f"/users/{bad}/followers"),
        ("GET", f"/users/{bad}/following"),
    ]:
        response = api.call(method, path, "dave")
        assert response.status_code in (400, 404), (method, path, response.status_code)
        assert_error(response, response.status_code)


def test_follow_is_idempotent_and_counters_stay_exact(api):
    star = api.register("star")
    fan = api.register("fan")
    for _ in range(3):
        response = api.post(f"/users/{star['id']}/follow", "fan")
        assert response.status_code == 200
        assert response.get_json() == {"followed": True, "follower_count": 1}
    assert _user_row(star["id"]).follower_count == 1
    assert _user_row(fan["id"]).following_count == 1
    for _ in range(2):
        response = api.delete(f"/users/{star['id']}/follow", "fan")
        assert response.get_json() == {"followed": False, "follower_count": 0}
    assert _user_row(star["id"]).follower_count == 0
    assert _user_row(fan["id"]).following_count == 0
    # Toggle many times: counters equal the rows whatever the sequence.
    for i in range(7):
        method = api.post if i % 2 == 0 else api.delete
        method(f"/users/{star['id']}/follow", "fan")
    rows = _follow_rows(followee_id=star["id"])
    assert rows == 1
    assert _user_row(star["id"]).follower_count == rows
    assert _user_row(fan["id"]).following_count == rows
    # Following someone notifies them once, however often it is toggled.
    notes = _notifications(star["id"], "follow")
    assert len(notes) == 1 and notes[0].actor_id == fan["id"]


def test_cannot_follow_self_and_must_sign_in(api):
    me = api.register("narcissus")
    assert_error(api.post(f"/users/{me['id']}/follow", "narcissus"), 422, "cannot_follow_self")
    assert_error(api.delete(f"/users/{me['id']}/follow", "narcissus"), 422, "cannot_follow_self")
    assert _user_row(me["id"]).follower_count == 0
    assert _follow_rows(followee_id=me["id"]) == 0
    assert_error(api.post(f"/users/{me['id']}/follow"), 401)


def test_concurrent_follows_count_exactly(app, api):
    from app.core.extensions import db

    star = api.register("celebrity")
    names = [f"fan{i:02d}" for i in range(20)]
    for name in names:
        api.register(name)
    db.session.close()  # the main thread must not hold a (SQLite) write transaction
    barrier = threading.Barrier(len(names))
    statuses: list[int] = []
    lock = threading.Lock()

    def follow(name: str) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait(timeout=30)
            response = client.post(f"/api/v1/users/{star['id']}/follow", headers=api.headers(name))
            with lock:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=follow, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * 20
    assert _follow_rows(followee_id=star["id"]) == 20
    assert _user_row(star["id"]).follower_count == 20


def _page_through(api, path, as_user=None, limit=10):
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = api.get(path, as_user, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 20


def test_followers_and_following_page_without_gaps_or_duplicates(api):
    star = api.register("popular")
    fans = [api.register(f"follower{i:02d}") for i in range(30)]
    for fan in fans:
        assert api.post(f"/users/{star['id']}/follow", fan["username"]).status_code == 200
    seen, pages = _page_through(api, f"/users/{star['id']}/followers")
    assert pages == 3
    assert seen == [fan["id"] for fan in reversed(fans)]  # newest first
    assert _user_row(star["id"]).follower_count == 30

    # Following: one user follows five others; items carry the viewer's followed flag.
    for fan in fans[:5]:
        api.post(f"/users/{fan['id']}/follow", "follower29")
    body = api.get(
        f"/users/{fans[-1]['id']}/following", "follower00", query_string={"limit": 50}
    ).get_json()
    assert [item["id"] for item in body["items"]] == [
        *(fan["id"] for fan in reversed(fans[:5])),
        star["id"],
    ]
    flags = {item["id"]: item["followed"] for item in body["items"]}
    assert flags[star["id"]] is True  # follower00 follows the star
    assert not any(flags[fan["id"]] for fan in fans[:5])
    item = body["items"][0]
    assert {"username", "nickname", "avatar", "level", "followed_at"} <= set(item)


def test_follow_lists_reject_bad_paging(api):
    user = api.register("lister")
    path = f"/users/{user['id']}/followers"
    for query in [{"limit": 0}, {"limit": 51}, {"limit": "x"}, {"cursor": "not-a-cursor"}]:
        assert_error(api.get(path, query_string=query), 400)
    from app.core.pagination import pack as encode_cursor

    for forged in [
        encode_cursor("yesterday", 1),
        encode_cursor("2024-01-01T00:00:00", 10**30),
        encode_cursor("2024-01-01T00:00:00", "1"),
        encode_cursor(1, 2, 3),
    ]:
        assert_error(api.get(path, query_string={"cursor": forged}), 400, "invalid_cursor")
    assert_error(api.get(path, query_string={"cursor": "A" * 201}), 400)


def test_follow_from_a_note_counts_as_a_follow_gained(api):
    from app.core.extensions import db
    from app.notes.models import Note
    from tests.conftest import insert_note

    author = api.register("creator_fg")
    api.register("fan_fg")
    other = api.register("other_fg")
    note_id = insert_note(author["id"])
    others_note = insert_note(other["id"])
    assert_error(
        api.post(f"/users/{author['id']}/follow", "fan_fg", json={"note_id": others_note}),
        422,
        "unknown_note",
    )
    for _ in range(2):
        ok = api.post(f"/users/{author['id']}/follow", "fan_fg", json={"note_id": note_id})
        assert ok.status_code == 200
    assert db.session.get(Note, note_id, populate_existing=True).follow_gain_count == 1
