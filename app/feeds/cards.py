"""Note cards for lists by id — the feeds' serving path.

A card is read from the card store (`app.feeds.card_store`): pre-serialised bytes, one
multi-get for a page, rendered from the database (Core queries, no ORM objects) only when
missing or changed. The viewer's own flags (liked, collected) are one query for the page.
Answers are assembled from bytes (`card_bytes`, `json_list`); `note_cards` decodes them
for callers that need dicts. The cards are exactly `presenters.note_view`'s without its
`source` (a test holds the two to it).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import orjson
from flask import current_app
from sqlalchemy import BigInteger, bindparam, func, literal, select, union_all

from app.accounts.models import User
from app.core.extensions import db
from app.core.presenters import (
    image_view,
    media_urls,
    note_content,
    user_card,
    verification_badges,
)
from app.core.sql import id_in, id_in_param
from app.core.viewer import note_sources
from app.core.visibility import can_view_note_state, is_banned_status
from app.feeds import card_store, flags
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
from ranking.store import Attach, Attached


#: Turns note ids into what a feed serves (cards as bytes, `card_bytes`), leaving out notes no
#: longer visible; the ranked feeds are given one and never read rows for cards.
class Present(Protocol):
    """Makes the cards of these notes (by id; the invisible ones left out), given what was
    read ahead for them, if anything."""

    def __call__(
        self, note_ids: list[int], ahead: Prefetched | None = None
    ) -> Mapping[int, Any]: ...


@dataclass
class Prefetched:
    """Card entries and the viewer's flag-set answers read ahead (a discover page reads them
    with its take from the buffer, in the same round trip): `card_bytes` uses them for the
    ids they cover instead of asking the store."""

    entries: dict[int, bytes | None]  # as the store holds them (None: absent)
    flags: dict[int, tuple[bool, bool]] | None  # None: the viewer's set was not whole


def attach_for(viewer_id: int | None, page_size: int) -> Attach:
    """What a discover page's take reads alongside: the page's cards, and the viewer's
    flags on them (a tombstone or a stale mark is no card: a page with one is served as
    usual, `card_bytes` reading it from the database)."""
    return Attach(
        card_store.KEY_PREFIX,
        *flags.attach_spec(viewer_id),
        limit=page_size,
        absent=(card_store.TOMBSTONE.decode(), card_store.STALE.decode()),
    )


def prefetched(attached: Attached | None) -> Prefetched | None:
    if attached is None:
        return None
    whole = attached.markers[:1] == (True,)
    return Prefetched(
        entries=attached.values,
        flags={n: (hit[0], hit[1]) for n, hit in attached.members.items()} if whole else None,
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


def card_bytes(
    note_ids: Sequence[int],
    viewer_id: int | None,
    *,
    feed: bool = True,
    extra: Mapping[int, bytes] | None = None,
    viewer: Callable[[], User | None] = lambda: None,
    ahead: Prefetched | None = None,
) -> dict[int, bytes]:
    """The cards of the visible notes among `note_ids` as JSON objects (bytes, host-relative
    URLs: `json_list` makes them absolute), by id; callers keep their own order. `extra`
    holds fields to add to a card (`,"source":"hot"` — with the leading comma).

    `feed=True` (feeds): published notes by authors in good standing only. `feed=False`
    (a client refreshing cards it holds): whatever the viewer may open, drafts of their own
    included (read from the database: the store holds only what everyone sees; `viewer`
    loads the signed-in user for that, and only then). `ahead`: what was read already.
    """
    ids = list(dict.fromkeys(note_ids))
    if not ids:
        return {}
    covered = ahead is not None and all(i in ahead.entries for i in ids)
    raws = [ahead.entries[i] for i in ids] if ahead is not None and covered else None
    found = card_store.entries(ids, render_entries, raws=raws)
    own: dict[int, bytes] = {}
    if not feed and viewer_id is not None and len(found) < len(ids):
        user = viewer()
        if user is not None:
            own = _private_cards([i for i in ids if i not in found], user)
    if covered and ahead is not None and ahead.flags is not None and viewer_id is not None:
        liked = {i for i in ids if ahead.flags[i][0]}
        collected = {i for i in ids if ahead.flags[i][1]}
    else:
        liked, collected = viewer_flags(viewer_id, ids)
    extra = extra or {}
    out: dict[int, bytes] = {}
    for note_id, entry in found.items():
        head = entry.split(b"\n", 2)[1]
        out[note_id] = b"%b,%b%b}" % (
            head,
            _FLAGS[note_id in liked, note_id in collected],
            extra.get(note_id, b""),
        )
    for note_id, body in own.items():
        out[note_id] = b"%b,%b%b}" % (
            body[:-1],
            _FLAGS[note_id in liked, note_id in collected],
            extra.get(note_id, b""),
        )
    return out


_FLAGS = {
    (liked, collected): b'"liked":%b,"collected":%b'
    % (b"true" if liked else b"false", b"true" if collected else b"false")
    for liked in (False, True)
    for collected in (False, True)
}


def json_list(cards: Iterable[bytes]) -> bytes:
    """`[card, ...]` with this request's host in front of the media URLs."""
    return card_store.absolute(b"[%b]" % b",".join(cards), card_store.host_bytes())


