"""The chat commands from the command line: `policybot search|subscriptions|why ...`.

The same handlers as Discord and Slack answer (bot.commands.handle) with a "cli" caller that
is an admin; output is rich tables, or JSON with --json. Feed text is printed as plain Text
(never parsed as rich markup) with control characters removed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from bot.app.cli.base import app, console, err_console, fail, open_bot

if TYPE_CHECKING:
    from bot.commands.types import Reply, Request

subs_app = typer.Typer(help="List, add or remove the subscriptions of a destination.")
app.add_typer(subs_app, name="subscriptions")

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

JSON_OPT = typer.Option(False, "--json", help="Print JSON instead of tables.")
PLATFORM_OPT = typer.Option("console", "--platform", help="discord, slack or console.")
SCOPE_OPT = typer.Option("", "--scope", help="Discord guild id or Slack team id.")
CHANNEL_OPT = typer.Option("", "--channel", help="Channel id.")
FEEDS_OPT = typer.Option(
    None, "--feeds", help='Feed names or tag:NAME, comma-separated: "EDPB,tag:privacy".'
)
EXCLUDE_OPT = typer.Option(None, "--exclude", help="Words that keep a story out.")
EXCLUDE_JUR_OPT = typer.Option(None, "--exclude-jurisdictions", help="e.g. US,CN")
EXCLUDE_TOPICS_OPT = typer.Option(None, "--exclude-topics", help="e.g. standards-safety")
EXCLUDE_FEEDS_OPT = typer.Option(
    None, "--exclude-feeds", help='Feed names or tag:NAME whose stories are left out: "Example".'
)


def _clean(s: str) -> str:
    return _CTRL.sub("", s)


# Commands that only read: they work on a SQLite file this user may not write.
_READS = frozenset({"search", "why", "subscriptions"})


def _context(ctx: typer.Context, *, read_only_ok: bool = False) -> Any:
    """The handlers' context over the core service. The config file is not read: these
    commands query and change the database only (feeds are added from chat, not here)."""
    from bot.commands.context import CommandContext

    def classifier() -> Any:  # `why` on a story stored without a verdict
        from bot.classify import get_classifier

        return get_classifier()

    return CommandContext(open_bot(ctx, classifier=classifier, read_only_ok=read_only_ok))


_PLATFORMS = ("console", "discord", "slack")


def _check_destination(platform: str, channel: str) -> None:
    # The handlers trust the CLI caller; say what is wrong before a row for nowhere is made.
    if platform not in _PLATFORMS:
        fail(
            f"--platform {platform!r}: use one of {', '.join(_PLATFORMS)} (webhook"
            " destinations are declared in the config file's subscriptions)"
        )
    if platform != "console" and not channel:
        fail(
            f"--channel is needed for {platform}: the channel id (e.g. 123456789012345678 on"
            " Discord, C0123ABCD on Slack)"
        )


def _run(ctx: typer.Context, command: str, args: dict[str, Any]) -> Reply:
    import asyncio

    from bot.commands.types import Caller, Request

    cctx = _context(ctx, read_only_ok=command in _READS)
    try:
        return asyncio.run(
            _handle(Request(command, args, Caller("cli", "cli", is_admin=True)), cctx)
        )
    finally:
        cctx.bot.close()


async def _handle(req: Request, cctx: Any) -> Reply:
    from bot.commands import handle

    return await handle(req, cctx)


def _jsonable(v: Any) -> Any:
    import dataclasses

    if isinstance(v, datetime):
        return v.isoformat()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _print(reply: Reply, as_json: bool) -> None:
    import json

    from rich.table import Table as RichTable
    from rich.text import Text

    if as_json:
        console.print_json(json.dumps(_jsonable(reply), ensure_ascii=False))
    else:
        out = err_console if reply.error else console
        if reply.title:
            out.print(Text(_clean(reply.title), style="bold"))
        if reply.text:
            out.print(Text(_clean(reply.text)))
        for i, s in enumerate(reply.stories, 1):
            line = Text(f"{i}. ", style="bold")
            line.append(_clean(s.title), style="bold")
            line.append(f"  [#{s.story_id}, {s.published:%Y-%m-%d}]", style="dim")
            console.print(line)
            meta = " · ".join(
                x
                for x in (
                    ", ".join(s.jurisdictions),
                    ", ".join(s.topics),
                    ", ".join(_clean(src.name) for src in s.sources),
                )
                if x
            )
            if meta:
                console.print(Text("   " + meta, style="cyan"))
            if s.url:
                console.print(Text("   " + _clean(s.url), style="blue"))
        if reply.table is not None:
            t = RichTable(*reply.table.columns, show_lines=False)
            for row in reply.table.rows:
                t.add_row(*(Text(_clean(c)) for c in row))
            console.print(t)
        for n in reply.notices:
            console.print(Text(f"note: {_clean(n)}", style="dim"))
        if reply.has_more:
            console.print(Text(f"more: --page {reply.page + 1}", style="dim"))
    if reply.error:
        raise typer.Exit(2)


@app.command()
def search(
    ctx: typer.Context,
    query: list[str] = typer.Argument(
        None,
        help='Words or "a phrase", any language; NOT word (or -word, after --) leaves out'
        " stories holding it: policybot search -- AI Act -UK",
    ),
    jurisdiction: str | None = typer.Option(None, "--jurisdiction", "-j"),
    topic: str | None = typer.Option(None, "--topic", "-t"),
    since: str | None = typer.Option(None, "--since", help="7d, 24h or 2026-11-01"),
    source: str | None = typer.Option(None, "--source", help="A feed's name."),
    lang: str | None = typer.Option(None, "--lang", help="Language code: en, zh, ja..."),
    page: int = typer.Option(1, "--page", min=1, max=1000),
    limit: int = typer.Option(
        5, "--limit", "--per-page", min=1, max=100, help="Stories per page (1-100)."
    ),
    all_items: bool = typer.Option(False, "--all", help="Include items not flagged relevant."),
    fmt: str = typer.Option(
        "table", "--format", help="table, json or csv (json and csv: one object/row a story)."
    ),
    as_json: bool = typer.Option(False, "--json", help="The same as --format json."),
) -> None:
    """Search stored stories (title, summary, source), best and newest first."""
    fmt = "json" if as_json else fmt.lower()
    if fmt not in ("table", "json", "csv"):
        fail(f"--format {fmt!r}: use table, json or csv")
    args = {
        "query": " ".join(query or []),
        "jurisdiction": jurisdiction,
        "topic": topic,
        "since": since,
        "source": source,
        "lang": lang,
        "page": page,
        "per_page": limit,
        "all": all_items,
    }
    if fmt == "table":
        _print(_run(ctx, "search", args), False)
        return
    _search_records(ctx, args, fmt)


def _search_records(ctx: typer.Context, args: dict[str, Any], fmt: str) -> None:
    """Search through the core service and print a stable schema: numbers as numbers, ids
    as ints, UTC ISO 8601 times, no display strings (docs: README, "Command line")."""
    import csv
    import json
    import sys

    from bot.app.cli.base import open_bot
    from bot.core import validate
    from bot.errors import PolicyBotError
    from bot.types import SearchQuery

    text = str(args["query"] or "")
    bot = open_bot(ctx, read_only_ok=True)
    try:
        q = SearchQuery(
            text=text,
            jurisdiction=validate.jurisdiction(args["jurisdiction"])
            if args["jurisdiction"]
            else None,
            topic=validate.topic(args["topic"]) if args["topic"] else None,
            lang=validate.language(args["lang"]) if args["lang"] else None,
            since=args["since"],
            source=args["source"],
            relevant_only=not args["all"],
            page=args["page"],
            per_page=args["per_page"],
        )
        if not text.strip() and not q.has_filters():
            fail('tell me what to search for, e.g. `policybot search "AI Act" --format json`')
        res = bot.search(q)
    except PolicyBotError as exc:
        fail(str(exc))
    finally:
        bot.close()
    stories = [
        {
            "id": p.story_id,
            "title": _clean(p.title),
            "url": p.url,
            "published": p.published.isoformat(),
            "language": p.language,
            "score": p.score,
            "jurisdictions": list(p.jurisdictions),
            "topics": list(p.topics),
            "instruments": list(p.instruments),
            "sources": [s.name for s in p.sources],
        }
        for p in res.hits
    ]
    if fmt == "json":
        out = {
            "query": " ".join(res.terms),
            "page": res.page,
            "per_page": res.per_page,
            "total": res.total,
            "has_more": res.has_more,
            "notices": list(res.notices),
            "stories": stories,
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    w = csv.writer(sys.stdout)
    cols = [
        "id",
        "title",
        "url",
        "published",
        "language",
        "score",
        "jurisdictions",
        "topics",
        "instruments",
        "sources",
    ]
    w.writerow(cols)
    for st in stories:
        w.writerow([_csv_cell(st[c]) for c in cols])


def _csv_cell(value: Any) -> Any:
    """Lists joined with |; feed text that a spreadsheet would run as a formula (=, +, -, @
    first) is quoted with a leading apostrophe, so a hostile title stays text."""
    if isinstance(value, list):
        value = "|".join(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@app.command()
def why(
    ctx: typer.Context,
    item: list[str] = typer.Argument(..., help="A story id, its URL, or words of its title."),
    as_json: bool = JSON_OPT,
) -> None:
    """Why an item was (or was not) flagged: matched terms, jurisdictions, rules."""
    _print(_run(ctx, "why", {"item": " ".join(item)}), as_json)


@subs_app.command("list")
def subs_list(
    ctx: typer.Context,
    platform: str = PLATFORM_OPT,
    scope: str = SCOPE_OPT,
    channel: str = CHANNEL_OPT,
    all_channels: bool = typer.Option(False, "--all-channels", help="Every channel of --scope."),
    as_json: bool = JSON_OPT,
) -> None:
    """The subscriptions of one destination."""
    args = {"platform": platform, "scope": scope, "channel": channel, "all_channels": all_channels}
    _print(_run(ctx, "subscriptions", args), as_json)


@subs_app.command("add")
def subs_add(
    ctx: typer.Context,
    platform: str = PLATFORM_OPT,
    scope: str = SCOPE_OPT,
    channel: str = CHANNEL_OPT,
    jurisdictions: str | None = typer.Option(None, "--jurisdictions", help="EU,US,China"),
    topics: str | None = typer.Option(None, "--topics", help="legislation,export-controls"),
    instruments: str | None = typer.Option(
        None, "--instruments", help='Ids or names, comma-separated: eu-ai-act,"Colorado AI Act"'
    ),
    min_score: float | None = typer.Option(
        None, "--min-score", min=0.0, max=1.0, help="Only stories scored at least this (0-1)."
    ),
    keywords: str | None = typer.Option(None, "--keywords", help="Comma-separated."),
    languages: str | None = typer.Option(None, "--languages", help="en,zh"),
    mode: str = typer.Option("instant", "--mode", help="instant, daily or weekly"),
    at: str = typer.Option("09:00", "--at", help="Digest time HH:MM."),
    day: str = typer.Option("mon", "--day", help="Weekly digest day."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA zone, e.g. Europe/Berlin."),
    name: str | None = typer.Option(None, "--name"),
    feeds: str | None = FEEDS_OPT,
    exclude: str | None = EXCLUDE_OPT,
    exclude_jurisdictions: str | None = EXCLUDE_JUR_OPT,
    exclude_topics: str | None = EXCLUDE_TOPICS_OPT,
    exclude_feeds: str | None = EXCLUDE_FEEDS_OPT,
    mention: str | None = typer.Option(
        None, "--mention", help="Discord role id or Slack user group id to ping."
    ),
    mention_min_score: float | None = typer.Option(
        None, "--mention-min-score", min=0.0, max=1.0, help="Ping only at this score or more."
    ),
    mention_instruments: str | None = typer.Option(
        None, "--mention-instruments", help="Ping only for stories naming one of these."
    ),
    post_as: str | None = typer.Option(
        None, "--post-as", help="message, thread, or forum (a Discord forum channel)."
    ),
    digest_thread: bool = typer.Option(
        False, "--digest-thread", help="Digests: header in the channel, stories in its thread."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a subscription to a destination.

    With --feeds and no other filter it posts everything those feeds publish, flagged or
    not; --exclude, --exclude-jurisdictions, --exclude-topics and --exclude-feeds keep
    stories out.
    """
    _check_destination(platform, channel)
    args = {
        "feeds": feeds,
        "exclude": exclude,
        "exclude_jurisdictions": exclude_jurisdictions,
        "exclude_topics": exclude_topics,
        "exclude_feeds": exclude_feeds,
        "platform": platform,
        "scope": scope,
        "channel": channel,
        "jurisdictions": jurisdictions,
        "topics": topics,
        "instruments": instruments,
        "keywords": keywords,
        "languages": languages,
        "mode": mode,
        "at": at,
        "day": day,
        "timezone": timezone,
        "name": name,
        "min_score": min_score,
        "mention": mention,
        "mention_min_score": mention_min_score,
        "mention_instruments": mention_instruments,
        "post_as": post_as,
        "digest_thread": digest_thread,
    }
    _print(_run(ctx, "subscribe", args), as_json)


