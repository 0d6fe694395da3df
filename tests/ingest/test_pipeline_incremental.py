"""The pipeline with incremental parsing stores exactly what full parses store.

A feed polled twice (its second body adds entries, drops one and changes the channel head)
must end with the same rows whether the second poll parsed only the new entries or the whole
body; and the remembered entries must only ever be those of a committed poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.app.config import parse_config
from bot.core import pipeline as pipeline_module
from bot.core.pipeline import Pipeline
from bot.ingest.fetch import Fetcher
from bot.ingest.types import ParsedFeed
from bot.store.models import Entry, FeedChunk, Story
from bot.store.storage import Storage
from bot.verdict import Verdict

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClassifier:
    def classify(
        self, title: str, summary: str = "", lang: str | None = None, hints: Sequence[str] = ()
    ) -> Verdict:
        return Verdict(relevant="AI" in title, score=0.9 if "AI" in title else 0.1)


def body(numbers: Sequence[int], built: str) -> bytes:
    items = "".join(
        f"<item><title>AI story {n}</title><link>https://news.example/{n}</link>"
        f'<guid isPermaLink="false">urn:news:{n}</guid>'
        f"<pubDate>Sun, 01 Mar 2026 0{n % 10}:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Text {n}&lt;/p&gt;</description></item>\n"
        for n in numbers
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>News</title><link>https://news.example/</link><language>en</language>"
        f"<lastBuildDate>{built}</lastBuildDate>\n{items}</channel></rss>"
    ).encode()


@pytest.fixture
def feed_file(tmp_path: Path) -> Path:
    return tmp_path / "feed.xml"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    s = Storage.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield s
    s.close()


def make_pipeline(storage: Storage, feed_file: Path, tmp_path: Path) -> Pipeline:
    cfg = parse_config(
        {"feeds": [{"name": "f", "url": feed_file.as_uri()}]}, tmp_path / "feeds.yaml"
    )
    storage.sync_feeds(cfg.feed_options(), NOW)
    clock = iter(NOW + timedelta(minutes=i) for i in range(100))
    return Pipeline(
        storage=storage,
        fetcher=Fetcher.from_defaults(cfg.defaults),
        backfill_window=cfg.defaults.backfill_window,
        classifier=FakeClassifier(),
        clock=lambda: next(clock),
    )  # type: ignore[arg-type]


def poll(p: Pipeline) -> Any:
    async def run() -> Any:
        try:
            return await p.poll_feeds([f for f in p.storage.feeds() if f.active])
        finally:
            await p.fetcher.aclose()

    return asyncio.run(run())


def rows(storage: Storage) -> list[tuple[Any, ...]]:
    with storage.session() as s:
        return [
            (e.uid, e.url, e.title, e.summary, e.language, e.published, e.story_id)
            for e in s.scalars(select(Entry).order_by(Entry.uid))
        ]


def spy_parses(monkeypatch: pytest.MonkeyPatch) -> list[ParsedFeed]:
    seen: list[ParsedFeed] = []
    real = pipeline_module.parse_feed

    def spy(*args: Any, **kw: Any) -> ParsedFeed:
        parsed = real(*args, **kw)
        seen.append(parsed)
        return parsed

    monkeypatch.setattr(pipeline_module, "parse_feed", spy)
    return seen


def test_a_second_poll_parses_only_new_entries_and_stores_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = body(range(20, 0, -1), "Sun, 01 Mar 2026 09:00:00 GMT")
    second = body(range(22, 1, -1), "Sun, 01 Mar 2026 10:00:00 GMT")  # 22, 21 new; 1 gone
    results = {}
    for mode in ("incremental", "full"):
        feed_file = tmp_path / mode / "feed.xml"
        feed_file.parent.mkdir()
        storage = Storage.open(f"sqlite:///{tmp_path / mode / 'db.sqlite'}")
        p = make_pipeline(storage, feed_file, tmp_path / mode)
        feed_file.write_bytes(first)
        (out,) = poll(p)
        assert out.new_entries == 20
        if mode == "full":  # forget the entries' bytes: the next poll is a full parse
            p._stored_chunks.clear()
            with storage.engine.begin() as conn:
                conn.execute(delete(FeedChunk))
        parses = spy_parses(monkeypatch)
        feed_file.write_bytes(second)
        (out,) = poll(p)
        assert out.new_entries == 2 and out.new_stories == 2
        assert [x.skipped for x in parses] == ([19] if mode == "incremental" else [0])
        results[mode] = rows(storage)
        storage.close()
    assert results["incremental"] == results["full"]
    assert len(results["full"]) == 22


def test_a_new_process_parses_only_new_entries_too(
    storage: Storage, feed_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a poll remembers of a body is in the database, so a fresh `poll --once` (a new
    Pipeline) skips the entries stored before, and stores the same rows."""
    feed_file.write_bytes(body(range(20, 0, -1), "Sun, 01 Mar 2026 09:00:00 GMT"))
    (out,) = poll(make_pipeline(storage, feed_file, tmp_path))
    assert out.new_entries == 20
    (feed,) = storage.feeds()
    remembered = storage.feed_chunks(feed.id)
    assert remembered is not None and len(remembered.hashes) == 20
    parses = spy_parses(monkeypatch)
    feed_file.write_bytes(body(range(22, 1, -1), "Sun, 01 Mar 2026 10:00:00 GMT"))
    (out,) = poll(make_pipeline(storage, feed_file, tmp_path))  # a new process
    assert out.new_entries == 2
    assert [x.skipped for x in parses] == [19]
    after = storage.feed_chunks(feed.id)
    assert after is not None and len(after.hashes) == 21 and after != remembered
    assert len(rows(storage)) == 22


