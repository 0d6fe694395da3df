"""Starting the chat adapters the settings ask for, side by side, for `policybot run`."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import CredentialsError
from bot.platforms.chat import Handler
from bot.platforms.discord.chat import run_discord
from bot.platforms.slack.chat import run_slack_http, run_slack_socket_mode

log = structlog.get_logger("policybot.adapters")

DEFAULT_SLACK_PORT = 3000
# A platform that cannot be reached is tried again after RETRY_FIRST_SECONDS, doubling each
# time up to RETRY_MAX_SECONDS, with jitter (so many bots do not reconnect in lock-step).
RETRY_FIRST_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
# A connection that lasted this long was working: its next failure starts the backoff anew.
RETRY_RESET_SECONDS = 120.0
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


async def run_chat_adapters(
    ctx: Any,
    settings: Any,
    *,
    stop: asyncio.Event,
    handler: Handler | None = None,
    slack_client: AsyncWebClient | None = None,
) -> list[str]:
    """Run the Discord and/or Slack commands until `stop` is set; returns the platforms it
    started (empty when none is configured: then it returns at once)."""
    jobs: dict[str, Callable[[], Awaitable[None]]] = {}
    if getattr(settings, "discord_token", None):
        jobs["discord"] = lambda: run_discord(ctx, settings, handler=handler, stop=stop)
    mode = slack_mode(settings)
    if mode == "socket":
        jobs["slack"] = lambda: run_slack_socket_mode(
            ctx, settings, handler=handler, client=slack_client, stop=stop
        )
    elif mode == "http":
        port = slack_http_port(settings)
        jobs["slack"] = lambda: run_slack_http(
            ctx, settings, port, handler=handler, client=slack_client, stop=stop
        )
    if jobs:
        log.info("chat_adapters_starting", platforms=sorted(jobs))
        await asyncio.gather(*(_guarded(name, job, stop) for name, job in jobs.items()))
    return sorted(jobs)
