"""What both chat adapters share: the handler they call, and failing without tracebacks."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from bot.commands.types import Reply, Request
from bot.log import get_logger

log = get_logger("policybot.adapters")

# handle(request, ctx) -> Reply; ctx is whatever bot.commands needs (its CommandContext).
Handler = Callable[[Request, Any], Awaitable[Reply]]
# autocomplete(field, prefix) -> [(name, value)]; sync or async.
Completer = Callable[[str, str], "list[tuple[str, str]] | Awaitable[list[tuple[str, str]]]"]

FAILED_TEXT = "Sorry, that did not work: something went wrong on our side. It has been logged."
MAX_AUTOCOMPLETE = 25


def default_handler() -> Handler:
    # Imported late: the adapters must load (and be tested) without the command layer's deps.
    from bot.commands import handle

    return handle


def default_completer(ctx: Any = None) -> Completer:
    """bot.commands' autocomplete; instruments from ctx's classifier (extra lexicons count)."""
    from bot.commands import autocomplete

    classifier = getattr(ctx, "classifier", None)

    def complete_for_ctx(field: str, prefix: str) -> list[tuple[str, str]]:
        return autocomplete(field, prefix, classifier=classifier)

    return complete_for_ctx


async def call_handler(handler: Handler, request: Request, ctx: Any) -> Reply:
    """Run the handler; an exception becomes a short error reply (and a log line with the
    traceback), never a stack trace in the chat."""
    try:
        return await handler(request, ctx)
    except Exception:
        log.exception(
            "command_failed",
            command=request.command,
            platform=request.caller.platform,
            scope=request.caller.scope,
            user=request.caller.user_id,
        )
        return Reply(text=FAILED_TEXT, error=True, ephemeral=True)


async def complete(completer: Completer, field: str, prefix: str) -> list[tuple[str, str]]:
    """At most 25 (name, value) choices; an error gives none (autocomplete is best effort).
    A plain function runs in a thread: a first call may load a vocabulary, and the event loop
    (the Discord gateway) must not wait for it."""
    try:
        fn: Callable[[str, str], Any] = completer
        if inspect.iscoroutinefunction(fn):
            out = fn(field, prefix)
        else:
            out = await asyncio.to_thread(fn, field, prefix)
        if inspect.isawaitable(out):
            out = await out
        return list(out)[:MAX_AUTOCOMPLETE]
    except Exception:
        log.exception("autocomplete_failed", field=field)
        return []


def next_page_args(reply: Reply, delta: int) -> dict[str, Any] | None:
    """The args that show the page `delta` away from the reply's page (None: no such page)."""
    return reply.page_args(delta)
