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
import hashlib
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ranking.config import EVALUATION, ITEMCF, LEARN, LearnConfig
from ranking.learn import (
    ExtraFactory,
    fit_blend,
    iter_candidates,
    make_holdout,
    recommend,
)
from ranking.replay import (  # noqa: F401  (re-exported: the harness's public names)
    BLEND_SOURCES,
    CF_FETCH,
    CF_MODELS,
    EVENT_KIND,
    Dataset,
    Scorer,
    SignalContext,
    Split,
    _finish_split,
    _global_scorer,
    _hot_scorer,
    _interest_scorer,
    _itemcf_scorer,
    _mask_seen,
    _seen_csr,
    _signal_context,
    _top_mask,
    _user_weights,
    blend_weights,
    evaluate_lists,
    feed_blend,
    log,
    ndcg_each,
    note_features,
    top_k,
)

# The harness's own parameters are `ranking.config.EVALUATION` (and `LEARN` for the fits).


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
    # Dense item order by a hash of the id, not by first appearance in the file: every
    # ranking breaks ties towards the lower index, and file order (which items show up
    # first, which only in the test period) must not act as a hidden signal.
    by_hash = sorted(item_index, key=lambda k: hashlib.blake2b(k.encode(), digest_size=8).digest())
    relabel = np.empty(len(item_index), dtype=np.int64)
    for new, k in enumerate(by_hash):
        relabel[item_index[k]] = new
    its = relabel[np.asarray(its, dtype=np.int64)].tolist() if its else its
    cats = {int(relabel[i]): c for i, c in cats.items()}
    item_ids = by_hash
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


def _als_scorer(
    seen: sp.csr_matrix,
    seed: int,
    factors: int = EVALUATION.als_factors,
    regularization: float = EVALUATION.als_regularization,
    iterations: int = EVALUATION.als_iterations,
) -> Scorer:
    """implicit's ALS on BM25-weighted train engagement: the library a team would pick."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight
    from threadpoolctl import threadpool_limits

    cfg = EVALUATION
    weighted = bm25_weight(seen.astype(np.float32), K1=cfg.bm25_k1, B=cfg.bm25_b).tocsr()
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads hurt
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            iterations=iterations,
            random_state=seed,
        )
        model.fit(weighted, show_progress=False)
    uf = np.asarray(model.user_factors)
    itf = np.asarray(model.item_factors)

    def score(split: Split, seen_: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        scores = (uf[split.users[idx]] @ itf.T).astype(np.float64)
        return _mask_seen(scores, seen_, split.users[idx])

    return score


def _ease_scorer(seen: sp.csr_matrix, lambda_multiple: float, max_items: int) -> Scorer:
    """EASE (Steck 2019): B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹ on binary engagement,
    over the `max_items` most engaged items (a dense items² inverse); the rest are not
    ranked. λ is a multiple of the mean diagonal of XᵀX, so the grid is scale-free."""
    x = (seen > 0).astype(np.float64).tocsr()
    counts = np.asarray(x.sum(axis=0)).ravel()
    keep = np.argsort(-counts, kind="stable")[:max_items]
    keep = np.sort(keep[counts[keep] > 0])
    xk = x[:, keep].tocsr()
    gram = (xk.T @ xk).toarray()
    diag = np.arange(len(keep))
    lam = lambda_multiple * float(gram[diag, diag].mean()) if len(keep) else 0.0
    gram[diag, diag] += lam
    p = np.linalg.inv(gram) if len(keep) else gram
    b = p / (-np.diag(p))[None, :] if len(keep) else p
    b[diag, diag] = 0.0
    n_items = seen.shape[1]

    def score(split: Split, seen_: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        users = split.users[idx]
        out = np.full((len(idx), n_items), -np.inf)
        out[:, keep] = xk[users] @ b
        return _mask_seen(out, seen_, users)

    return score


def _validate(scorer: Scorer, split: Split, seen: sp.csr_matrix, k: int) -> float:
    """Mean NDCG@k of a model on a holdout (its users in batches)."""
    recs = []
    n = len(split.users)
    for start in range(0, n, EVALUATION.batch):
        idx = np.arange(start, min(start + EVALUATION.batch, n))
        recs.append(top_k(scorer(split, seen, idx), k))
    if not recs:
        return 0.0
    return float(ndcg_each(np.concatenate(recs), split.relevant, k).mean())


@dataclass
class Choice:
    """A baseline's hyper-parameters chosen on the validation slice."""

    name: str
    config: dict[str, Any]
    tried: list[dict[str, Any]]  # every configuration with its validation NDCG
    fit_part: Scorer  # the chosen model fitted on the holdout's fit part
    seconds: float

    def info(self) -> dict[str, Any]:
        return {"chosen": self.config, "tried": self.tried, "seconds": round(self.seconds, 2)}


