"""The `/policy` commands, once, for every platform: Request in, Reply out.

Adapters (Discord, Slack, CLI) turn their input into a Request and render the Reply; nothing
here knows a platform, and nothing here touches the database: each command family (one
module each) reads its arguments and calls the core service (bot.core.PolicyBot). Every user
mistake becomes an error Reply that says what to type instead.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from bot.commands.context import CommandContext
from bot.commands.digest import cmd_digest
from bot.commands.feedback import (
    EXCLUDE_COMMAND,
    NOT_RELEVANT_COMMAND,
    cmd_exclude,
    cmd_missed,
    cmd_not_relevant,
)
from bot.commands.feeds import cmd_feeds
from bot.commands.help import HELP, cmd_help
from bot.commands.mute import cmd_mute, cmd_unmute
from bot.commands.preview import cmd_preview
from bot.commands.search import cmd_search
from bot.commands.subscriptions import cmd_subscribe, cmd_subscriptions, cmd_unsubscribe
from bot.commands.types import Reply, Request
from bot.commands.why import cmd_why
from bot.core.validate import show, suggest
from bot.errors import InputError, PolicyBotError

__all__ = ["COMMANDS", "HELP", "handle"]

log = logging.getLogger("policybot.commands")


def _error(e: PolicyBotError, title: str = "") -> Reply:
    text = str(e)
    suggestions = getattr(e, "suggestions", ())
    if suggestions:
        text += "\nDid you mean: " + ", ".join(suggestions) + "?"
    return Reply(title=title, text=text, error=True, suggestions=tuple(suggestions))


COMMANDS: dict[str, Callable[[Request, CommandContext], Awaitable[Reply]]] = {
    "search": cmd_search,
    "subscribe": cmd_subscribe,
    "unsubscribe": cmd_unsubscribe,
    "subscriptions": cmd_subscriptions,
    "mute": cmd_mute,
    "unmute": cmd_unmute,
    "preview": cmd_preview,
    "digest": cmd_digest,
    "feeds": cmd_feeds,
    "why": cmd_why,
    "help": cmd_help,
    "missed": cmd_missed,
    NOT_RELEVANT_COMMAND: cmd_not_relevant,  # the button under alerts, not typed
    EXCLUDE_COMMAND: cmd_exclude,  # the exclusions "Not relevant" offers, not typed
}


async def handle(request: Request, ctx: CommandContext) -> Reply:
    """Answer one command. Never raises: user mistakes and failures become a Reply."""
    name = (request.command or "").strip().lower().lstrip("/")
    fn = COMMANDS.get(name)
    if fn is None:
        e = InputError(
            f"unknown command {show(name)!r}: try `/policy help`", suggest(name, list(COMMANDS))
        )
        return _error(e, "Unknown command")
    try:
        return await fn(request, ctx)
    except PolicyBotError as e:
        return _error(e, name.capitalize())
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("command %s failed (ref %s)", name, ref)
        return Reply(
            title=name.capitalize(),
            error=True,
            text=f"Something went wrong on our side (ref {ref}); the operator can find"
            " it in the logs.",
        )
