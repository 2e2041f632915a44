"""Every schema change is a migration, and migrations go both ways on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import sqlalchemy as sa
from alembic import command

from app.cli import alembic_config
from app.metadata import Base
from app.notes.models import NOTES_FILLFACTOR
from tests.conftest import PG_ADMIN_URL, _pg_url


def _round_trip(url: str, at_head: Callable[[], None] = lambda: None) -> None:
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.check(config)  # raises if the models and the migrations disagree
    at_head()
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def test_migrations_on_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'migrations.db'}")


def test_migrations_on_postgresql():
    name = f"sprout_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            _round_trip(_pg_url(name), lambda: _has_notes_fillfactor(name))
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _notes_options(name: str) -> list[str]:
    with psycopg.connect(_pg_url(name).replace("+psycopg", "")) as conn:
        row = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'notes'").fetchone()
    return list(row[0] or []) if row else []


def _has_notes_fillfactor(name: str) -> None:
    """Counter updates on `notes` stay on their page (HOT) only with room left on it."""
    assert f"fillfactor={NOTES_FILLFACTOR}" in _notes_options(name)


def test_notes_fillfactor_in_a_schema_made_from_the_models():
    name = f"sprout_ff_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            engine = sa.create_engine(_pg_url(name))
            Base.metadata.create_all(engine)
            engine.dispose()
            _has_notes_fillfactor(name)
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
