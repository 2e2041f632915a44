"""The review queue: cases, claims, decisions (content and account actions together) and
the queue's metrics. Reports open and weigh cases (`reports`); penalties are `penalties`."""

from __future__ import annotations

import statistics
from typing import Any

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.extensions import db
from app.core.jobs import commit
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import require
from moderation.audit import audit
from moderation.engagement import settle_case
from moderation.hooks import hooks
from moderation.models import Appeal, Case, ModerationAction, Report
from moderation.penalties import penalise, record_action, require_outranks
from moderation.policies import can_moderate, can_penalise, can_see_metrics, is_disinterested
from moderation.targets import (
    after_content_change,
    content_state,
    get_row,
    load_target,
    set_content_state,
)
from moderation.taxonomy import taxonomy


def list_cases(
    actor: User,
    status: str | None,
    reason_code: str | None,
    page: PageRequest,
    *,
    severity: int | None = None,
    target_type: str | None = None,
) -> PageResult[Case]:
    """Highest priority first, keyset `(priority, id)`; optionally one severity or one kind of
    target (the console's queue filters)."""
    require(can_moderate(actor), "Only moderators may see the review queue.")
    statement = select(Case).order_by(Case.priority.desc(), Case.id.desc()).limit(page.limit + 1)
    statement = statement.where(
        Case.status == status if status else Case.status.in_(("open", "claimed"))
    )
    if reason_code:
        category = reason_code.split(".", 1)[0]
        statement = statement.where(
            Case.reason_code == reason_code
            if "." in reason_code
            else Case.reason_code.like(f"{category}.%")
        )
    if severity is not None:
        statement = statement.where(Case.severity == severity)
    if target_type:
        statement = statement.where(Case.target_type == target_type)
    if page.after is not None:
        priority, last_id = page.after
        statement = statement.where(
            (Case.priority < priority) | ((Case.priority == priority) & (Case.id < last_id))
        )
    rows = list(db.session.scalars(statement))
    return page.result(rows, lambda case: (case.priority, case.id))


def get_case(actor: User, case_id: int) -> Case:
    require(can_moderate(actor), "Only moderators may see cases.")
    case = get_row(Case, case_id)
    if case is None:
        raise NotFound("No such case.", code="case_not_found")
    return case


