"""What command handlers get: the core service, and a way to call it off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from bot.clock import utcnow
from bot.core import BotOptions, PolicyBot

if TYPE_CHECKING:
    from bot.commands.feedcheck import FeedCheck, FeedChecker
    from bot.commands.ssrf import Policy
    from bot.store.storage import Storage

_T = TypeVar("_T")


async def check_feed(url: str, policy: Policy, **kw: Any) -> FeedCheck:
    """`bot.commands.feedcheck.check_feed`, loaded when a feed is first checked: the HTTP
    client and the network guard cost more to import than most commands take to run."""
    from bot.commands.feedcheck import check_feed as check

    return await check(url, policy, **kw)


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
        kw = dict(fetch_options or {})
        guards: list[Policy] = [policy] if policy is not None else []

        async def checker(url: str) -> FeedCheck:
            if not guards:
                from bot.commands.ssrf import Policy
                from bot.ingest.netguard import allow_private_from_env

                guards.append(Policy(allow_private=allow_private_from_env()))
            return await check_feed(url, guards[0], **kw)

        options = BotOptions(
            default_interval=default_interval,
            max_runtime_feeds=max_chat_feeds,
            max_subscriptions_per_channel=max_subscriptions_per_channel,
        )
        bot = PolicyBot(
            storage, options, classifier=classifier, feed_checker=fetch or checker, clock=clock
        )
        return cls(bot)

    def now(self) -> datetime:
        t = self.bot.now()
        return t if t.tzinfo else t.replace(tzinfo=UTC)

    async def call(self, fn: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        """Run a (blocking) core method in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kw)
