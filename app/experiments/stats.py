"""Intervals for engagement per impression, per arm and arm minus control.

Impressions of one viewer are not independent (a viewer who likes a lot likes on many of
their impressions), so treating every impression as a Bernoulli trial (Wilson) gives
intervals that are too narrow. The interval here is a viewer-clustered bootstrap: viewers
are resampled with replacement, each with all of their impressions and engagements, and the
ratio sum(engagements) / sum(impressions) is recomputed (scipy's `bootstrap`, BCa while the
jackknife it needs stays cheap, percentile above that). The Wilson interval is reported as
well, as the naive reference.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000
BCA_MAX_VIEWERS = 2000  # BCa's jackknife is O(n²) per arm; above this, percentile
BATCH = 100


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: str

    def as_dict(self) -> dict[str, float | str]:
        return {"low": round(self.low, 6), "high": round(self.high, 6), "method": self.method}


def _ratio(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    # sample: (2, ..., viewers): engagements then impressions, resampled along the last axis
    return sample[0].sum(axis=-1) / sample[1].sum(axis=-1)


def _bootstrap(
    data: tuple[np.ndarray, ...], statistic: Callable[..., np.ndarray], seed: int
) -> Interval | None:
    largest = max(sample.shape[-1] for sample in data)
    methods = ["BCa", "percentile"] if largest <= BCA_MAX_VIEWERS else ["percentile"]
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap(
                data,
                statistic,
                vectorized=True,
                axis=-1,
                confidence_level=CONFIDENCE,
                n_resamples=RESAMPLES,
                batch=BATCH,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = result.confidence_interval
        if math.isfinite(low) and math.isfinite(high):
            return Interval(float(low), float(high), f"viewer_bootstrap_{method.lower()}")
    return None


def _sample(engagements: np.ndarray, impressions: np.ndarray) -> np.ndarray:
    return np.vstack([engagements, impressions]).astype(np.float64)


def rate_interval(
    engagements: np.ndarray, impressions: np.ndarray, seed: int = 0
) -> Interval | None:
    """Viewer-clustered interval for sum(engagements) / sum(impressions); one entry per viewer
    (each with at least one impression). None with fewer than two viewers."""
    if len(impressions) < 2:
        return None
    return _bootstrap((_sample(engagements, impressions),), _ratio, seed)


def difference_interval(
    engagements: np.ndarray,
    impressions: np.ndarray,
    control_engagements: np.ndarray,
    control_impressions: np.ndarray,
    seed: int = 0,
) -> Interval | None:
    """Viewer-clustered interval for rate(arm) − rate(control), the arms resampled
    independently (a viewer is in one arm only)."""
    if len(impressions) < 2 or len(control_impressions) < 2:
        return None

    def difference(arm: np.ndarray, control: np.ndarray, axis: int = -1) -> np.ndarray:
        return _ratio(arm) - _ratio(control)

    data = (
        _sample(engagements, impressions),
        _sample(control_engagements, control_impressions),
    )
    return _bootstrap(data, difference, seed)


def wilson_interval(successes: int, trials: int) -> Interval | None:
    """The Wilson score interval treating every impression as an independent trial (a
    reference only: too narrow when viewers differ). Engagements beyond one per impression
    are capped."""
    if trials <= 0:
        return None
    ci = stats.binomtest(min(successes, trials), trials).proportion_ci(
        confidence_level=CONFIDENCE, method="wilson"
    )
    return Interval(float(ci.low), float(ci.high), "wilson")
