"""The feed serving path against its floor, in one run: `make bench`.

On a machine with PostgreSQL and Redis up, this

1. creates the database `sprout_feed_bench` if missing and fills it once (20k users, 100k
   notes, 1M interactions; reused when present) and flushes its own Redis database;
2. times the hot recompute and the item-CF rebuild in a child process, with the child's peak
   memory, then runs the other heavy periodic jobs once in another child (so serving sees
   every model a live install has);
3. ranks the cold lists once (`BACKGROUND_FIRST`, timed), then pre-claims the schedule keys
   in Redis (`sprout:schedule:<job>`, as `app.schedule.tick` sets them, for 6 h) of the heavy
   periodic jobs, of those cold lists and of the flushes the bench runs itself: the RQ
   worker's scheduler keeps enqueueing the other short jobs (outbox relay, card warming) but
   no rebuild runs during measurement (see `HEAVY_MIN_INTERVAL`), and the impressions and
   views a scenario's block leaves are flushed at the end of that block (`FLUSHED_BY`);
4. starts gunicorn for the app (3 workers x 2 threads, as `make run`), one RQ worker
   (`flask --app app worker`) and gunicorn for `benchmarks/floor_app.py` (same workers and
   threads);
5. from separate client processes (one kept-alive HTTP/1.1 connection per client and
   server), at 1 and then at 4 clients, runs rounds: each round a block of K requests of
   every scenario, in a balanced order (`block_orders`); CPU of every process group is read
   from /proc around each block, once the jobs the block caused have finished
   (`jobs_settler`). A warm-up round comes first at each concurrency; after it the clients'
   connections are spread evenly over each server's gunicorn workers (`spread_connections`);
6. prints per-scenario tables, the ratios against the issue's targets, peak memory per
   process, and a Markdown block for docs/benchmarks.md (also written to `--out`).

    .venv/bin/python benchmarks/feed_bench.py               # make bench
    .venv/bin/python benchmarks/feed_bench.py --scale 10    # 1M notes: jobs only

Talks to 127.0.0.1 only; every loop is bounded. Exits non-zero when more than 0.5 % of a
scenario's requests are not 200.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.api_load import Connections, call, free_port, request_json, request_raw  # noqa: E402

BASE_SIZES = {"users": 20_000, "notes": 100_000, "interactions": 1_000_000}
#: Periodic jobs pre-claimed during measurement: every one due less often than every 5 min
#: (the rebuilds: hot, item-CF, blend, lifecycle, purges; a new one included) and the
#: moderation scan (seconds of CPU a minute, no part of serving). The others keep running:
#: the short jobs serving needs (buffers flushed, events relayed, cards refreshed and warmed).
HEAVY_MIN_INTERVAL = 300
HEAVY_ALSO = ("detect_engagement",)
#: The periodic work a scenario's requests leave behind, run by the bench at the end of each
#: of that scenario's blocks (its CPU is that block's), and never on its timer during
#: measurement. On a timer a flush landed in whichever block was running (a 60 ms block at 4
#: clients against a flush of 200 ms): discover's impressions were charged to the bare read
#: as often as to discover, and a block that caught one stood out.
FLUSHED_BY: dict[str, tuple[str, ...]] = {
    "discover": ("flush_impressions",),  # its impressions
    "note": ("flush_views", "refresh_cards"),  # its views, and the cards whose counts they move
}
#: Work on a timer that no request causes and serving needs done: run once before serving
#: (timed), then held like the heavy jobs, so it lands in no block.
BACKGROUND_FIRST = ("rank_cold_feeds",)


def _heavy(name: str, interval_seconds: int) -> bool:
    return interval_seconds >= HEAVY_MIN_INTERVAL or name in HEAVY_ALSO


TIMED_JOBS = ("rebuild_hot", "rebuild_itemcf")
USERS = 48  # signed-in users; divisible by 1, 2, 3 and 4 so each stays with one client
ID_SETS = 100  # distinct 20-id lists for the bare read and the floor
PAGES_PER_SESSION = 5
PAGE = 20  # cards per page: the bare read's ids and discover's limit
ERROR_LIMIT = 0.005

SCENARIOS: dict[str, str] = {
    "floor": "floor: `GET /floor?ids=` (psycopg + orjson, no app)",
    "bare": "bare: `GET /notes?ids=` (20 ids)",
    "discover": "`GET /feeds/discover` (signed in, sessions of 5 pages)",
    "following": "`GET /feeds/following` (signed in)",
    "hot": "`GET /feeds/hot?window=week`",
    "note": "`GET /notes/{id}`",
}
GROUPS = ("app", "floor", "worker", "postgres", "redis", "clients")
MACHINE, OTHERS = "_machine", "others"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data and jobs


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def generate(url: str, users: int, notes: int, interactions: int) -> float | None:
    """Migrate and fill the database once; the generation time, or None when reused."""
    from app.cli import migrate
    from benchmarks.synthetic import generate as synth

    migrate(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT COUNT(*) FROM notes")).scalar_one()
    engine.dispose()
    if have >= notes:
        log(f"reusing the {have} notes already in the database")
        return None
    log(f"generating {users} users, {notes} notes, {interactions} interactions")
    shown = [0.0]

    def progress(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - shown[0] >= 5 or done == total:
            shown[0] = now
            log(f"  {phase} {done}/{total}")

    started = time.perf_counter()
    report = synth(
        create_engine(url), users=users, notes=notes, interactions=interactions, progress=progress
    )
    log(f"generated in {report.total_seconds:.1f} s")
    return time.perf_counter() - started


def undo_earlier_runs(url: str) -> None:
    """Take out what earlier runs left in a reused database, so each run starts from the
    generated data: their impressions and opens (`note_events`, which the generator never
    writes) and what those added to the notes' counts. Left in, they grew the bench viewers'
    histories run after run, and discover's worker cost with them."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for kind, column in (("impression", "impression_count"), ("open", "view_count")):
            conn.execute(
                text(
                    f"UPDATE notes SET {column} = GREATEST(notes.{column} - e.n, 0) "
                    "FROM (SELECT note_id, COUNT(*) AS n FROM note_events WHERE kind = :kind "
                    "GROUP BY note_id) AS e WHERE notes.id = e.note_id"
                ),
                {"kind": kind},
            )
        gone = conn.execute(text("DELETE FROM note_events")).rowcount
    engine.dispose()
    if gone:
        log(f"took out {gone} impressions and opens left by earlier runs")