@subs_app.command("remove")
def subs_remove(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="A subscription id, or `all`."),
    platform: str = PLATFORM_OPT,
    scope: str = SCOPE_OPT,
    channel: str = CHANNEL_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Remove one subscription (chat-made ones) of a destination, or all of them."""
    args = {"platform": platform, "scope": scope, "channel": channel, "id": target}
    _print(_run(ctx, "unsubscribe", args), as_json)


@subs_app.command("mute")
def subs_mute(
    ctx: typer.Context,
    duration: str = typer.Argument(..., help="How long: 30m, 12h, 7d or 2w (at most 90d)."),
    platform: str = PLATFORM_OPT,
    scope: str = SCOPE_OPT,
    channel: str = CHANNEL_OPT,
    subscription: int | None = typer.Option(
        None, "--subscription", help="Only this subscription (its id)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Hold back a destination's posts (or one subscription's) for a while.

    When the mute ends, the held-back stories are posted in the next digest (daily and
    weekly subscriptions) or as one catch-up digest (instant ones); nothing is dropped.
    """
    _check_destination(platform, channel)
    args = {
        "platform": platform,
        "scope": scope,
        "channel": channel,
        "duration": duration,
        "subscription": subscription,
    }
    _print(_run(ctx, "mute", args), as_json)


