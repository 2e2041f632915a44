"""Appeals: one per action, by the user it penalised, decided by another moderator; a
reversal gives the content back, lifts the penalty and removes the strike."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.errors import Conflict, NotFound
from app.core.extensions import db
from app.core.jobs import commit
from app.core.models import utcnow
from app.core.policies import require
from moderation.audit import audit
from moderation.hooks import hooks
from moderation.models import Appeal, ModerationAction, Mute
from moderation.penalties import require_outranks
from moderation.policies import can_decide_appeal, can_moderate, is_disinterested
from moderation.targets import (
    ACTION_STATES,
    Target,
    after_content_change,
    content_state,
    get_row,
    load_target,
    set_content_state,
)


def appeal(user: User, action_id: int, statement: str) -> Appeal:
    """One appeal per action, by the user it penalised."""
    action = get_row(ModerationAction, action_id)
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
    row = get_row(Appeal, appeal_id)
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
    require_outranks(actor, appellant, can_decide_appeal(actor, appellant), "decide appeals of")
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
            if content_state(restored) == ACTION_STATES[action.kind]:
                # Published, not `before`: reports or screening may have held it before the
                # decision, and the reversal finds the content should never have gone.
                set_content_state(restored, "published")
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
        after_content_change(restored)
    if reindex_user and action.user_id is not None:
        hooks().account_status_changed(action.user_id)
    hooks().notify(
        row.user_id, {"type": "appeal_outcome", "appeal_id": row.id, "outcome": row.status}
    )
    commit()  # with the jobs' intents
    return row
