"""Shared request types: ids, bounded text, pagination and opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from app.errors import ValidationFailed

# Every id column is a 32-bit INTEGER (PostgreSQL rejects larger values with an error, not a
# miss): anything above cannot exist.
MAX_ID = 2**31 - 1


def _parse_id(value: Any) -> Any:
    """IDs arrive as integers or numeric strings; booleans and floats are refused."""
    if isinstance(value, bool):
        raise ValueError("an id is an integer")
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        return int(value)
    if isinstance(value, int):
        return value
    raise ValueError("an id is an integer")


Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_parse_id)]

# Control characters (except newline and tab) are never meaningful in user text.
_ALLOWED_CONTROL = {"\n", "\t"}


def _clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
    for char in value:
        if unicodedata.category(char) in {"Cc", "Cs", "Co"} and char not in _ALLOWED_CONTROL:
            raise ValueError("contains control characters")
    return value.strip()


def _single_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        raise ValueError("must be a single line")
    return value


CleanText = Annotated[str, AfterValidator(_clean_text)]
SingleLine = Annotated[str, AfterValidator(_clean_text), AfterValidator(_single_line)]


class Schema(BaseModel):
    """Request bodies: strict about types (no "5" for 5 in JSON), lenient about extra keys."""

    model_config = ConfigDict(extra="ignore", strict=False, str_strip_whitespace=False)


class Page(Schema):
    limit: int = Field(default=20, ge=1, le=50)
    cursor: str | None = Field(default=None, max_length=200)


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int | range) -> list[Any] | None:
    """A cursor is opaque to clients; a tampered one is a 400, never a 500. `arity`: how
    many values it holds (a range where that varies)."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor") from exc
    arities = arity if isinstance(arity, range) else range(arity, arity + 1)
    if not isinstance(values, list) or len(values) not in arities:
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor")
    for value in values:
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise ValidationFailed("The cursor is not valid.", code="invalid_cursor")
    return values


def page_of(items: list[Any], limit: int, cursor_of: Any) -> dict[str, Any]:
    """Services fetch limit + 1 rows; the extra one tells whether there is a next page."""
    has_more = len(items) > limit
    items = items[:limit]
    next_cursor = cursor_of(items[-1]) if has_more and items else None
    return {"items": items, "next_cursor": next_cursor}


class PageOut(BaseModel):
    next_cursor: str | None


# Typed keyset positions shared by every list (a tampered value is a 400, never a 500).


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
