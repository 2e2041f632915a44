"""Daily check-in (签到) with streaks, and daily and weekly tasks with progress and rewards."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.core.errors import Conflict
from app.core.extensions import db
from app.growth.config import GROWTH, Task
from app.growth.ledger import award, count_actions, lock_user, today
from app.growth.models import CheckIn, PointsEntry


def period_start(task: Task, day: date) -> date:
    return day if task.period == "daily" else day - timedelta(days=day.weekday())


def _period_key(task: Task, day: date) -> str:
    start = period_start(task, day)
    return (
        start.isoformat()
        if task.period == "daily"
        else f"{start.isocalendar()[0]}-W{start.isocalendar()[1]:02d}"
    )


def check_in(user: User) -> dict[str, Any]:
    """POST /me/checkin: once per UTC day; a streak grows on consecutive days."""
    day = today()
    lock_user(user.id)
    if db.session.get(CheckIn, (user.id, day)) is not None:
        db.session.rollback()
        raise Conflict("Already checked in today.", code="already_checked_in")
    yesterday = db.session.get(CheckIn, (user.id, day - timedelta(days=1)))
    streak = yesterday.streak + 1 if yesterday is not None else 1
    db.session.add(CheckIn(user_id=user.id, day=day, streak=streak))
    db.session.flush()
    amount = GROWTH.points["checkin"] + min(streak - 1, GROWTH.checkin_streak_bonus_max)
    entry = award(user.id, "checkin", f"checkin:{user.id}:{day.isoformat()}", amount=amount)
    reward_completed(user.id, "checkin")
    db.session.commit()
    return {"streak": streak, "points_awarded": entry.delta if entry else 0, "day": day.isoformat()}


def reward_completed(user_id: int, action: str) -> None:
    """Pay the reward of every task of this action the user has just completed (once per
    period, by key). In the caller's transaction."""
    day = today()
    for task in GROWTH.tasks:
        if task.action != action:
            continue
        if count_actions(user_id, action, period_start(task, day)) >= task.target:
            award(
                user_id,
                "task",
                f"task:{task.code}:{user_id}:{_period_key(task, day)}",
                amount=task.reward,
                reason=f"task: {task.title}",
            )


def task_list(user: User) -> list[dict[str, Any]]:
    day = today()
    out = []
    for task in GROWTH.tasks:
        done = count_actions(user.id, task.action, period_start(task, day))
        key = f"task:{task.code}:{user.id}:{_period_key(task, day)}"
        rewarded = db.session.scalar(select(PointsEntry.id).where(PointsEntry.key == key))
        out.append(
            {
                "code": task.code,
                "title": task.title,
                "period": task.period,
                "progress": min(done, task.target),
                "target": task.target,
                "reward_points": task.reward,
                "completed": done >= task.target,
                "rewarded": rewarded is not None,
            }
        )
    return out


def streak_of(user: User) -> int:
    """The current streak: today's, or yesterday's if today's check-in is still to come."""
    day = today()
    for candidate in (day, day - timedelta(days=1)):
        row = db.session.get(CheckIn, (user.id, candidate))
        if row is not None:
            return row.streak
    return 0
