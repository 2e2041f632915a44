"""Bought engagement (issue 20) through the API: each detector rule fires and its near miss
does not; suspect likes leave the counts, the hot list, points and levels; one case per
target with the evidence; a dismissal counts and pays them again, an upheld case deletes
them; re-runs change nothing. SQLite and PostgreSQL (the `app` fixture's two databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.models import utcnow
from app.feeds.jobs import rebuild_hot
from app.notes.models import NoteLike
from moderation import detect_engagement
from moderation.models import AccountLink, Case, EngagementFlag


def publish(api, user, title="一篇笔记"):
    response = api.post("/notes", user, json={"title": title, "status": "published"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def accounts(api, prefix, n, *, days_old=0):
    """`n` new accounts (registered now; `days_old` moves their creation back)."""
    names = [f"{prefix}{i:02d}" for i in range(n)]
    for name in names:
        api.register(name)
    if days_old:
        ids = [api.users[name]["id"] for name in names]
        db.session.execute(
            update(User)
            .where(User.id.in_(ids))
            .values(created_at=utcnow() - timedelta(days=days_old))
        )
        db.session.commit()
    return names


def like_all(api, names, note_id):
    for name in names:
        assert api.post(f"/notes/{note_id}/like", name).status_code == 200


def note_view(api, note_id, user="author"):
    return api.get(f"/notes/{note_id}", user).get_json()


def points(api, user):
    return api.get("/me/growth", user).get_json()["points"]


def engagement_cases():
    db.session.expire_all()
    return list(db.session.scalars(select(Case).where(Case.reason_code.like("fan_circle.%"))))


@pytest.fixture
def people(api):
    for name in ("author", "other", "mod1"):
        api.register(name)
    api.grant("mod1", "moderator")
    return api


def test_new_accounts_burst_is_flagged_and_stops_counting(people):
    api = people
    note = publish(api, "author")
    before = points(api, "author")
    fans = accounts(api, "fresh", 10)
    like_all(api, fans, note)
    paid = points(api, "author")
    assert paid == before + 10  # paid at once (1 a like), as any like
    assert note_view(api, note)["like_count"] == 10

    result = detect_engagement()
    assert result["new_flags"] == 10 and result["rows_held"] == 10 and result["cases"] == 1
    assert note_view(api, note)["like_count"] == 0  # the suspect likes left the count
    assert points(api, "author") == before  # and what they paid is clawed back
    growth = api.get("/me/growth", "author").get_json()
    assert growth["contribution"]["like_received"] == 0  # levels read contribution

    (case,) = engagement_cases()
    assert case.target_type == "note" and case.target_id == note
    assert case.reason_code == "fan_circle.fake_engagement" and case.status == "open"
    evidence = case.evidence["engagement"]
    assert evidence["rules"] == ["new_accounts"] and evidence["flagged"] == 10
    shown = evidence["accounts"]
    assert {a["username"] for a in shown} == set(fans)
    first = shown[0]
    assert first["age_hours_at_engagement"] < 1 and first["kind"] == "like"
    assert first["activity_last_30_days"]["likes"] == 1 and first["engaged_at"]
    assert evidence["window"]["from"] <= evidence["window"]["to"]
    # The API's case view carries it for the moderator.
    (listed,) = api.get("/moderation/cases", "mod1").get_json()["items"]
    assert listed["id"] == case.id and listed["evidence"]["engagement"]["flagged"] == 10

    # Idempotent: another run (or a concurrent one) flags nothing and moves nothing.
    again = detect_engagement()
    assert again["new_flags"] == 0 and again["rows_held"] == 0
    assert len(engagement_cases()) == 1
    assert note_view(api, note)["like_count"] == 0 and points(api, "author") == before

    # A suspect like undone does not move the count twice.
    assert api.delete(f"/notes/{note}/like", fans[0]).status_code == 200
    assert note_view(api, note)["like_count"] == 0


def test_nine_likes_or_accounts_with_other_activity_are_not_flagged(people):
    api = people
    note = publish(api, "author")
    like_all(api, accounts(api, "nine", 9), note)
    assert detect_engagement()["findings"] == 0
    # Ten new accounts that also did something else (a like elsewhere) are not rule 1.
    elsewhere = publish(api, "other", "别的笔记")
    busy = accounts(api, "busy", 10)
    like_all(api, busy, elsewhere)
    second = publish(api, "author", "第二篇")
    like_all(api, busy, second)
    assert detect_engagement()["findings"] == 0
    assert note_view(api, second)["like_count"] == 10 and not engagement_cases()


def test_inactive_older_accounts_are_flagged_and_active_ones_are_not(people):
    api = people
    note = publish(api, "author")
    sleepers = accounts(api, "sleep", 10, days_old=90)
    like_all(api, sleepers, note)
    # Established accounts with a life of their own: each wrote and liked elsewhere.
    active = accounts(api, "active", 10, days_old=90)
    liked = publish(api, "other", "热门")
    for name in active:
        for i in range(3):
            publish(api, name, f"{name}的笔记 {i}")
        assert api.post(f"/notes/{liked}/like", name).status_code == 200
        api.post(f"/notes/{liked}/collect", name)
    popular = publish(api, "author", "真的火了")
    like_all(api, active, popular)
    detect_engagement()
    flags = db.session.scalars(select(EngagementFlag)).all()
    assert {f.target_id for f in flags} == {note}
    assert all(f.rules == ["inactive_accounts"] for f in flags) and len(flags) == 10
    assert note_view(api, popular)["like_count"] == 10


def test_linked_accounts_burst_is_flagged(people):
    api = people
    note = publish(api, "author")
    alts = accounts(api, "alt", 3, days_old=90)
    for name in alts:  # busy enough to pass rules 1 and 2
        for i in range(4):
            publish(api, name, f"{name} {i}")
    author_id = api.users["author"]["id"]
    for name in alts:
        uid = api.users[name]["id"]
        db.session.add(AccountLink(user_id=uid, linked_user_id=author_id, reason="same phone"))
        db.session.add(AccountLink(user_id=author_id, linked_user_id=uid, reason="same phone"))
    db.session.commit()
    like_all(api, alts[:2], note)
    assert detect_engagement()["findings"] == 0  # two linked likes: below the rule's three
    like_all(api, alts[2:], note)
    detect_engagement()
    (case,) = engagement_cases()
    evidence = case.evidence["engagement"]
    assert evidence["rules"] == ["linked_accounts"] and evidence["flagged"] == 3
    assert len(evidence["shared_signals"]["linked_to_owner"]) == 3


def _ring(api, prefix, targets, *, extra_likes=0):
    members = accounts(api, prefix, 6, days_old=60)
    for i, name in enumerate(members):
        publish(api, name, f"{name} 的日常")  # some life: rules 1 and 2 do not apply
        for n in range(extra_likes):  # each a different note: real tastes spread out
            like_all(api, [name], targets["spread"][i * extra_likes + n])
        like_all(api, [name], targets["ring"][0])
        like_all(api, [name], targets["ring"][1])
        like_all(api, [name], targets["ring"][2])
    return members


def test_rings_are_flagged_and_busy_fans_of_the_same_notes_are_not(people):
    api = people
    boosted = [publish(api, "author", f"刷量 {i}") for i in range(3)]
    writers = accounts(api, "writer", 6, days_old=60)  # 10 notes an hour each, under the pace
    spread = [publish(api, w, f"{w} 日常 {i}") for w in writers for i in range(10)]
    # Six real fans like the same three notes, but each also likes ten others of their own.
    _ring(api, "fan", {"ring": boosted, "spread": spread}, extra_likes=10)
    assert detect_engagement()["findings"] == 0
    # Six farmed accounts that like only those three, together.
    ring = _ring(api, "farm", {"ring": boosted, "spread": spread})
    detect_engagement()
    flags = db.session.scalars(select(EngagementFlag)).all()
    ring_ids = {api.users[name]["id"] for name in ring}
    assert {f.actor_id for f in flags} == ring_ids
    assert {f.target_id for f in flags} == set(boosted) and len(flags) == 18
    assert all(f.rules == ["ring"] for f in flags)
    assert {c.target_id for c in engagement_cases()} == set(boosted)
    for note in boosted:
        assert note_view(api, note)["like_count"] == 6  # the fans' likes still count


def test_follow_and_collect_bursts(people):
    api = people
    note = publish(api, "author")
    followers = accounts(api, "fol", 10)
    for name in followers:
        assert api.post(f"/users/{api.users['author']['id']}/follow", name).status_code == 200
    collectors = accounts(api, "col", 8)
    for name in collectors:
        assert api.post(f"/notes/{note}/collect", name).status_code in (200, 201)
    detect_engagement()
    author = api.get(f"/users/{api.users['author']['id']}", "other").get_json()
    assert author["follower_count"] == 0
    assert note_view(api, note)["collect_count"] == 0
    targets = {(c.target_type, c.target_id) for c in engagement_cases()}
    assert targets == {("user", api.users["author"]["id"]), ("note", note)}


def test_suspect_likes_leave_the_hot_list(people):
    api = people
    boosted = publish(api, "author", "买的赞")
    fine = publish(api, "other", "正常")
    like_all(api, accounts(api, "real", 2, days_old=90), fine)
    like_all(api, accounts(api, "bot", 12), boosted)
    rebuild_hot()
    ranked = [i["id"] for i in api.get("/feeds/hot", "other").get_json()["items"]]
    assert ranked[0] == boosted  # before detection, bought likes win
    detect_engagement()
    rebuild_hot()
    ranked = [i["id"] for i in api.get("/feeds/hot", "other").get_json()["items"]]
    assert boosted not in ranked and fine in ranked


def _decide(api, case_id, **decision):
    response = api.post(f"/moderation/cases/{case_id}/decision", "mod1", json=decision)
    assert response.status_code == 200, response.get_json()


def test_dismissal_counts_and_pays_again_and_is_never_flagged_again(people):
    api = people
    note = publish(api, "author")
    before = points(api, "author")
    fans = accounts(api, "fresh", 10)
    like_all(api, fans, note)
    detect_engagement()
    assert points(api, "author") == before
    (case,) = engagement_cases()
    _decide(api, case.id, content="keep", account="none")
    assert note_view(api, note)["like_count"] == 10
    assert points(api, "author") == before + 10
    flags = db.session.scalars(select(EngagementFlag)).all()
    assert {f.status for f in flags} == {"cleared"}
    again = detect_engagement()
    assert again["new_flags"] == 0 and again["rows_held"] == 0
    (case,) = engagement_cases()
    assert case.status == "decided" and case.outcome == "dismissed"
    assert points(api, "author") == before + 10  # nothing paid twice


def test_held_before_payment_is_paid_on_dismissal(people, app):
    """A like flagged before its payment job ran: the job pays nothing, the dismissal pays."""
    from app.growth.events import record_interaction

    api = people
    note = publish(api, "author")
    before = points(api, "author")
    fans = accounts(api, "fresh", 10)
    like_all(api, fans, note)
    detect_engagement()
    # The payment job again (a retry after the flag): held, it pays nothing.
    uid = api.users[fans[0]]["id"]
    author_id = api.users["author"]["id"]
    key = f"like:{uid}:{note}"
    result = record_interaction("like_received", author_id, uid, "note", note, key)
    assert result == {"paid": 0, "suspect": True}
    (case,) = engagement_cases()
    _decide(api, case.id, content="keep", account="none")
    assert points(api, "author") == before + 10


def test_upheld_case_deletes_the_fake_engagement(people):
    api = people
    note = publish(api, "author")
    fans = accounts(api, "fresh", 10)
    like_all(api, fans, note)
    detect_engagement()
    before = points(api, "author")
    (case,) = engagement_cases()
    _decide(api, case.id, content="keep", account="warn")
    db.session.expire_all()
    assert db.session.scalar(select(NoteLike).where(NoteLike.note_id == note)) is None
    assert note_view(api, note)["like_count"] == 0
    assert points(api, "author") == before  # stays clawed back
    assert {f.status for f in db.session.scalars(select(EngagementFlag))} == {"removed"}
    # Done again by the same accounts: flagged again, and the case reopens (not a new one).
    like_all(api, fans, note)
    detect_engagement()
    (case,) = engagement_cases()
    assert case.status == "open" and note_view(api, note)["like_count"] == 0


def test_the_console_case_page_shows_the_burst(people, client):
    """The moderator sees the burst: the accounts, a dot per account on the window's
    timeline, and the rule that fired."""
    from tests.api.console_client import Console

    api = people
    note = publish(api, "author")
    fans = accounts(api, "burst", 10)
    like_all(api, fans, note)
    detect_engagement()
    (case,) = engagement_cases()

    console = Console(client)
    assert console.sign_in("mod1").status_code == 303
    page = console.get(f"/console/moderation/cases/{case.id}")
    assert page.status_code == 200
    html = page.text
    assert 'class="card engagement"' in html and "new_accounts" in html
    assert html.count("<circle ") == 10  # one dot per account on the timeline
    assert all(name in html for name in fans)
