"""The following feed ("关注"): notes from followed users and followed topics, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, union

from app.accounts.models import User
from app.core.extensions import db
from app.core.pagination import PageRequest, PageResult
from app.core.routing import RawJson, Viewer
from app.core.visibility import note_visible_clause
from app.feeds import inbox
from app.feeds.cards import card_bytes, json_list
from app.notes.models import Note, NoteTopic
from app.social.models import TopicFollow, UserFollow


def following_feed(
    viewer: User | Viewer, limit: int, after: tuple[datetime, int] | None
) -> list[tuple[int, datetime]]:
    """`following_sql`'s rows, read from the viewer's Redis inbox when there is one
    (`app.feeds.inbox`: fan-out on write), from SQL otherwise."""
    return inbox.following_ids(
        viewer.id, limit, after, lambda size, position: following_sql(viewer, size, position)
    )


def following_sql(
    viewer: User | Viewer, limit: int, after: tuple[datetime, int] | None
) -> list[tuple[int, datetime]]:
    """Newest first from followed authors and followed topics, each side read through its own
    index and cut to the page before they are merged: one `OR` over both would make the
    database walk every note by date looking for the few that match.

    A note matched both ways appears once; own notes are left out. Returns (id, published_at)
    pairs, newest first: the caller makes the cards.
    """
    followees = select(UserFollow.followee_id).where(UserFollow.follower_id == viewer.id)
    topic_notes = (
        select(NoteTopic.note_id)
        .join(TopicFollow, TopicFollow.topic_id == NoteTopic.topic_id)
        .where(TopicFollow.user_id == viewer.id)
    )
    position = ()
    if after is not None:
        moment, last_id = after
        position = (
            or_(
                Note.published_at < moment,
                and_(Note.published_at == moment, Note.id < last_id),
            ),
        )
    newest = (Note.published_at.desc(), Note.id.desc())
    visible = (
        note_visible_clause(None),  # what everyone sees alike: no banned author's notes
        Note.published_at.is_not(None),
        Note.author_id != viewer.id,
        *position,
    )
    by_authors = (
        select(Note.id)
        .where(*visible, Note.author_id.in_(followees))
        .order_by(*newest)
        .limit(limit + 1)
        .subquery()
    )
    by_topics = (
        select(Note.id)
        .where(*visible, Note.id.in_(topic_notes))
        .order_by(*newest)
        .limit(limit + 1)
        .subquery()
    )
    ids = union(select(by_authors.c.id), select(by_topics.c.id)).subquery()
    stmt = (
        select(Note.id, Note.published_at)
        .where(Note.id.in_(select(ids.c.id)))
        .order_by(*newest)
        .limit(limit + 1)
    )
    return [(row.id, row.published_at) for row in db.session.execute(stmt)]


def following_page(viewer: User | Viewer, page: PageRequest) -> PageResult[Any]:
    """A page of the following feed as cards (`source: following`)."""
    rows = page.result(
        following_feed(viewer, page.limit, page.after),
        lambda row: (row[1], row[0]),  # (published_at, id)
    )
    ids = [note_id for note_id, _ in rows.items]
    cards = card_bytes(ids, viewer.id, extra=dict.fromkeys(ids, b',"source":"following"'))
    return rows.with_items(RawJson(json_list(cards[i] for i in ids if i in cards)))
