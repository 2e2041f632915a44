"""The moderator-managed keyword list and the filter built from it (each process keeps the
built filter: `VersionedSnapshot`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.extensions import db
from app.core.policies import require
from app.core.snapshots import VersionedSnapshot
from app.core.sql import id_in_range
from moderation.models import ModerationKeyword
from moderation.policies import can_manage_keywords
from moderation.text_filter import Keyword, TextFilter, normalize_word


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


def _build_filter() -> TextFilter:
    rows = db.session.execute(
        select(ModerationKeyword.word, ModerationKeyword.action, ModerationKeyword.category)
    ).all()
    return TextFilter(Keyword(w, a, c) for w, a, c in rows)  # type: ignore[arg-type]


_filter_snapshot: VersionedSnapshot[TextFilter] = VersionedSnapshot(
    "moderation:keywords", _build_filter
)


def _changed() -> None:
    _filter_snapshot.changed()


def text_filter() -> TextFilter:
    """This process's filter for the current list."""
    return _filter_snapshot.get()
