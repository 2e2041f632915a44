"""Uploaded and generated images. Only sanitised bytes are ever stored (no EXIF, no GPS)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow

IMAGE_STATUSES = ("processing", "ready", "failed")
IMAGE_KINDS = ("upload", "cover", "avatar")

PROCESSING = "status = 'processing'"
TEXT_UNREAD = "text_read_at IS NULL AND kind = 'upload' AND status = 'ready'"


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        # Moderation looks for the same picture among the last day's uploads.
        Index("ix_images_created_at", "created_at"),
        # The outbox sweep's repairs, every few seconds: the few pictures still processing or
        # whose text is unread, without scanning every picture.
        Index(
            "ix_images_processing",
            "created_at",
            postgresql_where=text(PROCESSING),
            sqlite_where=text(PROCESSING),
        ),
        Index(
            "ix_images_text_unread",
            "id",
            postgresql_where=text(TEXT_UNREAD),
            sqlite_where=text(TEXT_UNREAD),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, nullable=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="upload")
    status: Mapped[str] = mapped_column(String(16), default="processing")
    source_format: Mapped[str] = mapped_column(String(16))  # what the client sent: JPEG, HEIF…
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    dominant_color: Mapped[str] = mapped_column(String(7))  # "#rrggbb"
    byte_size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(255))  # the sanitised original
    content_type: Mapped[str] = mapped_column(String(40))
    variants: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Perceptual hash of an upload (`pipeline.perceptual_hash`); none for generated covers.
    phash: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Creative tools asked for at upload (`media.creative.Edits.to_dict`): a filter and
    #: stickers the variants job applies, and image tags kept as data.
    edits: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    #: The personalised watermark drawn on the variants ("@nickname"), for those privileged.
    watermark: Mapped[str | None] = mapped_column(String(60), nullable=True)
    #: The text read in an upload (`media.ocr`), one line a line; none until it has been read.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Those lines with their boxes in the original's pixels (`ocr.Line.to_dict`), for
    #: moderation's evidence.
    text_lines: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    #: When the text was read (the job's idempotence: read once).
    text_read_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
