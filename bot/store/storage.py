"""The narrow storage interface the pipeline talks to (after lemon24/reader's Storage).

`Storage` opens the database and answers for feeds (sync with the config file, health, due
and leased feeds, what is remembered of their entries); what a poll writes is its
`PollWriter` half (bot/store/pollwrite.py), its records and hooks are in bot/store/records.py.

Everything one poll writes goes through `record_poll` in ONE transaction: feed health, new
entries, new stories, their verdicts and tags, and (through the `on_story` hook) the outbox
rows that delivery drains. A kill -9 at any point leaves either all of it or none of it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StorageError
from bot.ingest.chunks import unpack as unpack_chunks
from bot.ingest.dedup import RecentTitles
from bot.ingest.types import FeedChunks
from bot.store import coord
from bot.store.db import at_head, make_engine, migrate, ping
from bot.store.models import Base, Feed
from bot.store.pollwrite import PollWriter, in_chunks, uid_hash
from bot.store.records import FeedInfo
from bot.types import FeedOptions, Origin

# How long an instance may hold a due feed (PostgreSQL, several instances) before another
# may take it over: longer than any fetch takes. A holder that dies loses it at once.
FEED_LEASE = timedelta(minutes=10)
# A feed's latest entries that say which language it usually has.
USUAL_LANGUAGE_SAMPLE = 20

_FEEDS: Table = Base.metadata.tables["feeds"]
_ENTRIES: Table = Base.metadata.tables["entries"]
_CHUNKS: Table = Base.metadata.tables["feed_chunks"]


class Storage(PollWriter):
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
            for chunk in in_chunks(list(by_hash)):
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
