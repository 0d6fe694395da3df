"""Starting the chat adapters the settings ask for, side by side, for `policybot run`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.common import Handler
from bot.adapters.discord_bot import run_discord
from bot.adapters.slack_app import run_slack_http, run_slack_socket_mode

log = structlog.get_logger("policybot.adapters")

DEFAULT_SLACK_PORT = 3000


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


async def _guarded(name: str, run: Awaitable[None]) -> None:
    """One platform failing (a revoked token, say) is logged and leaves the others running."""
    try:
        await run
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("chat_adapter_stopped", platform=name, error=str(exc) or repr(exc))


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
    jobs: dict[str, Awaitable[None]] = {}
    if getattr(settings, "discord_token", None):
        jobs["discord"] = run_discord(ctx, settings, handler=handler, stop=stop)
    mode = slack_mode(settings)
    if mode == "socket":
        jobs["slack"] = run_slack_socket_mode(
            ctx, settings, handler=handler, client=slack_client, stop=stop
        )
    elif mode == "http":
        port = slack_http_port(settings)
        jobs["slack"] = run_slack_http(
            ctx, settings, port, handler=handler, client=slack_client, stop=stop
        )
    if jobs:
        log.info("chat_adapters_starting", platforms=sorted(jobs))
        await asyncio.gather(*(_guarded(name, job) for name, job in jobs.items()))
    return sorted(jobs)
