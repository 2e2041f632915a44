"""Settings read once from the environment (see ../shared/API.md, Configuration)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_RATE_LIMITS: dict[str, str] = {
    "register": "30/hour",
    "login": "20/minute",
    "write": "120/minute",
    "report": "30/hour",
    "search": "120/minute",  # per user or address: each query feeds the hot-terms log
}


def parse_boolean(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def int_or_default(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def parse_rate_limits(raw: str | None) -> dict[str, str] | None:
    """`name=N/period;…` over the defaults; `off` disables every limit (returns None)."""
    if raw is None or raw.strip() == "":
        return dict(DEFAULT_RATE_LIMITS)
    if raw.strip().lower() == "off":
        return None
    limits = dict(DEFAULT_RATE_LIMITS)
    for part in raw.split(";"):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip()
        count, _, period = value.partition("/")
        if (
            name not in DEFAULT_RATE_LIMITS
            or not count.isdigit()
            or period
            not in {
                "second",
                "minute",
                "hour",
                "day",
            }
        ):
            raise ValueError(f"SPROUT_RATE_LIMITS: cannot read {part!r}")
        limits[name] = f"{count}/{period}"
    return limits


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    elasticsearch_url: str | None
    secret_key: str
    rate_limits: dict[str, str] | None
    port: int = 5000
    admin_username: str | None = None
    admin_password: str | None = None
    media_dir: Path | None = None
    media_url_prefix: str = "/media/files"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_public_url: str | None = None
    public_base_url: str = ""
    seed_on_empty: bool = True
    testing: bool = False
    # Content rules; the growth issue grants more through privileges.
    note_title_max: int = 20
    comment_body_max: int = 500
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_max_pixels: int = 40_000_000
    upload_min_side: int = 16
    token_ttl_days: int = 60
    # How long a process reuses the ranked feeds' candidate catalogue and built models.
    ranking_cache_seconds: float = 30.0
    ranking_prefetch_pages: int = 10  # pages ranked at once for a viewer (the rest wait)
    ranking_prefetch_seconds: float = 600.0  # how long pages ranked ahead by a job stay good
    # pages a worker ranks ahead per run: a run's fixed cost (the viewer's history, profile
    # and candidates) is shared by more pages, and a page takes only its own entries
    ranking_ahead_pages: int = 20
    ranking_default_page_size: int = 20  # what a prefetch job ranks pages of
    ranking_catalogue_hot: int = 1500  # hottest notes kept as candidates
    ranking_catalogue_new: int = 500  # newest notes kept for the traffic pool
    # Reports' total weight at which a target is hidden until a moderator decides.
    moderation_hide_weight: float = 5.0
    # The job outbox: a job sent to the queue and not done after this long is sent again (a
    # worker died mid-job, or Redis lost its queue); it must exceed the longest job's run.
    outbox_lease_seconds: float = 600.0
    # The staff console shows times in this zone (SPROUT_CONSOLE_TIMEZONE).
    console_timezone: str = "Asia/Shanghai"
    # PostgreSQL connections per process (SPROUT_DB_POOL_SIZE, SPROUT_DB_MAX_OVERFLOW): a web
    # process uses one per request thread (gunicorn `--threads`, 2 in `make run`) plus its
    # background threads (scheduler, catalogue refresh); more only sit idle on the server.
    db_pool_size: int = 4
    db_max_overflow: int = 4
    db_pre_ping: bool = False  # SPROUT_DB_PRE_PING=1: see `extensions.make_engine`
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def services_mode(self) -> bool:
        return self.redis_url is not None

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)


def _secret_key(data_dir: Path) -> str:
    """A stable key per data dir, so tokens survive restarts without any set-up."""
    env = os.environ.get("SPROUT_SECRET_KEY")
    if env:
        return env
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(**overrides: Any) -> Settings:
    env = os.environ
    data_dir = Path(
        overrides.pop("data_dir", None) or env.get("SPROUT_DATA_DIR") or "./var"
    ).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'sprout.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        elasticsearch_url=env.get("ELASTICSEARCH_URL") or None,
        secret_key=_secret_key(data_dir),
        rate_limits=parse_rate_limits(env.get("SPROUT_RATE_LIMITS")),
        port=int_or_default(env.get("PORT"), 5000),
        db_pool_size=int_or_default(env.get("SPROUT_DB_POOL_SIZE"), 4),
        db_max_overflow=int_or_default(env.get("SPROUT_DB_MAX_OVERFLOW"), 4),
        db_pre_ping=env.get("SPROUT_DB_PRE_PING", "0").lower() in ("1", "true", "yes", "on"),
        admin_username=env.get("SPROUT_ADMIN_USERNAME") or None,
        admin_password=env.get("SPROUT_ADMIN_PASSWORD") or None,
        media_dir=Path(env["SPROUT_MEDIA_DIR"]) if env.get("SPROUT_MEDIA_DIR") else None,
        s3_bucket=env.get("SPROUT_S3_BUCKET") or None,
        s3_endpoint_url=env.get("SPROUT_S3_ENDPOINT_URL") or None,
        s3_public_url=env.get("SPROUT_S3_PUBLIC_URL") or None,
        public_base_url=(env.get("SPROUT_PUBLIC_URL") or "").rstrip("/"),
        seed_on_empty=parse_boolean(env.get("SPROUT_SEED_ON_EMPTY"), True),
        moderation_hide_weight=float(env.get("SPROUT_MODERATION_HIDE_WEIGHT") or 5.0),
        outbox_lease_seconds=float(env.get("SPROUT_OUTBOX_LEASE_SECONDS") or 600.0),
        console_timezone=env.get("SPROUT_CONSOLE_TIMEZONE") or "Asia/Shanghai",
    )
    if "database_url" in overrides and overrides["database_url"].startswith("postgresql://"):
        overrides["database_url"] = "postgresql+psycopg://" + overrides["database_url"][13:]
    return settings.with_overrides(**overrides) if overrides else settings
