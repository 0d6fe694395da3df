"""A feed's state in words, for lists people read: its health and a URL safe to show.

Kept apart from bot.core.feeds (which adds and removes feeds through routing and storage) so
that listing feeds in chat imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.types import Origin

if TYPE_CHECKING:
    from bot.store.storage import FeedInfo


def safe_url(url: str) -> str:
    """Scheme, host and path only: query strings may hold keys."""
    p = urlsplit(url)
    if not p.netloc:
        return url.split("?")[0][:200]
    return f"{p.scheme}://{p.hostname or ''}{':' + str(p.port) if p.port else ''}{p.path}"[:200]


def health(f: FeedInfo) -> str:
    """One short word or phrase for a feed's state: ok, failing (3x): ..., stopped: ..."""
    if not f.enabled or not f.in_config:
        return "removed" if f.origin != Origin.CONFIG or not f.in_config else "disabled"
    if f.disabled_reason:
        return "stopped: " + f.disabled_reason[:80]
    if f.consecutive_failures:
        return f"failing ({f.consecutive_failures}x): {(f.last_error or '')[:60]}"
    if f.last_success_at is None:
        return "not polled yet"
    return "ok"
