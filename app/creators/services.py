"""Use cases of the creators domain: ranking KOL/KOC candidates for editors, and verification
("认证加V") — a creator asks, an editor approves, refuses or later revokes.

The ranking reads five grouped aggregates (notes by author and channel; interactions from
others; follows gained; strikes; reports), whatever the number of candidates: never a query
per creator. Scores are computed from those numbers with the weights of `config.CREATORS`,
and every candidate carries the numbers and the reasons behind its score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.extensions import db
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult
from app.core.policies import is_staff, require
from app.core.sql import id_in, id_in_range, touched
from app.core.viewer import avatars_for
from app.core.visibility import BANNED, PUBLIC_STATUS, not_banned
from app.creators.config import CREATORS, CreatorsConfig
from app.creators.models import CreatorVerification
from app.editorial.services import log_action
from app.media.models import Image
from app.notes.models import Channel, Collect, Comment, Note, NoteLike, Share
from app.notifications.services import send_system
from app.social.models import UserFollow
from moderation.models import Case, ModerationAction, Report

#: Note states that count as moderated (taken down or held by moderation).
MODERATED_STATUSES = ("hidden", "removed")
#: Account penalties that count as strikes.
STRIKE_KINDS = ("warn", "mute", "ban")
#: Interaction kinds, as the integer tags of the engagement query's union.
KINDS = ("like", "collect", "comment", "share")


# -- policies -------------------------------------------------------------------------------


def can_scout_creators(actor: User | None) -> bool:
    return is_staff(actor, "editor")  # admins pass every role check


def can_review_verifications(actor: User | None) -> bool:
    return is_staff(actor, "editor")


def can_decide_verification(actor: User, request: CreatorVerification) -> bool:
    """Editors decide others' requests, never their own."""
    return can_review_verifications(actor) and actor.id != request.user_id


# -- the candidates -------------------------------------------------------------------------


@dataclass
class Candidate:
    user_id: int
    followers: int
    notes: int = 0  # published in the window
    moderated: int = 0  # published in the window, then hidden or removed by moderation
    by_channel: dict[str | None, int] = field(default_factory=dict)  # published notes
    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    new_followers: int = 0
    previous_followers: int = 0
    strikes: int = 0
    reports: int = 0
    score: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    tier: str = "rising"


@dataclass
class CandidatePage:
    page: PageResult[Candidate]
    users: dict[int, User]
    avatars: dict[int, Image]
    channel: str | None
    window_days: int


def rank_creators(
    actor: User,
    page: PageRequest,
    *,
    channel: str | None = None,
    tier: str | None = None,
    config: CreatorsConfig = CREATORS,
    now: datetime | None = None,
) -> CandidatePage:
    """KOL/KOC candidates among non-official accounts in good standing, best first."""
    require(can_scout_creators(actor), "Only editors and admins may scout creators.")
    channels = {code: name for code, name in db.session.execute(select(Channel.code, Channel.name))}
    if channel is not None and channel not in channels:
        raise ValidationFailed(
            "No such channel.", code="unknown_channel", details={"channel": channel}
        )
    now = now or utcnow()
    found = _candidates(config, channel, now)
    for candidate in found.values():
        _score(candidate, config, channel, channels)
    ranked = sorted(
        (c for c in found.values() if tier is None or c.tier == tier),
        key=lambda c: (-c.score, c.user_id),
    )
    if page.after is not None:
        after_score, after_id = page.after
        ranked = [
            c
            for c in ranked
            if c.score < after_score or (c.score == after_score and c.user_id > after_id)
        ]
    result = page.result(ranked[: page.limit + 1], lambda c: (c.score, c.user_id))
    ids = [c.user_id for c in result.items]
    users = {user.id: user for user in db.session.scalars(select(User).where(id_in(User.id, ids)))}
    return CandidatePage(result, users, avatars_for(users.values()), channel, config.window_days)


