"""Typed records and enums shared by every layer (after lemon24/reader's types module).

StoryPost and Digest are neutral, platform-free values that each platform renders; the enums
name the states and vocabularies that used to be bare strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # the feed's name, e.g. "Politico Europe"
    url: str | None  # the entry's link at that source


@dataclass(frozen=True, slots=True)
class StoryPost:
    """One flagged story as it is posted: everything a renderer needs, nothing platform-specific."""

    story_id: int
    title: str  # plain text from the feed: hostile until escaped by the renderer
    url: str | None
    summary: str
    published: datetime  # UTC
    sources: tuple[Source, ...] = ()
    jurisdictions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    score: float = 0.0
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """Stories of a period, to be grouped by jurisdiction then topic by the renderer."""

    title: str  # e.g. "AI governance digest"
    period_start: datetime
    period_end: datetime
    stories: tuple[StoryPost, ...] = field(default_factory=tuple)


# -- enums: the states and vocabularies every layer shares ---------------------------------


class OutboxStatus(StrEnum):
    """Life of an outbox row: pending -> sending -> sent, or failed (see deliver.worker)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Origin(StrEnum):
    """Who made a feed or subscription: the config file owns its own; the others live in
    the database only."""

    CONFIG = "config"
    CHAT = "chat"
    CLI = "cli"


class DestinationKind(StrEnum):
    """Where a destination posts: a platform, and for webhooks the way in."""

    CONSOLE = "console"
    DISCORD = "discord"
    DISCORD_WEBHOOK = "discord-webhook"
    SLACK = "slack"
    SLACK_WEBHOOK = "slack-webhook"

    @property
    def platform(self) -> str:
        """The platform package that renders for it: "discord", "slack" or "console"."""
        return self.value.split("-", 1)[0]

    @property
    def webhook(self) -> bool:
        return self.value.endswith("-webhook")


def platform_of(kind: str) -> str:
    """The platform ("discord", "slack", "console") of a destination kind string."""
    try:
        return DestinationKind(kind).platform
    except ValueError:
        return kind.split("-", 1)[0]


class Mode(StrEnum):
    """How a subscription posts: each story at once, or a digest a day or a week."""

    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"


MODES: tuple[str, ...] = tuple(m.value for m in Mode)
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
