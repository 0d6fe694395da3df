"""Command replies (bot.commands' neutral Reply) as Discord and Slack message JSON.

Pure functions, no platform library: the adapters only send what these return. Everything from
a Reply is plain text written by handlers or copied from hostile feeds, so every string is
escaped here (no mention can ping, no masked link can be smuggled, no markdown can break out)
and every limit of docs/PLATFORMS.md is enforced by cutting, then by splitting into several
messages.

Lengths are counted in UTF-16 code units, which is never less than the count either platform
uses, so a message that fits here fits there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.commands.types import Reply, Table
from bot.deliver.types import StoryPost

# -- limits (PLATFORMS.md) -------------------------------------------------------------------

DISCORD_CONTENT = 2000
DISCORD_EMBEDS = 10
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FOOTER = 2048
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_FIELDS = 25
DISCORD_MESSAGE_TOTAL = 6000
DISCORD_MAX_MESSAGES = 10  # follow-ups per reply: beyond this, say what was left out
EPHEMERAL_FLAG = 1 << 6

SLACK_BLOCKS = 50
SLACK_SECTION = 3000
SLACK_HEADER = 150
SLACK_TEXT = 3000  # the notification fallback: far under 40,000, it is only a preview
SLACK_MESSAGE_CHARS = 12_000  # msg_blocks_too_long shows up around 13,000
SLACK_MAX_MESSAGES = 5  # a response_url takes at most 5 responses
SLACK_BUTTON_VALUE = 2000
SLACK_PAGE_ACTION = "policy_page"  # action_id prefix of the Previous/More buttons

STORY_SUMMARY_CHARS = 300
ERROR_COLOUR = 0xE74C3C
COLOUR = 0x2B6CB0
ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- text helpers -----------------------------------------------------------------------------

_ZWSP = "\u200b"
_DISCORD_MD = re.compile(r"([\\*_~`|>#\[\]()-])")
_MASS_MENTION = re.compile(r"@(everyone|here|channel)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    """Drop control and bidi-override characters (they can disguise a link or a name)."""
    return _CONTROL.sub("", text or "")


def discord_text(text: str) -> str:
    """Plain text -> Discord markdown that shows the same characters and pings no one."""
    t = _DISCORD_MD.sub(r"\\\1", _clean(text))
    # <@123>, <@&1>, <#1>, </cmd:1>, <t:1>: a zero-width space after "<" breaks them all.
    t = t.replace("<", "<" + _ZWSP)
    return _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), t)


def discord_plain(text: str) -> str:
    """For places Discord shows without markdown (embed footers): no mention syntax either."""
    t = _clean(text).replace("<", "<" + _ZWSP).replace("](", "]" + _ZWSP + "(")
    return _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), t)


def slack_text(text: str) -> str:
    """Plain text -> Slack mrkdwn: escaping <, > and & is what stops <!channel> and links."""
    t = _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), t)


def plain_text(text: str) -> str:
    """For Slack plain_text objects: never parsed, but still no @channel look-alikes."""
    return _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), _clean(text))


_URL_OK = re.compile(r"^https?://[^\s<>|\"'`\\]+$", re.IGNORECASE)


def link_target(url: str | None) -> str | None:
    """An http(s) URL safe to put in a link, or None (javascript:, data:, spaces...)."""
    if not url:
        return None
    u = url.strip()
    if len(u) > 2000 or not _URL_OK.match(u):
        return None
    host = u.split("://", 1)[1].split("/", 1)[0]
    if not host or "@" in host:  # user:pass@host can disguise where a link goes
        return None
    return u.replace(")", "%29").replace("(", "%28")


def fit(text: str, limit: int, escape: Callable[[str], str] = lambda s: s) -> str:
    """escape(text) within `limit` UTF-16 units, cut on the plain text (never inside an
    escape sequence) with an ellipsis when it had to be cut."""
    out = escape(text)
    if utf16_len(out) <= limit:
        return out
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix whose escaped form still fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if utf16_len(escape(text[:mid].rstrip()) + ELLIPSIS) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return escape(text[:lo].rstrip()) + ELLIPSIS if limit >= 1 else ""


def chunks(text: str, limit: int, escape: Callable[[str], str]) -> list[str]:
    """Split text into escaped pieces of at most `limit`, on line breaks where possible."""
    out: list[str] = []
    cur = ""
    for line in text.split("\n"):
        candidate = f"{cur}\n{line}" if cur else line
        if utf16_len(escape(candidate)) <= limit:
            cur = candidate
            continue
        if cur:
            out.append(escape(cur))
        while utf16_len(escape(line)) > limit:  # one very long line: cut it into pieces
            n = _longest_prefix(line, limit, escape)
            out.append(escape(line[:n]))
            line = line[n:]
        cur = line
    if cur.strip():
        out.append(escape(cur))
    return [c for c in out if c.strip()]


def _longest_prefix(text: str, limit: int, escape: Callable[[str], str]) -> int:
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if utf16_len(escape(text[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


JURISDICTION_FALLBACK = {"EU": "European Union", "INTL": "International"}


def _labels(post: StoryPost) -> list[str]:
    out = [JURISDICTION_FALLBACK.get(j, j) for j in post.jurisdictions]
    out += [t.replace("-", " ").capitalize() for t in post.topics]
    return out


def _story_meta(post: StoryPost) -> str:
    parts = _labels(post)
    if post.sources:
        names = [s.name for s in post.sources[:3]]
        more = len(post.sources) - len(names)
        parts.append(", ".join(names) + (f" +{more}" if more > 0 else ""))
    parts.append(post.published.strftime("%Y-%m-%d"))
    parts.append(f"#{post.story_id}")
    return " · ".join(p for p in parts if p)


def table_lines(table: Table) -> list[str]:
    """A table as one line per row ("first · column: value ..."): it reads on a phone."""
    lines = []
    for row in table.rows:
        cells = [str(c) for c in row]
        if not cells:
            continue
        rest = [
            f"{col}: {val}"
            for col, val in zip(table.columns[1:], cells[1:], strict=False)
            if val not in ("", None)
        ]
        lines.append(" · ".join([cells[0], *rest]))
    return lines


# -- Discord ----------------------------------------------------------------------------------


def _embed_size(embed: dict[str, Any]) -> int:
    n = utf16_len(embed.get("title", "")) + utf16_len(embed.get("description", ""))
    n += utf16_len(embed.get("footer", {}).get("text", ""))
    n += utf16_len(embed.get("author", {}).get("name", ""))
    for f in embed.get("fields", ()):
        n += utf16_len(f.get("name", "")) + utf16_len(f.get("value", ""))
    return n


def discord_story_embed(post: StoryPost) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "title": fit(post.title or "(untitled)", DISCORD_TITLE, discord_text),
        "color": COLOUR,
    }
    url = link_target(post.url)
    if url:
        embed["url"] = url
    parts = []
    if post.summary:
        parts.append(fit(post.summary, STORY_SUMMARY_CHARS, discord_text))
    meta = fit(_story_meta(post), 400, discord_text)
    parts.append(f"*{meta}*")
    embed["description"] = "\n".join(parts)
    embed["timestamp"] = post.published.isoformat()
    return embed


def _footer(reply: Reply) -> str:
    bits = list(reply.notices)
    if reply.page > 1 or reply.has_more:
        bits.append(f"page {reply.page}" + (" · more with the More button" if reply.has_more
                                            else ""))
    return " · ".join(bits)


def discord_embeds(reply: Reply) -> list[dict[str, Any]]:
    """Every embed of a reply, each within the per-embed limits."""
    body = reply.text or ""
    lines = table_lines(reply.table) if reply.table else []
    pieces = chunks("\n".join(x for x in (body, *lines) if x), DISCORD_DESCRIPTION - 96,
                    discord_text) or [""]
    colour = ERROR_COLOUR if reply.error else COLOUR
    embeds: list[dict[str, Any]] = []
    for i, piece in enumerate(pieces):
        e: dict[str, Any] = {"color": colour}
        if i == 0 and reply.title:
            e["title"] = fit(reply.title, DISCORD_TITLE, discord_text)
        if piece:
            e["description"] = piece
        embeds.append(e)
    footer = _footer(reply)
    if footer:
        embeds[0]["footer"] = {"text": fit(footer, 1000, discord_plain)}
    if len(embeds) == 1 and not embeds[0].keys() - {"color"}:
        embeds = []  # nothing but stories
    embeds.extend(discord_story_embed(p) for p in reply.stories)
    return embeds


def discord_reply(reply: Reply, *, ephemeral: bool | None = None) -> list[dict[str, Any]]:
    """The reply as Discord message payloads (interaction response `data` / follow-up bodies),
    split so that each has at most 10 embeds and 6000 embed characters."""
    eph = (reply.ephemeral or reply.error) if ephemeral is None else ephemeral
    embeds = discord_embeds(reply)
    messages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for e in embeds:
        n = _embed_size(e)
        if messages[-1] and (len(messages[-1]) >= DISCORD_EMBEDS
                             or size + n > DISCORD_MESSAGE_TOTAL):
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
        payload: dict[str, Any] = {"content": "", "embeds": group,
                                   "allowed_mentions": {"parse": []}}
        if i == len(messages) - 1 and left_out:
            payload["content"] = f"({left_out} more not shown: narrow it down.)"
        if not group and not payload["content"]:
            payload["content"] = "Done."
        if eph:
            payload["flags"] = EPHEMERAL_FLAG
        out.append(payload)
    return out


def discord_interaction_response(reply: Reply, *, ephemeral: bool | None = None) -> dict[str, Any]:
    """The first message as an interaction callback (type 4, CHANNEL_MESSAGE_WITH_SOURCE)."""
    return {"type": 4, "data": discord_reply(reply, ephemeral=ephemeral)[0]}


# -- Slack ------------------------------------------------------------------------------------


def slack_link(url: str | None, label: str, limit: int) -> str:
    target = link_target(url)
    if target is None:
        return fit(label, limit, slack_text)
    target = target.replace("|", "%7C")
    room = max(1, limit - utf16_len(target) - 3)
    return f"<{target}|{fit(label, room, slack_text)}>"


def slack_story_blocks(post: StoryPost) -> list[dict[str, Any]]:
    title = slack_link(post.url, post.title or "(untitled)", 600)
    text = f"*{title}*"
    if post.summary:
        text += "\n" + fit(post.summary, STORY_SUMMARY_CHARS, slack_text)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "context",
         "elements": [{"type": "mrkdwn", "text": fit(_story_meta(post), 500, slack_text)}]},
    ]


def page_button_value(command: str, args: dict[str, Any], owner: str | None = None) -> str | None:
    """The button's value (what to run when clicked, and for whom), or None when too long."""
    data: dict[str, Any] = {"c": command, "a": args}
    if owner:
        data["u"] = owner
    value = json.dumps(data, separators=(",", ":"), default=str)
    return value if len(value) <= SLACK_BUTTON_VALUE else None


