"""Command replies as Slack messages (Block Kit, paging buttons, digest replies)."""

from __future__ import annotations

import json
from typing import Any

from bot.commands.types import Reply
from bot.platforms.render import (
    title_of,
)
from bot.platforms.reply import (
    REPLY_NOTE,
    STORY_META,
    STORY_SUMMARY_CHARS,
    STORY_TITLE,
    chunks,
    digest_note,
    fewer_stories,
    fit,
    reply_body,
    reply_footer,
    story_meta,
)
from bot.platforms.slack.limits import (
    SLACK_BLOCKS,
    SLACK_BLOCKS_JSON,
    SLACK_HEADER,
    SLACK_SECTION,
    blocks_json_len,
)
from bot.platforms.slack.render import slack_digest
from bot.platforms.text import (
    inline,
    platform_len,
    safe_link,
    slack_plain,
    slack_text,
)
from bot.types import Digest, StoryPost

SLACK_TEXT = 3000  # the notification fallback: far under 40,000, it is only a preview
SLACK_MAX_MESSAGES = 5  # a response_url takes at most 5 responses
SLACK_BUTTON_VALUE = 2000
SLACK_PAGE_ACTION = "policy_page"  # action_id prefix of the Previous/More buttons
# Kept free in every Slack message for the "(N more not shown)" note block.
SLACK_NOTE_RESERVE = 200


def _slack_digest_reply(reply: Reply, digest: Digest, response_type: str) -> list[dict[str, Any]]:
    messages, left_out = fewer_stories(digest, slack_digest, SLACK_MAX_MESSAGES)
    note = digest_note(reply, left_out)
    blocks = messages[0]["blocks"]
    context = next((b for b in blocks if b["type"] == "context"), None)
    # The note joins the digest's own context line: one more element, no extra block.
    for limit in (REPLY_NOTE, 150):
        if not note or context is None:
            break
        element = {"type": "mrkdwn", "text": fit(note, limit, slack_text)}
        context["elements"].append(element)
        if blocks_json_len(blocks) <= SLACK_BLOCKS_JSON:
            break
        context["elements"].remove(element)
    return [{"response_type": response_type, **m} for m in messages]


# -- Slack ------------------------------------------------------------------------------------


def slack_link(url: str | None, label: str, limit: int) -> str:
    """<url|label> for the story's own safe URL, else the escaped label alone."""
    target = safe_link(url)
    text = fit(label, limit, slack_text)
    return f"<{target}|{text}>" if target else text


def slack_story_blocks(post: StoryPost) -> list[dict[str, Any]]:
    text = f"*{slack_link(post.url, title_of(post), STORY_TITLE)}*"
    summary = inline(post.summary)
    if summary:
        text += "\n" + fit(summary, STORY_SUMMARY_CHARS, slack_text)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": fit(story_meta(post), STORY_META, slack_text)}],
        },
    ]


def page_button_value(command: str, args: dict[str, Any], owner: str | None = None) -> str | None:
    """The button's value (what to run when clicked, and for whom), or None when too long."""
    data: dict[str, Any] = {"c": command, "a": args}
    if owner:
        data["u"] = owner
    value = json.dumps(data, separators=(",", ":"), default=str)
    return value if platform_len(value) <= SLACK_BUTTON_VALUE else None


def slack_page_actions(
    reply: Reply, command: str, owner: str | None = None
) -> dict[str, Any] | None:
    buttons = []
    for label, delta in (("Previous", -1), ("More", 1)):
        args = reply.page_args(delta)
        if args is None:
            continue
        value = page_button_value(command, args, owner)
        if value is None:
            continue
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"{SLACK_PAGE_ACTION}_{'prev' if delta < 0 else 'next'}",
            "text": {"type": "plain_text", "text": label},
            "value": value,
        }
        if delta > 0:
            button["style"] = "primary"
        buttons.append(button)
    return {"type": "actions", "elements": buttons} if buttons else None


def _slack_units(
    reply: Reply, command: str, owner: str | None = None
) -> list[list[dict[str, Any]]]:
    """Blocks in units that must stay in one message (a story's section and its context)."""
    units: list[list[dict[str, Any]]] = []
    title = fit(inline(reply.title), SLACK_HEADER, slack_plain)
    if title.strip():
        units.append(
            [{"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}}]
        )
    for i, piece in enumerate(chunks(reply_body(reply), SLACK_SECTION - 20, slack_text)):
        if i == 0 and reply.error:
            piece = ":warning: " + piece
        units.append([{"type": "section", "text": {"type": "mrkdwn", "text": piece}}])
    units.extend(slack_story_blocks(post) for post in reply.stories)
    footer = fit(reply_footer(reply), 2000, slack_text)
    if footer.strip():
        units.append([{"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]}])
    actions = slack_page_actions(reply, command, owner)
    if actions:
        units.append([actions])
    return units


def slack_blocks(
    reply: Reply, *, command: str = "search", owner: str | None = None
) -> list[dict[str, Any]]:
    return [b for unit in _slack_units(reply, command, owner) for b in unit]


def _fallback(reply: Reply) -> str:
    head = inline(reply.title) or ("Error" if reply.error else "policybot")
    n = len(reply.stories)
    body = inline(reply.text) or (f"{n} {'story' if n == 1 else 'stories'}" if n else "")
    return fit(f"{head}: {body}" if body else head, SLACK_TEXT, slack_text)


def slack_reply(
    reply: Reply,
    *,
    ephemeral: bool | None = None,
    command: str = "search",
    owner: str | None = None,
) -> list[dict[str, Any]]:
    """The reply as Slack messages (response_url / respond() bodies): each has at most 50
    blocks and 12,000 UTF-16 units of blocks JSON (as limits.blocks_json_len counts them); at
    most 5 (a response_url's quota)."""
    eph = (reply.ephemeral or reply.error) if ephemeral is None else ephemeral
    response_type = "ephemeral" if eph else "in_channel"
    if reply.digest is not None and not reply.error:
        return _slack_digest_reply(reply, reply.digest, response_type)
    groups: list[list[dict[str, Any]]] = [[]]
    for unit in _slack_units(reply, command, owner):
        # One block and some JSON are kept free for the "more not shown" note.
        if groups[-1] and (
            len(groups[-1]) + len(unit) > SLACK_BLOCKS - 1
            or blocks_json_len(groups[-1] + unit) > SLACK_BLOCKS_JSON - SLACK_NOTE_RESERVE
        ):
            groups.append([])
        groups[-1].extend(unit)
    if len(groups) > SLACK_MAX_MESSAGES:
        left_out = sum(1 for g in groups[SLACK_MAX_MESSAGES:] for b in g if b["type"] == "section")
        groups = groups[:SLACK_MAX_MESSAGES]
        groups[-1].append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"({left_out} more not shown: narrow it down.)"}
                ],
            }
        )
    text = _fallback(reply)
    return [
        {
            "response_type": response_type,
            "text": text
            if i == 0
            else fit(f"{inline(reply.title) or 'policybot'} ({i + 1})", SLACK_TEXT, slack_text),
            "blocks": g,
        }
        for i, g in enumerate(groups)
    ]
