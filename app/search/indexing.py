"""Keeping the index in step with the database: documents built from rows, the idempotent
syncs the indexing jobs run, hot-score refreshes and the full rebuild.

The index holds only what anyone may see (published, not deleted, by an author who is not
banned): every change of that goes through `sync_notes`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.models import utcnow
from app.core.sql import id_in
from app.core.visibility import note_visible_clause, user_visible_clause
from app.media.models import Image
from app.notes.models import Note, NoteImage, NoteTag, NoteTopic, Tag, Topic
from app.search.backend import NoteDoc, TopicDoc, UserDoc
from app.search.engine import get_search

BATCH = 500

Progress = Callable[[str, int, int], None]


def timestamp(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


# -- documents ---------------------------------------------------------------------------
def _visible_notes() -> Any:
    return (
        select(
            Note.id,
            Note.title,
            Note.body,
            Note.author_id,
            Note.channel_code,
            Note.published_at,
            Note.created_at,
            Note.hot_score,
            Note.like_count,
            Note.collect_count,
            Note.comment_count,
            Note.share_count,
        ).where(note_visible_clause(None))  # what everyone sees alike
    )


def _engagement(row: Any) -> int:
    return int(row.like_count + row.collect_count + row.comment_count + row.share_count)


def _note_docs(rows: list[Any]) -> list[NoteDoc]:
    ids = [row.id for row in rows]
    tags: dict[int, list[str]] = defaultdict(list)
    topics: dict[int, list[tuple[int, str]]] = defaultdict(list)
    pictures: dict[int, list[str]] = defaultdict(list)
    if ids:
        for note_id, name in db.session.execute(
            select(NoteTag.note_id, Tag.name)
            .join(Tag, Tag.id == NoteTag.tag_id)
            .where(id_in(NoteTag.note_id, ids))
            .order_by(NoteTag.note_id, Tag.id)
        ):
            tags[note_id].append(name)
        for note_id, topic_id, name in db.session.execute(
            select(NoteTopic.note_id, Topic.id, Topic.name)
            .join(Topic, Topic.id == NoteTopic.topic_id)
            .where(id_in(NoteTopic.note_id, ids))
            .order_by(NoteTopic.note_id, Topic.id)
        ):
            topics[note_id].append((topic_id, name))
        # Image tags (labels placed on a picture) are searched like the note's own tags.
        for note_id, edits in db.session.execute(
            select(NoteImage.note_id, Image.edits)
            .join(Image, Image.id == NoteImage.image_id)
            .where(id_in(NoteImage.note_id, ids), Image.edits.is_not(None))
            .order_by(NoteImage.note_id, NoteImage.position)
        ):
            for tag in (edits or {}).get("tags") or []:
                label = str(tag.get("label", "")).strip()
                if label and label not in tags[note_id]:
                    tags[note_id].append(label)
        # The text read in its pictures (a menu's dishes, a sign) is searched with the body.
        for note_id, text in db.session.execute(
            select(NoteImage.note_id, Image.text)
            .join(Image, Image.id == NoteImage.image_id)
            .where(id_in(NoteImage.note_id, ids), Image.text.is_not(None), Image.text != "")
            .order_by(NoteImage.note_id, NoteImage.position)
        ):
            pictures[note_id].append(text)
    return [
        NoteDoc(
            id=row.id,
            title=row.title,
            body="\n".join([row.body or "", *pictures[row.id]])
            if pictures[row.id]
            else row.body or "",
            tags=tuple(tags[row.id]),
            topics=tuple(topics[row.id]),
            author_id=row.author_id,
            channel=row.channel_code,
            published_at=timestamp(row.published_at or row.created_at),
            hot=float(row.hot_score or 0.0),
            engagement=_engagement(row),
        )
        for row in rows
    ]


def _user_docs(where: Any, limit: int | None = None) -> list[UserDoc]:
    statement = (
        select(User.id, User.username, User.nickname, User.bio, User.follower_count)
        .where(user_visible_clause(), where)
        .order_by(User.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [
        UserDoc(row.id, row.username, row.nickname or "", row.bio or "", row.follower_count)
        for row in db.session.execute(statement)
    ]


def _topic_docs(where: Any, limit: int | None = None) -> list[TopicDoc]:
    statement = select(Topic).where(where).order_by(Topic.id)
    if limit is not None:
        statement = statement.limit(limit)
    return [
        TopicDoc(t.id, t.name, t.description or "", t.note_count, t.follower_count)
        for t in db.session.scalars(statement)
    ]


# -- keeping the index in step -------------------------------------------------------------
SETTLE_WRITES = 3  # writes of one sync before a still-moving change is left to the job's retry


class IndexNotSettled(RuntimeError):
    """The rows kept changing while a sync wrote them: its job retries later."""


#: The documents' counts: they move with every like and follow, and the index keeps them
#: within bounds by other means (`refresh_signals` after each hot recompute, the next sync).
_COUNTS = frozenset({"hot", "engagement", "follower_count", "note_count"})


def _content(docs: dict[int, Any]) -> dict[int, Any]:
    """Documents without their counts: what a sync compares to see whether it settled."""
    return {
        i: replace(doc, **{f.name: 0 for f in fields(doc) if f.name in _COUNTS})
        for i, doc in docs.items()
    }


def _settled(read: Callable[[], dict[int, Any]], write: Callable[[dict[int, Any]], None]) -> Any:
    """Write what `read` returns, then read again, until a read matches the last write.

    Two syncs of one note interleave across processes: A reads, a change commits, B reads
    and writes the new row, then A writes its older copy last (a picture's text read while
    the note's own sync was between its read and its write left the note unsearchable by
    that text). The sync that wrote last reads again after its write, so it sees any change
    committed before then and writes it; a change committed later has a sync of its own
    that reads after it. Each read ends its transaction: none stays open while the index
    writes. Counts are left out of the comparison (`_content`): a note liked while its sync
    runs is no reason to write it again."""
    written: dict[int, Any] | None = None
    for _ in range(SETTLE_WRITES):
        docs = read()
        db.session.rollback()
        if written is not None and _content(docs) == _content(written):
            return docs
        write(docs)
        written = docs
    docs = read()
    db.session.rollback()
    if written is None or _content(docs) != _content(written):
        raise IndexNotSettled(
            f"{len(docs)} document(s) still changing after {SETTLE_WRITES} writes"
        )
    return docs


def sync_notes(note_ids: Iterable[int]) -> dict[str, int]:
    """Index what is visible among these notes and drop the rest: safe to run any number of
    times, in any order, after any change (publish, edit, delete, moderation, a ban), and
    concurrently (`_settled`)."""
    ids = sorted(set(note_ids))
    read_at = utcnow()
    backend = get_search()

    def read() -> dict[int, NoteDoc]:
        rows = db.session.execute(_visible_notes().where(id_in(Note.id, ids))).all()
        return {doc.id: doc for doc in _note_docs(rows)}

    def write(docs: dict[int, NoteDoc]) -> None:
        backend.index_notes(list(docs.values()))
        backend.delete_notes(sorted(set(ids) - docs.keys()))

    docs = _settled(read, write)
    # What the index now holds is the notes as read: a later edit leaves them behind again.
    db.session.execute(update(Note).where(id_in(Note.id, ids)).values(indexed_at=read_at))
    db.session.commit()
    return {"indexed": len(docs), "removed": len(ids) - len(docs)}


def sync_user(user_id: int, with_notes: bool = False) -> dict[str, int]:
    """A user's profile; with their notes too when their standing changed (a ban, a lift)."""
    backend = get_search()

    def write(docs: dict[int, UserDoc]) -> None:
        if docs:
            backend.index_users(list(docs.values()))
        else:
            backend.delete_users([user_id])

    docs = _settled(lambda: {doc.id: doc for doc in _user_docs(User.id == user_id)}, write)
    result = {"users": len(docs)}
    if with_notes:
        note_ids = list(db.session.scalars(select(Note.id).where(Note.author_id == user_id)))
        for start in range(0, len(note_ids), BATCH):
            sync_notes(note_ids[start : start + BATCH])
        result["notes"] = len(note_ids)
    db.session.rollback()
    return result


