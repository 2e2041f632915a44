"""Invites (邀请码) and share to earn (分享赚钱): who brought a new account in, and the points
the referrer earns for it.

- `POST /me/invites` hands out the user's code: their newest one while it has time left,
  else a new one. `POST /auth/register` takes `invite_code` (source `invite`) or
  `share_token`, the token of a share link `GET /s/{token}` resolved (source `share`).
  A code that is unknown, expired or belongs to a banned account refuses the sign-up
  (422 `invalid_invite_code`): a typo must not silently lose the referrer's reward, and the
  client can ask again without the code. An unknown share token is refused the same way
  (422 `invalid_share_token`). When both come, the typed code wins.
- The referrer is paid once per new account (ledger key `referral:{invitee}`), when the new
  user's first note that passes review goes live (`note_went_live`, from the growth event
  that settles a note), under the action's daily cap and the global one; nothing between
  linked accounts (the ledger's rule), nothing while either account is banned.
- A ban of the new account claws the reward back with a reversal entry; lifting the ban
  restores it (`settle_invitee`, a job enqueued on every account status change).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update

from app.accounts.models import User
from app.core.errors import Unprocessable
from app.core.extensions import db
from app.core.jobs import job
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import require
from app.core.sql import insert_ignore, newest_first
from app.growth.config import GROWTH
from app.growth.ledger import award, lock_user, settle_reversals
from app.growth.models import InviteCode, PointsEntry, Referral
from app.notes.models import Share
from app.notifications.services import send_system

#: Unambiguous characters (no 0/O, 1/I/L): codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_CODE_ATTEMPTS = 5
#: source → the ledger action that pays the referrer.
REWARD_ACTIONS = {"invite": "invite_reward", "share": "share_reward"}
REF_TYPE = "referral"  # ledger entries' ref: ("referral", invitee id)


def can_invite(actor: User) -> bool:
    return actor.status == "active"


def normalise_code(raw: str) -> str:
    """What people type: any case, with spaces or dashes."""
    return "".join(ch for ch in raw.upper() if ch not in " -\t")


# --- codes ----------------------------------------------------------------------------------


@dataclass
class IssuedCode:
    code: InviteCode
    created: bool


def issue_code(actor: User) -> IssuedCode:
    """POST /me/invites: the actor's newest code while it has `invite_code_reuse_min_days`
    left, else a new one valid for `invite_code_days`. Serialised per user (the user's row
    lock), so concurrent calls hand out one code."""
    require(can_invite(actor), "This account may not invite.")
    lock_user(actor.id)
    now = utcnow()
    current = db.session.scalar(
        select(InviteCode)
        .where(
            InviteCode.user_id == actor.id,
            InviteCode.expires_at > now + timedelta(days=GROWTH.invite_code_reuse_min_days),
        )
        .order_by(InviteCode.id.desc())
        .limit(1)
    )
    if current is not None:
        db.session.commit()
        return IssuedCode(current, False)
    expires_at = now + timedelta(days=GROWTH.invite_code_days)
    for _ in range(_CODE_ATTEMPTS):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        values = {"code": code, "user_id": actor.id, "created_at": now, "expires_at": expires_at}
        if db.session.execute(insert_ignore(InviteCode, values)).rowcount == 1:
            row = db.session.scalar(select(InviteCode).where(InviteCode.code == code))
            assert row is not None
            db.session.commit()
            return IssuedCode(row, True)
    raise RuntimeError("could not draw a unique invite code")


@dataclass
class CodeStats:
    code: InviteCode
    signups: int
    rewards: int
    points: int


def my_codes(actor: User, page: PageRequest) -> PageResult[CodeStats]:
    """GET /me/invites: the actor's codes, newest first, each with the sign-ups it brought,
    how many of them paid a reward and the points they paid (net of claw-backs)."""
    stmt = newest_first(
        select(InviteCode).where(InviteCode.user_id == actor.id),
        InviteCode.id,
        page.limit,
        page.after_id,
    )
    found = page.by_id(list(db.session.scalars(stmt)))
    ids = [row.id for row in found.items]
    counts: dict[int, tuple[int, int]] = {}
    paid: dict[int, int] = {}
    if ids:
        for code_id, signups, rewards in db.session.execute(
            select(
                Referral.invite_code_id,
                func.count(),
                func.sum(case((Referral.status == "rewarded", 1), else_=0)),
            )
            .where(Referral.invite_code_id.in_(ids))
            .group_by(Referral.invite_code_id)
        ):
            counts[code_id] = (int(signups), int(rewards or 0))
        for code_id, points in db.session.execute(
            select(Referral.invite_code_id, func.coalesce(func.sum(PointsEntry.delta), 0))
            .join(
                PointsEntry,
                (PointsEntry.ref_type == REF_TYPE)
                & (PointsEntry.ref_id == Referral.invitee_id)
                & (PointsEntry.user_id == Referral.referrer_id),
            )
            .where(Referral.invite_code_id.in_(ids))
            .group_by(Referral.invite_code_id)
        ):
            paid[code_id] = int(points or 0)
    return found.map(lambda row: CodeStats(row, *counts.get(row.id, (0, 0)), paid.get(row.id, 0)))


def summary(actor: User) -> dict[str, Any]:
    """Totals over every way the actor brought people in: sign-ups, rewards and points by
    source (`invite`, `share`)."""
    out: dict[str, Any] = {
        source: {"signups": 0, "rewards": 0, "points": 0} for source in REWARD_ACTIONS
    }
    for source, signups, rewards in db.session.execute(
        select(
            Referral.source,
            func.count(),
            func.sum(case((Referral.status == "rewarded", 1), else_=0)),
        )
        .where(Referral.referrer_id == actor.id)
        .group_by(Referral.source)
    ):
        out[source] |= {"signups": int(signups), "rewards": int(rewards or 0)}
    # Rewards, claw-backs and restorations alike: the net the sign-ups paid.
    for source, points in db.session.execute(
        select(Referral.source, func.coalesce(func.sum(PointsEntry.delta), 0))
        .join(
            PointsEntry,
            (PointsEntry.ref_type == REF_TYPE)
            & (PointsEntry.ref_id == Referral.invitee_id)
            & (PointsEntry.user_id == Referral.referrer_id),
        )
        .where(Referral.referrer_id == actor.id)
        .group_by(Referral.source)
    ):
        out[source]["points"] = int(points or 0)
    return out


ReferralRow = tuple[Referral, User, int]


def my_referrals(actor: User, page: PageRequest) -> PageResult[ReferralRow]:
    """GET /me/referrals: the accounts the actor brought in, newest first, with the points
    each paid so far (net of claw-backs)."""
    stmt = newest_first(
        select(Referral).where(Referral.referrer_id == actor.id),
        Referral.id,
        page.limit,
        page.after_id,
    )
    found = page.by_id(list(db.session.scalars(stmt)))
    invitee_ids = [row.invitee_id for row in found.items]
    users = {
        user.id: user for user in db.session.scalars(select(User).where(User.id.in_(invitee_ids)))
    }
    points = dict(
        db.session.execute(
            select(PointsEntry.ref_id, func.coalesce(func.sum(PointsEntry.delta), 0))
            .where(
                PointsEntry.user_id == actor.id,
                PointsEntry.ref_type == REF_TYPE,
                PointsEntry.ref_id.in_(invitee_ids),
            )
            .group_by(PointsEntry.ref_id)
        ).all()
    )
    return found.map(lambda row: (row, users[row.invitee_id], int(points.get(row.invitee_id, 0))))


# --- attribution at sign-up ----------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    source: str  # invite | share
    referrer_id: int | None
    invite_code_id: int | None = None
    share_id: int | None = None


def resolve_attribution(
    invite_code: str | None, share_token: str | None, now: datetime | None = None
) -> Attribution | None:
    """What a sign-up's `invite_code` or `share_token` attributes it to; 422 when the code
    or token is no good (nothing is created then). The typed code wins over a share token."""
    if invite_code is not None:
        return _code_attribution(invite_code, now or utcnow())
    if share_token is not None:
        return _share_attribution(share_token)
    return None


def _code_attribution(raw: str, now: datetime) -> Attribution:
    code = normalise_code(raw)
    row = (
        db.session.execute(
            select(InviteCode, User.status)
            .join(User, User.id == InviteCode.user_id)
            .where(InviteCode.code == code)
        ).first()
        if 0 < len(code) <= 16
        else None
    )
    reason = None
    if row is None:
        reason = "unknown"
    elif row.InviteCode.expires_at <= now:
        reason = "expired"
    elif row.status != "active":
        reason = "inviter_unavailable"
    if reason is not None or row is None:
        raise Unprocessable(
            "That invite code is not valid: check it, or sign up without one.",
            code="invalid_invite_code",
            details={"field": "invite_code", "reason": reason},
        )
    return Attribution("invite", row.InviteCode.user_id, invite_code_id=row.InviteCode.id)


def _share_attribution(token: str) -> Attribution:
    share = (
        db.session.scalar(select(Share).where(Share.token == token))
        if 0 < len(token) <= 32
        else None
    )
    if share is None:
        raise Unprocessable(
            "That share link is not known.",
            code="invalid_share_token",
            details={"field": "share_token"},
        )
    # A sharer whose account is gone still counts as the source, with nobody to pay.
    return Attribution("share", share.user_id, share_id=share.id)


def record_referral(invitee_id: int, attribution: Attribution) -> None:
    """In the sign-up's transaction (the caller commits)."""
    if attribution.referrer_id is None or attribution.referrer_id == invitee_id:
        return
    db.session.execute(
        insert_ignore(
            Referral,
            {
                "invitee_id": invitee_id,
                "referrer_id": attribution.referrer_id,
                "source": attribution.source,
                "invite_code_id": attribution.invite_code_id,
                "share_id": attribution.share_id,
                "status": "pending",
                "created_at": utcnow(),
            },
        )
    )


