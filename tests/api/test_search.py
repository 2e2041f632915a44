"""Search through the API on the embedded backend (SQLite FTS5 + jieba), on SQLite and
PostgreSQL application databases: Chinese queries, filters, sorts, paging, freshness of the
index after every change, hostile queries, suggestions, hot terms and editors' rules."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error


def publish(api, user, title, body="", **extra):
    response = api.post(
        "/notes", user, json={"title": title, "body": body, "status": "published", **extra}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def found(api, q, as_user=None, **query):
    response = api.get("/search/notes", as_user, query_string={"q": q, **query})
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def notes(api):
    api.register("amy", nickname="小艾")
    api.register("bob", nickname="露营老炮")
    return {
        "sunscreen": publish(
            api,
            "amy",
            "夏天防晒霜推荐",
            "油皮亲妈，清爽不闷痘",
            tags=["防晒", "护肤"],
            channel="beauty",
        ),
        "camping": publish(
            api, "bob", "周末露营装备清单", "天幕和帐篷怎么选", tags=["露营"], channel="travel"
        ),
        "phone": publish(api, "amy", "iPhone 15 评测", "续航不错，拍照一般", channel="tech"),
        "outfit": publish(api, "bob", "春日穿搭分享", "温柔风的一周", tags=["穿搭"]),
    }


def test_two_character_chinese_queries_find_longer_words(api, notes):
    assert found(api, "防晒") == [notes["sunscreen"]]  # indexed as 防晒霜 and the tag 防晒
    assert found(api, "露营") == [notes["camping"]]
    assert found(api, "帐篷") == [notes["camping"]]  # in the body
    assert found(api, "穿搭") == [notes["outfit"]]


def test_mixed_script_and_full_width_queries_match(api, notes):
    for query in (
        "iphone",
        "IPHONE",
        "ｉＰｈｏｎｅ",
        "iphone15",
        "ｉｐｈｏｎｅ　１５",
        "iPhone 评测",
    ):
        assert found(api, query) == [notes["phone"]], query


def test_results_carry_cards_and_highlights(api, notes):
    body = api.get("/search/notes", query_string={"q": "防晒"}).get_json()
    (item,) = body["items"]
    assert item["title"] == "夏天防晒霜推荐" and item["author"]["username"] == "amy"
    assert item["highlight"]["title"] == "夏天<em>防晒</em>霜推荐"
    assert "cover" in item and "like_count" in item
    assert body["next_cursor"] is None


def test_filters_by_channel_tag_author_and_topic(api, notes):
    api.register("editor1")
    api.grant("editor1", "editor")
    topic = api.post("/topics", "editor1", json={"name": "户外露营"}).get_json()
    tagged = publish(api, "amy", "第一次露营", "新手露营心得", topic_ids=[topic["id"]])
    both = sorted([notes["camping"], tagged])
    assert sorted(found(api, "露营")) == both
    assert found(api, "露营", channel="travel") == [notes["camping"]]
    assert found(api, "露营", author=api.users["amy"]["id"]) == [tagged]
    assert found(api, "露营", topic=topic["id"]) == [tagged]
    assert found(api, "露营", tag="露营") == [notes["camping"]]
    assert_error(api.get("/search/notes", query_string={"q": "露营", "channel": "nope"}), 404)


def test_sorts_and_cursor_paging(api, notes):
    api.register("carol")
    ids = [publish(api, "carol", f"露营日记 {n}", "营地") for n in range(5)]
    newest_first = found(api, "营地", sort="new")
    assert newest_first == ids[::-1]
    seen, cursor = [], None
    while True:
        query = {"q": "营地", "limit": 2, "sort": "new", **({"cursor": cursor} if cursor else {})}
        page = api.get("/search/notes", query_string=query).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    assert found(api, "营地", sort="hot")  # ordered by hot score, ties by id
    assert_error(api.get("/search/notes", query_string={"q": "x", "cursor": "bad!"}), 400)


def test_index_follows_edits_deletes_and_drafts(api, notes):
    api.patch(f"/notes/{notes['outfit']}", "bob", json={"title": "秋冬大衣穿搭"})
    assert found(api, "大衣") == [notes["outfit"]]
    assert found(api, "春日") == []
    assert api.delete(f"/notes/{notes['camping']}", "bob").status_code == 204
    assert found(api, "露营") == []
    draft = api.post("/notes", "amy", json={"title": "草稿里的防晒笔记", "status": "draft"})
    assert draft.status_code == 201
    assert found(api, "防晒") == [notes["sunscreen"]]


def test_banned_authors_and_hidden_notes_never_appear(api, notes):
    from app.accounts.models import User
    from app.core.extensions import db
    from app.notes.models import Note
    from app.search.jobs import index_notes, index_user

    db.session.get(Note, notes["sunscreen"]).status = "hidden"
    db.session.commit()
    index_notes([notes["sunscreen"]])
    assert found(api, "防晒") == []
    db.session.get(User, api.users["bob"]["id"]).status = "banned"
    db.session.commit()
    index_user(api.users["bob"]["id"], with_notes=True)
    assert found(api, "露营") == []
    assert api.get("/search/users", query_string={"q": "露营老炮"}).get_json()["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""""',
        "\\",
        "a\\b\\\\",
        "露营 OR 防晒",
        "NEAR(露营 防晒)",
        "title:露营",
        "*",
        "防*",
        "(((",
        "- -- +",
        "'; DROP TABLE notes; --",
        "<script>alert(1)</script>",
        "露" * 500,
        "😀🏕️",
    ],
)
def test_hostile_queries_never_fail(api, notes, query):
    response = api.get("/search/notes", query_string={"q": query})
    assert response.status_code == 200, response.get_json()
    for path in ("/search/users", "/search/topics"):
        assert api.get(path, query_string={"q": query}).status_code == 200
    assert api.get("/search/suggest", query_string={"q": query[:100]}).status_code == 200


