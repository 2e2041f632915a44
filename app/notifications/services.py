"""The recipient's side of notifications: grouped lists, unread counts, marking groups read,
settings (muted types, time zone), the live stream's reads, and `send_system` for the
domains that notify users of their own accord (recall, verification, rewards).

Delivery of interaction notifications lives in `app.notifications.jobs`.

The badge: `total` of `GET /notifications/unread-count` counts unread *groups* (what the
list shows as unread, one row per (type, target)), so reading every unread row of the list
clears it; `by_type` splits the same groups by type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    or_,
    select,
    update,
)

from app.accounts.models import User
from app.core.errors import ValidationFailed
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import ID, Cursor, PageRequest, PageResult
from app.core.policies import can_view_note
from app.core.presenters import iso, user_view
from app.core.sql import insert_ignore
from app.core.viewer import avatars_for
from app.core.visibility import banned_user_ids, not_banned
from app.media.models import Image
from app.notes.models import Note
from app.notifications.config import notification_config, valid_timezone
from app.notifications.grouping import record
from app.notifications.jobs import queue_push
from app.notifications.models import (
    NOTIFICATION_TYPES,
    Notification,
    NotificationGroup,
    NotificationGroupActor,
    NotificationSettings,
)

# Groups, newest activity first: (latest_id, id), both only growing.
GROUP_CURSOR = Cursor(ID, ID)
MAX_ACTORS_SHOWN = 3


def can_manage_notifications(actor: User | None, recipient_id: int) -> bool:
    """One reads, marks and configures only one's own notifications."""
    return actor is not None and actor.id == recipient_id


@dataclass
class GroupList:
    page: PageResult[NotificationGroup]
    actors: dict[int, list[User]]  # group id → up to 3 latest visible actors
    visible_counts: dict[int, int]  # group id → distinct actors not banned
    notes: dict[int, Note]  # only notes the recipient may still see
    avatars: dict[int, Image]
    unread_total: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _visible_group() -> ColumnElement[bool]:
    """What a banned account did is not shown (as if it did not exist) until the ban is
    lifted: a group shows its actors in good standing, and one with none is not shown. A
    group without actors (a notice) always is."""
    member = NotificationGroupActor
    return or_(
        NotificationGroup.actor_count == 0,
        exists().where(member.group_id == NotificationGroup.id, not_banned(member.actor_id)),
    )


def _own_unread(user_id: int) -> ColumnElement[bool]:
    return and_(NotificationGroup.recipient_id == user_id, NotificationGroup.read_at.is_(None))


def unread_counts(actor: User) -> dict[str, Any]:
    """`{total, by_type}`: unread groups (the list's unread rows), by type."""
    rows = db.session.execute(
        select(NotificationGroup.kind, func.count())
        .where(_own_unread(actor.id), _visible_group())
        .group_by(NotificationGroup.kind)
    ).all()
    by_type = {kind: int(n) for kind, n in rows}
    return {"total": sum(by_type.values()), "by_type": by_type}


def unread_count(actor: User) -> int:
    return int(unread_counts(actor)["total"])


