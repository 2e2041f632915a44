"""Search use cases: keeping the index in step with the database, queries with filters and
paging, suggestions and hot search terms (热搜) with editors' pins and suppressions.

The index holds only what anyone may see (published, not deleted, by an author who is not
banned): every change of that goes through `sync_notes`, an idempotent job. Hits become cards
from the database, which checks visibility once more, so index lag never shows a removed note.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import redis
from cachetools import TTLCache
from flask import current_app
from sqlalchemy import delete, func, select, update

from app.accounts.models import User
from app.core.errors import NotFound, ValidationFailed
from app.core.extensions import db, get_redis, get_search
from app.core.jobs import enqueue
from app.core.models import utcnow
from app.core.policies import can_curate_search, can_reindex_search, require
from app.core.sql import id_in, insert_ignore, insert_ignore_many
from app.core.viewer import avatars_for
from app.media.models import Image
from app.notes.models import Note, NoteImage, NoteTag, NoteTopic, Tag, Topic
from app.search.backend import NoteDoc, NoteQuery, Sort, Suggestion, TopicDoc, UserDoc
from app.search.models import SearchQuery, SearchTermRule
from app.search.text import analyzer, normalize
from app.social.services import followed_ids
from app.topics.services import TopicCards, topic_cards

BATCH = 500
TRENDING_DAYS = 7
TRENDING_HALF_LIFE_DAYS = 1.0
TRENDING_CACHE_SECONDS = 30.0
MAX_TERM_CHARS = 40

Progress = Callable[[str, int, int], None]


def _timestamp(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


# -- documents ---------------------------------------------------------------------------
def _visible_notes() -> Any:
    return (
        select(
            Note.id,
            Note.title,
            Note.body,
            Note.author_id,
            Note.channel_code,
            Note.published_at,
            Note.created_at,
            Note.hot_score,
            Note.like_count,
            Note.collect_count,
            Note.comment_count,
            Note.share_count,
        )
        .join(User, User.id == Note.author_id)
        .where(Note.status == "published", Note.deleted_at.is_(None), User.status != "banned")
    )


def _engagement(row: Any) -> int:
    return int(row.like_count + row.collect_count + row.comment_count + row.share_count)


def _note_docs(rows: list[Any]) -> list[NoteDoc]:
    ids = [row.id for row in rows]
    tags: dict[int, list[str]] = defaultdict(list)
    topics: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if ids:
        for note_id, name in db.session.execute(
            select(NoteTag.note_id, Tag.name)
            .join(Tag, Tag.id == NoteTag.tag_id)
            .where(id_in(NoteTag.note_id, ids))
        ):
            tags[note_id].append(name)
        for note_id, topic_id, name in db.session.execute(
            select(NoteTopic.note_id, Topic.id, Topic.name)
            .join(Topic, Topic.id == NoteTopic.topic_id)
            .where(id_in(NoteTopic.note_id, ids))
        ):
            topics[note_id].append((topic_id, name))
        # Image tags (labels placed on a picture) are searched like the note's own tags.
        for note_id, edits in db.session.execute(
            select(NoteImage.note_id, Image.edits)
            .join(Image, Image.id == NoteImage.image_id)
            .where(id_in(NoteImage.note_id, ids), Image.edits.is_not(None))
        ):
            for tag in (edits or {}).get("tags") or []:
                label = str(tag.get("label", "")).strip()
                if label and label not in tags[note_id]:
                    tags[note_id].append(label)
    return [
        NoteDoc(
            id=row.id,
            title=row.title,
            body=row.body or "",
            tags=tuple(tags[row.id]),
            topics=tuple(topics[row.id]),
            author_id=row.author_id,
            channel=row.channel_code,
            published_at=_timestamp(row.published_at or row.created_at),
            hot=float(row.hot_score or 0.0),
            engagement=_engagement(row),
        )
        for row in rows
    ]


def _user_docs(where: Any, limit: int | None = None) -> list[UserDoc]:
    statement = (
        select(User.id, User.username, User.nickname, User.bio, User.follower_count)
        .where(User.status != "banned", where)
        .order_by(User.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [
        UserDoc(row.id, row.username, row.nickname or "", row.bio or "", row.follower_count)
        for row in db.session.execute(statement)
    ]


def _topic_docs(where: Any, limit: int | None = None) -> list[TopicDoc]:
    statement = select(Topic).where(where).order_by(Topic.id)
    if limit is not None:
        statement = statement.limit(limit)
    return [
        TopicDoc(t.id, t.name, t.description or "", t.note_count, t.follower_count)
        for t in db.session.scalars(statement)
    ]


# -- keeping the index in step -------------------------------------------------------------
def sync_notes(note_ids: Iterable[int]) -> dict[str, int]:
    """Index what is visible among these notes and drop the rest: safe to run any number of
    times, in any order, after any change (publish, edit, delete, moderation, a ban)."""
    ids = sorted(set(note_ids))
    read_at = utcnow()
    docs = _note_docs(db.session.execute(_visible_notes().where(id_in(Note.id, ids))).all())
    db.session.rollback()  # read only: no transaction left open while the index writes
    backend = get_search()
    backend.index_notes(docs)
    gone = sorted(set(ids) - {doc.id for doc in docs})
    backend.delete_notes(gone)
    # What the index now holds is the notes as read: a later edit leaves them behind again.
    db.session.execute(update(Note).where(id_in(Note.id, ids)).values(indexed_at=read_at))
    db.session.commit()
    return {"indexed": len(docs), "removed": len(gone)}


def sync_user(user_id: int, with_notes: bool = False) -> dict[str, int]:
    """A user's profile; with their notes too when their standing changed (a ban, a lift)."""
    docs = _user_docs(User.id == user_id)
    backend = get_search()
    if docs:
        backend.index_users(docs)
    else:
        backend.delete_users([user_id])
    result = {"users": len(docs)}
    if with_notes:
        note_ids = list(db.session.scalars(select(Note.id).where(Note.author_id == user_id)))
        for start in range(0, len(note_ids), BATCH):
            sync_notes(note_ids[start : start + BATCH])
        result["notes"] = len(note_ids)
    db.session.rollback()
    return result


