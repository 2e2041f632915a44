"""A blend that learns its parameters: weights, the hot half-life and a long-window popularity
signal, fitted on the most recent slice of the data it is given (`fit_blend`).

The same procedure runs in two places: the periodic ranking rebuild (on the deployment's
engagement events; the result is stored as the ranking model `blend` and served through
`RequestContext.blend_params`) and `ranking.evaluate` (on each split's training rows only).

Holdout: each user with ≥ `holdout_min_rows` rows holds out their latest `holdout_fraction`
of rows (the per_user rule), served at the moment of their first held-out row, with every
signal built from the rest. Chosen over a global time slice because every active user then
contributes: on data where activity comes in bursts (MovieLens) the last time slice holds a
few dozen users, and a fit on them is noise. The held-out users are split (seeded) into a
*search* half, on which a deterministic coordinate ascent over a fixed grid maximises NDCG@k,
and a *check* half, on which the fitted parameters must beat the defaults or the defaults
are kept. Hot half-life candidates are fractions of the fit part's time span (the data's
pace), never absolute hours.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.sparse as sp

from ranking.blend import SIGNALS, cf_norm, hot_norm, signal_weights
from ranking.config import CES_WEIGHTS, FEEDS, FETCH_LIMITS, HOT, ITEMCF, LEARN, LearnConfig
from ranking.replay import (
    CF_FETCH,
    Dataset,
    Scorer,
    SignalContext,
    Split,
    _finish_split,
    _interest_scorer,
    _itemcf_scorer,
    _mask_seen,
    _seen_csr,
    _signal_context,
    _top_mask,
    log,
    top_positions,
)
from ranking.signals.hot import hot_at_times
from ranking.types import Event, NoteFeatures

#: The long-window popularity signal (not one of the feed's sources: a component only).
POPULARITY = "popularity"
#: An optional extra component (EASE or ALS scores), named by `BlendParams.extra`.
EXTRA = "extra"
#: The served session-intent component (`ranking.signals.session`): configured, not fitted
#: (the offline data sets have no browsing sessions to replay).
SESSION = "session"
EXTRA_MODELS = ("ease", "als")
#: Signals the fit chooses a weight for; the others keep the feed's configured weights.
FITTED = ("interest", "cf", "hot", POPULARITY, EXTRA)
WEIGHT_KEYS = (*SIGNALS, POPULARITY, EXTRA, SESSION)


def _ro(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


def default_weights(feed: str = "discover") -> dict[str, float]:
    """The feed's configured weights, with popularity and extra at 0 (they are new)."""
    out = {k: float(FEEDS[feed].weights.get(k, 0.0)) for k in SIGNALS}
    out[POPULARITY] = 0.0
    out[EXTRA] = 0.0
    out[SESSION] = float(FEEDS[feed].weights.get(SESSION, 0.0))
    return out


@dataclass(frozen=True)
class BlendParams:
    """The blend's parameters and how they were obtained (JSON-safe via `to_dict`)."""

    weights: Mapping[str, float] = field(default_factory=lambda: _ro(default_weights()))
    hot_half_life_seconds: float = HOT.half_life_seconds
    extra: str | None = None  # "ease" / "als": what the `extra` weight multiplies
    # the extra model's hyper-parameters chosen on validation (`ranking.signals.factors`)
    extra_config: Mapping[str, float] = field(default_factory=lambda: _ro({}))
    method: str = "defaults"
    # NDCG@k on the held-out slice: fitted vs default, on the check and the search half
    validation: Mapping[str, float] = field(default_factory=lambda: _ro({}))
    slices: Mapping[str, int] = field(default_factory=lambda: _ro({}))
    fitted_at: float | None = None
    note: str = ""  # why the defaults were kept, or what the fit chose

    @property
    def fitted(self) -> bool:
        return self.method != "defaults"

    @classmethod
    def defaults(cls, note: str = "", **changes: Any) -> BlendParams:
        return cls(note=note, **changes)

    def feed_weights(self) -> dict[str, float]:
        """Weights by signal name as `ranking.blend.blend` reads them (extra included)."""
        return {k: float(v) for k, v in self.weights.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": {k: float(v) for k, v in self.weights.items()},
            "hot_half_life_seconds": float(self.hot_half_life_seconds),
            "extra": self.extra,
            "extra_config": {k: float(v) for k, v in self.extra_config.items()},
            "method": self.method,
            "validation": {k: float(v) for k, v in self.validation.items()},
            "slices": {k: int(v) for k, v in self.slices.items()},
            "fitted_at": self.fitted_at,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Any) -> BlendParams:
        """Validated load: anything malformed (unknown keys, negative or non-finite numbers,
        wrong types) gives the defaults, with the reason in `note`."""
        try:
            return _parse(data)
        except (TypeError, ValueError, KeyError) as exc:
            return cls.defaults(note=f"stored parameters rejected: {exc}")


