"""Signals, each usable and testable alone: hot, interest, item-CF, exploration, editorial."""

from ranking.signals.editorial import EditorialSource, StaticEditorial
from ranking.signals.exploration import TrafficPool, engagement_rate
from ranking.signals.hot import ces, decay, hot_from_arrays, hot_from_events, hot_score, top_hot
from ranking.signals.interest import InterestProfile
from ranking.signals.itemcf import ItemCF

__all__ = [
    "EditorialSource",
    "InterestProfile",
    "ItemCF",
    "StaticEditorial",
    "TrafficPool",
    "ces",
    "decay",
    "engagement_rate",
    "hot_from_arrays",
    "hot_from_events",
    "hot_score",
    "top_hot",
]