def sync_topic(topic_id: int) -> dict[str, int]:
    docs = _topic_docs(Topic.id == topic_id)
    db.session.rollback()
    backend = get_search()
    if docs:
        backend.index_topics(docs)
    else:
        backend.delete_topics([topic_id])
    return {"topics": len(docs)}


def refresh_signals(note_ids: Iterable[int]) -> int:
    """Hot scores and engagement of indexed notes (the ranking job calls this after it
    recomputes hot scores): `sort=hot` and relevance read them from the index."""
    ids = list(note_ids)
    backend = get_search()
    done = 0
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            select(
                Note.id,
                Note.hot_score,
                Note.like_count,
                Note.collect_count,
                Note.comment_count,
                Note.share_count,
            ).where(id_in(Note.id, ids[start : start + 5000]))
        ).all()
        backend.update_signals(
            {row.id: (float(row.hot_score or 0.0), _engagement(row)) for row in rows}
        )
        done += len(rows)
    db.session.rollback()
    return done


def reindex(progress: Progress | None = None) -> dict[str, Any]:
    """Rebuild the whole index from the database without taking it offline: documents are
    rewritten in place under a new generation and what was not seen again is dropped at the
    end. Interrupted, it resumes after the last finished batch of each kind."""
    backend = get_search()
    generation = backend.begin_reindex()
    counts: dict[str, Any] = {"generation": generation}
    kinds: tuple[tuple[str, Any], ...] = (("notes", Note), ("users", User), ("topics", Topic))
    for kind, model in kinds:
        last_id = backend.checkpoint(generation, kind)
        total = db.session.scalar(select(func.count()).select_from(model)) or 0
        done = (
            db.session.scalar(select(func.count()).select_from(model).where(model.id <= last_id))
            or 0
        )
        indexed = 0
        while True:
            ids = list(
                db.session.scalars(
                    select(model.id).where(model.id > last_id).order_by(model.id).limit(BATCH)
                )
            )
            if not ids:
                break
            if kind == "notes":
                read_at = utcnow()
                docs = _note_docs(
                    db.session.execute(
                        _visible_notes().where(id_in(Note.id, ids)).order_by(Note.id)
                    ).all()
                )
                backend.index_notes(docs, generation=generation)
                db.session.execute(
                    update(Note).where(id_in(Note.id, ids)).values(indexed_at=read_at)
                )
                db.session.commit()
            elif kind == "users":
                docs = _user_docs(id_in(User.id, ids))
                backend.index_users(docs, generation=generation)
            else:
                docs = _topic_docs(id_in(Topic.id, ids))
                backend.index_topics(docs, generation=generation)
            db.session.rollback()
            indexed += len(docs)
            last_id = ids[-1]
            done += len(ids)
            backend.save_checkpoint(generation, kind, last_id)
            if progress:
                progress(kind, min(done, total), total)
        if progress and total == 0:
            progress(kind, 0, 0)
        counts[kind] = indexed
    counts["removed"] = backend.finish_reindex(generation)
    return counts


# -- queries -------------------------------------------------------------------------------
VOCABULARY_SIZE = 20_000  # most used tags, plus every topic name


