"""Turning what a person typed into the bot's canonical values, or an InputError saying
what to type instead. Every surface (CLI, chat, a web view) validates through these."""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Sequence
from typing import Any

from rapidfuzz import fuzz, process

from bot.core.vocab import (
    Instruments,
    resolve_instrument,
    resolve_jurisdiction,
    resolve_language,
    resolve_topic,
    time_zones,
    time_zones_by_folded,
)
from bot.errors import InputError
from bot.types import DAYS, MODES


def show(value: Any) -> str:
    """User input echoed back: bounded, one line."""
    s = re.sub(r"\s+", " ", str(value)).strip()
    return s if len(s) <= 60 else s[:57] + "..."


def suggest(value: str, choices: Sequence[str]) -> tuple[str, ...]:
    """Up to three close matches of `value` among `choices` ("did you mean")."""
    return tuple(
        m
        for m, _s, _i in process.extract(
            value, list(choices), scorer=fuzz.WRatio, limit=3, score_cutoff=60
        )
    )


def jurisdiction(text: str) -> str:
    r = resolve_jurisdiction(text)
    if r.value is None:
        raise InputError(
            f"unknown jurisdiction {show(text)!r}: use a country name or code, EU or INTL",
            r.suggestions,
        )
    return r.value


def topic(text: str) -> str:
    r = resolve_topic(text)
    if r.value is None:
        raise InputError(f"unknown topic {show(text)!r}", r.suggestions)
    return r.value


def instrument(text: str, vocab: Instruments) -> str:
    r = resolve_instrument(text, vocab)
    if r.value is None:
        raise InputError(
            f"unknown instrument {show(text)!r}: use a law or policy the classifier knows,"
            " by id or name (e.g. eu-ai-act, US CHIPS and Science Act)",
            r.suggestions,
        )
    return r.value


def language(text: str) -> str:
    r = resolve_language(text)
    if r.value is None:
        raise InputError(f"unknown language {show(text)!r}: use a code such as en, zh, ja")
    return r.value


def hhmm(v: str) -> str:
    m = re.fullmatch(r"(\d{1,2})(?::|h|\.)?(\d{2})?", v.strip().lower())
    if not m or int(m.group(1)) > 23 or (m.group(2) and int(m.group(2)) > 59):
        raise InputError(f"{show(v)!r} is not a time of day: write HH:MM, e.g. 09:00")
    return f"{int(m.group(1)):02d}:{m.group(2) or '00'}"


def day(v: str) -> str:
    d = v.strip().lower()[:3]
    if d not in DAYS:
        raise InputError(f"{show(v)!r} is not a day: use mon, tue, ... sun")
    return d


def mode(v: str) -> str:
    m = v.strip().lower()
    if m not in MODES:
        raise InputError(f"unknown mode {show(m)!r}: instant, daily or weekly", suggest(m, MODES))
    return m


def timezone(v: str) -> str:
    try:
        zoneinfo.ZoneInfo(v)
        return v
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hit = time_zones_by_folded().get(v.casefold())  # cached: no tz database walk per typo
        if hit is not None:
            return hit
        raise InputError(
            f"unknown time zone {show(v)!r}: use an IANA name such as Europe/Berlin",
            suggest(v, time_zones()),
        ) from None


def score(v: float) -> float:
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise InputError("`min_score` must be a number from 0 to 1, e.g. 0.6")
    return v


# -- pings and threads ---------------------------------------------------------------------

_DISCORD_ROLE = re.compile(r"<?@?&?(\d{15,22})>?")
_SLACK_GROUP = re.compile(r"<?!?(?:subteam\^)?(S[A-Z0-9]{2,20})(?:\|[^>]*)?>?")


def mention(platform: str, text: str) -> str:
    """A role (Discord) or user group (Slack) to ping, as its id. Accepts the id alone or
    as the platform writes a mention of it (<@&123...>, <!subteam^S0123|@team>)."""
    t = text.strip()
    kind = platform.split("-", 1)[0]
    if kind == "discord":
        m = _DISCORD_ROLE.fullmatch(t)
        if m:
            return m.group(1)
        raise InputError(
            f"mention {show(text)!r} is not a Discord role id: give the role's numeric id"
            " (Server Settings > Roles > ... > Copy Role ID) or mention the role"
        )
    if kind == "slack":
        m = _SLACK_GROUP.fullmatch(t)
        if m:
            return m.group(1)
        raise InputError(
            f"mention {show(text)!r} is not a Slack user group id: give the group's id"
            " (S0123ABCD, from the group's page) or mention the group"
        )
    raise InputError(f"mention needs a Discord or Slack destination, not {platform}")


def post_as(platform: str, value: str, *, mode: str = "instant") -> str:
    """`message`, `thread` or `forum`, checked against what the destination can do."""
    from bot.types import POST_AS, DestinationKind, PostAs

    v = value.strip().lower()
    if v not in POST_AS:
        raise InputError(f"post_as {show(value)!r}: choose one of {', '.join(POST_AS)}")
    if v == PostAs.MESSAGE:
        return v
    try:
        kind = DestinationKind(platform)
    except ValueError:
        kind = DestinationKind.CONSOLE
    if v == PostAs.FORUM and kind.platform != "discord":
        raise InputError(
            "post_as forum is for Discord forum channels only: use post_as thread on"
            f" {kind.platform}"
        )
    if kind is DestinationKind.CONSOLE:
        raise InputError(f"post_as {v} needs a Discord or Slack channel, not the console")
    if v == PostAs.THREAD and kind.webhook:
        raise InputError(
            f"post_as thread needs the {kind.platform} bot: a webhook cannot start threads"
            f" (use platform {kind.platform} with a channel id)"
        )
    if kind is DestinationKind.SLACK_WEBHOOK:
        raise InputError("post_as needs the Slack bot: an incoming webhook cannot post in threads")
    return v


def digest_thread(platform: str, on: bool, *, mode: str) -> bool:
    """Whether a digest posts its stories in the thread of its header: digests only, and
    only where the platform lets us reply in a thread."""
    if not on:
        return False
    if mode not in ("daily", "weekly"):
        raise InputError("digest_thread is for daily or weekly digests: add mode daily or weekly")
    if platform not in ("discord", "slack"):
        raise InputError(
            f"digest_thread needs the Discord or Slack bot (a channel id), not {platform}:"
            " webhooks cannot post in a thread they started"
        )
    return True
