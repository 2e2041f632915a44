"""Offline evaluation: replay interaction history through the service's own ranking signals.

`python -m ranking.evaluate --interactions FILE [--items FILE] [--k 20] [--seed 0]` prints one
JSON object on stdout (progress and timings go to stderr). Two splits answer two questions:
`global` (train on everything before the 80th-percentile timestamp, test on what happens next:
freshness) and `per_user` (each user's last 20% of rows: taste). Every model ranks the whole
catalogue minus what the user already engaged with in train.

The signal models call the same code the feed uses (`hot_from_events`, `InterestProfile`,
`ItemCF`); `blend` is the discover feed's own blend (`ranking.blend.blend` with the feed's
weights from `ranking.config`, scaled per user by `ranking.blend.signal_weights`, over the
candidates the feed's sources would fetch), so the offline number is the feed's number.
Scoring is batched with numpy so 100k rows finish in well under the 10-minute budget.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ranking.blend import blend, cf_norm, hot_norm, signal_weights
from ranking.config import EVALUATION, FEEDS, FETCH_LIMITS, HOT, ITEMCF
from ranking.signals.hot import hot_from_events
from ranking.signals.interest import FeatureIndex, InterestProfile
from ranking.signals.itemcf import ItemCF
from ranking.types import Event, NoteFeatures

# The harness's own parameters are `ranking.config.EVALUATION`.
CF_FETCH = FEEDS["discover"].fetch.get("cf", FETCH_LIMITS["cf"])  # as the feed fetches
EVENT_KIND = "like"  # every row is an explicit engagement; its weight column scales it
#: Item-CF method → offline model name; the feed's `cf` source is the configured method.
CF_MODELS: Mapping[str, str] = {
    "cosine": "itemcf",
    "swing": "itemcf_swing",
    "proximity": "itemcf_prox",
}
#: Offline source name → the signal model that plays it. Feed sources with no offline
#: counterpart (explore, pick, boost, following) have no data here and are left out.
BLEND_SOURCES: Mapping[str, str] = {
    "interest": "interest",
    "cf": CF_MODELS[ITEMCF.method],
    "hot": "hot",
}


def log(msg: str) -> None:
    """Progress goes to stderr so stdout stays one JSON object."""
    print(f"[evaluate] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Reading data


@dataclass(slots=True)
class Dataset:
    """Rows as dense integer arrays; string ids are kept only to be able to print them."""

    user: np.ndarray  # int64 dense user index per row
    item: np.ndarray  # int64 dense item index per row
    ts: np.ndarray  # float64 unix seconds per row
    weight: np.ndarray  # float64 engagement strength per row
    user_ids: list[str]
    item_ids: list[str]
    categories: list[tuple[str, ...]]  # per dense item ("" categories → empty tuple)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def _parse_ts(raw: str) -> float:
    """Unix seconds (int or float), or ISO 8601 as a courtesy; raises ValueError otherwise."""
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _header_index(header: Sequence[str], path: Path, required: Sequence[str]) -> dict[str, int]:
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [r for r in required if r not in names]
    if missing:
        raise SystemExit(f"{path}: header must name {', '.join(required)} (missing {missing})")
    return {name: i for i, name in enumerate(names)}


def read_data(interactions: Path, items: Path | None = None) -> Dataset:
    """Read the CSVs; rows that cannot be parsed are skipped and counted, never fatal."""
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {}
    users: list[int] = []
    its: list[int] = []
    tss: list[float] = []
    weights: list[float] = []
    bad = 0
    with interactions.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise SystemExit(f"{interactions}: empty file (a header is required)")
        col = _header_index(header, interactions, ("user_id", "item_id", "timestamp"))
        cu, ci, ct = col["user_id"], col["item_id"], col["timestamp"]
        cw = col.get("weight")
        need = max(cu, ci, ct)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            try:
                if len(row) <= need:
                    raise ValueError("short row")
                u, i = row[cu].strip(), row[ci].strip()
                if not u or not i:
                    raise ValueError("empty id")
                t = _parse_ts(row[ct])
                w = 1.0
                if cw is not None and cw < len(row) and row[cw].strip():
                    w = float(row[cw])
                if not math.isfinite(w) or w <= 0:
                    raise ValueError("weight")
            except ValueError:
                bad += 1
                continue
            users.append(user_index.setdefault(u, len(user_index)))
            its.append(item_index.setdefault(i, len(item_index)))
            tss.append(t)
            weights.append(w)
    n_interacted = len(item_index)
    cats: dict[int, tuple[str, ...]] = {}
    bad_items = 0
    if items is not None:
        with items.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise SystemExit(f"{items}: empty file (a header is required)")
            col = _header_index(header, items, ("item_id",))
            cid, ccat = col["item_id"], col.get("categories")
            for row in reader:
                if not row or len(row) <= cid or not row[cid].strip():
                    bad_items += 1 if row else 0
                    continue
                idx = item_index.setdefault(row[cid].strip(), len(item_index))
                raw = row[ccat] if ccat is not None and ccat < len(row) else ""
                parts = [c.strip() for c in raw.split("|")]
                cats[idx] = tuple(c for c in parts if c and c != "(no genres listed)")
    item_ids = [""] * len(item_index)
    for k, v in item_index.items():
        item_ids[v] = k
    user_ids = [""] * len(user_index)
    for k, v in user_index.items():
        user_ids[v] = k
    ds = Dataset(
        user=np.asarray(users, dtype=np.int64),
        item=np.asarray(its, dtype=np.int64),
        ts=np.asarray(tss, dtype=np.float64),
        weight=np.asarray(weights, dtype=np.float64),
        user_ids=user_ids,
        item_ids=item_ids,
        categories=[cats.get(i, ()) for i in range(len(item_ids))],
    )
    ds.info = {
        "rows": len(users),
        "bad_rows": bad,
        "bad_item_rows": bad_items,
        "users": ds.n_users,
        "items_interacted": n_interacted,
        "catalogue": ds.n_items,
        "items_with_categories": sum(1 for c in ds.categories if c),
    }
    if len(users) == 0:
        raise SystemExit(f"{interactions}: no valid rows ({bad} bad)")
    return ds


# --------------------------------------------------------------------------------------------
# Splits


@dataclass(slots=True)
class Split:
    """Which rows train, who is tested, when each test user is served and what they did next."""

    name: str
    train: np.ndarray  # bool mask over dataset rows
    users: np.ndarray  # dense ids of test users (sorted)
    now: np.ndarray  # per test user: the moment the recommendation is made
    relevant: list[np.ndarray]  # per test user: test items not already engaged with in train
    info: dict[str, Any]


def _finish_split(
    ds: Dataset, name: str, train: np.ndarray, test: np.ndarray, now_of: Callable[[int], float]
) -> Split:
    """Keep test users with ≥ 1 train row and ≥ 1 new test item; collect their relevant items."""
    train_users = np.zeros(ds.n_users, dtype=bool)
    train_users[ds.user[train]] = True
    t_rows = np.flatnonzero(test)
    order = t_rows[np.argsort(ds.user[t_rows], kind="stable")]
    seen = _seen_csr(ds, train)
    users: list[int] = []
    now: list[float] = []
    relevant: list[np.ndarray] = []
    no_train = no_new = 0
    if len(order):
        bounds = np.flatnonzero(np.diff(ds.user[order])) + 1
        for group in np.split(order, bounds):
            u = int(ds.user[group[0]])
            if not train_users[u]:
                no_train += 1
                continue
            items = np.setdiff1d(ds.item[group], seen.indices[seen.indptr[u] : seen.indptr[u + 1]])
            if len(items) == 0:
                no_new += 1
                continue
            users.append(u)
            now.append(now_of(u))
            relevant.append(items)
    info = {
        "train_rows": int(train.sum()),
        "test_rows": int(test.sum()),
        "test_users": len(users),
        "skipped_test_users_without_train": no_train,
        "skipped_test_users_without_new_items": no_new,
        "mean_relevant_per_user": float(np.mean([len(r) for r in relevant])) if relevant else 0.0,
    }
    return Split(name, train, np.asarray(users, dtype=np.int64), np.asarray(now), relevant, info)


def split_global(ds: Dataset, quantile: float = EVALUATION.global_quantile) -> Split:
    """Rows strictly before the timestamp of the 80th-percentile row train; the rest test.

    The boundary row is the one at index floor(0.8·n) in time order, so ties with it are test.
    """
    order = np.argsort(ds.ts, kind="stable")
    cut = float(ds.ts[order[min(int(quantile * len(order)), len(order) - 1)]])
    train = ds.ts < cut
    split = _finish_split(ds, "global", train, ~train, lambda _u: cut)
    split.info["split_time"] = cut
    return split


def split_per_user(
    ds: Dataset,
    fraction: float = EVALUATION.per_user_fraction,
    min_rows: int = EVALUATION.per_user_min_rows,
) -> Split:
    """Each user with ≥ 5 rows: the last ceil(20%) of their rows by time test, the rest train."""
    order = np.lexsort((np.arange(len(ds.ts)), ds.ts, ds.user))  # by user, then time, then row
    test = np.zeros(len(ds.ts), dtype=bool)
    first_test: dict[int, float] = {}
    bounds = np.flatnonzero(np.diff(ds.user[order])) + 1
    for group in np.split(order, bounds):
        n = len(group)
        if n < min_rows:
            continue
        n_test = math.ceil(fraction * n - 1e-9)
        rows = group[n - n_test :]
        test[rows] = True
        first_test[int(ds.user[group[0]])] = float(ds.ts[rows[0]])
    split = _finish_split(ds, "per_user", ~test, test, lambda u: first_test[u])
    split.info["min_rows"] = min_rows
    return split


def _seen_csr(ds: Dataset, mask: np.ndarray) -> sp.csr_matrix:
    """User × item summed weights of the masked rows (duplicates add up)."""
    m = sp.csr_matrix(
        (ds.weight[mask], (ds.user[mask], ds.item[mask])), shape=(ds.n_users, ds.n_items)
    )
    m.sum_duplicates()
    m.sort_indices()
    return m


# --------------------------------------------------------------------------------------------
# Metrics


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best finite scores per row, best first, -1 where fewer exist.

    Ties break towards the lower item index so results are deterministic.
    """
    n_rows, n_cols = scores.shape
    k_eff = min(k, n_cols)
    out = np.full((n_rows, k), -1, dtype=np.int64)
    if k_eff == 0:
        return out
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    best_vals = np.take_along_axis(vals, order, axis=1)
    out[:, :k_eff] = np.where(np.isfinite(best_vals), best, -1)
    return out


