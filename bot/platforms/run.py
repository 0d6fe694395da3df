"""Starting the chat adapters the settings ask for, side by side, for `policybot run`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import discord
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import CredentialsError
from bot.log import get_logger
from bot.platforms.chat import Handler
from bot.platforms.discord.chat import run_discord
from bot.platforms.slack.chat import run_slack_http, run_slack_socket_mode

log = get_logger("policybot.adapters")

DEFAULT_SLACK_PORT = 3000
# A platform that cannot be reached is tried again after RETRY_FIRST_SECONDS, doubling each
# time up to RETRY_MAX_SECONDS, with jitter (so many bots do not reconnect in lock-step).
RETRY_FIRST_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
# A connection that lasted this long was working: its next failure starts the backoff anew.
RETRY_RESET_SECONDS = 120.0
# Several instances on one database: one holds each chat connection (a Discord gateway
# session per token, a Slack Socket Mode connection per app token). The others try to take
# it over this often (the holder's death frees it at once), and the holder checks this often
# that it still holds it: failover well within a minute.
LEADER_RETRY_SECONDS = 15.0
LEADER_CHECK_SECONDS = 20.0


class Leadership(Protocol):
    """One holder at a time among the instances (PolicyBot.leadership)."""

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


# Slack API errors that no retry can fix (a token revoked, mistyped or missing a scope).
SLACK_PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "invalid_token",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "team_disabled",
    }
)


def slack_mode(settings: Any) -> str | None:
    """ "socket", "http" or None (no Slack commands). settings.slack_mode decides when set
    (HTTP mode even with an app token); else Socket Mode when there is an app token, HTTP
    mode when there is only a signing secret. Read with getattr: older Settings lack it."""
    if not getattr(settings, "slack_bot_token", None):
        return None
    mode = str(getattr(settings, "slack_mode", "") or "").lower()
    if mode in ("socket", "http"):
        return mode
    if getattr(settings, "slack_app_token", None):
        return "socket"
    if getattr(settings, "slack_signing_secret", None):
        return "http"
    return None


def slack_http_port(settings: Any) -> int:
    """settings.slack_http_port, else 3000 (0, a free port, is a valid choice)."""
    port = getattr(settings, "slack_http_port", None)
    return DEFAULT_SLACK_PORT if port is None or port == "" else int(port)


def permanent_failure(exc: BaseException) -> str | None:
    """What to fix when `exc` is a failure no retry can mend (a rejected token, refused
    intents, a missing setting); None when it may pass (network, timeouts, 5xx, 429)."""
    if isinstance(exc, discord.LoginFailure):
        return (
            "Discord rejected DISCORD_TOKEN: set it to the bot token from the Developer Portal"
            " (Applications > your app > Bot > Reset Token), then restart"
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return (
            "Discord refused the privileged intents: enable them in the Developer Portal"
            " (Bot > Privileged Gateway Intents) or do not request them, then restart"
        )
    if isinstance(exc, discord.ConnectionClosed) and exc.code in (4004, 4010, 4011, 4012, 4013):
        return f"Discord closed the gateway for good (code {exc.code}): check DISCORD_TOKEN"
    if isinstance(exc, discord.HTTPException) and 400 <= exc.status < 500 and exc.status != 429:
        return (
            f"Discord answered HTTP {exc.status}: check DISCORD_TOKEN and the bot's"
            " permissions (the applications.commands scope), then restart"
        )
    if isinstance(exc, CredentialsError):  # its message says which variable and what to do
        return str(exc)
    if isinstance(exc, SlackApiError):
        error = str((exc.response or {}).get("error", ""))
        if error in SLACK_PERMANENT_ERRORS:
            return (
                f"Slack rejected the token ({error}): check SLACK_BOT_TOKEN and SLACK_APP_TOKEN"
                " and the app's scopes, then restart"
            )
        return None
    if isinstance(exc, ValueError):  # a missing or malformed setting: its message says which
        return str(exc)
    return None


def retry_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry `attempt` (1, 2, ...): RETRY_FIRST_SECONDS doubling up to
    RETRY_MAX_SECONDS, scaled by a random factor in [0.5, 1.0]."""
    base = min(RETRY_FIRST_SECONDS * 2.0 ** min(attempt - 1, 30), RETRY_MAX_SECONDS)
    return base * (rng or random).uniform(0.5, 1.0)