_JOB_CHILD = """
import json, resource, sys, time
from app import create_app
from app.schedule import periodic_job_definitions
names = sys.argv[1].split(",")
jobs = {d.name: d.function for d in periodic_job_definitions()}
app = create_app()
out = {"jobs": {}}
with app.app_context():
    for name in names:
        started = time.perf_counter()
        result = jobs[name]()
        seconds = round(time.perf_counter() - started, 2)
        brief = {k: v for k, v in (result or {}).items() if isinstance(v, (int, float, str))} \
            if isinstance(result, dict) else {}
        out["jobs"][name] = {"seconds": seconds, **brief}
        print(f"{name}: {seconds} s", file=sys.stderr, flush=True)
out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def jobs_in_child(env: dict[str, str], names: list[str]) -> dict[str, Any]:
    """Run periodic jobs in a fresh process, in order: each one's time, and the process's peak
    resident memory (ru_maxrss), which is then the jobs' own."""
    done = subprocess.run(
        [sys.executable, "-c", _JOB_CHILD, ",".join(names)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,  # its stderr (progress, errors) goes to ours
        text=True,
        timeout=4 * 3600,
    )
    if done.returncode:
        raise SystemExit(f"periodic jobs {names} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def missing_builds(url: str) -> list[str]:
    """The rebuilds whose output this database lacks, in the schedule's order: the hot lists
    (`GET /feeds/hot` would serve empty pages), the item-CF and the blend models (discover
    would rank without them, a lighter job than a live install's)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            hot = conn.execute(text("SELECT EXISTS (SELECT 1 FROM hot_list_entries)")).scalar()
            models = set(conn.execute(text("SELECT name FROM ranking_models")).scalars())
    finally:
        engine.dispose()
    needed = {"rebuild_hot": not hot, "rebuild_itemcf": "itemcf" not in models}
    needed["rebuild_blend"] = "blend" not in models
    return [name for name, missing in needed.items() if missing]


def warm_cards_in_child(env: dict[str, str], redis_url: str) -> dict[str, Any]:
    """`flask cards-warm` in a child process: its time, its summary line, and the Redis
    memory it added (the cards' footprint)."""
    import redis

    def used_mib() -> float:
        info = redis.Redis.from_url(redis_url).info("memory")
        return round(int(info["used_memory"]) / 2**20, 1)

    before = used_mib()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "cards-warm"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=3600,
    )
    if done.returncode:
        raise SystemExit(f"flask cards-warm failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "summary": done.stderr.strip().splitlines()[-1],
        "redis_before_mib": before,
        "redis_after_mib": used_mib(),
    }


def redis_neighbours(redis_url: str) -> list[str]:
    """The other clients connected to the bench's Redis database (`CLIENT LIST`), as
    "address (last command)"."""
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        database = int(connection.connection_pool.connection_kwargs.get("db", 0))
        me = connection.client_id()
        return [
            f"{client['addr']} ({client.get('cmd', '?')})"
            for client in connection.client_list()
            if int(client.get("db", -1)) == database and int(client["id"]) != me
        ]
    finally:
        connection.close()


#: How long a block waits, after its last reply, for the jobs it caused to finish.
SETTLE_SECONDS = 5.0


#: How long the worker must use no CPU before a block's CPU is read (`jobs_settler`): two of
#: /proc's clock ticks.
QUIET_SECONDS = 0.02


def jobs_settler(
    redis_url: str,
    worker_pids: Callable[[], list[int]] | None = None,
    timeout: float = SETTLE_SECONDS,
) -> Callable[[], float]:
    """A function that waits until the RQ queues are empty, no job is running and no
    ranking ahead is asked for or under way, and then until the worker's processes
    (`worker_pids`) use no CPU for `QUIET_SECONDS` (or `timeout` in all), and returns the seconds
    it waited. A block's CPU is read after it, so the worker's work a scenario causes
    (discover's ranking ahead, its impressions) counts for that scenario, not for whichever
    block runs next. The last wait is for what a job leaves after RQ's registries say it is
    done (RQ's own books on it): a few milliseconds of worker CPU that otherwise ran into
    the next block's first requests and were charged to it."""
    import redis
    from rq import Queue
    from rq.registry import StartedJobRegistry

    connection = redis.Redis.from_url(redis_url)
    from app.core.jobs.runner import QUEUES
    from app.feeds import ahead

    names = QUEUES  # `high` included: the card refresh runs there
    queues = [Queue(name, connection=connection) for name in names]
    registries = [StartedJobRegistry(queue=queue) for queue in queues]

    def settle() -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if (
                not any(q.count for q in queues)
                and not any(r.count for r in registries)
                and not ahead.pending(connection)  # the worker's ranking thread (not RQ)
            ):
                break
            time.sleep(0.005)
        if worker_pids is not None:
            pids = [str(pid) for pid in worker_pids()]

            def worker_cpu() -> float:
                return sum(stat[1] for pid in pids if (stat := _read_stat(pid)))

            used = worker_cpu()
            while time.perf_counter() - started < timeout:
                time.sleep(QUIET_SECONDS)
                now = worker_cpu()
                if now == used:
                    break
                used = now
        return time.perf_counter() - started

    return settle


def block_orders(names: list[str], rounds: int) -> list[list[str]]:
    """The scenario order of each round: a Williams design (balanced for the block just
    before): over every `len(names)` rounds each scenario comes right after each other one
    equally often, so what a block leaves behind (a job still running, a warm cache) falls
    on every scenario alike. A plain rotation put the same scenario after discover in every
    round."""
    n = len(names)
    first = [0]
    low, high = 1, n - 1
    while len(first) < n:  # 0, 1, n-1, 2, n-2, ...
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    squares = [[(k + r) % n for k in first] for r in range(n)]
    if n % 2:  # odd: the mirrored square balances the carry-over
        squares += [list(reversed(row)) for row in squares]
    return [[names[k] for k in squares[r % len(squares)]] for r in range(rounds)]


def preclaim_jobs(redis_url: str, hold_seconds: int) -> list[str]:
    """Claim the schedule keys of the heavy jobs, the flushes the bench runs itself
    (`FLUSHED_BY`) and the background jobs run before serving (`BACKGROUND_FIRST`) as
    `app.schedule.tick` does, for `hold_seconds`, so the worker's scheduler finds them already
    enqueued for this interval and skips them."""
    import redis

    from app.schedule import periodic_job_definitions

    held = {name for names in FLUSHED_BY.values() for name in names} | set(BACKGROUND_FIRST)
    connection = redis.Redis.from_url(redis_url)
    claimed = []
    for definition in periodic_job_definitions():
        if _heavy(definition.name, definition.interval_seconds) or definition.name in held:
            connection.set(f"sprout:schedule:{definition.name}", "1", ex=hold_seconds)
            claimed.append(definition.name)
    return claimed


def flusher(redis_url: str) -> Callable[[str], None]:
    """A function that puts a scenario's `FLUSHED_BY` jobs on their RQ queues, for the worker
    (the block's settle then waits for them)."""
    import redis

    from app.core.jobs.runner import send
    from app.schedule import periodic_job_definitions

    connection = redis.Redis.from_url(redis_url)
    functions = {d.name: d.function for d in periodic_job_definitions()}

    def flush(scenario: str) -> None:
        for name in FLUSHED_BY.get(scenario, ()):
            send(connection, functions[name])

    return flush


def job_names(*, light: bool) -> list[str]:
    """The periodic jobs left running during measurement (`light`), or the others."""
    from app.schedule import periodic_job_definitions

    held = {name for names in FLUSHED_BY.values() for name in names} | set(BACKGROUND_FIRST)
    return [
        d.name
        for d in periodic_job_definitions()
        if _heavy(d.name, d.interval_seconds) != light and not (light and d.name in held)
    ]


# --------------------------------------------------------------------------- processes and /proc


def _read_stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


_TICK = os.sysconf("SC_CLK_TCK")


def _cmdline(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@dataclass
class Tracked:
    """The processes whose CPU counts: trees rooted at the servers we started, the client
    processes, redis-server, and the PostgreSQL backends connected to the bench database
    (other databases' backends, e.g. tests running on the same server, are left out)."""

    roots: dict[int, str] = field(default_factory=dict)
    database: str = ""

    def groups(self) -> dict[int, str]:
        stats: dict[int, tuple[int, float]] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            stat = _read_stat(pid)
            if stat:
                stats[int(pid)] = stat
        out: dict[int, str] = {}
        for pid in stats:
            group = self._group(pid, stats)
            if group:
                out[pid] = group
        return out

    def _group(self, pid: int, stats: dict[int, tuple[int, float]]) -> str | None:
        seen = 0
        current = pid
        while current in stats and seen < 64:
            if current in self.roots:
                return self.roots[current]
            current = stats[current][0]
            seen += 1
        cmd = _cmdline(pid)
        if cmd.startswith("redis-server"):
            return "redis"
        # "postgres: [cluster:] user database host(port) state"
        if cmd.startswith("postgres:") and self.database in cmd.split()[1:5]:
            return "postgres"
        return None

    def pids(self, group: str) -> list[int]:
        """One group's live processes."""
        return [pid for pid, name in self.groups().items() if name == group]

    def cpu(self) -> tuple[dict[str, float], dict[int, str]]:
        """CPU seconds used so far per group, and which pid is in which group."""
        members = self.groups()
        totals: dict[str, float] = defaultdict(float)
        for pid, group in members.items():
            stat = _read_stat(str(pid))
            if stat:
                totals[group] += stat[1]
        totals[MACHINE] = _machine_busy_seconds()
        return dict(totals), members


def _machine_busy_seconds() -> float:
    """Non-idle CPU time of the whole machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _TICK


def peak_memory_mib(pid: int) -> float | None:
    """VmHWM: the process's peak resident set, in MiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    handle = open(log_path, "wb")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_healthy(base: str, path: str, process: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            if call(base, "GET", path) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {path} within 60 s")


# --------------------------------------------------------------------------- load generator


@dataclass
class Workload:
    """What every client needs to build request `j` of a scenario (same for all clients)."""

    base: str
    floor: str
    tokens: list[str]
    id_sets: list[str]
    note_ids: list[int]


class Sent(NamedTuple):
    """A request's reply as a client times it: decoded and checked after the clock stops."""

    status: int
    body: bytes
    want: int | None  # cards a full page has (None: one note)
    slot: int | None = None  # discover: the user slot whose cursor this reply carries
    page: int = 0  # discover: the page within its session


def client_main(pipe: Connection, work: Workload) -> None:
    """A client process: one kept-alive connection per server (`api_load.Connections`), runs
    the requests it is sent and returns (ms, status, page) for each; page is the discover
    page within its session (0 for other scenarios)."""
    # Forked: the parent's kept-alive sockets are shared with it; never use them here.
    Connections._local.__dict__.pop("pool", None)
    pages: dict[int, int] = {}
    cursors: dict[int, str | None] = {}

    def checked(status: int, body: Any, want: int | None) -> int:
        """A 200 without a full page (or, for one note, without its id) is an error (598)."""
        if status != 200:
            return status
        if want is None:
            return status if isinstance(body, dict) and "id" in body else 598
        items = body.get("items") if isinstance(body, dict) else None
        return status if isinstance(items, list) and len(items) >= want else 598

    def discover(j: int) -> Sent:
        slot = j % len(work.tokens)
        page = pages.get(slot, 0) % PAGES_PER_SESSION
        pages[slot] = pages.get(slot, 0) + 1
        cursor = cursors.pop(slot, None) if page else None
        path = "/feeds/discover?limit=20" + (f"&cursor={cursor}" if cursor else "")
        page = page + 1 if cursor or not page else 1  # a lost cursor starts a session
        return Sent(*request_raw(work.base, "GET", path, work.tokens[slot]), PAGE, slot, page)

    def ids(j: int) -> str:
        return work.id_sets[j % len(work.id_sets)]

    def token(j: int) -> str:
        return work.tokens[j % len(work.tokens)]

    def get(base: str, path: str, token: str | None, want: int | None) -> Sent:
        return Sent(*request_raw(base, "GET", path, token), want)

    actions: dict[str, Callable[[int], Sent]] = {
        "floor": lambda j: get(work.floor, f"/floor?ids={ids(j)}", None, PAGE),
        "bare": lambda j: get(work.base, f"/notes?ids={ids(j)}", token(j), PAGE),
        "discover": discover,
        "following": lambda j: get(work.base, "/feeds/following", token(j), 1),
        "hot": lambda j: get(work.base, "/feeds/hot?window=week", None, 1),
        "note": lambda j: get(
            work.base, f"/notes/{work.note_ids[j % len(work.note_ids)]}", token(j), None
        ),
    }
    while True:
        message = pipe.recv()
        if message is None:
            return
        if message[0] == CONNECT:  # (CONNECT, base, path, again): which local port is ours
            _, base, path, again = message
            netloc = urllib.parse.urlsplit(base).netloc
            if again:
                Connections.drop(netloc)
            request_raw(base, "GET", path)
            pipe.send(Connections.get(netloc).sock.getsockname()[1])
            continue
        scenario, indices = message
        action = actions[scenario]
        out = []
        for j in indices:
            started = time.perf_counter()
            try:
                sent = action(j)
            except Exception:  # counted as an error; the next request reconnects
                Connections._local.__dict__.pop("pool", None)
                sent = Sent(599, b"", None)
            elapsed = (time.perf_counter() - started) * 1000
            # every reply is decoded (each scenario alike) and checked, after its time is taken
            try:
                body = json.loads(sent.body) if sent.body else None
            except ValueError:
                body = None
            if sent.slot is not None and isinstance(body, dict):  # discover: the next page's
                cursors[sent.slot] = body.get("next_cursor")
            out.append((elapsed, checked(sent.status, body, sent.want), sent.page))
        pipe.send(out)


#: The client message that opens (or reopens) its connection to a server.
CONNECT = "connect"
#: Reconnections allowed per server before the bench goes on with what it has.
SPREAD_TRIES = 60


class Server(NamedTuple):
    """A server whose kept-alive connections are spread: what to call it, its base URL, a
    cheap path to open a connection with, and its port."""

    name: str
    base: str
    path: str
    port: int


def connection_owners(port: int) -> dict[int, int]:
    """Client port → the pid of the server process holding the other end (from `ss`)."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    owners = {}
    for line in listing.splitlines():
        fields, pid = line.split(), re.search(r"pid=(\d+)", line)
        if len(fields) >= 4 and pid:
            owners[int(fields[3].rsplit(":", 1)[1])] = int(pid.group(1))
    return owners


def spread_connections(pipes: list[Connection], server: Server, workers: int) -> list[int]:
    """Spread the clients' kept-alive connections to `server` over its gunicorn workers, at
    most ceil(clients / workers) on one, and return the count per worker that holds any.

    Every idle gunicorn worker polls the shared socket and whichever accepts first keeps the
    connection: 10 tries of 4 connections to 3 workers put all 4 on one worker twice and 3
    on one once. A worker holding more than its share runs their requests on one core with
    the GIL while another worker idles, so a 4-client figure measured the accept race as
    much as the server, and the floor and the app each drew their own. A client whose
    connection lands on a worker over its share reconnects until none does."""
    cap = -(-len(pipes) // max(workers, 1))
    again = [False] * len(pipes)
    held: Counter[int | None] = Counter()
    for _ in range(SPREAD_TRIES):
        for pipe, redo in zip(pipes, again, strict=True):
            pipe.send((CONNECT, server.base, server.path, redo))
        ports = [pipe.recv() for pipe in pipes]
        owners = connection_owners(server.port)
        held = Counter()
        again = []
        for port in ports:
            owner = owners.get(port)
            held[owner] += 1
            again.append(owner is None or held[owner] > cap)
        if not any(again):
            break
    else:
        log(f"{server.name}: connections still uneven after {SPREAD_TRIES} tries")
    return sorted(held.values(), reverse=True)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    settle_seconds: float = 0.0  # waiting for the jobs its blocks caused (not in `seconds`)
    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def quantile(self, q: int, values: list[float] | None = None) -> float:
        data = self.latencies if values is None else values
        return statistics.quantiles(data, n=100, method="inclusive")[q - 1]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def cpu_ms(self, group: str | None = None) -> float:
        """CPU ms per request: one group's, or (None) all of ours summed."""
        ours = sum(self.cpu.get(name, 0.0) for name in GROUPS)
        if group == OTHERS:  # the rest of the machine meanwhile (not ours: noise)
            total = max(self.cpu.get(MACHINE, 0.0) - ours, 0.0)
        else:
            total = self.cpu.get(group, 0.0) if group else ours
        return total / self.requests * 1000 if self.requests else 0.0


def run_phase(
    work: Workload,
    clients: int,
    rounds: int,
    block: int,
    warmup: int,
    tracked: Tracked,
    settle: Callable[[], float],
    flush: Callable[[str], None] = lambda _scenario: None,
    placed: Sequence[Server] = (),
    workers: int = 1,
    spreads: dict[str, list[int]] | None = None,
) -> dict[str, Result]:
    """`rounds` rounds of a `block` of requests per scenario, in a balanced order per round
    (`block_orders`), from `clients` processes; request j of a block goes to client j %
    clients. A warm-up round of `warmup` requests per scenario (not measured) replays the
    sequence's start. After each block, `flush` asks for the periodic work its requests left
    (`FLUSHED_BY`) and `settle` waits for the jobs it caused before its CPU is read (latency
    and req/s are timed up to its last reply). After the warm-up the clients' connections to
    each of `placed` are spread over its `workers` (`spread_connections`; the counts per
    worker go to `spreads`)."""
    context = multiprocessing.get_context("fork")
    pipes, processes = [], []
    for _ in range(clients):
        parent, child = context.Pipe()
        process = context.Process(target=client_main, args=(child, work), daemon=True)
        process.start()
        child.close()  # so a client that dies ends the parent's recv() (EOFError)
        pipes.append(parent)
        processes.append(process)
    for process in processes:
        tracked.roots[process.pid] = "clients"
    names = list(SCENARIOS)
    results = {name: Result() for name in names}
    counters = dict.fromkeys(names, 0)

    def run_block(name: str, count: int, measured: bool) -> None:
        first = counters[name]
        counters[name] += count
        before = tracked.cpu()[0] if measured else {}
        started = time.perf_counter()
        for index, pipe in enumerate(pipes):
            pipe.send((name, list(range(first + index, first + count, clients))))
        replies = [pipe.recv() for pipe in pipes]
        elapsed = time.perf_counter() - started
        flush(name)
        waited = settle()
        if not measured:
            return
        after = tracked.cpu()[0]
        result = results[name]
        result.settle_seconds += waited
        result.seconds += elapsed
        for group, seconds in after.items():
            result.cpu[group] += seconds - before.get(group, 0.0)
        for reply in replies:
            for ms, status, page in reply:
                result.latencies.append(ms)
                result.pages.append(page)
                result.errors += status != 200

    try:
        log(f"{clients} client(s): warm-up, {warmup} requests per scenario")
        for name in names:
            run_block(name, warmup, measured=False)
        for server in placed:
            spread = spread_connections(pipes, server, workers)
            if spreads is not None:
                spreads[server.name] = spread
            log(f"{clients} client(s): connections per {server.name} worker {spread}")
        counters = dict.fromkeys(names, 0)  # the measured sequence starts over
        for round_index, order in enumerate(block_orders(names, rounds)):
            for name in order:
                run_block(name, block, measured=True)
            log(  # this round's medians: drift shows here
                f"{clients} client(s): round {round_index + 1}/{rounds} p50 "
                + " ".join(
                    f"{n}={statistics.median(results[n].latencies[-block:]):.1f}ms" for n in names
                )
            )
    finally:
        for pipe in pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
            tracked.roots.pop(process.pid or -1, None)
    return results


# --------------------------------------------------------------------------- report


def scenario_table(results: dict[str, Result]) -> list[str]:
    lines = [
        "| scenario | requests | req/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/req "
        "| app | floor | worker | postgres | redis | clients | (others) | jobs' wait s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in results.items():
        lines.append(
            f"| {SCENARIOS[name]} | {result.requests} | {result.rps:.0f} | "
            f"{result.quantile(50):.1f} | {result.quantile(95):.1f} | {result.quantile(99):.1f} | "
            f"{result.errors} | {result.cpu_ms():.2f} | "
            + " | ".join(f"{result.cpu_ms(group):.2f}" for group in (*GROUPS, OTHERS))
            + f" | {result.settle_seconds:.1f} |"
        )
    discover = results["discover"]
    for label, wanted in (("page 1 of a session", {1}), ("pages 2-5", {2, 3, 4, 5})):
        part = [
            ms
            for ms, page in zip(discover.latencies, discover.pages, strict=True)
            if page in wanted
        ]
        if len(part) >= 2:
            lines.append(
                f"| discover, {label} | {len(part)} | | {discover.quantile(50, part):.1f} | "
                f"{discover.quantile(95, part):.1f} | {discover.quantile(99, part):.1f} | | "
                "| | | | | | | | |"
            )
    return lines


#: How each ratio's two sides are measured.
METRICS: dict[str, Callable[[Result], float]] = {
    "p50": lambda r: r.quantile(50),
    "p99": lambda r: r.quantile(99),
    "CPU per request": lambda r: r.cpu_ms(),
    # the same without the load generator's processes (they decode every reply, so they
    # add about the same to both sides and pull a ratio towards 1)
    "server CPU per request": lambda r: r.cpu_ms() - r.cpu_ms("clients"),
    "req/s": lambda r: r.rps,
}
#: The issue's targets: (scenario, against, metric, limit). A limit of None is only shown;
#: a negative one is a floor (≥), a positive one a ceiling (≤).
RATIOS: list[tuple[str, str, str, float | None]] = [
    ("bare", "floor", "p50", 2.0),
    ("bare", "floor", "p99", None),
    ("bare", "floor", "CPU per request", None),
    ("discover", "bare", "p50", 1.5),
    ("discover", "bare", "p99", 2.0),
    ("discover", "bare", "CPU per request", 2.0),
    ("discover", "bare", "server CPU per request", None),
    ("following", "bare", "p50", 1.3),
    ("following", "bare", "p99", 1.3),
    ("following", "bare", "CPU per request", 1.3),
    ("note", "bare", "req/s", -0.9),
]


def ratio_rows(by_clients: dict[int, dict[str, Result]]) -> tuple[list[str], bool]:
    """The issue's targets as ratios from this run: (Markdown lines, all targets met)."""
    counts = sorted(by_clients)
    lines = [
        "| ratio | target | " + " | ".join(f"{c} client{'s' * (c > 1)}" for c in counts) + " |",
        "|---|---|" + "---|" * len(counts),
    ]
    ok = True
    for scenario, against, metric, limit in RATIOS:
        measure = METRICS[metric]
        label = f"{'`GET /notes/{id}`' if scenario == 'note' else scenario} / {against}, {metric}"
        target = "(shown)" if limit is None else f"{'≥' if limit < 0 else '≤'} {abs(limit):g}"
        cells = []
        for count in counts:
            try:
                value = measure(by_clients[count][scenario]) / measure(by_clients[count][against])
            except ZeroDivisionError:
                cells.append("n/a")
                continue
            if limit is None:
                cells.append(f"{value:.2f}")
                continue
            passed = value >= -limit if limit < 0 else value <= limit
            ok &= passed
            cells.append(f"{value:.2f} {'PASS' if passed else 'FAIL'}")
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return lines, ok


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="data size: 1 (100k notes) or 10")
    parser.add_argument("--database-url", default=None, help="default: sprout_feed_bench[_10x]")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument(
        "--rounds", type=int, default=24, help="a multiple of 6 keeps the order balanced"
    )
    parser.add_argument("--block", type=int, default=50, help="requests per scenario per round")
    parser.add_argument("--warmup", type=int, default=500, help="requests per scenario, unmeasured")
    parser.add_argument("--clients", default="1,4", help="concurrencies, in order")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--http", action="store_true", help="with --scale 10: the HTTP part too")
    parser.add_argument("--skip-jobs", action="store_true", help="time no jobs (quick reruns)")
    parser.add_argument(
        "--skip-other-jobs",
        action="store_true",
        help="serve without running the other rebuilds (the blend fit takes minutes) first",
    )
    parser.add_argument(
        "--lazy-cards",
        action="store_true",
        help="serve without storing every card first (pages then render the cards they lack)",
    )
    parser.add_argument("--out", default=None, help="the Markdown block's file (/tmp by default)")
    args = parser.parse_args()
    if not args.redis_url.startswith("redis://127.0.0.1:") or (
        args.database_url and "@127.0.0.1" not in args.database_url
    ):
        raise SystemExit("this benchmark talks to 127.0.0.1 only")
    suffix = "" if args.scale == 1 else f"_{args.scale}x"
    url = args.database_url or f"postgresql+psycopg://postgres@127.0.0.1/sprout_feed_bench{suffix}"
    sizes = {key: value * args.scale for key, value in BASE_SIZES.items()}
    database = url.rsplit("/", 1)[1]
    command = (
        "make bench"
        if args.scale == 1 and len(sys.argv) == 1
        else " ".join([".venv/bin/python", "benchmarks/feed_bench.py", *sys.argv[1:]])
    )
    run_started = time.perf_counter()
    # SIGTERM ends the run through the `finally` blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import redis

    ensure_database(url)
    others = redis_neighbours(args.redis_url)
    if others:
        raise SystemExit(
            f"other clients use {args.redis_url} ({'; '.join(others[:5])}): a worker or server "
            "left on the bench's Redis database takes its jobs and spoils the figures; stop "
            "them, or pass another --redis-url"
        )
    redis.Redis.from_url(args.redis_url).flushdb()  # the bench's own database: no old state
    log(f"flushed {args.redis_url}")
    generated = generate(url, **sizes)
    if generated is None:
        undo_earlier_runs(url)
    data_dir = tempfile.mkdtemp(prefix="sprout-feed-bench-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": args.redis_url,
        "SPROUT_DATA_DIR": data_dir,
        "SPROUT_RATE_LIMITS": "off",
        "SPROUT_SEED_ON_EMPTY": "0",
    }
    timed: dict[str, Any] | None = None
    background: dict[str, Any] | None = None
    others: dict[str, Any] | None = None
    if not args.skip_jobs:
        log(f"timing {', '.join(TIMED_JOBS)} in a child process")
        timed = jobs_in_child(env, list(TIMED_JOBS))
        log(f"jobs: {json.dumps(timed)}")
    run_http = args.scale == 1 or args.http
    if run_http and not (args.skip_jobs or args.skip_other_jobs):
        rest = [name for name in job_names(light=False) if name not in TIMED_JOBS]
        log(f"running the other heavy jobs once: {', '.join(rest)}")
        others = jobs_in_child(env, rest)
        log(f"jobs: {json.dumps(others)}")
    if run_http and (missing := missing_builds(url)):
        # A just-generated database has no hot list and no models: serving would be lighter
        # than a live install's (runs before 2026-12-07 06:00 measured discover without them).
        log(f"never built on this database: running {', '.join(missing)} once (untimed)")
        jobs_in_child(env, missing)

    cards: dict[str, Any] | None = None
    if run_http and not args.lazy_cards:
        log("storing every published note's card (`flask cards-warm`), as an install's sweep has")
        cards = warm_cards_in_child(env, args.redis_url)
        log(f"cards: {json.dumps(cards)}")

    lines: list[str] = []
    problems: list[str] = []
    ok = True
    memory: list[tuple[str, int, float | None]] = []
    by_clients: dict[int, dict[str, Result]] = {}
    spreads: dict[int, dict[str, list[int]]] = {}
    claimed: list[str] = []
    if run_http:
        engine = create_engine(url)
        with engine.connect() as conn:
            usernames = list(
                conn.execute(
                    text(
                        "SELECT username FROM users WHERE signup_source = 'synthetic' "
                        "AND following_count > 0 ORDER BY id LIMIT :n"
                    ),
                    {"n": USERS},
                ).scalars()
            )
            note_ids = list(
                conn.execute(
                    text(
                        "SELECT id FROM notes WHERE status = 'published' AND deleted_at IS NULL "
                        "ORDER BY md5(id::text) LIMIT 2000"
                    )
                ).scalars()
            )
        engine.dispose()
        if len(usernames) < USERS:
            raise SystemExit(f"only {len(usernames)} synthetic users follow someone")
        id_sets = [
            ",".join(str(note_ids[(k * 20 + i) % len(note_ids)]) for i in range(20))
            for k in range(ID_SETS)
        ]
        log(f"running {', '.join(BACKGROUND_FIRST)} once before serving")
        background = jobs_in_child(env, list(BACKGROUND_FIRST))
        log(f"jobs: {json.dumps(background)}")
        claimed = preclaim_jobs(args.redis_url, hold_seconds=6 * 3600)
        log(f"pre-claimed the schedule keys of {', '.join(claimed)} for 6 h")
        logs = Path(f"/tmp/feed_bench/logs{suffix}-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        logs.mkdir(parents=True, exist_ok=True)
        bin_dir = Path(sys.executable).parent
        app_port, floor_port = free_port(), free_port()
        gunicorn = [str(bin_dir / "gunicorn"), "--workers", str(args.workers), "--threads"]
        gunicorn += [str(args.threads), "--keep-alive", "300"]
        servers = {
            "app": start(
                [*gunicorn, "--bind", f"127.0.0.1:{app_port}", "app.wsgi:app"],
                env,
                logs / "app.log",
            ),
            "floor": start(
                [*gunicorn, "--bind", f"127.0.0.1:{floor_port}", "benchmarks.floor_app:app"],
                env,
                logs / "floor.log",
            ),
            "worker": start(
                [str(bin_dir / "flask"), "--app", "app", "worker"], env, logs / "worker.log"
            ),
        }
        tracked = Tracked(
            roots={process.pid: name for name, process in servers.items()}, database=database
        )
        try:
            base = f"http://127.0.0.1:{app_port}/api/v1"
            floor = f"http://127.0.0.1:{floor_port}"
            wait_healthy(f"http://127.0.0.1:{app_port}", "/healthz", servers["app"], "app")
            wait_healthy(floor, f"/floor?ids={note_ids[0]}", servers["floor"], "floor app")
            time.sleep(3)  # a worker that cannot start (import error, Redis) exits by now
            for name, process in servers.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited with {process.returncode}; see {logs}")
            log(f"servers up (app :{app_port}, floor :{floor_port}); logs in {logs}")
            tokens = []
            for name in usernames:
                status, body = request_json(
                    base,
                    "POST",
                    "/auth/login",
                    body={"username": name, "password": "sprout-synthetic"},
                )
                if status != 200:
                    raise SystemExit(f"login {name}: {status} {body}")
                tokens.append(body["token"])
            work = Workload(base, floor, tokens, id_sets, note_ids)
            for clients in (int(c) for c in args.clients.split(",")):
                by_clients[clients] = run_phase(
                    work,
                    clients,
                    args.rounds,
                    args.block,
                    args.warmup,
                    tracked,
                    jobs_settler(args.redis_url, lambda: tracked.pids("worker")),
                    flusher(args.redis_url),
                    placed=(
                        Server("app", base, f"/notes?ids={note_ids[0]}", app_port),
                        Server("floor", floor, f"/floor?ids={note_ids[0]}", floor_port),
                    ),
                    workers=args.workers,
                    spreads=spreads.setdefault(clients, {}),
                )
            if servers["worker"].poll() is not None:
                problems.append(f"the RQ worker exited during the run; see {logs}/worker.log")
            members = tracked.groups()
            for pid, group in sorted(members.items()):
                if group in ("app", "floor"):
                    role = f"{group} gunicorn {'master' if pid in tracked.roots else 'worker'}"
                elif group == "worker":
                    role = "RQ worker" if pid in tracked.roots else "RQ worker's child"
                elif group == "redis":
                    role = "redis-server (shared)"
                else:
                    continue
                memory.append((role, pid, peak_memory_mib(pid)))
            backends = [
                (peak_memory_mib(pid) or 0.0, pid) for pid, g in members.items() if g == "postgres"
            ]
            if backends:
                peak, pid = max(backends)
                memory.append(
                    (f"largest PostgreSQL backend (of {len(backends)} on {database})", pid, peak)
                )
        finally:
            for process in servers.values():
                process.terminate()
            for process in servers.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            redis.Redis.from_url(args.redis_url).delete(
                *(f"sprout:schedule:{name}" for name in claimed or ["-"])
            )

    # ----- report
    failed = [
        f"{SCENARIOS[name]} at {clients} client(s): {result.errors}/{result.requests}"
        for clients, results in by_clients.items()
        for name, result in results.items()
        if result.errors > ERROR_LIMIT * result.requests
    ]
    if failed:
        problems.append("more than 0.5 % errors: " + "; ".join(failed))
    head = (
        f"{os.cpu_count()} cores ({platform.machine()}), PostgreSQL + Redis on the same host; "
        f"`{database}` ({sizes['users']:,} users, {sizes['notes']:,} notes, "
        f"{sizes['interactions']:,} interactions); {datetime.now(UTC):%Y-%m-%d %H:%M} UTC."
    )
    lines += [f"Command: `{command}`", "", head, ""]
    if generated is not None:
        lines += [f"Data generated in this run: {generated:.1f} s.", ""]
    if timed:
        lines += ["| periodic job (child process) | seconds |", "|---|---:|"]
        for name, job in timed["jobs"].items():
            lines.append(f"| {name} | {job['seconds']} |")
        lines.append(f"| peak memory of that child (ru_maxrss) | {timed['peak_rss_mib']} MiB |")
        if others:
            for name, job in others["jobs"].items():
                lines.append(f"| {name} (another child, before serving) | {job['seconds']} |")
        lines.append("")
    if background:
        lines += [
            "Background work run once before serving, then held (no request causes it; "
            "on its timer it landed in whichever block was running): "
            + ", ".join(f"{n} {j['seconds']} s" for n, j in background["jobs"].items())
            + ".",
            "",
        ]
    if cards:
        lines += [
            f"Card store filled before serving (`flask cards-warm`): {cards['summary']} in "
            f"{cards['seconds']} s; Redis memory {cards['redis_before_mib']} → "
            f"{cards['redis_after_mib']} MiB.",
            "",
        ]
    elif by_clients:
        lines += ["Card store left empty (`--lazy-cards`): pages render the cards it lacks.", ""]
    if by_clients:
        lines += [
            f"Gunicorn {args.workers} workers x {args.threads} threads for the app and for "
            f"`benchmarks/floor_app.py`; one RQ worker (`flask --app app worker`, its scheduler "
            f"on; schedule keys of {', '.join(claimed)} pre-claimed, so only "
            f"{', '.join(job_names(light=True))} run on their timers; "
            + "; ".join(
                f"{', '.join(jobs)} run by the bench at the end of each {name} block"
                for name, jobs in FLUSHED_BY.items()
            )
            + f"). Clients: separate processes, one kept-alive "
            "HTTP/1.1 connection each (gunicorn `--keep-alive 300`); every response parsed "
            "and checked (a 200 without a full page is an error). "
            f"{args.rounds} rounds; "
            f"each a block of {args.block} requests per scenario, in a balanced order (each "
            "scenario right after each other one equally often); "
            f"{args.warmup} warm-up requests per scenario first. CPU ms per request: every "
            "process of each group, from /proc around each block, read once the jobs the block "
            "caused have finished and the worker has used no CPU for "
            f"{QUIET_SECONDS * 1000:.0f} ms (jobs' wait: the time spent waiting, not in req/s; "
            f"at most {SETTLE_SECONDS:.0f} s a block) (postgres: the backends on "
            "the bench database only; redis: the whole shared redis-server); (others): the rest "
            "of the machine's busy CPU meanwhile, per request, not in the sum: other users' "
            "load, i.e. noise.",
            "",
        ]
        for clients, results in by_clients.items():
            placement = ", ".join(f"{k} {v}" for k, v in spreads.get(clients, {}).items())
            lines += [
                f"**{clients} client{'s' * (clients > 1)}** (connections per gunicorn worker: "
                f"{placement})",
                "",
            ]
            lines += [*scenario_table(results), ""]
        ratio_lines, ok = ratio_rows(by_clients)
        lines += ["**Targets (ratios from this run)**", "", *ratio_lines, ""]
    if memory:
        lines += [
            "**Peak memory (VmHWM) at the end**",
            "",
            "| process | pid | MiB |",
            "|---|---:|---:|",
        ]
        for label, pid, mib in sorted(memory):
            lines.append(f"| {label} | {pid} | {mib:.0f} |" if mib else f"| {label} | {pid} | ? |")
        if timed:
            lines.append(f"| jobs child (hot + item-CF, ru_maxrss) | | {timed['peak_rss_mib']} |")
        lines.append("")
    lines += [f"**Run invalid:** {problem}." for problem in problems]
    lines.append(f"Whole run: {time.perf_counter() - run_started:.0f} s.")
    block = "\n".join(lines)
    out = Path(
        args.out or f"/tmp/feed_bench/feed_bench{suffix}-{datetime.now(UTC):%Y%m%dT%H%M%S}.md"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(block + "\n")
    print(block)
    log(f"written to {out}")
    shutil.rmtree(data_dir, ignore_errors=True)

    if problems:
        raise SystemExit("; ".join(problems))
    if not ok:
        log("some targets are not met (see the table); exit status 0: the run itself worked")


if __name__ == "__main__":
    main()
