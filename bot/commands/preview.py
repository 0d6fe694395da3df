"""`preview`: what a subscription with these filters would have posted lately."""

from __future__ import annotations

import dataclasses

from bot.commands import textargs
from bot.commands.args import destination_key, int_arg, str_arg
from bot.commands.context import CommandContext
from bot.commands.subscriptions import canonical_instruments, subscription_options
from bot.commands.types import Reply, Request
from bot.errors import InputError
from bot.types import DestinationOptions

PREVIEW_PER_PAGE = 5


def _with_filters_text(req: Request) -> Request:
    """`filters` holds the filters as one text, as typed after `/policy preview` in Slack
    (Discord's way in): parsed by the same parser, merged over the other args."""
    text = str_arg(req.args, "filters", 1000)
    if text is None:
        return req
    parsed = textargs.parse(f"preview {text}")
    if "filters" in parsed.args:
        raise InputError("`filters` cannot hold another filters:... option")
    return dataclasses.replace(req, args={**req.args, **parsed.args, "filters": None})


async def cmd_preview(req: Request, ctx: CommandContext) -> Reply:
    req = _with_filters_text(req)
    platform, scope, channel = destination_key(req)
    options = subscription_options(req, DestinationOptions(platform, scope, channel))
    options = await canonical_instruments(options, ctx)
    days = int_arg(req.args, "days", 7, 1, 30)
    page = int_arg(req.args, "page", 1, 1, 1000)
    result = await ctx.call(ctx.bot.preview, options, days=days)
    if not result.total:
        return Reply(
            title="Preview",
            text=f"Nothing in the last {days} days matches these filters: a subscription"
            " with them would have posted nothing.",
        )
    start = (page - 1) * PREVIEW_PER_PAGE
    shown = result.stories[start : start + PREVIEW_PER_PAGE]
    n = result.total
    text = f"A subscription with these filters would have posted {n} stor"
    text += f"{'y' if n == 1 else 'ies'} in the last {days} days; the newest first."
    if n > len(result.stories):
        text += f" Only the newest {len(result.stories)} can be paged through."
    return Reply(
        title="Preview",
        text=text,
        stories=tuple(shown),
        page=page,
        has_more=start + PREVIEW_PER_PAGE < len(result.stories),
        more_args={k: v for k, v in req.args.items() if v is not None} | {"page": page},
    )
