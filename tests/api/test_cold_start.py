"""Cold start: the seed packs themselves, the loader (idempotent, updates in place, dry run),
and what a fresh community then shows: official accounts, topics, picks, the hot list."""

from __future__ import annotations

from seed_content.loader import load_seed_content
from seed_content.packs import CHANNEL_CODES, all_packs, cross_check


def small_packs(notes_per_channel: int = 3):
    """Every channel's pack cut to a few notes, with the picks and comments they carry."""
    packs = []
    for pack in all_packs():
        notes = list(pack.notes[:notes_per_channel])
        # Keep one home pick and one topic pick per pack, whatever the first notes hold.
        picked = next(n for n in pack.notes if "home" in n.picks)
        if picked not in notes:
            notes.append(picked)
        packs.append(pack.model_copy(update={"notes": notes}))
    return tuple(packs)


def test_the_packs_are_complete_and_consistent():
    packs = all_packs()
    assert cross_check(packs) == []
    assert sorted(pack.channel for pack in packs) == sorted(CHANNEL_CODES)
    notes = [note for pack in packs for note in pack.notes]
    topics = [topic for pack in packs for topic in pack.topics]
    assert len(notes) >= 300 and len(topics) >= 20
    for pack in packs:
        assert pack.account.username == f"sprout_{pack.channel}" and pack.account.bio
        assert len(pack.notes) >= 30
        assert any("home" in n.picks for n in pack.notes)
        assert any("channel" in n.picks for n in pack.notes)
    assert all(note.images and note.tags and note.topics for note in notes)
    assert all(topic.guide and topic.description for topic in topics)
    assert sum(len(note.comments) for note in notes) >= 100


def test_loading_twice_changes_nothing_and_an_edit_updates_in_place(api):
    packs = small_packs()
    first = load_seed_content(packs=packs)
    assert first.created["account"] == 10 and first.created["topic"] == 40
    assert first.created["note"] == sum(len(p.notes) for p in packs)
    assert first.created["pick"] > 0 and first.created["comment"] > 0
    again = load_seed_content(packs=packs)
    assert again.changed == 0, again.summary()

    food = next(p for p in packs if p.channel == "food")
    note = food.notes[0]
    from app.core.extensions import db
    from app.editorial.models import ContentSource

    note_id = db.session.query(ContentSource).filter_by(kind="note", key=note.key).one().target_id
    likes_before = api.get(f"/notes/{note_id}").get_json()["like_count"]
    edited = note.model_copy(update={"title": "改过的标题", "body": note.body + "\n补充一句。"})
    changed = tuple(
        p.model_copy(update={"notes": [edited, *p.notes[1:]]}) if p is food else p for p in packs
    )
    dry = load_seed_content(packs=changed, dry_run=True)
    assert dry.updated["note"] == 1 and dry.changed == 1
    assert api.get(f"/notes/{note_id}").get_json()["title"] == note.title  # nothing written
    report = load_seed_content(packs=changed)
    assert report.updated["note"] == 1 and report.changed == 1, report.summary()
    body = api.get(f"/notes/{note_id}").get_json()
    assert body["title"] == "改过的标题" and body["body"].endswith("补充一句。")
    assert body["like_count"] == likes_before and len(body["images"]) == len(note.images)


def test_a_seeded_community_is_alive(api, app):
    load_seed_content(packs=small_packs())
    from app.cli import rebuild_rankings

    with app.app_context():
        rebuild_rankings()
    official = api.get("/search/users?q=小芽").get_json()["items"]
    assert official and all(user["official"] and user["verified"] for user in official)
    assert all(user["avatar"] for user in official)
    daily = api.get("/picks/daily").get_json()
    assert daily["items"] and all(card["pick"] for card in daily["items"])
    discover = api.get("/feeds/discover?limit=10").get_json()["items"]
    assert any(card["pick"] for card in discover)
    assert api.get("/feeds/hot?window=week").get_json()["items"]
    topics = api.get("/onboarding/interests").get_json()["topics"]
    assert len(topics) == 20 and all(topic["guide"] for topic in topics)
    picked_topic = next(
        t for t in topics if api.get(f"/topics/{t['id']}/notes").get_json()["items"][0]["pick"]
    )
    assert picked_topic["note_count"] >= 1
    note = api.get(f"/notes/{daily['items'][0]['id']}").get_json()
    assert note["author"]["official"] and note["images"] and note["tags"]


def test_the_seed_command_dry_run_reports_and_writes_nothing(app):
    from sqlalchemy import func, select

    from app.core.extensions import db
    from app.notes.models import Note

    result = app.test_cli_runner().invoke(args=["seed", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run, would have created 10 accounts, 40 topics, 320 notes" in result.output
    assert db.session.scalar(select(func.count()).select_from(Note)) == 0


def test_the_seed_command_refuses_a_broken_pack(app, tmp_path):
    (tmp_path / "food.toml").write_text('channel = "food"\n[account]\nusername = 1\n')
    result = app.test_cli_runner().invoke(args=["seed", "--packs", str(tmp_path)])
    assert result.exit_code != 0 and "food.toml" in result.output
