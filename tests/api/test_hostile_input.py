"""Hostile input gets a 4xx in the error envelope, never a 500: JSON nested a thousand deep,
cursors holding huge integers, NaN or the wrong shape, a JSON body under another media type,
and a method the route does not serve (405 with `Allow`)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from app.core.pagination import pack
from app.core.schemas import MAX_JSON_DEPTH
from tests.conftest import assert_error


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 90)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def staff(api):
    """A normal user, a moderator and an admin."""
    api.register("plain")
    api.register("mod")
    api.register("root")
    api.grant("mod", "moderator")
    api.grant("root", "admin")
    return api


# 1. JSON nested beyond any real body


def test_a_login_body_nested_a_thousand_deep_is_400(api):
    body = '{"username": "a", "password": "b", "extra": ' + nested(1000) + "}"
    response = api.post("/auth/login", data=body, content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_json_nesting_is_allowed_up_to_the_limit_and_refused_past_it(api):
    api.register("deep", "correct horse 1")

    def login(depth: int):  # the object itself is one level, `extra` holds the rest
        body = (
            '{"username": "deep", "password": "correct horse 1", "extra": '
            + nested(depth - 1)
            + "}"
        )
        return api.post("/auth/login", data=body, content_type="application/json")

    assert login(MAX_JSON_DEPTH).status_code == 200
    assert_error(login(MAX_JSON_DEPTH + 1), 400, "malformed_json")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_literals_are_400(api, literal):
    body = '{"username": ' + literal + ', "password": "b"}'
    response = api.post("/auth/login", data=body, content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_upload_edits_nested_a_thousand_deep_are_400(api):
    api.register("uploader")
    response = api.post(
        "/media/images",
        "uploader",
        data={"file": (io.BytesIO(png()), "a.png"), "edits": nested(1000)},
        content_type="multipart/form-data",
    )
    assert_error(response, 400, "invalid_edits")


# 2. Cursors: one codec, types and ranges checked

HOSTILE_CURSORS = {
    "2**31": pack(2**31),
    "2**63": pack(2**63),
    "-1": pack(-1),
    "string": pack("x"),
    "NaN": pack(float("nan")),
    "1e400": "WzFlNDAwXQ",  # [1e400]: infinity once parsed
    "true": pack(True),
    "null": pack(None),
    "nested": pack([1]),
    "object": "e30",  # {}
    "too many": pack(1, 2, 3),
    "empty": pack(),
    "not base64": "!!!",
    "not JSON": "bm90IGpzb24",
    "non-ASCII": "光标",
    "nested 70 deep": base64.urlsafe_b64encode(nested(70).encode()).decode(),
}
LISTS = {
    "/modlog": None,
    "/feeds/hot": None,
    "/moderation/log": "mod",
    "/moderation/cases": "mod",
    "/admin/users": "root",
    "/notifications": "plain",
    "/me/points": "plain",
    "/topics": None,
}


@pytest.mark.parametrize("path", list(LISTS))
def test_hostile_cursors_are_400_on_every_list(staff, path):
    for name, cursor in HOSTILE_CURSORS.items():
        response = staff.get(path, LISTS[path], query_string={"cursor": cursor})
        assert response.status_code == 400, (name, response.get_json())
        assert_error(response, 400, "invalid_cursor")


def test_hostile_search_cursors_are_400(staff):
    """A search cursor is the backend's position (an offset here): any number a double holds
    exactly, so only the rest is refused."""
    for name in ["2**63", "-1", "string", "NaN", "1e400", "null", "object", "not JSON"]:
        cursor = HOSTILE_CURSORS[name]
        response = staff.get("/search/users", query_string={"q": "a", "cursor": cursor})
        assert response.status_code == 400, (name, response.get_json())
        assert_error(response, 400, "invalid_cursor")


def test_cursors_of_the_wrong_list_or_range_are_400(staff):
    """A well-formed cursor of another list's shape is refused, not misread."""
    time_cursor = pack("2024-01-01T00:00:00+00:00", 5)
    assert_error(staff.get(f"/modlog?cursor={time_cursor}"), 400, "invalid_cursor")
    queue_cursor = pack(float("inf"), 5)
    assert_error(staff.get(f"/moderation/cases?cursor={queue_cursor}", "mod"), 400)
    assert_error(staff.get(f"/moderation/cases?cursor={pack(1.5, 2**31)}", "mod"), 400)
    session_cursor = pack("short", "1.2")
    assert_error(staff.get(f"/feeds/discover?cursor={session_cursor}"), 400, "invalid_cursor")
    tail_cursor = pack("abcdefghijkl", "1." + str(2**31))
    assert_error(staff.get(f"/feeds/discover?cursor={tail_cursor}"), 400, "invalid_cursor")


def test_valid_cursors_still_page(staff):
    assert staff.get(f"/modlog?cursor={pack(2**31 - 1)}").status_code == 200
    assert staff.get(f"/feeds/hot?cursor={pack(0)}").status_code == 200
    assert staff.get(f"/moderation/cases?cursor={pack(3.5, 7)}", "mod").status_code == 200
    assert staff.get(f"/admin/users?cursor={pack(1)}", "root").status_code == 200


# 3. A JSON body must be sent as application/json


def test_a_json_body_under_another_media_type_is_415(api):
    api.register("typed", "correct horse 1")
    body = '{"username": "typed", "password": "correct horse 1"}'
    for media_type in ["text/plain", "application/x-www-form-urlencoded", "application/xml"]:
        response = api.post("/auth/login", data=body, content_type=media_type)
        assert_error(response, 415, "unsupported_media_type")
    response = api.post("/auth/login", data=body, content_type="application/json; charset=utf-8")
    assert response.status_code == 200


def test_requests_without_a_body_are_unaffected(api):
    api.register("bodiless")
    # No body at all, whatever the header says: validated as `{}` (here: a missing field).
    response = api.post("/auth/login", data=b"", content_type="text/plain")
    assert_error(response, 400, "validation_error")
    assert api.post("/me/checkin", "bodiless").status_code == 200


def test_uploads_stay_multipart(api):
    api.register("uploader2")
    response = api.post(
        "/media/images",
        "uploader2",
        data={"file": (io.BytesIO(png()), "a.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    as_json = api.post("/media/images", "uploader2", json={"file": "x"})
    assert_error(as_json, 415, "unsupported_media_type")


# 4. 405 says which methods the route serves


def test_a_405_carries_allow_and_the_envelope(api):
    response = api.delete("/channels")
    assert_error(response, 405, "method_not_allowed")
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert "GET" in allowed and "DELETE" not in allowed
    assert response.headers["Content-Type"].startswith("application/json")
