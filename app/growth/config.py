"""Every number of the growth system in one place (seed 003: points were farmed until a
1,000-a-day cap; levels now come from original contribution and unlock privileges)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Final


def _ro(values: dict) -> Mapping:  # type: ignore[type-arg]
    return MappingProxyType(values)


@dataclass(frozen=True, slots=True)
class Level:
    number: int
    name: str
    mascot: str  # the asset clients draw next to the nickname
    contribution: int  # reached at this much original contribution
    privileges: tuple[str, ...]  # unlocked at this level (and kept above it)


@dataclass(frozen=True, slots=True)
class Task:
    code: str
    title: str
    period: str  # daily | weekly
    action: str  # the ledger action that counts towards it
    target: int
    reward: int


@dataclass(frozen=True, slots=True)
class GrowthConfig:
    #: Points per action. Received interactions pay the owner, never for their own content.
    points: Mapping[str, int] = field(
        default_factory=lambda: _ro(
            {
                "checkin": 5,
                "publish_note": 10,
                "comment": 2,
                "share": 3,
                "like_received": 1,
                "collect_received": 2,
                "comment_received": 1,
                "invite_reward": 50,
                "share_reward": 30,
            }
        )
    )
    #: The most each action can pay a user in one UTC day.
    daily_caps: Mapping[str, int] = field(
        default_factory=lambda: _ro(
            {
                "checkin": 20,
                "publish_note": 50,
                "comment": 20,
                "share": 15,
                "like_received": 300,
                "collect_received": 300,
                "comment_received": 100,
                "task": 200,
                "campaign": 1000,
                "invite_reward": 200,
                "share_reward": 90,
            }
        )
    )
    #: The most all earning together can pay in one UTC day (manual grants excepted).
    daily_cap: int = 1000
    #: The streak bonus: day n of a streak pays `checkin` + min(n - 1, this).
    checkin_streak_bonus_max: int = 5
    #: Contribution: what counts towards levels (never spendable points).
    contribution: Mapping[str, int] = field(
        default_factory=lambda: _ro(
            {"published_note": 5, "like_received": 1, "collect_received": 2, "comment_received": 1}
        )
    )
    levels: tuple[Level, ...] = (
        Level(1, "社区新人", "sprout", 0, ()),
        Level(2, "种草新星", "seedling", 50, ("more_images", "sticker_pack:basic")),
        Level(3, "分享达人", "leaf", 200, ("long_note", "watermark", "sticker_pack:cute")),
        Level(4, "人气创作者", "flower", 800, ("sticker_pack:premium",)),
        Level(5, "社区领袖", "tree", 3000, ()),
    )
    #: New accounts' privileges for their first week.
    new_user_days: int = 7
    new_user_privileges: tuple[str, ...] = ("new_creator_boost",)
    #: The exploration boost (ranking weight) of a new creator's first notes.
    new_creator_boost: float = 0.6
    new_creator_boosted_notes: int = 3
    #: What privileges lift: images per note and body length.
    images_base: int = 9
    images_more: int = 18
    body_base: int = 1000
    body_long: int = 5000
    #: Invite codes (邀请码): how long one is valid, and how much time it must have left to
    #: be handed out again (else POST /me/invites makes a new one).
    invite_code_days: int = 30
    invite_code_reuse_min_days: int = 7
    tasks: tuple[Task, ...] = (
        Task("daily_checkin", "每日签到", "daily", "checkin", 1, 5),
        Task("daily_post", "发布一篇笔记", "daily", "publish_note", 1, 10),
        Task("daily_comment", "评论 3 次", "daily", "comment", 3, 5),
        Task("daily_share", "分享 1 次", "daily", "share", 1, 5),
        Task("weekly_post", "一周发布 3 篇笔记", "weekly", "publish_note", 3, 30),
        Task("weekly_checkin", "一周签到 5 天", "weekly", "checkin", 5, 20),
        Task("weekly_comment", "一周评论 10 次", "weekly", "comment", 10, 15),
    )

    def level_for(self, contribution: int) -> Level:
        reached = [level for level in self.levels if contribution >= level.contribution]
        return reached[-1]

    def next_level(self, level: Level) -> Level | None:
        later = [other for other in self.levels if other.number > level.number]
        return later[0] if later else None

    def privileges_at(self, number: int) -> tuple[str, ...]:
        return tuple(p for level in self.levels if level.number <= number for p in level.privileges)

    def level_required(self, privilege: str) -> int | None:
        for level in self.levels:
            if privilege in level.privileges:
                return level.number
        return None


GROWTH: Final = GrowthConfig()
NEW_USER_WINDOW: Final = timedelta(days=GROWTH.new_user_days)
