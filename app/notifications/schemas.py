"""Notification lists and read-marking."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from app.core.schemas import Id, Page, PageOut, Schema

Kind = Literal["like", "collect", "comment", "reply", "follow", "mention", "comment_like", "system"]


class NotificationsQuery(Page):
    kind: Kind | None = None
    unread: bool = Field(default=False, description="true: only unread ones")


class ReadIn(Schema):
    ids: list[Id] = Field(default_factory=list, max_length=500)
    all: bool = False

    @model_validator(mode="after")
    def _ids_or_all(self) -> ReadIn:
        if not self.all and not self.ids:
            raise ValueError("send `ids` or `all: true`")
        return self


class ReadOut(BaseModel):
    updated: int


class UnreadOut(BaseModel):
    unread_count: int


class NotificationPage(PageOut):
    items: list[dict[str, Any]]
    unread_count: int
