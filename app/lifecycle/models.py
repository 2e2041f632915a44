"""Tables of the lifecycle domain: each user's stage, recall campaigns and their recipients."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class UserLifecycle(Base):
    """A user's stage as the daily recompute last found it (`app.lifecycle.stages`): since
    when, and the stage before. `last_recalled_at` is set atomically when a recall is sent,
    so two campaigns delivering at once cannot both recall the same user within a week."""

    __tablename__ = "user_lifecycle"
    __table_args__ = (Index("ix_user_lifecycle_stage", "stage"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(default=utcnow)
    previous_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_visit_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_recalled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RecallCampaign(Base):
    """A recall of the users in one stage: `scheduled` until `starts_at`, `sending` while the
    delivery job decides its recipients, then `sent`."""

    __tablename__ = "recall_campaigns"
    __table_args__ = (Index("ix_recall_campaigns_status_starts_at", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(80))
    message: Mapped[str] = mapped_column(Text)
    holdout_share: Mapped[float] = mapped_column(Float)
    # Mixed into the holdout hash, so two campaigns hold out different users.
    salt: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    starts_at: Mapped[datetime]
    targeted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecallRecipient(Base):
    """One targeted user of one campaign: at most one row per (campaign, user), so a rerun of
    the delivery never sends twice. `arm` is `treated` or `holdout`; `status` is `pending`
    until decided: `sent`, `muted` (the user muted recalls), `recently_recalled` (recalled by
    any campaign within the week) or `holdout` (held out, sent nothing). `decided_at` is when
    it was sent (or held out): the return window starts on that day."""

    __tablename__ = "recall_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "user_id"),
        Index("ix_recall_recipients_campaign_id_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("recall_campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    arm: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    note_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
