"""One contract, every search backend: the embedded index always, Elasticsearch whenever
`ELASTICSEARCH_URL` points at a cluster (none can run on the development machines; without
it those cases are skipped and say why)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.search.backend import NoteDoc, NoteQuery, TopicDoc, UserDoc

ES_URL = os.environ.get("ELASTICSEARCH_URL")
NOW = time.time()


@pytest.fixture(params=["embedded", "elasticsearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "embedded":
        from app.search.embedded import EmbeddedSearch

        yield EmbeddedSearch(tmp_path / "search.sqlite3")
        return
    if not ES_URL:
        pytest.skip("ELASTICSEARCH_URL is not set: no Elasticsearch cluster to test against")
    from app.search.elasticsearch import ElasticsearchSearch

    prefix = f"sprout-test-{uuid.uuid4().hex[:8]}"
    es = ElasticsearchSearch(ES_URL, prefix=prefix)
    yield es
    es.client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)


def note(note_id: int, title: str, body: str = "", **extra: Any) -> NoteDoc:
    values: dict[str, Any] = {
        "tags": (),
        "topics": (),
        "author_id": 1,
        "channel": None,
        "published_at": NOW - note_id * 3600,
        "hot": 0.0,
        "engagement": 0,
        **extra,
    }
    return NoteDoc(id=note_id, title=title, body=body, **values)


CORPUS = [
    note(
        1,
        "夏天防晒霜推荐",
        "油皮亲妈，清爽不闷痘",
        tags=("防晒", "护肤"),
        channel="beauty",
        topics=((7, "夏日防晒"),),
        engagement=120,
        hot=3.0,
    ),
    note(
        2,
        "周末露营装备清单",
        "天幕和帐篷怎么选",
        tags=("露营",),
        channel="travel",
        author_id=2,
        hot=9.0,
    ),
    note(3, "iPhone 15 评测", "续航不错，拍照一般", channel="tech", author_id=2, hot=1.0),
    note(4, "春日穿搭分享", "温柔风的一周", tags=("穿搭",), hot=0.5),
    note(
        5,
        "防晒喷雾和防晒霜怎么选",
        "出门露营也要防晒",
        tags=("防晒",),
        channel="beauty",
        engagement=3,
        hot=2.0,
    ),
]


def ids(hits: Any) -> list[int]:
    return [hit.id for hit in hits.items]


def test_chinese_and_mixed_script_queries(backend):
    backend.index_notes(CORPUS)
    assert sorted(ids(backend.search_notes(NoteQuery("防晒")))) == [1, 5]
    assert ids(backend.search_notes(NoteQuery("帐篷"))) == [2]
    assert ids(backend.search_notes(NoteQuery("ｉＰｈｏｎｅ１５"))) == [3]
    assert ids(backend.search_notes(NoteQuery("穿搭"))) == [4]
    # Both words where a note has both; any word otherwise.
    assert ids(backend.search_notes(NoteQuery("防晒 露营"))) == [5]
    assert sorted(ids(backend.search_notes(NoteQuery("帐篷 穿搭")))) == [2, 4]


def test_relevance_prefers_title_matches_and_engagement(backend):
    backend.index_notes(CORPUS)
    assert ids(backend.search_notes(NoteQuery("防晒霜")))[0] == 1


def test_filters_and_sorts(backend):
    backend.index_notes(CORPUS)
    assert ids(backend.search_notes(NoteQuery("防晒", channel="beauty", author_id=1))) in (
        [1, 5],
        [5, 1],
    )
    assert ids(backend.search_notes(NoteQuery("防晒", topic_id=7))) == [1]
    assert ids(backend.search_notes(NoteQuery("露营", tag="露营"))) == [2]
    assert ids(backend.search_notes(NoteQuery("防晒 露营 穿搭", sort="new"))) == [1, 2, 4, 5]
    backend.update_signals({4: (50.0, 10)})
    assert ids(backend.search_notes(NoteQuery("防晒 露营 穿搭", sort="hot"))) == [4, 2, 1, 5]


def test_paging_visits_every_hit_once(backend):
    backend.index_notes([note(i, f"露营笔记第{i}篇", "营地") for i in range(1, 24)])
    for sort in ("relevance", "new", "hot"):
        seen, after = [], None
        while True:
            hits = backend.search_notes(NoteQuery("营地", sort=sort, after=after, limit=5))
            seen += ids(hits)
            after = hits.next_after
            if after is None:
                break
        assert sorted(seen) == list(range(1, 24)), sort


def test_updates_and_deletes(backend):
    backend.index_notes(CORPUS)
    backend.index_notes([note(4, "秋冬大衣穿搭", "")])
    assert ids(backend.search_notes(NoteQuery("大衣"))) == [4]
    assert ids(backend.search_notes(NoteQuery("春日"))) == []
    backend.delete_notes([2, 999])
    assert ids(backend.search_notes(NoteQuery("帐篷"))) == []


@pytest.mark.parametrize(
    "query", ['"', "\\", "a OR b", "NEAR(a b)", "title:x", "*", "(((", "露" * 500, "😀", "-"]
)
def test_hostile_queries(backend, query):
    backend.index_notes(CORPUS)
    backend.search_notes(NoteQuery(query))
    backend.search_users(query, None, 10)
    backend.search_topics(query, None, 10)
    backend.suggest(query[:100], 10)


def test_users_topics_and_suggestions(backend):
    backend.index_notes(CORPUS)
    backend.index_users(
        [UserDoc(1, "camper_joe", "露营的乔", "周末去山里", 10), UserDoc(2, "amy", "小艾", "", 1)]
    )
    backend.index_topics(
        [TopicDoc(7, "夏日防晒", "防晒心得", 5, 2), TopicDoc(8, "城市骑行", "", 1, 0)]
    )
    assert ids(backend.search_users("露营", None, 10)) == [1]
    assert ids(backend.search_users("camp", None, 10)) == [1]
    assert ids(backend.search_topics("骑行", None, 10)) == [8]
    texts = {(s.kind, s.text) for s in backend.suggest("防晒", 10)}
    assert ("tag", "防晒") in texts
    assert ("title", "防晒喷雾和防晒霜怎么选") in texts
    assert ("topic", "夏日防晒") in {(s.kind, s.text) for s in backend.suggest("夏日", 10)}
    backend.delete_users([1])
    assert ids(backend.search_users("露营", None, 10)) == []


def test_reindex_is_in_place_resumable_and_drops_the_unseen(backend):
    backend.index_notes(CORPUS)
    generation = backend.begin_reindex()
    assert backend.begin_reindex() == generation  # resumes, does not start over
    backend.index_notes(CORPUS[:2], generation=generation)
    backend.save_checkpoint(generation, "notes", 2)
    assert backend.checkpoint(generation, "notes") == 2
    backend.index_notes([note(9, "重建时新发的露营笔记")])  # a live write meanwhile
    assert sorted(ids(backend.search_notes(NoteQuery("防晒")))) == [1, 5]  # still serving
    backend.finish_reindex(generation)
    assert sorted(ids(backend.search_notes(NoteQuery("露营")))) == [2, 9]
    assert ids(backend.search_notes(NoteQuery("穿搭"))) == []  # not seen again: gone
    stats = backend.stats()
    assert stats["generation"] == generation and not stats["reindex_running"]
    assert backend.health()["ok"] is True
