"""Editorial routes: picks, boosts, the daily picks and the editorial log."""

from __future__ import annotations

from flask import Blueprint

from app.core.models import utcnow
from app.core.pagination import ID_CURSOR, PageRequest, PageResult
from app.core.routing import JsonBody, current_actor, endpoint
from app.editorial import services as editorial
from app.editorial.models import Boost, EditorialLogEntry, EditorPick
from app.editorial.schemas import (
    BoostIn,
    BoostOut,
    BoostPage,
    BoostsQuery,
    DailyPicksOut,
    LogPage,
    PickIn,
    PickOut,
    PickPage,
    PicksQuery,
)
from app.feeds.cards import cards_in_order

bp = Blueprint("editorial", __name__, url_prefix="/api/v1")


def pick_view(pick: EditorPick, card: JsonBody | None) -> JsonBody:
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


def boost_view(boost: Boost) -> JsonBody:
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


def log_view(entry: EditorialLogEntry) -> JsonBody:
    return {
        "id": entry.id,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": entry.details,
        "created_at": entry.created_at,
    }


def _picks_with_cards(picks: list[EditorPick]) -> list[JsonBody]:
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
def create_pick(body: PickIn) -> JsonBody:
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
    paginated=ID_CURSOR,
)
def list_picks(query: PicksQuery, page: PageRequest) -> PageResult[JsonBody]:
    picks = editorial.list_picks(current_actor(), query.slot, query.include_ended, page)
    return picks.with_items(_picks_with_cards(picks.items))


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
def delete_pick(pick_id: int) -> None:
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
def create_boost(body: BoostIn) -> JsonBody:
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
    paginated=ID_CURSOR,
)
def list_boosts(query: BoostsQuery, page: PageRequest) -> PageResult[JsonBody]:
    return editorial.list_boosts(current_actor(), query.include_ended, page).map(boost_view)


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
def delete_boost(boost_id: int) -> None:
    editorial.delete_boost(current_actor(), boost_id)
    return None


@endpoint(
    bp,
    "/editor/log",
    "GET",
    summary="Every editorial action, newest first (editor)",
    response=LogPage,
    auth="required",
    role="editor",
    errors=[400, 403],
    paginated=ID_CURSOR,
)
def editorial_log(page: PageRequest) -> PageResult[JsonBody]:
    return editorial.editorial_log(current_actor(), page).map(log_view)


@endpoint(
    bp,
    "/picks/daily",
    "GET",
    summary="Today's picks (每日精选): the home slot's picks, as cards",
    response=DailyPicksOut,
)
def daily_picks() -> JsonBody:
    actor = current_actor()
    cards = cards_in_order(editorial.daily_picks(), actor)
    return {
        "day": utcnow().date().isoformat(),
        "items": [{**card, "pick": True} for card in cards],
    }
