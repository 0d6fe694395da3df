"""The platform packages (discord/, slack/, console/) and their registry.

Each package exports one `PLATFORM` object implementing `bot.platforms.base.Platform`:
rendering of alerts, digests and command replies, limits, senders, pacing and credential
checks. Renderers are pure functions from the neutral values of bot.types (StoryPost,
Digest) to JSON payloads or console text; they own escaping, truncation and splitting.
Nothing imported here imports discord.py or slack_sdk: senders and chat adapters do, lazily.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.deliver.ports import Sender
from bot.platforms import console, discord, slack
from bot.platforms.base import Platform
from bot.platforms.console.render import console_alert, console_digest
from bot.platforms.discord.limits import validate_discord_message
from bot.platforms.discord.render import discord_alert, discord_digest
from bot.platforms.slack.limits import validate_slack_message
from bot.platforms.slack.render import slack_alert, slack_digest
from bot.platforms.styler import STYLER
from bot.platforms.text import (
    JURISDICTION_LABELS,
    TOPIC_COLOURS,
    TOPIC_LABELS,
    discord_escape,
    safe_link,
    slack_escape,
    slack_text,
    truncate,
)
from bot.types import Digest, FeedNotice, StoryPost

__all__ = [
    "JURISDICTION_LABELS",
    "PLATFORMS",
    "STYLER",
    "TOPIC_COLOURS",
    "TOPIC_LABELS",
    "Platform",
    "build_senders",
    "console_alert",
    "console_digest",
    "discord_alert",
    "discord_digest",
    "discord_escape",
    "pacing",
    "platform_for",
    "render_alert",
    "render_digest",
    "render_notice",
    "safe_link",
    "slack_alert",
    "slack_digest",
    "slack_escape",
    "slack_text",
    "truncate",
    "validate_discord_message",
    "validate_slack_message",
]

PLATFORMS: dict[str, Platform] = {
    p.name: p for p in (console.PLATFORM, discord.PLATFORM, slack.PLATFORM)
}


def platform_for(kind: str) -> Platform:
    """The platform that serves a destination kind ("discord-webhook" -> Discord)."""
    for p in PLATFORMS.values():
        if kind in p.kinds:
            return p
    raise KeyError(f"no platform serves destinations of kind {kind!r}")


def render_alert(kind: str, post: StoryPost) -> list[Any]:
    """Payloads of an alert for a destination kind; unknown kinds get console text. Bot
    destinations get the "Not relevant" button (webhook messages cannot be clicked back)."""
    p = PLATFORMS["console"] if kind not in _KINDS else platform_for(kind)
    payloads = p.render_alert(post)
    if kind in _KINDS and not kind.endswith("-webhook"):
        payloads = p.with_feedback(payloads, post.story_id)
    return payloads


def render_notice(kind: str, notice: FeedNotice) -> list[Any]:
    """Payloads of a feed-health notice for a destination kind."""
    p = PLATFORMS["console"] if kind not in _KINDS else platform_for(kind)
    return p.render_notice(notice)


def render_digest(kind: str, digest: Digest) -> list[Any]:
    """Payloads of a digest for a destination kind; unknown kinds get console text."""
    p = PLATFORMS["console"] if kind not in _KINDS else platform_for(kind)
    return p.render_digest(digest)


def pacing() -> dict[str, float]:
    """Seconds between two posts to one destination, per destination kind."""
    return {k: v for p in PLATFORMS.values() for k, v in p.pacing.items()}


def build_senders(credentials: Mapping[str, Any]) -> dict[str, Sender]:
    """Destination kind -> sender, for what the credentials allow.

    Keys: `discord_token`, `slack_bot_token` (strings or None); `discord_http` (a running
    discord.Client's `.http`) and `slack_client` (a bolt app's AsyncWebClient) let delivery
    share the chat adapters' connections.
    """
    out: dict[str, Sender] = {}
    for p in PLATFORMS.values():
        out.update(p.senders(credentials))
    return out


_KINDS = frozenset(k for p in PLATFORMS.values() for k in p.kinds)
