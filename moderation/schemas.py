"""Moderation request bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from app.schemas.common import Schema, SingleLine
from moderation.taxonomy import taxonomy


def _category(code: str) -> str:
    if code not in {category["code"] for category in taxonomy().categories}:
        raise ValueError("not a category of /report-reasons")
    return code


class KeywordIn(Schema):
    word: Annotated[SingleLine, Field(min_length=1, max_length=40)]
    action: Literal["review", "block", "allow"] = "review"
    category: Annotated[str, Field(max_length=32), AfterValidator(_category)] = "other"
