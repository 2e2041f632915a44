"""Ranked feeds: the discover waterfall (发现), channel feeds, hot lists, related notes and
"not interested" feedback. Rows are turned into plain data and handed to `ranking/`."""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from flask import current_app
from sqlalchemy import select

from app.accounts.models import User
from app.core.config import Settings
from app.core.errors import NotFound, Unprocessable
from app.core.extensions import db, get_feed_store, shared_state
from app.core.jobs import enqueue
from app.core.sql import insert_ignore
from app.core.visibility import get_note_for
from app.editorial.services import editorial_source
from app.feeds.jobs import flush_impressions
from app.feeds.models import HotListEntry, NegativeFeedback
from app.feeds.ranking_data import ModelCache, note_features, user_signals
from app.notes.models import Note, NoteTopic
from ranking.catalogue import PreparedCatalogue
from ranking.config import RANKING
from ranking.pipeline import RequestContext, build_pipeline, diversify
from ranking.signals.exploration import TrafficPool
from ranking.signals.hot import hot_score
from ranking.signals.interest import InterestProfile
from ranking.signals.itemcf import ItemCF
from ranking.store import NoteKey, PageWrite
from ranking.types import Impression, NoteFeatures, Scored

log = logging.getLogger(__name__)

IMPRESSION_FLUSH_SECONDS = 30  # embedded mode: buffered impressions are written this often
PREFETCH_CLAIM_SECONDS = 15  # one prefetch job per viewer and feed at a time
FEATURE_TTL_SECONDS = 300.0
PREFETCH_WHEN_PAGES_LEFT = 6  # ask the worker for the next pages when fewer are buffered


@dataclass
class Catalogue:
    """The candidate notes of every ranked feed, shared by the requests of one process."""

    notes: dict[int, NoteFeatures]
    hot: dict[int, float]
    built: float
    prepared: PreparedCatalogue
    by_channel: dict[str, dict[int, NoteFeatures]]


