"""Dialect-aware statements the services share (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, case, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase

from app.extensions import db
from app.schemas.common import MAX_ID


def insert_ignore(model: type[DeclarativeBase], values: dict[str, Any]) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING: the row count tells whether this call created it."""
    dialect = db.engine.dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    # SQLAlchemy 2.1 reports an INSERT's rowcount on psycopg only when asked to.
    return (
        builder(model)
        .values(**values)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )


def bump(model: type[DeclarativeBase], row_id: Any, **deltas: int) -> None:
    """Atomic `col = col + delta` in SQL; never read-modify-write in Python.

    Counters never go below zero, even if a decrement races a concurrent delete.
    """

    table = model.__table__  # type: ignore[attr-defined]
    values = {}
    for column, delta in deltas.items():
        col = table.c[column]
        values[column] = case((col + delta < 0, 0), else_=col + delta) if delta < 0 else col + delta
    pk = next(iter(table.primary_key.columns))
    db.session.execute(update(table).where(pk == row_id).values(**values))


def inserted(model: type[DeclarativeBase], values: dict[str, Any]) -> bool:
    """Insert unless the row exists; True when this call created it (the counter may move)."""
    return db.session.execute(insert_ignore(model, values)).rowcount == 1


def commit_fresh() -> None:
    """Commit, then expire what the session loaded: counters move in SQL (`bump`), so an
    object read before the commit would otherwise report the old count."""
    db.session.commit()
    db.session.expire_all()


def id_in_range(value: int | None) -> bool:
    """Ids beyond the database's integer range cannot exist: a 404, never a driver error."""
    return value is not None and 1 <= value <= MAX_ID
