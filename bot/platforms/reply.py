"""Command replies (bot.commands' neutral Reply) as Discord and Slack message JSON.

Pure functions, no platform library: the adapters only send what these return. Everything in a
Reply is plain text written by handlers or copied from hostile feeds, so it goes through the
very helpers the alert renderers use (bot.platforms.text): no mention can ping, no URL,
invite or masked link from feed text can link, no markdown can break out. The only links are
the stories' own safe_link() URLs. A `digest` reply is rendered by the digest renderers
themselves (grouped by jurisdiction and topic, split like scheduled digests).

Lengths are measured exactly as bot.platforms.limits' validators measure them (UTF-16
units; Slack blocks as compact JSON), and every limit is enforced by cutting, then by splitting
into several messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from bot.commands.types import Reply, Table
from bot.platforms.discord.render import discord_digest
from bot.platforms.limits import (
    DISCORD_CONTENT,
    DISCORD_DESCRIPTION,
    DISCORD_EMBEDS,
    DISCORD_MESSAGE_TOTAL,
    DISCORD_TITLE,
    SLACK_BLOCKS,
    SLACK_BLOCKS_JSON,
    SLACK_HEADER,
    SLACK_SECTION,
    blocks_json_len,
    embed_total,
)
from bot.platforms.render import (
    jurisdiction_labels,
    title_of,
    topic_labels,
    unique_stories,
)
from bot.platforms.slack.render import slack_digest
from bot.platforms.text import (
    as_utc,
    clean,
    discord_escape,
    discord_plain,
    inline,
    platform_len,
    safe_link,
    slack_plain,
    slack_text,
    truncate,
)
from bot.types import Digest, StoryPost

DISCORD_MAX_MESSAGES = 10  # follow-ups per reply: beyond this, say what was left out
EPHEMERAL_FLAG = 1 << 6

SLACK_TEXT = 3000  # the notification fallback: far under 40,000, it is only a preview
SLACK_MAX_MESSAGES = 5  # a response_url takes at most 5 responses
SLACK_BUTTON_VALUE = 2000
SLACK_PAGE_ACTION = "policy_page"  # action_id prefix of the Previous/More buttons
# Kept free in every Slack message for the "(N more not shown)" note block.
SLACK_NOTE_RESERVE = 200

STORY_TITLE = 600
STORY_SUMMARY_CHARS = 300
STORY_META = 400
REPLY_NOTE = 500  # a digest reply's own sentence, added to the digest's first message
MAX_BODY_CHARS = 60_000  # more than 10 messages could show: cut before splitting (cheap)
ERROR_COLOUR = 0xE74C3C
COLOUR = 0x2B6CB0


def fit(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """escape(text) within `limit`, cut cleanly (text.truncate never cuts inside an escape,
    an entity or a surrogate pair) with an ellipsis when it had to be cut."""
    return truncate(escape(text), limit)


# -- splitting text ---------------------------------------------------------------------------


def _longest_prefix(text: str, limit: int, escape: Callable[[str], str]) -> int:
    """How many characters of `text` fit in `limit` once escaped (at least one). Escaping only
    lengthens text, so the answer is at most `limit`: search there, not in the whole text."""
    lo, hi = 1, min(len(text), max(1, limit))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if platform_len(escape(text[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    space = text.rfind(" ", 0, lo + 1)
    return space if space >= lo * 0.75 and space > 0 else lo  # a word boundary when near


def chunks(text: str, limit: int, escape: Callable[[str], str]) -> list[str]:
    """Split text into escaped pieces of at most `limit`, on line breaks where possible."""
    out: list[str] = []
    cur = ""
    for line in text.split("\n"):
        candidate = f"{cur}\n{line}" if cur else line
        if platform_len(escape(candidate)) <= limit:
            cur = candidate
            continue
        if cur:
            out.append(escape(cur))
        while platform_len(escape(line)) > limit:  # one very long line: cut it into pieces
            n = _longest_prefix(line, limit, escape)
            out.append(escape(line[:n]))
            line = line[n:].lstrip(" ")
        cur = line
    if cur.strip():
        out.append(escape(cur))
    return [c for c in out if c.strip()]


def _notices(reply: Reply) -> list[str]:
    return [inline(n) for n in reply.notices if inline(n)]


def _body(reply: Reply, *, notices: bool = False) -> str:
    lines = table_lines(reply.table) if reply.table else []
    if notices:
        lines += [f"Note: {n}" for n in _notices(reply)]
    body = "\n".join(x for x in (clean(reply.text), *lines) if x)
    return body[:MAX_BODY_CHARS]


def table_lines(table: Table) -> list[str]:
    """A table as one line per row ("first · column: value ..."): it reads on a phone."""
    lines = []
    for row in table.rows:
        cells = [inline(str(c)) for c in row]
        if not cells:
            continue
        rest = [
            f"{inline(col)}: {val}"
            for col, val in zip(table.columns[1:], cells[1:], strict=False)
            if val
        ]
        lines.append(" · ".join([cells[0], *rest]))
    return lines


def _story_meta(post: StoryPost) -> str:
    """ "🇪🇺 EU · Legislation · Reuters, AP +2 · 2026-11-20 · #42" (plain text: escape it)."""
    parts = [*jurisdiction_labels(post.jurisdictions), *topic_labels(post.topics)]
    names = [inline(s.name) for s in post.sources if inline(s.name)]
    if names:
        more = len(names) - 3
        parts.append(
            ", ".join(truncate(n, 80) for n in names[:3]) + (f" +{more}" if more > 0 else "")
        )
    parts.append(as_utc(post.published).strftime("%Y-%m-%d"))
    parts.append(f"#{post.story_id}")
    return " · ".join(p for p in parts if p)


def _footer(reply: Reply, *, notices: bool = True) -> str:
    bits = _notices(reply) if notices else []
    if reply.page > 1 or reply.has_more:
        bits.append(
            f"page {reply.page}" + (" · more with the More button" if reply.has_more else "")
        )
    return " · ".join(bits)


# -- Discord ----------------------------------------------------------------------------------


def discord_story_embed(post: StoryPost) -> dict[str, Any]:
    """A story as an embed: the title links to the story's own safe URL (as in alerts)."""
    embed: dict[str, Any] = {
        "title": fit(title_of(post), DISCORD_TITLE, discord_escape),
        "color": COLOUR,
        "timestamp": as_utc(post.published).isoformat(),
    }
    url = safe_link(post.url)
    if url:
        embed["url"] = url
    parts = []
    summary = inline(post.summary)
    if summary:
        parts.append(fit(summary, STORY_SUMMARY_CHARS, discord_escape))
    parts.append(f"*{fit(_story_meta(post), STORY_META, discord_escape)}*")
    embed["description"] = "\n".join(parts)
    return embed


