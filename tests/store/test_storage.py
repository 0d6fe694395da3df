"""Storage on SQLite and PostgreSQL: migrations, feed sync, transactional polls, dedup."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.app.config import AppConfig, parse_config
from bot.ingest.types import FetchResult, FetchStatus, Item
from bot.store.db import _head_from_files, current_revision, head_revision, migrations_dir
from bot.store.models import Base, Entry, Feed, Story, StoryTag
from bot.store.models import Verdict as VerdictRow
from bot.store.records import PollOutcome
from bot.store.storage import Storage
from bot.verdict import Evidence, Verdict

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    s = Storage.open(db_url)
    yield s
    s.close()


def config(tmp_path: Path, *names: str, **urls: str) -> AppConfig:
    feeds = [{"name": n, "url": urls.get(n, f"https://example.org/{n}.xml")} for n in names]
    return parse_config({"feeds": feeds, "defaults": {"interval": "30m"}}, tmp_path / "f.yaml")


def item(
    uid: str,
    title: str,
    *,
    url: str | None = None,
    age: timedelta = timedelta(hours=1),
    known: bool = True,
) -> Item:
    return Item(
        uid=uid,
        url=url,
        title=title,
        summary=f"summary of {title}",
        published=NOW - age,
        published_known=known,
        language="en",
    )


def ok(body_hash: str = "h1") -> FetchResult:
    return FetchResult(
        status=FetchStatus.OK,
        url="https://example.org/a.xml",
        http_status=200,
        etag='"e1"',
        last_modified="Fri, 20 Nov 2026 10:00:00 GMT",
        body_hash=body_hash,
    )


def classify(item: Item, hints: Sequence[str]) -> Verdict:
    relevant = "AI Act" in item.title
    return Verdict(
        relevant=relevant,
        score=0.9 if relevant else 0.1,
        jurisdictions=("EU",) if relevant else (),
        topics=("legislation",) if relevant else (),
        instruments=("EU AI Act",) if relevant else (),
        evidence=(Evidence(rule="ai-term", term="ai act", text="AI Act", field="title"),)
        if relevant
        else (),
    )


def poll(storage: Storage, feed_id: int, items: list[Item], **kw: object) -> PollOutcome:
    return storage.record_poll(
        feed_id,
        kw.pop("result", ok()),
        items,
        now=kw.pop("now", NOW),  # type: ignore[arg-type]
        next_poll_at=NOW + timedelta(minutes=30),
        classify=classify,
        backfill_window=timedelta(hours=48),
        **kw,  # type: ignore[arg-type]
    )


def test_migrations_match_models(storage: Storage) -> None:
    assert current_revision(storage.engine) == head_revision(storage.engine)
    with storage.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    # Columns and tables must match; the full-text index tables are the migrations' own
    # (SQLite FTS5 shadow tables), with no model.
    def fts(d: tuple[object, ...]) -> bool:
        return d[0] == "remove_table" and str(getattr(d[1], "name", "")).startswith("stories_fts")

    structural = ("add_table", "remove_table", "add_column", "remove_column")
    assert [d for d in diffs if d[0] in structural and not fts(d)] == []


def test_the_quick_head_check_reads_the_head_alembic_reads(
    storage: Storage, tmp_path: Path
) -> None:
    # migrate() skips alembic when the database is at this head: it must be alembic's own.
    assert _head_from_files(migrations_dir()) == head_revision(storage.engine)
    # A layout it does not understand (a merge) leaves the decision to alembic.
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = ("b", "c")\n')
    assert _head_from_files(tmp_path) is None


def test_sync_feeds_follows_the_config(storage: Storage, tmp_path: Path) -> None:
    cfg = config(tmp_path, "a", "b")
    feeds = storage.sync_feeds(cfg.feed_options(), NOW)
    assert [f.name for f in feeds] == ["a", "b"]
    assert all(f.next_poll_at == NOW and f.active for f in feeds)
    cfg2 = config(tmp_path, "a", a="https://example.org/moved.xml")
    storage.sync_feeds(cfg2.feed_options(), NOW)
    by_name = {f.name: f for f in storage.feeds()}
    assert by_name["a"].url == "https://example.org/moved.xml"
    assert not by_name["b"].in_config and not by_name["b"].active
    assert [f.name for f in storage.due_feeds(NOW)] == ["a"]


def test_poll_stores_items_stories_verdicts_once(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    flagged: list[int] = []

    def hook(session: Session, story: Story, verdict: Verdict) -> None:
        flagged.append(story.id)

    items = [
        item("1", "EU AI Act enters into force", url="https://ex.org/ai-act"),
        item("2", "New phone launched", url="https://ex.org/phone"),
    ]
    out = poll(storage, feed.id, items, on_story=hook)
    assert (out.new_entries, out.new_stories, out.flagged) == (2, 2, 1)
    assert len(flagged) == 1
    again = poll(storage, feed.id, items, on_story=hook)
    assert (again.new_entries, again.new_stories) == (0, 0)
    assert len(flagged) == 1
    with storage.session() as s:
        assert s.scalar(select(func.count()).select_from(Entry)) == 2
        story = s.get(Story, flagged[0])
        assert story is not None and story.verdict is not None
        assert story.verdict.jurisdictions == ["EU"]
        assert story.verdict.evidence[0]["term"] == "ai act"
        tags = {(k, v) for k, v in s.execute(select(StoryTag.kind, StoryTag.value))}
        assert tags == {
            ("jurisdiction", "EU"),
            ("topic", "legislation"),
            ("instrument", "EU AI Act"),
        }
    info = storage.feed("a")
    assert info is not None
    assert info.etag == '"e1"' and info.body_hash == "h1" and info.entry_count == 2
    assert info.last_success_at == NOW and info.consecutive_failures == 0


def test_same_story_from_two_feeds_is_one_story(storage: Storage, tmp_path: Path) -> None:
    a, b, c = storage.sync_feeds(config(tmp_path, "a", "b", "c").feed_options(), NOW)
    poll(
        storage,
        a.id,
        [
            item(
                "x",
                "EU AI Act: Council adopts final text",
                url="https://news.example/eu-ai-act-final",
            )
        ],
    )
    # Same canonical URL, other wording.
    out_b = poll(
        storage,
        b.id,
        [
            item(
                "y",
                "Council gives final approval to AI Act",
                url="https://news.example/eu-ai-act-final",
            )
        ],
    )
    # Near-identical title, other URL.
    out_c = poll(
        storage,
        c.id,
        [
            item(
                "z",
                "EU AI Act: Council adopts final text - Reuters",
                url="https://reuters.example/x",
            )
        ],
    )
    assert out_b.new_stories == 0 and out_c.new_stories == 0
    assert out_b.flagged == 0  # posted once, by the first source
    with storage.session() as s:
        (story,) = s.scalars(select(Story)).all()
        assert story.source_count == 3
        assert sorted(e.feed.name for e in story.entries) == ["a", "b", "c"]


def test_home_page_links_do_not_merge_stories(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    out = poll(
        storage,
        feed.id,
        [
            item("1", "First unrelated story about budgets", url="https://site.example/"),
            item("2", "Second completely different story on trains", url="https://site.example/"),
        ],
    )
    assert out.new_stories == 2


def test_back_catalogue_of_a_new_feed_is_not_posted(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    out = poll(
        storage,
        feed.id,
        [
            item("old", "EU AI Act old news", age=timedelta(days=30)),
            item("undated", "EU AI Act undated news", age=timedelta(0), known=False),
            item("new", "EU AI Act fresh news", age=timedelta(hours=2)),
        ],
    )
    assert out.new_stories == 3 and out.flagged == 1
    with storage.session() as s:
        announce = {t: a for t, a in s.execute(select(Story.title, Story.announce))}
    assert announce == {
        "EU AI Act old news": False,
        "EU AI Act undated news": False,
        "EU AI Act fresh news": True,
    }
    # Once the feed is known, an undated new entry is news.
    later = poll(
        storage,
        feed.id,
        [item("undated2", "EU AI Act another undated item", age=timedelta(0), known=False)],
    )
    assert later.flagged == 1


def test_failures_are_recorded_and_gone_disables(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    failed = FetchResult(
        status=FetchStatus.FAILED,
        url=feed.url,
        http_status=500,
        error="HTTP 500 Internal Server Error",
    )
    poll(storage, feed.id, [], result=failed)
    poll(storage, feed.id, [], result=failed)
    info = storage.feed("a")
    assert info is not None and info.consecutive_failures == 2
    assert info.last_error == "HTTP 500 Internal Server Error" and info.active
    poll(
        storage,
        feed.id,
        [],
        result=FetchResult(
            status=FetchStatus.GONE, url=feed.url, http_status=410, error="HTTP 410 Gone"
        ),
    )
    info = storage.feed("a")
    assert info is not None and not info.active and "410" in (info.disabled_reason or "")


def test_permanent_redirect_updates_the_url(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    moved = FetchResult(
        status=FetchStatus.NOT_MODIFIED,
        url=feed.url,
        http_status=304,
        permanent_redirect="https://new.example/feed.xml",
    )
    poll(storage, feed.id, [], result=moved)
    info = storage.feed("a")
    assert info is not None and info.url == "https://new.example/feed.xml"
    assert info.config_url == "https://example.org/a.xml"
    # Re-syncing the unchanged config keeps the redirected URL.
    storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    assert storage.feed("a").url == "https://new.example/feed.xml"  # type: ignore[union-attr]


def test_a_failing_hook_rolls_back_the_whole_poll(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)

    def broken(session: Session, story: Story, verdict: Verdict) -> None:
        raise RuntimeError("router down")

    with pytest.raises(RuntimeError):
        poll(storage, feed.id, [item("1", "EU AI Act news")], on_story=broken)
    with storage.session() as s:
        assert s.scalar(select(func.count()).select_from(Story)) == 0
        assert s.scalar(select(func.count()).select_from(VerdictRow)) == 0
        row = s.scalars(select(Feed)).one()
        assert row.last_polled_at is None and row.entry_count == 0
    # The next poll carries on as if the failed one never happened.
    out = poll(storage, feed.id, [item("1", "EU AI Act news")])
    assert out.new_entries == 1 and out.flagged == 1


def test_source_count_counts_feeds_not_entries(storage: Storage, tmp_path: Path) -> None:
    a, b = storage.sync_feeds(config(tmp_path, "a", "b").feed_options(), NOW)
    url = "https://news.example/eu-ai-act-final"
    # One feed carrying the story twice (two guids, one link) is still one source.
    out = poll(
        storage,
        a.id,
        [
            item("1", "EU AI Act: Council adopts final text", url=url),
            item("2", "EU AI Act: the Council adopts the final text", url=url),
        ],
    )
    assert (out.new_entries, out.new_stories) == (2, 1)
    poll(
        storage,
        b.id,
        [
            item("x", "Council adopts AI Act", url=url),
            item("y", "Council adopts the AI Act", url=url),
        ],
    )
    poll(storage, a.id, [item("3", "EU AI Act: Council adopts final text (update)", url=url)])
    with storage.session() as s:
        (story,) = s.scalars(select(Story)).all()
        assert story.source_count == 2
        assert len(story.entries) == 5


def test_titles_within_one_poll(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    out = poll(
        storage,
        feed.id,
        [
            item("1", "AI rules", url="https://a.example/1"),
            item("2", "AI rules", url="https://a.example/2"),  # a short key, but the same title
            item("3", "", url="https://a.example/3"),  # untitled entries say nothing about identity
            item("4", "", url="https://a.example/4"),
            # Same link as 1, another headline: a feed that links several entries to one page
            # must not lose them into one story.
            item("5", "Different story entirely", url="https://a.example/1"),
        ],
    )
    assert (out.new_entries, out.new_stories) == (5, 4)
    with storage.session() as s:
        by_uid = {e.uid: e.story_id for e in s.scalars(select(Entry))}
    assert by_uid["1"] == by_uid["2"]
    assert len({by_uid["1"], by_uid["3"], by_uid["4"], by_uid["5"]}) == 4


def test_a_big_poll_is_written_whole(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    items = [
        item(f"u{i}", f"Story number {i} about something", url=f"https://a.example/{i}")
        for i in range(1_234)
    ]  # more than one IN (...) chunk of every kind
    out = poll(storage, feed.id, items)
    assert (out.new_entries, out.new_stories) == (1_234, 1_234)
    again = poll(
        storage,
        feed.id,
        [*items, item("new", "One more story about something", url="https://a.example/new")],
    )
    assert (again.new_entries, again.new_stories) == (1, 1)
    info = storage.feed("a")
    assert info is not None and info.entry_count == 1_235


def test_the_hook_gets_stored_rows_in_item_order(storage: Storage, tmp_path: Path) -> None:
    (feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    seen: list[tuple[str, bool, str | None]] = []

    def hook(session: Session, story: Story, verdict: Verdict) -> None:
        row = session.get(VerdictRow, story.id)
        seen.append((story.title, row is not None and row.relevant, story.url))

    items = [
        item(str(i), f"EU AI Act news number {i}", url=f"https://a.example/{i}") for i in range(5)
    ]
    out = poll(storage, feed.id, items, on_story=hook)
    assert out.flagged_story_ids == sorted(out.flagged_story_ids)
    assert seen == [
        (f"EU AI Act news number {i}", True, f"https://a.example/{i}") for i in range(5)
    ]


def test_a_story_matched_by_recent_title_that_is_gone_makes_a_new_one(
    storage: Storage, tmp_path: Path
) -> None:
    a, b = storage.sync_feeds(config(tmp_path, "a", "b").feed_options(), NOW)
    poll(
        storage,
        a.id,
        [item("1", "EU AI Act: Council adopts final text", url="https://a.example/1")],
    )
    with storage.write() as s:  # someone deletes it behind the in-memory title index
        s.execute(delete(Entry))
        s.execute(delete(Story))
    out = poll(
        storage,
        b.id,
        [item("x", "EU AI Act: Council adopts final text - Reuters", url="https://b.example/x")],
    )
    assert out.new_stories == 1


def test_concurrent_polls_group_shared_stories(storage: Storage, tmp_path: Path) -> None:
    # Writers run in worker threads; the title index must only change under the write lock.
    import threading

    names = [f"f{i}" for i in range(8)]
    feeds = storage.sync_feeds(config(tmp_path, *names).feed_options(), NOW)
    titles = [f"Council and Parliament agree on rules for topic number {n}" for n in range(30)]
    errors: list[BaseException] = []

    def run(feed_id: int, offset: int) -> None:
        try:
            for k in range(0, 30, 5):
                batch = [
                    item(f"{feed_id}-{n}", titles[(n + offset) % 30] + " - Wire")
                    for n in range(k, k + 5)
                ]
                poll(storage, feed_id, batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f.id, 7 * i)) for i, f in enumerate(feeds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with storage.session() as s:
        stories = s.scalars(select(Story)).all()
        assert len(stories) == 30
        assert all(st.source_count == 8 for st in stories)


def test_a_link_shared_by_different_entries_of_one_feed_does_not_merge_them(
    storage: Storage, tmp_path: Path
) -> None:
    a, b = storage.sync_feeds(config(tmp_path, "a", "b").feed_options(), NOW)
    shared = "https://a.example/news"  # every entry of this feed links to its news page
    out = poll(
        storage,
        a.id,
        [
            item("1", "EU AI Act: Council adopts final text", url=shared),
            item("2", "Parliament debates the Data Act", url=shared),
            item("3", "Commission opens AI Office", url=shared),
        ],
    )
    assert (out.new_stories, out.flagged) == (3, 1)
    # Later entries of the same feed with that link are their own stories too.
    later = poll(
        storage, a.id, [item("4", "Budget talks resume in Brussels", url=shared)], result=ok("h2")
    )
    assert later.new_stories == 1
    # A feed that reuses one link later: the same headline again is the same story, another
    # headline is another story.
    link = "https://b.example/ai-act"
    poll(storage, b.id, [item("x", "Council approves the EU AI Act in a final vote", url=link)])
    update = poll(
        storage,
        b.id,
        [item("y", "Council approves the EU AI Act in a final vote (updated)", url=link)],
        result=ok("h3"),
    )
    other = poll(
        storage,
        b.id,
        [item("z", "Weekly newsletter: budgets, rail and farming", url=link)],
        result=ok("h4"),
    )
    assert (update.new_stories, other.new_stories) == (0, 1)


def test_feeds_added_from_chat_survive_a_config_sync_and_are_guarded(
    storage: Storage, tmp_path: Path
) -> None:
    (cfg_feed,) = storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)
    with storage.write() as s:
        s.add(
            Feed(
                name="chat feed",
                config_url="https://c.example/f.xml",
                url="https://c.example/f.xml",
                origin="chat",
                added_at=NOW,
                in_config=True,
                enabled=True,
                jurisdictions=[],
                consecutive_failures=0,
                entry_count=0,
                interval_seconds=1800,
                next_poll_at=NOW,
            )
        )
    storage.sync_feeds(config(tmp_path, "a").feed_options(), NOW)  # a restart
    by_name = {f.name: f for f in storage.feeds()}
    assert by_name["chat feed"].active and by_name["chat feed"].state().guarded
    assert not by_name["a"].state().guarded  # the operator's own feed
    assert [f.name for f in storage.due_feeds(NOW)] == ["a", "chat feed"]
    assert cfg_feed.origin == "config"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "not a url"])
def test_unusable_database_urls_are_one_clear_error(url: str) -> None:
    from bot.errors import StorageError

    with pytest.raises(StorageError) as caught:
        Storage.open(url)
    assert "DATABASE_URL" in str(caught.value)
