"""The signed-in user's notifications: list, unread count, mark read."""

from __future__ import annotations

from flask import Blueprint

from app.core.pagination import ID_CURSOR, PageRequest, PageResult
from app.core.presenters import image_view, iso, user_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.notes.models import Note
from app.notifications import services as notifications
from app.notifications.models import Notification
from app.notifications.schemas import (
    NotificationPage,
    NotificationsQuery,
    ReadIn,
    ReadOut,
    UnreadOut,
)
from app.notifications.services import NotificationList

bp = Blueprint("notifications", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "/notifications",
    "GET",
    summary="Own notifications, newest first; `kind=` and `unread=true` narrow them",
    query=NotificationsQuery,
    response=NotificationPage,
    auth="required",
    errors=[400, 401],
    paginated=ID_CURSOR,
)
def list_notifications(query: NotificationsQuery, page: PageRequest) -> PageResult[JsonBody]:
    result = notifications.list_notifications(
        current_actor(), kind=query.kind, unread_only=query.unread, page=page
    )
    views = result.page.map(lambda item: notification_view(item, result))
    return views.with_fields(unread_count=result.unread_count)


@endpoint(
    bp,
    "/notifications/read",
    "POST",
    summary="Mark own notifications read: `{ids: [...]}` or `{all: true}`",
    body=ReadIn,
    response=ReadOut,
    auth="required",
    errors=[400, 401],
)
def mark_read(body: ReadIn) -> JsonBody:
    return {"updated": notifications.mark_read(current_actor(), body.ids, body.all)}


@endpoint(
    bp,
    "/notifications/unread_count",
    "GET",
    summary="How many notifications are unread (for the badge)",
    response=UnreadOut,
    auth="required",
    errors=[401],
)
def unread_count() -> JsonBody:
    return {"unread_count": notifications.unread_count(current_actor())}


def _note_summary(note: Note | None) -> JsonBody | None:
    if note is None:
        return None
    images = note.images
    return {
        "id": note.id,
        "title": note.title,
        "cover": image_view(images[0] if images else note.cover_image),
    }


def notification_view(item: Notification, result: NotificationList) -> JsonBody:
    actor = item.actor
    return {
        "id": item.id,
        "kind": item.kind,
        "actor": (
            user_view(actor, result.avatars.get(actor.avatar_image_id or 0)) if actor else None
        ),
        "note": _note_summary(result.notes.get(item.note_id or 0)),
        "comment_id": item.comment_id,
        "payload": item.payload or {},
        "read": item.read_at is not None,
        "created_at": iso(item.created_at),
    }
