"""Every visible note's card is stored before its first read (`card_store`'s sweep and
`flask cards-warm`), and a card change the store could not take is applied later by a
durable job, not dropped. Embedded store here; `tests/integration` runs the same on Redis."""

from __future__ import annotations

import dataclasses
from typing import Any

import diskcache
import pytest
import redis
from sqlalchemy import select

from tests.conftest import Api, insert_note


def _keys(note_ids: list[int]) -> list[str]:
    from app.feeds import card_store

    return [f"{card_store.KEY_PREFIX}{n}" for n in note_ids]


def _empty_store(note_ids: list[int]) -> None:
    """The store as after a flush: nothing held for these notes."""
    from app.feeds import card_store

    store = card_store.backend()
    if isinstance(store, card_store.RedisBackend):
        store.connection.delete(*_keys(note_ids))
    else:
        for key in _keys(note_ids):
            store.cache.delete(key)
    assert store.held(_keys(note_ids)) == [False] * len(note_ids)


def test_sweep_slices_take_turns() -> None:
    from app.feeds.card_store import sweep_slice

    assert [sweep_slice(12, 5, turn) for turn in range(1, 5)] == [(3, 1), (3, 2), (3, 0), (3, 1)]
    assert sweep_slice(0, 5000, 7) == (1, 0)  # no notes: one empty slice
    assert sweep_slice(5000, 5000, 3) == (1, 0)


def check_sweep_goes_round_every_published_note(api: Api, monkeypatch: Any) -> None:
    from app.feeds import cards
    from app.feeds.jobs import warm_cards
    from app.feeds.state import feeds_state

    author = api.register("sweeper")["id"]
    published = [insert_note(author, f"扫{i}") for i in range(11)]
    draft = insert_note(author, "草稿", status="draft")
    gone = insert_note(author, "删了", deleted=True)
    # slices of 4 notes: every published note is in exactly one, drafts and deleted in none
    slices = {r: cards.sweep_note_ids(3, r) for r in range(3)}
    assert sorted(n for ids in slices.values() for n in ids) == sorted(published)
    assert cards.published_note_count() == 11

    state = feeds_state()
    monkeypatch.setattr(state, "config", dataclasses.replace(state.config, card_sweep_batch=4))
    monkeypatch.setattr(cards, "catalogue_note_ids", list)  # the sweep alone
    _empty_store([*published, draft, gone])
    turns = [warm_cards() for _ in range(3)]
    assert sorted(turn["slice"] for turn in turns) == [0, 1, 2]
    assert {turn["slices"] for turn in turns} == {3}
    assert sum(turn["rendered"] for turn in turns) == 11
    from app.feeds import card_store

    store = card_store.backend()
    assert store.held(_keys(published)) == [True] * 11
    assert store.held(_keys([draft, gone])) == [False, False]
    assert sum(warm_cards()["rendered"] for _ in range(3)) == 0  # a full store renders nothing
    # what a page reads is the stored card: no database read
    raws = store.get_many(_keys(published))
    assert all(raw and raw[:1].isdigit() for raw in raws)


def test_the_sweep_goes_round_every_published_note(api, monkeypatch) -> None:
    check_sweep_goes_round_every_published_note(api, monkeypatch)


def check_cards_warm_stores_every_card(api: Api, app: Any) -> None:
    from app.feeds import card_store

    author = api.register("warmall")["id"]
    notes = [insert_note(author, f"全{i}") for i in range(7)]
    _empty_store(notes)
    result = app.test_cli_runner().invoke(args=["cards-warm"])
    assert result.exit_code == 0, result.output
    assert "notes=7" in result.output and "rendered=7" in result.output
    assert card_store.backend().held(_keys(notes)) == [True] * 7
    again = app.test_cli_runner().invoke(args=["cards-warm"])
    assert "rendered=0" in again.output


def test_cards_warm_stores_every_published_card(api, app) -> None:
    check_cards_warm_stores_every_card(api, app)


class _Unreachable:
    """A card store that cannot be reached (Redis down, or the disk store locked)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return fail


def check_a_change_the_store_missed_is_applied_later(api: Api, monkeypatch: Any) -> None:
    """An edit committed while the card store is unreachable: the answer is right (read from
    the database), the change waits in the outbox as a durable job, which fails while the
    store is still down and, once it is back, marks the old card stale so it is not served."""
    from app.core.extensions import db, get_redis
    from app.core.jobs.models import OutboxJob
    from app.feeds import card_store
    from app.feeds.jobs import apply_card_changes, refresh_cards
    from tests.api.test_notes import image_note

    api.register("editor1")
    note = image_note(api, "editor1", title="旧标题")["id"]
    refresh_cards()
    old = api.get(f"/notes?ids={note}").get_json()["items"][0]
    assert old["title"] == "旧标题"
    assert card_store.backend().get_many(_keys([note]))[0] not in (None, card_store.STALE)

    error = redis.ConnectionError("down") if get_redis() else diskcache.Timeout("locked")
    real = card_store.backend
    monkeypatch.setattr(card_store, "backend", lambda: _Unreachable(error))
    edited = api.patch(f"/notes/{note}", "editor1", json={"title": "新标题"})
    assert edited.status_code == 200 and edited.get_json()["title"] == "新标题"
    assert api.get(f"/notes?ids={note}").get_json()["items"][0]["title"] == "新标题"
    kept = db.session.scalars(
        select(OutboxJob).where(OutboxJob.function == "app.feeds.jobs:apply_card_changes")
    ).all()
    assert len(kept) == 1, [(k.function, k.args) for k in kept]
    args, _ = kept[0].args  # (positional, keyword)
    assert args == [[note], [], [], [], []]
    with pytest.raises(type(error)):
        apply_card_changes(*args)  # still down: raised, so it is retried

    monkeypatch.setattr(card_store, "backend", real)
    # back up, before the job has run: the old card is still stored (a stale answer)
    assert card_store.backend().get_many(_keys([note]))[0] not in (None, card_store.STALE)
    apply_card_changes(*args)
    assert card_store.backend().get_many(_keys([note]))[0] == card_store.STALE
    assert api.get(f"/notes?ids={note}").get_json()["items"][0]["title"] == "新标题"
    refresh_cards()
    assert api.get(f"/notes?ids={note}").get_json()["items"][0]["title"] == "新标题"
    assert b"\xe6\x96\xb0" in (card_store.backend().get_many(_keys([note]))[0] or b"")


def test_a_change_the_store_missed_is_applied_later(api, monkeypatch) -> None:
    check_a_change_the_store_missed_is_applied_later(api, monkeypatch)
