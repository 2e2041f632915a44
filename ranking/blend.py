"""The feed's blend, shared by the service pipeline (`BlendScorer`) and the offline harness.

    blend(note) = Σ_signal w_signal(user) · c_signal(note)

Each component `c` lies in [0, 1]: interest is `InterestProfile.score`; CF is the note's
item-CF score over the user's best CF score (`cf_norm`); hot is log-scaled against the
hottest note (`hot_norm`); the editorial and pool components are what their sources give.

The weights start from the feed's configuration (`BlendConfig.weights`) and are scaled by
how much evidence each *personal* signal has for this user (`signal_weights`):

- CF and interest are shrunk by `n / (n + prior)` (`RankingConfig.evidence_prior`) where n
  is the number of the user's events the signal was built from: a single like is weak
  evidence of a taste, fifty are strong. The non-personal signals (hot, picks, pool) are
  priors and keep their weight, so a user with little history is served mostly from them.
- interest is further scaled by the profile's focus (`InterestProfile.focus`: one minus the
  normalised entropy of its affinities). A profile spread evenly over every channel scores
  every note alike and cannot tell notes apart; a peaked one can.

Nothing here is fitted to any data set: the prior is a pseudo-count of a few events, the
same kind of constant as a half-life.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ranking.config import RANKING

#: Signals a blend weighs, in summation order; anything else is explanation only.
SIGNALS = ("interest", "cf", "hot", "explore", "pick", "boost", "following")
#: Signals learned from the user's own history, whose weight depends on how much there is.
PERSONAL = ("interest", "cf")


def shrink(n_events: float, prior: float = RANKING.evidence_prior) -> float:
    """n / (n + prior): 0 without evidence, ½ at `prior` events, → 1 with many."""
    n = max(float(n_events), 0.0)
    return n / (n + prior) if n + prior > 0 else 0.0


def signal_weights(
    base: Mapping[str, float],
    *,
    cf_events: float,
    interest_events: float,
    interest_focus: float,
    prior: float = RANKING.evidence_prior,
) -> dict[str, float]:
    """The feed's weights for this user: personal signals scaled by their evidence."""
    out = {k: float(v) for k, v in base.items() if k in SIGNALS}
    if "cf" in out:
        out["cf"] *= shrink(cf_events, prior)
    if "interest" in out:
        out["interest"] *= shrink(interest_events, prior) * min(max(interest_focus, 0.0), 1.0)
    return out


def cf_norm(scores: np.ndarray, top: np.ndarray | float) -> np.ndarray:
    """CF score relative to the user's best CF candidate (0 where there is none)."""
    top_arr = np.asarray(top, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((scores > 0) & (top_arr > 0), scores / top_arr, 0.0)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def hot_norm(scores: np.ndarray, top: np.ndarray | float) -> np.ndarray:
    """Hot score on a log scale relative to the hottest note, in [0, 1]."""
    top_arr = np.asarray(top, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(
            (scores > 0) & (top_arr > 0),
            np.log1p(np.maximum(scores, 0.0)) / np.log1p(np.maximum(top_arr, 0.0)),
            0.0,
        )
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def blend(components: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Σ w · c over the signals present; a missing (NaN, ±inf, negative) component counts as 0.

    Works on any shape: one user's candidates (the pipeline) or users × catalogue (offline).
    Weights may be scalars or arrays broadcasting against the components (per-user weights).
    """
    total: np.ndarray | None = None
    for name in SIGNALS:
        c = components.get(name)
        if c is None:
            continue
        w = np.asarray(weights.get(name, 0.0), dtype=np.float64)
        if not np.any(w):
            continue
        c = np.asarray(c, dtype=np.float64)
        part = w * np.where(np.isfinite(c) & (c > 0), c, 0.0)
        total = part if total is None else total + part
    if total is None:
        shapes = [np.shape(c) for c in components.values()]
        return np.zeros(shapes[0] if shapes else (0,))
    return total
