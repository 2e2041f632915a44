"""Lifecycle requests and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from app.core.schemas import CleanText, PageOut, Schema, SingleLine
from app.lifecycle.config import RECALL, RETENTION

Stage = Literal["new", "active", "at_risk", "churned", "returned"]


class StageCounts(BaseModel):
    new: int
    active: int
    at_risk: int
    churned: int
    returned: int


class SourceStages(BaseModel):
    source: str | None = Field(description="The sign-up source (null: none recorded)")
    users: int
    stages: StageCounts


class LifecycleOut(BaseModel):
    users: int = Field(description="Accounts with a stage (official accounts aside)")
    unclassified: int = Field(description="Accounts the daily recompute has not seen yet")
    stages: StageCounts
    by_source: list[SourceStages]
    computed_at: datetime | None = Field(description="When the stages were last recomputed")
    rules: dict[str, int] = Field(description="The rules in force (days)")


class RecomputeOut(BaseModel):
    users: int
    changed: int
    stages: dict[str, int]
    day: str


class CampaignIn(Schema):
    stage: Stage
    message: CleanText = Field(min_length=1, max_length=500)
    title: SingleLine = Field(default=RECALL.notification_title, min_length=1, max_length=80)
    holdout_share: float = Field(
        ge=0.0,
        le=RECALL.max_holdout_share,
        allow_inf_nan=False,
        description="Share of the targeted users held out (sent nothing), in [0, 0.9]",
    )
    starts_at: AwareDatetime | None = Field(
        default=None, description="When delivery starts (default: now); with a time zone"
    )


class CampaignCounts(BaseModel):
    targeted: int
    treated: int = Field(description="Sent a recall")
    holdout: int = Field(description="Held out: sent nothing, compared against")
    muted: int = Field(description="Treated but muted recalls: nothing sent")
    skipped: int = Field(description="Recalled by a campaign within the week: left out")
    pending: int


class CampaignOut(BaseModel):
    id: int
    stage: str
    title: str
    message: str
    holdout_share: float
    status: Literal["scheduled", "sending", "sent"]
    starts_at: datetime
    targeted_at: datetime | None
    finished_at: datetime | None
    created_by: int | None
    created_at: datetime
    counts: CampaignCounts


class CampaignPage(PageOut):
    items: list[CampaignOut]


class IntervalOut(BaseModel):
    low: float
    high: float
    method: str


class ArmReturns(BaseModel):
    users: int
    returned: int
    rate: float | None
    interval: IntervalOut | None = Field(description="95% Wilson interval")


class ReturnsOut(BaseModel):
    window_days: int
    window_ends_on: date | None = Field(description="The last day a return counts for anyone")
    complete: bool = Field(description="Every recipient's window has closed")
    confidence: float
    treated: ArmReturns
    holdout: ArmReturns
    difference: float | None = Field(description="Treated rate minus holdout rate")
    interval: IntervalOut | None = Field(description="95% Newcombe interval of the difference")


class CampaignReportOut(CampaignOut):
    skipped_by_reason: dict[str, int]
    returns: ReturnsOut


class RetentionQuery(Schema):
    by: Literal["source"] | None = None
    weeks: int = Field(default=RETENTION.default_weeks, ge=1, le=RETENTION.max_weeks)


class CohortOut(BaseModel):
    week: str = Field(description="ISO week of sign-up, e.g. 2026-W49")
    starts_on: date
    source: str | None = Field(default=None, description="With `by=source`")
    users: int
    active: list[int] = Field(description="Users with a visit in week 0, 1, … after sign-up")
    retention: list[float] = Field(description="`active` as shares of `users`")


class RetentionOut(BaseModel):
    weeks: int
    by: str | None
    cohorts: list[CohortOut]
