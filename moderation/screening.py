"""Automated checks before content appears: every comment, and the notes of new accounts,
pass the text filter (external links count only from new accounts); every note and comment
is compared with what other accounts posted lately (the same text, a near-identical picture)
and with its author's own pace (bursts). `block` refuses the write (422, nothing saved);
`review` saves it as `pending_review` (its author sees it so; nobody else does) and opens a
case for a moderator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, func, literal, or_, select

from app.accounts.models import User
from app.core.errors import Unprocessable
from app.core.extensions import db
from app.core.models import utcnow
from app.core.sql_functions import hamming_distance
from app.media.models import Image
from app.notes.models import Comment, Note, NoteImage
from moderation.audit import audit
from moderation.config import MODERATION
from moderation.keywords import text_filter
from moderation.models import Case, Fingerprint
from moderation.taxonomy import taxonomy
from moderation.text_filter import normalize


@dataclass
class Screening:
    verdict: str | None  # None | "review" | "block"
    category: str = "other"
    # keyword, phone, contact, link, duplicate_text, duplicate_image, burst, picture_text
    kinds: list[str] = field(default_factory=list)
    #: What the check found, for the case a moderator reads (`Case.evidence`), by check:
    #: {"picture_text": [...]} (`moderation.pictures`).
    evidence: dict[str, Any] = field(default_factory=dict)


def is_new_account(user: User) -> bool:
    created = user.created_at
    return created is not None and utcnow() - created < timedelta(days=MODERATION.new_account_days)


def screen(*texts: str, new_account: bool) -> Screening:
    """The word list and contact details for everyone; external links only from new accounts."""
    matches = [
        m
        for text in texts
        if text
        for m in text_filter().scan(text)
        if new_account or m.kind != "link"
    ]
    if not matches:
        return Screening(None)
    worst = max(matches, key=lambda m: 2 if m.action == "block" else 1)
    return Screening(worst.action, worst.category, sorted({m.kind for m in matches}))


def _digest(texts: tuple[str, ...]) -> str | None:
    normal = "".join(normalize(text)[0] for text in texts if text)
    if len(normal) < MODERATION.duplicate_min_chars:
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
            Fingerprint.created_at >= utcnow() - MODERATION.duplicate_window,
        )
    )
    if (others or 0) >= MODERATION.duplicate_other_accounts:
        return Screening("review", "spam_ads", ["duplicate_text"])
    return Screening(None)


def screen_duplicate_images(author_id: int, image_ids: Sequence[int]) -> Screening:
    """Review when other accounts posted a near-identical picture lately."""
    hashes = list(
        db.session.scalars(
            select(Image.phash).where(Image.id.in_(image_ids), Image.phash.is_not(None))
        )
    )
    if not hashes:
        return Screening(None)
    near = or_(
        *(
            hamming_distance(Image.phash, literal(h, BigInteger)) <= MODERATION.image_match_bits
            for h in hashes
        )
    )
    others = db.session.scalar(
        select(func.count(func.distinct(Note.author_id)))
        .select_from(Image)
        .join(NoteImage, NoteImage.image_id == Image.id)
        .join(Note, Note.id == NoteImage.note_id)
        .where(
            Image.created_at >= utcnow() - MODERATION.duplicate_window,
            Image.phash.is_not(None),
            Note.author_id != author_id,
            near,
        )
    )
    if (others or 0) >= MODERATION.duplicate_other_accounts:
        return Screening("review", "spam_ads", ["duplicate_image"])
    return Screening(None)


def screen_burst(author: User, target_type: str, exclude_id: int | None = None) -> Screening:
    """Review an account posting faster than people do."""
    if author.official or author.roles != {"user"}:
        return Screening(None)
    burst = MODERATION.bursts[target_type]
    model = Comment if target_type == "comment" else Note
    recent = select(func.count()).where(
        model.author_id == author.id, model.created_at >= utcnow() - burst.window
    )
    if exclude_id is not None:
        recent = recent.where(model.id != exclude_id)
    if (db.session.scalar(recent) or 0) >= burst.limit:
        return Screening("review", "spam_ads", ["burst"])
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
    """The strictest verdict, naming every signal that reached it."""
    order = {None: 0, "review": 1, "block": 2}
    worst = max(screenings, key=lambda s: order[s.verdict])
    if worst.verdict is None:
        return worst
    kinds = sorted({k for s in screenings if s.verdict == worst.verdict for k in s.kinds})
    evidence = {
        k: v for s in screenings if s.verdict == worst.verdict for k, v in s.evidence.items()
    }
    return Screening(worst.verdict, worst.category, kinds, evidence)


def refuse_if_blocked(screening: Screening) -> None:
    if screening.verdict == "block":
        raise Unprocessable(
            "This content breaks the community rules and cannot be posted.",
            code="content_blocked",
            details={"category": screening.category},
        )


def open_review_case(target_type: str, target_id: int, owner_id: int, screening: Screening) -> None:
    """A case for content the filter held back (call after the content is committed)."""
    add_review_case(target_type, target_id, owner_id, screening)
    db.session.commit()


def add_review_case(target_type: str, target_id: int, owner_id: int, screening: Screening) -> None:
    """`open_review_case` in the caller's transaction (a job holding content it found)."""
    signals = MODERATION.signal_reasons
    signal = next((kind for kind in signals if kind in screening.kinds), None)
    code = (
        signals[signal]
        if signal is not None and screening.category == "spam_ads"
        else MODERATION.auto_reasons.get(screening.category, "other.other")
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
            evidence=dict(screening.evidence),
        )
        db.session.add(case)
    else:
        case.status, case.outcome, case.decided_at, case.auto_hidden = "open", None, None, True
        if screening.evidence:
            case.evidence = {**(case.evidence or {}), **screening.evidence}
    audit(
        None,
        "auto_review",
        target_type,
        target_id,
        f"filter: {', '.join(screening.kinds)} ({screening.category})",
        {},
        {"status": "pending_review"},
    )
