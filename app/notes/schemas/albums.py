"""Album (专辑) and collect requests and representations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.accounts.schemas import UserOut
from app.core.schemas import CleanText, Id, PageOut, Schema, SingleLine

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
