"""story_posts: the one way a stored story becomes a StoryPost (search, /why, digests, delivery)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.deliver.load import load_digest, load_story_posts
from bot.store.models import Entry, Feed, Story
from bot.store.pollwrite import store_verdict
from bot.store.posts import UNKNOWN_SOURCE, story_posts
from bot.store.search import search_stories
from bot.store.storage import Storage
from bot.types import Source
from bot.verdict import Verdict

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    s = Storage.open(db_url)
    yield s
    s.close()


def _feed(s: Session, name: str) -> int:
    f = Feed(name=name, config_url=f"https://{name}.example/f", url=f"https://{name}.example/f")
    s.add(f)
    s.flush()
    return f.id


def _story(s: Session, title: str, feeds: list[tuple[int, str | None]], age_h: int = 0) -> int:
    story = Story(
        title=title,
        title_key=title.casefold(),
        url=f"https://news.example/{title}",
        summary=f"{title} summary",
        language="en",
        published=NOW - timedelta(hours=age_h),
        first_seen=NOW,
    )
    s.add(story)
    s.flush()
    for i, (feed_id, url) in enumerate(feeds):
        uid = f"{story.id}-{i}"
        s.add(
            Entry(
                feed_id=feed_id,
                uid=uid,
                uid_hash=uid,
                story_id=story.id,
                url=url,
                title=title,
                summary="",
                published=story.published,
            )
        )
    s.flush()
    return story.id


def test_posts_keep_the_order_asked_and_skip_deleted_stories(storage: Storage) -> None:
    with storage.write() as s:
        a, b = _feed(s, "Alpha"), _feed(s, "Beta")
        first = _story(s, "Chips", [(b, "https://b.example/1"), (a, "https://a.example/1")])
        second = _story(s, "Act", [(a, None)], age_h=5)
        store_verdict(
            s,
            first,
            Verdict(relevant=True, score=0.9, jurisdictions=("US",), topics=("export-controls",)),
        )
    with storage.session() as s:
        posts = story_posts(s, [second, 999_999, first])
        assert story_posts(s, []) == []
    assert [p.story_id for p in posts] == [second, first]
    act, chips = posts
    # Sources in the order their entries were stored, each with that entry's link.
    assert chips.sources == (
        Source("Beta", "https://b.example/1"),
        Source("Alpha", "https://a.example/1"),
    )
    assert (chips.jurisdictions, chips.topics, chips.score) == (("US",), ("export-controls",), 0.9)
    assert chips.url == "https://news.example/Chips" and chips.summary == "Chips summary"
    assert chips.published == NOW and chips.language == "en"
    # No verdict yet: no tags, score 0.
    assert act.sources == (Source("Alpha", None),)
    assert (act.jurisdictions, act.topics, act.instruments, act.score) == ((), (), (), 0.0)
    assert act.published == NOW - timedelta(hours=5)


def test_one_feed_is_one_source_and_every_reader_gets_the_same_post(storage: Storage) -> None:
    with storage.write() as s:
        a = _feed(s, "Alpha")
        sid = _story(s, "Summit", [(a, "https://a.example/1"), (a, "https://a.example/2")])
        store_verdict(s, sid, Verdict(relevant=True, score=0.5))
    with storage.session() as s:
        (post,) = story_posts(s, [sid])
        assert post.sources == (Source("Alpha", "https://a.example/1"),)
        assert load_story_posts(s, [sid]) == {sid: post}
        assert load_digest(s, [sid, 404], NOW, NOW).stories == (post,)
        assert search_stories(s, "summit", now=NOW).hits == [post]


def test_a_missing_feed_is_an_unknown_source(storage: Storage) -> None:
    with storage.write() as s:
        a, b = _feed(s, "Alpha"), _feed(s, "Gone")
        sid = _story(s, "Orphan", [(a, "https://a.example/1"), (b, "https://gone.example/1")])
    # An entry outlives its feed only where foreign keys were not enforced: do just that.
    with storage.engine.connect() as c:
        if c.dialect.name == "sqlite":
            c.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            c.exec_driver_sql("SET session_replication_role = replica")
        c.execute(text("DELETE FROM feeds WHERE id = :id"), {"id": b})
        c.commit()
        c.exec_driver_sql(
            "PRAGMA foreign_keys=ON"
            if c.dialect.name == "sqlite"
            else "SET session_replication_role = DEFAULT"
        )
    with storage.session() as s:
        (post,) = story_posts(s, [sid])
    assert post.sources == (
        Source("Alpha", "https://a.example/1"),
        Source(UNKNOWN_SOURCE, "https://gone.example/1"),
    )
    assert UNKNOWN_SOURCE == "unknown source"
