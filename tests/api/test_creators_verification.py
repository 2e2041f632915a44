"""Verification ("认证加V") over HTTP: a creator asks, editors approve, refuse or revoke (never
their own request), every decision is in the editorial log and notified, and an approved
creator's badge shows on feed cards, notes and profiles, batched per page."""

from __future__ import annotations

from sqlalchemy import event, select

from tests.conftest import assert_error, insert_note

STATEMENT = "美食博主，三年探店经验，每周更新两篇。"


def ok(response, status: int = 200):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_json()
    return response.get_json()


def ask(api, user: str, category: str = "food", statement: str = STATEMENT):  # type: ignore[no-untyped-def]
    return api.post("/me/verification", user, json={"category": category, "statement": statement})


def decide(api, editor: str, verification_id: int, outcome: str, note: str = ""):  # type: ignore[no-untyped-def]
    return api.post(
        f"/editor/verifications/{verification_id}/decision",
        editor,
        json={"outcome": outcome, "note": note},
    )


def people(api) -> None:
    for name in ("cook", "walker", "plain"):
        api.register(name)
    api.register("editor1")
    api.grant("editor1", "editor")
    api.register("editor2")
    api.grant("editor2", "editor")


def test_a_request_is_validated_and_only_one_may_be_pending(api):
    people(api)
    assert_error(ask(api, None), 401)
    assert_error(ask(api, "cook", category="astrology"), 400, "unknown_category")
    assert_error(ask(api, "cook", statement="短"), 400)
    assert_error(ask(api, "cook", statement="长" * 1001), 400)
    assert_error(api.post("/me/verification", "cook", data="x", content_type="text/plain"), 415)
    assert ok(api.get("/me/verification", "cook"))["status"] == "none"

    made = ok(ask(api, "cook"), 201)
    assert (made["status"], made["category"], made["label"]) == ("pending", "food", "美食博主")
    assert_error(ask(api, "cook", category="travel"), 409, "verification_pending")
    mine = ok(api.get("/me/verification", "cook"))
    assert mine["status"] == "pending" and mine["request"]["id"] == made["id"]
    assert mine["verified"] is False and mine["verification"] is None
    assert {"category": "brand", "label": "品牌认证"} in mine["categories"]


def test_concurrent_requests_leave_one_pending(api, app):
    """The partial unique index, not a read-then-write, keeps one pending request."""
    from app.core.extensions import db
    from app.creators.models import CreatorVerification

    people(api)
    cook = api.users["cook"]["id"]
    db.session.add(CreatorVerification(user_id=cook, category="food", label="x", statement="s"))
    db.session.commit()
    from sqlalchemy.exc import IntegrityError

    db.session.add(CreatorVerification(user_id=cook, category="food", label="x", statement="s"))
    try:
        db.session.commit()
        raise AssertionError("a second pending request was stored")
    except IntegrityError:
        db.session.rollback()


def test_roles_and_own_requests(api):
    people(api)
    made = ok(ask(api, "cook"), 201)
    assert_error(api.get("/editor/verifications", "plain"), 403)
    assert_error(decide(api, "plain", made["id"], "approve"), 403)
    assert_error(decide(api, "cook", made["id"], "approve"), 403)
    assert_error(decide(api, "editor1", made["id"], "bless"), 400)
    assert_error(decide(api, "editor1", 99999, "approve"), 404, "verification_not_found")
    assert_error(decide(api, "editor1", 2**40, "approve"), 404)
    own = ok(ask(api, "editor1", category="media"), 201)
    assert_error(decide(api, "editor1", own["id"], "approve"), 403, "own_request")
    listed = ok(api.get("/editor/verifications?status=pending", "editor2"))["items"]
    assert [item["id"] for item in listed] == [made["id"], own["id"]]  # oldest first
    assert listed[0]["user"]["username"] == "cook" and listed[0]["statement"] == STATEMENT
    assert ok(decide(api, "editor2", own["id"], "approve"))["status"] == "approved"


