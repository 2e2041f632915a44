"""Experiments on a feed's blend and their arms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Base, utcnow

FEEDS = ("discover", "channel")
STATUSES = ("draft", "running", "stopped")


class Experiment(Base):
    """One experiment on one feed: draft → running → stopped (never restarted, so the report's
    window is one interval). At most one runs per feed: the partial unique index holds that
    across processes, so of two concurrent starts exactly one commits."""

    __tablename__ = "experiments"
    __table_args__ = (
        Index(
            "ux_experiments_running_feed",
            "feed",
            unique=True,
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    feed: Mapped[str] = mapped_column(String(16))  # discover | channel
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Share of signed-in viewers enrolled, in (0, 1]; the rest are served the default blend.
    traffic_share: Mapped[float] = mapped_column(Float)
    # Mixed into the assignment hash, so two experiments split viewers independently.
    salt: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    arms: Mapped[list[ExperimentArm]] = relationship(
        back_populates="experiment",
        order_by="ExperimentArm.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class ExperimentArm(Base):
    """One arm: its share of the enrolled viewers and the blend weights it overrides."""

    __tablename__ = "experiment_arms"
    __table_args__ = (UniqueConstraint("experiment_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(32))
    share: Mapped[float] = mapped_column(Float)  # of the enrolled viewers; arms sum to 1
    # signal → weight, replacing the feed's default weight for that signal; others keep theirs
    weights: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)

    experiment: Mapped[Experiment] = relationship(back_populates="arms")
