"""Structured logging: one line per event, key=value on a terminal, JSON for log shippers.

Both our own structlog events and the standard-library records of the libraries (APScheduler,
discord.py, slack-sdk, ...) go through the same renderer, so in JSON mode every line is one
JSON object, tracebacks included (as an escaped string field). `FailureLog` keeps a failure
that repeats every tick (the database is down) from flooding the log.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog

# Third-party chatter (httpx request lines, discord gateway) stays at WARNING unless asked.
# Alembic's own lines ("setup plugin...") too: bot.store.db logs one line per migration.
NOISY_LOGGERS = (
    "httpx",
    "httpcore",
    "discord",
    "slack_bolt",
    "slack_sdk",
    "apscheduler",
    "alembic",
)
# Loggers whose tracebacks are noise: slack-sdk's Socket Mode client logs "Failed to
# connect ...; Retrying..." with a full traceback every ping interval while Slack is
# unreachable. Their records keep their message (one line) and lose the traceback, unless
# the level is DEBUG.
TRACEBACK_FREE_LOGGERS = ("slack_sdk", "slack_bolt")

REPEAT_LOG_SECONDS = 300.0  # a failure that keeps repeating is logged again this often


class DropTracebacks(logging.Filter):
    """Strips exc_info from the records of `prefixes` (and their children); the error text is
    in their message already. A handler filter, so that child loggers are covered too."""

    def __init__(self, prefixes: tuple[str, ...] = TRACEBACK_FREE_LOGGERS) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        ours = any(name == p or name.startswith(p + ".") for p in self.prefixes)
        if record.exc_info and ours and not logging.getLogger(name).isEnabledFor(logging.DEBUG):
            record.exc_info = None
            record.exc_text = None
        return True


def _renderer(fmt: str) -> structlog.typing.Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer = _renderer(fmt)
    # Standard-library records (the libraries') are rendered by structlog too: in JSON mode
    # a line that is not JSON (or a bare multi-line traceback) would break log shippers.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(DropTracebacks())
    logging.basicConfig(level=lvl, handlers=[handler], force=True)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def describe(exc: BaseException) -> str:
    """`Type: message` (or just the type when the message is empty): one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class FailureLog:
    """Logs a job's failures as one line each, without flooding.

    - The first failure of a run, or one whose error differs from the last: an error line
      (`event`, error=..., failures=n). The first time an exception type is seen, the line
      carries its traceback; never again after that (a debug line has it then).
    - The same error again: at debug level only, and as an error line again every
      `every` seconds, with how many times it failed meanwhile (repeated=n).
    - The first success after failures: one `<recovered_event>` line with the count.
    """

    def __init__(
        self,
        logger: Any,
        event: str,
        *,
        recovered_event: str | None = None,
        every: float = REPEAT_LOG_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.event = event
        self.recovered_event = recovered_event or event.removesuffix("_failed") + "_recovered"
        self.every = every
        self.clock = clock
        self.failures = 0  # in a row
        self._last_error: str | None = None
        self._last_logged = 0.0
        self._suppressed = 0
        self._traced: set[type[BaseException]] = set()

    def failed(self, exc: BaseException, **fields: Any) -> None:
        self.failures += 1
        error = describe(exc)
        now = self.clock()
        changed = error != self._last_error
        if not changed and now - self._last_logged < self.every:
            self._suppressed += 1
            self.logger.debug(self.event, error=error, failures=self.failures, **fields)
            return
        first_of_kind = type(exc) not in self._traced
        self._traced.add(type(exc))
        extra: dict[str, Any] = {}
        if self._suppressed:
            extra["repeated"] = self._suppressed
        if first_of_kind:
            extra["exc_info"] = (type(exc), exc, exc.__traceback__)
        self.logger.error(self.event, error=error, failures=self.failures, **fields, **extra)
        self._last_error = error
        self._last_logged = now
        self._suppressed = 0

    def succeeded(self, **fields: Any) -> None:
        if self.failures:
            self.logger.info(self.recovered_event, failures=self.failures, **fields)
        self.failures = 0
        self._last_error = None
        self._suppressed = 0
