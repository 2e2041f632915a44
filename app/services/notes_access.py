"""Loading a note on behalf of someone: the one place visibility is decided for every area."""

from __future__ import annotations

from app.errors import NotFound
from app.extensions import db
from app.models import Note, User
from app.services.policies import can_view_note


def get_note_for(actor: User | None, note_id: int) -> Note:
    """The note if this actor may see it; 404 otherwise (never reveal hidden notes exist)."""
    note = db.session.get(Note, note_id)
    if note is None or not can_view_note(actor, note):
        raise NotFound("No such note.", code="note_not_found")
    return note


def get_interactable_note(actor: User, note_id: int) -> Note:
    """Likes, collects, comments and shares are only for published notes."""
    note = get_note_for(actor, note_id)
    if note.status != "published":
        raise NotFound("No such note.", code="note_not_found")
    return note
