"""Albums (专辑) and collecting notes into them.

A note is collected once per user (the `collects` primary key), into exactly one album.
Counters move only when a row was really inserted, moved or deleted, in the same transaction,
so they stay exact under concurrency; collecting again into another album moves the note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.accounts.models import User
from app.core.errors import Conflict, NotFound
from app.core.extensions import db, get_feed_store
from app.core.jobs import enqueue
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import require
from app.core.sql import bump, commit_fresh, id_in_range, insert_ignore, retry_on_conflict, touched
from app.core.visibility import (
    can_see_user,
    get_interactable_note,
    get_note_for,
    note_visible_clause,
)
from app.growth.events import record_interaction
from app.notes.models import Album, Collect, Note
from app.notifications.jobs import deliver_notification

DEFAULT_ALBUM_NAME = "默认专辑"
# Rows per statement when a set of ids is passed to SQL (SQLite caps bound parameters).
_CHUNK = 500


def _album_not_found() -> NotFound:
    return NotFound("No such album.", code="album_not_found")


def can_view_album(viewer: User | None, album: Album) -> bool:
    return not album.is_private or (viewer is not None and viewer.id == album.owner_id)


def can_edit_album(actor: User, album: Album) -> bool:
    return actor.id == album.owner_id


def _get_visible_album(viewer: User | None, album_id: int) -> Album:
    """Private albums look like they do not exist to anyone but their owner."""
    album = db.session.get(Album, album_id) if id_in_range(album_id) else None
    if album is None or not can_view_album(viewer, album):
        raise _album_not_found()
    return album


def _get_own_album(actor: User, album_id: int) -> Album:
    album = _get_visible_album(actor, album_id)
    require(can_edit_album(actor, album), "Only the owner may change an album.")
    return album


def ensure_default_album(user_id: int) -> Album:
    """The user's default album, created on first need; safe when two requests race.

    The insert is ON CONFLICT DO NOTHING on the unique (owner_id, name), then we select, so
    concurrent first collects end up with one album. Does not commit.
    """
    album = db.session.scalar(
        select(Album).where(Album.owner_id == user_id, Album.is_default.is_(True))
    )
    if album is not None:
        return album
    now = utcnow()
    db.session.execute(
        insert_ignore(
            Album,
            {
                "owner_id": user_id,
                "name": DEFAULT_ALBUM_NAME,
                "description": "",
                "is_default": True,
                "is_private": False,
                "note_count": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
    )
    album = db.session.scalar(
        select(Album).where(Album.owner_id == user_id, Album.name == DEFAULT_ALBUM_NAME)
    )
    assert album is not None  # inserted above, or by the request we raced
    return album


def _name_taken() -> Conflict:
    return Conflict(
        "You already have an album with that name.",
        code="album_name_taken",
        details={"field": "name"},
    )


def create_album(actor: User, name: str, description: str = "", private: bool = False) -> Album:
    # The default album exists first, so nobody can take its name with an ordinary album.
    ensure_default_album(actor.id)
    now = utcnow()
    result = db.session.execute(
        insert_ignore(
            Album,
            {
                "owner_id": actor.id,
                "name": name,
                "description": description,
                "is_default": False,
                "is_private": private,
                "note_count": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise _name_taken()
    album = db.session.scalar(select(Album).where(Album.owner_id == actor.id, Album.name == name))
    commit_fresh()
    assert album is not None
    return album


def update_album(actor: User, album_id: int, changes: dict[str, Any]) -> Album:
    """`changes` holds only the fields the client sent (name, description, private)."""
    album = _get_own_album(actor, album_id)
    name = changes.get("name")
    if name is not None and name != album.name:
        if album.is_default:
            raise Conflict("The default album cannot be renamed.", code="default_album_locked")
        ensure_default_album(actor.id)
        album.name = name
    if changes.get("description") is not None:
        album.description = changes["description"]
    if changes.get("private") is not None:
        album.is_private = bool(changes["private"])
    try:
        commit_fresh()
    except IntegrityError as exc:  # the unique (owner_id, name): taken, perhaps just now
        db.session.rollback()
        raise _name_taken() from exc
    return album


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _decrement_collects(note_ids: Sequence[int]) -> None:
    """Set-based: each listed note lost one collect, and its author one collect received.

    Only ids of collect rows this transaction really deleted may be passed, so counts are exact.
    """
    for chunk in _chunks(note_ids):
        db.session.execute(
            update(Note)
            .where(Note.id.in_(chunk))
            .values(collect_count=case((Note.collect_count < 1, 0), else_=Note.collect_count - 1))
            .execution_options(synchronize_session=False)
        )
        touched("notes", chunk, counters_only=True)
        lost = (
            select(func.count())
            .select_from(Note)
            .where(Note.author_id == User.id, Note.id.in_(chunk))
            .scalar_subquery()
        )
        db.session.execute(
            update(User)
            .where(User.id.in_(select(Note.author_id).where(Note.id.in_(chunk))))
            .values(
                collect_received_count=case(
                    (User.collect_received_count < lost, 0),
                    else_=User.collect_received_count - lost,
                )
            )
            .execution_options(synchronize_session=False)
        )


def delete_album(actor: User, album_id: int) -> None:
    """Removes the album and its collects; the notes' collect counts drop by exactly one each."""
    album = _get_own_album(actor, album_id)
    if album.is_default:
        raise Conflict("The default album cannot be deleted.", code="default_album_locked")
    # RETURNING names exactly the rows this statement removed: a concurrent uncollect of the
    # same note cannot make us decrement twice.
    removed = list(
        db.session.scalars(
            delete(Collect).where(Collect.album_id == album.id).returning(Collect.note_id)
        )
    )
    _decrement_collects(removed)
    if removed:
        touched("flags", [actor.id])
    db.session.execute(delete(Album).where(Album.id == album.id))
    commit_fresh()


