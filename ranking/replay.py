"""Replaying an interaction log through the feed's own signals: the pieces the offline
harness (`ranking.evaluate`) and the blend fit (`ranking.learn`) share.

Rows are dense integer arrays (`Dataset`); a `Split` says which rows train and whom to serve
when; every scorer maps a batch of those users to a users × catalogue score matrix with -inf
where it does not rank (the user's train items always). The signal scorers call the same
code the feed uses (`InterestProfile`, `ItemCF`, the hot decay).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ranking.blend import blend, cf_norm, hot_norm, signal_weights
from ranking.config import EVALUATION, FEEDS, FETCH_LIMITS, HOT, ITEMCF
from ranking.signals.hot import hot_from_events
from ranking.signals.interest import FeatureIndex, InterestProfile
from ranking.signals.itemcf import ItemCF
from ranking.types import Event, NoteFeatures

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
    #: Real note features keyed by dense item (the service's events); None: from categories
    notes: dict[int, NoteFeatures] | None = None

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


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

    Ties break towards the lower item index (also at the k-th place) so results are
    deterministic.
    """
    items = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    pos, valid = top_positions(scores, items, k)
    return np.where(valid, pos, -1)


def top_positions(scores: np.ndarray, items: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns of the k best finite scores per row, best first, ties towards the lower item
    (`top_k` over a padded subset of the catalogue: `items` ascending per row), and which
    of them are valid."""
    n, width = scores.shape
    if width == 0:
        return np.zeros((n, k), dtype=np.int64), np.zeros((n, k), dtype=bool)
    kk = min(k, width)
    kth = -np.partition(-scores, kk - 1, axis=1)[:, kk - 1 : kk]
    above = scores > kth
    tie = scores == kth
    need = kk - above.sum(axis=1, keepdims=True)
    chosen = above | (tie & (np.cumsum(tie, axis=1) <= need))
    pos = np.nonzero(chosen)[1].reshape(n, kk)
    vals = np.take_along_axis(scores, pos, axis=1)
    its = np.take_along_axis(items, pos, axis=1)
    order = np.lexsort((its, -vals), axis=1)
    pos = np.take_along_axis(pos, order, axis=1)
    valid = np.isfinite(np.take_along_axis(scores, pos, axis=1))
    if kk < k:
        pos = np.pad(pos, ((0, 0), (0, k - kk)))
        valid = np.pad(valid, ((0, 0), (0, k - kk)))
    return pos, valid


def ndcg_each(recs: np.ndarray, relevant: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Per-user NDCG@k of top-k lists (binary relevance; ideal = min(|relevant|, k) hits)."""
    recs = recs[:, :k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    ndcg = np.zeros(len(relevant))
    for row, rel in enumerate(relevant):
        hits = np.isin(recs[row], rel) & (recs[row] >= 0)
        ndcg[row] = float(discounts[hits].sum()) / ideal[min(len(rel), k) - 1]
    return ndcg


def evaluate_lists(
    recs: np.ndarray, relevant: Sequence[np.ndarray], popularity: np.ndarray, n_users: int, k: int
) -> dict[str, float]:
    """recall@k, ndcg@k (binary relevance), catalogue coverage and novelty of top-k lists.

    recall = hits / |relevant|; ndcg's ideal ranks min(|relevant|, k) hits first;
    novelty = mean -log2((train users of the item + 1) / (train users + 1)) over recommendations,
    smoothed so never-seen items stay finite.
    """
    recs = recs[:, :k]
    recall = np.zeros(len(relevant))
    for row, rel in enumerate(relevant):
        hits = np.isin(recs[row], rel) & (recs[row] >= 0)
        recall[row] = hits.sum() / len(rel)
    ndcg = ndcg_each(recs, relevant, k)
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
    A dataset built from the service's own events carries its real features instead.
    """
    if ds.notes is not None:
        return ds.notes
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
