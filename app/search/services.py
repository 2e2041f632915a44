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
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import redis
from flask import current_app
from sqlalchemy import delete, func, select

from app.accounts.models import User
from app.core.errors import NotFound, ValidationFailed
from app.core.extensions import db, get_redis
from app.core.jobs import enqueue
from app.core.pagination import PageRequest, PageResult
from app.core.policies import can_curate_search, can_reindex_search, require
from app.core.sql import id_in, insert_ignore
from app.core.viewer import avatars_for
from app.core.visibility import user_visible_clause
from app.notes.models import NoteTag, Tag, Topic
from app.search.backend import NoteQuery, Sort, Suggestion
from app.search.engine import get_search
from app.search.indexing import timestamp
from app.search.models import SearchQuery, SearchTermRule
from app.search.query_log import QUERY_LOG_KEY, TRENDING_LOCK, trending_cache
from app.search.text import analyzer, normalize
from app.social.services import followed_ids
from app.topics.services import TopicCards, require_channel, topic_cards

TRENDING_DAYS = 7
TRENDING_HALF_LIFE_DAYS = 1.0
MAX_TERM_CHARS = 40


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
    page: PageResult[int]  # hit ids; the next page starts after the backend's position
    terms: tuple[str, ...]

    @property
    def ids(self) -> list[int]:
        return self.page.items


def _page(run: Callable[[], Any]) -> Results:
    """A backend's page; a position it cannot use (a tampered cursor) is a 400."""
    try:
        hits = run()
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("The cursor is not valid.", code="invalid_cursor") from exc
    return Results(PageResult([hit.id for hit in hits.items], hits.next_after), hits.terms)


def search_notes(
    viewer: User | None,
    text: str,
    *,
    sort: Sort,
    channel: str | None,
    topic_id: int | None,
    tag: str | None,
    author_id: int | None,
    page: PageRequest,
    searcher: str,
) -> Results:
    """Notes matching `text`; the page's position is the backend's own (`Hits.next_after`)."""
    if channel:
        require_channel(channel)
    query = NoteQuery(
        text=text,
        sort=sort,
        channel=channel,
        topic_id=topic_id,
        tag=tag,
        author_id=author_id,
        after=page.after,
        limit=page.limit,
    )
    _ensure_vocabulary()
    results = _page(lambda: get_search().search_notes(query))
    if page.first and results.ids:
        log_query(text, searcher)
    return results


@dataclass
class UserResults:
    page: PageResult[User]  # in the index's order, banned users left out
    followed: set[int]
    avatars: dict[int, Any]
    terms: tuple[str, ...]


def search_users(viewer: User | None, text: str, page: PageRequest) -> UserResults:
    found = _page(lambda: get_search().search_users(text, page.after, page.limit))
    by_id = {
        user.id: user
        for user in db.session.scalars(
            select(User).where(id_in(User.id, found.ids), user_visible_clause())
        )
    }
    users = [by_id[i] for i in found.ids if i in by_id]
    ids = [user.id for user in users]
    return UserResults(
        found.page.with_items(users),
        followed_ids(viewer.id if viewer else None, ids),
        avatars_for(users),
        found.terms,
    )


def search_topics(viewer: User | None, text: str, page: PageRequest) -> tuple[TopicCards, Results]:
    found = _page(lambda: get_search().search_topics(text, page.after, page.limit))
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


# -- hot terms and suggestions -----------------------------------------------------------
def _rules() -> dict[str, SearchTermRule]:
    now = datetime.now(UTC)
    rules = db.session.scalars(select(SearchTermRule)).all()
    return {
        rule.term: rule
        for rule in rules
        if rule.expires_at is None or timestamp(rule.expires_at) > now.timestamp()
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
    with TRENDING_LOCK:
        cached = trending_cache().get(key)
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
    with TRENDING_LOCK:
        trending_cache()[key] = result
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
    trending_cache().clear()
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
    trending_cache().clear()