def _candidates(config: CreatorsConfig, channel: str | None, now: datetime) -> dict[int, Candidate]:
    since = now - timedelta(days=config.window_days)
    window = (
        select(
            Note.id,
            Note.author_id,
            Note.status,
            Note.channel_code,
            User.follower_count,
        )
        .join(User, User.id == Note.author_id)
        .where(
            Note.published_at.is_not(None),
            Note.published_at >= since,
            Note.deleted_at.is_(None),
            Note.status.in_((PUBLIC_STATUS, *MODERATED_STATUSES)),
            User.official.is_(False),
            User.status != BANNED,
        )
        .cte("window_notes")
    )
    # 1. Notes by author and channel: published, and taken down by moderation.
    published = func.sum(case((window.c.status == PUBLIC_STATUS, 1), else_=0))
    found: dict[int, Candidate] = {}
    for author_id, code, followers, notes, live in db.session.execute(
        select(
            window.c.author_id,
            window.c.channel_code,
            window.c.follower_count,
            func.count(),
            published,
        ).group_by(window.c.author_id, window.c.channel_code, window.c.follower_count)
    ):
        candidate = found.setdefault(author_id, Candidate(author_id, followers or 0))
        candidate.notes += int(live or 0)
        candidate.moderated += int(notes) - int(live or 0)
        candidate.by_channel[code] = candidate.by_channel.get(code, 0) + int(live or 0)
    found = {
        user_id: c
        for user_id, c in found.items()
        if c.notes >= config.min_notes
        and (channel is None or c.by_channel.get(channel, 0) >= config.min_channel_notes)
    }
    if not found:
        return found
    authors = select(window.c.author_id).distinct().scalar_subquery()

    # 2. Interactions with the published notes of the window, from accounts other than the
    # author (and not banned): self-engagement never counts.
    live_notes = window.c.status == PUBLIC_STATUS
    parts = []
    for tag, (table, actor) in enumerate(
        (
            (NoteLike, NoteLike.user_id),
            (Collect, Collect.user_id),
            (Comment, Comment.author_id),
            (Share, Share.user_id),
        )
    ):
        extra = []
        if table is Comment:
            extra = [Comment.deleted_at.is_(None), Comment.status == PUBLIC_STATUS]
        parts.append(
            select(window.c.author_id, literal(tag), func.count())
            .select_from(table)
            .join(window, window.c.id == table.note_id)
            .where(
                live_notes,
                actor.is_not(None),
                actor != window.c.author_id,
                not_banned(actor),
                *extra,
            )
            .group_by(window.c.author_id)
        )
    for author_id, tag, count in db.session.execute(union_all(*parts)):
        if author_id in found:
            found[author_id].received[KINDS[tag]] += int(count)

    # 3. Follows gained: the last `growth_days` and the same span before.
    recent = now - timedelta(days=config.growth_days)
    before = recent - timedelta(days=config.growth_days)
    for user_id, new, previous in db.session.execute(
        select(
            UserFollow.followee_id,
            func.sum(case((UserFollow.created_at >= recent, 1), else_=0)),
            func.sum(case((UserFollow.created_at < recent, 1), else_=0)),
        )
        .where(
            UserFollow.followee_id.in_(authors),
            UserFollow.created_at >= before,
            not_banned(UserFollow.follower_id),
        )
        .group_by(UserFollow.followee_id)
    ):
        if user_id in found:
            found[user_id].new_followers = int(new or 0)
            found[user_id].previous_followers = int(previous or 0)

    # 4. Strikes: account penalties not reversed.
    quality_since = now - timedelta(days=config.quality_days)
    for user_id, count in db.session.execute(
        select(ModerationAction.user_id, func.count())
        .where(
            ModerationAction.user_id.in_(authors),
            ModerationAction.kind.in_(STRIKE_KINDS),
            ModerationAction.reversed_at.is_(None),
            ModerationAction.created_at >= quality_since,
        )
        .group_by(ModerationAction.user_id)
    ):
        if user_id in found:
            found[user_id].strikes = int(count)

    # 5. Reports by others about the creator's content or account, unless dismissed.
    for user_id, count in db.session.execute(
        select(Case.target_user_id, func.count())
        .select_from(Report)
        .join(Case, Case.id == Report.case_id)
        .where(
            Case.target_user_id.in_(authors),
            Report.reporter_id != Case.target_user_id,
            Report.created_at >= quality_since,
            or_(Report.outcome.is_(None), Report.outcome != "dismissed"),
        )
        .group_by(Case.target_user_id)
    ):
        if user_id in found:
            found[user_id].reports = int(count)
    return found


