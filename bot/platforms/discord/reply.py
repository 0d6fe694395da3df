"""Command replies as Discord messages (embeds, interaction responses, digest replies)."""

from __future__ import annotations

from typing import Any

from bot.commands.types import Reply
from bot.platforms.discord.limits import (
    DISCORD_CONTENT,
    DISCORD_DESCRIPTION,
    DISCORD_EMBEDS,
    DISCORD_MESSAGE_TOTAL,
    DISCORD_TITLE,
    embed_total,
)
from bot.platforms.discord.render import discord_digest
from bot.platforms.render import (
    title_of,
)
from bot.platforms.reply import (
    REPLY_NOTE,
    STORY_META,
    STORY_SUMMARY_CHARS,
    chunks,
    digest_note,
    fewer_stories,
    fit,
    reply_body,
    reply_footer,
    story_meta,
)
from bot.platforms.text import (
    as_utc,
    discord_escape,
    discord_plain,
    inline,
    platform_len,
    safe_link,
)
from bot.types import Digest, StoryPost

DISCORD_MAX_MESSAGES = 10  # follow-ups per reply: beyond this, say what was left out
EPHEMERAL_FLAG = 1 << 6

ERROR_COLOUR = 0xE74C3C
COLOUR = 0x2B6CB0


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
    parts.append(f"*{fit(story_meta(post), STORY_META, discord_escape)}*")
    embed["description"] = "\n".join(parts)
    return embed


def discord_embeds(reply: Reply) -> list[dict[str, Any]]:
    """Every embed of a reply, each within the per-embed limits."""
    # Notices go in the description: a footer only gets discord_plain, which leaves invites
    # (discord.gg/x) alone, so the footer holds nothing but our own paging words.
    pieces = chunks(reply_body(reply, notices=True), DISCORD_DESCRIPTION - 96, discord_escape) or [
        ""
    ]
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
    footer = fit(reply_footer(reply, notices=False), 1000, discord_plain)
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


def _discord_digest_reply(reply: Reply, digest: Digest) -> list[dict[str, Any]]:
    messages, left_out = fewer_stories(digest, discord_digest, DISCORD_MAX_MESSAGES)
    note = digest_note(reply, left_out)
    first = messages[0]
    room = min(REPLY_NOTE, DISCORD_CONTENT - platform_len(first["content"]) - 1)
    if note and room > 20:
        first["content"] = f"{first['content']}\n{fit(note, room, discord_escape)}"
    return messages
