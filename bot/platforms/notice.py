"""Feed-health notices and feedback buttons: what every platform's renderer shares.

The wording is built here from pieces; each platform escapes the feed's name, the server's
error text and the new address with its own escaper (they are hostile: a feed title may hold
"@everyone" or a masked link), and puts the fixed words around them.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from bot.platforms.text import as_utc, inline, truncate
from bot.types import FeedNotice, FeedNoticeKind

REASON = 300  # characters of the server's error text shown
NAME = 120
NOT_RELEVANT_LABEL = "Not relevant"


def where_to(url: str | None) -> str:
    """Host and path of a new address, as text (never a link: the renderer breaks it)."""
    if not url:
        return "a new address"
    p = urlsplit(url)
    return f"{p.hostname or ''}{p.path}"[:200] or url[:200]


def notice_text(notice: FeedNotice, esc: Callable[[str], str], code: Callable[[str], str]) -> str:
    """The notice as one short paragraph: `esc` escapes feed text, `code` marks a command."""
    name = esc(truncate(inline(notice.feed), NAME))
    reason = esc(truncate(inline(notice.reason), REASON))
    if notice.kind == FeedNoticeKind.RECOVERED:
        return f"✅ Feed {name} works again: its stories are coming in."
    if notice.kind == FeedNoticeKind.MOVED:
        return (
            f"ℹ️ Feed {name} moved permanently to {esc(where_to(notice.new_url))}; the bot"
            " follows it there. The operator should update the feed's address in the"
            " config file."
        )
    since = ""
    if notice.since is not None:
        since = " since " + as_utc(notice.since).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"⚠️ Feed {name} has been failing{since}: {reason}. Its stories may be missing here"
        f" until it works again; an operator can check {code('policybot feeds status')}."
    )
