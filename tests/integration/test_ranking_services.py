"""Ranked feeds in services mode: impressions buffered in Redis, periodic jobs on RQ."""

from __future__ import annotations

from rq import SimpleWorker
from sqlalchemy import func, select

from app.core.jobs import QUEUES
from app.schedule import tick
from tests.conftest import Api, insert_note


def test_impressions_flow_through_redis_and_the_scheduled_worker(services_app):
    from app.core.extensions import db
    from app.feeds.models import NoteEvent
    from app.notes.models import Note

    api = Api(services_app.test_client())
    authors = [api.register(f"pool_author{i}") for i in range(6)]
    api.register("viewer_q")
    for index in range(30):
        insert_note(authors[index % 6]["id"], f"新笔记{index}", ago=index)
    page = api.get("/feeds/discover?limit=10", "viewer_q").get_json()
    served = [card["id"] for card in page["items"]]
    assert len(served) == 10
    assert db.session.scalar(select(func.count()).select_from(NoteEvent)) == 0  # buffered

    connection = services_app.extensions["sprout.redis"]
    assert set(tick(connection)) == {
        "relay_outbox",
        "refresh_cards",
        "flush_impressions",
        "flush_views",
        "flush_search_queries",
        "detect_engagement",
        "rebuild_hot",
        "rank_cold_feeds",
        "warm_cards",
        "rebuild_itemcf",
        "rebuild_blend",
        "recompute_lifecycle",
        "start_due_recall_campaigns",
        "purge_signals",
    }
    assert tick(connection) == []  # once per interval, however many workers tick
    SimpleWorker(list(QUEUES), connection=connection).work(burst=True)

    db.session.expire_all()
    events = db.session.scalars(select(NoteEvent.note_id).where(NoteEvent.kind == "impression"))
    assert sorted(events) == sorted(served)
    counts = dict(db.session.execute(select(Note.id, Note.impression_count)).all())
    assert all(counts[note_id] == 1 for note_id in served)
    # The next page of the same session never repeats a card.
    again = api.get(f"/feeds/discover?limit=10&cursor={page['next_cursor']}", "viewer_q")
    assert not set(card["id"] for card in again.get_json()["items"]) & set(served)


def test_a_failed_impression_flush_keeps_its_batch_in_redis(services_app, monkeypatch):
    from tests.api.test_impressions import check_failed_flush_keeps_its_batch

    check_failed_flush_keeps_its_batch(Api(services_app.test_client()), monkeypatch)


def test_an_unknown_commit_or_a_stopped_flush_counts_once_in_redis(services_app, monkeypatch):
    from tests.api.test_impressions import check_unknown_commit_and_crash_count_once

    check_unknown_commit_and_crash_count_once(Api(services_app.test_client()), monkeypatch)


