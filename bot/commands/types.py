"""Platform-neutral command requests and replies (errbot/opsdroid style: adapters translate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.types import Digest, StoryPost

Platform = Literal["discord", "slack", "cli", "test"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, and where. `scope` is the guild (Discord) or workspace/team (Slack)."""

    platform: Platform
    user_id: str
    scope: str = ""  # guild id / team id; "" on the CLI
    channel: str = ""  # channel id; "" on the CLI
    is_admin: bool = False  # Manage Server/Channels on Discord; admin list on Slack; CLI: True
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class Request:
    # "search", "subscribe", "unsubscribe", "subscriptions", "digest", "feeds", "why", "help"
    command: str
    args: dict[str, Any]
    caller: Caller


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Action:
    """A button under a reply that runs `command` with `args` for whoever clicks it, with
    that person's rights (a button-only command: spec.BUTTON_COMMANDS). The label is plain
    text and may hold feed text: each platform escapes it and cuts it to its limit."""

    label: str
    command: str
    args: dict[str, Any] = field(default_factory=dict)
    primary: bool = False  # the platform's emphasised style


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler answers. Plain text only: the platform renderer escapes and formats it."""

    title: str = ""
    text: str = ""  # plain text paragraphs; may be empty
    stories: tuple[StoryPost, ...] = ()  # search results, a digest, the item of `why`
    table: Table | None = None  # subscriptions, feeds status
    error: bool = False  # a user error (bad argument...): text says what to do
    ephemeral: bool = True  # visible only to the caller unless they asked to share
    page: int = 1
    has_more: bool = False
    # The request's args, kept whole on every page (the last one too): paging controls re-run
    # the command with them and set `page` themselves (see page_args).
    more_args: dict[str, Any] = field(default_factory=dict)
    suggestions: tuple[str, ...] = ()  # "did you mean"
    digest: Digest | None = None  # `digest`: post it to the channel (stories holds the same)
    notices: tuple[str, ...] = ()  # side remarks ("query shortened...") for a footer
    actions: tuple[Action, ...] = ()  # buttons under the reply (one-click exclusions)

    def page_args(self, delta: int) -> dict[str, Any] | None:
        """The args that show the page `delta` away from this one; None when there is no such
        page or the reply carries no args to re-run (a Previous built from nothing would run
        an empty search)."""
        target = self.page + delta
        if not self.more_args or target < 1 or (delta > 0 and not self.has_more):
            return None
        return {**self.more_args, "page": target}
