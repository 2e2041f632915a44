"""Writing a notification: the event row, its group, the group's distinct actors, and the
wake-up of the recipient's open streams. Runs inside the caller's transaction (a job's, or a
use case's through `send_system`); nothing here commits.

Exact under concurrency (any number of processes liking one note at once):
- the event is inserted once per (recipient, kind, actor, target) for the deduplicated kinds;
- the open group is found or opened by one atomic upsert on its unique `open_key`;
- each actor joins a group at most once (unique (group, actor)), and only a real insert raises
  `actor_count` by one in SQL.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import case, event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.core.extensions import db
from app.core.models import utcnow
from app.notifications.models import (
    GROUPED_TYPES,
    NOTIFICATION_TYPES,
    SYSTEM_TYPES,
    Notification,
    NotificationGroup,
    NotificationGroupActor,
    NotificationSettings,
)

# Kinds that notify once per (actor, target) however often the action is toggled.
DEDUPED_KINDS = {"like", "collect", "follow", "comment_like"}


def stream_channel(user_id: int) -> str:
    """The Redis pub/sub channel that wakes a user's open streams (services mode)."""
    return f"sprout:notifications:{user_id}"


@dataclass(frozen=True)
class Recorded:
    notification_id: int
    group_id: int
    kind: str
    opened: bool  # the event opened its group (its first actor, or a group of one)


def target_of(
    kind: str, recipient_id: int, note_id: int | None, comment_id: int | None
) -> tuple[str, int | None]:
    """What a notification is about, as `(type, id)`; `("notice", None)` for a notice that
    stands alone (its own id is filled in)."""
    if kind == "follow":
        return "user", recipient_id
    if kind in ("comment_like", "comment", "reply", "mention") and comment_id is not None:
        return "comment", comment_id
    if note_id is not None:
        return "note", note_id
    return "notice", None


def muted_types(user_id: int) -> list[str]:
    muted = db.session.scalar(
        select(NotificationSettings.muted_types).where(NotificationSettings.user_id == user_id)
    )
    return list(muted or [])


def _insert(model: Any) -> Any:
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(model)


def record(
    kind: str,
    recipient_id: int,
    actor_id: int | None = None,
    note_id: int | None = None,
    comment_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Recorded | None:
    """Add one event to its group. None, with nothing written, for one's own action, a
    muted type or a repeat of a deduplicated event."""
    if kind not in NOTIFICATION_TYPES:
        raise ValueError(f"unknown notification type {kind!r}; known: {NOTIFICATION_TYPES}")
    if actor_id is not None and actor_id == recipient_id:
        return None  # nobody is told about their own actions
    if kind in muted_types(recipient_id):
        return None
    now = utcnow()
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
        "created_at": now,
    }
    notification_id = db.session.execute(
        _insert(Notification).values(**values).on_conflict_do_nothing().returning(Notification.id)
    ).scalar()
    if notification_id is None:
        return None  # told once already
    target_type, target_id = target_of(kind, recipient_id, note_id, comment_id)
    if target_type == "notice":
        target_id = notification_id
    group_values = {
        "recipient_id": recipient_id,
        "kind": kind,
        "target_type": target_type,
        "target_id": target_id,
        "actor_count": 0,
        "latest_id": notification_id,
        "note_id": note_id,
        "comment_id": comment_id,
        "payload": payload or {},
        "latest_at": now,
        "created_at": now,
    }
    grouped = kind in GROUPED_TYPES and target_id is not None and actor_id is not None
    if grouped:
        group_values["open_key"] = f"{recipient_id}:{kind}:{target_type}:{target_id}"
        insert = _insert(NotificationGroup).values(**group_values)
        table = NotificationGroup.__table__
        newer = insert.excluded.latest_id > table.c.latest_id
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.open_key],
            set_={
                "latest_id": case((newer, insert.excluded.latest_id), else_=table.c.latest_id),
                "latest_at": case((newer, insert.excluded.latest_at), else_=table.c.latest_at),
                "payload": case((newer, insert.excluded.payload), else_=table.c.payload),
            },
        ).returning(NotificationGroup.id)
        group_id = db.session.execute(stmt).scalar_one()
    else:
        group_id = db.session.execute(
            _insert(NotificationGroup).values(**group_values).returning(NotificationGroup.id)
        ).scalar_one()
    opened = not grouped
    if actor_id is not None:
        joined = db.session.execute(
            _insert(NotificationGroupActor)
            .values(group_id=group_id, actor_id=actor_id, created_at=now)
            .on_conflict_do_nothing()
            .execution_options(preserve_rowcount=True)
        ).rowcount
        if joined == 1:
            count = db.session.execute(
                update(NotificationGroup)
                .where(NotificationGroup.id == group_id)
                .values(actor_count=NotificationGroup.actor_count + 1)
                .returning(NotificationGroup.actor_count)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            opened = opened or count == 1
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(group_id=group_id)
        .execution_options(synchronize_session=False)
    )
    announce_after_commit(recipient_id)
    return Recorded(notification_id, group_id, kind, opened)


def is_system_type(kind: str) -> bool:
    return kind in SYSTEM_TYPES


def announce_after_commit(user_id: int) -> None:
    """Once the transaction commits, wake the user's open streams in every process (Redis
    pub/sub in services mode). Embedded mode's streams poll the database instead."""
    connection = current_app.extensions.get("sprout.redis")
    if connection is None:
        return
    session = db.session
    users: set[int] = session.info.setdefault("sprout.notify_users", set())
    users.add(user_id)
    if session.info.get("sprout.notify_listening"):
        return
    session.info["sprout.notify_listening"] = True

    def committed(session_: Session) -> None:
        for uid in session_.info.pop("sprout.notify_users", set()):
            # A stream also looks now and then: a lost publish is only later, never lost.
            with contextlib.suppress(Exception):
                connection.publish(stream_channel(uid), "1")

    def rolled_back(session_: Session) -> None:
        session_.info.pop("sprout.notify_users", None)

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_rollback", rolled_back)