class _CatalogueCache:
    """Built on first use; afterwards rebuilt in a background thread when it is older than
    `ranking_cache_seconds`, while requests go on with the previous one (a rebuild reads
    thousands of rows: no request should wait for it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Catalogue | None = None
        self._refreshing = False

    def get(self, settings: Settings) -> Catalogue:
        value = self._value
        if value is None or settings.ranking_cache_seconds <= 0:  # 0: no caching at all
            with self._lock:
                if settings.ranking_cache_seconds <= 0:
                    self._value = None
                if self._value is None:
                    self._value = _build_catalogue(settings)
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
                    self._value = _build_catalogue(settings)
            except Exception:  # keep serving the old catalogue; the next request retries
                log.exception("rebuilding the ranking catalogue failed")
            finally:
                self._refreshing = False

        threading.Thread(target=rebuild, name="catalogue-refresh", daemon=True).start()

    def invalidate(self) -> None:
        """The next request rebuilds synchronously (after an admin rebuild)."""
        with self._lock:
            self._value = None


def _build_catalogue(settings: Settings) -> Catalogue:
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
    hot = {i: hot_score(f, now) for i, f in notes.items()}
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


class _FeatureCache:
    """Features of notes outside the catalogue (CF neighbours, a user's history), kept for a
    short while: most are asked for again by the next requests."""

    def __init__(self, ttl_seconds: float, size: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._cache: TTLCache[int, NoteFeatures | None] = TTLCache(size, max(ttl_seconds, 1e-3))

    def __call__(self, note_ids: Iterable[int]) -> dict[int, NoteFeatures]:
        wanted = set(note_ids)
        with self._lock:
            found = {i: self._cache.get(i, _MISSING) for i in wanted}
        missing = [i for i, value in found.items() if value is _MISSING]
        loaded = note_features(missing) if missing else {}
        with self._lock:
            for note_id in missing:  # remember invisible notes too, as None
                self._cache[note_id] = loaded.get(note_id)
        result = {i: f for i, f in found.items() if f is not _MISSING and f is not None}
        result.update(loaded)
        return result


_MISSING = object()


def _caches() -> dict[str, Any]:
    caches = current_app.extensions.get("sprout.ranking_caches")
    if caches is None:
        settings: Settings = current_app.config["SPROUT"]
        caches = current_app.extensions["sprout.ranking_caches"] = {
            "catalogue": _CatalogueCache(),
            "itemcf": ModelCache("itemcf", ItemCF.from_bytes),
            # Labels and authors of notes outside the catalogue (CF neighbours, histories) hardly
            # change; their counts only matter inside the catalogue, which is rebuilt apart.
            "features": _FeatureCache(
                FEATURE_TTL_SECONDS if settings.ranking_cache_seconds > 0 else 0.0
            ),
        }
    return caches


#: Turns note ids into what the caller serves (cards), leaving out notes no longer visible.
Present = Callable[[list[int]], Mapping[int, Any]]


@dataclass
class FeedPage:
    items: list[tuple[Any, Scored]]
    session: str
    tail: list[int]  # the last cards served, for the next page's diversity
    dropped: dict[str, int]


def _session_key(viewer: User | None, session: str) -> str:
    return f"{viewer.id if viewer else 'anon'}:{session}"


def ranked_feed(
    viewer: User | None,
    *,
    channel: str | None,
    session: str | None,
    history: list[int],
    page_size: int,
    present: Present,
) -> FeedPage:
    """One page of the discover (or channel) waterfall for this viewer and feed session.

    `history` is the last cards of the previous page (carried in the cursor), so diversity
    holds across page boundaries too. `present` makes the cards of the chosen notes.

    Ranking runs for `ranking_prefetch_pages` pages at once, ranked and diversified as one
    sequence; the cards not served wait in a buffer and the next pages come from it (checked
    again for visibility and diversity). A signed-in viewer's buffer is theirs, not the
    session's: a new session (pull to refresh) goes on with the cards ranked for them and not
    yet shown, for `ranking_prefetch_seconds`; an anonymous session keeps its own. When the
    buffer runs low a worker ranks the next pages ahead. Every buffer of a viewer goes at once
    when they say "not interested" or change their interests (`invalidate_buffers`).
    """
    settings: Settings = current_app.config["SPROUT"]
    caches = _caches()
    catalogue: Catalogue = caches["catalogue"].get(settings)
    store = get_feed_store()
    fresh_session = session is None
    session = session or secrets.token_urlsafe(9)
    session_key = _session_key(viewer, session)
    if viewer is not None:
        buffer_key, buffer_ttl = _queue_key(viewer, channel), settings.ranking_prefetch_seconds
    else:
        buffer_key, buffer_ttl = f"{session_key}:{channel or ''}", None
    user_key = str(viewer.id) if viewer is not None else session_key
    now = time.time()

    dropped: dict[str, int] = {}
    prefetch_key = _prefetch_key(viewer, channel)
    state = store.load_page(
        None if fresh_session else session_key,
        None if fresh_session and viewer is None else buffer_key,
        prefetch_key,
        user_key,
    )
    keys = dict(state.keys)  # diversity keys of buffered cards: no features to read for them

    def features(ids: Iterable[int]) -> dict[int, NoteFeatures]:
        return _features_for(set(ids), keys, catalogue, caches["features"])

    buffered = state.buffer
    took_ahead = len(buffered) < page_size and bool(state.ahead)
    if took_ahead:  # the viewer's next pages, ranked ahead by a job: this session takes them
        # (ranked a few pages ago: what was served since then is left out)
        served_since = store.recently_served(user_key) if viewer is not None else set()
        buffered = buffered + [s for s in state.ahead if s.note_id not in served_since]
    buffered = list(
        {
            s.note_id: s
            for s in buffered
            if s.note_id not in state.seen and s.note_id not in history
        }.values()
    )
    # Fewer than a page left: ranking runs anyway, so these are not presented twice.
    served = (
        _serve(buffered, history, page_size, present, features)
        if len(buffered) >= page_size
        else None
    )
    if served is None or len(served[0]) < page_size:
        prefetch = max(int(settings.ranking_prefetch_pages), 1)
        ranked, dropped, restored = _run_pipeline(
            viewer,
            channel,
            catalogue,
            store,
            session_key,
            history,
            page_size * prefetch,
            now,
            seen=state.seen,
        )
        # Recently served notes let back in to fill a short run are only for this page.
        fresh = ranked[: len(ranked) - restored]
        served = _serve(
            fresh if len(fresh) >= page_size else ranked, history, page_size, present, features
        )
    kept, cards, rest = served
    items = [(cards[item.note_id], item) for item in kept]
    served_ids = [item.note_id for item in kept]
    store.save_page(
        PageWrite(
            session_id=session_key,
            user_key=user_key,
            served=served_ids,
            buffer_key=buffer_key,
            buffer=rest,
            buffer_ttl_seconds=buffer_ttl,
            impressions=[
                Impression(viewer.id if viewer else None, scored.note_id, scored.source, now)
                for _, scored in items
            ],
            served_user_key=str(viewer.id) if viewer is not None else None,
            serve_ttl_seconds=RANKING.recent_serve_ttl_seconds,
            drop_ahead_key=prefetch_key if took_ahead else None,
            generation=state.generation,
            keys=_keys_of(features([*served_ids, *(item.note_id for item in rest)])),
        )
    )
    _maybe_flush(len(items))
    ahead_left = 0 if took_ahead else len(state.ahead)
    if (
        viewer is not None
        and len(rest) < PREFETCH_WHEN_PAGES_LEFT * page_size
        and ahead_left < page_size  # pages ranked ahead are already waiting
    ):
        _prefetch_soon(store, viewer.id, channel)  # a page early: the worker has time to finish
    tail = [*history, *served_ids][-(RANKING.diversity.window - 1) :]
    return FeedPage(items=items, session=session, tail=tail, dropped=dropped)


def _queue_key(viewer: User, channel: str | None) -> str:
    """A signed-in viewer's ranked, unserved cards for one feed (any session)."""
    return f"{viewer.id}:queue:{channel or ''}"


def _prefetch_key(viewer: User | None, channel: str | None) -> str | None:
    return f"{viewer.id}:next:{channel or ''}" if viewer is not None else None


def _prefetch_claim(user_id: int, channel: str | None) -> str:
    return f"prefetch:{user_id}:{channel or ''}"


def _prefetch_soon(store: Any, user_id: int, channel: str | None) -> None:
    """Rank this viewer's next pages in a worker while they read this one (services mode: in
    embedded mode jobs run inline, which would only move the work into this request)."""
    if current_app.extensions.get("sprout.redis") is None:
        return
    if store.claim(_prefetch_claim(user_id, channel), PREFETCH_CLAIM_SECONDS):
        from app.feeds.jobs import prefetch_feed

        enqueue(prefetch_feed, user_id, channel)


def prefetch_next_pages(user_id: int, channel: str | None) -> list[int]:
    """Rank `ranking_prefetch_pages` pages for this user's next scroll and keep them for
    `ranking_prefetch_seconds`; the next page that needs ranking (a new session, or a session
    whose buffer ran out) takes them over instead of running the pipeline. Returns the notes
    kept, in order."""
    store = get_feed_store()
    try:
        return _prefetch(store, user_id, channel)
    finally:
        store.release(_prefetch_claim(user_id, channel))  # the next run-out may ask again


def _prefetch(store: Any, user_id: int, channel: str | None) -> list[int]:
    viewer = db.session.get(User, user_id)
    if viewer is None or viewer.status == "banned":
        return []
    settings: Settings = current_app.config["SPROUT"]
    user_key = str(user_id)
    generation = store.generation(user_key)  # feedback from now on makes this stale
    catalogue: Catalogue = _caches()["catalogue"].get(settings)
    size = settings.ranking_default_page_size * max(int(settings.ranking_prefetch_pages), 1)
    session_key = _session_key(viewer, f"prefetch-{time.time_ns()}")
    # The cards still waiting in the viewer's queue come first: rank what follows them.
    queued = {item.note_id for item in store.session_buffer(_queue_key(viewer, channel), user_key)}
    ranked, _, restored = _run_pipeline(
        viewer, channel, catalogue, store, session_key, [], size, time.time(), seen=queued
    )
    fresh = ranked[: len(ranked) - restored]
    ahead = fresh if len(fresh) >= settings.ranking_default_page_size else ranked
    key = _prefetch_key(viewer, channel)
    assert key is not None
    known = _features_for({item.note_id for item in ahead}, {}, catalogue, _caches()["features"])
    store.set_session_buffer(
        key,
        user_key,
        ahead,
        ttl_seconds=settings.ranking_prefetch_seconds,
        generation=generation,
        keys=_keys_of(known),
    )
    return [item.note_id for item in ahead]


def _features_for(
    ids: set[int],
    keys: Mapping[int, NoteKey],
    catalogue: Catalogue,
    cache: Callable[[Iterable[int]], Mapping[int, NoteFeatures]],
) -> dict[int, NoteFeatures]:
    """Features enough for the diversity rule: from the buffer's keys, the catalogue, then
    the feature cache (which reads the database for what it lacks)."""
    out: dict[int, NoteFeatures] = {}
    for note_id in ids:
        key = keys.get(note_id)
        if key is not None:
            topics = (key.topic,) if key.topic is not None else ()
            out[note_id] = NoteFeatures(note_id, key.author_id, key.channel, topics)
        elif note_id in catalogue.notes:
            out[note_id] = catalogue.notes[note_id]
    missing = ids - set(out)
    if missing:
        out.update(cache(missing))
    return out


def _keys_of(features: Mapping[int, NoteFeatures]) -> dict[int, NoteKey]:
    return {
        n: NoteKey(f.author_id, f.channel, f.topics[0] if f.topics else None)
        for n, f in features.items()
    }


def _serve(
    ordered: list[Scored],
    history: list[int],
    page_size: int,
    present: Present,
    features: Callable[[Iterable[int]], Mapping[int, NoteFeatures]],
) -> tuple[list[Scored], Mapping[int, Any], list[Scored]]:
    """The next page from a ranked sequence: (cards served, their views, what is left).

    Notes that vanished since they were ranked are skipped (the next ones move up), and the
    diversity rule is applied again to what is really served, since closing a gap can bring
    one author's cards closer. Cards the rule holds back stay first in line for later.
    """
    chosen: list[Scored] = []
    cards: dict[int, Any] = {}
    position = 0
    while len(chosen) < page_size and position < len(ordered):
        chunk = ordered[position : position + page_size - len(chosen)]
        position += len(chunk)
        views = present([item.note_id for item in chunk])
        cards.update(views)
        chosen += [item for item in chunk if item.note_id in views]
    kept = diversify(
        chosen,
        features([*history, *(item.note_id for item in chosen)]),
        max_per_author=RANKING.diversity.max_per_author,
        window=RANKING.diversity.window,
        max_channel_run=RANKING.diversity.max_channel_run,
        max_topic_run=RANKING.diversity.max_topic_run,
        history=history,
    )
    kept_ids = {item.note_id for item in kept}
    held_back = [item for item in chosen if item.note_id not in kept_ids]
    return kept, cards, held_back + ordered[position:]


def _run_pipeline(
    viewer: User | None,
    channel: str | None,
    catalogue: Catalogue,
    store: Any,
    session_key: str,
    history: list[int],
    size: int,
    now: float,
    *,
    seen: set[int] | None = None,
) -> tuple[list[Scored], dict[str, int], int]:
    """The whole pipeline for `size` cards: (ranked cards, drops by filter, restored count)."""
    caches = _caches()
    cf: ItemCF | None = caches["itemcf"].get()
    notes = catalogue.notes
    if channel is not None:
        notes = catalogue.by_channel.get(channel, {})

    profile = None
    recent: list[tuple[int, float]] = []
    engaged: set[int] = set()
    blocked_authors: set[int] = set()
    blocked_topics: set[int] = set()
    hidden: set[int] = set()
    following: set[int] = set()
    if viewer is not None:
        signals = user_signals(viewer.id)
        known = caches["features"]({event.note_id for event in signals.events} - set(notes))
        features = {**notes, **known}
        profile = InterestProfile.build(
            signals.events,
            features,
            now,
            seed_channels=signals.seed_channels,
            seed_topics=signals.seed_topics,
        )
        for kind, ref in signals.not_interested:
            profile.mark_not_interested(kind, ref)
            {"note": hidden, "author": blocked_authors, "topic": blocked_topics}[kind].add(ref)
        positive = [e for e in signals.events if e.kind != "impression"]
        positive.sort(key=lambda event: event.ts, reverse=True)
        engaged = {e.note_id for e in positive if e.kind != "open"}
        weights = RANKING.interest.event_weights
        recent = [(e.note_id, weights.get(e.kind, 1.0)) for e in positive[:50]]
        following = signals.following

    context = RequestContext(
        user_id=viewer.id if viewer else None,
        now=now,
        feed="channel" if channel else "discover",
        channel=channel,
        notes=notes,
        profile=profile,
        cf=cf,
        recent=recent,
        hot=catalogue.hot,
        editorial=editorial_source(),
        seen=store.seen(session_key) if seen is None else seen,
        recently_served=store.recently_served(str(viewer.id)) if viewer else set(),
        engaged=engaged,
        blocked_authors=blocked_authors,
        blocked_topics=blocked_topics,
        hidden_notes=hidden,
        following=following,
        # Reproducible per page of a session (a str seed is hashed stably across processes).
        rng=random.Random(f"{session_key}:{'.'.join(map(str, history))}"),
        hydrate=caches["features"],  # CF neighbours outside the cached catalogue
        history=history,
        prepared=catalogue.prepared,
    )
    result = build_pipeline(context.feed).run(context, size)
    return result.items, dict(result.dropped), result.restored


def _maybe_flush(recorded: int) -> None:
    """Services mode flushes on the worker's schedule; in embedded mode the first page served
    after each `IMPRESSION_FLUSH_SECONDS`, whichever process serves it, flushes the shared
    buffer."""
    if not recorded or current_app.extensions.get("sprout.redis") is not None:
        return
    if shared_state().claim("sprout:impressions:flush", IMPRESSION_FLUSH_SECONDS):
        enqueue(flush_impressions)


def hot_list(
    *, window: str, channel: str | None, limit: int, after_rank: int, present: Present
) -> list[tuple[Any, float, int]]:
    """The 榜单: ranks from the last rebuild; before the first one, live hot scores."""
    scope = f"channel:{channel}" if channel else "all"
    entries = db.session.execute(
        select(HotListEntry.note_id, HotListEntry.score, HotListEntry.rank)
        .where(
            HotListEntry.window == window,
            HotListEntry.scope == scope,
            HotListEntry.rank > after_rank,
        )
        .order_by(HotListEntry.rank)
        .limit(limit + 1)
    ).all()
    rows = present([entry.note_id for entry in entries])
    return [(rows[e.note_id], e.score, e.rank) for e in entries if e.note_id in rows]


def related_notes(
    viewer: User | None, note_id: int, limit: int, present: Present
) -> list[tuple[Any, Scored]]:
    """相关推荐: item-CF neighbours, topped up with hot notes sharing the topic or channel."""
    note = get_note_for(viewer, note_id)
    cf: ItemCF | None = _caches()["itemcf"].get()
    picked: list[Scored] = []
    if cf is not None:
        picked = [Scored(n, s, "cf", {"cf": s}) for n, s in cf.neighbours(note.id, limit * 2)]
    if len(picked) < limit:
        topic_ids = select(NoteTopic.topic_id).where(NoteTopic.note_id == note.id)
        same = (
            select(Note.id, Note.hot_score)
            .where(
                Note.status == "published",
                Note.deleted_at.is_(None),
                Note.id != note.id,
                Note.id.in_(select(NoteTopic.note_id).where(NoteTopic.topic_id.in_(topic_ids)))
                | (Note.channel_code == note.channel_code),
            )
            .order_by(Note.hot_score.desc(), Note.id.desc())
            .limit(limit * 2)
        )
        have = {item.note_id for item in picked}
        picked += [
            Scored(i, s, "hot", {"hot": s}) for i, s in db.session.execute(same) if i not in have
        ]
    rows = present([item.note_id for item in picked if item.note_id != note.id])
    out = [(rows[i.note_id], i) for i in picked if i.note_id in rows]
    return out[:limit]


def not_interested(viewer: User, note_id: int, reason: str) -> dict[str, Any]:
    """Filters at once (the next page already leaves it out) and teaches the profile."""
    note = get_note_for(viewer, note_id)
    if reason == "note":
        refs = [note.id]
    elif reason == "author":
        if note.author_id == viewer.id:
            raise Unprocessable("That is your own note.", code="own_note")
        refs = [note.author_id]
    else:
        refs = list(
            db.session.scalars(select(NoteTopic.topic_id).where(NoteTopic.note_id == note.id))
        )
        if not refs:
            raise Unprocessable("This note has no topic.", code="note_has_no_topic")
    for ref in refs:
        db.session.execute(
            insert_ignore(NegativeFeedback, {"user_id": viewer.id, "kind": reason, "ref": ref})
        )
    db.session.commit()
    get_feed_store().invalidate_buffers(str(viewer.id))  # the next page is ranked anew
    return {"note_id": note.id, "reason": reason, "refs": refs}


def channel_exists(code: str) -> None:
    from app.notes.models import Channel

    if db.session.get(Channel, code) is None:
        raise NotFound("No such channel.", code="channel_not_found")


def rebuild_ranking(actor: User) -> dict[str, Any]:
    """Run the periodic ranking jobs now (admin), then drop this process's cached copies."""
    from app.core.policies import require
    from app.schedule import periodic_job_definitions

    require(actor.has_role("admin"), "Only an admin may rebuild the ranking.")
    results = {}
    for definition in periodic_job_definitions():
        results[definition.name] = definition.function()
    caches = _caches()
    caches["itemcf"].invalidate()
    caches["catalogue"].invalidate()
    return results
