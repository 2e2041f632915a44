"""Runs the ranking pipeline for a viewer: for a page being served (`run_pipeline`, called by
the discover session) and for the pages ranked ahead by a worker (`prefetch_next_pages`, the
`prefetch_feed` job). Rows become plain data (`ranking_data`), `ranking/` does the rest.

Below both the discover session and the jobs: the session enqueues the job, the job calls
this module, and neither needs the other's module to do so.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import BigInteger, bindparam, select

from app.accounts.models import User
from app.core.config import Settings
from app.core.extensions import db, get_feed_store
from app.core.routing import HasId, Viewer
from app.core.visibility import is_banned_status
from app.editorial.services import editorial_source
from app.experiments.serving import ranking_config
from app.feeds.caches import Catalogue
from app.feeds.config import FeedsConfig
from app.feeds.ranking_data import UserSignals, fallback_notes, user_signals
from app.feeds.state import feeds_state
from ranking.config import RANKING
from ranking.pipeline import RequestContext, build_pipeline
from ranking.signals.interest import InterestProfile
from ranking.signals.session import session_profile
from ranking.store import NoteKey
from ranking.types import NoteFeatures, Scored


def session_key(viewer: HasId | None, session: str) -> str:
    return f"{viewer.id if viewer else 'anon'}:{session}"


def queue_key(viewer: HasId, channel: str | None) -> str:
    """A signed-in viewer's ranked, unserved cards for one feed (any session)."""
    return f"{viewer.id}:queue:{channel or ''}"


def prefetch_key(viewer: HasId | None, channel: str | None) -> str | None:
    """Where the pages ranked ahead for a signed-in viewer wait."""
    return f"{viewer.id}:next:{channel or ''}" if viewer is not None else None


def prefetch_claim(user_id: int, channel: str | None) -> str:
    return f"prefetch:{user_id}:{channel or ''}"


def page_rng(
    config: FeedsConfig, viewer: HasId | None, channel: str | None, key: str, history: list[int]
) -> random.Random:
    """Exploration's randomness for one page. In production reproducible per page of a
    session (a str seed is hashed stably across processes); with `rng_seed` set it does not
    depend on the random session token, so tests see the same pages every run."""
    page = ".".join(map(str, history))
    if config.rng_seed is None:
        return random.Random(f"{key}:{page}")
    who = viewer.id if viewer is not None else "anon"
    return random.Random(f"{config.rng_seed}:{who}:{channel or ''}:{page}")


def prefetch_next_pages(user_id: int, channel: str | None) -> list[int]:
    """Rank `ranking_ahead_pages` pages for this user's next scroll and keep them for
    `ranking_prefetch_seconds`; the next page that needs ranking (a new session, or a session
    whose buffer ran out) takes them over instead of running the pipeline. Returns the notes
    kept, in order. Their cards are not checked: `warm_cards` keeps every published note's
    card stored (a page that finds one missing renders it), and checking 400 for presence
    was about 6% of the ranking."""
    store = get_feed_store()
    try:
        return _prefetch(store, user_id, channel)
    finally:
        store.release(prefetch_claim(user_id, channel))  # the next run-out may ask again


def _prefetch(store: Any, user_id: int, channel: str | None) -> list[int]:
    # The account's status is all the job reads of it (loading the user was a twentieth of
    # the job): the ranking needs only the id.
    status = db.session.connection().execute(_status_statement(), {"user_id": user_id}).scalar()
    if status is None or is_banned_status(status):
        return []
    viewer = Viewer(user_id)
    settings: Settings = current_app.config["SPROUT"]
    state = feeds_state()
    user_key = str(user_id)
    generation = store.generation(user_key)  # feedback from now on makes this stale
    catalogue = state.catalogue.get(settings)
    size = settings.ranking_default_page_size * max(int(settings.ranking_ahead_pages), 1)
    key = session_key(viewer, f"prefetch-{time.time_ns()}")
    # The cards still waiting in the viewer's queue come first: rank what follows them.
    queued = {item.note_id for item in store.session_buffer(queue_key(viewer, channel), user_key)}
    ranked, _, restored = run_pipeline(
        viewer, channel, catalogue, store, key, [], size, time.time(), seen=queued
    )
    fresh = ranked[: len(ranked) - restored]
    ahead = fresh if len(fresh) >= settings.ranking_default_page_size else ranked
    target = prefetch_key(viewer, channel)
    assert target is not None
    known = features_for({item.note_id for item in ahead}, {}, lambda: catalogue, state.features)
    store.set_session_buffer(
        target,
        user_key,
        ahead,
        ttl_seconds=settings.ranking_prefetch_seconds,
        generation=generation,
        keys=keys_of(known),
    )
    return [item.note_id for item in ahead]


@functools.cache
def _status_statement() -> Any:
    """An account's status by id: built once per process."""
    return select(User.status).where(User.id == bindparam("user_id", type_=BigInteger))


#: The feed store's user key of the pages ranked for nobody in particular (`rank_cold`).
COLD = "cold"


def cold_key(channel: str | None) -> str:
    """Where the pages ranked for no one in particular wait (first pages, anonymous sessions)."""
    return f"{COLD}:{channel or ''}"


