"""Neutral, platform-free values that renderers turn into Discord, Slack or console messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
