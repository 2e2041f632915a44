"""Every ranking tunable, with its default, in one place.

All values are frozen dataclasses (or read-only mappings) so a service can override them by
building a new object with `dataclasses.replace` rather than mutating shared state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

HOUR = 3600.0
DAY = 24 * HOUR


def _ro(d: dict[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


# Xiaohongshu-style CES: follows gained from a note weigh the most, opens/impressions nothing.
CES_WEIGHTS: Mapping[str, float] = _ro(
    {"like": 1.0, "collect": 1.0, "comment": 4.0, "share": 4.0, "follow": 8.0}
)

# How much one action says about a user's taste (interest profile and item-CF).
INTEREST_EVENT_WEIGHTS: Mapping[str, float] = _ro(
    {
        "impression": 0.0,
        "open": 0.3,
        "like": 1.0,
        "collect": 1.5,
        "comment": 1.5,
        "share": 2.0,
        "follow": 2.5,
    }
)
CF_EVENT_WEIGHTS: Mapping[str, float] = INTEREST_EVENT_WEIGHTS


@dataclass(frozen=True, slots=True)
class HotConfig:
    """Hot list: hours-scale decay; day and week windows for the 榜单."""

    half_life_seconds: float = 12 * HOUR
    gravity: float = 0.5  # extra polynomial age damping on aggregate counts
    gravity_offset_seconds: float = 2 * HOUR
    day_window_seconds: float = DAY
    week_window_seconds: float = 7 * DAY
    weights: Mapping[str, float] = field(default_factory=lambda: CES_WEIGHTS)


@dataclass(frozen=True, slots=True)
class InterestConfig:
    """Interest profile: days-scale decay, onboarding seeds, not-interested penalties."""

    half_life_seconds: float = 14 * DAY
    event_weights: Mapping[str, float] = field(default_factory=lambda: INTEREST_EVENT_WEIGHTS)
    seed_weight: float = 2.0
    # An onboarding choice is a statement, not a glance: it counts as this many events of
    # evidence (two pages' worth of likes at the evidence prior of 5: two thirds of the
    # interest weight), so a new user's first page follows what they picked.
    seed_evidence: float = 10.0
    negative_factor: float = 0.2  # affinity multiplied by this, then lowered by negative_penalty
    negative_penalty: float = 1.0
    max_keys: int = 200  # per dimension, so a stored profile stays small
    dim_weights: Mapping[str, float] = field(
        default_factory=lambda: _ro({"channel": 0.25, "topic": 0.3, "tag": 0.15, "author": 0.3})
    )


@dataclass(frozen=True, slots=True)
class ItemCFConfig:
    """Item-to-item CF trained by a periodic job."""

    # Decay relative to each user's own latest event (taste drift within the user's sequence),
    # never below `decay_floor` of a fresh event.
    half_life_seconds: float = 30 * DAY
    decay_floor: float = 0.1
    event_weights: Mapping[str, float] = field(default_factory=lambda: CF_EVENT_WEIGHTS)
    max_neighbours: int = 50
    method: str = "proximity"
    chunk_flops: int = 8_000_000  # bound on the partial products per item chunk (memory)
    swing_alpha: float = 1.0
    swing_max_users: int = 40  # co-users per item considered by Swing (most engaged first)
    swing_max_user_items: int = 300  # each user's strongest items considered by Swing
    min_similarity: float = 1e-6
    # "proximity" (time-context item-CF, Xiang Liang 推荐系统实践): co-engagement counted once
    # per user as in classic ItemCF, plus — with the same total mass — pairs close together in
    # the user's own sequence, weighted 1/(1 + Δposition/proximity_window) up to
    # proximity_lags apart. Positions, not seconds, so it does not depend on the data's time
    # scale. Fixed a priori (the book's harmonic form; ten events ≈ one browsing session).
    proximity_window: float = 10.0
    proximity_lags: int = 50
    proximity_share: float = 0.5  # of the pair mass that comes from sequence proximity
    pair_chunk: int = 8_000_000  # bound on the proximity pairs held per item chunk (memory)
    # Whether the data has session structure is decided per fit, on the data being fitted:
    # up to `validation_users` users' last events are held out, the model is fitted with and
    # without the proximity pairs on the rest, and the pairs are kept only if they rank the
    # held-out notes better (NDCG@validation_k from each user's `validation_seeds` latest
    # events, as the feed seeds). Under `validation_min_users` usable users: kept as configured.
    proximity_validate: bool = True
    validation_users: int = 2000
    validation_min_users: int = 100
    validation_seeds: int = 50
    validation_k: int = 20
    # At serving time the user's recent notes (newest first) count 1/(1 + rank/scale): the
    # latest engagement says most about what they want next, whatever the data's time scale.
    # 0 turns the position weighting off.
    seed_position_scale: float = 10.0


@dataclass(frozen=True, slots=True)
class ExplorationConfig:
    """Traffic pool for new notes: bounded impressions, promote or retire by engagement rate."""

    pool_budget: int = 500  # impressions a new note may receive from the pool
    min_impressions: int = 50  # before judging its engagement rate
    promote_rate: float = 0.08  # engagements per impression
    retire_rate: float = 0.02
    max_age_hours: float = 72.0
    explore_share: float = 0.15  # share of a page reserved for pool notes
    promote_boost: float = 1.0
    boost_hours: float = 48.0  # promoted notes keep a (decaying) boost this long after the pool
    jitter: float = 0.05  # random tie-breaking among equally starved notes
    # A promoted note's boost grows with its engagement rate up to this multiple of
    # `promote_rate`, where it reaches `promote_boost`.
    boost_cap: float = 2.0


@dataclass(frozen=True, slots=True)
class DiversityConfig:
    max_per_author: int = 2
    window: int = 10
    max_channel_run: int = 2  # no more than this many consecutive cards of one channel if avoidable
    max_topic_run: int = 2
    lookahead: int = 50  # how far down the ranked list the greedy re-ranker looks
    # When every candidate left would break the author rule, fill the page with the least
    # repeated author rather than end the feed (a channel fed by one official account).
    relax_when_starved: bool = True
    # The author rule and the runs also give way to a card scoring at least this multiple of
    # the best card that keeps them, when the viewer's own signals (interest + CF + following
    # components) are higher on it: a chosen channel, a run of likes point there clearly
    # more than anywhere else. 1.25: a quarter better, not a near tie.
    author_yield_ratio: float = 1.25
    # Signed-in viewers: unpositioned editors' picks fill at most this share of any
    # `pick_span` consecutive cards (one in five: four of a page of 20, spread over it); the
    # rest of the page follows the viewer. Positioned picks stay pinned; anonymous visitors,
    # with nothing else to go on, get every pick first.
    pick_share: float = 0.2
    pick_span: int = 5


# How many candidates each source may supply (a feed's `BlendConfig.fetch` overrides them).
FETCH_LIMITS: Mapping[str, int] = MappingProxyType(
    {"interest": 300, "cf": 300, "hot": 200, "explore": 30, "pick": 20, "following": 100}
)


@dataclass(frozen=True, slots=True)
class BlendConfig:
    """Per-source weights for one feed and how many candidates each source may supply."""

    weights: Mapping[str, float]
    fetch: Mapping[str, int] = field(default_factory=lambda: FETCH_LIMITS)
    pool_factor: int = 5  # candidates kept for diversity = page_size * pool_factor


FEEDS: Mapping[str, BlendConfig] = MappingProxyType(
    {
        "discover": BlendConfig(
            weights=_ro(
                {
                    "interest": 1.0,
                    "cf": 1.2,
                    "hot": 0.5,
                    "explore": 0.6,
                    "pick": 0.8,
                    "boost": 0.5,
                    "following": 0.3,
                    "session": 1.0,
                }
            )
        ),
        "channel": BlendConfig(
            weights=_ro(
                {
                    "interest": 0.8,
                    "cf": 0.8,
                    "hot": 1.0,
                    "explore": 0.6,
                    "pick": 0.8,
                    "boost": 0.5,
                    "following": 0.2,
                    "session": 0.6,
                }
            )
        ),
        "following": BlendConfig(
            weights=_ro(
                {
                    "interest": 0.3,
                    "cf": 0.2,
                    "hot": 0.2,
                    "explore": 0.0,
                    "pick": 0.0,
                    "boost": 0.1,
                    "following": 1.0,
                }
            )
        ),
    }
)

# Anonymous or brand-new users: editorial picks first, then hot and the traffic pool.
COLD_START = BlendConfig(
    weights=_ro({"pick": 2.0, "hot": 1.0, "explore": 0.6, "boost": 0.5, "interest": 0.5})
)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Session intent (`ranking.signals.session`): minutes-scale interest from the latest
    explicit engagements, weighed by the feed's `session` weight."""

    window_seconds: float = HOUR
    half_life_seconds: float = 20 * 60
    kinds: frozenset[str] = frozenset({"like", "collect", "comment", "share", "follow"})
    # n engagements in the window give n / (n + prior) of the weight: one like is a hint,
    # four are what the viewer is browsing for now.
    evidence_prior: float = 2.0


