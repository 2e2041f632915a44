"""The synthetic data generator on SQLite and on a real, throw-away PostgreSQL database.

PostgreSQL must be reachable (SPROUT_TEST_PG_ADMIN, as in tests/conftest.py): if it is
not, these tests fail rather than skip, because COPY is the path that matters at scale.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from app.metadata import Base
from benchmarks.synthetic import SyntheticDataExists, SyntheticReport, generate

PG_ADMIN_URL = os.environ.get(
    "SPROUT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
USERS, NOTES, INTERACTIONS = 300, 2_000, 20_000


@dataclass
class Loaded:
    engine: Engine
    report: SyntheticReport


def _generate(engine: Engine) -> Loaded:
    Base.metadata.create_all(engine)
    phases: list[str] = []
    report = generate(
        engine,
        users=USERS,
        notes=NOTES,
        interactions=INTERACTIONS,
        seed=7,
        progress=lambda phase, done, total: phases.append(phase),
    )
    assert {"plan", "users", "notes", "likes", "counters"} <= set(phases)
    return Loaded(engine, report)


@pytest.fixture(scope="module")
def sqlite_loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    path: Path = tmp_path_factory.mktemp("synthetic") / "synthetic.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        yield _generate(engine)
    finally:
        engine.dispose()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A uniquely named, empty database, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"sprout_synth_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for these tests and is not reachable: {exc}")
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def postgresql_loaded() -> Iterator[Loaded]:
    with fresh_postgres_database() as url:
        engine = create_engine(url)
        try:
            yield _generate(engine)
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest) -> Loaded:
    return request.getfixturevalue(f"{request.param}_loaded")


def scalar(conn: Connection, sql: str) -> int:
    return int(conn.execute(text(sql)).scalar_one())


def column(conn: Connection, sql: str) -> list[int]:
    return [int(v) for v in conn.execute(text(sql)).scalars()]


# Each query counts rows whose counter differs from COUNT(*) of the rows it summarises.
COUNTER_MISMATCHES = {
    "notes.like_count": "SELECT count(*) FROM notes n WHERE n.like_count <> "
    "(SELECT count(*) FROM note_likes x WHERE x.note_id = n.id)",
    "notes.collect_count": "SELECT count(*) FROM notes n WHERE n.collect_count <> "
    "(SELECT count(*) FROM collects x WHERE x.note_id = n.id)",
    "notes.comment_count": "SELECT count(*) FROM notes n WHERE n.comment_count <> "
    "(SELECT count(*) FROM comments x WHERE x.note_id = n.id)",
    "users.follower_count": "SELECT count(*) FROM users u WHERE u.follower_count <> "
    "(SELECT count(*) FROM user_follows x WHERE x.followee_id = u.id)",
    "users.following_count": "SELECT count(*) FROM users u WHERE u.following_count <> "
    "(SELECT count(*) FROM user_follows x WHERE x.follower_id = u.id)",
    "users.note_count": "SELECT count(*) FROM users u WHERE u.note_count <> "
    "(SELECT count(*) FROM notes x WHERE x.author_id = u.id)",
    "users.like_received_count": "SELECT count(*) FROM users u WHERE u.like_received_count <> "
    "(SELECT count(*) FROM note_likes x JOIN notes n "
    "ON n.id = x.note_id WHERE n.author_id = u.id)",
    "users.collect_received_count": "SELECT count(*) FROM users u "
    "WHERE u.collect_received_count <> "
    "(SELECT count(*) FROM collects x JOIN notes n "
    "ON n.id = x.note_id WHERE n.author_id = u.id)",
    "albums.note_count": "SELECT count(*) FROM albums a WHERE a.note_count <> "
    "(SELECT count(*) FROM collects x WHERE x.album_id = a.id)",
    "comments.reply_count": "SELECT count(*) FROM comments c WHERE c.reply_count <> "
    "(SELECT count(*) FROM comments x "
    "WHERE x.note_id = c.note_id AND x.root_id = c.id)",
}


def test_row_counts_match_the_report(loaded: Loaded) -> None:
    r = loaded.report
    assert (r.users, r.notes) == (USERS, NOTES)
    assert r.interactions == INTERACTIONS
    assert r.likes > r.collects > r.comments > 0 and r.follows > 0
    with loaded.engine.connect() as conn:
        assert scalar(conn, "SELECT count(*) FROM users") == USERS
        assert scalar(conn, "SELECT count(*) FROM notes") == NOTES
        assert scalar(conn, "SELECT count(*) FROM note_likes") == r.likes
        assert scalar(conn, "SELECT count(*) FROM collects") == r.collects
        assert scalar(conn, "SELECT count(*) FROM comments") == r.comments
        assert scalar(conn, "SELECT count(*) FROM user_follows") == r.follows
        assert scalar(conn, "SELECT count(*) FROM albums") == r.albums
        # Every note has 1–9 ready pictures, positions 0…n-1, owned by its author.
        assert scalar(conn, "SELECT count(*) FROM images WHERE status = 'ready'") == r.images
        assert scalar(conn, "SELECT count(*) FROM note_images") == r.images >= NOTES
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM (SELECT note_id FROM note_images GROUP BY "
                "note_id HAVING min(position) = 0 AND max(position) = count(*) - 1 "
                "AND count(*) <= 9) AS ok",
            )
            == NOTES
        )
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM note_images AS x JOIN images AS i ON "
                "i.id = x.image_id JOIN notes AS n ON n.id = x.note_id "
                "WHERE i.owner_id <> n.author_id",
            )
            == 0
        )
        assert scalar(conn, "SELECT count(*) FROM channels") == 10
        assert scalar(conn, "SELECT count(*) FROM users WHERE username NOT LIKE 'synth%'") == 0
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM notes WHERE status <> 'published' "
                "OR published_at IS NULL OR cover_image_id IS NOT NULL",
            )
            == 0
        )


def test_counters_equal_row_counts(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        mismatches = {name: scalar(conn, sql) for name, sql in COUNTER_MISMATCHES.items()}
        assert mismatches == dict.fromkeys(COUNTER_MISMATCHES, 0)
        # …and the counters are not trivially zero.
        assert scalar(conn, "SELECT sum(like_count) FROM notes") == loaded.report.likes
        assert scalar(conn, "SELECT sum(follower_count) FROM users") == loaded.report.follows


def test_no_duplicates_and_no_self_interactions(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        for table, cols in (
            ("note_likes", "user_id, note_id"),
            ("collects", "user_id, note_id"),
            ("user_follows", "follower_id, followee_id"),
            ("albums", "owner_id, name"),
        ):
            dupes = (
                f"SELECT count(*) FROM (SELECT {cols} FROM {table} GROUP BY {cols} "
                "HAVING count(*) > 1) AS d"
            )
            assert scalar(conn, dupes) == 0, table
        assert (
            scalar(conn, "SELECT count(*) FROM user_follows WHERE follower_id = followee_id") == 0
        )
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM note_likes x JOIN notes n ON n.id = x.note_id "
                "WHERE n.author_id = x.user_id",
            )
            == 0
        )
        # Collects go into the collector's own default album.
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM collects c JOIN albums a ON a.id = c.album_id "
                "WHERE a.owner_id <> c.user_id OR NOT a.is_default",
            )
            == 0
        )


def test_times_are_consistent(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        for table in ("note_likes", "collects", "comments"):
            assert (
                scalar(
                    conn,
                    f"SELECT count(*) FROM {table} x JOIN notes n "
                    "ON n.id = x.note_id WHERE x.created_at <= n.created_at",
                )
                == 0
            )
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM notes n JOIN users u ON u.id = n.author_id "
                "WHERE n.created_at < u.created_at "
                "OR n.published_at < n.created_at",
            )
            == 0
        )
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM comments c JOIN comments p "
                "ON p.id = c.parent_id WHERE c.created_at < p.created_at "
                "OR c.note_id <> p.note_id OR c.id < p.id",
            )
            == 0
        )
        assert scalar(conn, "SELECT count(*) FROM comments WHERE parent_id IS NOT NULL") > 0


def test_likes_are_skewed_towards_few_notes(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        likes = column(conn, "SELECT like_count FROM notes ORDER BY like_count DESC")
    top = likes[: len(likes) // 100]  # top 1% of notes
    share = sum(top) / sum(likes)
    assert share > 0.10, f"top 1% of notes hold only {share:.1%} of likes"


def test_follower_counts_are_heavy_tailed(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        followers = column(conn, "SELECT follower_count FROM users ORDER BY follower_count DESC")
    mean = sum(followers) / len(followers)
    median = followers[len(followers) // 2]
    top_share = sum(followers[: max(1, len(followers) // 100)]) / sum(followers)
    assert followers[0] > 8 * mean
    assert median < mean
    assert top_share > 0.05


def test_users_stick_to_a_few_channels(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT x.user_id, n.channel_code, count(*) FROM note_likes x "
                "JOIN notes n ON n.id = x.note_id GROUP BY x.user_id, n.channel_code"
            )
        ).all()
    per_user: dict[int, list[int]] = {}
    for user_id, _channel, count in rows:
        per_user.setdefault(user_id, []).append(int(count))
    heavy = [sorted(c, reverse=True) for c in per_user.values() if sum(c) >= 20]
    shares = [sum(c[:3]) / sum(c) for c in heavy]
    assert heavy and sum(shares) / len(shares) > 0.75


def test_second_run_without_append_refuses_and_changes_nothing(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        before = scalar(conn, "SELECT count(*) FROM users")
    with pytest.raises(SyntheticDataExists, match="append=True"):
        generate(loaded.engine, users=10, notes=10, interactions=10)
    with loaded.engine.connect() as conn:
        assert scalar(conn, "SELECT count(*) FROM users") == before


def test_same_seed_gives_the_same_data(sqlite_loaded: Loaded, postgresql_loaded: Loaded) -> None:
    query = (
        "SELECT sum(like_count * id), sum(collect_count * id), sum(comment_count * id) FROM notes"
    )
    with sqlite_loaded.engine.connect() as a, postgresql_loaded.engine.connect() as b:
        assert tuple(a.execute(text(query)).one()) == tuple(b.execute(text(query)).one())


def test_append_on_sqlite_continues_ids_and_keeps_counters_exact(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'append.db'}")
    try:
        Base.metadata.create_all(engine)
        _check_append(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_append_on_a_migrated_postgres_schema_keeps_sequences_ahead() -> None:
    """The real schema (Alembic, channels already filled), and the app's own inserts after."""
    from app.cli import migrate

    with fresh_postgres_database() as url:
        migrate(url)
        engine = create_engine(url)
        try:
            first, _second = _check_append(engine)
            assert first.channels_inserted == 0  # the migration had filled them
            with engine.begin() as conn:  # an application insert takes nextval('users_id_seq')
                new_id = scalar(
                    conn,
                    """
                    INSERT INTO users (username, nickname, bio, password_hash, status, official,
                        verified, level, points, badges, follower_count, following_count,
                        note_count, like_received_count, collect_received_count, created_at,
                        updated_at)
                    VALUES ('real_user', 'real', '', 'x', 'active', false, false, 1, 0, '[]',
                        0, 0, 0, 0, 0, now(), now())
                    RETURNING id""",
                )
                assert new_id > scalar(
                    conn, "SELECT max(id) FROM users WHERE username <> 'real_user'"
                )
        finally:
            engine.dispose()


