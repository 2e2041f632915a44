"""Creators' requests and answers: the candidates list and verification requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.core.schemas import CleanText, Page, PageOut, Schema
from app.creators.config import CREATORS

Code = Annotated[str, Field(min_length=1, max_length=24, pattern=r"^[a-z0-9_-]+$")]


class CreatorsQuery(Page):
    channel: Code | None = Field(
        default=None, description="only creators active in this channel, focus measured there"
    )
    tier: Literal["kol", "koc", "rising"] | None = None


class Badge(BaseModel):
    category: str
    label: str


class Reason(BaseModel):
    code: str
    effect: Literal["positive", "negative"]
    contribution: float
    value: float
    message: str


class CandidateOut(BaseModel):
    user: dict[str, Any]
    tier: Literal["kol", "koc", "rising"]
    score: float
    metrics: dict[str, Any]
    reasons: list[Reason]


class CandidatePage(PageOut):
    items: list[CandidateOut]
    window_days: int
    channel: str | None


class VerificationIn(Schema):
    category: Code
    statement: Annotated[
        CleanText,
        Field(min_length=CREATORS.statement_min_chars, max_length=CREATORS.statement_max_chars),
    ]


class VerificationOut(BaseModel):
    id: int
    user: dict[str, Any]
    category: str
    label: str
    statement: str
    status: Literal["pending", "approved", "refused", "revoked"]
    decision_note: str
    decided_by: int | None
    decided_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class MyVerificationOut(BaseModel):
    status: Literal["none", "pending", "approved", "refused", "revoked"]
    verified: bool
    verification: Badge | None
    request: VerificationOut | None
    categories: list[Badge]


class VerificationsQuery(Page):
    status: Literal["pending", "approved", "refused", "revoked"] = "pending"


class VerificationPage(PageOut):
    items: list[VerificationOut]


class DecisionIn(Schema):
    outcome: Literal["approve", "refuse", "revoke"]
    note: Annotated[CleanText, Field(max_length=CREATORS.decision_note_max_chars)] = ""
