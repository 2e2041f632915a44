"""The job outbox: every side effect a committed request promised, until it has run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow

OUTBOX_STATES = ("pending", "done", "dead")


class OutboxJob(Base):
    """One job intent. `pending` rows are (re)sent to the queue once `due_at` passes: right
    away when Redis was down, after a lease when a worker died mid-job, after a back-off
    when the job failed. The job marks its row `done`; `dead` after the last attempt."""

    __tablename__ = "job_outbox"
    __table_args__ = (Index("ix_job_outbox_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    function: Mapped[str] = mapped_column(String(200))  # "module:name" of a @job function
    args: Mapped[list[Any]] = mapped_column(JSON)
    queue: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
