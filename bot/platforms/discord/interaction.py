"""What every Discord callback needs from an interaction: who asks, where, with what rights;
and a short private notice in whatever state the interaction is in."""

from __future__ import annotations

from typing import Any

import discord

from bot.commands.types import Caller
from bot.log import get_logger

log = get_logger("policybot.discord")


def is_admin(interaction: discord.Interaction[Any]) -> bool:
    """Manage Server or Manage Channels (Administrator implies both)."""
    perms = interaction.permissions
    return bool(perms.administrator or perms.manage_guild or perms.manage_channels)


def caller_from(interaction: discord.Interaction[Any]) -> Caller:
    user = interaction.user
    return Caller(
        platform="discord",
        user_id=str(user.id),
        scope=str(interaction.guild_id or ""),
        channel=str(interaction.channel_id or ""),
        is_admin=is_admin(interaction),
        display_name=getattr(user, "display_name", "") or user.name,
    )


async def tell(interaction: discord.Interaction[Any], text: str) -> None:
    """A short ephemeral notice, whatever state the interaction is in."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("notice_failed", error=str(exc))
