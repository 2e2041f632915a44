"""Notification tunables, read from the environment once per app (`notification_config()`);
tests replace them with `set_notification_config(app, ...)`.

- `SPROUT_PUSH_SENDER` (`log`): `log` writes each push to the log; `webhook` POSTs it.
- `SPROUT_PUSH_WEBHOOK_URL` (unset): where the `webhook` sender POSTs each push as JSON.
- `SPROUT_PUSH_WEBHOOK_TIMEOUT` (`5`): seconds per webhook attempt (connect, and read).
- `SPROUT_PUSH_DAILY_CAP` (`5`): pushes per user per local day; beyond it they are skipped.
- `SPROUT_PUSH_QUIET_HOURS` (`22-8`): local hours when pushes are held, then sent
  (`22-8`, `22:30-07:15`, `off`).
- `SPROUT_PUSH_TIMEZONE` (`Asia/Shanghai`): the zone of quiet hours and days, unless the
  user set their own (`PUT /me/notification-settings {timezone}`).
- `SPROUT_NOTIFICATION_STREAM_SECONDS` (`30`): how long one event stream stays open (the
  client reconnects with `Last-Event-ID`).
- `SPROUT_NOTIFICATION_STREAMS_PER_PROCESS` (`1`): open streams one server process holds at
  most (each holds a gunicorn thread; raise it with `--threads`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app

PUSH_SENDERS = ("log", "webhook")
EXTENSION_KEY = "sprout.notifications.config"


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local time, possibly across midnight (22:00–08:00)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class NotificationConfig:
    push_sender: str = "log"
    webhook_url: str | None = None
    webhook_timeout: float = 5.0
    webhook_attempts: int = 3  # tries within one delivery, before the job's own retries
    daily_cap: int = 5
    quiet_hours: QuietHours | None = QuietHours(time(22), time(8))
    timezone: str = "Asia/Shanghai"
    stream_seconds: float = 30.0
    stream_poll_seconds: float = 0.5
    stream_heartbeat_seconds: float = 10.0
    streams_per_process: int = 1
    # Which types reach a phone (likes grouped: one push per group, worded when it is sent).
    push_types: tuple[str, ...] = (
        "like",
        "comment",
        "reply",
        "follow",
        "mention",
        "system",
        "recall",
        "verification",
        "invite_reward",
        "share_reward",
    )

    def with_overrides(self, **values: Any) -> NotificationConfig:
        return replace(self, **values)


def parse_quiet_hours(value: str) -> QuietHours | None:
    """`22-8`, `22:00-08:00`; `off`, `none` or empty for none."""
    text = value.strip().lower()
    if text in ("", "off", "none", "0"):
        return None
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?", text)
    if match is None:
        raise ValueError(f"SPROUT_PUSH_QUIET_HOURS: expected e.g. 22-8, got {value!r}")
    h1, m1, h2, m2 = (int(part or 0) for part in match.groups())
    if not (0 <= h1 <= 23 and 0 <= h2 <= 23 and m1 < 60 and m2 < 60):
        raise ValueError(f"SPROUT_PUSH_QUIET_HOURS: hours 0-23, got {value!r}")
    start, end = time(h1, m1), time(h2, m2)
    return None if start == end else QuietHours(start, end)


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def from_env(env: Mapping[str, str] | None = None) -> NotificationConfig:
    env = os.environ if env is None else env
    sender = env.get("SPROUT_PUSH_SENDER", "log").strip().lower() or "log"
    if sender not in PUSH_SENDERS:
        raise ValueError(f"SPROUT_PUSH_SENDER: one of {', '.join(PUSH_SENDERS)}, got {sender!r}")
    zone = env.get("SPROUT_PUSH_TIMEZONE", "Asia/Shanghai").strip() or "Asia/Shanghai"
    if not valid_timezone(zone):
        raise ValueError(f"SPROUT_PUSH_TIMEZONE: unknown time zone {zone!r}")
    config = NotificationConfig(
        push_sender=sender,
        webhook_url=env.get("SPROUT_PUSH_WEBHOOK_URL") or None,
        webhook_timeout=float(env.get("SPROUT_PUSH_WEBHOOK_TIMEOUT", "5")),
        daily_cap=max(int(env.get("SPROUT_PUSH_DAILY_CAP", "5")), 0),
        quiet_hours=parse_quiet_hours(env.get("SPROUT_PUSH_QUIET_HOURS", "22-8")),
        timezone=zone,
        stream_seconds=max(float(env.get("SPROUT_NOTIFICATION_STREAM_SECONDS", "30")), 1.0),
        streams_per_process=max(int(env.get("SPROUT_NOTIFICATION_STREAMS_PER_PROCESS", "1")), 1),
    )
    if config.push_sender == "webhook" and not config.webhook_url:
        raise ValueError("SPROUT_PUSH_SENDER=webhook needs SPROUT_PUSH_WEBHOOK_URL")
    return config


def notification_config() -> NotificationConfig:
    """This app's settings: the environment's, read on first use."""
    config = current_app.extensions.get(EXTENSION_KEY)
    if config is None:
        config = current_app.extensions[EXTENSION_KEY] = from_env()
    return config


def set_notification_config(app: Flask, config: NotificationConfig) -> None:
    app.extensions[EXTENSION_KEY] = config
