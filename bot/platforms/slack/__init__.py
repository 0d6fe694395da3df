"""Slack: Block Kit, limits, bot and webhook senders, the Socket Mode / HTTP chat adapter.

slack_sdk and slack_bolt are imported only by `send` and `chat`, and only when a sender or
the chat adapter is built, so importing this package stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.commands.types import Reply
from bot.deliver.ports import Sender
from bot.platforms.base import LazySender
from bot.platforms.slack.limits import validate_slack_message
from bot.platforms.slack.render import slack_alert, slack_digest
from bot.types import Digest, FeedNotice, StoryPost

# Slack allows about one message per second per channel (and per incoming webhook).
PACING: Mapping[str, float] = {"slack": 1.0, "slack-webhook": 1.0}
_WEBHOOK = re.compile(
    r"https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{10,200}"
)


def _webhook_sender() -> Sender:
    from bot.platforms.slack.send import SlackWebhookSender

    return SlackWebhookSender()


class SlackPlatform:
    name = "slack"
    kinds: tuple[str, ...] = ("slack", "slack-webhook")
    pacing = PACING

    def render_alert(self, post: StoryPost) -> list[Any]:
        return [slack_alert(post)]

    def render_digest(self, digest: Digest) -> list[Any]:
        return list(slack_digest(digest))

    def render_reply(self, reply: Reply) -> list[Any]:
        from bot.platforms.slack.reply import slack_reply  # renders digests: import late

        return list(slack_reply(reply))

    def render_notice(self, notice: FeedNotice) -> list[Any]:
        from bot.platforms.slack.notice import slack_notice

        return [slack_notice(notice)]

    def with_feedback(self, payloads: list[Any], story_id: int) -> list[Any]:
        from bot.platforms.slack.notice import with_feedback_button

        if not payloads:
            return payloads
        return [*payloads[:-1], with_feedback_button(payloads[-1], story_id)]

    def validate(self, payload: Any) -> list[str]:
        return validate_slack_message(payload)

    def senders(self, credentials: Mapping[str, Any]) -> dict[str, Sender]:
        out: dict[str, Sender] = {"slack-webhook": LazySender(_webhook_sender)}
        token = credentials.get("slack_bot_token")
        client = credentials.get("slack_client")  # a running bolt app's client, shared
        if token or client is not None:
            from bot.platforms.slack.send import SlackBotSender

            out["slack"] = SlackBotSender(token, client=client)
        return out

    def credential_problems(self, credentials: Mapping[str, str | None]) -> list[str]:
        problems = []
        bot = (credentials.get("slack_bot_token") or "").strip()
        app = (credentials.get("slack_app_token") or "").strip()
        if bot and bot.startswith("xapp-"):
            problems.append(
                "SLACK_BOT_TOKEN holds an app-level token (xapp-...): that one goes in"
                " SLACK_APP_TOKEN; the bot token (xoxb-...) is on OAuth & Permissions"
            )
        elif bot and not bot.startswith("xoxb-"):
            problems.append(
                "SLACK_BOT_TOKEN must be a bot token (xoxb-..., from OAuth & Permissions after"
                " installing the app)"
            )
        if app and app.startswith("xoxb-"):
            problems.append(
                "SLACK_APP_TOKEN holds the bot token (xoxb-...): it wants the app-level token"
                " (xapp-..., Basic Information > App-Level Tokens, scope connections:write)"
            )
        elif app and not app.startswith("xapp-"):
            problems.append(
                "SLACK_APP_TOKEN must be an app-level token (xapp-..., Basic Information >"
                " App-Level Tokens, scope connections:write)"
            )
        return problems

    async def check_online(self, credentials: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Ask Slack who the bot and app tokens belong to: (facts, problems)."""
        bot_token = credentials.get("slack_bot_token")
        app_token = credentials.get("slack_app_token")
        if not bot_token and not app_token:
            return [], []
        from slack_sdk.errors import SlackApiError
        from slack_sdk.web.async_client import AsyncWebClient

        facts: list[str] = []
        problems: list[str] = []
        client = AsyncWebClient(base_url=AsyncWebClient.BASE_URL)
        try:
            if bot_token:
                try:
                    who = await client.auth_test(token=bot_token)
                    facts.append(
                        f"slack: SLACK_BOT_TOKEN is the bot user {who.get('user')} in"
                        f" {who.get('team')} ({who.get('team_id')})"
                    )
                except SlackApiError as exc:
                    error = (exc.response or {}).get("error", "")
                    problems.append(f"Slack refused SLACK_BOT_TOKEN ({error})")
            if app_token:
                try:
                    await client.apps_connections_open(app_token=app_token)
                    facts.append("slack: SLACK_APP_TOKEN opens Socket Mode connections")
                except SlackApiError as exc:
                    error = (exc.response or {}).get("error", "")
                    problems.append(
                        f"Slack refused SLACK_APP_TOKEN ({error}): it needs connections:write"
                        " and Socket Mode turned on"
                    )
        except OSError as exc:
            problems.append(f"Slack could not be asked about the tokens: {exc}")
        finally:
            session = getattr(client, "session", None)
            if session is not None and not session.closed:
                await session.close()
        return facts, problems

    def webhook_problem(self, url: str) -> str | None:
        """What is wrong with a Slack incoming-webhook URL, or None."""
        if not _WEBHOOK.fullmatch(url.strip()):
            return (
                "is not a Slack incoming-webhook URL (https://hooks.slack.com/services/..., from"
                " the app's Incoming Webhooks page)"
            )
        return None


PLATFORM = SlackPlatform()
