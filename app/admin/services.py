"""For admins: platform numbers (content counts, community health, where users came from) and
running the periodic jobs on demand."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import distinct, func, select

from app.accounts.models import User, UserActivityDay
from app.core.extensions import db
from app.core.models import utcnow
from app.core.policies import require
from app.feeds.state import forget_cached_models
from app.notes.models import Comment, Note, Topic
from app.schedule import periodic_job_definitions

WEEK_DAYS = 7


def can_view_stats(actor: User) -> bool:
    return actor.has_role("admin")


def _count(stmt: Any) -> int:
    return int(db.session.scalar(stmt) or 0)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def platform_stats(actor: User, today: date | None = None) -> dict[str, Any]:
    """Counts, DAU/WAU (UTC days from `user_activity_days`), the weekly active rate (members
    who posted or commented) and users per signup source."""
    require(can_view_stats(actor), "Only an admin may see platform statistics.")
    today = today or utcnow().date()
    week_start = today - timedelta(days=WEEK_DAYS - 1)
    users = _count(select(func.count()).select_from(User))
    live_note = (Note.status == "published", Note.deleted_at.is_(None))
    counts = {
        "users": users,
        "notes": _count(select(func.count()).select_from(Note).where(*live_note)),
        "comments": _count(
            select(func.count())
            .select_from(Comment)
            .where(Comment.status == "published", Comment.deleted_at.is_(None))
        ),
        "topics": _count(select(func.count()).select_from(Topic)),
        "official_accounts": _count(
            select(func.count()).select_from(User).where(User.official.is_(True))
        ),
    }
    dau = _count(
        select(func.count(distinct(UserActivityDay.user_id))).where(UserActivityDay.day == today)
    )
    weekly_active = (
        select(UserActivityDay.user_id)
        .where(UserActivityDay.day >= week_start, UserActivityDay.day <= today)
        .distinct()
    )
    wau = _count(select(func.count()).select_from(weekly_active.subquery()))
    # Community health (seed 004): the share of members (people, not official accounts) who
    # posted or commented in the last 7 days.
    member = (User.official.is_(False), User.status == "active")
    members = _count(select(func.count()).select_from(User).where(*member))
    week_start_time = utcnow() - timedelta(days=WEEK_DAYS)
    posters = select(Note.author_id).where(*live_note, Note.published_at >= week_start_time)
    commenters = select(Comment.author_id).where(
        Comment.status == "published",
        Comment.deleted_at.is_(None),
        Comment.created_at >= week_start_time,
    )
    contributors = _count(
        select(func.count()).where(*member, User.id.in_(posters.union(commenters)))
    )
    active_ids = weekly_active.subquery()
    by_source = db.session.execute(
        select(
            User.signup_source,
            func.count(User.id),
            func.count(active_ids.c.user_id),
        )
        .outerjoin(active_ids, active_ids.c.user_id == User.id)
        .group_by(User.signup_source)
        .order_by(func.count(User.id).desc(), User.signup_source)
    ).all()
    return {
        "counts": counts,
        "health": {
            "day": today.isoformat(),
            "dau": dau,
            "wau": wau,
            "weekly_visit_rate": _rate(wau, users),
            "members": members,
            "weekly_contributors": contributors,
            "weekly_active_rate": _rate(contributors, members),
        },
        "signup_sources": [
            {
                "source": source,
                "users": total,
                "weekly_active": active,
                "weekly_active_rate": _rate(active, total),
            }
            for source, total, active in by_source
        ],
    }


def rebuild_ranking(actor: User) -> dict[str, Any]:
    """Run the periodic jobs now (embedded mode has no worker to run them): impressions, hot
    scores and lists, item-CF and the rest; then this process drops its cached copies of the
    catalogue and the model, so the next page is ranked on the new ones. Results by job name."""
    require(actor.has_role("admin"), "Only an admin may rebuild the ranking.")
    results = {definition.name: definition.function() for definition in periodic_job_definitions()}
    forget_cached_models()
    return results
