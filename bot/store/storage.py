"""The narrow storage interface the pipeline talks to (after lemon24/reader's Storage).

Everything one poll writes goes through `record_poll` in ONE transaction: feed health, new
entries, new stories, their verdicts and tags, and (through the `on_story` hook) the outbox
rows that delivery drains. A kill -9 at any point leaves either all of it or none of it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.classify.verdict import Verdict as VerdictValue
from bot.ingest.dedup import RecentTitles, title_key
from bot.ingest.types import FeedState, FetchResult, FetchStatus, Item
from bot.store.db import make_engine, migrate
from bot.store.models import Entry, Feed, Story, StoryTag, Verdict

if TYPE_CHECKING:
    from bot.app.config import AppConfig

# How far back a new entry is compared with earlier stories by title.
DEDUP_WINDOW = timedelta(hours=72)
RECENT_TITLES_MAX = 100_000


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A read-only view of one feed and its health."""

    id: int
    name: str
    url: str
    config_url: str
    title: str | None
    language: str | None
    jurisdictions: tuple[str, ...]
    interval: timedelta
    enabled: bool
    in_config: bool
    disabled_reason: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    added_at: datetime
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    entry_count: int

    @property
    def active(self) -> bool:
        return self.enabled and self.in_config and self.disabled_reason is None

    def state(self) -> FeedState:
        return FeedState(
            url=self.url,
            etag=self.etag,
            last_modified=self.last_modified,
            body_hash=self.body_hash,
            consecutive_failures=self.consecutive_failures,
        )

    @classmethod
    def of(cls, f: Feed) -> FeedInfo:
        return cls(
            id=f.id,
            name=f.name,
            url=f.url,
            config_url=f.config_url,
            title=f.title,
            language=f.language,
            jurisdictions=tuple(f.jurisdictions or ()),
            interval=timedelta(seconds=f.interval_seconds),
            enabled=f.enabled,
            in_config=f.in_config,
            disabled_reason=f.disabled_reason,
            etag=f.etag,
            last_modified=f.last_modified,
            body_hash=f.body_hash,
            added_at=f.added_at,
            last_polled_at=f.last_polled_at,
            last_success_at=f.last_success_at,
            last_status=f.last_status,
            last_error=f.last_error,
            last_error_at=f.last_error_at,
            consecutive_failures=f.consecutive_failures,
            next_poll_at=f.next_poll_at,
            entry_count=f.entry_count,
        )


@dataclass(slots=True)
class PollOutcome:
    feed: str
    status: str  # FetchStatus value, or "parse_error"
    new_entries: int = 0
    new_stories: int = 0
    flagged: int = 0  # new stories that are relevant and eligible for posting
    error: str | None = None
    flagged_story_ids: list[int] = field(default_factory=list)


class StoryHook(Protocol):
    """Called inside the poll's transaction for each new relevant story that may be posted."""

    def __call__(self, session: Session, story: Story, verdict: VerdictValue) -> None: ...


Classify = Callable[[Item, Sequence[str]], VerdictValue]


def uid_hash(uid: str) -> str:
    return hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()


def _url_identifies_story(url: str | None) -> bool:
    """A home-page link (some feeds give every entry the same one) must not merge stories."""
    if not url:
        return False
    path = urlsplit(url).path
    return len(path.strip("/")) > 0


def store_verdict(session: Session, story_id: int, verdict: VerdictValue) -> Verdict:
    """Insert or replace the verdict of a story and its tag rows."""
    row = session.get(Verdict, story_id)
    if row is None:
        row = Verdict(story_id=story_id)
        session.add(row)
    row.relevant = verdict.relevant
    row.score = verdict.score
    row.jurisdictions = list(verdict.jurisdictions)
    row.topics = list(verdict.topics)
    row.instruments = list(verdict.instruments)
    row.evidence = [e for e in verdict.to_dict()["evidence"]]
    session.execute(delete(StoryTag).where(StoryTag.story_id == story_id))
    tags = {
        ("jurisdiction", v) for v in verdict.jurisdictions
    } | {("topic", v) for v in verdict.topics} | {("instrument", v) for v in verdict.instruments}
    if verdict.relevant:
        session.add_all(StoryTag(story_id=story_id, kind=k, value=v[:200]) for k, v in tags)
    return row


