"""The feeds domain's tunables, as data with defaults.

The settings shared with the deployment (`ranking_cache_seconds`, `ranking_prefetch_*`,
`ranking_catalogue_*`) stay in `app.core.config.Settings`; the ranking library's own weights
are in `ranking.config`. What is here is how the app serves and refreshes feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ranking.config import HOT


@dataclass(frozen=True)
class FeedsConfig:
    # Discover sessions
    prefetch_when_pages_left: int = 6  # ask the worker for the next pages when fewer are buffered
    prefetch_claim_seconds: int = 15  # one prefetch job per viewer and feed at a time
    impression_flush_seconds: int = 30  # embedded mode: buffered impressions written this often
    #: None: every page of a session draws from its own seed (session and history), as in
    #: production. A string makes exploration reproducible (tests): the seed then depends only
    #: on it, the viewer, the feed and the page's history, not on the random session token.
    rng_seed: str | None = None

    # Caches of one process
    feature_ttl_seconds: float = 300.0  # features of notes outside the catalogue
    feature_cache_size: int = 50_000
    model_check_seconds: float = 30.0  # how often a newer built model (item-CF) is looked for
    content_ttl_seconds: float = 300.0  # card content, per process and in the shared cache
    content_cache_size: int = 20_000

    # What a viewer's ranking reads about them
    user_history_days: int = 90
    user_events_per_kind: int = 200
    recent_engagements: int = 50  # the latest engagements the CF recall starts from

    # Periodic rebuilds
    hot_list_size: int = 100
    # Past 14 half-lives a note keeps under 1/16,000 of its hot score: treat it as 0 rather
    # than rewriting every old note's score on every run.
    hot_score_horizon_half_lives: int = 14
    cf_history_days: int = 90

    @property
    def hot_score_horizon(self) -> timedelta:
        return timedelta(seconds=HOT.half_life_seconds * self.hot_score_horizon_half_lives)


FEEDS = FeedsConfig()
