"""What moderation acts on: a note, a comment or an account, loaded by id, and the state
changes of content (hide, remove, restore) whose consequences the owning domains carry out
through the registered hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from app.accounts.models import User
from app.core.errors import NotFound
from app.core.extensions import db
from app.core.sql import id_in_range
from app.notes.models import Comment, Note
from moderation.hooks import hooks

TargetType = Literal["note", "comment", "user"]
#: The state each content action leaves; reversing the action gives the content back only
#: if it is still in that state (a later decision stands).
ACTION_STATES = {"hide": "hidden", "remove": "removed"}
_MODELS: dict[str, Any] = {"note": Note, "comment": Comment, "user": User}


@dataclass
class Target:
    kind: TargetType
    id: int
    owner_id: int
    reach: int
    row: Any


def get_row(model: Any, row_id: int | None) -> Any:
    """A row by id; ids beyond the database's integer range are simply not found."""
    return db.session.get(model, row_id) if id_in_range(row_id) else None


def load_target(kind: str, target_id: int, *, reportable: bool = True) -> Target:
    """A report's target. `reportable=False`: also one moderation hid, removed or held (a
    decision or an appeal acts on it); gone for good is a 404 either way."""
    row = get_row(_MODELS[kind], target_id)
    gone = row is None or (kind != "user" and row.deleted_at is not None)
    if not gone and reportable and kind == "note":
        gone = row.status == "draft"
    if gone:
        raise NotFound(f"No such {kind}.", code=f"{kind}_not_found")
    if kind == "note":
        reach = row.view_count + row.like_count + row.collect_count + row.comment_count
        return Target("note", row.id, row.author_id, reach, row)
    if kind == "comment":
        return Target("comment", row.id, row.author_id, row.like_count + row.reply_count, row)
    return Target("user", row.id, row.id, row.follower_count, row)


def content_state(target: Target) -> str | None:
    return None if target.kind == "user" else target.row.status


def set_content_state(target: Target, status: str) -> None:
    """Hide, remove or restore a note or comment; the counts of what is visible follow."""
    before = target.row.status
    if before == status:
        return
    delta = (status == "published") - (before == "published")
    if delta:
        hooks().published_changed(target.kind, target.row, delta)  # type: ignore[arg-type]
    target.row.status = status


def after_content_change(target: Target) -> None:
    """Search and points follow the content (call before the commit: the jobs join it)."""
    if target.kind in ("note", "comment"):
        hooks().content_changed(target.kind, target.id)