def test_entries_are_remembered_only_once_stored(
    storage: Storage, feed_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make_pipeline(storage, feed_file, tmp_path)
    feed_file.write_bytes(body(range(5, 0, -1), "a"))
    (out,) = poll(p)
    assert out.new_entries == 5

    def broken(session: Session, story: Story, verdict: Verdict) -> None:
        raise RuntimeError("router down")

    p.on_story = broken
    feed_file.write_bytes(body(range(7, 0, -1), "b"))
    (out,) = poll(p)
    assert out.status == "error" and out.new_entries == 0  # rolled back
    p.on_story = None
    parses = spy_parses(monkeypatch)
    feed_file.write_bytes(body(range(7, 0, -1), "c"))  # the same entries, a new head
    (out,) = poll(p)
    assert out.new_entries == 2  # not skipped: the failed poll never stored them
    assert parses[0].skipped == 5
    assert len(rows(storage)) == 7


def test_a_parse_error_forgets_the_remembered_entries(
    storage: Storage, feed_file: Path, tmp_path: Path
) -> None:
    p = make_pipeline(storage, feed_file, tmp_path)
    feed_file.write_bytes(body(range(3, 0, -1), "a"))
    poll(p)
    assert p._stored_chunks
    feed_file.write_bytes(b"<html><body>maintenance</body></html>")
    (out,) = poll(p)
    assert out.status == "parse_error"
    assert not any(p._stored_chunks.values())
    (feed,) = storage.feeds()
    assert storage.feed_chunks(feed.id) is None  # a new process would not trust it either


async def test_a_feed_failing_poll_after_poll_is_logged_as_a_warning(
    storage: Storage, tmp_path: Path
) -> None:
    from structlog.testing import capture_logs

    missing = tmp_path / "gone.xml"  # never written: every fetch fails
    pipeline = make_pipeline(storage, missing, tmp_path)
    events = []
    for _ in range(pipeline_module.WARN_AFTER_FAILURES + 1):
        (feed,) = storage.feeds()
        with capture_logs() as logs:
            await pipeline.poll_feed(feed)
        (event,) = [e for e in logs if e.get("feed") == feed.name]
        events.append((event["log_level"], event["event"], event["failures"]))
    await pipeline.fetcher.aclose()
    n = pipeline_module.WARN_AFTER_FAILURES
    assert events[: n - 1] == [("info", "polled", i) for i in range(1, n)]
    assert events[n - 1 :] == [("warning", "feed failing", n), ("warning", "feed failing", n + 1)]


def test_only_new_entries_get_their_language_detected(
    storage: Storage, feed_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed that declares no language and rewrites the text of every item (so none can be
    skipped unparsed): the entries stored before are not detected again, and a new one starts
    from the feed's usual language."""
    calls: list[tuple[str, str | None]] = []
    real = pipeline_module.item_language

    def spy(item: Any, usual: str | None = None) -> str | None:
        calls.append((item.uid, usual))
        return real(item, usual)

    monkeypatch.setattr(pipeline_module, "item_language", spy)

    def undeclared(numbers: Sequence[int], text: str) -> bytes:
        b = body(numbers, "x").replace(b"<language>en</language>", b"")
        return b.replace(b"&lt;p&gt;Text", f"&lt;p&gt;{text}".encode())

    words = "The committee said that the new rules on artificial intelligence will apply from"
    feed_file.write_bytes(undeclared(range(5, 0, -1), words))
    (out,) = poll(make_pipeline(storage, feed_file, tmp_path))
    assert out.new_entries == 5 and len(calls) == 5
    assert {r[4] for r in rows(storage)} == {"en"}
    calls.clear()
    feed_file.write_bytes(undeclared(range(6, 0, -1), words + " next year, the minister said"))
    (out,) = poll(make_pipeline(storage, feed_file, tmp_path))
    assert out.new_entries == 1
    assert calls == [("urn:news:6", "en")]
