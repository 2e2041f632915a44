"""Follow responses and user lists."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.accounts.schemas import ProfileOut, UserOut
from app.core.schemas import Id, PageOut, Schema


class FollowIn(Schema):
    note_id: Id | None = None


class FollowOut(BaseModel):
    followed: bool
    follower_count: int


class FollowUserOut(UserOut):
    followed: bool
    followed_at: datetime


class FollowPage(PageOut):
    items: list[FollowUserOut]


__all__ = ["FollowOut", "FollowPage", "ProfileOut"]
