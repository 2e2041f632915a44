"""Notes: write, edit, publish, delete, read, list, and likes.

Counters (author note_count, topic note_count, like counts) move only via `bump()` in the
transaction that changed the row they count, so they stay exact under concurrency.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import lazyload

from app.accounts.models import User
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, ValidationFailed
from app.core.extensions import db, get_feed_store
from app.core.jobs import commit, enqueue, job
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import can_delete_note, can_edit_note, require
from app.core.schemas import MAX_ID
from app.core.sql import bump, insert_ignore, inserted, retry_on_conflict, touched
from app.core.visibility import (
    can_see_user,
    get_interactable_note,
    get_note_for,
    note_visible_clause,
)
from app.feeds.inbox import note_published
from app.growth.config import GROWTH
from app.growth.events import record_interaction, settle_content
from app.growth.levels import require_privilege
from app.media.models import Image
from app.notes.jobs import render_text_cover
from app.notes.models import Channel, Note, NoteImage, NoteLike, NoteMention, Tag, Topic
from app.notifications.jobs import deliver_notification
from app.search.jobs import index_notes
from moderation import Screened, screen_content, screen_picture_text

AUTHOR_STATUSES = ("draft", "published")
MAX_TAGS = 10
TAG_MAX_CHARS = 20
MAX_TOPICS = 5
MAX_MENTIONS = 20
# Usernames are [A-Za-z0-9_]{3,32}; the look-arounds keep e-mail addresses and longer words out.
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]{3,32})(?![A-Za-z0-9_])")
USABLE_IMAGE_STATUSES = ("processing", "ready")


@dataclass
class _Content:
    """Validated note content: every field resolved to rows that exist."""

    fields: set[str] = field(default_factory=set)
    title: str = ""
    body: str = ""
    image_ids: list[int] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    channel_code: str | None = None
    channel_given: bool = False


def _note_id(note_id: int) -> int:
    """Ids beyond BIGINT would make PostgreSQL raise; they cannot exist, so 404."""
    if not 1 <= note_id <= MAX_ID:
        raise NotFound("No such note.", code="note_not_found")
    return note_id


def _settings() -> Settings:
    return current_app.config["SPROUT"]


# --- validation ------------------------------------------------------------------------------


def normalize_tag(raw: str) -> str:
    """`#Summer` and `summer` are one tag: no leading '#', NFC, lower case, inner space kept."""
    name = unicodedata.normalize("NFC", raw).strip().lstrip("#＃").strip().lower()
    if not name or len(name) > TAG_MAX_CHARS or "#" in name:
        raise ValidationFailed(
            f"A tag is 1–{TAG_MAX_CHARS} characters without '#'.",
            code="invalid_tag",
            details={"tag": raw[:100]},
        )
    return name


def _check_title(title: str) -> str:
    title = unicodedata.normalize("NFC", title)
    limit = _settings().note_title_max
    if not title:
        raise ValidationFailed("The title must not be empty.", code="title_required")
    if len(title) > limit:
        raise ValidationFailed(
            f"The title is at most {limit} characters.",
            code="title_too_long",
            details={"max": limit, "length": len(title)},
        )
    return title


def _within_privilege(
    actor: User, size: int, base: int, most: int, privilege: str, error: ValidationFailed
) -> None:
    """Up to `base` for everyone, up to `most` with the privilege (403 without), never more."""
    if size > most:
        raise error
    if size > base:
        require_privilege(actor, privilege)


def _check_body(actor: User, body: str) -> str:
    body = unicodedata.normalize("NFC", body)
    _within_privilege(
        actor,
        len(body),
        GROWTH.body_base,
        GROWTH.body_long,
        "long_note",
        ValidationFailed(
            f"The body is at most {GROWTH.body_long} characters.",
            code="body_too_long",
            details={"max": GROWTH.body_long, "length": len(body)},
        ),
    )
    return body


def _check_images(actor: User, image_ids: list[int]) -> list[int]:
    _within_privilege(
        actor,
        len(image_ids),
        GROWTH.images_base,
        GROWTH.images_more,
        "more_images",
        ValidationFailed(
            f"A note has at most {GROWTH.images_more} images.",
            code="too_many_images",
            details={"max": GROWTH.images_more, "count": len(image_ids)},
        ),
    )
    if len(set(image_ids)) != len(image_ids):
        raise ValidationFailed("An image appears twice.", code="duplicate_image")
    if not image_ids:
        return []
    images = {
        image.id: image
        for image in db.session.scalars(select(Image).where(Image.id.in_(image_ids)))
    }
    # Someone else's image looks exactly like a missing one: ids reveal nothing.
    unknown = [i for i in image_ids if i not in images or images[i].owner_id != actor.id]
    if unknown:
        raise Unprocessable(
            "Some images do not exist or are not yours.",
            code="unknown_image",
            details={"image_ids": unknown},
        )
    unusable = [
        i
        for i in image_ids
        if images[i].kind != "upload" or images[i].status not in USABLE_IMAGE_STATUSES
    ]
    if unusable:
        raise Unprocessable(
            "Only your successfully uploaded images can go in a note.",
            code="image_not_usable",
            details={"image_ids": unusable},
        )
    return image_ids


def _resolve_tags(raw_tags: list[str]) -> list[Tag]:
    names = list(dict.fromkeys(normalize_tag(raw) for raw in raw_tags))
    if len(names) > MAX_TAGS:
        raise ValidationFailed(
            f"A note has at most {MAX_TAGS} tags.",
            code="too_many_tags",
            details={"max": MAX_TAGS, "count": len(names)},
        )
    if not names:
        return []
    # Get-or-create without a race: insert-or-ignore each, then read them all back.
    for name in names:
        db.session.execute(insert_ignore(Tag, {"name": name}))
    by_name = {tag.name: tag for tag in db.session.scalars(select(Tag).where(Tag.name.in_(names)))}
    return [by_name[name] for name in names]


def _resolve_topics(topic_ids: list[int]) -> list[Topic]:
    topic_ids = list(dict.fromkeys(topic_ids))
    if len(topic_ids) > MAX_TOPICS:
        raise ValidationFailed(
            f"A note joins at most {MAX_TOPICS} topics.",
            code="too_many_topics",
            details={"max": MAX_TOPICS, "count": len(topic_ids)},
        )
    if not topic_ids:
        return []
    by_id = {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(topic_ids)))}
    unknown = [topic_id for topic_id in topic_ids if topic_id not in by_id]
    if unknown:
        raise Unprocessable(
            "Some topics do not exist.", code="unknown_topic", details={"topic_ids": unknown}
        )
    return [by_id[topic_id] for topic_id in topic_ids]


def _check_channel(code: str | None) -> str | None:
    if code is None:
        return None
    if db.session.get(Channel, code) is None:
        raise Unprocessable(
            "No such channel.", code="unknown_channel", details={"channel": code[:24]}
        )
    return code


def classify_channel(topics: list[Topic]) -> str | None:
    """Without an explicit channel, a note goes where its first classified topic lives."""
    return next((topic.channel_code for topic in topics if topic.channel_code), None)


def _validate(actor: User, values: dict[str, Any]) -> _Content:
    """The same rules for create and edit; only the given fields are checked and resolved."""
    content = _Content(fields=set(values))
    for name, value in values.items():
        if value is None and name != "channel":
            raise ValidationFailed(
                f"`{name}` cannot be null.", code="validation_error", details={"field": name}
            )
    if "title" in values:
        content.title = _check_title(values["title"])
    if "body" in values:
        content.body = _check_body(actor, values["body"])
    if "image_ids" in values:
        content.image_ids = _check_images(actor, list(values["image_ids"]))
    if "tags" in values:
        content.tags = _resolve_tags(list(values["tags"]))
    if "topic_ids" in values:
        content.topics = _resolve_topics(list(values["topic_ids"]))
    if "channel" in values:
        content.channel_given = values["channel"] is not None
        content.channel_code = _check_channel(values["channel"])
    return content


def parse_mentions(body: str) -> list[str]:
    """Distinct lower-cased usernames @mentioned in a body, in order of first appearance."""
    return list(dict.fromkeys(match.lower() for match in MENTION_RE.findall(body)))


def _mentioned_user_ids(author: User, body: str) -> list[int]:
    names = [name for name in parse_mentions(body) if name != author.username][: MAX_MENTIONS * 5]
    if not names:
        return []
    rows = db.session.execute(select(User.username, User.id).where(User.username.in_(names)))
    by_name = {username: user_id for username, user_id in rows}
    return [by_name[name] for name in names if name in by_name][:MAX_MENTIONS]


# --- counters --------------------------------------------------------------------------------


def adjust_published_counters(note: Note, delta: int, topic_ids: list[int] | None = None) -> None:
    """A note entering (+1) or leaving (-1) `published` counts for its author and topics.

    Moderation calls this too when it hides, removes or restores a published note.
    """
    bump(User, note.author_id, note_count=delta)
    for topic_id in topic_ids if topic_ids is not None else [t.id for t in note.topics]:
        bump(Topic, topic_id, note_count=delta)


# --- use cases -------------------------------------------------------------------------------


@dataclass
class _AfterCommit:
    """Jobs to run once the transaction is durable."""

    render_cover: bool = False
    mention_user_ids: list[int] = field(default_factory=list)
    published_now: bool = False  # first published: points, campaign check-in, level


def _apply_content(note: Note, content: _Content, after: _AfterCommit) -> None:
    """Write validated content onto the note; on a published note, keep topic counts exact."""
    if "title" in content.fields and content.title != note.title:
        note.title = content.title
        after.render_cover = True
    if "body" in content.fields:
        note.body = content.body
    if "image_ids" in content.fields:
        current = [link.image_id for link in note.image_links]
        if current != content.image_ids:
            had_images = bool(current)
            note.image_links.clear()
            db.session.flush()
            note.image_links.extend(
                NoteImage(position=position, image_id=image_id)
                for position, image_id in enumerate(content.image_ids)
            )
            if had_images and not content.image_ids:
                after.render_cover = True
    if "tags" in content.fields:
        note.tags = content.tags
    if "topic_ids" in content.fields:
        if note.status == "published" and note.id is not None:
            old = {topic.id for topic in note.topics}
            new = {topic.id for topic in content.topics}
            for topic_id in new - old:
                bump(Topic, topic_id, note_count=1)
            if new - old:
                note_published(note.id)  # into the new topics' followers' inboxes
            for topic_id in old - new:
                bump(Topic, topic_id, note_count=-1)
        note.topics = content.topics
    if content.channel_given:
        note.channel_code = content.channel_code
    elif "channel" in content.fields or note.channel_code is None:
        # No channel (or an explicit null): classify from the topics, or leave it empty.
        note.channel_code = classify_channel(list(note.topics))


def _replace_mentions(note: Note, author: User) -> list[int]:
    """Store the body's mentions; returns the users mentioned now who were not before."""
    before = set(
        db.session.scalars(select(NoteMention.user_id).where(NoteMention.note_id == note.id))
    )
    user_ids = _mentioned_user_ids(author, note.body)
    db.session.execute(delete(NoteMention).where(NoteMention.note_id == note.id))
    for user_id in user_ids:
        db.session.add(NoteMention(note_id=note.id, user_id=user_id))
    return [user_id for user_id in user_ids if user_id not in before]


