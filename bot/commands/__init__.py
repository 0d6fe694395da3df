"""Platform-neutral `/policy` commands: `handle(Request, CommandContext) -> Reply`.

One module per command family (search, subscriptions, digest, feeds, why, help); `spec`
describes every command's options once, for argument validation and for each platform's
adapter (Discord's command tree, Slack's text arguments, the CLI).
"""

from bot.commands.context import CommandContext
from bot.commands.handlers import COMMANDS, HELP, handle
from bot.commands.types import Caller, Reply, Request, Table
from bot.core.vocab import autocomplete

__all__ = [
    "COMMANDS",
    "HELP",
    "Caller",
    "CommandContext",
    "Reply",
    "Request",
    "Table",
    "autocomplete",
    "handle",
]
