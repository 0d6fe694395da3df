"""Typed records and enums shared by every layer (after lemon24/reader's types module).

StoryPost and Digest are neutral, platform-free values that each platform renders; the enums
name the states and vocabularies that used to be bare strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


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


class PostAs(StrEnum):
    """How a subscription's stories appear: a message, a message that starts a thread (Slack:
    the thread's parent), or a post in a Discord forum channel."""

    MESSAGE = "message"
    THREAD = "thread"
    FORUM = "forum"


POST_AS: tuple[str, ...] = tuple(p.value for p in PostAs)
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# -- options: plain records the app builds from its config file --------------------------------
# The layers below the app take these, never the config file's pydantic models.


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """One feed as the operator configured it (URL resolved, interval decided)."""

    name: str
    url: str
    interval: timedelta
    language: str | None = None
    jurisdictions: tuple[str, ...] = ()
    enabled: bool = True
    # Labels subscriptions follow with `feeds: [tag:NAME]` (feed routing).
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DestinationOptions:
    """Where a subscription posts: a platform channel, a webhook (by env var) or the console."""

    platform: str  # a DestinationKind value
    guild: str = ""
    channel: str = ""
    webhook_env: str = ""


@dataclass(frozen=True, slots=True)
class SubscriptionOptions:
    """A subscription's filters and schedule, as the config file (or a command) gives them."""

    destination: DestinationOptions
    name: str | None = None
    jurisdictions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_score: float = 0.0
    mode: str = Mode.INSTANT.value
    at: str = "09:00"
    day: str = "mon"
    timezone: str = "UTC"
    # Feed routing: feed names or "tag:NAME"; such a subscription gets those feeds' stories,
    # flagged or not (the other filters still apply).
    feeds: tuple[str, ...] = ()
    # Exclusions: a story holding one of these words, jurisdictions or topics is left out.
    exclude: tuple[str, ...] = ()
    exclude_jurisdictions: tuple[str, ...] = ()
    exclude_topics: tuple[str, ...] = ()
    # Pings and threads (one line each, to ease merging with other options).
    mention: str | None = None  # a Discord role id or a Slack user group id to ping
    mention_min_score: float = 0.0  # ping only for stories scored at least this
    mention_instruments: tuple[str, ...] = ()  # ping only for stories naming one of these
    post_as: str = PostAs.MESSAGE.value  # a PostAs value
    digest_thread: bool = False  # digests: header in the channel, the stories in its thread
    # Feeds (names or "tag:NAME") whose stories are left out ("Exclude source" after a
    # "Not relevant" adds one).
    exclude_feeds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and how one post goes beyond "a message in the channel", decided per outbox row
    by delivery and carried to the sender inside the platform payload.

    `post_as` thread: the message starts a thread named `title`; forum: a forum post titled
    `title` with the forum tags named in `tags` (those that exist). `thread_id`: post inside
    this existing thread (a Discord thread id, a Slack parent ts); PARENT_THREAD means the
    thread the first part of the same outbox row started. `mention`: the role or user group
    this post pings (the only mention it may carry).
    """

    post_as: str = PostAs.MESSAGE.value
    title: str = ""
    tags: tuple[str, ...] = ()
    thread_id: str | None = None
    mention: str | None = None


PARENT_THREAD = "@parent"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search as a person asks it: words in the query language (see bot.store.search)
    and filters. `since` is a datetime or text such as '7d' or '2026-11-01'."""

    text: str = ""
    jurisdiction: str | None = None
    topic: str | None = None
    since: datetime | str | None = None
    source: str | None = None
    lang: str | None = None
    relevant_only: bool = True
    page: int = 1
    per_page: int = 5

    def has_filters(self) -> bool:
        return any((self.jurisdiction, self.topic, self.since, self.source, self.lang))


# -- what the core service answers ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """One subscription as stored, detached from the database."""

    id: int
    destination: DestinationOptions
    name: str | None
    jurisdictions: tuple[str, ...]
    topics: tuple[str, ...]
    instruments: tuple[str, ...]
    keywords: tuple[str, ...]
    languages: tuple[str, ...]
    min_score: float
    mode: str
    at: str
    day: str
    timezone: str
    origin: str
    created_by: str | None = None
    feeds: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_jurisdictions: tuple[str, ...] = ()
    exclude_topics: tuple[str, ...] = ()
    muted_until: datetime | None = None  # this subscription's own mute (not the channel's)
    mention: str | None = None
    mention_min_score: float = 0.0
    mention_instruments: tuple[str, ...] = ()
    post_as: str = PostAs.MESSAGE.value
    digest_thread: bool = False
    exclude_feeds: tuple[str, ...] = ()

    def schedule(self) -> str:
        """'instant', 'daily at 09:00 UTC' or 'weekly, mon 09:00 UTC'."""
        if self.mode == Mode.DAILY:
            return f"daily at {self.at} {self.timezone}"
        if self.mode == Mode.WEEKLY:
            return f"weekly, {self.day} {self.at} {self.timezone}"
        return self.mode


