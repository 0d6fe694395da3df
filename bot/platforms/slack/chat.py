"""The Slack side of the chat commands: a `/policy` slash command on slack-bolt's AsyncApp.

`/policy search eu ai act --jurisdiction EU` is parsed by textargs (mistakes are answered at
once in the ack), acknowledged within Slack's 3 s, handled by bot.commands' handle(), rendered
by bot.platforms.slack.reply and sent through the response_url (ephemeral unless shared).
Paged results carry Previous/More buttons whose value holds the next page's arguments, so they
keep working across restarts. Socket Mode is the default (no public URL needed); HTTP mode
serves Slack's signed requests (bolt checks the signature and rejects stale timestamps).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.spec import BUTTON_COMMANDS, COMMANDS, NOT_RELEVANT_COMMAND, needs_admin
from bot.commands.textargs import Parsed, TextArgsError, parse
from bot.commands.types import Caller, Reply, Request
from bot.errors import CredentialsError
from bot.log import get_logger
from bot.platforms.chat import Handler, call_handler, default_handler
from bot.platforms.slack.notice import NOT_RELEVANT_ACTION
from bot.platforms.slack.reply import SLACK_PAGE_ACTION, SLACK_REPLY_ACTION, slack_reply

log = get_logger("policybot.slack")

ADMINS_ENV = "POLICYBOT_SLACK_ADMINS"
ADMIN_CACHE_SECONDS = 300.0
PAGED_COMMANDS = frozenset({"search", "preview"})
_PAGE_ACTION = re.compile(rf"^{SLACK_PAGE_ACTION}_(prev|next)$")
_REPLY_ACTION = re.compile(rf"^{SLACK_REPLY_ACTION}_[0-9]+$")


def parse_admins(value: str | Iterable[str] | None) -> frozenset[str]:
    """User ids from "U1, U2" or from a list; spaces and empty items are ignored."""
    if value is None:
        return frozenset()
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    # A string is split on commas: iterating it would give a set of single characters.
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return frozenset(p.strip() for p in items if p.strip())


def admins_from_env(environ: dict[str, str] | None = None) -> frozenset[str]:
    """POLICYBOT_SLACK_ADMINS=U1,U2 (spaces and empty items are ignored)."""
    return parse_admins((environ if environ is not None else os.environ).get(ADMINS_ENV, ""))


def configured_admins(settings: Any) -> frozenset[str]:
    """settings.slack_admins (a "U1,U2" string or a list) when Settings has it and it is set,
    else POLICYBOT_SLACK_ADMINS from the environment."""
    return parse_admins(getattr(settings, "slack_admins", None)) or admins_from_env()


def _secret(settings: Any, name: str) -> str | None:
    value = getattr(settings, name, None) if settings is not None else None
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


class AdminCheck:
    """Who may change subscriptions and feeds: the configured list, else Slack's own workspace
    admins and owners (users.info, cached for a few minutes; needs the users:read scope)."""

    def __init__(
        self,
        configured: Collection[str],
        ttl: float = ADMIN_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.configured = frozenset(configured)
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}

    async def __call__(self, client: AsyncWebClient, user_id: str) -> bool:
        if user_id in self.configured:
            return True
        hit = self._cache.get(user_id)
        if hit is not None and self.clock() - hit[0] < self.ttl:
            return hit[1]
        try:
            resp = await client.users_info(user=user_id)
            user = resp.get("user") or {}
            ok = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        except SlackApiError as exc:
            # Not knowing means no: the handler then explains who may do this.
            log.warning(
                "slack_users_info_failed", user=user_id, error=str(exc.response.get("error", exc))
            )
            return False
        self._cache[user_id] = (self.clock(), ok)
        return ok


class SlackCommands:
    """The listeners, with what they share (handler, context, admin check)."""

    def __init__(self, ctx: Any, handler: Handler, admins: AdminCheck) -> None:
        self.ctx = ctx
        self.handler = handler
        self.admins = admins

    async def caller(
        self,
        client: AsyncWebClient,
        *,
        user_id: str,
        team_id: str,
        channel_id: str,
        user_name: str,
        command: str,
        args: dict[str, Any],
    ) -> Caller:
        # users.info only when the answer matters: most commands never need it.
        admin = await self.admins(client, user_id) if needs_admin(command, args) else False
        return Caller(
            platform="slack",
            user_id=user_id,
            scope=team_id,
            channel=channel_id,
            is_admin=admin,
            display_name=user_name,
        )

    async def on_command(
        self, ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        try:
            parsed = parse(command.get("text") or "")
        except TextArgsError as exc:
            # A typing mistake is answered in the ack itself: immediate, and only to the caller.
            await ack(**_ack_body(_parse_error_reply(exc)))
            return
        await ack()
        caller = await self.caller(
            client,
            user_id=str(command.get("user_id", "")),
            team_id=str(command.get("team_id", "")),
            channel_id=str(command.get("channel_id", "")),
            user_name=str(command.get("user_name", "")),
            command=parsed.command,
            args=parsed.args,
        )
        reply = await call_handler(
            self.handler, Request(parsed.command, parsed.args, caller), self.ctx
        )
        await self._send(respond, reply, parsed, owner=caller.user_id)

    async def on_page(
        self, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        await ack()
        user = body.get("user") or {}
        user_id = str(user.get("id", ""))
        try:
            action = (body.get("actions") or [{}])[0]
            value = json.loads(action.get("value") or "{}")
            command, args, owner = str(value["c"]), dict(value["a"]), value.get("u")
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("slack_page_bad_value")
            return
        if command not in PAGED_COMMANDS:
            return
        if owner and owner != user_id:
            await respond(
                response_type="ephemeral",
                replace_original=False,
                text="Only the person who searched can turn these pages: run"
                " `/policy search` yourself.",
            )
            return
        caller = await self.caller(
            client,
            user_id=user_id,
            team_id=str((body.get("team") or {}).get("id") or user.get("team_id", "")),
            channel_id=str((body.get("channel") or {}).get("id", "")),
            user_name=str(user.get("username") or user.get("name") or ""),
            command=command,
            args=args,
        )
        reply = await call_handler(self.handler, Request(command, args, caller), self.ctx)
        await self._send(respond, reply, Parsed(command, args), owner=user_id, replace=True)

    async def on_not_relevant(
        self, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        """ "Not relevant" under an alert: recorded, answered only to the one who clicked."""
        await ack()
        action = (body.get("actions") or [{}])[0]
        value = str(action.get("value") or "")
        if not value.isdigit():
            log.warning("slack_not_relevant_bad_value")
            return
        await self._run_click(
            body, respond, client, NOT_RELEVANT_COMMAND, {"story": int(value)}, caller_args={}
        )

    async def on_action(
        self, ack: Any, body: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        """A reply's action (e.g. "Exclude source ..." after "Not relevant"): its value
        names a button-only command and its args; the command checks the clicker's rights.
        Answered only to the one who clicked."""
        await ack()
        try:
            action = (body.get("actions") or [{}])[0]
            value = json.loads(action.get("value") or "{}")
            command, args = str(value["c"]), dict(value["a"])
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("slack_action_bad_value")
            return
        if command not in BUTTON_COMMANDS:
            return
        await self._run_click(body, respond, client, command, args, caller_args=args)

    async def _run_click(
        self,
        body: dict[str, Any],
        respond: Any,
        client: AsyncWebClient,
        command: str,
        args: dict[str, Any],
        *,
        caller_args: dict[str, Any],
    ) -> None:
        """Run a button's command as the one who clicked it, answered only to them."""
        user = body.get("user") or {}
        caller = await self.caller(
            client,
            user_id=str(user.get("id", "")),
            team_id=str((body.get("team") or {}).get("id") or user.get("team_id", "")),
            channel_id=str((body.get("channel") or {}).get("id", "")),
            user_name=str(user.get("username") or user.get("name") or ""),
            command=command,
            args=caller_args,
        )
        reply = await call_handler(self.handler, Request(command, args, caller), self.ctx)
        await self._send(respond, reply, Parsed(command, {}), owner=caller.user_id)

    async def _send(
        self, respond: Any, reply: Reply, parsed: Parsed, *, owner: str, replace: bool = False
    ) -> None:
        messages = slack_reply(reply, command=parsed.command, owner=owner)
        for i, message in enumerate(messages):
            body = dict(message, unfurl_links=False, unfurl_media=False)
            body["replace_original"] = replace and i == 0
            try:
                await respond(body)
            except Exception as exc:  # the response_url may have expired (30 min, 5 uses)
                log.warning("slack_respond_failed", command=parsed.command, error=repr(exc))
                return