def _score(
    c: Candidate, config: CreatorsConfig, channel: str | None, channels: dict[str, str]
) -> None:
    """The score, the numbers behind it and the reasons, from the aggregates alone."""
    w = config.weights
    weighted = sum(config.engagement_weights[kind] * c.received[kind] for kind in KINDS)
    per_note = weighted / c.notes if c.notes else 0.0
    published_total = sum(c.by_channel.values())
    if channel is not None:
        focus_channel, focus_notes = channel, c.by_channel.get(channel, 0)
    else:
        named = {code: n for code, n in c.by_channel.items() if code is not None and n}
        focus_channel = max(named, key=lambda code: (named[code], code)) if named else None
        focus_notes = named.get(focus_channel, 0) if focus_channel else 0
    focus_share = focus_notes / published_total if published_total else 0.0
    written = c.notes + c.moderated
    moderated_share = c.moderated / written if written else 0.0

    parts = {
        "engagement": w["engagement"] * math.log1p(per_note),
        "growth": w["growth"] * math.log1p(c.new_followers)
        + w["acceleration"] * math.log((1 + c.new_followers) / (1 + c.previous_followers)),
        "focus": w["focus"] * focus_share,
        "moderated": -w["moderated"] * moderated_share,
        "strikes": -w["strike"] * c.strikes,
        "reports": -w["report"] * math.log1p(c.reports),
    }
    c.score = round(sum(parts.values()), 4)
    c.tier = config.tier(c.followers)
    c.metrics = {
        "notes": c.notes,
        "likes_from_others": c.received["like"],
        "collects_from_others": c.received["collect"],
        "comments_from_others": c.received["comment"],
        "shares_from_others": c.received["share"],
        "engagement_per_note": round(per_note, 2),
        "followers": c.followers,
        "new_followers": c.new_followers,
        "previous_new_followers": c.previous_followers,
        "follower_growth": c.new_followers - c.previous_followers,
        "focus_channel": focus_channel,
        "focus_channel_notes": focus_notes,
        "focus_share": round(focus_share, 3),
        "moderated_notes": c.moderated,
        "moderated_share": round(moderated_share, 3),
        "strikes": c.strikes,
        "reports": c.reports,
        "score_parts": {name: round(value, 4) for name, value in parts.items()},
    }
    name = channels.get(focus_channel or "", focus_channel or "")
    days, growth_days = config.window_days, config.growth_days
    candidates = [
        (
            "engagement_from_others",
            parts["engagement"],
            per_note,
            f"近 {days} 天每篇笔记平均获得他人互动 {per_note:.1f}（赞 {c.received['like']}、"
            f"收藏 {c.received['collect']}、评论 {c.received['comment']}、"
            f"分享 {c.received['share']}，共 {c.notes} 篇；本人互动不计）",
        ),
        (
            "follower_growth" if parts["growth"] >= 0 else "follower_slowdown",
            parts["growth"],
            c.new_followers - c.previous_followers,
            f"近 {growth_days} 天新增粉丝 {c.new_followers}，此前 {growth_days} 天 "
            f"{c.previous_followers}；粉丝共 {c.followers}",
        ),
        (
            "channel_focus",
            parts["focus"],
            focus_share,
            f"{focus_share:.0%} 的笔记发在「{name}」（{focus_notes}/{published_total}）"
            if focus_channel
            else "笔记未归入频道",
        ),
        (
            "moderated_notes",
            parts["moderated"],
            c.moderated,
            f"{c.moderated} 篇笔记被审核隐藏或删除（占 {moderated_share:.0%}）",
        ),
        (
            "strikes",
            parts["strikes"],
            c.strikes,
            f"近 {config.quality_days} 天受处罚 {c.strikes} 次",
        ),
        (
            "reports",
            parts["reports"],
            c.reports,
            f"近 {config.quality_days} 天被他人举报 {c.reports} 次（驳回的不计）",
        ),
    ]
    c.reasons = sorted(
        (
            {
                "code": code,
                "effect": "positive" if contribution >= 0 else "negative",
                "contribution": round(contribution, 4),
                "value": round(float(value), 4),
                "message": message,
            }
            for code, contribution, value, message in candidates
            if contribution != 0 or code == "engagement_from_others"
        ),
        key=lambda reason: -abs(reason["contribution"]),
    )


# -- verification ---------------------------------------------------------------------------


def categories(config: CreatorsConfig = CREATORS) -> list[dict[str, str]]:
    return [{"category": code, "label": label} for code, label in config.categories.items()]


def request_verification(
    actor: User, category: str, statement: str, *, config: CreatorsConfig = CREATORS
) -> CreatorVerification:
    """A signed-in creator asks to be verified in a category; one pending request at a time."""
    label = config.categories.get(category)
    if label is None:
        raise ValidationFailed(
            "No such verification category.",
            code="unknown_category",
            details={"category": category, "allowed": list(config.categories)},
        )
    approved = _current(actor.id, "approved")
    if approved is not None:
        raise Conflict(
            "You are verified already.",
            code="already_verified",
            details={"verification_id": approved.id, "category": approved.category},
        )
    if _current(actor.id, "pending") is not None:
        raise _pending_conflict()
    verification = CreatorVerification(
        user_id=actor.id, category=category, label=label, statement=statement, status="pending"
    )
    db.session.add(verification)
    try:
        db.session.commit()  # the partial unique index: of two concurrent requests, one commits
    except IntegrityError as exc:
        db.session.rollback()
        raise _pending_conflict() from exc
    return verification


def _pending_conflict() -> Conflict:
    return Conflict(
        "A verification request of yours is already waiting for a decision.",
        code="verification_pending",
    )


def _current(user_id: int, status: str) -> CreatorVerification | None:
    return db.session.scalar(
        select(CreatorVerification).where(
            CreatorVerification.user_id == user_id, CreatorVerification.status == status
        )
    )


