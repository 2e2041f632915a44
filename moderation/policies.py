"""Who may do what in moderation: one named predicate per action, called by the services.

Role rank has one definition, `app.core.policies.role_rank`; these build on it. The role each
staff power needs is data (`MODERATION.roles`)."""

from __future__ import annotations

from app.accounts.models import User
from app.core.policies import outranks
from moderation.config import MODERATION


def can_moderate(actor: User) -> bool:
    return actor.has_role(MODERATION.roles["moderate"])


def can_manage_keywords(actor: User) -> bool:
    return actor.has_role(MODERATION.roles["manage_keywords"])


def can_see_metrics(actor: User) -> bool:
    return actor.has_role(MODERATION.roles["see_metrics"])


def is_disinterested(actor: User, *user_ids: int | None) -> bool:
    """Nobody handles a case or an appeal about their own content, account or penalty:
    `user_ids` are the accounts concerned (a target's owner, an appellant, the penalised)."""
    return actor.id not in user_ids


def can_penalise(actor: User, owner: User) -> bool:
    """Warn, mute or ban an account: only one ranked below the actor (a moderator cannot
    touch a moderator or an admin)."""
    return can_moderate(actor) and outranks(actor, owner)


def can_decide_appeal(actor: User, appellant: User) -> bool:
    """Deciding an appeal settles the appellant's penalty: the same rank rule as imposing it."""
    return can_moderate(actor) and outranks(actor, appellant)


def can_lift_penalty(actor: User) -> bool:
    """The one exception to the rank rule: an admin may end any mute or ban early (someone
    else's: `is_disinterested` still applies)."""
    return actor.has_role(MODERATION.roles["lift_penalty"])
