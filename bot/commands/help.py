"""`help`: what each command does, with examples."""

from __future__ import annotations

from bot.commands.args import str_arg
from bot.commands.context import CommandContext
from bot.commands.digest import DIGEST_DEFAULT_HOURS, DIGEST_MAX_HOURS
from bot.commands.types import Reply, Request, Table
from bot.core.validate import show, suggest
from bot.errors import NotFoundError

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
        "Admins: post matching stories to this channel, instantly or as a daily/weekly digest;"
        " mention: pings a role (Discord) or user group (Slack), optionally only above"
        " mention_min_score or for mention_instruments; post_as: message, thread or forum"
        " (type it in a post of a Discord forum channel); digest_thread: a digest's stories"
        " in the thread of its header.",
        "/policy subscribe jurisdictions:EU,US topics:legislation ·"
        ' /policy subscribe keywords:"AI Act" mode:daily at:09:00 timezone:Europe/Berlin ·'
        " /policy subscribe instruments:eu-ai-act min_score:0.6 ·"
        " /policy subscribe feeds:tag:privacy (everything those feeds publish) ·"
        " /policy subscribe jurisdictions:EU exclude:crypto,blockchain"
        " exclude_topics:standards-safety exclude_feeds:Example (Slack) ·"
        " /policy subscribe mention:@policy-team mention_min_score:0.8 post_as:thread",
    ),
    "unsubscribe": (
        "Admins: remove one of this channel's subscriptions, or all of them.",
        "/policy unsubscribe 3 · /policy unsubscribe all",
    ),
    "subscriptions": ("List this channel's subscriptions.", "/policy subscriptions"),
    "mute": (
        "Admins: hold back this channel's posts (or one subscription's) for a while; when the"
        " mute ends, the held-back stories come as the next digest (instant alerts: one"
        " catch-up digest).",
        "/policy mute 7d · /policy mute 12h subscription:3",
    ),
    "unmute": (
        "Admins: end a mute now; held-back stories are posted as one digest.",
        "/policy unmute · /policy unmute 3",
    ),
    "preview": (
        "What a subscription with these filters would have posted in the last 7 days, before"
        " you subscribe (the same matching as the real thing).",
        "/policy preview feeds:tag:privacy · /policy preview jurisdictions:EU exclude:crypto"
        " days:3",
    ),
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
    "missed": (
        "Report a story the bot should have flagged (its link, id or headline words); under"
        " each alert, the Not relevant button reports the opposite, and offers admins to"
        " leave that story's source or a word of it out of this channel's subscriptions in"
        " one click (undone the same way). Reports go to the operator for review; nothing"
        " changes the classifier by itself.",
        "/policy missed https://example.org/news/ai-law · /policy missed Kenya AI bill",
    ),
    "help": ("This help.", "/policy help search"),
}


async def cmd_help(req: Request, ctx: CommandContext) -> Reply:
    which = (str_arg(req.args, "command", 40) or "").lower().lstrip("/")
    if which:
        if which not in HELP:
            raise NotFoundError(f"no command {show(which)!r}", suggest(which, list(HELP)))
        what, ex = HELP[which]
        return Reply(title=f"/policy {which}", text=f"{what}\nExamples: {ex}")
    rows = tuple((name, what, ex) for name, (what, ex) in HELP.items())
    return Reply(
        title="/policy commands",
        text="Follow AI-governance news: search it, subscribe channels to it, see why an item"
        " was flagged.",
        table=Table(("command", "what it does", "examples"), rows),
    )
