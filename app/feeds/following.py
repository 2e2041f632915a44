"""The following feed ("关注"): notes from followed users and followed topics, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.core.pagination import PageRequest, PageResult
from app.core.routing import HasId, RawJson
from app.feeds import inbox
from app.feeds.cards import card_bytes, json_list
from app.notes.models import Note, NoteTopic
from app.social.models import TopicFollow, UserFollow


def following_feed(
    viewer: HasId, limit: int, after: tuple[datetime, int] | None
) -> list[tuple[int, datetime]]:
    """`following_sql`'s rows, read from the viewer's Redis inbox when there is one
    (`app.feeds.inbox`: fan-out on write), from SQL otherwise."""
    return inbox.following_ids(
        viewer.id, limit, after, lambda size, position: following_sql(viewer, size, position)
    )


def following_sql(
    viewer: HasId, limit: int, after: tuple[datetime, int] | None
) -> list[tuple[int, datetime]]:
    """Newest first from followed authors and followed topics (`inbox.newest_page`): own
    notes left out, a note matched both ways once. Returns (id, published_at) pairs, newest
    first: the caller makes the cards."""
    followees = select(UserFollow.followee_id).where(UserFollow.follower_id == viewer.id)
    topic_notes = (
        select(NoteTopic.note_id)
        .join(TopicFollow, TopicFollow.topic_id == NoteTopic.topic_id)
        .where(TopicFollow.user_id == viewer.id)
    )
    sides = [Note.author_id.in_(followees), Note.id.in_(topic_notes)]
    return inbox.newest_page(viewer.id, sides, limit, after)


def following_page(viewer: HasId, page: PageRequest) -> PageResult[Any]:
    """A page of the following feed as cards (`source: following`)."""
    rows = page.result(
        following_feed(viewer, page.limit, page.after),
        lambda row: (row[1], row[0]),  # (published_at, id)
    )
    ids = [note_id for note_id, _ in rows.items]
    cards = card_bytes(ids, viewer.id, extra=dict.fromkeys(ids, b',"source":"following"'))
    return rows.with_items(RawJson(json_list(cards[i] for i in ids if i in cards)))
