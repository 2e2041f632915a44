"""Drops notes the user hid or marked not interested."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_notes
from ranking.types import Scored


@dataclass
class HiddenFilter:
    """Notes hidden by the user (`ctx.hidden_notes`) or in their profile's negatives."""

    name: str = "hidden"
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        negative = ctx.profile.negative_notes if ctx.profile is not None else set()
        return split_notes(items, ctx.hidden_notes | negative)
