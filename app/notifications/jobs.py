"""Notification delivery, as a job: the write that caused it has already committed."""

from __future__ import annotations

from typing import Any

from app.core.extensions import db
from app.core.jobs import enqueue, job
from app.core.sql import insert_ignore
from app.notifications.models import Notification

# Kinds that notify once per (actor, target) however often the action is toggled.
DEDUPED_KINDS = {"like", "collect", "follow", "comment_like"}


@job("notifications")
def deliver_notification(
    kind: str,
    recipient_id: int,
    actor_id: int | None = None,
    note_id: int | None = None,
    comment_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    if actor_id is not None and actor_id == recipient_id:
        return  # nobody is told about their own actions
    dedupe_key = None
    if kind in DEDUPED_KINDS:
        dedupe_key = f"{recipient_id}:{kind}:{actor_id}:{note_id}:{comment_id}"
    values = {
        "recipient_id": recipient_id,
        "kind": kind,
        "actor_id": actor_id,
        "note_id": note_id,
        "comment_id": comment_id,
        "payload": payload or {},
        "dedupe_key": dedupe_key,
    }
    if dedupe_key is None:
        db.session.add(Notification(**values))
    else:
        db.session.execute(insert_ignore(Notification, values))
    db.session.commit()


def notify_system(recipient_id: int, payload: dict[str, Any]) -> None:
    """A `system` notification (e.g. a moderation outcome: a moderation hook), delivered by
    the job once the caller's transaction commits."""
    enqueue(deliver_notification, "system", recipient_id, None, None, None, payload)
