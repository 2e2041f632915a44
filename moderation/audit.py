"""The audit trail every moderation module writes to, and the two ways to read it: the full
log for moderators and the public one. The bottom of moderation's services: it imports none
of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.core.extensions import db
from app.core.pagination import PageRequest, PageResult
from app.core.policies import require
from app.core.sql import newest_first
from moderation.config import MODERATION
from moderation.models import AuditEntry
from moderation.policies import can_moderate


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


def audit_log(actor: User, page: PageRequest) -> PageResult[AuditEntry]:
    require(can_moderate(actor), "Only moderators may read the audit log.")
    statement = newest_first(select(AuditEntry), AuditEntry.id, page.limit, page.after_id)
    return page.by_id(list(db.session.scalars(statement)))


def public_log(page: PageRequest) -> PageResult[AuditEntry]:
    """What moderation did, without who asked, who decided or the private notes."""
    public = select(AuditEntry).where(AuditEntry.action.in_(MODERATION.public_actions))
    statement = newest_first(public, AuditEntry.id, page.limit, page.after_id)
    return page.by_id(list(db.session.scalars(statement)))
