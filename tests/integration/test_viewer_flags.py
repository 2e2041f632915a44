"""The viewer's own flags on cards (`liked`, `collected`) from their Redis set (services
mode, the real test Redis): exact at once after every change, read without a database query
once built, never stored from a read that a change overtook, and read from the database
when the set cannot be used."""

from __future__ import annotations

import pytest
import redis as redis_lib
from sqlalchemy import event

from tests.conftest import Api


def _flag_queries(engine):  # type: ignore[no-untyped-def]
    """Statements that read likes or collects, as they run."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if "note_likes" in statement and "collects" in statement:
            seen.append(statement)

    return seen, count


@pytest.fixture
def flagged(services_app):  # type: ignore[no-untyped-def]
    from tests.api.test_notes import image_note

    api = Api(services_app.test_client())
    api.register("flag_author")
    viewer = api.register("flag_viewer")
    notes = [image_note(api, "flag_author", title=f"旗{i}")["id"] for i in range(3)]
    return api, viewer["id"], notes


def _flags(api, notes):  # type: ignore[no-untyped-def]
    ids = ",".join(map(str, notes))
    items = api.get(f"/notes?ids={ids}", "flag_viewer").get_json()["items"]
    return [(card["liked"], card["collected"]) for card in items]


def test_flags_are_exact_at_once_and_read_from_the_set(services_app, flagged):
    from app.core.extensions import db

    api, viewer_id, notes = flagged
    connection = services_app.extensions["sprout.redis"]
    seen, listener = _flag_queries(db.engine)
    try:
        assert _flags(api, notes) == [(False, False)] * 3
        assert connection.sismember(f"sprout:flags:{viewer_id}", "*")  # built on the miss
        built = len(seen)
        assert _flags(api, notes) == [(False, False)] * 3
        assert len(seen) == built  # the second page asks Redis only

        assert api.post(f"/notes/{notes[0]}/like", "flag_viewer").status_code in (200, 201)
        assert _flags(api, notes) == [(True, False), (False, False), (False, False)]
        assert api.post(f"/notes/{notes[1]}/collect", "flag_viewer").status_code == 200
        assert _flags(api, notes) == [(True, False), (False, True), (False, False)]
        assert api.delete(f"/notes/{notes[0]}/like", "flag_viewer").status_code == 200
        assert _flags(api, notes) == [(False, False), (False, True), (False, False)]
        assert api.delete(f"/notes/{notes[1]}/collect", "flag_viewer").status_code == 200
        assert _flags(api, notes) == [(False, False)] * 3

        # deleting an album takes its collects: the flags follow
        album = api.post("/albums", "flag_viewer", json={"name": "旗子"}).get_json()
        body = {"album_id": album["id"]}
        assert api.post(f"/notes/{notes[2]}/collect", "flag_viewer", json=body).status_code == 200
        assert _flags(api, notes)[2] == (False, True)
        assert api.delete(f"/albums/{album['id']}", "flag_viewer").status_code == 204
        assert _flags(api, notes)[2] == (False, False)
        # the note's own page carries the same flags
        api.post(f"/notes/{notes[2]}/like", "flag_viewer")
        detail = api.get(f"/notes/{notes[2]}", "flag_viewer").get_json()
        assert (detail["liked"], detail["collected"]) == (True, False)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def test_a_build_that_a_change_overtook_is_not_stored(services_app, flagged):
    from app.feeds import flags

    api, viewer_id, notes = flagged
    connection = services_app.extensions["sprout.redis"]
    assert _flags(api, notes) == [(False, False)] * 3
    # A reader read the database, then a like committed (its after-commit marks the set):
    flags.forget([viewer_id])
    assert flags._build(connection, viewer_id) is False
    assert not connection.exists(f"sprout:flags:{viewer_id}")
    assert api.post(f"/notes/{notes[0]}/like", "flag_viewer").status_code in (200, 201)
    assert _flags(api, notes)[0] == (True, False)  # from the database while marked
    connection.delete(f"sprout:flags:{viewer_id}:dirty")  # the mark's ten seconds pass
    assert _flags(api, notes)[0] == (True, False)
    assert connection.sismember(f"sprout:flags:{viewer_id}", f"l{notes[0]}")


def test_a_viewer_with_too_many_flags_reads_the_database(services_app, flagged, monkeypatch):
    from app.feeds import flags

    api, viewer_id, notes = flagged
    connection = services_app.extensions["sprout.redis"]
    for note_id in notes:
        api.post(f"/notes/{note_id}/like", "flag_viewer")
    connection.delete(f"sprout:flags:{viewer_id}:dirty")  # the likes' marks have passed
    monkeypatch.setattr(flags, "MAX_MEMBERS", 2)
    assert _flags(api, notes) == [(True, False)] * 3
    assert connection.smembers(f"sprout:flags:{viewer_id}") == {b"!"}
    assert _flags(api, notes) == [(True, False)] * 3


def test_flags_come_from_the_database_when_redis_refuses(services_app, flagged, monkeypatch):
    """The client raises as a dropped connection does (the fault suite kills a real Redis
    under whole feeds); the page still has exact flags."""
    api, _, notes = flagged
    api.post(f"/notes/{notes[1]}/like", "flag_viewer")
    connection = services_app.extensions["sprout.redis"]

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise redis_lib.ConnectionError("refused")

    monkeypatch.setattr(connection, "smismember", refuse)
    assert _flags(api, notes) == [(False, False), (True, False), (False, False)]