def _parse_error_reply(exc: TextArgsError) -> Reply:
    text = exc.message
    spec = COMMANDS.get(exc.command)
    if spec is not None and spec.usage:
        text += f"\nExample: /policy {spec.usage}"
    return Reply(title="/policy", text=text, error=True, suggestions=exc.suggestions)


def _ack_body(reply: Reply) -> dict[str, Any]:
    first = slack_reply(reply)[0]
    return {
        "text": first["text"],
        "blocks": first["blocks"],
        "response_type": first["response_type"],
    }


def build_app(
    ctx: Any,
    settings: Any = None,
    *,
    handler: Handler | None = None,
    client: AsyncWebClient | None = None,
    admins: Collection[str] | None = None,
    command: str = "/policy",
    token: str | None = None,
    signing_secret: str | None = None,
) -> AsyncApp:
    """The bolt app with the slash command, the paging buttons, "Not relevant" and the
    actions of replies (the exclusions it offers).

    Tokens come from settings (slack_bot_token, slack_signing_secret) unless given; `client`
    replaces the Web API client (tests point it at a local fake); `admins` defaults to
    POLICYBOT_SLACK_ADMINS.
    """
    token = token or _secret(settings, "slack_bot_token")
    secret = signing_secret or _secret(settings, "slack_signing_secret") or ""
    if client is None and not token:
        raise ValueError("SLACK_BOT_TOKEN is not set: the Slack commands need the bot token")
    if admins is None:
        admins = configured_admins(settings)
    app = AsyncApp(
        client=client,
        token=None if client is not None else token,
        signing_secret=secret,
        # Without a secret only Socket Mode can work: HTTP requests could not be verified.
        request_verification_enabled=bool(secret),
        process_before_response=False,
    )
    commands = SlackCommands(ctx, handler or default_handler(), AdminCheck(admins))
    app.command(command)(commands.on_command)
    app.action(_PAGE_ACTION)(commands.on_page)
    app.action(NOT_RELEVANT_ACTION)(commands.on_not_relevant)
    app.action(_REPLY_ACTION)(commands.on_action)

    @app.error
    async def _on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "slack_listener_failed",
            error=repr(error),
            exc_info=(type(error), error, error.__traceback__),
        )

    return app


