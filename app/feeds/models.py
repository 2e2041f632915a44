"""What ranking learns from and what it keeps between runs: events, feedback, built models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow

EVENT_KINDS = ("impression", "open")
#: `note_events.kind = 'open'` as SQL with the value inline, as the index of opens has it.
OPENS = literal_column("'open'")
FEEDBACK_KINDS = ("note", "author", "topic")


class NoteEvent(Base):
    """Impressions (a card was served) and opens (the note was read): written in batches.

    An append-only log without foreign keys: the two referential checks per row were about
    60% of an impression flush's database time, and no note or account is ever deleted
    outright. Readers reach an event's note through `notes` and skip ids they do not find."""

    __tablename__ = "note_events"
    __table_args__ = (
        # No index leads with the note: no reader asks for a note's events, and the one
        # there was cost a third of an impression flush's COPY (migration 0032).
        # A viewer's opens (their ranking's history), and only opens: with impressions in
        # it the history's read walked every card the viewer was served (migration 0033).
        Index(
            "ix_note_events_opens",
            "user_id",
            "created_at",
            postgresql_where=text("kind = 'open'"),
            sqlite_where=text("kind = 'open'"),
        ),
        Index("ix_note_events_created_at", "created_at"),
        # Only experiment traffic carries an arm: the experiment report reads these rows.
        Index(
            "ix_note_events_experiment_arm_id_created_at",
            "experiment_arm_id",
            "created_at",
            postgresql_where=text("experiment_arm_id IS NOT NULL"),
            sqlite_where=text("experiment_arm_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The experiment arm the viewer was in when the card was served (`app.experiments`). No
    # foreign key: impressions are a log flushed in batches, and one stale arm id in a buffer
    # must not fail the batch.
    experiment_arm_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImpressionBatch(Base):
    """A batch of buffered impressions written to `note_events` and the notes' counts
    (`app.feeds.impressions`): recorded in the transaction that wrote it, so a flush that
    finds the batch again (its commit's outcome unknown, or a crash before the buffer let
    go of it) never writes it twice."""

    __tablename__ = "impression_batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class NegativeFeedback(Base):
    """ "Not interested" in a note, an author or a topic: filtered at once, and learned from."""

    __tablename__ = "negative_feedback"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ref: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HotListEntry(Base):
    """The hot list (榜单) per window and scope, rebuilt by the periodic ranking job."""

    __tablename__ = "hot_list_entries"
    __table_args__ = (Index("ix_hot_list_entries_note_id", "note_id"),)

    window: Mapped[str] = mapped_column(String(8), primary_key=True)  # day | week
    scope: Mapped[str] = mapped_column(
        String(40), primary_key=True
    )  # all | channel:<code> | topic:<id>
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)


class RankingModel(Base):
    """A built model (e.g. item-CF neighbours) as bytes, so every process loads the same one."""

    __tablename__ = "ranking_models"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
