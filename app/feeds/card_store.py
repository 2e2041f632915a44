"""Note cards kept pre-serialised, shared by every process: a feed page is one multi-get.

Each visible note's card (content, status, author, counters; everything but the viewer's own
liked/collected flags) is stored as orjson bytes with host-relative media URLs, in Redis in
services mode and in the embedded store in `SPROUT_DATA_DIR` otherwise. An entry is

    b"<author id>\\n<the card's JSON without its closing brace>\\n<the import source's JSON>"

so a response is assembled by joining bytes: the viewer's flags and the feed's own fields
are appended before the brace, and `GET /notes/{id}` adds the source. A note not shown in
feeds (draft, held, hidden, deleted, banned author, no such note) is stored as `-`.

Freshness. A transaction that changes what a card shows says so (the ORM's changes to notes
and users are seen at flush; SQL `UPDATE`s call `app.core.sql.touched`); once it commits:
- a change of content or visibility marks the entry stale (`?`, for `STALE_SECONDS`): readers
  read that card from the database and may not store it, so a reader that loaded the old row
  just before the commit cannot put it back; the `refresh_cards` job stores the new one;
- a counter change only queues the note for `refresh_cards` (every few seconds): counts on
  cards lag by at most that interval plus the scheduler's tick, and a hot note is never read
  from the database by requests because it is being liked;
- an author's change (name, avatar, level, badges, verification, ban) or a picture's (its
  variants are ready) marks every card showing it stale, found on a connection of its own.
A change the store cannot take (Redis unreachable at the commit) is handed to a durable job
(`app.feeds.jobs.apply_card_changes`, through the outbox), applied once the store is back.
Entries expire after `card_ttl_seconds` (a day) regardless, a last bound on anything missed.
A store error turns every card into a database read, never a 500.

Every visible note has its card stored ahead of its first read, so a page never renders one:
the `warm_cards` job stores the ranking catalogue's and, each run, one slice of all published
notes (`sweep_slice`), going round every note well within the entries' lifetime; a new
note's card is stored by `refresh_cards`; `flask cards-warm` stores them all at once (after
an install or a flushed Redis).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import diskcache
import redis
from flask import current_app, has_app_context, has_request_context, request
from sqlalchemy import event, inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.core.config import Settings
from app.core.extensions import db, get_redis, shared_dir
from app.core.shared_state import open_disk_cache
from app.core.sql import id_in
from app.feeds import flags
from app.media.models import Image
from app.notes.models import Collect, Note, NoteImage, NoteLike

log = logging.getLogger(__name__)

TOMBSTONE = b"-"
STALE = b"?"
#: How long a changed card is read from the database before a reader may store it again
#: (the refresh job normally stores it sooner, in services mode).
STALE_SECONDS = 10
#: A new note: nothing was stored but perhaps a tombstone of its id, asked for too early.
NEW_STALE_SECONDS = 2
#: An entry of a note whose pictures are still being processed (they gain variants).
UNSETTLED_SECONDS = 10
#: Invisible notes are asked for rarely; remembered briefly.
TOMBSTONE_SECONDS = 60

#: What a card shows of a user: a change of any of these refreshes their cards.
AUTHOR_FIELDS = frozenset(
    {"username", "nickname", "avatar_image_id", "level", "badges", "official", "verified", "status"}
)
#: What a card shows of a note besides its counters.
NOTE_FIELDS = frozenset(
    {
        "title",
        "body",
        "status",
        "deleted_at",
        "published_at",
        "updated_at",
        "cover_image_id",
        "channel_code",
        "author_id",
    }
)

#: What a card shows of a picture (a note's, a cover, an avatar).
IMAGE_FIELDS = frozenset({"status", "variants", "width", "height", "dominant_color", "edits"})

_EXT = "sprout.card_store"
_DEFER = "sprout.card_store.defer"


class CardBackend(Protocol):
    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...
    def held(self, keys: Sequence[str]) -> list[bool]: ...
    def add_many(self, items: dict[str, tuple[bytes, int]]) -> None: ...
    def set_many(self, items: dict[str, tuple[bytes, int]]) -> None: ...
    def queue(self, name: str, members: Iterable[int]) -> None: ...
    def take(self, name: str, count: int) -> list[int]: ...


#: KEYS: entries. Whether each is held, without sending its value back.
_HELD = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('EXISTS', key) end
return out
"""


