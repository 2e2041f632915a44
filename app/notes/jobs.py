"""Note side effects: the generated cover card of a text note (a note without images)."""

from __future__ import annotations

import hashlib
import logging
import uuid

from sqlalchemy import select, update

from app.core.extensions import db, get_storage
from app.core.jobs import job
from app.core.sql import touched
from app.core.storage import new_image_prefix
from app.media.services import image_row, save_with_variants
from app.media.text_cover import render_text_cover as draw_text_cover
from app.notes.models import Note, NoteImage

log = logging.getLogger(__name__)

_COVER_NAMESPACE = uuid.UUID("6f1d3c1e-6a55-4f2b-9a43-2f0d6c0b7e11")


def cover_prefix(note_id: int, title: str) -> str:
    """Storage prefix derived from (note, title): a retry writes the same keys, and an
    existing cover whose key has this prefix is already up to date."""
    digest = hashlib.sha256(title.encode("utf-8")).hexdigest()
    return new_image_prefix(uuid.uuid5(_COVER_NAMESPACE, f"note-cover:{note_id}:{digest}"))


def _is_text_note(note_id: int) -> bool:
    return db.session.scalar(select(NoteImage.note_id).where(NoteImage.note_id == note_id)) is None


@job("media")
def render_text_cover(note_id: int) -> None:
    """Render and attach the cover card for a text note's current title. Idempotent."""
    note = db.session.get(Note, note_id)
    if note is None or note.deleted_at is not None or not _is_text_note(note_id):
        db.session.rollback()
        return
    title, author_id = note.title, note.author_id
    prefix = cover_prefix(note_id, title)
    current = note.cover_image
    if current is not None and current.storage_key.startswith(prefix + "/"):
        db.session.rollback()
        return
    # Render outside any transaction: on SQLite an open transaction holds the write lock.
    db.session.rollback()

    cover = draw_text_cover(title, seed=str(note_id))
    original_key, variants = save_with_variants(cover, prefix)

    # Attach under the note's row lock, only if the title is still the one we drew.
    db.session.execute(select(Note.id).where(Note.id == note_id).with_for_update())
    note = db.session.get(Note, note_id, populate_existing=True)
    if note is None or note.title != title or note.deleted_at is not None:
        db.session.rollback()
        return
    old = note.cover_image
    if old is not None and old.storage_key.startswith(prefix + "/"):
        db.session.rollback()  # a concurrent run attached this very cover already
        return
    image = image_row(
        cover,
        owner_id=author_id,
        kind="cover",
        status="ready",
        storage_key=original_key,
        variants=variants,
    )
    db.session.add(image)
    db.session.flush()
    db.session.execute(
        update(Note)
        .where(Note.id == note_id)
        .values(cover_image_id=image.id)
        .execution_options(synchronize_session=False)
    )
    touched("notes", [note_id])
    stale_keys: list[str] = []
    if old is not None and old.kind == "cover":
        stale_keys = [old.storage_key, *(v["key"] for v in (old.variants or {}).values())]
        db.session.delete(old)
    db.session.commit()
    for key in stale_keys:
        try:
            get_storage().delete(key)
        except Exception:  # best effort: an orphaned file costs only disk space
            log.warning("could not delete stale cover file %s", key, exc_info=True)
