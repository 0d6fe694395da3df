"""A fake Discord (REST API v10, webhooks, gateway) on 127.0.0.1, for discord.py 2.x.

What it does (enough for delivery and for slash-command adapters):

- REST: `GET /users/@me`, `GET /oauth2/applications/@me`, `GET /gateway[/bot]`,
  `POST /channels/{id}/messages` (Discord's `enforce_nonce` dedup: the same nonce in the same
  channel returns the first message again instead of creating one),
  `POST /webhooks/{id}/{token}` (`?wait=true` returns the message; also interaction
  follow-ups), `PATCH|GET|DELETE /webhooks/{app}/{token}/messages/{id|@original}`,
  `PUT|GET /applications/{app}/commands` and `.../guilds/{gid}/commands` (stored as sent),
  `POST /interactions/{id}/{token}/callback` (answers as Discord does).
- Threads and forums: `GET /channels/{id}` (a text channel unless `fake.add_forum(id, tags)`
  made it a forum with those `available_tags`), `POST /channels/{id}/messages/{mid}/threads`
  (a thread on a message, id = the message's; again: 400 code 160004),
  `POST /channels/{id}/threads` (in a forum: a post, its first message in `fake.messages` with
  `channel_id` = the post's id; elsewhere 400 50035), webhooks' `thread_name` (a forum post)
  and `?thread_id=` (into a thread). Records: `fake.threads` (thread id -> the thread object,
  with the request's `applied_tags`).
- Gateway at `/gw`: HELLO -> IDENTIFY -> READY (+ GUILD_CREATE for `guilds`), heartbeat ACKs,
  RESUME -> RESUMED; `await fake.dispatch("INTERACTION_CREATE", data)` pushes any event.
- Failures: `fake.fail_next("POST", "/api/v10/channels/1/messages", 429, {...}, headers=...)`
  (see FakeServer.fail_next), or for good: `fake.break_channel(channel_id, 403, 50001)`.
  `rate_limit_body(retry_after)` and `RATE_LIMIT_HEADERS` build a 429 discord.py honours.
- `response_delay`: seconds to wait AFTER creating a message and BEFORE answering (a slow
  server: a client killed meanwhile has posted without knowing it).

Records: `fake.requests` (every HTTP request), `fake.messages` (messages created, in order),
`fake.identify` (IDENTIFY payloads), `fake.commands` (application commands last PUT),
`fake.peak_gateways` (the most gateway sessions that were open at one time).

Point discord.py at it with `with fake.patched():` (sets and restores
`discord.http.Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY`). Webhook URLs must still
look like Discord's: use `fake.webhook_url(webhook_id, token)`; discord.py builds the request
URL from Route.BASE. Build clients with `guild_ready_timeout=0.1` so `on_ready` is quick.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.server import FakeServer, json_response

DISCORD_EPOCH_MS = 1420070400000
RATE_LIMIT_HEADERS = {"Via": "1.1 google", "Retry-After": "1"}  # Via: not a Cloudflare ban


def rate_limit_body(retry_after: float, *, is_global: bool = False) -> dict[str, Any]:
    return {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


ERRORS = {
    50001: "Missing Access",
    50013: "Missing Permissions",
    10003: "Unknown Channel",
    10015: "Unknown Webhook",
    50035: "Invalid Form Body",
}


class FakeDiscord(FakeServer):
    def __init__(
        self,
        *,
        bot_user_id: int = 100000000000000001,
        application_id: int = 100000000000000002,
        bot_name: str = "policybot",
        guilds: list[dict[str, Any]] | None = None,
        response_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.bot_user = {
            "id": str(bot_user_id),
            "username": bot_name,
            "discriminator": "0",
            "global_name": bot_name,
            "avatar": None,
            "bot": True,
            "flags": 0,
        }
        self.application_id = application_id
        self.guilds = guilds or []
        self.response_delay = response_delay
        self.messages: list[dict[str, Any]] = []
        self.identify: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> commands
        self.interaction_callbacks: list[dict[str, Any]] = []
        self.broken_channels: dict[str, tuple[int, int]] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # channel id -> object (GET /channels)
        self.threads: dict[str, dict[str, Any]] = {}  # thread id -> thread object
        self._nonces: dict[tuple[str, str], dict[str, Any]] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self.peak_gateways = 0  # gateway sessions open at once, at most
        self._gateway_seq = 0

    # -- addresses ------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"{self.origin}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw"

    @staticmethod
    def webhook_url(webhook_id: int = 123456789012345678, token: str | None = None) -> str:
        token = token or ("t" * 68)
        return f"https://discord.com/api/webhooks/{webhook_id}/{token}"

    @contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gw = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield self
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gw

    # -- helpers --------------------------------------------------------------------------------

    def snowflake(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | (next(self._ids) & 0x3FFFFF))

    def break_channel(self, channel_id: int | str, status: int = 403, code: int = 50001) -> None:
        """Every later message to this channel fails with this Discord error."""
        self.broken_channels[str(channel_id)] = (status, code)

    @staticmethod
    def webhook_channel(webhook_id: int | str) -> str:
        """The channel a webhook posts into (webhook id + 1 in this fake)."""
        return str(int(webhook_id) + 1)

    def add_forum(self, channel_id: int | str, tags: list[str]) -> list[dict[str, Any]]:
        """Make a channel a forum (type 15) with these tags; returns the tag objects."""
        objs = [
            {"id": self.snowflake(), "name": t, "moderated": False, "emoji_id": None} for t in tags
        ]
        self.channels[str(channel_id)] = {
            "id": str(channel_id),
            "type": 15,
            "guild_id": "200000000000000001",
            "name": "policy-forum",
            "available_tags": objs,
        }
        return objs

    def channel_object(self, channel_id: str) -> dict[str, Any]:
        return self.channels.get(
            channel_id,
            {"id": channel_id, "type": 0, "guild_id": "200000000000000001", "name": "news"},
        )

    def _thread_object(self, thread_id: str, parent: str, name: str) -> dict[str, Any]:
        return {
            "id": thread_id,
            "type": 11,
            "guild_id": "200000000000000001",
            "parent_id": parent,
            "name": name,
            "owner_id": self.bot_user["id"],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 10080,
                "archive_timestamp": datetime.now(UTC).isoformat(),
                "locked": False,
            },
            "message_count": 0,
            "member_count": 1,
        }

    def messages_in(self, channel_id: int | str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel_id"] == str(channel_id)]

    def message_object(
        self, channel_id: str, body: dict[str, Any], *, webhook_id: str | None = None
    ) -> dict[str, Any]:
        author = dict(self.bot_user)
        if webhook_id is not None:
            author = {
                "id": webhook_id,
                "username": body.get("username") or "webhook",
                "discriminator": "0000",
                "avatar": None,
                "bot": True,
            }
        msg: dict[str, Any] = {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "author": author,
            "content": body.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
        }
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if webhook_id is not None:
            msg["webhook_id"] = webhook_id
        return msg

    # -- REST -------------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._application)
        r.add_get("/api/v10/gateway", self._gateway_info)
        r.add_get("/api/v10/gateway/bot", self._gateway_info)
        r.add_post("/api/v10/channels/{channel_id}/messages", self._channel_message)
        r.add_get("/api/v10/channels/{channel_id}", self._get_channel)
        r.add_post(
            "/api/v10/channels/{channel_id}/messages/{message_id}/threads", self._message_thread
        )
        r.add_post("/api/v10/channels/{channel_id}/threads", self._start_thread)
        r.add_post("/api/v10/webhooks/{webhook_id}/{token}", self._execute_webhook)
        r.add_route(
            "*",
            "/api/v10/webhooks/{webhook_id}/{token}/messages/{message_id}",
            self._webhook_message,
        )
        r.add_route("*", "/api/v10/applications/{app_id}/commands", self._commands)
        r.add_route(
            "*", "/api/v10/applications/{app_id}/guilds/{guild_id}/commands", self._commands
        )
        r.add_post("/api/v10/interactions/{interaction_id}/{token}/callback", self._callback)
        r.add_get("/gw", self._gateway)
        return app

    async def _me(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bot "):
            return json_response(error_body(0, "401: Unauthorized"), 401)
        return json_response(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user["username"],
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": {k: v for k, v in self.bot_user.items() if k != "bot"},
                "flags": 0,
                "summary": "",
            }
        )

    async def _gateway_info(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        if channel_id in self.broken_channels:
            status, code = self.broken_channels[channel_id]
            return json_response(error_body(code, ERRORS.get(code, "error")), status)
        body = await request.json()
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            existing = self._nonces.get((channel_id, str(nonce)))
            if existing is not None:
                return json_response(existing)
        msg = self.message_object(channel_id, body)
        msg["_request"] = body  # the raw body, for assertions
        self.messages.append(msg)
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = {
                k: v for k, v in msg.items() if k != "_request"
            }
        if self.response_delay:
            await asyncio.sleep(self.response_delay)
        return json_response({k: v for k, v in msg.items() if k != "_request"})

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        if channel_id in self.broken_channels:
            status, code = self.broken_channels[channel_id]
            return json_response(error_body(code, ERRORS.get(code, "error")), status)
        if channel_id in self.threads:
            return json_response(self.threads[channel_id])
        return json_response(self.channel_object(channel_id))

    async def _message_thread(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        message_id = request.match_info["message_id"]
        body = await request.json()
        if not any(m["id"] == message_id for m in self.messages_in(channel_id)):
            return json_response(error_body(10008, "Unknown Message"), 404)
        if message_id in self.threads:
            return json_response(
                error_body(160004, "A thread has already been created for this message"), 400
            )
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            return json_response(error_body(50035, "Invalid Form Body"), 400)
        thread = self._thread_object(message_id, channel_id, name)
        thread["_request"] = body
        self.threads[message_id] = thread
        return json_response({k: v for k, v in thread.items() if k != "_request"})

    async def _start_thread(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        body = await request.json()
        channel = self.channel_object(channel_id)
        name = str(body.get("name") or "")
        if channel["type"] != 15 or not isinstance(body.get("message"), dict):
            return json_response(error_body(50035, "Invalid Form Body"), 400)
        if not 1 <= len(name) <= 100:
            return json_response(error_body(50035, "Invalid Form Body"), 400)
        known = {t["id"] for t in channel.get("available_tags", [])}
        tags = [str(t) for t in body.get("applied_tags") or []]
        if len(tags) > 5 or not set(tags) <= known:
            return json_response(error_body(50035, "Invalid Form Body"), 400)
        thread_id = self.snowflake()
        thread = self._thread_object(thread_id, channel_id, name)
        thread["applied_tags"] = tags
        msg = self.message_object(thread_id, body["message"])
        msg["id"] = thread_id  # a forum post's first message has the post's id
        msg["_request"] = body["message"]
        self.messages.append(msg)
        self.threads[thread_id] = dict(thread, _request=body)
        out = dict(thread, message={k: v for k, v in msg.items() if k != "_request"})
        return json_response(out)

    async def _execute_webhook(self, request: web.Request) -> web.Response:
        webhook_id = request.match_info["webhook_id"]
        if webhook_id in self.broken_channels:
            status, code = self.broken_channels[webhook_id]
            return json_response(error_body(code, ERRORS.get(code, "error")), status)
        body = await request.json()
        where = self.webhook_channel(webhook_id)
        if request.query.get("thread_id"):
            where = request.query["thread_id"]  # a message in a thread or forum post
        elif body.get("thread_name"):  # a post in the webhook's forum channel
            where = self.snowflake()
            self.threads[where] = dict(
                self._thread_object(where, self.webhook_channel(webhook_id), body["thread_name"]),
                applied_tags=[str(t) for t in body.get("applied_tags") or []],
            )
        msg = self.message_object(where, body, webhook_id=webhook_id)
        msg["_request"] = body
        msg["_token"] = request.match_info["token"]
        self.messages.append(msg)
        if self.response_delay:
            await asyncio.sleep(self.response_delay)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response({k: v for k, v in msg.items() if not k.startswith("_")})
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body: dict[str, Any] = json.loads(raw) if raw else {}
        if request.method == "DELETE":
            return web.Response(status=204)
        webhook_id = request.match_info["webhook_id"]
        msg = self.message_object(self.webhook_channel(webhook_id), body, webhook_id=webhook_id)
        return json_response(msg)

    async def _commands(self, request: web.Request) -> web.Response:
        key = request.match_info.get("guild_id", "global")
        if request.method == "PUT":
            sent = await request.json()
            stored = []
            for c in sent:
                c = dict(c)
                c.setdefault("id", self.snowflake())
                c["application_id"] = str(self.application_id)
                c.setdefault("version", "1")
                c.setdefault("type", 1)
                c.setdefault("default_member_permissions", None)
                c.setdefault("dm_permission", True)
                stored.append(c)
            self.commands[key] = stored
            return json_response(stored)
        return json_response(self.commands.get(key, []))

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.interaction_callbacks.append(
            {
                "interaction_id": request.match_info["interaction_id"],
                "token": request.match_info["token"],
                "body": body,
            }
        )
        return json_response(
            {
                "interaction": {
                    "id": request.match_info["interaction_id"],
                    "type": 2,
                    "response_message_loading": False,
                    "response_message_ephemeral": False,
                },
                "resource": {"type": body.get("type", 4)},
            }
        )

    # -- gateway --------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self.peak_gateways = max(self.peak_gateways, len(self._sockets))
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                op = data.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    self.identify.append(data.get("d") or {})
                    await self._send_event(ws, "READY", self._ready())
                    for g in self.guilds:
                        await self._send_event(ws, "GUILD_CREATE", g)
                elif op == 6:
                    await self._send_event(ws, "RESUMED", {})
        finally:
            self._sockets.remove(ws)
        return ws

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": g["id"], "unavailable": True} for g in self.guilds],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "shard": [0, 1],
        }

    async def _send_event(self, ws: web.WebSocketResponse, name: str, data: Any) -> None:
        self._gateway_seq += 1
        await ws.send_str(json.dumps({"op": 0, "t": name, "s": self._gateway_seq, "d": data}))

    async def dispatch(self, name: str, data: Any) -> int:
        """Send a gateway event to every connected client; returns how many got it."""
        n = 0
        for ws in list(self._sockets):
            if not ws.closed:
                await self._send_event(ws, name, data)
                n += 1
        return n

    def interaction(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        guild_id: int = 200000000000000001,
        channel_id: int = 300000000000000001,
        user_id: int = 400000000000000001,
        permissions: str = "8",
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a slash command (type 2)."""
        command = next(
            (c for cmds in self.commands.values() for c in cmds if c.get("name") == name), None
        )
        user = {
            "id": str(user_id),
            "username": "someone",
            "discriminator": "0",
            "avatar": None,
            "global_name": "Someone",
        }
        return {
            "id": self.snowflake(),
            "application_id": str(self.application_id),
            "type": 2,
            "token": f"itoken{next(self._seq)}",
            "version": 1,
            "guild_id": str(guild_id),
            "channel_id": str(channel_id),
            "channel": {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(guild_id),
                "name": "news",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            "member": {
                "user": user,
                "roles": [],
                "joined_at": datetime.now(UTC).isoformat(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": permissions,
            },
            "app_permissions": "8",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
            "data": {
                "id": (command or {}).get("id", self.snowflake()),
                "name": name,
                "type": 1,
                "options": options or [],
                "guild_id": str(guild_id),
            },
        }
