"""The core service: `make_bot(...)` -> `PolicyBot`, the one way in for CLI, chat and web."""

from bot.core.service import (
    BotOptions,
    FeedChecker,
    PolicyBot,
    make_bot,
    make_feed_checker,
)

__all__ = [
    "BotOptions",
    "FeedChecker",
    "PolicyBot",
    "make_bot",
    "make_feed_checker",
]
