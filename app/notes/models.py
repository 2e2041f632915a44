"""Notes and what people do with them: images, tags, topics, channels, @mentions, likes,
albums and collects, comments and shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.core.models import Base, utcnow
from app.media.models import Image

NOTE_STATUSES = ("draft", "pending_review", "published", "hidden", "removed")

# The categories every deployment starts with (the migration inserts them).
DEFAULT_CHANNELS: tuple[tuple[str, str], ...] = (
    ("beauty", "美妆"),
    ("food", "美食"),
    ("travel", "旅行"),
    ("fashion", "穿搭"),
    ("home", "家居"),
    ("tech", "数码"),
    ("fitness", "健身"),
    ("reading", "读书"),
    ("parenting", "母婴"),
    ("pets", "宠物"),
)


class Channel(Base):
    __tablename__ = "channels"

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(24))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    guide: Mapped[str] = mapped_column(Text, default="")
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    note_count: Mapped[int] = mapped_column(Integer, default=0)
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


#: Percent of each `notes` page PostgreSQL fills on insert (see `Note.__table_args__`).
NOTES_FILLFACTOR = 85


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        Index("ix_notes_status_published_at", "status", "published_at"),
        Index("ix_notes_author_id_created_at", "author_id", "created_at"),
        Index("ix_notes_channel_code_published_at", "channel_code", "published_at"),
        # The following feed reads each followee's newest notes; candidates load by hot score.
        Index("ix_notes_author_id_published_at", "author_id", "published_at"),
        Index("ix_notes_status_hot_score", "status", "hot_score"),
        # Room on every page for a row's next version: a counter's update (likes, views,
        # impressions) then stays on its page and writes none of the six indexes (a HOT
        # update), where a full page moved the row and wrote every index. Migration 0031.
        {"postgresql_with": {"fillfactor": NOTES_FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    channel_code: Mapped[str | None] = mapped_column(ForeignKey("channels.code"), nullable=True)
    cover_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL"), nullable=True
    )
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    collect_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    share_count: Mapped[int] = mapped_column(Integer, default=0)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    # Server defaults too: bulk loaders (COPY) name only the columns they know.
    impression_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follow_gain_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    hot_score: Mapped[float] = mapped_column(Float, default=0.0)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last edit by the author, set by the edit itself: counters, hot scores, impressions
    # and covers move without it (no onupdate), and card caches key on it.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the search index last took this note in; older than `updated_at` for a while means
    # its index job was lost, and the outbox's sweep indexes it again.
    indexed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)

    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    cover_image: Mapped[Image | None] = relationship(lazy="joined")
    image_links: Mapped[list[NoteImage]] = relationship(
        lazy="selectin", order_by="NoteImage.position", cascade="all, delete-orphan"
    )
    tags: Mapped[list[Tag]] = relationship(
        secondary="note_tags", lazy="selectin", order_by="Tag.id"
    )
    topics: Mapped[list[Topic]] = relationship(
        secondary="note_topics", lazy="selectin", order_by="Topic.id"
    )
    channel: Mapped[Channel | None] = relationship(lazy="joined")

    @property
    def images(self) -> list[Image]:
        return [link.image for link in self.image_links]


class NoteImage(Base):
    __tablename__ = "note_images"

    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)

    image: Mapped[Image] = relationship(lazy="joined", innerjoin=True)


class NoteTag(Base):
    __tablename__ = "note_tags"

    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class NoteTopic(Base):
    __tablename__ = "note_topics"

    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class NoteMention(Base):
    __tablename__ = "note_mentions"

    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# Interactions with notes: likes, albums and collects, comments, shares.


class NoteLike(Base):
    """`suspect`: the engagement detector (`moderation.engagement`) holds it out of every
    count, score and signal until a moderator clears it; the partial index finds those few."""

    __tablename__ = "note_likes"
    __table_args__ = (
        # a viewer's history, newest first (the feed's interest profile and item-CF seeds)
        Index("ix_note_likes_user_id_created_at", "user_id", "created_at"),
        Index("ix_note_likes_created_at", "created_at"),  # the detector's recent window
        Index(
            "ix_note_likes_suspect",
            "note_id",
            postgresql_where=text("suspect"),
            sqlite_where=text("suspect"),
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    suspect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Album(Base):
    """专辑: a user's named collection; each user has one default album created lazily."""

    __tablename__ = "albums"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_albums_owner_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    note_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Collect(Base):
    """A note is collected once per user, into exactly one album."""

    __tablename__ = "collects"
    __table_args__ = (
        Index("ix_collects_album_id_created_at", "album_id", "created_at"),
        # a viewer's history, newest first (the feed's interest profile and item-CF seeds)
        Index("ix_collects_user_id_created_at", "user_id", "created_at"),
        Index("ix_collects_created_at", "created_at"),  # the engagement detector's window
        Index(
            "ix_collects_suspect",
            "note_id",
            postgresql_where=text("suspect"),
            sqlite_where=text("suspect"),
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Held out of counts, scores and signals while a moderator looks (as `NoteLike.suspect`).
    suspect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Comment(Base):
    """Two levels, like Xiaohongshu: `root_id` is the top-level comment a reply belongs to."""

    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_note_id_root_id_created_at", "note_id", "root_id", "created_at"),
        # Cascading deletes and reply counts look comments up by these on their own.
        Index("ix_comments_root_id", "root_id"),
        Index("ix_comments_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    root_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), nullable=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), nullable=True
    )
    reply_to_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="published")
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined", innerjoin=True)
    reply_to_user: Mapped[User | None] = relationship(
        foreign_keys=[reply_to_user_id], lazy="joined"
    )


class CommentLike(Base):
    __tablename__ = "comment_likes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Share(Base):
    """A share link: one per (sharer, note, channel), so repeated shares reuse the token."""

    __tablename__ = "shares"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(24))
    visit_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareVisit(Base):
    __tablename__ = "share_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("shares.id", ondelete="CASCADE"), index=True)
    visitor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    source: Mapped[str | None] = mapped_column(String(24), nullable=True)
    referrer: Mapped[str | None] = mapped_column(String(255), nullable=True)
    visited_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoteViewBatch(Base):
    """A batch of buffered views applied to `notes.view_count` (`app.notes.services.views`):
    written in the transaction that applied it, so a retried flush never counts it twice."""

    __tablename__ = "note_view_batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