# --- the reward -----------------------------------------------------------------------------


def note_went_live(author_id: int) -> int:
    """The author's note is published and passed review (the growth event that settles a
    note calls this, in its transaction): pay whoever brought the author in, once. Returns
    the points paid."""
    referral = db.session.scalar(
        select(Referral).where(Referral.invitee_id == author_id, Referral.status == "pending")
    )
    if referral is None:
        return 0
    # The invitee's row first (a ban waits for this transaction, and a ban that committed
    # first is seen here), then the referrer's inside `award`: referrers are always older
    # accounts, so these locks are always taken from newer to older rows.
    invitee = db.session.execute(
        select(User)
        .where(User.id == author_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    referrer = db.session.get(User, referral.referrer_id, populate_existing=True)
    if invitee.status != "active" or referrer is None or referrer.status != "active":
        return 0  # not paid while either is banned; paid later if the ban is lifted
    action = REWARD_ACTIONS[referral.source]
    key = f"referral:{author_id}"
    what = "邀请" if referral.source == "invite" else "分享"
    entry = award(
        referral.referrer_id,
        action,
        key,
        ref=(REF_TYPE, author_id),
        actor_id=author_id,
        reason=f"{what}奖励：@{invitee.username} 发布了第一篇笔记",
    )
    if entry is None:
        already = db.session.scalar(select(PointsEntry.id).where(PointsEntry.key == key))
        if already is None:  # linked accounts: never paid
            _set_status(referral.id, "ineligible")
        return 0
    _set_status(referral.id, "rewarded" if entry.delta > 0 else "capped")
    if entry.delta > 0:
        _notify(referral, invitee, entry.delta)
    return entry.delta


def _set_status(referral_id: int, status: str) -> None:
    db.session.execute(
        update(Referral)
        .where(Referral.id == referral_id, Referral.status == "pending")
        .values(status=status, rewarded_at=utcnow() if status in ("rewarded", "capped") else None)
    )


def _notify(referral: Referral, invitee: User, points: int) -> None:
    what = "邀请" if referral.source == "invite" else "分享"
    send_system(
        referral.referrer_id,
        "invite_reward",
        f"{what}奖励 +{points} 积分",
        f"你{what}的 {invitee.nickname} 发布了第一篇笔记，奖励 {points} 积分已到账。",
        payload={
            "source": referral.source,
            "invitee_id": invitee.id,
            "points": points,
        },
    )


@job("default", retries=3)
def settle_invitee(invitee_id: int) -> dict[str, Any]:
    """The account's status changed (a ban, or its lifting): claw back the reward its sign-up
    paid while it is banned, restore it when the ban is lifted. Idempotent."""
    status = db.session.scalar(select(User.status).where(User.id == invitee_id))
    if status is None:
        db.session.rollback()
        return {"missing": True}
    written = settle_reversals((REF_TYPE, invitee_id), removed=status == "banned")
    db.session.commit()
    return {"written": written}
