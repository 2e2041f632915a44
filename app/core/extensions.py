"""Process-wide resources bound to an app: database, Redis, rate limiter, job queues."""

from __future__ import annotations

import json
import logging
import math
import select
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
import orjson
import redis
from flask import Flask, current_app
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from app.core.config import Settings
from app.core.errors import RateLimited
from app.core.shared_state import (
    DiskState,
    FallbackFeedStore,
    RedisState,
    SharedState,
    open_disk_cache,
)
from app.core.sql_functions import register_sqlite_functions
from app.core.storage import LocalStorage, S3Storage

log = logging.getLogger(__name__)


@dataclass
class DatabaseState:
    engine: Engine
    session: scoped_session[Session]
    # The same pool without transactions (PostgreSQL): what read requests run on.
    reader: Engine | None = None


def _json_column(value: Any) -> str:
    """JSON columns (badges on every card's author) through orjson; integers beyond 64 bits
    through the standard encoder, which has no such limit, so a write never fails. orjson reads
    such integers back as floats: no column holds one (ids are bounded by `MAX_ID`)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(
    url: str, pool_size: int = 5, max_overflow: int = 5, pre_ping: bool = False
) -> Engine:
    """PostgreSQL's pool is sized to the process (`SPROUT_DB_POOL_SIZE`: its request threads
    plus its background threads); every process's pool together must stay below the server's
    `max_connections`. A connection the server closed is replaced at checkout by looking at
    its socket (`_refuse_closed_connection`); a full round trip before each use
    (`SPROUT_DB_PRE_PING=1`) also catches a peer that vanished without closing (a network
    partition), at the price of that round trip on every request."""
    json_codec = {"json_serializer": _json_column, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **json_codec
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        **json_codec,
    )
    event.listen(engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, `pg_terminate_backend`, an idle
    timeout) has its socket readable while idle (the goodbye message, then end of file): a
    check of the socket, not a round trip, so it costs requests nothing. The pool replaces
    such a connection instead of handing it out to fail."""
    try:
        fd = dbapi_connection.pgconn.socket
    except Exception as exc:  # already closed: psycopg refuses to name its socket
        raise DisconnectionError("connection closed") from exc
    readable, _, _ = select.select([fd], [], [], 0)
    if readable or dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the server closed this connection")


