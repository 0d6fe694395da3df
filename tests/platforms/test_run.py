"""run_chat_adapters: starts what the settings configure, side by side; one failing platform
leaves the other running; `stop` ends both."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms import run as run_module
from bot.platforms.run import run_chat_adapters, slack_http_port, slack_mode
from bot.platforms.slack.chat import configured_admins
from tests.fakes.discord import FakeDiscord
from tests.platforms.helpers import FakeHandler, opt, sub_option, until
from tests.platforms.test_slack_e2e import FakeSlackWithUsers, settings


def test_slack_mode() -> None:
    assert slack_mode(settings()) == "socket"
    assert slack_mode(settings(SLACK_APP_TOKEN="")) == "http"
    assert (
        slack_mode(
            SimpleNamespace(slack_bot_token="x", slack_mode="http", slack_app_token="xapp-1")
        )
        == "http"
    )
    assert slack_mode(SimpleNamespace(slack_bot_token=None)) is None
    assert slack_mode(settings(SLACK_APP_TOKEN="", SLACK_SIGNING_SECRET="")) is None
    # The real Settings: HTTP mode forced although an app token is set, on another port.
    forced = settings(slack_mode="http", slack_http_port="8099")
    assert (slack_mode(forced), slack_http_port(forced)) == ("http", 8099)
    assert slack_http_port(settings()) == 3000


async def test_http_mode_can_be_forced_and_its_port_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    async def fake_http(ctx: Any, settings: Any, port: int, **kw: Any) -> None:
        started.append(port)

    async def no_socket(*args: Any, **kw: Any) -> None:
        raise AssertionError("Socket Mode was started although HTTP mode was asked for")

    monkeypatch.setattr(run_module, "run_slack_http", fake_http)
    monkeypatch.setattr(run_module, "run_slack_socket_mode", no_socket)
    for port, expected in ((8099, 8099), (0, 0), (None, 3000)):
        settings_ = SimpleNamespace(
            discord_token=None,
            slack_bot_token="xoxb-1",
            slack_app_token="xapp-1",
            slack_signing_secret="s",
            slack_mode="http",
            slack_http_port=port,
        )
        assert await run_chat_adapters(None, settings_, stop=asyncio.Event()) == ["slack"]
        assert started.pop() == expected


def test_slack_admins_from_settings_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_SLACK_ADMINS", "U0ENV")
    # A comma-separated string (what POLICYBOT_SLACK_ADMINS holds), not a set of characters
    assert configured_admins(SimpleNamespace(slack_admins="U1, U2,")) == {"U1", "U2"}
    assert configured_admins(SimpleNamespace(slack_admins=["U3", " U4 "])) == {"U3", "U4"}
    for unset in (
        SimpleNamespace(slack_admins=None),
        SimpleNamespace(slack_admins=""),
        SimpleNamespace(),
        None,
    ):
        assert configured_admins(unset) == {"U0ENV"}


async def test_nothing_configured_returns_at_once() -> None:
    empty = settings(SLACK_BOT_TOKEN="", SLACK_APP_TOKEN="", SLACK_SIGNING_SECRET="")
    assert await run_chat_adapters(None, empty, stop=asyncio.Event()) == []


@pytest.mark.parametrize("discord_fails", [False, True])
async def test_both_platforms_side_by_side(
    monkeypatch: pytest.MonkeyPatch, discord_fails: bool
) -> None:
    monkeypatch.delenv("POLICYBOT_SLACK_ADMINS", raising=False)
    handler = FakeHandler()
    discord_fake, slack_fake = FakeDiscord(), FakeSlackWithUsers(admins=set())
    async with discord_fake, slack_fake:
        if discord_fails:
            discord_fake.fail_next(
                "GET", "/api/v10/users/@me", 401, {"code": 0, "message": "401: Unauthorized"}
            )
        with discord_fake.patched():
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_chat_adapters(
                    "ctx",
                    settings(DISCORD_TOKEN="fake-token"),
                    stop=stop,
                    handler=handler,
                    slack_client=AsyncWebClient(token="xoxb-test", base_url=slack_fake.api_base),
                )
            )
            try:
                await until(lambda: slack_fake.connected)
                response_url = slack_fake.response_url()
                await slack_fake.send_envelope(
                    "slash_commands",
                    {
                        "team_id": "T0001",
                        "channel_id": "C1",
                        "user_id": "U1",
                        "user_name": "u",
                        "command": "/policy",
                        "text": "help",
                        "response_url": response_url,
                    },
                )
                await until(lambda: slack_fake.responses)
                if not discord_fails:
                    await until(lambda: discord_fake.identify)
                    await until(lambda: "global" in discord_fake.commands)
                    data = discord_fake.interaction(
                        "policy", sub_option("search", [opt("query", "x")])
                    )
                    await discord_fake.dispatch("INTERACTION_CREATE", data)
                    await until(
                        lambda: [
                            m for m in discord_fake.messages if m.get("_token") == data["token"]
                        ]
                    )
                    assert {r.caller.platform for r in handler.requests} == {"slack", "discord"}
                else:
                    assert not discord_fake.identify
                    assert not task.done()  # Slack keeps serving
            finally:
                stop.set()
                started = await asyncio.wait_for(task, 10)
    assert started == ["discord", "slack"]
