"""What one process keeps between feed requests: the candidate catalogue, note features, the
built models and card parts. Each is made once per app (`app.feeds.state.FeedsState`); the
state shared across processes is in the feed store and the shared state, not here."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from cachetools import TTLCache
from flask import current_app

from app.core.config import Settings
from app.feeds.ranking_data import fallback_order, model_blob, model_built_at, note_features
from app.notes.models import Note
from ranking.catalogue import PreparedCatalogue
from ranking.config import HOT, RANKING
from ranking.signals.exploration import TrafficPool
from ranking.signals.hot import hot_score
from ranking.types import NoteFeatures

log = logging.getLogger(__name__)

M = TypeVar("M")


@dataclass
class Catalogue:
    """The candidate notes of every ranked feed, shared by the requests of one process."""

    notes: dict[int, NoteFeatures]
    hot: dict[int, float]
    built: float
    prepared: PreparedCatalogue
    by_channel: dict[str, dict[int, NoteFeatures]]


class CatalogueCache:
    """Built on first use; afterwards rebuilt in a background thread when it is older than
    `ranking_cache_seconds`, while requests go on with the previous one (a rebuild reads
    thousands of rows: no request should wait for it)."""

    def __init__(self, hot_half_life: Callable[[], float] | None = None) -> None:
        self._lock = threading.Lock()
        self._value: Catalogue | None = None
        self._refreshing = False
        # the hot half-life in use (the learned blend's when its fit was kept)
        self._half_life = hot_half_life or (lambda: HOT.half_life_seconds)

    def get(self, settings: Settings) -> Catalogue:
        value = self._value
        if value is None or settings.ranking_cache_seconds <= 0:  # 0: no caching at all
            with self._lock:
                if settings.ranking_cache_seconds <= 0:
                    self._value = None
                if self._value is None:
                    self._value = build_catalogue(settings, self._half_life())
                return self._value
        if time.monotonic() - value.built >= settings.ranking_cache_seconds:
            self._refresh_in_background(settings)
        return value

    def _refresh_in_background(self, settings: Settings) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def rebuild() -> None:
            try:
                with app.app_context():
                    self._value = build_catalogue(settings, self._half_life())
            except Exception:  # keep serving the old catalogue; the next request retries
                log.exception("rebuilding the ranking catalogue failed")
            finally:
                self._refreshing = False

        threading.Thread(target=rebuild, name="catalogue-refresh", daemon=True).start()

    def invalidate(self) -> None:
        """The next request rebuilds synchronously (after an admin rebuild)."""
        with self._lock:
            self._value = None


def build_catalogue(
    settings: Settings, half_life_seconds: float = HOT.half_life_seconds
) -> Catalogue:
    """The hottest and the newest notes, with their hot scores (at `half_life_seconds`) and
    the traffic pool's view."""
    notes = note_features(
        order_by=(Note.hot_score.desc(), Note.id.desc()), limit=settings.ranking_catalogue_hot
    )
    notes.update(
        note_features(
            order_by=(Note.published_at.desc(), Note.id.desc()),
            limit=settings.ranking_catalogue_new,
        )
    )
    now = time.time()
    hot = {i: hot_score(f, now, half_life_seconds) for i, f in notes.items()}
    by_channel: dict[str, dict[int, NoteFeatures]] = {}
    for note_id, f in notes.items():
        if f.channel is not None:
            by_channel.setdefault(f.channel, {})[note_id] = f
    return Catalogue(
        notes=notes,
        hot=hot,
        built=time.monotonic(),
        prepared=PreparedCatalogue.build(notes, hot, now, TrafficPool(RANKING.exploration)),
        by_channel=by_channel,
    )


class FeatureCache:
    """Features of notes outside the catalogue (CF neighbours, a user's history), kept for a
    short while: most are asked for again by the next requests. Their labels and authors
    hardly change; their counts only matter inside the catalogue, which is rebuilt apart.

    A plain dict of (expiry, features) rather than a `TTLCache`: a ranking-ahead job looks
    up about 1,500 ids, and a `TTLCache` lookup cost 45 times a dict's (4.5 µs against
    0.1), about a sixth of the job. Every entry lives `ttl_seconds`, so the oldest inserted
    are the first to expire; past `size` entries they go first. Reads take no lock (a dict
    read is atomic); writes do."""

    def __init__(self, ttl_seconds: float, size: int) -> None:
        self._ttl = max(ttl_seconds, 1e-3)
        self._size = max(size, 1)
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, NoteFeatures | None]] = {}

    def __call__(self, note_ids: Iterable[int]) -> dict[int, NoteFeatures]:
        now = time.monotonic()
        entries = self._entries
        result: dict[int, NoteFeatures] = {}
        missing: list[int] = []
        for note_id in set(note_ids):
            hit = entries.get(note_id)
            if hit is None or hit[0] <= now:
                missing.append(note_id)
            elif hit[1] is not None:
                result[note_id] = hit[1]
        if not missing:
            return result
        loaded = note_features(missing)
        expires = now + self._ttl
        with self._lock:
            for note_id in missing:  # invisible notes too, as None
                entries.pop(note_id, None)  # inserted anew, so last in the eviction order
                entries[note_id] = (expires, loaded.get(note_id))
            for old in list(itertools.islice(entries, max(len(entries) - self._size, 0))):
                del entries[old]
        result.update(loaded)
        return result


