"""Experiment requests and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from app.core.schemas import CleanText, PageOut, Schema, SingleLine
from ranking.blend import SIGNALS
from ranking.learn import SESSION

#: What an arm may weigh: the blend's signals and the session-intent component.
ARM_SIGNALS = (*SIGNALS, SESSION)

MAX_ARMS = 10
MAX_SIGNAL_WEIGHT = 100.0
MIN_SHARE = 0.001  # not `gt=0`: OpenAPI 3.0 has no numeric exclusiveMinimum

ArmKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
SignalWeight = Annotated[
    float, Field(ge=0.0, le=MAX_SIGNAL_WEIGHT, allow_inf_nan=False, strict=True)
]


class ArmIn(Schema):
    key: ArmKey
    share: float = Field(
        ge=MIN_SHARE,
        le=1000.0,
        allow_inf_nan=False,
        strict=True,
        description="Relative share of the enrolled viewers (normalised over the arms)",
    )
    weights: dict[str, SignalWeight] = Field(
        default_factory=dict,
        description=f"Blend weight per signal ({', '.join(ARM_SIGNALS)}), replacing the feed's "
        "default for that signal; signals left out keep the default",
    )
    control: bool = Field(default=False, strict=True)

    @field_validator("weights")
    @classmethod
    def _known_signals(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(ARM_SIGNALS))
        if unknown:
            raise ValueError(f"unknown signals {unknown}; known: {list(ARM_SIGNALS)}")
        return value


class ExperimentIn(Schema):
    name: SingleLine = Field(min_length=1, max_length=80)
    description: CleanText = Field(default="", max_length=2000)
    feed: Literal["discover", "channel"]
    traffic_share: float = Field(
        ge=MIN_SHARE,
        le=1.0,
        allow_inf_nan=False,
        strict=True,
        description="Share of signed-in viewers enrolled",
    )
    arms: list[ArmIn] = Field(min_length=2, max_length=MAX_ARMS)

    @model_validator(mode="after")
    def _arms(self) -> ExperimentIn:
        keys = [arm.key for arm in self.arms]
        if len(set(keys)) != len(keys):
            raise ValueError("arm keys must be unique")
        if sum(arm.control for arm in self.arms) > 1:
            raise ValueError("at most one arm is the control (default: the first)")
        return self


class ArmOut(BaseModel):
    id: int
    key: str
    share: float
    control: bool
    weights: dict[str, float] = Field(description="The arm's overrides, as given")
    blend: dict[str, float] = Field(description="The blend weights the arm serves")


class ExperimentOut(BaseModel):
    id: int
    name: str
    description: str
    feed: str
    status: Literal["draft", "running", "stopped"]
    traffic_share: float
    started_at: datetime | None
    stopped_at: datetime | None
    created_by: int | None
    created_at: datetime
    arms: list[ArmOut]


class ExperimentPage(PageOut):
    items: list[ExperimentOut]


class IntervalOut(BaseModel):
    low: float
    high: float
    method: str


class ArmReportOut(BaseModel):
    id: int
    key: str
    control: bool
    viewers: int = Field(description="Enrolled viewers served at least one card")
    impressions: int
    engagements: int
    engagements_by_kind: dict[str, int]
    rate: float | None = Field(description="Engagements per impression")
    interval: IntervalOut | None = Field(description="95% viewer-clustered bootstrap interval")
    wilson: IntervalOut | None = Field(description="Naive Wilson interval (reference only)")
    vs_control: dict[str, Any] | None = Field(
        description="`{difference, interval}`: rate minus the control's, with its interval"
    )


class ReportOut(ExperimentOut):
    window: dict[str, datetime | None]
    confidence: float
    report: list[ArmReportOut]
