"""The Elasticsearch backend, with the official client.

- Text is segmented by the same jieba analyzer as the embedded index and stored pre-segmented
  (`*` fields, whitespace tokenizer + lowercase): Chinese works on a stock cluster without
  plugins. When `analysis-smartcn` or `analysis-ik` is installed, the raw text is also indexed
  with it (`*.cn` sub-fields) and searched alongside.
- Versioned indices behind aliases (`<prefix>-notes` → `<prefix>-notes-v3`): a full reindex
  writes new indices while the old ones serve, then swaps the aliases in one atomic call and
  drops the old indices (zero downtime). Live writes during a reindex go to both.
- Bulk indexing (`helpers.bulk`), `search_after` paging on (sort values, id).
- Every transport failure becomes `SearchUnavailable`: the API answers 503 and index jobs are
  retried by RQ later (`app/search/jobs.py`), so writes elsewhere never fail on search.
"""

from __future__ import annotations

import time
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from app.search.backend import (
    MAX_RESULTS,
    Hit,
    Hits,
    NoteDoc,
    NoteQuery,
    SearchUnavailable,
    Suggestion,
    TopicDoc,
    UserDoc,
)
from app.search.embedded import FRESHNESS_SECONDS, index_text
from app.search.text import Analyzer, analyzer, normalize

KINDS = ("notes", "users", "topics")
_TOP = "\U0010ffff"

_ANALYSIS = {
    "analyzer": {
        "sprout_pre": {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
    },
    "normalizer": {"sprout_key": {"type": "custom", "filter": ["lowercase"]}},
}


def _text(cn: str | None) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "text", "analyzer": "sprout_pre"}
    return field if cn is None else {**field, "fields": {"cn": {"type": "text", "analyzer": cn}}}


def mappings(cn_analyzer: str | None) -> dict[str, dict[str, Any]]:
    """Each kind's mapping; `cn_analyzer` is a plugin's analyzer for the raw text, if any."""
    keyword = {"type": "keyword"}
    return {
        "notes": {
            "dynamic": "strict",
            "properties": {
                "id": {"type": "long"},
                "title": _text(None),
                "body": _text(None),
                "tags": _text(None),
                "topics": _text(None),
                "raw": {"type": "text", "analyzer": cn_analyzer, "index": cn_analyzer is not None}
                if cn_analyzer
                else {"type": "text", "index": False},
                "tag_keys": {"type": "keyword", "normalizer": "sprout_key"},
                "topic_ids": {"type": "long"},
                "author_id": {"type": "long"},
                "channel": keyword,
                "published_at": {"type": "double"},
                "hot": {"type": "double"},
                "engagement": {"type": "long"},
                "title_key": {"type": "keyword"},
            },
        },
        "users": {
            "dynamic": "strict",
            "properties": {
                "id": {"type": "long"},
                "username": {"type": "text", "analyzer": "sprout_pre"},
                "username_key": keyword,
                "nickname": _text(None),
                "bio": _text(None),
                "follower_count": {"type": "long"},
            },
        },
        "topics": {
            "dynamic": "strict",
            "properties": {
                "id": {"type": "long"},
                "name": _text(None),
                "name_key": keyword,
                "display_name": {"type": "keyword", "index": False},
                "description": _text(None),
                "note_count": {"type": "long"},
                "follower_count": {"type": "long"},
            },
        },
    }


_RELEVANCE = (
    "double age = Math.max(params.now - doc['published_at'].value, 0);"
    " return _score * (1.0 + 0.1 * Math.log(1.0 + doc['engagement'].value))"
    " * (0.75 + 0.25 * Math.exp(-age / params.fresh));"
)


