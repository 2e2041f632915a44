"""Comments in two levels, like Xiaohongshu, and comment likes.

A top-level comment has `root_id = None`; every reply, however deep the conversation, hangs
under its top-level comment (`root_id`), remembering the comment it answered (`parent_id`) and
whom (`reply_to_user_id`). `note.comment_count` counts visible comments exactly:
deleting a top-level comment hides its live replies too and subtracts them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, update

from app.accounts.models import User
from app.core.errors import NotFound, Unprocessable, ValidationFailed
from app.core.extensions import db
from app.core.jobs import commit, enqueue
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import can_delete_comment, require
from app.core.sql import bump, commit_fresh, id_in_range, insert_ignore
from app.core.viewer import avatars_for
from app.core.visibility import (
    can_view_comment,
    comment_visible_clause,
    get_interactable_note,
    get_note_for,
    user_visible_clause,
)
from app.growth.events import settle_content
from app.media.models import Image
from app.notes.models import Comment, CommentLike, Note
from app.notifications.jobs import deliver_notification
from moderation import screen_content

PREVIEW_REPLIES = 2
MAX_MENTIONS = 10
# `@username` (usernames are ASCII letters, digits and underscores, stored lowercase).
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]{3,32})")


def _comment_not_found() -> NotFound:
    return NotFound("No such comment.", code="comment_not_found")


def _live(comment: Comment | None) -> bool:
    return comment is not None and comment.deleted_at is None and comment.status == "published"


def _get_live_comment(comment_id: int, *, shown: bool = True) -> Comment:
    """A live comment: not deleted, and (for a reply) its thread not deleted. `shown`: both
    also ones others may see (`can_view_comment`: not by a banned account) — liking,
    replying and listing need that; deleting does not."""

    def ok(row: Comment | None) -> bool:
        return row is not None and (can_view_comment(row) if shown else _live(row))

    comment = db.session.get(Comment, comment_id) if id_in_range(comment_id) else None
    if comment is None or not ok(comment):
        raise _comment_not_found()
    if comment.root_id is not None and not ok(db.session.get(Comment, comment.root_id)):
        raise _comment_not_found()
    return comment


def _lock_live_root(root_id: int) -> None:
    """Lock a thread's root row and check it is still live.

    A concurrent delete of the root then either sees the new reply (and hides and subtracts
    it) or has committed first and we see the deletion. SQLite serialises writers anyway.
    """
    row = db.session.execute(
        select(Comment.deleted_at, Comment.status).where(Comment.id == root_id).with_for_update()
    ).first()
    if row is None or row.deleted_at is not None or row.status != "published":
        raise _comment_not_found()


def mentioned_usernames(body: str) -> list[str]:
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(body):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)[:MAX_MENTIONS]


def add_comment(actor: User, note_id: int, body: str, parent_id: int | None = None) -> Comment:
    limit = current_app.config["SPROUT"].comment_body_max
    if len(body) > limit:
        raise ValidationFailed(
            f"A comment is at most {limit} characters.",
            code="comment_too_long",
            details={"field": "body", "max_length": limit},
        )
    if not body:
        raise ValidationFailed("A comment cannot be empty.", details={"field": "body"})
    if not id_in_range(note_id):
        raise NotFound("No such note.", code="note_not_found")
    note = get_interactable_note(actor, note_id)
    parent: Comment | None = None
    root_id: int | None = None
    if parent_id is not None:
        parent = _get_live_comment(parent_id)
        if parent.note_id != note.id:
            raise Unprocessable(
                "The comment replied to belongs to another note.",
                code="parent_not_in_note",
                details={"field": "parent_id"},
            )
        root_id = parent.root_id or parent.id
        _lock_live_root(root_id)
    # Moderation screens every comment before it appears (a block is a 422 here).
    screened = screen_content(actor, "comment", (body,))
    held = screened.held
    comment = Comment(
        note_id=note.id,
        author_id=actor.id,
        root_id=root_id,
        parent_id=parent.id if parent else None,
        reply_to_user_id=parent.author_id if parent else None,
        body=body,
        status="pending_review" if held else "published",
        like_count=0,
        reply_count=0,
        created_at=utcnow(),
    )
    db.session.add(comment)
    db.session.flush()
    screened.remember(comment.id)
    if held:  # counted and announced only once a moderator lets it through
        _ = (comment.author, comment.reply_to_user)
        db.session.commit()
        screened.open_case(comment.id)
        return comment
    bump(Note, note.id, comment_count=1)
    if root_id is not None:
        bump(Comment, root_id, reply_count=1)
    usernames = mentioned_usernames(body)
    mentioned = (
        list(
            db.session.scalars(
                select(User.id).where(User.username.in_(usernames), user_visible_clause())
            )
        )
        if usernames
        else []
    )
    kind, told = ("comment", note.author_id) if parent is None else ("reply", parent.author_id)
    ids = (actor.id, note.id, comment.id)
    # What the representation needs, loaded before the commit expires the session.
    _ = (comment.author, comment.reply_to_user)
    excerpt = {"excerpt": body[:80]}  # the jobs' intents commit with the comment
    enqueue(deliver_notification, kind, told, *ids, excerpt)
    enqueue(settle_content, "comment", comment.id)  # points for both sides, once
    for user_id in mentioned:
        if user_id != told:  # already told about this comment
            enqueue(deliver_notification, "mention", user_id, *ids, excerpt)
    commit()
    # The counters moved in SQL: forget the session's stale copies (a test client shares it).
    db.session.expire(note, ["comment_count"])
    root = db.session.get(Comment, root_id) if root_id is not None else None
    if root is not None:
        db.session.expire(root, ["reply_count"])
    return comment


@dataclass
class CommentRow:
    comment: Comment
    liked: bool = False
    replies: list[CommentRow] = field(default_factory=list)


@dataclass
class CommentList:
    page: PageResult[CommentRow]
    avatars: dict[int, Image]


def _live_filter() -> Any:
    """Comments counted in `note.comment_count` (what deleting a thread hides and subtracts)."""
    return and_(Comment.deleted_at.is_(None), Comment.status == "published")


def _decorate(viewer: User | None, page: PageResult[CommentRow]) -> CommentList:
    """Viewer likes and avatars for a page and its previews, one query each."""
    rows = page.items
    every = rows + [reply for row in rows for reply in row.replies]
    ids = [row.comment.id for row in every]
    liked: set[int] = set()
    if viewer is not None and ids:
        liked = set(
            db.session.scalars(
                select(CommentLike.comment_id).where(
                    CommentLike.user_id == viewer.id, CommentLike.comment_id.in_(ids)
                )
            )
        )
    users: list[User] = []
    for row in every:
        row.liked = row.comment.id in liked
        users.append(row.comment.author)
        if row.comment.reply_to_user is not None:
            users.append(row.comment.reply_to_user)
    return CommentList(page, avatars_for(users))


def list_comments(
    viewer: User | None,
    note_id: int,
    *,
    sort: str,
    page: PageRequest,
) -> CommentList:
    """Top-level comments (`new`: newest first; `hot`: most liked first), each with up to two
    preview replies (oldest first). The keyset is (created_at, id) or (like_count, id)."""
    if not id_in_range(note_id):
        raise NotFound("No such note.", code="note_not_found")
    note = get_note_for(viewer, note_id)
    stmt = select(Comment).where(
        Comment.note_id == note.id, Comment.root_id.is_(None), comment_visible_clause()
    )
    key = Comment.like_count if sort == "hot" else Comment.created_at
    stmt = stmt.order_by(key.desc(), Comment.id.desc()).limit(page.limit + 1)
    if page.after is not None:
        value, last_id = page.after
        stmt = stmt.where(or_(key < value, and_(key == value, Comment.id < last_id)))
    hot = sort == "hot"
    found = page.result(
        [CommentRow(comment) for comment in db.session.scalars(stmt)],
        lambda row: (row.comment.like_count if hot else row.comment.created_at, row.comment.id),
    )
    rows = found.items
    by_root = {row.comment.id: row for row in rows}
    if by_root:
        # Window function: the first two live replies of every root in one query.
        position = (
            func.row_number()
            .over(partition_by=Comment.root_id, order_by=(Comment.created_at, Comment.id))
            .label("position")
        )
        ranked = (
            select(Comment.id, position)
            .where(Comment.root_id.in_(list(by_root)), comment_visible_clause())
            .subquery()
        )
        previews = db.session.scalars(
            select(Comment)
            .join(ranked, ranked.c.id == Comment.id)
            .where(ranked.c.position <= PREVIEW_REPLIES)
            .order_by(Comment.created_at, Comment.id)
        )
        for reply in previews:
            by_root[reply.root_id or 0].replies.append(CommentRow(reply))
    return _decorate(viewer, found)


def list_replies(viewer: User | None, comment_id: int, *, page: PageRequest) -> CommentList:
    """The replies of a thread, oldest first. Given a reply's id, its thread is listed."""
    comment = _get_live_comment(comment_id)
    get_note_for(viewer, comment.note_id)
    root_id = comment.root_id or comment.id
    stmt = (
        select(Comment)
        .where(Comment.root_id == root_id, comment_visible_clause())
        .order_by(Comment.created_at, Comment.id)
        .limit(page.limit + 1)
    )
    if page.after is not None:
        moment, last_id = page.after
        stmt = stmt.where(
            or_(
                Comment.created_at > moment,
                and_(Comment.created_at == moment, Comment.id > last_id),
            )
        )
    found = page.result(
        [CommentRow(reply) for reply in db.session.scalars(stmt)],
        lambda row: (row.comment.created_at, row.comment.id),
    )
    return _decorate(viewer, found)