def _check_append(engine: Engine) -> tuple[SyntheticReport, SyntheticReport]:
    first = generate(engine, users=40, notes=100, interactions=1_000, seed=1)
    second = generate(engine, users=30, notes=80, interactions=800, seed=2, append=True)
    with engine.connect() as conn:
        assert scalar(conn, "SELECT count(*) FROM users") == first.users + second.users
        assert scalar(conn, "SELECT count(*) FROM notes") == first.notes + second.notes
        assert scalar(conn, "SELECT count(*) FROM note_likes") == first.likes + second.likes
        assert scalar(conn, "SELECT count(*) FROM comments") == first.comments + second.comments
        mismatches = {name: scalar(conn, sql) for name, sql in COUNTER_MISMATCHES.items()}
        assert mismatches == dict.fromkeys(COUNTER_MISMATCHES, 0)
    return first, second


def test_the_make_synth_script_loads_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make synth` runs `benchmarks/synthetic_data.py` with no URL: the app's database."""
    from benchmarks.synthetic_data import main

    monkeypatch.setenv("SPROUT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    sizes = ["--users", "20", "--notes", "40", "--interactions", "300"]
    assert main(sizes) == 0
    assert "20 users, 40 notes, 300 interactions" in capsys.readouterr().out
    engine = create_engine(f"sqlite:///{tmp_path / 'sprout.db'}")
    try:
        with engine.connect() as conn:
            assert scalar(conn, "SELECT count(*) FROM notes") == 40
    finally:
        engine.dispose()
    assert main(sizes) == 2  # synthetic data already there, and no --append
    assert "error:" in capsys.readouterr().err
