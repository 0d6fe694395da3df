"""The Discord side of the chat commands: one `/policy` slash-command group (discord.py).

Thin on purpose: every callback turns the interaction into a neutral Request (guild id as
scope), defers when the handler may be slow, calls bot.commands' handle(), renders the Reply
with bot.platforms.discord.reply and sends it. Nothing here decides what a command does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Literal

import discord
from discord import app_commands

from bot.commands.spec import COMMANDS
from bot.commands.types import Reply, Request
from bot.log import get_logger
from bot.platforms.chat import (
    FAILED_TEXT,
    Completer,
    Handler,
    call_handler,
    complete,
    default_completer,
    default_handler,
    next_page_args,
)
from bot.platforms.discord.buttons import DYNAMIC_ITEMS, page_view
from bot.platforms.discord.interaction import caller_from, is_admin
from bot.platforms.discord.interaction import tell as _tell
from bot.platforms.discord.reply import EPHEMERAL_FLAG, discord_reply

__all__ = ["PolicyClient", "Runner", "build_client", "caller_from", "is_admin", "run_discord"]

log = get_logger("policybot.discord")

# Paging state too long for a button's custom id falls back to a view kept in memory, whose
# edits go through the interaction token: it dies after 15 min, and with the process.
PAGE_VIEW_TIMEOUT = 14 * 60.0
ADMIN_TEXT = (
    "Changing subscriptions and feeds needs the Manage Server or Manage Channels permission."
)


def _desc(command: str, option: str | None = None) -> str:
    spec = COMMANDS[command]
    if option is None:
        return spec.description
    opt = spec.option(option)
    assert opt is not None, f"{command}.{option} is not in the spec"
    return opt.description


async def _admin_check(interaction: discord.Interaction[Any]) -> bool:
    if not is_admin(interaction):
        raise app_commands.CheckFailure(ADMIN_TEXT)
    return True


def _message_kwargs(payload: dict[str, Any]) -> dict[str, Any]:
    """A rendered message (API JSON) as discord.py send() arguments."""
    return {
        "content": payload.get("content") or None,
        "embeds": [discord.Embed.from_dict(e) for e in payload.get("embeds", ())],
        "ephemeral": bool(payload.get("flags", 0) & EPHEMERAL_FLAG),
    }


class Runner:
    """Runs one command for one interaction: the part every callback shares."""

    def __init__(self, ctx: Any, handler: Handler, completer: Completer) -> None:
        self.ctx = ctx
        self.handler = handler
        self.completer = completer

    async def run(
        self,
        interaction: discord.Interaction[Any],
        command: str,
        args: dict[str, Any],
        *,
        share: bool = False,
        channel: str | None = None,
    ) -> None:
        args = {k: v for k, v in args.items() if v is not None}
        spec = COMMANDS.get(command)  # None: a button's command (slow, private)
        public = share or (spec is not None and spec.public)
        deferred: bool | None = None  # None: not deferred; else whether it was public
        if (spec is None or spec.slow) and not interaction.response.is_done():
            # The first answer must come within 3 s; the handler may take longer.
            await interaction.response.defer(ephemeral=not public, thinking=True)
            deferred = public
        caller = caller_from(interaction)
        if channel is not None:  # a forum post's command subscribes its forum channel
            caller = dataclasses.replace(caller, channel=channel)
        request = Request(command, args, caller)
        reply = await call_handler(self.handler, request, self.ctx)
        await self.send(interaction, reply, command=command, deferred=deferred)

    async def send(
        self,
        interaction: discord.Interaction[Any],
        reply: Reply,
        *,
        command: str,
        deferred: bool | None = None,
    ) -> None:
        """Send the rendered reply: the interaction response, or follow-ups after a defer."""
        ephemeral = reply.ephemeral or reply.error
        if deferred is False:
            ephemeral = True  # the caller was promised privacy: keep it
        elif deferred is True and ephemeral:
            # "Thinking..." is public but this answer (an error, say) is not: remove it first.
            try:
                await interaction.delete_original_response()
            except discord.HTTPException as exc:
                log.warning("delete_deferred_failed", error=str(exc))
        messages = discord_reply(reply, ephemeral=ephemeral)
        paged = reply.has_more or reply.page > 1
        for i, payload in enumerate(messages):
            kwargs = _message_kwargs(payload)
            if paged and i == len(messages) - 1:
                # Buttons carrying their state in their ids work after a restart; the
                # in-memory view only holds state too long for an id.
                kwargs["view"] = page_view(interaction.user.id, command, reply) or PageView(
                    self,
                    interaction.user.id,
                    command,
                    reply,
                    # Only the first message can be edited through the interaction token.
                    origin=interaction if len(messages) == 1 else None,
                )
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    allowed_mentions=discord.AllowedMentions.none(), **kwargs
                )
            else:
                await interaction.followup.send(
                    allowed_mentions=discord.AllowedMentions.none(), wait=True, **kwargs
                )

    async def choices(self, field: str, current: str) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=name[:100], value=value[:100])
            for name, value in await complete(self.completer, field, current)
            if name and value
        ][:25]

    async def list_choices(self, field: str, current: str) -> list[app_commands.Choice[str]]:
        """Comma lists ("CN, EU, ja"): complete the last item, keep the ones before it."""
        head, _, last = current.rpartition(",")
        done = [p.strip() for p in head.split(",") if p.strip()]
        prefix = ",".join(done)
        out: list[app_commands.Choice[str]] = []
        for c in await self.choices(field, last.strip()):
            value = f"{prefix},{c.value}" if prefix else c.value
            name = f"{', '.join(done)}, {c.name}" if done else c.name
            if len(value) <= 100:
                out.append(app_commands.Choice(name=name[-100:], value=value))
        return out


class PageView(discord.ui.View):
    """Previous/More under a page of search results whose state does not fit in a custom
    id (see buttons.page_view): kept in memory, the buttons re-run the search."""

    def __init__(
        self,
        runner: Runner,
        owner_id: int,
        command: str,
        reply: Reply,
        origin: discord.Interaction[Any] | None = None,
    ) -> None:
        super().__init__(timeout=PAGE_VIEW_TIMEOUT)
        self.origin = origin  # whose token can still edit the message when we time out
        self.runner = runner
        self.owner_id = owner_id
        self.command = command
        self.reply = reply
        self.previous.disabled = reply.page_args(-1) is None
        self.more.disabled = reply.page_args(+1) is None

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the person who searched can turn these pages: run `/policy search` yourself.",
            ephemeral=True,
        )
        return False

    async def _turn(self, interaction: discord.Interaction[Any], delta: int) -> None:
        await interaction.response.defer()  # "deferred update": we edit this same message
        args = next_page_args(self.reply, delta)
        if args is None:  # a stale button: there is no such page (any more)
            return
        request = Request(self.command, args, caller_from(interaction))
        reply = await call_handler(self.runner.handler, request, self.runner.ctx)
        first = discord_reply(reply, ephemeral=True)[0]
        view = page_view(self.owner_id, self.command, reply) or PageView(
            self.runner, self.owner_id, self.command, reply, origin=interaction
        )
        self.stop()
        await interaction.edit_original_response(
            content=first.get("content") or None,
            embeds=[discord.Embed.from_dict(e) for e in first.get("embeds", ())],
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="prev")
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[PageView]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="More", style=discord.ButtonStyle.primary, custom_id="more")
    async def more(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[PageView]
    ) -> None:
        await self._turn(interaction, +1)

    async def on_timeout(self) -> None:
        # Dead buttons would only answer "This interaction failed": take them away.
        if self.origin is not None:
            try:
                await self.origin.edit_original_response(view=None)
            except discord.HTTPException as exc:
                log.info("page_buttons_not_removed", error=str(exc))

    async def on_error(
        self,
        interaction: discord.Interaction[Any],
        error: Exception,
        item: discord.ui.Item[Any],
    ) -> None:
        log.error("page_button_failed", error=repr(error))
        await _tell(interaction, FAILED_TEXT)


# Choices Discord shows as a menu (mirrors spec.MODES / spec.DAYS).
Mode = Literal["instant", "daily", "weekly"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PostAsChoice = Literal["message", "thread", "forum"]


def subscribe_target(interaction: discord.Interaction[Any], post_as: str | None) -> tuple[str, str]:
    """The channel a subscribe command stores, and its kind ("forum", "thread", "text").

    No command can be typed in a forum channel itself, only in its posts: `post_as:forum`
    typed in a forum post subscribes the forum channel that holds it.
    """
    channel = interaction.channel
    here = str(interaction.channel_id or "")
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        parent_id = str(channel.parent_id or "")
        in_forum = isinstance(parent, discord.ForumChannel) or (
            parent is None and channel.type is discord.ChannelType.public_thread
        )
        if post_as == "forum" and in_forum and parent_id:
            return parent_id, "forum"
        return here, "thread"
    if isinstance(channel, discord.ForumChannel):
        return here, "forum"
    return here, "text"


@app_commands.guild_only()
class PolicyGroup(
    app_commands.Group,
    name="policy",
    description="AI-governance news: search, subscribe, digests",
):
    """/policy ... (a class so the callbacks share the runner)."""

    def __init__(self, runner: Runner) -> None:
        super().__init__()
        self.runner = runner

    # -- search -------------------------------------------------------------------------------

    @app_commands.command(name="search", description=_desc("search"))
    @app_commands.describe(
        query=_desc("search", "query"),
        jurisdiction=_desc("search", "jurisdiction"),
        topic=_desc("search", "topic"),
        since=_desc("search", "since"),
        source=_desc("search", "source"),
        lang=_desc("search", "lang"),
        share=_desc("search", "share"),
    )
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, None, 200] | None = None,
        jurisdiction: app_commands.Range[str, None, 60] | None = None,
        topic: app_commands.Range[str, None, 60] | None = None,
        since: app_commands.Range[str, None, 30] | None = None,
        source: app_commands.Range[str, None, 100] | None = None,
        lang: app_commands.Range[str, None, 20] | None = None,
        share: bool = False,
    ) -> None:
        args = {
            "query": query,
            "jurisdiction": jurisdiction,
            "topic": topic,
            "since": since,
            "source": source,
            "lang": lang,
            "share": share,
        }
        await self.runner.run(interaction, "search", args, share=share)

    @search.autocomplete("jurisdiction")
    async def _search_jurisdiction(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.choices("jurisdiction", current)

    @search.autocomplete("topic")
    async def _search_topic(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.choices("topic", current)

    # -- subscriptions ------------------------------------------------------------------------

    @app_commands.command(name="subscribe", description=_desc("subscribe"))
    @app_commands.describe(
        jurisdictions=_desc("subscribe", "jurisdictions"),
        topics=_desc("subscribe", "topics"),
        instruments=_desc("subscribe", "instruments"),
        keywords=_desc("subscribe", "keywords"),
        mode=_desc("subscribe", "mode"),
        at=_desc("subscribe", "at"),
        day=_desc("subscribe", "day"),
        timezone=_desc("subscribe", "timezone"),
        languages=_desc("subscribe", "languages"),
        min_score=_desc("subscribe", "min_score"),
        name=_desc("subscribe", "name"),
        feeds=_desc("subscribe", "feeds"),
        exclude=_desc("subscribe", "exclude"),
        exclude_jurisdictions=_desc("subscribe", "exclude_jurisdictions"),
        exclude_topics=_desc("subscribe", "exclude_topics"),
        mention=_desc("subscribe", "mention"),
        mention_min_score=_desc("subscribe", "mention_min_score"),
        mention_instruments=_desc("subscribe", "mention_instruments"),
        post_as=_desc("subscribe", "post_as"),
        digest_thread=_desc("subscribe", "digest_thread"),
    )
    @app_commands.check(_admin_check)
    async def subscribe(
        self,
        interaction: discord.Interaction[Any],
        jurisdictions: app_commands.Range[str, None, 200] | None = None,
        topics: app_commands.Range[str, None, 300] | None = None,
        instruments: app_commands.Range[str, None, 300] | None = None,
        keywords: app_commands.Range[str, None, 300] | None = None,
        mode: Mode = "instant",
        at: app_commands.Range[str, None, 5] | None = None,
        day: Day | None = None,
        timezone: app_commands.Range[str, None, 64] | None = None,
        languages: app_commands.Range[str, None, 100] | None = None,
        min_score: app_commands.Range[float, 0.0, 1.0] | None = None,
        name: app_commands.Range[str, None, 100] | None = None,
        feeds: str | None = None,
        exclude: str | None = None,
        exclude_jurisdictions: str | None = None,
        exclude_topics: str | None = None,
        mention: app_commands.Range[str, None, 100] | None = None,
        mention_min_score: app_commands.Range[float, 0.0, 1.0] | None = None,
        mention_instruments: app_commands.Range[str, None, 300] | None = None,
        post_as: PostAsChoice | None = None,
        digest_thread: bool | None = None,
    ) -> None:
        target, kind = subscribe_target(interaction, post_as)
        args = {
            "jurisdictions": split_list(jurisdictions),
            "topics": split_list(topics),
            "instruments": split_list(instruments),
            "keywords": split_list(keywords),
            "mode": mode,
            "at": at,
            "day": day,
            "timezone": timezone,
            "languages": split_list(languages),
            "min_score": min_score,
            "name": name,
            "feeds": split_list(feeds),
            "exclude": split_list(exclude),
            "exclude_jurisdictions": split_list(exclude_jurisdictions),
            "exclude_topics": split_list(exclude_topics),
            "mention": mention,
            "mention_min_score": mention_min_score,
            "mention_instruments": split_list(mention_instruments),
            "post_as": post_as,
            "digest_thread": digest_thread,
            # What the channel can hold, when the option asks for something (checked there).
            "channel_kind": kind if post_as else None,
        }
        await self.runner.run(interaction, "subscribe", args, channel=target)

    @subscribe.autocomplete("exclude_jurisdictions")
    async def _sub_exclude_jurisdictions(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.list_choices("jurisdiction", current)

    @subscribe.autocomplete("exclude_topics")
    async def _sub_exclude_topics(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.list_choices("topic", current)

    @subscribe.autocomplete("jurisdictions")
    async def _sub_jurisdictions(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.list_choices("jurisdiction", current)

    @subscribe.autocomplete("instruments")
    async def _sub_instruments(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.list_choices("instrument", current)

    @subscribe.autocomplete("timezone")
    async def _sub_timezone(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @subscribe.autocomplete("topics")
    async def _sub_topics(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.list_choices("topic", current)

    @app_commands.command(name="unsubscribe", description=_desc("unsubscribe"))
    @app_commands.describe(id=_desc("unsubscribe", "id"))
    @app_commands.check(_admin_check)
    async def unsubscribe(
        self, interaction: discord.Interaction[Any], id: app_commands.Range[str, 1, 20]
    ) -> None:
        await self.runner.run(interaction, "unsubscribe", {"id": id})

    @app_commands.command(name="subscriptions", description=_desc("subscriptions"))
    @app_commands.describe(all_channels=_desc("subscriptions", "all_channels"))
    async def subscriptions(
        self, interaction: discord.Interaction[Any], all_channels: bool = False
    ) -> None:
        await self.runner.run(interaction, "subscriptions", {"all_channels": all_channels})

    @app_commands.command(name="mute", description=_desc("mute"))
    @app_commands.describe(
        duration=_desc("mute", "duration"), subscription=_desc("mute", "subscription")
    )
    @app_commands.check(_admin_check)
    async def mute(
        self,
        interaction: discord.Interaction[Any],
        duration: app_commands.Range[str, 1, 10],
        subscription: app_commands.Range[int, 1] | None = None,
    ) -> None:
        args = {"duration": duration, "subscription": subscription}
        await self.runner.run(interaction, "mute", args)

    @app_commands.command(name="unmute", description=_desc("unmute"))
    @app_commands.describe(subscription=_desc("unmute", "subscription"))
    @app_commands.check(_admin_check)
    async def unmute(
        self,
        interaction: discord.Interaction[Any],
        subscription: app_commands.Range[int, 1] | None = None,
    ) -> None:
        await self.runner.run(interaction, "unmute", {"subscription": subscription})

    # -- reading ------------------------------------------------------------------------------

    @app_commands.command(name="preview", description=_desc("preview"))
    @app_commands.describe(filters=_desc("preview", "filters"), days=_desc("preview", "days"))
    async def preview(
        self,
        interaction: discord.Interaction[Any],
        filters: str | None = None,
        days: app_commands.Range[int, 1, 30] | None = None,
    ) -> None:
        await self.runner.run(interaction, "preview", {"filters": filters, "days": days})

    @app_commands.command(name="digest", description=_desc("digest"))
    @app_commands.describe(hours=_desc("digest", "hours"))
    async def digest(
        self,
        interaction: discord.Interaction[Any],
        hours: app_commands.Range[int, 1, 720] | None = None,
    ) -> None:
        await self.runner.run(interaction, "digest", {"hours": hours})

    @app_commands.command(name="why", description=_desc("why"))
    @app_commands.describe(item=_desc("why", "item"))
    async def why(
        self, interaction: discord.Interaction[Any], item: app_commands.Range[str, 1, 300]
    ) -> None:
        await self.runner.run(interaction, "why", {"item": item})

    @app_commands.command(name="missed", description=_desc("missed"))
    @app_commands.describe(item=_desc("missed", "item"))
    async def missed(
        self, interaction: discord.Interaction[Any], item: app_commands.Range[str, 1, 2000]
    ) -> None:
        await self.runner.run(interaction, "missed", {"item": item})

    @app_commands.command(name="help", description=_desc("help"))
    @app_commands.describe(command=_desc("help", "command"))
    @app_commands.choices(
        command=[app_commands.Choice(name=c, value=c) for c in COMMANDS if c != "help"]
    )
    async def help(self, interaction: discord.Interaction[Any], command: str | None = None) -> None:
        await self.runner.run(interaction, "help", {"command": command})

    # -- feeds: a sub-group, so each action has exactly the options it needs ------------------

    feeds = app_commands.Group(name="feeds", description=_desc("feeds"))

    @feeds.command(name="list", description="The feeds this bot follows")
    async def feeds_list(self, interaction: discord.Interaction[Any]) -> None:
        await self.runner.run(interaction, "feeds", {"action": "list"})

    @feeds.command(name="status", description="Each feed's health")
    async def feeds_status(self, interaction: discord.Interaction[Any]) -> None:
        await self.runner.run(interaction, "feeds", {"action": "status"})

    @feeds.command(name="add", description="Follow a new RSS/Atom feed")
    @app_commands.describe(
        url=_desc("feeds", "url"),
        name=_desc("feeds", "name"),
        jurisdictions=_desc("feeds", "jurisdictions"),
    )
    @app_commands.check(_admin_check)
    async def feeds_add(
        self,
        interaction: discord.Interaction[Any],
        url: app_commands.Range[str, 8, 2000],
        name: app_commands.Range[str, 1, 100] | None = None,
        jurisdictions: app_commands.Range[str, None, 200] | None = None,
    ) -> None:
        args = {
            "action": "add",
            "url": url,
            "name": name,
            "jurisdictions": split_list(jurisdictions),
        }
        await self.runner.run(interaction, "feeds", args)

    @feeds_add.autocomplete("jurisdictions")
    async def _feed_jurisdictions(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.runner.list_choices("jurisdiction", current)

    @feeds.command(name="remove", description="Stop following a feed added from chat")
    @app_commands.describe(name=_desc("feeds", "name"))
    @app_commands.check(_admin_check)
    async def feeds_remove(
        self, interaction: discord.Interaction[Any], name: app_commands.Range[str, 1, 100]
    ) -> None:
        await self.runner.run(interaction, "feeds", {"action": "remove", "name": name})


def timezone_choices(current: str) -> list[app_commands.Choice[str]]:
    """IANA zones containing what was typed ("berl" -> Europe/Berlin), at most 25."""
    from bot.core.vocab import time_zones  # cached; shared with the subscribe handler

    q = current.strip().casefold().replace(" ", "_")
    hits = (
        [z for z in time_zones() if q in z.casefold()]
        if q
        else [
            "UTC",
            "Europe/London",
            "Europe/Berlin",
            "Europe/Brussels",
            "America/New_York",
            "America/Los_Angeles",
            "Asia/Shanghai",
            "Asia/Tokyo",
            "Asia/Singapore",
            "Australia/Sydney",
        ]
    )
    hits.sort(key=lambda z: (not z.casefold().startswith(q), len(z)))
    return [app_commands.Choice(name=z, value=z) for z in hits[:25]]


def split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [p.strip() for p in value.split(",") if p.strip()]


def bot_intents() -> discord.Intents:
    """Slash commands arrive without any intent; Guilds (not privileged) keeps discord.py's
    view of the servers it is in, and without it discord.py warns at every connect that
    "Guilds intent seems to be disabled"."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class PolicyClient(discord.Client):
    """A Client that needs no privileged intents: slash commands arrive without any."""

    def __init__(self, runner: Runner, *, sync_commands: bool = True, **options: Any) -> None:
        # The bot never joins voice: no warnings at each start about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        options.setdefault("intents", bot_intents())
        super().__init__(allowed_mentions=discord.AllowedMentions.none(), **options)
        self.runner = runner
        self.sync_commands = sync_commands
        self.tree: app_commands.CommandTree[PolicyClient] = app_commands.CommandTree(self)
        self.tree.add_command(PolicyGroup(runner))
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        # Buttons whose state is their custom id: they answer whenever they were sent.
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        if self.sync_commands:
            # One bulk PUT per start: cheap, and it keeps Discord's copy equal to this code.
            synced = await self.tree.sync()
            log.info("discord_commands_synced", count=len(synced))

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.NoPrivateMessage):
            await _tell(interaction, "These commands work in a server channel, not in DMs.")
        elif isinstance(error, app_commands.CheckFailure):
            await _tell(interaction, str(error) or ADMIN_TEXT)
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            original = getattr(error, "original", error)
            log.error(
                "discord_command_failed",
                command=command,
                error=repr(original),
                exc_info=(type(original), original, original.__traceback__),
            )
            await _tell(interaction, FAILED_TEXT)