async def _wait(stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.Event().wait()  # until cancelled
    else:
        await stop.wait()


# Slack's answers that mean the token itself is refused (not the network, not a channel).
TOKEN_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)


async def check_tokens(app: AsyncApp, app_token: str | None = None) -> str:
    """Ask Slack who the tokens belong to before serving: a refused token ends in one line
    saying which variable to fix (CredentialsError), instead of a "connected" log while
    every command fails, or slack-sdk retrying an app token forever. Returns the team id."""
    try:
        who = await app.client.auth_test()
    except SlackApiError as exc:
        error = str((exc.response or {}).get("error", ""))
        if error in TOKEN_REFUSED:
            raise CredentialsError(
                f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token"
                " (xoxb-...) from the app's OAuth & Permissions page (reinstall the app if it"
                " was revoked), then restart"
            ) from None
        raise
    if app_token:
        probe = AsyncWebClient(base_url=app.client.base_url)
        try:
            await probe.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            error = str((exc.response or {}).get("error", ""))
            if error in TOKEN_REFUSED:
                raise CredentialsError(
                    f"Slack refused SLACK_APP_TOKEN ({error}): create an app-level token with"
                    " the connections:write scope (Basic Information > App-Level Tokens) and"
                    " turn Socket Mode on, then restart"
                ) from None
            raise
        finally:
            session = getattr(probe, "session", None)
            if session is not None and not session.closed:
                await session.close()
    return str(who.get("team_id") or "")


async def run_slack_socket_mode(
    ctx: Any,
    settings: Any,
    *,
    handler: Handler | None = None,
    client: AsyncWebClient | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve /policy over Socket Mode (SLACK_APP_TOKEN, xapp-...) until `stop` is set or the
    task is cancelled. The handler is closed (and with it slack-sdk's aiohttp session) also
    when it never connected: slack-sdk retries its first connection forever by itself, so
    this waits for that or for `stop`, whichever is first."""
    app_token = _secret(settings, "slack_app_token")
    if not app_token or not app_token.startswith("xapp-"):
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN, an app-level token (xapp-...)")
    app = build_app(ctx, settings, handler=handler, client=client)
    await check_tokens(app, app_token)
    socket = AsyncSocketModeHandler(app, app_token)
    connecting = asyncio.ensure_future(socket.connect_async())
    waiting = asyncio.ensure_future(_wait(stop))
    try:
        try:
            await asyncio.wait({connecting, waiting}, return_when="FIRST_COMPLETED")
        finally:
            if not connecting.done():
                connecting.cancel()
        if connecting.done() and not connecting.cancelled():
            connecting.result()  # re-raise a failure (slack-sdk retries most by itself)
            log.info("slack_socket_mode_connected")
        await waiting
    finally:
        if not waiting.done():
            waiting.cancel()
        await socket.close_async()


async def run_slack_http(
    ctx: Any,
    settings: Any,
    port: int,
    *,
    host: str = "0.0.0.0",
    path: str = "/slack/events",
    handler: Handler | None = None,
    client: AsyncWebClient | None = None,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Serve Slack's signed HTTP requests on host:port/path until `stop` (or cancellation).
    Needs SLACK_SIGNING_SECRET; port 0 picks a free port (given to on_listening)."""
    from aiohttp import web

    if not _secret(settings, "slack_signing_secret"):
        raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET to verify Slack's requests")
    app = build_app(ctx, settings, handler=handler, client=client)
    await check_tokens(app)
    server = AsyncSlackAppServer(port=port, path=path, app=app, host=host)
    runner = web.AppRunner(server.web_app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = port
        sockets = getattr(site._server, "sockets", None)  # the port actually bound (port 0)
        if sockets:
            bound = sockets[0].getsockname()[1]
        log.info("slack_http_listening", host=host, port=bound, path=path)
        if on_listening is not None:
            on_listening(bound)
        await _wait(stop)
    finally:
        await runner.cleanup()
