"""Platform-neutral `/policy` commands: `handle(Request, CommandContext) -> Reply`.

One module per command family (search, subscriptions, digest, feeds, why, feedback, help); `spec`
describes every command's options once, for argument validation and for each platform's
adapter (Discord's command tree, Slack's text arguments, the CLI).

The names below load on first use: importing a light module of this package (`types`,
`spec`) must not pull in the core service, the database layer and the HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    # Explicit imports (not importlib by name) so that the import graph stays visible to the
    # layer contracts.
    if name == "CommandContext":
        from bot.commands.context import CommandContext

        return CommandContext
    if name in ("COMMANDS", "HELP", "handle"):
        from bot.commands import handlers

        return getattr(handlers, name)
    if name in ("Caller", "Reply", "Request", "Table"):
        from bot.commands import types

        return getattr(types, name)
    if name == "autocomplete":
        from bot.core.vocab import autocomplete

        return autocomplete
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
