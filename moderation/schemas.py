"""Moderation request bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from app.core.schemas import CleanText, Id, Page, Schema, SingleLine
from moderation.taxonomy import taxonomy


def _category(code: str) -> str:
    if code not in {category["code"] for category in taxonomy().categories}:
        raise ValueError("not a category of /report-reasons")
    return code


class KeywordIn(Schema):
    word: Annotated[SingleLine, Field(min_length=1, max_length=40)]
    action: Literal["review", "block", "allow"] = "review"
    category: Annotated[str, Field(max_length=32), AfterValidator(_category)] = "other"


class ReportIn(Schema):
    target_type: Literal["note", "comment", "user"]
    target_id: Id
    reason_code: Annotated[str, Field(min_length=3, max_length=48)]
    detail: Annotated[CleanText, Field(max_length=500)] = ""


def _reason_or_category(code: str) -> str:
    data = taxonomy()
    if code not in data.reasons and code not in {c["code"] for c in data.categories}:
        raise ValueError("not a reason or category of /report-reasons")
    return code


class CasesQuery(Page):
    status: Literal["open", "claimed", "decided"] | None = None
    reason: Annotated[str, Field(max_length=48), AfterValidator(_reason_or_category)] | None = None


class DecisionIn(Schema):
    content: Literal["keep", "hide", "remove"]
    account: Literal["none", "warn", "mute", "ban"]
    duration_days: Annotated[int, Field(ge=1, le=3650)] | Literal["permanent"] | None = None
    note: Annotated[CleanText, Field(max_length=1000)] = ""


class AppealIn(Schema):
    action_id: Id
    statement: Annotated[CleanText, Field(min_length=1, max_length=1000)]


class AppealsQuery(Schema):
    status: Literal["pending", "upheld", "reversed"] | None = "pending"
    limit: int = Field(default=20, ge=1, le=50)


class AppealDecisionIn(Schema):
    outcome: Literal["uphold", "reverse"]
    note: Annotated[CleanText, Field(max_length=1000)] = ""


class LiftIn(Schema):
    note: Annotated[CleanText, Field(min_length=1, max_length=1000)]


class AccountLinkIn(Schema):
    user_ids: list[Id] = Field(min_length=2, max_length=20)
    reason: Annotated[CleanText, Field(min_length=1, max_length=500)]


class LinkProposalsQuery(Page):
    status: Literal["proposed", "confirmed", "rejected"] = "proposed"


class LinkProposalDecisionIn(Schema):
    note: Annotated[CleanText, Field(max_length=1000)] = ""
