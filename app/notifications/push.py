"""The push outbox's delivery: quiet hours, the daily cap, the wording, and the senders.

A `PushMessage` row is written with the notification it announces (same transaction) and
delivered by the `deliver_push` job (`app.notifications.jobs`), which calls `deliver` here:
1. `sent` or `skipped` already: nothing to do (the job is idempotent).
2. In the recipient's quiet hours: the row is `held`, and a job outbox row (`job_outbox`)
   due when the quiet hours end runs it again then: held, never dropped.
3. Claimed (`pending`/`held` → `claimed`) and counted against the recipient's cap for the
   local day in one transaction; beyond the cap it is `skipped` (`reason="daily_cap"`).
4. Sent through the configured sender; a failure raises, and the job outbox retries the
   job with its back-off: a `claimed` row is sent again without being counted again.
   The webhook sender carries `Idempotency-Key: push-<id>` so a receiver can drop a repeat.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import urllib3
from sqlalchemy import select, update

from app.accounts.models import User
from app.core.extensions import db
from app.core.jobs.models import OutboxJob
from app.core.models import utcnow
from app.core.sql import insert_ignore
from app.core.visibility import not_banned
from app.notifications.config import NotificationConfig, QuietHours, notification_config
from app.notifications.grouping import muted_types
from app.notifications.models import (
    NotificationGroup,
    NotificationGroupActor,
    NotificationSettings,
    PushDailyCount,
    PushMessage,
)

log = logging.getLogger(__name__)

JOB_NAME = "app.notifications.jobs:deliver_push"
JOB_QUEUE = "notifications"


class PushFailed(Exception):
    """The sender could not deliver; the job is retried."""


@dataclass(frozen=True)
class OutgoingPush:
    id: int
    user_id: int
    kind: str
    title: str
    body: str
    payload: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "payload": self.payload,
        }


class PushSender(Protocol):
    def send(self, push: OutgoingPush) -> None: ...


class LogSender:
    """The default: a log line per push (development, or no push provider yet)."""

    def send(self, push: OutgoingPush) -> None:
        log.info("push to user %s: %s — %s", push.user_id, push.title, push.body)


class WebhookSender:
    """POSTs each push as JSON to a URL (a push gateway of one's own). Each attempt has a
    timeout; connection errors and 429/5xx answers are retried `attempts` times with a
    short back-off before the job itself fails (and the outbox retries it later)."""

    def __init__(self, url: str, timeout: float = 5.0, attempts: int = 3) -> None:
        self.url = url
        self.timeout = timeout
        self.attempts = max(attempts, 1)

    def send(self, push: OutgoingPush) -> None:
        retry = urllib3.Retry(
            total=self.attempts - 1,
            backoff_factor=0.2,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # POST too: the receiver dedupes on the Idempotency-Key
            raise_on_status=False,
        )
        with urllib3.PoolManager(retries=retry) as pool:
            try:
                response = pool.request(
                    "POST",
                    self.url,
                    body=json.dumps(push.as_json(), ensure_ascii=False).encode(),
                    headers={
                        "Content-Type": "application/json",
                        "Idempotency-Key": f"push-{push.id}",
                        "User-Agent": "sprout-push/1",
                    },
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                )
            except urllib3.exceptions.HTTPError as exc:
                raise PushFailed(f"webhook unreachable: {exc}") from exc
        if response.status >= 300:
            raise PushFailed(f"webhook answered {response.status}")


def sender_for(config: NotificationConfig) -> PushSender:
    if config.push_sender == "webhook" and config.webhook_url:
        return WebhookSender(config.webhook_url, config.webhook_timeout, config.webhook_attempts)
    return LogSender()


# -- time: quiet hours and local days ------------------------------------------------------
def user_zone(user_id: int, config: NotificationConfig) -> ZoneInfo:
    name = db.session.scalar(
        select(NotificationSettings.timezone).where(NotificationSettings.user_id == user_id)
    )
    return ZoneInfo(name or config.timezone)


def quiet_until(now: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> datetime | None:
    """When the quiet hours around `now` end (UTC), or None outside them."""
    if quiet is None:
        return None
    local = now.astimezone(zone)
    if not quiet.contains(local.time()):
        return None
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def local_day(now: datetime, zone: ZoneInfo) -> str:
    return now.astimezone(zone).date().isoformat()


# -- the wording, at sending time (a held group push says how many it has become) -----------
VERBS = {
    "like": "赞了你的笔记",
    "collect": "收藏了你的笔记",
    "comment_like": "赞了你的评论",
    "follow": "关注了你",
    "comment": "评论了你的笔记",
    "reply": "回复了你的评论",
    "mention": "提到了你",
}
TITLES = {
    "like": "新的赞",
    "collect": "新的收藏",
    "comment_like": "新的赞",
    "follow": "新增关注",
    "comment": "新的评论",
    "reply": "新的回复",
    "mention": "有人@了你",
}


def group_sentence(kind: str, names: list[str], count: int) -> str:
    """ "小A、小B 等 12 人赞了你的笔记"; "小A 赞了你的笔记"."""
    verb = VERBS.get(kind, "")
    shown = "、".join(names[:2]) or "有人"
    if count > len(names[:2]) and count > 1:
        return f"{shown} 等 {count} 人{verb}"
    return f"{shown} {verb}"


def render(row: PushMessage) -> OutgoingPush:
    payload = dict(row.payload or {})
    title, body = row.title, row.body
    group = db.session.get(NotificationGroup, row.group_id) if row.group_id else None
    if group is not None:
        payload.setdefault("group_id", group.id)
        payload.setdefault("target", {"type": group.target_type, "id": group.target_id})
    if (title is None or body is None) and group is not None and group.actor_count == 0:
        notice = group.payload or {}
        title = title or notice.get("title") or "系统通知"
        body = body or notice.get("body") or notice.get("text") or "你有一条新的系统通知"
    if (title is None or body is None) and group is not None:
        names = list(
            db.session.scalars(
                select(User.nickname)
                .join(NotificationGroupActor, NotificationGroupActor.actor_id == User.id)
                .where(NotificationGroupActor.group_id == group.id, not_banned(User.id))
                .order_by(NotificationGroupActor.id.desc())
                .limit(2)
            )
        )
        body = body or group_sentence(row.kind, names, group.actor_count)
        excerpt = (group.payload or {}).get("excerpt")
        if excerpt and row.kind in ("comment", "reply", "mention"):
            body = f"{body}：{excerpt}"
        title = title or TITLES.get(row.kind, "Sprout")
    return OutgoingPush(row.id, row.recipient_id, row.kind, title or "Sprout", body or "", payload)


# -- delivery ------------------------------------------------------------------------------
def _schedule_again(push_id: int, due_at: datetime) -> None:
    """A job outbox row due when the quiet hours end: the relay (services mode, every 10 s)
    or the next inline relay (embedded mode) runs `deliver_push` then."""
    db.session.add(
        OutboxJob(
            function=JOB_NAME,
            args=[[push_id], {}],
            queue=JOB_QUEUE,
            state="pending",
            attempts=0,
            created_at=utcnow(),
            due_at=due_at,
        )
    )


def _set_state(push_id: int, states: tuple[str, ...], **values: Any) -> int:
    return db.session.execute(
        update(PushMessage)
        .where(PushMessage.id == push_id, PushMessage.state.in_(states))
        .values(**values)
        .execution_options(synchronize_session=False, preserve_rowcount=True)
    ).rowcount


def claim_daily_slot(user_id: int, day: str, cap: int) -> bool:
    """One of the day's `cap` pushes, taken in one UPDATE: exact across processes."""
    db.session.execute(insert_ignore(PushDailyCount, {"user_id": user_id, "day": day, "count": 0}))
    taken = db.session.execute(
        update(PushDailyCount)
        .where(
            PushDailyCount.user_id == user_id,
            PushDailyCount.day == day,
            PushDailyCount.count < cap,
        )
        .values(count=PushDailyCount.count + 1)
        .execution_options(synchronize_session=False, preserve_rowcount=True)
    ).rowcount
    return taken == 1


def deliver(push_id: int, *, now: datetime | None = None) -> str:
    """Take one push as far as it can go now; returns its state. Commits."""
    config = notification_config()
    now = now or utcnow()
    row = db.session.get(PushMessage, push_id)
    if row is None or row.state in ("sent", "skipped"):
        db.session.rollback()
        return row.state if row is not None else "gone"
    if row.state in ("pending", "held"):
        zone = user_zone(row.recipient_id, config)
        if row.kind in muted_types(row.recipient_id):
            _set_state(push_id, ("pending", "held"), state="skipped", reason="muted")
            db.session.commit()
            return "skipped"
        release = quiet_until(now, zone, config.quiet_hours)
        if release is not None:
            if _set_state(push_id, ("pending", "held"), state="held", due_at=release):
                _schedule_again(push_id, release)
            db.session.commit()
            return "held"
        if not _set_state(push_id, ("pending", "held"), state="claimed", attempts=1):
            db.session.rollback()  # another run took it
            return "taken"
        if not claim_daily_slot(row.recipient_id, local_day(now, zone), config.daily_cap):
            _set_state(push_id, ("claimed",), state="skipped", reason="daily_cap")
            db.session.commit()
            return "skipped"
        db.session.commit()
    else:  # claimed by an earlier attempt that failed to send: counted already
        _set_state(push_id, ("claimed",), attempts=PushMessage.attempts + 1)
        db.session.commit()
    row = db.session.get(PushMessage, push_id)
    assert row is not None
    outgoing = render(row)
    try:
        sender_for(config).send(outgoing)
    except Exception as exc:
        db.session.rollback()
        _set_state(push_id, ("claimed",), last_error=str(exc)[:2000])
        db.session.commit()
        raise
    _set_state(
        push_id,
        ("claimed",),
        state="sent",
        sent_at=utcnow(),
        title=outgoing.title,
        body=outgoing.body,
    )
    db.session.commit()
    return "sent"
