"""Who may see lifecycle figures and run recalls. Stages and retention are platform figures
staff plan with (editors and admins); a recall sends to thousands of users, so admins only."""

from __future__ import annotations

from app.accounts.models import User
from app.core.policies import is_staff


def can_view_lifecycle(actor: User | None) -> bool:
    return is_staff(actor, "editor")  # admins pass every role check


def can_recompute_lifecycle(actor: User | None) -> bool:
    return is_staff(actor, "admin")


def can_manage_recalls(actor: User | None) -> bool:
    return is_staff(actor, "admin")


def can_view_retention(actor: User | None) -> bool:
    return is_staff(actor, "admin")  # as the other platform statistics (`/admin/stats`)
