"""Every number of the creators domain in one place: how candidates are scored, where KOL and
KOC begin, and the verification categories with the badge each shows (zh)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final


def _ro(values: dict) -> Mapping:  # type: ignore[type-arg]
    return MappingProxyType(values)


@dataclass(frozen=True, slots=True)
class CreatorsConfig:
    #: Engagement counts on notes published in the last `window_days`.
    window_days: int = 90
    #: Follower growth: new followers in the last `growth_days` against the `growth_days`
    #: before.
    growth_days: int = 30
    #: Strikes (warnings, mutes, bans not reversed) and reports count over this many days.
    quality_days: int = 180
    #: A candidate published at least this many notes in the window (in the channel, when
    #: one is asked for: at least `min_channel_notes` there).
    min_notes: int = 1
    min_channel_notes: int = 1
    #: Tiers by follower count: KOL (key opinion leader) from `kol_min_followers`, KOC (key
    #: opinion consumer) from `koc_min_followers`, "rising" below.
    kol_min_followers: int = 10_000
    koc_min_followers: int = 100
    #: Weight of each interaction from others in "engagement per note".
    engagement_weights: Mapping[str, float] = field(
        default_factory=lambda: _ro({"like": 1.0, "collect": 2.0, "comment": 2.0, "share": 3.0})
    )
    #: score = engagement·ln(1 + per note) + growth·ln(1 + new followers)
    #:       + acceleration·ln((1 + new) / (1 + before)) + focus·share of notes in the channel
    #:       − moderated·share of notes hidden or removed − strike·strikes − report·ln(1 + reports)
    weights: Mapping[str, float] = field(
        default_factory=lambda: _ro(
            {
                "engagement": 1.0,
                "growth": 0.5,
                "acceleration": 0.3,
                "focus": 1.0,
                "moderated": 3.0,
                "strike": 1.0,
                "report": 0.5,
            }
        )
    )
    #: Verification categories: code → the badge's label. Channel codes, plus brands and media.
    categories: Mapping[str, str] = field(
        default_factory=lambda: _ro(
            {
                "beauty": "美妆博主",
                "food": "美食博主",
                "travel": "旅行博主",
                "fashion": "穿搭博主",
                "home": "家居博主",
                "tech": "数码博主",
                "fitness": "健身博主",
                "reading": "读书博主",
                "parenting": "母婴博主",
                "pets": "宠物博主",
                "brand": "品牌认证",
                "media": "媒体认证",
            }
        )
    )
    statement_min_chars: int = 10
    statement_max_chars: int = 1000
    decision_note_max_chars: int = 500

    def tier(self, followers: int) -> str:
        if followers >= self.kol_min_followers:
            return "kol"
        if followers >= self.koc_min_followers:
            return "koc"
        return "rising"


CREATORS: Final = CreatorsConfig()
