"""The console's user administration: find an account, its roles, penalties and points; every
change through the JSON API's services (their rules hold: rank, who may, audit)."""

from __future__ import annotations

import re

import pytest
from flask import g

from tests.api.console_client import Console


@pytest.fixture
def people(api):
    for name in ("boss", "peer", "alice", "mod1", "mod2", "rep1", "eddie"):
        api.register(name, nickname=f"{name} 昵称")
    api.grant("boss", "admin")
    api.grant("peer", "admin")
    api.grant("mod1", "moderator")
    api.grant("mod2", "moderator")
    api.grant("eddie", "editor")
    return api


def console_for(app, username: str) -> Console:
    g.pop("csrf_token", None)  # the test's app context (and its `g`) outlives a client
    console = Console(app.test_client())
    assert console.sign_in(username).status_code == 303
    return console


def user_id(api, name: str) -> int:
    return api.users[name]["id"]


def roles_of(api, name: str) -> set[str]:
    from app.accounts.models import User
    from app.core.extensions import db

    db.session.expire_all()
    return db.session.get(User, user_id(api, name)).roles


def points_of(api, name: str) -> int:
    from app.accounts.models import User
    from app.core.extensions import db

    db.session.expire_all()
    return db.session.get(User, user_id(api, name)).points


def mute(api, author: str = "alice") -> int:
    """A moderator mutes `author` for a week over a reported note: the mute's action id."""
    note = api.post("/notes", author, json={"title": "一篇笔记", "status": "published"})
    assert note.status_code == 201, note.get_json()
    note_id = note.get_json()["id"]
    reported = api.post(
        "/reports",
        "rep1",
        json={"target_type": "note", "target_id": note_id, "reason_code": "spam_ads.repeated"},
    )
    assert reported.status_code == 201
    items = api.get("/moderation/cases", "mod2").get_json()["items"]
    case_id = next(c["id"] for c in items if c["target_id"] == note_id)
    decided = api.post(
        f"/moderation/cases/{case_id}/decision",
        "mod2",
        json={"content": "keep", "account": "mute", "duration_days": 7, "note": "广告"},
    )
    assert decided.status_code == 200, decided.get_json()
    return next(a["id"] for a in decided.get_json()["actions"] if a["kind"] == "mute")


def can_post(api, author: str = "alice") -> int:
    return api.post("/notes", author, json={"title": "又一篇", "status": "published"}).status_code


def test_plain_users_and_editors_are_refused(people, app):
    for who in ("alice", "eddie"):
        console = console_for(app, who)
        assert console.get("/console/users").status_code == 403
        assert console.get(f"/console/users/{user_id(people, 'alice')}").status_code == 403
        refused = console.post(
            f"/console/users/{user_id(people, 'alice')}/points", {"delta": "5", "reason": "x"}
        )
        assert refused.status_code == 403
    assert points_of(people, "alice") == 0


def test_an_admin_finds_a_user_by_name_or_nickname(people, app):
    console = console_for(app, "boss")
    page = console.get("/console/users")
    assert page.status_code == 200
    assert '<form method="get" action="/console/users" id="user-search"' in page.text
    assert 'name="q"' in page.text
    found = console.get("/console/users?q=ALI").text
    alice = f'href="/console/users/{user_id(people, "alice")}"'
    assert alice in found and f'href="/console/users/{user_id(people, "mod1")}"' not in found
    assert alice in console.get("/console/users", query_string={"q": "alice 昵"}).text
    assert alice in console.get(f"/console/users?q={user_id(people, 'alice')}").text
    assert "没有匹配的账号" in console.get("/console/users?q=nobody-at-all").text
    detail = console.get(f"/console/users/{user_id(people, 'alice')}")
    assert detail.status_code == 200 and "@alice" in detail.text
    assert console.get("/console/users/999999").status_code == 404


def test_the_search_pages(people, app):
    from app.console import users

    console = console_for(app, "boss")
    users.PAGE_SIZE, saved = 3, users.PAGE_SIZE
    try:
        first = console.get("/console/users").text
        more = re.search(r'href="(/console/users\?after=\d+)" rel="next"', first)
        assert more, "a next page link"
        second = console.get(more.group(1).replace("&amp;", "&")).text
        ids = lambda html: set(re.findall(r'href="/console/users/(\d+)"', html))  # noqa: E731
        assert len(ids(first)) == 3 and ids(second) and not ids(first) & ids(second)
    finally:
        users.PAGE_SIZE = saved


def test_an_admin_changes_roles_but_not_a_peer_admins(people, app):
    console = console_for(app, "boss")
    alice = user_id(people, "alice")
    form = console.get(f"/console/users/{alice}").text
    assert 'id="user-roles"' in form and 'name="roles" value="editor"' in form
    saved = console.post(
        f"/console/users/{alice}/roles",
        {"roles": ["editor", "moderator"], "next": f"/console/users/{alice}"},
    )
    assert saved.status_code == 303 and saved.headers["Location"] == f"/console/users/{alice}"
    assert roles_of(people, "alice") == {"user", "editor", "moderator"}
    assert "角色已保存" in console.get(f"/console/users/{alice}").text  # the flash
    console.post(f"/console/users/{alice}/roles", {"roles": []})
    assert roles_of(people, "alice") == {"user"}

    peer = user_id(people, "peer")
    refused = console.post(f"/console/users/{peer}/roles", {"roles": ["editor"]})
    assert refused.status_code == 403 and "insufficient_rank" in refused.text
    assert roles_of(people, "peer") == {"user", "admin"}
    unknown = console.post(f"/console/users/{alice}/roles", {"roles": ["king"]})
    assert unknown.status_code == 400 and roles_of(people, "alice") == {"user"}


