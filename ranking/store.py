"""Feed state: what a session has seen, what a user was served recently, impression buffer,
and each session's buffer of ranked cards not served yet (the next pages). A user's buffers
are dropped at once (`invalidate_buffers`) when their feedback must change what comes next.

A buffer is a list of entries, one per card (its id, score, source and diversity keys, and
the generation it was ranked under): a page takes the entries it needs from the front and
puts back the ones it did not serve, so its cost does not grow with the pages ranked ahead.

`MemoryFeedStore` serves tests and single-process runs; `RedisFeedStore` is the shared one.
Recently-served notes expire individually (a sorted set scored by expiry time), so serving a
note again renews only that note.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import orjson

from ranking.config import RANKING
from ranking.types import Impression, Scored

ImpressionLike = Impression | tuple[int | None, int, str, float]


class NoteKey(NamedTuple):
    """What the diversity rule looks at in a card (author, channel, first topic): kept with a
    buffer so serving from it needs no note features."""

    author_id: int
    channel: str | None
    topic: int | None


Keys = Mapping[int, NoteKey]


@dataclass(frozen=True)
class Attach:
    """Reads that travel with a page's take in the same round trip (services mode): the value
    stored under `value_prefix + id` for each entry taken, and whether the set `set_key`
    holds each of `markers`, then `prefix + id` for each of `member_prefixes` and each entry.
    The feeds pass their card store's keys and the viewer's flag set; to this module they
    are only keys."""

    value_prefix: str
    set_key: str | None = None
    markers: tuple[str, ...] = ()
    member_prefixes: tuple[str, ...] = ()
    limit: int = 1000  # the first entries only (a page's worth: the rest is rarely served)
    # values that stand for no card (a tombstone, a stale mark): a `QuickServe` page needs a
    # value other than these (and than none) for each card it serves
    absent: tuple[str, ...] = ()


@dataclass
class Attached:
    """What an `Attach` read: values and set memberships by the entries' ids."""

    values: dict[int, Any]
    markers: tuple[bool, ...] = ()
    members: dict[int, tuple[bool, ...]] = field(default_factory=dict)


@dataclass
class PageState:
    """What serving one feed page reads (`load_page`): the session's seen notes and the
    entries taken from the front of its buffer, which are gone from the buffer until a
    `save_page` puts back those not served."""

    # the session's seen notes: all of them, or (`seen_whole` False) those among the taken
    # entries only; a caller that needs the rest asks `seen`
    seen: set[int] = field(default_factory=set)
    seen_whole: bool = True
    buffer: list[Scored] = field(default_factory=list)  # taken, of the current generation
    left: int = 0  # entries still in the buffer after the take (with `quick`, the write)
    stale: bool = False  # some taken entries were ranked before feedback: so is the rest
    took_ahead: bool = False  # the viewer's pages ranked ahead were moved into the buffer
    ahead_left: int = 0  # entries ranked ahead still waiting (not moved)
    generation: int = 0  # the viewer's buffer generation when read
    keys: dict[int, NoteKey] = field(default_factory=dict)  # of the taken entries
    attached: Attached | None = None  # what `attach` read (stores that support it)
    # the taken entries served to `user_key` within their serve time to live (`mark_served`):
    # a ranking may have placed them before they were served, in this session or another
    served: set[int] = field(default_factory=set)
    # `QuickServe`: the page the take served, its write done (None: the caller serves and
    # saves the page), and whether that write won the claim
    quick: list[Scored] | None = None
    claimed: bool = False


@dataclass
class PageWrite:
    """What serving one feed page writes (`save_page`), in one round trip."""

    session_id: str
    user_key: str
    served: list[int]
    buffer_key: str
    # put back at the buffer's front (the taken entries not served), or with `replace_buffer`
    # the buffer's new content (a page that ranked)
    buffer: list[Scored]
    impressions: list[ImpressionLike]
    replace_buffer: bool = False
    buffer_ttl_seconds: float | None = None  # None: the session's lifetime
    served_user_key: str | None = None  # signed-in viewers: recently served notes
    serve_ttl_seconds: float = 0.0
    generation: int = 0  # `PageState.generation`: feedback since then voids the new buffer
    keys: Keys = field(default_factory=dict)  # of the buffer's cards
    # `claim` in the same round trip (the next pages asked of a worker): `save_page` returns
    # whether this page won it
    claim_key: str | None = None
    claim_ttl_seconds: float = 0.0


@dataclass(frozen=True)
class QuickServe:
    """A page the take may serve and write itself, in its one round trip (`load_page`, the
    stores that support it), when the common case holds: every entry taken is of the
    current generation and a different note; at least `page_size` of them are neither seen
    in the session, served to the user, nor in `history`; and the first `page_size` of those
    have attached values, none of them `Attach.absent`. Those are the page, as ranked; the
    rest go back to the buffer's front, and the page's write is what `save_page` would
    write for it (no new buffer). Otherwise the caller serves and saves the page as usual,
    from what was taken. It saves the second round trip, and building the write, on most
    pages. When too few of the entries taken are left (pages ranked ahead that start with
    cards served since), up to three more takes' worth are taken, in the same script,
    rather than leaving the page to a ranking in the request."""

    page_size: int
    history: tuple[int, ...]
    session_id: str  # whose seen set the page is added to (`PageWrite.session_id`)
    viewer_id: int | None  # the impressions'
    arm: int | None
    now: float
    served_user_key: str | None = None
    serve_ttl_seconds: float = 0.0
    buffer_ttl_seconds: float | None = None  # None: the session's lifetime
    # claimed (`PageWrite.claim_key`) when fewer than `claim_below` entries are left in the
    # buffer and fewer than a page's are waiting ahead
    claim_key: str | None = None
    claim_below: int = 0
    claim_ttl_seconds: float = 0.0


