"""Chat adapters that cannot connect are retried with backoff (discord.com unreachable, say);
a rejected token stops that platform with what to fix; Socket Mode closes its session."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import discord
import pytest
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.platforms import run as run_module
from bot.platforms.run import permanent_failure, retry_delay, run_chat_adapters
from bot.platforms.slack import chat as slack_app
from tests.httpserver import LocalHTTPServer
from tests.platforms.helpers import FakeHandler, until
from tests.platforms.test_slack_e2e import settings

DISCORD_ONLY = {"DISCORD_TOKEN": "fake-token", "SLACK_BOT_TOKEN": ""}


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(run_module, "RETRY_MAX_SECONDS", 0.2)


def _dead_port() -> int:
    with LocalHTTPServer() as srv:
        return srv.port  # nothing listens there any more: connections are refused


def test_retry_delay_doubles_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    for attempt, base in ((1, 2.0), (2, 4.0), (3, 8.0), (8, 256.0), (9, 300.0), (50, 300.0)):
        for _ in range(20):
            assert base * 0.5 <= retry_delay(attempt, rng) <= base
    assert len({round(retry_delay(5, rng), 3) for _ in range(10)}) > 1  # jittered


def _slack_error(error: str) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="https://slack.com/api/apps.connections.open",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=200,
    )
    return SlackApiError("failed", response)


def test_which_failures_are_permanent() -> None:
    assert "DISCORD_TOKEN" in (permanent_failure(discord.LoginFailure("bad")) or "")
    assert "intents" in (permanent_failure(discord.PrivilegedIntentsRequired(None)) or "")
    assert "SLACK_BOT_TOKEN" in (permanent_failure(_slack_error("invalid_auth")) or "")
    assert permanent_failure(ValueError("DISCORD_TOKEN is not set")) == "DISCORD_TOKEN is not set"
    for transient in (
        OSError("Cannot connect to host discord.com:443"),
        TimeoutError(),
        _slack_error("ratelimited"),
        RuntimeError("something else"),
    ):
        assert permanent_failure(transient) is None, transient


async def test_discord_unreachable_at_start_is_retried_until_it_connects(
    quick_retries: None,
) -> None:
    from tests.fakes.discord import FakeDiscord

    async with FakeDiscord() as fake:
        with fake.patched(), structlog.testing.capture_logs() as logs:
            # discord.com refuses connections (the fake's gateway is there, its API is not)
            # (set directly: fake.patched() restores discord.com on leaving)
            discord.http.Route.BASE = f"http://127.0.0.1:{_dead_port()}/api"
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_chat_adapters("ctx", settings(**DISCORD_ONLY), stop=stop, handler=FakeHandler())
            )
            try:
                retries = lambda: [e for e in logs if e["event"] == "chat_adapter_retrying"]  # noqa: E731
                await until(lambda: len(retries()) >= 3)
                first, second, third = retries()[:3]
                assert first["platform"] == "discord" and first["attempt"] == 1
                assert "Cannot connect" in first["error"] or "refused" in first["error"].lower()
                assert (second["attempt"], third["attempt"]) == (2, 3)
                assert not task.done()
                discord.http.Route.BASE = fake.api_base  # back up
                await until(lambda: fake.identify)
                await until(lambda: "global" in fake.commands)
            finally:
                stop.set()
                started = await asyncio.wait_for(task, 10)
    assert started == ["discord"]
    assert not [e for e in logs if e["event"] == "chat_adapter_stopped"]
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


async def test_a_rejected_discord_token_stops_with_what_to_fix(quick_retries: None) -> None:
    from tests.fakes.discord import FakeDiscord

    async with FakeDiscord() as fake:
        fake.fail_next(
            "GET", "/api/v10/users/@me", 401, {"code": 0, "message": "401: Unauthorized"}
        )
        with fake.patched(), structlog.testing.capture_logs() as logs:
            # Returns by itself: nothing left to run, nothing retried.
            started = await asyncio.wait_for(
                run_chat_adapters("ctx", settings(**DISCORD_ONLY), stop=asyncio.Event()), 10
            )
    assert started == ["discord"]
    (stopped,) = [e for e in logs if e["event"] == "chat_adapter_stopped"]
    assert stopped["log_level"] == "error" and "Reset Token" in stopped["fix"]
    assert not [e for e in logs if e["event"] == "chat_adapter_retrying"]
    assert len([r for r in fake.requests if r.path == "/api/v10/users/@me"]) == 1


async def test_slack_socket_mode_unreachable_stops_promptly_and_closes_its_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handlers: list[Any] = []

    class Recording(slack_app.AsyncSocketModeHandler):  # type: ignore[misc]
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.client.ping_interval = 0.05  # slack-sdk's own retry pause
            handlers.append(self)

    monkeypatch.setattr(slack_app, "AsyncSocketModeHandler", Recording)

    async def tokens_fine(*args: Any) -> str:  # Slack answers auth.test; its socket does not
        return "T1"

    monkeypatch.setattr(slack_app, "check_tokens", tokens_fine)
    client = AsyncWebClient(token="xoxb-test", base_url=f"http://127.0.0.1:{_dead_port()}/api/")
    stop = asyncio.Event()
    task = asyncio.create_task(run_chat_adapters(None, settings(), stop=stop, slack_client=client))
    await until(lambda: handlers)
    await asyncio.sleep(0.3)  # a few failed connection attempts inside slack-sdk
    assert not task.done()
    stop.set()
    assert await asyncio.wait_for(task, 5) == ["slack"]
    (handler,) = handlers
    assert handler.client.closed and handler.client.aiohttp_client_session.closed


@pytest.mark.parametrize(
    ("bot_token", "app_token", "variable"),
    [
        ("xoxb-revoked", "xapp-test", "SLACK_BOT_TOKEN"),
        ("xoxb-test", "xapp-wrong", "SLACK_APP_TOKEN"),
    ],
)
async def test_a_refused_slack_token_stops_slack_with_one_line_naming_it(
    bot_token: str, app_token: str, variable: str, quick_retries: None
) -> None:
    """Not "connected" while every command fails, not slack-sdk retrying for ever: the bot
    asks Slack first and says which variable to fix."""
    from tests.fakes.slack import FakeSlack

    async with FakeSlack() as fake:
        client = AsyncWebClient(token=bot_token, base_url=fake.api_base)
        with structlog.testing.capture_logs() as logs:
            started = await asyncio.wait_for(
                run_chat_adapters(
                    None,
                    settings(SLACK_BOT_TOKEN=bot_token, SLACK_APP_TOKEN=app_token),
                    stop=asyncio.Event(),
                    slack_client=client,
                ),
                10,
            )
        if client.session is not None:
            await client.session.close()
    assert started == ["slack"]
    (stopped,) = [e for e in logs if e["event"] == "chat_adapter_stopped"]
    assert stopped["log_level"] == "error" and variable in stopped["fix"]
    assert not [e for e in logs if e["event"] in ("chat_adapter_retrying",)]
    assert not [e for e in logs if e["event"] == "slack_socket_mode_connected"]
