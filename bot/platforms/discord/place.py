"""Discord pings, threads, forum posts and follow-ups: payloads as the senders take them.

The one live mention a post may carry is the subscription's role, written here in our own
content (never from feed text, which stays escaped) and allowed by the sender's
`allowed_mentions.roles` and nothing else. Thread and forum post names are plain text within
Discord's 100 characters.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.deliver.ports import PLACEMENT_KEY
from bot.platforms.discord.limits import DISCORD_CONTENT
from bot.platforms.discord.render import NO_MENTIONS
from bot.platforms.render import title_of
from bot.platforms.text import (
    discord_escape,
    discord_plain,
    inline,
    jurisdiction_label,
    period,
    safe_link,
    topic_label,
    truncate,
)
from bot.types import Digest, Placement, Source, StoryPost

THREAD_NAME = 100  # Discord's limit for thread and forum post names
FORUM_TAGS = 5  # at most this many tags on one forum post


def thread_name(title: str) -> str:
    return truncate(discord_plain(inline(title)) or "AI-governance story", THREAD_NAME)


def tag_names(codes: tuple[str, ...]) -> tuple[str, ...]:
    """Names a forum tag may have for these jurisdiction codes and topics, in order: the
    code itself ("EU", "legislation") and its label ("🇪🇺 EU", "Legislation")."""
    names: list[str] = []
    for code in codes:
        label = jurisdiction_label(code) if code.isupper() else topic_label(code)
        names.extend((code, label, label.split(" ", 1)[-1]))
    return tuple(dict.fromkeys(n for n in names if n))


def discord_place(payload: dict[str, Any], placement: Placement) -> dict[str, Any]:
    """The payload with the role mention in front and the placement for the sender."""
    out = dict(payload)
    if placement.mention:
        rest = out.get("content") or ""
        out["content"] = truncate(f"<@&{placement.mention}> {rest}".strip(), DISCORD_CONTENT)
    out["allowed_mentions"] = dict(NO_MENTIONS)  # the sender allows the role, nothing else
    out[PLACEMENT_KEY] = dataclasses.replace(
        placement, title=thread_name(placement.title), tags=tag_names(placement.tags)
    )
    return out


def discord_digest_header(digest: Digest) -> dict[str, Any]:
    """A digest's first message when its stories go into a thread: title and period."""
    head = truncate(discord_escape(inline(digest.title) or "AI governance digest"), 200)
    n = len(digest.stories)
    when = period(digest.period_start, digest.period_end)
    content = f"**{head}** · {when} · {n} {'story' if n == 1 else 'stories'} in the thread"
    return {"content": truncate(content, DISCORD_CONTENT), "allowed_mentions": dict(NO_MENTIONS)}


def discord_followup(post: StoryPost, source: Source) -> list[dict[str, Any]]:
    """One more source of a story, for its thread: the source's name, linked when safe."""
    name = discord_escape(inline(source.name) or "another source")
    url = safe_link(source.url)
    shown = f"[{name}](<{url}>)" if url else name
    title = truncate(discord_escape(title_of(post)), 300)
    content = f"Also reported by {shown}: {title}"
    return [{"content": truncate(content, DISCORD_CONTENT), "allowed_mentions": dict(NO_MENTIONS)}]