@dataclass(frozen=True, slots=True)
class FeedAdded:
    """The result of adding a feed: its name, whether an earlier one came back, its entries."""

    name: str
    revived: bool
    entries: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a story was (or was not) flagged: its verdict and the evidence behind it.

    `live` is True when nothing was stored and the story was classified just now.
    """

    story: StoryPost
    relevant: bool
    score: float
    jurisdictions: tuple[str, ...]
    topics: tuple[str, ...]
    instruments: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...]
    live: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class DigestPreview:
    """The stories a digest of the last `hours` would hold for a channel (newest first)."""

    digest: Digest | None
    total: int  # matching stories, of which `digest` holds the newest few
    hours: int
    filtered: bool  # True when the channel's subscriptions filtered; else all flagged stories


@dataclass(frozen=True, slots=True)
class MuteInfo:
    """A mute of a channel (subscription_id None) or of one of its subscriptions."""

    platform: str
    channel: str
    subscription_id: int | None
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionPreview:
    """What a subscription with these filters would have posted in the last `days` days:
    the newest stories first, `total` of them in all."""

    stories: tuple[StoryPost, ...]
    total: int
    days: int
    start: datetime
    end: datetime


# -- feed health in the channels (bot.deliver.health) -----------------------------------------


class FeedNoticeKind(StrEnum):
    """What a feed-health notice in a channel says."""

    WARNING = "warning"  # failing past the threshold, or gone (HTTP 410)
    MOVED = "moved"  # the server moved it permanently (301/308): the config wants the new URL
    RECOVERED = "recovered"  # it works again after a warning


@dataclass(frozen=True, slots=True)
class FeedHealthOptions:
    """When and where feed-health notices are posted (the config file's `feed_health:`)."""

    enabled: bool = True
    warn_after: timedelta = timedelta(hours=6)  # failing this long before a warning
    # How far back "the feeds that produced a channel's recent stories" looks.
    recent: timedelta = timedelta(days=14)
    # Every notice goes here instead of the affected channels, when set.
    ops_channel: DestinationOptions | None = None


@dataclass(frozen=True, slots=True)
class FeedNotice:
    """One feed-health notice as it is posted. `feed` and `reason` are feed or server text:
    hostile until escaped by the renderer."""

    feed: str
    kind: str  # a FeedNoticeKind
    reason: str
    since: datetime | None  # failing since (warnings)
    created_at: datetime
    new_url: str | None = None  # moved: where to (shown as text, never linked)


# -- relevance feedback (bot.core.feedback) -----------------------------------------------------


class FeedbackKind(StrEnum):
    """A person's word on the classifier: a posted story was not relevant, or one was missed."""

    NOT_RELEVANT = "not_relevant"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class FeedbackInfo:
    """One piece of relevance feedback as stored (a snapshot of the story's text with it)."""

    id: int
    kind: str  # a FeedbackKind
    story_id: int | None  # None: words of a story the bot never stored
    title: str
    summary: str
    language: str | None
    url: str | None
    platform: str
    scope: str
    channel: str
    user: str
    created_at: datetime
    jurisdictions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    created: bool = True  # False: the same person had said so already (nothing stored again)


class ExclusionKind(StrEnum):
    """What a one-click exclusion after "Not relevant" leaves out of a channel's subscriptions."""

    SOURCE = "source"  # the feed that brought the story (`exclude_feeds`)
    KEYWORD = "keyword"  # a word of the story (`exclude`)


@dataclass(frozen=True, slots=True)
class ExclusionInfo:
    """An exclusion a channel may add (or has added) after "Not relevant" on a story.

    `subscriptions`: the channel's subscriptions that would post the story were it not for
    this exclusion and that chat may edit; `excluded`: those of them that leave it out
    already; `config`: subscriptions of the config file that would post it (edited there,
    not from chat); `changed`: what the last add or undo changed.
    """

    story_id: int
    kind: str  # an ExclusionKind
    value: str  # the feed's name, or the word (feed text: hostile until escaped)
    subscriptions: tuple[int, ...] = ()
    excluded: tuple[int, ...] = ()
    config: tuple[int, ...] = ()
    changed: tuple[int, ...] = ()

    @property
    def done(self) -> bool:
        """Every editable subscription it concerns leaves it out already."""
        return bool(self.subscriptions) and set(self.subscriptions) <= set(self.excluded)
