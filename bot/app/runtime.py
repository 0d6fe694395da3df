"""Builds the running bot from settings and the config file, and runs it (once or for good)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from bot.app.config import SAMPLE_CONFIG, AppConfig, load_config
from bot.app.pipeline import Pipeline, utcnow
from bot.app.settings import Settings
from bot.classify import Classifier
from bot.ingest.fetch import Fetcher
from bot.store.storage import FeedInfo, PollOutcome, Storage

log = structlog.get_logger("policybot")

TICK_SECONDS = 15  # how often the scheduler looks for due feeds


def sample_settings(settings: Settings) -> Settings:
    """The offline sample run keeps its own SQLite file, apart from real data."""
    update: dict[str, object] = {"feeds": SAMPLE_CONFIG}
    if not settings.database_url:
        update["database_url"] = f"sqlite:///{(settings.data_dir / 'sample.db').resolve()}"
    return settings.model_copy(update=update)


def load_classifier(config: AppConfig) -> Classifier:
    extra = [p if p.is_absolute() else config.base_dir / p for p in config.classifier.lexicons]
    return Classifier.load(extra_lexicons=extra, threshold=config.classifier.threshold)


@dataclass
class Runtime:
    settings: Settings
    config: AppConfig
    storage: Storage
    fetcher: Fetcher
    classifier: Classifier
    pipeline: Pipeline
    on_outcome: list[Callable[[PollOutcome], None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, feeds_path: Path | None = None) -> Runtime:
        config = load_config(feeds_path or settings.feeds)
        storage = Storage.open(settings.resolved_database_url())
        storage.sync_feeds(config, utcnow())
        fetcher = Fetcher.from_defaults(config.defaults)
        classifier = load_classifier(config)
        pipeline = Pipeline(storage=storage, config=config, fetcher=fetcher, classifier=classifier)
        rt = cls(settings, config, storage, fetcher, classifier, pipeline)
        pipeline.on_outcome = rt._outcome
        return rt

    def _outcome(self, outcome: PollOutcome) -> None:
        for cb in self.on_outcome:
            cb(outcome)

    def active_feeds(self, name: str | None = None) -> list[FeedInfo]:
        feeds = [f for f in self.storage.feeds() if f.active]
        if name is not None:
            feeds = [f for f in feeds if f.name.casefold() == name.casefold()]
        return feeds

    async def poll_once(self, name: str | None = None) -> list[PollOutcome]:
        return await self.pipeline.poll_feeds(self.active_feeds(name))

    async def run_once(self) -> list[PollOutcome]:
        """One full cycle: poll every enabled feed (due or not), then deliver what was flagged."""
        try:
            return await self.poll_once()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        self.storage.close()

    async def serve(self) -> None:
        """The long-running process: APScheduler drives polling; stops cleanly on SIGTERM/SIGINT."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Not possible off the main thread (tests): then only cancellation stops us.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)

        scheduler = AsyncIOScheduler(timezone="UTC")
        # One dispatcher looks for due feeds: each feed's next_poll_at (interval with jitter, or
        # backoff after failures, or Retry-After) is kept in the database, so it survives restarts.
        scheduler.add_job(
            self.pipeline.poll_due,
            "interval",
            seconds=TICK_SECONDS,
            id="poll",
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
            misfire_grace_time=TICK_SECONDS * 4,
        )
        scheduler.start()
        log.info(
            "running",
            feeds=len(self.active_feeds()),
            database=self.storage.engine.url.render_as_string(hide_password=True),
        )
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            scheduler.shutdown(wait=False)
            await self.aclose()
