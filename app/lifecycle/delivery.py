"""Delivering a recall campaign: target, hold out, pick notes, send. Idempotent and bounded.

1. Targeting (once): every account in the campaign's stage (banned ones aside) gets a
   `recall_recipients` row, unique per (campaign, user), with its arm: a SHA-256 of the
   campaign's id and salt and the user's id is a number u in [0, 1); u < holdout_share holds
   the user out. The same user always lands in the same arm of a campaign, on any rerun.
2. Deciding, recipient by recipient, each in its own transaction: the row is claimed with
   `UPDATE … WHERE status = 'pending'` (so of two runs only one decides it), then
   - anyone recalled by any campaign within `min_days_between_recalls` days is
     `recently_recalled` (held-out users too, so the two arms stay comparable);
   - a held-out user is `holdout` and gets nothing;
   - a treated user's `user_lifecycle.last_recalled_at` is set with a compare-and-set (two
     campaigns at once cannot both recall them), the ranking picks their notes, and
     `send_system` delivers the notification and the push; when it answers False (the user
     muted recalls) nothing was sent, the recall time is put back and the row is `muted`.
A run decides at most `delivery_per_run` recipients and says whether some remain.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.jobs import commit
from app.core.models import utcnow
from app.core.sql import insert_ignore_many
from app.feeds.ranker import run_pipeline
from app.feeds.ranking_data import user_signals
from app.feeds.state import feeds_state
from app.lifecycle.config import RECALL, RecallConfig
from app.lifecycle.models import RecallCampaign, RecallRecipient, UserLifecycle
from app.notifications.services import send_system

log = logging.getLogger(__name__)

TARGET_BATCH = 1_000


def holdout_bucket(campaign_id: int, salt: str, user_id: int) -> float:
    """A uniform number in [0, 1) for this user in this campaign, the same everywhere."""
    digest = hashlib.sha256(f"recall:{campaign_id}:{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def arm_of(campaign: RecallCampaign, user_id: int) -> str:
    held = holdout_bucket(campaign.id, campaign.salt, user_id) < campaign.holdout_share
    return "holdout" if held else "treated"


def _target(campaign: RecallCampaign, now: datetime) -> int:
    """Write the recipients of the campaign's stage, in batches; a rerun adds nothing twice."""
    after = 0
    written = 0
    while True:
        ids = list(
            db.session.scalars(
                select(UserLifecycle.user_id)
                .join(User, User.id == UserLifecycle.user_id)
                .where(
                    UserLifecycle.stage == campaign.stage,
                    UserLifecycle.user_id > after,
                    User.status == "active",
                    User.official.is_(False),
                )
                .order_by(UserLifecycle.user_id)
                .limit(TARGET_BATCH)
            )
        )
        if not ids:
            break
        db.session.execute(
            insert_ignore_many(RecallRecipient),
            [
                {
                    "campaign_id": campaign.id,
                    "user_id": user_id,
                    "arm": arm_of(campaign, user_id),
                    "status": "pending",
                    "note_ids": [],
                }
                for user_id in ids
            ],
        )
        db.session.commit()
        written += len(ids)
        after = ids[-1]
    db.session.execute(
        update(RecallCampaign)
        .where(RecallCampaign.id == campaign.id, RecallCampaign.targeted_at.is_(None))
        .values(targeted_at=now, status="sending")
    )
    db.session.commit()
    return written


def pick_notes(user_id: int, key: str, config: RecallConfig = RECALL) -> list[int]:
    """The top notes the ranking picks for this user from their interest profile (their
    engagement, onboarding choices and "not interested" feedback), without writing anything
    for them: the feed's pipeline run for a user who is not the viewer. Their own notes and
    what they already engaged with are left out."""
    settings = current_app.config["SPROUT"]
    state = feeds_state()
    catalogue = state.catalogue.get(settings)
    signals = user_signals(
        user_id, days=state.config.user_history_days, per_kind=state.config.user_events_per_kind
    )
    ranked, _dropped, _restored = run_pipeline(
        None,
        None,
        catalogue,
        None,
        key,
        [],
        config.ranked_candidates,
        time.time(),
        seen=set(),
        signals=signals,
        user_id=user_id,
    )
    picks: list[int] = []
    for item in ranked:
        features = catalogue.notes.get(item.note_id)
        if features is not None and features.author_id == user_id:
            continue
        if item.note_id not in picks:
            picks.append(item.note_id)
        if len(picks) == config.notes_per_recall:
            break
    return picks


