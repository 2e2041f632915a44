"""Account measures: warnings, mutes and bans with the penalty ladder, strikes, mutes in
force, lifting a penalty early, and linking accounts that belong together."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from app.core.extensions import db
from app.core.jobs import commit
from app.core.models import utcnow
from app.core.policies import require
from app.core.sql import inserted
from moderation.audit import audit
from moderation.config import MODERATION
from moderation.hooks import hooks
from moderation.models import AccountLink, Case, LinkProposal, ModerationAction, Mute
from moderation.policies import can_lift_penalty, can_moderate, is_disinterested
from moderation.targets import Target, get_row
from moderation.taxonomy import Reason, taxonomy


def require_outranks(actor: User, user: User, allowed: bool, what: str) -> None:
    require(
        allowed,
        f"Staff {what} only accounts ranked below their own role.",
        code="insufficient_rank",
        details={"user_id": user.id, "roles": sorted(user.roles)},
    )


# -- strikes and the ladder ----------------------------------------------------------------------
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


MULTIPLE_ACCOUNTS = "multiple_accounts"


def has_confirmed_link(user_id: int) -> bool:
    """A moderator linked this account to another (by hand or by confirming a proposal)."""
    return (
        db.session.scalar(
            select(AccountLink.user_id).where(AccountLink.user_id == user_id).limit(1)
        )
        is not None
    )


def aggravating_circumstances(user_id: int, reason: Reason | None) -> tuple[str, ...]:
    """The circumstances that hold for this penalty: those the reason lists, except
    `multiple_accounts`, which holds only (and, for any reason, always) when the account has
    a confirmed link to another."""
    listed = [code for code in (reason.aggravating if reason else ()) if code != MULTIPLE_ACCOUNTS]
    if has_confirmed_link(user_id):
        listed.append(MULTIPLE_ACCOUNTS)
    return tuple(listed)


def ladder_step(
    user_id: int, reason: Reason | None, circumstances: tuple[str, ...] | None = None
) -> str:
    """The next step for this user: one step per active strike, each aggravating
    circumstance that holds its `steps_up` higher."""
    data = taxonomy()
    steps = active_strikes(user_id)
    if circumstances is None:
        circumstances = aggravating_circumstances(user_id, reason)
    steps += sum(data.aggravating[code]["steps_up"] for code in circumstances)
    return data.ladder[min(steps, len(data.ladder) - 1)]


def ladder_mute(
    user_id: int, reason: Reason | None, circumstances: tuple[str, ...] | None = None
) -> tuple[str, str, int | None]:
    """What a mute without a set duration does: (the ladder's step, the mute step taken, its
    days). Past the mutes (a ban step) it is the permanent mute. The decision and the
    console's preview both ask this, so they cannot drift apart."""
    step = ladder_step(user_id, reason, circumstances)
    mute_step = step if step in MODERATION.mute_days else "mute_permanent"
    return step, mute_step, MODERATION.mute_days[mute_step]


def record_action(
    case: Case,
    kind: str,
    target: Target,
    user_id: int | None,
    actor: User,
    duration_days: int | None,
    ends_at: datetime | None,
    before: dict[str, Any],
    aggravating: tuple[str, ...] = (),
) -> ModerationAction:
    """The action a decision took (flushed: appeals and mutes refer to its id)."""
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
        aggravating=list(aggravating),
    )
    db.session.add(action)
    db.session.flush()
    return action


def penalise(
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
    """Warn, ban or mute the owner (the caller has checked rank and conflicts of interest).
    The aggravating circumstances that held are kept on the action and in the audit entry."""
    held = aggravating_circumstances(owner.id, reason)
    if account == "warn":
        audit(actor.id, "warn", "user", owner.id, note, {}, {"aggravating": list(held)})
        return record_action(case, "warn", target, owner.id, actor, None, None, {}, held)
    if account == "ban":
        before = {"status": owner.status}
        owner.status = "banned"
        hooks().account_banned(owner.id)
        after = {"status": "banned", "aggravating": list(held)}
        audit(actor.id, "ban", "user", owner.id, note, before, after)
        return record_action(case, "ban", target, owner.id, actor, None, None, before, held)
    # mute: the given duration, or the ladder's next step
    if duration_days is None:
        _step, _mute, days = ladder_mute(owner.id, reason, held)
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
    action = record_action(case, "mute", target, owner.id, actor, days, until, before, held)
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
        {
            "muted_until": until.isoformat() if until else None,
            "duration_days": days,
            "aggravating": list(held),
        },
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


# -- lifting penalties -------------------------------------------------------------------------
def lift_penalty(actor: User, action_id: int, note: str) -> ModerationAction:
    """An admin ends a mute or a ban early: the account may write, or sign in, again. Unlike
    a reversed appeal the strike stays (the penalty was not found wrong, only ended)."""
    require(can_lift_penalty(actor), "Only an admin may lift a penalty.")
    action = get_row(ModerationAction, action_id)
    if action is None:
        raise NotFound("No such action.", code="action_not_found")
    if action.kind not in ("mute", "ban"):
        raise Unprocessable(
            "Only a mute or a ban can be lifted.",
            code="not_liftable",
            details={"kind": action.kind},
        )
    owner = get_row(User, action.user_id)
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
        hooks().account_status_changed(owner.id)
    hooks().notify(
        owner.id, {"type": "penalty_lifted", "action_id": action.id, "kind": action.kind}
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
    action = get_row(ModerationAction, mute.action_id)
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
    # Proposals of these pairs are settled by the link (the moderator confirmed them by hand).
    db.session.execute(
        update(LinkProposal)
        .where(
            LinkProposal.user_id.in_(ids),
            LinkProposal.other_user_id.in_(ids),
            LinkProposal.status != "confirmed",
        )
        .values(status="confirmed", decided_by_id=actor.id, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    audit(actor.id, "link_accounts", "user", ids[0], reason, {}, {"user_ids": ids})
    db.session.commit()
    return ids
