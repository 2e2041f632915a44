"""Image uploads: validate and sanitise now (no GPS ever reaches storage), variants later."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import exists, or_, select

from app.accounts.models import User
from app.core.config import Settings
from app.core.errors import AppError, NotFound, ValidationFailed
from app.core.extensions import db, get_storage
from app.core.jobs import commit, enqueue
from app.core.policies import can_view_image
from app.core.schemas import load_json
from app.core.sql import id_in_range
from app.core.storage import image_key, new_image_prefix
from app.core.visibility import note_visible_clause
from app.growth.levels import require_privilege
from app.media.creative import Edits, EditsInvalid, parse_edits
from app.media.jobs import make_image_variants, read_picture_text
from app.media.models import Image
from app.media.pipeline import (
    ImageRejected,
    PreparedImage,
    SanitizedImage,
    make_variants,
    sanitize_upload,
)
from app.media.text_cover import TextCover
from app.notes.models import Note, NoteImage


def image_row(
    picture: SanitizedImage | TextCover | PreparedImage,
    *,
    owner_id: int,
    kind: str,
    status: str,
    storage_key: str,
    variants: dict[str, Any],
) -> Image:
    """The `images` row of a sanitised picture (an upload, a generated cover)."""
    return Image(
        owner_id=owner_id,
        kind=kind,
        status=status,
        source_format=picture.source_format,
        width=picture.width,
        height=picture.height,
        dominant_color=picture.dominant_color,
        byte_size=len(picture.encoded),
        storage_key=storage_key,
        content_type=picture.content_type,
        variants=variants,
        phash=picture.phash if isinstance(picture, SanitizedImage | PreparedImage) else None,
    )


def save_with_variants(
    picture: SanitizedImage | TextCover | PreparedImage, prefix: str
) -> tuple[str, dict[str, Any]]:
    """Store a picture made on the server (a cover, a seed picture) with its variants now:
    (the original's key, the `variants` column)."""
    storage = get_storage()
    original_key = image_key(prefix, "original", picture.extension)
    storage.save(original_key, picture.encoded, picture.content_type)
    variants = {}
    made = picture.variants if isinstance(picture, PreparedImage) else make_variants(picture.image)
    for name, variant in made.items():
        key = image_key(prefix, name, variant.extension)
        storage.save(key, variant.data, variant.content_type)
        variants[name] = {"key": key, "width": variant.width, "height": variant.height}
    return original_key, variants


def _creative(
    actor: User, raw_edits: str | None, watermark: bool
) -> tuple[Edits | None, str | None]:
    """The creative tools asked for, checked: 400 `invalid_edits`, 403 `privilege_required`."""
    edits = None
    if raw_edits:
        try:
            edits = parse_edits(load_json(raw_edits))
        except (ValueError, EditsInvalid) as exc:
            field = exc.field if isinstance(exc, EditsInvalid) else "edits"
            raise ValidationFailed(
                f"The edits are not valid: {exc}", code="invalid_edits", details={"field": field}
            ) from exc
        for pack in sorted(edits.packs_used):
            require_privilege(actor, f"sticker_pack:{pack}")
    mark = None
    if watermark:
        require_privilege(actor, "watermark")
        mark = f"@{actor.nickname}"[:60]
    return edits, mark


def upload_image(
    actor: User, data: bytes, raw_edits: str | None = None, watermark: bool = False
) -> Image:
    """Check the upload and the creative tools asked for before storing anything."""
    settings: Settings = current_app.config["SPROUT"]
    edits, mark = _creative(actor, raw_edits, watermark)
    try:
        clean = sanitize_upload(
            data,
            max_bytes=settings.upload_max_bytes,
            max_pixels=settings.upload_max_pixels,
            min_side=settings.upload_min_side,
        )
    except ImageRejected as exc:
        raise AppError(
            exc.message,
            code=exc.code,
            status=exc.status,
            details={
                "max_bytes": settings.upload_max_bytes,
                "max_pixels": settings.upload_max_pixels,
            },
        ) from exc
    key = image_key(new_image_prefix(), "original", clean.extension)
    get_storage().save(key, clean.encoded, clean.content_type)
    image = image_row(
        clean, owner_id=actor.id, kind="upload", status="processing", storage_key=key, variants={}
    )
    image.edits = edits.to_dict() if edits is not None else None
    image.watermark = mark
    db.session.add(image)
    db.session.flush()
    enqueue(make_image_variants, image.id)  # in the outbox, committed with the image
    enqueue(read_picture_text, image.id)  # embedded mode: after the response is sent
    commit()
    clean.image.close()
    db.session.refresh(image)
    return image


def get_image(actor: User | None, image_id: int) -> Image:
    """An image record; one the viewer may not see is a 404 like a missing one, so ids of
    unpublished pictures reveal nothing."""
    image = db.session.get(Image, image_id) if id_in_range(image_id) else None
    if image is None or not can_view_image(actor, image, in_public_use=_in_public_use(image.id)):
        raise NotFound("No such image.", code="image_not_found")
    return image


def _in_public_use(image_id: int) -> bool:
    """Shown to everyone: the cover or a picture of a note everyone sees, or an avatar."""
    published = note_visible_clause(None)
    in_note = exists().where(
        NoteImage.image_id == image_id, NoteImage.note_id == Note.id, published
    )
    as_cover = exists().where(Note.cover_image_id == image_id, published)
    as_avatar = exists().where(User.avatar_image_id == image_id)
    return bool(db.session.scalar(select(or_(in_note, as_cover, as_avatar))))
