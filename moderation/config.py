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


@dataclass(frozen=True, slots=True)
class SignalsConfig:
    """Multiple accounts (`moderation.signals`): what a shared sign-in signal is worth as
    evidence. The retention period and the hashing key come from the environment
    (`SPROUT_SIGNALS_RETENTION_DAYS`, `SPROUT_SIGNALS_KEY`)."""

    #: Days a signal is kept after it was last seen (`SPROUT_SIGNALS_RETENTION_DAYS` wins).
    retention_days: int = 90
    #: What each kind shared between two accounts adds to a pair's score. A device id alone
    #: proposes a link (strong); the address with the same user agent does (medium); the
    #: address, its /24 or /64 prefix, or the user agent alone never do.
    weights: Mapping[str, float] = field(
        default_factory=lambda: _ro(
            {"device": 1.0, "ip_ua": 0.6, "ip": 0.2, "ip_prefix": 0.1, "ua": 0.05}
        )
    )
    #: A pair is `strong` with a shared device, `medium` with a shared address + user agent.
    strong_kinds: tuple[str, ...] = ("device",)
    medium_kinds: tuple[str, ...] = ("ip_ua",)
    #: A signal seen on more than this many accounts within the retention period (a campus or
    #: carrier NAT, a shared family tablet in a shop) is no evidence of anything.
    max_accounts_per_signal: int = 8
    #: `X-Device-Id`: printable ASCII, this long, else ignored.
    device_id_min: int = 8
    device_id_max: int = 128
    #: `GET /moderation/users/{id}/signals` names at most this many other accounts per signal.
    shown_accounts: int = 20
    #: The hash prefix moderators see (enough to tell two signals apart, not to look one up).
    shown_digest_chars: int = 12


SIGNALS: Final = SignalsConfig()


@dataclass(frozen=True, slots=True)
class EngagementRule:
    """At least `count` of one kind of engagement on one target within `window`."""

    count: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class EngagementConfig:
    """Bought engagement (`moderation.engagement`): what makes a burst or a ring, and how far
    back the detector reads. Every rule counts one kind on one target (a note for likes and
    collects, an account for follows); rings mix the kinds."""

    #: Rule 1, `new_accounts`: this many from accounts younger than `new_account_age` (at the
    #: time they engaged) whose only activity is this engagement.
    new_account_bursts: Mapping[str, EngagementRule] = field(
        default_factory=lambda: _ro(
            {
                "like": EngagementRule(10, timedelta(minutes=10)),
                "collect": EngagementRule(8, timedelta(minutes=10)),
                "follow": EngagementRule(10, timedelta(minutes=10)),
            }
        )
    )
    new_account_age: timedelta = timedelta(days=1)
    #: Other activity (notes, comments, likes, collects, follows elsewhere) a new account may
    #: have and still count as "no other activity".
    new_account_max_other: int = 0
    #: Rule 2, `inactive_accounts`: this many from older accounts that did at most
    #: `inactive_max_other` other things in the `inactive_lookback` before (farmed accounts
    #: woken up for the job).
    inactive_bursts: Mapping[str, EngagementRule] = field(
        default_factory=lambda: _ro(
            {
                "like": EngagementRule(10, timedelta(minutes=10)),
                "collect": EngagementRule(8, timedelta(minutes=10)),
                "follow": EngagementRule(10, timedelta(minutes=10)),
            }
        )
    )
    inactive_lookback: timedelta = timedelta(days=30)
    inactive_max_other: int = 2
    #: Rule 3, `linked_accounts`: this many from accounts a moderator linked (`AccountLink`)
    #: to one another or to the target's owner, whatever their age or activity.
    linked_burst: EngagementRule = field(
        default_factory=lambda: EngagementRule(3, timedelta(minutes=30))
    )
    #: Rule 4, `ring`: at least `ring_min_accounts` accounts that each engaged at least
    #: `ring_min_targets` of the same targets, each target by the group within
    #: `ring_together`, over `ring_lookback`; and the ring's targets are at least
    #: `ring_min_share` of what each member engaged then (real fans of three viral notes
    #: also like many others; a ring's accounts exist for its few targets).
    ring_min_accounts: int = 5
    ring_min_targets: int = 3
    ring_together: timedelta = timedelta(hours=1)
    ring_lookback: timedelta = timedelta(days=7)
    ring_min_share: float = 0.5
    #: ... and the group made at least this share of each ring target's engagers over the
    #: lookback (a ring makes its targets' numbers; fans of a viral note are a few of many).
    ring_min_target_share: float = 0.5
    #: A ring is looked for around a target's recent engagers; at most this many of them
    #: (the newest), so one viral note cannot make a run read half the site.
    ring_max_accounts: int = 500
    #: Each run reads the engagement created in this window (runs every
    #: `interval_seconds`; overlapping windows cost nothing, the flags are idempotent, and a
    #: worker down for up to this long misses nothing).
    scan_window: timedelta = timedelta(hours=2)
    interval_seconds: int = 60
    #: The case's evidence lists at most this many accounts (the flags keep every one).
    evidence_accounts: int = 200


ENGAGEMENT: Final = EngagementConfig()