@dataclass
class MyVerification:
    latest: CreatorVerification | None
    badge: CreatorVerification | None


def my_verification(actor: User) -> MyVerification:
    latest = db.session.scalar(
        select(CreatorVerification)
        .where(CreatorVerification.user_id == actor.id)
        .order_by(CreatorVerification.id.desc())
        .limit(1)
    )
    return MyVerification(latest, _current(actor.id, "approved"))


@dataclass
class VerificationList:
    page: PageResult[CreatorVerification]
    users: dict[int, User]
    avatars: dict[int, Image]


def list_verifications(actor: User, status: str, page: PageRequest) -> VerificationList:
    """Requests in a state, oldest first (a queue)."""
    require(can_review_verifications(actor), "Only editors and admins review verifications.")
    stmt = (
        select(CreatorVerification)
        .where(CreatorVerification.status == status)
        .order_by(CreatorVerification.id)
        .limit(page.limit + 1)
    )
    if page.after_id is not None:
        stmt = stmt.where(CreatorVerification.id > page.after_id)
    listed = page.by_id(list(db.session.scalars(stmt)))
    return VerificationList(listed, *_users_of(listed.items))


def _users_of(rows: list[CreatorVerification]) -> tuple[dict[int, User], dict[int, Image]]:
    ids = list({row.user_id for row in rows})
    users = {user.id: user for user in db.session.scalars(select(User).where(id_in(User.id, ids)))}
    return users, avatars_for(users.values())


#: outcome → (the state it starts from, the state it leads to)
TRANSITIONS = {
    "approve": ("pending", "approved"),
    "refuse": ("pending", "refused"),
    "revoke": ("approved", "revoked"),
}
NOTICES = {
    "approved": ("认证通过", "你的「{label}」认证已通过，主页和笔记卡片将显示认证标识。"),
    "refused": ("认证未通过", "你的「{label}」认证申请未通过。{note}"),
    "revoked": ("认证已取消", "你的「{label}」认证已被取消。{note}"),
}


def decide_verification(
    actor: User, verification_id: int, outcome: str, note: str = ""
) -> tuple[CreatorVerification, User, dict[int, Image]]:
    """Approve or refuse a pending request, or revoke an approved one. The state moves in one
    conditional UPDATE (two editors deciding at once: one wins, the other gets 409), the
    account's `verified` flag with it, in the same transaction as the editorial log entry
    and the notice to the creator."""
    require(can_review_verifications(actor), "Only editors and admins decide verifications.")
    verification = (
        db.session.get(CreatorVerification, verification_id)
        if id_in_range(verification_id)
        else None
    )
    if verification is None:
        raise NotFound("No such verification request.", code="verification_not_found")
    require(
        can_decide_verification(actor, verification),
        "Nobody decides their own verification request.",
        code="own_request",
    )
    start, end = TRANSITIONS[outcome]
    now = utcnow()
    values: dict[str, Any] = {"status": end}
    if outcome == "revoke":
        values.update(revoked_by_id=actor.id, revoked_at=now)
    else:
        values.update(decided_by_id=actor.id, decided_at=now, decision_note=note)
    try:
        moved = db.session.execute(
            update(CreatorVerification)
            .where(CreatorVerification.id == verification.id, CreatorVerification.status == start)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    except IntegrityError as exc:  # approved twice for one user, concurrently
        db.session.rollback()
        raise _state_conflict(verification, start) from exc
    if moved != 1:
        db.session.rollback()
        raise _state_conflict(verification, start)
    if outcome != "refuse":
        # The flag every card reads: set on approval; on revocation back to what the account
        # is without it (official accounts stay verified).
        flag = True if outcome == "approve" else User.official
        db.session.execute(
            update(User)
            .where(User.id == verification.user_id)
            .values(verified=flag)
            .execution_options(synchronize_session=False)
        )
        touched("users", [verification.user_id])  # the badge shows on their cards
    log_action(
        actor,
        f"verification_{outcome}",
        "verification",
        verification.id,
        {"user_id": verification.user_id, "category": verification.category, "note": note},
    )
    title, body = NOTICES[end]
    send_system(
        verification.user_id,
        "verification",
        title,
        body.format(label=verification.label, note=note).strip(),
        payload={
            "verification_id": verification.id,
            "outcome": end,
            "category": verification.category,
            "label": verification.label,
        },
    )
    db.session.commit()
    db.session.expire_all()
    verification = db.session.get(CreatorVerification, verification.id)
    assert verification is not None
    users, avatars = _users_of([verification])
    return verification, users[verification.user_id], avatars


def _state_conflict(verification: CreatorVerification, start: str) -> Conflict:
    db.session.refresh(verification)
    return Conflict(
        f"This request is {verification.status}, not {start}.",
        code="verification_already_decided" if start == "pending" else "verification_not_approved",
        details={"status": verification.status},
    )
