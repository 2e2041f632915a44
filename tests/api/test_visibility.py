"""One visibility rule everywhere (`app.core.visibility`): a banned author's notes, and hidden,
held and deleted notes, leave every list and feed the API has, and a banned author's notes
come back when the ban is lifted; the SQL clause and the Python predicate agree."""

from __future__ import annotations

from typing import Any

from tests.conftest import assert_error

CHANNEL = "food"


# -- helpers -----------------------------------------------------------------------------------
def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), (response.status_code, response.get_json())
    return response.get_json()


def publish(api: Any, user: str, title: str, topic_id: int, **extra: Any) -> int:
    body = {"title": title, "status": "published", "channel": CHANNEL, "topic_ids": [topic_id]}
    note = ok(api.post("/notes", user, json={**body, **extra}))
    assert note["status"] == "published", note
    return note["id"]


def ids(response: Any) -> list[int]:
    return [item["id"] for item in ok(response)["items"]]


def make_topic(api: Any, name: str) -> int:
    api.register("editor")
    api.grant("editor", "editor")
    return ok(api.post("/topics", "editor", json={"name": name}))["id"]


def deliver(kind: str, recipient: int, actor: int | None, note: int | None) -> None:
    from app.notifications.jobs import deliver_notification

    deliver_notification(kind, recipient, actor, note, None, None)


def rebuild_ranking(api: Any) -> None:
    ok(api.post("/admin/ranking/rebuild", "root"))


def lists(api: Any, *, topic: int, album: int, related_to: int, query: str) -> dict[str, set]:
    """What each list and feed shows the reader now, as sets of note ids."""
    return {
        "discover": set(ids(api.get("/feeds/discover?limit=20"))),
        "following": set(ids(api.get("/feeds/following", "reader"))),
        "hot": set(ids(api.get("/feeds/hot?window=day"))),
        "topic": set(ids(api.get(f"/topics/{topic}/notes", "reader"))),
        "topic_new": set(ids(api.get(f"/topics/{topic}/notes?sort=new", "reader"))),
        "album": set(ids(api.get(f"/albums/{album}/notes", "reader"))),
        "search": set(ids(api.get("/search/notes", "reader", query_string={"q": query}))),
        "related": set(ids(api.get(f"/notes/{related_to}/related", "reader"))),
    }


def notification_notes(api: Any) -> list[tuple[str, int | None, int | None]]:
    body = ok(api.get("/notifications", "reader"))
    return [
        (
            item["kind"],
            item["actor"]["id"] if item["actor"] else None,
            item["note"]["id"] if item["note"] else None,
        )
        for item in body["items"]
    ]


def report_and_ban(api: Any, note_id: int) -> int:
    ok(
        api.post(
            "/reports",
            "rep",
            json={"target_type": "note", "target_id": note_id, "reason_code": "spam_ads.repeated"},
        )
    )
    cases = ok(api.get("/moderation/cases", "mod1"))["items"]
    case = next(c["id"] for c in cases if c["target_type"] == "note" and c["target_id"] == note_id)
    decided = ok(
        api.post(
            f"/moderation/cases/{case}/decision",
            "mod1",
            json={"content": "keep", "account": "ban"},
        )
    )
    return next(action["id"] for action in decided["actions"] if action["kind"] == "ban")


