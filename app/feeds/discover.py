"""The discover session (发现): one page of the discover or channel waterfall at a time,
served from the viewer's ranked buffer, ranked anew when it runs low (`ranker`), with the
next pages asked of a worker ahead of time; and "not interested" feedback, which empties
the buffers. What crosses processes (seen sets, buffers, impressions) is in the feed store;
what this process caches is in `feeds_state()`."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import BigInteger, bindparam, select

from app.accounts.models import User
from app.core.config import Settings
from app.core.errors import Unprocessable
from app.core.extensions import db, get_feed_store, get_redis, shared_state
from app.core.jobs import enqueue
from app.core.policies import can_explain_scores, require
from app.core.routing import HasId
from app.core.sql import insert_ignore
from app.core.visibility import get_note_for
from app.experiments.serving import experiment_arm_id
from app.feeds import ahead, ranker
from app.feeds import cards as card_views
from app.feeds.cards import Prefetched, Present
from app.feeds.config import FeedsConfig
from app.feeds.jobs import flush_impressions
from app.feeds.models import NegativeFeedback
from app.feeds.state import feeds_state
from app.notes.models import NoteTopic
from app.topics.services import require_channel
from ranking.config import RANKING
from ranking.pipeline import diversify, page_quotas
from ranking.selectors.diversity import Quota
from ranking.store import PageWrite, QuickServe
from ranking.types import Impression, NoteFeatures, Scored


@dataclass
class FeedPage:
    items: list[tuple[Any, Scored]]
    session: str
    tail: list[int]  # the last cards served, for the next page's diversity
    dropped: dict[str, int]
    rendered: Any = None  # what `render` made of the items


Render = Callable[[list[tuple[Any, Scored]]], Any]


def ranked_feed(
    viewer: HasId | None,
    *,
    channel: str | None,
    session: str | None,
    history: list[int],
    page_size: int,
    present: Present,
    explain: bool = False,
    render: Render | None = None,
) -> FeedPage:
    """One page of the discover (or channel) waterfall for this viewer and feed session.

    `history` is the last cards of the previous page (carried in the cursor), so diversity
    holds across page boundaries too. `present` makes the cards of the chosen notes;
    `render`, when given, makes the answer of the page's items while the page's write is
    under way (`FeedPage.rendered`).

    Ranking runs for `ranking_prefetch_pages` pages at once, ranked and diversified as one
    sequence; the cards not served wait in a buffer and the next pages come from it (checked
    again for visibility and diversity). A signed-in viewer's buffer is theirs, not the
    session's: a new session (pull to refresh) goes on with the cards ranked for them and not
    yet shown, for `ranking_prefetch_seconds`; an anonymous session keeps its own. When the
    buffer runs low a worker ranks the next pages ahead. Every buffer of a viewer goes at once
    when they say "not interested" or change their interests (`invalidate_buffers`).
    """
    require(
        not explain or can_explain_scores(viewer if isinstance(viewer, User) else None),
        "Only editors and admins may ask for score explanations.",
        code="explain_forbidden",
    )
    if channel:
        require_channel(channel)
    settings: Settings = current_app.config["SPROUT"]
    feeds = feeds_state()
    # Only a page that ranks or reads features beyond its buffer's keys needs the catalogue:
    # asking for it is what starts its periodic rebuild in this process (tens of ms of CPU
    # with the GIL held, and a database read), which processes serving buffers skip.
    catalogue = functools.cache(lambda: feeds.catalogue.get(settings))
    store = get_feed_store()
    fresh_session = session is None
    session = session or secrets.token_urlsafe(9)
    session_key = ranker.session_key(viewer, session)
    if viewer is not None:
        buffer_key, buffer_ttl = (
            ranker.queue_key(viewer, channel),
            settings.ranking_prefetch_seconds,
        )
    else:
        buffer_key, buffer_ttl = f"{session_key}:{channel or ''}", None
    user_key = str(viewer.id) if viewer is not None else session_key
    now = time.time()

    dropped: dict[str, int] = {}
    prefetch_key = ranker.prefetch_key(viewer, channel)
    arm = experiment_arm_id(viewer, "channel" if channel else "discover")
    services = get_redis() is not None
    # Running low: a worker is asked for the next pages (`ahead`), a page early so it has
    # time to finish (services mode: in embedded mode jobs run inline, which would only move
    # the work into this request). The claim (one ranking per viewer and feed at a time) is
    # taken in the page's own write.
    claim_key = ranker.prefetch_claim(viewer.id, channel) if viewer and services else None
    claim_below = feeds.config.prefetch_when_pages_left * page_size
    # A page takes the entries it needs from the buffer's front, with room for cards that
    # vanished or that diversity holds back; the ones not served go back (`save_page`).
    # Services mode: the taken cards and the viewer's flags come in the same round trip, and
    # a page served as ranked is served and written there too (`QuickServe`).
    state = store.load_page(
        None if fresh_session else session_key,
        None if fresh_session and viewer is None else buffer_key,
        prefetch_key,
        user_key,
        take=page_size + max(page_size // 4, 4),
        attach=card_views.attach_for(viewer.id if viewer else None, page_size)
        if services
        else None,
        quick=QuickServe(
            page_size=page_size,
            history=tuple(history),
            session_id=session_key,
            viewer_id=viewer.id if viewer else None,
            arm=arm,
            now=now,
            served_user_key=str(viewer.id) if viewer is not None else None,
            serve_ttl_seconds=RANKING.recent_serve_ttl_seconds,
            buffer_ttl_seconds=buffer_ttl,
            claim_key=claim_key,
            claim_below=claim_below,
            claim_ttl_seconds=feeds.config.prefetch_claim_seconds,
        )
        if services and not explain
        else None,
    )
    attached = card_views.prefetched(state.attached)
    if state.quick is not None:
        cards = present([item.note_id for item in state.quick], attached)
        items = [(cards[item.note_id], item) for item in state.quick if item.note_id in cards]
        made = render(items) if render is not None else None
        return _page(viewer, channel, session, history, items, {}, made, state.claimed)
    keys = dict(state.keys)  # diversity keys of buffered cards: no features to read for them

    def seen_all() -> set[int]:
        """The session's whole seen set (the take checked only the entries it took)."""
        if state.seen_whole or fresh_session:
            return state.seen
        return store.seen(session_key)

    def features(ids: Iterable[int]) -> dict[int, NoteFeatures]:
        return ranker.features_for(set(ids), keys, catalogue, feeds.features)

    quotas = page_quotas("channel" if channel else "discover", signed_in=viewer is not None)
    # Buffers keep no score components: an editor's explained page is ranked now (and what
    # it took is replaced by its own ranking).
    buffered = [] if explain else state.buffer
    # What the viewer was served since these cards were ranked is left out (the take read
    # it): pages ranked ahead by a job a few pages ago, and cards a ranking placed that
    # another session served meanwhile, which that session's seen set never held.
    buffered = list(
        {
            s.note_id: s
            for s in buffered
            if s.note_id not in state.seen
            and s.note_id not in state.served
            and s.note_id not in history
        }.values()
    )
    # Fewer than a page left: ranking runs anyway, so these are not presented twice.
    served = (
        _serve(buffered, history, page_size, present, features, quotas, attached)
        if len(buffered) >= page_size
        else None
    )
    replace = False  # the page ranked (or drew on the cold list): its rest is the new buffer
    from_cold = False
    if (served is None or len(served[0]) < page_size) and not explain and get_redis() is not None:
        # Nothing ranked for this viewer yet (a first page, a new anonymous session, or the
        # worker behind): the pages ranked for no one in particular, while a worker ranks theirs.
        pool = _cold_pool(
            store, channel, buffered, seen_all() | set(history), viewer, user_key, features
        )
        if len(pool) >= page_size:
            served = _serve(pool, history, page_size, present, features, quotas)
            from_cold = len(served[0]) >= page_size
            replace = from_cold and viewer is None  # an anonymous session keeps the rest
    if served is None or len(served[0]) < page_size:
        replace = True
        prefetch = max(int(settings.ranking_prefetch_pages), 1)
        ranked, dropped, restored = ranker.run_pipeline(
            viewer,
            channel,
            catalogue(),
            store,
            session_key,
            history,
            page_size * prefetch,
            now,
            seen=seen_all(),
        )
        # Recently served notes let back in to fill a short run are only for this page.
        fresh = ranked[: len(ranked) - restored]
        served = _serve(
            fresh if len(fresh) >= page_size else ranked,
            history,
            page_size,
            present,
            features,
            quotas,
        )
    kept, cards, rest = served
    if from_cold and viewer is not None:
        rest = []  # the shared list is not theirs to keep: their own pages follow
    if state.stale:  # ranked before the viewer's feedback: none of it is served any more
        replace = True
    left = len(rest) + (0 if replace else state.left)
    items = [(cards[item.note_id], item) for item in kept]
    served_ids = [item.note_id for item in kept]
    ask_ahead = (
        claim_key is not None
        and left < claim_below
        and state.ahead_left < page_size  # pages ranked ahead are already waiting
    )
    rendered: list[Any] = []

    def meanwhile() -> None:
        if render is not None and not rendered:  # once, even if the write is redone
            rendered.append(render(items))

    claimed = store.save_page(
        PageWrite(
            session_id=session_key,
            user_key=user_key,
            served=served_ids,
            buffer_key=buffer_key,
            buffer=rest,
            replace_buffer=replace,
            buffer_ttl_seconds=buffer_ttl,
            impressions=[
                Impression(viewer.id if viewer else None, scored.note_id, scored.source, now, arm)
                for _, scored in items
            ],
            served_user_key=str(viewer.id) if viewer is not None else None,
            serve_ttl_seconds=RANKING.recent_serve_ttl_seconds,
            generation=state.generation,
            # entries put back keep the keys they came with; a new ranking's are read
            keys=ranker.keys_of(features(item.note_id for item in rest)) if replace else keys,
            claim_key=claim_key if ask_ahead else None,
            claim_ttl_seconds=feeds.config.prefetch_claim_seconds,
        ),
        meanwhile=meanwhile,
    )
    meanwhile()
    _maybe_flush(len(items), feeds.config)
    made = rendered[0] if rendered else None
    return _page(viewer, channel, session, history, items, dropped, made, claimed)


