"""What command handlers need from the running bot, injected so tests need no platform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.ingest.check import FeedCheck, FeedChecker, Policy, check_feed
from bot.ingest.netguard import allow_private_from_env

if TYPE_CHECKING:
    from bot.app.config import AppConfig
    from bot.app.settings import Settings
    from bot.store.storage import Storage


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CommandContext:
    storage: Storage
    # Returns the classifier (bot.classify.get_classifier); `why` uses it for unclassified items.
    classifier: Callable[[], Any] | None = None
    config: AppConfig | None = None
    settings: Settings | None = None
    clock: Callable[[], datetime] = _utcnow
    # How `feeds add` checks a URL; default: a real fetch through the SSRF guard.
    fetch: FeedChecker | None = None
    policy: Policy = field(default_factory=lambda: Policy(allow_private=allow_private_from_env()))
    max_chat_feeds: int = 200
    max_subscriptions_per_channel: int = 25

    def now(self) -> datetime:
        t = self.clock()
        return t if t.tzinfo else t.replace(tzinfo=UTC)

    async def check_feed(self, url: str) -> FeedCheck:
        if self.fetch is not None:
            return await self.fetch(url)
        kw: dict[str, Any] = {}
        if self.config is not None:
            d = self.config.defaults
            kw = {
                "timeout": d.read_timeout,
                "total_timeout": d.total_timeout,
                "max_redirects": d.max_redirects,
                "max_bytes": d.max_body_bytes,
                "user_agent": d.user_agent,
            }
        return await check_feed(url, self.policy, **kw)
