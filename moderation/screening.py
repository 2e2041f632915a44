"""Automated checks before content appears: every comment, and the notes of new accounts,
pass the text filter. `block` refuses the write (422, nothing saved); `review` saves it as
`pending_review` (its author sees it so; nobody else does) and opens a case for a moderator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from app.errors import Unprocessable
from app.extensions import db
from app.models import User, utcnow
from moderation.keywords import text_filter
from moderation.models import Case, Fingerprint
from moderation.taxonomy import taxonomy
from moderation.text_filter import normalize

NEW_ACCOUNT_DAYS = 7
# The same text (normalised, at least this long) from this many other accounts within the
# window is held for review as coordinated spam; short common phrases (好看!) never are.
DUPLICATE_MIN_CHARS = 8
DUPLICATE_OTHER_ACCOUNTS = 2
DUPLICATE_WINDOW = timedelta(hours=24)
# The reason a case opened by the filter gets, by the category of what matched.
AUTO_REASONS = {
    "illegal": "illegal.other",
    "unfriendly": "unfriendly.abuse",
    "spam_ads": "spam_ads.evasion",
    "porn": "porn.vulgar",
    "misinformation": "misinformation.false",
    "superstition": "superstition.fortune_telling",
    "clickbait": "clickbait.sensational",
    "fan_circle": "fan_circle.brigading",
    "other": "other.other",
}


@dataclass
class Screening:
    verdict: str | None  # None | "review" | "block"
    category: str = "other"
    kinds: list[str] = field(default_factory=list)  # keyword, phone, contact, link


def is_new_account(user: User) -> bool:
    created = user.created_at
    return created is not None and utcnow() - created < timedelta(days=NEW_ACCOUNT_DAYS)


def screen(*texts: str) -> Screening:
    matches = [m for text in texts if text for m in text_filter().scan(text)]
    if not matches:
        return Screening(None)
    worst = max(matches, key=lambda m: 2 if m.action == "block" else 1)
    return Screening(worst.action, worst.category, sorted({m.kind for m in matches}))


def _digest(texts: tuple[str, ...]) -> str | None:
    normal = "".join(normalize(text)[0] for text in texts if text)
    if len(normal) < DUPLICATE_MIN_CHARS:
        return None
    return hashlib.sha1(normal.encode()).hexdigest()


def screen_duplicates(author_id: int, *texts: str) -> Screening:
    """Review when other accounts posted the same text lately."""
    digest = _digest(texts)
    if digest is None:
        return Screening(None)
    others = db.session.scalar(
        select(func.count(func.distinct(Fingerprint.user_id))).where(
            Fingerprint.digest == digest,
            Fingerprint.user_id != author_id,
            Fingerprint.created_at >= utcnow() - DUPLICATE_WINDOW,
        )
    )
    if (others or 0) >= DUPLICATE_OTHER_ACCOUNTS:
        return Screening("review", "spam_ads", ["duplicate_text"])
    return Screening(None)


def record_fingerprint(author_id: int, target_type: str, target_id: int, *texts: str) -> None:
    """Remember what was posted (in the caller's transaction)."""
    digest = _digest(texts)
    if digest is not None:
        db.session.add(
            Fingerprint(
                digest=digest, user_id=author_id, target_type=target_type, target_id=target_id
            )
        )


def strictest(*screenings: Screening) -> Screening:
    order = {None: 0, "review": 1, "block": 2}
    return max(screenings, key=lambda s: order[s.verdict])


def refuse_if_blocked(screening: Screening) -> None:
    if screening.verdict == "block":
        raise Unprocessable(
            "This content breaks the community rules and cannot be posted.",
            code="content_blocked",
            details={"category": screening.category},
        )


def open_review_case(target_type: str, target_id: int, owner_id: int, screening: Screening) -> None:
    """A case for content the filter held back (call after the content is committed)."""
    from moderation.service import audit

    code = (
        "spam_ads.coordinated"
        if "duplicate_text" in screening.kinds
        else AUTO_REASONS.get(screening.category, "other.other")
    )
    reason = taxonomy().reason(code)
    severity = reason.severity if reason else 1
    case = db.session.scalar(
        select(Case).where(Case.target_type == target_type, Case.target_id == target_id)
    )
    if case is None:
        case = Case(
            target_type=target_type,
            target_id=target_id,
            target_user_id=owner_id,
            reason_code=code,
            severity=severity,
            priority=float(severity),
            auto_hidden=True,
        )
        db.session.add(case)
    else:
        case.status, case.outcome, case.decided_at, case.auto_hidden = "open", None, None, True
    audit(
        None,
        "auto_review",
        target_type,
        target_id,
        f"filter: {', '.join(screening.kinds)} ({screening.category})",
        {},
        {"status": "pending_review"},
    )
    db.session.commit()
