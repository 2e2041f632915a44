"""Search at 100k notes: indexing throughput and two-word query latency, in-process and over
HTTP against gunicorn.

Reads the database `feed_load.py` generated (100,000 synthetic notes in PostgreSQL), builds the
embedded index from it with the service's own reindex (in a fresh data directory), then:
1. times two-word queries against the backend alone (one thread: the engine's cost);
2. starts gunicorn on that data directory and, from this process, sends N requests of
   `GET /search/notes?q=<two words>` (cards and highlights included) per client count.
The synthetic titles repeat a small vocabulary, so a query matches thousands of notes: a
hard case for ranking, not an easy one.

    .venv/bin/python benchmarks/search_load.py --requests 2000 --clients 1 --clients 4
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.api_load import call, free_port, run_scenario  # noqa: E402

TOPICS = ("美食", "美妆", "穿搭", "旅行", "家居", "数码", "健身", "读书", "母婴", "宠物")
ASPECTS = ("攻略", "避雷", "分享", "心得", "推荐", "清单", "合集", "日常", "平价", "新手")


def two_word_queries(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    pairs = list(itertools.product(TOPICS, ASPECTS))
    return [" ".join(rng.choice(pairs)) for _ in range(count)]


def quantiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1/sprout_feed_bench"
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, action="append")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    clients = args.clients or [1, 4]
    data_dir = tempfile.mkdtemp(prefix="sprout-search-bench-")
    os.environ.update(
        DATABASE_URL=args.database_url,
        SPROUT_DATA_DIR=data_dir,
        SPROUT_RATE_LIMITS="off",
        SPROUT_SEED_ON_EMPTY="0",
    )
    os.environ.pop("REDIS_URL", None)
    from app import create_app
    from app.search.backend import NoteQuery
    from app.search.engine import get_search
    from app.search.indexing import reindex

    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        counts = reindex(
            progress=lambda kind, done, total: print(
                f"\rindexing {kind:<7} {done}/{total}", end="", file=sys.stderr
            )
        )
        seconds = time.perf_counter() - started
        print(file=sys.stderr)
        backend = get_search()
        size_mib = Path(backend.path).stat().st_size / 2**20
        print(
            f"reindex: {counts['notes']} notes, {counts['users']} users, {counts['topics']} "
            f"topics in {seconds:.1f} s ({counts['notes'] / seconds:.0f} notes/s with the "
            f"users and topics); index file {size_mib:.0f} MiB"
        )
        queries = two_word_queries(args.requests)
        for sort in ("relevance", "new", "hot"):
            timings = []
            for text in queries[:500]:
                began = time.perf_counter()
                backend.search_notes(NoteQuery(text, sort=sort))  # type: ignore[arg-type]
                timings.append((time.perf_counter() - began) * 1000)
            print(f"backend alone, sort={sort}, 500 two-word queries: {quantiles(timings)}")

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "app.wsgi:app",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(150):
            try:
                if call(f"http://127.0.0.1:{port}", "GET", "/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.2)
        from urllib.parse import quote

        print(f"\n{os.cpu_count()} cores; gunicorn {args.workers} workers x {args.threads} threads")
        print("| clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|---|")
        for count in clients:
            row = run_scenario(
                "search",
                args.requests,
                count,
                lambda i: call(base, "GET", "/search/notes?q=" + quote(queries[i % len(queries)])),
                warmup=50,
            )
            print(
                f"| {count} | {row['requests']} | {row['rps']:.0f} | {row['p50']:.1f} | "
                f"{row['p95']:.1f} | {row['p99']:.1f} | {row['errors']} |"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
