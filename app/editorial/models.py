"""Editors' work: picks ("精选"), exposure boosts ("流量倾斜"), the provenance of official
content (seed packs and imported articles) and the editorial log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class EditorPick(Base):
    """A note shown in a slot (`home`, `channel:<code>`, `topic:<id>`) from `starts_at` until
    `ends_at` (none: until removed), at a fixed position or blended freely."""

    __tablename__ = "editor_picks"
    __table_args__ = (Index("ix_editor_picks_slot_starts_at", "slot", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    slot: Mapped[str] = mapped_column(String(48))
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Boost(Base):
    """Extra ranking weight for a note or for every note of a creator, until `ends_at`."""

    __tablename__ = "editor_boosts"
    __table_args__ = (Index("ix_editor_boosts_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int | None] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), nullable=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    weight: Mapped[float] = mapped_column(Float)
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentSource(Base):
    """Where official content came from, by a stable key: a seed pack item (`seed:food-001`)
    or an imported article (`import:<digest of its link>`). Loading again finds the row and
    updates the content in place when `digest` (of the source item) changed."""

    __tablename__ = "content_sources"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_content_sources_kind_key"),
        Index("ix_content_sources_kind_target_id", "kind", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # account | topic | note | pick | comment
    key: Mapped[str] = mapped_column(String(200))
    target_id: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    attribution: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EditorialLogEntry(Base):
    """Append-only record of every editorial action (who, what, on what, with which values)."""

    __tablename__ = "editorial_log"
    __table_args__ = (Index("ix_editorial_log_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )  # None: the seed loader or an import run from the command line
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
