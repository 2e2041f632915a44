"""The viewer's own flags on cards (`liked`, `collected`) from one Redis set per viewer.

Services mode keeps, per signed-in viewer, a set of what they liked (`l<id>`) and collected
(`c<id>`) with a marker `*` that says the set is whole; a page's flags are one `SMISMEMBER`
instead of a database query. The set is built from the database on a miss, for at most
`MAX_MEMBERS` rows (a viewer with more is marked `!` and read from the database).

Freshness: a like, unlike, collect or uncollect says so (`app.core.sql.touched("flags",
[user_id])`); after its commit the viewer's set is deleted and a `dirty` mark is left for
`DIRTY_SECONDS`. A build writes only while no mark exists (one script), so a build that read
the database before the change cannot store what it read; a change whose delete came after
the build's write removes it. A change made while Redis was unreachable shows once the set
expires (`TTL_SECONDS`). Embedded mode reads the database (`viewer_flags`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence

import redis
from sqlalchemy import BigInteger, bindparam, literal, select, union_all

from app.core.extensions import db, get_redis
from app.notes.models import Collect, NoteLike

log = logging.getLogger(__name__)

TTL_SECONDS = 300
DIRTY_SECONDS = 10
MAX_MEMBERS = 20_000
WHOLE, TOO_MANY = b"*", b"!"

Flags = tuple[set[int], set[int]]

# KEYS: the set, its dirty mark. ARGV: ttl, members. Writes only while no change is marked.
_BUILD = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


def _key(user_id: int) -> str:
    return f"sprout:flags:{user_id}"


def _dirty(user_id: int) -> str:
    return f"sprout:flags:{user_id}:dirty"


def attach_spec(viewer_id: int | None) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """The set, markers and member prefixes a page's take reads alongside (`lookup`'s
    question, asked in the same round trip); nothing for anonymous viewers."""
    if viewer_id is None:
        return None, (), ()
    return _key(viewer_id), (WHOLE.decode(), TOO_MANY.decode()), ("l", "c")


def lookup(viewer_id: int, note_ids: Sequence[int], from_database: Callable[[], Flags]) -> Flags:
    """The viewer's flags on these notes: from their set, else `from_database` (and the set
    built for the next page)."""
    connection = get_redis()
    if connection is None:
        return from_database()
    members = [WHOLE, TOO_MANY, *(b"l%d" % n for n in note_ids), *(b"c%d" % n for n in note_ids)]
    try:
        found = connection.smismember(_key(viewer_id), members)  # type: ignore[arg-type]
    except redis.RedisError:
        log.warning("flag sets unreachable: flags read from the database", exc_info=True)
        return from_database()
    if found[0]:
        n = len(note_ids)
        liked = {note_id for note_id, hit in zip(note_ids, found[2 : 2 + n], strict=True) if hit}
        collected = {note_id for note_id, hit in zip(note_ids, found[2 + n :], strict=True) if hit}
        return liked, collected
    flags = from_database()
    if not found[1]:
        with contextlib.suppress(redis.RedisError):
            _build(connection, viewer_id)
    return flags


def _build(connection: redis.Redis, viewer_id: int) -> bool:
    """Store the viewer's whole set, unless a change was marked since (True when stored)."""
    rows = (
        db.session.connection()
        .execute(_all_flags_statement(), {"viewer_id": viewer_id, "limit": MAX_MEMBERS + 1})
        .all()
    )
    if len(rows) > MAX_MEMBERS:
        members = [TOO_MANY]
    else:
        members = [WHOLE, *(b"%b%d" % (b"c" if kind else b"l", note_id) for note_id, kind in rows)]
    stored = connection.eval(_BUILD, 2, _key(viewer_id), _dirty(viewer_id), TTL_SECONDS, *members)
    return bool(stored)


def _all_flags_statement():  # type: ignore[no-untyped-def]
    viewer = bindparam("viewer_id", type_=BigInteger)
    return union_all(
        select(NoteLike.note_id, literal(0)).where(NoteLike.user_id == viewer),
        select(Collect.note_id, literal(1)).where(Collect.user_id == viewer),
    ).limit(bindparam("limit"))


def forget(user_ids: Iterable[int]) -> None:
    """After a commit that changed these viewers' likes or collects: their sets go, and a
    build already under way cannot store what it read before the change."""
    ids = set(user_ids)
    connection = get_redis()
    if not ids or connection is None:
        return
    try:
        pipe = connection.pipeline(transaction=False)
        for user_id in ids:
            pipe.set(_dirty(user_id), 1, ex=DIRTY_SECONDS)
            pipe.delete(_key(user_id))
        pipe.execute()
    except redis.RedisError:
        log.warning(
            "flag sets unreachable: %s viewers' flags stale for up to %s s", ids, TTL_SECONDS
        )
