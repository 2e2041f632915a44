"""Facts batched for lists of notes: which the viewer liked or collected, avatars, sources."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app.accounts.models import User
from app.core.extensions import db
from app.core.sql import id_in
from app.editorial.models import ContentSource
from app.media.models import Image
from app.notes.models import Collect, NoteLike


def viewer_flags(viewer_id: int | None, note_ids: list[int]) -> tuple[set[int], set[int]]:
    if viewer_id is None or not note_ids:
        return set(), set()
    liked = set(
        db.session.scalars(
            select(NoteLike.note_id).where(
                NoteLike.user_id == viewer_id, NoteLike.note_id.in_(note_ids)
            )
        )
    )
    collected = set(
        db.session.scalars(
            select(Collect.note_id).where(
                Collect.user_id == viewer_id, Collect.note_id.in_(note_ids)
            )
        )
    )
    return liked, collected


def avatars_for(users: Iterable[User]) -> dict[int, Image]:
    ids = {user.avatar_image_id for user in users if user.avatar_image_id}
    if not ids:
        return {}
    return {image.id: image for image in db.session.scalars(select(Image).where(Image.id.in_(ids)))}


def note_sources(note_ids: list[int]) -> dict[int, dict[str, str | None]]:
    """Where imported notes came from: `{url, attribution}` by note id."""
    if not note_ids:
        return {}
    rows = db.session.execute(
        select(ContentSource.target_id, ContentSource.url, ContentSource.attribution).where(
            ContentSource.kind == "note",
            id_in(ContentSource.target_id, note_ids),
            ContentSource.url.is_not(None),
        )
    )
    return {note_id: {"url": url, "attribution": attribution} for note_id, url, attribution in rows}
