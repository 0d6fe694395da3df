"""`feeds`: list feeds and their health; admins add or remove feeds at run time."""

from __future__ import annotations

from bot.commands.args import list_arg, require_admin, str_arg, who
from bot.commands.context import CommandContext
from bot.commands.types import Reply, Request, Table
from bot.core import validate
from bot.core.feedstate import health, safe_url
from bot.errors import FeedError, InputError
from bot.types import Origin

ACTIONS = ("list", "add", "remove")


async def cmd_feeds(req: Request, ctx: CommandContext) -> Reply:
    action = (str_arg(req.args, "action", 20) or "list").lower()
    if action in ("list", "status"):
        return await _feeds_list(ctx)
    if action == "add":
        return await _feeds_add(req, ctx)
    if action == "remove":
        return await _feeds_remove(req, ctx)
    raise InputError(
        f"unknown feeds action {validate.show(action)!r}: list, add or remove",
        validate.suggest(action, ACTIONS),
    )


async def _feeds_list(ctx: CommandContext) -> Reply:
    now = ctx.now()
    feeds = await ctx.call(ctx.bot.feeds)
    if not feeds:
        return Reply(title="Feeds", text="No feeds yet.")
    warned = await ctx.call(ctx.bot.feed_warnings)
    rows = []
    for f in feeds:
        last = f.last_success_at
        ago = "never" if last is None else f"{int((now - last).total_seconds() // 60)} min ago"
        state = health(f)
        if f.name in warned:  # the same state the channels were told about
            state += f" · warned {warned[f.name].strftime('%Y-%m-%d %H:%M')} UTC"
        rows.append((f.name, state, ago, str(f.entry_count), f.origin, safe_url(f.url)))
    active = sum(1 for r in rows if r[1] in ("ok", "not polled yet"))
    note = f" {len(warned)} with a warning posted in the channels." if warned else ""
    return Reply(
        title="Feeds",
        text=f"{len(rows)} feed{'s' if len(rows) != 1 else ''}, {active} healthy.{note}",
        table=Table(("name", "status", "last success", "entries", "origin", "url"), tuple(rows)),
    )


async def _feeds_add(req: Request, ctx: CommandContext) -> Reply:
    require_admin(req.caller, "add feeds")
    url = str_arg(req.args, "url", 2000)
    if not url:
        raise InputError(
            "give the feed's address: `/policy feeds add https://example.org/feed.xml`"
        )
    name = str_arg(req.args, "name", 120)
    jurisdictions = [validate.jurisdiction(j) for j in list_arg(req.args, "jurisdictions")]
    origin = Origin.CLI if req.caller.platform == "cli" else Origin.CHAT
    try:
        added = await ctx.bot.add_feed(
            url, name=name, jurisdictions=jurisdictions, added_by=who(req.caller), origin=origin
        )
    except FeedError as exc:
        return Reply(title="Feed not added", text=str(exc), error=True)
    verb = "re-added" if added.revived else "added"
    return Reply(
        title="Feed added",
        text=f"Feed {added.name!r} {verb}: {added.entries} entries now; it will be polled"
        " shortly. Its older entries are stored for search, not posted.",
    )


async def _feeds_remove(req: Request, ctx: CommandContext) -> Reply:
    require_admin(req.caller, "remove feeds")
    # "feeds remove NAME" arrives with NAME in the positional `url` slot from text commands.
    name = str_arg(req.args, "name", 200) or str_arg(req.args, "url", 200)
    if not name:
        raise InputError("say which feed: `/policy feeds remove NAME` (see `/policy feeds`)")
    removed = await ctx.call(ctx.bot.remove_feed, name, removed_by=who(req.caller))
    return Reply(
        title="Feed removed",
        text=f"Feed {removed!r} will no longer be polled; its stories stay searchable.",
    )
