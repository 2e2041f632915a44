"""Public profiles and the follow graph between users.

Follows are idempotent: the row insert/delete decides, and the counters move only when a row
was really created or removed, in the same transaction, so they stay exact under concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select

from app.accounts.models import User
from app.core.errors import NotFound, Unprocessable
from app.core.extensions import db
from app.core.jobs import commit, enqueue
from app.core.pagination import PageRequest, PageResult
from app.core.sql import bump, id_in_range, inserted
from app.core.viewer import avatars_for
from app.core.visibility import can_see_user, is_public_note, user_visible_clause
from app.feeds.inbox import following_changed, forget_inbox
from app.media.models import Image
from app.notes.models import Note
from app.notifications.jobs import deliver_notification
from app.social.models import UserFollow


def get_visible_user(user_id: int) -> User:
    """A user others may see: banned accounts look like they do not exist."""
    # populate_existing: counters move in SQL (`bump`), so never trust a cached copy.
    user = db.session.get(User, user_id, populate_existing=True) if id_in_range(user_id) else None
    if not can_see_user(user):
        raise NotFound("No such user.", code="user_not_found")
    return user


def followed_ids(viewer_id: int | None, user_ids: list[int]) -> set[int]:
    """Which of these users the viewer follows, in one query."""
    if viewer_id is None or not user_ids:
        return set()
    return set(
        db.session.scalars(
            select(UserFollow.followee_id).where(
                UserFollow.follower_id == viewer_id, UserFollow.followee_id.in_(user_ids)
            )
        )
    )


@dataclass
class Profile:
    user: User
    avatar: Image | None
    followed: bool


def get_profile(viewer: User | None, user_id: int) -> Profile:
    user = get_visible_user(user_id)
    followed = bool(viewer and followed_ids(viewer.id, [user.id]))
    return Profile(user, avatars_for([user]).get(user.avatar_image_id or 0), followed)


def _follow_state(user_id: int, followed: bool) -> dict[str, Any]:
    count = db.session.scalar(select(User.follower_count).where(User.id == user_id))
    return {"followed": followed, "follower_count": count or 0}


def follow_user(actor: User, user_id: int, source_note_id: int | None = None) -> dict[str, Any]:
    """`source_note_id`: the author's note the follow was made from; it counts towards that
    note's hot score (a follow gained weighs 8 in CES)."""
    target = get_visible_user(user_id)
    if target.id == actor.id:
        raise Unprocessable("You cannot follow yourself.", code="cannot_follow_self")
    if source_note_id is not None:
        note = db.session.get(Note, source_note_id)
        if note is None or note.author_id != target.id or not is_public_note(note):
            raise Unprocessable("That note is not one of this user's.", code="unknown_note")
    created = inserted(
        UserFollow,
        {"follower_id": actor.id, "followee_id": target.id, "source_note_id": source_note_id},
    )
    if created:
        bump(User, target.id, follower_count=1)
        bump(User, actor.id, following_count=1)
        if source_note_id is not None:
            bump(Note, source_note_id, follow_gain_count=1)
        enqueue(deliver_notification, "follow", target.id, actor.id)  # commits with it
        following_changed(actor.id)
    commit()
    if created:
        forget_inbox(actor.id)
    return _follow_state(target.id, True)


def unfollow_user(actor: User, user_id: int) -> dict[str, Any]:
    target = get_visible_user(user_id)
    if target.id == actor.id:
        raise Unprocessable("You cannot follow yourself.", code="cannot_follow_self")
    removed = db.session.execute(
        delete(UserFollow)
        .where(UserFollow.follower_id == actor.id, UserFollow.followee_id == target.id)
        .returning(UserFollow.suspect)
    ).first()
    if removed is not None:
        bump(User, actor.id, following_count=-1)
        if not removed.suspect:  # a suspect follow (bought engagement) had left the counts
            bump(User, target.id, follower_count=-1)
        following_changed(actor.id)
    db.session.commit()
    if removed is not None:
        forget_inbox(actor.id)
    return _follow_state(target.id, False)


@dataclass
class FollowRow:
    user: User
    followed_at: datetime


@dataclass
class FollowList:
    page: PageResult[FollowRow]
    followed: set[int]  # which listed users the viewer follows
    avatars: dict[int, Image]


def _follow_list(
    viewer: User | None,
    user_id: int,
    *,
    followers: bool,
    page: PageRequest,
) -> FollowList:
    owner = get_visible_user(user_id)
    # Followers: rows pointing at the owner, listing who follows; following: the reverse.
    anchor = UserFollow.followee_id if followers else UserFollow.follower_id
    listed = UserFollow.follower_id if followers else UserFollow.followee_id
    stmt = (
        select(User, UserFollow.created_at)
        .join(UserFollow, listed == User.id)
        .where(anchor == owner.id, user_visible_clause())
        .order_by(UserFollow.created_at.desc(), listed.desc())
        .limit(page.limit + 1)
        .execution_options(populate_existing=True)
    )
    if page.after is not None:
        moment, last_id = page.after
        stmt = stmt.where(
            or_(
                UserFollow.created_at < moment,
                and_(UserFollow.created_at == moment, listed < last_id),
            )
        )
    rows = [FollowRow(user, created_at) for user, created_at in db.session.execute(stmt)]
    listed_page = page.result(rows, lambda row: (row.followed_at, row.user.id))
    users = [row.user for row in listed_page.items]
    return FollowList(
        listed_page,
        followed_ids(viewer.id if viewer else None, [user.id for user in users]),
        avatars_for(users),
    )


def list_followers(viewer: User | None, user_id: int, page: PageRequest) -> FollowList:
    return _follow_list(viewer, user_id, followers=True, page=page)


def list_following(viewer: User | None, user_id: int, page: PageRequest) -> FollowList:
    return _follow_list(viewer, user_id, followers=False, page=page)
