"""`subscribe`, `unsubscribe`, `subscriptions`: what a channel receives."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime

from bot.commands.args import (
    bool_arg,
    destination_key,
    float_arg,
    list_arg,
    require_admin,
    str_arg,
    who,
)
from bot.commands.context import CommandContext
from bot.commands.types import Reply, Request, Table
from bot.core import validate
from bot.core.vocab import instrument_vocabulary
from bot.errors import InputError
from bot.types import DestinationOptions, Origin, SubscriptionInfo, SubscriptionOptions

SUB_COLUMNS = (
    "id",
    "jurisdictions",
    "topics",
    "instruments/keywords",
    "feeds",
    "excluded",
    "min score",
    "when",
    "origin",
    "posts",
)


def describe(sub: SubscriptionInfo, now: datetime | None = None) -> tuple[str, ...]:
    """A subscription as a table row (SUB_COLUMNS); `now` shows a running mute."""

    def j(v: tuple[str, ...]) -> str:
        return ", ".join(v) or "any"

    excluded = ", ".join(
        (
            *sub.exclude_jurisdictions,
            *sub.exclude_topics,
            *(f'"{w}"' for w in sub.exclude),
            *(f"feed {f}" for f in sub.exclude_feeds),
        )
    )
    when = sub.schedule()
    if now is not None and sub.muted_until is not None and sub.muted_until > now:
        when += f" (muted until {sub.muted_until:%Y-%m-%d %H:%M} UTC)"
    return (
        str(sub.id),
        j(sub.jurisdictions),
        j(sub.topics),
        j(sub.instruments + sub.keywords),
        ", ".join(sub.feeds),  # empty: flagged stories of every feed
        excluded,
        f"{sub.min_score:g}" if sub.min_score else "",  # empty: not shown
        when,
        sub.origin,
        posting(sub),
    )


def posting(sub: SubscriptionInfo) -> str:
    """How a subscription posts: "thread, pings 123 (score >= 0.7)"; "" for plain messages."""
    bits = []
    if sub.post_as != "message":
        bits.append(sub.post_as)
    if sub.digest_thread:
        bits.append("digest in a thread")
    if sub.mention:
        when = []
        if sub.mention_min_score:
            when.append(f"score >= {sub.mention_min_score:g}")
        if sub.mention_instruments:
            when.append(", ".join(sub.mention_instruments))
        bits.append(f"pings {sub.mention}" + (f" ({'; '.join(when)})" if when else ""))
    return ", ".join(bits)


def _uniq(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _feed_specs(values: list[str]) -> tuple[str, ...]:
    out = []
    for v in values:
        if v.casefold().startswith("tag:") and not v[4:].strip():
            raise InputError("`feeds`: tag: needs a tag name, e.g. feeds:tag:privacy")
        out.append(v)
    return _uniq(out)


def subscription_options(req: Request, dest: DestinationOptions) -> SubscriptionOptions:
    """The request's filters and schedule, validated (instruments still as typed)."""
    a = req.args
    return SubscriptionOptions(
        destination=dest,
        name=str_arg(a, "name", 200),
        jurisdictions=_uniq([validate.jurisdiction(j) for j in list_arg(a, "jurisdictions")]),
        topics=_uniq([validate.topic(t) for t in list_arg(a, "topics")]),
        instruments=tuple(list_arg(a, "instruments", commas_only=True)),
        keywords=tuple(list_arg(a, "keywords", commas_only=True)),
        languages=_uniq([validate.language(x) for x in list_arg(a, "languages")]),
        min_score=float_arg(a, "min_score", 0.0, 0.0, 1.0),
        mode=validate.mode(str_arg(a, "mode", 20) or "instant"),
        at=validate.hhmm(str_arg(a, "at", 10) or "09:00"),
        day=validate.day(str_arg(a, "day", 12) or "mon"),
        timezone=validate.timezone(str_arg(a, "timezone", 64) or "UTC"),
        feeds=_feed_specs(list_arg(a, "feeds", commas_only=True)),
        exclude=tuple(list_arg(a, "exclude", commas_only=True)),
        exclude_jurisdictions=_uniq(
            [validate.jurisdiction(j) for j in list_arg(a, "exclude_jurisdictions")]
        ),
        exclude_topics=_uniq([validate.topic(t) for t in list_arg(a, "exclude_topics")]),
        exclude_feeds=_feed_specs(list_arg(a, "exclude_feeds", commas_only=True)),
        mention=str_arg(a, "mention", 100),
        mention_min_score=float_arg(a, "mention_min_score", 0.0, 0.0, 1.0),
        mention_instruments=tuple(list_arg(a, "mention_instruments", commas_only=True)),
        post_as=str_arg(a, "post_as", 20) or "message",
        digest_thread=bool_arg(a, "digest_thread"),
    )


