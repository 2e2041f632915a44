"""Share links: requests, the resolved link and per-channel statistics."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.accounts.schemas import UserOut
from app.core.schemas import Schema

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
