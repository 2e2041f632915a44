"""Sharing: POST /api/v1/notes/{id}/share, share statistics, and the public link GET /s/{token}.

The link resolver lives at the root, outside the API base path, so this blueprint has no
url_prefix and the API routes carry their full `/api/v1/...` paths.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, redirect, request

from app.core.errors import NotFound
from app.core.presenters import user_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.core.viewer import avatars_for
from app.notes.schemas.shares import (
    ShareIn,
    ShareOut,
    ShareResolved,
    ShareStatsOut,
    ShareVisitQuery,
)
from app.notes.services import shares

bp = Blueprint("shares", __name__)

API = "/api/v1"
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")


def _public_base_url() -> str:
    """The configured public URL, or the host this request came to."""
    configured = current_app.config["SPROUT"].public_base_url
    return (configured or request.host_url).rstrip("/")


@endpoint(
    bp,
    f"{API}/notes/<int:note_id>/share",
    "POST",
    summary="Share a note to a channel: counts the share and returns the sharer's link for that "
    "channel (the same link on repeat shares)",
    body=ShareIn,
    response=ShareOut,
    auth="required",
    errors=[404],
)
def share_note(note_id: int, body: ShareIn) -> JsonBody:
    link = shares.share_note(current_actor(), note_id, body.channel, _public_base_url())
    return {
        "share_url": link.url,
        "token": link.share.token,
        "channel": link.share.channel,
        "note_id": link.share.note_id,
        "share_count": link.share_count,
    }


@endpoint(
    bp,
    f"{API}/notes/<int:note_id>/shares/stats",
    "GET",
    summary="Shares and visits of a note per channel and per visit source, and its top sharers "
    "(the note's author or a moderator)",
    response=ShareStatsOut,
    auth="required",
    errors=[403, 404],
)
def share_stats(note_id: int) -> JsonBody:
    stats = shares.share_stats(current_actor(), note_id)
    users = [row["user"] for row in stats["top_sharers"]]
    avatars = avatars_for(users)
    stats["top_sharers"] = [
        {**row, "user": user_view(row["user"], avatars.get(row["user"].avatar_image_id or 0))}
        for row in stats["top_sharers"]
    ]
    return stats


@endpoint(
    bp,
    "/s/<token>",
    "GET",
    summary="Open a share link (at the root, outside /api/v1): records the visit and its source "
    "(`?from=`, else the link's channel). With `Accept: application/json` it answers 200 with "
    "the note reference; otherwise 302 to `/api/v1/notes/{id}`",
    query=ShareVisitQuery,
    response=ShareResolved,
    errors=[404],
)
def open_share(token: str, query: ShareVisitQuery) -> JsonBody | Response:
    if not _TOKEN.match(token):
        raise NotFound("No such share link.", code="share_not_found")
    resolved = shares.resolve_share(current_actor(), token, query.from_, request.referrer)
    share, sharer = resolved.share, resolved.sharer
    note_url = f"{API}/notes/{share.note_id}"
    wants = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if wants != "application/json":
        return redirect(note_url, code=302)
    return {
        "note_id": share.note_id,
        "note_url": note_url,
        "channel": share.channel,
        "shared_by": (
            user_view(sharer, avatars_for([sharer]).get(sharer.avatar_image_id or 0))
            if sharer
            else None
        ),
    }
