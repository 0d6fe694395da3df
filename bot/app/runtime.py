"""Builds the running bot from settings and the config file, and runs it (once or for good).

The data flow: the poll job fetches due feeds; each poll's transaction stores entries, stories
and verdicts and, through the Router hook, writes the outbox rows of the channels that
subscribed. The delivery job drains the outbox to Discord, Slack or the console; the digest
job queues the digests whose time has come. The chat adapters (when tokens are set) answer
`/policy` commands beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from bot.app import metrics
from bot.app.config import SAMPLE_CONFIG, AppConfig, load_config
from bot.app.pipeline import Pipeline, utcnow
from bot.app.settings import Settings
from bot.classify import Classifier
from bot.deliver.route import Router, queue_digests, sync_config_subscriptions
from bot.deliver.send import Sender, build_senders
from bot.deliver.worker import DrainStats, Worker, recover_in_flight
from bot.ingest.fetch import Fetcher
from bot.store.storage import FeedInfo, PollOutcome, Storage

log = structlog.get_logger("policybot")

TICK_SECONDS = 15  # how often the scheduler looks for due feeds
DRAIN_SECONDS = 5  # how often the outbox is checked for due messages (and after each poll)
DIGEST_SECONDS = 60  # digests are scheduled to the minute
# One drain sends at most this many rows; run_once repeats drains until nothing is due.
DRAIN_LIMIT = 200
MAX_DRAINS_ONCE = 1000  # a safety stop for run_once (200k messages)
STOP_GRACE_SECONDS = 20.0  # on SIGTERM, how long the poll and send in flight may finish


def sample_settings(settings: Settings) -> Settings:
    """The offline sample run keeps its own SQLite file, apart from real data, whatever
    DATABASE_URL says (it must never sync its feeds and subscriptions into a real database),
    and posts only to the console."""
    sample_db = f"sqlite:///{(settings.data_dir / 'sample.db').resolve()}"
    return settings.model_copy(
        update={
            "feeds": SAMPLE_CONFIG,
            "database_url": sample_db,
            "discord_token": None,
            "slack_bot_token": None,
            "slack_app_token": None,
            "slack_signing_secret": None,
        }
    )


def load_classifier(config: AppConfig) -> Classifier:
    extra = [p if p.is_absolute() else config.base_dir / p for p in config.classifier.lexicons]
    return Classifier.load(extra_lexicons=extra, threshold=config.classifier.threshold)


def _count_outcome(outcome: PollOutcome) -> None:
    metrics.FEEDS_POLLED.labels(status=outcome.status).inc()
    if outcome.flagged:
        metrics.ITEMS_FLAGGED.inc(outcome.flagged)


@dataclass
class Runtime:
    settings: Settings
    config: AppConfig
    storage: Storage
    fetcher: Fetcher
    classifier: Classifier
    pipeline: Pipeline
    router: Router
    senders: dict[str, Sender]
    worker: Worker
    on_outcome: list[Callable[[PollOutcome], None]] = field(default_factory=list)
    _wake_delivery: asyncio.Event | None = None
    metrics_server: metrics.MetricsServer | None = None  # while serve() runs with a port
    _polling: asyncio.Task[Any] | None = None  # the poll job's task while it runs

    @classmethod
    def build(
        cls,
        settings: Settings,
        feeds_path: Path | None = None,
        *,
        senders: dict[str, Sender] | None = None,
    ) -> Runtime:
        """Load the config, open (and migrate) the database, make feeds and config-file
        subscriptions follow the file, and wire poll -> route -> outbox -> senders."""
        config = load_config(feeds_path or settings.feeds)
        storage = Storage.open(settings.resolved_database_url())
        try:
            storage.sync_feeds(config, utcnow())
            with storage.write() as s:
                sync_config_subscriptions(s, config, has_chat_platform=settings.has_chat_platform)
            fetcher = Fetcher.from_defaults(config.defaults)
            classifier = load_classifier(config)
        except BaseException:
            storage.close()
            raise
        router = Router()
        pipeline = Pipeline(
            storage=storage,
            config=config,
            fetcher=fetcher,
            classifier=classifier,
            on_story=router,
        )
        senders = senders if senders is not None else build_senders(settings)
        worker = Worker(storage, senders)
        rt = cls(settings, config, storage, fetcher, classifier, pipeline, router, senders, worker)
        rt.on_outcome.append(_count_outcome)
        pipeline.on_outcome = rt._outcome
        return rt

    def _outcome(self, outcome: PollOutcome) -> None:
        for cb in self.on_outcome:
            cb(outcome)
        if outcome.flagged and self._wake_delivery is not None:
            self._wake_delivery.set()  # post new alerts now, not at the next drain tick

    def active_feeds(self, name: str | None = None) -> list[FeedInfo]:
        feeds = [f for f in self.storage.feeds() if f.active]
        if name is not None:
            feeds = [f for f in feeds if f.name.casefold() == name.casefold()]
        return feeds

    async def poll_once(self, name: str | None = None) -> list[PollOutcome]:
        feeds = await asyncio.to_thread(self.active_feeds, name)
        return await self.pipeline.poll_feeds(feeds)

    # -- delivery -----------------------------------------------------------------------------

    async def queue_digests(self) -> int:
        """Queue the digests whose scheduled time has come; returns how many."""
        queued = await asyncio.to_thread(queue_digests, self.storage, utcnow())
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
        from bot.deliver.status import PLATFORM_NEEDS, waiting_without_sender

        for platform, n in waiting_without_sender(self.storage, self.senders).items():
            need = PLATFORM_NEEDS.get(platform)
            log.warning(
                "messages cannot be sent",
                platform=platform,
                waiting=n,
                fix=f"set {need}" if need else "no sender for this platform",
            )

    async def run_once(self) -> tuple[list[PollOutcome], DrainStats]:
        """One full cycle: poll every enabled feed (due or not), queue the digests that are
        due, deliver everything due, and close."""
        try:
            await asyncio.to_thread(recover_in_flight, self.storage)
            outcomes = await self.poll_once()
            await self.queue_digests()
            stats = await self.deliver(until_idle=True)
            await asyncio.to_thread(self.warn_unsendable)
            return outcomes, stats
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        for sender in self.senders.values():
            with contextlib.suppress(Exception):  # closing must not hide the real error
                await sender.aclose()
        self.storage.close()

    # -- the long-running process ------------------------------------------------------------

    async def _delivery_loop(self, stop: asyncio.Event) -> None:
        """Drain every DRAIN_SECONDS, or at once when a poll flagged something."""
        wake = self._wake_delivery = asyncio.Event()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), DRAIN_SECONDS)
            wake.clear()
            if stop.is_set():
                break
            try:
                await self.deliver(until_idle=True)
            except Exception:  # the database blinked: log it and try again next tick
                log.exception("delivery pass failed")

    async def _poll_job(self) -> None:
        """The scheduler's poll job; remembers its task so a shutdown can let it finish."""
        self._polling = asyncio.current_task()
        try:
            await self.pipeline.poll_due()
        except asyncio.CancelledError:
            # Stopped mid-poll after the grace period: each feed's poll is one transaction,
            # so nothing half-written remains; the next start polls those feeds again.
            log.info("poll interrupted by shutdown")
        finally:
            self._polling = None

    async def _digests(self) -> None:
        try:
            if await self.queue_digests() and self._wake_delivery is not None:
                self._wake_delivery.set()
        except Exception:
            log.exception("digest scheduling failed")

    def _command_context(self) -> Any:
        from bot.commands.context import CommandContext

        return CommandContext(
            storage=self.storage,
            classifier=lambda: self.classifier,
            config=self.config,
            settings=self.settings,
        )

    async def serve(self) -> None:
        """The long-running process: APScheduler drives polling and digests, a delivery loop
        drains the outbox, chat adapters answer commands; stops cleanly on SIGTERM/SIGINT."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Not possible off the main thread: then only cancellation stops us.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
                handled.append(sig)

        # Rows left "sending" by a process that died are due again (same nonce: no double).
        recovered = await asyncio.to_thread(recover_in_flight, self.storage)
        await asyncio.to_thread(self.warn_unsendable)
        metrics_server = None
        if self.settings.metrics_port is not None:
            metrics_server = metrics.start_metrics_server(self.settings.metrics_port, self.storage)
        self.metrics_server = metrics_server

        scheduler = AsyncIOScheduler(timezone="UTC")
        # One dispatcher looks for due feeds: each feed's next_poll_at (interval with jitter, or
        # backoff after failures, or Retry-After) is kept in the database, so it survives restarts.
        scheduler.add_job(
            self._poll_job,
            "interval",
            seconds=TICK_SECONDS,
            id="poll",
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
            misfire_grace_time=TICK_SECONDS * 4,
        )
        # Each subscription's schedule and time zone live in the database (chat commands change
        # them), so one job checks every minute which are due; missed runs coalesce through
        # each subscription's bookmark.
        scheduler.add_job(
            self._digests,
            "interval",
            seconds=DIGEST_SECONDS,
            id="digests",
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
        )
        scheduler.start()
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(self._delivery_loop(stop), name="delivery")
        ]
        if self.settings.has_chat_platform:  # the adapters import discord/slack: only then
            from bot.adapters.run import run_chat_adapters

            chat = run_chat_adapters(self._command_context(), self.settings, stop=stop)
            tasks.append(asyncio.create_task(chat, name="chat"))
        log.info(
            "running",
            feeds=len(self.active_feeds()),
            database=self.storage.engine.url.render_as_string(hide_password=True),
            recovered_in_flight=recovered,
            metrics_port=metrics_server.port if metrics_server else None,
        )
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            stop.set()
            if self._wake_delivery is not None:
                self._wake_delivery.set()
            scheduler.pause()  # no new jobs; shutdown() would cancel the running poll
            # Let the poll and the send in flight finish (each is short and bounded by the
            # fetch and send timeouts), then cancel whatever is left.
            deadline = loop.time() + STOP_GRACE_SECONDS
            running = [t for t in (*tasks, self._polling) if t is not None and not t.done()]
            if running:
                _, late = await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
                for task in late:
                    task.cancel()
                for task in running:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            scheduler.shutdown(wait=False)
            # What the last poll flagged goes out now if the grace period allows; otherwise
            # it waits in the outbox for the next start.
            with contextlib.suppress(Exception):  # a timeout included
                await asyncio.wait_for(
                    self.deliver(until_idle=True), max(0.0, deadline - loop.time())
                )
            if metrics_server is not None:
                metrics_server.close()
            for sig in handled:
                loop.remove_signal_handler(sig)
            await self.aclose()
