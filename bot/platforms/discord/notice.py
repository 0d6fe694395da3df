"""Discord payloads for feed-health notices, and the "Not relevant" button under alerts."""

from __future__ import annotations

from typing import Any

from bot.platforms.discord.ids import not_relevant_id
from bot.platforms.discord.limits import DISCORD_CONTENT
from bot.platforms.discord.render import NO_MENTIONS
from bot.platforms.notice import NOT_RELEVANT_LABEL, notice_text
from bot.platforms.text import discord_escape, truncate
from bot.types import FeedNotice

SECONDARY, BUTTON, ACTION_ROW = 2, 2, 1


def discord_notice(notice: FeedNotice) -> dict[str, Any]:
    text = notice_text(notice, discord_escape, lambda c: f"`{c}`")
    return {"content": truncate(text, DISCORD_CONTENT), "allowed_mentions": dict(NO_MENTIONS)}


def with_feedback_button(payload: dict[str, Any], story_id: int) -> dict[str, Any]:
    """The alert with a "Not relevant" button (bot messages only: a channel webhook's
    message cannot carry interactive components)."""
    button = {
        "type": BUTTON,
        "style": SECONDARY,
        "label": NOT_RELEVANT_LABEL,
        "custom_id": not_relevant_id(story_id),
    }
    rows = list(payload.get("components") or [])
    rows.append({"type": ACTION_ROW, "components": [button]})
    return {**payload, "components": rows}