def _screen(author: User, note: Note) -> Screened | None:
    """Before a note appears, moderation screens it (`screen_content`): a block refuses the
    write, a review holds the note as pending_review (returned, for a case after commit)."""
    screened = screen_content(
        author,
        "note",
        (note.title, note.body),
        filter_only=(" ".join(t.name for t in note.tags),),
        image_ids=[link.image_id for link in note.image_links],
        content_id=note.id,
    )
    if screened.held:
        note.status = "pending_review"
        return screened
    return None


def _publish(note: Note) -> None:
    note.status = "published"
    if note.published_at is None:
        note.published_at = utcnow()
    db.session.flush()
    adjust_published_counters(note, +1)
    note_published(note.id)  # into the followers' inboxes


def _run_after_commit(note: Note, after: _AfterCommit) -> None:
    """Enqueue the note's follow-up jobs; called before the commit, so they join it."""
    enqueue(index_notes, [note.id])
    if note.status == "published" and not note.author.official and _pictures_unread(note):
        enqueue(screen_pictures_once_read, note.id)
    if after.published_now:
        enqueue(settle_content, "note", note.id)
    if after.render_cover and not note.image_links:
        enqueue(render_text_cover, note.id)
    for user_id in after.mention_user_ids:
        enqueue(deliver_notification, "mention", user_id, note.author_id, note.id, None, None)


