"""Tables of the creators domain: verification requests ("认证加V") and their outcomes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow

#: pending → approved | refused; approved → revoked. Nothing else moves.
STATUSES = ("pending", "approved", "refused", "revoked")


class CreatorVerification(Base):
    """One request to be verified, and what editors decided about it.

    At most one pending and one approved request per user: partial unique indexes hold that
    across processes, so of two concurrent requests (or approvals) exactly one commits. The
    badge's `label` is copied from the category list when the request is made, so a card
    shows it without reading configuration."""

    __tablename__ = "creator_verifications"
    __table_args__ = (
        Index(
            "ux_creator_verifications_pending_user",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ux_creator_verifications_approved_user",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'approved'"),
            sqlite_where=text("status = 'approved'"),
        ),
        Index("ix_creator_verifications_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(24))
    label: Mapped[str] = mapped_column(String(40))
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decision_note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
