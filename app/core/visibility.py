"""Who may see which note, comment and account: the one rule, as SQL and as Python.

A note is seen by nobody once deleted. Otherwise everyone sees it while it is published and
its author is not banned; its author sees it in every state (drafts, held for review, hidden,
removed); moderators (and admins) see every note, a banned author's included, when they open
one — lists that are not theirs to review pass `staff_reach=False`. Lists everyone sees alike
(feeds, topics, search, hot lists, related notes) pass no viewer: a viewer's own drafts never
show there. The product has no blocks between users, so nothing else hides a note.

`note_visible_clause` (SQL, for lists) and `can_view_note_state` (Python, for a loaded note
or a row of columns) say exactly the same; `tests/api/test_visibility.py` holds them to it.
A banned account looks as if it did not exist: its notes, comments, profile and the
notifications it caused vanish, and come back when the ban is lifted.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeGuard

from sqlalchemy import ColumnElement, Select, and_, or_, select

from app.accounts.models import User
from app.core.errors import NotFound
from app.core.extensions import db
from app.notes.models import Comment, Note

#: The one state in which a note or a comment shows to everyone.
PUBLIC_STATUS = "published"
#: `User.status` of an account that looks as if it did not exist.
BANNED = "banned"
#: Staff with this role (admins pass every role check) may open any note not deleted.
STAFF_ROLE = "moderator"


# -- accounts ------------------------------------------------------------------------------
def is_banned_status(status: str) -> bool:
    """`User.status` read as a column (lists that never load the account)."""
    return status == BANNED


def is_banned(user: User | None) -> bool:
    return user is not None and is_banned_status(user.status)


def can_see_user(user: User | None) -> TypeGuard[User]:
    """An account others may see (its profile, its name in lists)."""
    return user is not None and not is_banned(user)


def user_visible_clause() -> ColumnElement[bool]:
    """`can_see_user` over `User` rows."""
    return User.status != BANNED


def banned_user_ids() -> Select[tuple[int]]:
    """The ids of banned accounts: tiny, answered by the partial index `ix_users_banned`."""
    return select(User.id).where(User.status == BANNED)


def not_banned(
    user_id: ColumnElement[int] | ColumnElement[int | None], *, allow_none: bool = False
) -> ColumnElement[bool]:
    """The account in this id column is not banned (no join needed: `NOT IN` the few
    banned ids). `allow_none`: a row naming no account (a system notification) passes."""
    clause = user_id.not_in(banned_user_ids())
    return or_(user_id.is_(None), clause) if allow_none else clause


# -- notes ---------------------------------------------------------------------------------
def _has_staff_reach(viewer: User | None, staff_reach: bool) -> bool:
    return staff_reach and viewer is not None and viewer.has_role(STAFF_ROLE)


def note_visible_clause(
    viewer: User | None = None, *, staff_reach: bool = True
) -> ColumnElement[bool]:
    """The notes `viewer` may see, as a condition over `Note` (no join: the author's standing
    is read from the banned ids). `viewer=None`: what everyone sees alike."""
    alive = Note.deleted_at.is_(None)
    if _has_staff_reach(viewer, staff_reach):
        return alive
    public = and_(Note.status == PUBLIC_STATUS, not_banned(Note.author_id))
    if viewer is not None:
        public = or_(public, Note.author_id == viewer.id)
    return and_(alive, public)


def can_view_note_state(
    viewer: User | None,
    *,
    author_id: int,
    status: str,
    deleted_at: datetime | None,
    author_banned: bool,
    staff_reach: bool = True,
) -> bool:
    """`note_visible_clause` for one note given as columns (lists that never load it)."""
    if deleted_at is not None:
        return False
    # Cheapest first: the role check may load the viewer's roles.
    if status == PUBLIC_STATUS and not author_banned:
        return True
    if viewer is not None and viewer.id == author_id:
        return True
    return _has_staff_reach(viewer, staff_reach)


def can_view_note(viewer: User | None, note: Note, *, staff_reach: bool = True) -> bool:
    """`note_visible_clause` for a loaded note (its author is loaded with it)."""
    return can_view_note_state(
        viewer,
        author_id=note.author_id,
        status=note.status,
        deleted_at=note.deleted_at,
        author_banned=is_banned(note.author),
        staff_reach=staff_reach,
    )


def is_public_note(note: Note) -> bool:
    """Seen by everyone: the only notes anyone may like, collect, comment on or share."""
    return can_view_note(None, note)


def get_note_for(actor: User | None, note_id: int) -> Note:
    """The note if this actor may see it; 404 otherwise (never reveal hidden notes exist)."""
    note = db.session.get(Note, note_id)
    if note is None or not can_view_note(actor, note):
        raise NotFound("No such note.", code="note_not_found")
    return note


def get_interactable_note(actor: User, note_id: int) -> Note:
    """Likes, collects, comments and shares are only for notes everyone sees."""
    note = get_note_for(actor, note_id)
    if not is_public_note(note):
        raise NotFound("No such note.", code="note_not_found")
    return note


# -- comments ------------------------------------------------------------------------------
def comment_visible_clause() -> ColumnElement[bool]:
    """Comments shown under a note everyone may see: published, not deleted, by an account
    that is not banned. Whether the note itself is visible is checked once, by the caller,
    with `get_note_for`: comments under a note one may not see are never listed."""
    return and_(
        Comment.deleted_at.is_(None),
        Comment.status == PUBLIC_STATUS,
        not_banned(Comment.author_id),
    )


def can_view_comment(comment: Comment) -> bool:
    """`comment_visible_clause` for a loaded comment (its author is loaded with it)."""
    return (
        comment.deleted_at is None
        and comment.status == PUBLIC_STATUS
        and not is_banned(comment.author)
    )
