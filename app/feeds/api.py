"""Feeds: following (newest first) and the ranked ones (discover, channel, hot, related)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.accounts.models import User
from app.core.pagination import COUNT, TIME_CURSOR, Cursor, IdList, PageRequest, PageResult, Text
from app.core.routing import JsonBody, current_actor, endpoint
from app.feeds import discover, hot
from app.feeds import following as feeds
from app.feeds import related as related_notes
from app.feeds import state as feeds_state
from app.feeds.blend_model import describe_blend
from app.feeds.cards import Present, note_cards
from app.feeds.schemas import DiscoverQuery, FeedbackIn, HotQuery, RelatedQuery
from ranking.types import Scored

bp = Blueprint("feeds", __name__, url_prefix="/api/v1")
# The feeds' per-app state (tunables, this process's caches) is made with the app, when
# create_app registers this blueprint.
bp.record_once(lambda setup: feeds_state.init_app(setup.app))

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
    return feeds.following_page(current_actor(), page)


def _present(actor: User | None) -> Present:
    return lambda note_ids: note_cards(note_ids, actor)


def _card(item: dict[str, Any], scored: Scored, explain: bool) -> dict[str, Any]:
    card = {**item, "source": scored.source, "pick": scored.source == "pick"}
    if explain:
        card["explain"] = {
            "source": scored.source,
            "score": round(scored.score, 6),
            "components": {k: round(v, 6) for k, v in scored.components.items()},
        }
    return card


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
    actor = current_actor()
    ranked = discover.ranked_feed(
        actor,
        channel=query.channel,
        session=session,
        history=history,
        page_size=page.limit,
        present=_present(actor),
        explain=query.explain,
    )
    # The position is the feed session and the last cards shown (for diversity across pages).
    return PageResult(
        [_card(view, scored, query.explain) for view, scored in ranked.items],
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
        present=_present(current_actor()),
    )
    return page.result(rows, lambda row: (row[2],)).map(  # the last rank shown
        lambda row: {**row[0], "source": "hot", "rank": row[2], "hot_score": round(row[1], 6)}
    )


@endpoint(
    bp,
    "/notes/<int:note_id>/related",
    "GET",
    summary="Related notes (相关推荐): co-engagement neighbours, then same topic or channel",
    query=RelatedQuery,
    errors=[400, 404],
)
def related(note_id: int, query: RelatedQuery) -> JsonBody:
    actor = current_actor()
    rows = related_notes.related_notes(actor, note_id, query.limit, _present(actor))
    return {"items": [_card(view, scored, False) for view, scored in rows], "next_cursor": None}


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
