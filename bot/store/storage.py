"""The narrow storage interface the pipeline talks to (after lemon24/reader's Storage).

Everything one poll writes goes through `record_poll` in ONE transaction: feed health, new
entries, new stories, their verdicts and tags, and (through the `on_story` hook) the outbox
rows that delivery drains. A kill -9 at any point leaves either all of it or none of it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

from sqlalchemy import Integer, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StorageError
from bot.ingest.chunks import pack as pack_chunks
from bot.ingest.chunks import unpack as unpack_chunks
from bot.ingest.dedup import RecentTitles, same_story, title_key
from bot.ingest.types import FeedChunks, FeedState, FetchResult, FetchStatus, Item
from bot.store import coord
from bot.store.db import at_head, make_engine, migrate, ping
from bot.store.models import Base, Feed, Story, StoryTag, Verdict
from bot.types import FeedOptions, Origin
from bot.verdict import Verdict as VerdictValue

# How far back a new entry is compared with earlier stories by title.
DEDUP_WINDOW = timedelta(hours=72)
RECENT_TITLES_MAX = 100_000
# How long an instance may hold a due feed (PostgreSQL, several instances) before another
# may take it over: longer than any fetch takes. A holder that dies loses it at once.
FEED_LEASE = timedelta(minutes=10)
# Bound parameters per IN (...) list: far below SQLite's and PostgreSQL's limits on a statement.
IN_CHUNK = 500
# A feed's latest entries that say which language it usually has.
USUAL_LANGUAGE_SAMPLE = 20

_FEEDS: Table = Base.metadata.tables["feeds"]
_STORIES: Table = Base.metadata.tables["stories"]
_ENTRIES: Table = Base.metadata.tables["entries"]
_VERDICTS: Table = Base.metadata.tables["verdicts"]
_TAGS: Table = Base.metadata.tables["story_tags"]
_CHUNKS: Table = Base.metadata.tables["feed_chunks"]

_T = TypeVar("_T")
_STORED_STATUSES = (FetchStatus.OK, FetchStatus.UNCHANGED, FetchStatus.NOT_MODIFIED)

# The statements every poll runs, built once. Validators, URL and title are only replaced
# when the poll brought new ones (NULL keeps the stored value).
_SELECT_FEED = select(_FEEDS.c.name, _FEEDS.c.last_success_at, _FEEDS.c.jurisdictions).where(
    _FEEDS.c.id == bindparam("fid")
)
_UPDATE_FEED_OK = (
    update(_FEEDS)
    .where(_FEEDS.c.id == bindparam("fid"))
    .values(
        last_polled_at=bindparam("now"),
        next_poll_at=bindparam("next"),
        last_success_at=bindparam("now"),
        consecutive_failures=0,
        last_status=bindparam("status"),
        etag=func.coalesce(bindparam("etag", type_=_FEEDS.c.etag.type), _FEEDS.c.etag),
        last_modified=func.coalesce(
            bindparam("last_modified", type_=_FEEDS.c.last_modified.type), _FEEDS.c.last_modified
        ),
        body_hash=func.coalesce(
            bindparam("body_hash", type_=_FEEDS.c.body_hash.type), _FEEDS.c.body_hash
        ),
        url=func.coalesce(bindparam("url", type_=_FEEDS.c.url.type), _FEEDS.c.url),
        title=func.coalesce(bindparam("title", type_=_FEEDS.c.title.type), _FEEDS.c.title),
        entry_count=_FEEDS.c.entry_count + bindparam("added", type_=Integer()),
        lease_owner=None,
        lease_until=None,
    )
)


class LeaseLost(Exception):
    """Another instance took this feed over (our lease expired): the poll is not recorded."""


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
    origin: str = Origin.CONFIG.value  # an Origin
    lease_owner: str | None = None  # the instance polling it now (several on PostgreSQL)

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
            # A feed a chat user added may not lead the bot into our own network, at any
            # redirect hop or DNS answer; the operator's own feeds may.
            guarded=self.origin == Origin.CHAT,
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
            origin=f.origin or Origin.CONFIG.value,
            lease_owner=f.lease_owner,
        )


@dataclass(slots=True)
class PollOutcome:
    feed: str
    status: str  # FetchStatus value, or "parse_error"
    new_entries: int = 0
    new_stories: int = 0
    flagged: int = 0  # new stories that are relevant and eligible for posting
    # New relevant stories too old to post (a new feed's back catalogue): stored, searchable.
    flagged_stored_only: int = 0
    error: str | None = None
    flagged_story_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0  # fetch time (set by the pipeline)


class StoryHook(Protocol):
    """Called inside the poll's transaction for each new relevant story that may be posted."""

    def __call__(self, session: Session, story: Story, verdict: VerdictValue) -> None: ...