def test_bad_search_parameters_are_400(api):
    assert_error(api.get("/search/notes"), 400)
    assert_error(api.get("/search/notes", query_string={"q": ""}), 400)
    assert_error(api.get("/search/notes", query_string={"q": "x" * 501}), 400)
    assert_error(api.get("/search/notes", query_string={"q": "x", "sort": "best"}), 400)
    assert_error(api.get("/search/notes", query_string={"q": "x", "topic": "abc"}), 400)
    assert_error(api.get("/search/notes", query_string={"q": "x", "limit": 51}), 400)
    assert_error(api.get("/search/notes", query_string={"q": "a\x00b"}), 400)


def test_users_and_topics(api, notes):
    api.register("camper_joe", nickname="露营的乔")
    users = api.get("/search/users", query_string={"q": "露营"}).get_json()["items"]
    assert {u["username"] for u in users} == {"bob", "camper_joe"}
    prefix = api.get("/search/users", query_string={"q": "camp"}).get_json()["items"]
    assert [u["username"] for u in prefix] == ["camper_joe"]
    api.patch("/me", "amy", json={"bio": "热爱滑雪"})
    assert [
        u["username"]
        for u in api.get("/search/users", query_string={"q": "滑雪"}).get_json()["items"]
    ] == ["amy"]
    api.register("editor1")
    api.grant("editor1", "editor")
    topic = api.post(
        "/topics", "editor1", json={"name": "城市骑行", "description": "通勤与周末骑行"}
    )
    topics = api.get("/search/topics", query_string={"q": "骑行"}).get_json()["items"]
    assert [t["id"] for t in topics] == [topic.get_json()["id"]]


def test_suggest_completes_from_topics_tags_titles_and_queries(api, notes):
    api.register("editor1")
    api.grant("editor1", "editor")
    api.post("/topics", "editor1", json={"name": "防晒测评"})
    found(api, "防晒霜推荐", as_user="amy")
    items = api.get("/search/suggest", query_string={"q": "防晒"}).get_json()["items"]
    texts = [item["text"] for item in items]
    assert texts[0] == "防晒霜推荐" and items[0]["kind"] == "query"
    assert "防晒测评" in texts and "防晒" in texts
    assert "夏天防晒霜推荐" not in texts  # titles complete from their start only
    assert (
        api.get("/search/suggest", query_string={"q": "夏天"}).get_json()["items"][0]["text"]
        == "夏天防晒霜推荐"
    )


def test_trending_counts_distinct_searchers_and_obeys_editors(api, notes):
    for user in ("user1", "user2", "user3"):
        api.register(user)
        found(api, "露营", as_user=user)
        found(api, "露营", as_user=user)  # the same searcher again: counted once
    found(api, "防晒", as_user="user1")
    found(api, "量子物理", as_user="user1")  # found nothing: not a hot term
    terms = api.get("/search/trending").get_json()["items"]
    assert [(t["term"], t["score"]) for t in terms] == [("露营", 3.0), ("防晒", 1.0)]

    api.register("editor1")
    api.grant("editor1", "editor")
    assert_error(api.put("/editor/search/terms", "user1", json={"term": "x", "action": "pin"}), 403)
    pin = api.put(
        "/editor/search/terms", "editor1", json={"term": "春日穿搭", "action": "pin", "position": 1}
    )
    assert pin.status_code == 200, pin.get_json()
    hide = api.put("/editor/search/terms", "editor1", json={"term": "露营", "action": "suppress"})
    assert hide.status_code == 200
    terms = api.get("/search/trending").get_json()["items"]
    assert [(t["term"], t["pinned"]) for t in terms] == [("春日穿搭", True), ("防晒", False)]
    assert "露营" not in [
        s["text"] for s in api.get("/search/suggest", query_string={"q": "露"}).get_json()["items"]
    ]
    rules = api.get("/editor/search/terms", "editor1").get_json()["items"]
    assert {r["term"] for r in rules} == {"春日穿搭", "露营"}
    assert api.delete("/editor/search/terms/露营", "editor1").status_code == 204
    assert_error(api.delete("/editor/search/terms/露营", "editor1"), 404)
    assert "露营" in [t["term"] for t in api.get("/search/trending").get_json()["items"]]


