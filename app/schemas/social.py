"""Follow requests, user lists and the keyset cursors shared by the social, topic and feed lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from app.errors import ValidationFailed
from app.schemas.accounts import ProfileOut, UserOut
from app.schemas.common import MAX_ID, PageOut, decode_cursor, encode_cursor


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed("The cursor is not valid.", code="invalid_cursor")


def cursor_id(value: Any) -> int:
    """An id taken from a cursor: a positive integer in range, or the cursor is refused."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise _bad_cursor()
    return value


def cursor_count(value: Any) -> int:
    """A counter value taken from a cursor: a non-negative integer the database can hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise _bad_cursor()
    return value


def cursor_time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise _bad_cursor()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _bad_cursor() from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def cursor_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad_cursor()
    if value != value or value in (float("inf"), float("-inf")):  # NaN or infinity
        raise _bad_cursor()
    return value


def decode_time_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """A `(timestamp, id)` keyset position, e.g. for newest-first lists."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    return cursor_time(values[0]), cursor_id(values[1])


def encode_time_cursor(moment: datetime, row_id: int) -> str:
    return encode_cursor(moment.astimezone(UTC).isoformat(), row_id)


def decode_id_cursor(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    return None if values is None else cursor_id(values[0])


class FollowOut(BaseModel):
    followed: bool
    follower_count: int


class FollowUserOut(UserOut):
    followed: bool
    followed_at: datetime


class FollowPage(PageOut):
    items: list[FollowUserOut]


__all__ = ["FollowOut", "FollowPage", "ProfileOut"]
