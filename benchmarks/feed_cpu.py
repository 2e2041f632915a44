"""CPU of one discover page in-process: no HTTP, no other clients, so the figures hold still
on a noisy machine where the HTTP benchmark's do not (run `feed_load.py` first: it builds the
database this reads).

Through the Flask test client in services mode (PostgreSQL + Redis), one thread: 50 synthetic
users each open a session (page 1, ranked in this process: no worker runs here), their queued
cards' content is put in the shared cache (the worker's `prefetch_feed` does that in production),
then each user reads four more pages from their queue. Prints the mean thread CPU and wall
time of both kinds of page, and with `--profile` the functions of `app/` and `ranking/` that
a buffered page spends its time in.

    .venv/bin/python benchmarks/feed_cpu.py [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1/sprout_feed_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--pages", type=int, default=4, help="buffered pages per user")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        SPROUT_RATE_LIMITS="off",
        SPROUT_SEED_ON_EMPTY="0",
        SPROUT_DATA_DIR=tempfile.mkdtemp(prefix="sprout-feed-cpu-"),
    )
    import redis
    from sqlalchemy import text

    redis.Redis.from_url(args.redis_url).flushdb()  # its own database: no state from before
    from app import create_app
    from app.core.extensions import db, get_feed_store
    from app.feeds import card_store
    from app.feeds.cards import render_entries

    app = create_app()
    with app.app_context():
        users = db.session.execute(
            text(
                "SELECT id, username FROM users WHERE signup_source = 'synthetic' "
                "AND following_count > 0 ORDER BY id LIMIT :n"
            ),
            {"n": args.users},
        ).all()
    client = app.test_client()
    tokens = {}
    for user_id, username in users:
        reply = client.post(
            "/api/v1/auth/login", json={"username": username, "password": "sprout-synthetic"}
        )
        tokens[user_id] = reply.get_json()["token"]

    def page(user_id: int, cursor: str | None) -> str | None:
        url = "/api/v1/feeds/discover?limit=20" + (f"&cursor={cursor}" if cursor else "")
        reply = client.get(url, headers={"Authorization": f"Bearer {tokens[user_id]}"})
        assert reply.status_code == 200, reply.data
        return reply.get_json()["next_cursor"]

    def timed(samples: list[tuple[float, float]], call):  # type: ignore[no-untyped-def]
        wall, cpu = time.perf_counter(), time.thread_time()
        result = call()
        samples.append(((time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000))
        return result

    first: list[tuple[float, float]] = []
    cursors = {u: timed(first, lambda u=u: page(u, None)) for u in tokens}
    with app.app_context():
        store = get_feed_store()
        queued = {s.note_id for u in tokens for s in store.session_buffer(f"{u}:queue:", str(u))}
        card_store.entries(sorted(queued), render_entries)  # the worker's part
    buffered: list[tuple[float, float]] = []
    profiler = cProfile.Profile()
    for _ in range(args.pages):
        for user_id in tokens:
            if args.profile:
                profiler.enable()
            cursors[user_id] = timed(buffered, lambda u=user_id: page(u, cursors[u]))
            if args.profile:
                profiler.disable()
    for label, samples in (
        ("page 1, ranked in this process", first[5:]),
        ("pages 2-5, from the queue", buffered),
    ):
        cpu = statistics.mean(s[0] for s in samples)
        wall = statistics.mean(s[1] for s in samples)
        print(f"{label}: {len(samples)} pages, CPU {cpu:.2f} ms, wall {wall:.2f} ms (means)")
    if args.profile:
        stats = pstats.Stats(profiler)
        print(f"function calls per buffered page: {stats.total_calls / len(buffered):.0f}")
        stats.sort_stats("cumulative").print_stats(r"(app|ranking)/", 30)


if __name__ == "__main__":
    main()
