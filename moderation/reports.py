"""Reports: filing one (one per reporter and target), the reporter's weight, the case it
joins and that case's priority, and hiding content pending review once its reports weigh
enough."""

from __future__ import annotations

import math

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.errors import Unprocessable, ValidationFailed
from app.core.extensions import db
from app.core.jobs import commit
from app.core.models import utcnow
from moderation.audit import audit
from moderation.config import MODERATION
from moderation.models import Case, Report
from moderation.targets import (
    Target,
    after_content_change,
    content_state,
    load_target,
    set_content_state,
)
from moderation.taxonomy import Reason, taxonomy


def reporter_weight(reporter_id: int) -> float:
    """1 for a reporter with no history; upheld reports raise it, dismissed ones lower it."""
    rows = db.session.execute(
        select(Report.outcome, func.count())
        .where(Report.reporter_id == reporter_id, Report.outcome.is_not(None))
        .group_by(Report.outcome)
    ).all()
    counts = dict(rows)
    upheld, dismissed = counts.get("upheld", 0), counts.get("dismissed", 0)
    weight = (1 + upheld) / (1 + dismissed)
    return round(
        min(MODERATION.reporter_weight_max, max(MODERATION.reporter_weight_min, weight)), 3
    )


def _priority(case: Case) -> float:
    return round(case.weighted_reports * case.severity * (1 + math.log10(1 + case.reach)), 4)


def report(
    reporter: User, target_type: str, target_id: int, reason_code: str, detail: str
) -> tuple[Report, bool]:
    """File a report; the same reporter on the same target again changes nothing (returns
    the first report and False)."""
    reason = taxonomy().reason(reason_code)
    if reason is None:
        raise ValidationFailed(
            "Unknown reason: see /report-reasons.",
            code="unknown_reason",
            details={"field": "reason_code"},
        )
    target = load_target(target_type, target_id)
    if target.owner_id == reporter.id:
        raise Unprocessable("You cannot report yourself or your own content.", code="own_target")
    existing = db.session.scalar(
        select(Report).where(
            Report.reporter_id == reporter.id,
            Report.target_type == target_type,
            Report.target_id == target_id,
        )
    )
    if existing is not None:
        return existing, False
    case = _case_for(target, reason)
    weight = reporter_weight(reporter.id)
    row = Report(
        case_id=case.id,
        reporter_id=reporter.id,
        target_type=target_type,
        target_id=target_id,
        reason_code=reason_code,
        detail=detail,
        weight=weight,
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # the same report, concurrently: the other one counts
        db.session.rollback()
        again = db.session.scalar(
            select(Report).where(
                Report.reporter_id == reporter.id,
                Report.target_type == target_type,
                Report.target_id == target_id,
            )
        )
        assert again is not None
        return again, False
    db.session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(
            report_count=Case.report_count + 1,
            weighted_reports=Case.weighted_reports + weight,
            updated_at=utcnow(),
        )
    )
    db.session.refresh(case)
    if reason.severity > case.severity:
        case.severity, case.reason_code = reason.severity, reason.code
    case.reach = target.reach
    if case.status == "decided":  # new reports after a decision: back in the queue
        case.status, case.outcome, case.decided_at = "open", None, None
    case.priority = _priority(case)
    hidden_now = _protect(case, target)
    if hidden_now:  # the jobs' intents commit with the hiding
        after_content_change(target)
    commit()
    return row, True


def _case_for(target: Target, reason: Reason) -> Case:
    case = db.session.scalar(
        select(Case).where(Case.target_type == target.kind, Case.target_id == target.id)
    )
    if case is not None:
        return case
    case = Case(
        target_type=target.kind,
        target_id=target.id,
        target_user_id=target.owner_id,
        reason_code=reason.code,
        severity=reason.severity,
        reach=target.reach,
    )
    db.session.add(case)
    try:
        db.session.flush()
    except IntegrityError:  # another reporter opened it at the same moment
        db.session.rollback()
        case = db.session.scalar(
            select(Case).where(Case.target_type == target.kind, Case.target_id == target.id)
        )
        assert case is not None
    return case


def _protect(case: Case, target: Target) -> bool:
    """Hide reported content pending review once its reports weigh enough; True if it did."""
    threshold = current_app.config["SPROUT"].moderation_hide_weight
    if (
        case.auto_hidden
        or target.kind == "user"
        or case.status == "decided"
        or case.weighted_reports < threshold
        or content_state(target) != "published"
    ):
        return False
    set_content_state(target, "hidden")
    case.auto_hidden = True
    audit(
        None,
        "auto_hide",
        target.kind,
        target.id,
        f"reports weighing {case.weighted_reports:g} ≥ {threshold:g}",
        {"status": "published"},
        {"status": "hidden"},
    )
    return True


def my_reports(reporter: User, limit: int | None = None) -> list[Report]:
    """The reporter's newest reports (`MODERATION.my_reports_limit` unless told)."""
    return list(
        db.session.scalars(
            select(Report)
            .where(Report.reporter_id == reporter.id)
            .order_by(Report.id.desc())
            .limit(limit if limit is not None else MODERATION.my_reports_limit)
        )
    )
