"""A fake Slack (Web API, incoming webhooks, response_url, Socket Mode) on 127.0.0.1.

- Web API under `/api/`: `auth.test`, `chat.postMessage` (JSON or form bodies), `chat.update`,
  `chat.postEphemeral`, `conversations.info`, `conversations.history` (posted messages,
  newest first, `metadata` with include_all_metadata; `fake.history_scope = False` makes it
  answer missing_scope), `apps.connections.open` (app token). A method
  the fake does not know answers `{"ok": true}` and is recorded like any other.
  Point slack_sdk at it: `AsyncWebClient(token, base_url=fake.api_base)`.
- Tokens: Web API calls need `Authorization: Bearer <token>` with a token in `fake.tokens`
  (default {"xoxb-test"}); otherwise `invalid_auth`.
- Channels: `fake.break_channel("C1", "channel_not_found")` makes every later post there fail
  with that error (status 200, ok false, as Slack does). One-off failures:
  `fake.fail_next("POST", "/api/chat.postMessage", 429, {"ok": False, "error": "ratelimited"},
  headers={"Retry-After": "3"})`.
- Incoming webhooks: `fake.webhook_url("T1/B1/x")` -> POST answers `ok` (text/plain);
  `fake.break_webhook(path, 404, "no_service")`.
- response_url: `fake.response_url()` gives a URL whose POSTs are recorded in
  `fake.responses`.
- Socket Mode: `apps.connections.open` returns `ws://127.0.0.1:PORT/socket`; on connect the
  fake sends `hello`; `await fake.send_envelope("slash_commands", payload)` pushes an event and
  returns its envelope_id; `fake.acks` collects what the app acknowledged.

Threads: a chat.postMessage with `thread_ts` is a reply (recorded with it; the answer's
`message.thread_ts` names the parent, as Slack's does); `fake.replies(channel, ts)` lists them.

Records: `fake.requests` (all), `fake.posts` (messages posted via chat.postMessage, each the
request's arguments plus `ts`), `fake.webhook_posts` (bodies posted to incoming webhooks).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.server import FakeServer, json_response


class FakeSlack(FakeServer):
    def __init__(
        self,
        *,
        tokens: set[str] | None = None,
        app_tokens: set[str] | None = None,
        team_id: str = "T0001",
        bot_user_id: str = "U0BOT",
        response_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.tokens = tokens if tokens is not None else {"xoxb-test"}
        self.app_tokens = app_tokens if app_tokens is not None else {"xapp-test"}
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.response_delay = response_delay
        self.posts: list[dict[str, Any]] = []
        self.webhook_posts: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.broken_channels: dict[str, str] = {}
        self.broken_webhooks: dict[str, tuple[int, str]] = {}
        self.history_scope = True  # False: conversations.history answers missing_scope
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._ack_event = asyncio.Event()

    @property
    def api_base(self) -> str:
        return f"{self.origin}/api/"

    def webhook_url(self, path: str = "T0001/B0001/secret") -> str:
        return f"{self.origin}/services/{path}"

    def response_url(self) -> str:
        return f"{self.origin}/response/{uuid.uuid4().hex}"

    def break_channel(self, channel: str, error: str = "channel_not_found") -> None:
        self.broken_channels[channel] = error

    def break_webhook(self, path: str, status: int = 404, body: str = "no_service") -> None:
        self.broken_webhooks[path] = (status, body)

    def posts_in(self, channel: str) -> list[dict[str, Any]]:
        return [p for p in self.posts if p.get("channel") == channel]

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies in the thread of message `ts`."""
        return [p for p in self.posts_in(channel) if str(p.get("thread_ts") or "") == ts]

    def _history(self, args: dict[str, Any]) -> web.Response:
        """conversations.history: the channel's messages, newest first; their metadata only
        with include_all_metadata (as Slack does); missing_scope unless `history_scope`."""
        if not self.history_scope:
            return json_response(
                {"ok": False, "error": "missing_scope", "needed": "channels:history"}
            )
        channel = str(args.get("channel", ""))
        if channel in self.broken_channels:
            return json_response({"ok": False, "error": self.broken_channels[channel]})
        with_meta = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(args.get("limit") or 100)
        found = [
            p
            for p in self.posts
            if p.get("channel") == channel
            and p["_method"] == "chat.postMessage"
            # Replies live in their thread (conversations.replies), not in the history.
            and not p.get("thread_ts")
        ]
        messages = []
        for p in reversed(found[-limit:]):
            m = {"type": "message", "ts": p["ts"], "text": p.get("text", ""), "bot_id": "B0BOT"}
            if with_meta and p.get("metadata"):
                m["metadata"] = p["metadata"]
            messages.append(m)
        return json_response({"ok": True, "messages": messages, "has_more": len(found) > limit})

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/services/{path:.*}", self._webhook)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_get("/socket", self._socket)
        return app

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        raw = await request.read()  # cached by aiohttp: the recorder read it already
        if raw:
            ctype = request.headers.get("Content-Type", "")
            if "json" in ctype:
                args.update(json.loads(raw or b"{}"))
            else:
                args.update(dict(parse_qsl(raw.decode("utf-8"))))
        for k in ("blocks", "attachments", "metadata"):
            if isinstance(args.get(k), str):  # form-encoded JSON fields
                args[k] = json.loads(args[k])
        return args

    def _token(self, request: web.Request, args: dict[str, Any]) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        return str(args.get("token", ""))

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = self._token(request, args)
        if method == "apps.connections.open":
            if token not in self.app_tokens:
                return json_response({"ok": False, "error": "invalid_auth"})
            return json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})
        if token not in self.tokens:
            return json_response({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return json_response(
                {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake",
                    "user": "policybot",
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "bot_id": "B0BOT",
                    "is_enterprise_install": False,
                }
            )
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            channel = str(args.get("channel", ""))
            if not channel:
                return json_response({"ok": False, "error": "channel_not_found"})
            if channel in self.broken_channels:
                return json_response({"ok": False, "error": self.broken_channels[channel]})
            if not args.get("text") and not args.get("blocks"):
                return json_response({"ok": False, "error": "no_text"})
            ts = args.get("ts") or f"{int(time.time())}.{next(self._ts):06d}"
            post = dict(args, ts=ts, _method=method)
            self.posts.append(post)
            if self.response_delay:
                await asyncio.sleep(self.response_delay)
            return json_response(
                {
                    "ok": True,
                    "channel": channel,
                    "ts": ts,
                    "message": {
                        "text": args.get("text", ""),
                        "ts": ts,
                        "blocks": args.get("blocks", []),
                        # A reply names its parent, as Slack's answer does.
                        **({"thread_ts": str(args["thread_ts"])} if args.get("thread_ts") else {}),
                    },
                }
            )
        if method == "conversations.history":
            return self._history(args)
        if method == "conversations.info":
            channel = str(args.get("channel", ""))
            if channel in self.broken_channels:
                return json_response({"ok": False, "error": self.broken_channels[channel]})
            return json_response(
                {"ok": True, "channel": {"id": channel, "name": channel.lower(), "is_member": True}}
            )
        return json_response({"ok": True})

    async def _webhook(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if path in self.broken_webhooks:
            status, body = self.broken_webhooks[path]
            return web.Response(status=status, text=body, content_type="text/html")
        body = await request.json()
        self.webhook_posts.append(dict(body, _path=path))
        if self.response_delay:
            await asyncio.sleep(self.response_delay)
        return web.Response(status=200, text="ok", content_type="text/html")

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append(dict(body, _id=request.match_info["rid"]))
        return web.Response(status=200, text="ok", content_type="text/html")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0001"},
                    "debug_info": {"host": "fake"},
                }
            )
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(msg.data))
                    self._ack_event.set()
        finally:
            self._sockets.remove(ws)
        return ws

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Push a Socket Mode envelope (e.g. "slash_commands") to every connected app."""
        envelope_id = uuid.uuid4().hex
        data = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
        }
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_str(json.dumps(data))
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for a in self.acks:
                    if a.get("envelope_id") == envelope_id:
                        return a
                self._ack_event.clear()
                await self._ack_event.wait()

        return await asyncio.wait_for(find(), timeout)

    @property
    def connected(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed)
