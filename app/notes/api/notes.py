"""Notes and likes: parse → one service call → present."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.accounts.models import User
from app.core.pagination import TIME_CURSOR
from app.core.presenters import notes_view
from app.core.routing import current_actor, endpoint
from app.core.schemas import Page, page_of
from app.feeds.cards import cards_in_order
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

bp = Blueprint("notes", __name__, url_prefix="/api/v1")


def _viewer_id() -> int | None:
    actor: User | None = current_actor()
    return actor.id if actor is not None else None


def _one(note: Note) -> dict[str, Any]:
    return notes_view([note], _viewer_id())[0]


def _page(items: list[Note], limit: int) -> dict[str, Any]:
    page = page_of(items, limit, lambda note: TIME_CURSOR.encode(*notes.note_cursor(note)))
    page["items"] = cards_in_order([note.id for note in page["items"]], current_actor())
    return page


@endpoint(
    bp,
    "/notes",
    "GET",
    summary="Notes by id (`ids=1,2,3`, at most 50), in that order; invisible ones left out",
    query=NotesByIdQuery,
    errors=[400],
)
def notes_by_id(query: NotesByIdQuery) -> Any:
    return {"items": cards_in_order(query.id_list, current_actor()), "next_cursor": None}


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
def create_note(body: NoteIn) -> Any:
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
def get_note(note_id: int) -> Any:
    return _one(notes.view_note(current_actor(), note_id))


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
def patch_note(note_id: int, body: NotePatch) -> Any:
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
def delete_note(note_id: int) -> Any:
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
)
def user_notes(user_id: int, query: UserNotesQuery) -> Any:
    after = TIME_CURSOR.decode(query.cursor)
    items = notes.list_user_notes(current_actor(), user_id, query.status, query.limit, after)
    return _page(items, query.limit)


@endpoint(
    bp,
    "/me/drafts",
    "GET",
    summary="Own drafts, newest first",
    query=Page,
    response=NotePage,
    auth="required",
    errors=[400],
)
def my_drafts(query: Page) -> Any:
    actor = current_actor()
    after = TIME_CURSOR.decode(query.cursor)
    items = notes.list_user_notes(actor, actor.id, "draft", query.limit, after)
    return _page(items, query.limit)


@endpoint(
    bp,
    "/notes/<int:note_id>/like",
    "POST",
    summary="Like a note (idempotent)",
    response=LikeOut,
    auth="required",
    errors=[404],
)
def like_note(note_id: int) -> Any:
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
def unlike_note(note_id: int) -> Any:
    return notes.unlike_note(current_actor(), note_id)
