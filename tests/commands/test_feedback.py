"""Feedback and feed-health pieces without a platform: the button ids, the config section,
the handlers' answers to bad input, and `/policy feeds` showing a standing warning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.config import ConfigError, parse_config
from bot.commands import Caller, CommandContext, Request, handle
from bot.commands.feedback import NOT_RELEVANT_COMMAND
from bot.deliver.health import sweep
from bot.platforms.discord.ids import MAX_CUSTOM_ID, page_id, parse_page_id
from bot.store.storage import Storage
from bot.types import FeedHealthOptions
from tests.deliver import helpers as h

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
USER = Caller("discord", "u2", scope="guildA", channel="chan1")


@pytest.fixture
def ctx(sqlite_url: str) -> Iterator[CommandContext]:
    storage = Storage.open(sqlite_url)
    yield CommandContext.of(storage=storage, clock=lambda: NOW)
    storage.close()


def test_paging_ids_round_trip_and_respect_the_limit() -> None:
    args = {"query": "AI Act 人工智能", "jurisdiction": "EU", "share": False, "page": 2}
    cid = page_id(400000000000000001, "search", args)
    assert cid is not None and len(cid) <= MAX_CUSTOM_ID
    assert parse_page_id(cid) == (
        400000000000000001,
        "search",
        {"query": "AI Act 人工智能", "jurisdiction": "EU", "page": 2},
    )
    assert page_id(1, "search", {"query": "x" * 100, "page": 2}) is None
    assert parse_page_id("pb:pg:zz:search:not json") is None


def test_feed_health_config(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "feeds": [],
            "feed_health": {
                "warn_after": "12h",
                "channel": {"platform": "slack", "channel": "COPS12345"},
            },
        },
        tmp_path / "feeds.yaml",
    )
    opts = cfg.feed_health_options()
    assert opts.warn_after == timedelta(hours=12) and opts.enabled
    assert opts.ops_channel is not None and opts.ops_channel.channel == "COPS12345"
    with pytest.raises(ConfigError) as info:
        parse_config({"feeds": [], "feed_health": {"warn_after": "soon"}}, tmp_path / "f.yaml")
    assert "warn_after" in str(info.value)


async def test_feedback_handlers_say_what_to_do(ctx: CommandContext) -> None:
    empty = await handle(Request("missed", {}, USER), ctx)
    assert empty.error and "say which story" in empty.text
    gone = await handle(Request(NOT_RELEVANT_COMMAND, {"story": 999}, USER), ctx)
    assert gone.error and "no longer stored" in gone.text
    assert ctx.bot.feedback() == []


async def test_feeds_shows_the_warning_the_channels_got(ctx: CommandContext) -> None:
    with ctx.bot.storage.write() as s:
        f = h.feed(s, "Gone Feed")
        f.last_success_at = NOW - timedelta(days=1)
        f.consecutive_failures = 4
        f.last_error = "HTTP 500"
    assert sweep(ctx.bot.storage, FeedHealthOptions(), NOW) != []
    reply = await handle(Request("feeds", {}, USER), ctx)
    (row,) = reply.table.rows if reply.table else ()
    assert row[0] == "Gone Feed" and "warned 2026-11-20 12:00 UTC" in row[1]
    assert "1 with a warning posted" in reply.text
