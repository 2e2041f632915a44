"""Feeds: following (newest first) and the ranked ones (discover, channel, hot, related)."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from flask import Blueprint

from app.core.jobs.outbox import record_from_commit_hook
from app.core.pagination import COUNT, TIME_CURSOR, Cursor, IdList, PageRequest, PageResult, Text
from app.core.routing import (
    HasId,
    JsonBody,
    RawJson,
    current_actor,
    current_actor_id,
    current_viewer,
    endpoint,
)
from app.feeds import card_store, discover, hot
from app.feeds import following as feeds
from app.feeds import jobs as feed_jobs
from app.feeds import related as related_notes
from app.feeds import state as feeds_state
from app.feeds.blend_model import describe_blend
from app.feeds.cards import Prefetched, Present, card_bytes, json_list
from app.feeds.schemas import DiscoverQuery, FeedbackIn, HotQuery, RelatedQuery
from ranking.types import Scored

bp = Blueprint("feeds", __name__, url_prefix="/api/v1")
# The feeds' per-app state (tunables, this process's caches) is made with the app, when
# create_app registers this blueprint.
bp.record_once(lambda setup: feeds_state.init_app(setup.app))
# Every session reports the card changes it commits (`card_store`), in web and worker alike;
# one the store cannot take goes to a durable job.
bp.record_once(
    lambda setup: card_store.listen(
        setup.app, lambda *change: record_from_commit_hook(feed_jobs.apply_card_changes, change)
    )
)

# A ranked feed's position: its session (a `token_urlsafe`) and the last cards' ids.
RANKED_CURSOR = Cursor(Text(8, 32, r"[A-Za-z0-9_-]+"), IdList(20))
HOT_CURSOR = Cursor(COUNT)  # the hot list: the last rank shown


@endpoint(
    bp,
    "/feeds/following",
    "GET",
    summary="Notes from followed users and topics, newest first",
    auth="required",
    errors=[400, 401],
    paginated=TIME_CURSOR,
)
def following_feed(page: PageRequest) -> PageResult[JsonBody]:
    viewer = current_viewer()
    assert viewer is not None  # auth="required"
    return feeds.following_page(viewer, page)


def _present(actor: HasId | None) -> Present:
    """Cards as bytes (`card_bytes`): a page is assembled without decoding them."""
    return _present_for(actor.id if actor is not None else None)


def _present_for(actor_id: int | None) -> Present:
    def present(note_ids: list[int], ahead: Prefetched | None = None) -> dict[int, bytes]:
        return card_bytes(note_ids, actor_id, ahead=ahead)

    return present


def _card(card: bytes, scored: Scored, explain: bool) -> bytes:
    """The card with the feed's fields: where it came from and, for editors, why."""
    if not explain:
        return b"%b,%b" % (card[:-1], _source_fields(scored.source))
    fields: dict[str, Any] = {"source": scored.source, "pick": scored.source == "pick"}
    fields["explain"] = {
        "source": scored.source,
        "score": round(scored.score, 6),
        "components": {k: round(v, 6) for k, v in scored.components.items()},
    }
    return b"%b,%b" % (card[:-1], orjson.dumps(fields)[1:])


@functools.lru_cache(maxsize=64)
def _source_fields(source: str) -> bytes:
    """`"source":…,"pick":…}`: the same few bytes for every card of a source."""
    return orjson.dumps({"source": source, "pick": source == "pick"})[1:]


@endpoint(
    bp,
    "/feeds/discover",
    "GET",
    summary="The ranked waterfall (发现); `channel=` narrows it, `explain=1` for editors",
    query=DiscoverQuery,
    errors=[400, 403, 404],
    paginated=RANKED_CURSOR,
)
def discover_feed(query: DiscoverQuery, page: PageRequest) -> PageResult[JsonBody]:
    session, history = page.after or (None, [])
    # Editors' explanations check roles (the whole user); a page needs only the viewer's id.
    actor = current_actor() if query.explain else current_viewer()
    ranked = discover.ranked_feed(
        actor,
        channel=query.channel,
        session=session,
        history=history,
        page_size=page.limit,
        present=_present(actor),
        explain=query.explain,
        # made while Redis runs the page's write
        render=lambda items: RawJson(
            json_list(_card(view, scored, query.explain) for view, scored in items)
        ),
    )
    # The position is the feed session and the last cards shown (for diversity across pages).
    return PageResult(
        ranked.rendered,
        (ranked.session, ranked.tail) if ranked.items else None,
        {"dropped": ranked.dropped, "blend": describe_blend()} if query.explain else {},
    )


@endpoint(
    bp,
    "/feeds/hot",
    "GET",
    summary="The hot list (榜单): `window=day|week`, `channel=`",
    query=HotQuery,
    errors=[400, 404],
    paginated=HOT_CURSOR,
)
def hot_feed(query: HotQuery, page: PageRequest) -> PageResult[JsonBody]:
    rows = hot.hot_list(
        window=query.window,
        channel=query.channel,
        limit=page.limit,
        after_rank=page.after_id or 0,
        present=_present_for(current_actor_id()),
    )
    found = page.result(rows, lambda row: (row[2],))  # the last rank shown
    return found.with_items(
        RawJson(
            json_list(
                b'%b,"source":"hot","rank":%d,"hot_score":%b}'
                % (card[:-1], rank, orjson.dumps(round(score, 6)))
                for card, score, rank in found.items
            )
        )
    )


@endpoint(
    bp,
    "/notes/<int:note_id>/related",
    "GET",
    summary="Related notes (相关推荐): co-engagement neighbours, then same topic or channel",
    query=RelatedQuery,
    errors=[400, 404],
)
def related(note_id: int, query: RelatedQuery) -> RawJson:
    actor = current_actor()
    rows = related_notes.related_notes(actor, note_id, query.limit, _present(actor))
    items = json_list(_card(view, scored, False) for view, scored in rows)
    return RawJson(b'{"items":%b,"next_cursor":null}' % items)


@endpoint(
    bp,
    "/feeds/feedback",
    "POST",
    summary='"Not interested" in a note, its author or its topic: filtered at once',
    body=FeedbackIn,
    auth="required",
    errors=[400, 401, 404, 422],
)
def feedback(body: FeedbackIn) -> JsonBody:
    return discover.not_interested(current_actor(), body.note_id, body.reason)
