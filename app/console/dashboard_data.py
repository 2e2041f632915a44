"""The dashboard's reads that no service offers: day-by-day activity, the weekly active rate
over time, sign-ups by source, content per day and moderation health by week.

Every day is a UTC day (as `user_activity_days` and `app.admin.services.platform_stats`
count them); each function takes `today` so tests can pin it. The statements are SQLAlchemy
`select()`s that run on SQLite and PostgreSQL alike: a timestamp's day is `utc_day(column)`,
and the sliding 7-day windows are joined against a small table of (day, window start) rows
built from literals, never dialect date arithmetic.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Select, and_, distinct, func, literal, select, union, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.accounts.models import User, UserActivityDay
from app.core.extensions import db
from app.notes.models import Comment, Note
from moderation.models import Case, ModerationAction

#: The ranges the dashboard offers (days), and the one it shows by default.
DAY_CHOICES = (7, 30, 90)
DEFAULT_DAYS = 30
#: Seed document 004: a healthy community has 20 % of its members speaking in a week.
HEALTH_LINE = 0.2
WEEK_DAYS = 7
#: Case severities (`moderation/taxonomy.json`: 1 clickbait … 5 illegal).
SEVERITIES = (1, 2, 3, 4, 5)


class utc_day(FunctionElement[date]):  # lower case: it reads as SQL
    """The UTC calendar day of a timestamp column, as a DATE."""

    type = Date()
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as text without a zone (`UTCDateTime`)
    return f"date({compiler.process(element.clauses, **kw)})"


def clamp_days(value: Any) -> int:
    """`?days=`: one of DAY_CHOICES, anything else is the default."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_DAYS
    return days if days in DAY_CHOICES else DEFAULT_DAYS


def day_range(days: int, today: date) -> list[date]:
    """The last `days` days, oldest first, ending today."""
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _windows(days: list[date], span: int) -> Any:
    """A derived table (day, start): each day with the first day of its `span`-day window."""
    rows = [
        select(
            literal(day, Date).label("day"),
            literal(day - timedelta(days=span - 1), Date).label("start"),
        )
        for day in days
    ]
    return union_all(*rows).subquery("windows")


def _per_day(stmt: Select[Any]) -> dict[date, int]:
    return {_as_date(day): int(count) for day, count in db.session.execute(stmt)}


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):  # a driver that hands back text
        return date.fromisoformat(value[:10])
    return value


# -- activity ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActivityDay:
    day: date
    dau: int
    wau: int


def activity(days: int, today: date) -> list[ActivityDay]:
    """Daily and weekly (the 7 days ending that day) active users, from `user_activity_days`."""
    span = day_range(days, today)
    dau = _per_day(
        select(UserActivityDay.day, func.count(distinct(UserActivityDay.user_id)))
        .where(UserActivityDay.day >= span[0], UserActivityDay.day <= today)
        .group_by(UserActivityDay.day)
    )
    windows = _windows(span, WEEK_DAYS)
    wau = _per_day(
        select(windows.c.day, func.count(distinct(UserActivityDay.user_id)))
        .select_from(windows)
        .join(
            UserActivityDay,
            and_(UserActivityDay.day >= windows.c.start, UserActivityDay.day <= windows.c.day),
        )
        .group_by(windows.c.day)
    )
    return [ActivityDay(day, dau.get(day, 0), wau.get(day, 0)) for day in span]


# -- the weekly active rate ----------------------------------------------------------------------
@dataclass(frozen=True)
class RateDay:
    day: date
    contributors: int
    members: int

    @property
    def rate(self) -> float:
        return round(self.contributors / self.members, 4) if self.members else 0.0


def _member() -> tuple[Any, ...]:
    """Members as `platform_stats` counts them: people (not official accounts), not banned."""
    return (User.official.is_(False), User.status == "active")


def weekly_active_rate(days: int, today: date) -> list[RateDay]:
    """Per day: members who posted or commented in the 7 days ending that day, over the
    members who had signed up by then (the measure of `platform_stats`, day by day)."""
    span = day_range(days, today)
    first = span[0] - timedelta(days=WEEK_DAYS - 1)
    posted = select(Note.author_id.label("user_id"), utc_day(Note.published_at).label("day")).where(
        Note.status == "published",
        Note.deleted_at.is_(None),
        Note.published_at >= _start_of(first),
    )
    commented = select(
        Comment.author_id.label("user_id"), utc_day(Comment.created_at).label("day")
    ).where(
        Comment.status == "published",
        Comment.deleted_at.is_(None),
        Comment.created_at >= _start_of(first),
    )
    spoke = union(posted, commented).subquery("spoke")
    windows = _windows(span, WEEK_DAYS)
    contributors = _per_day(
        select(windows.c.day, func.count(distinct(spoke.c.user_id)))
        .select_from(windows)
        .join(spoke, and_(spoke.c.day >= windows.c.start, spoke.c.day <= windows.c.day))
        .join(User, User.id == spoke.c.user_id)
        .where(*_member())
        .group_by(windows.c.day)
    )
    before = int(
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(*_member(), User.created_at < _start_of(span[0]))
        )
        or 0
    )
    joined = _per_day(
        select(utc_day(User.created_at), func.count())
        .where(*_member(), User.created_at >= _start_of(span[0]))
        .group_by(utc_day(User.created_at))
    )
    result = []
    members = before
    for day in span:
        members += joined.get(day, 0)
        result.append(RateDay(day, contributors.get(day, 0), members))
    return result


