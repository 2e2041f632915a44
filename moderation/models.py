"""Moderation's tables (imported by `app.metadata`, so Alembic sees them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


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


class Case(Base):
    """Every report on one target, gathered: one case per target, reopened by new reports
    after a decision."""

    __tablename__ = "moderation_cases"
    __table_args__ = (
        UniqueConstraint("target_type", "target_id", name="uq_moderation_cases_target"),
        Index("ix_moderation_cases_status_priority", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_type: Mapped[str] = mapped_column(String(10))  # note | comment | user
    target_id: Mapped[int] = mapped_column(Integer)
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | claimed | decided
    reason_code: Mapped[str] = mapped_column(String(48))  # the most severe reason reported
    severity: Mapped[int] = mapped_column(Integer, default=1)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    weighted_reports: Mapped[float] = mapped_column(Float, default=0.0)
    reach: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    auto_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # upheld | dismissed
    # What the automated checks found, for the moderator, one key per check: the words read
    # in a picture and where (`picture_text`), the accounts and times of a burst of
    # engagement (`engagement`). Reports keep their own rows; this holds machine findings.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Report(Base):
    """One per reporter and target: reporting again changes nothing."""

    __tablename__ = "moderation_reports"
    __table_args__ = (
        UniqueConstraint(
            "reporter_id", "target_type", "target_id", name="uq_moderation_reports_reporter"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("moderation_cases.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(48))
    detail: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # upheld | dismissed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationAction(Base):
    """What a decision did: to content (hide, remove) or to an account (warn, mute, ban).
    Mutes and bans are strikes until an appeal reverses them."""

    __tablename__ = "moderation_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderation_cases.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    reason_code: Mapped[str] = mapped_column(String(48))
    duration_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: permanent
    ends_at: Mapped[datetime | None] = mapped_column(nullable=True)
    moderator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The aggravating circumstances that held when an account action was decided
    #: (`multiple_accounts` only with a confirmed link): why the ladder stepped up.
    aggravating: Mapped[list[str]] = mapped_column(JSON, default=list)
    reversed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Append-only: nothing in the code updates or deletes these rows."""

    __tablename__ = "moderation_audit"
    __table_args__ = (Index("ix_moderation_audit_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )  # None: the system (automatic protection)
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mute(Base):
    """A user's current mute (one row per user): every write checks it."""

    __tablename__ = "moderation_mutes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    until: Mapped[datetime | None] = mapped_column(nullable=True)  # None: permanent
    reason_code: Mapped[str] = mapped_column(String(48))
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderation_actions.id", ondelete="SET NULL"), nullable=True
    )


class Appeal(Base):
    """One per action, by the penalised user; decided by a moderator other than the one who
    acted."""

    __tablename__ = "moderation_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("moderation_actions.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|upheld|reversed
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Fingerprint(Base):
    """A digest of the normalised text of each note and comment, to see the same text posted
    from several accounts (coordinated spam)."""

    __tablename__ = "moderation_fingerprints"
    __table_args__ = (
        Index("ix_moderation_fingerprints_digest_created_at", "digest", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountLink(Base):
    """Two accounts a moderator found to belong together (multiple accounts): interactions
    between them earn no points. Stored both ways."""

    __tablename__ = "moderation_account_links"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    linked_user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountSignal(Base):
    """A keyed hash (HMAC-SHA256, `moderation.signals`) of what an account registered or
    signed in with: one row per (account, kind, hash), first and last seen and how often.
    Never the raw address, user agent or device id; purged after the retention period."""

    __tablename__ = "moderation_account_signals"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "digest", name="uq_moderation_account_signals_key"),
        Index("ix_moderation_account_signals_digest", "digest", "kind"),
        Index("ix_moderation_account_signals_last_seen_at", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # ip | ip_prefix | ua | ip_ua | device
    digest: Mapped[str] = mapped_column(String(64))
    first_event: Mapped[str] = mapped_column(String(10))  # register | sign_in
    seen_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkProposal(Base):
    """Two accounts that share signals, proposed to moderators as a link (`user_id` is the
    lower id). Confirming creates the `AccountLink`; a rejected pair comes back only with
    stronger evidence than it was rejected on."""

    __tablename__ = "moderation_link_proposals"
    __table_args__ = (
        UniqueConstraint("user_id", "other_user_id", name="uq_moderation_link_proposals_pair"),
        Index("ix_moderation_link_proposals_status_id", "status", "id"),
        Index("ix_moderation_link_proposals_other_user_id", "other_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    other_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="proposed")  # |confirmed|rejected
    strength: Mapped[str] = mapped_column(String(10))  # medium | strong
    score: Mapped[float] = mapped_column(Float, default=0.0)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rejected_strength: Mapped[str | None] = mapped_column(String(10), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementFlag(Base):
    """One like, collect or follow the engagement detector (`moderation.engagement`) found
    suspect: the rules that fired and the case it went to. `status`: `suspect` (held out of
    counts, scores, signals and points), `cleared` (a moderator dismissed the case: it counts
    again, and is never flagged again), `removed` (upheld: the engagement was deleted). One
    row per (kind, actor, target), so re-runs and concurrent runs never flag twice."""

    __tablename__ = "moderation_engagement_flags"
    __table_args__ = (
        UniqueConstraint(
            "kind", "actor_id", "target_id", name="uq_moderation_engagement_flags_key"
        ),
        Index("ix_moderation_engagement_flags_case_id_status", "case_id", "status"),
        Index("ix_moderation_engagement_flags_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # like | collect | follow
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target_type: Mapped[str] = mapped_column(String(8))  # note | user
    target_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderation_cases.id", ondelete="SET NULL"), nullable=True
    )
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="suspect")
    engaged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