def build_client(
    ctx: Any,
    settings: Any = None,
    *,
    handler: Handler | None = None,
    completer: Completer | None = None,
    sync_commands: bool = True,
    **client_options: Any,
) -> PolicyClient:
    """The Discord client with the /policy commands. `ctx` goes to every handler call;
    `client_options` go to discord.Client (e.g. guild_ready_timeout)."""
    runner = Runner(ctx, handler or default_handler(), completer or default_completer(ctx))
    return PolicyClient(runner, sync_commands=sync_commands, **client_options)


async def run_discord(
    ctx: Any,
    settings: Any,
    *,
    handler: Handler | None = None,
    completer: Completer | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Connect with settings.discord_token and serve commands until `stop` is set (or the task
    is cancelled); the gateway connection reconnects by itself."""
    token = settings.discord_token.get_secret_value() if settings.discord_token else None
    if not token:
        raise ValueError("DISCORD_TOKEN is not set: the Discord commands need the bot token")
    client = build_client(ctx, settings, handler=handler, completer=completer)
    async with client:
        runner = asyncio.create_task(client.start(token), name="discord")
        try:
            if stop is None:
                await runner
            else:
                waiter = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({runner, waiter}, return_when="FIRST_COMPLETED")
                waiter.cancel()
                if runner in done:
                    runner.result()  # re-raise a login/connection failure
        finally:
            if not client.is_closed():
                await client.close()
            if not runner.done():
                runner.cancel()
