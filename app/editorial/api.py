"""Editorial routes: picks, boosts, the daily picks and the editorial log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.core.models import utcnow
from app.core.pagination import ID_CURSOR
from app.core.routing import current_actor, endpoint
from app.core.schemas import page_of
from app.editorial import services as editorial
from app.editorial.models import Boost, EditorialLogEntry, EditorPick
from app.editorial.schemas import (
    BoostIn,
    BoostOut,
    BoostPage,
    BoostsQuery,
    DailyPicksOut,
    LogPage,
    LogQuery,
    PickIn,
    PickOut,
    PickPage,
    PicksQuery,
)
from app.feeds.cards import cards_in_order

bp = Blueprint("editorial", __name__, url_prefix="/api/v1")


def pick_view(pick: EditorPick, card: dict[str, Any] | None) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": pick.id,
        "note_id": pick.note_id,
        "slot": pick.slot,
        "position": pick.position,
        "starts_at": pick.starts_at,
        "ends_at": pick.ends_at,
        "active": pick.starts_at <= now and (pick.ends_at is None or now < pick.ends_at),
        "created_by": pick.created_by_id,
        "created_at": pick.created_at,
        "note": card,
    }


def boost_view(boost: Boost) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": boost.id,
        "note_id": boost.note_id,
        "user_id": boost.user_id,
        "weight": boost.weight,
        "starts_at": boost.starts_at,
        "ends_at": boost.ends_at,
        "active": boost.starts_at <= now < boost.ends_at,
        "created_by": boost.created_by_id,
        "created_at": boost.created_at,
    }


def log_view(entry: EditorialLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": entry.details,
        "created_at": entry.created_at,
    }


def _picks_with_cards(picks: list[EditorPick]) -> list[dict[str, Any]]:
    actor = current_actor()
    cards = {card["id"]: card for card in cards_in_order([p.note_id for p in picks], actor)}
    return [pick_view(pick, cards.get(pick.note_id)) for pick in picks]


@endpoint(
    bp,
    "/editor/picks",
    "POST",
    summary="Pick a note for a slot: home, channel:<code> or topic:<id> (editor)",
    body=PickIn,
    response=PickOut,
    status=201,
    auth="required",
    role="editor",
    errors=[400, 403, 404, 422],
)
def create_pick(body: PickIn) -> Any:
    pick = editorial.create_pick(
        current_actor(), body.note_id, body.slot, body.position, body.starts_at, body.ends_at
    )
    return _picks_with_cards([pick])[0]


@endpoint(
    bp,
    "/editor/picks",
    "GET",
    summary="Current and scheduled picks, newest first (editor)",
    query=PicksQuery,
    response=PickPage,
    auth="required",
    role="editor",
    errors=[400, 403],
)
def list_picks(query: PicksQuery) -> Any:
    picks = editorial.list_picks(
        current_actor(),
        query.slot,
        query.include_ended,
        query.limit,
        ID_CURSOR.decode_one(query.cursor),
    )
    page = page_of(picks, query.limit, lambda pick: ID_CURSOR.encode(pick.id))
    page["items"] = _picks_with_cards(page["items"])
    return page


@endpoint(
    bp,
    "/editor/picks/<int:pick_id>",
    "DELETE",
    summary="Remove a pick (editor)",
    status=204,
    auth="required",
    role="editor",
    errors=[403, 404],
)
def delete_pick(pick_id: int) -> Any:
    editorial.delete_pick(current_actor(), pick_id)
    return None


@endpoint(
    bp,
    "/editor/boosts",
    "POST",
    summary="Boost a note or a creator (流量倾斜) until `ends_at` (editor)",
    body=BoostIn,
    response=BoostOut,
    status=201,
    auth="required",
    role="editor",
    errors=[400, 403, 404, 422],
)
def create_boost(body: BoostIn) -> Any:
    boost = editorial.create_boost(
        current_actor(), body.note_id, body.user_id, body.weight, body.starts_at, body.ends_at
    )
    return boost_view(boost)


@endpoint(
    bp,
    "/editor/boosts",
    "GET",
    summary="Current and scheduled boosts, newest first (editor)",
    query=BoostsQuery,
    response=BoostPage,
    auth="required",
    role="editor",
    errors=[400, 403],
)
def list_boosts(query: BoostsQuery) -> Any:
    boosts = editorial.list_boosts(
        current_actor(), query.include_ended, query.limit, ID_CURSOR.decode_one(query.cursor)
    )
    page = page_of(boosts, query.limit, lambda boost: ID_CURSOR.encode(boost.id))
    page["items"] = [boost_view(boost) for boost in page["items"]]
    return page


@endpoint(
    bp,
    "/editor/boosts/<int:boost_id>",
    "DELETE",
    summary="End a boost now (editor)",
    status=204,
    auth="required",
    role="editor",
    errors=[403, 404],
)
def delete_boost(boost_id: int) -> Any:
    editorial.delete_boost(current_actor(), boost_id)
    return None


@endpoint(
    bp,
    "/editor/log",
    "GET",
    summary="Every editorial action, newest first (editor)",
    query=LogQuery,
    response=LogPage,
    auth="required",
    role="editor",
    errors=[400, 403],
)
def editorial_log(query: LogQuery) -> Any:
    after = ID_CURSOR.decode_one(query.cursor)
    entries = editorial.editorial_log(current_actor(), query.limit, after)
    page = page_of(entries, query.limit, lambda entry: ID_CURSOR.encode(entry.id))
    page["items"] = [log_view(entry) for entry in page["items"]]
    return page


@endpoint(
    bp,
    "/picks/daily",
    "GET",
    summary="Today's picks (每日精选): the home slot's picks, as cards",
    response=DailyPicksOut,
)
def daily_picks() -> Any:
    actor = current_actor()
    cards = cards_in_order(editorial.daily_picks(), actor)
    return {
        "day": utcnow().date().isoformat(),
        "items": [{**card, "pick": True} for card in cards],
    }
