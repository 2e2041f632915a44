"""Who may run experiments: those who may manage the ranking (admins, as for
`POST /admin/ranking/rebuild`); editors may read them and their reports."""

from __future__ import annotations

from app.accounts.models import User
from app.core.policies import is_staff


def can_manage_experiments(actor: User | None) -> bool:
    return is_staff(actor, "admin")


def can_read_experiments(actor: User | None) -> bool:
    return is_staff(actor, "editor")  # admins pass every role check
