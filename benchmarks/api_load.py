"""HTTP load on a real server: read a note, read the following feed, like concurrently.

Starts gunicorn against the database given (SQLite file by default), creates users and notes
through the API, then runs each scenario with N client threads for a fixed number of requests
and prints a Markdown table (requests/s, p50/p95/p99 latency, errors). Bounded in count and
time; talks to 127.0.0.1 only.

    python benchmarks/api_load.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Connections:
    """How the client threads talk to the server. Kept-alive connections, one per thread, are
    what an app or a proxy holds open (and what wrk uses); `new=True` opens a connection per
    request instead (`Connection: close`), which adds the TCP set-up and gunicorn's accept to
    every request on both sides."""

    new = False
    _local = threading.local()

    @classmethod
    def get(cls, netloc: str) -> http.client.HTTPConnection:
        pool: dict[str, http.client.HTTPConnection] = cls._local.__dict__.setdefault("pool", {})
        if netloc not in pool:
            host, _, port = netloc.partition(":")
            pool[netloc] = http.client.HTTPConnection(host, int(port or 80), timeout=60)
        return pool[netloc]

    @classmethod
    def drop(cls, netloc: str) -> None:
        connection = cls._local.__dict__.get("pool", {}).pop(netloc, None)
        if connection is not None:
            connection.close()


_STALE = (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionError)


def request_json(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    *,
    parse: bool = True,
) -> tuple[int, Any]:
    """One request: (status, the parsed JSON body or None). HTTP errors come back as their
    status, not raised; `parse=False` skips decoding (timed loops that only count statuses)."""
    status, raw = request_raw(base, method, path, token, body)
    if not parse or not raw:
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def request_raw(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, bytes]:
    """One request: (status, the body's bytes), for timing a request apart from decoding it.

    A kept-alive connection the server closed while idle is reopened and the request sent
    again once (the server never read it)."""
    url = urllib.parse.urlsplit(base + path)
    target = url.path + (f"?{url.query}" if url.query else "")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if Connections.new:
        headers["Connection"] = "close"
    data = json.dumps(body).encode() if body is not None else None
    for attempt in (1, 2):
        connection = Connections.get(url.netloc)
        try:
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            raw, status = response.read(), response.status
            break
        except _STALE:
            Connections.drop(url.netloc)
            if attempt == 2:
                raise
    return status, raw


def call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> int:
    return request_json(base, method, path, token, body, parse=False)[0]


def created(base: str, path: str, token: str | None = None, body: Any = None) -> Any:
    """POST that must succeed: its JSON body."""
    status, reply = request_json(base, "POST", path, token, body)
    if not 200 <= status < 300:
        raise RuntimeError(f"POST {path}: {status} {reply}")
    return reply


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_scenario(
    name: str, requests: int, clients: int, action: Callable[[int], int], warmup: int = 0
) -> dict[str, Any]:
    """`requests` calls of `action(index)` from `clients` threads, after `warmup` calls that
    are not measured; latencies in milliseconds."""
    latencies: list[float] = []
    errors = 0

    def one(index: int) -> tuple[float, int]:
        started = time.perf_counter()
        status = action(index)
        return time.perf_counter() - started, status

    for index in range(min(warmup, requests)):
        action(index)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for latency, status in pool.map(one, range(requests)):
            latencies.append(latency * 1000)
            errors += status >= 400
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "scenario": name,
        "requests": requests,
        "clients": clients,
        "rps": requests / elapsed,
        "p50": quantiles[49],
        "p95": quantiles[94],
        "p99": quantiles[98],
        "errors": errors,
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--new-connections",
        action="store_true",
        help="a new connection per request instead of one kept alive per client thread",
    )
    args = parser.parse_args()
    Connections.new = args.new_connections

    data_dir = Path(tempfile.mkdtemp(prefix="sprout-bench-"))
    env = {
        **os.environ,
        "SPROUT_DATA_DIR": str(data_dir),
        "SPROUT_RATE_LIMITS": "off",
        "SPROUT_SEED_ON_EMPTY": "0",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    env.pop("REDIS_URL", None)
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "--app", "app", "init"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            "8",
            "app.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(100):
            try:
                if call(f"http://127.0.0.1:{port}", "GET", "/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.2)
        suffix = str(int(time.time()))
        tokens = []
        for index in range(args.clients):
            body = created(
                base,
                "/auth/register",
                body={"username": f"b{suffix}_{index}", "password": "bench-pass-1"},
            )
            tokens.append(body["token"])
        note_ids = []
        for index in range(50):
            note = created(
                base,
                "/notes",
                tokens[index % len(tokens)],
                body={"title": f"压测笔记{index}", "body": "内容", "status": "published"},
            )
            note_ids.append(note["id"])
        for index, token in enumerate(tokens):
            call(base, "POST", f"/users/{index + 1}/follow", token)
        results = [
            run_scenario(
                "GET /notes/{id}",
                args.requests,
                args.clients,
                lambda i: call(base, "GET", f"/notes/{note_ids[i % 50]}"),
            ),
            run_scenario(
                "GET /feeds/following",
                args.requests,
                args.clients,
                lambda i: call(base, "GET", "/feeds/following", tokens[i % len(tokens)]),
            ),
            run_scenario(
                "POST /notes/{id}/like",
                args.requests,
                args.clients,
                lambda i: call(
                    base, "POST", f"/notes/{note_ids[i % 50]}/like", tokens[i % len(tokens)]
                ),
            ),
        ]
    finally:
        server.terminate()
        server.wait(timeout=10)
    backend = "PostgreSQL" if args.database_url else "SQLite (embedded)"
    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores; database: {backend}; "
        f"gunicorn {args.workers} workers x 8 threads; client threads on the same machine.\n"
    )
    print("| scenario | requests | clients | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['scenario']} | {row['requests']} | {row['clients']} | {row['rps']:.0f} | "
            f"{row['p50']:.1f} | {row['p95']:.1f} | {row['p99']:.1f} | {row['errors']} |"
        )


if __name__ == "__main__":
    main()
