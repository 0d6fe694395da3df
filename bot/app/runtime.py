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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import platforms
from bot.app import metrics
from bot.app.config import SAMPLE_CONFIG, AppConfig, load_config
from bot.app.logging import FailureLog, describe
from bot.app.settings import Settings
from bot.classify import Classifier
from bot.clock import utcnow
from bot.core import BotOptions, PolicyBot, make_bot, make_feed_checker
from bot.core.engine import Engine, build_engine
from bot.core.pipeline import Pipeline
from bot.deliver.ports import Sender
from bot.deliver.worker import DrainStats, Worker
from bot.ingest.fetch import Fetcher
from bot.log import get_logger
from bot.store.lock import Busy, InstanceLock
from bot.store.storage import FeedInfo, PollOutcome, Storage

log = get_logger("policybot")

TICK_SECONDS = 15  # how often the scheduler looks for due feeds
DRAIN_SECONDS = 5  # how often the outbox is checked for due messages (and after each poll)
DIGEST_SECONDS = 60  # digests are scheduled to the minute
# On SIGTERM/Ctrl-C nothing new is claimed or polled; the poll and the sends in flight may
# finish for this long, then they are cancelled (a cancelled poll records nothing: its feed
# stays due; a cancelled send gives its row back, due at the next start). Docker's stop
# waits 10 s before SIGKILL: the whole shutdown stays well under 5 s.
STOP_GRACE_SECONDS = 3.0


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
    metrics.observe_poll(outcome.seconds)
    if outcome.flagged:
        metrics.ITEMS_FLAGGED.inc(outcome.flagged)


