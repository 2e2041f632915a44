"""What ranking reads of notes (`app.feeds.ranking_data.note_features`): by id, the path
every ranking ahead takes for notes outside the catalogue, agrees with the general query
on both databases, visibility included."""

from __future__ import annotations

from sqlalchemy import update

from tests.conftest import Api, insert_note


def test_features_by_id_match_the_general_query_with_topics_tags_and_visibility(app):
    from app.accounts.models import User
    from app.core.extensions import db
    from app.feeds.ranking_data import note_features
    from app.notes.models import NoteTag, NoteTopic, Tag, Topic

    api = Api(app.test_client())
    author = api.register("feature_author")["id"]
    banned = api.register("feature_banned")["id"]
    topics = [Topic(name=f"特征{k}") for k in range(3)]
    tags = [Tag(name=f"标签{k}") for k in range(3)]
    db.session.add_all([*topics, *tags])
    db.session.commit()
    t0, t1, t2 = (t.id for t in topics)
    labelled = insert_note(author, "有话题", like_count=7, impression_count=40)
    for topic_id in (t2, t0):  # written out of order: read back in id order
        db.session.add(NoteTopic(note_id=labelled, topic_id=topic_id))
    for tag in (tags[2], tags[0], tags[1]):
        db.session.add(NoteTag(note_id=labelled, tag_id=tag.id))
    plain = insert_note(author, "无话题", ago=30, topics=[t1])
    draft = insert_note(author, "草稿", status="draft")
    deleted = insert_note(author, "已删", deleted=True)
    hidden = insert_note(banned, "封号")
    db.session.execute(update(User).where(User.id == banned).values(status="banned"))
    db.session.commit()

    ids = [labelled, plain, draft, deleted, hidden, 999_999]
    by_id = note_features(ids)
    general = note_features(ids, limit=100)  # the general statement, whatever the database
    assert set(by_id) == set(general) == {labelled, plain}
    for note_id in by_id:
        fast, slow = by_id[note_id], general[note_id]
        assert abs(fast.published_at - slow.published_at) < 1e-3
        assert fast.published_at > 0
        assert fast.__class__(**{**_fields(fast), "published_at": 0.0}) == fast.__class__(
            **{**_fields(slow), "published_at": 0.0}
        )
    assert by_id[labelled].topics == (t0, t2)
    assert by_id[labelled].tags == ("标签0", "标签1", "标签2")
    assert (by_id[labelled].likes, by_id[labelled].impressions) == (7, 40)
    assert by_id[plain].topics == (t1,) and by_id[plain].tags == ()
    assert note_features([]) == {}


def _fields(features):
    from dataclasses import fields

    return {f.name: getattr(features, f.name) for f in fields(features)}
