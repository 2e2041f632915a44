"""Share links: one per (sharer, note, channel), visits recorded with their source channel.

Every share action counts (`note.share_count`); the link itself is reused, so a sharer's
token is stable and every visit through it is attributed to that sharer and channel.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.accounts.models import User
from app.core.errors import NotFound
from app.core.extensions import db
from app.core.jobs import enqueue
from app.core.models import utcnow
from app.core.policies import require
from app.core.sql import bump, commit_fresh, id_in_range, insert_ignore
from app.core.visibility import get_interactable_note, get_note_for
from app.growth.events import record_action
from app.notes.models import Note, Share, ShareVisit

SHARE_CHANNELS = ("wechat", "moments", "weibo", "qq", "link", "copy")
TOKEN_BYTES = 9  # 12 URL-safe characters
_TOKEN_ATTEMPTS = 5


def can_view_share_stats(actor: User, note: Note) -> bool:
    return actor.id == note.author_id or actor.has_role("moderator")


@dataclass
class ShareLink:
    share: Share
    url: str
    share_count: int


def share_note(actor: User, note_id: int, channel: str, base_url: str) -> ShareLink:
    """Count the share and return the sharer's link for this channel (created on first share).

    The share_count bump comes first: its row lock on the note serialises concurrent shares of
    one note on PostgreSQL (SQLite serialises writers anyway), so the lookup that follows sees
    a link another request just created and we never make two for one (user, note, channel).
    """
    if not id_in_range(note_id):
        raise NotFound("No such note.", code="note_not_found")
    note = get_interactable_note(actor, note_id)
    bump(Note, note.id, share_count=1)
    share = _find_share(actor.id, note.id, channel)
    if share is None:
        share = _create_share(actor.id, note.id, channel)
    count = db.session.scalar(select(Note.share_count).where(Note.id == note.id)) or 0
    # One paid share per note and sharer, whatever the channel; commits with the share.
    enqueue(record_action, "share", actor.id, f"share:{actor.id}:{note_id}", "note", note_id)
    commit_fresh()
    return ShareLink(share, f"{base_url.rstrip('/')}/s/{share.token}", count)


def _find_share(user_id: int, note_id: int, channel: str) -> Share | None:
    return db.session.scalar(
        select(Share)
        .where(Share.user_id == user_id, Share.note_id == note_id, Share.channel == channel)
        .order_by(Share.id)
        .limit(1)
    )


def _create_share(user_id: int, note_id: int, channel: str) -> Share:
    for _ in range(_TOKEN_ATTEMPTS):
        token = secrets.token_urlsafe(TOKEN_BYTES)
        inserted = db.session.execute(
            insert_ignore(
                Share,
                {
                    "token": token,
                    "note_id": note_id,
                    "user_id": user_id,
                    "channel": channel,
                    "visit_count": 0,
                    "created_at": utcnow(),
                },
            )
        )
        if inserted.rowcount == 1:  # 0 only if the random token already existed
            share = db.session.scalar(select(Share).where(Share.token == token))
            assert share is not None
            return share
    raise RuntimeError("could not draw a unique share token")


@dataclass
class ResolvedShare:
    share: Share
    sharer: User | None


def resolve_share(
    visitor: User | None, token: str, source: str | None, referrer: str | None
) -> ResolvedShare:
    """Record a visit through a share link and return the share; a link to a note that is gone
    (or an unknown token) is a 404 and records nothing."""
    share = db.session.scalar(select(Share).where(Share.token == token))
    if share is None:
        raise NotFound("No such share link.", code="share_not_found")
    get_note_for(visitor, share.note_id)
    db.session.add(
        ShareVisit(
            share_id=share.id,
            visitor_id=visitor.id if visitor else None,
            source=(source or share.channel)[:24],
            referrer=_clean_referrer(referrer),
            visited_at=utcnow(),
        )
    )
    bump(Share, share.id, visit_count=1)
    sharer = db.session.get(User, share.user_id) if share.user_id is not None else None
    resolved = ResolvedShare(share, sharer)
    db.session.commit()
    db.session.expire(share, ["visit_count"])  # moved in SQL; the rest stays loaded
    return resolved


def _clean_referrer(referrer: str | None) -> str | None:
    """Headers are untrusted: keep printable characters only, within the column's 255."""
    if not referrer:
        return None
    cleaned = "".join(char for char in referrer if char.isprintable())[:255]
    return cleaned or None


def share_stats(actor: User, note_id: int) -> dict[str, Any]:
    """Shares and visits per channel, visits per source and the top sharers of one note."""
    if not id_in_range(note_id):
        raise NotFound("No such note.", code="note_not_found")
    note = get_note_for(actor, note_id)
    require(can_view_share_stats(actor, note), "Only the author may see share statistics.")
    by_channel = db.session.execute(
        select(Share.channel, func.count(Share.id), func.coalesce(func.sum(Share.visit_count), 0))
        .where(Share.note_id == note.id)
        .group_by(Share.channel)
        .order_by(Share.channel)
    ).all()
    by_source = db.session.execute(
        select(ShareVisit.source, func.count(ShareVisit.id))
        .join(Share, Share.id == ShareVisit.share_id)
        .where(Share.note_id == note.id)
        .group_by(ShareVisit.source)
        .order_by(func.count(ShareVisit.id).desc(), ShareVisit.source)
    ).all()
    sharers = db.session.execute(
        select(User, Share.channel, Share.visit_count)
        .join(Share, Share.user_id == User.id)
        .where(Share.note_id == note.id)
        .order_by(Share.visit_count.desc(), Share.id)
        .limit(20)
    ).all()
    return {
        "note_id": note.id,
        "share_count": note.share_count,
        "channels": [
            {"channel": channel, "links": int(links), "visits": int(visits)}
            for channel, links, visits in by_channel
        ],
        "sources": [{"source": source, "visits": int(visits)} for source, visits in by_source],
        "top_sharers": [
            {"user": user, "channel": channel, "visits": visits}
            for user, channel, visits in sharers
        ],
    }