@runtime_checkable
class FeedRouting(Protocol):
    """A StoryHook that also routes by source feed (subscriptions that follow feeds). For a
    followed feed, `from_feed` replaces the plain call: it gets every new story the poll may
    post, flagged or not (`new=True`), and each older story the feed joined with a fresh
    entry (`new=False`)."""

    def follows(self, session: Session, feed_id: int) -> bool: ...

    def from_feed(
        self,
        session: Session,
        story: Story,
        verdict: VerdictValue | Verdict,
        feed_id: int,
        *,
        new: bool,
        when: datetime,
    ) -> None: ...


class SourceHook(Protocol):
    """Called inside the poll's transaction with the stories that gained a source (an entry
    of this feed joined a story stored before), for their follow-up posts."""

    def __call__(
        self, conn: Connection, story_ids: Sequence[int], feed_id: int, now: datetime
    ) -> None: ...


Classify = Callable[[Item, Sequence[str]], VerdictValue]


def uid_hash(uid: str) -> str:
    return hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()


def _url_identifies_story(url: str | None) -> bool:
    """A home-page link (some feeds give every entry the same one) must not merge stories."""
    if not url:
        return False
    path = urlsplit(url).path
    return len(path.strip("/")) > 0


def _links_shared_by_other_stories(items: Iterable[Item]) -> set[str]:
    """Links that entries of one poll share although their headlines are other stories."""
    first: dict[str, str] = {}
    weak: set[str] = set()
    for item in items:
        if not item.url:
            continue
        title = first.setdefault(item.url, item.title)
        if title is not item.title and not same_story(title, item.title):
            weak.add(item.url)
    return weak


def _tags(verdict: VerdictValue) -> set[tuple[str, str]]:
    """The (kind, value) tag rows of a relevant verdict; values cut to the column's size."""
    if not verdict.relevant:
        return set()
    return (
        {("jurisdiction", v[:200]) for v in verdict.jurisdictions}
        | {("topic", v[:200]) for v in verdict.topics}
        | {("instrument", v[:200]) for v in verdict.instruments}
    )


def _verdict_row(story_id: int, verdict: VerdictValue, now: datetime) -> dict[str, Any]:
    return {
        "story_id": story_id,
        "relevant": verdict.relevant,
        "score": verdict.score,
        "jurisdictions": list(verdict.jurisdictions),
        "topics": list(verdict.topics),
        "instruments": list(verdict.instruments),
        "evidence": [e._asdict() for e in verdict.evidence],  # as Verdict.to_dict() has it
        "created_at": now,
    }


def _tag_rows(story_id: int, verdict: VerdictValue) -> list[dict[str, Any]]:
    return [{"story_id": story_id, "kind": k, "value": v} for k, v in sorted(_tags(verdict))]


