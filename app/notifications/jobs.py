"""Notification delivery, as jobs: `deliver_notification` once the write that caused it has
committed, `deliver_push` for each row of the push outbox."""

from __future__ import annotations

from typing import Any

from app.core.extensions import db
from app.core.jobs import commit, enqueue, job
from app.notifications import push
from app.notifications.config import notification_config
from app.notifications.grouping import DEDUPED_KINDS, Recorded, record
from app.notifications.models import GROUPED_TYPES, PushMessage

__all__ = ["DEDUPED_KINDS", "deliver_notification", "deliver_push", "notify_system", "queue_push"]


def queue_push(
    recorded: Recorded,
    recipient_id: int,
    *,
    title: str | None = None,
    body: str | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """Write the push outbox row for a recorded notification, in the same transaction, and
    the job that delivers it (it commits with them). A grouped type pushes once per group,
    when the group opens (worded with the group's size when it is sent). None: no push."""
    if recorded.kind not in notification_config().push_types:
        return None
    if recorded.kind in GROUPED_TYPES and not recorded.opened:
        return None
    row = PushMessage(
        recipient_id=recipient_id,
        kind=recorded.kind,
        group_id=recorded.group_id,
        title=title,
        body=body,
        payload={**(payload or {}), "notification_id": recorded.notification_id},
        state="pending",
    )
    db.session.add(row)
    db.session.flush()
    enqueue(deliver_push, row.id)
    return row.id


@job("notifications")
def deliver_notification(
    kind: str,
    recipient_id: int,
    actor_id: int | None = None,
    note_id: int | None = None,
    comment_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Add the event to the recipient's groups and queue its push, in one transaction."""
    recorded = record(kind, recipient_id, actor_id, note_id, comment_id, payload)
    if recorded is not None:
        system = payload or {}
        queue_push(
            recorded,
            recipient_id,
            title=system.get("title") if kind == "system" else None,
            body=(system.get("body") or system.get("text")) if kind == "system" else None,
        )
    commit()  # and, in embedded mode, the push job it enqueued runs now


@job("notifications")
def deliver_push(push_id: int) -> None:
    """One push outbox row: held through quiet hours, capped per day, sent (see `push`)."""
    push.deliver(push_id)


def notify_system(recipient_id: int, payload: dict[str, Any]) -> None:
    """A `system` notification (e.g. a moderation outcome: a moderation hook), delivered by
    the job once the caller's transaction commits."""
    enqueue(deliver_notification, "system", recipient_id, None, None, None, payload)