class FallbackOrder:
    """The first `size` notes in fallback order per channel, kept `ttl_seconds`: a long
    scroll that runs out of ranked candidates asks for more on every page, and each ask
    sorted the whole notes table. The order is lifetime engagement, which a few minutes
    hardly move; visibility is checked again when the cards are read."""

    def __init__(self, ttl_seconds: float, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._cache: TTLCache[str, list[int]] = TTLCache(64, max(ttl_seconds, 1e-3))

    def ids(self, n: int, exclude: frozenset[int], channel: str | None) -> list[int] | None:
        """The next `n` ids outside `exclude`; None past the kept part (ask the database)."""
        with self._lock:
            order = self._cache.get(channel or "")
        if order is None:
            order = fallback_order(self.size, channel)
            with self._lock:
                self._cache[channel or ""] = order
        ids = list(itertools.islice((i for i in order if i not in exclude), n))
        if len(ids) < n and len(order) >= self.size:
            return None
        return ids


class ModelCache(Generic[M]):
    """A built model loaded once per process and reloaded when a newer build is stored.

    By default the request that finds `check_every_seconds` gone by looks for a newer build
    and loads it. A process that runs `ModelKeeper` has its models kept by that thread
    instead (`keep`): once the keeper's first look is done, `get` only returns the model."""

    def __init__(
        self, name: str, loader: Callable[[bytes], M], check_every_seconds: float = 30.0
    ) -> None:
        self.name, self.loader, self.check_every = name, loader, check_every_seconds
        self._lock = threading.Lock()
        self._model: M | None = None
        self._built_at: datetime | None = None
        self._checked = 0.0
        self._kept = False  # a keeper thread looks for new builds (`keep`)
        self._kept_ready = False  # ... and has looked at least once

    def get(self) -> M | None:
        if self._kept_ready:
            return self._model
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self._model
        with self._lock:
            if now - self._checked < self.check_every:  # another thread just looked
                return self._model
            return self._look()

    def refresh(self) -> M | None:
        """Look for a newer build now and load it (the keeper's turn)."""
        with self._lock:
            return self._look()

    def _look(self) -> M | None:
        self._checked = time.monotonic()
        built_at = model_built_at(self.name)
        if built_at is not None and built_at != self._built_at:
            blob = model_blob(self.name)
            if blob is not None:
                self._model, self._built_at = self.loader(blob), built_at
        self._kept_ready = self._kept
        return self._model

    def keep(self) -> None:
        """From now on a keeper thread calls `refresh`; requests stop looking."""
        self._kept = True

    def invalidate(self) -> None:
        """The next `get` looks for a newer build (after an admin rebuild in this process)."""
        self._checked = 0.0
        self._kept_ready = False


class ModelKeeper:
    """A web process's thread that loads the ranking models when the process starts and
    looks for newer builds every `every_seconds`, so no request waits for a load.

    Loading the item-CF model took 0.36 s of CPU at 100k notes (20 MB stored), and the first
    request of each web process that ranked or asked for related notes paid it, as did the
    first after every rebuild: a page 400 ms late, and in a benchmark a spike of CPU charged
    to whichever block it fell in. The catalogue is built once here too (it then refreshes
    itself in the background when requests use it)."""

    def __init__(
        self,
        caches: Sequence[ModelCache[Any]],
        catalogue: Callable[[], object],
        every_seconds: float,
    ) -> None:
        self.caches, self.catalogue, self.every = list(caches), catalogue, every_seconds
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, app: Any) -> threading.Thread:
        for cache in self.caches:
            cache.keep()
        self.thread = threading.Thread(
            target=self._run, args=(app,), name="sprout-model-keeper", daemon=True
        )
        self.thread.start()
        return self.thread

    def stop(self, timeout: float | None = None) -> None:
        """Ends the thread after its current turn (waiting up to `timeout` for it)."""
        self._stop.set()
        if self.thread is not None and timeout is not None:
            self.thread.join(timeout)

    def turn(self) -> None:
        """One look at every model (in an app context)."""
        for cache in self.caches:
            try:
                cache.refresh()
            except Exception:  # the old model serves on; the next turn tries again
                log.warning("loading the %s model failed", cache.name, exc_info=True)

    def _run(self, app: Any) -> None:
        first = True
        while True:
            try:
                with app.app_context():
                    self.turn()
                    if first:
                        self.catalogue()
                        first = False
            except Exception:
                log.warning("the model keeper's turn failed", exc_info=True)
            if self._stop.wait(self.every):
                return


class TTLMap:
    """Thread-safe TTL map shared by the requests of one process."""

    def __init__(self, size: int, ttl: float) -> None:
        self._lock = threading.Lock()
        self._data: TTLCache[Any, Any] = TTLCache(size, ttl)

    def get_many(self, keys: Sequence[Any]) -> dict[Any, Any]:
        with self._lock:
            return {k: v for k in keys if (v := self._data.get(k)) is not None}

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
