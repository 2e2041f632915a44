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


def test_report_reasons_are_the_conventions_nine_categories(api):
    body = api.get("/report-reasons").get_json()
    codes = [category["code"] for category in body["categories"]]
    assert codes == [
        "illegal",
        "unfriendly",
        "spam_ads",
        "porn",
        "misinformation",
        "superstition",
        "clickbait",
        "fan_circle",
        "other",
    ]
    illegal = body["categories"][0]
    assert len(illegal["reasons"]) == 13 and illegal["severity"] == 5
    spam = {r["code"]: r for r in body["categories"][2]["reasons"]}
    assert spam["spam_ads.evasion"]["zh"].startswith("使用特殊符号")
    assert spam["spam_ads.coordinated"]["aggravating"] == ["multiple_accounts"]
    assert {a["code"] for a in body["aggravating"]} == {
        "harm_to_minors",
        "multiple_accounts",
        "cheating_registration",
    }
    assert body["penalty_ladder"] == ["mute_1d", "mute_7d", "mute_15d", "mute_permanent", "ban"]
    all_codes = [r["code"] for c in body["categories"] for r in c["reasons"]]
    assert len(all_codes) == len(set(all_codes)) == 55


def test_keyword_categories_come_from_the_taxonomy(api):
    api.register("mod")
    api.grant("mod", "moderator")
    ok = api.post("/moderation/keywords", "mod", json={"word": "算命", "category": "superstition"})
    assert ok.status_code == 201
    assert_error(
        api.post("/moderation/keywords", "mod", json={"word": "x1", "category": "nonsense"}), 400
    )
