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
import re
import signal
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from bot import platforms
from bot.app import metrics
from bot.app.config import SAMPLE_CONFIG, AppConfig, load_config
from bot.app.logging import FailureLog, describe
from bot.app.settings import Settings
from bot.classify import Classifier
from bot.core.pipeline import Pipeline, utcnow
from bot.deliver.ports import Sender
from bot.deliver.route import Router, queue_digests, sync_config_subscriptions
from bot.deliver.worker import DrainStats, Pacer, Worker, recover_in_flight
from bot.ingest.fetch import Fetcher
from bot.store.storage import FeedInfo, PollOutcome, Storage

log = structlog.get_logger("policybot")

TICK_SECONDS = 15  # how often the scheduler looks for due feeds
DRAIN_SECONDS = 5  # how often the outbox is checked for due messages (and after each poll)
DIGEST_SECONDS = 60  # digests are scheduled to the minute
# One drain sends at most this many rows; run_once repeats drains until nothing is due.
DRAIN_LIMIT = 200
MAX_DRAINS_ONCE = 1000  # a safety stop for run_once (200k messages)
# On SIGTERM/Ctrl-C the poll and the send in flight may finish for this long; then they are
# cancelled (a cancelled poll records nothing: its feed stays due and is polled next time).
STOP_GRACE_SECONDS = 4.0
FINAL_DELIVERY_SECONDS = 5.0  # then what the last poll flagged may go out for this long
# A feed whose last answer was one of these, with a Retry-After (or backoff) that has not run
# out, asked us to pause: a manual `policybot poll` skips it unless forced.
_PAUSED_BY_SERVER = re.compile(r"^HTTP (429|503)\b")