def note_cards(
    note_ids: Sequence[int],
    viewer: User | None,
    *,
    feed: bool = True,
) -> dict[int, dict[str, Any]]:
    """`card_bytes` decoded, for callers that change cards or read them."""
    found = card_bytes(
        note_ids, viewer.id if viewer is not None else None, feed=feed, viewer=lambda: viewer
    )
    if not found:
        return {}
    ids = list(found)
    decoded = orjson.loads(json_list(found[i] for i in ids))
    return dict(zip(ids, decoded, strict=True))


def cards_in_order(note_ids: Sequence[int], viewer: User | None) -> list[dict[str, Any]]:
    """The cards of a list the services chose (a user's notes, an album, a topic), in their
    order, leaving out what the viewer may no longer open."""
    cards = note_cards(note_ids, viewer, feed=False)
    return [cards[i] for i in note_ids if i in cards]


def cards_json(
    note_ids: Sequence[int], viewer_id: int | None, viewer: Callable[[], User | None]
) -> bytes:
    """`cards_in_order` as the JSON array an answer sends, never decoded."""
    found = card_bytes(note_ids, viewer_id, feed=False, viewer=viewer)
    return json_list(found[i] for i in note_ids if i in found)


def note_detail_json(note_id: int, viewer_id: int | None) -> tuple[int, bytes] | None:
    """(author id, `GET /notes/{id}`'s answer) for a note everyone sees, from its stored card
    and import source; None for any other note (the caller reads it from the database)."""
    entry = card_store.entries([note_id], render_entries).get(note_id)
    if entry is None:
        return None
    author_id, head, source = card_store.split(entry)
    liked, collected = viewer_flags(viewer_id, [note_id])
    flags = _FLAGS[note_id in liked, note_id in collected]
    body = b'%b,%b,"source":%b}' % (head, flags, source)
    return author_id, card_store.absolute(body, card_store.host_bytes())


def viewer_flags(viewer_id: int | None, note_ids: Sequence[int]) -> tuple[set[int], set[int]]:
    """Which of these notes the viewer liked and collected: their flag set in services mode
    (`app.feeds.flags`), else one query for both."""
    if viewer_id is None or not note_ids:
        return set(), set()
    return flags.lookup(viewer_id, note_ids, lambda: _flags_from_database(viewer_id, note_ids))


def _flags_from_database(viewer_id: int, note_ids: Sequence[int]) -> tuple[set[int], set[int]]:
    liked: set[int] = set()
    collected: set[int] = set()
    rows = db.session.connection().execute(
        _flags_statement(db.engine.dialect.name),
        {"viewer_id": viewer_id, "note_ids": list(note_ids)},
    )
    for note_id, kind in rows:
        (collected if kind else liked).add(note_id)
    return liked, collected


