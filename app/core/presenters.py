"""Models → the JSON representations of API.md. Pure functions over loaded objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import has_request_context, request
from sqlalchemy import inspect, select

from app.accounts.models import User
from app.core.extensions import db, get_storage
from app.core.sql import id_in
from app.creators.models import CreatorVerification
from app.media.models import Image
from app.notes.models import Note


def media_urls() -> Callable[[str], str]:
    """Storage key → the URL a client loads it from (clients load images from anywhere: a
    host-relative URL gets this request's host), with the storage and the host looked up
    once for a whole list of pictures."""
    url = get_storage().url
    host = request.host_url.rstrip("/") if has_request_context() else ""
    if not host:
        return url  # type: ignore[no-any-return]

    def absolute(key: str) -> str:
        found: str = url(key)
        return host + found if found.startswith("/") else found

    return absolute


def image_view(image: Any, urls: Callable[[str], str] | None = None) -> dict[str, Any] | None:
    """An `Image`, or any row with its fields (`edits` among them: a row without it would
    show the picture's tags as none). `urls`: a `media_urls()` shared by many pictures."""
    if image is None:
        return None
    url = urls or media_urls()
    variants = {
        name: {"url": url(v["key"]), "width": v["width"], "height": v["height"]}
        for name, v in (image.variants or {}).items()
    }
    best = variants.get("large") or {"url": url(image.storage_key)}
    return {
        "id": image.id,
        "status": image.status,
        "url": best["url"],
        "width": image.width,
        "height": image.height,
        "dominant_color": image.dominant_color,
        "variants": variants,
        # Image tags (图片标签): labels at points of the picture, drawn by clients.
        "tags": list(((image.edits or {}).get("tags")) or []),
    }


def user_view(user: User, avatar: Image | None = None) -> dict[str, Any]:
    return user_card(user, image_view(avatar), verification_of(user))


def user_card(
    user: Any, avatar: dict[str, Any] | None, verification: dict[str, str] | None = None
) -> dict[str, Any]:
    """A user as lists show them; `user` is a `User` or any row with the same fields;
    `verification` the badge of an approved creator (`verification_badges`)."""
    return {
        "id": user.id,
        "username": user.username,
        "nickname": user.nickname,
        "avatar": avatar,
        "level": user.level,
        "badges": list(user.badges or []),
        "official": user.official,
        "verified": user.verified,
        "verification": verification if user.verified else None,
    }


def verification_badges(user_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The badge (`{category, label}`) of each of these users an editor verified, in one
    query. Ask only for users whose `verified` flag is set (approval sets it): a page without
    verified users costs nothing."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(
            CreatorVerification.user_id, CreatorVerification.category, CreatorVerification.label
        ).where(CreatorVerification.status == "approved", id_in(CreatorVerification.user_id, ids))
    )
    return {user_id: {"category": category, "label": label} for user_id, category, label in rows}


_BADGES = "sprout.verification_badges"


def verification_of(user: User) -> dict[str, str] | None:
    """`verification_badges` for one loaded user, batched per request: the first verified
    user presented loads the badges of every verified user the session holds (a page's
    authors, commenters, followers), so a page costs one query, not one per user."""
    if not user.verified:
        return None
    memo: dict[int, dict[str, str] | None] = (
        request.environ.setdefault(_BADGES, {}) if has_request_context() else {}
    )
    if user.id not in memo:
        wanted = {user.id}
        for other in list(db.session.identity_map.values()):
            if not isinstance(other, User):
                continue
            state = inspect(other).dict  # loaded values only: never a refresh per object
            if state.get("verified") and "id" in state:
                wanted.add(state["id"])
        wanted -= memo.keys()
        badges = verification_badges(wanted)
        memo.update({user_id: badges.get(user_id) for user_id in wanted})
    return memo[user.id]


def profile_view(
    user: User, *, avatar: Image | None = None, followed: bool = False
) -> dict[str, Any]:
    return {
        **user_view(user, avatar),
        "bio": user.bio,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "note_count": user.note_count,
        "like_received_count": user.like_received_count,
        "collect_received_count": user.collect_received_count,
        "followed": followed,
        "created_at": iso(user.created_at),
    }


def me_view(user: User, avatar: Image | None = None) -> dict[str, Any]:
    return {
        **profile_view(user, avatar=avatar),
        "roles": sorted(user.roles),
        "points": user.points,
    }


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def note_view(
    note: Note,
    *,
    liked: bool = False,
    collected: bool = False,
    avatars: dict[int, Image] | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content = note_content(
        note,
        channel=note.channel,
        tags=[tag.name for tag in note.tags],
        topics=note.topics,
        images=note.images,
        cover_image=note.cover_image,
    )
    return {
        **content,
        "status": note.status,
        "author": user_view(note.author, (avatars or {}).get(note.author.avatar_image_id or 0)),
        "like_count": note.like_count,
        "collect_count": note.collect_count,
        "comment_count": note.comment_count,
        "share_count": note.share_count,
        "liked": liked,
        "collected": collected,
        # Imported articles keep their original link and attribution.
        "source": source,
    }


def note_content(
    note: Any,
    *,
    channel: Any,
    tags: list[str],
    topics: Iterable[Any],
    images: Iterable[Any],
    cover_image: Any,
    urls: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """What only an edit changes (cards cache it). `note`, `channel`, topics and images may
    be ORM objects or rows with the same fields (`id`, `title`, `code`, `name`, ...)."""
    urls = urls or media_urls()
    image_views = [image_view(image, urls) for image in images]
    return {
        "id": note.id,
        "title": note.title,
        "body": note.body,
        "type": "image" if image_views else "text",
        "channel": {"code": channel.code, "name": channel.name} if channel is not None else None,
        "tags": tags,
        "topics": [{"id": topic.id, "name": topic.name} for topic in topics],
        "images": image_views,
        "cover": image_views[0] if image_views else image_view(cover_image, urls),
        "created_at": iso(note.created_at),
        "updated_at": iso(note.updated_at),
        "published_at": iso(note.published_at),
    }


def notes_view(
    notes: Iterable[Note], viewer_id: int | None, **extra: dict[str, Any]
) -> list[dict[str, Any]]:
    """Many notes at once: viewer flags and author avatars in two queries, not 2·N."""
    from app.core.viewer import avatars_for, note_sources, viewer_flags

    notes = list(notes)
    liked, collected = viewer_flags(viewer_id, [note.id for note in notes])
    avatars = avatars_for([note.author for note in notes])
    sources = note_sources([note.id for note in notes])
    return [
        note_view(
            note,
            liked=note.id in liked,
            collected=note.id in collected,
            avatars=avatars,
            source=sources.get(note.id),
        )
        for note in notes
    ]
