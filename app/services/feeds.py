"""The following feed ("关注"): notes from followed users and followed topics, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import Note, NoteTopic, TopicFollow, User, UserFollow


def following_feed(viewer: User, limit: int, after: tuple[datetime, int] | None) -> list[Note]:
    """One indexed query: `author IN followees OR id IN notes of followed topics`.

    A note matched both ways appears once (it is one row of `notes`); own notes are left out.
    """
    followees = select(UserFollow.followee_id).where(UserFollow.follower_id == viewer.id)
    topic_notes = (
        select(NoteTopic.note_id)
        .join(TopicFollow, TopicFollow.topic_id == NoteTopic.topic_id)
        .where(TopicFollow.user_id == viewer.id)
    )
    stmt = (
        select(Note)
        .where(
            Note.status == "published",
            Note.deleted_at.is_(None),
            Note.published_at.is_not(None),
            Note.author_id != viewer.id,
            or_(Note.author_id.in_(followees), Note.id.in_(topic_notes)),
        )
        .order_by(Note.published_at.desc(), Note.id.desc())
        .limit(limit + 1)
        .execution_options(populate_existing=True)
    )
    if after is not None:
        moment, last_id = after
        stmt = stmt.where(
            or_(
                Note.published_at < moment,
                and_(Note.published_at == moment, Note.id < last_id),
            )
        )
    return list(db.session.scalars(stmt).unique())
