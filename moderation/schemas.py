"""Moderation request bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from app.schemas.common import Schema, SingleLine

CATEGORIES = (
    "illegal",
    "unfriendly",
    "spam_ads",
    "porn",
    "misinformation",
    "superstition",
    "clickbait",
    "fan_circle",
    "other",
)


class KeywordIn(Schema):
    word: Annotated[SingleLine, Field(min_length=1, max_length=40)]
    action: Literal["review", "block", "allow"] = "review"
    category: Literal[CATEGORIES] = "other"  # type: ignore[valid-type]
