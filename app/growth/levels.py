"""Levels from original contribution (never from spendable points), and the privileges they
unlock, checked where they apply."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.errors import Forbidden
from app.core.extensions import db
from app.core.models import utcnow
from app.core.sql import touched
from app.growth.config import GROWTH, NEW_USER_WINDOW, Level
from app.growth.ledger import earned_today
from app.growth.tasks import streak_of
from app.notes.models import Collect, Comment, Note, NoteLike

_LIVE_NOTE = (Note.status == "published", Note.deleted_at.is_(None))


def contribution(user_id: int) -> dict[str, int]:
    """What a user's published work earned from others: the basis of levels."""
    notes = select(Note.id).where(Note.author_id == user_id, *_LIVE_NOTE)
    counts = {
        "published_note": db.session.scalar(
            select(func.count()).select_from(Note).where(Note.author_id == user_id, *_LIVE_NOTE)
        ),
        "like_received": db.session.scalar(
            select(func.count())
            .select_from(NoteLike)
            .where(
                NoteLike.note_id.in_(notes),
                NoteLike.user_id != user_id,
                NoteLike.suspect.is_(False),  # bought engagement counts once cleared
            )
        ),
        "collect_received": db.session.scalar(
            select(func.count())
            .select_from(Collect)
            .where(
                Collect.note_id.in_(notes),
                Collect.user_id != user_id,
                Collect.suspect.is_(False),
            )
        ),
        "comment_received": db.session.scalar(
            select(func.count())
            .select_from(Comment)
            .where(
                Comment.note_id.in_(notes),
                Comment.author_id != user_id,
                Comment.status == "published",
                Comment.deleted_at.is_(None),
            )
        ),
    }
    counts = {key: int(value or 0) for key, value in counts.items()}
    counts["total"] = sum(GROWTH.contribution[key] * n for key, n in counts.items())
    return counts


def level_of(user: User) -> Level:
    by_number = {level.number: level for level in GROWTH.levels}
    return by_number.get(user.level, GROWTH.levels[0])


def is_new_user(user: User, now: datetime | None = None) -> bool:
    return user.created_at is not None and (now or utcnow()) - user.created_at < NEW_USER_WINDOW


def privileges_of(user: User) -> list[str]:
    privileges = list(GROWTH.privileges_at(user.level))
    if is_new_user(user):
        privileges += GROWTH.new_user_privileges
    return privileges


def has_privilege(user: User, privilege: str) -> bool:
    return privilege in privileges_of(user)


def require_privilege(user: User, privilege: str) -> None:
    """403 `privilege_required` naming the privilege and the level that unlocks it."""
    if has_privilege(user, privilege):
        return
    raise Forbidden(
        f"This needs the {privilege} privilege.",
        code="privilege_required",
        details={"privilege": privilege, "level_required": GROWTH.level_required(privilege)},
    )


def max_images(user: User) -> int:
    return GROWTH.images_more if has_privilege(user, "more_images") else GROWTH.images_base


def max_body(user: User) -> int:
    return GROWTH.body_long if has_privilege(user, "long_note") else GROWTH.body_base


def refresh_level(user_id: int) -> tuple[int, int] | None:
    """Move the user to the level their contribution reached (levels never go down: a level
    is a recognition, not a balance). Returns (old, new) on a level-up."""
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None:
        return None
    reached = GROWTH.level_for(contribution(user_id)["total"]).number
    if reached <= user.level:
        return None
    old = user.level
    moved = db.session.execute(
        update(User)
        .where(User.id == user_id, User.level < reached)
        .values(level=reached, updated_at=User.updated_at)
    ).rowcount
    touched("users", [user_id])  # the level shows on their cards
    return (old, reached) if moved else None


def growth_view(user: User) -> dict[str, Any]:
    """GET /me/growth, from fresh state (points and levels move in SQL and in jobs)."""
    db.session.refresh(user)
    made = contribution(user.id)
    level = level_of(user)
    following = GROWTH.next_level(level)
    if following is None:
        progress = 1.0
    else:
        span = following.contribution - level.contribution
        progress = max(0.0, min(1.0, (made["total"] - level.contribution) / span))
    return {
        "points": user.points,
        "level": level.number,
        "level_name": level.name,
        "mascot": level.mascot,
        "progress": round(progress, 4),
        "contribution": made,
        "next_level": (
            {
                "level": following.number,
                "level_name": following.name,
                "contribution_required": following.contribution,
            }
            if following
            else None
        ),
        "privileges": privileges_of(user),
        "daily_cap": GROWTH.daily_cap,
        "earned_today": earned_today(user.id),
        "streak": streak_of(user),
        "levels": [
            {
                "level": lv.number,
                "level_name": lv.name,
                "mascot": lv.mascot,
                "contribution_required": lv.contribution,
                "privileges": list(lv.privileges),
            }
            for lv in GROWTH.levels
        ],
    }


NEW_CREATORS_TTL_SECONDS = 30.0


def new_creator_boosts() -> dict[int, float]:
    """author id → the exploration boost of a new account's first notes (a new-user
    privilege), recomputed at most every 30 s per process."""
    cached = current_app.extensions.get("sprout.new_creators")
    now = time.monotonic()
    if cached is not None and now - cached[0] < NEW_CREATORS_TTL_SECONDS:
        return cached[1]
    rows = db.session.scalars(
        select(User.id).where(
            User.created_at >= utcnow() - NEW_USER_WINDOW,
            User.note_count.between(1, GROWTH.new_creator_boosted_notes),
            User.official.is_(False),
            User.status == "active",
        )
    )
    boosts = {user_id: GROWTH.new_creator_boost for user_id in rows}
    current_app.extensions["sprout.new_creators"] = (now, boosts)
    return boosts
