"""Filters, one per module: each splits candidates into (kept, removed)."""

from ranking.filters.blocked_author import BlockedAuthorFilter
from ranking.filters.blocked_topic import BlockedTopicFilter
from ranking.filters.channel import ChannelFilter
from ranking.filters.engaged import EngagedFilter
from ranking.filters.hidden import HiddenFilter
from ranking.filters.recently_served import RecentlyServedFilter
from ranking.filters.seen import SeenFilter
from ranking.filters.unknown import UnknownFilter

__all__ = [
    "BlockedAuthorFilter",
    "BlockedTopicFilter",
    "ChannelFilter",
    "EngagedFilter",
    "HiddenFilter",
    "RecentlyServedFilter",
    "SeenFilter",
    "UnknownFilter",
]
