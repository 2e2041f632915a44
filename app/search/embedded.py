"""The embedded backend: SQLite FTS5 over jieba-segmented text, in its own file in the data
directory (`search.sqlite3`).

Its own file rather than the application database: the same engine and the same relevance
whatever the deployment's database is (PostgreSQL's built-in full text has no Chinese
parser), index writes never lock the application's tables, and a full reindex can be
thrown away without touching them. One host's processes share it (WAL mode: readers do not
wait for the writer); deployments on several hosts use Elasticsearch.

Relevance is BM25 (title 4, tags 3, topics 3, body 1) times an engagement factor
`1 + 0.1·ln(1 + likes + collects + comments + shares)` times a freshness factor
`0.75 + 0.25·exp(-age / 30 days)`: the best match first, a lively recent note before a
forgotten one of the same match."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.search.backend import (
    MAX_RESULTS,
    Hit,
    Hits,
    NoteDoc,
    NoteQuery,
    Suggestion,
    TopicDoc,
    UserDoc,
)
from app.search.text import Analyzer, analyzer, normalize

FRESHNESS_SECONDS = 30 * 86400.0
_TOP = "\U0010ffff"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS note_text USING fts5(
    title, body, tags, topics, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, channel TEXT,
    published_at REAL NOT NULL, hot REAL NOT NULL, engagement INTEGER NOT NULL,
    title_norm TEXT NOT NULL, generation INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS notes_title ON notes (title_norm);
CREATE INDEX IF NOT EXISTS notes_published ON notes (published_at);
CREATE INDEX IF NOT EXISTS notes_hot ON notes (hot);
CREATE INDEX IF NOT EXISTS notes_channel ON notes (channel, published_at);
CREATE INDEX IF NOT EXISTS notes_author ON notes (author_id, published_at);
CREATE INDEX IF NOT EXISTS notes_generation ON notes (generation);
CREATE TABLE IF NOT EXISTS note_topics (
    topic_id INTEGER NOT NULL, note_id INTEGER NOT NULL, PRIMARY KEY (topic_id, note_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS note_topics_note ON note_topics (note_id);
CREATE TABLE IF NOT EXISTS note_tags (
    tag TEXT NOT NULL, note_id INTEGER NOT NULL, PRIMARY KEY (tag, note_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS note_tags_note ON note_tags (note_id);
CREATE VIRTUAL TABLE IF NOT EXISTS user_text USING fts5(
    username, nickname, bio, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, follower_count INTEGER NOT NULL, generation INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS topic_text USING fts5(
    name, description, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, name_norm TEXT NOT NULL,
    note_count INTEGER NOT NULL, follower_count INTEGER NOT NULL, generation INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS topics_name ON topics (name_norm);
"""


def _phrase(term: str) -> str:
    """A term as an FTS5 string: whatever it holds (quotes, operators, stars) is literal."""
    return '"' + term.replace('"', '""') + '"'


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def index_text(tokens: Iterable[str]) -> str:
    """Tokens joined for FTS5, plus the two-character pieces of longer Chinese words, so a
    query word jieba does not know inside a longer one (春日穿搭 → 穿搭) still matches."""
    out: list[str] = []
    for token in tokens:
        out.append(token)
        if len(token) >= 3 and all(_is_cjk(ch) for ch in token):
            out.extend(token[i : i + 2] for i in range(len(token) - 1))
    return " ".join(out)


def _offset(after: tuple[Any, ...] | None) -> int:
    """The embedded index pages by offset: `after` is `(offset,)`."""
    if not after:
        return 0
    value = after[0]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("not a position in the results")
    return value


def _hits(rows: list[Any], terms: list[str], offset: int, limit: int) -> Hits:
    more = len(rows) > limit
    return Hits(
        [Hit(row[0], float(row[1]), tuple(terms)) for row in rows[:limit]],
        tuple(terms),
        (offset + limit,) if more else None,
    )


