"""Feeds. This module serves the following feed; the ranked feeds live alongside it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.api.presenters import notes_view
from app.api.routing import current_actor, endpoint
from app.schemas.common import Page, decode_time_cursor, encode_time_cursor, page_of
from app.services import feeds

bp = Blueprint("feeds", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "/feeds/following",
    "GET",
    summary="Notes from followed users and topics, newest first",
    query=Page,
    auth="required",
    errors=[400, 401],
)
def following_feed(query: Page) -> Any:
    actor = current_actor()
    notes = feeds.following_feed(actor, query.limit, decode_time_cursor(query.cursor))
    page = page_of(notes, query.limit, lambda note: encode_time_cursor(note.published_at, note.id))
    page["items"] = [
        {**item, "source": "following"} for item in notes_view(page["items"], actor.id)
    ]
    return page
