"""What the rest of the app tells the growth system, as jobs enqueued after the commit that
made the event durable: each is idempotent (ledger keys), so a retry never pays twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core.extensions import db
from app.core.jobs import commit, enqueue, job
from app.growth import campaigns, invites, tasks
from app.growth.config import GROWTH
from app.growth.ledger import award, lock_user, settle_keys, settle_reversals
from app.growth.levels import refresh_level
from app.notes.models import Collect, Comment, Note, NoteLike
from app.notifications.jobs import deliver_notification
from moderation.models import EngagementFlag


def _level_up(user_id: int) -> None:
    moved = refresh_level(user_id)
    if moved is not None:  # the notice's intent commits with the new level
        level = next(lv for lv in GROWTH.levels if lv.number == moved[1])
        enqueue(
            deliver_notification,
            "system",
            user_id,
            None,
            None,
            None,
            {
                "type": "level_up",
                "level": level.number,
                "level_name": level.name,
                "mascot": level.mascot,
                "privileges": list(GROWTH.privileges_at(level.number)),
            },
        )
    commit()


def _held_as_suspect(action: str, actor_id: int, note_id: int) -> bool:
    """The like or collect is suspect engagement (or was removed as fake): it pays nothing
    unless a moderator clears it (`settle_engagement` pays it then)."""
    kind = {"like_received": "like", "collect_received": "collect"}.get(action)
    if kind is None:
        return False
    model = NoteLike if kind == "like" else Collect
    row_suspect = db.session.scalar(
        select(model.suspect).where(model.user_id == actor_id, model.note_id == note_id)
    )
    flagged = db.session.scalar(
        select(EngagementFlag.id).where(
            EngagementFlag.kind == kind,
            EngagementFlag.actor_id == actor_id,
            EngagementFlag.target_id == note_id,
            EngagementFlag.status.in_(("suspect", "removed")),
        )
    )
    return bool(row_suspect) or flagged is not None


@job("default", retries=3)
def record_interaction(
    action: str, owner_id: int, actor_id: int, ref_type: str, ref_id: int, key: str
) -> dict[str, Any]:
    """Someone liked, collected or commented on the owner's content."""
    if ref_type == "note":
        # Under the owner's lock, as the claw-back of a flag: whichever runs second sees
        # the other (a flag committed first is read here; a payment first is clawed back).
        lock_user(owner_id)
        if _held_as_suspect(action, actor_id, ref_id):
            db.session.commit()
            return {"paid": 0, "suspect": True}
    entry = award(owner_id, action, key, ref=(ref_type, ref_id), actor_id=actor_id)
    db.session.commit()
    _level_up(owner_id)
    return {"paid": entry.delta if entry else 0}


@job("default", retries=3)
def settle_engagement(
    kind: str, note_id: int, actor_ids: list[int], counted: bool
) -> dict[str, Any]:
    """Likes or collects on a note became suspect (`counted=False`: what they paid is clawed
    back) or were cleared by a moderator (what they paid is restored; what they never paid,
    because they were held before the payment, is paid now, under the same keys). Levels
    follow. Idempotent."""
    owner_id = db.session.scalar(select(Note.author_id).where(Note.id == note_id))
    if owner_id is None:
        db.session.rollback()
        return {"missing": True}
    keys = [f"{kind}:{actor}:{note_id}" for actor in actor_ids]
    lock_user(owner_id)
    if not counted:
        written = settle_keys(keys, removed=True)
    else:
        note = db.session.get(Note, note_id, populate_existing=True)
        live = note is not None and note.status == "published" and note.deleted_at is None
        written = settle_keys(keys, removed=False) if live else 0
        action = f"{kind}_received"
        for actor, key in zip(actor_ids, keys, strict=True):
            if live and not _held_as_suspect(action, actor, note_id):
                written += (
                    award(owner_id, action, key, ref=("note", note_id), actor_id=actor) is not None
                )
    db.session.commit()
    _level_up(owner_id)
    return {"written": written}


@job("default", retries=3)
def record_action(action: str, user_id: int, key: str, ref_type: str, ref_id: int) -> None:
    """The user did something that pays (a share), then their tasks move."""
    award(user_id, action, key, ref=(ref_type, ref_id))
    tasks.reward_completed(user_id, action)
    db.session.commit()


@job("default", retries=3)
def settle_content(kind: str, content_id: int) -> dict[str, Any]:
    """Points follow what is visible: published content pays once (after review, if it was
    held); removed or deleted content is clawed back, and restored if it comes back."""
    row = db.session.get(Note if kind == "note" else Comment, content_id, populate_existing=True)
    if row is None:
        db.session.rollback()
        return {"missing": True}
    live = row.status == "published" and row.deleted_at is None
    gone = row.status == "removed" or row.deleted_at is not None
    ref = (kind, content_id)
    if live:
        settle_reversals(ref, removed=False)
        if kind == "note":
            award(row.author_id, "publish_note", f"publish_note:{row.id}", ref=ref)
            tasks.reward_completed(row.author_id, "publish_note")
            campaigns.check_in(row)
            invites.note_went_live(row.author_id)  # pays whoever brought the author in
        else:
            award(row.author_id, "comment", f"comment:{row.id}", ref=ref)
            tasks.reward_completed(row.author_id, "comment")
            owner_id = db.session.scalar(select(Note.author_id).where(Note.id == row.note_id))
            if owner_id is not None:
                award(
                    owner_id,
                    "comment_received",
                    f"comment_received:{row.id}",
                    ref=ref,
                    actor_id=row.author_id,
                )
    elif gone:
        settle_reversals(ref, removed=True)
    db.session.commit()
    affected = {row.author_id}
    if kind == "comment":
        owner = db.session.scalar(select(Note.author_id).where(Note.id == row.note_id))
        if owner is not None:
            affected.add(owner)
    for user_id in affected:
        _level_up(user_id)
    return {"live": live, "gone": gone}
