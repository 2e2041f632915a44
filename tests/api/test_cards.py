"""Cards by id (`GET /notes?ids=` and every feed): the cached serving path must show exactly
what the note itself shows, and never anything stale that matters."""

from __future__ import annotations

from sqlalchemy import update

from app.accounts.models import User
from app.core.extensions import db
from app.media.models import Image
from app.notes.models import Note
from tests.api.test_notes import image_note, make_image, make_topic, post_note


def cards(api, ids, as_user=None):  # type: ignore[no-untyped-def]
    response = api.get("/notes?ids=" + ",".join(map(str, ids)), as_user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_card_is_the_note_view(api) -> None:
    api.register("alice")
    api.register("bob")
    avatar = make_image(api.users["alice"]["id"])
    assert api.patch("/me", "alice", json={"avatar_image_id": avatar}).status_code == 200
    topics = [make_topic("周末去哪儿"), make_topic("露营装备")]
    first = image_note(
        api, "alice", title="第一篇", tags=["露营", "防晒", "camping"], topic_ids=topics[::-1]
    )
    second = post_note(api, "alice", title="纯文字").get_json()  # text note: generated cover
    api.post(f"/notes/{first['id']}/like", "bob")
    for viewer in (None, "bob", "alice"):
        for _ in range(2):  # a cold, then a warm cache
            got = cards(api, [second["id"], first["id"]], viewer)
            want = [api.get(f"/notes/{n['id']}", viewer).get_json() for n in (second, first)]
            for g, w in zip(got, want, strict=True):
                diff = {k for k in set(g) | set(w) if g.get(k) != w.get(k)}
                assert {k: g.get(k) for k in diff} == {k: w.get(k) for k in diff}
    card = cards(api, [first["id"]], "bob")[0]
    assert card["liked"] is True
    assert len(card["tags"]) == 3 and len(card["topics"]) == 2 and card["type"] == "image"
    assert cards(api, [first["id"]], "bob")[0]["author"]["avatar"]["id"] == avatar


def test_edits_counters_and_author_changes_show_at_once(api) -> None:
    api.register("alice")
    api.register("bob")
    note = image_note(api, "alice", title="旧标题")
    before = cards(api, [note["id"]], "bob")[0]

    assert api.patch(f"/notes/{note['id']}", "alice", json={"title": "新标题"}).status_code == 200
    assert cards(api, [note["id"]], "bob")[0]["title"] == "新标题"

    updated_at = cards(api, [note["id"]], "bob")[0]["updated_at"]
    api.post(f"/notes/{note['id']}/like", "bob")
    after_like = cards(api, [note["id"]], "bob")[0]
    assert (after_like["like_count"], after_like["liked"]) == (1, True)
    assert after_like["updated_at"] == updated_at  # a like is not an edit

    assert api.patch("/me", "alice", json={"nickname": "阿丽"}).status_code == 200
    assert cards(api, [note["id"]], "bob")[0]["author"]["nickname"] == "阿丽"
    assert before["author"]["nickname"] != "阿丽"


def test_invisible_notes_leave_at_once(api) -> None:
    api.register("alice")
    api.register("bob")
    api.register("mod")
    api.grant("mod", "moderator")
    kept, deleted, draft, banned_author = (image_note(api, "alice") for _ in range(4))
    cards(api, [kept["id"], deleted["id"], draft["id"], banned_author["id"]], "bob")  # warm
    assert api.delete(f"/notes/{deleted['id']}", "alice").status_code in (200, 204)
    db.session.execute(update(Note).where(Note.id == draft["id"]).values(status="draft"))
    db.session.commit()
    ids = [kept["id"], deleted["id"], draft["id"]]
    assert [c["id"] for c in cards(api, ids, "bob")] == [kept["id"]]
    # the author and moderators still open the draft; nobody gets the deleted one
    assert [c["id"] for c in cards(api, ids, "alice")] == [kept["id"], draft["id"]]
    assert [c["id"] for c in cards(api, ids, "mod")] == [kept["id"], draft["id"]]


def test_images_still_processing_are_not_cached(api) -> None:
    api.register("alice")
    image_id = make_image(api.users["alice"]["id"], status="processing")
    note = post_note(api, "alice", image_ids=[image_id]).get_json()
    assert cards(api, [note["id"]])[0]["images"][0]["status"] == "processing"
    db.session.execute(
        update(Image)
        .where(Image.id == image_id)
        .values(
            status="ready",
            variants={"large": {"key": "v/large.webp", "width": 1080, "height": 810}},
        )
    )
    db.session.commit()
    card = cards(api, [note["id"]])[0]
    assert card["images"][0]["status"] == "ready"
    assert card["cover"]["url"].endswith("/v/large.webp")


def test_banned_authors_leave_feeds(api) -> None:
    api.register("alice")
    api.register("bob")
    note = image_note(api, "alice")
    api.post(f"/users/{api.users['alice']['id']}/follow", "bob")
    assert [c["id"] for c in api.get("/feeds/following", "bob").get_json()["items"]] == [note["id"]]
    db.session.execute(
        update(User).where(User.id == api.users["alice"]["id"]).values(status="banned")
    )
    db.session.commit()
    assert api.get("/feeds/following", "bob").get_json()["items"] == []


def test_warming_renders_only_the_cards_not_held(api) -> None:
    """`warm` (the warm-up job, and the worker after ranking a viewer's next pages) reads from
    the database only the cards the store lacks; a held entry, even a stale mark or an
    invisible note's, is left to its reader and to the refresh job."""
    from app.feeds import card_store
    from app.feeds.cards import render_entries

    api.register("warmer")
    notes = [image_note(api, "warmer", title=f"暖{i}")["id"] for i in range(3)]
    rendered: list[int] = []

    def render(ids):  # type: ignore[no-untyped-def]
        rendered.extend(ids)
        return render_entries(ids)

    store = card_store.backend()
    assert store.held([f"{card_store.KEY_PREFIX}{n}" for n in notes]) == [True] * 3  # stale marks
    assert card_store.warm(notes, render) == {"notes": 3, "rendered": 0}
    cards(api, notes)  # read from the database while stale; nothing stored
    missing = 10**9  # no such note: a tombstone is stored once it has been rendered
    assert card_store.warm([*notes, missing], render) == {"notes": 4, "rendered": 1}
    assert rendered == [missing]
    assert card_store.warm([*notes, missing], render)["rendered"] == 0
    assert store.held([f"{card_store.KEY_PREFIX}{missing}"]) == [True]