class ElasticsearchSearch:
    name = "elasticsearch"

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        prefix: str = "sprout",
        text_analyzer: Analyzer | None = None,
    ) -> None:
        self.client = client or Elasticsearch(url, request_timeout=10, max_retries=2)
        self.prefix = prefix
        self._analyzer = text_analyzer or analyzer()
        self._cn: str | bool | None = False  # not looked up yet

    # -- plumbing ------------------------------------------------------------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotFoundError:
            raise
        except (TransportError, ApiError) as exc:
            raise SearchUnavailable(str(exc)) from exc

    def alias(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def index_name(self, kind: str, generation: int) -> str:
        return f"{self.prefix}-{kind}-v{generation}"

    @property
    def _meta_index(self) -> str:
        return f"{self.prefix}-meta"

    def cn_analyzer(self) -> str | None:
        """`ik_max_word` or `smartcn` when the cluster has the plugin, else None."""
        if self._cn is False:
            plugins = self._call(self.client.cat.plugins, format="json") or []
            names = {p.get("component", "") for p in plugins}
            self._cn = (
                "ik_max_word"
                if "analysis-ik" in names
                else "smartcn"
                if "analysis-smartcn" in names
                else None
            )
        return self._cn  # type: ignore[return-value]

    def _state(self) -> dict[str, Any]:
        try:
            found = self._call(self.client.get, index=self._meta_index, id="state")
        except NotFoundError:
            return {"generation": 0, "reindex_generation": 0, "checkpoints": {}}
        return dict(found["_source"])

    def _save_state(self, state: dict[str, Any]) -> None:
        self._call(
            self.client.index, index=self._meta_index, id="state", document=state, refresh=True
        )

    def _create_indices(self, generation: int) -> None:
        cn = self.cn_analyzer()
        for kind, mapping in mappings(cn).items():
            self._call(
                self.client.indices.create,
                index=self.index_name(kind, generation),
                settings={"analysis": _ANALYSIS, "number_of_shards": 1},
                mappings=mapping,
            )

    def ensure(self) -> None:
        """First use on an empty cluster: generation 1's indices behind the aliases."""
        state = self._state()
        if state["generation"]:
            return
        self._create_indices(1)
        self._call(
            self.client.indices.update_aliases,
            actions=[
                {"add": {"index": self.index_name(kind, 1), "alias": self.alias(kind)}}
                for kind in KINDS
            ],
        )
        self._save_state({**state, "generation": 1})

    def _targets(self, kind: str, generation: int | None) -> list[str]:
        """Where a write goes: the given generation, else the live alias and a running
        reindex's new index."""
        if generation is not None:
            return [self.index_name(kind, generation)]
        state = self._state()
        if not state["generation"]:
            self.ensure()
            state = self._state()
        targets = [self.alias(kind)]
        if state.get("reindex_generation"):
            targets.append(self.index_name(kind, state["reindex_generation"]))
        return targets

    def _bulk(
        self, kind: str, docs: list[tuple[int, dict[str, Any]]], generation: int | None
    ) -> None:
        if not docs:
            return
        actions = [
            {"_op_type": "index", "_index": target, "_id": str(doc_id), "_source": source}
            for target in self._targets(kind, generation)
            for doc_id, source in docs
        ]
        self._call(helpers.bulk, self.client, actions, refresh="wait_for")

    def _delete(self, kind: str, ids: list[int]) -> None:
        if not ids:
            return
        actions = [
            {"_op_type": "delete", "_index": target, "_id": str(doc_id)}
            for target in self._targets(kind, None)
            for doc_id in ids
        ]
        # A document that is not there is already deleted: not an error.
        self._call(helpers.bulk, self.client, actions, refresh="wait_for", raise_on_error=False)

    # -- documents ------------------------------------------------------------------------
    def _seg(self, text: str) -> str:
        return index_text(self._analyzer.tokens(text))

    def index_notes(self, docs: list[NoteDoc], generation: int | None = None) -> None:
        self._analyzer.add_words(
            [tag for doc in docs for tag in doc.tags] + [n for doc in docs for _, n in doc.topics]
        )
        self._bulk(
            "notes",
            [
                (
                    doc.id,
                    {
                        "id": doc.id,
                        "title": self._seg(doc.title),
                        "body": self._seg(doc.body),
                        "tags": " ".join(self._seg(tag) for tag in doc.tags),
                        "topics": " ".join(self._seg(name) for _, name in doc.topics),
                        "raw": f"{doc.title}\n{doc.body}",
                        "tag_keys": [normalize(tag) for tag in doc.tags],
                        "topic_ids": [topic_id for topic_id, _ in doc.topics],
                        "author_id": doc.author_id,
                        "channel": doc.channel,
                        "published_at": doc.published_at,
                        "hot": doc.hot,
                        "engagement": doc.engagement,
                        "title_key": normalize(doc.title).strip(),
                    },
                )
                for doc in docs
            ],
            generation,
        )

    def delete_notes(self, ids: list[int]) -> None:
        self._delete("notes", ids)

    def update_signals(self, signals: dict[int, tuple[float, int]]) -> None:
        if not signals:
            return
        actions = [
            {
                "_op_type": "update",
                "_index": target,
                "_id": str(note_id),
                "doc": {"hot": hot, "engagement": engagement},
            }
            for target in self._targets("notes", None)
            for note_id, (hot, engagement) in signals.items()
        ]
        self._call(helpers.bulk, self.client, actions, raise_on_error=False)

    def index_users(self, docs: list[UserDoc], generation: int | None = None) -> None:
        self._bulk(
            "users",
            [
                (
                    doc.id,
                    {
                        "id": doc.id,
                        "username": normalize(doc.username),
                        "username_key": normalize(doc.username),
                        "nickname": self._seg(doc.nickname),
                        "bio": self._seg(doc.bio),
                        "follower_count": doc.follower_count,
                    },
                )
                for doc in docs
            ],
            generation,
        )

    def delete_users(self, ids: list[int]) -> None:
        self._delete("users", ids)

    def index_topics(self, docs: list[TopicDoc], generation: int | None = None) -> None:
        self._analyzer.add_words(doc.name for doc in docs)
        self._bulk(
            "topics",
            [
                (
                    doc.id,
                    {
                        "id": doc.id,
                        "name": self._seg(doc.name),
                        "name_key": normalize(doc.name).strip(),
                        "display_name": doc.name,
                        "description": self._seg(doc.description),
                        "note_count": doc.note_count,
                        "follower_count": doc.follower_count,
                    },
                )
                for doc in docs
            ],
            generation,
        )

    def delete_topics(self, ids: list[int]) -> None:
        self._delete("topics", ids)

    # -- queries --------------------------------------------------------------------------
    def _search(self, kind: str, **body: Any) -> dict[str, Any]:
        try:
            return self._call(self.client.search, index=self.alias(kind), **body)
        except NotFoundError:  # never indexed anything yet
            return {"hits": {"hits": []}}

    def _text_query(
        self, terms: list[str], fields: list[str], operator: str, prefix: bool
    ) -> dict[str, Any]:
        return {
            "multi_match": {
                "query": " ".join(terms),
                "fields": fields,
                # bool_prefix: the last word may be unfinished (names people type)
                "type": "bool_prefix" if prefix else "cross_fields",
                "operator": operator,
                "analyzer": "sprout_pre",
            }
        }

    def _operator(
        self, kind: str, terms: list[str], fields: list[str], filters: list[Any], prefix: bool
    ) -> str:
        """All the words if some document has them all, else any of them: decided on the
        whole result set, so every page of a query uses the same rule."""
        if len(terms) == 1:
            return "and"
        query = {
            "bool": {"must": [self._text_query(terms, fields, "and", prefix)], "filter": filters}
        }
        try:
            found = self._call(
                self.client.search,
                index=self.alias(kind),
                query=query,
                size=0,
                terminate_after=1,
                track_total_hits=1,
            )
        except NotFoundError:
            return "and"
        return "and" if found["hits"]["total"]["value"] else "or"

    def _page(
        self,
        kind: str,
        terms: list[str],
        fields: list[str],
        filters: list[dict[str, Any]],
        sort: list[Any],
        after: tuple[Any, ...] | None,
        limit: int,
        rescore: str | None = None,
        prefix: bool = False,
    ) -> Hits:
        operator = self._operator(kind, terms, fields, filters, prefix)
        query: dict[str, Any] = {
            "bool": {
                "must": [self._text_query(terms, fields, operator, prefix)],
                "filter": filters,
            }
        }
        if rescore:
            query = {
                "script_score": {
                    "query": query,
                    "script": {
                        "source": rescore,
                        "params": {"now": time.time(), "fresh": FRESHNESS_SECONDS},
                    },
                }
            }
        body: dict[str, Any] = {
            "query": query,
            "sort": sort,
            "size": limit + 1,
            "track_total_hits": False,
            "_source": False,
        }
        if after:
            body["search_after"] = list(after)
        found = self._search(kind, **body)["hits"]["hits"]
        more = len(found) > limit
        items = [
            Hit(int(hit["_id"]), float(hit.get("_score") or 0.0), tuple(terms))
            for hit in found[:limit]
        ]
        next_after = tuple(found[limit - 1]["sort"]) if more and limit > 0 else None
        return Hits(items, tuple(terms), next_after)

    def search_notes(self, query: NoteQuery) -> Hits:
        terms = self._analyzer.query_terms(query.text)
        if not terms:
            return Hits([], ())
        filters: list[dict[str, Any]] = []
        if query.channel:
            filters.append({"term": {"channel": query.channel}})
        if query.author_id is not None:
            filters.append({"term": {"author_id": query.author_id}})
        if query.topic_id is not None:
            filters.append({"term": {"topic_ids": query.topic_id}})
        if query.tag:
            filters.append({"term": {"tag_keys": normalize(query.tag).strip()}})
        fields = ["title^4", "body", "tags^3", "topics^3"]
        if self.cn_analyzer():
            fields.append("raw")
        sort = {
            "relevance": [{"_score": "desc"}, {"id": "desc"}],
            "new": [{"published_at": "desc"}, {"id": "desc"}],
            "hot": [{"hot": "desc"}, {"id": "desc"}],
        }[query.sort]
        return self._page(
            "notes",
            terms,
            fields,
            filters,
            sort,
            query.after,
            min(query.limit, MAX_RESULTS),
            rescore=_RELEVANCE if query.sort == "relevance" else None,
        )

    def search_users(self, text: str, after: tuple[Any, ...] | None, limit: int) -> Hits:
        terms = self._analyzer.query_terms(text)
        if not terms:
            return Hits([], ())
        return self._page(
            "users",
            terms,
            ["username^3", "nickname^3", "bio"],
            [],
            [{"_score": "desc"}, {"id": "desc"}],
            after,
            limit,
            prefix=True,
        )

    def search_topics(self, text: str, after: tuple[Any, ...] | None, limit: int) -> Hits:
        terms = self._analyzer.query_terms(text)
        if not terms:
            return Hits([], ())
        return self._page(
            "topics",
            terms,
            ["name^4", "description"],
            [],
            [{"_score": "desc"}, {"id": "desc"}],
            after,
            limit,
            prefix=True,
        )

    def suggest(self, prefix: str, limit: int) -> list[Suggestion]:
        key = normalize(prefix).strip()
        if not key:
            return []
        topics = self._search(
            "topics",
            query={"prefix": {"name_key": key}},
            sort=[{"note_count": "desc"}, {"id": "asc"}],
            size=limit,
            _source=["display_name", "note_count", "follower_count"],
        )["hits"]["hits"]
        tags = self._search(
            "notes",
            size=0,
            query={"prefix": {"tag_keys": key}},
            aggs={
                "tags": {
                    "terms": {"field": "tag_keys", "include": f"{_regex(key)}.*", "size": limit}
                }
            },
        )
        titles = self._search(
            "notes",
            query={"prefix": {"title_key": key}},
            sort=[{"engagement": "desc"}, {"id": "desc"}],
            size=limit,
            _source=["title_key", "engagement"],
        )["hits"]["hits"]
        buckets = tags.get("aggregations", {}).get("tags", {}).get("buckets", [])
        return (
            [
                Suggestion(
                    hit["_source"]["display_name"],
                    "topic",
                    float(hit["_source"]["note_count"] + hit["_source"]["follower_count"]),
                )
                for hit in topics
            ]
            + [Suggestion(b["key"], "tag", float(b["doc_count"])) for b in buckets]
            + [
                Suggestion(
                    hit["_source"]["title_key"], "title", float(hit["_source"]["engagement"])
                )
                for hit in titles
            ]
        )

    # -- reindex ---------------------------------------------------------------------------
    def begin_reindex(self) -> int:
        state = self._state()
        if not state["generation"]:
            self.ensure()
            state = self._state()
        if state.get("reindex_generation"):
            return int(state["reindex_generation"])
        generation = int(state["generation"]) + 1
        for kind in KINDS:  # a failed earlier attempt at this generation starts clean
            self._call(
                self.client.indices.delete,
                index=self.index_name(kind, generation),
                ignore_unavailable=True,
            )
        self._create_indices(generation)
        self._save_state({**state, "reindex_generation": generation, "checkpoints": {}})
        return generation

    def checkpoint(self, generation: int, kind: str) -> int:
        state = self._state()
        if state.get("reindex_generation") != generation:
            return 0
        return int(state.get("checkpoints", {}).get(kind, 0))

    def save_checkpoint(self, generation: int, kind: str, last_id: int) -> None:
        state = self._state()
        state.setdefault("checkpoints", {})[kind] = last_id
        self._save_state(state)

    def finish_reindex(self, generation: int) -> dict[str, int]:
        """Swap every alias to the new indices in one call, then drop the old ones."""
        state = self._state()
        old = int(state["generation"])
        actions: list[dict[str, Any]] = []
        for kind in KINDS:
            actions.append(
                {"remove": {"index": f"{self.prefix}-{kind}-v*", "alias": self.alias(kind)}}
            )
            actions.append(
                {"add": {"index": self.index_name(kind, generation), "alias": self.alias(kind)}}
            )
        self._call(self.client.indices.update_aliases, actions=actions)
        self._save_state({"generation": generation, "reindex_generation": 0, "checkpoints": {}})
        for kind in KINDS:
            if old and old != generation:
                self._call(
                    self.client.indices.delete,
                    index=self.index_name(kind, old),
                    ignore_unavailable=True,
                )
        return {kind: 0 for kind in KINDS}  # the old indices are gone whole

    def health(self) -> dict[str, object]:
        try:
            info = self.client.info()
        except (TransportError, ApiError) as exc:
            return {"ok": False, "backend": self.name, "error": type(exc).__name__}
        return {"ok": True, "backend": self.name, "version": info["version"]["number"]}

    def stats(self) -> dict[str, object]:
        state = self._state()
        counts = {}
        for kind in KINDS:
            try:
                counts[kind] = self._call(self.client.count, index=self.alias(kind))["count"]
            except NotFoundError:
                counts[kind] = 0
        return {
            "backend": self.name,
            **counts,
            "generation": state["generation"],
            "reindex_running": bool(state.get("reindex_generation")),
        }


def _regex(text: str) -> str:
    """`text` as a literal in Lucene's regular expression syntax."""
    return "".join("\\" + ch if ch in '.?+*|{}[]()"\\#@&<>~' else ch for ch in text)
