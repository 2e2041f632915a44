"""The console's dashboard: admin only (page and chart images), server-drawn SVG charts with
their numbers in tables, and the numbers match the activity the test creates."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from flask import g

from tests.api.console_client import Console

CHARTS = ("activity", "active-rate", "signups", "content", "queue", "decision-time", "reversals")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def console(client) -> Console:
    return Console(client)


def svg_texts(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)  # well-formed XML
    assert root.tag == f"{SVG}svg"
    assert not list(root.iter(f"{SVG}script")), "no script in a chart"
    return ["".join(el.itertext()) for el in root.iter() if el.text]


def table_row(html: str, caption: str, label: str) -> list[str]:
    """The cells of the row `label` in the data table captioned `caption`."""
    table = html.split(f'<caption class="muted">{caption}</caption>', 1)[1].split("</table>")[0]
    row = table.split(f'<th scope="row">{label}</th>', 1)[1].split("</tr>")[0]
    return re.findall(r"<td>([^<]*)</td>", row)


def test_only_admins_see_the_dashboard_and_its_charts(api, app, console):
    api.register("plain")
    api.register("eddie")
    api.grant("eddie", "editor", "moderator")
    for who in ("plain", "eddie"):
        g.pop("csrf_token", None)  # the test's app context (and its `g`) outlives a client
        console = Console(app.test_client())
        assert console.sign_in(who).status_code == 303
        assert console.get("/console/dashboard").status_code == 403
        for name in CHARTS:
            refused = console.get(f"/console/dashboard/charts/{name}.svg")
            assert refused.status_code == 403, name
            assert b"<svg" not in refused.data
    anonymous = Console(app.test_client()).get("/console/dashboard/charts/activity.svg")
    assert anonymous.status_code == 302


def seed(api):
    """Six members with sources, activity on known days, notes, comments and a decided case."""
    from app.accounts.models import User, UserActivityDay
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.notes.models import Comment, Note

    api.register("boss")
    api.grant("boss", "admin")
    ids = {}
    for name, source in [
        ("u1", "invite"),
        ("u2", "invite"),
        ("u3", "ad"),
        ("u4", "ad"),
        ("u5", "qr_offline"),
    ]:
        ids[name] = api.register(f"{name}_user", source=source)["id"]
    db.session.get(User, ids["u4"]).official = True
    now = utcnow()
    for user_id in ids.values():  # they signed up 20 days ago; the admin today
        db.session.get(User, user_id).created_at = now - timedelta(days=20)
    today = now.date()
    for name, days_ago in [("u1", 0), ("u1", 1), ("u2", 1), ("u2", 3), ("u3", 10), ("u5", 7)]:
        db.session.add(UserActivityDay(user_id=ids[name], day=today - timedelta(days=days_ago)))
    two_days_ago = now - timedelta(days=2)
    first = Note(author_id=ids["u1"], title="t", status="published", published_at=now)
    db.session.add_all(
        [
            first,
            Note(
                author_id=ids["u2"],
                title="t",
                status="published",
                published_at=two_days_ago,
                created_at=two_days_ago,
            ),
            Note(author_id=ids["u3"], title="draft", status="draft"),
        ]
    )
    db.session.flush()
    db.session.add_all(
        [
            Comment(note_id=first.id, author_id=ids["u3"], body="好看"),
            Comment(note_id=first.id, author_id=ids["u5"], body="求链接"),
        ]
    )
    db.session.commit()
    return ids, today


def test_the_dashboard_shows_charts_and_numbers_that_match_the_activity(api, console):
    from app.core.extensions import db
    from moderation.models import Case

    ids, today = seed(api)
    # an open case of severity 2 (spam) and a decided one, which is not in the queue
    for status, target in (("open", "u3"), ("decided", "u5")):
        db.session.add(
            Case(
                target_type="user",
                target_id=ids[target],
                target_user_id=ids["u3"],
                status=status,
                reason_code="spam_ads.repeated",
                severity=2,
            )
        )
    db.session.commit()
    console.sign_in("boss")
    response = console.get("/console/dashboard")
    assert response.status_code == 200
    html = response.text
    imgs = re.findall(r'<figure class="chart">\s*<img class="chart-img" src="([^"]+)"', html)
    assert len(imgs) == len(CHARTS)
    assert "<details>" in html and 'class="stats"' in html
    for src in imgs:
        assert src.startswith("/console/dashboard/charts/") and "days=30" in src
        svg_texts(console.get(src.replace("&amp;", "&")))

    day, yesterday = today.isoformat(), (today - timedelta(days=1)).isoformat()
    # DAU: boss (signed in today through the API) and u1; WAU also u2 (yesterday, 3 days ago)
    assert table_row(html, "日活与周活用户", day) == ["2", "3"]
    # yesterday's week reaches u5's day 7 days ago
    assert table_row(html, "日活与周活用户", yesterday) == ["2", "3"]
    # Members: not official u4: boss, u1, u2, u3, u5 (5). Spoke this week: u1, u2 (notes),
    # u3, u5 (comments): 80 %; yesterday: u2 alone, of 4 members (boss signed up today).
    assert table_row(html, "周活跃率与健康线（20%）", day) == ["80.0%", "20.0%", "4", "5"]
    assert table_row(html, "周活跃率与健康线（20%）", yesterday) == ["25.0%", "20.0%", "1", "4"]
    # Notes today: u1's (the draft is left out); comments: two
    assert table_row(html, "每日笔记与评论", day) == ["1", "2"]
    two_days = (today - timedelta(days=2)).isoformat()
    assert table_row(html, "每日笔记与评论", two_days) == ["1", "0"]
    # sign-ups by source: invite 2, ad 2, qr_offline 1 twenty days ago; boss (none) today
    twenty = (today - timedelta(days=20)).isoformat()
    assert table_row(html, "按来源的注册", twenty) == ["2", "2", "1", "0"]
    assert table_row(html, "按来源的注册", day) == ["0", "0", "0", "1"]
    assert table_row(html, "按严重程度的待处理案件", "2") == ["1"]
    # headline tiles
    tiles = dict(
        (label, value)
        for value, label in re.findall(r'<div class="stat"><b>([^<]*)</b>([^<]*)</div>', html)
    )
    assert tiles["注册用户"] == "6" and tiles["日活跃用户"] == "2" and tiles["待处理案件"] == "1"

    activity = svg_texts(console.get("/console/dashboard/charts/activity.svg"))
    assert "日活跃用户" in activity and "周活跃用户" in activity
    rate = svg_texts(console.get("/console/dashboard/charts/active-rate.svg?days=7"))
    assert "周活跃率" in rate and "健康线（20%）" in rate  # the 20 % reference line
    signups = svg_texts(console.get("/console/dashboard/charts/signups.svg"))
    assert {"invite", "ad", "qr_offline"} <= set(signups)
    queue = console.get("/console/dashboard/charts/queue.svg")
    assert (
        queue.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert "待处理案件" in svg_texts(queue)
    assert console.get("/console/dashboard/charts/nothing.svg").status_code == 404


def test_the_period_selector_and_english(api, console):
    seed(api)
    console.sign_in("boss")
    page = console.get("/console/dashboard?days=7").text
    assert page.count('<th scope="row">20') >= 7 * 3  # seven days in each daily table
    assert "days=7" in page and 'value="7" selected' in page
    assert 'value="30" selected' in console.get("/console/dashboard?days=13").text  # default
    console.get("/console/lang/en")
    english = console.get("/console/dashboard")
    assert "Daily and weekly active users" in english.text
    svg = svg_texts(console.get("/console/dashboard/charts/active-rate.svg"))
    assert "Health line (20%)" in svg and "Weekly active rate" in svg


def test_moderation_health_by_week(api, console):
    """A decided case: its hours to decision; a reversed action: the weekly reversal share."""
    from app.core.extensions import db
    from app.core.models import utcnow
    from moderation.models import Case, ModerationAction

    ids, _today = seed(api)
    now = utcnow()
    case = Case(
        target_type="user",
        target_id=ids["u3"],
        target_user_id=ids["u3"],
        status="decided",
        reason_code="spam_ads.repeated",
        severity=2,
        created_at=now - timedelta(hours=6),
        decided_at=now,
    )
    db.session.add(case)
    db.session.flush()
    for reversed_at in (now, None, None, None):
        db.session.add(
            ModerationAction(
                case_id=case.id,
                kind="warn",
                target_type="user",
                target_id=ids["u3"],
                user_id=ids["u3"],
                reason_code="spam_ads.repeated",
                reversed_at=reversed_at,
                created_at=now,
            )
        )
    db.session.commit()
    console.sign_in("boss")
    html = console.get("/console/dashboard?days=7").text
    week = (now.date() - timedelta(days=now.date().weekday())).isoformat()
    assert table_row(html, "每周中位处理时长", week) == ["6.00", "1"]
    assert table_row(html, "申诉后被撤销的处理占比", week) == ["25.0%", "4", "1"]
    svg = svg_texts(console.get("/console/dashboard/charts/decision-time.svg?days=7"))
    assert "处理时长中位数（小时）" in svg