class EmbeddedSearch:
    name = "embedded"

    def __init__(self, path: Path | str, text_analyzer: Analyzer | None = None) -> None:
        self.path = str(path)
        self._analyzer = text_analyzer or analyzer()
        self._local = threading.local()
        self._db().executescript(_SCHEMA)  # its own transaction

    # -- connections -------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA busy_timeout = 30000")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- generations (full reindex) ----------------------------------------------------
    def _meta(self, db: sqlite3.Connection, key: str, default: int = 0) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, db: sqlite3.Connection, key: str, value: int) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def _live_generation(self, db: sqlite3.Connection) -> int:
        """Writes outside a reindex belong to the newest generation, so the sweep at the end
        of a running reindex keeps them."""
        return max(self._meta(db, "reindex_generation"), self._meta(db, "generation"))

    def begin_reindex(self) -> int:
        with self._write() as db:
            running = self._meta(db, "reindex_generation")
            if running:
                return running
            generation = self._meta(db, "generation") + 1
            self._set_meta(db, "reindex_generation", generation)
            return generation

    def checkpoint(self, generation: int, kind: str) -> int:
        return self._meta(self._db(), f"checkpoint:{generation}:{kind}")

    def save_checkpoint(self, generation: int, kind: str, last_id: int) -> None:
        with self._write() as db:
            self._set_meta(db, f"checkpoint:{generation}:{kind}", last_id)

    def finish_reindex(self, generation: int) -> dict[str, int]:
        removed: dict[str, int] = {}
        with self._write() as db:
            for kind, ids_of in (
                ("notes", self._delete_notes),
                ("users", self._delete_users),
                ("topics", self._delete_topics),
            ):
                stale = [
                    row[0]
                    for row in db.execute(
                        f"SELECT id FROM {kind} WHERE generation < ?",
                        (generation,),
                    )
                ]
                ids_of(db, stale)
                removed[kind] = len(stale)
            self._set_meta(db, "generation", generation)
            db.execute("DELETE FROM meta WHERE key = 'reindex_generation'")
            db.execute("DELETE FROM meta WHERE key LIKE 'checkpoint:%'")
        return removed

    # -- notes -------------------------------------------------------------------------
    def index_notes(self, docs: list[NoteDoc], generation: int | None = None) -> None:
        if not docs:
            return
        self._analyzer.add_words(
            [tag for doc in docs for tag in doc.tags] + [n for doc in docs for _, n in doc.topics]
        )
        rows = [
            (
                doc,
                index_text(self._analyzer.tokens(doc.title)),
                index_text(self._analyzer.tokens(doc.body)),
                index_text(t for tag in doc.tags for t in self._analyzer.tokens(tag)),
                index_text(t for _, name in doc.topics for t in self._analyzer.tokens(name)),
            )
            for doc in docs
        ]
        with self._write() as db:
            gen = generation if generation is not None else self._live_generation(db)
            self._delete_notes(db, [doc.id for doc in docs])
            db.executemany(
                "INSERT INTO note_text (rowid, title, body, tags, topics) VALUES (?, ?, ?, ?, ?)",
                [(doc.id, title, body, tags, topics) for doc, title, body, tags, topics in rows],
            )
            db.executemany(
                "INSERT INTO notes (id, author_id, channel, published_at, hot, engagement, "
                "title_norm, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        doc.id,
                        doc.author_id,
                        doc.channel,
                        doc.published_at,
                        doc.hot,
                        doc.engagement,
                        normalize(doc.title).strip(),
                        gen,
                    )
                    for doc in docs
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO note_topics (topic_id, note_id) VALUES (?, ?)",
                [(topic_id, doc.id) for doc in docs for topic_id, _ in doc.topics],
            )
            db.executemany(
                "INSERT OR IGNORE INTO note_tags (tag, note_id) VALUES (?, ?)",
                [(normalize(tag), doc.id) for doc in docs for tag in doc.tags],
            )

    def _delete_notes(self, db: sqlite3.Connection, ids: list[int]) -> None:
        params = [(i,) for i in ids]
        db.executemany("DELETE FROM note_text WHERE rowid = ?", params)
        db.executemany("DELETE FROM notes WHERE id = ?", params)
        db.executemany("DELETE FROM note_topics WHERE note_id = ?", params)
        db.executemany("DELETE FROM note_tags WHERE note_id = ?", params)

    def delete_notes(self, ids: list[int]) -> None:
        if ids:
            with self._write() as db:
                self._delete_notes(db, ids)

    def update_signals(self, signals: dict[int, tuple[float, int]]) -> None:
        if signals:
            with self._write() as db:
                db.executemany(
                    "UPDATE notes SET hot = ?, engagement = ? WHERE id = ?",
                    [(hot, engagement, i) for i, (hot, engagement) in signals.items()],
                )

    def _match(self, db: sqlite3.Connection, table: str, terms: list[str], prefix: bool) -> str:
        """All the query's words if any row has them all, else any of them."""
        quoted = [_phrase(t) for t in terms]
        if prefix:
            quoted[-1] += "*"
        every = " AND ".join(quoted)
        if len(quoted) == 1:
            return every
        found = db.execute(
            f"SELECT 1 FROM {table} WHERE {table} MATCH ? LIMIT 1",
            (every,),
        ).fetchone()
        return every if found else " OR ".join(quoted)

    def search_notes(self, query: NoteQuery) -> Hits:
        terms = self._analyzer.query_terms(query.text)
        offset = _offset(query.after)
        if not terms or offset >= MAX_RESULTS:
            return Hits([], tuple(terms))
        db = self._db()
        limit = min(query.limit, MAX_RESULTS - offset)
        where = ["note_text MATCH :match"]
        params: dict[str, object] = {
            "match": self._match(db, "note_text", terms, prefix=False),
            "now": time.time(),
            "fresh": FRESHNESS_SECONDS,
            "limit": limit + 1,
            "offset": offset,
        }
        if query.channel:
            where.append("n.channel = :channel")
            params["channel"] = query.channel
        if query.author_id is not None:
            where.append("n.author_id = :author")
            params["author"] = query.author_id
        if query.topic_id is not None:
            where.append("n.id IN (SELECT note_id FROM note_topics WHERE topic_id = :topic)")
            params["topic"] = query.topic_id
        if query.tag:
            where.append("n.id IN (SELECT note_id FROM note_tags WHERE tag = :tag)")
            params["tag"] = normalize(query.tag).strip()
        score = (
            "(-bm25(note_text, 4.0, 1.0, 3.0, 3.0)) * (1.0 + 0.1 * ln(1.0 + n.engagement)) "
            "* (0.75 + 0.25 * exp(-max(:now - n.published_at, 0) / :fresh))"
        )
        order = {
            "relevance": "score DESC, n.id DESC",
            "new": "n.published_at DESC, n.id DESC",
            "hot": "n.hot DESC, n.id DESC",
        }[query.sort]
        rows = db.execute(
            f"SELECT n.id, {score} AS score FROM note_text JOIN notes n ON n.id = note_text.rowid "
            f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :limit OFFSET :offset",
            params,
        ).fetchall()
        return _hits(rows, terms, offset, limit)

    # -- users and topics --------------------------------------------------------------
    def index_users(self, docs: list[UserDoc], generation: int | None = None) -> None:
        if not docs:
            return
        with self._write() as db:
            gen = generation if generation is not None else self._live_generation(db)
            self._delete_users(db, [doc.id for doc in docs])
            db.executemany(
                "INSERT INTO user_text (rowid, username, nickname, bio) VALUES (?, ?, ?, ?)",
                [
                    (
                        doc.id,
                        normalize(doc.username),
                        index_text(self._analyzer.tokens(doc.nickname)),
                        index_text(self._analyzer.tokens(doc.bio)),
                    )
                    for doc in docs
                ],
            )
            db.executemany(
                "INSERT INTO users (id, follower_count, generation) VALUES (?, ?, ?)",
                [(doc.id, doc.follower_count, gen) for doc in docs],
            )

    def _delete_users(self, db: sqlite3.Connection, ids: list[int]) -> None:
        db.executemany("DELETE FROM user_text WHERE rowid = ?", [(i,) for i in ids])
        db.executemany("DELETE FROM users WHERE id = ?", [(i,) for i in ids])

    def delete_users(self, ids: list[int]) -> None:
        if ids:
            with self._write() as db:
                self._delete_users(db, ids)

    def search_users(self, text: str, after: tuple[Any, ...] | None, limit: int) -> Hits:
        return self._search_named(
            "user_text", "users", "bm25(user_text, 3.0, 3.0, 1.0)", text, _offset(after), limit
        )

    def index_topics(self, docs: list[TopicDoc], generation: int | None = None) -> None:
        if not docs:
            return
        self._analyzer.add_words(doc.name for doc in docs)
        with self._write() as db:
            gen = generation if generation is not None else self._live_generation(db)
            self._delete_topics(db, [doc.id for doc in docs])
            db.executemany(
                "INSERT INTO topic_text (rowid, name, description) VALUES (?, ?, ?)",
                [
                    (
                        doc.id,
                        index_text(self._analyzer.tokens(doc.name)),
                        index_text(self._analyzer.tokens(doc.description)),
                    )
                    for doc in docs
                ],
            )
            db.executemany(
                "INSERT INTO topics (id, name, name_norm, note_count, follower_count, generation)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        doc.id,
                        doc.name,
                        normalize(doc.name).strip(),
                        doc.note_count,
                        doc.follower_count,
                        gen,
                    )
                    for doc in docs
                ],
            )

    def _delete_topics(self, db: sqlite3.Connection, ids: list[int]) -> None:
        db.executemany("DELETE FROM topic_text WHERE rowid = ?", [(i,) for i in ids])
        db.executemany("DELETE FROM topics WHERE id = ?", [(i,) for i in ids])

    def delete_topics(self, ids: list[int]) -> None:
        if ids:
            with self._write() as db:
                self._delete_topics(db, ids)

    def search_topics(self, text: str, after: tuple[Any, ...] | None, limit: int) -> Hits:
        return self._search_named(
            "topic_text",
            "topics",
            "bm25(topic_text, 4.0, 1.0)",
            text,
            _offset(after),
            limit,
            boost="(1.0 + 0.1 * ln(1.0 + t.note_count + t.follower_count))",
        )

    def _search_named(
        self,
        fts: str,
        table: str,
        bm25: str,
        text: str,
        offset: int,
        limit: int,
        boost: str = "(1.0 + 0.1 * ln(1.0 + t.follower_count))",
    ) -> Hits:
        """Users and topics: the last word may be unfinished (people type names)."""
        terms = self._analyzer.query_terms(text)
        if not terms or offset >= MAX_RESULTS:
            return Hits([], tuple(terms))
        db = self._db()
        limit = min(limit, MAX_RESULTS - offset)
        rows = db.execute(
            f"SELECT t.id, (-{bm25}) * {boost} AS score FROM {fts} "
            f"JOIN {table} t ON t.id = {fts}.rowid WHERE {fts} MATCH ? "
            "ORDER BY score DESC, t.id DESC LIMIT ? OFFSET ?",
            (self._match(db, fts, terms, prefix=True), limit + 1, offset),
        ).fetchall()
        return _hits(rows, terms, offset, limit)

    # -- suggestions -------------------------------------------------------------------
    def suggest(self, prefix: str, limit: int) -> list[Suggestion]:
        key = normalize(prefix).strip()
        if not key:
            return []
        db = self._db()
        upper = key + _TOP
        topics = [
            Suggestion(row[0], "topic", float(row[1]))
            for row in db.execute(
                "SELECT name, note_count + follower_count FROM topics "
                "WHERE name_norm >= ? AND name_norm < ? ORDER BY 2 DESC, id LIMIT ?",
                (key, upper, limit),
            )
        ]
        tags = [
            Suggestion(row[0], "tag", float(row[1]))
            for row in db.execute(
                "SELECT tag, COUNT(*) FROM note_tags WHERE tag >= ? AND tag < ? "
                "GROUP BY tag ORDER BY 2 DESC, tag LIMIT ?",
                (key, upper, limit),
            )
        ]
        titles = [
            Suggestion(row[0], "title", float(row[1]))
            for row in db.execute(
                "SELECT title_norm, MAX(engagement) FROM notes WHERE title_norm >= ? "
                "AND title_norm < ? GROUP BY title_norm ORDER BY 2 DESC LIMIT ?",
                (key, upper, limit),
            )
        ]
        return topics + tags + titles

    def health(self) -> dict[str, object]:
        self._db().execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        return {"ok": True, "backend": self.name}

    def stats(self) -> dict[str, object]:
        db = self._db()
        return {
            "backend": self.name,
            "path": self.path,
            "notes": db.execute("SELECT COUNT(*) FROM notes").fetchone()[0],
            "users": db.execute("SELECT COUNT(*) FROM users").fetchone()[0],
            "topics": db.execute("SELECT COUNT(*) FROM topics").fetchone()[0],
            "generation": self._meta(db, "generation"),
            "reindex_running": bool(self._meta(db, "reindex_generation")),
        }
