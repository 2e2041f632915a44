"""Creators over HTTP: the KOL/KOC candidates editors scout (engagement from others, follower
growth, channel focus, quality penalties, with the reasons), and who may see them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, update

from tests.conftest import assert_error, insert_note


def ranked(api, query: str = "", as_user: str = "editor1") -> list[dict]:
    response = api.get(f"/editor/creators{query}", as_user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["user"]["username"]: item for item in items}


def names(items: list[dict]) -> list[str]:
    return [item["user"]["username"] for item in items]


def ok(response, status: int = 200):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_json()
    return response.get_json()


def engage(api, fans: list[str], note_id: int, *, like=True, collect=False, comment=False):  # type: ignore[no-untyped-def]
    for fan in fans:
        if like:
            ok(api.post(f"/notes/{note_id}/like", fan))
        if collect:
            ok(api.post(f"/notes/{note_id}/collect", fan, json={}))
        if comment:
            ok(api.post(f"/notes/{note_id}/comments", fan, json={"body": "好棒"}), 201)


def staff(api) -> None:
    api.register("editor1")
    api.grant("editor1", "editor")
    api.register("plain")


def test_plain_users_are_refused(api):
    staff(api)
    assert_error(api.get("/editor/creators"), 401)
    assert_error(api.get("/editor/creators", "plain"), 403)
    assert_error(api.get("/editor/creators?channel=nope", "editor1"), 400, "unknown_channel")
    assert_error(api.get("/editor/creators?tier=giant", "editor1"), 400)
    api.register("boss")
    api.grant("boss", "admin")
    assert api.get("/editor/creators", "boss").status_code == 200


def test_engagement_from_others_counts_and_self_engagement_does_not(api):
    staff(api)
    alice, bob = api.register("alice"), api.register("bob")
    fans = [api.register(f"fan{i}")["username"] for i in range(4)]
    a = [insert_note(alice["id"], f"a{i}", channel_code="food") for i in range(2)]
    b = [insert_note(bob["id"], f"b{i}", channel_code="food") for i in range(2)]
    for note_id in a:
        engage(api, fans[:3], note_id, collect=True)
    # Bob engages with his own notes as much as anyone could, and one fan likes one of them.
    for note_id in b:
        engage(api, ["bob"], note_id, collect=True, comment=True)
        ok(api.post(f"/notes/{note_id}/share", "bob", json={"channel": "wechat"}))
    engage(api, [fans[3]], b[0])

    items = ranked(api)
    assert names(items)[:2] == ["alice", "bob"]
    people = by_name(items)
    assert "fan0" not in people  # no published notes: not a creator
    m = people["alice"]["metrics"]
    assert (m["notes"], m["likes_from_others"], m["collects_from_others"]) == (2, 6, 6)
    assert m["engagement_per_note"] == (6 * 1 + 6 * 2) / 2
    m = people["bob"]["metrics"]
    assert m["likes_from_others"] == 1
    assert m["collects_from_others"] == m["comments_from_others"] == 0
    assert m["shares_from_others"] == 0
    assert m["engagement_per_note"] == 0.5
    for item in items:
        assert item["score"] == people[item["user"]["username"]]["score"]
        assert item["tier"] in {"kol", "koc", "rising"}
        assert item["reasons"], item
        for reason in item["reasons"]:
            assert set(reason) == {"code", "effect", "contribution", "value", "message"}
            assert reason["message"]
    top = people["alice"]["reasons"][0]
    assert top["code"] == "engagement_from_others" and top["effect"] == "positive"
    assert top["value"] == 9.0 and "9.0" in top["message"]


def test_official_and_banned_accounts_are_never_candidates(api, app):
    from app.accounts.models import User
    from app.core.extensions import db

    staff(api)
    for name in ("brand", "gone", "fine"):
        user = api.register(name)
        insert_note(user["id"], "x", channel_code="food")
    db.session.execute(update(User).where(User.username == "brand").values(official=True))
    db.session.execute(update(User).where(User.username == "gone").values(status="banned"))
    db.session.commit()
    assert names(ranked(api)) == ["fine"]


def test_channel_filter_keeps_creators_active_there_and_measures_focus(api):
    staff(api)
    cook, walker, mixed = api.register("cook"), api.register("walker"), api.register("mixed")
    for i in range(3):
        insert_note(cook["id"], f"c{i}", channel_code="food")
        insert_note(walker["id"], f"w{i}", channel_code="travel")
    insert_note(mixed["id"], "m1", channel_code="food")
    for i in range(3):
        insert_note(mixed["id"], f"m{i}", channel_code="travel")

    food = ranked(api, "?channel=food")
    assert set(names(food)) == {"cook", "mixed"}
    assert names(food)[0] == "cook"  # all of cook's notes are food, a quarter of mixed's
    people = by_name(food)
    assert people["cook"]["metrics"]["focus_share"] == 1.0
    assert people["mixed"]["metrics"]["focus_share"] == 0.25
    assert people["mixed"]["metrics"]["focus_channel"] == "food"
    focus = next(r for r in people["cook"]["reasons"] if r["code"] == "channel_focus")
    assert "美食" in focus["message"] and focus["value"] == 1.0
    assert set(names(ranked(api, "?channel=travel"))) == {"walker", "mixed"}
    assert names(ranked(api, "?channel=pets")) == []
    # Without a channel, focus is the creator's main channel.
    everyone = by_name(ranked(api))
    assert everyone["mixed"]["metrics"]["focus_channel"] == "travel"
    assert everyone["mixed"]["metrics"]["focus_share"] == 0.75


def test_quality_signals_are_penalties_with_their_reasons(api, app):
    from app.core.extensions import db
    from app.notes.models import Note
    from moderation.models import ModerationAction

    staff(api)
    clean, sloppy = api.register("clean"), api.register("sloppy")
    fans = [api.register(f"fan{i}")["username"] for i in range(3)]
    for user in (clean, sloppy):
        for i in range(2):
            engage(api, fans, insert_note(user["id"], f"n{i}", channel_code="food"))
    assert names(ranked(api)) == ["clean", "sloppy"]  # equal but for the id: the tie order
    scores = {item["user"]["username"]: item["score"] for item in ranked(api)}
    assert scores["clean"] == scores["sloppy"]

    removed = insert_note(sloppy["id"], "removed", channel_code="food")
    db.session.execute(update(Note).where(Note.id == removed).values(status="removed"))
    db.session.add(
        ModerationAction(
            kind="warn",
            target_type="user",
            target_id=sloppy["id"],
            user_id=sloppy["id"],
            reason_code="spam_ads.repeated",
        )
    )
    db.session.commit()
    reported = insert_note(sloppy["id"], "reported", channel_code="food")
    for fan in fans[:2]:
        ok(
            api.post(
                "/reports",
                fan,
                json={
                    "target_type": "note",
                    "target_id": reported,
                    "reason_code": "spam_ads.repeated",
                },
            ),
            201,
        )

    people = by_name(ranked(api))
    assert names(ranked(api)) == ["clean", "sloppy"]
    assert people["sloppy"]["score"] < scores["sloppy"]
    metrics = people["sloppy"]["metrics"]
    assert (metrics["moderated_notes"], metrics["strikes"], metrics["reports"]) == (1, 1, 2)
    negative = {r["code"]: r for r in people["sloppy"]["reasons"] if r["effect"] == "negative"}
    assert {"moderated_notes", "strikes", "reports"} <= set(negative)
    assert negative["strikes"]["value"] == 1 and negative["reports"]["value"] == 2
    assert not [r for r in people["clean"]["reasons"] if r["effect"] == "negative"]


def test_follower_growth_and_tiers(api, app):
    from app.accounts.models import User
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.social.models import UserFollow

    staff(api)
    rising, fading = api.register("rising"), api.register("fading")
    for user in (rising, fading):
        insert_note(user["id"], "n", channel_code="food")
    fans = [api.register(f"fan{i}")["id"] for i in range(4)]
    long_ago = utcnow() - timedelta(days=45)
    for fan in fans:
        db.session.add(UserFollow(follower_id=fan, followee_id=rising["id"]))
        db.session.add(UserFollow(follower_id=fan, followee_id=fading["id"], created_at=long_ago))
    db.session.execute(update(User).where(User.id == fading["id"]).values(follower_count=20_000))
    db.session.commit()

    items = ranked(api)
    assert names(items) == ["rising", "fading"]
    people = by_name(items)
    assert people["rising"]["metrics"]["new_followers"] == 4
    assert people["fading"]["metrics"]["previous_new_followers"] == 4
    assert people["fading"]["metrics"]["follower_growth"] == -4
    codes = {r["code"] for r in people["fading"]["reasons"]}
    assert "follower_slowdown" in codes
    assert people["fading"]["tier"] == "kol" and people["rising"]["tier"] == "rising"
    assert names(ranked(api, "?tier=kol")) == ["fading"]


def test_candidates_page_in_score_order_with_a_constant_number_of_queries(api, app):
    from app.core.extensions import db

    staff(api)
    fans = [api.register(f"fan{i}")["username"] for i in range(3)]
    for index in range(7):
        user = api.register(f"maker{index}")
        note_id = insert_note(user["id"], "n", channel_code="food")
        engage(api, fans[: index % 4], note_id)
    everything = ranked(api, "?limit=50")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        seen, cursor = [], None
        while True:
            body = ok(
                api.get(
                    "/editor/creators?limit=3" + (f"&cursor={cursor}" if cursor else ""), "editor1"
                )
            )
            seen += body["items"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert names(seen) == names(everything) and len(seen) == 7
    scores = [item["score"] for item in seen]
    assert scores == sorted(scores, reverse=True)
    # 3 pages, each a fixed handful of queries whatever the number of creators.
    assert len(statements) <= 3 * 14, len(statements)
    assert_error(api.get("/editor/creators?cursor=abc", "editor1"), 400, "invalid_cursor")
