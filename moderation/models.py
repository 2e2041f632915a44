"""Moderation's tables (imported by `app.models`, so Alembic sees them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class ModerationKeyword(Base):
    """A moderator's filtered word: `review` holds content for a moderator, `block` refuses it,
    `allow` is an ordinary word that runs across a keyword (单词 against 刷单)."""

    __tablename__ = "moderation_keywords"

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(40), unique=True)  # normalised (text_filter)
    display: Mapped[str] = mapped_column(String(40))  # as the moderator typed it
    action: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(32), default="other")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
