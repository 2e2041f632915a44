"""Every model, imported so that `Base.metadata` is complete for Alembic and the tests."""

from app.models.base import Base, utcnow
from app.models.media import Image
from app.models.notes import Channel, Note, NoteImage, NoteMention, NoteTag, NoteTopic, Tag, Topic
from app.models.notifications import Notification
from app.models.social import (
    Album,
    Collect,
    Comment,
    CommentLike,
    NoteLike,
    Share,
    ShareVisit,
    TopicFollow,
    UserFollow,
)
from app.models.users import AuthToken, User, UserActivityDay, UserInterest, UserRole

__all__ = [
    "Album",
    "AuthToken",
    "Base",
    "Channel",
    "Collect",
    "Comment",
    "CommentLike",
    "Image",
    "Note",
    "NoteImage",
    "NoteLike",
    "NoteMention",
    "NoteTag",
    "NoteTopic",
    "Notification",
    "Share",
    "ShareVisit",
    "Tag",
    "Topic",
    "TopicFollow",
    "User",
    "UserActivityDay",
    "UserFollow",
    "UserInterest",
    "UserRole",
    "utcnow",
]
