"""Rows → the plain data `ranking/` works on: note features, user events, built models.

The ranking library never sees the ORM; this module is the one translation layer.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)

from app.accounts.models import UserInterest
from app.core.extensions import db
from app.core.models import UTCDateTime, utcnow
from app.core.sql import id_in, id_in_param
from app.core.visibility import note_visible_clause
from app.feeds.models import OPENS, NegativeFeedback, NoteEvent, RankingModel
from app.notes.models import Collect, Comment, Note, NoteLike, NoteTag, NoteTopic, Share, Tag
from app.social.models import UserFollow
from ranking.config import CES_WEIGHTS
from ranking.types import Event, NoteFeatures


def _feature_columns(dialect: str) -> tuple[Any, ...]:
    """What `note_features` reads of a note, in the order it unpacks them. PostgreSQL gives
    the time as epoch seconds (no datetime made per row); SQLite's stored text is parsed."""
    published = (
        cast(func.extract("epoch", Note.published_at), Float)
        if dialect == "postgresql"
        else Note.published_at
    )
    return (
        Note.id,
        Note.author_id,
        Note.channel_code,
        published,
        Note.like_count,
        Note.collect_count,
        Note.comment_count,
        Note.share_count,
        Note.follow_gain_count,
        Note.impression_count,
    )


def _ts(moment: datetime | float | None) -> float:
    if moment is None:
        return 0.0
    return moment if isinstance(moment, float) else moment.timestamp()


def visible_notes_filter():  # type: ignore[no-untyped-def]
    """What any feed may show: published, not deleted, by an account in good standing."""
    return (note_visible_clause(None),)


@functools.cache
def _feature_statements(dialect: str) -> tuple[Any, Any, Any]:
    """The notes by id (`:ids`), their topics and their tags, built once per process. A
    ranking ahead loads the features of a hundred or more notes outside the catalogue (CF
    neighbours, the fallback order): building the three statements and converting the
    rows was more than half of the 5 ms of worker CPU each hundred cost. (Topics and tags as
    correlated array subqueries made one query of three, but cost PostgreSQL twice the CPU
    of the two lookups.)"""
    by_id = select(*_feature_columns(dialect)).where(
        *visible_notes_filter(), id_in_param(Note.id, "ids", dialect)
    )
    topics = (
        select(NoteTopic.note_id, NoteTopic.topic_id)
        .where(id_in_param(NoteTopic.note_id, "ids", dialect))
        .order_by(NoteTopic.note_id, NoteTopic.topic_id)
    )
    tags = (
        select(NoteTag.note_id, Tag.name)
        .join(Tag, Tag.id == NoteTag.tag_id)
        .where(id_in_param(NoteTag.note_id, "ids", dialect))
        .order_by(NoteTag.note_id, NoteTag.tag_id)
    )
    return by_id, topics, tags


def note_features(
    note_ids: Iterable[int] | None = None,
    *,
    where=(),
    order_by=(),
    limit: int | None = None,
    labels: bool = True,
) -> dict[int, NoteFeatures]:  # type: ignore[no-untyped-def]
    """Features for the notes asked for (by id, or by filter/order/limit) in three queries;
    `labels=False` skips topics and tags (one query) when only counts and times matter.
    Topics and tags come in id order (a note's first topic is its primary one)."""
    dialect = db.engine.dialect.name
    by_id, topic_rows, tag_rows = _feature_statements(dialect)
    connection = db.session.connection()
    ids = None if note_ids is None else list(note_ids)
    if ids == []:
        return {}
    if ids is not None and not where and not order_by and limit is None:
        rows = connection.execute(by_id, {"ids": ids}).all()
    else:
        stmt = select(*_feature_columns(dialect)).where(*visible_notes_filter(), *where)
        if ids is not None:
            stmt = stmt.where(id_in(Note.id, ids))
        if order_by:
            stmt = stmt.order_by(*order_by)
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = connection.execute(stmt).all()
    found = [row[0] for row in rows]
    topics: dict[int, list[int]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(found) if labels else 0, 5000):
        chunk = found[start : start + 5000]
        for note_id, topic_id in connection.execute(topic_rows, {"ids": chunk}):
            topics[note_id].append(topic_id)
        for note_id, name in connection.execute(tag_rows, {"ids": chunk}):
            tags[note_id].append(name)
    return {
        note_id: NoteFeatures(
            note_id=note_id,
            author_id=author_id,
            channel=channel,
            topics=tuple(topics.get(note_id, ())),
            tags=tuple(tags.get(note_id, ())),
            published_at=_ts(published),
            likes=likes,
            collects=collects,
            comments=comments,
            shares=shares,
            follows_gained=follows,
            impressions=impressions,
        )
        for (
            note_id,
            author_id,
            channel,
            published,
            likes,
            collects,
            comments,
            shares,
            follows,
            impressions,
        ) in rows
    }


