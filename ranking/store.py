"""Feed state: what a session has seen, what a user was served recently, impression buffer,
and each session's buffer of ranked cards not served yet (the next pages). A user's buffers
are dropped at once (`invalidate_buffers`) when their feedback must change what comes next.

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


@dataclass
class PageState:
    """What serving one feed page reads: the session's seen notes, its buffer of ranked cards
    and the viewer's cards ranked ahead (`load_page`)."""

    seen: set[int] = field(default_factory=set)
    buffer: list[Scored] = field(default_factory=list)
    ahead: list[Scored] = field(default_factory=list)
    generation: int = 0  # the viewer's buffer generation when read
    keys: dict[int, NoteKey] = field(default_factory=dict)  # of the buffered and ahead cards


@dataclass
class PageWrite:
    """What serving one feed page writes (`save_page`), in one round trip."""

    session_id: str
    user_key: str
    served: list[int]
    buffer_key: str
    buffer: list[Scored]
    impressions: list[ImpressionLike]
    buffer_ttl_seconds: float | None = None  # None: the session's lifetime
    served_user_key: str | None = None  # signed-in viewers: recently served notes
    serve_ttl_seconds: float = 0.0
    drop_ahead_key: str | None = None  # the cards ranked ahead were taken over
    generation: int = 0  # `PageState.generation`: feedback since then voids the new buffer
    keys: Keys = field(default_factory=dict)  # of the buffer's and the served cards


@runtime_checkable
class FeedStore(Protocol):
    def seen(self, session_id: str) -> set[int]: ...

    def add_seen(self, session_id: str, ids: Iterable[int]) -> None: ...

    def recently_served(self, user_key: str) -> set[int]: ...

    def mark_served(self, user_key: str, ids: Iterable[int], ttl_seconds: float) -> None: ...

    def record_impressions(self, items: Iterable[ImpressionLike]) -> None: ...

    def drain_impressions(self, max_items: int) -> list[Impression]: ...

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
        self, session_id: str | None, buffer_key: str | None, ahead_key: str | None, user_key: str
    ) -> PageState: ...

    def save_page(self, write: PageWrite) -> None: ...


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
        self._buffers: dict[str, tuple[float, int, list[Scored]]] = {}
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

    def mark_served(self, user_key: str, ids: Iterable[int], ttl_seconds: float) -> None:
        exp = self._clock() + ttl_seconds
        served = self._served.setdefault(user_key, {})
        for n in ids:
            served[int(n)] = exp

    def record_impressions(self, items: Iterable[ImpressionLike]) -> None:
        self._impressions.extend(Impression(*it) for it in items)

    def drain_impressions(self, max_items: int) -> list[Impression]:
        out = []
        while self._impressions and len(out) < max_items:
            out.append(self._impressions.popleft())
        return out

    def session_buffer(self, session_id: str, user_key: str) -> list[Scored]:
        return self._entry(session_id, user_key)[0]

    def _entry(self, session_id: str, user_key: str) -> tuple[list[Scored], dict[int, NoteKey]]:
        entry = self._buffers.get(session_id)
        if entry is None or entry[0] <= self._clock():
            self._buffers.pop(session_id, None)
            return [], {}
        if entry[1] != self._generations.get(user_key, 0):
            return [], {}
        return list(entry[2]), dict(entry[3])

    def set_session_buffer(
        self,
        session_id: str,
        user_key: str,
        items: list[Scored],
        ttl_seconds: float | None = None,
        generation: int | None = None,
        keys: Keys | None = None,
    ) -> None:
        if not items:
            self._buffers.pop(session_id, None)
            return
        if generation is None:
            generation = self.generation(user_key)
        ttl = self._session_ttl if ttl_seconds is None else ttl_seconds
        self._buffers[session_id] = (self._clock() + ttl, generation, list(items), dict(keys or {}))

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
        self, session_id: str | None, buffer_key: str | None, ahead_key: str | None, user_key: str
    ) -> PageState:
        buffer, keys = self._entry(buffer_key, user_key) if buffer_key else ([], {})
        ahead, ahead_keys = self._entry(ahead_key, user_key) if ahead_key else ([], {})
        return PageState(
            seen=self.seen(session_id) if session_id else set(),
            buffer=buffer,
            ahead=ahead,
            generation=self.generation(user_key),
            keys={**ahead_keys, **keys},
        )

    def save_page(self, write: PageWrite) -> None:
        self.set_session_buffer(
            write.buffer_key,
            write.user_key,
            write.buffer,
            generation=write.generation,
            keys=write.keys,
        )
        if write.drop_ahead_key:
            self.set_session_buffer(write.drop_ahead_key, write.user_key, [])
        self.add_seen(write.session_id, write.served)
        if write.served_user_key is not None:
            self.mark_served(write.served_user_key, write.served, write.serve_ttl_seconds)
        self.record_impressions(write.impressions)


