"""The one codec for list cursors.

A cursor is opaque to clients: URL-safe base64 of a compact JSON array, one value per keyset
column. Clients can still send anything back, so decoding checks the shape and every value's
type and range against the list's declared fields before any of it reaches a query: a
tampered cursor is a 400 `invalid_cursor`, never a 500 (an integer beyond the 32-bit id
columns, NaN, a string where a number belongs).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from app.core.errors import ValidationFailed
from app.core.schemas import MAX_ID, load_json

# Longest cursor accepted at all (the ones we issue are far shorter); it also bounds the JSON
# nesting a hostile cursor could hold.
MAX_CURSOR_CHARS = 512
# Integers a double holds exactly: the range of a plain "number" value.
MAX_SAFE_INT = 2**53


class InvalidCursor(ValidationFailed):
    code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not valid.")


class CursorField(Protocol):
    """One keyset value: `dump` makes it JSON, `load` checks what a client sent back."""

    def dump(self, value: Any) -> Any: ...

    def load(self, value: Any) -> Any: ...


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int:
    """An integer within [low, high]: ids (1 to MAX_ID) and counters (0 to MAX_ID)."""

    low: int = 1
    high: int = MAX_ID

    def dump(self, value: int) -> int:
        return int(value)

    def load(self, value: Any) -> int:
        if not _is_int(value) or not self.low <= value <= self.high:
            raise InvalidCursor()
        return value


@dataclass(frozen=True)
class Number:
    """A finite float (a score, a priority), or an integer a double holds exactly."""

    def dump(self, value: float) -> float | int:
        return value

    def load(self, value: Any) -> float | int:
        if _is_int(value):
            if abs(value) > MAX_SAFE_INT:
                raise InvalidCursor()
            return value
        if not isinstance(value, float) or not math.isfinite(value):
            raise InvalidCursor()
        return value


@dataclass(frozen=True)
class Flag:
    """A boolean, carried as 0 or 1."""

    def dump(self, value: bool) -> int:
        return int(bool(value))

    def load(self, value: Any) -> bool:
        if not _is_int(value) or value not in (0, 1):
            raise InvalidCursor()
        return bool(value)


@dataclass(frozen=True)
class Time:
    """An aware instant, carried as an ISO 8601 string in UTC."""

    def dump(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat()

    def load(self, value: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise InvalidCursor()
        try:
            parsed = datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except (ValueError, OverflowError) as exc:  # OverflowError: year 1 at +05:00
            raise InvalidCursor() from exc


@dataclass(frozen=True)
class Text:
    """A bounded string, optionally of a fixed alphabet (e.g. a feed session token)."""

    min_length: int = 0
    max_length: int = 64
    pattern: str | None = None

    def dump(self, value: str) -> str:
        return value

    def load(self, value: Any) -> str:
        if not isinstance(value, str) or not self.min_length <= len(value) <= self.max_length:
            raise InvalidCursor()
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise InvalidCursor()
        return value


@dataclass(frozen=True)
class IdList:
    """Up to `max_items` ids, carried as one dotted string ("12.7.40") to keep cursors short."""

    max_items: int = 20

    def dump(self, value: list[int]) -> str:
        return ".".join(str(int(item)) for item in value)

    def load(self, value: Any) -> list[int]:
        if not isinstance(value, str):
            raise InvalidCursor()
        parts = value.split(".") if value else []
        if len(parts) > self.max_items:
            raise InvalidCursor()
        ids = []
        for part in parts:
            if not part.isascii() or not part.isdigit() or len(part) > 10:
                raise InvalidCursor()
            ids.append(ID.load(int(part)))
        return ids


ID = Int(1, MAX_ID)
COUNT = Int(0, MAX_ID)


def pack(*values: Any) -> str:
    """The wire form of JSON values, unchecked: `Cursor.encode` uses it (and tests forge
    cursors with it)."""
    raw = json.dumps(list(values), separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class Cursor:
    """The keyset of one list: `encode` the last row's values, `decode` what comes back.

    `required` fields come first; the rest may be missing (a cursor whose length varies,
    e.g. a search backend's position)."""

    def __init__(self, *fields: CursorField, required: int | None = None) -> None:
        self.fields = fields
        self.required = len(fields) if required is None else required

    def encode(self, *values: Any) -> str:
        if not self.required <= len(values) <= len(self.fields):
            raise ValueError(f"a cursor of {len(self.fields)} values, got {len(values)}")
        return pack(*(field.dump(value) for field, value in zip(self.fields, values, strict=False)))

    def decode(self, cursor: str | None) -> tuple[Any, ...] | None:
        """None for no cursor (the first page); the checked values otherwise."""
        if not cursor:
            return None
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursor()
        try:
            padded = cursor.encode("ascii") + b"=" * (-len(cursor) % 4)
            raw = base64.b64decode(padded, altchars=b"-_", validate=True)
            values = load_json(raw)
        except (ValueError, binascii.Error) as exc:
            raise InvalidCursor() from exc
        if not isinstance(values, list) or not self.required <= len(values) <= len(self.fields):
            raise InvalidCursor()
        return tuple(field.load(value) for field, value in zip(self.fields, values, strict=False))

    def decode_one(self, cursor: str | None) -> Any:
        """The single value of a one-field cursor, or None on the first page."""
        values = self.decode(cursor)
        return None if values is None else values[0]

    def request(self, limit: int, cursor: str | None) -> PageRequest:
        """The typed page a service is handed for `?limit=&cursor=`."""
        return PageRequest(limit, self.decode(cursor))

    def next_cursor(self, result: PageResult[Any]) -> str | None:
        return None if result.next_key is None else self.encode(*result.next_key)


T = TypeVar("T")
U = TypeVar("U")
Key = tuple[Any, ...]


@dataclass(frozen=True)
class PageRequest:
    """One page of a keyset list as services see it: the cursor already checked and decoded,
    so no service ever reads the wire form."""

    limit: int
    after: Key | None = None  # the keyset of the previous page's last item; None: first page

    @property
    def first(self) -> bool:
        return self.after is None

    @property
    def after_id(self) -> Any:
        """The single value of a one-field keyset (e.g. the last id shown), or None."""
        return None if self.after is None else self.after[0]

    def result(self, rows: Sequence[T], key: Callable[[T], Key]) -> PageResult[T]:
        """Services fetch `limit + 1` rows: the extra one only tells that a next page exists,
        and the next page starts after the key of the last row kept."""
        items = list(rows[: self.limit])
        more = len(rows) > self.limit and bool(items)
        return PageResult(items, key(items[-1]) if more else None)

    def by_id(self, rows: Sequence[T]) -> PageResult[T]:
        """`result` for lists ordered by id alone (newest first)."""
        return self.result(rows, lambda row: (row.id,))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PageResult(Generic[T]):
    """What a list service returns: the page's items and the key the next page starts after
    (None on the last page). `fields` are extra top-level members of the response (e.g. an
    unread count); the endpoint helper encodes `next_key` as the `next_cursor`."""

    items: list[T]
    next_key: Key | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def map(self, view: Callable[[T], U]) -> PageResult[U]:
        return PageResult([view(item) for item in self.items], self.next_key, self.fields)

    def with_items(self, items: list[U]) -> PageResult[U]:
        """The same position with the items replaced (e.g. by cards fetched for the page)."""
        return PageResult(items, self.next_key, self.fields)

    def with_fields(self, **fields: Any) -> PageResult[T]:
        return PageResult(self.items, self.next_key, {**self.fields, **fields})


# The keysets most lists share.
ID_CURSOR = Cursor(ID)  # newest first by id
TIME_CURSOR = Cursor(Time(), ID)  # (a timestamp, id)
COUNT_CURSOR = Cursor(COUNT, ID)  # (a counter, id), e.g. most liked first
