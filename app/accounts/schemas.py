"""Account requests and the user representations of API.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.core.schemas import CleanText, Id, Page, PageOut, Schema, SingleLine

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{3,32}$")]
Password = Annotated[str, Field(min_length=8, max_length=128)]
Nickname = Annotated[SingleLine, Field(min_length=1, max_length=40)]


class RegisterIn(Schema):
    username: Username
    password: Password
    nickname: Nickname | None = None
    source: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_\-]{1,40}$")] | None = Field(
        default=None,
        description="Where the user came from (invite, qr_offline, ad…), for channel analysis.",
    )
    invite_code: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None,
        description="An invite code (邀请码, any case, spaces and dashes ignored): the source "
        "becomes `invite` and the inviter is credited; an unknown or expired code is 422 "
        "`invalid_invite_code` and no account is created.",
    )
    share_token: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="The token of the share link (`/s/{token}`) the user arrived through: the "
        "source becomes `share` and the sharer is credited (分享赚钱); an unknown token is 422 "
        "`invalid_share_token`. `invite_code` wins when both are sent.",
    )


class LoginIn(Schema):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class PasswordChangeIn(Schema):
    current_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


class ProfilePatch(Schema):
    nickname: Nickname | None = None
    bio: Annotated[CleanText, Field(max_length=200)] | None = None
    avatar_image_id: Id | None = None


class InterestsIn(Schema):
    channels: list[Annotated[str, Field(max_length=24)]] = Field(
        default_factory=list, max_length=20
    )
    topics: list[Id] = Field(default_factory=list, max_length=50)


class RolesIn(Schema):
    roles: list[Annotated[str, Field(max_length=16)]] = Field(max_length=4)


class AdminUsersQuery(Page):
    q: Annotated[str, Field(max_length=40)] | None = None


class ImageRef(BaseModel):
    url: str
    width: int
    height: int
    dominant_color: str


class UserOut(BaseModel):
    id: int
    username: str
    nickname: str
    avatar: ImageRef | None
    level: int
    badges: list[Any]
    official: bool
    verified: bool
    # An approved creator's badge ("认证"): {category, label}; null otherwise.
    verification: dict[str, str] | None = None


class ProfileOut(UserOut):
    bio: str
    follower_count: int
    following_count: int
    note_count: int
    like_received_count: int
    collect_received_count: int
    followed: bool = False
    created_at: datetime


class MeOut(ProfileOut):
    roles: list[str]
    points: int


class AuthOut(BaseModel):
    user: MeOut
    token: str


class UserPage(PageOut):
    items: list[UserOut]
