"""Album (专辑) and collect requests and representations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.accounts import UserOut
from app.schemas.common import CleanText, Id, PageOut, Schema, SingleLine

AlbumName = Annotated[SingleLine, Field(min_length=1, max_length=20)]
AlbumDescription = Annotated[CleanText, Field(max_length=200)]


class AlbumIn(Schema):
    name: AlbumName
    description: AlbumDescription = ""
    private: bool = False


class AlbumPatch(Schema):
    """Only the fields sent change."""

    name: AlbumName | None = None
    description: AlbumDescription | None = None
    private: bool | None = None


class CollectIn(Schema):
    album_id: Id | None = Field(default=None, description="Omitted: the default album.")


class CollectOut(BaseModel):
    collected: bool
    collect_count: int
    album_id: int | None


class AlbumOut(BaseModel):
    id: int
    name: str
    description: str
    private: bool
    default: bool
    note_count: int
    owner: UserOut
    created_at: datetime
    updated_at: datetime


class AlbumPage(PageOut):
    items: list[AlbumOut]


# Sharing lives here until it gets its own app/schemas/shares.py (not in this change's files).
ShareChannel = Literal["wechat", "moments", "weibo", "qq", "link", "copy"]
SourceCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,24}$")]


class ShareIn(Schema):
    channel: ShareChannel


class ShareOut(BaseModel):
    share_url: str
    token: str
    channel: str
    note_id: int
    share_count: int


class ShareVisitQuery(Schema):
    from_: SourceCode | None = Field(
        default=None,
        alias="from",
        description="Where the visitor came from; defaults to the channel the link was shared to.",
    )


class ShareResolved(BaseModel):
    note_id: int
    note_url: str
    channel: str
    shared_by: UserOut | None


class ChannelStat(BaseModel):
    channel: str
    links: int
    visits: int


class SourceStat(BaseModel):
    source: str | None
    visits: int


class SharerStat(BaseModel):
    user: UserOut
    channel: str
    visits: int


class ShareStatsOut(BaseModel):
    note_id: int
    share_count: int
    channels: list[ChannelStat]
    sources: list[SourceStat]
    top_sharers: list[SharerStat]