class Storage:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Writers are serialised in-process: SQLite has one writer anyway, and the recent-titles
        # index must change only with committed stories.
        self._write_lock = threading.Lock()
        self._recent: RecentTitles[int] | None = None

    @classmethod
    def open(cls, url: str, *, run_migrations: bool = True) -> Storage:
        engine = make_engine(url)
        if run_migrations:
            migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Like session(), but serialised with the other writers of this process."""
        with self._write_lock, self.session() as s:
            yield s

    # -- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, cfg: AppConfig, now: datetime) -> list[FeedInfo]:
        """Make the feeds table follow the config file; returns the feeds in the config."""
        out: list[FeedInfo] = []
        with self.write() as s:
            rows = {f.name: f for f in s.scalars(select(Feed))}
            names = set()
            for fc in cfg.feeds:
                names.add(fc.name)
                url = cfg.resolve_url(fc.url)
                row = rows.get(fc.name)
                if row is None:
                    row = Feed(
                        name=fc.name,
                        config_url=url,
                        url=url,
                        added_at=now,
                        next_poll_at=now,
                        jurisdictions=[],
                        consecutive_failures=0,
                        entry_count=0,
                    )
                    s.add(row)
                elif row.config_url != url:
                    # The operator changed the URL: start afresh on it (old validators are void).
                    row.config_url = row.url = url
                    row.etag = row.last_modified = row.body_hash = None
                    row.disabled_reason = None
                    row.consecutive_failures = 0
                    row.next_poll_at = now
                row.language = fc.language
                row.jurisdictions = list(fc.jurisdictions)
                row.interval_seconds = int(cfg.interval_for(fc).total_seconds())
                row.enabled = fc.enabled
                row.in_config = True
            for name, row in rows.items():
                if name not in names:
                    row.in_config = False
            s.flush()
            for fc in cfg.feeds:
                out.append(FeedInfo.of(s.scalars(select(Feed).where(Feed.name == fc.name)).one()))
        return out

    def feeds(self) -> list[FeedInfo]:
        with self.session() as s:
            return [FeedInfo.of(f) for f in s.scalars(select(Feed).order_by(Feed.name))]

    def feed(self, name: str) -> FeedInfo | None:
        with self.session() as s:
            f = s.scalars(select(Feed).where(Feed.name == name)).one_or_none()
            return FeedInfo.of(f) if f else None

    def due_feeds(self, now: datetime) -> list[FeedInfo]:
        return [
            f
            for f in self.feeds()
            if f.active and (f.next_poll_at is None or f.next_poll_at <= now)
        ]

    # -- polling -----------------------------------------------------------------------------

    def _recent_titles(self, s: Session, now: datetime) -> RecentTitles[int]:
        if self._recent is None:
            recent: RecentTitles[int] = RecentTitles(
                window=DEDUP_WINDOW, max_size=RECENT_TITLES_MAX
            )
            rows = s.execute(
                select(Story.id, Story.title, Story.first_seen)
                .where(Story.first_seen >= now - DEDUP_WINDOW)
                .order_by(Story.first_seen)
                .limit(RECENT_TITLES_MAX)
            )
            for sid, title, seen in rows:
                recent.add(sid, title, seen)
            self._recent = recent
        return self._recent

    def _find_story(self, s: Session, item: Item, now: datetime) -> Story | None:
        if _url_identifies_story(item.url):
            story = s.scalars(select(Story).where(Story.url == item.url).limit(1)).first()
            if story is not None:
                return story
        sid = self._recent_titles(s, now).find(item.title, now)
        if sid is not None:
            return s.get(Story, sid)
        key = title_key(item.title)
        if len(key) >= 12:  # short keys ("Update", "News") say nothing about identity
            return s.scalars(
                select(Story)
                .where(Story.title_key == key, Story.first_seen >= now - DEDUP_WINDOW)
                .limit(1)
            ).first()
        return None

    def record_poll(
        self,
        feed_id: int,
        result: FetchResult,
        items: Sequence[Item],
        *,
        now: datetime,
        next_poll_at: datetime,
        classify: Classify,
        backfill_window: timedelta,
        feed_title: str | None = None,
        parse_error: str | None = None,
        on_story: StoryHook | None = None,
    ) -> PollOutcome:
        """Write one poll's results in one transaction and return what was new."""
        new_titles: list[tuple[int, str]] = []
        with self.write() as s:
            feed = s.get(Feed, feed_id)
            if feed is None:
                raise KeyError(f"no feed with id {feed_id}")
            outcome = PollOutcome(feed=feed.name, status=result.status.value)
            feed.last_polled_at = now
            feed.next_poll_at = next_poll_at
            ok = result.status in (FetchStatus.OK, FetchStatus.UNCHANGED, FetchStatus.NOT_MODIFIED)
            if ok and parse_error is None:
                first_success = feed.last_success_at is None
                feed.last_success_at = now
                feed.consecutive_failures = 0
                feed.last_status = result.status.value
                if result.etag is not None:
                    feed.etag = result.etag
                if result.last_modified is not None:
                    feed.last_modified = result.last_modified
                if result.body_hash is not None:
                    feed.body_hash = result.body_hash
                if result.permanent_redirect:
                    feed.url = result.permanent_redirect
                if feed_title:
                    feed.title = feed_title[:500]
                hints = tuple(feed.jurisdictions or ())
                cutoff = now - backfill_window
                self._add_items(
                    s, feed, items, now, hints, cutoff, first_success, classify, on_story,
                    outcome, new_titles,
                )
            else:
                error = parse_error or result.error or result.status.value
                outcome.status = "parse_error" if parse_error else result.status.value
                outcome.error = error
                feed.last_status = outcome.status
                feed.last_error = error[:2000]
                feed.last_error_at = now
                feed.consecutive_failures += 1
                if result.status is FetchStatus.GONE:
                    feed.disabled_reason = f"the server says the feed is gone: {error}"
                elif parse_error and result.body_hash:
                    # Do not skip this body as "unchanged" next time: it was never parsed well.
                    feed.body_hash = None
        if self._recent is not None:
            for sid, title in new_titles:
                self._recent.add(sid, title, now)
        return outcome

    def _add_items(
        self,
        s: Session,
        feed: Feed,
        items: Sequence[Item],
        now: datetime,
        hints: Sequence[str],
        cutoff: datetime,
        first_success: bool,
        classify: Classify,
        on_story: StoryHook | None,
        outcome: PollOutcome,
        new_titles: list[tuple[int, str]],
    ) -> None:
        if not items:
            return
        hashes = {uid_hash(i.uid): i for i in items}
        seen = set(
            s.scalars(
                select(Entry.uid_hash).where(
                    Entry.feed_id == feed.id, Entry.uid_hash.in_(list(hashes))
                )
            )
        )
        for h, item in hashes.items():
            if h in seen:
                continue
            story = self._find_story(s, item, now)
            if story is None:
                for sid, title in new_titles:  # same story twice in this very poll
                    if title_key(title) == title_key(item.title):
                        story = s.get(Story, sid)
                        break
            if story is not None:
                is_new_source = all(e.feed_id != feed.id for e in story.entries)
                if is_new_source:
                    story.source_count += 1
            else:
                # Back catalogue of a new feed, or an old entry: store, never post.
                fresh = item.published >= cutoff and (item.published_known or not first_success)
                story = Story(
                    title=item.title,
                    title_key=title_key(item.title)[:400],
                    url=item.url,
                    summary=item.summary,
                    language=item.language,
                    published=item.published,
                    first_seen=now,
                    announce=fresh,
                    source_count=1,
                )
                s.add(story)
                s.flush()
                outcome.new_stories += 1
                new_titles.append((story.id, item.title))
                verdict = classify(item, hints)
                store_verdict(s, story.id, verdict)
                if verdict.relevant and fresh:
                    outcome.flagged += 1
                    outcome.flagged_story_ids.append(story.id)
                    if on_story is not None:
                        on_story(s, story, verdict)
            s.add(
                Entry(
                    feed_id=feed.id,
                    uid=item.uid,
                    uid_hash=h,
                    story_id=story.id,
                    url=item.url,
                    title=item.title,
                    summary=item.summary,
                    language=item.language,
                    published=item.published,
                    published_known=item.published_known,
                    first_seen=now,
                )
            )
            s.flush()
            feed.entry_count += 1
            outcome.new_entries += 1
