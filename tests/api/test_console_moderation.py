"""The console's moderation pages: the queue, claims, cases and decisions with the ladder
preview, appeals, keywords and the audit log, each through the services the JSON API uses
(checked here through the JSON API)."""

from __future__ import annotations

import re

import pytest

from tests.api.console_client import Console


def publish(api, user, title="一篇笔记"):
    response = api.post("/notes", user, json={"title": title, "status": "published"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def report(api, user, target_id, reason="spam_ads.repeated", kind="note", detail=""):
    response = api.post(
        "/reports",
        user,
        json={"target_type": kind, "target_id": target_id, "reason_code": reason, "detail": detail},
    )
    assert response.status_code == 201, response.get_json()


def api_cases(api, moderator="mod", **query):
    response = api.get("/moderation/cases", moderator, query_string=query)
    assert response.status_code == 200
    return response.get_json()["items"]


def case_of(api, target_id, kind="note"):
    items = api_cases(api)
    return next(c for c in items if c["target_id"] == target_id and c["target_type"] == kind)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-case-id="(\d+)"', html)]


def switch_to(console: Console, username: str) -> Console:
    """Another staff member at the same browser (the tests' requests share one app context,
    so a second test client would see the first one's CSRF token)."""
    assert console.post("/console/logout").status_code == 303
    assert console.sign_in(username).status_code == 303
    return console


def english(console: Console) -> None:
    console.get("/console/lang/en?next=/console/")


@pytest.fixture
def people(api):
    for name in ("author", "rep1", "rep2", "mod", "mod2", "plain", "eddie"):
        api.register(name)
    api.grant("mod", "moderator")
    api.grant("mod2", "moderator")
    api.grant("eddie", "editor")
    return api


@pytest.fixture
def console(client) -> Console:
    return Console(client)


@pytest.fixture
def moderator(people, console) -> Console:
    assert console.sign_in("mod").status_code == 303
    return console


def test_a_plain_user_and_an_editor_get_403_on_every_moderation_page(people, client):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    case_id = case_of(api, note)["id"]
    pages = [
        "/console/moderation",
        f"/console/moderation/cases/{case_id}",
        "/console/moderation/appeals",
        "/console/moderation/keywords",
        "/console/moderation/log",
    ]
    forms = [
        f"/console/moderation/cases/{case_id}/claim",
        f"/console/moderation/cases/{case_id}/decision",
        "/console/moderation/keywords",
        "/console/moderation/appeals/1/decision",
        "/console/moderation/keywords/1/delete",
    ]
    for name in ("plain", "eddie"):
        console = Console(client)
        assert console.sign_in(name).status_code == 303
        for path in pages:
            response = console.get(path)
            assert response.status_code == 403, (name, path)
            assert "data-case-id" not in response.text
        for path in forms:
            response = console.post(path, {"content": "remove", "account": "ban", "word": "x"})
            assert response.status_code == 403, (name, path)
        console.post("/console/logout")
    assert case_of(api, note)["status"] == "open"  # nothing changed
    assert api.get("/moderation/keywords", "mod").get_json()["items"] == []


def test_the_queue_is_in_the_api_order_and_filtered(people, moderator):
    api = people
    mild = publish(api, "author", "标题党")
    grave = publish(api, "author", "违法内容")
    middle = publish(api, "author", "广告")
    report(api, "rep1", mild, reason="clickbait.sensational")
    report(api, "rep1", grave, reason="illegal.other")
    report(api, "rep1", middle, reason="spam_ads.repeated")
    report(api, "rep2", middle, reason="spam_ads.repeated")
    report(api, "rep1", api.users["author"]["id"], reason="spam_ads.single_account", kind="user")
    expected = [c["id"] for c in api_cases(api)]
    page = moderator.get("/console/moderation")
    assert page.status_code == 200
    assert row_ids(page.text) == expected and len(expected) == 4
    assert "标题党" in page.text and "违法内容" in page.text
    assert '<button type="submit" name="claim"' in page.text

    def filtered(**query):
        return row_ids(moderator.get("/console/moderation", query_string=query).text)

    assert filtered(severity="1") == [case_of(api, mild)["id"]]
    assert filtered(severity="5") == [case_of(api, grave)["id"]]
    assert filtered(reason="illegal") == [case_of(api, grave)["id"]]
    assert filtered(reason="spam_ads") == [c["id"] for c in api_cases(api, reason="spam_ads")]
    assert filtered(reason="spam_ads.repeated") == [case_of(api, middle)["id"]]
    user_case = case_of(api, api.users["author"]["id"], kind="user")["id"]
    assert filtered(target_type="user") == [user_case]
    assert filtered(target_type="note", severity="2") == [case_of(api, middle)["id"]]
    assert filtered(severity="nonsense", reason="no.such") == expected  # ignored
    assert filtered(status="decided") == []


def test_the_queue_pages_in_the_api_order(people, moderator):
    api = people
    notes = [publish(api, "author", f"笔记{i}") for i in range(27)]
    for note in notes:
        report(api, "rep1", note)
    first = moderator.get("/console/moderation")
    more = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert more, "a next page"
    second = moderator.get(more.group(1).replace("&amp;", "&"))
    shown = row_ids(first.text) + row_ids(second.text)
    api_order = [c["id"] for c in api_cases(api, limit=50)]
    assert shown == api_order and len(shown) == 27


def test_a_moderator_claims_the_top_case(people, moderator):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    top = api_cases(api)[0]["id"]
    claimed = moderator.post(f"/console/moderation/cases/{top}/claim", {"claim": "1"})
    assert claimed.status_code == 303
    assert claimed.headers["Location"].endswith(f"/console/moderation/cases/{top}")
    case = case_of(api, note)
    assert case["status"] == "claimed" and case["claimed_by"] == api.users["mod"]["id"]
    log = api.get("/moderation/log", "mod").get_json()["items"]
    assert log[0]["action"] == "claim" and log[0]["actor_id"] == api.users["mod"]["id"]
    # another moderator is refused, as over the API (409), and htmx gets the row with the refusal
    other = switch_to(moderator, "mod2")
    refused = other.post(f"/console/moderation/cases/{top}/claim")
    assert refused.status_code == 409 and "Another moderator" in refused.text
    row = other.post(f"/console/moderation/cases/{top}/claim", headers={"HX-Request": "true"})
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr data-case-id="{top}"')
    assert "Another moderator" in row.text
    assert case_of(api, note)["claimed_by"] == api.users["mod"]["id"]


def test_an_htmx_claim_swaps_the_row(people, moderator):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    case_id = case_of(api, note)["id"]
    row = moderator.post(
        f"/console/moderation/cases/{case_id}/claim", headers={"HX-Request": "true"}
    )
    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<tr data-case-id="{case_id}"')
    assert 'name="claim"' not in row.text  # claimed: a link to decide instead
    assert case_of(api, note)["status"] == "claimed"


def test_decide_remove_and_mute_through_the_form(people, moderator):
    api = people
    note = publish(api, "author", "刷单广告")
    report(api, "rep1", note, detail="加微信刷单")
    case_id = case_of(api, note)["id"]
    moderator.post(f"/console/moderation/cases/{case_id}/claim")
    page = moderator.get(f"/console/moderation/cases/{case_id}")
    assert page.status_code == 200
    assert '<form method="post" id="decision"' in page.text
    for field in ("content", "account", "duration_days", "note"):
        assert f'name="{field}"' in page.text, field
    assert "刷单广告" in page.text and "加微信刷单" in page.text and "rep1" in page.text
    decided = moderator.post(
        f"/console/moderation/cases/{case_id}/decision",
        {"content": "remove", "account": "mute", "duration_days": "", "note": "广告引流"},
    )
    assert decided.status_code == 303
    assert decided.headers["Location"].endswith("/console/moderation")  # on to the next case
    assert api.get(f"/notes/{note}", "rep1").status_code == 404  # removed
    muted = api.post("/notes", "author", json={"title": "再发", "status": "published"})
    assert muted.status_code == 403 and muted.get_json()["error"]["code"] == "account_muted"
    assert (
        api.get("/moderation/cases", "mod", query_string={"status": "decided"}).get_json()["items"][
            0
        ]["outcome"]
        == "upheld"
    )
    english(moderator)
    queue = moderator.get("/console/moderation")
    assert "decided" in queue.text  # the flash
    log = moderator.get("/console/moderation/log")
    assert log.status_code == 200
    for action in ("content_remove", "mute", "decide", "claim"):
        assert f'<tr data-action="{action}"' in log.text, action
    assert "广告引流" in log.text
    entry = api.get("/moderation/log", "mod").get_json()["items"]
    assert {e["action"] for e in entry} >= {"content_remove", "mute", "decide"}


def test_the_decision_form_shows_the_ladder_step(people, moderator):
    api = people
    first = publish(api, "author", "第一篇")
    report(api, "rep1", first)
    case_id = case_of(api, first)["id"]
    english(moderator)
    page = moderator.get(f"/console/moderation/cases/{case_id}").text
    assert 'data-step="1" data-days="1"' in page
    assert "step 1 of 5 of the penalty ladder: 1 days" in page
    body = {"content": "hide", "account": "mute"}
    decided = api.post(f"/moderation/cases/{case_id}/decision", "mod2", json=body)
    assert decided.status_code == 200
    second = publish(api, "rep2", "别人的")  # the author is muted: another author's note
    report(api, "rep1", second)
    # the author's next case: one strike in force, so the next mute is step 2, 7 days
    report(api, "rep2", api.users["author"]["id"], kind="user")
    user_case = case_of(api, api.users["author"]["id"], kind="user")["id"]
    page = moderator.get(f"/console/moderation/cases/{user_case}").text
    assert 'data-step="2" data-days="7"' in page
    assert "step 2 of 5 of the penalty ladder: 7 days" in page
    assert "Strikes in force: 1" in page
    # the decision takes exactly what the preview said
    moderator.post(
        f"/console/moderation/cases/{user_case}/decision",
        {"content": "keep", "account": "mute", "note": "again"},
    )
    log = api.get("/moderation/log", "mod").get_json()["items"]
    mute = next(e for e in log if e["action"] == "mute" and e["actor_id"] == api.users["mod"]["id"])
    assert mute["after"]["duration_days"] == 7
    # in Chinese too
    moderator.get("/console/lang/zh?next=/console/")
    other = case_of(api, second)["id"]
    page = moderator.get(f"/console/moderation/cases/{other}").text
    assert "惩罚阶梯" in page and 'data-step="1"' in page


def test_an_aggravated_reason_starts_higher_on_the_ladder(people, moderator):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note, reason="illegal.minor_harm")
    case_id = case_of(api, note)["id"]
    page = moderator.get(f"/console/moderation/cases/{case_id}").text
    assert 'data-step="3" data-days="15"' in page


def test_a_moderator_cannot_decide_a_case_about_their_own_note(people, moderator):
    api = people
    note = publish(api, "mod", "我自己的笔记")
    report(api, "rep1", note)
    case_id = case_of(api, note)["id"]
    page = moderator.get(f"/console/moderation/cases/{case_id}")
    assert page.status_code == 200 and 'id="decision"' not in page.text
    claim = moderator.post(f"/console/moderation/cases/{case_id}/claim")
    assert claim.status_code == 403 and "conflict_of_interest" in claim.text
    refused = moderator.post(
        f"/console/moderation/cases/{case_id}/decision",
        {"content": "keep", "account": "none", "note": "没问题"},
    )
    assert refused.status_code == 403 and "conflict_of_interest" in refused.text
    case = case_of(api, note)
    assert case["status"] == "open" and case["outcome"] is None and case["claimed_by"] is None
    assert api.get(f"/notes/{note}", "rep2").status_code == 200
    assert not [e for e in api.get("/moderation/log", "mod2").get_json()["items"]]


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(people, moderator):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    case_id = case_of(api, note)["id"]
    for path, data in (
        (f"/console/moderation/cases/{case_id}/claim", {}),
        (f"/console/moderation/cases/{case_id}/decision", {"content": "remove", "account": "ban"}),
        ("/console/moderation/keywords", {"word": "刷单", "category": "spam_ads"}),
    ):
        refused = moderator.post(path, {**data, "csrf_token": None})
        assert refused.status_code == 400, path
        forged = moderator.post(path, {**data, "csrf_token": "forged"})
        assert forged.status_code == 400, path
    case = case_of(api, note)
    assert case["status"] == "open" and case["claimed_by"] is None
    assert api.get(f"/notes/{note}", "rep2").status_code == 200
    assert api.get("/moderation/keywords", "mod").get_json()["items"] == []
    assert api.get("/moderation/log", "mod").get_json()["items"] == []


def test_an_invalid_decision_is_a_flash_and_changes_nothing(people, moderator):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    case_id = case_of(api, note)["id"]
    for bad in (
        {"content": "explode", "account": "none"},
        {"content": "remove", "account": "mute", "duration_days": "forever"},
        {"content": "remove", "account": "mute", "duration_days": "0"},
    ):
        back = moderator.post(f"/console/moderation/cases/{case_id}/decision", bad)
        assert back.status_code == 303
        assert back.headers["Location"].endswith(f"/cases/{case_id}")
        assert "flash error" in moderator.get(back.headers["Location"]).text
    assert case_of(api, note)["status"] == "open"
    assert api.get(f"/notes/{note}", "rep2").status_code == 200


def test_an_explicit_or_permanent_duration_is_used(people, moderator):
    api = people
    first, second = publish(api, "author", "一"), publish(api, "rep2", "二")
    report(api, "rep1", first)
    report(api, "rep1", second)
    moderator.post(
        f"/console/moderation/cases/{case_of(api, first)['id']}/decision",
        {"content": "hide", "account": "mute", "duration_days": "3"},
    )
    moderator.post(
        f"/console/moderation/cases/{case_of(api, second)['id']}/decision",
        {"content": "keep", "account": "mute", "duration_days": "", "permanent": "1"},
    )
    mutes = [
        e for e in api.get("/moderation/log", "mod").get_json()["items"] if e["action"] == "mute"
    ]
    assert sorted((m["target_id"], m["after"]["duration_days"] or 0) for m in mutes) == sorted(
        [(api.users["author"]["id"], 3), (api.users["rep2"]["id"], 0)]
    )


def test_keywords_are_added_and_deleted(people, moderator):
    api = people
    added = moderator.post(
        "/console/moderation/keywords",
        {"word": "刷单", "category": "spam_ads", "action": "block"},
    )
    assert added.status_code == 303
    (row,) = api.get("/moderation/keywords", "mod").get_json()["items"]
    assert (row["word"], row["category"], row["action"]) == ("刷单", "spam_ads", "block")
    page = moderator.get("/console/moderation/keywords")
    assert f'data-keyword-id="{row["id"]}"' in page.text and "刷单" in page.text
    again = moderator.post(
        "/console/moderation/keywords", {"word": "刷单", "category": "spam_ads", "action": "review"}
    )
    assert again.status_code == 409 and "keyword_exists" in again.text
    invalid = moderator.post("/console/moderation/keywords", {"word": "x", "category": "nope"})
    assert invalid.status_code == 303 and invalid.headers["Location"].endswith("/keywords")
    assert "flash error" in moderator.get("/console/moderation/keywords").text
    deleted = moderator.post(f"/console/moderation/keywords/{row['id']}/delete")
    assert deleted.status_code == 303
    assert api.get("/moderation/keywords", "mod").get_json()["items"] == []
    gone = moderator.post(f"/console/moderation/keywords/{row['id']}/delete")
    assert gone.status_code == 404


def test_an_appeal_is_decided(people, moderator):
    api = people
    note = publish(api, "author", "被删的笔记")
    report(api, "rep1", note)
    case_id = case_of(api, note)["id"]
    decided = api.post(
        f"/moderation/cases/{case_id}/decision",
        "mod2",
        json={"content": "remove", "account": "mute", "note": "广告"},
    )
    actions = {a["kind"]: a["id"] for a in decided.get_json()["actions"]}
    appeal = api.post(
        "/appeals", "author", json={"action_id": actions["mute"], "statement": "我没有打广告"}
    ).get_json()
    # the moderator who acted sees the appeal but may not decide it
    other = switch_to(moderator, "mod2")
    own = other.get("/console/moderation/appeals")
    assert "我没有打广告" in own.text and 'name="outcome"' not in own.text
    refused = other.post(
        f"/console/moderation/appeals/{appeal['id']}/decision", {"outcome": "reverse"}
    )
    assert refused.status_code == 409 and "own_action" in refused.text
    # another moderator reverses it
    switch_to(moderator, "mod")
    listing = moderator.get("/console/moderation/appeals")
    assert f'data-appeal-id="{appeal["id"]}"' in listing.text and 'name="outcome"' in listing.text
    done = moderator.post(
        f"/console/moderation/appeals/{appeal['id']}/decision",
        {"outcome": "reverse", "note": "证据不足"},
    )
    assert done.status_code == 303
    reversed_ = api.get("/moderation/appeals", "mod", query_string={"status": "reversed"})
    (row,) = reversed_.get_json()["items"]
    assert row["id"] == appeal["id"] and row["decided_by"] == api.users["mod"]["id"]
    assert (
        api.post("/notes", "author", json={"title": "又能发了", "status": "published"}).status_code
        == 201
    )
    assert "证据不足" in moderator.get("/console/moderation/appeals?status=reversed").text
    log = moderator.get("/console/moderation/log").text
    assert '<tr data-action="appeal_reversed"' in log
    again = moderator.post(
        f"/console/moderation/appeals/{appeal['id']}/decision", {"outcome": "uphold"}
    )
    assert again.status_code == 409


def test_the_audit_log_is_paginated(people, moderator):
    from app.core.extensions import db
    from moderation.audit import audit

    for i in range(55):
        audit(people.users["mod"]["id"], "claim", "note", i + 1, f"entry {i}")
    db.session.commit()
    first = moderator.get("/console/moderation/log")
    assert first.text.count("<tr data-action=") == 50
    assert "entry 54" in first.text and "entry 4<" not in first.text
    more = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert more
    second = moderator.get(more.group(1).replace("&amp;", "&"))
    assert second.text.count("<tr data-action=") == 5 and "entry 0<" in second.text
    assert 'rel="next"' not in second.text
    assert moderator.get("/console/moderation/log?cursor=garbage").status_code == 400


def test_pages_have_no_inline_style_or_script(people, moderator):
    api = people
    note = publish(api, "author")
    report(api, "rep1", note)
    case_id = case_of(api, note)["id"]
    for path in (
        "/console/moderation",
        f"/console/moderation/cases/{case_id}",
        "/console/moderation/appeals",
        "/console/moderation/keywords",
        "/console/moderation/log",
    ):
        response = moderator.get(path)
        assert response.status_code == 200, path
        assert " style=" not in response.text and "<script>" not in response.text, path
        assert "moderation.css" in response.text
    assert moderator.get("/console/static/moderation.css").status_code == 200
    assert moderator.get("/console/moderation/cases/999999").status_code == 404
