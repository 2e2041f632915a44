"""The points ledger: awards with idempotency keys and caps, claw-backs and restorations,
manual grants. Every entry moves `users.points` in the same transaction, under the user's row
lock, so concurrent awards never lose points or pass a cap."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.core.errors import Conflict, NotFound
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import is_staff, require
from app.core.sql import id_in_range, insert_ignore, newest_first
from app.growth.config import GROWTH
from app.growth.models import PointsEntry
from app.notes.models import Collect, NoteLike
from moderation.models import AccountLink, EngagementFlag

#: Actions that the daily caps do not apply to (not earned by activity).
UNCAPPED = frozenset({"manual", "clawback", "restore", "redeem", "refund"})


def today() -> date:
    return utcnow().date()


def lock_user(user_id: int) -> None:
    """Serialise this user's ledger writes (a no-op beyond BEGIN IMMEDIATE on SQLite)."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def linked(user_id: int, other_id: int) -> bool:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AccountLink)
            .where(AccountLink.user_id == user_id, AccountLink.linked_user_id == other_id)
        )
        or 0
    ) > 0


def earned_today(user_id: int, action: str | None = None) -> int:
    stmt = select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
        PointsEntry.user_id == user_id,
        PointsEntry.day == today(),
        PointsEntry.delta > 0,
        PointsEntry.action.not_in(UNCAPPED),
    )
    if action is not None:
        stmt = stmt.where(PointsEntry.action == action)
    return int(db.session.scalar(stmt) or 0)


def append_entry(
    user_id: int,
    delta: int,
    action: str,
    key: str,
    reason: str,
    *,
    ref: tuple[str, int] | None = None,
    reverses_id: int | None = None,
    actor_id: int | None = None,
    balance_moved: bool = False,
) -> PointsEntry | None:
    """Insert the entry unless its key exists (None then) and move the balance with it,
    unless the caller already did (`balance_moved`: a conditional debit)."""
    values = {
        "user_id": user_id,
        "delta": delta,
        "action": action,
        "key": key,
        "reason": reason,
        "ref_type": ref[0] if ref else None,
        "ref_id": ref[1] if ref else None,
        "reverses_id": reverses_id,
        "actor_id": actor_id,
        "day": today(),
        "created_at": utcnow(),
    }
    if db.session.execute(insert_ignore(PointsEntry, values)).rowcount != 1:
        return None
    if delta and not balance_moved:
        # Not `bump`, which stops at zero: the balance is exactly the ledger's sum, and a
        # claw-back of points already spent leaves it below zero.
        db.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(points=User.points + delta, updated_at=User.updated_at)
        )
    return db.session.scalar(select(PointsEntry).where(PointsEntry.key == key))


def award(
    user_id: int,
    action: str,
    key: str,
    *,
    amount: int | None = None,
    ref: tuple[str, int] | None = None,
    actor_id: int | None = None,
    reason: str = "",
) -> PointsEntry | None:
    """Pay `action` once per `key`, within its daily cap and the global one. Nothing for
    one's own content or between linked accounts. The entry is kept even when a cap leaves
    nothing to pay (delta 0), so the event still counts for tasks and never pays later.
    Runs in the caller's transaction."""
    if actor_id is not None and (actor_id == user_id or linked(user_id, actor_id)):
        return None
    lock_user(user_id)
    if db.session.scalar(select(PointsEntry.id).where(PointsEntry.key == key)) is not None:
        return None
    wanted = GROWTH.points.get(action, 0) if amount is None else amount
    room = GROWTH.daily_cap - earned_today(user_id)
    action_cap = GROWTH.daily_caps.get(action)
    if action_cap is not None:
        room = min(room, action_cap - earned_today(user_id, action))
    paid = max(0, min(wanted, room))
    return append_entry(
        user_id,
        paid,
        action,
        key,
        reason or action,
        ref=ref,
        actor_id=actor_id,
    )


def grant(admin_id: int, user_id: int, delta: int, reason: str) -> PointsEntry:
    """A manual grant or deduction, recorded with the admin and the reason. A deduction never
    takes the balance below zero (409 `insufficient_points`)."""
    lock_user(user_id)
    if delta < 0:
        moved = db.session.execute(
            update(User)
            .where(User.id == user_id, User.points >= -delta)
            .values(points=User.points + delta, updated_at=User.updated_at)
        ).rowcount
        if moved != 1:
            balance = db.session.scalar(select(User.points).where(User.id == user_id))
            db.session.rollback()
            raise Conflict(
                "The deduction is larger than the balance.",
                code="insufficient_points",
                details={"points": balance, "delta": delta},
            )
    entry = append_entry(
        user_id,
        delta,
        "manual",
        f"manual:{uuid.uuid4().hex}",
        reason,
        actor_id=admin_id,
        balance_moved=delta < 0,
    )
    assert entry is not None
    return entry


