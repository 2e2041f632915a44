"""Moderation use cases: reports gathered into cases, claims, decisions with the penalty
ladder, automatic protection and the audit trail. Services only: no Flask request here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.accounts.services import revoke_all_tokens
from app.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from app.core.extensions import db
from app.core.jobs import commit, enqueue
from app.core.models import utcnow
from app.core.policies import require
from app.core.sql import bump, id_in_range, inserted
from app.growth.events import settle_content
from app.notes.models import Comment, Note
from app.notes.services.notes import adjust_published_counters
from app.notifications.jobs import deliver_notification
from app.search.jobs import index_notes, index_user
from moderation.models import (
    AccountLink,
    Appeal,
    AuditEntry,
    Case,
    ModerationAction,
    Mute,
    Report,
)
from moderation.policies import (
    can_decide_appeal,
    can_lift_penalty,
    can_moderate,
    can_penalise,
    is_disinterested,
)
from moderation.taxonomy import Reason, taxonomy

TargetType = Literal["note", "comment", "user"]
MUTE_DAYS = {"mute_1d": 1, "mute_7d": 7, "mute_15d": 15, "mute_permanent": None}
HIDDEN_STATES = ("hidden", "removed")
#: The state each content action leaves; reversing the action gives the content back only
#: if it is still in that state (a later decision stands).
ACTION_STATES = {"hide": "hidden", "remove": "removed"}


def audit(
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int,
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append to the audit log in the caller's transaction (so it commits with the change)."""
    db.session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            before=before or {},
            after=after or {},
        )
    )


# -- targets -----------------------------------------------------------------------------------
@dataclass
class Target:
    kind: TargetType
    id: int
    owner_id: int
    reach: int
    row: Any


_MODELS: dict[str, Any] = {"note": Note, "comment": Comment, "user": User}


def _get(model: Any, row_id: int | None) -> Any:
    """A row by id; ids beyond the database's integer range are simply not found."""
    return db.session.get(model, row_id) if id_in_range(row_id) else None


def load_target(kind: str, target_id: int, *, reportable: bool = True) -> Target:
    """A report's target. `reportable=False`: also one moderation hid, removed or held (a
    decision or an appeal acts on it); gone for good is a 404 either way."""
    row = _get(_MODELS[kind], target_id)
    gone = row is None or (kind != "user" and row.deleted_at is not None)
    if not gone and reportable and kind == "note":
        gone = row.status == "draft"
    if gone:
        raise NotFound(f"No such {kind}.", code=f"{kind}_not_found")
    if kind == "note":
        reach = row.view_count + row.like_count + row.collect_count + row.comment_count
        return Target("note", row.id, row.author_id, reach, row)
    if kind == "comment":
        return Target("comment", row.id, row.author_id, row.like_count + row.reply_count, row)
    return Target("user", row.id, row.id, row.follower_count, row)


def _content_state(target: Target) -> str | None:
    return None if target.kind == "user" else target.row.status


def _set_content_state(target: Target, status: str) -> None:
    """Hide, remove or restore a note or comment; published counters and search follow."""
    before = target.row.status
    if before == status:
        return
    delta = (status == "published") - (before == "published")
    if target.kind == "note":
        if delta:
            adjust_published_counters(target.row, delta)
        if status == "published" and target.row.published_at is None:
            target.row.published_at = utcnow()
    elif delta:  # a comment: its note's and thread's counts follow what is visible
        bump(Note, target.row.note_id, comment_count=delta)
        if target.row.root_id is not None:
            bump(Comment, target.row.root_id, reply_count=delta)
    target.row.status = status


def _after_content_change(target: Target) -> None:
    if target.kind == "note":
        enqueue(index_notes, [target.id])
    if target.kind in ("note", "comment"):
        enqueue(settle_content, target.kind, target.id)  # points follow: claw back, restore


# -- reports -------------------------------------------------------------------------------------
def reporter_weight(reporter_id: int) -> float:
    """1 for a reporter with no history; upheld reports raise it, dismissed ones lower it."""
    rows = db.session.execute(
        select(Report.outcome, func.count())
        .where(Report.reporter_id == reporter_id, Report.outcome.is_not(None))
        .group_by(Report.outcome)
    ).all()
    counts = dict(rows)
    upheld, dismissed = counts.get("upheld", 0), counts.get("dismissed", 0)
    return round(min(3.0, max(0.25, (1 + upheld) / (1 + dismissed))), 3)


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
        _after_content_change(target)
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
        or _content_state(target) != "published"
    ):
        return False
    _set_content_state(target, "hidden")
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


