"""Every model, imported so that `Base.metadata` is complete for Alembic and the tests."""

from app.models.base import Base, utcnow
from app.models.editorial import Boost, ContentSource, EditorialLogEntry, EditorPick
from app.models.jobs import OutboxJob
from app.models.media import Image
from app.models.notes import Channel, Note, NoteImage, NoteMention, NoteTag, NoteTopic, Tag, Topic
from app.models.notifications import Notification
from app.models.ranking import HotListEntry, NegativeFeedback, NoteEvent, RankingModel
from app.models.search import SearchQuery, SearchTermRule
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
    "Boost",
    "Channel",
    "Collect",
    "Comment",
    "CommentLike",
    "ContentSource",
    "EditorPick",
    "EditorialLogEntry",
    "HotListEntry",
    "Image",
    "NegativeFeedback",
    "Note",
    "NoteEvent",
    "NoteImage",
    "NoteLike",
    "NoteMention",
    "NoteTag",
    "NoteTopic",
    "Notification",
    "OutboxJob",
    "RankingModel",
    "SearchQuery",
    "SearchTermRule",
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

# Moderation and growth keep their models in their own packages; importing them here
# completes the metadata.
from app.growth.models import (
    Campaign,
    CampaignDay,
    CampaignMember,
    CheckIn,
    PointsEntry,
    Redemption,
    StoreItem,
)
from moderation.models import (
    AccountLink,
    Appeal,
    AuditEntry,
    Case,
    Fingerprint,
    ModerationAction,
    ModerationKeyword,
    Mute,
    Report,
)

__all__ += [
    "AccountLink",
    "Appeal",
    "AuditEntry",
    "Case",
    "Fingerprint",
    "ModerationAction",
    "ModerationKeyword",
    "Mute",
    "Report",
]

__all__ += [
    "Campaign",
    "CampaignDay",
    "CampaignMember",
    "CheckIn",
    "PointsEntry",
    "Redemption",
    "StoreItem",
]
