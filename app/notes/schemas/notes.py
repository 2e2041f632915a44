"""Note requests and the note representation of API.md.

Length and count limits that are configurable (title, body, images) are checked by the
service against settings; the caps here only bound hostile payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app.accounts.schemas import ImageRef, UserOut
from app.core.schemas import CleanText, Id, Page, PageOut, Schema, SingleLine

AuthorStatus = Literal["draft", "published"]
ChannelCode = Annotated[str, Field(min_length=1, max_length=24)]
TagText = Annotated[SingleLine, Field(max_length=100)]


class NoteIn(Schema):
    title: SingleLine
    body: CleanText = ""
    image_ids: list[Id] = Field(default_factory=list, max_length=100)
    tags: list[TagText] = Field(default_factory=list, max_length=50)
    topic_ids: list[Id] = Field(default_factory=list, max_length=50)
    channel: ChannelCode | None = None
    status: AuthorStatus


class NotePatch(Schema):
    """Every field optional; only the fields sent change. `channel: null` re-classifies."""

    title: SingleLine | None = None
    body: CleanText | None = None
    image_ids: list[Id] | None = Field(default=None, max_length=100)
    tags: list[TagText] | None = Field(default=None, max_length=50)
    topic_ids: list[Id] | None = Field(default=None, max_length=50)
    channel: ChannelCode | None = None
    status: AuthorStatus | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the client actually sent (so `channel: null` differs from no channel)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class NotesByIdQuery(Schema):
    ids: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}(,[1-9][0-9]{0,17}){0,49}$")]

    @property
    def id_list(self) -> list[int]:
        return list(dict.fromkeys(int(part) for part in self.ids.split(",")))


class UserNotesQuery(Page):
    status: AuthorStatus = "published"


class ChannelOut(BaseModel):
    code: str
    name: str


class TopicRef(BaseModel):
    id: int
    name: str


class NoteImageOut(ImageRef):
    id: int
    status: str
    variants: dict[str, Any]


class NoteSourceOut(BaseModel):
    url: str
    attribution: str | None


class NoteOut(BaseModel):
    id: int
    title: str
    body: str
    status: str
    type: Literal["image", "text"]
    channel: ChannelOut | None
    tags: list[str]
    topics: list[TopicRef]
    images: list[NoteImageOut]
    cover: NoteImageOut | None
    author: UserOut
    like_count: int
    collect_count: int
    comment_count: int
    share_count: int
    liked: bool
    collected: bool
    source: NoteSourceOut | None = None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class NotePage(PageOut):
    items: list[NoteOut]


class LikeOut(BaseModel):
    liked: bool
    like_count: int