def _finite(value: Any, what: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} is not a number")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v <= 0):
        raise ValueError(f"{what} must be finite and {'> 0' if positive else '≥ 0'}")
    return v


def _parse(data: Any) -> BlendParams:
    if not isinstance(data, Mapping):
        raise TypeError("not an object")
    known = {
        "weights",
        "hot_half_life_seconds",
        "extra",
        "extra_config",
        "method",
        "validation",
        "slices",
        "fitted_at",
        "note",
    }
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    raw_w = data["weights"]
    if not isinstance(raw_w, Mapping):
        raise TypeError("weights is not an object")
    bad = set(raw_w) - set(WEIGHT_KEYS)
    if bad:
        raise ValueError(f"unknown signals {sorted(bad)}")
    weights = default_weights()
    weights.update({k: _finite(v, f"weight {k}") for k, v in raw_w.items()})
    half = _finite(data["hot_half_life_seconds"], "hot_half_life_seconds", positive=True)
    extra = data.get("extra")
    if extra is not None and extra not in EXTRA_MODELS:
        raise ValueError(f"unknown extra model {extra!r}")
    extra_config = data.get("extra_config", {})
    if not isinstance(extra_config, Mapping):
        raise TypeError("extra_config is an object")
    method = data.get("method", "defaults")
    note = data.get("note", "")
    if not isinstance(method, str) or not isinstance(note, str):
        raise TypeError("method and note are text")
    validation = data.get("validation", {})
    slices = data.get("slices", {})
    if not isinstance(validation, Mapping) or not isinstance(slices, Mapping):
        raise TypeError("validation and slices are objects")
    fitted_at = data.get("fitted_at")
    return BlendParams(
        weights=_ro(weights),
        hot_half_life_seconds=half,
        extra=extra,
        extra_config=_ro(
            {str(k): _finite(v, f"extra_config {k}") for k, v in extra_config.items()}
        ),
        method=method,
        validation=_ro({str(k): _finite(v, f"validation {k}") for k, v in validation.items()}),
        slices=_ro({str(k): int(_finite(v, f"slice {k}")) for k, v in slices.items()}),
        fitted_at=None if fitted_at is None else _finite(fitted_at, "fitted_at"),
        note=note,
    )


# --------------------------------------------------------------------------------------------
# The held-out slice


def make_holdout(
    ds: Dataset, train: np.ndarray, cfg: LearnConfig = LEARN, seed: int | None = None
) -> Split:
    """Each user's latest rows among `train` (see the module docstring) as a `Split` whose
    `train` is the fit part; at most `cfg.max_users` users, drawn with `seed`. Rows outside
    `train` are never read."""
    rows = np.flatnonzero(train)
    order = rows[np.lexsort((rows, ds.ts[rows], ds.user[rows]))]
    held = np.zeros(len(ds.ts), dtype=bool)
    first: dict[int, float] = {}
    if len(order):
        bounds = np.flatnonzero(np.diff(ds.user[order])) + 1
        for group in np.split(order, bounds):
            n = len(group)
            if n < cfg.holdout_min_rows:
                continue
            n_out = math.ceil(cfg.holdout_fraction * n - 1e-9)
            out = group[n - n_out :]
            held[out] = True
            first[int(ds.user[group[0]])] = float(ds.ts[out[0]])
    fit = train & ~held
    split = _finish_split(ds, "holdout", fit, held, lambda u: first[u])
    if len(split.users) > cfg.max_users:
        rng = np.random.default_rng(cfg.seed if seed is None else seed)
        keep = np.sort(rng.choice(len(split.users), cfg.max_users, replace=False))
        split.users = split.users[keep]
        split.now = split.now[keep]
        split.relevant = [split.relevant[i] for i in keep]
    split.info["validation_users"] = len(split.users)
    return split


