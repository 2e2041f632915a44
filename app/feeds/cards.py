"""Note cards for lists by id — the feeds' serving path.

A feed page names 20 notes. Loading them as ORM objects with their images, tags, topics,
channel and author, then presenting them, cost more than ranking them. What a card shows
splits in two:

- the note's content (title, body, images, tags, topics, channel) changes only when the note
  is edited, so its presented form is kept per process, keyed by the note's `updated_at` and
  cover (a generated cover arrives without an edit) and dropped after `content_ttl_seconds`
  (a renamed topic or channel shows within that time);
- status, counters, the author and the viewer's liked/collected flags are read fresh on every
  request, in one query for the notes and authors and one for the flags.

The cards are exactly `presenters.note_view`'s (a test holds the two to it).
"""

from __future__ import annotations

import contextlib
import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import redis
from flask import has_request_context, request
from sqlalchemy import BigInteger, bindparam, exists, false, literal, select, union_all

from app.accounts.models import User
from app.core.extensions import db, get_redis
from app.core.presenters import image_view, note_content, user_card, verification_badges
from app.core.sql import id_in, id_in_param
from app.core.visibility import can_view_note_state, is_banned_status
from app.feeds.state import feeds_state
from app.media.models import Image
from app.notes.models import (
    Channel,
    Collect,
    Note,
    NoteImage,
    NoteLike,
    NoteTag,
    NoteTopic,
    Tag,
    Topic,
)

#: Turns note ids into what a feed serves (cards), leaving out notes no longer visible; the
#: ranked feeds are given one (`note_cards` for the viewer) and never read rows for cards.
Present = Callable[[list[int]], Mapping[int, Any]]

#: The parts of `note_view` that are read fresh on every request.
FRESH_KEYS = frozenset(
    {
        "status",
        "author",
        "like_count",
        "collect_count",
        "comment_count",
        "share_count",
        "liked",
        "collected",
    }
)

_STATE_COLUMNS = (
    Note.id,
    Note.author_id,
    Note.status,
    Note.deleted_at,
    Note.updated_at,
    Note.cover_image_id,
    Note.like_count,
    Note.collect_count,
    Note.comment_count,
    Note.share_count,
    User.username,
    User.nickname,
    User.avatar_image_id,
    User.level,
    User.badges,
    User.official,
    User.verified,
    User.status.label("author_status"),
)


def _host() -> str:
    return request.host_url if has_request_context() else ""