def list_own_albums(actor: User, page: PageRequest) -> PageResult[Album]:
    ensure_default_album(actor.id)
    commit_fresh()
    return _album_list(actor.id, include_private=True, page=page)


def list_user_albums(viewer: User | None, user_id: int, page: PageRequest) -> PageResult[Album]:
    owner = db.session.get(User, user_id) if id_in_range(user_id) else None
    if not can_see_user(owner):
        raise NotFound("No such user.", code="user_not_found")
    own = viewer is not None and viewer.id == owner.id
    return _album_list(owner.id, include_private=own, page=page)


def _album_list(owner_id: int, *, include_private: bool, page: PageRequest) -> PageResult[Album]:
    """The default album first, then newest first; keyset on (is_default, id)."""
    stmt = (
        select(Album)
        .where(Album.owner_id == owner_id)
        .order_by(Album.is_default.desc(), Album.id.desc())
        .limit(page.limit + 1)
    )
    if not include_private:
        stmt = stmt.where(Album.is_private.is_(False))
    if page.after is not None:
        was_default, last_id = page.after
        if was_default:
            stmt = stmt.where(or_(Album.is_default.is_(False), Album.id < last_id))
        else:
            stmt = stmt.where(Album.is_default.is_(False), Album.id < last_id)
    return page.result(list(db.session.scalars(stmt)), lambda a: (a.is_default, a.id))


def owners_of(items: Sequence[Album]) -> dict[int, User]:
    ids = {album.owner_id for album in items}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(ids)))}


def get_album(viewer: User | None, album_id: int) -> Album:
    return _get_visible_album(viewer, album_id)


@dataclass
class CollectedNote:
    note: Note
    collected_at: datetime


def list_album_notes(
    viewer: User | None, album_id: int, page: PageRequest
) -> PageResult[CollectedNote]:
    """Newest collected first. Notes hidden or deleted since, or whose author was banned,
    are left out (their owner and moderators still find them elsewhere)."""
    album = _get_visible_album(viewer, album_id)
    stmt = (
        select(Note, Collect.created_at)
        .join(Collect, Collect.note_id == Note.id)
        .where(Collect.album_id == album.id, note_visible_clause(viewer, staff_reach=False))
        .order_by(Collect.created_at.desc(), Collect.note_id.desc())
        .limit(page.limit + 1)
        .options(lazyload("*"))  # the cards are built by id (`cards_in_order`)
    )
    if page.after is not None:
        moment, last_id = page.after
        stmt = stmt.where(
            or_(
                Collect.created_at < moment,
                and_(Collect.created_at == moment, Collect.note_id < last_id),
            )
        )
    rows = [CollectedNote(note, at) for note, at in db.session.execute(stmt).unique()]
    return page.result(rows, lambda row: (row.collected_at, row.note.id))


