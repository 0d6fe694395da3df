"""Discord: embeds, limits, bot and webhook senders, the gateway chat adapter.

discord.py is imported only by `send` and `chat`, and only when a sender or the chat adapter
is built, so importing this package stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.commands.types import Reply
from bot.deliver.ports import Sender
from bot.platforms.base import LazySender
from bot.platforms.discord.limits import validate_discord_message
from bot.platforms.discord.render import discord_alert, discord_digest
from bot.types import Digest, FeedNotice, StoryPost

# Discord allows 5 messages per 5 s per channel and about 30 per minute per webhook;
# discord.py also follows the bucket headers. These keep well clear of 429s.
PACING: Mapping[str, float] = {"discord": 1.0, "discord-webhook": 2.0}
# A bot token: base64 of the bot's id, a timestamp, an HMAC, separated by dots.
_BOT_TOKEN = re.compile(r"[A-Za-z0-9_-]{18,40}\.[A-Za-z0-9_-]{4,10}\.[A-Za-z0-9_-]{20,60}")
_WEBHOOK = re.compile(
    r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/\d{15,22}/[A-Za-z0-9_-]{40,100}"
)


def _webhook_sender() -> Sender:
    from bot.platforms.discord.send import DiscordWebhookSender

    return DiscordWebhookSender()


class DiscordPlatform:
    name = "discord"
    kinds: tuple[str, ...] = ("discord", "discord-webhook")
    pacing = PACING

    def render_alert(self, post: StoryPost) -> list[Any]:
        return [discord_alert(post)]

    def render_digest(self, digest: Digest) -> list[Any]:
        return list(discord_digest(digest))

    def render_reply(self, reply: Reply) -> list[Any]:
        from bot.platforms.discord.reply import discord_reply  # renders digests: import late

        return list(discord_reply(reply))

    def render_notice(self, notice: FeedNotice) -> list[Any]:
        from bot.platforms.discord.notice import discord_notice

        return [discord_notice(notice)]

    def with_feedback(self, payloads: list[Any], story_id: int) -> list[Any]:
        from bot.platforms.discord.notice import with_feedback_button

        if not payloads:
            return payloads
        return [*payloads[:-1], with_feedback_button(payloads[-1], story_id)]

    def validate(self, payload: Any) -> list[str]:
        return validate_discord_message(payload)

    def senders(self, credentials: Mapping[str, Any]) -> dict[str, Sender]:
        out: dict[str, Sender] = {"discord-webhook": LazySender(_webhook_sender)}
        token = credentials.get("discord_token")
        http = credentials.get("discord_http")  # a running client's HTTP, shared (not a str)
        if token or http is not None:
            from bot.platforms.discord.send import DiscordBotSender

            out["discord"] = DiscordBotSender(token, http=http)
        return out

    def credential_problems(self, credentials: Mapping[str, str | None]) -> list[str]:
        token = (credentials.get("discord_token") or "").strip()
        if not token:
            return []
        if token.startswith(("xoxb-", "xoxp-", "xapp-")):
            return [
                "DISCORD_TOKEN holds a Slack token: put it in SLACK_BOT_TOKEN / SLACK_APP_TOKEN"
            ]
        if token.lower().startswith("bot "):
            return ["DISCORD_TOKEN: give the token alone, without the 'Bot ' prefix"]
        if not _BOT_TOKEN.fullmatch(token):
            return [
                "DISCORD_TOKEN does not look like a bot token (three parts separated by dots):"
                " copy it from the Developer Portal, Bot page, Reset Token"
            ]
        return []

    async def check_online(self, credentials: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Ask Discord who the bot token belongs to: (facts, problems)."""
        token = credentials.get("discord_token")
        if not token:
            return [], []
        import asyncio

        import discord

        http = discord.http.HTTPClient(asyncio.get_running_loop())
        try:
            me = await http.static_login(token)
        except discord.LoginFailure:
            return [], [
                "Discord refused DISCORD_TOKEN: reset it on the Developer Portal's Bot page"
                " and copy the new one"
            ]
        except (discord.HTTPException, OSError) as exc:
            return [], [f"Discord could not be asked about DISCORD_TOKEN: {exc}"]
        finally:
            await http.close()
        return [f"discord: DISCORD_TOKEN is the bot {me.get('username')} (id {me.get('id')})"], []

    def webhook_problem(self, url: str) -> str | None:
        """What is wrong with a Discord webhook URL, or None."""
        if not _WEBHOOK.fullmatch(url.strip()):
            return (
                "is not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN, from"
                " the channel's Integrations > Webhooks > Copy Webhook URL)"
            )
        return None


PLATFORM = DiscordPlatform()
