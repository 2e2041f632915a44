"""Who may do what: one named predicate per action. Services call these, never handlers."""

from __future__ import annotations

from datetime import datetime

from app.errors import Forbidden
from app.models import Comment, Note, User


def is_staff(actor: User | None, role: str) -> bool:
    return actor is not None and actor.has_role(role)


def can_view_note(actor: User | None, note: Note) -> bool:
    return can_view_note_state(
        actor, author_id=note.author_id, status=note.status, deleted_at=note.deleted_at
    )


def can_view_note_state(
    actor: User | None, *, author_id: int, status: str, deleted_at: datetime | None
) -> bool:
    """`can_view_note` from the columns alone, for lists that never load the note."""
    if deleted_at is not None:
        return False
    if status == "published":
        return True
    return actor is not None and (actor.id == author_id or actor.has_role("moderator"))


def can_edit_note(actor: User, note: Note) -> bool:
    return note.deleted_at is None and actor.id == note.author_id and note.status != "removed"


def can_delete_note(actor: User, note: Note) -> bool:
    return actor.id == note.author_id or actor.has_role("moderator")


def can_delete_comment(actor: User, comment: Comment, note: Note) -> bool:
    # The note's author may also clear comments under their own note, as on Xiaohongshu.
    return actor.id in (comment.author_id, note.author_id) or actor.has_role("moderator")


def can_manage_topics(actor: User) -> bool:
    return actor.has_role("editor")


def can_curate_search(actor: User) -> bool:
    return actor.has_role("editor")


def can_reindex_search(actor: User) -> bool:
    return actor.has_role("admin")


def can_manage_roles(actor: User) -> bool:
    return actor.has_role("admin")


def require(allowed: bool, message: str = "You may not do this.") -> None:
    if not allowed:
        raise Forbidden(message)