def half_life_candidates(ts: np.ndarray, cfg: LearnConfig = LEARN) -> list[float]:
    """Fractions of the data's time span (its pace), plus the configured default."""
    span = float(ts.max() - ts.min()) if len(ts) else 0.0
    out = {HOT.half_life_seconds}
    if span > 0:
        out |= {span * f for f in cfg.half_life_fractions}
    return sorted(out)


# --------------------------------------------------------------------------------------------
# Components over each user's candidates (padded arrays: fast to re-blend many times)


@dataclass
class Candidates:
    """For a set of users: each one's candidate items (ascending, -1 padding), every
    normalised component at them, which source supplied each, relevance, and the per-user
    evidence multipliers of the personal signals (`ranking.blend.signal_weights`)."""

    items: np.ndarray  # int64 [n, W]
    comps: dict[str, np.ndarray]  # float32 [n, W] per component key
    tops: dict[str, np.ndarray]  # bool [n, W]: in that source's fetch
    relevant: np.ndarray  # bool [n, W]
    n_relevant: np.ndarray  # int64 [n]
    m_interest: np.ndarray  # float64 [n]
    m_cf: np.ndarray  # float64 [n]

    @classmethod
    def concat(cls, parts: Sequence[Candidates]) -> Candidates:
        width = max((p.items.shape[1] for p in parts), default=0)

        def pad(a: np.ndarray, fill: Any) -> np.ndarray:
            return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

        return cls(
            items=np.concatenate([pad(p.items, -1) for p in parts]),
            comps={
                k: np.concatenate([pad(p.comps[k], 0.0) for p in parts]) for k in parts[0].comps
            },
            tops={k: np.concatenate([pad(p.tops[k], False) for p in parts]) for k in parts[0].tops},
            relevant=np.concatenate([pad(p.relevant, False) for p in parts]),
            n_relevant=np.concatenate([p.n_relevant for p in parts]),
            m_interest=np.concatenate([p.m_interest for p in parts]),
            m_cf=np.concatenate([p.m_cf for p in parts]),
        )

    def subset(self, rows: np.ndarray) -> Candidates:
        return Candidates(
            items=self.items[rows],
            comps={k: v[rows] for k, v in self.comps.items()},
            tops={k: v[rows] for k, v in self.tops.items()},
            relevant=self.relevant[rows],
            n_relevant=self.n_relevant[rows],
            m_interest=self.m_interest[rows],
            m_cf=self.m_cf[rows],
        )


def gather(
    components: Mapping[str, tuple[np.ndarray, int]],
    relevant: Sequence[np.ndarray],
    m_interest: np.ndarray,
    m_cf: np.ndarray,
) -> Candidates:
    """`components`: key → (normalised users × catalogue matrix, fetch). A source's
    candidates are its `fetch` best positive finite values; every component is read at the
    union of all sources' candidates."""
    tops_full = {k: _top_mask(m, n) for k, (m, n) in components.items()}
    union = np.zeros_like(next(iter(tops_full.values())))
    for t in tops_full.values():
        union |= t
    counts = union.sum(axis=1)
    width = int(counts.max(initial=0))
    n = union.shape[0]
    rows, cols = np.nonzero(union)  # row-major: columns ascending per row
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    items = np.full((n, width), -1, dtype=np.int64)
    items[rows, slot] = cols
    comps = {}
    tops = {}
    for k, (m, _) in components.items():
        c = np.zeros((n, width), dtype=np.float32)
        v = m[rows, cols]
        c[rows, slot] = np.where(np.isfinite(v) & (v > 0), v, 0.0)
        comps[k] = c
        t = np.zeros((n, width), dtype=bool)
        t[rows, slot] = tops_full[k][rows, cols]
        tops[k] = t
    rel = np.zeros((n, width), dtype=bool)
    for r, items_r in enumerate(relevant):
        rel[r] = np.isin(items[r], items_r) & (items[r] >= 0)
    return Candidates(
        items=items,
        comps=comps,
        tops=tops,
        relevant=rel,
        n_relevant=np.array([len(x) for x in relevant], dtype=np.int64),
        m_interest=np.asarray(m_interest, dtype=np.float64),
        m_cf=np.asarray(m_cf, dtype=np.float64),
    )