def _pictures_unread(note: Note) -> int:
    """How many of the note's pictures have no text read yet (their OCR job is pending)."""
    image_ids = [link.image_id for link in note.image_links]
    if not image_ids:
        return 0
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Image)
            .where(Image.id.in_(image_ids), Image.text_read_at.is_(None))
        )
        or 0
    )


def hold_for_picture_text(note: Note) -> bool:
    """Screen a published note on the text read in its pictures; on a match hold it as the
    filter holds one at publishing (pending_review: off the counts, the index and the
    points) and open its case with what was found where, all in the caller's transaction."""
    author = db.session.get(User, note.author_id)
    if author is None:
        return False
    screened = screen_picture_text(author, "note", [link.image_id for link in note.image_links])
    if not screened.held:
        return False
    adjust_published_counters(note, -1)
    note.status = "pending_review"
    screened.add_case(note.id)
    enqueue(index_notes, [note.id])
    enqueue(settle_content, "note", note.id)
    return True


class PicturesNotReadYet(RuntimeError):
    """A published note's pictures are still being read: its screening job retries later."""


@job("media")
def screen_pictures_once_read(note_id: int) -> dict[str, Any]:
    """A note published while its pictures' text was still being read. The OCR job screens
    the notes it finds showing the picture, but a note committed in the instant between its
    read and its commit is seen by neither side; this job closes that gap: it is retried
    (`RETRY_INTERVALS`) until every picture is read, then screens the note once. A note
    already held, hidden or deleted by then is left alone, so the two paths never hold twice."""
    note = db.session.scalar(
        select(Note)
        .where(Note.id == note_id)
        .with_for_update(of=Note)
        .execution_options(populate_existing=True)
    )
    if note is None or note.deleted_at is not None or note.status != "published":
        db.session.rollback()
        return {"held": False, "skipped": True}
    unread = _pictures_unread(note)
    if unread:
        db.session.rollback()
        raise PicturesNotReadYet(f"{unread} picture(s) of note {note_id} not read yet")
    held = hold_for_picture_text(note)
    commit()
    return {"held": held, "skipped": False}


