"""Use cases of the lifecycle domain: stage counts, the recompute on demand, recall campaigns
(create, list, report) and retention cohorts."""

from __future__ import annotations

import secrets
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.accounts.models import User, UserActivityDay
from app.core.errors import NotFound, ValidationFailed
from app.core.extensions import db
from app.core.jobs import commit, enqueue
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import require
from app.core.sql import id_in, newest_first
from app.lifecycle import stages, stats
from app.lifecycle.config import LIFECYCLE, RECALL, RETENTION, STAGES
from app.lifecycle.jobs import deliver_recall_campaign
from app.lifecycle.models import RecallCampaign, RecallRecipient, UserLifecycle
from app.lifecycle.policies import (
    can_manage_recalls,
    can_recompute_lifecycle,
    can_view_lifecycle,
    can_view_retention,
)
from app.lifecycle.schemas import CampaignIn

USER_CHUNK = 1_000


# --- stages ---------------------------------------------------------------------------------


def _zero() -> dict[str, int]:
    return dict.fromkeys(STAGES, 0)


def lifecycle_overview(actor: User) -> dict[str, Any]:
    """Accounts by stage and, per sign-up source, by stage (as the last recompute found)."""
    require(can_view_lifecycle(actor), "Only editors and admins may see lifecycle stages.")
    totals = _zero()
    by_source: dict[str | None, dict[str, int]] = defaultdict(_zero)
    for source, stage, count in db.session.execute(
        select(User.signup_source, UserLifecycle.stage, func.count())
        .join(User, User.id == UserLifecycle.user_id)
        .where(User.official.is_(False))
        .group_by(User.signup_source, UserLifecycle.stage)
    ):
        if stage in totals:
            totals[stage] += int(count)
            by_source[source][stage] += int(count)
    accounts = int(
        db.session.scalar(select(func.count()).select_from(User).where(User.official.is_(False)))
        or 0
    )
    classified = sum(totals.values())
    sources = sorted(by_source.items(), key=lambda kv: (-sum(kv[1].values()), kv[0] or ""))
    return {
        "users": classified,
        "unclassified": max(accounts - classified, 0),
        "stages": totals,
        "by_source": [
            {"source": source, "users": sum(counts.values()), "stages": counts}
            for source, counts in sources
        ],
        "computed_at": db.session.scalar(select(func.max(UserLifecycle.computed_at))),
        "rules": {
            "new_days": LIFECYCLE.new_days,
            "at_risk_after_days": LIFECYCLE.at_risk_after_days,
            "churned_after_days": LIFECYCLE.churned_after_days,
            "returned_days": LIFECYCLE.returned_days,
        },
    }


def recompute_now(actor: User) -> dict[str, Any]:
    """The daily recompute, now (embedded mode has no worker to run it daily)."""
    require(can_recompute_lifecycle(actor), "Only an admin may recompute lifecycle stages.")
    return stages.recompute()


# --- recall campaigns -----------------------------------------------------------------------


def _get(campaign_id: int) -> RecallCampaign:
    campaign = db.session.get(RecallCampaign, campaign_id)
    if campaign is None:
        raise NotFound("No such recall campaign.", code="campaign_not_found")
    return campaign


def create_campaign(actor: User, data: CampaignIn) -> RecallCampaign:
    """A campaign for the users in `data.stage`; delivery starts at `starts_at` (now when
    left out): at once through a job, later through the periodic check for due campaigns."""
    require(can_manage_recalls(actor), "Only admins may run recall campaigns.")
    now = utcnow()
    starts_at = data.starts_at or now
    if starts_at < now - timedelta(hours=RECALL.max_start_past_hours):
        raise ValidationFailed(
            "`starts_at` is in the past.",
            code="starts_at_in_past",
            details={"field": "starts_at"},
        )
    if starts_at > now + timedelta(days=RECALL.max_start_future_days):
        raise ValidationFailed(
            f"`starts_at` is more than {RECALL.max_start_future_days} days ahead.",
            code="starts_at_too_late",
            details={"field": "starts_at"},
        )
    campaign = RecallCampaign(
        stage=data.stage,
        title=data.title,
        message=data.message,
        holdout_share=data.holdout_share,
        salt=secrets.token_hex(8),
        status="scheduled",
        starts_at=starts_at,
        created_by_id=actor.id,
    )
    db.session.add(campaign)
    db.session.flush()
    if campaign.starts_at <= now:
        enqueue(deliver_recall_campaign, campaign.id)  # in the outbox, with the campaign
    commit()
    db.session.refresh(campaign)  # embedded mode delivered it already, inline
    return campaign


