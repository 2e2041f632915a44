"""Image jobs: responsive WebP variants of an uploaded original, and the text drawn in it."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

from flask import Flask, current_app
from PIL import Image as PILImage
from sqlalchemy import select

from app.accounts.models import User
from app.core.extensions import db, get_storage
from app.core.jobs import enqueue, job
from app.core.jobs.outbox import STUCK_AFTER, pending_args
from app.core.models import utcnow
from app.core.storage import image_key
from app.media.creative import Edits, apply_edits, parse_edits, watermark
from app.media.models import Image
from app.media.ocr import read_bytes
from app.media.pipeline import make_variants

log = logging.getLogger(__name__)


def creative_rendition(
    original: PILImage.Image,
    edits: dict | None,
    mark: str | None,  # type: ignore[type-arg]
) -> PILImage.Image:
    """What the variants show: the original with its filter and stickers, and the
    watermark when the uploader asked for it (the stored original stays as uploaded)."""
    picture = original
    if edits:
        parsed: Edits = parse_edits(edits)
        if parsed.filter != "original" or parsed.stickers:
            picture = apply_edits(picture.convert("RGB"), parsed)
    if mark:
        picture = watermark(picture.convert("RGB"), mark)
    return picture


@job("media")
def make_image_variants(image_id: int) -> None:
    """Idempotent: a retried job rewrites the same keys and finds the record already ready."""
    image = db.session.get(Image, image_id)
    if image is None or image.status == "ready":
        return
    storage = get_storage()
    prefix = image.storage_key.rsplit("/", 1)[0]
    try:
        with PILImage.open(io.BytesIO(storage.open(image.storage_key))) as original:
            original.load()
            variants = make_variants(creative_rendition(original, image.edits, image.watermark))
        stored = {}
        for name, variant in variants.items():
            key = image_key(prefix, name, variant.extension)
            storage.save(key, variant.data, variant.content_type)
            stored[name] = {"key": key, "width": variant.width, "height": variant.height}
    except Exception as exc:
        log.exception("variants failed for image %s", image_id)
        image.status, image.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        db.session.commit()
        raise
    image.variants, image.status, image.error = stored, "ready", None
    db.session.commit()


_TEXT_READ = "sprout.media.text_read"


def on_text_read(app: Flask, listener: Callable[[int], None]) -> None:
    """Call `listener(image_id)` when a picture's text has been read, in the job's
    transaction, before its commit (`create_app` registers the notes' screening and search:
    media does not import the domains that use its pictures)."""
    app.extensions.setdefault(_TEXT_READ, []).append(listener)


@job("media", after_response=True)
def read_picture_text(image_id: int) -> None:
    """Read the text in an uploaded picture (`media.ocr`), store it with its boxes, and let
    the listeners act on it (screen and reindex the notes showing it), all in one commit: a
    retried job finds the text already read and does nothing twice. Embedded mode runs it
    after the upload's response is sent; it never slows the upload."""
    image = db.session.get(Image, image_id)
    if image is None or image.text_read_at is not None:
        return
    lines = read_bytes(get_storage().open(image.storage_key))
    image.text_lines = [line.to_dict() for line in lines]
    image.text = "\n".join(line.text for line in lines)
    image.text_read_at = utcnow()
    db.session.flush()
    for listener in current_app.extensions.get(_TEXT_READ, ()):
        listener(image.id)
    db.session.commit()


def repair_stuck_images() -> int:
    """Images still `processing` well past their upload, with no pending job: make their
    variants again (a job lost before the outbox existed, or a row written off as dead)."""
    cutoff = utcnow() - STUCK_AFTER
    stuck = db.session.scalars(
        select(Image.id).where(Image.status == "processing", Image.created_at < cutoff).limit(100)
    ).all()
    if not stuck:
        return 0
    pending = {args[0] for args in pending_args(make_image_variants)}
    repaired = [image_id for image_id in stuck if image_id not in pending]
    for image_id in repaired:
        enqueue(make_image_variants, image_id)
    return len(repaired)


def repair_unread_pictures() -> int:
    """Users' pictures whose text was never read, well past their upload, with no pending
    job (a job written off as dead, or pictures uploaded before text was read at all): read
    them. Official accounts' pictures (the seed packs) are left: they are never screened.
    At most 20 per sweep, so a backlog drains in the background."""
    cutoff = utcnow() - STUCK_AFTER
    unread = db.session.scalars(
        select(Image.id)
        .join(User, User.id == Image.owner_id)
        .where(
            Image.kind == "upload",
            Image.text_read_at.is_(None),
            Image.status == "ready",
            Image.created_at < cutoff,
            User.official.is_(False),  # the platform's own pictures are never screened
        )
        .order_by(Image.id)
        .limit(20)
    ).all()
    if not unread:
        return 0
    pending = {args[0] for args in pending_args(read_picture_text)}
    repaired = [image_id for image_id in unread if image_id not in pending]
    for image_id in repaired:
        enqueue(read_picture_text, image_id)
    db.session.commit()
    return len(repaired)
