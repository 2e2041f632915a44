"""What every search backend offers: the documents it indexes, the queries it answers and
the `SearchBackend` protocol the services call. Backends hold ids and ranking signals only;
the service turns hits into cards from the database, so nothing shown can be stale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from app.core.errors import DependencyDown

Sort = Literal["relevance", "new", "hot"]
MAX_RESULTS = 1000  # deepest page any query reaches: relevance beyond it is noise


class SearchUnavailable(DependencyDown):
    """The backend cannot answer now (Elasticsearch down): the API's 503, in the envelope."""

    code = "search_unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__("Search is unavailable right now; try again shortly.")
        self.detail = detail


@dataclass(frozen=True)
class NoteDoc:
    id: int
    title: str
    body: str
    tags: tuple[str, ...]
    topics: tuple[tuple[int, str], ...]  # (id, name)
    author_id: int
    channel: str | None
    published_at: float  # Unix seconds
    hot: float  # the hot score the ranking jobs keep
    engagement: int  # likes + collects + comments + shares


@dataclass(frozen=True)
class UserDoc:
    id: int
    username: str
    nickname: str
    bio: str
    follower_count: int


@dataclass(frozen=True)
class TopicDoc:
    id: int
    name: str
    description: str
    note_count: int
    follower_count: int


@dataclass(frozen=True)
class NoteQuery:
    text: str
    sort: Sort = "relevance"
    channel: str | None = None
    topic_id: int | None = None
    tag: str | None = None
    author_id: int | None = None
    after: tuple[Any, ...] | None = None  # `Hits.next_after` of the previous page
    limit: int = 20


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    terms: tuple[str, ...] = ()  # the query's words, for highlighting


@dataclass
class Hits:
    items: list[Hit]
    terms: tuple[str, ...] = ()
    # Where the next page starts, opaque to callers (an offset for the embedded index, the
    # last hit's sort values for Elasticsearch's search_after); None on the last page.
    next_after: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: Literal["query", "topic", "tag", "title"]
    weight: float


@runtime_checkable
class SearchBackend(Protocol):
    name: str

    def index_notes(self, docs: list[NoteDoc], generation: int | None = None) -> None: ...

    def delete_notes(self, ids: list[int]) -> None: ...

    def update_signals(self, signals: dict[int, tuple[float, int]]) -> None:
        """(hot, engagement) of indexed notes, refreshed by the ranking job."""
        ...

    def index_users(self, docs: list[UserDoc], generation: int | None = None) -> None: ...

    def delete_users(self, ids: list[int]) -> None: ...

    def index_topics(self, docs: list[TopicDoc], generation: int | None = None) -> None: ...

    def delete_topics(self, ids: list[int]) -> None: ...

    def search_notes(self, query: NoteQuery) -> Hits: ...

    def search_users(self, text: str, after: tuple[Any, ...] | None, limit: int) -> Hits: ...

    def search_topics(self, text: str, after: tuple[Any, ...] | None, limit: int) -> Hits: ...

    def suggest(self, prefix: str, limit: int) -> list[Suggestion]: ...

    def begin_reindex(self) -> int:
        """A new generation for a full reindex (or the unfinished one, to resume it)."""
        ...

    def checkpoint(self, generation: int, kind: str) -> int:
        """The last id a reindex of this generation finished for `kind` (0: none)."""
        ...

    def save_checkpoint(self, generation: int, kind: str, last_id: int) -> None: ...

    def finish_reindex(self, generation: int) -> dict[str, int]:
        """Drop what the reindex did not see again (deleted meanwhile): counts removed."""
        ...

    def health(self) -> dict[str, object]:
        """`{"ok": bool, "backend": name, ...}` for /readyz."""
        ...

    def stats(self) -> dict[str, object]: ...
