"""Discord senders: bot token (channel messages with a nonce) and webhooks, via discord.py."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, MultipartParameters

from bot.deliver.ports import (
    DestinationInfo,
    Outcome,
    SendResult,
    WebhookUrlMissing,
    part_nonce,
    webhook_url,
)

# Discord error codes that mean "this destination will not work until someone fixes it".
PERMANENT_CODES = {
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10015: "Unknown Webhook",
    50001: "Missing Access",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    40001: "Unauthorized",
}
# Keys a channel message takes from the renderer; mentions and nonce are always ours.
_MESSAGE_KEYS = ("content", "embeds", "components", "flags", "tts")
NO_MENTIONS: dict[str, Any] = {"parse": []}  # == AllowedMentions.none().to_dict()


def classify_discord_error(exc: BaseException) -> SendResult:
    """Map a discord.py (or transport) exception to an outcome."""
    if isinstance(exc, discord.RateLimited):
        return SendResult(Outcome.TRANSIENT, error=str(exc), retry_after=exc.retry_after)
    if isinstance(exc, discord.LoginFailure):
        return SendResult(
            Outcome.PERMANENT, error=f"Discord rejected the bot token: {exc}", credentials=True
        )
    if isinstance(exc, discord.HTTPException):
        status, code = exc.status, exc.code
        text = f"Discord {status} (code {code}): {exc.text}".strip()
        if status == 429:
            # A 429 without Discord's Via header is Cloudflare's: back off for long.
            ra = _header_float(exc.response, "Retry-After")
            return SendResult(Outcome.TRANSIENT, error=text, retry_after=ra or 600.0)
        if status >= 500:
            return SendResult(Outcome.TRANSIENT, error=text)
        if code in PERMANENT_CODES or status in (401, 403, 404):
            name = PERMANENT_CODES.get(code, "")
            if name and name not in text:
                text = f"{text} ({name})"
            refused = status == 401 or code == 40001  # the token, not the channel
            return SendResult(Outcome.PERMANENT, error=text, credentials=refused)
        return SendResult(Outcome.REJECTED, error=text)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | OSError):
        return SendResult(Outcome.TRANSIENT, error=f"{type(exc).__name__}: {exc}")
    return SendResult(Outcome.TRANSIENT, error=f"unexpected {type(exc).__name__}: {exc}")


def _header_float(response: Any, name: str) -> float | None:
    try:
        return float(response.headers.get(name))
    except (AttributeError, TypeError, ValueError):
        return None


def channel_message_body(payload: dict[str, Any], nonce: str) -> dict[str, Any]:
    """The JSON body of POST /channels/{id}/messages: never pings, deduplicated by nonce."""
    body = {k: payload[k] for k in _MESSAGE_KEYS if k in payload}
    body["allowed_mentions"] = dict(NO_MENTIONS)
    body["nonce"] = nonce
    body["enforce_nonce"] = True
    return body


class DiscordBotSender:
    """Posts to channels with the bot token through discord.py's HTTPClient (rate-limit
    buckets, 429 sleeps and 5xx retries are discord.py's).

    Pass `http` to share the HTTPClient of a running `discord.Client` (client.http); otherwise
    one is created and logged in on first use.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        http: HTTPClient | None = None,
        max_ratelimit_timeout: float = 30.0,
        timeout: float = 120.0,
    ) -> None:
        if token is None and http is None:
            raise ValueError("DiscordBotSender needs a bot token or a logged-in HTTPClient")
        self._token = token
        self._http = http
        self._own_http = http is None
        self._max_rl = max_ratelimit_timeout
        self._timeout = timeout
        self._login_lock = asyncio.Lock()

    async def _client(self) -> HTTPClient:
        async with self._login_lock:
            if self._http is None:
                http = HTTPClient(asyncio.get_running_loop(), max_ratelimit_timeout=self._max_rl)
                assert self._token is not None
                try:
                    await http.static_login(self._token)
                except BaseException:
                    await http.close()
                    raise
                self._http = http
            return self._http

    async def send(
        self,
        destination: DestinationInfo,
        payloads: Sequence[Any],
        nonce: str,
        *,
        first_part: int = 0,
        resend: bool = False,
    ) -> SendResult:
        ids: list[str] = []
        try:
            http = await self._client()
        except Exception as exc:
            return classify_discord_error(exc)
        for i, payload in enumerate(payloads):
            body = channel_message_body(payload, part_nonce(nonce, first_part + i))
            params = MultipartParameters(payload=body, multipart=None, files=None)
            try:
                data = await asyncio.wait_for(
                    http.send_message(destination.channel, params=params), self._timeout
                )
            except Exception as exc:
                r = classify_discord_error(exc)
                return dataclasses.replace(r, delivered=i, message_ids=tuple(ids))
            ids.append(str(data.get("id", "")) if isinstance(data, dict) else "")
        return SendResult(Outcome.SENT, len(payloads), message_ids=tuple(ids))

    async def aclose(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None


class DiscordWebhookSender:
    """Posts through webhook URLs (read from the destination's env var), with wait=True."""

    def __init__(self, *, session: aiohttp.ClientSession | None = None, timeout: float = 120.0):
        self._session = session
        self._own_session = session is None
        self._timeout = timeout

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def send(
        self,
        destination: DestinationInfo,
        payloads: Sequence[Any],
        nonce: str,
        *,
        first_part: int = 0,
        resend: bool = False,
    ) -> SendResult:
        try:
            url = webhook_url(destination)
            hook = discord.Webhook.from_url(url, session=self._get_session())
        except WebhookUrlMissing as exc:
            return SendResult(Outcome.PERMANENT, error=str(exc))
        except ValueError:
            return SendResult(
                Outcome.PERMANENT,
                error=f"${destination.webhook_env} is not a Discord webhook URL"
                " (https://discord.com/api/webhooks/<id>/<token>)",
            )
        ids: list[str] = []
        for i, payload in enumerate(payloads):
            kwargs: dict[str, Any] = {
                "allowed_mentions": discord.AllowedMentions.none(),
                "wait": True,
            }
            if payload.get("content"):
                kwargs["content"] = payload["content"]
            if payload.get("embeds"):
                kwargs["embeds"] = [discord.Embed.from_dict(e) for e in payload["embeds"]]
            if payload.get("username"):
                kwargs["username"] = payload["username"]
            try:
                msg = await asyncio.wait_for(hook.send(**kwargs), self._timeout)
            except Exception as exc:
                r = classify_discord_error(exc)
                return dataclasses.replace(r, delivered=i, message_ids=tuple(ids))
            ids.append(str(getattr(msg, "id", "")))
        return SendResult(Outcome.SENT, len(payloads), message_ids=tuple(ids))

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
