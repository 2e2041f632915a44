"""Image jobs: responsive WebP variants of an uploaded original."""

from __future__ import annotations

import io
import logging

from PIL import Image as PILImage
from sqlalchemy import select

from app.core.extensions import db, get_storage
from app.core.jobs import enqueue, job
from app.core.jobs.outbox import STUCK_AFTER, pending_args
from app.core.models import utcnow
from app.core.storage import image_key
from app.media.creative import Edits, apply_edits, parse_edits, watermark
from app.media.models import Image
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