@runtime_checkable
class FeedStore(Protocol):
    def seen(self, session_id: str) -> set[int]: ...

    def add_seen(self, session_id: str, ids: Iterable[int]) -> None: ...

    def recently_served(self, user_key: str) -> set[int]: ...

    def served_among(self, user_key: str, ids: Iterable[int]) -> set[int]:
        """Which of `ids` were served to the user recently (`recently_served` asked about a
        few cards: a long scroll's set holds thousands)."""
        ...

    def mark_served(self, user_key: str, ids: Iterable[int], ttl_seconds: float) -> None: ...

    def record_impressions(self, items: Iterable[ImpressionLike]) -> None: ...

    def take_impressions(self, batch_id: str, max_items: int) -> list[Impression]:
        """Move up to `max_items` buffered impressions, oldest first, into a new batch named
        `batch_id`, at once; the batch's impressions (none: no batch). The batch stays until it is
        forgotten, so a flush that fails after the take loses nothing."""
        ...

    def impression_batches(self) -> list[tuple[str, list[Impression]]]:
        """Every batch taken and not forgotten yet, oldest id first, with its impressions."""
        ...

    def forget_impressions(self, batch_id: str) -> None: ...

    def session_buffer(self, session_id: str, user_key: str) -> list[Scored]: ...

    def set_session_buffer(
        self,
        session_id: str,
        user_key: str,
        items: list[Scored],
        ttl_seconds: float | None = None,
        generation: int | None = None,
        keys: Keys | None = None,
    ) -> None: ...

    def generation(self, user_key: str) -> int: ...

    def claim(self, key: str, ttl_seconds: float) -> bool: ...

    def release(self, key: str) -> None: ...

    def invalidate_buffers(self, user_key: str) -> None: ...

    def load_page(
        self,
        session_id: str | None,
        buffer_key: str | None,
        ahead_key: str | None,
        user_key: str,
        take: int,
        attach: Attach | None = None,
        quick: QuickServe | None = None,
    ) -> PageState: ...

    def save_page(self, write: PageWrite, meanwhile: Callable[[], object] | None = None) -> bool:
        """Everything a page writes; True when it won the claim. `meanwhile` is called once,
        while the write is under way where the store can overlap them (Redis)."""
        ...


