"""PGC from elsewhere (seed 000's "crawled PGC", done lawfully): articles from JSON Lines and
RSS/Atom feeds, read from files or URLs, published by an official account with the original
link and attribution kept (`source` on the note). Each article is imported once, keyed by its
link: importing again updates what changed and leaves the rest alone.

A JSON Lines record: `{"url", "title", "body" (or "content", "summary"; HTML is turned into
text), "source"?, "author"?, "tags"?: [...], "published_at"?: ISO time}`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import feedparser
import urllib3
from bs4 import BeautifulSoup
from flask import current_app
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from app.accounts.models import User
from app.core.config import Settings
from app.core.errors import AppError
from app.core.extensions import db
from app.core.models import utcnow
from app.editorial.models import ContentSource
from app.editorial.services import log_action
from app.growth.levels import max_body
from app.notes.models import Note
from app.notes.services.notes import (
    MAX_TAGS,
    TAG_MAX_CHARS,
    create_note,
    normalize_tag,
    update_note,
)

MAX_FETCH_BYTES = 5 << 20
FETCH_TIMEOUT = urllib3.Timeout(connect=5.0, read=15.0)
FETCH_RETRIES = urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 502, 503, 504))
USER_AGENT = "SproutImporter/1.0 (+https://github.com/sprout)"


class ImportFailed(Exception):
    """The source cannot be read or the target account cannot publish: nothing imported."""


@dataclass(frozen=True)
class Article:
    link: str
    title: str
    body: str
    attribution: str
    tags: tuple[str, ...] = ()
    published_at: datetime | None = None


@dataclass
class ImportReport:
    counts: Counter[str] = field(default_factory=Counter)  # created | updated | unchanged
    skipped: list[str] = field(default_factory=list)  # why each bad record was left out
    note_ids: list[int] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        head = "dry run: " if self.dry_run else ""
        parts = ", ".join(f"{self.counts[k]} {k}" for k in ("created", "updated", "unchanged"))
        return f"{head}{parts}, {len(self.skipped)} skipped"


# --- reading --------------------------------------------------------------------------------


def read_source(source: str) -> bytes:
    """The bytes of a file or an http(s) URL, at most MAX_FETCH_BYTES."""
    if re.match(r"^https?://", source, re.IGNORECASE):
        return _fetch(source)
    path = Path(source)
    if not path.is_file():
        raise ImportFailed(f"no such file: {source}")
    if path.stat().st_size > MAX_FETCH_BYTES:
        raise ImportFailed(f"{source} is larger than {MAX_FETCH_BYTES} bytes")
    return path.read_bytes()


def _fetch(url: str) -> bytes:
    http = urllib3.PoolManager(
        timeout=FETCH_TIMEOUT, retries=FETCH_RETRIES, headers={"User-Agent": USER_AGENT}
    )
    try:
        response = http.request("GET", url, preload_content=False, redirect=True)
    except urllib3.exceptions.HTTPError as exc:
        raise ImportFailed(f"cannot fetch {url}: {exc}") from exc
    try:
        if response.status != 200:
            raise ImportFailed(f"cannot fetch {url}: HTTP {response.status}")
        chunks, size = [], 0
        for chunk in response.stream(64 << 10):
            size += len(chunk)
            if size > MAX_FETCH_BYTES:
                raise ImportFailed(f"{url} is larger than {MAX_FETCH_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        response.release_conn()


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment: block breaks kept, tags, scripts and styles gone."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup(["script", "style", "iframe", "noscript"]):
        element.decompose()
    text = soup.get_text("\n")
    lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: AnyHttpUrl
    title: Annotated[str, Field(min_length=1, max_length=500)]
    body: str | None = None
    content: str | None = None
    summary: str | None = None
    source: Annotated[str, Field(max_length=100)] | None = None
    author: Annotated[str, Field(max_length=100)] | None = None
    tags: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=20)
    published_at: datetime | None = None


def _attribution(source: str | None, author: str | None) -> str:
    return " · ".join(part.strip() for part in (source, author) if part and part.strip())[:200]


def parse_jsonl(data: bytes) -> tuple[list[Article], list[str]]:
    """The articles, and a note for each line that is not one (numbered from 1)."""
    articles, problems = [], []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = _Record.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            problems.append(f"line {number}: {str(exc).splitlines()[0]}")
            continue
        raw = record.body or record.content or record.summary or ""
        body = html_to_text(raw) if "<" in raw else raw.strip()
        published = record.published_at
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
        articles.append(
            Article(
                link=str(record.url),
                title=record.title.strip(),
                body=body,
                attribution=_attribution(record.source, record.author),
                tags=tuple(record.tags),
                published_at=published,
            )
        )
    return articles, problems


def parse_feed(data: bytes) -> tuple[list[Article], list[str]]:
    """RSS 0.9x/1.0/2.0 and Atom, through feedparser (which also sanitises the HTML)."""
    parsed = feedparser.parse(data)
    if not parsed.entries:
        reason = parsed.get("bozo_exception") or "no entries"
        raise ImportFailed(f"not a readable RSS/Atom feed: {reason}")
    site = parsed.feed.get("title", "")
    articles, problems = [], []
    for number, entry in enumerate(parsed.entries, 1):
        link = entry.get("link") or ""
        title = html_to_text(entry.get("title", ""))
        if not re.match(r"^https?://", link) or not title:
            problems.append(f"entry {number}: no link or no title")
            continue
        contents = entry.get("content") or []
        raw = contents[0].get("value", "") if contents else entry.get("summary", "")
        moment = entry.get("published_parsed") or entry.get("updated_parsed")
        articles.append(
            Article(
                link=link,
                title=title,
                body=html_to_text(raw),
                attribution=_attribution(site, entry.get("author")),
                tags=tuple(tag.get("term", "") for tag in entry.get("tags", []) if tag.get("term")),
                published_at=datetime.fromtimestamp(time.mktime(moment), UTC) if moment else None,
            )
        )
    return articles, problems


def parse(data: bytes, fmt: str = "auto") -> tuple[list[Article], list[str]]:
    if fmt == "auto":
        head = data.lstrip()[:1]
        fmt = "jsonl" if head in (b"{", b"[") else "feed"
    return parse_jsonl(data) if fmt == "jsonl" else parse_feed(data)


# --- publishing -----------------------------------------------------------------------------


def _key(link: str) -> str:
    canonical = link.strip().split("#", 1)[0].rstrip("/")
    return "import:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _shorten(text: str, limit: int) -> str:
    text = unicodedata.normalize("NFC", text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _tags(raw: tuple[str, ...]) -> list[str]:
    tags = []
    for value in raw:
        try:
            tag = normalize_tag(value)
        except AppError:
            continue
        if tag and len(tag) <= TAG_MAX_CHARS and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


def official_account(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    if user is None or not user.official or user.status != "active":
        raise ImportFailed(f"{username} is not an active official account")
    return user


def import_articles(
    articles: list[Article],
    account: User,
    *,
    channel: str | None = None,
    topic_ids: list[int] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    settings: Settings = current_app.config["SPROUT"]
    report = ImportReport(dry_run=dry_run)
    for article in articles:
        if not article.body:
            report.skipped.append(f"{article.link}: no text")
            continue
        key = _key(article.link)
        values: dict[str, Any] = {
            "title": _shorten(article.title, settings.note_title_max),
            "body": _shorten(article.body, max_body(account)),
            "tags": _tags(article.tags),
        }
        # The article decides whether a note changes; the channel and topics of this run
        # apply to new notes only (an editor may have moved the note since).
        digest = hashlib.sha256(
            json.dumps([values, article.attribution], ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest()
        placement: dict[str, Any] = {"topic_ids": list(topic_ids or [])}
        if channel:
            placement["channel"] = channel
        source = db.session.scalar(
            select(ContentSource).where(ContentSource.kind == "note", ContentSource.key == key)
        )
        note = db.session.get(Note, source.target_id) if source else None
        if note is not None and note.deleted_at is not None:
            # Deleted since its import: a moderator's or editor's call, which stands.
            report.skipped.append(f"{article.link}: imported before and deleted since")
            continue
        if note is None:
            state = "created"
        elif source is not None and source.digest == digest:
            state = "unchanged"
        else:
            state = "updated"
        report.counts[state] += 1
        if dry_run or state == "unchanged":
            continue
        try:
            if note is None:
                note = create_note(account, {**values, **placement, "status": "published"})
                published = article.published_at
                if published is not None and published < utcnow():
                    note.published_at = note.created_at = published  # its original date
            else:
                note = update_note(account, note.id, values)
        except AppError as exc:
            db.session.rollback()
            report.counts[state] -= 1
            report.skipped.append(f"{article.link}: {exc.message}")
            continue
        if source is None:
            source = ContentSource(kind="note", key=key, target_id=note.id, digest=digest)
            db.session.add(source)
        source.digest, source.url, source.attribution = digest, article.link, article.attribution
        source.target_id, source.updated_at = note.id, utcnow()
        log_action(
            None,
            "import_" + ("create" if state == "created" else "update"),
            "note",
            note.id,
            {"url": article.link, "attribution": article.attribution, "account": account.username},
        )
        db.session.commit()
        report.note_ids.append(note.id)
    return report