class RedisBackend:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._held = connection.register_script(_HELD)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self.connection.mget(keys)  # type: ignore[return-value]

    def held(self, keys: Sequence[str]) -> list[bool]:
        """Which entries exist (a multi-get of 500 cards moved 1.1 MB to learn as much)."""
        if not keys:
            return []
        return [bool(found) for found in self._held(keys=list(keys))]  # type: ignore[union-attr]

    def add_many(self, items: dict[str, tuple[bytes, int]]) -> None:
        pipe = self.connection.pipeline(transaction=False)
        for key, (value, ttl) in items.items():
            pipe.set(key, value, ex=ttl, nx=True)
        pipe.execute()

    def set_many(self, items: dict[str, tuple[bytes, int]]) -> None:
        pipe = self.connection.pipeline(transaction=False)
        for key, (value, ttl) in items.items():
            pipe.set(key, value, ex=ttl)
        pipe.execute()

    def queue(self, name: str, members: Iterable[int]) -> None:
        members = list(members)
        if members:
            self.connection.sadd(name, *members)

    def take(self, name: str, count: int) -> list[int]:
        return [int(m) for m in self.connection.spop(name, count) or []]  # type: ignore[union-attr]


class DiskBackend:
    """The embedded store: a diskcache in the data directory (SQLite, safe across processes)."""

    def __init__(self, cache: diskcache.Cache) -> None:
        self.cache = cache

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self.cache.get(key, retry=True) for key in keys]

    def held(self, keys: Sequence[str]) -> list[bool]:
        return [key in self.cache for key in keys]  # expired entries count as absent

    def add_many(self, items: dict[str, tuple[bytes, int]]) -> None:
        for key, (value, ttl) in items.items():
            self.cache.add(key, value, expire=ttl, retry=True)

    def set_many(self, items: dict[str, tuple[bytes, int]]) -> None:
        with self.cache.transact(retry=True):
            for key, (value, ttl) in items.items():
                self.cache.set(key, value, expire=ttl)

    def queue(self, name: str, members: Iterable[int]) -> None:
        members = set(members)
        if not members:
            return
        with self.cache.transact(retry=True):
            self.cache.set(name, self.cache.get(name, set()) | members)

    def take(self, name: str, count: int) -> list[int]:
        with self.cache.transact(retry=True):
            queued = sorted(self.cache.get(name, set()))
            taken, rest = queued[:count], set(queued[count:])
            self.cache.set(name, rest)
        return taken


KEY_PREFIX = "sprout:card:"


def _key(note_id: int) -> str:
    return f"{KEY_PREFIX}{note_id}"


DIRTY_NOTES = "sprout:cards:dirty"


def backend() -> CardBackend:
    """This app's card store: Redis when configured, else the embedded store."""
    store = current_app.extensions.get(_EXT)
    if store is None:
        connection = get_redis()
        settings: Settings = current_app.config["SPROUT"]
        store = (
            RedisBackend(connection)
            if connection is not None
            else DiskBackend(open_disk_cache(shared_dir(settings, "cards")))
        )
        current_app.extensions[_EXT] = store
    return store  # type: ignore[no-any-return]


def _ttl() -> int:
    from app.feeds.state import feeds_state

    return int(feeds_state().config.card_ttl_seconds)


# -- reading -------------------------------------------------------------------------------


#: Entries read from the database, with their lifetimes (`app.feeds.cards.render_entries`).
Render = Callable[[Sequence[int]], dict[int, tuple[bytes, int]]]


