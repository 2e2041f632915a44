"""What a person sees of the discover waterfall over HTTP: it never runs dry while unseen
notes exist, a new user's chosen channels shape the first page, likes shape the next one,
and editors' picks take a bounded share of a signed-in viewer's page.

The community mirrors the seeded one: each channel is fed by one official account, so the
author rule (two per author in ten cards) would starve any page that follows one channel.
"""

from __future__ import annotations

import random

import pytest

from tests.conftest import insert_note

CHANNELS = ("food", "travel", "pets", "beauty", "tech")
PER_CHANNEL = 24


def seeded_like(api, picks: int = 12) -> dict[str, list[int]]:
    """One account per channel, engagement spread over the notes, an editor's home picks."""
    from app.feeds.state import feeds_state

    feeds_state().configure(rng_seed="feed-behaviour")
    rng = random.Random(17)
    by_channel: dict[str, list[int]] = {}
    for c, channel in enumerate(CHANNELS):
        account = api.register(f"official_{channel}")
        by_channel[channel] = [
            insert_note(
                account["id"],
                f"{channel}{i}",
                ago=c * 7 + i * 40,
                channel_code=channel,
                like_count=rng.randrange(0, 60),
                collect_count=rng.randrange(0, 20),
            )
            for i in range(PER_CHANNEL)
        ]
    api.register("editor1")
    api.grant("editor1", "editor")
    every = [n for ids in by_channel.values() for n in ids]
    for note_id in rng.sample(every, picks):
        made = api.post("/editor/picks", "editor1", json={"note_id": note_id, "slot": "home"})
        assert made.status_code == 201, made.get_json()
    return by_channel


def _page(api, user: str | None, limit: int = 20, cursor: str | None = None, **query) -> dict:
    params = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
    params += "".join(f"&{k}={v}" for k, v in query.items())
    response = api.get(f"/feeds/discover?{params}", user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _walk(api, user: str | None, max_pages: int = 40) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(max_pages):
        body = _page(api, user, cursor=cursor)
        seen += [card["id"] for card in body["items"]]
        cursor = body["next_cursor"]
        if not body["items"] or not cursor:
            break
    return seen


@pytest.mark.parametrize("viewer", [None, "reader"])
def test_the_waterfall_goes_on_over_the_whole_catalogue_without_repeats(api, app, viewer):
    """Candidates are kept for a few notes only here (the catalogue caches hold 10 hot and
    5 new); the feed still reaches every published note once, the most engaged first once
    the ranked ones are spent, and ends only when nothing unseen is left."""
    from app.feeds.state import feeds_state

    by_channel = seeded_like(api, picks=0)
    hidden = insert_note(api.register("quiet")["id"], "草稿", status="draft")
    app.config["SPROUT"] = app.config["SPROUT"].with_overrides(
        ranking_catalogue_hot=10, ranking_catalogue_new=5
    )
    with app.app_context():
        feeds_state().catalogue.invalidate()
    if viewer:
        api.register(viewer)
    seen = _walk(api, viewer)
    every = sorted(n for ids in by_channel.values() for n in ids)
    assert len(seen) == len(set(seen))
    assert sorted(seen) == every
    assert hidden not in seen


def test_fallback_cards_come_most_engaged_first(api, app):
    from app.core.extensions import db
    from app.feeds.ranking_data import fallback_notes

    author = api.register("writer")["id"]
    quiet = insert_note(author, "无人问津", ago=1)
    liked = insert_note(author, "很多赞", ago=300, like_count=5)
    commented = insert_note(author, "很多评论", ago=200, like_count=1, comment_count=2)  # 1 + 8
    newest_quiet = insert_note(author, "刚发的", ago=0)
    with app.app_context():
        order = [f.note_id for f in fallback_notes(10, frozenset())]
        assert order == [commented, liked, newest_quiet, quiet]
        assert [f.note_id for f in fallback_notes(2, frozenset({commented}))] == [
            liked,
            newest_quiet,
        ]
        db.session.rollback()


@pytest.mark.parametrize("channel", ["food", "pets", "tech"])
def test_a_new_users_chosen_channel_fills_half_the_first_page(api, channel):
    seeded_like(api)
    api.register("newcomer")
    chosen = api.put("/me/interests", "newcomer", json={"channels": [channel], "topics": []})
    assert chosen.status_code == 200, chosen.get_json()
    cards = _page(api, "newcomer")["items"]
    assert len(cards) == 20
    mine = [card for card in cards if card["channel"] and card["channel"]["code"] == channel]
    assert len(mine) >= 10, [card["channel"]["code"] for card in cards]
    # editors' picks are there, but a bounded share of a signed-in page: one in five
    picks = [i for i, card in enumerate(cards) if card["pick"]]
    assert 1 <= len(picks) <= 4, picks
    anonymous = _page(api, None)["items"]
    assert sum(1 for card in anonymous if card["pick"]) > len(picks)  # anonymous: picks lead


@pytest.mark.parametrize("channel", ["travel", "beauty"])
def test_four_likes_in_one_channel_shape_the_next_ten_cards(api, channel):
    by_channel = seeded_like(api)
    api.register("liker")
    first = _page(api, "liker")
    shown = {card["id"] for card in first["items"]}
    liked = [n for n in by_channel[channel] if n not in shown][:4]
    for note_id in liked:
        assert api.post(f"/notes/{note_id}/like", "liker").status_code == 200
    after = _page(api, "liker", limit=10, cursor=first["next_cursor"])["items"]
    in_channel = [c for c in after if c["channel"] and c["channel"]["code"] == channel]
    assert len(in_channel) >= 5, [c["channel"]["code"] for c in after]
    assert not shown & {card["id"] for card in after}  # still no repeats in the session


def test_a_positioned_pick_stays_pinned_while_the_others_are_bounded(api):
    by_channel = seeded_like(api, picks=8)
    pinned = by_channel["tech"][-1]  # the least engaged, oldest tech note
    made = api.post(
        "/editor/picks", "editor1", json={"note_id": pinned, "slot": "home", "position": 2}
    )
    assert made.status_code == 201, made.get_json()
    api.register("reader")
    api.put("/me/interests", "reader", json={"channels": ["food"], "topics": []})
    cards = _page(api, "reader")["items"]
    assert cards[1]["id"] == pinned and cards[1]["pick"]  # API positions count from 1
    free = [i for i, card in enumerate(cards) if card["pick"] and card["id"] != pinned]
    assert len(free) <= 4
    for start in range(len(cards) - 4):  # at most one unpositioned pick in any five cards
        assert len([i for i in free if start <= i < start + 5]) <= 1, free
