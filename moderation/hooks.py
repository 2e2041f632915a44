"""What moderation's decisions set off in other domains, as callables those domains supply.

Moderation owns the decisions; the counters, search index, points, sessions and
notifications they touch belong to other domains, which moderation does not import (they
import moderation). `create_app` registers one `ModerationHooks` on the app; moderation reads
it back through `hooks()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Flask, current_app

from app.notes.models import Comment, Note

ContentKind = Literal["note", "comment"]
EngagementKind = Literal["like", "collect", "follow"]
_KEY = "sprout.moderation_hooks"


@dataclass(frozen=True, slots=True)
class ModerationHooks:
    #: A note or comment entered (+1) or left (-1) `published` by a moderation decision (the
    #: row's status is about to change): the counts that follow what is visible move.
    published_changed: Callable[[ContentKind, Note | Comment, int], None]
    #: A note or comment was hidden, removed or restored (after its status changed, in the
    #: same transaction): search and points follow.
    content_changed: Callable[[ContentKind, int], None]
    #: An account was banned (in the ban's transaction): its sessions end.
    account_banned: Callable[[int], None]
    #: An account's ban began or ended: search hides or shows it and its notes again.
    account_status_changed: Callable[[int], None]
    #: Tell a user about a moderation outcome (a `system` notification with this payload).
    notify: Callable[[int, dict[str, Any]], None]
    #: Likes, collects or follows (`EngagementKind`) of these actors on one target (a note;
    #: an account for follows) stop counting (`counted=False`: suspect) or count again
    #: (cleared), in the caller's transaction: the rows' flag, the counters and the points
    #: follow. Idempotent; returns how many rows changed.
    engagement_counted: Callable[[EngagementKind, int, list[int], bool], int]
    #: Upheld fake engagement: the suspect rows are deleted (their counters already left
    #: them out). Idempotent; returns how many rows went.
    engagement_removed: Callable[[EngagementKind, int, list[int]], int]


def register_hooks(app: Flask, implementations: ModerationHooks) -> None:
    app.extensions[_KEY] = implementations


def hooks() -> ModerationHooks:
    """The current app's hooks (an app context is needed, as for the database)."""
    registered = current_app.extensions.get(_KEY)
    if not isinstance(registered, ModerationHooks):
        raise RuntimeError("moderation hooks are not registered: create_app registers them")
    return registered
