"""policybot's Slack HTTP endpoint (run_slack_http) on a free local port, talking to a fake
Slack: the set-up the end-to-end tests of the chat commands share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack.chat import run_slack_http
from tests.fakes.slack import FakeSlack
from tests.platforms.helpers import slack_problems
from tests.platforms.test_slack_e2e import settings


@asynccontextmanager
async def slack_http(ctx: Any, fake: FakeSlack, **kwargs: Any) -> AsyncIterator[str]:
    """Serve Slack's events for `ctx` (a CommandContext) and yield the events URL; on a
    normal exit, check that the fake saw no misuse of Slack's API; always stop the server.
    `kwargs` go to run_slack_http (a `handler`, a `client`)."""
    kwargs.setdefault("client", AsyncWebClient(token="xoxb-test", base_url=fake.api_base))
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_slack_http(
            ctx, settings(), 0, host="127.0.0.1", stop=stop, on_listening=port.set_result, **kwargs
        )
    )
    try:
        yield f"http://127.0.0.1:{await asyncio.wait_for(port, 10)}/slack/events"
        assert slack_problems(fake) == []
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