def _ensure_vocabulary() -> None:
    """Teach this process's segmenter the deployment's tags and topic names before its first
    query, so a query splits them as the index did (the index learns them as it writes)."""
    if current_app.extensions.get("sprout.search_vocabulary"):
        return
    current_app.extensions["sprout.search_vocabulary"] = True
    tags = db.session.scalars(
        select(Tag.name)
        .join(NoteTag, NoteTag.tag_id == Tag.id)
        .group_by(Tag.id, Tag.name)
        .order_by(func.count().desc())
        .limit(VOCABULARY_SIZE)
    ).all()
    topics = db.session.scalars(select(Topic.name)).all()
    db.session.rollback()
    analyzer().add_words([*tags, *topics])


@dataclass
class Results:
    ids: list[int]
    terms: tuple[str, ...]
    next_after: tuple[Any, ...] | None


After = tuple[Any, ...] | None


def _page(run: Callable[[], Any]) -> Results:
    """A backend's page; an `after` it cannot use (a tampered cursor) is a 400."""
    try:
        hits = run()
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor") from exc
    return Results([hit.id for hit in hits.items], hits.terms, hits.next_after)


def search_notes(
    viewer: User | None,
    text: str,
    *,
    sort: Sort,
    channel: str | None,
    topic_id: int | None,
    tag: str | None,
    author_id: int | None,
    after: After,
    limit: int,
    searcher: str,
) -> Results:
    query = NoteQuery(
        text=text,
        sort=sort,
        channel=channel,
        topic_id=topic_id,
        tag=tag,
        author_id=author_id,
        after=after,
        limit=limit,
    )
    _ensure_vocabulary()
    results = _page(lambda: get_search().search_notes(query))
    if after is None and results.ids:
        log_query(text, searcher)
    return results


@dataclass
class UserResults:
    users: list[User]  # in the index's order, banned users left out
    followed: set[int]
    avatars: dict[int, Any]
    terms: tuple[str, ...]
    next_after: After


def search_users(viewer: User | None, text: str, after: After, limit: int) -> UserResults:
    found = _page(lambda: get_search().search_users(text, after, limit))
    by_id = {
        user.id: user
        for user in db.session.scalars(
            select(User).where(id_in(User.id, found.ids), User.status != "banned")
        )
    }
    users = [by_id[i] for i in found.ids if i in by_id]
    ids = [user.id for user in users]
    return UserResults(
        users,
        followed_ids(viewer.id if viewer else None, ids),
        avatars_for(users),
        found.terms,
        found.next_after,
    )


def search_topics(
    viewer: User | None, text: str, after: After, limit: int
) -> tuple[TopicCards, Results]:
    found = _page(lambda: get_search().search_topics(text, after, limit))
    return topic_cards(viewer, found.ids), found


def searcher_key(viewer: User | None, address: str) -> str:
    """Who searched, for de-duplication only: a user id, or a keyed hash of the address."""
    if viewer is not None:
        return f"u{viewer.id}"
    secret = current_app.config["SPROUT"].secret_key
    return "a" + hashlib.sha256(f"{secret}:{address}".encode()).hexdigest()[:32]


_SPACES = re.compile(r"\s+")


def query_term(text: str) -> str:
    """A query as the hot list counts it: normalised, spaces collapsed."""
    return _SPACES.sub(" ", normalize(text)).strip()


QUERY_LOG_KEY = "sprout:search:queries"  # services mode: buffered here, flushed by a job


def log_query(text: str, searcher: str) -> None:
    """Count a search that found something, once per searcher, term and day. With Redis the
    entry is buffered (one list push) and `flush_query_log` writes the batch; the request
    never waits for a database write."""
    term = query_term(text)
    if not 1 <= len(term) <= MAX_TERM_CHARS:
        return
    entry = {"term": term, "searcher": searcher, "day": datetime.now(UTC).date()}
    connection = get_redis()
    if connection is not None:
        try:
            connection.rpush(QUERY_LOG_KEY, orjson.dumps([term, searcher, entry["day"]]))
            return
        except redis.RedisError:  # Redis down: write it now rather than lose it
            pass
    try:
        db.session.execute(insert_ignore(SearchQuery, entry))
        db.session.commit()
    except Exception:  # the log is a signal, never a reason for a search to fail
        db.session.rollback()
        current_app.logger.exception("logging a search query failed")


def flush_query_log(max_items: int = 10_000) -> int:
    """Write the buffered query log in one statement (repeats of a searcher, term and day
    are ignored by the unique key)."""
    connection = get_redis()
    if connection is None:
        return 0
    raw = connection.lpop(QUERY_LOG_KEY, max_items) or []
    rows = {}
    for item in raw:
        term, searcher, day = orjson.loads(item)
        rows[(term, searcher, day)] = {
            "term": term,
            "searcher": searcher,
            "day": date.fromisoformat(day),
        }
    if rows:
        db.session.execute(insert_ignore_many(SearchQuery), list(rows.values()))
        db.session.commit()
        _trending_cache().clear()
    return len(rows)


