"""In-app notifications: every event (`Notification`), the groups a recipient reads them in
(`NotificationGroup`, one per (type, target) while unread, with its distinct actors in
`NotificationGroupActor`), each user's settings, and the push outbox (`PushMessage`) with the
per-day push counts that cap it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.models import Base, utcnow

# Every notification type a user can receive (and mute). The interaction kinds come from the
# domains that cause them; the system kinds are sent through `services.send_system`.
INTERACTION_TYPES = ("like", "collect", "comment", "reply", "follow", "mention", "comment_like")
SYSTEM_TYPES = ("system", "recall", "verification", "invite_reward", "share_reward")
NOTIFICATION_TYPES = INTERACTION_TYPES + SYSTEM_TYPES
NOTIFICATION_KINDS = NOTIFICATION_TYPES  # the name earlier code used

# Types shown as one group per target while unread ("小A、小B 等 12 人赞了你的笔记"). The others
# say something of their own each time (a comment's text, a system message): a group of one.
GROUPED_TYPES = ("like", "collect", "comment_like", "follow")


class NotificationGroup(Base):
    """What the recipient reads: one row per (type, target) while unread. `open_key` is set
    while the group is unread (and the type groups), unique: the atomic upsert that adds an
    actor finds the open group or opens one, however many processes like at once; marking
    the group read clears it, so a later actor opens a new group."""

    __tablename__ = "notification_groups"
    __table_args__ = (
        Index("ix_notification_groups_recipient_id_latest", "recipient_id", "latest_id"),
        Index("ix_notification_groups_recipient_id_read_at", "recipient_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True, nullable=True)
    # Distinct actors ever added (members are unique per group): the exact "12 人".
    actor_count: Mapped[int] = mapped_column(Integer, default=0)
    # The latest event's details (what a group of one shows: a comment's excerpt, a notice).
    latest_id: Mapped[int] = mapped_column(Integer, default=0)  # newest Notification.id in it
    note_id: Mapped[int | None] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), nullable=True
    )
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), nullable=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    latest_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationGroupActor(Base):
    """One distinct actor of a group; unique, so a concurrent repeat adds nobody twice."""

    __tablename__ = "notification_group_actors"
    __table_args__ = (UniqueConstraint("group_id", "actor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("notification_groups.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """One event (a like, a comment, a notice), in the group it was added to."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient_id_id", "recipient_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    note_id: Mapped[int | None] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), nullable=True
    )
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), nullable=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set for kinds that must not repeat (a like toggled ten times notifies once).
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_groups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="joined")


class NotificationSettings(Base):
    """A user's choices: muted types (neither listed as new nor pushed) and the time zone
    their quiet hours are read in (None: the configured one)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    muted_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


PUSH_STATES = ("pending", "held", "claimed", "sent", "skipped")


class PushMessage(Base):
    """The push outbox: what should reach a phone, written in the same transaction as the
    notification. `deliver_push` takes it from `pending` (or `held` through quiet hours) to
    `claimed` (counted against the day's cap) to `sent`, or to `skipped` with a reason."""

    __tablename__ = "push_outbox"
    __table_args__ = (Index("ix_push_outbox_recipient_id_state", "recipient_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_groups.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(8), default="pending")
    reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PushDailyCount(Base):
    """Pushes claimed per user per local day: `count < cap` is checked and raised in one
    UPDATE, so concurrent deliveries in any process never pass the cap."""

    __tablename__ = "push_daily_counts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local
    count: Mapped[int] = mapped_column(Integer, default=0)