def rank_cold(channel_codes: Iterable[str]) -> dict[str, int]:
    """Rank `ranking_prefetch_pages` pages of discover and of each channel for no one in
    particular (hot, editorial and exploration, no history), and keep them for the requests
    that find nothing ranked for their viewer yet: a first page, a new anonymous session. They
    are served from this list while the viewer's own pages are ranked by a worker, so no
    request waits for the pipeline. Returns the cards kept per feed."""
    store = get_feed_store()
    settings: Settings = current_app.config["SPROUT"]
    state = feeds_state()
    catalogue = state.catalogue.get(settings)
    size = settings.ranking_default_page_size * max(int(settings.ranking_prefetch_pages), 1)
    kept = {}
    for channel in [None, *channel_codes]:
        key = session_key(None, f"cold-{time.time_ns()}")
        ranked, _, _ = run_pipeline(
            None, channel, catalogue, store, key, [], size, time.time(), seen=set()
        )
        known = features_for(
            {item.note_id for item in ranked}, {}, lambda: catalogue, state.features
        )
        store.set_session_buffer(
            cold_key(channel),
            COLD,
            ranked,
            ttl_seconds=state.config.cold_ttl_seconds,
            keys=keys_of(known),
        )
        kept[channel or ""] = len(ranked)
    return kept


def features_for(
    ids: set[int],
    keys: Mapping[int, NoteKey],
    catalogue: Callable[[], Catalogue],
    cache: Callable[[Iterable[int]], Mapping[int, NoteFeatures]],
) -> dict[int, NoteFeatures]:
    """Features enough for the diversity rule: from the buffer's keys, the catalogue, then
    the feature cache (which reads the database for what it lacks). The catalogue is asked
    for only when the keys fall short: a page served from its buffer never needs it."""
    out: dict[int, NoteFeatures] = {}
    for note_id in ids:
        key = keys.get(note_id)
        if key is not None:
            topics = (key.topic,) if key.topic is not None else ()
            out[note_id] = NoteFeatures(note_id, key.author_id, key.channel, topics)
    missing = ids - out.keys()
    if missing:
        notes = catalogue().notes
        out.update((i, notes[i]) for i in missing if i in notes)
        missing -= out.keys()
    if missing:
        out.update(cache(missing))
    return out


def keys_of(features: Mapping[int, NoteFeatures]) -> dict[int, NoteKey]:
    """What a buffer keeps of each card for the diversity rule."""
    return {
        n: NoteKey(f.author_id, f.channel, f.topics[0] if f.topics else None)
        for n, f in features.items()
    }


def _fallback(
    state: Any, n: int, exclude: frozenset[int], channel: str | None
) -> list[NoteFeatures]:
    """`fallback_notes` from the kept order, with features from the feature cache."""
    ids = state.fallback_order.ids(n, exclude, channel)
    if ids is None:
        return fallback_notes(n, exclude, channel)
    features = state.features(ids)
    return [features[i] for i in ids if i in features]


def run_pipeline(
    viewer: HasId | None,
    channel: str | None,
    catalogue: Catalogue,
    store: Any,
    key: str,
    history: list[int],
    size: int,
    now: float,
    *,
    seen: set[int] | None = None,
    signals: UserSignals | None = None,
    user_id: int | None = None,
) -> tuple[list[Scored], dict[str, int], int]:
    """The whole pipeline for `size` cards: (ranked cards, drops by filter, restored count).
    `key` is the feed session's (`session_key`).

    `signals` and `user_id` without a `viewer` rank for someone who is not an account (the
    console's preview of a new user's first page): nothing is read or written for them."""
    state = feeds_state()
    config = state.config
    cf = state.itemcf.get()
    notes = catalogue.notes
    if channel is not None:
        notes = catalogue.by_channel.get(channel, {})

    profile = session = None
    recent: list[tuple[int, float]] = []
    engaged: set[int] = set()
    blocked_authors: set[int] = set()
    blocked_topics: set[int] = set()
    hidden: set[int] = set()
    following: set[int] = set()
    if viewer is not None and signals is None:
        signals = user_signals(
            viewer.id, days=config.user_history_days, per_kind=config.user_events_per_kind
        )
    if signals is not None:
        known = state.features({event.note_id for event in signals.events} - set(notes))
        features = {**notes, **known}
        profile = InterestProfile.build(
            signals.events,
            features,
            now,
            seed_channels=signals.seed_channels,
            seed_topics=signals.seed_topics,
        )
        session = session_profile(signals.events, features, now)
        for kind, ref in signals.not_interested:
            profile.mark_not_interested(kind, ref)
            {"note": hidden, "author": blocked_authors, "topic": blocked_topics}[kind].add(ref)
        positive = [e for e in signals.events if e.kind != "impression"]
        positive.sort(key=lambda event: event.ts, reverse=True)
        engaged = {e.note_id for e in positive if e.kind != "open"}
        weights = RANKING.interest.event_weights
        recent = [
            (e.note_id, weights.get(e.kind, 1.0)) for e in positive[: config.recent_engagements]
        ]
        following = signals.following

    context = RequestContext(
        user_id=viewer.id if viewer else user_id,
        now=now,
        feed="channel" if channel else "discover",
        channel=channel,
        notes=notes,
        profile=profile,
        session=session,
        cf=cf,
        recent=recent,
        hot=catalogue.hot,
        editorial=editorial_source(),
        seen=store.seen(key) if seen is None else seen,
        recently_served=store.recently_served(str(viewer.id)) if viewer else set(),
        engaged=engaged,
        blocked_authors=blocked_authors,
        blocked_topics=blocked_topics,
        hidden_notes=hidden,
        following=following,
        rng=page_rng(config, viewer, channel, key, history),
        hydrate=state.features,  # CF neighbours outside the cached catalogue
        fallback=lambda n, exclude: _fallback(state, n, exclude, channel),
        history=history,
        prepared=catalogue.prepared,
        blend_params=None if channel else state.blend.get(),
        extra_model=None if channel else state.extra.get(),
    )
    # The viewer's experiment arm, if any, sets the feed's blend weights (over learned ones).
    result = build_pipeline(context.feed, ranking_config(viewer, context)).run(context, size)
    return result.items, dict(result.dropped), result.restored
