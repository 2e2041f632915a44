"""`flask` commands: init (migrate, bootstrap admin, seed, search index), migrate, seed,
import-pgc, worker, search-reindex, rebuild. The synthetic data generator for benchmarks is
`benchmarks/synthetic_data.py` (`make synth`), not part of the app."""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import redis
from flask import Flask, current_app
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from tqdm import tqdm

from app.core.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
API_DOCS_PATH = "/api/v1/docs"
#: The worker's young-generation collection threshold (CPython's default is 700): see
#: `worker_command`.
WORKER_GC_THRESHOLD = 10_000


def alembic_config(database_url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def pending_migrations(database_url: str) -> int:
    """How many migrations `migrate` would apply (all of them on an empty database)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database_url))
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    return len(list(script.iterate_revisions("heads", current or "base")))


def _applied(migrations: int) -> str:
    return (
        f"{migrations} migration{'' if migrations == 1 else 's'} applied"
        if migrations
        else "up to date"
    )


def migrate(database_url: str) -> int:
    """Apply every pending migration; returns how many there were."""
    from alembic import command

    pending = pending_migrations(database_url)
    if pending:
        command.upgrade(alembic_config(database_url), "head")
    return pending


def init_app(app: Flask) -> None:
    @app.cli.command("init")
    def init_command() -> None:
        """Migrate, ensure the bootstrap admin, seed an empty database, build the search index
        once; one line per step, then a summary of what is there and how to reach it."""
        settings: Settings = current_app.config["SPROUT"]
        started = time.perf_counter()
        click.echo(f"Sprout: starting on {_database_label(settings.database_url)}", err=True)
        with step("database") as current:
            applied = migrate(settings.database_url)
            current.outcome = _applied(applied)
        with step("admin") as current:
            admin = ensure_bootstrap_admin()
            current.outcome = f"{admin!r} ready" if admin else "none configured"
        from seed_content.loader import database_is_empty, load_seed_content

        if settings.seed_on_empty and database_is_empty():
            with step("seed content") as current:
                report = load_seed_content(progress=current.progress)
                current.outcome = "created " + _counts(report.created)
            with step("rankings") as current:
                current.outcome = "ran " + ", ".join(rebuild_rankings(echo=False))
        from app.search.engine import get_search
        from app.search.indexing import reindex

        if not get_search().stats().get("generation"):  # never built: build it now
            with step("search index") as current:
                indexed = reindex(progress=current.progress)
                current.outcome = "indexed " + _counts(
                    {kind: indexed.get(kind, 0) for kind in ("notes", "users", "topics")}
                )
        click.echo(startup_summary(settings, time.perf_counter() - started, admin))

    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Apply every pending migration."""
        click.echo(_applied(migrate(current_app.config["SPROUT"].database_url)), err=True)

    @app.cli.command("seed")
    @click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
    @click.option(
        "--packs",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Load the packs of this folder instead of seed_content/packs.",
    )
    def seed_command(dry_run: bool, packs: Path | None) -> None:
        """Load the cold-start packs (idempotent: run twice, nothing changes)."""
        from app.search.indexing import reindex
        from seed_content.loader import load_seed_content

        bars = ProgressBars()
        try:
            report = load_seed_content(progress=bars, dry_run=dry_run, packs_dir=packs)
        except ValueError as exc:  # a broken pack: say what, change nothing
            raise click.ClickException(str(exc)) from exc
        finally:
            bars.close()
        click.echo(report.summary(), err=True)
        if report.changed and not dry_run:
            rebuild_rankings()
            click.echo(f"search index: {brief(reindex(progress=ProgressBars()))}", err=True)

    @app.cli.command("import-pgc")
    @click.argument("source")
    @click.option("--account", required=True, help="The official account that publishes.")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["auto", "jsonl", "feed"]),
        default="auto",
        show_default=True,
        help="jsonl: JSON Lines; feed: RSS or Atom; auto: tell from the content.",
    )
    @click.option("--channel", help="The channel of the notes (default: classified).")
    @click.option("--topic", "topics", type=int, multiple=True, help="A topic id (repeatable).")
    @click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
    def import_command(
        source: str,
        account: str,
        fmt: str,
        channel: str | None,
        topics: tuple[int, ...],
        dry_run: bool,
    ) -> None:
        """Import articles from a JSON Lines or RSS/Atom file or URL (idempotent)."""
        from seed_content.importers import (
            ImportFailed,
            import_articles,
            official_account,
            parse,
            read_source,
        )

        try:
            publisher = official_account(account)
            articles, problems = parse(read_source(source), fmt)
        except ImportFailed as exc:
            raise click.ClickException(str(exc)) from exc
        report = import_articles(
            articles, publisher, channel=channel, topic_ids=list(topics), dry_run=dry_run
        )
        for problem in problems + report.skipped:
            click.echo(f"skipped {problem}", err=True)
        click.echo(report.summary(), err=True)

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    @click.option(
        "--queue",
        "queues",
        multiple=True,
        help="Listen only to this queue (repeatable); default: all of them.",
    )
    @click.option(
        "--no-schedule",
        is_flag=True,
        help="Do not run the periodic jobs' scheduler in this worker.",
    )
    @click.option(
        "--nice",
        type=click.IntRange(0, 19),
        default=10,
        show_default=True,
        help="CPU priority below the web processes' (0: the same).",
    )
    @click.option(
        "--no-ranking",
        is_flag=True,
        help="Do not rank viewers' next pages in this worker (`app.feeds.ahead`).",
    )
    def worker_command(
        burst: bool, queues: tuple[str, ...], no_schedule: bool, nice: int, no_ranking: bool
    ) -> None:
        """Run an RQ worker on every Sprout queue (needs REDIS_URL), and a thread that ranks
        viewers' next discover pages as their pages ask (`app.feeds.ahead`).

        The worker yields the CPU to requests on a shared host (`--nice`): ranking a
        viewer's next pages is worth less than the page a person waits for, and delaying a
        job only delays it."""
        from rq import SimpleWorker

        if nice:
            os.nice(nice)

        from app.core.extensions import get_redis
        from app.core.jobs import QUEUES

        connection = get_redis()
        if connection is None:
            click.echo("REDIS_URL is not set: jobs run inline, no worker is needed.", err=True)
            sys.exit(2)
        # SimpleWorker: no fork per job, so the app's connection pools are never shared
        # across processes; run more worker processes to scale out.
        unknown = sorted(set(queues) - set(QUEUES))
        if unknown:
            raise click.BadParameter(f"unknown queue(s) {unknown}; known: {list(QUEUES)}")
        listen = [name for name in QUEUES if not queues or name in queues]
        app_object = current_app._get_current_object()
        if not burst and not no_schedule:
            from app.schedule import start_scheduler_thread

            # The thread's own ticks survive a Redis outage (each failure is logged).
            start_scheduler_thread(app_object, connection, first=True)
        # What is loaded by now lives as long as the worker: out of the collector's full
        # scans, as in the web processes (app.wsgi). Each scan walked it all: 130-170 ms of
        # CPU every 30-45 s in a worker ranking ahead at the bench's load.
        gc.freeze()
        # A ranking ahead makes some 100,000 short-lived containers, which refcounting frees;
        # at the default threshold (700) the collector still ran about 150 young passes a
        # ranking over the ones alive at the time, and promoted them into older passes: 1.9 ms
        # of a 20 ms ranking on the bench database, 0.1 ms at this threshold.
        gc.set_threshold(WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])
        from app.feeds import ahead

        if not burst and not no_ranking:
            # Ranking viewers' next pages has its own thread and list, not RQ (`ahead`).
            ahead.start_thread(app_object, connection)
        # A Redis outage delays jobs, it does not end the worker: wait and listen again.
        # with_scheduler: RQ's own scheduler for jobs that wait.
        wait = 1.0
        while True:
            try:
                SimpleWorker(listen, connection=connection).work(
                    burst=burst, with_scheduler=not burst
                )
                if burst and not no_ranking:
                    ahead.serve(app_object, connection, burst=True)
                return
            except redis.ConnectionError as exc:
                click.echo(f"Redis unreachable ({exc}); listening again in {wait:.0f} s", err=True)
                time.sleep(wait)
                wait = min(wait * 2, 30.0)

    @app.cli.command("search-reindex")
    def search_reindex_command() -> None:
        """Rebuild the search index from the database (in place; resumes if interrupted)."""
        from app.search.indexing import reindex

        click.echo(brief(reindex(progress=ProgressBars())), err=True)

    @app.cli.command("cards-warm")
    def cards_warm_command() -> None:
        """Store every published note's card ahead of its first read (after an install or a
        flushed Redis; the `warm_cards` job's sweep gets there too, a slice at a time)."""
        from app.feeds.cards import warm_every_card

        click.echo(brief(warm_every_card(progress=ProgressBars())), err=True)

    @app.cli.command("rebuild")
    def rebuild_command() -> None:
        """Run the periodic ranking jobs now: impressions, hot scores and lists, item-CF."""

        rebuild_rankings()