class RedisFeedStore:
    """Redis-backed store: a set per session, a sorted set per user, one impression list.

    Keys: `{prefix}seen:{session}`, `{prefix}served:{user_key}`, `{prefix}impressions`.
    The client may use bytes or decoded responses.
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
        pipe.get(self._k("buffer", session_id))
        pipe.get(self._k("generation", user_key))
        raw, generation = pipe.execute()
        return _decode(raw, int(generation or 0))[0]

    def set_session_buffer(
        self,
        session_id: str,
        user_key: str,
        items: list[Scored],
        ttl_seconds: float | None = None,
        generation: int | None = None,
        keys: Keys | None = None,
    ) -> None:
        key = self._k("buffer", session_id)
        if not items:
            self.r.delete(key)
            return
        if generation is None:
            generation = self.generation(user_key)
        ttl = self._session_ttl if ttl_seconds is None else max(int(ttl_seconds), 1)
        self.r.set(key, _encode(generation, items, keys or {}), ex=ttl)

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
        self, session_id: str | None, buffer_key: str | None, ahead_key: str | None, user_key: str
    ) -> PageState:
        """One round trip for everything a page reads."""
        pipe = self.r.pipeline(transaction=False)
        pipe.get(self._k("generation", user_key))
        pipe.smembers(self._k("seen", session_id or "-"))
        pipe.get(self._k("buffer", buffer_key or "-"))
        pipe.get(self._k("buffer", ahead_key or "-"))
        generation, seen, buffer, ahead = pipe.execute()
        current = int(generation or 0)
        buffer_items, keys = _decode(buffer, current) if buffer_key else ([], {})
        ahead_items, ahead_keys = _decode(ahead, current) if ahead_key else ([], {})
        return PageState(
            seen={int(x) for x in seen} if session_id else set(),
            buffer=buffer_items,
            ahead=ahead_items,
            generation=current,
            keys={**ahead_keys, **keys},
        )

    def save_page(self, write: PageWrite) -> None:
        """One round trip for everything a page writes."""
        pipe = self.r.pipeline(transaction=False)
        buffer_key = self._k("buffer", write.buffer_key)
        if write.buffer:
            body = _encode(write.generation, write.buffer, write.keys)
            ttl = write.buffer_ttl_seconds
            pipe.set(buffer_key, body, ex=self._session_ttl if ttl is None else max(int(ttl), 1))
        else:
            pipe.delete(buffer_key)
        if write.drop_ahead_key:
            pipe.delete(self._k("buffer", write.drop_ahead_key))
        if write.served:
            seen_key = self._k("seen", write.session_id)
            pipe.sadd(seen_key, *write.served)
            pipe.expire(seen_key, self._session_ttl)
        if write.served and write.served_user_key is not None:
            served_key = self._k("served", write.served_user_key)
            ttl = max(int(write.serve_ttl_seconds) + 1, 1)
            expiry = self._clock() + write.serve_ttl_seconds
            pipe.zadd(served_key, {str(n): expiry for n in write.served})
            # the key lives as long as its longest-lived member: set if new, else only extend
            pipe.expire(served_key, ttl, nx=True)
            pipe.expire(served_key, ttl, gt=True)
        rows = [orjson.dumps(list(Impression(*it))) for it in write.impressions]
        if rows:
            pipe.rpush(self.impressions_key, *rows)
        pipe.execute()

    def drain_impressions(self, max_items: int) -> list[Impression]:
        """Atomically take up to `max_items` from the head of the buffer."""
        if max_items <= 0:
            return []
        pipe = self.r.pipeline(transaction=True)
        pipe.lrange(self.impressions_key, 0, max_items - 1)
        pipe.ltrim(self.impressions_key, max_items, -1)
        raw, _ = pipe.execute()
        out = []
        for item in raw:
            u, n, s, ts, *arm = orjson.loads(item)  # rows buffered before the arm: 4 fields
            a = arm[0] if arm else None
            out.append(
                Impression(
                    None if u is None else int(u),
                    int(n),
                    str(s),
                    float(ts),
                    None if a is None else int(a),
                )
            )
        return out


def _encode(generation: int, items: list[Scored], keys: Keys) -> bytes:
    # orjson: a buffer of ten pages is read and written on every page served, so it keeps
    # no score components (explained pages are ranked afresh)
    return orjson.dumps(
        [
            generation,
            [[s.note_id, s.score, s.source] for s in items],
            [[n, *k] for n, k in keys.items()],
        ]
    )


def _decode(raw: Any, generation: int) -> tuple[list[Scored], dict[int, NoteKey]]:
    """A stored buffer's cards and their keys, or none if made under an older generation."""
    if raw is None:
        return [], {}
    stored_generation, items, *rest = orjson.loads(raw)
    if stored_generation != generation:
        return [], {}
    keys = {int(n): NoteKey(a, c, t) for n, a, c, t in (rest[0] if rest else [])}
    # (buffers written before components were left out have a fourth field)
    return [Scored(int(row[0]), float(row[1]), str(row[2])) for row in items], keys


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

    def drain_impressions(self, max_items: int) -> list[Impression]:
        out: list[Impression] = []
        with self.cache.transact(retry=True):
            while len(out) < max_items:
                _, row = self.cache.pull(prefix="impressions")
                if row is None:
                    break
                out.append(Impression(*row))
        return out

    def session_buffer(self, session_id: str, user_key: str) -> list[Scored]:
        raw = self.cache.get(f"buffer:{session_id}", retry=True)
        return _decode(raw, self.generation(user_key))[0]

    def set_session_buffer(
        self,
        session_id: str,
        user_key: str,
        items: list[Scored],
        ttl_seconds: float | None = None,
        generation: int | None = None,
        keys: Keys | None = None,
    ) -> None:
        key = f"buffer:{session_id}"
        if not items:
            self.cache.delete(key, retry=True)
            return
        if generation is None:
            generation = self.generation(user_key)
        ttl = self._session_ttl if ttl_seconds is None else max(ttl_seconds, 1.0)
        self.cache.set(key, _encode(generation, items, keys or {}), expire=ttl, retry=True)

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
        self, session_id: str | None, buffer_key: str | None, ahead_key: str | None, user_key: str
    ) -> PageState:
        """One read transaction for everything a page reads."""
        with self.cache.transact(retry=True):
            current = int(self.cache.get(f"generation:{user_key}", 0))
            seen = set(self.cache.get(f"seen:{session_id}", ())) if session_id else set()
            buffer = self.cache.get(f"buffer:{buffer_key}") if buffer_key else None
            ahead = self.cache.get(f"buffer:{ahead_key}") if ahead_key else None
        buffer_items, keys = _decode(buffer, current)
        ahead_items, ahead_keys = _decode(ahead, current)
        return PageState(
            seen=seen,
            buffer=buffer_items,
            ahead=ahead_items,
            generation=current,
            keys={**ahead_keys, **keys},
        )

    def save_page(self, write: PageWrite) -> None:
        """One write transaction for everything a page writes."""
        with self.cache.transact(retry=True):
            buffer_key = f"buffer:{write.buffer_key}"
            if write.buffer:
                ttl = write.buffer_ttl_seconds
                self.cache.set(
                    buffer_key,
                    _encode(write.generation, write.buffer, write.keys),
                    expire=self._session_ttl if ttl is None else max(ttl, 1.0),
                )
            else:
                self.cache.delete(buffer_key)
            if write.drop_ahead_key:
                self.cache.delete(f"buffer:{write.drop_ahead_key}")
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
