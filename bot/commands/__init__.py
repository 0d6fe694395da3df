"""Platform-neutral `/policy` commands: `handle(Request, CommandContext) -> Reply`."""

from bot.commands.context import CommandContext
from bot.commands.handlers import COMMANDS, HELP, handle
from bot.commands.types import Caller, Reply, Request, Table
from bot.commands.vocab import autocomplete

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