def _page(
    viewer: HasId | None,
    channel: str | None,
    session: str,
    history: list[int],
    items: list[tuple[Any, Scored]],
    dropped: dict[str, int],
    rendered: Any,
    claimed: bool,
) -> FeedPage:
    """The page served and written: the next pages are asked of a worker if the write won
    the claim."""
    if claimed and viewer is not None:
        ahead.ask(get_redis(), viewer.id, channel)  # a worker's ranking thread takes it
    tail = [*history, *(scored.note_id for _, scored in items)][-(RANKING.diversity.window - 1) :]
    return FeedPage(
        items=items,
        session=session,
        tail=tail,
        dropped=dropped,
        rendered=rendered,
    )


def _cold_pool(
    store: Any,
    channel: str | None,
    buffered: list[Scored],
    exclude: set[int],
    viewer: Any,
    user_key: str,
    features: Callable[[Iterable[int]], Mapping[int, NoteFeatures]],
) -> list[Scored]:
    """What is left in this viewer's buffer, then the cold list, less what they saw and
    what they said they are not interested in (the list was ranked for no one)."""
    cold = store.session_buffer(ranker.cold_key(channel), ranker.COLD)
    if not cold:
        return []
    if viewer is not None:
        exclude = exclude | store.served_among(user_key, [s.note_id for s in cold])
    have = {item.note_id for item in buffered}
    cold = [s for s in cold if s.note_id not in exclude and s.note_id not in have]
    if viewer is not None:
        cold = _interesting(cold, viewer.id, features)
    return buffered + cold


