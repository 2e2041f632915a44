"""Channels, topics, topic pages and their notes, topic follows and onboarding choices."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.core.pagination import TIME_CURSOR
from app.core.presenters import iso
from app.core.routing import current_actor, endpoint
from app.core.schemas import page_of
from app.editorial import services as editorial
from app.feeds.cards import cards_in_order
from app.notes.models import Channel, Topic
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
from app.topics.services import TopicCards, TopicNote

bp = Blueprint("topics", __name__, url_prefix="/api/v1")


def channel_view(channel: Channel | None) -> dict[str, Any] | None:
    return {"code": channel.code, "name": channel.name} if channel is not None else None


def topic_view(topic: Topic, cards: TopicCards) -> dict[str, Any]:
    return {
        "id": topic.id,
        "name": topic.name,
        "description": topic.description,
        "guide": topic.guide,
        "channel": channel_view(cards.channels.get(topic.channel_code or "")),
        "note_count": topic.note_count,
        "follower_count": topic.follower_count,
        "followed": topic.id in cards.followed,
        "created_at": iso(topic.created_at),
    }


def _one(cards: TopicCards) -> dict[str, Any]:
    return topic_view(cards.topics[0], cards)


@endpoint(bp, "/channels", "GET", summary="The channels (categories)", response=ChannelList)
def channels() -> Any:
    return {"items": [channel_view(channel) for channel in topics.list_channels()]}


@endpoint(
    bp,
    "/topics",
    "GET",
    summary="Search topics by name, or list them most followed first",
    query=TopicsQuery,
    response=TopicPage,
    errors=[400],
)
def list_topics(query: TopicsQuery) -> Any:
    after = POPULARITY_CURSOR.decode(query.cursor)
    cards = topics.search_topics(current_actor(), query.q, query.limit, after)
    page = page_of(
        cards.topics,
        query.limit,
        lambda topic: POPULARITY_CURSOR.encode(topic.follower_count, topic.id),
    )
    page["items"] = [topic_view(topic, cards) for topic in page["items"]]
    return page


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
def create_topic(body: TopicIn) -> Any:
    return _one(
        topics.create_topic(current_actor(), body.name, body.description, body.guide, body.channel)
    )


@endpoint(
    bp, "/topics/<int:topic_id>", "GET", summary="A topic page", response=TopicOut, errors=[404]
)
def get_topic(topic_id: int) -> Any:
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
def patch_topic(topic_id: int, body: TopicPatch) -> Any:
    changes = body.model_dump(exclude_unset=True)
    return _one(topics.update_topic(current_actor(), topic_id, changes))


def _note_cursor(sort: str, item: TopicNote) -> str:
    if sort == "new":
        return TIME_CURSOR.encode(item.note.published_at, item.note.id)
    return HOT_NOTES_CURSOR.encode(item.hot_score, item.engagement, item.note.id)


@endpoint(
    bp,
    "/topics/<int:topic_id>/notes",
    "GET",
    summary="Published notes in a topic, `sort=hot|new`; `hot` opens with the topic's picks",
    query=TopicNotesQuery,
    errors=[400, 404],
)
def topic_notes(topic_id: int, query: TopicNotesQuery) -> Any:
    after_new = TIME_CURSOR.decode(query.cursor) if query.sort == "new" else None
    after_hot = HOT_NOTES_CURSOR.decode(query.cursor) if query.sort == "hot" else None
    actor = current_actor()
    # The hot order opens with the editors' picks for the topic (marked), never repeated below.
    picked = editorial.slot_picks(f"topic:{topic_id}") if query.sort == "hot" else []
    rows = topics.topic_notes(
        actor,
        topic_id,
        query.sort,
        query.limit,
        after_new=after_new,
        after_hot=after_hot,
        exclude=picked,
    )
    page = page_of(rows, query.limit, lambda item: _note_cursor(query.sort, item))
    shown_picks = [] if query.cursor else picked
    cards = cards_in_order(shown_picks + [item.note.id for item in page["items"]], actor)
    page["items"] = [{**card, "pick": card["id"] in shown_picks} for card in cards]
    return page


@endpoint(
    bp,
    "/topics/<int:topic_id>/follow",
    "POST",
    summary="Follow a topic (idempotent)",
    response=TopicFollowOut,
    auth="required",
    errors=[401, 404],
)
def follow_topic(topic_id: int) -> Any:
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
def unfollow_topic(topic_id: int) -> Any:
    return topics.unfollow_topic(current_actor(), topic_id)


@endpoint(
    bp,
    "/onboarding/interests",
    "GET",
    summary="Channels and popular topics a new user can pick from",
    response=InterestsOut,
)
def onboarding_interests() -> Any:
    interests = topics.onboarding_interests(current_actor())
    return {
        "channels": [channel_view(channel) for channel in interests.channels],
        "topics": [topic_view(topic, interests.topics) for topic in interests.topics.topics],
    }
