"""What moderation's decisions do to notes and comments (registered as moderation hooks by
`create_app`): the counts of what is visible, search and points follow a hide, removal or
restoration, as they follow the author's own publishing and deleting."""

from __future__ import annotations

from app.core.jobs import enqueue
from app.core.models import utcnow
from app.core.sql import bump
from app.growth.events import settle_content
from app.notes.models import Comment, Note
from app.notes.services.notes import adjust_published_counters
from app.search.jobs import index_notes
from moderation import ContentKind


def published_changed(kind: ContentKind, row: Note | Comment, delta: int) -> None:
    """A note or comment entered (+1) or left (-1) `published`: the author's and topics'
    note counts, or the note's comment count and the thread's reply count, follow."""
    if isinstance(row, Note):
        adjust_published_counters(row, delta)
        if delta > 0 and row.published_at is None:
            row.published_at = utcnow()
        return
    bump(Note, row.note_id, comment_count=delta)
    if row.root_id is not None:
        bump(Comment, row.root_id, reply_count=delta)


def content_changed(kind: ContentKind, content_id: int) -> None:
    """Hidden, removed or restored: search follows a note, and the points it or a comment
    earned are clawed back or restored (jobs, committed with the change)."""
    if kind == "note":
        enqueue(index_notes, [content_id])
    enqueue(settle_content, kind, content_id)
