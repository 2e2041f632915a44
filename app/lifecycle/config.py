"""The lifecycle domain's rules, as data with defaults in one place.

A user's stage is a function of three things only: today (UTC), the day they signed up and
the days they visited (`user_activity_days`). The rules, in order:

- `new`: signed up fewer than `new_days` days ago;
- `returned`: visited within the last `returned_days` days after an absence of at least
  `churned_after_days` days (they had churned and came back);
- `churned`: no visit for `churned_after_days` days or more;
- `at_risk`: no visit for `at_risk_after_days` days or more (fewer than `churned_after_days`);
- `active`: otherwise (a visit within `at_risk_after_days` days).

A user who never visited counts their sign-up day as their last visit.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("new", "active", "at_risk", "churned", "returned")


@dataclass(frozen=True)
class LifecycleConfig:
    new_days: int = 7
    at_risk_after_days: int = 14
    churned_after_days: int = 30
    returned_days: int = 14
    #: Users per transaction of the daily recompute.
    recompute_batch: int = 500
    #: The daily recompute runs this often (seconds) from the worker's schedule.
    recompute_interval_seconds: int = 86_400


@dataclass(frozen=True)
class RecallConfig:
    #: Nobody gets two recalls within this many days, across campaigns.
    min_days_between_recalls: int = 7
    #: A return is a visit day within this many days after the send's day.
    return_window_days: int = 7
    #: Notes picked for each recalled user by the ranking.
    notes_per_recall: int = 3
    #: Candidates ranked per user before the top `notes_per_recall` are kept.
    ranked_candidates: int = 20
    max_holdout_share: float = 0.9
    #: Recipients decided per transaction, and per run of the delivery job (it enqueues
    #: itself again for the rest).
    delivery_batch: int = 50
    delivery_per_run: int = 1_000
    #: Due campaigns are looked for this often (seconds) from the worker's schedule.
    due_check_seconds: int = 60
    #: `starts_at` may be at most this far in the past (a typo guard) or in the future.
    max_start_past_hours: int = 1
    max_start_future_days: int = 90
    notification_kind: str = "recall"
    notification_title: str = "好久不见，这些笔记在等你"
    confidence: float = 0.95


@dataclass(frozen=True)
class RetentionConfig:
    default_weeks: int = 8
    max_weeks: int = 26


LIFECYCLE = LifecycleConfig()
RECALL = RecallConfig()
RETENTION = RetentionConfig()
