"""The `/policy` commands, once, for every platform: Request in, Reply out.

Adapters (Discord, Slack, CLI) turn their input into a Request and render the Reply; nothing
here knows a platform. Database work runs in a worker thread so a chat event loop never
stalls on it. Every user mistake becomes an error Reply that says what to type instead.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.commands.context import CommandContext
from bot.commands.types import Caller, Reply, Request, Table
from bot.commands.vocab import (
    Instruments,
    instrument_vocabulary,
    jurisdiction_names,
    resolve_instrument,
    resolve_jurisdiction,
    resolve_language,
    resolve_topic,
    time_zones,
    time_zones_by_folded,
)
from bot.deliver.match import SubscriptionIndex
from bot.store.models import Destination, Entry, Feed, Story, Subscription, Verdict
from bot.store.search import SearchError, parse_since, search_stories, story_posts
from bot.types import DAYS, MODES, Digest, StoryPost

log = logging.getLogger("policybot.commands")

DIGEST_DEFAULT_HOURS = 24
DIGEST_MAX_HOURS = 720
DIGEST_MAX_STORIES = 50
MAX_LIST_ITEMS = 20
MAX_ITEM_CHARS = 100


class UserError(Exception):
    """A mistake in the command; the message (and suggestions) go back to the caller."""

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = tuple(suggestions)


def _show(value: Any) -> str:
    """User input echoed back: bounded, one line."""
    s = re.sub(r"\s+", " ", str(value)).strip()
    return s if len(s) <= 60 else s[:57] + "..."


def _error(e: UserError, title: str = "") -> Reply:
    text = str(e)
    if e.suggestions:
        text += "\nDid you mean: " + ", ".join(e.suggestions) + "?"
    return Reply(title=title, text=text, error=True, suggestions=e.suggestions)


async def _db(ctx: CommandContext, fn: Callable[[Session], Any], *, write: bool = False) -> Any:
    def run() -> Any:
        cm = ctx.storage.write() if write else ctx.storage.session()
        with cm as s:
            return fn(s)

    return await asyncio.to_thread(run)


# -- argument parsing --------------------------------------------------------------------------


def _str_arg(args: dict[str, Any], name: str, max_len: int = 500) -> str | None:
    v = args.get(name)
    if v is None:
        return None
    s = str(v).strip()
    if not s:
        return None
    if len(s) > max_len:
        raise UserError(f"`{name}` is too long (at most {max_len} characters)")
    return s


def _int_arg(args: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = args.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    if isinstance(v, bool):
        raise UserError(f"`{name}` must be a whole number")
    try:
        n = int(str(v).strip())
    except ValueError:
        raise UserError(f"`{name}` must be a whole number, not {_show(v)!r}") from None
    if not lo <= n <= hi:
        raise UserError(f"`{name}` must be between {lo} and {hi}")
    return n


def _float_arg(args: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    v = args.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    what = f"`{name}` must be a number from {lo:g} to {hi:g}, e.g. 0.6"
    if isinstance(v, bool):
        raise UserError(what)
    try:
        x = float(str(v).strip().replace(",", "."))  # "0,6": a decimal comma
    except ValueError:
        raise UserError(f"{what}, not {_show(v)!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise UserError(what)
    return x


def _bool_arg(args: dict[str, Any], name: str) -> bool:
    v = args.get(name)
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    return str(v).strip().lower() in ("1", "true", "yes", "on", "y")


def _list_arg(args: dict[str, Any], name: str, *, commas_only: bool = False) -> list[str]:
    """A list from a list, or from "a, b c" text (commas only when items may hold spaces)."""
    v = args.get(name)
    if v is None:
        return []
    raw: list[str] = []
    items = v if isinstance(v, list | tuple | set) else [v]
    for item in items:
        sep = r"[,;\n]" if commas_only else r"[,;\s]+"
        raw.extend(p.strip() for p in re.split(sep, str(item)))
    out: list[str] = []
    for p in raw:
        if p and p not in out:
            out.append(p)
    if len(out) > MAX_LIST_ITEMS:
        raise UserError(f"`{name}`: at most {MAX_LIST_ITEMS} values")
    for p in out:
        if len(p) > MAX_ITEM_CHARS:
            raise UserError(f"`{name}`: each value at most {MAX_ITEM_CHARS} characters")
    return out


def _jurisdiction(text: str) -> str:
    r = resolve_jurisdiction(text)
    if r.value is None:
        raise UserError(
            f"unknown jurisdiction {_show(text)!r}: use a country name or code, EU or INTL",
            r.suggestions,
        )
    return r.value


def _topic(text: str) -> str:
    r = resolve_topic(text)
    if r.value is None:
        raise UserError(f"unknown topic {_show(text)!r}", r.suggestions)
    return r.value


def _instrument(text: str, vocab: Instruments) -> str:
    r = resolve_instrument(text, vocab)
    if r.value is None:
        raise UserError(
            f"unknown instrument {_show(text)!r}: use a law or policy the classifier knows,"
            " by id or name (e.g. eu-ai-act, US CHIPS and Science Act)",
            r.suggestions,
        )
    return r.value


def _language(text: str) -> str:
    r = resolve_language(text)
    if r.value is None:
        raise UserError(f"unknown language {_show(text)!r}: use a code such as en, zh, ja")
    return r.value


def _suggest(value: str, choices: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        m
        for m, _s, _i in process.extract(
            value, list(choices), scorer=fuzz.WRatio, limit=3, score_cutoff=60
        )
    )


# -- destinations and scope ----------------------------------------------------------------------


def _destination_key(req: Request) -> tuple[str, str, str]:
    """(platform, scope, channel) of THIS channel; the CLI may name any destination."""
    c = req.caller
    if c.platform == "cli":
        platform = _str_arg(req.args, "platform", 32) or "console"
        scope = _str_arg(req.args, "scope", 64) or ""
        channel = _str_arg(req.args, "channel", 64) or ""
        return platform, scope, channel
    if not c.channel:
        raise UserError("this command works in a channel")
    return c.platform, c.scope, c.channel


def _scope_key(req: Request) -> tuple[str, str]:
    platform, scope, _ = _destination_key(req)
    return platform, scope


def _require_admin(caller: Caller, what: str) -> None:
    if not caller.is_admin:
        raise UserError(
            f"only server/workspace admins can {what}"
            " (Discord: Manage Server or Manage Channels; Slack: a workspace admin)"
        )


def _who(caller: Caller) -> str:
    return f"{caller.platform}:{caller.scope}:{caller.user_id}"[:200]


# -- search ------------------------------------------------------------------------------------


async def cmd_search(req: Request, ctx: CommandContext) -> Reply:
    a = req.args
    query = str(a.get("query") or "")
    now = ctx.now()
    jurisdiction = _jurisdiction(j) if (j := _str_arg(a, "jurisdiction", 100)) else None
    topic = _topic(t) if (t := _str_arg(a, "topic", 100)) else None
    lang = _language(x) if (x := _str_arg(a, "lang", 20)) else None
    since_s = _str_arg(a, "since", 40)
    try:
        since = parse_since(since_s, now) if since_s else None
    except SearchError as exc:
        raise UserError(str(exc)) from None
    source = _str_arg(a, "source", 200)
    page = _int_arg(a, "page", 1, 1, 1000)
    per_page = _int_arg(a, "per_page", 5, 1, 10)
    share = _bool_arg(a, "share")
    relevant_only = not _bool_arg(a, "all")
    filters = any((jurisdiction, topic, lang, since, source))
    if not query.strip() and not filters:
        if req.caller.platform == "cli":
            raise UserError(
                'tell me what to search for, e.g. `policybot search "AI Act"`,'
                " `policybot search 人工智能 --jurisdiction CN` or"
                " `policybot search chips --since 7d`"
            )
        raise UserError(
            "tell me what to search for, e.g. `/policy search AI Act`,"
            " `/policy search 人工智能 jurisdiction:CN` or `/policy search chips since:7d`"
        )

    def run(s: Session) -> Any:
        if source is not None:
            names = list(s.scalars(select(Feed.name)))
            if source.casefold() not in {n.casefold() for n in names}:
                raise UserError(f"no feed is called {_show(source)!r}", _suggest(source, names))
        return search_stories(
            s,
            query,
            jurisdiction=jurisdiction,
            topic=topic,
            since=since,
            source=source,
            lang=lang,
            relevant_only=relevant_only,
            page=page,
            per_page=per_page,
            now=now,
        )

    res = await _db(ctx, run)
    shown_q = " ".join(res.terms) or "(filters only)"
    if not res.hits:
        text = f"No stories match {shown_q!s}."
        if res.page > 1:
            text = f"No more results for {shown_q} (page {res.page})."
        elif relevant_only:
            text += " Try fewer words, another spelling, or drop a filter."
        # Past the last page: keep the args so that Previous still runs this search.
        return Reply(
            title="Search",
            text=text,
            ephemeral=not share,
            page=res.page,
            more_args=dict(a),
            notices=res.notices,
        )
    count = f"{res.total}" if res.total is not None else "many"
    first = (res.page - 1) * res.per_page + 1
    text = (
        f"{count} result{'s' if res.total != 1 else ''} for {shown_q}; showing"
        f" {first}-{first + len(res.hits) - 1}."
    )
    return Reply(
        title="Search",
        text=text,
        stories=tuple(res.hits),
        ephemeral=not share,
        page=res.page,
        has_more=res.has_more,
        more_args=dict(a),  # Previous needs them on the last page too
        notices=res.notices,
    )


# -- subscriptions -----------------------------------------------------------------------------


def _hhmm(v: str) -> str:
    m = re.fullmatch(r"(\d{1,2})(?::|h|\.)?(\d{2})?", v.strip().lower())
    if not m or int(m.group(1)) > 23 or (m.group(2) and int(m.group(2)) > 59):
        raise UserError(f"{_show(v)!r} is not a time of day: write HH:MM, e.g. 09:00")
    return f"{int(m.group(1)):02d}:{m.group(2) or '00'}"


def _day(v: str) -> str:
    d = v.strip().lower()[:3]
    if d not in DAYS:
        raise UserError(f"{_show(v)!r} is not a day: use mon, tue, ... sun")
    return d


def _timezone(v: str) -> str:
    try:
        zoneinfo.ZoneInfo(v)
        return v
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hit = time_zones_by_folded().get(v.casefold())  # cached: no tz database walk per typo
        if hit is not None:
            return hit
        raise UserError(
            f"unknown time zone {_show(v)!r}: use an IANA name such as Europe/Berlin",
            _suggest(v, time_zones()),
        ) from None


def _validated_subscription(a: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "jurisdictions": [_jurisdiction(j) for j in _list_arg(a, "jurisdictions")],
        "topics": [_topic(t) for t in _list_arg(a, "topics")],
        "instruments": _list_arg(a, "instruments", commas_only=True),
        "keywords": _list_arg(a, "keywords", commas_only=True),
        "languages": [_language(x) for x in _list_arg(a, "languages")],
    }
    for k in ("jurisdictions", "topics", "languages"):
        values[k] = list(dict.fromkeys(values[k]))
    mode = (_str_arg(a, "mode", 20) or "instant").lower()
    if mode not in MODES:
        raise UserError(
            f"unknown mode {_show(mode)!r}: instant, daily or weekly", _suggest(mode, MODES)
        )
    values["mode"] = mode
    values["at"] = _hhmm(_str_arg(a, "at", 10) or "09:00")
    values["day"] = _day(_str_arg(a, "day", 12) or "mon")
    values["timezone"] = _timezone(_str_arg(a, "timezone", 64) or "UTC")
    values["min_score"] = _float_arg(a, "min_score", 0.0, 0.0, 1.0)
    name = _str_arg(a, "name", 200)
    values["name"] = name
    return values


def _describe_sub(row: Subscription) -> tuple[str, ...]:
    def j(v: Sequence[str] | None) -> str:
        return ", ".join(v or ()) or "any"

    when = row.mode
    if row.mode == "daily":
        when = f"daily at {row.at} {row.timezone}"
    elif row.mode == "weekly":
        when = f"weekly, {row.day} {row.at} {row.timezone}"
    return (
        str(row.id),
        j(row.jurisdictions),
        j(row.topics),
        j(list(row.instruments or ()) + list(row.keywords or ())),
        f"{row.min_score:g}" if row.min_score else "",  # empty: not shown
        when,
        row.origin,
    )


SUB_COLUMNS = (
    "id",
    "jurisdictions",
    "topics",
    "instruments/keywords",
    "min score",
    "when",
    "origin",
)


async def cmd_subscribe(req: Request, ctx: CommandContext) -> Reply:
    _require_admin(req.caller, "change this channel's subscriptions")
    platform, scope, channel = _destination_key(req)
    values = _validated_subscription(req.args)
    if values["instruments"]:
        # Stored by canonical name, as verdicts hold them (the matcher compares the two).
        vocab = await asyncio.to_thread(instrument_vocabulary, ctx.classifier)
        values["instruments"] = list(
            dict.fromkeys(_instrument(x, vocab) for x in values["instruments"])
        )
    limit = ctx.max_subscriptions_per_channel
    created_at = ctx.now()

    def run(s: Session) -> Subscription:
        from bot.deliver.route import get_or_create_destination

        dest = get_or_create_destination(s, platform, guild=scope, channel=channel)
        n = s.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.destination_id == dest.id)
        )
        if (n or 0) >= limit:
            raise UserError(f"this channel has {n} subscriptions already (at most {limit})")
        row = Subscription(
            destination_id=dest.id,
            origin="chat",
            created_by=_who(req.caller),
            created_at=created_at,
            **values,
        )
        s.add(row)
        s.flush()
        return row

    row = await _db(ctx, run, write=True)
    _changed()
    return Reply(
        title="Subscribed",
        text=f"Subscription {row.id} added for this channel.",
        table=Table(SUB_COLUMNS, (_describe_sub(row),)),
    )


def _changed() -> None:
    from bot.deliver.route import subscriptions_changed

    subscriptions_changed()


def _scope_subscriptions(s: Session, platform: str, scope: str) -> Any:
    return (
        select(Subscription)
        .join(Destination, Destination.id == Subscription.destination_id)
        .where(Destination.platform == platform, Destination.guild == scope)
    )


async def cmd_unsubscribe(req: Request, ctx: CommandContext) -> Reply:
    _require_admin(req.caller, "change this channel's subscriptions")
    platform, scope, channel = _destination_key(req)
    target = _str_arg(req.args, "id", 40)
    if target is None:
        raise UserError(
            "say which subscription: `/policy unsubscribe 3` (see"
            " `/policy subscriptions`) or `/policy unsubscribe all`"
        )

    if target.lower() == "all":

        def run_all(s: Session) -> int:
            rows = list(
                s.scalars(
                    _scope_subscriptions(s, platform, scope).where(
                        Destination.channel == channel, Subscription.origin == "chat"
                    )
                )
            )
            for r in rows:
                s.delete(r)
            return len(rows)

        n = await _db(ctx, run_all, write=True)
        _changed()
        return Reply(title="Unsubscribed", text=f"Removed {n} subscription(s) of this channel.")

    try:
        sid = int(target.lstrip("#"))
    except ValueError:
        raise UserError(
            f"{_show(target)!r} is not a subscription id: use the number shown by"
            " `/policy subscriptions`, or `all`"
        ) from None

    def run(s: Session) -> str:
        row = s.scalars(
            _scope_subscriptions(s, platform, scope).where(Subscription.id == sid)
        ).one_or_none()
        if row is None:  # another scope's id looks exactly like a missing one
            raise UserError(f"no such subscription: {sid}")
        if row.origin != "chat":
            raise UserError(
                f"subscription {sid} comes from the bot's config file: the operator removes it"
                " there"
            )
        s.delete(row)
        return "ok"

    await _db(ctx, run, write=True)
    _changed()
    return Reply(title="Unsubscribed", text=f"Subscription {sid} removed.")


async def cmd_subscriptions(req: Request, ctx: CommandContext) -> Reply:
    platform, scope, channel = _destination_key(req)
    every_channel = _bool_arg(req.args, "all_channels")

    def run(s: Session) -> list[tuple[str, ...]]:
        stmt = _scope_subscriptions(s, platform, scope)
        if not every_channel:
            stmt = stmt.where(Destination.channel == channel)
        return [_describe_sub(r) for r in s.scalars(stmt.order_by(Subscription.id))]

    rows = await _db(ctx, run)
    if not rows:
        return Reply(
            title="Subscriptions",
            text="This channel has no subscriptions. Add one with e.g."
            " `/policy subscribe jurisdictions:EU topics:legislation mode:daily at:09:00`.",
        )
    return Reply(
        title="Subscriptions",
        text=f"{len(rows)} subscription(s).",
        table=Table(SUB_COLUMNS, tuple(rows)),
    )


# -- digest ------------------------------------------------------------------------------------


async def cmd_digest(req: Request, ctx: CommandContext) -> Reply:
    hours = _int_arg(req.args, "hours", DIGEST_DEFAULT_HOURS, 1, DIGEST_MAX_HOURS)
    platform, scope, channel = _destination_key(req)
    end = ctx.now()
    start = end - timedelta(hours=hours)

    def run(s: Session) -> tuple[list[StoryPost], int, bool]:
        from bot.deliver.route import candidate_facts, view_of

        subs = list(
            s.scalars(
                _scope_subscriptions(s, platform, scope).where(Destination.channel == channel)
            )
        )
        index = SubscriptionIndex([view_of(r) for r in subs]) if subs else None
        ids: list[int] = []
        for sid, facts in candidate_facts(s, start, end, newest_first=True):
            if index is None or index.match_mask(facts):
                ids.append(sid)
        total = len(ids)
        return story_posts(s, ids[:DIGEST_MAX_STORIES]), total, bool(subs)

    posts, total, filtered = await _db(ctx, run)
    scope_text = "this channel's subscriptions" if filtered else "all flagged stories"
    if not posts:
        return Reply(title="Digest", text=f"Nothing in the last {hours} h matching {scope_text}.")
    digest = Digest(
        title=f"AI governance digest: last {hours} h",
        period_start=start,
        period_end=end,
        stories=tuple(posts),
    )
    text = f"{total} stor{'y' if total == 1 else 'ies'} in the last {hours} h ({scope_text})."
    if total > len(posts):
        text += f" The newest {len(posts)} are shown; narrow it with fewer hours."
    return Reply(
        title=digest.title, text=text, stories=tuple(posts), digest=digest, ephemeral=False
    )


# -- feeds -------------------------------------------------------------------------------------


def _safe_url(url: str) -> str:
    """Scheme, host and path only: query strings may hold keys."""
    p = urlsplit(url)
    if not p.netloc:
        return url.split("?")[0][:200]
    return f"{p.scheme}://{p.hostname or ''}{':' + str(p.port) if p.port else ''}{p.path}"[:200]


def _feed_health(f: Feed) -> str:
    if not f.enabled or not f.in_config:
        return "removed" if f.origin == "chat" or not f.in_config else "disabled"
    if f.disabled_reason:
        return "stopped: " + f.disabled_reason[:80]
    if f.consecutive_failures:
        return f"failing ({f.consecutive_failures}x): {(f.last_error or '')[:60]}"
    if f.last_success_at is None:
        return "not polled yet"
    return "ok"


async def cmd_feeds(req: Request, ctx: CommandContext) -> Reply:
    action = (_str_arg(req.args, "action", 20) or "list").lower()
    if action in ("list", "status"):
        return await _feeds_list(req, ctx)
    if action == "add":
        return await _feeds_add(req, ctx)
    if action == "remove":
        return await _feeds_remove(req, ctx)
    raise UserError(
        f"unknown feeds action {_show(action)!r}: list, add or remove",
        _suggest(action, ("list", "add", "remove")),
    )


async def _feeds_list(req: Request, ctx: CommandContext) -> Reply:
    now = ctx.now()

    def run(s: Session) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for f in s.scalars(select(Feed).order_by(Feed.name)):
            last = f.last_success_at
            ago = "never" if last is None else f"{int((now - last).total_seconds() // 60)} min ago"
            out.append(
                (f.name, _feed_health(f), ago, str(f.entry_count), f.origin, _safe_url(f.url))
            )
        return out

    rows = await _db(ctx, run)
    if not rows:
        return Reply(title="Feeds", text="No feeds yet.")
    active = sum(1 for r in rows if r[1] in ("ok", "not polled yet"))
    return Reply(
        title="Feeds",
        text=f"{len(rows)} feed{'s' if len(rows) != 1 else ''}, {active} healthy.",
        table=Table(("name", "status", "last success", "entries", "origin", "url"), tuple(rows)),
    )


async def _feeds_add(req: Request, ctx: CommandContext) -> Reply:
    _require_admin(req.caller, "add feeds")
    url = _str_arg(req.args, "url", 2000)
    if not url:
        raise UserError("give the feed's address: `/policy feeds add https://example.org/feed.xml`")
    p = urlsplit(url)
    if p.scheme.lower() not in ("http", "https") or not p.netloc or re.search(r"\s", url):
        raise UserError(f"{_show(url)!r} is not an http(s) URL (a name goes in `name`)")
    name = _str_arg(req.args, "name", 120)
    jurisdictions = [_jurisdiction(j) for j in _list_arg(req.args, "jurisdictions")]

    def precheck(s: Session) -> None:
        n = s.scalar(select(func.count()).select_from(Feed).where(Feed.origin == "chat")) or 0
        if n >= ctx.max_chat_feeds:
            raise UserError(f"there are {n} feeds added from chat already; ask the operator")
        same = s.scalars(select(Feed).where(or_(Feed.url == url, Feed.config_url == url))).first()
        if same is not None and same.enabled and same.in_config:
            raise UserError(f"this feed is followed already, as {same.name!r}")

    await _db(ctx, precheck)
    check = await ctx.check_feed(url)
    if not check.ok:
        return Reply(title="Feed not added", text=f"{_show(url)}: {check.error}", error=True)
    final_name = (name or check.title or p.hostname or "feed").strip()[:120]
    interval = 1800
    if ctx.config is not None:
        interval = int(ctx.config.defaults.interval.total_seconds())
    now = ctx.now()

    def run(s: Session) -> tuple[str, bool]:
        existing = s.scalars(
            select(Feed).where(func.lower(Feed.name) == final_name.casefold())
        ).one_or_none()
        if existing is not None and (existing.origin != "chat" or existing.enabled):
            raise UserError(
                f"a feed is already called {existing.name!r}: add it again with another name"
                " (`name:`)"
            )
        if existing is not None:  # a chat feed removed earlier: bring it back
            row = existing
            row.config_url = row.url = url
            row.etag = row.last_modified = row.body_hash = None
            row.disabled_reason = None
            row.consecutive_failures = 0
        else:
            row = Feed(
                name=final_name,
                config_url=url,
                url=url,
                added_at=now,
                consecutive_failures=0,
                entry_count=0,
            )
            s.add(row)
        row.origin = "chat"
        row.added_by = _who(req.caller)
        row.enabled = True
        row.in_config = True
        row.jurisdictions = jurisdictions
        row.interval_seconds = interval
        row.next_poll_at = now
        row.title = (check.title or "")[:500] or None
        s.flush()
        return row.name, existing is not None

    added, revived = await _db(ctx, run, write=True)
    verb = "re-added" if revived else "added"
    return Reply(
        title="Feed added",
        text=f"Feed {added!r} {verb}: {check.entries} entries now; it will be polled shortly."
        " Its older entries are stored for search, not posted.",
    )


async def _feeds_remove(req: Request, ctx: CommandContext) -> Reply:
    _require_admin(req.caller, "remove feeds")
    # "feeds remove NAME" arrives with NAME in the positional `url` slot from text commands.
    name = _str_arg(req.args, "name", 200) or _str_arg(req.args, "url", 200)
    if not name:
        raise UserError("say which feed: `/policy feeds remove NAME` (see `/policy feeds`)")

    def run(s: Session) -> str:
        rows = list(s.scalars(select(Feed)))
        row = next((f for f in rows if f.name.casefold() == name.casefold()), None)
        if row is None:
            raise UserError(
                f"no feed is called {_show(name)!r}", _suggest(name, [f.name for f in rows])
            )
        if row.origin != "chat":
            raise UserError(
                f"{row.name!r} comes from the bot's config file: the operator removes it there"
            )
        if not row.enabled:
            raise UserError(f"{row.name!r} was removed already")
        row.enabled = False
        row.disabled_reason = f"removed from chat by {_who(req.caller)}"[:500]
        return row.name

    removed = await _db(ctx, run, write=True)
    return Reply(
        title="Feed removed",
        text=f"Feed {removed!r} will no longer be polled; its stories stay searchable.",
    )


# -- why ---------------------------------------------------------------------------------------


def _find_item(s: Session, item: str, now: datetime) -> tuple[int | None, str]:
    """A story id from an id, a URL or a title search; with a note on how it was found."""
    t = item.strip().lstrip("#")
    if t.isdigit() and len(t) < 12:
        sid = int(t)
        return (sid, "") if s.get(Story, sid) is not None else (None, "")
    if re.match(r"https?://", t, re.IGNORECASE):
        found = s.scalar(select(Story.id).where(Story.url == t).limit(1))
        if found is None:
            found = s.scalar(select(Entry.story_id).where(Entry.url == t).limit(1))
        return found, ""
    page = search_stories(s, t, relevant_only=False, per_page=5, now=now)
    if not page.hits:
        return None, ""
    note = ""
    if len(page.hits) > 1:
        note = f"Best of {page.total if page.total is not None else 'many'} matches."
    return page.hits[0].story_id, note


def _evidence_rows(evidence: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], ...]:
    rows = []
    for e in evidence[:25]:
        rows.append(
            (
                str(e.get("rule", "")),
                str(e.get("term", ""))[:80],
                str(e.get("text", ""))[:80],
                str(e.get("field", "")),
                str(e.get("detail", ""))[:60],
                f"{float(e.get('weight', 0.0)):+.2f}",
            )
        )
    return tuple(rows)


async def cmd_why(req: Request, ctx: CommandContext) -> Reply:
    item = _str_arg(req.args, "item", 2000)
    if not item:
        raise UserError(
            "say which item: a story id (`/policy why 42`), its URL, or words of its title"
        )
    now = ctx.now()

    def run(s: Session) -> tuple[StoryPost, dict[str, Any] | None, str] | None:
        sid, note = _find_item(s, item, now)
        if sid is None:
            return None
        (post,) = story_posts(s, [sid])
        v = s.get(Verdict, sid)
        verdict = None
        if v is not None:
            verdict = {
                "relevant": v.relevant,
                "score": v.score,
                "evidence": list(v.evidence),
                "jurisdictions": list(v.jurisdictions),
                "topics": list(v.topics),
                "instruments": list(v.instruments),
            }
        return post, verdict, note

    found = await _db(ctx, run)
    if found is None:
        raise UserError(f"no stored item matches {_show(item)!r}: try its id or its link")
    post, verdict, note = found
    live = False
    if verdict is None and ctx.classifier is not None:
        factory = ctx.classifier

        def classify() -> dict[str, Any]:
            # Loading the classifier and classifying are CPU work: off the event loop.
            return dict(factory().classify(post.title, post.summary).to_dict())

        verdict = await asyncio.to_thread(classify)
        live = True
    if verdict is None:
        return Reply(title="Why", text="This item has no stored verdict.", stories=(post,))

    def codes(v: Sequence[str]) -> str:
        names = jurisdiction_names()
        return ", ".join(f"{names.get(c, c)} ({c})" for c in v) or "none"

    lines = [
        f"{'Flagged' if verdict['relevant'] else 'Not flagged'} with score"
        f" {float(verdict['score']):.2f}."
        + (" (classified just now: nothing stored)" if live else ""),
        f"Jurisdictions: {codes(verdict.get('jurisdictions') or ())}",
        f"Topics: {', '.join(verdict.get('topics') or ()) or 'none'}",
        f"Instruments: {', '.join(verdict.get('instruments') or ()) or 'none'}",
    ]
    if note:
        lines.append(note)
    ev = verdict.get("evidence") or []
    if not ev:
        lines.append("No evidence was recorded for this verdict.")
    table = (
        Table(("rule", "term", "matched text", "field", "supports", "weight"), _evidence_rows(ev))
        if ev
        else None
    )
    return Reply(
        title=f"Why story {post.story_id}", text="\n".join(lines), stories=(post,), table=table
    )


# -- help --------------------------------------------------------------------------------------

HELP: dict[str, tuple[str, str]] = {
    "search": (
        "Search past stories in any language: every word must appear (as part of a word;"
        ' 1-2 letter words like AI or EU as whole words), "quotes" for a phrase, -word or'
        " NOT word to leave out stories holding it. Only you see the results unless share:true.",
        "/policy search AI Act · /policy search 人工智能 jurisdiction:CN since:7d ·"
        ' /policy search "export controls" topic:export-controls source:Reuters page:2',
    ),
    "subscribe": (
        "Admins: post matching stories to this channel, instantly or as a daily/weekly digest.",
        "/policy subscribe jurisdictions:EU,US topics:legislation ·"
        ' /policy subscribe keywords:"AI Act" mode:daily at:09:00 timezone:Europe/Berlin ·'
        " /policy subscribe instruments:eu-ai-act min_score:0.6",
    ),
    "unsubscribe": (
        "Admins: remove one of this channel's subscriptions, or all of them.",
        "/policy unsubscribe 3 · /policy unsubscribe all",
    ),
    "subscriptions": ("List this channel's subscriptions.", "/policy subscriptions"),
    "digest": (
        f"Post a digest of the last N hours (default {DIGEST_DEFAULT_HOURS}, at most"
        f" {DIGEST_MAX_HOURS}) for this channel's subscriptions.",
        "/policy digest 48",
    ),
    "feeds": (
        "List feeds and their health; admins can add or remove feeds added from chat.",
        "/policy feeds · /policy feeds add https://example.org/feed.xml ·"
        " /policy feeds remove Example",
    ),
    "why": (
        "Show why an item was (or was not) flagged: matched terms, jurisdictions, rules.",
        "/policy why 42 · /policy why https://example.org/news/1 · /policy why AI Act",
    ),
    "help": ("This help.", "/policy help search"),
}


async def cmd_help(req: Request, ctx: CommandContext) -> Reply:
    which = (_str_arg(req.args, "command", 40) or "").lower().lstrip("/")
    if which:
        if which not in HELP:
            raise UserError(f"no command {_show(which)!r}", _suggest(which, list(HELP)))
        what, ex = HELP[which]
        return Reply(title=f"/policy {which}", text=f"{what}\nExamples: {ex}")
    rows = tuple((name, what, ex) for name, (what, ex) in HELP.items())
    return Reply(
        title="/policy commands",
        text="Follow AI-governance news: search it, subscribe channels to it, see why an item"
        " was flagged.",
        table=Table(("command", "what it does", "examples"), rows),
    )


COMMANDS: dict[str, Callable[[Request, CommandContext], Awaitable[Reply]]] = {
    "search": cmd_search,
    "subscribe": cmd_subscribe,
    "unsubscribe": cmd_unsubscribe,
    "subscriptions": cmd_subscriptions,
    "digest": cmd_digest,
    "feeds": cmd_feeds,
    "why": cmd_why,
    "help": cmd_help,
}


async def handle(request: Request, ctx: CommandContext) -> Reply:
    """Answer one command. Never raises: user mistakes and failures become a Reply."""
    name = (request.command or "").strip().lower().lstrip("/")
    fn = COMMANDS.get(name)
    if fn is None:
        e = UserError(
            f"unknown command {_show(name)!r}: try `/policy help`", _suggest(name, list(COMMANDS))
        )
        return _error(e, "Unknown command")
    try:
        return await fn(request, ctx)
    except UserError as e:
        return _error(e, name.capitalize())
    except SearchError as e:
        return _error(UserError(str(e)), name.capitalize())
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("command %s failed (ref %s)", name, ref)
        return Reply(
            title=name.capitalize(),
            error=True,
            text=f"Something went wrong on our side (ref {ref}); the operator can find"
            " it in the logs.",
        )