def _configure_sqlite(engine: Engine) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so concurrent writers queue instead of failing.

    pysqlite's own transaction handling is switched off (the SQLAlchemy recipe) so that the
    write lock is taken at BEGIN: a deferred transaction that upgrades later fails with
    SQLITE_BUSY at once under contention, which would lose likes.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """`db.session` is the scoped session of the current app (one per thread)."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        engine = make_engine(
            settings.database_url,
            settings.db_pool_size,
            settings.db_max_overflow,
            settings.db_pre_ping,
        )
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else None
        )
        app.extensions["sprout.db"] = DatabaseState(
            engine=engine, session=scoped_session(factory), reader=reader
        )

        # Per request as well as per app context: a test client reuses the test's app context,
        # and each request must still start with a clean session, as it does in production.
        @app.teardown_request
        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            remove_session(app.extensions["sprout.db"].session)

    @property
    def state(self) -> DatabaseState:
        return current_app.extensions["sprout.db"]

    @property
    def session(self) -> Session:
        return self.state.session()

    @property
    def engine(self) -> Engine:
        return self.state.engine

    def read_only(self) -> None:
        """This request only reads (a GET): on PostgreSQL its statements run without a
        transaction, which saves the `BEGIN` and `ROLLBACK` round trips. Each statement still
        sees committed data only (PostgreSQL's default isolation, READ COMMITTED, takes a new
        snapshot per statement anyway); a write a GET makes (activity, a view written while
        Redis is down) commits by itself."""
        reader = self.state.reader
        session = self.session
        if reader is not None and not session.in_transaction():
            session.bind = reader


db = Database()


def remove_session(session: scoped_session[Session]) -> None:
    """End this thread's session, even on a connection that died under it (the pool has
    dropped that connection; the next session gets a fresh one)."""
    try:
        session.remove()
    except DBAPIError:
        log.warning("closing a session on a dead database connection", exc_info=True)
        session.registry.clear()


def get_redis() -> redis.Redis | None:
    return current_app.extensions.get("sprout.redis")


def init_redis(app: Flask, settings: Settings) -> None:
    """Redis in services mode; the embedded store's directory otherwise (see
    `app.core.shared_state`: every process must see the same state in both modes)."""
    if settings.redis_url:
        # Short timeouts: a dead Redis must delay side effects, not hang requests.
        connection = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5
        )
        app.extensions["sprout.redis"] = connection
        app.extensions["sprout.shared"] = RedisState(connection)
    else:
        app.extensions["sprout.shared"] = DiskState(open_disk_cache(shared_dir(settings, "state")))


def shared_dir(settings: Settings, name: str) -> Path:
    """Where the embedded mode keeps one kind of shared state (absolute: it goes into URIs)."""
    return (settings.data_dir / "shared" / name).resolve()


def shared_state() -> SharedState:
    return current_app.extensions["sprout.shared"]


class RateLimiter:
    """Named limits from settings (`register`, `login`, `write`, `report`, `search`), moving window.

    Counters live in Redis in services mode and in the embedded store otherwise, so a limit
    is counted once across every process. If that store cannot be reached the request goes
    through (logged): a dead Redis must not lock every user out.
    """

    def __init__(self, settings: Settings) -> None:
        self.limits = settings.rate_limits
        uri = settings.redis_url or f"sprout-diskcache://{shared_dir(settings, 'limits')}"
        options = {"socket_connect_timeout": 2, "socket_timeout": 5} if settings.redis_url else {}
        self.storage = storage_from_string(uri, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)

    def hit(self, name: str, *identity: str) -> None:
        if self.limits is None or name not in self.limits:
            return
        item = parse_limit(self.limits[name])
        try:
            if self.strategy.hit(item, "sprout", name, *identity):
                return
            stats = self.strategy.get_window_stats(item, "sprout", name, *identity)
        except (redis.RedisError, diskcache.Timeout, OSError):
            log.warning("rate limit %s not counted: its store is unreachable", name)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"Too many {name} requests; try again in {retry_after} s.",
            details={"limit": name, "retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )

    def reset(self) -> None:
        self.storage.reset()


def rate_limiter() -> RateLimiter:
    return current_app.extensions["sprout.limiter"]


def get_storage() -> Any:
    """The media storage of the current app (local folder, or S3 when a bucket is set)."""
    storage = current_app.extensions.get("sprout.storage")
    if storage is None:
        settings: Settings = current_app.config["SPROUT"]
        if settings.s3_bucket:
            storage = S3Storage(
                settings.s3_bucket,
                endpoint_url=settings.s3_endpoint_url,
                public_url=settings.s3_public_url,
            )
        else:
            root = settings.media_dir or settings.data_dir / "media"
            storage = LocalStorage(root, settings.public_base_url + settings.media_url_prefix)
        current_app.extensions["sprout.storage"] = storage
    return storage


def get_feed_store() -> Any:
    """Seen sets, recently served notes, buffers and the impression buffer, shared by every
    process: Redis when configured, else the embedded store in the data directory."""
    store = current_app.extensions.get("sprout.feed_store")
    if store is None:
        from ranking.store import DiskFeedStore, RedisFeedStore

        connection = current_app.extensions.get("sprout.redis")
        settings: Settings = current_app.config["SPROUT"]
        store = DiskFeedStore(open_disk_cache(shared_dir(settings, "feed")))
        if connection is not None:
            store = FallbackFeedStore(RedisFeedStore(connection, prefix="sprout:feed:"), store)
        current_app.extensions["sprout.feed_store"] = store
    return store
