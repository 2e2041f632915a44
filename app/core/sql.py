"""Dialect-aware statements the services share (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    Insert,
    Select,
    TableClause,
    any_,
    bindparam,
    case,
    insert,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase

from app.core.extensions import db
from app.core.schemas import MAX_ID

P = ParamSpec("P")
R = TypeVar("R")

#: PostgreSQL aborts one of two transactions that wait on each other (deadlock_detected) or
#: that cannot be serialised (serialization_failure); running it again is the remedy.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def retry_on_conflict(attempts: int = 3) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a use case again, from a rolled-back session, when PostgreSQL aborted its
    transaction for a deadlock or a serialisation conflict (counter updates taking the note's
    and its author's rows while a job holds one of them). The use case must be safe to run
    again after a rollback: idempotent inserts, effects enqueued in the same transaction."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except OperationalError as exc:
                    code = getattr(exc.orig, "sqlstate", None)
                    if code not in RETRYABLE_SQLSTATES or attempt == attempts:
                        raise
                    db.session.rollback()
                    time.sleep(0.02 * attempt)  # let the other transaction finish
            raise AssertionError("unreachable")

        return run

    return decorate


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


def insert_ignore_many(model: type[DeclarativeBase]) -> Insert:
    """`insert_ignore` for a batch: execute it with a list of rows."""
    builder = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    return builder(model).on_conflict_do_nothing()


def copy_rows(table: TableClause, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many rows into `table` in the open transaction; returns how many.

    On PostgreSQL a `COPY … FROM STDIN`: an executemany sends one `INSERT` per row, which cost
    the worker 75 µs of CPU per impression (1.5 s for a 30 s flush at bench load) against a
    few µs here, and PostgreSQL parses and plans none of them. Elsewhere an executemany of
    the table's `INSERT`, so its column types bind the values (SQLite's naive UTC times).
    Column names come from code, never from input."""
    if db.engine.dialect.name == "postgresql":
        raw = db.session.connection().connection.driver_connection
        count = 0
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    batch = [dict(zip(columns, row, strict=True)) for row in rows]
    if batch:
        db.session.execute(insert(table), batch)
    return len(batch)


def bump(model: type[DeclarativeBase], row_id: Any, **deltas: int) -> None:
    """Atomic `col = col + delta` in SQL; never read-modify-write in Python.

    Counters never go below zero, even if a decrement races a concurrent delete.
    """

    table = model.__table__  # type: ignore[attr-defined]
    values = {}
    for column, delta in deltas.items():
        col = table.c[column]
        values[column] = case((col + delta < 0, 0), else_=col + delta) if delta < 0 else col + delta
    if "updated_at" in table.c and "updated_at" not in values:
        # A counter moving is not an edit: keep the row's `updated_at` (its onupdate would
        # otherwise fire, and clients and caches read it as "the content changed").
        values["updated_at"] = table.c.updated_at
    pk = next(iter(table.primary_key.columns))
    db.session.execute(update(table).where(pk == row_id).values(**values))
    touched(table.name, [row_id], counters_only=True)


def add_to_counts(model: type[DeclarativeBase], column: str, counts: dict[int, int]) -> None:
    """Many rows' `column += n` in one statement (a batch flush: impressions, views), atomic
    like `bump`, `updated_at` untouched. Says nothing to `touched`: the counters it serves are
    not on cards; a caller whose counter shows says so itself."""
    if not counts:
        return
    table = model.__table__  # type: ignore[attr-defined]
    name, col = table.name, table.c[column].name
    if db.engine.dialect.name == "postgresql":
        # The arrays travel as text ('{1,2,3}'), which PostgreSQL parses: psycopg dumps a
        # Python list element by element in Python, 2 ms of a 1,000-note flush's 12.
        sql = (
            f"UPDATE {name} SET {col} = {name}.{col} + v.n FROM "
            "unnest(CAST(CAST(:ids AS text) AS bigint[]), "
            "CAST(CAST(:counts AS text) AS integer[])) AS v(id, n) "
            f"WHERE {name}.id = v.id"
        )
        params: dict[str, Any] = {
            "ids": "{" + ",".join(map(str, map(int, counts))) + "}",
            "counts": "{" + ",".join(map(str, map(int, counts.values()))) + "}",
        }
    else:  # SQLite: one JSON parameter, whatever the batch's size
        sql = (
            f"UPDATE {name} SET {col} = {name}.{col} + v.n FROM "
            "(SELECT CAST(key AS INTEGER) AS id, value AS n FROM json_each(:counts)) AS v "
            f"WHERE {name}.id = v.id"
        )
        params = {"counts": orjson.dumps({str(k): v for k, v in counts.items()}).decode()}
    db.session.execute(text(sql), params)


def touched(table: str, ids: Any, *, counters_only: bool = False) -> None:
    """Record, for whatever caches rows of `table` (the feeds' card store), that these rows
    change in the open transaction. SQL `UPDATE`s bypass the ORM's change tracking, so the
    statements that change what a cache shows say so here; the cache reads the record once
    the transaction commits (and forgets it on rollback)."""
    info = db.session.info.setdefault("touched", {})
    key = f"{table}:counters" if counters_only else table
    info.setdefault(key, set()).update(ids)


def inserted(model: type[DeclarativeBase], values: dict[str, Any]) -> bool:
    """Insert unless the row exists; True when this call created it (the counter may move)."""
    return db.session.execute(insert_ignore(model, values)).rowcount == 1


def commit_fresh() -> None:
    """Commit (with the jobs enqueued in the change: `app.core.jobs.commit`), then expire what the
    session loaded: counters move in SQL (`bump`), so an object read before the commit would
    otherwise report the old count."""
    from app.core.jobs import commit

    commit()
    db.session.expire_all()


def id_in_range(value: int | None) -> bool:
    """Ids beyond the database's integer range cannot exist: a 404, never a driver error."""
    return value is not None and 1 <= value <= MAX_ID


def id_in_param(column, name: str, dialect: str):  # type: ignore[no-untyped-def]
    """`id_in` with the ids left as the parameter `name`, for statements built once and run
    many times (`session.execute(stmt, {name: ids})`)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))


def id_in(column, ids: list[int]):  # type: ignore[no-untyped-def]
    """`column IN ids` as one array parameter on PostgreSQL: tens of thousands of ids as
    separate placeholders cost seconds to render and bind, and even twenty cost more than the
    query."""
    if db.engine.dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(BigInteger)))
    return column.in_(ids)


def newest_first(stmt: Select, id_column: Any, limit: int, before_id: int | None) -> Select:  # type: ignore[type-arg]
    """A page of `stmt` by descending id, one row more than `limit` (`page_of` tells from it
    whether there is a next page), after the cursor's id."""
    stmt = stmt.order_by(id_column.desc()).limit(limit + 1)
    return stmt if before_id is None else stmt.where(id_column < before_id)
