"""Fixtures shared by every test folder.

Database tests run on SQLite and on the real PostgreSQL server; a missing server is a
failure, never a skip. Each test gets a fresh app from the factory on a clean database.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from app import create_app
from app.cli import migrate
from app.core.config import load_settings

PG_ADMIN_URL = os.environ.get(
    "SPROUT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("SPROUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
KEEP_TABLES = {"alembic_version", "channels"}
# Quiet hours (22-8 in Asia/Shanghai by default) hold every push and leave a job outbox row
# due when they end: tests that check nothing is left pending failed whenever the suite ran
# between 14:00 and 24:00 UTC. Off for the suite (the apps in-process and the servers it
# starts read it from here); the quiet-hours tests configure their own hours.
os.environ.setdefault("SPROUT_PUSH_QUIET_HOURS", "off")


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+psycopg://") + "/" + dbname


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One migrated PostgreSQL database per test session (per xdist worker)."""
    name = f"sprout_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for the tests and is not reachable: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    migrate(url)
    yield url
    create_engine(url).dispose()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file, which is far faster than migrating again."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


def worker_redis_url(base_url: str, worker: str, workers: int, databases: int = 16) -> str:
    """Worker `gwK` of `workers` uses database (base - K) mod `databases`: distinct for up to
    `databases` workers; more would share one (tests flush it), so that is refused."""
    prefix, _, index = base_url.rpartition("/")
    if workers > databases:
        pytest.fail(
            f"{workers} xdist workers need {workers} Redis databases, the server has "
            f"{databases}: run with -n {databases} or fewer",
            pytrace=False,
        )
    number = int(worker.removeprefix("gw") or 0)
    return f"{prefix}/{(int(index or 0) - number) % databases}"


def _redis_databases(client: redis_lib.Redis) -> int:
    try:
        return int(client.config_get("databases").get("databases", 16))
    except redis_lib.RedisError:  # CONFIG may be disabled: Redis's default, then
        return 16


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis database; each xdist worker gets its own (15, 14, … from
    SPROUT_TEST_REDIS_URL's index down, wrapping), since tests flush it and drain its queues."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    try:
        client = redis_lib.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=3)
        client.ping()
        databases = _redis_databases(client)
    except redis_lib.RedisError as exc:
        pytest.fail(f"Redis is required for the tests and is not reachable: {exc}")
    return worker_redis_url(TEST_REDIS_URL, worker, workers, databases)


def _clean_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if row[0] not in KEEP_TABLES
        ]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


_counter = itertools.count()


def make_app(
    database_url: str, data_dir: Path, *, redis_url: str | None = None, **overrides: Any
) -> Flask:
    os.environ.pop("REDIS_URL", None)
    defaults: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "elasticsearch_url": None,
        "rate_limits": None,
        "admin_username": None,
        "admin_password": None,
        "s3_bucket": None,
        "media_dir": data_dir / "media",
        "testing": True,
        "ranking_cache_seconds": 0.0,  # every request sees the notes the test just made
        "ranking_prefetch_pages": 5,  # the feed tests count ranked pages in fives
    }
    settings = load_settings(data_dir=data_dir).with_overrides(**{**defaults, **overrides})
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / f"sprout-{next(_counter)}.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _clean_postgres(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(database_url, tmp_path)
    with application.app_context():
        yield application
    from app.core.extensions import db

    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Api:
    """A mobile client in a few lines: register users, call with their tokens."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}
        self.users: dict[str, dict[str, Any]] = {}

    def register(self, username: str, password: str = "correct horse 1", **extra: Any) -> dict:
        response = self.client.post(
            "/api/v1/auth/register", json={"username": username, "password": password, **extra}
        )
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        self.tokens[username] = body["token"]
        self.users[username] = body["user"]
        return body["user"]

    def headers(self, username: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"} if username else {}

    def call(self, method: str, path: str, as_user: str | None = None, **kwargs: Any) -> Any:
        headers = {**self.headers(as_user), **kwargs.pop("headers", {})}
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, as_user: str | None = None, **kwargs: Any) -> Any:
        return self.call("GET", path, as_user, **kwargs)

    def post(self, path: str, as_user: str | None = None, **kwargs: Any) -> Any:
        return self.call("POST", path, as_user, **kwargs)

    def patch(self, path: str, as_user: str | None = None, **kwargs: Any) -> Any:
        return self.call("PATCH", path, as_user, **kwargs)

    def put(self, path: str, as_user: str | None = None, **kwargs: Any) -> Any:
        return self.call("PUT", path, as_user, **kwargs)

    def delete(self, path: str, as_user: str | None = None, **kwargs: Any) -> Any:
        return self.call("DELETE", path, as_user, **kwargs)

    def grant(self, username: str, *roles: str) -> None:
        """Give roles directly in the database (the admin route is tested on its own)."""
        from app.accounts.models import UserRole
        from app.core.extensions import db

        for role in roles:
            db.session.add(UserRole(user_id=self.users[username]["id"], role=role))
        db.session.commit()
        db.session.expire_all()


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Every failure uses the envelope of API.md."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert body is not None and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def insert_note(
    author_id: int,
    title: str = "笔记",
    *,
    topics: tuple[int, ...] | list[int] = (),
    status: str = "published",
    ago: int = 0,
    deleted: bool = False,
    **columns: Any,
) -> int:
    """A note row straight into the database, for tests of areas that only need one to exist.

    `ago` is minutes before now for `published_at`, to order feeds.
    """
    from datetime import timedelta

    from app.core.extensions import db
    from app.core.models import utcnow
    from app.notes.models import Note, NoteTopic

    now = utcnow()
    note = Note(
        author_id=author_id,
        title=title,
        status=status,
        published_at=now - timedelta(minutes=ago) if status == "published" else None,
        deleted_at=now if deleted else None,
        **columns,
    )
    db.session.add(note)
    db.session.flush()
    for topic_id in topics:
        db.session.add(NoteTopic(note_id=note.id, topic_id=topic_id))
    db.session.commit()
    return note.id
