"""Feed experiments: the admin API, deterministic assignment, serving an arm's blend,
impressions tagged with the arm, and the report's counts and intervals."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import numpy as np
from flask import Flask

from app.experiments import serving
from ranking.config import RANKING
from tests.conftest import assert_error, insert_note, make_app

ONLY_HOT = {
    "interest": 0.0,
    "cf": 0.0,
    "hot": 1.0,
    "explore": 0.0,
    "pick": 0.0,
    "boost": 0.0,
    "following": 0.0,
    "session": 0.0,
}


def _payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Hot only",
        "description": "Does ranking by hot alone engage more?",
        "feed": "discover",
        "traffic_share": 1.0,
        "arms": [
            {"key": "control", "share": 1, "weights": {}},
            {"key": "hot", "share": 1, "weights": ONLY_HOT},
        ],
    }
    body.update(overrides)
    return body


def _staff(api) -> None:
    api.register("boss")
    api.grant("boss", "admin")
    api.register("eddie")
    api.grant("eddie", "editor")
    api.register("plain")


def _create(api, **overrides: Any) -> dict[str, Any]:
    response = api.post("/admin/experiments", "boss", json=_payload(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _log_actions(api) -> list[tuple[str, int]]:
    page = api.get("/editor/log?limit=50", "eddie").get_json()
    return [
        (entry["action"], entry["target_id"])
        for entry in page["items"]
        if entry["target_type"] == "experiment"
    ]


def test_admins_manage_experiments_editors_read_them_users_do_neither(api):
    _staff(api)
    assert_error(api.post("/admin/experiments", json=_payload()), 401)
    assert_error(api.post("/admin/experiments", "plain", json=_payload()), 403)
    assert_error(api.post("/admin/experiments", "eddie", json=_payload()), 403)
    assert_error(api.get("/admin/experiments", "plain"), 403)

    created = _create(api)
    assert created["status"] == "draft" and created["feed"] == "discover"
    assert [arm["key"] for arm in created["arms"]] == ["control", "hot"]
    assert [arm["share"] for arm in created["arms"]] == [0.5, 0.5]  # normalised
    assert [arm["control"] for arm in created["arms"]] == [True, False]
    assert created["arms"][1]["blend"]["hot"] == 1.0
    assert created["arms"][1]["blend"]["cf"] == 0.0
    assert created["arms"][0]["blend"]["cf"] > 0  # the feed's default stays
    experiment_id = created["id"]

    listed = api.get("/admin/experiments", "eddie")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.get_json()["items"]] == [experiment_id]
    report = api.get(f"/admin/experiments/{experiment_id}", "eddie")
    assert report.status_code == 200, report.get_json()
    assert [row["impressions"] for row in report.get_json()["report"]] == [0, 0]
    assert_error(api.get(f"/admin/experiments/{experiment_id}", "plain"), 403)
    assert_error(api.get("/admin/experiments/999999", "eddie"), 404, "experiment_not_found")

    for user in ("plain", "eddie"):
        assert_error(api.post(f"/admin/experiments/{experiment_id}/start", user), 403)
    started = api.post(f"/admin/experiments/{experiment_id}/start", "boss")
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["status"] == "running" and started.get_json()["started_at"]
    assert_error(
        api.post(f"/admin/experiments/{experiment_id}/start", "boss"), 409, "experiment_not_draft"
    )
    assert_error(api.post(f"/admin/experiments/{experiment_id}/stop", "eddie"), 403)
    stopped = api.post(f"/admin/experiments/{experiment_id}/stop", "boss")
    assert stopped.status_code == 200
    assert stopped.get_json()["status"] == "stopped" and stopped.get_json()["stopped_at"]
    assert_error(
        api.post(f"/admin/experiments/{experiment_id}/stop", "boss"), 409, "experiment_not_running"
    )
    assert_error(api.post("/admin/experiments/999999/start", "boss"), 404)

    # Every write is in the editorial log, newest first; refused ones are not.
    assert _log_actions(api) == [
        ("experiment_stop", experiment_id),
        ("experiment_start", experiment_id),
        ("experiment_create", experiment_id),
    ]


def test_bad_input_is_refused_in_the_envelope_and_changes_nothing(api):
    _staff(api)
    arms = _payload()["arms"]
    bad_bodies = [
        _payload(arms=[{**arms[0]}, {**arms[1], "weights": {"popularity": 1.0}}]),
        _payload(arms=[{**arms[0]}, {**arms[1], "weights": {"hot": -1}}]),
        _payload(arms=[{**arms[0]}, {**arms[1], "weights": {"hot": "1"}}]),
        _payload(arms=[{**arms[0]}, {**arms[1], "weights": {"hot": 1e400}}]),  # inf
        _payload(arms=[{**arms[0]}, {**arms[1], "share": 0}]),
        _payload(arms=[arms[0]]),
        _payload(arms=[arms[0], {**arms[1], "key": "control"}]),
        _payload(arms=[{**arms[0], "control": True}, {**arms[1], "control": True}]),
        _payload(arms=[arms[0], {**arms[1], "key": "Not A Key!"}]),
        _payload(traffic_share=0),
        _payload(traffic_share=1.5),
        _payload(feed="following"),
        _payload(name=""),
        {"feed": "discover"},
    ]
    for body in bad_bodies:
        error = assert_error(api.post("/admin/experiments", "boss", json=body), 400)
        assert error["details"]["fields"], body
    # Every signal at 0 would rank nothing: refused as a semantic error.
    zero = {signal: 0.0 for signal in ONLY_HOT}
    assert_error(
        api.post(
            "/admin/experiments",
            "boss",
            json=_payload(arms=[arms[0], {**arms[1], "weights": zero}]),
        ),
        422,
        "blend_without_weight",
    )
    assert_error(
        api.post(
            "/admin/experiments",
            "boss",
            data="name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
    )
    assert api.get("/admin/experiments", "boss").get_json()["items"] == []
    assert _log_actions(api) == []


def test_one_experiment_runs_per_feed_and_of_two_concurrent_starts_one_wins(api, app):
    _staff(api)
    first = _create(api, name="A")["id"]
    second = _create(api, name="B")["id"]
    on_channels = _create(api, name="C", feed="channel")["id"]
    headers = api.headers("boss")
    barrier = threading.Barrier(2)
    results: dict[int, Any] = {}

    def start(experiment_id: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/admin/experiments/{experiment_id}/start", headers=headers)
        results[experiment_id] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=start, args=(i,)) for i in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 409], results
    winner = next(i for i, (status, _) in results.items() if status == 200)
    loser = next(i for i, (status, _) in results.items() if status == 409)
    assert results[loser][1]["error"]["code"] == "experiment_already_running"
    states = {
        item["id"]: item["status"]
        for item in api.get("/admin/experiments", "eddie").get_json()["items"]
    }
    assert states == {first: states[first], second: states[second], on_channels: "draft"}
    assert sorted([states[first], states[second]]) == ["draft", "running"]
    assert states[winner] == "running"

    # Another feed is independent; the loser starts once the winner stops.
    assert api.post(f"/admin/experiments/{on_channels}/start", "boss").status_code == 200
    assert_error(
        api.post(f"/admin/experiments/{loser}/start", "boss"), 409, "experiment_already_running"
    )
    assert api.post(f"/admin/experiments/{winner}/stop", "boss").status_code == 200
    assert api.post(f"/admin/experiments/{loser}/start", "boss").status_code == 200


def _assignments(application: Flask, keys: list[str]) -> list[str | None]:
    with application.app_context():
        experiment = serving.running_snapshot.get()["discover"]
        return [
            arm.key if (arm := serving.assign(experiment, key)) is not None else None
            for key in keys
        ]


def test_assignment_is_deterministic_across_apps_and_keeps_the_shares(
    api, app, database_url, tmp_path
):
    _staff(api)
    experiment = _create(
        api,
        traffic_share=0.5,
        arms=[
            {"key": "control", "share": 1, "weights": {}},
            {"key": "hot", "share": 3, "weights": ONLY_HOT},
        ],
    )
    assert api.post(f"/admin/experiments/{experiment['id']}/start", "boss").status_code == 200
    keys = [str(n) for n in range(1, 2001)]
    here = _assignments(app, keys)
    other = make_app(database_url, tmp_path / "other-process")
    try:
        there = _assignments(other, keys)
    finally:
        with other.app_context():
            from app.core.extensions import db

            db.engine.dispose()
    assert here == there  # the same viewer, the same arm, in another app on the same data
    assert here == _assignments(app, keys)  # and again
    enrolled = [arm for arm in here if arm is not None]
    # 2,000 viewers: the standard error of a share is at most 1.2 points.
    assert abs(len(enrolled) / len(keys) - 0.5) < 0.05
    assert abs(enrolled.count("hot") / len(enrolled) - 0.75) < 0.06
    # Stopped: nobody is enrolled, in any app.
    assert api.post(f"/admin/experiments/{experiment['id']}/stop", "boss").status_code == 200
    with app.app_context():
        assert serving.running_snapshot.get() == {}


class _Context:
    """What `ranking_config` reads of a `RequestContext`, with learned blend weights."""

    def __init__(self) -> None:
        self.feed = "discover"
        self.blend_params: dict[str, float] | None = {"hot": 9.0}


def _viewer_in(api, app, arm_key: str, prefix: str) -> dict[str, Any]:
    """Register editors until one falls into `arm_key` (the salt is random per experiment)."""
    from app.accounts.models import User
    from app.core.extensions import db

    for n in range(60):
        user = api.register(f"{prefix}{n}")
        arm = serving.viewer_arm(db.session.get(User, user["id"]), "discover")
        if arm is not None and arm.key == arm_key:
            api.grant(f"{prefix}{n}", "editor")
            return {"name": f"{prefix}{n}", **user}
    raise AssertionError(f"no viewer fell into {arm_key}")


def test_enrolled_viewers_are_ranked_by_their_arm_and_impressions_carry_it(api, app):
    from sqlalchemy import select

    from app.core.extensions import db
    from app.feeds.impressions import flush_impressions
    from app.feeds.models import NoteEvent

    _staff(api)
    authors = [api.register(f"author{i}") for i in range(12)]
    notes = [
        insert_note(
            authors[i % 12]["id"],
            f"n{i}",
            ago=i * 7,
            channel_code=("food", "travel", "pets", "beauty")[i % 4],
            like_count=(i * 37) % 90,
            collect_count=i % 5,
        )
        for i in range(48)
    ]
    experiment = _create(api)
    arms = {arm["key"]: arm["id"] for arm in experiment["arms"]}
    assert api.post(f"/admin/experiments/{experiment['id']}/start", "boss").status_code == 200
    treated = _viewer_in(api, app, "hot", "treated")
    control = _viewer_in(api, app, "control", "control")
    for viewer in (treated, control):  # a little history: not a cold start
        assert api.post(f"/notes/{notes[-1]}/like", viewer["name"]).status_code in (200, 201)

    def page(viewer: str | None) -> list[dict[str, Any]]:
        response = api.get("/feeds/discover?limit=10" + ("&explain=1" if viewer else ""), viewer)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["items"]

    hot_page = page(treated["name"])
    assert len(hot_page) == 10
    for card in hot_page:  # every weight but hot's is 0: the score is the hot component
        assert abs(card["explain"]["score"] - card["explain"]["components"].get("hot", 0)) < 1e-5
    scores = [card["explain"]["score"] for card in hot_page]
    assert scores[0] == max(scores) > 0
    default_page = page(control["name"])
    assert any(
        abs(card["explain"]["score"] - card["explain"]["components"].get("hot", 0)) > 1e-3
        for card in default_page
    )
    anonymous_page = page(None)
    assert anonymous_page
    # The pipeline's configuration for each: the arm's weights win over learned ones.
    from app.accounts.models import User

    context = _Context()
    config = serving.ranking_config(db.session.get(User, treated["id"]), context)
    assert dict(config.feeds["discover"].weights) == ONLY_HOT and context.blend_params is None
    context = _Context()  # the control arm (no overrides) is served as everyone else
    assert serving.ranking_config(db.session.get(User, control["id"]), context) is RANKING
    assert context.blend_params == {"hot": 9.0}
    assert serving.ranking_config(None, context) is RANKING

    flush_impressions(10_000)
    if db.engine.dialect.name == "sqlite":  # stored as the ORM stores times there: naive UTC
        from sqlalchemy import text

        raw = db.session.scalars(text("SELECT created_at FROM note_events")).all()
        assert raw and not [value for value in raw if "+" in str(value)]
    rows = db.session.execute(
        select(NoteEvent.user_id, NoteEvent.note_id, NoteEvent.experiment_arm_id).where(
            NoteEvent.kind == "impression"
        )
    ).all()
    by_user: dict[int | None, set[int | None]] = {}
    for user_id, _, arm_id in rows:
        by_user.setdefault(user_id, set()).add(arm_id)
    assert by_user[treated["id"]] == {arms["hot"]}
    assert by_user[control["id"]] == {arms["control"]}
    assert by_user[None] == {None}  # anonymous viewers are not enrolled
    assert {note for user, note, _ in rows if user == treated["id"]} == {
        card["id"] for card in hot_page
    }

    # Stopped: the treated viewer is ranked by the default blend again, and what they are
    # served (here the rest of the pages ranked ahead for them) is no longer tagged.
    assert api.post(f"/admin/experiments/{experiment['id']}/stop", "boss").status_code == 200
    assert serving.viewer_arm(db.session.get(User, treated["id"]), "discover") is None
    assert serving.ranking_config(db.session.get(User, treated["id"]), _Context()) is RANKING
    after = api.get("/feeds/discover?limit=10", treated["name"]).get_json()["items"]
    assert after
    flush_impressions(10_000)
    latest = db.session.scalars(
        select(NoteEvent.experiment_arm_id).where(
            NoteEvent.user_id == treated["id"],
            NoteEvent.note_id.in_([card["id"] for card in after]),
            NoteEvent.kind == "impression",
            NoteEvent.created_at
            >= db.session.scalar(
                select(NoteEvent.created_at)
                .where(NoteEvent.user_id == treated["id"])
                .order_by(NoteEvent.created_at.desc())
                .limit(1)
            ),
        )
    ).all()
    assert latest and set(latest) == {None}


def _users(count: int, prefix: str) -> list[int]:
    from app.accounts.models import User
    from app.core.extensions import db

    users = [
        User(username=f"{prefix}{i}", nickname=f"{prefix}{i}", password_hash="x")
        for i in range(count)
    ]
    db.session.add_all(users)
    db.session.commit()
    return [user.id for user in users]


def test_the_report_counts_engagements_per_arm_with_intervals_that_hold_the_true_rates(api):
    from sqlalchemy import insert, update

    from app.core.extensions import db
    from app.core.models import utcnow
    from app.experiments.models import Experiment
    from app.feeds.models import NoteEvent
    from app.notes.models import Album, Collect, Comment, NoteLike
    from app.social.models import UserFollow

    _staff(api)
    author = api.register("author")
    notes = [insert_note(author["id"], f"r{i}") for i in range(12)]
    experiment = _create(api)
    arms = {arm["key"]: arm["id"] for arm in experiment["arms"]}
    assert api.post(f"/admin/experiments/{experiment['id']}/start", "boss").status_code == 200
    now = utcnow()
    start = now - timedelta(hours=3)
    db.session.execute(
        update(Experiment).where(Experiment.id == experiment["id"]).values(started_at=start)
    )
    db.session.commit()

    # Each viewer sees 10 notes; each impression is liked with the arm's true probability.
    true_rate = {"control": 0.2, "hot": 0.4}
    rng = np.random.default_rng(7)
    expected = {key: {"viewers": 0, "impressions": 0, "engagements": 0} for key in arms}
    events: list[dict[str, Any]] = []
    likes: list[dict[str, Any]] = []
    for key, arm_id in arms.items():
        viewers = _users(120, f"{key}-viewer")
        for viewer in viewers:
            shown_at = start + timedelta(minutes=int(rng.integers(1, 100)))
            for note in notes[:10]:
                events.append(
                    {
                        "user_id": viewer,
                        "note_id": note,
                        "kind": "impression",
                        "source": "hot",
                        "experiment_arm_id": arm_id,
                        "created_at": shown_at,
                    }
                )
                if rng.random() < true_rate[key]:
                    likes.append(
                        {
                            "user_id": viewer,
                            "note_id": note,
                            "created_at": shown_at + timedelta(seconds=30),
                        }
                    )
                    expected[key]["engagements"] += 1
            expected[key]["viewers"] += 1
            expected[key]["impressions"] += 10
    db.session.execute(insert(NoteEvent), events)
    db.session.execute(insert(NoteLike), likes)

    # One control viewer: a collect, a comment and a follow from a note they were shown count;
    # a like before the impression, a like on a note never shown, and a like after the
    # experiment's end do not; nor does anything by a viewer outside the experiment.
    viewer = events[0]["user_id"]
    shown_at = events[0]["created_at"]
    liked = {(like["user_id"], like["note_id"]) for like in likes}
    album = Album(owner_id=viewer, name="default", is_default=True)
    db.session.add(album)
    db.session.flush()
    db.session.add(
        Collect(
            user_id=viewer,
            note_id=notes[0],
            album_id=album.id,
            created_at=shown_at + timedelta(minutes=1),
        )
    )
    db.session.add_all(
        [
            Comment(
                note_id=notes[1],
                author_id=viewer,
                body="好",
                created_at=shown_at + timedelta(minutes=2),
            ),
            Comment(
                note_id=notes[1],
                author_id=viewer,
                body="好2",
                created_at=shown_at + timedelta(minutes=3),
            ),
        ]
    )
    db.session.add(
        UserFollow(
            follower_id=viewer,
            followee_id=author["id"],
            source_note_id=notes[2],
            created_at=shown_at + timedelta(minutes=4),
        )
    )
    expected["control"]["engagements"] += 3  # two comments on one note are one engagement
    outsider = _users(1, "outsider")[0]
    db.session.add(NoteLike(user_id=outsider, note_id=notes[0], created_at=shown_at))
    late_viewer = events[-1]["user_id"]  # a hot viewer
    unshown = [note for note in notes if note not in notes[:10]]
    db.session.add(NoteLike(user_id=late_viewer, note_id=unshown[0], created_at=shown_at))
    not_liked = [note for note in notes[:10] if (late_viewer, note) not in liked]
    assert len(not_liked) >= 2
    # before it was shown: does not count (the impression could not have caused it)
    db.session.add(NoteLike(user_id=late_viewer, note_id=not_liked[0], created_at=start))
    db.session.commit()

    report = api.get(f"/admin/experiments/{experiment['id']}", "eddie")
    assert report.status_code == 200, report.get_json()
    body = report.get_json()
    rows = {row["key"]: row for row in body["report"]}
    for key in arms:
        row = rows[key]
        assert row["viewers"] == expected[key]["viewers"] == 120
        assert row["impressions"] == expected[key]["impressions"] == 1200
        assert row["engagements"] == expected[key]["engagements"], key
        assert row["rate"] == round(row["engagements"] / row["impressions"], 6)
        interval = row["interval"]
        assert interval["method"].startswith("viewer_bootstrap")
        assert interval["low"] < row["rate"] < interval["high"]
        assert interval["low"] <= true_rate[key] <= interval["high"], (key, interval)
        assert row["wilson"]["low"] < row["rate"] < row["wilson"]["high"]
    assert rows["control"]["engagements_by_kind"]["collect"] == 1
    assert rows["control"]["engagements_by_kind"]["comment"] == 1
    assert rows["control"]["engagements_by_kind"]["follow"] == 1
    assert rows["control"]["vs_control"] is None
    versus = rows["hot"]["vs_control"]
    assert versus["control"] == "control"
    assert abs(versus["difference"] - (rows["hot"]["rate"] - rows["control"]["rate"])) < 2e-6
    # The true difference (0.2) is inside the interval, and 0 is not: the arm really differs.
    assert versus["interval"]["low"] <= 0.2 <= versus["interval"]["high"]
    assert versus["interval"]["low"] > 0

    # After the stop, engagements no longer count.
    assert api.post(f"/admin/experiments/{experiment['id']}/stop", "boss").status_code == 200
    # shown, liked after the stop: outside the window (it would count were it still running)
    db.session.add(NoteLike(user_id=late_viewer, note_id=not_liked[1], created_at=utcnow()))
    db.session.commit()
    again = api.get(f"/admin/experiments/{experiment['id']}", "eddie").get_json()
    assert {row["key"]: row["engagements"] for row in again["report"]} == {
        key: rows[key]["engagements"] for key in arms
    }
    assert again["window"]["end"] is not None
