"""The console platform: alerts and digests as plain text on stdout (the embedded default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.types import Reply
from bot.deliver.ports import Sender
from bot.platforms.console.render import console_alert, console_digest
from bot.platforms.console.send import ConsoleSender
from bot.platforms.text import inline
from bot.types import Digest, FeedNotice, StoryPost


class ConsolePlatform:
    """Plain text, no limits, no credentials, no pacing."""

    name = "console"
    kinds: tuple[str, ...] = ("console",)
    pacing: Mapping[str, float] = {"console": 0.0}

    def render_alert(self, post: StoryPost) -> list[Any]:
        return [console_alert(post)]

    def render_digest(self, digest: Digest) -> list[Any]:
        return [console_digest(digest)]

    def render_reply(self, reply: Reply) -> list[Any]:
        parts = [p for p in (reply.title, reply.text) if p]
        parts.extend(console_alert(s) for s in reply.stories)
        if reply.actions:  # nothing to click in a terminal: say what each button would do
            parts.append(
                "\n".join(f"[{inline(a.label)}] ({a.command} {a.args})" for a in reply.actions)
            )
        return ["\n\n".join(parts)]

    def render_notice(self, notice: FeedNotice) -> list[Any]:
        from bot.platforms.notice import notice_text
        from bot.platforms.text import clean

        return [notice_text(notice, clean, lambda c: c)]

    def with_feedback(self, payloads: list[Any], story_id: int) -> list[Any]:
        return payloads  # nothing to click in a terminal

    def validate(self, payload: Any) -> list[str]:
        return [] if isinstance(payload, str) else ["a console payload is text"]

    def senders(self, credentials: Mapping[str, str | None]) -> dict[str, Sender]:
        return {"console": ConsoleSender()}

    def credential_problems(self, credentials: Mapping[str, str | None]) -> list[str]:
        return []

    async def check_online(self, credentials: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        return [], []

    def webhook_problem(self, url: str) -> str | None:
        return "the console has no webhooks"


PLATFORM = ConsolePlatform()
