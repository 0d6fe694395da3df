"""The platforms' message limits (docs/PLATFORMS.md) and validators that check a payload
against them. The renderers enforce these limits themselves; the validators are the
independent check (tests, and anyone who builds a payload by hand).

Lengths are counted in UTF-16 code units (see text.platform_len): never less than what the
platforms count.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.platforms.text import platform_len, safe_link

# -- Discord ----------------------------------------------------------------------------------

DISCORD_CONTENT = 2000
DISCORD_EMBEDS = 10
DISCORD_TITLE = 256
DISCORD_AUTHOR = 256
DISCORD_FIELD_NAME = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_VALUE = 1024
DISCORD_FOOTER = 2048
DISCORD_BUTTON_LABEL = 80
DISCORD_CUSTOM_ID = 100
DISCORD_MESSAGE_TOTAL = 6000  # titles, descriptions, field names/values, footers, authors

# -- Slack ------------------------------------------------------------------------------------

SLACK_BLOCKS = 50
SLACK_SECTION = 3000
SLACK_HEADER = 150
SLACK_SECTION_FIELDS = 10
SLACK_FIELD = 2000
SLACK_CONTEXT_ELEMENTS = 10
SLACK_ACTIONS = 25
SLACK_BUTTON_TEXT = 75
SLACK_BUTTON_VALUE = 2000
SLACK_ACTION_ID = 255
SLACK_TEXT = 40_000
SLACK_BLOCK_ID = 255
# msg_blocks_too_long shows up at about 13,000 characters of blocks JSON: stay well under.
SLACK_BLOCKS_JSON = 12_000


def blocks_json_len(blocks: Any) -> int:
    """Size of the blocks as they travel (compact JSON), in UTF-16 units."""
    return platform_len(json.dumps(blocks, ensure_ascii=False, separators=(",", ":")))


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


def _check_len(
    problems: list[str], where: str, value: Any, limit: int, *, required: bool = False
) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {type(value).__name__}")
        return
    n = platform_len(value)
    if n > limit:
        problems.append(f"{where}: {n} characters, limit {limit}")
    if required and not value.strip():
        problems.append(f"{where}: must not be empty")


def validate_discord_message(payload: dict[str, Any]) -> list[str]:
    """Everything in a Discord message payload that the API would refuse (or that would let a
    mention ping); an empty list when it is valid. Unknown keys (nonce...) are ignored."""
    if not isinstance(payload, dict):
        return ["payload: expected an object"]
    problems: list[str] = []
    content = payload.get("content")
    _check_len(problems, "content", content, DISCORD_CONTENT)
    embeds = payload.get("embeds") or []
    if not isinstance(embeds, list):
        return [*problems, "embeds: expected a list"]
    if len(embeds) > DISCORD_EMBEDS:
        problems.append(f"embeds: {len(embeds)} embeds, limit {DISCORD_EMBEDS}")
    if not embeds and not (isinstance(content, str) and content.strip()):
        problems.append("message: neither content nor embeds (Discord refuses an empty message)")
    for r, row in enumerate(payload.get("components") or []):
        for c, comp in enumerate((row or {}).get("components") or []):
            where = f"components[{r}][{c}]"
            _check_len(problems, f"{where}.label", comp.get("label"), DISCORD_BUTTON_LABEL)
            _check_len(problems, f"{where}.custom_id", comp.get("custom_id"), DISCORD_CUSTOM_ID)
    total = 0
    for i, e in enumerate(embeds):
        where = f"embeds[{i}]"
        if not isinstance(e, dict):
            problems.append(f"{where}: expected an object")
            continue
        _check_len(problems, f"{where}.title", e.get("title"), DISCORD_TITLE)
        _check_len(problems, f"{where}.description", e.get("description"), DISCORD_DESCRIPTION)
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
            _check_len(problems, f"{where}.footer.text", text, DISCORD_FOOTER, required=True)
        author = e.get("author")
        if author is not None:
            name = author.get("name") if isinstance(author, dict) else None
            _check_len(problems, f"{where}.author.name", name, DISCORD_AUTHOR, required=True)
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
            _check_len(problems, f"{fw}.name", f.get("name"), DISCORD_FIELD_NAME, required=True)
            _check_len(problems, f"{fw}.value", f.get("value"), DISCORD_FIELD_VALUE, required=True)
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


def _check_text_object(
    problems: list[str], where: str, obj: Any, limit: int, *, kinds: tuple[str, ...]
) -> None:
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected a text object")
        return
    if obj.get("type") not in kinds:
        problems.append(f"{where}.type: {obj.get('type')!r}, expected one of {kinds}")
    _check_len(problems, f"{where}.text", obj.get("text"), limit, required=True)


def validate_slack_message(payload: dict[str, Any]) -> list[str]:
    """Everything in a chat.postMessage body (text, blocks) that Slack would refuse; an empty
    list when it is valid. Also flags blocks JSON above SLACK_BLOCKS_JSON (msg_blocks_too_long
    starts near 13,000 characters)."""
    if not isinstance(payload, dict):
        return ["payload: expected an object"]
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    _check_len(problems, "text", text, SLACK_TEXT, required=not blocks)
    if blocks is None:
        return problems
    if not isinstance(blocks, list):
        return [*problems, "blocks: expected a list"]
    if len(blocks) > SLACK_BLOCKS:
        problems.append(f"blocks: {len(blocks)} blocks, limit {SLACK_BLOCKS}")
    size = blocks_json_len(blocks)
    if size > SLACK_BLOCKS_JSON:
        problems.append(f"blocks: {size} characters of JSON, limit {SLACK_BLOCKS_JSON}")
    for i, b in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(b, dict):
            problems.append(f"{where}: expected an object")
            continue
        if "block_id" in b:
            _check_len(problems, f"{where}.block_id", b["block_id"], SLACK_BLOCK_ID)
        kind = b.get("type")
        if kind == "header":
            _check_text_object(
                problems, f"{where}.text", b.get("text"), SLACK_HEADER, kinds=("plain_text",)
            )
        elif kind == "section":
            if "text" not in b and "fields" not in b:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in b:
                _check_text_object(
                    problems,
                    f"{where}.text",
                    b["text"],
                    SLACK_SECTION,
                    kinds=("mrkdwn", "plain_text"),
                )
            fields = b.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > SLACK_SECTION_FIELDS:
                    problems.append(f"{where}.fields: at most {SLACK_SECTION_FIELDS} fields")
                else:
                    for j, f in enumerate(fields):
                        _check_text_object(
                            problems,
                            f"{where}.fields[{j}]",
                            f,
                            SLACK_FIELD,
                            kinds=("mrkdwn", "plain_text"),
                        )
        elif kind == "context":
            elements = b.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= SLACK_CONTEXT_ELEMENTS:
                problems.append(f"{where}.elements: 1 to {SLACK_CONTEXT_ELEMENTS} elements")
            else:
                for j, el in enumerate(elements):
                    _check_text_object(
                        problems,
                        f"{where}.elements[{j}]",
                        el,
                        SLACK_SECTION,
                        kinds=("mrkdwn", "plain_text"),
                    )
        elif kind == "actions":
            elements = b.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= SLACK_ACTIONS:
                problems.append(f"{where}.elements: 1 to {SLACK_ACTIONS} elements")
            else:
                ids = [el.get("action_id") for el in elements if isinstance(el, dict)]
                if len(set(ids)) != len(ids):
                    problems.append(f"{where}.elements: action_id repeated in one block")
                for j, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") == "button":
                        _check_text_object(
                            problems,
                            f"{where}.elements[{j}].text",
                            el.get("text"),
                            SLACK_BUTTON_TEXT,
                            kinds=("plain_text",),
                        )
                        _check_len(
                            problems,
                            f"{where}.elements[{j}].value",
                            el.get("value"),
                            SLACK_BUTTON_VALUE,
                        )
                        _check_len(
                            problems,
                            f"{where}.elements[{j}].action_id",
                            el.get("action_id"),
                            SLACK_ACTION_ID,
                        )
        elif kind not in ("divider", "image"):
            problems.append(f"{where}.type: unknown block type {kind!r}")
    return problems