def _collect_state(note_id: int, album_id: int | None) -> dict[str, Any]:
    """Read inside the writing transaction, before its commit, so no second one is opened."""
    count = db.session.scalar(select(Note.collect_count).where(Note.id == note_id))
    return {"collected": album_id is not None, "collect_count": count or 0, "album_id": album_id}


@retry_on_conflict()
def collect_note(actor: User, note_id: int, album_id: int | None = None) -> dict[str, Any]:
    """Collect into an album (the default one if none is given); again into another album moves
    the note there. Idempotent: the counters and the notification move on a new collect only."""
    if not id_in_range(note_id):
        raise NotFound("No such note.", code="note_not_found")
    note = get_interactable_note(actor, note_id)
    if album_id is None:
        album = ensure_default_album(actor.id)
    else:
        # Only into one's own albums; anyone else's album looks like it does not exist.
        found = db.session.get(Album, album_id) if id_in_range(album_id) else None
        if found is None or found.owner_id != actor.id:
            raise _album_not_found()
        album = found
    now = utcnow()
    inserted = db.session.execute(
        insert_ignore(
            Collect,
            {"user_id": actor.id, "note_id": note.id, "album_id": album.id, "created_at": now},
        )
    )
    created = inserted.rowcount == 1
    if created:
        touched("flags", [actor.id])  # the viewer's own flags on cards
        bump(Note, note.id, collect_count=1)
        bump(User, note.author_id, collect_received_count=1)
        bump(Album, album.id, note_count=1)
    else:
        current = db.session.scalar(
            select(Collect.album_id).where(Collect.user_id == actor.id, Collect.note_id == note.id)
        )
        if current is not None and current != album.id:
            # Compare-and-set on the old album, so two concurrent moves adjust counts once.
            moved = db.session.execute(
                update(Collect)
                .where(
                    Collect.user_id == actor.id,
                    Collect.note_id == note.id,
                    Collect.album_id == current,
                )
                .values(album_id=album.id, created_at=now)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount == 1:
                bump(Album, current, note_count=-1)
                bump(Album, album.id, note_count=1)
    author_id, state = note.author_id, _collect_state(note.id, album.id)
    if created:  # the jobs' intents commit with the collect
        enqueue(deliver_notification, "collect", author_id, actor.id, note.id)
        enqueue(
            record_interaction,
            "collect_received",
            author_id,
            actor.id,
            "note",
            note.id,
            f"collect:{actor.id}:{note.id}",
        )
    commit_fresh()
    if created:  # the viewer's ranked pages were made without this collect: rank them anew
        get_feed_store().invalidate_buffers(str(actor.id))
    return state


@retry_on_conflict()
def uncollect_note(actor: User, note_id: int) -> dict[str, Any]:
    """Idempotent. Works even if the note was hidden since: a user can always let go of it."""
    if not id_in_range(note_id):
        raise NotFound("No such note.", code="note_not_found")
    removed = db.session.execute(
        delete(Collect)
        .where(Collect.user_id == actor.id, Collect.note_id == note_id)
        .returning(Collect.album_id, Collect.suspect)
    ).first()
    if removed is None:
        db.session.rollback()
        get_note_for(actor, note_id)  # unknown or invisible notes are a 404
        state = _collect_state(note_id, None)
        db.session.rollback()  # nothing to write; do not hold a transaction open
        return state
    author_id = db.session.scalar(select(Note.author_id).where(Note.id == note_id))
    touched("flags", [actor.id])
    bump(Album, removed.album_id, note_count=-1)
    if not removed.suspect:  # a suspect collect (bought engagement) had left the counts
        bump(Note, note_id, collect_count=-1)
        if author_id is not None:
            bump(User, author_id, collect_received_count=-1)
    state = _collect_state(note_id, None)
    commit_fresh()
    return state