async def canonical_instruments(
    options: SubscriptionOptions, ctx: CommandContext
) -> SubscriptionOptions:
    """Instruments by canonical name, as verdicts hold them (the matcher compares the two)."""
    if not options.instruments:
        return options
    vocab = await asyncio.to_thread(instrument_vocabulary, ctx.bot.classifier)
    canonical = _uniq([validate.instrument(x, vocab) for x in options.instruments])
    return dataclasses.replace(options, instruments=canonical)


async def cmd_subscribe(req: Request, ctx: CommandContext) -> Reply:
    require_admin(req.caller, "change this channel's subscriptions")
    platform, scope, channel = destination_key(req)
    options = subscription_options(req, DestinationOptions(platform, scope, channel))
    check_channel_kind(options.post_as, str_arg(req.args, "channel_kind", 20))
    options = await canonical_instruments(options, ctx)
    if options.mention_instruments:
        vocab = await asyncio.to_thread(instrument_vocabulary, ctx.bot.classifier)
        canonical = _uniq([validate.instrument(x, vocab) for x in options.mention_instruments])
        options = dataclasses.replace(options, mention_instruments=canonical)
    origin = Origin.CLI if req.caller.platform == "cli" else Origin.CHAT
    sub = await ctx.call(ctx.bot.subscribe, options, origin=origin, created_by=who(req.caller))
    where = "this channel" if req.caller.platform != "cli" else _dest_label(platform, channel)
    return Reply(
        title="Subscribed",
        text=f"Subscription {sub.id} added for {where}.",
        table=Table(SUB_COLUMNS, (describe(sub),)),
    )


def check_channel_kind(post_as: str, kind: str | None) -> None:
    """Refuse what the channel the command was typed in cannot hold (`kind`, from the chat
    adapter: "forum", "thread", "text"; None when unknown, as from the CLI)."""
    if kind is None:
        return
    if post_as == "forum" and kind != "forum":
        raise InputError(
            "post_as forum needs a forum channel: type the command in a post of the forum"
            " channel (it then subscribes that forum), or use post_as thread here"
        )
    if post_as == "thread" and kind == "thread":
        raise InputError(
            "this is a thread, and a thread cannot hold threads: subscribe the channel itself"
            " with post_as thread, or use post_as message here"
        )
    if post_as != "forum" and kind == "forum":
        raise InputError("a forum channel takes only forum posts: add post_as forum")


def _dest_label(platform: str, channel: str) -> str:
    return platform if platform == "console" else f"{platform} channel {channel}"


async def cmd_unsubscribe(req: Request, ctx: CommandContext) -> Reply:
    require_admin(req.caller, "change this channel's subscriptions")
    platform, scope, channel = destination_key(req)
    target = str_arg(req.args, "id", 40)
    if target is None:
        raise InputError(
            "say which subscription: `/policy unsubscribe 3` (see"
            " `/policy subscriptions`) or `/policy unsubscribe all`"
        )
    if target.lower() == "all":
        n = await ctx.call(ctx.bot.unsubscribe, platform, scope, channel, None)
        return Reply(title="Unsubscribed", text=f"Removed {n} subscription(s) of this channel.")
    try:
        sid = int(target.lstrip("#"))
    except ValueError:
        raise InputError(
            f"{validate.show(target)!r} is not a subscription id: use the number shown by"
            " `/policy subscriptions`, or `all`"
        ) from None
    if not 0 < sid < 2**63:
        raise InputError(f"no such subscription: {sid}")
    await ctx.call(ctx.bot.unsubscribe, platform, scope, channel, sid)
    return Reply(title="Unsubscribed", text=f"Subscription {sid} removed.")


async def cmd_subscriptions(req: Request, ctx: CommandContext) -> Reply:
    platform, scope, channel = destination_key(req)
    every_channel = bool_arg(req.args, "all_channels")
    subs = await ctx.call(
        ctx.bot.subscriptions, platform, scope, None if every_channel else channel
    )
    if not subs:
        return Reply(
            title="Subscriptions",
            text="This channel has no subscriptions. Add one with e.g."
            " `/policy subscribe jurisdictions:EU topics:legislation mode:daily at:09:00`.",
        )
    now = ctx.bot.now()
    text = f"{len(subs)} subscription(s)."
    mutes = await ctx.call(ctx.bot.mutes, platform, scope, channel)
    channel_mute = next((m for m in mutes if m.subscription_id is None), None)
    if channel_mute is not None:
        text += (
            f" This channel is muted until {channel_mute.until:%Y-%m-%d %H:%M} UTC"
            " (`/policy unmute` ends it)."
        )
    return Reply(
        title="Subscriptions",
        text=text,
        table=Table(SUB_COLUMNS, tuple(describe(s, now) for s in subs)),
    )