def _interesting(
    items: list[Scored],
    viewer_id: int,
    features: Callable[[Iterable[int]], Mapping[int, NoteFeatures]],
) -> list[Scored]:
    """`items` less the notes, authors and topics the viewer said "not interested" to."""
    refs: dict[str, set[int]] = {"note": set(), "author": set(), "topic": set()}
    rows = db.session.connection().execute(_feedback_statement(), {"viewer_id": viewer_id})
    for kind, ref in rows:
        refs.setdefault(kind, set()).add(ref)
    if not any(refs.values()):
        return items
    known = features(item.note_id for item in items)
    return [
        item
        for item in items
        if item.note_id not in refs["note"]
        and (found := known.get(item.note_id)) is not None
        and found.author_id not in refs["author"]
        and not refs["topic"].intersection(found.topics)
    ]


@functools.cache
def _feedback_statement() -> Any:
    """A viewer's "not interested" refs: built once per process, run on the connection (a
    cold page asks it on every request, and the ORM's select cost more than the query)."""
    viewer = bindparam("viewer_id", type_=BigInteger)
    return select(NegativeFeedback.kind, NegativeFeedback.ref).where(
        NegativeFeedback.user_id == viewer
    )


def _serve(
    ordered: list[Scored],
    history: list[int],
    page_size: int,
    present: Present,
    features: Callable[[Iterable[int]], Mapping[int, NoteFeatures]],
    quotas: Sequence[Quota],
    ahead: Prefetched | None = None,
) -> tuple[list[Scored], Mapping[int, Any], list[Scored]]:
    """The next page from a ranked sequence: (cards served, their views, what is left).

    Notes that vanished since they were ranked are skipped (the next ones move up), and then
    the diversity rule is applied again to what is really served, since closing a gap can
    bring one author's cards closer. Cards the rule holds back stay first in line for later.
    When nothing vanished the page is served as ranked (the ranking saw every candidate;
    applied again to the page alone, the rules would choose among fewer).
    """
    chosen: list[Scored] = []
    cards: dict[int, Any] = {}
    position = 0
    while len(chosen) < page_size and position < len(ordered):
        chunk = ordered[position : position + page_size - len(chosen)]
        position += len(chunk)
        views = present([item.note_id for item in chunk], ahead)
        cards.update(views)
        chosen += [item for item in chunk if item.note_id in views]
    if len(chosen) == position:  # nothing vanished: the ranked order stands as it was made
        return chosen, cards, ordered[position:]
    kept = diversify(
        chosen,
        features([*history, *(item.note_id for item in chosen)]),
        max_per_author=RANKING.diversity.max_per_author,
        window=RANKING.diversity.window,
        max_channel_run=RANKING.diversity.max_channel_run,
        max_topic_run=RANKING.diversity.max_topic_run,
        history=history,
        quotas=quotas,
    )
    kept_ids = {item.note_id for item in kept}
    held_back = [item for item in chosen if item.note_id not in kept_ids]
    return kept, cards, held_back + ordered[position:]


def _maybe_flush(recorded: int, config: FeedsConfig) -> None:
    """Services mode flushes on the worker's schedule; in embedded mode the first page served
    after each `impression_flush_seconds`, whichever process serves it, flushes the shared
    buffer."""
    if not recorded or get_redis() is not None:
        return
    if shared_state().claim("sprout:impressions:flush", config.impression_flush_seconds):
        enqueue(flush_impressions)


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