class StartupError(SystemExit):
    """`run` cannot start (the metrics port is taken, say): the reason was logged in one
    line; exits with status 2 and no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


def _credentials(settings: Settings) -> dict[str, str | None]:
    """The platform secrets of the settings as plain strings (the platforms take no pydantic)."""

    def val(secret: Any) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    return {
        "discord_token": val(settings.discord_token),
        "slack_bot_token": val(settings.slack_bot_token),
    }


def paused_by_server(feed: FeedInfo, now: datetime) -> bool:
    """The feed's server answered 429/503 last time and the pause it asked for (Retry-After,
    or our backoff after it) has not run out yet."""
    return (
        feed.next_poll_at is not None
        and feed.next_poll_at > now
        and feed.last_error is not None
        and _PAUSED_BY_SERVER.match(feed.last_error) is not None
    )


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


def fetch_options(config: AppConfig | None) -> dict[str, Any]:
    """The config file's HTTP limits, as `feeds add` checks a URL with them."""
    if config is None:
        return {}
    d = config.defaults
    return {
        "timeout": d.read_timeout,
        "total_timeout": d.total_timeout,
        "max_redirects": d.max_redirects,
        "max_bytes": d.max_body_bytes,
        "user_agent": d.user_agent,
    }


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
    _poll_failures: FailureLog = field(default_factory=lambda: FailureLog(log, "poll_failed"))
    _digest_failures: FailureLog = field(default_factory=lambda: FailureLog(log, "digests_failed"))

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
            storage.sync_feeds(config.feed_options(), utcnow())
            with storage.write() as s:
                sync_config_subscriptions(
                    s, config.subscription_options(), has_chat_platform=settings.has_chat_platform
                )
            fetcher = Fetcher.from_defaults(config.defaults)
            classifier = load_classifier(config)
        except BaseException:
            storage.close()
            raise
        router = Router()
        pipeline = Pipeline(
            storage=storage,
            fetcher=fetcher,
            backfill_window=config.defaults.backfill_window,
            max_backoff=config.defaults.max_backoff,
            classifier=classifier,
            on_story=router,
        )
        senders = (
            senders if senders is not None else platforms.build_senders(_credentials(settings))
        )
        worker = Worker(
            storage,
            senders,
            pacer=Pacer(platforms.pacing()),
            alert_renderer=platforms.render_alert,
            digest_renderer=platforms.render_digest,
            on_sent=metrics.count_sent,
            on_failure=metrics.count_failure,
        )
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
        if due_only:
            feeds = await asyncio.to_thread(self.due_feeds)
            if name is not None:
                feeds = [f for f in feeds if f.name.casefold() == name.casefold()]
        else:
            feeds = await asyncio.to_thread(self.active_feeds, name)
        feeds = self.skip_paused(feeds, force=force)
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
        """One full cycle: poll the feeds that are due (as the scheduler would: a feed in
        backoff or whose server sent Retry-After waits; new feeds are due at once), queue the
        digests that are due, deliver everything due, and close."""
        try:
            await asyncio.to_thread(recover_in_flight, self.storage)
            outcomes = await self.poll_once(due_only=True)
            if not outcomes:
                await asyncio.to_thread(self._log_nothing_due)
            await self.queue_digests()
            stats = await self.deliver(until_idle=True)
            await asyncio.to_thread(self.warn_unsendable)
            return outcomes, stats
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

    # -- the long-running process ------------------------------------------------------------

    async def _delivery_loop(self, stop: asyncio.Event) -> None:
        """Drain every DRAIN_SECONDS, or at once when a poll flagged something."""
        wake = self._wake_delivery = asyncio.Event()
        failures = FailureLog(log, "delivery_failed")
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), DRAIN_SECONDS)
            wake.clear()
            if stop.is_set():
                break
            try:
                await self.deliver(until_idle=True)
            except Exception as exc:  # the database blinked: say so (once) and retry next tick
                failures.failed(exc)
            else:
                failures.succeeded()

    async def _poll_job(self) -> None:
        """The scheduler's poll job; remembers its task so a shutdown can let it finish."""
        self._polling = asyncio.current_task()
        try:
            await self.pipeline.poll_due()
        except Exception as exc:  # the database is down, say: one line, the next tick retries
            self._poll_failures.failed(exc)
        except asyncio.CancelledError:
            # Stopped mid-poll after the grace period: each feed's poll is one transaction,
            # so nothing half-written remains; the next start polls those feeds again.
            log.info("poll interrupted by shutdown")
        else:
            self._poll_failures.succeeded()
        finally:
            self._polling = None

    async def _digests(self) -> None:
        try:
            queued = await self.queue_digests()
        except Exception as exc:
            self._digest_failures.failed(exc)
            return
        self._digest_failures.succeeded()
        if queued and self._wake_delivery is not None:
            self._wake_delivery.set()

    def _command_context(self) -> Any:
        from bot.commands.context import CommandContext

        return CommandContext.of(
            self.storage,
            classifier=lambda: self.classifier,
            fetch_options=fetch_options(self.config),
            default_interval=self.config.defaults.interval,
        )

    def _start_metrics(self) -> metrics.MetricsServer | None:
        """The health/metrics server, when a port is set; a port that cannot be bound stops
        the start with one line saying what to change (StartupError, no traceback)."""
        port = self.settings.metrics_port
        if port is None:
            return None
        try:
            return metrics.start_metrics_server(port, self.storage)
        except (OSError, OverflowError, ValueError) as exc:  # in use, not ours, out of range
            message = (
                f"POLICYBOT_METRICS_PORT={port} cannot be used ({describe(exc)}): set it to"
                " a free port (1-65535; 0 picks any free one), or unset it to run without"
                " the metrics server"
            )
            log.error("metrics_port_unavailable", port=port, error=describe(exc), fix=message)
            raise StartupError(message) from None

    async def serve(self) -> None:
        """The long-running process: APScheduler drives polling and digests, a delivery loop
        drains the outbox, chat adapters answer commands; stops cleanly on SIGTERM/SIGINT
        (a second one stops at once, without waiting for the poll or send in flight)."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        try:
            metrics_server = self._start_metrics()
        except BaseException:
            await self.aclose()
            raise
        self.metrics_server = metrics_server

        stop = asyncio.Event()
        hurry = asyncio.Event()  # a second signal: stop waiting for what is in flight

        def on_signal() -> None:
            if stop.is_set():
                hurry.set()
            stop.set()

        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Not possible off the main thread: then only cancellation stops us.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal)
                handled.append(sig)

        scheduler = AsyncIOScheduler(timezone="UTC")
        tasks: list[asyncio.Task[Any]] = []
        try:
            # Rows left "sending" by a process that died are due again (same nonce: no double).
            recovered = await asyncio.to_thread(recover_in_flight, self.storage)
            await asyncio.to_thread(self.warn_unsendable)
            # One dispatcher looks for due feeds: each feed's next_poll_at (interval with
            # jitter, or backoff after failures, or Retry-After) is kept in the database, so it
            # survives restarts.
            scheduler.add_job(
                self._poll_job,
                "interval",
                seconds=TICK_SECONDS,
                id="poll",
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow(),
                misfire_grace_time=max(1, round(TICK_SECONDS * 4)),
            )
            # Each subscription's schedule and time zone live in the database (chat commands
            # change them), so one job checks every minute which are due; missed runs coalesce
            # through each subscription's bookmark.
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
            tasks.append(asyncio.create_task(self._delivery_loop(stop), name="delivery"))
            if self.settings.has_chat_platform:  # the adapters import discord/slack: only then
                from bot.platforms.run import run_chat_adapters

                chat = run_chat_adapters(self._command_context(), self.settings, stop=stop)
                tasks.append(asyncio.create_task(chat, name="chat"))
            log.info(
                "running",
                feeds=len(self.active_feeds()),
                database=self.storage.engine.url.render_as_string(hide_password=True),
                recovered_in_flight=recovered,
                metrics_port=metrics_server.port if metrics_server else None,
            )
            await stop.wait()
        finally:
            hint = {"hint": "signal again to stop at once"} if handled else {}
            log.info("stopping", **hint)
            stop.set()
            if self._wake_delivery is not None:
                self._wake_delivery.set()
            if scheduler.running:
                scheduler.pause()  # no new jobs; shutdown() would cancel the running poll
            # Let the poll and the send in flight finish for a few seconds (a slow feed could
            # take its whole fetch timeout), then cancel whatever is left: a cancelled poll
            # records nothing, so its feed stays due and is polled at the next start.
            running = [t for t in (*tasks, self._polling) if t is not None and not t.done()]
            late = await _wait_all(running, STOP_GRACE_SECONDS, hurry)
            for task in late:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if scheduler.running:
                scheduler.shutdown(wait=False)
            # What the last poll flagged goes out now if there is time; otherwise it waits in
            # the outbox for the next start.
            if not hurry.is_set():
                final = asyncio.create_task(self.deliver(until_idle=True))
                if await _wait_all([final], FINAL_DELIVERY_SECONDS, hurry):
                    final.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await final
            if metrics_server is not None:
                metrics_server.close()
            for sig in handled:
                loop.remove_signal_handler(sig)
            await self.aclose()


async def _wait_all(
    tasks: Collection[asyncio.Task[Any]], timeout: float, hurry: asyncio.Event
) -> set[asyncio.Task[Any]]:
    """Wait until all `tasks` are done, `timeout` seconds pass or `hurry` is set; returns
    those not done."""
    pending = {t for t in tasks if not t.done()}
    if not pending or hurry.is_set():
        return pending
    hurried = asyncio.create_task(hurry.wait())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending and not hurry.is_set():
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.wait({*pending, hurried}, timeout=left, return_when="FIRST_COMPLETED")
            pending = {t for t in pending if not t.done()}
    finally:
        hurried.cancel()
    return pending
