"""Onboarding interests: the channels and topics a new user picks (user portraits start here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from app.accounts.models import User, UserInterest
from app.core.errors import Unprocessable
from app.core.extensions import db, get_feed_store
from app.notes.models import Channel, Topic


def set_interests(actor: User, channels: list[str], topic_ids: list[int]) -> dict[str, Any]:
    channels = list(dict.fromkeys(channels))
    topic_ids = list(dict.fromkeys(topic_ids))
    known_channels = set(db.session.scalars(select(Channel.code).where(Channel.code.in_(channels))))
    known_topics = set(db.session.scalars(select(Topic.id).where(Topic.id.in_(topic_ids))))
    unknown = {
        "channels": [code for code in channels if code not in known_channels],
        "topics": [topic for topic in topic_ids if topic not in known_topics],
    }
    if unknown["channels"] or unknown["topics"]:
        raise Unprocessable("Some picks do not exist.", code="unknown_interests", details=unknown)
    db.session.execute(delete(UserInterest).where(UserInterest.user_id == actor.id))
    for code in channels:
        db.session.add(UserInterest(user_id=actor.id, kind="channel", ref=code))
    for topic_id in topic_ids:
        db.session.add(UserInterest(user_id=actor.id, kind="topic", ref=str(topic_id)))
    db.session.commit()
    get_feed_store().invalidate_buffers(str(actor.id))  # feeds in progress follow the new picks
    return get_interests(actor)


def get_interests(actor: User) -> dict[str, Any]:
    rows = db.session.scalars(select(UserInterest).where(UserInterest.user_id == actor.id)).all()
    return {
        "channels": [row.ref for row in rows if row.kind == "channel"],
        "topics": [int(row.ref) for row in rows if row.kind == "topic"],
    }
