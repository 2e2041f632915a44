"""The following feed's inbox: per viewer, a Redis sorted set of the newest note ids from the
authors and topics they follow (fan-out on write), so a page is one round trip instead of the
SQL union in `app.feeds.following`, which stays the fallback and the source of every build.

Keys (one hash tag per viewer, so one Redis Cluster slot holds a viewer's keys):
- `feeds:inbox:{v}`: members are zero-padded note ids (ties in `published_at` then order by
  id, as the `(published_at, id)` cursor does), scores are `published_at` in epoch seconds
  (a double keeps the microseconds of these dates exactly). A sentinel member `0` at `-inf`
  marks an inbox that exists even when empty. Kept to `inbox_size` newest entries; expires
  after `inbox_ttl_seconds` without a read.
- `…:building` (a build's token) and `…:pending` (notes fanned out while it runs): a note
  published during a build is either in the build's SQL read, or fanned out after the build
  started (into `pending`, merged when the build is stored) or after it was stored (into the
  inbox). Dropping the inbox (a follow change) removes the token, so a build that read the
  old follows is never stored.
- `…:pull`: the followed authors and topics too big to fan out, read from SQL per page.

An inbox only holds what the SQL query held when built or what was fanned out since: hidden
or deleted notes and banned authors may stay in it (the cards leave them out), own notes
never enter it. Without Redis, or when Redis fails, the SQL query serves the page as before.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from redis import Redis, RedisError
from sqlalchemy import and_, or_, select, union

from app.accounts.models import User
from app.core.extensions import db, get_redis
from app.core.jobs import enqueue, job
from app.core.visibility import note_visible_clause
from app.feeds.config import FEEDS
from app.notes.models import Note, NoteTopic, Topic
from app.social.models import TopicFollow, UserFollow

log = logging.getLogger(__name__)

Row = tuple[int, datetime]
After = tuple[datetime, int] | None
SqlPage = Callable[[int, After], list[Row]]  # (limit, after) → up to limit + 1 rows

SENTINEL = b"0000000000"


def _keys(viewer_id: int) -> tuple[str, str, str, str]:
    base = f"feeds:inbox:{{{viewer_id}}}"
    return base, f"{base}:building", f"{base}:pending", f"{base}:pull"


def _member(note_id: int) -> str:
    return f"{note_id:010d}"  # ids fit 31 bits: lexical order is numeric order


def _score(moment: datetime) -> float:
    return moment.timestamp()


def _moment(score: float) -> datetime:
    return datetime.fromtimestamp(score, UTC)


# A note into one follower's inbox if it exists, or into the pending set of a build under way.
_FAN_OUT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZREMRANGEBYRANK', KEYS[1], 1, -(tonumber(ARGV[3]) + 2))
  return 1
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  return 2
end
return 0
"""

