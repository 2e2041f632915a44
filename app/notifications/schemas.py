"""Notification lists, counts, read-marking, settings and the stream's query."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from app.core.schemas import Id, Page, PageOut, Schema

Kind = Literal[
    "like",
    "collect",
    "comment",
    "reply",
    "follow",
    "mention",
    "comment_like",
    "system",
    "recall",
    "verification",
    "invite_reward",
    "share_reward",
]


class NotificationsQuery(Page):
    kind: Kind | None = None
    type: Kind | None = Field(default=None, description="the same as `kind`")
    unread: bool = Field(default=False, description="true: only unread groups")


class ReadIn(Schema):
    ids: list[Id] = Field(default_factory=list, max_length=500, description="group ids")
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


class UnreadCountsOut(BaseModel):
    total: int = Field(description="unread groups: the list's unread rows (the badge)")
    by_type: dict[str, int]


class Target(BaseModel):
    type: str
    id: int | None


class NotificationGroupOut(BaseModel):
    id: int
    type: str
    target: Target
    actors: list[dict[str, Any]]
    actor_count: int
    latest_at: str
    read: bool
    kind: str
    actor: dict[str, Any] | None
    note: dict[str, Any] | None
    comment_id: int | None
    payload: dict[str, Any]
    created_at: str


class NotificationPage(PageOut):
    items: list[NotificationGroupOut]
    unread_count: int


class SettingsIn(Schema):
    muted_types: list[str] | None = Field(
        default=None, max_length=50, description="notification types not to be told of"
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone for quiet hours (null: default)"
    )


class SettingsOut(BaseModel):
    muted_types: list[str]
    timezone: str | None
    default_timezone: str
    known_types: list[str]


class StreamQuery(Schema):
    token: str | None = Field(
        default=None, max_length=200, description="for EventSource, which sends no headers"
    )
    last_event_id: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="like the `Last-Event-ID` header"
    )