@subs_app.command("unmute")
def subs_unmute(
    ctx: typer.Context,
    subscription: int | None = typer.Argument(None, help="Only this subscription (its id)."),
    platform: str = PLATFORM_OPT,
    scope: str = SCOPE_OPT,
    channel: str = CHANNEL_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """End a mute now; the held-back stories are queued as one digest."""
    _check_destination(platform, channel)
    args: dict[str, Any] = {"platform": platform, "scope": scope, "channel": channel}
    args["subscription"] = subscription
    _print(_run(ctx, "unmute", args), as_json)


@subs_app.command("preview")
def subs_preview(
    ctx: typer.Context,
    jurisdictions: str | None = typer.Option(None, "--jurisdictions", help="EU,US,China"),
    topics: str | None = typer.Option(None, "--topics", help="legislation,export-controls"),
    instruments: str | None = typer.Option(None, "--instruments", help="eu-ai-act,..."),
    min_score: float | None = typer.Option(None, "--min-score", min=0.0, max=1.0),
    keywords: str | None = typer.Option(None, "--keywords", help="Comma-separated."),
    languages: str | None = typer.Option(None, "--languages", help="en,zh"),
    feeds: str | None = FEEDS_OPT,
    exclude: str | None = EXCLUDE_OPT,
    exclude_jurisdictions: str | None = EXCLUDE_JUR_OPT,
    exclude_topics: str | None = EXCLUDE_TOPICS_OPT,
    exclude_feeds: str | None = EXCLUDE_FEEDS_OPT,
    days: int = typer.Option(7, "--days", min=1, max=30, help="How many days back."),
    page: int = typer.Option(1, "--page", min=1, help="Result page (5 a page)."),
    as_json: bool = JSON_OPT,
) -> None:
    """What a subscription with these filters would have posted in the last days.

    The same matching as routing; nothing is stored.
    """
    args = {
        "jurisdictions": jurisdictions,
        "topics": topics,
        "instruments": instruments,
        "keywords": keywords,
        "languages": languages,
        "min_score": min_score,
        "feeds": feeds,
        "exclude": exclude,
        "exclude_jurisdictions": exclude_jurisdictions,
        "exclude_topics": exclude_topics,
        "exclude_feeds": exclude_feeds,
        "days": days,
        "page": page,
    }
    _print(_run(ctx, "preview", args), as_json)


def _feeds_app() -> typer.Typer:
    from bot.app.cli.core import feeds_app

    return feeds_app


@_feeds_app().command("add")
def feeds_add(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="The feed's address (http or https)."),
    name: str | None = typer.Option(None, "--name", help="Default: the feed's own title."),
    jurisdictions: str | None = typer.Option(
        None, "--jurisdictions", "-j", help="Hints, e.g. EU,DE."
    ),
) -> None:
    """Follow a feed, checked with one real fetch first (kept in the database).

    Like /policy feeds add: not written to feeds.yaml; private addresses are refused unless
    POLICYBOT_ALLOW_PRIVATE_FEEDS is set.
    """
    args = {"action": "add", "url": url, "name": name, "jurisdictions": jurisdictions}
    _print(_run(ctx, "feeds", args), False)  # an error reply exits 2 with its message


