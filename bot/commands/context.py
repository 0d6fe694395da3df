"""What command handlers get: the core service, and a way to call it off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from bot.clock import utcnow
from bot.core import BotOptions, FeedChecker, PolicyBot, make_feed_checker

if TYPE_CHECKING:  # the network and database modules load only when a command runs
    from bot.ingest.check import Policy
    from bot.store.storage import Storage

_T = TypeVar("_T")


@dataclass
class CommandContext:
    """The service the handlers call. Database work runs in a worker thread (`call`) so a
    chat event loop never stalls on it."""

    bot: PolicyBot

    @classmethod
    def of(
        cls,
        storage: Storage,
        *,
        classifier: Callable[[], Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
        fetch: FeedChecker | None = None,
        policy: Policy | None = None,
        fetch_options: dict[str, Any] | None = None,
        default_interval: timedelta = timedelta(minutes=30),
        max_chat_feeds: int = 200,
        max_subscriptions_per_channel: int = 25,
    ) -> CommandContext:
        """A context over an open storage; `fetch` replaces the real feed check (tests)."""
        checker = fetch or make_feed_checker(fetch_options, policy=policy)
        options = BotOptions(
            default_interval=default_interval,
            max_runtime_feeds=max_chat_feeds,
            max_subscriptions_per_channel=max_subscriptions_per_channel,
        )
        bot = PolicyBot(storage, options, classifier=classifier, feed_checker=checker, clock=clock)
        return cls(bot)

    def now(self) -> datetime:
        t = self.bot.now()
        return t if t.tzinfo else t.replace(tzinfo=UTC)

    async def call(self, fn: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        """Run a (blocking) core method in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kw)
