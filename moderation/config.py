"""Every number of moderation in one place: screening thresholds and windows, the mute
durations of the penalty ladder's steps, reporter weights, who may do what, and what the public
log shows. The ladder itself and the reason taxonomy are `taxonomy.json`; the report weight that
hides content pending review comes from the environment (`SPROUT_MODERATION_HIDE_WEIGHT`,
`app.core.config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Final


def _ro(values: dict) -> Mapping:  # type: ignore[type-arg]
    return MappingProxyType(values)


@dataclass(frozen=True, slots=True)
class Burst:
    """More than `limit` of one account's items within `window` is held for review."""

    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class ModerationConfig:
    #: Younger accounts' notes pass the text filter, and their links count as spam.
    new_account_days: int = 7
    #: The same text (normalised, at least this long) from this many other accounts within the
    #: window is held as coordinated spam; short common phrases (好看!) never are.
    duplicate_min_chars: int = 8
    duplicate_other_accounts: int = 2
    duplicate_window: timedelta = timedelta(hours=24)
    #: Near-identical pictures: at most this many of the 64 perceptual-hash bits differ.
    #: Re-encoding, resizing and watermarks stay within 6, brightness within 10; distinct
    #: pictures are 18+ apart.
    image_match_bits: int = 10
    #: Bursts by content kind (staff and official accounts are exempt: editors post in batches).
    bursts: Mapping[str, Burst] = field(
        default_factory=lambda: _ro(
            {
                "comment": Burst(15, timedelta(minutes=10)),
                "note": Burst(10, timedelta(hours=1)),
            }
        )
    )
    #: The reason a case opened by a spam signal gets (before the filter's category).
    signal_reasons: Mapping[str, str] = field(
        default_factory=lambda: _ro(
            {
                "duplicate_text": "spam_ads.coordinated",
                "duplicate_image": "spam_ads.coordinated",
                "burst": "spam_ads.single_account",
                "link": "spam_ads.deceptive_links",
            }
        )
    )
    #: The reason a case opened by the filter gets, by the category of what matched.
    auto_reasons: Mapping[str, str] = field(
        default_factory=lambda: _ro(
            {
                "illegal": "illegal.other",
                "unfriendly": "unfriendly.abuse",
                "spam_ads": "spam_ads.evasion",
                "porn": "porn.vulgar",
                "misinformation": "misinformation.false",
                "superstition": "superstition.fortune_telling",
                "clickbait": "clickbait.sensational",
                "fan_circle": "fan_circle.brigading",
                "other": "other.other",
            }
        )
    )
    #: Days of each mute step of the ladder (`taxonomy.json`); None is permanent.
    mute_days: Mapping[str, int | None] = field(
        default_factory=lambda: _ro(
            {"mute_1d": 1, "mute_7d": 7, "mute_15d": 15, "mute_permanent": None}
        )
    )
    #: A reporter's weight, (1 + upheld) / (1 + dismissed), is kept within these bounds.
    reporter_weight_min: float = 0.25
    reporter_weight_max: float = 3.0
    #: The role each staff power needs.
    roles: Mapping[str, str] = field(
        default_factory=lambda: _ro(
            {
                "moderate": "moderator",
                "manage_keywords": "moderator",
                "lift_penalty": "admin",
                "see_metrics": "admin",
            }
        )
    )
    #: `GET /me/reports` shows this many of the newest reports.
    my_reports_limit: int = 50
    #: What `/modlog` shows (without who asked, who decided or the private notes).
    public_actions: tuple[str, ...] = (
        "auto_hide",
        "content_hide",
        "content_remove",
        "warn",
        "mute",
        "ban",
        "lift",
        "appeal_reversed",
    )


MODERATION: Final = ModerationConfig()
