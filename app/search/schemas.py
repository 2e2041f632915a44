"""Search requests: bounded query strings (any characters: they are searched for, never
interpreted), sorts and filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from app.core.schemas import Id, Page, Schema, SingleLine

QueryText = Annotated[SingleLine, Field(min_length=1, max_length=500)]


class NoteSearchQuery(Page):
    q: QueryText
    sort: Literal["relevance", "new", "hot"] = "relevance"
    channel: Annotated[str, Field(max_length=24)] | None = None
    topic: Id | None = None
    tag: Annotated[SingleLine, Field(max_length=40)] | None = None
    author: Id | None = None


class NameSearchQuery(Page):
    q: QueryText


class SuggestQuery(Schema):
    q: Annotated[SingleLine, Field(min_length=1, max_length=100)]
    limit: int = Field(default=10, ge=1, le=20)


class TrendingQuery(Schema):
    limit: int = Field(default=20, ge=1, le=50)


class TermRuleIn(Schema):
    term: Annotated[SingleLine, Field(min_length=1, max_length=40)]
    action: Literal["pin", "suppress"]
    position: int | None = Field(default=None, ge=1, le=50)
    expires_at: datetime | None = None