def _counts(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(Counter)
    if campaign_ids:
        for campaign_id, status, count in db.session.execute(
            select(RecallRecipient.campaign_id, RecallRecipient.status, func.count())
            .where(id_in(RecallRecipient.campaign_id, campaign_ids))
            .group_by(RecallRecipient.campaign_id, RecallRecipient.status)
        ):
            out[campaign_id][status] += int(count)
    return out


def summary(by_status: dict[str, int]) -> dict[str, int]:
    return {
        "targeted": sum(by_status.values()),
        "treated": by_status.get("sent", 0),
        "holdout": by_status.get("holdout", 0),
        "muted": by_status.get("muted", 0),
        "skipped": by_status.get("recently_recalled", 0),
        "pending": by_status.get("pending", 0) + by_status.get("deciding", 0),
    }


def list_campaigns(
    actor: User, page: PageRequest
) -> PageResult[tuple[RecallCampaign, dict[str, int]]]:
    require(can_manage_recalls(actor), "Only admins may see recall campaigns.")
    stmt = newest_first(select(RecallCampaign), RecallCampaign.id, page.limit, page.after_id)
    result = page.by_id(list(db.session.scalars(stmt)))
    counts = _counts([campaign.id for campaign in result.items])
    return result.map(lambda campaign: (campaign, summary(counts.get(campaign.id, {}))))


def _returned_users(decided: list[tuple[int, date]], window_days: int) -> set[int]:
    """Users with a visit day in (send day, send day + window_days]."""
    returned: set[int] = set()
    for start in range(0, len(decided), USER_CHUNK):
        chunk = decided[start : start + USER_CHUNK]
        sent_on = dict(chunk)
        first = min(sent_on.values())
        last = max(sent_on.values()) + timedelta(days=window_days)
        for user_id, day in db.session.execute(
            select(UserActivityDay.user_id, UserActivityDay.day).where(
                id_in(UserActivityDay.user_id, list(sent_on)),
                UserActivityDay.day > first,
                UserActivityDay.day <= last,
            )
        ):
            if 0 < (day - sent_on[user_id]).days <= window_days:
                returned.add(user_id)
    return returned


def _arm(users: int, returned: int) -> dict[str, Any]:
    interval = stats.wilson(returned, users, RECALL.confidence)
    return {
        "users": users,
        "returned": returned,
        "rate": round(returned / users, 6) if users else None,
        "interval": interval.as_dict() if interval else None,
    }


def campaign_report(
    actor: User, campaign_id: int, today: date | None = None
) -> tuple[RecallCampaign, dict[str, Any]]:
    """The campaign with its counts, and the return rates within `return_window_days` of the
    send (a return: a visit day after the send's day) of the treated against the holdout,
    each with a Wilson interval, and their difference with Newcombe's interval."""
    require(can_manage_recalls(actor), "Only admins may see recall campaigns.")
    campaign = _get(campaign_id)
    today = today or utcnow().date()
    by_status = _counts([campaign.id]).get(campaign.id, {})
    window = RECALL.return_window_days
    decided: dict[str, list[tuple[int, date]]] = {"sent": [], "holdout": []}
    for user_id, status, decided_at in db.session.execute(
        select(RecallRecipient.user_id, RecallRecipient.status, RecallRecipient.decided_at).where(
            RecallRecipient.campaign_id == campaign.id,
            RecallRecipient.status.in_(("sent", "holdout")),
            RecallRecipient.decided_at.is_not(None),
        )
    ):
        decided[status].append((user_id, decided_at.date()))
    returned = {status: _returned_users(rows, window) for status, rows in decided.items()}
    treated = _arm(len(decided["sent"]), len(returned["sent"]))
    holdout = _arm(len(decided["holdout"]), len(returned["holdout"]))
    difference = (
        round(treated["rate"] - holdout["rate"], 6)
        if treated["rate"] is not None and holdout["rate"] is not None
        else None
    )
    interval = stats.newcombe_difference(
        treated["returned"],
        treated["users"],
        holdout["returned"],
        holdout["users"],
        RECALL.confidence,
    )
    days = [day for rows in decided.values() for _, day in rows]
    ends_on = max(days) + timedelta(days=window) if days else None
    pending = summary(by_status)["pending"]
    return campaign, {
        "counts": summary(by_status),
        "skipped_by_reason": {"recently_recalled": by_status.get("recently_recalled", 0)},
        "returns": {
            "window_days": window,
            "window_ends_on": ends_on,
            "complete": campaign.status == "sent"
            and not pending
            and ends_on is not None
            and today > ends_on,
            "confidence": RECALL.confidence,
            "treated": treated,
            "holdout": holdout,
            "difference": difference,
            "interval": interval.as_dict() if interval else None,
        },
    }


def campaign_counts(campaign_id: int) -> dict[str, int]:
    return summary(_counts([campaign_id]).get(campaign_id, {}))


# --- retention ------------------------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def retention(actor: User, by: str | None, weeks: int, today: date | None = None) -> dict[str, Any]:
    """Weekly (ISO week) sign-up cohorts of the last `weeks` weeks, this one included, and
    for each the share of the cohort with a visit day in each later week (week 0: the
    sign-up week), optionally per sign-up source."""
    require(can_view_retention(actor), "Only an admin may see platform statistics.")
    weeks = max(1, min(weeks, RETENTION.max_weeks))
    today = today or utcnow().date()
    this_week = _monday(today)
    start = this_week - timedelta(weeks=weeks - 1)
    start_time = datetime.combine(start, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    members: dict[int, tuple[int, str | None]] = {}
    for user_id, created_at, source in db.session.execute(
        select(User.id, User.created_at, User.signup_source).where(
            User.created_at >= start_time, User.official.is_(False)
        )
    ):
        cohort = (created_at.date() - start).days // 7
        if 0 <= cohort < weeks:
            members[user_id] = (cohort, source if by == "source" else None)
    size: Counter[tuple[int, str | None]] = Counter(members.values())
    active: dict[tuple[int, str | None], Counter[int]] = defaultdict(Counter)
    seen: set[tuple[int, int]] = set()
    ids = list(members)
    for offset in range(0, len(ids), USER_CHUNK):
        for user_id, day in db.session.execute(
            select(UserActivityDay.user_id, UserActivityDay.day).where(
                id_in(UserActivityDay.user_id, ids[offset : offset + USER_CHUNK]),
                UserActivityDay.day >= start,
                UserActivityDay.day <= today,
            )
        ):
            cohort, source = members[user_id]
            week = (day - start).days // 7
            if week >= cohort and (user_id, week) not in seen:
                seen.add((user_id, week))
                active[(cohort, source)][week - cohort] += 1
    cohorts = []
    for cohort, source in sorted(size, key=lambda key: (key[0], key[1] is None, key[1] or "")):
        users = size[(cohort, source)]
        later = weeks - cohort  # weeks 0 … this one
        counts = [active[(cohort, source)].get(k, 0) for k in range(later)]
        starts_on = start + timedelta(weeks=cohort)
        year, number, _ = starts_on.isocalendar()
        row: dict[str, Any] = {
            "week": f"{year}-W{number:02d}",
            "starts_on": starts_on,
            "users": users,
            "active": counts,
            "retention": [round(n / users, 4) for n in counts],
        }
        if by == "source":
            row["source"] = source
        cohorts.append(row)
    return {"weeks": weeks, "by": by, "cohorts": cohorts}
