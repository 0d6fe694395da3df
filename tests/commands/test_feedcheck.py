"""`feeds add`'s feed check against a real local server: it never blocks the event loop and a
slow-drip server cannot hold it past its total deadline."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import bot.ingest.parse
from bot.app.runtime import fetch_options
from bot.commands import context as context_module
from bot.commands.context import CommandContext
from bot.commands.feedcheck import FeedCheck, check_feed
from bot.commands.ssrf import Policy
from tests.commands.feedserver import RSS
from tests.httpserver import LocalHTTPServer, Reply

LOCAL = Policy(allow_private=True)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        srv.route("/feed.xml", Reply(body=RSS, headers={"Content-Type": "application/rss+xml"}))
        # A valid feed, 16 bytes every 50 ms: about 20 s for the whole body.
        srv.route(
            "/drip.xml",
            Reply(
                body=RSS * 4,
                headers={"Content-Type": "application/rss+xml"},
                drip=0.05,
                drip_size=16,
            ),
        )
        yield srv


async def test_a_slow_drip_server_meets_the_total_deadline(server: LocalHTTPServer) -> None:
    started = time.monotonic()
    # Each read is quick (the per-read timeout never fires); only the total deadline helps.
    check = await check_feed(server.url("/drip.xml"), LOCAL, timeout=5.0, total_timeout=1.0)
    elapsed = time.monotonic() - started
    assert not check.ok and check.error is not None
    assert "within 1 s" in check.error
    assert elapsed < 10.0  # the whole body takes 20 s; the margin is for a loaded machine
    assert server.requests_to("/drip.xml")


async def test_parsing_runs_off_the_event_loop(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bot.ingest.parse.parse_feed
    seen: list[int] = []

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.get_ident())
        time.sleep(1.0)  # a big feed: the loop must keep ticking meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(bot.ingest.parse, "parse_feed", slow_parse)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        check = await check_feed(server.url("/feed.xml"), LOCAL)
    finally:
        task.cancel()
    assert check.ok and check.title == "Local AI Policy" and check.entries == 2
    assert seen and seen[0] != threading.get_ident()
    # ~100 ticks of 10 ms while parsing takes 1 s (far fewer on a loaded machine, but not
    # the one or two of a loop blocked by the parse).
    assert ticks >= 10


async def test_the_context_uses_the_configured_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    got: dict[str, Any] = {}

    async def fake_check(url: str, policy: Policy, **kw: Any) -> FeedCheck:
        got.update(kw)
        return FeedCheck(False, url, error="x")

    monkeypatch.setattr(context_module, "check_feed", fake_check)
    defaults = SimpleNamespace(
        read_timeout=7.0, total_timeout=12.0, max_redirects=3, max_body_bytes=1000, user_agent="ua"
    )
    options = fetch_options(SimpleNamespace(defaults=defaults))  # type: ignore[arg-type]
    ctx = CommandContext.of(storage=None, fetch_options=options)  # type: ignore[arg-type]
    assert ctx.bot.feed_checker is not None
    await ctx.bot.feed_checker("https://example.org/f")
    assert got == {
        "timeout": 7.0,
        "total_timeout": 12.0,
        "max_redirects": 3,
        "max_bytes": 1000,
        "user_agent": "ua",
    }