def ensure_bootstrap_admin() -> str | None:
    """Ensure the admin account the settings name, if any; returns its username."""
    settings: Settings = current_app.config["SPROUT"]
    if not (settings.admin_username and settings.admin_password):
        return None
    from app.accounts.services import ensure_admin

    return ensure_admin(settings.admin_username, settings.admin_password).username


def rebuild_rankings(*, echo: bool = True) -> dict[str, object]:
    """Run the periodic ranking jobs now (hot scores and lists, item-CF); returns each job's
    result by name, and with `echo` prints one line per job."""
    from app.schedule import periodic_job_definitions

    results: dict[str, object] = {}
    for definition in periodic_job_definitions():
        started = time.perf_counter()
        results[definition.name] = result = definition.function()
        if echo:
            took = time.perf_counter() - started
            click.echo(f"{definition.name}: {brief(result)} ({took:.1f} s)", err=True)
    return results


def brief(result: object) -> str:
    """A job's or a command's result on one line: its top-level numbers and words, `k=v`."""
    if not isinstance(result, Mapping):
        return str(result)
    parts = []
    for key, value in result.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.3g}")
        elif isinstance(value, bool | int | str) or value is None:
            parts.append(f"{key}={value}")
    return " ".join(parts) or "done"


def _counts(counts: Mapping[str, int]) -> str:
    """`{"note": 320, "topic": 1}` → "320 notes, 1 topic" (zeros left out)."""
    parts = [
        f"{n:,} {kind.removesuffix('s')}{'' if n == 1 else 's'}" for kind, n in counts.items() if n
    ]
    return ", ".join(parts) or "nothing"


