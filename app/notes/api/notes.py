"""Notes and likes: parse → one service call → present."""

from __future__ import annotations

from flask import Blueprint

from app.accounts.models import User
from app.core.pagination import TIME_CURSOR, PageRequest, PageResult
from app.core.presenters import notes_view
from app.core.routing import JsonBody, RawJson, current_actor, current_actor_id, endpoint
from app.core.sql import id_in_range
from app.feeds.cards import cards_in_order, cards_json, note_detail_json
from app.notes.models import Note
from app.notes.schemas.notes import (
    LikeOut,
    NoteIn,
    NoteOut,
    NotePage,
    NotePatch,
    NotesByIdQuery,
    UserNotesQuery,
)
from app.notes.services import notes
from app.notes.services.views import record_view

bp = Blueprint("notes", __name__, url_prefix="/api/v1")


def _viewer_id() -> int | None:
    actor: User | None = current_actor()
    return actor.id if actor is not None else None


def _one(note: Note) -> JsonBody:
    return notes_view([note], _viewer_id())[0]


def _cards(found: PageResult[Note]) -> PageResult[JsonBody]:
    return found.with_items(cards_in_order([note.id for note in found.items], current_actor()))


@endpoint(
    bp,
    "/notes",
    "GET",
    summary="Notes by id (`ids=1,2,3`, at most 50), in that order; invisible ones left out",
    query=NotesByIdQuery,
    errors=[400],
)
def notes_by_id(query: NotesByIdQuery) -> RawJson:
    items = cards_json(query.id_list, current_actor_id(), current_actor)
    return RawJson(b'{"items":%b,"next_cursor":null}' % items)


@endpoint(
    bp,
    "/notes",
    "POST",
    summary="Write a note (draft or published)",
    body=NoteIn,
    response=NoteOut,
    status=201,
    auth="required",
    errors=[400, 422],
)
def create_note(body: NoteIn) -> JsonBody:
    return _one(notes.create_note(current_actor(), body.model_dump()))


@endpoint(
    bp,
    "/notes/<int:note_id>",
    "GET",
    summary="Read a note",
    response=NoteOut,
    auth="optional",
    errors=[404],
)
def get_note(note_id: int) -> JsonBody | RawJson:
    # A note everyone sees is served from its stored card (no ORM object, no transaction);
    # others (drafts for their author, notes staff may still open) from the database.
    viewer_id = current_actor_id()
    found = note_detail_json(note_id, viewer_id) if id_in_range(note_id) else None
    if found is None:
        return _one(notes.view_note(current_actor(), note_id))
    author_id, body = found
    record_view(viewer_id, note_id, author_id)
    return RawJson(body)


@endpoint(
    bp,
    "/notes/<int:note_id>",
    "PATCH",
    summary="Edit a note (author); draft → published publishes it",
    body=NotePatch,
    response=NoteOut,
    auth="required",
    errors=[400, 403, 404, 409, 422],
)
def patch_note(note_id: int, body: NotePatch) -> JsonBody:
    return _one(notes.update_note(current_actor(), note_id, body.changes()))


@endpoint(
    bp,
    "/notes/<int:note_id>",
    "DELETE",
    summary="Delete a note (author or moderator)",
    status=204,
    auth="required",
    errors=[403, 404],
)
def delete_note(note_id: int) -> None:
    notes.delete_note(current_actor(), note_id)
    return None


@endpoint(
    bp,
    "/users/<int:user_id>/notes",
    "GET",
    summary="A user's published notes, newest first (own drafts with ?status=draft)",
    query=UserNotesQuery,
    response=NotePage,
    auth="optional",
    errors=[400, 403, 404],
    paginated=TIME_CURSOR,
)
def user_notes(user_id: int, query: UserNotesQuery, page: PageRequest) -> PageResult[JsonBody]:
    return _cards(notes.list_user_notes(current_actor(), user_id, query.status, page))


@endpoint(
    bp,
    "/me/drafts",
    "GET",
    summary="Own drafts, newest first",
    response=NotePage,
    auth="required",
    errors=[400],
    paginated=TIME_CURSOR,
)
def my_drafts(page: PageRequest) -> PageResult[JsonBody]:
    actor = current_actor()
    return _cards(notes.list_user_notes(actor, actor.id, "draft", page))


@endpoint(
    bp,
    "/notes/<int:note_id>/like",
    "POST",
    summary="Like a note (idempotent)",
    response=LikeOut,
    auth="required",
    errors=[404],
)
def like_note(note_id: int) -> JsonBody:
    return notes.like_note(current_actor(), note_id)


@endpoint(
    bp,
    "/notes/<int:note_id>/like",
    "DELETE",
    summary="Unlike a note (idempotent)",
    response=LikeOut,
    auth="required",
    errors=[404],
)
def unlike_note(note_id: int) -> JsonBody:
    return notes.unlike_note(current_actor(), note_id)