def test_approve_refuse_revoke_are_logged_and_notified(api):
    from app.core.extensions import db
    from app.notifications.models import Notification

    people(api)
    first = ok(ask(api, "cook"), 201)
    second = ok(ask(api, "walker", category="travel"), 201)

    approved = ok(decide(api, "editor1", first["id"], "approve", "资料齐全"))
    assert approved["status"] == "approved" and approved["decided_by"] == api.users["editor1"]["id"]
    assert approved["user"]["verified"] is True
    assert approved["user"]["verification"] == {"category": "food", "label": "美食博主"}
    assert_error(
        decide(api, "editor2", first["id"], "approve"), 409, "verification_already_decided"
    )
    assert_error(decide(api, "editor2", first["id"], "refuse"), 409)
    mine = ok(api.get("/me/verification", "cook"))
    assert mine["status"] == "approved" and mine["verified"] is True
    assert mine["verification"] == {"category": "food", "label": "美食博主"}
    assert_error(ask(api, "cook", category="travel"), 409, "already_verified")

    refused = ok(decide(api, "editor1", second["id"], "refuse", "内容不足"))
    assert refused["status"] == "refused" and refused["decision_note"] == "内容不足"
    assert refused["user"]["verified"] is False
    assert_error(decide(api, "editor1", second["id"], "revoke"), 409, "verification_not_approved")
    assert ok(api.get("/me/verification", "walker"))["status"] == "refused"
    assert ok(ask(api, "walker", category="travel"), 201)["status"] == "pending"  # may ask again

    revoked = ok(decide(api, "editor2", first["id"], "revoke", "违规"))
    assert revoked["status"] == "revoked" and revoked["user"]["verified"] is False
    assert revoked["user"]["verification"] is None
    assert ok(api.get("/me/verification", "cook"))["verified"] is False

    log = ok(api.get("/editor/log", "editor1"))["items"]
    actions = [(e["action"], e["target_id"]) for e in log if e["target_type"] == "verification"]
    assert set(actions) == {
        ("verification_approve", first["id"]),
        ("verification_refuse", second["id"]),
        ("verification_revoke", first["id"]),
    }
    db.session.expire_all()
    notices = db.session.scalars(
        select(Notification).where(Notification.kind == "verification").order_by(Notification.id)
    ).all()
    got = [(n.recipient_id, n.payload["outcome"]) for n in notices]
    cook, walker = api.users["cook"]["id"], api.users["walker"]["id"]
    assert got == [(cook, "approved"), (walker, "refused"), (cook, "revoked")]
    assert "美食博主" in notices[0].payload["body"]


def test_delete_revokes_the_badge(api):
    people(api)
    made = ok(ask(api, "cook"), 201)
    ok(decide(api, "editor1", made["id"], "approve"))
    assert_error(api.delete(f"/editor/verifications/{made['id']}", "plain"), 403)
    assert ok(api.delete(f"/editor/verifications/{made['id']}", "editor1"))["status"] == "revoked"
    profile = ok(api.get(f"/users/{api.users['cook']['id']}"))
    assert profile["verified"] is False and profile["verification"] is None
    assert_error(api.delete(f"/editor/verifications/{made['id']}", "editor1"), 409)


def test_the_badge_shows_on_feed_cards_notes_and_profiles(api, app):
    from app.core.extensions import db

    people(api)
    cook, walker = api.users["cook"]["id"], api.users["walker"]["id"]
    notes = [insert_note(cook, f"菜{i}", channel_code="food", like_count=50) for i in range(3)]
    notes += [insert_note(walker, f"路{i}", channel_code="travel", like_count=40) for i in range(3)]
    badge = {"category": "food", "label": "美食博主"}
    for name in ("cook", "walker"):
        made = ok(ask(api, name, category="food" if name == "cook" else "travel"), 201)
        ok(decide(api, "editor1", made["id"], "approve"))

    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if "creator_verifications" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = ok(api.get("/feeds/discover?limit=20", "plain"))["items"]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    authors = {card["author"]["id"]: card["author"] for card in page}
    assert authors[cook]["verified"] is True and authors[cook]["verification"] == badge
    assert authors[walker]["verification"] == {"category": "travel", "label": "旅行博主"}
    assert len(statements) == 1, statements  # one query for the page, not one per card

    note = ok(api.get(f"/notes/{notes[0]}", "plain"))
    assert note["author"]["verified"] is True and note["author"]["verification"] == badge
    profile = ok(api.get(f"/users/{cook}", "plain"))
    assert profile["verified"] is True and profile["verification"] == badge
    plain = ok(api.get(f"/users/{api.users['plain']['id']}", "plain"))
    assert plain["verified"] is False and plain["verification"] is None
    cards = ok(api.get(f"/notes?ids={notes[0]},{notes[3]}", "plain"))["items"]
    assert [c["author"]["verification"]["category"] for c in cards] == ["food", "travel"]

    verification_id = ok(api.get("/editor/verifications?status=approved", "editor1"))["items"][0]
    ok(decide(api, "editor1", verification_id["id"], "revoke"))
    page = ok(api.get("/feeds/discover?limit=20", "plain"))["items"]
    authors = {card["author"]["id"]: card["author"] for card in page}
    assert authors[cook]["verified"] is False and authors[cook]["verification"] is None
    assert authors[walker]["verified"] is True
    assert ok(api.get(f"/notes/{notes[0]}"))["author"]["verification"] is None
    assert ok(api.get(f"/users/{cook}"))["verified"] is False


def test_official_accounts_stay_verified_after_a_revocation(api, app):
    from sqlalchemy import update

    from app.accounts.models import User
    from app.core.extensions import db

    people(api)
    cook = api.users["cook"]["id"]
    db.session.execute(update(User).where(User.id == cook).values(official=True, verified=True))
    db.session.commit()
    assert ok(api.get(f"/users/{cook}"))["verification"] is None  # official, no category
    made = ok(ask(api, "cook", category="brand"), 201)
    ok(decide(api, "editor1", made["id"], "approve"))
    badge = {"category": "brand", "label": "品牌认证"}
    assert ok(api.get(f"/users/{cook}"))["verification"] == badge
    ok(decide(api, "editor1", made["id"], "revoke"))
    profile = ok(api.get(f"/users/{cook}"))
    assert profile["verified"] is True and profile["verification"] is None
