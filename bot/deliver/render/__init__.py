"""Renderers: pure functions from the neutral values of bot.deliver.types (StoryPost, Digest)
to Discord and Slack JSON payloads or console text. They own escaping, truncation and
splitting; nothing here imports discord.py or slack_sdk (submodules use absolute imports, so
bot.deliver.render.discord never shadows the discord package).

Command replies have their own renderer in bot.deliver.render.reply.
"""

from __future__ import annotations

from bot.deliver.render.console import console_alert, console_digest
from bot.deliver.render.discord import discord_alert, discord_digest
from bot.deliver.render.limits import validate_discord_message, validate_slack_message
from bot.deliver.render.slack import slack_alert, slack_digest
from bot.deliver.render.text import (
    JURISDICTION_LABELS,
    TOPIC_COLOURS,
    TOPIC_LABELS,
    discord_escape,
    safe_link,
    slack_escape,
    slack_text,
    truncate,
)

__all__ = [
    "JURISDICTION_LABELS",
    "TOPIC_COLOURS",
    "TOPIC_LABELS",
    "console_alert",
    "console_digest",
    "discord_alert",
    "discord_digest",
    "discord_escape",
    "safe_link",
    "slack_alert",
    "slack_digest",
    "slack_escape",
    "slack_text",
    "truncate",
    "validate_discord_message",
    "validate_slack_message",
]
