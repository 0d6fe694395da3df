"""Command replies (bot.commands' neutral Reply) as Discord and Slack message JSON: what both
platforms share (fitting text, chunks, tables, footers) is here; each platform package
renders the rest (bot.platforms.discord.reply, bot.platforms.slack.reply).

Pure functions, no platform library: the adapters only send what these return. Everything in a
Reply is plain text written by handlers or copied from hostile feeds, so it goes through the
very helpers the alert renderers use (bot.platforms.text): no mention can ping, no URL,
invite or masked link from feed text can link, no markdown can break out. The only links are
the stories' own safe_link() URLs. A `digest` reply is rendered by the digest renderers
themselves (grouped by jurisdiction and topic, split like scheduled digests).

Lengths are measured exactly as the platforms' limits validators measure them (UTF-16
units; Slack blocks as compact JSON), and every limit is enforced by cutting, then by splitting
into several messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from bot.commands.types import Reply, Table
from bot.platforms.render import (
    jurisdiction_labels,
    topic_labels,
    unique_stories,
)
from bot.platforms.text import (
    as_utc,
    clean,
    inline,
    platform_len,
    truncate,
)
from bot.types import Digest, StoryPost

STORY_TITLE = 600
STORY_SUMMARY_CHARS = 300
STORY_META = 400
REPLY_NOTE = 500  # a digest reply's own sentence, added to the digest's first message
MAX_BODY_CHARS = 60_000  # more than 10 messages could show: cut before splitting (cheap)


def fit(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """escape(text) within `limit`, cut cleanly (text.truncate never cuts inside an escape,
    an entity or a surrogate pair) with an ellipsis when it had to be cut."""
    return truncate(escape(text), limit)


# -- splitting text ---------------------------------------------------------------------------


def longest_prefix(text: str, limit: int, escape: Callable[[str], str]) -> int:
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
            n = longest_prefix(line, limit, escape)
            out.append(escape(line[:n]))
            line = line[n:].lstrip(" ")
        cur = line
    if cur.strip():
        out.append(escape(cur))
    return [c for c in out if c.strip()]


def reply_notices(reply: Reply) -> list[str]:
    return [inline(n) for n in reply.notices if inline(n)]


def reply_body(reply: Reply, *, notices: bool = False) -> str:
    lines = table_lines(reply.table) if reply.table else []
    if notices:
        lines += [f"Note: {n}" for n in reply_notices(reply)]
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


def story_meta(post: StoryPost) -> str:
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


def reply_footer(reply: Reply, *, notices: bool = True) -> str:
    bits = reply_notices(reply) if notices else []
    if reply.page > 1 or reply.has_more:
        bits.append(
            f"page {reply.page}" + (" · more with the More button" if reply.has_more else "")
        )
    return " · ".join(bits)


# -- Discord ----------------------------------------------------------------------------------


def fewer_stories(
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


def digest_note(reply: Reply, left_out: int) -> str:
    note = inline(reply.text)
    if left_out:
        note += f" {left_out} older {'story is' if left_out == 1 else 'stories are'} not shown:"
        note += " ask for fewer hours."
    return note.strip()


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
