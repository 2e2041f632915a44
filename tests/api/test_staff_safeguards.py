"""Staff safeguards: rank (staff act only on accounts below their own role), no one handles
a case or an appeal about themselves, admins lift penalties, the bootstrap admin is never
left banned, reversed removals are published again, and unpublished images stay private."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import assert_error, make_app

PASSWORD = "correct horse 1"


def publish(api, user, title="一篇笔记", **fields):
    response = api.post("/notes", user, json={"title": title, "status": "published", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def report(api, user, target_id, kind="note", reason="spam_ads.repeated"):
    response = api.post(
        "/reports", user, json={"target_type": kind, "target_id": target_id, "reason_code": reason}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def case_of(api, target_id, kind="note", moderator="mod1"):
    items = api.get("/moderation/cases", moderator).get_json()["items"]
    return next(c["id"] for c in items if c["target_id"] == target_id and c["target_type"] == kind)


def decision(api, moderator, case_id, **body):
    return api.post(f"/moderation/cases/{case_id}/decision", moderator, json=body)


def decide(api, moderator, case_id, **body):
    response = decision(api, moderator, case_id, **body)
    assert response.status_code == 200, response.get_json()
    return {action["kind"]: action["id"] for action in response.get_json()["actions"]}


def login(api, username):
    return api.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})


def lift(api, admin, action_id, note="复核后解除"):
    return api.post(f"/moderation/actions/{action_id}/lift", admin, json={"note": note})


@pytest.fixture
def staff(api):
    for name in ("author", "rep1", "rep2", "writer", "mod1", "mod2", "root", "root2"):
        api.register(name)
    api.grant("writer", "editor")
    api.grant("mod1", "moderator")
    api.grant("mod2", "moderator")
    api.grant("root", "admin")
    api.grant("root2", "admin")
    return api


# -- rank ------------------------------------------------------------------------------------------
def test_moderators_cannot_warn_mute_or_ban_peers_or_admins(staff):
    api = staff
    for owner in ("mod2", "root"):
        note = publish(api, owner, f"{owner}的笔记")
        report(api, "rep1", note)
        case_id = case_of(api, note)
        for account in ("warn", "mute", "ban"):
            error = assert_error(
                decision(api, "mod1", case_id, content="remove", account=account),
                403,
                "insufficient_rank",
            )
            assert error["details"]["user_id"] == api.users[owner]["id"]
        # Refused before anything changed: the note is still up, the case still open.
        assert api.get(f"/notes/{note}", "rep2").status_code == 200
        queue = api.get("/moderation/cases", "mod1").get_json()["items"]
        assert next(c for c in queue if c["id"] == case_id)["status"] == "open"
    # The same through a report on the account itself.
    report(api, "rep1", api.users["mod2"]["id"], kind="user")
    user_case = case_of(api, api.users["mod2"]["id"], kind="user")
    assert_error(decision(api, "mod1", user_case, content="keep", account="ban"), 403)
    assert login(api, "mod2").status_code == 200 and login(api, "root").status_code == 200
    # Below the moderator's rank it works (an editor), and an admin outranks a moderator.
    editor_note = publish(api, "writer", "编辑的笔记")
    report(api, "rep1", editor_note)
    assert "warn" in decide(api, "mod1", case_of(api, editor_note), content="keep", account="warn")
    assert "ban" in decide(api, "root", user_case, content="keep", account="ban")
    assert_error(login(api, "mod2"), 403, "account_banned")


def test_an_admin_cannot_be_banned_through_the_api_even_by_another_admin(staff):
    api = staff
    report(api, "rep1", api.users["root"]["id"], kind="user")
    case_id = case_of(api, api.users["root"]["id"], kind="user")
    for moderator in ("mod1", "root2"):
        assert_error(decision(api, moderator, case_id, content="keep", account="ban"), 403)
    assert api.get("/me", "root").status_code == 200


def test_role_changes_only_reach_accounts_below_admin(staff):
    api = staff
    mod2_id, root2_id = api.users["mod2"]["id"], api.users["root2"]["id"]
    root_id = api.users["root"]["id"]
    assert_error(api.put(f"/admin/users/{mod2_id}/roles", "mod1", json={"roles": []}), 403)
    error = assert_error(
        api.put(f"/admin/users/{root2_id}/roles", "root", json={"roles": ["user"]}),
        403,
        "insufficient_rank",
    )
    assert error["details"]["roles"] == ["admin", "user"]
    demoted = api.put(f"/admin/users/{mod2_id}/roles", "root", json={"roles": ["editor"]})
    assert demoted.status_code == 200 and demoted.get_json()["roles"] == ["editor", "user"]
    # Their own roles: an admin may keep admin and add more, never drop it.
    assert (
        api.put(f"/admin/users/{root_id}/roles", "root", json={"roles": ["admin", "editor"]})
    ).status_code == 200
    assert_error(
        api.put(f"/admin/users/{root_id}/roles", "root", json={"roles": ["editor"]}),
        409,
        "cannot_demote_self",
    )
    # Making an admin is allowed; afterwards the new admin is a peer, out of reach.
    author_id = api.users["author"]["id"]
    promoted = api.put(f"/admin/users/{author_id}/roles", "root", json={"roles": ["admin"]})
    assert promoted.status_code == 200
    assert_error(
        api.put(f"/admin/users/{author_id}/roles", "root", json={"roles": []}),
        403,
        "insufficient_rank",
    )


# -- conflicts of interest -------------------------------------------------------------------------
def test_nobody_claims_or_decides_a_case_about_their_own_content_or_account(staff):
    api = staff
    own_note = publish(api, "mod1", "版主自己的笔记")
    report(api, "rep1", own_note)
    case_id = case_of(api, own_note)
    assert_error(
        api.post(f"/moderation/cases/{case_id}/claim", "mod1"), 403, "conflict_of_interest"
    )
    for body in ({"content": "keep", "account": "none"}, {"content": "hide", "account": "none"}):
        assert_error(decision(api, "mod1", case_id, **body), 403, "conflict_of_interest")
    assert api.post(f"/moderation/cases/{case_id}/claim", "mod2").status_code == 200
    decide(api, "mod2", case_id, content="keep", account="none")

    other_note = publish(api, "author", "别人的笔记")
    comment = api.post(f"/notes/{other_note}/comments", "mod1", json={"body": "版主的评论"})
    assert comment.status_code == 201, comment.get_json()
    report(api, "rep1", comment.get_json()["id"], kind="comment")
    comment_case = case_of(api, comment.get_json()["id"], kind="comment")
    assert_error(
        decision(api, "mod1", comment_case, content="keep", account="none"),
        403,
        "conflict_of_interest",
    )

    report(api, "rep1", api.users["mod1"]["id"], kind="user")
    account_case = case_of(api, api.users["mod1"]["id"], kind="user")
    assert_error(
        decision(api, "mod1", account_case, content="keep", account="none"),
        403,
        "conflict_of_interest",
    )
    # Admins are bound too.
    admin_note = publish(api, "root", "管理员的笔记")
    report(api, "rep1", admin_note)
    assert_error(
        decision(api, "root", case_of(api, admin_note), content="keep", account="none"),
        403,
        "conflict_of_interest",
    )


def test_nobody_decides_an_appeal_they_filed_or_that_concerns_them(staff):
    api = staff
    note = publish(api, "mod2", "版主的笔记")
    report(api, "rep1", note)
    actions = decide(api, "root", case_of(api, note), content="remove", account="warn")
    appeals = {}
    for kind in ("remove", "warn"):
        filed = api.post("/appeals", "mod2", json={"action_id": actions[kind], "statement": "误判"})
        assert filed.status_code == 201, filed.get_json()
        appeals[kind] = filed.get_json()["id"]
    for appeal_id in appeals.values():
        url = f"/moderation/appeals/{appeal_id}/decision"
        for outcome in ("reverse", "uphold"):
            assert_error(
                api.post(url, "mod2", json={"outcome": outcome}), 403, "conflict_of_interest"
            )
        # A peer of the appellant may not settle it either; the admin who acted may not (409).
        assert_error(api.post(url, "mod1", json={"outcome": "reverse"}), 403, "insufficient_rank")
        assert_error(api.post(url, "root", json={"outcome": "reverse"}), 409, "own_action")
    done = api.post(
        f"/moderation/appeals/{appeals['remove']}/decision", "root2", json={"outcome": "reverse"}
    )
    assert done.status_code == 200 and done.get_json()["status"] == "reversed"
    pending = api.get("/moderation/appeals", "mod1").get_json()["items"]
    assert [a["id"] for a in pending] == [appeals["warn"]]


# -- lifting penalties -----------------------------------------------------------------------------
def test_an_admin_lifts_a_mute_early_audited(staff):
    api = staff
    note = publish(api, "author")
    report(api, "rep1", note)
    actions = decide(api, "mod1", case_of(api, note), content="remove", account="mute")
    assert_error(publish_attempt(api, "author"), 403, "account_muted")
    assert_error(lift(api, "mod2", actions["mute"]), 403)
    assert_error(lift(api, "author", actions["mute"]), 403)
    assert_error(lift(api, None, actions["mute"]), 401)
    assert_error(lift(api, "root", actions["mute"], note=""), 400)
    assert_error(lift(api, "root", actions["remove"]), 422, "not_liftable")
    assert_error(lift(api, "root", 987654), 404, "action_not_found")
    lifted = lift(api, "root", actions["mute"], note="误伤，提前解除")
    assert lifted.status_code == 200, lifted.get_json()
    body = lifted.get_json()
    assert body["kind"] == "mute" and body["ends_at"] is not None
    assert publish_attempt(api, "author").status_code == 201
    assert_error(lift(api, "root", actions["mute"]), 409, "penalty_not_in_force")
    entry = api.get("/moderation/log", "mod1").get_json()["items"][0]
    assert entry["action"] == "lift" and entry["actor_id"] == api.users["root"]["id"]
    assert entry["target_id"] == api.users["author"]["id"]
    assert entry["reason"] == "误伤，提前解除" and entry["after"] == {"muted": False}
    assert entry["before"]["action_id"] == actions["mute"]
    assert api.get("/modlog").get_json()["items"][0]["action"] == "lift"
    notices = api.get("/notifications", "author").get_json()["items"]
    assert any(n.get("payload", {}).get("type") == "penalty_lifted" for n in notices)


def publish_attempt(api, user):
    return api.post("/notes", user, json={"title": "再发一篇", "status": "published"})


def test_an_admin_lifts_a_ban_and_the_account_can_sign_in_again(staff):
    api = staff
    note = publish(api, "author", "博彩广告")
    report(api, "rep1", note, reason="illegal.obscenity_gambling_violence")
    actions = decide(api, "mod1", case_of(api, note), content="remove", account="ban")
    assert_error(login(api, "author"), 403, "account_banned")
    assert api.get("/search/users", query_string={"q": "author"}).get_json()["items"] == []
    assert lift(api, "root", actions["ban"]).status_code == 200
    assert_error(api.get("/me", "author"), 401, "invalid_token")  # revoked tokens stay revoked
    signed_in = login(api, "author")
    assert signed_in.status_code == 200
    api.tokens["author"] = signed_in.get_json()["token"]
    assert api.get("/me", "author").status_code == 200
    found = api.get("/search/users", query_string={"q": "author"}).get_json()["items"]
    assert [user["username"] for user in found] == ["author"]
    assert_error(lift(api, "root", actions["ban"]), 409, "penalty_not_in_force")
    entry = api.get("/moderation/log", "root").get_json()["items"][0]
    assert entry["action"] == "lift" and entry["after"] == {"status": "active"}
    assert entry["before"]["action_ids"] == [actions["ban"]]


def test_an_admin_may_lift_another_admins_penalty_but_not_their_own(staff):
    from app.accounts.models import User
    from app.core.errors import Forbidden
    from app.core.extensions import db
    from moderation.penalties import lift_penalty

    api = staff
    note = publish(api, "author")
    report(api, "rep1", note)
    actions = decide(api, "mod1", case_of(api, note), content="keep", account="mute")
    api.grant("author", "admin")  # promoted while muted
    assert_error(lift(api, "author", actions["mute"]), 403, "account_muted")
    # A muted admin cannot write at all; the service refuses them even so.
    own = db.session.get(User, api.users["author"]["id"])
    with pytest.raises(Forbidden) as refused:
        lift_penalty(own, actions["mute"], "自己解除")
    assert refused.value.code == "conflict_of_interest"
    db.session.rollback()
    assert lift(api, "root", actions["mute"]).status_code == 200


def test_the_bootstrap_admin_is_never_left_banned_or_muted(database_url, tmp_path):
    app = make_app(database_url, tmp_path, admin_username="Boss", admin_password="pw-from-env-1")
    with app.app_context():
        from sqlalchemy import select

        from app.accounts.models import User
        from app.accounts.services import revoke_all_tokens
        from app.cli import ensure_bootstrap_admin
        from app.core.extensions import db
        from moderation.models import AuditEntry, ModerationAction, Mute

        ensure_bootstrap_admin()
        client = app.test_client()
        credentials = {"username": "boss", "password": "pw-from-env-1"}
        assert client.post("/api/v1/auth/login", json=credentials).status_code == 200
        # What the old bug left behind: a ban and a mute on the bootstrap admin.
        boss = db.session.scalar(select(User).where(User.username == "boss"))
        assert boss is not None
        boss_id = boss.id
        ban = ModerationAction(
            kind="ban", target_type="user", target_id=boss_id, user_id=boss_id, reason_code="x"
        )
        mute = ModerationAction(
            kind="mute", target_type="user", target_id=boss_id, user_id=boss_id, reason_code="x"
        )
        db.session.add_all([ban, mute])
        db.session.flush()
        db.session.add(Mute(user_id=boss_id, until=None, reason_code="x", action_id=mute.id))
        penalty_ids = [ban.id, mute.id]
        boss.status = "banned"
        revoke_all_tokens(boss_id)
        db.session.commit()
        assert_error(client.post("/api/v1/auth/login", json=credentials), 403, "account_banned")

        ensure_bootstrap_admin()  # what every start-up runs
        signed_in = client.post("/api/v1/auth/login", json=credentials)
        assert signed_in.status_code == 200
        token = signed_in.get_json()["token"]
        wrote = client.post(
            "/api/v1/notes",
            json={"title": "管理员回来了", "status": "published"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert wrote.status_code == 201, wrote.get_json()
        assert db.session.get(Mute, boss_id) is None
        ended = [db.session.get(ModerationAction, i) for i in penalty_ids]
        assert all(action is not None and action.ends_at is not None for action in ended)
        lifts = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "lift")))
        assert {entry.before["kind"] for entry in lifts} == {"ban", "mute"}
        assert all(entry.actor_id is None and entry.target_id == boss_id for entry in lifts)
        ensure_bootstrap_admin()  # nothing more to lift: nothing more audited
        assert (
            len(list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "lift"))))
            == 2
        )


# -- reversal restores publication -----------------------------------------------------------------
def test_reversing_a_removal_publishes_content_auto_hidden_before_the_decision(staff, app):
    api = staff
    app.config["SPROUT"] = app.config["SPROUT"].with_overrides(moderation_hide_weight=1.0)
    note = publish(api, "author", "被误举报的露营笔记")
    report(api, "rep1", note)  # weight 1 reached: hidden pending review
    assert api.get(f"/notes/{note}", "author").get_json()["status"] == "hidden"
    actions = decide(api, "mod1", case_of(api, note), content="remove", account="none")
    assert api.get(f"/notes/{note}", "author").get_json()["status"] == "removed"
    appeal = api.post("/appeals", "author", json={"action_id": actions["remove"], "statement": "x"})
    reversed_ = api.post(
        f"/moderation/appeals/{appeal.get_json()['id']}/decision",
        "mod2",
        json={"outcome": "reverse"},
    )
    assert reversed_.status_code == 200, reversed_.get_json()
    seen = api.get(f"/notes/{note}", "rep2")
    assert seen.status_code == 200 and seen.get_json()["status"] == "published"
    hits = api.get("/search/notes", query_string={"q": "露营"}).get_json()["items"]
    assert [hit["id"] for hit in hits] == [note]


def test_reversing_a_hidden_comment_shows_it_again(staff, app):
    api = staff
    app.config["SPROUT"] = app.config["SPROUT"].with_overrides(moderation_hide_weight=1.0)
    note = publish(api, "author")
    comment = api.post(f"/notes/{note}/comments", "writer", json={"body": "正常的评论"})
    comment_id = comment.get_json()["id"]
    report(api, "rep1", comment_id, kind="comment")
    actions = decide(
        api, "mod1", case_of(api, comment_id, kind="comment"), content="hide", account="none"
    )
    listed = api.get(f"/notes/{note}/comments", "rep2").get_json()["items"]
    assert comment_id not in [c["id"] for c in listed]
    appeal = api.post("/appeals", "writer", json={"action_id": actions["hide"], "statement": "x"})
    api.post(
        f"/moderation/appeals/{appeal.get_json()['id']}/decision",
        "mod2",
        json={"outcome": "reverse"},
    )
    listed = api.get(f"/notes/{note}/comments", "rep2").get_json()["items"]
    assert comment_id in [c["id"] for c in listed]
    assert api.get(f"/notes/{note}", "rep2").get_json()["comment_count"] == 1


# -- images ----------------------------------------------------------------------------------------
def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 140, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


def upload(api, user):
    response = api.post(
        "/media/images",
        user,
        data={"file": (io.BytesIO(photo()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def visible_to(api, image_id):
    return {
        who: api.get(f"/media/images/{image_id}", who).status_code
        for who in (None, "rep1", "author", "mod1")
    }


def test_images_not_shown_by_a_published_note_are_private(staff):
    api = staff
    private = {None: 404, "rep1": 404, "author": 200, "mod1": 200}
    public = {None: 200, "rep1": 200, "author": 200, "mod1": 200}
    fresh = upload(api, "author")
    assert visible_to(api, fresh) == private
    assert_error(api.get(f"/media/images/{fresh}"), 404, "image_not_found")  # not a 403

    in_draft = upload(api, "author")
    draft = api.post(
        "/notes", "author", json={"title": "草稿", "status": "draft", "image_ids": [in_draft]}
    )
    assert draft.status_code == 201, draft.get_json()
    assert visible_to(api, in_draft) == private
    published = api.patch(
        f"/notes/{draft.get_json()['id']}", "author", json={"status": "published"}
    )
    assert published.status_code == 200, published.get_json()
    assert visible_to(api, in_draft) == public
    assert api.delete(f"/notes/{draft.get_json()['id']}", "author").status_code == 204
    assert visible_to(api, in_draft) == private

    avatar = upload(api, "author")
    assert api.patch("/me", "author", json={"avatar_image_id": avatar}).status_code == 200
    assert visible_to(api, avatar) == public


def test_the_lift_route_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/moderation/actions/{action_id}/lift"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(operation["responses"])
    assert "requestBody" in operation
