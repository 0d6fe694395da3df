"""The engine under the core service: poll -> classify -> store -> route -> outbox -> send.

`Engine` wires the pipeline (fetch, parse, normalise, dedup, classify, store), the router that
writes outbox rows inside each poll's transaction, and the delivery worker. The app builds one
(`build_engine`) from plain options and hands it to `PolicyBot`; the runtime schedules it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.classify import Classifier
from bot.clock import utcnow
from bot.core.pipeline import Pipeline
from bot.deliver.followup import queue_followups
from bot.deliver.health import sweep as sweep_feed_health
from bot.deliver.mute import queue_scheduled
from bot.deliver.ports import Outcome, Sender, Styler
from bot.deliver.route import Router
from bot.deliver.status import PLATFORM_NEEDS, waiting_without_sender
from bot.deliver.worker import (
    DrainStats,
    Pacer,
    RenderAlert,
    RenderDigest,
    RenderNotice,
    Worker,
    disabled_destinations,
    recover_in_flight,
    resume_after_credentials,
)
from bot.ingest.fetch import Fetcher
from bot.log import get_logger
from bot.store.db import database_error
from bot.store.storage import FeedInfo, PollOutcome, Storage
from bot.types import FeedHealthOptions

log = get_logger("policybot")

# One drain sends at most this many rows; run_once repeats drains until nothing is due.
DRAIN_LIMIT = 200
MAX_DRAINS_ONCE = 1000  # a safety stop for run_once (200k messages)

# A feed whose last answer was one of these, with a Retry-After (or backoff) that has not run
# out, asked us to pause: a manual `policybot poll` skips it unless forced.
_PAUSED_BY_SERVER = re.compile(r"^HTTP (429|503)\b")


def paused_by_server(feed: FeedInfo, now: datetime) -> bool:
    """The feed's server answered 429/503 last time and the pause it asked for (Retry-After,
    or our backoff after it) has not run out yet."""
    return (
        feed.next_poll_at is not None
        and feed.next_poll_at > now
        and feed.last_error is not None
        and _PAUSED_BY_SERVER.match(feed.last_error) is not None
    )


@dataclass
class Engine:
    """Polling, routing and delivery over one storage; closed with `aclose()`."""

    storage: Storage
    fetcher: Fetcher
    classifier: Classifier
    pipeline: Pipeline
    router: Router
    senders: dict[str, Sender]
    worker: Worker
    on_outcome: list[Callable[[PollOutcome], None]] = field(default_factory=list)
    # Set by whoever runs a delivery loop: a poll that flagged something wakes it.
    wake_delivery: asyncio.Event | None = None
    # Feed-health notices in the channels (bot.deliver.health), checked after each poll pass.
    feed_health: FeedHealthOptions = field(default_factory=FeedHealthOptions)

    def _outcome(self, outcome: PollOutcome) -> None:
        for cb in self.on_outcome:
            cb(outcome)
        if outcome.flagged and self.wake_delivery is not None:
            self.wake_delivery.set()  # post new alerts now, not at the next drain tick

    async def recover(self) -> int:
        """At start (holding the instance lock): rows left "sending" by a dead process become
        due (same nonce); destinations disabled because their credentials were refused are
        tried again; every destination still disabled is named in a warning."""
        n = await asyncio.to_thread(recover_in_flight, self.storage)
        resumed = await asyncio.to_thread(resume_after_credentials, self.storage, self.senders)
        for d in resumed:
            log.warning(
                "destination resumed",
                destination=d.label(),
                reason="its credentials were refused before; trying the current ones",
            )
        for d, why in await asyncio.to_thread(disabled_destinations, self.storage):
            log.warning(
                "destination disabled",
                destination=d.label(),
                id=d.id,
                reason=why,
                fix=f"fix the cause, then `policybot deliver enable {d.id}`",
            )
        return n

    def active_feeds(self, name: str | None = None) -> list[FeedInfo]:
        feeds = [f for f in self.storage.feeds() if f.active]
        if name is not None:
            feeds = [f for f in feeds if f.name.casefold() == name.casefold()]
        return feeds

    def due_feeds(self) -> list[FeedInfo]:
        """The enabled feeds whose next_poll_at has come (interval, backoff, Retry-After)."""
        return self.storage.due_feeds(self.pipeline.clock())

    def skip_paused(self, feeds: Collection[FeedInfo], *, force: bool = False) -> list[FeedInfo]:
        """`feeds` without those whose server asked for a pause (429/503, Retry-After), each
        skipped one logged with when it is due; `force` keeps them all."""
        if force:
            return list(feeds)
        now = self.pipeline.clock()
        kept: list[FeedInfo] = []
        for feed in feeds:
            if paused_by_server(feed, now):
                assert feed.next_poll_at is not None
                log.warning(
                    "feed_skipped",
                    feed=feed.name,
                    reason=f"its server asked for a pause ({feed.last_error})",
                    due_in=int((feed.next_poll_at - now).total_seconds()),
                    fix="wait, or poll with --force",
                )
            else:
                kept.append(feed)
        return kept

    async def poll_once(
        self, name: str | None = None, *, due_only: bool = False, force: bool = True
    ) -> list[PollOutcome]:
        """Poll the enabled feeds (or the one named): all of them, or with `due_only` only
        those due (what the scheduler does); `force=False` skips the ones whose server asked
        for a pause (see skip_paused)."""
        if due_only and name is None and self.pipeline.owner is not None:
            return await self.pipeline.poll_due()  # leased, when instances share the database
        if due_only:
            feeds = await asyncio.to_thread(self.due_feeds)
            if name is not None:
                feeds = [f for f in feeds if f.name.casefold() == name.casefold()]
        else:
            feeds = await asyncio.to_thread(self.active_feeds, name)
        feeds = self.skip_paused(feeds, force=force)
        outcomes = await self.pipeline.poll_feeds(feeds)
        await self.check_feed_health()
        return outcomes

    async def check_feed_health(self) -> int:
        """Queue the feed-health notices the feeds' state calls for; returns how many
        notices were stored (each goes to one or more channels)."""
        made = await asyncio.to_thread(
            sweep_feed_health, self.storage, self.feed_health, self.pipeline.clock()
        )
        if made and self.wake_delivery is not None:
            self.wake_delivery.set()
        return len(made)

    # -- delivery -----------------------------------------------------------------------------

    async def queue_digests(self) -> int:
        """Queue the digests whose scheduled time has come, and the catch-ups of mutes that
        ended; returns how many."""
        queued = await asyncio.to_thread(queue_scheduled, self.storage, utcnow())
        return len(queued)

    async def deliver(self, *, until_idle: bool = False) -> DrainStats:
        """Send what is due in the outbox. `until_idle` repeats drains until nothing due is
        left (messages waiting for a retry later stay queued)."""
        total = DrainStats()
        for _ in range(MAX_DRAINS_ONCE if until_idle else 1):
            stats = await self.worker.drain(limit=DRAIN_LIMIT)
            total.merge(stats)
            if not until_idle or stats.picked == 0:
                break
        return total

    def warn_unsendable(self) -> None:
        """Say so when queued messages cannot go: their platform has no credentials here."""

        for platform, n in waiting_without_sender(self.storage, self.senders).items():
            need = PLATFORM_NEEDS.get(platform)
            log.warning(
                "messages cannot be sent",
                platform=platform,
                waiting=n,
                fix=f"set {need}" if need else "no sender for this platform",
            )

    async def run_once(self) -> tuple[list[PollOutcome], DrainStats]:
        """One full cycle: poll the feeds that are due (as the scheduler would: a feed in
        backoff or whose server sent Retry-After waits; new feeds are due at once), queue the
        digests that are due, deliver everything due, and close.

        Raises:
            StorageError: the database cannot take writes (disk full, read-only, locked).
        """
        try:
            await self.recover()
            outcomes = await self.poll_once(due_only=True)
            if not outcomes:
                await asyncio.to_thread(self._log_nothing_due)
            await self.queue_digests()
            stats = await self.deliver(until_idle=True)
            await asyncio.to_thread(self.warn_unsendable)
            return outcomes, stats
        except Exception as exc:
            trouble = database_error(exc)
            if trouble is None or trouble is exc:
                raise
            raise trouble from None
        finally:
            await self.aclose()

    def _log_nothing_due(self) -> None:
        times = [f.next_poll_at for f in self.active_feeds() if f.next_poll_at is not None]
        now = self.pipeline.clock()
        log.info(
            "no feeds due",
            feeds=len(self.active_feeds()),
            next_due_in=int(max(0.0, (min(times) - now).total_seconds())) if times else None,
        )

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        for sender in self.senders.values():
            with contextlib.suppress(Exception):  # closing must not hide the real error
                await sender.aclose()
        self.storage.close()


def build_engine(
    storage: Storage,
    *,
    fetcher: Fetcher,
    classifier: Classifier,
    senders: Mapping[str, Sender],
    alert_renderer: RenderAlert,
    digest_renderer: RenderDigest,
    pacing: Mapping[str, float],
    notice_renderer: RenderNotice | None = None,
    feed_health: FeedHealthOptions | None = None,
    backfill_window: timedelta,
    max_backoff: timedelta,
    on_sent: Callable[[str, int], None] | None = None,
    on_failure: Callable[[str, Outcome], None] | None = None,
    on_delivered: Callable[[str, float], None] | None = None,
    styler: Styler | None = None,
) -> Engine:
    """Wire poll -> route -> outbox -> senders over `storage`."""
    router = Router()
    pipeline = Pipeline(
        storage=storage,
        fetcher=fetcher,
        classifier=classifier,
        backfill_window=backfill_window,
        max_backoff=max_backoff,
        on_story=router,
        on_source=queue_followups,
    )
    worker = Worker(
        storage,
        senders,
        pacer=Pacer(pacing),
        alert_renderer=alert_renderer,
        digest_renderer=digest_renderer,
        notice_renderer=notice_renderer,
        on_sent=on_sent,
        on_failure=on_failure,
        on_delivered=on_delivered,
        styler=styler,
    )
    engine = Engine(storage, fetcher, classifier, pipeline, router, dict(senders), worker)
    if feed_health is not None:
        engine.feed_health = feed_health
    pipeline.on_outcome = engine._outcome
    return engine