def list_groups(
    actor: User,
    *,
    kind: str | None = None,
    unread_only: bool = False,
    page: PageRequest,
) -> GroupList:
    """Newest activity first; keyset on (latest_id, id), `limit + 1` rows for the next page."""
    stmt = select(NotificationGroup).where(
        NotificationGroup.recipient_id == actor.id, _visible_group()
    )
    if kind is not None:
        stmt = stmt.where(NotificationGroup.kind == kind)
    if unread_only:
        stmt = stmt.where(NotificationGroup.read_at.is_(None))
    if page.after is not None:
        latest, group_id = page.after
        stmt = stmt.where(
            or_(
                NotificationGroup.latest_id < latest,
                and_(NotificationGroup.latest_id == latest, NotificationGroup.id < group_id),
            )
        )
    stmt = stmt.order_by(NotificationGroup.latest_id.desc(), NotificationGroup.id.desc()).limit(
        page.limit + 1
    )
    listed = page.result(list(db.session.scalars(stmt)), lambda g: (g.latest_id, g.id))
    groups = listed.items
    group_ids = [g.id for g in groups]
    actors: dict[int, list[User]] = {gid: [] for gid in group_ids}
    banned_counts: dict[int, int] = {}
    if group_ids:
        member = NotificationGroupActor
        ranked = (
            select(
                member.group_id,
                member.actor_id,
                func.row_number()
                .over(partition_by=member.group_id, order_by=member.id.desc())
                .label("rank"),
            )
            .where(member.group_id.in_(group_ids), not_banned(member.actor_id))
            .subquery()
        )
        rows = db.session.execute(
            select(ranked.c.group_id, User)
            .join(User, User.id == ranked.c.actor_id)
            .where(ranked.c.rank <= MAX_ACTORS_SHOWN)
            .order_by(ranked.c.group_id, ranked.c.rank)
        ).all()
        for group_id, user in rows:
            actors[group_id].append(user)
        banned_counts = {
            gid: int(n)
            for gid, n in db.session.execute(
                select(member.group_id, func.count())
                .where(member.group_id.in_(group_ids), member.actor_id.in_(banned_user_ids()))
                .group_by(member.group_id)
            )
        }
    visible_counts = {g.id: max(g.actor_count - banned_counts.get(g.id, 0), 0) for g in groups}
    note_ids = {g.note_id for g in groups if g.note_id is not None}
    notes = (
        {
            note.id: note
            for note in db.session.scalars(select(Note).where(Note.id.in_(note_ids)))
            if can_view_note(actor, note)
        }
        if note_ids
        else {}
    )
    everyone = [user for users in actors.values() for user in users]
    return GroupList(
        listed, actors, visible_counts, notes, avatars_for(everyone), unread_count(actor)
    )


