"""Editorial requests and answers: picks, boosts, daily picks and the editorial log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from app.core.schemas import Id, Page, PageOut, Schema

# home | channel:<code> | topic:<id>
Slot = Annotated[str, Field(pattern=r"^(home|channel:[a-z0-9_-]{1,24}|topic:[1-9][0-9]{0,9})$")]
MAX_BOOST_WEIGHT = 5.0


class PickIn(Schema):
    note_id: Id
    slot: Slot
    position: int | None = Field(
        default=None, ge=1, le=100, strict=True, description="1 = the first card"
    )
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _period(self) -> PickIn:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("`ends_at` must be after `starts_at`")
        return self


class PicksQuery(Page):
    slot: Slot | None = None
    include_ended: bool = False


class BoostIn(Schema):
    note_id: Id | None = None
    user_id: Id | None = None
    weight: float = Field(ge=0.01, le=MAX_BOOST_WEIGHT, strict=True)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _one_target(self) -> BoostIn:
        if (self.note_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of `note_id` and `user_id`")
        if self.starts_at and self.ends_at <= self.starts_at:
            raise ValueError("`ends_at` must be after `starts_at`")
        return self


class BoostsQuery(Page):
    include_ended: bool = False


class LogQuery(Page):
    pass


class PickOut(BaseModel):
    id: int
    note_id: int
    slot: str
    position: int | None
    starts_at: datetime
    ends_at: datetime | None
    active: bool
    created_by: int | None
    created_at: datetime
    note: dict[str, Any] | None = Field(description="The note's card, while it is visible")


class PickPage(PageOut):
    items: list[PickOut]


class BoostOut(BaseModel):
    id: int
    note_id: int | None
    user_id: int | None
    weight: float
    starts_at: datetime
    ends_at: datetime
    active: bool
    created_by: int | None
    created_at: datetime


class BoostPage(PageOut):
    items: list[BoostOut]


class DailyPicksOut(BaseModel):
    day: str
    items: list[dict[str, Any]]


class LogEntryOut(BaseModel):
    id: int
    actor_id: int | None
    action: str
    target_type: str
    target_id: int
    details: dict[str, Any]
    created_at: datetime


class LogPage(PageOut):
    items: list[LogEntryOut]