def delete_comment(actor: User, comment_id: int) -> None:
    """Soft delete by the comment's author, the note's author or a moderator.

    Deleting a top-level comment hides its live replies with it; `note.comment_count` drops by
    exactly the number of comments that became invisible (the conditional updates' row counts).
    """
    comment = _get_live_comment(comment_id, shown=False)
    note = db.session.get(Note, comment.note_id)
    if note is None:
        raise _comment_not_found()
    require(can_delete_comment(actor, comment, note), "You may not delete this comment.")
    now = utcnow()
    hidden = db.session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.deleted_at.is_(None))
        .values(deleted_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if hidden == 1:
        if comment.root_id is None:
            hidden += db.session.execute(
                update(Comment)
                .where(Comment.root_id == comment.id, _live_filter())
                .values(deleted_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
        else:
            bump(Comment, comment.root_id, reply_count=-1)
        bump(Note, note.id, comment_count=-hidden)
    enqueue(settle_content, "comment", comment.id)  # a deleted comment's points go back
    commit_fresh()


def _like_state(comment_id: int, liked: bool) -> dict[str, Any]:
    count = db.session.scalar(select(Comment.like_count).where(Comment.id == comment_id))
    return {"liked": liked, "like_count": count or 0}


def like_comment(actor: User, comment_id: int) -> dict[str, Any]:
    comment = _get_live_comment(comment_id)
    get_interactable_note(actor, comment.note_id)
    created = (
        db.session.execute(
            insert_ignore(
                CommentLike,
                {"user_id": actor.id, "comment_id": comment.id, "created_at": utcnow()},
            )
        ).rowcount
        == 1
    )
    if created:
        bump(Comment, comment.id, like_count=1)
    ids = (comment.author_id, actor.id, comment.note_id, comment.id)
    state = _like_state(comment.id, True)
    if created:
        enqueue(deliver_notification, "comment_like", *ids)  # commits with the like
    commit_fresh()
    return state


def unlike_comment(actor: User, comment_id: int) -> dict[str, Any]:
    """Idempotent; also works on a comment deleted since (the like row goes either way)."""
    if not id_in_range(comment_id) or db.session.get(Comment, comment_id) is None:
        raise _comment_not_found()
    removed = db.session.execute(
        delete(CommentLike).where(
            CommentLike.user_id == actor.id, CommentLike.comment_id == comment_id
        )
    ).rowcount
    if removed == 1:
        bump(Comment, comment_id, like_count=-1)
    state = _like_state(comment_id, False)
    commit_fresh()
    return state
