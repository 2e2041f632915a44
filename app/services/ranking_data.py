"""Rows → the plain data `ranking/` works on: note features, user events, built models.

The ranking library never sees the ORM; this module is the one translation layer.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import (
    Collect,
    Comment,
    NegativeFeedback,
    Note,
    NoteEvent,
    NoteLike,
    NoteTag,
    NoteTopic,
    RankingModel,
    Share,
    Tag,
    User,
    UserFollow,
    UserInterest,
    utcnow,
)
from app.services.sql import id_in
from ranking.types import Event, NoteFeatures

FEATURE_COLUMNS = (
    Note.id,
    Note.author_id,
    Note.channel_code,
    Note.published_at,
    Note.like_count,
    Note.collect_count,
    Note.comment_count,
    Note.share_count,
    Note.follow_gain_count,
    Note.impression_count,
    Note.hot_score,
)


def _ts(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def visible_notes_filter():  # type: ignore[no-untyped-def]
    """What any feed may show: published, not deleted, by an account in good standing."""
    return (
        Note.status == "published",
        Note.deleted_at.is_(None),
        Note.author_id.not_in(select(User.id).where(User.status == "banned")),
    )


def note_features(
    note_ids: Iterable[int] | None = None,
    *,
    where=(),
    order_by=(),
    limit: int | None = None,
    labels: bool = True,
) -> dict[int, NoteFeatures]:  # type: ignore[no-untyped-def]
    """Features for the notes asked for (by id, or by filter/order/limit) in three queries;
    `labels=False` skips topics and tags (one query) when only counts and times matter."""
    stmt = select(*FEATURE_COLUMNS).where(*visible_notes_filter(), *where)
    if note_ids is not None:
        ids = list(note_ids)
        if not ids:
            return {}
        stmt = stmt.where(id_in(Note.id, ids))
    if order_by:
        stmt = stmt.order_by(*order_by)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = db.session.execute(stmt).all()
    ids = [row.id for row in rows]
    topics: dict[int, list[int]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids) if labels else 0, 5000):
        chunk = ids[start : start + 5000]
        for note_id, topic_id in db.session.execute(
            select(NoteTopic.note_id, NoteTopic.topic_id).where(id_in(NoteTopic.note_id, chunk))
        ):
            topics[note_id].append(topic_id)
        for note_id, name in db.session.execute(
            select(NoteTag.note_id, Tag.name)
            .join(Tag, Tag.id == NoteTag.tag_id)
            .where(id_in(NoteTag.note_id, chunk))
        ):
            tags[note_id].append(name)
    return {
        row.id: NoteFeatures(
            note_id=row.id,
            author_id=row.author_id,
            channel=row.channel_code,
            topics=tuple(topics[row.id]),
            tags=tuple(tags[row.id]),
            published_at=_ts(row.published_at),
            likes=row.like_count,
            collects=row.collect_count,
            comments=row.comment_count,
            shares=row.share_count,
            follows_gained=row.follow_gain_count,
            impressions=row.impression_count,
        )
        for row in rows
    }


def engagement_events(
    *,
    since: datetime,
    user_id: int | None = None,
    limit_per_kind: int | None = None,
    include_opens: bool = True,
) -> list[Event]:
    """Likes, collects, comments, shares, follows gained and opens as `Event`s, newest first
    within each kind. One user's (for a profile) or everyone's (for training, hot lists)."""
    sources = [
        ("like", NoteLike.user_id, NoteLike.note_id, NoteLike.created_at, None),
        ("collect", Collect.user_id, Collect.note_id, Collect.created_at, None),
        (
            "comment",
            Comment.author_id,
            Comment.note_id,
            Comment.created_at,
            Comment.deleted_at.is_(None),
        ),
        ("share", Share.user_id, Share.note_id, Share.created_at, Share.user_id.is_not(None)),
        (
            "follow",
            UserFollow.follower_id,
            UserFollow.source_note_id,
            UserFollow.created_at,
            UserFollow.source_note_id.is_not(None),
        ),
    ]
    if include_opens:
        sources.append(
            (
                "open",
                NoteEvent.user_id,
                NoteEvent.note_id,
                NoteEvent.created_at,
                (NoteEvent.kind == "open") & NoteEvent.user_id.is_not(None),
            )
        )
    events: list[Event] = []
    for kind, user_col, note_col, time_col, extra in sources:
        stmt = select(user_col, note_col, time_col).where(time_col >= since)
        if extra is not None:
            stmt = stmt.where(extra)
        if user_id is not None:
            stmt = stmt.where(user_col == user_id)
        if limit_per_kind is not None:
            stmt = stmt.order_by(time_col.desc()).limit(limit_per_kind)
        for user, note, moment in db.session.execute(stmt):
            events.append(Event(user_id=user, note_id=note, kind=kind, ts=moment.timestamp()))
    return events


@dataclass
class UserSignals:
    """Everything about one viewer that the pipeline needs, read in a handful of queries."""

    events: list[Event] = field(default_factory=list)
    seed_channels: list[str] = field(default_factory=list)
    seed_topics: list[int] = field(default_factory=list)
    not_interested: list[tuple[str, int]] = field(default_factory=list)
    following: set[int] = field(default_factory=set)


def user_signals(user_id: int, *, days: int = 90, per_kind: int = 200) -> UserSignals:
    since = utcnow() - timedelta(days=days)
    interests = db.session.execute(
        select(UserInterest.kind, UserInterest.ref).where(UserInterest.user_id == user_id)
    ).all()
    return UserSignals(
        events=engagement_events(since=since, user_id=user_id, limit_per_kind=per_kind),
        seed_channels=[ref for kind, ref in interests if kind == "channel"],
        seed_topics=[int(ref) for kind, ref in interests if kind == "topic"],
        not_interested=[
            (kind, ref)
            for kind, ref in db.session.execute(
                select(NegativeFeedback.kind, NegativeFeedback.ref).where(
                    NegativeFeedback.user_id == user_id
                )
            )
        ],
        following=set(
            db.session.scalars(
                select(UserFollow.followee_id).where(UserFollow.follower_id == user_id)
            )
        ),
    )


class ModelCache:
    """A built model loaded once per process and reloaded when a newer build is stored."""

    def __init__(self, name: str, loader, check_every_seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
        self.name, self.loader, self.check_every = name, loader, check_every_seconds
        self._lock = threading.Lock()
        self._model = None
        self._built_at: datetime | None = None
        self._checked = 0.0

    def get(self):  # type: ignore[no-untyped-def]
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self._model
        with self._lock:
            if now - self._checked < self.check_every:
                return self._model
            self._checked = now
            built_at = db.session.scalar(
                select(RankingModel.built_at).where(RankingModel.name == self.name)
            )
            if built_at is not None and built_at != self._built_at:
                blob = db.session.scalar(
                    select(RankingModel.blob).where(RankingModel.name == self.name)
                )
                self._model, self._built_at = self.loader(blob), built_at
            return self._model

    def invalidate(self) -> None:
        self._checked = 0.0
