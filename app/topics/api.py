"""Channels, topics, topic pages and their notes, topic follows and onboarding choices."""

from __future__ import annotations

from flask import Blueprint

from app.core.pagination import TIME_CURSOR, Cursor, PageRequest, PageResult
from app.core.routing import JsonBody, current_actor, endpoint
from app.feeds.cards import cards_in_order
from app.topics import services as topics
from app.topics.schemas import (
    HOT_NOTES_CURSOR,
    POPULARITY_CURSOR,
    ChannelList,
    InterestsOut,
    TopicFollowOut,
    TopicIn,
    TopicNotesQuery,
    TopicOut,
    TopicPage,
    TopicPatch,
    TopicsQuery,
)
from app.topics.services import TopicCards
from app.topics.views import channel_view, topic_view

bp = Blueprint("topics", __name__, url_prefix="/api/v1")


def _one(cards: TopicCards) -> JsonBody:
    return topic_view(cards.topics[0], cards)


@endpoint(bp, "/channels", "GET", summary="The channels (categories)", response=ChannelList)
def channels() -> JsonBody:
    return {"items": [channel_view(channel) for channel in topics.list_channels()]}


@endpoint(
    bp,
    "/topics",
    "GET",
    summary="Search topics by name, or list them most followed first",
    query=TopicsQuery,
    response=TopicPage,
    errors=[400],
    paginated=POPULARITY_CURSOR,
)
def list_topics(query: TopicsQuery, page: PageRequest) -> PageResult[JsonBody]:
    found, cards = topics.search_topics(current_actor(), query.q, page)
    return found.map(lambda topic: topic_view(topic, cards))


@endpoint(
    bp,
    "/topics",
    "POST",
    summary="Create a topic (editor)",
    body=TopicIn,
    response=TopicOut,
    status=201,
    auth="required",
    role="editor",
    errors=[400, 403, 409, 422],
)
def create_topic(body: TopicIn) -> JsonBody:
    return _one(
        topics.create_topic(current_actor(), body.name, body.description, body.guide, body.channel)
    )


@endpoint(
    bp, "/topics/<int:topic_id>", "GET", summary="A topic page", response=TopicOut, errors=[404]
)
def get_topic(topic_id: int) -> JsonBody:
    return _one(topics.get_topic(current_actor(), topic_id))


@endpoint(
    bp,
    "/topics/<int:topic_id>",
    "PATCH",
    summary="Edit a topic (editor)",
    body=TopicPatch,
    response=TopicOut,
    auth="required",
    role="editor",
    errors=[400, 403, 404, 409, 422],
)
def patch_topic(topic_id: int, body: TopicPatch) -> JsonBody:
    changes = body.model_dump(exclude_unset=True)
    return _one(topics.update_topic(current_actor(), topic_id, changes))


def _topic_notes_cursor(query: TopicNotesQuery) -> Cursor:
    return TIME_CURSOR if query.sort == "new" else HOT_NOTES_CURSOR


@endpoint(
    bp,
    "/topics/<int:topic_id>/notes",
    "GET",
    summary="Published notes in a topic, `sort=hot|new`; `hot` opens with the topic's picks",
    query=TopicNotesQuery,
    errors=[400, 404],
    paginated=_topic_notes_cursor,
)
def topic_notes(topic_id: int, query: TopicNotesQuery, page: PageRequest) -> PageResult[JsonBody]:
    actor = current_actor()
    found = topics.topic_notes(actor, topic_id, query.sort, page)
    cards = cards_in_order(found.picks + [item.note.id for item in found.page.items], actor)
    return found.page.with_items([{**card, "pick": card["id"] in found.picks} for card in cards])


@endpoint(
    bp,
    "/topics/<int:topic_id>/follow",
    "POST",
    summary="Follow a topic (idempotent)",
    response=TopicFollowOut,
    auth="required",
    errors=[401, 404],
)
def follow_topic(topic_id: int) -> JsonBody:
    return topics.follow_topic(current_actor(), topic_id)


@endpoint(
    bp,
    "/topics/<int:topic_id>/follow",
    "DELETE",
    summary="Unfollow a topic (idempotent)",
    response=TopicFollowOut,
    auth="required",
    errors=[401, 404],
)
def unfollow_topic(topic_id: int) -> JsonBody:
    return topics.unfollow_topic(current_actor(), topic_id)


@endpoint(
    bp,
    "/onboarding/interests",
    "GET",
    summary="Channels and popular topics a new user can pick from",
    response=InterestsOut,
)
def onboarding_interests() -> JsonBody:
    interests = topics.onboarding_interests(current_actor())
    return {
        "channels": [channel_view(channel) for channel in interests.channels],
        "topics": [topic_view(topic, interests.topics) for topic in interests.topics.topics],
    }