def test_a_worker_ranks_the_next_pages_ahead(services_app, monkeypatch):
    """When a session's buffer runs out, a worker ranks the viewer's next pages; the next
    session starts from them without running the pipeline, and feedback discards them."""
    from app.feeds import ahead, ranker

    api = Api(services_app.test_client())
    authors = [api.register(f"ahead_author{i}") for i in range(8)]
    api.register("ahead_viewer")
    for index in range(160):
        insert_note(authors[index % 8]["id"], f"提前{index}", ago=index, like_count=160 - index)
    runs = []
    real = ranker.run_pipeline
    monkeypatch.setattr(ranker, "run_pipeline", lambda *a, **k: runs.append(a) or real(*a, **k))
    connection = services_app.extensions["sprout.redis"]

    def scroll(pages):
        cursor, ids = None, []
        for _ in range(pages):
            path = "/feeds/discover?limit=10" + (f"&cursor={cursor}" if cursor else "")
            page = api.get(path, "ahead_viewer").get_json()
            ids += [card["id"] for card in page["items"]]
            cursor = page["next_cursor"]
        return ids

    first = scroll(5)  # page 1 ranks 5 pages; page 4 leaves less than 2 and asks for more
    assert len(runs) == 1 and len(first) == len(set(first)) == 50
    assert ahead.pending(connection) == 1
    assert ahead.serve(services_app, connection, burst=True) == 1
    assert len(runs) == 2  # the worker's run
    second = scroll(3)  # a new session: served from the pages ranked ahead
    assert len(runs) == 2
    assert len(second) == 30 and not set(second) & set(first)
    assert ahead.pending(connection) == 0
    # the worker ranked 5 default pages (100 cards): 70 are left for this viewer, whatever
    # the session; when fewer than 2 pages are left, another ranking is asked for
    third = scroll(6)
    assert len(runs) == 2 and not set(third) & (set(first) | set(second))
    assert ahead.pending(connection) == 1
    assert ahead.serve(services_app, connection, burst=True) == 1
    assert len(runs) == 3
    note_id = second[0]
    assert (
        api.post(
            "/feeds/feedback",
            "ahead_viewer",
            json={"note_id": note_id, "kind": "not_interested", "reason": "author"},
        ).status_code
        == 200
    )
    blocked = api.get(f"/notes/{note_id}").get_json()["author"]["id"]
    third = api.get("/feeds/discover?limit=10", "ahead_viewer").get_json()["items"]
    assert len(runs) == 4  # what was ranked ahead is dropped: ranked anew
    assert third and all(card["author"]["id"] != blocked for card in third)


def test_cards_are_shared_through_redis(services_app):
    """A card rendered by one process (or by the worker) is read from Redis by the others,
    with their own host in the URLs; an edit is never served stale; counters follow within
    the refresh job's interval."""
    from sqlalchemy import event

    from app.core.extensions import db
    from app.feeds import card_store
    from app.feeds.cards import render_entries
    from app.feeds.jobs import refresh_cards
    from tests.api.test_notes import image_note

    api = Api(services_app.test_client())
    api.register("sharer")
    api.register("liker")
    notes = [image_note(api, "sharer", title=f"共享{i}") for i in range(3)]
    ids = ",".join(str(n["id"]) for n in notes)
    content_queries = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().startswith("SELECT notes.id, notes.title"):
            content_queries.append(statement)

    def cards(host="localhost"):
        services_app.extensions.pop("sprout.card_store", None)  # another process's client
        response = services_app.test_client().get(
            f"/api/v1/notes?ids={ids}", base_url=f"http://{host}"
        )
        return response.get_json()["items"]

    try:
        # New notes' entries are marked stale at their commit: the worker stores them.
        assert len(card_store.entries([n["id"] for n in notes], render_entries)) == 3
        assert refresh_cards()["rendered"] == 3
        assert len(content_queries) == 2
        content_queries.clear()
        assert len(card_store.entries([n["id"] for n in notes], render_entries)) == 3
        assert len(content_queries) == 0
        content_queries.append("rendered once")
        first = cards()
        assert len(content_queries) == 1  # served from Redis
        other_host = cards("cdn.example")
        assert other_host[0]["cover"]["url"].startswith("http://cdn.example/")
        assert first[0]["cover"]["url"].startswith("http://localhost/")
        assert [c["title"] for c in first] == ["共享0", "共享1", "共享2"]

        assert (
            api.patch(f"/notes/{notes[0]['id']}", "sharer", json={"title": "改过了"}).status_code
            == 200
        )
        edited = cards()  # marked stale at the commit: read from the database at once
        assert edited[0]["title"] == "改过了" and len(content_queries) == 2
        refresh_cards()  # the worker stores it anew
        assert cards()[0]["title"] == "改过了" and len(content_queries) == 3
        assert cards()[0]["title"] == "改过了" and len(content_queries) == 3

        assert api.post(f"/notes/{notes[1]['id']}/like", "liker").status_code in (200, 201)
        assert cards()[1]["like_count"] == 0  # queued: shown by the next refresh
        assert refresh_cards()["rendered"] == 1
        after = cards("localhost")
        assert after[1]["like_count"] == 1
        liked = api.get(f"/notes?ids={ids}", "liker").get_json()["items"]
        assert [c["liked"] for c in liked] == [False, True, False]  # the viewer's own, exact
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_pages_ranked_ahead_mid_session_never_repeat_a_card(services_app):
    """The worker may rank a viewer's next pages while cards ranked earlier still wait in
    their queue: those, and whatever is served before the new pages are taken over, are never
    served twice, in the same session or the next."""
    from app.feeds import ahead

    api = Api(services_app.test_client())
    authors = [api.register(f"mid_author{i}") for i in range(8)]
    api.register("mid_viewer")
    for index in range(300):
        insert_note(authors[index % 8]["id"], f"中途{index}", ago=index, like_count=300 - index)
    connection = services_app.extensions["sprout.redis"]
    served, cursor = [], None
    for page in range(14):  # three sessions: 5, 5 and 4 pages
        if page in (5, 10):
            cursor = None
        path = "/feeds/discover?limit=10" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(path, "mid_viewer").get_json()
        served += [card["id"] for card in body["items"]]
        cursor = body["next_cursor"]
        if page in (2, 8):  # the worker ranks while cards still wait in the queue
            ahead.serve(services_app, connection, burst=True)
    assert len(served) == 140
    assert len(set(served)) == len(served)


