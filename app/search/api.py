"""Search (搜一搜): notes, users and topics, completions, hot terms (热搜), editors' term
rules and the admin reindex."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.core.pagination import ID, Cursor, Number, PageRequest, PageResult
from app.core.presenters import iso, profile_view
from app.core.routing import JsonBody, client_ip, current_actor, endpoint
from app.feeds.cards import cards_in_order
from app.search import services as search
from app.search.highlight import highlight
from app.search.schemas import (
    NameSearchQuery,
    NoteSearchQuery,
    SuggestQuery,
    TermRuleIn,
    TrendingQuery,
)
from app.topics.views import topic_view

bp = Blueprint("search", __name__, url_prefix="/api/v1")


# Where the backend's next page starts: the embedded index's `(offset,)`, Elasticsearch's
# `search_after` `(sort value, id)`. A position the backend cannot use is its own 400.
SEARCH_CURSOR = Cursor(Number(), ID, required=1)


@endpoint(
    bp,
    "/search/notes",
    "GET",
    summary="Search notes: `sort=relevance|new|hot`, filters `channel`, `topic`, `tag`, "
    "`author`; items carry `highlight`",
    query=NoteSearchQuery,
    rate_limit="search",
    errors=[400, 404, 429, 503],
    paginated=SEARCH_CURSOR,
)
def search_notes(query: NoteSearchQuery, page: PageRequest) -> PageResult[JsonBody]:
    actor = current_actor()
    results = search.search_notes(
        actor,
        query.q,
        sort=query.sort,
        channel=query.channel,
        topic_id=query.topic,
        tag=query.tag,
        author_id=query.author,
        page=page,
        searcher=search.searcher_key(actor, client_ip()),
    )
    items = []
    for card in cards_in_order(results.ids, actor):
        marks = {"title": highlight(card["title"], results.terms)}
        if card.get("body"):
            marks["body"] = highlight(card["body"], results.terms, snippet=True)
        items.append({**card, "highlight": marks})
    return results.page.with_items(items).with_fields(terms=results.terms)


@endpoint(
    bp,
    "/search/users",
    "GET",
    summary="Search users by username, nickname and bio",
    query=NameSearchQuery,
    rate_limit="search",
    errors=[400, 429, 503],
    paginated=SEARCH_CURSOR,
)
def search_users(query: NameSearchQuery, page: PageRequest) -> PageResult[JsonBody]:
    found = search.search_users(current_actor(), query.q, page)
    return found.page.map(
        lambda user: profile_view(
            user,
            avatar=found.avatars.get(user.avatar_image_id or 0),
            followed=user.id in found.followed,
        )
    )


@endpoint(
    bp,
    "/search/topics",
    "GET",
    summary="Search topics by name and description",
    query=NameSearchQuery,
    rate_limit="search",
    errors=[400, 429, 503],
    paginated=SEARCH_CURSOR,
)
def search_topics(query: NameSearchQuery, page: PageRequest) -> PageResult[JsonBody]:
    cards, found = search.search_topics(current_actor(), query.q, page)
    return found.page.with_items([topic_view(topic, cards) for topic in cards.topics])


@endpoint(
    bp,
    "/search/suggest",
    "GET",
    summary="Completions of a prefix: popular queries, topics, tags and titles",
    query=SuggestQuery,
    errors=[400, 503],
)
def suggest(query: SuggestQuery) -> JsonBody:
    found = search.suggest(query.q, query.limit)
    return {"items": [{"text": s.text, "kind": s.kind} for s in found]}


@endpoint(
    bp,
    "/search/trending",
    "GET",
    summary="Hot search terms (热搜): distinct searchers, decaying by the day; editors' pins",
    query=TrendingQuery,
    errors=[400],
)
def trending(query: TrendingQuery) -> JsonBody:
    return {"items": search.trending(query.limit)}


def _rule_view(rule: Any) -> JsonBody:
    return {
        "term": rule.term,
        "action": rule.action,
        "position": rule.position,
        "expires_at": iso(rule.expires_at),
        "created_at": iso(rule.created_at),
    }


@endpoint(
    bp,
    "/editor/search/terms",
    "GET",
    summary="Editors' rules for hot terms: pinned and suppressed (editor)",
    auth="required",
    role="editor",
    errors=[401, 403],
)
def list_term_rules() -> JsonBody:
    return {"items": [_rule_view(rule) for rule in search.list_rules(current_actor())]}


@endpoint(
    bp,
    "/editor/search/terms",
    "PUT",
    summary="Pin a term in the hot terms (at `position`) or suppress it everywhere (editor)",
    body=TermRuleIn,
    auth="required",
    role="editor",
    errors=[400, 401, 403],
)
def put_term_rule(body: TermRuleIn) -> JsonBody:
    rule = search.set_rule(current_actor(), body.term, body.action, body.position, body.expires_at)
    return _rule_view(rule)


@endpoint(
    bp,
    "/editor/search/terms/<path:term>",
    "DELETE",
    summary="Remove an editor's rule for a term (editor)",
    auth="required",
    role="editor",
    errors=[401, 403, 404],
)
def delete_term_rule(term: str) -> None:
    search.delete_rule(current_actor(), term)
    return None


@endpoint(
    bp,
    "/admin/search/reindex",
    "POST",
    summary="Rebuild the search index from the database, in place and resumable (admin)",
    auth="required",
    role="admin",
    status=202,
    errors=[401, 403],
)
def reindex() -> JsonBody:
    search.request_reindex(current_actor())
    return {"status": "queued"}
