"""Admin statistics: content counts, DAU/WAU and the weekly active rate, signup sources."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import assert_error


def test_stats_need_admin(api):
    api.register("plain")
    api.register("editor")
    api.grant("editor", "editor", "moderator")
    assert_error(api.get("/admin/stats"), 401)
    assert_error(api.get("/admin/stats", "plain"), 403)
    assert_error(api.get("/admin/stats", "editor"), 403)


def test_stats_numbers(api):
    from app.accounts.models import User, UserActivityDay
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.notes.models import Comment, Note, Topic

    boss = api.register("boss")["id"]  # no signup source
    api.grant("boss", "admin")
    ids = {}
    for name, source in [
        ("u1", "invite"),
        ("u2", "invite"),
        ("u3", "ad"),
        ("u4", "ad"),
        ("u5", "qr_offline"),
        ("u6", "qr_offline"),
    ]:
        ids[name] = api.register(f"{name}_user", source=source)["id"]
    db.session.get(User, ids["u4"]).official = True

    now = utcnow()
    today = now.date()
    for name, days_ago in [("u1", 0), ("u1", 1), ("u2", 3), ("u3", 10), ("u5", 7)]:
        db.session.add(UserActivityDay(user_id=ids[name], day=today - timedelta(days=days_ago)))

    def note(author, status="published", days_ago=0, deleted=False):
        row = Note(
            author_id=ids[author],
            title="t",
            status=status,
            published_at=now - timedelta(days=days_ago) if status == "published" else None,
            deleted_at=now if deleted else None,
        )
        db.session.add(row)
        db.session.flush()
        return row.id

    first = note("u1")
    note("u1", days_ago=2)
    note("u2", status="draft")
    note("u3", deleted=True)
    note("u4", days_ago=20)
    db.session.add_all(
        [
            Comment(note_id=first, author_id=ids["u2"], body="好看"),
            Comment(note_id=first, author_id=ids["u3"], body="求链接"),
            Comment(note_id=first, author_id=ids["u3"], body="删了", deleted_at=now),
            Topic(name="穿搭"),
            Topic(name="护肤"),
        ]
    )
    db.session.commit()

    response = api.get("/admin/stats", "boss")  # the admin is active today too
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["counts"] == {
        "users": 7,
        "notes": 3,
        "comments": 2,
        "topics": 2,
        "official_accounts": 1,
    }
    health = body["health"]
    assert health["day"] == today.isoformat()
    assert health["dau"] == 2  # boss and u1
    assert health["wau"] == 3  # boss, u1, u2 (u5's day is 7 days ago: outside the week)
    assert health["weekly_visit_rate"] == 0.4286  # 3 / 7
    # Members exclude the official u4; u1 posted, u2 and u3 commented this week.
    assert health["members"] == 6 and health["weekly_contributors"] == 3
    assert health["weekly_active_rate"] == 0.5
    assert body["signup_sources"] == [
        {"source": "ad", "users": 2, "weekly_active": 0, "weekly_active_rate": 0.0},
        {"source": "invite", "users": 2, "weekly_active": 2, "weekly_active_rate": 1.0},
        {"source": "qr_offline", "users": 2, "weekly_active": 0, "weekly_active_rate": 0.0},
        {"source": None, "users": 1, "weekly_active": 1, "weekly_active_rate": 1.0},
    ]
    assert boss in {row.user_id for row in db.session.query(UserActivityDay).all()}
