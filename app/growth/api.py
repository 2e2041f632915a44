"""Growth routes: points, levels, check-ins, tasks, campaigns, the store, manual grants."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.core.models import utcnow
from app.core.pagination import ID_CURSOR, PageRequest, PageResult
from app.core.presenters import user_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.core.viewer import avatars_for
from app.growth import campaigns, invites, ledger, store, tasks
from app.growth.campaigns import CampaignRow
from app.growth.config import GROWTH
from app.growth.levels import growth_view
from app.growth.models import PointsEntry, Redemption, StoreItem
from app.growth.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignsQuery,
    CheckInOut,
    GrantIn,
    GrantOut,
    GrantPage,
    GrowthOut,
    InviteCodeOut,
    InviteCodePage,
    Leaderboard,
    LeaderboardQuery,
    PointsPage,
    RedemptionOut,
    RedemptionPage,
    ReferralPage,
    ReferralSummary,
    StoreItemIn,
    StoreItemList,
    StoreItemOut,
    TaskList,
)
from app.growth.store import RedemptionRow

bp = Blueprint("growth", __name__, url_prefix="/api/v1")


def entry_view(entry: PointsEntry) -> JsonBody:
    return {
        "id": entry.id,
        "delta": entry.delta,
        "action": entry.action,
        "reason": entry.reason,
        "created_at": entry.created_at,
    }


def item_view(item: StoreItem, mine: int | None = None) -> JsonBody:
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "price_points": item.price_points,
        "stock": item.stock,
        "per_user_limit": item.per_user_limit,
        "redeemed_count": item.redeemed_count,
        "redeemed_by_me": mine,
    }


def redemption_view(row: Redemption, item: StoreItem, points: int | None = None) -> JsonBody:
    return {
        "id": row.id,
        "item": {"id": item.id, "name": item.name},
        "user_id": row.user_id,
        "price_points": row.price_points,
        "status": row.status,
        "created_at": row.created_at,
        "points": points,
    }


@endpoint(
    bp,
    "/me/growth",
    "GET",
    summary="Points, level, progress to the next level and privileges",
    response=GrowthOut,
    auth="required",
    errors=[401],
)
def my_growth() -> JsonBody:
    return growth_view(current_actor())


@endpoint(
    bp,
    "/me/points",
    "GET",
    summary="The points ledger, newest first",
    paginated=ID_CURSOR,
    response=PointsPage,
    auth="required",
    errors=[400, 401],
)
def my_points(page: PageRequest) -> PageResult[JsonBody]:
    return ledger.history(current_actor(), page).map(entry_view)


@endpoint(
    bp,
    "/me/checkin",
    "POST",
    summary="Daily check-in (签到); again the same day is 409",
    response=CheckInOut,
    auth="required",
    errors=[401, 409],
)
def check_in() -> JsonBody:
    return tasks.check_in(current_actor())


@endpoint(
    bp,
    "/me/tasks",
    "GET",
    summary="Daily and weekly tasks with progress",
    response=TaskList,
    auth="required",
    errors=[401],
)
def my_tasks() -> JsonBody:
    return {"items": tasks.task_list(current_actor())}


# --- campaigns ------------------------------------------------------------------------------


@endpoint(
    bp,
    "/campaigns",
    "GET",
    summary="Check-in campaigns (打卡活动), newest first",
    query=CampaignsQuery,
    paginated=ID_CURSOR,
    response=CampaignPage,
    errors=[400],
)
def list_campaigns(query: CampaignsQuery, page: PageRequest) -> PageResult[JsonBody]:
    rows = campaigns.list_campaigns(current_actor(), query.include_ended, page)
    return rows.map(_campaign_view)


def _campaign_view(row: CampaignRow) -> JsonBody:
    return campaigns.campaign_view(*row)


@endpoint(
    bp,
    "/campaigns",
    "POST",
    summary="Create a check-in campaign on a topic (editor)",
    body=CampaignIn,
    response=CampaignOut,
    status=201,
    auth="required",
    role="editor",
    errors=[400, 401, 403, 422],
)
def create_campaign(body: CampaignIn) -> JsonBody:
    campaign = campaigns.create_campaign(
        current_actor(),
        body.topic_id,
        body.title,
        body.description,
        body.starts_at,
        body.ends_at,
        body.required_days,
        body.reward_points,
    )
    return campaigns.campaign_view(campaign, None)


@endpoint(
    bp,
    "/campaigns/<int:campaign_id>",
    "GET",
    summary="A campaign, with the viewer's progress",
    response=CampaignOut,
    errors=[404],
)
def get_campaign(campaign_id: int) -> JsonBody:
    return _campaign_view(campaigns.campaign_for(current_actor(), campaign_id))


@endpoint(
    bp,
    "/campaigns/<int:campaign_id>/join",
    "POST",
    summary="Join a campaign (idempotent); then post under its topic to check in",
    response=CampaignOut,
    auth="required",
    errors=[401, 404, 409],
)
def join_campaign(campaign_id: int) -> JsonBody:
    return _campaign_view(campaigns.join(current_actor(), campaign_id))


@endpoint(
    bp,
    "/campaigns/<int:campaign_id>/leaderboard",
    "GET",
    summary="Members by check-in days",
    query=LeaderboardQuery,
    response=Leaderboard,
    errors=[400, 404],
)
def leaderboard(campaign_id: int, query: LeaderboardQuery) -> JsonBody:
    rows = campaigns.leaderboard(campaign_id, query.limit)
    avatars = avatars_for([user for _, user in rows])
    return {
        "campaign_id": campaign_id,
        "items": [
            {
                "rank": rank,
                "user": user_view(user, avatars.get(user.avatar_image_id or 0)),
                "days_done": member.days_done,
                "completed": member.completed_at is not None,
            }
            for rank, (member, user) in enumerate(rows, 1)
        ],
    }


# --- store ----------------------------------------------------------------------------------


@endpoint(
    bp,
    "/store/items",
    "GET",
    summary="The redemption store's items (兑换区)",
    response=StoreItemList,
)
def list_items() -> JsonBody:
    return {"items": [item_view(item, mine) for item, mine in store.catalogue(current_actor())]}


@endpoint(
    bp,
    "/store/items",
    "POST",
    summary="Stock an item (admin)",
    body=StoreItemIn,
    response=StoreItemOut,
    status=201,
    auth="required",
    role="admin",
    errors=[400, 401, 403],
)
def create_item(body: StoreItemIn) -> JsonBody:
    item = store.create_item(
        current_actor(),
        body.name,
        body.description,
        body.price_points,
        body.stock,
        body.per_user_limit,
    )
    return item_view(item)


@endpoint(
    bp,
    "/store/items/<int:item_id>/redeem",
    "POST",
    summary="Redeem an item for points: 409 when out of stock, over the limit or short of points",
    response=RedemptionOut,
    status=201,
    auth="required",
    errors=[401, 404, 409],
)
def redeem(item_id: int) -> JsonBody:
    done = store.redeem_item(current_actor(), item_id)
    return redemption_view(done.redemption, done.item, done.points)


@endpoint(
    bp,
    "/me/redemptions",
    "GET",
    summary="My redemption orders, newest first",
    paginated=ID_CURSOR,
    response=RedemptionPage,
    auth="required",
    errors=[400, 401],
)
def my_redemptions(page: PageRequest) -> PageResult[JsonBody]:
    return store.history(current_actor(), page).map(_redemption_row_view)


def _redemption_row_view(row: RedemptionRow) -> JsonBody:
    return redemption_view(*row)


@endpoint(
    bp,
    "/admin/store/redemptions",
    "GET",
    summary="Every redemption, newest first (admin)",
    paginated=ID_CURSOR,
    response=RedemptionPage,
    auth="required",
    role="admin",
    errors=[400, 401, 403],
)
def all_redemptions(page: PageRequest) -> PageResult[JsonBody]:
    return store.all_redemptions(current_actor(), page).map(_redemption_row_view)


@endpoint(
    bp,
    "/admin/users/<int:user_id>/points",
    "POST",
    summary="A manual grant or deduction of points, recorded with the admin and reason (admin)",
    body=GrantIn,
    response=GrantOut,
    status=201,
    auth="required",
    role="admin",
    errors=[400, 401, 403, 404, 409],
)
def grant_points(user_id: int, body: GrantIn) -> JsonBody:
    entry, balance = ledger.manual_grant(current_actor(), user_id, body.delta, body.reason)
    return {"entry": entry_view(entry), "user_id": user_id, "points": balance}


@endpoint(
    bp,
    "/admin/points/grants",
    "GET",
    summary="Every manual grant and deduction, with the admin and the reason (admin)",
    paginated=ID_CURSOR,
    response=GrantPage,
    auth="required",
    role="admin",
    errors=[400, 401, 403],
)
def manual_grants(page: PageRequest) -> PageResult[JsonBody]:
    return ledger.manual_grants(current_actor(), page).map(_grant_view)


def _grant_view(entry: PointsEntry) -> JsonBody:
    return {**entry_view(entry), "user_id": entry.user_id, "actor_id": entry.actor_id}


# --- invites and share to earn (邀请码, 分享赚钱) ----------------------------------------------


@endpoint(
    bp,
    "/me/invites",
    "POST",
    summary="My invite code: the current one while it has a week left (200), else a new one "
    "(201); registering with it credits me once the new user's first note passes review",
    response=InviteCodeOut,
    status=201,
    also=(200,),
    auth="required",
    errors=[401, 403, 429],
)
def create_invite() -> JsonBody | Response:
    issued = invites.issue_code(current_actor())
    row = issued.code
    body = {
        "code": row.code,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "created": issued.created,
        "share_text": f"用我的邀请码 {row.code} 注册 Sprout，一起种草！",
    }
    if issued.created:
        return body
    reused = jsonify(body)
    reused.status_code = 200
    return reused


@endpoint(
    bp,
    "/me/invites",
    "GET",
    summary="My invite codes, newest first, with the sign-ups each brought and the rewards paid",
    paginated=ID_CURSOR,
    response=InviteCodePage,
    auth="required",
    errors=[400, 401],
)
def my_invites(page: PageRequest) -> PageResult[JsonBody]:
    return invites.my_codes(current_actor(), page).map(_code_stats_view)


def _code_stats_view(stats: invites.CodeStats) -> JsonBody:
    row = stats.code
    return {
        "id": row.id,
        "code": row.code,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "expired": row.expires_at <= utcnow(),
        "signup_count": stats.signups,
        "reward_count": stats.rewards,
        "points_earned": stats.points,
    }


@endpoint(
    bp,
    "/me/referrals",
    "GET",
    summary="The accounts I brought in (by invite code or share link), newest first, with "
    "what each paid",
    paginated=ID_CURSOR,
    response=ReferralPage,
    auth="required",
    errors=[400, 401],
)
def my_referrals(page: PageRequest) -> PageResult[JsonBody]:
    rows = invites.my_referrals(current_actor(), page)
    avatars = avatars_for([user for _, user, _ in rows.items])
    return rows.map(
        lambda row: {
            "user": user_view(row[1], avatars.get(row[1].avatar_image_id or 0)),
            "source": row[0].source,
            "status": row[0].status,
            "points": row[2],
            "created_at": row[0].created_at,
            "rewarded_at": row[0].rewarded_at,
        }
    )


@endpoint(
    bp,
    "/me/referrals/summary",
    "GET",
    summary="Invites and share to earn (分享赚钱): sign-ups, rewards and points by source, "
    "and the rules",
    response=ReferralSummary,
    auth="required",
    errors=[401],
)
def referral_summary() -> JsonBody:
    return {
        **invites.summary(current_actor()),
        "rules": {
            source: {
                "points": GROWTH.points[action],
                "daily_cap": GROWTH.daily_caps[action],
            }
            for source, action in invites.REWARD_ACTIONS.items()
        },
    }
