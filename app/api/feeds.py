"""Feeds: following (newest first) and the ranked ones (discover, channel, hot, related)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.api.cards import note_cards
from app.api.routing import current_actor, endpoint
from app.errors import Forbidden, ValidationFailed
from app.schemas.common import (
    Page,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
    page_of,
)
from app.schemas.feeds import DiscoverQuery, FeedbackIn, HotQuery, RelatedQuery
from app.services import discover, feeds
from ranking.types import Scored

bp = Blueprint("feeds", __name__, url_prefix="/api/v1")


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
    rows = feeds.following_feed(actor, query.limit, decode_time_cursor(query.cursor))
    page = page_of(rows, query.limit, lambda row: encode_time_cursor(row[1], row[0]))
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


def _feed_cursor(cursor: str | None) -> tuple[str | None, list[int]]:
    """A ranked-feed cursor is (session, the last cards' ids); anything else is a 400."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None, []
    session, tail = values
    parts = tail.split(".") if isinstance(tail, str) and tail else []
    if (
        not isinstance(session, str)
        or not 8 <= len(session) <= 32
        or len(parts) > 20
        or not all(part.isdigit() and len(part) <= 18 for part in parts)
    ):
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor")
    return session, [int(part) for part in parts]


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
    session, history = _feed_cursor(query.cursor)
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
        "next_cursor": (
            encode_cursor(page.session, ".".join(map(str, page.tail))) if page.items else None
        ),
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
    after = decode_cursor(query.cursor, 1)
    rank = int(after[0]) if after and isinstance(after[0], int) else 0
    rows = discover.hot_list(
        window=query.window,
        channel=query.channel,
        limit=query.limit,
        after_rank=rank,
        present=_present(current_actor()),
    )
    page = page_of(rows, query.limit, lambda row: encode_cursor(row[2]))
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
