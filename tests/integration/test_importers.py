"""PGC importers: JSON Lines and RSS/Atom, from files and over real HTTP, into an official
account; the source link and attribution on the note; one import per article."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from seed_content.importers import (
    ImportFailed,
    import_articles,
    official_account,
    parse,
    read_source,
)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>山野慢生活</title><link>https://example.org/</link>
<item><title>秋天去山里露营要带什么</title><link>https://example.org/posts/autumn-camping</link>
<author>林间</author><category>露营</category><category>#秋天</category>
<description><![CDATA[<p>秋天的山里<b>早晚温差大</b>，睡袋要选舒适温度5度左右的。</p>
<p>另外别忘了头灯和保温杯。</p><script>alert("x")</script>]]></description>
<pubDate>Mon, 02 Nov 2026 08:00:00 +0800</pubDate></item>
<item><title>没有链接的条目</title><description>正文</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>城市散步指南</title>
<id>urn:uuid:1</id><updated>2026-11-01T00:00:00Z</updated>
<entry><title>老城区一日散步路线</title><link href="https://walks.example.com/old-town"/>
<id>urn:uuid:2</id><updated>2026-11-01T00:00:00Z</updated><author><name>阿步</name></author>
<content type="html">&lt;p&gt;从早市出发，沿河走到旧书店，再去巷子里吃一碗面。&lt;/p&gt;</content>
</entry></feed>"""


def jsonl(*records: object) -> bytes:
    return "\n".join(
        r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records
    ).encode()


@pytest.fixture
def publisher(api):
    from app.accounts.models import User
    from app.core.extensions import db

    api.register("sprout_travel")
    user = db.session.get(User, api.users["sprout_travel"]["id"])
    user.official = user.verified = True
    db.session.commit()
    return user


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        # The importer stops reading an oversize file: the broken pipe is expected.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server for the feed files in tmp_path."""
    handler = partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_rss_feed_over_http_becomes_attributed_notes_once(api, publisher, tmp_path, served):
    (tmp_path / "feed.xml").write_text(RSS, encoding="utf-8")
    articles, problems = parse(read_source(f"{served}/feed.xml"))
    assert problems == ["entry 2: no link or no title"]
    report = import_articles(articles, publisher, channel="travel")
    assert report.counts["created"] == 1, report.summary()
    note = api.get(f"/notes/{report.note_ids[0]}").get_json()
    assert note["title"] == "秋天去山里露营要带什么" and note["channel"]["code"] == "travel"
    assert "早晚温差大" in note["body"] and "alert" not in note["body"] and "<" not in note["body"]
    assert note["tags"] == ["露营", "秋天"]
    assert note["source"] == {
        "url": "https://example.org/posts/autumn-camping",
        "attribution": "山野慢生活 · 林间",
    }
    assert note["published_at"].startswith("2026-11-02T00:00:00")  # the original date, in UTC
    assert note["author"]["official"] is True
    again = import_articles(parse(read_source(f"{served}/feed.xml"))[0], publisher)
    assert again.counts["unchanged"] == 1 and again.counts["created"] == 0
    api.register("editor1")
    api.grant("editor1", "editor")
    (entry,) = api.get("/editor/log", "editor1").get_json()["items"]
    assert entry["action"] == "import_create" and entry["target_id"] == note["id"]
    assert entry["details"]["url"] == "https://example.org/posts/autumn-camping"


def test_atom_and_jsonl_files_and_updates_in_place(api, publisher, tmp_path):
    (tmp_path / "walks.atom").write_text(ATOM, encoding="utf-8")
    created = import_articles(parse(read_source(str(tmp_path / "walks.atom")))[0], publisher)
    assert created.counts["created"] == 1
    note = api.get(f"/notes/{created.note_ids[0]}").get_json()
    assert note["source"]["attribution"] == "城市散步指南 · 阿步"

    first = {
        "url": "https://mag.example.net/a/1",
        "title": "一个很长很长的标题，长到超过了笔记标题的二十个字符上限",
        "body": "<p>第一版正文。</p>",
        "source": "某杂志",
        "tags": ["旅行", "x" * 30],
    }
    records = jsonl(first, "{not json", {"url": "ftp://nope", "title": "t", "body": "b"})
    articles, problems = parse(records)
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3"]
    report = import_articles(articles, publisher)
    note = api.get(f"/notes/{report.note_ids[0]}").get_json()
    assert len(note["title"]) == 20 and note["title"].endswith("…")
    assert note["body"] == "第一版正文。" and note["tags"] == ["旅行"]
    edited = parse(jsonl({**first, "body": "第二版正文。"}))[0]
    updated = import_articles(edited, publisher)
    assert updated.counts["updated"] == 1 and updated.note_ids == report.note_ids
    assert api.get(f"/notes/{report.note_ids[0]}").get_json()["body"] == "第二版正文。"
    dry = import_articles(
        parse(jsonl({**first, "url": "https://mag.example.net/a/2"}))[0], publisher, dry_run=True
    )
    assert dry.counts["created"] == 1 and dry.note_ids == []


def test_bad_sources_and_accounts_are_refused(api, publisher, tmp_path, served):
    api.register("ordinary")
    with pytest.raises(ImportFailed):
        official_account("ordinary")
    assert official_account("SPROUT_TRAVEL").username == "sprout_travel"
    with pytest.raises(ImportFailed):
        read_source(str(tmp_path / "missing.xml"))
    with pytest.raises(ImportFailed, match="HTTP 404"):
        read_source(f"{served}/missing.xml")
    (tmp_path / "junk.xml").write_text("<html><body>not a feed</body></html>")
    with pytest.raises(ImportFailed):
        parse(read_source(str(tmp_path / "junk.xml")), "feed")
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"{}\n" * (2 << 20))
    with pytest.raises(ImportFailed, match="larger than"):
        read_source(f"{served}/big.jsonl")


def test_the_import_command(app, publisher, tmp_path):
    (tmp_path / "feed.xml").write_text(RSS, encoding="utf-8")
    runner = app.test_cli_runner()
    args = ["import-pgc", str(tmp_path / "feed.xml"), "--account", "sprout_travel"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output and "skipped entry 2" in result.output
    assert "1 unchanged" in runner.invoke(args=args).output
    refused = runner.invoke(args=[*args[:2], "--account", "nobody"])
    assert refused.exit_code != 0 and "not an active official account" in refused.output