def discord_embeds(reply: Reply) -> list[dict[str, Any]]:
    """Every embed of a reply, each within the per-embed limits."""
    # Notices go in the description: a footer only gets discord_plain, which leaves invites
    # (discord.gg/x) alone, so the footer holds nothing but our own paging words.
    pieces = chunks(_body(reply, notices=True), DISCORD_DESCRIPTION - 96, discord_escape) or [""]
    colour = ERROR_COLOUR if reply.error else COLOUR
    embeds: list[dict[str, Any]] = []
    for i, piece in enumerate(pieces):
        e: dict[str, Any] = {"color": colour}
        title = fit(inline(reply.title), DISCORD_TITLE, discord_escape) if i == 0 else ""
        if title.strip():
            e["title"] = title
        if piece:
            e["description"] = piece
        embeds.append(e)
    footer = fit(_footer(reply, notices=False), 1000, discord_plain)
    if footer.strip():
        embeds[0]["footer"] = {"text": footer}
    if len(embeds) == 1 and not embeds[0].keys() - {"color"}:
        embeds = []  # nothing but stories
    embeds.extend(discord_story_embed(p) for p in reply.stories)
    return embeds


def _discord_flags(messages: list[dict[str, Any]], ephemeral: bool) -> list[dict[str, Any]]:
    if ephemeral:
        for m in messages:
            m["flags"] = EPHEMERAL_FLAG
    return messages


