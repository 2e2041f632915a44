"""`flask` commands: init (migrate, bootstrap admin, seed), seed, import-pgc, worker, synth."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import redis
from flask import Flask, current_app
from tqdm import tqdm

from app.core.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


def init_app(app: Flask) -> None:
    @app.cli.command("init")
    def init_command() -> None:
        """Migrate the database, ensure the bootstrap admin, seed an empty database."""
        settings: Settings = current_app.config["SPROUT"]
        click.echo(f"migrating {settings.database_url.split('@')[-1]} …")
        migrate(settings.database_url)
        ensure_bootstrap_admin()
        from seed_content.loader import database_is_empty, load_seed_content

        if settings.seed_on_empty and database_is_empty():
            click.echo(load_seed_content(progress=ProgressBars()).summary(), err=True)
            rebuild_rankings()
        from app.core.extensions import get_search
        from app.search.indexing import reindex

        if not get_search().stats().get("generation"):  # never built: build it now
            click.echo(reindex(progress=ProgressBars()), err=True)

    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Apply every pending migration."""
        migrate(current_app.config["SPROUT"].database_url)

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

        try:
            report = load_seed_content(progress=ProgressBars(), dry_run=dry_run, packs_dir=packs)
        except ValueError as exc:  # a broken pack: say what, change nothing
            raise click.ClickException(str(exc)) from exc
        click.echo(report.summary(), err=True)
        if report.changed and not dry_run:
            rebuild_rankings()
            click.echo(reindex(progress=ProgressBars()), err=True)

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
    def worker_command(burst: bool, queues: tuple[str, ...], no_schedule: bool) -> None:
        """Run an RQ worker on every Sprout queue (needs REDIS_URL)."""
        from rq import SimpleWorker

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
        if not burst and not no_schedule:
            from app.schedule import start_scheduler_thread

            # The thread's own ticks survive a Redis outage (each failure is logged).
            start_scheduler_thread(current_app._get_current_object(), connection, first=True)
        # A Redis outage delays jobs, it does not end the worker: wait and listen again.
        # with_scheduler: RQ's own scheduler for jobs that wait.
        wait = 1.0
        while True:
            try:
                SimpleWorker(listen, connection=connection).work(
                    burst=burst, with_scheduler=not burst
                )
                return
            except redis.ConnectionError as exc:
                click.echo(f"Redis unreachable ({exc}); listening again in {wait:.0f} s", err=True)
                time.sleep(wait)
                wait = min(wait * 2, 30.0)

    @app.cli.command("search-reindex")
    def search_reindex_command() -> None:
        """Rebuild the search index from the database (in place; resumes if interrupted)."""
        from app.search.indexing import reindex

        click.echo(reindex(progress=ProgressBars()), err=True)

    @app.cli.command("rebuild")
    def rebuild_command() -> None:
        """Run the periodic ranking jobs now: impressions, hot scores and lists, item-CF."""

        rebuild_rankings()

    @app.cli.command("synth")
    @click.option("--users", default=20_000, show_default=True)
    @click.option("--notes", default=100_000, show_default=True)
    @click.option("--interactions", default=1_000_000, show_default=True)
    @click.option("--seed", default=42, show_default=True)
    @click.option("--append", is_flag=True, help="Add to earlier synthetic data.")
    def synth_command(users: int, notes: int, interactions: int, seed: int, append: bool) -> None:
        """Generate skewed synthetic users, notes and interactions for benchmarks."""
        from app.core.extensions import db
        from app.synthetic import generate

        report = generate(
            db.engine,
            users=users,
            notes=notes,
            interactions=interactions,
            seed=seed,
            append=append,
            progress=ProgressBars(),
        )
        click.echo(report)


def ensure_bootstrap_admin() -> None:
    settings: Settings = current_app.config["SPROUT"]
    if settings.admin_username and settings.admin_password:
        from app.accounts.services import ensure_admin

        ensure_admin(settings.admin_username, settings.admin_password)
        click.echo(f"admin account {settings.admin_username!r} ensured")


def rebuild_rankings() -> None:
    """Run the periodic ranking jobs now (hot scores and lists, item-CF)."""
    from app.schedule import periodic_job_definitions

    for definition in periodic_job_definitions():
        click.echo(f"{definition.name} …", err=True)
        result = definition.function()
        click.echo(f"{definition.name}: {result}", err=True)


class ProgressBars:
    """A `(phase, done, total)` progress callback drawing one tqdm bar per phase."""

    def __init__(self) -> None:
        self._bar: tqdm[Any] | None = None
        self._phase: str | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            self._bar = tqdm(total=total, desc=f"{phase:<10}", unit="item", file=sys.stderr)
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
