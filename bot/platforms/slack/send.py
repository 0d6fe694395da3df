"""Slack senders: chat.postMessage with a bot token, and incoming webhooks, via slack_sdk."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.deliver.ports import (
    PLACEMENT_KEY,
    DestinationInfo,
    Outcome,
    SendResult,
    WebhookUrlMissing,
    part_nonce,
    webhook_url,
)
from bot.log import get_logger
from bot.types import Placement, PostAs

log = get_logger("policybot.slack")

# Web API errors that mean the destination cannot work until a person acts.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
        "channel_is_archived",
    }
)
# Of those, the ones about the token rather than the channel.
CREDENTIAL_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
# Errors about this one message (our rendering): park it, keep the destination.
REJECTED_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_arguments",
        "invalid_payload",
        "invalid_attachments",
        "duplicate_message_not_found",
    }
)
# Incoming-webhook answers (plain text bodies) that mean the webhook is gone or disabled.
PERMANENT_WEBHOOK_BODIES = frozenset(
    {
        "no_service",
        "invalid_token",
        "no_team",
        "team_disabled",
        "channel_not_found",
        "channel_is_archived",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "no_active_hooks",
        "user_not_found",
    }
)
# Message metadata on each bot post names its part's nonce, so that after a crash the part in
# flight can be found in the channel instead of posted again.
METADATA_EVENT = "policybot_post"
HISTORY_LOOKBACK = 100  # latest messages searched for it (one conversations.history page)
_MESSAGE_KEYS = ("text", "blocks", "attachments", "unfurl_links", "unfurl_media", "mrkdwn")


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def classify_slack_status(status: int, error: str, headers: Any) -> SendResult:
    text = f"Slack {status}: {error or 'no error code'}"
    if status == 429 or error == "ratelimited":
        return SendResult(Outcome.TRANSIENT, error=text, retry_after=_retry_after(headers) or 1.0)
    if error in PERMANENT_ERRORS or error in PERMANENT_WEBHOOK_BODIES:
        return SendResult(Outcome.PERMANENT, error=text, credentials=error in CREDENTIAL_ERRORS)
    if status >= 500 or error in (
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    ):
        return SendResult(Outcome.TRANSIENT, error=text, retry_after=_retry_after(headers))
    if status in (401, 403, 404, 410):
        return SendResult(Outcome.PERMANENT, error=text)
    if error in REJECTED_ERRORS or 400 <= status < 500:
        return SendResult(Outcome.REJECTED, error=text)
    return SendResult(Outcome.TRANSIENT, error=text)


def classify_slack_error(exc: BaseException) -> SendResult:
    if isinstance(exc, SlackApiError):
        resp = exc.response
        error = ""
        with contextlib.suppress(AttributeError, TypeError):
            error = str(resp.get("error") or "")
        return classify_slack_status(int(resp.status_code), error, resp.headers)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | OSError | SlackClientError):
        return SendResult(Outcome.TRANSIENT, error=f"{type(exc).__name__}: {exc}")
    return SendResult(Outcome.TRANSIENT, error=f"unexpected {type(exc).__name__}: {exc}")


def message_args(payload: dict[str, Any]) -> dict[str, Any]:
    args = {k: payload[k] for k in _MESSAGE_KEYS if k in payload}
    # Links in feed text must not unfurl into big previews of arbitrary sites.
    args.setdefault("unfurl_links", False)
    args.setdefault("unfurl_media", False)
    return args


class SlackBotSender:
    """chat.postMessage with a bot token. 429s come back as TRANSIENT with Retry-After: the
    outbox waits, rather than a blocked worker."""

    def __init__(
        self,
        token: str | None = None,
        *,
        client: AsyncWebClient | None = None,
        base_url: str | None = None,
        timeout: int = 30,
    ) -> None:
        if client is None:
            if token is None:
                raise ValueError("SlackBotSender needs a bot token or an AsyncWebClient")
            kwargs: dict[str, Any] = {"token": token, "timeout": timeout}
            if base_url is not None:
                kwargs["base_url"] = base_url
            client = AsyncWebClient(**kwargs)
        self.client = client

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
        thread: str | None = None
        for i, payload in enumerate(payloads):
            args = message_args(payload)
            placement = payload.get(PLACEMENT_KEY)
            if isinstance(placement, Placement) and placement.thread_id:
                args["thread_ts"] = placement.thread_id  # a reply in the story's thread
            part = part_nonce(nonce, first_part + i)
            # (A reply is not in the channel's history: a resent one may repeat, once.)
            found = await self.find_posted(destination.channel, part) if resend and not i else None
            if found is not None:
                ts = found
            else:
                try:
                    resp = await self.client.chat_postMessage(
                        channel=destination.channel,
                        metadata={"event_type": METADATA_EVENT, "event_payload": {"nonce": part}},
                        **args,
                    )
                except Exception as exc:
                    r = classify_slack_error(exc)
                    return dataclasses.replace(
                        r, delivered=i, message_ids=tuple(ids), thread_id=thread
                    )
                ts = str(resp.get("ts") or "")
            ids.append(ts)
            if isinstance(placement, Placement) and not thread:
                if placement.thread_id:
                    thread = placement.thread_id
                elif placement.post_as != PostAs.MESSAGE and ts:
                    thread = ts  # the message is the thread's parent
        return SendResult(Outcome.SENT, len(payloads), message_ids=tuple(ids), thread_id=thread)

    async def find_posted(self, channel: str, part: str) -> str | None:
        """The ts of a message this app already posted in `channel` for the part `part`
        (its nonce, in the message's metadata), among the channel's latest messages; None
        when there is none or the app may not read the channel's history (then the part is
        posted again: the documented one repeat)."""
        try:
            resp = await self.client.conversations_history(
                channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
        except Exception as exc:  # missing_scope, not_in_channel, outage: cannot tell
            log.info("slack history lookup failed", channel=channel, error=str(exc)[:200])
            return None
        for message in resp.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("nonce") == part:
                return str(message.get("ts") or "")
        return None

    async def aclose(self) -> None:
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()


class SlackWebhookSender:
    """Incoming webhooks (URL from the destination's env var)."""

    def __init__(self, *, timeout: int = 30) -> None:
        self._timeout = timeout
        # One HTTP session for every post, so a backlog reuses its connections instead of
        # opening (and closing) one per message; made in the event loop that sends.
        self._session: aiohttp.ClientSession | None = None
        # One client per webhook URL on that session (a client is a few objects to build,
        # and it keeps no state between requests).
        self._clients: dict[str, AsyncWebhookClient] = {}

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or getattr(session, "_loop", loop) is not loop:
            session = self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        return session

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
        except WebhookUrlMissing as exc:
            return SendResult(Outcome.PERMANENT, error=str(exc))
        session = self._http()
        client = self._clients.get(url)
        if client is None or client.session is not session:
            client = AsyncWebhookClient(url, timeout=self._timeout, session=session)
            self._clients[url] = client
        for i, payload in enumerate(payloads):
            try:
                resp = await client.send_dict(message_args(payload))
            except Exception as exc:
                r = classify_slack_error(exc)
                return dataclasses.replace(r, delivered=i)
            body = (resp.body or "").strip()
            if resp.status_code != 200 or body != "ok":
                r = classify_slack_status(resp.status_code, body[:200], resp.headers)
                return dataclasses.replace(r, delivered=i)
        return SendResult(Outcome.SENT, len(payloads))

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
