"""Albums (专辑) and collecting notes: /albums, /users/{id}/albums, /notes/{id}/collect."""

from __future__ import annotations

from flask import Blueprint

from app.core.pagination import ID, TIME_CURSOR, Cursor, Flag, PageRequest, PageResult
from app.core.presenters import iso, user_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.core.viewer import avatars_for
from app.feeds.cards import cards_in_order
from app.notes.models import Album
from app.notes.schemas.albums import AlbumIn, AlbumOut, AlbumPage, AlbumPatch, CollectIn, CollectOut
from app.notes.schemas.notes import NotePage
from app.notes.services import albums

bp = Blueprint("albums", __name__, url_prefix="/api/v1")

ALBUM_CURSOR = Cursor(Flag(), ID)  # album lists: (is_default, id), the default album first


def album_view(album: Album, owner_view: JsonBody) -> JsonBody:
    return {
        "id": album.id,
        "name": album.name,
        "description": album.description,
        "private": album.is_private,
        "default": album.is_default,
        "note_count": album.note_count,
        "owner": owner_view,
        "created_at": iso(album.created_at),
        "updated_at": iso(album.updated_at),
    }


def _owner_views(items: list[Album]) -> dict[int, JsonBody]:
    """Owners and their avatars in two queries for a whole page."""
    owners = albums.owners_of(items)
    avatars = avatars_for(owners.values())
    return {
        owner_id: user_view(owner, avatars.get(owner.avatar_image_id or 0))
        for owner_id, owner in owners.items()
    }


def _one(album: Album) -> JsonBody:
    return album_view(album, _owner_views([album])[album.owner_id])


def _album_page(found: PageResult[Album]) -> PageResult[JsonBody]:
    owners = _owner_views(found.items)
    return found.map(lambda album: album_view(album, owners[album.owner_id]))


@endpoint(
    bp,
    "/albums",
    "GET",
    summary="Own albums, the default album first (created on first need)",
    response=AlbumPage,
    auth="required",
    paginated=ALBUM_CURSOR,
)
def list_own_albums(page: PageRequest) -> PageResult[JsonBody]:
    return _album_page(albums.list_own_albums(current_actor(), page))


@endpoint(
    bp,
    "/albums",
    "POST",
    summary="Create an album; names are unique per owner",
    body=AlbumIn,
    response=AlbumOut,
    status=201,
    auth="required",
    errors=[409],
)
def create_album(body: AlbumIn) -> JsonBody:
    album = albums.create_album(current_actor(), body.name, body.description, body.private)
    return _one(album)


@endpoint(
    bp,
    "/users/<int:user_id>/albums",
    "GET",
    summary="A user's albums: public ones, plus private ones for the owner",
    response=AlbumPage,
    errors=[404],
    paginated=ALBUM_CURSOR,
)
def list_user_albums(user_id: int, page: PageRequest) -> PageResult[JsonBody]:
    return _album_page(albums.list_user_albums(current_actor(), user_id, page))


@endpoint(
    bp,
    "/albums/<int:album_id>",
    "GET",
    summary="An album (private albums are 404 to anyone but the owner)",
    response=AlbumOut,
    errors=[404],
)
def get_album(album_id: int) -> JsonBody:
    return _one(albums.get_album(current_actor(), album_id))


@endpoint(
    bp,
    "/albums/<int:album_id>",
    "PATCH",
    summary="Edit an album (owner); the default album keeps its name",
    body=AlbumPatch,
    response=AlbumOut,
    auth="required",
    errors=[403, 404, 409],
)
def patch_album(album_id: int, body: AlbumPatch) -> JsonBody:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return _one(albums.update_album(current_actor(), album_id, changes))


@endpoint(
    bp,
    "/albums/<int:album_id>",
    "DELETE",
    summary="Delete an album and its collects (owner); the default album cannot be deleted",
    status=204,
    auth="required",
    errors=[403, 404, 409],
)
def delete_album(album_id: int) -> None:
    albums.delete_album(current_actor(), album_id)
    return None


@endpoint(
    bp,
    "/albums/<int:album_id>/notes",
    "GET",
    summary="The notes in an album, most recently collected first",
    response=NotePage,
    errors=[404],
    paginated=TIME_CURSOR,
)
def list_album_notes(album_id: int, page: PageRequest) -> PageResult[JsonBody]:
    actor = current_actor()
    rows = albums.list_album_notes(actor, album_id, page)
    return rows.with_items(cards_in_order([row.note.id for row in rows.items], actor))


@endpoint(
    bp,
    "/notes/<int:note_id>/collect",
    "POST",
    summary="Collect a note into an album (default album if none); again into another album "
    "moves it (idempotent)",
    body=CollectIn,
    response=CollectOut,
    auth="required",
    errors=[404],
)
def collect(note_id: int, body: CollectIn) -> JsonBody:
    return albums.collect_note(current_actor(), note_id, body.album_id)


@endpoint(
    bp,
    "/notes/<int:note_id>/collect",
    "DELETE",
    summary="Uncollect a note (idempotent)",
    response=CollectOut,
    auth="required",
    errors=[404],
)
def uncollect(note_id: int) -> JsonBody:
    return albums.uncollect_note(current_actor(), note_id)
