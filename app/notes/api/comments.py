"""Comments: /notes/{id}/comments, /comments/{id}/replies, delete and like."""

from __future__ import annotations

from flask import Blueprint

from app.core.pagination import COUNT_CURSOR, TIME_CURSOR, Cursor, PageRequest, PageResult
from app.core.presenters import iso, user_view
from app.core.routing import JsonBody, current_actor, endpoint
from app.media.models import Image
from app.notes.models import Comment
from app.notes.schemas.comments import (
    CommentIn,
    CommentLikeOut,
    CommentOut,
    CommentPage,
    CommentsQuery,
    ThreadPage,
)
from app.notes.services import comments
from app.notes.services.comments import CommentList, CommentRow

bp = Blueprint("comments", __name__, url_prefix="/api/v1")


def comment_view(
    comment: Comment, *, liked: bool = False, avatars: dict[int, Image] | None = None
) -> JsonBody:
    avatars = avatars or {}
    reply_to = comment.reply_to_user
    return {
        "id": comment.id,
        "note_id": comment.note_id,
        "body": comment.body,
        "status": comment.status,  # pending_review: held by the filter, seen by its author
        "author": user_view(comment.author, avatars.get(comment.author.avatar_image_id or 0)),
        "reply_to": (
            user_view(reply_to, avatars.get(reply_to.avatar_image_id or 0)) if reply_to else None
        ),
        "root_id": comment.root_id,
        "parent_id": comment.parent_id,
        "like_count": comment.like_count,
        "reply_count": comment.reply_count,
        "liked": liked,
        "created_at": iso(comment.created_at),
    }


def _row_view(row: CommentRow, result: CommentList, *, thread: bool) -> JsonBody:
    view = comment_view(row.comment, liked=row.liked, avatars=result.avatars)
    if thread:
        view["replies"] = [_row_view(reply, result, thread=False) for reply in row.replies]
    return view


def _comments_cursor(query: CommentsQuery) -> Cursor:
    """Newest first: (created_at, id); `sort=hot`: (like_count, id)."""
    return COUNT_CURSOR if query.sort == "hot" else TIME_CURSOR


@endpoint(
    bp,
    "/notes/<int:note_id>/comments",
    "GET",
    summary="Top-level comments (newest first, or `sort=hot`: most liked), each with up to two "
    "preview replies and `reply_count`",
    query=CommentsQuery,
    response=ThreadPage,
    errors=[404],
    paginated=_comments_cursor,
)
def list_comments(note_id: int, query: CommentsQuery, page: PageRequest) -> PageResult[JsonBody]:
    result = comments.list_comments(current_actor(), note_id, sort=query.sort, page=page)
    return result.page.map(lambda row: _row_view(row, result, thread=True))


@endpoint(
    bp,
    "/comments/<int:comment_id>/replies",
    "GET",
    summary="The replies in a comment's thread, oldest first",
    response=CommentPage,
    errors=[404],
    paginated=TIME_CURSOR,
)
def list_replies(comment_id: int, page: PageRequest) -> PageResult[JsonBody]:
    result = comments.list_replies(current_actor(), comment_id, page=page)
    return result.page.map(lambda row: _row_view(row, result, thread=False))


@endpoint(
    bp,
    "/notes/<int:note_id>/comments",
    "POST",
    summary="Comment on a note, or reply (`parent_id`); a reply to a reply joins its thread",
    body=CommentIn,
    response=CommentOut,
    status=201,
    auth="required",
    errors=[404, 422],
)
def add_comment(note_id: int, body: CommentIn) -> JsonBody:
    comment = comments.add_comment(current_actor(), note_id, body.body, body.parent_id)
    return comment_view(comment)


@endpoint(
    bp,
    "/comments/<int:comment_id>",
    "DELETE",
    summary="Delete a comment (its author, the note's author or a moderator); deleting a "
    "top-level comment removes its thread",
    status=204,
    auth="required",
    errors=[403, 404],
)
def delete_comment(comment_id: int) -> None:
    comments.delete_comment(current_actor(), comment_id)
    return None


@endpoint(
    bp,
    "/comments/<int:comment_id>/like",
    "POST",
    summary="Like a comment (idempotent)",
    response=CommentLikeOut,
    auth="required",
    errors=[404],
)
def like_comment(comment_id: int) -> JsonBody:
    return comments.like_comment(current_actor(), comment_id)


@endpoint(
    bp,
    "/comments/<int:comment_id>/like",
    "DELETE",
    summary="Unlike a comment (idempotent)",
    response=CommentLikeOut,
    auth="required",
    errors=[404],
)
def unlike_comment(comment_id: int) -> JsonBody:
    return comments.unlike_comment(current_actor(), comment_id)
