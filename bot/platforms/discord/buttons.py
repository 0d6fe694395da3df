"""The bot's Discord buttons that outlive the process: their state is in their custom id
(bot.platforms.discord.ids), and discord.py matches a click to them by the id's pattern
(`DynamicItem`), whoever sent the message and whenever.

- `NotRelevantButton` under each alert the bot posts (bot messages only: a channel
  webhook's message cannot carry buttons);
- `PageButton`: Previous/More under paged command replies. The client registers both at
  start (`add_dynamic_items`), so a page turns after a restart as it did before.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.commands.feedback import NOT_RELEVANT_COMMAND
from bot.commands.types import Reply, Request
from bot.log import get_logger
from bot.platforms.chat import FAILED_TEXT, call_handler
from bot.platforms.discord.ids import (
    DISABLED_PREFIX,
    NOT_RELEVANT,
    PAGE,
    not_relevant_id,
    page_id,
    parse_page_id,
)
from bot.platforms.discord.interaction import caller_from, tell
from bot.platforms.discord.reply import discord_reply

log = get_logger("policybot.discord")

NOT_YOURS = "Only the person who searched can turn these pages: run `/policy search` yourself."


def _runner(interaction: discord.Interaction[Any]) -> Any:
    """The running client's command runner (handler and context)."""
    return getattr(interaction.client, "runner", None)


class NotRelevantButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=NOT_RELEVANT.pattern
):
    def __init__(self, story_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Not relevant",
                style=discord.ButtonStyle.secondary,
                custom_id=not_relevant_id(story_id),
            )
        )
        self.story_id = story_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> NotRelevantButton:
        return cls(int(match["story"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        runner = _runner(interaction)
        if runner is None:
            await tell(interaction, FAILED_TEXT)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        request = Request(NOT_RELEVANT_COMMAND, {"story": self.story_id}, caller_from(interaction))
        reply = await call_handler(runner.handler, request, runner.ctx)
        for payload in discord_reply(reply, ephemeral=True):
            await interaction.followup.send(
                content=payload.get("content") or "",
                embeds=[discord.Embed.from_dict(e) for e in payload.get("embeds", ())],
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PAGE.pattern):
    def __init__(
        self,
        owner: int,
        command: str,
        args: dict[str, Any],
        *,
        label: str = "More",
        style: discord.ButtonStyle = discord.ButtonStyle.primary,
    ) -> None:
        custom_id = page_id(owner, command, args)
        if custom_id is None:
            raise ValueError("paging state too long for a custom id")
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
        self.owner = owner
        self.command = command
        self.args = args

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PageButton:
        parsed = parse_page_id(match.string)
        if parsed is None:
            raise ValueError(f"not a paging id: {match.string!r}")
        owner, command, args = parsed
        return cls(owner, command, args, label=getattr(item, "label", None) or "More")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        runner = _runner(interaction)
        if runner is None:
            await tell(interaction, FAILED_TEXT)
            return
        if interaction.user.id != self.owner:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        await interaction.response.defer()  # "deferred update": we edit this same message
        request = Request(self.command, dict(self.args), caller_from(interaction))
        reply = await call_handler(runner.handler, request, runner.ctx)
        first = discord_reply(reply, ephemeral=True)[0]
        view = page_view(self.owner, self.command, reply)
        await interaction.edit_original_response(
            content=first.get("content") or None,
            embeds=[discord.Embed.from_dict(e) for e in first.get("embeds", ())],
            view=view,  # None (state grown too long for an id): no buttons
            allowed_mentions=discord.AllowedMentions.none(),
        )


def _disabled(label: str, style: discord.ButtonStyle) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label=label, style=style, disabled=True, custom_id=DISABLED_PREFIX + label.lower()
    )


def page_view(owner: int, command: str, reply: Reply) -> discord.ui.View | None:
    """Previous/More for a paged reply, their state in their ids; None when the state does
    not fit in a custom id (the caller then keeps an in-memory view)."""
    view = discord.ui.View(timeout=None)
    for delta, label, style in (
        (-1, "Previous", discord.ButtonStyle.secondary),
        (+1, "More", discord.ButtonStyle.primary),
    ):
        args = reply.page_args(delta)
        if args is None:
            view.add_item(_disabled(label, style))
            continue
        try:
            view.add_item(PageButton(owner, command, args, label=label, style=style))
        except ValueError:
            return None
    # Stopped: discord.py keeps no copy of it in memory, the registered DynamicItems answer.
    view.stop()
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (NotRelevantButton, PageButton)
