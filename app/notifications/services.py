"""Reading one's notifications: the list, the unread count and marking them read.

Delivery lives in `app.notifications.jobs`; this is the recipient's side.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.models import utcnow
from app.core.policies import can_view_note
from app.core.viewer import avatars_for
from app.media.models import Image
from app.notes.models import Note
from app.notifications.models import Notification


@dataclass
class NotificationList:
    items: list[Notification]
    notes: dict[int, Note]  # only notes the recipient may still see
    avatars: dict[int, Image]
    unread_count: int


def unread_count(actor: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.recipient_id == actor.id, Notification.read_at.is_(None))
        )
        or 0
    )


def list_notifications(
    actor: User,
    *,
    kind: str | None = None,
    unread_only: bool = False,
    limit: int = 20,
    before_id: int | None = None,
) -> NotificationList:
    """Newest first, keyset on id (ids only grow), `limit + 1` rows for the next-page check."""
    stmt = (
        select(Notification)
        .where(Notification.recipient_id == actor.id)
        .order_by(Notification.id.desc())
        .limit(limit + 1)
    )
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    items = list(db.session.scalars(stmt))
    note_ids = {item.note_id for item in items if item.note_id is not None}
    notes = (
        {
            note.id: note
            for note in db.session.scalars(select(Note).where(Note.id.in_(note_ids)))
            if can_view_note(actor, note)
        }
        if note_ids
        else {}
    )
    actors = [item.actor for item in items if item.actor is not None]
    return NotificationList(items, notes, avatars_for(actors), unread_count(actor))


def mark_read(actor: User, ids: list[int] | None = None, mark_all: bool = False) -> int:
    """Only the recipient's own unread notifications change; other ids are ignored silently."""
    stmt = (
        update(Notification)
        .where(Notification.recipient_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    if not mark_all:
        if not ids:
            return 0
        stmt = stmt.where(Notification.id.in_(set(ids)))
    updated = db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return updated
