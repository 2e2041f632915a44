"""Growth requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from app.core.schemas import CleanText, Id, Page, PageOut, Schema, SingleLine


class PointsEntryOut(BaseModel):
    id: int
    delta: int
    action: str
    reason: str
    created_at: datetime


class PointsPage(PageOut):
    items: list[PointsEntryOut]


class CheckInOut(BaseModel):
    streak: int
    points_awarded: int
    day: str


class TaskOut(BaseModel):
    code: str
    title: str
    period: str
    progress: int
    target: int
    reward_points: int
    completed: bool
    rewarded: bool


class TaskList(BaseModel):
    items: list[TaskOut]


class GrowthOut(BaseModel):
    points: int
    level: int
    level_name: str
    mascot: str
    progress: float
    contribution: dict[str, int]
    next_level: dict[str, Any] | None
    privileges: list[str]
    daily_cap: int
    earned_today: int
    streak: int
    levels: list[dict[str, Any]]


class CampaignIn(Schema):
    topic_id: Id
    title: Annotated[SingleLine, Field(min_length=1, max_length=60)]
    description: Annotated[CleanText, Field(max_length=1000)] = ""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    required_days: int = Field(ge=1, le=366, strict=True)
    reward_points: int = Field(ge=1, le=100_000, strict=True)

    @model_validator(mode="after")
    def _period(self) -> CampaignIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("`ends_at` must be after `starts_at`")
        return self


class CampaignsQuery(Page):
    include_ended: bool = False


class CampaignOut(BaseModel):
    id: int
    topic_id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    required_days: int
    reward_points: int
    participant_count: int
    state: str
    joined: bool
    days_done: int
    completed: bool


class CampaignPage(PageOut):
    items: list[CampaignOut]


class LeaderboardQuery(Schema):
    limit: int = Field(default=20, ge=1, le=100)


class LeaderboardEntry(BaseModel):
    rank: int
    user: dict[str, Any]
    days_done: int
    completed: bool


class Leaderboard(BaseModel):
    campaign_id: int
    items: list[LeaderboardEntry]


class StoreItemIn(Schema):
    name: Annotated[SingleLine, Field(min_length=1, max_length=60)]
    description: Annotated[CleanText, Field(max_length=1000)] = ""
    price_points: int = Field(ge=1, le=10_000_000, strict=True)
    stock: int = Field(ge=0, le=10_000_000, strict=True)
    per_user_limit: int | None = Field(default=None, ge=1, le=1000, strict=True)


class StoreItemOut(BaseModel):
    id: int
    name: str
    description: str
    price_points: int
    stock: int
    per_user_limit: int | None
    redeemed_count: int
    redeemed_by_me: int | None = None


class StoreItemList(BaseModel):
    items: list[StoreItemOut]


class RedemptionOut(BaseModel):
    id: int
    item: dict[str, Any]
    user_id: int
    price_points: int
    status: str
    created_at: datetime
    points: int | None = Field(default=None, description="The balance after, on a redemption")


class RedemptionPage(PageOut):
    items: list[RedemptionOut]


class GrantIn(Schema):
    delta: int = Field(ge=-1_000_000, le=1_000_000, strict=True)
    reason: Annotated[SingleLine, Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _not_zero(self) -> GrantIn:
        if self.delta == 0:
            raise ValueError("`delta` must not be 0")
        return self


class GrantOut(BaseModel):
    entry: PointsEntryOut
    user_id: int
    points: int


class GrantEntryOut(PointsEntryOut):
    user_id: int
    actor_id: int | None


class GrantPage(PageOut):
    items: list[GrantEntryOut]


class InviteCodeOut(BaseModel):
    code: str
    created_at: datetime
    expires_at: datetime
    created: bool = Field(description="False when the user's current code was handed out again")
    share_text: str


class InviteCodeStats(BaseModel):
    id: int
    code: str
    created_at: datetime
    expires_at: datetime
    expired: bool
    signup_count: int
    reward_count: int
    points_earned: int


class InviteCodePage(PageOut):
    items: list[InviteCodeStats]


class ReferralSourceStats(BaseModel):
    signups: int
    rewards: int
    points: int


class ReferralSummary(BaseModel):
    invite: ReferralSourceStats
    share: ReferralSourceStats
    rules: dict[str, Any]


class ReferralOut(BaseModel):
    user: dict[str, Any]
    source: str
    status: str = Field(description="pending | rewarded | capped | ineligible")
    points: int
    created_at: datetime
    rewarded_at: datetime | None


class ReferralPage(PageOut):
    items: list[ReferralOut]