def slack_page_actions(reply: Reply, command: str, owner: str | None = None
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


def _block_size(block: dict[str, Any]) -> int:
    return len(json.dumps(block, ensure_ascii=False))


def _slack_units(reply: Reply, command: str, owner: str | None = None
                 ) -> list[list[dict[str, Any]]]:
    """Blocks in units that must stay in one message (a story's section and its context)."""
    units: list[list[dict[str, Any]]] = []
    if reply.title:
        units.append([{"type": "header", "text": {
            "type": "plain_text", "text": fit(reply.title, SLACK_HEADER, plain_text),
            "emoji": False}}])
    lines = table_lines(reply.table) if reply.table else []
    body = "\n".join(x for x in (reply.text or "", *lines) if x)
    for i, piece in enumerate(chunks(body, SLACK_SECTION - 20, slack_text)):
        if i == 0 and reply.error:
            piece = ":warning: " + piece
        units.append([{"type": "section", "text": {"type": "mrkdwn", "text": piece}}])
    units.extend(slack_story_blocks(post) for post in reply.stories)
    footer = _footer(reply)
    if footer:
        units.append([{"type": "context", "elements": [
            {"type": "mrkdwn", "text": fit(footer, 2000, slack_text)}]}])
    actions = slack_page_actions(reply, command, owner)
    if actions:
        units.append([actions])
    return units


def slack_blocks(reply: Reply, *, command: str = "search", owner: str | None = None
                 ) -> list[dict[str, Any]]:
    return [b for unit in _slack_units(reply, command, owner) for b in unit]


def _fallback(reply: Reply) -> str:
    head = reply.title or ("Error" if reply.error else "policybot")
    body = reply.text or (f"{len(reply.stories)} stories" if reply.stories else "")
    return fit(f"{head}: {body}" if body else head, SLACK_TEXT, slack_text)


def slack_reply(
    reply: Reply,
    *,
    ephemeral: bool | None = None,
    command: str = "search",
    owner: str | None = None,
) -> list[dict[str, Any]]:
    """The reply as Slack messages (response_url / respond() bodies): each has at most 50
    blocks and about 12,000 characters of blocks; at most 5 (a response_url's quota)."""
    eph = (reply.ephemeral or reply.error) if ephemeral is None else ephemeral
    groups: list[list[dict[str, Any]]] = [[]]
    size = 0
    for unit in _slack_units(reply, command, owner):
        n = sum(_block_size(b) for b in unit)
        # One block is kept free for the "more not shown" note.
        if groups[-1] and (len(groups[-1]) + len(unit) > SLACK_BLOCKS - 1
                           or size + n > SLACK_MESSAGE_CHARS):
            groups.append([])
            size = 0
        groups[-1].extend(unit)
        size += n
    if len(groups) > SLACK_MAX_MESSAGES:
        left_out = sum(1 for g in groups[SLACK_MAX_MESSAGES:] for b in g if b["type"] == "section")
        groups = groups[:SLACK_MAX_MESSAGES]
        groups[-1].append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"({left_out} more not shown: narrow it down.)"}]})
    text = _fallback(reply)
    return [
        {
            "response_type": "ephemeral" if eph else "in_channel",
            "text": text if i == 0 else fit(f"{reply.title or 'policybot'} ({i + 1})",
                                            SLACK_TEXT, slack_text),
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