def load_note(note_id: int) -> Note:
    """A fresh copy of the note and its relationships (after a commit or a job)."""
    return (
        db.session.execute(
            select(Note).where(Note.id == note_id).execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one()
    )


def create_note(actor: User, values: dict[str, Any]) -> Note:
    """POST /notes. `values` holds the request fields; title and status are required."""
    values = dict(values)
    status = values.pop("status", None)
    if status not in AUTHOR_STATUSES:
        raise ValidationFailed("`status` is draft or published.", code="invalid_status")
    content = _validate(actor, {"body": "", **values})
    if "title" not in content.fields:
        raise ValidationFailed("The title must not be empty.", code="title_required")
    note = Note(author_id=actor.id, title=content.title, status="draft", body="")
    db.session.add(note)
    after = _AfterCommit()
    _apply_content(note, content, after)
    after.render_cover = not content.image_ids  # a text note: it needs a cover card
    db.session.flush()
    mentioned = _replace_mentions(note, actor)
    held = None
    if status == "published":
        held = _screen(actor, note)
        if held is None:
            _publish(note)
            after.mention_user_ids = mentioned
            after.published_now = True
    _run_after_commit(note, after)  # the jobs' intents commit with the note
    commit()
    if held is not None:
        held.open_case(note.id)
    return load_note(note.id)


def _locked_note(actor: User | None, note_id: int) -> Note:
    """The visible note, its row locked until the commit so edits and deletes serialise."""
    _note_id(note_id)
    db.session.execute(select(Note.id).where(Note.id == note_id).with_for_update())
    return _visible_note(actor, note_id)


def _visible_note(actor: User | None, note_id: int) -> Note:
    """get_note_for on freshly read state, never on a copy left in the session's identity map
    (counters change through SQL updates that the ORM does not see)."""
    db.session.get(Note, _note_id(note_id), populate_existing=True)
    return get_note_for(actor, note_id)


def update_note(actor: User, note_id: int, values: dict[str, Any]) -> Note:
    """PATCH /notes/{id} by the author: content edits and draft → published."""
    note = _locked_note(actor, note_id)
    require(can_edit_note(actor, note), "Only the author can edit this note.")
    values = dict(values)
    has_status = "status" in values
    status = values.pop("status", None)
    if has_status and status not in AUTHOR_STATUSES:
        raise ValidationFailed("`status` is draft or published.", code="invalid_status")
    moving = status is not None and status != note.status
    if moving and not (note.status == "draft" and status == "published"):
        raise Conflict(
            f"A {note.status} note cannot become {status} here.",
            code="invalid_status_transition",
            details={"from": note.status, "to": status},
        )
    content = _validate(actor, values)
    after = _AfterCommit()
    _apply_content(note, content, after)
    db.session.flush()
    newly_mentioned = _replace_mentions(note, actor) if "body" in content.fields else []
    first_publish = status == "published" and note.status == "draft"
    held = _screen(actor, note) if first_publish or note.status == "published" else None
    if held is not None:
        if note.status == "published":  # an edit the filter holds back: off the feeds
            adjust_published_counters(note, -1)
        note.status = "pending_review"
        newly_mentioned = []
    elif first_publish:
        # Everyone mentioned hears about it when the note first goes public.
        newly_mentioned = _mentioned_user_ids(actor, note.body)
        _publish(note)
        after.published_now = True
    elif note.status != "published":
        newly_mentioned = []  # drafts notify nobody; they will when published
    note.updated_at = utcnow()
    after.mention_user_ids = newly_mentioned
    _run_after_commit(note, after)  # the jobs' intents commit with the edit
    commit()
    if held is not None:
        held.open_case(note.id)
    return load_note(note.id)


def delete_note(actor: User, note_id: int) -> None:
    """Soft delete by the author or a moderator; a second delete is a 404."""
    note = _locked_note(actor, note_id)
    if not can_delete_note(actor, note):
        raise Forbidden("Only the author or a moderator can delete this note.")
    result = db.session.execute(
        update(Note)
        .where(Note.id == note.id, Note.deleted_at.is_(None))
        .values(deleted_at=utcnow())
    )
    touched("notes", [note.id])  # its card goes (an SQL update: the ORM does not see it)
    if result.rowcount == 1 and note.status == "published":  # type: ignore[attr-defined]
        adjust_published_counters(note, -1)
    enqueue(index_notes, [note.id])  # these commit with the deletion
    enqueue(settle_content, "note", note.id)  # a deleted note's points go back
    commit()


def view_note(actor: User | None, note_id: int) -> Note:
    """GET /notes/{id}: the note if visible; counts the view (not the author's own) in the
    view buffer, which `flush_views` applies: a read is not a write transaction."""
    from app.notes.services.views import record_view

    note = _visible_note(actor, note_id)
    if note.status == "published":
        # What a signed-in user opens also teaches their interest profile (`record_view`).
        record_view(actor.id if actor is not None else None, note.id, note.author_id)
    return note


def list_user_notes(
    actor: User | None,
    user_id: int,
    status: str,
    page: PageRequest,
) -> PageResult[Note]:
    """A user's notes, newest first: published for everyone, drafts for the author only.

    Keyset pagination on (published_at, id) or, for drafts, (created_at, id).
    """
    # A banned account looks as if it did not exist (as its profile and albums do).
    if not 1 <= user_id <= MAX_ID or not can_see_user(db.session.get(User, user_id)):
        raise NotFound("No such user.", code="user_not_found")
    if status == "draft" and (actor is None or actor.id != user_id):
        raise Forbidden("Drafts are private to their author.", code="drafts_private")
    key = Note.published_at if status == "published" else Note.created_at
    stmt = select(Note).where(
        Note.author_id == user_id,
        Note.status == status,
        note_visible_clause(actor, staff_reach=False),
    )
    if page.after is not None:
        stamp, last_id = page.after
        stmt = stmt.where(or_(key < stamp, and_(key == stamp, Note.id < last_id)))
    stmt = (
        stmt.order_by(key.desc(), Note.id.desc())
        .limit(page.limit + 1)
        .options(lazyload("*"))  # the cards are built by id (`cards_in_order`)
        .execution_options(populate_existing=True)
    )
    return page.result(list(db.session.scalars(stmt).unique()), note_cursor)


def note_cursor(note: Note) -> tuple[datetime, int]:
    stamp = note.published_at if note.status == "published" else note.created_at
    return stamp or note.created_at, note.id


# --- likes -----------------------------------------------------------------------------------


def _like_count(note_id: int) -> int:
    return int(
        db.session.scalar(select(func.coalesce(Note.like_count, 0)).where(Note.id == note_id))
    )


@retry_on_conflict()
def like_note(actor: User, note_id: int) -> dict[str, Any]:
    """Idempotent: counters move only when this call created the like."""
    db.session.get(Note, _note_id(note_id), populate_existing=True)
    note = get_interactable_note(actor, note_id)
    created = inserted(NoteLike, {"user_id": actor.id, "note_id": note.id})
    if created:
        touched("flags", [actor.id])  # the viewer's own flags on cards
        bump(Note, note.id, like_count=1)
        bump(User, note.author_id, like_received_count=1)
        # In the outbox, committed with the like: a like is never left without its effects.
        enqueue(deliver_notification, "like", note.author_id, actor.id, note.id, None, None)
        enqueue(
            record_interaction,
            "like_received",
            note.author_id,
            actor.id,
            "note",
            note.id,
            f"like:{actor.id}:{note.id}",
        )
    commit()
    if created:  # the viewer's ranked pages were made without this like: rank them anew
        get_feed_store().invalidate_buffers(str(actor.id))
    count = _like_count(note.id)
    db.session.commit()
    return {"liked": True, "like_count": count}


@retry_on_conflict()
def unlike_note(actor: User, note_id: int) -> dict[str, Any]:
    """Idempotent: counters move only when this call deleted the like."""
    db.session.get(Note, _note_id(note_id), populate_existing=True)
    note = get_interactable_note(actor, note_id)
    deleted = db.session.execute(
        delete(NoteLike)
        .where(NoteLike.user_id == actor.id, NoteLike.note_id == note.id)
        .returning(NoteLike.suspect)
    ).first()
    if deleted is not None:
        touched("flags", [actor.id])
    # A suspect like (bought engagement) had already left the counts.
    if deleted is not None and not deleted.suspect:
        bump(Note, note.id, like_count=-1)
        bump(User, note.author_id, like_received_count=-1)
    db.session.commit()
    count = _like_count(note.id)
    db.session.commit()
    return {"liked": False, "like_count": count}
