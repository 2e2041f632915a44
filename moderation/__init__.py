"""Moderation: screening, reports, cases, penalties, appeals and the audit log (issue 6).

The rest of the app imports this package (the façade below), `moderation.api` (the
blueprint) and `moderation.models`; nothing else. Moderation reaches back into other domains
only through the hooks `create_app` registers (`moderation.hooks`)."""

from moderation.facade import (
    ENGAGEMENT,
    Screened,
    detect_engagement,
    purge_signals,
    record_sign_in_signals,
    screen_content,
    screen_picture_text,
)
from moderation.hooks import ContentKind, EngagementKind, ModerationHooks, register_hooks
from moderation.penalties import current_mute, lift_all_penalties

__all__ = [
    "ENGAGEMENT",
    "ContentKind",
    "EngagementKind",
    "ModerationHooks",
    "Screened",
    "current_mute",
    "detect_engagement",
    "lift_all_penalties",
    "purge_signals",
    "record_sign_in_signals",
    "register_hooks",
    "screen_content",
    "screen_picture_text",
]