# Store a build, unless it was dropped or overtaken meanwhile (its token is gone).
_STORE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[1], '-inf', ARGV[4])
for i = 5, #ARGV, 400 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 399, #ARGV)))
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[1], KEYS[3], 'AGGREGATE', 'MAX')
  redis.call('DEL', KEYS[3])
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 1, -(tonumber(ARGV[2]) + 2))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return 1
"""


def _script(connection: Redis, source: str) -> Any:
    scripts = connection.__dict__.setdefault("_sprout_inbox_scripts", {})
    if source not in scripts:
        scripts[source] = connection.register_script(source)
    return scripts[source]


# Reading


def following_ids(viewer_id: int, limit: int, after: After, sql: SqlPage) -> list[Row]:
    """The following feed's (id, published_at) rows after `after`, newest first, up to
    `limit + 1` (the extra one: a next page exists), from the viewer's inbox; built from
    `sql` when missing. `sql` alone without Redis, when Redis fails, and past a full inbox."""
    connection = get_redis()
    if connection is None:
        return sql(limit, after)
    try:
        return _read(connection, viewer_id, limit, after, sql)
    except RedisError:
        log.warning("following inbox unavailable: reading from SQL", exc_info=True)
        return sql(limit, after)


def _read(connection: Redis, viewer_id: int, limit: int, after: After, sql: SqlPage) -> list[Row]:
    inbox, _, _, pull_key = _keys(viewer_id)
    want = limit + 1
    top = "+inf" if after is None else repr(_score(after[0]))
    pipe = connection.pipeline(transaction=False)
    pipe.zcard(inbox)
    pipe.zrevrangebyscore(inbox, top, "-inf", start=0, num=want + 1, withscores=True)
    pipe.expire(inbox, FEEDS.inbox_ttl_seconds)
    pipe.get(pull_key)
    size, first, _, pulled = pipe.execute()
    if size == 0:
        built = _build(connection, viewer_id, sql)
        rows, complete = _after(built, after)[:want], len(built) < FEEDS.inbox_size
    else:
        rows = _page(connection, inbox, first, top, after, want)
        complete = size - 1 < FEEDS.inbox_size  # the sentinel is not an entry
    if len(rows) < want and not complete:
        return sql(limit, after)  # past the newest `inbox_size`: the full query
    authors, topics = _pull_sources(connection, viewer_id, pulled)
    if authors or topics:
        rows = _merge(rows, _pull_page(viewer_id, authors, topics, limit, after))
    return rows[:want]


def _after(rows: list[Row], after: After) -> list[Row]:
    if after is None:
        return rows
    return [row for row in rows if (row[1], row[0]) < (after[0], after[1])]


def _page(
    connection: Redis,
    inbox: str,
    first: list[tuple[bytes, float]],
    top: str,
    after: After,
    want: int,
) -> list[Row]:
    """Entries after the cursor: the score range starts at the cursor's time inclusive (ties),
    so those at that time with an id not below the cursor's are skipped; many ties take
    another read."""
    rows: list[Row] = []
    batch, offset, raw = want + 1, 0, first
    cut = None if after is None else (_score(after[0]), after[1])
    while True:
        for member, score in raw:
            if member == SENTINEL:
                continue
            note_id = int(member)
            if cut is not None and score == cut[0] and note_id >= cut[1]:
                continue
            rows.append((note_id, _moment(score)))
        if len(rows) >= want or len(raw) < batch:
            return rows
        offset += batch
        raw = connection.zrevrangebyscore(
            inbox, top, "-inf", start=offset, num=batch, withscores=True
        )


def _merge(*pages: Iterable[Row]) -> list[Row]:
    seen: dict[int, datetime] = {}
    for page in pages:
        for note_id, moment in page:
            seen[note_id] = moment
    return sorted(seen.items(), key=lambda row: (row[1], row[0]), reverse=True)


# Building


def _build(connection: Redis, viewer_id: int, sql: SqlPage) -> list[Row]:
    """Read the newest `inbox_size` rows from SQL and store them. The token is set before
    the read: fan-outs from then on go to the pending set, merged in when stored."""
    inbox, building, pending, _ = _keys(viewer_id)
    token = secrets.token_hex(8)
    connection.set(building, token, ex=FEEDS.inbox_build_seconds)
    rows = sql(FEEDS.inbox_size - 1, None)
    args: list[Any] = [token, FEEDS.inbox_size, FEEDS.inbox_ttl_seconds, SENTINEL]
    for note_id, moment in rows:
        args += [_score(moment), _member(note_id)]
    _script(connection, _STORE)(keys=[inbox, building, pending], args=args)
    return rows


# Pull: followed authors and topics too big to fan out


def _pull_floor() -> int:
    return FEEDS.inbox_fanout_max_followers // 2


def _pull_sources(
    connection: Redis, viewer_id: int, stored: bytes | None
) -> tuple[list[int], list[int]]:
    if stored is not None:
        value = json.loads(stored)
        return value["a"], value["t"]
    floor = _pull_floor()
    authors = list(
        db.session.scalars(
            select(UserFollow.followee_id)
            .join(User, User.id == UserFollow.followee_id)
            .where(UserFollow.follower_id == viewer_id, User.follower_count > floor)
        )
    )
    topics = list(
        db.session.scalars(
            select(TopicFollow.topic_id)
            .join(Topic, Topic.id == TopicFollow.topic_id)
            .where(TopicFollow.user_id == viewer_id, Topic.follower_count > floor)
        )
    )
    connection.set(
        _keys(viewer_id)[3],
        json.dumps({"a": authors, "t": topics}),
        ex=FEEDS.inbox_pull_refresh_seconds,
    )
    return authors, topics


def _pull_page(
    viewer_id: int, authors: list[int], topics: list[int], limit: int, after: After
) -> list[Row]:
    """The page's notes from the pulled authors and topics, as `following_feed` reads them."""
    sides = []
    if authors:
        sides.append(Note.author_id.in_(authors))
    if topics:
        sides.append(Note.id.in_(select(NoteTopic.note_id).where(NoteTopic.topic_id.in_(topics))))
    return newest_page(viewer_id, sides, limit, after)