def entries(
    note_ids: Sequence[int], render: Render, raws: Sequence[bytes | None] | None = None
) -> dict[int, bytes]:
    """The stored entries of the visible notes among `note_ids` (invisible ones left out),
    by id: one multi-get (or `raws`, read already, in `note_ids`' order); what is missing or
    stale is rendered from the database (and stored, unless stale)."""
    ids = list(dict.fromkeys(note_ids))
    if not ids:
        return {}
    try:
        if raws is None or len(raws) != len(ids):
            raws = backend().get_many([_key(i) for i in ids])
    except (redis.RedisError, diskcache.Timeout):
        log.warning("card store unreachable: cards read from the database", exc_info=True)
        return {i: e for i, (e, _) in render(ids).items() if e != TOMBSTONE}
    out: dict[int, bytes] = {}
    missing: list[int] = []
    stale: set[int] = set()
    for note_id, raw in zip(ids, raws, strict=True):
        if raw is None or raw == STALE:
            missing.append(note_id)
            if raw == STALE:
                stale.add(note_id)
        elif raw != TOMBSTONE:
            out[note_id] = raw
    if missing:
        rendered = render(missing)
        fill = {}
        for note_id, (entry, ttl) in rendered.items():
            if entry != TOMBSTONE:
                out[note_id] = entry
            if note_id not in stale:
                fill[_key(note_id)] = (entry, ttl)
        with contextlib.suppress(redis.RedisError, diskcache.Timeout):
            backend().add_many(fill)  # only where absent: a change committed since wins
    return out


def split(entry: bytes) -> tuple[int, bytes, bytes]:
    """(author id, the card's JSON without its closing brace, the source's JSON)."""
    author, head, source = entry.split(b"\n", 2)
    return int(author), head, source


def host_bytes() -> bytes:
    """What a host-relative media URL gets in front of it in this request's answers."""
    return request.host_url.rstrip("/").encode() if has_request_context() else b""


def absolute(body: bytes, host: bytes) -> bytes:
    """The stored host-relative media URLs made absolute, in a whole answer at once."""
    return body.replace(b'"url":"/', b'"url":"' + host + b"/") if host else body


# -- freshness -----------------------------------------------------------------------------


def changed(
    note_ids: Iterable[int] = (),
    author_ids: Iterable[int] = (),
    counters: Iterable[int] = (),
    image_ids: Iterable[int] = (),
    new_ids: Iterable[int] = (),
    *,
    strict: bool = False,
) -> None:
    """After a commit: mark the entries of these notes, of the notes showing these pictures
    and of these authors' notes stale (read from the database until stored anew), and queue
    counter changes for the refresh job (services mode; the embedded store marks them stale
    too, which keeps its counts exact at once). A new note's id is only marked for
    `NEW_STALE_SECONDS` (it had nothing to show but a tombstone, and it should be stored
    soon). An unreachable store is logged and the change handed to the deferral `listen` was
    given (a durable job, which calls this again with `strict`: raising, so it is retried)."""
    notes, counters = set(note_ids), set(counters)
    authors, images, new = set(author_ids), set(image_ids), set(new_ids) - notes
    if not (notes or authors or counters or images or new):
        return
    asked = sorted(notes)
    try:
        if authors or images:
            notes |= _notes_showing(authors, images)
        store = backend()
        stale = notes if get_redis() is not None else notes | counters
        marks = {_key(i): (STALE, NEW_STALE_SECONDS) for i in new}
        marks.update({_key(i): (STALE, STALE_SECONDS) for i in stale})
        if marks:
            store.set_many(marks)
        store.queue(DIRTY_NOTES, notes | counters | new)
    except (redis.RedisError, diskcache.Timeout, SQLAlchemyError):
        if strict:
            raise
        log.warning("card changes not applied (notes %s): deferred to a job", sorted(notes))
        defer = current_app.extensions.get(_DEFER)
        if defer is not None:
            defer(asked, sorted(authors), sorted(counters), sorted(images), sorted(new))


def _notes_showing(authors: set[int], images: set[int]) -> set[int]:
    """The published notes of these authors or showing these pictures (as a picture, cover or
    their author's avatar), read on a connection of their own: the session's transaction has
    just ended."""
    with db.engine.connect() as connection:
        if images:
            authors |= set(
                connection.scalars(select(User.id).where(id_in(User.avatar_image_id, list(images))))
            )
        clauses = []
        if authors:
            clauses.append(id_in(Note.author_id, list(authors)))
        if images:
            clauses.append(id_in(Note.cover_image_id, list(images)))
            clauses.append(
                Note.id.in_(
                    select(NoteImage.note_id).where(id_in(NoteImage.image_id, list(images)))
                )
            )
        return set(
            connection.scalars(select(Note.id).where(or_(*clauses), Note.published_at.is_not(None)))
        )


