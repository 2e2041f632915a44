"""Public profiles and the follow graph: /users/{id}, follow/unfollow, followers/following."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.accounts.schemas import ProfileOut
from app.core.pagination import TIME_CURSOR
from app.core.presenters import iso, profile_view, user_view
from app.core.routing import current_actor, endpoint
from app.core.schemas import Page, page_of
from app.social import services as social
from app.social.schemas import FollowIn, FollowOut, FollowPage
from app.social.services import FollowList

bp = Blueprint("social", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "/users/<int:user_id>",
    "GET",
    summary="A user's public profile",
    response=ProfileOut,
    errors=[404],
)
def get_user_profile(user_id: int) -> Any:
    profile = social.get_profile(current_actor(), user_id)
    return profile_view(profile.user, avatar=profile.avatar, followed=profile.followed)


@endpoint(
    bp,
    "/users/<int:user_id>/follow",
    "POST",
    summary="Follow a user (idempotent); `note_id` names the note it was made from",
    body=FollowIn,
    response=FollowOut,
    auth="required",
    errors=[401, 404, 422],
)
def follow(user_id: int, body: FollowIn) -> Any:
    return social.follow_user(current_actor(), user_id, body.note_id)


@endpoint(
    bp,
    "/users/<int:user_id>/follow",
    "DELETE",
    summary="Unfollow a user (idempotent)",
    response=FollowOut,
    auth="required",
    errors=[401, 404, 422],
)
def unfollow(user_id: int) -> Any:
    return social.unfollow_user(current_actor(), user_id)


def _follow_page(result: FollowList, limit: int) -> dict[str, Any]:
    page = page_of(result.rows, limit, lambda row: TIME_CURSOR.encode(row.followed_at, row.user.id))
    page["items"] = [
        {
            **user_view(row.user, result.avatars.get(row.user.avatar_image_id or 0)),
            "followed": row.user.id in result.followed,
            "followed_at": iso(row.followed_at),
        }
        for row in page["items"]
    ]
    return page


@endpoint(
    bp,
    "/users/<int:user_id>/followers",
    "GET",
    summary="Who follows this user, newest first",
    query=Page,
    response=FollowPage,
    errors=[400, 404],
)
def followers(user_id: int, query: Page) -> Any:
    after = TIME_CURSOR.decode(query.cursor)
    result = social.list_followers(current_actor(), user_id, query.limit, after)
    return _follow_page(result, query.limit)


@endpoint(
    bp,
    "/users/<int:user_id>/following",
    "GET",
    summary="Whom this user follows, newest first",
    query=Page,
    response=FollowPage,
    errors=[400, 404],
)
def following(user_id: int, query: Page) -> Any:
    after = TIME_CURSOR.decode(query.cursor)
    result = social.list_following(current_actor(), user_id, query.limit, after)
    return _follow_page(result, query.limit)
