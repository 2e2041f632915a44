"""The cursor codec: what it issues it reads back; anything else is `invalid_cursor`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.core.pagination import (
    COUNT,
    COUNT_CURSOR,
    ID,
    ID_CURSOR,
    TIME_CURSOR,
    Cursor,
    Flag,
    IdList,
    InvalidCursor,
    Number,
    PageRequest,
    PageResult,
    Text,
    pack,
)
from app.core.schemas import MAX_ID, MAX_JSON_DEPTH, load_json


def test_round_trips():
    moment = datetime(2024, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    assert TIME_CURSOR.decode(TIME_CURSOR.encode(moment, 7)) == (moment.astimezone(UTC), 7)
    assert ID_CURSOR.decode_one(ID_CURSOR.encode(MAX_ID)) == MAX_ID
    assert COUNT_CURSOR.decode(COUNT_CURSOR.encode(0, 1)) == (0, 1)
    feed = Cursor(Text(8, 32, r"[A-Za-z0-9_-]+"), IdList(20))
    assert feed.decode(feed.encode("abcdefgh_-12", [3, 1, 2])) == ("abcdefgh_-12", [3, 1, 2])
    assert feed.decode(feed.encode("abcdefgh", [])) == ("abcdefgh", [])
    flagged = Cursor(Flag(), ID)
    assert flagged.decode(flagged.encode(True, 4)) == (True, 4)
    optional = Cursor(Number(), ID, required=1)
    assert optional.decode(optional.encode(40)) == (40,)
    assert optional.decode(optional.encode(1.5, 9)) == (1.5, 9)
    assert ID_CURSOR.decode(None) is None and ID_CURSOR.decode("") is None


def test_the_previous_wire_format_is_still_read():
    """Cursors issued before the codec (base64 of a JSON array, no padding) keep working."""
    assert TIME_CURSOR.decode("WyIyMDI0LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiw1XQ") == (
        datetime(2024, 1, 1, tzinfo=UTC),
        5,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (ID, 0),
        (ID, MAX_ID + 1),
        (ID, 2**63),
        (ID, True),
        (ID, 1.0),
        (ID, "1"),
        (COUNT, -1),
        (Number(), float("nan")),
        (Number(), float("inf")),
        (Number(), 2**53 + 1),
        (Number(), "1"),
        (Number(), None),
        (Flag(), 2),
        (Flag(), True),
        (Text(8, 32), "short"),
        (Text(8, 32), "x" * 33),
        (Text(8, 32, r"[a-z]+"), "abcdefg!"),
        (Text(), 5),
        (IdList(2), "1.2.3"),
        (IdList(), "1.x"),
        (IdList(), "1." + str(MAX_ID + 1)),
        (IdList(), "١٢"),  # Arabic-Indic digits: isdigit() but not ours
        (IdList(), [1, 2]),
    ],
)
def test_values_out_of_type_or_range_are_refused(field, value):
    with pytest.raises(InvalidCursor):
        field.load(value)


@pytest.mark.parametrize(
    "cursor",
    [
        pack(),
        pack(1, 2),
        pack([1]),
        pack({"a": 1}),
        pack(float("nan")),
        "e30",  # {}
        "WzFlNDAwXQ",  # [1e400]
        "!!!",
        "光标",
        "W" * 600,
        "WzE",  # truncated
    ],
)
def test_malformed_cursors_are_refused(cursor):
    with pytest.raises(InvalidCursor) as caught:
        ID_CURSOR.decode(cursor)
    assert caught.value.status == 400 and caught.value.code == "invalid_cursor"


def test_load_json_bounds_depth_and_refuses_non_json_constants():
    assert load_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    for text in [
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
        "[" * 5000 + "]" * 5000,
        '{"a": ' * 2000 + "1" + "}" * 2000,
        "NaN",
        "[Infinity]",
    ]:
        with pytest.raises(ValueError):
            load_json(text)


def test_a_page_request_is_the_decoded_cursor():
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    first = TIME_CURSOR.request(20, None)
    assert first == PageRequest(20) and first.first and first.after_id is None
    later = TIME_CURSOR.request(5, TIME_CURSOR.encode(moment, 9))
    assert later.after == (moment, 9) and not later.first
    assert ID_CURSOR.request(5, ID_CURSOR.encode(40)).after_id == 40
    with pytest.raises(InvalidCursor):
        ID_CURSOR.request(5, "e30")


def test_a_page_result_keeps_limit_items_and_keys_the_last_one():
    page = PageRequest(2)
    more = page.result([5, 4, 3], lambda n: (n,))  # services fetch limit + 1
    assert more.items == [5, 4] and more.next_key == (4,)
    assert ID_CURSOR.decode(ID_CURSOR.next_cursor(more)) == (4,)
    last = page.result([5, 4], lambda n: (n,))
    assert last.items == [5, 4] and last.next_key is None
    assert ID_CURSOR.next_cursor(last) is None
    assert page.result([], lambda n: (n,)) == PageResult([])
    viewed = more.map(lambda n: {"id": n}).with_fields(unread_count=3)
    assert viewed == PageResult([{"id": 5}, {"id": 4}], (4,), {"unread_count": 3})
