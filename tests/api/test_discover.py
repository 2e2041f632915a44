"""The ranked feeds over HTTP: discover sessions, filters, diversity, hot lists, related."""

from __future__ import annotations

from tests.conftest import assert_error, insert_note


def _authors(api, count: int) -> list[dict]:
    return [api.register(f"creator{i}") for i in range(count)]


def _page(api, path: str, user: str | None = None) -> dict:
    response = api.get(path, user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_anonymous_discover_pages_never_repeat_and_carry_card_fields(api):
    authors = _authors(api, 6)
    for index in range(60):
        insert_note(
            authors[index % 6]["id"],
            f"笔记{index}",
            ago=index,
            channel_code=("food", "travel", "pets")[index % 3],
            like_count=index,
        )
    seen: list[int] = []
    cursor = None
    for _ in range(3):
        path = "/feeds/discover?limit=10" + (f"&cursor={cursor}" if cursor else "")
        page = _page(api, path)
        assert len(page["items"]) == 10
        for card in page["items"]:
            assert {"id", "title", "cover", "author", "like_count", "liked", "source"} <= set(card)
            assert card["source"] in {"hot", "explore", "pick", "interest", "cf", "boost", "extra"}
        seen += [card["id"] for card in page["items"]]
        cursor = page["next_cursor"]
        assert cursor
    assert len(seen) == len(set(seen)) == 30


def test_an_author_appears_at_most_twice_in_any_ten_cards_while_others_remain(api):
    authors = _authors(api, 8)
    # The two most popular authors wrote most of the notes; three others wrote 10 between them.
    for index in range(80):
        author = authors[0] if index % 2 else authors[1] if index % 3 else authors[index % 8]
        insert_note(author["id"], f"热门{index}", ago=index, like_count=200 - index)
    cards = []
    cursor = None
    for _ in range(3):
        page = _page(api, "/feeds/discover?limit=10" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) == 10  # the few authors left fill the page, never end it
        cards += [card["author"]["id"] for card in page["items"]]
        cursor = page["next_cursor"]
    first = cards[:10]  # enough other authors for the first ten: the rule holds there
    assert max(first.count(author) for author in set(first)) <= 2, first


def test_not_interested_in_an_author_filters_them_at_once(api):
    authors = _authors(api, 5)
    api.register("reader")
    note_ids = [
        insert_note(authors[i % 5]["id"], f"n{i}", ago=i, like_count=50 - i) for i in range(40)
    ]
    target = authors[0]["id"]
    target_note = next(n for i, n in enumerate(note_ids) if i % 5 == 0)
    ok = api.post(
        "/feeds/feedback",
        "reader",
        json={"note_id": target_note, "kind": "not_interested", "reason": "author"},
    )
    assert ok.status_code == 200
    for _ in range(3):
        page = _page(api, "/feeds/discover?limit=10", "reader")
        assert all(card["author"]["id"] != target for card in page["items"])
    assert_error(
        api.post(
            "/feeds/feedback",
            "reader",
            json={"note_id": target_note, "kind": "not_interested", "reason": "mood"},
        ),
        400,
    )
    assert_error(
        api.post("/feeds/feedback", "reader", json={"note_id": 999999, "kind": "not_interested"}),
        404,
    )
    assert_error(
        api.post("/feeds/feedback", json={"note_id": target_note, "kind": "not_interested"}), 401
    )


def test_explain_is_for_editors_only(api):
    author = api.register("writer")
    api.register("plain")
    api.register("editor1")
    api.grant("editor1", "editor")
    for index in range(12):
        insert_note(author["id"], f"e{index}", ago=index)
    assert_error(api.get("/feeds/discover?explain=1", "plain"), 403, "explain_forbidden")
    page = _page(api, "/feeds/discover?explain=1", "editor1")
    assert page["items"] and all("components" in card["explain"] for card in page["items"])
    assert "explain" not in _page(api, "/feeds/discover", "plain")["items"][0]


def test_channel_feed_only_holds_that_channel(api):
    author = api.register("chan")
    for index in range(20):
        insert_note(
            author["id"], f"c{index}", ago=index, channel_code="food" if index % 2 else "pets"
        )
    page = _page(api, "/feeds/discover?channel=food&limit=20")
    assert page["items"] and {card["channel"]["code"] for card in page["items"]} == {"food"}
    assert_error(api.get("/feeds/discover?channel=nope"), 404)
    assert_error(api.get("/feeds/discover?channel=Bad!"), 400)


def test_rebuild_makes_hot_lists_and_related_notes(api):
    api.register("boss")
    api.grant("boss", "admin")
    author = api.register("maker")
    fans = [api.register(f"fan{i}") for i in range(6)]
    first = insert_note(author["id"], "A", channel_code="food")
    second = insert_note(author["id"], "B", channel_code="food")
    third = insert_note(author["id"], "C", channel_code="pets")
    for fan in fans:  # everyone who likes A also likes B: they are co-engaged
        for note in (first, second):
            assert api.post(f"/notes/{note}/like", fan["username"]).status_code == 200
    api.post(f"/notes/{third}/like", fans[0]["username"])
    assert_error(api.post("/admin/ranking/rebuild", "fan0"), 403)
    rebuilt = api.post("/admin/ranking/rebuild", "boss")
    assert rebuilt.status_code == 200, rebuilt.get_json()
    hot = _page(api, "/feeds/hot?window=day")
    assert [card["id"] for card in hot["items"]][:2] in ([first, second], [second, first])
    assert hot["items"][0]["rank"] == 1
    assert [card["id"] for card in _page(api, "/feeds/hot?window=week&channel=pets")["items"]] == [
        third
    ]
    related = _page(api, f"/notes/{first}/related")
    assert related["items"][0]["id"] == second
    assert_error(api.get("/feeds/hot?window=month"), 400)
    assert_error(api.get("/notes/424242/related"), 404)


def test_what_a_user_opens_and_likes_steers_their_discover_feed(api):
    from sqlalchemy import select

    from app.core.extensions import db
    from app.feeds.models import NoteEvent

    authors = _authors(api, 10)
    api.register("catlover")
    api.grant("catlover", "editor")  # to read the score components
    pets, food = [], []
    for index in range(40):
        channel = "pets" if index % 2 else "food"
        note = insert_note(
            authors[index % 10]["id"],
            f"{channel}{index}",
            ago=index,
            channel_code=channel,
            like_count=5,
        )
        (pets if channel == "pets" else food).append(note)
    for note in pets[:6]:
        assert api.get(f"/notes/{note}", "catlover").status_code == 200
        assert api.post(f"/notes/{note}/like", "catlover").status_code == 200
    from app.notes.services.views import flush_views

    flush_views()  # opens are buffered; the periodic flush writes them
    opens = db.session.scalars(select(NoteEvent.note_id).where(NoteEvent.kind == "open")).all()
    assert sorted(opens) == sorted(pets[:6])
    cards = _page(api, "/feeds/discover?limit=10&explain=1", "catlover")["items"]
    channels = [card["channel"]["code"] for card in cards]
    interest = {card["id"]: card["explain"]["components"].get("interest", 0) for card in cards}
    assert all(interest[c["id"]] > 0 for c in cards if c["channel"]["code"] == "pets"), cards
    assert all(interest[c["id"]] == 0 for c in cards if c["channel"]["code"] == "food"), cards
    # Channels are mixed on purpose (no long runs), so the taste shows in the scores and in
    # what leads, not as a page of one channel.
    assert "pets" in channels
    assert not set(card["id"] for card in cards) & set(pets[:6])  # already engaged


def _pages(api, user, count, limit=10, before_page=None):
    """`count` pages of one discover session; `before_page(i)` runs before page i."""
    pages, cursor = [], None
    for index in range(count):
        if before_page is not None:
            before_page(index)
        path = f"/feeds/discover?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = _page(api, path, user)
        pages.append(page["items"])
        cursor = page["next_cursor"]
    return pages


def test_later_pages_of_a_session_come_from_its_ranked_buffer(api, monkeypatch):
    from app.feeds import ranker
    from app.feeds.caches import CatalogueCache

    authors = _authors(api, 8)
    api.register("scroller")
    for index in range(90):
        insert_note(
            authors[index % 8]["id"],
            f"卡片{index}",
            ago=index,
            like_count=90 - index,
            channel_code=("food", "travel", "pets")[index % 3],
        )
    runs = []
    real = ranker.run_pipeline
    monkeypatch.setattr(ranker, "run_pipeline", lambda *a, **k: runs.append(a[6]) or real(*a, **k))
    # Asking for the catalogue is what starts its rebuild in a process: buffered pages don't.
    asks = []
    real_get = CatalogueCache.get
    monkeypatch.setattr(CatalogueCache, "get", lambda *a: asks.append(len(runs)) or real_get(*a))
    pages = _pages(api, "scroller", 5)
    # one ranking run for the five pages (5 × 10 cards), none for pages 2–5
    assert runs == [50]
    assert asks and set(asks) == {0}, asks  # only while the first page ranked
    ids = [card["id"] for page in pages for card in page]
    assert len(ids) == len(set(ids)) == 50
    authors_in_order = [card["author"]["id"] for page in pages for card in page]
    for start in range(len(authors_in_order) - 9):
        window = authors_in_order[start : start + 10]
        assert max(window.count(a) for a in set(window)) <= 2, window
    # a sixth page finds the buffer spent and ranks again, still without repeats
    cursor_pages = _pages(api, "scroller", 1)
    assert len(cursor_pages[0]) == 10


def test_feedback_and_removals_reach_the_buffered_pages_at_once(api):
    from app.core.extensions import db, get_feed_store
    from app.notes.models import Note

    authors = _authors(api, 6)
    api.register("picky")
    for index in range(80):
        insert_note(authors[index % 6]["id"], f"笔记{index}", ago=index, like_count=80 - index)
    state = {}

    def between(index):
        if index == 1:  # after page 1: dislike an author, and a buffered note is deleted
            first = state["pages"][0][0]
            state["blocked"] = first["author"]["id"]
            response = api.post(
                "/feeds/feedback",
                "picky",
                json={"note_id": first["id"], "kind": "not_interested", "reason": "author"},
            )
            assert response.status_code == 200
        if index == 2:  # the next card waiting in this session's buffer is removed
            uid = api.users["picky"]["id"]
            buffered = get_feed_store().session_buffer(f"{uid}:queue:", str(uid))
            assert len(buffered) >= 10
            state["deleted"] = buffered[0].note_id
            note = db.session.get(Note, state["deleted"])
            note.status = "removed"
            db.session.commit()

    state["pages"] = []
    cursor = None
    for index in range(4):
        between(index)
        path = "/feeds/discover?limit=10" + (f"&cursor={cursor}" if cursor else "")
        page = _page(api, path, "picky")
        state["pages"].append(page["items"])
        cursor = state["cursor"] = page["next_cursor"]
    later = [card for page in state["pages"][1:] for card in page]
    assert later and all(card["author"]["id"] != state["blocked"] for card in later)
    assert all(card["id"] != state["deleted"] for page in state["pages"][2:] for card in page)
    assert all(len(page) == 10 for page in state["pages"])


def test_buffered_cards_carry_their_diversity_keys():
    """A page from a buffer needs no note features: the keys stored with the buffer come
    first, then the catalogue; only notes in neither are read (through the feature cache)."""
    from types import SimpleNamespace

    from app.feeds.ranker import features_for, keys_of
    from ranking.store import NoteKey
    from ranking.types import NoteFeatures

    catalogue = SimpleNamespace(notes={2: NoteFeatures(2, 20, "food", (7, 8))})
    asked = []

    def cache(ids):
        asked.append(set(ids))
        return {i: NoteFeatures(i, 30, "pets", ()) for i in ids}

    catalogues = []

    def get_catalogue():
        catalogues.append(1)
        return catalogue

    got = features_for({1, 2, 3}, {1: NoteKey(10, "travel", 5)}, get_catalogue, cache)
    assert asked == [{3}]
    assert catalogues == [1]
    assert keys_of(got) == {
        1: NoteKey(10, "travel", 5),
        2: NoteKey(20, "food", 7),
        3: NoteKey(30, "pets", None),
    }
    # keys for every card: neither the catalogue (its rebuild) nor the cache is asked
    assert set(features_for({1}, {1: NoteKey(10, "travel", 5)}, get_catalogue, cache)) == {1}
    assert catalogues == [1] and asked == [{3}]


def test_a_channel_fed_by_one_account_pages_through_its_notes(api):
    """The seed packs give each channel one official account: the author rule must fill the
    page from it, not end the channel's feed after two cards."""
    official, other = _authors(api, 2)
    food = [
        insert_note(official["id"], f"美食{i}", ago=i, channel_code="food", like_count=50 - i)
        for i in range(32)
    ]
    for i in range(10):
        insert_note(other["id"], f"旅行{i}", ago=i, channel_code="travel", like_count=40)
    seen, cursor = [], None
    for _ in range(10):
        page = _page(
            api, "/feeds/discover?channel=food&limit=10" + (f"&cursor={cursor}" if cursor else "")
        )
        seen += [card["id"] for card in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(food)
    assert len(set(seen)) >= 0.9 * len(food), len(set(seen))


def test_a_new_session_leaves_out_what_the_viewer_was_just_served(api):
    """Pull to refresh goes on with the viewer's buffer, whose seen set is new: cards they
    were served in the last session that a ranking left in the buffer (one that let served
    notes back in to fill a short run, in a small catalogue) are not served again, on the
    new session's first page or a later one, while unserved ones wait."""
    from app.core.extensions import get_feed_store
    from app.core.routing import Viewer
    from app.feeds.ranker import queue_key

    authors = _authors(api, 8)
    viewer = api.register("refresher")
    for index in range(120):
        insert_note(authors[index % 8]["id"], f"刷新{index}", ago=index, like_count=120 - index)
    first = [card["id"] for page in _pages(api, "refresher", 2) for card in page]
    store = get_feed_store()
    uid = viewer["id"]
    key = queue_key(Viewer(uid), None)
    waiting = store.session_buffer(key, str(uid))
    assert len(waiting) >= 30
    # a ranking put cards of the last session at the buffer's front and further down
    again = [s._replace(note_id=n) for s, n in zip(waiting, first[:4], strict=False)]
    buffer = [again[0], again[1], *waiting[:15], again[2], again[3], *waiting[15:]]
    store.set_session_buffer(key, str(uid), buffer, ttl_seconds=600)
    refreshed = [card["id"] for page in _pages(api, "refresher", 2) for card in page]
    assert len(refreshed) == 20
    assert not set(refreshed) & set(first), set(refreshed) & set(first)