def refresh(render: Render, batch: int = 5000) -> dict[str, int]:
    """Store anew the cards queued by `changed` (the `refresh_cards` job). Only cards held
    (or marked stale) are rendered: the others are rendered by the next reader."""
    store = backend()
    ids = sorted(store.take(DIRTY_NOTES, batch))
    rendered = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        held = [
            i for i, found in zip(chunk, store.held([_key(i) for i in chunk]), strict=True) if found
        ]
        if held:
            store.set_many({_key(i): entry for i, entry in render(held).items()})
            rendered += len(held)
    db.session.rollback()
    return {"queued": len(ids), "rendered": rendered}


def warm(note_ids: Sequence[int], render: Render, batch: int = 500) -> dict[str, int]:
    """Store the entries of these notes where none is held (one presence check per batch;
    a stale mark is held: its note's new card comes from `refresh`)."""
    store = backend()
    missing = 0
    for start in range(0, len(note_ids), batch):
        chunk = list(note_ids[start : start + batch])
        found = store.held([_key(i) for i in chunk])
        absent = [i for i, held in zip(chunk, found, strict=True) if not held]
        if absent:
            store.add_many({_key(i): entry for i, entry in render(absent).items()})
            missing += len(absent)
    db.session.rollback()
    return {"notes": len(note_ids), "rendered": missing}


def sweep_slice(total: int, batch: int, turn: int) -> tuple[int, int]:
    """The sweep's slice for this turn, as (modulus, remainder) of note ids: the notes split
    into about `total / batch` slices by id, taken in turn. It holds no cursor, so any
    process may run a turn, and a turn missed is only a slice visited later."""
    slices = max(1, -(-total // max(batch, 1)))
    return slices, turn % slices


def warm_all(
    batches: Iterable[Sequence[int]],
    render: Render,
    total: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Store every given note's entry the store lacks, batch by batch (`flask cards-warm`)."""
    done = rendered = 0
    for chunk in batches:
        rendered += warm(chunk, render)["rendered"]
        done += len(chunk)
        if progress is not None:
            progress("cards", done, total)
    return {"notes": done, "rendered": rendered}


def _after_flush(session: Session, _context: Any) -> None:
    """Note what the flushed ORM changes do to cards (the commit, if it comes, acts on it)."""
    info = session.info.setdefault("touched", {})
    for obj in session.new:  # an id asked for before it existed may be a tombstone
        if isinstance(obj, Note):
            info.setdefault("notes:new", set()).add(obj.id)
        elif isinstance(obj, NoteLike | Collect):  # the viewer's own flags (`flags`)
            info.setdefault("flags", set()).add(obj.user_id)
    for obj in session.deleted:
        if isinstance(obj, NoteLike | Collect):
            info.setdefault("flags", set()).add(obj.user_id)
        elif isinstance(obj, Note):
            info.setdefault("notes", set()).add(obj.id)
        elif isinstance(obj, User):
            info.setdefault("users", set()).add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Note) and _changed(obj, NOTE_FIELDS):
            info.setdefault("notes", set()).add(obj.id)
        elif isinstance(obj, User) and _changed(obj, AUTHOR_FIELDS):
            info.setdefault("users", set()).add(obj.id)
        elif isinstance(obj, Image) and _changed(obj, IMAGE_FIELDS):
            info.setdefault("images", set()).add(obj.id)


def _changed(obj: Any, fields: frozenset[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in fields)


def _after_commit(session: Session) -> None:
    touched = session.info.pop("touched", None)
    if not touched or not has_app_context() or "sprout.feeds" not in current_app.extensions:
        return
    flags.forget(touched.get("flags", ()))
    changed(
        note_ids=touched.get("notes", ()),
        author_ids=touched.get("users", ()),
        counters=touched.get("notes:counters", ()),
        image_ids=touched.get("images", ()),
        new_ids=touched.get("notes:new", ()),
    )


def _after_rollback(session: Session) -> None:
    session.info.pop("touched", None)


#: Keeps a change the store could not take: (notes, authors, counters, images, new notes).
Defer = Callable[[list[int], list[int], list[int], list[int], list[int]], None]


def listen(app: Any, defer: Defer | None = None) -> None:
    """Every session reports its committed card changes (the listeners once per process);
    `defer` keeps, for this app, the changes the store could not take."""
    if defer is not None:
        app.extensions[_DEFER] = defer
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback_soft)


def _after_rollback_soft(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        _after_rollback(session)