def discord_reply(reply: Reply, *, ephemeral: bool | None = None) -> list[dict[str, Any]]:
    """The reply as Discord message payloads (interaction response `data` / follow-up bodies),
    split so that each has at most 10 embeds and 6000 embed characters."""
    eph = (reply.ephemeral or reply.error) if ephemeral is None else ephemeral
    if reply.digest is not None and not reply.error:
        return _discord_flags(_discord_digest_reply(reply, reply.digest), eph)
    messages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for e in discord_embeds(reply):
        n = embed_total(e)
        if messages[-1] and (
            len(messages[-1]) >= DISCORD_EMBEDS or size + n > DISCORD_MESSAGE_TOTAL
        ):
            messages.append([])
            size = 0
        messages[-1].append(e)
        size += n
    left_out = 0
    if len(messages) > DISCORD_MAX_MESSAGES:
        left_out = sum(len(m) for m in messages[DISCORD_MAX_MESSAGES:])
        messages = messages[:DISCORD_MAX_MESSAGES]
    out = []
    for i, group in enumerate(messages):
        payload: dict[str, Any] = {
            "content": "",
            "embeds": group,
            "allowed_mentions": {"parse": []},
        }
        if i == len(messages) - 1 and left_out:
            payload["content"] = f"({left_out} more not shown: narrow it down.)"
        if not group and not payload["content"]:
            payload["content"] = "Done."
        out.append(payload)
    return _discord_flags(out, eph)


def discord_interaction_response(reply: Reply, *, ephemeral: bool | None = None) -> dict[str, Any]:
    """The first message as an interaction callback (type 4, CHANNEL_MESSAGE_WITH_SOURCE)."""
    return {"type": 4, "data": discord_reply(reply, ephemeral=ephemeral)[0]}


# -- digests ----------------------------------------------------------------------------------


def _fewer(
    digest: Digest, render: Callable[[Digest], list[dict[str, Any]]], max_messages: int
) -> tuple[list[dict[str, Any]], int]:
    """The digest rendered in at most `max_messages`: the oldest stories are dropped until it
    fits. Returns the messages and how many stories were left out."""
    stories = sorted(unique_stories(digest), key=lambda p: as_utc(p.published), reverse=True)
    messages = render(digest)
    keep = len(stories)
    while len(messages) > max_messages and keep > 1:
        keep = max(1, min(keep - 1, keep * max_messages // len(messages)))
        messages = render(replace(digest, stories=tuple(stories[:keep])))
    return messages, len(stories) - keep


def _digest_note(reply: Reply, left_out: int) -> str:
    note = inline(reply.text)
    if left_out:
        note += f" {left_out} older {'story is' if left_out == 1 else 'stories are'} not shown:"
        note += " ask for fewer hours."
    return note.strip()


def _discord_digest_reply(reply: Reply, digest: Digest) -> list[dict[str, Any]]:
    messages, left_out = _fewer(digest, discord_digest, DISCORD_MAX_MESSAGES)
    note = _digest_note(reply, left_out)
    first = messages[0]
    room = min(REPLY_NOTE, DISCORD_CONTENT - platform_len(first["content"]) - 1)
    if note and room > 20:
        first["content"] = f"{first['content']}\n{fit(note, room, discord_escape)}"
    return messages


def _slack_digest_reply(reply: Reply, digest: Digest, response_type: str) -> list[dict[str, Any]]:
    messages, left_out = _fewer(digest, slack_digest, SLACK_MAX_MESSAGES)
    note = _digest_note(reply, left_out)
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
            "elements": [
                {"type": "mrkdwn", "text": fit(_story_meta(post), STORY_META, slack_text)}
            ],
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
    for i, piece in enumerate(chunks(_body(reply), SLACK_SECTION - 20, slack_text)):
        if i == 0 and reply.error:
            piece = ":warning: " + piece
        units.append([{"type": "section", "text": {"type": "mrkdwn", "text": piece}}])
    units.extend(slack_story_blocks(post) for post in reply.stories)
    footer = fit(_footer(reply), 2000, slack_text)
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


def all_text(payload: Any) -> Iterable[str]:
    """Every string in a payload (tests and checks walk it)."""
    if isinstance(payload, str):
        yield payload
    elif isinstance(payload, dict):
        for v in payload.values():
            yield from all_text(v)
    elif isinstance(payload, Sequence):
        for v in payload:
            yield from all_text(v)