def sync_topic(topic_id: int) -> dict[str, int]:
    backend = get_search()

    def write(docs: dict[int, TopicDoc]) -> None:
        if docs:
            backend.index_topics(list(docs.values()))
        else:
            backend.delete_topics([topic_id])

    docs = _settled(lambda: {doc.id: doc for doc in _topic_docs(Topic.id == topic_id)}, write)
    return {"topics": len(docs)}


def refresh_signals(note_ids: Iterable[int]) -> int:
    """Hot scores and engagement of indexed notes (the ranking job calls this after it
    recomputes hot scores): `sort=hot` and relevance read them from the index."""
    ids = list(note_ids)
    backend = get_search()
    done = 0
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            select(
                Note.id,
                Note.hot_score,
                Note.like_count,
                Note.collect_count,
                Note.comment_count,
                Note.share_count,
            ).where(id_in(Note.id, ids[start : start + 5000]))
        ).all()
        backend.update_signals(
            {row.id: (float(row.hot_score or 0.0), _engagement(row)) for row in rows}
        )
        done += len(rows)
    db.session.rollback()
    return done


def reindex(progress: Progress | None = None) -> dict[str, Any]:
    """Rebuild the whole index from the database without taking it offline: documents are
    rewritten in place under a new generation and what was not seen again is dropped at the
    end. Interrupted, it resumes after the last finished batch of each kind."""
    backend = get_search()
    generation = backend.begin_reindex()
    counts: dict[str, Any] = {"generation": generation}
    kinds: tuple[tuple[str, Any], ...] = (("notes", Note), ("users", User), ("topics", Topic))
    for kind, model in kinds:
        last_id = backend.checkpoint(generation, kind)
        total = db.session.scalar(select(func.count()).select_from(model)) or 0
        done = (
            db.session.scalar(select(func.count()).select_from(model).where(model.id <= last_id))
            or 0
        )
        indexed = 0
        while True:
            ids = list(
                db.session.scalars(
                    select(model.id).where(model.id > last_id).order_by(model.id).limit(BATCH)
                )
            )
            if not ids:
                break
            if kind == "notes":
                read_at = utcnow()
                docs = _note_docs(
                    db.session.execute(
                        _visible_notes().where(id_in(Note.id, ids)).order_by(Note.id)
                    ).all()
                )
                backend.index_notes(docs, generation=generation)
                db.session.execute(
                    update(Note).where(id_in(Note.id, ids)).values(indexed_at=read_at)
                )
                db.session.commit()
            elif kind == "users":
                docs = _user_docs(id_in(User.id, ids))
                backend.index_users(docs, generation=generation)
            else:
                docs = _topic_docs(id_in(Topic.id, ids))
                backend.index_topics(docs, generation=generation)
            db.session.rollback()
            indexed += len(docs)
            last_id = ids[-1]
            done += len(ids)
            backend.save_checkpoint(generation, kind, last_id)
            if progress:
                progress(kind, min(done, total), total)
        if progress and total == 0:
            progress(kind, 0, 0)
        counts[kind] = indexed
    counts["removed"] = backend.finish_reindex(generation)
    return counts
