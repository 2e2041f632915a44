"""Public profiles and the follow graph: /users/{id}, follow/unfollow, followers/following."""

from __future__ import annotations

from flask import Blueprint

from app.accounts.schemas import ProfileOut
from app.core.pagination import TIME_CURSOR, PageRequest, PageResult
from app.core.presenters import iso, profile_view, user_view
from app.core.routing import JsonBody, current_actor, endpoint
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
def get_user_profile(user_id: int) -> JsonBody:
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
def follow(user_id: int, body: FollowIn) -> JsonBody:
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
def unfollow(user_id: int) -> JsonBody:
    return social.unfollow_user(current_actor(), user_id)


def _follow_page(result: FollowList) -> PageResult[JsonBody]:
    return result.page.map(
        lambda row: {
            **user_view(row.user, result.avatars.get(row.user.avatar_image_id or 0)),
            "followed": row.user.id in result.followed,
            "followed_at": iso(row.followed_at),
        }
    )


@endpoint(
    bp,
    "/users/<int:user_id>/followers",
    "GET",
    summary="Who follows this user, newest first",
    paginated=TIME_CURSOR,
    response=FollowPage,
    errors=[400, 404],
)
def followers(user_id: int, page: PageRequest) -> PageResult[JsonBody]:
    return _follow_page(social.list_followers(current_actor(), user_id, page))


@endpoint(
    bp,
    "/users/<int:user_id>/following",
    "GET",
    summary="Whom this user follows, newest first",
    paginated=TIME_CURSOR,
    response=FollowPage,
    errors=[400, 404],
)
def following(user_id: int, page: PageRequest) -> PageResult[JsonBody]:
    return _follow_page(social.list_following(current_actor(), user_id, page))
