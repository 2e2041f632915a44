"""Ranked feeds at scale: PostgreSQL + Redis, 100k notes, 20k users, 1M interactions.

1. creates the database if needed, migrates it and fills it with synthetic data (once);
2. times the periodic jobs (hot recompute, item-CF rebuild) in a child process, with its peak
   memory;
3. starts gunicorn in services mode and, from this separate process, sends N requests per
   scenario: discover, following, hot, and a bare endpoint that reads 20 notes by primary key
   with the same serialiser (`GET /notes?ids=`), to express discover's cost as a ratio.

    .venv/bin/python benchmarks/feed_load.py --requests 2000 --clients 4

Talks to 127.0.0.1 only; every loop is bounded. `benchmarks/feed_bench.py` (`make bench`)
measures the same path against a floor, at 1 and 4 clients, scenarios alternating in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.api_load import (  # noqa: E402
    Connections,
    call,
    free_port,
    request_json,
    run_scenario,
)
from benchmarks.feed_bench import ensure_database, generate  # noqa: E402


def rebuild_in_child(env: dict[str, str]) -> dict[str, Any]:
    """Time each periodic job in a fresh process so its peak memory is the jobs' own."""
    code = (
        "import json, resource, sys, time\n"
        "from app import create_app\n"
        "from app.feeds.jobs import rebuild_hot, rebuild_itemcf\n"
        "app = create_app()\n"
        "out = {}\n"
        "with app.app_context():\n"
        "    for name, job in (('hot', rebuild_hot), ('itemcf', rebuild_itemcf)):\n"
        "        started = time.perf_counter(); result = job()\n"
        "        out[name] = {'seconds': round(time.perf_counter() - started, 2), **result}\n"
        "out['peak_rss_mib'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far by each process group on this machine (Linux /proc): where a
    CPU-bound request's cost goes (web, worker, PostgreSQL, Redis, this client)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        group = (
            "gunicorn"
            if "gunicorn" in cmd
            else "rq worker"
            if " worker" in cmd
            else "postgres"
            if "postgres" in cmd
            else "redis"
            if "redis-server" in cmd
            else "client"
            if int(pid) == os.getpid()
            else None
        )
        if group:
            out[group] = out.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1/sprout_feed_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--notes", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rq-workers", type=int, default=1)
    parser.add_argument(
        "--warmup",
        type=int,
        default=50,
        help="unmeasured requests per scenario first, one at a time",
    )
    parser.add_argument(
        "--skip-jobs",
        action="store_true",
        help="serve with the hot list and item-CF model a previous run built; time no jobs",
    )
    parser.add_argument(
        "--new-connections",
        action="store_true",
        help="a new connection per request instead of one kept alive per client thread",
    )
    args = parser.parse_args()
    Connections.new = args.new_connections

    ensure_database(args.database_url)
    import redis

    # The benchmark's own Redis database: no feed state left from an earlier run.
    redis.Redis.from_url(args.redis_url).flushdb()
    generate(args.database_url, args.users, args.notes, args.interactions)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SPROUT_DATA_DIR": tempfile.mkdtemp(prefix="sprout-feed-bench-"),
        "SPROUT_RATE_LIMITS": "off",
        "SPROUT_SEED_ON_EMPTY": "0",
    }
    jobs = None if args.skip_jobs else rebuild_in_child(env)
    print(json.dumps(jobs), file=sys.stderr)

    engine = create_engine(args.database_url)
    with engine.connect() as conn:
        usernames = list(
            conn.execute(
                text(
                    "SELECT username FROM users WHERE signup_source = 'synthetic' "
                    "AND following_count > 0 ORDER BY id LIMIT 50"
                )
            ).scalars()
        )
        note_ids = list(
            conn.execute(
                text("SELECT id FROM notes WHERE status = 'published' ORDER BY random() LIMIT 2000")
            ).scalars()
        )
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
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Services mode has a worker: here it ranks viewers' next pages ahead and warms their
    # cards (the periodic jobs are timed above, on their own, so its scheduler is off).
    workers = [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "flask"),
                "--app",
                "app",
                "worker",
                "--queue",
                "default",
                "--queue",
                "low",
                "--no-schedule",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.rq_workers)
    ]
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(150):
            try:
                if call(f"http://127.0.0.1:{port}", "GET", "/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.2)
        tokens = []
        for name in usernames:
            status, body = request_json(
                base, "POST", "/auth/login", body={"username": name, "password": "sprout-synthetic"}
            )
            assert status == 200, (status, name)
            tokens.append(body["token"])
        cursors: dict[int, str | None] = {}
        pages: dict[int, int] = {}
        first_page: list[bool] = [True] * args.requests

        def discover(index: int) -> int:
            # Each user scrolls sessions of five pages: page 1 starts a session (no cursor).
            slot = index % len(tokens)
            page = pages.get(slot, 0)
            pages[slot] = page + 1
            cursor = cursors.get(slot) if page % 5 else None
            if index < args.requests:
                first_page[index] = cursor is None
            path = "/feeds/discover?limit=20" + (f"&cursor={cursor}" if cursor else "")
            status, body = request_json(base, "GET", path, tokens[slot])
            cursors[slot] = body.get("next_cursor") if body else None
            return status

        rng = random.Random(7)

        def bare(index: int) -> int:
            ids = ",".join(map(str, rng.sample(note_ids, 20)))
            return call(base, "GET", f"/notes?ids={ids}", tokens[index % len(tokens)])

        def measure(name: str, action: Any) -> dict[str, Any]:
            """One scenario, with the CPU every process group spent on it (warm-up included)."""
            before = cpu_seconds()
            row = run_scenario(name, args.requests, args.clients, action, warmup=args.warmup)
            after = cpu_seconds()
            calls = args.requests + min(args.warmup, args.requests)
            row["cpu_ms"] = {
                group: (after[group] - before.get(group, 0.0)) / calls * 1000 for group in after
            }
            return row

        results = [
            measure("GET /feeds/discover (signed in, 20 cards)", discover),
            measure(
                "GET /feeds/following",
                lambda i: call(base, "GET", "/feeds/following", tokens[i % len(tokens)]),
            ),
            measure("GET /feeds/hot", lambda i: call(base, "GET", "/feeds/hot?window=week")),
            measure("GET /notes?ids= (20 by primary key, bare)", bare),
        ]
    finally:
        for process in (server, *workers):
            process.terminate()
            process.wait(timeout=30)

    print(
        f"\n{os.cpu_count()} cores; PostgreSQL + Redis; gunicorn {args.workers} workers x "
        f"{args.threads} threads and {args.rq_workers} RQ worker(s); {args.clients} client "
        f"threads in a separate process, "
        f"{'a new connection per request' if args.new_connections else 'kept-alive connections'}"
        f"; {args.warmup} warm-up requests per scenario.\n"
    )
    print("| scenario | requests | req/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/request |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['scenario']} | {row['requests']} | {row['rps']:.0f} | {row['p50']:.1f} | "
            f"{row['p95']:.1f} | {row['p99']:.1f} | {row['errors']} | "
            f"{sum(row['cpu_ms'].values()):.1f} |"
        )
    discover_ms = results[0]["latencies"]
    for label, wanted in (
        ("pages 1 (new session: ranked now, or ahead by the worker)", True),
        ("pages 2-5 (session buffer)", False),
    ):
        part = [ms for ms, first in zip(discover_ms, first_page, strict=False) if first == wanted]
        if len(part) >= 2:
            q = statistics.quantiles(part, n=100)
            print(
                f"| discover, {label} | {len(part)} | | {q[49]:.1f} | {q[94]:.1f} | {q[98]:.1f} | |"
            )
    print("\nCPU per request by process (ms, warm-up included):")
    for row in results:
        parts = sorted(row["cpu_ms"].items(), key=lambda kv: -kv[1])
        print(f"- {row['scenario']}: " + " + ".join(f"{k} {v:.2f}" for k, v in parts))
    ratio = results[0]["p50"] / results[3]["p50"]
    print(f"\ndiscover p50 / bare p50 = {ratio:.2f}")
    if jobs:
        print(
            f"hot recompute {jobs['hot']['seconds']} s; item-CF rebuild "
            f"{jobs['itemcf']['seconds']} s; peak memory of the jobs' process "
            f"{jobs['peak_rss_mib']} MiB"
        )


if __name__ == "__main__":
    main()