def test_reindex_rebuilds_in_place_and_drops_what_is_gone(api, notes):
    from app.core.extensions import db
    from app.core.models import utcnow
    from app.notes.models import Note
    from app.search.engine import get_search
    from tests.conftest import insert_note

    bulk = insert_note(api.users["amy"]["id"], "批量导入的滑雪攻略")  # bypasses the services
    assert found(api, "滑雪") == []
    db.session.get(Note, notes["phone"]).deleted_at = utcnow()
    db.session.commit()  # deleted behind the index's back
    api.register("root")
    api.grant("root", "admin")
    assert_error(api.post("/admin/search/reindex", "amy"), 403)
    response = api.post("/admin/search/reindex", "root")
    assert response.status_code == 202
    assert found(api, "滑雪") == [bulk]
    assert found(api, "iphone") == []
    stats = get_search().stats()
    assert stats["notes"] == 4 and stats["generation"] == 1 and not stats["reindex_running"]


def test_a_sync_that_writes_an_older_copy_last_writes_again(api, notes, monkeypatch):
    """Two syncs of one note interleave across processes: A reads it; it changes and B reads
    and writes the new row; then A writes its older copy last. A reads again after its
    write and writes what it missed, so the index ends with the row as it is."""
    from sqlalchemy import update

    from app.core.extensions import db
    from app.notes.models import Note
    from app.search import indexing
    from app.search.engine import get_search

    backend = get_search()
    write = backend.index_notes
    titles: list[list[str]] = []

    def index_notes(docs, generation=None):
        titles.append([doc.title for doc in docs])
        if len(titles) == 1:  # A, between its read and its write
            db.session.execute(
                update(Note).where(Note.id == notes["camping"]).values(title="周末滑雪装备清单")
            )
            db.session.commit()
            indexing.sync_notes([notes["camping"]])  # B
        write(docs, generation)

    monkeypatch.setattr(backend, "index_notes", index_notes)
    assert indexing.sync_notes([notes["camping"]]) == {"indexed": 1, "removed": 0}
    old, new = "周末露营装备清单", "周末滑雪装备清单"
    assert titles == [[old], [new], [new]]  # A's older copy, B's, then A's second write
    assert found(api, "滑雪") == [notes["camping"]]


def test_a_sync_whose_rows_never_settle_is_left_to_its_retry(api, notes, monkeypatch):
    """A note changing under every write of its sync: after three writes the job raises
    (`IndexNotSettled`) for its retry, rather than looping."""
    from sqlalchemy import update

    from app.core.extensions import db
    from app.notes.models import Note
    from app.search import indexing
    from app.search.engine import get_search

    backend = get_search()
    write = backend.index_notes
    writes: list[int] = []

    def index_notes(docs, generation=None):
        writes.append(len(docs))
        write(docs, generation)
        db.session.execute(
            update(Note).where(Note.id == notes["camping"]).values(title=f"露营 {len(writes)}")
        )
        db.session.commit()

    monkeypatch.setattr(backend, "index_notes", index_notes)
    with pytest.raises(indexing.IndexNotSettled):
        indexing.sync_notes([notes["camping"]])
    assert writes == [1, 1, 1]


def test_a_note_liked_while_its_sync_runs_is_written_once(api, notes, monkeypatch):
    """Counts move with every like: a sync compares what it wrote without them, so a busy
    note is not written again (nor its job failed) for a like landing meanwhile."""
    from sqlalchemy import update

    from app.core.extensions import db
    from app.notes.models import Note
    from app.search import indexing
    from app.search.engine import get_search

    backend = get_search()
    write = backend.index_notes
    writes: list[int] = []

    def index_notes(docs, generation=None):
        writes.append(docs[0].engagement)
        write(docs, generation)
        db.session.execute(
            update(Note).where(Note.id == notes["camping"]).values(like_count=Note.like_count + 1)
        )
        db.session.commit()

    monkeypatch.setattr(backend, "index_notes", index_notes)
    assert indexing.sync_notes([notes["camping"]]) == {"indexed": 1, "removed": 0}
    assert writes == [0]


def test_readyz_reports_the_search_backend(client):
    checks = client.get("/readyz").get_json()
    assert checks["checks"]["search"] == {"ok": True, "backend": "embedded"} or checks["search"]


def test_an_interrupted_reindex_resumes_where_it_stopped(api, notes, monkeypatch):
    from app.search import indexing as search
    from app.search.engine import get_search

    monkeypatch.setattr(search, "BATCH", 2)
    seen: list[tuple[str, int, int]] = []

    def crash_after_first_batch(kind: str, done: int, total: int) -> None:
        seen.append((kind, done, total))
        if len(seen) == 1:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        search.reindex(progress=crash_after_first_batch)
    assert get_search().stats()["reindex_running"] is True
    result = search.reindex(progress=lambda *progress: seen.append(progress))
    assert result["generation"] == 1 and result["notes"] == 2  # the two it had not done
    assert seen[1] == ("notes", 4, 4)  # resumed after the first batch of notes
    assert sorted(found(api, "防晒 露营 穿搭 iphone")) == sorted(notes.values())
    assert get_search().stats()["reindex_running"] is False
