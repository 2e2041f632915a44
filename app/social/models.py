"""Follows between people and of topics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class UserFollow(Base):
    __tablename__ = "user_follows"
    __table_args__ = (
        # Follower and following lists page newest first on these.
        Index("ix_user_follows_followee_id_created_at", "followee_id", "created_at"),
        Index("ix_user_follows_follower_id_created_at", "follower_id", "created_at"),
        Index("ix_user_follows_created_at", "created_at"),  # the engagement detector's window
        Index(
            "ix_user_follows_suspect",
            "followee_id",
            postgresql_where=text("suspect"),
            sqlite_where=text("suspect"),
        ),
    )

    follower_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # The note the follow was made from, if any: "follows gained" weigh 8 in the hot score.
    source_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("notes.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Held out of counts, scores and signals while a moderator looks (as `NoteLike.suspect`).
    suspect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TopicFollow(Base):
    __tablename__ = "topic_follows"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
