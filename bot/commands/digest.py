"""`digest`: the last N hours of this channel's stories, posted now."""

from __future__ import annotations

from bot.commands.args import destination_key, int_arg
from bot.commands.context import CommandContext
from bot.commands.types import Reply, Request

DIGEST_DEFAULT_HOURS = 24
DIGEST_MAX_HOURS = 720


async def cmd_digest(req: Request, ctx: CommandContext) -> Reply:
    hours = int_arg(req.args, "hours", DIGEST_DEFAULT_HOURS, 1, DIGEST_MAX_HOURS)
    platform, scope, channel = destination_key(req)
    preview = await ctx.call(ctx.bot.digest_preview, platform, scope, channel, hours)
    scope_text = "this channel's subscriptions" if preview.filtered else "all flagged stories"
    digest = preview.digest
    if digest is None:
        return Reply(title="Digest", text=f"Nothing in the last {hours} h matching {scope_text}.")
    total, shown = preview.total, len(digest.stories)
    text = f"{total} stor{'y' if total == 1 else 'ies'} in the last {hours} h ({scope_text})."
    if total > shown:
        text += f" The newest {shown} are shown; narrow it with fewer hours."
    return Reply(
        title=digest.title, text=text, stories=digest.stories, digest=digest, ephemeral=False
    )
