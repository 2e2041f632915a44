"""What moderation's decisions do to notes and comments (registered as moderation hooks by
`create_app`): the counts of what is visible, search and points follow a hide, removal or
restoration, as they follow the author's own publishing and deleting."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.jobs import enqueue
from app.core.models import utcnow
from app.core.sql import bump, id_in, touched
from app.feeds.inbox import following_changed, note_published
from app.growth.events import settle_content, settle_engagement
from app.notes.models import Album, Collect, Comment, Note, NoteImage, NoteLike
from app.notes.services.notes import adjust_published_counters, hold_for_picture_text
from app.search.jobs import index_notes
from app.social.models import UserFollow
from moderation import ContentKind, EngagementKind


def published_changed(kind: ContentKind, row: Note | Comment, delta: int) -> None:
    """A note or comment entered (+1) or left (-1) `published`: the author's and topics'
    note counts, or the note's comment count and the thread's reply count, follow."""
    if isinstance(row, Note):
        adjust_published_counters(row, delta)
        if delta > 0 and row.published_at is None:
            row.published_at = utcnow()
        if delta > 0:
            note_published(row.id)  # into the followers' inboxes
        return
    bump(Note, row.note_id, comment_count=delta)
    if row.root_id is not None:
        bump(Comment, row.root_id, reply_count=delta)


def content_changed(kind: ContentKind, content_id: int) -> None:
    """Hidden, removed or restored: search follows a note, and the points it or a comment
    earned are clawed back or restored (jobs, committed with the change)."""
    if kind == "note":
        enqueue(index_notes, [content_id])
    enqueue(settle_content, kind, content_id)


def picture_text_read(image_id: int) -> None:
    """The text in a picture has just been read (`media.jobs.read_picture_text`, in its
    transaction): every note showing it is reindexed (search finds it by that text), and a
    published one is screened on its pictures' text. A match holds it as the filter holds a
    note at publishing (pending_review: its author sees it, nobody else; off the counts and
    the index) and opens the case with what was found where, in the same commit, so a
    retried job (which finds the text already read) never holds or opens twice."""
    notes = db.session.scalars(
        select(Note)
        .join(NoteImage, NoteImage.note_id == Note.id)
        .where(NoteImage.image_id == image_id, Note.deleted_at.is_(None))
        .order_by(Note.id)
        .with_for_update(of=Note)
    ).all()
    for note in notes:
        if note.status == "published" and hold_for_picture_text(note):
            continue  # held: its reindex (out of search) is already enqueued
        enqueue(index_notes, [note.id])


def _engagement_rows(kind: EngagementKind) -> tuple[Any, Any, Any]:
    """(model, actor column, target column) of a like, collect or follow."""
    if kind == "like":
        return NoteLike, NoteLike.user_id, NoteLike.note_id
    if kind == "collect":
        return Collect, Collect.user_id, Collect.note_id
    return UserFollow, UserFollow.follower_id, UserFollow.followee_id


def engagement_counted(
    kind: EngagementKind, target_id: int, actor_ids: list[int], counted: bool
) -> int:
    """Suspect engagement (`counted=False`) leaves the counters the app shows and ranks on
    (the note's likes, collects and follows gained, the owner's received counts and
    followers) and the points it paid are clawed back; cleared engagement comes back into
    them and is paid. The row's flag moves once (compare-and-set), so a re-run moves
    nothing; the hot list, the ranking's signals and levels read the flag itself."""
    if not actor_ids:
        return 0
    model, actor, target = _engagement_rows(kind)
    extra = (UserFollow.source_note_id,) if kind == "follow" else ()
    changed = db.session.execute(
        update(model)
        .where(target == target_id, id_in(actor, actor_ids), model.suspect.is_(counted))
        .values(suspect=not counted)
        .returning(actor, *extra)
        .execution_options(synchronize_session=False)
    ).all()
    if not changed:
        return 0
    delta = len(changed) if counted else -len(changed)
    if kind == "follow":
        bump(User, target_id, follower_count=delta)
        for row in changed:
            if row[1] is not None:
                bump(Note, row[1], follow_gain_count=1 if counted else -1)
        return len(changed)
    author_id = db.session.scalar(select(Note.author_id).where(Note.id == target_id))
    touched("notes", [target_id])  # a moderation decision: the card's counts move at once
    if kind == "like":
        bump(Note, target_id, like_count=delta)
        if author_id is not None:
            bump(User, author_id, like_received_count=delta)
    else:
        bump(Note, target_id, collect_count=delta)
        if author_id is not None:
            bump(User, author_id, collect_received_count=delta)
    enqueue(settle_engagement, kind, target_id, [row[0] for row in changed], counted)
    return len(changed)


def engagement_removed(kind: EngagementKind, target_id: int, actor_ids: list[int]) -> int:
    """Upheld fake engagement is deleted. Its target's counters left it out while it was
    suspect; the actors' own counts (albums, followings) follow. Points stay clawed back."""
    if not actor_ids:
        return 0
    model, actor, target = _engagement_rows(kind)
    extra = (Collect.album_id,) if kind == "collect" else ()
    gone = db.session.execute(
        delete(model)
        .where(target == target_id, id_in(actor, actor_ids), model.suspect.is_(True))
        .returning(actor, *extra)
        .execution_options(synchronize_session=False)
    ).all()
    for row in gone:
        if kind == "collect":
            bump(Album, row[1], note_count=-1)
        elif kind == "follow":
            bump(User, row[0], following_count=-1)
            following_changed(row[0])  # that inbox no longer follows the target
    return len(gone)