async def _sleep_or_stop(seconds: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _error_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or repr(exc)


async def _guarded(name: str, start: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Runs one platform's adapter, and again after transient failures (discord.com or
    slack.com unreachable, timeouts, 5xx) with exponential backoff; a permanent one (a
    rejected token) is logged with what to fix and stops that platform only: one platform
    failing leaves the others running."""
    loop = asyncio.get_running_loop()
    attempt = 0
    while not stop.is_set():
        started = loop.time()
        try:
            await start()
            return  # `stop` was set
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if stop.is_set():
                return
            fix = permanent_failure(exc)
            if fix is not None:
                log.error("chat_adapter_stopped", platform=name, error=_error_text(exc), fix=fix)
                return
            if loop.time() - started >= RETRY_RESET_SECONDS:
                attempt = 0
            attempt += 1
            delay = retry_delay(attempt)
            log.warning(
                "chat_adapter_retrying",
                platform=name,
                error=f"{type(exc).__name__}: {_error_text(exc)}",
                attempt=attempt,
                retry_in=round(delay, 1),
            )
            await _sleep_or_stop(delay, stop)


def _secret_hash(value: Any) -> str:
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


async def _watch_leadership(lock: Leadership, stop: asyncio.Event, lost: asyncio.Event) -> None:
    """Set `lost` when `stop` is set or the lock's session ends."""
    while not stop.is_set():
        await _sleep_or_stop(LEADER_CHECK_SECONDS, stop)
        if stop.is_set() or not await asyncio.to_thread(lock.still_held):
            break
    lost.set()


async def _led(
    name: str,
    lock: Leadership,
    job: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Run `job` only while this instance holds `lock`: wait for it (another instance has
    the connection), run until `stop` or until the lock is lost, then wait again."""
    while not stop.is_set():
        if not await asyncio.to_thread(lock.try_acquire):
            await _sleep_or_stop(LEADER_RETRY_SECONDS, stop)
            continue
        log.info("chat_connection_held", platform=name)
        inner = asyncio.Event()
        watcher = asyncio.create_task(_watch_leadership(lock, stop, inner))
        try:
            await _guarded(name, functools.partial(job, inner), inner)
        finally:
            watcher.cancel()
            await asyncio.to_thread(lock.release)
        if not stop.is_set():
            log.warning("chat_connection_lost", platform=name, fix="another instance takes over")


async def run_chat_adapters(
    ctx: Any,
    settings: Any,
    *,
    stop: asyncio.Event,
    handler: Handler | None = None,
    slack_client: AsyncWebClient | None = None,
    leadership: Callable[[str], Leadership] | None = None,
) -> list[str]:
    """Run the Discord and/or Slack commands until `stop` is set; returns the platforms it
    started (empty when none is configured: then it returns at once).

    With `leadership` (several instances on one database), the Discord gateway session and
    the Slack Socket Mode connection are held by one instance at a time per token; the
    others stand by and take over when it dies. Slack's HTTP mode runs on every instance
    (put them behind one load balancer)."""
    jobs: dict[str, Callable[[asyncio.Event], Awaitable[None]]] = {}
    singletons: dict[str, str] = {}  # job -> the leadership it needs
    discord_token = getattr(settings, "discord_token", None)
    if discord_token:
        jobs["discord"] = lambda ev: run_discord(ctx, settings, handler=handler, stop=ev)
        singletons["discord"] = f"discord-gateway:{_secret_hash(discord_token)}"
    mode = slack_mode(settings)
    if mode == "socket":
        jobs["slack"] = lambda ev: run_slack_socket_mode(
            ctx, settings, handler=handler, client=slack_client, stop=ev
        )
        app_token = getattr(settings, "slack_app_token", None) or ""
        singletons["slack"] = f"slack-socket:{_secret_hash(app_token)}"
    elif mode == "http":
        port = slack_http_port(settings)
        jobs["slack"] = lambda ev: run_slack_http(
            ctx, settings, port, handler=handler, client=slack_client, stop=ev
        )
    if jobs:
        log.info("chat_adapters_starting", platforms=sorted(jobs))

        def runner(name: str, job: Callable[[asyncio.Event], Awaitable[None]]) -> Awaitable[None]:
            if leadership is not None and name in singletons:
                return _led(name, leadership(singletons[name]), job, stop)
            return _guarded(name, lambda: job(stop), stop)

        await asyncio.gather(*(runner(name, job) for name, job in jobs.items()))
    return sorted(jobs)