@_feeds_app().command("remove")
def feeds_remove(
    ctx: typer.Context,
    name: list[str] = typer.Argument(..., help="The feed's name (see `feeds status`)."),
) -> None:
    """Stop polling a feed added from chat or the CLI (its stories stay searchable).

    Feeds of feeds.yaml are removed from that file instead.
    """
    _print(_run(ctx, "feeds", {"action": "remove", "name": " ".join(name)}), False)


def _switch(ctx: typer.Context, name: list[str], enabled: bool) -> None:
    from bot.app.cli.base import open_bot
    from bot.errors import PolicyBotError

    bot = open_bot(ctx)
    try:
        done = bot.set_feed_enabled(" ".join(name), enabled, by="cli")
    except PolicyBotError as exc:
        fail(str(exc))
    finally:
        bot.close()
    state = "on: it is polled at the next tick" if enabled else "off: it is no longer polled"
    console.print(f"Feed {done!r} is {state}.", highlight=False)


@_feeds_app().command("enable")
def feeds_enable(
    ctx: typer.Context,
    name: list[str] = typer.Argument(..., help="The feed's name (see `feeds status`)."),
) -> None:
    """Turn a feed back on, clearing what the bot stopped it for (gone, moved, failing)."""
    _switch(ctx, name, True)


@_feeds_app().command("disable")
def feeds_disable(
    ctx: typer.Context,
    name: list[str] = typer.Argument(..., help="The feed's name (see `feeds status`)."),
) -> None:
    """Stop polling a feed added from chat or the CLI (config-file feeds: `enabled: false`)."""
    _switch(ctx, name, False)