# -- the queue -----------------------------------------------------------------------------------
def list_cases(
    actor: User, status: str | None, reason_code: str | None, limit: int, after: tuple | None
) -> list[Case]:
    require(can_moderate(actor), "Only moderators may see the review queue.")
    statement = select(Case).order_by(Case.priority.desc(), Case.id.desc()).limit(limit + 1)
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
    if after is not None:
        priority, last_id = after
        statement = statement.where(
            (Case.priority < priority) | ((Case.priority == priority) & (Case.id < last_id))
        )
    return list(db.session.scalars(statement))


def get_case(actor: User, case_id: int) -> Case:
    require(can_moderate(actor), "Only moderators may see cases.")
    case = _get(Case, case_id)
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


def _require_outranks(actor: User, user: User, allowed: bool, what: str) -> None:
    require(
        allowed,
        f"Staff {what} only accounts ranked below their own role.",
        code="insufficient_rank",
        details={"user_id": user.id, "roles": sorted(user.roles)},
    )


# -- decisions -----------------------------------------------------------------------------------
def active_strikes(user_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ModerationAction)
            .where(
                ModerationAction.user_id == user_id,
                ModerationAction.kind.in_(("mute", "ban")),
                ModerationAction.reversed_at.is_(None),
            )
        )
        or 0
    )