@functools.cache
def _flags_statement(dialect: str) -> Any:
    viewer = bindparam("viewer_id", type_=BigInteger)
    return union_all(
        select(NoteLike.note_id, literal(0)).where(
            NoteLike.user_id == viewer, id_in_param(NoteLike.note_id, "note_ids", dialect)
        ),
        select(Collect.note_id, literal(1)).where(
            Collect.user_id == viewer, id_in_param(Collect.note_id, "note_ids", dialect)
        ),
    )


def catalogue_note_ids() -> list[int]:
    """The notes the ranked feeds choose from (`caches.build_catalogue`'s query: the hottest
    and the newest), as ids."""
    settings = current_app.config["SPROUT"]
    public = (Note.status == "published", Note.deleted_at.is_(None))
    hottest = db.session.scalars(
        select(Note.id)
        .where(*public)
        .order_by(Note.hot_score.desc(), Note.id.desc())
        .limit(settings.ranking_catalogue_hot)
    )
    newest = db.session.scalars(
        select(Note.id)
        .where(*public, Note.published_at.is_not(None))
        .order_by(Note.published_at.desc(), Note.id.desc())
        .limit(settings.ranking_catalogue_new)
    )
    return list(dict.fromkeys([*hottest, *newest]))


def _published() -> tuple[Any, ...]:
    return (Note.status == "published", Note.deleted_at.is_(None), Note.published_at.is_not(None))


def published_note_count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Note).where(*_published())) or 0)


def sweep_note_ids(slices: int, remainder: int) -> list[int]:
    """The published notes of one slice of the card sweep (`card_store.sweep_slice`)."""
    return list(
        db.session.scalars(
            select(Note.id).where(*_published(), Note.id % slices == remainder).order_by(Note.id)
        )
    )


def published_note_batches(batch: int = 500) -> Iterator[list[int]]:
    """Every published note's id, in batches by id (keyset: each batch one indexed read)."""
    after = 0
    while True:
        ids = list(
            db.session.scalars(
                select(Note.id).where(*_published(), Note.id > after).order_by(Note.id).limit(batch)
            )
        )
        if not ids:
            return
        yield ids
        after = ids[-1]


