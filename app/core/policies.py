"""Who may do what: one named predicate per action. Services call these, never handlers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.accounts.models import ROLES, User
from app.core import visibility
from app.core.errors import Forbidden
from app.media.models import Image
from app.notes.models import Comment, Note


def is_staff(actor: User | None, role: str) -> bool:
    return actor is not None and actor.has_role(role)


def role_rank(user: User) -> int:
    """The one ranking of roles (`ROLES` order: user < editor < moderator < admin); an
    account ranks by its highest role."""
    return max(ROLES.index(role) for role in user.roles if role in ROLES)


def outranks(actor: User, other: User) -> bool:
    """Staff act only on accounts below their own role: never a peer, a senior or themselves."""
    return actor.id != other.id and role_rank(actor) > role_rank(other)


def can_view_note(actor: User | None, note: Note) -> bool:
    """The one visibility rule (`app.core.visibility`): deleted never; published by an
    author in good standing for everyone; any state for its author and for moderators."""
    return visibility.can_view_note(actor, note)


def can_view_note_state(
    actor: User | None,
    *,
    author_id: int,
    status: str,
    deleted_at: datetime | None,
    author_banned: bool,
) -> bool:
    """`can_view_note` from the columns alone, for lists that never load the note."""
    return visibility.can_view_note_state(
        actor,
        author_id=author_id,
        status=status,
        deleted_at=deleted_at,
        author_banned=author_banned,
    )


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


def can_change_roles_of(actor: User, user: User) -> bool:
    """An admin sets the roles of accounts ranked below admin (and may make them admins) and
    their own (`set_roles` refuses dropping admin); another admin's are out of reach."""
    return can_manage_roles(actor) and (actor.id == user.id or outranks(actor, user))


def can_view_image(actor: User | None, image: Image, *, in_public_use: bool) -> bool:
    """An image is public once a published note or an avatar shows it; before that (uploads,
    drafts, held notes) only its owner and moderators see it."""
    if in_public_use:
        return True
    return actor is not None and (actor.id == image.owner_id or actor.has_role("moderator"))


def can_explain_scores(actor: User | None) -> bool:
    """Feed score explanations (`explain=1`) show the ranking's inner weights: editors' tool."""
    return actor is not None and actor.has_role("editor")


def require(
    allowed: bool,
    message: str = "You may not do this.",
    *,
    code: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    if not allowed:
        raise Forbidden(message, code=code, details=details)