def _choose(
    name: str,
    configs: Sequence[dict[str, Any]],
    make: Callable[[sp.csr_matrix, dict[str, Any]], Scorer],
    hold: Split,
    hold_seen: sp.csr_matrix,
    k: int,
) -> Choice:
    """Fit each configuration on the holdout's fit part; keep the best held-out NDCG (the
    first listed wins a tie)."""
    t0 = time.perf_counter()
    tried = []
    best: tuple[float, dict[str, Any], Scorer] | None = None
    for config in configs:
        scorer = make(hold_seen, config)
        ndcg = _validate(scorer, hold, hold_seen, k)
        tried.append({**config, "validation_ndcg": round(ndcg, 6)})
        log(f"{name}: {config} → validation NDCG@{k} {ndcg:.4f}")
        if best is None or ndcg > best[0]:
            best = (ndcg, config, scorer)
    assert best is not None
    return Choice(name, best[1], tried, best[2], time.perf_counter() - t0)


def als_configs(cfg: LearnConfig = LEARN, seed: int = 0) -> list[dict[str, Any]]:
    """The a-priori configuration, then `baseline_budget - 1` others drawn (seeded) from the
    grid of factors × regularization × iterations."""
    first = {
        "factors": EVALUATION.als_factors,
        "regularization": EVALUATION.als_regularization,
        "iterations": EVALUATION.als_iterations,
    }
    grid = [
        {"factors": f, "regularization": r, "iterations": i}
        for f, r, i in itertools.product(
            cfg.als_factors, cfg.als_regularization, cfg.als_iterations
        )
        if (f, r, i) != tuple(first.values())
    ]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(grid), min(cfg.baseline_budget - 1, len(grid)), replace=False)
    return [first, *(grid[int(i)] for i in picks)]


def ease_configs(cfg: LearnConfig = LEARN) -> list[dict[str, Any]]:
    return [{"lambda_multiple": m} for m in cfg.ease_lambda_multiples[: cfg.baseline_budget]]


