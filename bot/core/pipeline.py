"""One poll of one feed: fetch -> parse -> normalise -> store (dedup, classify, route)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.classify import Classifier
from bot.clock import utcnow
from bot.errors import StorageError
from bot.ingest.fetch import Fetcher, next_poll_delay
from bot.ingest.normalise import item_language, normalise
from bot.ingest.parse import parse_feed
from bot.ingest.types import FeedChunks, FetchResult, FetchStatus, Item
from bot.log import get_logger
from bot.store.db import database_error
from bot.store.storage import FeedInfo, LeaseLost, PollOutcome, SourceHook, Storage, StoryHook
from bot.verdict import Verdict

log = get_logger("policybot.poll")

# Polls parsed and stored at once (each in a worker thread); the rest wait, holding only
# their fetch result. Enough to overlap parsing with SQLite's work (which frees the GIL).
PROCESSING_SLOTS = 3
# Due feeds one instance leases at a time (several instances): small batches spread them.
LEASE_BATCH_MIN = 8


# Consecutive failed polls after which a feed's failures are logged as warnings.
WARN_AFTER_FAILURES = 3


@dataclass
class Pipeline:
    storage: Storage
    fetcher: Fetcher
    classifier: Classifier
    # How far back a new feed's entries may be posted; the longest pause after failures.
    backfill_window: timedelta = timedelta(hours=48)
    max_backoff: timedelta = timedelta(hours=12)
    on_story: StoryHook | None = None
    on_source: SourceHook | None = None  # a story gained a source: its follow-up posts
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    on_outcome: Callable[[PollOutcome], None] | None = None  # metrics, progress bars
    # The instance's name as it leases due feeds (several instances on PostgreSQL); the
    # runtime sets it to its instance lock's owner.
    owner: str | None = None
    # Feed id -> the entry elements of its last body whose entries are all stored, so that a
    # changed feed parses only its new entries (bot/ingest/chunks.py). Kept in the database
    # too (written with the poll), and read from it on a feed's first poll in this process.
    _stored_chunks: dict[int, FeedChunks | None] = field(
        default_factory=dict, init=False, repr=False
    )
    _slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, asyncio.Semaphore] | None = field(
        default=None, init=False, repr=False
    )

    def _classify(self, item: Item, hints: Sequence[str]) -> Verdict:
        return self.classifier.classify(item.title, item.summary, lang=item.language, hints=hints)

    async def poll_feed(self, feed: FeedInfo) -> PollOutcome:
        try:
            outcome = await self._poll(feed)
        except LeaseLost as exc:  # our lease ran out and another instance polled it
            log.info("poll dropped", feed=feed.name, reason=str(exc))
            return PollOutcome(feed=feed.name, status="skipped", error=str(exc))
        except Exception as exc:  # one broken feed must never stop the others
            trouble = database_error(exc)
            if trouble is not None:  # ...but a full disk stops them all, in one line
                raise trouble from None
            log.exception("poll crashed", feed=feed.name)
            error = f"internal error: {type(exc).__name__}: {exc}"
            outcome = PollOutcome(feed=feed.name, status="error", error=error)
            await asyncio.to_thread(self._record_crash, feed, error)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    def _record_crash(self, feed: FeedInfo, error: str) -> None:
        """A poll that crashed counts as a failure and backs off like one; otherwise the
        scheduler would retry the feed at every tick, crashing each time. (What is remembered
        of its entries stays: those were committed by an earlier poll.)"""
        now = self.clock()
        failed = FetchResult(status=FetchStatus.FAILED, url=feed.url, error=error)
        delay = next_poll_delay(
            failed,
            interval=feed.interval,
            failures=feed.consecutive_failures + 1,
            max_backoff=self.max_backoff,
            rng=self.rng,
        )
        try:
            self.storage.record_poll(
                feed.id,
                failed,
                [],
                now=now,
                next_poll_at=now + delay,
                classify=self._classify,
                backfill_window=self.backfill_window,
                lease_owner=self._lease(feed),
            )
        except LeaseLost:
            pass
        except Exception:  # the database itself is the problem: the next tick tries again
            log.exception("could not record the crashed poll", feed=feed.name)

    async def _poll(self, feed: FeedInfo) -> PollOutcome:
        # Parse and store in one worker-thread job, a few polls at a time, and fetch only so
        # far ahead of that: fetches finish faster than bodies are parsed and written, and
        # every poll waiting holds its body (and, once parsed, its entries) in memory; a cold
        # fill of 1,000 feeds peaked ~40 MB higher without this. It also leaves worker
        # threads free for DNS lookups.
        admit, process = self._limits()
        async with admit:
            result = await self.fetcher.fetch(feed.state())
            now = self.clock()
            async with process:
                outcome, delay = await asyncio.to_thread(self._process, feed, result, now)
        outcome.seconds = result.elapsed
        failures = feed.consecutive_failures + 1 if outcome.error else 0
        # A feed failing once is weather; failing several polls in a row (backing off by
        # then), or gone for good, is something an operator's warning alert should see.
        failing = failures >= WARN_AFTER_FAILURES or outcome.status == "gone"
        (log.warning if failing else log.info)(
            "feed failing" if failing else "polled",
            feed=feed.name,
            failures=failures,
            status=outcome.status,
            http=result.http_status,
            new_entries=outcome.new_entries,
            new_stories=outcome.new_stories,
            flagged=outcome.flagged,
            error=outcome.error,
            seconds=round(result.elapsed, 3),
            next_in=int(delay.total_seconds()),
        )
        return outcome

    def _limits(self) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        """(polls past admission, polls processing), made anew for each event loop (a
        Pipeline may outlive one: tests, the bench)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            ahead = self.fetcher.concurrency + PROCESSING_SLOTS
            self._slots = (loop, asyncio.Semaphore(ahead), asyncio.Semaphore(PROCESSING_SLOTS))
        return self._slots[1], self._slots[2]

    def _process(
        self, feed: FeedInfo, result: FetchResult, now: datetime
    ) -> tuple[PollOutcome, timedelta]:
        items: list[Item] = []
        parse_error: str | None = None
        feed_title: str | None = None
        chunks: FeedChunks | None = None
        if result.status is FetchStatus.OK and result.body is not None:
            items, feed_title, parse_error, chunks = self._parse(feed, result, now)
        failing = result.status in (FetchStatus.FAILED, FetchStatus.GONE) or parse_error is not None
        failures = feed.consecutive_failures + 1 if failing else 0
        # A parse error backs off like a fetch failure.
        delay_basis = result
        if parse_error is not None:
            delay_basis = FetchResult(status=FetchStatus.FAILED, url=result.url)
        delay = next_poll_delay(
            delay_basis,
            interval=feed.interval,
            failures=failures,
            max_backoff=self.max_backoff,
            rng=self.rng,
        )
        outcome = self.storage.record_poll(
            feed.id,
            result,
            items,
            now=now,
            next_poll_at=now + delay,
            classify=self._classify,
            backfill_window=self.backfill_window,
            feed_title=feed_title,
            parse_error=parse_error,
            on_story=self.on_story,
            lease_owner=self._lease(feed),
            chunks=chunks,
            track_chunks=True,
            on_source=self.on_source,
        )
        if result.status is FetchStatus.OK:
            # Only now are this body's entries stored: remember them for the next poll.
            self._stored_chunks[feed.id] = chunks if parse_error is None else None
        return outcome, delay

    def _parse(
        self, feed: FeedInfo, result: FetchResult, now: datetime
    ) -> tuple[list[Item], str | None, str | None, FeedChunks | None]:
        assert result.body is not None
        url = result.final_url or feed.url
        if feed.id not in self._stored_chunks:  # first poll in this process
            self._stored_chunks[feed.id] = self.storage.feed_chunks(feed.id)
        parsed = parse_feed(
            result.body,
            url=url,
            headers=result.headers,
            seen=self._stored_chunks.get(feed.id),
            track=True,
        )
        if not parsed.ok:
            return [], None, parsed.error or "not a feed", None
        language = feed.language or parsed.language
        items = [
            normalise(e, feed_url=url, feed_language=language, first_seen=now, detect=False)
            for e in parsed.entries
        ]
        self._detect_languages(feed, items)
        return items, parsed.title, None, parsed.chunks

    def _detect_languages(self, feed: FeedInfo, items: list[Item]) -> None:
        """Detect the language of the entries that declare none and are new to this feed
        (record_poll skips the others), starting from the feed's usual language: an entry
        whose script and words agree with it keeps it without the n-gram model."""
        pending = [i for i, item in enumerate(items) if item.language is None]
        if not pending:
            return
        known, usual = self.storage.entry_memory(feed.id, [items[i].uid for i in pending])
        votes: Counter[str] = Counter()
        for i in pending:
            item = items[i]
            if item.uid in known:
                continue
            default = usual or (votes.most_common(1)[0][0] if votes else None)
            lang = item_language(item, default)
            if lang is not None:
                votes[lang] += 1
                items[i] = replace(item, language=lang)

    async def poll_feeds(self, feeds: Sequence[FeedInfo]) -> list[PollOutcome]:
        """Poll these feeds concurrently (the fetcher enforces global and per-host limits).

        Raises:
            StorageError: the database cannot take writes (disk full, read-only); the other
                polls are cancelled, and nothing half-written remains.
        """
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.poll_feed(f)) for f in feeds]
        except* StorageError as errors:
            raise errors.exceptions[0] from None
        return [t.result() for t in tasks]

    def _lease(self, feed: FeedInfo) -> str | None:
        """Our lease on the feed, when we took it (record_poll checks it still holds)."""
        if self.owner is not None and feed.lease_owner == self.owner:
            return self.owner
        return None

    async def poll_due(self) -> list[PollOutcome]:
        """Poll the feeds that are due. With several instances (PostgreSQL, `owner` set)
        each takes a batch at a time under a lease, so they share the feeds and each feed
        is polled by one of them per interval."""
        if self.owner is None or not self.storage.shared:
            # Off the loop: the chat adapters share it, and a busy database can be slow.
            due = await asyncio.to_thread(self.storage.due_feeds, self.clock())
            return await self.poll_feeds(due)
        outcomes: list[PollOutcome] = []
        batch = max(LEASE_BATCH_MIN, self.fetcher.concurrency)
        while True:
            leased = await asyncio.to_thread(
                self.storage.lease_due_feeds, self.clock(), self.owner, batch
            )
            if not leased:
                return outcomes
            outcomes.extend(await self.poll_feeds(leased))


def next_due_in(storage: Storage, now: datetime, default: timedelta) -> timedelta:
    """How long until the next feed is due (for the scheduler's sleep)."""
    times = [f.next_poll_at for f in storage.feeds() if f.active and f.next_poll_at is not None]
    if not times:
        return default
    return max(timedelta(0), min(times) - now)
