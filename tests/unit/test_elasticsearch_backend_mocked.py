"""The Elasticsearch backend against a MOCKED client: no cluster can run on these machines,
so these tests check the requests the backend sends (mappings, aliases, bulk targets, query
bodies, search_after) and how it fails. The same backend runs the real contract suite in
tests/integration/test_search_backends.py whenever ELASTICSEARCH_URL is set."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import NotFoundError

from app.search.backend import NoteDoc, NoteQuery, SearchUnavailable
from app.search.elasticsearch import ElasticsearchSearch


def not_found() -> NotFoundError:
    return NotFoundError("not found", meta=mock.Mock(status=404), body={})


class Cluster:
    """A mocked client plus the bulk calls the backend made (helpers.bulk is patched)."""

    def __init__(self, plugins: list[dict[str, str]] | None = None) -> None:
        self.client = mock.MagicMock()
        self.client.cat.plugins.return_value = plugins or []
        self.state: dict[str, Any] | None = None
        self.client.get.side_effect = self._get
        self.client.index.side_effect = self._index
        self.bulk_calls: list[list[dict[str, Any]]] = []

    def _get(self, index: str, id: str) -> dict[str, Any]:
        if self.state is None:
            raise not_found()
        return {"_source": dict(self.state)}

    def _index(self, index: str, id: str, document: dict[str, Any], refresh: bool) -> None:
        self.state = dict(document)

    def bulk(self, client: Any, actions: list[dict[str, Any]], **kwargs: Any) -> tuple[int, list]:
        self.bulk_calls.append(list(actions))
        return len(self.bulk_calls[-1]), []


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    found = Cluster()
    monkeypatch.setattr("app.search.elasticsearch.helpers.bulk", found.bulk)
    return found


def doc(note_id: int) -> NoteDoc:
    return NoteDoc(
        note_id, "夏天防晒霜", "清爽", ("防晒",), ((7, "夏日防晒"),), 3, "beauty", 1.0, 2.0, 5
    )


pytestmark = pytest.mark.elasticsearch_mock


def test_mocked_first_write_creates_versioned_indices_behind_aliases(cluster):
    backend = ElasticsearchSearch(client=cluster.client, prefix="p")
    backend.index_notes([doc(1)])
    created = {c.kwargs["index"]: c.kwargs for c in cluster.client.indices.create.call_args_list}
    assert set(created) == {"p-notes-v1", "p-users-v1", "p-topics-v1"}
    notes = created["p-notes-v1"]
    assert notes["settings"]["analysis"]["analyzer"]["sprout_pre"]["tokenizer"] == "whitespace"
    assert notes["mappings"]["properties"]["title"]["analyzer"] == "sprout_pre"
    assert notes["mappings"]["dynamic"] == "strict"
    aliases = cluster.client.indices.update_aliases.call_args.kwargs["actions"]
    assert {"add": {"index": "p-notes-v1", "alias": "p-notes"}} in aliases
    (actions,) = cluster.bulk_calls
    (action,) = actions
    assert action["_index"] == "p-notes" and action["_id"] == "1"
    source = action["_source"]
    assert "防晒" in source["title"].split() and "防晒霜" in source["title"].split()
    assert source["tag_keys"] == ["防晒"] and source["topic_ids"] == [7]


def test_mocked_chinese_plugin_is_used_when_installed(monkeypatch):
    found = Cluster(plugins=[{"component": "analysis-ik"}])
    monkeypatch.setattr("app.search.elasticsearch.helpers.bulk", found.bulk)
    backend = ElasticsearchSearch(client=found.client, prefix="p")
    backend.ensure()
    created = {c.kwargs["index"]: c.kwargs for c in found.client.indices.create.call_args_list}
    assert created["p-notes-v1"]["mappings"]["properties"]["raw"]["analyzer"] == "ik_max_word"
    found.client.search.return_value = {"hits": {"hits": []}}
    backend.search_notes(NoteQuery("防晒"))
    body = found.client.search.call_args.kwargs
    fields = body["query"]["script_score"]["query"]["bool"]["must"][0]["multi_match"]["fields"]
    assert "raw" in fields


def test_mocked_writes_during_a_reindex_go_to_both_generations(cluster):
    backend = ElasticsearchSearch(client=cluster.client, prefix="p")
    backend.ensure()
    generation = backend.begin_reindex()
    assert generation == 2
    backend.index_notes([doc(1)])
    assert {a["_index"] for a in cluster.bulk_calls[-1]} == {"p-notes", "p-notes-v2"}
    backend.index_notes([doc(2)], generation=generation)
    assert {a["_index"] for a in cluster.bulk_calls[-1]} == {"p-notes-v2"}
    backend.save_checkpoint(generation, "notes", 2)
    assert backend.checkpoint(generation, "notes") == 2
    assert backend.begin_reindex() == 2  # resumed
    backend.finish_reindex(generation)
    actions = cluster.client.indices.update_aliases.call_args.kwargs["actions"]
    assert {"add": {"index": "p-notes-v2", "alias": "p-notes"}} in actions
    assert {"remove": {"index": "p-notes-v*", "alias": "p-notes"}} in actions
    deleted = [c.kwargs["index"] for c in cluster.client.indices.delete.call_args_list]
    assert "p-notes-v1" in deleted
    assert cluster.state == {"generation": 2, "reindex_generation": 0, "checkpoints": {}}


def test_mocked_query_body_filters_sorts_and_search_after(cluster):
    backend = ElasticsearchSearch(client=cluster.client, prefix="p")
    hits = [{"_id": str(i), "_score": 1.0, "sort": [100 - i, i]} for i in (5, 4, 3)]
    cluster.client.search.return_value = {"hits": {"total": {"value": 3}, "hits": hits}}
    page = backend.search_notes(
        NoteQuery("防晒 露营", sort="new", channel="beauty", topic_id=7, tag="防晒", limit=2)
    )
    assert [h.id for h in page.items] == [5, 4] and page.next_after == (96, 4)
    body = cluster.client.search.call_args.kwargs
    assert body["index"] == "p-notes" and body["size"] == 3
    assert body["sort"] == [{"published_at": "desc"}, {"id": "desc"}]
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"channel": "beauty"}} in filters and {"term": {"topic_ids": 7}} in filters
    assert body["query"]["bool"]["must"][0]["multi_match"]["operator"] == "and"
    backend.search_notes(NoteQuery("防晒 露营", sort="new", after=(96, 4), limit=2))
    assert cluster.client.search.call_args.kwargs["search_after"] == [96, 4]


def test_mocked_any_word_when_no_document_has_them_all(cluster):
    backend = ElasticsearchSearch(client=cluster.client, prefix="p")
    cluster.client.search.side_effect = [
        {"hits": {"total": {"value": 0}, "hits": []}},  # does any note have both words?
        {"hits": {"hits": [{"_id": "9", "_score": 2.0, "sort": [2.0, 9]}]}},
    ]
    page = backend.search_notes(NoteQuery("防晒 露营"))
    assert [h.id for h in page.items] == [9]
    check, search = cluster.client.search.call_args_list
    assert check.kwargs["size"] == 0
    assert check.kwargs["query"]["bool"]["must"][0]["multi_match"]["operator"] == "and"
    page_query = search.kwargs["query"]["script_score"]["query"]["bool"]["must"][0]
    assert page_query["multi_match"]["operator"] == "or"


def test_mocked_names_match_an_unfinished_last_word(cluster):
    backend = ElasticsearchSearch(client=cluster.client, prefix="p")
    cluster.client.search.return_value = {"hits": {"hits": []}}
    backend.search_users("camp", None, 10)
    match = cluster.client.search.call_args.kwargs["query"]["bool"]["must"][0]["multi_match"]
    assert match["type"] == "bool_prefix" and match["query"] == "camp"


def test_mocked_cluster_down_is_search_unavailable(cluster):
    cluster.client.search.side_effect = ESConnectionError("refused")
    backend = ElasticsearchSearch(client=cluster.client, prefix="p")
    with pytest.raises(SearchUnavailable):
        backend.search_notes(NoteQuery("防晒"))
    cluster.client.info.side_effect = ESConnectionError("refused")
    assert backend.health() == {"ok": False, "backend": "elasticsearch", "error": "ConnectionError"}


def test_mocked_cluster_down_gives_503_and_writes_still_succeed(app, api, cluster):
    """Searches answer 503 in the error envelope; publishing succeeds and its index job
    (inline here, retried by RQ in services mode) fails on its own."""
    from tests.conftest import assert_error

    cluster.client.search.side_effect = ESConnectionError("refused")
    cluster.client.get.side_effect = ESConnectionError("refused")
    cluster.client.info.side_effect = ESConnectionError("refused")
    app.extensions["sprout.search"] = ElasticsearchSearch(client=cluster.client, prefix="p")
    api.register("amy")
    response = api.post("/notes", "amy", json={"title": "防晒", "status": "published"})
    assert response.status_code == 201
    assert_error(api.get("/search/notes", query_string={"q": "防晒"}), 503, "search_unavailable")
    assert_error(api.get("/search/users", query_string={"q": "amy"}), 503, "search_unavailable")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
