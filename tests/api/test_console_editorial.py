"""The console's editorial section: picks on a timeline, boosts, the previews, campaigns,
search-term rules and the editorial log, each through the services the JSON API uses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.api.console_client import Console
from tests.conftest import insert_note

PAGES = (
    "/console/editorial",
    "/console/editorial/timeline.svg",
    "/console/editorial/boosts",
    "/console/editorial/preview",
    "/console/editorial/campaigns",
    "/console/editorial/search-terms",
    "/console/editorial/log",
)


@pytest.fixture
def console(client) -> Console:
    return Console(client)


def community(api, notes: int = 30) -> list[int]:
    """Six creators' notes over three channels, newest and most liked first; an editor."""
    authors = [api.register(f"creator{i}") for i in range(6)]
    ids = [
        insert_note(
            authors[i % 6]["id"],
            f"笔记{i}",
            ago=i * 30,
            channel_code=("food", "travel", "pets")[(i // 6) % 3],
            like_count=100 - i,
        )
        for i in range(notes)
    ]
    api.register("eddie")
    api.grant("eddie", "editor")
    return ids


def editor(api, console: Console, notes: int = 30) -> list[int]:
    ids = community(api, notes)
    assert console.sign_in("eddie").status_code == 303
    return ids


def pick_rows(html: str) -> list[tuple[int, int]]:
    return [
        (int(pick), int(note))
        for pick, note in re.findall(r'<tr data-pick-id="(\d+)" data-note-id="(\d+)"', html)
    ]


def local(moment: datetime) -> str:
    """A datetime-local value in the console's zone (Asia/Shanghai by default)."""
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def test_plain_users_and_moderators_get_403_and_change_nothing(api, console):
    ids = community(api, 3)
    api.register("plain")
    api.register("mod")
    api.grant("mod", "moderator")
    for username in ("plain", "mod"):
        assert console.sign_in(username).status_code == 303
        for path in PAGES:
            response = console.get(path)
            assert response.status_code == 403, (username, path)
            assert "data-pick-id" not in response.text
        posted = console.post("/console/editorial/picks", {"note_id": ids[0], "slot": "home"})
        assert posted.status_code == 403
        posted = console.post("/console/editorial/search-terms", {"term": "x", "action": "pin"})
        assert posted.status_code == 403
    assert api.get("/editor/picks", "eddie").get_json()["items"] == []
    assert api.get("/editor/log", "eddie").get_json()["items"] == []
    assert api.get("/editor/search/terms", "eddie").get_json()["items"] == []


def test_a_pick_pinned_at_position_one_leads_discover_shows_on_the_timeline_and_goes(api, console):
    ids = editor(api, console)
    quiet = ids[-1]  # the oldest, least liked note
    page = console.get("/console/editorial")
    assert page.status_code == 200
    assert '<form id="pick-form"' in page.text and " style=" not in page.text
    made = console.post(
        "/console/editorial/picks",
        {"note_id": quiet, "slot": "home", "position": "1", "starts_at": "", "ends_at": ""},
    )
    assert made.status_code == 303 and made.headers["Location"] == "/console/editorial"

    first = api.get("/feeds/discover?limit=10").get_json()["items"][0]
    assert first["id"] == quiet and first["pick"] is True

    page = console.get("/console/editorial").text
    rows = pick_rows(page)
    assert [note for _pick, note in rows] == [quiet]
    pick_id = rows[0][0]
    assert f'<g data-pick-id="{pick_id}" data-note-id="{quiet}">' in page  # its timeline bar
    assert "<svg" in page and "笔记29" in page
    image = console.get("/console/editorial/timeline.svg?slot=home")
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert f'data-pick-id="{pick_id}"' in image.text and "<rect" in image.text
    assert " style=" not in image.text

    removed = console.post(f"/console/editorial/picks/{pick_id}/delete")
    assert removed.status_code == 303
    assert pick_rows(console.get("/console/editorial").text) == []
    cards = api.get("/feeds/discover?limit=10").get_json()["items"]
    assert not any(card["pick"] for card in cards)
    log = api.get("/editor/log", "eddie").get_json()["items"]
    assert [(e["action"], e["actor_id"]) for e in log] == [
        ("pick_delete", api.users["eddie"]["id"]),
        ("pick_create", api.users["eddie"]["id"]),
    ]


def test_many_picks_share_compact_bars_per_slot_on_the_timeline(api, console):
    ids = editor(api, console, 16)
    made = [
        api.post("/editor/picks", "eddie", json={"note_id": note_id, "slot": "home"}).get_json()
        for note_id in ids[:14]
    ]
    api.post("/editor/picks", "eddie", json={"note_id": ids[15], "slot": "channel:pets"})
    page = console.get("/console/editorial").text
    grouped = re.search(r'data-pick-ids="([\d ]+)"', page)
    assert grouped and sorted(map(int, grouped.group(1).split())) == sorted(p["id"] for p in made)
    assert "首页 (14)" in page and "宠物 (1)" in page  # one lane per slot, by name
    assert 'href="/console/editorial?slot=channel:pets"' in page
    home = console.get("/console/editorial?slot=home").text  # one slot: a row per pick
    assert home.count('<g data-pick-id="') == 14 and "data-pick-ids" not in home


def test_form_times_are_read_in_the_console_timezone(api, console):
    ids = editor(api, console, 3)
    starts = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    ends = starts + timedelta(days=2)
    made = console.post(
        "/console/editorial/picks",
        {
            "note_id": ids[0],
            "slot": "channel:food",
            "starts_at": local(starts),
            "ends_at": local(ends),
        },
    )
    assert made.status_code == 303
    listed = api.get("/editor/picks", "eddie").get_json()["items"]
    assert [(p["slot"], p["active"], p["position"]) for p in listed] == [
        ("channel:food", False, None)
    ]
    assert datetime.fromisoformat(listed[0]["starts_at"]) == starts
    assert datetime.fromisoformat(listed[0]["ends_at"]) == ends
    page = console.get("/console/editorial?slot=channel:food").text
    assert pick_rows(page) == [(listed[0]["id"], ids[0])]
    assert "已排期" in page  # scheduled, in Chinese by default


def test_bad_picks_come_back_with_the_form_as_typed(api, console):
    ids = editor(api, console, 3)
    draft = insert_note(api.users["creator0"]["id"], "草稿", status="draft")
    bad_slot = console.post("/console/editorial/picks", {"note_id": ids[0], "slot": "sidebar"})
    assert bad_slot.status_code == 400
    assert 'value="sidebar"' in bad_slot.text and 'aria-invalid="true"' in bad_slot.text
    not_a_number = console.post("/console/editorial/picks", {"note_id": "abc", "slot": "home"})
    assert not_a_number.status_code == 400 and "请输入整数" in not_a_number.text
    backwards = console.post(
        "/console/editorial/picks",
        {
            "note_id": ids[0],
            "slot": "home",
            "starts_at": "2031-01-02T10:00",
            "ends_at": "2031-01-01T10:00",
        },
    )
    assert backwards.status_code == 400
    unpublished = console.post("/console/editorial/picks", {"note_id": draft, "slot": "home"})
    assert unpublished.status_code == 422 and "Only notes everyone can see" in unpublished.text
    assert f'value="{draft}"' in unpublished.text
    missing = console.post("/console/editorial/picks", {"note_id": "999999", "slot": "home"})
    assert missing.status_code == 404
    assert api.get("/editor/picks", "eddie").get_json()["items"] == []


def test_boosts_are_created_listed_and_removed(api, console):
    ids = editor(api, console, 6)
    until = local(datetime.now(UTC) + timedelta(days=3))
    made = console.post(
        "/console/editorial/boosts", {"note_id": ids[2], "weight": "2.5", "ends_at": until}
    )
    assert made.status_code == 303 and made.headers["Location"] == "/console/editorial/boosts"
    creator = api.users["creator1"]["id"]
    console.post("/console/editorial/boosts", {"user_id": creator, "weight": "1", "ends_at": until})
    both = console.post(
        "/console/editorial/boosts",
        {"note_id": ids[0], "user_id": creator, "weight": "1", "ends_at": until},
    )
    assert both.status_code == 400  # the API's rule: one of the two
    listed = api.get("/editor/boosts", "eddie").get_json()["items"]
    assert [(b["note_id"], b["user_id"], b["weight"]) for b in listed] == [
        (None, creator, 1.0),
        (ids[2], None, 2.5),
    ]
    page = console.get("/console/editorial/boosts").text
    assert f'data-boost-id="{listed[1]["id"]}"' in page and "笔记2" in page
    removed = console.post(f"/console/editorial/boosts/{listed[1]['id']}/delete")
    assert removed.status_code == 303
    assert [b["id"] for b in api.get("/editor/boosts", "eddie").get_json()["items"]] == [
        listed[0]["id"]
    ]
    actions = [e["action"] for e in api.get("/editor/log", "eddie").get_json()["items"]]
    assert actions == ["boost_delete", "boost_create", "boost_create"]


def test_previews_show_the_daily_picks_and_a_new_users_first_page(api, app, console):
    from sqlalchemy import func, select

    from app.accounts.models import User
    from app.core.extensions import db

    ids = editor(api, console, 60)
    quiet = ids[-1]
    api.post("/editor/picks", "eddie", json={"note_id": quiet, "slot": "home", "position": 1})
    users = db.session.scalar(select(func.count()).select_from(User))

    page = console.get("/console/editorial/preview")
    assert page.status_code == 200
    daily, first = page.text.split('id="first-heading"')
    assert re.findall(r'class="note-card" data-note-id="(\d+)"', daily) == [str(quiet)]
    assert [c["id"] for c in api.get("/picks/daily").get_json()["items"]] == [quiet]
    cards = re.findall(r'class="note-card" data-note-id="(\d+)"', first)
    assert len(cards) == 20 and len(set(cards)) == 20
    assert cards[0] == str(quiet)  # the positioned pick leads a new user's page too

    pets = console.get("/console/editorial/preview?channel=pets")
    assert pets.status_code == 200
    first = pets.text.split('id="first-heading"')[1]
    assert 'value="pets" checked' in first
    shown = [int(i) for i in re.findall(r'class="note-card" data-note-id="(\d+)"', first)]
    assert len(shown) == 20
    pets_notes = {i for n, i in enumerate(ids) if (n // 6) % 3 == 2}
    anonymous = [c["id"] for c in api.get("/feeds/discover?limit=20").get_json()["items"]]
    assert len(pets_notes & set(shown[:10])) > len(pets_notes & set(anonymous[:10]))
    # nothing was written for the stand-in viewer
    assert db.session.scalar(select(func.count()).select_from(User)) == users


def test_campaigns_are_listed_and_created(api, console):
    editor(api, console, 1)
    topic = api.post("/topics", "eddie", json={"name": "早餐打卡", "channel": "food"}).get_json()
    starts = datetime.now(UTC) + timedelta(hours=1)
    made = console.post(
        "/console/editorial/campaigns",
        {
            "topic_id": topic["id"],
            "title": "早餐七天",
            "description": "每天一顿好早餐",
            "starts_at": local(starts),
            "ends_at": local(starts + timedelta(days=10)),
            "required_days": "7",
            "reward_points": "200",
        },
    )
    assert made.status_code == 303
    listed = api.get("/campaigns").get_json()["items"]
    assert [(c["title"], c["topic_id"], c["required_days"], c["state"]) for c in listed] == [
        ("早餐七天", topic["id"], 7, "upcoming")
    ]
    page = console.get("/console/editorial/campaigns").text
    assert f'data-campaign-id="{listed[0]["id"]}"' in page and "早餐打卡" in page
    too_long = console.post(
        "/console/editorial/campaigns",
        {
            "topic_id": topic["id"],
            "title": "太长",
            "starts_at": local(starts),
            "ends_at": local(starts + timedelta(days=2)),
            "required_days": "30",
            "reward_points": "10",
        },
    )
    assert too_long.status_code == 422 and 'value="太长"' in too_long.text
    assert len(api.get("/campaigns").get_json()["items"]) == 1


def test_search_terms_are_pinned_suppressed_and_released(api, console):
    editor(api, console, 1)
    pinned = console.post(
        "/console/editorial/search-terms", {"term": "露营", "action": "pin", "position": "1"}
    )
    assert pinned.status_code == 303
    console.post("/console/editorial/search-terms", {"term": "广告", "action": "suppress"})
    rules = api.get("/editor/search/terms", "eddie").get_json()["items"]
    assert sorted((r["term"], r["action"], r["position"]) for r in rules) == [
        ("广告", "suppress", None),
        ("露营", "pin", 1),
    ]
    assert api.get("/search/trending").get_json()["items"][0]["term"] == "露营"
    page = console.get("/console/editorial/search-terms").text
    assert 'data-term="露营" data-action="pin"' in page
    assert 'data-term="广告" data-action="suppress"' in page
    for term in ("露营", "广告"):
        assert (
            console.post("/console/editorial/search-terms/delete", {"term": term}).status_code
            == 303
        )
    assert api.get("/editor/search/terms", "eddie").get_json()["items"] == []
    assert api.get("/search/trending").get_json()["items"] == []
    assert (
        console.post("/console/editorial/search-terms/delete", {"term": "露营"}).status_code == 404
    )


def test_the_editorial_log_shows_every_entry_page_by_page(api, console):
    ids = editor(api, console, 3)
    for note_id in ids:
        api.post("/editor/picks", "eddie", json={"note_id": note_id, "slot": "home"})
    page = console.get("/console/editorial/log")
    assert page.status_code == 200
    assert page.text.count('data-action="pick_create"') == 3 and "添加精选" in page.text
    assert 'rel="next"' not in page.text

    from app.core.extensions import db
    from app.editorial.services import log_action

    for n in range(40):
        log_action(None, "pick_create", "pick", 1000 + n, {"note_id": ids[0], "slot": "home"})
    db.session.commit()
    first = console.get("/console/editorial/log").text
    shown = re.findall(r'data-log-id="(\d+)"', first)
    more = re.search(r'href="([^"]+)" rel="next"', first)
    assert len(shown) == 30 and more
    second = console.get(more.group(1).replace("&amp;", "&")).text
    rest = re.findall(r'data-log-id="(\d+)"', second)
    assert len(rest) == 13 and not set(rest) & set(shown)


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(api, console):
    ids = editor(api, console, 3)
    until = local(datetime.now(UTC) + timedelta(days=1))
    attempts = [
        ("/console/editorial/picks", {"note_id": ids[0], "slot": "home", "position": "1"}),
        ("/console/editorial/boosts", {"note_id": ids[0], "weight": "1", "ends_at": until}),
        ("/console/editorial/search-terms", {"term": "露营", "action": "pin"}),
    ]
    for path, data in attempts:
        refused = console.post(path, {**data, "csrf_token": None})
        assert refused.status_code == 400, path
        forged = console.post(path, {**data, "csrf_token": "forged"})
        assert forged.status_code == 400, path
    api.post("/editor/picks", "eddie", json={"note_id": ids[1], "slot": "home"})
    pick_id = api.get("/editor/picks", "eddie").get_json()["items"][0]["id"]
    assert (
        console.post(f"/console/editorial/picks/{pick_id}/delete", {"csrf_token": None}).status_code
        == 400
    )
    assert [p["id"] for p in api.get("/editor/picks", "eddie").get_json()["items"]] == [pick_id]
    assert api.get("/editor/boosts", "eddie").get_json()["items"] == []
    assert api.get("/editor/search/terms", "eddie").get_json()["items"] == []
    assert [e["action"] for e in api.get("/editor/log", "eddie").get_json()["items"]] == [
        "pick_create"
    ]