def warm_every_card(progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Store every published note's card the store lacks (`flask cards-warm`)."""
    return card_store.warm_all(
        published_note_batches(), render_entries, published_note_count(), progress
    )


def render_entries(note_ids: Sequence[int]) -> dict[int, tuple[bytes, int]]:
    """Card store entries read from the database, with their lifetimes (see `card_store`)."""
    ids = list(dict.fromkeys(note_ids))
    cards = _cards(ids, None, feed=True)
    sources = note_sources(list(cards)) if cards else {}
    ttl = int(feeds_state().config.card_ttl_seconds)
    host = card_store.host_bytes()
    out: dict[int, tuple[bytes, int]] = {}
    for note_id in ids:
        card = cards.get(note_id)
        if card is None:
            out[note_id] = (card_store.TOMBSTONE, card_store.TOMBSTONE_SECONDS)
            continue
        body = orjson.dumps(card)[:-1]
        source = orjson.dumps(sources.get(note_id))
        if host:  # rendered in a request: the URLs are stored host-relative
            prefix = b'"url":"' + host + b"/"
            body = body.replace(prefix, b'"url":"/')
            source = source.replace(prefix, b'"url":"/')
        entry = b"%d\n%b\n%b" % (card["author"]["id"], body, source)
        out[note_id] = (entry, ttl if _settled(card) else card_store.UNSETTLED_SECONDS)
    return out


def _private_cards(note_ids: list[int], viewer: User) -> dict[int, bytes]:
    """Cards only this viewer may open (their drafts; staff's reach), from the database."""
    return {
        note_id: orjson.dumps(card)
        for note_id, card in _cards(note_ids, viewer, feed=False).items()
    }


def _cards(note_ids: list[int], viewer: User | None, *, feed: bool) -> dict[int, dict[str, Any]]:
    """Cards without the viewer's flags, read from the database in four Core queries."""
    rows = _rows().execute(_state_statement(db.engine.dialect.name), {"note_ids": note_ids}).all()
    visible = [row for row in rows if _visible(row, viewer, feed)]
    if not visible:
        return {}
    content = _load_content([row.id for row in visible])
    avatars = _avatar_views([row.avatar_image_id for row in visible if row.avatar_image_id])
    badges = verification_badges([row.author_id for row in visible if row.verified])
    cards: dict[int, dict[str, Any]] = {}
    for row in visible:
        found = content.get(row.id)
        if found is None:  # vanished between the two queries
            continue
        cards[row.id] = {
            **found[1],
            "status": row.status,
            "author": user_card(
                _Author(row), avatars.get(row.avatar_image_id or 0), badges.get(row.author_id)
            ),
            "like_count": row.like_count,
            "collect_count": row.collect_count,
            "comment_count": row.comment_count,
            "share_count": row.share_count,
        }
    return cards


def _rows() -> Any:
    """The session's connection: card rows read through it skip the ORM's result handling
    (a third of a row's cost: 5 µs against 12 for a picture's row). The cards show what is
    committed, so the session's pending changes need no flush first."""
    return db.session.connection()


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


_IMAGE_COLUMNS = (
    Image.id,
    Image.status,
    Image.width,
    Image.height,
    Image.dominant_color,
    Image.variants,
    Image.storage_key,
    Image.edits,  # the picture's tags (图片标签), shown on cards as on the note itself
)


def _load_content(note_ids: list[int]) -> dict[int, tuple[tuple[datetime, int | None], Any]]:
    """The content part of these notes' cards in three Core queries (the notes with their
    channel; their pictures; their tags and topics), and a fourth for the cover images of
    notes without pictures when there are any: no ORM objects to build."""
    rows = _rows()
    notes = rows.execute(
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
    images: dict[int, list[Any]] = defaultdict(list)
    for row in rows.execute(
        select(NoteImage.note_id, NoteImage.position, *_IMAGE_COLUMNS)
        .join(Image, Image.id == NoteImage.image_id)
        .where(id_in(NoteImage.note_id, note_ids))
    ):
        images[row[0]].append(row)
    # A card's cover is its first picture; the cover image is read only for a note with none.
    bare = [row.id for row in notes if row.id not in images and row.cover_image_id is not None]
    cover: dict[int, Any] = {}
    if bare:
        for row in rows.execute(
            select(Note.id.label("note_id"), *_IMAGE_COLUMNS)
            .join(Image, Image.id == Note.cover_image_id)
            .where(id_in(Note.id, bare))
        ):
            cover[row[0]] = row
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
    for note_id, kind, label_id, name in rows.execute(union_all(tags, topics)):
        labels[note_id][kind].append(_Topic(label_id, name))
    out = {}
    urls = media_urls()
    for row in notes:
        tag_rows, topic_rows = labels[row.id]
        view = note_content(
            row,
            channel=_Channel(row.code, row.name) if row.code is not None else None,
            tags=[tag.name for tag in sorted(tag_rows)],  # by id, as `Note.tags` orders them
            topics=sorted(topic_rows),
            images=sorted(images[row.id], key=lambda image: image[1]),
            cover_image=cover.get(row.id),
            urls=urls,
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


def _avatar_views(image_ids: list[int]) -> dict[int, dict[str, Any] | None]:
    wanted = list(dict.fromkeys(image_ids))
    if not wanted:
        return {}
    urls = media_urls()
    return {
        image.id: image_view(image, urls)
        for image in _rows().execute(select(*_IMAGE_COLUMNS).where(id_in(Image.id, wanted)))
    }


@functools.cache
def _state_statement(dialect: str) -> Any:
    """Status, counters and author of the notes `:note_ids`; built once per process
    (building it cost more than running it)."""
    return (
        select(*_STATE_COLUMNS)
        .join(User, User.id == Note.author_id)
        .where(id_in_param(Note.id, "note_ids", dialect))
    )
