"""The signed-in user's notifications: grouped list, unread counts, mark read, settings and
the live stream."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from app.accounts.services import authenticate
from app.core.errors import Unauthorized, ValidationFailed
from app.core.pagination import PageRequest, PageResult
from app.core.presenters import image_view, iso, user_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.notes.models import Note
from app.notifications import services as notifications
from app.notifications import stream
from app.notifications.config import notification_config
from app.notifications.models import NotificationGroup
from app.notifications.schemas import (
    NotificationPage,
    NotificationsQuery,
    ReadIn,
    ReadOut,
    SettingsIn,
    SettingsOut,
    StreamQuery,
    UnreadCountsOut,
    UnreadOut,
)
from app.notifications.services import GROUP_CURSOR, GroupList

bp = Blueprint("notifications", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "/notifications",
    "GET",
    summary="Own notifications, one item per (type, target) while unread, newest activity "
    "first; `kind=` (or `type=`) and `unread=true` narrow them",
    query=NotificationsQuery,
    response=NotificationPage,
    auth="required",
    errors=[400, 401],
    paginated=GROUP_CURSOR,
)
def list_notifications(query: NotificationsQuery, page: PageRequest) -> PageResult[JsonBody]:
    result = notifications.list_groups(
        current_actor(), kind=query.kind or query.type, unread_only=query.unread, page=page
    )
    views = result.page.map(lambda group: group_view(group, result))
    return views.with_fields(unread_count=result.unread_total)


@endpoint(
    bp,
    "/notifications/read",
    "POST",
    summary="Mark own notification groups read: `{ids: [group ids]}` or `{all: true}`",
    body=ReadIn,
    response=ReadOut,
    auth="required",
    errors=[400, 401],
)
def mark_read(body: ReadIn) -> JsonBody:
    return {"updated": notifications.mark_read(current_actor(), body.ids, body.all)}


@endpoint(
    bp,
    "/notifications/unread-count",
    "GET",
    summary="Unread groups (the badge: the list's unread rows), in total and by type",
    response=UnreadCountsOut,
    auth="required",
    errors=[401],
)
def unread_counts() -> JsonBody:
    return notifications.unread_counts(current_actor())


@endpoint(
    bp,
    "/notifications/unread_count",
    "GET",
    summary="Unread groups, as one number (older clients; see /notifications/unread-count)",
    response=UnreadOut,
    auth="required",
    errors=[401],
)
def unread_count() -> JsonBody:
    return {"unread_count": notifications.unread_count(current_actor())}


@endpoint(
    bp,
    "/me/notification-settings",
    "GET",
    summary="Own notification settings: muted types and the time zone of quiet hours",
    response=SettingsOut,
    auth="required",
    errors=[401],
)
def get_settings() -> JsonBody:
    return notifications.get_settings(current_actor())


@endpoint(
    bp,
    "/me/notification-settings",
    "PUT",
    summary="Set muted types (`{muted_types: [...]}`: neither listed as new nor pushed) "
    "and optionally `timezone`",
    body=SettingsIn,
    response=SettingsOut,
    auth="required",
    errors=[400, 401, 415],
)
def put_settings(body: SettingsIn) -> JsonBody:
    if body.muted_types is None and "timezone" not in body.model_fields_set:
        raise ValidationFailed("Send `muted_types` (and optionally `timezone`).")
    return notifications.update_settings(
        current_actor(),
        muted_types=body.muted_types,
        timezone=body.timezone,
        timezone_given="timezone" in body.model_fields_set,
    )


@endpoint(
    bp,
    "/notifications/stream",
    "GET",
    summary="Server-Sent Events: one `data:` line (JSON) per new notification within a "
    "second; Bearer header or `?token=`; resumes after `Last-Event-ID`; ends after "
    "SPROUT_NOTIFICATION_STREAM_SECONDS (reconnect)",
    query=StreamQuery,
    auth="optional",
    errors=[400, 401, 429],
    content_type="text/event-stream",
)
def notification_stream(query: StreamQuery) -> Response:
    actor = current_actor()
    if actor is None and query.token:
        actor = authenticate(query.token)
    if actor is None:
        raise Unauthorized("Sign in first: send `Authorization: Bearer <token>` or `?token=`.")
    last_id = query.last_event_id
    header = request.headers.get("Last-Event-ID", "").strip()
    if header:
        if not header.isdigit() or len(header) > 10:
            raise ValidationFailed("`Last-Event-ID` is a notification id.")
        last_id = int(header)
    if last_id is None:
        last_id = notifications.newest_notification_id(actor.id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = notification_config()
    release = stream.take_slot(app, config)
    body = stream.events(app, actor.id, last_id, config, notifications.notifications_after, release)
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # no proxy buffering
    response.call_on_close(release)
    return response


def _note_summary(note: Note | None) -> JsonBody | None:
    if note is None:
        return None
    images = note.images
    return {
        "id": note.id,
        "title": note.title,
        "cover": image_view(images[0] if images else note.cover_image),
    }


def group_view(group: NotificationGroup, result: GroupList) -> JsonBody:
    actors = [
        user_view(user, result.avatars.get(user.avatar_image_id or 0))
        for user in result.actors.get(group.id, [])
    ]
    return {
        "id": group.id,
        "type": group.kind,
        "target": {"type": group.target_type, "id": group.target_id},
        "actors": actors,
        "actor_count": result.visible_counts.get(group.id, 0),
        "latest_at": iso(group.latest_at),
        "read": group.read_at is not None,
        # the fields of one notification, for clients of the ungrouped list
        "kind": group.kind,
        "actor": actors[0] if actors else None,
        "note": _note_summary(result.notes.get(group.note_id or 0)),
        "comment_id": group.comment_id,
        "payload": group.payload or {},
        "created_at": iso(group.created_at),
    }
