"""Ranked feed requests: discover, hot lists, related notes and feedback."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.core.schemas import Id, Page, Schema

ChannelCode = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,24}$")]


class DiscoverQuery(Page):
    channel: ChannelCode | None = None
    explain: bool = Field(default=False, description="editors and admins: score components")


class HotQuery(Page):
    window: Literal["day", "week"] = "day"
    channel: ChannelCode | None = None


class RelatedQuery(Schema):
    limit: int = Field(default=20, ge=1, le=50)


class FeedbackIn(Schema):
    note_id: Id
    kind: Literal["not_interested"]
    reason: Literal["note", "author", "topic"] = "note"