def mark_read(actor: User, ids: list[int] | None = None, mark_all: bool = False) -> int:
    """Mark the actor's own unread groups read; other ids are ignored silently. A read group
    stays as it was: its `open_key` is cleared, so the next actor opens a new unread group."""
    if not mark_all and not ids:
        return 0
    now = utcnow()
    where = [_own_unread(actor.id)]
    if not mark_all:
        where.append(NotificationGroup.id.in_(set(ids or [])))
    updated = db.session.execute(
        update(NotificationGroup)
        .where(*where)
        .values(read_at=now, open_key=None)
        .execution_options(synchronize_session=False, preserve_rowcount=True)
    ).rowcount
    events = update(Notification).where(
        Notification.recipient_id == actor.id, Notification.read_at.is_(None)
    )
    if not mark_all:
        events = events.where(Notification.group_id.in_(set(ids or [])))
    db.session.execute(events.values(read_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    return updated


# -- settings ------------------------------------------------------------------------------
def get_settings(actor: User) -> dict[str, Any]:
    row = db.session.get(NotificationSettings, actor.id)
    return {
        "muted_types": list(row.muted_types or []) if row else [],
        "timezone": row.timezone if row else None,
        "default_timezone": notification_config().timezone,
        "known_types": list(NOTIFICATION_TYPES),
    }


def update_settings(
    actor: User,
    *,
    muted_types: list[str] | None = None,
    timezone: str | None = None,
    timezone_given: bool = False,
) -> dict[str, Any]:
    """Replace the muted types (and the time zone, when given). Unknown types or zones are
    a 400 and change nothing. Unread groups of a newly muted type are marked read, so the
    list, the badge and the pushes agree that muted types are not new."""
    if not can_manage_notifications(actor, actor.id):
        raise ValidationFailed("Sign in first.")
    problems = []
    if muted_types is not None:
        unknown = sorted({t for t in muted_types if t not in NOTIFICATION_TYPES})
        if unknown:
            problems.append(
                {
                    "field": "muted_types",
                    "message": f"unknown notification types: {', '.join(unknown)}",
                    "type": "unknown_type",
                }
            )
    if timezone_given and timezone is not None and not valid_timezone(timezone):
        problems.append(
            {"field": "timezone", "message": "not an IANA time zone", "type": "unknown_timezone"}
        )
    if problems:
        raise ValidationFailed(
            "The request is not valid.",
            details={"fields": problems, "known_types": list(NOTIFICATION_TYPES)},
        )
    db.session.execute(
        insert_ignore(NotificationSettings, {"user_id": actor.id, "muted_types": []})
    )
    values: dict[str, Any] = {"updated_at": utcnow()}
    if muted_types is not None:
        values["muted_types"] = sorted(set(muted_types), key=NOTIFICATION_TYPES.index)
    if timezone_given:
        values["timezone"] = timezone
    db.session.execute(
        update(NotificationSettings)
        .where(NotificationSettings.user_id == actor.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if muted_types:
        db.session.execute(
            update(NotificationGroup)
            .where(_own_unread(actor.id), NotificationGroup.kind.in_(set(muted_types)))
            .values(read_at=utcnow(), open_key=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    db.session.expire_all()
    return get_settings(actor)


# -- the stream's reads --------------------------------------------------------------------
def newest_notification_id(user_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.max(Notification.id)).where(Notification.recipient_id == user_id)
        )
        or 0
    )


def notifications_after(user_id: int, after_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The user's notifications newer than `after_id`, oldest first, as stream events
    (an indexed range on (recipient_id, id): cheap to ask twice a second)."""
    rows = db.session.execute(
        select(Notification, NotificationGroup)
        .join(NotificationGroup, NotificationGroup.id == Notification.group_id)
        .where(
            Notification.recipient_id == user_id,
            Notification.id > after_id,
            not_banned(Notification.actor_id, allow_none=True),
        )
        .order_by(Notification.id)
        .limit(limit)
    ).all()
    actors = [n.actor for n, _ in rows if n.actor is not None]
    avatars = avatars_for(actors)
    return [
        {
            "id": n.id,
            "group_id": group.id,
            "type": n.kind,
            "target": {"type": group.target_type, "id": group.target_id},
            "actor": (
                user_view(n.actor, avatars.get(n.actor.avatar_image_id or 0)) if n.actor else None
            ),
            "actor_count": group.actor_count,
            "note_id": n.note_id,
            "comment_id": n.comment_id,
            "payload": n.payload or {},
            "created_at": iso(n.created_at),
        }
        for n, group in rows
    ]


# -- notices from the other domains --------------------------------------------------------
def send_system(
    recipient_id: int,
    kind: str,
    title: str,
    body: str,
    *,
    payload: dict | None = None,
    push: bool = True,
) -> bool:
    """A notice of type `kind` ("system", "recall", "verification", "invite_reward",
    "share_reward": `app.notifications.models.SYSTEM_TYPES`; an unknown kind is a
    ValueError) for one user, in the caller's transaction: it does not commit (commit with
    `app.core.jobs.commit()` so embedded mode runs the push job at once). Returns False, and
    writes nothing, when the recipient muted `kind`. With `push`, a push outbox row and its
    job are written too (quiet hours and the daily cap apply when it is delivered).

    The notice's payload is `{"title", "body", **payload}`; a `note_id` in `payload` makes
    the note its target (`target: {type: "note", id}`), otherwise the notice is its own."""
    extra = dict(payload or {})
    note_id = extra.get("note_id")
    note_id = note_id if isinstance(note_id, int) and not isinstance(note_id, bool) else None
    notice = {"title": title, "body": body, **extra}
    recorded = record(kind, recipient_id, None, note_id, None, notice)
    if recorded is None:
        return False
    if push:
        queue_push(recorded, recipient_id, title=title, body=body, payload=extra)
    return True
