"""Growth tables (imported by `app.metadata`, so Alembic sees them)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class PointsEntry(Base):
    """The points ledger: append-only; `users.points` is its running sum, moved in the same
    transaction. `key` makes every event pay once; `reverses_id` ties a claw-back (or its
    restoration) to the entry it reverses."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        Index("ix_points_ledger_user_id_day_action", "user_id", "day", "action"),
        Index("ix_points_ledger_user_id_id", "user_id", "id"),
        Index("ix_points_ledger_ref", "ref_type", "ref_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200), default="")
    key: Mapped[str] = mapped_column(String(160), unique=True)
    ref_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ref_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("points_ledger.id", ondelete="CASCADE"), nullable=True, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )  # who caused it: the liker, the admin of a manual grant
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckIn(Base):
    """One per user per UTC day (签到), with the streak it makes."""

    __tablename__ = "growth_checkins"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    streak: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """A check-in campaign (打卡活动): post under the topic on `required_days` different days
    between the dates and the reward is paid once."""

    __tablename__ = "growth_campaigns"
    __table_args__ = (CheckConstraint("required_days > 0", name="required_days_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    required_days: Mapped[int] = mapped_column(Integer)
    reward_points: Mapped[int] = mapped_column(Integer)
    participant_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignMember(Base):
    __tablename__ = "growth_campaign_members"
    __table_args__ = (
        Index("ix_growth_campaign_members_board", "campaign_id", "days_done", "last_day"),
    )

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("growth_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    days_done: Mapped[int] = mapped_column(Integer, default=0)
    last_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignDay(Base):
    """A member's check-in on one day: the first note under the topic that day."""

    __tablename__ = "growth_campaign_days"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("growth_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoreItem(Base):
    __tablename__ = "store_items"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_points > 0", name="price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    price_points: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    per_user_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    redeemed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Redemption(Base):
    __tablename__ = "store_redemptions"
    __table_args__ = (
        Index("ix_store_redemptions_user_id_item_id", "user_id", "item_id"),
        Index("ix_store_redemptions_item_id_id", "item_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("store_items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    price_points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="placed")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InviteCode(Base):
    """An invite code (邀请码) a user hands out; registering with it attributes the new
    account to them. Codes expire; a user reuses their newest code while it has time left."""

    __tablename__ = "growth_invite_codes"
    __table_args__ = (Index("ix_growth_invite_codes_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Referral(Base):
    """Who brought a user in (one row per new account): an invite code or a share link. The
    referrer is paid once, after the new user's first note that passes review: `status` is
    `pending` until then, `rewarded` (or `capped`: the day's cap left nothing to pay) after,
    `ineligible` when the two accounts are linked."""

    __tablename__ = "growth_referrals"
    __table_args__ = (
        Index("ix_growth_referrals_referrer_id_id", "referrer_id", "id"),
        CheckConstraint("referrer_id <> invitee_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invitee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # invite | share
    invite_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("growth_invite_codes.id", ondelete="SET NULL"), nullable=True, index=True
    )
    share_id: Mapped[int | None] = mapped_column(
        ForeignKey("shares.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    rewarded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = [
    "Campaign",
    "CampaignDay",
    "CampaignMember",
    "CheckIn",
    "InviteCode",
    "PointsEntry",
    "Redemption",
    "Referral",
    "StoreItem",
]
