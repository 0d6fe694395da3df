"""Slack messages for feed-health notices, and the "Not relevant" button under alerts."""

from __future__ import annotations

from typing import Any

from bot.platforms.notice import NOT_RELEVANT_LABEL, notice_text
from bot.platforms.slack.limits import SLACK_SECTION
from bot.platforms.text import slack_text, truncate
from bot.types import FeedNotice

NOT_RELEVANT_ACTION = "policy_not_relevant"


def slack_notice(notice: FeedNotice) -> dict[str, Any]:
    text = truncate(notice_text(notice, slack_text, lambda c: f"`{c}`"), SLACK_SECTION)
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def with_feedback_button(payload: dict[str, Any], story_id: int) -> dict[str, Any]:
    """The alert with a "Not relevant" button (bot messages only: clicks reach the app, not
    an incoming webhook)."""
    actions = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": NOT_RELEVANT_LABEL},
                "action_id": NOT_RELEVANT_ACTION,
                "value": str(int(story_id)),
            }
        ],
    }
    return {**payload, "blocks": [*payload.get("blocks", []), actions]}