def _chunks(values: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass(slots=True)
class _NewStory:
    """A story a poll is about to create; `id` and `verdict` are filled in as it is written."""

    item: Item
    key: str
    announce: bool
    id: int = 0
    verdict: VerdictValue | None = None


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
    session.add_all(StoryTag(story_id=story_id, kind=k, value=v) for k, v in _tags(verdict))
    return row


class Storage:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Writers are serialised in-process: SQLite has one writer anyway, and the recent-titles
        # index must change only with committed stories.
        self._write_lock = threading.Lock()
        self._recent: RecentTitles[int] | None = None
        self._recent_max = 0  # the newest story id the recent-titles index has seen
        self.shared = coord.shared(engine)  # other instances may write (PostgreSQL)

    @classmethod
    def open(cls, url: str, *, run_migrations: bool = True, read_only: bool = False) -> Storage:
        """Open the database at `url`, migrating it to this code's schema unless told not to.
        `read_only` (SQLite): open it for reading only, nothing migrated.

        Raises:
            StorageError: a read-only database whose schema this code cannot read as it is.
        """
        if read_only:
            engine = make_engine(url, read_only=True)
            if not at_head(engine):
                engine.dispose()
                raise StorageError(
                    "the database is read-only here and its schema is not this policybot's:"
                    " run a command that can write it (policybot poll --once) to upgrade it"
                )
            return cls(engine)
        engine = make_engine(url)
        if run_migrations:
            migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Raises when the database cannot be reached (health checks)."""
        ping(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def write(self, *, lock: int | None = None) -> Iterator[Session]:
        """Like session(), but serialised with the other writers of this process; with
        `lock` (a bot.store.coord key) also with those of other instances (PostgreSQL)."""
        with self._write_lock, self.session() as s:
            if lock is not None:
                coord.xact_lock(s.connection(), lock)
            yield s

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A bare connection in a transaction, serialised with the other writers of this
        process: for the small hot writes (the delivery worker's claims), where a Session's
        bookkeeping would cost more than the statement."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    # -- feeds -------------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[FeedOptions], now: datetime) -> list[FeedInfo]:
        """Make the feeds table follow the config file; returns the feeds in the config."""
        out: list[FeedInfo] = []
        # Instances starting together sync one after another (feed names are unique).
        with self.write(lock=coord.SYNC_KEY) as s:
            rows = {f.name: f for f in s.scalars(select(Feed))}
            mine: dict[str, Feed] = {}  # the config's feeds, in its order
            for fc in feeds:
                url = fc.url
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
                row.interval_seconds = int(fc.interval.total_seconds())
                row.enabled = fc.enabled
                row.tags = list(fc.tags)
                row.in_config = True
                mine[fc.name] = row
            for name, row in rows.items():
                # Feeds added from chat live in the database only: the file does not own them.
                if name not in mine and row.origin == Origin.CONFIG:
                    row.in_config = False
            s.flush()
            # The rows at hand, not one query per feed (1,000 feeds took a third of a second).
            out = [FeedInfo.of(mine[fc.name]) for fc in feeds]
        return out

    def feeds(self) -> list[FeedInfo]:
        with self.session() as s:
            return [FeedInfo.of(f) for f in s.scalars(select(Feed).order_by(Feed.name))]

    def feed(self, name: str) -> FeedInfo | None:
        with self.session() as s:
            f = s.scalars(select(Feed).where(Feed.name == name)).one_or_none()
            return FeedInfo.of(f) if f else None

    def entry_memory(self, feed_id: int, uids: Sequence[str]) -> tuple[set[str], str | None]:
        """Which of these entry uids this feed has stored, and the language most of its
        latest stored entries have (None when they have none): what a poll needs to detect
        the language of its new entries only, starting from the feed's usual one."""
        known: set[str] = set()
        by_hash = {uid_hash(u): u for u in uids}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(by_hash)):
                known.update(
                    by_hash[h]
                    for h in conn.scalars(
                        select(_ENTRIES.c.uid_hash).where(
                            _ENTRIES.c.feed_id == feed_id, _ENTRIES.c.uid_hash.in_(chunk)
                        )
                    )
                )
            latest = conn.scalars(
                select(_ENTRIES.c.language)
                .where(_ENTRIES.c.feed_id == feed_id)
                .order_by(_ENTRIES.c.id.desc())
                .limit(USUAL_LANGUAGE_SAMPLE)
            ).all()
        votes = Counter(lang for lang in latest if lang)
        usual = votes.most_common(1)[0][0] if votes else None
        return known, usual

    def feed_chunks(self, feed_id: int) -> FeedChunks | None:
        """What the last poll that fetched a body of this feed remembered of it, if its
        entries were all stored (bot/ingest/chunks.py): lets a new process parse only the
        entries it has not stored."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_CHUNKS.c.context, _CHUNKS.c.hashes).where(_CHUNKS.c.feed_id == feed_id)
            ).first()
        return unpack_chunks(row[0], bytes(row[1])) if row is not None else None

    def due_feeds(self, now: datetime) -> list[FeedInfo]:
        return [
            f
            for f in self.feeds()
            if f.active and (f.next_poll_at is None or f.next_poll_at <= now)
        ]

    def lease_due_feeds(self, now: datetime, owner: str, limit: int) -> list[FeedInfo]:
        """Take up to `limit` due feeds for `owner` to poll (PostgreSQL, several instances):
        those whose next poll has come and that nobody holds, or whose holder's lease expired
        or who died. Rows another instance is taking right now are skipped, not waited for.
        On SQLite (one process) the due feeds, unleased."""
        if not self.shared:
            return self.due_feeds(now)[:limit]
        with self.write() as s:
            conn = s.connection()
            holders = conn.scalars(
                select(_FEEDS.c.lease_owner).where(_FEEDS.c.lease_owner.is_not(None)).distinct()
            )
            dead = coord.dead_owners(conn, list(holders))
            due = (
                select(_FEEDS.c.id)
                .where(
                    _FEEDS.c.enabled.is_(True),
                    _FEEDS.c.in_config.is_(True),
                    _FEEDS.c.disabled_reason.is_(None),
                    (_FEEDS.c.next_poll_at.is_(None)) | (_FEEDS.c.next_poll_at <= now),
                    _FEEDS.c.lease_owner.is_(None)
                    | (_FEEDS.c.lease_until <= now)
                    | _FEEDS.c.lease_owner.in_(dead),
                )
                .order_by(_FEEDS.c.next_poll_at.asc().nulls_first(), _FEEDS.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list(
                conn.scalars(
                    update(_FEEDS)
                    .where(_FEEDS.c.id.in_(due.scalar_subquery()))
                    .values(lease_owner=owner, lease_until=now + FEED_LEASE)
                    .returning(_FEEDS.c.id)
                )
            )
            if not ids:
                return []
            rows = s.scalars(select(Feed).where(Feed.id.in_(ids)).order_by(Feed.id))
            return [FeedInfo.of(f) for f in rows]

    # -- polling -----------------------------------------------------------------------------

    def _recent_titles(self, conn: Connection, now: datetime) -> RecentTitles[int]:
        if self._recent is not None and self.shared:
            # Other instances' stories since we last looked (we hold the stories lock, and
            # stories are created under it, so their ids come in commit order).
            rows = conn.execute(
                select(_STORIES.c.id, _STORIES.c.title, _STORIES.c.first_seen)
                .where(_STORIES.c.id > self._recent_max)
                .order_by(_STORIES.c.id)
            )
            for sid, title, seen in rows:
                self._recent.add(sid, title, seen)
                self._recent_max = max(self._recent_max, sid)
        if self._recent is None:
            recent: RecentTitles[int] = RecentTitles(
                window=DEDUP_WINDOW, max_size=RECENT_TITLES_MAX
            )
            rows = conn.execute(
                select(_STORIES.c.id, _STORIES.c.title, _STORIES.c.first_seen)
                .where(_STORIES.c.first_seen >= now - DEDUP_WINDOW)
                .order_by(_STORIES.c.first_seen)
                .limit(RECENT_TITLES_MAX)
            )
            for sid, title, seen in rows:
                recent.add(sid, title, seen)
            self._recent = recent
            self._recent_max = conn.scalar(select(func.max(_STORIES.c.id))) or 0
        return self._recent

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
        lease_owner: str | None = None,
        chunks: FeedChunks | None = None,
        track_chunks: bool = False,
        on_source: SourceHook | None = None,
    ) -> PollOutcome:
        """Write one poll's results in one transaction and return what was new.

        With `track_chunks`, a poll that fetched a body also replaces what is remembered of
        it (`chunks`, None to forget; a parse error forgets too): see `feed_chunks`.

        Rows are written with Core statements, a few per poll rather than several per item:
        the ORM's per-object bookkeeping cost more than everything else in a cold fill.

        With `lease_owner` (a feed leased by lease_due_feeds) the poll is recorded only while
        that instance still holds the feed; else LeaseLost, and nothing is written.
        """
        new_titles: list[tuple[int, str]] = []
        # A bare connection: most polls write one row, and a Session costs more than that.
        # The story hook, which wants one, gets a Session joined to this same transaction.
        with self._write_lock:
            with self.engine.begin() as conn:
                if self.shared:
                    # Polls of one feed record one after another (a manual `poll` beside the
                    # instances' leased ones), each seeing the entries the last one stored.
                    holder = conn.scalar(
                        select(_FEEDS.c.lease_owner).where(_FEEDS.c.id == feed_id).with_for_update()
                    )
                    if lease_owner is not None and holder != lease_owner:
                        raise LeaseLost(f"feed {feed_id} is now polled by {holder}")
                row = conn.execute(_SELECT_FEED, {"fid": feed_id}).first()
                if row is None:
                    raise KeyError(f"no feed with id {feed_id}")
                name, last_success_at, jurisdictions = row
                outcome = PollOutcome(feed=name, status=result.status.value)
                ok = result.status in _STORED_STATUSES
                if ok and parse_error is None:
                    added = self._add_items(
                        conn,
                        feed_id,
                        items,
                        now=now,
                        hints=tuple(jurisdictions or ()),
                        cutoff=now - backfill_window,
                        first_success=last_success_at is None,
                        classify=classify,
                        on_story=on_story,
                        on_source=on_source,
                        outcome=outcome,
                        new_titles=new_titles,
                    )
                    conn.execute(
                        _UPDATE_FEED_OK,
                        {
                            "fid": feed_id,
                            "now": now,
                            "next": next_poll_at,
                            "status": result.status.value,
                            "etag": result.etag,
                            "last_modified": result.last_modified,
                            "body_hash": result.body_hash,
                            "url": result.permanent_redirect or None,
                            "title": feed_title[:500] if feed_title else None,
                            "added": added,
                        },
                    )
                else:
                    error = parse_error or result.error or result.status.value
                    outcome.status = "parse_error" if parse_error else result.status.value
                    outcome.error = error
                    values: dict[str, Any] = {
                        "last_polled_at": now,
                        "next_poll_at": next_poll_at,
                        "last_status": outcome.status,
                        "last_error": error[:2000],
                        "last_error_at": now,
                        "consecutive_failures": _FEEDS.c.consecutive_failures + 1,
                        "lease_owner": None,
                        "lease_until": None,
                    }
                    if result.status is FetchStatus.GONE:
                        values["disabled_reason"] = f"the server says the feed is gone: {error}"
                    elif parse_error and result.body_hash:
                        # Do not skip this body as "unchanged" next time: never parsed well.
                        values["body_hash"] = None
                    conn.execute(update(_FEEDS).where(_FEEDS.c.id == feed_id).values(**values))
                if track_chunks and result.status is FetchStatus.OK:
                    conn.execute(delete(_CHUNKS).where(_CHUNKS.c.feed_id == feed_id))
                    if chunks is not None and parse_error is None:
                        context, hashes = pack_chunks(chunks)
                        conn.execute(
                            insert(_CHUNKS),
                            {"feed_id": feed_id, "context": context, "hashes": hashes},
                        )
            # Committed: now the index may learn the new titles (still under the lock, so
            # that no other writer looks titles up while it changes).
            if self._recent is not None:
                for sid, title in new_titles:
                    self._recent.add(sid, title, now)
                    self._recent_max = max(self._recent_max, sid)
        return outcome

    def _add_items(
        self,
        conn: Connection,
        feed_id: int,
        items: Sequence[Item],
        *,
        now: datetime,
        hints: Sequence[str],
        cutoff: datetime,
        first_success: bool,
        classify: Classify,
        on_story: StoryHook | None,
        outcome: PollOutcome,
        on_source: SourceHook | None = None,
        new_titles: list[tuple[int, str]],
    ) -> int:
        """Store the entries not seen before in this feed; returns how many were added.

        Decisions are taken first, in item order and with the same precedence as one item at a
        time (URL, recent titles, title key, then earlier items of this very poll), against
        maps loaded in a few queries; then the rows go in with one executemany per table.
        """
        if not items:
            return 0
        hashes: dict[str, Item] = {}
        for item in items:  # a repeated uid keeps its first place and its last content
            hashes[uid_hash(item.uid)] = item
        seen: set[str] = set()
        for chunk in _chunks(list(hashes)):
            seen.update(
                conn.scalars(
                    select(_ENTRIES.c.uid_hash).where(
                        _ENTRIES.c.feed_id == feed_id, _ENTRIES.c.uid_hash.in_(chunk)
                    )
                )
            )
        fresh = [(h, item) for h, item in hashes.items() if h not in seen]
        if not fresh:
            return 0
        # Several instances: one at a time decides which entries are new stories, so that the
        # same story arriving through two feeds in two processes becomes one story with two
        # sources (held to the commit; the lookups below then see the others' stories).
        coord.xact_lock(conn, coord.STORIES_KEY)

        keys = [title_key(item.title) for _, item in fresh]
        # A link that entries with different headlines share within one feed (a section page,
        # a "read more" URL) says nothing about which story an entry is: then the link counts
        # only together with a matching title. Across feeds a shared link is syndication.
        weak = _links_shared_by_other_stories(hashes.values())
        by_url = self._stories_by_url(
            conn, {item.url for _, item in fresh if item.url and _url_identifies_story(item.url)}
        )
        reused = self._stories_with_entries_from(conn, feed_id, set(by_url.values()))
        url_titles = self._story_titles(conn, set(by_url.values()))
        by_key = self._stories_by_key(conn, {k for k in keys if len(k) >= 12}, now)
        recent = self._recent_titles(conn, now)

        new: list[_NewStory] = []  # stories this poll creates, in order
        new_by_url: dict[str, int] = {}  # -> index in `new`
        new_by_key: dict[str, int] = {}
        links: list[tuple[str, Item, int | _NewStory]] = []  # (uid hash, item, its story)
        for (h, item), key in zip(fresh, keys, strict=True):
            story: int | _NewStory | None = None
            url_ok = item.url is not None and _url_identifies_story(item.url)
            if url_ok:
                assert item.url is not None
                sid = by_url.get(item.url)
                # This feed used the link before, or uses it for other headlines now: the
                # titles must agree too.
                if (
                    sid is not None
                    and (sid in reused or item.url in weak)
                    and not same_story(item.title, url_titles.get(sid, ""))
                ):
                    sid = None
                story = sid
                if story is None and item.url in new_by_url:
                    cand = new[new_by_url[item.url]]
                    if item.url not in weak or same_story(item.title, cand.item.title):
                        story = cand
            if story is None:
                sid = recent.find(item.title, now)
                if sid is not None:
                    if self._story_exists(conn, sid):
                        story = sid
                elif len(key) >= 12:  # short keys ("Update", "News") say nothing about identity
                    story = by_key.get(key)
                    if story is None and key in new_by_key:
                        story = new[new_by_key[key]]
            if story is None and key and key in new_by_key:  # same story twice in this poll
                story = new[new_by_key[key]]
            if story is None:
                # Back catalogue of a new feed, or an old entry: store, never post.
                fresh_news = item.published >= cutoff and (
                    item.published_known or not first_success
                )
                story = _NewStory(item, key, fresh_news)
                if url_ok:
                    assert item.url is not None
                    new_by_url.setdefault(item.url, len(new))
                if key:
                    new_by_key.setdefault(key, len(new))
                new.append(story)
            links.append((h, item, story))

        self._insert_new_stories(conn, new, now)
        outcome.new_stories += len(new)
        new_titles.extend((n.id, n.item.title) for n in new)
        verdict_rows, tag_rows = [], []
        for n in new:
            n.verdict = classify(n.item, hints)
            verdict_rows.append(_verdict_row(n.id, n.verdict, now))
            tag_rows.extend(_tag_rows(n.id, n.verdict))
        if verdict_rows:
            conn.execute(insert(_VERDICTS), verdict_rows)
        if tag_rows:
            conn.execute(insert(_TAGS), tag_rows)

        # A story gains a source when this feed had no entry on it yet (nor in this poll).
        existing = {story for _, _, story in links if isinstance(story, int)}
        sourced = self._stories_with_entries_from(conn, feed_id, existing)
        gained = existing - sourced
        if gained:
            conn.execute(
                update(_STORIES)
                .where(_STORIES.c.id == bindparam("sid"))
                .values(source_count=_STORIES.c.source_count + 1),
                [{"sid": sid} for sid in sorted(gained)],
            )
        conn.execute(
            insert(_ENTRIES),
            [
                {
                    "feed_id": feed_id,
                    "uid": item.uid,
                    "uid_hash": h,
                    "story_id": story if isinstance(story, int) else story.id,
                    "url": item.url,
                    "title": item.title,
                    "summary": item.summary,
                    "language": item.language,
                    "published": item.published,
                    "published_known": item.published_known,
                    "first_seen": now,
                }
                for h, item, story in links
            ],
        )
        outcome.new_entries += len(links)
        if gained and on_source is not None:
            on_source(conn, sorted(gained), feed_id, now)

        flagged = [n for n in new if n.announce and n.verdict is not None and n.verdict.relevant]
        outcome.flagged += len(flagged)
        outcome.flagged_stored_only += sum(
            1 for n in new if not n.announce and n.verdict is not None and n.verdict.relevant
        )
        outcome.flagged_story_ids.extend(n.id for n in flagged)
        feed_hook = on_story if isinstance(on_story, FeedRouting) else None
        if on_story is None or not (flagged or feed_hook):
            return len(links)
        # The hook gets real ORM rows, loaded once the poll's rows are all written, and a
        # Session inside this transaction (closing it leaves the transaction alone).
        with Session(bind=conn, expire_on_commit=False) as s:
            if feed_hook is not None and feed_hook.follows(s, feed_id):
                self._route_followed(
                    s, feed_hook, feed_id, new, links, gained, now, cutoff, first_success
                )
            elif flagged:
                rows = self._story_rows(s, [n.id for n in flagged])
                for n in flagged:
                    assert n.verdict is not None
                    on_story(s, rows[n.id], n.verdict)
            s.flush()
        return len(links)

    @staticmethod
    def _story_rows(s: Session, ids: Sequence[int]) -> dict[int, Story]:
        return {
            st.id: st
            for chunk in _chunks(list(ids))
            for st in s.scalars(select(Story).where(Story.id.in_(chunk)))
        }

    def _route_followed(
        self,
        s: Session,
        hook: FeedRouting,
        feed_id: int,
        new: Sequence[_NewStory],
        links: Sequence[tuple[str, Item, int | _NewStory]],
        gained: set[int],
        now: datetime,
        cutoff: datetime,
        first_success: bool,
    ) -> None:
        """Feed routing: every story this followed feed brings may be posted, flagged or not
        (after the backfill window, as for flagged stories)."""
        fresh_new = [n for n in new if n.announce and n.verdict is not None]
        # Older stories this feed joined now with a fresh entry (first seen from another feed).
        joined = sorted(
            {
                story
                for _, item, story in links
                if isinstance(story, int)
                and story in gained
                and item.published >= cutoff
                and (item.published_known or not first_success)
            }
        )
        rows = self._story_rows(s, [n.id for n in fresh_new] + joined)
        for n in fresh_new:
            assert n.verdict is not None
            hook.from_feed(s, rows[n.id], n.verdict, feed_id, new=True, when=now)
        for sid in joined:
            story = rows.get(sid)
            verdict = s.get(Verdict, sid)
            if story is not None and story.announce and verdict is not None:
                hook.from_feed(s, story, verdict, feed_id, new=False, when=now)

    # -- the batched lookups and writes of _add_items

    @staticmethod
    def _story_titles(conn: Connection, ids: set[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks(sorted(ids)):
            q = select(_STORIES.c.id, _STORIES.c.title).where(_STORIES.c.id.in_(chunk))
            out.update((sid, title or "") for sid, title in conn.execute(q))
        return out

    @staticmethod
    def _stories_by_url(conn: Connection, urls: set[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in _chunks(sorted(urls)):
            q = (
                select(_STORIES.c.url, func.min(_STORIES.c.id))
                .where(_STORIES.c.url.in_(chunk))
                .group_by(_STORIES.c.url)
            )
            out.update((url, sid) for url, sid in conn.execute(q))
        return out

    @staticmethod
    def _stories_by_key(conn: Connection, keys: set[str], now: datetime) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in _chunks(sorted(keys)):
            q = (
                select(_STORIES.c.title_key, func.min(_STORIES.c.id))
                .where(_STORIES.c.title_key.in_(chunk), _STORIES.c.first_seen >= now - DEDUP_WINDOW)
                .group_by(_STORIES.c.title_key)
            )
            out.update((key, sid) for key, sid in conn.execute(q))
        return out

    @staticmethod
    def _story_exists(conn: Connection, sid: int) -> bool:
        return conn.scalar(select(_STORIES.c.id).where(_STORIES.c.id == sid)) is not None

    @staticmethod
    def _stories_with_entries_from(conn: Connection, feed_id: int, ids: set[int]) -> set[int]:
        out: set[int] = set()
        for chunk in _chunks(sorted(ids)):
            out.update(
                conn.scalars(
                    select(_ENTRIES.c.story_id)
                    .where(_ENTRIES.c.feed_id == feed_id, _ENTRIES.c.story_id.in_(chunk))
                    .distinct()
                )
            )
        return out

    @staticmethod
    def _insert_new_stories(conn: Connection, new: Sequence[_NewStory], now: datetime) -> None:
        if not new:
            return
        rows = [
            {
                "title": n.item.title,
                "title_key": n.key[:400],
                "url": n.item.url,
                "summary": n.item.summary,
                "language": n.item.language,
                "published": n.item.published,
                "first_seen": now,
                "announce": n.announce,
                "source_count": 1,
            }
            for n in new
        ]
        # One multi-row INSERT ... RETURNING (SQLite >= 3.35, PostgreSQL). Not
        # sort_by_parameter_order=True: on SQLite that sends one statement per row. Both
        # databases insert the VALUES rows in order and give each a larger id than the one
        # before it (SQLite: max(rowid) + 1 under the one writer; PostgreSQL: its sequence,
        # increasing within a session), so the ids sorted are the rows' ids in order. What
        # came back is checked against what was sent all the same, and on a mismatch the ids
        # are asked for row by row.
        returned = conn.execute(
            insert(_STORIES).returning(
                _STORIES.c.id, _STORIES.c.title_key, _STORIES.c.url, _STORIES.c.published
            ),
            rows,
        ).all()
        got = sorted(returned, key=lambda r: int(r[0]))
        if len(got) != len(new):
            raise RuntimeError(f"inserted {len(new)} stories but got {len(got)} ids back")
        for n, row, (sid, key, url, published) in zip(new, rows, got, strict=True):
            if key != row["title_key"] or url != row["url"] or published != row["published"]:
                Storage._correlate_story_ids(conn, new, [int(r[0]) for r in got])
                return
            n.id = int(sid)

    @staticmethod
    def _correlate_story_ids(conn: Connection, new: Sequence[_NewStory], ids: list[int]) -> None:
        """Match inserted stories to their ids one by one (the fallback of the above)."""
        full = {
            int(r[0]): r
            for r in conn.execute(
                select(
                    _STORIES.c.id, _STORIES.c.title_key, _STORIES.c.url, _STORIES.c.summary
                ).where(_STORIES.c.id.in_(ids))
            )
        }
        free = sorted(full)
        for n in new:
            want = (n.key[:400], n.item.url, n.item.summary)
            sid = next((i for i in free if tuple(full[i][1:]) == want), None)
            if sid is None:
                raise RuntimeError("inserted stories do not match the rows sent")
            free.remove(sid)
            n.id = sid
