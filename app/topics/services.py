"""Channels and topics: browsing, the topic page and its notes, following, editor management."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.accounts.models import User
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.extensions import db
from app.core.jobs import commit, enqueue
from app.core.pagination import PageRequest, PageResult
from app.core.policies import can_manage_topics, require
from app.core.sql import bump, id_in_range, inserted, touched
from app.core.visibility import note_visible_clause
from app.editorial.services import slot_picks
from app.feeds.inbox import following_changed, forget_inbox
from app.notes.models import Channel, Note, NoteTopic, Topic
from app.search.jobs import index_notes, index_topic
from app.social.models import TopicFollow

ONBOARDING_TOPICS = 20
# The fallback "hot" order when no hot score was computed yet: weighted engagement.
ENGAGEMENT_WEIGHTS = {"like_count": 1, "collect_count": 2, "comment_count": 3, "share_count": 1}


@dataclass
class TopicCards:
    """Topics with what a viewer needs to show them: followed flags and channel names."""

    topics: list[Topic]
    followed: set[int] = field(default_factory=set)
    channels: dict[str, Channel] = field(default_factory=dict)


def require_channel(code: str) -> None:
    """404 unless `code` names a channel (channel feeds, hot lists, filtered search)."""
    if db.session.get(Channel, code) is None:
        raise NotFound("No such channel.", code="channel_not_found")


def list_channels() -> list[Channel]:
    return list(db.session.scalars(select(Channel).order_by(Channel.position, Channel.code)))


def _cards(viewer: User | None, topics: list[Topic]) -> TopicCards:
    ids = [topic.id for topic in topics]
    followed: set[int] = set()
    if viewer is not None and ids:
        followed = set(
            db.session.scalars(
                select(TopicFollow.topic_id).where(
                    TopicFollow.user_id == viewer.id, TopicFollow.topic_id.in_(ids)
                )
            )
        )
    codes = {topic.channel_code for topic in topics if topic.channel_code}
    channels = (
        {c.code: c for c in db.session.scalars(select(Channel).where(Channel.code.in_(codes)))}
        if codes
        else {}
    )
    return TopicCards(topics, followed, channels)


def topic_cards(viewer: User | None, topic_ids: list[int]) -> TopicCards:
    """These topics in this order (ids that no longer exist left out)."""
    by_id = {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(topic_ids)))}
    return _cards(viewer, [by_id[i] for i in topic_ids if i in by_id])


def get_topic_or_404(topic_id: int) -> Topic:
    # populate_existing: counters move in SQL (`bump`), so never trust a cached copy.
    topic = (
        db.session.get(Topic, topic_id, populate_existing=True) if id_in_range(topic_id) else None
    )
    if topic is None:
        raise NotFound("No such topic.", code="topic_not_found")
    return topic


def search_topics(
    viewer: User | None, query: str | None, page: PageRequest
) -> tuple[PageResult[Topic], TopicCards]:
    """By name substring when `query` is given, else all; most followed first (keyset
    `(follower_count, id)`)."""
    stmt = (
        select(Topic)
        .order_by(Topic.follower_count.desc(), Topic.id.desc())
        .limit(page.limit + 1)
        .execution_options(populate_existing=True)
    )
    if query:
        stmt = stmt.where(func.lower(Topic.name).contains(query.lower(), autoescape=True))
    if page.after is not None:
        count, last_id = page.after
        stmt = stmt.where(
            or_(
                Topic.follower_count < count,
                and_(Topic.follower_count == count, Topic.id < last_id),
            )
        )
    found = page.result(list(db.session.scalars(stmt)), lambda t: (t.follower_count, t.id))
    return found, _cards(viewer, found.items)


def get_topic(viewer: User | None, topic_id: int) -> TopicCards:
    return _cards(viewer, [get_topic_or_404(topic_id)])


def _channel_code(code: str | None) -> str | None:
    if code is None:
        return None
    if db.session.get(Channel, code) is None:
        raise Unprocessable("No such channel.", code="unknown_channel", details={"channel": code})
    return code


def _ensure_name_free(name: str, topic_id: int | None = None) -> None:
    stmt = select(Topic.id).where(func.lower(Topic.name) == name.lower())
    if topic_id is not None:
        stmt = stmt.where(Topic.id != topic_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise Conflict("A topic with this name exists.", code="topic_exists")


def _flush_unique() -> None:
    """A concurrent create of the same name loses on the unique index, as a 409."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("A topic with this name exists.", code="topic_exists") from exc


def create_topic(
    actor: User, name: str, description: str = "", guide: str = "", channel: str | None = None
) -> TopicCards:
    require(can_manage_topics(actor), "Only editors may create topics.")
    _ensure_name_free(name)
    topic = Topic(
        name=name,
        description=description,
        guide=guide,
        channel_code=_channel_code(channel),
        created_by_id=actor.id,
    )
    db.session.add(topic)
    _flush_unique()
    enqueue(index_topic, topic.id)  # commits with the topic
    commit()
    return _cards(actor, [topic])


