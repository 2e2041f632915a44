"""Lifecycle stages: the rule (`classify`, pure) and the recompute that stores them per user
(`recompute`, in batches, idempotent: a second run on the same day changes nothing).

The stage depends only on today, the sign-up day and the visit days, never on when the job
last ran, so a missed day or a rerun gives the same stages. `since` and `previous_stage`
move only when the stage changes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from app.accounts.models import User, UserActivityDay
from app.core.extensions import db
from app.core.models import utcnow
from app.core.sql import id_in, insert_ignore
from app.lifecycle.config import LIFECYCLE, LifecycleConfig
from app.lifecycle.models import UserLifecycle


def classify(
    today: date,
    signup_day: date,
    visit_days: Iterable[date],
    config: LifecycleConfig = LIFECYCLE,
) -> str:
    """The stage of a user who signed up on `signup_day` and visited on `visit_days` (any
    order; days after `today` are ignored). See `app.lifecycle.config` for the rules."""
    if (today - signup_day).days < config.new_days:
        return "new"
    days = sorted({day for day in visit_days if signup_day <= day <= today})
    last = days[-1] if days else signup_day
    absent = (today - last).days
    if absent >= config.churned_after_days:
        return "churned"
    if absent >= config.at_risk_after_days:
        return "at_risk"
    previous = signup_day
    for day in days:
        if (today - day).days < config.returned_days and (
            (day - previous).days >= config.churned_after_days
        ):
            return "returned"
        previous = day
    return "active"


def _visits(user_ids: list[int], window_start: date, today: date) -> dict[int, list[date]]:
    """Each user's visit days from `window_start` to `today`, plus their last one before it
    (enough for `classify`: the gap before the first recent visit is all it needs)."""
    visits: dict[int, list[date]] = defaultdict(list)
    for user_id, day in db.session.execute(
        select(UserActivityDay.user_id, UserActivityDay.day).where(
            id_in(UserActivityDay.user_id, user_ids),
            UserActivityDay.day >= window_start,
            UserActivityDay.day <= today,
        )
    ):
        visits[user_id].append(day)
    for user_id, day in db.session.execute(
        select(UserActivityDay.user_id, func.max(UserActivityDay.day))
        .where(id_in(UserActivityDay.user_id, user_ids), UserActivityDay.day < window_start)
        .group_by(UserActivityDay.user_id)
    ):
        if day is not None:
            visits[user_id].append(day)
    return visits


def _recompute_batch(
    users: list[tuple[int, datetime]], today: date, now: datetime, config: LifecycleConfig
) -> tuple[Counter[str], int]:
    ids = [user_id for user_id, _ in users]
    window_start = today - timedelta(days=max(config.returned_days - 1, 0))
    visits = _visits(ids, window_start, today)
    stored = {
        row.user_id: (row.stage, row.last_visit_day)
        for row in db.session.execute(
            select(UserLifecycle.user_id, UserLifecycle.stage, UserLifecycle.last_visit_day).where(
                id_in(UserLifecycle.user_id, ids)
            )
        )
    }
    stages: Counter[str] = Counter()
    changed = 0
    for user_id, created_at in users:
        days = visits.get(user_id, [])
        stage = classify(today, created_at.date(), days, config)
        last_visit = max(days) if days else None
        stages[stage] += 1
        old = stored.get(user_id)
        if old is None:
            created = db.session.execute(
                insert_ignore(
                    UserLifecycle,
                    {
                        "user_id": user_id,
                        "stage": stage,
                        "since": now,
                        "previous_stage": None,
                        "last_visit_day": last_visit,
                        "computed_at": now,
                    },
                )
            ).rowcount
            changed += created
        elif old[0] != stage:
            # Compare-and-set on the old stage: a concurrent recompute changes it once.
            changed += db.session.execute(
                update(UserLifecycle)
                .where(UserLifecycle.user_id == user_id, UserLifecycle.stage == old[0])
                .values(
                    stage=stage,
                    since=now,
                    previous_stage=old[0],
                    last_visit_day=last_visit,
                    computed_at=now,
                )
            ).rowcount
        elif old[1] != last_visit:
            db.session.execute(
                update(UserLifecycle)
                .where(UserLifecycle.user_id == user_id)
                .values(last_visit_day=last_visit, computed_at=now)
            )
    db.session.execute(
        update(UserLifecycle).where(id_in(UserLifecycle.user_id, ids)).values(computed_at=now)
    )
    db.session.commit()
    return stages, changed


def recompute(
    today: date | None = None, now: datetime | None = None, config: LifecycleConfig = LIFECYCLE
) -> dict[str, Any]:
    """Every account's stage (official accounts aside: they are the platform's own), stored
    `config.recompute_batch` users per transaction. Returns the counts by stage and how many
    rows changed."""
    now = now or utcnow()
    today = today or now.date()
    totals: Counter[str] = Counter()
    changed = users = 0
    after = 0
    while True:
        batch = [
            (row.id, row.created_at)
            for row in db.session.execute(
                select(User.id, User.created_at)
                .where(User.id > after, User.official.is_(False))
                .order_by(User.id)
                .limit(config.recompute_batch)
            )
        ]
        if not batch:
            break
        stages, moved = _recompute_batch(batch, today, now, config)
        totals.update(stages)
        changed += moved
        users += len(batch)
        after = batch[-1][0]
    return {"users": users, "changed": changed, "stages": dict(totals), "day": today.isoformat()}