def test_first_pages_come_from_the_cold_list_while_a_worker_ranks(services_app, monkeypatch):
    """A viewer with nothing ranked yet (a first page, a new anonymous session) is served the
    pages ranked for no one in particular, without the pipeline running in the request; a
    signed-in viewer's own pages, ranked by the worker, take over from the next page, and
    nothing is served twice."""
    from app.feeds import ahead, ranker
    from app.feeds.jobs import rank_cold_feeds

    api = Api(services_app.test_client())
    authors = [api.register(f"cold_author{i}") for i in range(8)]
    api.register("cold_viewer")
    for index in range(200):
        insert_note(authors[index % 8]["id"], f"冷启动{index}", ago=index, like_count=200 - index)
    kept = rank_cold_feeds()
    assert kept[""] > 40  # discover, and each channel
    runs = []
    real = ranker.run_pipeline
    monkeypatch.setattr(ranker, "run_pipeline", lambda *a, **k: runs.append(a) or real(*a, **k))
    connection = services_app.extensions["sprout.redis"]

    first = api.get("/feeds/discover?limit=10", "cold_viewer").get_json()
    assert len(first["items"]) == 10 and runs == []  # served from the cold list
    assert ahead.pending(connection) == 1  # their own pages asked of a worker
    assert ahead.serve(services_app, connection, burst=True) == 1
    SimpleWorker(list(QUEUES), connection=connection).work(burst=True)
    assert len(runs) == 1  # the worker's run
    served = [card["id"] for card in first["items"]]
    cursor = first["next_cursor"]
    for _ in range(3):
        body = api.get(f"/feeds/discover?limit=10&cursor={cursor}", "cold_viewer").get_json()
        served += [card["id"] for card in body["items"]]
        cursor = body["next_cursor"]
    assert len(runs) == 1  # the pages ranked ahead for them
    assert len(served) == len(set(served)) == 40

    anonymous, cursor = [], None
    for _ in range(3):  # a new anonymous session goes on through the cold list
        body = api.get(
            "/feeds/discover?limit=10" + (f"&cursor={cursor}" if cursor else "")
        ).get_json()
        anonymous += [card["id"] for card in body["items"]]
        cursor = body["next_cursor"]
    assert len(runs) == 1 and len(anonymous) == len(set(anonymous)) == 30


