"""Discord senders: bot token (channel messages with a nonce) and webhooks, via discord.py."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import Any, Literal

import aiohttp
import discord
from discord.http import HTTPClient, MultipartParameters

from bot.deliver.ports import (
    PLACEMENT_KEY,
    DestinationInfo,
    Outcome,
    SendResult,
    WebhookUrlMissing,
    part_nonce,
    webhook_url,
)
from bot.types import Placement, PostAs

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


FORUM_TYPES = (15, 16)  # GUILD_FORUM, GUILD_MEDIA: channels whose messages are posts
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
ARCHIVE_MINUTES: Literal[10080] = 10080  # a story's thread stays open a week after its last message
TAG_CACHE_SECONDS = 600.0
MAX_TAGS = 5


def placement_of(payload: dict[str, Any]) -> Placement | None:
    p = payload.get(PLACEMENT_KEY)
    return p if isinstance(p, Placement) else None


def allowed_mentions(placement: Placement | None) -> dict[str, Any]:
    """Nothing, or exactly the subscription's role: never everyone, here or users."""
    if placement is not None and placement.mention and placement.mention.isdigit():
        return {"parse": [], "roles": [placement.mention]}
    return dict(NO_MENTIONS)


def channel_message_body(payload: dict[str, Any], nonce: str) -> dict[str, Any]:
    """The JSON body of POST /channels/{id}/messages: pings only the subscription's role (if
    any), deduplicated by nonce."""
    body = {k: payload[k] for k in _MESSAGE_KEYS if k in payload}
    body["allowed_mentions"] = allowed_mentions(placement_of(payload))
    body["nonce"] = nonce
    body["enforce_nonce"] = True
    return body


def pick_tags(available: list[dict[str, Any]], wanted: tuple[str, ...]) -> list[str]:
    """Ids of the forum's tags named in `wanted` (case-insensitive), in its order, at most
    Discord's five; tags only moderators may set are left alone."""
    by_name: dict[str, str] = {}
    for tag in available:
        name = str(tag.get("name") or "").casefold()
        if name and not tag.get("moderated") and name not in by_name:
            by_name[name] = str(tag.get("id"))
    out: list[str] = []
    for name in wanted:
        tid = by_name.get(name.casefold())
        if tid is not None and tid not in out:
            out.append(tid)
    return out[:MAX_TAGS]


class _NotForum(Exception):
    pass


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
        # channel id -> (when fetched, channel type, available tags): forum tags, cached.
        self._channels: dict[str, tuple[float, int, list[dict[str, Any]]]] = {}

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
        thread: str | None = None
        for i, payload in enumerate(payloads):
            body = channel_message_body(payload, part_nonce(nonce, first_part + i))
            placement = placement_of(payload)
            tid: str | None
            try:
                if placement is not None and placement.post_as == PostAs.FORUM:
                    mid, tid = await self._forum_post(http, destination.channel, body, placement)
                else:
                    mid, tid = await self._message(http, destination.channel, body, placement)
            except _NotForum as exc:
                return SendResult(Outcome.PERMANENT, error=str(exc), delivered=i)
            except Exception as exc:
                r = classify_discord_error(exc)
                return dataclasses.replace(r, delivered=i, message_ids=tuple(ids), thread_id=thread)
            ids.append(mid)
            thread = thread or tid
        return SendResult(Outcome.SENT, len(payloads), message_ids=tuple(ids), thread_id=thread)

    async def _message(
        self, http: HTTPClient, channel: str, body: dict[str, Any], placement: Placement | None
    ) -> tuple[str, str | None]:
        """A channel (or thread) message, and for post_as thread the thread it starts."""
        where = placement.thread_id if placement is not None and placement.thread_id else channel
        params = MultipartParameters(payload=body, multipart=None, files=None)
        data = await asyncio.wait_for(http.send_message(where, params=params), self._timeout)
        mid = str(data.get("id", "")) if isinstance(data, dict) else ""
        if placement is None or placement.thread_id:
            return mid, placement.thread_id if placement is not None else None
        if placement.post_as != PostAs.THREAD or not mid:
            return mid, None
        try:
            await asyncio.wait_for(
                http.start_thread_with_message(
                    channel, mid, name=placement.title, auto_archive_duration=ARCHIVE_MINUTES
                ),
                self._timeout,
            )
        except discord.HTTPException as exc:
            # Resent after a crash: the message (same nonce) has its thread already.
            if exc.code != THREAD_EXISTS:
                raise
        return mid, mid  # a thread started from a message has the message's id

    async def _forum_tags(self, http: HTTPClient, channel: str) -> list[dict[str, Any]]:
        """The forum's available tags, cached a while; _NotForum for any other channel."""
        now = time.monotonic()
        cached = self._channels.get(channel)
        if cached is None or now - cached[0] > TAG_CACHE_SECONDS:
            data = await asyncio.wait_for(http.get_channel(channel), self._timeout)
            info: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
            cached = (now, int(info.get("type", -1)), list(info.get("available_tags") or []))
            self._channels[channel] = cached
        if cached[1] not in FORUM_TYPES:
            raise _NotForum(
                f"channel {channel} is not a forum channel (type {cached[1]}): post_as forum"
                " needs one; point the subscription at a forum channel or use post_as thread"
            )
        return cached[2]

    async def _forum_post(
        self, http: HTTPClient, channel: str, body: dict[str, Any], placement: Placement
    ) -> tuple[str, str]:
        """A forum post titled after the story, with the forum's matching tags."""
        tags = pick_tags(await self._forum_tags(http, channel), placement.tags)
        message = {k: v for k, v in body.items() if k not in ("nonce", "enforce_nonce")}
        payload: dict[str, Any] = {
            "name": placement.title,
            "auto_archive_duration": ARCHIVE_MINUTES,
            "message": message,
        }
        if tags:
            payload["applied_tags"] = tags
        params = MultipartParameters(payload=payload, multipart=None, files=None)
        data = await asyncio.wait_for(
            http.start_thread_in_forum(channel, params=params), self._timeout
        )
        tid = str(data.get("id", "")) if isinstance(data, dict) else ""
        return tid, tid  # the post's first message has the post's (thread's) id

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
        thread: str | None = None
        for i, payload in enumerate(payloads):
            placement = placement_of(payload)
            mentions = discord.AllowedMentions.none()
            if placement is not None and placement.mention and placement.mention.isdigit():
                mentions.roles = [discord.Object(int(placement.mention))]
            kwargs: dict[str, Any] = {"allowed_mentions": mentions, "wait": True}
            if placement is not None and placement.thread_id:
                kwargs["thread"] = discord.Object(int(placement.thread_id))
            elif placement is not None and placement.post_as == PostAs.FORUM:
                # A webhook of a forum channel makes a post; it cannot read the forum's
                # tags (that takes the bot), so the post goes without them.
                kwargs["thread_name"] = placement.title
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
            if placement is not None and (placement.thread_id or "thread_name" in kwargs):
                channel = getattr(msg, "channel", None)
                thread = thread or str(getattr(channel, "id", "") or "") or None
        return SendResult(Outcome.SENT, len(payloads), message_ids=tuple(ids), thread_id=thread)

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