# -- a banned author ---------------------------------------------------------------------------
def test_a_banned_authors_notes_leave_every_list_and_come_back_when_the_ban_is_lifted(api):
    for name in ("bad", "good", "reader", "rep", "mod1", "root"):
        api.register(name)
    api.grant("mod1", "moderator")
    api.grant("root", "admin")
    bad_id, good_id, reader_id = (api.users[n]["id"] for n in ("bad", "good", "reader"))
    topic = make_topic(api, "深夜食堂")
    bad_note = publish(api, "bad", "深夜拉面攻略", topic)
    good_note = publish(api, "good", "深夜饺子攻略", topic)
    reader_note = publish(api, "reader", "我的早餐", topic)
    for user in (bad_id, good_id):
        ok(api.post(f"/users/{user}/follow", "reader"))
    for note in (bad_note, good_note):
        ok(api.post(f"/notes/{note}/like", "reader"))
        ok(api.post(f"/notes/{note}/collect", "reader"))
    album = ok(api.get("/albums", "reader"))["items"][0]["id"]
    ok(api.post(f"/notes/{reader_note}/like", "bad"))  # a notification from the banned author
    deliver("mention", reader_id, good_id, bad_note)  # a notification about their note
    bad_comment = ok(api.post(f"/notes/{good_note}/comments", "bad", json={"body": "好吃"}))["id"]
    good_comment = ok(api.post(f"/notes/{bad_note}/comments", "good", json={"body": "同意"}))["id"]
    rebuild_ranking(api)
    where = {"topic": topic, "album": album, "related_to": good_note, "query": "攻略"}

    before = lists(api, **where)
    for name, shown in before.items():
        assert bad_note in shown, (name, shown)
    assert ("like", bad_id, reader_note) in notification_notes(api)
    unread_before = ok(api.get("/notifications/unread_count", "reader"))["unread_count"]

    ban = report_and_ban(api, bad_note)

    during = lists(api, **where)
    for name, shown in during.items():
        assert bad_note not in shown, (name, shown)
    assert good_note in during["following"] and good_note in during["topic"]
    assert_error(api.get(f"/notes/{bad_note}", "reader"), 404, "note_not_found")
    assert_error(api.get(f"/notes/{bad_note}"), 404, "note_not_found")
    assert ok(api.get(f"/notes/{bad_note}", "mod1"))["id"] == bad_note  # moderators still look
    assert ids(api.get(f"/notes?ids={bad_note},{good_note}", "reader")) == [good_note]
    assert_error(api.get(f"/users/{bad_id}/notes", "reader"), 404, "user_not_found")
    assert_error(api.get(f"/notes/{bad_note}/comments", "reader"), 404, "note_not_found")
    assert ids(api.get(f"/notes/{good_note}/comments", "reader")) == []
    assert_error(api.get(f"/comments/{bad_comment}/replies", "reader"), 404, "comment_not_found")
    assert_error(api.post(f"/comments/{bad_comment}/like", "reader"), 404, "comment_not_found")
    assert_error(api.post(f"/notes/{bad_note}/like", "mod1"), 404, "note_not_found")
    notices = notification_notes(api)
    assert all(actor != bad_id for _, actor, _ in notices), notices
    assert ("mention", good_id, None) in notices  # kept, without the note it was about
    unread = ok(api.get("/notifications/unread_count", "reader"))["unread_count"]
    assert unread == unread_before - 1

    ok(api.post(f"/moderation/actions/{ban}/lift", "root", json={"note": "复核后解除"}))

    after = lists(api, **where)
    for name, shown in after.items():
        assert bad_note in shown, (name, shown)
    assert ok(api.get(f"/notes/{bad_note}", "reader"))["id"] == bad_note
    assert ids(api.get(f"/users/{bad_id}/notes", "reader")) == [bad_note]
    assert ids(api.get(f"/notes/{good_note}/comments", "reader")) == [bad_comment]
    assert ids(api.get(f"/notes/{bad_note}/comments", "reader")) == [good_comment]
    notices = notification_notes(api)
    assert ("like", bad_id, reader_note) in notices and ("mention", good_id, bad_note) in notices
    assert ok(api.get("/notifications/unread_count", "reader"))["unread_count"] == unread_before


# -- hidden, held and deleted notes --------------------------------------------------------------
def test_hidden_held_and_deleted_notes_leave_every_list(api):
    from app.core.extensions import db
    from app.notes.models import Note
    from app.search.jobs import index_notes

    # One author per note: discover shows an author at most twice in ten cards.
    writers = ("kept", "hidden", "held", "deleted")
    for name in (*writers, "other", "reader", "root"):
        api.register(name)
    api.grant("root", "admin")
    reader_id = api.users["reader"]["id"]
    topic = make_topic(api, "周末露营")
    notes = {name: publish(api, name, f"露营笔记{i}", topic) for i, name in enumerate(writers)}
    anchor = publish(api, "other", "露营咖啡怎么做", topic)
    kept, hidden, held, deleted = (notes[name] for name in writers)
    gone = {hidden, held, deleted}
    for name in writers:
        ok(api.post(f"/users/{api.users[name]['id']}/follow", "reader"))
        ok(api.post(f"/notes/{notes[name]}/like", "reader"))
        ok(api.post(f"/notes/{notes[name]}/collect", "reader"))
        deliver("comment", reader_id, api.users[name]["id"], notes[name])
    album = ok(api.get("/albums", "reader"))["items"][0]["id"]
    rebuild_ranking(api)
    where = {"topic": topic, "album": album, "related_to": anchor, "query": "露营"}
    before = lists(api, **where)
    for name, shown in before.items():
        assert gone | {kept} <= shown, (name, shown)

    db.session.get(Note, hidden).status = "hidden"
    db.session.get(Note, held).status = "pending_review"
    db.session.commit()
    index_notes([hidden, held])
    assert api.delete(f"/notes/{deleted}", "deleted").status_code == 204

    during = lists(api, **where)
    for name, shown in during.items():
        assert kept in shown and not gone & shown, (name, shown)
    for name in writers:
        user_id = api.users[name]["id"]
        expected = [kept] if name == "kept" else []
        assert ids(api.get(f"/users/{user_id}/notes", "reader")) == expected
        assert ids(api.get(f"/users/{user_id}/notes", name)) == expected  # published ones
    described = {note for kind, _, note in notification_notes(api) if kind == "comment"}
    assert described == {kept, None}  # the notifications stay, without the notes
    for note in gone:
        assert_error(api.get(f"/notes/{note}", "reader"), 404, "note_not_found")
        assert_error(api.get(f"/notes/{note}/comments", "reader"), 404, "note_not_found")
        assert_error(api.post(f"/notes/{note}/like", "reader"), 404, "note_not_found")
    assert ids(api.get(f"/notes?ids={kept},{hidden},{held},{deleted}", "reader")) == [kept]
    # Their authors still open the hidden and the held note; nobody opens the deleted one.
    assert ok(api.get(f"/notes/{hidden}", "hidden"))["status"] == "hidden"
    assert ok(api.get(f"/notes/{held}", "held"))["status"] == "pending_review"
    assert_error(api.get(f"/notes/{deleted}", "deleted"), 404, "note_not_found")