def blend_candidates(
    cands: Candidates, weights: Mapping[str, float], hot_key: str, extra_key: str | None
) -> np.ndarray:
    """The feed's blend over each user's candidates: Σ w·c with the personal signals scaled
    by the user's evidence; -inf where no active source supplied the item. Popularity and
    extra are sources only when weighted (the feed has no such source otherwise)."""
    w = {k: float(weights.get(k, 0.0)) for k in FITTED}
    cand = cands.tops["interest"] | cands.tops["cf"] | cands.tops[hot_key]
    total = (
        w["interest"] * cands.m_interest[:, None] * cands.comps["interest"]
        + w["cf"] * cands.m_cf[:, None] * cands.comps["cf"]
        + w["hot"] * cands.comps[hot_key]
    )
    if w[POPULARITY] > 0 and POPULARITY in cands.comps:
        cand = cand | cands.tops[POPULARITY]
        total = total + w[POPULARITY] * cands.comps[POPULARITY]
    if extra_key is not None and w[EXTRA] > 0:
        cand = cand | cands.tops[extra_key]
        total = total + w[EXTRA] * cands.comps[extra_key]
    return np.where(cand & (cands.items >= 0), total, -np.inf)


def ndcg_per_user(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Binary-relevance NDCG@k per row of a hits matrix (as `replay.evaluate_lists`)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    dcg = (hits[:, :k] * discounts).sum(axis=1)
    return dcg / ideal[np.clip(np.minimum(n_relevant, k), 1, k) - 1]


def recommend(
    cands: Candidates, weights: Mapping[str, float], hot_key: str, extra_key: str | None, k: int
) -> np.ndarray:
    """Top-k item ids per user (-1 padding) under these weights."""
    pos, valid = top_positions(blend_candidates(cands, weights, hot_key, extra_key), cands.items, k)
    return np.where(valid, np.take_along_axis(cands.items, pos, axis=1), -1)


def candidate_ndcg(
    cands: Candidates, weights: Mapping[str, float], hot_key: str, extra_key: str | None, k: int
) -> np.ndarray:
    pos, valid = top_positions(blend_candidates(cands, weights, hot_key, extra_key), cands.items, k)
    hits = np.take_along_axis(cands.relevant, pos, axis=1) & valid
    return ndcg_per_user(hits, cands.n_relevant, k)


# --------------------------------------------------------------------------------------------
# Signals as normalised component matrices


def item_popularity(ds: Dataset, mask: np.ndarray) -> np.ndarray:
    """Long-window engagement per item: Σ CES weight of a like × row weight (the service's
    lifetime counts weighed by `CES_WEIGHTS`)."""
    w = CES_WEIGHTS.get("like", 1.0) * ds.weight[mask]
    return np.bincount(ds.item[mask], weights=w, minlength=ds.n_items).astype(np.float64)


def popularity_norm(pop: np.ndarray) -> np.ndarray:
    """log1p(count) / log1p(the largest count), in [0, 1] (`ranking.blend.hot_norm`)."""
    return hot_norm(pop, float(pop.max(initial=0.0)))


def relative_norm(m: np.ndarray) -> np.ndarray:
    """Scores relative to the row's best positive score (CF, EASE, ALS); seen stay -inf."""
    finite = np.where(np.isfinite(m), m, 0.0)
    out = cf_norm(finite, finite.max(axis=1, keepdims=True))
    return np.where(np.isneginf(m), -np.inf, out)


class HotReplay:
    """Hot at each served user's moment for one half-life, built from the fit rows only;
    moments must be asked for in non-decreasing order across calls (`hot_at_times`)."""

    def __init__(self, ds: Dataset, mask: np.ndarray, half_life: float) -> None:
        self.half_life = half_life
        self.n = ds.n_items
        self._next: list[float] = []
        self._gen = hot_at_times(
            ds.item[mask],
            CES_WEIGHTS.get("like", 1.0) * ds.weight[mask],
            ds.ts[mask],
            self._moments(),
            half_life_seconds=half_life,
            n_notes=ds.n_items,
        )

    def _moments(self) -> Iterator[float]:
        while True:
            yield self._next.pop()

    def matrix(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(users × catalogue hot scores, hottest score per user) at the given times."""
        uniq, inv = np.unique(np.asarray(times, dtype=np.float64), return_inverse=True)
        out = np.empty((len(uniq), self.n))
        for j, t in enumerate(uniq):
            self._next.append(float(t))
            out[j] = next(self._gen)
        return out[inv], out.max(axis=1, initial=0.0)[inv]


def hot_component(
    scores: np.ndarray, top: np.ndarray, seen: sp.csr_matrix, users: np.ndarray
) -> np.ndarray:
    """hot_norm against the hottest note at that moment; seen items -inf."""
    return _mask_seen(hot_norm(scores, top[:, None]), seen, users)


def user_multipliers(
    interest: Scorer, cf: Scorer, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """signal_weights with unit base weights: the evidence scale of interest and CF."""
    m_int = np.empty(len(idx))
    m_cf = np.empty(len(idx))
    for r, j in enumerate(idx):
        s = signal_weights(
            {"interest": 1.0, "cf": 1.0},
            cf_events=float(cf.n_recent[j]),  # type: ignore[attr-defined]
            interest_events=float(interest.evidence[j]),  # type: ignore[attr-defined]
            interest_focus=float(interest.focus[j]),  # type: ignore[attr-defined]
        )
        m_int[r], m_cf[r] = s["interest"], s["cf"]
    return m_int, m_cf


def fetch_limits(feed: str = "discover") -> dict[str, int]:
    fetch = FEEDS[feed].fetch
    return {
        "interest": int(fetch.get("interest", FETCH_LIMITS["interest"])),
        "cf": int(fetch.get("cf", CF_FETCH)),
        "hot": int(fetch.get("hot", FETCH_LIMITS["hot"])),
    }


#: An extra model factory: (dataset, fit rows mask, seen matrix of them) → a Scorer.
ExtraFactory = Callable[[Dataset, np.ndarray, sp.csr_matrix], Scorer]


def iter_candidates(
    ds: Dataset,
    split: Split,
    half_lives: Sequence[float],
    *,
    extras: Mapping[str, Scorer] | None = None,
    interest: Scorer | None = None,
    cf: Scorer | None = None,
    ctx: SignalContext | None = None,
    batch: int = 128,
    cfg: LearnConfig = LEARN,
    progress: Callable[[str], None] = log,
) -> Iterator[tuple[np.ndarray, Candidates]]:
    """Every component of the split's users over their candidates, in batches of users in
    time order: (positions in `split.users`, their `Candidates`). Every signal is built from
    `split.train` only; hot is computed at each user's own moment (`split.now`)."""
    ctx = ctx or _signal_context(ds, split)
    interest = interest or _interest_scorer(ctx)
    cf = cf or _itemcf_scorer(ctx, ITEMCF.method)
    seen = _seen_csr(ds, split.train)
    pop = popularity_norm(item_popularity(ds, split.train))
    hots = [HotReplay(ds, split.train, h) for h in half_lives]
    fetch = fetch_limits()
    order = np.argsort(split.now, kind="stable")
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        users = split.users[idx]
        comps: dict[str, tuple[np.ndarray, int]] = {
            "interest": (interest(split, seen, idx), fetch["interest"]),
            "cf": (relative_norm(cf(split, seen, idx)), fetch["cf"]),
            POPULARITY: (
                _mask_seen(np.broadcast_to(pop, (len(idx), len(pop))).copy(), seen, users),
                cfg.popularity_fetch,
            ),
        }
        for i, replay in enumerate(hots):
            scores, top = replay.matrix(split.now[idx])
            comps[f"hot@{i}"] = (hot_component(scores, top, seen, users), fetch["hot"])
        for name, scorer in (extras or {}).items():
            comps[f"extra:{name}"] = (relative_norm(scorer(split, seen, idx)), cfg.extra_fetch)
        m_int, m_cf = user_multipliers(interest, cf, idx)
        yield idx, gather(comps, [split.relevant[j] for j in idx], m_int, m_cf)
        done = min(start + batch, len(order))
        progress(f"{split.name}: blend components for {done}/{len(order)} users")


def collect(ds: Dataset, split: Split, half_lives: Sequence[float], **kwargs: Any) -> Candidates:
    """`iter_candidates` gathered, rows in `split.users` order."""
    parts: list[Candidates] = []
    placed: list[np.ndarray] = []
    for idx, cands in iter_candidates(ds, split, half_lives, **kwargs):
        parts.append(cands)
        placed.append(idx)
    if not parts:
        raise ValueError("no users to collect")
    cands = Candidates.concat(parts)
    back = np.empty(len(split.users), dtype=np.int64)
    back[np.concatenate(placed)] = np.arange(len(split.users))
    return cands.subset(back)


# --------------------------------------------------------------------------------------------
# The search


@dataclass(frozen=True)
class _State:
    weights: tuple[tuple[str, float], ...]
    hot: int  # index into the half-life candidates
    extra: str | None

    def w(self) -> dict[str, float]:
        return dict(self.weights)

    def with_weight(self, key: str, value: float) -> _State:
        w = self.w()
        w[key] = value
        return replace(self, weights=tuple(w.items()))


def _search(
    cands: Candidates,
    start: _State,
    n_half_lives: int,
    cfg: LearnConfig,
    budget: list[int],
) -> tuple[_State, float]:
    """Coordinate ascent from `start`: the half-life, then each weight over the grid; a move
    is kept only if it strictly improves mean NDCG; stops when a sweep changes nothing."""

    def score(s: _State) -> float:
        w = s.w()
        if not any(w[k] > 0 for k in FITTED):
            return -1.0
        budget[0] -= 1
        key = f"extra:{s.extra}" if s.extra else None
        return float(candidate_ndcg(cands, w, f"hot@{s.hot}", key, cfg.k).mean())

    best, best_score = start, score(start)
    keys = ["interest", "cf", "hot", POPULARITY] + ([EXTRA] if start.extra else [])
    for _ in range(cfg.rounds):
        moved = False
        for coord in ["half_life", *keys]:
            options: list[_State]
            if coord == "half_life":
                options = [replace(best, hot=i) for i in range(n_half_lives) if i != best.hot]
            else:
                options = [
                    best.with_weight(coord, v) for v in cfg.weight_grid if v != best.w()[coord]
                ]
            for cand in options:
                if budget[0] <= 0:
                    return best, best_score
                s = score(cand)
                if s > best_score + 1e-12:
                    best, best_score, moved = cand, s, True
        if not moved:
            break
    return best, best_score


def fit_blend(
    ds: Dataset,
    train: np.ndarray | None = None,
    *,
    extras: Mapping[str, ExtraFactory] | None = None,
    holdout: Split | None = None,
    cfg: LearnConfig = LEARN,
    seed: int | None = None,
    fitted_at: float | None = None,
    progress: Callable[[str], None] = log,
) -> BlendParams:
    """Fit the blend on `ds`'s rows in `train` (all rows if None) and return its parameters.

    `extras`: candidate extra components (name → a factory fitting a Scorer on the rows it is
    given: the holdout's fit part); each is tried, and kept only if it wins on the search
    half and the result still beats the defaults on the check half.
    """
    started = time.perf_counter()
    train = np.ones(len(ds.ts), dtype=bool) if train is None else np.asarray(train, dtype=bool)
    fitted_at = float(ds.ts[train].max()) if fitted_at is None and train.any() else fitted_at
    split = holdout if holdout is not None else make_holdout(ds, train, cfg, seed)
    slices = {
        "train_rows": int(train.sum()),
        "fit_rows": int(split.train.sum()),
        "holdout_rows": int((train & ~split.train).sum()),
        "validation_users": len(split.users),
    }
    defaults = BlendParams.defaults(slices=_ro(slices), fitted_at=fitted_at)
    if len(split.users) < cfg.min_users:
        return replace(
            defaults,
            note=f"defaults: {len(split.users)} held-out users (< {cfg.min_users}): too few to fit",
        )
    half_lives = half_life_candidates(ds.ts[split.train], cfg)
    default_hot = half_lives.index(HOT.half_life_seconds)
    ctx = _signal_context(ds, split)
    seen = _seen_csr(ds, split.train)
    scorers = {name: make(ds, split.train, seen) for name, make in (extras or {}).items()}
    cands = collect(ds, split, half_lives, extras=scorers, ctx=ctx, cfg=cfg, progress=progress)
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    perm = rng.permutation(len(split.users))
    half = len(perm) // 2
    search, check = cands.subset(np.sort(perm[:half])), cands.subset(np.sort(perm[half:]))
    base = default_weights()
    start = _State(tuple((k, base[k]) for k in FITTED), default_hot, None)
    budget = [cfg.max_evals]
    best, best_score = _search(search, start, len(half_lives), cfg, budget)
    plain = best
    for name in scorers:
        if budget[0] <= 0:
            break
        s, sc = _search(search, replace(start, extra=name), len(half_lives), cfg, budget)
        if sc > best_score + 1e-12:
            best, best_score = s, sc

    def on(c: Candidates, s: _State) -> float:
        key = f"extra:{s.extra}" if s.extra else None
        return float(candidate_ndcg(c, s.w(), f"hot@{s.hot}", key, cfg.k).mean())

    validation = {
        "fitted": on(check, best),
        "default": on(check, start),
        "search_fitted": best_score,
        "search_default": on(search, start),
        "fitted_without_extra": on(check, plain),
        "evaluations": float(cfg.max_evals - budget[0]),
    }
    progress(f"blend fit: {validation} in {time.perf_counter() - started:.1f}s")
    slices |= {"search_users": len(search.n_relevant), "check_users": len(check.n_relevant)}
    if not validation["fitted"] > validation["default"] + cfg.min_gain:
        return replace(
            defaults,
            validation=_ro(validation),
            slices=_ro(slices),
            note="defaults: the fitted parameters did not beat them on the check half",
        )
    fitted = best.w()
    # Rescale so the fitted signals weigh as much in total as the defaults did: the order
    # offline is unchanged, and the feed's unfitted signals (picks, pool, boosts, following)
    # keep their standing against them.
    total = sum(fitted[k] for k in FITTED)
    target = sum(base[k] for k in FITTED)
    weights = dict(base)
    weights.update({k: round(fitted[k] * target / total, 6) for k in FITTED})
    if best.extra is None:
        weights[EXTRA] = 0.0
    return BlendParams(
        weights=_ro(weights),
        hot_half_life_seconds=float(half_lives[best.hot]),
        extra=best.extra,
        method=f"coordinate ascent on held-out NDCG@{cfg.k}",
        validation=_ro(validation),
        slices=_ro(slices),
        fitted_at=fitted_at,
        note=f"half-life candidates (s): {[round(h) for h in half_lives]}",
    )


# --------------------------------------------------------------------------------------------
# The service's events as a Dataset


def dataset_from_events(
    events: Sequence[Event],
    notes: Mapping[int, NoteFeatures],
    kind_weights: Mapping[str, float] = CES_WEIGHTS,
) -> tuple[Dataset, list[int]]:
    """Engagement events → a `Dataset` whose rows weigh each event by its kind's CES weight
    (relative to a like's, the unit the replay's signals count in); notes without features
    are dropped. Returns the dataset and the dense index → note id list."""
    like = kind_weights.get("like", 1.0) or 1.0
    kept = [
        e for e in events if e.note_id in notes and kind_weights.get(e.kind, 0.0) * e.weight > 0
    ]
    user_index: dict[int, int] = {}
    note_ids = sorted({e.note_id for e in kept} | set(notes))
    item_index = {n: i for i, n in enumerate(note_ids)}
    user = np.array(
        [user_index.setdefault(e.user_id, len(user_index)) for e in kept], dtype=np.int64
    )
    item = np.array([item_index[e.note_id] for e in kept], dtype=np.int64)
    ts = np.array([e.ts for e in kept], dtype=np.float64)
    weight = np.array([kind_weights[e.kind] * e.weight / like for e in kept], dtype=np.float64)
    dense_notes = {item_index[n]: replace(f, note_id=item_index[n]) for n, f in notes.items()}
    ds = Dataset(
        user=user,
        item=item,
        ts=ts,
        weight=weight,
        user_ids=[str(u) for u in user_index],
        item_ids=[str(n) for n in note_ids],
        categories=[(notes[n].channel,) if notes[n].channel else () for n in note_ids],
        notes=dense_notes,
    )
    return ds, note_ids
