"""Shared by the adapter tests: a scripted handler, story builders, waiting, Discord payloads."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.commands.types import Reply, Request
from bot.platforms import validate_discord_message, validate_slack_message
from bot.types import Source, StoryPost

HOSTILE = "@everyone <@123456789012345678> <@&42> <!channel> [click](javascript:alert(1))"
LIVE_DISCORD_MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>")
LIVE_SLACK_MENTION = re.compile(r"<[!@#]|@(everyone|here|channel)\b")


def post(
    i: int = 1,
    *,
    title: str = "EU adopts the AI Act",
    url: str | None = None,
    summary: str = "The law sets obligations.",
) -> StoryPost:
    return StoryPost(
        story_id=i,
        title=title,
        url=url if url is not None else f"https://example.org/news/{i}",
        summary=summary,
        published=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        sources=(Source("Politico Europe", f"https://example.org/news/{i}"),),
        jurisdictions=("EU",),
        topics=("legislation",),
    )


@dataclass
class FakeHandler:
    """Records requests; answers with `reply(request)` (default: echo of the command)."""

    reply: Callable[[Request], Reply] | None = None
    requests: list[Request] = field(default_factory=list)
    ctxs: list[Any] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, request: Request, ctx: Any) -> Reply:
        self.requests.append(request)
        self.ctxs.append(ctx)
        if self.fail:
            raise RuntimeError("database exploded: secret detail /srv/app.py line 3")
        if self.reply is not None:
            return self.reply(request)
        return Reply(title=request.command.capitalize(), text=f"ran {request.command}")


def completer(field_name: str, prefix: str) -> list[tuple[str, str]]:
    """40 candidates, so the adapters must cut to 25."""
    base = [(f"Place {i:02d} ({field_name})", f"P{i:02d}") for i in range(40)]
    return [c for c in base if c[1].lower().startswith(prefix.lower()) or not prefix]


async def until(pred: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait for pred() to be truthy (event-driven systems under test; no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = pred()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def sub_option(
    name: str, options: list[dict[str, Any]] | None = None, group: str | None = None
) -> list[dict[str, Any]]:
    """The `data.options` of /policy NAME (or /policy GROUP NAME) with these options."""
    inner = [{"type": 1, "name": name, "options": options or []}]
    if group is not None:
        return [{"type": 2, "name": group, "options": inner}]
    return inner


def opt(name: str, value: Any, *, focused: bool = False) -> dict[str, Any]:
    kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
    out: dict[str, Any] = {"type": kind, "name": name, "value": value}
    if focused:
        out["focused"] = True
    return out


def discord_problems(fake: Any) -> list[str]:
    """What Discord would refuse in the messages a FakeDiscord received from the adapter:
    interaction answers (callback types 4 and 7) and follow-ups."""
    bodies = [
        c["body"]["data"] for c in fake.interaction_callbacks if c["body"].get("type") in (4, 7)
    ]
    bodies += [m["_request"] for m in fake.messages if "_token" in m]
    return [f"{i}: {p}" for i, b in enumerate(bodies) for p in validate_discord_message(b)]


def slack_problems(fake: Any) -> list[str]:
    """What Slack would refuse in the responses a FakeSlack received on its response_urls."""
    bodies = [{k: v for k, v in r.items() if not k.startswith("_")} for r in fake.responses]
    return [f"{i}: {p}" for i, b in enumerate(bodies) for p in validate_slack_message(b)]
