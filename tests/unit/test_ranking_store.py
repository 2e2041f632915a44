"""Feed stores: session seen sets, per-note recently-served expiry, impression buffer.

The Redis tests use the real server (redis://127.0.0.1:6379/15 via the `redis_url` fixture,
which fails when it is unreachable) with a unique key prefix per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest
import redis as redis_lib

from ranking.store import DiskFeedStore, FeedStore, MemoryFeedStore, RedisFeedStore
from ranking.types import Impression


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(params=["memory", "redis", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FeedStore, Clock]]:
    clock = Clock()
    if request.param == "memory":
        yield MemoryFeedStore(clock=clock, session_ttl_seconds=600), clock
        return
    if request.param == "disk":
        cache = diskcache.Cache(str(tmp_path / "feed"))
        yield DiskFeedStore(cache, clock=clock, session_ttl_seconds=600), clock
        cache.close()
        return
    client = request.getfixturevalue("redis_client")
    prefix = f"test:ranking:{uuid.uuid4().hex}:"
    yield RedisFeedStore(client, prefix, clock=clock, session_ttl_seconds=600), clock
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


def test_implementations_satisfy_the_protocol(redis_client: Any) -> None:
    assert isinstance(MemoryFeedStore(), FeedStore)
    assert isinstance(RedisFeedStore(redis_client, "x:"), FeedStore)
    assert isinstance(DiskFeedStore(None), FeedStore)


def test_seen_accumulates_per_session(store: tuple[FeedStore, Clock]) -> None:
    s, _ = store
    assert s.seen("sess-a") == set()
    s.add_seen("sess-a", [1, 2])
    s.add_seen("sess-a", [2, 3])
    s.add_seen("sess-b", [9])
    s.add_seen("sess-b", [])
    assert s.seen("sess-a") == {1, 2, 3}
    assert s.seen("sess-b") == {9}


def test_recently_served_expires_per_note(store: tuple[FeedStore, Clock]) -> None:
    s, clock = store
    s.mark_served("u:1", [1, 2], ttl_seconds=100)
    clock.t += 60
    s.mark_served("u:1", [2, 3], ttl_seconds=100)  # renews 2
    assert s.recently_served("u:1") == {1, 2, 3}
    assert s.recently_served("u:2") == set()
    clock.t += 50
    assert s.recently_served("u:1") == {2, 3}
    clock.t += 100
    assert s.recently_served("u:1") == set()


def test_served_among_asks_about_a_few_cards(store: tuple[FeedStore, Clock]) -> None:
    s, clock = store
    s.mark_served("u:1", [1, 2], ttl_seconds=100)
    clock.t += 60
    s.mark_served("u:1", [3], ttl_seconds=100)
    assert s.served_among("u:1", [1, 3, 4]) == {1, 3}
    assert s.served_among("u:1", []) == set()
    assert s.served_among("u:2", [1, 2]) == set()
    clock.t += 50  # 1 and 2 expired, 3 not
    assert s.served_among("u:1", [1, 2, 3]) == {3}
    assert s.served_among("u:1", [1, 2, 3]) == s.recently_served("u:1") & {1, 2, 3}


def test_a_take_says_which_cards_the_user_was_served(store: tuple[FeedStore, Clock]) -> None:
    """A buffered card may have been served since it was ranked (in another session, whose
    seen set this one never reads): the take reports it, until its serve time runs out."""
    from ranking.types import Scored

    s, clock = store
    cards = [Scored(n, 1.0, "cf") for n in range(1, 9)]
    s.set_session_buffer("u1:queue:", "u1", cards)
    s.mark_served("u1", [2, 7], ttl_seconds=100)
    s.mark_served("u2", [3], ttl_seconds=100)  # someone else's
    first = s.load_page("u1:new-session", "u1:queue:", None, "u1", take=4)
    assert [c.note_id for c in first.buffer] == [1, 2, 3, 4] and first.served == {2}
    clock.t += 150  # 7's serve time has run out
    later = s.load_page("u1:new-session", "u1:queue:", None, "u1", take=4)
    assert later.served == set()
    anonymous = s.load_page("anon:s", None, None, "anon:s", take=0)
    assert anonymous.served == set()


def drained(s: FeedStore, max_items: int) -> list[Impression]:
    """What a flush would take of the buffer, with its batch forgotten (as after its commit)."""
    batch_id = uuid.uuid4().hex
    taken = s.take_impressions(batch_id, max_items)
    s.forget_impressions(batch_id)
    return taken


def test_impressions_are_buffered_and_drained_in_order(store: tuple[FeedStore, Clock]) -> None:
    s, _ = store
    s.record_impressions([(1, 10, "cf", 1.5), (None, 11, "hot", 2.0)])
    s.record_impressions([Impression(2, 12, "explore", 3.0)])
    s.record_impressions([])
    first = drained(s, 2)
    assert first == [Impression(1, 10, "cf", 1.5), Impression(None, 11, "hot", 2.0)]
    assert first[1].user_id is None
    assert drained(s, 10) == [Impression(2, 12, "explore", 3.0)]
    assert drained(s, 10) == []
    assert drained(s, 0) == []


def test_impressions_are_taken_in_batches_kept_until_forgotten(
    store: tuple[FeedStore, Clock],
) -> None:
    """A batch holds the buffer's head (the whole buffer when it fits, 2,500 in three chunks
    of the Redis script when it does not) until it is forgotten; pages served meanwhile
    buffer anew."""
    s, _ = store
    assert s.take_impressions("0001", 10) == [] and s.impression_batches() == []
    s.record_impressions([(1, n, "cf", float(n)) for n in range(3_000)])
    first = s.take_impressions("0001", 2_500)
    assert [i.note_id for i in first] == list(range(2_500))
    s.record_impressions([(None, 9_999, "hot", 9.0)])
    second = s.take_impressions("0002", 10_000)  # the rest, and the one buffered since
    assert [i.note_id for i in second] == [*range(2_500, 3_000), 9_999]
    assert second[-1] == Impression(None, 9_999, "hot", 9.0)
    assert s.take_impressions("0003", 0) == [] and s.take_impressions("0004", 5) == []
    assert s.impression_batches() == [("0001", first), ("0002", second)]
    s.forget_impressions("0001")
    s.forget_impressions("0001")  # again: nothing to do
    assert s.impression_batches() == [("0002", second)]
    s.forget_impressions("0002")
    assert s.impression_batches() == [] and drained(s, 10) == []


def test_redis_keys_expire(redis_client: Any) -> None:
    prefix = f"test:ranking:{uuid.uuid4().hex}:"
    s = RedisFeedStore(redis_client, prefix, session_ttl_seconds=300)
    try:
        s.add_seen("sess", [1])
        s.mark_served("u:1", [1], ttl_seconds=50)
        assert 0 < redis_client.ttl(prefix + "seen:sess") <= 300
        assert 0 < redis_client.ttl(prefix + "served:u:1") <= 51
        s.mark_served("u:1", [2], ttl_seconds=500)
        s.mark_served("u:1", [3], ttl_seconds=10)  # must not shorten the key's life
        assert redis_client.ttl(prefix + "served:u:1") > 400
    finally:
        keys = list(redis_client.scan_iter(match=prefix + "*"))
        if keys:
            redis_client.delete(*keys)


def test_redis_store_works_with_decoded_responses(redis_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"test:ranking:{uuid.uuid4().hex}:"
    s = RedisFeedStore(client, prefix)
    try:
        s.add_seen("sess", [5])
        s.mark_served("u", [6], ttl_seconds=60)
        s.record_impressions([(1, 7, "pick", 1.0)])
        assert s.seen("sess") == {5} and s.recently_served("u") == {6}
        assert drained(s, 5) == [Impression(1, 7, "pick", 1.0)]
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_session_buffers_round_trip_and_are_dropped_by_feedback(
    store: tuple[FeedStore, Clock],
) -> None:
    from ranking.types import Scored

    s, clock = store
    # Buffers keep no score components (explained pages are ranked afresh).
    cards = [Scored(7, 0.9, "cf"), Scored(3, 0.5, "explore")]
    assert s.session_buffer("u1:sess", "u1") == []
    s.set_session_buffer("u1:sess", "u1", cards)
    s.set_session_buffer("u2:sess", "u2", cards[:1])
    assert s.session_buffer("u1:sess", "u1") == cards
    s.invalidate_buffers("u1")  # only u1's buffers go
    assert s.session_buffer("u1:sess", "u1") == []
    assert s.session_buffer("u2:sess", "u2") == cards[:1]
    s.set_session_buffer("u1:sess", "u1", cards[1:])  # a buffer made after the feedback counts
    assert s.session_buffer("u1:sess", "u1") == cards[1:]
    s.set_session_buffer("u1:sess", "u1", [])
    assert s.session_buffer("u1:sess", "u1") == []
    if isinstance(s, MemoryFeedStore):  # Redis expiry is the server's own clock
        s.set_session_buffer("u1:sess", "u1", cards)
        clock.t += 601
        assert s.session_buffer("u1:sess", "u1") == []


def test_a_page_takes_from_the_front_and_puts_back_what_it_did_not_serve(
    store: tuple[FeedStore, Clock],
) -> None:
    from ranking.store import NoteKey, PageWrite
    from ranking.types import Scored

    s, _ = store
    cards = [Scored(n, 1.0 - n / 100, "cf") for n in range(1, 11)]
    keys = {n: NoteKey(n * 10, "food", None) for n in range(1, 11)}
    s.set_session_buffer("u1:queue:", "u1", cards, keys=keys)
    state = s.load_page("u1:sess", "u1:queue:", None, "u1", take=4)
    assert state.buffer == cards[:4]
    assert state.left == 6
    assert state.keys == {n: keys[n] for n in range(1, 5)}
    # a page loaded meanwhile takes the next entries, never the same ones
    other = s.load_page("u1:sess2", "u1:queue:", None, "u1", take=2)
    assert other.buffer == cards[4:6]
    s.save_page(
        PageWrite(
            session_id="u1:sess",
            user_key="u1",
            served=[1, 2],
            buffer_key="u1:queue:",
            buffer=cards[2:4],  # taken, not served: back at the front, keys kept
            impressions=[(1, 1, "cf", 1.0), (1, 2, "cf", 1.0)],
            served_user_key="u1",
            serve_ttl_seconds=3600,
            generation=state.generation,
            keys=state.keys,
        )
    )
    state = s.load_page("u1:sess", "u1:queue:", None, "u1", take=3)
    assert s.seen("u1:sess") == {1, 2}
    # the whole set, or (Redis: the set grows with the session) the taken ids it holds
    assert state.seen == ({1, 2} if state.seen_whole else set())
    assert state.buffer == [cards[2], cards[3], cards[6]]
    assert state.keys[3] == keys[3]
    assert s.recently_served("u1") == {1, 2}
    assert [i.note_id for i in drained(s, 10)] == [1, 2]
    # a page that ranked replaces the buffer
    fresh = [Scored(50, 0.5, "hot"), Scored(51, 0.4, "hot")]
    s.save_page(
        PageWrite(
            session_id="u1:sess",
            user_key="u1",
            served=[],
            buffer_key="u1:queue:",
            buffer=fresh,
            replace_buffer=True,
            impressions=[],
            generation=state.generation,
        )
    )
    assert s.session_buffer("u1:queue:", "u1") == fresh
    s.set_session_buffer("u1:again:", "u1", [cards[0], Scored(60, 0.3, "hot")])
    again = s.load_page("u1:sess", "u1:again:", None, "u1", take=5)
    assert 1 in again.seen and 60 not in again.seen  # a taken card served before is known


def test_pages_ranked_ahead_become_the_buffer_when_it_runs_short(
    store: tuple[FeedStore, Clock],
) -> None:
    from ranking.types import Scored

    s, _ = store
    queued = [Scored(1, 0.9, "cf")]
    ahead = [Scored(n, 0.5, "cf") for n in range(5, 9)]
    s.set_session_buffer("u1:queue:", "u1", queued)
    s.set_session_buffer("u1:next:", "u1", ahead, ttl_seconds=300)
    state = s.load_page("u1:sess", "u1:queue:", "u1:next:", "u1", take=3)
    assert (state.buffer, state.took_ahead, state.left, state.ahead_left) == (
        [*queued, *ahead[:2]],
        True,
        2,
        0,
    )
    assert s.session_buffer("u1:next:", "u1") == []
    assert s.session_buffer("u1:queue:", "u1") == ahead[2:]
    # enough in the buffer: what is ranked ahead waits
    s.set_session_buffer("u1:next:", "u1", ahead)
    state = s.load_page("u1:sess", "u1:queue:", "u1:next:", "u1", take=2)
    assert (state.buffer, state.took_ahead, state.ahead_left) == (ahead[2:], False, 4)


def test_entries_ranked_before_feedback_are_not_served(store: tuple[FeedStore, Clock]) -> None:
    from ranking.store import PageWrite
    from ranking.types import Scored

    s, _ = store
    cards = [Scored(n, 0.5, "cf") for n in range(1, 6)]
    s.set_session_buffer("u1:queue:", "u1", cards)
    state = s.load_page("u1:sess", "u1:queue:", None, "u1", take=2)
    s.invalidate_buffers("u1")  # feedback while the page was served
    s.save_page(
        PageWrite(
            session_id="u1:sess",
            user_key="u1",
            served=[1],
            buffer_key="u1:queue:",
            buffer=cards[1:2],
            impressions=[],
            generation=state.generation,
        )
    )
    state = s.load_page("u1:sess", "u1:queue:", None, "u1", take=10)
    assert (state.buffer, state.stale) == ([], True)  # the caller drops the rest (replace)
    assert s.load_page("u1:sess", "u1:queue:", None, "u1", take=10).left == 0


def test_a_take_reads_what_it_is_asked_to_attach_in_the_same_round_trip(redis_client: Any) -> None:
    """Redis only: the card store's values and the viewer's flag set, by the taken ids (the
    stores without it leave `attached` empty and the caller reads as usual)."""
    from ranking.store import Attach
    from ranking.types import Scored

    prefix = f"test:ranking:{uuid.uuid4().hex}:"
    s = RedisFeedStore(redis_client, prefix)
    try:
        s.set_session_buffer("5:queue:", "5", [Scored(n, 0.5, "cf") for n in (11, 12, 13)])
        redis_client.set(prefix + "card:11", b"C11")
        redis_client.set(prefix + "card:13", b"C13")
        redis_client.sadd(prefix + "flags", "*", "l12", "c13")
        attach = Attach(prefix + "card:", prefix + "flags", ("*", "!"), ("l", "c"))
        state = s.load_page("5:s", "5:queue:", None, "5", take=2, attach=attach)
        assert [item.note_id for item in state.buffer] == [11, 12]
        assert state.attached is not None
        assert state.attached.values == {11: b"C11", 12: None}
        assert state.attached.markers == (True, False)
        assert state.attached.members == {11: (False, False), 12: (True, False)}
        empty = s.load_page("5:s", "6:queue:", None, "6", take=2, attach=attach).attached
        assert empty is not None and empty.values == {}
        assert MemoryFeedStore().load_page(None, "5:queue:", None, "5", 2, attach).attached is None
    finally:
        keys = list(redis_client.scan_iter(match=prefix + "*"))
        if keys:
            redis_client.delete(*keys)


def _write(served: list[int], claim: str | None = None) -> Any:
    from ranking.store import PageWrite
    from ranking.types import Scored

    return PageWrite(
        session_id="u1:sess",
        user_key="u1",
        served=served,
        buffer_key="u1:queue:",
        buffer=[Scored(99, 0.1, "hot")],
        impressions=[(1, n, "cf", 1.0) for n in served],
        served_user_key="u1",
        serve_ttl_seconds=3600,
        claim_key=claim,
        claim_ttl_seconds=15,
    )


def test_a_page_write_runs_meanwhile_once_and_still_writes_everything(
    store: tuple[FeedStore, Clock],
) -> None:
    """`meanwhile` (the answer being made) runs once; the write and the claim are as without
    it, and a second page does not win the claim the first one holds."""
    s, _ = store
    calls: list[int] = []
    assert s.save_page(_write([1, 2], claim="prefetch:u1:"), meanwhile=lambda: calls.append(1))
    assert calls == [1]
    assert s.seen("u1:sess") == {1, 2} and s.recently_served("u1") == {1, 2}
    assert [i.note_id for i in drained(s, 10)] == [1, 2]
    assert [item.note_id for item in s.session_buffer("u1:queue:", "u1")] == [99]
    assert not s.save_page(_write([3], claim="prefetch:u1:"), meanwhile=lambda: calls.append(2))
    assert calls == [1, 2] and s.seen("u1:sess") == {1, 2, 3}


def test_an_overlapped_redis_write_leaves_its_connection_clean(
    redis_client: Any, redis_url: str
) -> None:
    """The reply is read even when `meanwhile` fails, so the pooled connection answers the
    next command with its own reply; a pooled socket that Redis closed is replaced before
    the send, as for any command."""
    prefix = f"test:ranking:{uuid.uuid4().hex}:"
    s = RedisFeedStore(redis_client, prefix, session_ttl_seconds=600)
    try:

        def fails() -> None:
            raise RuntimeError("rendering failed")

        with pytest.raises(RuntimeError):
            s.save_page(_write([1]), meanwhile=fails)
        assert s.seen("u1:sess") == {1}  # written, and the reply consumed
        assert redis_client.ping() is True
        assert redis_client.get(prefix + "nothing") is None
        # the pooled connection closed by the server: the send goes out on a new one
        pooled = redis_client.client_id()
        admin = redis_lib.Redis.from_url(redis_url)
        assert admin.client_kill_filter(_id=pooled) == 1
        admin.close()
        assert s.save_page(_write([2], claim="c"), meanwhile=lambda: None)
        assert s.seen("u1:sess") == {1, 2}
        pool = redis_client.connection_pool
        assert len(pool._in_use_connections) == 0  # every connection went back
    finally:
        keys = list(redis_client.scan_iter(match=prefix + "*"))
        if keys:
            redis_client.delete(*keys)


def _keys_dump(client: Any, prefix: str) -> dict[str, Any]:
    """Every key under `prefix` (without it) with its value and whether it expires."""
    out: dict[str, Any] = {}
    for raw in client.scan_iter(match=prefix + "*"):
        key = raw.decode()
        kind = client.type(key).decode()
        value: Any = {
            "list": lambda k: client.lrange(k, 0, -1),
            "set": lambda k: sorted(client.smembers(k)),
            "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
            "string": client.get,
        }[kind](key)
        out[key[len(prefix) :]] = (value, client.ttl(key) > 0)
    return out


QUICK_CASES = {
    # name: (changes to the set-up, history, whether the take serves the page itself)
    "plain": ({}, (), True),
    "seen, served and history left out": ({"seen": [2], "served": [4]}, (5,), True),
    "claims when running low": ({"buffer": 12, "claims": True}, (), True),
    "no claim with pages waiting ahead": ({"buffer": 12, "ahead": 25}, (), True),
    "a stale card": ({"cards": {3: b"?"}}, (), False),
    "a card gone": ({"cards": {3: b"-"}}, (), False),
    "a card never stored": ({"cards": {3: None}}, (), False),
    "ranked before feedback": ({"generation": 1}, (), False),
    "a note twice": ({"twice": True}, (), False),
    "too few left": ({"buffer": 3}, (), False),
}


@pytest.mark.parametrize("case", list(QUICK_CASES))
def test_a_page_the_take_serves_writes_what_the_usual_page_write_would(
    redis_client: Any, case: str
) -> None:
    """`QuickServe`: where the take serves the page itself, Redis ends as after the usual take
    and `save_page` (the caller's own page, as it makes it when nothing vanished); where it
    cannot, the take is the usual one and nothing else is written."""
    from ranking.store import Attach, NoteKey, PageWrite, QuickServe
    from ranking.types import Scored

    changes, history, served_here = QUICK_CASES[case]
    size, take = 4, 8
    results = []
    for quick in (True, False):
        clock = Clock()
        prefix = f"test:ranking:{uuid.uuid4().hex}:"
        s = RedisFeedStore(redis_client, prefix, clock=clock, session_ttl_seconds=600)
        n = changes.get("buffer", 40)
        ids = [1, 2, 3, 1, *range(5, n + 2)] if changes.get("twice") else list(range(1, n + 1))
        keys = {i: NoteKey(i % 3, "food", None) for i in ids}
        s.set_session_buffer(
            "7:queue:", "7", [Scored(i, 1.0 / i, "cf" if i % 2 else "hot") for i in ids], keys=keys
        )
        if changes.get("ahead"):
            ahead = [Scored(i, 0.1, "explore") for i in range(100, 100 + changes["ahead"])]
            s.set_session_buffer("7:next:", "7", ahead)
        if changes.get("generation"):
            s.invalidate_buffers("7")
            redis_client.set(prefix + "generation:7", 1)  # the buffer's entries are of 0
        s.add_seen("7:s", changes.get("seen", []))
        s.mark_served("7", changes.get("served", []), ttl_seconds=100)
        cards = {i: b"card%d" % i for i in range(1, 200)} | changes.get("cards", {})
        for note_id, value in cards.items():
            if value is not None:
                redis_client.set(f"{prefix}card:{note_id}", value)
        redis_client.sadd(prefix + "flags", "*", "l6")
        attach = Attach(prefix + "card:", prefix + "flags", ("*",), ("l",), size, ("-", "?"))
        spec = QuickServe(
            page_size=size,
            history=history,
            session_id="7:s",
            viewer_id=7,
            arm=3,
            now=clock.t,
            served_user_key="7",
            serve_ttl_seconds=3600,
            buffer_ttl_seconds=900,
            claim_key="prefetch:7:",
            claim_below=3 * size,
            claim_ttl_seconds=15,
        )
        state = s.load_page(
            "7:s", "7:queue:", "7:next:", "7", take, attach=attach, quick=spec if quick else None
        )
        if quick:
            assert (state.quick is not None) is served_here
            if not served_here:  # then the caller goes on as usual, from the same take
                assert state.attached is not None
                results.append((None, _keys_dump(redis_client, prefix)))
                continue
            assert state.quick is not None and state.attached is not None
            page = [item.note_id for item in state.quick]
            assert set(state.attached.values) == set(page)
            assert state.attached.members[6] == (True,) if 6 in page else True
            results.append((page, _keys_dump(redis_client, prefix), state.claimed))
            continue
        if not served_here:
            results.append((None, _keys_dump(redis_client, prefix)))
            continue
        fresh = [
            item
            for item in state.buffer
            if item.note_id not in state.seen | state.served | set(history)
        ]
        served, rest = fresh[:size], fresh[size:]
        left = len(rest) + state.left
        claimed = s.save_page(
            PageWrite(
                session_id="7:s",
                user_key="7",
                served=[item.note_id for item in served],
                buffer_key="7:queue:",
                buffer=rest,
                impressions=[Impression(7, i.note_id, i.source, clock.t, 3) for i in served],
                buffer_ttl_seconds=900,
                served_user_key="7",
                serve_ttl_seconds=3600,
                generation=state.generation,
                keys=state.keys,
                claim_key="prefetch:7:" if left < 3 * size and state.ahead_left < size else None,
                claim_ttl_seconds=15,
            )
        )
        page = [item.note_id for item in served]
        results.append((page, _keys_dump(redis_client, prefix), claimed))
    for prefix_keys in list(redis_client.scan_iter(match="test:ranking:*")):
        redis_client.delete(prefix_keys)
    assert results[0] == results[1]
    if served_here:
        assert len(results[0][0] or []) == size
        assert results[0][2] is bool(changes.get("claims"))


def test_a_quick_page_takes_more_when_the_first_entries_were_served(redis_client: Any) -> None:
    """Pages ranked ahead may start with cards the viewer was served since (from the cold
    list, or a page ranked in the request meanwhile): the take goes on down the buffer, up
    to three more takes, rather than leave the page to a ranking in the request."""
    from ranking.store import Attach, QuickServe
    from ranking.types import Scored

    prefix = f"test:ranking:{uuid.uuid4().hex}:"
    clock = Clock()
    s = RedisFeedStore(redis_client, prefix, clock=clock, session_ttl_seconds=600)
    try:
        s.set_session_buffer("7:queue:", "7", [Scored(i, 1.0, "cf") for i in range(1, 61)])
        s.mark_served("7", range(1, 19), ttl_seconds=100)  # the first 18 of the buffer
        for note_id in range(1, 61):
            redis_client.set(f"{prefix}card:{note_id}", b"card")
        attach = Attach(prefix + "card:", limit=4, absent=("-", "?"))
        spec = QuickServe(4, (), "7:s", 7, None, clock.t, "7", 3600)
        state = s.load_page("7:s", "7:queue:", None, "7", 8, attach=attach, quick=spec)
        assert state.quick is not None  # two more takes: 9-16 (all served), then 17-24
        assert [item.note_id for item in state.quick] == [19, 20, 21, 22]
        assert [item.note_id for item in s.session_buffer("7:queue:", "7")] == [*range(23, 61)]
        assert s.seen("7:s") == {19, 20, 21, 22}
        # served too far down: the usual way, with everything taken (four takes)
        s.set_session_buffer("8:queue:", "8", [Scored(i, 1.0, "cf") for i in range(1, 61)])
        s.mark_served("8", range(1, 31), ttl_seconds=100)
        spec = QuickServe(4, (), "8:s", 8, None, clock.t, "8", 3600)
        state = s.load_page("8:s", "8:queue:", None, "8", 8, attach=attach, quick=spec)
        assert state.quick is None
        assert [item.note_id for item in state.buffer] == [*range(1, 33)]
        assert state.served == set(range(1, 31))
        assert len(s.session_buffer("8:queue:", "8")) == 28  # the caller puts back the rest
    finally:
        keys = list(redis_client.scan_iter(match=prefix + "*"))
        if keys:
            redis_client.delete(*keys)
