"""`mute`, `unmute`: hold back a channel's posts (or one subscription's) for a while."""

from __future__ import annotations

from bot.commands.args import destination_key, int_arg, require_admin, str_arg
from bot.commands.context import CommandContext
from bot.commands.types import Reply, Request
from bot.errors import InputError

WHAT_HAPPENS = (
    "Stories that arrive meanwhile are held back: when the mute ends, daily and weekly"
    " subscriptions post them in their next digest, instant ones as one catch-up digest."
)


def _target(req: Request) -> int | None:
    if req.args.get("subscription") in (None, ""):
        return None
    return int_arg(req.args, "subscription", 0, 1, 2**63 - 1)


async def cmd_mute(req: Request, ctx: CommandContext) -> Reply:
    require_admin(req.caller, "mute this channel")
    platform, scope, channel = destination_key(req)
    duration = str_arg(req.args, "duration", 20)
    if duration is None:
        raise InputError("say for how long: `/policy mute 7d` (30m, 12h, 7d, 2w; at most 90d)")
    target = _target(req)
    mute = await ctx.call(ctx.bot.mute, platform, scope, channel, duration, subscription=target)
    what = "This channel" if target is None else f"Subscription {target}"
    return Reply(
        title="Muted",
        text=f"{what} is muted until {mute.until:%Y-%m-%d %H:%M} UTC. {WHAT_HAPPENS}"
        f" `/policy unmute{'' if target is None else f' {target}'}` ends it sooner.",
        ephemeral=False,
    )


async def cmd_unmute(req: Request, ctx: CommandContext) -> Reply:
    require_admin(req.caller, "unmute this channel")
    platform, scope, channel = destination_key(req)
    target = _target(req)
    held = await ctx.call(ctx.bot.unmute, platform, scope, channel, subscription=target)
    what = "This channel" if target is None else f"Subscription {target}"
    tail = (
        f" {held} held-back stor{'y is' if held == 1 else 'ies are'} posted as one digest."
        if held
        else " Nothing was held back for instant alerts; digests carry on as scheduled."
    )
    return Reply(title="Unmuted", text=f"{what} is no longer muted.{tail}", ephemeral=False)
