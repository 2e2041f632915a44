"""The moderator-managed keyword list and the filter built from it.

Each process keeps the built filter and rebuilds it when the list's version moves: a counter
in Redis in services mode (every process sees a change at its next check, at most
`CHECK_SECONDS` later), the process's own counter otherwise."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db, get_redis
from app.models import User
from app.services.policies import require
from app.services.sql import id_in_range
from moderation.models import ModerationKeyword
from moderation.text_filter import Keyword, TextFilter, normalize_word

VERSION_KEY = "sprout:moderation:keywords:version"
CHECK_SECONDS = 5.0


def can_manage_keywords(actor: User) -> bool:
    return actor.has_role("moderator")


def list_keywords(actor: User) -> list[ModerationKeyword]:
    require(can_manage_keywords(actor), "Only moderators may see the keyword list.")
    return list(db.session.scalars(select(ModerationKeyword).order_by(ModerationKeyword.id)))


def add_keyword(actor: User, word: str, action: str, category: str) -> ModerationKeyword:
    require(can_manage_keywords(actor), "Only moderators may change the keyword list.")
    normal = normalize_word(word)
    if not normal:
        raise ValidationFailed(
            "A keyword needs at least one letter or digit.", code="invalid_keyword"
        )
    row = ModerationKeyword(
        word=normal, display=word, action=action, category=category, created_by_id=actor.id
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("That keyword is already on the list.", code="keyword_exists") from exc
    _changed()
    return row


def delete_keyword(actor: User, keyword_id: int) -> None:
    require(can_manage_keywords(actor), "Only moderators may change the keyword list.")
    row = db.session.get(ModerationKeyword, keyword_id) if id_in_range(keyword_id) else None
    if row is None:
        raise NotFound("No such keyword.", code="keyword_not_found")
    db.session.delete(row)
    db.session.commit()
    _changed()


@dataclass
class _Built:
    version: int
    checked: float
    text_filter: TextFilter


_lock = threading.Lock()


def _version() -> int:
    connection = get_redis()
    if connection is not None:
        return int(connection.get(VERSION_KEY) or 0)
    return int(current_app.extensions.get("sprout.keywords_version", 0))


def _changed() -> None:
    connection = get_redis()
    if connection is not None:
        connection.incr(VERSION_KEY)
    else:
        current_app.extensions["sprout.keywords_version"] = _version() + 1
    current_app.extensions.pop("sprout.text_filter", None)


def text_filter() -> TextFilter:
    """This process's filter for the current list."""
    built: _Built | None = current_app.extensions.get("sprout.text_filter")
    now = time.monotonic()
    if built is not None and now - built.checked < CHECK_SECONDS:
        return built.text_filter
    with _lock:
        version = _version()
        if built is None or built.version != version:
            rows = db.session.execute(
                select(ModerationKeyword.word, ModerationKeyword.action, ModerationKeyword.category)
            ).all()
            built = _Built(
                version,
                now,
                TextFilter(Keyword(w, a, c) for w, a, c in rows),  # type: ignore[arg-type]
            )
        else:
            built.checked = now
        current_app.extensions["sprout.text_filter"] = built
    return built.text_filter
