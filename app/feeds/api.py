"""Feeds: following (newest first) and the ranked ones (discover, channel, hot, related)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.core.errors import Forbidden
from app.core.pagination import COUNT, TIME_CURSOR, Cursor, IdList, Text
from app.core.routing import current_actor, endpoint
from app.core.schemas import Page, page_of
from app.feeds import discover
from app.feeds import following as feeds
from app.feeds.cards import note_cards
from app.feeds.schemas import DiscoverQuery, FeedbackIn, HotQuery, RelatedQuery
from ranking.types import Scored

bp = Blueprint("feeds", __name__, url_prefix="/api/v1")

# A ranked feed's position: its session (a `token_urlsafe`) and the last cards' ids.
RANKED_CURSOR = Cursor(Text(8, 32, r"[A-Za-z0-9_-]+"), IdList(20))
HOT_CURSOR = Cursor(COUNT)  # the hot list: the last rank shown


@endpoint(
    bp,
    "/feeds/following",
    "GET",
    summary="Notes from followed users and topics, newest first",
    query=Page,
    auth="required",
    errors=[400, 401],
)
def following_feed(query: Page) -> Any:
    actor = current_actor()
    rows = feeds.following_feed(actor, query.limit, TIME_CURSOR.decode(query.cursor))
    page = page_of(rows, query.limit, lambda row: TIME_CURSOR.encode(row[1], row[0]))
    cards = note_cards([note_id for note_id, _ in page["items"]], actor)
    page["items"] = [
        {**cards[note_id], "source": "following"}
        for note_id, _ in page["items"]
        if note_id in cards
    ]
    return page


def _present(actor: Any) -> Any:
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


def _may_explain(requested: bool) -> bool:
    if not requested:
        return False
    actor = current_actor()
    if actor is None or not actor.has_role("editor"):
        raise Forbidden(
            "Only editors and admins may ask for score explanations.", code="explain_forbidden"
        )
    return True


@endpoint(
    bp,
    "/feeds/discover",
    "GET",
    summary="The ranked waterfall (发现); `channel=` narrows it, `explain=1` for editors",
    query=DiscoverQuery,
    errors=[400, 403, 404],
)
def discover_feed(query: DiscoverQuery) -> Any:
    explain = _may_explain(query.explain)
    if query.channel:
        discover.channel_exists(query.channel)
    session, history = RANKED_CURSOR.decode(query.cursor) or (None, [])
    actor = current_actor()
    page = discover.ranked_feed(
        actor,
        channel=query.channel,
        session=session,
        history=history,
        page_size=query.limit,
        present=_present(actor),
    )
    return {
        "items": [_card(view, scored, explain) for view, scored in page.items],
        "next_cursor": RANKED_CURSOR.encode(page.session, page.tail) if page.items else None,
        **({"dropped": page.dropped} if explain else {}),
    }


@endpoint(
    bp,
    "/feeds/hot",
    "GET",
    summary="The hot list (榜单): `window=day|week`, `channel=`",
    query=HotQuery,
    errors=[400, 404],
)
def hot_feed(query: HotQuery) -> Any:
    if query.channel:
        discover.channel_exists(query.channel)
    rank = HOT_CURSOR.decode_one(query.cursor) or 0
    rows = discover.hot_list(
        window=query.window,
        channel=query.channel,
        limit=query.limit,
        after_rank=rank,
        present=_present(current_actor()),
    )
    page = page_of(rows, query.limit, lambda row: HOT_CURSOR.encode(row[2]))
    page["items"] = [
        {**view, "source": "hot", "rank": rank, "hot_score": round(score, 6)}
        for view, score, rank in page["items"]
    ]
    return page


@endpoint(
    bp,
    "/notes/<int:note_id>/related",
    "GET",
    summary="Related notes (相关推荐): co-engagement neighbours, then same topic or channel",
    query=RelatedQuery,
    errors=[400, 404],
)
def related(note_id: int, query: RelatedQuery) -> Any:
    actor = current_actor()
    rows = discover.related_notes(actor, note_id, query.limit, _present(actor))
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
def feedback(body: FeedbackIn) -> Any:
    return discover.not_interested(current_actor(), body.note_id, body.reason)