class MemoryFeedStore:
    """In-process store; `clock` is injectable so tests can move time."""

    def __init__(
        self,
        *,
        session_ttl_seconds: float = RANKING.session_ttl_seconds,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._session_ttl = session_ttl_seconds
        self._seen: dict[str, tuple[float, set[int]]] = {}
        self._served: dict[str, dict[int, float]] = {}
        self._impressions: deque[Impression] = deque()
        self._impression_batches: dict[str, list[Impression]] = {}
        self._buffers: dict[str, tuple[float, list[bytes]]] = {}  # (expiry, entries)
        self._generations: dict[str, int] = {}
        self._claims: dict[str, float] = {}

    def seen(self, session_id: str) -> set[int]:
        entry = self._seen.get(session_id)
        if entry is None or entry[0] <= self._clock():
            self._seen.pop(session_id, None)
            return set()
        return set(entry[1])

    def add_seen(self, session_id: str, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        current = self.seen(session_id)
        current.update(ids)
        self._seen[session_id] = (self._clock() + self._session_ttl, current)

    def recently_served(self, user_key: str) -> set[int]:
        now = self._clock()
        served = self._served.get(user_key, {})
        for n in [n for n, exp in served.items() if exp <= now]:
            del served[n]
        return set(served)

    def served_among(self, user_key: str, ids: Iterable[int]) -> set[int]:
        return self.recently_served(user_key).intersection(int(i) for i in ids)

    def mark_served(self, user_key: str, ids: Iterable[int], ttl_seconds: float) -> None:
        exp = self._clock() + ttl_seconds
        served = self._served.setdefault(user_key, {})
        for n in ids:
            served[int(n)] = exp

    def record_impressions(self, items: Iterable[ImpressionLike]) -> None:
        self._impressions.extend(Impression(*it) for it in items)

    def _pull_impressions(self, max_items: int) -> list[Impression]:
        out = []
        while self._impressions and len(out) < max_items:
            out.append(self._impressions.popleft())
        return out

    def take_impressions(self, batch_id: str, max_items: int) -> list[Impression]:
        batch = self._pull_impressions(max_items)
        if batch:
            self._impression_batches[batch_id] = batch
        return list(batch)

    def impression_batches(self) -> list[tuple[str, list[Impression]]]:
        return [(b, list(items)) for b, items in sorted(self._impression_batches.items())]

    def forget_impressions(self, batch_id: str) -> None:
        self._impression_batches.pop(batch_id, None)

    def session_buffer(self, session_id: str, user_key: str) -> list[Scored]:
        return _read(self._list(session_id)[1], self.generation(user_key))[0]

    def _list(self, key: str) -> tuple[float, list[bytes]]:
        entry = self._buffers.get(key)
        if entry is None or entry[0] <= self._clock():
            self._buffers.pop(key, None)
            return 0.0, []
        return entry[0], list(entry[1])

    def _put(self, key: str, expiry: float, entries: list[bytes]) -> None:
        if entries:
            self._buffers[key] = (expiry, entries)
        else:
            self._buffers.pop(key, None)

    def set_session_buffer(
        self,
        session_id: str,
        user_key: str,
        items: list[Scored],
        ttl_seconds: float | None = None,
        generation: int | None = None,
        keys: Keys | None = None,
    ) -> None:
        if generation is None:
            generation = self.generation(user_key)
        ttl = self._session_ttl if ttl_seconds is None else ttl_seconds
        self._put(session_id, self._clock() + ttl, _entries(generation, items, keys or {}))

    def generation(self, user_key: str) -> int:
        return self._generations.get(user_key, 0)

    def claim(self, key: str, ttl_seconds: float) -> bool:
        """True for the first caller until `ttl_seconds` pass (one job per user at a time)."""
        now = self._clock()
        if self._claims.get(key, 0.0) > now:
            return False
        self._claims[key] = now + ttl_seconds
        return True

    def release(self, key: str) -> None:
        self._claims.pop(key, None)

    def invalidate_buffers(self, user_key: str) -> None:
        self._generations[user_key] = self._generations.get(user_key, 0) + 1

    def load_page(
        self,
        session_id: str | None,
        buffer_key: str | None,
        ahead_key: str | None,
        user_key: str,
        take: int,
        attach: Attach | None = None,
        quick: QuickServe | None = None,
    ) -> PageState:
        generation = self.generation(user_key)
        expiry, buffer = self._list(buffer_key) if buffer_key else (0.0, [])
        ahead_expiry, ahead = self._list(ahead_key) if ahead_key else (0.0, [])
        taken, buffer, ahead, took_ahead = _take(buffer, ahead, take)
        if buffer_key:
            self._put(buffer_key, ahead_expiry if took_ahead else expiry, buffer)
        if ahead_key and took_ahead:
            self._put(ahead_key, 0.0, [])
        seen = self.seen(session_id) if session_id else set()
        return _taken_state(
            taken,
            buffer,
            ahead,
            took_ahead,
            generation,
            seen,
            lambda ids: self.served_among(user_key, ids),
        )

    def save_page(self, write: PageWrite, meanwhile: Callable[[], object] | None = None) -> bool:
        if meanwhile is not None:
            meanwhile()
        entries = _entries(write.generation, write.buffer, write.keys)
        ttl = self._session_ttl if write.buffer_ttl_seconds is None else write.buffer_ttl_seconds
        expiry, current = self._list(write.buffer_key)
        if write.replace_buffer or not current:
            self._put(write.buffer_key, self._clock() + ttl, entries)
        else:
            self._put(write.buffer_key, expiry, entries + current)
        self.add_seen(write.session_id, write.served)
        if write.served_user_key is not None:
            self.mark_served(write.served_user_key, write.served, write.serve_ttl_seconds)
        self.record_impressions(write.impressions)
        return bool(write.claim_key) and self.claim(str(write.claim_key), write.claim_ttl_seconds)


class RedisFeedStore:
    """Redis-backed store: a set per session, a sorted set per user, one impression list,
    a list per buffer.

    Keys: `{prefix}seen:{session}`, `{prefix}served:{user_key}`, `{prefix}impressions`,
    `{prefix}list:{buffer}`, `{prefix}generation:{user_key}`. The client may use bytes or
    decoded responses.
    """

    def __init__(
        self,
        redis_client: Any,
        prefix: str = "sprout:feed:",
        *,
        session_ttl_seconds: float = RANKING.session_ttl_seconds,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.r = redis_client
        self.prefix = prefix
        self._session_ttl = int(session_ttl_seconds)
        self._clock = clock
        self._take = redis_client.register_script(_TAKE)
        self._take_impressions = redis_client.register_script(_TAKE_IMPRESSIONS)
        self._save = redis_client.register_script(_SAVE)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @property
    def impressions_key(self) -> str:
        return self._k("impressions")

    def seen(self, session_id: str) -> set[int]:
        return {int(x) for x in self.r.smembers(self._k("seen", session_id))}

    def add_seen(self, session_id: str, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        key = self._k("seen", session_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.sadd(key, *ids)
        pipe.expire(key, self._session_ttl)
        pipe.execute()

    def recently_served(self, user_key: str) -> set[int]:
        key = self._k("served", user_key)
        now = self._clock()
        pipe = self.r.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zrangebyscore(key, f"({now}", "+inf")
        _, members = pipe.execute()
        return {int(x) for x in members}

    def served_among(self, user_key: str, ids: Iterable[int]) -> set[int]:
        asked = [int(i) for i in ids]
        if not asked:
            return set()
        now = self._clock()
        scores = self.r.zmscore(self._k("served", user_key), asked)  # type: ignore[arg-type]
        return {n for n, expiry in zip(asked, scores, strict=True) if expiry and expiry > now}

    def mark_served(self, user_key: str, ids: Iterable[int], ttl_seconds: float) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        key = self._k("served", user_key)
        exp = self._clock() + ttl_seconds
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(key, {str(n): exp for n in ids})
        pipe.zrange(key, -1, -1, withscores=True)
        _, last = pipe.execute()
        # the key lives as long as its longest-lived member (a shorter TTL must not cut it)
        latest = max(exp, last[0][1]) if last else exp
        self.r.expire(key, max(int(latest - self._clock()) + 1, 1))

    def record_impressions(self, items: Iterable[ImpressionLike]) -> None:
        rows = [orjson.dumps(list(Impression(*it))) for it in items]
        if rows:
            self.r.rpush(self.impressions_key, *rows)

    def session_buffer(self, session_id: str, user_key: str) -> list[Scored]:
        pipe = self.r.pipeline(transaction=False)
        pipe.lrange(self._buffer(session_id), 0, -1)
        pipe.get(self._k("generation", user_key))
        raw, generation = pipe.execute()
        return _read(raw, int(generation or 0))[0]

    def _buffer(self, buffer_key: str) -> str:
        return self._k("list", buffer_key)

    def set_session_buffer(
        self,
        session_id: str,
        user_key: str,
        items: list[Scored],
        ttl_seconds: float | None = None,
        generation: int | None = None,
        keys: Keys | None = None,
    ) -> None:
        if generation is None:
            generation = self.generation(user_key)
        ttl = self._session_ttl if ttl_seconds is None else max(int(ttl_seconds), 1)
        pipe = self.r.pipeline(transaction=True)  # readers see the old list or the new one
        self._replace(pipe, self._buffer(session_id), _entries(generation, items, keys or {}), ttl)
        pipe.execute()

    @staticmethod
    def _replace(pipe: Any, key: str, entries: list[bytes], ttl: int) -> None:
        pipe.delete(key)
        if entries:
            pipe.rpush(key, *entries)
            pipe.expire(key, ttl)

    def generation(self, user_key: str) -> int:
        """Bumped by `invalidate_buffers`: a buffer made under an older one is not served."""
        return int(self.r.get(self._k("generation", user_key)) or 0)

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(self.r.set(self._k("claim", key), 1, nx=True, ex=max(int(ttl_seconds), 1)))

    def release(self, key: str) -> None:
        self.r.delete(self._k("claim", key))

    def invalidate_buffers(self, user_key: str) -> None:
        key = self._k("generation", user_key)
        pipe = self.r.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, self._session_ttl)
        pipe.execute()

    def load_page(
        self,
        session_id: str | None,
        buffer_key: str | None,
        ahead_key: str | None,
        user_key: str,
        take: int,
        attach: Attach | None = None,
        quick: QuickServe | None = None,
    ) -> PageState:
        """One round trip (a script, so two pages never take the same entries), with the
        reads `attach` asks for; with `quick` (and `attach`), the page served and written
        in it too when it can be (`QuickServe`)."""
        spec = (
            orjson.dumps(
                {
                    "prefix": attach.value_prefix,
                    "markers": list(attach.markers),
                    "members": list(attach.member_prefixes),
                    "limit": attach.limit,
                }
            )
            if attach is not None
            else b""
        )
        keys = [
            self._k("generation", user_key),
            self._k("seen", session_id or "-"),
            self._buffer(buffer_key or "-"),
            self._buffer(ahead_key or "-"),
            (attach.set_key if attach is not None else None) or self._k("-"),
            self._k("served", user_key),
        ]
        args: list[Any] = [
            take if buffer_key else 0,
            int(bool(session_id)),
            int(bool(ahead_key)),
            spec,
            repr(self._clock()),
        ]
        if quick is not None and attach is not None and buffer_key and take >= quick.page_size:
            keys += [
                self._k("seen", quick.session_id),
                self.impressions_key,
                self._k("claim", quick.claim_key or "-"),
            ]
            args += self._quick_args(quick, attach)
        reply = self._take(keys=keys, args=args)
        generation, seen, taken, left, took_ahead, ahead_left, values, found, served = reply[:9]
        current = int(generation or 0)
        ids: list[int] = []
        items, keys_of = _read(taken, current, ids)
        page: list[Scored] | None = None
        if len(reply) > 9 and reply[10]:  # served by the script: its places among the taken
            page = [items[i - 1] for i in reply[10]]
        covered = [ids[i - 1] for i in reply[9]] if len(reply) > 9 else ids
        return PageState(
            seen={note_id for note_id, hit in zip(ids, seen, strict=False) if hit},
            seen_whole=False,
            served={note_id for note_id, hit in zip(ids, served, strict=False) if hit},
            buffer=items,
            stale=len(items) < len(taken),
            left=int(left),
            took_ahead=bool(took_ahead),
            ahead_left=int(ahead_left),
            generation=current,
            keys=keys_of,
            attached=_attached(attach, covered, values, found) if attach is not None else None,
            quick=page,
            claimed=bool(reply[11]) if len(reply) > 9 else False,
        )

    def _quick_args(self, quick: QuickServe, attach: Attach) -> list[Any]:
        """`_TAKE`'s ARGV from 6 on: see the script."""
        given = quick.buffer_ttl_seconds
        serving = quick.served_user_key is not None
        return [
            quick.page_size,
            self._session_ttl,
            max(int(quick.serve_ttl_seconds) + 1, 1) if serving else 0,
            repr(self._clock() + quick.serve_ttl_seconds),
            self._session_ttl if given is None else max(int(given), 1),
            # an impression is `[viewer, id, source, now, arm]` (`_impression` reads it back)
            b"[%b," % orjson.dumps(quick.viewer_id),
            b",%b,%b]" % (orjson.dumps(quick.now), orjson.dumps(quick.arm)),
            quick.claim_below,
            max(int(quick.claim_ttl_seconds), 1) if quick.claim_key else 0,
            len(attach.absent),
            *attach.absent,
            *(str(int(n)) for n in quick.history),
        ]

    def save_page(self, write: PageWrite, meanwhile: Callable[[], object] | None = None) -> bool:
        """One round trip for everything a page writes: a script given one JSON document
        (a pipeline of its eight commands cost more in the client's argument packing than
        the round trip itself). With `meanwhile`, the script is sent, `meanwhile` runs here
        while Redis runs the script, and then the reply is read."""
        entries = _entries(write.generation, write.buffer, write.keys)
        given = write.buffer_ttl_seconds
        serving = write.served_user_key is not None and bool(write.served)
        impressions = [orjson.dumps(list(Impression(*it))).decode() for it in write.impressions]
        document = {
            "replace": write.replace_buffer,
            # LPUSH puts each at the head in turn: the last pushed is first
            "back": [e.decode() for e in (entries if write.replace_buffer else entries[::-1])],
            "ttl": self._session_ttl if given is None else max(int(given), 1),
            "served": [str(int(n)) for n in write.served],
            "session_ttl": self._session_ttl,
            "serve_ttl": max(int(write.serve_ttl_seconds) + 1, 1) if serving else 0,
            "expiry": repr(self._clock() + write.serve_ttl_seconds),
            "impressions": impressions,
            "claim_ttl": max(int(write.claim_ttl_seconds), 1) if write.claim_key else 0,
        }
        keys = [
            self._buffer(write.buffer_key),
            self._k("seen", write.session_id),
            self._k("served", write.served_user_key or "-"),
            self.impressions_key,
            self._k("claim", write.claim_key or "-"),
        ]
        args = [orjson.dumps(document)]
        if meanwhile is None:
            return bool(self._save(keys=keys, args=args))
        return bool(self._overlapped(_SAVE, keys, args, meanwhile))

    def _overlapped(
        self, script: str, keys: list[str], args: list[Any], meanwhile: Callable[[], object]
    ) -> Any:
        """`script`'s reply, with `meanwhile` run between sending it and reading the reply.

        EVAL rather than EVALSHA: Redis keeps the compiled script by its hash either way, and
        a Redis that restarted since cannot answer NOSCRIPT after `meanwhile` has run. A
        connection that fails is dropped (the caller's fallback then redoes the write, so
        `meanwhile` must bear a second call); one whose reply was read goes back to the pool.
        """
        pool = self.r.connection_pool
        connection = pool.get_connection()
        read = False
        try:
            # (the pool has replaced a socket that Redis closed, as for any command)
            connection.send_command("EVAL", script, len(keys), *keys, *args)
            try:
                meanwhile()
            finally:
                reply = connection.read_response()
                read = True
        finally:
            if not read:
                connection.disconnect()
            pool.release(connection)
        return reply

    def _impression_batch(self, batch_id: str) -> str:
        return self._k("impressions", "batch", batch_id)

    def take_impressions(self, batch_id: str, max_items: int) -> list[Impression]:
        if max_items <= 0:
            return []
        batch = self._impression_batch(batch_id)
        keys = [self.impressions_key, batch, self._k("impressions", "batches")]
        if not int(self._take_impressions(keys=keys, args=[batch_id, max_items])):
            return []
        return [_impression(item) for item in self.r.lrange(batch, 0, -1)]

    def impression_batches(self) -> list[tuple[str, list[Impression]]]:
        ids = sorted(
            b.decode() if isinstance(b, bytes) else str(b)
            for b in self.r.smembers(self._k("impressions", "batches"))
        )
        if not ids:
            return []
        pipe = self.r.pipeline(transaction=False)
        for batch_id in ids:
            pipe.lrange(self._impression_batch(batch_id), 0, -1)
        return [
            (batch_id, [_impression(item) for item in raw])
            for batch_id, raw in zip(ids, pipe.execute(), strict=True)
        ]

    def forget_impressions(self, batch_id: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self._impression_batch(batch_id))
        pipe.srem(self._k("impressions", "batches"), batch_id)
        pipe.execute()


def _impression(raw: bytes | str) -> Impression:
    """One buffered impression as the Redis store keeps it (JSON; rows buffered before the
    experiment arm have four fields)."""
    u, n, s, ts, *arm = orjson.loads(raw)
    a = arm[0] if arm else None
    return Impression(
        None if u is None else int(u), int(n), str(s), float(ts), None if a is None else int(a)
    )


# KEYS: the impression buffer, the new batch, the batches' set. ARGV: the batch id, at most
# how many. The whole buffer is renamed when it fits; otherwise its head is copied over in
# chunks (a script's call takes a bounded number of arguments) and trimmed off.
_TAKE_IMPRESSIONS = """
local n = redis.call('LLEN', KEYS[1])
if n == 0 then return 0 end
local most = tonumber(ARGV[2])
if n <= most then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  n = most
  local items = redis.call('LRANGE', KEYS[1], 0, most - 1)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
  end
  redis.call('LTRIM', KEYS[1], most, -1)
end
redis.call('SADD', KEYS[3], ARGV[1])
return n
"""


# KEYS: generation, seen, buffer, ahead, the attached set, the user's served set. ARGV: how
# many entries to take, check the taken ids against the seen set (1/0), may move ahead (1/0),
# the `Attach` as JSON (or empty), now (served entries expire). Takes from the buffer's front;
# when it runs short, the pages ranked ahead become the buffer (keeping their time to live)
# and the take goes on from them. The attached values are read under keys made from the
# entries' ids, which a script on Redis Cluster may not do: one Redis (or a cluster's node
# per viewer, with the card store beside it) is assumed.
#
# `QuickServe` adds KEYS: the seen set written, the impression buffer, the claim; and ARGV
# from 6: the page size, the session's time to live, the served entries' (0: not signed
# in), their expiry, the buffer's time to live, an impression's head and tail around
# `id,"source"`, claim below how many left, the claim's time to live (0: none), how many
# absent values, those values, then the history's ids. When the page can be served here the
# reads attached are the page's, and its write is done as `_SAVE` would (no new buffer).
# Returns the take's nine values; with `QuickServe` also the places (among the taken) the
# attached reads are for, the page's places (empty: not served here), and the claim won.
_TAKE = """
local take = tonumber(ARGV[1])
local generation = tonumber(redis.call('GET', KEYS[1]) or '0')
local taken, ids, seen, served = {}, {}, {}, {}
local took_ahead = 0
local now = tonumber(ARGV[5])
-- up to `n` more entries from the buffer's front (then from the pages ranked ahead), with
-- their ids and whether the session saw them and the user was served them
local function pop(n)
  local first = #taken + 1
  local got = redis.call('LPOP', KEYS[3], n) or {}
  for _, entry in ipairs(got) do taken[#taken + 1] = entry end
  if #got < n and ARGV[3] == '1' and took_ahead == 0 and redis.call('EXISTS', KEYS[4]) == 1 then
    local ttl = redis.call('PTTL', KEYS[4])
    local ahead = redis.call('LRANGE', KEYS[4], 0, -1)
    redis.call('DEL', KEYS[4])
    for i = 1, #ahead, 500 do
      redis.call('RPUSH', KEYS[3], unpack(ahead, i, math.min(i + 499, #ahead)))
    end
    if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
    local more = redis.call('LPOP', KEYS[3], n - #got) or {}
    for _, entry in ipairs(more) do taken[#taken + 1] = entry end
    took_ahead = 1
  end
  if #taken < first then return first end
  local new = {}
  for i = first, #taken do
    ids[i] = string.match(taken[i], '^%[%-?%d+,(%d+)')
    new[#new + 1] = ids[i]
  end
  -- the session's seen set is asked about the taken ids only (it grows with the session)
  local hits = {}
  if ARGV[2] == '1' then hits = redis.call('SMISMEMBER', KEYS[2], unpack(new)) end
  -- and so is the user's served set: which were served to them since they were ranked
  local expiries = redis.call('ZMSCORE', KEYS[6], unpack(new))
  for j = 1, #new do
    seen[first + j - 1] = hits[j] or 0
    local expiry = expiries[j]
    served[first + j - 1] = (expiry and tonumber(expiry) > now) and 1 or 0
  end
  return first
end
if take > 0 then pop(take) end
local ahead_left = 0
-- a quick page: the first `size` entries neither seen, served nor in the history; when too
-- many of those taken were (pages ranked before others were served), more are taken, up to
-- three more times, rather than ranking in the request
local size = tonumber(ARGV[6] or '0')
local page, rest = {}, {}
if size > 0 then
  local absent = tonumber(ARGV[15])
  local skip, placed = {}, {}
  for i = 16 + absent, #ARGV do skip[ARGV[i]] = true end
  local from, rounds, ok = 1, 0, true
  while ok do
    for i = from, #taken do
      local id = ids[i]
      if tonumber(string.match(taken[i], '^%[(%-?%d+),')) ~= generation or placed[id] then
        ok = false
        break
      end
      if seen[i] ~= 1 and served[i] ~= 1 and not skip[id] then
        placed[id] = true
        if #page < size then page[#page + 1] = i else rest[#rest + 1] = i end
      end
    end
    if not ok or #page >= size or rounds == 3 then break end
    rounds = rounds + 1
    from = pop(take)
    if from > #taken then break end
  end
  if not ok or #page < size then page, rest = {}, {} end
end
if ARGV[3] == '1' then ahead_left = redis.call('LLEN', KEYS[4]) end
local cover = {}
if #page > 0 then cover = page else for i = 1, #ids do cover[i] = i end end
local values, found = {}, {}
if ARGV[4] ~= '' and #cover > 0 then
  local attach = cjson.decode(ARGV[4])
  local keys = {}
  for i = 1, math.min(#cover, attach.limit) do keys[i] = attach.prefix .. ids[cover[i]] end
  values = redis.call('MGET', unpack(keys))
  if #attach.markers + #attach.members > 0 then
    local members = {}
    for _, marker in ipairs(attach.markers) do members[#members + 1] = marker end
    for _, prefix in ipairs(attach.members) do
      for i = 1, #keys do members[#members + 1] = prefix .. ids[cover[i]] end
    end
    found = redis.call('SMISMEMBER', KEYS[5], unpack(members))
  end
end
if #page > 0 then
  local absent = {}
  for i = 16, 15 + tonumber(ARGV[15]) do absent[ARGV[i]] = true end
  for i = 1, #page do
    local value = values[i]
    if not value or absent[value] then page = {} break end
  end
end
local left = nil
local claimed = 0
if #page > 0 then
  local function push(command, key, list)
    for i = 1, #list, 500 do
      redis.call(command, key, unpack(list, i, math.min(i + 499, #list)))
    end
  end
  -- the rest back at the front, in order (LPUSH puts each at the head in turn)
  local back = {}
  for j = #rest, 1, -1 do back[#back + 1] = taken[rest[j]] end
  if #back > 0 then
    push('LPUSH', KEYS[3], back)
    if redis.call('TTL', KEYS[3]) < 0 then redis.call('EXPIRE', KEYS[3], ARGV[10]) end
  end
  local page_ids, impressions = {}, {}
  for j, i in ipairs(page) do
    page_ids[j] = ids[i]
    local source = string.match(taken[i], '^%[%-?%d+,%d+,[^,]*,("[^"]*")')
    impressions[j] = ARGV[11] .. ids[i] .. ',' .. source .. ARGV[12]
  end
  push('SADD', KEYS[7], page_ids)
  redis.call('EXPIRE', KEYS[7], ARGV[7])
  local serve_ttl = tonumber(ARGV[8])
  if serve_ttl > 0 then
    local pairs_ = {}
    for _, id in ipairs(page_ids) do
      pairs_[#pairs_ + 1] = ARGV[9]
      pairs_[#pairs_ + 1] = id
    end
    push('ZADD', KEYS[6], pairs_)
    if redis.call('TTL', KEYS[6]) < serve_ttl then redis.call('EXPIRE', KEYS[6], serve_ttl) end
  end
  push('RPUSH', KEYS[8], impressions)
  left = redis.call('LLEN', KEYS[3])
  local claim_ttl = tonumber(ARGV[14])
  if claim_ttl > 0 and left < tonumber(ARGV[13]) and ahead_left < size
    and redis.call('SET', KEYS[9], 1, 'NX', 'EX', claim_ttl) then
    claimed = 1
  end
end
local reply = {generation, seen, taken, left or redis.call('LLEN', KEYS[3]), took_ahead,
  ahead_left, values, found, served}
if size > 0 then
  reply[10] = cover
  reply[11] = page
  reply[12] = claimed
end
return reply
"""


# KEYS: buffer, seen, served, impressions, claim. ARGV[1]: the page's writes (`save_page`).
# Returns 1 when the page won the claim. Ids and scores travel as strings (Lua's numbers are
# doubles).
_SAVE = """
local w = cjson.decode(ARGV[1])
local function push(command, key, values)
  for i = 1, #values, 500 do
    redis.call(command, key, unpack(values, i, math.min(i + 499, #values)))
  end
end
if w.replace then redis.call('DEL', KEYS[1]) end
if #w.back > 0 then
  if w.replace then
    push('RPUSH', KEYS[1], w.back)
    redis.call('EXPIRE', KEYS[1], w.ttl)
  else
    push('LPUSH', KEYS[1], w.back)
    -- the ranking's age, not the page's: a time to live is set only where none is
    if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], w.ttl) end
  end
end
if #w.served > 0 then
  push('SADD', KEYS[2], w.served)
  redis.call('EXPIRE', KEYS[2], w.session_ttl)
  if w.serve_ttl > 0 then
    local pairs_ = {}
    for _, id in ipairs(w.served) do
      pairs_[#pairs_ + 1] = w.expiry
      pairs_[#pairs_ + 1] = id
    end
    push('ZADD', KEYS[3], pairs_)
    -- the key lives as long as its longest-lived member: set if new, else only extend
    if redis.call('TTL', KEYS[3]) < w.serve_ttl then
      redis.call('EXPIRE', KEYS[3], w.serve_ttl)
    end
  end
end
if #w.impressions > 0 then push('RPUSH', KEYS[4], w.impressions) end
if w.claim_ttl > 0 and redis.call('SET', KEYS[5], 1, 'NX', 'EX', w.claim_ttl) then
  return 1
end
return 0
"""


def _entries(generation: int, items: list[Scored], keys: Keys) -> list[bytes]:
    """One entry per card, in order: `[generation, id, score, source, author, channel,
    topic]` (the last three when the diversity keys are known). No score components: an
    explained page is ranked afresh."""
    out = []
    for s in items:
        key = keys.get(s.note_id)
        row: list[Any] = [generation, s.note_id, s.score, s.source]
        if key is not None:
            row += [key.author_id, key.channel, key.topic]
        out.append(orjson.dumps(row))
    return out


def _read(
    entries: Iterable[Any], generation: int, ids: list[int] | None = None
) -> tuple[list[Scored], dict[int, NoteKey]]:
    """The cards of the entries ranked under `generation` (older ones: feedback came since)
    and their diversity keys; `ids` gets every entry's id, in order."""
    items: list[Scored] = []
    keys: dict[int, NoteKey] = {}
    for raw in entries:
        row = orjson.loads(raw)
        note_id = int(row[1])
        if ids is not None:
            ids.append(note_id)
        if row[0] != generation:
            continue
        items.append(Scored(note_id, float(row[2]), str(row[3])))
        if len(row) >= 7:
            keys[note_id] = NoteKey(row[4], row[5], row[6])
    return items, keys


def _attached(attach: Attach, ids: list[int], values: list[Any], found: list[Any]) -> Attached:
    """The script's attached reads, by the taken entries' ids (the first `attach.limit`)."""
    ids = ids[: len(values)]
    if not ids:
        return Attached({})
    n, m = len(ids), len(attach.markers)
    members = {
        note_id: tuple(bool(found[m + k * n + i]) for k in range(len(attach.member_prefixes)))
        for i, note_id in enumerate(ids)
    }
    return Attached(
        values=dict(zip(ids, values, strict=True)),
        markers=tuple(bool(x) for x in found[:m]),
        members=members,
    )


def _taken_state(
    taken: list[bytes],
    buffer: list[bytes],
    ahead: list[bytes],
    took_ahead: bool,
    generation: int,
    seen: set[int],
    served_among: Callable[[list[int]], set[int]],
) -> PageState:
    """The page state of a `_take` (the stores that hold lists in Python); `served_among`
    says which of the taken ids the user was served (`FeedStore.served_among`)."""
    ids: list[int] = []
    items, keys = _read(taken, generation, ids)
    return PageState(
        seen=seen,
        served=served_among(ids) if ids else set(),
        buffer=items,
        stale=len(items) < len(taken),
        left=len(buffer),
        took_ahead=took_ahead,
        ahead_left=len(ahead),
        generation=generation,
        keys=keys,
    )


def _take(
    buffer: list[bytes], ahead: list[bytes], take: int
) -> tuple[list[bytes], list[bytes], list[bytes], bool]:
    """`_TAKE` for the stores that hold lists in Python: (taken, buffer left, ahead left,
    whether ahead became the buffer)."""
    taken, buffer = buffer[:take], buffer[take:]
    if len(taken) >= take or not ahead:
        return taken, buffer, ahead, False
    more = take - len(taken)
    return taken + ahead[:more], ahead[more:], [], True


class DiskFeedStore:
    """The embedded mode's shared store: the same state as `RedisFeedStore`, in a diskcache
    directory that every process on the machine opens (SQLite underneath; each
    read-modify-write runs in one of its transactions, so processes never lose each other's
    writes). Expiry is diskcache's own, per key."""

    def __init__(
        self,
        cache: Any,
        *,
        session_ttl_seconds: float = RANKING.session_ttl_seconds,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self._session_ttl = session_ttl_seconds
        self._clock = clock

    def seen(self, session_id: str) -> set[int]:
        return set(self.cache.get(f"seen:{session_id}", (), retry=True))

    def add_seen(self, session_id: str, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        key = f"seen:{session_id}"
        with self.cache.transact(retry=True):
            current = set(self.cache.get(key, ()))
            current.update(ids)
            self.cache.set(key, current, expire=self._session_ttl)

    def recently_served(self, user_key: str) -> set[int]:
        now = self._clock()
        served: dict[int, float] = self.cache.get(f"served:{user_key}", {}, retry=True)
        return {n for n, exp in served.items() if exp > now}

    def served_among(self, user_key: str, ids: Iterable[int]) -> set[int]:
        now = self._clock()
        served: dict[int, float] = self.cache.get(f"served:{user_key}", {}, retry=True)
        return {n for n in map(int, ids) if served.get(n, 0.0) > now}

    def mark_served(self, user_key: str, ids: Iterable[int], ttl_seconds: float) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        key = f"served:{user_key}"
        with self.cache.transact(retry=True):
            self._mark_served(key, ids, ttl_seconds)

    def _mark_served(self, key: str, ids: list[int], ttl_seconds: float) -> None:
        now = self._clock()
        served = {n: e for n, e in self.cache.get(key, {}).items() if e > now}
        served.update(dict.fromkeys(ids, now + ttl_seconds))
        self.cache.set(key, served, expire=max(served.values()) - now + 1)

    def record_impressions(self, items: Iterable[ImpressionLike]) -> None:
        rows = [tuple(Impression(*it)) for it in items]
        if rows:
            with self.cache.transact(retry=True):
                for row in rows:
                    self.cache.push(row, prefix="impressions")

    def _pull_impressions(self, max_items: int) -> list[Impression]:
        out: list[Impression] = []
        with self.cache.transact(retry=True):
            while len(out) < max_items:
                _, row = self.cache.pull(prefix="impressions")
                if row is None:
                    break
                out.append(Impression(*row))
        return out

    def take_impressions(self, batch_id: str, max_items: int) -> list[Impression]:
        with self.cache.transact(retry=True):
            batch = self._pull_impressions(max_items)
            if batch:
                self.cache.set(f"impressions:batch:{batch_id}", [tuple(b) for b in batch])
                self.cache.set(
                    "impressions:batches", [*self.cache.get("impressions:batches", []), batch_id]
                )
        return batch

    def impression_batches(self) -> list[tuple[str, list[Impression]]]:
        with self.cache.transact(retry=True):
            ids = sorted(self.cache.get("impressions:batches", []))
            return [
                (b, [Impression(*row) for row in self.cache.get(f"impressions:batch:{b}", [])])
                for b in ids
            ]

    def forget_impressions(self, batch_id: str) -> None:
        with self.cache.transact(retry=True):
            self.cache.delete(f"impressions:batch:{batch_id}")
            ids = self.cache.get("impressions:batches", [])
            self.cache.set("impressions:batches", [b for b in ids if b != batch_id])

    def session_buffer(self, session_id: str, user_key: str) -> list[Scored]:
        entries = self.cache.get(f"list:{session_id}", [], retry=True)
        return _read(entries, self.generation(user_key))[0]

    def set_session_buffer(
        self,
        session_id: str,
        user_key: str,
        items: list[Scored],
        ttl_seconds: float | None = None,
        generation: int | None = None,
        keys: Keys | None = None,
    ) -> None:
        if generation is None:
            generation = self.generation(user_key)
        ttl = self._session_ttl if ttl_seconds is None else max(ttl_seconds, 1.0)
        with self.cache.transact(retry=True):
            self._put(f"list:{session_id}", _entries(generation, items, keys or {}), ttl)

    def _put(self, key: str, entries: list[bytes], ttl: float | None) -> None:
        if entries:
            self.cache.set(key, entries, expire=ttl)
        else:
            self.cache.delete(key)

    def _list(self, key: str) -> tuple[list[bytes], float | None]:
        """The entries and their remaining time to live (None: none set)."""
        entries, expires_at = self.cache.get(key, [], expire_time=True)
        return entries, None if expires_at is None else max(expires_at - time.time(), 1.0)

    def generation(self, user_key: str) -> int:
        return int(self.cache.get(f"generation:{user_key}", 0, retry=True))

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(self.cache.add(f"claim:{key}", 1, expire=max(ttl_seconds, 1.0), retry=True))

    def release(self, key: str) -> None:
        self.cache.delete(f"claim:{key}", retry=True)

    def invalidate_buffers(self, user_key: str) -> None:
        key = f"generation:{user_key}"
        with self.cache.transact(retry=True):
            self.cache.set(key, int(self.cache.get(key, 0)) + 1, expire=self._session_ttl)

    def load_page(
        self,
        session_id: str | None,
        buffer_key: str | None,
        ahead_key: str | None,
        user_key: str,
        take: int,
        attach: Attach | None = None,
        quick: QuickServe | None = None,
    ) -> PageState:
        """One transaction for everything a page reads and takes."""
        with self.cache.transact(retry=True):
            current = int(self.cache.get(f"generation:{user_key}", 0))
            seen = set(self.cache.get(f"seen:{session_id}", ())) if session_id else set()
            buffer, ttl = self._list(f"list:{buffer_key}") if buffer_key else ([], None)
            ahead, ahead_ttl = self._list(f"list:{ahead_key}") if ahead_key else ([], None)
            taken, buffer, ahead, took_ahead = _take(buffer, ahead, take)
            if taken and buffer_key:
                self._put(f"list:{buffer_key}", buffer, ahead_ttl if took_ahead else ttl)
            if took_ahead:
                self.cache.delete(f"list:{ahead_key}")
        return _taken_state(
            taken,
            buffer,
            ahead,
            took_ahead,
            current,
            seen,
            lambda ids: self.served_among(user_key, ids),
        )

    def save_page(self, write: PageWrite, meanwhile: Callable[[], object] | None = None) -> bool:
        """One write transaction for everything a page writes."""
        if meanwhile is not None:
            meanwhile()
        entries = _entries(write.generation, write.buffer, write.keys)
        given = write.buffer_ttl_seconds
        ttl = self._session_ttl if given is None else max(given, 1.0)
        with self.cache.transact(retry=True):
            buffer_key = f"list:{write.buffer_key}"
            current, left = self._list(buffer_key)
            if write.replace_buffer or not current:
                self._put(buffer_key, entries, ttl)
            elif entries:
                self._put(buffer_key, entries + current, left)
            if write.served:
                seen_key = f"seen:{write.session_id}"
                seen = set(self.cache.get(seen_key, ()))
                seen.update(int(n) for n in write.served)
                self.cache.set(seen_key, seen, expire=self._session_ttl)
                if write.served_user_key is not None:
                    self._mark_served(
                        f"served:{write.served_user_key}",
                        [int(n) for n in write.served],
                        write.serve_ttl_seconds,
                    )
            for row in write.impressions:
                self.cache.push(tuple(Impression(*row)), prefix="impressions")
        return bool(write.claim_key) and self.claim(str(write.claim_key), write.claim_ttl_seconds)
