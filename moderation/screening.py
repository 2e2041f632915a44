"""Automated checks before content appears: every comment, and the notes of new accounts,
pass the text filter. `block` refuses the write (422, nothing saved); `review` saves it as
`pending_review` (its author sees it so; nobody else does) and opens a case for a moderator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from app.errors import Unprocessable
from app.extensions import db
from app.models import User, utcnow
from moderation.keywords import text_filter
from moderation.models import Case
from moderation.taxonomy import taxonomy

NEW_ACCOUNT_DAYS = 7
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

    code = AUTO_REASONS.get(screening.category, "other.other")
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