@dataclass(frozen=True, slots=True)
class RankingConfig:
    """The whole tunable surface, passed to `build_pipeline`."""

    hot: HotConfig = field(default_factory=HotConfig)
    interest: InterestConfig = field(default_factory=InterestConfig)
    itemcf: ItemCFConfig = field(default_factory=ItemCFConfig)
    exploration: ExplorationConfig = field(default_factory=ExplorationConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    diversity: DiversityConfig = field(default_factory=DiversityConfig)
    feeds: Mapping[str, BlendConfig] = field(default_factory=lambda: FEEDS)
    cold_start: BlendConfig = field(default_factory=lambda: COLD_START)
    recent_serve_ttl_seconds: float = 3 * DAY
    session_ttl_seconds: float = DAY
    # Pseudo-count of events: a personal signal (interest, CF) built from n of the user's
    # events gets n / (n + evidence_prior) of its weight (`ranking.blend.shrink`).
    evidence_prior: float = 5.0
    # Sources a cold-start request (anonymous or unknown user) draws candidates from.
    cold_start_sources: frozenset[str] = frozenset({"pick", "hot", "explore", "interest"})
    # Cards from these sources keep them as `source` whatever else they score on: editors'
    # picks and pool traffic must stay attributable (impressions, explain).
    sticky_sources: frozenset[str] = frozenset({"pick", "explore"})


@dataclass(frozen=True, slots=True)
class EvaluationConfig:
    """The offline harness (`ranking.evaluate`). Fixed a priori, never tuned on the
    development set; the serving signals it replays use the configs above."""

    k: int = 20  # list length scored
    global_quantile: float = 0.8  # `global` split: rows before this time quantile train
    per_user_fraction: float = 0.2  # `per_user` split: each user's latest share of rows test
    per_user_min_rows: int = 5  # users with fewer rows are left out of `per_user`
    recent_events: int = 50  # the user's latest engagements that seed item-CF candidates
    # The ALS baseline (implicit, on BM25-weighted engagement).
    als_factors: int = 64
    als_regularization: float = 0.05
    als_iterations: int = 15
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    batch: int = 256  # users scored per numpy batch
    hot_event_visits: int = 20_000_000  # bound on events replayed through hot_from_events
    hot_time_slices: int = 8  # serving times are floored to the hot half-life / this


HOT = HotConfig()
SESSION = SessionConfig()
INTEREST = InterestConfig()
ITEMCF = ItemCFConfig()
EXPLORATION = ExplorationConfig()
DIVERSITY = DiversityConfig()
RANKING = RankingConfig()
EVALUATION = EvaluationConfig()
RECENT_SERVE_TTL_SECONDS = RANKING.recent_serve_ttl_seconds


@dataclass(frozen=True, slots=True)
class LearnConfig:
    """The blend fit (`ranking.learn.fit_blend`): how much is held out and how hard it searches.
    Written down before the first fit and never tuned on either evaluation file."""

    # Each user with ≥ holdout_min_rows rows holds out their latest share (the per_user rule).
    holdout_fraction: float = 0.2
    holdout_min_rows: int = 5
    max_users: int = 1000  # validation users drawn (seeded) when there are more
    min_users: int = 40  # fewer usable validation users: keep the defaults
    k: int = 20  # NDCG@k is the objective
    # Coordinate ascent: every weight over this grid, `rounds` sweeps at most, `max_evals` tries.
    weight_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    rounds: int = 3
    max_evals: int = 400
    # Hot half-life candidates as fractions of the fit part's time span (plus the default).
    half_life_fractions: tuple[float, ...] = (
        1 / 4096,
        1 / 1024,
        1 / 256,
        1 / 64,
        1 / 16,
        1 / 4,
        1.0,
    )
    popularity_fetch: int = 200  # candidates a long-window popularity source supplies
    extra_fetch: int = 300  # candidates an EASE/ALS source supplies
    # The fitted parameters must beat the defaults on the check half by more than this.
    min_gain: float = 0.0
    # Baselines (ranking.evaluate): configurations tried for ALS and for EASE, each.
    baseline_budget: int = 6
    als_factors: tuple[int, ...] = (32, 64, 128)
    als_regularization: tuple[float, ...] = (0.01, 0.05, 0.1)
    als_iterations: tuple[int, ...] = (10, 15, 25)
    # EASE's λ as multiples of the mean item count on the Gram diagonal (scale-free).
    ease_lambda_multiples: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
    ease_max_items: int = 5000  # the most engaged items EASE covers (a dense items² inverse)
    seed: int = 0


LEARN = LearnConfig()
