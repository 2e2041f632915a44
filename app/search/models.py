"""What search remembers in the application database: the query log behind hot search
terms (热搜) and the editors' pins and suppressions of terms."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class SearchQuery(Base):
    """One row per searcher, term and day: a user repeating a search does not make it hot."""

    __tablename__ = "search_queries"
    __table_args__ = (
        UniqueConstraint("term", "searcher", "day", name="uq_search_queries_term_searcher_day"),
        Index("ix_search_queries_day_term", "day", "term"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(40))
    searcher: Mapped[str] = mapped_column(String(64))  # "u<id>", or a hash of the address
    day: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchTermRule(Base):
    """An editor's decision about a term: `pin` (at `position` of the hot list) or
    `suppress` (never shown in hot terms or suggestions)."""

    __tablename__ = "search_term_rules"

    term: Mapped[str] = mapped_column(String(40), primary_key=True)
    action: Mapped[str] = mapped_column(String(10))
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