def note_cards(
    note_ids: Sequence[int],
    viewer: User | None,
    *,
    feed: bool = True,
) -> dict[int, dict[str, Any]]:
    """Cards of the visible notes among `note_ids`, by id (callers keep their own order).

    `feed=True` (feeds): published notes by authors in good standing only. `feed=False`
    (a client refreshing cards it holds): whatever the viewer may open, drafts of their own
    included.
    """
    ids = list(dict.fromkeys(note_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        _state_statement(db.engine.dialect.name, viewer is not None),
        {"note_ids": ids, "viewer_id": viewer.id if viewer else None},
    ).all()
    visible = [row for row in rows if _visible(row, viewer, feed)]
    if not visible:
        return {}
    host = _host()
    content = _content_views(visible, host)
    avatars = _avatar_views([row.avatar_image_id for row in visible if row.avatar_image_id], host)
    badges = verification_badges([row.author_id for row in visible if row.verified])
    cards: dict[int, dict[str, Any]] = {}
    for row in visible:
        view = content.get(row.id)
        if view is None:  # vanished between the two queries
            continue
        cards[row.id] = {
            **view,
            "status": row.status,
            "author": user_card(
                _Author(row), avatars.get(row.avatar_image_id or 0), badges.get(row.author_id)
            ),
            "like_count": row.like_count,
            "collect_count": row.collect_count,
            "comment_count": row.comment_count,
            "share_count": row.share_count,
            "liked": bool(row.liked),
            "collected": bool(row.collected),
        }
    return cards


def cards_in_order(note_ids: Sequence[int], viewer: User | None) -> list[dict[str, Any]]:
    """The cards of a list the services chose (a user's notes, an album, a topic), in their
    order, leaving out what the viewer may no longer open."""
    cards = note_cards(note_ids, viewer, feed=False)
    return [cards[i] for i in note_ids if i in cards]


class _Author:
    """The author's columns of a state row, under the names `user_card` reads."""

    __slots__ = ("badges", "id", "level", "nickname", "official", "username", "verified")

    def __init__(self, row: Any) -> None:
        self.id = row.author_id
        self.username, self.nickname, self.level = row.username, row.nickname, row.level
        self.badges, self.official, self.verified = row.badges, row.official, row.verified


def _visible(row: Any, viewer: User | None, feed: bool) -> bool:
    """Feeds show what everyone sees alike (no viewer); other lists what this viewer may open."""
    return can_view_note_state(
        None if feed else viewer,
        author_id=row.author_id,
        status=row.status,
        deleted_at=row.deleted_at,
        author_banned=is_banned_status(row.author_status),
    )


def _version(row: Any) -> tuple[datetime, int | None]:
    return row.updated_at, row.cover_image_id


def _content_views(rows: Sequence[Any], host: str) -> dict[int, dict[str, Any]]:
    """The content part of each card: this process's cache, then the shared one (Redis, when
    configured: every web process and the worker fill it), then the database.

    The process cache holds encoded JSON, not dicts: tens of thousands of nested dicts would
    be scanned by every full garbage collection (pauses of 100 ms were measured); bytes are
    not, and decoding a card costs microseconds."""
    cached = feeds_state().card_content.get_many([(host, row.id) for row in rows])
    out: dict[int, dict[str, Any]] = {}
    missing: list[Any] = []
    for row in rows:
        hit = cached.get((host, row.id))
        if hit is not None and hit[0] == _version(row):
            out[row.id] = orjson.loads(hit[1])
        else:
            missing.append(row)
    if not missing:
        return out
    for note_id, (version, view) in _shared_content(missing, host).items():
        out[note_id] = view
        feeds_state().card_content.put((host, note_id), (version, orjson.dumps(view)))
    still = [row.id for row in missing if row.id not in out]
    loaded = _load_content(still) if still else {}
    shared = {}
    for note_id, (version, view) in loaded.items():
        out[note_id] = view
        if _settled(view):
            feeds_state().card_content.put((host, note_id), (version, orjson.dumps(view)))
            shared[note_id] = (version, _rehost(view, host.rstrip("/"), ""))
    _share_content(shared)
    return out


def warm_content(note_ids: Sequence[int]) -> int:
    """Put these notes' card content in the shared cache (a worker ranking a viewer's next
    pages does this, so the web processes find the cards ready). Returns how many it loaded."""
    if get_redis() is None or not note_ids:
        return 0
    rows = db.session.execute(
        select(Note.id, Note.updated_at, Note.cover_image_id).where(id_in(Note.id, list(note_ids)))
    ).all()
    have = _shared_content(rows, "")
    still = [row.id for row in rows if row.id not in have]
    loaded = _load_content(still) if still else {}
    _share_content({n: (v, view) for n, (v, view) in loaded.items() if _settled(view)})
    return len(loaded)


def _shared_key(note_id: int) -> str:
    return f"sprout:card:{note_id}"


def _shared_content(rows: Sequence[Any], host: str) -> dict[int, tuple[Any, dict[str, Any]]]:
    """Hits in the shared cache whose version still matches, with this host's URLs."""
    connection = get_redis()
    if connection is None or not rows:
        return {}
    try:
        raws = connection.mget([_shared_key(row.id) for row in rows])
    except redis.RedisError:  # Redis down: every card is a miss, read from the database
        return {}
    found = {}
    for row, raw in zip(rows, raws, strict=True):
        if raw is None:
            continue
        stamp, cover_id, view = orjson.loads(raw)
        if stamp == row.updated_at.isoformat() and cover_id == row.cover_image_id:
            found[row.id] = (_version(row), _rehost(view, "", host.rstrip("/")))
    return found


def _share_content(views: dict[int, tuple[Any, dict[str, Any]]]) -> None:
    connection = get_redis()
    if connection is None or not views:
        return
    ttl = int(feeds_state().config.content_ttl_seconds)
    pipe = connection.pipeline(transaction=False)
    for note_id, ((updated_at, cover_id), view) in views.items():
        body = orjson.dumps([updated_at.isoformat(), cover_id, view])
        pipe.set(_shared_key(note_id), body, ex=ttl)
    with contextlib.suppress(redis.RedisError):  # a cache: skipped while Redis is down
        pipe.execute()


def _rehost(view: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The view with its media URLs moved from host prefix `old` to `new` ("" = relative)."""
    if old == new:
        return view

    def move(url: str) -> str:
        if old and url.startswith(old + "/"):
            url = url[len(old) :]
        return new + url if new and url.startswith("/") else url

    def image(data: dict[str, Any] | None) -> dict[str, Any] | None:
        if data is None:
            return None
        variants = {
            name: {**v, "url": move(v["url"])} for name, v in data.get("variants", {}).items()
        }
        return {**data, "url": move(data["url"]), "variants": variants}

    return {**view, "images": [image(i) for i in view["images"]], "cover": image(view["cover"])}


_IMAGE_COLUMNS = (
    Image.id,
    Image.status,
    Image.width,
    Image.height,
    Image.dominant_color,
    Image.variants,
    Image.storage_key,
)


def _load_content(note_ids: list[int]) -> dict[int, tuple[tuple[datetime, int | None], Any]]:
    """The content part of these notes' cards in three Core queries (the notes with their
    channel; their pictures and covers; their tags and topics): no ORM objects to build."""
    notes = db.session.execute(
        select(
            Note.id,
            Note.title,
            Note.body,
            Note.cover_image_id,
            Note.created_at,
            Note.updated_at,
            Note.published_at,
            Channel.code,
            Channel.name,
        )
        .outerjoin(Channel, Channel.code == Note.channel_code)
        .where(id_in(Note.id, note_ids))
    ).all()
    pictures = (
        select(NoteImage.note_id, NoteImage.position, *_IMAGE_COLUMNS)
        .join(Image, Image.id == NoteImage.image_id)
        .where(id_in(NoteImage.note_id, note_ids))
    )
    covers = (
        select(Note.id, literal(-1), *_IMAGE_COLUMNS)
        .join(Image, Image.id == Note.cover_image_id)
        .where(id_in(Note.id, note_ids))
    )
    images: dict[int, list[Any]] = defaultdict(list)
    cover: dict[int, Any] = {}
    for row in db.session.execute(union_all(pictures, covers)):
        if row[1] < 0:
            cover[row[0]] = row
        else:
            images[row[0]].append(row)
    tags = (
        select(NoteTag.note_id, literal(0), Tag.id, Tag.name)
        .join(Tag, Tag.id == NoteTag.tag_id)
        .where(id_in(NoteTag.note_id, note_ids))
    )
    topics = (
        select(NoteTopic.note_id, literal(1), Topic.id, Topic.name)
        .join(Topic, Topic.id == NoteTopic.topic_id)
        .where(id_in(NoteTopic.note_id, note_ids))
    )
    labels: dict[int, tuple[list[_Topic], list[_Topic]]] = defaultdict(lambda: ([], []))
    for note_id, kind, label_id, name in db.session.execute(union_all(tags, topics)):
        labels[note_id][kind].append(_Topic(label_id, name))
    out = {}
    for row in notes:
        tag_rows, topic_rows = labels[row.id]
        view = note_content(
            row,
            channel=_Channel(row.code, row.name) if row.code is not None else None,
            tags=[tag.name for tag in sorted(tag_rows)],  # by id, as `Note.tags` orders them
            topics=sorted(topic_rows),
            images=sorted(images[row.id], key=lambda image: image[1]),
            cover_image=cover.get(row.id),
        )
        out[row.id] = ((row.updated_at, row.cover_image_id), view)
    return out


class _Channel(NamedTuple):
    code: str
    name: str


class _Topic(NamedTuple):
    id: int
    name: str


def _settled(view: dict[str, Any]) -> bool:
    """Images still being processed gain variants without an edit: not cached until ready."""
    return all(image["status"] == "ready" for image in view["images"]) and (
        view["cover"] is not None
    )


def _avatar_views(image_ids: list[int], host: str) -> dict[int, dict[str, Any] | None]:
    wanted = list(dict.fromkeys(image_ids))
    found = {
        key[1]: view
        for key, view in feeds_state().avatars.get_many([(host, i) for i in wanted]).items()
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        for image in db.session.scalars(select(Image).where(id_in(Image.id, missing))):
            view = image_view(image)
            found[image.id] = view
            if image.status == "ready":
                feeds_state().avatars.put((host, image.id), view)
    return found


@functools.cache
def _state_statement(dialect: str, signed_in: bool) -> Any:
    """Status, counters and author of the notes `:note_ids`, with the flags of `:viewer_id`;
    built once per process (building it cost more than running it)."""
    return (
        select(*_STATE_COLUMNS, *_viewer_flag_columns(signed_in))
        .join(User, User.id == Note.author_id)
        .where(id_in_param(Note.id, "note_ids", dialect))
    )


def _viewer_flag_columns(signed_in: bool) -> tuple[Any, Any]:
    """Whether the viewer liked and collected each note, as columns of the state query (one
    round trip for both); constant false for anonymous viewers."""
    if not signed_in:
        return false().label("liked"), false().label("collected")
    viewer = bindparam("viewer_id", type_=BigInteger)
    liked = exists().where(NoteLike.user_id == viewer, NoteLike.note_id == Note.id)
    collected = exists().where(Collect.user_id == viewer, Collect.note_id == Note.id)
    return liked.label("liked"), collected.label("collected")