def update_topic(actor: User, topic_id: int, changes: dict[str, Any]) -> TopicCards:
    """Only the keys present change; `channel: null` clears the channel."""
    require(can_manage_topics(actor), "Only editors may edit topics.")
    topic = get_topic_or_404(topic_id)
    renamed = changes.get("name") is not None and changes["name"] != topic.name
    if renamed:
        _ensure_name_free(changes["name"], topic.id)
        topic.name = changes["name"]
    for key in ("description", "guide"):
        if changes.get(key) is not None:
            setattr(topic, key, changes[key])
    if "channel" in changes:
        topic.channel_code = _channel_code(changes["channel"])
    _flush_unique()
    enqueue(index_topic, topic.id)  # these commit with the change
    if renamed:  # its notes are found by the topic's name too, and their cards show it
        note_ids = list(
            db.session.scalars(select(NoteTopic.note_id).where(NoteTopic.topic_id == topic.id))
        )
        touched("notes", note_ids)
        for start in range(0, len(note_ids), 500):
            enqueue(index_notes, note_ids[start : start + 500])
    commit()
    return _cards(actor, [topic])


def engagement() -> ColumnElement[Any]:
    columns = [getattr(Note, name) * weight for name, weight in ENGAGEMENT_WEIGHTS.items()]
    total = columns[0]
    for column in columns[1:]:
        total = total + column
    return total


@dataclass
class TopicNote:
    note: Note
    hot_score: float
    engagement: int


@dataclass
class TopicNotes:
    page: PageResult[TopicNote]
    picks: list[int]  # the editors' picks shown above the page (first page of `hot` only)


def topic_notes(viewer: User | None, topic_id: int, sort: str, page: PageRequest) -> TopicNotes:
    """Published notes in the topic. `new`: newest first, keyset `(published_at, id)`. `hot`:
    hot score, then weighted engagement, then id; it opens with the editors' picks for the
    topic, which are never repeated below."""
    topic = get_topic_or_404(topic_id)
    exclude = slot_picks(f"topic:{topic.id}") if sort == "hot" else []
    # The picks count within `limit` on the page they open: only those anyone may see, at
    # most `limit - 1` of them, so the page always holds a ranked note to carry the cursor.
    shown = _visible_ids(exclude)[: page.limit - 1] if page.first else []
    page = replace(page, limit=page.limit - len(shown))
    in_topic = select(NoteTopic.note_id).where(NoteTopic.topic_id == topic.id)
    score = engagement()
    stmt = (
        select(Note, score)
        .where(
            Note.id.in_(in_topic),
            note_visible_clause(None),  # what everyone sees alike
            Note.published_at.is_not(None),
        )
        .limit(page.limit + 1)
        .options(lazyload("*"))  # the cards are built by id (`cards_in_order`)
        .execution_options(populate_existing=True)
    )
    if exclude:
        stmt = stmt.where(Note.id.not_in(exclude))
    if sort == "new":
        stmt = stmt.order_by(Note.published_at.desc(), Note.id.desc())
        if page.after is not None:
            moment, last_id = page.after
            stmt = stmt.where(
                or_(
                    Note.published_at < moment,
                    and_(Note.published_at == moment, Note.id < last_id),
                )
            )
    else:
        stmt = stmt.order_by(Note.hot_score.desc(), score.desc(), Note.id.desc())
        if page.after is not None:
            hot, eng, last_id = page.after
            stmt = stmt.where(
                or_(
                    Note.hot_score < hot,
                    and_(
                        Note.hot_score == hot,
                        or_(score < eng, and_(score == eng, Note.id < last_id)),
                    ),
                )
            )
    rows = [
        TopicNote(note, float(note.hot_score or 0.0), int(eng or 0))
        for note, eng in db.session.execute(stmt).unique()
    ]
    if sort == "new":
        found = page.result(rows, lambda row: (row.note.published_at, row.note.id))
    else:
        found = page.result(rows, lambda row: (row.hot_score, row.engagement, row.note.id))
    return TopicNotes(found, shown)


def _visible_ids(note_ids: list[int]) -> list[int]:
    """`note_ids`, in order, without the notes not everyone may see."""
    if not note_ids:
        return []
    visible = set(
        db.session.scalars(select(Note.id).where(Note.id.in_(note_ids), note_visible_clause(None)))
    )
    return [note_id for note_id in note_ids if note_id in visible]


def _follow_state(topic_id: int, followed: bool) -> dict[str, Any]:
    count = db.session.scalar(select(Topic.follower_count).where(Topic.id == topic_id))
    return {"followed": followed, "follower_count": count or 0}


def follow_topic(actor: User, topic_id: int) -> dict[str, Any]:
    topic = get_topic_or_404(topic_id)
    created = inserted(TopicFollow, {"user_id": actor.id, "topic_id": topic.id})
    if created:
        bump(Topic, topic.id, follower_count=1)
        following_changed(actor.id)
    db.session.commit()
    if created:
        forget_inbox(actor.id)
    return _follow_state(topic.id, True)


def unfollow_topic(actor: User, topic_id: int) -> dict[str, Any]:
    topic = get_topic_or_404(topic_id)
    result = db.session.execute(
        delete(TopicFollow).where(TopicFollow.user_id == actor.id, TopicFollow.topic_id == topic.id)
    )
    if result.rowcount == 1:
        bump(Topic, topic.id, follower_count=-1)
        following_changed(actor.id)
    db.session.commit()
    if result.rowcount == 1:
        forget_inbox(actor.id)
    return _follow_state(topic.id, False)


@dataclass
class Interests:
    channels: list[Channel]
    topics: TopicCards


def onboarding_interests(viewer: User | None) -> Interests:
    """What a new user can pick from: every channel and the most popular topics."""
    topics = db.session.scalars(
        select(Topic)
        .order_by(Topic.follower_count.desc(), Topic.note_count.desc(), Topic.id)
        .limit(ONBOARDING_TOPICS)
        .execution_options(populate_existing=True)
    )
    return Interests(list_channels(), _cards(viewer, list(topics)))