# -- the SQL clause and the Python predicate -----------------------------------------------------
def test_the_sql_clause_and_the_python_predicate_agree(api):
    from sqlalchemy import select, update

    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.core.visibility import (
        can_view_comment,
        can_view_note,
        can_view_note_state,
        comment_visible_clause,
        is_banned,
        note_visible_clause,
    )
    from app.notes.models import NOTE_STATUSES, Comment, Note

    for name in ("author", "banned", "viewer", "mod", "root"):
        api.register(name)
    api.grant("mod", "moderator")
    api.grant("root", "admin")
    user_ids = {name: api.users[name]["id"] for name in api.users}
    db.session.execute(update(User).where(User.id == user_ids["banned"]).values(status="banned"))
    db.session.commit()
    now = utcnow()
    notes = []
    for author in ("author", "banned"):
        for status in NOTE_STATUSES:
            for deleted in (False, True):
                notes.append(
                    Note(
                        author_id=user_ids[author],
                        title=f"{author}-{status}-{deleted}",
                        status=status,
                        published_at=now if status == "published" else None,
                        deleted_at=now if deleted else None,
                    )
                )
    db.session.add_all(notes)
    db.session.flush()
    comments = [
        Comment(
            note_id=notes[0].id,
            author_id=user_ids[author],
            body="c",
            status=status,
            deleted_at=now if deleted else None,
        )
        for author in ("author", "banned")
        for status in ("published", "pending_review", "hidden")
        for deleted in (False, True)
    ]
    db.session.add_all(comments)
    db.session.commit()
    db.session.expire_all()
    all_ids = {note.id for note in notes}
    viewers = [None] + [db.session.get(User, user_ids[n]) for n in user_ids]
    seen_by = {}
    for viewer in viewers:
        for staff_reach in (True, False):
            in_sql = set(
                db.session.scalars(
                    select(Note.id).where(
                        Note.id.in_(all_ids), note_visible_clause(viewer, staff_reach=staff_reach)
                    )
                )
            )
            loaded = db.session.scalars(select(Note).where(Note.id.in_(all_ids))).unique()
            in_python = set()
            for note in loaded:
                visible = can_view_note(viewer, note, staff_reach=staff_reach)
                assert visible == can_view_note_state(
                    viewer,
                    author_id=note.author_id,
                    status=note.status,
                    deleted_at=note.deleted_at,
                    author_banned=is_banned(note.author),
                    staff_reach=staff_reach,
                )
                if visible:
                    in_python.add(note.id)
            name = viewer.username if viewer else None
            assert in_sql == in_python, (name, staff_reach)
            seen_by[(name, staff_reach)] = {n.title for n in notes if n.id in in_sql}
    public = {"author-published-False"}
    assert seen_by[(None, True)] == seen_by[("viewer", True)] == public
    assert seen_by[("author", True)] == {f"author-{s}-False" for s in NOTE_STATUSES}
    alive = {n.title for n in notes if n.deleted_at is None}
    assert seen_by[("mod", True)] == seen_by[("root", True)] == alive
    assert seen_by[("mod", False)] == seen_by[("root", False)] == public
    assert seen_by[("banned", True)] == public | {f"banned-{s}-False" for s in NOTE_STATUSES}

    comment_ids = {c.id for c in comments}
    in_sql = set(
        db.session.scalars(
            select(Comment.id).where(Comment.id.in_(comment_ids), comment_visible_clause())
        )
    )
    loaded_comments = db.session.scalars(select(Comment).where(Comment.id.in_(comment_ids)))
    in_python = {c.id for c in loaded_comments.unique() if can_view_comment(c)}
    assert in_sql == in_python and len(in_sql) == 1


def test_editors_cannot_pick_or_boost_a_banned_authors_note(api):
    """It would never show: a pick slot or a boost spent on it is refused, as for a draft."""
    for name in ("bad", "rep", "mod1", "editor1"):
        api.register(name)
    api.grant("mod1", "moderator")
    api.grant("editor1", "editor")
    note = publish(api, "bad", "违规笔记", make_topic(api, "话题"))
    report_and_ban(api, note)
    picked = api.post("/editor/picks", "editor1", json={"note_id": note, "slot": "home"})
    assert picked.status_code == 422, picked.get_json()
    assert picked.get_json()["error"]["code"] == "note_not_published"
    boost = {"note_id": note, "weight": 1, "ends_at": "2099-01-01T00:00:00Z"}
    boosted = api.post("/editor/boosts", "editor1", json=boost)
    assert boosted.status_code == 422, boosted.get_json()
