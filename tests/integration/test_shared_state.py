"""One truth across processes: what one gunicorn worker learns, every worker knows.

Each test starts the real deployment (`topology`: three gunicorn workers on SQLite, sharing
the data directory; and PostgreSQL + Redis + an RQ worker) and speaks plain HTTP to it. A
client opens a new connection per request, so consecutive requests land on different
workers, as a phone's requests do behind a load balancer."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from sqlalchemy import create_engine, text

from benchmarks.synthetic import generate
from tests.integration.conftest import Topology
from tests.integration.servers import call

PASSWORD = "long-password-1"


def _register(top: Topology, username: str, *roles: str) -> str:
    response = call(
        top.api, "POST", "/auth/register", body={"username": username, "password": PASSWORD}
    )
    assert response.status == 201, response
    if roles:
        engine = create_engine(top.database_url)
        with engine.begin() as conn:
            user_id = response.body["user"]["id"]
            for role in roles:
                conn.execute(
                    text(
                        "INSERT INTO user_roles (user_id, role, granted_at)"
                        " VALUES (:u, :r, CURRENT_TIMESTAMP)"
                    ),
                    {"u": user_id, "r": role},
                )
        engine.dispose()
    return response.body["token"]


def _community(top: Topology, notes: int = 400) -> None:
    engine = create_engine(top.database_url)
    generate(engine, users=60, notes=notes, interactions=3000, seed=7)
    engine.dispose()


def _pages(top: Topology, token: str | None, count: int, limit: int = 20) -> list[list[int]]:
    pages, cursor = [], None
    for _ in range(count):
        path = f"/feeds/discover?limit={limit}" + (f"&cursor={quote(cursor)}" if cursor else "")
        response = call(top.api, "GET", path, token)
        assert response.status == 200, response
        pages.append([item["id"] for item in response.body["items"]])
        cursor = response.body["next_cursor"]
        assert cursor, f"the feed ended after {len(pages)} pages"
    return pages


# Each process checks the snapshot versions every 5 s: 6 s after a change all have seen it.
PROPAGATION_SECONDS = 6.0


def test_ten_discover_pages_never_repeat_a_note(topology: Callable[..., Topology]) -> None:
    top = topology()
    _community(top)
    token = _register(top, "reader")
    for viewer in (token, None):  # signed in, and anonymous
        pages = _pages(top, viewer, 10)
        served = [n for page in pages for n in page]
        assert all(pages), [len(page) for page in pages]
        repeats = len(served) - len(set(served))
        assert repeats == 0, f"{repeats} repeats in 10 pages ({'signed in' if viewer else 'anon'})"


def test_a_new_positioned_pick_leads_every_new_users_feed_within_6_s(
    topology: Callable[..., Topology],
) -> None:
    top = topology()
    _community(top, notes=200)
    editor = _register(top, "editor1", "editor")
    # Every worker builds its picks snapshot before the pick exists.
    for i in range(9):
        _pages(top, _register(top, f"warm{i}"), 1)
    engine = create_engine(top.database_url)
    with engine.begin() as conn:  # the least visible note: it can only lead as a pick
        quiet = conn.execute(
            text("SELECT id FROM notes WHERE status = 'published' ORDER BY hot_score LIMIT 1")
        ).scalar_one()
    engine.dispose()
    made = call(
        top.api,
        "POST",
        "/editor/picks",
        editor,
        body={"note_id": quiet, "slot": "home", "position": 1},
    )
    assert made.status == 201, made
    # Six seconds on, every worker must have it: nine new users in a row, whichever
    # workers serve them (timed from the change, so a slow machine cannot fail it).
    time.sleep(PROPAGATION_SECONDS)
    firsts = [_pages(top, _register(top, f"new{i}"), 1)[0][0] for i in range(9)]
    assert firsts == [quiet] * 9, f"the pick led {firsts.count(quiet)} of 9 feeds after 6 s"


def test_a_new_keyword_is_enforced_by_every_worker_within_6_s(
    topology: Callable[..., Topology],
) -> None:
    top = topology()
    author = _register(top, "author")
    moderator = _register(top, "mod1", "moderator")
    commenter = _register(top, "commenter")
    note = call(
        top.api,
        "POST",
        "/notes",
        author,
        body={"title": "周末", "body": "去哪里玩", "status": "published"},
    )
    assert note.status == 201, note
    path = f"/notes/{note.body['id']}/comments"
    for i in range(9):  # every worker builds its keyword filter before the keyword exists
        assert call(top.api, "POST", path, commenter, body={"body": f"好看 {i}"}).status == 201
    added = call(
        top.api,
        "POST",
        "/moderation/keywords",
        moderator,
        body={"word": "青蛙泡泡糖", "category": "spam_ads", "action": "block"},
    )
    assert added.status == 201, added
    time.sleep(PROPAGATION_SECONDS)  # then every worker must enforce it, twelve in a row
    statuses = [
        call(top.api, "POST", path, commenter, body={"body": f"青 蛙 泡 泡 糖 {i}"}).status
        for i in range(12)
    ]
    assert statuses == [422] * 12, f"the keyword was enforced {statuses.count(422)} of 12 times"


def test_the_login_limit_is_counted_once_across_workers(
    topology: Callable[..., Topology],
) -> None:
    top = topology({"SPROUT_RATE_LIMITS": "login=20/minute"})
    _register(top, "victim")
    statuses = [
        call(
            top.api, "POST", "/auth/login", body={"username": "victim", "password": "wrong-pass"}
        ).status
        for _ in range(45)
    ]
    assert statuses.count(401) == 20, statuses
    assert statuses[20:] == [429] * 25, statuses
    limited = call(
        top.api, "POST", "/auth/login", body={"username": "victim", "password": PASSWORD}
    )
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
