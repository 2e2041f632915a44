"""Accounts: users, their roles, revocable tokens, onboarding interests and daily activity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Base, utcnow

ROLES = ("user", "editor", "moderator", "admin")


class User(Base):
    __tablename__ = "users"
    # Feeds leave out banned authors with `author_id NOT IN (banned ids)`: a tiny partial index
    # answers that instead of a scan of every user.
    __table_args__ = (
        Index(
            "ix_users_banned",
            "id",
            postgresql_where=text("status = 'banned'"),
            sqlite_where=text("status = 'banned'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    nickname: Mapped[str] = mapped_column(String(40))
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | banned
    official: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    level: Mapped[int] = mapped_column(Integer, default=1)
    points: Mapped[int] = mapped_column(Integer, default=0)
    badges: Mapped[list[Any]] = mapped_column(JSON, default=list)
    signup_source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    following_count: Mapped[int] = mapped_column(Integer, default=0)
    note_count: Mapped[int] = mapped_column(Integer, default=0)
    like_received_count: Mapped[int] = mapped_column(Integer, default=0)
    collect_received_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_active_at: Mapped[datetime | None] = mapped_column(nullable=True)

    # Loaded on first use: only the acting user's roles are ever asked for, never those of
    # the authors in a feed page.
    role_rows: Mapped[list[UserRole]] = relationship(
        lazy="select", cascade="all, delete-orphan", back_populates="user"
    )

    @property
    def roles(self) -> set[str]:
        return {"user"} | {row.role for row in self.role_rows}

    def has_role(self, role: str) -> bool:
        roles = self.roles
        return "admin" in roles or role in roles


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="role_rows")


class AuthToken(Base):
    """Bearer tokens are random; only their SHA-256 is stored, so a leaked table grants nothing."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)


class UserInterest(Base):
    """What a user picked at onboarding: `kind` is `channel` (ref = code) or `topic` (ref = id)."""

    __tablename__ = "user_interests"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserActivityDay(Base):
    """One row per user per active day: the basis of DAU, WAU and the weekly active rate."""

    __tablename__ = "user_activity_days"
    __table_args__ = (Index("ix_user_activity_days_day", "day"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