def test_an_admin_grants_and_deducts_points(people, app):
    console = console_for(app, "boss")
    alice = user_id(people, "alice")
    granted = console.post(f"/console/users/{alice}/points", {"delta": "50", "reason": "活动奖励"})
    assert granted.status_code == 303
    assert points_of(people, "alice") == 50
    page = console.get(f"/console/users/{alice}").text
    assert "已发放 50 积分" in page  # the flash
    row = re.search(r"<td>\+50</td>\s*<td><code>manual</code></td>\s*<td>活动奖励</td>", page)
    assert row, "the ledger shows the grant"
    assert '<td class="hide-narrow">boss 昵称</td>' in page  # who granted it (nickname)
    # the JSON API's own ledger agrees
    ledger = people.get("/me/points", "alice").get_json()["items"]
    assert ledger[0]["delta"] == 50 and ledger[0]["reason"] == "活动奖励"

    console.post(f"/console/users/{alice}/points", {"delta": "-20", "reason": "纠正"})
    assert points_of(people, "alice") == 30
    too_much = console.post(f"/console/users/{alice}/points", {"delta": "-100", "reason": "x"})
    assert too_much.status_code == 409 and points_of(people, "alice") == 30
    for bad in ({"delta": "abc", "reason": "x"}, {"delta": "0", "reason": "x"}, {"delta": "5"}):
        response = console.post(f"/console/users/{alice}/points", bad)
        assert response.status_code == 303
        assert "未发放积分" in console.get(f"/console/users/{alice}").text
    assert points_of(people, "alice") == 30


def test_an_admin_lifts_a_mute_and_the_user_posts_again(people, app):
    action = mute(people)
    assert can_post(people) == 403
    console = console_for(app, "boss")
    alice = user_id(people, "alice")
    page = console.get(f"/console/users/{alice}").text
    assert "生效中的处罚" in page and f"/penalties/{action}/lift" in page
    assert "spam_ads.repeated" in page
    no_note = console.post(f"/console/users/{alice}/penalties/{action}/lift", {"note": " "})
    assert no_note.status_code == 303 and can_post(people) == 403
    lifted = console.post(f"/console/users/{alice}/penalties/{action}/lift", {"note": "误判"})
    assert lifted.status_code == 303
    assert can_post(people) == 201
    page = console.get(f"/console/users/{alice}").text
    assert "已解除" in page and "没有生效中的禁言或封禁" in page
    # audited as the API does
    log = people.get("/moderation/log", "mod1").get_json()["items"]
    assert any(e["action"] == "lift" and e["target_id"] == alice for e in log)
    again = console.post(f"/console/users/{alice}/penalties/{action}/lift", {"note": "再次"})
    assert again.status_code == 409


def test_a_moderator_sees_penalties_but_roles_points_and_lifting_stay_with_admins(people, app):
    """The moderation service lets only admins lift a penalty (`MODERATION.roles`); the
    console shows the penalty and the service's refusal."""
    action = mute(people)
    before = points_of(people, "alice")  # what her note earned
    console = console_for(app, "mod1")
    alice = user_id(people, "alice")
    assert "/console/users" in console.get("/console/").text
    found = console.get("/console/users?q=alice")
    assert found.status_code == 200 and f"/console/users/{alice}" in found.text
    page = console.get(f"/console/users/{alice}").text
    assert "生效中的处罚" in page and "spam_ads.repeated" in page
    assert 'id="user-roles"' not in page and 'id="user-points"' not in page
    assert console.post(f"/console/users/{alice}/roles", {"roles": ["editor"]}).status_code == 403
    assert roles_of(people, "alice") == {"user"}
    points = console.post(f"/console/users/{alice}/points", {"delta": "5", "reason": "x"})
    assert points.status_code == 403 and points_of(people, "alice") == before
    lift = console.post(f"/console/users/{alice}/penalties/{action}/lift", {"note": "x"})
    assert lift.status_code == 403
    assert can_post(people) == 403  # still muted


def test_forms_without_the_csrf_token_change_nothing(people, app):
    action = mute(people)
    before = points_of(people, "alice")
    console = console_for(app, "boss")
    alice = user_id(people, "alice")
    for path, form in (
        (f"/console/users/{alice}/roles", {"roles": ["editor"]}),
        (f"/console/users/{alice}/points", {"delta": "5", "reason": "x"}),
        (f"/console/users/{alice}/penalties/{action}/lift", {"note": "x"}),
    ):
        for token in (None, "forged"):
            refused = console.post(path, {**form, "csrf_token": token})
            assert refused.status_code == 400, path
    assert roles_of(people, "alice") == {"user"}
    assert points_of(people, "alice") == before
    assert can_post(people) == 403


def test_the_user_page_in_english(people, app):
    console = console_for(app, "boss")
    console.get("/console/lang/en")
    page = console.get(f"/console/users/{user_id(people, 'alice')}").text
    assert "Penalties in force" in page and "Recent ledger" in page
