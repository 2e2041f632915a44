"""Shared request types: untrusted JSON, ids, bounded text and pagination (cursors:
`app.core.pagination`)."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# The deepest JSON a client may send. Real bodies are three or four levels deep; the standard
# parser recurses once per level (1,000 levels is a RecursionError) and a few hundred would
# still reach pydantic and the orjson-encoded columns (which stop at 254).
MAX_JSON_DEPTH = 32


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(raw: str | bytes) -> Any:
    """Parse JSON a client sent. Anything but strict JSON (NaN and Infinity included) or
    nested deeper than `MAX_JSON_DEPTH` is a ValueError, never a RecursionError."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise ValueError("the JSON is nested too deeply") from exc
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(MAX_JSON_DEPTH):  # breadth first, one level per pass: no recursion
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return value
    raise ValueError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")


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
    """The paging of every cursor list (`endpoint(paginated=...)` reads it); list queries
    extend it with their filters."""

    limit: int = Field(default=20, ge=1, le=50)
    cursor: str | None = Field(default=None, max_length=200)


class PageOut(BaseModel):
    next_cursor: str | None
