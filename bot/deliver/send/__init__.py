"""Senders per platform. Only the modules here import discord or slack_sdk, and lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from bot.deliver.send.base import (
    DestinationInfo,
    Outcome,
    Sender,
    SendResult,
    part_nonce,
)
from bot.deliver.send.console import ConsoleSender

if TYPE_CHECKING:
    from bot.app.settings import Settings

__all__ = [
    "ConsoleSender",
    "DestinationInfo",
    "Outcome",
    "SendResult",
    "Sender",
    "build_senders",
    "part_nonce",
]


def build_senders(
    settings: Settings,
    *,
    discord_http: Any | None = None,
    slack_client: Any | None = None,
    console_stream: TextIO | None = None,
) -> dict[str, Sender]:
    """Platform -> sender for what the settings allow.

    `discord_http` (a running discord.Client's `.http`) and `slack_client` (a bolt app's
    AsyncWebClient) let delivery share the chat adapters' connections.
    """
    senders: dict[str, Sender] = {"console": ConsoleSender(console_stream)}
    from bot.deliver.send.discord import DiscordBotSender, DiscordWebhookSender
    from bot.deliver.send.slack import SlackBotSender, SlackWebhookSender

    senders["discord-webhook"] = DiscordWebhookSender()
    senders["slack-webhook"] = SlackWebhookSender()
    if discord_http is not None or settings.discord_token is not None:
        token = settings.discord_token.get_secret_value() if settings.discord_token else None
        senders["discord"] = DiscordBotSender(token, http=discord_http)
    if slack_client is not None or settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        senders["slack"] = SlackBotSender(token, client=slack_client)
    return senders
