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
    # How long a card store entry lives (`app.feeds.card_store`): a last bound on a change the
    # store missed (one it could not take is retried by a durable job); changes are otherwise
    # applied within seconds. The sweep goes round every note well within it.
    card_ttl_seconds: float = 86_400.0
    # Published notes per turn of the card sweep (`warm_cards`, every 2 minutes): 100k notes
    # go round in 40 minutes; a turn that finds every card stored renders nothing.
    card_sweep_batch: int = 5000
    # Notes kept per channel in fallback order (`caches.FallbackOrder`, for
    # `feature_ttl_seconds`): a long scroll past the ranked candidates reads no sort.
    fallback_order_size: int = 5000
    # The pages ranked for no one in particular (`ranker.rank_cold`, rebuilt every minute by
    # `rank_cold_feeds`) are served for this long if the job stops.
    cold_ttl_seconds: float = 600.0

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

    # The following feed's inbox per viewer in Redis (`app.feeds.inbox`)
    inbox_size: int = 800  # newest entries kept; a deeper page is read from SQL
    inbox_ttl_seconds: int = 3 * 86_400  # refreshed on every read: idle viewers cost nothing
    inbox_build_seconds: int = 60  # a build slower than this is served but not stored
    inbox_fanout_batch: int = 500  # followers per pipelined round trip
    # Authors and topics with more followers are not fanned out: their notes are read from SQL
    # at read time (pull) for the viewers following them. Pulled from half this count up, so
    # one whose count wavers around the threshold is never neither pushed nor pulled.
    inbox_fanout_max_followers: int = 10_000
    inbox_pull_refresh_seconds: int = 600  # how long a viewer's list of pulled sources is kept

    @property
    def hot_score_horizon(self) -> timedelta:
        return timedelta(seconds=HOT.half_life_seconds * self.hot_score_horizon_half_lives)


FEEDS = FeedsConfig()
