"""Pings, threads and follow-ups for each destination kind (deliver.ports.Styler): each
platform's own rendering, chosen by kind. The console shows follow-ups as text and has no
threads or pings."""

from __future__ import annotations

from typing import Any

from bot.platforms.console.render import console_digest
from bot.platforms.discord.place import discord_digest_header, discord_followup, discord_place
from bot.platforms.slack.place import slack_digest_header, slack_followup, slack_place
from bot.types import Digest, Placement, Source, StoryPost, platform_of


class PlatformStyler:
    def place(self, kind: str, payload: Any, placement: Placement) -> Any:
        if not isinstance(payload, dict):
            return payload
        platform = platform_of(kind)
        if platform == "discord":
            return discord_place(payload, placement)
        if platform == "slack":
            return slack_place(payload, placement)
        return payload

    def digest_header(self, kind: str, digest: Digest) -> Any:
        platform = platform_of(kind)
        if platform == "discord":
            return discord_digest_header(digest)
        if platform == "slack":
            return slack_digest_header(digest)
        return console_digest(Digest(digest.title, digest.period_start, digest.period_end))

    def followup(self, kind: str, post: StoryPost, source: Source) -> list[Any]:
        platform = platform_of(kind)
        if platform == "discord":
            return discord_followup(post, source)
        if platform == "slack":
            return slack_followup(post, source)
        return [f"Also reported by {source.name}: {post.title}"]


STYLER = PlatformStyler()
