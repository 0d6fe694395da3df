"""Slack's message limits and a validator that checks a chat.postMessage body against them.

The renderers enforce these limits themselves; the validator is the independent check (tests,
and anyone who builds a payload by hand). Lengths are counted in UTF-16 code units
(text.platform_len): never less than Slack counts. The limits, from Slack's Block Kit
reference: 50 blocks; a section's text 3000 characters and 10 fields of 2000; a header 150;
10 context elements; 25 actions; a message's text 40,000; a block_id 255.
"""

from __future__ import annotations

import json
from typing import Any

from bot.platforms.text import check_len, platform_len

SLACK_BLOCKS = 50
SLACK_SECTION = 3000
SLACK_HEADER = 150
SLACK_SECTION_FIELDS = 10
SLACK_FIELD = 2000
SLACK_CONTEXT_ELEMENTS = 10
SLACK_ACTIONS = 25
SLACK_TEXT = 40_000
SLACK_BLOCK_ID = 255
# msg_blocks_too_long shows up at about 13,000 characters of blocks JSON: stay well under.
SLACK_BLOCKS_JSON = 12_000


def blocks_json_len(blocks: Any) -> int:
    """Size of the blocks as they travel (compact JSON), in UTF-16 units."""
    return platform_len(json.dumps(blocks, ensure_ascii=False, separators=(",", ":")))


def _check_text_object(
    problems: list[str], where: str, obj: Any, limit: int, *, kinds: tuple[str, ...]
) -> None:
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected a text object")
        return
    if obj.get("type") not in kinds:
        problems.append(f"{where}.type: {obj.get('type')!r}, expected one of {kinds}")
    check_len(problems, f"{where}.text", obj.get("text"), limit, required=True)


def validate_slack_message(payload: dict[str, Any]) -> list[str]:
    """Everything in a chat.postMessage body (text, blocks) that Slack would refuse; an empty
    list when it is valid. Also flags blocks JSON above SLACK_BLOCKS_JSON (msg_blocks_too_long
    starts near 13,000 characters)."""
    if not isinstance(payload, dict):
        return ["payload: expected an object"]
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    check_len(problems, "text", text, SLACK_TEXT, required=not blocks)
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
            check_len(problems, f"{where}.block_id", b["block_id"], SLACK_BLOCK_ID)
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
        elif kind not in ("divider", "image"):
            problems.append(f"{where}.type: unknown block type {kind!r}")
    return problems
