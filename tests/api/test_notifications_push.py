"""The push outbox: written with the notification, delivered by an idempotent job through
the configured sender, held through quiet hours (then sent), capped per user per day."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import insert_note as make_note


def deliver(kind, recipient, actor=None, note=None, comment=None, payload=None):
    from app.notifications.jobs import deliver_notification

    deliver_notification(kind, recipient, actor, note, comment, payload)


def configure(app, **values):
    from app.notifications.config import (
        NotificationConfig,
        set_notification_config,
    )

    set_notification_config(app, NotificationConfig(**values))


def pushes(user_id):
    from app.core.extensions import db
    from app.notifications.models import PushMessage

    db.session.expire_all()
    return db.session.query(PushMessage).filter_by(recipient_id=user_id).order_by(PushMessage.id)


class Recorder(BaseHTTPRequestHandler):
    """A push gateway: records every POST; fails the first `fail_first` of them."""

    received: list  # set per server
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        server.calls += 1
        if server.calls <= server.fail_first:
            self.send_response(503)
            self.end_headers()
            return
        server.received.append((dict(self.headers), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.received, server.calls, server.fail_first = [], 0, 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_likes_push_once_per_group_worded_when_sent(app, api, gateway):
    configure(
        app,
        push_sender="webhook",
        webhook_url=f"http://127.0.0.1:{gateway.server_port}/push",
        quiet_hours=None,
    )
    me = api.register("author")["id"]
    fans = [api.register(f"fan{i}", nickname=f"小{chr(65 + i)}")["id"] for i in range(3)]
    note = make_note(me, "笔记")
    for fan in fans:
        deliver("like", me, fan, note)
    deliver("collect", me, fans[0], note)  # not a phone's business
    deliver("comment", me, fans[1], note, None, {"excerpt": "好看"})
    rows = list(pushes(me))
    assert [(p.kind, p.state) for p in rows] == [("like", "sent"), ("comment", "sent")]
    bodies = [body for _, body in gateway.received]
    assert bodies[0]["body"] == "小A 赞了你的笔记" and bodies[0]["user_id"] == me
    assert bodies[1]["body"] == "小B 评论了你的笔记：好看"
    headers = gateway.received[0][0]
    assert headers["Idempotency-Key"] == f"push-{rows[0].id}"
    assert headers["Content-Type"] == "application/json"


def test_webhook_retries_and_the_job_is_idempotent(app, api, gateway):
    from app.notifications.push import deliver as deliver_push

    configure(
        app,
        push_sender="webhook",
        webhook_url=f"http://127.0.0.1:{gateway.server_port}/push",
        quiet_hours=None,
        webhook_attempts=3,
    )
    gateway.fail_first = 2  # two 503s, then accepted: one delivery, retried inside
    me = api.register("meme")["id"]
    deliver("follow", me, api.register("fan")["id"])
    (row,) = pushes(me)
    assert row.state == "sent" and len(gateway.received) == 1 and gateway.calls == 3
    assert deliver_push(row.id) == "sent"  # run again: nothing sent again
    assert len(gateway.received) == 1


def test_a_failed_send_is_retried_by_the_outbox_and_counted_once(app, api):
    from app.core.extensions import db
    from app.core.jobs.models import OutboxJob
    from app.notifications.models import PushDailyCount
    from app.notifications.push import deliver as deliver_push

    configure(
        app,
        push_sender="webhook",
        webhook_url="http://127.0.0.1:9/nothing-listens-here",
        webhook_timeout=0.5,
        webhook_attempts=1,
        quiet_hours=None,
    )
    me = api.register("meme")["id"]
    deliver("follow", me, api.register("fan")["id"])
    (row,) = pushes(me)
    assert row.state == "claimed" and "unreachable" in row.last_error
    kept = db.session.query(OutboxJob).filter_by(function="app.notifications.jobs:deliver_push")
    assert [job.state for job in kept] == ["pending"]  # the outbox retries it after a back-off
    configure(app, push_sender="log", quiet_hours=None)
    assert deliver_push(row.id) == "sent"
    assert deliver_push(row.id) == "sent"
    assert db.session.query(PushDailyCount).filter_by(user_id=me).one().count == 1


def test_quiet_hours_hold_pushes_and_send_them_after(app, api):
    from app.core.extensions import db
    from app.core.jobs.models import OutboxJob
    from app.notifications.config import QuietHours
    from app.notifications.push import deliver as deliver_push

    # Quiet hours around now, in the user's own zone.
    now = datetime.now(UTC)
    zone_now = now.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    start = (zone_now - timedelta(hours=1)).time().replace(minute=0, second=0, microsecond=0)
    end = (zone_now + timedelta(hours=2)).time().replace(minute=0, second=0, microsecond=0)
    configure(app, quiet_hours=QuietHours(start, end), timezone="UTC")
    me = api.register("meme")["id"]
    api.put("/me/notification-settings", "meme", json={"timezone": "Asia/Tokyo"})
    deliver("follow", me, api.register("fan")["id"])
    (row,) = pushes(me)
    assert row.state == "held" and row.due_at > now
    release = row.due_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert release.time() == end and release - zone_now < timedelta(hours=2, minutes=1)
    again = (
        db.session.query(OutboxJob)
        .filter_by(function="app.notifications.jobs:deliver_push", state="pending")
        .one()
    )
    assert again.args == [[row.id], {}] and again.due_at == row.due_at
    assert deliver_push(row.id) == "held"  # still quiet: held again, not dropped
    assert deliver_push(row.id, now=row.due_at + timedelta(seconds=1)) == "sent"
    # Outside quiet hours a push goes at once.
    configure(app, quiet_hours=None)
    deliver("system", me, payload={"text": "hello"})
    assert [p.state for p in pushes(me)] == ["sent", "sent"]


def test_quiet_hours_across_midnight():
    from zoneinfo import ZoneInfo

    from app.notifications.config import parse_quiet_hours
    from app.notifications.push import quiet_until

    quiet = parse_quiet_hours("22-8")
    shanghai = ZoneInfo("Asia/Shanghai")
    at = datetime(2026, 3, 1, 23, 30, tzinfo=shanghai)
    assert quiet_until(at, shanghai, quiet) == datetime(2026, 3, 2, 8, tzinfo=shanghai)
    at = datetime(2026, 3, 2, 7, 59, tzinfo=shanghai)
    assert quiet_until(at, shanghai, quiet) == datetime(2026, 3, 2, 8, tzinfo=shanghai)
    assert quiet_until(datetime(2026, 3, 2, 8, tzinfo=shanghai), shanghai, quiet) is None
    assert quiet_until(datetime(2026, 3, 2, 21, 59, tzinfo=shanghai), shanghai, quiet) is None
    assert parse_quiet_hours("off") is None
    assert parse_quiet_hours("22:30-07:15").end == time(7, 15)
    with pytest.raises(ValueError):
        parse_quiet_hours("25-8")


def test_daily_cap_skips_the_rest_with_a_reason(app, api):
    configure(app, quiet_hours=None, daily_cap=3)
    me = api.register("meme")["id"]
    for i in range(5):
        deliver("follow", me, api.register(f"fan{i}")["id"])
        deliver("system", me, payload={"title": f"通知{i}", "text": "内容"})
    rows = list(pushes(me))
    # follows group into one push; 5 system notices: 6 pushes, 3 sent, 3 skipped.
    assert [p.state for p in rows] == ["sent"] * 3 + ["skipped"] * 3
    assert {p.reason for p in rows if p.state == "skipped"} == {"daily_cap"}
    assert rows[1].title == "通知0" and rows[1].body == "内容"


def test_daily_cap_is_exact_under_concurrent_deliveries(app, api):
    from app.core.extensions import db, remove_session
    from app.core.jobs import commit
    from app.notifications.push import deliver as deliver_push
    from app.notifications.services import send_system

    configure(app, quiet_hours=None, daily_cap=4)
    me = api.register("meme")["id"]
    configure(app, quiet_hours=QuietLater(), daily_cap=4)  # queue them without sending
    for i in range(12):
        send_system(me, "system", f"t{i}", "b")
    commit()
    ids = [p.id for p in pushes(me)]
    assert len(ids) == 12
    configure(app, quiet_hours=None, daily_cap=4)
    db.session.rollback()  # SQLite: this thread's transaction would hold the write lock
    barrier = threading.Barrier(len(ids))
    results = []

    def run(push_id):
        with app.app_context():
            try:
                barrier.wait()
                results.append(deliver_push(push_id))
            finally:
                remove_session(db.state.session)

    threads = [threading.Thread(target=run, args=(push_id,)) for push_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["sent"] * 4 + ["skipped"] * 8
    assert sorted(p.state for p in pushes(me)) == ["sent"] * 4 + ["skipped"] * 8


def QuietLater():
    """Quiet hours covering now, whatever the time: every push is held."""
    from app.notifications.config import QuietHours

    return QuietHours(time(0, 0), time(23, 59, 59))


def test_muted_types_are_not_pushed(app, api):
    configure(app, quiet_hours=None)
    me = api.register("meme")["id"]
    api.put("/me/notification-settings", "meme", json={"muted_types": ["follow"]})
    deliver("follow", me, api.register("fan")["id"])
    assert list(pushes(me)) == []


def test_config_from_the_environment():
    from app.notifications.config import from_env

    config = from_env({})
    assert (config.push_sender, config.daily_cap, config.timezone) == ("log", 5, "Asia/Shanghai")
    assert config.quiet_hours.start == time(22) and config.quiet_hours.end == time(8)
    config = from_env(
        {
            "SPROUT_PUSH_SENDER": "webhook",
            "SPROUT_PUSH_WEBHOOK_URL": "http://x/push",
            "SPROUT_PUSH_DAILY_CAP": "2",
            "SPROUT_PUSH_QUIET_HOURS": "off",
        }
    )
    assert (config.push_sender, config.daily_cap, config.quiet_hours) == ("webhook", 2, None)
    for bad in (
        {"SPROUT_PUSH_SENDER": "carrier-pigeon"},
        {"SPROUT_PUSH_SENDER": "webhook"},
        {"SPROUT_PUSH_QUIET_HOURS": "late"},
        {"SPROUT_PUSH_TIMEZONE": "Nowhere/City"},
    ):
        with pytest.raises(ValueError):
            from_env(bad)