def manual_grant(actor: User, user_id: int, delta: int, reason: str) -> tuple[PointsEntry, int]:
    """POST /admin/users/{id}/points: (the entry, the balance after)."""
    require(is_staff(actor, "admin"), "Only admins may grant or deduct points.")
    user = db.session.get(User, user_id) if id_in_range(user_id) else None
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    entry = grant(actor.id, user.id, delta, reason)
    db.session.commit()
    balance = db.session.scalar(select(User.points).where(User.id == user_id))
    return entry, int(balance or 0)


def manual_grants(actor: User, page: PageRequest) -> PageResult[PointsEntry]:
    """Every manual grant and deduction, newest first: who gave what to whom, and why."""
    require(is_staff(actor, "admin"), "Only admins may read the manual grants.")
    manual = select(PointsEntry).where(PointsEntry.action == "manual")
    stmt = newest_first(manual, PointsEntry.id, page.limit, page.after_id)
    return page.by_id(list(db.session.scalars(stmt)))


def settle_reversals(ref: tuple[str, int], removed: bool) -> int:
    """Claw back every entry paid for this content while it is removed; restore them when it
    is back (except what suspect engagement paid: that waits for its own decision).
    Idempotent: returns the number of entries written."""
    entries = list(
        db.session.scalars(
            select(PointsEntry).where(
                PointsEntry.ref_type == ref[0],
                PointsEntry.ref_id == ref[1],
                PointsEntry.reverses_id.is_(None),
                PointsEntry.delta > 0,
            )
        )
    )
    if not removed and ref[0] == "note":
        held = suspect_keys(ref[1])
        entries = [entry for entry in entries if entry.key not in held]
    return _settle(entries, removed)


def suspect_keys(note_id: int) -> set[str]:
    """The ledger keys of the note's likes and collects held as suspect engagement, or
    deleted as fake (`moderation.engagement`): a restored note does not pay them back."""
    likers = db.session.scalars(
        select(NoteLike.user_id).where(NoteLike.note_id == note_id, NoteLike.suspect.is_(True))
    )
    collectors = db.session.scalars(
        select(Collect.user_id).where(Collect.note_id == note_id, Collect.suspect.is_(True))
    )
    flagged = db.session.execute(
        select(EngagementFlag.kind, EngagementFlag.actor_id).where(
            EngagementFlag.target_type == "note",
            EngagementFlag.target_id == note_id,
            EngagementFlag.status.in_(("suspect", "removed")),
        )
    )
    return (
        {f"like:{u}:{note_id}" for u in likers}
        | {f"collect:{u}:{note_id}" for u in collectors}
        | {f"{kind}:{u}:{note_id}" for kind, u in flagged}
    )


def settle_keys(keys: list[str], removed: bool) -> int:
    """`settle_reversals` for the entries paid under these keys (suspect engagement: clawed
    back while it is held, restored when a moderator clears it). Idempotent."""
    entries = list(
        db.session.scalars(
            select(PointsEntry).where(
                PointsEntry.key.in_(keys),
                PointsEntry.reverses_id.is_(None),
                PointsEntry.delta > 0,
            )
        )
    )
    return _settle(entries, removed)


def _settle(entries: list[PointsEntry], removed: bool) -> int:
    written = 0
    for entry in entries:
        ref = (entry.ref_type, entry.ref_id) if entry.ref_type and entry.ref_id else None
        lock_user(entry.user_id)  # before reading its reversals: a concurrent settle waits
        reversals = list(
            db.session.scalars(
                select(PointsEntry)
                .where(PointsEntry.reverses_id == entry.id)
                .order_by(PointsEntry.id)
            )
        )
        net = entry.delta + sum(r.delta for r in reversals)
        if removed and net > 0:
            action, delta = "clawback", -net
        elif not removed and net < entry.delta:
            action, delta = "restore", entry.delta - net
        else:
            continue
        made = append_entry(
            entry.user_id,
            delta,
            action,
            f"{action}:{entry.id}:{len(reversals)}",
            f"{action}: {entry.reason}",
            ref=ref,
            reverses_id=entry.id,
        )
        written += made is not None
    return written


def history(user: User, page: PageRequest) -> PageResult[PointsEntry]:
    """The account's own ledger, newest first (entries that moved nothing left out)."""
    mine = select(PointsEntry).where(PointsEntry.user_id == user.id, PointsEntry.delta != 0)
    stmt = newest_first(mine, PointsEntry.id, page.limit, page.after_id)
    return page.by_id(list(db.session.scalars(stmt)))


def count_actions(user_id: int, action: str, since: date) -> int:
    """How many times the user did `action` since the day (capped entries included)."""
    return int(
        db.session.scalar(
            select(func.count()).where(
                PointsEntry.user_id == user_id,
                PointsEntry.action == action,
                PointsEntry.day >= since,
                PointsEntry.reverses_id.is_(None),
            )
        )
        or 0
    )
