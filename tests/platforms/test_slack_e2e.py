"""The Slack adapter end to end through slack-bolt: signed HTTP requests to run_slack_http on
127.0.0.1 (real aiohttp server), Socket Mode against the local fake Slack, answers posted to
the fake's response_url."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.settings import Settings
from bot.commands.types import Reply, Request
from bot.platforms import validate_slack_message
from bot.platforms.chat import FAILED_TEXT
from bot.platforms.slack.chat import admins_from_env, run_slack_http, run_slack_socket_mode
from bot.platforms.slack.limits import SLACK_BLOCKS_JSON, blocks_json_len
from tests.fakes.server import json_response
from tests.fakes.slack import FakeSlack
from tests.platforms.helpers import (
    HOSTILE,
    LIVE_SLACK_MENTION,
    FakeHandler,
    post,
    slack_problems,
    until,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM, CHANNEL = "T0001", "C0NEWS"


class FakeSlackWithUsers(FakeSlack):
    """The shared fake plus users.info (workspace admins), which the adapter asks about."""

    def __init__(self, admins: set[str]) -> None:
        super().__init__()
        self.workspace_admins = admins

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/users.info", self._users_info)  # slack_sdk uses GET
        parent = super().build_app()
        for route in parent.router.routes():
            app.router.add_route(
                route.method,
                route.resource.canonical,  # type: ignore[union-attr]
                route.handler,
            )
        return app

    async def _users_info(self, request: web.Request) -> web.Response:
        args = await self._args(request)
        user = str(args.get("user", ""))
        return json_response(
            {
                "ok": True,
                "user": {
                    "id": user,
                    "team_id": TEAM,
                    "name": user.lower(),
                    "is_admin": user in self.workspace_admins,
                    "is_owner": False,
                },
            }
        )


def settings(**extra: str) -> Settings:
    values = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": "xapp-test",
        **extra,
    }
    return Settings.model_validate(values)


@dataclass
class Env:
    fake: FakeSlackWithUsers
    handler: FakeHandler
    url: str
    session: aiohttp.ClientSession

    async def post(
        self, body: str, *, timestamp: int | None = None, signature: str | None = None
    ) -> aiohttp.ClientResponse:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        headers = {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        resp = await self.session.post(self.url, data=body.encode(), headers=headers)
        await resp.read()
        return resp

    def command_body(self, text: str, *, user: str = "U0ANN") -> str:
        return urlencode(
            {
                "token": "legacy",
                "team_id": TEAM,
                "team_domain": "fake",
                "channel_id": CHANNEL,
                "channel_name": "news",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/policy",
                "text": text,
                "api_app_id": "A0001",
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(),
                "trigger_id": "1.2.3",
            }
        )

    def responses_for(self, body: str) -> list[dict[str, Any]]:
        rid = body.split("response%2F", 1)[1].split("&", 1)[0]
        return [r for r in self.fake.responses if r["_id"] == rid]

    async def responses(self, body: str, n: int = 1) -> list[dict[str, Any]]:
        await until(lambda: len(self.responses_for(body)) >= n)
        return self.responses_for(body)

    async def click(
        self,
        button: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        user: str = "U0ANN",
        ephemeral: bool = True,
    ) -> dict[str, Any]:
        """Click `button` (under `message`, when given) as `user`, as a signed block_actions
        payload; returns the one answer sent to its response URL."""
        url = self.fake.response_url()
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": "A0001",
            "token": "legacy",
            "trigger_id": "1.2.4",
            "team": {"id": TEAM, "domain": "fake"},
            "channel": {"id": CHANNEL, "name": "news"},
            "container": {"type": "message", "is_ephemeral": ephemeral},
            "response_url": url,
            "actions": [
                {
                    "action_id": button["action_id"],
                    "block_id": "b1",
                    "type": "button",
                    "value": button["value"],
                    "action_ts": "1",
                }
            ],
        }
        if message is not None:
            payload["message"] = {"ts": message.get("ts", "1.1"), "blocks": message["blocks"]}
            if "text" in message:
                payload["message"]["text"] = message["text"]
        resp = await self.post(urlencode({"payload": json.dumps(payload)}))
        assert resp.status == 200
        rid = url.rsplit("/", 1)[1]
        (answer,) = await until(lambda: [r for r in self.fake.responses if r["_id"] == rid])
        return answer


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.setenv("POLICYBOT_SLACK_ADMINS", "U0LIST, U0OTHER")
    fake = FakeSlackWithUsers(admins={"U0BOSS"})
    handler = FakeHandler()
    async with fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_base)
        stop = asyncio.Event()
        port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            run_slack_http(
                "the-ctx",
                settings(),
                0,
                host="127.0.0.1",
                handler=handler,
                client=client,
                stop=stop,
                on_listening=port.set_result,
            )
        )
        bound = await asyncio.wait_for(port, 10)
        async with aiohttp.ClientSession() as session:
            yield Env(fake, handler, f"http://127.0.0.1:{bound}/slack/events", session)
        assert slack_problems(fake) == []  # every reply of every test, validated
        stop.set()
        await asyncio.wait_for(task, 10)


def _search_reply(request: Request) -> Reply:
    page = int(request.args.get("page", 1))
    return Reply(
        title="Search",
        text=f"results page {page}",
        stories=(post(page), post(page + 10, title=HOSTILE, summary=HOSTILE)),
        page=page,
        has_more=page < 3,
        more_args={**request.args, "page": page + 1},
        ephemeral=not request.args.get("share", False),
    )


async def test_search_acks_then_responds_ephemerally_with_a_more_button(env: Env) -> None:
    env.handler.reply = _search_reply
    body = env.command_body("search eu ai act --jurisdiction EU --since 7d")
    resp = await env.post(body)
    assert resp.status == 200
    (msg,) = await env.responses(body)
    assert msg["response_type"] == "ephemeral"
    blob = json.dumps(msg["blocks"], ensure_ascii=False)
    assert "<https://example.org/news/1|EU adopts the AI Act>" in blob
    assert not LIVE_SLACK_MENTION.search(blob)
    actions = [b for b in msg["blocks"] if b["type"] == "actions"]
    (button,) = actions[0]["elements"]  # page 1: More only
    assert button["text"]["text"] == "More"
    (req,) = env.handler.requests
    assert req.command == "search"
    assert req.args == {"query": "eu ai act", "jurisdiction": "EU", "since": "7d"}
    assert (req.caller.platform, req.caller.scope, req.caller.channel, req.caller.user_id) == (
        "slack",
        TEAM,
        CHANNEL,
        "U0ANN",
    )
    assert req.caller.is_admin is False
    assert env.handler.ctxs == ["the-ctx"]
    # reading commands never ask Slack who is an admin
    assert not [r for r in env.fake.requests if r.path == "/api/users.info"]


async def test_more_button_runs_the_next_page_in_place(env: Env) -> None:
    env.handler.reply = _search_reply
    body = env.command_body("search ai act")
    await env.post(body)
    (msg,) = await env.responses(body)
    button = next(b for b in msg["blocks"] if b["type"] == "actions")["elements"][0]
    update = await env.click(button)
    assert update["replace_original"] is True
    assert "results page 2" in json.dumps(update["blocks"])
    assert env.handler.requests[-1].args == {"query": "ai act", "page": 2}
    labels = [
        e["text"]["text"] for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["Previous", "More"]

    # someone else's click changes nothing
    refusal = await env.click(button, user="U0EVE")
    assert "Only the person who searched" in refusal["text"]
    assert refusal["replace_original"] is False
    assert len(env.handler.requests) == 2


async def test_typing_mistakes_are_answered_in_the_ack(env: Env) -> None:
    body = env.command_body("serch eu ai act")
    resp = await env.post(body)
    assert resp.status == 200
    answer = json.loads(await resp.text())
    assert answer["response_type"] == "ephemeral"
    assert "Did you mean search" in json.dumps(answer["blocks"])
    assert not env.handler.requests
    bad = env.command_body("subscribe mode=hourly")
    answer = json.loads(await (await env.post(bad)).text())
    assert "instant, daily, weekly" in json.dumps(answer)
    assert "Example: /policy subscribe" in json.dumps(answer)


@pytest.mark.parametrize(
    ("user", "is_admin"),
    [("U0LIST", True), ("U0BOSS", True), ("U0ANN", False)],
)
async def test_subscribe_admins_from_the_list_or_slack(
    env: Env,
    user: str,
    is_admin: bool,
) -> None:
    body = env.command_body(
        "subscribe jurisdictions=CN,EU topics=legislation mode=daily at=09:00 tz=Europe/Berlin",
        user=user,
    )
    await env.post(body)
    await env.responses(body)
    (req,) = env.handler.requests
    assert req.command == "subscribe"
    assert req.args == {
        "jurisdictions": ["CN", "EU"],
        "topics": ["legislation"],
        "mode": "daily",
        "at": "09:00",
        "timezone": "Europe/Berlin",
    }
    assert req.caller.is_admin is is_admin
    asked = [r for r in env.fake.requests if r.path == "/api/users.info"]
    assert bool(asked) is (user != "U0LIST")  # the configured list needs no API call


@pytest.mark.parametrize(
    ("text", "command", "args"),
    [
        ("unsubscribe 3", "unsubscribe", {"id": "3"}),
        ("subscriptions --all", "subscriptions", {"all_channels": True}),
        ("digest 48", "digest", {"hours": 48}),
        ("feeds", "feeds", {}),
        ("feeds status", "feeds", {"action": "status"}),
        (
            'feeds add <https://example.org/f.xml> name="Example AI"',
            "feeds",
            {"action": "add", "url": "https://example.org/f.xml", "name": "Example AI"},
        ),
        ("feeds remove name=Example", "feeds", {"action": "remove", "name": "Example"}),
        ("feeds remove My Feed", "feeds", {"action": "remove", "url": "My Feed"}),
        ("why 42", "why", {"item": "42"}),
        ("help search", "help", {"command": "search"}),
        ("", "help", {}),
    ],
)
async def test_every_command_reaches_the_handler(
    env: Env, text: str, command: str, args: dict[str, Any]
) -> None:
    body = env.command_body(text)
    assert (await env.post(body)).status == 200
    (msg,) = await env.responses(body)
    assert msg["response_type"] == "ephemeral"
    (req,) = env.handler.requests
    assert (req.command, req.args) == (command, args)


async def test_shared_answers_go_in_channel(env: Env) -> None:
    env.handler.reply = _search_reply
    body = env.command_body("search chips --share")
    await env.post(body)
    (msg,) = await env.responses(body)
    assert msg["response_type"] == "in_channel"


async def test_handler_failure_is_a_short_message(env: Env) -> None:
    env.handler.fail = True
    body = env.command_body("search chips")
    await env.post(body)
    (msg,) = await env.responses(body)
    blob = json.dumps(msg)
    assert FAILED_TEXT[:20] in blob
    assert "exploded" not in blob and "app.py" not in blob
    assert msg["response_type"] == "ephemeral"


async def test_bad_signature_is_rejected(env: Env) -> None:
    body = env.command_body("search chips")
    resp = await env.post(body, signature="v0=" + "0" * 64)
    assert resp.status == 401
    resp = await env.post(
        body + "&text=tampered",
        signature=SignatureVerifier(SECRET).generate_signature(
            timestamp=str(int(time.time())), body=body
        ),
    )
    assert resp.status == 401
    assert not env.handler.requests


async def test_stale_timestamp_is_rejected(env: Env) -> None:
    body = env.command_body("search chips")
    resp = await env.post(body, timestamp=int(time.time()) - 10 * 60)  # correctly signed
    assert resp.status == 401
    assert not env.handler.requests


async def test_long_answers_are_split_within_slack_limits(env: Env) -> None:
    # Emoji count twice in UTF-16, as Slack's limit and our validator count them.
    env.handler.reply = lambda r: Reply(
        title="Search",
        ephemeral=False,
        stories=tuple(post(i, summary="😀" * 280) for i in range(50)),
    )
    body = env.command_body("search chips --share")
    await env.post(body)
    msgs = await env.responses(body, 3)
    assert 2 <= len(msgs) <= 5
    for m in msgs:
        assert validate_slack_message(m) == []  # 50 blocks, 12,000 units of blocks JSON...
        assert blocks_json_len(m["blocks"]) <= SLACK_BLOCKS_JSON
        assert m["response_type"] == "in_channel"
    sections = sum(1 for m in msgs for b in m["blocks"] if b["type"] == "section")
    assert sections == 50


def test_admins_from_env() -> None:
    assert admins_from_env({"POLICYBOT_SLACK_ADMINS": " U1, ,U2 "}) == {"U1", "U2"}
    assert admins_from_env({}) == frozenset()


async def test_socket_mode_acks_and_responds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICYBOT_SLACK_ADMINS", raising=False)
    fake = FakeSlackWithUsers(admins=set())
    handler = FakeHandler(reply=_search_reply)
    async with fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_base)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_slack_socket_mode(
                "ctx", settings(SLACK_SIGNING_SECRET=""), handler=handler, client=client, stop=stop
            )
        )
        try:
            await until(lambda: fake.connected)
            opened = fake.requests_to("POST", "/api/apps.connections.open")
            assert opened and opened[0].header("Authorization") == "Bearer xapp-test"
            response_url = fake.response_url()
            envelope = await fake.send_envelope(
                "slash_commands",
                {
                    "token": "legacy",
                    "team_id": TEAM,
                    "channel_id": CHANNEL,
                    "user_id": "U0ANN",
                    "user_name": "ann",
                    "command": "/policy",
                    "text": "search ai act --since 7d",
                    "api_app_id": "A0001",
                    "response_url": response_url,
                    "trigger_id": "1.2.3",
                },
            )
            ack = await fake.wait_ack(envelope)
            assert ack["envelope_id"] == envelope
            rid = response_url.rsplit("/", 1)[1]
            await until(lambda: [r for r in fake.responses if r["_id"] == rid])
            (msg,) = [r for r in fake.responses if r["_id"] == rid]
            assert msg["response_type"] == "ephemeral"
            assert "results page 1" in json.dumps(msg["blocks"])
            assert handler.requests[0].args == {"query": "ai act", "since": "7d"}
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def test_socket_mode_needs_an_app_token() -> None:
    with pytest.raises(ValueError, match="xapp-"):
        await run_slack_socket_mode(
            None, settings(SLACK_APP_TOKEN="xoxb-wrong"), handler=FakeHandler()
        )