def bootstrap(
    per_user: dict[str, np.ndarray],
    ratios: Sequence[tuple[str, str]],
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """95 % percentile intervals of each model's mean NDCG and of ratios of two models'
    means, resampling test users with replacement (the same resamples for every model)."""
    n = len(next(iter(per_user.values()), []))
    if n == 0:
        return {}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    means = {m: v[draws].mean(axis=1) for m, v in per_user.items()}
    out: dict[str, Any] = {
        "resamples": resamples,
        "seed": seed,
        "users": n,
        "ndcg": {},
        "ratios": {},
    }
    for m, v in per_user.items():
        lo, hi = np.percentile(means[m], [2.5, 97.5])
        out["ndcg"][m] = {"mean": round(float(v.mean()), 6), "ci95": [round(lo, 6), round(hi, 6)]}
    for a, b in ratios:
        if a not in per_user or b not in per_user or per_user[b].mean() <= 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            r = means[a] / means[b]
        r = r[np.isfinite(r)]
        lo, hi = np.percentile(r, [2.5, 97.5])
        out["ratios"][f"{a}/{b}"] = {
            "ratio": round(float(per_user[a].mean() / per_user[b].mean()), 4),
            "ci95": [round(float(lo), 4), round(float(hi), 4)],
        }
    return out


def evaluate_split(ds: Dataset, split: Split, k: int, seed: int) -> dict[str, Any]:
    """Fit every model on the split's train rows and score all test users in batches.

    The validation slice (`ranking.learn.make_holdout`) is cut from the train rows only: ALS's
    and EASE's hyper-parameters are chosen on it with the same budget, and the blend is
    fitted on it (`fit_blend`); the test rows are read only to score."""
    seen = _seen_csr(ds, split.train)
    popularity = np.asarray((seen > 0).sum(axis=0)).ravel().astype(np.float64)
    n_train_users = int((np.diff(seen.indptr) > 0).sum())
    timings: dict[str, float] = {}
    # Validation slice of the training rows; baselines' hyper-parameters chosen on it.
    t0 = time.perf_counter()
    hold = make_holdout(ds, split.train, LEARN, seed)
    hold_seen = _seen_csr(ds, hold.train)
    log(f"{split.name}: validation slice: {len(hold.users)} users, {hold.info['test_rows']} rows")
    als = _choose(
        "als",
        als_configs(LEARN, seed),
        lambda m, c: _als_scorer(m, seed, **c),
        hold,
        hold_seen,
        k,
    )
    ease = _choose(
        "ease",
        ease_configs(LEARN),
        lambda m, c: _ease_scorer(m, c["lambda_multiple"], LEARN.ease_max_items),
        hold,
        hold_seen,
        k,
    )
    timings["baseline_selection"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    extras: dict[str, ExtraFactory] = {
        "ease": lambda *_: ease.fit_part,
        "als": lambda *_: als.fit_part,
    }
    params = fit_blend(ds, split.train, extras=extras, holdout=hold, seed=seed)
    timings["blend_fit"] = time.perf_counter() - t0
    log(f"{split.name}: blend params {params.to_dict()}")

    scorers: dict[str, Scorer] = {"popularity": _global_scorer(popularity, positive_only=False)}
    ctx = _signal_context(ds, split)
    makers: dict[str, Callable[[], Scorer]] = {
        "als": lambda: _als_scorer(seen, seed, **als.config),
        "ease": lambda: _ease_scorer(seen, ease.config["lambda_multiple"], LEARN.ease_max_items),
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
    models = [*scorers, "blend"]
    n = len(split.users)
    recs: dict[str, np.ndarray] = {m: np.full((n, k), -1, dtype=np.int64) for m in models}
    batch = EVALUATION.batch
    for start in range(0, n, batch):
        idx = np.arange(start, min(start + batch, n))
        for name, scorer in scorers.items():
            t0 = time.perf_counter()
            recs[name][idx] = top_k(scorer(split, seen, idx), k)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        log(f"{split.name}: scored {idx[-1] + 1}/{n} users")
    # The blend with the fitted parameters, over the candidates of the feed's sources.
    t0 = time.perf_counter()
    extra = {params.extra: scorers[params.extra]} if params.extra else None
    for idx, cands in iter_candidates(
        ds,
        split,
        [params.hot_half_life_seconds],
        extras=extra,
        interest=scorers["interest"],
        cf=scorers[BLEND_SOURCES["cf"]],
        ctx=ctx,
        batch=batch,
    ):
        key = f"extra:{params.extra}" if params.extra else None
        recs["blend"][idx] = recommend(cands, params.feed_weights(), "hot@0", key, k)
    timings["blend"] = time.perf_counter() - t0
    results = {}
    per_user = {}
    for name in models:
        results[name] = evaluate_lists(recs[name], split.relevant, popularity, n_train_users, k)
        per_user[name] = ndcg_each(recs[name], split.relevant, k)
    info = dict(split.info)
    info["train_users"] = n_train_users
    info["seconds"] = {m: round(t, 2) for m, t in timings.items()}
    info["blend"] = {
        "method": "ranking.learn.fit_blend on the train rows' held-out slice, then ranking.blend",
        "cf_method": ITEMCF.method,
        "base_weights": blend_weights(),
        "params": params.to_dict(),
    }
    info["baselines"] = {"als": als.info(), "ease": ease.info()}
    info["bootstrap"] = bootstrap(
        per_user,
        [("blend", m) for m in models if m != "blend"],
        EVALUATION_RESAMPLES,
        seed,
    )
    return {"info": info, "models": results}


#: Bootstrap resamples of the test users for the 95 % intervals.
EVALUATION_RESAMPLES = 1000


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