def claim(actor: User, case_id: int) -> Case:
    """Take a case; someone else's claim is a 409 (claiming your own again is fine)."""
    case = get_case(actor, case_id)
    _require_disinterested_in_case(actor, case)
    if case.status == "decided":
        raise Conflict("This case is already decided.", code="case_decided")
    taken = db.session.execute(
        update(Case)
        .where(
            Case.id == case.id,
            Case.status == "open",
        )
        .values(status="claimed", claimed_by_id=actor.id, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        db.session.rollback()
        db.session.refresh(case)
        if case.claimed_by_id == actor.id and case.status == "claimed":
            return case
        raise Conflict("Another moderator has claimed this case.", code="case_claimed")
    audit(actor.id, "claim", case.target_type, case.target_id, f"case {case.id}")
    db.session.commit()
    db.session.refresh(case)
    return case


def _require_disinterested_in_case(actor: User, case: Case) -> None:
    """`target_user_id` is the owner of the case's note or comment, or the reported account."""
    require(
        is_disinterested(actor, case.target_user_id),
        "Nobody handles a case about their own content or account.",
        code="conflict_of_interest",
        details={"case_id": case.id},
    )


def decide(
    actor: User,
    case_id: int,
    content: str,
    account: str,
    duration_days: int | str | None,
    note: str,
) -> tuple[Case, list[ModerationAction]]:
    """Content actions judge the content whoever wrote it (as any moderator may delete a
    note); account actions are refused (403) on an owner not ranked below the actor, and the
    case's own subject may not decide it at all. Both are checked before anything changes."""
    case = get_case(actor, case_id)
    _require_disinterested_in_case(actor, case)
    if case.status == "decided":
        raise Conflict("This case is already decided.", code="case_decided")
    if case.status == "claimed" and case.claimed_by_id != actor.id:
        raise Conflict("Another moderator has claimed this case.", code="case_claimed")
    target = load_target(case.target_type, case.target_id, reportable=False)
    if target.kind == "user" and content != "keep":
        raise ValidationFailed(
            "A user has no content to hide or remove: decide on the account.",
            code="invalid_decision",
        )
    owner: User | None = None
    if account != "none":
        owner = db.session.get(User, target.owner_id)
        assert owner is not None
        require_outranks(actor, owner, can_penalise(actor, owner), "warn, mute or ban")
    reason = taxonomy().reason(case.reason_code)
    actions: list[ModerationAction] = []
    now = utcnow()
    if target.kind != "user":
        before = content_state(target)
        wanted = {"keep": "published", "hide": "hidden", "remove": "removed"}[content]
        held = case.auto_hidden and before in ("hidden", "pending_review")
        if content != "keep" or held:
            set_content_state(target, wanted)
            audit(
                actor.id,
                f"content_{content}",
                target.kind,
                target.id,
                note,
                {"status": before},
                {"status": wanted},
            )
        if content != "keep":
            actions.append(
                record_action(
                    case, content, target, target.owner_id, actor, None, None, {"status": before}
                )
            )
    if owner is not None:
        actions.append(
            penalise(case, account, target, owner, actor, duration_days, reason, note, now)
        )
    upheld = content != "keep" or account != "none"
    case.status, case.decided_at, case.outcome = "decided", now, "upheld" if upheld else "dismissed"
    case.claimed_by_id = case.claimed_by_id or actor.id
    reports = list(
        db.session.scalars(
            select(Report).where(Report.case_id == case.id, Report.outcome.is_(None))
        )
    )
    for row in reports:
        row.outcome = case.outcome
    audit(
        actor.id,
        "decide",
        case.target_type,
        case.target_id,
        note,
        {"status": "open"},
        {"content": content, "account": account, "outcome": case.outcome},
    )
    # Bought engagement in the case: deleted when upheld, counted again when dismissed.
    settle_case(case, upheld, actor.id)
    if target.kind != "user":  # the jobs' intents commit with the decision
        after_content_change(target)
    if any(a.kind == "ban" for a in actions):
        hooks().account_status_changed(target.owner_id)
    for row in reports:
        hooks().notify(
            row.reporter_id,
            {
                "type": "report_outcome",
                "case_id": case.id,
                "outcome": case.outcome,
                "reason_code": row.reason_code,
            },
        )
    commit()
    return case, actions


def metrics(actor: User) -> dict[str, Any]:
    require(can_see_metrics(actor), "Only admins may see moderation metrics.")
    open_cases = db.session.execute(
        select(Case.severity, func.count())
        .where(Case.status.in_(("open", "claimed")))
        .group_by(Case.severity)
    ).all()
    durations = [
        (decided - created).total_seconds()
        for created, decided in db.session.execute(
            select(Case.created_at, Case.decided_at).where(Case.decided_at.is_not(None))
        )
    ]
    decided_appeals = db.session.execute(
        select(Appeal.status, func.count())
        .where(Appeal.status != "pending")
        .group_by(Appeal.status)
    ).all()
    appeal_counts = dict(decided_appeals)
    actions = db.session.scalar(select(func.count()).select_from(ModerationAction)) or 0
    reversed_ = appeal_counts.get("reversed", 0)
    return {
        "queue": {
            "total": sum(count for _, count in open_cases),
            "by_severity": {str(severity): count for severity, count in sorted(open_cases)},
        },
        "median_seconds_to_decision": statistics.median(durations) if durations else None,
        "decisions": len(durations),
        "actions": actions,
        "appeals_decided": sum(appeal_counts.values()),
        "reversed_share": round(reversed_ / actions, 4) if actions else 0.0,
    }
