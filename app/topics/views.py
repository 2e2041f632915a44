"""How a topic and a channel look in JSON: shared by the topic routes and topic search."""

from __future__ import annotations

from app.core.presenters import iso
from app.core.routing import JsonBody
from app.notes.models import Channel, Topic
from app.topics.services import TopicCards


def channel_view(channel: Channel | None) -> JsonBody | None:
    return {"code": channel.code, "name": channel.name} if channel is not None else None


def topic_view(topic: Topic, cards: TopicCards) -> JsonBody:
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