def evaluate_lists(
    recs: np.ndarray, relevant: Sequence[np.ndarray], popularity: np.ndarray, n_users: int, k: int
) -> dict[str, float]:
    """recall@k, ndcg@k (binary relevance), catalogue coverage and novelty of top-k lists.

    recall = hits / |relevant|; ndcg's ideal ranks min(|relevant|, k) hits first;
    novelty = mean -log2((train users of the item + 1) / (train users + 1)) over recommendations,
    smoothed so never-seen items stay finite.
    """
    recs = recs[:, :k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    recall = np.zeros(len(relevant))
    ndcg = np.zeros(len(relevant))
    for row, rel in enumerate(relevant):
        hits = np.isin(recs[row], rel) & (recs[row] >= 0)
        recall[row] = hits.sum() / len(rel)
        ndcg[row] = float(discounts[hits].sum()) / ideal[min(len(rel), k) - 1]
    valid = recs[recs >= 0]
    share = (popularity + 1.0) / (n_users + 1.0)
    n_catalogue = len(popularity)
    return {
        f"recall@{k}": float(recall.mean()) if len(relevant) else 0.0,
        f"ndcg@{k}": float(ndcg.mean()) if len(relevant) else 0.0,
        "coverage": float(len(np.unique(valid)) / n_catalogue) if n_catalogue else 0.0,
        "novelty": float(-np.log2(share[valid]).mean()) if len(valid) else 0.0,
    }


# --------------------------------------------------------------------------------------------
# Models: each maps a batch of test users to a score matrix (users × catalogue) in which
# -inf marks what the model does not rank: the user's train items always, and for the sparse
# signals (hot, item-CF) every item they give no positive score.

Scorer = Callable[[Split, sp.csr_matrix, np.ndarray], np.ndarray]


def _mask_seen(scores: np.ndarray, seen: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    sub = seen[users]
    rows = np.repeat(np.arange(len(users)), np.diff(sub.indptr))
    scores[rows, sub.indices] = -np.inf
    return scores


def _global_scorer(vector: np.ndarray, positive_only: bool) -> Scorer:
    """Same item scores for everyone (popularity), minus each user's seen items."""
    base = vector.astype(np.float64)
    if positive_only:
        base = np.where(base > 0, base, -np.inf)

    def score(split: Split, seen: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        scores = np.broadcast_to(base, (len(idx), len(base))).copy()
        return _mask_seen(scores, seen, split.users[idx])

    return score


def _als_scorer(seen: sp.csr_matrix, seed: int) -> Scorer:
    """implicit's ALS on BM25-weighted train engagement: the library a team would pick."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight
    from threadpoolctl import threadpool_limits

    cfg = EVALUATION
    weighted = bm25_weight(seen.astype(np.float32), K1=cfg.bm25_k1, B=cfg.bm25_b).tocsr()
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads hurt
        model = AlternatingLeastSquares(
            factors=cfg.als_factors,
            regularization=cfg.als_regularization,
            iterations=cfg.als_iterations,
            random_state=seed,
        )
        model.fit(weighted, show_progress=False)
    uf = np.asarray(model.user_factors)
    itf = np.asarray(model.item_factors)

    def score(split: Split, seen_: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        scores = (uf[split.users[idx]] @ itf.T).astype(np.float64)
        return _mask_seen(scores, seen_, split.users[idx])

    return score


@dataclass(slots=True)
class SignalContext:
    """Train-side data the signal adapters share within one split."""

    ds: Dataset
    split: Split
    events: list[Event]  # train rows as signal events, in time order
    events_ts: np.ndarray  # their timestamps (sorted)
    user_rows: list[np.ndarray]  # per user: indices into `events`, in time order


def _signal_context(ds: Dataset, split: Split) -> SignalContext:
    rows = np.flatnonzero(split.train)
    rows = rows[np.argsort(ds.ts[rows], kind="stable")]
    events = [
        Event(user_id=int(u), note_id=int(i), kind=EVENT_KIND, ts=float(t), weight=float(w))
        for u, i, t, w in zip(
            ds.user[rows], ds.item[rows], ds.ts[rows], ds.weight[rows], strict=True
        )
    ]
    users = ds.user[rows]
    order = np.argsort(users, kind="stable")  # stable keeps time order within a user
    bounds = np.searchsorted(users[order], np.arange(ds.n_users + 1))
    user_rows = [order[bounds[u] : bounds[u + 1]] for u in range(ds.n_users)]
    return SignalContext(ds, split, events, ds.ts[rows], user_rows)


def _hot_scorer(ctx: SignalContext) -> Scorer:
    """hot_from_events at each test user's serving time, from the train events before it.

    Serving times are floored to 1/8 (`hot_time_slices`) of the hot half-life (coarser if
    that would mean too many calls): moving `now` back scales every event's decay by the same
    factor, so the order only misses the events of that last slice. Events older than 64
    half-lives weigh < 2^-64 of a fresh one and are not passed in.
    """
    half = HOT.half_life_seconds
    lookback = 64 * half
    step = half / EVALUATION.hot_time_slices
    while True:
        user_time = np.floor(ctx.split.now / step) * step
        buckets = np.unique(user_time)
        lo = np.searchsorted(ctx.events_ts, buckets - lookback, side="left")
        hi = np.searchsorted(ctx.events_ts, buckets, side="right")
        if int((hi - lo).sum()) <= EVALUATION.hot_event_visits or len(buckets) <= 1:
            break
        step *= 2
    log(f"hot: {len(buckets)} serving times, {int((hi - lo).sum())} event visits")
    slot = {float(b): n for n, b in enumerate(buckets)}
    vectors = np.zeros((len(buckets), ctx.ds.n_items))
    for n, (b, a, z) in enumerate(zip(buckets, lo, hi, strict=True)):
        hot = hot_from_events(
            ctx.events[a:z], float(b), window_seconds=None, half_life_seconds=half
        )
        if hot:
            ids = np.fromiter(hot.keys(), dtype=np.int64, count=len(hot))
            vectors[n, ids] = np.fromiter(hot.values(), dtype=np.float64, count=len(hot))
    user_slot = np.array([slot[float(t)] for t in user_time], dtype=np.int64)
    top = vectors.max(axis=1, initial=0.0)

    def score(split: Split, seen: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        scores = vectors[user_slot[idx]]
        scores = np.where(scores > 0, scores, -np.inf)
        return _mask_seen(scores, seen, split.users[idx])

    score.top = lambda idx: top[user_slot[idx]]  # type: ignore[attr-defined]
    return score


def note_features(ds: Dataset) -> dict[int, NoteFeatures]:
    """Items as notes: the first category is the channel, all categories are topics.

    These files have no authors, so every note gets author 0: a constant, which therefore
    cannot reorder anything. Counts and publish times are unknown and stay at zero.
    """
    topic_ids: dict[str, int] = {}
    notes: dict[int, NoteFeatures] = {}
    for i, cats in enumerate(ds.categories):
        topics = tuple(topic_ids.setdefault(c, len(topic_ids)) for c in cats)
        notes[i] = NoteFeatures(
            note_id=i, author_id=0, channel=cats[0] if cats else None, topics=topics
        )
    return notes


def _interest_scorer(ctx: SignalContext) -> Scorer:
    """InterestProfile.build from the user's train events, scored over the whole catalogue.

    Without negatives and with identical counts, a profile's score depends only on a note's
    channel, topics, tags and author, so each distinct signature is scored once (vectorised,
    `InterestProfile.score_index`) and broadcast. The profile's evidence and focus are kept
    for the blend's per-user weights.
    """
    notes = note_features(ctx.ds)
    sig_of: dict[tuple[Any, ...], int] = {}
    item_sig = np.empty(ctx.ds.n_items, dtype=np.int64)
    reps: list[NoteFeatures] = []
    for i, f in notes.items():
        key = (f.channel, f.topics, f.tags, f.author_id)
        if key not in sig_of:
            sig_of[key] = len(reps)
            reps.append(f)
        item_sig[i] = sig_of[key]
    index = FeatureIndex.build(reps)
    keys = FeatureIndex.build(list(notes.values())).key_counts()
    log(f"interest: {len(reps)} distinct note signatures")
    evidence = np.zeros(len(ctx.split.users))
    focus = np.zeros(len(ctx.split.users))

    def score(split: Split, seen: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        scores = np.empty((len(idx), ctx.ds.n_items))
        for r, j in enumerate(idx):
            evs = [ctx.events[e] for e in ctx.user_rows[int(split.users[j])]]
            profile = InterestProfile.build(evs, notes, float(split.now[j]))
            scores[r] = profile.score_index(index)[item_sig]
            evidence[j] = profile.evidence
            focus[j] = profile.focus(keys)
        scores[~np.isfinite(scores)] = -np.inf
        return _mask_seen(scores, seen, split.users[idx])

    score.evidence = evidence  # type: ignore[attr-defined]
    score.focus = focus  # type: ignore[attr-defined]
    return score


def _itemcf_scorer(ctx: SignalContext, method: str) -> Scorer:
    """ItemCF fitted on the train events; candidates from each user's latest engagements."""
    now = float(ctx.split.now.max()) if len(ctx.split.now) else None
    t0 = time.perf_counter()
    cf = ItemCF().fit(ctx.events, now=now, max_neighbours=ITEMCF.max_neighbours, method=method)
    log(f"itemcf[{method}]: fitted in {time.perf_counter() - t0:.1f}s: {cf.stats()}")

    n_recent = np.zeros(len(ctx.split.users))

    def score(split: Split, seen: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        scores = np.full((len(idx), ctx.ds.n_items), -np.inf)
        for r, j in enumerate(idx):
            u = int(split.users[j])
            recent = [  # newest first, as the feed passes them
                (ctx.events[e].note_id, ctx.events[e].weight)
                for e in ctx.user_rows[u][-EVALUATION.recent_events :][::-1]
            ]
            n_recent[j] = len(recent)
            mine = set(seen.indices[seen.indptr[u] : seen.indptr[u + 1]].tolist())
            recs = cf.recommend(recent, CF_FETCH, mine)
            if recs:
                ids, vals = zip(*recs, strict=True)
                scores[r, list(ids)] = vals
        scores[scores <= 0] = -np.inf
        return _mask_seen(scores, seen, split.users[idx])

    score.n_recent = n_recent  # type: ignore[attr-defined]
    return score


def _top_mask(scores: np.ndarray, n: int) -> np.ndarray:
    """Per row, the `n` best finite positive scores (what a source with limit n fetches)."""
    ok = np.isfinite(scores) & (scores > 0)
    if n >= scores.shape[1]:
        return ok
    mask = np.zeros(scores.shape, dtype=bool)
    part = np.argpartition(-np.where(ok, scores, -np.inf), n - 1, axis=1)[:, :n]
    np.put_along_axis(mask, part, True, axis=1)
    return mask & ok


def feed_blend(
    matrices: Mapping[str, np.ndarray],
    weights: Mapping[str, np.ndarray | float],
    hot_top: np.ndarray,
    feed: str = "discover",
) -> np.ndarray:
    """The discover pipeline over a batch of users × the catalogue.

    Candidates are what the feed's sources fetch (`BlendConfig.fetch`: interest's best notes
    with a positive score, CF's recommendations, the hot list); each candidate gets every
    component the `BlendScorer` fills (interest score, CF score over the user's best, hot on a
    log scale against the hottest note) and `ranking.blend.blend` with the user's weights
    (`signal_weights`). Non-candidates are -inf. Diversity re-ranking needs authors, which
    these files lack, and is not applied.
    """
    fetch = FEEDS[feed].fetch
    cand: np.ndarray | None = None
    comps: dict[str, np.ndarray] = {}
    for src, model in BLEND_SOURCES.items():
        m = matrices.get(model)
        if m is None:
            continue
        c = _top_mask(m, int(fetch.get(src, CF_FETCH)))
        cand = c if cand is None else cand | c
        if src == "interest":
            comps[src] = np.where(np.isfinite(m), np.maximum(m, 0.0), 0.0)
        elif src == "cf":
            finite = np.where(np.isfinite(m), m, 0.0)
            comps[src] = cf_norm(finite, finite.max(axis=1, keepdims=True))
        elif src == "hot":
            comps[src] = hot_norm(np.where(np.isfinite(m), m, 0.0), hot_top[:, None])
    if cand is None:
        raise ValueError("no blend source available")
    return np.where(cand, blend(comps, weights), -np.inf)


# --------------------------------------------------------------------------------------------
# Running


def evaluate_split(ds: Dataset, split: Split, k: int, seed: int) -> dict[str, Any]:
    """Fit every model on the split's train rows and score all test users in batches."""
    seen = _seen_csr(ds, split.train)
    popularity = np.asarray((seen > 0).sum(axis=0)).ravel().astype(np.float64)
    n_train_users = int((np.diff(seen.indptr) > 0).sum())
    timings: dict[str, float] = {}
    scorers: dict[str, Scorer] = {"popularity": _global_scorer(popularity, positive_only=False)}
    ctx = _signal_context(ds, split)
    makers: dict[str, Callable[[], Scorer]] = {
        "als": lambda: _als_scorer(seen, seed),
        "hot": lambda: _hot_scorer(ctx),
        "interest": lambda: _interest_scorer(ctx),
        "itemcf": lambda: _itemcf_scorer(ctx, "cosine"),
        "itemcf_swing": lambda: _itemcf_scorer(ctx, "swing"),
        "itemcf_prox": lambda: _itemcf_scorer(ctx, "proximity"),
    }
    for name, make in makers.items():
        t0 = time.perf_counter()
        scorers[name] = make()
        timings[name] = time.perf_counter() - t0
    weights = blend_weights()
    models = [*scorers, "blend"]
    recs: dict[str, list[np.ndarray]] = {m: [] for m in models}
    n = len(split.users)
    batch = EVALUATION.batch
    for start in range(0, n, batch):
        idx = np.arange(start, min(start + batch, n))
        matrices: dict[str, np.ndarray] = {}
        for name, scorer in scorers.items():
            t0 = time.perf_counter()
            matrix = scorer(split, seen, idx)
            recs[name].append(top_k(matrix, k))
            if name in weights:
                matrices[name] = matrix
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        t0 = time.perf_counter()
        user_w = _user_weights(scorers, weights, idx)
        hot_top = scorers["hot"].top(idx)  # type: ignore[attr-defined]
        recs["blend"].append(top_k(feed_blend(matrices, user_w, hot_top), k))
        timings["blend"] = timings.get("blend", 0.0) + time.perf_counter() - t0
        log(f"{split.name}: scored {idx[-1] + 1}/{n} users")
    results = {}
    for name in models:
        lists = np.concatenate(recs[name]) if n else np.zeros((0, k), dtype=np.int64)
        results[name] = evaluate_lists(lists, split.relevant, popularity, n_train_users, k)
    info = dict(split.info)
    info["train_users"] = n_train_users
    info["seconds"] = {m: round(t, 2) for m, t in timings.items()}
    info["blend"] = {
        "method": "ranking.blend (evidence-scaled weighted sum)",
        "cf_method": ITEMCF.method,
        "base_weights": weights,
    }
    return {"info": info, "models": results}


def _user_weights(
    scorers: Mapping[str, Scorer], base: Mapping[str, float], idx: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-user blend weights (a column per signal) exactly as `RequestContext.blend_weights`
    computes them: CF evidence = the recent events it is seeded with, interest evidence = the
    events its profile was built from, scaled by the profile's focus."""
    cf = scorers[BLEND_SOURCES["cf"]]
    interest = scorers["interest"]
    feed_base = {src: base[model] for src, model in BLEND_SOURCES.items() if model in base}
    rows = [
        signal_weights(
            feed_base,
            cf_events=float(cf.n_recent[j]),  # type: ignore[attr-defined]
            interest_events=float(interest.evidence[j]),  # type: ignore[attr-defined]
            interest_focus=float(interest.focus[j]),  # type: ignore[attr-defined]
        )
        for j in idx
    ]
    return {src: np.array([[r.get(src, 0.0)] for r in rows]) for src in feed_base}


def blend_weights(feed: str = "discover") -> dict[str, float]:
    """The feed's own per-source weights (ranking.config), keyed by offline model name."""
    return {
        BLEND_SOURCES[src]: float(w)
        for src, w in FEEDS[feed].weights.items()
        if src in BLEND_SOURCES and w > 0
    }


def run(
    interactions: Path, items: Path | None, k: int = EVALUATION.k, seed: int = 0
) -> dict[str, Any]:
    """Both splits, as the JSON document the CLI prints."""
    t0 = time.perf_counter()
    ds = read_data(interactions, items)
    took = time.perf_counter() - t0
    log(f"read {ds.info['rows']} rows ({ds.info['bad_rows']} bad) in {took:.1f}s")
    out: dict[str, Any] = {"splits": {}}
    for make in (split_global, split_per_user):
        t1 = time.perf_counter()
        split = make(ds)
        log(f"{split.name}: {split.info['test_users']} test users")
        result = evaluate_split(ds, split, k, seed)
        result["info"] = {**ds.info, **result["info"], "k": k, "seed": seed}
        result["info"]["wall_seconds"] = round(time.perf_counter() - t1, 2)
        out["splits"][split.name] = result
        log(f"{split.name}: done in {time.perf_counter() - t1:.1f}s")
    log(f"total {time.perf_counter() - t0:.1f}s")
    return out


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ranking.evaluate", description=__doc__)
    parser.add_argument("--interactions", type=Path, required=True)
    parser.add_argument("--items", type=Path, default=None)
    parser.add_argument("--k", type=int, default=EVALUATION.k)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.k < 1:
        parser.error("--k must be ≥ 1")
    np.random.seed(args.seed)
    result = run(args.interactions, args.items, args.k, args.seed)
    json.dump(result, sys.stdout, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
