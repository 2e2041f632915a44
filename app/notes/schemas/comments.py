"""Comment requests and the two-level comment representation.

The body limit is a setting (`comment_body_max`), checked by the service; the cap here only
bounds hostile payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.accounts.schemas import UserOut
from app.core.schemas import CleanText, Id, Page, PageOut, Schema


class CommentIn(Schema):
    body: Annotated[CleanText, Field(min_length=1, max_length=5000)]
    parent_id: Id | None = Field(
        default=None, description="Reply to this comment (a top-level comment or a reply)."
    )


class CommentsQuery(Page):
    sort: Literal["new", "hot"] = Field(
        default="new", description="`new`: newest first; `hot`: most liked first."
    )


class CommentOut(BaseModel):
    id: int
    note_id: int
    body: str
    author: UserOut
    reply_to: UserOut | None
    root_id: int | None
    parent_id: int | None
    like_count: int
    reply_count: int
    liked: bool
    created_at: datetime


class ThreadOut(CommentOut):
    replies: list[CommentOut] = Field(description="Up to two preview replies, oldest first.")


class ThreadPage(PageOut):
    items: list[ThreadOut]


class CommentPage(PageOut):
    items: list[CommentOut]


class CommentLikeOut(BaseModel):
    liked: bool
    like_count: int
