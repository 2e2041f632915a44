"""Moderation: screening, reports, cases, penalties, appeals and the audit log (issue 6).

The rest of the app imports this package (the façade below), `moderation.api` (the
blueprint) and `moderation.models`; nothing else. Moderation reaches back into other domains
only through the hooks `create_app` registers (`moderation.hooks`)."""

from moderation.facade import Screened, screen_content
from moderation.hooks import ContentKind, ModerationHooks, register_hooks
from moderation.penalties import current_mute, lift_all_penalties

__all__ = [
    "ContentKind",
    "ModerationHooks",
    "Screened",
    "current_mute",
    "lift_all_penalties",
    "register_hooks",
    "screen_content",
]
