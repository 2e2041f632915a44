"""Drops candidates without features: they cannot be scored or diversified."""

from __future__ import annotations

from dataclasses import dataclass

from ranking.context import RequestContext
from ranking.filters.base import split_where
from ranking.types import Scored


@dataclass
class UnknownFilter:
    """Candidates neither in the catalogue nor found by `ctx.hydrate`."""

    name: str = "unknown"
    soft: bool = False

    def apply(self, ctx: RequestContext, items: list[Scored]) -> tuple[list[Scored], list[Scored]]:
        return split_where(ctx, items, lambda f: f is None)
