"""Loading a note on behalf of someone: the one place visibility is decided for every area."""

from __future__ import annotations

from app.accounts.models import User
from app.core.errors import NotFound
from app.core.extensions import db
from app.core.policies import can_view_note
from app.notes.models import Note


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