@dataclass
class Step:
    """One start-up step: what it reports when done, and the bars it draws meanwhile."""

    title: str
    progress: ProgressBars
    outcome: str = "done"


@contextmanager
def step(title: str) -> Iterator[Step]:
    """Run one step: a transient bar while it works (on a terminal), then one line
    `✓ title  outcome (1.2 s)`. A failing step prints nothing: its error says enough."""
    current = Step(title, ProgressBars(prefix=title, leave=False))
    if not current.progress.interactive:  # a log: say what is running, in case it hangs
        click.echo(f"… {title}", err=True)
    started = time.perf_counter()
    try:
        yield current
    finally:
        current.progress.close()
    click.echo(f"✓ {title:<13} {current.outcome} ({time.perf_counter() - started:.1f} s)", err=True)


def _database_label(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    return url.render_as_string(hide_password=True)


def content_counts() -> dict[str, int]:
    """What a person would count: accounts, live published notes, topics."""
    from app.accounts.models import User
    from app.core.extensions import db
    from app.notes.models import Note, Topic

    def count(stmt: Any) -> int:
        return int(db.session.scalar(stmt) or 0)

    live = (Note.status == "published", Note.deleted_at.is_(None))
    return {
        "users": count(select(func.count()).select_from(User)),
        "notes": count(select(func.count()).select_from(Note).where(*live)),
        "topics": count(select(func.count()).select_from(Topic)),
    }


def startup_summary(settings: Settings, seconds: float, admin: str | None) -> str:
    """The few lines a person needs after `make run`'s set-up: what is there, where it
    lives, where to point a browser, how to sign in."""
    base = settings.public_base_url or f"http://127.0.0.1:{settings.port}"
    media = (
        f"s3://{settings.s3_bucket}"
        if settings.s3_bucket
        else str(settings.media_dir or settings.data_dir / "media")
    )
    if admin:
        sign_in = f"{admin!r}, password SPROUT_ADMIN_PASSWORD: POST /api/v1/auth/login"
    else:
        sign_in = "none (set SPROUT_ADMIN_USERNAME and SPROUT_ADMIN_PASSWORD for one)"
    rows = (
        ("content", _counts(content_counts())),
        ("data", f"{settings.data_dir} (database: {_database_label(settings.database_url)})"),
        ("media", media),
        ("URL", base),
        ("API docs", base + API_DOCS_PATH),
        ("admin", sign_in),
    )
    lines = [f"Set up in {seconds:.1f} s.", *(f"  {name:<9} {value}" for name, value in rows)]
    return "\n".join(lines)


@dataclass
class ProgressBars:
    """A `(phase, done, total)` progress callback drawing one tqdm bar per phase on a
    terminal, nothing in a log (`interactive` says which)."""

    prefix: str = ""
    leave: bool = True
    _bar: tqdm[Any] | None = field(default=None, init=False, repr=False)
    _phase: str | None = field(default=None, init=False, repr=False)

    @property
    def interactive(self) -> bool:
        return sys.stderr.isatty()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            label = f"{self.prefix}: {phase}" if self.prefix else phase
            self._bar = tqdm(
                total=total,
                desc=f"{label:<10}",
                unit="item",
                file=sys.stderr,
                leave=self.leave,
                disable=not self.interactive,
            )
            self._phase = phase
        assert self._bar is not None
        self._bar.total = total
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._phase = None, None