# -- sign-ups ------------------------------------------------------------------------------------
def signups(days: int, today: date) -> tuple[list[date], dict[str | None, list[int]]]:
    """Accounts created per day by sign-up source (None: no source recorded), the sources
    with the most sign-ups first."""
    span = day_range(days, today)
    index = {day: i for i, day in enumerate(span)}
    by_source: dict[str | None, list[int]] = {}
    rows = db.session.execute(
        select(utc_day(User.created_at), User.signup_source, func.count())
        .where(User.created_at >= _start_of(span[0]))
        .group_by(utc_day(User.created_at), User.signup_source)
    )
    for day, source, count in rows:
        position = index.get(_as_date(day))
        if position is None:
            continue
        by_source.setdefault(source, [0] * len(span))[position] += int(count)
    ordered = sorted(
        by_source.items(), key=lambda item: (-sum(item[1]), item[0] is None, item[0] or "")
    )
    return span, dict(ordered)


# -- content -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentDay:
    day: date
    notes: int
    comments: int


def content(days: int, today: date) -> list[ContentDay]:
    """Notes (drafts left out) and comments created per day."""
    span = day_range(days, today)
    since = _start_of(span[0])
    notes = _per_day(
        select(utc_day(Note.created_at), func.count())
        .where(Note.created_at >= since, Note.status != "draft")
        .group_by(utc_day(Note.created_at))
    )
    comments = _per_day(
        select(utc_day(Comment.created_at), func.count())
        .where(Comment.created_at >= since)
        .group_by(utc_day(Comment.created_at))
    )
    return [ContentDay(day, notes.get(day, 0), comments.get(day, 0)) for day in span]


# -- moderation health ---------------------------------------------------------------------------
def open_cases_by_severity() -> dict[int, int]:
    """The review queue (open and claimed cases) by severity, every severity listed."""
    rows = db.session.execute(
        select(Case.severity, func.count())
        .where(Case.status.in_(("open", "claimed")))
        .group_by(Case.severity)
    )
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, count in rows:
        counts[int(severity)] = counts.get(int(severity), 0) + int(count)
    return counts


def week_starts(days: int, today: date) -> list[date]:
    """The Mondays of the weeks the range touches, oldest first."""
    first = day_range(days, today)[0]
    monday = first - timedelta(days=first.weekday())
    weeks = []
    while monday <= today:
        weeks.append(monday)
        monday += timedelta(days=WEEK_DAYS)
    return weeks


def _week_of(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class DecisionWeek:
    week: date
    decisions: int
    median_hours: float | None


def decision_times(days: int, today: date) -> list[DecisionWeek]:
    """Per week (by the day of the decision): cases decided and the median hours from the
    case opening to its decision."""
    weeks = week_starts(days, today)
    hours: dict[date, list[float]] = defaultdict(list)
    rows = db.session.execute(
        select(Case.created_at, Case.decided_at).where(
            Case.decided_at.is_not(None), Case.decided_at >= _start_of(weeks[0])
        )
    )
    for created, decided in rows:
        hours[_week_of(decided)].append((decided - created).total_seconds() / 3600)
    return [
        DecisionWeek(
            week,
            len(hours[week]),
            round(statistics.median(hours[week]), 2) if hours[week] else None,
        )
        for week in weeks
    ]


@dataclass(frozen=True)
class ReversalWeek:
    week: date
    actions: int
    reversed: int

    @property
    def share(self) -> float:
        return round(self.reversed / self.actions, 4) if self.actions else 0.0


def reversals(days: int, today: date) -> list[ReversalWeek]:
    """Per week (by the day of the decision): actions taken and those since reversed on
    appeal (the share the moderation metrics report, week by week)."""
    weeks = week_starts(days, today)
    taken: dict[date, int] = defaultdict(int)
    undone: dict[date, int] = defaultdict(int)
    rows = db.session.execute(
        select(ModerationAction.created_at, ModerationAction.reversed_at).where(
            ModerationAction.created_at >= _start_of(weeks[0])
        )
    )
    for created, reversed_at in rows:
        week = _week_of(created)
        taken[week] += 1
        undone[week] += reversed_at is not None
    return [ReversalWeek(week, taken[week], undone[week]) for week in weeks]