def test_cold_pages_leave_out_what_the_viewer_is_not_interested_in(services_app, monkeypatch):
    """The cold list is ranked for no one: a signed-in viewer's "not interested" (author or
    note) still holds on the pages served from it, before any worker has ranked theirs."""
    from app.feeds import ranker
    from app.feeds.jobs import rank_cold_feeds

    api = Api(services_app.test_client())
    authors = [api.register(f"nope_author{i}") for i in range(6)]
    api.register("nope_viewer")
    for index in range(120):
        insert_note(authors[index % 6]["id"], f"不感兴趣{index}", ago=index, like_count=120 - index)
    rank_cold_feeds()
    runs = []
    real = ranker.run_pipeline
    monkeypatch.setattr(ranker, "run_pipeline", lambda *a, **k: runs.append(a) or real(*a, **k))

    first = api.get("/feeds/discover?limit=10", "nope_viewer").get_json()["items"]
    assert len(first) == 10 and runs == []  # from the cold list
    blocked_author = first[0]["author"]["id"]
    hidden_note = first[1]["id"]
    for body in (
        {"note_id": first[0]["id"], "kind": "not_interested", "reason": "author"},
        {"note_id": hidden_note, "kind": "not_interested", "reason": "note"},
    ):
        assert api.post("/feeds/feedback", "nope_viewer", json=body).status_code == 200
    for _ in range(3):  # new sessions, no worker has run: every page from the cold list
        page = api.get("/feeds/discover?limit=10", "nope_viewer").get_json()["items"]
        assert len(page) == 10 and runs == []
        assert all(card["author"]["id"] != blocked_author for card in page)
        assert hidden_note not in [card["id"] for card in page]


def test_warming_through_redis_reads_only_the_cards_not_held(services_app):
    """On Redis, `held` answers without sending the cards back; `warm` (the ranking-ahead
    job's last step) renders only what is absent, and a stale mark stays for its reader."""
    from app.feeds import card_store
    from app.feeds.cards import render_entries
    from tests.api.test_notes import image_note

    api = Api(services_app.test_client())
    api.register("warmer")
    notes = [image_note(api, "warmer", title=f"暖{i}")["id"] for i in range(2)]
    keys = [f"{card_store.KEY_PREFIX}{n}" for n in notes]
    store = card_store.backend()
    assert store.held(keys) == [True, True]  # new notes: marked stale at their commit
    assert card_store.warm(notes, render_entries)["rendered"] == 0
    services_app.extensions["sprout.redis"].delete(keys[0])
    assert store.held(keys) == [False, True]
    assert card_store.warm(notes, render_entries) == {"notes": 2, "rendered": 1}
    assert store.held(keys) == [True, True]
    assert card_store.split(store.get_many(keys[:1])[0] or b"")[0] == api.users["warmer"]["id"]


def test_the_card_sweep_goes_round_every_note_on_redis(services_app, monkeypatch):
    from tests.api.test_card_sweep import check_sweep_goes_round_every_published_note

    check_sweep_goes_round_every_published_note(Api(services_app.test_client()), monkeypatch)


def test_cards_warm_stores_every_card_in_redis(services_app):
    from tests.api.test_card_sweep import check_cards_warm_stores_every_card

    check_cards_warm_stores_every_card(Api(services_app.test_client()), services_app)


def test_a_card_change_redis_missed_is_applied_when_it_is_back(services_app, monkeypatch):
    from tests.api.test_card_sweep import check_a_change_the_store_missed_is_applied_later

    check_a_change_the_store_missed_is_applied_later(Api(services_app.test_client()), monkeypatch)


