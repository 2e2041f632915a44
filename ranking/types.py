"""Plain data the ranking library exchanges with its callers.

Everything is a frozen, slotted dataclass or a NamedTuple so the service can build these from
rows cheaply and the library can never mutate what it was handed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class NoteFeatures:
    """What the service knows about a candidate note (counts are lifetime totals)."""

    note_id: int
    author_id: int
    channel: str | None
    topics: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    published_at: float = 0.0
    likes: int = 0
    collects: int = 0
    comments: int = 0
    shares: int = 0
    follows_gained: int = 0
    impressions: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """One user action; `kind` is impression|open|like|collect|comment|share|follow."""

    user_id: int
    note_id: int
    kind: str
    ts: float
    weight: float = 1.0


class Scored(NamedTuple):
    """A candidate with the source that produced it and per-signal contributions (explain).

    A NamedTuple, not a frozen dataclass: hundreds are built per ranking run and per page
    read from a buffer, and a frozen dataclass's `__init__` costs several times a tuple's.
    Treat `components` as read-only (the default is shared)."""

    note_id: int
    score: float
    source: str
    components: Mapping[str, float] = MappingProxyType({})


class Impression(NamedTuple):
    """One served card, buffered by the feed store and written to the database in batches."""

    user_id: int | None
    note_id: int
    source: str
    ts: float
    experiment_arm_id: int | None = None  # the viewer's experiment arm, if enrolled


EVENT_KINDS = ("impression", "open", "like", "collect", "comment", "share", "follow")
