"""What a stage of the feed waterfall is: candidate source, filter, scorer, selector.

Modelled on twitter/the-algorithm's product-mixer without the framework: every stage is a
small class with a stable `name` (drop counts, explain and metrics key on it) and one
method of its kind. The protocols are structural, so a stage needs no base class; they are
runtime-checkable so a pipeline's stages can be asserted to follow them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ranking.context import RequestContext
from ranking.types import Scored


@runtime_checkable
class CandidateSource(Protocol):
    """Fetches candidates; may switch itself off for a request with `enabled`."""

    name: str

    def enabled(self, ctx: RequestContext) -> bool: ...

    def fetch(self, ctx: RequestContext) -> list[Scored]: ...


@runtime_checkable
class Filter(Protocol):
    """Splits candidates into (kept, removed) so drops can be counted per filter."""

    name: str
    soft: bool  # soft drops are restored when the page would otherwise be short

    def apply(
        self, ctx: RequestContext, items: list[Scored]
    ) -> tuple[list[Scored], list[Scored]]: ...


@runtime_checkable
class Scorer(Protocol):
    """Gives every candidate its score and components (one pass over all of them)."""

    name: str

    def score(self, ctx: RequestContext, items: list[Scored]) -> list[Scored]: ...


@runtime_checkable
class Selector(Protocol):
    """Turns scored candidates into the page, in order."""

    name: str

    def select(self, ctx: RequestContext, items: list[Scored], page_size: int) -> list[Scored]: ...
