"""Topic and channel requests, and the cursors of topic lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.core.pagination import COUNT, COUNT_CURSOR, ID, Cursor, Number
from app.core.schemas import (
    CleanText,
    Page,
    PageOut,
    Schema,
    SingleLine,
)

TopicName = Annotated[SingleLine, Field(min_length=1, max_length=20)]
ChannelCode = Annotated[str, Field(min_length=1, max_length=24)]
Description = Annotated[CleanText, Field(max_length=1000)]
Guide = Annotated[CleanText, Field(max_length=2000)]


class TopicIn(Schema):
    name: TopicName
    description: Description = ""
    guide: Guide = ""
    channel: ChannelCode | None = None


class TopicPatch(Schema):
    name: TopicName | None = None
    description: Description | None = None
    guide: Guide | None = None
    channel: ChannelCode | None = None


class TopicsQuery(Page):
    q: Annotated[SingleLine, Field(max_length=20)] | None = None


class TopicNotesQuery(Page):
    sort: Literal["hot", "new"] = "hot"


POPULARITY_CURSOR = COUNT_CURSOR  # topic lists: (follower_count, id)
HOT_NOTES_CURSOR = Cursor(Number(), COUNT, ID)  # hot topic notes: (hot_score, engagement, id)


class ChannelOut(BaseModel):
    code: str
    name: str


class ChannelList(BaseModel):
    items: list[ChannelOut]


class TopicOut(BaseModel):
    id: int
    name: str
    description: str
    guide: str
    channel: ChannelOut | None
    note_count: int
    follower_count: int
    followed: bool
    created_at: datetime


class TopicPage(PageOut):
    items: list[TopicOut]


class TopicFollowOut(BaseModel):
    followed: bool
    follower_count: int


class InterestsOut(BaseModel):
    channels: list[ChannelOut]
    topics: list[TopicOut]
