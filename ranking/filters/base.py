"""The three ways a filter splits candidates, shared by the filters (each keeps order)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from ranking.context import RequestContext
from ranking.types import NoteFeatures, Scored

Split = tuple[list[Scored], list[Scored]]


def split_notes(items: list[Scored], drop: AbstractSet[int]) -> Split:
    """(kept, removed) by note id; `items` itself when there is nothing to drop."""
    if not drop:
        return items, []
    removed = [it for it in items if it.note_id in drop]
    if not removed:  # the usual case: one pass, and the list itself
        return items, []
    return [it for it in items if it.note_id not in drop], removed


def split_keys(
    ctx: RequestContext,
    items: list[Scored],
    blocked: AbstractSet[Any],
    keys: Callable[[NoteFeatures], Iterable[Any]],
) -> Split:
    """(kept, removed): removed if any of the note's `keys` is in `blocked`."""
    if not blocked:
        return items, []
    kept, removed = [], []
    for it in items:
        f = ctx.features(it.note_id)
        hit = f is not None and not blocked.isdisjoint(keys(f))
        (removed if hit else kept).append(it)
    return kept, removed


def split_where(
    ctx: RequestContext, items: list[Scored], drop: Callable[[NoteFeatures | None], bool]
) -> Split:
    """(kept, removed): removed where `drop(features)` is true (None: features unknown)."""
    kept, removed = [], []
    for it in items:
        (removed if drop(ctx.features(it.note_id)) else kept).append(it)
    return kept, removed
