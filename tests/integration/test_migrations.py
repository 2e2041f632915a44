"""Every schema change is a migration, and migrations go both ways on both databases."""

from __future__ import annotations

import uuid

import psycopg
from alembic import command

from app.cli import alembic_config
from tests.conftest import PG_ADMIN_URL, _pg_url


def _round_trip(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.check(config)  # raises if the models and the migrations disagree
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def test_migrations_on_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'migrations.db'}")


def test_migrations_on_postgresql():
    name = f"sprout_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            _round_trip(_pg_url(name))
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