def _recently_recalled(last: datetime | None, cutoff: datetime) -> bool:
    return last is not None and last >= cutoff


def _decide(
    campaign: RecallCampaign, recipient_id: int, user_id: int, arm: str, config: RecallConfig
) -> str | None:
    """Decide one recipient in one transaction; None when another run already did."""
    now = utcnow()
    claimed = db.session.execute(
        update(RecallRecipient)
        .where(RecallRecipient.id == recipient_id, RecallRecipient.status == "pending")
        .values(status="deciding")
    ).rowcount
    if not claimed:
        db.session.rollback()
        return None
    cutoff = now - timedelta(days=config.min_days_between_recalls)
    last = db.session.scalar(
        select(UserLifecycle.last_recalled_at).where(UserLifecycle.user_id == user_id)
    )
    picks: list[int] = []
    if _recently_recalled(last, cutoff):
        status = "recently_recalled"
    elif arm == "holdout":
        status = "holdout"
    else:
        took = db.session.execute(
            update(UserLifecycle)
            .where(
                UserLifecycle.user_id == user_id,
                or_(
                    UserLifecycle.last_recalled_at.is_(None),
                    UserLifecycle.last_recalled_at < cutoff,
                ),
            )
            .values(last_recalled_at=now)
        ).rowcount
        if not took:
            status = "recently_recalled"
        else:
            try:
                picks = pick_notes(user_id, f"recall:{campaign.id}:{user_id}", config)
            except Exception:  # a recall without picks beats no recall
                log.warning("recall picks failed for user %s", user_id, exc_info=True)
            sent = send_system(
                user_id,
                config.notification_kind,
                campaign.title,
                campaign.message,
                payload={"campaign_id": campaign.id, "note_ids": picks},
                push=True,
            )
            if sent:
                status = "sent"
            else:
                status = "muted"
                picks = []
                db.session.execute(
                    update(UserLifecycle)
                    .where(UserLifecycle.user_id == user_id)
                    .values(last_recalled_at=last)
                )
    db.session.execute(
        update(RecallRecipient)
        .where(RecallRecipient.id == recipient_id)
        .values(status=status, decided_at=now, note_ids=picks)
    )
    commit()  # with the notification and the push jobs `send_system` enqueued
    return status


def run(
    campaign_id: int, now: datetime | None = None, config: RecallConfig = RECALL
) -> dict[str, Any]:
    """One bounded run of a campaign's delivery: `{decided, remaining, status}`. Nothing
    happens before `starts_at` or after the campaign is sent."""
    now = now or utcnow()
    campaign = db.session.get(RecallCampaign, campaign_id)
    if campaign is None:
        return {"campaign_id": campaign_id, "missing": True, "remaining": False}
    if campaign.status == "sent" or campaign.starts_at > now:
        return {
            "campaign_id": campaign_id,
            "decided": 0,
            "remaining": False,
            "status": campaign.status,
        }
    if campaign.targeted_at is None:
        _target(campaign, now)
    decided = 0
    while decided < config.delivery_per_run:
        rows = db.session.execute(
            select(RecallRecipient.id, RecallRecipient.user_id, RecallRecipient.arm)
            .where(RecallRecipient.campaign_id == campaign_id, RecallRecipient.status == "pending")
            .order_by(RecallRecipient.id)
            .limit(min(config.delivery_batch, config.delivery_per_run - decided))
        ).all()
        if not rows:
            break
        for recipient_id, user_id, arm in rows:
            if _decide(campaign, recipient_id, user_id, arm, config) is not None:
                decided += 1
    pending = db.session.scalar(
        select(func.count())
        .select_from(RecallRecipient)
        .where(
            RecallRecipient.campaign_id == campaign_id,
            RecallRecipient.status.in_(("pending", "deciding")),
        )
    )
    if not pending:
        db.session.execute(
            update(RecallCampaign)
            .where(RecallCampaign.id == campaign_id, RecallCampaign.status != "sent")
            .values(status="sent", finished_at=utcnow())
        )
        db.session.commit()
    return {"campaign_id": campaign_id, "decided": decided, "remaining": bool(pending)}


def due_campaigns(now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(RecallCampaign.id)
            .where(
                RecallCampaign.status.in_(("scheduled", "sending")),
                RecallCampaign.starts_at <= now,
            )
            .order_by(RecallCampaign.id)
        )
    )