def ladder_step(user_id: int, reason: Reason | None) -> str:
    """The next step for this user: one step per active strike, aggravated reasons higher."""
    data = taxonomy()
    steps = active_strikes(user_id)
    if reason is not None:
        steps += sum(data.aggravating[code]["steps_up"] for code in reason.aggravating)
    return data.ladder[min(steps, len(data.ladder) - 1)]


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
        _require_outranks(actor, owner, can_penalise(actor, owner), "warn, mute or ban")
    reason = taxonomy().reason(case.reason_code)
    actions: list[ModerationAction] = []
    now = utcnow()
    if target.kind != "user":
        before = _content_state(target)
        wanted = {"keep": "published", "hide": "hidden", "remove": "removed"}[content]
        held = case.auto_hidden and before in ("hidden", "pending_review")
        if content != "keep" or held:
            _set_content_state(target, wanted)
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
                _action(
                    case, content, target, target.owner_id, actor, None, None, {"status": before}
                )
            )
    if owner is not None:
        actions.append(
            _account_action(case, account, target, owner, actor, duration_days, reason, note, now)
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
    if target.kind != "user":  # the jobs' intents commit with the decision
        _after_content_change(target)
    if any(a.kind == "ban" for a in actions):
        enqueue(index_user, target.owner_id, True)
    for row in reports:
        enqueue(
            deliver_notification,
            "system",
            row.reporter_id,
            None,
            None,
            None,
            {
                "type": "report_outcome",
                "case_id": case.id,
                "outcome": case.outcome,
                "reason_code": row.reason_code,
            },
        )
    commit()
    return case, actions


def _action(
    case: Case,
    kind: str,
    target: Target,
    user_id: int | None,
    actor: User,
    duration_days: int | None,
    ends_at: datetime | None,
    before: dict[str, Any],
) -> ModerationAction:
    action = ModerationAction(
        case_id=case.id,
        kind=kind,
        target_type=target.kind,
        target_id=target.id,
        user_id=user_id,
        reason_code=case.reason_code,
        duration_days=duration_days,
        ends_at=ends_at,
        moderator_id=actor.id,
        before=before,
    )
    db.session.add(action)
    db.session.flush()
    return action


def _account_action(
    case: Case,
    account: str,
    target: Target,
    owner: User,
    actor: User,
    duration_days: int | str | None,
    reason: Reason | None,
    note: str,
    now: datetime,
) -> ModerationAction:
    if account == "warn":
        audit(actor.id, "warn", "user", owner.id, note)
        return _action(case, "warn", target, owner.id, actor, None, None, {})
    if account == "ban":
        before = {"status": owner.status}
        owner.status = "banned"
        revoke_all_tokens(owner.id)
        audit(actor.id, "ban", "user", owner.id, note, before, {"status": "banned"})
        return _action(case, "ban", target, owner.id, actor, None, None, before)
    # mute: the given duration, or the ladder's next step
    if duration_days is None:
        step = ladder_step(owner.id, reason)
        if step == "ban":
            step = "mute_permanent"
        days = MUTE_DAYS[step]
    elif duration_days == "permanent":
        days = None
    else:
        days = int(duration_days)
    until = now + timedelta(days=days) if days is not None else None
    previous = db.session.get(Mute, owner.id)
    before = {
        "muted_until": previous.until.isoformat() if previous and previous.until else None,
        "muted": previous is not None,
    }
    action = _action(case, "mute", target, owner.id, actor, days, until, before)
    if previous is None:
        db.session.add(
            Mute(user_id=owner.id, until=until, reason_code=case.reason_code, action_id=action.id)
        )
    else:
        previous.until, previous.reason_code, previous.action_id = (
            until,
            case.reason_code,
            action.id,
        )
    audit(
        actor.id,
        "mute",
        "user",
        owner.id,
        note,
        before,
        {"muted_until": until.isoformat() if until else None, "duration_days": days},
    )
    return action


def current_mute(user_id: int) -> Mute | None:
    """The user's mute if it is in force."""
    mute = db.session.get(Mute, user_id)
    if mute is None:
        return None
    if mute.until is not None and mute.until <= utcnow():
        return None
    return mute


def audit_log(actor: User, limit: int, before_id: int | None) -> list[AuditEntry]:
    require(can_moderate(actor), "Only moderators may read the audit log.")
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    return list(db.session.scalars(statement))


def my_reports(reporter: User, limit: int) -> list[Report]:
    return list(
        db.session.scalars(
            select(Report)
            .where(Report.reporter_id == reporter.id)
            .order_by(Report.id.desc())
            .limit(limit)
        )
    )


# -- appeals -------------------------------------------------------------------------------------
def appeal(user: User, action_id: int, statement: str) -> Appeal:
    """One appeal per action, by the user it penalised."""
    action = _get(ModerationAction, action_id)
    if action is None or action.user_id != user.id:
        raise NotFound("No such action against you.", code="action_not_found")
    if action.reversed_at is not None:
        raise Conflict("This action was already reversed.", code="action_reversed")
    row = Appeal(action_id=action.id, user_id=user.id, statement=statement)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("This action has been appealed already.", code="already_appealed") from exc
    audit(
        user.id,
        "appeal",
        action.target_type,
        action.target_id,
        statement,
        {},
        {"action_id": action.id},
    )
    db.session.commit()
    return row


def list_appeals(actor: User, status: str | None, limit: int) -> list[Appeal]:
    require(can_moderate(actor), "Only moderators may see appeals.")
    statement = select(Appeal).order_by(Appeal.id).limit(limit)
    if status:
        statement = statement.where(Appeal.status == status)
    return list(db.session.scalars(statement))


def decide_appeal(actor: User, appeal_id: int, outcome: str, note: str) -> Appeal:
    """Uphold, or reverse: the content comes back, the penalty lifts, the strike goes. Not
    by the appellant or the penalised (403), nor by anyone not ranked above the appellant."""
    require(can_moderate(actor), "Only moderators may decide appeals.")
    row = _get(Appeal, appeal_id)
    if row is None:
        raise NotFound("No such appeal.", code="appeal_not_found")
    action = db.session.get(ModerationAction, row.action_id)
    assert action is not None
    require(
        is_disinterested(actor, row.user_id, action.user_id),
        "Nobody decides an appeal they filed or that concerns them.",
        code="conflict_of_interest",
        details={"appeal_id": row.id},
    )
    appellant = db.session.get(User, row.user_id)
    assert appellant is not None  # appeals go with their account (ON DELETE CASCADE)
    _require_outranks(actor, appellant, can_decide_appeal(actor, appellant), "decide appeals of")
    if row.status != "pending":
        raise Conflict("This appeal is already decided.", code="appeal_decided")
    if action.moderator_id == actor.id:
        raise Conflict(
            "Another moderator must decide an appeal against your own action.",
            code="own_action",
        )
    row.status, row.decided_by_id, row.decision_note, row.decided_at = (
        "upheld" if outcome == "uphold" else "reversed",
        actor.id,
        note,
        utcnow(),
    )
    restored: Target | None = None
    reindex_user = False
    if outcome == "reverse":
        action.reversed_at = utcnow()
        if action.kind in ACTION_STATES and action.target_type in ("note", "comment"):
            restored = load_target(action.target_type, action.target_id, reportable=False)
            if _content_state(restored) == ACTION_STATES[action.kind]:
                # Published, not `before`: reports or screening may have held it before the
                # decision, and the reversal finds the content should never have gone.
                _set_content_state(restored, "published")
            else:
                restored = None  # a later decision changed it since: that one stands
        elif action.kind == "mute":
            mute = db.session.get(Mute, action.user_id)
            if mute is not None and mute.action_id == action.id:
                db.session.delete(mute)
        elif action.kind == "ban":
            owner = db.session.get(User, action.user_id)
            if owner is not None:
                owner.status = "active"
                reindex_user = True
    audit(
        actor.id,
        f"appeal_{row.status}",
        action.target_type,
        action.target_id,
        note,
        {"action_id": action.id, "kind": action.kind},
        {"appeal": row.status},
    )
    if restored is not None:  # search and points follow the restored content
        _after_content_change(restored)
    if reindex_user and action.user_id is not None:
        enqueue(index_user, action.user_id, True)
    enqueue(
        deliver_notification,
        "system",
        row.user_id,
        None,
        None,
        None,
        {"type": "appeal_outcome", "appeal_id": row.id, "outcome": row.status},
    )
    commit()  # with the jobs' intents
    return row


# -- lifting penalties -------------------------------------------------------------------------
def lift_penalty(actor: User, action_id: int, note: str) -> ModerationAction:
    """An admin ends a mute or a ban early: the account may write, or sign in, again. Unlike
    a reversed appeal the strike stays (the penalty was not found wrong, only ended)."""
    require(can_lift_penalty(actor), "Only an admin may lift a penalty.")
    action = _get(ModerationAction, action_id)
    if action is None:
        raise NotFound("No such action.", code="action_not_found")
    if action.kind not in ("mute", "ban"):
        raise Unprocessable(
            "Only a mute or a ban can be lifted.",
            code="not_liftable",
            details={"kind": action.kind},
        )
    owner = _get(User, action.user_id)
    if owner is None:
        raise NotFound("No such user.", code="user_not_found")
    require(
        is_disinterested(actor, owner.id),
        "Nobody lifts their own penalty.",
        code="conflict_of_interest",
        details={"action_id": action.id},
    )
    if action.reversed_at is not None:
        raise Conflict("This action was already reversed.", code="action_reversed")
    now = utcnow()
    mute = current_mute(owner.id)
    in_force = (
        mute is not None and mute.action_id == action.id
        if action.kind == "mute"
        else owner.status == "banned" and (action.ends_at is None or action.ends_at > now)
    )
    if not in_force:
        raise Conflict(
            "This penalty is no longer in force.",
            code="penalty_not_in_force",
            details={"action_id": action.id},
        )
    if mute is not None and action.kind == "mute":
        _lift_mute(actor.id, owner, mute, note, now)
    else:
        _lift_ban(actor.id, owner, note, now)
    if action.kind == "ban":
        enqueue(index_user, owner.id, True)
    enqueue(
        deliver_notification,
        "system",
        owner.id,
        None,
        None,
        None,
        {"type": "penalty_lifted", "action_id": action.id, "kind": action.kind},
    )
    commit()  # with the jobs' intents
    return action


def lift_all_penalties(user: User, note: str) -> bool:
    """The system ends every mute and ban in force on this account (the bootstrap admin at
    start-up), audited with no actor. Does not commit; True if a ban was lifted (search must
    show the account again)."""
    now = utcnow()
    mute = current_mute(user.id)
    if mute is not None:
        _lift_mute(None, user, mute, note, now)
    if user.status != "banned":
        return False
    _lift_ban(None, user, note, now)
    return True


def _lift_mute(actor_id: int | None, owner: User, mute: Mute, note: str, now: datetime) -> None:
    action = _get(ModerationAction, mute.action_id)
    if action is not None and (action.ends_at is None or action.ends_at > now):
        action.ends_at = now
    before = {
        "kind": "mute",
        "action_id": mute.action_id,
        "muted_until": mute.until.isoformat() if mute.until else None,
    }
    db.session.delete(mute)
    audit(actor_id, "lift", "user", owner.id, note, before, {"muted": False})


def _lift_ban(actor_id: int | None, owner: User, note: str, now: datetime) -> None:
    """Every ban of the account ends now: one status, so lifting one lifts them all."""
    open_bans = list(
        db.session.scalars(
            select(ModerationAction).where(
                ModerationAction.user_id == owner.id,
                ModerationAction.kind == "ban",
                ModerationAction.reversed_at.is_(None),
                (ModerationAction.ends_at.is_(None)) | (ModerationAction.ends_at > now),
            )
        )
    )
    for ban in open_bans:
        ban.ends_at = now
    before = {"kind": "ban", "status": owner.status, "action_ids": [b.id for b in open_bans]}
    owner.status = "active"
    audit(actor_id, "lift", "user", owner.id, note, before, {"status": "active"})


# -- transparency and metrics ------------------------------------------------------------------
PUBLIC_ACTIONS = (
    "auto_hide",
    "content_hide",
    "content_remove",
    "warn",
    "mute",
    "ban",
    "lift",
    "appeal_reversed",
)


def public_log(limit: int, before_id: int | None) -> list[AuditEntry]:
    """What moderation did, without who asked, who decided or the private notes."""
    statement = (
        select(AuditEntry)
        .where(AuditEntry.action.in_(PUBLIC_ACTIONS))
        .order_by(AuditEntry.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    return list(db.session.scalars(statement))


def metrics(actor: User) -> dict[str, Any]:
    require(actor.has_role("admin"), "Only admins may see moderation metrics.")
    open_cases = db.session.execute(
        select(Case.severity, func.count())
        .where(Case.status.in_(("open", "claimed")))
        .group_by(Case.severity)
    ).all()
    durations = sorted(
        (decided - created).total_seconds()
        for created, decided in db.session.execute(
            select(Case.created_at, Case.decided_at).where(Case.decided_at.is_not(None))
        )
    )
    decided_appeals = db.session.execute(
        select(Appeal.status, func.count())
        .where(Appeal.status != "pending")
        .group_by(Appeal.status)
    ).all()
    appeal_counts = dict(decided_appeals)
    actions = db.session.scalar(select(func.count()).select_from(ModerationAction)) or 0
    reversed_ = appeal_counts.get("reversed", 0)
    median = durations[len(durations) // 2] if durations else None
    if durations and len(durations) % 2 == 0:
        median = (durations[len(durations) // 2 - 1] + durations[len(durations) // 2]) / 2
    return {
        "queue": {
            "total": sum(count for _, count in open_cases),
            "by_severity": {str(severity): count for severity, count in sorted(open_cases)},
        },
        "median_seconds_to_decision": median,
        "decisions": len(durations),
        "actions": actions,
        "appeals_decided": sum(appeal_counts.values()),
        "reversed_share": round(reversed_ / actions, 4) if actions else 0.0,
    }


# -- linked accounts -------------------------------------------------------------------------------
def link_accounts(actor: User, user_ids: list[int], reason: str) -> list[int]:
    """Record that these accounts belong together (multiple accounts): interactions among
    them earn no points. Idempotent; returns the ids linked."""
    require(can_moderate(actor), "Only moderators may link accounts.")
    ids = sorted(set(user_ids))
    if len(ids) < 2:
        raise ValidationFailed("Link at least two different accounts.", code="invalid_link")
    found = set(db.session.scalars(select(User.id).where(User.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(
            "Some users do not exist.", code="user_not_found", details={"user_ids": missing}
        )
    for one in ids:
        for other in ids:
            if one != other:
                inserted(
                    AccountLink,
                    {
                        "user_id": one,
                        "linked_user_id": other,
                        "reason": reason,
                        "created_by_id": actor.id,
                    },
                )
    audit(actor.id, "link_accounts", "user", ids[0], reason, {}, {"user_ids": ids})
    db.session.commit()
    return ids
