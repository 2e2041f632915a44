"""Sprout's ranking library: plain data in, ranked pages out (no Flask, no ORM)."""

from ranking.config import RANKING, RankingConfig
from ranking.context import RequestContext
from ranking.pipeline import PageResult, Pipeline, build_pipeline
from ranking.selectors import diversify
from ranking.signals.editorial import EditorialSource, StaticEditorial
from ranking.signals.exploration import TrafficPool
from ranking.signals.hot import ces, decay, hot_from_events, hot_score, top_hot
from ranking.signals.interest import InterestProfile
from ranking.signals.itemcf import ItemCF
from ranking.stages import CandidateSource, Filter, Scorer, Selector
from ranking.store import FeedStore, MemoryFeedStore, RedisFeedStore
from ranking.types import Event, Impression, NoteFeatures, Scored

__all__ = [
    "RANKING",
    "CandidateSource",
    "EditorialSource",
    "Event",
    "FeedStore",
    "Filter",
    "Impression",
    "InterestProfile",
    "ItemCF",
    "MemoryFeedStore",
    "NoteFeatures",
    "PageResult",
    "Pipeline",
    "RankingConfig",
    "RedisFeedStore",
    "RequestContext",
    "Scored",
    "Scorer",
    "Selector",
    "StaticEditorial",
    "TrafficPool",
    "build_pipeline",
    "ces",
    "decay",
    "diversify",
    "hot_from_events",
    "hot_score",
    "top_hot",
]
