"""Reports, the review queue, claims, decisions with the penalty ladder, automatic
protection, mutes, bans and the audit log, through the API."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error


def publish(api, user, title="一篇笔记"):
    response = api.post("/notes", user, json={"title": title, "status": "published"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def report(api, user, note_id, reason="spam_ads.repeated", kind="note"):
    return api.post(
        "/reports", user, json={"target_type": kind, "target_id": note_id, "reason_code": reason}
    )


@pytest.fixture
def people(api):
    for name in ("author", "rep1", "rep2", "rep3", "mod1", "mod2"):
        api.register(name)
    api.grant("mod1", "moderator")
    api.grant("mod2", "moderator")
    return api


def test_reports_are_validated_and_counted_once(people):
    api = people
    note = publish(api, "author")
    assert_error(report(api, None, note), 401)
    assert_error(report(api, "rep1", note, reason="nope.nothing"), 400, "unknown_reason")
    assert_error(report(api, "rep1", 999999), 404)
    assert_error(report(api, "author", note), 422, "own_target")
    first = report(api, "rep1", note)
    assert first.status_code == 201 and first.get_json()["counted"] is True
    again = report(api, "rep1", note, reason="porn.vulgar")
    assert again.get_json()["counted"] is False and again.get_json()["id"] == first.get_json()["id"]
    report(api, "rep2", note)
    (case,) = api.get("/moderation/cases", "mod1").get_json()["items"]
    assert case["report_count"] == 2 and case["weighted_reports"] == 2.0
    assert case["target_type"] == "note" and case["target_id"] == note
    assert_error(api.get("/moderation/cases", "rep1"), 403)


def test_queue_is_ordered_by_priority_and_filtered_by_reason(people):
    api = people
    mild = publish(api, "author", "标题党")
    grave = publish(api, "author", "违法内容")
    report(api, "rep1", mild, reason="clickbait.sensational")
    report(api, "rep1", grave, reason="illegal.other")
    items = api.get("/moderation/cases", "mod1").get_json()["items"]
    assert [c["target_id"] for c in items] == [grave, mild]
    assert items[0]["severity"] == 5 and items[1]["severity"] == 1
    only = api.get("/moderation/cases", "mod1", query_string={"reason": "clickbait"}).get_json()
    assert [c["target_id"] for c in only["items"]] == [mild]


def test_claims_are_exclusive(people):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    case_id = api.get("/moderation/cases", "mod1").get_json()["items"][0]["id"]
    assert api.post(f"/moderation/cases/{case_id}/claim", "mod1").status_code == 200
    assert api.post(f"/moderation/cases/{case_id}/claim", "mod1").status_code == 200
    assert_error(api.post(f"/moderation/cases/{case_id}/claim", "mod2"), 409, "case_claimed")
    assert_error(api.post(f"/moderation/cases/{case_id}/claim", "rep1"), 403)
    decision = {"content": "keep", "account": "none"}
    assert_error(api.post(f"/moderation/cases/{case_id}/decision", "mod2", json=decision), 409)


def decide(api, moderator, case_id, **decision):
    response = api.post(f"/moderation/cases/{case_id}/decision", moderator, json=decision)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def case_of(api, note):
    items = api.get("/moderation/cases", "mod1").get_json()["items"]
    return next(c["id"] for c in items if c["target_id"] == note)


def test_penalty_ladder_mutes_and_the_muted_cannot_write(people):
    api = people
    first = publish(api, "author", "第一篇")
    report(api, "rep1", first)
    body = decide(api, "mod1", case_of(api, first), content="remove", account="mute", note="广告")
    kinds = {a["kind"]: a for a in body["actions"]}
    assert kinds["remove"] and kinds["mute"]["duration_days"] == 1
    muted = api.post("/notes", "author", json={"title": "再发一篇", "status": "published"})
    error = assert_error(muted, 403, "account_muted")
    assert error["details"]["reason"] == "spam_ads.repeated"
    assert error["details"]["until"].endswith("Z")
    assert_error(api.get(f"/notes/{first}", "rep1"), 404)  # removed
    assert api.post("/auth/logout", "author").status_code == 204  # still allowed

    from app.core.extensions import db
    from moderation.models import Mute

    db.session.query(Mute).delete()  # the day passed
    db.session.commit()
    api.tokens["author"] = api.client.post(
        "/api/v1/auth/login", json={"username": "author", "password": "correct horse 1"}
    ).get_json()["token"]
    second = publish(api, "author", "第二篇")
    report(api, "rep2", second)
    body = decide(api, "mod1", case_of(api, second), content="hide", account="mute")
    assert [a["duration_days"] for a in body["actions"] if a["kind"] == "mute"] == [7]


def test_aggravated_reasons_start_higher_and_explicit_durations_win(people):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note, reason="illegal.minor_harm")
    body = decide(api, "mod1", case_of(api, note), content="remove", account="mute")
    assert [a["duration_days"] for a in body["actions"] if a["kind"] == "mute"] == [15]
    other = publish(api, "rep3")
    report(api, "rep1", other)
    body = decide(
        api, "mod1", case_of(api, other), content="keep", account="mute", duration_days="permanent"
    )
    mute = next(a for a in body["actions"] if a["kind"] == "mute")
    assert mute["duration_days"] is None and mute["ends_at"] is None


def test_weighted_reports_hide_pending_review_and_keep_restores(people, app):
    api = people
    app.config["SPROUT"] = app.config["SPROUT"].with_overrides(moderation_hide_weight=3.0)
    note = publish(api, "author", "被举报的露营笔记")
    assert [
        i["id"] for i in api.get("/search/notes", query_string={"q": "露营"}).get_json()["items"]
    ] == [note]
    for user in ("rep1", "rep2"):
        report(api, user, note)
    assert api.get(f"/notes/{note}", "rep3").status_code == 200
    report(api, "rep3", note)  # weight 3 reached
    assert_error(api.get(f"/notes/{note}", "rep3"), 404)
    assert api.get(f"/notes/{note}", "author").get_json()["status"] == "hidden"
    assert api.get("/search/notes", query_string={"q": "露营"}).get_json()["items"] == []
    case = api.get("/moderation/cases", "mod1").get_json()["items"][0]
    assert case["auto_hidden"] is True
    decide(api, "mod1", case["id"], content="keep", account="none", note="没有问题")
    assert api.get(f"/notes/{note}", "rep3").status_code == 200
    assert [
        i["id"] for i in api.get("/search/notes", query_string={"q": "露营"}).get_json()["items"]
    ] == [note]
    mine = api.get("/me/reports", "rep1").get_json()["items"]
    assert mine[0]["outcome"] == "dismissed"
    notices = api.get("/notifications", "rep1").get_json()["items"]
    assert any(n.get("payload", {}).get("type") == "report_outcome" for n in notices)


def test_ban_revokes_tokens_refuses_login_and_hides_from_search(people):
    api = people
    note = publish(api, "author", "博彩广告")
    report(api, "rep1", note, reason="illegal.obscenity_gambling_violence")
    decide(api, "mod1", case_of(api, note), content="remove", account="ban")
    assert api.get("/me", "author").status_code in (401, 403)
    login = api.client.post(
        "/api/v1/auth/login", json={"username": "author", "password": "correct horse 1"}
    )
    assert_error(login, 403, "account_banned")
    assert api.get("/search/users", query_string={"q": "author"}).get_json()["items"] == []


def test_every_step_is_in_the_audit_log(people, app):
    api = people
    app.config["SPROUT"] = app.config["SPROUT"].with_overrides(moderation_hide_weight=1.0)
    note = publish(api, "author")
    report(api, "rep1", note)
    case_id = case_of(api, note)
    api.post(f"/moderation/cases/{case_id}/claim", "mod1")
    decide(api, "mod1", case_id, content="remove", account="warn", note="清理")
    log = api.get("/moderation/log", "mod1").get_json()["items"]
    actions = [entry["action"] for entry in reversed(log)]
    assert actions == ["auto_hide", "claim", "content_remove", "warn", "decide"]
    auto = log[-1]
    assert auto["actor_id"] is None and auto["after"] == {"status": "hidden"}
    assert_error(api.get("/moderation/log", "rep1"), 403)
    assert api.get("/me/reports", "rep1").get_json()["items"][0]["outcome"] == "upheld"


def test_the_database_refuses_to_change_the_audit_log(people, app):
    from sqlalchemy import delete, select, update
    from sqlalchemy.exc import DatabaseError

    from app.core.extensions import db
    from moderation.models import AuditEntry

    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    api.post(f"/moderation/cases/{case_of(api, note)}/claim", "mod1")
    entry_id = db.session.scalars(select(AuditEntry.id)).one()
    for statement in (
        update(AuditEntry).where(AuditEntry.id == entry_id).values(reason="rewritten"),
        update(AuditEntry).where(AuditEntry.id == entry_id).values(actor_id=None, target_id=0),
        delete(AuditEntry).where(AuditEntry.id == entry_id),
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(statement)
        db.session.rollback()
    # Only forgetting a deleted account's id is allowed (the foreign key's SET NULL).
    db.session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(actor_id=None))
    db.session.commit()
    (entry,) = api.get("/moderation/log", "mod1").get_json()["items"]
    assert entry["action"] == "claim" and entry["actor_id"] is None


def test_appeals_reverse_by_another_moderator_restores_everything(people):
    api = people
    note = publish(api, "author", "误判的笔记")
    report(api, "rep1", note)
    body = decide(api, "mod1", case_of(api, note), content="remove", account="mute")
    actions = {a["kind"]: a["id"] for a in body["actions"]}
    assert_error(
        api.post("/appeals", "rep1", json={"action_id": actions["mute"], "statement": "x"}), 404
    )
    first = api.post(
        "/appeals", "author", json={"action_id": actions["remove"], "statement": "不是广告"}
    )
    assert first.status_code == 201, first.get_json()  # muted users may still appeal
    assert_error(
        api.post("/appeals", "author", json={"action_id": actions["remove"], "statement": "again"}),
        409,
        "already_appealed",
    )
    mute_appeal = api.post(
        "/appeals", "author", json={"action_id": actions["mute"], "statement": "求解封"}
    )
    pending = api.get("/moderation/appeals", "mod2").get_json()["items"]
    assert {a["id"] for a in pending} == {first.get_json()["id"], mute_appeal.get_json()["id"]}
    own = api.post(
        f"/moderation/appeals/{first.get_json()['id']}/decision",
        "mod1",
        json={"outcome": "reverse"},
    )
    assert_error(own, 409, "own_action")
    for appeal in (first, mute_appeal):
        done = api.post(
            f"/moderation/appeals/{appeal.get_json()['id']}/decision",
            "mod2",
            json={"outcome": "reverse", "note": "误判"},
        )
        assert done.status_code == 200 and done.get_json()["status"] == "reversed"
    assert api.get(f"/notes/{note}", "rep1").status_code == 200  # content back
    assert (
        api.post("/notes", "author", json={"title": "恢复发言", "status": "published"}).status_code
        == 201
    )
    from moderation.penalties import active_strikes

    assert active_strikes(api.users["author"]["id"]) == 0  # the strike is gone


def test_public_modlog_and_admin_metrics(people):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    decide(api, "mod1", case_of(api, note), content="hide", account="warn", note="私密备注")
    entries = api.get("/modlog").get_json()["items"]
    assert [e["action"] for e in entries] == ["warn", "content_hide"]
    assert all(set(e) == {"id", "action", "target_type", "created_at"} for e in entries)
    assert "私密备注" not in str(entries)
    api.register("root")
    api.grant("root", "admin")
    assert_error(api.get("/admin/moderation/metrics", "mod1"), 403)
    metrics = api.get("/admin/moderation/metrics", "root").get_json()
    assert metrics["decisions"] == 1 and metrics["queue"]["total"] == 0
    assert metrics["median_seconds_to_decision"] >= 0 and metrics["reversed_share"] == 0.0


@pytest.mark.parametrize("cursor", ["bad!", "WyJhIiwgMV0", "WzEuNSwgImIiXQ", "WzEsIC0xXQ"])
def test_tampered_queue_cursors_are_400(people, cursor):
    assert_error(people.get("/moderation/cases", "mod1", query_string={"cursor": cursor}), 400)


def test_queue_pages_with_its_cursor(people):
    api = people
    notes = [publish(api, "author", f"笔记{i}") for i in range(3)]
    for note in notes:
        report(api, "rep1", note)
    first = api.get("/moderation/cases", "mod1", query_string={"limit": 2}).get_json()
    rest = api.get(
        "/moderation/cases", "mod1", query_string={"limit": 2, "cursor": first["next_cursor"]}
    ).get_json()
    seen = [c["target_id"] for c in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(notes) and rest["next_cursor"] is None


def test_out_of_range_ids_and_unknown_filters_are_4xx(people):
    api = people
    huge = 2**31  # one past the 32-bit id columns
    assert_error(report(api, "rep1", huge), 400)  # ids in bodies: validation
    assert_error(report(api, "rep1", 2**31 - 1, kind="user"), 404)
    assert_error(api.post(f"/moderation/cases/{huge}/claim", "mod1"), 404)
    decision = {"content": "keep", "account": "none"}
    assert_error(api.post(f"/moderation/cases/{huge}/decision", "mod1", json=decision), 404)
    assert_error(api.post("/appeals", "rep1", json={"action_id": huge, "statement": "x"}), 400)
    assert_error(
        api.post(f"/moderation/appeals/{huge}/decision", "mod1", json={"outcome": "uphold"}), 404
    )
    assert_error(api.delete(f"/moderation/keywords/{huge}", "mod1"), 404)
    assert_error(api.get("/moderation/cases", "mod1", query_string={"reason": "spam%"}), 400)
