"""Reading one's notifications: the list, the unread count and marking them read.

Delivery lives in `app.notifications.jobs`; this is the recipient's side.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import can_view_note
from app.core.sql import newest_first
from app.core.viewer import avatars_for
from app.core.visibility import not_banned
from app.media.models import Image
from app.notes.models import Note
from app.notifications.models import Notification


@dataclass
class NotificationList:
    page: PageResult[Notification]
    notes: dict[int, Note]  # only notes the recipient may still see
    avatars: dict[int, Image]
    unread_count: int


def _from_visible_actor() -> ColumnElement[bool]:
    """What a banned account did is not shown (it looks as if it did not exist) until the ban
    is lifted; notifications about notes one may no longer see stay, without the note."""
    return not_banned(Notification.actor_id, allow_none=True)


def unread_count(actor: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.recipient_id == actor.id,
                Notification.read_at.is_(None),
                _from_visible_actor(),
            )
        )
        or 0
    )


def list_notifications(
    actor: User,
    *,
    kind: str | None = None,
    unread_only: bool = False,
    page: PageRequest,
) -> NotificationList:
    """Newest first, keyset on id (ids only grow), `limit + 1` rows for the next-page check."""
    stmt = newest_first(
        select(Notification).where(Notification.recipient_id == actor.id, _from_visible_actor()),
        Notification.id,
        page.limit,
        page.after_id,
    )
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    listed = page.by_id(list(db.session.scalars(stmt)))
    items = listed.items
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
    return NotificationList(listed, notes, avatars_for(actors), unread_count(actor))


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
