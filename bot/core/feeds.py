"""Feeds seen from outside: adding, removing and switching feeds at run time, and the health
warnings posted for them (a feed's state in words is bot/core/feedstate.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from bot.core.validate import show, suggest

__all__ = ["add", "check_new", "remove", "set_enabled", "show", "suggest", "warnings"]
from bot.deliver.health import warned_feeds
from bot.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from bot.store.models import Feed
from bot.store.storage import Storage
from bot.types import Origin


def check_new(storage: Storage, url: str, *, max_runtime_feeds: int) -> None:
    """Refuse a URL that is followed already, or one feed too many added at run time."""
    with storage.session() as s:
        n = (
            s.scalar(
                select(func.count()).select_from(Feed).where(Feed.origin != Origin.CONFIG.value)
            )
            or 0
        )
        if n >= max_runtime_feeds:
            raise InputError(f"there are {n} feeds added from chat already; ask the operator")
        same = s.scalars(select(Feed).where(or_(Feed.url == url, Feed.config_url == url))).first()
        if same is not None and same.enabled and same.in_config:
            raise ConflictError(f"this feed is followed already, as {same.name!r}")


def add(
    storage: Storage,
    *,
    url: str,
    name: str,
    title: str | None,
    jurisdictions: list[str],
    interval: timedelta,
    origin: Origin,
    added_by: str,
    now: datetime,
) -> tuple[str, bool]:
    """Store a feed added at run time (or bring back one removed earlier); returns its name
    and whether it was revived."""
    with storage.write() as s:
        existing = s.scalars(
            select(Feed).where(func.lower(Feed.name) == name.casefold())
        ).one_or_none()
        if existing is not None and (existing.origin == Origin.CONFIG or existing.enabled):
            raise ConflictError(
                f"a feed is already called {existing.name!r}: add it again with another name"
                " (`name:`)"
            )
        if existing is not None:  # a feed removed earlier: bring it back
            row = existing
            row.config_url = row.url = url
            row.etag = row.last_modified = row.body_hash = None
            row.disabled_reason = None
            row.consecutive_failures = 0
        else:
            row = Feed(
                name=name,
                config_url=url,
                url=url,
                added_at=now,
                consecutive_failures=0,
                entry_count=0,
            )
            s.add(row)
        row.origin = origin.value
        row.added_by = added_by[:200]
        row.enabled = True
        row.in_config = True
        row.jurisdictions = jurisdictions
        row.interval_seconds = int(interval.total_seconds())
        row.next_poll_at = now
        row.title = (title or "")[:500] or None
        s.flush()
        return row.name, existing is not None


def remove(storage: Storage, name: str, *, removed_by: str) -> str:
    """Stop polling a feed added at run time; its stories stay searchable."""
    with storage.write() as s:
        rows = list(s.scalars(select(Feed)))
        row = next((f for f in rows if f.name.casefold() == name.casefold()), None)
        if row is None:
            raise NotFoundError(
                f"no feed is called {show(name)!r}", suggest(name, [f.name for f in rows])
            )
        if row.origin == Origin.CONFIG.value:
            raise PermissionDenied(
                f"{row.name!r} comes from the bot's config file: the operator removes it there"
            )
        if not row.enabled:
            raise ConflictError(f"{row.name!r} was removed already")
        row.enabled = False
        row.disabled_reason = f"removed from chat by {removed_by}"[:500]
        return row.name


def set_enabled(storage: Storage, name: str, enabled: bool, *, by: str, now: datetime) -> str:
    """Turn a feed on or off. A feed of the config file is turned off in the file; turning
    one on clears what the bot itself had stopped it for (gone, moved, failing) and polls it
    at once. Returns the feed's name."""
    with storage.write() as s:
        rows = list(s.scalars(select(Feed)))
        row = next((f for f in rows if f.name.casefold() == name.casefold()), None)
        if row is None:
            raise NotFoundError(
                f"no feed is called {show(name)!r}", suggest(name, [f.name for f in rows])
            )
        from_file = row.origin == Origin.CONFIG.value
        if not enabled:
            if from_file:
                raise PermissionDenied(
                    f"{row.name!r} comes from the config file: set `enabled: false` on it there"
                )
            row.enabled = False
            row.disabled_reason = f"disabled by {by}"[:500]
            return row.name
        if from_file and not row.enabled:
            raise PermissionDenied(
                f"{row.name!r} is switched off in the config file (`enabled: false`): turn it on"
                " there"
            )
        row.enabled = True
        row.disabled_reason = None
        row.consecutive_failures = 0
        row.next_poll_at = now
        return row.name


def warnings(storage: Storage) -> dict[str, datetime]:
    """Feed name -> when the warning still standing for it was posted in the channels."""
    with storage.session() as s:
        warned = warned_feeds(s)
        if not warned:
            return {}
        names = dict(s.execute(select(Feed.id, Feed.name).where(Feed.id.in_(list(warned)))).all())
    return {names[i]: at for i, at in warned.items() if i in names}