def test_the_ranking_lane_skips_stale_and_unreadable_requests_and_survives_a_failure(
    services_app, monkeypatch, caplog
):
    """A request older than its claim is not ranked (the viewer's pages asked again since);
    an unreadable one and a ranking that fails are logged and dropped, and the lane goes on
    with the next; a request a stopped worker left under way is forgotten once its claim has
    long lapsed, and none of them stays listed."""
    import time

    import orjson

    from app.feeds import ahead, ranker

    connection = services_app.extensions["sprout.redis"]
    ranked: list[int] = []

    def rank(user_id, channel):
        if user_id == 3:
            raise RuntimeError("boom")
        ranked.append(user_id)
        return []

    monkeypatch.setattr(ranker, "prefetch_next_pages", rank)
    now = time.time()
    connection.rpush(ahead.RUNNING, orjson.dumps([9, None, now - 3600]))  # abandoned
    connection.rpush(ahead.RUNNING, orjson.dumps([8, None, now]))  # another worker's, live
    connection.rpush(ahead.WANTED, orjson.dumps([1, None, now - 3600]))  # stale
    connection.rpush(ahead.WANTED, b"not json")
    connection.rpush(ahead.WANTED, orjson.dumps([3, None, now]))  # fails
    assert ahead.ask(connection, 2, None)
    assert ahead.ask(connection, 4, "food")
    assert ahead.pending(connection) == 7
    assert ahead.serve(services_app, connection, burst=True) == 2
    assert ranked == [2, 4]
    assert connection.llen(ahead.WANTED) == 0
    assert connection.lrange(ahead.RUNNING, 0, -1) == [orjson.dumps([8, None, now])]
    assert "ranking ahead failed for user 3" in caplog.text
    assert "unreadable request" in caplog.text


def test_asking_ahead_with_redis_down_is_logged_not_raised(services_app, caplog):
    import redis

    from app.feeds import ahead

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert ahead.ask(dead, 5, None) is False
    assert "ranking ahead not asked for user 5" in caplog.text


def test_pages_from_the_buffer_are_served_and_written_in_the_take(services_app, monkeypatch):
    """A page served as ranked from the viewer's buffer is served and written by the take's
    own script (`QuickServe`): no second write, yet the same seen set, impressions and
    buffer as the usual write; a page with a card marked stale goes the usual way and still
    serves that card (read from the database)."""
    from app.core.extensions import get_feed_store
    from app.feeds import card_store
    from app.feeds.api import RANKED_CURSOR
    from app.feeds.jobs import refresh_cards
    from ranking.store import RedisFeedStore

    api = Api(services_app.test_client())
    authors = [api.register(f"quick_author{i}") for i in range(8)]
    viewer = api.register("quick_viewer")
    for index in range(200):
        insert_note(authors[index % 8]["id"], f"快取{index}", ago=index, like_count=200 - index)
    assert refresh_cards()["rendered"] == 200  # the new notes' cards, stored
    writes = []
    real = RedisFeedStore.save_page
    monkeypatch.setattr(
        RedisFeedStore, "save_page", lambda self, *a, **k: writes.append(1) or real(self, *a, **k)
    )
    store = get_feed_store()
    served, sources, cursor = [], [], None
    for page in range(5):
        if page == 4:  # the next page's first card changes: its entry is marked stale
            stale = store.session_buffer(f"{viewer['id']}:queue:", str(viewer["id"]))[0].note_id
            services_app.extensions["sprout.redis"].set(f"{card_store.KEY_PREFIX}{stale}", "?")
        path = "/feeds/discover?limit=10" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(path, "quick_viewer").get_json()
        assert len(body["items"]) == 10
        served += [card["id"] for card in body["items"]]
        sources += [card["source"] for card in body["items"]]
        cursor = body["next_cursor"]
        # the first page ranks (and writes its new buffer); the next three are the take's
        assert len(writes) == (1 if page < 4 else 2)
    assert stale in served[40:]
    assert len(set(served)) == 50
    session = RANKED_CURSOR.decode(cursor)[0]
    assert store.seen(f"{viewer['id']}:{session}") == set(served)
    assert store.recently_served(str(viewer["id"])) == set(served)
    impressions = store.take_impressions("quick", 100)
    assert [(i.user_id, i.note_id, i.source) for i in impressions] == [
        (viewer["id"], note_id, source) for note_id, source in zip(served, sources, strict=True)
    ]
