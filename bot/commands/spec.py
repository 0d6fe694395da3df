"""What the chat commands take: one platform-neutral table both adapters translate from.

Discord builds typed slash-command options from it (by hand, with discord.py's decorators, so the
descriptions live here once); the Slack text parser (textargs) reads it to know option names,
aliases, types and which words are positional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.types import DAYS, MODES, POST_AS

# "rest": every remaining bare word, as a search query (a quoted phrase stays quoted);
# "text": every remaining bare word as one plain value (a feed's name: feeds remove My Feed).
Kind = Literal["str", "int", "float", "bool", "list", "choice", "rest", "text"]

FEED_ACTIONS = ("list", "status", "add", "remove")


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # the key in Request.args
    kind: Kind
    description: str
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    positional: bool = False  # bare words fill it (in order); "rest"/"text" take all that remain
    complete: str | None = None  # the autocomplete field ("jurisdiction", "topic"...)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    description: str
    options: tuple[Option, ...] = ()
    admin: bool = False  # changes what the workspace/guild receives
    slow: bool = True  # may touch the database or the network: defer first
    public: bool = False  # the answer is for the channel (a digest), not only the caller
    usage: str = ""
    aliases: tuple[str, ...] = ()

    def option(self, key: str) -> Option | None:
        k = key.strip().lower().lstrip("-").replace("-", "_")
        for o in self.options:
            if k == o.name or k in o.aliases:
                return o
        return None

    @property
    def positionals(self) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.positional)


_SHARE = Option("share", "bool", "Post the answer in the channel")
_JUR = Option(
    "jurisdiction",
    "str",
    "A code (EU, US, CN) or a name",
    aliases=("jurisdictions", "j", "country", "region"),
    complete="jurisdiction",
)
_TOPIC = Option(
    "topic",
    "str",
    "e.g. legislation, export-controls",
    aliases=("topics", "t"),
    complete="topic",
)
_SINCE = Option("since", "str", "24h, 7d, 30d or a date (2026-01-31)", aliases=("after", "last"))

# What a subscription filters on: subscribe and preview take the same options.
_FILTERS: tuple[Option, ...] = (
    Option(
        "jurisdictions",
        "list",
        "Comma-separated, e.g. CN,EU (empty: all)",
        aliases=("jurisdiction", "j", "countries", "country"),
        complete="jurisdiction",
    ),
    Option(
        "topics",
        "list",
        "Comma-separated, e.g. legislation (empty: all)",
        aliases=("topic", "t"),
        complete="topic",
    ),
    Option(
        "instruments",
        "list",
        "Comma-separated, e.g. eu-ai-act (empty: all)",
        aliases=("instrument", "i", "laws", "law"),
        complete="instrument",
    ),
    Option(
        "keywords",
        "list",
        "Words a story must contain",
        aliases=("keyword", "k", "words"),
    ),
    Option(
        "languages",
        "list",
        "Language codes, e.g. en,fr",
        aliases=("language", "lang", "langs"),
    ),
    Option(
        "min_score",
        "float",
        "Minimum score, 0 to 1 (default 0)",
        aliases=("score", "threshold"),
    ),
    Option(
        "feeds",
        "list",
        "Feed names or tag:NAME: all they post",
        aliases=("feed", "sources", "source"),
    ),
    Option(
        "exclude",
        "list",
        "Words that keep a story out",
        aliases=("exclude_keywords", "not", "x"),
    ),
    Option(
        "exclude_jurisdictions",
        "list",
        "Jurisdictions left out",
        aliases=("exclude_jurisdiction", "xj"),
        complete="jurisdiction",
    ),
    Option(
        "exclude_topics",
        "list",
        "Topics left out",
        aliases=("exclude_topic", "xt"),
        complete="topic",
    ),
    # Not among Discord's slash options (the command's size limit): there, "Exclude source"
    # after "Not relevant" sets it, and preview takes it in its `filters` text.
    Option(
        "exclude_feeds",
        "list",
        "Feeds (or tag:NAME) left out",
        aliases=("exclude_feed", "exclude_sources", "xf"),
    ),
)

COMMANDS: dict[str, CommandSpec] = {
    c.name: c
    for c in (
        CommandSpec(
            "search",
            "Search flagged AI-governance stories",
            (
                Option("query", "rest", "Words to look for", positional=True, aliases=("q",)),
                _JUR,
                _TOPIC,
                _SINCE,
                Option("source", "str", "Only stories from this feed", aliases=("feed",)),
                Option("lang", "str", "Language code, e.g. en", aliases=("language",)),
                Option("page", "int", "Result page", aliases=("p",)),
                Option("all", "bool", "Include stories not flagged as AI governance"),
                _SHARE,
            ),
            usage="search eu ai act --jurisdiction EU --since 7d",
            aliases=("find", "s"),
        ),
        CommandSpec(
            "subscribe",
            "Post matching stories to this channel",
            (
                *_FILTERS,
                Option(
                    "mode",
                    "choice",
                    "instant, daily or weekly",
                    choices=MODES,
                    aliases=("m",),
                ),
                Option("at", "str", "Digest time, HH:MM (default 09:00)", aliases=("time",)),
                Option("day", "choice", "Weekly digest day (default mon)", choices=DAYS),
                Option(
                    "timezone",
                    "str",
                    "Zone of `at`, e.g. Europe/Berlin (default UTC)",
                    aliases=("tz", "zone"),
                ),
                Option("name", "str", "A name for this subscription"),
                Option(
                    "mention",
                    "str",
                    "Role or user group to ping",
                    aliases=("ping",),
                ),
                Option(
                    "mention_min_score",
                    "float",
                    "Ping only at this score or more, 0 to 1",
                    aliases=("ping_score",),
                ),
                Option(
                    "mention_instruments",
                    "list",
                    "Ping only for these laws or policies",
                    aliases=("ping_instruments",),
                    complete="instrument",
                ),
                Option(
                    "post_as",
                    "choice",
                    "message, thread, or forum (Discord forum channels)",
                    choices=POST_AS,
                    aliases=("as",),
                ),
                Option(
                    "digest_thread",
                    "bool",
                    "Digests: stories in the header's thread",
                ),
            ),
            admin=True,
            usage="subscribe jurisdictions=CN,EU topics=legislation mode=daily at=09:00"
            " tz=Europe/Berlin",
            aliases=("sub", "follow"),
        ),
        CommandSpec(
            "unsubscribe",
            "Stop a subscription of this channel",
            (
                Option(
                    "id",
                    "str",
                    "Subscription id, or all",
                    positional=True,
                    aliases=("subscription",),
                ),
            ),
            admin=True,
            usage="unsubscribe 3",
            aliases=("unsub", "unfollow"),
        ),
        CommandSpec(
            "subscriptions",
            "List the subscriptions of this channel",
            (
                Option(
                    "all_channels",
                    "bool",
                    "Every channel of this server",
                    aliases=("all",),
                ),
            ),
            usage="subscriptions",
            aliases=("subs", "list"),
        ),
        CommandSpec(
            "mute",
            "Hold back this channel's posts for a while",
            (
                Option(
                    "duration",
                    "str",
                    "30m, 12h, 7d, 2w (at most 90d)",
                    positional=True,
                    aliases=("for",),
                ),
                Option("subscription", "int", "Only this subscription id", aliases=("id", "sub")),
            ),
            admin=True,
            usage="mute 7d",
        ),
        CommandSpec(
            "unmute",
            "End a mute now",
            (
                Option(
                    "subscription",
                    "int",
                    "Only this subscription id",
                    positional=True,
                    aliases=("id", "sub"),
                ),
            ),
            admin=True,
            usage="unmute",
        ),
        CommandSpec(
            "preview",
            "What these filters would have posted lately",
            (
                *_FILTERS,
                # Discord takes the filters as one text, as typed in Slack (its command stays
                # within Discord's size limit); the handler parses it like Slack's text.
                Option("filters", "str", "As for subscribe: feeds:tag:x exclude:y"),
                Option("days", "int", "Days back (default 7, at most 30)", aliases=("d",)),
                Option("page", "int", "Result page", aliases=("p",)),
            ),
            usage="preview feeds=tag:privacy exclude=crypto",
        ),
        CommandSpec(
            "digest",
            "A digest of recent stories, grouped by jurisdiction",
            (
                Option(
                    "hours",
                    "int",
                    "Hours back (default 24, at most 720)",
                    positional=True,
                    aliases=("h",),
                ),
            ),
            usage="digest 48",
            public=True,
        ),
        CommandSpec(
            "feeds",
            "The feeds: list, status, add or remove",
            (
                Option(
                    "action",
                    "choice",
                    "list, status, add or remove",
                    choices=FEED_ACTIONS,
                    positional=True,
                ),
                # Text, so that `feeds remove My Feed` needs no quotes; `add` refuses a URL
                # with spaces.
                Option(
                    "url",
                    "text",
                    "The feed's URL (add), or its name (remove)",
                    positional=True,
                    aliases=("link",),
                ),
                Option("name", "str", "The feed's name (add, remove)"),
                Option(
                    "jurisdictions",
                    "list",
                    "Jurisdictions it covers, e.g. EU",
                    aliases=("jurisdiction",),
                ),
            ),
            usage='feeds add https://example.org/ai.xml name="Example AI"',
            aliases=("feed",),
        ),
        CommandSpec(
            "why",
            "Why a story was flagged: the evidence",
            (
                Option(
                    "item",
                    "rest",
                    "A story id, its link, or title words",
                    positional=True,
                    aliases=("story", "id"),
                ),
            ),
            usage="why 1234",
            aliases=("explain",),
        ),
        CommandSpec(
            "missed",
            "Report a story the bot should have flagged",
            (
                Option(
                    "item",
                    "rest",
                    "The story's link, id, or headline words",
                    positional=True,
                    aliases=("story", "url"),
                ),
            ),
            usage="missed https://example.org/news/ai-law",
        ),
        CommandSpec(
            "help",
            "How to use these commands",
            (
                Option(
                    "command", "str", "A command to explain", positional=True, aliases=("topic",)
                ),
            ),
            slow=False,
            usage="help search",
        ),
    )
}

FEED_ADMIN_ACTIONS = frozenset({"add", "remove"})

# Commands that only buttons run (never typed, not in Discord's slash tree): "Not relevant"
# under alerts, and the exclusion it offers, which changes the channel's subscriptions and so
# needs the rights of `subscribe`.
NOT_RELEVANT_COMMAND = "not-relevant"
EXCLUDE_COMMAND = "exclude"
BUTTON_COMMANDS: dict[str, bool] = {NOT_RELEVANT_COMMAND: False, EXCLUDE_COMMAND: True}


def needs_admin(command: str, args: dict[str, object]) -> bool:
    """Whether this request changes shared settings (so the caller's rights matter)."""
    spec = COMMANDS.get(command)
    if spec is None:
        return BUTTON_COMMANDS.get(command, False)
    if command == "feeds":
        return str(args.get("action", "list")) in FEED_ADMIN_ACTIONS
    return spec.admin


def usage_lines(prefix: str = "/policy ") -> list[str]:
    return [f"{prefix}{c.usage or c.name}  {c.description}" for c in COMMANDS.values()]