@dataclass
class Runtime:
    """The running bot: the core service and its engine, scheduled, with chat adapters and
    the metrics server; `run_once` for cron, `serve` for good."""

    settings: Settings
    config: AppConfig
    bot: PolicyBot
    engine: Engine
    metrics_server: metrics.MetricsServer | None = None  # while serve() runs with a port
    _polling: asyncio.Task[Any] | None = None  # the poll job's task while it runs
    _lock: InstanceLock | None = None  # the database's instance lock, while held
    # Beaten by a scheduler job every TICK_SECONDS: /healthz fails after two missed periods.
    heartbeat: metrics.Heartbeat = field(
        default_factory=lambda: metrics.Heartbeat(2 * TICK_SECONDS + 5)
    )
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
        options = BotOptions(
            database_url=settings.resolved_database_url(),
            default_interval=config.defaults.interval,
        )
        bot = make_bot(options)
        try:
            bot.sync_config(
                config.feed_options(),
                config.subscription_options(),
                has_chat_platform=settings.has_chat_platform,
            )
            classifier = load_classifier(config)
        except BaseException:
            bot.close()
            raise
        engine = build_engine(
            bot.storage,
            fetcher=Fetcher.from_defaults(config.defaults),
            classifier=classifier,
            senders=senders
            if senders is not None
            else platforms.build_senders(_credentials(settings)),
            alert_renderer=platforms.render_alert,
            digest_renderer=platforms.render_digest,
            styler=platforms.STYLER,
            pacing=platforms.pacing(),
            notice_renderer=platforms.render_notice,
            feed_health=config.feed_health_options(),
            backfill_window=config.defaults.backfill_window,
            max_backoff=config.defaults.max_backoff,
            on_sent=metrics.count_sent,
            on_failure=metrics.count_failure,
            on_delivered=metrics.observe_delivery,
        )
        engine.on_outcome.append(_count_outcome)
        bot.classifier = lambda: classifier
        bot.feed_checker = make_feed_checker(fetch_options(config))
        bot.engine = engine
        return cls(settings, config, bot, engine)

    # The engine's parts, by their old names (tests and the CLI reach for them).
    @property
    def storage(self) -> Storage:
        return self.engine.storage

    @property
    def pipeline(self) -> Pipeline:
        return self.engine.pipeline

    @property
    def worker(self) -> Worker:
        return self.engine.worker

    @property
    def senders(self) -> dict[str, Sender]:
        return self.engine.senders

    @property
    def classifier(self) -> Classifier:
        return self.engine.classifier

    @property
    def fetcher(self) -> Fetcher:
        return self.engine.fetcher

    @property
    def on_outcome(self) -> list[Callable[[PollOutcome], None]]:
        return self.engine.on_outcome

    def active_feeds(self, name: str | None = None) -> list[FeedInfo]:
        return self.engine.active_feeds(name)

    def skip_paused(self, feeds: Collection[FeedInfo], *, force: bool = False) -> list[FeedInfo]:
        return self.engine.skip_paused(feeds, force=force)

    async def poll_once(
        self, name: str | None = None, *, due_only: bool = False, force: bool = True
    ) -> list[PollOutcome]:
        return await self.engine.poll_once(name, due_only=due_only, force=force)

    async def queue_digests(self) -> int:
        return await self.engine.queue_digests()

    async def deliver(self, *, until_idle: bool = False) -> DrainStats:
        return await self.engine.deliver(until_idle=until_idle)

    def warn_unsendable(self) -> None:
        self.engine.warn_unsendable()

    async def run_once(self) -> tuple[list[PollOutcome], DrainStats]:
        """One cycle (see Engine.run_once), holding the instance lock.

        Raises:
            Busy: another process polls or delivers from this database (cron overlap).
        """
        try:
            self.acquire_lock()
        except Busy:
            await self.aclose()
            raise
        return await self.engine.run_once()

    def acquire_lock(self, wait: float = 0.0) -> None:
        """Hold the database's instance lock until aclose(); raises Busy when another
        process holds it (bot.store.lock)."""
        if self._lock is None:
            # The lock's owner signs the outbox claims and, on PostgreSQL, the feed and
            # destination leases: other instances see from the lock whether it is alive.
            self._lock = InstanceLock(self.storage.engine, owner=self.worker.owner)
        if not self._lock.held:
            self._lock.acquire(wait)
            self.pipeline.owner = self._lock.owner

    async def aclose(self) -> None:
        if self._lock is not None:
            self._lock.release()
        await self.engine.aclose()

    # -- the long-running process ------------------------------------------------------------

    async def _delivery_loop(self, stop: asyncio.Event) -> None:
        """Drain every DRAIN_SECONDS, or at once when a poll flagged something."""
        wake = self.engine.wake_delivery = asyncio.Event()
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
            await self.engine.check_feed_health()  # time passes for failing feeds too
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
        if queued and self.engine.wake_delivery is not None:
            self.engine.wake_delivery.set()

    def _command_context(self) -> Any:
        from bot.commands.context import CommandContext

        return CommandContext(self.bot)

    def _start_metrics(self) -> metrics.MetricsServer | None:
        """The health/metrics server, when a port is set; a port that cannot be bound stops
        the start with one line saying what to change (StartupError, no traceback)."""
        port = self.settings.metrics_port
        if port is None:
            return None
        try:
            from bot.classify import native

            metrics.set_build_info(native.build().describe())
            return metrics.start_metrics_server(port, self.storage, heartbeat=self.heartbeat)
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
            self.acquire_lock()
            metrics_server = self._start_metrics()
        except Busy as exc:
            await self.aclose()
            fix = "stop the other one first (only one may poll and post from a database)"
            log.error("database_busy", error=str(exc), fix=fix)
            raise StartupError(f"{exc}; {fix}") from None
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
            # Rows left "sending" by a process that died are due again (same nonce: no double);
            # on PostgreSQL only those of instances no longer running, or whose lease expired.
            recovered = await self.engine.recover()
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
            scheduler.add_job(
                self.heartbeat.beat,
                "interval",
                seconds=TICK_SECONDS,
                id="heartbeat",
                max_instances=1,
                coalesce=True,
            )
            scheduler.start()
            tasks.append(asyncio.create_task(self._delivery_loop(stop), name="delivery"))
            if self.settings.has_chat_platform:  # the adapters import discord/slack: only then
                from bot.platforms.run import run_chat_adapters

                chat = run_chat_adapters(
                    self._command_context(),
                    self.settings,
                    stop=stop,
                    leadership=self.bot.leadership if self.bot.shared else None,
                )
                tasks.append(asyncio.create_task(chat, name="chat"))
            log.info(
                "running",
                feeds=len(self.active_feeds()),
                database=self.storage.engine.url.render_as_string(hide_password=True),
                recovered_in_flight=recovered,
                instance=self.worker.owner,
                shared=self.bot.shared,
                metrics_port=metrics_server.port if metrics_server else None,
            )
            await stop.wait()
        finally:
            hint = {"hint": "signal again to stop at once"} if handled else {}
            log.info("stopping", **hint)
            stop.set()
            self.engine.worker.stop()  # claim nothing more; the sends in flight may finish
            if self.engine.wake_delivery is not None:
                self.engine.wake_delivery.set()
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
