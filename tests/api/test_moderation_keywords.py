"""The moderator-managed keyword list through the API, and the filter built from it."""

from __future__ import annotations

from tests.conftest import assert_error


def test_only_moderators_manage_keywords(api):
    api.register("alice")
    api.register("mod")
    api.grant("mod", "moderator")
    assert_error(api.get("/moderation/keywords"), 401)
    assert_error(api.get("/moderation/keywords", "alice"), 403)
    assert_error(api.post("/moderation/keywords", "alice", json={"word": "刷单"}), 403)
    created = api.post(
        "/moderation/keywords",
        "mod",
        json={"word": "刷 單", "action": "block", "category": "spam_ads"},
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["word"] == "刷 單" and body["normalized"] == "刷单" and body["action"] == "block"
    assert_error(api.post("/moderation/keywords", "mod", json={"word": "刷单"}), 409)
    assert_error(api.post("/moderation/keywords", "mod", json={"word": "!!!"}), 400)
    assert_error(api.post("/moderation/keywords", "mod", json={"word": "x", "action": "ban"}), 400)
    assert_error(api.post("/moderation/keywords", "mod", json={"word": "x" * 41}), 400)
    items = api.get("/moderation/keywords", "mod").get_json()["items"]
    assert [item["normalized"] for item in items] == ["刷单"]
    assert_error(api.delete(f"/moderation/keywords/{body['id']}", "alice"), 403)
    assert api.delete(f"/moderation/keywords/{body['id']}", "mod").status_code == 204
    assert_error(api.delete(f"/moderation/keywords/{body['id']}", "mod"), 404)


def test_the_filter_follows_the_list(api):
    from moderation.keywords import text_filter

    api.register("mod")
    api.grant("mod", "moderator")
    assert text_filter().verdict("刷单返利") is None
    api.post("/moderation/keywords", "mod", json={"word": "刷单", "action": "block"})
    api.post("/moderation/keywords", "mod", json={"word": "单词", "action": "allow"})
    assert text_filter().verdict("刷.单.返.利") == "block"
    assert text_filter().verdict("刷单词卡") is None
    assert text_filter().verdict("加我 vx: sprout_2024") == "review"  # contact details