# -- hot terms and suggestions -----------------------------------------------------------
_trending_lock = threading.Lock()


def _trending_cache() -> TTLCache[str, list[dict[str, Any]]]:
    """This app's hot terms of the last seconds (per app: tests build several per process)."""
    return current_app.extensions.setdefault("sprout.trending", TTLCache(4, TRENDING_CACHE_SECONDS))


def _rules() -> dict[str, SearchTermRule]:
    now = datetime.now(UTC)
    rules = db.session.scalars(select(SearchTermRule)).all()
    return {
        rule.term: rule
        for rule in rules
        if rule.expires_at is None or _timestamp(rule.expires_at) > now.timestamp()
    }


def _decayed_counts(today: date, prefix: str | None = None) -> dict[str, float]:
    statement = (
        select(SearchQuery.term, SearchQuery.day, func.count())
        .where(SearchQuery.day >= today - timedelta(days=TRENDING_DAYS - 1))
        .group_by(SearchQuery.term, SearchQuery.day)
    )
    if prefix:
        statement = statement.where(
            SearchQuery.term >= prefix, SearchQuery.term < prefix + "\U0010ffff"
        )
    scores: dict[str, float] = defaultdict(float)
    for term, day, count in db.session.execute(statement):
        age = max((today - day).days, 0)
        scores[term] += count * math.pow(0.5, age / TRENDING_HALF_LIFE_DAYS)
    return scores


def trending(limit: int) -> list[dict[str, Any]]:
    """Hot search terms: distinct searchers per term and day, halved every day for a week;
    editors' pins at their positions, suppressed terms never."""
    key = f"trending:{limit}"
    with _trending_lock:
        cached = _trending_cache().get(key)
    if cached is not None:
        return cached
    rules = _rules()
    scores = _decayed_counts(datetime.now(UTC).date())
    ranked = [
        {"term": term, "score": round(score, 4), "pinned": False}
        for term, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if term not in rules
    ]
    pins = sorted(
        (r for r in rules.values() if r.action == "pin"),
        key=lambda r: (r.position or 1, r.term),
    )
    for rule in pins:
        position = max((rule.position or 1) - 1, 0)
        item = {"term": rule.term, "score": round(scores.get(rule.term, 0.0), 4), "pinned": True}
        ranked.insert(min(position, len(ranked)), item)
    result = ranked[:limit]
    with _trending_lock:
        _trending_cache()[key] = result
    return result


def suggest(prefix: str, limit: int) -> list[Suggestion]:
    """Completions: popular queries first, then topics, tags and titles; suppressed terms
    never."""
    key = query_term(prefix)
    if not key:
        return []
    suppressed = {term for term, rule in _rules().items() if rule.action == "suppress"}
    queries = [
        Suggestion(term, "query", score)
        for term, score in sorted(
            _decayed_counts(datetime.now(UTC).date(), key).items(), key=lambda kv: -kv[1]
        )
    ][:limit]
    out: list[Suggestion] = []
    seen: set[str] = set()
    for item in queries + get_search().suggest(key, limit):
        text = query_term(item.text)
        if text in seen or text in suppressed or any(s in text for s in suppressed):
            continue
        seen.add(text)
        out.append(item)
        if len(out) >= limit:
            break
    return out


def request_reindex(actor: User) -> None:
    require(can_reindex_search(actor), "Only an admin may rebuild the search index.")
    from app.search.jobs import reindex_search

    enqueue(reindex_search)


def list_rules(actor: User) -> list[SearchTermRule]:
    require(can_curate_search(actor), "Only editors may manage search terms.")
    return sorted(_rules().values(), key=lambda r: (r.action, r.position or 0, r.term))


def set_rule(
    actor: User, term: str, action: str, position: int | None, expires_at: datetime | None
) -> SearchTermRule:
    require(can_curate_search(actor), "Only editors may manage search terms.")
    normal = query_term(term)
    if not normal or len(normal) > MAX_TERM_CHARS:
        raise ValidationFailed(f"A term is 1 to {MAX_TERM_CHARS} characters.", code="invalid_term")
    rule = db.session.get(SearchTermRule, normal)
    if rule is None:
        rule = SearchTermRule(term=normal)
        db.session.add(rule)
    rule.action, rule.position, rule.expires_at = action, position, expires_at
    rule.created_by_id = actor.id
    rule.created_at = datetime.now(UTC)
    db.session.commit()
    _trending_cache().clear()
    return rule


def delete_rule(actor: User, term: str) -> None:
    require(can_curate_search(actor), "Only editors may manage search terms.")
    result = db.session.execute(
        delete(SearchTermRule).where(SearchTermRule.term == query_term(term))
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        db.session.rollback()
        raise NotFound("No rule for this term.", code="term_rule_not_found")
    db.session.commit()
    _trending_cache().clear()
