"""Candidate sources, one per module: each fetches a feed's candidates of one kind."""

from ranking.sources.cf import CFSource
from ranking.sources.explore import ExploreSource
from ranking.sources.extra import ExtraSource
from ranking.sources.fallback import FallbackSource
from ranking.sources.following import FollowingSource
from ranking.sources.hot import HotSource
from ranking.sources.interest import InterestSource
from ranking.sources.pick import PickSource

__all__ = [
    "CFSource",
    "ExploreSource",
    "ExtraSource",
    "FallbackSource",
    "FollowingSource",
    "HotSource",
    "InterestSource",
    "PickSource",
]
