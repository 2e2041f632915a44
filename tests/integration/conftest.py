"""Fixtures of the real topology: gunicorn with three workers on SQLite or PostgreSQL
(`live_server`), the services mode (`services_stack`: PostgreSQL, a Redis of the test's own
and an RQ worker behind gunicorn), and `topology`, which starts either on demand with the
environment a test asks for. See `servers.py`."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis as redis_lib
from flask import Flask

from tests.conftest import make_app
from tests.integration.servers import LiveServer, RedisServer, Worker, server_env


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """Embedded mode (no Redis): three gunicorn workers sharing one data directory."""
    server = LiveServer(
        server_env(database_url, tmp_path / "data", extra={"SPROUT_RATE_LIMITS": "off"}),
        tmp_path / "gunicorn.log",
    )
    server.start()
    yield server
    server.stop()


@dataclass
class ServicesStack:
    server: LiveServer
    worker: Worker
    redis: RedisServer
    database_url: str
    data_dir: Path


@pytest.fixture
def services_stack(pg_database: str, tmp_path: Path) -> Iterator[ServicesStack]:
    """Services mode: PostgreSQL, a Redis the test owns, one RQ worker, gunicorn (3 workers)."""
    from tests.conftest import _clean_postgres

    _clean_postgres(pg_database)
    redis_server = RedisServer(tmp_path / "redis.log")
    redis_server.start()
    env = server_env(pg_database, tmp_path / "data", redis_url=redis_server.url)
    server = LiveServer({**env, "SPROUT_RATE_LIMITS": "off"}, tmp_path / "gunicorn.log")
    worker = Worker(env, tmp_path / "worker.log")
    server.start()
    worker.start()
    stack = ServicesStack(server, worker, redis_server, pg_database, tmp_path / "data")
    yield stack
    for process in (server, worker, redis_server):
        process.kill()


@dataclass
class Topology:
    """One deployment started by a test: `kind` is "sqlite" (embedded: gunicorn's workers
    share the data directory) or "services" (PostgreSQL, Redis, an RQ worker)."""

    kind: str
    database_url: str
    data_dir: Path
    server: LiveServer | None = None
    worker: Worker | None = None
    redis: RedisServer | None = None
    processes: list = field(default_factory=list)

    @property
    def api(self) -> str:
        assert self.server is not None
        return self.server.api

    @property
    def base(self) -> str:
        assert self.server is not None
        return self.server.base

    def logs(self) -> str:
        return "\n".join(p.output()[-4000:] for p in self.processes)


@pytest.fixture(params=["sqlite", "services"])
def topology(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Topology]]:
    """Call it (with extra environment) to start the deployment; stopped after the test."""
    started: list[Topology] = []

    def start(env: dict[str, str] | None = None, *, workers: int = 3) -> Topology:
        extra = {"SPROUT_RATE_LIMITS": "off", **(env or {})}
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'sprout.db'}"
            if not (tmp_path / "sprout.db").exists():
                shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "sprout.db")
            top = Topology("sqlite", url, tmp_path / "data")
            top.server = LiveServer(
                server_env(url, top.data_dir, extra=extra),
                tmp_path / "gunicorn.log",
                workers=workers,
            )
            top.processes = [top.server]
        else:
            from tests.conftest import _clean_postgres

            url = request.getfixturevalue("pg_database")
            if not started:
                _clean_postgres(url)
            redis_server = RedisServer(tmp_path / "redis.log")
            redis_server.start()
            env_ = server_env(url, tmp_path / "data", redis_url=redis_server.url)
            top = Topology("services", url, tmp_path / "data", redis=redis_server)
            top.server = LiveServer({**env_, **extra}, tmp_path / "gunicorn.log", workers=workers)
            top.worker = Worker(env_, tmp_path / "worker.log")
            top.worker.start()
            top.processes = [top.server, top.worker, redis_server]
        top.server.start()
        started.append(top)
        return top

    yield start
    for top in started:
        for process in top.processes:
            process.kill()


@pytest.fixture
def services_app(database_url: str, tmp_path: Path, redis_url: str) -> Iterator[Flask]:
    """An app in services mode (the test Redis, jobs on RQ) for tests that drive a worker
    themselves; the Redis database is flushed before and after."""
    redis_lib.Redis.from_url(redis_url).flushdb()
    app = make_app(database_url, tmp_path, redis_url=redis_url)
    with app.app_context():
        yield app
    redis_lib.Redis.from_url(redis_url).flushdb()
