"""Discord's message limits and a validator that checks a payload against them.

The renderers enforce these limits themselves; the validator is the independent check (tests,
and anyone who builds a payload by hand). Lengths are counted in UTF-16 code units
(text.platform_len): never less than Discord counts. The limits, from Discord's API
reference: content 2000 characters; 10 embeds; per embed a 256-character title and author,
a 4096-character description, 25 fields of 256/1024, a 2048-character footer; 6000
characters of embed text in all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.platforms.text import check_len, platform_len, safe_link

DISCORD_CONTENT = 2000
DISCORD_EMBEDS = 10
DISCORD_TITLE = 256
DISCORD_AUTHOR = 256
DISCORD_FIELD_NAME = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_VALUE = 1024
DISCORD_FOOTER = 2048
DISCORD_MESSAGE_TOTAL = 6000  # titles, descriptions, field names/values, footers, authors


def embed_total(embed: dict[str, Any]) -> int:
    """The characters of one embed that count towards Discord's 6000 per message."""
    n = 0
    for key in ("title", "description"):
        v = embed.get(key)
        n += platform_len(v) if isinstance(v, str) else 0
    for key in ("footer", "author"):
        sub = embed.get(key)
        if isinstance(sub, dict):
            v = sub.get("text" if key == "footer" else "name")
            n += platform_len(v) if isinstance(v, str) else 0
    for f in embed.get("fields") or ():
        if isinstance(f, dict):
            for key in ("name", "value"):
                v = f.get(key)
                n += platform_len(v) if isinstance(v, str) else 0
    return n


def validate_discord_message(payload: dict[str, Any]) -> list[str]:
    """Everything in a Discord message payload that the API would refuse (or that would let a
    mention ping); an empty list when it is valid. Unknown keys (nonce...) are ignored."""
    if not isinstance(payload, dict):
        return ["payload: expected an object"]
    problems: list[str] = []
    content = payload.get("content")
    check_len(problems, "content", content, DISCORD_CONTENT)
    embeds = payload.get("embeds") or []
    if not isinstance(embeds, list):
        return [*problems, "embeds: expected a list"]
    if len(embeds) > DISCORD_EMBEDS:
        problems.append(f"embeds: {len(embeds)} embeds, limit {DISCORD_EMBEDS}")
    if not embeds and not (isinstance(content, str) and content.strip()):
        problems.append("message: neither content nor embeds (Discord refuses an empty message)")
    total = 0
    for i, e in enumerate(embeds):
        where = f"embeds[{i}]"
        if not isinstance(e, dict):
            problems.append(f"{where}: expected an object")
            continue
        check_len(problems, f"{where}.title", e.get("title"), DISCORD_TITLE)
        check_len(problems, f"{where}.description", e.get("description"), DISCORD_DESCRIPTION)
        if "url" in e and (not isinstance(e["url"], str) or safe_link(e["url"]) != e["url"]):
            problems.append(f"{where}.url: not a safe http(s) URL: {e['url']!r}")
        if "timestamp" in e:
            try:
                datetime.fromisoformat(str(e["timestamp"]))
            except ValueError:
                problems.append(f"{where}.timestamp: not ISO 8601: {e['timestamp']!r}")
        colour = e.get("color")
        if colour is not None and not (isinstance(colour, int) and 0 <= colour <= 0xFFFFFF):
            problems.append(f"{where}.color: not an RGB integer: {colour!r}")
        footer = e.get("footer")
        if footer is not None:
            text = footer.get("text") if isinstance(footer, dict) else None
            check_len(problems, f"{where}.footer.text", text, DISCORD_FOOTER, required=True)
        author = e.get("author")
        if author is not None:
            name = author.get("name") if isinstance(author, dict) else None
            check_len(problems, f"{where}.author.name", name, DISCORD_AUTHOR, required=True)
        fields = e.get("fields") or []
        if not isinstance(fields, list):
            problems.append(f"{where}.fields: expected a list")
            fields = []
        if len(fields) > DISCORD_FIELDS:
            problems.append(f"{where}.fields: {len(fields)} fields, limit {DISCORD_FIELDS}")
        for j, f in enumerate(fields):
            fw = f"{where}.fields[{j}]"
            if not isinstance(f, dict):
                problems.append(f"{fw}: expected an object")
                continue
            check_len(problems, f"{fw}.name", f.get("name"), DISCORD_FIELD_NAME, required=True)
            check_len(problems, f"{fw}.value", f.get("value"), DISCORD_FIELD_VALUE, required=True)
        total += embed_total(e)
    if total > DISCORD_MESSAGE_TOTAL:
        problems.append(f"embeds: {total} characters in all, limit {DISCORD_MESSAGE_TOTAL}")
    mentions = payload.get("allowed_mentions")
    if (
        not isinstance(mentions, dict)
        or mentions.get("parse") != []
        or any(mentions.get(k) for k in ("users", "roles", "replied_user"))
    ):
        problems.append(f"allowed_mentions: must be {{'parse': []}}, got {mentions!r}")
    return problems
