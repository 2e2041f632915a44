"""State that every process of a deployment must agree on (version counters, once-per-interval
claims, rate-limit windows, feed sessions), behind one small interface.

Services mode keeps it in Redis. Embedded mode has no server to run, yet `make run` starts
several gunicorn workers: there it lives in a diskcache store (SQLite in WAL mode, locked
per transaction) under `SPROUT_DATA_DIR/shared`, which every process on the machine opens.
Nothing here may be a module global or an `app.extensions` value alone: those are per process.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Protocol

import diskcache
import redis
from limits.storage import MovingWindowSupport, Storage

log = logging.getLogger(__name__)


class SharedState(Protocol):
    def incr(self, key: str) -> int: ...

    def get_int(self, key: str) -> int: ...

    def claim(self, key: str, ttl_seconds: float) -> bool:
        """True for the first caller until `ttl_seconds` pass (SET NX EX)."""
        ...


class RedisState:
    def __init__(self, connection: redis.Redis) -> None:
        self.r = connection

    def incr(self, key: str) -> int:
        return int(self.r.incr(key))

    def get_int(self, key: str) -> int:
        return int(self.r.get(key) or 0)

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(self.r.set(key, 1, nx=True, ex=max(int(ttl_seconds), 1)))


def open_disk_cache(directory: Path) -> diskcache.Cache:
    """The embedded store. `timeout` waits for another process's transaction instead of
    failing; the size limit only culls expired or least recently stored entries."""
    directory.mkdir(parents=True, exist_ok=True)
    return diskcache.Cache(str(directory), timeout=30, size_limit=2**30)


class DiskState:
    def __init__(self, cache: diskcache.Cache) -> None:
        self.cache = cache

    def incr(self, key: str) -> int:
        return int(self.cache.incr(key, default=0, retry=True))

    def get_int(self, key: str) -> int:
        return int(self.cache.get(key, default=0, retry=True))

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(self.cache.add(key, 1, expire=ttl_seconds, retry=True))


class DiskcacheStorage(Storage, MovingWindowSupport):
    """A `limits` storage over the embedded store, so the same moving-window limiter counts
    each request once across every process of `make run` (`memory://` counts per process).

    URI: `sprout-diskcache:///absolute/path/to/directory`."""

    STORAGE_SCHEME = ["sprout-diskcache"]  # noqa: RUF012 (the base class declares a list)

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        self.cache = open_disk_cache(Path(uri.split("://", 1)[1]))
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return diskcache.Timeout

    # Fixed window (not used by the app's moving-window limiter, but part of the interface).
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self.cache.transact(retry=True):
            now = time.time()
            expires_at = self.cache.get(f"{key}:exp")
            if expires_at is None or expires_at <= now:
                expires_at, value = now + expiry, amount
            else:
                value = int(self.cache.get(key, 0)) + amount
            ttl = max(expires_at - now, 0.001)
            self.cache.set(key, value, expire=ttl)
            self.cache.set(f"{key}:exp", expires_at, expire=ttl)
        return value

    def get(self, key: str) -> int:
        return int(self.cache.get(key, 0, retry=True))

    def get_expiry(self, key: str) -> float:
        return float(self.cache.get(f"{key}:exp", time.time(), retry=True))

    def check(self) -> bool:
        try:
            self.cache.get("-", retry=True)
            return True
        except Exception:
            return False

    def reset(self) -> int | None:
        return self.cache.clear(retry=True)

    def clear(self, key: str) -> None:
        for suffix in ("", ":exp", ":window"):
            self.cache.delete(key + suffix, retry=True)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Timestamps of the window's entries, newest first, trimmed to `limit`; taken under
        the store's write lock, so concurrent processes cannot both take the last slot."""
        if amount > limit:
            return False
        now = time.time()
        window_key = key + ":window"
        with self.cache.transact(retry=True):
            entries: list[float] = [t for t in self.cache.get(window_key, []) if t >= now - expiry]
            if len(entries) + amount > limit:
                return False
            entries[:0] = [now] * amount
            self.cache.set(window_key, entries[:limit], expire=expiry)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        entries = [t for t in self.cache.get(key + ":window", [], retry=True) if t >= now - expiry]
        return (entries[-1], len(entries)) if entries else (now, 0)


class FallbackFeedStore:
    """Services mode's feed store while Redis is unreachable: each call that fails on Redis
    is served by the embedded store instead, so feeds keep working (sessions that began in
    Redis start over; nothing is lost but a session's seen set)."""

    def __init__(self, primary: Any, fallback: Any) -> None:
        self._primary = primary
        self._fallback = fallback

    def __getattr__(self, name: str) -> Any:
        primary = getattr(self._primary, name)
        if not callable(primary):
            return primary

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return primary(*args, **kwargs)
            except redis.RedisError:
                log.warning("feed store: Redis unreachable, %s served from disk", name)
                return getattr(self._fallback, name)(*args, **kwargs)

        return call