def fallback_notes(
    n: int, exclude: frozenset[int], channel: str | None = None
) -> list[NoteFeatures]:
    """Up to `n` visible notes (of `channel`) outside `exclude`: the most engaged over their
    lifetime first (the hot list's engagement weights, without its decay), newest after that.

    Read only when a viewer's ranked candidates have run out. The ids outside `exclude` are
    picked in Python from the first `n + |exclude|` in order, which needs no parameter per
    excluded id (SQLite caps them) and reads one narrow column.
    """
    if n <= 0:
        return []
    ids = [i for i in fallback_order(n + len(exclude), channel) if i not in exclude][:n]
    features = note_features(ids)
    return [features[i] for i in ids if i in features]


def fallback_order(limit: int, channel: str | None = None) -> list[int]:
    """The first `limit` ids in fallback order (`fallback_notes`): a sort of every visible
    note, so callers keep the result a while (`caches.FallbackOrder`)."""
    w = CES_WEIGHTS
    engagement = (
        Note.like_count * w["like"]
        + Note.collect_count * w["collect"]
        + Note.comment_count * w["comment"]
        + Note.share_count * w["share"]
        + Note.follow_gain_count * w["follow"]
    )
    where = [Note.channel_code == channel] if channel is not None else []
    stmt = (
        select(Note.id)
        .where(*visible_notes_filter(), *where)
        .order_by(engagement.desc(), Note.published_at.desc(), Note.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def _event_sources(include_opens: bool) -> list[Any]:
    """(kind, user column, note column, time column, extra condition) per engagement kind.
    Suspect likes, collects and follows (bought engagement, `moderation.engagement`) are
    left out here, so neither the hot lists nor any ranking signal or model reads them."""
    sources: list[Any] = [
        ("like", NoteLike.user_id, NoteLike.note_id, NoteLike.created_at, ~NoteLike.suspect),
        ("collect", Collect.user_id, Collect.note_id, Collect.created_at, ~Collect.suspect),
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
            UserFollow.source_note_id.is_not(None) & ~UserFollow.suspect,
        ),
    ]
    if include_opens:
        sources.append(
            (
                "open",
                NoteEvent.user_id,
                NoteEvent.note_id,
                NoteEvent.created_at,
                # inline, not a parameter: the planner then uses the index of opens
                # (`ix_note_events_opens`) for a prepared statement's generic plan too
                (NoteEvent.kind == OPENS) & NoteEvent.user_id.is_not(None),
            )
        )
    return sources


def engagement_events(*, since: datetime, include_opens: bool = True) -> list[Event]:
    """Everyone's likes, collects, comments, shares, follows gained and opens since a moment,
    as `Event`s (training, hot lists); one viewer's history is `user_signals`."""
    events: list[Event] = []
    for kind, user_col, note_col, time_col, extra in _event_sources(include_opens):
        stmt = select(user_col, note_col, time_col).where(time_col >= since)
        if extra is not None:
            stmt = stmt.where(extra)
        for user, note, moment in db.session.execute(stmt):
            events.append(Event(user_id=user, note_id=note, kind=kind, ts=moment.timestamp()))
    return events


@dataclass
class UserSignals:
    """Everything about one viewer that the pipeline needs (`user_signals`)."""

    events: list[Event] = field(default_factory=list)
    seed_channels: list[str] = field(default_factory=list)
    seed_topics: list[int] = field(default_factory=list)
    not_interested: list[tuple[str, int]] = field(default_factory=list)
    following: set[int] = field(default_factory=set)


@functools.cache
def _user_signals_statement(per_kind: int) -> Any:
    """Everything `user_signals` reads, as one UNION ALL of (what, number, text, at) rows with
    the user and the start of the window as parameters: a feed request makes one round trip
    for it, and the statement is built once per process (building it cost more than running
    it)."""
    uid, since = bindparam("uid", type_=BigInteger), bindparam("since", type_=UTCDateTime)
    events = [
        (kind, user_col, note_col, time_col, extra)
        for kind, user_col, note_col, time_col, extra in _event_sources(include_opens=True)
    ]
    parts = []
    for kind, user_col, note_col, time_col, extra in events:
        stmt = (
            select(
                literal(kind).label("what"),
                note_col.label("num"),
                null().cast(String).label("txt"),
                time_col.label("at"),
            )
            .where(user_col == uid, time_col >= since, *(() if extra is None else (extra,)))
            .order_by(time_col.desc())
            .limit(per_kind)
        )
        parts.append(select(*stmt.subquery().c))
    no_time = null().cast(UTCDateTime).label("at")
    parts.append(
        select(
            (literal("seed:") + UserInterest.kind).label("what"),
            null().cast(BigInteger).label("num"),
            UserInterest.ref.label("txt"),
            no_time,
        ).where(UserInterest.user_id == uid)
    )
    parts.append(
        select(
            (literal("not:") + NegativeFeedback.kind).label("what"),
            NegativeFeedback.ref.label("num"),
            null().cast(String).label("txt"),
            no_time,
        ).where(NegativeFeedback.user_id == uid)
    )
    parts.append(
        select(
            literal("following").label("what"),
            UserFollow.followee_id.label("num"),
            null().cast(String).label("txt"),
            no_time,
        ).where(UserFollow.follower_id == uid)
    )
    return union_all(*parts)


def user_signals(user_id: int, *, days: int, per_kind: int) -> UserSignals:
    """The viewer's last `days` of engagement (at most `per_kind` per kind), onboarding
    choices, "not interested" feedback and followees, in one query."""
    out = UserSignals()
    since = utcnow() - timedelta(days=days)
    rows = db.session.connection().execute(
        _user_signals_statement(per_kind), {"uid": user_id, "since": since}
    )
    for what, num, txt, at in rows:
        if at is not None:
            out.events.append(Event(user_id=user_id, note_id=num, kind=what, ts=at.timestamp()))
        elif what == "following":
            out.following.add(num)
        elif what == "seed:channel":
            out.seed_channels.append(txt)
        elif what == "seed:topic" and txt.isdigit():
            out.seed_topics.append(int(txt))
        elif what.startswith("not:"):
            out.not_interested.append((what[4:], num))
    return out


def model_built_at(name: str) -> datetime | None:
    """When the stored model `name` was built (None: never)."""
    return db.session.scalar(select(RankingModel.built_at).where(RankingModel.name == name))


def model_blob(name: str) -> bytes | None:
    return db.session.scalar(select(RankingModel.blob).where(RankingModel.name == name))


def store_model(name: str, blob: bytes, stats: dict[str, Any], built_at: datetime) -> None:
    """Replace the stored model `name` (every process loads it from here) and commit."""
    existing = db.session.get(RankingModel, name)
    if existing is None:
        db.session.add(RankingModel(name=name, blob=blob, stats=stats, built_at=built_at))
    else:
        existing.blob, existing.stats, existing.built_at = blob, stats, built_at
    db.session.commit()
