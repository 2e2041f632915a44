"""Scale check for item-CF: fit on synthetic Zipf events and print time and peak memory.

    .venv/bin/python benchmarks/itemcf_scale.py [--users 20000 --items 100000 --events 1000000]
        [--method cosine|swing|proximity] [--seed 7]

Users' activity and items' popularity are both Zipf-like; each user's events cluster in a
"taste" region of the catalogue so co-engagement has structure to find.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

import numpy as np

from ranking.config import CF_EVENT_WEIGHTS, ITEMCF
from ranking.signals.itemcf import ItemCF

KINDS = ("open", "like", "collect", "comment", "share", "follow")
KIND_P = (0.55, 0.25, 0.1, 0.05, 0.03, 0.02)


def synthetic(
    n_users: int, n_items: int, n_events: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    user_p = 1.0 / np.arange(1, n_users + 1) ** 0.8
    user_p /= user_p.sum()
    users = rng.choice(n_users, size=n_events, p=user_p)
    # item popularity: Zipf ranks; half the events follow global popularity, half the
    # user's taste neighbourhood (a window of the catalogue around a per-user centre)
    item_p = 1.0 / np.arange(1, n_items + 1) ** 1.0
    item_p /= item_p.sum()
    popular = rng.choice(n_items, size=n_events, p=item_p)
    centre = rng.integers(0, n_items, size=n_users)
    local = (centre[users] + rng.geometric(0.01, size=n_events)) % n_items
    items = np.where(rng.random(n_events) < 0.5, popular, local)
    kinds = rng.choice(len(KINDS), size=n_events, p=KIND_P)
    kind_w = np.array([CF_EVENT_WEIGHTS[k] for k in KINDS])
    ts = 1.7e9 + rng.uniform(0, 60 * 86400, size=n_events)
    return users.astype(np.int64), items.astype(np.int64), kind_w[kinds], ts


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--method", default=ITEMCF.method, choices=("cosine", "swing", "proximity"))
    ap.add_argument("--neighbours", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    t0 = time.perf_counter()
    u, i, w, ts = synthetic(args.users, args.items, args.events, args.seed)
    gen_s = time.perf_counter() - t0
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    model = ItemCF().fit_arrays(
        u,
        i,
        w,
        ts,
        max_neighbours=args.neighbours,
        method=args.method,  # type: ignore[arg-type]
    )
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for note in i[:1000]:
        model.recommend([(int(note), 1.0)], 50, exclude=set())
    rec_ms = (time.perf_counter() - t0) / 1000 * 1000
    blob = model.to_bytes()
    print(
        json.dumps(
            {
                "method": args.method,
                "users": args.users,
                "items": args.items,
                "events": args.events,
                "generate_seconds": round(gen_s, 2),
                "fit_seconds": round(fit_s, 2),
                "peak_rss_mb_before_fit": round(rss_before, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "recommend_ms": round(rec_ms, 3),
                "model_bytes_npz": len(blob),
                "stats": model.stats(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