def newest_page(viewer_id: int, sides: list[Any], limit: int, after: After) -> list[Row]:
    """`limit + 1` (id, published_at) rows newest first, after the cursor, of the notes
    everyone sees matching any of `sides`, never the viewer's own. Each side is read through
    its own index and cut to the page before they are merged: one `OR` over them would make
    the database walk every note by date looking for the few that match. A note matched by
    several sides appears once."""
    if not sides:
        return []
    position = ()
    if after is not None:
        moment, last_id = after
        position = (
            or_(
                Note.published_at < moment,
                and_(Note.published_at == moment, Note.id < last_id),
            ),
        )
    newest = (Note.published_at.desc(), Note.id.desc())
    visible = (
        note_visible_clause(None),  # what everyone sees alike: no banned author's notes
        Note.published_at.is_not(None),
        Note.author_id != viewer_id,
        *position,
    )
    parts = [
        select(Note.id).where(*visible, side).order_by(*newest).limit(limit + 1).subquery()
        for side in sides
    ]
    ids = union(*(select(part.c.id) for part in parts)).subquery()
    stmt = (
        select(Note.id, Note.published_at)
        .where(Note.id.in_(select(ids.c.id)))
        .order_by(*newest)
        .limit(limit + 1)
    )
    return [(row.id, row.published_at) for row in db.session.execute(stmt)]


# Writing: fan-out on publish, drop on a follow change


def note_published(note_id: int) -> None:
    """A note became published (or gained topics): fan it out, in the caller's transaction.
    Nothing to do without Redis (no inboxes)."""
    if get_redis() is not None:
        enqueue(fan_out_note, note_id)


def following_changed(user_id: int) -> None:
    """The user followed or unfollowed someone or a topic: their inbox is dropped by a durable
    job committed with the change (and at once by `forget_inbox` after the commit)."""
    if get_redis() is not None:
        enqueue(drop_inbox, user_id)


def forget_inbox(user_id: int) -> None:
    """Best effort, after the commit: the next read rebuilds. `drop_inbox` makes it sure."""
    connection = get_redis()
    if connection is None:
        return
    try:
        connection.delete(*_keys(user_id))
    except RedisError:
        log.warning("inbox of user %s not dropped now; its job will", user_id, exc_info=True)


@job("default", keep_result=False)
def drop_inbox(user_id: int) -> None:
    """Idempotent: also removes a build's token, so a build that read the old follows is not
    stored."""
    connection = get_redis()
    if connection is not None:
        connection.delete(*_keys(user_id))


@job("default", keep_result=False)
def fan_out_note(note_id: int) -> dict[str, int]:
    """Add a published note to the existing inboxes of its author's followers and of its
    topics' followers (never the author's own), in pipelined batches; authors and topics
    above `inbox_fanout_max_followers` are left to the readers' pull. Idempotent."""
    connection = get_redis()
    note = db.session.execute(
        select(Note.author_id, Note.published_at, Note.status, Note.deleted_at).where(
            Note.id == note_id
        )
    ).first()
    if (
        connection is None
        or note is None
        or note.published_at is None
        or note.status != "published"
        or note.deleted_at is not None
    ):
        return {"followers": 0, "added": 0}
    limit = FEEDS.inbox_fanout_max_followers
    sources = [
        select(TopicFollow.user_id.label("user_id"))
        .join(Topic, Topic.id == TopicFollow.topic_id)
        .join(NoteTopic, NoteTopic.topic_id == Topic.id)
        .where(NoteTopic.note_id == note_id, Topic.follower_count <= limit)
    ]
    author_followers = db.session.scalar(
        select(User.follower_count).where(User.id == note.author_id)
    )
    if (author_followers or 0) <= limit:
        sources.append(
            select(UserFollow.follower_id).where(UserFollow.followee_id == note.author_id)
        )
    everyone = union(*sources).subquery()
    stmt = select(everyone.c.user_id).where(everyone.c.user_id != note.author_id)
    script = _script(connection, _FAN_OUT)
    score, member = _score(note.published_at), _member(note_id)
    followers = added = 0
    result = db.session.execute(stmt.execution_options(yield_per=FEEDS.inbox_fanout_batch))
    for batch in result.scalars().partitions():
        pipe = connection.pipeline(transaction=False)
        for user_id in batch:
            inbox, building, pending, _ = _keys(user_id)
            script(
                keys=[inbox, building, pending],
                args=[score, member, FEEDS.inbox_size, FEEDS.inbox_build_seconds],
                client=pipe,
            )
        added += sum(1 for outcome in pipe.execute() if outcome)
        followers += len(batch)
    return {"followers": followers, "added": added}
