"""Accounts, own profile and administration of users."""

from __future__ import annotations

from flask import Blueprint, request

from app.accounts import interests
from app.accounts import services as accounts
from app.accounts.models import User
from app.accounts.schemas import (
    AdminUsersQuery,
    AuthOut,
    InterestsIn,
    LoginIn,
    MeOut,
    PasswordChangeIn,
    ProfilePatch,
    RegisterIn,
    RolesIn,
    UserPage,
)
from app.core.pagination import ID_CURSOR, PageRequest, PageResult
from app.core.presenters import me_view, user_view
from app.core.routing import JsonBody, bearer_token, client_ip, current_actor, endpoint
from app.core.viewer import avatars_for

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")


def _me(user: User) -> JsonBody:
    return me_view(user, avatars_for([user]).get(user.avatar_image_id or 0))


@endpoint(
    bp,
    "/auth/register",
    "POST",
    summary="Create an account",
    body=RegisterIn,
    response=AuthOut,
    status=201,
    auth="none",
    rate_limit="register",
    errors=[409, 422, 429],
)
def register(body: RegisterIn) -> JsonBody:
    user, token = accounts.register(
        body.username,
        body.password,
        body.nickname,
        signup_source=body.source,
        invite_code=body.invite_code,
        share_token=body.share_token,
        user_agent=request.user_agent.string,
        ip=client_ip(),
        device_id=request.headers.get("X-Device-Id"),
    )
    return {"user": _me(user), "token": token}


@endpoint(
    bp,
    "/auth/login",
    "POST",
    summary="Sign in",
    body=LoginIn,
    response=AuthOut,
    auth="none",
    rate_limit="login",
    errors=[401, 403, 429],
)
def login(body: LoginIn) -> JsonBody:
    user, token = accounts.login(
        body.username,
        body.password,
        user_agent=request.user_agent.string,
        ip=client_ip(),
        device_id=request.headers.get("X-Device-Id"),
    )
    return {"user": _me(user), "token": token}


@endpoint(
    bp,
    "/auth/logout",
    "POST",
    summary="Revoke the token in use",
    auth="required",
    status=204,
    rate_limit="",
    allow_muted=True,
)
def logout() -> None:
    accounts.logout(bearer_token() or "")
    return None


@endpoint(
    bp,
    "/me/password",
    "POST",
    summary="Change password; signs out other sessions",
    body=PasswordChangeIn,
    auth="required",
    status=204,
    rate_limit="login",
    errors=[403],
)
def change_password(body: PasswordChangeIn) -> None:
    accounts.change_password(
        current_actor(), body.current_password, body.new_password, bearer_token() or ""
    )
    return None


@endpoint(bp, "/me", "GET", summary="Own profile", response=MeOut, auth="required")
def get_me() -> JsonBody:
    return _me(current_actor())


@endpoint(
    bp,
    "/me",
    "PATCH",
    summary="Edit own profile",
    body=ProfilePatch,
    response=MeOut,
    auth="required",
    errors=[404],
)
def patch_me(body: ProfilePatch) -> JsonBody:
    user = accounts.update_profile(
        current_actor(), nickname=body.nickname, bio=body.bio, avatar_image_id=body.avatar_image_id
    )
    return _me(user)


@endpoint(
    bp,
    "/me/interests",
    "PUT",
    summary="Onboarding: pick channels and topics",
    body=InterestsIn,
    auth="required",
    errors=[422],
)
def put_interests(body: InterestsIn) -> JsonBody:
    return interests.set_interests(current_actor(), body.channels, body.topics)


@endpoint(
    bp,
    "/me/interests",
    "GET",
    summary="The channels and topics picked at onboarding",
    auth="required",
)
def get_interests() -> JsonBody:
    return interests.get_interests(current_actor())


@endpoint(
    bp,
    "/admin/users/<int:user_id>/roles",
    "PUT",
    summary="Set a user's roles",
    body=RolesIn,
    response=MeOut,
    auth="required",
    role="admin",
    errors=[403, 404, 409],
)
def put_roles(user_id: int, body: RolesIn) -> JsonBody:
    return _me(accounts.set_roles(current_actor(), user_id, body.roles))


@endpoint(
    bp,
    "/admin/users",
    "GET",
    summary="Find accounts",
    query=AdminUsersQuery,
    response=UserPage,
    auth="required",
    role="admin",
    errors=[403],
    paginated=ID_CURSOR,
)
def admin_users(query: AdminUsersQuery, page: PageRequest) -> PageResult[JsonBody]:
    return accounts.search_users_admin(current_actor(), query.q, page).map(_admin_user_view)


def _admin_user_view(user: User) -> JsonBody:
    return {
        **user_view(user),
        "roles": sorted(user.roles),
        "status": user.status,
        "created_at": user.created_at.isoformat(),
    }


__all__ = ["bp", "client_ip"]
