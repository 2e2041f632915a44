"""SQL functions that PostgreSQL has built in and SQLite is given per connection, so a
service writes one expression for both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_SQLITE_HAMMING = "sprout_hamming64"


class hamming_distance(FunctionElement[int]):  # lower case: it reads as SQL
    """Differing bits between two BIGINTs (perceptual hashes)."""

    type = Integer()
    inherit_cache = True


@compiles(hamming_distance, "postgresql")
def _hamming_postgresql(element: hamming_distance, compiler: Any, **kw: Any) -> str:
    left, right = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"bit_count(({left} # {right})::bit(64))"


@compiles(hamming_distance)
def _hamming_default(element: hamming_distance, compiler: Any, **kw: Any) -> str:
    return f"{_SQLITE_HAMMING}({compiler.process(element.clauses, **kw)})"


def _hamming64(left: int | None, right: int | None) -> int | None:
    if left is None or right is None:
        return None
    return ((left ^ right) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_function(_SQLITE_HAMMING, 2, _hamming64, deterministic=True)
